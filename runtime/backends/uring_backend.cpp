// io_uring: the completion backend, composed of its parts under uring/: the ring (setup,
// probes, submission, reaping), the request records, the listeners (multishot accept), the
// provided buffers (and the receives starved of one) and the file bodies (splice, read+send).
//
// Every operation becomes a submission entry (SQE) whose user_data leads to a request record
// owned by this backend, and from there to the operation. Nothing enters the kernel when an
// operation starts: a loop turn submits all its entries and waits for completions in one
// io_uring_submit_and_wait_timeout.
//
// The request record, not the operation, is what the kernel refers to. When the coroutine that
// owns an operation is destroyed mid-flight (abandon), the record is detached from it and the
// kernel's request cancelled; its completion then finds no operation and only frees the record
// (closing an fd that an accept delivered meanwhile). Because an abandoned read or write may
// still point into the dying frame, abandon() waits for that one completion before returning.
#include "uring_backend.hpp"

#include <liburing.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "uring/accept.hpp"
#include "uring/buffers.hpp"
#include "uring/core.hpp"
#include "uring/files.hpp"
#include "wake_fd.hpp"

namespace c10k {
namespace {

using namespace uring;

class uring_backend final : public backend, private core {
 public:
  explicit uring_backend(ready_queue& ready) : backend(ready), core(backend::counters_) {}

  ~uring_backend() override {
    if (!initialised_) return;
    // Closes still queued or in flight must happen, or their fds would outlive the ring.
    for (int turns = 0; pending_closes_ > 0 && turns < 1000; ++turns) {
      ring_.drain_one();
      reap();
    }
    // The kernel lets go of every buffer, pipe and record with the ring; the parts free them
    // as they are destroyed, the records last (core's pool).
    ring_.exit();
  }

  // Sets up the ring and the parts; returns the error setup hit or the feature missing.
  std::error_code init(const std::string& forced_error) {
    const char* off = std::getenv("C10K_IO_URING_DISABLE");
    const std::string disabled = off ? off : "";
    if (std::error_code ec = ring_.setup(forced_error, disabled)) return ec;
    auto wake = wake_fd::make();
    if (!wake) {
      ring_.exit();
      return wake.error();
    }
    wake_ = std::move(*wake);
    arm_wake();
    if (!listed(disabled, "provided_buffers")) buffers_.setup();
    files_.configure();
    initialised_ = true;
    return {};
  }

  std::string_view name() const noexcept override { return "io_uring"; }

  result<void> attach(int fd) override {
    if (fd < 0) return std::errc::bad_file_descriptor;
    reserve(fd);
    return {};
  }

  void detach(int fd) noexcept override {
    listeners_.detach(fd);
    buffers_.detach(fd);
    if (busy(fd)) {
      io_uring_sqe* sqe = ring_.get_sqe();
      io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data(sqe, requests_.make(req_kind::internal, fd));
      // The cancel must reach the kernel while fd still names this socket.
      ring_.queue_spilled();
      ring_.submit_now();
    }
  }

  void close(int fd) noexcept override {
    detach(fd);
    // The fd closes with the next submission: no system call of its own.
    io_uring_sqe* sqe = ring_.get_sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data(sqe, requests_.make(req_kind::close, -1));
    ++pending_closes_;
  }

  bool start(operation& op) override {
    ++backend::counters_.operations;
    if (op.kind == op_kind::accept) return listeners_.start(op);
    if (op.kind == op_kind::sendfile && !files_.by_sendfile()) {
      if (!files_.start(op)) return false;
      op.in_flight = true;
      return true;
    }
    if (op.kind == op_kind::sendfile || (op.kind == op_kind::receive && !buffers_.enabled())) {
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
      if (listeners_.forget(op)) complete(op, -ECANCELED);
      return;
    }
    if (buffers_.unpark(op)) {
      complete(op, -ECANCELED);
      return;
    }
    auto* r = static_cast<request*>(op.backend_data);
    r->cancelled = true;
    cancel_request(r);
  }

  void abandon(operation& op) noexcept override {
    if (!op.in_flight) return;
    op.in_flight = false;
    if (op.kind == op_kind::accept) {
      listeners_.forget(op);
      return;
    }
    if (buffers_.unpark(op)) return;
    auto* r = static_cast<request*>(op.backend_data);
    r->op = nullptr;
    cancel_request(r);
    // The kernel may still read or write the operation's buffers, which die with the caller:
    // wait for this request's completion before letting the caller go on.
    awaited_ = r;
    while (awaited_) {
      ring_.submit_and_wait_one();
      reap();
    }
  }

  std::size_t poll(std::chrono::nanoseconds timeout) override {
    ring_.submit_and_wait(timeout);
    return reap();
  }

  void wake() noexcept override { wake_.signal(); }

  void release_buffer(std::uint32_t id) noexcept override {
    if (buffers_.enabled()) {
      buffers_.give_back(id);
    } else {
      backend::release_buffer(id);
    }
  }

 private:
  void complete(operation& op, long long res) override { backend::complete(op, res); }

  void arm_wake() {
    io_uring_sqe* sqe = ring_.get_sqe();
    io_uring_prep_read(sqe, wake_.fd(), &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data(sqe, requests_.make(req_kind::wake, wake_.fd()));
  }

  // Handles every completion waiting in the ring; returns how many operations completed.
  std::size_t reap() {
    return ring_.reap([this](void* data, int res, unsigned flags) {
      return on_completion(*static_cast<request*>(data), res, flags);
    });
  }

  std::size_t on_completion(request& r, int res, unsigned flags) {
    if (&r == awaited_) awaited_ = nullptr;
    switch (r.kind) {
      case req_kind::op: return on_op(r, res, flags);
      case req_kind::poll_retry: return on_poll(r, res);
      case req_kind::accept: return listeners_.on_completion(r, res, flags);
      case req_kind::file_read:
      case req_kind::file_send:
      case req_kind::splice_in:
      case req_kind::splice_out: return files_.on_completion(r, res);
      case req_kind::wake:
        requests_.free(&r);
        arm_wake();
        return 0;
      case req_kind::internal:
        requests_.free(&r);
        return 0;
      case req_kind::close:
        requests_.free(&r);
        --pending_closes_;
        return 0;
    }
    return 0;
  }

  // An operation's own entry completed; returns 1 when the operation completed.
  std::size_t on_op(request& r, int res, unsigned flags) {
    track(r.fd, -1);
    operation* op = r.op;
    const bool cancelled = r.cancelled;
    buffers_.receive_ended(r.resubmit);
    requests_.free(&r);
    if (flags & IORING_CQE_F_BUFFER) buffers_.lend(flags >> IORING_CQE_BUFFER_SHIFT, op, res);
    std::size_t completed = 0;
    if (!op) {
      // abandoned: its owner is gone
    } else if (res == -ENOBUFS && !cancelled) {
      // Every buffer is lent out: wait for one to come back (the data stays in the socket).
      op->backend_data = nullptr;
      buffers_.park(*op);
    } else {
      complete(*op, res == -ENOBUFS ? -ECANCELED : res);
      completed = 1;
    }
    buffers_.feed();  // a resubmitted receive that ended without a buffer leaves one free
    return completed;
  }

  // The readiness an operation done by system call waited for arrived: retry it.
  std::size_t on_poll(request& r, int res) {
    track(r.fd, -1);
    operation* op = r.op;
    const bool cancelled = r.cancelled;
    requests_.free(&r);
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

  // Declared after core (a base), so destroyed before the ring's records; the ring itself is
  // torn down in the destructor's body, before these free the memory it used.
  listeners listeners_{*this};
  provided_buffers buffers_{*this};
  file_bodies files_{*this};
  wake_fd wake_;
  std::uint64_t wake_value_ = 0;
  bool initialised_ = false;
  request* awaited_ = nullptr;  // the request abandon() waits for
  std::size_t pending_closes_ = 0;
};

}  // namespace

result<std::unique_ptr<backend>> make_uring_backend(ready_queue& ready) {
  const char* forced = std::getenv("C10K_IO_URING_SETUP_ERROR");
  auto b = std::make_unique<uring_backend>(ready);
  if (auto ec = b->init(forced ? forced : "")) return ec;
  return std::unique_ptr<backend>(std::move(b));
}

}  // namespace c10k
