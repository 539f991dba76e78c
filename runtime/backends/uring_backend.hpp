// The io_uring backend (liburing).
#pragma once

#include <memory>

#include "c10k/backend.hpp"

namespace c10k {

// Returns an io_uring backend, or the error setting up the ring hit (EPERM from a seccomp
// profile or kernel.io_uring_disabled, ENOSYS, ENOMEM from the memlock limit, ...). For tests,
// the environment variable C10K_IO_URING_SETUP_ERROR=EPERM (or ENOSYS, ENOMEM, a number) makes
// setup fail with that error without trying.
//
// File bodies (sendfile operations) go by the sendfile system call, waiting for POLLOUT through
// the ring: measured against a splice pair through a pipe and against read+send through the
// ring (bench/files.sh), it served 64 KiB files 1.3x and 1 MiB files 2.1x faster. The two others
// stay selectable with C10K_IO_URING_FILE_PATH=splice|readsend so the measurement can be rerun.
result<std::unique_ptr<backend>> make_uring_backend(ready_queue& ready);

}  // namespace c10k
