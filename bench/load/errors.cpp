#include "errors.hpp"

#include <cerrno>

namespace c10k::load {

error_kind classify(std::error_code ec, error_phase phase) noexcept {
  if (ec == std::errc::timed_out) return error_kind::timeout;
  if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) return error_kind::fd;
  if (ec == std::errc::bad_message) return error_kind::http;
  if (phase == error_phase::connect) return error_kind::connect;
  if (ec == std::errc::connection_reset || ec == std::errc::broken_pipe || ec == std::errc::connection_aborted)
    return error_kind::reset;
  return error_kind::other;
}

void error_counts::add(error_kind k) noexcept {
  switch (k) {
    case error_kind::connect: ++connect; break;
    case error_kind::reset: ++reset; break;
    case error_kind::timeout: ++timeout; break;
    case error_kind::fd: ++fd; break;
    case error_kind::http: ++http; break;
    case error_kind::other: ++other; break;
  }
}

error_counts& error_counts::operator+=(const error_counts& o) noexcept {
  connect += o.connect;
  reset += o.reset;
  timeout += o.timeout;
  fd += o.fd;
  http += o.http;
  other += o.other;
  return *this;
}

}  // namespace c10k::load
