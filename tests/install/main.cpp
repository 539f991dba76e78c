// Builds and runs against an installed c10k: serves one request to itself and prints its body.
#include <cstdio>

#include "c10k/http/server.hpp"
#include "c10k/tcp_stream.hpp"

using namespace c10k;

int main() {
  http::router r;
  r.get("/", [](http::request&) -> task<http::response> { co_return http::response::text(200, "installed"); });
  http::server srv(std::move(r), {.host = "127.0.0.1", .port = 0, .threads = 1});
  if (!srv.start()) return 1;
  event_loop loop;
  auto body = loop.block_on([](std::uint16_t port) -> task<std::string> {
    auto s = co_await connect(address::loopback(port));
    if (!s) co_return "connect failed";
    if (!co_await s->write_all("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) co_return "write failed";
    std::string all;
    std::array<char, 4096> buf;
    for (;;) {
      auto n = co_await s->read(buf);
      if (!n || *n == 0) break;
      all.append(buf.data(), *n);
    }
    co_return all.substr(all.find("\r\n\r\n") + 4);
  }(srv.port()));
  std::puts(body.c_str());
  return body == "installed" ? 0 : 1;
}
