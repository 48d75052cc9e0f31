// timer.cc -- callback timers, and the timer phase: the heap (shared by
// callback timers, sleeping tasks and task deadlines) reports each due entry
// to its waiter (wake.h), not knowing whether that is a task or a
// callback.
#include "loop.h"
#include "wake.h"

using namespace weft;

int weft_loop::timer_start(int64_t timeout, int64_t repeat, weft_timer_cb cb, void *ud,
                           weft_timer_t *out) {
  if (!heap.reserve_one()) return WEFT_ENOMEM;
  uint32_t slot;
  Timer *t = timers.alloc(&slot);
  if (!t) return WEFT_ENOMEM;
  t->state = TM_ACTIVE;
  t->repeat = repeat;
  t->cb = cb;
  t->ud = ud;
  t->seq = heap.push(add_sat(clock_now(), timeout), kRefTimer | slot);
  bump(st_timers, 1);
  if (out) *out = id_make(Kind::Timer, tag, t->gen, slot);
  return 0;
}

void weft_loop::timer_stop(uint32_t slot) {
  Timer *t = timers.at(slot);
  void *ud = t->ud;
  const uint32_t gen = t->gen;
  if (t->state == TM_ACTIVE) {
    heap_forget(&t->seq);
    bump(st_timers, -1);
  }
  // TM_FIRING: a one-shot stopping itself; it was already counted out.
  timers.release(slot);
  release_handle(WEFT_KIND_TIMER, slot, gen, ud);
}

void weft_loop::heap_forget(uint32_t *seq) {
  if (*seq) {
    heap.mark_stale();
    *seq = 0;
    // Here, not only in the timer phase: a loop that never blocks may never
    // reach a due entry, and stale entries would pile up (issue 11).
    if (WEFT_UNLIKELY(heap.want_compact())) heap_compact();
  }
}

namespace {
bool heap_live_cb(void *ctx, const HeapEntry &e) {
  return static_cast<const weft_loop *>(ctx)->heap_entry_live(e);
}

// The heap renumbered a live entry: its owner remembers the new seq.
void heap_relabel_cb(void *ctx, const HeapEntry &e, uint32_t seq) {
  weft_loop *loop = static_cast<weft_loop *>(ctx);
  const uint32_t slot = e.ref & ~kRefKind;
  switch (e.ref & kRefKind) {
    case kRefTimer: loop->timers.at(slot)->seq = seq; break;
    case kRefSleep: loop->tasks.at(slot)->w.sleep_seq = seq; break;
    default: loop->tasks.at(slot)->timeout_seq = seq; break;
  }
}
}  // namespace

void weft_loop::heap_init() {
  HeapOwner o;
  o.ctx = this;
  o.live = heap_live_cb;
  o.relabel = heap_relabel_cb;
  heap.set_owner(o);
}

bool weft_loop::heap_entry_live(const HeapEntry &e) const {
  // A stale entry may name a slot whose chunk its pool has since given back.
  uint32_t slot = e.ref & ~kRefKind;
  switch (e.ref & kRefKind) {
    case kRefTimer: {
      if (slot >= timers.size()) return false;
      const Timer *t = timers.at(slot);
      return t->state == TM_ACTIVE && t->seq == e.seq;
    }
    case kRefSleep: {
      if (slot >= tasks.size()) return false;
      // Not only WAITING: the step that armed the sleep may still be running
      // (weft_loop_next_timeout called from it cleans the heap's top).
      const Task *t = tasks.at(slot);
      return t->state != TS_FREE && t->await == AW_SLEEP && t->w.sleep_seq == e.seq;
    }
    default: {
      if (slot >= tasks.size()) return false;
      const Task *t = tasks.at(slot);
      return t->state != TS_FREE && t->timeout_seq == e.seq;
    }
  }
}

void weft_loop::heap_clean_top() {
  while (!heap.empty() && !heap_entry_live(heap.top())) {
    heap.pop();
    heap.unmark_stale();
  }
}

void weft_loop::heap_compact() {
  heap.compact([this](const HeapEntry &e) { return heap_entry_live(e); });
}

// Phase (2): everything due at the cached time, in deadline order. Entries
// armed during this phase wait for the next iteration, whatever their
// deadline, so a callback that re-arms at 0 cannot spin the phase.
void weft_loop::run_timers() {
  const int64_t t_now = now.load(std::memory_order_relaxed);
  heap.fence_begin();
  while (!heap.empty()) {
    const HeapEntry e = heap.top();
    if (e.deadline > t_now || e.seq > heap.fence()) break;
    heap.pop();
    if (!heap_entry_live(e)) {
      heap.unmark_stale();
      continue;
    }
    wake_waiter(e.ref, e.deadline);  // a timer's callback, a task's sleep or deadline
  }
  heap.fence_end();
  if (heap.want_compact()) heap_compact();
}
