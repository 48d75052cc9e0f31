// pool.h -- generation-checked slot pools, one per handle kind.
//
// Slots live in fixed-size chunks that never move, so a pointer to a slot
// stays valid while the slot is live (pool threads hold Work pointers, steps
// hold Task pointers across calls that spawn). Free slots form a LIFO list
// through T::next, so a freed slot is reused while still warm in cache.
// Growth allocates one chunk per 2^ChunkBits slots: nothing per handle.
//
// T must have: uint32_t gen; uint32_t next; uint8_t state (0 = free).
#pragma once

#include <cstdint>
#include <cstring>
#include <new>

#include "id.h"
#include "sys.h"

namespace weft {

constexpr uint32_t kNone = 0xffffffffu;  // "no slot" in intrusive links

template <class T, int ChunkBits = 12>
class Pool {
 public:
  static constexpr uint32_t kChunk = 1u << ChunkBits;

  Pool() = default;
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;
  ~Pool() {
    for (uint32_t c = 0; c < nchunks_; c++) mem_free(chunks_[c]);
    mem_free(chunks_);
  }

  WEFT_INLINE T *at(uint32_t slot) const {
    return &chunks_[slot >> ChunkBits][slot & (kChunk - 1)];
  }

  // The live slot named by (slot, gen), or nullptr.
  WEFT_INLINE T *get(uint32_t slot, uint32_t gen) const {
    if (slot >= size_) return nullptr;
    T *t = at(slot);
    return (t->gen == gen && t->state != 0) ? t : nullptr;
  }

  // Takes a free slot (zeroed but for gen/next); nullptr when out of memory
  // or at the slot limit. The caller sets state != 0.
  T *alloc(uint32_t *slot) {
    if (free_ == kNone && !grow()) return nullptr;
    uint32_t s = free_;
    T *t = at(s);
    free_ = t->next;
    uint32_t gen = t->gen;
    std::memset(static_cast<void *>(t), 0, sizeof(T));
    t->gen = gen;
    t->next = kNone;
    live_++;
    *slot = s;
    return t;
  }

  // Returns a slot to the free list and bumps its generation, so every id
  // that named it is stale from now on.
  void release(uint32_t slot) {
    T *t = at(slot);
    t->state = 0;
    t->gen = (t->gen + 1) & kGenMask;
    t->next = free_;
    free_ = slot;
    live_--;
  }

  uint32_t live() const { return live_; }
  uint32_t size() const { return size_; }  // slots ever created

  // Ensures a later alloc() cannot fail for lack of memory.
  bool reserve_one() { return free_ != kNone || grow(); }

 private:
  bool grow() {
    if (size_ + kChunk > kMaxSlots) return false;
    if (nchunks_ == cap_) {
      uint32_t ncap = cap_ ? cap_ * 2 : 8;
      void *p = mem_realloc(chunks_, ncap * sizeof(T *));
      if (!p) return false;
      chunks_ = static_cast<T **>(p);
      cap_ = ncap;
    }
    T *c = static_cast<T *>(mem_alloc(kChunk * sizeof(T)));
    if (!c) return false;
    chunks_[nchunks_++] = c;
    // Link the new slots in index order, ahead of nothing (free_ is empty).
    uint32_t base = size_;
    for (uint32_t i = 0; i < kChunk; i++) {
      c[i].gen = 0;
      c[i].state = 0;
      c[i].next = (i + 1 < kChunk) ? base + i + 1 : kNone;
    }
    free_ = base;
    size_ += kChunk;
    return true;
  }

  T **chunks_ = nullptr;
  uint32_t nchunks_ = 0, cap_ = 0;
  uint32_t size_ = 0, live_ = 0;
  uint32_t free_ = kNone;
};

}  // namespace weft
