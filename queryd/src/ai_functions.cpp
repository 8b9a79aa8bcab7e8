// AI inside SQL, on the engine's sandboxed DuckDB:
//   embed(text) -> FLOAT[dim]: one batched model call per chunk of rows (nulls stay null).
//   semantic_search(dataset, [column,] query, k) / hybrid_search(...): the search service's top k
//     for `query` (vector, or BM25 + vector fused by their scores), as the source dataset's own
//     rows: `_score`, `_rank`, then every column of the source row, typed as stored. The search
//     runs while the statement binds; the rows are then read through dataset_version(source, v)
//     and numbered as search numbers them (row_number() OVER () - 1), so the resolver checks the
//     caller's grants and the manifest as for any query. The dataset named is checked first.
// Errors keep their lakehouse code (RecordResolutionError): 404 unknown dataset, 403 a dataset the
// caller may not read, 503 the model or the search service down, 400 bad arguments.
#include "ai_functions.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "duckdb/catalog/catalog.hpp"
#include "duckdb/common/types/vector.hpp"
#include "duckdb/function/scalar_function.hpp"
#include "duckdb/function/table_function.hpp"
#include "duckdb/parser/parsed_data/create_scalar_function_info.hpp"
#include "duckdb/parser/parsed_data/create_table_function_info.hpp"
#include "duckdb/parser/parser.hpp"
#include "duckdb/parser/statement/select_statement.hpp"
#include "duckdb/parser/tableref/subqueryref.hpp"
#include "duckdb/planner/expression/bound_function_expression.hpp"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/sql.h"
#include "object_fs.h"
#include "plan_cache.h"
#include "resolver.h"

namespace lakehouse::queryd {
namespace {

constexpr int kMaxK = 1000;

struct AiScalarInfo final : duckdb::ScalarFunctionInfo {
  explicit AiScalarInfo(std::shared_ptr<AiFunctionsLink> l) : link(std::move(l)) {}
  std::shared_ptr<AiFunctionsLink> link;
};
struct AiTableInfo final : duckdb::TableFunctionInfo {
  AiTableInfo(std::shared_ptr<AiFunctionsLink> l, std::string m) : link(std::move(l)), mode(std::move(m)) {}
  std::shared_ptr<AiFunctionsLink> link;
  std::string mode;  //!< "vector" or "hybrid"
};

//! Calls `f(AiFunctions&)`; 503 when nothing is linked (no AI in this server, or not started).
template <typename F>
auto WithAi(const std::shared_ptr<AiFunctionsLink>& link, const char* function, F&& f) {
  if (!link) Fail(ErrorCode::kUnavailable, "{}() needs the AI services, which this server does not run", function);
  return link->With([&](AiFunctions* ai) {
    if (ai == nullptr) {
      Fail(ErrorCode::kUnavailable, "{}() needs the AI services (ai.enabled), which are not running", function);
    }
    return f(*ai);
  });
}

//! A lakehouse error raised while binding becomes the query's error (its code kept).
[[noreturn]] void RethrowForDuckDb(const Error& e) {
  RecordResolutionError(e);
  if (e.code() == ErrorCode::kUnavailable) throw duckdb::IOException(e.what());
  throw duckdb::BinderException(e.what());
}

duckdb::unique_ptr<duckdb::FunctionData> EmbedBind(duckdb::ClientContext&, duckdb::ScalarFunction& bound,
                                                   duckdb::vector<duckdb::unique_ptr<duckdb::Expression>>&) {
  try {
    const int dim = WithAi(bound.function_info->Cast<AiScalarInfo>().link, "embed",
                           [](AiFunctions& ai) { return ai.EmbeddingDim(); });
    bound.return_type = duckdb::LogicalType::ARRAY(duckdb::LogicalType::FLOAT, static_cast<duckdb::idx_t>(dim));
  } catch (const Error& e) {
    RethrowForDuckDb(e);
  }
  return nullptr;
}

void EmbedExecute(duckdb::DataChunk& args, duckdb::ExpressionState& state, duckdb::Vector& result) {
  const auto& info = state.expr.Cast<duckdb::BoundFunctionExpression>().function.function_info->Cast<AiScalarInfo>();
  const duckdb::idx_t count = args.size();
  const auto dim = duckdb::ArrayType::GetSize(result.GetType());
  duckdb::UnifiedVectorFormat input;
  args.data[0].ToUnifiedFormat(count, input);
  const auto* strings = duckdb::UnifiedVectorFormat::GetData<duckdb::string_t>(input);
  std::vector<std::string> texts;
  std::vector<duckdb::idx_t> rows;
  for (duckdb::idx_t i = 0; i < count; ++i) {
    const auto at = input.sel->get_index(i);
    if (!input.validity.RowIsValid(at)) continue;
    texts.emplace_back(strings[at].GetString());
    rows.push_back(i);
  }
  std::vector<std::vector<float>> vectors;
  if (!texts.empty()) {
    try {
      vectors = WithAi(info.link, "embed", [&](AiFunctions& ai) { return ai.Embed(texts); });
    } catch (const Error& e) {
      // Execution may run on a worker thread: the exception's type carries the code.
      if (e.code() == ErrorCode::kUnavailable) throw duckdb::IOException(e.what());
      throw duckdb::InvalidInputException(e.what());
    }
    if (vectors.size() != texts.size()) throw duckdb::InternalException("embed(): the model returned too few vectors");
  }
  result.SetVectorType(duckdb::VectorType::FLAT_VECTOR);
  auto& validity = duckdb::FlatVector::Validity(result);
  auto& child = duckdb::ArrayVector::GetEntry(result);
  auto* out = duckdb::FlatVector::GetData<float>(child);
  for (duckdb::idx_t i = 0; i < count; ++i) validity.SetInvalid(i);
  for (size_t j = 0; j < rows.size(); ++j) {
    if (vectors[j].size() != dim) {
      throw duckdb::InvalidInputException(
          "embed(): the model returned %llu values, expected %llu",
          static_cast<unsigned long long>(vectors[j].size()),  // NOLINT(google-runtime-int)
          static_cast<unsigned long long>(dim));               // NOLINT(google-runtime-int)
    }
    std::copy(vectors[j].begin(), vectors[j].end(), out + rows[j] * dim);
    validity.SetValid(rows[j]);
  }
  if (count == 1 && args.AllConstant()) result.SetVectorType(duckdb::VectorType::CONSTANT_VECTOR);
}

std::string StringArgument(const duckdb::Value& v, const char* function, const char* name) {
  if (v.IsNull()) Fail(ErrorCode::kInvalidArgument, "{}(): {} must not be null", function, name);
  return v.ToString();
}

duckdb::unique_ptr<duckdb::TableRef> SearchBind(duckdb::ClientContext& context, duckdb::TableFunctionBindInput& input) {
  const auto& info = input.info->Cast<AiTableInfo>();
  const char* function = info.mode == "vector" ? "semantic_search" : "hybrid_search";
  // The hits are found here, while binding: a plan holding them must not be run again.
  if (auto* plans = PlanCache::Preparing(context)) plans->Uncacheable();
  try {
    const auto& in = input.inputs;
    const bool with_column = in.size() == 4;
    const std::string dataset = StringArgument(in[0], function, "dataset");
    const std::string column = with_column ? StringArgument(in[1], function, "column") : "";
    const std::string query = StringArgument(in[with_column ? 2 : 1], function, "query");
    const duckdb::Value& k_value = in[with_column ? 3 : 2];
    if (k_value.IsNull()) Fail(ErrorCode::kInvalidArgument, "{}(): k must not be null", function);
    const int64_t k = k_value.GetValue<int64_t>();
    if (k < 1 || k > kMaxK)
      Fail(ErrorCode::kInvalidArgument, "{}(): k must be between 1 and {}, got {}", function, kMaxK, k);
    DatasetAccess::Check(context, dataset);  // before anything about it is looked up
    const AiFunctions::Hits hits = WithAi(info.link, function, [&](AiFunctions& ai) {
      return ai.Search(dataset, column, query, static_cast<int>(k), info.mode);
    });
    const std::string source =
        fmt::format("dataset_version({}, {})", SqlLiteral(hits.source_dataset), hits.source_version);
    std::string sql;
    if (hits.hits.empty()) {
      sql = fmt::format("SELECT NULL::DOUBLE AS _score, NULL::BIGINT AS _rank, * FROM {} WHERE false", source);
    } else {
      std::string values;
      for (size_t i = 0; i < hits.hits.size(); ++i) {
        fmt::format_to(std::back_inserter(values), "{}({}, {:.17g}::DOUBLE, {})", i ? ", " : "", hits.hits[i].row,
                       hits.hits[i].score, i + 1);
      }
      sql = fmt::format(
          "SELECT s._score, s._rank, d.* EXCLUDE (__lh_row) FROM (VALUES {}) s(__lh_row, _score, _rank) "
          "JOIN (SELECT *, row_number() OVER () - 1 AS __lh_row FROM {}) d USING (__lh_row) ORDER BY s._rank",
          values, source);
    }
    duckdb::Parser parser;
    parser.ParseQuery(sql);
    auto select =
        duckdb::unique_ptr_cast<duckdb::SQLStatement, duckdb::SelectStatement>(std::move(parser.statements[0]));
    return duckdb::make_uniq<duckdb::SubqueryRef>(std::move(select), function);
  } catch (const Error& e) {
    RethrowForDuckDb(e);
  }
}

}  // namespace

void RegisterAiFunctions(duckdb::Connection& admin, std::shared_ptr<AiFunctionsLink> link) {
  using duckdb::LogicalType;
  admin.context->RunFunctionInTransaction([&]() {
    auto& system = duckdb::Catalog::GetSystemCatalog(*admin.context);
    duckdb::ScalarFunction embed("embed", {LogicalType::VARCHAR}, LogicalType::ARRAY(LogicalType::FLOAT, 1),
                                 EmbedExecute, EmbedBind);
    embed.function_info = duckdb::make_shared_ptr<AiScalarInfo>(link);
    embed.stability = duckdb::FunctionStability::VOLATILE;  // a model call: never folded at plan time
    duckdb::CreateScalarFunctionInfo embed_info(embed);
    system.CreateFunction(*admin.context, embed_info);
    for (const auto& [name, mode] : {std::pair{"semantic_search", "vector"}, std::pair{"hybrid_search", "hybrid"}}) {
      duckdb::TableFunctionSet set(name);
      for (bool with_column : {false, true}) {
        duckdb::vector<LogicalType> args{LogicalType::VARCHAR, LogicalType::VARCHAR, LogicalType::BIGINT};
        if (with_column) args.insert(args.begin() + 1, LogicalType::VARCHAR);
        duckdb::TableFunction fn(name, args, nullptr);
        fn.bind_replace = SearchBind;
        fn.function_info = duckdb::make_shared_ptr<AiTableInfo>(link, mode);
        set.AddFunction(fn);
      }
      duckdb::CreateTableFunctionInfo info(set);
      system.CreateTableFunction(*admin.context, info);
    }
  });
}

}  // namespace lakehouse::queryd
