// The backend factory: names to implementations, checked at run time.
#include "c10k/backend_factory.hpp"

#include <array>
#include <mutex>

#include "c10k/backend.hpp"
#include "c10k/log.hpp"
#include "epoll_backend.hpp"
#include "poll_backend.hpp"
#include "select_backend.hpp"
#include "uring_backend.hpp"

namespace c10k {
namespace {

// Every backend this build knows, in order of preference; a new one is one more line here
// and one more branch in make_exact_backend().
constexpr std::array<std::string_view, 5> known_backends = {"io_uring", "epoll", "epoll-et", "poll", "select"};

class uring_missing_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "c10k.io_uring"; }
  std::string message(int v) const override {
    switch (static_cast<uring_missing>(v)) {
      case uring_missing::ext_arg: return "io_uring lacks IORING_FEAT_EXT_ARG (Linux 5.11)";
      case uring_missing::nodrop: return "io_uring lacks IORING_FEAT_NODROP (Linux 5.5)";
      case uring_missing::opcodes: return "io_uring lacks an opcode the backend submits";
      case uring_missing::multishot_accept: return "io_uring lacks multishot accept (Linux 5.19)";
      case uring_missing::cancel_fd: return "io_uring lacks cancel by fd (Linux 5.19)";
    }
    return "io_uring lacks a feature";
  }
};

}  // namespace

const std::error_category& uring_missing_category() noexcept {
  static const uring_missing_category_impl c;
  return c;
}

std::vector<std::string> available_backends() {
  std::vector<std::string> names;
  ready_queue probe_queue;
  for (std::string_view name : known_backends) {
    if (make_exact_backend(name, probe_queue)) names.emplace_back(name);
  }
  return names;
}

result<std::unique_ptr<backend>> make_exact_backend(std::string_view name, ready_queue& ready) {
  if (name == "io_uring") return make_uring_backend(ready);
  if (name == "epoll") return make_epoll_backend(epoll_mode::level, ready);
  if (name == "epoll-et") return make_epoll_backend(epoll_mode::edge, ready);
  if (name == "poll") return make_poll_backend(ready);
  if (name == "select") return make_select_backend(ready);
  return std::errc::invalid_argument;
}

result<std::unique_ptr<backend>> make_backend(std::string_view name, ready_queue& ready) {
  if (name != "io_uring" && name != "auto") return make_exact_backend(name, ready);
  auto uring = make_uring_backend(ready);
  if (uring) return uring;
  static std::once_flag said;
  std::call_once(said, [&] {
    log(log_level::warning, "io_uring is unavailable here ({}); running on epoll", uring.error().message());
  });
  return make_epoll_backend(epoll_mode::level, ready);
}

}  // namespace c10k
