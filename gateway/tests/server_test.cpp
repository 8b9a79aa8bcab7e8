// The HTTP server over a real socket: routing, errors, limits, streaming, keep-alive, drain.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "lakehouse/gateway/gateway.h"
#include "lakehouse/shared/error.h"
#include "lakehouse/shared/logging.h"
#include "socket_server_test.h"

namespace lakehouse::gateway {
namespace {

class ServerTest : public SocketServerTest {
 protected:
  void SetUp() override {
    Router router;
    router.Add("POST", "/echo", [](Request& req, Response& res) {
      std::string body = req.ReadBody();
      res.SetHeader("X-Length", std::to_string(body.size()));
      res.Send(200, body, "application/octet-stream");
    });
    router.Add("POST", "/headers", [](Request& req, Response& res) {
      res.Json(200, {{"type", req.Header("Content-Type").value_or("")},
                     {"length", req.content_length().value_or(0)},
                     {"body", req.ReadBody()}});
    });
    router.Add(
        "GET", "/inline-headers",
        [](Request& req, Response& res) {
          res.Json(200, {{"x", req.Header("X-Test").value_or("")}});
        },
        RouteOptions{.inline_handler = true});
    router.Add("GET", "/stream", [](Request&, Response& res) {
      res.Begin(200, "text/plain");
      for (int i = 0; i < 3; ++i) res.Write("chunk" + std::to_string(i) + ";");
      res.End();
    });
    router.Add("GET", "/items/{id}/{rest...}", [](Request& req, Response& res) {
      res.Json(200, {{"id", req.Param("id")}, {"rest", req.Param("rest")}, {"q", req.Query("q").value_or("")}});
    });
    router.Add("GET", "/big", [this](Request&, Response& res) {
      res.Begin(200, "application/octet-stream");
      const std::string chunk(1 << 20, 'b');
      for (int i = 0; i < 256; ++i) {
        if (!res.Write(chunk)) {
          big_gave_up_ = true;
          return;
        }
      }
      res.End();
    });
    router.Add("GET", "/missing",
               [](Request&, Response&) { Fail(ErrorCode::kNotFound, "dataset 'x' does not exist"); });
    router.Add("GET", "/boom", [](Request&, Response&) { throw std::runtime_error("secret internals"); });
    router.Add("GET", "/sized", [](Request& req, Response& res) {
      res.BeginSized(200, "application/octet-stream", 10);
      res.Write("01234");
      if (req.Query("short")) Fail(ErrorCode::kUnavailable, "storage went away");
      res.Write("56789");
      res.End();
    });
    router.Add("GET", "/small-stream", [](Request&, Response& res) {
      res.Begin(200, "text/plain");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a header sent at Begin would arrive alone
      res.WriteAndEnd("all of it");
    });
    router.Add("GET", "/error-before-first-write", [](Request&, Response& res) {
      res.SetHeader("X-Stream", "yes");
      res.Begin(200, "text/plain");
      Fail(ErrorCode::kInvalidArgument, "failed before the first byte");
    });
    router.Add("GET", "/midstream-error", [](Request&, Response& res) {
      res.Begin(200, "text/plain");
      res.Write("partial");
      Fail(ErrorCode::kInternal, "failed after starting");
    });
    router.Add("GET", "/slow", [](Request&, Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      res.Json(200, {{"slow", true}});
    });
    ServerOptions options;
    options.max_body_bytes = 1000;
    options.worker_threads = 4;
    options.idle_timeout_ms = 500;
    StartServer(options, std::move(router), {{"storaged", [] { return nlohmann::json{{"status", "ok"}}; }}});
  }

  http::response<http::string_body> Call(http::request<http::string_body> req, tcp::socket* reuse = nullptr) {
    tcp::socket local = reuse ? tcp::socket(ioc_) : Connect();
    return Exchange(reuse ? *reuse : local, std::move(req));
  }

  //! GETs `target` and reports whether reading the response failed (a truncated body).
  bool GetFails(const std::string& target) {
    tcp::socket s = Connect();
    auto req = Req(http::verb::get, target);
    req.set(http::field::host, "x");
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(s, buf, res, ec);
    return static_cast<bool>(ec);
  }

  static http::request<http::string_body> Req(http::verb verb, std::string target, std::string body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.body() = std::move(body);
    return req;
  }

  static nlohmann::json Json(const http::response<http::string_body>& res) { return nlohmann::json::parse(res.body()); }

  std::atomic<bool> big_gave_up_{false};
};

TEST_F(ServerTest, HealthListsServicesAndVersion) {
  auto res = Call(Req(http::verb::get, "/health"));
  EXPECT_EQ(res.result_int(), 200);
  auto j = Json(res);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["version"], "test");
  EXPECT_EQ(j["services"]["storaged"]["status"], "ok");
  EXPECT_FALSE(res["X-Request-Id"].empty());
  EXPECT_EQ(Call(Req(http::verb::get, "/ready")).result_int(), 200);
}

TEST_F(ServerTest, UnknownRouteIs404WithJsonError) {
  auto res = Call(Req(http::verb::get, "/nope"));
  EXPECT_EQ(res.result_int(), 404);
  auto j = Json(res);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("/nope"), std::string::npos);
  EXPECT_EQ(j["error"]["request_id"], std::string(res["X-Request-Id"]));
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  auto res = Call(Req(http::verb::delete_, "/health"));
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res["Allow"], "GET");
  EXPECT_EQ(Json(res)["error"]["code"], "method_not_allowed");
}

TEST_F(ServerTest, RequestIdIsEchoed) {
  auto req = Req(http::verb::get, "/health");
  req.set("X-Request-Id", "my-trace-42");
  auto res = Call(req);
  EXPECT_EQ(res["X-Request-Id"], "my-trace-42");
  auto bad = Req(http::verb::get, "/health");
  bad.set("X-Request-Id", "has spaces and \"quotes\"");
  auto res2 = Call(bad);
  EXPECT_NE(res2["X-Request-Id"], "has spaces and \"quotes\"");
  EXPECT_FALSE(res2["X-Request-Id"].empty());
}

TEST_F(ServerTest, HandlersSeeRequestHeaders) {
  auto req = Req(http::verb::post, "/headers", "abc");
  req.set(http::field::content_type, "text/csv");
  auto j = Json(Call(req));
  EXPECT_EQ(j["type"], "text/csv");
  EXPECT_EQ(j["length"], 3);
  EXPECT_EQ(j["body"], "abc");
  auto inl = Req(http::verb::get, "/inline-headers");
  inl.set("X-Test", "seen");
  EXPECT_EQ(Json(Call(inl))["x"], "seen");
}

TEST_F(ServerTest, BodyWithinLimitIsEchoed) {
  auto res = Call(Req(http::verb::post, "/echo", std::string(999, 'x')));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body().size(), 999u);
}

TEST_F(ServerTest, DeclaredBodyOverLimitIs413) {
  auto res = Call(Req(http::verb::post, "/echo", std::string(1001, 'x')));
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_EQ(Json(res)["error"]["code"], "payload_too_large");
}

TEST_F(ServerTest, ChunkedBodyOverLimitIs413) {
  tcp::socket s = Connect();
  std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunk = "800\r\n" + std::string(0x800, 'y') + "\r\n0\r\n\r\n";
  net::write(s, net::buffer(head + chunk));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 413);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  tcp::socket s = Connect();
  net::write(s, net::buffer(std::string("THIS IS NOT HTTP\r\n\r\n")));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(Json(res)["error"]["code"], "invalid_argument");
}

TEST_F(ServerTest, StreamedResponseArrivesWhole) {
  auto res = Call(Req(http::verb::get, "/stream"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res.body(), "chunk0;chunk1;chunk2;");
}

// ADR 0012: a streamed response's header waits for its first bytes, and the last chunk goes with
// the end: a small result is one write (one segment, one wake-up of the client), and when it is the
// whole body it is sent with a Content-Length.
TEST_F(ServerTest, SmallStreamedResponseIsOneWrite) {
  tcp::socket s = Connect();
  auto req = Req(http::verb::get, "/small-stream");
  req.set(http::field::host, "x");
  http::write(s, req);
  std::string first(4096, '\0');
  first.resize(s.read_some(net::buffer(first)));  // what the first write brought
  EXPECT_EQ(first.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(first.find("Content-Length: 9\r\n"), std::string::npos) << first;
  EXPECT_EQ(first.find("chunked"), std::string::npos) << first;
  EXPECT_EQ(first.substr(first.size() - 13), "\r\n\r\nall of it") << first;
  EXPECT_EQ(Call(Req(http::verb::get, "/health"), &s).result_int(), 200) << "connection stays usable";
}

TEST_F(ServerTest, StreamThatFailsBeforeItsFirstByteIsAnErrorResponse) {
  // Nothing of the stream left yet (its header waits for the first bytes): the error replaces it,
  // without the handler's headers, and the connection serves the next request.
  tcp::socket s = Connect();
  auto res = Call(Req(http::verb::get, "/error-before-first-write"), &s);
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(Json(res)["error"]["message"], "failed before the first byte");
  EXPECT_EQ(res.count("X-Stream"), 0u);
  EXPECT_EQ(Call(Req(http::verb::get, "/sized"), &s).result_int(), 200);
}

TEST_F(ServerTest, PathParamsAndQuery) {
  auto j = Json(Call(Req(http::verb::get, "/items/a%20b/x/y/z.parquet?q=hello+world")));
  EXPECT_EQ(j["id"], "a b");
  EXPECT_EQ(j["rest"], "x/y/z.parquet");
  EXPECT_EQ(j["q"], "hello world");
}

TEST_F(ServerTest, HandlerErrorsMapToStatus) {
  auto res = Call(Req(http::verb::get, "/missing"));
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(Json(res)["error"]["message"], "dataset 'x' does not exist");
  auto boom = Call(Req(http::verb::get, "/boom"));
  EXPECT_EQ(boom.result_int(), 500);
  auto msg = Json(boom)["error"]["message"].get<std::string>();
  EXPECT_EQ(msg.find("secret internals"), std::string::npos) << "internal details must not leak";
}

TEST_F(ServerTest, ErrorAfterStreamingStartedTruncatesTheBody) {
  EXPECT_TRUE(GetFails("/midstream-error")) << "a failed stream must not look complete";
}

TEST_F(ServerTest, SizedStreamHasContentLength) {
  tcp::socket s = Connect();
  auto res = Call(Req(http::verb::get, "/sized"), &s);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_FALSE(res.chunked());
  EXPECT_EQ(res[http::field::content_length], "10");
  EXPECT_EQ(res.body(), "0123456789");
  EXPECT_EQ(Call(Req(http::verb::get, "/health"), &s).result_int(), 200) << "connection stays usable";
}

TEST_F(ServerTest, ShortSizedStreamIsTruncatedNotCompleted) {
  EXPECT_TRUE(GetFails("/sized?short=1")) << "a body shorter than its Content-Length must end in a closed connection";
}

TEST_F(ServerTest, KeepAliveServesSeveralRequests) {
  tcp::socket s = Connect();
  for (int i = 0; i < 3; ++i) {
    auto res = Call(Req(http::verb::post, "/echo", "abc"), &s);
    EXPECT_EQ(res.body(), "abc");
  }
  auto res = Call(Req(http::verb::get, "/health"), &s);
  EXPECT_EQ(res.result_int(), 200);
}

TEST_F(ServerTest, ExpectContinueIsHonoured) {
  tcp::socket s = Connect();
  net::write(
      s,
      net::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")));
  std::string got(25, '\0');
  size_t n = net::read(s, net::buffer(got), net::transfer_exactly(25));
  EXPECT_EQ(got.substr(0, n), "HTTP/1.1 100 Continue\r\n\r\n");
  net::write(s, net::buffer(std::string("hello")));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.body(), "hello");
}

TEST_F(ServerTest, StalledUploadIsClosedAndFreesTheWorker) {
  tcp::socket s = Connect();
  net::write(s, net::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")));
  // The client never sends the other 90 bytes: the server gives up after idle_timeout_ms (500).
  const auto started = std::chrono::steady_clock::now();
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(s, buf, res, ec);
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_LT(waited, std::chrono::seconds(5));
  if (!ec) {
    EXPECT_GE(res.result_int(), 400) << "a truncated upload must not succeed";
  }
  EXPECT_EQ(Call(Req(http::verb::get, "/health")).result_int(), 200);
}

TEST_F(ServerTest, ClientThatStopsReadingIsDropped) {
  tcp::socket s = Connect();
  auto req = Req(http::verb::get, "/big");
  req.set(http::field::host, "x");
  http::write(s, req);
  // Never read: the socket buffers fill, the server's write stalls, and the watchdog ends it.
  for (int i = 0; i < 100 && !big_gave_up_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(big_gave_up_) << "the handler must learn that the client is gone";
}

TEST_F(ServerTest, StopDrainsInFlightRequests) {
  auto fut = std::async(std::launch::async, [this] { return Call(Req(http::verb::get, "/slow")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server_->Stop();
  auto res = fut.get();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(Json(res)["slow"], true);
}

TEST(RouterTest, MatchesMostSpecificInOrderAndReportsAllowedMethods) {
  Router r;
  r.Add("GET", "/a/{x}", [](Request&, Response&) {});
  r.Add("PUT", "/a/{x}", [](Request&, Response&) {});
  auto m = r.Find("GET", "/a/1");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.params["x"], "1");
  auto none = r.Find("DELETE", "/a/1");
  EXPECT_EQ(none.handler, nullptr);
  EXPECT_EQ(none.allowed_methods, (std::vector<std::string>{"GET", "PUT"}));
  EXPECT_EQ(r.Find("GET", "/a/1/2").handler, nullptr);
  EXPECT_EQ(r.Find("GET", "/a").handler, nullptr);
}

}  // namespace
}  // namespace lakehouse::gateway
