// test_release.cc -- the release hook (weft_loop_set_release): every
// user_data a successful call handed over comes back exactly once, with its
// kind, on the loop thread (the freeing thread inside weft_loop_free), never
// while its own callback still runs, and everything weft_loop_free drops is
// released too. Suites that involve pool threads are "...Threaded" (TSan).
#include <poll.h>

#include <map>
#include <thread>

#include "weft_test.h"

using namespace wt;

namespace {

// Counts releases per user_data. Every pointer a test hands over is
// registered with its kind first; a release of anything else, a second
// release, a wrong kind or a release on another thread fails the test.
struct Tracker {
  struct Entry {
    int kind = 0;
    int count = 0;
  };
  std::mutex mu;
  std::map<void *, Entry> m;
  pthread_t loop_thread = pthread_self();
  int total = 0;

  static void hook(void *ctx, int kind, void *ud) {
    Tracker *t = static_cast<Tracker *>(ctx);
    EXPECT_NE(nullptr, ud) << "NULL user_data is never released";
    EXPECT_TRUE(pthread_equal(pthread_self(), t->loop_thread)) << "released off the loop thread";
    std::lock_guard<std::mutex> l(t->mu);
    t->total++;
    auto it = t->m.find(ud);
    if (it == t->m.end()) {
      ADD_FAILURE() << "released a user_data nobody handed over (kind " << kind << ")";
      return;
    }
    EXPECT_EQ(it->second.kind, kind);
    it->second.count++;
    EXPECT_EQ(1, it->second.count) << "released twice (kind " << kind << ")";
  }
  void *expect(void *p, int kind) {
    std::lock_guard<std::mutex> l(mu);
    m[p] = Entry{kind, 0};
    return p;
  }
  int released(void *p) {
    std::lock_guard<std::mutex> l(mu);
    return m[p].count;
  }
  void check_all_once() {
    std::lock_guard<std::mutex> l(mu);
    for (auto &e : m) EXPECT_EQ(1, e.second.count) << "kind " << e.second.kind;
  }
};

// Distinct addresses to hand over as user_data.
struct Tokens {
  std::deque<int> v;
  void *make() {
    v.push_back(0);
    return &v.back();
  }
};

class Release : public LoopTest {
 protected:
  Tracker tr;
  Tokens tokens;
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(0, weft_loop_set_release(loop, &Tracker::hook, &tr));
  }
  // After the loop was freed (if the test did not already): each user_data
  // handed over was released exactly once.
  void TearDown() override {
    LoopTest::TearDown();
    tr.check_all_once();
  }
  void *token(int kind) { return tr.expect(tokens.make(), kind); }
  // A task whose box is expected back (as WEFT_KIND_TASK).
  weft_task_t tracked(StepFn fn) {
    TaskBox *b = nullptr;
    weft_task_t t = spawn(std::move(fn), &b);
    tr.expect(b, WEFT_KIND_TASK);
    return t;
  }
};

class ReleaseThreaded : public Release {};

// A C callback that checks that its own user_data is still held.
struct Held {
  Tracker *tr;
  int calls = 0;
  bool held_in_callback = true;
  void check(void *self) {
    calls++;
    if (tr->released(self) != 0) held_in_callback = false;
  }
};

void post_cb(weft_loop_t *, void *ud) { static_cast<Held *>(ud)->check(ud); }

}  // namespace

TEST(ReleaseHook, ArgumentsAndClearing) {
  EXPECT_EQ(WEFT_EINVAL, weft_loop_set_release(nullptr, &Tracker::hook, nullptr));
  weft_loop_t *loop = nullptr;
  ASSERT_EQ(0, weft_loop_new(&loop));
  Tracker tr;
  ASSERT_EQ(0, weft_loop_set_release(loop, &Tracker::hook, &tr));
  ASSERT_EQ(0, weft_loop_set_release(loop, nullptr, &tr));  // cleared: nothing is called
  int a = 0, b = 0;
  ASSERT_EQ(0, weft_loop_post(loop, [](weft_loop_t *, void *) {}, &a));
  weft_timer_t t = 0;
  ASSERT_EQ(0, weft_timer_start(loop, kHour, 0, [](weft_loop_t *, weft_timer_t, void *) {}, &b, &t));
  EXPECT_EQ(1, weft_loop_run(loop, WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_loop_free(loop));
  EXPECT_EQ(0, tr.total);
}

TEST_F(Release, KindConstantsAreTheAbiValues) {
  EXPECT_EQ(1, WEFT_KIND_TASK);
  EXPECT_EQ(2, WEFT_KIND_TIMER);
  EXPECT_EQ(3, WEFT_KIND_FD_WATCH);
  EXPECT_EQ(4, WEFT_KIND_WORK);
  EXPECT_EQ(5, WEFT_KIND_POST);
  EXPECT_EQ(6, WEFT_KIND_SOCKET);
  EXPECT_EQ(7, WEFT_KIND_EVENT);
  EXPECT_EQ(8, WEFT_KIND_SEMAPHORE);
  EXPECT_EQ(9, WEFT_KIND_LOCK);
  EXPECT_EQ(10, WEFT_KIND_QUEUE);
}

TEST_F(Release, FailedCallsAndNullUserDataReleaseNothing) {
  void *p = tokens.make();  // not registered: a release of it fails the test
  weft_timer_t t = 0;
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, -1, 0, &TimerBox::tramp, p, &t));
  EXPECT_EQ(WEFT_EINVAL, weft_timer_start(loop, 0, 1, &TimerBox::tramp, p, nullptr));
  weft_fd_watch_t w = 0;
  EXPECT_EQ(WEFT_EBADF, weft_fd_watch_start(loop, 1 << 20, WEFT_READABLE, &WatchBox::tramp, p, &w));
  EXPECT_EQ(WEFT_EINVAL, weft_loop_post(loop, nullptr, p));
  EXPECT_EQ(WEFT_EINVAL, weft_task_spawn(loop, nullptr, p, nullptr));
  // NULL user_data: handed over, but the hook is never called with NULL.
  ASSERT_EQ(0, weft_loop_post(loop, [](weft_loop_t *, void *) {}, nullptr));
  ASSERT_EQ(0, weft_timer_start(loop, 0, 0, [](weft_loop_t *, weft_timer_t, void *) {}, nullptr,
                                nullptr));
  ASSERT_EQ(0, weft_task_spawn(loop, [](weft_loop_t *, weft_task_t, int, void *) { return 0; },
                               nullptr, nullptr));
  EXPECT_EQ(0, run());
  free_loop();
  EXPECT_EQ(0, tr.total);
}

TEST_F(Release, OneShotTimerAfterItsCallbackReturned) {
  TimerBox *box = nullptr;
  int held = -1;
  weft_timer_t id = timer(0, 0, [&](weft_timer_t) { held = tr.released(box); }, &box);
  tr.expect(box, WEFT_KIND_TIMER);
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, box->calls);
  EXPECT_EQ(0, held) << "released while its callback ran";
  EXPECT_EQ(1, tr.released(box));
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, id));
  EXPECT_EQ(1, tr.released(box));
}

TEST_F(Release, StoppedTimerAtTheStop) {
  TimerBox *once = nullptr, *rep = nullptr;
  weft_timer_t a = timer(kHour, 0, [](weft_timer_t) {}, &once);
  weft_timer_t b = timer(kHour, kHour, [](weft_timer_t) {}, &rep);
  tr.expect(once, WEFT_KIND_TIMER);
  tr.expect(rep, WEFT_KIND_TIMER);
  EXPECT_EQ(0, weft_timer_stop(loop, a));
  EXPECT_EQ(1, tr.released(once));
  EXPECT_EQ(0, tr.released(rep));
  EXPECT_EQ(0, weft_timer_stop(loop, b));
  EXPECT_EQ(1, tr.released(rep));
  EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(loop, b));
  EXPECT_EQ(0, run());
}

// A timer that stops itself keeps its user_data until its callback returns,
// even when a new timer takes its slot meanwhile and is stopped at once.
TEST_F(Release, TimerStoppingItselfIsReleasedWhenItsCallbackReturns) {
  for (int64_t repeat : {int64_t(0), kMs}) {
    TimerBox *self = nullptr, *other = nullptr;
    int held_after_stop = -1, other_at_stop = -1;
    timer(0, repeat,
          [&](weft_timer_t me) {
            EXPECT_EQ(0, weft_timer_stop(loop, me));
            held_after_stop = tr.released(self);
            weft_timer_t o = timer(kHour, 0, [](weft_timer_t) {}, &other);
            tr.expect(other, WEFT_KIND_TIMER);
            EXPECT_EQ(0, weft_timer_stop(loop, o));
            other_at_stop = tr.released(other);
            EXPECT_EQ(0, tr.released(self));
          },
          &self);
    tr.expect(self, WEFT_KIND_TIMER);
    EXPECT_EQ(0, run());
    EXPECT_EQ(1, self->calls);
    EXPECT_EQ(0, held_after_stop) << "repeat " << repeat;
    EXPECT_EQ(1, other_at_stop) << "another timer is released at its stop";
    EXPECT_EQ(1, tr.released(self));
  }
}

TEST_F(Release, RepeatingTimerKeepsItsDataWhileItRepeats) {
  TimerBox *box = nullptr;
  weft_timer_t id = timer(0, 1, [&](weft_timer_t) {
    if (box->calls == 3) weft_loop_stop(loop);
  }, &box);
  tr.expect(box, WEFT_KIND_TIMER);
  EXPECT_EQ(1, run());
  EXPECT_EQ(3, box->calls);
  EXPECT_EQ(0, tr.released(box));
  EXPECT_EQ(0, weft_timer_stop(loop, id));
  EXPECT_EQ(1, tr.released(box));
}

TEST_F(Release, WatchAtStopOrAfterItsOwnCallback) {
  Pipe p;
  p.put();
  WatchBox *outside = nullptr, *self = nullptr;
  weft_fd_watch_t a = watch(p.w, WEFT_WRITABLE, [](weft_fd_watch_t, int) {}, &outside);
  tr.expect(outside, WEFT_KIND_FD_WATCH);
  EXPECT_EQ(0, weft_fd_watch_stop(loop, a));
  EXPECT_EQ(1, tr.released(outside));
  int held = -1;
  watch(p.r, WEFT_READABLE, [&](weft_fd_watch_t me, int) {
    EXPECT_EQ(0, weft_fd_watch_stop(loop, me));
    held = tr.released(self);
  }, &self);
  tr.expect(self, WEFT_KIND_FD_WATCH);
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, self->calls);
  EXPECT_EQ(0, held) << "released while its own callback ran";
  EXPECT_EQ(1, tr.released(self));
}

TEST_F(Release, PostAfterItRan) {
  Held h{&tr};
  tr.expect(&h, WEFT_KIND_POST);
  ASSERT_EQ(0, weft_loop_post(loop, &post_cb, &h));
  EXPECT_EQ(0, tr.released(&h)) << "not inside weft_loop_post";
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, h.calls);
  EXPECT_TRUE(h.held_in_callback);
  EXPECT_EQ(1, tr.released(&h));
}

TEST_F(Release, TaskAtReleaseOfAFinishedTask) {
  TaskBox *b = nullptr;
  weft_task_t t = spawn([](weft_task_t, int, int) { return 5; }, &b);
  tr.expect(b, WEFT_KIND_TASK);
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, tr.released(b)) << "finished, but its owner still holds the id";
  EXPECT_EQ(5, result(t));
  EXPECT_EQ(0, weft_task_release(loop, t));
  EXPECT_EQ(1, tr.released(b));
  EXPECT_EQ(WEFT_ESTALE, weft_task_release(loop, t));
}

TEST_F(Release, DetachedTaskWhenItFinishes) {
  // Detached at spawn, and released while it still waits.
  TaskBox *d = spawn_detached([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_yield(loop, self) : 1;
  });
  tr.expect(d, WEFT_KIND_TASK);
  TaskBox *r = nullptr;
  int held_in_last_step = -1;
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_sleep(loop, self, 0);
    held_in_last_step = tr.released(r);
    return 2;
  }, &r);
  tr.expect(r, WEFT_KIND_TASK);
  EXPECT_EQ(0, weft_task_release(loop, t));
  EXPECT_EQ(0, tr.released(r)) << "unfinished: released only when it finishes";
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, held_in_last_step);
  EXPECT_EQ(1, tr.released(r));
  EXPECT_EQ(1, tr.released(d));
}

// A task awaited by another: its joiner still gets its result; its data is
// released once, after that.
TEST_F(Release, AwaitedDetachedTaskIsReleasedOnce) {
  TaskBox *child = nullptr;
  weft_task_t c = spawn([&](weft_task_t self, int, int step) {
    return step == 0 ? weft_await_yield(loop, self) : 9;
  }, &child);
  tr.expect(child, WEFT_KIND_TASK);
  int got = 0;
  TaskBox *parent = spawn_detached([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      int r = weft_await_task(loop, self, c);
      EXPECT_EQ(0, weft_task_release(loop, c));  // detach while awaited
      return r;
    }
    got = status;
    return 0;
  });
  tr.expect(parent, WEFT_KIND_TASK);
  EXPECT_EQ(0, run());
  EXPECT_EQ(9, got);
  EXPECT_EQ(1, tr.released(child));
  EXPECT_EQ(1, tr.released(parent));
}

TEST_F(Release, CancelOfAFinishedAndReleasedTaskReleasesNothingMore) {
  TaskBox *b = nullptr;
  weft_task_t t = spawn([](weft_task_t, int, int) { return 0; }, &b);
  tr.expect(b, WEFT_KIND_TASK);
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, tr.released(b));
  EXPECT_EQ(0, weft_task_release(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(loop, t));
  EXPECT_EQ(1, tr.released(b));
}

// Everything weft_loop_free drops or ends is released during it, once.
TEST_F(Release, LoopFreeReleasesEverythingStillHeld) {
  Pipe p;
  TimerBox *once = nullptr, *rep = nullptr;
  timer(kHour, 0, [](weft_timer_t) {}, &once);
  timer(kHour, kHour, [](weft_timer_t) {}, &rep);
  tr.expect(once, WEFT_KIND_TIMER);
  tr.expect(rep, WEFT_KIND_TIMER);
  WatchBox *w = nullptr;
  watch(p.r, WEFT_READABLE, [](weft_fd_watch_t, int) {}, &w);
  tr.expect(w, WEFT_KIND_FD_WATCH);
  Held posted{&tr};
  tr.expect(&posted, WEFT_KIND_POST);
  ASSERT_EQ(0, weft_loop_post(loop, &post_cb, &posted));
  TaskBox *finished = nullptr, *sleeping = nullptr, *unstarted = nullptr;
  spawn([](weft_task_t, int, int) { return 0; }, &finished);
  tr.expect(finished, WEFT_KIND_TASK);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));  // `finished` finishes; the post runs
  EXPECT_EQ(1, tr.released(&posted));
  Held posted2{&tr};
  tr.expect(&posted2, WEFT_KIND_POST);
  ASSERT_EQ(0, weft_loop_post(loop, &post_cb, &posted2));
  spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  }, &sleeping);
  tr.expect(sleeping, WEFT_KIND_TASK);
  TaskBox *detached = spawn_detached([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  tr.expect(detached, WEFT_KIND_TASK);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));  // both now wait
  spawn([](weft_task_t, int status, int) { return status; }, &unstarted);
  tr.expect(unstarted, WEFT_KIND_TASK);
  EXPECT_EQ(0, tr.released(finished));
  free_loop();
  EXPECT_EQ(1, posted2.calls);
  EXPECT_TRUE(posted2.held_in_callback);
  EXPECT_EQ(0, once->calls);
  EXPECT_EQ(0, w->calls);
  // TearDown: each exactly once.
}

// ------------------------------------------------------------ pool threads

TEST_F(ReleaseThreaded, ToThreadUserDataAfterDone) {
  WorkBox *b = work_box([] { return 4; });
  int held_in_done = -1;
  b->done = [&](weft_work_t, int) { held_in_done = tr.released(b); };
  to_thread(b);
  tr.expect(b, WEFT_KIND_WORK);
  WorkBox *nodone = work_box([] { return 0; });
  void *ud = token(WEFT_KIND_WORK);
  weft_work_t id = 0;
  ASSERT_EQ(0, weft_to_thread(loop, &WorkBox::work_tramp, nodone, nullptr, ud, &id));
  EXPECT_EQ(0, run());
  EXPECT_EQ(4, b->done_result);
  EXPECT_EQ(0, held_in_done);
  EXPECT_EQ(1, tr.released(b));
  EXPECT_EQ(1, tr.released(ud));
  EXPECT_EQ(1, nodone->ran.load());
}

TEST_F(ReleaseThreaded, CancelledToThreadAfterItsDone) {
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
  tr.expect(blocker, WEFT_KIND_WORK);
  tr.expect(queued, WEFT_KIND_WORK);
  struct pollfd pfd = {started.fd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&pfd, 1, -1));
  EXPECT_EQ(0, weft_work_cancel(loop, q));
  EXPECT_EQ(0, tr.released(queued)) << "its done has not run yet";
  queued->done = [&](weft_work_t, int) { gate.open(); };
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, queued->done_result);
  EXPECT_EQ(0, queued->ran.load());
  EXPECT_EQ(1, tr.released(queued));
  EXPECT_EQ(1, tr.released(blocker));
}

namespace {
struct Job {
  Gate *gate = nullptr;
  Efd *started = nullptr;
  std::atomic<int> ran{0};
  std::atomic<bool> returned{false};
  static int fn(void *arg) {
    Job *j = static_cast<Job *>(arg);
    j->ran++;
    if (j->started) j->started->signal();
    if (j->gate) j->gate->wait();
    j->returned = true;
    return 6;
  }
};
}  // namespace

TEST_F(ReleaseThreaded, AwaitThreadArgWhenTheWorkEnds) {
  Job job;
  tr.expect(&job, WEFT_KIND_WORK);
  int got = 0;
  tracked([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_thread(loop, self, &Job::fn, &job);
    got = status;
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(6, got);
  EXPECT_EQ(1, tr.released(&job));
}

// A step that arms await_thread and finishes while the work runs orphans
// the work: its arg is released when the work function has returned, not
// when the step finished.
TEST_F(ReleaseThreaded, OrphanedWorkIsReleasedWhenItReallyEnds) {
  Gate gate;
  Efd started;
  Job job;
  job.gate = &gate;
  job.started = &started;
  tr.expect(&job, WEFT_KIND_WORK);
  struct After {
    Tracker *tr;
    Job *job;
    Gate *gate;
    int held = -1;
  } after{&tr, &job, &gate};
  tr.expect(&after, WEFT_KIND_POST);
  TaskBox *b = spawn_detached([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_thread(loop, self, &Job::fn, &job));
    struct pollfd pfd = {started.fd, POLLIN, 0};
    EXPECT_EQ(1, ::poll(&pfd, 1, -1));  // the work is running now
    // Runs in a later iteration, after this step finished the task.
    EXPECT_EQ(0, weft_loop_post(loop, [](weft_loop_t *, void *ud) {
      After *a = static_cast<After *>(ud);
      a->held = a->tr->released(a->job);
      a->gate->open();
    }, &after));
    return 3;  // finish anyway: the work is orphaned
  });
  tr.expect(b, WEFT_KIND_TASK);
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, after.held);
  EXPECT_TRUE(job.returned.load());
  EXPECT_EQ(1, tr.released(&job));
  EXPECT_EQ(1, tr.released(b));
}

// Cancelling a task whose work is still queued takes the work back: it never
// runs, and its arg is released at once. Cancelling one whose work runs
// releases the arg when the work ends.
TEST_F(ReleaseThreaded, CancelledAwaitThreadQueuedOrRunning) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate;
  Efd started;
  Job running, queued;
  running.gate = &gate;
  running.started = &started;
  tr.expect(&running, WEFT_KIND_WORK);
  tr.expect(&queued, WEFT_KIND_WORK);
  int r1 = 0, r2 = 0;
  weft_task_t t1 = tracked([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_thread(loop, self, &Job::fn, &running);
    r1 = status;
    return 0;
  });
  weft_task_t t2 = tracked([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_thread(loop, self, &Job::fn, &queued);
    r2 = status;
    return 0;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));  // both armed
  struct pollfd pfd = {started.fd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&pfd, 1, -1));  // `running` holds the only thread
  EXPECT_EQ(0, weft_task_cancel(loop, t2));
  EXPECT_EQ(1, tr.released(&queued)) << "taken back: released at the cancel";
  EXPECT_EQ(0, weft_task_cancel(loop, t1));
  EXPECT_EQ(0, tr.released(&running)) << "still running";
  gate.open();
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, r1);
  EXPECT_EQ(WEFT_ECANCELED, r2);
  EXPECT_EQ(0, queued.ran.load());
  EXPECT_EQ(1, running.ran.load());
  EXPECT_EQ(1, tr.released(&running));
}

// weft_loop_free with queued and running pool work: each arg and user_data
// is released once, after the work ended, on the freeing thread.
TEST_F(ReleaseThreaded, LoopFreeReleasesPoolWork) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  Gate gate;
  Efd started;
  Job running, queued_await;
  running.gate = &gate;
  running.started = &started;
  tr.expect(&running, WEFT_KIND_WORK);
  tr.expect(&queued_await, WEFT_KIND_WORK);
  WorkBox *queued_cb = work_box([] { return 0; });
  TaskBox *a = nullptr, *q = nullptr;
  spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_thread(loop, self, &Job::fn, &running) : status;
  }, &a);
  spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_thread(loop, self, &Job::fn, &queued_await) : status;
  }, &q);
  tr.expect(a, WEFT_KIND_TASK);
  tr.expect(q, WEFT_KIND_TASK);
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  to_thread(queued_cb);
  tr.expect(queued_cb, WEFT_KIND_WORK);
  struct pollfd pfd = {started.fd, POLLIN, 0};
  ASSERT_EQ(1, ::poll(&pfd, 1, -1));
  // The running work ends while (or before) free waits for it.
  std::thread opener([&] { gate.open(); });
  free_loop();
  opener.join();
  EXPECT_TRUE(running.returned.load());
  // The gate may open before free cancels the queued work or after (then
  // the work runs): either way it ends once and is released once.
  EXPECT_EQ(1, queued_cb->done_calls);
  EXPECT_TRUE(queued_cb->done_result == WEFT_ECANCELED || queued_cb->done_result == 0);
  // TearDown: each exactly once.
}

TEST_F(ReleaseThreaded, PostsFromAnotherThreadAreReleasedOnTheLoopThread) {
  constexpr int kN = 200;
  std::vector<Held> held(kN, Held{&tr});
  for (auto &h : held) tr.expect(&h, WEFT_KIND_POST);
  // A timer keeps the loop running until the poster's last post stops it.
  TimerBox *kb = nullptr;
  weft_timer_t keep = timer(kHour, kHour, [](weft_timer_t) {}, &kb);
  tr.expect(kb, WEFT_KIND_TIMER);
  struct Last {
    weft_loop_t *loop;
    weft_timer_t keep;
  } last{loop, keep};
  std::thread poster([&] {
    for (auto &h : held) EXPECT_EQ(0, weft_loop_post(loop, &post_cb, &h));
    EXPECT_EQ(0, weft_loop_post(loop, [](weft_loop_t *l, void *ud) {
      EXPECT_EQ(0, weft_timer_stop(l, static_cast<Last *>(ud)->keep));
    }, &last));
  });
  tr.expect(&last, WEFT_KIND_POST);
  EXPECT_EQ(0, run());
  poster.join();
  for (auto &h : held) {
    EXPECT_EQ(1, h.calls);
    EXPECT_TRUE(h.held_in_callback);
  }
}

// await_thread in a step whose task already has a cancellation pending:
// the await resolves at once, the work never starts, and its arg is
// released inside the call (the documented exception), exactly once.
TEST_F(ReleaseThreaded, AwaitThreadWithACancelPendingReleasesItsArgAtOnce) {
  Job job;
  tr.expect(&job, WEFT_KIND_WORK);
  int got = 0, released_in_call = -1;
  tracked([&](weft_task_t self, int status, int step) {
    if (step == 0) {
      EXPECT_EQ(0, weft_task_cancel(loop, self));  // running: for the next await
      int rc = weft_await_thread(loop, self, &Job::fn, &job);
      released_in_call = tr.released(&job);
      return rc;
    }
    got = status;
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, got);
  EXPECT_EQ(1, released_in_call);
  EXPECT_EQ(0, job.ran.load());
}
