// Starts an HTTP server for a test: loopback, a free port, one loop unless asked otherwise.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "c10k/http/server.hpp"

namespace c10k::testing {

// Returns a started server for `routes` on `backend` (options' host, port and backend are
// overridden; threads defaults to 1); throws std::system_error when it cannot start. With
// C10K_TEST_FIBER_CONNECTIONS=1 in the environment every connection runs on a fiber, so that
// ctest reruns the HTTP suites in that mode (tests/CMakeLists.txt).
inline std::unique_ptr<http::server> start_test_server(http::router routes, const std::string& backend,
                                                       http::server_options options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  options.backend = backend;
  if (options.threads == 0) options.threads = 1;
  if (const char* f = std::getenv("C10K_TEST_FIBER_CONNECTIONS"); f && std::string_view(f) == "1")
    options.fiber_connections = true;
  auto s = std::make_unique<http::server>(std::move(routes), std::move(options));
  if (auto started = s->start(); !started) throw std::system_error(started.error(), "test server start");
  return s;
}

}  // namespace c10k::testing
