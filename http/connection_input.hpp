// connection_input: receives the bytes of the request under way, under the deadline of what
// they are for (private to c10k::http).
#pragma once

#include "c10k/recv_buffer.hpp"
#include "connection_io.hpp"
#include "request_reader.hpp"

namespace c10k::http {

class connection_input {
 public:
  connection_input(connection_io& io, request_reader& reader) noexcept : io_(io), reader_(reader) {}

  // Takes the first bytes of a burst (received while the connection was idle); the buffer
  // goes back to the backend at once.
  void start(recv_buffer first);
  // Notes that a request was answered: a pipelined request already buffered starts its head
  // now, so the time its predecessors' handlers took never counts against the client.
  void request_done() noexcept;
  // Receives more bytes for the request under way: a head must be whole within header_timeout
  // of its first byte; a body may be silent for body_timeout and, after that, must keep
  // min_body_bytes_per_second. Returns timed_out when either is broken (or the connection's
  // scope was cancelled with it), connection_aborted when the client closed mid-request, or
  // the receive's error.
  task<result<void>> receive();

 private:
  // Takes what a receive brought (plain bytes, or a TLS session's plaintext) into the reader.
  result<void> take(const result<recv_buffer>& got);

  connection_io& io_;
  request_reader& reader_;
  clock::time_point head_since_{};  // when the first byte of the request under way arrived
  clock::time_point body_since_{};  // when the body under way began to be waited for
};

}  // namespace c10k::http
