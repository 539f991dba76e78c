// stop_signal: how the baseline servers learn that they should stop.
//
// SIGINT and SIGTERM are blocked in every thread and taken synchronously by the main thread
// with sigwait, so no handler interrupts a loop and no loop needs to check a flag per turn: the
// main thread wakes the loops itself.
#pragma once

namespace c10k::baseline {

// Blocks SIGINT and SIGTERM in the calling thread and in every thread it starts afterwards, and
// ignores SIGPIPE (a client that left makes a write fail with EPIPE instead of killing us).
// Call before starting any thread.
void block_stop_signals();

// Waits for SIGINT or SIGTERM; returns the signal's number.
int wait_for_stop_signal();

}  // namespace c10k::baseline
