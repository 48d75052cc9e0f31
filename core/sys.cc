// sys.cc -- allocation and syscall wrappers (see sys.h).
#include "sys.h"

#include <cerrno>
#include <cstdlib>

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

#ifdef WEFT_HAVE_URING
#include <liburing.h>
#endif

namespace weft {

#ifdef WEFT_FAULT_INJECTION
namespace {
std::atomic<int64_t> g_countdown{0};
std::atomic<int64_t> g_calls{0};
std::atomic<int> g_errno{ENOMEM};

// True if this call is the one armed to fail.
bool inject() {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  int64_t c = g_countdown.load(std::memory_order_relaxed);
  if (c <= 0) return false;
  return g_countdown.fetch_sub(1, std::memory_order_relaxed) == 1;
}
}  // namespace

void Fault::arm(int64_t nth, int err) {
  g_calls.store(0);
  g_errno.store(err);
  g_countdown.store(nth);
}
int64_t Fault::calls() { return g_calls.load(); }

#define FAIL_IF_INJECTED(ret)                              \
  do {                                                     \
    if (inject()) {                                        \
      errno = g_errno.load(std::memory_order_relaxed);     \
      return ret;                                          \
    }                                                      \
  } while (0)
#define FAIL_THREAD_IF_INJECTED()                                         \
  do {                                                                    \
    if (inject()) return g_errno.load(std::memory_order_relaxed);         \
  } while (0)
#else
#define FAIL_IF_INJECTED(ret) ((void)0)
#define FAIL_THREAD_IF_INJECTED() ((void)0)
#endif

void *mem_alloc(size_t n) {
  FAIL_IF_INJECTED(nullptr);
  return std::malloc(n);
}

void *mem_realloc(void *p, size_t n) {
  FAIL_IF_INJECTED(nullptr);
  return std::realloc(p, n);
}

void mem_free(void *p) { std::free(p); }

void *mem_map(size_t n, bool populate) {
  FAIL_IF_INJECTED(nullptr);
  void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void *mem_remap(void *p, size_t old_n, size_t new_n) {
  FAIL_IF_INJECTED(nullptr);
  void *q = mremap(p, old_n, new_n, MREMAP_MAYMOVE);
  return q == MAP_FAILED ? nullptr : q;
}

void mem_populate(void *p, size_t n) {
#ifdef MADV_POPULATE_WRITE
  madvise(p, n, MADV_POPULATE_WRITE);  // kernels before 5.14: EINVAL, harmless
#else
  (void)p;
  (void)n;
#endif
}

void mem_unmap(void *p, size_t n) {
  if (p) munmap(p, n);
}

int sys_epoll_create() {
  FAIL_IF_INJECTED(-1);
  return epoll_create1(EPOLL_CLOEXEC);
}

int sys_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  FAIL_IF_INJECTED(-1);
  return epoll_ctl(epfd, op, fd, ev);
}

int sys_epoll_wait(int epfd, struct epoll_event *evs, int max, int64_t timeout_ns) {
  FAIL_IF_INJECTED(-1);
  if (timeout_ns < 0) return epoll_wait(epfd, evs, max, -1);
  if (timeout_ns == 0) return epoll_wait(epfd, evs, max, 0);
  struct timespec ts;
  ts.tv_sec = timeout_ns / 1000000000;
  ts.tv_nsec = timeout_ns % 1000000000;
  static std::atomic<bool> have_pwait2{true};  // kernels before 5.11 lack it
  if (have_pwait2.load(std::memory_order_relaxed)) {
    int n = epoll_pwait2(epfd, evs, max, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2.store(false, std::memory_order_relaxed);
  }
  // Round up so that a timer is never polled for too briefly.
  int64_t ms = (timeout_ns + 999999) / 1000000;
  return epoll_wait(epfd, evs, max, ms > 0x7fffffff ? 0x7fffffff : int(ms));
}

int sys_eventfd() {
  FAIL_IF_INJECTED(-1);
  return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int sys_eventfd_write(int fd) {
  FAIL_IF_INJECTED(-1);
  uint64_t one = 1;
  for (;;) {
    ssize_t n = write(fd, &one, sizeof one);
    if (n == sizeof one) return 0;
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN: the counter is saturated, so the loop is already woken.
    return (n < 0 && errno == EAGAIN) ? 0 : -1;
  }
}

int sys_eventfd_read(int fd) {
  FAIL_IF_INJECTED(-1);
  uint64_t v;
  for (;;) {
    ssize_t n = read(fd, &v, sizeof v);
    if (n == sizeof v) return 0;
    if (n < 0 && errno == EINTR) continue;
    return -1;
  }
}

int sys_thread_create(pthread_t *t, void *(*fn)(void *), void *arg) {
  FAIL_THREAD_IF_INJECTED();
  return pthread_create(t, nullptr, fn, arg);
}

#ifdef WEFT_HAVE_URING
int sys_uring_setup(unsigned entries, ::io_uring *ring, ::io_uring_params *p) {
  FAIL_IF_INJECTED(-errno);
  return io_uring_queue_init_params(entries, ring, p);
}

int sys_uring_submit(::io_uring *ring) {
  FAIL_IF_INJECTED(-errno);
  return io_uring_submit(ring);
}

int sys_uring_wait(::io_uring *ring, ::__kernel_timespec *ts) {
  FAIL_IF_INJECTED(-errno);
  io_uring_cqe *cqe;
  return io_uring_submit_and_wait_timeout(ring, &cqe, 1, ts, nullptr);
}

int sys_uring_cqe_res(int res) {
  FAIL_IF_INJECTED(-errno);
  return res;
}
#endif

}  // namespace weft
