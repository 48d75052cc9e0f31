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
// Generations never wrap, so an id once handed out is never handed out
// again: a slot released at its last generation (kGenMask) is retired (kept
// out of the free list for good, its gen set past kGenMask so that no id
// matches it). Fresh slots start at their chunk's floor, which begins at the
// pool's base (a loop's floor, see id.h) and never goes down.
//
// When the last live slot of a pool that grew beyond one chunk is released,
// every chunk but the first is returned to the kernel, so that memory goes
// back down after a burst. Before it goes, each given-back chunk's floor is
// raised above every generation its slots reached, so slots handed out there
// later cannot repeat an old id; the first chunk keeps its slots and their
// generations. A chunk whose floor is spent is mapped (untouched: no memory)
// and skipped.
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
    mem_free(floors_);
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

  // Takes a free slot (zeroed but for gen/next); nullptr when out of memory,
  // at the slot limit, or when every slot's generations are spent. The
  // caller sets state != 0.
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
      gen = floors_[s >> ChunkBits];
    }
    if (gen > max_issued_) max_issued_ = gen;
    std::memset(static_cast<void *>(t), 0, sizeof(T));
    t->gen = gen;
    t->next = kNone;
    live_++;
    *slot = s;
    return t;
  }

  // Frees a slot and bumps its generation, so every id that named it is
  // stale from now on; a slot past its last generation is retired.
  void release(uint32_t slot) {
    T *t = at(slot);
    t->state = 0;
    t->gen = t->gen + 1;
    if (WEFT_LIKELY(t->gen <= kGenMask)) {
      t->next = free_;
      free_ = slot;
    } else {
      retired_++;
    }
    if (--live_ == 0 && nchunks_ > 1) trim();
  }

  // Generations of fresh slots start at `gen` (a loop's floor; see id.h).
  // Call before the first alloc.
  void set_gen_floor(uint32_t gen) { base_ = gen; }

  // The highest generation ever handed out (0 if none was).
  uint32_t max_issued() const { return max_issued_; }

  uint32_t live() const { return live_; }
  uint32_t size() const { return used_; }  // slots ever handed out (since a trim)
  uint32_t retired() const { return retired_; }

 private:
  bool grow() {
    for (;;) {
      if (size_ + kChunk > kMaxSlots) return false;
      if (nchunks_ == cap_) {
        uint32_t ncap = cap_ ? cap_ * 2 : 8;
        void *p = mem_realloc(chunks_, ncap * sizeof(T *));
        if (!p) return false;
        chunks_ = static_cast<T **>(p);
        void *f = mem_realloc(floors_, ncap * sizeof(uint32_t));
        if (!f) return false;
        floors_ = static_cast<uint32_t *>(f);
        for (uint32_t c = cap_; c < ncap; c++) floors_[c] = base_;
        cap_ = ncap;
      }
      const bool spent = floors_[nchunks_] > kGenMask;
      // Zero-filled, so every slot reads as free. The first chunk is faulted
      // in as it is used (a small loop stays small); later ones, in a pool
      // that is clearly busy, are populated at once, which costs far less
      // than a trap per page.
      void *c = mem_map(kChunkBytes, nchunks_ > 0 && !spent);
      if (!c) return false;
      chunks_[nchunks_++] = static_cast<T *>(c);
      size_ += kChunk;
      if (!spent) return true;
      used_ += kChunk;  // no generation left for its slots: skip them
      retired_ += kChunk;
    }
  }

  // Nothing is live: keep the first chunk, give the others back.
  void trim() {
    for (uint32_t c = 1; c < nchunks_; c++) {
      // Slots handed out in chunk c were released, so each gen is one past
      // the last it issued (past kGenMask if retired).
      const uint32_t end = used_ < (c + 1) * kChunk ? used_ : (c + 1) * kChunk;
      uint32_t f = floors_[c];
      for (uint32_t s = c * kChunk; s < end; s++)
        if (at(s)->gen > f) f = at(s)->gen;
      floors_[c] = f;
      mem_unmap(chunks_[c], kChunkBytes);
    }
    nchunks_ = 1;
    size_ = kChunk;
    // The first chunk's slots go back on the free list in order, each with
    // the generation it has; retired ones stay out.
    const uint32_t n = used_ < kChunk ? used_ : kChunk;
    used_ = n;
    free_ = kNone;
    retired_ = 0;
    for (uint32_t s = n; s-- > 0;) {
      T *t = at(s);
      if (t->gen > kGenMask) {
        retired_++;
        continue;
      }
      t->next = free_;
      free_ = s;
    }
  }

  T **chunks_ = nullptr;
  uint32_t *floors_ = nullptr;  // per chunk (cap_ entries): gen of a fresh slot
  uint32_t nchunks_ = 0, cap_ = 0;
  uint32_t size_ = 0;   // slots in the chunks
  uint32_t used_ = 0;   // slots handed out at least once (or skipped); the rest are fresh
  uint32_t live_ = 0;
  uint32_t free_ = kNone;
  uint32_t retired_ = 0;     // slots out of generations (in the mapped chunks)
  uint32_t base_ = 0;        // floor of chunks never used
  uint32_t max_issued_ = 0;  // highest generation handed out
};

}  // namespace weft
