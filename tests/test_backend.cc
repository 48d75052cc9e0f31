// test_backend.cc -- choosing a backend (weft.h, "backends"): names, the
// WEFT_BACKEND environment variable, the per-loop argument, the backend's
// name, and the backend fd an embedder polls, on each backend this machine
// can run. (The rest of the suite runs on either: WEFT_BACKEND=io_uring
// ctest ... runs it on io_uring.)
#include "weft_test.h"

#include <poll.h>
#include <sys/resource.h>
#include <stdlib.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
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

// Under valgrind only epoll: memcheck cannot see the kernel fill buffers
// through io_uring (DESIGN.md's CI matrix runs no valgrind there).
bool under_valgrind() {
  const char *pre = getenv("LD_PRELOAD");
  return pre && std::strstr(pre, "valgrind");
}

std::vector<const char *> usable_backends() {
  std::vector<const char *> v{"epoll"};
  if (!under_valgrind() && uring_usable()) v.push_back("io_uring");
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
        if (w.fired < round) {
          ASSERT_TRUE(readable_within(bfd, 5000)) << "round " << round;
        }
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

// io_uring ties a request to the thread that submitted it. The loop's polls
// were submitted by a thread that has exited since; another thread then
// runs the loop: readiness and wakeups still arrive (on epoll, trivially).
TEST(BackendThreaded, LoopRunByAThreadThatOutlivesTheSubmitter) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    ASSERT_EQ(0, weft_loop_new_with(&l, name));
    int sv[2];
    ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    struct W {
      int fd;
      int fired = 0;
    } w{sv[0]};
    auto cb = [](weft_loop_t *loop, weft_fd_watch_t id, int events, void *ud) {
      auto *w = static_cast<W *>(ud);
      if (events & WEFT_READABLE) {
        char c;
        while (read(w->fd, &c, 1) == 1) {
        }
        w->fired++;
        weft_fd_watch_stop(loop, id);
      }
    };
    weft_fd_watch_t watch = 0;
    // Thread A starts the watch and runs the loop once: the ring's polls are
    // its requests. Then it exits.
    std::thread a([&] {
      ASSERT_EQ(0, weft_fd_watch_start(l, sv[0], WEFT_READABLE, cb, &w, &watch));
      ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
    });
    a.join();
    // Another thread makes the fd readable while this one waits in the loop.
    std::thread b([&] { ASSERT_EQ(1, write(sv[1], "x", 1)); });
    wt::Watchdog dog(l, 20 * wt::kSec);
    EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    b.join();
    EXPECT_FALSE(dog.fired) << "readiness after the submitting thread exited was lost";
    EXPECT_EQ(1, w.fired);
    // And a post from a third thread wakes it.
    int posted = 0;
    std::thread c([&] {
      ASSERT_EQ(0, weft_loop_post(
                       l, [](weft_loop_t *, void *ud) { ++*static_cast<int *>(ud); }, &posted));
    });
    c.join();
    EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_EQ(1, posted);
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[0]);
    close(sv[1]);
  }
}

// ------------------------------------------------ operations in the kernel
// On io_uring a recv on an owned socket is in the kernel (the ring) while
// it waits: these check the contracts that makes delicate, on each backend.

namespace {

// A task that recvs on fd until it gets a result <= 0 or `max` results;
// every result is recorded.
struct Reader {
  int fd;
  char buf[64];
  std::string data;
  std::vector<int> results;
  size_t max = 8;
  bool started = false;
  static int step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
    auto *r = static_cast<Reader *>(ud);
    if (r->started) {
      r->results.push_back(status);
      if (status > 0) r->data.append(r->buf, size_t(status));
      if (status <= 0 || r->results.size() >= r->max) return status;
    }
    r->started = true;
    return weft_await_recv(loop, self, r->fd, r->buf, sizeof r->buf);
  }
};

// Reads what fd holds now (non-blocking).
std::string drain(int fd) {
  std::string got;
  char b[65536];
  ssize_t n;
  while ((n = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0) got.append(b, size_t(n));
  return got;
}

// A loop on backend `name` and a socketpair whose sv[0] weft owns (adopted).
void loop_with_adopted_pair(const char *name, weft_loop_t **l, int sv[2]) {
  ASSERT_EQ(0, weft_loop_new_with(l, name));
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  ASSERT_EQ(0, weft_socket_adopt(*l, sv[0]));
}

}  // namespace

// Data arrives, then the task is cancelled before the loop looked: the bytes
// are never lost -- delivered by the await (the cancel then comes from the
// next one) or left in the socket for a later recv.
TEST(BackendOps, CancelRacingWithDataLosesNoBytes) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    Reader r{sv[0], {}, {}, {}};
    weft_task_t t = 0;
    ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &r, &t));
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // the recv waits (in the ring)
    ASSERT_EQ(5, write(sv[1], "hello", 5));
    ASSERT_EQ(0, weft_task_cancel(l, t));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    int res = 0;
    ASSERT_EQ(0, weft_task_result(l, t, &res));
    EXPECT_EQ(WEFT_ECANCELED, res);
    EXPECT_EQ(WEFT_ECANCELED, r.results.back());
    std::string rest;
    char b[16];
    ssize_t n;
    while ((n = read(sv[0], b, sizeof b)) > 0) rest.append(b, size_t(n));
    EXPECT_EQ("hello", r.data + rest) << "delivered: '" << r.data << "', left: '" << rest << "'";
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

// Cancel and timeout of a waiting recv resolve it only once the kernel let
// go of the buffer; the next recv gets the data sent afterwards.
TEST(BackendOps, CancelAndTimeoutOfAWaitingRecv) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    for (int how = 0; how < 2; how++) {
      Reader r{sv[0], {}, {}, {}};
      r.max = 1;
      weft_task_t t = 0;
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &r, &t));
      ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
      if (how == 0)
        ASSERT_EQ(0, weft_task_cancel(l, t));
      else
        ASSERT_EQ(0, weft_task_timeout(l, t, 1000));
      ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
      ASSERT_EQ(1u, r.results.size());
      EXPECT_EQ(how == 0 ? WEFT_ECANCELED : WEFT_ETIMEDOUT, r.results[0]);
      memset(r.buf, 'z', sizeof r.buf);
      ASSERT_EQ(3, write(sv[1], "abc", 3));
      EXPECT_EQ('z', r.buf[0]) << "the buffer is the caller's again";
      Reader r2{sv[0], {}, {}, {}};
      r2.max = 1;
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &r2, nullptr));
      ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
      EXPECT_EQ("abc", r2.data);
    }
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

// Close through weft with recvs waiting: they resolve WEFT_ECLOSED and the
// fd is closed; free with recvs waiting cancels them (no leak, no hang).
TEST(BackendOps, CloseAndFreeWithRecvsWaiting) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    Reader r{sv[0], {}, {}, {}};
    weft_task_t t = 0;
    ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &r, &t));
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    EXPECT_EQ(-1, fcntl(sv[0], F_GETFD)) << "closed";
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    ASSERT_EQ(1u, r.results.size());
    EXPECT_EQ(WEFT_ECLOSED, r.results[0]);
    close(sv[1]);

    // Many recvs waiting at free.
    std::vector<std::unique_ptr<Reader>> readers;
    std::vector<int> peers;
    for (int i = 0; i < 64; i++) {
      int p[2];
      ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p));
      ASSERT_EQ(0, weft_socket_adopt(l, p[0]));
      readers.push_back(std::unique_ptr<Reader>(new Reader{p[0], {}, {}, {}}));
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, readers.back().get(), nullptr));
      peers.push_back(p[0]);
      peers.push_back(p[1]);
    }
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
    ASSERT_EQ(0, weft_loop_free(l));
    for (auto &rd : readers) {
      ASSERT_EQ(1u, rd->results.size());
      EXPECT_EQ(WEFT_ECANCELED, rd->results[0]);
    }
    for (int fd : peers) close(fd);
  }
}

// ------------------------------------- data arrived, the step has not run
// The recv's data arrived in phase (6) and its task waits in the ready queue
// for phase (4) of the next iteration; meanwhile something else happens to
// it. On epoll the recv itself runs then, just before the step (it is "due":
// socket.cc, sock_try_due); on io_uring the kernel completed it already.
// Either way the contracts hold.

namespace {

// A loop on `name`, a Reader of sv[0] whose recv waits, then "hello" from
// the peer and one iteration that sees it: the task is ready, its step not run.
struct DataBeforeStep {
  weft_loop_t *l = nullptr;
  int sv[2] = {-1, -1};
  Reader r{-1, {}, {}, {}};
  weft_task_t t = 0;
  void start(const char *name) {
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    r.fd = sv[0];
    ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &r, &t));
    ASSERT_EQ(1, weft_loop_run(l, WEFT_RUN_NOWAIT));  // the recv waits
    ASSERT_EQ(WEFT_TASK_WAITING, weft_task_state(l, t));
    ASSERT_EQ(5, write(sv[1], "hello", 5));
    // io_uring: the staged recv goes in at the first wait, completes at the next.
    for (int i = 0; i < 3 && weft_task_state(l, t) == WEFT_TASK_WAITING; i++)
      ASSERT_EQ(1, weft_loop_run(l, WEFT_RUN_NOWAIT));
    ASSERT_EQ(WEFT_TASK_READY, weft_task_state(l, t));
    EXPECT_TRUE(r.results.empty()) << "the step has not run";
  }
  void end() {
    if (sv[0] >= 0) {
      EXPECT_EQ(0, weft_socket_close(l, sv[0]));
    }
    if (l) {
      EXPECT_EQ(0, weft_loop_free(l));
    }
    if (sv[1] >= 0) close(sv[1]);
  }
};

}  // namespace

// Cancelled or timed out before its step: the bytes are delivered, or left in
// the socket, never lost; the task ends with the interruption.
TEST(BackendOps, InterruptedAfterTheDataCameBeforeTheStep) {
  for (const char *name : usable_backends()) {
    for (int how = 0; how < 2; how++) {
      SCOPED_TRACE(std::string(name) + (how ? " timeout" : " cancel"));
      DataBeforeStep d;
      ASSERT_NO_FATAL_FAILURE(d.start(name));
      if (how == 0)
        ASSERT_EQ(0, weft_task_cancel(d.l, d.t));
      else
        ASSERT_EQ(0, weft_task_timeout(d.l, d.t, 1));
      ASSERT_EQ(0, weft_loop_run(d.l, WEFT_RUN_DEFAULT));
      const int code = how ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
      EXPECT_EQ(code, d.r.results.back());
      const std::string rest = drain(d.sv[0]);
      EXPECT_EQ("hello", d.r.data + rest) << "delivered '" << d.r.data << "', left '" << rest << "'";
      if (!strcmp(name, "epoll")) {
        EXPECT_EQ("hello", rest) << "the recv was due, not made";
      }
      d.end();
    }
  }
}

// Closed through weft before its step: WEFT_ECLOSED (or, on io_uring, the
// bytes the kernel delivered, and WEFT_ECLOSED or WEFT_EBADF from the next
// recv), and nothing touches the closed fd.
TEST(BackendOps, ClosedAfterTheDataCameBeforeTheStep) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    DataBeforeStep d;
    ASSERT_NO_FATAL_FAILURE(d.start(name));
    ASSERT_EQ(0, weft_socket_close(d.l, d.sv[0]));
    d.sv[0] = -1;
    ASSERT_EQ(0, weft_loop_run(d.l, WEFT_RUN_DEFAULT));
    ASSERT_FALSE(d.r.results.empty());
    if (d.r.results[0] > 0) {
      EXPECT_EQ("hello", d.r.data);
      EXPECT_LT(d.r.results.back(), 0);
    } else {
      EXPECT_EQ(std::vector<int>{WEFT_ECLOSED}, d.r.results);
    }
    if (!strcmp(name, "epoll")) {
      EXPECT_EQ(std::vector<int>{WEFT_ECLOSED}, d.r.results);
    }
    d.end();
  }
}

// Another reader took the bytes before the step (a plain read(2) on the fd):
// the task does not see an empty result; it waits on, and gets what the peer
// sends next.
TEST(BackendOps, DataTakenByAnotherReaderBeforeTheStep) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    DataBeforeStep d;
    d.r.max = 1;
    ASSERT_NO_FATAL_FAILURE(d.start(name));
    const std::string stolen = drain(d.sv[0]);
    ASSERT_GE(weft_loop_run(d.l, WEFT_RUN_NOWAIT), 0);
    if (stolen.empty()) {  // io_uring: the kernel had given them to the recv
      EXPECT_EQ("hello", d.r.data);
    } else {
      EXPECT_EQ("hello", stolen);
      EXPECT_TRUE(d.r.results.empty()) << "no step for a recv that got nothing";
      EXPECT_EQ(WEFT_TASK_WAITING, weft_task_state(d.l, d.t));
      ASSERT_EQ(4, write(d.sv[1], "more", 4));
      ASSERT_EQ(0, weft_loop_run(d.l, WEFT_RUN_DEFAULT));
      EXPECT_EQ("more", d.r.data);
    }
    d.end();
  }
}

// Freed before the step: the task is cancelled, nothing leaks, no byte is lost.
TEST(BackendOps, FreedAfterTheDataCameBeforeTheStep) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    DataBeforeStep d;
    ASSERT_NO_FATAL_FAILURE(d.start(name));
    ASSERT_EQ(0, weft_loop_free(d.l));
    d.l = nullptr;
    const std::string rest = drain(d.sv[0]);
    EXPECT_EQ("hello", d.r.data + rest);
    // Delivered (io_uring): the step ran, and its next await was cancelled.
    if (d.r.data.empty()) {
      EXPECT_EQ(std::vector<int>{WEFT_ECANCELED}, d.r.results);
    }
    close(d.sv[0]);
    d.sv[0] = -1;
    d.end();
  }
}

// Two recvs wait on one fd and more arrives than the first one's buffer
// holds: the first fills its buffer, the second gets the rest, in order.
TEST(BackendOps, TwoRecvsShareWhatArrivesInOrder) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    Reader a{sv[0], {}, {}, {}}, b{sv[0], {}, {}, {}};
    a.max = b.max = 1;
    ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &a, nullptr));
    ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &b, nullptr));
    ASSERT_EQ(1, weft_loop_run(l, WEFT_RUN_NOWAIT));
    std::string payload;
    for (int i = 0; i < 100; i++) payload += char('A' + i % 26);
    ASSERT_EQ(100, write(sv[1], payload.data(), payload.size()));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_EQ(std::vector<int>{int(sizeof a.buf)}, a.results);
    EXPECT_EQ(payload, a.data + b.data);
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

// Recvs queued on one fd (on io_uring all but the first wait behind it): a
// cancelled one leaves the queue and the next takes its place; close
// resolves every one of them WEFT_ECLOSED.
TEST(BackendOps, QueuedRecvsCancelledAndClosed) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    Reader rd[3] = {{sv[0], {}, {}, {}}, {sv[0], {}, {}, {}}, {sv[0], {}, {}, {}}};
    weft_task_t t[3];
    for (int i = 0; i < 3; i++) {
      rd[i].max = 1;
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &rd[i], &t[i]));
    }
    ASSERT_EQ(1, weft_loop_run(l, WEFT_RUN_NOWAIT));
    ASSERT_EQ(0, weft_task_cancel(l, t[1]));
    ASSERT_EQ(1, weft_loop_run(l, WEFT_RUN_NOWAIT));
    EXPECT_EQ(std::vector<int>{WEFT_ECANCELED}, rd[1].results);
    std::string payload(100, 'x');
    for (size_t i = 0; i < payload.size(); i++) payload[i] = char('a' + i % 26);
    ASSERT_EQ(100, write(sv[1], payload.data(), payload.size()));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_EQ(payload, rd[0].data + rd[2].data);
    EXPECT_EQ(std::vector<int>{int(sizeof rd[0].buf)}, rd[0].results);

    Reader more[4] = {{sv[0], {}, {}, {}}, {sv[0], {}, {}, {}}, {sv[0], {}, {}, {}},
                      {sv[0], {}, {}, {}}};
    for (auto &m : more) {
      m.max = 1;
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &m, nullptr));
    }
    ASSERT_EQ(1, weft_loop_run(l, WEFT_RUN_NOWAIT));
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    for (auto &m : more) EXPECT_EQ(std::vector<int>{WEFT_ECLOSED}, m.results);
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

// Two recvs wait on one fd; the data comes, and the first is cancelled or
// times out before its step: the second gets the bytes (the fd stays
// readable, and an edge-triggered registration reports no new edge for them).
TEST(BackendOps, SecondRecvGetsTheDataWhenTheFirstIsInterruptedBeforeItsStep) {
  for (const char *name : usable_backends()) {
    for (int how = 0; how < 2; how++) {
      SCOPED_TRACE(std::string(name) + (how ? " timeout" : " cancel"));
      DataBeforeStep d;
      Reader second{-1, {}, {}, {}};
      second.max = 1;
      d.r.max = 1;
      // d.start spawns the first reader: spawn the second right after it.
      ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &d.l, d.sv));
      d.r.fd = second.fd = d.sv[0];
      ASSERT_EQ(0, weft_task_spawn(d.l, &Reader::step, &d.r, &d.t));
      weft_task_t t2 = 0;
      ASSERT_EQ(0, weft_task_spawn(d.l, &Reader::step, &second, &t2));
      ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));  // both recvs wait
      ASSERT_EQ(5, write(d.sv[1], "hello", 5));
      for (int i = 0; i < 8 && weft_task_state(d.l, d.t) == WEFT_TASK_WAITING; i++)
        ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));
      ASSERT_EQ(WEFT_TASK_READY, weft_task_state(d.l, d.t)) << "second got '" << second.data << "'";
      if (how == 0) {
        ASSERT_EQ(0, weft_task_cancel(d.l, d.t));
      } else {
        ASSERT_EQ(0, weft_task_timeout(d.l, d.t, 1));
      }
      // Bounded: a lost wakeup must fail, not hang.
      for (int i = 0; i < 8 && second.results.empty(); i++) weft_loop_run(d.l, WEFT_RUN_NOWAIT);
      EXPECT_EQ("hello", d.r.data + second.data)
          << "first '" << d.r.data << "', second '" << second.data << "'";
      if (d.r.data.empty()) {
        EXPECT_EQ(std::vector<int>{5}, second.results);
      }
      if (second.results.empty()) { ASSERT_EQ(0, weft_task_cancel(d.l, t2)); }
      d.end();
    }
  }
}

namespace {
// Yields until `go`, then recvs once on fd (its results recorded).
struct LateReader {
  int fd = -1;
  bool go = false, asked = false;
  char buf[64] = {};
  std::string data;
  std::vector<int> results;
  static int step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
    auto *r = static_cast<LateReader *>(ud);
    if (r->asked) {
      r->results.push_back(status);
      if (status > 0) r->data.append(r->buf, size_t(status));
      return status;
    }
    if (!r->go) return weft_await_yield(loop, self);
    r->asked = true;
    return weft_await_recv(loop, self, r->fd, r->buf, sizeof r->buf);
  }
};
}  // namespace

// A recv that waited first gets the bytes first: one asked for by a step
// that runs between the data's arrival and the waiting recv's step does not
// overtake it.
TEST(BackendOps, LaterRecvDoesNotOvertakeTheWaitingOne) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    DataBeforeStep d;
    d.r.max = 1;
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &d.l, d.sv));
    d.r.fd = d.sv[0];
    LateReader late;
    late.fd = d.sv[0];
    // The late reader first: it is ahead of the waiting one in the ready queue.
    ASSERT_EQ(0, weft_task_spawn(d.l, &LateReader::step, &late, nullptr));
    ASSERT_EQ(0, weft_task_spawn(d.l, &Reader::step, &d.r, &d.t));
    ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));  // the recv waits
    ASSERT_EQ(WEFT_TASK_WAITING, weft_task_state(d.l, d.t));
    ASSERT_EQ(5, write(d.sv[1], "hello", 5));
    for (int i = 0; i < 3 && weft_task_state(d.l, d.t) == WEFT_TASK_WAITING; i++)
      ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));
    ASSERT_EQ(WEFT_TASK_READY, weft_task_state(d.l, d.t));
    late.go = true;  // its recv comes in the next phase (4), before d.t's step
    ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));
    EXPECT_EQ("hello", d.r.data) << "the later recv got '" << late.data << "'";
    ASSERT_EQ(4, write(d.sv[1], "more", 4));
    for (int i = 0; i < 8 && late.results.empty(); i++) weft_loop_run(d.l, WEFT_RUN_NOWAIT);
    EXPECT_EQ("more", late.data);
    d.end();
  }
}

namespace {
// On `go`: recvs on fd, then cancels `other` and gives itself a deadline
// that has passed (both in the one step); then records its one result.
struct CancellingReader {
  int fd = -1;
  weft_task_t other = 0;
  bool go = false, asked = false;
  char buf[64] = {};
  std::string data;
  std::vector<int> results;
  static int step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
    auto *r = static_cast<CancellingReader *>(ud);
    if (r->asked) {
      r->results.push_back(status);
      if (status > 0) r->data.append(r->buf, size_t(status));
      return status;
    }
    if (!r->go) return weft_await_yield(loop, self);
    r->asked = true;
    const int rc = weft_await_recv(loop, self, r->fd, r->buf, sizeof r->buf);
    EXPECT_EQ(0, weft_task_cancel(loop, r->other));
    EXPECT_EQ(0, weft_task_timeout(loop, self, 1));
    return rc;
  }
};
}  // namespace

// A step asks for a recv on an fd whose due recv it then cancels: its own
// recv is next in line for the bytes while its step still runs. The task is
// queued once, its state says so, and it resolves once.
TEST(BackendOps, StepCancelsTheDueRecvAheadOfItsOwn) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    DataBeforeStep d;
    d.r.max = 1;
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &d.l, d.sv));
    d.r.fd = d.sv[0];
    CancellingReader x;
    x.fd = d.sv[0];
    weft_task_t tx = 0;
    ASSERT_EQ(0, weft_task_spawn(d.l, &CancellingReader::step, &x, &tx));
    ASSERT_EQ(0, weft_task_spawn(d.l, &Reader::step, &d.r, &d.t));
    x.other = d.t;
    ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));
    ASSERT_EQ(5, write(d.sv[1], "hello", 5));
    for (int i = 0; i < 3 && weft_task_state(d.l, d.t) == WEFT_TASK_WAITING; i++)
      ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));
    ASSERT_EQ(WEFT_TASK_READY, weft_task_state(d.l, d.t));
    x.go = true;
    ASSERT_GE(weft_loop_run(d.l, WEFT_RUN_NOWAIT), 0);
    weft_loop_stats_t st{};
    st.size = sizeof st;
    ASSERT_EQ(0, weft_loop_stats(d.l, &st));
    const int sx = weft_task_state(d.l, tx);
    EXPECT_EQ(st.tasks_ready, (sx == WEFT_TASK_READY) + (weft_task_state(d.l, d.t) == WEFT_TASK_READY))
        << "x's state " << sx;
    for (int i = 0; i < 8 && weft_task_state(d.l, tx) != WEFT_TASK_DONE; i++)
      ASSERT_GE(weft_loop_run(d.l, WEFT_RUN_NOWAIT), 0);
    EXPECT_EQ(WEFT_TASK_DONE, weft_task_state(d.l, tx));
    ASSERT_EQ(1u, x.results.size()) << "one result, one step";
    EXPECT_TRUE(x.results[0] == 5 || x.results[0] == WEFT_ETIMEDOUT) << x.results[0];
    // io_uring: the kernel completed the cancelled recv (its bytes delivered).
    if (d.r.data.empty()) {
      EXPECT_EQ(std::vector<int>{WEFT_ECANCELED}, d.r.results);
    }
    EXPECT_EQ("hello", d.r.data + x.data + drain(d.sv[0]));
    EXPECT_EQ(0, weft_task_release(d.l, tx));
    d.end();
  }
}

// A watch is started on the fd while its recv is due (the registration
// turns level-triggered): the recv still gets the bytes, once, and the
// watch works; stopping it (edge-triggered again) loses nothing after.
TEST(BackendOps, WatchStartedWhileARecvIsDue) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    DataBeforeStep d;
    d.r.max = 2;
    ASSERT_NO_FATAL_FAILURE(d.start(name));
    int seen = 0;
    weft_fd_watch_t w = 0;
    ASSERT_EQ(0, weft_fd_watch_start(
                     d.l, d.sv[0], WEFT_READABLE,
                     [](weft_loop_t *, weft_fd_watch_t, int, void *ud) { ++*static_cast<int *>(ud); },
                     &seen, &w));
    for (int i = 0; i < 8 && d.r.results.empty(); i++)
      ASSERT_EQ(1, weft_loop_run(d.l, WEFT_RUN_NOWAIT));
    EXPECT_EQ(std::vector<int>{5}, d.r.results);
    EXPECT_EQ("hello", d.r.data);
    ASSERT_EQ(0, weft_fd_watch_stop(d.l, w));
    ASSERT_EQ(4, write(d.sv[1], "more", 4));
    for (int i = 0; i < 8 && d.r.results.size() < 2; i++) weft_loop_run(d.l, WEFT_RUN_NOWAIT);
    EXPECT_EQ("hellomore", d.r.data);
    d.end();
  }
}

// More completions at once than the io_uring backend reaps per wait (1,024)
// and than its completion queue holds (4,096): the rest wait in the kernel's
// overflow list and nothing is lost.
TEST(BackendOps, ManyCompletionsAtOnceLoseNothing) {
  constexpr int kPairs = 4500;
  struct rlimit lim;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &lim));
  const rlim_t need = 2 * kPairs + 64;
  if (lim.rlim_cur < need) {
    if (lim.rlim_max < need) GTEST_SKIP() << "needs " << need << " fds";
    struct rlimit more = lim;
    more.rlim_cur = need;
    ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &more));
  }
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    ASSERT_EQ(0, weft_loop_new_with(&l, name));
    std::vector<std::unique_ptr<Reader>> readers;
    std::vector<int> peers;
    for (int i = 0; i < kPairs; i++) {
      int p[2];
      ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p));
      ASSERT_EQ(0, weft_socket_adopt(l, p[0]));
      readers.push_back(std::unique_ptr<Reader>(new Reader{p[0], {}, {}, {}}));
      readers.back()->max = 1;
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, readers.back().get(), nullptr));
      peers.push_back(p[1]);
    }
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // every recv waits
    for (int fd : peers) ASSERT_EQ(1, write(fd, "x", 1));
    wt::Watchdog dog(l, 60 * wt::kSec);
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_FALSE(dog.fired);
    int got = 0;
    for (auto &r : readers) got += r->data == "x";
    EXPECT_EQ(kPairs, got);
    for (auto &r : readers) EXPECT_EQ(0, weft_socket_close(l, r->fd));
    ASSERT_EQ(0, weft_loop_free(l));
    for (int fd : peers) close(fd);
  }
  setrlimit(RLIMIT_NOFILE, &lim);
}

// A recv submitted to the ring by a thread that then exits (Go parks and
// retires OS threads): another thread runs the loop; the recv completes with
// the data (the kernel must not cancel it with its submitter).
TEST(BackendThreaded, RecvSubmittedByAThreadThatExits) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    Reader r{sv[0], {}, {}, {}};
    r.max = 1;
    std::thread a([&] {
      ASSERT_EQ(0, weft_task_spawn(l, &Reader::step, &r, nullptr));
      ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // submits the recv
    });
    a.join();
    ASSERT_EQ(4, write(sv[1], "ping", 4));
    wt::Watchdog dog(l, 20 * wt::kSec);
    EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_FALSE(dog.fired);
    ASSERT_EQ(1u, r.results.size());
    EXPECT_EQ(4, r.results[0]) << weft_err_name(r.results[0]);
    EXPECT_EQ("ping", r.data);
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

namespace {

// A task that sends `data` on fd once, recording the result and *sent.
struct Sender {
  int fd;
  std::string data;
  int result = 1;
  size_t sent = 12345;
  bool started = false;
  static int step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
    auto *s = static_cast<Sender *>(ud);
    if (s->started) {
      s->result = status;
      return status;
    }
    s->started = true;
    return weft_await_send(loop, self, s->fd, s->data.data(), s->data.size(), &s->sent);
  }
};

// Reads fd (blocking) until `want` bytes came or end of stream.
std::string read_all(int fd, size_t want) {
  std::string got;
  char b[65536];
  while (got.size() < want) {
    ssize_t n = read(fd, b, sizeof b);
    if (n <= 0) break;
    got.append(b, size_t(n));
  }
  return got;
}

}  // namespace

// Several tasks send large buffers on one socket at once: each send's bytes
// arrive whole and in the order the sends were made (on io_uring one send
// per fd is in the ring, the others wait behind it).
TEST(BackendOps, ConcurrentSendsKeepTheirOrder) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    std::vector<std::unique_ptr<Sender>> senders;
    std::string want;
    for (int i = 0; i < 6; i++) {
      senders.push_back(std::unique_ptr<Sender>(new Sender{sv[0], std::string(300000, char('a' + i))}));
      want += senders.back()->data;
      ASSERT_EQ(0, weft_task_spawn(l, &Sender::step, senders.back().get(), nullptr));
    }
    const int peer = sv[1];
    ASSERT_EQ(0, fcntl(peer, F_SETFL, 0));  // blocking reads
    std::string got;
    std::thread reader([&] { got = read_all(peer, want.size()); });
    wt::Watchdog dog(l, 60 * wt::kSec);
    EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    reader.join();
    EXPECT_FALSE(dog.fired);
    for (auto &s : senders) {
      EXPECT_EQ(0, s->result) << weft_err_name(s->result);
      EXPECT_EQ(s->data.size(), s->sent);
    }
    EXPECT_TRUE(got == want) << "stream differs: " << got.size() << " of " << want.size();
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

// A send blocked on a full socket is cancelled (or times out) part way:
// *sent says how many bytes went, and exactly those arrive; the send queued
// behind it then goes whole, right after them.
TEST(BackendOps, StoppedSendReportsWhatWentAndTheNextOneFollows) {
  for (const char *name : usable_backends()) {
    for (int how = 0; how < 2; how++) {
      SCOPED_TRACE(std::string(name) + (how ? " timeout" : " cancel"));
      weft_loop_t *l = nullptr;
      int sv[2];
      ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
      Sender a{sv[0], std::string(4 << 20, 'A')};
      Sender b{sv[0], std::string(1000, 'B')};
      weft_task_t ta = 0;
      ASSERT_EQ(0, weft_task_spawn(l, &Sender::step, &a, &ta));
      ASSERT_EQ(0, weft_task_spawn(l, &Sender::step, &b, nullptr));
      ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // both wait: nobody reads
      if (how == 0)
        ASSERT_EQ(0, weft_task_cancel(l, ta));
      else
        ASSERT_EQ(0, weft_task_timeout(l, ta, 1000));
      while (a.result == 1) ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // 1 us: soon
      EXPECT_EQ(how == 0 ? WEFT_ECANCELED : WEFT_ETIMEDOUT, a.result);
      EXPECT_GT(a.sent, 0u);
      EXPECT_LT(a.sent, a.data.size());
      const size_t a_sent = a.sent;
      ASSERT_EQ(0, fcntl(sv[1], F_SETFL, 0));
      std::string got;
      std::thread reader([&] { got = read_all(sv[1], a_sent + b.data.size()); });
      wt::Watchdog dog(l, 60 * wt::kSec);
      EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
      reader.join();
      EXPECT_FALSE(dog.fired);
      EXPECT_EQ(0, b.result) << weft_err_name(b.result);
      EXPECT_EQ(b.data.size(), b.sent);
      EXPECT_TRUE(got == std::string(a_sent, 'A') + b.data)
          << "got " << got.size() << " bytes for " << a_sent << " + " << b.data.size();
      ASSERT_EQ(0, weft_socket_close(l, sv[0]));
      ASSERT_EQ(0, weft_loop_free(l));
      close(sv[1]);
    }
  }
}

// Close through weft with a send blocked part way and one queued behind it:
// both resolve WEFT_ECLOSED, the first with the count that went (which the
// peer reads), the second with 0.
TEST(BackendOps, CloseWithSendsWaiting) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    Sender a{sv[0], std::string(4 << 20, 'A')};
    Sender b{sv[0], std::string(1000, 'B')};
    ASSERT_EQ(0, weft_task_spawn(l, &Sender::step, &a, nullptr));
    ASSERT_EQ(0, weft_task_spawn(l, &Sender::step, &b, nullptr));
    ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_EQ(WEFT_ECLOSED, a.result) << weft_err_name(a.result);
    EXPECT_EQ(WEFT_ECLOSED, b.result) << weft_err_name(b.result);
    EXPECT_GT(a.sent, 0u);
    EXPECT_EQ(0u, b.sent);
    EXPECT_EQ(a.sent, drain(sv[1]).size());
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}

// A send submitted to the ring by a thread that then exits, while the
// socket is full: the kernel cancels it with its submitter; the loop, run by
// another thread, submits the rest again and every byte arrives in order.
TEST(BackendThreaded, SendSubmittedByAThreadThatExits) {
  for (const char *name : usable_backends()) {
    SCOPED_TRACE(name);
    weft_loop_t *l = nullptr;
    int sv[2];
    ASSERT_NO_FATAL_FAILURE(loop_with_adopted_pair(name, &l, sv));
    std::string data(2 << 20, 0);
    for (size_t i = 0; i < data.size(); i++) data[i] = char(i * 7 / 3);
    Sender s{sv[0], data};
    std::thread a([&] {
      ASSERT_EQ(0, weft_task_spawn(l, &Sender::step, &s, nullptr));
      ASSERT_GE(weft_loop_run(l, WEFT_RUN_NOWAIT), 0);  // submits the send
    });
    a.join();
    ASSERT_EQ(0, fcntl(sv[1], F_SETFL, 0));
    std::string got;
    std::thread reader([&] { got = read_all(sv[1], data.size()); });
    wt::Watchdog dog(l, 60 * wt::kSec);
    EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    reader.join();
    EXPECT_FALSE(dog.fired);
    EXPECT_EQ(0, s.result) << weft_err_name(s.result);
    EXPECT_EQ(data.size(), s.sent);
    EXPECT_TRUE(got == data) << "got " << got.size() << " of " << data.size();
    ASSERT_EQ(0, weft_socket_close(l, sv[0]));
    ASSERT_EQ(0, weft_loop_free(l));
    close(sv[1]);
  }
}
