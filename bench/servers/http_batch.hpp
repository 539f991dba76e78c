// http_batch: what the baseline servers answer, shared by both so that they serve byte for
// byte what c10k-server serves for the benchmark.
//
// The bytes a connection received go in; the responses to every complete request among them
// come out, appended to one buffer the caller sends with a single writev (pipelining). Requests
// are parsed by c10k's own parser (c10k::http::parse_request_head) and heads are written by
// c10k's own c10k::http::append_head with http_date(), so the baselines and c10k differ only
// in how they do I/O.
//
//   GET /plain        200, body "x" (text/plain): the paper's one-byte workload
//   GET /static/PATH  the file PATH under --root, sent by the caller with sendfile
//   GET /stats        {"backend":…,"connections":N,"requests":N,"syscalls":N}
//   anything else     404; a malformed request gets its 4xx and the connection closes
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "c10k/http/parser.hpp"
#include "c10k/http/response.hpp"
#include "counters.hpp"

namespace c10k::baseline {

// What every connection of a server serves; read-only once the server runs.
struct site {
  std::string backend;                      // the /stats "backend"
  int root_fd = -1;                         // --root, opened as a directory; -1: no /static/
  std::function<stats_snapshot()> stats;    // sums the server's counters for /stats
};

// What a connection remembers between batches.
struct http_state {
  std::uint64_t body_left = 0;  // bytes of a request body still to arrive, to be dropped
};

// Working memory for answer_batch, reused from batch to batch so that parsing allocates
// nothing once warm: one per reactor loop, one per connection thread. (Not thread_local: a
// thread_local with a destructor costs each new thread an allocation glibc aborts on when
// memory runs out, and the thread-per-client server must survive that.)
struct batch_scratch {
  http::request_head head;  // its header vector keeps its capacity between requests
  std::string path;         // a /static/ path, percent-decoded
};

// What one batch did.
struct batch_outcome {
  std::size_t consumed = 0;   // input bytes used: complete requests and dropped body bytes
  std::uint32_t requests = 0; // requests answered
  std::uint32_t syscalls = 0; // system calls made (opening a file)
  bool close = false;         // close the connection once the output is sent
  bool file_queued = false;   // `file` holds a file response: send it after the output, then
                              // call again for the requests after it (still in the input)
};

// Answers the complete requests at the start of `in`, appending their responses to `out`.
// Stops after a request whose response is a file (queued in `file`, which must be empty on
// entry, for the caller to send by sendfile after `out`), and after a request that closes the
// connection. Returns what it consumed and did; bytes past `consumed` are an incomplete request
// (or requests after a file) to keep for the next call.
batch_outcome answer_batch(std::string_view in, std::string& out, http_state& state, const site& s,
                           http::response& file, batch_scratch& scratch);

}  // namespace c10k::baseline
