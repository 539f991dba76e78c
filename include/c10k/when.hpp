// when_all and when_any: run several tasks at once on the current loop and wait for them.
//
//   auto [user, cart] = co_await when_all(fetch_user(id), fetch_cart(id));   // a tuple
//   std::vector<int> sizes = co_await when_all(std::move(tasks));             // a vector
//   auto [i, v] = co_await when_any(from_cache(k), from_db(k));              // index + variant
//
// The tasks start on the loop's next turn, each in a cancel_scope of its own nested in a
// scope of the group's, which is nested in the awaiter's scope while it waits: cancelling the
// awaiter's scope (or its deadline passing) cancels every task, and the deadline is what the
// tasks see as their own (current_scope()->deadline()). Both wait for every task to end before
// they return, so no task outlives the co_await; both work from fibers (fiber::await).
// - when_all: the values in order (std::monostate for task<void>). The first task to throw
//   cancels the others; once all have ended its exception is rethrown (the others' are
//   dropped). Error results are values: when_all does not look inside them.
// - when_any: the index of the first task to end and its value (or its exception, rethrown);
//   that end cancels the others, whose values and exceptions are dropped.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "c10k/cancel.hpp"
#include "c10k/detail/group_core.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/join_handle.hpp"
#include "c10k/task.hpp"

namespace c10k {

namespace detail {
template <typename T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <typename T>
value_or_monostate<T> take_value(join_handle<T>& h) {
  if constexpr (std::is_void_v<T>) {
    h.promise()->take();
    return {};
  } else {
    return h.promise()->take();
  }
}

// What the four awaiters share: the group and its wait.
template <typename Derived>
class group_awaiter : public waiter_awaitable<Derived> {
 public:
  explicit group_awaiter(bool first_wins) : g_(first_wins), wait_(g_.get()) {}
  group_awaiter(group_awaiter&& o) noexcept : waiter_awaitable<Derived>(), g_(std::move(o.g_)), wait_(g_.get()) {}  // only before it starts
  group_awaiter& operator=(group_awaiter&&) = delete;
  // Cancelled and detached children end on their own (the loop owns them).
  ~group_awaiter() {
    if (g_.get() && g_->live_ > 0) g_->scope_.cancel();
  }

  // Starts the tasks and returns true when w will be resumed once they all ended.
  bool suspend_with(waiter w, cancel_scope* scope) {
    static_cast<Derived*>(this)->start(*event_loop::current());
    return wait_.suspend_with(w, scope);
  }

 protected:
  group_ref g_;  // first: outlives the handles and the wait below it
  group_wait wait_;
};
}  // namespace detail

template <typename... Ts>
class [[nodiscard]] when_all_awaiter : public detail::group_awaiter<when_all_awaiter<Ts...>> {
 public:
  explicit when_all_awaiter(task<Ts>... ts) : detail::group_awaiter<when_all_awaiter>(false), tasks_(std::move(ts)...) {}

  // Every task's value in order; rethrows the first exception.
  std::tuple<detail::value_or_monostate<Ts>...> await_resume() {
    this->wait_.finish();
    if (this->g_->first_error_) std::rethrow_exception(this->g_->first_error_);
    return [this]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<detail::value_or_monostate<Ts>...>(detail::take_value(std::get<I>(handles_))...);
    }(std::index_sequence_for<Ts...>{});
  }
  void start(event_loop& loop) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((std::get<I>(handles_) = detail::spawn_on(loop, std::move(std::get<I>(tasks_)), this->g_.get(), I)), ...);
    }(std::index_sequence_for<Ts...>{});
  }

 private:
  std::tuple<task<Ts>...> tasks_;
  std::tuple<join_handle<Ts>...> handles_;
};

template <typename T>
class [[nodiscard]] when_all_range_awaiter : public detail::group_awaiter<when_all_range_awaiter<T>> {
 public:
  explicit when_all_range_awaiter(std::vector<task<T>> ts)
      : detail::group_awaiter<when_all_range_awaiter>(false), tasks_(std::move(ts)) {}

  // Every task's value in order; rethrows the first exception.
  std::vector<detail::value_or_monostate<T>> await_resume() {
    this->wait_.finish();
    if (this->g_->first_error_) std::rethrow_exception(this->g_->first_error_);
    std::vector<detail::value_or_monostate<T>> out;
    out.reserve(handles_.size());
    for (auto& h : handles_) out.push_back(detail::take_value(h));
    return out;
  }
  void start(event_loop& loop) {
    handles_.reserve(tasks_.size());
    for (std::size_t i = 0; i < tasks_.size(); ++i)
      handles_.push_back(detail::spawn_on(loop, std::move(tasks_[i]), this->g_.get(), i));
    tasks_.clear();
  }

 private:
  std::vector<task<T>> tasks_;
  std::vector<join_handle<T>> handles_;
};

template <typename... Ts>
class [[nodiscard]] when_any_awaiter : public detail::group_awaiter<when_any_awaiter<Ts...>> {
 public:
  using value_type = std::pair<std::size_t, std::variant<detail::value_or_monostate<Ts>...>>;
  explicit when_any_awaiter(task<Ts>... ts) : detail::group_awaiter<when_any_awaiter>(true), tasks_(std::move(ts)...) {}

  // The index of the first task to end and its value; rethrows its exception.
  value_type await_resume() {
    this->wait_.finish();
    const std::size_t won = this->g_->first_done_;
    std::optional<value_type> out;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((I == won ? (out.emplace(won, std::variant<detail::value_or_monostate<Ts>...>(
                                         std::in_place_index<I>, detail::take_value(std::get<I>(handles_)))),
                    0)
                 : 0),
       ...);
    }(std::index_sequence_for<Ts...>{});
    return std::move(*out);
  }
  void start(event_loop& loop) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((std::get<I>(handles_) = detail::spawn_on(loop, std::move(std::get<I>(tasks_)), this->g_.get(), I)), ...);
    }(std::index_sequence_for<Ts...>{});
  }

 private:
  std::tuple<task<Ts>...> tasks_;
  std::tuple<join_handle<Ts>...> handles_;
};

template <typename T>
class [[nodiscard]] when_any_range_awaiter : public detail::group_awaiter<when_any_range_awaiter<T>> {
 public:
  using value_type = std::pair<std::size_t, detail::value_or_monostate<T>>;
  explicit when_any_range_awaiter(std::vector<task<T>> ts) : detail::group_awaiter<when_any_range_awaiter>(true), tasks_(std::move(ts)) {
    if (tasks_.empty()) throw std::invalid_argument("c10k: when_any of no tasks");
  }

  // The index of the first task to end and its value; rethrows its exception.
  value_type await_resume() {
    this->wait_.finish();
    const std::size_t won = this->g_->first_done_;
    return value_type(won, detail::take_value(handles_[won]));
  }
  void start(event_loop& loop) {
    handles_.reserve(tasks_.size());
    for (std::size_t i = 0; i < tasks_.size(); ++i)
      handles_.push_back(detail::spawn_on(loop, std::move(tasks_[i]), this->g_.get(), i));
    tasks_.clear();
  }

 private:
  std::vector<task<T>> tasks_;
  std::vector<join_handle<T>> handles_;
};

// co_await when_all(a, b, ...): runs the tasks at once; yields a tuple of their values.
template <typename... Ts>
when_all_awaiter<Ts...> when_all(task<Ts>... ts) {
  return when_all_awaiter<Ts...>(std::move(ts)...);
}
// co_await when_all(tasks): runs the tasks at once; yields a vector of their values.
template <typename T>
when_all_range_awaiter<T> when_all(std::vector<task<T>> ts) {
  return when_all_range_awaiter<T>(std::move(ts));
}
// co_await when_any(a, b, ...): yields {index, variant of values} of the first task to end.
template <typename... Ts>
when_any_awaiter<Ts...> when_any(task<Ts>... ts) {
  static_assert(sizeof...(Ts) > 0, "when_any of no tasks");
  return when_any_awaiter<Ts...>(std::move(ts)...);
}
// co_await when_any(tasks): yields {index, value} of the first task to end; throws
// std::invalid_argument for no tasks.
template <typename T>
when_any_range_awaiter<T> when_any(std::vector<task<T>> ts) {
  return when_any_range_awaiter<T>(std::move(ts));
}

}  // namespace c10k
