#include "core.hpp"

#include <poll.h>

namespace c10k::uring {

request* core::submit_op(operation& op) {
  io_uring_sqe* sqe = ring_.get_sqe();
  switch (op.kind) {
    case op_kind::read: io_uring_prep_read(sqe, op.fd, op.buf, static_cast<unsigned>(op.len), -1); break;
    case op_kind::write: io_uring_prep_write(sqe, op.fd, op.buf, static_cast<unsigned>(op.len), -1); break;
    case op_kind::writev: io_uring_prep_writev(sqe, op.fd, op.iov, static_cast<unsigned>(op.iovcnt), -1); break;
    case op_kind::connect: io_uring_prep_connect(sqe, op.fd, op.addr, op.addrlen); break;
    case op_kind::receive:
      io_uring_prep_recv(sqe, op.fd, nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = buffer_group;
      // Wait for data before picking a buffer: then ENOBUFS means data is there, and a
      // starved receive submitted again takes the buffer that came back (one without data
      // would pass it over, and the receives that have data would stay parked).
      sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
      break;
    case op_kind::sendfile:
    case op_kind::accept: break;  // handled by the caller
  }
  request* r = requests_.make(req_kind::op, op.fd);
  r->op = &op;
  op.backend_data = r;
  track(op.fd, +1);
  io_uring_sqe_set_data(sqe, r);
  return r;
}

void core::submit_poll(operation& op) {
  io_uring_sqe* sqe = ring_.get_sqe();
  io_uring_prep_poll_add(sqe, op.fd, waits_readable(op.kind) ? POLLIN : POLLOUT);
  request* r = requests_.make(req_kind::poll_retry, op.fd);
  r->op = &op;
  op.backend_data = r;
  track(op.fd, +1);
  io_uring_sqe_set_data(sqe, r);
}

void core::cancel_request(const request* r) {
  io_uring_sqe* sqe = ring_.get_sqe();
  io_uring_prep_cancel64(sqe, reinterpret_cast<std::uint64_t>(r), 0);
  io_uring_sqe_set_data(sqe, requests_.make(req_kind::internal, -1));
}

}  // namespace c10k::uring
