// The io_uring reactor: completions, one ring per thread.
//
// Each connection has exactly one request in the ring at a time (a recv, a send, or a poll),
// so the state machine is a straight line: recv -> answer the batch -> writev (sendmsg with
// MSG_MORE when a file follows) -> sendfile -> recv again; a connection is only freed when its
// request has completed, and that completion's callback is the one that frees it. Each loop
// turn is one io_uring_submit_and_wait: everything queued goes in, and it sleeps for at least
// one completion. The listener has one multishot accept (a re-armed accept where the kernel
// has none); each connection receives into a buffer of its own.
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

constexpr unsigned sq_entries = 4096;
constexpr unsigned cq_entries = 32768;  // 10,000 connections' completions fit without overflow
constexpr std::uint32_t initial_buffer = 4096;       // enough for a burst of pipelined requests
constexpr std::uint32_t max_buffer = 128 * 1024;     // past the parser's 64 KiB head limit
constexpr std::size_t keep_out_capacity = 64 * 1024; // a larger answer buffer is freed once sent

// A request's user_data: the connection's address with the kind of request in its low bits
// (a connection is 8-byte aligned), or one of the values below with no connection.
enum request_kind : std::uintptr_t { recv_request = 0, send_request = 1, poll_request = 2 };
constexpr std::uintptr_t kind_mask = 3;
constexpr std::uint64_t no_completion = 0;  // closes, whose results nobody needs
constexpr std::uint64_t accept_request = 1;
constexpr std::uint64_t wake_request = 2;

std::atomic<bool> accept_error_logged{false};

// One connection's state machine.
struct connection {
  int fd = -1;
  std::unique_ptr<char[]> in;  // the recv buffer: unanswered bytes at its start
  std::uint32_t in_len = 0;
  std::uint32_t in_cap = 0;
  std::string out;             // the answers of the current batch
  std::size_t out_sent = 0;
  http::response file;         // a file answer (owning the open file), sent after `out`
  std::size_t file_sent = 0;
  http_state http;
  iovec iov{};                 // what the send in flight points at; must live until it completes
  msghdr msg{};
  bool close_after = false;    // close once everything is sent
  bool timed_out = false;      // shut down for idleness; the completion of its request ends it
  connection* idle_prev_ = nullptr;
  connection* idle_next_ = nullptr;
  std::int64_t idle_since_ = 0;
};

class uring_reactor final : public reactor {
 public:
  explicit uring_reactor(const loop_setup& setup) : setup_(setup), site_(*setup.serves), counters_(*setup.counters) {}

  ~uring_reactor() override {
    if (ring_ready_) io_uring_queue_exit(&ring_);
  }

  int init() override {
    // SINGLE_ISSUER + DEFER_TASKRUN: completions are produced only when this thread enters the
    // ring, in a batch, instead of by interrupting it. Older kernels refuse them: plain ring.
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = cq_entries;
    int r = io_uring_queue_init_params(sq_entries, &ring_, &p);
    if (r < 0) {
      p = {};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = cq_entries;
      r = io_uring_queue_init_params(sq_entries, &ring_, &p);
      if (r < 0) return r;
      describe_ = "io_uring";
    }
    ring_ready_ = true;
    (void)io_uring_register_ring_fd(&ring_);  // saves an fd lookup per enter, as c10k's backend does
    arm_accept();
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, setup_.wake_fd, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, wake_request);
    return 0;
  }

  const char* describe() const noexcept override { return describe_; }

  void run() override {
    now_ = last_tick_ = coarse_seconds();
    while (running_) {
      int r;
      if (setup_.idle_timeout_s > 0 || accept_paused_) {
        // The idle timeout needs a look once a second.
        __kernel_timespec ts{1, 0};
        io_uring_cqe* first = nullptr;
        r = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
      } else {
        r = io_uring_submit_and_wait(&ring_, 1);
      }
      count_syscalls(1);
      if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        fmt::print(stderr, "c10k-reactor: io_uring_enter: {}\n", std::strerror(-r));
        break;
      }
      now_ = coarse_seconds();
      unsigned head = 0, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        complete(cqe->user_data, cqe->res, cqe->flags);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
      if (now_ != last_tick_) tick();
    }
    // Tearing the ring down ends every request in flight; only then may their buffers go.
    io_uring_queue_exit(&ring_);
    ring_ready_ = false;
    while (connection* c = connections_.front()) {
      connections_.remove(c);
      ::close(c->fd);
      counters_.connections.add(-1);
      delete c;
    }
  }

 private:
  void count_syscalls(std::int64_t n) noexcept { counters_.syscalls.add(n); }

  // Returns a free SQE, submitting what is queued when the ring is full.
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {
      io_uring_submit(&ring_);
      count_syscalls(1);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  static std::uint64_t tag(connection& c, request_kind kind) noexcept {
    return reinterpret_cast<std::uintptr_t>(&c) | kind;
  }

  void complete(std::uint64_t data, int res, unsigned flags) {
    if (data == no_completion) return;
    if (data == accept_request) return on_accept(res, flags);
    if (data == wake_request) {
      running_ = false;
      return;
    }
    auto& c = *reinterpret_cast<connection*>(data & ~kind_mask);
    connections_.touch(&c, now_);
    switch (static_cast<request_kind>(data & kind_mask)) {
      case recv_request: return on_received(c, res);
      case send_request: return on_sent(c, res);
      case poll_request: return on_writable(c, res);
    }
  }

  void arm_accept() {
    io_uring_sqe* sqe = get_sqe();
    if (multishot_) io_uring_prep_multishot_accept(sqe, setup_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else io_uring_prep_accept(sqe, setup_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, accept_request);
  }

  void on_accept(int res, unsigned flags) {
    if (res >= 0) {
      open_connection(res);
    } else if (res == -EINVAL && multishot_) {
      multishot_ = false;  // a kernel without multishot accept: one accept at a time
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
      // Out of descriptors: try again at the next tick rather than spin on the error.
      if (!accept_error_logged.exchange(true))
        fmt::print(stderr, "c10k-reactor: accept: {}; pausing accepts for a second (logged once)\n", std::strerror(-res));
      accept_paused_ = true;
    }
    if (!(flags & IORING_CQE_F_MORE) && !accept_paused_) arm_accept();
  }

  void open_connection(int fd) {
    // As c10k-server does: small answers leave at once instead of waiting for an ACK.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    count_syscalls(1);
    auto* c = new connection;
    c->fd = fd;
    c->in.reset(new char[initial_buffer]);
    c->in_cap = initial_buffer;
    connections_.push_back(c, now_);
    counters_.connections.add(1);
    receive(*c);
  }

  void receive(connection& c) {
    if (c.in_len == c.in_cap) {
      // Full of an unfinished request: grow (the parser refuses a head past 64 KiB).
      if (c.in_cap >= max_buffer) return close_connection(c);
      const std::uint32_t cap = c.in_cap * 2;
      std::unique_ptr<char[]> bigger(new char[cap]);
      std::memcpy(bigger.get(), c.in.get(), c.in_len);
      c.in = std::move(bigger);
      c.in_cap = cap;
    }
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recv(sqe, c.fd, c.in.get() + c.in_len, c.in_cap - c.in_len, 0);
    io_uring_sqe_set_data64(sqe, tag(c, recv_request));
  }

  void on_received(connection& c, int res) {
    if (res > 0) {
      c.in_len += static_cast<std::uint32_t>(res);
      return answer(c);
    }
    if (res == -EINTR || res == -EAGAIN) return receive(c);
    close_connection(c);  // the client closed (0), or an error
  }

  // Answers the complete requests in the buffer, then sends, or receives more.
  void answer(connection& c) {
    const batch_outcome o = answer_batch(std::string_view(c.in.get(), c.in_len), c.out, c.http, site_, c.file, scratch_);
    counters_.requests.add(o.requests);
    if (o.syscalls) count_syscalls(o.syscalls);
    c.close_after = o.close;
    c.in_len -= static_cast<std::uint32_t>(o.consumed);
    if (c.in_len > 0 && o.consumed > 0) std::memmove(c.in.get(), c.in.get() + o.consumed, c.in_len);
    if (c.out.empty()) return receive(c);  // nothing complete yet
    send(c);
  }

  void send(connection& c) {
    c.iov = {c.out.data() + c.out_sent, c.out.size() - c.out_sent};
    io_uring_sqe* sqe = get_sqe();
    if (c.file.file()) {
      // MSG_MORE: the head waits for the file's first bytes, so both leave in full packets.
      c.msg = {};
      c.msg.msg_iov = &c.iov;
      c.msg.msg_iovlen = 1;
      io_uring_prep_sendmsg(sqe, c.fd, &c.msg, MSG_MORE | MSG_NOSIGNAL);
    } else {
      io_uring_prep_writev(sqe, c.fd, &c.iov, 1, 0);
    }
    io_uring_sqe_set_data64(sqe, tag(c, send_request));
  }

  void on_sent(connection& c, int res) {
    if (res < 0) {
      if (res == -EINTR) return send(c);
      if (res == -EAGAIN) return wait_writable(c);
      return close_connection(c);
    }
    c.out_sent += static_cast<std::size_t>(res);
    if (c.out_sent < c.out.size()) return send(c);
    c.out_sent = 0;
    if (c.out.capacity() > keep_out_capacity) std::string().swap(c.out);
    else c.out.clear();
    if (c.file.file()) return send_file(c);
    finish(c);
  }

  // sendfile has no opcode: call it directly, and wait for POLLOUT through the ring when the
  // socket is full.
  void send_file(connection& c) {
    std::int64_t calls = 0;
    const send_file_status sent = send_file_some(c.fd, c.file.file(), c.file_sent, calls);
    count_syscalls(calls);
    if (sent == send_file_status::socket_full) return wait_writable(c);
    if (sent == send_file_status::failed) return close_connection(c);  // an error, or the file shrank under us
    c.file = http::response();  // closes the file
    count_syscalls(1);
    c.file_sent = 0;
    finish(c);
  }

  void wait_writable(connection& c) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, c.fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, tag(c, poll_request));
  }

  void on_writable(connection& c, int res) {
    if (res < 0 || (res & (POLLERR | POLLHUP))) return close_connection(c);
    if (c.out_sent < c.out.size()) return send(c);
    send_file(c);
  }

  // Everything of the batch is sent: close, answer requests that waited behind a file, or
  // receive.
  void finish(connection& c) {
    if (c.close_after) return close_connection(c);
    if (c.in_len > 0) return answer(c);
    receive(c);
  }

  // The connection has nothing in flight (its last completion is the caller), so it can go
  // now; the close itself goes through the ring, without a completion unless it fails.
  void close_connection(connection& c) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_close(sqe, c.fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, no_completion);
    connections_.remove(&c);
    counters_.connections.add(-1);
    delete &c;
  }

  // Once a second: end connections silent for the idle timeout; resume paused accepts.
  void tick() {
    last_tick_ = now_;
    if (accept_paused_) {
      accept_paused_ = false;
      arm_accept();
    }
    if (setup_.idle_timeout_s == 0) return;
    while (connection* c = connections_.front()) {
      if (now_ - c->idle_since_ < static_cast<std::int64_t>(setup_.idle_timeout_s)) break;
      // Its recv is in flight: shutting the socket down completes it (with 0), and that
      // completion closes the connection as when a client leaves. Until then it moves to the
      // back, so this walk ends.
      if (!c->timed_out) {
        ::shutdown(c->fd, SHUT_RDWR);
        count_syscalls(1);
        c->timed_out = true;
      }
      connections_.touch(c, now_);
    }
  }

  loop_setup setup_;
  const site& site_;
  loop_counters& counters_;
  io_uring ring_{};
  bool ring_ready_ = false;
  const char* describe_ = "io_uring (single issuer, deferred task run)";
  bool multishot_ = true;
  bool running_ = true;
  bool accept_paused_ = false;
  std::uint64_t wake_value_ = 0;
  std::int64_t now_ = 0;
  std::int64_t last_tick_ = 0;
  idle_list<connection> connections_;
  batch_scratch scratch_;
};

}  // namespace

std::unique_ptr<reactor> make_uring_reactor(const loop_setup& setup) { return std::make_unique<uring_reactor>(setup); }

}  // namespace c10k::baseline
