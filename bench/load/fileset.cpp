// c10k-fileset: writes the benchmark's file sets: DIR/one.txt (one byte) and DIR/specweb/,
// the SPECweb99-like set of specweb.hpp for --seed and --dirs. Files that already hold the
// right bytes are left alone, so running it again is cheap and changes nothing.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "specweb.hpp"

namespace fs = std::filesystem;

namespace {

// Writes `bytes` to `path` unless that file already holds exactly them; returns whether it
// wrote. Sizes alone do not tell two seeds' sets apart, so a file of the right size is read
// back and compared (51 MB for the default set: cheap beside a benchmark run).
// Writes under a temporary name and renames, so an interrupted run never leaves a partial file.
bool write_file(const fs::path& path, std::string_view bytes) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == bytes.size() && !ec) {
    std::ifstream in(path, std::ios::binary);
    std::string have(bytes.size(), '\0');
    in.read(have.data(), static_cast<std::streamsize>(have.size()));
    if (in && have == bytes) return false;
  }
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir;
  std::uint64_t seed = 1;
  unsigned dirs = 10;
  CLI::App app{"c10k-fileset: write the benchmark's file sets (one.txt and the SPECweb99-like specweb/)"};
  app.add_option("--out", out_dir, "directory to write into (created if missing)")->required();
  app.add_option("--seed", seed, "the specweb set's seed")->capture_default_str();
  app.add_option("--dirs", dirs, "the specweb set's directories")->check(CLI::Range(1u, 100000u))->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  try {
    const fs::path root(out_dir);
    std::uint64_t files = 0, bytes = 0, written = 0;
    if (write_file(root / "one.txt", "x")) ++written;
    ++files;
    bytes += 1;

    const c10k::load::specweb_set set(seed, dirs);
    std::string contents;
    for (std::size_t i = 0; i < set.files().size(); ++i) {
      const auto& f = set.files()[i];
      contents.resize(f.size);
      set.fill(i, contents);
      if (write_file(root / "specweb" / f.name, contents)) ++written;
      ++files;
      bytes += f.size;
    }
    fmt::print("c10k-fileset: {} files, {} bytes in {} ({} written, {} already there)\n", files, bytes, out_dir, written,
               files - written);
  } catch (const std::exception& e) {
    fmt::print(stderr, "c10k-fileset: {}\n", e.what());
    return 1;
  }
  return 0;
}
