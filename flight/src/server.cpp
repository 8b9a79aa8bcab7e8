// Arrow Flight SQL over gRPC (docs/adr/0019-flight-sql.md). One synchronous gRPC service over the
// Arrow project's Flight.proto: Flight SQL commands arrive as google.protobuf.Any in a
// FlightDescriptor's cmd, a Ticket or an Action body (FlightSql.proto).
//
// Statements: GetFlightInfo hands out a ticket (TicketStatementQuery: a random id + the SQL); DoGet
// runs the SQL through queryd::QueryEngine with format Arrow and cuts its IPC stream into FlightData
// messages as it is produced. The id names the run for CancelFlightInfo / CancelQuery.
#include <Flight.grpc.pb.h>
#include <FlightSql.pb.h>
#include <google/protobuf/any.pb.h>
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "lakehouse/arrow/ipc_reader.h"
#include "lakehouse/catalogd/catalog.h"
#include "lakehouse/flight/flight.h"
#include "lakehouse/gateway/auth.h"
#include "lakehouse/queryd/query.h"
#include "lakehouse/rpc/grpc_status.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "lakehouse/shared/sql.h"
#include "lakehouse/shared/types.h"
#include "metadata.h"

namespace lakehouse::flight {
namespace {

namespace pb = ::arrow::flight::protocol;
namespace fsql = ::arrow::flight::protocol::sql;
using google::protobuf::Any;

constexpr const char* kCatalog = "lakehouse";
constexpr const char* kDbSchema = "main";
constexpr const char* kTableType = "TABLE";
//! A prepared statement's handle is this prefix + its SQL: the server keeps no state for it.
constexpr std::string_view kHandlePrefix = "lakehouse-sql:";
constexpr size_t kRunIdSize = 32;  //!< RandomHexId()
//! A ticket that was never redeemed is forgotten after this (it can still be redeemed, not cancelled).
constexpr auto kRunTtl = std::chrono::hours(1);

//! Runs one RPC's body; every error becomes a gRPC status with the user-facing message.
template <typename F>
grpc::Status Serve(const char* rpc, F&& body) {
  try {
    body();
    return grpc::Status::OK;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInternal) log::Error("flight call failed", {{"rpc", rpc}, {"error", e.what()}});
    return {rpc::ToGrpcCode(e.code()), e.what()};
  } catch (const std::exception& e) {
    log::Error("flight call failed", {{"rpc", rpc}, {"error", e.what()}});
    return {grpc::StatusCode::INTERNAL, e.what()};
  }
}

Any ParseAny(const std::string& bytes, const char* what) {
  Any any;
  if (!any.ParseFromString(bytes) || any.type_url().empty()) {
    Fail(ErrorCode::kInvalidArgument, "the {} is not a Flight SQL command (a packed google.protobuf.Any)", what);
  }
  return any;
}

template <typename M>
bool Unpack(const Any& any, M& message) {
  if (!any.Is<M>()) return false;
  if (!any.UnpackTo(&message)) {
    Fail(ErrorCode::kInvalidArgument, "the Flight SQL command {} does not decode", message.GetTypeName());
  }
  return true;
}

std::string PackToString(const google::protobuf::Message& message) {
  Any any;
  any.PackFrom(message);
  return any.SerializeAsString();
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return std::string(text.substr(begin, text.find_last_not_of(" \t") - begin + 1));
}

//! The API key an authorization value carries: "Bearer <key>", or Basic with the key as the password
//! (or as the user name when the password is empty), as pyarrow.flight and ADBC send them.
std::string KeyOf(std::string_view value) {
  if (StartsWithNoCase(value, "Bearer ")) return Trim(value.substr(7));
  if (StartsWithNoCase(value, "Basic ")) {
    std::string encoded = Trim(value.substr(6));
    while (encoded.size() % 4 != 0) encoded.push_back('=');  // some clients leave the padding out
    const size_t padding = encoded.size() - (encoded.find_last_not_of('=') + 1);
    std::string decoded(encoded.size() / 4 * 3, '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                        reinterpret_cast<const unsigned char*>(encoded.data()), static_cast<int>(encoded.size()));
    if (n < 0 || padding > 2) Fail(ErrorCode::kUnauthenticated, "the Basic credentials are not valid base64");
    decoded.resize(static_cast<size_t>(n) - padding);
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) return decoded;
    std::string password = decoded.substr(colon + 1);
    return password.empty() ? decoded.substr(0, colon) : password;
  }
  Fail(ErrorCode::kUnauthenticated,
       "the authorization header must be 'Bearer <API key>' or Basic credentials with the API key as password");
}

//! Who calls: the key's principal (null with auth off) and the key itself (the Handshake's token).
struct Caller {
  std::shared_ptr<const gateway::Principal> principal;
  std::string token;
};

//! One statement ticket's run, for cancellation.
struct Run {
  std::atomic<bool> cancelled{false};
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  std::mutex mu;
  grpc::ServerContext* call = nullptr;  //!< the DoGet running it, if any

  //! Stops the query at its next write or poll, and the DoGet at once, even while its client
  //! does not read (a write waiting for gRPC's flow control returns).
  void Cancel() {
    cancelled.store(true);
    std::lock_guard lock(mu);
    if (call != nullptr) call->TryCancel();
  }
  //! Marks `context` as the call running this ticket for as long as the returned guard lives.
  auto Attach(grpc::ServerContext& context) {
    {
      std::lock_guard lock(mu);
      call = &context;
    }
    auto detach = [](Run* run) {
      std::lock_guard lock(run->mu);
      run->call = nullptr;
    };
    return std::unique_ptr<Run, decltype(detach)>(this, detach);
  }
};

//! queryd's Arrow IPC stream, one FlightData per IPC message, written as the bytes arrive. The
//! body is gathered once (IpcMessageSplitter) and swapped into the FlightData, whose serialization
//! by gRPC is the only other copy.
class FlightDataSink final : public queryd::ResultSink {
 public:
  FlightDataSink(grpc::ServerContext& context, grpc::ServerWriter<pb::FlightData>& writer, const Run& run,
                 const std::atomic<bool>& stopping)
      : context_(context),
        run_(run),
        stopping_(stopping),
        splitter_([this, &writer](std::string_view metadata, std::string& body) {
          data_.set_data_header(metadata.data(), metadata.size());
          data_.mutable_data_body()->swap(body);  // the previous body's buffer is reused for the next
          return writer.Write(data_);
        }) {}

  void Begin(std::string_view /*content_type*/) override {}
  bool Write(std::string_view bytes) override { return !Gone() && splitter_.Write(bytes); }
  bool ClientGone() override { return Gone(); }

 private:
  bool Gone() const { return run_.cancelled.load() || stopping_.load() || context_.IsCancelled(); }

  grpc::ServerContext& context_;
  const Run& run_;
  const std::atomic<bool>& stopping_;
  pb::FlightData data_;
  arrow::IpcMessageSplitter splitter_;
};

//! Keeps the bytes up to the end of the stream's first message (the schema), then stops the query.
class SchemaSink final : public queryd::ResultSink {
 public:
  void Begin(std::string_view /*content_type*/) override {}
  bool Write(std::string_view bytes) override {
    if (done()) return false;
    bytes_.append(bytes);
    if (auto frame = arrow::ReadIpcFrame(bytes_); frame && bytes_.size() >= frame->size()) {
      bytes_.resize(frame->size());
      done_ = true;
      return false;
    }
    return true;
  }
  bool ClientGone() override { return false; }
  bool done() const { return done_; }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
  bool done_ = false;
};

class FlightSqlService final : public pb::FlightService::Service {
 public:
  FlightSqlService(const FlightOptions& options, queryd::QueryEngine& engine, catalogd::Catalog& catalog)
      : options_(options), engine_(engine), catalog_(catalog) {
    if (options.auth_enabled && options.keys == nullptr) {
      Fail(ErrorCode::kInternal, "Flight SQL with auth on needs the API key store");
    }
  }

  //! Cancels every run; their DoGets end at their next write or poll.
  void Stop() {
    stopping_.store(true);
    std::lock_guard lock(runs_mu_);
    for (auto& [id, run] : runs_) run->Cancel();
  }

  grpc::Status Handshake(grpc::ServerContext* context,
                         grpc::ServerReaderWriter<pb::HandshakeResponse, pb::HandshakeRequest>* stream) override {
    return Serve("Handshake", [&] {
      pb::HandshakeRequest request;
      while (stream->Read(&request)) {
      }
      const Caller caller = Authenticate(*context);
      // The token a client sends on later calls: the key itself (no session state to lose).
      if (!caller.token.empty()) context->AddInitialMetadata("authorization", "Bearer " + caller.token);
      pb::HandshakeResponse response;
      stream->Write(response);
    });
  }

  grpc::Status GetFlightInfo(grpc::ServerContext* context, const pb::FlightDescriptor* descriptor,
                             pb::FlightInfo* info) override {
    return Serve("GetFlightInfo", [&] {
      const Caller caller = Authenticate(*context);
      const Any command = CommandOf(*descriptor);
      *info->mutable_flight_descriptor() = *descriptor;
      info->set_total_records(-1);
      info->set_total_bytes(-1);
      pb::Ticket* ticket = info->add_endpoint()->mutable_ticket();
      if (auto sql = StatementSql(command)) {
        // The result's schema is known only once the statement runs: clients take it from DoGet.
        fsql::TicketStatementQuery statement;
        statement.set_statement_handle(NewRun() + *sql);
        ticket->set_ticket(PackToString(statement));
        return;
      }
      info->set_schema(MetadataSchema(command));
      ticket->set_ticket(descriptor->cmd());
    });
  }

  grpc::Status GetSchema(grpc::ServerContext* context, const pb::FlightDescriptor* descriptor,
                         pb::SchemaResult* result) override {
    return Serve("GetSchema", [&] {
      const Caller caller = Authenticate(*context);
      const Any command = CommandOf(*descriptor);
      if (auto sql = StatementSql(command)) {
        result->set_schema(ProbeSchema(caller, *sql));
      } else {
        result->set_schema(MetadataSchema(command));
      }
    });
  }

  grpc::Status DoGet(grpc::ServerContext* context, const pb::Ticket* ticket,
                     grpc::ServerWriter<pb::FlightData>* writer) override {
    return Serve("DoGet", [&] {
      const Caller caller = Authenticate(*context);
      const Any command = ParseAny(ticket->ticket(), "ticket");
      fsql::TicketStatementQuery statement;
      if (Unpack(command, statement)) {
        const std::string& handle = statement.statement_handle();
        LH_USER_CHECK(handle.size() >= kRunIdSize, "the statement ticket is not one this server issued");
        const std::string id = handle.substr(0, kRunIdSize);
        const std::shared_ptr<Run> run = FindRun(id);
        try {
          RunStatement(*context, caller, handle.substr(kRunIdSize), run, *writer);
        } catch (...) {
          ForgetRun(id);
          throw;
        }
        ForgetRun(id);
        return;
      }
      fsql::CommandGetSqlInfo sql_info;
      if (Unpack(command, sql_info)) {
        SendStream([&](const arrow::IpcStreamWriter::Out& out) { return WriteSqlInfo(SqlInfo(sql_info), out); },
                   *writer);
        return;
      }
      SendMetaTable(Metadata(caller, command), *writer);
    });
  }

  grpc::Status DoAction(grpc::ServerContext* context, const pb::Action* action,
                        grpc::ServerWriter<pb::Result>* writer) override {
    return Serve("DoAction", [&] {
      const Caller caller = Authenticate(*context);
      const std::string& type = action->type();
      pb::Result result;
      if (type == "CreatePreparedStatement") {
        fsql::ActionCreatePreparedStatementRequest request;
        if (!Unpack(ParseAny(action->body(), "action body"), request)) {
          Fail(ErrorCode::kInvalidArgument, "CreatePreparedStatement needs an ActionCreatePreparedStatementRequest");
        }
        // Planned (and checked) now, so bad SQL fails here; the handle carries the SQL itself.
        // (ADBC's DB-API prepares every statement it executes: this must not run it.)
        fsql::ActionCreatePreparedStatementResult prepared;
        prepared.set_dataset_schema(ProbeSchema(caller, request.query()));
        prepared.set_prepared_statement_handle(std::string(kHandlePrefix) + request.query());
        result.set_body(PackToString(prepared));
        writer->Write(result);
      } else if (type == "ClosePreparedStatement") {
        // Nothing is held for a prepared statement.
      } else if (type == "CancelFlightInfo") {
        pb::CancelFlightInfoRequest request;
        LH_USER_CHECK(request.ParseFromString(action->body()), "CancelFlightInfo needs a CancelFlightInfoRequest");
        pb::CancelFlightInfoResult cancelled;
        cancelled.set_status(Cancel(request.info()) ? pb::CANCEL_STATUS_CANCELLED : pb::CANCEL_STATUS_NOT_CANCELLABLE);
        result.set_body(cancelled.SerializeAsString());
        writer->Write(result);
      } else if (type == "CancelQuery") {
        fsql::ActionCancelQueryRequest request;
        pb::FlightInfo info;
        if (!Unpack(ParseAny(action->body(), "action body"), request) || !info.ParseFromString(request.info())) {
          Fail(ErrorCode::kInvalidArgument, "CancelQuery needs an ActionCancelQueryRequest holding a FlightInfo");
        }
        fsql::ActionCancelQueryResult cancelled;
        cancelled.set_result(Cancel(info) ? fsql::ActionCancelQueryResult::CANCEL_RESULT_CANCELLED
                                          : fsql::ActionCancelQueryResult::CANCEL_RESULT_NOT_CANCELLABLE);
        result.set_body(PackToString(cancelled));
        writer->Write(result);
      } else {
        Fail(ErrorCode::kNotImplemented,
             "action '{}' is not supported; supported: CreatePreparedStatement, ClosePreparedStatement, "
             "CancelFlightInfo, CancelQuery",
             type);
      }
    });
  }

  grpc::Status ListActions(grpc::ServerContext* context, const pb::Empty* /*request*/,
                           grpc::ServerWriter<pb::ActionType>* writer) override {
    return Serve("ListActions", [&] {
      Authenticate(*context);
      for (const auto& [type, description] : std::initializer_list<std::pair<const char*, const char*>>{
               {"CreatePreparedStatement", "prepare a query (no parameters)"},
               {"ClosePreparedStatement", "release a prepared statement"},
               {"CancelFlightInfo", "cancel the query behind a FlightInfo"},
               {"CancelQuery", "cancel the query behind a FlightInfo (Flight SQL, deprecated)"}}) {
        pb::ActionType action;
        action.set_type(type);
        action.set_description(description);
        writer->Write(action);
      }
    });
  }

  grpc::Status DoPut(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<pb::PutResult, pb::FlightData>* /*stream*/) override {
    return Serve("DoPut", [&] {
      Authenticate(*context);
      Fail(ErrorCode::kNotImplemented,
           "DoPut is not supported: SQL here is read-only and prepared statements take no parameters "
           "(write datasets through the HTTP API)");
    });
  }

 private:
  Caller Authenticate(const grpc::ServerContext& context) const {
    if (!options_.auth_enabled) return {};
    const auto& headers = context.client_metadata();
    auto it = headers.find("authorization");
    if (it == headers.end()) {
      Fail(ErrorCode::kUnauthenticated,
           "an API key is required: send 'authorization: Bearer <API key>' (or Basic auth with the key as password)");
    }
    Caller caller;
    caller.token = KeyOf(std::string_view(it->second.data(), it->second.size()));
    gateway::AuthFailure failure = gateway::AuthFailure::kNone;
    caller.principal = options_.keys->Authenticate(caller.token, &failure);
    if (!caller.principal) Fail(ErrorCode::kUnauthenticated, "{}", gateway::AuthFailureMessage(failure));
    return caller;
  }

  static void Grant(const Caller& caller, queryd::QueryRequest& request) {
    if (!caller.principal) return;
    request.may_read = [p = caller.principal](std::string_view dataset) { return p->MayRead(dataset); };
    request.principal = "API key " + caller.principal->key_id;
  }

  static Any CommandOf(const pb::FlightDescriptor& descriptor) {
    if (descriptor.type() != pb::FlightDescriptor::CMD) {
      Fail(ErrorCode::kInvalidArgument, "only command descriptors (Flight SQL commands) are served here");
    }
    return ParseAny(descriptor.cmd(), "descriptor's command");
  }

  //! The SQL of a statement command (CommandStatementQuery or CommandPreparedStatementQuery).
  static std::optional<std::string> StatementSql(const Any& command) {
    fsql::CommandStatementQuery statement;
    if (Unpack(command, statement)) return statement.query();
    fsql::CommandPreparedStatementQuery prepared;
    if (Unpack(command, prepared)) {
      const std::string& handle = prepared.prepared_statement_handle();
      LH_USER_CHECK(handle.starts_with(kHandlePrefix), "the prepared statement handle is not one this server issued");
      return handle.substr(kHandlePrefix.size());
    }
    return std::nullopt;
  }

  std::string NewRun() {
    std::string id = RandomHexId();
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(runs_mu_);
    std::erase_if(runs_, [&](const auto& entry) { return now - entry.second->created > kRunTtl; });
    runs_.emplace(id, std::make_shared<Run>());
    return id;
  }

  std::shared_ptr<Run> FindRun(const std::string& id) {
    std::lock_guard lock(runs_mu_);
    auto it = runs_.find(id);
    if (it != runs_.end()) return it->second;
    return std::make_shared<Run>();  // redeemed again after it ended (or expired): runs afresh
  }

  void ForgetRun(const std::string& id) {
    std::lock_guard lock(runs_mu_);
    runs_.erase(id);
  }

  //! Marks the runs behind the FlightInfo's tickets cancelled; false when none is known.
  bool Cancel(const pb::FlightInfo& info) {
    bool any = false;
    for (const auto& endpoint : info.endpoint()) {
      Any command;
      fsql::TicketStatementQuery statement;
      if (!command.ParseFromString(endpoint.ticket().ticket()) || !Unpack(command, statement)) continue;
      std::lock_guard lock(runs_mu_);
      auto it = runs_.find(statement.statement_handle().substr(0, kRunIdSize));
      if (it == runs_.end()) continue;
      it->second->Cancel();
      any = true;
    }
    return any;
  }

  void RunStatement(grpc::ServerContext& context, const Caller& caller, const std::string& sql,
                    const std::shared_ptr<Run>& run, grpc::ServerWriter<pb::FlightData>& writer) {
    queryd::QueryRequest request;
    request.sql = sql;
    request.format = queryd::ResultFormat::kArrow;
    request.background = true;  // as the HTTP API's heavy lane: queryd's lower-priority workers run it
    Grant(caller, request);
    FlightDataSink sink(context, writer, *run, stopping_);
    const auto attached = run->Attach(context);
    if (run->cancelled.load()) Fail(ErrorCode::kCancelled, "the query was cancelled (CancelFlightInfo)");
    try {
      engine_.Execute(request, sink);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kCancelled && run->cancelled.load()) {
        Fail(ErrorCode::kCancelled, "the query was cancelled (CancelFlightInfo)");
      }
      if (e.code() == ErrorCode::kCancelled && stopping_.load()) {
        Fail(ErrorCode::kUnavailable, "the server is shutting down; the query was cancelled");
      }
      throw;
    }
  }

  //! The IPC-encapsulated schema of a statement's result, without running it where DuckDB can
  //! tell: the statement is planned as `SELECT * FROM (<sql>) LIMIT 0` (DuckDB plans an empty
  //! result). A statement that is no subquery (parse error there) runs until its first message
  //! is out and is cancelled then; its errors are the statement's own, as in DoGet.
  std::string ProbeSchema(const Caller& caller, const std::string& sql) {
    const auto end = sql.find_last_not_of(" \t\r\n;");
    if (end != std::string::npos) {
      try {
        return FirstMessage(caller, "SELECT * FROM (\n" + sql.substr(0, end + 1) + "\n) LIMIT 0");
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kInvalidArgument) throw;
      }
    }
    return FirstMessage(caller, sql);
  }

  std::string FirstMessage(const Caller& caller, const std::string& sql) {
    queryd::QueryRequest request;
    request.sql = sql;
    request.format = queryd::ResultFormat::kArrow;
    Grant(caller, request);
    SchemaSink sink;
    try {
      engine_.Execute(request, sink);
    } catch (const Error& e) {
      if (!(e.code() == ErrorCode::kCancelled && sink.done())) throw;
    }
    if (!sink.done()) Fail(ErrorCode::kInternal, "the query ended without a result schema");
    return sink.bytes();
  }

  //! A metadata command's result as FlightData, one per IPC message.
  static void SendMetaTable(const std::vector<MetaColumn>& columns, grpc::ServerWriter<pb::FlightData>& writer) {
    SendStream([&](const arrow::IpcStreamWriter::Out& out) { return WriteMetaTable(columns, out); }, writer);
  }

  //! The IPC stream `write` produces, as FlightData, one per message.
  template <typename Write>
  static void SendStream(Write&& write, grpc::ServerWriter<pb::FlightData>& writer) {
    pb::FlightData data;
    arrow::IpcMessageSplitter splitter([&](std::string_view metadata, std::string& body) {
      data.set_data_header(metadata.data(), metadata.size());
      data.mutable_data_body()->swap(body);
      return writer.Write(data);
    });
    write([&](std::string_view bytes) { return splitter.Write(bytes); });
  }

  //! What this server says about itself (FlightSql.proto's SqlInfo ids), filtered by `command.info`.
  std::vector<SqlInfoValue> SqlInfo(const fsql::CommandGetSqlInfo& command) const {
    std::vector<SqlInfoValue> all = {
        {fsql::FLIGHT_SQL_SERVER_NAME, std::string("lakehouse")},
        {fsql::FLIGHT_SQL_SERVER_VERSION, options_.version},
        {fsql::FLIGHT_SQL_SERVER_ARROW_VERSION, std::string("1.0.0 (IPC format, metadata V5)")},
        {fsql::FLIGHT_SQL_SERVER_READ_ONLY, true},
        {fsql::FLIGHT_SQL_SERVER_SQL, true},
        {fsql::FLIGHT_SQL_SERVER_SUBSTRAIT, false},
        {fsql::FLIGHT_SQL_SERVER_TRANSACTION, int32_t{fsql::SQL_SUPPORTED_TRANSACTION_NONE}},
        {fsql::FLIGHT_SQL_SERVER_CANCEL, true},
        {fsql::SQL_DDL_CATALOG, false},
        {fsql::SQL_DDL_SCHEMA, false},
        {fsql::SQL_DDL_TABLE, false},
        {fsql::SQL_IDENTIFIER_QUOTE_CHAR, std::string("\"")},
        {fsql::SQL_ALL_TABLES_ARE_SELECTABLE, true},
    };
    if (command.info_size() == 0) return all;
    std::vector<SqlInfoValue> chosen;
    for (const uint32_t id : command.info()) {
      for (const auto& entry : all) {
        if (entry.name == id) chosen.push_back(entry);
      }
    }
    return chosen;
  }

  //! The schema (IPC-encapsulated) of a metadata command's result.
  std::string MetadataSchema(const Any& command) {
    std::string schema;
    const auto append = [&](std::string_view bytes) {
      schema.append(bytes);
      return true;
    };
    if (fsql::CommandGetSqlInfo sql_info; Unpack(command, sql_info)) {
      WriteSqlInfo({}, append, /*schema_only=*/true);
    } else {
      WriteMetaTable(Metadata({}, command, /*schema_only=*/true), append, /*schema_only=*/true);
    }
    const auto frame = arrow::ReadIpcFrame(schema);
    if (!frame) Fail(ErrorCode::kInternal, "the metadata schema did not encode");
    schema.resize(frame->size());
    return schema;
  }

  //! The result columns of a metadata command (empty when `schema_only`).
  std::vector<MetaColumn> Metadata(const Caller& caller, const Any& command, bool schema_only = false) {
    fsql::CommandGetCatalogs catalogs;
    if (Unpack(command, catalogs)) {
      MetaColumn name{"catalog_name", false, false, {}};
      if (!schema_only) name.values.emplace_back(kCatalog);
      return {name};
    }
    fsql::CommandGetDbSchemas schemas;
    if (Unpack(command, schemas)) {
      MetaColumn catalog{"catalog_name", false, true, {}};
      MetaColumn name{"db_schema_name", false, false, {}};
      if (!schema_only && InCatalog(schemas.has_catalog(), schemas.catalog()) &&
          (!schemas.has_db_schema_filter_pattern() || LikeMatch(kDbSchema, schemas.db_schema_filter_pattern()))) {
        catalog.values.emplace_back(kCatalog);
        name.values.emplace_back(kDbSchema);
      }
      return {catalog, name};
    }
    fsql::CommandGetTables tables;
    if (Unpack(command, tables)) return Tables(caller, tables, schema_only);
    fsql::CommandGetTableTypes types;
    if (Unpack(command, types)) {
      MetaColumn type{"table_type", false, false, {}};
      if (!schema_only) type.values.emplace_back(kTableType);
      return {type};
    }
    Fail(ErrorCode::kNotImplemented, "the Flight SQL command {} is not supported", command.type_url());
  }

  static bool InCatalog(bool has_catalog, const std::string& catalog) { return !has_catalog || catalog == kCatalog; }

  std::vector<MetaColumn> Tables(const Caller& caller, const fsql::CommandGetTables& command, bool schema_only) {
    MetaColumn catalog{"catalog_name", false, true, {}};
    MetaColumn schema{"db_schema_name", false, true, {}};
    MetaColumn name{"table_name", false, false, {}};
    MetaColumn type{"table_type", false, false, {}};
    MetaColumn table_schema{"table_schema", true, false, {}};
    bool wanted = !schema_only && InCatalog(command.has_catalog(), command.catalog()) &&
                  (!command.has_db_schema_filter_pattern() || LikeMatch(kDbSchema, command.db_schema_filter_pattern()));
    if (wanted && command.table_types_size() > 0) {
      wanted = std::find(command.table_types().begin(), command.table_types().end(), kTableType) !=
               command.table_types().end();
    }
    if (wanted) {
      for (const auto& dataset : catalog_.List()) {
        if (caller.principal && !caller.principal->MayRead(dataset.name)) continue;  // not even listed
        if (command.has_table_name_filter_pattern() && !LikeMatch(dataset.name, command.table_name_filter_pattern())) {
          continue;
        }
        catalog.values.emplace_back(kCatalog);
        schema.values.emplace_back(kDbSchema);
        name.values.emplace_back(dataset.name);
        type.values.emplace_back(kTableType);
        if (command.include_schema()) {
          table_schema.values.emplace_back(
              FirstMessage(caller, "SELECT * FROM " + SqlIdentifier(dataset.name) + " LIMIT 0"));
        }
      }
    }
    std::vector<MetaColumn> columns{catalog, schema, name, type};
    if (command.include_schema()) columns.push_back(table_schema);
    return columns;
  }

  const FlightOptions options_;
  queryd::QueryEngine& engine_;
  catalogd::Catalog& catalog_;
  std::atomic<bool> stopping_{false};
  std::mutex runs_mu_;
  std::unordered_map<std::string, std::shared_ptr<Run>> runs_;
};

class Server final : public FlightServer {
 public:
  Server(const FlightOptions& options, queryd::QueryEngine& engine, catalogd::Catalog& catalog)
      : service_(options, engine, catalog) {
    const std::string& address = options.listen;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    builder.SetMaxReceiveMessageSize(16 << 20);  // requests are small; results are sent, never received
    grpc::ResourceQuota quota("flight");
    quota.SetMaxThreads(std::max(options.threads, 2));
    builder.SetResourceQuota(quota);
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) Fail(ErrorCode::kUnavailable, "cannot serve Flight SQL on {}", address);
    port_ = static_cast<uint16_t>(port);
    log::Info("flight sql listening", {{"address", address}, {"port", port_}, {"auth", options.auth_enabled}});
  }
  ~Server() override { Shutdown(); }

  uint16_t port() const override { return port_; }

  void Shutdown() override {
    if (!server_) return;
    service_.Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
    server_.reset();
  }

 private:
  FlightSqlService service_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
};

}  // namespace

std::unique_ptr<FlightServer> StartFlightServer(const FlightOptions& options, queryd::QueryEngine& engine,
                                                catalogd::Catalog& catalog) {
  return std::make_unique<Server>(options, engine, catalog);
}

}  // namespace lakehouse::flight
