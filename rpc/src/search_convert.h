#pragma once
// search's C++ types <-> proto/lakehouse/v1/search.proto, both directions, field for field.
#include "lakehouse/search/search.h"
#include "lakehouse/v1/search.pb.h"

namespace lakehouse::rpc::detail {

void ToProto(const search::EmbedColumnRequest& in, v1::EmbedColumnRequest* out);
search::EmbedColumnRequest FromProto(const v1::EmbedColumnRequest& in);
void ToProto(const search::JobStatus& in, v1::JobStatus* out);
//! Throws Error(kInvalidArgument) for a job state this build does not know.
search::JobStatus FromProto(const v1::JobStatus& in);
void ToProto(const search::SearchRequest& in, v1::SearchRequest* out);
search::SearchRequest FromProto(const v1::SearchRequest& in);

}  // namespace lakehouse::rpc::detail
