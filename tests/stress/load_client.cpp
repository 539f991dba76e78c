#include "load_client.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <memory>
#include <random>
#include <span>

#include "c10k/address.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/sync.hpp"
#include "c10k/tcp_stream.hpp"
#include "client_conn.hpp"
#include "c10k/time.hpp"
#include "response_parser.hpp"
#include "stress_routes.hpp"

namespace c10k::stress {

std::string load_tally::summary() const {
  std::string s = "sessions " + std::to_string(sessions) + ", responses ok " + std::to_string(responses_ok) +
                  ", cut by client " + std::to_string(cut_by_client) + ", ended by server " + std::to_string(server_closed) +
                  ", clean closes " + std::to_string(clean_closes) + ", refused " + std::to_string(refused) + ", bad " +
                  std::to_string(bad) + "; slowest first answer " + std::to_string(slowest_first_ms) + " ms";
  std::lock_guard lock(mutex_);
  for (const auto& p : problems_) s += "\n  " + p;
  return s;
}

namespace {

using namespace std::chrono_literals;
using rng = std::mt19937_64;

// The session kinds and how often each is drawn.
enum kind : int {
  normal,          // 1-4 requests on one keep-alive connection, each checked
  pipelined,       // batches of 2-5 requests in one write, answers checked in order
  client_timeout,  // a slow request read under a timeout of 0-25 ms
  scope_cancel,    // a normal session whose cancel_scope another coroutine cancels at random
  whole_timeout,   // a normal or pipelined session under with_timeout of 0-20 ms
  abort_head,      // part of a request head, then close (sometimes with RST)
  abort_body,      // a head and part of its body, then close
  abort_response,  // a large or streamed response read in part, then close
  stall,           // part of a head, then silence until the server's header timeout ends it
  garbage,         // an invalid head: the server answers 4xx/5xx and closes
  // TLS loads only:
  tls_stall,       // a part of a ClientHello (or none, or all), then silence until the handshake timeout
  tls_garbage,     // instead of a ClientHello: plain HTTP (a plain 400), junk, or a record header and junk
  tls_abort,       // a handshake cut: by a close after the ClientHello, or by a client timeout
  kind_count
};
constexpr const char* kind_names[kind_count] = {"normal",         "pipelined",  "client_timeout", "scope_cancel",
                                                "whole_timeout",  "abort_head", "abort_body",     "abort_response",
                                                "stall",          "garbage",    "tls_stall",      "tls_garbage",
                                                "tls_abort"};
constexpr unsigned plain_weights[kind_count] = {25, 10, 12, 10, 8, 8, 7, 10, 4, 6, 0, 0, 0};
constexpr unsigned tls_weights[kind_count] = {25, 10, 12, 10, 8, 8, 7, 10, 4, 6, 3, 4, 5};

unsigned uniform(rng& r, unsigned lo, unsigned hi) { return std::uniform_int_distribution<unsigned>(lo, hi)(r); }

struct planned_request {
  std::string bytes;
  std::string what;      // "GET /sleep/5", for messages
  std::string expected;  // the body the answer must have
  bool close = false;    // sent with Connection: close
};

planned_request random_request(rng& r, bool close) {
  static const std::string host = "Host: stress\r\n";
  const std::string connection = close ? "Connection: close\r\n" : "";
  planned_request p;
  p.close = close;
  std::string path;
  switch (uniform(r, 0, 6)) {
    case 0: path = "/hello"; break;
    case 1: path = "/sleep/" + std::to_string(uniform(r, 0, 20)); break;
    case 2: path = "/fiber/" + std::to_string(uniform(r, 0, 10)); break;
    case 3: path = "/offload/" + std::to_string(uniform(r, 0, 10)); break;
    case 4: path = "/stream/" + std::to_string(uniform(r, 1, 300)); break;
    case 5: path = "/big/" + std::to_string(uniform(r, 1, 256)); break;
    default: {
      std::string body(uniform(r, 0, 65536), '\0');
      const unsigned start = uniform(r, 0, 25);
      for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('A' + (start + i * 11) % 26);
      p.what = "POST /echo (" + std::to_string(body.size()) + " bytes)";
      p.bytes = "POST /echo HTTP/1.1\r\n" + host + connection + "Content-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body;
      p.expected = std::move(body);
      return p;
    }
  }
  p.what = "GET " + path;
  p.bytes = "GET " + path + " HTTP/1.1\r\n" + host + connection + "\r\n";
  p.expected = expected_body(path);
  return p;
}

// How a read of one response ended.
enum class got { response, eof_clean, truncated, malformed, error_clean, error_mid };

const char* got_name(got g) {
  switch (g) {
    case got::response: return "a response";
    case got::eof_clean: return "end of stream before any byte";
    case got::truncated: return "end of stream inside a response (truncated)";
    case got::malformed: return "a malformed response";
    case got::error_clean: return "an error before any byte";
    case got::error_mid: return "an error inside a response";
  }
  return "?";
}

struct read_result {
  got what;
  std::error_code ec;
};

// Reads the next response from s into out, keeping surplus bytes in buf.
task<read_result> read_response(client_conn& s, std::string& buf, http_response& out) {
  for (;;) {
    switch (parse_response(buf, out)) {
      case parse_status::done: buf.erase(0, out.consumed); co_return read_result{got::response, {}};
      case parse_status::malformed: co_return read_result{got::malformed, {}};
      case parse_status::incomplete: break;
    }
    const std::size_t old = buf.size();
    buf.resize(old + 16384);
    auto n = co_await s.read(std::span<char>(buf.data() + old, 16384));
    buf.resize(old + (n ? *n : 0));
    if (!n) co_return read_result{old == 0 ? got::error_clean : got::error_mid, n.error()};
    if (*n == 0) co_return read_result{old == 0 ? got::eof_clean : got::truncated, {}};
  }
}

struct context {
  const load_config& cfg;
  load_tally& tally;
  std::atomic<bool>& wind_down;
  std::size_t started = 0;
};

bool is_cut(std::error_code ec) { return ec == std::errc::operation_canceled || ec == std::errc::timed_out; }

// Accounts for a step that did not give a response: our own cut, a clean close by a stopping
// server, or a failure.
void step_failed(context& c, int k, const std::string& step, got what, std::error_code ec, bool cut_possible) {
  if (cut_possible && is_cut(ec)) {
    ++c.tally.cut_by_client;
    return;
  }
  if (c.cfg.stop_mode && (what == got::eof_clean || what == got::error_clean)) {
    ++c.tally.clean_closes;
    return;
  }
  c.tally.problem(std::string(kind_names[k]) + ": " + step + ": " + got_name(what) + (ec ? " (" + ec.message() + ")" : ""));
}

// Checks a response against its request; true when it is right.
bool check(context& c, int k, const planned_request& q, const http_response& resp) {
  if (resp.status == 200 && resp.body == q.expected) {
    ++c.tally.responses_ok;
    return true;
  }
  std::size_t diff = 0;
  while (diff < resp.body.size() && diff < q.expected.size() && resp.body[diff] == q.expected[diff]) ++diff;
  c.tally.problem(std::string(kind_names[k]) + ": " + q.what + ": status " + std::to_string(resp.status) + ", body of " +
                  std::to_string(resp.body.size()) + " bytes for " + std::to_string(q.expected.size()) +
                  " expected, first difference at " + std::to_string(diff));
  return false;
}

// Connects (bounded), with no TLS; nullptr after accounting for the failure (in stop mode, a
// refused connect sets *refused).
task<std::unique_ptr<client_conn>> open_raw(context& c, int k, bool cut_possible, bool* refused = nullptr) {
  auto s = co_await with_timeout(patience(), connect(address::loopback(c.cfg.port)));
  if (s) co_return std::make_unique<client_conn>(std::move(*s));
  if (c.cfg.stop_mode && (s.error() == std::errc::connection_refused || s.error() == std::errc::connection_reset)) {
    ++c.tally.refused;
    if (refused) *refused = true;
  } else {
    step_failed(c, k, "connect", got::error_clean, s.error(), cut_possible);
  }
  co_return nullptr;
}

// Connects (bounded), and on a TLS load makes the handshake (bounded); nullptr after
// accounting for the failure (as open_raw).
task<std::unique_ptr<client_conn>> open(context& c, int k, bool cut_possible, bool* refused = nullptr) {
  auto s = co_await open_raw(c, k, cut_possible, refused);
  if (!s || !c.cfg.tls) co_return s;
  if (auto h = co_await with_timeout(patience(), s->start_tls(c.cfg.tls, c.cfg.port)); !h) {
    // (A stopping server ends handshakes too: step_failed counts that as a clean close.)
    step_failed(c, k, "TLS handshake", got::error_clean, h.error(), cut_possible);
    co_return nullptr;
  }
  co_return s;
}

// Requests on one connection, in batches (of 1, or 2-5 when pipelined), every answer checked.
// Returns false when the connect was refused (in stop mode: the server stopped); a handshake
// that a stopping server ended is a clean close, after which the worker tries again.
task<bool> well_behaved(context& c, rng& r, int k, bool pipeline, bool cut_possible, unsigned max_requests) {
  const auto opened = std::chrono::steady_clock::now();  // (a TLS handshake counts too)
  bool refused = false;
  auto s = co_await open(c, k, cut_possible, &refused);
  if (!s) co_return !refused;
  std::string buf;
  http_response resp;
  // "request 2 of 3, 412 ms after connect, from port 40312": where in the connection's life a
  // failure came (the port finds the server's log line about it).
  auto where = [&](const planned_request& q, unsigned index) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened).count();
    sockaddr_in local{};
    socklen_t len = sizeof local;
    (void)::getsockname(s->socket().native_handle(), reinterpret_cast<sockaddr*>(&local), &len);
    return q.what + " (request " + std::to_string(index + 1) + ", " + std::to_string(ms) + " ms after connect, from port " + std::to_string(ntohs(local.sin_port)) + ")";
  };
  const unsigned total = uniform(r, 1, max_requests);
  for (unsigned sent = 0; sent < total;) {
    std::vector<planned_request> batch;
    const unsigned n = std::min(total - sent, pipeline ? uniform(r, 2, 5) : 1u);
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
      const bool last = sent + i + 1 == total;
      batch.push_back(random_request(r, last && uniform(r, 0, 3) == 0));
      out += batch.back().bytes;
    }
    sent += n;
    if (auto w = co_await s->write_all(out); !w) {
      step_failed(c, k, "write " + batch.front().what, got::error_clean, w.error(), cut_possible);
      co_return true;
    }
    for (unsigned i = 0; i < batch.size(); ++i) {
      const auto& q = batch[i];
      auto got_one = co_await with_timeout(patience(), read_response(*s, buf, resp));
      if (got_one.what != got::response) {
        step_failed(c, k, "read " + where(q, sent - n + i), got_one.what, got_one.ec, cut_possible);
        co_return true;
      }
      if (sent == n && i == 0)
        c.tally.first_answer_took(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened).count()));
      if (!check(c, k, q, resp)) {
        c.tally.problem("  (that was " + where(q, sent - n + i) + ")");
        co_return true;
      }
      if (resp.header("connection") == "close") {
        if (!q.close && !c.cfg.stop_mode) c.tally.problem(std::string(kind_names[k]) + ": " + q.what + ": unasked Connection: close");
        // Nothing may follow a response that ends the connection.
        auto after = co_await with_timeout(patience(), read_response(*s, buf, resp));
        if (after.what != got::eof_clean && !(after.what == got::error_clean && !is_cut(after.ec)) &&
            !(cut_possible && is_cut(after.ec)))
          c.tally.problem(std::string(kind_names[k]) + ": after Connection: close: " + got_name(after.what));
        co_return true;
      }
      if (q.close) c.tally.problem(std::string(kind_names[k]) + ": " + q.what + ": Connection: close asked, not answered");
    }
  }
  co_return true;
}

// Drops s: a plain close, or a reset (SO_LINGER 0) one time in two; on TLS, one time in three
// a close_notify first (a clean TLS close, mid-request or mid-response all the same).
task<void> drop(rng& r, client_conn& s) {
  if (s.secure() && uniform(r, 0, 2) == 0) (void)co_await with_timeout(1s, s.close_notify());
  if (uniform(r, 0, 1)) {
    linger l{1, 0};
    ::setsockopt(s.socket().native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  s.socket().close();
}

struct cut_switch {
  cancel_scope scope;
  bool done = false;
};

task<void> cut_later(std::shared_ptr<cut_switch> sw, std::chrono::milliseconds after) {
  co_await sleep_for(after);
  if (!sw->done) sw->scope.cancel();
}

task<void> slow_request_under_timeout(context& c, rng& r, int k) {
  auto s = co_await open(c, k, false);
  if (!s) co_return;
  static const char* const slow[] = {"/sleep/", "/fiber/", "/offload/"};
  const std::string path = slow[uniform(r, 0, 2)] + std::to_string(uniform(r, 5, 30));
  planned_request q{"GET " + path + " HTTP/1.1\r\nHost: stress\r\n\r\n", "GET " + path, expected_body(path)};
  if (auto w = co_await s->write_all(q.bytes); !w) co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
  std::string buf;
  http_response resp;
  auto got_one = co_await with_timeout(std::chrono::milliseconds(uniform(r, 0, 25)), read_response(*s, buf, resp));
  if (got_one.what == got::response) check(c, k, q, resp);
  else step_failed(c, k, "read " + q.what, got_one.what, got_one.ec, true);
  co_await drop(r, *s);
}

task<void> abort_midway(context& c, rng& r, int k) {
  auto s = co_await open(c, k, false);
  if (!s) co_return;
  std::string out;
  if (k == abort_head) {
    const auto q = random_request(r, false);
    const auto head = q.bytes.find("\r\n\r\n") + 3;
    out = q.bytes.substr(0, uniform(r, 1, static_cast<unsigned>(head)));
  } else {
    const unsigned length = uniform(r, 1000, 200000);
    out = "POST /echo HTTP/1.1\r\nHost: stress\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n" +
          std::string(uniform(r, 0, length - 1), 'b');
  }
  if (auto w = co_await s->write_all(out); !w) co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
  ++c.tally.cut_by_client;
  co_await drop(r, *s);
}

task<void> abort_response_midway(context& c, rng& r, int k) {
  auto s = co_await open(c, k, false);
  if (!s) co_return;
  const std::string path =
      uniform(r, 0, 1) ? "/big/" + std::to_string(uniform(r, 256, 2048)) : "/stream/" + std::to_string(uniform(r, 2000, 20000));
  if (auto w = co_await s->write_all("GET " + path + " HTTP/1.1\r\nHost: stress\r\n\r\n"); !w)
    co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
  // Fewer bytes than the response has (a stream of n pieces has at least 8n), so the server is
  // always cut off mid-response.
  const std::size_t want = uniform(r, 1, path[1] == 's' ? 16000 : 65536);
  std::string buf(16384, '\0');
  for (std::size_t seen = 0; seen < want;) {
    auto n = co_await with_timeout(patience(), s->read(buf));
    if (!n || *n == 0)
      co_return step_failed(c, k, "read " + path, seen ? got::truncated : got::eof_clean, n ? std::error_code{} : n.error(), false);
    seen += *n;
  }
  ++c.tally.cut_by_client;
  co_await drop(r, *s);
}

// A stalled head or garbage: the server must answer with an error status or close, then close.
task<void> ended_by_server(context& c, rng& r, int k) {
  auto s = co_await open(c, k, false);
  if (!s) co_return;
  std::string out;
  if (k == stall) {
    out = std::string("GET /hello HTTP/1.1\r\nHost: stress\r\n").substr(0, uniform(r, 1, 35));
  } else {
    out.push_back('\x01');
    for (unsigned i = uniform(r, 0, 200); i > 0; --i) out.push_back(static_cast<char>(uniform(r, 1, 255)));
    out += "\r\n\r\n";
  }
  if (auto w = co_await s->write_all(out); !w) co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
  std::string buf;
  http_response resp;
  auto first = co_await with_timeout(patience(), read_response(*s, buf, resp));
  if (first.what == got::response) {
    if (resp.status < 400 || resp.header("connection") != "close")
      co_return c.tally.problem(std::string(kind_names[k]) + ": answered " + std::to_string(resp.status) + " without closing");
    first = co_await with_timeout(patience(), read_response(*s, buf, resp));
  }
  if (first.what == got::eof_clean || (first.what == got::error_clean && !is_cut(first.ec))) ++c.tally.server_closed;
  else step_failed(c, k, "waiting for the server to end it", first.what, first.ec, false);
}

// Reads what the server sends until it closes or resets the connection; false after
// accounting for a hang (patience() of silence) as a failure.
task<bool> until_closed(context& c, int k, tcp_stream& s, std::string& seen) {
  std::array<char, 4096> buf;
  for (;;) {
    auto n = co_await with_timeout(patience(), s.read(buf));
    if (n && *n > 0) {
      if (seen.size() < 65536) seen.append(buf.data(), *n);
      continue;
    }
    if (n || !is_cut(n.error())) co_return true;
    step_failed(c, k, "waiting for the server to end the handshake", seen.empty() ? got::error_clean : got::error_mid,
                n.error(), false);
    co_return false;
  }
}

// A part of a ClientHello (none, some, or all of it), then silence: the server must end the
// connection at its handshake timeout.
task<void> stall_handshake(context& c, rng& r, int k) {
  auto s = co_await open_raw(c, k, false);
  if (!s) co_return;
  const std::string hello = client_hello();
  const std::string part = hello.substr(0, uniform(r, 0, static_cast<unsigned>(hello.size())));
  if (!part.empty())
    if (auto w = co_await s->write_all(part); !w) co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
  std::string seen;
  if (co_await until_closed(c, k, s->socket(), seen)) ++c.tally.server_closed;
}

// Something that is not a ClientHello: plain HTTP (answered with a plain 400, then closed),
// bytes that are no TLS record (closed unanswered), or a handshake record of junk (an alert at
// most, then closed).
task<void> garble_handshake(context& c, rng& r, int k) {
  auto s = co_await open_raw(c, k, false);
  if (!s) co_return;
  const unsigned variant = uniform(r, 0, 2);
  std::string out;
  if (variant == 0) {
    out = "GET /hello HTTP/1.1\r\nHost: stress\r\n\r\n";
  } else {
    std::string junk(uniform(r, 1, 300), '\0');
    for (char& b : junk) b = static_cast<char>(uniform(r, 0, 255));
    if (variant == 1) out.push_back(static_cast<char>(uniform(r, 0, 0x15)));  // no record type, no method
    else out = std::string("\x16\x03\x01", 3) + static_cast<char>(junk.size() >> 8) + static_cast<char>(junk.size() & 0xff);
    out += junk;
  }
  if (auto w = co_await s->write_all(out); !w) co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
  std::string seen;
  if (!co_await until_closed(c, k, s->socket(), seen)) co_return;
  http_response resp;
  if (variant == 0 && (parse_response(seen, resp) != parse_status::done || resp.status != 400 || resp.header("connection") != "close"))
    c.tally.problem(std::string(kind_names[k]) + ": plain HTTP on the TLS port: not a plain 400 with Connection: close (" +
                    std::to_string(seen.size()) + " bytes)");
  else if (variant == 1 && !seen.empty())
    c.tally.problem(std::string(kind_names[k]) + ": junk instead of a ClientHello answered with " + std::to_string(seen.size()) + " bytes");
  else ++c.tally.server_closed;
}

// A handshake the client abandons: its own under a timeout of 0-4 ms (cut wherever it got to),
// or a ClientHello and then a close (or reset) once the server began to answer.
task<void> cut_handshake(context& c, rng& r, int k) {
  auto s = co_await open_raw(c, k, false);
  if (!s) co_return;
  if (uniform(r, 0, 1)) {
    auto h = co_await with_timeout(std::chrono::milliseconds(uniform(r, 0, 4)), s->start_tls(c.cfg.tls, c.cfg.port));
    if (!h && !is_cut(h.error())) co_return step_failed(c, k, "TLS handshake", got::error_clean, h.error(), false);
  } else {
    if (auto w = co_await s->write_all(client_hello()); !w) co_return step_failed(c, k, "write", got::error_clean, w.error(), false);
    std::array<char, 512> buf;
    auto n = co_await with_timeout(patience(), s->socket().read(std::span<char>(buf.data(), uniform(r, 1, 512))));
    if (!n || *n == 0) co_return step_failed(c, k, "read the server's first flight", got::eof_clean, n ? std::error_code{} : n.error(), false);
  }
  ++c.tally.cut_by_client;
  co_await drop(r, *s);
}

task<void> run_session(context& c, rng& r, int k, bool& refused) {
  switch (k) {
    case normal: refused = !co_await well_behaved(c, r, k, false, false, c.cfg.stop_mode ? 50 : 4); break;
    case pipelined: refused = !co_await well_behaved(c, r, k, true, false, c.cfg.stop_mode ? 50 : 12); break;
    case client_timeout: co_await slow_request_under_timeout(c, r, k); break;
    case scope_cancel: {
      auto sw = std::make_shared<cut_switch>();
      event_loop::current()->spawn(cut_later(sw, std::chrono::milliseconds(uniform(r, 0, 15))));
      co_await in_scope(sw->scope, well_behaved(c, r, k, false, true, 4));
      sw->done = true;
      break;
    }
    case whole_timeout:
      co_await with_timeout(std::chrono::milliseconds(uniform(r, 0, 20)), well_behaved(c, r, k, uniform(r, 0, 1), true, 6));
      break;
    case abort_head:
    case abort_body: co_await abort_midway(c, r, k); break;
    case abort_response: co_await abort_response_midway(c, r, k); break;
    case tls_stall: co_await stall_handshake(c, r, k); break;
    case tls_garbage: co_await garble_handshake(c, r, k); break;
    case tls_abort: co_await cut_handshake(c, r, k); break;
    default: co_await ended_by_server(c, r, k); break;
  }
}

int pick_kind(rng& r, const load_config& cfg) {
  if (cfg.stop_mode) return uniform(r, 0, 3) ? normal : pipelined;
  if (!cfg.only_kinds.empty()) return cfg.only_kinds[uniform(r, 0, static_cast<unsigned>(cfg.only_kinds.size() - 1))];
  const unsigned* weights = cfg.tls ? tls_weights : plain_weights;
  unsigned total = 0;
  for (int k = 0; k < kind_count; ++k) total += weights[k];
  unsigned x = uniform(r, 0, total - 1);
  for (int k = 0; k < kind_count; ++k) {
    if (x < weights[k]) return k;
    x -= weights[k];
  }
  return normal;
}

task<void> worker(context& c, unsigned index, wait_group& wg) {
  rng r(c.cfg.seed + index * 0x9E3779B97F4A7C15ull);
  try {
    while (!c.wind_down.load()) {
      if (!c.cfg.stop_mode && c.started >= c.cfg.sessions) break;
      ++c.started;
      ++c.tally.sessions;
      bool refused = false;
      co_await run_session(c, r, pick_kind(r, c.cfg), refused);
      if (refused) break;
    }
  } catch (const std::exception& e) {
    c.tally.problem(std::string("client exception: ") + e.what());
  }
  wg.done();
}

task<void> drive(context& c) {
  wait_group wg;
  wg.add(c.cfg.concurrency);
  for (unsigned i = 0; i < c.cfg.concurrency; ++i) event_loop::current()->spawn(worker(c, i, wg));
  (void)co_await wg.wait();
}

}  // namespace

load_client::load_client(load_config config, thread_registry* signalled)
    : config_(std::move(config)), signalled_(signalled), thread_([this] { run(); }) {}

void load_client::run() {
  try {
    event_loop loop(config_.backend);
    if (signalled_) signalled_->note_current();
    context c{config_, tally_, wind_down_};
    loop.block_on(drive(c));
  } catch (const std::exception& e) {
    failure_ = e.what();
  }
  finished_ = true;
}

}  // namespace c10k::stress
