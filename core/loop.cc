// loop.cc -- the loop's life: creation, one iteration, run, free, stats, logs.
#include "loop.h"

#include <cerrno>
#include <cstdio>

#include <unistd.h>

using namespace weft;

weft_loop::weft_loop() = default;

weft_loop::~weft_loop() {
  poller_close();
  mem_free(posts.items);
  mem_free(posts.spare);
  mem_free(pool.threads);
  // In a fork() child these may be held by threads that are not there.
  if (!forked()) {
    pthread_mutex_destroy(&posts.mu);
    pthread_mutex_destroy(&pool.mu);
    pthread_cond_destroy(&pool.cv);
  }
  if (tag_held) tag_release(tag, ids_max_issued());
}

int weft_loop::init(int backend) {
  fork_gen = fork_gen_now();
  uint32_t floor;
  if (int e = tag_acquire(&tag, &floor)) return e;
  tag_held = true;
  ids_set_floor(floor);
  heap_init();
  now.store(clock_now(), std::memory_order_relaxed);
  return poller_init(backend);
}

// A pool added to the loop that hands out ids (or whose slots' generations
// appear in ids) is listed in both of these.
void weft_loop::ids_set_floor(uint32_t floor) {
  tasks.set_gen_floor(floor);
  timers.set_gen_floor(floor);
  watches.set_gen_floor(floor);
  works.set_gen_floor(floor);
  sync_init(this, floor);  // sync.cc's primitives
}

uint32_t weft_loop::ids_max_issued() const {
  uint32_t m = tasks.max_issued();
  if (timers.max_issued() > m) m = timers.max_issued();
  if (watches.max_issued() > m) m = watches.max_issued();
  if (works.max_issued() > m) m = works.max_issued();
  if (sync_max_issued(this) > m) m = sync_max_issued(this);  // sync.cc's primitives
  return m;
}

bool weft_loop::alive() const {
  return st_tasks_alive.load(std::memory_order_relaxed) > 0 ||
         st_timers.load(std::memory_order_relaxed) > 0 || watches.live() > 0 ||
         work_outstanding > 0 || posts.pending.load(std::memory_order_acquire) > 0;
}

// Any thread, after queueing what the loop must see. The load is seq_cst:
// see spin_for_completions for the other half of that handshake.
void weft_loop::wake() {
  if (wake_pending.load(std::memory_order_seq_cst)) return;
  if (wake_pending.exchange(true, std::memory_order_acq_rel)) return;
  // This caller owes the loop its wakeup. A failed write may be the only
  // one coming (a pool completion while the loop sleeps), so try again.
  for (int attempt = 0; attempt < 3; attempt++)
    if (sys_eventfd_write(poller.be.wakefd) == 0) return;
  // Still failing: let the next waker try rather than leave the flag saying
  // a wakeup is on its way.
  wake_pending.store(false, std::memory_order_seq_cst);
}

void weft_loop::log(int level, const char *fmt, ...) {
  if (!log_cb) return;
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  // A logger is user code like any callback: what it throws stops here, so
  // that no caller of log() (a step's bookkeeping, free) is cut short.
  try {
    log_cb(log_ud, level, buf);
  } catch (...) {
  }
}

void weft_loop::slow_check(int64_t t0, const char *what) {
  int64_t dt = clock_now() - t0;
  if (dt <= slow_ns) return;
  bump(st_slow, 1);
  log(WEFT_LOG_WARN, "slow %s: %.3f ms (limit %.3f ms)", what, double(dt) / 1e6,
      double(slow_ns) / 1e6);
}

int64_t weft_loop::next_timeout() {
  if (ready_head != kNone || posts.pending.load(std::memory_order_acquire) > 0) return 0;
  heap_clean_top();
  if (heap.empty()) return -1;
  int64_t d = heap.top().deadline - clock_now();
  return d > 0 ? d : 0;
}

// One iteration: the six phases of weft.h's weft_loop_run. Returns the
// timeout the poll was given.
int64_t weft_loop::iterate(int mode) {
  const int64_t t_now = clock_now();
  now.store(t_now, std::memory_order_relaxed);
  // The top entry is the earliest deadline (stale or not): if it is not due,
  // nothing is, and the timer phase has nothing to do.
  if (!heap.empty() && heap.top().deadline <= t_now) run_timers();
  if (posts.pending.load(std::memory_order_acquire) > 0) run_posts();
  if (ready_head != kNone) run_ready();
  // A step or callback forked and this is the child: its copy of the epoll
  // set is the parent's; never poll it (run() returns WEFT_EPERM).
  if (forked()) return 0;

  int64_t timeout;
  if (mode == WEFT_RUN_NOWAIT || ready_head != kNone ||
      posts.pending.load(std::memory_order_acquire) > 0 ||
      stop_flag.load(std::memory_order_relaxed) || !alive()) {
    timeout = 0;
  } else {
    timeout = next_timeout();
    if (timeout != 0 && spin_for_completions(timeout)) timeout = 0;
  }
  poll(timeout);
  bump(st_iterations, 1);
  return timeout;
}

int weft_loop::run(int mode) {
  owner.store(thread_token(), std::memory_order_relaxed);
  int rc;
  if (!alive()) {
    // Returning at once answers a stop request made while nothing ran.
    stop_flag.store(false, std::memory_order_relaxed);
    rc = 0;
  } else {
    for (;;) {
      const int64_t timeout = iterate(mode);
      if (forked()) {
        owner.store(0, std::memory_order_relaxed);
        return WEFT_EPERM;
      }
      if (mode == WEFT_RUN_ONCE && timeout > 0 && !heap.empty()) {
        // ONCE blocked for a timer: run what is due now rather than return
        // having made no progress (libuv's UV_RUN_ONCE does the same).
        now.store(clock_now(), std::memory_order_relaxed);
        run_timers();
      }
      if (stop_flag.load(std::memory_order_relaxed) &&
          stop_flag.exchange(false, std::memory_order_acq_rel))
        break;
      if (mode != WEFT_RUN_DEFAULT || !alive()) break;
    }
    rc = alive() ? 1 : 0;
  }
  owner.store(0, std::memory_order_relaxed);
  return rc;
}

// weft_loop_free: see weft.h for the order of events.
void weft_loop::close() {
  closing = true;
  // Tasks first: one awaiting pool work must be resumed with WEFT_ECANCELED,
  // which interrupt() arranges only while the work is still outstanding.
  cancel_all_tasks();
  pool_shutdown();  // queued work -> ECANCELED, running work joined
  for (;;) {
    deliver_completions();
    cancel_all_tasks();
    while (ready_head != kNone) run_ready();
    if (posts.pending.load(std::memory_order_acquire) > 0) {
      run_posts();
      continue;
    }
    if (st_tasks_alive.load(std::memory_order_relaxed) == 0 &&
        posts.pending.load(std::memory_order_acquire) == 0 &&
        pool.done.load(std::memory_order_acquire) == nullptr)
      break;
    if (ready_head == kNone && pool.done.load(std::memory_order_acquire) == nullptr)
      break_group_cycles();
  }
  sync_close_all(this);  // queues' items to their drop callbacks
  drop_watches();
  release_all();
}

// weft_loop_free made no progress: every task still alive is a
// CANCEL_ON_ERROR group waiting for children that are themselves such
// groups, awaiting each other in a cycle (a user's deadlock that
// cancellation cannot break, since each group waits for the other to
// finish). Resolve those groups now so that free terminates.
void weft_loop::break_group_cycles() {
  for (uint32_t s = 0, n = tasks.size(); s < n; s++) {
    Task *t = tasks.at(s);
    if (t->state != TS_WAITING || t->await != AW_ALL) continue;
    const int code = t->w.join.first_err ? t->w.join.first_err : WEFT_ECANCELED;
    join_unlink_all(s);
    join_free_chain(s);
    resolve(s, code);
  }
}

int weft_loop::stats(weft_loop_stats_t *out) const {
  weft_loop_stats_t s;
  s.size = sizeof s;
  s.iterations = st_iterations.load(std::memory_order_relaxed);
  s.tasks_alive = st_tasks_alive.load(std::memory_order_relaxed);
  s.tasks_ready = st_tasks_ready.load(std::memory_order_relaxed);
  s.timers_active = st_timers.load(std::memory_order_relaxed);
  s.fd_watches_active = st_watches.load(std::memory_order_relaxed);
  s.work_queued = pool.queued.load(std::memory_order_relaxed);
  s.work_running = pool.running.load(std::memory_order_relaxed);
  s.work_ns = pool.work_ns.load(std::memory_order_relaxed);
  s.slow_callbacks = st_slow.load(std::memory_order_relaxed);
  s.posts = st_posts.load(std::memory_order_relaxed);
  // Whole fields only: a caller's struct may end anywhere.
  size_t n = out->size < sizeof s ? out->size : sizeof s;
  n = sizeof(size_t) + (n - sizeof(size_t)) / sizeof(int64_t) * sizeof(int64_t);
  // Copy the fields after `size`, then report how much was filled.
  std::memcpy(reinterpret_cast<char *>(out) + sizeof(size_t),
              reinterpret_cast<const char *>(&s) + sizeof(size_t), n - sizeof(size_t));
  out->size = n;
  return 0;
}
