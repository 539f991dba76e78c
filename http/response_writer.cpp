#include "response_writer.hpp"

#include <array>
#include <cstdio>
#include <memory>
#include <unistd.h>

#include "c10k/detail/iovec_span.hpp"
#include "c10k/http/date.hpp"
#include "c10k/log.hpp"
#include "c10k/offload.hpp"

namespace c10k::http {
namespace {

// Bodies up to this size are copied next to their head, so a batch of small responses
// leaves in one contiguous buffer.
constexpr std::size_t copy_body_below = 4096;
// Open files a batch may hold: pipelined requests for tiny static files must not pin hundreds
// of fds per connection.
constexpr std::size_t max_batch_files = 16;

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  return true;
}

// RFC 9110 5.6.2 tchar, as a table: this runs for every header of every response.
constexpr auto tchar_table = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!tchar_table[c]) return false;
  return true;
}

bool has_line_break_or_nul(std::string_view s) noexcept {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

// Why r cannot be sent as the handler made it, or nullptr when it can.
const char* framing_violation(const response& r) noexcept {
  if (r.status() < 200 || r.status() > 999) return "a final response needs a status from 200 to 999";
  for (const auto& [name, value] : r.headers()) {
    if (!is_token(name)) return "a header name that is not a token";
    if (has_line_break_or_nul(value)) return "CR, LF or NUL in a header value";
    if (equals_ignore_case(name, "content-length") || equals_ignore_case(name, "transfer-encoding") ||
        equals_ignore_case(name, "connection"))
      return "Content-Length, Transfer-Encoding and Connection are the server's to set";
  }
  return nullptr;
}

// Whether the answer to a request with `head` carries no body bytes: HEAD, and 204 and 304,
// which never have content (1xx never reach here).
bool without_body(const request_head& head, const response& r) noexcept {
  return head.method == "HEAD" || r.status() == 204 || r.status() == 304;
}

// Replaces a response the writer cannot send with a 500, saying why in the log.
void check(response& r, const request_head& head) {
  if (const char* why = framing_violation(r)) {
    log(log_level::error, "handler for {} {} returned a response that cannot be sent ({}); answering 500",
        head.method, head.target, why);
    r = response::text(500, "Internal Server Error\n");
  }
}

}  // namespace

bool response_writer::add(response&& r, const request_head& head, bool may_continue) {
  check(r, head);
  const bool keep_alive = may_continue && head.keep_alive && !r.closes_connection();
  const bool head_only = without_body(head, r);
  queue(std::move(r), keep_alive, head.version_minor, head_only);
  return keep_alive;
}

void response_writer::add_error(int status, std::string_view why) {
  std::string body(why);
  body += '\n';
  queue(response::text(status, std::move(body)), false, 1, false);
}

void response_writer::queue(response&& r, bool keep_alive, int version_minor, bool head_only) {
  const std::size_t head_start = bytes_.size();
  append_head(bytes_, r, http_date(), keep_alive, version_minor);
  if (!head_only && r.content_length() != 0 && !r.file() && r.body().size() < copy_body_below) bytes_ += r.body();
  parts_.push_back({head_start, bytes_.size() - head_start, npos});
  last_status_ = r.status();
  last_bytes_ = bytes_.size() - head_start;
  if (head_only || r.content_length() == 0 || (!r.file() && r.body().size() < copy_body_below)) return;
  parts_.push_back({0, r.content_length(), bodies_.size()});
  body_bytes_ += r.content_length();
  last_bytes_ += r.content_length();
  if (r.file()) ++files_;
  bodies_.push_back(std::move(r));
}

bool response_writer::should_flush() const noexcept {
  return bytes_.size() + body_bytes_ >= io_->options.max_unsent_bytes || files_ >= max_batch_files;
}

// The queued heads and bodies as vectors, neighbours in memory merged (a batch without files).
std::span<iovec> response_writer::gather_bytes() {
  iov_.clear();
  if (bodies_.empty()) {  // every body was copied next to its head: one vector
    iov_.push_back({bytes_.data(), bytes_.size()});
    return iov_;
  }
  for (const part& p : parts_)
    iov_.push_back(p.body == npos ? iovec{bytes_.data() + p.offset, p.length}
                                  : iovec{const_cast<char*>(bodies_[p.body].body().data()), p.length});
  return merged(0, iov_.size());
}

task<result<void>> response_writer::flush_with_files() {
  result<void> r;
  (void)io_->stream.set_cork(true);
  iov_.clear();
  std::size_t from = 0;  // iov_[from, end) is not sent yet
  for (const part& p : parts_) {
    if (p.body == npos) {
      iov_.push_back({bytes_.data() + p.offset, p.length});
    } else if (const file_body& f = bodies_[p.body].file()) {
      if (iov_.size() > from && !(r = co_await write_all(merged(from, iov_.size())))) break;
      from = iov_.size();
      if (!(r = co_await send_file(f))) break;
    } else {
      iov_.push_back({bodies_[p.body].body().data(), p.length});
    }
  }
  if (r && iov_.size() > from) r = co_await write_all(merged(from, iov_.size()));
  (void)io_->stream.set_cork(false);
  reset(SIZE_MAX);
  co_return r;
}

task<result<void>> response_writer::send_continue() {
  if (auto r = co_await flush(); !r) co_return r;
  static constexpr char go_ahead[] = "HTTP/1.1 100 Continue\r\n\r\n";
  iovec iov{const_cast<char*>(go_ahead), sizeof go_ahead - 1};
  co_return co_await write_all(std::span<iovec>(&iov, 1));
}

bool send_all::suspend_with(waiter w, cancel_scope*) {
  who_ = w;
  if (io_.tls && !seal()) return false;
  return write_until_blocked();
}

// A TLS connection: the plaintext becomes records at once (in memory), and the writes carry
// the ciphertext, with the same deadline per write as plain bytes.
bool send_all::seal() {
  auto sealed = io_.tls->seal(iov_);
  if (!sealed) {
    r_ = sealed.error();
    return false;
  }
  sealed_ = iovec{const_cast<char*>(sealed->data()), sealed->size()};
  iov_ = std::span<iovec>(&sealed_, sealed_.iov_len ? 1 : 0);
  return true;
}

// Writes until all is sent, a write fails, or one must wait: returns true in the last case
// (on_written goes on from there).
bool send_all::write_until_blocked() {
  while (!iov_.empty()) {
    io_.deadline.enter(connection_phase::write, io_.loop.now() + io_.options.send_timeout);
    write_.emplace(io_.stream.writev(iov_));
    if (write_->suspend_with(waiter{&send_all::on_written, this}, &io_.scope)) return true;
    if (!take_written()) return false;
  }
  return false;
}

// Takes the result of the write that finished; returns whether to write on.
bool send_all::take_written() noexcept {
  const result<std::size_t> n = write_->await_resume();
  write_.reset();
  if (!n) {
    r_ = n.error();
    return false;
  }
  iov_ = advance(iov_, *n);
  return true;
}

void send_all::on_written(void* self) {
  auto* s = static_cast<send_all*>(self);
  if (s->take_written() && s->write_until_blocked()) return;
  s->who_.resume();
}

task<result<void>> response_writer::send_file(const file_body& f) {
  if (io_->tls) co_return co_await send_file_sealed(f);
  off_t offset = f.offset();
  std::size_t left = f.length();
  while (left > 0) {
    io_->deadline.enter(connection_phase::write, io_->loop.now() + io_->options.send_timeout);
    auto n = co_await in_scope(io_->scope, io_->stream.sendfile(f.fd(), offset, left));
    if (!n) co_return n.error();
    if (*n == 0) co_return std::make_error_code(std::errc::io_error);  // the file shrank
    offset += static_cast<off_t>(*n);
    left -= *n;
  }
  co_return result<void>{};
}

namespace {

// Reads up to n bytes of fd at offset into *buf (on a helper thread: a disk read may block).
ssize_t read_chunk(std::shared_ptr<std::string> buf, int fd, off_t offset, std::size_t n) {
  return ::pread(fd, buf->data(), std::min(n, buf->size()), offset);
}

}  // namespace

// A file on a TLS connection cannot go by sendfile (the kernel would send it unencrypted): it
// is read on the helper pool, 64 KiB at a time, and each piece sealed and written.
task<result<void>> response_writer::send_file_sealed(const file_body& f) {
  auto buf = std::make_shared<std::string>(64 * 1024, '\0');
  off_t offset = f.offset();
  std::size_t left = f.length();
  while (left > 0) {
    auto read = offload(&read_chunk, buf, f.fd(), offset, left);
    auto n = co_await in_scope(io_->scope, std::move(read));
    if (!n) co_return n.error();
    if (*n < 0) co_return errno_code(errno);
    if (*n == 0) co_return std::make_error_code(std::errc::io_error);  // the file shrank
    iovec piece{buf->data(), static_cast<std::size_t>(*n)};
    if (auto w = co_await write_all(std::span<iovec>(&piece, 1)); !w) co_return w;
    offset += static_cast<off_t>(*n);
    left -= static_cast<std::size_t>(*n);
  }
  co_return result<void>{};
}

namespace {

// A streamed body's pieces: each as a chunk (HTTP/1.1) or as it is (HTTP/1.0, where the close
// ends the body), through the writer's write_all.
class stream_writer final : public body_writer {
 public:
  stream_writer(response_writer& out, bool chunked) noexcept : out_(out), chunked_(chunked) {}

  task<result<void>> write(std::string_view data) override {
    if (error_ || data.empty()) co_return error_;
    char size_line[24];
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    static constexpr char crlf[] = "\r\n";
    iovec iov[3] = {{size_line, static_cast<std::size_t>(n)},
                    {const_cast<char*>(data.data()), data.size()},
                    {const_cast<char*>(crlf), 2}};
    co_return co_await send(chunked_ ? std::span<iovec>(iov, 3) : std::span<iovec>(iov + 1, 1));
  }

  // Ends the body (the last chunk for HTTP/1.1); returns the first error any write met.
  task<result<void>> finish() {
    if (error_ || !chunked_) co_return error_;
    static constexpr char last[] = "0\r\n\r\n";
    iovec iov{const_cast<char*>(last), 5};
    co_return co_await send(std::span<iovec>(&iov, 1));
  }

 private:
  task<result<void>> send(std::span<iovec> iov) {
    if (auto r = co_await out_.write_all(iov); !r) error_ = r.error();
    co_return error_;
  }

  response_writer& out_;
  bool chunked_;
  std::error_code error_;  // the first write that failed ends every later one
};

}  // namespace

task<bool> response_writer::send_stream(response&& r, const request_head& head, bool keep_alive) {
  check(r, head);
  const bool head_only = without_body(head, r);
  // An HTTP/1.0 stream ends where the connection does.
  keep_alive = keep_alive && head.keep_alive && !r.closes_connection() && (head_only || head.version_minor >= 1);
  if (!r.stream()) {  // check() replaced it with a 500
    queue(std::move(r), keep_alive, head.version_minor, head_only);
    co_return keep_alive;
  }
  body_producer producer = r.stream();
  queue(std::move(r), keep_alive, head.version_minor, /*head_only=*/true);
  if (!co_await flush()) co_return false;
  if (head_only) co_return keep_alive;
  stream_writer writer(*this, head.version_minor >= 1);
  try {
    co_await producer(writer);
  } catch (const std::exception& e) {
    // The head is gone already: all that is left is to end the connection early, which tells
    // the client the body is incomplete.
    log(log_level::error, "stream for {} {} failed: {}", head.method, head.target, e.what());
    co_return false;
  }
  co_return static_cast<bool>(co_await writer.finish()) && keep_alive;
}

task<void> response_writer::last_word(int status, std::string_view why) {
  response r = response::text(status, std::string(why) + "\n");
  std::string out;
  append_head(out, r, http_date(), false, 1);
  out += r.body();
  if (io_->tls) {
    const iovec plain{out.data(), out.size()};
    (void)co_await with_timeout(std::chrono::seconds(1), io_->tls->write_all(std::span<const iovec>(&plain, 1)));
    co_return;
  }
  (void)co_await with_timeout(std::chrono::seconds(1), io_->stream.write(std::span<const char>(out.data(), out.size())));
}

void response_writer::reset(std::size_t keep) noexcept {
  bytes_.clear();
  parts_.clear();
  bodies_.clear();
  iov_.clear();
  body_bytes_ = 0;
  files_ = 0;
  if (bytes_.capacity() > keep) std::string().swap(bytes_);
}

// iov_[from, to), with neighbours that are adjacent in memory (consecutive heads and copied
// bodies in bytes_) merged into one vector.
std::span<iovec> response_writer::merged(std::size_t from, std::size_t to) {
  std::size_t out = from;
  for (std::size_t i = from; i < to; ++i) {
    if (out > from && static_cast<char*>(iov_[out - 1].iov_base) + iov_[out - 1].iov_len == iov_[i].iov_base) {
      iov_[out - 1].iov_len += iov_[i].iov_len;
    } else {
      iov_[out++] = iov_[i];
    }
  }
  return std::span<iovec>(iov_).subspan(from, out - from);
}

}  // namespace c10k::http
