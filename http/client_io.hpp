// client_io: what the client's request path (client.cpp) and its responses
// (client_response.cpp) share (private to c10k::http).
#pragma once

#include <algorithm>
#include <optional>

#include "c10k/http/client.hpp"
#include "c10k/time.hpp"
#include "upstream_pool.hpp"

namespace c10k::http::detail {

// The time a wait may take: `phase`, cut to what is left before `deadline`.
inline clock::duration within(clock::duration phase, std::optional<clock::time_point> deadline) noexcept {
  if (!deadline) return phase;
  return std::clamp<clock::duration>(*deadline - clock::now(), clock::duration::zero(), phase);
}

// True once `deadline` has passed.
inline bool passed(std::optional<clock::time_point> deadline) noexcept {
  return deadline && clock::now() >= *deadline;
}

// Receives more bytes into c.in within `limit`; yields how many (0 at end of stream), or the
// error (timed_out past limit, the caller's scope's reason). Views into c.in end here.
task<result<std::size_t>> receive_more(pooled_connection& c, clock::duration limit);

// A response under way: its connection (until the body's end), its head and the body's state.
struct response_state {
  std::shared_ptr<upstream_pool> pool;
  upstream to;
  std::unique_ptr<pooled_connection> conn;
  std::string request_bytes;  // the request head being written (kept for its capacity)
  std::string head_bytes;  // the response head, which `head`'s views point into
  response_head head;
  std::optional<clock::time_point> deadline;
  std::uint64_t remaining = 0;  // content_length bytes still to come
  std::uint64_t total = 0;      // body bytes handed out so far
  chunked_decoder chunks;
  std::string decoded;          // a chunked body's current piece
  bool body_done = false;       // the body's end was reached (read() yields empty from now)
  std::error_code error;        // the first failure; read() repeats it

  // The connection goes back to the pool when it can carry another request, else closes.
  void release_connection() noexcept;
  // Forgets the response (its connection already released) and keeps the buffers' capacity.
  void reset() noexcept;
  // Records e, closes the connection, and returns e.
  std::error_code fail(std::error_code e) noexcept;
};

}  // namespace c10k::http::detail
