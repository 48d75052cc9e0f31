// weft_loop_free with things still alive: every task is resumed with
// WEFT_ECANCELED (awaits return it at once), queued work is cancelled,
// running work is waited for, timers and watches are not called, pending
// posts run exactly once.
#include <poll.h>
#include <sched.h>

#include "weft_test.h"

using namespace wt;

namespace {

class Free : public LoopTest {
 protected:
  // What a task saw while the loop was freed.
  struct Seen {
    std::vector<int> statuses;
    std::vector<int> await_rcs;  // awaits tried after ECANCELED
    bool finished = false;
  };
  std::deque<Seen> seen_;

  // A task that arms `arm` on step 0; on later steps records the status,
  // tries every await kind (each must return ECANCELED at once during free)
  // and finishes with the first.
  Seen *victim(std::function<int(weft_task_t)> arm, weft_task_t *id = nullptr) {
    seen_.emplace_back();
    Seen *s = &seen_.back();
    auto pipe_owner = std::make_shared<Pipe>();
    weft_task_t t = spawn([this, s, arm, pipe_owner](weft_task_t self, int status, int step) {
      s->statuses.push_back(status);
      if (step == 0 && status == 0) return arm(self);
      s->await_rcs.push_back(weft_await_sleep(loop, self, kHour));
      s->await_rcs.push_back(weft_await_yield(loop, self));
      s->await_rcs.push_back(weft_await_fd(loop, self, pipe_owner->r, WEFT_READABLE));
      s->await_rcs.push_back(weft_await_thread(loop, self, &WorkBox::work_tramp, nullptr));
      weft_task_t none[1] = {self};
      s->await_rcs.push_back(weft_await_all(loop, self, none, 0, 0));
      s->finished = true;
      return s->await_rcs[0];
    });
    if (id) *id = t;
    return s;
  }

  void expect_cancelled(const Seen *s, const char *what) {
    SCOPED_TRACE(what);
    EXPECT_TRUE(s->finished);
    ASSERT_FALSE(s->statuses.empty());
    EXPECT_EQ(WEFT_ECANCELED, s->statuses.back());
    ASSERT_EQ(5u, s->await_rcs.size());
    for (int rc : s->await_rcs) EXPECT_EQ(WEFT_ECANCELED, rc);
  }
};

TEST_F(Free, TasksOfEveryAwaitKindSeeEcanceled) {
  Pipe p;
  weft_task_t sleeper_child = 0;
  spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  sleeper_child = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  weft_task_t coe_child = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_fd(loop, self, p.r, WEFT_READABLE) : status;
  });
  Seen *sleep = victim([&](weft_task_t self) { return weft_await_sleep(loop, self, kHour); });
  Seen *fd = victim([&](weft_task_t self) { return weft_await_fd(loop, self, p.r, WEFT_READABLE); });
  Seen *task = victim([&](weft_task_t self) { return weft_await_task(loop, self, sleeper_child); });
  Seen *all = victim([&](weft_task_t self) { return weft_await_all(loop, self, &sleeper_child, 1, 0); });
  Seen *coe = victim([&](weft_task_t self) {
    return weft_await_all(loop, self, &coe_child, 1, WEFT_CANCEL_ON_ERROR);
  });
  Seen *yield = victim([&](weft_task_t self) { return weft_await_yield(loop, self); });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  Seen *unstarted = victim([&](weft_task_t self) { return weft_await_yield(loop, self); });
  free_loop();
  expect_cancelled(sleep, "sleep");
  expect_cancelled(fd, "fd");
  expect_cancelled(task, "task");
  expect_cancelled(all, "all");
  expect_cancelled(coe, "all cancel-on-error");
  expect_cancelled(yield, "yield");
  expect_cancelled(unstarted, "not started");
  EXPECT_EQ((std::vector<int>{WEFT_ECANCELED}), unstarted->statuses)
      << "a task that never ran gets its first step with ECANCELED";
}

TEST_F(Free, ACompletedAwaitIsDeliveredThenAwaitsReturnEcanceled) {
  Pipe p;
  Seen *s = victim([&](weft_task_t self) { return weft_await_fd(loop, self, p.w, WEFT_WRITABLE); });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));  // armed, polled: READY with WRITABLE waiting
  free_loop();
  ASSERT_GE(s->statuses.size(), 2u);
  EXPECT_EQ(WEFT_WRITABLE, s->statuses[1]) << "nothing a completed await produced is lost";
  ASSERT_EQ(5u, s->await_rcs.size());
  for (int rc : s->await_rcs) EXPECT_EQ(WEFT_ECANCELED, rc);
}

TEST_F(Free, NeverRunLoopWithTasks) {
  std::vector<int> st;
  for (int i = 0; i < 3; i++)
    spawn_detached([&](weft_task_t, int status, int) {
      st.push_back(status);
      return 0;
    });
  free_loop();
  EXPECT_EQ((std::vector<int>{WEFT_ECANCELED, WEFT_ECANCELED, WEFT_ECANCELED}), st);
}

TEST_F(Free, TimersAndWatchesAreNotCalled) {
  Pipe p;
  p.put();
  TimerBox *t1 = nullptr, *t2 = nullptr;
  WatchBox *w1 = nullptr;
  timer(0, 0, [](weft_timer_t) {}, &t1);
  timer(0, 1, [](weft_timer_t) {}, &t2);
  watch(p.r, WEFT_READABLE, [](weft_fd_watch_t, int) {}, &w1);
  busy_wait(10 * kUs);
  free_loop();
  EXPECT_EQ(0, t1->calls);
  EXPECT_EQ(0, t2->calls);
  EXPECT_EQ(0, w1->calls);
}

TEST_F(Free, PendingPostsRunExactlyOnce) {
  int ran = 0;
  for (int i = 0; i < 100; i++) post([&] { ran++; });
  free_loop();
  EXPECT_EQ(100, ran);  // more than once would be a double free under ASan
}

TEST_F(Free, CallbacksDuringFreeMayPostAndSpawn) {
  int posts_from_task = 0, posts_from_post = 0;
  std::vector<int> spawned_st;
  int timer_rc = 0, watch_rc = 0;
  Pipe p;
  spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_sleep(loop, self, kHour);
    EXPECT_EQ(WEFT_ECANCELED, status);
    EXPECT_EQ(0, post([&] {
      posts_from_task++;
      EXPECT_EQ(0, post([&] { posts_from_post++; }));
    }));
    spawn_detached([&](weft_task_t, int st, int) {
      spawned_st.push_back(st);
      return 0;
    });
    TimerBox *tb = timer_box([](weft_timer_t) { ADD_FAILURE() << "timer ran during free"; });
    timer_rc = weft_timer_start(loop, 0, 0, &TimerBox::tramp, tb, nullptr);
    weft_fd_watch_t w = 0;
    WatchBox wb{[](weft_fd_watch_t, int) {}, 0};
    watch_rc = weft_fd_watch_start(loop, p.w, WEFT_WRITABLE, &WatchBox::tramp, &wb, &w);
    return 0;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  free_loop();
  EXPECT_EQ(1, posts_from_task);
  EXPECT_EQ(1, posts_from_post);
  EXPECT_EQ((std::vector<int>{WEFT_ECANCELED}), spawned_st);
  EXPECT_EQ(WEFT_ECANCELED, timer_rc);
  EXPECT_EQ(WEFT_ECANCELED, watch_rc);
}

TEST_F(Free, FinishedAndReleasedAndDetachedTasks) {
  weft_task_t done = spawn([](weft_task_t, int, int) { return 1; });
  weft_task_t released = spawn([](weft_task_t, int, int) { return 2; });
  ASSERT_EQ(0, run());
  ASSERT_EQ(0, weft_task_release(loop, released));
  weft_task_t unfinished_released = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(0, weft_task_release(loop, unfinished_released));
  (void)done;
  free_loop();  // leaks would show under ASan
}

// Two CANCEL_ON_ERROR groups awaiting each other, then cancelled: a user's
// deadlock that cancellation cannot break (each waits for the other to
// finish). Freeing the loop must still terminate, resuming both.
TEST_F(Free, GroupsAwaitingEachOtherDoNotHangFree) {
  weft_task_t a = 0, b = 0;
  std::vector<int> sa, sb;
  auto group = [&](weft_task_t *other, std::vector<int> *seen) {
    return [&, other, seen](weft_task_t self, int status, int step) {
      seen->push_back(status);
      return step == 0 ? weft_await_all(loop, self, other, 1, WEFT_CANCEL_ON_ERROR) : status;
    };
  };
  a = spawn(group(&b, &sa));
  b = spawn(group(&a, &sb));
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_cancel(loop, a));
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(WEFT_TASK_WAITING, state(a)) << "each waits for the other to finish";
  EXPECT_EQ(WEFT_TASK_WAITING, state(b));
  free_loop();  // hangs (spinning) if free cannot break the cycle
  ASSERT_EQ(2u, sa.size());
  ASSERT_EQ(2u, sb.size());
  EXPECT_EQ(WEFT_ECANCELED, sa[1]);
  EXPECT_EQ(WEFT_ECANCELED, sb[1]);
}

TEST_F(Free, RunIsBusyDuringFree) {
  int run_rc = 0, free_rc = 0;
  spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_sleep(loop, self, kHour);
    run_rc = weft_loop_run(loop, WEFT_RUN_NOWAIT);
    free_rc = weft_loop_free(loop);
    return 0;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  free_loop();
  EXPECT_EQ(WEFT_EBUSY, run_rc);
  EXPECT_EQ(WEFT_EBUSY, free_rc);
}

// ------------------------------------------------------- pool work at free

class FreeThreaded : public Free {};

TEST_F(FreeThreaded, QueuedWorkIsCancelledRunningWorkIsWaitedFor) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate, about_to_free;
  Efd started;
  std::atomic<bool> running_finished{false};
  WorkBox *running = work_box([&] {
    started.signal();
    gate.wait();
    running_finished = true;
    return 7;
  });
  WorkBox *queued = work_box([] { return 8; });
  to_thread(running);
  to_thread(queued);
  // Wait (on the loop) until the first work runs.
  watch(started.fd, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    weft_fd_watch_stop(loop, self);
    weft_loop_stop(loop);
  });
  ASSERT_EQ(1, run());
  // Open the gate from another thread once free has (probably) begun: the
  // outcome must be the same whichever way the race goes.
  pthread_t opener;
  struct Args {
    Gate *gate, *about;
  } args{&gate, &about_to_free};
  pthread_create(
      &opener, nullptr,
      [](void *a) -> void * {
        Args *x = static_cast<Args *>(a);
        x->about->wait();
        for (int i = 0; i < 100; i++) sched_yield();
        x->gate->open();
        return nullptr;
      },
      &args);
  about_to_free.open();
  free_loop();
  pthread_join(opener, nullptr);
  EXPECT_TRUE(running_finished);
  EXPECT_EQ(1, running->done_calls);
  EXPECT_EQ(7, running->done_result) << "running work finishes and done gets its result";
  EXPECT_EQ(1, queued->done_calls);
  EXPECT_EQ(WEFT_ECANCELED, queued->done_result);
  EXPECT_EQ(0, queued->ran.load()) << "queued work never runs";
}

TEST_F(FreeThreaded, TasksAwaitingQueuedAndRunningWork) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate, about_to_free;
  Efd started;
  std::atomic<bool> running_finished{false};
  WorkBox *running = work_box([&] {
    started.signal();
    gate.wait();
    running_finished = true;
    return 7;
  });
  WorkBox *queued = work_box([] { return 8; });
  Seen *on_running = victim([&](weft_task_t self) {
    return weft_await_thread(loop, self, &WorkBox::work_tramp, running);
  });
  Seen *on_queued = victim([&](weft_task_t self) {
    return weft_await_thread(loop, self, &WorkBox::work_tramp, queued);
  });
  watch(started.fd, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    weft_fd_watch_stop(loop, self);
    weft_loop_stop(loop);
  });
  ASSERT_EQ(1, run());
  pthread_t opener;
  struct Args {
    Gate *gate, *about;
  } args{&gate, &about_to_free};
  pthread_create(
      &opener, nullptr,
      [](void *a) -> void * {
        Args *x = static_cast<Args *>(a);
        x->about->wait();
        for (int i = 0; i < 100; i++) sched_yield();
        x->gate->open();
        return nullptr;
      },
      &args);
  about_to_free.open();
  free_loop();
  pthread_join(opener, nullptr);
  EXPECT_TRUE(running_finished);
  expect_cancelled(on_running, "awaiting running work");
  expect_cancelled(on_queued, "awaiting queued work");
  EXPECT_EQ((std::vector<int>{0, WEFT_ECANCELED}), on_running->statuses)
      << "the running work's result is not delivered: the task is cancelled";
  EXPECT_EQ(0, queued->ran.load());
}

TEST_F(FreeThreaded, ToThreadDuringFreeIsEcanceled) {
  int rc = 0;
  WorkBox *b = work_box([] { return 0; });
  spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_sleep(loop, self, kHour);
    rc = weft_to_thread(loop, &WorkBox::work_tramp, b, &WorkBox::done_tramp, b, nullptr);
    return 0;
  });
  ASSERT_EQ(1, run(WEFT_RUN_NOWAIT));
  free_loop();
  EXPECT_EQ(WEFT_ECANCELED, rc);
  EXPECT_EQ(0, b->ran.load());
  EXPECT_EQ(0, b->done_calls);
}

TEST_F(FreeThreaded, CompletedWorkNotYetDeliveredAtFree) {
  Efd finished;
  WorkBox *b = work_box([&] {
    finished.signal();
    return 4;
  });
  to_thread(b);
  // Wait for the work to have finished without running the loop.
  struct pollfd pfd = {finished.fd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&pfd, 1, -1));
  free_loop();
  EXPECT_EQ(1, b->done_calls);
  EXPECT_EQ(4, b->done_result);
}

}  // namespace
