#pragma once
// The C++ testing library (tests only): an in-process gateway on a free port, serving the real
// router over the services a test hands it, plus (through shared/) the plain HTTP client
// lakehouse::HttpClient and a temp dir. Suites that need a server use this instead of their own.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lakehouse/gateway/gateway.h"

namespace lakehouse::testing {

class InProcessGateway {
 public:
  //! Binds 127.0.0.1 on a free port and serves BuildRouter(services) until destroyed.
  explicit InProcessGateway(const gateway::Services& services, gateway::ServerOptions options = Options(),
                            std::vector<gateway::HealthCheck> checks = {});
  ~InProcessGateway();
  InProcessGateway(const InProcessGateway&) = delete;
  InProcessGateway& operator=(const InProcessGateway&) = delete;

  //! "http://127.0.0.1:<port>"
  const std::string& url() const { return url_; }
  uint16_t port() const { return server_->port(); }

  //! Defaults for tests: a free port, four workers.
  static gateway::ServerOptions Options();

 private:
  std::unique_ptr<gateway::Server> server_;
  std::string url_;
  std::thread thread_;
};

//! A fresh directory under $TMPDIR (or /tmp), removed with everything in it by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "lh-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace lakehouse::testing
