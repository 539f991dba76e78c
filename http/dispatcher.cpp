#include "dispatcher.hpp"

#include <exception>

#include "c10k/fiber.hpp"
#include "c10k/log.hpp"

namespace c10k::http {

task<response> call_handler(const handler& h, request& req) {
  try {
    co_return co_await h(req);
  } catch (const fiber_unwound&) {
    throw;  // the connection's fiber is being destroyed with its loop: let it unwind
  } catch (const std::exception& e) {
    log(log_level::error, "handler for {} {} failed: {}", req.method(), req.path(), e.what());
  } catch (...) {
    log(log_level::error, "handler for {} {} failed with a non-standard exception", req.method(), req.path());
  }
  co_return response::text(500, "Internal Server Error\n");
}

}  // namespace c10k::http
