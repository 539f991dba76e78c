// The backend factory: makes a backend by name, with the io_uring probes and the fallback to
// epoll. Kept apart from the backend contract (backend.hpp, which includes this header, so
// callers of either need only one).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "c10k/result.hpp"

namespace c10k {

class backend;
class ready_queue;

// A kernel feature the io_uring backend needs and probes for when it is made; where one is
// missing, make_exact_backend("io_uring") fails with it (the message names the feature and the
// Linux version that brought it) and make_backend("auto") runs on epoll. For tests,
// C10K_IO_URING_DISABLE=ext_arg,nodrop,opcodes,multishot_accept,cancel_fd (any of them) makes
// those probes fail; provided_buffers in that list makes the backend receive by poll + recv
// instead of from a provided-buffer ring (it needs no fallback to epoll for that).
enum class uring_missing {
  ext_arg = 1,       // IORING_FEAT_EXT_ARG: waits with a timeout (5.11)
  nodrop,            // IORING_FEAT_NODROP: completions kept when the CQ ring is full (5.5)
  opcodes,           // an opcode the backend submits (accept, recv, send, poll, cancel, close...)
  multishot_accept,  // IORING_ACCEPT_MULTISHOT (5.19)
  cancel_fd,         // IORING_ASYNC_CANCEL_FD (5.19)
};
const std::error_category& uring_missing_category() noexcept;
inline std::error_code make_error_code(uring_missing m) noexcept { return {static_cast<int>(m), uring_missing_category()}; }

// The backends this kernel and build can run, in order of preference.
std::vector<std::string> available_backends();

// Makes the backend called `name`: io_uring, epoll, epoll-et, poll, select, or auto (io_uring
// where it works). Where io_uring cannot be set up (a seccomp profile, io_uring_disabled, an
// old kernel, the memlock limit), "io_uring" and "auto" run on epoll, and the process logs
// one line saying why. Returns errc::invalid_argument for an unknown name, or the error that
// setting the backend up hit.
result<std::unique_ptr<backend>> make_backend(std::string_view name, ready_queue& ready);

// Makes exactly the backend called `name`, without falling back; returns why it cannot.
result<std::unique_ptr<backend>> make_exact_backend(std::string_view name, ready_queue& ready);

}  // namespace c10k

template <>
struct std::is_error_code_enum<c10k::uring_missing> : std::true_type {};
