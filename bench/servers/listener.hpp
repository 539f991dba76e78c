// listener: the listening sockets of the baseline servers.
#pragma once

#include <cstdint>
#include <string>

namespace c10k::baseline {

// Opens a TCP listener on host:port with SO_REUSEADDR and SO_REUSEPORT (so each loop or accept
// thread can have its own, and the kernel spreads connections over them) and c10k's backlog of
// 4096. Returns the fd, or -errno (-EINVAL for a host that is no address).
int open_listener(const std::string& host, std::uint16_t port, bool nonblocking);

// Returns the port fd is bound to, or 0 when it cannot be read.
std::uint16_t bound_port(int fd);

}  // namespace c10k::baseline
