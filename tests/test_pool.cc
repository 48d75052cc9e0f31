// Unit tests of core/pool.h (generation-checked slot pools) and core/id.h
// (the 64-bit ids built on them).
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "id.h"
#include "pool.h"

namespace {

using weft::kGenMask;
using weft::Kind;
using weft::Pool;

struct Item {
  uint32_t gen;
  uint8_t state;
  uint32_t next;
  int payload;
};

TEST(Pool, AllocGetRelease) {
  Pool<Item, 4> p;  // 16 slots per chunk
  EXPECT_EQ(0u, p.live());
  uint32_t s = 0;
  Item *it = p.alloc(&s);
  ASSERT_NE(nullptr, it);
  it->state = 1;
  it->payload = 7;
  EXPECT_EQ(1u, p.live());
  EXPECT_EQ(it, p.get(s, it->gen));
  EXPECT_EQ(nullptr, p.get(s, (it->gen + 1) & kGenMask)) << "wrong generation";
  EXPECT_EQ(nullptr, p.get(s + 1, 0)) << "a free slot";
  EXPECT_EQ(nullptr, p.get(1000000, 0)) << "beyond every chunk";
  const uint32_t g = it->gen;
  p.release(s);
  EXPECT_EQ(0u, p.live());
  EXPECT_EQ(nullptr, p.get(s, g)) << "stale after release";
  EXPECT_EQ((g + 1) & kGenMask, p.at(s)->gen);
}

TEST(Pool, AllocZeroesButKeepsGeneration) {
  Pool<Item, 4> p;
  uint32_t s = 0;
  Item *it = p.alloc(&s);
  it->state = 1;
  it->payload = 99;
  p.release(s);
  uint32_t s2;
  Item *again = p.alloc(&s2);
  EXPECT_EQ(s, s2) << "LIFO reuse";
  EXPECT_EQ(0, again->payload);
  EXPECT_EQ(1u, again->gen);
  EXPECT_EQ(weft::kNone, again->next);
}

TEST(Pool, GrowsAcrossChunksAndPointersStayPut) {
  Pool<Item, 4> p;
  std::vector<Item *> ptrs;
  std::set<uint32_t> slots;
  for (int i = 0; i < 1000; i++) {
    uint32_t s = 0;
    Item *it = p.alloc(&s);
    ASSERT_NE(nullptr, it);
    it->state = 1;
    it->payload = i;
    ptrs.push_back(it);
    EXPECT_TRUE(slots.insert(s).second) << "slots are unique";
  }
  EXPECT_EQ(1000u, p.live());
  EXPECT_GE(p.size(), 1000u);
  for (int i = 0; i < 1000; i++) EXPECT_EQ(i, ptrs[i]->payload) << "chunks never move";
  for (uint32_t s : slots) p.release(s);
  EXPECT_EQ(0u, p.live());
}

// When the last live slot goes, a pool that grew gives back all chunks but
// the first; every id it handed out stays stale, in the chunks it kept and in
// those it gave back, also after it grows again over the same slots.
TEST(Pool, TrimsWhenEmptyAndOldIdsStayStale) {
  Pool<Item, 4> p;  // 16 slots per chunk
  std::vector<std::pair<uint32_t, uint32_t>> old;  // (slot, gen)
  for (int round = 0; round < 3; round++) {
    std::vector<uint32_t> slots;
    for (int i = 0; i < 100; i++) {
      uint32_t s = 0;
      Item *it = p.alloc(&s);
      ASSERT_NE(nullptr, it);
      it->state = 1;
      for (auto [os, og] : old) ASSERT_NE(it, p.get(os, og)) << "an old id names a new slot";
      slots.push_back(s);
      old.emplace_back(s, it->gen);
    }
    EXPECT_GE(p.size(), 100u);
    for (uint32_t s : slots) p.release(s);
    EXPECT_EQ(0u, p.live());
    EXPECT_LE(p.size(), 16u) << "trimmed to the first chunk";
    for (auto [os, og] : old) EXPECT_EQ(nullptr, p.get(os, og));
  }
}

// A pool that never grew past its first chunk keeps it warm: emptying it
// hands out the same slots again, with bumped generations.
TEST(Pool, OneChunkPoolIsNotTrimmed) {
  Pool<Item, 4> p;
  uint32_t s = 0;
  Item *it = p.alloc(&s);
  it->state = 1;
  const uint32_t g = it->gen;
  p.release(s);
  EXPECT_EQ(1u, p.size());
  uint32_t s2 = 0;
  Item *again = p.alloc(&s2);
  EXPECT_EQ(s, s2);
  EXPECT_EQ(it, again);
  EXPECT_NE(g, again->gen);
}

// Generations never wrap: a slot released at the last one is retired and
// the next alloc takes another slot.
TEST(Pool, SlotRetiresAtItsLastGeneration) {
  Pool<Item, 4> p;
  uint32_t s = 0;
  Item *it = p.alloc(&s);
  it->state = 1;
  it->gen = kGenMask;  // the last generation
  p.release(s);
  EXPECT_GT(p.at(s)->gen, kGenMask) << "past every generation an id can hold";
  EXPECT_EQ(1u, p.retired());
  EXPECT_EQ(nullptr, p.get(s, kGenMask));
  EXPECT_EQ(nullptr, p.get(s, 0));
  uint32_t s2 = 0;
  Item *again = p.alloc(&s2);
  again->state = 1;
  EXPECT_NE(s, s2) << "a retired slot is never handed out again";
  EXPECT_EQ(nullptr, p.get(s, kGenMask));
}

// One slot reused past its generations, in a pool that starts near the
// end: every id handed out is distinct, and each is stale once released.
TEST(Pool, IdsNeverRepeatWhileSlotsRetire) {
  Pool<Item, 4> p;  // 16 slots per chunk
  p.set_gen_floor(kGenMask - 3);  // four generations per slot
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (int i = 0; i < 200; i++) {
    uint32_t s = 0;
    Item *it = p.alloc(&s);
    ASSERT_NE(nullptr, it);
    it->state = 1;
    ASSERT_LE(it->gen, kGenMask);
    EXPECT_TRUE(seen.emplace(s, it->gen).second) << "id repeated: slot " << s << " gen " << it->gen;
    p.release(s);
  }
  EXPECT_GE(p.retired(), 1u);
  for (auto [s, g] : seen) EXPECT_EQ(nullptr, p.get(s, g));
}

// A chunk given back at a trim keeps a floor above what its slots reached;
// a chunk whose floor is spent is skipped when the pool grows again.
TEST(Pool, TrimmedChunksNeverRepeatIds) {
  Pool<Item, 4> p;  // 16 slots per chunk
  p.set_gen_floor(kGenMask - 1);  // two generations per slot
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (int round = 0; round < 6; round++) {
    std::vector<uint32_t> slots;
    for (int i = 0; i < 40; i++) {
      uint32_t s = 0;
      Item *it = p.alloc(&s);
      if (!it) break;  // every generation spent
      it->state = 1;
      EXPECT_TRUE(seen.emplace(s, it->gen).second) << "round " << round << " slot " << s;
      slots.push_back(s);
    }
    for (uint32_t s : slots) p.release(s);
  }
  for (auto [s, g] : seen) EXPECT_EQ(nullptr, p.get(s, g));
}

TEST(Pool, ManyCyclesOfOneSlotNeverRevivesOldIds) {
  Pool<Item, 4> p;
  std::vector<uint32_t> old;
  uint32_t s = 0;
  for (int i = 0; i < 100; i++) {
    Item *it = p.alloc(&s);
    it->state = 1;
    for (uint32_t g : old) ASSERT_EQ(nullptr, p.get(s, g));
    old.push_back(it->gen);
    p.release(s);
  }
}

TEST(Id, RoundTripAndRejections) {
  const Kind kinds[] = {Kind::Task, Kind::Timer, Kind::FdWatch, Kind::Work};
  for (Kind k : kinds)
    for (uint32_t tag : {0u, 1u, weft::kTagMask})
      for (uint32_t gen : {0u, 1u, kGenMask})
        for (uint32_t slot : {0u, 1u, weft::kSlotMask}) {
          int64_t id = weft::id_make(k, tag, gen, slot);
          ASSERT_GT(id, 0) << "ids are positive";
          uint32_t g2, s2;
          ASSERT_TRUE(weft::id_split(id, k, tag, &g2, &s2));
          EXPECT_EQ(gen, g2);
          EXPECT_EQ(slot, s2);
          for (Kind other : kinds)
            if (other != k) {
              EXPECT_FALSE(weft::id_split(id, other, tag, &g2, &s2));
            }
          EXPECT_FALSE(weft::id_split(id, k, (tag + 1) & weft::kTagMask, &g2, &s2));
        }
  uint32_t g, s;
  EXPECT_FALSE(weft::id_split(0, Kind::Task, 0, &g, &s));
  EXPECT_FALSE(weft::id_split(-1, Kind::Task, weft::kTagMask, &g, &s));
  EXPECT_FALSE(weft::id_split(INT64_MIN, Kind::Task, 0, &g, &s));
}

}  // namespace
