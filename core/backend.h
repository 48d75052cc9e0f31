// backend.h -- the seam between the loop and the kernel's event interface.
//
// A backend only reports: which registrations became ready and whether the
// wakeup eventfd fired, in one array of epoll_event records (the wakeup as
// kWakeKey), and which operations completed (Backend::done, io_uring). The
// loop (poller.cc) owns the per-fd state and decides what each fd is
// registered for; it hands each readiness to the registration's waiters
// (watches, fd awaits; the wakeup's waiter for kWakeKey), which wake.h
// wakes, and retries the fd's socket operations.
//
// Two backends:
//   epoll     (backend_epoll.cc) waits in epoll_wait on the loop's epoll set.
//   io_uring  (backend_uring.cc, built when liburing is found) submits the
//             loop's operations (recv, send, accept and connect on sockets
//             weft owns: socket.h) to a
//             ring and waits for their completions in one io_uring_enter
//             that also submits what the iteration queued. The epoll set
//             stays the registry of fd interest and holds the wakeup eventfd
//             on both backends (the kernel tracks there whether an fd number
//             still names the file it was registered for, which the
//             contracts of closed, dup'ed and replaced fds rely on); the ring
//             watches that set with a one-shot poll operation, re-armed after
//             each harvest (one-shot polls check readiness when armed, so a
//             level-triggered registration still ready is reported again).
//             With no operation in the ring a blocking wait is epoll_wait
//             itself. Timers reach the kernel as the wait's timeout
//             (IORING_ENTER_EXT_ARG).
//
// Ring setup flags: COOP_TASKRUN with TASKRUN_FLAG (5.19; without them on
// older kernels): a completion another CPU produces (a peer's data waking a
// ring recv) is run at the submitter's next entry to the kernel rather than
// by interrupting it with a signal, whose lock two CPUs then contend; a
// submitter asleep is still woken, so a loop waiting in the ring, or an
// embedder polling the ring fd, wakes as before, and a zero-timeout wait
// enters the kernel when the ring says task work is pending. Not used:
// SQPOLL (burns a core), SINGLE_ISSUER (another thread's submission would
// fail: weft lets any single thread use a loop that no thread is running),
// DEFER_TASKRUN (needs SINGLE_ISSUER, and completions would wait for the
// submitting thread to ask for them, while another thread may be the one
// running the loop).
//
// Selection (weft.h, weft_loop_new_with): "auto" tries io_uring and falls
// back to epoll silently when the ring cannot be set up (no kernel support,
// seccomp, io_uring_disabled, no EXT_ARG); "io_uring" fails loop creation
// with WEFT_ENOSYS instead; "epoll" never touches io_uring.
#pragma once

#include <cstdint>

#include <sys/epoll.h>
#include <sys/socket.h>

#include "sys.h"

namespace weft {

enum BackendKind : uint8_t { BK_AUTO = 0, BK_EPOLL = 1, BK_URING = 2 };

struct Uring;  // backend_uring.cc

constexpr uint64_t kWakeKey = ~uint64_t(0);  // event data of the wakeup eventfd

// A completed operation (io_uring): the key it was submitted with, and the
// kernel's result (bytes, or a negated errno).
struct Done {
  uint64_t key;
  int32_t res;
};
constexpr uint64_t kOpKeyBit = uint64_t(1) << 63;  // keys of operations (others: the backend's)

struct Backend {
  uint8_t kind = BK_EPOLL;
  int epfd = -1;     // the epoll set: registrations of fd interest (both backends)
  int wakefd = -1;   // the wakeup eventfd
  Uring *ring = nullptr;
  Done *done = nullptr;  // io_uring: operations the last wait reaped
  int ndone = 0;
};

// Parses a backend name: NULL means the environment's WEFT_BACKEND, and an
// unset or empty WEFT_BACKEND means "auto". BK_* or WEFT_EINVAL.
int backend_parse(const char *name);

// Opens the chosen backend (BK_AUTO, BK_EPOLL or BK_URING): 0 or WEFT_E*.
// On failure whatever was opened is closed again by backend_close.
int backend_open(Backend &b, int choice);
// Closes what backend_open opened. `forked`: this is a fork() child holding
// a copy (the ring's memory is not mapped here: only descriptors close).
void backend_close(Backend &b, bool forked);

// Waits up to timeout_ns (-1 forever, 0 not at all) and fills evs with what
// became ready (at most max). Returns the count, or -1 with errno (EINTR).
int epoll_wait_events(Backend &b, epoll_event *evs, int max, int64_t timeout_ns);
#ifdef WEFT_HAVE_URING
int uring_open(Backend &b);  // 0 or a negated errno
void uring_close(Backend &b, bool forked);
int uring_wait_events(Backend &b, epoll_event *evs, int max, int64_t timeout_ns);
int uring_fd(const Backend &b);      // for an embedder: keeps the polls armed from now on
int uring_raw_fd(const Backend &b);  // the ring fd, nothing more
// Queues a recv of up to len bytes into buf (submitted by the next wait).
// 0, or a negated errno (nothing queued). *ticket names its place in the
// submission queue (uring_unsubmit).
int uring_prep_recv(Backend &b, int fd, void *buf, unsigned len, uint64_t key,
                    uint32_t *ticket);
// The same for a send of len bytes from buf (the kernel goes on after a
// short send), an accept on the listening fd (the new fd non-blocking and
// close-on-exec) and a connect of fd to sa (the kernel copies sa when the
// operation is submitted; the caller keeps it valid until then).
int uring_prep_send(Backend &b, int fd, const void *buf, unsigned len, uint64_t key,
                    uint32_t *ticket);
int uring_prep_accept(Backend &b, int fd, uint64_t key, uint32_t *ticket);
int uring_prep_connect(Backend &b, int fd, const sockaddr *sa, unsigned salen, uint64_t key,
                       uint32_t *ticket);
// The operation queued with `ticket` has not been submitted yet: it is
// turned into a no-op the kernel completes unseen (true), so the kernel
// never touches its buffer; false once it was submitted.
bool uring_unsubmit(Backend &b, uint32_t ticket);
// Submits a cancel of the operation `key` now. 0 or a negated errno.
int uring_cancel(Backend &b, uint64_t key);
// Submits what is queued, waits for at least one completion and returns the
// operations' completions in out (at most max); the backend's own (polls)
// are remembered for the next uring_wait_events. Count, or a negated errno.
int uring_reap(Backend &b, Done *out, int max);
#endif

WEFT_INLINE int backend_wait(Backend &b, epoll_event *evs, int max, int64_t timeout_ns) {
#ifdef WEFT_HAVE_URING
  if (b.kind == BK_URING) return uring_wait_events(b, evs, max, timeout_ns);
#endif
  return epoll_wait_events(b, evs, max, timeout_ns);
}

// The descriptor an embedder polls for readability (weft_loop_backend_fd).
int backend_fd(const Backend &b);
const char *backend_name(const Backend &b);
// True if fd is one of the backend's own descriptors (refused as a user fd).
bool backend_owns_fd(const Backend &b, int fd);

}  // namespace weft
