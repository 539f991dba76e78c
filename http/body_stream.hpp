// body_stream: the body of a request on a stream_body route, read as the handler asks for it
// (private to c10k::http). It holds no more than one receive's worth at a time; bytes past
// the body's end stay in the reader for the next request.
#pragma once

#include "c10k/http/request.hpp"
#include "connection_input.hpp"
#include "request_reader.hpp"
#include "response_writer.hpp"

namespace c10k::http {

class body_stream final : public body_reader {
 public:
  body_stream(request_reader& reader, connection_input& input, response_writer& writer) noexcept
      : reader_(reader), input_(input), writer_(writer), expect_continue_(reader.head().expect_continue) {
    reader_.stream_body();
  }

  task<result<std::string_view>> read() override;
  // Reads and drops what the handler left of the body; returns false when that failed, or
  // when the client still waits for "100 Continue" (it will not send the body: RFC 9110
  // 10.1.1 leaves closing the connection as the way out).
  task<bool> drain();
  // Drops what is already here of the body; true when that reached its end (or there was no
  // body), so that drain() has nothing to wait for and need not run (a coroutine frame and a
  // read() per request on a bodyless request, which is most of them).
  bool drop_buffered();

 private:
  std::error_code fail(std::error_code e) noexcept {
    error_ = e;
    return e;
  }

  request_reader& reader_;
  connection_input& input_;
  response_writer& writer_;
  bool expect_continue_;
  bool done_ = false;
  std::error_code error_;
};

}  // namespace c10k::http
