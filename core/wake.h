// wake.h -- waking a waiter (waiter.h): the one place that knows what each
// kind of waiter is and what waking it means. The timer phase (timer.cc),
// the poller (poller.cc), the pool's completion drain (work.cc) and the
// socket operations (socket.cc) call wake_waiter with the ref they hold and
// what happened; they never resolve a task or run a callback themselves.
// Inline in those callers (each event costs a switch on the kind, no call):
// include it only there.
#pragma once

#include "loop.h"

// `value`: WK_WATCH, WK_FD_TASK: the WEFT_* events that happened (already
// masked to what the waiter asked for, plus hangup and error); WK_TIMER: the
// deadline that was due; WK_WORK: the work's result; WK_OP: the await's
// result; WK_SLEEP, WK_DEADLINE, WK_WAKEUP: unused.
WEFT_INLINE void weft_loop::wake_waiter(uint32_t ref, int64_t value) {
  using namespace weft;
  const uint32_t slot = waiter_slot(ref);
  // The fd kinds first, then the timer: a chain in this order (rather than
  // the compiler's own) keeps an fd event's dispatch within a compare or two.
  const uint32_t kind = waiter_kind(ref);
  if (kind == WK_WATCH) {
    FdWatch *w = watches.at(slot);
    const uint32_t gen = w->gen;
    void *ud = w->ud;
    const int64_t t0 = slow_ns ? clock_now() : 0;
    callback_begin(WEFT_KIND_FD_WATCH, slot, gen);
    try {
      w->cb(this, id_make(Kind::FdWatch, tag, gen, slot), int(value), ud);
    } catch (...) {
      log(WEFT_LOG_ERROR, "C++ exception escaped an fd callback");
    }
    if (callback_end()) release_ud(WEFT_KIND_FD_WATCH, ud);
    if (slow_ns) slow_check(t0, "fd callback");
    return;
  }
  if (kind == WK_FD_TASK) {
    // One-shot: off the fd's list (the poller's cursor moves past it), then
    // back to the task.
    io_remove(ref);
    resolve(slot, int(value));
    return;
  }
  switch (kind) {
    case WK_SLEEP:
      tasks.at(slot)->w.sleep_seq = 0;  // its heap entry is gone
      resolve(slot, 0);
      return;
    case WK_DEADLINE:
      tasks.at(slot)->timeout_seq = 0;
      interrupt(slot, WEFT_ETIMEDOUT);
      return;
    case WK_TIMER: {
      // Called from the timer phase, which popped the entry (so a repeating
      // timer's next arm cannot fail) and whose cached time is `now`.
      const int64_t t_now = now.load(std::memory_order_relaxed);
      Timer *t = timers.at(slot);
      const uint32_t gen = t->gen;
      const bool once = t->repeat == 0;
      if (once) {
        t->seq = 0;
        t->state = TM_FIRING;
        bump(st_timers, -1);
      } else {
        // Drift-free period; skip missed periods instead of bursting.
        int64_t next = add_sat(value, t->repeat);
        if (next <= t_now) next = add_sat(t_now, t->repeat);
        t->seq = heap.push(next, WK_TIMER | slot);
      }
      void *ud = t->ud;
      const int64_t t0 = slow_ns ? clock_now() : 0;
      callback_begin(WEFT_KIND_TIMER, slot, gen);
      try {
        t->cb(this, id_make(Kind::Timer, tag, gen, slot), ud);
      } catch (...) {
        log(WEFT_LOG_ERROR, "C++ exception escaped a timer callback");
      }
      const bool stopped = callback_end();
      if (slow_ns) slow_check(t0, "timer callback");
      if (once) {
        Timer *t2 = timers.get(slot, gen);
        if (t2 && t2->state == TM_FIRING) timers.release(slot);
      }
      if (once || stopped) release_ud(WEFT_KIND_TIMER, ud);
      return;
    }
    case WK_WAKEUP:
      // Read first, then clear: a waker that saw the flag set has queued
      // its item before the drain below.
      sys_eventfd_read(poller.be.wakefd);
      wake_pending.store(false, std::memory_order_seq_cst);
      deliver_completions();
      return;
    case WK_WORK: {
      Work *w = works.at(slot);
      if (w->task != kNone) {
        // Only if the task still waits for this work; an interruption that
        // came while the work ran (w->intr) is delivered instead of its result.
        Task *t = tasks.at(w->task);
        if (t->state == TS_WAITING && t->await == AW_THREAD && t->w.work == w)
          resolve(w->task, w->intr ? w->intr : int(value));
      } else if (w->done) {
        const int64_t t0 = slow_ns ? clock_now() : 0;
        try {
          w->done(this, id_make(Kind::Work, tag, w->gen, slot), int(value), w->ud);
        } catch (...) {
          log(WEFT_LOG_ERROR, "C++ exception escaped a done callback");
        }
        if (slow_ns) slow_check(t0, "done callback");
      }
      return;
    }
    case WK_OP:
      settle(slot, int(value));
      return;
    default:
      return;
  }
}
