// backend_uring.cc -- the io_uring backend (see backend.h for its shape and
// for the setup flags it does not use).
//
// In flight at most: one one-shot poll on the epoll set (kEpollKey) and one
// multishot poll on the wakeup eventfd (kWakeKey). Each is re-armed, when it
// has ended, by the next wait, whose io_uring_enter submits it. A poll that
// ends in an error (a failed arm, an injected fault) is re-armed the same
// way; a one-shot poll checks readiness when armed, so nothing is lost.
#include <cerrno>
#include <new>

#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include "backend.h"

namespace weft {

namespace {
constexpr uint64_t kEpollKey = 1;  // user_data of the poll on the epoll set
constexpr uint64_t kRingWake = 2;  // user_data of the poll on the eventfd
constexpr unsigned kEntries = 64;
}  // namespace

struct Uring {
  io_uring ring;
  bool inited = false;
  bool ep_armed = false;    // the poll on the epoll set is in flight
  bool wake_armed = false;  // the multishot poll on the eventfd is in flight
  // weft_loop_backend_fd was called: an embedder may wait on the ring fd
  // rather than in weft, so both polls are in the kernel whenever weft
  // returns (a re-arm costs its own submission then).
  bool embedded = false;
};

int uring_open(Backend &b) {
  void *mem = mem_alloc(sizeof(Uring));
  if (!mem) return -ENOMEM;
  Uring *u = new (mem) Uring();
  b.ring = u;
  io_uring_params p{};
  int e = sys_uring_setup(kEntries, &u->ring, &p);
  if (e < 0) return e;
  u->inited = true;
  // Timeouts go to io_uring_enter (EXT_ARG, 5.11); completions are never
  // dropped when the CQ overflows (NODROP, 5.5; liburing's waits flush the
  // overflow list when the kernel flags IORING_SQ_CQ_OVERFLOW).
  if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) return -ENOSYS;
  // A fork() child must not even see the parent's ring memory.
  if ((e = io_uring_ring_dontfork(&u->ring)) < 0) return e;
  return 0;
}

void uring_close(Backend &b, bool forked) {
  Uring *u = b.ring;
  if (!u) return;
  if (u->inited) {
    if (forked)
      ::close(u->ring.ring_fd);  // the mappings are the parent's (not here)
    else
      io_uring_queue_exit(&u->ring);
  }
  u->~Uring();
  mem_free(u);
  b.ring = nullptr;
}

namespace {
// The next free SQE: when the SQ is full, submit what is there and retry
// (never drop). NULL only if submitting fails.
io_uring_sqe *get_sqe(io_uring *ring) {
  for (;;) {
    io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (sqe) return sqe;
    if (sys_uring_submit(ring) < 0) return nullptr;
  }
}
}  // namespace

namespace {
// Queues the polls that are not in flight (submitted by the next enter).
void arm(const Backend &b, Uring *u) {
  io_uring *ring = &u->ring;
  if (!u->ep_armed) {
    if (io_uring_sqe *sqe = get_sqe(ring)) {
      io_uring_prep_poll_add(sqe, b.epfd, POLLIN);
      io_uring_sqe_set_data64(sqe, kEpollKey);
      u->ep_armed = true;
    }
  }
  if (!u->wake_armed) {
    if (io_uring_sqe *sqe = get_sqe(ring)) {
      io_uring_prep_poll_multishot(sqe, b.wakefd, POLLIN);
      io_uring_sqe_set_data64(sqe, kRingWake);
      u->wake_armed = true;
    }
  }
}
}  // namespace

int uring_raw_fd(const Backend &b) { return b.ring ? b.ring->ring.ring_fd : -1; }

int uring_fd(const Backend &b) {
  Uring *u = b.ring;
  if (!u->embedded) {
    u->embedded = true;
    arm(b, u);
    sys_uring_submit(&u->ring);  // on failure the next wait submits them
  }
  return u->ring.ring_fd;
}

int uring_wait_events(Backend &b, epoll_event *evs, int max, int64_t timeout_ns) {
  Uring *u = b.ring;
  io_uring *ring = &u->ring;
  arm(b, u);
  // One enter: submit and wait (or only submit, for a zero timeout).
  int rc;
  if (timeout_ns == 0) {
    rc = io_uring_sq_ready(ring) ? sys_uring_submit(ring) : 0;
  } else {
    __kernel_timespec ts, *tsp = nullptr;
    if (timeout_ns > 0) {
      ts.tv_sec = timeout_ns / 1000000000;
      ts.tv_nsec = timeout_ns % 1000000000;
      tsp = &ts;
    }
    rc = sys_uring_wait(ring, tsp);
  }
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
    errno = -rc;
    return -1;
  }
  bool ep_fired = false, woke = false;
  unsigned head, seen = 0;
  io_uring_cqe *cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    seen++;
    const int res = sys_uring_cqe_res(cqe->res);
    if (cqe->user_data == kEpollKey) {
      u->ep_armed = false;
      ep_fired = true;  // ready, or failed: look either way (one epoll_wait)
    } else if (cqe->user_data == kRingWake) {
      if (res < 0 || !(cqe->flags & IORING_CQE_F_MORE)) u->wake_armed = false;
      woke = true;  // also on an error: reading the eventfd is harmless
    }
  }
  io_uring_cq_advance(ring, seen);
  int n = 0;
  if (woke && max > 0) {
    evs[0].events = EPOLLIN;
    evs[0].data.u64 = kWakeKey;
    n = 1;
  }
  if (ep_fired && n < max) {
    int m = sys_epoll_wait(b.epfd, evs + n, max - n, 0);
    if (m > 0) n += m;
  }
  if (u->embedded && (!u->ep_armed || !u->wake_armed)) {
    arm(b, u);
    sys_uring_submit(ring);
  }
  return n;
}

}  // namespace weft
