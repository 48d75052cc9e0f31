// poller.h -- epoll, fd watches, fd awaits, the per-fd state of socket
// operations, and the loop's wakeup eventfd.
//
// One epoll registration per fd serves every watch, fd await and socket
// operation on it. The per-fd record heads a list of IoNodes (watches and fd
// awaits), the queues of parked operations (socket.cc), and remembers how the
// fd is registered. Three modes, chosen from what the fd serves:
//   ET       an fd weft owns (created by weft, or adopted) with no watch or
//            fd await: registered once, edge-triggered, for reading, and for
//            writing only while a send or connect waits (added when one
//            parks, dropped at the first writable edge after the queue has
//            emptied: a socket turns writable at every read of its peer);
//            readiness is remembered in FdRec::ready and cleared by an
//            EAGAIN, so an operation on a known-drained fd parks without a
//            syscall.
//   LT       any fd with a watch, or an owned fd with an fd await:
//            level-triggered, for the union of what its nodes and parked
//            operations want (the contract of watches).
//   ONESHOT  an fd weft does not own, with fd awaits or operations only:
//            the registration fires once and is then disarmed by the kernel,
//            so it cannot report again after the await or operation that
//            armed it has ended -- not even if the user closes the fd while
//            a dup or a forked child keeps the open file alive.
// A watch registration (LT) is dropped at once when the last watch of an fd
// that weft does not own stops, while the fd is still open (weft.h asks that
// watches be stopped before the fd is closed); a deferred EPOLL_CTL_DEL would
// fail on a closed fd and leave a ghost registration in the kernel.
//
// Every ADD takes a new registration number (FdRec::seq) that travels in
// the event's data with the fd, so an event queued for a registration that
// has since been replaced (fd closed, number reused) is recognised and
// dropped, even within one epoll_wait batch.
#pragma once

#include <cstdint>

#include <sys/epoll.h>

#include "backend.h"
#include "task.h"
#include "waiter.h"

namespace weft {

enum WatchState : uint8_t { FW_FREE = 0, FW_ACTIVE = 1 };

struct FdWatch {
  uint32_t gen;
  uint8_t state;
  uint32_t next;  // free list
  IoNode io;
  weft_fd_cb cb;
  void *ud;
};

enum RegMode : uint8_t { RM_NONE = 0, RM_LT = 1, RM_ONESHOT = 2, RM_ET = 3 };

struct FdRec {
  uint32_t head;          // first IoNode ref, kNone if none
  uint32_t seq;           // number of the current registration (event data)
  uint32_t rq, rq_tail;   // parked read-side operations (SockOp slots), FIFO
  uint32_t wq, wq_tail;   // parked write-side operations
  uint32_t sq, sq_tail;   // io_uring: sends in order, the first in the ring
  uint32_t rr, rr_tail;   // io_uring: recvs in order, the first in the ring
  uint8_t reg;            // events armed in epoll (weft bits); 0 = disarmed
  uint8_t mode;           // RegMode; RM_NONE = not in epoll
  uint8_t dirty;          // queued for reconcile
  uint8_t owned;          // 1 owned socket, 2 owned other stream fd (socket.cc)
  uint8_t ready;          // owned: READABLE/WRITABLE not known to be drained, kReadEnded
  uint8_t counted;        // counted in Poller::registered
  uint16_t ring_ops;      // io_uring: operations in the kernel on this fd
};
// IoNode refs: waiter refs (waiter.h), a watch's (WK_WATCH: the plain
// slot) or a task's fd await (this bit set).
constexpr uint32_t kIoTask = WK_FD_TASK;
static_assert(WK_WATCH == 0 && WK_FD_TASK == 0x80000000u, "a watch ref is its slot");
// epoll data: fd | seq << 32 (backend.h's kWakeKey for the wakeup eventfd).
// FdRec::ready bit: the peer's end of stream (or an error) was reported; it
// stays readable for good, so a short read must not wait for another edge.
constexpr uint8_t kReadEnded = 0x10;
constexpr int kMaxEvents = 1024;

struct Poller {
  // The waiter of the backend's wakeup eventfd (reported as kWakeKey).
  static constexpr uint32_t kWakeWaiter = WK_WAKEUP;
  Backend be;  // backend.h: the epoll set, the wakeup eventfd, the ring
  FdRec *fds = nullptr;  // indexed by fd
  uint32_t nfds = 0;
  int *dirty = nullptr;  // fds whose interest may have shrunk
  uint32_t ndirty = 0, capdirty = 0;
  uint32_t registered = 0;  // user fds whose registration can report
  uint32_t ring_ops = 0;    // io_uring: operations in the kernel (or staged)
  // io_uring: recvs started this iteration, queued to the ring just before
  // the wait, after the iteration's sends (SockOp slots; socket.cc).
  uint32_t *staged = nullptr;
  uint32_t nstaged = 0, capstaged = 0;
  bool replaced = false;    // fd_apply found the registered file gone (ENOENT)
  uint32_t cursor = 0;      // next IoNode of the list being dispatched
  epoll_event events[kMaxEvents];
};

}  // namespace weft
