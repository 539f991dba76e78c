#include "files.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <tuple>

namespace c10k::uring {
namespace {

constexpr std::size_t file_step_bytes = 64 * 1024;

}  // namespace

file_bodies::~file_bodies() {
  for (auto [r, w] : pipes_) {
    ::close(r);
    ::close(w);
  }
  for (const auto& j : jobs_) {
    if (j->pipe_r >= 0) ::close(j->pipe_r);
    if (j->pipe_w >= 0) ::close(j->pipe_w);
  }
}

void file_bodies::configure() {
  if (const char* fp = std::getenv("C10K_IO_URING_FILE_PATH")) {
    const std::string_view v(fp);
    path_ = v == "splice" ? path::splice : v == "readsend" ? path::readsend : path::sendfile;
  }
}

file_job* file_bodies::take_job() {
  if (free_jobs_.empty()) return jobs_.emplace_back(std::make_unique<file_job>()).get();
  file_job* j = free_jobs_.back();
  free_jobs_.pop_back();
  return j;
}

// Gives a job back, with its pipe back to the idle ones (or closed when it may still hold
// bytes); the scratch buffer stays with the job.
void file_bodies::return_job(file_job* j, bool pipe_empty) {
  if (j->pipe_r >= 0) {
    if (pipe_empty) {
      pipes_.emplace_back(j->pipe_r, j->pipe_w);
    } else {
      ::close(j->pipe_r);
      ::close(j->pipe_w);
    }
    j->pipe_r = j->pipe_w = -1;
  }
  free_jobs_.push_back(j);
}

bool file_bodies::start(operation& op) {
  file_job* j = take_job();
  j->in_pipe = j->sent = 0;
  if (path_ == path::splice && pipes_.empty()) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
      op.result = -errno;
      return_job(j, true);
      return false;
    }
    pipes_.emplace_back(p[0], p[1]);
  }
  request* r = core_.requests_.make(req_kind::op, op.fd);
  r->op = &op;
  r->file = j;
  op.backend_data = r;
  const unsigned step = static_cast<unsigned>(std::min(op.len, file_step_bytes));
  io_uring_sqe* sqe = core_.ring_.get_sqe();
  if (path_ == path::readsend) {
    if (!j->scratch) j->scratch = std::make_unique_for_overwrite<char[]>(file_step_bytes);
    r->kind = req_kind::file_read;
    io_uring_prep_read(sqe, op.file_fd, j->scratch.get(), step, static_cast<std::uint64_t>(op.offset));
  } else {
    std::tie(j->pipe_r, j->pipe_w) = pipes_.back();
    pipes_.pop_back();
    r->kind = req_kind::splice_in;
    io_uring_prep_splice(sqe, op.file_fd, static_cast<std::int64_t>(op.offset), j->pipe_w, -1, step, 0);
  }
  core_.track(op.fd, +1);
  io_uring_sqe_set_data(sqe, r);
  return true;
}

void file_bodies::splice_out(request& r, const operation& op) {
  io_uring_sqe* sqe = core_.ring_.get_sqe();
  io_uring_prep_splice(sqe, r.file->pipe_r, -1, op.fd, -1, static_cast<unsigned>(r.file->in_pipe), 0);
  io_uring_sqe_set_data(sqe, &r);
}

std::size_t file_bodies::on_completion(request& r, int res) {
  operation* op = r.op;
  file_job& j = *r.file;
  auto finish = [&](long long result, bool pipe_empty) -> std::size_t {
    core_.track(r.fd, -1);
    return_job(&j, pipe_empty);
    core_.requests_.free(&r);
    if (!op) return 0;
    core_.complete(*op, result);
    return 1;
  };
  // Abandoned: stop here; the pipe may hold bytes nobody will send.
  if (!op) return finish(0, false);
  // Cancelled: no further step (the cancel may have missed the step that just ended).
  if (r.cancelled && res >= 0) {
    const bool pipe_empty = r.kind == req_kind::file_read || r.kind == req_kind::file_send ||
                            (r.kind == req_kind::splice_out && j.in_pipe == static_cast<std::size_t>(res));
    const std::size_t sent = j.sent + (r.kind == req_kind::splice_out || r.kind == req_kind::file_send ? res : 0);
    return finish(sent ? static_cast<long long>(sent) : -ECANCELED, pipe_empty);
  }
  switch (r.kind) {
    case req_kind::file_read: {
      if (res <= 0) return finish(res, true);
      r.kind = req_kind::file_send;
      io_uring_sqe* sqe = core_.ring_.get_sqe();
      io_uring_prep_send(sqe, op->fd, j.scratch.get(), static_cast<std::size_t>(res), MSG_NOSIGNAL);
      io_uring_sqe_set_data(sqe, &r);
      return 0;
    }
    case req_kind::file_send: return finish(res, true);
    case req_kind::splice_in: {
      if (res <= 0) return finish(res, true);
      r.kind = req_kind::splice_out;
      j.in_pipe = static_cast<std::size_t>(res);
      splice_out(r, *op);
      return 0;
    }
    case req_kind::splice_out: {
      if (res < 0) return finish(j.sent ? static_cast<long long>(j.sent) : res, false);
      j.sent += static_cast<std::size_t>(res);
      j.in_pipe -= static_cast<std::size_t>(res);
      if (j.in_pipe == 0 || res == 0) return finish(static_cast<long long>(j.sent), j.in_pipe == 0);
      // The socket took part of it: the rest is still in the pipe, send it before finishing.
      splice_out(r, *op);
      return 0;
    }
    default: return finish(res, false);
  }
}

}  // namespace c10k::uring
