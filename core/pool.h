// pool.h -- generation-checked slot pools, one per handle kind.
//
// Slots live in fixed-size chunks that never move, so a pointer to a slot
// stays valid while the slot is live (pool threads hold Work pointers, steps
// hold Task pointers across calls that spawn). Released slots form a LIFO
// list through T::next, so a freed slot is reused while still warm in cache;
// slots never used are handed out in order from the last chunk, so a new
// chunk is not touched before its slots are needed. Chunks are mapped
// straight from the kernel: nothing is allocated per handle.
//
// When the last live slot of a pool that grew beyond one chunk is released,
// every chunk but the first is returned to the kernel, so that memory goes
// back down after a burst. The ids of slots in those chunks stay stale: a
// slot beyond the pool's size fails the check, and slots handed out later
// start from a generation above every generation used before.
//
// T must have: uint32_t gen; uint32_t next; uint8_t state (0 = free).
#pragma once

#include <cstdint>
#include <cstring>

#include "id.h"
#include "sys.h"

namespace weft {

constexpr uint32_t kNone = 0xffffffffu;  // "no slot" in intrusive links

template <class T, int ChunkBits = 12>
class Pool {
 public:
  static constexpr uint32_t kChunk = 1u << ChunkBits;
  static constexpr size_t kChunkBytes = (kChunk * sizeof(T) + 4095) & ~size_t(4095);

  Pool() = default;
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;
  ~Pool() {
    for (uint32_t c = 0; c < nchunks_; c++) mem_unmap(chunks_[c], kChunkBytes);
    mem_free(chunks_);
  }

  WEFT_INLINE T *at(uint32_t slot) const {
    return &chunks_[slot >> ChunkBits][slot & (kChunk - 1)];
  }

  // The live slot named by (slot, gen), or nullptr.
  WEFT_INLINE T *get(uint32_t slot, uint32_t gen) const {
    if (slot >= used_) return nullptr;
    T *t = at(slot);
    return (t->gen == gen && t->state != 0) ? t : nullptr;
  }

  // Takes a free slot (zeroed but for gen/next); nullptr when out of memory
  // or at the slot limit. The caller sets state != 0.
  WEFT_INLINE T *alloc(uint32_t *slot) {
    uint32_t s;
    T *t;
    uint32_t gen;
    if (free_ != kNone) {
      s = free_;
      t = at(s);
      free_ = t->next;
      gen = t->gen;
    } else {
      if (used_ == size_ && !grow()) return nullptr;
      s = used_++;
      t = at(s);
      gen = gen_floor_;
    }
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
    if (t->gen > max_gen_) max_gen_ = t->gen;
    t->next = free_;
    free_ = slot;
    if (--live_ == 0 && nchunks_ > 1) trim();
  }

  // Generations of fresh slots start at `gen` (a loop's base; see id.h).
  void set_gen_floor(uint32_t gen) {
    gen_floor_ = gen & kGenMask;
    max_gen_ = gen_floor_;
  }

  uint32_t live() const { return live_; }
  uint32_t size() const { return used_; }  // slots ever handed out (since a trim)

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
    // Zero-filled, so every slot reads as free. The first chunk is faulted
    // in as it is used (a small loop stays small); later ones, in a pool
    // that is clearly busy, are populated at once, which costs far less
    // than a trap per page.
    void *c = mem_map(kChunkBytes, nchunks_ > 0);
    if (!c) return false;
    chunks_[nchunks_++] = static_cast<T *>(c);
    size_ += kChunk;
    return true;
  }

  // Nothing is live: keep the first chunk, give the others back.
  void trim() {
    for (uint32_t c = 1; c < nchunks_; c++) mem_unmap(chunks_[c], kChunkBytes);
    nchunks_ = 1;
    size_ = kChunk;
    // Every slot of the first chunk is free; hand them out afresh, in order,
    // above every generation any slot has had.
    used_ = 0;
    free_ = kNone;
    gen_floor_ = (max_gen_ + 1) & kGenMask;
  }

  T **chunks_ = nullptr;
  uint32_t nchunks_ = 0, cap_ = 0;
  uint32_t size_ = 0;   // slots in the chunks
  uint32_t used_ = 0;   // slots handed out at least once; the rest are fresh
  uint32_t live_ = 0;
  uint32_t free_ = kNone;
  uint32_t gen_floor_ = 0;  // generation of a fresh slot
  uint32_t max_gen_ = 0;    // highest generation a released slot reached
};

}  // namespace weft
