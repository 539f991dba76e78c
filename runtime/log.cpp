#include "c10k/log.hpp"

#include <cstdio>
#include <mutex>
#include <utility>

namespace c10k {
namespace {
std::mutex sink_mutex;
log_sink current_sink;

std::string_view level_name(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
  }
  return "?";
}
}  // namespace

log_sink set_log_sink(log_sink sink) {
  std::lock_guard lock(sink_mutex);
  return std::exchange(current_sink, std::move(sink));
}

void log_line(log_level level, std::string_view line) {
  std::lock_guard lock(sink_mutex);
  if (current_sink) {
    current_sink(level, line);
    return;
  }
  std::fprintf(stderr, "c10k %.*s: %.*s\n", int(level_name(level).size()), level_name(level).data(),
               int(line.size()), line.data());
}

}  // namespace c10k
