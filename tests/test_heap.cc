// Unit tests of core/heap.h: the 4-ary timer heap of (deadline, ref, seq)
// entries -- ordering, FIFO among equal deadlines, stale-entry compaction,
// shrinking, and the sequence number's renumbering before it runs out.
#include <algorithm>
#include <random>
#include <map>
#include <set>
#include <vector>

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>

// White box: the wrap test needs to set the private sequence counter.
#define private public
#include "heap.h"
#undef private

namespace {

using weft::HeapEntry;
using weft::TimerHeap;

std::vector<HeapEntry> drain(TimerHeap &h) {
  std::vector<HeapEntry> out;
  while (!h.empty()) {
    out.push_back(h.top());
    h.pop();
  }
  return out;
}

uint32_t push(TimerHeap &h, int64_t deadline, uint32_t ref) {
  EXPECT_TRUE(h.reserve_one());
  return h.push(deadline, ref);
}

TEST(Heap, EmptyAndSingle) {
  TimerHeap h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(0u, h.size());
  uint32_t s = push(h, 5, 1);
  EXPECT_NE(0u, s);
  EXPECT_EQ(1u, h.size());
  EXPECT_EQ(5, h.top().deadline);
  EXPECT_EQ(1u, h.top().ref);
  EXPECT_EQ(s, h.top().seq);
  h.pop();
  EXPECT_TRUE(h.empty());
}

TEST(Heap, PopsInDeadlineOrderWithFifoTies) {
  TimerHeap h;
  std::mt19937 rng(7);
  const int n = 20000;
  for (int i = 0; i < n; i++) push(h, int64_t(rng() % 500), uint32_t(i));
  auto out = drain(h);
  ASSERT_EQ(size_t(n), out.size());
  for (int i = 1; i < n; i++) {
    ASSERT_LE(out[i - 1].deadline, out[i].deadline) << i;
    if (out[i - 1].deadline == out[i].deadline) {
      ASSERT_LT(out[i - 1].ref, out[i].ref) << "equal deadlines pop in push order";
    }
  }
}

TEST(Heap, EqualDeadlinesAreFifo) {
  TimerHeap h;
  for (uint32_t i = 0; i < 1000; i++) push(h, 42, i);
  auto out = drain(h);
  for (uint32_t i = 0; i < 1000; i++) EXPECT_EQ(i, out[i].ref);
}

TEST(Heap, InterleavedPushPop) {
  TimerHeap h;
  std::multiset<std::pair<int64_t, uint32_t>> model;  // (deadline, seq)
  std::mt19937 rng(11);
  for (int round = 0; round < 50000; round++) {
    if (model.empty() || rng() % 3) {
      int64_t d = int64_t(rng() % 1000);
      uint32_t s = push(h, d, 0);
      model.insert({d, s});
    } else {
      auto want = *model.begin();
      ASSERT_EQ(want.first, h.top().deadline);
      ASSERT_EQ(want.second, h.top().seq);
      h.pop();
      model.erase(model.begin());
    }
    ASSERT_EQ(model.size(), size_t(h.size()));
  }
}

TEST(Heap, NegativeAndExtremeDeadlines) {
  TimerHeap h;
  push(h, INT64_MAX, 1);
  push(h, INT64_MIN, 2);
  push(h, 0, 3);
  push(h, -1, 4);
  auto out = drain(h);
  ASSERT_EQ(4u, out.size());
  EXPECT_EQ(2u, out[0].ref);
  EXPECT_EQ(4u, out[1].ref);
  EXPECT_EQ(3u, out[2].ref);
  EXPECT_EQ(1u, out[3].ref);
}

TEST(Heap, CompactionDropsStaleEntriesAndKeepsOrder) {
  TimerHeap h;
  std::mt19937 rng(3);
  std::set<uint32_t> live;  // seqs
  for (int i = 0; i < 10000; i++) {
    uint32_t s = push(h, int64_t(rng() % 100000), uint32_t(i));
    if (i % 4 == 0)
      live.insert(s);
    else
      h.mark_stale();
  }
  EXPECT_EQ(7500u, h.stale());
  EXPECT_TRUE(h.want_compact());
  h.compact([&](const HeapEntry &e) { return live.count(e.seq) > 0; });
  EXPECT_EQ(0u, h.stale());
  EXPECT_FALSE(h.want_compact());
  EXPECT_EQ(live.size(), size_t(h.size()));
  auto out = drain(h);
  for (size_t i = 1; i < out.size(); i++) ASSERT_LE(out[i - 1].deadline, out[i].deadline);
  for (const HeapEntry &e : out) EXPECT_TRUE(live.count(e.seq));
}

TEST(Heap, CompactionWithFewStaleIsNotDue) {
  TimerHeap h;
  for (int i = 0; i < 3000; i++) push(h, i, 0);
  for (int i = 0; i < 1000; i++) h.mark_stale();
  EXPECT_FALSE(h.want_compact()) << "1000 stale: not over the floor of 1024";
  for (int i = 0; i < 500; i++) h.mark_stale();
  EXPECT_FALSE(h.want_compact()) << "1500 of 3000: not more than half";
  h.mark_stale();
  EXPECT_TRUE(h.want_compact());
  h.unmark_stale();
  EXPECT_FALSE(h.want_compact());
}

TEST(Heap, CompactToNothingAndShrink) {
  TimerHeap h;
  for (int i = 0; i < 100000; i++) push(h, i, 0);
  const uint32_t big = h.cap_;
  h.compact([](const HeapEntry &e) { return e.deadline < 10; });
  EXPECT_EQ(10u, h.size());
  EXPECT_LT(h.cap_, big) << "memory is given back";
  auto out = drain(h);
  for (int i = 0; i < 10; i++) EXPECT_EQ(i, out[i].deadline);
  h.compact([](const HeapEntry &) { return false; });
  EXPECT_TRUE(h.empty());
  push(h, 1, 1);
  EXPECT_EQ(1, h.top().deadline);
}

TEST(Heap, ChildGroupsAreCacheLineAligned) {
  TimerHeap h;
  push(h, 1, 1);
  // Children of node i are 4i+1..4i+4: entry 1 starts a 64-byte line.
  EXPECT_EQ(0u, reinterpret_cast<uintptr_t>(&h.a_[1]) % 64);
  EXPECT_EQ(16u, sizeof(HeapEntry));
}

// Owner hooks over a map ref -> seq (what the loop keeps in its slots).
struct Owners {
  std::map<uint32_t, uint32_t> seq;  // ref -> seq of its live entry
  int relabels = 0;
  static bool live(void *ctx, const HeapEntry &e) {
    auto &m = static_cast<Owners *>(ctx)->seq;
    auto it = m.find(e.ref);
    return it != m.end() && it->second == e.seq;
  }
  static void relabel(void *ctx, const HeapEntry &e, uint32_t seq) {
    Owners *o = static_cast<Owners *>(ctx);
    ASSERT_EQ(o->seq[e.ref], e.seq);
    o->seq[e.ref] = seq;
    o->relabels++;
  }
  void attach(TimerHeap &h) { h.set_owner({this, live, relabel}); }
};

// Sequence numbers never wrap: before the counter runs out, push()
// renumbers the live entries in order, so an entry pushed 2^32 pushes ago
// still sorts before a newer one with the same deadline (issue 11: it once
// compared int32_t differences, and a timer older than 2^31 pushes blocked
// every later timer).
TEST(Heap, SequenceRenumbersInsteadOfWrapping) {
  TimerHeap h;
  Owners o;
  o.attach(h);
  // An old entry, then the counter near its end, then newer entries.
  o.seq[1000] = push(h, 100, 1000);
  h.seq_ = weft::kSeqMax - 20;
  for (uint32_t i = 0; i < 40; i++) {
    const uint32_t s = push(h, 100, i);
    EXPECT_NE(0u, s);
    o.seq[i] = s;
    if (i % 3 == 0) {  // some go stale: renumbering drops them
      o.seq.erase(i);
      h.mark_stale();
    }
  }
  EXPECT_GT(o.relabels, 0) << "the counter ran out: entries were renumbered";
  EXPECT_LT(h.seq_, 100u);
  std::vector<uint32_t> order;
  while (!h.empty()) {
    HeapEntry e = h.top();
    h.pop();
    if (!Owners::live(&o, e)) continue;
    order.push_back(e.ref);
  }
  ASSERT_FALSE(order.empty());
  EXPECT_EQ(1000u, order[0]) << "the oldest entry first";
  for (size_t k = 2; k < order.size(); k++) EXPECT_LT(order[k - 1], order[k]) << "FIFO";
}

// The timer phase's fence (entries pushed during the phase wait for the
// next one) survives a renumbering in the middle of the phase.
TEST(Heap, FenceSurvivesRenumbering) {
  TimerHeap h;
  Owners o;
  o.attach(h);
  h.seq_ = weft::kSeqMax - 5;
  for (uint32_t i = 0; i < 5; i++) o.seq[i] = push(h, 10, i);
  h.fence_begin();
  for (uint32_t i = 5; i < 10; i++) o.seq[i] = push(h, 10, i);  // renumbers
  EXPECT_LT(h.seq_, 100u);
  for (int i = 0; i < 10; i++) {
    HeapEntry e = h.top();
    h.pop();
    EXPECT_EQ(uint32_t(i), e.ref);
    EXPECT_EQ(i < 5, e.seq <= h.fence()) << "entry " << i;
  }
  h.fence_end();
}

// A full cycle of the counter (2^32 pushes) in the loop's way: push one,
// let one go, with one old entry that stays; takes a few seconds.
TEST(Heap, FullCounterCycleKeepsOrder) {
  TimerHeap h;
  Owners o;
  o.attach(h);
  o.seq[7] = push(h, 50, 7);
  h.seq_ = 0xfff00000u;  // a million pushes from the end: the rest of the cycle
  for (uint32_t i = 0; i < 2000000; i++) {
    const uint32_t s = push(h, 100, 8);
    o.seq[8] = s;
    h.mark_stale();  // the previous arm of ref 8
    if (h.want_compact()) h.compact([&](const HeapEntry &e) { return Owners::live(&o, e); });
  }
  EXPECT_EQ(7u, h.top().ref);
  EXPECT_EQ(o.seq[7], h.top().seq);
}

}  // namespace
