// Service signals (SIGHUP, SIGUSR1) and the threads c10k starts: every one of them must leave
// these signals to runtime::wait_for_signal. A thread that does not block one takes it with its
// default action, which ends the process: a logrotate's SIGHUP would kill the server.
// (Alone in its binary: the child it forks needs a process whose helper pool is not started.)
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "c10k/offload.hpp"
#include "c10k/runtime.hpp"

namespace {

// In the child: the helper pool started from a thread that takes SIGHUP (as any program's main
// thread does by default), then SIGHUP sent 20 times while wait_for_signal waits. Exits 0 when
// the callback saw all 20 and SIGTERM ended the wait.
[[noreturn]] void child_main() {
  ::alarm(20);  // a hang ends the child, and the test with it
  std::promise<void> started;
  c10k::run_on_helper_pool([&] { started.set_value(); });
  started.get_future().wait();
  // What wait_for_signal does on this thread, done before the sender starts, so that no
  // SIGHUP can reach this thread before it waits.
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &hup, nullptr);

  c10k::runtime rt(c10k::runtime_options{.threads = 1, .backend = "epoll"});
  rt.start([](c10k::event_loop&, unsigned) {});
  std::atomic<int> hups{0};
  c10k::run_on_helper_pool([&] {
    for (int i = 0; i < 20; ++i) {
      ::kill(::getpid(), SIGHUP);
      // One at a time: a second SIGHUP sent while the first is pending would merge with it.
      for (int waited = 0; hups.load() <= i && waited < 2000; ++waited)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(::getpid(), SIGTERM);
  });
  const int ended_by = rt.wait_for_signal([&](int signo) {
    if (signo == SIGHUP) hups.fetch_add(1);
  });
  rt.stop();
  rt.join();
  ::_exit(ended_by == SIGTERM && hups.load() == 20 ? 0 : 1);
}

TEST(signal_test, sighup_reaches_wait_for_signal_when_a_thread_taking_it_started_the_helper_pool) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) child_main();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_FALSE(WIFSIGNALED(status)) << "the child died of signal " << WTERMSIG(status) << " ("
                                    << ::strsignal(WTERMSIG(status)) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "SIGHUP was not handed to the callback 20 times, or SIGTERM did not end the wait";
}

}  // namespace
