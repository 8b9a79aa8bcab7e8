// Baseline for bench/http_health.sh: the smallest Boost.Beast coroutine server answering every
// request with a fixed JSON body (no routing, no request ids, no logs). The ratio of Lakehouse's
// /health throughput to this one is the gateway's overhead on the same machine, in the same run.
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

net::awaitable<void> Session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::empty_body> req;
    auto [ec, n] = co_await http::async_read(stream, buffer, req, net::experimental::as_tuple(net::use_awaitable));
    if (ec) break;
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"status":"ok","version":"baseline","services":{}})";
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, net::experimental::as_tuple(net::use_awaitable));
    if (wec || !req.keep_alive()) break;
  }
}

net::awaitable<void> Listen(tcp::acceptor& acceptor) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(net::make_strand(acceptor.get_executor()), net::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    auto ex = socket.get_executor();
    net::co_spawn(ex, Session(std::move(socket)), net::detached);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: http_baseline_server PORT [THREADS]\n";
    return 2;
  }
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  net::io_context ioc;
  tcp::acceptor acceptor(ioc,
                         tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(std::atoi(argv[1]))));
  net::co_spawn(ioc, Listen(acceptor), net::detached);
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { ioc.stop(); });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
}
