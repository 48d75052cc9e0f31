// heap.cc -- the 4-ary timer heap (see heap.h).
#include "heap.h"

#include <algorithm>


namespace weft {

namespace {
// The array lives in its own mapping: page-aligned, so after a pad of three
// entries each group of four children fills one cache line; and grown with
// mremap, which moves page tables instead of copying entries (at 10M timers
// a copying doubling would move 80 MB and fault it all in again).
constexpr size_t kPad = 3 * sizeof(HeapEntry);
constexpr size_t kMinBytes = kMinHeapBytes;

uint32_t cap_of(size_t bytes) { return uint32_t((bytes - kPad) / sizeof(HeapEntry)); }
}  // namespace

TimerHeap::~TimerHeap() { mem_unmap(raw_, bytes_); }

bool TimerHeap::resize(size_t bytes) {
  void *raw = raw_ ? mem_remap(raw_, bytes_, bytes) : mem_map(bytes);
  if (!raw) return false;
  raw_ = raw;
  bytes_ = bytes;
  a_ = reinterpret_cast<HeapEntry *>(static_cast<char *>(raw) + kPad);
  cap_ = cap_of(bytes);
  return true;
}

bool TimerHeap::grow() {
  const size_t old = bytes_;
  size_t bytes = old ? old * 2 : kMinBytes;
  if (cap_of(bytes) <= cap_ || bytes > (size_t(1) << 36)) return false;
  if (!resize(bytes)) return false;
  // A heap this large keeps growing: fault its new half in one go.
  if (old >= 64 * 1024) mem_populate(static_cast<char *>(raw_) + old, bytes - old);
  return true;
}

void TimerHeap::shrink() {
  if (bytes_ <= kMinBytes || size_ > cap_ / 4) return;
  size_t bytes = bytes_ / 2;
  while (bytes > kMinBytes && size_ <= cap_of(bytes) / 4) bytes /= 2;
  resize(bytes);  // on failure keeping the larger array is fine
}

uint32_t TimerHeap::push_seq(int64_t deadline, uint32_t ref, uint32_t seq) {
  HeapEntry e{deadline, ref, seq};
  uint32_t i = size_++;
  while (i > 0) {
    uint32_t p = (i - 1) >> 2;
    if (!heap_less(e, a_[p])) break;
    a_[i] = a_[p];
    i = p;
  }
  a_[i] = e;
  return e.seq;
}

void TimerHeap::renumber() {
  if (owner_.live) compact([this](const HeapEntry &e) { return owner_.live(owner_.ctx, e); });
  // In seq order, each live entry gets its rank: every comparison between
  // two entries (and with the fence) comes out as before.
  std::sort(a_, a_ + size_,
            [](const HeapEntry &x, const HeapEntry &y) { return x.seq < y.seq; });
  uint32_t fence = 0;
  for (uint32_t i = 0; i < size_; i++) {
    if (fenced_ && a_[i].seq <= fence_) fence = i + 1;
    if (owner_.relabel) owner_.relabel(owner_.ctx, a_[i], i + 1);
    a_[i].seq = i + 1;
  }
  fence_ = fenced_ ? fence : 0;
  seq_ = size_;
  heapify();
}

void TimerHeap::pop() {
  if (--size_ > 0) {
    a_[0] = a_[size_];
    sift_down(0);
  }
  // Drained by expiries after a burst: give the memory back (shrink() halves
  // the mapping in place; it only acts below a quarter of the capacity, so
  // a heap that oscillates does not resize back and forth).
  if (WEFT_UNLIKELY(size_ < cap_ / 4) && bytes_ > kMinHeapBytes) shrink();
}

void TimerHeap::sift_down(uint32_t i) {
  HeapEntry e = a_[i];
  const uint32_t n = size_;
  for (;;) {
    uint32_t c = 4 * i + 1;
    if (c >= n) break;
    uint32_t m = c;
    uint32_t end = c + 4 < n ? c + 4 : n;
    for (uint32_t k = c + 1; k < end; k++)
      if (heap_less(a_[k], a_[m])) m = k;
    if (!heap_less(a_[m], e)) break;
    a_[i] = a_[m];
    i = m;
  }
  a_[i] = e;
}

}  // namespace weft
