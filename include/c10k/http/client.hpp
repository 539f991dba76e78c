// client: an HTTP/1.1 client for handlers that call other services.
//
// One `client` is shared by every loop of a process; each loop keeps its own pool of
// keep-alive connections per upstream (no lock on the way of a request), found through a
// thread-local table and owned by a task on that loop, so the pool closes with its loop.
//
//   http::client cl({.response_timeout = 2s});
//   auto up = http::upstream::parse("127.0.0.1:8081").value();
//   http::client_request q;
//   q.target = "/users/" + id;
//   auto r = co_await cl.send(up, std::move(q));                             // head arrived
//   if (!r) co_return http::response::text(502, r.error().message());
//   auto body = co_await r->read_all();                                       // then the body
//
// (A named request rather than `{.target = "/users/" + id}` in the call: GCC 12 destroys a
// temporary member of such a braced argument of a co_await-ed call twice.)
// From a blocking-style fiber handler: fiber::await(cl.send(...)), fiber::await(r->read_all()).
// Every wait (resolve, connect, write, head, body) ends with the caller's cancel_scope, and
// with timed_out past its own timeout or the request's deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/http/parser.hpp"
#include "c10k/http/response.hpp"
#include "c10k/http/response_parser.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"
#include "c10k/tls/context.hpp"

namespace c10k::http {

struct client_options {
  std::chrono::milliseconds connect_timeout{5'000};    // per address tried
  std::chrono::milliseconds write_timeout{10'000};     // each write of the request must progress within it
  std::chrono::milliseconds response_timeout{30'000};  // from the request sent to the response head complete
  std::chrono::milliseconds body_timeout{30'000};      // silence while a response body arrives
  parse_limits limits{};                               // the response head (64 KiB, 100 fields)
  std::uint64_t max_body_bytes = 64 << 20;             // a response body (file_too_large past it); 0: none
  std::size_t max_idle_per_upstream = 32;              // idle connections kept per upstream and loop
  std::chrono::milliseconds idle_timeout{30'000};      // an idle pooled connection is closed after it
  std::chrono::seconds dns_ttl{30};                    // how long a resolved name is cached
  // When not empty, each request carries its remaining deadline in this header, in whole
  // milliseconds ("X-Request-Deadline-Ms: 180"), so the upstream can stop when nobody waits.
  std::string deadline_header;
  // https upstreams: the server's certificate is checked against the system's CA store (or
  // tls.ca_file) and the upstream's host name (SNI too); ALPN offers http/1.1; a session is
  // resumed per host and port across the pooled connections of every loop.
  tls::client_config tls{};
};

// Where requests go: a host (name or numeric address), a port, and whether over TLS.
struct upstream {
  std::string host;
  std::uint16_t port = 80;
  bool tls = false;  // https
  // Parses "host:port", "host" (port 80), "[v6]:port", each optionally after "http://" or
  // "https://" (TLS, port 443 by default); invalid_argument otherwise.
  static result<upstream> parse(std::string_view text);
  // "host:port" as the Host header carries it ("[::1]:8080").
  std::string authority() const;
};

struct client_request {
  std::string method = "GET";
  std::string target = "/";
  // Sent as given, after Host (which a "Host" here replaces). Content-Length, Transfer-Encoding
  // and Connection are the client's: a request that sets them fails with invalid_argument, as
  // does CR, LF or NUL in a header.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent with Content-Length (none for a GET or HEAD without a body)
  // When set, the body is written piece by piece through a body_writer while the request is
  // sent: chunked, or with Content-Length when content_length is given (writing more or less
  // fails the request). A request with a streamed body is never retried.
  body_producer body_stream;
  std::optional<std::uint64_t> content_length;
  // A deadline of this request's own; the one the caller's cancel_scope inherits (a handler's
  // request deadline) applies as well. Every wait ends with timed_out at the latest at the
  // earlier of the two, and the deadline header (client_options::deadline_header) carries what
  // is left of it.
  std::optional<clock::time_point> deadline;
};

// What a client did so far, summed over every loop.
struct client_stats {
  std::uint64_t requests = 0;     // requests sent (a retry counts again)
  std::uint64_t connects = 0;     // connections opened
  std::uint64_t reused = 0;       // requests sent on a pooled connection
  std::uint64_t retries = 0;      // idempotent requests sent again after a stale connection failed
  std::uint64_t bad_responses = 0;  // connections closed for a malformed or truncated response
  std::uint64_t tls_resumed = 0;    // https connections whose handshake resumed a session
};

namespace detail {
struct client_shared;
struct response_state;
}  // namespace detail

// A response whose head has arrived; the body is read through it. It holds its connection
// until the body is read to its end (then the connection goes back to the pool) or it is
// destroyed (a connection whose body was not read to the end is closed).
class client_response {
 public:
  client_response(client_response&&) noexcept;
  client_response& operator=(client_response&&) noexcept;
  ~client_response();

  int status() const noexcept;
  std::string_view reason() const noexcept;
  int version_minor() const noexcept;
  const std::vector<header_field>& headers() const noexcept;
  // The first header called `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  // How the body is delimited (none for HEAD, 1xx, 204, 304).
  response_framing framing() const noexcept;
  // The body's length as Content-Length gave it, when framing() is content_length; else 0.
  std::uint64_t content_length() const noexcept;

  // The next piece of the body (a view valid until the next call), empty at its end; or the
  // error: timed_out (body_timeout or the deadline), connection_aborted when the upstream closed
  // before the body's end, bad_message for broken chunked framing, file_too_large past
  // max_body_bytes, or the caller's scope's reason. After an error the connection is closed.
  task<result<std::string_view>> read();
  // The rest of the body in one string, or the first error read() gave.
  task<result<std::string>> read_all();

  explicit client_response(std::unique_ptr<detail::response_state> s) noexcept;

 private:
  std::unique_ptr<detail::response_state> s_;
};

class client {
 public:
  explicit client(client_options options = {});
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  // Loops keep their pools (closed with the loop), which keep the options alive.
  ~client();

  // Sends req to `to` from the current loop and yields the response once its head has
  // arrived; the body follows through client_response::read. Errors: invalid_argument (a bad
  // request), what resolving or connecting gave (connection_refused, host_unreachable, ...),
  // timed_out (a timeout or the deadline), bad_message (a malformed response head),
  // message_size (a head past limits), connection_aborted (the upstream closed before
  // answering), or the caller's scope's reason. An idempotent request (GET, HEAD, OPTIONS,
  // TRACE, PUT, DELETE) without a streamed body that fails on a pooled connection before any
  // byte of the response came back is sent once more on a new connection.
  task<result<client_response>> send(const upstream& to, client_request req);
  // send(), then read_all(): the status and the whole body, for small answers.
  struct whole_response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  task<result<whole_response>> fetch(const upstream& to, client_request req);

  const client_options& options() const noexcept;
  // The counters, summed over the loops; callable from any thread.
  client_stats stats() const noexcept;
  // Idle connections pooled on the current loop for `to` (for tests and diagnostics).
  std::size_t idle_connections(const upstream& to) const;

 private:
  std::shared_ptr<detail::client_shared> shared_;
};

// The deadline a request runs under: the earlier of the request's own and the deadline the
// caller's scope inherits (a handler's request deadline, a with_timeout around the call);
// nullopt when neither has one.
std::optional<clock::time_point> effective_deadline(const client_request& req, const cancel_scope* caller) noexcept;

}  // namespace c10k::http
