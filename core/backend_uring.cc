// backend_uring.cc -- the io_uring backend (see backend.h for its shape and
// for the setup flags it does not use).
//
// The ring carries the loop's operations (socket.cc: recv, send, accept and
// connect on sockets weft owns)
// and one one-shot poll on the epoll set (kEpollKey), which holds the fd
// registrations and the wakeup eventfd as on epoll. The poll is re-armed,
// when it has ended, by the next wait, whose io_uring_enter submits it; one
// that ends in an error (a failed arm, an injected fault) is re-armed the
// same way. A one-shot poll checks readiness when armed, so nothing is lost.
//
// A blocking wait with no operation in the ring waits in epoll_wait itself
// (one syscall, as on epoll, where the ring would take two: the enter, then
// epoll_wait to learn what the epoll set reports); a zero-timeout wait only
// looks at the completion queue, entering the kernel only to submit or to
// flush an overflow, and calls epoll_wait only when the poll reported.
#include <cerrno>
#include <new>

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"

namespace weft {

namespace {
constexpr uint64_t kEpollKey = 1;  // user_data of the poll on the epoll set
constexpr uint64_t kCancelKey = 3; // user_data of cancels (their results are not needed)
constexpr unsigned kEntries = 256;
constexpr unsigned kCqEntries = 4096;
// A wait takes every completion the CQ can hold. With fewer (1,024 once),
// an iteration of 1,000 busy sockets left some for the next one, and the
// recvs their steps start no longer followed, in the same enter, the sends
// that fill them: about one recv per round trip armed a poll in the kernel
// (io_uring:io_uring_poll_arm), none with the whole CQ taken.
constexpr int kMaxDone = int(kCqEntries);
}  // namespace

struct Uring {
  io_uring ring;
  bool inited = false;
  bool ep_armed = false;    // the poll on the epoll set is in flight
  unsigned inflight = 0;    // operations submitted or queued, not completed
  // weft_loop_backend_fd was called: an embedder may wait on the ring fd
  // rather than in weft, so both polls are in the kernel whenever weft
  // returns (a re-arm costs its own submission then).
  bool embedded = false;
  // Seen by uring_reap, acted on by the next uring_wait_events.
  bool ep_seen = false;
  Done done[kMaxDone];
};

int uring_open(Backend &b) {
  void *mem = mem_alloc(sizeof(Uring));
  if (!mem) return -ENOMEM;
  Uring *u = new (mem) Uring();
  b.ring = u;
  io_uring_params p{};
  // Room for many operations in flight; past it, completions wait in the
  // kernel's overflow list (NODROP) until the next enter flushes them.
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  p.cq_entries = kCqEntries;
  int e = sys_uring_setup(kEntries, &u->ring, &p);
  if (e == -EINVAL) {  // before 5.19: no cooperative task running
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    e = sys_uring_setup(kEntries, &u->ring, &p);
  }
  if (e < 0) return e;
  u->inited = true;
  // Timeouts go to io_uring_enter (EXT_ARG, 5.11); completions are never
  // dropped when the CQ overflows (NODROP, 5.5; liburing's waits flush the
  // overflow list when the kernel flags IORING_SQ_CQ_OVERFLOW).
  if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) return -ENOSYS;
  // A fork() child must not even see the parent's ring memory.
  if ((e = io_uring_ring_dontfork(&u->ring)) < 0) return e;
  b.done = u->done;
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
  b.done = nullptr;
  b.ndone = 0;
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
// Queues the poll on the epoll set if it is not in flight (submitted by the
// next enter).
void arm(const Backend &b, Uring *u) {
  if (u->ep_armed) return;
  if (io_uring_sqe *sqe = get_sqe(&u->ring)) {
    io_uring_prep_poll_add(sqe, b.epfd, POLLIN);
    io_uring_sqe_set_data64(sqe, kEpollKey);
    u->ep_armed = true;
  }
}
}  // namespace

int uring_raw_fd(const Backend &b) { return b.ring ? b.ring->ring.ring_fd : -1; }

int uring_fd(const Backend &b) {
  Uring *u = b.ring;
  if (!u->embedded) {
    u->embedded = true;
    arm(b, u);
    sys_uring_submit(&u->ring);  // on failure the next wait submits it
  }
  return u->ring.ring_fd;
}

namespace {
// Takes every completion there is (up to max operations): the operations'
// into out, the polls' as flags. Returns the number of operations.
int collect(Uring *u, Done *out, int max, bool *ep_fired) {
  io_uring *ring = &u->ring;
  unsigned head, seen = 0;
  int n = 0;
  io_uring_cqe *cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    const uint64_t key = cqe->user_data;
    if (key & kOpKeyBit) {
      if (n == max) break;  // the rest stay queued for the next call
      out[n].key = key;
      out[n].res = sys_uring_cqe_res(cqe->res);
      n++;
      u->inflight--;
    } else if (key == kEpollKey) {
      u->ep_armed = false;
      *ep_fired = true;  // ready, or failed: look either way (one epoll_wait)
      (void)sys_uring_cqe_res(cqe->res);
    }  // kCancelKey: the cancelled operation's own completion is what counts
    seen++;
  }
  io_uring_cq_advance(ring, seen);
  return n;
}
}  // namespace

namespace {
// The next SQE for an operation `key`, counted in flight, with its place in
// the queue in *ticket. NULL if the ring refuses new work.
io_uring_sqe *op_sqe(Backend &b, uint64_t key, uint32_t *ticket) {
  io_uring_sqe *sqe = get_sqe(&b.ring->ring);
  if (!sqe) return nullptr;
  *ticket = b.ring->ring.sq.sqe_tail - 1;  // this SQE's place in the queue
  b.ring->inflight++;
  io_uring_sqe_set_data64(sqe, key);
  return sqe;
}
}  // namespace

int uring_prep_recv(Backend &b, int fd, void *buf, unsigned len, uint64_t key,
                    uint32_t *ticket) {
  io_uring_sqe *sqe = op_sqe(b, key, ticket);
  if (!sqe) return -EAGAIN;
  io_uring_prep_recv(sqe, fd, buf, len, 0);
  io_uring_sqe_set_data64(sqe, key);  // prep clears user_data
  return 0;
}

int uring_prep_send(Backend &b, int fd, const void *buf, unsigned len, uint64_t key,
                    uint32_t *ticket) {
  io_uring_sqe *sqe = op_sqe(b, key, ticket);
  if (!sqe) return -EAGAIN;
  // MSG_WAITALL: the kernel itself goes on after a short send (a partial
  // count still comes back if it is cancelled or fails part way).
  io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | MSG_WAITALL);
  io_uring_sqe_set_data64(sqe, key);
  return 0;
}

int uring_prep_accept(Backend &b, int fd, uint64_t key, uint32_t *ticket) {
  io_uring_sqe *sqe = op_sqe(b, key, ticket);
  if (!sqe) return -EAGAIN;
  io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, key);
  return 0;
}

int uring_prep_connect(Backend &b, int fd, const sockaddr *sa, unsigned salen, uint64_t key,
                       uint32_t *ticket) {
  io_uring_sqe *sqe = op_sqe(b, key, ticket);
  if (!sqe) return -EAGAIN;
  io_uring_prep_connect(sqe, fd, sa, salen);
  io_uring_sqe_set_data64(sqe, key);
  return 0;
}

bool uring_unsubmit(Backend &b, uint32_t ticket) {
  io_uring *ring = &b.ring->ring;
  // Queued since the last submission: sqe_head .. sqe_tail - 1.
  if (int32_t(ticket - ring->sq.sqe_head) < 0 || int32_t(ring->sq.sqe_tail - 1 - ticket) < 0)
    return false;
  unsigned shift = (ring->flags & IORING_SETUP_SQE128) ? 1 : 0;
  io_uring_sqe *sqe = &ring->sq.sqes[(ticket & ring->sq.ring_mask) << shift];
  io_uring_prep_nop(sqe);  // the kernel never sees the recv
  io_uring_sqe_set_data64(sqe, kCancelKey);
  b.ring->inflight--;
  return true;
}

int uring_cancel(Backend &b, uint64_t key) {
  io_uring *ring = &b.ring->ring;
  io_uring_sqe *sqe = get_sqe(ring);
  if (!sqe) return -EAGAIN;
  io_uring_prep_cancel64(sqe, key, 0);
  io_uring_sqe_set_data64(sqe, kCancelKey);
  int rc = sys_uring_submit(ring);
  return rc < 0 ? rc : 0;
}

int uring_reap(Backend &b, Done *out, int max) {
  Uring *u = b.ring;
  int rc = sys_uring_wait(&u->ring, nullptr);
  if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) return rc;
  return collect(u, out, max, &u->ep_seen);
}

int uring_wait_events(Backend &b, epoll_event *evs, int max, int64_t timeout_ns) {
  Uring *u = b.ring;
  io_uring *ring = &u->ring;
  b.ndone = 0;
  if (timeout_ns != 0 && u->inflight == 0 && !u->ep_seen && !u->embedded &&
      io_uring_cq_ready(ring) == 0)
    return sys_epoll_wait(b.epfd, evs, max, timeout_ns);  // nothing in the ring to wait for
  arm(b, u);
  // The poll's completion a cancel's wait saw: act on it now.
  if (u->ep_seen) timeout_ns = 0;
  // One enter: submit and wait (or only submit, for a zero timeout).
  int rc;
  if (timeout_ns == 0) {
    // Completions waiting as task work (COOP_TASKRUN) or in the overflow
    // list are posted only when the loop enters the kernel.
    if (io_uring_cq_has_overflow(ring) ||
        (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN))
      rc = io_uring_get_events(ring);  // submits too
    else
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
  bool ep_fired = u->ep_seen;
  u->ep_seen = false;
  b.ndone = collect(u, b.done, kMaxDone, &ep_fired);
  int n = 0;
  if (ep_fired) {
    n = sys_epoll_wait(b.epfd, evs, max, 0);
    if (n < 0) n = 0;  // EINTR (or a fault): the re-armed poll reports again
  }
  if (u->embedded && !u->ep_armed) {
    arm(b, u);
    sys_uring_submit(ring);
  }
  return n;
}

}  // namespace weft
