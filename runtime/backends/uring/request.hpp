// uring::request: the record a submission's user_data points to, and the pool that owns them.
//
// The record, not the operation, is what the kernel refers to: when an operation is abandoned
// the record outlives it until the completion arrives. An idle connection's receive holds one
// for as long as it waits, so the record keeps only what every kind needs (24 bytes); a file
// body's scratch buffer or pipe lives in a file_job (files.hpp) it points to.
#pragma once

#include <cstdint>
#include <vector>

#include "c10k/operation.hpp"

namespace c10k::uring {

struct listener_state;
struct file_job;

enum class req_kind : std::uint8_t {
  op,          // an operation's own system call
  poll_retry,  // readiness for an operation done by system call (sendfile; receive without a
               // buffer ring): retry it when the poll completes
  accept,      // a listener's multishot accept
  wake,        // the eventfd read that post() and stop() complete
  file_read,   // read+send file path: the read into scratch; the send follows
  file_send,   // read+send file path: the send from scratch
  splice_in,   // splice file path: file into the pipe; splice_out follows
  splice_out,  // splice file path: pipe into the socket, until the pipe is empty
  internal,    // cancel requests: nothing to do on completion
  close,       // an asynchronous close: counted until it completes
};

struct request {
  req_kind kind = req_kind::op;
  // cancel() asked for this request to end: a completion that would otherwise re-arm the
  // operation (a poll that fired, a starved receive, a file step) completes it instead, since
  // the cancel may have reached the kernel after that completion was posted and found nothing.
  bool cancelled = false;
  // A starved receive submitted again because a buffer came back (counted by provided_buffers).
  bool resubmit = false;
  int fd = -1;
  operation* op = nullptr;  // nullptr once abandoned
  union {
    listener_state* listener = nullptr;  // accept: the listener it accepts for
    file_job* file;                      // file steps: the job's scratch buffer or pipe
  };
};
// One per idle connection's receive: a field more here is 8 bytes more per waiting connection.
static_assert(sizeof(request) == 24);

// Owns every request record; freed records are reused.
class request_pool {
 public:
  request_pool() = default;
  request_pool(const request_pool&) = delete;
  request_pool& operator=(const request_pool&) = delete;
  // Requests the kernel never completed are freed with the ring; their records go here.
  ~request_pool() {
    for (request* r : all_) delete r;
  }

  // Returns a cleared record of `kind` for fd.
  request* make(req_kind kind, int fd) {
    request* r;
    if (free_.empty()) {
      r = new request;
      all_.push_back(r);
    } else {
      r = free_.back();
      free_.pop_back();
    }
    r->kind = kind;
    r->cancelled = r->resubmit = false;
    r->fd = fd;
    r->op = nullptr;
    r->listener = nullptr;
    return r;
  }
  // Takes r back for reuse.
  void free(request* r) { free_.push_back(r); }

 private:
  std::vector<request*> free_;
  std::vector<request*> all_;
};

}  // namespace c10k::uring
