#include "ring.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "c10k/log.hpp"

namespace c10k::uring {
namespace {

using namespace std::chrono_literals;

constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 16384;

int errno_from_name(const std::string& s) {
  if (s == "EPERM") return EPERM;
  if (s == "ENOSYS") return ENOSYS;
  if (s == "ENOMEM") return ENOMEM;
  if (s == "EACCES") return EACCES;
  int n = std::atoi(s.c_str());
  return n > 0 ? n : EPERM;
}

}  // namespace

bool listed(std::string_view disabled, std::string_view feature) {
  while (!disabled.empty()) {
    const auto comma = disabled.find(',');
    if (disabled.substr(0, comma) == feature) return true;
    if (comma == std::string_view::npos) break;
    disabled.remove_prefix(comma + 1);
  }
  return false;
}

std::error_code ring::setup(const std::string& forced_error, std::string_view disabled) {
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
  live_ = true;
  if (std::error_code missing = probe(p.features, disabled)) {
    exit();
    return missing;
  }
  (void)io_uring_register_ring_fd(&ring_);  // saves an fd lookup per enter where supported
  return {};
}

void ring::exit() noexcept {
  if (!live_) return;
  live_ = false;
  io_uring_queue_exit(&ring_);
}

// Checks what the backend relies on beyond ring setup; returns the first feature missing (or
// listed in `disabled`, for tests).
std::error_code ring::probe(unsigned features, std::string_view disabled) {
  if (!(features & IORING_FEAT_EXT_ARG) || listed(disabled, "ext_arg")) return uring_missing::ext_arg;
  if (!(features & IORING_FEAT_NODROP) || listed(disabled, "nodrop")) return uring_missing::nodrop;
  if (!opcodes_supported() || listed(disabled, "opcodes")) return uring_missing::opcodes;
  bool multishot = false, cancel_fd = false;
  probe_accept(multishot, cancel_fd);
  if (!multishot || listed(disabled, "multishot_accept")) return uring_missing::multishot_accept;
  if (!cancel_fd || listed(disabled, "cancel_fd")) return uring_missing::cancel_fd;
  return {};
}

bool ring::opcodes_supported() {
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
void ring::probe_accept(bool& multishot, bool& cancel_fd) {
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

io_uring_sqe* ring::get_sqe() noexcept {
  if (spilled_.empty()) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
    submit_now();
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
  }
  return &spilled_.emplace_back();
}

void ring::queue_spilled() noexcept {
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

void ring::submit_now() noexcept {
  int res;
  do {
    ++counters_.syscalls;
    res = io_uring_submit(&ring_);
  } while (res == -EINTR);
}

void ring::submit_and_wait(std::chrono::nanoseconds timeout) noexcept {
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
}

void ring::submit_and_wait_one() noexcept {
  queue_spilled();
  ++counters_.syscalls;
  // liburing returns -errno (errno is not set). Whatever the error (a signal's EINTR most
  // often), the caller waits on: leaving before the completion it waits for would let the
  // kernel write into a frame that is about to be freed.
  if (const int res = io_uring_submit_and_wait(&ring_, 1); res < 0) on_enter_error(res, 1ms);
}

// What an io_uring_enter error means for the loop. -EINTR (a signal) and -ETIME (the timeout)
// are ordinary. -EAGAIN and -EBUSY say the kernel takes no submissions now (no memory for
// requests; completions overflowing): wait up to `timeout` for completions without
// submitting, so the loop does not spin. -EBADR says the kernel dropped completions (it could
// not allocate an overflow entry): their owners would wait for good and the kernel may still
// use their buffers, which nothing here can tell apart, so the process stops with the reason.
// Any other error is a bug in the backend.
void ring::on_enter_error(int res, std::chrono::nanoseconds timeout) noexcept {
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

}  // namespace c10k::uring
