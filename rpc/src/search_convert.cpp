#include "search_convert.h"

#include "lakehouse/shared/error.h"

namespace lakehouse::rpc::detail {

static_assert(v1::JOB_QUEUED == static_cast<int>(search::JobState::kQueued));
static_assert(v1::JOB_RUNNING == static_cast<int>(search::JobState::kRunning));
static_assert(v1::JOB_SUCCEEDED == static_cast<int>(search::JobState::kSucceeded));
static_assert(v1::JOB_FAILED == static_cast<int>(search::JobState::kFailed));
static_assert(v1::JOB_CANCELLED == static_cast<int>(search::JobState::kCancelled));

void ToProto(const search::EmbedColumnRequest& in, v1::EmbedColumnRequest* out) {
  out->set_dataset(in.dataset);
  out->set_column(in.column);
  out->set_model(in.model);
  out->set_key(in.key);
  out->set_target(in.target);
}

search::EmbedColumnRequest FromProto(const v1::EmbedColumnRequest& in) {
  search::EmbedColumnRequest out;
  out.dataset = in.dataset();
  out.column = in.column();
  out.model = in.model();
  out.key = in.key();
  out.target = in.target();
  return out;
}

void ToProto(const search::JobStatus& in, v1::JobStatus* out) {
  out->set_id(in.id);
  out->set_state(static_cast<v1::JobState>(static_cast<int>(in.state)));
  ToProto(in.request, out->mutable_request());
  out->set_rows_total(in.rows_total);
  out->set_rows_done(in.rows_done);
  out->set_incremental(in.incremental);
  out->set_rows_already_embedded(in.rows_already_embedded);
  out->set_model(in.model);
  out->set_dim(in.dim);
  out->set_version(in.version);
  out->set_seconds(in.seconds);
  out->set_read_seconds(in.read_seconds);
  out->set_embed_seconds(in.embed_seconds);
  out->set_commit_seconds(in.commit_seconds);
  out->set_error_code(in.error_code);
  out->set_error_message(in.error_message);
}

search::JobStatus FromProto(const v1::JobStatus& in) {
  if (!v1::JobState_IsValid(in.state())) {
    Fail(ErrorCode::kInvalidArgument, "unknown embedding job state {} from the search service",
         static_cast<int>(in.state()));
  }
  search::JobStatus out;
  out.id = in.id();
  out.state = static_cast<search::JobState>(static_cast<int>(in.state()));
  out.request = FromProto(in.request());
  out.rows_total = in.rows_total();
  out.rows_done = in.rows_done();
  out.incremental = in.incremental();
  out.rows_already_embedded = in.rows_already_embedded();
  out.model = in.model();
  out.dim = in.dim();
  out.version = in.version();
  out.seconds = in.seconds();
  out.read_seconds = in.read_seconds();
  out.embed_seconds = in.embed_seconds();
  out.commit_seconds = in.commit_seconds();
  out.error_code = in.error_code();
  out.error_message = in.error_message();
  return out;
}

void ToProto(const search::SearchRequest& in, v1::SearchRequest* out) {
  out->set_dataset(in.dataset);
  out->set_column(in.column);
  out->set_query(in.query);
  out->set_k(in.k);
  out->set_mode(in.mode);
  out->set_rerank(in.rerank);
  out->mutable_columns()->Add(in.columns.begin(), in.columns.end());
  out->set_refresh(in.refresh);
  out->set_fusion(in.fusion);
}

search::SearchRequest FromProto(const v1::SearchRequest& in) {
  search::SearchRequest out;
  out.dataset = in.dataset();
  out.column = in.column();
  out.query = in.query();
  out.k = in.k();
  out.mode = in.mode();
  out.rerank = in.rerank();
  out.columns = {in.columns().begin(), in.columns().end()};
  out.refresh = in.refresh();
  out.fusion = in.fusion();
  return out;
}

}  // namespace lakehouse::rpc::detail
