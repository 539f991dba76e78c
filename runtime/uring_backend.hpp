// The io_uring backend (liburing).
#pragma once

#include <memory>

#include "c10k/backend.hpp"

namespace c10k {

// Returns an io_uring backend, or the error setting up the ring hit (EPERM from a seccomp
// profile or kernel.io_uring_disabled, ENOSYS, ENOMEM from the memlock limit, ...). For tests,
// the environment variable C10K_IO_URING_SETUP_ERROR=EPERM (or ENOSYS, ENOMEM, a number) makes
// setup fail with that error without trying.
result<std::unique_ptr<backend>> make_uring_backend(ready_queue& ready);

}  // namespace c10k
