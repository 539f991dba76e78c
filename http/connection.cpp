// The life of one HTTP/1.1 connection (connection.hpp), as one coroutine, in parts that each own one policy:
//
// - request_reader (request_reader.hpp): bytes to requests, incrementally; a head is parsed
//   once and a body keeps its state across receives;
// - connection_input (connection_input.hpp): receives for the request under way, under the
//   deadline of its phase (connection_deadline.hpp);
// - the dispatcher (dispatcher.hpp): the route, found once, and the handler, exceptions to 500;
// - response_writer (response_writer.hpp): framing, order, batching, 100 Continue, streams.
//
// What is left here is the loop that ties them: read until a request is complete, answer it,
// and write the answers of one read together before reading again.
//
// With server_options::fiber_connections this same coroutine runs on a fiber of its own, which
// parks wherever the coroutine would suspend (coroutine_host.hpp), so blocking-style handlers
// run on the connection's stack.
//
// A TLS connection (server_options::tls) is served by a task of its own for its whole life,
// like a fiber's (serve_hosted): its handshake first, then the same bursts, with every byte
// going through its tls::stream (connection_io::tls).
#include <sys/socket.h>
#include <netinet/in.h>

#include <array>
#include <cstring>
#include <memory>
#include <new>
#include <optional>

#include <fmt/format.h>

#include "c10k/address.hpp"
#include "c10k/fiber.hpp"
#include "c10k/io_awaiter.hpp"
#include "c10k/log.hpp"

#include "body_stream.hpp"
#include "connection.hpp"
#include "connection_input.hpp"
#include "connection_work.hpp"
#include "dispatcher.hpp"
#include "loop_state.hpp"
#include "request_reader.hpp"
#include "response_writer.hpp"

namespace c10k::http {

connection::~connection() {
  if (state.metrics) closed();
  if (waiting_ && idle_.in_flight) {
    state.loop->io().abandon(idle_);
  } else if (waiting_ && idle_.result > 0) {
    state.loop->io().release_buffer(idle_.buffer_id);  // received, but never taken
  }
  state.unlink(*this);
}

// Keeps the peer's address for the access log (outside the
// request path: once per connection, and only with metrics or the access log on).
[[gnu::noinline]] void connection::opened() noexcept {
  if (!state.access_log) return;  // (accepted is counted by the accept loop)
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(stream.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
  peer.reset(new (std::nothrow) address(address::from(reinterpret_cast<const sockaddr*>(&ss), len)));
  // no room: the log shows "-"
}

// Counts the close by its reason: the deadline's phase when the deadline ended it.
[[gnu::noinline]] void connection::closed() noexcept {
  close_reason r = reason;
  if (deadline.expired()) {
    switch (deadline.phase()) {
      case connection_phase::idle: r = close_reason::timeout_idle; break;
      case connection_phase::head: r = close_reason::timeout_head; break;
      case connection_phase::body: r = close_reason::timeout_body; break;
      case connection_phase::write: r = close_reason::timeout_write; break;
      case connection_phase::handshake: r = close_reason::tls_handshake; break;
      default: break;
    }
  }
  ++state.metrics->closed[static_cast<std::size_t>(r)];
}

namespace {

// The client's address as the access log takes it.
peer_ip ip_of(const address* a) noexcept {
  peer_ip p;
  if (!a) return p;
  if (a->family() == AF_INET) {
    p.family = 4;
    std::memcpy(p.bytes.data(), &reinterpret_cast<const sockaddr_in*>(a->data())->sin_addr, 4);
  } else if (a->family() == AF_INET6) {
    p.family = 6;
    std::memcpy(p.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(a->data())->sin6_addr, 16);
  }
  return p;
}

// Records the answer the writer queued last (metrics, the access log): out of line, called
// only when either is on, so that the request path pays one test when both are off.
[[gnu::noinline]] void observe_answer(connection& c, const request_head* head, const response_writer& w,
                                      clock::time_point started) {
  loop_state& st = c.state;
  // The loop's clock, read once per turn, not a clock_gettime per request (a third of what
  // metrics cost per request): durations are as fine as a loop turn, as nginx's $request_time
  // is as fine as its cached time. A request answered in the turn that parsed it takes 0.
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(st.loop->now() - started);
  if (st.metrics)
    st.metrics->count_request(head ? label_of(head->method) : method_label::other, w.last_status(), w.last_bytes(), took);
  if (st.access_log) st.access_log->add(ip_of(c.peer.get()), head, w.last_status(), w.last_bytes(), took);
}

// Holds a work object from the loop's pool for one burst.
class work_lease {
 public:
  explicit work_lease(work_pool& pool) : pool_(pool), work_(pool.acquire()) {}
  work_lease(const work_lease&) = delete;
  ~work_lease() { pool_.release(work_); }
  connection_work* operator->() const noexcept { return work_; }
  connection_work* get() const noexcept { return work_; }

 private:
  work_pool& pool_;
  connection_work* work_;
};

// Tells the stall watchdog which request's handler the loop runs now (only when it watches).
void publish_running(connection& c, const request_head& h) noexcept {
  if (stall_probe* p = c.state.probe.get()) p->publish(c.state.loop->activity().turns, c.stream.native_handle(), h.method, h.target);
}

// Counts a request answered on c; returns whether the server would keep the connection after
// it (not draining, under max_requests_per_connection).
bool count_answered(connection& c) noexcept {
  ++c.served;
  ++c.state.requests;
  const server_options& o = *c.state.options;
  return !c.state.draining && (o.max_requests_per_connection == 0 || c.served < o.max_requests_per_connection);
}


// Answers the request whose head the reader just parsed, on a route that reads its body as a
// stream: the handler runs now and reads the body as it arrives. Returns whether the
// connection stays open.
task<bool> serve_streamed(connection& c, request& req, const handler& h, connection_work& work,
                          connection_input& input, clock::time_point started) {
  request_reader& reader = work.reader;
  response_writer& writer = work.writer;
  body_stream body(reader, input, writer);
  req.set_body_stream(&body);
  c.deadline.enter_untimed(connection_phase::handler);
  publish_running(c, reader.head());
  std::optional<response> resp;
  try {
    // (In a scope where the task dump can read its waits: see connection_work::waits_in.)
    if (work.waits_in != &work.handler_scope) resp.emplace(co_await h(req));
    else resp.emplace(co_await in_scope(work.fresh_handler_scope(), h(req)));
  } catch (...) {
    resp.emplace(handler_failed(req));  // a handler that throws gets the client a 500
  }
  const bool body_ok = body.drop_buffered() || co_await body.drain();
  const bool may_continue = count_answered(c) && body_ok;
  bool keep;
  if (resp->stream()) keep = co_await writer.send_stream(std::move(*resp), reader.head(), may_continue);
  else keep = writer.add(std::move(*resp), reader.head(), may_continue);
  if (c.state.observing) observe_answer(c, &reader.head(), writer, started);
  co_return keep;
}

// The coroutine of a burst in coroutine mode: it owns its connection and frees its own frame
// when it ends, so a request needs no frame besides this one and its handler's (no detached-task
// wrapper, no owning coroutine around it). At its end the connection goes back to its idle wait
// (the burst returned true) or closes; a burst destroyed unfinished (its loop ends) closes it.
class burst {
 public:
  struct promise_type {
    connection* conn;
    bool idle = false;
    cancel_scope* scope_ = nullptr;  // none from outside: the burst's scope is in its body

    promise_type(connection& c, const recv_buffer&, cancel_scope*) noexcept : conn(&c) {}
    ~promise_type() {
      conn->set_running_burst({});
      conn->set_work(nullptr);
      if (idle) conn->wait_idle();
      else delete conn;
    }
    static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_allocator::deallocate(p, size); }
    burst get_return_object() noexcept { return burst{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_value(bool idle_again) noexcept { idle = idle_again; }
    void unhandled_exception() noexcept {
      try {
        throw;
      } catch (const std::exception& e) {
        log(log_level::error, "connection closed: {}", e.what());
      } catch (...) {
        log(log_level::error, "connection closed by a non-standard exception");
      }
    }
  };
  std::coroutine_handle<promise_type> handle;
};

// Serves the requests that start with `first` (the first bytes after an idle wait), and any
// that follow without a pause, until the connection is idle again (nothing unanswered, every
// response sent): returns true then, false when the connection must close. What a request
// needs lives in this frame and in a pooled work object, both given back when the burst ends.
// Coro is task<bool> on a task of the connection's own (serve_hosted awaits it, runs_in: a
// fiber's scope, or none for a TLS connection's coroutine task), burst in coroutine mode
// (runs_in: nullptr).
}  // namespace

// Tells a TLS peer that the server closes (close_notify), so that a body that ends with the
// connection is known to be whole; bounded at 1 s, outside the connection's scope.
task<void> send_close_notify(tls::stream& secure) {
  (void)co_await with_timeout(std::chrono::seconds(1), secure.shutdown());
}

// Closes like nginx's lingering close: stop sending, then read and drop what the client still
// sends (bounded in bytes, per read and in all), so the kernel does not answer it with a reset
// that could destroy the response still on its way.
task<void> linger_close(connection_io& io) {
  io.deadline.enter_untimed(connection_phase::linger);
  if (io.tls) co_await send_close_notify(*io.tls);
  (void)io.stream.shutdown(SHUT_WR);
  const clock::time_point until = io.loop.now() + io.options.lingering_time;
  std::array<char, 4096> sink;
  std::size_t drained = 0;
  while (drained < 256 * 1024 && io.loop.now() < until) {
    const auto wait = std::min<clock::duration>(io.options.lingering_timeout, until - io.loop.now());
    auto n = co_await with_timeout(wait, io.stream.read(sink));
    if (!n || *n == 0) break;
    drained += *n;
  }
}

template <typename Coro>
Coro serve_requests(connection& c, recv_buffer first, cancel_scope* runs_in) {
  const server_options& opt = *c.state.options;
  cancel_scope scope;  // every wait of the burst; the deadline cancels it
  c.deadline.retarget(&scope);
  work_lease work(c.state.work);
  c.set_work(work.get());
  // runs_in: the scope the burst runs in (its fiber's; none in coroutine mode). Handlers' waits
  // register there, or in the work object's handler_scope, where the task dump reads them.
  work->waits_in = runs_in ? runs_in : &work->handler_scope;
  request_reader& reader = work->reader;
  response_writer& writer = work->writer;
  connection_io io{c.stream, scope, c.deadline, opt, *c.state.loop, c.state.metrics.get(), c.tls()};
  reader.configure(opt.limits, opt.max_body_bytes, &c.state.head_parses);
  writer.bind(io);
  connection_input input(io, reader);
  input.start(std::move(first));

  std::optional<request>& current = work->current;  // the request under way, from its head on
  route_match& route = work->route;
  bool continue_sent = false;  // "100 Continue" went out for the request under way
  unsigned answered_this_turn = 0;
  bool refused = false;        // closing because a request was refused: the client may still send
  clock::time_point& started = work->started;  // in the work object, for the task dump

  for (;;) {
    bool keep = true;
    switch (reader.next()) {
      case read_status::need_input: {
        if (!writer.empty() && !co_await writer.flush()) co_return c.closing(close_reason::error);
        if (reader.empty()) {  // idle again
          c.deadline.retarget(nullptr);
          co_return true;
        }
        if (reader.in_body() && reader.head().expect_continue && !continue_sent) {
          continue_sent = true;  // the client waits for a go-ahead before sending the body
          if (!co_await writer.send_continue()) co_return c.closing(close_reason::error);
        }
        if (auto got = co_await input.receive(); !got) {
          // A request under way that stalls gets 408.
          if (got.error() == std::errc::timed_out) {
            c.reason = reader.in_body() ? close_reason::timeout_body : close_reason::timeout_head;
            co_await writer.last_word(408, "request timeout");
          } else {
            c.receive_failed(got.error());
          }
          co_return false;
        }
        continue;
      }
      case read_status::head: {
        const request_head& head = reader.head();
        started = c.state.loop->now();
        // HTTP/1.0 has no Expect (RFC 9110 10.1.1): ignored there; 1.1 knows only 100-continue.
        if (head.expectation_unmet) {
          writer.add_error(417, "only 100-continue is expected");
          if (c.state.observing) observe_answer(c, &head, writer, started);
          refused = true;
          keep = false;
          break;
        }
        continue_sent = false;
        request& req = current ? (current->reset(head), *current) : current.emplace(head, std::string_view{});
        req.set_connection_fd(c.stream.native_handle(), &c.peer);  // for request::peer()
        find_route(*c.state.routes, req, route);
        if (!route.handler_fn || !route.options.stream_body) continue;
        keep = co_await serve_streamed(c, req, *route.handler_fn, *work.get(), input, started);
        reader.finish_request();
        input.request_done();
        break;
      }
      case read_status::request: {
        request& req = *current;
        req.set_body(reader.body());
        c.deadline.enter_untimed(connection_phase::handler);
        publish_running(c, reader.head());
        if (!route.handler_fn) {
          keep = writer.add(std::move(route.fallback), reader.head(), count_answered(c));
        } else {
          // The response is made in place and queued inside the try: no default response to
          // make and assign over per request. A never_blocks route is a plain call.
          bool answered = false;
          try {
            std::optional<response> made;
            if (route.in_place) made.emplace((*route.in_place)(req));
            else if (runs_in) made.emplace(co_await (*route.handler_fn)(req));
            else made.emplace(co_await in_scope(work->fresh_handler_scope(), (*route.handler_fn)(req)));
            response& resp = *made;
            answered = true;
            const bool may_continue = count_answered(c);
            if (resp.stream()) keep = co_await writer.send_stream(std::move(resp), reader.head(), may_continue);
            else keep = writer.add(std::move(resp), reader.head(), may_continue);
          } catch (...) {
            if (answered) throw;  // the writer failed (out of memory), not the handler
            keep = writer.add(handler_failed(req), reader.head(), count_answered(c));  // a 500
          }
        }
        if (c.state.observing) observe_answer(c, &reader.head(), writer, started);
        reader.finish_request();
        input.request_done();
        break;
      }
      case read_status::error:
        writer.add_error(status_for(reader.error()), to_string(reader.error()));
        if (c.state.observing) observe_answer(c, nullptr, writer, c.state.loop->now());
        refused = true;
        keep = false;
        break;
    }
    if (!keep) break;
    if (writer.should_flush() && !co_await writer.flush()) co_return c.closing(close_reason::error);
    if (++answered_this_turn == opt.requests_per_turn) {
      // Fairness: a client that keeps the socket full must not hold the loop.
      answered_this_turn = 0;
      if (!co_await writer.flush()) co_return c.closing(close_reason::error);
      co_await yield();
    }
  }

  // Closing: send what is queued; unread input or a refused request means the client may
  // still be sending, and closing at once would answer it with a reset that can destroy the
  // response on its way.
  if (!co_await writer.flush()) co_return c.closing(close_reason::error);
  if (refused) c.reason = close_reason::refused;
  if (refused || reader.buffered() > 0) co_await linger_close(io);
  co_return false;
}

// The bursts of a connection served by a task of its own (connection_hosted.cpp).
template task<bool> serve_requests<task<bool>>(connection& c, recv_buffer first, cancel_scope* runs_in);

void connection::wait_idle(bool fresh) {
  if (state.draining) {
    delete this;
    return;
  }
  const server_options& o = *state.options;
  deadline.enter(connection_phase::idle, state.loop->now() + (served == 0 ? o.header_timeout : o.keepalive_timeout));
  std::construct_at(&idle_);
  idle_.kind = op_kind::receive;
  idle_.fd = stream.native_handle();
  idle_.who = waiter{&connection::on_ready, this};
  waiting_ = true;
  deadline.retarget([](void* self, std::error_code r) noexcept { static_cast<connection*>(self)->cancel_idle(r); }, this);
  // Bytes already there (a readiness backend's first try): at the end of a burst, on_ready
  // runs from the ready queue, so bursts never nest; on accept it runs at once, so that a
  // batch of new connections that each sent a request does not hold a lent buffer apiece
  // until the queue gets to them.
  if (state.loop->io().start(idle_)) return;
  if (fresh) on_ready(this);
  else state.loop->schedule(idle_.who);
}

void connection::on_ready(void* self) {
  auto* c = static_cast<connection*>(self);
  c->waiting_ = false;
  c->deadline.retarget(nullptr);
  const long long n = c->idle_.result;
  if (n <= 0) {
    if (!c->state.draining) c->receive_failed(std::error_code(static_cast<int>(-n), std::generic_category()));
    delete c;  // timed out, drained, or the client left: just close
    return;
  }
  if (c->state.metrics) c->state.metrics->bytes_in += static_cast<std::uint64_t>(n);
  c->start_burst(recv_buffer(&c->state.loop->io(), c->idle_.buffer_id, static_cast<const char*>(c->idle_.buf),
                             static_cast<std::size_t>(n)));
}

void connection::start_burst(recv_buffer first) {
  std::construct_at(&active_);  // the idle receive's room, now that its result was taken
  active_.burst = serve_requests<burst>(*this, std::move(first), nullptr).handle;
  active_.burst.resume();
}

void start_connection(tcp_stream stream, loop_state& state, const tls::context* tls_ctx) {
  auto* c = new connection(std::move(stream), state, tls_ctx != nullptr);
  const server_options& o = *state.options;
  if (!o.fiber_connections) {
    if (tls_ctx) state.loop->spawn_now(serve_hosted(burst_owner(c), *tls_ctx));
    else c->wait_idle(/*fresh=*/true);
    return;
  }
  fiber_options fo;
  if (o.fiber_stack_size) fo.stack_size = o.fiber_stack_size;
  fo.hosts_coroutines = true;
  fo.name = "http connection";  // (fits std::string's inline room: no allocation)
  task<void> t = serve_hosted(burst_owner(c), tls_ctx ? *tls_ctx : tls::context{});
  (void)spawn_fiber(*state.loop, [t = std::move(t)]() mutable { fiber::await(std::move(t)); }, std::move(fo));
}

void cancel_idle(connection_entry& e) noexcept {
  static_cast<connection&>(e).cancel_idle(std::make_error_code(std::errc::operation_canceled));
}

void describe_connections(const loop_state& state, std::string& out) {
  for (const connection_entry* e = state.connections; e; e = e->next) static_cast<const connection*>(e)->describe(out);
}

void close_connections(loop_state& state) noexcept {
  for (connection_entry* e = state.connections; e;) {
    connection_entry* next = e->next;
    auto* c = static_cast<connection*>(e);
    if (c->hibernating()) delete c;
    else if (std::coroutine_handle<> b = c->running_burst()) b.destroy();  // closes c
    e = next;
  }
}

}  // namespace c10k::http
