// result<T>: the outcome of an I/O operation, a value or a std::error_code.
//
// I/O failures (EOF is a value, reset and timed_out are errors) are everyday inputs for a
// server, so they are returned, never thrown. value() throws std::system_error for callers
// that prefer exceptions; operator* assumes the caller checked.
#pragma once

#include <cerrno>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace c10k {

// The error_code for a negated errno value as system calls and io_uring report it.
inline std::error_code errno_code(int err) noexcept { return {err, std::system_category()}; }

template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(std::error_code ec) : v_(std::in_place_index<1>, ec) {}
  result(std::errc e) : v_(std::in_place_index<1>, std::make_error_code(e)) {}

  // True when the operation succeeded.
  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  // The value; throws std::system_error when this holds an error.
  T& value() & { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  const T& value() const& { check(); return std::get<0>(v_); }

  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }

  // The error; an empty error_code when this holds a value.
  std::error_code error() const noexcept {
    auto* e = std::get_if<1>(&v_);
    return e ? *e : std::error_code{};
  }

 private:
  void check() const {
    if (auto* e = std::get_if<1>(&v_)) throw std::system_error(*e);
  }
  std::variant<T, std::error_code> v_;
};

template <>
class result<void> {
 public:
  result() = default;
  result(std::error_code ec) : ec_(ec) {}
  result(std::errc e) : ec_(std::make_error_code(e)) {}

  bool has_value() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return has_value(); }
  // Throws std::system_error when this holds an error.
  void value() const {
    if (ec_) throw std::system_error(ec_);
  }
  std::error_code error() const noexcept { return ec_; }

 private:
  std::error_code ec_;
};

// Maps a system call's return (>= 0, or -errno) onto result<size_t>.
inline result<std::size_t> from_syscall(long long r) {
  if (r < 0) return errno_code(static_cast<int>(-r));
  return static_cast<std::size_t>(r);
}

}  // namespace c10k
