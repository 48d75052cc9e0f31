// Ids never collide for the life of the process (issue 11): a stale id of
// any age, or an id of another loop, is WEFT_ESTALE. Ids once repeated
// after 2^22 reuses of one slot, and two live loops created 2^18 loops apart
// handed out identical ids.
#include <set>

#include "weft_test.h"

using namespace wt;

namespace {

uint32_t tag_of(int64_t id) { return uint32_t(uint64_t(id) >> 46) & 0xfff; }

void noop_timer(weft_loop_t *, weft_timer_t, void *) {}
int finish(weft_loop_t *, weft_task_t, int status, void *) { return status; }

TEST(IdLife, LiveLoopsNeverShareATag) {
  std::vector<std::pair<weft_loop_t *, uint32_t>> loops;  // live loops, their tags
  std::set<uint32_t> tags;
  for (int i = 0; i < 200; i++) {
    weft_loop_t *l = nullptr;
    ASSERT_EQ(0, weft_loop_new(&l));
    weft_task_t t = 0;
    ASSERT_EQ(0, weft_task_spawn(l, finish, nullptr, &t));
    EXPECT_TRUE(tags.insert(tag_of(t)).second) << "loop " << i << " shares a live loop's tag";
    loops.emplace_back(l, tag_of(t));
    // Free some as we go, so that tags come free and are taken again.
    if (i % 3 == 2) {
      auto victim = loops.end() - 2;
      tags.erase(victim->second);
      ASSERT_EQ(0, weft_loop_free(victim->first));
      loops.erase(victim);
    }
  }
  for (auto &l : loops) EXPECT_EQ(0, weft_loop_free(l.first));
}

// One slot reused many times (Go frees a finished task's slot at once):
// every id differs, and every old id stays stale.
TEST(IdLife, OneSlotReusedNeverRepeatsAnId) {
  weft_loop_t *l = nullptr;
  ASSERT_EQ(0, weft_loop_new(&l));
  std::set<int64_t> seen;
  std::vector<int64_t> sample;
  for (int i = 0; i < 100000; i++) {
    weft_timer_t t = 0;
    ASSERT_EQ(0, weft_timer_start(l, kHour, 0, noop_timer, nullptr, &t));
    ASSERT_TRUE(seen.insert(t).second) << "id repeated after " << i << " reuses";
    ASSERT_EQ(0, weft_timer_stop(l, t));
    if (i % 997 == 0) sample.push_back(t);
  }
  weft_timer_t live = 0;
  ASSERT_EQ(0, weft_timer_start(l, kHour, 0, noop_timer, nullptr, &live));
  for (int64_t old : sample) EXPECT_EQ(WEFT_ESTALE, weft_timer_stop(l, old));
  EXPECT_EQ(0, weft_timer_stop(l, live));
  EXPECT_EQ(0, weft_loop_free(l));
}

// A loop's tag comes back to a later loop (4096 loops later): the later
// loop's ids start above every generation the earlier one handed out, so
// none of the earlier ids names anything, however much the earlier loop
// reused its slots.
TEST(IdLife, IdsOfAFreedLoopStayStaleWhenItsTagComesBack) {
  weft_loop_t *a = nullptr;
  ASSERT_EQ(0, weft_loop_new(&a));
  std::set<int64_t> old;
  for (int i = 0; i < 3000; i++) {  // walk one slot through 3000 generations
    weft_timer_t t = 0;
    ASSERT_EQ(0, weft_timer_start(a, kHour, 0, noop_timer, nullptr, &t));
    old.insert(t);
    ASSERT_EQ(0, weft_timer_stop(a, t));
  }
  weft_task_t task_a = 0;
  ASSERT_EQ(0, weft_task_spawn(a, finish, nullptr, &task_a));
  const uint32_t tag = tag_of(task_a);
  ASSERT_EQ(0, weft_loop_free(a));

  weft_loop_t *b = nullptr;
  for (int n = 0; n < 5000 && !b; n++) {
    weft_loop_t *x = nullptr;
    ASSERT_EQ(0, weft_loop_new(&x));
    weft_task_t t = 0;
    ASSERT_EQ(0, weft_task_spawn(x, finish, nullptr, &t));
    if (tag_of(t) == tag) {
      b = x;
    } else {
      ASSERT_EQ(0, weft_loop_free(x));
    }
  }
  ASSERT_NE(nullptr, b) << "the tag never came back";
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(b, task_a));
  for (int i = 0; i < 3000; i++) {
    weft_timer_t t = 0;
    ASSERT_EQ(0, weft_timer_start(b, kHour, 0, noop_timer, nullptr, &t));
    EXPECT_EQ(0u, old.count(t)) << "the new loop handed out an id of the freed one";
    ASSERT_EQ(0, weft_timer_stop(b, t));
  }
  weft_timer_t live = 0;
  ASSERT_EQ(0, weft_timer_start(b, kHour, 0, noop_timer, nullptr, &live));
  for (int64_t id : old) ASSERT_EQ(WEFT_ESTALE, weft_timer_stop(b, id));
  EXPECT_EQ(0, weft_timer_stop(b, live));
  EXPECT_EQ(0, weft_loop_free(b));
}

}  // namespace
