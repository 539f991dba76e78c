// errors: what went wrong in a load run, sorted into the kinds the report counts.
#pragma once

#include <cstdint>
#include <system_error>

namespace c10k::load {

enum class error_kind { connect, reset, timeout, fd, http, other };

// Where in a connection's life an error happened: the same errno means different things
// while connecting (the server refused) and afterwards (the server dropped the connection).
enum class error_phase { connect, exchange };

// Returns the kind of `ec`: timed_out is a timeout wherever it happens; EMFILE/ENFILE (the
// client ran out of descriptors) is fd; bad_message (a reply that cannot be framed) is http;
// while connecting anything else is connect; afterwards resets, broken pipes and early closes
// are reset, and the rest is other.
error_kind classify(std::error_code ec, error_phase phase) noexcept;

struct error_counts {
  std::uint64_t connect = 0;
  std::uint64_t reset = 0;
  std::uint64_t timeout = 0;
  std::uint64_t fd = 0;
  std::uint64_t http = 0;
  std::uint64_t other = 0;

  // Counts one error of kind k.
  void add(error_kind k) noexcept;
  // Adds every count of o.
  error_counts& operator+=(const error_counts& o) noexcept;
  // Returns the number of errors of every kind together.
  std::uint64_t total() const noexcept { return connect + reset + timeout + fd + http + other; }
};

}  // namespace c10k::load
