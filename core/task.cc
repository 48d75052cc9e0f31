// task.cc -- task life: spawn, the ready queue, steps, interruption
// (cancel and timeout), finishing, joins.
#include "loop.h"

using namespace weft;

int weft_loop::task_spawn(weft_task_fn fn, void *ud, weft_task_t *out) {
  uint32_t slot;
  Task *t = tasks.alloc(&slot);
  if (!t) return WEFT_ENOMEM;
  t->state = TS_READY;
  t->await = AW_START;
  t->fn = fn;
  t->ud = ud;
  t->joiners = kNone;
  if (closing) {  // spawned while the loop is freed: its first step is cancelled
    t->status = WEFT_ECANCELED;
    t->flags |= TF_INTR_SET;
  }
  if (out)
    *out = task_id(slot);
  else
    t->flags |= TF_DETACHED;
  bump(st_tasks_alive, 1);
  ready_push(slot);
  return 0;
}

// Phase (4): the steps that were ready when the phase began, FIFO.
void weft_loop::run_ready() {
  int64_t n = st_tasks_ready.load(std::memory_order_relaxed);
  while (n-- > 0) {
    if (forked()) return;  // see iterate()
    uint32_t slot = ready_head;
    ready_head = tasks.at(slot)->next;
    if (ready_head == kNone) ready_tail = kNone;
    bump(st_tasks_ready, -1);
    if (tasks.at(slot)->await == AW_SOCK && !sock_try_due(slot)) continue;
    run_step(slot);
  }
}

void weft_loop::run_step(uint32_t slot) {
  Task *t = tasks.at(slot);
  const int status = t->status;
  const int64_t id = task_id(slot);
  t->state = TS_RUNNING;
  t->await = AW_NONE;
  sync.has_item = (t->flags & TF_ITEM) != 0;  // for weft_task_item (sync.cc)
  sync.item = t->w.item;
  t->flags &= uint8_t(~(TF_ARMED | TF_INTR_SET | TF_COE | TF_ABORTING | TF_ITEM | TF_GRANT));
  cur_slot = slot;
  cur_id = id;
  step_fd = -1;
  const int64_t t0 = slow_ns ? clock_now() : 0;
  int r;
  try {
    r = t->fn(this, id, status, t->ud);
  } catch (...) {
    log(WEFT_LOG_ERROR, "task %lld: C++ exception escaped its step; finished with WEFT_EHOST",
        (long long)id);
    r = WEFT_EHOST;
  }
  if (slow_ns) slow_check(t0, "task step");
  cur_slot = kNone;
  cur_id = 0;

  if (r != WEFT_PENDING) {
    if (t->flags & TF_ARMED) disarm(slot);
    finish(slot, r);
    if (sync.withdrawn.obj != kNone) sync_drop_withdrawn(this);  // a put it armed
    return;
  }
  if (!(t->flags & TF_ARMED)) {
    log(WEFT_LOG_ERROR,
        "task %lld: step returned WEFT_PENDING without arming an await; finished with WEFT_EINVAL",
        (long long)id);
    finish(slot, WEFT_EINVAL);
    return;
  }
  if (t->await == AW_YIELD || t->await == AW_DONE ||
      (t->await == AW_SOCK && sock_ops.at(t->w.sock_op)->due)) {  // due: sock_run
    t->state = TS_READY;
    ready_push(slot);
  } else {
    t->state = TS_WAITING;
  }
  if (t->intr) {  // cancelled or timed out during the step, after arming
    int code = t->intr;
    t->intr = 0;
    interrupt(slot, code);
  }
}

void weft_loop::resolve(uint32_t slot, int value) {
  Task *t = tasks.at(slot);
  t->status = value;
  t->await = AW_DONE;
  t->state = TS_READY;
  ready_push(slot);
}

namespace {
// An interruption for the task's next await. A cancel is never lost: it
// replaces a pending expiry (the stronger request); an expiry does not
// replace a pending cancel.
WEFT_INLINE void defer_intr(Task *t, int code) {
  if (code == WEFT_ECANCELED || !t->intr) t->intr = int8_t(code);
}
}  // namespace

// Cancellation (code WEFT_ECANCELED) and timeout (WEFT_ETIMEDOUT) share this
// path. One interruption at a time is delivered through the current await;
// a cancel that finds a timeout (or a result) in delivery is kept for the
// next await (asyncio's rule: a cancel is never lost), while an expiry that
// finds an interruption in delivery is dropped.
void weft_loop::interrupt(uint32_t slot, int code) {
  Task *t = tasks.at(slot);
  switch (t->state) {
    case TS_RUNNING:
      defer_intr(t, code);
      return;
    case TS_READY:
      if (t->await == AW_SOCK) break;  // queued for a due recv: take it back below
      if (t->flags & TF_INTR_SET) {  // t->status is the interruption
        if (code == WEFT_ECANCELED && t->status != WEFT_ECANCELED) defer_intr(t, code);
        return;
      }
      if (t->await == AW_START || t->await == AW_YIELD) {
        t->status = code;  // the pending first step / yield resolves with it
        t->await = AW_DONE;
        t->flags |= TF_INTR_SET;
      } else {
        defer_intr(t, code);  // a result waits: deliver it, then this
      }
      return;
    case TS_WAITING:
      break;
    default:
      return;  // finished
  }
  if (t->flags & TF_INTR_SET) {
    // Delivered when running pool work finishes, or when a cancelling
    // group's children have finished. (An await kind added later that
    // delivers this way says here what it is delivering.)
    int delivering = WEFT_ECANCELED;
    if (t->await == AW_THREAD) delivering = t->w.work->intr;
    if (t->await == AW_ALL) delivering = t->w.join.first_err;
    if (code == WEFT_ECANCELED && delivering != WEFT_ECANCELED) defer_intr(t, code);
    return;
  }
  switch (t->await) {
    case AW_SLEEP:
      heap_forget(&t->w.sleep_seq);
      break;
    case AW_FD:
      io_remove(slot | kIoTask);
      break;
    case AW_SOCK: {  // nothing moved is lost: a send's count goes to *sent
      int got;
      if (sock_abort(slot, &got)) {
        // The kernel completed it meanwhile (io_uring): the await delivers
        // that, the interruption comes from the next await.
        resolve(slot, got);
        defer_intr(t, code);
        return;
      }
      break;
    }
    case AW_THREAD: {
      Work *w = t->w.work;
      if (work_unqueue(w)) {  // never ran, never will
        work_free(w);
        work_outstanding--;
        break;
      }
      w->intr = code;  // running: it finishes first, then we resume
      t->flags |= TF_INTR_SET;
      return;
    }
    case AW_ALL:
      if (t->flags & TF_COE) {
        if (t->flags & TF_ABORTING) {  // aborting on a child's error already
          defer_intr(t, code);
          return;
        }
        t->flags |= TF_ABORTING | TF_INTR_SET;
        t->w.join.first_err = code;
        join_cancel_children(slot);
        return;  // resolves when the last child finishes
      }
      join_unlink_all(slot);
      join_free_chain(slot);
      break;
    case AW_TASK:
    case AW_FIRST:
      join_unlink_all(slot);
      join_free_chain(slot);
      break;
    case AW_SYNC:  // not granted yet: leave the FIFO, take nothing
      sync_unwait(this, slot);
      break;
    default:
      return;
  }
  t->flags |= TF_INTR_SET;
  if (t->state == TS_READY) {  // was queued for a due recv: stays queued
    t->status = code;
    t->await = AW_DONE;
    return;
  }
  resolve(slot, code);
}

// The step armed an await and then finished: take the await back.
void weft_loop::disarm(uint32_t slot) {
  Task *t = tasks.at(slot);
  switch (t->await) {
    case AW_SLEEP:
      heap_forget(&t->w.sleep_seq);
      break;
    case AW_FD:
      io_remove(slot | kIoTask);
      break;
    case AW_SOCK: {
      const uint8_t kind = sock_ops.at(t->w.sock_op)->kind;
      int got;  // the step has ended: nobody takes a result, or a socket
      if (sock_abort(slot, &got) && got >= 0 && (kind == OP_ACCEPT || kind == OP_CONNECT))
        sock_close(got);
      break;
    }
    case AW_THREAD: {
      Work *w = t->w.work;
      if (work_unqueue(w)) {
        work_free(w);
        work_outstanding--;
      } else {
        w->task = kNone;  // orphaned: dropped when it completes
      }
      break;
    }
    case AW_TASK:
    case AW_ALL:
    case AW_FIRST:
      join_unlink_all(slot);
      join_free_chain(slot);
      break;
    case AW_SYNC:  // a put's item goes to the drop callback after finish()
      sync_withdraw(this, slot);
      break;
    case AW_DONE:  // granted in this very step: give it back (sync.h)
      if (t->flags & TF_GRANT) sync_ungrant(this, slot);
      if (step_fd >= 0) sock_close(step_fd);  // accepted or connected at once
      break;
    default:
      break;
  }
  t->await = AW_NONE;
}

void weft_loop::finish(uint32_t slot, int result) {
  Task *t = tasks.at(slot);
  t->state = TS_DONE;
  t->status = result;
  t->await = AW_NONE;
  t->intr = 0;
  heap_forget(&t->timeout_seq);
  bump(st_tasks_alive, -1);
  if (t->joiners != kNone) join_notify(slot, result);
  if (t->flags & TF_DETACHED) {
    void *ud = t->ud;
    tasks.release(slot);
    release_ud(WEFT_KIND_TASK, ud);
  }
}

int weft_loop::task_timeout(uint32_t slot, int64_t ns) {
  Task *t = tasks.at(slot);
  if (t->state == TS_DONE) return 0;
  if (ns > 0 && !heap.reserve_one()) return WEFT_ENOMEM;
  heap_forget(&t->timeout_seq);
  // An expiry of the old deadline that is still waiting for the task's next
  // await goes with it: it must not hit an await the new deadline governs.
  if (t->intr == WEFT_ETIMEDOUT) t->intr = 0;
  // Likewise an expiry that waits for running pool work to finish: the
  // work's result is delivered instead, as if the deadline had not passed.
  if (t->state == TS_WAITING && t->await == AW_THREAD && (t->flags & TF_INTR_SET) &&
      t->w.work->intr == WEFT_ETIMEDOUT) {
    t->w.work->intr = 0;
    t->flags &= uint8_t(~TF_INTR_SET);
  }
  if (ns > 0) t->timeout_seq = heap.push(add_sat(clock_now(), ns), kRefTimeout | slot);
  return 0;
}

int weft_loop::task_release(uint32_t slot) {
  Task *t = tasks.at(slot);
  if (t->state == TS_DONE) {
    void *ud = t->ud;
    tasks.release(slot);
    release_ud(WEFT_KIND_TASK, ud);
    return 0;
  }
  if (t->flags & TF_RELEASED) return WEFT_ESTALE;
  t->flags |= TF_DETACHED | TF_RELEASED;
  return 0;
}

// weft_loop_free: every unfinished task gets WEFT_ECANCELED.
void weft_loop::cancel_all_tasks() {
  for (uint32_t s = 0, n = tasks.size(); s < n; s++) {
    uint8_t st = tasks.at(s)->state;
    if (st != TS_FREE && st != TS_DONE) interrupt(s, WEFT_ECANCELED);
  }
}

// ---------------------------------------------------------------- joins

// Unlinks the waiter's nodes from the lists of children still running.
void weft_loop::join_unlink_all(uint32_t slot) {
  for (uint32_t n = tasks.at(slot)->w.join.nodes; n != kNone; n = joins.at(n)->sibling) {
    JoinNode *j = joins.at(n);
    if (j->state != 1) continue;
    if (j->prev != kNone)
      joins.at(j->prev)->next = j->next;
    else
      tasks.at(j->child)->joiners = j->next;
    if (j->next != kNone) joins.at(j->next)->prev = j->prev;
    j->state = 2;
  }
}

void weft_loop::join_free_chain(uint32_t slot) {
  Task *t = tasks.at(slot);
  uint32_t n = t->w.join.nodes;
  while (n != kNone) {
    uint32_t next = joins.at(n)->sibling;
    joins.release(n);
    n = next;
  }
  t->w.join.nodes = kNone;
}

void weft_loop::join_cancel_children(uint32_t slot) {
  for (uint32_t n = tasks.at(slot)->w.join.nodes; n != kNone; n = joins.at(n)->sibling) {
    JoinNode *j = joins.at(n);
    if (j->state == 1) interrupt(j->child, WEFT_ECANCELED);
  }
}

// `child` finished with `result`: tell every task awaiting it. Nodes are
// popped off the child's list one at a time, the rest of the list staying
// linked: telling one waiter can cancel another waiter of this same child (a
// TaskGroup cancelling a sibling that awaits the failed child), which unlinks
// and frees that waiter's node from this list.
void weft_loop::join_notify(uint32_t child, int result) {
  Task *c = tasks.at(child);
  while (c->joiners != kNone) {
    JoinNode *j = joins.at(c->joiners);
    c->joiners = j->next;
    if (j->next != kNone) joins.at(j->next)->prev = kNone;
    j->state = 2;
    uint32_t w = j->waiter;
    Task *wt = tasks.at(w);
    wt->w.join.remaining--;
    if (wt->await == AW_TASK) {
      join_free_chain(w);
      resolve(w, result);
    } else if (wt->await == AW_FIRST) {
      const uint32_t index = first_index(this, w, child);
      join_unlink_all(w);
      join_free_chain(w);
      resolve(w, int(index));
    } else {
      if (result < 0 && wt->w.join.first_err == 0) {
        wt->w.join.first_err = result;
        if ((wt->flags & TF_COE) && !(wt->flags & TF_ABORTING)) {
          wt->flags |= TF_ABORTING;
          join_cancel_children(w);
        }
      }
      if (wt->w.join.remaining == 0) {
        int v = (wt->flags & TF_COE) ? wt->w.join.first_err : 0;
        join_free_chain(w);
        resolve(w, v);
      }
    }
  }
}
