// The epoll reactor: level-triggered readiness, one loop per thread.
//
// Per connection: EPOLLIN while it can take requests, EPOLLOUT instead while an answer waits for
// room in the socket (a connection that is not read from cannot pile up responses). Reads go
// into one 64 KiB buffer per loop and are parsed in place; only the unparsed tail of a read (the
// start of a request) is copied into the connection, so an idle connection holds no buffer.
// Each read batch is answered with one writev; a file follows its head by sendfile.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "idle_list.hpp"
#include "reactor.hpp"
#include "send_file.hpp"

namespace c10k::baseline {
namespace {

constexpr std::size_t read_size = 64 * 1024;       // one read, into the loop's buffer
constexpr std::size_t max_unsent = 1 << 20;        // answers held before sending (as c10k-server)
constexpr std::size_t keep_pending_capacity = 16 * 1024;  // a larger leftover buffer is freed once empty
constexpr int max_events = 512;

// One log line per process for running out of descriptors (or memory), not one per accept.
std::atomic<bool> accept_error_logged{false};

// One connection's state machine.
struct connection {
  int fd = -1;
  std::string pending;        // received, not answered: the start of a request, or requests after a file
  std::string out;            // the answers of the current batch
  std::size_t out_sent = 0;
  http::response file;        // a file answer (owning the open file), sent after `out`
  std::size_t file_sent = 0;
  http_state http;
  bool close_after = false;   // close once everything is sent
  bool resume = false;        // `pending` may hold requests not parsed yet (parsing stopped at a file)
  bool want_write = false;    // registered for EPOLLOUT instead of EPOLLIN
  connection* idle_prev_ = nullptr;
  connection* idle_next_ = nullptr;
  std::int64_t idle_since_ = 0;
};

class epoll_reactor final : public reactor {
 public:
  explicit epoll_reactor(const loop_setup& setup)
      : setup_(setup), site_(*setup.serves), counters_(*setup.counters), read_buffer_(new char[read_size]) {}

  ~epoll_reactor() override {
    if (epfd_ >= 0) ::close(epfd_);
  }

  int init() override {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return -errno;
    if (!control(EPOLL_CTL_ADD, setup_.listen_fd, EPOLLIN, &listener_tag_) ||
        !control(EPOLL_CTL_ADD, setup_.wake_fd, EPOLLIN, &wake_tag_))
      return -errno;
    return 0;
  }

  const char* describe() const noexcept override { return "epoll (level-triggered)"; }

  void run() override {
    epoll_event events[max_events];
    now_ = last_tick_ = coarse_seconds();
    while (running_) {
      // The idle timeout needs a look once a second; with none, sleep until something happens.
      const int timeout = setup_.idle_timeout_s > 0 || accept_paused_ ? 1000 : -1;
      const int n = ::epoll_wait(epfd_, events, max_events, timeout);
      count_syscalls(1);
      if (n < 0) {
        if (errno == EINTR) continue;
        fmt::print(stderr, "c10k-reactor: epoll_wait: {}\n", std::strerror(errno));
        break;
      }
      now_ = coarse_seconds();
      for (int i = 0; i < n; ++i) {
        void* p = events[i].data.ptr;
        if (p == &listener_tag_) {
          on_acceptable();
        } else if (p == &wake_tag_) {
          running_ = false;
        } else {
          // Only the connection's own callback closes it, and an fd appears once per batch, so
          // no later event in this batch can name a connection freed here.
          auto* c = static_cast<connection*>(p);
          connections_.touch(c, now_);
          if (c->want_write) flush(*c);
          else on_readable(*c);
        }
      }
      if (now_ != last_tick_) tick();
    }
    while (connection* c = connections_.front()) close_connection(*c);
  }

 private:
  void count_syscalls(std::int64_t n) noexcept { counters_.syscalls.add(n); }

  bool control(int op, int fd, std::uint32_t events, void* data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = data;
    count_syscalls(1);
    return ::epoll_ctl(epfd_, op, fd, &ev) == 0;
  }

  // Accepts until the queue is empty.
  void on_acceptable() {
    for (;;) {
      const int fd = ::accept4(setup_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      count_syscalls(1);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_accepting(errno);
        return;
      }
      // As c10k-server does: small answers leave at once instead of waiting for an ACK.
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      count_syscalls(1);
      auto* c = new connection;
      c->fd = fd;
      if (!control(EPOLL_CTL_ADD, fd, EPOLLIN, c)) {
        ::close(fd);
        count_syscalls(1);
        delete c;
        continue;
      }
      connections_.push_back(c, now_);
      counters_.connections.add(1);
    }
  }

  // Out of descriptors: the listener stays readable, so level-triggered epoll would report it
  // in every turn. Take it out of the set and try again at the next tick.
  void pause_accepting(int err) {
    if (!accept_error_logged.exchange(true))
      fmt::print(stderr, "c10k-reactor: accept: {}; pausing accepts for a second (logged once)\n", std::strerror(err));
    if (control(EPOLL_CTL_DEL, setup_.listen_fd, 0, nullptr)) accept_paused_ = true;
  }

  // Reads until a short read (nothing more queued), answering each read, then sends.
  void on_readable(connection& c) {
    for (;;) {
      const ssize_t n = ::read(c.fd, read_buffer_.get(), read_size);
      count_syscalls(1);
      if (n > 0) {
        take(c, std::string_view(read_buffer_.get(), static_cast<std::size_t>(n)));
        // Answers that must go first (a file, a close, a large backlog) stop the reading.
        if (c.close_after || c.file.file() || c.out.size() >= max_unsent) break;
        if (static_cast<std::size_t>(n) < read_size) break;
        continue;
      }
      if (n == 0) return close_connection(c);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return close_connection(c);
    }
    flush(c);
  }

  // Parses `data` (after what is pending) and appends the answers to c.out.
  void take(connection& c, std::string_view data) {
    std::string_view in = data;
    if (!c.pending.empty()) {
      c.pending.append(data);
      in = c.pending;
    }
    const batch_outcome o = answer_batch(in, c.out, c.http, site_, c.file, scratch_);
    counters_.requests.add(o.requests);
    if (o.syscalls) count_syscalls(o.syscalls);
    if (o.close) {
      c.close_after = true;
      c.pending.clear();
      return;
    }
    if (in.data() == c.pending.data()) {
      c.pending.erase(0, o.consumed);
      if (c.pending.empty() && c.pending.capacity() > keep_pending_capacity) std::string().swap(c.pending);
    } else {
      c.pending.assign(in.substr(o.consumed));
    }
    c.resume = o.file_queued && !c.pending.empty();
  }

  // Sends what is queued: the answers, then a file; then closes, answers requests that waited
  // behind a file, or goes back to reading. Waits for EPOLLOUT when the socket is full.
  void flush(connection& c) {
    for (;;) {
      if (c.out_sent < c.out.size()) {
        iovec v{c.out.data() + c.out_sent, c.out.size() - c.out_sent};
        ssize_t n;
        if (c.file.file()) {
          // MSG_MORE: the head waits for the file's first bytes, so both leave in full packets
          // (what TCP_CORK would do, without two more system calls).
          msghdr m{};
          m.msg_iov = &v;
          m.msg_iovlen = 1;
          n = ::sendmsg(c.fd, &m, MSG_MORE | MSG_NOSIGNAL);
        } else {
          n = ::writev(c.fd, &v, 1);
        }
        count_syscalls(1);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_writable(c);
          return close_connection(c);
        }
        c.out_sent += static_cast<std::size_t>(n);
        if (c.out_sent < c.out.size()) return wait_writable(c);  // a short write: the socket is full
        c.out.clear();
        c.out_sent = 0;
      }
      if (const http::file_body& f = c.file.file()) {
        std::int64_t calls = 0;
        const send_file_status sent = send_file_some(c.fd, f, c.file_sent, calls);
        count_syscalls(calls);
        if (sent == send_file_status::socket_full) return wait_writable(c);
        if (sent == send_file_status::failed) return close_connection(c);  // an error, or the file shrank under us
        c.file = http::response();  // closes the file
        count_syscalls(1);
        c.file_sent = 0;
      }
      if (c.close_after) return close_connection(c);
      if (!c.resume) break;
      c.resume = false;
      take(c, {});
      if (c.out.empty()) break;
    }
    if (c.want_write) {
      c.want_write = false;
      if (!control(EPOLL_CTL_MOD, c.fd, EPOLLIN, &c)) close_connection(c);
    }
  }

  void wait_writable(connection& c) {
    if (c.want_write) return;
    c.want_write = true;
    if (!control(EPOLL_CTL_MOD, c.fd, EPOLLOUT, &c)) close_connection(c);
  }

  // Closing the fd also takes it out of the epoll set.
  void close_connection(connection& c) {
    connections_.remove(&c);
    ::close(c.fd);
    count_syscalls(1);
    counters_.connections.add(-1);
    delete &c;
  }

  // Once a second: close connections silent for the idle timeout; resume paused accepts.
  void tick() {
    last_tick_ = now_;
    if (accept_paused_ && control(EPOLL_CTL_ADD, setup_.listen_fd, EPOLLIN, &listener_tag_)) accept_paused_ = false;
    if (setup_.idle_timeout_s == 0) return;
    while (connection* c = connections_.front()) {
      if (now_ - c->idle_since_ < static_cast<std::int64_t>(setup_.idle_timeout_s)) break;
      close_connection(*c);
    }
  }

  loop_setup setup_;
  const site& site_;
  loop_counters& counters_;
  std::unique_ptr<char[]> read_buffer_;  // every read lands here, and is parsed in place
  int epfd_ = -1;
  bool running_ = true;
  bool accept_paused_ = false;
  std::int64_t now_ = 0;
  std::int64_t last_tick_ = 0;
  idle_list<connection> connections_;
  batch_scratch scratch_;
  char listener_tag_ = 0;  // their addresses tell the listener's and the wake fd's events apart
  char wake_tag_ = 0;
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor(const loop_setup& setup) { return std::make_unique<epoll_reactor>(setup); }

}  // namespace c10k::baseline
