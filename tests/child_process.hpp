// A child process for tests that need a real peer (c10k-server, c10k-proxy, nginx, a Go
// server): started with argv, its stdout and stderr read line by line; SIGTERM then SIGKILL
// and a bounded wait when destroyed.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

namespace c10k::testing {

class child_process {
 public:
  // Starts argv[0] (a path) with argv; `env` entries ("K=V") are added to the environment;
  // a soft_fd_limit other than 0 becomes the child's soft RLIMIT_NOFILE (at most the hard one).
  explicit child_process(std::vector<std::string> argv, std::vector<std::string> env = {}, rlim_t soft_fd_limit = 0) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(out[1], STDERR_FILENO);
      for (auto& e : env) ::putenv(e.data());
      if (soft_fd_limit) {
        rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = std::min(soft_fd_limit, rl.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &rl);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  child_process(const child_process&) = delete;
  ~child_process() { stop(); }

  // Reads output until a line matches `pattern` (its first group is returned) or `limit`
  // passes or the output ends (returns "").
  std::string wait_for(const std::string& pattern, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    const std::regex re(pattern);
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (std::size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        output_ += line + "\n";
        std::smatch m;
        if (std::regex_search(line, m, re)) return m.size() > 1 ? m[1].str() : line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (out_ < 0 || left.count() <= 0) return {};
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char buf[4096];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return {};
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // The child's process id (-1 when not running).
  pid_t pid() const noexcept { return pid_; }
  // What was read so far (for failure messages).
  const std::string& output() const { return output_; }

  // The exit status of a child that exits by itself (a bad flag), waiting up to 10 s; -1 when
  // it does not.
  int exit_status() {
    int status = 0;
    for (int i = 0; i < 1000; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::usleep(10'000);
    }
    return -1;
  }

  // SIGTERM, up to 10 s, then SIGKILL; returns the exit status (-1 when not running).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) ::usleep(10'000);
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (out_ >= 0) ::close(out_);
    out_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_, output_;
};

}  // namespace c10k::testing
