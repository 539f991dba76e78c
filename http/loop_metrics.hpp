// loop_metrics: the request counters of one loop of a server, written by that loop alone and
// read by a scrape from any thread (private to c10k::http).
//
// Every field is a `counter` (backend.hpp): a relaxed load and store, as cheap as a plain
// increment, with no read-modify-write shared between loops. A scrape sums the loops.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "c10k/backend.hpp"

namespace c10k::http {

// The methods requests are counted by; anything else is "other".
enum class method_label : std::uint8_t { get, head, post, put, del, other, count };
constexpr std::array<std::string_view, 6> method_names{"GET", "HEAD", "POST", "PUT", "DELETE", "other"};

// Why a connection closed.
enum class close_reason : std::uint8_t {
  client,           // the client closed (EOF, mid-request or between requests)
  server,           // the server ended it: Connection: close, max_requests_per_connection, a stop
  refused,          // after a request the server refused (4xx for a bad or oversized request)
  error,            // an I/O error
  limit,            // max_connections: closed at accept
  timeout_idle,     // keepalive_timeout (or header_timeout before a first request)
  timeout_head,     // header_timeout
  timeout_body,     // body_timeout or min_body_bytes_per_second
  timeout_write,    // send_timeout
  tls_handshake,    // a TLS handshake that failed or timed out (or plain HTTP on a TLS port)
  count
};
constexpr std::array<std::string_view, 10> close_reason_names{
    "client", "server", "refused", "error", "limit", "timeout_idle", "timeout_head", "timeout_body", "timeout_write",
    "tls_handshake"};

// Upper bounds of the request-duration histogram in seconds, log-spaced from 100 us to 10 s.
constexpr std::array<double, 16> duration_bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,   10.0};
// The same bounds in nanoseconds, for the per-request search.
constexpr auto duration_bounds_ns = [] {
  std::array<std::uint64_t, duration_bounds.size()> ns{};
  for (std::size_t i = 0; i < ns.size(); ++i) ns[i] = static_cast<std::uint64_t>(duration_bounds[i] * 1e9 + 0.5);
  return ns;
}();

// The method's label (a switch on length and first letter: this runs per request).
inline method_label label_of(std::string_view m) noexcept {
  switch (m.size()) {
    case 3:
      if (m == "GET") return method_label::get;
      if (m == "PUT") return method_label::put;
      break;
    case 4:
      if (m == "HEAD") return method_label::head;
      if (m == "POST") return method_label::post;
      break;
    case 6:
      if (m == "DELETE") return method_label::del;
      break;
  }
  return method_label::other;
}

struct loop_metrics {
  // requests[method][status class - 1]: answers queued, by method and 1xx..5xx.
  std::array<std::array<counter, 5>, static_cast<std::size_t>(method_label::count)> requests;
  // Request durations, from the turn its head was parsed in to its answer being queued:
  // buckets[i] counts those <= duration_bounds[i] and above the bound before (the last: +Inf).
  std::array<counter, duration_bounds.size() + 1> duration_buckets;
  counter duration_sum_ns;
  counter accepted;
  std::array<counter, static_cast<std::size_t>(close_reason::count)> closed;
  counter bytes_in;
  counter bytes_out;

  // Counts one answer (status, response bytes) to a request of method m that took `took`.
  void count_request(method_label m, int status, std::uint64_t bytes, std::chrono::nanoseconds took) noexcept {
    const int cls = status / 100;
    if (cls >= 1 && cls <= 5) ++requests[static_cast<std::size_t>(m)][static_cast<std::size_t>(cls - 1)];
    bytes_out += bytes;
    const auto ns = static_cast<std::uint64_t>(took.count() > 0 ? took.count() : 0);
    std::size_t b = 0;
    while (b < duration_bounds_ns.size() && ns > duration_bounds_ns[b]) ++b;
    ++duration_buckets[b];
    duration_sum_ns += ns;
  }
};

}  // namespace c10k::http
