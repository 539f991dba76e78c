// connection_io: what the parts of one connection (reader, writer, body stream) share
// (private to c10k::http).
#pragma once

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/http/server_options.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/tls/stream.hpp"
#include "connection_deadline.hpp"
#include "loop_metrics.hpp"

namespace c10k::http {

struct connection_io {
  tcp_stream& stream;
  cancel_scope& scope;            // every wait of the connection; the deadline cancels it
  connection_deadline& deadline;
  const server_options& options;
  event_loop& loop;
  loop_metrics* metrics = nullptr;  // the loop's, when server_options::metrics (bytes received)
  tls::stream* tls = nullptr;       // a TLS connection's session: every byte goes through it
};

// True when a body that began to be waited for at `since` and has brought `bytes` is too slow:
// once body_timeout has passed, it must keep min_body_bytes_per_second on average (slow POST).
inline bool body_too_slow(clock::time_point since, clock::time_point now, std::uint64_t bytes, const server_options& o) {
  const auto elapsed = now - since;
  if (elapsed <= o.body_timeout) return false;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  return bytes * 1000 / static_cast<std::uint64_t>(ms + 1) < o.min_body_bytes_per_second;
}

}  // namespace c10k::http
