#include "specweb.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace c10k::load {

std::uint64_t specweb_set::file_size(unsigned cls, unsigned number) noexcept {
  std::uint64_t scale = 1;
  for (unsigned c = 0; c < cls; ++c) scale *= 10;
  // number * 1024 * 10^cls / 10, rounded to the nearest byte (class 0: 102, 205, 307, ...).
  return (number * 1024 * scale + 5) / 10;
}

specweb_set::specweb_set(std::uint64_t seed, unsigned dirs) : seed_(seed), dirs_(std::max(dirs, 1u)) {
  files_.reserve(static_cast<std::size_t>(dirs_) * classes * files_per_class);
  for (unsigned d = 0; d < dirs_; ++d)
    for (unsigned c = 0; c < classes; ++c)
      for (unsigned k = 1; k <= files_per_class; ++k) {
        specweb_file f{fmt::format("dir{:05}/class{}_{}", d, c, k), file_size(c, k), d, c, k};
        total_bytes_ += f.size;
        files_.push_back(std::move(f));
      }

  // Zipf with exponent 1 over the dirs * 9 files of a class: P(rank r) is proportional to 1/(r+1).
  const std::size_t n = static_cast<std::size_t>(dirs_) * files_per_class;
  cdf_.resize(n);
  double sum = 0;
  for (std::size_t r = 0; r < n; ++r) cdf_[r] = (sum += 1.0 / static_cast<double>(r + 1));
  for (double& p : cdf_) p /= sum;
  cdf_.back() = 1.0;  // no rounding gap above the last rank

  // Which file holds which rank: a Fisher-Yates shuffle per class, drawn from the seed, so
  // the popular files are spread over directories and sizes.
  for (unsigned c = 0; c < classes; ++c) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    rng r(mix64(seed) ^ (0x5bd1e995u + c));
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[r.below(i)]);
    auto& ranks = by_rank_[c];
    ranks.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
      const unsigned dir = static_cast<unsigned>(order[j] / files_per_class);
      const unsigned number = static_cast<unsigned>(order[j] % files_per_class) + 1;
      ranks[j] = index_of(dir, c, number);
    }
  }
}

void specweb_set::fill(std::size_t i, std::span<char> out) const noexcept {
  rng r(mix64(seed_) ^ mix64(i + 1));
  std::size_t at = 0;
  for (; at + 8 <= out.size(); at += 8) {
    const std::uint64_t w = r.next();
    std::memcpy(out.data() + at, &w, 8);
  }
  if (at < out.size()) {
    const std::uint64_t w = r.next();
    std::memcpy(out.data() + at, &w, out.size() - at);
  }
}

std::string specweb_set::contents(std::size_t i) const {
  std::string s(files_[i].size, '\0');
  fill(i, s);
  return s;
}

std::size_t specweb_picker::next_index() noexcept {
  const unsigned pct = static_cast<unsigned>(rng_.below(100));
  unsigned cls = 0;
  for (unsigned acc = 0; cls + 1 < specweb_set::classes; ++cls) {
    acc += specweb_set::class_percent[cls];
    if (pct < acc) break;
  }
  const auto& cdf = set_->zipf_cdf();
  const double u = rng_.uniform();
  const std::size_t rank = static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
  return set_->ranked(cls, std::min(rank, cdf.size() - 1));
}

std::string specweb_picker::next(std::string_view prefix) {
  const auto& f = set_->files()[next_index()];
  std::string path;
  path.reserve(prefix.size() + f.name.size());
  path.append(prefix).append(f.name);
  return path;
}

}  // namespace c10k::load
