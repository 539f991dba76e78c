// The task dump's line for one connection: what it waits on, since when, its deadline.
#include <sys/socket.h>

#include <iterator>
#include <string>

#include <fmt/format.h>

#include "connection.hpp"

namespace c10k::http {

namespace {

// Seconds from `from` to `to`, signed, as text ("1.250 s").
std::string seconds_between(clock::time_point from, clock::time_point to) {
  return fmt::format("{:.3f} s", std::chrono::duration<double>(to - from).count());
}

}  // namespace

void connection::describe(std::string& out) const {
  const clock::time_point now = clock::now();
  const server_options& o = *state.options;
  auto at = std::back_inserter(out);
  const int fd = stream.native_handle();
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  std::string peer_text = "?";
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    peer_text = address::from(reinterpret_cast<const sockaddr*>(&ss), len).to_string();
  fmt::format_to(at, "  connection fd {} peer {}, {} request(s) served", fd, peer_text, served);
  if (fiber_mode_ && active_.task_started) fmt::format_to(at, ", on fiber {} \"http connection\"", active_.fiber_id);
  if (hosted_ && !waiting_ && active_.tls) fmt::format_to(at, ", {}", active_.tls->version());
  out += ": ";
  const clock::time_point deadline_at = deadline.wanted();
  const connection_work* work = waiting_ ? nullptr : active_.work;
  const bool idle = waiting_ || (hosted_ && active_.hosted_wait && deadline.phase() == connection_phase::idle);
  const clock::duration idle_for = served == 0 ? clock::duration(o.header_timeout) : clock::duration(o.keepalive_timeout);
  if (hosted_ && !active_.task_started) {
    out += fiber_mode_ ? "accepted, its fiber not started yet" : "accepted, its task not started yet";
  } else if (idle) {
    fmt::format_to(at, "idle, waiting for a {} request (receive) since {} ago", served == 0 ? "first" : "next",
                   seconds_between(deadline_at - idle_for, now));
  } else {
    switch (deadline.phase()) {
      case connection_phase::idle:
      case connection_phase::head:
        fmt::format_to(at, "reading a request head (receive), {} byte(s) so far", work ? work->reader.buffered() : 0);
        if (deadline.phase() == connection_phase::head)
          fmt::format_to(at, ", since {} ago", seconds_between(deadline_at - o.header_timeout, now));
        break;
      case connection_phase::body:
        fmt::format_to(at, "reading a request body (receive), {} byte(s) so far",
                       work ? work->reader.body_bytes_received() : 0);
        break;
      case connection_phase::handler:
        out += "in its handler";
        if (work) fmt::format_to(at, " since {} ago", seconds_between(work->started, now));
        break;
      case connection_phase::write:
        out += "sending a response (send)";
        break;
      case connection_phase::linger:
        out += "lingering close: reading and dropping what the client still sends (receive)";
        break;
      case connection_phase::handshake:
        out += "TLS handshake (receive)";
        break;
    }
  }
  if (deadline_at == clock::time_point::max()) out += ", no deadline";
  else fmt::format_to(at, ", deadline in {}", seconds_between(now, deadline_at));
  if (work && work->reader.head_parsed()) {
    const request_head& h = work->reader.head();
    fmt::format_to(at, "; request \"{} {} HTTP/1.{}\"", h.method, h.target, h.version_minor);
  }
  // What its handler awaits now, and the request's deadline (a scope nested in the handler's).
  if (work && work->waits_in) describe_waits(*work->waits_in, out, now);
  out += '\n';
}

}  // namespace c10k::http
