#pragma once
// The one mapping from lakehouse ErrorCodes to gRPC status codes, for every gRPC server of the
// project: rpc/'s service adapters and flight/'s Flight SQL service (docs/adr/0017-grpc.md). Only
// gRPC's status-code enum is included here, no other gRPC header.
#include <grpcpp/support/status_code_enum.h>

#include "lakehouse/shared/error.h"

namespace lakehouse::rpc {

//! The nearest gRPC code: kConflict is ABORTED (retry the read-modify-write), kPayloadTooLarge and
//! kTooManyRequests are RESOURCE_EXHAUSTED, kInternal (and anything unknown) is INTERNAL.
grpc::StatusCode ToGrpcCode(ErrorCode code);

}  // namespace lakehouse::rpc
