// open_beneath: opens a path beneath a directory fd without any way out of it (private to
// c10k::http; static_files uses it).
#pragma once

#include <string_view>

#include "c10k/result.hpp"

namespace c10k::http::detail {

// Opens `rel` (a decoded relative path) beneath the directory `root_fd` and returns the fd, or
// the error: cross_device_link (EXDEV) for a way out of the root, too_many_symbolic_link_levels
// (ELOOP), no_such_file_or_directory, ... Symbolic links are followed only while they stay
// beneath the root: relative ones whose target, resolved from where they lie, is inside it;
// absolute ones and /proc magic links are refused. Resolution and the open are one step, so a
// component swapped for a symlink meanwhile cannot lead out. A regular file comes back open
// O_RDONLY | O_NONBLOCK; anything else may come back as an O_PATH fd (the caller must fstat and
// refuse what is not a regular file). Nothing is ever opened in a way that blocks: a FIFO
// opens nonblocking or not at all. Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); on a
// kernel without it (ENOSYS, or C10K_OPENAT2=0 in the environment, for tests) walks the path
// one component at a time with O_NOFOLLOW, with the same outcome.
result<int> open_beneath(int root_fd, std::string_view rel);

// Whether open_beneath uses openat2 in this process (false: the component walk).
bool open_beneath_uses_openat2() noexcept;

}  // namespace c10k::http::detail
