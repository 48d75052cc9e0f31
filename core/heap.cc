// heap.cc -- the 4-ary timer heap (see heap.h).
#include "heap.h"

#include <cstdlib>
#include <cstring>

namespace weft {

namespace {
constexpr uint32_t kPad = 3;  // entries before a_[0] so child groups align

// A 64-byte aligned block for cap entries (plus the pad), or nullptr.
void *alloc_entries(uint32_t cap) {
  size_t bytes = (size_t(cap) + kPad) * sizeof(HeapEntry);
  bytes = (bytes + 63) & ~size_t(63);
  void *fresh = mem_alloc(bytes + 64);  // room to align by hand
  return fresh;
}

HeapEntry *align_entries(void *raw) {
  uintptr_t p = (reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t(63);
  return reinterpret_cast<HeapEntry *>(p) + kPad;
}
}  // namespace

TimerHeap::~TimerHeap() { mem_free(raw_); }

bool TimerHeap::grow() {
  uint32_t ncap = cap_ ? cap_ * 2 : 64;
  if (ncap < cap_) return false;
  void *raw = alloc_entries(ncap);
  if (!raw) return false;
  HeapEntry *na = align_entries(raw);
  if (size_) std::memcpy(na, a_, size_ * sizeof(HeapEntry));
  mem_free(raw_);
  raw_ = raw;
  a_ = na;
  cap_ = ncap;
  return true;
}

void TimerHeap::shrink() {
  if (cap_ <= 64 || size_ > cap_ / 4) return;
  uint32_t ncap = cap_ / 2;
  while (ncap > 64 && size_ <= ncap / 4) ncap /= 2;
  void *raw = alloc_entries(ncap);
  if (!raw) return;  // keeping the larger array is fine
  HeapEntry *na = align_entries(raw);
  if (size_) std::memcpy(na, a_, size_ * sizeof(HeapEntry));
  mem_free(raw_);
  raw_ = raw;
  a_ = na;
  cap_ = ncap;
}

uint32_t TimerHeap::push(int64_t deadline, uint32_t ref) {
  if (++seq_ == 0) {  // seq 0 means "none"; after a wrap, purge old entries
    seq_ = 1;
    wrapped_ = true;
  }
  HeapEntry e{deadline, ref, seq_};
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

void TimerHeap::pop() {
  if (--size_ == 0) return;
  a_[0] = a_[size_];
  sift_down(0);
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
