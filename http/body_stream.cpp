#include "body_stream.hpp"

namespace c10k::http {

task<result<std::string_view>> body_stream::read() {
  if (error_) co_return error_;
  if (done_) co_return std::string_view{};
  if (expect_continue_) {
    // The handler wants the body: only now does the client get the go-ahead.
    expect_continue_ = false;
    if (auto w = co_await writer_.send_continue(); !w) co_return fail(w.error());
  }
  for (;;) {
    std::string_view piece;
    switch (reader_.next_piece(piece)) {
      case piece_status::piece: co_return piece;
      case piece_status::end: done_ = true; co_return std::string_view{};
      case piece_status::error:
        co_return fail(std::make_error_code(reader_.error() == parse_error::body_too_large ? std::errc::file_too_large
                                                                                          : std::errc::bad_message));
      case piece_status::need_input: break;
    }
    if (auto r = co_await input_.receive(); !r) co_return fail(r.error());
  }
}

bool body_stream::drop_buffered() {
  if (error_) return false;
  if (done_) return true;
  if (expect_continue_) return false;  // drain() decides
  for (std::string_view piece;;) {
    switch (reader_.next_piece(piece)) {
      case piece_status::piece: continue;  // dropped, as drain() would
      case piece_status::end: done_ = true; return true;
      case piece_status::need_input:
      case piece_status::error: return false;  // drain() waits for it, or reports it
    }
  }
}

task<bool> body_stream::drain() {
  if (expect_continue_ && !done_) co_return false;
  while (!done_ && !error_) (void)co_await read();
  co_return !error_;
}

}  // namespace c10k::http
