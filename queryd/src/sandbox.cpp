// The sandbox: what DuckDB may do for a query (see sandbox.h).
#include "sandbox.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "duckdb/parser/statement/explain_statement.hpp"
#include "lakehouse/catalogd/catalog.h"
#include "query_limits.h"

namespace lakehouse::queryd {

void ConfigureSandbox(duckdb::DBConfig& config) {
  // By name: DuckDB 1.5 removed these typed DBConfigOptions fields; the names work on 1.4 and 1.5.
  for (const char* option : {"autoinstall_known_extensions", "autoload_known_extensions", "allow_community_extensions",
                             "allow_unsigned_extensions"}) {
    config.SetOptionByName(option, duckdb::Value::BOOLEAN(false));
  }
}

void LockSandbox(duckdb::Connection& admin) {
  // Order matters: allowed_directories can only be set while external access is still on, and
  // nothing can be set once the configuration is locked.
  // GLOBAL: extension options (TimeZone is ICU's, parquet_metadata_cache Parquet's) set without a
  // scope apply to this connection's session only, not to the queries' connections; the parsed
  // Parquet footers were then never cached (a footer re-parse per bind, issue 15).
  for (const char* sql : {"SET GLOBAL TimeZone = 'UTC'", "SET GLOBAL parquet_metadata_cache = true",
                          "SET allowed_directories = ['lakehouse://', 'lakehouse-export://']",
                          "SET enable_external_access = false", "SET lock_configuration = true"}) {
    auto result = admin.Query(sql);
    if (result->HasError()) Fail(ErrorCode::kInternal, "configuring DuckDB ({}): {}", sql, result->GetError());
  }
}

namespace {

constexpr const char* kAllowedStatements = "SELECT, WITH, VALUES, FROM, EXPLAIN, DESCRIBE, SUMMARIZE, SHOW";

//! The statement's leading keyword as the user wrote it (INSTALL and LOAD share one statement type).
std::string LeadingKeyword(const std::string& sql, duckdb::StatementType type) {
  size_t start = sql.find_first_not_of(" \t\r\n(");
  size_t end = start;
  while (end < sql.size() && std::isalpha(static_cast<unsigned char>(sql[end]))) ++end;
  if (start == std::string::npos || end == start) return duckdb::StatementTypeToString(type);
  return duckdb::StringUtil::Upper(sql.substr(start, end - start));
}

}  // namespace

void CheckReadOnly(const duckdb::SQLStatement& statement, const std::string& sql) {
  using duckdb::StatementType;
  switch (statement.type) {
    case StatementType::SELECT_STATEMENT:
      return;
    case StatementType::EXPLAIN_STATEMENT:
      CheckReadOnly(*statement.Cast<duckdb::ExplainStatement>().stmt,
                    statement.Cast<duckdb::ExplainStatement>().stmt->query);
      return;
    default: {
      std::string what = LeadingKeyword(sql, statement.type);
      Fail(ErrorCode::kInvalidArgument,
           "{} statements are not allowed: queries are read-only (allowed: {}); configuration, files, extensions "
           "and attached databases cannot be changed from SQL",
           what, kAllowedStatements);
    }
  }
}

namespace {

//! Edit distance between two short names (for "did you mean" suggestions).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

//! "table 'x' does not exist" with the closest dataset names, instead of DuckDB's suggestions of
//! its own system tables.
[[noreturn]] void FailUnknownTable(const std::string& name, const std::vector<catalogd::DatasetSummary>& datasets) {
  std::string lowered = duckdb::StringUtil::Lower(name);
  std::vector<std::pair<size_t, std::string>> close;
  for (const auto& d : datasets) {
    size_t distance = EditDistance(lowered, d.name);
    if (distance <= std::max<size_t>(2, lowered.size() / 3)) close.emplace_back(distance, d.name);
  }
  std::sort(close.begin(), close.end());
  if (close.empty()) {
    Fail(ErrorCode::kNotFound,
         "table '{}' does not exist: no dataset has that name (GET /api/v1/datasets lists them; older versions are "
         "read with dataset_version('name', n))",
         name);
  }
  std::string suggestions;
  for (size_t i = 0; i < close.size() && i < 3; ++i) suggestions += (i ? ", '" : "'") + close[i].second + "'";
  Fail(ErrorCode::kNotFound, "table '{}' does not exist: no dataset has that name; did you mean {}?", name,
       suggestions);
}

}  // namespace

void ThrowQueryError(const duckdb::ErrorData& error, const QueryOutcome& outcome, catalogd::Catalog& catalog) {
  if (outcome.resolution_error) throw *outcome.resolution_error;
  const bool timed_out = outcome.timed_out;
  const bool client_gone = outcome.client_gone;
  const int64_t timeout_ms = outcome.timeout_ms;
  if (timed_out) {
    Fail(ErrorCode::kTimeout,
         "the query ran past its timeout of {} ms and was cancelled; narrow it or raise timeout_ms", timeout_ms);
  }
  if (client_gone) Fail(ErrorCode::kCancelled, "the client disconnected; the query was cancelled");
  if (outcome.spill_limit != nullptr) {
    Fail(ErrorCode::kUnavailable,
         "the query spilled to disk past {} ({} bytes) and was cancelled; its spill files were deleted and other "
         "queries were not affected",
         outcome.spill_limit, outcome.spill_limit_bytes);
  }
  using duckdb::ExceptionType;
  const std::string& message = error.Message();
  switch (error.Type()) {
    case ExceptionType::CATALOG: {
      const auto& extra = error.ExtraInfo();
      auto name = extra.find("name");
      auto type = extra.find("type");
      if (name != extra.end() && (type == extra.end() || type->second == "Table" || type->second == "View")) {
        FailUnknownTable(name->second, catalog.List());
      }
      throw Error(ErrorCode::kInvalidArgument, message);
    }
    case ExceptionType::PERMISSION:
      Fail(ErrorCode::kInvalidArgument,
           "not allowed: {} (queries read datasets by name; files, URLs and settings are off limits)", message);
    case ExceptionType::INTERRUPT:
      Fail(ErrorCode::kCancelled, "the query was cancelled");
    case ExceptionType::OUT_OF_MEMORY:
      if (IsMemoryCapError(message)) {
        Fail(ErrorCode::kUnavailable,
             "the query needed more memory than the server allows (limits.max_memory) and was cancelled; other "
             "queries were not affected: {}",
             message.substr(0, message.find('\n')));
      }
      Fail(ErrorCode::kUnavailable,
           "the query needed more memory than query.memory_limit and more disk than limits.max_spill_total allow, "
           "and was cancelled: {}",
           message.substr(0, message.find('\n')));
    case ExceptionType::IO:
    case ExceptionType::HTTP:
      Fail(ErrorCode::kUnavailable, "{}", message);
    case ExceptionType::INTERNAL:
    case ExceptionType::FATAL:
    case ExceptionType::UNKNOWN_TYPE:
      Fail(ErrorCode::kInternal, "{}", message);
    default:
      // Parser, binder, conversion, invalid input, out of range, division by zero...: the SQL's fault.
      throw Error(ErrorCode::kInvalidArgument, message);
  }
}

}  // namespace lakehouse::queryd
