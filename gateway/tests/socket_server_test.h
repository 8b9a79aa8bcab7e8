#pragma once
// The fixture gateway's socket-level suites share (server_test.cpp, reliability_test.cpp): a real
// Server over a test router on a free 127.0.0.1 port, run on a thread, and raw Beast sockets to it.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/logging.h"

namespace lakehouse::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

class SocketServerTest : public ::testing::Test {
 protected:
  //! Serves `router` with `options` (on a free port, version "test") until TearDown.
  void StartServer(ServerOptions options, Router router, std::vector<HealthCheck> checks = {}) {
    log::Init(log::Level::kWarn);
    options.port = 0;
    options.version = "test";
    server_ = std::make_unique<Server>(options, std::move(router), std::move(checks));
    server_->Bind();
    port_ = server_->port();
    thread_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }

  tcp::socket Connect() {
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    return s;
  }

  //! Sends `req` on `s` (Host 127.0.0.1, framed) and reads the whole response.
  static http::response<http::string_body> Exchange(tcp::socket& s, http::request<http::string_body> req) {
    req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  }

  net::io_context ioc_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace lakehouse::gateway
