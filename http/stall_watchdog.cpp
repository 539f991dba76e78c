#include "stall_watchdog.hpp"

#include <algorithm>
#include <cstring>

#include "c10k/detail/quiet_thread.hpp"
#include "c10k/log.hpp"
#include "c10k/time.hpp"
#include "loop_state.hpp"

namespace c10k::http {

void stall_probe::publish(std::uint64_t turn, int fd, std::string_view method, std::string_view target) noexcept {
  std::array<char, words * 8> buf;
  const std::size_t total = std::min(method.size() + 1 + target.size(), buf.size());
  // The bytes after the text in its last word are published too: zero them (one word, before
  // the text goes over its start).
  std::memset(buf.data() + (total - 1) / 8 * 8, 0, 8);
  std::size_t n = std::min(method.size(), buf.size());
  std::memcpy(buf.data(), method.data(), n);
  if (n < buf.size()) buf[n++] = ' ';
  const std::size_t t = std::min(target.size(), buf.size() - n);
  std::memcpy(buf.data() + n, target.data(), t);
  n += t;
  const std::uint64_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  turn_.store(turn, std::memory_order_relaxed);
  fd_.store(fd, std::memory_order_relaxed);
  len_.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
  for (std::size_t w = 0; w < (n + 7) / 8; ++w) {
    std::uint64_t v;
    std::memcpy(&v, buf.data() + w * 8, 8);
    text_[w].store(v, std::memory_order_relaxed);
  }
  seq_.store(s + 2, std::memory_order_release);
}

std::string stall_probe::read(std::uint64_t turn) const {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::uint64_t s = seq_.load(std::memory_order_acquire);
    if (s & 1) continue;
    const std::uint64_t t = turn_.load(std::memory_order_relaxed);
    const int fd = fd_.load(std::memory_order_relaxed);
    const std::size_t n = std::min<std::size_t>(len_.load(std::memory_order_relaxed), words * 8);
    std::array<char, words * 8> buf{};
    for (std::size_t w = 0; w < (n + 7) / 8; ++w) {
      const std::uint64_t v = text_[w].load(std::memory_order_relaxed);
      std::memcpy(buf.data() + w * 8, &v, 8);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) != s) continue;
    if (s == 0 || t != turn) return {};
    return fmt::format("the handler of \"{}\" on fd {}", std::string_view(buf.data(), n), fd);
  }
  return {};
}

stall_watchdog::stall_watchdog(std::vector<const loop_state*> loops, std::chrono::nanoseconds threshold)
    : loops_(std::move(loops)), reported_(loops_.size(), 0), threshold_(threshold) {
  thread_ = detail::quiet_thread([this] { run(); });
}

stall_watchdog::~stall_watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void stall_watchdog::run() {
  const auto tick = std::clamp<std::chrono::nanoseconds>(threshold_ / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(50));
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, tick, [this] { return stopping_; })) {
    const auto now_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count());
    for (std::size_t i = 0; i < loops_.size(); ++i) check(i, now_ns);
  }
}

// Reports loop i when it has been away from its poll for longer than the threshold, once per
// stall (a stall is known by the time its turn began).
void stall_watchdog::check(std::size_t i, std::uint64_t now_ns) {
  const loop_state& st = *loops_[i];
  const loop_activity* a = st.live_activity.load(std::memory_order_acquire);
  if (!a) return;
  const std::uint64_t since = a->busy_since_ns;
  if (since == 0 || since == reported_[i] || now_ns <= since) return;
  const auto busy = std::chrono::nanoseconds(now_ns - since);
  if (busy <= threshold_) return;
  const std::uint64_t turn = a->turns;
  std::string what = st.probe ? st.probe->read(turn) : std::string();
  if (a->busy_since_ns != since) return;  // it came back meanwhile: no stall to report
  reported_[i] = since;
  if (what.empty()) what = "no request handler (a task, a timer or an I/O completion)";
  log(log_level::warning, "stall: loop {} has not come back to its poll for {} ms, running {}", i,
      std::chrono::duration_cast<std::chrono::milliseconds>(busy).count(), what);
}

}  // namespace c10k::http
