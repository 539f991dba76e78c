#include "connection_input.hpp"

namespace c10k::http {

void connection_input::start(recv_buffer first) {
  head_since_ = io_.loop.now();
  body_since_ = {};
  reader_.append(first.view());
}

void connection_input::request_done() noexcept {
  head_since_ = io_.loop.now();
  body_since_ = {};
}

task<result<void>> connection_input::receive() {
  const server_options& o = io_.options;
  const clock::time_point now = io_.loop.now();
  if (reader_.in_body()) {
    if (body_since_ == clock::time_point{}) body_since_ = now;
    if (body_too_slow(body_since_, now, reader_.body_bytes_received(), o)) co_return std::errc::timed_out;
    io_.deadline.enter(connection_phase::body, now + o.body_timeout);
  } else {
    io_.deadline.enter(connection_phase::head, head_since_ + o.header_timeout);
  }
  if (io_.tls) co_return take(co_await in_scope(io_.scope, io_.tls->receive()));
  co_return take(co_await in_scope(io_.scope, io_.stream.receive()));
}

result<void> connection_input::take(const result<recv_buffer>& got) {
  if (!got) return got.error();
  if (got->empty()) return std::errc::connection_aborted;  // the client left mid-request
  if (io_.metrics) io_.metrics->bytes_in += got->size();
  if (reader_.empty()) head_since_ = io_.loop.now();
  reader_.append(got->view());
  return {};
}

}  // namespace c10k::http
