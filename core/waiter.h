// waiter.h -- waiters: what an event source wakes, named by a 32-bit ref.
//
// Event sources (the timer heap, the poller, the pool's completions) keep a
// waiter ref with each thing they watch and, when it happens, hand that ref
// and what happened to weft_loop::wake_waiter (wake.h). They do not know
// whether the waiter is a task or a callback: wake.h is the one place that
// knows each kind and how it is woken (a task resolves or is interrupted, a
// callback runs under the release hook's and the slow-callback log's rules,
// the wakeup drains the pool's completions). socket.cc's operations report
// their endings to their task the same way (WK_OP).
//
// A ref is the kind in its top three bits and a slot of the kind's pool
// below (slots are under 2^24, id.h). The heap's entries carry refs of the
// three timed kinds; the poller's per-fd lists carry refs of the two fd
// kinds (kIoTask, poller.h, is WK_FD_TASK: "a one-shot await, not a watch").
#pragma once

#include <cstdint>

namespace weft {

// Waiter kinds. "value" is what wake() passes along.
enum WaiterKind : uint32_t {
  WK_WATCH = 0u << 29,     // fd watch callback (watch slot); value: WEFT_* events
  WK_TIMER = 1u << 29,     // timer callback (timer slot); value: the deadline that was due
  WK_SLEEP = 2u << 29,     // task's sleep (task slot): resolves with 0
  WK_DEADLINE = 3u << 29,  // task's deadline (task slot): interrupted with WEFT_ETIMEDOUT
  WK_FD_TASK = 4u << 29,   // task's fd await (task slot): resolves with the events
  WK_WAKEUP = 5u << 29,    // the loop's wakeup eventfd (no slot): pool completions
  WK_WORK = 6u << 29,      // finished pool work (work slot): its task's await or its
                           // done callback; value: the work's result
  WK_OP = 7u << 29,        // task's socket operation, or an fd await whose fd was closed
                           // under it (task slot): resolves with value, also while the
                           // task's own step runs (a step that closed the fd it had just
                           // armed an operation on)
};
constexpr uint32_t kWaiterKind = 7u << 29;

constexpr uint32_t waiter_slot(uint32_t ref) { return ref & ~kWaiterKind; }
constexpr uint32_t waiter_kind(uint32_t ref) { return ref & kWaiterKind; }

}  // namespace weft
