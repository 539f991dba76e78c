#include "c10k/fiber_stack.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace c10k {

std::size_t page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

fiber_stack_pool::~fiber_stack_pool() {
  for (const fiber_stack& s : free_) ::munmap(s.base, s.guard + s.size);
}

fiber_stack_pool& fiber_stack_pool::local() {
  thread_local fiber_stack_pool pool;
  return pool;
}

fiber_stack fiber_stack_pool::allocate(std::size_t size) {
  const std::size_t page = page_size();
  size = (std::max(size, page) + page - 1) / page * page;
  for (std::size_t i = free_.size(); i-- > 0;) {
    if (free_[i].size != size) continue;
    fiber_stack s = free_[i];
    free_[i] = free_.back();
    free_.pop_back();
    ++counters_.reused;
    ++counters_.in_use;
    bytes_in_use_ += size;
    return s;
  }
  // MAP_NORESERVE: a stack is mostly untouched address space, not memory to account for.
  void* p = ::mmap(nullptr, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::system_category(), "c10k: cannot map a fiber stack");
  if (::mprotect(p, page, PROT_NONE) != 0) {
    const int err = errno;
    ::munmap(p, size + page);
    throw std::system_error(err, std::system_category(), "c10k: cannot protect a fiber stack's guard page");
  }
  ++counters_.allocated;
  ++counters_.in_use;
  bytes_in_use_ += size;
  return {static_cast<char*>(p), page, size};
}

void fiber_stack_pool::deallocate(const fiber_stack& s) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  // The fiber that ended may leave its frames' redzones poisoned; the next one must not see them.
  ASAN_UNPOISON_MEMORY_REGION(s.bottom(), s.size);
#endif
  --counters_.in_use;
  bytes_in_use_ -= s.size;
  if (free_.size() < limit_) {
    try {
      free_.push_back(s);
      return;
    } catch (...) {
    }
  }
  ::munmap(s.base, s.guard + s.size);
  ++counters_.released;
}

fiber_stack_counters fiber_stack_pool::counters() const noexcept {
  fiber_stack_counters c = counters_;
  c.pooled = free_.size();
  return c;
}

namespace detail {
namespace {

// Read by the signal handler: initial-exec TLS is a plain %fs-relative load, safe in a signal.
__attribute__((tls_model("initial-exec"))) thread_local const stack_guard_info* running_stack = nullptr;

struct sigaction previous_segv;

// A frame that skips past the guard page lands below it; treat a fault that close as an overflow
// too (a guard page cannot catch a frame larger than the gap it leaves below, but it will name
// every overflow that grows frame by frame).
constexpr std::size_t overflow_slack = 64 * 1024;

void write_all(const char* s, std::size_t n) noexcept {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return;
    }
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Appends the decimal digits of v at p; returns the new end. Async-signal-safe.
char* put_number(char* p, std::uint64_t v) noexcept {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

char* put_text(char* p, const char* s) noexcept {
  while (*s) *p++ = *s++;
  return p;
}

void on_segv(int sig, siginfo_t* info, void* context) {
  const stack_guard_info* s = running_stack;
  const char* addr = static_cast<const char*>(info->si_addr);
  if (s && addr < s->guard_hi && addr + overflow_slack >= s->guard_lo) {
    char line[160];
    char* p = put_text(line, "c10k: fiber ");
    if (s->name[0]) p = put_text(p, s->name);
    else p = put_number(p, s->id);
    p = put_text(p, " overflowed its ");
    p = put_number(p, s->size / 1024);
    p = put_text(p, " KiB stack\n");
    write_all(line, static_cast<std::size_t>(p - line));
    std::abort();
  }
  // Not ours: hand it to whoever handled SIGSEGV before (a sanitizer), else die as without us.
  if ((previous_segv.sa_flags & SA_SIGINFO) && previous_segv.sa_sigaction) {
    previous_segv.sa_sigaction(sig, info, context);
    return;
  }
  if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
    return;
  }
  ::signal(SIGSEGV, SIG_DFL);
  // A real fault happens again when the handler returns; a sent signal must be raised again.
  if (info->si_code <= 0) ::raise(SIGSEGV);
}

// The alternate signal stack of this thread, unmapped at thread exit.
class alt_stack {
 public:
  alt_stack() {
    stack_t current{};
    if (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // keep one already there
    constexpr std::size_t size = 64 * 1024;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    stack_t st{};
    st.ss_sp = p;
    st.ss_size = size;
    if (::sigaltstack(&st, nullptr) != 0) {
      ::munmap(p, size);
      return;
    }
    mem_ = p;
    size_ = size;
  }
  ~alt_stack() {
    if (!mem_) return;
    stack_t st{};
    st.ss_flags = SS_DISABLE;
    ::sigaltstack(&st, nullptr);
    ::munmap(mem_, size_);
  }

 private:
  void* mem_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

const stack_guard_info* set_running_stack(const stack_guard_info* info) noexcept {
  const stack_guard_info* previous = running_stack;
  running_stack = info;
  return previous;
}

void prepare_overflow_handler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction sa{};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &previous_segv);
  });
  thread_local alt_stack stack;
  (void)stack;
}

}  // namespace detail
}  // namespace c10k
