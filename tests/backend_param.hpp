// Runs a test suite once per backend: ctest names end in the backend, and a backend this
// kernel lacks is reported as skipped with the reason.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "c10k/backend.hpp"

namespace c10k::testing {

// Every backend the runtime knows, whether or not this machine can run it.
inline std::vector<std::string> all_backends() { return {"io_uring", "epoll", "epoll-et", "poll", "select"}; }

class backend_test : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ready_queue q;
    if (auto b = make_exact_backend(GetParam(), q); !b)
      GTEST_SKIP() << "backend " << GetParam() << " is not available here: " << b.error().message();
  }
  const std::string& backend_name() const { return GetParam(); }
};

inline std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
}

}  // namespace c10k::testing

#define C10K_INSTANTIATE_FOR_EVERY_BACKEND(suite) \
  INSTANTIATE_TEST_SUITE_P(backend, suite, ::testing::ValuesIn(::c10k::testing::all_backends()), \
                           ::c10k::testing::backend_test_name)
