// closed: one keep-alive connection keeping `pipeline` requests in flight, like a wrk connection.
#include <optional>
#include <string>
#include <vector>

#include "client_connection.hpp"
#include "loop_context.hpp"

namespace c10k::load {

namespace {

// The requests in flight on one connection, oldest first, with the time each was sent.
class in_flight {
 public:
  explicit in_flight(unsigned depth) : sent_(depth) {}
  void push(clock::time_point t) noexcept {
    sent_[(head_ + size_) % sent_.size()] = t;
    ++size_;
  }
  clock::time_point pop() noexcept {
    const auto t = sent_[head_];
    head_ = (head_ + 1) % sent_.size();
    --size_;
    return t;
  }
  bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { head_ = size_ = 0; }

 private:
  std::vector<clock::time_point> sent_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

task<> closed_body(loop_context& ctx, std::uint64_t number) {
  const load_config& cfg = ctx.cfg();
  run_shared& shared = ctx.shared;
  const unsigned depth = std::max(cfg.pipeline, 1u);
  std::optional<specweb_picker> picker;
  if (shared.specweb) picker.emplace(*shared.specweb, mix64(cfg.seed) + number);
  std::string out;
  in_flight sent(depth);
  client_connection conn;

  // Queues one more request in `out`.
  auto queue_request = [&] {
    if (picker) shared.append_request(out, picker->next(cfg.prefix), false);
    else out += shared.plain_request;
    const auto now = clock::now();
    sent.push(now);
    if (ctx.in_window(now)) ++ctx.counts.requests;
  };

  while (!ctx.stopping) {
    // Connect, at most max_connecting at a time per loop so a listen backlog does not overflow.
    if (auto permit = co_await ctx.connect_slots.acquire(); !permit) break;
    auto opened = co_await with_timeout(shared.timeout, conn.open(shared.target, ctx.source()));
    ctx.connect_slots.release();
    if (!opened) {
      ctx.count_error(opened.error(), error_phase::connect);
      conn.abort();
      // A refusing server must not turn this loop into a busy one.
      auto slept = co_await sleep_for(std::chrono::milliseconds(100));
      (void)slept;
      continue;
    }

    out.clear();
    sent.clear();
    for (unsigned i = 0; i < depth; ++i) queue_request();
    bool healthy = true;
    std::uint64_t answered = 0;
    for (;;) {
      if (!out.empty() && !conn.buffered()) {
        // Replies already here are answered first, so their requests leave in one write.
        auto w = co_await with_timeout(shared.timeout, conn.send(out));
        out.clear();
        if (!w) {
          ctx.count_error(w.error(), error_phase::exchange);
          healthy = false;
          break;
        }
      }
      auto r = co_await with_timeout(shared.timeout, conn.read_reply());
      const auto now = clock::now();
      const std::uint64_t bytes = conn.take_bytes();
      if (ctx.in_window(now)) ctx.counts.bytes += bytes;
      if (!r) {
        ctx.count_error(r.error(), error_phase::exchange);
        healthy = false;
        break;
      }
      if (sent.empty()) {  // a reply nobody asked for: the stream is out of step
        ctx.count_error(std::make_error_code(std::errc::bad_message), error_phase::exchange);
        healthy = false;
        break;
      }
      ctx.count_reply(r->status, sent.pop(), now);
      ++answered;
      if (!r->keep_alive) break;  // the server ends the connection (max requests): open another
      if (ctx.stopping) break;
      queue_request();
    }
    if (healthy && !ctx.stopping) conn.close();
    else conn.abort();
    if (!healthy && answered == 0 && !ctx.stopping) {
      // A server that drops every connection before answering: pause as after a refusal.
      auto slept = co_await sleep_for(std::chrono::milliseconds(100));
      (void)slept;
    }
  }
  conn.abort();
}

}  // namespace

task<> closed_connection(loop_context& ctx, std::uint64_t number) {
  worker_token token(ctx);
  co_await in_scope(token.scope(), closed_body(ctx, number));
}

}  // namespace c10k::load
