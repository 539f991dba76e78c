// rng: a small, fast, seedable pseudo-random generator for workloads and file contents.
//
// splitmix64 turns any seed (0 included) into a well-mixed state; xorshift64* then gives the
// stream. Deterministic across machines and compilers, unlike std::uniform_*_distribution,
// which is what lets two runs (and the file set and the load generator) agree on the bytes.
#pragma once

#include <cstdint>

namespace c10k::load {

// Returns x scrambled by the splitmix64 finaliser: a cheap, good 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class rng {
 public:
  explicit constexpr rng(std::uint64_t seed) noexcept : state_(mix64(seed) | 1) {}

  // Returns the next 64 pseudo-random bits.
  constexpr std::uint64_t next() noexcept {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
  }
  // Returns a double uniform in [0, 1), from the top 53 bits.
  constexpr double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Returns an integer uniform in [0, n) (n > 0), by multiply-shift (bias below 2^-32 for small n).
  constexpr std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t state_;
};

}  // namespace c10k::load
