#include "c10k/sync.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "c10k/cross_channel.hpp"
#include "c10k/fiber.hpp"
#include "c10k/time.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

class sync_test : public c10k::testing::backend_test {};

// Holds the mutex across a suspension and checks nobody else got in meanwhile.
task<> hold_in_coroutine(mutex& m, int& inside, int& max_inside, std::vector<int>& order, int id) {
  auto g = co_await m.scoped_lock();
  max_inside = std::max(max_inside, ++inside);
  order.push_back(id);
  co_await sleep_for(1ms);
  --inside;
}

}  // namespace

TEST_P(sync_test, a_mutex_excludes_coroutines_and_fibers_alike_in_fifo_order) {
  event_loop loop(backend_name());
  mutex m;
  int inside = 0;
  int max_inside = 0;
  std::vector<int> order;
  wait_group wg;
  wg.add(4);
  for (int id = 0; id < 4; ++id) {
    if (id % 2 == 0) {
      loop.spawn([](mutex& m, int& inside, int& max_inside, std::vector<int>& order, int id, wait_group& wg) -> task<> {
        co_await hold_in_coroutine(m, inside, max_inside, order, id);
        wg.done();
      }(m, inside, max_inside, order, id, wg));
    } else {
      (void)spawn_fiber(loop, [&, id] {
        fiber::await(m.lock());
        max_inside = std::max(max_inside, ++inside);
        order.push_back(id);
        (void)fiber::sleep_for(1ms);
        --inside;
        m.unlock();
        wg.done();
      });
    }
  }
  EXPECT_TRUE(loop.block_on(wg.wait()));
  EXPECT_EQ(max_inside, 1);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(m.locked());
  EXPECT_TRUE(m.try_lock());
  EXPECT_FALSE(m.try_lock());
  m.unlock();
}

TEST_P(sync_test, a_semaphore_bounds_how_many_run_at_once) {
  event_loop loop(backend_name());
  semaphore sem(3);
  int running = 0;
  int peak = 0;
  wait_group wg;
  wg.add(10);
  for (int i = 0; i < 10; ++i) {
    (void)spawn_fiber(loop, [&] {
      EXPECT_TRUE(fiber::await(sem.acquire()));
      peak = std::max(peak, ++running);
      (void)fiber::sleep_for(2ms);
      --running;
      sem.release();
      wg.done();
    });
  }
  EXPECT_TRUE(loop.block_on(wg.wait()));
  EXPECT_EQ(peak, 3);
  EXPECT_EQ(sem.available(), 3u);
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_EQ(sem.available(), 2u);
}

TEST_P(sync_test, an_acquire_ends_with_its_timeout) {
  event_loop loop(backend_name());
  semaphore sem(0);
  auto r = loop.block_on([](semaphore& sem) -> task<result<void>> { co_return co_await with_timeout(3ms, sem.acquire()); }(sem));
  EXPECT_EQ(r.error(), std::errc::timed_out);
  sem.release();
  EXPECT_EQ(sem.available(), 1u);  // the timed-out wait left the queue and took no permit
}

TEST_P(sync_test, an_event_wakes_every_waiter_and_stays_set_until_reset) {
  event_loop loop(backend_name());
  event e;
  int woken = 0;
  for (int i = 0; i < 3; ++i) {
    loop.spawn([](event& e, int& woken) -> task<> {
      if (co_await e.wait()) ++woken;
    }(e, woken));
    (void)spawn_fiber(loop, [&] {
      if (fiber::await(e.wait())) ++woken;
    });
  }
  loop.block_on(sleep_for(2ms));
  EXPECT_EQ(woken, 0);
  e.set();
  EXPECT_EQ(woken, 0);  // set() schedules, it never resumes inline
  loop.block_on(sleep_for(1ms));
  EXPECT_EQ(woken, 6);
  EXPECT_TRUE(loop.block_on(e.wait()));  // still set
  e.reset();
  EXPECT_FALSE(e.is_set());
  auto r = loop.block_on([](event& e) -> task<result<void>> { co_return co_await with_timeout(2ms, e.wait()); }(e));
  EXPECT_EQ(r.error(), std::errc::timed_out);
}

TEST_P(sync_test, a_wait_group_waits_for_every_job) {
  event_loop loop(backend_name());
  wait_group wg;
  EXPECT_TRUE(loop.block_on(wg.wait()));  // nothing to wait for
  int done = 0;
  wg.add(5);
  for (int i = 0; i < 5; ++i) {
    loop.spawn([](wait_group& wg, int& done, int i) -> task<> {
      co_await sleep_for(std::chrono::milliseconds(i));
      ++done;
      wg.done();
    }(wg, done, i));
  }
  EXPECT_EQ(wg.count(), 5u);
  EXPECT_TRUE(loop.block_on(wg.wait()));
  EXPECT_EQ(done, 5);
  EXPECT_EQ(wg.count(), 0u);
}

TEST_P(sync_test, a_channel_delivers_in_order_with_backpressure) {
  event_loop loop(backend_name());
  channel<int> ch(2);
  std::vector<int> got;
  int sent = 0;
  auto producer = spawn_fiber(loop, [&] {
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(fiber::await(ch.send(i)));
      ++sent;
      EXPECT_LE(static_cast<int>(ch.size()), 2);
    }
    ch.close();
  });
  loop.block_on([](channel<int>& ch, std::vector<int>& got) -> task<> {
    co_await sleep_for(2ms);  // let the producer fill the channel and wait
    for (;;) {
      auto v = co_await ch.receive();
      if (!v) {
        EXPECT_EQ(v.error(), channel_closed());
        co_return;
      }
      got.push_back(*v);
    }
  }(ch, got));
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
  EXPECT_EQ(sent, 100);
}

TEST_P(sync_test, a_closed_channel_fails_sends_and_drains_before_failing_receives) {
  event_loop loop(backend_name());
  channel<std::string> ch(4);
  int v = 0;
  (void)v;
  EXPECT_TRUE(loop.block_on(ch.send("a")));
  EXPECT_TRUE(loop.block_on(ch.send("b")));
  ch.close();
  EXPECT_TRUE(ch.closed());
  EXPECT_EQ(loop.block_on(ch.send("c")).error(), channel_closed());
  EXPECT_EQ(*loop.block_on(ch.receive()), "a");
  EXPECT_EQ(ch.try_receive(), std::optional<std::string>("b"));
  auto r = loop.block_on(ch.receive());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), channel_closed());
  std::string d = "d";
  EXPECT_FALSE(ch.try_send(d));
}

TEST_P(sync_test, close_wakes_waiting_receivers_and_senders) {
  event_loop loop(backend_name());
  channel<int> empty(1);
  channel<int> full(1);
  EXPECT_TRUE(loop.block_on(full.send(1)));
  std::vector<std::error_code> outcomes;
  loop.spawn([](channel<int>& ch, std::vector<std::error_code>& out) -> task<> {
    auto r = co_await ch.receive();
    out.push_back(r.error());
  }(empty, outcomes));
  (void)spawn_fiber(loop, [&] { outcomes.push_back(fiber::await(full.send(2)).error()); });
  loop.block_on(sleep_for(2ms));
  EXPECT_TRUE(outcomes.empty());
  empty.close();
  full.close();
  loop.block_on(sleep_for(1ms));
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0], channel_closed());
  EXPECT_EQ(outcomes[1], channel_closed());
  EXPECT_EQ(*full.try_receive(), 1);  // what was buffered before close stays receivable
}

TEST_P(sync_test, a_receive_ends_with_its_timeout_and_leaves_the_queue) {
  event_loop loop(backend_name());
  channel<int> ch(1);
  auto r = loop.block_on([](channel<int>& ch) -> task<result<int>> { co_return co_await with_timeout(3ms, ch.receive()); }(ch));
  EXPECT_EQ(r.error(), std::errc::timed_out);
  int v = 5;
  EXPECT_TRUE(ch.try_send(v));  // buffered, not handed to the receiver that gave up
  EXPECT_EQ(ch.size(), 1u);
}

TEST_P(sync_test, a_cross_loop_channel_carries_every_item_once_in_order_per_producer) {
  constexpr int producers = 2;
  constexpr int per_producer = 50'000;
  cross_channel<std::pair<int, int>> ch(64);
  std::atomic<bool> consumer_ready{false};
  std::vector<int> next(producers, 0);
  int received = 0;
  bool in_order = true;
  std::thread consumer_thread([&] {
    event_loop loop(backend_name());
    consumer_ready = true;
    loop.block_on([](cross_channel<std::pair<int, int>>& ch, std::vector<int>& next, int& received, bool& in_order) -> task<> {
      for (;;) {
        auto item = co_await ch.receive();
        if (!item) co_return;
        auto [producer, seq] = *item;
        if (next[producer] != seq) in_order = false;
        next[producer] = seq + 1;
        ++received;
      }
    }(ch, next, received, in_order));
  });
  while (!consumer_ready) std::this_thread::yield();
  {
    event_loop loop(backend_name());
    wait_group wg;
    wg.add(producers);
    // One producer a coroutine, the other a fiber: both kinds send across.
    loop.spawn([](cross_channel<std::pair<int, int>>& ch, wait_group& wg) -> task<> {
      for (int i = 0; i < per_producer; ++i) EXPECT_TRUE(co_await ch.send({0, i}));
      wg.done();
    }(ch, wg));
    (void)spawn_fiber(loop, [&] {
      for (int i = 0; i < per_producer; ++i) EXPECT_TRUE(fiber::await(ch.send({1, i})));
      wg.done();
    });
    EXPECT_TRUE(loop.block_on(wg.wait()));
  }
  ch.close();
  consumer_thread.join();
  EXPECT_EQ(received, producers * per_producer);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(next, (std::vector<int>{per_producer, per_producer}));
}

TEST_P(sync_test, a_cross_loop_channel_wakes_a_fiber_receiver_on_another_loop) {
  cross_channel<int> ch(1);
  std::atomic<int> sum{0};
  std::atomic<bool> ready{false};
  std::thread::id receiver_thread;
  std::thread::id resumed_on;
  std::thread t([&] {
    event_loop loop(backend_name());
    receiver_thread = std::this_thread::get_id();
    auto h = spawn_fiber(loop, [&] {
      ready = true;
      while (auto v = fiber::await(ch.receive())) sum += *v;
      resumed_on = std::this_thread::get_id();
    });
    loop.block_on([](fiber_handle<void> h) -> task<> { co_await h.join(); }(h));
  });
  while (!ready) std::this_thread::yield();
  event_loop loop(backend_name());
  for (int i = 1; i <= 100; ++i) EXPECT_TRUE(loop.block_on(ch.send(i)));
  ch.close();
  t.join();
  EXPECT_EQ(sum, 5050);
  EXPECT_EQ(resumed_on, receiver_thread);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(sync_test);
