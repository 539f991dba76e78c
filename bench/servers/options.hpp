// options: the command line both baseline servers share, and the process setup they share.
#pragma once

#include <cstdint>
#include <string>

namespace c10k::baseline {

enum class server_kind { reactor, threads };

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 1;            // reactor: event loops; threads: accept loops
  std::string root;                // serve files under it at /static/; empty: no /static/
  std::string backend = "epoll";   // reactor only: epoll or io_uring
  unsigned stack_kib = 64;         // threads only: each connection thread's stack
  unsigned idle_timeout_s = 60;    // close a connection silent this long; 0: never
};

// Parses the command line into opt. Returns -1 to go on, or the status main should exit with
// (help was printed, or an option was wrong).
int parse_options(int argc, char** argv, server_kind kind, server_options& opt);

// Raises the soft limit on open files to the hard limit (10,000 connections need 10,000 fds);
// returns the soft limit now in force.
std::uint64_t raise_fd_limit();

}  // namespace c10k::baseline
