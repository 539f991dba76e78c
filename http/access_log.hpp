// access_log: one line per request, in nginx's "combined" format or as JSON lines, formatted
// into a buffer of the loop that served it and written by a thread of its own (private to
// c10k::http).
//
// A loop never takes a lock per request: it appends to its own buffer and hands the whole
// buffer over (one lock per buffer) when it is full or when its periodic flush comes. The
// writer thread writes the buffers in order and reopens the file when asked (SIGHUP, as
// logrotate expects: rename the file, then signal; the next buffers go to a new file).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "c10k/http/parser.hpp"
#include "c10k/result.hpp"

namespace c10k::http {

// A client address as a connection keeps it for the log (the family and the raw bytes).
struct peer_ip {
  std::uint8_t family = 0;  // 0: unknown, 4 or 6
  std::array<unsigned char, 16> bytes{};
};

// The writer thread and the file. Thread-safe.
class access_log_sink {
 public:
  // Opens `path` for appending ("-": standard output); returns the open's error.
  static result<std::unique_ptr<access_log_sink>> open(std::string path);
  access_log_sink(const access_log_sink&) = delete;
  // Writes what was handed over, then closes the file.
  ~access_log_sink();

  // Queues a buffer of whole lines for the writer thread.
  void submit(std::string&& lines);
  // Makes the writer close and reopen the file by its path before it writes again.
  void reopen() noexcept;
  // Waits until every buffer submitted so far is written (for tests and shutdown).
  void sync();

 private:
  access_log_sink(std::string path, int fd);
  void run();
  int open_file() const noexcept;

  std::string path_;
  int fd_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable written_cv_;
  std::deque<std::string> queue_;
  std::uint64_t submitted_ = 0, written_ = 0;
  bool reopen_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// One loop's buffer. Loop thread only.
class access_log_buffer {
 public:
  static constexpr std::size_t hand_over_bytes = 32 * 1024;

  access_log_buffer(access_log_sink& sink, bool json) : sink_(&sink), json_(json) { buf_.reserve(hand_over_bytes + 1024); }
  ~access_log_buffer() { flush(); }

  // Appends the line of one answered request (head is null for a request refused before its
  // head was whole), and hands the buffer over once it is full.
  void add(const peer_ip& peer, const request_head* head, int status, std::uint64_t bytes,
           std::chrono::nanoseconds took);
  // Hands over what is buffered, if anything.
  void flush();

 private:
  const std::string& time_text(std::time_t now);
  void append_peer(const peer_ip& p);

  access_log_sink* sink_;
  bool json_;
  std::string buf_;
  std::time_t cached_second_ = 0;
  std::string cached_time_;
  peer_ip cached_peer_;
  std::string cached_peer_text_;
};

}  // namespace c10k::http
