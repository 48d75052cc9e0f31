// Threads: posts from several threads, the foreign-thread rules (EPERM /
// EBUSY while running, anything goes while idle), stop/stats/now from other
// threads, several loops on several threads.
#include <thread>

#include "weft_test.h"

using namespace wt;

namespace {

class LoopThreaded : public LoopTest {
 protected:
  // Runs fn on a new thread and waits for it.
  static void on_other_thread(const std::function<void()> &fn) {
    std::thread th(fn);
    th.join();
  }
};

struct Item {
  std::vector<std::vector<int>> *seen;
  int thread, seq;
};

TEST_F(LoopThreaded, PostsFromFourThreadsEachRunOnceInPerThreadOrder) {
  const int kThreads = 4, kPer = 20000;
  std::vector<std::vector<int>> seen(kThreads);
  std::vector<Item> items;
  items.reserve(kThreads * kPer);
  for (int t = 0; t < kThreads; t++)
    for (int i = 0; i < kPer; i++) items.push_back(Item{&seen, t, i});
  int total = 0;
  Efd never;
  weft_fd_watch_t keepalive = watch(never.fd, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  struct Ctx {
    int *total;
    int want;
    weft_fd_watch_t keepalive;
  } ctx{&total, kThreads * kPer, keepalive};
  static Ctx *g_ctx;
  g_ctx = &ctx;
  auto cb = [](weft_loop_t *l, void *ud) {
    Item *it = static_cast<Item *>(ud);
    (*it->seen)[it->thread].push_back(it->seq);
    if (++*g_ctx->total == g_ctx->want) weft_fd_watch_stop(l, g_ctx->keepalive);
  };
  std::vector<std::thread> threads;
  // Start the posters from inside the running loop.
  post([&] {
    for (int t = 0; t < kThreads; t++)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPer; i++)
          ASSERT_EQ(0, weft_loop_post(loop, cb, &items[size_t(t) * kPer + i]));
      });
  });
  EXPECT_EQ(0, run());
  for (auto &th : threads) th.join();
  EXPECT_EQ(kThreads * kPer, total);
  for (int t = 0; t < kThreads; t++) {
    ASSERT_EQ(size_t(kPer), seen[t].size()) << "thread " << t;
    for (int i = 0; i < kPer; i++)
      if (seen[t][i] != i) {
        ADD_FAILURE() << "thread " << t << ": post " << seen[t][i] << " at position " << i;
        break;
      }
  }
  EXPECT_EQ(int64_t(kThreads) * kPer + 1, stats(loop).posts);
}

// While the loop runs, other threads get EPERM from loop-thread functions
// (EBUSY from run, free and set_option), and nothing changes.
TEST_F(LoopThreaded, ForeignThreadWhileRunning) {
  Pipe p;
  weft_task_t sleeper = spawn([&](weft_task_t self, int status, int step) {
    return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
  });
  weft_timer_t tm = timer(kHour, 0, [](weft_timer_t) {});
  weft_fd_watch_t w = watch(p.w, WEFT_WRITABLE, [](weft_fd_watch_t, int) {});
  WorkBox *wb = work_box([] { return 0; });
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  std::vector<std::pair<const char *, int64_t>> got;
  weft_loop_stats_t st{};
  int64_t now = -1;
  int post_rc = 1, stats_rc = 1;
  bool posted_ran = false;
  post([&] {
    weft_work_t work = to_thread(wb);
    // The loop is running (we are in its callback): ask another thread.
    on_other_thread([&] {
      TaskBox tb{[](weft_task_t, int, int) { return 0; }, {}, 0, false, 0};
      TimerBox tmb{[](weft_timer_t) {}, 0};
      WatchBox wab{[](weft_fd_watch_t, int) {}, 0};
      weft_task_t t_out = 0;
      weft_timer_t tm_out = 0;
      weft_fd_watch_t w_out = 0;
      weft_work_t wk_out = 0;
      int r = 0;
      got = {
          {"set_logger", weft_loop_set_logger(loop, nullptr, nullptr)},
          {"backend_fd", weft_loop_backend_fd(loop)},
          {"next_timeout", weft_loop_next_timeout(loop)},
          {"timer_start", weft_timer_start(loop, 0, 0, &TimerBox::tramp, &tmb, &tm_out)},
          {"timer_stop", weft_timer_stop(loop, tm)},
          {"watch_start",
           weft_fd_watch_start(loop, p.r, WEFT_READABLE, &WatchBox::tramp, &wab, &w_out)},
          {"watch_modify", weft_fd_watch_modify(loop, w, WEFT_READABLE)},
          {"watch_stop", weft_fd_watch_stop(loop, w)},
          {"to_thread",
           weft_to_thread(loop, &WorkBox::work_tramp, wb, nullptr, nullptr, &wk_out)},
          {"work_cancel", weft_work_cancel(loop, work)},
          {"task_spawn", weft_task_spawn(loop, &TaskBox::tramp, &tb, &t_out)},
          {"task_cancel", weft_task_cancel(loop, sleeper)},
          {"task_timeout", weft_task_timeout(loop, sleeper, 1)},
          {"task_state", weft_task_state(loop, sleeper)},
          {"task_result", weft_task_result(loop, sleeper, &r)},
          {"task_release", weft_task_release(loop, sleeper)},
          {"await_sleep", weft_await_sleep(loop, sleeper, 0)},
          {"await_fd", weft_await_fd(loop, sleeper, p.w, WEFT_WRITABLE)},
          {"await_thread", weft_await_thread(loop, sleeper, &WorkBox::work_tramp, wb)},
          {"await_task", weft_await_task(loop, sleeper, sleeper)},
          {"await_all", weft_await_all(loop, sleeper, nullptr, 0, 0)},
          {"await_yield", weft_await_yield(loop, sleeper)},
          {"run", weft_loop_run(loop, WEFT_RUN_NOWAIT)},
          {"free", weft_loop_free(loop)},
          {"set_option", weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 1)},
      };
      EXPECT_EQ(0, t_out);
      EXPECT_EQ(0, tm_out);
      EXPECT_EQ(0, w_out);
      EXPECT_EQ(0, wk_out);
      // The any-thread functions work.
      post_rc = weft_loop_post(loop, &PostBox::tramp, new PostBox{[&] { posted_ran = true; }});
      st.size = sizeof st;
      stats_rc = weft_loop_stats(loop, &st);
      now = weft_loop_now(loop);
    });
  });
  EXPECT_EQ(1, run(WEFT_RUN_ONCE));
  for (auto &g : got) {
    const bool busy = std::string(g.first) == "run" || std::string(g.first) == "free" ||
                      std::string(g.first) == "set_option";
    EXPECT_EQ(busy ? WEFT_EBUSY : WEFT_EPERM, g.second) << g.first;
  }
  EXPECT_EQ(25u, got.size());
  EXPECT_EQ(0, post_rc);
  EXPECT_EQ(0, stats_rc);
  EXPECT_EQ(1, st.tasks_alive);
  EXPECT_GT(now, 0);
  // Nothing changed.
  EXPECT_EQ(WEFT_TASK_WAITING, state(sleeper));
  weft_loop_stats_t s = stats(loop);
  EXPECT_EQ(1, s.timers_active);
  EXPECT_EQ(1, s.fd_watches_active);
  EXPECT_EQ(1, s.tasks_alive);
  EXPECT_EQ(0, weft_timer_stop(loop, tm));
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(0, weft_task_cancel(loop, sleeper));
  EXPECT_EQ(0, run());
  EXPECT_TRUE(posted_ran);
  EXPECT_EQ(WEFT_ECANCELED, result(sleeper));
  EXPECT_EQ(1, wb->done_calls) << "work_cancel from the foreign thread did nothing";
}

// While no thread runs it, any single thread may use the loop.
TEST_F(LoopThreaded, AnotherThreadMayUseTheLoopWhileIdle) {
  weft_task_t t = 0;
  int timer_calls = 0;
  on_other_thread([&] {
    t = spawn([&](weft_task_t self, int status, int step) {
      return step == 0 ? weft_await_sleep(loop, self, 1 * kMs) : status + 3;
    });
    timer(0, 0, [&](weft_timer_t) { timer_calls++; });
    EXPECT_EQ(WEFT_TASK_READY, weft_task_state(loop, t));
    EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  });
  EXPECT_EQ(0, run());  // the main thread finishes the work
  EXPECT_EQ(3, result(t));
  EXPECT_EQ(1, timer_calls);
  on_other_thread([&] {
    EXPECT_EQ(0, weft_task_release(loop, t));
    EXPECT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 0));
    EXPECT_GE(weft_loop_backend_fd(loop), 0);
  });
  on_other_thread([&] { free_loop(); });  // freed from a third thread
}

TEST_F(LoopThreaded, StopFromAnotherThreadWhileBlockedInThePoll) {
  Efd never;
  weft_fd_watch_t w = watch(never.fd, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  Gate running;
  std::thread stopper([&] {
    running.wait();
    EXPECT_EQ(0, weft_loop_stop(loop));
  });
  post([&] { running.open(); });
  EXPECT_EQ(1, run()) << "stopped with a watch alive";
  stopper.join();
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  EXPECT_EQ(0, run());
}

TEST_F(LoopThreaded, StopFromAnotherThreadBeforeRun) {
  Efd never;
  weft_fd_watch_t w = watch(never.fd, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  on_other_thread([&] { EXPECT_EQ(0, weft_loop_stop(loop)); });
  EXPECT_EQ(1, run()) << "the next run returns after one iteration";
  EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
}

TEST_F(LoopThreaded, StatsAndNowFromAnotherThreadWhileRunning) {
  for (int i = 0; i < 100; i++)
    spawn_detached([&](weft_task_t self, int status, int step) {
      return step == 0 ? weft_await_sleep(loop, self, kHour) : status;
    });
  Efd never;
  weft_fd_watch_t w = watch(never.fd, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  Gate running;
  weft_loop_stats_t seen{};
  int64_t now = 0;
  std::thread reader([&] {
    running.wait();
    // The loop may be anywhere in its iteration; each value is exact.
    for (int i = 0; i < 1000; i++) {
      seen.size = sizeof seen;
      ASSERT_EQ(0, weft_loop_stats(loop, &seen));
      EXPECT_EQ(100, seen.tasks_alive);
      EXPECT_EQ(1, seen.fd_watches_active);
      now = weft_loop_now(loop);
      EXPECT_GT(now, 0);
    }
    weft_loop_stop(loop);
  });
  timer(0, 0, [&](weft_timer_t) { running.open(); });
  EXPECT_EQ(1, run());
  reader.join();
  weft_fd_watch_stop(loop, w);
  EXPECT_LE(now, mono());
}

TEST_F(LoopThreaded, RunFreeAndSetOptionFromAnotherThreadAreBusy) {
  int run_rc = 0, free_rc = 0, opt_rc = 0;
  post([&] {
    on_other_thread([&] {
      run_rc = weft_loop_run(loop, WEFT_RUN_DEFAULT);
      free_rc = weft_loop_free(loop);
      opt_rc = weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 2);
    });
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EBUSY, run_rc);
  EXPECT_EQ(WEFT_EBUSY, free_rc);
  EXPECT_EQ(WEFT_EBUSY, opt_rc);
}

// Each loop on its own thread, busy at once; ids do not cross loops.
TEST_F(LoopThreaded, LoopsOnSeveralThreads) {
  const int kLoops = 4;
  std::vector<weft_task_t> first_ids(kLoops);
  std::vector<int> results(kLoops, -1);
  std::vector<weft_loop_t *> loops(kLoops);
  for (auto &l : loops) ASSERT_EQ(0, weft_loop_new(&l));
  Gate go;
  std::vector<std::thread> ths;
  for (int i = 0; i < kLoops; i++)
    ths.emplace_back([&, i] {
      weft_loop_t *l = loops[i];
      struct Ping {
        weft_loop_t *l;
        int n = 0;
      } ping{l};
      TaskBox tb{nullptr, {}, 0, false, 0};
      tb.fn = [&](weft_task_t self, int, int) {
        if (++ping.n < 2000) return weft_await_yield(l, self);
        return ping.n;
      };
      weft_task_t t = 0;
      EXPECT_EQ(0, weft_task_spawn(l, &TaskBox::tramp, &tb, &t));
      first_ids[i] = t;
      go.wait();
      EXPECT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
      int r = 0;
      EXPECT_EQ(0, weft_task_result(l, t, &r));
      results[i] = r;
    });
  go.open();
  for (auto &th : ths) th.join();
  for (int i = 0; i < kLoops; i++) {
    EXPECT_EQ(2000, results[i]);
    for (int j = 0; j < kLoops; j++)
      if (i != j) {
        EXPECT_EQ(WEFT_ESTALE, weft_task_state(loops[i], first_ids[j]));
      }
  }
  for (auto &l : loops) EXPECT_EQ(0, weft_loop_free(l));
}

// Pool threads and plain threads post to a loop whose tasks are busy.
TEST_F(LoopThreaded, PostsFromPoolAndPlainThreadsWhileTasksRun) {
  const int kPosts = 2000;
  std::atomic<int> posted{0};
  int ran = 0;
  Efd never;
  weft_fd_watch_t keep = watch(never.fd, WEFT_READABLE, [](weft_fd_watch_t, int) {});
  auto bump = [&] {
    if (++ran == 3 * kPosts) weft_fd_watch_stop(loop, keep);
  };
  for (int i = 0; i < 50; i++)
    spawn_detached([&](weft_task_t self, int, int step) {
      return step < 100 ? weft_await_yield(loop, self) : 0;
    });
  for (int k = 0; k < 2; k++)
    to_thread(work_box([&] {
      for (int i = 0; i < kPosts; i++) {
        weft_loop_post(loop, &PostBox::tramp, new PostBox{bump});
        posted++;
      }
      return 0;
    }));
  std::thread th([&] {
    for (int i = 0; i < kPosts; i++) {
      weft_loop_post(loop, &PostBox::tramp, new PostBox{bump});
      posted++;
    }
  });
  EXPECT_EQ(0, run());
  th.join();
  EXPECT_EQ(3 * kPosts, ran);
}

}  // namespace
