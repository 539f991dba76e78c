#include "c10k/runtime.hpp"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <exception>
#include <latch>
#include <mutex>

#include "c10k/log.hpp"

namespace c10k {

namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// The signals wait_for_signal can hand to a callback while it keeps waiting.
constexpr int service_signals[] = {SIGHUP, SIGUSR1};

// What the loop threads block: the stop signals and the service signals, so that the thread
// in wait_for_signal takes each of them.
sigset_t loop_blocked_signals() {
  sigset_t set = stop_signals();
  for (int s : service_signals) sigaddset(&set, s);
  return set;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}
}  // namespace

unsigned available_cpus() noexcept {
  auto n = allowed_cpus().size();
  return n ? static_cast<unsigned>(n) : 1u;
}

runtime::runtime(runtime_options options) : options_(std::move(options)) {
  if (options_.threads == 0) options_.threads = available_cpus();
  done_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

runtime::~runtime() {
  stop();
  join();
  if (done_fd_ >= 0) ::close(done_fd_);
}

void runtime::start(std::function<void(event_loop&, unsigned)> setup) {
  const unsigned n = options_.threads;
  const std::vector<int> cpus = allowed_cpus();
  {
    std::lock_guard lock(loops_mutex_);
    loops_.assign(n, nullptr);
  }
  std::latch ready(n);
  std::mutex error_mutex;
  std::exception_ptr first_error;

  // Threads inherit the signal mask: block the stop signals around their creation.
  sigset_t blocked = loop_blocked_signals(), previous;
  ::pthread_sigmask(SIG_BLOCK, &blocked, &previous);
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([&, i] {
      std::unique_ptr<event_loop> loop;
      try {
        if (options_.pin_cpus && !cpus.empty()) {
          cpu_set_t set;
          CPU_ZERO(&set);
          CPU_SET(cpus[i % cpus.size()], &set);
          if (::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) != 0)
            log(log_level::warning, "cannot pin loop {} to CPU {}", i, cpus[i % cpus.size()]);
        }
        loop = std::make_unique<event_loop>(options_.backend);
        setup(*loop, i);
        std::lock_guard lock(loops_mutex_);
        loops_[i] = loop.get();
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        loop.reset();
      }
      ready.count_down();
      if (loop) loop->run();
      {
        std::lock_guard lock(loops_mutex_);
        loops_[i] = nullptr;
      }
      loop.reset();
      (void)::eventfd_write(done_fd_, 1);
    });
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ready.wait();
  if (first_error) {
    stop();
    join();
    std::rethrow_exception(first_error);
  }
}

void runtime::stop() noexcept {
  std::lock_guard lock(loops_mutex_);
  for (event_loop* l : loops_)
    if (l) l->stop();
}

bool runtime::post(unsigned i, std::function<void()> fn) {
  std::lock_guard lock(loops_mutex_);
  if (i >= loops_.size() || !loops_[i]) return false;
  loops_[i]->post(std::move(fn));
  return true;
}

void runtime::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

int runtime::wait_for_signal(const std::function<void(int)>& on_service_signal) {
  sigset_t set = stop_signals(), previous;
  if (on_service_signal)
    for (int s : service_signals) sigaddset(&set, s);
  ::pthread_sigmask(SIG_BLOCK, &set, &previous);
  // An ignored signal is discarded before signalfd can see it, and a shell starts background
  // jobs with SIGINT ignored: take the default disposition (harmless while blocked).
  struct sigaction dfl {}, old_int{}, old_term{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGINT, &dfl, &old_int);
  ::sigaction(SIGTERM, &dfl, &old_term);
  struct sigaction old_service[std::size(service_signals)]{};
  if (on_service_signal)
    for (std::size_t i = 0; i < std::size(service_signals); ++i) ::sigaction(service_signals[i], &dfl, &old_service[i]);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  int signal_number = 0;
  std::uint64_t ended = 0;
  while (sfd >= 0 && ended < threads_.size()) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {done_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      if (::read(sfd, &info, sizeof info) == sizeof info) {
        const int signo = static_cast<int>(info.ssi_signo);
        if (signo != SIGINT && signo != SIGTERM) {
          on_service_signal(signo);
          continue;
        }
        signal_number = signo;
        break;
      }
    }
    if (fds[1].revents & POLLIN) {
      eventfd_t v = 0;
      if (::eventfd_read(done_fd_, &v) == 0) ended += v;
    }
  }
  if (sfd >= 0) ::close(sfd);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (on_service_signal)
    for (std::size_t i = 0; i < std::size(service_signals); ++i) ::sigaction(service_signals[i], &old_service[i], nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return signal_number;
}

}  // namespace c10k
