// upstream_pool: one loop's keep-alive connections of one client, per upstream (private to
// c10k::http). Only its own loop touches it, so taking and giving back a connection needs no
// lock. It is found through a thread-local table and owned by a small task on its loop (the
// keeper, which also closes connections idle past idle_timeout): when the loop is destroyed,
// that task goes with it and closes every pooled connection while the loop can still do it.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "c10k/event_loop.hpp"
#include "c10k/http/client.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/tls/stream.hpp"

namespace c10k::http::detail {

// What every loop's pools of one client share: the options and the counters.
struct client_shared {
  explicit client_shared(client_options o);
  client_options options;
  std::uint64_t id;  // never reused, so a pool cannot be mistaken for a later client's
  std::atomic<std::uint64_t> requests{0}, connects{0}, reused{0}, retries{0}, bad_responses{0}, tls_resumed{0};

  // The TLS context for https upstreams, made on first use on the helper pool (loading the
  // CA store reads files); its error, when that failed. Shared by every loop: under the lock.
  task<result<tls::context>> tls_context();

 private:
  std::mutex tls_mu_;
  tls::context tls_;
  std::error_code tls_error_;
};

struct response_state;

// One connection to an upstream, with the bytes received and not yet used.
struct pooled_connection {
  tcp_stream stream;
  tls::stream secure;  // an https upstream's session over `stream` (empty otherwise)
  std::string in;
  std::size_t pos = 0;  // in[pos..] not yet consumed
  clock::time_point idle_since{};

  std::string_view unread() const noexcept { return std::string_view(in).substr(pos); }
  // co_await: writes every byte of iov (through the session, when there is one); the error.
  task<result<void>> write_all(std::span<iovec> iov);
};

class upstream_pool {
 public:
  upstream_pool(std::shared_ptr<client_shared> shared, event_loop& loop);
  ~upstream_pool();

  // The pool of `shared`'s client on `loop` (the current one), made on first use with its keeper.
  static std::shared_ptr<upstream_pool> of(const std::shared_ptr<client_shared>& shared, event_loop& loop);
  // The pool if it exists already, else nullptr.
  static upstream_pool* find(const client_shared& shared, const event_loop& loop) noexcept;

  // An idle connection to `to` (the most recently used), or nullptr.
  std::unique_ptr<pooled_connection> take(const upstream& to);
  // Keeps c for the next request to `to`, or closes it when the pool for `to` is full or closed.
  void give_back(const upstream& to, std::unique_ptr<pooled_connection> c);
  // Idle connections held for `to`.
  std::size_t idle(const upstream& to) const noexcept;
  // Closes the connections idle since before `now - idle_timeout`.
  void evict(clock::time_point now);
  // Closes every idle connection and takes no more (the loop is going).
  void close();

  // The state of the next response: a spare one, whose buffers (the head's bytes and fields,
  // the request head's bytes) keep their capacity from an earlier response, or a new one. A
  // request then allocates nothing for its head either way.
  std::unique_ptr<response_state> take_state();
  // Keeps s (its connection already released) for a later response, reset; frees it instead
  // when enough are kept or its buffers grew large.
  void recycle(std::unique_ptr<response_state> s) noexcept;

  const client_options& options() const noexcept { return shared_->options; }
  client_shared& shared() const noexcept { return *shared_; }

 private:
  struct entry {
    std::string host;
    std::uint16_t port;
    bool tls;
    std::vector<std::unique_ptr<pooled_connection>> idle;  // oldest first
  };
  entry* find_entry(const upstream& to) noexcept;

  std::shared_ptr<client_shared> shared_;
  event_loop* loop_;
  std::vector<entry> entries_;
  std::vector<std::unique_ptr<response_state>> spare_states_;
  bool closed_ = false;
};

}  // namespace c10k::http::detail
