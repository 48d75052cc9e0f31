// sync.cc -- Event, Semaphore, Lock, Queue and wait-first (see sync.h).
#include "sync.h"

#include <cstring>

#include "await.h"

using namespace weft;

namespace {

// The release hook (weft_loop_set_release) for a queue's user_data.
void release_queue_ud(weft_loop *L, void *ud) { L->release_ud(WEFT_KIND_QUEUE, ud); }

// ------------------------------------------------------------ wait lists

WaitList *list_of(weft_loop *L, const WaitNode *n) {
  SyncTables &S = L->sync;
  switch (n->what) {
    case SW_EVENT: return &S.events.at(n->obj)->waiters;
    case SW_SEM: return &S.sems.at(n->obj)->waiters;
    case SW_LOCK: return &S.locks.at(n->obj)->waiters;
    case SW_QGET: return &S.queues.at(n->obj)->getters;
    default: return &S.queues.at(n->obj)->putters;
  }
}

void unlink(weft_loop *L, WaitList *l, uint32_t ns) {
  Pool<WaitNode> &P = L->sync.nodes;
  WaitNode *n = P.at(ns);
  if (n->prev != kNone)
    P.at(n->prev)->next = n->next;
  else
    l->head = n->next;
  if (n->next != kNone)
    P.at(n->next)->prev = n->prev;
  else
    l->tail = n->prev;
}

// Parks the running task `ts` at the tail of `l`. false: out of nodes.
bool park(weft_loop *L, WaitList *l, uint8_t what, uint32_t obj, uint32_t ts, int64_t item) {
  Pool<WaitNode> &P = L->sync.nodes;
  uint32_t ns;
  WaitNode *n = P.alloc(&ns);
  if (!n) return false;
  n->state = 1;
  n->what = what;
  n->task = ts;
  n->obj = obj;
  n->item = item;
  n->next = kNone;
  n->prev = l->tail;
  if (l->tail != kNone)
    P.at(l->tail)->next = ns;
  else
    l->head = ns;
  l->tail = ns;
  Task *t = L->tasks.at(ts);
  t->w.wait = ns;
  t->await = AW_SYNC;
  t->flags |= TF_ARMED;
  return true;
}

// Resolves task `ts` with `value`. It may be the task whose step is running
// (it armed this await in this step): run_step queues it when the step
// returns, and the grant is recorded so that disarm() can take it back.
void wake(weft_loop *L, uint32_t ts, int value) {
  Task *t = L->tasks.at(ts);
  if (t->state == TS_RUNNING) {
    t->status = value;
    t->await = AW_DONE;
  } else {
    L->resolve(ts, value);
  }
}

void note_grant(weft_loop *L, uint32_t ts, uint8_t what, uint32_t obj, uint32_t gen,
                int64_t item) {
  Task *t = L->tasks.at(ts);
  if (t->state != TS_RUNNING) return;
  t->flags |= TF_GRANT;
  auto &u = L->sync.undo;
  u.task = ts;
  u.what = what;
  u.obj = obj;
  u.gen = gen;
  u.item = item;
}

// Pops the oldest waiter of `l`: its task slot (and what it offered).
uint32_t pop(weft_loop *L, WaitList *l, int64_t *item = nullptr) {
  const uint32_t ns = l->head;
  WaitNode *n = L->sync.nodes.at(ns);
  unlink(L, l, ns);
  const uint32_t ts = n->task;
  if (item) *item = n->item;
  L->sync.nodes.release(ns);
  return ts;
}

// Resumes every waiter of `l` with `code`, oldest first.
void wake_all(weft_loop *L, WaitList *l, int code) {
  while (l->head != kNone) wake(L, pop(L, l), code);
}

// ------------------------------------------------------------------ grants

void sem_give(weft_loop *L, uint32_t s) {
  Semaphore *m = L->sync.sems.at(s);
  if (m->waiters.head != kNone) {
    const uint32_t ts = pop(L, &m->waiters);
    note_grant(L, ts, SW_SEM, s, m->gen, 0);
    wake(L, ts, 0);
  } else {
    m->value++;
  }
}

void lock_give(weft_loop *L, uint32_t s) {
  TaskLock *k = L->sync.locks.at(s);
  if (k->waiters.head != kNone) {
    const uint32_t ts = pop(L, &k->waiters);
    k->owner = L->task_id(ts);
    note_grant(L, ts, SW_LOCK, s, k->gen, 0);
    wake(L, ts, 0);
  } else {
    k->owner = 0;
  }
}

// A getter receives `item`.
void deliver(weft_loop *L, uint32_t ts, uint32_t qs, int64_t item) {
  Task *t = L->tasks.at(ts);
  t->w.item = item;
  t->flags |= TF_ITEM;
  note_grant(L, ts, SW_QGET, qs, L->sync.queues.at(qs)->gen, item);
  wake(L, ts, 0);
}

bool ring_grow(Queue *q) {
  size_t ncap = q->rcap ? q->rcap * 2 : 8;
  if (ncap < q->rcap) return false;
  if (ncap > SIZE_MAX / sizeof(int64_t)) return false;
  int64_t *r = static_cast<int64_t *>(mem_alloc(ncap * sizeof(int64_t)));
  if (!r) return false;
  for (size_t i = 0; i < q->count; i++) r[i] = q->ring[(q->head + i) & (q->rcap - 1)];
  mem_free(q->ring);
  q->ring = r;
  q->rcap = ncap;
  q->head = 0;
  return true;
}

bool ring_push(Queue *q, int64_t item) {
  if (q->count == q->rcap && !ring_grow(q)) return false;
  q->ring[(q->head + q->count) & (q->rcap - 1)] = item;
  q->count++;
  return true;
}

bool ring_push_front(Queue *q, int64_t item) {
  if (q->count == q->rcap && !ring_grow(q)) return false;
  q->head = (q->head - 1) & (q->rcap - 1);
  q->ring[q->head] = item;
  q->count++;
  return true;
}

int64_t ring_pop(Queue *q) {
  int64_t v = q->ring[q->head];
  q->head = (q->head + 1) & (q->rcap - 1);
  q->count--;
  return v;
}

bool full(const Queue *q) { return q->cap != 0 && int64_t(q->count) >= q->cap; }

// Put into an open queue: 0, EAGAIN (full) or ENOMEM.
int q_put(weft_loop *L, uint32_t qs, int64_t item) {
  Queue *q = L->sync.queues.at(qs);
  if (q->getters.head != kNone) {  // empty, and a getter waits: hand it over
    deliver(L, pop(L, &q->getters), qs, item);
    return 0;
  }
  if (full(q)) return WEFT_EAGAIN;
  return ring_push(q, item) ? 0 : WEFT_ENOMEM;
}

// Takes the head item; the oldest waiting putter's item moves in behind.
int64_t q_take(weft_loop *L, uint32_t qs) {
  Queue *q = L->sync.queues.at(qs);
  const int64_t v = ring_pop(q);
  if (q->putters.head != kNone && !full(q)) {
    int64_t offered;
    const uint32_t ts = pop(L, &q->putters, &offered);
    ring_push(q, offered);  // room was just made: cannot fail
    wake(L, ts, 0);
  }
  return v;
}

// Hands `count` items of a detached ring to the drop callback, oldest first,
// then frees the ring.
void drop_items(weft_loop *L, weft_queue_drop_cb cb, void *ud, int64_t qid, int64_t *ring,
                size_t rcap, size_t head, size_t count) {
  if (cb)
    for (size_t i = 0; i < count; i++) cb(L, qid, ring[(head + i) & (rcap - 1)], ud);
  mem_free(ring);
}

}  // namespace

// ------------------------------------------------------------ from task.cc

void weft::sync_unwait(weft_loop *L, uint32_t task) {
  Task *t = L->tasks.at(task);
  const uint32_t ns = t->w.wait;
  unlink(L, list_of(L, L->sync.nodes.at(ns)), ns);
  L->sync.nodes.release(ns);
}

void weft::sync_withdraw(weft_loop *L, uint32_t task) {
  SyncTables &S = L->sync;
  const WaitNode *n = S.nodes.at(L->tasks.at(task)->w.wait);
  if (n->what == SW_QPUT) {  // the item goes to the drop callback (sync_drop_withdrawn)
    S.withdrawn.obj = n->obj;
    S.withdrawn.gen = S.queues.at(n->obj)->gen;
    S.withdrawn.item = n->item;
  }
  sync_unwait(L, task);
}

void weft::sync_drop_withdrawn(weft_loop *L) {
  SyncTables &S = L->sync;
  const uint32_t qs = S.withdrawn.obj;
  S.withdrawn.obj = kNone;
  if (!S.queues.get(qs, S.withdrawn.gen)) return;  // finish() cannot free it; checked anyway
  Queue *q = S.queues.at(qs);
  if (q->drop) q->drop(L, id_make(Kind::Queue, L->tag, q->gen, qs), S.withdrawn.item, q->ud);
}

void weft::sync_ungrant(weft_loop *L, uint32_t task) {
  SyncTables &S = L->sync;
  auto &u = S.undo;
  if (u.task != task) return;
  u.task = kNone;
  switch (u.what) {
    case SW_SEM:
      if (S.sems.get(u.obj, u.gen)) sem_give(L, u.obj);
      break;
    case SW_LOCK:
      if (S.locks.get(u.obj, u.gen) && S.locks.at(u.obj)->owner == L->task_id(task))
        lock_give(L, u.obj);
      break;
    case SW_QGET: {
      if (!S.queues.get(u.obj, u.gen)) break;
      Queue *q = S.queues.at(u.obj);
      if (q->getters.head != kNone) {
        deliver(L, pop(L, &q->getters), u.obj, u.item);
      } else if (!ring_push_front(q, u.item) && q->drop) {
        q->drop(L, id_make(Kind::Queue, L->tag, q->gen, u.obj), u.item, q->ud);
      }
      break;
    }
    case SW_QPUT:  // not put: to the drop callback once the task finished
      S.withdrawn.obj = u.obj;
      S.withdrawn.gen = u.gen;
      S.withdrawn.item = u.item;
      break;
    default:
      break;
  }
}

void weft::sync_init(weft_loop *L, uint32_t base) {
  L->sync.events.set_gen_floor(base);
  L->sync.sems.set_gen_floor(base);
  L->sync.locks.set_gen_floor(base);
  L->sync.queues.set_gen_floor(base);
}

uint32_t weft::sync_max_issued(const weft_loop *L) {
  const SyncTables &S = L->sync;
  uint32_t m = S.events.max_issued();
  if (S.sems.max_issued() > m) m = S.sems.max_issued();
  if (S.locks.max_issued() > m) m = S.locks.max_issued();
  if (S.queues.max_issued() > m) m = S.queues.max_issued();
  return m;
}

// ------------------------------------------------------ operations (capi/)
//
// The shims in capi/weft.cc have checked the thread and the arguments and
// turned ids into live slots.

// ---------------------------------------------------------------- event

int weft::event_new(weft_loop *L, int64_t *out) {
  uint32_t s;
  Event *e = L->sync.events.alloc(&s);
  if (!e) return WEFT_ENOMEM;
  e->state = 1;
  e->waiters = WaitList{};
  *out = id_make(Kind::Event, L->tag, e->gen, s);
  return 0;
}

void weft::event_set(weft_loop *L, uint32_t s) {
  Event *e = L->sync.events.at(s);
  e->set = 1;
  wake_all(L, &e->waiters, 0);
}

void weft::event_free(weft_loop *L, uint32_t s) {
  wake_all(L, &L->sync.events.at(s)->waiters, WEFT_ECLOSED);
  L->sync.events.release(s);
}

int weft::await_event(weft_loop *L, int64_t self, uint32_t s) {
  Task *t;
  uint32_t ts;
  if (int r = L->await_begin(self, &t, &ts)) return r;
  if (take_intr(t)) return WEFT_PENDING;
  Event *e = L->sync.events.at(s);
  if (e->set) return resolved(t, 0);
  if (!park(L, &e->waiters, SW_EVENT, s, ts, 0)) return WEFT_ENOMEM;
  return WEFT_PENDING;
}

// ------------------------------------------------------------ semaphore

int weft::sem_new(weft_loop *L, int64_t permits, bool bounded, int64_t *out) {
  uint32_t s;
  Semaphore *m = L->sync.sems.alloc(&s);
  if (!m) return WEFT_ENOMEM;
  m->state = 1;
  m->bounded = bounded;
  m->value = permits;
  m->max = bounded ? permits : INT64_MAX;
  m->waiters = WaitList{};
  *out = id_make(Kind::Semaphore, L->tag, m->gen, s);
  return 0;
}

int weft::sem_release(weft_loop *L, uint32_t s) {
  Semaphore *m = L->sync.sems.at(s);
  if (m->waiters.head == kNone && m->value >= m->max) return WEFT_EINVAL;
  sem_give(L, s);
  return 0;
}

int weft::sem_try_acquire(weft_loop *L, uint32_t s) {
  Semaphore *m = L->sync.sems.at(s);
  if (m->value == 0 || m->waiters.head != kNone) return WEFT_EAGAIN;
  m->value--;
  return 0;
}

void weft::sem_free(weft_loop *L, uint32_t s) {
  wake_all(L, &L->sync.sems.at(s)->waiters, WEFT_ECLOSED);
  L->sync.sems.release(s);
}

int weft::await_sem(weft_loop *L, int64_t self, uint32_t s) {
  Task *t;
  uint32_t ts;
  if (int r = L->await_begin(self, &t, &ts)) return r;
  if (take_intr(t)) return WEFT_PENDING;
  Semaphore *m = L->sync.sems.at(s);
  if (m->value > 0 && m->waiters.head == kNone) {
    m->value--;
    note_grant(L, ts, SW_SEM, s, m->gen, 0);
    return resolved(t, 0);
  }
  if (!park(L, &m->waiters, SW_SEM, s, ts, 0)) return WEFT_ENOMEM;
  return WEFT_PENDING;
}

// ----------------------------------------------------------------- lock

int weft::lock_new(weft_loop *L, int64_t *out) {
  uint32_t s;
  TaskLock *k = L->sync.locks.alloc(&s);
  if (!k) return WEFT_ENOMEM;
  k->state = 1;
  k->owner = 0;
  k->waiters = WaitList{};
  *out = id_make(Kind::Lock, L->tag, k->gen, s);
  return 0;
}

int weft::lock_try_acquire(weft_loop *L, uint32_t s, int64_t owner) {
  TaskLock *k = L->sync.locks.at(s);
  if (k->owner == owner) return WEFT_EINVAL;
  if (k->owner != 0 || k->waiters.head != kNone) return WEFT_EAGAIN;
  k->owner = owner;
  return 0;
}

int weft::lock_release(weft_loop *L, uint32_t s, int64_t owner) {
  TaskLock *k = L->sync.locks.at(s);
  if (k->owner == 0 || k->owner != owner) return WEFT_EINVAL;
  lock_give(L, s);
  return 0;
}

void weft::lock_free(weft_loop *L, uint32_t s) {
  wake_all(L, &L->sync.locks.at(s)->waiters, WEFT_ECLOSED);
  L->sync.locks.release(s);
}

int weft::await_lock(weft_loop *L, int64_t self, uint32_t s) {
  Task *t;
  uint32_t ts;
  if (int r = L->await_begin(self, &t, &ts)) return r;
  TaskLock *k = L->sync.locks.at(s);
  if (k->owner == self) return WEFT_EINVAL;
  if (take_intr(t)) return WEFT_PENDING;
  if (k->owner == 0 && k->waiters.head == kNone) {
    k->owner = self;
    note_grant(L, ts, SW_LOCK, s, k->gen, 0);
    return resolved(t, 0);
  }
  if (!park(L, &k->waiters, SW_LOCK, s, ts, 0)) return WEFT_ENOMEM;
  return WEFT_PENDING;
}

// ---------------------------------------------------------------- queue

int weft::queue_new(weft_loop *L, int64_t capacity, weft_queue_drop_cb drop, void *ud,
                    int64_t *out) {
  // A bounded queue of modest capacity gets all its storage now, so that
  // puts and gets never allocate.
  int64_t *ring = nullptr;
  size_t rcap = 0;
  if (capacity > 0 && capacity <= 4096) {
    rcap = 1;
    while (int64_t(rcap) < capacity) rcap *= 2;
    ring = static_cast<int64_t *>(mem_alloc(rcap * sizeof(int64_t)));
    if (!ring) return WEFT_ENOMEM;
  }
  uint32_t s;
  Queue *q = L->sync.queues.alloc(&s);
  if (!q) {
    mem_free(ring);
    return WEFT_ENOMEM;
  }
  q->state = 1;
  q->cap = capacity;
  q->ring = ring;
  q->rcap = rcap;
  q->getters = WaitList{};
  q->putters = WaitList{};
  q->drop = drop;
  q->ud = ud;
  *out = id_make(Kind::Queue, L->tag, q->gen, s);
  return 0;
}

int weft::queue_try_put(weft_loop *L, uint32_t s, int64_t item) {
  if (L->sync.queues.at(s)->closed) return WEFT_ECLOSED;
  return q_put(L, s, item);
}

int weft::queue_try_get(weft_loop *L, uint32_t s, int64_t *item) {
  Queue *q = L->sync.queues.at(s);
  if (q->count == 0) return q->closed ? WEFT_ECLOSED : WEFT_EAGAIN;
  *item = q_take(L, s);
  return 0;
}

void weft::queue_close(weft_loop *L, uint32_t s, bool immediate) {
  Queue *q = L->sync.queues.at(s);
  const int64_t id = id_make(Kind::Queue, L->tag, q->gen, s);
  q->closed = 1;
  wake_all(L, &q->putters, WEFT_ECLOSED);
  int64_t *ring = nullptr;
  size_t rcap = 0, head = 0, count = 0;
  if (immediate && q->count > 0) {
    // Detach the items before any callback runs (it may call anything, on
    // this queue too); the queue starts again with empty storage.
    ring = q->ring;
    rcap = q->rcap;
    head = q->head;
    count = q->count;
    q->ring = nullptr;
    q->rcap = 0;
    q->head = 0;
    q->count = 0;
  }
  if (q->count == 0) wake_all(L, &q->getters, WEFT_ECLOSED);
  if (ring) drop_items(L, q->drop, q->ud, id, ring, rcap, head, count);
}

void weft::queue_free(weft_loop *L, uint32_t s) {
  Queue *q = L->sync.queues.at(s);
  const int64_t id = id_make(Kind::Queue, L->tag, q->gen, s);
  wake_all(L, &q->getters, WEFT_ECLOSED);
  wake_all(L, &q->putters, WEFT_ECLOSED);
  weft_queue_drop_cb cb = q->drop;
  void *ud = q->ud;
  int64_t *ring = q->ring;
  const size_t rcap = q->rcap, head = q->head, count = q->count;
  L->sync.queues.release(s);  // the id is stale while the callbacks run
  drop_items(L, cb, ud, id, ring, rcap, head, count);
  release_queue_ud(L, ud);
}

int weft::await_queue_put(weft_loop *L, int64_t self, uint32_t s, int64_t item) {
  Task *t;
  uint32_t ts;
  if (int r = L->await_begin(self, &t, &ts)) return r;
  Queue *q = L->sync.queues.at(s);
  // Resolved at once without putting: should this step return without
  // waiting, disarm() hands the item to the drop callback (sync_ungrant).
  if (take_intr(t)) {
    note_grant(L, ts, SW_QPUT, s, q->gen, item);
    return WEFT_PENDING;
  }
  if (q->closed) {
    note_grant(L, ts, SW_QPUT, s, q->gen, item);
    return resolved(t, WEFT_ECLOSED);
  }
  if (q->putters.head == kNone) {
    int r = q_put(L, s, item);
    if (r == 0) return resolved(t, 0);
    if (r != WEFT_EAGAIN) return r;
  }
  if (!park(L, &q->putters, SW_QPUT, s, ts, item)) return WEFT_ENOMEM;
  return WEFT_PENDING;
}

int weft::await_queue_get(weft_loop *L, int64_t self, uint32_t s) {
  Task *t;
  uint32_t ts;
  if (int r = L->await_begin(self, &t, &ts)) return r;
  if (take_intr(t)) return WEFT_PENDING;
  Queue *q = L->sync.queues.at(s);
  if (q->count > 0) {
    const int64_t v = q_take(L, s);
    t->w.item = v;
    t->flags |= TF_ITEM;
    note_grant(L, ts, SW_QGET, s, q->gen, v);
    return resolved(t, 0);
  }
  if (q->closed) return resolved(t, WEFT_ECLOSED);
  if (!park(L, &q->getters, SW_QGET, s, ts, 0)) return WEFT_ENOMEM;
  return WEFT_PENDING;
}

int weft::task_item(weft_loop *L, int64_t self, int64_t *item) {
  if (self != L->cur_id || L->cur_id == 0) {
    uint32_t gen, s;
    if (!id_split(self, Kind::Task, L->tag, &gen, &s) || !L->tasks.get(s, gen))
      return WEFT_ESTALE;
    return WEFT_EINVAL;
  }
  if (!L->sync.has_item) return WEFT_EINVAL;
  *item = L->sync.item;
  return 0;
}

// ----------------------------------------------------------- wait-first

int weft::await_first(weft_loop *L, int64_t self, const int64_t *ids, size_t n) {
  Task *t;
  uint32_t ts;
  if (int r = L->await_begin(self, &t, &ts)) return r;
  if (n >= kMaxSlots) return WEFT_ENOMEM;
  size_t done = n;  // lowest index of a finished task
  for (size_t i = 0; i < n; i++) {
    uint32_t gen, s;
    if (!id_split(ids[i], Kind::Task, L->tag, &gen, &s) || !L->tasks.get(s, gen))
      return WEFT_ESTALE;
    if (s == ts) return WEFT_EINVAL;
    if (done == n && L->tasks.at(s)->state == TS_DONE) done = i;
  }
  if (take_intr(t)) return WEFT_PENDING;
  if (done < n) return resolved(t, int(done));
  // Take every node first, so that ENOMEM leaves nothing behind.
  uint32_t chain = kNone;
  for (size_t i = 0; i < n; i++) {
    uint32_t js;
    JoinNode *j = L->joins.alloc(&js);
    if (!j) {
      while (chain != kNone) {
        uint32_t next = L->joins.at(chain)->sibling;
        L->joins.release(chain);
        chain = next;
      }
      return WEFT_ENOMEM;
    }
    j->sibling = chain;
    chain = js;
  }
  t->w.join.nodes = chain;
  t->w.join.remaining = uint32_t(n);
  t->w.join.first_err = 0;
  uint32_t node = chain;
  for (size_t i = 0; i < n; i++) {
    const uint32_t s = uint32_t(ids[i]) & kSlotMask;
    Task *c = L->tasks.at(s);
    JoinNode *j = L->joins.at(node);
    j->state = 1;
    j->waiter = ts;
    j->child = s;
    j->index = uint32_t(i);
    j->prev = kNone;
    j->next = c->joiners;
    if (c->joiners != kNone) L->joins.at(c->joiners)->prev = node;
    c->joiners = node;
    node = j->sibling;
  }
  t->await = AW_FIRST;
  t->flags |= TF_ARMED;
  return WEFT_PENDING;
}

// AW_FIRST: child `child` finished; the lowest index it has in the await.
uint32_t weft::first_index(weft_loop *L, uint32_t waiter, uint32_t child) {
  uint32_t best = 0xffffffffu;
  for (uint32_t n = L->tasks.at(waiter)->w.join.nodes; n != kNone; n = L->joins.at(n)->sibling) {
    const JoinNode *j = L->joins.at(n);
    if (j->child == child && j->index < best) best = j->index;
  }
  return best;
}

// weft_loop_free, after the last task: free what is left, dropping items.
void weft::sync_close_all(weft_loop *L) {
  SyncTables &S = L->sync;
  for (uint32_t s = 0, n = S.queues.size(); s < n; s++) {
    Queue *q = S.queues.at(s);
    if (q->state != 0) queue_free(L, s);
  }
  for (uint32_t s = 0, n = S.events.size(); s < n; s++)
    if (S.events.at(s)->state) S.events.release(s);
  for (uint32_t s = 0, n = S.sems.size(); s < n; s++)
    if (S.sems.at(s)->state) S.sems.release(s);
  for (uint32_t s = 0, n = S.locks.size(); s < n; s++)
    if (S.locks.at(s)->state) S.locks.release(s);
}
