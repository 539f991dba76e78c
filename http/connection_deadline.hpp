// connection_deadline: the one deadline of a connection, with named phases (private to
// c10k::http).
#pragma once

#include <cstdint>
#include <system_error>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/time.hpp"

namespace c10k::http {

// What a connection is waiting for; each phase has its own timeout in server_options.
enum class connection_phase : std::uint8_t {
  idle,     // between requests: keepalive_timeout (header_timeout before the first request)
  head,     // a request head under way: header_timeout from that request's first byte
  body,     // a request body under way: body_timeout of silence, and a minimum rate
  handler,  // the handler runs: no deadline (handler time never counts against the client)
  write,    // a response is being sent: send_timeout for each write to make progress
  linger,   // lingering close: lingering_timeout per read, lingering_time in all
  handshake,  // a TLS handshake: tls_handshake_timeout from accept
};

// When the deadline passes, its target is cancelled with timed_out: the idle wait while the
// connection is idle, the scope of its burst of requests while it serves. That ends whatever
// I/O the connection waits on, and the connection closes (408 first when a request
// was under way: the phase says which).
//
// Arming and disarming are lazy, because a busy keep-alive connection does both several times
// per request and the timer heap holds every connection (10,000 idle ones: each heap operation
// walks 14 levels). The entry in the heap may fire early: it only has to fire no later than
// the deadline wanted now. When it fires, it is dropped if the deadline was disarmed since,
// queued again if the deadline moved later, and cancels the scope only once the deadline
// really passed. So the heap is touched when a deadline moves earlier than the queued entry
// and when an entry fires, not per request.
class connection_deadline : private timer_entry {
 public:
  explicit connection_deadline(event_loop& loop) noexcept : loop_(&loop) {
    fire = [](timer_entry* t) { static_cast<connection_deadline*>(t)->expire(); };
  }
  connection_deadline(const connection_deadline&) = delete;
  connection_deadline& operator=(const connection_deadline&) = delete;
  ~connection_deadline() { loop_->remove_timer(*this); }

  // What the deadline calls when it passes: fn(ctx, timed_out).
  using cancel_fn = void (*)(void* ctx, std::error_code reason) noexcept;
  // Makes t what the deadline cancels when it passes (nullptr: nothing).
  void retarget(cancellable* t) noexcept {
    fn_ = nullptr;
    if (t) fn_ = [](void* p, std::error_code r) noexcept { static_cast<cancellable*>(p)->cancel(r); };
    ctx_ = t;
  }
  // Makes fn(ctx, timed_out) what happens when the deadline passes (an idle connection's wait,
  // which is not a cancellable of its own: that would cost every idle connection 24 bytes).
  void retarget(cancel_fn fn, void* ctx) noexcept {
    fn_ = fn;
    ctx_ = ctx;
  }
  // Enters phase p, which must be over by `at`.
  void enter(connection_phase p, clock::time_point at) {
    phase_ = p;
    wanted_ = at;
    if (queued()) {
      if (deadline <= at) return;  // fires early, then queues itself for the rest
      loop_->remove_timer(*this);
    }
    deadline = at;
    loop_->add_timer(*this);
  }
  // Enters a phase without a deadline (the handler's); a queued entry is dropped when it fires.
  void enter_untimed(connection_phase p) noexcept {
    phase_ = p;
    wanted_ = clock::time_point::max();
  }
  // The phase the connection is in.
  connection_phase phase() const noexcept { return phase_; }
  // When the phase must be over (clock::time_point::max(): no deadline).
  clock::time_point wanted() const noexcept { return wanted_; }
  // True once the deadline passed and cancelled its target (in the phase() it was in then).
  bool expired() const noexcept { return expired_; }

 private:
  void expire() {
    if (wanted_ == clock::time_point::max()) return;
    if (wanted_ > loop_->now()) {
      deadline = wanted_;
      loop_->add_timer(*this);
      return;
    }
    expired_ = true;
    if (fn_) fn_(ctx_, std::make_error_code(std::errc::timed_out));
  }

  event_loop* loop_;
  cancel_fn fn_ = nullptr;
  void* ctx_ = nullptr;
  clock::time_point wanted_ = clock::time_point::max();  // max: no deadline
  connection_phase phase_ = connection_phase::idle;
  bool expired_ = false;
};

}  // namespace c10k::http
