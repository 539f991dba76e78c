// Request paths as file names: decoding and the check that keeps them below a root.
#pragma once

#include <string>
#include <string_view>

namespace c10k::http {

// Decodes the %XX escapes of a URL path into `out`; returns false for a malformed escape or an
// escaped NUL (which would end the name early).
bool percent_decode(std::string_view in, std::string& out);

// Returns true when the decoded relative path cannot leave the directory it is resolved in:
// it is not absolute and no segment of it is "..".
bool stays_below(std::string_view rel) noexcept;

}  // namespace c10k::http
