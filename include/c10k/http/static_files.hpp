// static_files: a handler that serves the files under a root directory.
#pragma once

#include <string>

#include "c10k/http/router.hpp"

namespace c10k::http {

// Returns a handler for a route ending in "{param...}" that serves root/<param>: 200 with the
// file (sent by sendfile) and a Content-Type from its extension; index.html for a directory;
// ETag and Last-Modified, with 304 for a matching If-None-Match or If-Modified-Since; a single
// byte range as 206 (416 when it lies past the end); 404 for anything missing or outside root;
// 403 for what is not a regular file (a FIFO, device or socket is never read, nor opened in a
// way that could block). Files are opened beneath an fd of the root (openat2 RESOLVE_BENEATH,
// or a component-by-component walk on older kernels), so nothing swapped in while a request
// resolves leads out. Symlinks: a relative one is followed while it stays beneath the root
// (nginx's `disable_symlinks off`, confined to the root); an absolute one, or one that climbs
// out, is refused (404), even when its target lies inside the root. ".." segments, encoded or
// not, are refused. Paths are resolved and files opened on the helper pool, never on the loop
// thread.
handler static_files(std::string root, std::string param = "path");

// The Content-Type for a file name's extension ("application/octet-stream" when unknown).
std::string_view content_type_for(std::string_view file_name) noexcept;

}  // namespace c10k::http
