// The Date header's value (RFC 9110 IMF-fixdate), formatted at most once a second per thread.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace c10k::http {

// The current time as "Tue, 24 Nov 2026 23:55:32 GMT"; valid until the next call on this thread.
std::string_view http_date() noexcept;

// t as an IMF-fixdate ("Tue, 24 Nov 2026 23:55:32 GMT").
std::string format_http_date(std::time_t t);
// The time in an IMF-fixdate, or nullopt when it is not one (obsolete formats are not accepted).
std::optional<std::time_t> parse_http_date(std::string_view s);

}  // namespace c10k::http
