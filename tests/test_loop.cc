// The loop: new/free, options, run modes, stop, now, stats, logger,
// embedding (backend fd, next timeout), iteration order.
#include <poll.h>
#include <sys/resource.h>

#include <climits>
#include <cstring>
#include <string>

#include "weft_test.h"

using namespace wt;

namespace {

// ------------------------------------------------------------- new / free

TEST(Loop, NewNullOut) { EXPECT_EQ(WEFT_EINVAL, weft_loop_new(nullptr)); }

TEST(Loop, FreeNull) { EXPECT_EQ(WEFT_EINVAL, weft_loop_free(nullptr)); }

TEST(Loop, NewFreeLeavesNoFds) {
  const int before = count_open_fds();
  for (int i = 0; i < 50; i++) {
    weft_loop_t *l = nullptr;
    ASSERT_EQ(0, weft_loop_new(&l));
    ASSERT_EQ(0, weft_loop_free(l));
  }
  EXPECT_EQ(before, count_open_fds());
}

// Out of fds: weft_loop_new fails with WEFT_EMFILE, whether the epoll fd or
// the eventfd is the one refused, and leaks nothing.
TEST(Loop, NewWithoutFreeFdsIsEmfile) {
  struct rlimit old;
  ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
  for (int spare = 0; spare < 2; spare++) {
    const int before = count_open_fds();
    struct rlimit lim = old;
    lim.rlim_cur = 256;
    ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
    std::vector<int> fillers;
    for (;;) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fillers.push_back(fd);
    }
    for (int i = 0; i < spare && !fillers.empty(); i++) {
      ::close(fillers.back());
      fillers.pop_back();
    }
    weft_loop_t *l = nullptr;
    const int rc = weft_loop_new(&l);
    for (int fd : fillers) ::close(fd);
    ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
    EXPECT_EQ(WEFT_EMFILE, rc) << spare << " fd(s) left";
    EXPECT_EQ(nullptr, l);
    if (rc == 0) weft_loop_free(l);
    EXPECT_EQ(before, count_open_fds()) << "nothing leaked";
  }
}

TEST(Loop, FdsItOpensAreCloexec) {
  const int before = count_open_fds();
  weft_loop_t *l = nullptr;
  ASSERT_EQ(0, weft_loop_new(&l));
  int opened = 0, cloexec = 0;
  for (int fd = 0; fd < 4096; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) continue;
    opened++;
    cloexec += (fl & FD_CLOEXEC) != 0;
  }
  const bool uring = std::strcmp(weft_loop_backend_name(l), "io_uring") == 0;
  EXPECT_EQ(before + (uring ? 3 : 2), opened) << "an epoll fd and an eventfd (and the ring)";
  EXPECT_GE(cloexec, uring ? 3 : 2);
  int bfd = weft_loop_backend_fd(l);
  ASSERT_GE(bfd, 0);
  EXPECT_TRUE(fcntl(bfd, F_GETFD) & FD_CLOEXEC);
  ASSERT_EQ(0, weft_loop_free(l));
  EXPECT_EQ(-1, fcntl(bfd, F_GETFD)) << "the loop's fds are closed by free";
}

TEST(Loop, FreeNeverRunLoop) {
  weft_loop_t *l = nullptr;
  ASSERT_EQ(0, weft_loop_new(&l));
  EXPECT_EQ(0, weft_loop_free(l));
}

// ---------------------------------------------------------------- options

TEST(Loop, SetOptionBadInput) {
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_option(nullptr, WEFT_OPT_THREAD_POOL_SIZE, 4));
  weft_loop_t *l = nullptr;
  ASSERT_EQ(0, weft_loop_new(&l));
  for (int opt : {0, 3, -1, 99, INT_MIN, INT_MAX})
    EXPECT_EQ(WEFT_EINVAL, weft_loop_set_option(l, opt, 1)) << opt;
  for (int64_t v : {int64_t(0), int64_t(-1), int64_t(1025), INT64_MIN, INT64_MAX})
    EXPECT_EQ(WEFT_EINVAL, weft_loop_set_option(l, WEFT_OPT_THREAD_POOL_SIZE, v)) << v;
  EXPECT_EQ(0, weft_loop_set_option(l, WEFT_OPT_THREAD_POOL_SIZE, 1));
  EXPECT_EQ(0, weft_loop_set_option(l, WEFT_OPT_THREAD_POOL_SIZE, 1024));
  EXPECT_EQ(0, weft_loop_set_option(l, WEFT_OPT_THREAD_POOL_SIZE, 4));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_option(l, WEFT_OPT_SLOW_CALLBACK_NS, -1));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_option(l, WEFT_OPT_SLOW_CALLBACK_NS, INT64_MIN));
  EXPECT_EQ(0, weft_loop_set_option(l, WEFT_OPT_SLOW_CALLBACK_NS, 0));
  EXPECT_EQ(0, weft_loop_set_option(l, WEFT_OPT_SLOW_CALLBACK_NS, INT64_MAX));
  EXPECT_EQ(0, weft_loop_free(l));
}

class LoopT : public LoopTest {};

TEST_F(LoopT, SetOptionWhileRunningIsBusy) {
  int rc1 = 0, rc2 = 0;
  post([&] {
    rc1 = weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 5);
    rc2 = weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 2);
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EBUSY, rc1);
  EXPECT_EQ(WEFT_EBUSY, rc2);
  EXPECT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 5)) << "idle again";
}

// ------------------------------------------------------------------ run

TEST(Loop, RunBadInput) {
  EXPECT_EQ(WEFT_EINVAL, weft_loop_run(nullptr, WEFT_RUN_DEFAULT));
  weft_loop_t *l = nullptr;
  ASSERT_EQ(0, weft_loop_new(&l));
  for (int mode : {-1, 3, 4, 99, INT_MIN, INT_MAX})
    EXPECT_EQ(WEFT_EINVAL, weft_loop_run(l, mode)) << mode;
  EXPECT_EQ(0, weft_loop_free(l));
}

TEST_F(LoopT, EmptyLoopReturnsZeroAtOnceInEveryMode) {
  EXPECT_EQ(0, run(WEFT_RUN_DEFAULT));
  EXPECT_EQ(0, run(WEFT_RUN_ONCE));  // would block forever if it polled
  EXPECT_EQ(0, run(WEFT_RUN_NOWAIT));
}

TEST_F(LoopT, DefaultRunsUntilNothingIsAlive) {
  int n = 0;
  spawn([&](weft_task_t self, int, int step) {
    n++;
    return step < 3 ? weft_await_yield(loop, self) : 7;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(4, n);
}

TEST_F(LoopT, FinishedUnreleasedTaskDoesNotKeepLoopAlive) {
  weft_task_t t = spawn([](weft_task_t, int, int) { return 1; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  EXPECT_EQ(0, run(WEFT_RUN_ONCE));
  EXPECT_EQ(0, run(WEFT_RUN_NOWAIT));
}

TEST_F(LoopT, OnceAndNowaitRunOneIterationAndReturnOneIfAlive) {
  int n = 0;
  weft_task_t t = spawn([&](weft_task_t self, int status, int) {
    n++;
    if (status == WEFT_ECANCELED) return 0;
    return weft_await_yield(loop, self);
  });
  const int64_t it0 = stat_iterations(loop);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, n);
  EXPECT_EQ(it0 + 1, stat_iterations(loop));
  EXPECT_EQ(1, run(WEFT_RUN_ONCE));
  EXPECT_EQ(2, n);
  EXPECT_EQ(it0 + 2, stat_iterations(loop));
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, run(WEFT_RUN_ONCE));
  EXPECT_EQ(3, n);
}

TEST_F(LoopT, NowaitNeverBlocks) {
  weft_task_t t = spawn([&](weft_task_t self, int status, int) {
    return status == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  for (int i = 0; i < 5; i++) EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(WEFT_TASK_WAITING, state(t));
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(t));
}

TEST_F(LoopT, OnceBlocksInThePollUntilTheNextTimer) {
  bool fired = false;
  const int64_t t0 = mono();
  timer(3 * kMs, 0, [&](weft_timer_t) { fired = true; });
  int calls = 0, rc = 0;
  while (!fired && calls < 1000) {
    rc = run(WEFT_RUN_ONCE);
    calls++;
  }
  EXPECT_TRUE(fired);
  EXPECT_GE(mono(), t0 + 3 * kMs);
  // A busy (non-blocking) ONCE would take thousands of calls for 3 ms.
  EXPECT_LE(calls, 10);
  EXPECT_EQ(0, rc);
}

TEST_F(LoopT, ReentrantRunIsBusyFromEveryKindOfCallback) {
  std::vector<int> rcs;
  auto try_all = [&] {
    for (int m : {WEFT_RUN_DEFAULT, WEFT_RUN_ONCE, WEFT_RUN_NOWAIT})
      rcs.push_back(weft_loop_run(loop, m));
  };
  post(try_all);
  timer(0, 0, [&](weft_timer_t) { try_all(); });
  spawn([&](weft_task_t, int, int) {
    try_all();
    return 0;
  });
  Pipe p;
  p.put();
  weft_fd_watch_t w = 0;
  w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t, int) {
    try_all();
    weft_fd_watch_stop(loop, w);
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(12u, rcs.size());
  for (int rc : rcs) EXPECT_EQ(WEFT_EBUSY, rc);
}

TEST_F(LoopT, FreeFromCallbackIsBusyAndTheLoopGoesOn) {
  int rc_post = 0, rc_task = 0, rc_timer = 0;
  post([&] { rc_post = weft_loop_free(loop); });
  spawn([&](weft_task_t, int, int) {
    rc_task = weft_loop_free(loop);
    return 5;
  });
  timer(0, 0, [&](weft_timer_t) { rc_timer = weft_loop_free(loop); });
  bool after = false;
  timer(1 * kMs, 0, [&](weft_timer_t) { after = true; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EBUSY, rc_post);
  EXPECT_EQ(WEFT_EBUSY, rc_task);
  EXPECT_EQ(WEFT_EBUSY, rc_timer);
  EXPECT_TRUE(after);
}

// ------------------------------------------------------------------ stop

TEST(Loop, StopNull) { EXPECT_EQ(WEFT_EINVAL, weft_loop_stop(nullptr)); }

// A ONCE that blocked until a timer's deadline runs that timer before it
// returns: one call, one timer, whatever the clock's granularity.
TEST_F(LoopT, OnceThatBlockedForATimerRunsIt) {
  bool fired = false;
  const int64_t t0 = mono();
  timer(3 * kMs, 0, [&](weft_timer_t) { fired = true; });
  EXPECT_EQ(0, run(WEFT_RUN_ONCE));
  EXPECT_TRUE(fired);
  EXPECT_GE(mono(), t0 + 3 * kMs);
}

// An empty loop's run returns at once, and that answers a stop made while
// nothing ran: it does not linger to stop a later run.
TEST_F(LoopT, StopIsConsumedByARunThatReturnsAtOnce) {
  EXPECT_EQ(0, weft_loop_stop(loop));
  EXPECT_EQ(0, run());
  int ticks = 0;
  timer(0, 0, [&](weft_timer_t) { ticks++; });
  timer(1 * kMs, 0, [&](weft_timer_t) { ticks++; });
  EXPECT_EQ(0, run()) << "not stopped after its first iteration";
  EXPECT_EQ(2, ticks);
}

TEST_F(LoopT, StopBeforeRunStopsTheNextRunAfterOneIteration) {
  int ticks = 0;
  weft_timer_t t = timer(0, 1 * kMs, [&](weft_timer_t) { ticks++; });
  EXPECT_EQ(0, weft_loop_stop(loop));
  const int64_t it0 = stat_iterations(loop);
  EXPECT_EQ(1, run()) << "stopped with a repeating timer alive";
  EXPECT_EQ(it0 + 1, stat_iterations(loop));
  EXPECT_LE(ticks, 1);
  // The request was consumed: the next run goes on until stopped again.
  timer(5 * kMs, 0, [&](weft_timer_t) { weft_loop_stop(loop); });
  EXPECT_EQ(1, run());
  EXPECT_GE(ticks, 2);
  EXPECT_EQ(0, weft_timer_stop(loop, t));
  EXPECT_EQ(0, run());
}

TEST_F(LoopT, StopFromCallbackReturnsAfterTheIteration) {
  int ticks = 0;
  bool task_ran = false;
  weft_timer_t t = timer(0, 1 * kMs, [&](weft_timer_t) {
    if (++ticks == 3) {
      weft_loop_stop(loop);
      // Stop returns after the iteration in progress, so this task's
      // first step still runs, in phase (4) of this same iteration.
      spawn_detached([&](weft_task_t, int, int) {
        task_ran = true;
        return 0;
      });
    }
  });
  EXPECT_EQ(1, run());
  EXPECT_EQ(3, ticks);
  EXPECT_TRUE(task_ran) << "spawned in phase 2, run in phase 4 of the same iteration";
  EXPECT_EQ(0, weft_timer_stop(loop, t));
  EXPECT_EQ(0, run());
}

TEST_F(LoopT, StopFromTaskStep) {
  int steps = 0;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    steps++;
    if (status == WEFT_ECANCELED) return 1;
    if (step == 2) weft_loop_stop(loop);
    return weft_await_yield(loop, self);
  });
  EXPECT_EQ(1, run());
  EXPECT_EQ(3, steps);
  weft_task_cancel(loop, t);
  EXPECT_EQ(0, run());
}

// ------------------------------------------------------------------ now

TEST(Loop, NowNullIsNegative) { EXPECT_LT(weft_loop_now(nullptr), 0); }

TEST_F(LoopT, NowIsCachedPerIteration) {
  const int64_t before_new_bound = mono();
  const int64_t n0 = weft_loop_now(loop);
  EXPECT_GT(n0, 0);
  EXPECT_LE(n0, before_new_bound) << "before any run: the time of weft_loop_new";
  int64_t a = 0, b = 0, c = 0;
  spawn([&](weft_task_t self, int, int step) {
    if (step == 0) {
      a = weft_loop_now(loop);
      busy_wait(200 * kUs);
      b = weft_loop_now(loop);
      return weft_await_yield(loop, self);
    }
    c = weft_loop_now(loop);
    return 0;
  });
  const int64_t t_run = mono();
  EXPECT_EQ(0, run());
  EXPECT_GE(a, t_run);
  EXPECT_EQ(a, b) << "cached for the iteration";
  EXPECT_GT(c, a) << "refreshed by the next iteration";
  EXPECT_EQ(c, weft_loop_now(loop)) << "the last iteration's time after run";
}

// ---------------------------------------------------------------- stats

TEST_F(LoopT, StatsBadInput) {
  weft_loop_stats_t s;
  s.size = sizeof s;
  EXPECT_EQ(WEFT_EINVAL, weft_loop_stats(nullptr, &s));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_stats(loop, nullptr));
  for (size_t sz : {size_t(0), size_t(1), sizeof(size_t) - 1}) {
    s.size = sz;
    EXPECT_EQ(WEFT_EINVAL, weft_loop_stats(loop, &s)) << sz;
    EXPECT_EQ(sz, s.size) << "untouched on error";
  }
}

TEST_F(LoopT, StatsSizeProtocol) {
  // Make every field non-zero-ish first.
  spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_yield(loop, self) : 0;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));

  // Exactly sizeof(size_t): only `size` is "filled".
  struct {
    weft_loop_stats_t s;
    int64_t guard[4];
  } big;
  std::memset(&big, 0xab, sizeof big);
  big.s.size = sizeof(size_t);
  ASSERT_EQ(0, weft_loop_stats(loop, &big.s));
  EXPECT_EQ(sizeof(size_t), big.s.size);
  int64_t pattern;
  std::memset(&pattern, 0xab, sizeof pattern);
  EXPECT_EQ(pattern, big.s.iterations) << "nothing past size written";

  // Two fields: iterations and tasks_alive, nothing more.
  std::memset(&big, 0xab, sizeof big);
  big.s.size = offsetof(weft_loop_stats_t, tasks_ready);
  ASSERT_EQ(0, weft_loop_stats(loop, &big.s));
  EXPECT_EQ(offsetof(weft_loop_stats_t, tasks_ready), big.s.size);
  EXPECT_EQ(1, big.s.iterations);
  EXPECT_EQ(1, big.s.tasks_alive);
  EXPECT_EQ(pattern, big.s.tasks_ready);

  // A size that ends inside a field: only whole fields are filled.
  std::memset(&big, 0xab, sizeof big);
  big.s.size = offsetof(weft_loop_stats_t, tasks_ready) + 3;
  ASSERT_EQ(0, weft_loop_stats(loop, &big.s));
  EXPECT_EQ(offsetof(weft_loop_stats_t, tasks_ready), big.s.size);
  EXPECT_EQ(pattern, big.s.tasks_ready);

  // A newer caller with a larger struct: the library fills what it knows.
  std::memset(&big, 0xab, sizeof big);
  big.s.size = sizeof big;
  ASSERT_EQ(0, weft_loop_stats(loop, &big.s));
  EXPECT_EQ(sizeof(weft_loop_stats_t), big.s.size);
  EXPECT_EQ(pattern, big.guard[0]);
  EXPECT_EQ(1, big.s.tasks_ready);
  EXPECT_EQ(0, run());
}

TEST_F(LoopT, StatsGaugesAndTotals) {
  weft_loop_stats_t s = stats(loop);
  EXPECT_EQ(sizeof(weft_loop_stats_t), s.size);
  EXPECT_EQ(0, s.iterations);
  EXPECT_EQ(0, s.tasks_alive);
  EXPECT_EQ(0, s.tasks_ready);
  EXPECT_EQ(0, s.timers_active);
  EXPECT_EQ(0, s.fd_watches_active);
  EXPECT_EQ(0, s.work_queued);
  EXPECT_EQ(0, s.work_running);
  EXPECT_EQ(0, s.work_ns);
  EXPECT_EQ(0, s.slow_callbacks);
  EXPECT_EQ(0, s.posts);

  Pipe p;
  weft_fd_watch_t w = watch(p.w, WEFT_WRITABLE, [](weft_fd_watch_t, int) {});
  weft_timer_t t1 = timer(kHour, 0, [](weft_timer_t) {});
  timer(kHour, 0, [](weft_timer_t) {});
  weft_task_t a = spawn([&](weft_task_t self, int status, int) {
    return status == 0 ? weft_await_sleep(loop, self, kHour) : 0;
  });
  spawn([](weft_task_t, int, int) { return 0; });
  post([] {});
  post([] {});
  post([] {});
  s = stats(loop);
  EXPECT_EQ(2, s.tasks_alive);
  EXPECT_EQ(2, s.tasks_ready);
  EXPECT_EQ(2, s.timers_active);
  EXPECT_EQ(1, s.fd_watches_active);
  EXPECT_EQ(0, s.posts) << "a total of posts run";

  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  s = stats(loop);
  EXPECT_EQ(1, s.iterations);
  EXPECT_EQ(1, s.tasks_alive);
  EXPECT_EQ(0, s.tasks_ready);
  EXPECT_EQ(3, s.posts);

  EXPECT_EQ(0, weft_timer_stop(loop, t1));
  EXPECT_EQ(1, stats(loop).timers_active);
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(0, stats(loop).fd_watches_active);
  EXPECT_EQ(0, weft_task_cancel(loop, a));
  EXPECT_EQ(1, stats(loop).tasks_ready);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, stats(loop).tasks_alive);
}

// --------------------------------------------------------------- logger

TEST(Loop, SetLoggerNull) {
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_logger(nullptr, nullptr, nullptr));
}

TEST_F(LoopT, PendingWithoutAwaitFinishesWithEinvalAndLogs) {
  weft_task_t t = spawn([](weft_task_t, int, int) { return WEFT_PENDING; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, result(t));
  ASSERT_EQ(1, count_logs(WEFT_LOG_ERROR));
  EXPECT_NE(std::string::npos, logs[0].msg.find("PENDING")) << logs[0].msg;
}

TEST_F(LoopT, ClearedLoggerGetsNothing) {
  ASSERT_EQ(0, weft_loop_set_logger(loop, nullptr, this));
  spawn([](weft_task_t, int, int) { return WEFT_PENDING; });
  EXPECT_EQ(0, run());
  EXPECT_TRUE(logs.empty());
}

// With no logger set, weft prints nothing: not on stdout, not on stderr.
TEST(Loop, NoLoggerPrintsNothing) {
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  Pipe cap;
  ASSERT_GE(cap.w, 0);
  dup2(cap.w, 1);
  dup2(cap.w, 2);
  {
    weft_loop_t *l = nullptr;
    weft_loop_new(&l);
    weft_loop_set_option(l, WEFT_OPT_SLOW_CALLBACK_NS, 1);
    TaskBox b{[](weft_task_t, int, int) {
                busy_wait(100 * kUs);
                return WEFT_PENDING;
              },
              {}, 0, false, 0};
    weft_task_spawn(l, &TaskBox::tramp, &b, nullptr);
    weft_loop_run(l, WEFT_RUN_DEFAULT);
    weft_loop_free(l);
  }
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  EXPECT_EQ(0, cap.drain());
}

// Whether it was counted, not how long it took. A fast callback preempted on
// a loaded machine may be counted too, hence ">=".
TEST_F(LoopT, SlowCallbacksAreCountedAndLoggedAtWarn) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 1 * kMs));
  const int64_t slow = 5 * kMs;  // far past the threshold
  timer(0, 0, [&](weft_timer_t) { busy_wait(slow); });
  post([&] { busy_wait(slow); });
  spawn([&](weft_task_t, int, int) {
    busy_wait(slow);
    return 0;
  });
  Pipe p;
  p.put();
  weft_fd_watch_t w = 0;
  w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t, int) {
    busy_wait(slow);
    weft_fd_watch_stop(loop, w);
  });
  spawn([](weft_task_t, int, int) { return 0; });  // fast
  EXPECT_EQ(0, run());
  const int64_t n = stats(loop).slow_callbacks;
  EXPECT_GE(n, 4);
  EXPECT_LE(n, 5);
  EXPECT_EQ(n, count_logs(WEFT_LOG_WARN)) << "each one logged at WARN";
}

TEST_F(LoopT, SlowCallbackCheckIsOffByDefault) {
  spawn([&](weft_task_t, int, int) {
    busy_wait(1 * kMs);
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, stats(loop).slow_callbacks);
  EXPECT_EQ(0, count_logs(WEFT_LOG_WARN));
}

TEST_F(LoopT, CppExceptionFromAStepIsCaughtAndLogged) {
  weft_task_t t = spawn([](weft_task_t, int, int) -> int { throw std::runtime_error("boom"); });
  int after = 0;
  spawn([&](weft_task_t, int, int) { return ++after; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EHOST, result(t));
  EXPECT_EQ(1, after) << "other tasks are not disturbed";
  EXPECT_EQ(1, count_logs(WEFT_LOG_ERROR));
}

TEST_F(LoopT, CppExceptionFromCallbacksIsCaughtAndLogged) {
  post([] { throw 1; });
  timer(0, 0, [](weft_timer_t) { throw 2; });
  Pipe p;
  p.put();
  watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    weft_fd_watch_stop(loop, self);
    throw std::bad_alloc();
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(3, count_logs(WEFT_LOG_ERROR));
}

// ------------------------------------------------------------- embedding

TEST(Loop, EmbedNullLoop) {
  EXPECT_EQ(WEFT_EINVAL, weft_loop_backend_fd(nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_next_timeout(nullptr));
}

TEST_F(LoopT, NextTimeout) {
  EXPECT_EQ(-1, weft_loop_next_timeout(loop)) << "nothing scheduled";
  weft_timer_t t = timer(kSec, 0, [](weft_timer_t) {});
  int64_t nt = weft_loop_next_timeout(loop);
  EXPECT_GT(nt, 0);
  EXPECT_LE(nt, kSec);
  weft_timer_t t0 = timer(0, 0, [](weft_timer_t) {});
  EXPECT_EQ(0, weft_loop_next_timeout(loop)) << "a timer is due";
  EXPECT_EQ(0, weft_timer_stop(loop, t0));
  EXPECT_GT(weft_loop_next_timeout(loop), 0) << "stopped timers do not count";
  post([] {});
  EXPECT_EQ(0, weft_loop_next_timeout(loop)) << "a post is pending";
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_GT(weft_loop_next_timeout(loop), 0);
  spawn([](weft_task_t, int, int) { return 0; });
  EXPECT_EQ(0, weft_loop_next_timeout(loop)) << "a task is ready";
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_timer_stop(loop, t));
  EXPECT_EQ(-1, weft_loop_next_timeout(loop));
}

// weft_loop_next_timeout may be called from a step; a sleep the step has just
// armed is live even though the step is still running.
TEST_F(LoopT, NextTimeoutInsideAStepKeepsItsSleep) {
  int64_t nt = -2;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      int r = weft_await_sleep(loop, self, 1 * kMs);
      nt = weft_loop_next_timeout(loop);
      return r;
    }
    return status + 5;
  });
  {
    Watchdog wd(loop, 5 * kSec);
    EXPECT_EQ(0, run());
    EXPECT_FALSE(wd.fired) << "the sleep was dropped from the timer heap";
  }
  EXPECT_GE(nt, 0);
  EXPECT_LE(nt, 1 * kMs);
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  if (state(t) == WEFT_TASK_DONE) {
    EXPECT_EQ(5, result(t));
  }
}

// The embedder polls the backend fd itself, then runs NOWAIT.
TEST_F(LoopT, EmbedInAForeignPollLoop) {
  const int bfd = weft_loop_backend_fd(loop);
  ASSERT_GE(bfd, 0);
  Pipe p;
  const int64_t t0 = mono();
  int64_t woke = 0;
  weft_task_t sleeper = spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_sleep(loop, self, 3 * kMs);
    woke = mono();
    p.put();  // wakes the reader below through the backend fd
    return 1;
  });
  weft_task_t reader = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_fd(loop, self, p.r, WEFT_READABLE);
    return status;
  });
  int polls = 0;
  int rc = 1;
  while (rc == 1 && polls < 1000) {
    int64_t ns = weft_loop_next_timeout(loop);
    int ms = ns < 0 ? -1 : int((ns + kMs - 1) / kMs);
    struct pollfd pfd = {bfd, POLLIN, 0};
    ::poll(&pfd, 1, ms);
    polls++;
    rc = run(WEFT_RUN_NOWAIT);
  }
  EXPECT_EQ(0, rc);
  EXPECT_LT(polls, 100) << "the embedder blocked instead of spinning";
  EXPECT_EQ(1, result(sleeper));
  EXPECT_EQ(WEFT_READABLE, result(reader));
  EXPECT_GE(woke, t0 + 3 * kMs);
}

TEST_F(LoopT, BackendFdIsReadableWhenAPostIsPending) {
  const int bfd = weft_loop_backend_fd(loop);
  struct pollfd pfd = {bfd, POLLIN, 0};
  EXPECT_EQ(0, ::poll(&pfd, 1, 0));
  bool ran = false;
  post([&] { ran = true; });
  EXPECT_EQ(1, ::poll(&pfd, 1, 0));
  EXPECT_EQ(0, run(WEFT_RUN_NOWAIT));
  EXPECT_TRUE(ran);
}

// --------------------------------------------------------- iteration order

// (1) clock (2) timers (3) posts (4) ready tasks (5) poll (6) dispatch.
TEST_F(LoopT, IterationPhasesRunInOrder) {
  std::vector<std::string> seen;
  std::vector<int64_t> iters;
  auto mark = [&](const char *what) {
    seen.push_back(what);
    iters.push_back(stat_iterations(loop));
  };
  Pipe p;
  p.put();
  // Registered in the reverse of the order they must run in.
  weft_fd_watch_t w = 0;
  w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t, int) {
    mark("fd");
    weft_fd_watch_stop(loop, w);
  });
  weft_task_t fdt = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      mark("task1");
      return weft_await_fd(loop, self, p.r, WEFT_READABLE);
    }
    mark("fdtask");
    return status;
  });
  spawn([&](weft_task_t, int, int) {
    mark("task2");
    return 0;
  });
  post([&] { mark("post1"); });
  post([&] { mark("post2"); });
  timer(0, 0, [&](weft_timer_t) { mark("timer"); });
  EXPECT_EQ(0, run());
  const std::vector<std::string> want = {"timer", "post1", "post2", "task1",
                                         "task2", "fd",    "fdtask"};
  EXPECT_EQ(want, seen);
  ASSERT_EQ(want.size(), iters.size());
  for (int i = 0; i < 6; i++) EXPECT_EQ(iters[0], iters[i]) << seen[i] << " same iteration";
  EXPECT_EQ(iters[0] + 1, iters[6]) << "fd readiness makes the task ready for the next one";
  EXPECT_EQ(WEFT_READABLE, result(fdt));
}

TEST_F(LoopT, WorkMadeDuringAPhaseWaitsForTheNextIteration) {
  std::vector<std::pair<std::string, int64_t>> seen;
  auto mark = [&](const std::string &w) { seen.emplace_back(w, stat_iterations(loop)); };
  spawn([&](weft_task_t, int, int) {
    mark("parent");
    spawn_detached([&](weft_task_t, int, int) {
      mark("child");
      return 0;
    });
    post([&] {
      mark("post-from-task");
      post([&] { mark("post-from-post"); });
    });
    return 0;
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(4u, seen.size());
  EXPECT_EQ("parent", seen[0].first);
  EXPECT_EQ("post-from-task", seen[1].first);
  EXPECT_EQ(seen[0].second + 1, seen[1].second);
  EXPECT_EQ("child", seen[2].first);
  EXPECT_EQ(seen[0].second + 1, seen[2].second);
  EXPECT_EQ("post-from-post", seen[3].first);
  EXPECT_EQ(seen[0].second + 2, seen[3].second);
}

// A task finishing (or being cancelled) in phase (4) makes its awaiter
// ready; the awaiter's step waits for the next iteration.
TEST_F(LoopT, TasksMadeReadyDuringPhaseFourRunInTheNextIteration) {
  int64_t a_it = -1, b_it = -1, c_it = -1, d_it = -1;
  weft_task_t a = spawn([&](weft_task_t, int, int) {
    a_it = stat_iterations(loop);
    return 1;
  });
  weft_task_t c = 0;
  spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_task(loop, self, a);  // linked before a finishes
    b_it = stat_iterations(loop);
    return status;
  });
  c = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_sleep(loop, self, kHour);
    c_it = stat_iterations(loop);
    return status;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));  // a finished, b resolved, c sleeps
  spawn([&](weft_task_t, int, int) {
    d_it = stat_iterations(loop);
    EXPECT_EQ(0, weft_task_cancel(loop, c));  // c becomes ready now...
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(a_it + 1, b_it) << "b was made ready by a, in phase 4";
  EXPECT_EQ(d_it + 1, c_it) << "...and runs in the next iteration";
}

TEST_F(LoopT, CallbacksNeverRunInsideTheCallThatRegisteredThem) {
  int timer_calls = 0, watch_calls = 0, task_steps = 0;
  Pipe p;
  p.put();
  timer(0, 0, [&](weft_timer_t) { timer_calls++; });
  weft_fd_watch_t w = watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    watch_calls++;
    weft_fd_watch_stop(loop, self);
  });
  spawn([&](weft_task_t, int, int) { return ++task_steps; });
  EXPECT_EQ(0, timer_calls);
  EXPECT_EQ(0, watch_calls);
  EXPECT_EQ(0, task_steps);
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, timer_calls);
  EXPECT_EQ(1, watch_calls);
  EXPECT_EQ(1, task_steps);
  (void)w;
}

TEST_F(LoopT, PostNeverRunsInsidePostAndRunsInOrder) {
  EXPECT_EQ(WEFT_EINVAL, weft_loop_post(nullptr, &PostBox::tramp, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_post(loop, nullptr, nullptr));
  std::vector<int> order;
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(0, post([&order, i] { order.push_back(i); }));
    EXPECT_TRUE(order.empty());
  }
  EXPECT_EQ(0, run());
  ASSERT_EQ(100u, order.size());
  for (int i = 0; i < 100; i++) EXPECT_EQ(i, order[i]);
  EXPECT_EQ(100, stats(loop).posts);
}

TEST_F(LoopT, PendingPostKeepsTheLoopAlive) {
  int n = 0;
  std::function<void()> again = [&] {
    if (++n < 5) post(again);
  };
  post(again);
  EXPECT_EQ(0, run());
  EXPECT_EQ(5, n);
}

}  // namespace
