// work.cc -- the per-loop thread pool behind weft_to_thread and
// weft_await_thread. Queue and completion list share one mutex; a finished
// item wakes the loop through the eventfd, and the loop delivers it in
// phase (6).
#include "loop.h"

using namespace weft;

namespace {
struct Lock {
  explicit Lock(pthread_mutex_t &m) : m_(m) { pthread_mutex_lock(&m_); }
  ~Lock() { pthread_mutex_unlock(&m_); }
  pthread_mutex_t &m_;
};

void *worker(void *arg) {
  weft_loop *loop = static_cast<weft_loop *>(arg);
  ThreadPool &p = loop->pool;
  pthread_mutex_lock(&p.mu);
  for (;;) {
    while (!p.head && !p.shutdown) pthread_cond_wait(&p.cv, &p.mu);
    Work *w = p.head;
    if (!w) break;  // shut down and drained
    p.head = w->qnext;
    if (p.head)
      p.head->qprev = nullptr;
    else
      p.tail = nullptr;
    w->phase = WP_RUNNING;
    p.queued.fetch_sub(1, std::memory_order_relaxed);
    p.running.fetch_add(1, std::memory_order_relaxed);
    weft_work_fn fn = w->fn;
    void *warg = w->arg;
    pthread_mutex_unlock(&p.mu);

    const int64_t t0 = clock_now();
    int r = fn(warg);
    if (r == WEFT_PENDING) r = WEFT_EINVAL;  // no await resolves with it
    const int64_t dt = clock_now() - t0;

    pthread_mutex_lock(&p.mu);
    w->result = r;
    w->phase = WP_DONE;
    w->qnext = p.done;
    p.done = w;
    p.running.fetch_sub(1, std::memory_order_relaxed);
    p.work_ns.fetch_add(dt, std::memory_order_relaxed);
    pthread_mutex_unlock(&p.mu);
    loop->wake();
    pthread_mutex_lock(&p.mu);
  }
  pthread_mutex_unlock(&p.mu);
  return nullptr;
}
}  // namespace

int weft_loop::pool_start() {
  ThreadPool &p = pool;
  p.threads = static_cast<pthread_t *>(mem_alloc(size_t(p.size) * sizeof(pthread_t)));
  if (!p.threads) return WEFT_ENOMEM;
  int err = 0;
  for (int i = 0; i < p.size; i++) {
    err = sys_thread_create(&p.threads[p.nthreads], worker, this);
    if (err) break;
    p.nthreads++;
  }
  if (p.nthreads == 0) {
    mem_free(p.threads);
    p.threads = nullptr;
    return err == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
  }
  if (p.nthreads < p.size)
    log(WEFT_LOG_WARN, "thread pool started %d of %d threads (error %d)", p.nthreads, p.size,
        err);
  p.started = true;
  return 0;
}

// weft_loop_free: queued work is cancelled, running work is waited for.
void weft_loop::pool_shutdown() {
  ThreadPool &p = pool;
  if (!p.started) return;
  {
    Lock l(p.mu);
    p.shutdown = true;
    while (Work *w = p.head) {
      p.head = w->qnext;
      w->phase = WP_DONE;
      w->result = WEFT_ECANCELED;
      w->qnext = p.done;
      p.done = w;
      p.queued.fetch_sub(1, std::memory_order_relaxed);
    }
    p.tail = nullptr;
    pthread_cond_broadcast(&p.cv);
  }
  for (int i = 0; i < p.nthreads; i++) pthread_join(p.threads[i], nullptr);
  p.nthreads = 0;
}

int weft_loop::work_submit(weft_work_fn fn, void *arg, weft_done_cb done, void *ud,
                           uint32_t task, Work **out) {
  if (closing) return WEFT_ECANCELED;
  if (!pool.started)
    if (int e = pool_start()) return e;
  uint32_t slot;
  Work *w = works.alloc(&slot);
  if (!w) return WEFT_ENOMEM;
  w->state = 1;
  w->slot = slot;
  w->fn = fn;
  w->arg = arg;
  w->done = done;
  w->ud = ud;
  w->task = task;
  w->intr = 0;
  {
    Lock l(pool.mu);
    w->phase = WP_QUEUED;
    w->qnext = nullptr;
    w->qprev = pool.tail;
    if (pool.tail)
      pool.tail->qnext = w;
    else
      pool.head = w;
    pool.tail = w;
    pool.queued.fetch_add(1, std::memory_order_relaxed);
    pthread_cond_signal(&pool.cv);
  }
  work_outstanding++;
  *out = w;
  return 0;
}

bool weft_loop::work_unqueue(Work *w) {
  Lock l(pool.mu);
  if (w->phase != WP_QUEUED) return false;
  if (w->qprev)
    w->qprev->qnext = w->qnext;
  else
    pool.head = w->qnext;
  if (w->qnext)
    w->qnext->qprev = w->qprev;
  else
    pool.tail = w->qprev;
  pool.queued.fetch_sub(1, std::memory_order_relaxed);
  w->phase = 0;
  return true;
}

void weft_loop::work_free(Work *w) { works.release(w->slot); }

// weft_work_cancel on weft_to_thread work: before it started only.
int weft_loop::work_cancel(uint32_t slot) {
  Work *w = works.at(slot);
  if (!work_unqueue(w)) return WEFT_EBUSY;
  {
    Lock l(pool.mu);
    w->phase = WP_DONE;
    w->result = WEFT_ECANCELED;
    w->qnext = pool.done;
    pool.done = w;
  }
  wake();  // delivered in phase (6), like any completion
  return 0;
}

// Phase (6): completions, oldest first.
void weft_loop::deliver_completions() {
  Work *list;
  {
    Lock l(pool.mu);
    list = pool.done;
    pool.done = nullptr;
  }
  Work *fifo = nullptr;
  while (list) {
    Work *next = list->qnext;
    list->qnext = fifo;
    fifo = list;
    list = next;
  }
  while (fifo) {
    Work *w = fifo;
    fifo = w->qnext;
    work_outstanding--;
    if (w->task != kNone) {
      Task *t = tasks.at(w->task);
      if (t->state == TS_WAITING && t->await == AW_THREAD && t->w.work == w)
        resolve(w->task, w->intr ? w->intr : w->result);
    } else if (w->done) {
      const int64_t t0 = slow_ns ? clock_now() : 0;
      try {
        w->done(this, id_make(Kind::Work, tag, w->gen, w->slot), w->result, w->ud);
      } catch (...) {
        log(WEFT_LOG_ERROR, "C++ exception escaped a done callback");
      }
      if (slow_ns) slow_check(t0, "done callback");
    }
    work_free(w);
  }
}
