// weft_await_all: gather (no flags) and TaskGroup (WEFT_CANCEL_ON_ERROR)
// semantics exactly as DESIGN.md states them.
#include "weft_test.h"

using namespace wt;

namespace {

class Group : public LoopTest {
 protected:
  // A child that sleeps `ns`, then returns `value`. If cancelled it records
  // that, cleans up with a 1 ms sleep, and returns `on_cancel`.
  struct Kid {
    weft_task_t id = 0;
    int first_status = 1;
    bool done = false;
    int steps = 0;
  };
  std::deque<Kid> kids_;
  Kid *kid(int64_t ns, int value, int on_cancel = WEFT_ECANCELED) {
    kids_.emplace_back();
    Kid *k = &kids_.back();
    // Cancelled before its first step, it gets that step with ECANCELED.
    k->id = spawn([this, k, ns, value, on_cancel](weft_task_t self, int status, int step) {
      k->steps++;
      if (step == 0 && status == 0) return weft_await_sleep(loop, self, ns);
      if (k->first_status == 1) {
        k->first_status = status;
        if (status == WEFT_ECANCELED) return weft_await_sleep(loop, self, 1 * kMs);
        k->done = true;
        return value;
      }
      k->done = true;
      return on_cancel;
    });
    return k;
  }
};

TEST_F(Group, NoErrorResolvesWithZeroAfterAll) {
  Kid *a = kid(1 * kMs, 1), *b = kid(2 * kMs, 2), *c = kid(0, 3);
  bool all_done = false;
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[3] = {a->id, b->id, c->id};
    if (step == 0) return weft_await_all(loop, self, list, 3, WEFT_CANCEL_ON_ERROR);
    all_done = a->done && b->done && c->done;
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, result(g));
  EXPECT_TRUE(all_done);
}

TEST_F(Group, FirstErrorCancelsTheOthersAndResolvesAfterAllFinished) {
  Kid *slow1 = kid(kHour, 1), *failing = kid(1 * kMs, -5), *slow2 = kid(kHour, 2);
  Kid *late_fail = kid(kHour, 0, -9);  // returns -9 when cancelled: not "first"
  bool all_done = false;
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[4] = {slow1->id, failing->id, slow2->id, late_fail->id};
    if (step == 0) return weft_await_all(loop, self, list, 4, WEFT_CANCEL_ON_ERROR);
    all_done = slow1->done && failing->done && slow2->done && late_fail->done;
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-5, result(g)) << "the first error";
  EXPECT_TRUE(all_done) << "resolved only after every child finished (cleanup included)";
  EXPECT_EQ(WEFT_ECANCELED, slow1->first_status);
  EXPECT_EQ(WEFT_ECANCELED, slow2->first_status);
  EXPECT_EQ(WEFT_ECANCELED, result(slow1->id));
  EXPECT_EQ(-9, result(late_fail->id));
  EXPECT_EQ(0, failing->first_status);
}

TEST_F(Group, ChildCancelledByTheGroupMayStillSucceed) {
  Kid *failing = kid(0, -3);
  Kid *stubborn = kid(kHour, 0, 100);  // ignores cancellation: returns 100
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {stubborn->id, failing->id};
    return step == 0 ? weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-3, result(g));
  EXPECT_EQ(100, result(stubborn->id));
}

TEST_F(Group, ChildThatFailedBeforeTheAwaitCancelsTheRest) {
  weft_task_t failed = spawn([](weft_task_t, int, int) { return -7; });
  EXPECT_EQ(0, run());
  Kid *slow = kid(kHour, 1);
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {slow->id, failed};
    return step == 0 ? weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-7, result(g));
  EXPECT_EQ(WEFT_ECANCELED, slow->first_status);
  EXPECT_TRUE(slow->done);
}

TEST_F(Group, AllAlreadyFinishedResolvesWithTheFirstErrorInListOrder) {
  weft_task_t ok = spawn([](weft_task_t, int, int) { return 1; });
  weft_task_t e1 = spawn([](weft_task_t, int, int) { return -1; });
  weft_task_t e2 = spawn([](weft_task_t, int, int) { return -2; });
  EXPECT_EQ(0, run());
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[3] = {ok, e2, e1};
    return step == 0 ? weft_await_all(loop, self, list, 3, WEFT_CANCEL_ON_ERROR) : status;
  });
  weft_task_t g0 = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[3] = {ok, e2, e1};
    return step == 0 ? weft_await_all(loop, self, list, 3, 0) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-2, result(g));
  EXPECT_EQ(0, result(g0)) << "gather: 0 whatever the children returned";
}

TEST_F(Group, ErrorsDoNotCancelWithoutTheFlag) {
  Kid *failing = kid(0, -4), *slow = kid(2 * kMs, 9);
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {failing->id, slow->id};
    if (step == 0) return weft_await_all(loop, self, list, 2, 0);
    EXPECT_TRUE(slow->done);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, result(g));
  EXPECT_EQ(0, slow->first_status) << "not cancelled";
  EXPECT_EQ(9, result(slow->id));
}

TEST_F(Group, CancellingTheWaiterCancelsChildrenAndWaitsForThem) {
  Kid *a = kid(kHour, 1), *b = kid(kHour, 2);
  bool all_done = false;
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {a->id, b->id};
    if (step == 0) return weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR);
    all_done = a->done && b->done;
    return status;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_cancel(loop, g));
  EXPECT_EQ(WEFT_TASK_WAITING, state(g)) << "waits for its children to finish";
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(g));
  EXPECT_TRUE(all_done);
  EXPECT_EQ(WEFT_ECANCELED, a->first_status);
  EXPECT_EQ(WEFT_ECANCELED, b->first_status);
}

TEST_F(Group, WaiterTimingOutCancelsChildrenAndResolvesWithEtimedout) {
  Kid *a = kid(kHour, 1), *b = kid(0, 2);
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {a->id, b->id};
    if (step == 0) {
      EXPECT_EQ(0, weft_task_timeout(loop, self, 2 * kMs));
      return weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR);
    }
    EXPECT_TRUE(a->done);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ETIMEDOUT, result(g));
  EXPECT_EQ(WEFT_ECANCELED, a->first_status);
  EXPECT_EQ(2, result(b->id));
}

TEST_F(Group, CancellingTheWaiterWithoutTheFlagCancelsOnlyItsAwait) {
  Kid *a = kid(2 * kMs, 1);
  int64_t resumed_with_a_running = -1;
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_all(loop, self, &a->id, 1, 0);
    resumed_with_a_running = !a->done;
    return status;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_cancel(loop, g));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(g));
  EXPECT_EQ(1, resumed_with_a_running);
  EXPECT_EQ(0, a->first_status);
  EXPECT_EQ(1, result(a->id));
}

TEST_F(Group, ChildErrorWhileTheWaiterIsBeingCancelledKeepsTheFirst) {
  // The waiter is cancelled first; a child then fails while being
  // cancelled: the await resolves with ECANCELED (the first).
  Kid *a = kid(kHour, 1, -50);
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_all(loop, self, &a->id, 1, WEFT_CANCEL_ON_ERROR) : status;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_cancel(loop, g));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(g));
  EXPECT_EQ(-50, result(a->id));
}

TEST_F(Group, CancelOfTheWaiterDuringAChildErrorAbortIsDeliveredNext) {
  // A child fails; while the group waits for the others' cleanup, the
  // waiter is cancelled: the await still resolves with the child's error
  // and the cancellation comes from the waiter's next await.
  Kid *failing = kid(0, -6), *slow = kid(kHour, 1);
  std::vector<int> st;
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    weft_task_t list[2] = {failing->id, slow->id};
    if (step == 0) return weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR);
    if (step == 1) return weft_await_sleep(loop, self, kHour);
    return 0;
  });
  // Iteration 1: steps armed. Iteration 2: failing finishes, slow cancelled
  // (starts its 1 ms cleanup).
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_TRUE(failing->done);
  ASSERT_FALSE(slow->done);
  EXPECT_EQ(0, weft_task_cancel(loop, g));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, -6, WEFT_ECANCELED}), st);
}

TEST_F(Group, DuplicatesAreCountedOnce) {
  Kid *a = kid(1 * kMs, -1), *b = kid(kHour, 2);
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[5] = {a->id, b->id, a->id, b->id, a->id};
    return step == 0 ? weft_await_all(loop, self, list, 5, WEFT_CANCEL_ON_ERROR) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-1, result(g));
  EXPECT_EQ(WEFT_ECANCELED, b->first_status);
}

TEST_F(Group, NestedGroupsPropagateCancellation) {
  Kid *leaf1 = kid(kHour, 1), *leaf2 = kid(kHour, 2);
  weft_task_t inner = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {leaf1->id, leaf2->id};
    return step == 0 ? weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR) : status;
  });
  Kid *failing = kid(1 * kMs, -8);
  weft_task_t outer = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {inner, failing->id};
    return step == 0 ? weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-8, result(outer));
  EXPECT_EQ(WEFT_ECANCELED, result(inner));
  EXPECT_TRUE(leaf1->done);
  EXPECT_TRUE(leaf2->done);
  EXPECT_EQ(WEFT_ECANCELED, leaf1->first_status);
}

// A child also awaited by another of the group's children: when it fails,
// the group cancels its sibling, which is itself waiting on the failed
// child. Every waiter must be told exactly once.
TEST_F(Group, FailingChildAwaitedByASiblingAndByTheGroup) {
  weft_task_t b = 0, c = 0;
  std::vector<int> c_st;
  b = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : -3;
  });
  c = spawn([&](weft_task_t self, int status, int step) {
    c_st.push_back(status);
    if (step == 0) return weft_await_task(loop, self, b);  // linked first
    if (step == 1) return weft_await_yield(loop, self);
    return 4;
  });
  weft_task_t a = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {b, c};
    return step == 0 ? weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR) : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-3, result(a));
  EXPECT_EQ(4, result(c));
  ASSERT_EQ(3u, c_st.size());
  EXPECT_EQ(0, c_st[0]);
  // c hears either b's result or the group's cancellation, then the other
  // one at its next await -- never twice the same, never garbage.
  EXPECT_TRUE((c_st[1] == -3 && c_st[2] == WEFT_ECANCELED) ||
              (c_st[1] == WEFT_ECANCELED && c_st[2] == 0))
      << c_st[1] << " " << c_st[2];
}

// The same with the sibling linked after the group.
TEST_F(Group, FailingChildAwaitedByTheGroupThenBySibling) {
  weft_task_t b = 0, c = 0;
  std::vector<int> c_st;
  b = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : -3;
  });
  weft_task_t a = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {b, c};
    return step == 0 ? weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR) : status;
  });
  c = spawn([&](weft_task_t self, int status, int step) {
    c_st.push_back(status);
    if (step == 0) return weft_await_task(loop, self, b);
    if (step == 1) return weft_await_yield(loop, self);
    return 4;
  });
  // a's list is read when a's first step runs; c is spawned by then.
  EXPECT_EQ(0, run());
  EXPECT_EQ(-3, result(a));
  EXPECT_EQ(4, result(c));
}

// A task with a cancellation pending (its previous await had completed when
// it was cancelled) enters a TaskGroup: the group's children are cancelled
// and the await resolves only after they finished, with WEFT_ECANCELED.
TEST_F(Group, PendingCancellationAtTheGroupAwaitCancelsTheChildren) {
  std::vector<Kid *> ks;
  bool all_done_when_resumed = false;
  std::vector<int> st;
  weft_task_t done = spawn([](weft_task_t, int, int) { return 0; });
  ASSERT_EQ(0, run());
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    st.push_back(status);
    if (step == 0) {
      int r = weft_await_task(loop, self, done);  // completes at once
      EXPECT_EQ(0, weft_task_cancel(loop, self));  // delivered at the next await
      return r;
    }
    if (step == 1) {
      ks = {kid(kHour, 1), kid(kHour, 2)};
      weft_task_t list[2] = {ks[0]->id, ks[1]->id};
      return weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR);
    }
    all_done_when_resumed = ks[0]->done && ks[1]->done;
    return status;
  });
  {
    Watchdog wd(loop, 10 * kSec);
    EXPECT_EQ(0, run());
    EXPECT_FALSE(wd.fired) << "the children were left running";
  }
  EXPECT_EQ((std::vector<int>{0, 0, WEFT_ECANCELED}), st);
  ASSERT_EQ(2u, ks.size());
  EXPECT_TRUE(all_done_when_resumed);
  EXPECT_EQ(WEFT_ECANCELED, ks[0]->first_status);
  if (state(g) != WEFT_TASK_DONE) {
    for (Kid *k : ks) weft_task_cancel(loop, k->id);
    run();
  }
}

TEST_F(Group, LargeGroup) {
  const int n = 2000;
  std::vector<weft_task_t> ids;
  for (int i = 0; i < n; i++) ids.push_back(kid(i == n / 2 ? 1 * kMs : kHour, 1)->id);
  // One child fails after 1 ms.
  weft_task_t failer = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_sleep(loop, self, 500 * kUs) : -11;
  });
  ids.push_back(failer);
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_all(loop, self, ids.data(), ids.size(), WEFT_CANCEL_ON_ERROR)
                     : status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-11, result(g));
  int cancelled = 0;
  for (auto &k : kids_) cancelled += k.first_status == WEFT_ECANCELED;
  EXPECT_GE(cancelled, n - 1);
}

}  // namespace
