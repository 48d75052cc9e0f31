// await.h -- what every await shares, whichever file arms it (await.cc,
// socket.cc, sync.cc): the check that a step may arm one, a pending
// interruption resolving it at once, and the two ways an await ends its arming.
#pragma once

#include "loop.h"

// Checks that `self` is the task whose step is running and may arm an await.
WEFT_INLINE int weft_loop::await_begin(int64_t self, weft::Task **tp, uint32_t *slotp) {
  using namespace weft;
  if (self != cur_id || cur_id == 0) {
    uint32_t gen, slot;
    if (!id_split(self, Kind::Task, tag, &gen, &slot) || !tasks.get(slot, gen))
      return WEFT_ESTALE;
    return WEFT_EINVAL;  // a live task, but not the one running
  }
  Task *t = tasks.at(cur_slot);
  if (t->flags & TF_ARMED) return WEFT_EBUSY;
  if (closing) return WEFT_ECANCELED;
  *tp = t;
  *slotp = cur_slot;
  return 0;
}

namespace weft {

// A cancellation or timeout is pending: the await resolves with it at once.
WEFT_INLINE bool take_intr(Task *t) {
  if (!t->intr) return false;
  t->status = t->intr;
  t->intr = 0;
  t->await = AW_DONE;
  t->flags |= TF_ARMED | TF_INTR_SET;
  return true;
}

// The await is armed and waits (kind AW_*).
WEFT_INLINE int armed(Task *t, uint8_t kind) {
  t->await = kind;
  t->flags |= TF_ARMED;
  return WEFT_PENDING;
}

// The await resolved while arming, with `value`.
WEFT_INLINE int resolved(Task *t, int value) {
  t->status = value;
  return armed(t, AW_DONE);
}

}  // namespace weft
