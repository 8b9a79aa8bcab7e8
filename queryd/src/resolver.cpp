// Name resolution (see resolver.h).
#include "resolver.h"

#include <algorithm>
#include <cctype>

#include "duckdb/catalog/catalog.hpp"
#include "duckdb/common/string_util.hpp"
#include "duckdb/function/replacement_scan.hpp"
#include "duckdb/function/table_function.hpp"
#include "duckdb/parser/expression/cast_expression.hpp"
#include "duckdb/parser/expression/columnref_expression.hpp"
#include "duckdb/parser/expression/comparison_expression.hpp"
#include "duckdb/parser/expression/constant_expression.hpp"
#include "duckdb/parser/expression/function_expression.hpp"
#include "duckdb/parser/expression/star_expression.hpp"
#include "duckdb/parser/parsed_data/create_table_function_info.hpp"
#include "duckdb/parser/parser.hpp"
#include "duckdb/parser/query_node/select_node.hpp"
#include "duckdb/parser/statement/select_statement.hpp"
#include "duckdb/parser/tableref/emptytableref.hpp"
#include "duckdb/parser/tableref/subqueryref.hpp"
#include "duckdb/parser/tableref/table_function_ref.hpp"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/shared/telemetry.h"
#include "plan_cache.h"

namespace lakehouse::queryd {
namespace {

thread_local std::optional<Error>* current_resolution_error = nullptr;

//! What differs between the manifest's columns and a file's; empty when they match.
std::string DiffColumns(const Schema& manifest, const std::vector<std::pair<std::string, std::string>>& file) {
  Schema actual;
  for (const auto& [name, type] : file) actual.push_back(ColumnSchema{name, type, true});
  return DescribeSchemaDiff(manifest, actual, /*compare_nullable=*/false);
}

struct ResolverScanData final : duckdb::ReplacementScanData {
  explicit ResolverScanData(Resolver* r) : resolver(r) {}
  Resolver* resolver;
};
struct ResolverFunctionInfo final : duckdb::TableFunctionInfo {
  explicit ResolverFunctionInfo(Resolver* r) : resolver(r) {}
  Resolver* resolver;
};

duckdb::unique_ptr<duckdb::TableRef> ResolveTableScan(duckdb::ClientContext& context,
                                                      duckdb::ReplacementScanInput& input,
                                                      duckdb::optional_ptr<duckdb::ReplacementScanData> data) {
  return data->Cast<ResolverScanData>().resolver->ReplaceTable(context, input.catalog_name, input.schema_name,
                                                               input.table_name);
}

duckdb::unique_ptr<duckdb::TableRef> DatasetVersionBind(duckdb::ClientContext& context,
                                                        duckdb::TableFunctionBindInput& input) {
  auto* resolver = input.info->Cast<ResolverFunctionInfo>().resolver;
  if (input.inputs.size() != 2 || input.inputs[0].IsNull() || input.inputs[1].IsNull()) {
    throw duckdb::BinderException("dataset_version(name, version) needs a dataset name and a version number");
  }
  return resolver->ReplaceVersion(context, input.inputs[0].GetValue<std::string>(),
                                  input.inputs[1].GetValue<int64_t>());
}

}  // namespace

void RecordResolutionError(const Error& e) {
  if (current_resolution_error != nullptr) *current_resolution_error = e;
}

namespace {
constexpr const char* kDatasetAccessKey = "lakehouse_dataset_access";
}  // namespace

void DatasetAccess::Install(duckdb::ClientContext& context, const std::function<bool(std::string_view)>& may_read,
                            const std::string& principal) {
  context.registered_state->Remove(kDatasetAccessKey);
  if (may_read)
    context.registered_state->Insert(kDatasetAccessKey, duckdb::make_shared_ptr<DatasetAccess>(may_read, principal));
}

void DatasetAccess::Check(duckdb::ClientContext& context, const std::string& dataset) {
  auto access = context.registered_state->Get<DatasetAccess>(kDatasetAccessKey);
  if (!access || access->may_read_(dataset)) return;
  Error denied(ErrorCode::kPermissionDenied,
               fmt::format("{} may not read dataset '{}'", access->principal_.empty() ? "this key" : access->principal_,
                           dataset));
  RecordResolutionError(denied);
  throw duckdb::PermissionException(denied.what());
}

// Scopes nest: a table function (semantic_search) may run a query of its own while it binds.
ResolutionErrorScope::ResolutionErrorScope(std::optional<Error>& slot) : previous_(current_resolution_error) {
  current_resolution_error = &slot;
}
ResolutionErrorScope::~ResolutionErrorScope() { current_resolution_error = previous_; }

Resolver::Resolver(catalogd::Catalog& catalog, std::shared_ptr<ObjectRegistry> registry)
    : catalog_(catalog), registry_(std::move(registry)) {}

void Resolver::InstallReplacementScan(duckdb::DBConfig& config) {
  config.replacement_scans.emplace_back(ResolveTableScan, duckdb::make_uniq<ResolverScanData>(this));
}

void Resolver::Attach(duckdb::DuckDB& db) {
  db_ = &db;
  duckdb::Connection admin(db);
  duckdb::TableFunction fn("dataset_version", {duckdb::LogicalType::VARCHAR, duckdb::LogicalType::BIGINT}, nullptr);
  fn.bind_replace = DatasetVersionBind;
  fn.function_info = duckdb::make_shared_ptr<ResolverFunctionInfo>(this);
  admin.context->RunFunctionInTransaction([&]() {
    auto& system = duckdb::Catalog::GetSystemCatalog(*admin.context);
    duckdb::CreateTableFunctionInfo info(fn);
    system.CreateTableFunction(*admin.context, info);
  });
}

void Resolver::Invalidate(const std::string& dataset) {
  std::lock_guard lock(mu_);
  head_.erase(dataset);
  ++generation_[dataset];
}

void Resolver::Forget(const std::string& dataset) {
  {
    std::lock_guard lock(mu_);
    head_.erase(dataset);
    ++generation_[dataset];
    const std::string prefix = dataset + "@";
    std::erase_if(versions_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  }
  registry_->ForgetDataset(dataset);
}

size_t Resolver::resolved_datasets() {
  std::lock_guard lock(mu_);
  return head_.size();
}

duckdb::unique_ptr<duckdb::TableRef> Resolver::ReplaceTable(duckdb::ClientContext& context,
                                                            const std::string& catalog_name,
                                                            const std::string& schema_name,
                                                            const std::string& table_name) {
  if (!catalog_name.empty() || !(schema_name.empty() || schema_name == "main")) return nullptr;
  std::string name = duckdb::StringUtil::Lower(table_name);
  if (!DatasetId::IsValid(name)) return nullptr;
  DatasetAccess::Check(context, name);  // before resolving: an ungranted name is 403 whether it exists or not
  std::shared_ptr<const ResolvedDataset> resolved;
  try {
    resolved = ResolveHead(name);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) return nullptr;  // DuckDB reports the missing table
    RecordResolutionError(e);
    throw duckdb::BinderException(e.what());
  }
  return ScanOf(context, resolved, true, table_name);
}

duckdb::unique_ptr<duckdb::TableRef> Resolver::ReplaceVersion(duckdb::ClientContext& context, const std::string& name,
                                                              int64_t version) {
  if (version < 1) throw duckdb::BinderException("dataset_version: version must be >= 1, got %lld", version);
  try {
    const std::string dataset = DatasetId::Parse(name).str();
    DatasetAccess::Check(context, dataset);
    return ScanOf(context, ResolveVersion(dataset, static_cast<uint64_t>(version)), false, name);
  } catch (const Error& e) {
    RecordResolutionError(e);
    throw duckdb::BinderException(e.what());
  }
}

duckdb::unique_ptr<duckdb::TableRef> Resolver::ScanOf(duckdb::ClientContext& context,
                                                      const std::shared_ptr<const ResolvedDataset>& resolved, bool head,
                                                      const std::string& alias) {
  if (auto* plans = PlanCache::Preparing(context)) {
    if (plans->probing()) {
      // The probe of a plan: the dataset's columns, no objects (plan_cache.h).
      ResolvedDataset columns_only;
      columns_only.dataset = resolved->dataset;
      columns_only.schema = resolved->schema;
      return MakeTableRef(columns_only, alias);
    }
    plans->Depend(*this, resolved, head);
  }
  Account(context, *resolved);
  return MakeTableRef(*resolved, alias);
}

void Resolver::Account(duckdb::ClientContext& context, const ResolvedDataset& resolved) {
  auto& tracker = ScanTracker::Of(context, scan_totals_);
  tracker.Listed(resolved.keys);
  tracker.Resolved(resolved.dataset, resolved.version);
}

std::shared_ptr<const ResolvedDataset> Resolver::ResolveHead(const std::string& name) {
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    auto it = head_.find(name);
    if (it != head_.end()) return it->second;
    generation = generation_[name];
  }
  DatasetManifest manifest = catalog_.Head(name);
  auto resolved = Resolve(manifest);
  std::lock_guard lock(mu_);
  // A commit that landed while we resolved makes this head stale: use it for this query only.
  if (generation_[name] == generation) head_[name] = resolved;
  return resolved;
}

std::shared_ptr<const ResolvedDataset> Resolver::ResolveVersion(const std::string& name, uint64_t version) {
  const std::string cache_key = name + "@" + std::to_string(version);
  {
    std::lock_guard lock(mu_);
    auto it = versions_.find(cache_key);
    if (it != versions_.end()) return it->second;
  }
  DatasetManifest manifest = catalog_.Get(name, version);
  if (manifest.tombstone) {
    Fail(ErrorCode::kNotFound, "dataset '{}' was deleted at version {}: it has no rows to query", name, version);
  }
  auto resolved = Resolve(manifest);
  std::lock_guard lock(mu_);
  if (versions_.size() > 4096) versions_.clear();
  versions_[cache_key] = resolved;
  return resolved;
}

//! Checks a manifest's objects against its schema and records what the scan reads.
std::shared_ptr<const ResolvedDataset> Resolver::Resolve(const DatasetManifest& manifest) {
  telemetry::Span span("queryd.resolve");  // first use of a version: schema checks of its objects
  span.Set("dataset.name", manifest.dataset);
  span.Set("dataset.version", manifest.version);
  auto resolved = std::make_shared<ResolvedDataset>();
  resolved->dataset = manifest.dataset;
  resolved->version = manifest.version;
  resolved->schema = manifest.schema;
  if (Fingerprint(manifest.schema) != manifest.fingerprint) {
    Fail(ErrorCode::kConflict,
         "dataset '{}' version {}: the manifest's schema fingerprint {} does not match its columns; the manifest is "
         "damaged",
         manifest.dataset, manifest.version, manifest.fingerprint.hex.substr(0, 12));
  }
  for (const auto& object : manifest.objects) registry_->Add(manifest.dataset, object.ref);
  // Schema check: every object's columns against the manifest's. An object that differs is
  // either damage (409 naming the dataset) or, after an append that changed the schema
  // (schema_version > 1), an object written under an older schema version.
  for (const auto& object : manifest.objects) {
    const auto columns = ObjectColumns(manifest, object.ref);
    const std::string diff = DiffColumns(manifest.schema, columns);
    if (diff.empty()) continue;
    resolved->exact = false;
    const bool shares_a_column = std::any_of(columns.begin(), columns.end(), [&](const auto& c) {
      return std::any_of(manifest.schema.begin(), manifest.schema.end(),
                         [&](const auto& m) { return m.name == c.first; });
    });
    if (manifest.schema_version <= 1 || !shares_a_column) {
      Fail(ErrorCode::kConflict,
           "dataset '{}' version {}: object '{}' does not match the manifest's schema (fingerprint {}; manifest -> "
           "file): {}",
           manifest.dataset, manifest.version, object.ref.key, manifest.fingerprint.hex.substr(0, 12), diff);
    }
  }
  for (const auto& object : manifest.objects) {
    resolved->paths.push_back(ObjectPath(object.ref.key));
    resolved->keys.push_back(object.ref.key);
  }
  for (const auto& column : manifest.partition_by) {
    auto it = std::find_if(manifest.schema.begin(), manifest.schema.end(),
                           [&](const ColumnSchema& c) { return c.name == column; });
    if (it == manifest.schema.end()) {
      Fail(ErrorCode::kConflict, "dataset '{}' version {}: partition column '{}' is not in the manifest's schema",
           manifest.dataset, manifest.version, column);
    }
    resolved->partition_columns.emplace_back(it->name, it->type);
  }
  return resolved;
}

//! An object's columns, from its Parquet footer (one tail read; DuckDB's metadata cache then
//! has it for the query). Remembered per key: objects are immutable.
Resolver::Columns Resolver::ObjectColumns(const DatasetManifest& manifest, const ObjectRef& ref) {
  {
    std::lock_guard lock(mu_);
    auto it = object_columns_.find(ref.key);
    if (it != object_columns_.end()) return it->second;
  }
  Columns columns;
  try {
    duckdb::Connection con(*db_);
    // The file's own columns: no partition columns guessed from a partitioned object's key.
    duckdb::named_parameter_map_t no_hive{{"hive_partitioning", duckdb::Value::BOOLEAN(false)}};
    auto relation = con.TableFunction("read_parquet", {duckdb::Value(ObjectPath(ref.key))}, no_hive);
    for (const auto& column : relation->Columns()) columns.emplace_back(column.Name(), column.Type().ToString());
  } catch (const std::exception& e) {
    const duckdb::ErrorData error(e);
    const auto code = error.Type() == duckdb::ExceptionType::IO ? ErrorCode::kUnavailable : ErrorCode::kConflict;
    Fail(code, "dataset '{}' version {}: cannot read object '{}': {}", manifest.dataset, manifest.version, ref.key,
         error.RawMessage());
  }
  std::lock_guard lock(mu_);
  if (object_columns_.size() > 100000) object_columns_.clear();
  object_columns_[ref.key] = columns;
  return columns;
}

namespace {

using duckdb::make_uniq;
using ExpressionList = duckdb::vector<duckdb::unique_ptr<duckdb::ParsedExpression>>;

//! A named parameter: what the parser makes of `name = value` in a table function's arguments.
duckdb::unique_ptr<duckdb::ParsedExpression> NamedArgument(const std::string& name, duckdb::Value value) {
  return make_uniq<duckdb::ComparisonExpression>(duckdb::ExpressionType::COMPARE_EQUAL,
                                                 make_uniq<duckdb::ColumnRefExpression>(name),
                                                 make_uniq<duckdb::ConstantExpression>(std::move(value)));
}

//! read_parquet([paths...], hive_partitioning = ...) (plus union_by_name = true). Partition
//! columns are read from the keys' col=value segments with the manifest's types (hive_types), so
//! DuckDB drops the objects a predicate on them rules out before opening them; unpartitioned
//! datasets turn hive partitioning off (no guessing from key names).
duckdb::unique_ptr<duckdb::TableRef> ReadParquet(const ResolvedDataset& resolved, bool union_by_name) {
  duckdb::vector<duckdb::Value> values;
  for (const auto& path : resolved.paths) values.emplace_back(path);
  ExpressionList args;
  args.push_back(make_uniq<duckdb::ConstantExpression>(duckdb::Value::LIST(duckdb::LogicalType::VARCHAR, values)));
  if (union_by_name) args.push_back(NamedArgument("union_by_name", duckdb::Value::BOOLEAN(true)));
  const bool partitioned = !resolved.partition_columns.empty();
  args.push_back(NamedArgument("hive_partitioning", duckdb::Value::BOOLEAN(partitioned)));
  if (partitioned) {
    duckdb::child_list_t<duckdb::Value> types;
    for (const auto& [name, type] : resolved.partition_columns) types.emplace_back(name, duckdb::Value(type));
    args.push_back(NamedArgument("hive_types", duckdb::Value::STRUCT(std::move(types))));
  }
  auto ref = make_uniq<duckdb::TableFunctionRef>();
  ref->function = make_uniq<duckdb::FunctionExpression>("read_parquet", std::move(args));
  return ref;
}

//! A manifest's type name as DuckDB's parser reads it in CAST(x AS <type>); the binder binds it.
//! (What TransformStringToLogicalType(string) did on DuckDB 1.4; 1.5 removed that overload.)
duckdb::LogicalType ParseColumnType(const std::string& type) {
  if (duckdb::StringUtil::CIEquals(type, "null")) return duckdb::LogicalType::SQLNULL;
  return duckdb::Parser::ParseColumnList("x " + type).GetColumn(duckdb::LogicalIndex(0)).Type();
}

//! CAST(<value> AS <type>) AS <name> for every column of the manifest; `value` is the column
//! itself, or NULL when `null_values`.
ExpressionList ManifestColumns(const Schema& schema, bool null_values) {
  ExpressionList list;
  for (const auto& column : schema) {
    duckdb::unique_ptr<duckdb::ParsedExpression> value;
    if (null_values) {
      value = make_uniq<duckdb::ConstantExpression>(duckdb::Value());
    } else {
      value = make_uniq<duckdb::ColumnRefExpression>(column.name);
    }
    auto cast = make_uniq<duckdb::CastExpression>(ParseColumnType(column.type), std::move(value));
    cast->SetAlias(column.name);
    list.push_back(std::move(cast));
  }
  return list;
}

}  // namespace

duckdb::unique_ptr<duckdb::TableRef> MakeTableRef(const ResolvedDataset& resolved, const std::string& alias) {
  auto node = make_uniq<duckdb::SelectNode>();
  if (resolved.paths.empty() || resolved.schema.empty()) {
    // No data yet: an empty relation with the manifest's columns.
    if (resolved.schema.empty()) {
      auto empty = make_uniq<duckdb::ConstantExpression>(duckdb::Value());
      empty->SetAlias("empty");
      node->select_list.push_back(std::move(empty));
    } else {
      node->select_list = ManifestColumns(resolved.schema, true);
    }
    node->from_table = make_uniq<duckdb::EmptyTableRef>();
    node->where_clause = make_uniq<duckdb::ConstantExpression>(duckdb::Value::BOOLEAN(false));
  } else if (resolved.exact) {
    node->select_list.push_back(make_uniq<duckdb::StarExpression>());
    node->from_table = ReadParquet(resolved, false);
  } else {
    // Objects of older schema versions: columns matched by name, missing ones NULL, types cast
    // to the manifest's.
    node->select_list = ManifestColumns(resolved.schema, false);
    node->from_table = ReadParquet(resolved, true);
  }
  auto select = make_uniq<duckdb::SelectStatement>();
  select->node = std::move(node);
  return make_uniq<duckdb::SubqueryRef>(std::move(select), alias);
}

}  // namespace lakehouse::queryd
