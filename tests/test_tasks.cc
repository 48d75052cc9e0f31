// Tasks: spawn, steps, state and result, release/detach, the await rules
// (one per step, only inside the own step, disarmed when the step finishes),
// and each await kind's normal result.
#include <map>

#include "weft_test.h"

using namespace wt;

namespace {

class Tasks : public LoopTest {};

TEST_F(Tasks, SpawnBadArguments) {
  weft_task_t t = 0;
  EXPECT_EQ(WEFT_EINVAL, weft_task_spawn(loop, nullptr, nullptr, &t));
  EXPECT_EQ(0, t);
  EXPECT_EQ(0, stats(loop).tasks_alive);
}

TEST_F(Tasks, SpawnOnlyQueuesAndTheFirstStepGetsZero) {
  bool ran = false;
  weft_task_t t = spawn([&](weft_task_t self, int status, int) {
    ran = true;
    EXPECT_EQ(0, status);
    EXPECT_EQ(WEFT_TASK_RUNNING, weft_task_state(loop, self));
    return 42;
  });
  EXPECT_FALSE(ran) << "never inside spawn";
  EXPECT_EQ(WEFT_TASK_READY, state(t));
  int r = 0;
  EXPECT_EQ(WEFT_EBUSY, weft_task_result(loop, t, &r));
  EXPECT_EQ(0, run());
  EXPECT_TRUE(ran);
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  EXPECT_EQ(42, result(t));
  EXPECT_EQ(WEFT_EINVAL, weft_task_result(loop, t, nullptr));
  EXPECT_EQ(0, weft_task_release(loop, t));
}

TEST_F(Tasks, ResultsAreAnyIntButPending) {
  const int values[] = {0, 1, -1, INT32_MAX - 1, INT32_MIN, WEFT_ECANCELED, WEFT_ESTALE};
  std::vector<weft_task_t> ids;
  for (int v : values) ids.push_back(spawn([v](weft_task_t, int, int) { return v; }));
  EXPECT_EQ(0, run());
  for (size_t i = 0; i < ids.size(); i++) EXPECT_EQ(values[i], result(ids[i]));
}

TEST_F(Tasks, StatesThroughALife) {
  std::vector<int> seen;
  weft_task_t t = 0;
  t = spawn([&](weft_task_t self, int, int step) {
    seen.push_back(weft_task_state(loop, self));
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : 0;
  });
  EXPECT_EQ(WEFT_TASK_READY, state(t));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(WEFT_TASK_WAITING, state(t));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  EXPECT_EQ((std::vector<int>{WEFT_TASK_RUNNING, WEFT_TASK_RUNNING}), seen);
}

TEST_F(Tasks, ReadyTasksRunFifo) {
  std::vector<int> order;
  for (int i = 0; i < 50; i++)
    spawn([&, i](weft_task_t, int, int) {
      order.push_back(i);
      return 0;
    });
  EXPECT_EQ(0, run());
  ASSERT_EQ(50u, order.size());
  for (int i = 0; i < 50; i++) EXPECT_EQ(i, order[i]);
}

TEST_F(Tasks, YieldRequeuesBehindTheReadyTasks) {
  std::vector<std::pair<int, int>> order;  // (task, step)
  for (int i = 0; i < 3; i++)
    spawn([&, i](weft_task_t self, int status, int step) {
      EXPECT_EQ(0, status);
      order.emplace_back(i, step);
      return step < 2 ? weft_await_yield(loop, self) : 0;
    });
  std::vector<int64_t> its;
  spawn([&](weft_task_t self, int, int step) {
    its.push_back(stat_iterations(loop));
    return step < 2 ? weft_await_yield(loop, self) : 0;
  });
  EXPECT_EQ(0, run());
  std::vector<std::pair<int, int>> want;
  for (int step = 0; step < 3; step++)
    for (int i = 0; i < 3; i++) want.emplace_back(i, step);
  EXPECT_EQ(want, order);
  ASSERT_EQ(3u, its.size());
  EXPECT_EQ(its[0] + 1, its[1]) << "a yield resumes in the next iteration, after one poll";
  EXPECT_EQ(its[1] + 1, its[2]);
}

TEST_F(Tasks, DetachedTaskIsFreedWhenItFinishes) {
  TaskBox *b = spawn_detached([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_yield(loop, self) : 9;
  });
  EXPECT_EQ(1, stats(loop).tasks_alive);
  EXPECT_EQ(0, run());
  EXPECT_TRUE(b->finished);
  EXPECT_EQ(9, b->last);
  EXPECT_EQ(0, stats(loop).tasks_alive);
}

TEST_F(Tasks, DetachedTaskCanUseItsOwnId) {
  weft_task_t seen = 0;
  int st = 0;
  spawn_detached([&](weft_task_t self, int, int step) {
    seen = self;
    st = weft_task_state(loop, self);
    return step == 0 ? weft_await_sleep(loop, self, 0) : 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_GT(seen, 0);
  EXPECT_EQ(WEFT_TASK_RUNNING, st);
  EXPECT_EQ(WEFT_ESTALE, weft_task_state(loop, seen)) << "freed when it finished";
}

TEST_F(Tasks, ReleaseFinishedThenTwice) {
  weft_task_t t = spawn([](weft_task_t, int, int) { return 1; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, weft_task_release(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_task_release(loop, t));
}

TEST_F(Tasks, ReleaseUnfinishedDetachesIt) {
  TaskBox *b = nullptr;
  weft_task_t t = spawn(
      [&](weft_task_t self, int status, int step) {
        if (step == 0) return weft_await_sleep(loop, self, kHour);
        return status == WEFT_ECANCELED ? 5 : 6;
      },
      &b);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_release(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_task_release(loop, t)) << "a second release";
  EXPECT_EQ(WEFT_TASK_WAITING, state(t)) << "the id still works until it finishes";
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(WEFT_TASK_READY, state(t));
  EXPECT_EQ(0, run());
  EXPECT_EQ(5, b->last);
  EXPECT_EQ(WEFT_ESTALE, weft_task_state(loop, t)) << "freed when it finished";
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(loop, t));
}

TEST_F(Tasks, ReleaseOwnIdInsideTheStep) {
  int rc = 1;
  weft_task_t t = 0;
  t = spawn([&](weft_task_t self, int, int step) {
    if (step == 0) {
      rc = weft_task_release(loop, self);
      return weft_await_yield(loop, self);
    }
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, rc);
  EXPECT_EQ(WEFT_ESTALE, state(t));
}

TEST_F(Tasks, PendingWithoutAnAwaitIsEinvalAndLogged) {
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_yield(loop, self);
    return WEFT_PENDING;  // second step: nothing armed
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, result(t));
  EXPECT_EQ(1, count_logs(WEFT_LOG_ERROR));
}

TEST_F(Tasks, SecondAwaitInAStepIsEbusyAndTheFirstStaysArmed) {
  std::vector<int> rcs;
  Pipe p;
  int64_t start = 0, resumed = 0;
  weft_task_t helper = spawn([](weft_task_t, int, int) { return 0; });
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      start = mono();
      int r = weft_await_sleep(loop, self, 2 * kMs);
      EXPECT_EQ(WEFT_PENDING, r);
      rcs.push_back(weft_await_sleep(loop, self, 0));
      rcs.push_back(weft_await_yield(loop, self));
      rcs.push_back(weft_await_fd(loop, self, p.w, WEFT_WRITABLE));
      rcs.push_back(weft_await_task(loop, self, helper));
      rcs.push_back(weft_await_all(loop, self, &helper, 1, WEFT_CANCEL_ON_ERROR));
      rcs.push_back(weft_await_all(loop, self, nullptr, 0, 0));
      return r;
    }
    resumed = mono();
    return status;
  });
  EXPECT_EQ(0, run());
  for (int rc : rcs) EXPECT_EQ(WEFT_EBUSY, rc);
  EXPECT_EQ(0, result(t)) << "resumed by the sleep, not by the later ones";
  EXPECT_GE(resumed, start + 2 * kMs);
}

TEST_F(Tasks, AwaitOutsideItsStepIsEinval) {
  std::vector<int> rcs;
  weft_task_t sleeper = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  Pipe p;
  auto all_awaits = [&](weft_task_t who) {
    rcs.push_back(weft_await_sleep(loop, who, 0));
    rcs.push_back(weft_await_fd(loop, who, p.w, WEFT_WRITABLE));
    rcs.push_back(weft_await_yield(loop, who));
    rcs.push_back(weft_await_all(loop, who, nullptr, 0, 0));
  };
  all_awaits(sleeper);  // before run: no step is running
  post([&] { all_awaits(sleeper); });
  timer(0, 0, [&](weft_timer_t) { all_awaits(sleeper); });
  // From another task's step, naming the sleeper as self.
  spawn([&](weft_task_t, int, int) {
    all_awaits(sleeper);
    return 0;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  all_awaits(sleeper);  // after run
  ASSERT_EQ(20u, rcs.size());
  for (size_t i = 0; i < rcs.size(); i++) EXPECT_EQ(WEFT_EINVAL, rcs[i]) << i;
  EXPECT_EQ(WEFT_TASK_WAITING, state(sleeper)) << "nothing disturbed the sleeper";
  weft_task_cancel(loop, sleeper);
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(sleeper));
}

TEST_F(Tasks, ArmedAwaitIsDisarmedWhenTheStepFinishes) {
  Pipe p;
  weft_task_t ts = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_sleep(loop, self, kHour));
    return 1;
  });
  weft_task_t tf = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_fd(loop, self, p.w, WEFT_WRITABLE));
    return 2;
  });
  weft_task_t ty = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_yield(loop, self));
    return 3;
  });
  weft_task_t other = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 2 * kMs) : status;
  });
  weft_task_t tt = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_task(loop, self, other));
    return 4;
  });
  weft_task_t ta = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_all(loop, self, &other, 1, WEFT_CANCEL_ON_ERROR));
    return 5;
  });
  EXPECT_EQ(0, run()) << "nothing armed by a finished step keeps the loop alive";
  EXPECT_EQ(1, result(ts));
  EXPECT_EQ(2, result(tf));
  EXPECT_EQ(3, result(ty));
  EXPECT_EQ(4, result(tt));
  EXPECT_EQ(5, result(ta));
  EXPECT_EQ(0, result(other)) << "the disarmed group did not cancel its child";
}

// ----------------------------------------------------------------- sleep

TEST_F(Tasks, SleepResultAndNeverEarly) {
  const int64_t asked[] = {0, 1, 500 * kUs, 2 * kMs};
  std::map<weft_task_t, int64_t> start;
  std::vector<int> statuses;
  int early = 0;
  for (int64_t ns : asked)
    spawn([&, ns](weft_task_t self, int status, int step) {
      if (step == 0) {
        start[self] = mono();
        post([] {});  // posts do not wake sleepers early
        return weft_await_sleep(loop, self, ns);
      }
      if (mono() < start[self] + ns) early++;
      statuses.push_back(status);
      return 0;
    });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, early);
  EXPECT_EQ((std::vector<int>{0, 0, 0, 0}), statuses);
}

TEST_F(Tasks, SleepNegativeIsEinval) {
  int rc = 0;
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    if (step == 0) {
      rc = weft_await_sleep(loop, self, -1);
      EXPECT_EQ(WEFT_EINVAL, weft_await_sleep(loop, self, INT64_MIN));
      return weft_await_sleep(loop, self, 0);
    }
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, rc);
  EXPECT_EQ(0, result(t));
}

TEST_F(Tasks, AwaitErrorReturnedFinishesTheTaskWithIt) {
  weft_task_t t = spawn([&](weft_task_t self, int, int) { return weft_await_sleep(loop, self, -5); });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, result(t));
}

// ------------------------------------------------------------------ task

TEST_F(Tasks, AwaitTaskGetsItsResult) {
  weft_task_t child = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : -77;
  });
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_task(loop, self, child) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-77, result(parent));
}

TEST_F(Tasks, AwaitFinishedTaskResolvesInTheNextIteration) {
  weft_task_t child = spawn([](weft_task_t, int, int) { return 13; });
  EXPECT_EQ(0, run());
  int64_t it0 = -1, it1 = -1;
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      it0 = stat_iterations(loop);
      return weft_await_task(loop, self, child);
    }
    it1 = stat_iterations(loop);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(13, result(parent));
  EXPECT_EQ(it0 + 1, it1);
}

TEST_F(Tasks, AwaitTaskOnSelfIsEinvalAndStaleIsEstale) {
  weft_task_t done = spawn([](weft_task_t, int, int) { return 0; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, weft_task_release(loop, done));
  std::vector<int> rcs;
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    if (step > 0) return 0;
    rcs.push_back(weft_await_task(loop, self, self));
    rcs.push_back(weft_await_task(loop, self, done));
    rcs.push_back(weft_await_task(loop, self, 0));
    return weft_await_yield(loop, self);
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{WEFT_EINVAL, WEFT_ESTALE, WEFT_ESTALE}), rcs);
  EXPECT_EQ(0, result(t));
}

TEST_F(Tasks, ReleasingTheAwaitedTaskDoesNotDisturbTheAwait) {
  weft_task_t child = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : 31;
  });
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      int r = weft_await_task(loop, self, child);
      EXPECT_EQ(0, weft_task_release(loop, child));
      return r;
    }
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(31, result(parent));
  EXPECT_EQ(WEFT_ESTALE, weft_task_state(loop, child));
}

TEST_F(Tasks, AReleasedUnfinishedTaskCanStillBeAwaited) {
  weft_task_t child = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : 21;
  });
  ASSERT_EQ(0, weft_task_release(loop, child));
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_task(loop, self, child) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(21, result(parent));
  EXPECT_EQ(WEFT_ESTALE, state(child)) << "freed when it finished";
}

TEST_F(Tasks, ManyAwaitersOfOneTask) {
  weft_task_t child = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : 8;
  });
  std::vector<weft_task_t> ws;
  for (int i = 0; i < 20; i++)
    ws.push_back(spawn([&](weft_task_t self, int status, int step) {
      return step == 0 ? weft_await_task(loop, self, child) : status + 1;
    }));
  EXPECT_EQ(0, run());
  for (weft_task_t w : ws) EXPECT_EQ(9, result(w));
}

TEST_F(Tasks, ChainOfAwaits) {
  const int n = 200;
  std::vector<weft_task_t> chain(n);
  chain[0] = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_yield(loop, self) : 1;
  });
  for (int i = 1; i < n; i++) {
    weft_task_t prev = chain[i - 1];
    chain[i] = spawn([&, prev](weft_task_t self, int status, int step) {
      return step == 0 ? weft_await_task(loop, self, prev) : status + 1;
    });
  }
  EXPECT_EQ(0, run());
  EXPECT_EQ(n, result(chain[n - 1]));
}

// ------------------------------------------------------------------ fd

TEST_F(Tasks, AwaitFdResultIsTheReadyMask) {
  SockPair s;
  ASSERT_EQ(1, ::write(s.b, "x", 1));
  weft_task_t w = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_fd(loop, self, s.a, WEFT_WRITABLE) : status;
  });
  weft_task_t rw = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_fd(loop, self, s.a, WEFT_READABLE | WEFT_WRITABLE) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_WRITABLE, result(w));
  EXPECT_EQ(WEFT_READABLE | WEFT_WRITABLE, result(rw));
}

// ------------------------------------------------------------------ all

TEST_F(Tasks, AwaitAllZeroTasksResumesWithZero) {
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_all(loop, self, nullptr, 0, 0);
    if (step == 1) {
      EXPECT_EQ(0, status);
      return weft_await_all(loop, self, nullptr, 0, WEFT_CANCEL_ON_ERROR);
    }
    return status + 100;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(100, result(t));
}

TEST_F(Tasks, AwaitAllBadArguments) {
  weft_task_t child = spawn([](weft_task_t, int, int) { return 0; });
  std::vector<int> rcs;
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    if (step > 0) return 0;
    weft_task_t with_self[3] = {child, self, child};
    rcs.push_back(weft_await_all(loop, self, nullptr, 1, 0));
    rcs.push_back(weft_await_all(loop, self, with_self, 3, 0));
    rcs.push_back(weft_await_all(loop, self, with_self, 3, WEFT_CANCEL_ON_ERROR));
    rcs.push_back(weft_await_all(loop, self, &child, 1, 2));
    rcs.push_back(weft_await_all(loop, self, &child, 1, -1));
    rcs.push_back(weft_await_all(loop, self, &child, 1, WEFT_CANCEL_ON_ERROR | 4));
    return weft_await_yield(loop, self);  // nothing armed
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{WEFT_EINVAL, WEFT_EINVAL, WEFT_EINVAL, WEFT_EINVAL, WEFT_EINVAL,
                              WEFT_EINVAL}),
            rcs);
  EXPECT_EQ(0, result(t));
}

TEST_F(Tasks, AwaitAllWaitsForEveryChildAndReturnsZero) {
  std::vector<weft_task_t> kids;
  for (int i = 0; i < 5; i++)
    kids.push_back(spawn([&, i](weft_task_t self, int, int step) {
      return step == 0 ? weft_await_sleep(loop, self, (5 - i) * 300 * kUs) : (i % 2 ? -i : i);
    }));
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_all(loop, self, kids.data(), kids.size(), 0);
    for (weft_task_t k : kids) EXPECT_EQ(WEFT_TASK_DONE, weft_task_state(loop, k));
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, result(parent)) << "gather resolves with 0, whatever the children returned";
  for (int i = 0; i < 5; i++) EXPECT_EQ(i % 2 ? -i : i, result(kids[i]));
}

TEST_F(Tasks, AwaitAllWithDuplicatesAndFinishedChildren) {
  weft_task_t done = spawn([](weft_task_t, int, int) { return 1; });
  EXPECT_EQ(0, run());
  weft_task_t slow = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : 2;
  });
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      weft_task_t list[5] = {slow, done, slow, done, slow};
      return weft_await_all(loop, self, list, 5, 0);
    }
    EXPECT_EQ(WEFT_TASK_DONE, weft_task_state(loop, slow));
    return status + 10;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(10, result(parent));
}

TEST_F(Tasks, AwaitAllOfFinishedTasksOnly) {
  weft_task_t a = spawn([](weft_task_t, int, int) { return 1; });
  weft_task_t b = spawn([](weft_task_t, int, int) { return 2; });
  EXPECT_EQ(0, run());
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {a, b};
    return step == 0 ? weft_await_all(loop, self, list, 2, 0) : status + 20;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(20, result(parent));
}

TEST_F(Tasks, AwaitAllReadsTheArrayDuringTheCallOnly) {
  weft_task_t kid = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : 0;
  });
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      auto *list = new weft_task_t[2]{kid, kid};
      int r = weft_await_all(loop, self, list, 2, 0);
      delete[] list;  // a use after this is caught by ASan
      return r;
    }
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, result(parent));
}

TEST_F(Tasks, SpawnAndAwaitInsideAStep) {
  std::vector<weft_task_t> kids_;
  weft_task_t parent = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      weft_task_t kids[3];
      for (int i = 0; i < 3; i++) kids[i] = spawn([i](weft_task_t, int, int) { return i + 1; });
      kids_ = std::vector<weft_task_t>(kids, kids + 3);
      return weft_await_all(loop, self, kids, 3, 0);
    }
    int sum = 0;
    for (weft_task_t k : kids_) sum += result(k);
    return status + sum;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(6, result(parent));
}

TEST_F(Tasks, ManyTasksSleeping) {
  const int n = 20000;
  int done = 0;
  for (int i = 0; i < n; i++) {
    TaskBox *b = box([&, i](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_sleep(loop, self, (i % 7) * 100 * kUs);
      EXPECT_EQ(0, status);
      done++;
      return 0;
    });
    ASSERT_EQ(0, weft_task_spawn(loop, &TaskBox::tramp, b, nullptr));
  }
  EXPECT_EQ(n, stats(loop).tasks_alive);
  EXPECT_EQ(0, run());
  EXPECT_EQ(n, done);
  EXPECT_EQ(0, stats(loop).tasks_alive);
}

}  // namespace
