// backend.cc -- choosing and opening a backend (see backend.h).
#include "backend.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "../capi/include/weft.h"

namespace weft {

int epoll_open(Backend &b);  // backend_epoll.cc
void epoll_close(Backend &b);

int backend_parse(const char *name) {
  if (!name) {
    name = std::getenv("WEFT_BACKEND");
    if (!name || !*name) return BK_AUTO;
  }
  if (std::strcmp(name, "auto") == 0) return BK_AUTO;
  if (std::strcmp(name, "epoll") == 0) return BK_EPOLL;
  if (std::strcmp(name, "io_uring") == 0) return BK_URING;
  return WEFT_EINVAL;
}

namespace {
int open_error(int neg_errno) {
  if (neg_errno == -EMFILE || neg_errno == -ENFILE) return WEFT_EMFILE;
  return neg_errno == -ENOSPC ? WEFT_ENOSPC : WEFT_ENOMEM;  // the epoll watch limit, or memory
}
}  // namespace

int backend_open(Backend &b, int choice) {
#ifdef WEFT_HAVE_URING
  if (choice != BK_EPOLL) {
    b.kind = BK_URING;
    int e = epoll_open(b);
    if (e) return open_error(e);
    e = uring_open(b);
    if (e == 0) return 0;
    uring_close(b, false);
    epoll_close(b);
    // A forced io_uring never quietly becomes epoll; "auto" does, whatever
    // the reason (also out of fds: epoll needs one fewer).
    if (choice == BK_URING) {
      if (e == -EMFILE || e == -ENFILE) return WEFT_EMFILE;
      return e == -ENOMEM ? WEFT_ENOMEM : WEFT_ENOSYS;
    }
  }
#else
  if (choice == BK_URING) return WEFT_ENOSYS;  // built without liburing
#endif
  b.kind = BK_EPOLL;
  if (int e = epoll_open(b)) return open_error(e);
  return 0;
}

void backend_close(Backend &b, bool forked) {
#ifdef WEFT_HAVE_URING
  if (b.kind == BK_URING) uring_close(b, forked);
#else
  (void)forked;
#endif
  epoll_close(b);
}

int backend_fd(const Backend &b) {
#ifdef WEFT_HAVE_URING
  if (b.kind == BK_URING) return uring_fd(b);
#endif
  return b.epfd;
}

const char *backend_name(const Backend &b) { return b.kind == BK_URING ? "io_uring" : "epoll"; }

bool backend_owns_fd(const Backend &b, int fd) {
  if (fd == b.epfd || fd == b.wakefd) return true;
#ifdef WEFT_HAVE_URING
  if (b.kind == BK_URING && fd == uring_raw_fd(b)) return true;
#endif
  return false;
}

}  // namespace weft
