// The Status <-> lakehouse::Error mapping of grpc_common.h, without a network.
#include <gtest/gtest.h>

#include "grpc_common.h"

namespace lakehouse::rpc {
namespace {

TEST(ErrorMapping, EveryCodeAndMessageSurvive) {
  ClientOptions options{.address = "127.0.0.1:1", .service = "catalogd"};
  for (ErrorCode code : kAllErrorCodes) {
    const Error back = detail::FromStatus(detail::ToStatus(Error(code, "what went wrong")), options);
    EXPECT_EQ(back.code(), code) << CodeName(code);
    EXPECT_STREQ(back.what(), "what went wrong");
  }
}

TEST(ErrorMapping, TransportFailuresNameTheService) {
  ClientOptions options{.address = "127.0.0.1:7001", .service = "catalogd"};
  for (auto code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED}) {
    const Error e = detail::FromStatus(grpc::Status(code, "connection refused"), options);
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_STREQ(e.what(), "catalogd at 127.0.0.1:7001 is unavailable: connection refused");
  }
}

}  // namespace
}  // namespace lakehouse::rpc
