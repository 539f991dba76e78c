// uring::file_bodies: how a file body (a sendfile operation) reaches the socket on io_uring.
//
// C10K_IO_URING_FILE_PATH picks the path: the sendfile system call with POLLOUT through the
// ring (the default; the backend does that one itself, as it does any system call without an
// opcode), a splice pair through a pipe, or a read into a scratch buffer and a send, both
// through the ring. The last two go in steps of at most file_step_bytes; each step's state is
// a file_job, pooled here, so that request records stay small.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "core.hpp"

namespace c10k::uring {

// One file step's state: the read+send path's scratch buffer (kept with the job for its next
// use), or the splice path's pipe (given back when the step ends) with the bytes in it and
// the bytes sent so far.
struct file_job {
  std::unique_ptr<char[]> scratch;
  int pipe_r = -1, pipe_w = -1;
  std::size_t in_pipe = 0, sent = 0;
};

class file_bodies {
 public:
  explicit file_bodies(core& c) noexcept : core_(c) {}
  file_bodies(const file_bodies&) = delete;
  file_bodies& operator=(const file_bodies&) = delete;
  // Closes every pipe, idle or still held by a job.
  ~file_bodies();

  // Reads C10K_IO_URING_FILE_PATH.
  void configure();
  // Whether file bodies go by the sendfile system call (the backend's poll + retry).
  bool by_sendfile() const noexcept { return path_ == path::sendfile; }

  // Starts one step of op's body on the splice or read+send path; returns false with
  // op.result set when it cannot start.
  bool start(operation& op);
  // The next completion of a step; returns 1 when the operation completed.
  std::size_t on_completion(request& r, int res);

 private:
  enum class path { sendfile, splice, readsend };

  file_job* take_job();
  void return_job(file_job* j, bool pipe_empty);
  // Queues the splice of what is in the pipe into the socket.
  void splice_out(request& r, const operation& op);

  core& core_;
  path path_ = path::sendfile;
  std::vector<std::pair<int, int>> pipes_;  // idle pipes for the splice path
  std::vector<std::unique_ptr<file_job>> jobs_;
  std::vector<file_job*> free_jobs_;
};

}  // namespace c10k::uring
