// The wrap build's own cases (see CMakeLists.txt): counters near their
// limits, so that what a long-lived process reaches after hours happens in
// milliseconds.
#include <set>

#include "heap.h"
#include "id.h"
#include "weft_test.h"

using namespace wt;

namespace {

static_assert(weft::kSeqStart > 0xffff0000u, "built with WEFT_WRAP_TEST");

void noop_timer(weft_loop_t *, weft_timer_t, void *) {}

struct Order {
  std::vector<int> fired;
  static void cb(weft_loop_t *, weft_timer_t, void *ud) {
    auto *p = static_cast<std::pair<Order *, int> *>(ud);
    p->first->fired.push_back(p->second);
  }
};

// Issue 11 item 2: a timer armed before the heap's sequence runs out still
// fires in deadline order with timers armed after it, and does not hold
// them up (it once compared int32_t differences: a timer older than 2^31
// pushes never fired and stopped every later timer).
TEST(Wrap, TimersKeepTheirOrderAcrossTheSequenceRunningOut) {
  weft_loop_t *loop = nullptr;
  ASSERT_EQ(0, weft_loop_new(&loop));
  Order o;
  std::pair<Order *, int> a{&o, 1}, b{&o, 2}, c{&o, 3};
  ASSERT_EQ(0, weft_timer_start(loop, 20 * kMs, 0, Order::cb, &a, nullptr));  // old, long
  for (int i = 0; i < 10000; i++) {  // past the end of the sequence: renumbered
    weft_timer_t t = 0;
    ASSERT_EQ(0, weft_timer_start(loop, kHour, 0, noop_timer, nullptr, &t));
    ASSERT_EQ(0, weft_timer_stop(loop, t));
  }
  ASSERT_EQ(0, weft_timer_start(loop, 1 * kMs, 0, Order::cb, &b, nullptr));
  ASSERT_EQ(0, weft_timer_start(loop, 2 * kMs, 0, Order::cb, &c, nullptr));
  Watchdog dog(loop);
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));
  EXPECT_EQ((std::vector<int>{2, 3, 1}), o.fired);
  EXPECT_EQ(0, weft_loop_free(loop));
}

// Timers started from a timer callback wait for the next timer phase, also
// when the sequence is renumbered in the middle of the phase.
TEST(Wrap, TimersArmedInTheTimerPhaseWaitAcrossARenumbering) {
  weft_loop_t *loop = nullptr;
  ASSERT_EQ(0, weft_loop_new(&loop));
  struct Ctx {
    weft_loop_t *loop;
    int64_t armed_in = -1;
    int early = 0, fired = 0;
  } ctx{loop};
  ASSERT_EQ(0, weft_timer_start(
                   loop, 0, 0,
                   [](weft_loop_t *l, weft_timer_t, void *ud) {
                     Ctx *c = static_cast<Ctx *>(ud);
                     c->armed_in = stat_iterations(l);
                     for (int i = 0; i < 5000; i++)
                       weft_timer_start(
                           l, 0, 0,
                           [](weft_loop_t *l2, weft_timer_t, void *ud2) {
                             Ctx *c2 = static_cast<Ctx *>(ud2);
                             c2->fired++;
                             if (stat_iterations(l2) == c2->armed_in) c2->early++;
                           },
                           c, nullptr);
                   },
                   &ctx, nullptr));
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));
  EXPECT_EQ(5000, ctx.fired);
  EXPECT_EQ(0, ctx.early) << "timers armed in the phase ran in the same phase";
  EXPECT_EQ(0, weft_loop_free(loop));
}

// Item 3: one slot reused past its generations is retired; no id repeats
// and every old id stays stale; the loop goes on handing out ids.
TEST(Wrap, SlotsRetireAndIdsNeverRepeat) {
  weft_loop_t *loop = nullptr;
  ASSERT_EQ(0, weft_loop_new(&loop));
  std::set<int64_t> seen;
  std::vector<int64_t> all;
  for (int i = 0; i < 20000; i++) {  // about five slots' worth of generations
    weft_timer_t t = 0;
    ASSERT_EQ(0, weft_timer_start(loop, kHour, 0, noop_timer, nullptr, &t));
    ASSERT_TRUE(seen.insert(t).second) << "id repeated after " << i << " creations";
    all.push_back(t);
    ASSERT_EQ(0, weft_timer_stop(loop, t));
  }
  std::set<int64_t> slots;
  for (int64_t id : all) slots.insert(id & 0xffffff);
  EXPECT_GE(slots.size(), 4u) << "slots retired and others took over";
  weft_timer_t live = 0;
  ASSERT_EQ(0, weft_timer_start(loop, kHour, 0, noop_timer, nullptr, &live));
  for (int64_t id : all) ASSERT_EQ(WEFT_ESTALE, weft_timer_stop(loop, id));
  EXPECT_EQ(0, weft_timer_stop(loop, live));
  EXPECT_EQ(0, weft_loop_free(loop));
}

// Item 3: loops that take a tag in turn never hand out one another's ids;
// once every tag's generations are spent, weft_loop_new fails with
// WEFT_ENOMEM instead of reusing an id. Each loop here uses 40 generations,
// more than a tag has left in this build: every tag serves one loop.
TEST(Wrap, LoopNewFailsOnceEveryTagIsSpentAndIdsNeverRepeat) {
  std::set<int64_t> seen;
  std::vector<std::pair<int64_t, int>> sample;  // (id, loop number)
  int made = 0, rc = 0;
  for (;;) {
    weft_loop_t *l = nullptr;
    rc = weft_loop_new(&l);
    if (rc != 0) break;
    made++;
    for (int i = 0; i < 40; i++) {
      weft_timer_t t = 0;
      ASSERT_EQ(0, weft_timer_start(l, kHour, 0, noop_timer, nullptr, &t));
      ASSERT_TRUE(seen.insert(t).second) << "loop " << made << " repeated an id";
      ASSERT_EQ(0, weft_timer_stop(l, t));
      if (i == 39 && made % 101 == 0) sample.emplace_back(t, made);
    }
    ASSERT_EQ(0, weft_loop_free(l));
    ASSERT_LT(made, 100000) << "the id space never ran out";
  }
  EXPECT_EQ(WEFT_ENOMEM, rc);
  EXPECT_EQ(4096, made) << "each tag served one loop";
}

}  // namespace
