/*
 * wl_weft.c -- the workloads on weft, through the public C API only.
 * wl_uv.c has the same workloads on libuv, function for function.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

#include "bench.h"

#define MS 1000000LL
#define SEC 1000000000LL

static int64_t weft_iterations(weft_loop_t *loop) {
  weft_loop_stats_t st;
  st.size = sizeof st;
  WB_CHECK(weft_loop_stats(loop, &st) == 0);
  return st.iterations;
}

/* ------------------------------------------------------------------ timers
 * N one-shot timers, the timeout rising 1 ms every 1,000 timers (libuv's
 * million_timers); start, dispatch and cleanup timed in CPU. */

static int64_t g_fired;

static void timers_cb(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer, (void)ud;
  g_fired++;
}

int wb_weft_timers(const wb_params *p) {
  const int64_t n = p->n;
  weft_loop_t *loop;
  WB_CHECK(weft_loop_new(&loop) == 0);

  const int64_t c0 = wb_cpu_ns(), w0 = wb_wall_ns(), s0 = wb_sys_ns();
  WB_PHASE_BEGIN();
  int64_t timeout = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i % 1000 == 0) timeout++;
    WB_CHECK(weft_timer_start(loop, timeout * MS, 0, timers_cb, NULL, NULL) == 0);
  }
  WB_PHASE_END("start");
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns(), s1 = wb_sys_ns();
  WB_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  WB_PHASE_END("dispatch");
  const int64_t c2 = wb_cpu_ns(), w2 = wb_wall_ns(), s2 = wb_sys_ns();
  const int64_t iters = weft_iterations(loop);
  WB_CHECK(weft_loop_free(loop) == 0);
  WB_PHASE_END("cleanup");
  const int64_t c3 = wb_cpu_ns(), w3 = wb_wall_ns(), s3 = wb_sys_ns();
  WB_CHECK(g_fired == n);

  wb_out_begin(p);
  wb_out_num("start_cpu_ns", (double)(c1 - c0) / n);
  wb_out_num("dispatch_cpu_ns", (double)(c2 - c1) / n);
  wb_out_num("cleanup_cpu_ns", (double)(c3 - c2) / n);
  wb_out_num("start_sys_ns", (double)(s1 - s0) / n);
  wb_out_num("dispatch_sys_ns", (double)(s2 - s1) / n);
  wb_out_num("cleanup_sys_ns", (double)(s3 - s2) / n);
  wb_out_num("start_wall_ns", (double)(w1 - w0) / n);
  wb_out_num("dispatch_wall_s", (double)(w2 - w1) / 1e9);
  wb_out_num("cleanup_wall_ns", (double)(w3 - w2) / n);
  wb_out_num("iterations", (double)iters);
  wb_out_num("maxrss_bytes", (double)wb_maxrss_bytes());
  wb_out_end();
  return 0;
}

/* -------------------------------------------------------------- loop_count
 * Iterations per second of a loop kept busy by one always-ready handle:
 * variant "yield", a task that yields (asyncio.sleep(0)); variant "timer0",
 * a one-shot timer of timeout 0 that re-arms itself from its callback
 * (it fires once per iteration). Variants "yield_fd" and "timer0_fd" add
 * one fd watch that never fires, so that every iteration calls epoll_wait
 * (weft skips the poll when no fd is watched; libuv polls anyway).
 * Timed: a timer ends it after the duration.
 * With --count, it ends itself after that many ticks (for callgrind). */

struct lc {
  int64_t ticks, count;
  int stop;
};

static int lc_done(struct lc *s) { return s->stop || (s->count && s->ticks >= s->count); }

/* Stops the idle fd watch, if any, when the ticking ends (so the run ends). */
static weft_fd_watch_t g_lc_watch;
static void lc_end(weft_loop_t *loop) {
  if (g_lc_watch) WB_CHECK(weft_fd_watch_stop(loop, g_lc_watch) == 0);
  g_lc_watch = 0;
}

static int lc_task(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  (void)status;
  struct lc *s = ud;
  s->ticks++;
  if (lc_done(s)) {
    lc_end(loop);
    return 0;
  }
  return weft_await_yield(loop, self);
}

static void lc_timer0(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)timer;
  struct lc *s = ud;
  s->ticks++;
  if (lc_done(s)) {
    lc_end(loop);
    return;
  }
  WB_CHECK(weft_timer_start(loop, 0, 0, lc_timer0, s, NULL) == 0);
}

static void lc_stop(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer;
  ((struct lc *)ud)->stop = 1;
}

static void lc_never(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)loop, (void)w, (void)events, (void)ud;
  WB_CHECK(!"idle fd became ready");
}

int wb_weft_loop_count(const wb_params *p) {
  struct lc s = {0, p->count, 0};
  weft_loop_t *loop;
  WB_CHECK(weft_loop_new(&loop) == 0);
  /* "_fd" variants: one idle fd watch too, so every iteration polls. */
  int fds[2] = {-1, -1};
  weft_fd_watch_t idle_watch = 0;
  if (strstr(p->variant, "_fd")) {
    wb_socketpair(fds);
    WB_CHECK(weft_fd_watch_start(loop, fds[0], WEFT_READABLE, lc_never, NULL, &idle_watch) == 0);
    g_lc_watch = idle_watch;
  }
  if (!strncmp(p->variant, "timer0", 6))
    WB_CHECK(weft_timer_start(loop, 0, 0, lc_timer0, &s, NULL) == 0);
  else
    WB_CHECK(weft_task_spawn(loop, lc_task, &s, NULL) == 0);
  if (!p->count)
    WB_CHECK(weft_timer_start(loop, (int64_t)(p->duration * SEC), 0, lc_stop, &s, NULL) == 0);

  const int64_t c0 = wb_cpu_ns(), w0 = wb_wall_ns();
  WB_PHASE_BEGIN();
  WB_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  WB_PHASE_END("run");
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns();
  const int64_t iters = weft_iterations(loop);
  WB_CHECK(weft_loop_free(loop) == 0);
  if (fds[0] >= 0) {
    close(fds[0]);
    close(fds[1]);
  }

  wb_out_begin(p);
  wb_out_num("ticks", (double)s.ticks);
  wb_out_num("ticks_per_cpu_s", s.ticks / ((c1 - c0) / 1e9));
  wb_out_num("ticks_per_s", s.ticks / ((w1 - w0) / 1e9));
  wb_out_num("iterations", (double)iters);
  wb_out_end();
  return 0;
}

/* ---------------------------------------------------------------- pingpong
 * A socketpair; the pinger writes "PING\n" and waits for it to come back,
 * the echo end writes back what it reads. threads == 1: both ends on one
 * loop; threads == 2: the echo end on a second loop on a second thread.
 * Variant "watch": fd-watch callbacks; variant "task": two tasks that
 * weft_await_fd. Ends after the duration (checked on each pong against the
 * loop's cached clock) or after --count round trips. */

static void pp_pinger_cb(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)events;
  if (pp_pinger_read(ud, weft_loop_now(loop))) WB_CHECK(weft_fd_watch_stop(loop, w) == 0);
}

static void pp_echo_cb(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)events;
  if (pp_echo_read(((struct pp *)ud)->b)) WB_CHECK(weft_fd_watch_stop(loop, w) == 0);
}

static int pp_pinger_task(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  struct pp *s = ud;
  if (status < 0) return status;
  if (status > 0 && pp_pinger_read(s, weft_loop_now(loop))) return 0;
  return weft_await_fd(loop, self, s->a, WEFT_READABLE);
}

static int pp_echo_task(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  struct pp *s = ud;
  if (status < 0) return status;
  if (status > 0 && pp_echo_read(s->b)) return 0;
  return weft_await_fd(loop, self, s->b, WEFT_READABLE);
}

static void *pp_echo_thread(void *arg) {
  WB_CHECK(weft_loop_run(arg, WEFT_RUN_DEFAULT) == 0);
  return NULL;
}

int wb_weft_pingpong(const wb_params *p) {
  int fds[2];
  wb_socketpair(fds);
  struct pp s;
  memset(&s, 0, sizeof s);
  s.a = fds[0];
  s.b = fds[1];
  s.count = p->count;
  s.dur_ns = (int64_t)(p->duration * SEC);
  const int tasks = !strcmp(p->variant, "task");

  weft_loop_t *loop, *loop2;
  WB_CHECK(weft_loop_new(&loop) == 0);
  loop2 = loop;
  if (p->threads > 1) WB_CHECK(weft_loop_new(&loop2) == 0);
  weft_fd_watch_t wa, wbw;
  if (tasks) {
    WB_CHECK(weft_task_spawn(loop, pp_pinger_task, &s, NULL) == 0);
    WB_CHECK(weft_task_spawn(loop2, pp_echo_task, &s, NULL) == 0);
  } else {
    WB_CHECK(weft_fd_watch_start(loop, s.a, WEFT_READABLE, pp_pinger_cb, &s, &wa) == 0);
    WB_CHECK(weft_fd_watch_start(loop2, s.b, WEFT_READABLE, pp_echo_cb, &s, &wbw) == 0);
  }
  pthread_t th;
  if (p->threads > 1) WB_CHECK(pthread_create(&th, NULL, pp_echo_thread, loop2) == 0);

  const int64_t c0 = wb_cpu_ns(), w0 = wb_wall_ns();
  s.start = w0;  /* weft_loop_now is CLOCK_MONOTONIC ns too */
  WB_PHASE_BEGIN();
  pp_send(s.a);
  WB_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  WB_PHASE_END("run");
  if (p->threads > 1) WB_CHECK(pthread_join(th, NULL) == 0);
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns();
  const int64_t iters = weft_iterations(loop);
  if (loop2 != loop) WB_CHECK(weft_loop_free(loop2) == 0);
  WB_CHECK(weft_loop_free(loop) == 0);
  close(s.a);
  close(s.b);

  wb_out_begin(p);
  wb_out_num("roundtrips", (double)s.pongs);
  wb_out_num("roundtrips_per_s", s.pongs / ((w1 - w0) / 1e9));
  wb_out_num("roundtrips_per_cpu_s", s.pongs / ((c1 - c0) / 1e9));
  wb_out_num("iterations", (double)iters);
  wb_out_end();
  return 0;
}

/* --------------------------------------------------------------- to_thread
 * `threads` chains of pool work, each re-queued from its own completion
 * (libuv's queue_work ping-pong): 1 in flight measures latency, 4 in flight
 * throughput. Variant "cb": weft_to_thread + done callback; variant "task":
 * tasks looping on weft_await_thread. A timer ends it after the duration. */

struct tt;
struct tt_chain {
  struct tt *s;
  unsigned seed;
};
struct tt {
  int64_t completions, count, snap, t0, t_snap;
  int stop;
};

static int tt_work(void *arg) {
  wb_fastrand(&((struct tt_chain *)arg)->seed);
  return 1;
}

static int tt_more(struct tt *s) {
  s->completions++;
  return !(s->stop || (s->count && s->completions >= s->count));
}

static void tt_done(weft_loop_t *loop, weft_work_t work, int result, void *ud) {
  (void)work;
  WB_CHECK(result == 1);
  struct tt_chain *c = ud;
  if (tt_more(c->s)) WB_CHECK(weft_to_thread(loop, tt_work, c, tt_done, c, NULL) == 0);
}

static int tt_task(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  struct tt_chain *c = ud;
  if (status < 0) return status;
  if (status == 1 && !tt_more(c->s)) return 0;
  return weft_await_thread(loop, self, tt_work, c);
}

static void tt_stop(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer;
  struct tt *s = ud;
  s->stop = 1;
  s->snap = s->completions;
  s->t_snap = wb_wall_ns();
}

int wb_weft_to_thread(const wb_params *p) {
  struct tt s;
  memset(&s, 0, sizeof s);
  s.count = p->count;
  struct tt_chain chains[64];
  WB_CHECK(p->threads <= 64);
  weft_loop_t *loop;
  WB_CHECK(weft_loop_new(&loop) == 0);
  const int tasks = !strcmp(p->variant, "task");
  if (!p->count)
    WB_CHECK(weft_timer_start(loop, (int64_t)(p->duration * SEC), 0, tt_stop, &s, NULL) == 0);

  const int64_t c0 = wb_cpu_ns();
  s.t0 = wb_wall_ns();
  for (int i = 0; i < p->threads; i++) {
    chains[i].s = &s;
    chains[i].seed = (unsigned)i;
    if (tasks)
      WB_CHECK(weft_task_spawn(loop, tt_task, &chains[i], NULL) == 0);
    else
      WB_CHECK(weft_to_thread(loop, tt_work, &chains[i], tt_done, &chains[i], NULL) == 0);
  }
  WB_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns();
  if (p->count) {
    s.snap = s.completions;
    s.t_snap = w1;
  }
  WB_CHECK(weft_loop_free(loop) == 0);

  wb_out_begin(p);
  wb_out_num("completions", (double)s.snap);
  wb_out_num("completions_per_s", s.snap / ((s.t_snap - s.t0) / 1e9));
  wb_out_num("cpu_per_completion_ns", (double)(c1 - c0) / (double)s.completions);
  wb_out_end();
  return 0;
}

/* ------------------------------------------------------------------- posts
 * `threads` producers post to the loop as fast as they can; every post is
 * delivered (weft never coalesces). So that the queue cannot grow without
 * bound, a producer pauses (sched_yield) while it has more than a window of
 * undelivered posts. A timer ends it after the duration; the figure is the
 * callbacks delivered by then. */

#define WB_POST_WINDOW 65536

struct ps;
struct producer {
  _Alignas(64) _Atomic int64_t delivered; /* written by the loop thread only */
  int64_t posted;
  struct ps *s;
  pthread_t th;
};
struct ps {
  weft_loop_t *loop;
  _Atomic int stop;
  int n;
  struct producer *prod;
  int64_t delivered, snap, t0, t_snap, posted;
};

static void ps_cb(weft_loop_t *loop, void *ud) {
  (void)loop;
  struct producer *pr = ud;
  atomic_store_explicit(&pr->delivered,
                        atomic_load_explicit(&pr->delivered, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  pr->s->delivered++;
}

static void *ps_producer(void *arg) {
  struct producer *pr = arg;
  struct ps *s = pr->s;
  while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
    if (pr->posted - atomic_load_explicit(&pr->delivered, memory_order_relaxed) >=
        WB_POST_WINDOW) {
      sched_yield();
      continue;
    }
    WB_CHECK(weft_loop_post(s->loop, ps_cb, pr) == 0);
    pr->posted++;
  }
  return NULL;
}

static void ps_stop(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer;
  struct ps *s = ud;
  s->snap = s->delivered;
  s->t_snap = wb_wall_ns();
  atomic_store(&s->stop, 1);
  for (int i = 0; i < s->n; i++) {
    WB_CHECK(pthread_join(s->prod[i].th, NULL) == 0);
    s->posted += s->prod[i].posted;
  }
}

int wb_weft_posts(const wb_params *p) {
  struct ps s;
  memset(&s, 0, sizeof s);
  s.n = p->threads;
  WB_CHECK(posix_memalign((void **)&s.prod, 64, sizeof(struct producer) * (size_t)s.n) == 0);
  memset(s.prod, 0, sizeof(struct producer) * (size_t)s.n);
  WB_CHECK(weft_loop_new(&s.loop) == 0);
  WB_CHECK(weft_timer_start(s.loop, (int64_t)(p->duration * SEC), 0, ps_stop, &s, NULL) == 0);
  s.t0 = wb_wall_ns();
  for (int i = 0; i < s.n; i++) {
    s.prod[i].s = &s;
    WB_CHECK(pthread_create(&s.prod[i].th, NULL, ps_producer, &s.prod[i]) == 0);
  }
  WB_CHECK(weft_loop_run(s.loop, WEFT_RUN_DEFAULT) == 0);
  const int64_t iters = weft_iterations(s.loop);
  WB_CHECK(weft_loop_free(s.loop) == 0);
  WB_CHECK(s.delivered == s.posted);
  const double secs = (s.t_snap - s.t0) / 1e9;

  wb_out_begin(p);
  wb_out_num("callbacks", (double)s.snap);
  wb_out_num("callbacks_per_s", s.snap / secs);
  wb_out_num("sends_per_s", s.snap / secs);  /* every post is a callback */
  wb_out_num("iterations", (double)iters);
  wb_out_end();
  free(s.prod);
  return 0;
}

/* ----------------------------------------------------------------- handles
 * Variant "timers": n live timers (an hour away), started then stopped.
 * Variant "fds": a READABLE watch on both ends of as many socketpairs as the
 * open-file limit allows (at most 9,000), started then stopped.
 * Start includes one NOWAIT iteration (libuv registers fds with epoll there);
 * stop includes freeing the loop (weft defers epoll removals to the next
 * poll, libuv needs a run to close handles). Memory is the growth of the
 * resident set across the start, including the caller's array of handles
 * (weft: ids; libuv: the handle structs themselves). */

static void never_timer(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer, (void)ud;
  WB_CHECK(!"timer fired");
}

static void never_fd(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)loop, (void)w, (void)events, (void)ud;
}

int wb_weft_handles(const wb_params *p) {
  const int fds_mode = !strcmp(p->variant, "fds");
  int64_t n = p->n;
  int *fds = NULL;
  if (fds_mode) {
    n = 2 * wb_handle_pairs(p);
    fds = malloc(sizeof(int) * (size_t)n);
    WB_CHECK(fds);
    for (int64_t i = 0; i < n; i += 2) wb_socketpair(fds + i);
  }
  weft_loop_t *loop;
  WB_CHECK(weft_loop_new(&loop) == 0);

  const int64_t r0 = wb_rss_bytes(), c0 = wb_cpu_ns();
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
  WB_CHECK(ids);
  if (fds_mode) {
    for (int64_t i = 0; i < n; i++)
      WB_CHECK(weft_fd_watch_start(loop, fds[i], WEFT_READABLE, never_fd, NULL, &ids[i]) == 0);
  } else {
    for (int64_t i = 0; i < n; i++)
      WB_CHECK(weft_timer_start(loop, 3600 * SEC, 0, never_timer, NULL, &ids[i]) == 0);
  }
  WB_CHECK(weft_loop_run(loop, WEFT_RUN_NOWAIT) == 1);
  const int64_t c1 = wb_cpu_ns(), r1 = wb_rss_bytes();
  if (fds_mode) {
    for (int64_t i = 0; i < n; i++) WB_CHECK(weft_fd_watch_stop(loop, ids[i]) == 0);
  } else {
    for (int64_t i = 0; i < n; i++) WB_CHECK(weft_timer_stop(loop, ids[i]) == 0);
  }
  free(ids);
  WB_CHECK(weft_loop_free(loop) == 0);
  const int64_t c2 = wb_cpu_ns();
  if (fds) {
    for (int64_t i = 0; i < n; i++) close(fds[i]);
    free(fds);
  }

  wb_out_handles(p, n, r0, r1, c0, c1, c2);
  return 0;
}

/* ------------------------------------------------------------------- tasks
 * weft only. Variant "spawn": n detached tasks whose first step finishes
 * them; spawn cost and step+finish cost per task. Variant "yield": n tasks
 * (at least 2; --n) taking turns with weft_await_yield for the duration; ns
 * per switch (per step). With two tasks each loop iteration (its clock read
 * included) is paid every second step; with many it is spread over them.
 * Variant "sleep": n tasks each asleep for an hour; resident bytes per
 * sleeping task, and the cost of cancelling them all at loop free. */

static int tk_finish(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  (void)loop, (void)self, (void)status, (void)ud;
  return 0;
}

static int tk_sleep(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  (void)ud;
  if (status != 0) return status;
  return weft_await_sleep(loop, self, 3600 * SEC);
}

struct ty {
  int64_t steps;
  int stop;
};

static int tk_yield(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  (void)status;
  struct ty *s = ud;
  s->steps++;
  if (s->stop) return 0;
  return weft_await_yield(loop, self);
}

static void ty_stop(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer;
  ((struct ty *)ud)->stop = 1;
}

int wb_weft_tasks(const wb_params *p) {
  const int64_t n = p->n;
  weft_loop_t *loop;
  WB_CHECK(weft_loop_new(&loop) == 0);
  wb_out_begin(p);
  if (!strcmp(p->variant, "yield")) {
    struct ty s = {0, 0};
    for (int64_t i = 0; i < (n < 2 ? 2 : n); i++)
      WB_CHECK(weft_task_spawn(loop, tk_yield, &s, NULL) == 0);
    WB_CHECK(weft_timer_start(loop, (int64_t)(p->duration * SEC), 0, ty_stop, &s, NULL) == 0);
    const int64_t c0 = wb_cpu_ns();
    WB_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
    const int64_t c1 = wb_cpu_ns();
    wb_out_num("tasks", (double)(n < 2 ? 2 : n));
    wb_out_num("switches", (double)s.steps);
    wb_out_num("switch_ns", (double)(c1 - c0) / s.steps);
  } else if (!strcmp(p->variant, "sleep")) {
    const int64_t r0 = wb_rss_bytes(), c0 = wb_cpu_ns();
    for (int64_t i = 0; i < n; i++) WB_CHECK(weft_task_spawn(loop, tk_sleep, NULL, NULL) == 0);
    WB_CHECK(weft_loop_run(loop, WEFT_RUN_NOWAIT) == 1);
    const int64_t c1 = wb_cpu_ns(), r1 = wb_rss_bytes();
    WB_CHECK(weft_loop_free(loop) == 0);
    loop = NULL;
    const int64_t c2 = wb_cpu_ns();
    wb_out_num("tasks", (double)n);
    wb_out_num("bytes_per_task", (double)(r1 - r0) / n);
    wb_out_num("spawn_sleep_ns", (double)(c1 - c0) / n);
    wb_out_num("cancel_ns", (double)(c2 - c1) / n);
  } else {
    const int64_t c0 = wb_cpu_ns();
    for (int64_t i = 0; i < n; i++) WB_CHECK(weft_task_spawn(loop, tk_finish, NULL, NULL) == 0);
    const int64_t c1 = wb_cpu_ns();
    WB_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
    const int64_t c2 = wb_cpu_ns();
    wb_out_num("tasks", (double)n);
    wb_out_num("spawn_ns", (double)(c1 - c0) / n);
    wb_out_num("step_finish_ns", (double)(c2 - c1) / n);
  }
  if (loop) WB_CHECK(weft_loop_free(loop) == 0);
  wb_out_end();
  return 0;
}
