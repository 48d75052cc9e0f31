// sys.h -- every allocation and every syscall the core makes goes through
// here, so that a test build can make the Nth one fail (WEFT_FAULT_INJECTION)
// and so the clock has one definition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>

#include <pthread.h>
#include <sys/epoll.h>

#if defined(__GNUC__)
#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WEFT_INLINE inline __attribute__((always_inline))
#else
#define WEFT_LIKELY(x) (x)
#define WEFT_UNLIKELY(x) (x)
#define WEFT_INLINE inline
#endif

#ifdef WEFT_HAVE_URING
struct io_uring;
struct io_uring_params;
struct __kernel_timespec;
#endif

namespace weft {

// Monotonic clock in ns.
WEFT_INLINE int64_t clock_now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// a + b for b >= 0, saturating at INT64_MAX.
WEFT_INLINE int64_t add_sat(int64_t a, int64_t b) {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

// A token naming the calling thread (stored as a loop's owner). An
// initial-exec thread-local's address was tried instead of pthread_self():
// no measurable difference in yield or spawn cost, so the simple one stays.
WEFT_INLINE uintptr_t thread_token() { return uintptr_t(pthread_self()); }

// Allocation: NULL on failure, never throws.
void *mem_alloc(size_t n);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);

// Page-granular memory straight from the kernel, for large arrays that grow
// (mem_remap moves pages instead of copying them). NULL on failure.
void *mem_map(size_t n, bool populate = false);
void *mem_remap(void *p, size_t old_n, size_t new_n);
void mem_unmap(void *p, size_t n);
void mem_populate(void *p, size_t n);  // pre-fault pages for writing; a hint

// Syscalls: return what the libc call returns (-1 and errno on failure).
int sys_epoll_create();
int sys_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int sys_epoll_wait(int epfd, struct epoll_event *evs, int max, int64_t timeout_ns);
int sys_eventfd();
int sys_eventfd_write(int fd);  // adds 1; 0 or -1
int sys_eventfd_read(int fd);   // drains; 0 or -1 (EAGAIN when empty)
int sys_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);  // 0 or errno

#ifdef WEFT_HAVE_URING
// io_uring (liburing's conventions: 0 or more on success, a negated errno on
// failure). Setup, a submission without waiting, a submission that waits for
// one completion (ts NULL: no limit; -ETIME when it passes), and a hook on
// each completion's result (a fault turns it into the armed errno).
int sys_uring_setup(unsigned entries, ::io_uring *ring, ::io_uring_params *p);
int sys_uring_submit(::io_uring *ring);
int sys_uring_wait(::io_uring *ring, ::__kernel_timespec *ts);
int sys_uring_cqe_res(int res);
#endif

#ifdef WEFT_FAULT_INJECTION
// Test hook: the fault_after-th call (1-based) from now of any wrapped site
// fails (allocation: NULL; syscall: the given errno). 0 disarms.
struct Fault {
  static void arm(int64_t nth, int err);
  static int64_t calls();  // wrapped calls made since the last arm
};
#endif

}  // namespace weft
