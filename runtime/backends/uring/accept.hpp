// uring::listeners: accepting through one multishot accept per listener.
//
// Connections the multishot delivers while nobody awaits an accept queue in a backlog, up to
// accept_backlog_limit: there the multishot is cancelled, and what the kernel had already
// accepted beyond the bound is closed, as a full listen queue would refuse it; new connections
// then wait in the kernel's listen queue, where they hold no fd.
#pragma once

#include <deque>
#include <unordered_map>

#include "core.hpp"

namespace c10k::uring {

struct listener_state {
  int fd = -1;
  operation* waiting = nullptr;  // the accept operation waiting for a connection
  std::deque<int> backlog;       // connections the multishot accepted that nobody took yet
  request* multishot = nullptr;  // the armed multishot accept, or nullptr
  bool pausing = false;          // the backlog is full: the multishot is being cancelled
  bool closed = false;           // detached: free this once the multishot ends
};

class listeners {
 public:
  explicit listeners(core& c) noexcept : core_(c) {}
  listeners(const listeners&) = delete;
  listeners& operator=(const listeners&) = delete;
  // Closes the connections still in backlogs and frees every listener's state.
  ~listeners();

  // Starts an accept: false with op.result set when a connection was queued (or another
  // accept already waits: -EBUSY), true when op waits for the multishot.
  bool start(operation& op);
  // Takes op out of its listener without completing it; returns whether it was waiting there.
  bool forget(operation& op) noexcept;
  // fd is closing: completes its waiting accept with -ECANCELED, closes its backlog and
  // cancels its multishot (the state is freed with the multishot's last completion).
  void detach(int fd);
  // A completion of a multishot accept; returns 1 when it completed an accept operation.
  std::size_t on_completion(request& r, int res, unsigned flags);

 private:
  void arm(listener_state& l);

  core& core_;
  std::unordered_map<int, listener_state*> open_;
  std::unordered_map<listener_state*, listener_state*> closed_;  // detached, multishot still armed
};

}  // namespace c10k::uring
