// The select(2) backend ("select"): read and write fd_sets, limited to fds below FD_SETSIZE.
#pragma once

#include <memory>

#include "c10k/backend.hpp"

namespace c10k {

// Returns a select backend, or the error eventfd reported (value_too_large when even the
// wake-up eventfd lands at or above FD_SETSIZE).
result<std::unique_ptr<backend>> make_select_backend(ready_queue& ready);

}  // namespace c10k
