// The Date header's value (RFC 9110 IMF-fixdate), formatted at most once a second per thread.
#pragma once

#include <string_view>

namespace c10k::http {

// The current time as "Tue, 24 Nov 2026 23:55:32 GMT"; valid until the next call on this thread.
std::string_view http_date() noexcept;

}  // namespace c10k::http
