// poller.cc -- per-fd registrations, fd watches and fd awaits; turning what
// the backend (backend.h) reports into wakes of waiters (wake.h): each
// registration's IoNodes for an fd, the loop's wakeup waiter for the wakeup
// eventfd. Whether a node is a watch or an fd await matters here only for
// how its fd is registered (poller.h); what waking it means, and what the
// wakeup is for, only wake.h knows.
#include <cerrno>

#include <fcntl.h>

#include <unistd.h>

#include "loop.h"
#include "wake.h"

using namespace weft;

namespace {
WEFT_INLINE uint32_t to_epoll(uint32_t ev) {
  return ((ev & WEFT_READABLE) ? uint32_t(EPOLLIN) : 0u) |
         ((ev & WEFT_WRITABLE) ? uint32_t(EPOLLOUT) : 0u);
}

WEFT_INLINE uint32_t from_epoll(uint32_t ev) {
  return ((ev & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) ? WEFT_READABLE : 0) |
         ((ev & EPOLLOUT) ? WEFT_WRITABLE : 0) | ((ev & EPOLLHUP) ? WEFT_HANGUP : 0) |
         ((ev & EPOLLERR) ? WEFT_ERROR : 0);
}

int ctl_error(int e) {
  switch (e) {
    case EBADF:
    case EPERM:  // regular files and directories
      return WEFT_EBADF;
    case ENOMEM:
      return WEFT_ENOMEM;
    case ENOSPC:
      return WEFT_ENOSPC;
    case EINVAL:
    case ELOOP:
      return WEFT_EINVAL;
    default:
      return -e;
  }
}

constexpr uint32_t kReported = WEFT_HANGUP | WEFT_ERROR;
}  // namespace

int weft_loop::poller_init(int backend) { return backend_open(poller.be, backend); }

void weft_loop::poller_close() {
  backend_close(poller.be, forked());
  mem_free(poller.fds);
  mem_free(poller.dirty);
  mem_free(poller.staged);
  poller.staged = nullptr;
  poller.nstaged = poller.capstaged = 0;
  poller.fds = nullptr;
  poller.dirty = nullptr;
}

IoNode *weft_loop::io_node(uint32_t ref) const {
  if (ref & kIoTask) return &tasks.at(ref & ~kIoTask)->w.io;
  return &watches.at(ref)->io;
}

namespace {
WEFT_INLINE void count(Poller &p, FdRec &r) {
  uint8_t c = r.mode == RM_ET || r.mode == RM_LT || (r.mode == RM_ONESHOT && r.reg != 0);
  if (c != r.counted) {
    if (c)
      p.registered++;
    else
      p.registered--;
    r.counted = c;
  }
}
}  // namespace

// The registration fd should have now: mode and events.
void weft_loop::fd_desired(const FdRec &r, uint8_t *mode, uint32_t *mask) const {
  uint32_t nodes = 0;
  bool watch = false;
  for (uint32_t n = r.head; n != kNone;) {
    const IoNode *node = io_node(n);
    nodes |= node->events;
    watch |= !(n & kIoTask);
    n = node->next;
  }
  const uint32_t ops = (r.rq != kNone ? uint32_t(WEFT_READABLE) : 0u) |
                       (r.wq != kNone ? uint32_t(WEFT_WRITABLE) : 0u);
  // On io_uring, an owned socket's recvs go to the ring (socket.cc): it is
  // registered only for what parks, like an fd weft does not own.
  if (r.owned && !(r.owned == 1 && poller.be.kind == BK_URING)) {
    if (r.head == kNone) {
      // Writability only while a send or connect waits for it: a unix or
      // TCP socket turns writable again at every read of its peer, and an
      // edge for it nobody waits for costs the kernel and the dispatch
      // (libuv and Netty register EPOLLOUT only for a pending write, too).
      *mode = RM_ET;
      *mask = WEFT_READABLE | (r.wq != kNone ? uint32_t(WEFT_WRITABLE) : 0u);
    } else {
      *mode = RM_LT;
      *mask = nodes | ops;
    }
  } else if (watch) {
    *mode = RM_LT;
    *mask = nodes | ops;
  } else {
    *mode = (nodes | ops) ? RM_ONESHOT : RM_NONE;
    *mask = nodes | ops;
  }
}

// Brings fd's registration to what it serves. `force` issues the syscall
// even when nothing seems to change, so that a closed fd, or a number that
// now names another open file, is found out (an fd await or a watch being
// added). Returns 0 or WEFT_E*; on WEFT_EBADF the fd is closed, or was
// replaced under the nodes and operations already on it: the caller orphans
// them (fd_orphan).
int weft_loop::fd_apply(int fd, bool force) {
  Poller &p = poller;
  FdRec &r = p.fds[fd];
  uint8_t mode;
  uint32_t mask;
  fd_desired(r, &mode, &mask);
  if (mode == RM_NONE) {
    // Nothing wanted. A disarmed or armed one-shot registration stays: it
    // reports at most once more, and that event is dropped. A level-
    // triggered one goes now, while the fd is still open.
    if (r.mode == RM_LT || r.mode == RM_ET) {
      if (sys_epoll_ctl(p.be.epfd, EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF &&
          errno != ENOENT)
        return ctl_error(errno);  // still registered: say so, try again later
      r.mode = RM_NONE;
      r.reg = 0;
      count(p, r);
    }
    return 0;
  }
  if (!force && mode == r.mode && mask == r.reg) return 0;
  epoll_event ev;
  ev.events = to_epoll(mask) | (mode == RM_ET ? uint32_t(EPOLLET | EPOLLRDHUP) : 0u) |
              (mode == RM_ONESHOT ? uint32_t(EPOLLONESHOT) : 0u);
  int rc = -1;
  if (r.mode != RM_NONE) {
    ev.data.u64 = uint64_t(uint32_t(fd)) | uint64_t(r.seq) << 32;
    rc = sys_epoll_ctl(p.be.epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0 && errno == ENOENT) {
      // The open file registered under this number is gone: the number was
      // closed (and maybe reused). Whatever waited on it waited on that
      // file: the caller orphans it (fd_replaced).
      r.mode = RM_NONE;
      r.reg = 0;
      count(p, r);
      p.replaced = true;
    }
  }
  if (r.mode == RM_NONE) {
    r.seq++;
    ev.data.u64 = uint64_t(uint32_t(fd)) | uint64_t(r.seq) << 32;
    rc = sys_epoll_ctl(p.be.epfd, EPOLL_CTL_ADD, fd, &ev);
    // Registered under this number but unknown to us (a dup2 back onto a
    // number whose one-shot registration we had forgotten): take it over.
    if (rc < 0 && errno == EEXIST) rc = sys_epoll_ctl(p.be.epfd, EPOLL_CTL_MOD, fd, &ev);
  }
  if (rc < 0) return ctl_error(errno);
  r.mode = mode;
  r.reg = uint8_t(mask);
  count(p, r);
  return 0;
}

// fd was closed (or replaced) under the awaits and operations on it: they
// resolve with `code`. Watches stay: a watch must be stopped before its fd
// is closed (weft.h).
void weft_loop::fd_orphan(int fd, int code) {
  FdRec &r = poller.fds[fd];
  for (uint32_t ref = r.head; ref != kNone;) {
    uint32_t next = io_node(ref)->next;
    if (ref & kIoTask) {
      io_unlink(ref);
      wake_waiter(WK_OP | (ref & ~kIoTask), code);
    }
    ref = next;
  }
  sock_fail_fd(fd, code, WEFT_READABLE | WEFT_WRITABLE);
}

// Makes sure the table covers fd; WEFT_EBADF for a number that is not open.
int weft_loop::fd_table(int fd) {
  Poller &p = poller;
  if (fd < 0) return WEFT_EBADF;
  if (backend_owns_fd(p.be, fd)) return WEFT_EINVAL;
  if (uint32_t(fd) < p.nfds) return 0;
  // Growing the table is rare; first make sure the fd is real, so that a
  // bogus large number is EBADF rather than a huge allocation.
  if (fcntl(fd, F_GETFD) < 0) return WEFT_EBADF;
  uint32_t ncap = p.nfds ? p.nfds : 64;
  while (ncap <= uint32_t(fd)) ncap *= 2;
  void *np = mem_realloc(p.fds, ncap * sizeof(FdRec));
  if (!np) return WEFT_ENOMEM;
  p.fds = static_cast<FdRec *>(np);
  for (uint32_t i = p.nfds; i < ncap; i++)
    p.fds[i] = FdRec{kNone, 0, kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone,
                      0,     0, 0,     0,     0,     0,     0};
  p.nfds = ncap;
  return 0;
}

int weft_loop::io_add(uint32_t ref, int fd, uint32_t events) {
  if (int e = fd_table(fd)) return e;
  Poller &p = poller;
  FdRec &r = p.fds[fd];
  IoNode *node = io_node(ref);
  node->fd = fd;
  node->events = events;
  node->prev = kNone;
  node->next = r.head;
  if (r.head != kNone) io_node(r.head)->prev = ref;
  r.head = ref;
  // Always a syscall: the number may have been closed under older nodes and
  // reused since, and only the kernel knows (weft.h: closed under an await).
  p.replaced = false;
  int e = fd_apply(fd, true);
  const bool others = node->next != kNone || r.rq != kNone || r.wq != kNone;
  if ((e == WEFT_EBADF || (e == 0 && p.replaced)) && others) {
    // The older nodes and operations were on a file that is gone: they
    // resolve with WEFT_EBADF.
    io_unlink(ref);
    fd_orphan(fd, WEFT_EBADF);
    node->prev = kNone;
    node->next = r.head;
    if (r.head != kNone) io_node(r.head)->prev = ref;
    r.head = ref;
    if (e == 0) mark_dirty(fd);  // their interest goes before the next poll
  }
  if (e) {
    io_unlink(ref);
    return e;
  }
  return 0;
}

// Takes a node off its fd's list, leaving the registration as it is.
void weft_loop::io_unlink(uint32_t ref) {
  Poller &p = poller;
  IoNode *node = io_node(ref);
  FdRec &r = p.fds[node->fd];
  if (node->prev != kNone)
    io_node(node->prev)->next = node->next;
  else
    r.head = node->next;
  if (node->next != kNone) io_node(node->next)->prev = node->prev;
  if (p.cursor == ref) p.cursor = node->next;
}

// Unlinks a node. When it was the last watch of an fd weft does not own, the
// level-triggered registration changes now (the user may close the fd as
// soon as this returns); any other change waits for the poll, so that a task
// that awaits the same fd again costs one syscall per await.
void weft_loop::io_remove(uint32_t ref) {
  const int fd = io_node(ref)->fd;
  io_unlink(ref);
  FdRec &r = poller.fds[fd];
  if (r.mode == RM_LT && !r.owned) {
    bool watch = false;
    for (uint32_t n = r.head; n != kNone && !watch; n = io_node(n)->next) watch = !(n & kIoTask);
    if (!watch) {
      if (fd_apply(fd, false) == 0) return;
    }
  }
  mark_dirty(fd);
}

int weft_loop::io_modify(uint32_t ref, uint32_t events) {
  IoNode *node = io_node(ref);
  const uint32_t old = node->events;
  node->events = events;
  if (events & ~old) {
    if (int e = fd_apply(node->fd, true)) {
      node->events = old;
      return e;
    }
  } else if (events != old) {
    mark_dirty(node->fd);  // shrinking can wait for the poll
  }
  return 0;
}

// Brings fd's registration down to what it still serves (or re-arms a
// one-shot one that fired while something still waits).
void weft_loop::reconcile_fd(int fd) {
  FdRec &r = poller.fds[fd];
  r.dirty = 0;
  poller.replaced = false;
  int e = fd_apply(fd, false);
  if (e == WEFT_EBADF || poller.replaced) {
    fd_orphan(fd, WEFT_EBADF);
    fd_apply(fd, false);
  }
}

// Queues fd for reconcile_fd before the next poll (at once if the queue
// cannot grow).
void weft_loop::mark_dirty(int fd) {
  Poller &p = poller;
  FdRec &r = p.fds[fd];
  if (r.dirty) return;
  if (p.ndirty == p.capdirty) {
    uint32_t ncap = p.capdirty ? p.capdirty * 2 : 64;
    void *np = mem_realloc(p.dirty, ncap * sizeof(int));
    if (!np) {
      reconcile_fd(fd);
      return;
    }
    p.dirty = static_cast<int *>(np);
    p.capdirty = ncap;
  }
  r.dirty = 1;
  p.dirty[p.ndirty++] = fd;
}

// Before polling: drop interest nobody has any more, so that level-triggered
// readiness nobody wants cannot spin the loop.
void weft_loop::io_reconcile() {
  Poller &p = poller;
  for (uint32_t i = 0; i < p.ndirty; i++) reconcile_fd(p.dirty[i]);
  p.ndirty = 0;
}

// Phases (5) and (6).
void weft_loop::poll_io(int64_t timeout) {
  Poller &p = poller;
  if (p.ndirty) io_reconcile();
  if (timeout == 0 && p.registered == 0 && p.ring_ops == 0 &&
      !wake_pending.load(std::memory_order_acquire))
    return;  // nothing could be reported
  if (p.nstaged) ring_flush();
  int n = backend_wait(p.be, p.events, kMaxEvents, timeout);
  if (n < 0) {
    if (errno != EINTR) log(WEFT_LOG_ERROR, "%s failed: errno %d",
          p.be.kind == BK_URING ? "io_uring_enter" : "epoll_wait", errno);
    return;
  }
  // Completions first: they only resolve tasks, so none of them can be
  // taken back by a callback below before it is delivered.
  if (p.be.ndone) {
    const int nd = p.be.ndone;
    p.be.ndone = 0;
    for (int i = 0; i < nd; i++) ring_complete(p.be.done[i].key, p.be.done[i].res);
  }
  for (int i = 0; i < n; i++) {
    const epoll_event &ev = p.events[i];
    if (ev.data.u64 == kWakeKey)
      wake_waiter(Poller::kWakeWaiter, from_epoll(ev.events));
    else
      dispatch_fd(int(uint32_t(ev.data.u64)), uint32_t(ev.data.u64 >> 32), ev.events);
  }
}

void weft_loop::dispatch_fd(int fd, uint32_t seq, uint32_t raw) {
  Poller &p = poller;
  if (uint32_t(fd) >= p.nfds) return;
  FdRec &r = p.fds[fd];
  // Reported for a registration that has been replaced since (the fd was
  // closed and its number reused, maybe earlier in this batch): not ours.
  if (r.mode == RM_NONE || r.seq != seq) return;
  const uint32_t got = from_epoll(raw);
  if (r.mode == RM_ONESHOT) {
    r.reg = 0;  // the kernel disarmed it
    count(p, r);
  }
  if (r.owned || r.rq != kNone || r.wq != kNone) {
    r.ready |= uint8_t(((got & (WEFT_READABLE | WEFT_HANGUP | WEFT_ERROR)) ? WEFT_READABLE : 0) |
                       ((got & (WEFT_WRITABLE | WEFT_HANGUP | WEFT_ERROR)) ? WEFT_WRITABLE : 0) |
                       ((raw & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? kReadEnded : 0));
    if (r.rq != kNone || r.wq != kNone) {
      sock_run(fd);  // may close fd, open others, grow the table
      if (p.fds[fd].seq != seq || p.fds[fd].mode == RM_NONE) return;
    }
  }
  uint32_t wanted = 0;
  uint32_t ref = p.fds[fd].head;
  while (ref != kNone) {
    IoNode *node = io_node(ref);
    p.cursor = node->next;  // io_unlink advances it if that node goes
    wanted |= node->events;
    const uint32_t ev = got & (node->events | kReported);
    if (ev) wake_waiter(ref, ev);  // a task's await or a watch's callback
    ref = p.cursor;
  }
  p.cursor = kNone;
  // A callback may have closed the fd through weft or replaced it (and
  // grown the table: no reference held across the callbacks).
  const FdRec &q = p.fds[fd];
  if (q.seq != seq) return;
  if (q.mode == RM_ONESHOT) {
    if (q.head != kNone || q.rq != kNone || q.wq != kNone) mark_dirty(fd);  // re-arm
  } else if (q.mode == RM_ET) {
    if ((got & WEFT_WRITABLE) && q.wq == kNone && (q.reg & WEFT_WRITABLE))
      mark_dirty(fd);  // the send that wanted writability is done: drop it
  } else if (q.mode == RM_LT && (got & ~wanted & (WEFT_READABLE | WEFT_WRITABLE))) {
    mark_dirty(fd);  // readiness nobody asked for: shrink before the next poll
  }
}

int weft_loop::watch_start(int fd, int events, weft_fd_cb cb, void *ud, weft_fd_watch_t *out) {
  uint32_t slot;
  FdWatch *w = watches.alloc(&slot);
  if (!w) return WEFT_ENOMEM;
  w->state = FW_ACTIVE;
  w->cb = cb;
  w->ud = ud;
  if (int e = io_add(slot, fd, uint32_t(events))) {
    watches.release(slot);
    return e;
  }
  bump(st_watches, 1);
  *out = id_make(Kind::FdWatch, tag, w->gen, slot);
  return 0;
}

void weft_loop::watch_stop(uint32_t slot) {
  void *ud = watches.at(slot)->ud;
  const uint32_t gen = watches.at(slot)->gen;
  io_remove(slot);
  watches.release(slot);
  bump(st_watches, -1);
  release_handle(WEFT_KIND_FD_WATCH, slot, gen, ud);
}

// weft_loop_free: watches end without their callbacks being called.
void weft_loop::drop_watches() {
  // watch_stop can trim the pool (the last one releases its chunks): re-read
  // its size every time round.
  for (uint32_t s = 0; s < watches.size(); s++)
    if (watches.at(s)->state != FW_FREE) watch_stop(s);
}
