// work.cc -- the per-loop thread pool behind weft_to_thread and
// weft_await_thread.
//
// The queue is a mutex-guarded FIFO; finished work goes onto a lock-free
// stack that the loop drains whole. A hand-off in either direction normally
// costs a sleeping thread's wakeup (a futex for a worker, the eventfd for
// the loop), 10-40 us on this kind of machine. So the side that would go to
// sleep first spins for a short while (kSpinNs): one worker at a time waits
// for new work, and the loop, before blocking in the poll while pool work is
// outstanding and typically short, waits for its completion. A chain of
// short jobs then runs without a syscall per job.
#include <cxxabi.h>

#include "loop.h"
#include "wake.h"

using namespace weft;

namespace {
struct Lock {
  explicit Lock(pthread_mutex_t &m) : m_(m) { pthread_mutex_lock(&m_); }
  ~Lock() { pthread_mutex_unlock(&m_); }
  pthread_mutex_t &m_;
};

WEFT_INLINE void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until cond() holds or kSpinNs passed; returns cond().
template <class Cond>
bool spin_until(Cond cond, int64_t limit_ns) {
  const int64_t deadline = clock_now() + limit_ns;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (cond()) return true;
      cpu_relax();
    }
    if (clock_now() >= deadline) return cond();
  }
}

void push_done(ThreadPool &p, Work *w) {
  Work *top = p.done.load(std::memory_order_relaxed);
  do {
    w->qnext = top;
  } while (!p.done.compare_exchange_weak(top, w, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
}

void *worker(void *arg) {
  weft_loop *loop = static_cast<weft_loop *>(arg);
  ThreadPool &p = loop->pool;
  pthread_mutex_lock(&p.mu);
  for (;;) {
    Work *w = p.head;
    if (!w) {
      if (p.shutdown) break;
      if (!p.spinner && p.worker_gate.open()) {  // wait awake for the next job
        p.spinner = true;
        pthread_mutex_unlock(&p.mu);
        const bool found = spin_until(
            [&] {
              return p.queued.load(std::memory_order_acquire) > 0 ||
                     p.stopping.load(std::memory_order_relaxed);
            },
            kSpinNs);
        pthread_mutex_lock(&p.mu);
        p.spinner = false;
        p.worker_gate.result(found);
        continue;
      }
      p.sleepers++;
      pthread_cond_wait(&p.cv, &p.mu);
      p.sleepers--;
      continue;
    }
    p.head = w->qnext;
    if (p.head)
      p.head->qprev = nullptr;
    else
      p.tail = nullptr;
    p.nqueued--;
    // More work and nobody awake to take it: wake the next worker now (the
    // chain wake of Go's scheduler), so the loop thread never pays for it.
    if (p.head && !p.spinner && p.sleepers > 0) pthread_cond_signal(&p.cv);
    w->phase = WP_RUNNING;
    p.queued.fetch_sub(1, std::memory_order_relaxed);
    p.running.fetch_add(1, std::memory_order_relaxed);
    weft_work_fn fn = w->fn;
    void *warg = w->arg;
    pthread_mutex_unlock(&p.mu);

    const int64_t t0 = clock_now();
    int r;
    try {
      r = fn(warg);
    } catch (abi::__forced_unwind &) {
      throw;  // pthread_exit / cancellation: must unwind the thread
    } catch (...) {
      r = WEFT_EHOST;  // a C++ exception: delivered, never lets it abort
    }
    if (r == WEFT_PENDING) r = WEFT_EINVAL;  // no await resolves with it
    const int64_t dt = clock_now() - t0;

    const int64_t avg = p.avg_ns.load(std::memory_order_relaxed);
    p.avg_ns.store(avg + (dt - avg) / 8, std::memory_order_relaxed);
    p.work_ns.fetch_add(dt, std::memory_order_relaxed);
    p.running.fetch_sub(1, std::memory_order_relaxed);
    w->result = r;
    push_done(p, w);  // w belongs to the loop from here on
    loop->wake();     // no syscall while the loop spins (wake_pending set)
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
    p.stopping.store(true, std::memory_order_relaxed);
    while (Work *w = p.head) {
      p.head = w->qnext;
      w->phase = 0;
      w->result = WEFT_ECANCELED;
      push_done(p, w);
      p.queued.fetch_sub(1, std::memory_order_relaxed);
    }
    p.tail = nullptr;
    p.nqueued = 0;
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
  w->ud = task == kNone ? ud : arg;  // what the release hook gets
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
    pool.nqueued++;
    pool.queued.fetch_add(1, std::memory_order_release);
    // A spinning worker takes the job without a wakeup, and wakes another
    // worker itself if more are queued.
    if (pool.sleepers > 0 && !pool.spinner) pthread_cond_signal(&pool.cv);
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
  pool.nqueued--;
  pool.queued.fetch_sub(1, std::memory_order_relaxed);
  w->phase = 0;
  return true;
}

void weft_loop::work_free(Work *w) {
  void *ud = w->ud;
  works.release(w->slot);
  release_ud(WEFT_KIND_WORK, ud);
}

// weft_work_cancel on weft_to_thread work: before it started only.
int weft_loop::work_cancel(uint32_t slot) {
  Work *w = works.at(slot);
  if (!work_unqueue(w)) return WEFT_EBUSY;
  w->result = WEFT_ECANCELED;
  push_done(pool, w);
  wake();  // delivered in phase (6), like any completion
  return 0;
}

// Phase (6): completions, oldest first.
void weft_loop::deliver_completions() {
  Work *list = pool.done.exchange(nullptr, std::memory_order_acquire);
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
    wake_waiter(WK_WORK | w->slot, w->result);  // its task's await or its done callback
    work_free(w);
  }
}

// Before the poll would block: if pool work is outstanding and typically
// short, wait for a completion awake instead of through the eventfd. While
// spinning, wake_pending stays set, so workers, posters and weft_loop_stop
// skip the eventfd write; after clearing it, anything they queued meanwhile
// is seen by the re-check (each side stores, then loads, all seq_cst).
// Returns true if something arrived: the caller polls without blocking.
bool weft_loop::spin_for_completions(int64_t timeout) {
  ThreadPool &p = pool;
  if (!p.started || p.avg_ns.load(std::memory_order_relaxed) >= kSpinNs ||
      p.running.load(std::memory_order_relaxed) + p.queued.load(std::memory_order_relaxed) == 0)
    return false;
  if (!p.loop_gate.open()) return false;
  // A wakeup already on its way will end the poll: nothing to gain.
  if (wake_pending.exchange(true, std::memory_order_seq_cst)) return false;
  const int64_t limit = timeout > 0 && timeout < kSpinNs ? timeout : kSpinNs;
  p.loop_gate.result(
      spin_until([&] { return p.done.load(std::memory_order_acquire) != nullptr; }, limit));
  wake_pending.store(false, std::memory_order_seq_cst);
  if (p.done.load(std::memory_order_seq_cst) != nullptr) {
    deliver_completions();
    return true;
  }
  return posts.pending.load(std::memory_order_seq_cst) > 0 ||
         stop_flag.load(std::memory_order_seq_cst);
}
