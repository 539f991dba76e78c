// c10k-threads: the benchmark's thread-per-client server, with blocking I/O (strategy 4 of
// Kegel's C10K page).
//
// An accept loop (one per --threads, each on its own SO_REUSEPORT listener) starts one detached
// thread per connection, with a small stack (--stack-kib) so that thousands fit. The thread
// reads, answers, writes and sendfiles with plain blocking calls, parsing with c10k's parser and
// answering with c10k's head writer, like the other servers. This is the model the benchmark
// shows reaching its limits: when no thread can be had for a connection, that connection is
// closed (logged once), and the server carries on.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "http_batch.hpp"
#include "listener.hpp"
#include "options.hpp"
#include "stop_signal.hpp"

using namespace c10k;
using namespace c10k::baseline;

namespace {

constexpr std::uint32_t initial_buffer = 4096;    // enough for a burst of pipelined requests
constexpr std::uint32_t max_buffer = 128 * 1024;  // past the parser's 64 KiB head limit

// Shared by every thread, so unlike a reactor loop's counters these need atomic additions; a
// connection adds its system calls once per batch, not once per call.
struct shared_counters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> syscalls{0};
};

shared_counters counters;
site serves;                       // read-only once the first thread starts
unsigned idle_timeout_s = 60;
std::atomic<bool> stopping{false};
std::atomic<std::uint64_t> refused{0};  // connections closed for want of a thread
std::atomic<bool> refusal_logged{false};
std::atomic<bool> accept_error_logged{false};
std::atomic<bool> failure_logged{false};

// Sends the answers in `out`, then the file queued in `file` (which it closes), blocking until
// all is sent; returns false when the client is gone or stopped reading for the idle timeout.
bool send_batch(int fd, const std::string& out, http::response& file, std::uint64_t& syscalls) {
  std::size_t sent = 0;
  while (sent < out.size()) {
    iovec v{const_cast<char*>(out.data()) + sent, out.size() - sent};
    ssize_t n;
    if (file.file()) {
      // MSG_MORE: the head waits for the file's first bytes, so both leave in full packets.
      msghdr m{};
      m.msg_iov = &v;
      m.msg_iovlen = 1;
      n = ::sendmsg(fd, &m, MSG_MORE | MSG_NOSIGNAL);
    } else {
      n = ::writev(fd, &v, 1);
    }
    ++syscalls;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  if (const http::file_body& f = file.file()) {
    std::size_t done = 0;
    while (done < f.length()) {
      off_t at = f.offset() + static_cast<off_t>(done);
      const ssize_t n = ::sendfile(fd, f.fd(), &at, f.length() - done);
      ++syscalls;
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;  // an error, or the file shrank under us
      }
    }
    const bool complete = done == f.length();
    file = http::response();  // closes the file
    ++syscalls;
    if (!complete) return false;
  }
  return true;
}

// One connection, start to end, on its own thread.
void serve(int fd) {
  std::uint64_t syscalls = 0;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as c10k-server does
  ++syscalls;
  if (idle_timeout_s > 0) {
    // The idle timeout costs nothing per request here: a blocked recv or send gives up by itself.
    const timeval limit{static_cast<time_t>(idle_timeout_s), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    syscalls += 2;
  }
  std::unique_ptr<char[]> in(new char[initial_buffer]);
  std::uint32_t in_len = 0, in_cap = initial_buffer;
  std::string out;
  http::response file;
  http_state state;
  batch_scratch scratch;
  for (bool open = true; open;) {
    if (in_len == in_cap) {
      // Full of an unfinished request: grow (the parser refuses a head past 64 KiB).
      if (in_cap >= max_buffer) break;
      std::unique_ptr<char[]> bigger(new char[in_cap * 2]);
      std::memcpy(bigger.get(), in.get(), in_len);
      in = std::move(bigger);
      in_cap *= 2;
    }
    const ssize_t n = ::recv(fd, in.get() + in_len, in_cap - in_len, 0);
    ++syscalls;
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;  // the client closed, an error, or the idle timeout (EAGAIN)
    }
    in_len += static_cast<std::uint32_t>(n);
    // Answer everything complete; after a file, the requests that waited behind it.
    for (;;) {
      const batch_outcome o = answer_batch(std::string_view(in.get(), in_len), out, state, serves, file, scratch);
      counters.requests.fetch_add(o.requests, std::memory_order_relaxed);
      syscalls += o.syscalls;
      in_len -= static_cast<std::uint32_t>(o.consumed);
      if (in_len > 0 && o.consumed > 0) std::memmove(in.get(), in.get() + o.consumed, in_len);
      if (!out.empty() && !send_batch(fd, out, file, syscalls)) open = false;
      out.clear();
      if (o.close) open = false;
      if (!open || !o.file_queued || in_len == 0) break;
    }
    counters.syscalls.fetch_add(syscalls, std::memory_order_relaxed);
    syscalls = 0;
  }
  ::close(fd);
  counters.syscalls.fetch_add(syscalls + 1, std::memory_order_relaxed);
}

void* connection_thread(void* arg) {
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
  try {
    serve(fd);
  } catch (const std::exception& e) {
    // Out of memory for a buffer: this connection ends, the others go on.
    ::close(fd);
    if (!failure_logged.exchange(true))
      fmt::print(stderr, "c10k-threads: a connection failed: {}; closing it (logged once)\n", e.what());
  }
  counters.connections.fetch_sub(1, std::memory_order_relaxed);
  return nullptr;
}

// Accepts until the listener is shut down, starting a thread per connection.
void accept_loop(int listen_fd, std::size_t stack_bytes) {
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, stack_bytes);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    counters.syscalls.fetch_add(1, std::memory_order_relaxed);
    if (fd < 0) {
      if (stopping.load()) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the connection stays queued; wait for some to be freed.
        if (!accept_error_logged.exchange(true))
          fmt::print(stderr, "c10k-threads: accept: {}; retrying every 10 ms (logged once)\n", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (errno == EINVAL) break;  // the listener was shut down
      continue;
    }
    counters.connections.fetch_add(1, std::memory_order_relaxed);
    pthread_t thread;
    // pthread_create is counted as one system call (the clone); glibc reuses cached stacks.
    const int err = ::pthread_create(&thread, &attr, connection_thread, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
    counters.syscalls.fetch_add(1, std::memory_order_relaxed);
    if (err != 0) {
      // Where this model stops: no thread (memory, RLIMIT_NPROC, threads-max, pid_max), so this
      // client is turned away instead of the server going down.
      ::close(fd);
      counters.syscalls.fetch_add(1, std::memory_order_relaxed);
      counters.connections.fetch_sub(1, std::memory_order_relaxed);
      refused.fetch_add(1, std::memory_order_relaxed);
      if (!refusal_logged.exchange(true))
        fmt::print(stderr, "c10k-threads: cannot start a thread for a connection ({}): closing it (logged once)\n",
                   std::strerror(err));
    }
  }
  ::pthread_attr_destroy(&attr);
}

}  // namespace

int main(int argc, char** argv) {
  server_options opt;
  if (int status = parse_options(argc, argv, server_kind::threads, opt); status >= 0) return status;
  raise_fd_limit();
  block_stop_signals();  // before any thread starts, so that every thread inherits the mask

  idle_timeout_s = opt.idle_timeout_s;
  serves.backend = "threads";
  serves.stats = [] {
    return stats_snapshot{counters.connections.load(std::memory_order_relaxed),
                          counters.requests.load(std::memory_order_relaxed),
                          counters.syscalls.load(std::memory_order_relaxed)};
  };
  if (!opt.root.empty()) {
    serves.root_fd = ::open(opt.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (serves.root_fd < 0) {
      fmt::print(stderr, "c10k-threads: cannot open {}: {}\n", opt.root, std::strerror(errno));
      return 1;
    }
  }

  std::vector<int> listeners;
  std::uint16_t port = opt.port;
  for (unsigned i = 0; i < opt.threads; ++i) {
    const int fd = open_listener(opt.host, port, /*nonblocking=*/false);
    if (fd < 0) {
      fmt::print(stderr, "c10k-threads: cannot listen on {}:{}: {}\n", opt.host, port, std::strerror(-fd));
      return 1;
    }
    if (i == 0) port = bound_port(fd);
    listeners.push_back(fd);
  }
  const std::size_t stack_bytes = std::size_t(opt.stack_kib) * 1024;
  std::vector<std::thread> acceptors;
  for (int fd : listeners) acceptors.emplace_back(accept_loop, fd, stack_bytes);
  fmt::print("c10k-threads: serving http://{}:{}/ with a thread per connection ({} KiB stacks), {} accept thread{}{}\n",
             opt.host, port, opt.stack_kib, opt.threads, opt.threads == 1 ? "" : "s",
             opt.root.empty() ? "" : ", files from " + opt.root + " at /static/");
  std::fflush(stdout);

  wait_for_stop_signal();
  stopping = true;
  for (int fd : listeners) ::shutdown(fd, SHUT_RDWR);  // a blocked accept returns EINVAL
  for (std::thread& t : acceptors) t.join();
  fmt::print("c10k-threads: stopped ({} connection{} closed for want of a thread)\n", refused.load(),
             refused.load() == 1 ? "" : "s");
  std::fflush(stdout);
  // Connection threads still block in recv: ending the process ends them. _Exit skips static
  // destructors, which those threads could otherwise see half way.
  std::_Exit(0);
}
