// socket.h -- socket operations (accept, connect, recv, send) as awaits.
//
// An operation tries its syscall first, inside the step that asks for it,
// and parks only on EAGAIN: a SockOp then waits in its fd's read or write
// queue (FdRec::rq / wq, FIFO), and the poller retries the syscall when the
// fd reports readiness, in phase (6), resolving the task with the result.
// With epoll the kernel uses the caller's buffer only during a syscall, so a
// parked operation can be cancelled, or its fd closed, at any moment.
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
};

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
