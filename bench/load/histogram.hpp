// histogram: latencies in microseconds, log-bucketed, for percentiles with ~0.4% error.
//
// Values below 256 us get a bucket each; above, every power of two is cut into 128 equal
// buckets, so a bucket is at most 1/128 of its value wide and its midpoint is within 0.4% of
// anything in it (the idea of HdrHistogram, at a fixed precision).
// Buckets cover 0 .. 2^27 us (134 s); larger values land in the last bucket, and max() stays
// exact. The counts live in a fixed array: record() never allocates.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace c10k::load {

class histogram {
 public:
  static constexpr unsigned sub_bits = 7;                          // 128 buckets per power of two
  static constexpr std::uint64_t linear_limit = 2u << sub_bits;    // 256: exact below this
  static constexpr unsigned max_bits = 27;                         // 2^27 us = 134 s
  static constexpr std::size_t bucket_count = linear_limit + (max_bits - sub_bits - 1) * (1u << sub_bits);

  // Adds one value (microseconds).
  void record(std::uint64_t us) noexcept {
    ++counts_[index_of(us)];
    ++count_;
    sum_ += us;
    max_ = std::max(max_, us);
    min_ = std::min(min_, us);
  }

  // Adds every value recorded in o.
  void merge(const histogram& o) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
  }

  // Returns the value at percentile q (0..100): the midpoint of the bucket holding the
  // ceil(q% * count)-th smallest value, clamped to [min, max]; 0 when empty.
  std::uint64_t percentile(double q) const noexcept {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 100.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::clamp(midpoint_of(i), min_, max_);
    }
    return max_;
  }

  // Returns how many values were recorded.
  std::uint64_t count() const noexcept { return count_; }
  // Returns the exact mean of the values (0 when empty).
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // Returns the largest value recorded, exactly (0 when empty).
  std::uint64_t max() const noexcept { return max_; }
  // Returns the smallest value recorded, exactly (0 when empty).
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }

  // Returns the bucket a value falls in.
  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < linear_limit) return static_cast<std::size_t>(v);
    const unsigned msb = static_cast<unsigned>(std::bit_width(v)) - 1;  // >= sub_bits + 1
    if (msb >= max_bits) return bucket_count - 1;
    const unsigned shift = msb - sub_bits;                               // >= 1
    const std::uint64_t sub = v >> shift;                                // in [128, 256)
    return linear_limit + (shift - 1) * (1u << sub_bits) + static_cast<std::size_t>(sub - (1u << sub_bits));
  }
  // Returns the smallest value of bucket i.
  static std::uint64_t lowest_of(std::size_t i) noexcept {
    if (i < linear_limit) return i;
    const std::size_t k = i - linear_limit;
    const unsigned shift = static_cast<unsigned>(k >> sub_bits) + 1;
    const std::uint64_t sub = (k & ((1u << sub_bits) - 1)) + (1u << sub_bits);
    return sub << shift;
  }
  // Returns the middle of bucket i (its only value below 256).
  static std::uint64_t midpoint_of(std::size_t i) noexcept {
    if (i < linear_limit) return i;
    const std::uint64_t lo = lowest_of(i);
    const std::uint64_t width = std::uint64_t{1} << (((i - linear_limit) >> sub_bits) + 1);
    return lo + width / 2;
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace c10k::load
