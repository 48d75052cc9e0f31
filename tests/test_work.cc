// The thread pool: weft_to_thread, weft_work_cancel, weft_await_thread, the
// pool size option, and cancellation/timeouts of queued and running pool
// work. Everything here runs pool threads: suites are "...Threaded".
#include <poll.h>

#include <algorithm>

#include "weft_test.h"

using namespace wt;

namespace {

class WorkThreaded : public LoopTest {};

TEST_F(WorkThreaded, BadArguments) {
  weft_work_t w = 0;
  EXPECT_EQ(WEFT_EINVAL, weft_to_thread(loop, nullptr, nullptr, nullptr, nullptr, &w));
  EXPECT_EQ(0, w);
  int rc = 0;
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    if (step > 0) return 0;
    rc = weft_await_thread(loop, self, nullptr, nullptr);
    return weft_await_yield(loop, self);
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, rc);
  EXPECT_EQ(0, result(t));
  EXPECT_EQ(0, stats(loop).work_queued);
}

TEST_F(WorkThreaded, DoneGetsTheResultOnTheLoopThread) {
  const pthread_t me = pthread_self();
  std::atomic<bool> on_other_thread{false};
  weft_work_t seen = 0;
  bool done_on_loop_thread = false;
  WorkBox *b = work_box(
      [&] {
        on_other_thread = !pthread_equal(pthread_self(), me);
        return -1234;
      },
      [&](weft_work_t w, int) {
        seen = w;
        done_on_loop_thread = pthread_equal(pthread_self(), me);
      });
  weft_work_t id = to_thread(b);
  EXPECT_GT(id, 0);
  EXPECT_EQ(0, b->done_calls) << "never inside the call";
  EXPECT_EQ(0, run());
  EXPECT_TRUE(on_other_thread);
  EXPECT_TRUE(done_on_loop_thread);
  EXPECT_EQ(1, b->done_calls);
  EXPECT_EQ(-1234, b->done_result);
  EXPECT_EQ(id, seen);
  EXPECT_EQ(WEFT_ESTALE, weft_work_cancel(loop, id)) << "stale once done ran";
  EXPECT_GE(stats(loop).work_ns, 0);
}

TEST_F(WorkThreaded, NullDoneAndNullOut) {
  WorkBox *b = work_box([] { return 5; });
  weft_work_t id = 0;
  ASSERT_EQ(0, weft_to_thread(loop, &WorkBox::work_tramp, b, nullptr, nullptr, &id));
  WorkBox *b2 = work_box([] { return 6; });
  ASSERT_EQ(0, weft_to_thread(loop, &WorkBox::work_tramp, b2, &WorkBox::done_tramp, b2, nullptr));
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, b->ran.load());
  EXPECT_EQ(1, b2->done_calls);
  EXPECT_EQ(6, b2->done_result);
  EXPECT_EQ(WEFT_ESTALE, weft_work_cancel(loop, id)) << "stale once finished";
}

TEST_F(WorkThreaded, CancelQueuedWorkItNeverRuns) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate;
  Efd started;
  WorkBox *blocker = work_box([&] {
    started.signal();
    gate.wait();
    return 1;
  });
  WorkBox *queued = work_box([] { return 2; });
  to_thread(blocker);
  weft_work_t q = to_thread(queued);
  struct pollfd pfd = {started.fd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&pfd, 1, -1));  // the blocker holds the only thread
  weft_loop_stats_t s = stats(loop);
  EXPECT_EQ(1, s.work_queued);
  EXPECT_EQ(1, s.work_running);
  EXPECT_EQ(0, weft_work_cancel(loop, q));
  EXPECT_EQ(0, stats(loop).work_queued);
  EXPECT_EQ(0, queued->done_calls) << "done runs later, on the loop";
  EXPECT_NE(0, weft_work_cancel(loop, q)) << "already cancelled";
  // The cancelled work's done arrives while the blocker still runs.
  queued->done = [&](weft_work_t, int) {
    EXPECT_EQ(0, blocker->done_calls);
    gate.open();
  };
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, queued->done_calls);
  EXPECT_EQ(WEFT_ECANCELED, queued->done_result);
  EXPECT_EQ(0, queued->ran.load());
  EXPECT_EQ(1, blocker->done_result);
  EXPECT_EQ(WEFT_ESTALE, weft_work_cancel(loop, q));
}

TEST_F(WorkThreaded, CancelRunningWorkIsBusyAndItCompletes) {
  Gate gate;
  Efd started;
  WorkBox *b = work_box([&] {
    started.signal();
    gate.wait();
    return 3;
  });
  weft_work_t id = to_thread(b);
  int cancel_rc = 0;
  weft_loop_stats_t s{};
  watch(started.fd, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    started.take();
    s = stats(loop);
    cancel_rc = weft_work_cancel(loop, id);
    weft_fd_watch_stop(loop, self);
    gate.open();
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EBUSY, cancel_rc);
  EXPECT_EQ(1, s.work_running);
  EXPECT_EQ(0, s.work_queued);
  EXPECT_EQ(3, b->done_result);
  EXPECT_EQ(0, stats(loop).work_running);
}

TEST_F(WorkThreaded, PoolSizeOptionIsBusyOnceThePoolStarted) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 2));
  WorkBox *b = work_box([] { return 0; });
  to_thread(b);
  EXPECT_EQ(WEFT_EBUSY, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 3));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 0));
  EXPECT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 0)) << "other options still work";
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EBUSY, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 3));
}

TEST_F(WorkThreaded, PoolOfOneRunsOneAtATime) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  std::atomic<int> now{0}, peak{0};
  std::vector<int> order;
  std::mutex mu;
  for (int i = 0; i < 20; i++) {
    WorkBox *b = work_box([&, i] {
      int n = ++now;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      {
        std::lock_guard<std::mutex> l(mu);
        order.push_back(i);
      }
      --now;
      return i;
    });
    to_thread(b);
  }
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, peak.load());
  ASSERT_EQ(20u, order.size());
  for (int i = 0; i < 20; i++) EXPECT_EQ(i, order[i]) << "FIFO";
}

// Four works that can only finish together: passes only if the pool really
// runs four threads.
TEST_F(WorkThreaded, PoolOfFourRunsFourAtOnce) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 4));
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  for (int i = 0; i < 4; i++) {
    WorkBox *b = work_box([&] {
      std::unique_lock<std::mutex> l(mu);
      arrived++;
      cv.notify_all();
      cv.wait(l, [&] { return arrived == 4; });
      return 0;
    });
    to_thread(b);
  }
  Watchdog wd(loop, 20 * kSec);
  EXPECT_EQ(0, run());
  EXPECT_FALSE(wd.fired);
}

// Embedding: a pool completion makes the backend fd readable.
TEST_F(WorkThreaded, CompletionMakesTheBackendFdReadable) {
  WorkBox *b = work_box([] { return 9; });
  to_thread(b);
  struct pollfd pfd = {weft_loop_backend_fd(loop), POLLIN, 0};
  int polls = 0;
  while (b->done_calls == 0 && polls < 100) {
    ASSERT_EQ(1, ::poll(&pfd, 1, -1));
    polls++;
    run(WEFT_RUN_NOWAIT);
  }
  EXPECT_EQ(9, b->done_result);
}

TEST_F(WorkThreaded, DoneCallbackThrowingIsCaughtAndLogged) {
  to_thread(work_box([] { return 0; }, [](weft_work_t, int) { throw 3; }));
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, count_logs(WEFT_LOG_ERROR));
}

TEST_F(WorkThreaded, WorkNsCountsPoolTime) {
  WorkBox *b = work_box([] {
    busy_wait(2 * kMs);
    return 0;
  });
  to_thread(b);
  EXPECT_EQ(0, run());
  EXPECT_GE(stats(loop).work_ns, 2 * kMs);
}

TEST_F(WorkThreaded, WorkMayPostAndStop) {
  bool posted_ran = false;
  Gate after_stop;
  WorkBox *b = work_box([&] {
    EXPECT_EQ(0, weft_loop_post(loop, &PostBox::tramp, new PostBox{[&] { posted_ran = true; }}));
    return 0;
  });
  to_thread(b);
  EXPECT_EQ(0, run());
  EXPECT_TRUE(posted_ran);

  // weft_loop_stop from a work function: the loop stops with a watch alive.
  Pipe p;
  weft_fd_watch_t w = watch(p.r, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  WorkBox *s = work_box([&] { return weft_loop_stop(loop); });
  to_thread(s);
  EXPECT_EQ(1, run());
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, s->done_result);
}

TEST_F(WorkThreaded, ManyWorksEachDoneExactlyOnce) {
  const int n = 2000;
  std::vector<WorkBox *> boxes;
  for (int i = 0; i < n; i++) {
    boxes.push_back(work_box([i] { return i; }));
    to_thread(boxes.back());
  }
  EXPECT_EQ(0, run());
  for (int i = 0; i < n; i++) {
    EXPECT_EQ(1, boxes[i]->ran.load());
    EXPECT_EQ(1, boxes[i]->done_calls);
    EXPECT_EQ(i, boxes[i]->done_result);
  }
  EXPECT_EQ(0, stats(loop).work_queued);
}

TEST_F(WorkThreaded, DoneMaySubmitMoreWork) {
  int chain = 0;
  std::function<void(weft_work_t, int)> next;
  next = [&](weft_work_t, int r) {
    chain++;
    if (r < 10) to_thread(work_box([r] { return r + 1; }, next));
  };
  to_thread(work_box([] { return 0; }, next));
  EXPECT_EQ(0, run());
  EXPECT_EQ(11, chain);
}

// ---------------------------------------------------------- await_thread

TEST_F(WorkThreaded, AwaitThreadResumesWithTheResult) {
  std::atomic<int> ran{0};
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0)
      return weft_await_thread(
          loop, self,
          [](void *arg) {
            static_cast<std::atomic<int> *>(arg)->fetch_add(1);
            return -42;
          },
          &ran);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-42, result(t));
  EXPECT_EQ(1, ran.load());
}

// No await resolves with WEFT_PENDING: a work function returning it is
// delivered as WEFT_EINVAL, to a task and to a done callback alike.
TEST_F(WorkThreaded, WorkReturningPendingIsDeliveredAsEinval) {
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0)
      return weft_await_thread(loop, self, [](void *) { return WEFT_PENDING; }, nullptr);
    return status;
  });
  WorkBox *b = work_box([] { return WEFT_PENDING; });
  to_thread(b);
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, result(t));
  EXPECT_EQ(1, b->done_calls);
  EXPECT_EQ(WEFT_EINVAL, b->done_result);
}

TEST_F(WorkThreaded, ManyTasksAwaitThreads) {
  const int n = 500;
  std::vector<weft_task_t> ids;
  std::vector<std::unique_ptr<int>> args;
  for (int i = 0; i < n; i++) {
    args.emplace_back(new int(i));
    int *arg = args.back().get();
    ids.push_back(spawn([&, arg](weft_task_t self, int status, int step) {
      if (step == 0)
        return weft_await_thread(loop, self, [](void *a) { return *static_cast<int *>(a) * 2; },
                                 arg);
      return status;
    }));
  }
  EXPECT_EQ(0, run());
  for (int i = 0; i < n; i++) EXPECT_EQ(2 * i, result(ids[i]));
}

// A step arms await_thread and then finishes: queued work never runs;
// running work completes (its arg stays valid) and is then dropped.
TEST_F(WorkThreaded, DisarmedThreadAwait) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate;
  Efd started;
  WorkBox *running = work_box([&] {
    started.signal();
    gate.wait();
    return 1;
  });
  WorkBox *queued = work_box([] { return 2; });
  weft_task_t a = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_thread(loop, self, &WorkBox::work_tramp, running));
    struct pollfd pfd = {started.fd, POLLIN, 0};
    EXPECT_EQ(1, ::poll(&pfd, 1, -1));  // the work is running now
    post([&] { gate.open(); });
    return 10;
  });
  weft_task_t b = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_thread(loop, self, &WorkBox::work_tramp, queued));
    return 20;  // its work is still queued behind `running`
  });
  EXPECT_EQ(0, run()) << "the orphaned work kept the loop alive until it finished";
  EXPECT_EQ(10, result(a));
  EXPECT_EQ(20, result(b));
  EXPECT_EQ(1, running->ran.load());
  EXPECT_EQ(0, queued->ran.load());
  EXPECT_EQ(0, stats(loop).work_running);
}

// ------------------------------------------- cancel / timeout, pool kinds

class InterruptThreaded : public LoopTest, public testing::WithParamInterface<std::tuple<bool, bool>> {};

// (running, by_timeout): the victim awaits pool work that is still queued
// (behind a blocker in a pool of one) or already running.
TEST_P(InterruptThreaded, ThreadAwait) {
  const bool running = std::get<0>(GetParam());
  const bool by_timeout = std::get<1>(GetParam());
  const int code = by_timeout ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate;
  Efd started;
  std::atomic<bool> work_finished{false};
  WorkBox *blocker = work_box([&] {
    started.signal();
    gate.wait();
    return 0;
  });
  WorkBox *victim_work = work_box([&] {
    if (running) {
      started.signal();
      gate.wait();
    }
    work_finished = true;
    return 99;
  });
  if (!running) to_thread(blocker);

  int first = 1, cleanup = 1;
  bool finished_when_resumed = false;
  weft_task_t victim = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_thread(loop, self, &WorkBox::work_tramp, victim_work);
    if (step == 1) {
      first = status;
      finished_when_resumed = work_finished;
      if (!running) gate.open();  // let the blocker go
      return weft_await_sleep(loop, self, 0);
    }
    cleanup = status;
    return 42;
  });
  int state_after = 0;
  watch(started.fd, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    started.take();
    weft_fd_watch_stop(loop, self);
    if (by_timeout) {
      // The deadline passes while the work still runs; this timer, due
      // later, lets the work finish.
      EXPECT_EQ(0, weft_task_timeout(loop, victim, 1 * kMs));
      timer(3 * kMs, 0, [&](weft_timer_t) {
        state_after = weft_task_state(loop, victim);
        gate.open();
      });
    } else {
      EXPECT_EQ(0, weft_task_cancel(loop, victim));
      state_after = weft_task_state(loop, victim);
      if (running) gate.open();
    }
  });
  Watchdog wd(loop, 20 * kSec);
  EXPECT_EQ(0, run());
  EXPECT_FALSE(wd.fired);
  EXPECT_EQ(code, first);
  EXPECT_EQ(0, cleanup);
  EXPECT_EQ(42, result(victim));
  if (running) {
    EXPECT_EQ(WEFT_TASK_WAITING, state_after) << "resumes only when the work has finished";
    EXPECT_TRUE(finished_when_resumed) << "running work completes first";
    EXPECT_EQ(1, victim_work->ran.load());
  } else {
    EXPECT_FALSE(finished_when_resumed);
    EXPECT_EQ(0, victim_work->ran.load()) << "queued work cancelled never runs";
  }
}

INSTANTIATE_TEST_SUITE_P(Pool, InterruptThreaded,
                         testing::Combine(testing::Bool(), testing::Bool()),
                         [](const testing::TestParamInfo<std::tuple<bool, bool>> &info) {
                           return std::string(std::get<0>(info.param) ? "Running" : "Queued") +
                                  (std::get<1>(info.param) ? "_Timeout" : "_Cancel");
                         });

// A TaskGroup whose child awaits running pool work: a sibling's error
// cancels it; the group waits for the work to finish.
TEST_F(WorkThreaded, GroupWaitsForACancelledChildsRunningWork) {
  Gate gate;
  Efd started;
  std::atomic<bool> finished{false};
  WorkBox *w = work_box([&] {
    started.signal();
    gate.wait();
    finished = true;
    return 1;
  });
  weft_task_t worker = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_thread(loop, self, &WorkBox::work_tramp, w) : status;
  });
  weft_task_t failer = 0;
  bool finished_at_resume = false;
  weft_task_t g = spawn([&](weft_task_t self, int status, int step) {
    weft_task_t list[2] = {worker, failer};
    if (step == 0) return weft_await_all(loop, self, list, 2, WEFT_CANCEL_ON_ERROR);
    finished_at_resume = finished;
    return status;
  });
  watch(started.fd, WEFT_READABLE, [&](weft_fd_watch_t self, int) {
    started.take();
    weft_fd_watch_stop(loop, self);
    timer(1 * kMs, 0, [&](weft_timer_t) { gate.open(); });
  });
  failer = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_fd(loop, self, started.fd, WEFT_READABLE) : -2;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(-2, result(g));
  EXPECT_EQ(WEFT_ECANCELED, result(worker));
  EXPECT_TRUE(finished_at_resume);
}

}  // namespace
