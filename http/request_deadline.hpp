// request_deadline: runs each handler in a cancel_scope bound to its request's deadline
// (server_options::request_timeout, deadline_header; private to c10k::http).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "c10k/http/router.hpp"
#include "c10k/http/server_options.hpp"

namespace c10k::http {

// The milliseconds a deadline header carries: plain digits (at most 9 of them), or nullopt.
std::optional<std::chrono::milliseconds> parse_deadline_header(std::string_view value) noexcept;

// h, run in a scope whose deadline is the request's: request_timeout after the handler
// starts, or the deadline header's when tighter. A handler that throws once its deadline
// passed gets a 504. Only for options with request_timeout or deadline_header set.
handler with_request_deadline(handler h, const server_options& options);

// True when the options ask for request deadlines.
inline bool wants_request_deadlines(const server_options& o) noexcept {
  return o.request_timeout.count() > 0 || !o.deadline_header.empty();
}

}  // namespace c10k::http
