// Cancellation and timeouts on every await kind (the pool kinds are in
// test_work.cc), cleanup after cancellation, results delivered before a
// cancellation, first-of-cancel-and-timeout wins, timeouts fire once.
#include <tuple>

#include "weft_test.h"

using namespace wt;

namespace {

enum class Kind { First, Sleep, Fd, Yield, Task, All, AllCoe };

const char *kind_name(Kind k) {
  switch (k) {
    case Kind::First: return "FirstStep";
    case Kind::Sleep: return "Sleep";
    case Kind::Fd: return "Fd";
    case Kind::Yield: return "Yield";
    case Kind::Task: return "Task";
    case Kind::All: return "All";
    case Kind::AllCoe: return "AllCancelOnError";
  }
  return "?";
}

class Interrupt : public LoopTest, public testing::WithParamInterface<std::tuple<Kind, bool>> {};

// The victim arms one await of the kind; it is cancelled (or times out)
// while waiting; it sees the code, cleans up with a further await (which
// works normally: the interruption was consumed, a timeout fires once) and
// chooses its own result.
TEST_P(Interrupt, AwaitResolvesWithTheCodeThenTheTaskCleansUpAndChoosesItsResult) {
  const Kind kind = std::get<0>(GetParam());
  const bool by_timeout = std::get<1>(GetParam());
  const int code = by_timeout ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
  Pipe p;

  // A child for the join kinds: sleeps "forever"; when cancelled it cleans
  // up with a 1 ms sleep before finishing.
  weft_task_t child = 0;
  int child_status = 1;
  bool child_done = false;
  const bool joins = kind == Kind::Task || kind == Kind::All || kind == Kind::AllCoe;
  if (joins)
    child = spawn([&](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_sleep(loop, self, kHour);
      if (step == 1) {
        child_status = status;
        return weft_await_sleep(loop, self, 1 * kMs);
      }
      child_done = true;
      return 77;
    });

  int first = 1, cleanup = 1;
  bool child_done_when_resumed = false;
  weft_task_t victim = spawn([&](weft_task_t self, int status, int step) {
    switch (step) {
      case 0:
        if (kind == Kind::First) {
          first = status;
          return weft_await_sleep(loop, self, 0);
        }
        // The deadline is set here, not before run, so that it cannot pass
        // before the await is armed (a slow first iteration under ASan).
        if (by_timeout && kind != Kind::Yield) {
          EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
        }
        switch (kind) {
          case Kind::Sleep: return weft_await_sleep(loop, self, kHour);
          case Kind::Fd: return weft_await_fd(loop, self, p.r, WEFT_READABLE);
          case Kind::Yield: return weft_await_yield(loop, self);
          case Kind::Task: return weft_await_task(loop, self, child);
          case Kind::All: return weft_await_all(loop, self, &child, 1, 0);
          case Kind::AllCoe: return weft_await_all(loop, self, &child, 1, WEFT_CANCEL_ON_ERROR);
          default: return -1;
        }
      case 1:
        if (kind == Kind::First) {
          cleanup = status;
          weft_loop_stop(loop);  // a child may still keep the loop alive
          return 42;
        }
        first = status;
        child_done_when_resumed = child_done;
        return weft_await_sleep(loop, self, 0);  // cleanup: a normal await
      default:
        cleanup = status;
        weft_loop_stop(loop);
        return 42;
    }
  });

  if (kind == Kind::First || kind == Kind::Yield) {
    if (kind == Kind::Yield) {
      ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));  // now READY after a yield
    }
    if (by_timeout) {
      ASSERT_EQ(0, weft_task_timeout(loop, victim, 1));
      busy_wait(10 * kUs);  // the deadline has passed before the next iteration
    } else {
      ASSERT_EQ(0, weft_task_cancel(loop, victim));
    }
  } else if (by_timeout) {
    // set by the victim's first step
  } else {
    ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
    ASSERT_EQ(WEFT_TASK_WAITING, state(victim));
    ASSERT_EQ(0, weft_task_cancel(loop, victim));
  }

  {
    Watchdog wd(loop, 10 * kSec);
    run();  // until the victim finishes (it stops the loop)
    EXPECT_FALSE(wd.fired);
  }
  ASSERT_EQ(WEFT_TASK_DONE, state(victim));
  EXPECT_EQ(code, first);
  EXPECT_EQ(0, cleanup) << "the interruption was consumed; the cleanup await works";
  EXPECT_EQ(42, result(victim));

  if (kind == Kind::Task || kind == Kind::All) {
    EXPECT_FALSE(child_done_when_resumed) << "the awaited task is not cancelled";
    EXPECT_EQ(WEFT_TASK_WAITING, state(child));
    EXPECT_EQ(0, weft_task_cancel(loop, child));
  }
  if (kind == Kind::AllCoe) {
    EXPECT_TRUE(child_done_when_resumed) << "the group resolves after its children finished";
    EXPECT_EQ(WEFT_ECANCELED, child_status);
    EXPECT_EQ(77, result(child));
  }
  EXPECT_EQ(0, run());
  if (joins) {
    EXPECT_EQ(WEFT_TASK_DONE, state(child));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Every, Interrupt,
    testing::Combine(testing::Values(Kind::First, Kind::Sleep, Kind::Fd, Kind::Yield, Kind::Task,
                                     Kind::All, Kind::AllCoe),
                     testing::Bool()),
    [](const testing::TestParamInfo<std::tuple<Kind, bool>> &info) {
      return std::string(kind_name(std::get<0>(info.param))) +
             (std::get<1>(info.param) ? "_Timeout" : "_Cancel");
    });

class Cancel : public LoopTest {};

TEST_F(Cancel, BeforeTheFirstStepTheStepStillRunsWithEcanceled) {
  std::vector<int> st;
  weft_task_t t = spawn([&](weft_task_t, int status, int) {
    st.push_back(status);
    return 3;
  });
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, weft_task_cancel(loop, t)) << "a second request is dropped";
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{WEFT_ECANCELED}), st);
  EXPECT_EQ(3, result(t));
}

TEST_F(Cancel, FinishedTaskIsUnchanged) {
  weft_task_t t = spawn([](weft_task_t, int, int) { return 12; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, weft_task_timeout(loop, t, 1));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  EXPECT_EQ(12, result(t));
}

TEST_F(Cancel, TwiceWhileWaitingIsDeliveredOnce) {
  std::vector<int> st;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) return weft_await_sleep(loop, self, kHour);
    if (step == 1) return weft_await_sleep(loop, self, 1 * kMs);
    return 0;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_ECANCELED, 0}), st);
}

TEST_F(Cancel, RunningTaskGetsItFromItsNextAwait) {
  std::vector<int> st;
  int64_t t0 = 0;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      t0 = mono();
      EXPECT_EQ(0, weft_task_cancel(loop, self));
      EXPECT_EQ(WEFT_TASK_RUNNING, weft_task_state(loop, self));
      // Resolves at once with ECANCELED instead of sleeping an hour.
      return weft_await_sleep(loop, self, kHour);
    }
    if (step == 1) return weft_await_sleep(loop, self, 0);
    return 5;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_ECANCELED, 0}), st);
  EXPECT_EQ(5, result(t));
}

TEST_F(Cancel, SelfCancelAfterArmingResolvesTheArmedAwait) {
  std::vector<int> st;
  Pipe p;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      int r = weft_await_fd(loop, self, p.r, WEFT_READABLE);
      EXPECT_EQ(0, weft_task_cancel(loop, self));
      return r;
    }
    return 1;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_ECANCELED}), st);
  EXPECT_EQ(1, result(t));
}

TEST_F(Cancel, SelfCancelThenFinishingWithoutAnAwaitIsHarmless) {
  weft_task_t t = spawn([&](weft_task_t self, int, int) {
    weft_task_cancel(loop, self);
    return 8;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(8, result(t));
}

// An await that already completed when the cancellation arrives delivers
// its result first; the cancellation comes from the next await.
TEST_F(Cancel, CompletedSleepDeliversItsResultFirst) {
  std::vector<int> st;
  weft_task_t victim = 0;
  victim = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) return weft_await_sleep(loop, self, 1 * kMs);
    if (step == 1) return weft_await_sleep(loop, self, kHour);
    return 0;
  });
  spawn([&](weft_task_t, int, int) {
    // Runs after the victim armed its sleep: this timer's deadline is later,
    // and both have passed when the next iteration's timer phase begins.
    timer(1 * kMs, 0, [&](weft_timer_t) {
      EXPECT_EQ(WEFT_TASK_READY, weft_task_state(loop, victim)) << "the sleep already completed";
      EXPECT_EQ(0, weft_task_cancel(loop, victim));
    });
    busy_wait(3 * kMs);
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 0, WEFT_ECANCELED}), st);
}

TEST_F(Cancel, CompletedTaskAwaitDeliversItsResultFirst) {
  std::vector<int> st;
  weft_task_t done = spawn([](weft_task_t, int, int) { return 66; });
  ASSERT_EQ(0, run());
  weft_task_t victim = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      int r = weft_await_task(loop, self, done);  // completes at once
      EXPECT_EQ(0, weft_task_cancel(loop, self));
      return r;
    }
    if (step == 1) return weft_await_yield(loop, self);
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 66, WEFT_ECANCELED}), st);
  EXPECT_EQ(0, result(victim));
}

TEST_F(Cancel, CompletedFdAwaitDeliversItsResultFirst) {
  std::vector<int> st;
  Pipe p;
  weft_task_t victim = 0;
  victim = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) return weft_await_fd(loop, self, p.w, WEFT_WRITABLE);
    if (step == 1) return weft_await_sleep(loop, self, kHour);
    return 0;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));  // armed, polled, resolved: READY
  ASSERT_EQ(WEFT_TASK_READY, state(victim));
  EXPECT_EQ(0, weft_task_cancel(loop, victim));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_WRITABLE, WEFT_ECANCELED}), st);
}

// ------------------------------------------------------------- timeouts

class Timeout : public LoopTest {};

TEST_F(Timeout, BadArgumentsAndHugeValues) {
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_sleep(loop, self, INT64_MAX);  // saturates
    return status;
  });
  EXPECT_EQ(WEFT_EINVAL, weft_task_timeout(loop, t, -1));
  EXPECT_EQ(WEFT_EINVAL, weft_task_timeout(loop, t, INT64_MIN));
  EXPECT_EQ(0, weft_task_timeout(loop, t, INT64_MAX)) << "never fires";
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(WEFT_TASK_WAITING, state(t));
  EXPECT_GT(weft_loop_next_timeout(loop), kHour);
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(t));
}

TEST_F(Timeout, FiresOnceNeverEarly) {
  std::vector<int> st;
  int64_t t0 = 0, t1 = 0;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      t0 = mono();
      EXPECT_EQ(0, weft_task_timeout(loop, self, 2 * kMs));
      return weft_await_sleep(loop, self, kHour);
    }
    if (step == 1) {
      t1 = mono();
      return weft_await_sleep(loop, self, 3 * kMs);  // no second timeout
    }
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_ETIMEDOUT, 0}), st);
  EXPECT_GE(t1, t0 + 2 * kMs);
  EXPECT_EQ(0, result(t));
}

TEST_F(Timeout, ZeroClearsAndALaterCallReplaces) {
  std::vector<int> st;
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
      EXPECT_EQ(0, weft_task_timeout(loop, self, 0));  // cleared
      return weft_await_sleep(loop, self, 3 * kMs);
    }
    if (step == 1) {
      EXPECT_EQ(0, weft_task_timeout(loop, self, kHour));
      EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));  // replaces
      return weft_await_sleep(loop, self, kHour);
    }
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 0, WEFT_ETIMEDOUT}), st);
  EXPECT_EQ(0, result(t));
}

TEST_F(Timeout, ExpiringWhileRunningHitsTheNextAwait) {
  std::vector<int> st;
  spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) return weft_await_yield(loop, self);
    if (step == 1) {
      EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
      busy_wait(2 * kMs);  // the deadline passes while we run
      return weft_await_yield(loop, self);
    }
    if (step == 2) return weft_await_yield(loop, self);
    return 0;
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(4u, st.size());
  EXPECT_EQ(0, st[0]);
  EXPECT_EQ(0, st[1]);
  EXPECT_EQ(WEFT_ETIMEDOUT, st[2]) << "the yield after the deadline resolves with it";
  EXPECT_EQ(0, st[3]);
}

TEST_F(Timeout, CompletedAwaitDeliversItsResultFirst) {
  std::vector<int> st;
  spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      int r = weft_await_sleep(loop, self, 1 * kMs);
      EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));  // a later deadline
      busy_wait(3 * kMs);  // both due at the next timer phase, sleep first
      return r;
    }
    if (step == 1) return weft_await_sleep(loop, self, kHour);
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 0, WEFT_ETIMEDOUT}), st);
}

// The same expiry, waiting for the next await, is dropped when the task
// clears (or replaces) its deadline first: it belongs to the old deadline.
TEST_F(Timeout, ClearingTheDeadlineDropsAnUndeliveredExpiry) {
  for (int64_t again : {int64_t(0), kHour}) {
    std::vector<int> st;
    spawn([&](weft_task_t self, int status, int step) {
      st.push_back(status);
      if (step == 0) {
        int r = weft_await_sleep(loop, self, 1 * kMs);
        EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
        busy_wait(3 * kMs);  // sleep resolves, then the deadline expires
        return r;
      }
      if (step == 1) {
        EXPECT_EQ(0, weft_task_timeout(loop, self, again));
        return weft_await_yield(loop, self);
      }
      return 0;
    });
    EXPECT_EQ(0, run());
    EXPECT_EQ((std::vector<int>{0, 0, 0}), st) << "deadline reset to " << again;
  }
}

// Both the timeout and a cancellation happen before the task resumes: the
// timeout came first and is delivered; the cancel is never lost (issue 11,
// asyncio's rule): the next await resolves with it.
TEST_F(Timeout, TimeoutBeforeCancelThenTheCancel) {
  std::vector<int> st;
  weft_task_t victim = 0;
  victim = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
      return weft_await_sleep(loop, self, kHour);
    }
    if (step == 1) return weft_await_sleep(loop, self, 2 * kMs);
    return 0;
  });
  spawn([&](weft_task_t, int, int) {
    timer(1 * kMs, 0, [&](weft_timer_t) { EXPECT_EQ(0, weft_task_cancel(loop, victim)); });
    busy_wait(3 * kMs);
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_ETIMEDOUT, WEFT_ECANCELED}), st);
}

// The other order: the cancel is delivered, the expiry is dropped.
TEST_F(Timeout, CancelBeforeTimeoutWins) {
  std::vector<int> st;
  weft_task_t victim = 0;
  spawn([&](weft_task_t, int, int) {
    timer(1 * kMs, 0, [&](weft_timer_t) { EXPECT_EQ(0, weft_task_cancel(loop, victim)); });
    return 0;
  });
  victim = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
      busy_wait(3 * kMs);
      return weft_await_sleep(loop, self, kHour);
    }
    if (step == 1) return weft_await_sleep(loop, self, 3 * kMs);  // no late timeout
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, WEFT_ECANCELED, 0}), st);
}

TEST_F(Timeout, TimeoutOnADetachedTask) {
  TaskBox *b = nullptr;
  weft_task_t t = spawn(
      [&](weft_task_t self, int status, int step) {
        // The deadline may pass before the first step (then it gets it).
        return step == 0 && status == 0 ? weft_await_sleep(loop, self, kHour) : status;
      },
      &b);
  EXPECT_EQ(0, weft_task_timeout(loop, t, 1 * kMs));
  EXPECT_EQ(0, weft_task_release(loop, t));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ETIMEDOUT, b->last);
  EXPECT_EQ(WEFT_ESTALE, state(t));
}

// Half the tasks sleep an hour and must time out; the other half sleep 0
// and finish normally unless their deadline passed first (a slow machine:
// then they time out too, which is as correct). Each timeout fires once.
TEST_F(Timeout, ManyTasksWithTimeouts) {
  const int n = 2000;
  int odd_timed_out = 0, finished = 0, bad = 0;
  for (int i = 0; i < n; i++) {
    weft_task_t t = spawn([&, i](weft_task_t self, int status, int step) {
      if (step == 0 && status == 0) return weft_await_sleep(loop, self, i % 2 ? kHour : 0);
      if (i % 2 && status == WEFT_ETIMEDOUT) odd_timed_out++;
      if (status != 0 && status != WEFT_ETIMEDOUT) bad++;
      finished++;
      return 0;
    });
    ASSERT_EQ(0, weft_task_timeout(loop, t, 1 * kMs + i * kUs / 4));
    ASSERT_EQ(0, weft_task_release(loop, t));
  }
  EXPECT_EQ(0, run());
  EXPECT_EQ(n, finished);
  EXPECT_EQ(n / 2, odd_timed_out);
  EXPECT_EQ(0, bad);
}

}  // namespace
