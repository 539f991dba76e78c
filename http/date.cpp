#include "c10k/http/date.hpp"

#include <ctime>

namespace c10k::http {

std::string_view http_date() noexcept {
  thread_local std::time_t formatted_second = -1;
  thread_local char text[32];
  thread_local std::size_t length = 0;
  // time() is a vDSO read of a kernel variable: no system call, no formatting unless the
  // second changed.
  const std::time_t now = std::time(nullptr);
  if (now != formatted_second) {
    std::tm tm;
    ::gmtime_r(&now, &tm);
    length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    formatted_second = now;
  }
  return {text, length};
}

std::string format_http_date(std::time_t t) {
  std::tm tm;
  ::gmtime_r(&t, &tm);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(text, n);
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  if (s.size() != 29) return std::nullopt;
  const std::string text(s);
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return ::timegm(&tm);
}

}  // namespace c10k::http
