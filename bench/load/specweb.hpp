// specweb: a SPECweb99-like static file set and the request mix that goes with it.
//
// `dirs` directories, each with 4 classes of 9 files: class 0 holds 0.1 .. 0.9 KiB, class 1
// 1 .. 9 KiB, class 2 10 .. 90 KiB, class 3 100 .. 900 KiB (about 5 MiB per directory, 51 MiB
// for the default 10). A request picks a class with probability 35/50/14/1 %, then a file of
// that class by a Zipf distribution (exponent 1) over all its (directory, file) pairs, ranked
// by a permutation drawn from the seed. Names, sizes, contents and rankings all follow from
// the seed, so the file set on disk and the load generator agree without sharing anything.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rng.hpp"

namespace c10k::load {

struct specweb_file {
  std::string name;         // "dir00003/class2_7", relative to the set's root
  std::uint64_t size = 0;   // bytes
  unsigned dir = 0;         // 0 .. dirs-1
  unsigned cls = 0;         // 0 .. 3
  unsigned number = 0;      // 1 .. 9
};

class specweb_set {
 public:
  static constexpr unsigned classes = 4;
  static constexpr unsigned files_per_class = 9;
  // How often each class is requested, in percent.
  static constexpr std::array<unsigned, classes> class_percent = {35, 50, 14, 1};

  // Builds the set for `seed` with `dirs` directories (at least 1).
  explicit specweb_set(std::uint64_t seed = 1, unsigned dirs = 10);

  // Returns every file, ordered by directory, class, number (see index_of).
  const std::vector<specweb_file>& files() const noexcept { return files_; }
  // Returns the sum of the file sizes.
  std::uint64_t total_bytes() const noexcept { return total_bytes_; }
  std::uint64_t seed() const noexcept { return seed_; }
  unsigned dirs() const noexcept { return dirs_; }

  // Returns the size of file `number` (1..9) of class `cls`: number * 1024 * 10^cls / 10, rounded.
  static std::uint64_t file_size(unsigned cls, unsigned number) noexcept;
  // Returns the position in files() of a directory's file of a class.
  static std::size_t index_of(unsigned dir, unsigned cls, unsigned number) noexcept {
    return (static_cast<std::size_t>(dir) * classes + cls) * files_per_class + (number - 1);
  }

  // Fills out (exactly files()[i].size bytes) with file i's contents, a seeded xorshift stream.
  void fill(std::size_t i, std::span<char> out) const noexcept;
  // Returns file i's contents.
  std::string contents(std::size_t i) const;

  // Returns the file (its index in files()) of class `cls` at Zipf rank `rank` (0 = most popular).
  std::size_t ranked(unsigned cls, std::size_t rank) const noexcept { return by_rank_[cls][rank]; }
  // Returns the cumulative Zipf probabilities over the ranks of one class (last = 1).
  const std::vector<double>& zipf_cdf() const noexcept { return cdf_; }

 private:
  std::uint64_t seed_;
  unsigned dirs_;
  std::vector<specweb_file> files_;
  std::uint64_t total_bytes_ = 0;
  std::vector<double> cdf_;
  std::array<std::vector<std::size_t>, classes> by_rank_;
};

// The request stream of one connection or session: which file comes next.
class specweb_picker {
 public:
  // A stream over `set` (which must outlive it), seeded by `seed`.
  specweb_picker(const specweb_set& set, std::uint64_t seed) noexcept : set_(&set), rng_(seed) {}

  // Returns the index (in set.files()) of the next file to request.
  std::size_t next_index() noexcept;
  // Returns the URL path of the next file: prefix followed by its name.
  std::string next(std::string_view prefix);

 private:
  const specweb_set* set_;
  rng rng_;
};

}  // namespace c10k::load
