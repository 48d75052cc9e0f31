// Handle ids: every function taking an id rejects 0, negative, forged,
// stale, double-closed, other-kind and other-loop ids with WEFT_ESTALE, and
// the live handles those ids resemble are left undisturbed.
#include <climits>

#include "weft_test.h"

using namespace wt;

namespace {

// Ids that look like `live` but name nothing live: a different generation,
// slot, loop tag or kind bits, and the usual suspects.
std::vector<int64_t> forged_from(int64_t live) {
  return {0,
          -1,
          1,
          INT64_MIN,
          INT64_MAX,
          -live,
          live | INT64_MIN,
          live ^ (int64_t(1) << 24),   // generation
          live ^ (int64_t(0x3fffff) << 24),
          live + 1,                    // next slot (free)
          live + 100000,               // a slot never created
          live ^ (int64_t(1) << 46),   // loop tag
          live ^ (int64_t(1) << 58),   // kind
          live ^ (int64_t(7) << 58),
          live ^ (int64_t(0x10) << 58),  // kind's top bit
          live & ((int64_t(1) << 58) - 1)};  // kind 0
}

class Ids : public LoopTest {
 protected:
  weft_loop_t *other = nullptr;
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(0, weft_loop_new(&other));
  }
  void TearDown() override {
    EXPECT_EQ(0, weft_loop_free(other));
    LoopTest::TearDown();
  }
  TaskBox other_box{[](weft_task_t, int, int) { return 0; }, {}, 0, false, 0};
  TimerBox other_tbox{[](weft_timer_t) {}, 0};
  WatchBox other_wbox{[](weft_fd_watch_t, int) {}, 0};
};

// One live handle of every kind on `loop`, one of every kind on `other`.
struct Handles {
  weft_task_t task = 0, task_other = 0;
  weft_timer_t timer = 0, timer_other = 0;
  weft_fd_watch_t watch = 0, watch_other = 0;
};

TEST_F(Ids, EveryIdFunctionRejectsBadIds) {
  Pipe p;
  Handles h;
  h.task = spawn([&](weft_task_t self, int status, int) {
    return status == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  h.timer = timer(kHour, 0, [](weft_timer_t) {});
  h.watch = watch(p.w, WEFT_WRITABLE, [](weft_fd_watch_t, int) {});
  ASSERT_EQ(0, weft_task_spawn(other, &TaskBox::tramp, &other_box, &h.task_other));
  ASSERT_EQ(0, weft_timer_start(other, kHour, 0, &TimerBox::tramp, &other_tbox, &h.timer_other));
  ASSERT_EQ(0, weft_fd_watch_start(other, p.w, WEFT_WRITABLE, &WatchBox::tramp, &other_wbox,
                                   &h.watch_other));
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));  // the task is now sleeping

  std::vector<int64_t> not_task = forged_from(h.task);
  not_task.insert(not_task.end(), {h.timer, h.watch, h.task_other, h.timer_other, h.watch_other});
  std::vector<int64_t> not_timer = forged_from(h.timer);
  not_timer.insert(not_timer.end(), {h.task, h.watch, h.task_other, h.timer_other, h.watch_other});
  std::vector<int64_t> not_watch = forged_from(h.watch);
  not_watch.insert(not_watch.end(), {h.task, h.timer, h.task_other, h.timer_other, h.watch_other});

  int r = 0;
  for (int64_t id : not_task) {
    SCOPED_TRACE(testing::Message() << "task id " << std::hex << id);
    EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(loop, id));
    EXPECT_EQ(WEFT_ESTALE, weft_task_timeout(loop, id, kMs));
    EXPECT_EQ(WEFT_ESTALE, weft_task_timeout(loop, id, 0));
    EXPECT_EQ(WEFT_ESTALE, weft_task_state(loop, id));
    EXPECT_EQ(WEFT_ESTALE, weft_task_result(loop, id, &r));
    EXPECT_EQ(WEFT_ESTALE, weft_task_release(loop, id));
    EXPECT_EQ(WEFT_ESTALE, weft_work_cancel(loop, id));
  }
  for (int64_t id : not_timer) {
    SCOPED_TRACE(testing::Message() << "timer id " << std::hex << id);
    EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, id));
  }
  for (int64_t id : not_watch) {
    SCOPED_TRACE(testing::Message() << "watch id " << std::hex << id);
    EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_modify(loop, id, WEFT_READABLE));
    EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_stop(loop, id));
  }
  // The live handles are untouched.
  EXPECT_EQ(WEFT_TASK_WAITING, state(h.task));
  weft_loop_stats_t s = stats(loop);
  EXPECT_EQ(1, s.tasks_alive);
  EXPECT_EQ(1, s.timers_active);
  EXPECT_EQ(1, s.fd_watches_active);
  EXPECT_EQ(0, weft_timer_stop(loop, h.timer));
  EXPECT_EQ(0, weft_fd_watch_stop(loop, h.watch));
  EXPECT_EQ(0, weft_task_cancel(loop, h.task));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, result(h.task));
  // ... and so are the other loop's.
  EXPECT_EQ(WEFT_TASK_READY, weft_task_state(other, h.task_other));
  EXPECT_EQ(0, weft_timer_stop(other, h.timer_other));
  EXPECT_EQ(0, weft_fd_watch_stop(other, h.watch_other));
  EXPECT_EQ(0, weft_loop_run(other, WEFT_RUN_DEFAULT));
  EXPECT_EQ(1, other_box.steps);
}

TEST_F(Ids, AwaitsRejectBadIds) {
  weft_task_t other_task = 0;
  ASSERT_EQ(0, weft_task_spawn(other, &TaskBox::tramp, &other_box, &other_task));
  weft_timer_t tm = timer(kHour, 0, [](weft_timer_t) {});
  std::vector<int> rcs;
  weft_task_t me = spawn([&](weft_task_t self, int, int step) {
    if (step > 0) return 0;
    std::vector<int64_t> bad_self = forged_from(self);
    bad_self.push_back(tm);
    bad_self.push_back(other_task);
    Pipe p;
    for (int64_t id : bad_self) {
      rcs.push_back(weft_await_sleep(loop, id, 0));
      rcs.push_back(weft_await_fd(loop, id, p.r, WEFT_READABLE));
      rcs.push_back(weft_await_task(loop, id, self));
      rcs.push_back(weft_await_all(loop, id, &self, 0, 0));
      rcs.push_back(weft_await_yield(loop, id));
    }
    for (int64_t id : bad_self) {
      if (id == self) continue;
      rcs.push_back(weft_await_task(loop, self, id));
      weft_task_t list[2] = {id, id};
      rcs.push_back(weft_await_all(loop, self, list, 1, 0));
      rcs.push_back(weft_await_all(loop, self, list, 1, WEFT_CANCEL_ON_ERROR));
    }
    // Nothing was armed by any of those: a real await still works.
    return weft_await_yield(loop, self);
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_timer_stop(loop, tm));
  EXPECT_EQ(0, run());
  ASSERT_FALSE(rcs.empty());
  for (size_t i = 0; i < rcs.size(); i++) EXPECT_EQ(WEFT_ESTALE, rcs[i]) << i;
  EXPECT_EQ(0, result(me));
}

TEST_F(Ids, StaleAndDoubleClosed) {
  // Timers: stopped, and one-shot after its callback.
  weft_timer_t t1 = timer(kHour, 0, [](weft_timer_t) {});
  EXPECT_EQ(0, weft_timer_stop(loop, t1));
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, t1));
  weft_timer_t t2 = timer(0, 0, [](weft_timer_t) {});
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, t2));

  // Watches.
  Pipe p;
  weft_fd_watch_t w = watch(p.w, WEFT_WRITABLE, [](weft_fd_watch_t, int) {});
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_modify(loop, w, WEFT_READABLE));

  // Tasks: released after finishing.
  weft_task_t t = spawn([](weft_task_t, int, int) { return 3; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(3, result(t));
  EXPECT_EQ(0, weft_task_release(loop, t));
  int r;
  EXPECT_EQ(WEFT_ESTALE, weft_task_release(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_task_state(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_task_result(loop, t, &r));
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_task_timeout(loop, t, 1));

  // A slot reused by a new handle does not revive the old id.
  weft_task_t t3 = spawn([](weft_task_t, int, int) { return 4; });
  EXPECT_NE(t, t3);
  EXPECT_EQ(WEFT_ESTALE, weft_task_state(loop, t));
  EXPECT_EQ(WEFT_TASK_READY, state(t3));
  weft_timer_t t4 = timer(kHour, 0, [](weft_timer_t) {});
  EXPECT_NE(t1, t4);
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, t1));
  EXPECT_EQ(0, weft_timer_stop(loop, t4));
  EXPECT_EQ(0, run());
}

TEST_F(Ids, IdsAreDistinctAcrossKindsAndLoops) {
  Pipe p;
  weft_task_t a = spawn([](weft_task_t, int, int) { return 0; });
  weft_timer_t b = timer(kHour, 0, [](weft_timer_t) {});
  weft_fd_watch_t c = watch(p.r, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  weft_task_t d = 0;
  ASSERT_EQ(0, weft_task_spawn(other, &TaskBox::tramp, &other_box, &d));
  EXPECT_GT(a, 0);
  EXPECT_GT(b, 0);
  EXPECT_GT(c, 0);
  EXPECT_GT(d, 0);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
  EXPECT_NE(a, d);
  weft_timer_stop(loop, b);
  weft_fd_watch_stop(loop, c);
}

TEST_F(Ids, NullLoopIsEinvalEverywhere) {
  int r;
  weft_task_t t = 0;
  weft_timer_t tm = 0;
  weft_fd_watch_t w = 0;
  weft_work_t wk = 0;
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(nullptr, 0, 0, &TimerBox::tramp, nullptr, &tm));
  EXPECT_EQ(WEFT_EINVAL, weft_timer_stop(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL,
            weft_fd_watch_start(nullptr, 0, WEFT_READABLE, &WatchBox::tramp, nullptr, &w));
  EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_modify(nullptr, 1, WEFT_READABLE));
  EXPECT_EQ(WEFT_EINVAL, weft_fd_watch_stop(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL,
            weft_to_thread(nullptr, &WorkBox::work_tramp, nullptr, nullptr, nullptr, &wk));
  EXPECT_EQ(WEFT_EINVAL, weft_work_cancel(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_task_spawn(nullptr, &TaskBox::tramp, nullptr, &t));
  EXPECT_EQ(WEFT_EINVAL, weft_task_cancel(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_task_timeout(nullptr, 1, 0));
  EXPECT_EQ(WEFT_EINVAL, weft_task_state(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_task_result(nullptr, 1, &r));
  EXPECT_EQ(WEFT_EINVAL, weft_task_release(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_await_sleep(nullptr, 1, 0));
  EXPECT_EQ(WEFT_EINVAL, weft_await_fd(nullptr, 1, 0, WEFT_READABLE));
  EXPECT_EQ(WEFT_EINVAL, weft_await_thread(nullptr, 1, &WorkBox::work_tramp, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_await_task(nullptr, 1, 2));
  EXPECT_EQ(WEFT_EINVAL, weft_await_all(nullptr, 1, nullptr, 0, 0));
  EXPECT_EQ(WEFT_EINVAL, weft_await_yield(nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_logger(nullptr, nullptr, nullptr));
}

// Work ids (pool threads are involved, hence "Threaded").
class IdsThreaded : public Ids {};

TEST_F(IdsThreaded, WorkIds) {
  WorkBox *wb = work_box([] { return 1; });
  weft_work_t live = to_thread(wb);
  ASSERT_GT(live, 0);
  weft_work_t live_other = 0;
  WorkBox ob;
  ASSERT_EQ(0, weft_to_thread(other, &WorkBox::work_tramp, &ob, &WorkBox::done_tramp, &ob,
                              &live_other));
  weft_task_t t = spawn([](weft_task_t, int, int) { return 0; });
  weft_timer_t tm = timer(kHour, 0, [](weft_timer_t) {});
  std::vector<int64_t> bad = forged_from(live);
  bad.insert(bad.end(), {t, tm, live_other});
  for (int64_t id : bad) EXPECT_EQ(WEFT_ESTALE, weft_work_cancel(loop, id)) << std::hex << id;
  // Work ids are not task, timer or watch ids either.
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(loop, live));
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, live));
  EXPECT_EQ(WEFT_ESTALE, weft_fd_watch_stop(loop, live));
  EXPECT_EQ(0, weft_timer_stop(loop, tm));
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, wb->done_calls);
  EXPECT_EQ(1, wb->done_result);
  EXPECT_EQ(WEFT_ESTALE, weft_work_cancel(loop, live)) << "stale once done ran";
  EXPECT_EQ(0, weft_loop_run(other, WEFT_RUN_DEFAULT));
  EXPECT_EQ(1, ob.done_calls);
}

}  // namespace
