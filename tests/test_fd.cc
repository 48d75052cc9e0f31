// fd watches and fd awaits: arguments and bad fds, level triggering, only
// requested events reported, many watchers on one fd, modify/stop from the
// own callback, hangup/error, fd numbers reused after close.
#include <climits>
#include <cstdio>

#include "weft_test.h"

using namespace wt;

namespace {

class Fd : public LoopTest {};

// fds that epoll refuses: closed, never opened, a regular file, a directory.
struct BadFds {
  int closed, file, dir;
  FILE *tmp;
  BadFds() {
    int p[2];
    EXPECT_EQ(0, pipe(p));
    ::close(p[0]);
    ::close(p[1]);
    closed = p[0];
    tmp = tmpfile();
    file = fileno(tmp);
    dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  ~BadFds() {
    fclose(tmp);
    ::close(dir);
  }
  std::vector<int> all() const { return {-1, INT_MIN, closed, file, dir, 1 << 20, INT_MAX}; }
};

const int kBadEvents[] = {0, WEFT_HANGUP, WEFT_ERROR, WEFT_READABLE | WEFT_HANGUP,
                          WEFT_WRITABLE | WEFT_ERROR, 16, -1, INT_MIN, INT_MAX};

TEST_F(Fd, WatchStartBadArguments) {
  Pipe p;
  WatchBox b{[](weft_fd_watch_t, int) {}, 0};
  weft_fd_watch_t w = 0;
  EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_start(loop, p.r, WEFT_READABLE, nullptr, &b, &w));
  EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_start(loop, p.r, WEFT_READABLE, &WatchBox::tramp, &b, nullptr));
  for (int ev : kBadEvents)
    EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_start(loop, p.r, ev, &WatchBox::tramp, &b, &w)) << ev;
  BadFds bad;
  for (int fd : bad.all())
    EXPECT_EQ(WEFT_EBADF, weft_fd_watch_start(loop, fd, WEFT_READABLE, &WatchBox::tramp, &b, &w))
        << "fd " << fd;
  EXPECT_EQ(0, w) << "out untouched on error";
  EXPECT_EQ(0, stats(loop).fd_watches_active);
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, b.calls);
}

TEST_F(Fd, TheLoopsOwnBackendFdIsRefused) {
  const int bfd = weft_loop_backend_fd(loop);
  WatchBox b{[](weft_fd_watch_t, int) {}, 0};
  weft_fd_watch_t w = 0;
  EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_start(loop, bfd, WEFT_READABLE, &WatchBox::tramp, &b, &w));
  int rc = 0;
  spawn([&](weft_task_t self, int, int) {
    rc = weft_await_fd(loop, self, bfd, WEFT_READABLE);
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, rc);
}

TEST_F(Fd, AwaitFdBadArgumentsArmNothing) {
  Pipe p;
  BadFds bad;
  std::vector<std::pair<int, int>> got;  // (expected, actual)
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step > 0) return status;
    for (int ev : kBadEvents) got.emplace_back(WEFT_EINVAL, weft_await_fd(loop, self, p.r, ev));
    for (int fd : bad.all())
      got.emplace_back(WEFT_EBADF, weft_await_fd(loop, self, fd, WEFT_READABLE));
    return weft_await_fd(loop, self, p.w, WEFT_WRITABLE);  // nothing was armed
  });
  EXPECT_EQ(0, run());
  for (auto &g : got) EXPECT_EQ(g.first, g.second);
  EXPECT_EQ(WEFT_WRITABLE, result(t));
}

TEST_F(Fd, ReadableIsLevelTriggered) {
  Pipe p;
  p.put();
  std::vector<int64_t> iters;
  std::vector<int> evs;
  weft_fd_watch_t w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t self, int ev) {
    iters.push_back(stat_iterations(loop));
    evs.push_back(ev);
    if (iters.size() == 4) weft_fd_watch_stop(loop, self);  // never read: still ready
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(4u, iters.size());
  for (size_t i = 1; i < iters.size(); i++) EXPECT_EQ(iters[i - 1] + 1, iters[i]);
  for (int ev : evs) EXPECT_EQ(WEFT_READABLE, ev);
  EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_stop(loop, w));
}

TEST_F(Fd, NotReadyMeansNotCalledAndReadingStopsIt) {
  Pipe p;
  int calls = 0;
  weft_fd_watch_t w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t, int) {
    calls++;
    p.drain();
  });
  for (int i = 0; i < 3; i++) EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, calls);
  p.put();
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, calls);
  for (int i = 0; i < 3; i++) EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, calls) << "drained: no longer ready";
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(0, run());
}

TEST_F(Fd, OnlyRequestedEventsAreReported) {
  SockPair s;
  std::vector<int> r_evs, w_evs;
  weft_fd_watch_t wr = watch(s.a, WEFT_READABLE, [&](weft_fd_watch_t, int ev) { r_evs.push_back(ev); });
  weft_fd_watch_t ww = watch(s.a, WEFT_WRITABLE, [&](weft_fd_watch_t, int ev) { w_evs.push_back(ev); });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_TRUE(r_evs.empty()) << "writable only: the read watch hears nothing";
  ASSERT_EQ(1u, w_evs.size());
  EXPECT_EQ(WEFT_WRITABLE, w_evs[0]);
  ASSERT_EQ(1, ::write(s.b, "x", 1));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(1u, r_evs.size());
  EXPECT_EQ(WEFT_READABLE, r_evs[0]);
  ASSERT_EQ(2u, w_evs.size());
  EXPECT_EQ(WEFT_WRITABLE, w_evs[1]);
  weft_fd_watch_stop(loop, wr);
  weft_fd_watch_stop(loop, ww);
}

TEST_F(Fd, WatchersAndAwaitsShareOneFdForReadAndWriteAtOnce) {
  SockPair s;
  std::vector<int> ev1, ev2, ev3;
  weft_fd_watch_t w1 = 0, w2 = 0, w3 = 0;
  w1 = watch(s.a, WEFT_READABLE, [&](weft_fd_watch_t self, int ev) {
    ev1.push_back(ev);
    weft_fd_watch_stop(loop, self);
  });
  w2 = watch(s.a, WEFT_READABLE, [&](weft_fd_watch_t self, int ev) {
    ev2.push_back(ev);
    weft_fd_watch_stop(loop, self);
  });
  w3 = watch(s.a, WEFT_WRITABLE, [&](weft_fd_watch_t self, int ev) {
    ev3.push_back(ev);
    weft_fd_watch_stop(loop, self);
  });
  auto awaiter = [&](int events) {
    return [&, events](weft_task_t self, int status, int step) {
      return step == 0 ? weft_await_fd(loop, self, s.a, events) : status;
    };
  };
  weft_task_t tr1 = spawn(awaiter(WEFT_READABLE));
  weft_task_t tr2 = spawn(awaiter(WEFT_READABLE));
  weft_task_t tw = spawn(awaiter(WEFT_WRITABLE));
  weft_task_t trw = spawn(awaiter(WEFT_READABLE | WEFT_WRITABLE));
  ASSERT_EQ(1, ::write(s.b, "x", 1));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{WEFT_READABLE}), ev1);
  EXPECT_EQ((std::vector<int>{WEFT_READABLE}), ev2);
  EXPECT_EQ((std::vector<int>{WEFT_WRITABLE}), ev3);
  EXPECT_EQ(WEFT_READABLE, result(tr1));
  EXPECT_EQ(WEFT_READABLE, result(tr2));
  EXPECT_EQ(WEFT_WRITABLE, result(tw));
  EXPECT_EQ(WEFT_READABLE | WEFT_WRITABLE, result(trw));
  (void)w1;
  (void)w2;
  (void)w3;
}

TEST_F(Fd, ReaderWaitsWhileWriterIsToldOnTheSameFd) {
  SockPair s;
  weft_task_t reader = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_fd(loop, self, s.a, WEFT_READABLE) : status;
  });
  int64_t writer_it = -1;
  weft_task_t writer = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_fd(loop, self, s.a, WEFT_WRITABLE);
    writer_it = stat_iterations(loop);
    return status;
  });
  for (int i = 0; i < 3; i++) EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(WEFT_WRITABLE, result(writer));
  EXPECT_EQ(WEFT_TASK_WAITING, state(reader));
  ASSERT_EQ(1, ::write(s.b, "x", 1));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_READABLE, result(reader));
}

TEST_F(Fd, ModifyChangesEventsAndRejectsBadOnesKeepingTheOld) {
  SockPair s;
  std::vector<int> evs;
  weft_fd_watch_t w = watch(s.a, WEFT_READABLE, [&](weft_fd_watch_t, int ev) { evs.push_back(ev); });
  for (int ev : kBadEvents) EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_modify(loop, w, ev)) << ev;
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_TRUE(evs.empty()) << "still READABLE only";
  EXPECT_EQ(0, weft_fd_watch_modify(loop, w, WEFT_WRITABLE));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ((std::vector<int>{WEFT_WRITABLE}), evs);
  EXPECT_EQ(0, weft_fd_watch_modify(loop, w, WEFT_READABLE));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1u, evs.size()) << "back to READABLE: not called";
  ASSERT_EQ(1, ::write(s.b, "x", 1));
  EXPECT_EQ(0, weft_fd_watch_modify(loop, w, WEFT_READABLE | WEFT_WRITABLE));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(2u, evs.size());
  EXPECT_EQ(WEFT_READABLE | WEFT_WRITABLE, evs[1]);
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
}

TEST_F(Fd, ModifyAndStopFromOwnCallback) {
  SockPair s;
  std::vector<int> evs;
  weft_fd_watch_t w = watch(s.a, WEFT_WRITABLE, [&](weft_fd_watch_t self, int ev) {
    evs.push_back(ev);
    if (evs.size() == 1) {
      EXPECT_EQ(0, weft_fd_watch_modify(loop, self, WEFT_READABLE));
      post([&] { ASSERT_EQ(1, ::write(s.b, "x", 1)); });
    } else {
      EXPECT_EQ(0, weft_fd_watch_stop(loop, self));
      EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_stop(loop, self));
    }
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{WEFT_WRITABLE, WEFT_READABLE}), evs);
  EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_modify(loop, w, WEFT_READABLE));
}

TEST_F(Fd, CallbackStopsTheOtherWatchOnTheSameFd) {
  Pipe p;
  p.put();
  weft_fd_watch_t w1 = 0, w2 = 0;
  int calls = 0;
  auto cb = [&](weft_fd_watch_t self, int) {
    calls++;
    EXPECT_EQ(0, weft_fd_watch_stop(loop, self == w1 ? w2 : w1));
    EXPECT_EQ(0, weft_fd_watch_stop(loop, self));
  };
  w1 = watch(p.r, WEFT_READABLE, cb);
  w2 = watch(p.r, WEFT_READABLE, cb);
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, calls) << "the stopped watch is not called later in the same dispatch";
}

TEST_F(Fd, CallbackStartsAnotherWatchOnTheSameFd) {
  Pipe p;
  p.put();
  int first = 0, second = 0;
  watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    first++;
    weft_fd_watch_stop(loop, self);
    watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t s2, int) {
      second++;
      weft_fd_watch_stop(loop, s2);
    });
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, first);
  EXPECT_EQ(1, second);
}

TEST_F(Fd, HangupAndErrorAreReportedUnasked) {
  Pipe p1, p2;
  int r_ev = 0, w_ev = 0;
  watch(p1.r, WEFT_READABLE, [&](weft_fd_watch_t self, int ev) {
    r_ev = ev;
    weft_fd_watch_stop(loop, self);
  });
  watch(p2.w, WEFT_WRITABLE, [&](weft_fd_watch_t self, int ev) {
    w_ev = ev;
    weft_fd_watch_stop(loop, self);
  });
  p1.close_w();  // reader sees hangup
  p2.close_r();  // writer sees an error
  EXPECT_EQ(0, run());
  EXPECT_TRUE(r_ev & WEFT_HANGUP) << r_ev;
  EXPECT_TRUE(w_ev & WEFT_ERROR) << w_ev;
  EXPECT_FALSE(r_ev & WEFT_WRITABLE);
}

TEST_F(Fd, AwaitSeesHangup) {
  Pipe p;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_fd(loop, self, p.r, WEFT_READABLE) : status;
  });
  p.close_w();
  EXPECT_EQ(0, run());
  EXPECT_GT(result(t), 0);
  EXPECT_TRUE(result(t) & WEFT_HANGUP);
}

TEST_F(Fd, WatchKeepsTheLoopAliveUntilStopped) {
  Pipe p;
  weft_fd_watch_t w = watch(p.r, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  EXPECT_EQ(1, stats(loop).fd_watches_active);
  timer(1 * kMs, 0, [&](weft_timer_t) { weft_fd_watch_stop(loop, w); });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, stats(loop).fd_watches_active);
}

TEST_F(Fd, ModifyAfterTheFdWasClosedIsEbadf) {
  Pipe p;
  int calls = 0;
  weft_fd_watch_t w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t, int) { calls++; });
  p.close_r();
  EXPECT_EQ(WEFT_EBADF, weft_fd_watch_modify(loop, w, WEFT_READABLE | WEFT_WRITABLE));
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, calls);
}

// A task awaits an fd, closes it when woken and awaits a new fd that got the
// same number: the new fd must really be registered with epoll.
TEST_F(Fd, AwaitAnFdWhoseNumberWasReusedAfterClose) {
  auto *p1 = new Pipe;
  Pipe *p2 = nullptr;
  const int num = p1->r;
  p1->put();
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_fd(loop, self, p1->r, WEFT_READABLE);
    if (step == 1) {
      delete p1;  // closes both ends
      p2 = new Pipe;
      EXPECT_EQ(num, p2->r) << "the lowest free number is reused";
      post([&] { p2->put(); });
      return weft_await_fd(loop, self, p2->r, WEFT_READABLE);
    }
    return status;
  });
  {
    Watchdog wd(loop, 5 * kSec);
    EXPECT_EQ(0, run());
    EXPECT_FALSE(wd.fired) << "the task waits forever on the reused fd number";
  }
  if (state(t) == WEFT_TASK_DONE) {
    EXPECT_EQ(WEFT_READABLE, result(t));
  }
  weft_task_cancel(loop, t);
  run();
  delete p2;
}

// The same through watches: stop, close, reopen with the same number, watch.
TEST_F(Fd, WatchAnFdWhoseNumberWasReusedAfterStopAndClose) {
  auto *p1 = new Pipe;
  const int num = p1->r;
  int calls1 = 0, calls2 = 0;
  weft_fd_watch_t w1 = watch(p1->r, WEFT_READABLE, [&](weft_fd_watch_t, int) { calls1++; });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w1));
  delete p1;
  Pipe p2;
  ASSERT_EQ(num, p2.r);
  p2.put();
  weft_fd_watch_t w2 = 0;
  w2 = watch(p2.r, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    calls2++;
    weft_fd_watch_stop(loop, self);
  });
  {
    Watchdog wd(loop, 5 * kSec);
    EXPECT_EQ(0, run());
    EXPECT_FALSE(wd.fired) << "the watch on the reused fd number never fires";
  }
  EXPECT_EQ(0, calls1);
  EXPECT_EQ(1, calls2);
  weft_fd_watch_stop(loop, w2);
}

// An fd awaited, then closed: awaiting its number again is EBADF, even while
// the old registration's removal is still deferred.
TEST_F(Fd, AwaitAClosedFdAfterAnAwaitOnItIsEbadf) {
  Pipe p;
  p.put();
  int rc = 0;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_fd(loop, self, p.r, WEFT_READABLE);
    const int num = p.r;
    p.close_both();
    rc = weft_await_fd(loop, self, num, WEFT_READABLE);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EBADF, rc);
  EXPECT_EQ(WEFT_READABLE, result(t));
}

TEST_F(Fd, PingPongOverASocketpair) {
  SockPair s;
  const int rounds = 500;
  int got_a = 0, got_b = 0;
  auto player = [&](int fd, bool serve, int *got) {
    return [&, fd, serve, got](weft_task_t self, int status, int step) {
      if (status < 0) return status;
      if (step == 0 && serve) {
        EXPECT_EQ(1, ::write(fd, "p", 1));
        return weft_await_fd(loop, self, fd, WEFT_READABLE);
      }
      if (step == 0) return weft_await_fd(loop, self, fd, WEFT_READABLE);
      char c;
      EXPECT_EQ(1, ::read(fd, &c, 1));
      if (++*got == rounds) {
        if (!serve) {
          EXPECT_EQ(1, ::write(fd, "p", 1));
        }
        return 0;
      }
      EXPECT_EQ(1, ::write(fd, "p", 1));
      return weft_await_fd(loop, self, fd, WEFT_READABLE);
    };
  };
  weft_task_t a = spawn(player(s.a, true, &got_a));
  weft_task_t b = spawn(player(s.b, false, &got_b));
  EXPECT_EQ(0, run());
  EXPECT_EQ(rounds, got_a);
  EXPECT_EQ(rounds, got_b);
  EXPECT_EQ(0, result(a));
  EXPECT_EQ(0, result(b));
}

TEST_F(Fd, ManyFdsManyAwaits) {
  const int n = 300;
  std::vector<std::unique_ptr<SockPair>> socks;
  std::vector<weft_task_t> ids;
  for (int i = 0; i < n; i++) {
    socks.emplace_back(new SockPair);
    int fd = socks.back()->a;
    ids.push_back(spawn([&, fd](weft_task_t self, int status, int step) {
      return step == 0 ? weft_await_fd(loop, self, fd, WEFT_READABLE) : status;
    }));
  }
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  for (int i = n - 1; i >= 0; i--) ASSERT_EQ(1, ::write(socks[i]->b, "x", 1));
  EXPECT_EQ(0, run());
  for (weft_task_t t : ids) EXPECT_EQ(WEFT_READABLE, result(t));
}

}  // namespace
