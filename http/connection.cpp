// The life of one HTTP/1.1 connection, as one coroutine.
//
// Read what the client sent; parse every complete request in the buffer; run each handler in
// order; then send every response produced from that read in one writev (pipelining); repeat
// until the client or a response closes the connection. The request's views point into the
// buffer, which stays untouched until the responses are written.
//
// With server_options::fiber_connections this same coroutine runs on a fiber of its own, which
// parks wherever the coroutine would suspend (coroutine_host.hpp), so blocking-style handlers
// run on the connection's stack.
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <span>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "c10k/fiber.hpp"
#include "c10k/http/date.hpp"
#include "c10k/iovec_span.hpp"
#include "c10k/log.hpp"
#include "c10k/time.hpp"
#include "loop_state.hpp"

namespace c10k::http {
namespace {

// Bodies up to this size are copied next to their head, so a batch of small responses
// leaves in one contiguous buffer.
constexpr std::size_t copy_body_below = 4096;

// The responses produced from one read, ready for a single writev.
class response_batch {
 public:
  bool empty() const noexcept { return parts_.empty(); }
  // Bytes the batch would send.
  std::size_t bytes() const noexcept { return bytes_.size() + body_bytes_; }
  // True when some body is a file, sent by sendfile (the caller corks the socket around it).
  bool has_files() const noexcept { return has_files_; }

  // Adds r, with its head and (unless head_only) its body.
  void add(response&& r, bool keep_alive, int version_minor, bool head_only) {
    const std::size_t head_start = bytes_.size();
    append_head(bytes_, r, http_date(), keep_alive, version_minor);
    if (head_only || r.content_length() == 0) {
      parts_.push_back({head_start, bytes_.size() - head_start, npos});
    } else if (!r.file() && r.body().size() < copy_body_below) {
      bytes_ += r.body();
      parts_.push_back({head_start, bytes_.size() - head_start, npos});
    } else {
      parts_.push_back({head_start, bytes_.size() - head_start, npos});
      parts_.push_back({0, r.content_length(), bodies_.size()});
      body_bytes_ += r.content_length();
      has_files_ = has_files_ || static_cast<bool>(r.file());
      bodies_.push_back(std::move(r));
    }
  }

  // One step of sending: a run of vectors, or a file range.
  struct step {
    std::span<iovec> vectors;
    const file_body* file = nullptr;
  };

  // The batch as steps over its buffers and files (valid until the next add or clear).
  std::vector<step>& steps() {
    iov_.clear();
    steps_.clear();
    std::vector<std::pair<std::size_t, const file_body*>> marks;  // iov_ index where a file goes
    for (const part& p : parts_) {
      if (p.body == npos) {
        iov_.push_back({bytes_.data() + p.offset, p.length});
      } else if (const file_body& f = bodies_[p.body].file()) {
        marks.emplace_back(iov_.size(), &f);
      } else {
        iov_.push_back({bodies_[p.body].body().data(), p.length});
      }
    }
    std::size_t from = 0;
    for (auto [at, file] : marks) {
      if (at > from) steps_.push_back({merged(from, at), nullptr});
      steps_.push_back({{}, file});
      from = at;
    }
    if (iov_.size() > from) steps_.push_back({merged(from, iov_.size()), nullptr});
    return steps_;
  }

  void clear() noexcept {
    body_bytes_ = 0;
    has_files_ = false;
    bytes_.clear();
    parts_.clear();
    bodies_.clear();
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  struct part {
    std::size_t offset;  // into bytes_ (when body == npos)
    std::size_t length;
    std::size_t body;    // index into bodies_, or npos
  };

  // iov_[from, to), with neighbours that are adjacent in memory (consecutive heads and copied
  // bodies in bytes_) merged into one vector.
  std::span<iovec> merged(std::size_t from, std::size_t to) {
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

  std::string bytes_;
  std::size_t body_bytes_ = 0;
  bool has_files_ = false;
  std::vector<part> parts_;
  std::vector<response> bodies_;
  std::vector<iovec> iov_;
  std::vector<step> steps_;
};

// Runs a handler; a handler that throws gets the client a 500, not a dead connection.
task<response> call_handler(const handler* h, request& req) {
  try {
    co_return co_await (*h)(req);
  } catch (const fiber_unwound&) {
    throw;  // the connection's fiber is being destroyed with its loop: let it unwind
  } catch (const std::exception& e) {
    log(log_level::error, "handler for {} {} failed: {}", req.method(), req.path(), e.what());
  } catch (...) {
    log(log_level::error, "handler for {} {} failed with a non-standard exception", req.method(), req.path());
  }
  co_return response::text(500, "Internal Server Error\n");
}


// Closes like nginx's lingering close: stop sending, then read and drop what the client still
// sends (bounded in bytes and time), so the kernel does not answer it with a reset that could
// destroy the response still on its way.
task<void> linger_close(tcp_stream& s) {
  (void)s.shutdown(SHUT_WR);
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  while (drained < 256 * 1024) {
    auto n = co_await with_timeout(std::chrono::seconds(2), s.read(sink));
    if (!n || *n == 0) break;
    drained += *n;
  }
}

}  // namespace

namespace {

// The connection's one deadline: when it passes, the connection's scope is cancelled with
// timed_out, which ends whatever I/O the connection waits on, and the connection closes.
// Armed for each wait (idle, head, body, write) and disarmed when it ends, so a handler never
// runs under a connection deadline.
//
// Arming and disarming are lazy, because a busy keep-alive connection does both several times
// per request and the timer heap holds every connection (10,000 idle ones: each heap operation
// walks 14 levels). The entry in the heap may fire early: it only has to fire no later than
// the deadline wanted now. When it fires, it is dropped if the deadline was disarmed since,
// queued again if the deadline moved later, and cancels the scope only once the deadline
// really passed. So the heap is touched when a deadline moves earlier than the queued entry
// and when an entry fires, not per request.
class connection_deadline : private timer_entry {
 public:
  connection_deadline(event_loop& loop, cancel_scope& scope) noexcept : loop_(&loop), scope_(&scope) {
    fire = [](timer_entry* t) { static_cast<connection_deadline*>(t)->expire(); };
  }
  connection_deadline(const connection_deadline&) = delete;
  ~connection_deadline() { loop_->remove_timer(*this); }

  // Sets the deadline to `at`.
  void arm(clock::time_point at) {
    wanted_ = at;
    if (queued()) {
      if (deadline <= at) return;  // fires early, then queues itself for the rest
      loop_->remove_timer(*this);
    }
    deadline = at;
    loop_->add_timer(*this);
  }
  // Clears the deadline (the queued entry, if any, is dropped when it fires).
  void disarm() noexcept { wanted_ = clock::time_point::max(); }

 private:
  void expire() {
    if (wanted_ == clock::time_point::max()) return;
    if (wanted_ > loop_->now()) {
      deadline = wanted_;
      loop_->add_timer(*this);
      return;
    }
    scope_->cancel(std::make_error_code(std::errc::timed_out));
  }

  event_loop* loop_;
  cancel_scope* scope_;
  clock::time_point wanted_ = clock::time_point::max();  // max: disarmed
};

// Writes the whole batch; each write gets send_timeout to make progress. Files go by sendfile
// with TCP_CORK set around the batch, so heads and file data leave in full packets.
task<result<std::size_t>> send_batch(tcp_stream& stream, response_batch& batch, connection_deadline& deadline,
                                     cancel_scope& scope, clock::duration send_timeout) {
  event_loop& loop = *event_loop::current();
  const bool cork = batch.has_files();
  if (cork) (void)stream.set_cork(true);
  std::size_t done = 0;
  for (response_batch::step& step : batch.steps()) {
    if (const file_body* f = step.file) {
      off_t offset = f->offset();
      std::size_t left = f->length();
      while (left > 0) {
        deadline.arm(loop.now() + send_timeout);
        auto n = co_await in_scope(scope, stream.sendfile(f->fd(), offset, left));
        if (!n) co_return n.error();
        if (*n == 0) co_return std::make_error_code(std::errc::io_error);  // the file shrank
        offset += static_cast<off_t>(*n);
        left -= *n;
        done += *n;
      }
      continue;
    }
    std::span<iovec> iov = step.vectors;
    while (!iov.empty()) {
      deadline.arm(loop.now() + send_timeout);
      auto n = co_await in_scope(scope, stream.writev(iov));
      if (!n) co_return n.error();
      done += *n;
      iov = advance(iov, *n);
    }
  }
  if (cork) (void)stream.set_cork(false);
  deadline.disarm();
  co_return done;
}

// Sends a streamed body: each piece as a chunk (HTTP/1.1) or as it is (HTTP/1.0, where the
// close ends the body), every write under the send timeout.
class stream_writer final : public body_writer {
 public:
  stream_writer(tcp_stream& stream, connection_deadline& deadline, cancel_scope& scope, clock::duration send_timeout,
                bool chunked) noexcept
      : stream_(stream), deadline_(deadline), scope_(scope), send_timeout_(send_timeout), chunked_(chunked) {}

  task<result<void>> write(std::string_view data) override {
    if (error_) co_return error_;
    if (data.empty()) co_return result<void>{};
    char size_line[24];
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    static constexpr char crlf[] = "\r\n";
    iovec iov[3] = {{size_line, static_cast<std::size_t>(n)}, {const_cast<char*>(data.data()), data.size()}, {const_cast<char*>(crlf), 2}};
    std::span<iovec> pieces = chunked_ ? std::span<iovec>(iov, 3) : std::span<iovec>(iov + 1, 1);
    co_return co_await send(pieces);
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
    event_loop& loop = *event_loop::current();
    while (!iov.empty()) {
      deadline_.arm(loop.now() + send_timeout_);
      auto n = co_await in_scope(scope_, stream_.writev(iov));
      if (!n) {
        error_ = n.error();
        break;
      }
      iov = advance(iov, *n);
    }
    deadline_.disarm();
    co_return error_;
  }

  tcp_stream& stream_;
  connection_deadline& deadline_;
  cancel_scope& scope_;
  clock::duration send_timeout_;
  bool chunked_;
  std::error_code error_;  // the first write that failed ends every later one
};

// The body of a request on a stream_body route, read as the handler asks for it: no more than
// one receive's worth is held at a time. Bytes that arrive past the body's end (a pipelined
// next request) are kept for the connection.
class connection_body_reader final : public body_reader {
 public:
  connection_body_reader(tcp_stream& stream, connection_deadline& deadline, cancel_scope& scope, const server_options& opt,
                         const request_head& head, std::string already_received)
      : stream_(stream), deadline_(deadline), scope_(scope), opt_(opt), framing_(head.framing),
        remaining_(head.content_length), expect_continue_(head.expect_continue), raw_(std::move(already_received)) {
    done_ = framing_ == body_framing::none || (framing_ == body_framing::content_length && remaining_ == 0);
    if (done_) leftover_ = std::move(raw_);
  }

  task<result<std::string_view>> read() override {
    if (error_) co_return error_;
    if (done_) co_return std::string_view{};
    if (expect_continue_) {
      // The handler wants the body: only now does the client get the go-ahead.
      expect_continue_ = false;
      static constexpr std::string_view go_ahead = "HTTP/1.1 100 Continue\r\n\r\n";
      if (auto w = co_await in_scope(scope_, stream_.write_all(go_ahead)); !w) co_return fail(w.error());
    }
    for (;;) {
      if (framing_ == body_framing::content_length) {
        if (!raw_.empty()) {
          const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, raw_.size()));
          piece_.assign(raw_, 0, n);
          raw_.erase(0, n);
          remaining_ -= n;
          if (remaining_ == 0) finish();
          co_return std::string_view(piece_);
        }
      } else {
        piece_.clear();
        const parse_result d = chunks_.decode(raw_, piece_, opt_.max_body_bytes);
        raw_.erase(0, d.consumed);
        if (d.status == parse_status::error)
          co_return fail(d.error == parse_error::body_too_large ? std::errc::file_too_large : std::errc::bad_message);
        if (d.status == parse_status::done) finish();
        if (!piece_.empty() || done_) co_return std::string_view(piece_);
      }
      if (auto r = co_await receive_more(); !r) co_return fail(r.error());
    }
  }

  // Reads and drops what the handler left of the body; returns false when that failed, or
  // when the client still waits for "100 Continue" (it will not send the body: RFC 9110
  // 10.1.1 leaves closing the connection as the way out).
  task<bool> drain() {
    if (expect_continue_ && !done_) co_return false;
    while (!done_ && !error_) (void)co_await read();
    co_return !error_;
  }
  // Raw bytes received after the body's end.
  std::string take_leftover() { return std::move(leftover_); }

 private:
  task<result<void>> receive_more() {
    event_loop& loop = *event_loop::current();
    const clock::time_point now = loop.now();
    if (started_ == clock::time_point{}) started_ = now;
    // Slow POST: once body_timeout has passed, the body must keep a minimum average rate.
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
    if (now - started_ > opt_.body_timeout && received_ * 1000 / static_cast<std::size_t>(ms + 1) < opt_.min_body_bytes_per_second)
      co_return std::errc::timed_out;
    deadline_.arm(now + opt_.body_timeout);
    auto got = co_await in_scope(scope_, stream_.receive());
    deadline_.disarm();
    if (!got) co_return got.error();
    if (got->empty()) co_return std::errc::connection_aborted;  // the client left mid-body
    received_ += got->size();
    raw_.append(got->view());
    co_return result<void>{};
  }
  void finish() {
    done_ = true;
    leftover_ = std::move(raw_);
    raw_.clear();
  }
  std::error_code fail(std::error_code e) {
    error_ = e;
    return e;
  }
  std::error_code fail(std::errc e) { return fail(std::make_error_code(e)); }

  tcp_stream& stream_;
  connection_deadline& deadline_;
  cancel_scope& scope_;
  const server_options& opt_;
  body_framing framing_;
  std::uint64_t remaining_;  // content-length bytes still to come
  bool expect_continue_;
  bool done_ = false;
  std::error_code error_;
  std::string raw_;        // received, not yet handed out
  std::string piece_;      // what the last read() returned
  std::string leftover_;   // received past the body's end
  chunked_decoder chunks_;
  clock::time_point started_{};
  std::size_t received_ = 0;
};

// A last word before closing on a timeout: one nonblocking try, outside the cancelled scope.
task<void> send_final(tcp_stream& stream, int status, std::string_view why) {
  response r = response::text(status, std::string(why) + "\n");
  std::string out;
  append_head(out, r, http_date(), false, 1);
  out += r.body();
  (void)co_await with_timeout(std::chrono::seconds(1), stream.write(std::span<const char>(out.data(), out.size())));
}

}  // namespace

namespace {

// What a connection keeps for its whole life, idle or not: small, since 10,000 idle
// connections hold 10,000 of these and nothing else.
struct connection_core {
  tcp_stream& stream;
  loop_state& state;
  connection_entry& entry;
  connection_deadline& deadline;
  std::size_t served = 0;  // requests answered on this connection
};

// Serves the requests that start with `first` (the first bytes after an idle wait), and any
// that follow without a pause, until the connection is idle again (nothing unanswered, every
// response sent): returns true then, false when the connection must close. Everything a
// request needs (the pending input, the parsed head, the responses) lives in this frame, which
// ends when the burst does, so an idle connection does not hold it.
task<bool> serve_requests(connection_core& c, recv_buffer first) {
  tcp_stream& stream = c.stream;
  loop_state& state = c.state;
  connection_entry& entry = c.entry;
  connection_deadline& deadline = c.deadline;
  std::size_t& served = c.served;
  const server_options& opt = *state.options;
  event_loop& loop = *state.loop;
  const std::size_t buffer_cap = opt.limits.max_head_bytes + opt.max_body_bytes + 64 * 1024;
  // Bytes of input not consumed yet, carried to the next pass.
  std::string pending;
  request_head head;
  chunked_decoder chunks;
  std::string chunked_body;
  std::size_t chunked_consumed = 0;  // raw bytes of the current chunked body decoded so far
  bool in_chunked_body = false;
  response_batch batch;
  clock::time_point head_deadline{};      // when the head under way must be complete
  clock::time_point body_started{};       // when the body under way began to arrive
  std::size_t body_bytes_seen = 0;
  bool continue_sent = false;             // "100 Continue" went out for the request under way
  bool parse_before_receiving = false;    // pending holds complete requests not answered yet
  bool have_first = true;                 // `first` is still to be parsed

  for (;;) {
    recv_buffer chunk;
    std::string_view data;
    if (parse_before_receiving) {
      parse_before_receiving = false;
      data = pending;
    } else {
      if (have_first) {
        have_first = false;
        chunk = std::move(first);
      } else {
        if (pending.empty()) co_return true;  // idle again: the caller waits, in a small frame
        // What the next bytes are for decides how long they may take.
        deadline.arm(body_started == clock::time_point{} ? head_deadline : loop.now() + opt.body_timeout);
        auto got = co_await in_scope(entry.scope, stream.receive());
        deadline.disarm();  // handlers run without a deadline of the connection's
        if (!got) {
          // A request under way that stalls gets 408.
          if (got.error() == std::errc::timed_out) co_await send_final(stream, 408, "request timeout");
          co_return false;
        }
        if (got->empty()) co_return false;
        chunk = std::move(*got);
      }
      if (pending.empty()) head_deadline = loop.now() + opt.header_timeout;  // a request's first bytes

      // Parse straight from the lent buffer when nothing is pending (the common case: whole
      // requests per receive); otherwise append and parse the pending bytes.
      data = chunk.view();
      if (!pending.empty()) {
        if (pending.size() + chunk.size() > buffer_cap) {
          co_await send_final(stream, 413, "request too large");
          co_return false;
        }
        pending.append(chunk.view());
        chunk.release();
        data = pending;
      }
    }

    std::size_t start = 0;  // bytes of data consumed by complete requests
    std::size_t need = 0;   // bytes the request at `start` needs in all, when known
    bool close_after = false;
    bool refused = false;  // closing because the request was refused: the client may still be sending

    while (start < data.size() && !close_after) {
      if (batch.bytes() >= opt.max_unsent_bytes) {
        // Enough responses held: send them before answering more pipelined requests.
        parse_before_receiving = true;
        break;
      }
      const std::string_view avail = data.substr(start);
      const parse_result r = parse_request_head(avail, head, opt.limits);
      if (r.status == parse_status::incomplete) break;
      if (r.status == parse_status::error) {
        batch.add(response::text(status_for(r.error), fmt::format("{}\n", to_string(r.error))), false, 1, false);
        close_after = refused = true;
        break;
      }
      if (!head.expect_continue && head.header("expect")) {
        batch.add(response::text(417, "only 100-continue is expected\n"), false, head.version_minor, false);
        close_after = refused = true;
        break;
      }

      // The route, matched once: it decides whether the body streams, and it answers (or the
      // router's 404/405 does).
      request req(head, {});
      response fallback;
      route_options ro;
      const handler* h = state.routes->find(req, fallback, &ro);

      if (head.framing != body_framing::none) {
        // A route that streams its body runs now, reading the body as it arrives.
        if (h && ro.stream_body) {
          if (head.framing == body_framing::content_length && head.content_length > opt.max_body_bytes) {
            batch.add(response::text(413, "request body too large\n"), false, head.version_minor, false);
            close_after = refused = true;
            break;
          }
          connection_body_reader reader(stream, deadline, entry.scope, opt, head, std::string(avail.substr(r.consumed)));
          req.set_body_stream(&reader);
          response resp = co_await call_handler(h, req);
          const bool body_ok = co_await reader.drain();
          ++served;
          ++state.requests;
          const bool keep_alive = body_ok && head.keep_alive && !resp.closes_connection() && !state.draining &&
                                  (opt.max_requests_per_connection == 0 || served < opt.max_requests_per_connection);
          batch.add(std::move(resp), keep_alive, head.version_minor, head.method == "HEAD");
          // The reader took all the input after the head; what followed the body is the input now.
          pending = reader.take_leftover();
          chunk.release();
          data = pending;
          start = 0;
          close_after = !keep_alive;
          continue;
        }
      }

      std::string_view body;
      std::size_t total = r.consumed;
      bool body_complete = true;
      if (head.framing == body_framing::content_length) {
        if (head.content_length > opt.max_body_bytes) {
          batch.add(response::text(413, "request body too large\n"), false, head.version_minor, false);
          close_after = refused = true;
          break;
        }
        if (avail.size() - r.consumed < head.content_length) {
          need = r.consumed + head.content_length;
          body_complete = false;
          body_bytes_seen = avail.size() - r.consumed;
        } else {
          body = avail.substr(r.consumed, head.content_length);
          total += head.content_length;
        }
      } else if (head.framing == body_framing::chunked) {
        if (!in_chunked_body) {
          chunks.reset();
          chunked_body.clear();
          chunked_consumed = 0;
          in_chunked_body = true;
        }
        const parse_result d = chunks.decode(avail.substr(r.consumed + chunked_consumed), chunked_body, opt.max_body_bytes);
        chunked_consumed += d.consumed;
        body_bytes_seen = chunked_consumed;
        if (d.status == parse_status::incomplete) {
          body_complete = false;
        } else {
          in_chunked_body = false;
          if (d.status == parse_status::error) {
            batch.add(response::text(status_for(d.error), fmt::format("{}\n", to_string(d.error))), false, head.version_minor, false);
            close_after = refused = true;
            break;
          }
          body = chunked_body;
          total += chunked_consumed;
        }
      }
      if (!body_complete) {
        const clock::time_point now = loop.now();
        if (body_started == clock::time_point{}) body_started = now;
        // Slow POST: once body_timeout has passed, the body must keep a minimum average rate.
        const auto elapsed = now - body_started;
        if (elapsed > opt.body_timeout &&
            body_bytes_seen * 1000 / static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() + 1) <
                opt.min_body_bytes_per_second) {
          batch.add(response::text(408, "request body too slow\n"), false, head.version_minor, false);
          close_after = refused = true;
          break;
        }
        // The client waits for a go-ahead before sending the body: give it, once.
        if (head.expect_continue && !continue_sent) {
          continue_sent = true;
          static constexpr std::string_view go_ahead = "HTTP/1.1 100 Continue\r\n\r\n";
          if (!co_await in_scope(entry.scope, stream.write_all(go_ahead))) co_return false;
        }
        break;
      }
      body_started = {};
      continue_sent = false;

      req.set_body(body);
      // Not `h ? co_await ... : ...`: GCC 12 destroys temporaries of a co_await inside a
      // conditional expression twice.
      response resp = std::move(fallback);
      if (h) resp = co_await call_handler(h, req);
      ++served;
      const bool streamed = static_cast<bool>(resp.stream());
      const bool head_only = head.method == "HEAD";
      // An HTTP/1.0 stream ends where the connection does.
      const bool keep_alive = head.keep_alive && !resp.closes_connection() && !state.draining &&
                              !(streamed && head.version_minor == 0 && !head_only) &&
                              (opt.max_requests_per_connection == 0 || served < opt.max_requests_per_connection);
      ++state.requests;
      start += total;
      close_after = !keep_alive;
      if (!streamed) {
        batch.add(std::move(resp), keep_alive, head.version_minor, head_only);
        continue;
      }
      // A stream goes out in order: what is batched before it first, then its head, then
      // the body as the producer writes it.
      body_producer producer = resp.stream();
      batch.add(std::move(resp), keep_alive, head.version_minor, /*head_only=*/true);
      if (!co_await send_batch(stream, batch, deadline, entry.scope, opt.send_timeout)) co_return false;
      batch.clear();
      if (head_only) continue;
      stream_writer writer(stream, deadline, entry.scope, opt.send_timeout, head.version_minor >= 1);
      try {
        co_await producer(writer);
      } catch (const std::exception& e) {
        // The head is gone already: all that is left is to end the connection early, which
        // tells the client the body is incomplete.
        log(log_level::error, "stream for {} {} failed: {}", req.method(), req.path(), e.what());
        co_return false;
      }
      if (!co_await writer.finish()) co_return false;
    }

    // The responses own everything they send: keep the unconsumed rest of the input and give
    // the lent buffer back before writing, so a slow reader pins no receive buffer.
    const bool unread = start < data.size();
    if (!close_after) {
      if (data.data() == pending.data()) {
        pending.erase(0, start);
      } else {
        pending.assign(data.substr(start));
      }
      if (need > pending.capacity()) pending.reserve(std::min(need, buffer_cap));
    }
    chunk.release();

    if (!batch.empty()) {
      auto written = co_await send_batch(stream, batch, deadline, entry.scope, opt.send_timeout);
      batch.clear();
      if (!written) co_return false;
    }
    if (close_after) {
      deadline.disarm();
      // Unread bytes, or a refused request, mean the client may still be sending: closing at
      // once would answer it with a reset that can destroy the response on its way.
      if (refused || unread) co_await linger_close(stream);
      co_return false;
    }
  }
}

}  // namespace

task<void> serve_connection(tcp_stream stream, loop_state& state) {
  connection_entry entry;
  state.link(entry);
  struct unlink_on_exit {
    loop_state& state;
    connection_entry& entry;
    ~unlink_on_exit() { state.unlink(entry); }
  } unlink{state, entry};
  connection_deadline deadline(*state.loop, entry.scope);
  connection_core core{stream, state, entry, deadline};
  const server_options& opt = *state.options;

  // Idle: wait for the first bytes of a request, then serve until idle again.
  for (;;) {
    if (state.draining) co_return;
    entry.idle = true;
    deadline.arm(state.loop->now() + (core.served == 0 ? opt.header_timeout : opt.keepalive_timeout));
    auto got = co_await in_scope(entry.scope, stream.receive());
    deadline.disarm();
    entry.idle = false;
    if (!got || got->empty()) co_return;  // timed out, drained, or the client left: just close
    if (!co_await serve_requests(core, std::move(*got))) co_return;
  }
}


}  // namespace c10k::http
