// log: one line per event on stderr, or wherever a test or an embedding program redirects it.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <string_view>

namespace c10k {

enum class log_level { debug, info, warning, error };

// Replaces where log lines go (nullptr restores stderr); returns the previous sink.
using log_sink = std::function<void(log_level, std::string_view)>;
log_sink set_log_sink(log_sink sink);

// Writes one line. Thread-safe.
void log_line(log_level level, std::string_view line);

namespace detail {
inline std::atomic<int> log_threshold{static_cast<int>(log_level::info)};
}
// Sets the least level written (info by default: debug lines, such as one per failed TLS
// handshake, cost nothing unless asked for); returns the previous one. Thread-safe.
inline log_level set_log_level(log_level least) noexcept {
  return static_cast<log_level>(detail::log_threshold.exchange(static_cast<int>(least), std::memory_order_relaxed));
}
// True when lines of `level` are written.
inline bool log_enabled(log_level level) noexcept {
  return static_cast<int>(level) >= detail::log_threshold.load(std::memory_order_relaxed);
}

// Formats and writes one line, when its level is enabled (nothing is formatted otherwise).
template <typename... Args>
void log(log_level level, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(level)) log_line(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace c10k
