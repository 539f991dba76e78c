#include "c10k/http/resolver.hpp"

#include <netdb.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "c10k/offload.hpp"

namespace c10k::http {
namespace {

struct cached {
  std::vector<address> addresses;
  std::chrono::steady_clock::time_point expires;
};

// Names only (numeric hosts never reach it), guarded by a mutex: lookups are rare next to
// requests, since a pooled connection needs none.
struct cache {
  static constexpr std::size_t max_names = 256;
  std::mutex mutex;
  std::unordered_map<std::string, cached> entries;  // key: "host:port"
};

cache& the_cache() {
  static cache c;
  return c;
}

std::atomic<std::uint64_t> lookups{0};

// On a helper thread: getaddrinfo for TCP; the addresses, or host_unreachable.
result<std::vector<address>> lookup(const std::string& host, std::uint16_t port) {
  lookups.fetch_add(1, std::memory_order_relaxed);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: on a host whose only interface is loopback it would hide loopback names.
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &list) != 0 || list == nullptr)
    return std::errc::host_unreachable;
  std::vector<address> out;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next)
    if (a->ai_family == AF_INET || a->ai_family == AF_INET6) out.push_back(address::from(a->ai_addr, a->ai_addrlen));
  ::freeaddrinfo(list);
  if (out.empty()) return std::errc::host_unreachable;
  return out;
}

}  // namespace

task<result<std::vector<address>>> resolve(std::string host, std::uint16_t port, std::chrono::seconds ttl) {
  if (host.empty() || host == "*") co_return std::errc::invalid_argument;
  if (auto numeric = address::parse(host, port)) co_return std::vector<address>{*numeric};
  if (host.front() == '[') co_return std::errc::invalid_argument;  // a bracketed non-address

  std::string key = host + ':' + std::to_string(port);
  cache& c = the_cache();
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(c.mutex);
    if (auto it = c.entries.find(key); it != c.entries.end()) {
      if (it->second.expires > now) co_return it->second.addresses;
      c.entries.erase(it);
    }
  }
  result<result<std::vector<address>>> got = co_await offload(&lookup, host, port);
  if (!got) co_return got.error();  // the caller's scope ended the wait
  if (*got && ttl.count() > 0) {
    std::lock_guard lock(c.mutex);
    if (c.entries.size() >= cache::max_names) {
      // Expired entries go first; a cache full of live ones starts over (cheap, and rare).
      std::erase_if(c.entries, [&](const auto& e) { return e.second.expires <= now; });
      if (c.entries.size() >= cache::max_names) c.entries.clear();
    }
    c.entries[std::move(key)] = cached{**got, now + ttl};
  }
  co_return std::move(*got);
}

void clear_resolver_cache() {
  std::lock_guard lock(the_cache().mutex);
  the_cache().entries.clear();
}

std::uint64_t resolver_lookups() noexcept { return lookups.load(std::memory_order_relaxed); }

}  // namespace c10k::http
