// static_files: a handler that serves the files under a root directory.
#pragma once

#include <string>

#include "c10k/http/router.hpp"

namespace c10k::http {

// Returns a handler for a route ending in "{param...}" that serves root/<param>: 200 with the
// file and a Content-Type from its extension, index.html for a directory, 404 for anything
// missing or outside root (".." segments, encoded or not, and symlinks leading out). Files are
// opened and read on the helper pool, never on the loop thread. Files above 64 MiB get 413.
handler static_files(std::string root, std::string param = "path");

// The Content-Type for a file name's extension ("application/octet-stream" when unknown).
std::string_view content_type_for(std::string_view file_name) noexcept;

}  // namespace c10k::http
