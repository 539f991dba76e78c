// client: sending a request and receiving its head, over a pooled or a new connection.
#include "c10k/http/client.hpp"

#include <charconv>
#include <cstdio>

#include "c10k/http/resolver.hpp"
#include "c10k/log.hpp"
#include "c10k/time.hpp"
#include "client_io.hpp"
#include "header_rules.hpp"

namespace c10k::http {
using detail::pooled_connection;
using detail::response_state;
using detail::upstream_pool;

namespace {

bool idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

bool all_of(std::string_view s, std::uint8_t cls) noexcept {
  for (const char c : s)
    if (!rules::is(static_cast<unsigned char>(c), cls)) return false;
  return true;
}

// Refuses what would make the request ambiguous on the wire (the framing is the client's).
std::error_code validate(const client_request& q) noexcept {
  const auto bad = std::make_error_code(std::errc::invalid_argument);
  if (q.method.empty() || !all_of(q.method, rules::k_tchar)) return bad;
  if (q.target.empty() || !all_of(q.target, rules::k_target)) return bad;
  if (q.content_length && !q.body_stream) return bad;
  for (const auto& [name, value] : q.headers) {
    if (name.empty() || !all_of(name, rules::k_tchar) || !all_of(value, rules::k_field)) return bad;
    if (rules::iequals(name, "content-length") || rules::iequals(name, "transfer-encoding") ||
        rules::iequals(name, "connection"))
      return bad;
  }
  return {};
}

// Writes into h the request head, with Host, the framing, and the deadline header when asked
// for (h keeps its capacity from earlier requests).
void request_head_bytes(std::string& h, const client_request& q, const upstream& to, const client_options& o,
                        std::optional<clock::time_point> deadline) {
  h.clear();
  h.append(q.method).append(" ").append(q.target).append(" HTTP/1.1\r\n");
  bool host_given = false;
  for (const auto& [name, value] : q.headers) host_given = host_given || rules::iequals(name, "host");
  if (!host_given) h.append("Host: ").append(to.authority()).append("\r\n");
  for (const auto& [name, value] : q.headers) h.append(name).append(": ").append(value).append("\r\n");
  char num[24];
  if (q.body_stream) {
    if (q.content_length) {
      const auto end = std::to_chars(num, num + sizeof num, *q.content_length).ptr;
      h.append("Content-Length: ").append(num, end).append("\r\n");
    } else {
      h.append("Transfer-Encoding: chunked\r\n");
    }
  } else if (!q.body.empty() || !(q.method == "GET" || q.method == "HEAD" || q.method == "DELETE" || q.method == "OPTIONS")) {
    const auto end = std::to_chars(num, num + sizeof num, q.body.size()).ptr;
    h.append("Content-Length: ").append(num, end).append("\r\n");
  }
  if (!o.deadline_header.empty() && deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock::now()).count();
    const auto end = std::to_chars(num, num + sizeof num, left > 0 ? left : 0).ptr;
    h.append(o.deadline_header).append(": ").append(num, end).append("\r\n");
  }
  h.append("\r\n");
}

// Writes a streamed request body to the upstream: chunked, or raw up to a Content-Length.
class request_body_writer final : public body_writer {
 public:
  request_body_writer(pooled_connection& s, const client_request& q, const client_options& o) noexcept
      : s_(s), chunked_(!q.content_length), length_(q.content_length.value_or(0)), o_(o), deadline_(q.deadline) {}

  task<result<void>> write(std::string_view data) override {
    if (error_) co_return error_;
    if (data.empty()) co_return result<void>{};
    if (!chunked_ && data.size() > length_ - written_) co_return (error_ = std::make_error_code(std::errc::invalid_argument));
    char line[24];
    const int n = std::snprintf(line, sizeof line, "%zx\r\n", data.size());
    iovec iov[3] = {{line, static_cast<std::size_t>(n)},
                    {const_cast<char*>(data.data()), data.size()},
                    {const_cast<char*>("\r\n"), 2}};
    const std::span<iovec> all = chunked_ ? std::span<iovec>(iov, 3) : std::span<iovec>(iov + 1, 1);
    if (co_await send(all)) written_ += data.size();
    co_return error_;
  }

  // Ends the body (the last chunk, or a check that Content-Length was met); the first error.
  task<std::error_code> finish() {
    if (error_) co_return error_;
    if (!chunked_) {
      if (written_ != length_) error_ = std::make_error_code(std::errc::invalid_argument);
      co_return error_;
    }
    iovec last{const_cast<char*>("0\r\n\r\n"), 5};
    (void)co_await send(std::span<iovec>(&last, 1));
    co_return error_;
  }

  void fail(std::error_code e) noexcept {
    if (!error_) error_ = e;
  }

 private:
  task<bool> send(std::span<iovec> iov) {
    if (detail::passed(deadline_)) {
      fail(std::make_error_code(std::errc::timed_out));
      co_return false;
    }
    auto r = co_await with_timeout(detail::within(o_.write_timeout, deadline_), s_.write_all(iov));
    if (!r) fail(r.error());
    co_return static_cast<bool>(r);
  }

  pooled_connection& s_;
  bool chunked_;
  std::uint64_t length_;
  std::uint64_t written_ = 0;
  const client_options& o_;
  std::optional<clock::time_point> deadline_;
  std::error_code error_;
};

// An https connection's handshake, within connect_timeout: the certificate checked against
// the host, a session offered for resumption.
task<result<void>> secure_connection(pooled_connection& c, const upstream& to, detail::client_shared& sh,
                                     std::optional<clock::time_point> deadline) {
  auto ctx = co_await sh.tls_context();
  if (!ctx) co_return ctx.error();
  auto s = tls::stream::connect(*ctx, c.stream, to.host, to.port);
  if (!s) co_return s.error();
  c.secure = std::move(*s);
  auto done = co_await with_timeout(detail::within(sh.options.connect_timeout, deadline), c.secure.handshake());
  if (done && c.secure.resumed()) sh.tls_resumed.fetch_add(1, std::memory_order_relaxed);
  if (!done && done.error().category() == tls::tls_category())
    log(log_level::debug, "TLS handshake with {} failed: {}: {}", to.authority(), done.error().message(), c.secure.error_detail());
  co_return done;
}

// Opens a connection to `to`, trying each of its addresses within connect_timeout.
task<result<std::unique_ptr<pooled_connection>>> open_connection(upstream to, detail::client_shared& sh,
                                                                 std::optional<clock::time_point> deadline) {
  const client_options& o = sh.options;
  auto addrs = co_await resolve(to.host, to.port, o.dns_ttl);
  if (!addrs) co_return addrs.error();
  std::error_code last = std::make_error_code(std::errc::host_unreachable);
  for (const address& a : *addrs) {
    if (detail::passed(deadline)) co_return std::errc::timed_out;
    auto s = co_await with_timeout(detail::within(o.connect_timeout, deadline), connect(a));
    if (!s) {
      last = s.error();
      if (last == std::errc::operation_canceled) co_return last;  // the caller's scope
      continue;
    }
    (void)s->set_nodelay();
    auto c = std::make_unique<pooled_connection>();
    c->stream = std::move(*s);
    if (to.tls) {
      const result<void> secured = co_await secure_connection(*c, to, sh, deadline);
      if (!secured) co_return secured.error();  // a certificate refused is not another address's business
    }
    co_return c;
  }
  co_return last;
}

// What one attempt on one connection came to.
struct attempt {
  std::error_code error;
  bool answered = false;  // some byte of a response arrived (a retry would repeat the request)
  std::size_t head_size = 0;
};

// Writes the request on c (its head built in `bytes`) and reads the response head into `head`
// (its views into c.in).
task<attempt> exchange(pooled_connection& c, const client_request& q, const upstream& to, const client_options& o,
                       std::optional<clock::time_point> deadline, std::string& bytes, response_head& head) {
  attempt out;
  if (detail::passed(deadline)) co_return (out.error = std::make_error_code(std::errc::timed_out), out);
  request_head_bytes(bytes, q, to, o, deadline);
  if (!q.body_stream) {
    iovec iov[2] = {{bytes.data(), bytes.size()}, {const_cast<char*>(q.body.data()), q.body.size()}};
    auto w = co_await with_timeout(detail::within(o.write_timeout, deadline), c.write_all(std::span<iovec>(iov, q.body.empty() ? 1 : 2)));
    if (!w) co_return (out.error = w.error(), out);
  } else {
    request_body_writer writer(c, q, o);
    iovec iov{bytes.data(), bytes.size()};
    auto w = co_await with_timeout(detail::within(o.write_timeout, deadline), c.write_all(std::span<iovec>(&iov, 1)));
    if (!w) co_return (out.error = w.error(), out);
    try {
      co_await q.body_stream(writer);
    } catch (const std::system_error& e) {
      writer.fail(e.code());  // the producer's source failed (a client's upload, ...)
    }
    if (const std::error_code e = co_await writer.finish()) co_return (out.error = e, out);
  }

  const auto head_deadline = clock::now() + o.response_timeout;
  const bool head_request = q.method == "HEAD";
  for (;;) {
    const std::string_view avail = c.unread();
    if (!avail.empty()) {
      out.answered = true;
      const parse_result r = parse_response_head(avail, head, head_request, o.limits);
      if (r.status == parse_status::done) {
        if (head.status >= 200) {
          out.head_size = r.consumed;
          co_return out;
        }
        // 101 would switch protocols, which nothing here asked for; other 1xx are interim.
        if (head.status == 101) co_return (out.error = std::make_error_code(std::errc::bad_message), out);
        c.pos += r.consumed;
        continue;
      }
      if (r.status == parse_status::error) {
        const bool too_big = r.error == parse_error::header_too_large || r.error == parse_error::too_many_headers;
        co_return (out.error = std::make_error_code(too_big ? std::errc::message_size : std::errc::bad_message), out);
      }
    }
    const auto limit = std::min<clock::duration>(head_deadline - clock::now(), detail::within(o.response_timeout, deadline));
    if (limit <= clock::duration::zero()) co_return (out.error = std::make_error_code(std::errc::timed_out), out);
    auto n = co_await detail::receive_more(c, limit);
    if (!n) co_return (out.error = n.error(), out);
    if (*n == 0) co_return (out.error = std::make_error_code(std::errc::connection_aborted), out);
  }
}

// A failure that a stale pooled connection explains: the peer had closed it.
bool stale(std::error_code e) noexcept {
  return e == std::errc::connection_aborted || e == std::errc::connection_reset || e == std::errc::broken_pipe;
}

// Points the views of `h` (into `from`) at the same bytes in `to`.
void rebase(response_head& h, const char* from, const std::string& to) noexcept {
  const auto move = [&](std::string_view v) { return std::string_view(to.data() + (v.data() - from), v.size()); };
  h.reason = move(h.reason);
  for (header_field& f : h.headers) {
    f.name = move(f.name);
    f.value = move(f.value);
  }
}

}  // namespace

result<upstream> upstream::parse(std::string_view text) {
  upstream u;
  if (text.starts_with("https://")) {
    u.tls = true;
    u.port = 443;
    text.remove_prefix(8);
  } else if (text.starts_with("http://")) {
    text.remove_prefix(7);
  }
  if (!text.empty() && text.back() == '/') text.remove_suffix(1);  // "https://host/"
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::errc::invalid_argument;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::errc::invalid_argument;
      port = rest.substr(1);
      if (port.empty()) return std::errc::invalid_argument;
    }
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty() || host.find(':') != std::string_view::npos) return std::errc::invalid_argument;
  }
  if (host.empty()) return std::errc::invalid_argument;
  u.host = std::string(host);
  if (!port.empty()) {
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) return std::errc::invalid_argument;
    u.port = static_cast<std::uint16_t>(p);
  }
  return u;
}

std::string upstream::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<clock::time_point> effective_deadline(const client_request& req, const cancel_scope* caller) noexcept {
  // The earlier of the request's own deadline and the one the caller's scope inherits (a
  // handler's request deadline, a with_timeout around the call): the budget sent upstream.
  std::optional<clock::time_point> d = req.deadline;
  if (caller && caller->has_deadline() && (!d || caller->deadline() < *d)) d = caller->deadline();
  return d;
}

client::client(client_options options) : shared_(std::make_shared<detail::client_shared>(std::move(options))) {}
client::~client() = default;

const client_options& client::options() const noexcept { return shared_->options; }

client_stats client::stats() const noexcept {
  const auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return {get(shared_->requests), get(shared_->connects), get(shared_->reused), get(shared_->retries),
          get(shared_->bad_responses), get(shared_->tls_resumed)};
}

std::size_t client::idle_connections(const upstream& to) const {
  const event_loop* loop = event_loop::current();
  const upstream_pool* p = loop ? upstream_pool::find(*shared_, *loop) : nullptr;
  return p ? p->idle(to) : 0;
}

task<result<client_response>> client::send(const upstream& to_ref, client_request req) {
  const upstream to = to_ref;  // the caller's may be a temporary of the co_await expression
  if (const std::error_code e = validate(req)) co_return e;
  event_loop* loop = event_loop::current();
  if (!loop) throw std::logic_error("http::client::send: no event loop on this thread");
  std::shared_ptr<upstream_pool> pool = upstream_pool::of(shared_, *loop);
  detail::client_shared& sh = *shared_;
  const client_options& o = sh.options;
  const cancel_scope* caller = co_await current_scope();
  req.deadline = effective_deadline(req, caller);
  const bool may_retry = idempotent(req.method) && !req.body_stream;
  std::unique_ptr<response_state> state = pool->take_state();

  for (int tries = 0;; ++tries) {
    // A retry goes on a new connection: the other pooled ones are likely as stale.
    std::unique_ptr<pooled_connection> c = tries == 0 ? pool->take(to) : nullptr;
    const bool reused = c != nullptr;
    if (!c) {
      auto opened = co_await open_connection(to, sh, req.deadline);
      if (!opened) {
        pool->recycle(std::move(state));
        co_return opened.error();
      }
      c = std::move(*opened);
      sh.connects.fetch_add(1, std::memory_order_relaxed);
    } else {
      sh.reused.fetch_add(1, std::memory_order_relaxed);
    }
    sh.requests.fetch_add(1, std::memory_order_relaxed);

    const attempt a = co_await exchange(*c, req, to, o, req.deadline, state->request_bytes, state->head);
    if (!a.error) {
      response_state& s = *state;
      s.head_bytes.assign(c->unread().substr(0, a.head_size));
      rebase(s.head, c->unread().data(), s.head_bytes);
      c->pos += a.head_size;
      s.pool = std::move(pool);
      s.to = to;
      s.conn = std::move(c);
      s.deadline = req.deadline;
      s.remaining = s.head.content_length;
      if (s.head.framing == response_framing::none) {
        s.body_done = true;
        s.release_connection();
      }
      co_return client_response(std::move(state));
    }
    if (a.error == std::errc::bad_message || a.error == std::errc::message_size ||
        (a.error == std::errc::connection_aborted && a.answered))
      sh.bad_responses.fetch_add(1, std::memory_order_relaxed);
    if (reused && !a.answered && may_retry && tries == 0 && stale(a.error)) {
      sh.retries.fetch_add(1, std::memory_order_relaxed);
      continue;  // c closes here
    }
    pool->recycle(std::move(state));
    co_return a.error;
  }
}

task<result<client::whole_response>> client::fetch(const upstream& to_ref, client_request req) {
  const upstream to = to_ref;
  auto r = co_await send(to, std::move(req));
  if (!r) co_return r.error();
  whole_response out;
  out.status = r->status();
  for (const header_field& f : r->headers()) out.headers.emplace_back(std::string(f.name), std::string(f.value));
  auto body = co_await r->read_all();
  if (!body) co_return body.error();
  out.body = std::move(*body);
  co_return out;
}

}  // namespace c10k::http
