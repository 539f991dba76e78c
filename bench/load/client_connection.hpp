// client_connection: one HTTP/1.1 client connection of the load generator, on the c10k runtime.
//
// It opens its socket itself (socket, optional bind to a source address, nonblocking connect
// through the loop's backend) because c10k::connect cannot bind first, and a high connection
// rate needs several source addresses to stay clear of ephemeral port exhaustion. Replies are
// framed by response_reader straight from the backend's lent receive buffers: a buffer is held
// only while its bytes are being parsed, never while the connection waits.
#pragma once

#include <cstdint>
#include <string_view>

#include "c10k/address.hpp"
#include "c10k/recv_buffer.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"
#include "c10k/tcp_stream.hpp"
#include "response_reader.hpp"

namespace c10k::load {

struct reply {
  int status = 0;
  bool keep_alive = true;  // false when the server closes after this reply
};

class client_connection {
 public:
  client_connection() = default;
  client_connection(const client_connection&) = delete;
  client_connection& operator=(const client_connection&) = delete;

  // Opens a connection to `to` on the current loop, from `source` (its port is ignored: the
  // kernel picks one at connect time) unless source is null. Closes any previous connection
  // first. Returns the error of socket, bind or connect (the socket stays open for abort()).
  task<result<void>> open(address to, const address* source);
  // Sends all of bytes; returns the first error.
  task<result<void>> send(std::string_view bytes);
  // Reads the next reply; returns its status and whether the connection stays open, or
  // connection_reset when the server closed before (or in the middle of) it, bad_message when
  // it cannot be framed, or the receive's error.
  task<result<reply>> read_reply();
  // Waits for the server to close (bytes that arrive meanwhile are dropped); returns success
  // at end of stream, the receive's error otherwise.
  task<result<void>> wait_close();

  // True when bytes of a further reply are already here (pipelined replies in one receive).
  bool buffered() const noexcept { return !rest_.empty(); }
  // Returns the bytes received since the previous call.
  std::uint64_t take_bytes() noexcept { return std::exchange(bytes_, 0); }
  bool is_open() const noexcept { return stream_.is_open(); }

  // Closes with a FIN (the normal close).
  void close() noexcept;
  // Closes with a RST (SO_LINGER 0): for a client that gives up, so that no TIME_WAIT
  // lingers on this side.
  void abort() noexcept;

 private:
  void reset_state() noexcept;

  tcp_stream stream_;
  recv_buffer buf_;
  std::string_view rest_;  // the part of buf_ not parsed yet
  response_reader reader_;
  std::uint64_t bytes_ = 0;
};

}  // namespace c10k::load
