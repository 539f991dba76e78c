// client_response: the body of a response the client received, read as the caller asks.
#include "client_io.hpp"

namespace c10k::http {
using detail::response_state;

namespace detail {

task<result<std::size_t>> receive_more(pooled_connection& c, clock::duration limit) {
  if (c.pos == c.in.size()) {
    c.in.clear();
    c.pos = 0;
  } else if (c.pos > 4096 && c.pos * 2 > c.in.size()) {
    c.in.erase(0, c.pos);
    c.pos = 0;
  }
  if (c.secure) {
    const std::size_t old = c.in.size();
    c.in.resize(old + 16 * 1024);
    auto n = co_await with_timeout(limit, c.secure.read(std::span<char>(c.in.data() + old, 16 * 1024)));
    c.in.resize(old + (n ? *n : 0));
    co_return n;
  }
  auto r = co_await with_timeout(limit, c.stream.receive());
  if (!r) co_return r.error();
  c.in.append(r->view());
  co_return r->size();
}

void response_state::release_connection() noexcept {
  if (!conn) return;
  if (body_done && !error && head.keep_alive) pool->give_back(to, std::move(conn));
  conn.reset();
}

void response_state::reset() noexcept {
  pool.reset();
  conn.reset();
  request_bytes.clear();
  head_bytes.clear();
  head.headers.clear();  // the parser resets the rest of the head
  head.reason = {};
  deadline.reset();
  remaining = 0;
  total = 0;
  chunks.reset();
  decoded.clear();
  body_done = false;
  error = {};
}

std::error_code response_state::fail(std::error_code e) noexcept {
  if (!error) error = e;
  if (e == std::errc::bad_message || e == std::errc::connection_aborted) pool->shared().bad_responses.fetch_add(1, std::memory_order_relaxed);
  conn.reset();
  return error;
}

}  // namespace detail

client_response::client_response(std::unique_ptr<response_state> s) noexcept : s_(std::move(s)) {}
client_response::client_response(client_response&&) noexcept = default;
client_response& client_response::operator=(client_response&& o) noexcept {
  if (this != &o) {
    client_response old(std::move(*this));  // released (or recycled) as if destroyed
    s_ = std::move(o.s_);
  }
  return *this;
}
client_response::~client_response() {
  if (!s_) return;
  s_->release_connection();
  std::shared_ptr<detail::upstream_pool> pool = s_->pool;  // recycle() resets s_->pool
  if (pool) pool->recycle(std::move(s_));
}

int client_response::status() const noexcept { return s_->head.status; }
std::string_view client_response::reason() const noexcept { return s_->head.reason; }
int client_response::version_minor() const noexcept { return s_->head.version_minor; }
const std::vector<header_field>& client_response::headers() const noexcept { return s_->head.headers; }
std::optional<std::string_view> client_response::header(std::string_view name) const noexcept { return s_->head.header(name); }
response_framing client_response::framing() const noexcept { return s_->head.framing; }
std::uint64_t client_response::content_length() const noexcept {
  return s_->head.framing == response_framing::content_length ? s_->head.content_length : 0;
}

task<result<std::string_view>> client_response::read() {
  response_state& s = *s_;
  if (s.error) co_return s.error;
  if (s.body_done) {
    s.release_connection();
    co_return std::string_view{};
  }
  const client_options& o = s.pool->options();
  const std::uint64_t max_body = o.max_body_bytes == 0 ? UINT64_MAX : o.max_body_bytes;
  detail::pooled_connection& c = *s.conn;
  for (;;) {
    const std::string_view avail = c.unread();
    switch (s.head.framing) {
      case response_framing::none:
        s.body_done = true;
        s.release_connection();
        co_return std::string_view{};
      case response_framing::content_length:
        if (s.remaining > max_body) co_return s.fail(std::make_error_code(std::errc::file_too_large));
        if (!avail.empty()) {
          const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(s.remaining, avail.size()));
          c.pos += take;
          s.remaining -= take;
          s.body_done = s.remaining == 0;
          co_return avail.substr(0, take);
        }
        break;
      case response_framing::chunked: {
        if (!avail.empty()) {
          s.decoded.clear();
          const parse_result r = s.chunks.decode(avail, s.decoded, max_body);
          if (r.status == parse_status::error)
            co_return s.fail(std::make_error_code(r.error == parse_error::body_too_large ? std::errc::file_too_large
                                                                                          : std::errc::bad_message));
          c.pos += r.consumed;
          s.body_done = r.status == parse_status::done;
          if (!s.decoded.empty()) co_return std::string_view(s.decoded);
          if (s.body_done) {
            s.release_connection();
            co_return std::string_view{};
          }
        }
        break;
      }
      case response_framing::until_close:
        if (!avail.empty()) {
          if (avail.size() > max_body - s.total) co_return s.fail(std::make_error_code(std::errc::file_too_large));
          s.total += avail.size();
          c.pos += avail.size();
          co_return avail;
        }
        break;
    }
    if (detail::passed(s.deadline)) co_return s.fail(std::make_error_code(std::errc::timed_out));
    auto n = co_await detail::receive_more(c, detail::within(o.body_timeout, s.deadline));
    if (!n) co_return s.fail(n.error());
    if (*n == 0) {
      if (s.head.framing != response_framing::until_close)
        co_return s.fail(std::make_error_code(std::errc::connection_aborted));  // truncated
      s.body_done = true;
      s.conn.reset();  // never reused: the close was the body's end
      co_return std::string_view{};
    }
  }
}

task<result<std::string>> client_response::read_all() {
  std::string out;
  response_state& s = *s_;
  const std::uint64_t max_body = s.pool->options().max_body_bytes;
  if (s.head.framing == response_framing::content_length && !s.error && !s.body_done && s.conn &&
      (max_body == 0 || s.remaining <= max_body) && s.conn->unread().size() >= s.remaining) {
    // The whole body came with the head (a small answer): taken at once, no read() per piece.
    detail::pooled_connection& c = *s.conn;
    const auto n = static_cast<std::size_t>(s.remaining);
    out.assign(c.unread().substr(0, n));
    c.pos += n;
    s.remaining = 0;
    s.body_done = true;
    s.release_connection();
    co_return out;
  }
  if (s_->head.framing == response_framing::content_length) out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(s_->remaining, 1 << 20)));
  for (;;) {
    auto piece = co_await read();
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return out;
    out.append(*piece);
  }
}

}  // namespace c10k::http
