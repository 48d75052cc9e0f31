// test_backend.cc -- choosing a backend (weft.h, "backends"): names, the
// WEFT_BACKEND environment variable, the per-loop argument, the backend's
// name, and the backend fd an embedder polls, on each backend this machine
// can run. (The rest of the suite runs on either: WEFT_BACKEND=io_uring
// ctest ... runs it on io_uring.)
#include "weft_test.h"

#include <poll.h>
#include <stdlib.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

// Restores WEFT_BACKEND as the test found it.
class EnvGuard {
 public:
  EnvGuard() {
    const char *v = getenv("WEFT_BACKEND");
    had_ = v != nullptr;
    if (v) old_ = v;
  }
  ~EnvGuard() {
    if (had_)
      setenv("WEFT_BACKEND", old_.c_str(), 1);
    else
      unsetenv("WEFT_BACKEND");
  }

 private:
  bool had_ = false;
  std::string old_;
};

bool uring_usable() {
  weft_loop_t *l = nullptr;
  int rc = weft_loop_new_with(&l, "io_uring");
  if (rc == 0) weft_loop_free(l);
  EXPECT_TRUE(rc == 0 || rc == WEFT_ENOSYS) << weft_err_name(rc);
  return rc == 0;
}

std::vector<const char *> usable_backends() {
  std::vector<const char *> v{"epoll"};
  if (uring_usable()) v.push_back("io_uring");
  return v;
}

bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

}  // namespace

TEST(Backend, NamesChooseTheBackend) {
  weft_loop_t *l = nullptr;
  ASSERT_EQ(0, weft_loop_new_with(&l, "epoll"));
  EXPECT_STREQ("epoll", weft_loop_backend_name(l));
  ASSERT_EQ(0, weft_loop_free(l));

  ASSERT_EQ(0, weft_loop_new_with(&l, "auto"));
  const char *autoname = weft_loop_backend_name(l);
  EXPECT_TRUE(!std::strcmp(autoname, "epoll") || !std::strcmp(autoname, "io_uring")) << autoname;
  ASSERT_EQ(0, weft_loop_free(l));

  l = nullptr;
  int rc = weft_loop_new_with(&l, "io_uring");
  if (rc == 0) {
    EXPECT_STREQ("io_uring", weft_loop_backend_name(l));
    EXPECT_STREQ("io_uring", autoname) << "auto picks io_uring where it works";
    ASSERT_EQ(0, weft_loop_free(l));
  } else {
    EXPECT_EQ(WEFT_ENOSYS, rc) << "a forced io_uring that cannot work fails, never becomes epoll";
    EXPECT_EQ(nullptr, l);
    EXPECT_STREQ("epoll", autoname);
  }
}

TEST(Backend, BadNamesAndArguments) {
  weft_loop_t *l = nullptr;
  for (const char *bad : {"", "EPOLL", "uring", "io_uring ", "epoll\n", "select"}) {
    EXPECT_EQ(WEFT_EINVAL, weft_loop_new_with(&l, bad)) << '"' << bad << '"';
    EXPECT_EQ(nullptr, l);
  }
  EXPECT_EQ(WEFT_EINVAL, weft_loop_new_with(nullptr, "epoll"));
  EXPECT_STREQ("", weft_loop_backend_name(nullptr));
  EXPECT_STREQ("WEFT_ENOSYS", weft_err_name(WEFT_ENOSYS));
  EXPECT_STRNE("", weft_strerror(WEFT_ENOSYS));
}

TEST(Backend, EnvironmentIsReadAtCreationAndTheArgumentWins) {
  EnvGuard guard;
  weft_loop_t *l = nullptr;
  setenv("WEFT_BACKEND", "epoll", 1);
  ASSERT_EQ(0, weft_loop_new(&l));
  EXPECT_STREQ("epoll", weft_loop_backend_name(l));
  setenv("WEFT_BACKEND", "io_uring", 1);  // read at creation only
  EXPECT_STREQ("epoll", weft_loop_backend_name(l));
  ASSERT_EQ(0, weft_loop_free(l));

  setenv("WEFT_BACKEND", "nonsense", 1);
  l = nullptr;
  EXPECT_EQ(WEFT_EINVAL, weft_loop_new(&l));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_new_with(&l, nullptr));
  EXPECT_EQ(nullptr, l);
  ASSERT_EQ(0, weft_loop_new_with(&l, "epoll")) << "the argument wins over the environment";
  EXPECT_STREQ("epoll", weft_loop_backend_name(l));
  ASSERT_EQ(0, weft_loop_free(l));

  setenv("WEFT_BACKEND", "", 1);  // empty: auto
  ASSERT_EQ(0, weft_loop_new(&l));
  ASSERT_EQ(0, weft_loop_free(l));
  unsetenv("WEFT_BACKEND");  // unset: auto
  ASSERT_EQ(0, weft_loop_new(&l));
  ASSERT_EQ(0, weft_loop_free(l));

  if (uring_usable()) {
    setenv("WEFT_BACKEND", "io_uring", 1);
    ASSERT_EQ(0, weft_loop_new(&l));
    EXPECT_STREQ("io_uring", weft_loop_backend_name(l));
    ASSERT_EQ(0, weft_loop_free(l));
    setenv("WEFT_BACKEND", "epoll", 1);
    ASSERT_EQ(0, weft_loop_new_with(&l, "io_uring"));
    EXPECT_STREQ("io_uring", weft_loop_backend_name(l));
    ASSERT_EQ(0, weft_loop_free(l));
  }
}

// An embedder polls weft_loop_backend_fd and runs the loop with NOWAIT when
// it is readable: posts and fd readiness make it readable, every time (the
// io_uring backend's polls on its epoll set and eventfd are re-armed before
// weft returns), and it is not readable while nothing is pending.
TEST(Backend, EmbedderPollsTheBackendFd) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    ASSERT_EQ(0, weft_loop_new_with(&l, name));
    const int bfd = weft_loop_backend_fd(l);
    ASSERT_GE(bfd, 0);
    EXPECT_FALSE(readable_within(bfd, 0));

    int posted = 0;
    ASSERT_EQ(0, weft_loop_post(
                     l, [](weft_loop_t *, void *ud) { ++*static_cast<int *>(ud); }, &posted));
    ASSERT_TRUE(readable_within(bfd, 5000)) << "a post makes the backend fd readable";
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
    EXPECT_EQ(1, posted);

    int sv[2];
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    struct W {
      int fd;
      int fired = 0;
    } w{sv[0]};
    weft_fd_watch_t watch = 0;
    ASSERT_EQ(0, weft_fd_watch_start(
                     l, sv[0], WEFT_READABLE,
                     [](weft_loop_t *, weft_fd_watch_t, int events, void *ud) {
                       auto *w = static_cast<W *>(ud);
                       if (events & WEFT_READABLE) {
                         char c;
                         while (read(w->fd, &c, 1) == 1) {
                         }
                         w->fired++;
                       }
                     },
                     &w, &watch));
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // nothing ready yet
    EXPECT_FALSE(readable_within(bfd, 0));
    for (int round = 1; round <= 3; round++) {
      ASSERT_EQ(1, write(sv[1], "x", 1));
      ASSERT_TRUE(readable_within(bfd, 5000)) << "round " << round;
      // Some backends report in two steps (the ring, then the epoll set):
      // run until the watch fired, each run after the fd said readable.
      for (int i = 0; i < 4 && w.fired < round; i++) {
        ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
        if (w.fired < round) ASSERT_TRUE(readable_within(bfd, 5000)) << "round " << round;
      }
      EXPECT_EQ(round, w.fired);
    }
    ASSERT_EQ(0, weft_fd_watch_stop(l, watch));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[0]);
    close(sv[1]);
  }
}

// Loops on different backends live side by side in one process.
TEST(Backend, LoopsOfBothBackendsAtOnce) {
  std::vector<weft_loop_t *> loops;
  for (const char *name : usable_backends())
    for (int i = 0; i < 3; i++) {
      weft_loop_t *l = nullptr;
      ASSERT_EQ(0, weft_loop_new_with(&l, name));
      EXPECT_STREQ(name, weft_loop_backend_name(l));
      loops.push_back(l);
    }
  for (weft_loop_t *l : loops) {
    int fired = 0;
    weft_timer_t t;
    ASSERT_EQ(0, weft_timer_start(
                     l, 1000, 0, [](weft_loop_t *, weft_timer_t, void *ud) { ++*static_cast<int *>(ud); },
                     &fired, &t));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_EQ(1, fired);
  }
  for (weft_loop_t *l : loops) ASSERT_EQ(0, weft_loop_free(l));
}
