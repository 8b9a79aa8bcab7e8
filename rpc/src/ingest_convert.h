#pragma once
// ingest's C++ types <-> proto/lakehouse/v1/ingest.proto, both directions, field for field.
#include "lakehouse/ingest/ingest.h"
#include "lakehouse/v1/ingest.pb.h"

namespace lakehouse::rpc::detail {

void ToProto(const ingest::IngestRequest& in, v1::IngestRequest* out);
//! Throws Error(kInvalidArgument) for an enum value this build does not know.
ingest::IngestRequest FromProto(const v1::IngestRequest& in);
void ToProto(const ingest::IngestResult& in, v1::IngestResult* out);
ingest::IngestResult FromProto(const v1::IngestResult& in);
void ToProto(const ingest::CompactionOptions& in, v1::CompactionOptions* out);
ingest::CompactionOptions FromProto(const v1::CompactionOptions& in);
void ToProto(const ingest::CompactionResult& in, v1::CompactionResult* out);
ingest::CompactionResult FromProto(const v1::CompactionResult& in);
void ToProto(const ingest::RegisterRequest& in, v1::RegisterRequest* out);
ingest::RegisterRequest FromProto(const v1::RegisterRequest& in);

}  // namespace lakehouse::rpc::detail
