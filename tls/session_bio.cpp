// The BIO between OpenSSL and a session: reads take ciphertext from the session's buffers,
// writes append it to the session's output; no fd, no syscall.
#include <algorithm>
#include <cstring>

#include "session.hpp"

namespace c10k::tls::detail {

namespace {

session& of(BIO* b) { return *static_cast<session*>(BIO_get_data(b)); }

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  of(b).out.append(data, static_cast<std::size_t>(len));
  return len;
}

int bio_read(BIO* b, char* buf, int len) {
  BIO_clear_retry_flags(b);
  session& s = of(b);
  std::size_t n = 0;
  const auto want = static_cast<std::size_t>(len);
  if (s.spill_at < s.spill.size()) {
    n = std::min(want, s.spill.size() - s.spill_at);
    std::memcpy(buf, s.spill.data() + s.spill_at, n);
    s.spill_at += n;
    if (s.spill_at == s.spill.size()) {
      s.spill.clear();
      s.spill_at = 0;
    }
  } else if (!s.in.empty()) {
    n = std::min(want, s.in.size());
    std::memcpy(buf, s.in.data(), n);
    s.in.remove_prefix(n);
  }
  if (n > 0) return static_cast<int>(n);
  if (s.eof) return 0;
  BIO_set_retry_read(b);
  return -1;
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return static_cast<long>(of(b).unread());
    case BIO_CTRL_WPENDING: return 0;
    case BIO_CTRL_EOF: return of(b).eof && of(b).unread() == 0;
    default: return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* session_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "c10k session");
    BIO_meth_set_write(x, bio_write);
    BIO_meth_set_read(x, bio_read);
    BIO_meth_set_ctrl(x, bio_ctrl);
    BIO_meth_set_create(x, bio_create);
    return x;
  }();
  return m;
}

}  // namespace

BIO* make_session_bio(session& s) {
  BIO* b = BIO_new(session_method());
  if (b) BIO_set_data(b, &s);
  return b;
}

}  // namespace c10k::tls::detail
