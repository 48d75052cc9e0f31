// poller.cc -- the epoll backend, fd watches, fd awaits and the wakeup fd.
#include <cerrno>

#include <fcntl.h>

#include <unistd.h>

#include "loop.h"

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

int weft_loop::poller_init() {
  Poller &p = poller;
  p.epfd = sys_epoll_create();
  if (p.epfd < 0) return errno == EMFILE || errno == ENFILE ? WEFT_EMFILE : WEFT_ENOMEM;
  p.wakefd = sys_eventfd();
  if (p.wakefd < 0) return errno == EMFILE || errno == ENFILE ? WEFT_EMFILE : WEFT_ENOMEM;
  epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (sys_epoll_ctl(p.epfd, EPOLL_CTL_ADD, p.wakefd, &ev) < 0) return ctl_error(errno);
  return 0;
}

void weft_loop::poller_close() {
  if (poller.wakefd >= 0) ::close(poller.wakefd);
  if (poller.epfd >= 0) ::close(poller.epfd);
  poller.wakefd = poller.epfd = -1;
  mem_free(poller.fds);
  mem_free(poller.dirty);
  poller.fds = nullptr;
  poller.dirty = nullptr;
}

IoNode *weft_loop::io_node(uint32_t ref) const {
  if (ref & kIoTask) return &tasks.at(ref & ~kIoTask)->w.io;
  return &watches.at(ref)->io;
}

namespace {
// Union of the events the nodes on this fd want.
template <class L>
uint32_t interest(const L *loop, uint32_t head) {
  uint32_t want = 0;
  for (uint32_t n = head; n != kNone;) {
    const IoNode *node = loop->io_node(n);
    want |= node->events;
    n = node->next;
  }
  return want;
}
}  // namespace

// Registers `want` for fd with epoll (ADD or MOD, whichever the kernel needs).
static int register_fd(Poller &p, int fd, uint32_t want) {
  FdRec &r = p.fds[fd];
  epoll_event ev;
  ev.events = to_epoll(want);
  ev.data.u64 = uint64_t(uint32_t(fd));
  int op = r.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  int rc = sys_epoll_ctl(p.epfd, op, fd, &ev);
  if (rc < 0 && op == EPOLL_CTL_MOD && errno == ENOENT) {
    // The fd was closed and its number reused since: register afresh.
    r.in_epoll = 0;
    p.registered--;
    op = EPOLL_CTL_ADD;
    rc = sys_epoll_ctl(p.epfd, op, fd, &ev);
  }
  if (rc < 0) return ctl_error(errno);
  if (!r.in_epoll) {
    r.in_epoll = 1;
    p.registered++;
  }
  r.reg = uint8_t(want);
  return 0;
}

int weft_loop::io_add(uint32_t ref, int fd, uint32_t events) {
  Poller &p = poller;
  if (fd == p.epfd || fd == p.wakefd) return WEFT_EINVAL;
  if (uint32_t(fd) >= p.nfds) {
    // Growing the table is rare; first make sure the fd is real, so that a
    // bogus large number is EBADF rather than a huge allocation.
    if (fcntl(fd, F_GETFD) < 0) return WEFT_EBADF;
    uint32_t ncap = p.nfds ? p.nfds : 64;
    while (ncap <= uint32_t(fd)) ncap *= 2;
    void *np = mem_realloc(p.fds, ncap * sizeof(FdRec));
    if (!np) return WEFT_ENOMEM;
    p.fds = static_cast<FdRec *>(np);
    for (uint32_t i = p.nfds; i < ncap; i++) p.fds[i] = FdRec{kNone, 0, 0, 0};
    p.nfds = ncap;
  }
  FdRec &r = p.fds[fd];
  uint32_t want = interest(this, r.head) | events;
  // With no node left on the fd, a registration still in epoll is only a
  // shrink not yet done: the fd may have been closed and its number reused
  // since (legal once no watch or await names it), so register it again
  // (MOD, or ADD if the kernel dropped the old one). Skipping the syscall
  // here left the new fd unregistered: its awaits and watches never fired.
  if (!r.in_epoll || r.head == kNone || (want & ~uint32_t(r.reg))) {
    if (int e = register_fd(p, fd, want)) return e;
  }
  IoNode *node = io_node(ref);
  node->fd = fd;
  node->events = events;
  node->prev = kNone;
  node->next = r.head;
  if (r.head != kNone) io_node(r.head)->prev = ref;
  r.head = ref;
  return 0;
}

// Brings fd's epoll registration down to what its nodes still want.
void weft_loop::reconcile_fd(int fd) {
  Poller &p = poller;
  FdRec &r = p.fds[fd];
  r.dirty = 0;
  if (!r.in_epoll) return;
  uint32_t want = interest(this, r.head);
  if (want == 0) {
    // EBADF or ENOENT: the fd was closed (its number maybe reused), and its
    // registration went with it. Any other failure leaves it registered:
    // keep saying so, so that a later watch MODs it (an ADD would fail with
    // EEXIST for good) and readiness nobody wants brings it back here.
    if (sys_epoll_ctl(p.epfd, EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF &&
        errno != ENOENT)
      return;
    r.in_epoll = 0;
    r.reg = 0;
    p.registered--;
  } else if (want != r.reg) {
    register_fd(p, fd, want);
  }
}

// Queues fd for reconcile_fd before the next poll (at once if the queue
// cannot grow).
void weft_loop::mark_dirty(int fd) {
  Poller &p = poller;
  FdRec &r = p.fds[fd];
  if (r.dirty || !r.in_epoll) return;
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

// Unlinks a node. The epoll registration shrinks later, in io_reconcile, so
// a task that awaits the same fd again within the iteration costs one MOD
// (see io_add) rather than a DEL and an ADD.
void weft_loop::io_remove(uint32_t ref) {
  Poller &p = poller;
  IoNode *node = io_node(ref);
  FdRec &r = p.fds[node->fd];
  if (node->prev != kNone)
    io_node(node->prev)->next = node->next;
  else
    r.head = node->next;
  if (node->next != kNone) io_node(node->next)->prev = node->prev;
  if (p.cursor == ref) p.cursor = node->next;
  mark_dirty(node->fd);
}

int weft_loop::io_modify(uint32_t ref, uint32_t events) {
  IoNode *node = io_node(ref);
  const uint32_t old = node->events;
  node->events = events;
  FdRec &r = poller.fds[node->fd];
  uint32_t want = interest(this, r.head);
  if (!r.in_epoll || (want & ~uint32_t(r.reg))) {
    if (int e = register_fd(poller, node->fd, want)) {
      node->events = old;
      return e;
    }
  } else if (want != r.reg) {
    mark_dirty(node->fd);  // shrinking can wait for the poll
  }
  return 0;
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
  if (timeout == 0 && p.registered == 0 && !wake_pending.load(std::memory_order_acquire))
    return;  // nothing could be reported
  int n = sys_epoll_wait(p.epfd, p.events, kMaxEvents, timeout);
  if (n < 0) {
    if (errno != EINTR) log(WEFT_LOG_ERROR, "epoll_wait failed: errno %d", errno);
    return;
  }
  for (int i = 0; i < n; i++) {
    const epoll_event &ev = p.events[i];
    if (ev.data.u64 == kWakeKey) {
      // Read first, then clear: a waker that saw the flag set has queued
      // its item before our drain below.
      sys_eventfd_read(p.wakefd);
      wake_pending.store(false, std::memory_order_seq_cst);
      deliver_completions();
    } else {
      dispatch_fd(int(ev.data.u64), from_epoll(ev.events));
    }
  }
}

void weft_loop::dispatch_fd(int fd, uint32_t got) {
  Poller &p = poller;
  if (uint32_t(fd) >= p.nfds) return;
  uint32_t wanted = 0;
  uint32_t ref = p.fds[fd].head;
  while (ref != kNone) {
    IoNode *node = io_node(ref);
    p.cursor = node->next;  // io_remove advances it if that node goes
    wanted |= node->events;
    uint32_t ev = got & (node->events | kReported);
    if (ev) {
      if (ref & kIoTask) {
        uint32_t slot = ref & ~kIoTask;
        io_remove(ref);
        resolve(slot, int(ev));
      } else {
        FdWatch *w = watches.at(ref);
        const uint32_t gen = w->gen;
        void *ud = w->ud;
        const int64_t t0 = slow_ns ? clock_now() : 0;
        callback_begin(WEFT_KIND_FD_WATCH, ref, gen);
        try {
          w->cb(this, id_make(Kind::FdWatch, tag, gen, ref), int(ev), ud);
        } catch (...) {
          log(WEFT_LOG_ERROR, "C++ exception escaped an fd callback");
        }
        if (callback_end()) release_ud(WEFT_KIND_FD_WATCH, ud);
        if (slow_ns) slow_check(t0, "fd callback");
      }
    }
    ref = p.cursor;
  }
  // Readiness nobody asked for: shrink the registration before next poll.
  if (got & ~wanted & (WEFT_READABLE | WEFT_WRITABLE)) mark_dirty(fd);
  p.cursor = kNone;
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
