// Cancels are never lost (issue 11, asyncio's rule): a cancel that arrives
// while the current await resolves with WEFT_ETIMEDOUT (or a result) is
// delivered by the next await; clearing a deadline whose expiry waits for
// running pool work delivers the work's result.
#include "weft_test.h"

using namespace wt;

namespace {

class LostCancel : public LoopTest {};
class LostCancelThreaded : public LoopTest {};

// A CANCEL_ON_ERROR group's sibling fails in the same iteration in which a
// child's own timeout fires: the group's cancel reaches the child's next
// await, so the child stops retrying at once (it once retried until its
// retries ran out, and the group resolved half a second late).
TEST_F(LostCancel, GroupCancelsAChildWhoseTimeoutFiredInTheSameIteration) {
  TaskBox *cb = nullptr;
  weft_task_t child = spawn(
      [&](weft_task_t self, int status, int step) {
        if (status == WEFT_ECANCELED) return WEFT_ECANCELED;
        if (step > 5) return -99;  // retried until out of retries: the bug
        EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
        return weft_await_sleep(loop, self, kHour);  // "retry"
      },
      &cb);
  weft_task_t sibling = spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_sleep(loop, self, 1 * kMs);
    return -5;
  });
  // Holds the loop past both deadlines, so that they fire in one phase.
  spawn([&](weft_task_t, int, int) {
    busy_wait(3 * kMs);
    return 0;
  });
  weft_task_t kids[2] = {child, sibling};
  weft_task_t group = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_all(loop, self, kids, 2, WEFT_CANCEL_ON_ERROR);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-5, result(group));
  EXPECT_EQ(WEFT_ECANCELED, result(child));
  EXPECT_LE(cb->steps, 3) << "the child retried instead of seeing the group's cancel";
}

// Work that blocks until the test opens the gate; the loop learns that it
// started through an eventfd.
struct Blocking {
  Gate gate;
  Efd started;
  WorkBox *box = nullptr;
};

TEST_F(LostCancelThreaded, ClearingAnExpiryThatWaitsForRunningWorkDeliversTheResult) {
  Blocking b;
  b.box = work_box([&] {
    b.started.signal();
    b.gate.wait();
    return 42;
  });
  weft_task_t task = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_thread(loop, self, &WorkBox::work_tramp, b.box);
    return status;
  });
  weft_fd_watch_t w = 0;
  w = watch(b.started.fd, WEFT_READABLE, [&](weft_fd_watch_t, int) {
    b.started.take();
    EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
    EXPECT_EQ(0, weft_task_timeout(loop, task, 1));  // expires while the work runs
    timer(2 * kMs, 0, [&](weft_timer_t) {
      EXPECT_EQ(0, weft_task_timeout(loop, task, 0));  // drops that expiry
      b.gate.open();
    });
  });
  Watchdog dog(loop);
  EXPECT_EQ(0, run());
  EXPECT_EQ(42, result(task)) << "the cleared expiry was delivered instead of the result";
}

TEST_F(LostCancelThreaded, CancelAfterAnExpiryThatWaitsForRunningWorkComesNext) {
  Blocking b;
  b.box = work_box([&] {
    b.started.signal();
    b.gate.wait();
    return 42;
  });
  TaskBox *tb = nullptr;
  weft_task_t task = spawn(
      [&](weft_task_t self, int status, int step) {
        if (step == 0) return weft_await_thread(loop, self, &WorkBox::work_tramp, b.box);
        if (step == 1) return weft_await_sleep(loop, self, kHour);  // cleanup, say
        return status;
      },
      &tb);
  weft_fd_watch_t w = 0;
  w = watch(b.started.fd, WEFT_READABLE, [&](weft_fd_watch_t, int) {
    b.started.take();
    EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
    EXPECT_EQ(0, weft_task_timeout(loop, task, 1));
    timer(2 * kMs, 0, [&](weft_timer_t) {
      EXPECT_EQ(0, weft_task_cancel(loop, task));  // while ETIMEDOUT is on its way
      b.gate.open();
    });
  });
  Watchdog dog(loop);
  EXPECT_EQ(0, run());
  EXPECT_FALSE(dog.fired) << "the cancel was lost: the cleanup sleep waited";
  EXPECT_EQ((std::vector<int>{0, WEFT_ETIMEDOUT, WEFT_ECANCELED}), tb->statuses);
}

// The timeout resolves a yield (the task is ready, ETIMEDOUT on its way),
// then a cancel arrives in the same timer phase: the next await gets it.
TEST_F(LostCancel, CancelAfterAnExpiryResolvedAYieldComesNext) {
  TaskBox *tb = nullptr;
  weft_task_t task = spawn(
      [&](weft_task_t self, int status, int step) {
        if (step == 0) {
          EXPECT_EQ(0, weft_task_timeout(loop, self, 1));
          return weft_await_yield(loop, self);
        }
        if (step == 1) return weft_await_sleep(loop, self, kHour);
        return status;
      },
      &tb);
  // Runs after the task's first step: the deadline passes before the next
  // timer phase, and this timer comes due in that phase after it.
  spawn([&](weft_task_t, int, int) {
    busy_wait(1 * kMs);
    timer(0, 0, [&](weft_timer_t) { EXPECT_EQ(0, weft_task_cancel(loop, task)); });
    return 0;
  });
  Watchdog dog(loop);
  EXPECT_EQ(0, run());
  EXPECT_FALSE(dog.fired) << "the cancel was lost";
  EXPECT_EQ((std::vector<int>{0, WEFT_ETIMEDOUT, WEFT_ECANCELED}), tb->statuses);
}

}  // namespace
