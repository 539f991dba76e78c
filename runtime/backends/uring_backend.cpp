// io_uring: the completion backend.
//
// Every operation becomes a submission entry (SQE) whose user_data leads to a request record
// owned by this backend, and from there to the operation. Nothing enters the kernel when an
// operation starts: a loop turn submits all its entries and waits for completions in one
// io_uring_submit_and_wait_timeout. Listeners accept through one multishot accept each.
//
// The request record, not the operation, is what the kernel refers to. When the coroutine that
// owns an operation is destroyed mid-flight (abandon), the record is detached from it and the
// kernel's request cancelled; its completion then finds no operation and only frees the record
// (closing an fd that an accept delivered meanwhile). Because an abandoned read or write may
// still point into the dying frame, abandon() waits for that one completion before returning.
#include "uring_backend.hpp"

#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <tuple>
#include <unordered_map>

#include "c10k/log.hpp"
#include "wake_fd.hpp"

namespace c10k {
namespace {

using namespace std::chrono_literals;

constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 16384;
constexpr unsigned default_ring_buffers = 512;  // per loop; C10K_IO_URING_BUFFERS overrides
constexpr int buffer_group = 0;
// Connections a multishot accept may queue in the backend while nobody accepts (see
// on_accept); accept loops take them at once, so only a stalled one meets this.
constexpr std::size_t accept_backlog_limit = 1024;

enum class req_kind : std::uint8_t {
  op,         // an operation's own system call
  poll_retry, // readiness for an operation done by system call (sendfile; receive without a
              // buffer ring): retry it when the poll completes
  accept,     // a listener's multishot accept
  wake,       // the eventfd read that post() and stop() complete
  file_read,  // read+send file path: the read into scratch; the send follows
  file_send,  // read+send file path: the send from scratch
  splice_in,  // splice file path: file into the pipe; splice_out follows
  splice_out, // splice file path: pipe into the socket, until the pipe is empty
  internal,   // cancel requests: nothing to do on completion
  close,      // an asynchronous close: counted until it completes
};

struct listener_state;

struct request {
  req_kind kind = req_kind::op;
  operation* op = nullptr;          // nullptr once abandoned
  listener_state* listener = nullptr;
  int fd = -1;
  // File paths other than sendfile: a scratch buffer (read+send), or a pipe (splice) with
  // the bytes in it and the bytes sent so far.
  std::unique_ptr<char[]> scratch;
  int pipe_r = -1, pipe_w = -1;
  std::size_t in_pipe = 0, sent = 0;
  // cancel() asked for this request to end: a completion that would otherwise re-arm the
  // operation (a poll that fired, a starved receive, a file step) completes it instead, since
  // the cancel may have reached the kernel after that completion was posted and found nothing.
  bool cancelled = false;
  // A starved receive submitted again because a buffer came back (counted in resubmitting_).
  bool resubmit = false;
};

// How a file body reaches the socket on io_uring (C10K_IO_URING_FILE_PATH): the sendfile
// system call with POLLOUT through the ring, a splice pair through a pipe, or a read into a
// scratch buffer and a send, both through the ring.
enum class file_path { sendfile, splice, readsend };
constexpr std::size_t file_step_bytes = 64 * 1024;

struct listener_state {
  int fd = -1;
  operation* waiting = nullptr;     // the accept operation waiting for a connection
  std::deque<int> backlog;          // connections the multishot accepted that nobody took yet
  request* multishot = nullptr;     // the armed multishot accept, or nullptr
  bool pausing = false;             // the backlog is full: the multishot is being cancelled
  bool closed = false;              // detached: free this once the multishot ends
};

class uring_backend final : public backend {
 public:
  uring_backend(ready_queue& ready) : backend(ready) {}

  ~uring_backend() override {
    if (!initialised_) return;
    // Closes still queued or in flight must happen, or their fds would outlive the ring.
    for (int turns = 0; pending_closes_ > 0 && turns < 1000; ++turns) {
      io_uring_submit_and_wait(&ring_, 1);
      reap();
    }
    for (auto& [fd, l] : listeners_) {
      for (int c : l->backlog) ::close(c);
      delete l;
    }
    for (auto& [fd, l] : closed_listeners_) {
      for (int c : l->backlog) ::close(c);
      delete l;
    }
    io_uring_queue_exit(&ring_);
    for (auto [r, w] : pipes_) {
      ::close(r);
      ::close(w);
    }
    for (request* r : all_requests_) {
      if (r->pipe_r >= 0) ::close(r->pipe_r);
      if (r->pipe_w >= 0) ::close(r->pipe_w);
    }
    if (buffers_) ::munmap(buffers_, std::size_t(ring_buffers_) * receive_buffer_bytes);
    if (buf_ring_) ::munmap(buf_ring_, buf_ring_bytes());
    // Requests the kernel never completed are freed with the ring; their records go here.
    for (request* r : all_requests_) delete r;
  }

  // Sets up the ring, preferring the single-issuer, deferred-task-work mode; returns the error.
  std::error_code init(const std::string& forced_error) {
    if (!forced_error.empty()) return errno_code(errno_from_name(forced_error));
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = cq_entries;
    int r = io_uring_queue_init_params(sq_entries, &ring_, &p);
    if (r == -EINVAL) {  // kernels before 6.1 refuse these flags: plain setup
      p = {};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = cq_entries;
      r = io_uring_queue_init_params(sq_entries, &ring_, &p);
    }
    if (r < 0) return errno_code(-r);
    const char* off = std::getenv("C10K_IO_URING_DISABLE");
    const std::string disabled = off ? off : "";
    if (std::error_code missing = probe(p.features, disabled)) {
      io_uring_queue_exit(&ring_);
      return missing;
    }
    (void)io_uring_register_ring_fd(&ring_);  // saves an fd lookup per enter where supported
    auto wake = wake_fd::make();
    if (!wake) {
      io_uring_queue_exit(&ring_);
      return wake.error();
    }
    wake_ = std::move(*wake);
    arm_wake();
    if (!listed(disabled, "provided_buffers")) setup_buffer_ring();
    if (const char* fp = std::getenv("C10K_IO_URING_FILE_PATH")) {
      const std::string_view v(fp);
      file_path_ = v == "splice" ? file_path::splice : v == "readsend" ? file_path::readsend : file_path::sendfile;
    }
    initialised_ = true;
    return {};
  }

  std::string_view name() const noexcept override { return "io_uring"; }

  // Whether `feature` is in the comma-separated list `disabled`.
  static bool listed(std::string_view disabled, std::string_view feature) {
    while (!disabled.empty()) {
      const auto comma = disabled.find(',');
      if (disabled.substr(0, comma) == feature) return true;
      if (comma == std::string_view::npos) break;
      disabled.remove_prefix(comma + 1);
    }
    return false;
  }

  // Checks what this backend relies on beyond ring setup; returns the first feature missing
  // (or listed in `disabled`, for tests).
  std::error_code probe(unsigned features, std::string_view disabled) {
    if (!(features & IORING_FEAT_EXT_ARG) || listed(disabled, "ext_arg")) return uring_missing::ext_arg;
    if (!(features & IORING_FEAT_NODROP) || listed(disabled, "nodrop")) return uring_missing::nodrop;
    if (!opcodes_supported() || listed(disabled, "opcodes")) return uring_missing::opcodes;
    bool multishot = false, cancel_fd = false;
    probe_accept(multishot, cancel_fd);
    if (!multishot || listed(disabled, "multishot_accept")) return uring_missing::multishot_accept;
    if (!cancel_fd || listed(disabled, "cancel_fd")) return uring_missing::cancel_fd;
    return {};
  }

  bool opcodes_supported() {
    io_uring_probe* pr = io_uring_get_probe_ring(&ring_);
    if (!pr) return false;
    bool ok = true;
    for (int op : {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_READ, IORING_OP_WRITE,
                   IORING_OP_WRITEV, IORING_OP_CONNECT, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
                   IORING_OP_CLOSE, IORING_OP_SPLICE, IORING_OP_NOP})
      ok = ok && io_uring_opcode_supported(pr, op);
    io_uring_free_probe(pr);
    return ok;
  }

  // Arms a multishot accept on a throwaway listening socket and cancels it by fd: kernels
  // without either answer -EINVAL.
  void probe_accept(bool& multishot, bool& cancel_fd) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd, 1) < 0) {
      ::close(fd);
      return;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, 1);
    sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, 2);
    int seen = 0;
    for (int tries = 0; seen < 2 && tries < 100; ++tries) {
      const int r = io_uring_submit_and_wait(&ring_, 1);
      if (r < 0 && r != -EINTR) break;
      unsigned head, n = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++n;
        if (cqe->user_data == 1 && !(cqe->flags & IORING_CQE_F_MORE)) {
          multishot = cqe->res != -EINVAL;
          ++seen;
        } else if (cqe->user_data == 2) {
          cancel_fd = cqe->res != -EINVAL;
          ++seen;
        }
      }
      io_uring_cq_advance(&ring_, n);
    }
    ::close(fd);
  }

  result<void> attach(int fd) override {
    if (fd < 0) return std::errc::bad_file_descriptor;
    if (static_cast<std::size_t>(fd) >= in_flight_.size()) in_flight_.resize(static_cast<std::size_t>(fd) * 2 + 64);
    return {};
  }

  void detach(int fd) noexcept override {
    if (auto it = listeners_.find(fd); it != listeners_.end()) close_listener(it);
    for (std::size_t i = 0; i < starved_.size();) {
      if (starved_[i]->fd == fd) {
        operation* op = starved_[i];
        starved_.erase(starved_.begin() + static_cast<std::ptrdiff_t>(i));
        complete(*op, -ECANCELED);
      } else {
        ++i;
      }
    }
    if (fd >= 0 && static_cast<std::size_t>(fd) < in_flight_.size() && in_flight_[fd] > 0) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data(sqe, new_request(req_kind::internal, fd));
      // The cancel must reach the kernel while fd still names this socket.
      queue_spilled();
      submit_now();
    }
  }

  void close(int fd) noexcept override {
    detach(fd);
    // The fd closes with the next submission: no system call of its own.
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data(sqe, new_request(req_kind::close, -1));
    ++pending_closes_;
  }

  bool start(operation& op) override {
    ++counters_.operations;
    if (op.kind == op_kind::accept) return start_accept(op);
    if (op.kind == op_kind::sendfile && file_path_ != file_path::sendfile) {
      if (!start_file_step(op)) return false;
      op.in_flight = true;
      return true;
    }
    if (op.kind == op_kind::sendfile || (op.kind == op_kind::receive && !buf_ring_)) {
      // No opcode (sendfile), or no buffer ring to receive into: try the system call, and wait
      // for readiness through the ring when it would block.
      long long r = try_op(op);
      if (r != -EAGAIN) {
        op.result = r;
        return false;
      }
      submit_poll(op);
    } else {
      submit_op(op);
    }
    op.in_flight = true;
    return true;
  }

  void cancel(operation& op) noexcept override {
    if (!op.in_flight) return;
    if (op.kind == op_kind::accept) {
      if (auto* l = listener_for(op.fd); l && l->waiting == &op) {
        l->waiting = nullptr;
        complete(op, -ECANCELED);
      }
      return;
    }
    if (unpark(op)) {
      complete(op, -ECANCELED);
      return;
    }
    static_cast<request*>(op.backend_data)->cancelled = true;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(op.backend_data), 0);
    io_uring_sqe_set_data(sqe, new_request(req_kind::internal, -1));
  }

  void abandon(operation& op) noexcept override {
    if (!op.in_flight) return;
    op.in_flight = false;
    if (op.kind == op_kind::accept) {
      if (auto* l = listener_for(op.fd); l && l->waiting == &op) l->waiting = nullptr;
      return;
    }
    if (unpark(op)) return;
    auto* r = static_cast<request*>(op.backend_data);
    r->op = nullptr;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(r), 0);
    io_uring_sqe_set_data(sqe, new_request(req_kind::internal, -1));
    // The kernel may still read or write the operation's buffers, which die with the caller:
    // wait for this request's completion before letting the caller go on.
    awaited_ = r;
    while (awaited_) {
      queue_spilled();
      ++counters_.syscalls;
      // liburing returns -errno (errno is not set). Whatever the error (a signal's EINTR
      // most often), the wait goes on: leaving before this completion would let the kernel
      // write into a frame that is about to be freed.
      if (const int res = io_uring_submit_and_wait(&ring_, 1); res < 0) on_enter_error(res, 1ms);
      reap();
    }
  }

  std::size_t poll(std::chrono::nanoseconds timeout) override {
    queue_spilled();
    ++counters_.syscalls;
    int res;
    if (timeout.count() == 0) {
      res = io_uring_submit_and_get_events(&ring_);
    } else {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{};
      if (timeout.count() > 0) {
        ts.tv_sec = timeout.count() / 1'000'000'000;
        ts.tv_nsec = timeout.count() % 1'000'000'000;
      }
      res = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout.count() > 0 ? &ts : nullptr, nullptr);
    }
    if (res < 0) on_enter_error(res, timeout);
    return reap();
  }

  void wake() noexcept override { wake_.signal(); }

  void release_buffer(std::uint32_t id) noexcept override {
    if (!buf_ring_) {
      backend::release_buffer(id);
      return;
    }
    --counters_.buffers_in_use;
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(id) * receive_buffer_bytes, receive_buffer_bytes,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(ring_buffers_), 0);
    io_uring_buf_ring_advance(buf_ring_, 1);
    feed_starved();
  }

 private:
  std::size_t buf_ring_bytes() const noexcept {
    const std::size_t page = 4096;
    return (std::size_t(ring_buffers_) * sizeof(io_uring_buf) + page - 1) / page * page;
  }

  // Registers a provided buffer ring, so that a receive takes a buffer only once data is
  // there. Kernels without buffer rings (before 5.19) receive by poll + read instead.
  void setup_buffer_ring() {
    ring_buffers_ = default_ring_buffers;
    if (const char* n = std::getenv("C10K_IO_URING_BUFFERS")) {
      const int v = std::atoi(n);
      if (v > 0 && v <= 32768 && (v & (v - 1)) == 0) ring_buffers_ = static_cast<unsigned>(v);
    }
    void* ring_mem = ::mmap(nullptr, buf_ring_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // Buffers are mapped, not allocated: only pages the kernel has written become resident.
    void* buf_mem = ::mmap(nullptr, std::size_t(ring_buffers_) * receive_buffer_bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ring_mem == MAP_FAILED || buf_mem == MAP_FAILED) {
      if (ring_mem != MAP_FAILED) ::munmap(ring_mem, buf_ring_bytes());
      if (buf_mem != MAP_FAILED) ::munmap(buf_mem, std::size_t(ring_buffers_) * receive_buffer_bytes);
      return;
    }
    auto* br = static_cast<io_uring_buf_ring*>(ring_mem);
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(br);
    reg.ring_entries = ring_buffers_;
    reg.bgid = buffer_group;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
      ::munmap(ring_mem, buf_ring_bytes());
      ::munmap(buf_mem, std::size_t(ring_buffers_) * receive_buffer_bytes);
      return;
    }
    buf_ring_ = br;
    buffers_ = static_cast<char*>(buf_mem);
    const int mask = io_uring_buf_ring_mask(ring_buffers_);
    for (unsigned i = 0; i < ring_buffers_; ++i)
      io_uring_buf_ring_add(br, buffers_ + std::size_t(i) * receive_buffer_bytes, receive_buffer_bytes,
                            static_cast<unsigned short>(i), mask, static_cast<int>(i));
    io_uring_buf_ring_advance(br, static_cast<int>(ring_buffers_));
  }

  // Starts one step (at most file_step_bytes) of a file body on the read+send or splice path;
  // returns false with op.result set when it cannot start.
  bool start_file_step(operation& op) {
    request* r = new_request(req_kind::op, op.fd);
    r->op = &op;
    op.backend_data = r;
    r->sent = 0;
    const unsigned step = static_cast<unsigned>(std::min(op.len, file_step_bytes));
    io_uring_sqe* sqe = get_sqe();
    if (file_path_ == file_path::readsend) {
      if (!r->scratch) r->scratch = std::make_unique_for_overwrite<char[]>(file_step_bytes);
      r->kind = req_kind::file_read;
      io_uring_prep_read(sqe, op.file_fd, r->scratch.get(), step, static_cast<std::uint64_t>(op.offset));
    } else {
      if (r->pipe_r < 0) {
        if (pipes_.empty()) {
          int p[2];
          if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
            op.result = -errno;
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data(sqe, new_request(req_kind::internal, -1));
            r->op = nullptr;
            free_request(r);
            return false;
          }
          pipes_.emplace_back(p[0], p[1]);
        }
        std::tie(r->pipe_r, r->pipe_w) = pipes_.back();
        pipes_.pop_back();
      }
      r->kind = req_kind::splice_in;
      io_uring_prep_splice(sqe, op.file_fd, static_cast<std::int64_t>(op.offset), r->pipe_w, -1, step, 0);
    }
    track(op.fd, +1);
    io_uring_sqe_set_data(sqe, r);
    return true;
  }

  // Gives a request's pipe back (or closes it when it may still hold bytes).
  void return_pipe(request& r, bool clean) {
    if (r.pipe_r < 0) return;
    if (clean) {
      pipes_.emplace_back(r.pipe_r, r.pipe_w);
    } else {
      ::close(r.pipe_r);
      ::close(r.pipe_w);
    }
    r.pipe_r = r.pipe_w = -1;
  }

  // The next completion of a read+send or splice step; returns 1 when the operation completed.
  std::size_t on_file_step(request& r, int res) {
    operation* op = r.op;
    auto finish = [&](long long result, bool pipe_empty) -> std::size_t {
      track(r.fd, -1);
      return_pipe(r, pipe_empty);
      free_request(&r);
      if (!op) return 0;
      complete(*op, result);
      return 1;
    };
    // Abandoned: stop here; the pipe may hold bytes nobody will send.
    if (!op) return finish(0, false);
    // Cancelled: no further step (the cancel may have missed the step that just ended).
    if (r.cancelled && res >= 0) {
      const bool pipe_empty = r.kind == req_kind::file_read || r.kind == req_kind::file_send ||
                              (r.kind == req_kind::splice_out && r.in_pipe == static_cast<std::size_t>(res));
      const std::size_t sent = r.sent + (r.kind == req_kind::splice_out || r.kind == req_kind::file_send ? res : 0);
      return finish(sent ? static_cast<long long>(sent) : -ECANCELED, pipe_empty);
    }
    switch (r.kind) {
      case req_kind::file_read: {
        if (res <= 0) return finish(res, true);
        r.kind = req_kind::file_send;
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_send(sqe, op->fd, r.scratch.get(), static_cast<std::size_t>(res), MSG_NOSIGNAL);
        io_uring_sqe_set_data(sqe, &r);
        return 0;
      }
      case req_kind::file_send: return finish(res, true);
      case req_kind::splice_in: {
        if (res <= 0) return finish(res, true);
        r.kind = req_kind::splice_out;
        r.in_pipe = static_cast<std::size_t>(res);
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_splice(sqe, r.pipe_r, -1, op->fd, -1, static_cast<unsigned>(r.in_pipe), 0);
        io_uring_sqe_set_data(sqe, &r);
        return 0;
      }
      case req_kind::splice_out: {
        if (res < 0) return finish(r.sent ? static_cast<long long>(r.sent) : res, false);
        r.sent += static_cast<std::size_t>(res);
        r.in_pipe -= static_cast<std::size_t>(res);
        if (r.in_pipe == 0 || res == 0) return finish(static_cast<long long>(r.sent), r.in_pipe == 0);
        // The socket took part of it: the rest is still in the pipe, send it before finishing.
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_splice(sqe, r.pipe_r, -1, op->fd, -1, static_cast<unsigned>(r.in_pipe), 0);
        io_uring_sqe_set_data(sqe, &r);
        return 0;
      }
      default: return finish(res, false);
    }
  }

  // Removes op from the receives waiting for a buffer; returns whether it was there.
  bool unpark(operation& op) noexcept {
    for (auto it = starved_.begin(); it != starved_.end(); ++it) {
      if (*it == &op) {
        starved_.erase(it);
        return true;
      }
    }
    return false;
  }
  static int errno_from_name(const std::string& s) {
    if (s == "EPERM") return EPERM;
    if (s == "ENOSYS") return ENOSYS;
    if (s == "ENOMEM") return ENOMEM;
    if (s == "EACCES") return EACCES;
    int n = std::atoi(s.c_str());
    return n > 0 ? n : EPERM;
  }

  // A submission entry to fill: from the ring, or, when the ring is full and the kernel takes
  // nothing now (out of memory: -EAGAIN; completions overflowing: -EBUSY), from spilled_,
  // whose entries go to the ring, in order, before the next submission.
  io_uring_sqe* get_sqe() noexcept {
    if (spilled_.empty()) {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
      submit_now();
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
    }
    return &spilled_.emplace_back();
  }

  // Moves spilled entries into the ring as far as it has room.
  void queue_spilled() noexcept {
    while (!spilled_.empty()) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (!sqe) {
        submit_now();
        sqe = io_uring_get_sqe(&ring_);
        if (!sqe) return;
      }
      *sqe = spilled_.front();
      spilled_.pop_front();
    }
  }

  // Hands the queued entries to the kernel now; returns nothing: entries the kernel refuses
  // stay queued for the next submission.
  void submit_now() noexcept {
    int res;
    do {
      ++counters_.syscalls;
      res = io_uring_submit(&ring_);
    } while (res == -EINTR);
  }

  // What an io_uring_enter error means for the loop. -EINTR (a signal) and -ETIME (the
  // timeout) are ordinary. -EAGAIN and -EBUSY say the kernel takes no submissions now (no
  // memory for requests; completions overflowing): wait up to `timeout` for completions
  // without submitting, so the loop does not spin. -EBADR says the kernel dropped completions
  // (it could not allocate an overflow entry): their owners would wait for good and the kernel
  // may still use their buffers, which nothing here can tell apart, so the process stops with
  // the reason. Any other error is a bug in this backend.
  void on_enter_error(int res, std::chrono::nanoseconds timeout) noexcept {
    switch (res) {
      case -EINTR:
      case -ETIME: return;
      case -EAGAIN:
      case -EBUSY: {
        (void)io_uring_get_events(&ring_);  // flushes overflowed completions into the ring
        if (io_uring_cq_ready(&ring_) > 0 || timeout.count() == 0) return;
        __kernel_timespec ts{};
        const auto wait = timeout.count() > 0 ? std::min<std::chrono::nanoseconds>(timeout, 10ms) : 10ms;
        ts.tv_nsec = static_cast<long long>(wait.count());
        io_uring_cqe* cqe = nullptr;
        ++counters_.syscalls;
        (void)io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
        return;
      }
      case -EBADR:
        log(log_level::error, "io_uring dropped completions (the kernel could not keep them); stopping");
        std::abort();
      default:
        log(log_level::error, "io_uring_enter failed: {}; stopping", std::strerror(-res));
        std::abort();
    }
  }

  request* new_request(req_kind kind, int fd) {
    request* r;
    if (free_requests_.empty()) {
      r = new request;
      all_requests_.push_back(r);
    } else {
      r = free_requests_.back();
      free_requests_.pop_back();
    }
    // The scratch buffer stays with the record for its next file step; pipes never do (they
    // go back to pipes_ when a step ends).
    r->kind = kind;
    r->op = nullptr;
    r->listener = nullptr;
    r->fd = fd;
    r->in_pipe = r->sent = 0;
    r->cancelled = r->resubmit = false;
    return r;
  }

  void free_request(request* r) { free_requests_.push_back(r); }

  void track(int fd, int delta) {
    if (fd >= 0 && static_cast<std::size_t>(fd) < in_flight_.size()) in_flight_[fd] += delta;
  }

  // Submits starved receives again while free buffers outnumber those already resubmitted,
  // so that no receive stays parked while a buffer is free.
  void feed_starved() {
    while (!starved_.empty() && resubmitting_ + counters_.buffers_in_use < ring_buffers_) {
      operation* op = starved_.front();
      starved_.pop_front();
      static_cast<request*>(submit_op(*op))->resubmit = true;
      ++resubmitting_;
    }
  }

  // Queues op's own SQE; returns its request.
  request* submit_op(operation& op) {
    io_uring_sqe* sqe = get_sqe();
    switch (op.kind) {
      case op_kind::read: io_uring_prep_read(sqe, op.fd, op.buf, static_cast<unsigned>(op.len), -1); break;
      case op_kind::write: io_uring_prep_write(sqe, op.fd, op.buf, static_cast<unsigned>(op.len), -1); break;
      case op_kind::writev:
        io_uring_prep_writev(sqe, op.fd, op.iov, static_cast<unsigned>(op.iovcnt), -1);
        break;
      case op_kind::connect: io_uring_prep_connect(sqe, op.fd, op.addr, op.addrlen); break;
      case op_kind::receive:
        io_uring_prep_recv(sqe, op.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffer_group;
        // Wait for data before picking a buffer: then ENOBUFS means data is there, and a
        // starved receive submitted again takes the buffer that came back (one without data
        // would pass it over, and the receives that have data would stay parked).
        sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
        break;
      case op_kind::sendfile:
      case op_kind::accept: break;  // handled by the caller
    }
    request* r = new_request(req_kind::op, op.fd);
    r->op = &op;
    op.backend_data = r;
    track(op.fd, +1);
    io_uring_sqe_set_data(sqe, r);
    return r;
  }

  void submit_poll(operation& op) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, op.fd, waits_readable(op.kind) ? POLLIN : POLLOUT);
    request* r = new_request(req_kind::poll_retry, op.fd);
    r->op = &op;
    op.backend_data = r;
    track(op.fd, +1);
    io_uring_sqe_set_data(sqe, r);
  }

  void arm_wake() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, wake_.fd(), &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data(sqe, new_request(req_kind::wake, wake_.fd()));
  }

  listener_state* listener_for(int fd) {
    auto it = listeners_.find(fd);
    return it == listeners_.end() ? nullptr : it->second;
  }

  bool start_accept(operation& op) {
    listener_state*& l = listeners_[op.fd];
    if (!l) {
      l = new listener_state;
      l->fd = op.fd;
    }
    if (!l->backlog.empty()) {
      op.result = l->backlog.front();
      l->backlog.pop_front();
      return false;
    }
    if (l->waiting) {
      op.result = -EBUSY;
      return false;
    }
    l->waiting = &op;
    op.in_flight = true;
    if (!l->multishot) arm_accept(*l);
    return true;
  }

  void arm_accept(listener_state& l) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    request* r = new_request(req_kind::accept, l.fd);
    r->listener = &l;
    l.multishot = r;
    io_uring_sqe_set_data(sqe, r);
  }

  void close_listener(std::unordered_map<int, listener_state*>::iterator it) {
    listener_state* l = it->second;
    listeners_.erase(it);
    l->closed = true;
    if (l->waiting) complete(*std::exchange(l->waiting, nullptr), -ECANCELED);
    for (int c : l->backlog) {
      ++counters_.syscalls;
      ::close(c);
    }
    l->backlog.clear();
    if (l->multishot) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(l->multishot), 0);
      io_uring_sqe_set_data(sqe, new_request(req_kind::internal, -1));
      closed_listeners_[l] = l;  // freed when the multishot's last completion arrives
      submit_now();
    } else {
      delete l;
    }
  }

  // Handles every completion waiting in the ring; returns how many operations completed.
  std::size_t reap() {
    std::size_t completed = 0;
    // Completions that found the ring full wait in the kernel's overflow list; each pass
    // makes room and asks the kernel to flush them (bounded: a busy ring may refill it).
    for (int pass = 0; pass < 16; ++pass) {
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        completed += on_completion(*static_cast<request*>(io_uring_cqe_get_data(cqe)), cqe->res, cqe->flags);
      }
      io_uring_cq_advance(&ring_, seen);
      counters_.events += seen;
      if (!io_uring_cq_has_overflow(&ring_)) break;
      ++counters_.syscalls;
      (void)io_uring_get_events(&ring_);
    }
    return completed;
  }

  std::size_t on_completion(request& r, int res, unsigned flags) {
    if (&r == awaited_) awaited_ = nullptr;
    switch (r.kind) {
      case req_kind::op: {
        track(r.fd, -1);
        operation* op = r.op;
        const bool cancelled = r.cancelled;
        if (r.resubmit) --resubmitting_;
        free_request(&r);
        if (flags & IORING_CQE_F_BUFFER) {
          const std::uint32_t id = flags >> IORING_CQE_BUFFER_SHIFT;
          ++counters_.buffers_in_use;
          if (!op || res <= 0) {
            release_buffer(id);  // nobody to hand it to, or nothing in it
          } else {
            op->buffer_id = id;
            op->buf = buffers_ + std::size_t(id) * receive_buffer_bytes;
          }
        }
        std::size_t completed = 0;
        if (!op) {
          // abandoned: its owner is gone
        } else if (res == -ENOBUFS && !cancelled) {
          // Every buffer is lent out: wait for one to come back (the data stays in the socket).
          op->backend_data = nullptr;
          starved_.push_back(op);
        } else {
          complete(*op, res == -ENOBUFS ? -ECANCELED : res);
          completed = 1;
        }
        feed_starved();  // a resubmitted receive that ended without a buffer leaves one free
        return completed;
      }
      case req_kind::poll_retry: {
        track(r.fd, -1);
        operation* op = r.op;
        const bool cancelled = r.cancelled;
        free_request(&r);
        if (!op) return 0;
        if (res < 0 || cancelled) {
          complete(*op, cancelled ? -ECANCELED : res);
          return 1;
        }
        long long again = try_op(*op);
        if (again == -EAGAIN) {
          submit_poll(*op);
          return 0;
        }
        complete(*op, again);
        return 1;
      }
      case req_kind::accept: return on_accept(r, res, flags);
      case req_kind::file_read:
      case req_kind::file_send:
      case req_kind::splice_in:
      case req_kind::splice_out: return on_file_step(r, res);
      case req_kind::wake:
        free_request(&r);
        arm_wake();
        return 0;
      case req_kind::internal:
        free_request(&r);
        return 0;
      case req_kind::close:
        free_request(&r);
        --pending_closes_;
        return 0;
    }
    return 0;
  }

  std::size_t on_accept(request& r, int res, unsigned flags) {
    listener_state* l = r.listener;
    std::size_t completed = 0;
    const bool more = flags & IORING_CQE_F_MORE;
    if (res >= 0) {
      if (l->closed) {
        ++counters_.syscalls;
        ::close(res);
      } else if (l->waiting) {
        complete(*std::exchange(l->waiting, nullptr), res);
        completed = 1;
      } else if (l->backlog.size() >= accept_backlog_limit) {
        // The kernel accepts every pending connection in one go, before the cancel below
        // takes effect: what lies beyond the bound is refused, as a full listen queue would.
        ++counters_.syscalls;
        ::close(res);
      } else {
        l->backlog.push_back(res);
        if (l->backlog.size() >= accept_backlog_limit && more && !l->pausing) {
          // Nobody takes them: stop accepting until the backlog drains; new connections
          // wait in the kernel's listen queue (bounded by listen(2)), where they hold no fd.
          l->pausing = true;
          io_uring_sqe* sqe = get_sqe();
          io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(&r), 0);
          io_uring_sqe_set_data(sqe, new_request(req_kind::internal, -1));
        }
      }
    } else if (l->waiting && res != -ECANCELED) {
      // EMFILE and friends end the multishot; the caller decides when to try again.
      complete(*std::exchange(l->waiting, nullptr), res);
      completed = 1;
    }
    if (!more) {
      free_request(&r);
      l->multishot = nullptr;
      l->pausing = false;
      if (l->closed) {
        closed_listeners_.erase(l);
        delete l;
      } else if (l->waiting) {
        arm_accept(*l);
      }
    }
    return completed;
  }

  io_uring ring_{};
  bool initialised_ = false;
  wake_fd wake_;
  std::uint64_t wake_value_ = 0;
  std::vector<std::uint32_t> in_flight_;  // requests in the kernel per fd, to skip needless cancels
  std::unordered_map<int, listener_state*> listeners_;
  std::unordered_map<listener_state*, listener_state*> closed_listeners_;
  std::vector<request*> free_requests_;
  std::vector<request*> all_requests_;
  request* awaited_ = nullptr;  // the request abandon() waits for
  std::size_t pending_closes_ = 0;
  io_uring_buf_ring* buf_ring_ = nullptr;  // the provided buffer ring, or nullptr without one
  char* buffers_ = nullptr;
  unsigned ring_buffers_ = 0;
  std::deque<operation*> starved_;  // receives that met ENOBUFS, waiting for a buffer
  unsigned resubmitting_ = 0;       // starved receives submitted again, not completed yet
  std::deque<io_uring_sqe> spilled_;  // entries the full ring could not take yet
  file_path file_path_ = file_path::sendfile;
  std::vector<std::pair<int, int>> pipes_;  // idle pipes for the splice path
};

}  // namespace

result<std::unique_ptr<backend>> make_uring_backend(ready_queue& ready) {
  const char* forced = std::getenv("C10K_IO_URING_SETUP_ERROR");
  auto b = std::make_unique<uring_backend>(ready);
  if (auto ec = b->init(forced ? forced : "")) return ec;
  return std::unique_ptr<backend>(std::move(b));
}

}  // namespace c10k
