#include "upstream_pool.hpp"

#include "c10k/offload.hpp"

#include <algorithm>

#include "client_io.hpp"

#include "c10k/time.hpp"

namespace c10k::http::detail {
namespace {

std::atomic<std::uint64_t> next_client_id{1};

struct registered {
  std::uint64_t client_id;
  const event_loop* loop;
  std::shared_ptr<upstream_pool> pool;
};
// The pools of the loop running on this thread (one per client that used it): a handful.
thread_local std::vector<registered> registry;

// Owns a pool for its keeper task: destroying it (the task ended, or its loop is being
// destroyed, even before the task first ran) closes the pool and forgets it.
class pool_owner {
 public:
  explicit pool_owner(std::shared_ptr<upstream_pool> p) noexcept : p_(std::move(p)) {}
  pool_owner(pool_owner&& o) noexcept = default;
  pool_owner(const pool_owner&) = delete;
  ~pool_owner() {
    if (!p_) return;
    p_->close();
    std::erase_if(registry, [&](const registered& r) { return r.pool == p_; });
  }
  upstream_pool& operator*() const noexcept { return *p_; }

 private:
  std::shared_ptr<upstream_pool> p_;
};

// Closes idle connections past idle_timeout, every half of it, for as long as its loop runs.
task<void> keeper(pool_owner pool) {
  const auto timeout = (*pool).options().idle_timeout;
  const auto period = std::max<clock::duration>(timeout / 2, std::chrono::milliseconds(10));
  for (;;) {
    (void)co_await sleep_for(period);
    (*pool).evict(clock::now());
  }
}

}  // namespace

client_shared::client_shared(client_options o) : options(std::move(o)), id(next_client_id.fetch_add(1)) {}

task<result<tls::context>> client_shared::tls_context() {
  {
    std::lock_guard lock(tls_mu_);
    if (tls_) co_return tls_;
    if (tls_error_) co_return tls_error_;
  }
  auto made = co_await offload([](tls::client_config c) { return tls::context::client(c); }, options.tls);
  if (!made) co_return made.error();  // the wait was cancelled
  std::lock_guard lock(tls_mu_);
  if (!tls_ && !tls_error_) {  // (another loop may have made one meanwhile: the first stays)
    if (*made) tls_ = std::move(**made);
    else tls_error_ = made->error();
  }
  if (tls_) co_return tls_;
  co_return tls_error_;
}

task<result<void>> pooled_connection::write_all(std::span<iovec> iov) {
  if (secure) co_return co_await secure.write_all(iov);
  auto n = co_await stream.writev_all(iov);
  if (!n) co_return n.error();
  co_return result<void>{};
}

upstream_pool::upstream_pool(std::shared_ptr<client_shared> shared, event_loop& loop)
    : shared_(std::move(shared)), loop_(&loop) {}
upstream_pool::~upstream_pool() = default;

upstream_pool* upstream_pool::find(const client_shared& shared, const event_loop& loop) noexcept {
  for (const registered& r : registry)
    if (r.client_id == shared.id && r.loop == &loop) return r.pool.get();
  return nullptr;
}

std::shared_ptr<upstream_pool> upstream_pool::of(const std::shared_ptr<client_shared>& shared, event_loop& loop) {
  for (const registered& r : registry)
    if (r.client_id == shared->id && r.loop == &loop) return r.pool;
  auto p = std::make_shared<upstream_pool>(shared, loop);
  registry.push_back({shared->id, &loop, p});
  loop.spawn(keeper(pool_owner(p)));
  return p;
}

upstream_pool::entry* upstream_pool::find_entry(const upstream& to) noexcept {
  for (entry& e : entries_)
    if (e.port == to.port && e.tls == to.tls && e.host == to.host) return &e;
  return nullptr;
}

std::unique_ptr<pooled_connection> upstream_pool::take(const upstream& to) {
  entry* e = find_entry(to);
  if (!e || e->idle.empty()) return nullptr;
  std::unique_ptr<pooled_connection> c = std::move(e->idle.back());
  e->idle.pop_back();
  return c;
}

void upstream_pool::give_back(const upstream& to, std::unique_ptr<pooled_connection> c) {
  // Bytes the upstream sent past its response are not an answer to anything: a connection
  // that carries them could hand the next request a forged response, so it closes.
  if (closed_ || options().max_idle_per_upstream == 0 || !c->unread().empty()) return;  // c closes here
  entry* e = find_entry(to);
  if (!e) e = &entries_.emplace_back(entry{to.host, to.port, to.tls, {}});
  if (e->idle.size() >= options().max_idle_per_upstream) e->idle.erase(e->idle.begin());  // the oldest goes
  c->idle_since = loop_->now();
  c->in.clear();
  c->pos = 0;
  e->idle.push_back(std::move(c));
}

std::size_t upstream_pool::idle(const upstream& to) const noexcept {
  for (const entry& e : entries_)
    if (e.port == to.port && e.tls == to.tls && e.host == to.host) return e.idle.size();
  return 0;
}

void upstream_pool::evict(clock::time_point now) {
  const auto oldest = now - options().idle_timeout;
  for (entry& e : entries_) {
    // Oldest first, so the stale ones are a prefix.
    auto keep = std::find_if(e.idle.begin(), e.idle.end(), [&](const auto& c) { return c->idle_since > oldest; });
    e.idle.erase(e.idle.begin(), keep);
  }
}

void upstream_pool::close() {
  closed_ = true;
  entries_.clear();
  spare_states_.clear();
}

std::unique_ptr<response_state> upstream_pool::take_state() {
  if (spare_states_.empty()) return std::make_unique<response_state>();
  std::unique_ptr<response_state> s = std::move(spare_states_.back());
  spare_states_.pop_back();
  return s;
}

void upstream_pool::recycle(std::unique_ptr<response_state> s) noexcept {
  // As many as requests were in flight at once, up to a bound; buffers past a few KiB (a big
  // head, a chunked body's piece) are not worth keeping for every later response.
  constexpr std::size_t max_spare = 64, max_kept_bytes = 16 * 1024;
  if (closed_ || spare_states_.size() >= max_spare || s->head_bytes.capacity() > max_kept_bytes ||
      s->request_bytes.capacity() > max_kept_bytes || s->decoded.capacity() > max_kept_bytes)
    return;  // s is freed here
  s->reset();
  try {
    spare_states_.push_back(std::move(s));
  } catch (const std::bad_alloc&) {
    // no room to keep it: it is freed
  }
}

}  // namespace c10k::http::detail
