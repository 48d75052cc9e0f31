// Unit tests of core/heap.h: the 4-ary timer heap of (deadline, ref, seq)
// entries -- ordering, FIFO among equal deadlines, stale-entry compaction,
// shrinking, and the sequence number wrapping around.
#include <algorithm>
#include <random>
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

// The sequence number wraps after 2^32 pushes: 0 is never handed out, the
// FIFO tie-break still holds across the wrap, and a compaction is requested.
TEST(Heap, SequenceWrap) {
  TimerHeap h;
  h.seq_ = 0xfffffff0u;
  std::vector<uint32_t> seqs;
  for (uint32_t i = 0; i < 40; i++) seqs.push_back(push(h, 100, i));
  for (uint32_t s : seqs) EXPECT_NE(0u, s);
  EXPECT_TRUE(h.wrapped_);
  EXPECT_TRUE(h.want_compact()) << "after a wrap, old entries must be purged";
  EXPECT_NE(0u, h.next_seq());
  auto out = drain(h);
  for (uint32_t i = 0; i < 40; i++) EXPECT_EQ(i, out[i].ref) << "FIFO across the wrap";
  h.compact([](const HeapEntry &) { return true; });
  EXPECT_FALSE(h.want_compact());
}

TEST(Heap, NextSeqSkipsZero) {
  TimerHeap h;
  h.seq_ = 0xffffffffu;
  EXPECT_EQ(1u, h.next_seq());
  EXPECT_EQ(1u, push(h, 0, 0));
}

}  // namespace
