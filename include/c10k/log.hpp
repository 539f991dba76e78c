// log: one line per event on stderr, or wherever a test or an embedding program redirects it.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string_view>

namespace c10k {

enum class log_level { debug, info, warning, error };

// Replaces where log lines go (nullptr restores stderr); returns the previous sink.
using log_sink = std::function<void(log_level, std::string_view)>;
log_sink set_log_sink(log_sink sink);

// Writes one line. Thread-safe.
void log_line(log_level level, std::string_view line);

template <typename... Args>
void log(log_level level, fmt::format_string<Args...> f, Args&&... args) {
  log_line(level, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace c10k
