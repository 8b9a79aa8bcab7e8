#pragma once
// Tests only: a query result collected in memory (queryd, rpc and search tests).
#include <string>
#include <string_view>

#include "lakehouse/queryd/query.h"

namespace lakehouse::testing {

//! Collects a result in memory. Can pretend the client left after `fail_after_writes` writes.
class StringSink final : public queryd::ResultSink {
 public:
  void Begin(std::string_view type) override {
    ++begins;
    content_type = std::string(type);
  }
  bool Write(std::string_view bytes) override {
    if (writes >= fail_after_writes) {
      gone = true;
      return false;
    }
    ++writes;
    body.append(bytes);
    return true;
  }
  bool ClientGone() override { return gone; }

  std::string content_type;
  std::string body;
  int begins = 0;
  int writes = 0;
  int fail_after_writes = 1 << 30;
  bool gone = false;
};

}  // namespace lakehouse::testing
