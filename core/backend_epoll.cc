// backend_epoll.cc -- the epoll backend: the loop's epoll set and wakeup
// eventfd, and the wait (see backend.h).
#include <cerrno>

#include <unistd.h>

#include "backend.h"

namespace weft {

// Opens the epoll set and the wakeup eventfd, the wakeup registered in the
// set. Both backends use these (backend.h).
int epoll_open(Backend &b) {
  b.epfd = sys_epoll_create();
  if (b.epfd < 0) return -errno;
  b.wakefd = sys_eventfd();
  if (b.wakefd < 0) return -errno;
  if (b.kind == BK_URING) return 0;  // the ring polls the eventfd itself
  epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (sys_epoll_ctl(b.epfd, EPOLL_CTL_ADD, b.wakefd, &ev) < 0) return -errno;
  return 0;
}

void epoll_close(Backend &b) {
  if (b.wakefd >= 0) ::close(b.wakefd);
  if (b.epfd >= 0) ::close(b.epfd);
  b.wakefd = b.epfd = -1;
}

int epoll_wait_events(Backend &b, epoll_event *evs, int max, int64_t timeout_ns) {
  return sys_epoll_wait(b.epfd, evs, max, timeout_ns);
}

}  // namespace weft
