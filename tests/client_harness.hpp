// Runs client test bodies on one loop, in either mode: "coroutine" (each call a task the loop
// runs to its end) or "fiber" (the whole body on a fiber, each call through fiber::await).
// The suites are parameterised over every backend times both modes.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <tuple>

#include "backend_param.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/fiber.hpp"

namespace c10k::testing {

class client_mode_test : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
 protected:
  void SetUp() override {
    ready_queue q;
    if (auto b = make_exact_backend(backend_name(), q); !b)
      GTEST_SKIP() << "backend " << backend_name() << " is not available here: " << b.error().message();
  }
  const std::string& backend_name() const { return std::get<0>(GetParam()); }
  bool on_fiber() const { return std::get<1>(GetParam()) == "fiber"; }

  // Runs body on `loop`: on the test's stack in coroutine mode, on a fiber in fiber mode.
  void run(event_loop& loop, const std::function<void()>& body) {
    if (!on_fiber()) return body();
    auto h = spawn_fiber(loop, [&] { body(); });
    loop.block_on([](fiber_handle<void> h) -> task<void> { co_await h.join(); }(h));
  }
  // Awaits x: by running the loop (coroutine mode) or by parking the fiber (fiber mode).
  template <typename T>
  T call(event_loop& loop, task<T> x) {
    if (on_fiber()) return fiber::await(std::move(x));
    return loop.block_on(std::move(x));
  }
};

inline std::string client_mode_test_name(const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
  std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

}  // namespace c10k::testing

#define C10K_INSTANTIATE_FOR_EVERY_BACKEND_AND_MODE(suite)                                                 \
  INSTANTIATE_TEST_SUITE_P(backend, suite,                                                                  \
                           ::testing::Combine(::testing::ValuesIn(::c10k::testing::all_backends()),         \
                                              ::testing::Values(std::string("coroutine"), std::string("fiber"))), \
                           ::c10k::testing::client_mode_test_name)
