// await.cc -- arming the awaits of a running step. Each returns WEFT_PENDING
// once armed, or an error with nothing armed. The step's bookkeeping after it
// returns is in task.cc (run_step).
#include "await.h"

using namespace weft;


int weft_loop::await_sleep(int64_t self, int64_t ns) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (take_intr(t)) return WEFT_PENDING;
  if (!heap.reserve_one()) return WEFT_ENOMEM;
  t->w.sleep_seq = heap.push(add_sat(clock_now(), ns), kRefSleep | slot);
  return armed(t, AW_SLEEP);
}

int weft_loop::await_fd(int64_t self, int fd, int events) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (take_intr(t)) return WEFT_PENDING;
  if (int r = io_add(slot | kIoTask, fd, uint32_t(events))) return r;
  return armed(t, AW_FD);
}

int weft_loop::await_thread(int64_t self, weft_work_fn fn, void *arg) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (take_intr(t)) {  // the work never starts: arg goes back now
    release_ud(WEFT_KIND_WORK, arg);
    return WEFT_PENDING;
  }
  Work *w;
  if (int r = work_submit(fn, arg, nullptr, nullptr, slot, &w)) return r;
  t->w.work = w;
  return armed(t, AW_THREAD);
}

int weft_loop::await_yield(int64_t self) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  if (take_intr(t)) return WEFT_PENDING;
  t->status = 0;
  return armed(t, AW_YIELD);
}

int weft_loop::await_task(int64_t self, int64_t other) {
  return await_all(self, &other, 1, -1);
}

// Also await_task, with flags == -1: one child, resolving with its result.
int weft_loop::await_all(int64_t self, const weft_task_t *ids, size_t n, int flags) {
  Task *t;
  uint32_t slot;
  if (int r = await_begin(self, &t, &slot)) return r;
  const bool one = flags < 0;
  if (!one && (flags & ~WEFT_CANCEL_ON_ERROR)) return WEFT_EINVAL;
  if (n > 0 && !ids) return WEFT_EINVAL;
  if (n >= kMaxSlots) return WEFT_ENOMEM;
  // Validate everything before touching anything.
  uint32_t pending = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t gen, s;
    if (!id_split(ids[i], Kind::Task, tag, &gen, &s) || !tasks.get(s, gen)) return WEFT_ESTALE;
    if (s == slot) return WEFT_EINVAL;
    if (tasks.at(s)->state != TS_DONE) pending++;
  }
  // A pending cancellation or timeout resolves the await at once -- except
  // for a TaskGroup with children still running, which it must cancel: the
  // group is armed normally and run_step delivers the interruption through
  // interrupt() when the step returns.
  const bool group = !one && (flags & WEFT_CANCEL_ON_ERROR) && pending > 0;
  if (!group && take_intr(t)) return WEFT_PENDING;
  if (one && pending == 0) return resolved(t, tasks.at(uint32_t(ids[0]) & kSlotMask)->status);

  // Take every node first, so that ENOMEM leaves nothing behind.
  uint32_t chain = kNone;
  for (uint32_t i = 0; i < pending; i++) {
    uint32_t js;
    JoinNode *j = joins.alloc(&js);
    if (!j) {
      while (chain != kNone) {
        uint32_t next = joins.at(chain)->sibling;
        joins.release(chain);
        chain = next;
      }
      return WEFT_ENOMEM;
    }
    j->sibling = chain;
    chain = js;
  }

  t->w.join.nodes = chain;
  t->w.join.remaining = pending;
  t->w.join.first_err = 0;
  uint32_t node = chain;
  for (size_t i = 0; i < n; i++) {
    uint32_t s = uint32_t(ids[i]) & kSlotMask;
    Task *c = tasks.at(s);
    if (c->state == TS_DONE) {
      if (c->status < 0 && t->w.join.first_err == 0) t->w.join.first_err = c->status;
      continue;
    }
    JoinNode *j = joins.at(node);
    j->state = 1;
    j->waiter = slot;
    j->child = s;
    j->prev = kNone;
    j->next = c->joiners;
    if (c->joiners != kNone) joins.at(c->joiners)->prev = node;
    c->joiners = node;
    node = j->sibling;
  }
  if (one) return armed(t, AW_TASK);
  if (flags & WEFT_CANCEL_ON_ERROR) t->flags |= TF_COE;
  if (pending == 0) return resolved(t, (flags & WEFT_CANCEL_ON_ERROR) ? t->w.join.first_err : 0);
  if ((t->flags & TF_COE) && t->w.join.first_err) {  // a child already failed
    t->flags |= TF_ABORTING;
    join_cancel_children(slot);
  }
  return armed(t, AW_ALL);
}
