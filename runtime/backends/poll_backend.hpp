// The poll(2) backend ("poll"): one pollfd array, rescanned by the kernel on every call.
#pragma once

#include <memory>

#include "c10k/backend.hpp"

namespace c10k {

// Returns a poll backend, or the error eventfd reported.
result<std::unique_ptr<backend>> make_poll_backend(ready_queue& ready);

}  // namespace c10k
