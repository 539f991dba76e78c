// What crosses threads: runtime (loops on their own threads, post, stop), offload to the helper
// pool, and cross_channel between loops; in particular what happens when the waiting side is
// cancelled or destroyed while the other thread still works for it. These suites also run under
// ThreadSanitizer (make test-tsan), which is why the fiber cases carry "fiber" in their names:
// that build leaves them out (TSan cannot follow Boost.Context stack switches).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "c10k/cross_channel.hpp"
#include "c10k/fiber.hpp"
#include "c10k/offload.hpp"
#include "c10k/runtime.hpp"
#include "c10k/sync.hpp"
#include "c10k/time.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

// Every item was received exactly once: none missing, none doubled.
template <typename Counts>
void expect_each_item_once(const Counts& seen) {
  int missing = 0, doubled = 0;
  for (int n : seen) {
    missing += n == 0;
    doubled += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(doubled, 0);
}

class cross_thread_test : public c10k::testing::backend_test {};

// Bounds every wait on another thread, so that a defect fails the test instead of hanging it.
constexpr auto patience = 20s;

// A door one thread opens and others wait at (for at most `patience`).
class gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // True once open; false when patience ran out.
  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, patience, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Waits until pred() holds; false when patience ran out first.
template <typename Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A value that counts its live copies, to see that an abandoned result is destroyed, once.
class tracked {
 public:
  tracked(std::atomic<int>& live, int v) : live_(&live), value_(v) { ++*live_; }
  tracked(const tracked& o) : live_(o.live_), value_(o.value_) { ++*live_; }
  tracked& operator=(const tracked&) = delete;
  ~tracked() { --*live_; }
  int value() const { return value_; }

 private:
  std::atomic<int>* live_;
  int value_;
};

// What the blocking jobs of the offload tests share with the test; the jobs hold it by
// shared_ptr because they may outlive the frame that started them.
struct job_control {
  gate started;
  gate release;
  std::atomic<int> live{0};      // tracked values alive
  std::atomic<int> finished{0};  // jobs that returned
};

// A job that says it started, blocks until released, then returns a tracked value.
auto blocking_job(std::shared_ptr<job_control> c, int v) {
  return [c, v] {
    c->started.open();
    (void)c->release.wait();
    tracked out(c->live, v);
    ++c->finished;
    return out;
  };
}

// A blocking call to offload: sleeps for d (the call's work), then returns a tracked v.
tracked sleep_then_track(std::chrono::microseconds d, const std::shared_ptr<std::atomic<int>>& live,
                         const std::shared_ptr<std::atomic<int>>& done, int v) {
  std::this_thread::sleep_for(d);
  tracked out(*live, v);
  ++*done;
  return out;
}

}  // namespace

// --- runtime -------------------------------------------------------------------------------

TEST_P(cross_thread_test, a_runtime_runs_posts_on_each_loops_own_thread_and_stops_from_outside) {
  constexpr unsigned loops = 3;
  constexpr int posts_per_loop = 200;
  runtime rt({.threads = loops, .backend = backend_name()});
  std::vector<std::thread::id> loop_thread(loops);
  rt.start([&](event_loop&, unsigned i) { loop_thread[i] = std::this_thread::get_id(); });
  std::atomic<int> ran{0};
  std::atomic<int> wrong_thread{0};
  // Two posting threads per loop, racing each other and the loop.
  std::vector<std::thread> posters;
  for (unsigned i = 0; i < loops; ++i) {
    for (int p = 0; p < 2; ++p) {
      posters.emplace_back([&, i] {
        for (int n = 0; n < posts_per_loop / 2; ++n) {
          EXPECT_TRUE(rt.post(i, [&, i] {
            if (std::this_thread::get_id() != loop_thread[i]) ++wrong_thread;
            ++ran;
          }));
        }
      });
    }
  }
  for (auto& t : posters) t.join();
  EXPECT_TRUE(eventually([&] { return ran.load() == int(loops) * posts_per_loop; }));
  std::thread stopper([&] { rt.stop(); });
  stopper.join();
  rt.join();
  EXPECT_EQ(wrong_thread.load(), 0);
  EXPECT_FALSE(rt.post(0, [] {}));  // the loop is gone: refused, not queued on freed memory
}

TEST_P(cross_thread_test, a_runtime_whose_setup_throws_stops_the_loops_already_running) {
  runtime rt({.threads = 3, .backend = backend_name()});
  EXPECT_THROW(rt.start([](event_loop&, unsigned i) {
    if (i == 1) throw std::runtime_error("setup failed");
  }),
               std::runtime_error);
  EXPECT_FALSE(rt.post(0, [] {}));
}

// --- offload -------------------------------------------------------------------------------

TEST_P(cross_thread_test, an_offload_returns_the_value_on_the_callers_loop) {
  event_loop loop(backend_name());
  auto r = loop.block_on([]() -> task<result<std::pair<std::thread::id, std::thread::id>>> {
    auto helper = co_await offload([] { return std::this_thread::get_id(); });
    if (!helper) co_return helper.error();
    co_return std::pair{*helper, std::this_thread::get_id()};
  }());
  ASSERT_TRUE(r);
  EXPECT_NE(r->first, std::this_thread::get_id());
  EXPECT_EQ(r->second, std::this_thread::get_id());
}

TEST_P(cross_thread_test, a_timed_out_offload_returns_at_once_and_its_late_value_is_dropped) {
  event_loop loop(backend_name());
  auto c = std::make_shared<job_control>();
  auto r = loop.block_on([](std::shared_ptr<job_control> c) -> task<result<tracked>> {
    co_return co_await with_timeout(2ms, offload(blocking_job(c, 1)));
  }(c));
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_EQ(c->finished.load(), 0);  // the caller did not wait for the job
  c->release.open();
  EXPECT_TRUE(eventually([&] { return c->finished.load() == 1 && c->live.load() == 0; }));
  // The loop is still usable, and nothing was posted to it that resumes anyone.
  EXPECT_TRUE(loop.block_on(sleep_for(1ms)));
}

TEST_P(cross_thread_test, an_offload_in_a_cancelled_scope_never_starts_its_job) {
  event_loop loop(backend_name());
  std::atomic<int> calls{0};
  cancel_scope scope;
  scope.cancel();
  auto r = loop.block_on([](cancel_scope& s, std::atomic<int>& calls) -> task<result<int>> {
    co_return co_await in_scope(s, offload([&calls] { return ++calls; }));
  }(scope, calls));
  EXPECT_EQ(r.error(), std::errc::operation_canceled);
  EXPECT_EQ(calls.load(), 0);
}

// The caller's task and its loop are destroyed while the job runs (a connection destroyed at
// drain time): the job's value must not land in the dead frame nor its resumption on the dead
// loop; it is destroyed on the helper thread.
TEST_P(cross_thread_test, an_offload_whose_loop_is_destroyed_while_its_job_runs_drops_the_value) {
  auto c = std::make_shared<job_control>();
  std::atomic<bool> resumed{false};
  {
    auto loop = std::make_unique<event_loop>(backend_name());  // on the heap: ASan sees a late use
    loop->spawn([](std::shared_ptr<job_control> c, std::atomic<bool>& resumed) -> task<> {
      auto v = co_await offload(blocking_job(c, 7));
      resumed = true;
    }(c, resumed));
    ASSERT_TRUE(loop->block_on(sleep_for(0ms)));  // one turn: the task hands its job over
    ASSERT_TRUE(c->started.wait());
  }
  c->release.open();
  EXPECT_TRUE(eventually([&] { return c->finished.load() == 1 && c->live.load() == 0; }));
  EXPECT_FALSE(resumed.load());
}

TEST_P(cross_thread_test, an_offload_whose_fiber_is_unwound_while_its_job_runs_drops_the_value) {
  auto c = std::make_shared<job_control>();
  std::atomic<bool> resumed{false};
  {
    auto loop = std::make_unique<event_loop>(backend_name());
    (void)spawn_fiber(*loop, [c, &resumed] {
      auto v = fiber::await(offload(blocking_job(c, 7)));
      resumed = true;
    });
    ASSERT_TRUE(loop->block_on(sleep_for(0ms)));
    ASSERT_TRUE(c->started.wait());
  }
  c->release.open();
  EXPECT_TRUE(eventually([&] { return c->finished.load() == 1 && c->live.load() == 0; }));
  EXPECT_FALSE(resumed.load());
}

TEST_P(cross_thread_test, a_fiber_offload_ends_with_its_timeout) {
  event_loop loop(backend_name());
  auto c = std::make_shared<job_control>();
  auto h = spawn_fiber(loop, [c] { return fiber::await(with_timeout(2ms, offload(blocking_job(c, 1)))).error(); });
  auto ec = loop.block_on([](fiber_handle<std::error_code> h) -> task<std::error_code> { co_return co_await h.join(); }(h));
  EXPECT_EQ(ec, std::errc::timed_out);
  c->release.open();
  EXPECT_TRUE(eventually([&] { return c->finished.load() == 1 && c->live.load() == 0; }));
}

// Several loops offload at once, each wait cut short by a random timeout that may fire before,
// during or after the job's completion is posted. Every value that reached its caller is the
// right one; every value, delivered or dropped, is destroyed once.
TEST_P(cross_thread_test, offloads_cancelled_at_random_from_several_loops_lose_and_leak_nothing) {
  constexpr unsigned loops = 2;
  constexpr int tasks_per_loop = 3;
  constexpr int offloads_per_task = 400;
  auto live = std::make_shared<std::atomic<int>>(0);
  auto jobs_done = std::make_shared<std::atomic<int>>(0);
  std::atomic<int> delivered{0}, timed_out{0}, wrong{0};
  runtime rt({.threads = loops, .backend = backend_name()});
  rt.start([&](event_loop& loop, unsigned index) {
    auto left = std::make_shared<int>(tasks_per_loop);
    for (int t = 0; t < tasks_per_loop; ++t) {
      loop.spawn([](event_loop& loop, std::shared_ptr<int> left, unsigned seed, std::shared_ptr<std::atomic<int>> live,
                    std::shared_ptr<std::atomic<int>> jobs_done, std::atomic<int>& delivered, std::atomic<int>& timed_out,
                    std::atomic<int>& wrong) -> task<> {
        std::minstd_rand rng(seed);
        for (int i = 0; i < offloads_per_task; ++i) {
          const auto job_time = std::chrono::microseconds(rng() % 100);
          const auto limit = std::chrono::microseconds(rng() % 1000);
          auto r = co_await with_timeout(limit, offload(sleep_then_track, job_time, live, jobs_done, i));
          if (r) {
            ++delivered;
            if (r->value() != i) ++wrong;
          } else if (r.error() == std::errc::timed_out) {
            ++timed_out;
          } else {
            ++wrong;
          }
        }
        if (--*left == 0) loop.stop();
      }(loop, left, index * 100 + t, live, jobs_done, delivered, timed_out, wrong));
    }
  });
  rt.join();
  constexpr int total = int(loops) * tasks_per_loop * offloads_per_task;
  EXPECT_EQ(delivered.load() + timed_out.load(), total);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(eventually([&] { return jobs_done->load() == total && live->load() == 0; }))
      << jobs_done->load() << " jobs done, " << live->load() << " values alive";
  RecordProperty("timed_out", timed_out.load());
}

// --- cross_channel -------------------------------------------------------------------------

TEST_P(cross_thread_test, a_cross_channel_receive_ends_with_its_timeout_and_leaves_the_queue) {
  cross_channel<int> ch(1);
  gate done;
  // Should the receive never end, closing the channel ends it (with the wrong error).
  std::thread watchdog([&] {
    if (!done.wait()) ch.close();
  });
  event_loop loop(backend_name());
  auto r = loop.block_on([](cross_channel<int>& ch) -> task<result<int>> {
    co_return co_await with_timeout(2ms, ch.receive());
  }(ch));
  done.open();
  watchdog.join();
  EXPECT_EQ(r.error(), std::errc::timed_out);
  int v = 5;
  EXPECT_TRUE(ch.try_send(v));  // buffered, not handed to the receiver that gave up
  EXPECT_EQ(ch.try_receive(), 5);
}

TEST_P(cross_thread_test, a_cross_channel_send_ends_with_its_timeout_and_its_item_stays_out) {
  cross_channel<int> ch(1);
  int first = 1;
  ASSERT_TRUE(ch.try_send(first));
  gate done;
  std::thread watchdog([&] {
    if (!done.wait()) ch.close();
  });
  event_loop loop(backend_name());
  auto r = loop.block_on([](cross_channel<int>& ch) -> task<result<void>> {
    co_return co_await with_timeout(2ms, ch.send(2));
  }(ch));
  done.open();
  watchdog.join();
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_EQ(ch.try_receive(), 1);
  EXPECT_EQ(ch.try_receive(), std::nullopt);  // the item of the send that gave up never went in
}

TEST_P(cross_thread_test, a_cross_channel_carries_move_only_items_across_loops) {
  cross_channel<std::unique_ptr<int>> ch(1);
  std::thread receiving([&] {
    event_loop loop(backend_name());
    auto r = loop.block_on([](cross_channel<std::unique_ptr<int>>& ch) -> task<result<std::unique_ptr<int>>> {
      co_return co_await with_timeout(patience, ch.receive());
    }(ch));
    EXPECT_TRUE(r && **r == 42);
  });
  event_loop loop(backend_name());
  EXPECT_TRUE(loop.block_on([](cross_channel<std::unique_ptr<int>>& ch) -> task<result<void>> {
    co_return co_await with_timeout(patience, ch.send(std::make_unique<int>(42)));
  }(ch)));
  receiving.join();
}

TEST_P(cross_thread_test, a_cross_channel_wait_in_a_cancelled_scope_fails_without_waiting) {
  cross_channel<int> ch(1);
  event_loop loop(backend_name());
  cancel_scope scope;
  scope.cancel(std::make_error_code(std::errc::interrupted));
  auto r = loop.block_on([](cancel_scope& s, cross_channel<int>& ch) -> task<result<int>> {
    co_return co_await in_scope(s, ch.receive());
  }(scope, ch));
  EXPECT_EQ(r.error(), std::errc::interrupted);
}

// Senders on one loop, receivers on another, both cut short by random timeouts while the other
// side runs. Every item arrives exactly once: a receive that timed out took nothing, a send that
// timed out put nothing in.
TEST_P(cross_thread_test, cross_channel_waits_cancelled_at_random_lose_and_duplicate_nothing) {
  constexpr int senders = 3;
  constexpr int receivers = 4;
  constexpr int per_sender = 2000;
  cross_channel<int> ch(2);
  std::vector<int> seen(senders * per_sender, 0);  // touched only on the receiving loop
  std::atomic<int> receive_timeouts{0}, send_timeouts{0}, unexpected{0};
  runtime rt({.threads = 2, .backend = backend_name()});
  rt.start([&](event_loop& loop, unsigned index) {
    if (index == 0) {
      auto left = std::make_shared<int>(senders);
      for (int s = 0; s < senders; ++s) {
        loop.spawn([](event_loop& loop, cross_channel<int>& ch, int s, std::shared_ptr<int> left,
                      std::atomic<int>& timeouts, std::atomic<int>& unexpected) -> task<> {
          std::minstd_rand rng(s + 1);
          for (int i = 0; i < per_sender;) {
            auto r = co_await with_timeout(std::chrono::microseconds(rng() % 50), ch.send(s * per_sender + i));
            if (r) ++i;
            else if (r.error() == std::errc::timed_out) ++timeouts;  // not sent: send it again
            else ++unexpected;
          }
          if (--*left == 0) {
            ch.close();
            loop.stop();
          }
        }(loop, ch, s, left, send_timeouts, unexpected));
      }
      return;
    }
    auto left = std::make_shared<int>(receivers);
    for (int r = 0; r < receivers; ++r) {
      loop.spawn([](event_loop& loop, cross_channel<int>& ch, int r, std::vector<int>& seen, std::shared_ptr<int> left,
                    std::atomic<int>& timeouts, std::atomic<int>& unexpected) -> task<> {
        std::minstd_rand rng(100 + r);
        for (;;) {
          auto item = co_await with_timeout(std::chrono::microseconds(rng() % 50), ch.receive());
          if (item) ++seen[*item];
          else if (item.error() == std::errc::timed_out) ++timeouts;
          else if (item.error() == channel_closed()) break;
          else ++unexpected;
        }
        if (--*left == 0) loop.stop();
      }(loop, ch, r, seen, left, receive_timeouts, unexpected));
    }
  });
  // Both loops stop themselves once done; should they not, the watchdog ends the test.
  gate done;
  std::thread watchdog([&] {
    if (done.wait()) return;
    ch.close();
    rt.stop();
  });
  rt.join();
  done.open();
  watchdog.join();
  EXPECT_EQ(unexpected.load(), 0);
  expect_each_item_once(seen);
  RecordProperty("receive_timeouts", receive_timeouts.load());
  RecordProperty("send_timeouts", send_timeouts.load());
}

// Receivers wait on a loop that another thread then hands items to and destroys before it runs
// them: each item went into a receiver's wait and its wake was posted, never to run. The items
// must come back to the channel, not die with the receivers.
TEST_P(cross_thread_test, items_handed_to_receivers_whose_loop_dies_before_they_run_come_back) {
  constexpr int receivers = 4;
  cross_channel<int> ch(1);
  gate queued, handed;
  int got = 0;
  std::thread receiving([&] {
    event_loop loop(backend_name());
    for (int r = 0; r < receivers; ++r) {
      loop.spawn([](cross_channel<int>& ch, int& got) -> task<> {
        while (co_await ch.receive()) ++got;
      }(ch, got));
    }
    (void)loop.block_on(sleep_for(0ms));  // one turn: every receiver queues, the buffer empty
    queued.open();
    (void)handed.wait();
  });  // the loop and its receivers die here
  ASSERT_TRUE(queued.wait());
  for (int i = 0; i < receivers; ++i) EXPECT_TRUE(ch.try_send(i));  // each to a waiting receiver
  handed.open();
  receiving.join();
  EXPECT_EQ(got, 0);
  std::vector<int> back;
  while (auto item = ch.try_receive()) back.push_back(*item);
  EXPECT_EQ(back, (std::vector<int>{0, 1, 2, 3}));
}

// A loop full of waiting receivers is stopped and destroyed, again and again, while a sender on
// another thread keeps handing items over: a receiver may die after a sender took it from the
// queue. Its item must go back to the channel (not be lost in a dead frame), and the sender must
// not touch the dead receiver.
TEST_P(cross_thread_test, receivers_destroyed_while_a_sender_hands_them_items_lose_nothing) {
  constexpr int items = 1500;
  constexpr int receivers = 4;
  constexpr int per_round = 3;  // a round ends once its loop received this many
  cross_channel<int> ch(1);
  std::thread sender([&] {
    event_loop loop(backend_name());
    loop.block_on([](cross_channel<int>& ch) -> task<> {
      for (int i = 0; i < items; ++i)
        if (!co_await ch.send(i)) co_return;
      ch.close();
    }(ch));
  });
  std::vector<int> seen(items, 0);
  bool closed = false;
  int rounds = 0;
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    ++rounds;
    event_loop loop(backend_name());
    int got = 0;
    for (int r = 0; r < receivers; ++r) {
      loop.spawn([](event_loop& loop, cross_channel<int>& ch, std::vector<int>& seen, int& got, bool& closed) -> task<> {
        for (;;) {
          auto item = co_await ch.receive();
          if (!item) {
            closed = true;
            loop.stop();
            co_return;
          }
          ++seen[*item];
          if (++got == per_round) loop.stop();
        }
      }(loop, ch, seen, got, closed));
    }
    loop.run();
  }  // the loop dies here with its receivers still waiting, or just handed an item
  if (!closed) ch.close();  // the sender must not hang on a failed test
  sender.join();
  // A receiver of the last round may have seen the channel closed and drained while another,
  // handed an item, had not run yet: that item came back when the loop died. It is receivable.
  while (auto item = ch.try_receive()) ++seen[*item];
  EXPECT_TRUE(closed) << "the receivers never saw the channel closed and drained";
  expect_each_item_once(seen);
  RecordProperty("rounds", rounds);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(cross_thread_test);
