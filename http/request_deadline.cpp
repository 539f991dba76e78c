#include "request_deadline.hpp"

#include <exception>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/fiber.hpp"
#include "c10k/log.hpp"
#include "c10k/time.hpp"

namespace c10k::http {
namespace {

struct deadline_rule {
  clock::duration timeout = clock::duration::max();  // max: none
  std::string header;                                 // empty: none
};

// How long req may take under `rule`; duration::max() when nothing limits it.
clock::duration budget_of(const request& req, const deadline_rule& rule) {
  clock::duration budget = rule.timeout;
  if (!rule.header.empty()) {
    if (auto v = req.header(rule.header)) {
      if (auto ms = parse_deadline_header(*v)) budget = std::min<clock::duration>(budget, *ms);
    }
  }
  return budget;
}

task<response> run_with_deadline(const handler& h, const deadline_rule& rule, request& req) {
  const clock::duration budget = budget_of(req, rule);
  if (budget == clock::duration::max()) co_return co_await h(req);
  cancel_scope scope;
  scope.set_label("request deadline");  // as the task dump names it
  scope.set_timeout(budget);
  std::optional<response> out;
  try {
    out.emplace(co_await in_scope(scope, h(req)));
  } catch (const fiber_unwound&) {
    throw;
  } catch (...) {
    if (scope.reason() != std::errc::timed_out) throw;  // not the deadline's doing: a 500
    log(log_level::info, "handler for {} {} failed after its deadline passed: 504", req.method(), req.path());
    out.emplace(response::text(504, "Gateway Timeout: the request's deadline passed\n"));
  }
  co_return std::move(*out);
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_deadline_header(std::string_view value) noexcept {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return std::nullopt;
  long long ms = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return std::chrono::milliseconds(ms);
}

handler with_request_deadline(handler h, const server_options& options) {
  auto rule = std::make_shared<deadline_rule>();
  if (options.request_timeout.count() > 0) rule->timeout = options.request_timeout;
  rule->header = options.deadline_header;
  return [h = std::make_shared<handler>(std::move(h)), rule](request& req) -> task<response> {
    return run_with_deadline(*h, *rule, req);
  };
}

}  // namespace c10k::http
