// id.h -- the 64-bit handle ids of weft.
//
//   bit 63      0 (ids are positive)
//   bits 58-62  kind (5 bits: 1..31; see Kind)
//   bits 46-57  loop tag (12 bits; no two live loops share one, see tags.cc)
//   bits 24-45  generation (22 bits, bumped each time the slot is freed)
//   bits 0-23   slot index (24 bits: 16M handles of one kind per loop)
//
// Kind and tag make ids of another kind or another loop fail the check; the
// generation makes stale and double-closed ids fail it. A forged id passes
// only if it matches a live handle's kind, loop, slot and generation.
//
// Ids never repeat for the life of the process:
//  - generations never wrap: a slot released at its last generation is
//    retired (pool.h);
//  - two live loops never share a tag, and a loop taking a tag that an
//    earlier loop held starts its generations above every generation that
//    loop handed out (tags.cc).
// Limits: 4096 live loops; a loop can always reuse each slot at least
// kTagReserve times, and it hands out at least 2^24 * kTagReserve = 6.9e10
// handles of one kind before its creating calls fail with WEFT_ENOMEM (a
// loop that took a fresh tag: 2^24 * 2^22 = 7.0e13).
#pragma once

#include <cstdint>

#include "sys.h"

namespace weft {

// Handle kinds: the id's kind field, and the release hook's kind (the same
// numbers as weft.h's WEFT_KIND_*). Room for 31.
enum class Kind : uint32_t {
  Task = 1,
  Timer = 2,
  FdWatch = 3,
  Work = 4,
  Post = 5,
  Socket = 6,
  Event = 7,
  Semaphore = 8,
  Lock = 9,
  Queue = 10,
};

constexpr int kSlotBits = 24;
constexpr int kGenBits = 22;
constexpr int kTagBits = 12;
constexpr int kKindBits = 5;
constexpr int kGenShift = kSlotBits;
constexpr int kTagShift = kGenShift + kGenBits;
constexpr int kKindShift = kTagShift + kTagBits;
static_assert(kKindShift + kKindBits == 63, "ids use 63 bits and stay positive");
constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
constexpr uint32_t kGenMask = (1u << kGenBits) - 1;
constexpr uint32_t kTagMask = (1u << kTagBits) - 1;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;

// A tag keeps serving new loops while its floor leaves this many generations.
constexpr uint32_t kTagReserve = 4096;

// A free tag for a new loop and the generation floor its pools start at;
// 0, or WEFT_ENOMEM when 4096 loops are live or every free tag is spent.
int tag_acquire(uint32_t *tag, uint32_t *floor);
// A loop is freed; `max_issued` is the highest generation it handed out.
void tag_release(uint32_t tag, uint32_t max_issued);
// fork.cc holds the table's lock across fork().
void tags_lock();
void tags_unlock();

WEFT_INLINE int64_t id_make(Kind k, uint32_t tag, uint32_t gen, uint32_t slot) {
  return int64_t((uint64_t(k) << kKindShift) | (uint64_t(tag & kTagMask) << kTagShift) |
                 (uint64_t(gen & kGenMask) << kGenShift) | uint64_t(slot));
}

// Splits `id` if it has kind `k` and tag `tag`; false otherwise.
WEFT_INLINE bool id_split(int64_t id, Kind k, uint32_t tag, uint32_t *gen, uint32_t *slot) {
  uint64_t u = uint64_t(id);
  if ((u >> kKindShift) != uint64_t(k) || ((u >> kTagShift) & kTagMask) != tag) return false;
  *gen = uint32_t(u >> kGenShift) & kGenMask;
  *slot = uint32_t(u) & kSlotMask;
  return true;
}

}  // namespace weft
