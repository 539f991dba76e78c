// response_writer: owns the framing of every response a connection sends (private to
// c10k::http).
//
// Responses leave in request order, batched: all the responses produced from one read go out
// in one writev. The writer alone writes Content-Length, Transfer-Encoding and Connection; a
// handler that sets them, or puts CR, LF or NUL in a header, gets a 500 in its place (logged),
// so nothing it does can split a response or desynchronise the next one. 1xx, 204, 304 and
// answers to HEAD carry no body bytes. An interim 100 Continue goes out only after every
// earlier response.
#pragma once

#include <sys/uio.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/http/parser.hpp"
#include "c10k/http/response.hpp"
#include "c10k/io_awaiter.hpp"
#include "connection_io.hpp"

namespace c10k::http {

class response_writer;

// co_await send_all(io, iov): writes every byte of iov, each write under send_timeout to make
// progress, in the connection's scope; yields the error that ended it. An awaiter rather than
// a coroutine, because it runs for every response: no frame, and on a readiness backend a
// write that completes at once never suspends the caller.
class [[nodiscard]] send_all final : public waiter_awaitable<send_all> {
 public:
  send_all(connection_io& io, std::span<iovec> iov) noexcept : io_(io), iov_(iov) {}
  send_all(const send_all&) = delete;
  // Starts writing; returns true when `w` will be resumed once all is written or a write failed.
  bool suspend_with(waiter w, cancel_scope* ignored);
  // The error that ended the writes, or success.
  result<void> await_resume() noexcept {
    if (io_.tls) {
      if (r_) io_.tls->output_sent();
      else io_.tls->output_failed();
    }
    return r_;
  }

 private:
  bool seal();
  bool write_until_blocked();
  bool take_written() noexcept;
  static void on_written(void* self);

  connection_io& io_;
  std::span<iovec> iov_;
  std::optional<io_awaiter> write_;
  waiter who_;
  result<void> r_;
  iovec sealed_{};  // a TLS connection's ciphertext, which is what gets written
};

class response_writer {
 public:
  // Binds the writer to a connection for a burst of requests.
  void bind(connection_io& io) noexcept { io_ = &io; }

  // Queues r as the answer to the request with `head`; `may_continue` says whether the server
  // would keep the connection (not draining, under max_requests). Returns whether the
  // connection stays open after this response.
  bool add(response&& r, const request_head& head, bool may_continue);
  // Queues an error answer (status, a one-line text) that closes the connection.
  void add_error(int status, std::string_view why);
  // True when nothing is queued.
  bool empty() const noexcept { return parts_.empty(); }
  // True when enough is queued (bytes, or open files) that it should be sent before more.
  bool should_flush() const noexcept;
  class flush_op;
  // co_await: sends everything queued; yields the error that ended it.
  flush_op flush();
  // Sends "100 Continue", after everything queued before it.
  task<result<void>> send_continue();
  // Sends a streamed response: what is queued, its head, then the body as `producer` writes
  // it (chunked on HTTP/1.1); returns false when the connection must close.
  task<bool> send_stream(response&& r, const request_head& head, bool keep_alive);
  // One last try to tell the client why it is being closed (1 s, outside the connection's
  // scope, which may be cancelled already).
  task<void> last_word(int status, std::string_view why);
  // The status and the bytes (head and body) of the response queued last, for metrics and
  // the access log (a streamed response: its head).
  int last_status() const noexcept { return last_status_; }
  std::uint64_t last_bytes() const noexcept { return last_bytes_; }
  // Forgets what is queued; keeps buffers' capacity unless it grew past `keep` bytes.
  void reset(std::size_t keep) noexcept;

  // co_await: writes every vector, each write under send_timeout to make progress; yields the error.
  send_all write_all(std::span<iovec> iov) noexcept { return send_all(*io_, iov); }

 private:
  struct part {
    std::size_t offset;  // into bytes_ (when body == npos)
    std::size_t length;
    std::size_t body;    // index into bodies_, or npos
  };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  void queue(response&& r, bool keep_alive, int version_minor, bool head_only);
  std::span<iovec> gather_bytes();
  task<result<void>> flush_with_files();
  task<result<void>> send_file(const file_body& f);
  task<result<void>> send_file_sealed(const file_body& f);
  std::span<iovec> merged(std::size_t from, std::size_t to);

  connection_io* io_ = nullptr;
  std::string bytes_;            // heads and small bodies, back to back
  std::vector<part> parts_;
  std::vector<response> bodies_; // responses whose bodies are sent from where they lie
  std::size_t body_bytes_ = 0;
  std::size_t files_ = 0;
  std::vector<iovec> iov_;
  int last_status_ = 0;
  std::uint64_t last_bytes_ = 0;
};

// What flush() returns: a batch of bytes alone goes out through send_all (no frame); a batch
// with files through a coroutine that interleaves writes and sendfile.
class response_writer::flush_op {
 public:
  explicit flush_op(response_writer& w) : w_(w) {
    if (w.parts_.empty()) return;
    if (w.files_ > 0) files_ = w.flush_with_files();
    else send_.emplace(*w.io_, w.gather_bytes());
  }
  bool await_ready() const noexcept { return !files_.valid() && !send_; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    if (files_.valid()) return std::move(files_).operator co_await().await_suspend(h);
    return send_->await_suspend(h) ? std::noop_coroutine() : std::coroutine_handle<>(h);
  }
  result<void> await_resume() {
    if (files_.valid()) return files_.handle().promise().take();
    if (!send_) return {};
    w_.reset(SIZE_MAX);
    return send_->await_resume();
  }

 private:
  response_writer& w_;
  std::optional<send_all> send_;
  task<result<void>> files_;
};

inline response_writer::flush_op response_writer::flush() { return flush_op(*this); }

}  // namespace c10k::http
