// resolver: host names to addresses for the client. Numeric addresses are parsed in place;
// names go to getaddrinfo on the helper pool (it blocks), and the answers are kept in a small
// per-process cache for a time to live.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "c10k/address.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"

namespace c10k::http {

// Returns the addresses of host:port, in getaddrinfo's order (a numeric host or "localhost":
// one, at once, no lookup); invalid_argument for an empty host, host_unreachable when the
// name does not resolve. The wait is cancellable by the caller's scope. Answers are cached for
// `ttl` (0: not cached); the cache holds at most 256 names.
task<result<std::vector<address>>> resolve(std::string host, std::uint16_t port,
                                           std::chrono::seconds ttl = std::chrono::seconds(30));

// Empties the cache (for tests).
void clear_resolver_cache();

// How many getaddrinfo calls this process made (for tests: a cached or numeric host makes none).
std::uint64_t resolver_lookups() noexcept;

}  // namespace c10k::http
