// The operator's limits on one query (see limits.h and docs/adr/0010-query-limits.md).
#include "query_limits.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "duckdb/catalog/catalog.hpp"
#include "duckdb/common/vector_operations/unary_executor.hpp"
#include "duckdb/parser/expression/case_expression.hpp"
#include "duckdb/parser/expression/conjunction_expression.hpp"
#include "duckdb/parser/expression/function_expression.hpp"
#include "duckdb/parser/expression/subquery_expression.hpp"
#include "duckdb/parser/parsed_data/create_scalar_function_info.hpp"
#include "duckdb/parser/parsed_expression_iterator.hpp"
#include "duckdb/parser/query_node.hpp"
#include "duckdb/parser/statement/explain_statement.hpp"
#include "duckdb/parser/statement/select_statement.hpp"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/json_depth.h"

namespace lakehouse::queryd {
namespace {

// ---- Memory ----------------------------------------------------------------------------------

constexpr const char* kCapMarker = "limits.max_memory";

std::atomic<int64_t> g_allocated{0};
std::atomic<uint64_t> g_cap{0};
duckdb::shared_ptr<duckdb::Allocator>& Original() {
  static duckdb::shared_ptr<duckdb::Allocator> original;
  return original;
}

void Reserve(int64_t bytes) {
  const uint64_t cap = g_cap.load(std::memory_order_relaxed);
  const int64_t now = g_allocated.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (cap != 0 && bytes > 0 && now > static_cast<int64_t>(cap)) {
    g_allocated.fetch_sub(bytes, std::memory_order_relaxed);
    throw duckdb::OutOfMemoryException("%s: the query needed %llu more bytes while the engine held %llu of its %llu",
                                       kCapMarker, static_cast<unsigned long long>(bytes),
                                       static_cast<unsigned long long>(now - bytes),
                                       static_cast<unsigned long long>(cap));
  }
}

duckdb::data_ptr_t CountedAllocate(duckdb::PrivateAllocatorData*, duckdb::idx_t size) {
  Reserve(static_cast<int64_t>(size));
  try {
    return Original()->AllocateData(size);
  } catch (...) {
    g_allocated.fetch_sub(static_cast<int64_t>(size), std::memory_order_relaxed);
    throw;
  }
}

void CountedFree(duckdb::PrivateAllocatorData*, duckdb::data_ptr_t pointer, duckdb::idx_t size) {
  Original()->FreeData(pointer, size);
  g_allocated.fetch_sub(static_cast<int64_t>(size), std::memory_order_relaxed);
}

duckdb::data_ptr_t CountedReallocate(duckdb::PrivateAllocatorData*, duckdb::data_ptr_t pointer, duckdb::idx_t old_size,
                                     duckdb::idx_t size) {
  const int64_t delta = static_cast<int64_t>(size) - static_cast<int64_t>(old_size);
  Reserve(delta);
  try {
    return Original()->ReallocateData(pointer, old_size, size);
  } catch (...) {
    g_allocated.fetch_sub(delta, std::memory_order_relaxed);
    throw;
  }
}

// ---- Function guards -------------------------------------------------------------------------

//! lakehouse_json_depth(text): nesting depth without parsing (shared/json_depth.h).
void JsonDepthFunction(duckdb::DataChunk& args, duckdb::ExpressionState&, duckdb::Vector& result) {
  duckdb::UnaryExecutor::Execute<duckdb::string_t, int64_t>(args.data[0], result, args.size(), [](duckdb::string_t s) {
    return static_cast<int64_t>(JsonNestingDepth(std::string_view(s.GetData(), s.GetSize())));
  });
}

//! Functions whose run time grows with len(a) * len(b) and that DuckDB cannot interrupt: the
//! largest product each may take (about 0.3 s on one core of the reference machine).
struct PairGuard {
  const char* name;
  int64_t max_pairs;
};
constexpr PairGuard kPairGuards[] = {
    {"levenshtein", 10'000'000},
    {"editdist3", 10'000'000},
    {"damerau_levenshtein", 1'000'000},
    {"jaro_similarity", 100'000'000},
    {"jaro_winkler_similarity", 100'000'000},
};

//! DuckDB's JSON functions that recurse once per nesting level of an argument.
constexpr const char* kRecursiveJson[] = {"json_structure"};
constexpr const char* kRecursiveJsonPairs[] = {"json_merge_patch", "json_transform", "from_json",
                                               "json_transform_strict", "from_json_strict"};

// ---- Query shape -----------------------------------------------------------------------------

//! Planning time grows steeply with these (measured with DuckDB 1.4.4: a chain of 250 '+' takes
//! 4 s to plan, 1,000 AND terms 0.3 s, a CASE of 1,000 branches 0.4 s).
constexpr int kMaxExpressionDepth = 100;
constexpr size_t kMaxTerms = 1000;
constexpr size_t kMaxExpressions = 20000;

class ShapeCheck {
 public:
  void Statement(duckdb::SQLStatement& statement) {
    if (statement.type == duckdb::StatementType::EXPLAIN_STATEMENT) {
      Statement(*statement.Cast<duckdb::ExplainStatement>().stmt);
    } else if (statement.type == duckdb::StatementType::SELECT_STATEMENT) {
      Node(*statement.Cast<duckdb::SelectStatement>().node);
    }
  }

 private:
  void Node(duckdb::QueryNode& node) {
    duckdb::ParsedExpressionIterator::EnumerateQueryNodeChildren(
        node, [&](duckdb::unique_ptr<duckdb::ParsedExpression>& child) { Expr(*child, 1); });
  }

  void Expr(duckdb::ParsedExpression& expr, int depth) {
    if (++expressions_ > kMaxExpressions) {
      Fail(ErrorCode::kInvalidArgument,
           "the query has more than {} expressions: too complex to plan within a timeout; split it or use a "
           "join with a dataset instead of long lists",
           kMaxExpressions);
    }
    if (depth > kMaxExpressionDepth) {
      Fail(ErrorCode::kInvalidArgument,
           "the query nests expressions more than {} levels deep: too complex to plan within a timeout (e.g. a "
           "chain of + or nested calls); use sum() over rows or split it",
           kMaxExpressionDepth);
    }
    switch (expr.GetExpressionClass()) {
      case duckdb::ExpressionClass::FUNCTION: {
        const auto& fn = expr.Cast<duckdb::FunctionExpression>();
        if (!fn.catalog.empty() || !(fn.schema.empty() || fn.schema == "main")) {
          Fail(ErrorCode::kInvalidArgument,
               "qualified function names are not allowed: write {}(...) instead of naming its catalog or schema",
               fn.function_name);
        }
        break;
      }
      case duckdb::ExpressionClass::CONJUNCTION:
        CheckTerms(expr.Cast<duckdb::ConjunctionExpression>().children.size(), "AND/OR");
        break;
      case duckdb::ExpressionClass::CASE:
        CheckTerms(expr.Cast<duckdb::CaseExpression>().case_checks.size(), "CASE WHEN");
        break;
      case duckdb::ExpressionClass::SUBQUERY:
        Node(*expr.Cast<duckdb::SubqueryExpression>().subquery->node);
        break;
      default:
        break;
    }
    duckdb::ParsedExpressionIterator::EnumerateChildren(
        expr, [&](duckdb::ParsedExpression& child) { Expr(child, depth + 1); });
  }

  static void CheckTerms(size_t terms, const char* what) {
    if (terms > kMaxTerms) {
      Fail(ErrorCode::kInvalidArgument,
           "one {} has {} terms, more than {}: too complex to plan within a timeout; use IN (...) or a join with a "
           "dataset",
           what, terms, kMaxTerms);
    }
  }

  size_t expressions_ = 0;
};

}  // namespace

void InstallMemoryCap(duckdb::DBConfig& config, uint64_t max_bytes) {
  static std::once_flag once;
  std::call_once(once, [] {
    Original() = duckdb::Allocator::DefaultAllocatorReference();
    duckdb::Allocator::DefaultAllocatorReference() =
        duckdb::make_shared_ptr<duckdb::Allocator>(CountedAllocate, CountedFree, CountedReallocate, nullptr);
  });
  if (max_bytes != 0) g_cap.store(max_bytes);
  config.allocator = duckdb::make_uniq<duckdb::Allocator>(CountedAllocate, CountedFree, CountedReallocate, nullptr);
}

uint64_t AllocatedBytes() { return static_cast<uint64_t>(std::max<int64_t>(0, g_allocated.load())); }

bool IsMemoryCapError(const std::string& message) { return message.find(kCapMarker) != std::string::npos; }

void InstallFunctionGuards(duckdb::Connection& admin, const QueryConfig& config) {
  admin.context->RunFunctionInTransaction([&]() {
    duckdb::ScalarFunction depth("lakehouse_json_depth", {duckdb::LogicalType::VARCHAR}, duckdb::LogicalType::BIGINT,
                                 JsonDepthFunction);
    duckdb::CreateScalarFunctionInfo info(depth);
    duckdb::Catalog::GetSystemCatalog(*admin.context).CreateFunction(*admin.context, info);
  });
  std::vector<std::string> macros;
  for (const auto& guard : kPairGuards) {
    macros.push_back(fmt::format(
        "CREATE MACRO {0}(a, b) AS CASE WHEN length(a::VARCHAR) * length(b::VARCHAR) > {1} THEN error('{0} of "
        "strings of ' || length(a::VARCHAR) || ' and ' || length(b::VARCHAR) || ' characters would run past any "
        "timeout (at most {1} character pairs)') ELSE system.main.{0}(a, b) END",
        guard.name, guard.max_pairs));
  }
  const std::string too_deep = fmt::format(
      "error('{{0}}: the JSON nests more than {0} levels deep (limits.max_json_depth)')", config.max_json_depth);
  auto deep = [&](const char* arg) {
    return fmt::format("lakehouse_json_depth({}::VARCHAR) > {}", arg, config.max_json_depth);
  };
  for (const char* name : kRecursiveJson) {
    macros.push_back(fmt::format("CREATE MACRO {0}(j) AS CASE WHEN {1} THEN {2} ELSE system.main.{0}(j) END", name,
                                 deep("j"), fmt::format(fmt::runtime(too_deep), name)));
  }
  for (const char* name : kRecursiveJsonPairs) {
    macros.push_back(
        fmt::format("CREATE MACRO {0}(a, b) AS CASE WHEN {1} OR {2} THEN {3} ELSE system.main.{0}(a, b) END", name,
                    deep("a"), deep("b"), fmt::format(fmt::runtime(too_deep), name)));
  }
  macros.push_back(fmt::format(
      "CREATE MACRO json_group_structure(j) AS system.main.json_group_structure(CASE WHEN {} THEN {} ELSE j END)",
      deep("j"), fmt::format(fmt::runtime(too_deep), "json_group_structure")));
  for (const auto& sql : macros) {
    auto result = admin.Query(sql);
    if (result->HasError()) Fail(ErrorCode::kInternal, "installing a query guard ({}): {}", sql, result->GetError());
  }
}

void CheckQueryShape(duckdb::SQLStatement& statement) { ShapeCheck().Statement(statement); }

void CheckSqlText(std::string_view sql) {
  // Parsing 5,000 AND terms takes ~0.1 s; the shape check allows 1,000 per chain after parsing.
  constexpr size_t kMaxKeywords = 5000;
  size_t keywords = 0;
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      for (++i; i < n && sql[i] != c; ++i) {
      }
      ++i;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      const size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? n : end + 2;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
      const std::string word = duckdb::StringUtil::Lower(std::string(sql.substr(start, i - start)));
      if (word == "and" || word == "or" || word == "when") ++keywords;
    } else {
      ++i;
    }
  }
  if (keywords > kMaxKeywords) {
    Fail(ErrorCode::kInvalidArgument,
         "the query has {} AND/OR/WHEN terms, more than {}: too complex to plan within a timeout; use IN (...) or a "
         "join with a dataset",
         keywords, kMaxKeywords);
  }
}

}  // namespace lakehouse::queryd
