// heap.h -- the timer heap: a 4-ary min-heap of 16-byte entries in one
// cache-aligned array.
//
// Entries name their owner by a 32-bit ref and carry the arm's sequence
// number; owners remember the seq of their live arm instead of a heap index.
// So a sift never writes outside the array (libuv's pointer heap chases a
// pointer per level), and a stop is O(1): the owner forgets its seq and the
// entry goes stale, skipped when it reaches the top. When stale entries
// outnumber live ones the heap is compacted in O(n), keeping memory bounded
// (the scheme Go's runtime uses for deleted timers).
//
// The four children of node i sit at 4i+1..4i+4; the array is offset so that
// each such group fills exactly one 64-byte cache line. It grows by mremap.
#pragma once

#include <cstdint>

#include "sys.h"

namespace weft {

struct HeapEntry {
  int64_t deadline;  // monotonic ns
  uint32_t ref;      // owner, encoded by the loop
  uint32_t seq;      // arm sequence, != 0; also the FIFO tie-break
};

WEFT_INLINE bool heap_less(const HeapEntry &a, const HeapEntry &b) {
  return a.deadline < b.deadline ||
         (a.deadline == b.deadline && int32_t(a.seq - b.seq) < 0);
}

constexpr size_t kMinHeapBytes = 4096;  // the smallest mapping

class TimerHeap {
 public:
  TimerHeap() = default;
  TimerHeap(const TimerHeap &) = delete;
  TimerHeap &operator=(const TimerHeap &) = delete;
  ~TimerHeap();

  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const HeapEntry &top() const { return a_[0]; }
  uint32_t stale() const { return stale_; }
  // The seq the next push() will return.
  uint32_t next_seq() const { return seq_ + 1 == 0 ? 1 : seq_ + 1; }

  // Room for one more entry, so that push() cannot fail. False on ENOMEM.
  bool reserve_one() { return size_ < cap_ || grow(); }

  // Adds an entry; returns its seq (never 0). Call reserve_one() first.
  uint32_t push(int64_t deadline, uint32_t ref);

  // Removes the top entry.
  void pop();

  // An entry left in the heap no longer names a live arm.
  void mark_stale() { stale_++; }
  // A stale entry was popped.
  void unmark_stale() { stale_--; }

  // True when compact() is due: stale entries dominate, or seq wrapped.
  bool want_compact() const {
    return wrapped_ || (stale_ > 1024 && stale_ > size_ / 2);
  }

  // Drops every entry for which live(entry) is false, then re-heapifies.
  template <class Live>
  void compact(Live live) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < size_; i++)
      if (live(a_[i])) a_[n++] = a_[i];
    size_ = n;
    stale_ = 0;
    wrapped_ = false;
    if (n > 1)
      for (uint32_t i = (n - 2) / 4 + 1; i-- > 0;) sift_down(i);
    shrink();
  }

 private:
  bool grow();
  void shrink();
  bool resize(size_t bytes);
  void sift_down(uint32_t i);

  HeapEntry *a_ = nullptr;  // entry 0, at raw_ + 48 bytes
  void *raw_ = nullptr;     // the mapping (page-aligned)
  size_t bytes_ = 0;        // its size
  uint32_t size_ = 0, cap_ = 0;
  uint32_t seq_ = 0;
  uint32_t stale_ = 0;
  bool wrapped_ = false;
};

}  // namespace weft
