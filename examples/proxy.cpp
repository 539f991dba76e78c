// c10k-proxy: a reverse proxy in front of one upstream.
//
//   c10k-proxy --port 8080 --upstream 127.0.0.1:8081 [--threads N] [--backend B]
//   c10k-proxy --port 8080 --upstream https://api.example:443 [--upstream-ca ca.pem]
//
// Every request goes to the upstream over a keep-alive pool per loop (http::client), bodies
// streamed both ways: a request body is forwarded as it arrives, a response body as the
// upstream sends it (whole, when it is small and sized). X-Forwarded-For gets the client's
// address. An upstream that fails (refused, reset, a malformed answer) gets the client a 502,
// one that is late (connect, response head or body timeout) a 504, each with a body saying so.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <string>

#include "c10k/backend.hpp"
#include "c10k/http/client.hpp"
#include "c10k/http/server.hpp"

using namespace c10k;

namespace {

// A response body up to this size (and sized) is read whole and sent with Content-Length;
// larger or unsized ones stream.
constexpr std::uint64_t whole_body_limit = 256 * 1024;

// ASCII case-insensitive equality (header names are tokens): no locale, no libc call per byte.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  const auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; };
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// What the proxy does with a header field, by its name.
enum class field_kind {
  other,           // forwarded as it is
  hop_by_hop,      // one hop's (RFC 9110 section 7.6.1), or framed by the client or the server: dropped
  forwarded_for,   // X-Forwarded-For: extended with the client's address
  date_or_server,  // the server writes its own (responses only)
  content_length,  // the request body's framing (hop-by-hop too)
  transfer_encoding,
};

// Sorts a name by its length first, so that each field costs at most two comparisons (it was
// a dozen, a tenth of the proxy's instructions per request).
field_kind kind_of(std::string_view name) noexcept {
  const auto is = [name](std::string_view lower) { return http::header_name_is(name, lower); };
  switch (name.size()) {
    case 2: return is("te") ? field_kind::hop_by_hop : field_kind::other;
    case 4: return is("date") ? field_kind::date_or_server : field_kind::other;
    case 6: return is("server") ? field_kind::date_or_server : field_kind::other;
    case 7: return is("trailer") || is("upgrade") ? field_kind::hop_by_hop : field_kind::other;
    case 10: return is("connection") || is("keep-alive") ? field_kind::hop_by_hop : field_kind::other;
    case 14: return is("content-length") ? field_kind::content_length : field_kind::other;
    case 15: return is("x-forwarded-for") ? field_kind::forwarded_for : field_kind::other;
    case 16: return is("proxy-connection") ? field_kind::hop_by_hop : field_kind::other;
    case 17: return is("transfer-encoding") ? field_kind::transfer_encoding : field_kind::other;
    case 18: return is("proxy-authenticate") ? field_kind::hop_by_hop : field_kind::other;
    case 19: return is("proxy-authorization") ? field_kind::hop_by_hop : field_kind::other;
    default: return field_kind::other;
  }
}

// True when the Connection header `connection` lists `name` as hop-by-hop too.
bool listed_in(std::string_view connection, std::string_view name) noexcept {
  std::size_t pos = 0;
  while (pos <= connection.size()) {
    std::size_t comma = connection.find(',', pos);
    if (comma == std::string_view::npos) comma = connection.size();
    std::string_view t = connection.substr(pos, comma - pos);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (iequals(t, name)) return true;
    pos = comma + 1;
  }
  return false;
}

// The answer when the upstream could not be used: 504 when it was late, 502 otherwise.
http::response upstream_error(const http::upstream& up, std::error_code e) {
  if (e == std::errc::timed_out)
    return http::response::text(504, fmt::format("504 Gateway Timeout: upstream {} did not answer in time\n", up.authority()));
  return http::response::text(502, fmt::format("502 Bad Gateway: upstream {} failed: {}\n", up.authority(), e.message()));
}

// The request as it goes upstream: hop-by-hop headers dropped, X-Forwarded-For extended, the
// body (if any) streamed from the client.
http::client_request upstream_request(http::request& q) {
  http::client_request out;
  out.method = std::string(q.method());
  out.target = std::string(q.target());
  const std::string_view connection = q.header("Connection").value_or("");
  std::string forwarded;
  std::optional<std::string_view> length;
  bool chunked = false;
  out.headers.reserve(q.headers().size() + 1);  // and X-Forwarded-For
  for (const http::header_field& f : q.headers()) {
    const field_kind k = kind_of(f.name);
    if (k == field_kind::content_length && !length) length = f.value;
    if (k == field_kind::transfer_encoding) chunked = true;  // the server took only a final chunked
    if (k == field_kind::hop_by_hop || k == field_kind::content_length || k == field_kind::transfer_encoding ||
        (!connection.empty() && listed_in(connection, f.name)))
      continue;
    if (k == field_kind::forwarded_for) {
      if (!forwarded.empty()) forwarded += ", ";
      forwarded += f.value;
      continue;
    }
    out.headers.emplace_back(std::string(f.name), std::string(f.value));
  }
  if (auto peer = q.peer()) {  // kept by the connection: no getpeername per request
    if (!forwarded.empty()) forwarded += ", ";
    forwarded += peer->host();
  }
  if (!forwarded.empty()) out.headers.emplace_back("X-Forwarded-For", std::move(forwarded));

  if (length || chunked) {
    if (length) {
      std::uint64_t n = 0;
      std::from_chars(length->data(), length->data() + length->size(), n);  // the server checked it
      out.content_length = n;
    }
    http::body_reader* from = &q.body_stream();
    out.body_stream = [from](http::body_writer& to) -> task<void> {
      for (;;) {
        auto piece = co_await from->read();
        if (!piece) throw std::system_error(piece.error(), "client request body");
        if (piece->empty()) co_return;
        if (!co_await to.write(*piece)) co_return;  // the writer keeps the error
      }
    };
  }
  return out;
}

// Forwards q to `up` and answers with what came back.
task<http::response> forward(http::client& cl, const http::upstream& up, http::request& q) {
  auto got = co_await cl.send(up, upstream_request(q));
  if (!got) co_return upstream_error(up, got.error());
  http::client_response& r = *got;
  http::response out(r.status());
  const std::string_view connection = r.header("Connection").value_or("");
  for (const http::header_field& f : r.headers()) {
    const field_kind k = kind_of(f.name);
    if (k == field_kind::other || k == field_kind::forwarded_for) {
      if (connection.empty() || !listed_in(connection, f.name)) out.set_header(std::string(f.name), std::string(f.value));
    }
  }
  const auto framing = r.framing();
  if (framing == http::response_framing::none) co_return out;
  if (framing == http::response_framing::content_length && q.method() != "HEAD" &&
      r.content_length() <= whole_body_limit) {
    auto body = co_await r.read_all();
    if (!body) co_return upstream_error(up, body.error());
    out.set_body(std::move(*body));
    co_return out;
  }
  // Streamed: the head goes now; an upstream failure later can only cut the body short, which
  // the server does by closing the connection (the producer throws). The producer is copyable
  // (std::function), hence the shared response.
  out.set_stream([r = std::make_shared<http::client_response>(std::move(r))](http::body_writer& to) -> task<void> {
    for (;;) {
      auto piece = co_await r->read();
      if (!piece) throw std::system_error(piece.error(), "upstream response body");
      if (piece->empty()) co_return;
      if (!co_await to.write(*piece)) co_return;
    }
  });
  co_return out;
}

}  // namespace

int main(int argc, char** argv) {
  http::server_options opt;
  opt.port = 8080;
  std::string upstream_text;
  unsigned connect_s = 5, response_s = 30;
  std::size_t pool = 32;
  CLI::App app{"c10k reverse proxy: forwards every request to one upstream over keep-alive connections"};
  app.add_option("--host", opt.host, "address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "TCP port (0 picks a free one)")->capture_default_str();
  app.add_option("--upstream", upstream_text, "HOST:PORT, http://HOST:PORT or https://HOST[:PORT] to forward to")->required();
  std::string upstream_ca;
  app.add_option("--upstream-ca", upstream_ca, "PEM CA bundle to check an https upstream against (default: the system's)")
      ->check(CLI::ExistingFile);
  app.add_option("--threads", opt.threads, "event loops, one thread each (0: one per CPU)")->capture_default_str();
  app.add_option("--backend", opt.backend, "event mechanism: auto, io_uring, epoll, epoll-et, poll, select")
      ->check(CLI::IsMember({"auto", "io_uring", "epoll", "epoll-et", "poll", "select"}))
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_s, "seconds to connect to the upstream (504 past it)")->capture_default_str();
  app.add_option("--upstream-timeout", response_s, "seconds for the upstream's response head, and of silence in its body (504)")
      ->capture_default_str();
  app.add_option("--pool", pool, "idle upstream connections kept per loop")->capture_default_str();
  bool pin = false;
  app.add_flag("--pin", pin, "pin loop i to CPU i");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  opt.pin_cpus = pin;
  auto up = http::upstream::parse(upstream_text);
  if (!up) {
    fmt::print(stderr, "c10k-proxy: --upstream {}: expected HOST:PORT or https://HOST[:PORT]\n", upstream_text);
    return 2;
  }

  http::client_options co;
  co.connect_timeout = std::chrono::seconds(connect_s);
  co.response_timeout = std::chrono::seconds(response_s);
  co.body_timeout = std::chrono::seconds(response_s);
  co.max_body_bytes = 0;  // bodies stream through; the client of the proxy decides
  co.max_idle_per_upstream = pool;
  co.tls.ca_file = upstream_ca;
  http::client cl(co);

  http::router routes;
  const http::upstream target = *up;
  const http::handler h = [&cl, target](http::request& q) { return forward(cl, target, q); };
  for (std::string_view m : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
    routes.add(m, "/{path...}", h, {.stream_body = true});

  http::server srv(std::move(routes), opt);
  if (auto started = srv.start(); !started) {
    fmt::print(stderr, "c10k-proxy: cannot listen on {}:{}: {}\n", opt.host, opt.port, started.error().message());
    return 1;
  }
  fmt::print("c10k-proxy on {}:{} -> {} ({} backend)\n", opt.host, srv.port(), up->authority(), srv.backend_name());
  std::fflush(stdout);
  auto ran = srv.run();
  return ran ? 0 : 1;
}
