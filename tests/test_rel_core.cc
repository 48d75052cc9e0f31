// White-box checks of issue 11's fixes that the C API cannot reach
// deterministically: the foreign-thread guard's window, and the timer heap's
// memory on a loop that never blocks.
#include <gtest/gtest.h>

#include "loop.h"

namespace {

int finish(weft_loop_t *, weft_task_t, int status, void *) { return status; }

// weft_loop_run marks the loop running, then records its owner. A call in
// between (running, no owner yet) is foreign: it once got through and raced
// the loop (TSan: ready_push against run_ready).
TEST(RelCore, RunningLoopWithoutOwnerYetIsForeign) {
  weft_loop_t *loop = nullptr;
  ASSERT_EQ(0, weft_loop_new(&loop));
  loop->running.store(true);  // the window: running is visible, owner is not
  ASSERT_EQ(0u, loop->owner.load());
  weft_task_t t = 0;
  EXPECT_EQ(WEFT_EPERM, weft_task_spawn(loop, finish, nullptr, &t));
  EXPECT_EQ(WEFT_EPERM, weft_task_cancel(loop, 1));
  EXPECT_EQ(0, loop->st_tasks_alive.load()) << "nothing was touched";
  loop->owner.store(weft::thread_token());  // the run's own thread is not foreign
  EXPECT_EQ(0, weft_task_spawn(loop, finish, nullptr, &t));
  loop->owner.store(0);
  loop->running.store(false);
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));
  EXPECT_EQ(0, weft_loop_free(loop));
}

// Re-arming one idle 10-minute timer on every step of a task that keeps the
// loop busy (its timer phase never runs: nothing is due): the heap holds
// O(live timers) entries throughout (it once grew by one entry per re-arm,
// 527 MB for one live timer after 20M re-arms).
TEST(RelCore, HeapStaysSmallOnALoopThatNeverBlocks) {
  weft_loop_t *loop = nullptr;
  ASSERT_EQ(0, weft_loop_new(&loop));
  struct Ctx {
    weft_timer_t timer = 0;
    int steps = 0;
    uint32_t max_size = 0;
  } ctx;
  auto noop = [](weft_loop_t *, weft_timer_t, void *) {};
  ASSERT_EQ(0, weft_timer_start(loop, 600 * 1000000000LL, 0, noop, nullptr, &ctx.timer));
  ASSERT_EQ(0, weft_task_spawn(
                   loop,
                   [](weft_loop_t *l, weft_task_t self, int, void *ud) {
                     Ctx *c = static_cast<Ctx *>(ud);
                     auto nop = [](weft_loop_t *, weft_timer_t, void *) {};
                     if (weft_timer_stop(l, c->timer) != 0) return -1;
                     if (weft_timer_start(l, 600 * 1000000000LL, 0, nop, nullptr, &c->timer) != 0)
                       return -2;
                     if (l->heap.size() > c->max_size) c->max_size = l->heap.size();
                     if (++c->steps == 300000) {
                       weft_timer_stop(l, c->timer);
                       return 0;
                     }
                     return weft_await_yield(l, self);
                   },
                   &ctx, nullptr));
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));
  EXPECT_EQ(300000, ctx.steps);
  EXPECT_LE(ctx.max_size, 2100u) << "stale entries piled up";
  EXPECT_EQ(0, weft_loop_free(loop));
}

}  // namespace
