// Starts an HTTP server for a test: loopback, a free port, one loop unless asked otherwise.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include "c10k/http/server.hpp"

namespace c10k::testing {

// Returns a started server for `routes` on `backend` (options' host, port and backend are
// overridden; threads defaults to 1); throws std::system_error when it cannot start.
inline std::unique_ptr<http::server> start_test_server(http::router routes, const std::string& backend,
                                                       http::server_options options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  options.backend = backend;
  if (options.threads == 0) options.threads = 1;
  auto s = std::make_unique<http::server>(std::move(routes), std::move(options));
  if (auto started = s->start(); !started) throw std::system_error(started.error(), "test server start");
  return s;
}

}  // namespace c10k::testing
