// id.h -- the 64-bit handle ids of weft.
//
//   bit 63      0 (ids are positive)
//   bits 60-62  kind, low 3 bits
//   bits 48-59  loop tag (12 bits, from a global counter per weft_loop_new)
//   bits 26-47  generation (22 bits, bumped each time the slot is freed)
//   bits 24-25  kind, high 2 bits (kinds 1..31; 0 for kinds 1..7)
//   bits 0-23   slot index (24 bits: 16M handles of one kind per loop)
//
// (The kind's high bits sit below the generation so that ids of kinds 1..7
// kept their layout when the synchronisation kinds 8..10 were added; the
// reliability issue's id layout supersedes this.)
//
// Kind and tag make ids of another kind or another loop fail the check; the
// generation makes stale and double-closed ids fail it. A forged id passes
// only if it matches a live handle's kind, loop, slot and generation.
//
// The tag wraps after 4096 loops. So that two loops with the same tag still
// hand out different ids, each loop's generations start at a base taken from
// the bits of its creation number above the tag (loop_gen_base): the n-th
// and (n+4096)-th loops differ by 65536 generations, and only loops 2^18
// creations apart share both tag and base.
#pragma once

#include <cstdint>

#include "sys.h"

namespace weft {

enum class Kind : uint32_t {
  Task = 1, Timer = 2, FdWatch = 3, Work = 4,
  Event = 7, Semaphore = 8, Lock = 9, Queue = 10,  // WEFT_KIND_* (sync.cc)
};

constexpr int kSlotBits = 24;
constexpr int kGenBits = 22;
constexpr int kTagBits = 12;
constexpr uint32_t kSlotMask = (1u << kSlotBits) - 1;
constexpr uint32_t kGenMask = (1u << kGenBits) - 1;
constexpr uint32_t kTagMask = (1u << kTagBits) - 1;
constexpr uint32_t kMaxSlots = 1u << kSlotBits;

// The first generation of a loop created as number `seq` (see above).
WEFT_INLINE uint32_t loop_gen_base(uint32_t seq) { return (seq >> kTagBits) << 16 & kGenMask; }

WEFT_INLINE int64_t id_make(Kind k, uint32_t tag, uint32_t gen, uint32_t slot) {
  const uint64_t kk = uint64_t(k);
  return int64_t(((kk & 7) << 60) | (uint64_t(tag & kTagMask) << 48) |
                 (uint64_t(gen & kGenMask) << 26) | ((kk >> 3) << 24) | uint64_t(slot));
}

// Splits `id` if it has kind `k` and tag `tag`; false otherwise.
WEFT_INLINE bool id_split(int64_t id, Kind k, uint32_t tag, uint32_t *gen, uint32_t *slot) {
  uint64_t u = uint64_t(id);
  const uint64_t kk = uint64_t(k);
  if ((u >> 60) != (kk & 7) || ((u >> 24) & 3) != (kk >> 3) || ((u >> 48) & kTagMask) != tag)
    return false;
  *gen = uint32_t(u >> 26) & kGenMask;
  *slot = uint32_t(u) & kSlotMask;
  return true;
}

}  // namespace weft
