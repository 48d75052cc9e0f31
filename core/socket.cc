// socket.cc -- listening sockets, and accept, connect, recv and send as
// awaits (see socket.h for the shape, poller.h for the registrations).
#include <cerrno>
#include <climits>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "await.h"
#include "wake.h"

using namespace weft;

namespace {

constexpr uint8_t kR = WEFT_READABLE;
constexpr uint8_t kW = WEFT_WRITABLE;

// A failed syscall's errno as a weft code.
int sys_error(int e) {
  switch (e) {
    case EMFILE:
    case ENFILE:
      return WEFT_EMFILE;
    case ENOMEM:
    case ENOBUFS:
      return WEFT_ENOMEM;
    default:
      return -e;
  }
}


// Reads what is there. >= 0 bytes, or -errno (-EAGAIN when drained).
ssize_t do_read(const FdRec &r, int fd, char *buf, size_t len) {
  for (;;) {
    ssize_t n;
    if (r.owned == 2) {
      n = ::read(fd, buf, len);
    } else {
      n = ::recv(fd, buf, len, r.owned ? 0 : MSG_DONTWAIT);
      if (n < 0 && errno == ENOTSOCK) {
        // Not a socket (pipe, FIFO, tty): read(2) cannot be told not to
        // block, so the fd itself must be non-blocking.
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0) return -errno;
        if (!(fl & O_NONBLOCK)) return WEFT_EINVAL;
        n = ::read(fd, buf, len);
      }
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return -EAGAIN;
    return -errno;
  }
}

ssize_t do_write(const FdRec &r, int fd, const char *buf, size_t len) {
  for (;;) {
    ssize_t n;
    if (r.owned == 2) {
      n = ::write(fd, buf, len);
    } else {
      n = ::send(fd, buf, len, MSG_NOSIGNAL | (r.owned ? 0 : MSG_DONTWAIT));
      if (n < 0 && errno == ENOTSOCK) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0) return -errno;
        if (!(fl & O_NONBLOCK)) return WEFT_EINVAL;
        n = ::write(fd, buf, len);
      }
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return -EAGAIN;
    return -errno;
  }
}

// One step of a parked or new operation on fd. Returns true with *res set
// when it finished, false when it must (go on) wait(ing); clears the fd's
// readiness bit on EAGAIN. Accept may grow the fd table: callers re-read
// FdRec references afterwards.
bool op_try(weft_loop *l, SockOp *op, int *res) {
  const int fd = op->fd;
  switch (op->kind) {
    case OP_RECV: {
      FdRec &r = l->poller.fds[fd];
      ssize_t n = do_read(r, fd, op->buf, op->len);
      if (n == -EAGAIN) {
        r.ready &= uint8_t(~kR);
        return false;
      }
      // A short read emptied the receive queue: the next arrival is an edge,
      // unless the peer's end of stream was already reported (no edge will
      // come for it again; the next read returns 0 at once).
      if (n > 0 && size_t(n) < op->len && r.owned == 1 && !(r.ready & kReadEnded))
        r.ready &= uint8_t(~kR);
      *res = n < 0 ? sys_error(int(-n)) : int(n);
      return true;
    }
    case OP_SEND: {
      FdRec &r = l->poller.fds[fd];
      while (op->done < op->len) {
        ssize_t n = do_write(r, fd, op->buf + op->done, op->len - op->done);
        if (n == -EAGAIN) {
          r.ready &= uint8_t(~kW);
          return false;
        }
        if (n < 0) {
          *res = sys_error(int(-n));
          return true;
        }
        op->done += size_t(n);
        if (op->done < op->len && r.owned) {  // the send buffer is full
          r.ready &= uint8_t(~kW);
          return false;
        }
      }
      *res = 0;
      return true;
    }
    case OP_ACCEPT:
      for (;;) {
        int s = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s >= 0) {
          if (int e = l->sock_own(s)) {
            ::close(s);
            *res = e;
          } else {
            *res = s;
          }
          return true;
        }
        switch (errno) {
          case EINTR:
          case ECONNABORTED:
          case EPROTO:
            continue;
          case EAGAIN:
#if EWOULDBLOCK != EAGAIN
          case EWOULDBLOCK:
#endif
            l->poller.fds[fd].ready &= uint8_t(~kR);
            return false;
          default:
            // EMFILE/ENFILE: the connection stays queued and the readiness
            // bit set, so the next accept tries again at once; the edge-
            // triggered registration does not wake the loop meanwhile.
            *res = sys_error(errno);
            return true;
        }
      }
    default:
      *res = WEFT_EINVAL;
      return true;
  }
}

void q_push(uint32_t &head, uint32_t &tail, uint32_t slot, Pool<SockOp> &ops) {
  ops.at(slot)->next = kNone;
  if (head == kNone)
    head = slot;
  else
    ops.at(tail)->next = slot;
  tail = slot;
}

// Unlinks `slot` from the queue it is in (lists are short: O(n) is fine).
void q_remove(uint32_t &head, uint32_t &tail, uint32_t slot, Pool<SockOp> &ops) {
  uint32_t prev = kNone;
  for (uint32_t s = head; s != kNone; prev = s, s = ops.at(s)->next) {
    if (s != slot) continue;
    uint32_t next = ops.at(s)->next;
    if (prev == kNone)
      head = next;
    else
      ops.at(prev)->next = next;
    if (tail == s) tail = prev;
    return;
  }
}

void q_push(FdRec &r, bool write, uint32_t slot, Pool<SockOp> &ops) {
  if (write)
    q_push(r.wq, r.wq_tail, slot, ops);
  else
    q_push(r.rq, r.rq_tail, slot, ops);
}

void q_remove(FdRec &r, bool write, uint32_t slot, Pool<SockOp> &ops) {
  if (write)
    q_remove(r.wq, r.wq_tail, slot, ops);
  else
    q_remove(r.rq, r.rq_tail, slot, ops);
}

bool is_write(uint8_t kind) { return kind == OP_SEND || kind == OP_CONNECT; }

// io_uring: fd's queue of sends (OP_SEND) or of recvs (OP_RECV), the first
// one in the ring, the others behind it.
struct RingQ {
  uint32_t &head, &tail;
};
RingQ ring_q(FdRec &r, uint8_t kind) {
  return kind == OP_RECV ? RingQ{r.rr, r.rr_tail} : RingQ{r.sq, r.sq_tail};
}

}  // namespace

// ------------------------------------------------------------- ownership

int weft_loop::sock_own(int fd) {
  if (int e = fd_table(fd)) return e;
  FdRec &r = poller.fds[fd];
  if (r.owned) return 0;
  r.owned = 1;
  r.ready = kR | kW;  // unknown: the first operation tries its syscall
  if (int e = fd_apply(fd, true)) {
    if (e == WEFT_EBADF) fd_orphan(fd, WEFT_EBADF);
    r.owned = 0;
    r.ready = 0;
    return e;
  }
  return 0;
}

int weft_loop::sock_adopt(int fd) {
  if (int e = fd_table(fd)) return e;
  if (poller.fds[fd].owned) return 0;
  int type;
  socklen_t tl = sizeof type;
  uint8_t kind = 1;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) {
    if (errno != ENOTSOCK) return sys_error(errno);
    struct stat st;
    if (fstat(fd, &st) < 0) return sys_error(errno);
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return WEFT_EBADF;
    kind = 2;
  } else if (type != SOCK_STREAM) {
    return WEFT_EINVAL;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return sys_error(errno);
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return sys_error(errno);
  if (int e = sock_own(fd)) return e;
  poller.fds[fd].owned = kind;
  return 0;
}

int weft_loop::sock_close(int fd) {
  if (backend_owns_fd(poller.be, fd)) return WEFT_EINVAL;
  if (uint32_t(fd) < poller.nfds) {
    for (uint32_t n = poller.fds[fd].head; n != kNone; n = io_node(n)->next)
      if (!(n & kIoTask)) return WEFT_EBUSY;  // stop the watches first
    // Operations in the ring: cancelled, and waited for, before the close.
    // Bytes one received are delivered; otherwise it resolves WEFT_ECLOSED.
    // Sends and recvs waiting behind the one in the ring never reach the kernel.
    sock_fail_fd(fd, WEFT_ECLOSED, kR | kW);
    for (const uint8_t kind : {OP_RECV, OP_SEND}) {
      if (!poller.fds[fd].ring_ops) break;
      const uint32_t os = ring_q(poller.fds[fd], kind).head;
      if (os == kNone) continue;
      const uint32_t task = sock_ops.at(os)->task;
      const int res = ring_abort(os, true);
      wake_waiter(WK_OP | task, res == WEFT_ECANCELED ? WEFT_ECLOSED : res);
    }
    // What is left is an accept or a connect: not queued per fd, found by a
    // scan (a listener's close is rare; a connection's costs no scan).
    for (uint32_t s = 0; poller.fds[fd].ring_ops && s < sock_ops.size(); s++) {
      SockOp *op = sock_ops.at(s);
      if (op->state != 1 || (op->ring != RS_KERNEL && op->ring != RS_STAGED) || op->fd != fd)
        continue;
      const uint32_t task = op->task;
      const int res = ring_abort(s, true);
      wake_waiter(WK_OP | task, res == WEFT_ECANCELED ? WEFT_ECLOSED : res);
    }
    FdRec &r = poller.fds[fd];  // the table may have grown meanwhile
    fd_orphan(fd, WEFT_ECLOSED);  // fd awaits and operations
    if (r.mode != RM_NONE) {
      // Before the close: a dup or a forked child's copy would keep the
      // registration alive after it.
      sys_epoll_ctl(poller.be.epfd, EPOLL_CTL_DEL, fd, nullptr);
      r.mode = RM_NONE;
    }
    r.reg = 0;
    if (r.counted) {
      poller.registered--;
      r.counted = 0;
    }
    r.owned = 0;
    r.ready = 0;
  }
  if (::close(fd) < 0 && errno == EBADF) return WEFT_EBADF;
  return 0;
}

int weft_loop::sock_shutdown(int fd) {
  if (::shutdown(fd, SHUT_WR) < 0) return sys_error(errno);
  if (uint32_t(fd) >= poller.nfds) return 0;
  sock_fail_fd(fd, WEFT_ECLOSED, kW);
  // The send in the ring (io_uring; the head of the fd's send queue, all
  // that sock_fail_fd left there) ends the same way, with its count.
  const uint32_t os = ring_q(poller.fds[fd], OP_SEND).head;
  if (os != kNone && sock_ops.at(os)->ring == RS_KERNEL) {
    const uint32_t task = sock_ops.at(os)->task;
    const int res = ring_abort(os, true);
    wake_waiter(WK_OP | task, res < 0 ? WEFT_ECLOSED : res);
  }
  return 0;
}

// ------------------------------------------------------------- listening

int weft_loop::tcp_listen(const char *host, int port, int backlog, int flags, int *out) {
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof ss);
  socklen_t len;
  auto *v4 = reinterpret_cast<sockaddr_in *>(&ss);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss);
  bool any = host == nullptr;
  if (any || inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;  // NULL: the IPv6 any address, dual-stack
    v6->sin6_port = htons(uint16_t(port));
    len = sizeof *v6;
  } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    len = sizeof *v4;
  } else {
    return WEFT_EINVAL;  // not a numeric address
  }
  int s = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0 && any && errno == EAFNOSUPPORT) {  // no IPv6 here: IPv4 any
    std::memset(&ss, 0, sizeof ss);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *v4;
    s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (s < 0) return sys_error(errno);
  int one = 1, zero = 0;
  if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      ((flags & WEFT_LISTEN_REUSEPORT) &&
       setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
      (any && ss.ss_family == AF_INET6 &&
       setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) ||
      ::bind(s, reinterpret_cast<sockaddr *>(&ss), len) < 0 ||
      ::listen(s, backlog > 0 ? backlog : SOMAXCONN) < 0) {
    int e = sys_error(errno);
    ::close(s);
    return e;
  }
  if (int e = sock_own(s)) {
    ::close(s);
    return e;
  }
  *out = s;
  return 0;
}

namespace {
int unix_addr(const char *path, sockaddr_un *sa) {
  size_t n = std::strlen(path);
  if (n == 0) return WEFT_EINVAL;
  if (n >= sizeof sa->sun_path) return WEFT_ENAMETOOLONG;
  std::memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  std::memcpy(sa->sun_path, path, n + 1);
  return 0;
}
}  // namespace

int weft_loop::unix_listen(const char *path, int backlog, int *out) {
  sockaddr_un sa;
  if (int e = unix_addr(path, &sa)) return e;
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return sys_error(errno);
  if (::bind(s, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 ||
      ::listen(s, backlog > 0 ? backlog : SOMAXCONN) < 0) {
    int e = sys_error(errno);
    ::close(s);
    return e;
  }
  if (int e = sock_own(s)) {
    ::close(s);
    return e;
  }
  *out = s;
  return 0;
}

// ------------------------------------------------------------ operations

// Resolves the await of task `slot`, also one armed in the step that is
// running now (a step that closes the fd it just armed an operation on):
// run_step then queues it.
void weft_loop::settle(uint32_t slot, int value) {
  Task *t = tasks.at(slot);
  // Running, or queued to try a due recv (sock_run): it is queued already.
  if (t->state != TS_WAITING) {
    t->status = value;
    t->await = AW_DONE;
    return;
  }
  resolve(slot, value);
}

// Parks a new operation of the running task on fd's queue and makes sure
// the registration covers it. 0 or WEFT_E* (nothing parked).
int weft_loop::sock_park(uint32_t task_slot, uint8_t kind, int fd, char *buf, size_t len,
                         size_t done, size_t *sent, Dial *dial) {
  uint32_t os;
  SockOp *op = sock_ops.alloc(&os);
  if (!op) return WEFT_ENOMEM;
  op->state = 1;
  op->kind = kind;
  op->task = task_slot;
  op->fd = fd;
  op->buf = buf;
  op->len = len;
  op->done = done;
  op->sent = sent;
  op->dial = dial;
  const bool w = is_write(kind);
  q_push(poller.fds[fd], w, os, sock_ops);
  FdRec &r = poller.fds[fd];
  int e = 0;
  if (r.mode != RM_ET || (w && !(r.reg & kW))) {
    // Not owned (or owned with fd awaits on it): arm for this operation.
    // Owned (edge-triggered): a write-side operation adds writability.
    // Forced for an fd weft does not own: its number may name another open
    // file than the registration we remember.
    poller.replaced = false;
    e = fd_apply(fd, !r.owned);
    if (e == WEFT_EBADF || (e == 0 && poller.replaced)) {
      q_remove(poller.fds[fd], w, os, sock_ops);
      fd_orphan(fd, WEFT_EBADF);  // older waiters were on a file now gone
      q_push(poller.fds[fd], w, os, sock_ops);
      if (e == 0) mark_dirty(fd);
    }
  }
  if (e) {
    q_remove(poller.fds[fd], w, os, sock_ops);
    sock_ops.release(os);
    return e;
  }
  tasks.at(task_slot)->w.sock_op = os;
  return 0;
}

// The operation ended with `result`: tell its (waiting) task.
void weft_loop::op_finish(uint32_t os, int result) {
  SockOp *op = sock_ops.at(os);
  const uint32_t task = op->task;
  if (op->kind == OP_SEND && op->sent) *op->sent = op->done;
  if (op->dial) mem_free(op->dial);
  sock_ops.release(os);
  wake_waiter(WK_OP | task, result);
}

// Phase (6): fd reported readiness; retry its parked operations, oldest
// first, while it stays ready. A recv on an edge-triggered fd is not tried
// here but by its task, just before the step that takes its bytes
// (sock_try_due, phase 4): each task then receives and replies in turn, as
// a libuv read callback does, where trying every recv of the batch here and
// sending from the steps afterwards frees a batch of the kernel's buffers
// and then allocates a batch (19% fewer round trips at 1,000 pairs in
// pairs_floor's ep-et pattern changed that way).
void weft_loop::sock_run(int fd) {
  for (;;) {
    FdRec &r = poller.fds[fd];
    if (r.rq == kNone || !(r.ready & kR)) break;
    uint32_t os = r.rq;
    SockOp *op = sock_ops.at(os);
    if (op->kind == OP_RECV && r.mode == RM_ET) {
      if (!op->due) {
        op->due = 1;
        Task *t = tasks.at(op->task);
        // The step that armed it may still run (it cancelled the due recv
        // ahead of it: sock_abort): run_step queues it when the step ends.
        if (t->state != TS_RUNNING) {
          t->state = TS_READY;  // still AW_SOCK: run_ready calls sock_try_due
          ready_push(op->task);
        }
      }
      break;  // the recvs behind it wait for it
    }
    int res;
    if (!op_try(this, op, &res)) break;
    q_remove(poller.fds[fd], false, os, sock_ops);
    op_finish(os, res);
  }
  for (;;) {
    FdRec &r = poller.fds[fd];
    if (r.wq == kNone || !(r.ready & kW)) break;
    uint32_t os = r.wq;
    SockOp *op = sock_ops.at(os);
    if (op->kind == OP_CONNECT) {
      int err = 0;
      socklen_t el = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
      if (err == EINPROGRESS || err == EALREADY) {
        r.ready &= uint8_t(~kW);
        break;
      }
      q_remove(r, true, os, sock_ops);
      if (err == 0) {
        op_finish(os, fd);
        continue;
      }
      op->dial->last_err = sys_error(err);  // this address failed
      dial_retry(os);
      return;  // fd is closed
    }
    int res;
    if (!op_try(this, op, &res)) break;
    q_remove(poller.fds[fd], true, os, sock_ops);
    op_finish(os, res);
  }
}

// Phase (4): task `slot` is queued for its due recv (sock_run). Tries it:
// true when it finished (the task's status is its result and the step runs
// next), false when the fd had nothing after all (the task waits on).
bool weft_loop::sock_try_due(uint32_t slot) {
  Task *t = tasks.at(slot);
  const uint32_t os = t->w.sock_op;
  SockOp *op = sock_ops.at(os);
  op->due = 0;
  int res;
  if (!op_try(this, op, &res)) {
    t->state = TS_WAITING;
    return false;
  }
  const int fd = op->fd;
  q_remove(poller.fds[fd], false, os, sock_ops);
  sock_ops.release(os);
  t->status = res;
  t->await = AW_DONE;
  // It filled its buffer: the fd is still readable for the recv behind it.
  const FdRec &r = poller.fds[fd];
  if (r.rq != kNone && (r.ready & kR)) sock_run(fd);
  return true;
}

// The task stops waiting (cancel, timeout, disarm, loop free): take its
// operation back. What a send already moved is written to *sent. An
// operation in the ring is cancelled in the kernel and waited for: if it
// completed (bytes, or an error) rather than being cancelled, returns true
// with *got set, the result the await delivers.
bool weft_loop::sock_abort(uint32_t task_slot, int *got) {
  const uint32_t os = tasks.at(task_slot)->w.sock_op;
  SockOp *op = sock_ops.at(os);
  if (op->ring) {
    const int res = ring_abort(os, false);
    if (res == WEFT_ECANCELED) return false;
    *got = res;
    return true;
  }
  if (op->kind == OP_RESOLVE) {
    op->dial->op = kNone;  // the pool work still uses it; its done frees it
    op->dial = nullptr;
  } else {
    FdRec &r = poller.fds[op->fd];
    q_remove(r, is_write(op->kind), os, sock_ops);
    if (r.mode == RM_LT) mark_dirty(op->fd);
    if (op->kind == OP_SEND && op->sent) *op->sent = op->done;
    if (op->kind == OP_CONNECT) sock_close(op->fd);  // the caller never saw it
  }
  const int fd = op->fd;
  const bool due = op->due;
  if (op->dial) mem_free(op->dial);
  sock_ops.release(os);
  // A due recv leaves the fd readable, its bytes untaken: the recv behind it
  // gets them (an edge-triggered registration reports no new edge for them).
  if (due) {
    const FdRec &r = poller.fds[fd];
    if (r.rq != kNone && (r.ready & kR)) sock_run(fd);
  }
  return false;
}

// ------------------------------------------------------------- io_uring

namespace {
unsigned clamp_len(size_t n) { return n > 0x7fffffffu ? 0x7fffffffu : unsigned(n); }
}  // namespace

// Queues op's SQE (submitted by the next wait's enter): a send from where
// it got to, a connect to the Dial's current address. 0 or a negated errno.
int weft_loop::ring_prep(uint32_t os) {
#ifdef WEFT_HAVE_URING
  SockOp *op = sock_ops.at(os);
  const uint64_t key = ring_key(os, op->gen);
  Backend &b = poller.be;
  switch (op->kind) {
    case OP_RECV:
      return uring_prep_recv(b, op->fd, op->buf, clamp_len(op->len), key, &op->ticket);
    case OP_SEND:
      return uring_prep_send(b, op->fd, op->buf + op->done, clamp_len(op->len - op->done), key,
                             &op->ticket);
    case OP_ACCEPT:
      return uring_prep_accept(b, op->fd, key, &op->ticket);
    case OP_CONNECT: {
      const Dial *d = op->dial;
      const int i = d->idx - 1;  // dial_next has moved past it
      return uring_prep_connect(b, op->fd, reinterpret_cast<const sockaddr *>(&d->addr[i]),
                                d->alen[i], key, &op->ticket);
    }
    default:
      return -EINVAL;
  }
#else
  (void)os;
  return -ENOSYS;
#endif
}

// Puts op into the ring: 0, or WEFT_E* (not queued).
int weft_loop::ring_enter(uint32_t os) {
  if (int e = ring_prep(os)) return sys_error(-e);
  SockOp *op = sock_ops.at(os);
  op->ring = RS_KERNEL;
  poller.fds[op->fd].ring_ops++;
  poller.ring_ops++;
  return 0;
}

// The kernel no longer has op (or never will): no longer counted.
void weft_loop::ring_leave(SockOp *op) {
  op->ring = RS_NONE;
  poller.fds[op->fd].ring_ops--;
  poller.ring_ops--;
}

// Stages recv `os` (counted as in the ring): it goes into the ring just
// before the wait, behind the sends of this iteration, so that it finds the
// data a send of the same enter brought (a recv armed first would wait for
// it in a poll). 0 or WEFT_ENOMEM.
int weft_loop::ring_stage(uint32_t os) {
  Poller &p = poller;
  if (p.nstaged == p.capstaged) {
    const uint32_t ncap = p.capstaged ? p.capstaged * 2 : 256;
    void *np = mem_realloc(p.staged, ncap * sizeof(uint32_t));
    if (!np) return WEFT_ENOMEM;
    p.staged = static_cast<uint32_t *>(np);
    p.capstaged = ncap;
  }
  p.staged[p.nstaged++] = os;
  SockOp *op = sock_ops.at(os);
  op->ring = RS_STAGED;
  p.fds[op->fd].ring_ops++;
  p.ring_ops++;
  return 0;
}

// Starts an operation of the running task in the ring (queued: the next
// wait's enter submits it; a recv is staged). One send and one recv per fd
// are in the ring at a time: later ones wait behind it (FdRec::sq, rr), as
// the kernel does not keep concurrent operations on one socket in order.
// 0 or WEFT_E* (nothing started).
int weft_loop::ring_start(uint32_t task_slot, uint8_t kind, int fd, char *buf, size_t len,
                          size_t *sent) {
  uint32_t os;
  SockOp *op = sock_ops.alloc(&os);
  if (!op) return WEFT_ENOMEM;
  op->state = 1;
  op->kind = kind;
  op->task = task_slot;
  op->fd = fd;
  op->buf = buf;
  op->len = len;
  op->done = 0;
  op->sent = sent;
  op->dial = nullptr;
  if (kind == OP_RECV || kind == OP_SEND) {
    RingQ q = ring_q(poller.fds[fd], kind);
    if (q.head != kNone) {
      q_push(q.head, q.tail, os, sock_ops);
      op->ring = RS_BEHIND;
      tasks.at(task_slot)->w.sock_op = os;
      return 0;
    }
    const int e = kind == OP_RECV ? ring_stage(os) : ring_enter(os);
    if (e) {
      sock_ops.release(os);
      return e;
    }
    q_push(q.head, q.tail, os, sock_ops);
    tasks.at(task_slot)->w.sock_op = os;
    return 0;
  }
  if (int e = ring_enter(os)) {
    sock_ops.release(os);
    return e;
  }
  tasks.at(task_slot)->w.sock_op = os;
  return 0;
}

// Before the wait: the staged recvs go into the ring (one the ring refuses
// resolves WEFT_ENOMEM). Those taken back meanwhile are no longer staged.
void weft_loop::ring_flush() {
  Poller &p = poller;
  // A recv that fails here lets the next one of its fd be staged, at the
  // end of the list: this loop takes it too.
  for (uint32_t i = 0; i < p.nstaged; i++) {
    const uint32_t os = p.staged[i];
    SockOp *op = sock_ops.at(os);
    if (op->state != 1 || op->ring != RS_STAGED) continue;
    if (ring_prep(os) == 0) {
      op->ring = RS_KERNEL;
      continue;
    }
    const int fd = op->fd;
    ring_leave(op);
    RingQ q = ring_q(poller.fds[fd], OP_RECV);
    q_remove(q.head, q.tail, os, sock_ops);
    op_finish(os, WEFT_ENOMEM);
    ring_next(fd, OP_RECV);
  }
  p.nstaged = 0;
}

// The send (kind OP_SEND) or recv (OP_RECV) at the head of fd's queue has
// ended: the next one goes into the ring (one that cannot resolves with the
// error, and the next is tried).
void weft_loop::ring_next(int fd, uint8_t kind) {
  for (;;) {
    RingQ q = ring_q(poller.fds[fd], kind);
    const uint32_t os = q.head;
    if (os == kNone || sock_ops.at(os)->ring != RS_BEHIND) return;
    const int e = kind == OP_RECV ? ring_stage(os) : ring_enter(os);
    if (e == 0) return;
    q_remove(q.head, q.tail, os, sock_ops);
    sock_ops.at(os)->ring = RS_NONE;
    op_finish(os, e);
  }
}

// What the await of a ring operation that ended with the kernel's `res`
// delivers (after any resubmission): bytes, 0 for a whole send, an fd, or
// WEFT_E*. Updates the fd's readiness as a syscall would.
int weft_loop::ring_result(SockOp *op, int res) {
  FdRec &r = poller.fds[op->fd];
  if (res == -ECANCELED) return WEFT_ECANCELED;
  switch (op->kind) {
    case OP_RECV:
      if (res < 0) return sys_error(-res);
      // Filled the buffer: more may wait, the next recv tries its syscall
      // first. A short read drained the socket; end of stream stays readable.
      if (res == 0)
        r.ready |= uint8_t(kR | kReadEnded);
      else if (size_t(res) == op->len)
        r.ready |= kR;
      else if (!(r.ready & kReadEnded))
        r.ready &= uint8_t(~kR);
      return res;
    case OP_SEND:
      return res < 0 ? sys_error(-res) : 0;
    case OP_ACCEPT:
      if (res < 0) return sys_error(-res);
      if (int e = sock_own(res)) {
        ::close(res);
        return e;
      }
      return res;
    case OP_CONNECT:
      return res < 0 ? sys_error(-res) : op->fd;
    default:
      return WEFT_EINVAL;
  }
}

// An operation's completion: its task resolves with the result, unless a
// cancel is waiting for it (ring_cancel takes the result).
void weft_loop::ring_complete(uint64_t key, int res) {
  const uint32_t os = uint32_t(key);
  if (os >= sock_ops.size()) return;
  SockOp *op = sock_ops.at(os);
  if (op->state != 1 || op->ring != RS_KERNEL || ring_key(os, op->gen) != key) return;  // not ours
  if (op->kind == OP_SEND && res > 0) {
    op->done += size_t(res);
    res = 0;
    // Short (the kernel stopped part way): the rest goes in again, unless a
    // cancel waits for it.
    if (op->done < op->len) {
      if (op->aborting) {
        res = -ECANCELED;  // the cancel stopped it part way: *sent says how far
      } else {
        if (ring_prep(os) == 0) return;
        res = -ENOMEM;
      }
    }
  } else if (op->kind == OP_SEND && res == 0 && op->done < op->len) {
    res = -EIO;  // never for a stream socket; never spin on it
  }
  if (res == -ECANCELED && !op->aborting) {
    // Nobody here cancelled it: the kernel did, as the thread that
    // submitted it exited (a loop may be run by one thread, then another).
    // Nothing more moved: submit it again, from this thread (a connect
    // starts over on a new socket).
    if (op->kind == OP_CONNECT) {
      ring_leave(op);
      op->dial->idx--;
      dial_retry(os);
      return;
    }
    for (int attempt = 0; attempt < 4; attempt++)
      if (ring_prep(os) == 0) return;
    res = -ENOMEM;  // the ring refuses new work: say so rather than wait for nothing
  }
  const int fd = op->fd;
  ring_leave(op);
  const int result = ring_result(op, res);
  if (op->aborting) {
    op->ring_res = result;
    op->ring_done = 1;
    return;
  }
  switch (op->kind) {
    case OP_SEND:
    case OP_RECV: {
      const uint8_t kind = op->kind;  // op_finish releases op
      RingQ q = ring_q(poller.fds[fd], kind);
      q_remove(q.head, q.tail, os, sock_ops);
      op_finish(os, result);
      ring_next(fd, kind);
      return;
    }
    case OP_CONNECT:
      if (result < 0) {
        op->dial->last_err = result;  // this address failed
        dial_retry(os);
        return;
      }
      break;
    default:
      break;
  }
  op_finish(os, result);
}

// Cancels the operation in the kernel and waits until the kernel has let
// go of its buffer (its own completion; the cancel's may come before or
// after). Returns the operation's result: WEFT_ECANCELED if the cancel took
// it, else what it completed with. The caller takes it off the fd's send
// queue and releases the slot.
int weft_loop::ring_cancel(uint32_t os) {
#ifdef WEFT_HAVE_URING
  SockOp *op = sock_ops.at(os);  // stays live (and put) while we wait
  if (op->ring == RS_BEHIND) {  // waiting behind another: never reached the kernel
    op->ring = RS_NONE;
    return WEFT_ECANCELED;
  }
  // Staged (ring_flush skips it from now on), or queued and not submitted:
  // the kernel never sees it.
  if (op->ring == RS_STAGED || uring_unsubmit(poller.be, op->ticket)) {
    ring_leave(op);
    return WEFT_ECANCELED;
  }
  op->aborting = 1;
  const uint64_t key = ring_key(os, op->gen);
  // A cancel that cannot be submitted (SQ full and the submit failing) is
  // tried again: the operation must not be left in the kernel.
  while (uring_cancel(poller.be, key) < 0 && op->ring) {
  }
  Done d[64];
  while (op->ring) {
    int n = uring_reap(poller.be, d, 64);
    for (int i = 0; i < n; i++) ring_complete(d[i].key, d[i].res);
  }
  op->aborting = 0;
  return op->ring_res;
#else
  (void)os;
  return WEFT_ECANCELED;
#endif
}

// Takes a ring operation back for good (cancel, timeout, close, free):
// cancels it in the kernel, takes a send off its fd's queue (the next one
// goes in unless `on_close`), closes the socket of a connect that delivers
// nothing, and releases the slot. Returns what the await delivers.
int weft_loop::ring_abort(uint32_t os, bool on_close) {
  int res = ring_cancel(os);
  SockOp *op = sock_ops.at(os);
  const int fd = op->fd;
  // An accept or connect that failed meanwhile moved nothing: the await
  // is cancelled all the same (one that succeeded delivers its fd).
  if ((op->kind == OP_ACCEPT || op->kind == OP_CONNECT) && res < 0) res = WEFT_ECANCELED;
  if (op->kind == OP_SEND || op->kind == OP_RECV) {
    RingQ q = ring_q(poller.fds[fd], op->kind);
    q_remove(q.head, q.tail, os, sock_ops);
    if (op->kind == OP_SEND && op->sent) *op->sent = op->done;
    if (!on_close) ring_next(fd, op->kind);
  } else if (op->kind == OP_CONNECT) {
    if (on_close && res >= 0) res = WEFT_ECLOSED;
    if (res < 0) {
      op->fd = -1;
      if (!on_close) sock_close(fd);  // the caller never saw it
    }
  }
  if (op->dial) mem_free(op->dial);
  sock_ops.release(os);
  return res;
}

// Every operation parked on fd in `dirs` resolves with `code`.
void weft_loop::sock_fail_fd(int fd, int code, uint32_t dirs) {
  // Sends and recvs waiting behind the one in the ring (which the kernel
  // finishes, or the caller cancels).
  for (int w = 0; w < 2; w++) {
    if (!(dirs & (w ? kW : kR))) continue;
    for (;;) {
      RingQ q = ring_q(poller.fds[fd], w ? OP_SEND : OP_RECV);
      if (q.head == kNone) break;
      const SockOp *first = sock_ops.at(q.head);
      const uint32_t os = first->ring == RS_BEHIND ? q.head : first->next;
      if (os == kNone) break;
      q_remove(q.head, q.tail, os, sock_ops);
      sock_ops.at(os)->ring = RS_NONE;
      op_finish(os, code);
    }
  }
  for (int w = 0; w < 2; w++) {
    if (!(dirs & (w ? kW : kR))) continue;
    for (;;) {
      FdRec &r = poller.fds[fd];
      uint32_t os = w ? r.wq : r.rq;
      if (os == kNone) break;
      q_remove(r, w != 0, os, sock_ops);
      op_finish(os, code);
    }
  }
}

int weft_loop::await_recv(int64_t self, int fd, void *buf, size_t len) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (!buf || len == 0) return WEFT_EINVAL;
  if (int e = fd_table(fd)) return e;
  if (take_intr(t)) return WEFT_PENDING;
  if (len > size_t(INT_MAX)) len = size_t(INT_MAX);
  FdRec &r = poller.fds[fd];
  // In order behind ring recvs, and behind a parked recv (one that is due:
  // the fd is readable but its task has not tried it yet, sock_run).
  if ((!r.owned || ((r.ready & kR) && r.rq == kNone)) && r.ring_ops == 0) {
    SockOp tmp{};
    tmp.kind = OP_RECV;
    tmp.fd = fd;
    tmp.buf = static_cast<char *>(buf);
    tmp.len = len;
    int res;
    if (op_try(this, &tmp, &res)) return resolved(t, res);
  }
  // io_uring: into the ring, unless watches or fd awaits share the fd (they
  // see the readiness the recv waits for, as on epoll, when it parks).
  if (poller.be.kind == BK_URING && poller.fds[fd].owned == 1 && poller.fds[fd].rq == kNone &&
      poller.fds[fd].head == kNone && poller.fds[fd].ring_ops < 0xffff) {
    if (ring_start(slot, OP_RECV, fd, static_cast<char *>(buf), len, nullptr) == 0)
      return armed(t, AW_SOCK);
    // No room in the ring: park as on epoll.
  }
  if (int e = sock_park(slot, OP_RECV, fd, static_cast<char *>(buf), len, 0, nullptr, nullptr))
    return e;
  return armed(t, AW_SOCK);
}

int weft_loop::await_send(int64_t self, int fd, const void *buf, size_t len, size_t *sent) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (sent) *sent = 0;
  if (!buf || len == 0) return WEFT_EINVAL;
  if (int e = fd_table(fd)) return e;
  if (take_intr(t)) return WEFT_PENDING;
  FdRec &r = poller.fds[fd];
  // io_uring: every send of the iteration goes out in its one enter, in
  // order per fd (behind sends already parked, if any).
  if (poller.be.kind == BK_URING && r.owned == 1 && r.wq == kNone && r.ring_ops < 0xffff) {
    int e = ring_start(slot, OP_SEND, fd, static_cast<char *>(const_cast<void *>(buf)), len, sent);
    if (e == 0) return armed(t, AW_SOCK);
    if (poller.fds[fd].sq != kNone) return e;  // cannot overtake the queued sends
  }
  SockOp tmp{};
  tmp.kind = OP_SEND;
  tmp.fd = fd;
  tmp.buf = static_cast<char *>(const_cast<void *>(buf));
  tmp.len = len;
  if ((!r.owned || (r.ready & kW)) && r.wq == kNone) {  // never overtake a parked send
    int res;
    if (op_try(this, &tmp, &res)) {
      if (sent) *sent = tmp.done;
      return resolved(t, res);
    }
  }
  if (sent) *sent = tmp.done;
  if (int e = sock_park(slot, OP_SEND, fd, tmp.buf, len, tmp.done, sent, nullptr)) return e;
  return armed(t, AW_SOCK);
}

int weft_loop::await_accept(int64_t self, int fd) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (int e = fd_table(fd)) return e;
  if (take_intr(t)) return WEFT_PENDING;
  const FdRec &r = poller.fds[fd];
  if (poller.be.kind == BK_URING && r.owned == 1 && r.rq == kNone && r.head == kNone &&
      r.ring_ops < 0xffff) {
    if (ring_start(slot, OP_ACCEPT, fd, nullptr, 0, nullptr) == 0) return armed(t, AW_SOCK);
    // No room in the ring: park as on epoll.
  }
  if (!poller.fds[fd].owned || (poller.fds[fd].ready & kR)) {
    SockOp tmp{};
    tmp.kind = OP_ACCEPT;
    tmp.fd = fd;
    int res;
    if (op_try(this, &tmp, &res)) return resolved(t, step_fd = res);
  }
  if (int e = sock_park(slot, OP_ACCEPT, fd, nullptr, 0, 0, nullptr, nullptr)) return e;
  return armed(t, AW_SOCK);
}

// The connect of op `os` on its socket has ended without a connection:
// forget (close) that socket and go on with the next address, or end the
// await with the Dial's last error.
void weft_loop::dial_retry(uint32_t os) {
  SockOp *op = sock_ops.at(os);
  const int fd = op->fd;
  op->fd = -1;
  sock_close(fd);
  const int r = dial_next(os);
  if (r != WEFT_PENDING) op_finish(os, r);
}

// Tries the Dial's addresses from the next one on: the connected fd, an
// error (the last address's), or WEFT_PENDING with the op parked on the
// socket being connected (its fd).
int weft_loop::dial_next(uint32_t os) {
  Dial *d = sock_ops.at(os)->dial;
  while (d->idx < d->naddr) {
    const int i = d->idx++;
    const sockaddr *sa = reinterpret_cast<const sockaddr *>(&d->addr[i]);
    int s = ::socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
      d->last_err = sys_error(errno);
      continue;
    }
    if (poller.be.kind == BK_URING) {
      // The connect goes to the ring; its completion tries the next address.
      if (int e = sock_own(s)) {
        d->last_err = e;
        ::close(s);
        continue;
      }
      SockOp *op = sock_ops.at(os);
      op->kind = OP_CONNECT;
      op->fd = s;
      if (int e = ring_enter(os)) {
        op->fd = -1;
        sock_close(s);
        d->last_err = e;
        continue;
      }
      return WEFT_PENDING;
    }
    int rc;
    do rc = ::connect(s, sa, d->alen[i]);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
      d->last_err = sys_error(errno);
      ::close(s);
      continue;
    }
    if (int e = sock_own(s)) {
      d->last_err = e;
      ::close(s);
      continue;
    }
    if (rc == 0) return s;
    SockOp *op = sock_ops.at(os);
    op->kind = OP_CONNECT;
    op->fd = s;
    poller.fds[s].ready &= uint8_t(~kW);
    q_push(poller.fds[s], true, os, sock_ops);
    {
      // Registered for writability while the connect waits (io_uring:
      // owned sockets are registered for what parks only).
      if (int e = fd_apply(s, false)) {
        q_remove(poller.fds[s], true, os, sock_ops);
        op->fd = -1;
        sock_close(s);
        d->last_err = e;
        continue;
      }
    }
    return WEFT_PENDING;
  }
  return d->last_err ? d->last_err : WEFT_ECONNREFUSED;
}

namespace {

int resolve_work(void *arg) {  // on a pool thread
  Dial *d = static_cast<Dial *>(arg);
  addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  int rc = getaddrinfo(d->host, nullptr, &hints, &res);
  if (rc != 0) {
    switch (rc) {
      case EAI_AGAIN:
        return WEFT_EAGAIN;
      case EAI_MEMORY:
        return WEFT_ENOMEM;
      case EAI_SYSTEM:
        return errno ? sys_error(errno) : WEFT_ENOTFOUND;
      default:
        return WEFT_ENOTFOUND;
    }
  }
  d->naddr = 0;
  for (addrinfo *a = res; a && d->naddr < kMaxDialAddrs; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    std::memcpy(&d->addr[d->naddr], a->ai_addr, a->ai_addrlen);
    d->alen[d->naddr] = a->ai_addrlen;
    d->naddr++;
  }
  freeaddrinfo(res);
  return d->naddr ? 0 : WEFT_ENOTFOUND;
}

void set_port(Dial *d) {
  for (int i = 0; i < d->naddr; i++) {
    if (d->addr[i].ss_family == AF_INET)
      reinterpret_cast<sockaddr_in *>(&d->addr[i])->sin_port = htons(uint16_t(d->port));
    else if (d->addr[i].ss_family == AF_INET6)
      reinterpret_cast<sockaddr_in6 *>(&d->addr[i])->sin6_port = htons(uint16_t(d->port));
  }
}

// Internal done callback of the resolution (loop thread). The Dial is the
// work's arg, found through the work's id (still live while done runs): the
// work is submitted with user_data NULL so that the release hook never sees
// weft's own memory.
void resolve_done(weft_loop_t *l, weft_work_t id, int result, void *) {
  uint32_t gen, slot;
  if (!id_split(id, Kind::Work, l->tag, &gen, &slot)) return;
  Dial *d = static_cast<Dial *>(l->works.at(slot)->arg);
  if (d->op == kNone) {  // the task stopped waiting
    mem_free(d);
    return;
  }
  const uint32_t os = d->op;
  if (result == 0) {
    set_port(d);
    result = l->dial_next(os);
    if (result == WEFT_PENDING) return;
  }
  l->op_finish(os, result);
}

}  // namespace

int weft_loop::await_connect(int64_t self, const char *host, int port) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (!host || port <= 0 || port > 65535) return WEFT_EINVAL;
  size_t hl = std::strlen(host);
  if (hl == 0 || hl > 1024) return WEFT_EINVAL;
  if (take_intr(t)) return WEFT_PENDING;
  Dial *d = static_cast<Dial *>(mem_alloc(sizeof(Dial) + hl));
  if (!d) return WEFT_ENOMEM;
  std::memset(static_cast<void *>(d), 0, sizeof(Dial));
  std::memcpy(d->host, host, hl + 1);
  d->port = port;
  auto *v4 = reinterpret_cast<sockaddr_in *>(&d->addr[0]);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&d->addr[0]);
  bool numeric = true;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    d->alen[0] = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    d->alen[0] = sizeof *v6;
  } else {
    numeric = false;
  }
  uint32_t os;
  SockOp *op = sock_ops.alloc(&os);
  if (!op) {
    mem_free(d);
    return WEFT_ENOMEM;
  }
  op->state = 1;
  op->task = slot;
  op->fd = -1;
  op->dial = d;
  d->op = os;
  if (numeric) {
    d->naddr = 1;
    set_port(d);
    int r = dial_next(os);
    if (r != WEFT_PENDING) {
      mem_free(d);
      sock_ops.release(os);
      return resolved(t, step_fd = r);
    }
  } else {
    op->kind = OP_RESOLVE;
    Work *w;
    if (int e = work_submit(resolve_work, d, resolve_done, nullptr, kNone, &w)) {
      mem_free(d);
      sock_ops.release(os);
      return e;
    }
  }
  t->w.sock_op = os;
  return armed(t, AW_SOCK);
}

int weft_loop::await_connect_unix(int64_t self, const char *path) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (!path) return WEFT_EINVAL;
  sockaddr_un sa;
  if (int e = unix_addr(path, &sa)) return e;
  if (take_intr(t)) return WEFT_PENDING;
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return resolved(t, sys_error(errno));
  int rc;
  do rc = ::connect(s, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
  while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) {
    // EAGAIN: the listener's backlog is full (Unix sockets do not queue
    // a non-blocking connect).
    int e = sys_error(errno);
    ::close(s);
    return resolved(t, e);
  }
  if (int e = sock_own(s)) {
    ::close(s);
    return e;
  }
  if (rc == 0) return resolved(t, step_fd = s);
  // In progress: wait for writability like a TCP connect.
  Dial *d = static_cast<Dial *>(mem_alloc(sizeof(Dial)));
  if (!d) {
    sock_close(s);
    return WEFT_ENOMEM;
  }
  std::memset(static_cast<void *>(d), 0, sizeof(Dial));
  poller.fds[s].ready &= uint8_t(~kW);
  if (int e = sock_park(slot, OP_CONNECT, s, nullptr, 0, 0, nullptr, d)) {
    mem_free(d);
    sock_close(s);
    return e;
  }
  d->op = tasks.at(slot)->w.sock_op;
  return armed(t, AW_SOCK);
}
