// The result as JSON for the benchmark runner, and as a few lines for a person.
#include <fmt/format.h>

#include "load.hpp"

namespace c10k::load {

namespace {

// Microseconds as a person reads them: "850us", "1.24ms", "2.10s".
std::string human_us(double us) {
  if (us < 1000) return fmt::format("{:.0f}us", us);
  if (us < 1e6) return fmt::format("{:.2f}ms", us / 1e3);
  return fmt::format("{:.2f}s", us / 1e6);
}

// Quotes s for JSON (the mode names need no escaping, but the function should not assume it).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    else out += c;
  }
  return out + "\"";
}

}  // namespace

std::string to_json(const load_result& r) {
  const histogram& h = r.latency_us;
  return fmt::format(
      "{{\"mode\":{},\"duration_s\":{:.3f},\"connections\":{},\"pipeline\":{},\"offered_rate\":{:.1f},"
      "\"requests\":{},\"replies\":{},\"reply_rate\":{:.1f},\"bytes_received\":{},"
      "\"errors\":{{\"connect\":{},\"reset\":{},\"timeout\":{},\"fd\":{},\"http\":{},\"other\":{}}},"
      "\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{},\"mean\":{:.1f}}},"
      "\"reopened\":{}}}\n",
      json_string(r.mode), r.duration_s, r.connections, r.pipeline, r.offered_rate, r.requests, r.replies,
      r.reply_rate, r.bytes_received, r.errors.connect, r.errors.reset, r.errors.timeout, r.errors.fd, r.errors.http,
      r.errors.other, h.percentile(50), h.percentile(90), h.percentile(99), h.percentile(99.9), h.max(), h.mean(),
      r.reopened);
}

std::string summary(const load_result& r) {
  const histogram& h = r.latency_us;
  std::string s;
  if (r.mode == "closed")
    s += fmt::format("closed: {} connections, pipeline {}, {:.2f} s\n", r.connections, r.pipeline, r.duration_s);
  else if (r.mode == "open")
    s += fmt::format("open: offered {:.0f} requests/s, {} sessions, {:.2f} s\n", r.offered_rate, r.connections, r.duration_s);
  else
    s += fmt::format("idle: {} connections, {} reopened, {:.2f} s\n", r.connections, r.reopened, r.duration_s);
  s += fmt::format("  {} requests, {} replies, {:.1f} replies/s, {:.2f} MB received\n", r.requests, r.replies,
                   r.reply_rate, static_cast<double>(r.bytes_received) / 1e6);
  const error_counts& e = r.errors;
  s += fmt::format("  errors: {} (connect {}, reset {}, timeout {}, fd {}, http {}, other {})\n", e.total(), e.connect,
                   e.reset, e.timeout, e.fd, e.http, e.other);
  if (h.count() > 0)
    s += fmt::format("  latency: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}\n", human_us(h.percentile(50)),
                     human_us(h.percentile(90)), human_us(h.percentile(99)), human_us(h.percentile(99.9)),
                     human_us(h.max()), human_us(h.mean()));
  return s;
}

}  // namespace c10k::load
