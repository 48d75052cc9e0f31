// socket.h -- socket operations (accept, connect, recv, send) as awaits.
//
// An operation tries its syscall first, inside the step that asks for it,
// and parks only on EAGAIN: a SockOp then waits in its fd's read or write
// queue (FdRec::rq / wq, FIFO), and the poller retries the syscall when the
// fd reports readiness, in phase (6), resolving the task with the result;
// a recv on an owned (edge-triggered) fd is instead made `due` and tried by
// its task in phase (4), just before the step that takes its bytes
// (sock_try_due).
// With epoll the kernel uses the caller's buffer only during a syscall, so a
// parked operation can be cancelled, or its fd closed, at any moment.
//
// On io_uring, the operations on sockets weft owns go to the ring instead
// and are submitted with the iteration's one io_uring_enter: a recv that
// finds nothing to read (IORING_OP_RECV), every send (IORING_OP_SEND, so
// the replies of an iteration cost no syscall each), every accept and every
// TCP connect; such sockets are not kept in the epoll set. Sends on one fd
// keep their order, and so do recvs: one of each is in the ring, the others
// wait behind it in FdRec::sq / rr (RS_BEHIND) and go in as it ends; a
// short send goes in again for the rest. The kernel holds the caller's buffer until the
// completion: a cancel, a timeout or a close through weft submits
// IORING_OP_ASYNC_CANCEL and waits for the operation's completion (the
// cancel's own completion may come before or after it) before the await
// resolves (an operation still queued, not yet submitted, is turned into a
// no-op instead); bytes it received are delivered, a send's count goes to
// *sent, an accepted fd or a connected socket is delivered, and the
// cancellation comes from the next await. The kernel also cancels a thread's
// requests when that thread exits; an operation cancelled so (nobody here
// asked) is submitted again by the thread running the loop (a connect, on a
// new socket). Unix-path connects, and operations on fds that share a watch
// or fd await, try their syscall and park as on epoll.
//
// A connect to a host name first resolves it on the loop's pool (a Dial,
// allocated once per connect, holds the name and the addresses found), then
// tries each address in turn.
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/socket.h>

namespace weft {

enum SockOpKind : uint8_t {
  OP_RECV = 1,
  OP_SEND,
  OP_ACCEPT,
  OP_CONNECT,  // a non-blocking connect in progress on fd (parked on wq)
  OP_RESOLVE,  // the Dial's name is being resolved on the pool
};

struct Dial;

// Where an operation is on io_uring (SockOp::ring). Counted in the fd's and
// the poller's ring_ops: RS_KERNEL and RS_STAGED.
enum RingState : uint8_t {
  RS_NONE = 0,    // not a ring operation (parked on the epoll set, or none)
  RS_KERNEL = 1,  // submitted, or queued in the submission queue
  RS_BEHIND = 2,  // waiting behind the fd's send or recv in the ring (FdRec::sq, rr)
  RS_STAGED = 3,  // a recv queued just before the wait (Poller::staged)
};

struct SockOp {
  uint32_t gen;
  uint8_t state;  // 1 live
  uint8_t kind;   // SockOpKind
  uint32_t next;  // free list; queue link
  uint32_t task;  // awaiting task slot
  int32_t fd;
  char *buf;
  size_t len;
  size_t done;   // send: bytes already sent
  size_t *sent;  // send: the caller's count, written when the await resolves
  Dial *dial;    // connect
  // io_uring: where it is (RingState); `aborting` while a cancel waits for
  // it, which takes its result from ring_res once ring_done.
  uint8_t ring, aborting, ring_done;
  // epoll: the fd turned readable and the task is queued to try this recv
  // itself, just before its step (sock_try_due).
  uint8_t due;
  int32_t ring_res;
  uint32_t ticket;  // its place in the submission queue (backend.h)
};

// The key an operation in the ring is submitted with (backend.h's Done).
inline uint64_t ring_key(uint32_t slot, uint32_t gen) {
  return (uint64_t(1) << 63) | (uint64_t(gen & 0x7fffffffu) << 32) | slot;
}

constexpr int kMaxDialAddrs = 16;

struct Dial {
  uint32_t op;  // SockOp slot, kNone once the task stopped waiting
  int port;
  int naddr, idx;
  int last_err;
  sockaddr_storage addr[kMaxDialAddrs];
  socklen_t alen[kMaxDialAddrs];
  char host[1];  // the name, NUL-terminated (allocated to fit)
};

}  // namespace weft
