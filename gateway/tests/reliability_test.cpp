// Issue 14: no request may crash the server, starve other users or exceed the operator's limits.
// Each test reproduces one row of the issue's table against a real socket.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "../src/admission.h"
#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/json_depth.h"
#include "lakehouse/shared/logging.h"
#include "socket_server_test.h"

namespace lakehouse::gateway {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class ReliabilityTest : public SocketServerTest {
 protected:
  void Start(ServerOptions options) {
    Router router;
    router.Add("POST", "/echo", [](Request& req, Response& res) { res.Send(200, req.ReadBody(), "text/plain"); });
    router.Add(
        "POST", "/upload",
        [](Request& req, Response& res) {
          res.Json(200, {{"bytes", req.ReadBody().size()}});
        },
        RouteOptions{.max_body_bytes = 1ull << 30});
    router.Add("POST", "/json", [](Request& req, Response& res) { res.Json(200, req.ReadJson()); });
    router.Add("GET", "/sized", [](Request&, Response& res) {
      res.BeginSized(200, "text/plain", 10);
      res.Write("0123456789");
      res.End();
    });
    router.Add("GET", "/stream", [](Request&, Response& res) {
      res.Begin(200, "text/plain");
      res.Write("chunk");
      res.End();
    });
    router.Add("GET", "/send", [](Request&, Response& res) { res.Json(200, {{"worker", true}}); });
    StartServer(options, std::move(router));
  }

  http::response<http::string_body> Call(tcp::socket& s, http::verb verb, const std::string& target,
                                         std::string body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.body() = std::move(body);
    return Exchange(s, std::move(req));
  }

  http::response<http::string_body> Call(http::verb verb, const std::string& target, std::string body = "") {
    tcp::socket s = Connect();
    return Call(s, verb, target, std::move(body));
  }

  //! Starts a request whose body never finishes: the header and `sent` bytes of `length`.
  tcp::socket StartSlowBody(const std::string& target, size_t length, const std::string& sent) {
    tcp::socket s = Connect();
    net::write(s, net::buffer(fmt::format("POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}", target, length,
                                          sent)));
    return s;
  }

  //! Options for the slow-client tests: the body timer is `max_body_read_ms` and the idle timeout
  //! is long, so only the body limits can cut a slow client off.
  static ServerOptions SlowBodyOptions(int max_body_read_ms) {
    ServerOptions options;
    options.max_body_read_ms = max_body_read_ms;
    options.idle_timeout_ms = 30000;
    return options;
  }

  //! Sends one more byte of the body every 100 ms (60 at most) until the server cuts the connection
  //! off or, with `until_response`, has a response ready to read. Returns the write error, if any.
  static beast::error_code Trickle(tcp::socket& s, bool until_response) {
    beast::error_code ec;
    for (int i = 0; i < 60 && !ec; ++i) {
      std::this_thread::sleep_for(milliseconds(100));
      net::write(s, net::buffer(std::string("y")), ec);
      if (!ec && until_response) {
        pollfd p{s.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) break;
      }
    }
    return ec;
  }
};

TEST_F(ReliabilityTest, HeadSendsTheHeaderOnlyAndKeepsTheConnectionFramed) {
  Start({});
  tcp::socket s = Connect();
  for (const char* target : {"/health", "/sized", "/send", "/nope"}) {
    http::request<http::empty_body> head{http::verb::head, target, 11};
    head.set(http::field::host, "x");
    http::write(s, head);
    beast::flat_buffer buf;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a HEAD response has no body, whatever its Content-Length says
    http::read(s, buf, parser);
    EXPECT_NE(parser.get().result_int(), 0) << target;
    if (std::string(target) == "/sized") {
      EXPECT_EQ(parser.get()[http::field::content_length], "10");
    }
    EXPECT_EQ(buf.size(), 0u) << "bytes after the header of HEAD " << target << ": a body was sent";
    // The next request on the same connection must parse as a response of its own.
    auto res = Call(s, http::verb::get, "/health");
    ASSERT_EQ(res.result_int(), 200) << "after HEAD " << target;
    EXPECT_EQ(nlohmann::json::parse(res.body())["version"], "test");
  }
}

TEST_F(ReliabilityTest, SlowBodiesHoldNoWorker) {
  ServerOptions options = SlowBodyOptions(1500);
  options.worker_threads = 2;
  Start(options);
  // More slow clients than workers, each sending 1 byte of a 100-byte body and then nothing.
  std::vector<tcp::socket> slow;
  for (int i = 0; i < 6; ++i) slow.push_back(StartSlowBody("/echo", 100, "x"));
  std::this_thread::sleep_for(milliseconds(100));
  const auto started = Clock::now();
  auto res = Call(http::verb::post, "/echo", "ordinary");
  EXPECT_EQ(res.body(), "ordinary");
  EXPECT_LT(Clock::now() - started, milliseconds(1000)) << "an ordinary request waited for slow clients";
  // And the slow clients are cut off after max_body_read_ms, however they trickle.
  tcp::socket trickle = StartSlowBody("/echo", 100, "x");
  const auto trickle_start = Clock::now();
  EXPECT_TRUE(Trickle(trickle, false)) << "a body trickling one byte per 100 ms was never cut off";
  EXPECT_LT(Clock::now() - trickle_start, milliseconds(4000));
}

TEST_F(ReliabilityTest, TricklingUploadIsCutOff) {
  ServerOptions options = SlowBodyOptions(500);
  options.min_upload_bytes_per_s = 1000;
  Start(options);
  tcp::socket s = StartSlowBody("/upload", 1000000, "x");
  const auto started = Clock::now();
  Trickle(s, true);  // the 408 arrives before the connection closes
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  beast::error_code read_ec;
  http::read(s, buf, res, read_ec);
  if (!read_ec) {
    EXPECT_EQ(res.result_int(), 408);
  }
  EXPECT_LT(Clock::now() - started, milliseconds(4000)) << "an upload at 10 bytes/s held its worker";
  // An ordinary upload is fine.
  EXPECT_EQ(Call(http::verb::post, "/upload", std::string(100000, 'u')).result_int(), 200);
}

TEST_F(ReliabilityTest, ConnectionsBeyondTheCapAreRefusedPolitely) {
  ServerOptions options;
  options.max_connections = 4;
  Start(options);
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect());
  std::this_thread::sleep_for(milliseconds(200));
  auto refused = Call(http::verb::get, "/health");
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_EQ(nlohmann::json::parse(refused.body())["error"]["code"], "unavailable");
  EXPECT_EQ(refused[http::field::retry_after], "1");
  idle.pop_back();  // one closes: room for a new connection
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    served = Call(http::verb::get, "/health").result_int() == 200;
  }
  EXPECT_TRUE(served);
}

TEST_F(ReliabilityTest, OpenFileLimitIsRaisedAtStart) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max < 512) GTEST_SKIP() << "hard open-file limit too low to test";
  rlimit lowered = lim;
  lowered.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  Start({});
  auto res = Call(http::verb::get, "/health");
  EXPECT_EQ(res.result_int(), 200);
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, lim.rlim_max);
}

TEST_F(ReliabilityTest, DeeplyNestedJsonBodyIsA400) {
  Start({});
  // Issue 14: '[' * 10000 crashed the process.
  auto res = Call(http::verb::post, "/json", std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_NE(res.body().find("levels deep"), std::string::npos) << res.body();
  EXPECT_EQ(Call(http::verb::post, "/json", R"({"a": [[[1]]], "s": "[[[[["})").result_int(), 200);
}

TEST(JsonDepthTest, CountsNestingOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth("[]"), 1);
  EXPECT_EQ(JsonNestingDepth(R"({"a": [1, {"b": [2]}]})"), 4);
  EXPECT_EQ(JsonNestingDepth(R"(["[[[[", "\"[[["])"), 1);
  EXPECT_EQ(JsonNestingDepth("1"), 0);
  JsonDepth pieces;
  pieces.Feed(R"(["a\)");
  pieces.Feed(R"("[", [[)");
  EXPECT_EQ(pieces.max_depth(), 3);
  EXPECT_THROW(CheckJsonDepth(std::string(300, '['), 256, "x"), Error);
}

TEST(AdmissionTest, BoundedQueueThenRefusals) {
  Admission lane("heavy", 1, 1, milliseconds(200));
  auto first = lane.Enter();
  auto waiter = std::async(std::launch::async, [&] {
    try {
      auto slot = lane.Enter();
      return 200;
    } catch (const Error& e) {
      return e.http_status();
    }
  });
  for (int i = 0; i < 100 && lane.queued() == 0; ++i) std::this_thread::sleep_for(milliseconds(5));
  try {
    lane.Enter();
    ADD_FAILURE() << "a full queue must refuse";
  } catch (const Error& e) {
    EXPECT_EQ(e.http_status(), 429);
  }
  EXPECT_EQ(waiter.get(), 503) << "a queued query waits at most max_wait";
  { auto released = std::move(first); }
  auto again = lane.Enter();  // the slot came back
  EXPECT_EQ(lane.running(), 1);
}

TEST(AdmissionTest, LightQueriesReadNoTable) {
  EXPECT_TRUE(IsLightQuery("SELECT 1"));
  EXPECT_TRUE(IsLightQuery("select 'from x', \"from\" -- from\n + 1 /* from */"));
  EXPECT_FALSE(IsLightQuery("SELECT * FROM sales"));
  EXPECT_FALSE(IsLightQuery("select (select 1 from t)"));
  EXPECT_FALSE(IsLightQuery("FROM sales"));
  EXPECT_FALSE(IsLightQuery("SUMMARIZE sales"));
  EXPECT_FALSE(IsLightQuery("describe sales"));
  EXPECT_TRUE(IsLightQuery("SELECT fromage, from_json('{}', '{}')"));
}

}  // namespace
}  // namespace lakehouse::gateway
