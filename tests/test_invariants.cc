// White-box invariants of the loop, checked after every step of a random
// sequence of C-API calls: the timer heap's count of stale entries matches
// the entries that no longer name a live arm (a mismatch means an entry was
// dropped while live, or compaction is mis-triggered), and the gauges in
// stats match the pools.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <random>
#include <vector>

#define private public
#include "heap.h"
#undef private
#include "loop.h"

namespace {

std::mt19937 rng;

struct World {
  weft_loop_t *loop = nullptr;
  std::vector<weft_timer_t> timers;
  std::vector<weft_task_t> tasks;
  int64_t next_timeout_calls = 0;
};
World *g_world;

// Counts heap entries that name no live arm; must equal heap.stale().
uint32_t count_stale(weft_loop_t *l) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < l->heap.size(); i++)
    if (!l->heap_entry_live(l->heap.a_[i])) n++;
  return n;
}

void timer_cb(weft_loop_t *l, weft_timer_t self, void *) {
  if (rng() % 4 == 0) weft_timer_stop(l, self);
  if (rng() % 3 == 0) {
    weft_loop_next_timeout(l);
    g_world->next_timeout_calls++;
  }
  if (rng() % 5 == 0) {
    weft_timer_t t = 0;
    if (weft_timer_start(l, int64_t(rng() % 500) * 1000, 0, timer_cb, nullptr, &t) == 0)
      g_world->timers.push_back(t);
  }
}

int step(weft_loop_t *l, weft_task_t self, int status, void *ud) {
  int *n = static_cast<int *>(ud);
  if (++*n > 6 || (status < 0 && rng() % 2)) return status;
  int r;
  switch (rng() % 4) {
    case 0: r = weft_await_sleep(l, self, int64_t(rng() % 800) * 1000); break;
    case 1: r = weft_await_yield(l, self); break;
    case 2: r = weft_await_sleep(l, self, 0); break;
    default: r = weft_await_sleep(l, self, int64_t(rng() % 100) * 1000000); break;
  }
  if (rng() % 3 == 0) {
    weft_loop_next_timeout(l);  // from inside the step that armed the sleep
    g_world->next_timeout_calls++;
  }
  if (rng() % 6 == 0) weft_task_timeout(l, self, int64_t(rng() % 300) * 1000);
  if (rng() % 10 == 0) return 1;  // armed, then finished: disarmed
  return r;
}

TEST(Invariants, TimerHeapStaleCountAndGaugesUnderRandomUse) {
  for (unsigned seed = 1; seed <= 6; seed++) {
    rng.seed(seed);
    World w;
    g_world = &w;
    ASSERT_EQ(0, weft_loop_new(&w.loop));
    std::vector<std::unique_ptr<int>> counters;
    for (int op = 0; op < 4000; op++) {
      switch (rng() % 10) {
        case 0:
        case 1: {
          weft_timer_t t = 0;
          int64_t rep = rng() % 4 == 0 ? int64_t(rng() % 300 + 1) * 1000 : 0;
          if (weft_timer_start(w.loop, int64_t(rng() % 1000) * 1000, rep, timer_cb, nullptr, &t) == 0)
            w.timers.push_back(t);
          break;
        }
        case 2:
          if (!w.timers.empty()) weft_timer_stop(w.loop, w.timers[rng() % w.timers.size()]);
          break;
        case 3:
        case 4: {
          counters.emplace_back(new int(0));
          weft_task_t t = 0;
          ASSERT_EQ(0, weft_task_spawn(w.loop, step, counters.back().get(), &t));
          w.tasks.push_back(t);
          break;
        }
        case 5:
          if (!w.tasks.empty()) weft_task_cancel(w.loop, w.tasks[rng() % w.tasks.size()]);
          break;
        case 6:
          if (!w.tasks.empty())
            weft_task_timeout(w.loop, w.tasks[rng() % w.tasks.size()], int64_t(rng() % 500) * 1000);
          break;
        case 7:
          weft_loop_next_timeout(w.loop);
          break;
        default:
          weft_loop_run(w.loop, WEFT_RUN_NOWAIT);
          break;
      }
      ASSERT_EQ(count_stale(w.loop), w.loop->heap.stale()) << "seed " << seed << " op " << op;
      weft_loop_stats_t s;
      s.size = sizeof s;
      weft_loop_stats(w.loop, &s);
      ASSERT_EQ(int64_t(w.loop->tasks.live()) -
                    [&] {
                      int64_t done = 0;
                      for (uint32_t i = 0; i < w.loop->tasks.size(); i++)
                        done += w.loop->tasks.at(i)->state == weft::TS_DONE;
                      return done;
                    }(),
                s.tasks_alive);
      ASSERT_EQ(int64_t(w.loop->watches.live()), s.fd_watches_active);
    }
    // Cancel everything, stop every timer, run to the end.
    for (weft_task_t t : w.tasks) weft_task_cancel(w.loop, t);
    for (weft_timer_t t : w.timers) weft_timer_stop(w.loop, t);
    for (int i = 0; i < 1000 && weft_loop_run(w.loop, WEFT_RUN_NOWAIT) == 1; i++) {
      for (weft_task_t t : w.tasks) weft_task_cancel(w.loop, t);
      ASSERT_EQ(count_stale(w.loop), w.loop->heap.stale());
    }
    EXPECT_EQ(0, weft_loop_run(w.loop, WEFT_RUN_DEFAULT));
    EXPECT_GT(w.next_timeout_calls, 0);
    EXPECT_EQ(0, weft_loop_free(w.loop));
  }
}

}  // namespace
