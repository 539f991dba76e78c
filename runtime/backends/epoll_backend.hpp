// The epoll backend, level-triggered ("epoll") or edge-triggered ("epoll-et").
#pragma once

#include <memory>

#include "c10k/backend.hpp"

namespace c10k {

enum class epoll_mode { level, edge };

// Returns an epoll backend in `mode`, or the error epoll_create1 or eventfd reported.
result<std::unique_ptr<backend>> make_epoll_backend(epoll_mode mode, ready_queue& ready);

}  // namespace c10k
