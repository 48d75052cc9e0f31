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
// Sequence numbers only grow, so ordering compares them plainly. Before the
// 32-bit counter would run out (after 2^32 - 1 pushes), push() renumbers the
// live entries 1..n in their order and tells each owner its new seq (the
// owner hooks below): ordering holds for the life of the process, and the
// cost is one O(n log n) pass per 4 billion pushes.
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
  return a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq);
}

constexpr size_t kMinHeapBytes = 4096;  // the smallest mapping

// The last seq push() hands out before it renumbers.
constexpr uint32_t kSeqMax = 0xffffffffu;
#ifdef WEFT_WRAP_TEST
constexpr uint32_t kSeqStart = kSeqMax - 3000;  // test builds: renumber soon
#else
constexpr uint32_t kSeqStart = 0;
#endif

// What the heap asks its owner (the loop): is an entry still armed, and
// take note that a live entry's seq changed (renumbering).
struct HeapOwner {
  void *ctx = nullptr;
  bool (*live)(void *ctx, const HeapEntry &e) = nullptr;
  void (*relabel)(void *ctx, const HeapEntry &e, uint32_t seq) = nullptr;
};

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
  void set_owner(const HeapOwner &o) { owner_ = o; }

  // The timer phase's fence: entries pushed after fence_begin() (seq >
  // fence()) wait for the next phase. Renumbering keeps it meaningful.
  void fence_begin() {
    fence_ = seq_;
    fenced_ = true;
  }
  void fence_end() { fenced_ = false; }
  uint32_t fence() const { return fence_; }

  // Room for one more entry, so that push() cannot fail. False on ENOMEM.
  bool reserve_one() { return size_ < cap_ || grow(); }

  // Adds an entry; returns its seq (never 0). Call reserve_one() first.
  WEFT_INLINE uint32_t push(int64_t deadline, uint32_t ref) {
    if (WEFT_UNLIKELY(seq_ == kSeqMax)) renumber();
    return push_seq(deadline, ref, ++seq_);
  }

  // Drops stale entries, then numbers the live ones 1..n in their order
  // (telling the owner), so that push() can go on. Called by push().
  void renumber();

  // Removes the top entry.
  void pop();

  // An entry left in the heap no longer names a live arm.
  void mark_stale() { stale_++; }
  // A stale entry was popped.
  void unmark_stale() { stale_--; }

  // True when compact() is due: stale entries dominate. Checked whenever an
  // entry goes stale, so that memory stays O(live entries) at all times.
  bool want_compact() const { return stale_ > 1024 && stale_ > size_ / 2; }

  // Drops every entry for which live(entry) is false, then re-heapifies.
  template <class Live>
  void compact(Live live) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < size_; i++)
      if (live(a_[i])) a_[n++] = a_[i];
    size_ = n;
    stale_ = 0;
    heapify();
    shrink();
  }

 private:
  bool grow();
  void shrink();
  bool resize(size_t bytes);
  void sift_down(uint32_t i);
  void heapify() {
    if (size_ > 1)
      for (uint32_t i = (size_ - 2) / 4 + 1; i-- > 0;) sift_down(i);
  }
  uint32_t push_seq(int64_t deadline, uint32_t ref, uint32_t seq);

  HeapEntry *a_ = nullptr;  // entry 0, at raw_ + 48 bytes
  void *raw_ = nullptr;     // the mapping (page-aligned)
  size_t bytes_ = 0;        // its size
  uint32_t size_ = 0, cap_ = 0;
  uint32_t seq_ = kSeqStart;  // the last seq handed out
  uint32_t fence_ = 0;        // the last seq pushed before the timer phase began
  bool fenced_ = false;       // a timer phase is running
  uint32_t stale_ = 0;
  HeapOwner owner_;
};

}  // namespace weft
