// sync.h -- task synchronisation: Event, Semaphore, Lock, Queue (of int64_t
// items) and the wait-first await.
//
// Every primitive keeps a FIFO of WaitNodes, one per parked task (the task's
// w.wait names its node, its await is AW_SYNC). A release, a set or a put
// grants directly to the oldest waiter: the grant takes effect at once (the
// permit is taken, the lock owned, the item moved) and the waiter's await
// resolves with it, so a later cancel or timeout finds an await that already
// completed and cannot lose the grant (it comes from the next await instead).
// A waiter interrupted before its grant leaves the FIFO and takes nothing.
//
// A grant made to the task whose step is running (the await found the
// resource free at once, or the step released to itself) is remembered in
// `undo`: if that step then returns without WEFT_PENDING, disarm() gives the
// permit, the lock or the item back (nothing was delivered to anyone).
// A put that step armed and that was not done (still waiting, or resolved at
// once with an interruption or WEFT_ECLOSED: recorded in `undo` too) is
// withdrawn, and its item goes to the queue's drop callback once the task
// has finished (`withdrawn`): the putter can no longer learn that it was not
// put.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../capi/include/weft.h"
#include "pool.h"

struct weft_loop;

namespace weft {

enum SyncWhat : uint8_t { SW_EVENT = 1, SW_SEM, SW_LOCK, SW_QGET, SW_QPUT };

struct WaitList {
  uint32_t head = kNone, tail = kNone;
};

struct WaitNode {
  uint32_t gen;
  uint8_t state;    // 1 linked
  uint8_t what;     // SyncWhat
  uint32_t next;    // FIFO link (and free list)
  uint32_t prev;
  uint32_t task;    // task slot
  uint32_t obj;     // primitive slot
  int64_t item;     // SW_QPUT: the item offered
};

struct Event {
  uint32_t gen;
  uint8_t state;
  uint8_t set;
  uint32_t next;
  WaitList waiters;
};

struct Semaphore {
  uint32_t gen;
  uint8_t state;
  uint8_t bounded;
  uint32_t next;
  int64_t value;  // free permits (0 whenever anyone waits)
  int64_t max;    // bounded: the initial count
  WaitList waiters;
};

struct TaskLock {  // weft_lock_t
  uint32_t gen;
  uint8_t state;
  uint32_t next;
  int64_t owner;  // task id holding it, 0 when free
  WaitList waiters;
};

struct Queue {
  uint32_t gen;
  uint8_t state;
  uint8_t closed;
  uint32_t next;
  int64_t cap;     // 0: unbounded
  int64_t *ring;   // items, FIFO from head
  size_t rcap;     // ring capacity (a power of two)
  size_t head;
  size_t count;
  WaitList getters;  // waiting while empty
  WaitList putters;  // waiting while full
  weft_queue_drop_cb drop;
  void *ud;
};

struct SyncTables {
  Pool<Event, 8> events;
  Pool<Semaphore, 8> sems;
  Pool<TaskLock, 8> locks;
  Pool<Queue, 8> queues;
  Pool<WaitNode> nodes;
  // The item the running step was resumed with (weft_task_item).
  bool has_item = false;
  int64_t item = 0;
  // The grant made to the running task in this step, or the item of a put
  // it armed that resolved at once without putting (see above).
  struct {
    uint32_t task = kNone;
    uint8_t what = 0;
    uint32_t obj = 0, gen = 0;
    int64_t item = 0;
  } undo;
  // The item of a put that the finishing step withdrew (obj kNone: none),
  // set by disarm() and dropped by run_step right after finish().
  struct {
    uint32_t obj = kNone, gen = 0;
    int64_t item = 0;
  } withdrawn;
};

// Operations for capi/weft.cc, which has checked the thread and the
// arguments and turned ids into live slots `s`. Each returns 0 or WEFT_E*;
// the awaits return WEFT_PENDING once armed.
int event_new(weft_loop *L, int64_t *out);
void event_set(weft_loop *L, uint32_t s);
void event_free(weft_loop *L, uint32_t s);
int await_event(weft_loop *L, int64_t self, uint32_t s);
int sem_new(weft_loop *L, int64_t permits, bool bounded, int64_t *out);
int sem_release(weft_loop *L, uint32_t s);
int sem_try_acquire(weft_loop *L, uint32_t s);
void sem_free(weft_loop *L, uint32_t s);
int await_sem(weft_loop *L, int64_t self, uint32_t s);
int lock_new(weft_loop *L, int64_t *out);
int lock_try_acquire(weft_loop *L, uint32_t s, int64_t owner);
int lock_release(weft_loop *L, uint32_t s, int64_t owner);
void lock_free(weft_loop *L, uint32_t s);
int await_lock(weft_loop *L, int64_t self, uint32_t s);
int queue_new(weft_loop *L, int64_t capacity, weft_queue_drop_cb drop, void *ud, int64_t *out);
int queue_try_put(weft_loop *L, uint32_t s, int64_t item);
int queue_try_get(weft_loop *L, uint32_t s, int64_t *item);
void queue_close(weft_loop *L, uint32_t s, bool immediate);
void queue_free(weft_loop *L, uint32_t s);
int await_queue_put(weft_loop *L, int64_t self, uint32_t s, int64_t item);
int await_queue_get(weft_loop *L, int64_t self, uint32_t s);
int task_item(weft_loop *L, int64_t self, int64_t *item);
int await_first(weft_loop *L, int64_t self, const int64_t *ids, size_t n);

// Called by task.cc.
uint32_t first_index(weft_loop *L, uint32_t waiter, uint32_t child);  // AW_FIRST
void sync_unwait(weft_loop *L, uint32_t task);   // interrupt of AW_SYNC
void sync_withdraw(weft_loop *L, uint32_t task);  // disarm of AW_SYNC
void sync_ungrant(weft_loop *L, uint32_t task);  // disarm of AW_DONE with TF_GRANT
void sync_drop_withdrawn(weft_loop *L);          // after the finish of a withdrawing step
// Called by loop.cc at weft_loop_free, once no task is left.
void sync_close_all(weft_loop *L);
void sync_init(weft_loop *L, uint32_t gen_floor);    // loop.cc: ids_set_floor
uint32_t sync_max_issued(const weft_loop *L);          // loop.cc: ids_max_issued

}  // namespace weft
