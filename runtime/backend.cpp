// The backend factory: names to implementations, checked at run time.
#include "c10k/backend.hpp"

#include "epoll_backend.hpp"

namespace c10k {

std::vector<std::string> available_backends() {
  std::vector<std::string> names;
  ready_queue probe_queue;
  for (std::string_view name : {"epoll", "epoll-et"}) {
    if (make_backend(name, probe_queue)) names.emplace_back(name);
  }
  return names;
}

result<std::unique_ptr<backend>> make_backend(std::string_view name, ready_queue& ready) {
  if (name == "epoll" || name == "auto") return make_epoll_backend(epoll_mode::level, ready);
  if (name == "epoll-et") return make_epoll_backend(epoll_mode::edge, ready);
  return std::errc::invalid_argument;
}

}  // namespace c10k
