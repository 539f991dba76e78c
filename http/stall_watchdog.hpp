// stall_watchdog: a thread that reports a loop stuck away from its poll (a blocking call on a
// loop thread), once per stall, with the request it was serving (private to c10k::http).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace c10k::http {

struct loop_state;

// The request line a loop's handler runs for, published by the loop (a seqlock: one writer, the
// loop; any reader) so that the watchdog can name it while the loop is stuck in that handler.
// Written once per request when the watchdog is on: a dozen relaxed stores, no read-modify-write.
class stall_probe {
 public:
  // Records that the handler of `line`'s request on fd starts in loop turn `turn`.
  void publish(std::uint64_t turn, int fd, std::string_view method, std::string_view target) noexcept;
  // The last published request as text, when it was published in `turn`; empty otherwise.
  std::string read(std::uint64_t turn) const;

 private:
  static constexpr std::size_t words = 12;  // 96 bytes of "METHOD target"
  std::atomic<std::uint64_t> seq_{0};        // odd while publish() writes
  std::atomic<std::uint64_t> turn_{0};
  std::atomic<int> fd_{-1};
  std::atomic<std::uint32_t> len_{0};
  std::array<std::atomic<std::uint64_t>, words> text_{};
};

class stall_watchdog {
 public:
  // Starts the thread, which watches `loops` (their published activity) every quarter of
  // `threshold` and logs a warning for a loop busy for longer than it.
  stall_watchdog(std::vector<const loop_state*> loops, std::chrono::nanoseconds threshold);
  stall_watchdog(const stall_watchdog&) = delete;
  stall_watchdog& operator=(const stall_watchdog&) = delete;
  // Stops and joins the thread.
  ~stall_watchdog();

 private:
  void run();
  void check(std::size_t i, std::uint64_t now_ns);

  std::vector<const loop_state*> loops_;
  std::vector<std::uint64_t> reported_;  // per loop: the busy_since_ns of the stall last reported
  std::chrono::nanoseconds threshold_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace c10k::http
