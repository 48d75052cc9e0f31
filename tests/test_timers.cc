// Timers: arguments, never early, ordering, repeat, stop (also from the own
// callback), one-shot ids going stale, many timers, stale-entry compaction.
#include <algorithm>
#include <random>

#include "weft_test.h"

using namespace wt;

namespace {

class Timers : public LoopTest {
 protected:
  // Each timer's deadline lies in [lo, hi]: the clock read just before and
  // just after its start call, plus its timeout. Timers must fire in
  // deadline order: nothing fires after a timer whose deadline is surely
  // later. (Exact start-order assertions would flake when the test thread
  // is preempted between two starts.)
  std::vector<int64_t> lo, hi;
  void start_recorded(int64_t timeout, std::function<void(weft_timer_t)> fn) {
    lo.push_back(mono() + timeout);
    timer(timeout, 0, std::move(fn));
    hi.push_back(mono() + timeout);
  }
  int inversions(const std::vector<int> &order) const {
    int64_t max_lo = INT64_MIN;
    int n = 0;
    for (int i : order) {
      if (hi[i] < max_lo) n++;
      max_lo = std::max(max_lo, lo[i]);
    }
    return n;
  }
};

TEST_F(Timers, BadArguments) {
  weft_timer_t t = 0;
  TimerBox b{[](weft_timer_t) {}, 0};
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, 0, 0, nullptr, &b, &t));
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, -1, 0, &TimerBox::tramp, &b, &t));
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, INT64_MIN, 0, &TimerBox::tramp, &b, &t));
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, 0, -1, &TimerBox::tramp, &b, &t));
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, 0, kMs, &TimerBox::tramp, &b, nullptr))
      << "a repeating timer needs an id to be stopped by";
  EXPECT_EQ(0, t) << "out untouched on error";
  EXPECT_EQ(0, stats(loop).timers_active);
  EXPECT_EQ(0, weft_timer_start(loop, 0, 0, &TimerBox::tramp, &b, nullptr))
      << "a one-shot timer may have no id";
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, b.calls);
}

TEST_F(Timers, NeverEarly) {
  const int64_t timeouts[] = {0, 1, 100 * kUs, 1 * kMs, 3 * kMs, 2 * kMs};
  std::vector<int> fired;
  for (int i = 0; i < 6; i++) {
    const int64_t start = mono();
    const int64_t to = timeouts[i];
    timer(to, 0, [&, i, start, to](weft_timer_t) {
      EXPECT_GE(mono(), start + to) << "timer " << i << " fired early";
      EXPECT_GE(weft_loop_now(loop), start + to) << "the iteration started before the deadline";
      fired.push_back(i);
    });
  }
  EXPECT_EQ(0, run());
  EXPECT_EQ(6u, fired.size());
}

TEST_F(Timers, FireInDeadlineOrder) {
  std::vector<int> order;
  const int64_t timeouts[] = {30 * kMs, 10 * kMs, 20 * kMs, 0};  // 10 ms apart: a preempted start must not reorder them
  for (int i = 0; i < 4; i++) start_recorded(timeouts[i], [&, i](weft_timer_t) { order.push_back(i); });
  EXPECT_EQ(0, run());
  ASSERT_EQ(4u, order.size());
  EXPECT_EQ(0, inversions(order));
  EXPECT_EQ(3, order[0]) << "timeout 0 first";
}

// Deadlines come from a fresh clock at each start, so timers started in a
// row with one timeout have non-decreasing deadlines: they fire in start
// order (ties broken by start order; exactly equal deadlines are tested on
// the heap itself).
TEST_F(Timers, SameTimeoutFiresInStartOrder) {
  std::vector<int> order;
  for (int i = 0; i < 200; i++) timer(1 * kMs, 0, [&, i](weft_timer_t) { order.push_back(i); });
  for (int i = 200; i < 300; i++) timer(0, 0, [&, i](weft_timer_t) { order.push_back(i); });
  EXPECT_EQ(0, run());
  ASSERT_EQ(300u, order.size());
  // The timeout-0 ones started last may fire before some 1 ms ones; within
  // each group the order is the start order.
  std::vector<int> ms_group, zero_group;
  for (int i : order) (i < 200 ? ms_group : zero_group).push_back(i);
  for (int i = 0; i < 200; i++) EXPECT_EQ(i, ms_group[i]);
  for (int i = 0; i < 100; i++) EXPECT_EQ(200 + i, zero_group[i]);
}

TEST_F(Timers, OneShotIdIsStaleOnceItsCallbackReturned) {
  weft_timer_t seen = 0;
  int stop_inside = 1, stop_again = 1;
  weft_timer_t t = timer(0, 0, [&](weft_timer_t self) {
    seen = self;
    EXPECT_EQ(1, stats(loop).timers_active) << "a fired one-shot no longer counts; t2 does";
  });
  weft_timer_t t2 = timer(0, 0, [&](weft_timer_t self) {
    stop_inside = weft_timer_stop(loop, self);  // stopping itself is allowed
    stop_again = weft_timer_stop(loop, self);
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(t, seen) << "the callback gets the id start returned";
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, t));
  EXPECT_EQ(0, stop_inside);
  EXPECT_EQ(WEFT_ESTALE, stop_again);
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, t2));
}

TEST_F(Timers, OneShotStoppingItselfThenStartingAnotherReusingTheSlot) {
  int second = 0;
  timer(0, 0, [&](weft_timer_t self) {
    EXPECT_EQ(0, weft_timer_stop(loop, self));
    timer(0, 0, [&](weft_timer_t) { second++; });  // likely the same slot
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, second) << "the new timer was not released with the old one";
}

TEST_F(Timers, StopBeforeFiringMeansNeverCalled) {
  TimerBox *b = nullptr;
  weft_timer_t t = timer(0, 0, [](weft_timer_t) {}, &b);
  EXPECT_EQ(1, stats(loop).timers_active);
  EXPECT_EQ(0, weft_timer_stop(loop, t));
  EXPECT_EQ(0, stats(loop).timers_active);
  EXPECT_EQ(0, run()) << "a stopped timer keeps nothing alive";
  EXPECT_EQ(0, b->calls);
}

TEST_F(Timers, CallbackStopsALaterTimerDueInTheSameIteration) {
  TimerBox *b2 = nullptr;
  weft_timer_t t2 = 0;
  timer(0, 0, [&](weft_timer_t) { EXPECT_EQ(0, weft_timer_stop(loop, t2)); });
  t2 = timer(0, 0, [](weft_timer_t) {}, &b2);
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, b2->calls);
}

TEST_F(Timers, RepeatNeverEarlyAndStopsFromOwnCallback) {
  const int64_t start = mono();
  const int64_t first = 2 * kMs, period = 1 * kMs;
  std::vector<int64_t> at;
  int stop_rc = 1;
  weft_timer_t t = timer(first, period, [&](weft_timer_t self) {
    at.push_back(mono());
    if (at.size() == 4) stop_rc = weft_timer_stop(loop, self);
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(4u, at.size());
  EXPECT_EQ(0, stop_rc);
  for (size_t k = 0; k < at.size(); k++)
    EXPECT_GE(at[k], start + first + int64_t(k) * period) << "fire " << k << " early";
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, t));
}

TEST_F(Timers, RepeatWithZeroTimeoutRunsOncePerIteration) {
  std::vector<int64_t> iters;
  weft_timer_t t = 0;
  t = timer(0, 1, [&](weft_timer_t) {
    iters.push_back(stat_iterations(loop));
    if (iters.size() == 5) weft_timer_stop(loop, t);
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(5u, iters.size());
  for (size_t i = 1; i < iters.size(); i++) EXPECT_GT(iters[i], iters[i - 1]);
}

TEST_F(Timers, RepeatingTimerFallingBehindSkipsMissedPeriods) {
  int calls = 0;
  weft_timer_t t = 0;
  t = timer(0, 100 * kUs, [&](weft_timer_t) {
    if (++calls == 1) busy_wait(5 * kMs);  // 50 periods missed
    if (calls == 3) weft_timer_stop(loop, t);
  });
  const int64_t it0 = stat_iterations(loop);
  EXPECT_EQ(0, run());
  EXPECT_EQ(3, calls);
  EXPECT_GE(stat_iterations(loop) - it0, 3) << "one call per iteration, no burst";
}

TEST_F(Timers, TimerStartedInATimerCallbackWaitsForTheNextIteration) {
  int64_t outer_it = -1, inner_it = -1;
  timer(0, 0, [&](weft_timer_t) {
    outer_it = stat_iterations(loop);
    timer(0, 0, [&](weft_timer_t) { inner_it = stat_iterations(loop); });
  });
  EXPECT_EQ(0, run());
  EXPECT_GT(inner_it, outer_it);
}

TEST_F(Timers, CallbacksMayUseTheLoop) {
  int task_steps = 0;
  Pipe p;
  p.put();
  int fd_calls = 0;
  timer(0, 0, [&](weft_timer_t) {
    spawn_detached([&](weft_task_t self, int, int step) {
      task_steps++;
      return step == 0 ? weft_await_sleep(loop, self, 0) : 0;
    });
    watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
      fd_calls++;
      weft_fd_watch_stop(loop, self);
    });
    post([] {});
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(2, task_steps);
  EXPECT_EQ(1, fd_calls);
}

TEST_F(Timers, HugeTimeoutsSaturate) {
  weft_timer_t a = timer(INT64_MAX, 0, [](weft_timer_t) { ADD_FAILURE(); });
  weft_timer_t b = timer(INT64_MAX - 1, INT64_MAX, [](weft_timer_t) { ADD_FAILURE(); });
  EXPECT_GT(weft_loop_next_timeout(loop), 0);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_timer_stop(loop, a));
  EXPECT_EQ(0, weft_timer_stop(loop, b));
  EXPECT_EQ(0, run());
}

TEST_F(Timers, ManyTimersAllFireNeverEarlyInDeadlineOrder) {
  std::mt19937 rng(42);
  const int n = 5000;
  // Each deadline lies in [lo, hi]: the clock around the start call + timeout.
  std::vector<int64_t> lo(n), hi(n);
  std::vector<int> order;
  order.reserve(n);
  int early = 0;
  for (int i = 0; i < n; i++) {
    const int64_t to = int64_t(rng() % 2000) * kUs;
    lo[i] = mono() + to;
    timer(to, 0, [&, i](weft_timer_t) {
      if (mono() < lo[i]) early++;
      order.push_back(i);
    });
    hi[i] = mono() + to;
  }
  EXPECT_EQ(0, run());
  ASSERT_EQ(size_t(n), order.size());
  EXPECT_EQ(0, early);
  // No inversion: nothing fires after a timer whose deadline is surely later.
  int64_t max_lo = INT64_MIN;
  int inversions = 0;
  for (int i : order) {
    if (hi[i] < max_lo) inversions++;
    max_lo = std::max(max_lo, lo[i]);
  }
  EXPECT_EQ(0, inversions);
}

// Starting and stopping many timers leaves stale heap entries behind; the
// heap compacts them and the survivors still fire, in order.
TEST_F(Timers, StaleEntriesAreCompactedAndSurvivorsFire) {
  std::vector<int> fired;
  std::vector<weft_timer_t> ids;
  for (int round = 0; round < 3; round++) {
    ids.clear();
    for (int i = 0; i < 4000; i++) ids.push_back(timer(kHour, 0, [](weft_timer_t) {}));
    for (weft_timer_t t : ids) ASSERT_EQ(0, weft_timer_stop(loop, t));
  }
  for (int i = 0; i < 10; i++)
    start_recorded((10 - i) * 200 * kUs, [&, i](weft_timer_t) { fired.push_back(i); });
  for (int round = 0; round < 3; round++) {
    ids.clear();
    for (int i = 0; i < 3000; i++) ids.push_back(timer(kHour, 0, [](weft_timer_t) {}));
    for (weft_timer_t t : ids) ASSERT_EQ(0, weft_timer_stop(loop, t));
    EXPECT_GE(run(WEFT_RUN_NOWAIT), 0);  // timer phase: compaction may happen
  }
  EXPECT_EQ(0, run());
  ASSERT_EQ(10u, fired.size());
  EXPECT_EQ(0, inversions(fired));
}

TEST_F(Timers, RepeatingTimersKeepTheLoopAliveUntilStopped) {
  int a = 0, b = 0;
  weft_timer_t ta = 0, tb = 0;
  ta = timer(0, 200 * kUs, [&](weft_timer_t) {
    if (++a == 10) weft_timer_stop(loop, ta);
  });
  tb = timer(0, 300 * kUs, [&](weft_timer_t) {
    if (++b == 5) weft_timer_stop(loop, tb);
  });
  EXPECT_EQ(2, stats(loop).timers_active);
  EXPECT_EQ(0, run());
  EXPECT_EQ(10, a);
  EXPECT_EQ(5, b);
  EXPECT_EQ(0, stats(loop).timers_active);
}

}  // namespace
