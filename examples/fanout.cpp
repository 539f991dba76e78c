// c10k-fanout: one request calls several upstreams at once, under the request's deadline, and
// answers with what came back in time.
//
//   c10k-fanout --port 8090 --upstream 127.0.0.1:8080 --upstream 127.0.0.1:8081 --path /plain --deadline-ms 200
//
// GET /fanout sends GET PATH to every upstream with when_all, in the handler's scope, whose
// deadline is --deadline-ms after the handler starts (server_options::request_timeout; a
// caller's X-Deadline-Ms header makes it tighter, and the client passes what is left on in the
// same header). Each upstream gives one line: "HOST:PORT STATUS BODY", or "HOST:PORT error:
// WHY" for one that failed or was late. The answer is 200 with every line, as soon as the last
// call ended; the deadline bounds that wait.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "c10k/backend.hpp"
#include "c10k/http/client.hpp"
#include "c10k/http/server.hpp"
#include "c10k/when.hpp"

using namespace c10k;

namespace {

// One upstream's line of the answer.
task<std::string> call(http::client& cl, http::upstream up, std::string path) {
  http::client_request q;
  q.target = std::move(path);
  auto r = co_await cl.fetch(up, std::move(q));
  if (!r) co_return fmt::format("{} error: {}", up.authority(), r.error().message());
  std::string body = std::move(r->body);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  co_return fmt::format("{} {} {}", up.authority(), r->status, body);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"c10k fan-out example: GET /fanout calls every upstream at once under the request's deadline"};
  http::server_options opt;
  opt.host = "0.0.0.0";
  opt.port = 8090;
  std::vector<std::string> upstream_texts;
  std::string path = "/plain";
  unsigned deadline_ms = 200;
  app.add_option("--host", opt.host, "address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "TCP port (0 picks a free one)")->capture_default_str();
  app.add_option("--upstream", upstream_texts, "HOST:PORT to call (repeat for each)")->required();
  app.add_option("--path", path, "what to GET from each upstream")->capture_default_str();
  app.add_option("--deadline-ms", deadline_ms, "each request's deadline, from when its handler starts")->capture_default_str();
  app.add_option("--threads", opt.threads, "event loops, one thread each (0: one per CPU)")->capture_default_str();
  app.add_option("--backend", opt.backend, "event mechanism")
      ->check(CLI::IsMember({"auto", "io_uring", "epoll", "epoll-et", "poll", "select"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<http::upstream> upstreams;
  for (const std::string& t : upstream_texts) {
    auto up = http::upstream::parse(t);
    if (!up) {
      fmt::print(stderr, "c10k-fanout: --upstream {}: expected HOST:PORT\n", t);
      return 2;
    }
    upstreams.push_back(std::move(*up));
  }
  opt.request_timeout = std::chrono::milliseconds(deadline_ms);
  opt.deadline_header = "X-Deadline-Ms";
  http::client cl({.deadline_header = "X-Deadline-Ms"});

  http::router routes;
  routes.get("/fanout", [&](http::request&) -> task<http::response> {
    std::vector<task<std::string>> calls;
    for (const http::upstream& up : upstreams) calls.push_back(call(cl, up, path));
    // Every call inherits the handler's deadline; when_all returns once each has ended.
    std::vector<std::string> lines = co_await when_all(std::move(calls));
    std::string body;
    for (const std::string& l : lines) body += l + "\n";
    co_return http::response::text(200, std::move(body));
  });

  http::server srv(std::move(routes), opt);
  if (auto started = srv.start(); !started) {
    fmt::print(stderr, "c10k-fanout: cannot listen on {}:{}: {}\n", opt.host, opt.port, started.error().message());
    return 1;
  }
  fmt::print("c10k-fanout on {}:{} -> {} upstream(s), deadline {} ms ({} backend)\n", opt.host, srv.port(),
             upstreams.size(), deadline_ms, srv.backend_name());
  std::fflush(stdout);
  return srv.run() ? 0 : 1;
}
