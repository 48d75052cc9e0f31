/*
 * weft.c -- the workloads on weft, through the public C API only, in two
 * styles (weft-compare calls them models; weft-bench-run, variants):
 *   "weft"    tasks: step functions that suspend on weft_await_* (the model
 *             weft is about: what async/await compiles to);
 *   "weft-cb" callbacks: weft timers, fd watches, posts and weft_to_thread,
 *             the same style as libuv, to separate the loop's cost from the
 *             tasks' cost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>

#include "workloads.h"

static int g_tasks; /* weft-compare's workloads: 1 for model "weft", 0 for "weft-cb" */
static int g_sock;  /* model "weft-sock" (fdpp only): tasks on weft_await_recv/send */

static void pick_model(const wl_params *p) {
  g_tasks = strcmp(p->model, "weft-cb") != 0;
  g_sock = !strcmp(p->model, "weft-sock");
}

#define CHECK(call)                                                              \
  do {                                                                           \
    int rc_ = (call);                                                            \
    if (rc_ < 0) {                                                               \
      fprintf(stderr, "weft-compare: %s: %s\n", #call, weft_strerror(rc_));      \
      wl_note("%s failed: %s", #call, weft_err_name(rc_));                   \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

/* =============================================================== fan-out */

static peak_counter g_fan_pc;
static int64_t g_fan_sleep;

/* One byte of state per task: 0 until its first step has armed the sleep. */
static int fan_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  unsigned char *armed = ud;
  if (!*armed) {
    *armed = 1;
    peak_enter1(&g_fan_pc);
    return weft_await_sleep(loop, self, g_fan_sleep);
  }
  peak_leave1(&g_fan_pc);
  return status;
}

static void fan_timer(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer, (void)ud;
  peak_leave1(&g_fan_pc);
}

/* Spawns (or starts) n waiters and runs the loop until all are done. */
static int fan_round(weft_loop_t *loop, int64_t n, int64_t sleep, int report) {
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  g_fan_sleep = sleep;
  memset(&g_fan_pc, 0, sizeof g_fan_pc);
  int64_t t0 = now_ns(), t1, t2;
  unsigned char *armed = NULL;
  int64_t created = 0;
  int err = 0;
  if (g_tasks) {
    armed = calloc((size_t)n, 1);
    if (!armed) return 1;
    for (; created < n; created++)
      if ((err = weft_task_spawn(loop, fan_step, &armed[created], NULL)) < 0) break;
    t1 = now_ns();
    weft_loop_run(loop, WEFT_RUN_NOWAIT); /* every first step: arms its sleep */
    t2 = now_ns();
  } else {
    for (; created < n; created++) {
      if ((err = weft_timer_start(loop, sleep, 0, fan_timer, NULL, NULL)) < 0) break;
      peak_enter1(&g_fan_pc);
    }
    t1 = t2 = now_ns();
  }
  if (weft_loop_run(loop, WEFT_RUN_DEFAULT) < 0) err = WEFT_EINVAL;
  int64_t t3 = now_ns();
  mem_snap(&m1);
  free(armed);
  if (!report) return err < 0;
  if (err < 0) wl_note("creation stopped at %lld of %lld: %s", (long long)created,
                           (long long)n, weft_err_name(err));
  wl_num("n", (double)n);
  wl_num("created", (double)created);
  wl_num("peak_concurrent", (double)g_fan_pc.peak);
  if (g_tasks) wl_num("spawn_ns", created ? (double)(t1 - t0) / (double)created : 0);
  wl_num("create_ns", created ? (double)(t2 - t0) / (double)created : 0);
  wl_num("wall_ns", (double)(t3 - t0));
  wl_num("rss_delta", (double)(m1.hwm - m0.rss));
  wl_num("vm_delta", (double)(m1.vmpeak - m0.vmsize));
  return err < 0;
}

int wl_weft_fanout(const wl_params *p) {
  pick_model(p);
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop));
  fan_round(loop, 3, 1000000, 0); /* warm-up: code paths, first pool chunks */
  int rc = fan_round(loop, p->n, p->sleep_ns, 1);
  weft_loop_free(loop);
  return rc;
}

/* ================================================================ switch */

typedef struct sw_state {
  int64_t left;     /* switches still to do */
  int turn;         /* which party holds the token */
  int64_t misses;   /* steps that found the token elsewhere (should stay 0) */
} sw_state;

typedef struct sw_party {
  sw_state *s;
  int me;
  struct sw_party *other;
} sw_party;

/* Each step takes the token, hands it to the other task and yields: the
 * loop then runs the other task's step. One step = one switch. */
static int sw_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  sw_party *p = ud;
  sw_state *s = p->s;
  if (status < 0) return status;
  if (s->left <= 0) return 0;
  if (s->turn != p->me) s->misses++;
  s->turn = !p->me;
  s->left--;
  return weft_await_yield(loop, self);
}

/* Callback style: the token is a post; each callback posts the other. */
static void sw_post(weft_loop_t *loop, void *ud) {
  sw_party *p = ud;
  sw_state *s = p->s;
  if (s->turn != p->me) s->misses++;
  s->turn = !p->me;
  if (--s->left > 0) weft_loop_post(loop, sw_post, p->other);
}

/* Callback style, second way: the token is a zero-delay one-shot timer. */
static void sw_timer(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  sw_party *p = ud;
  sw_state *s = p->s;
  (void)timer;
  if (s->turn != p->me) s->misses++;
  s->turn = !p->me;
  if (--s->left > 0) weft_timer_start(loop, 0, 0, sw_timer, p->other, NULL);
}

typedef struct sw_ctx {
  weft_loop_t *loop;
  sw_state s;
  sw_party a, b;
  int timers; /* weft-cb: zero-delay timers instead of posts */
} sw_ctx;

static int64_t sw_run(void *vctx, int64_t rounds) {
  sw_ctx *c = vctx;
  c->s.left = rounds;
  c->s.turn = 0;
  int64_t t0 = now_ns();
  if (g_tasks) {
    if (weft_task_spawn(c->loop, sw_step, &c->a, NULL) < 0 ||
        weft_task_spawn(c->loop, sw_step, &c->b, NULL) < 0)
      return -1;
  } else if (c->timers) {
    if (weft_timer_start(c->loop, 0, 0, sw_timer, &c->a, NULL) < 0) return -1;
  } else {
    if (weft_loop_post(c->loop, sw_post, &c->a) < 0) return -1;
  }
  if (weft_loop_run(c->loop, WEFT_RUN_DEFAULT) < 0) return -1;
  return now_ns() - t0;
}

/* The same hand-off through the synchronisation primitives: two tasks pass a
 * token through two queues of capacity 1 (one each way), so each hand-off is
 * a put that wakes the waiting getter. One hand-off = one item moved. */
typedef struct hq_ctx {
  weft_loop_t *loop;
  weft_queue_t q[2]; /* q[i]: party i puts, the other gets */
  int64_t ops;       /* awaits each party makes in a run */
  int64_t moved;     /* items received (checked against the rounds) */
} hq_ctx;

typedef struct hq_party {
  hq_ctx *c;
  int me;
  int64_t i;
} hq_party;

static int hq_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  hq_party *p = ud;
  if (status < 0) return status;
  /* Party 0 starts with a put, party 1 with a get; then they alternate. */
  const int was_get = p->i > 0 && ((p->i - 1 + p->me) & 1);
  if (was_get) p->c->moved++;
  if (p->i == p->c->ops) return 0;
  const int put = ((p->i + p->me) & 1) == 0;
  p->i++;
  return put ? weft_await_queue_put(loop, self, p->c->q[p->me], p->i)
             : weft_await_queue_get(loop, self, p->c->q[!p->me]);
}

static int64_t hq_run(void *vctx, int64_t rounds) {
  hq_ctx *c = vctx;
  hq_party a = {c, 0, 0}, b = {c, 1, 0};
  c->ops = rounds < 2 ? 2 : rounds + (rounds & 1); /* hand-offs = ops, an even number */
  c->moved = 0;
  int64_t t0 = now_ns();
  if (weft_task_spawn(c->loop, hq_step, &a, NULL) < 0 ||
      weft_task_spawn(c->loop, hq_step, &b, NULL) < 0)
    return -1;
  if (weft_loop_run(c->loop, WEFT_RUN_DEFAULT) < 0) return -1;
  int64_t dt = now_ns() - t0;
  WL_CHECK(c->moved == c->ops); /* every item moved exactly once */
  return dt * rounds / c->ops; /* per `rounds` hand-offs */
}

int wl_weft_switch(const wl_params *p) {
  pick_model(p);
  sw_ctx c;
  memset(&c, 0, sizeof c);
  CHECK(weft_loop_new(&c.loop));
  c.a = (sw_party){&c.s, 0, &c.b};
  c.b = (sw_party){&c.s, 1, &c.a};
  measure_switch(p, "switch", sw_run, &c);
  if (!g_tasks) {
    c.timers = 1;
    measure_switch(p, "switch_timer", sw_run, &c);
  }
  if (g_tasks) {
    hq_ctx q = {c.loop, {0, 0}, 0, 0};
    CHECK(weft_queue_new(c.loop, 1, NULL, NULL, &q.q[0]));
    CHECK(weft_queue_new(c.loop, 1, NULL, NULL, &q.q[1]));
    measure_switch(p, "switch_queue", hq_run, &q);
    weft_queue_free(c.loop, q.q[0]);
    weft_queue_free(c.loop, q.q[1]);
  }
  if (c.s.misses) wl_note("token found with the wrong party %lld times", (long long)c.s.misses);
  wl_note(g_tasks ? "two tasks; each step passes the token and calls weft_await_yield; "
                    "switch_queue: the token goes through queues of capacity 1 "
                    "(weft_await_queue_put / weft_await_queue_get)"
                      : "two callbacks passing the token with weft_loop_post (call_soon); "
                        "switch_timer: with zero-delay one-shot weft timers");
  weft_loop_free(c.loop);
  return 0;
}

/* ======================================================== fd ping-pong */

typedef struct pp_end {
  fdpp_end e;        /* first: the message logic (util.c) */
  int armed;         /* task: first step done */
  int sending;       /* model weft-sock: the await in flight is a send */
  weft_fd_watch_t watch;
} pp_end;

static int64_t g_pp_errors;

static int fdpp_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  pp_end *pe = ud;
  fdpp_end *e = &pe->e;
  if (status < 0) return status;
  if (!pe->armed) {
    pe->armed = 1;
    if (e->initiator && fdpp_send(e) < 0) return -EIO;
  } else {
    int r = fdpp_on_readable(e);
    if (r < 0) return g_pp_errors++, -EIO;
    if (r > 0) return 0;
  }
  return weft_await_fd(loop, self, e->fd, WEFT_READABLE);
}

/* Model "weft-sock": the same message logic on weft_await_send (the whole
 * message) and weft_await_recv (what has arrived, until MSG_SIZE bytes). */
static int fdpp_sock_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  pp_end *pe = ud;
  fdpp_end *e = &pe->e;
  if (status < 0) return g_pp_errors++, status;
  if (!pe->armed) {
    pe->armed = 1;
  } else if (pe->sending) { /* a whole message went */
    if (!e->initiator && --e->left == 0) return 0;
  } else { /* a recv finished */
    if (status == 0) return g_pp_errors++, -EIO; /* end of stream too early */
    e->got += status;
    if (e->got < MSG_SIZE)
      return weft_await_recv(loop, self, e->fd, e->buf + e->got, (size_t)(MSG_SIZE - e->got));
    e->got = 0;
    if (e->initiator && --e->left == 0) return 0;
    pe->sending = 1;
    return weft_await_send(loop, self, e->fd, e->buf, MSG_SIZE, NULL);
  }
  if (e->initiator && !pe->sending) { /* the first message */
    pe->sending = 1;
    return weft_await_send(loop, self, e->fd, e->buf, MSG_SIZE, NULL);
  }
  pe->sending = 0;
  return weft_await_recv(loop, self, e->fd, e->buf, MSG_SIZE);
}

static void fdpp_watch(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud) {
  pp_end *pe = ud;
  (void)events;
  int r = fdpp_on_readable(&pe->e);
  if (r < 0) g_pp_errors++;
  if (r != 0) weft_fd_watch_stop(loop, watch);
}

static int fdpp_start(weft_loop_t *loop, pp_end *ends, const int *fds, int64_t n, int64_t k) {
  for (int64_t i = 0; i < 2 * n; i++) {
    pp_end *e = &ends[i];
    fdpp_reset(&e->e, fds[i], (i % 2) == 0, k);
    e->armed = 0;
    e->sending = 0;
    if (g_sock) {
      CHECK(weft_task_spawn(loop, fdpp_sock_step, e, NULL));
    } else if (g_tasks) {
      CHECK(weft_task_spawn(loop, fdpp_step, e, NULL));
    } else {
      if (e->e.initiator && fdpp_send(&e->e) < 0) return 1;
      CHECK(weft_fd_watch_start(loop, e->e.fd, WEFT_READABLE, fdpp_watch, e, &e->watch));
    }
  }
  return 0;
}

int wl_weft_fdpp(const wl_params *p) {
  pick_model(p);
  int64_t n = p->n;
  int *fds = malloc(sizeof(int) * (size_t)(2 * n));
  if (!fds) return 1;
  memset(fds, -1, sizeof(int) * (size_t)(2 * n));
  int64_t made = make_socketpairs(fds, n, 1);
  if (made < n) {
    wl_note("socketpair failed after %lld pairs: %s", (long long)made, strerror(errno));
    close_fds(fds, 2 * n);
    free(fds);
    return 1;
  }
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop));
  if (g_sock) /* owned, registered once; weft_loop_free leaves them open */
    for (int64_t i = 0; i < 2 * n; i++) CHECK(weft_socket_adopt(loop, fds[i]));
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  pp_end *ends = calloc((size_t)(2 * n), sizeof *ends);
  double v[64];
  int reps = p->reps < 1 ? 1 : p->reps > 63 ? 63 : p->reps;
  int rc = 0;
  for (int r = 0; r <= reps && !rc; r++) { /* run 0 is the warm-up */
    if (fdpp_start(loop, ends, fds, n, r == 0 ? (p->k < 10 ? p->k : 10) : p->k)) rc = 1;
    int64_t t0 = now_ns();
    if (!rc && weft_loop_run(loop, WEFT_RUN_DEFAULT) < 0) rc = 1;
    int64_t t1 = now_ns();
    if (r == 0) mem_snap(&m1);
    else v[r - 1] = (double)(t1 - t0);
  }
  if (g_pp_errors) wl_note("%lld read/write errors", (long long)g_pp_errors), rc = 1;
  if (!rc) {
    fdpp_figures(p, v, reps, &m0, &m1);
    wl_note(g_sock    ? "a task per socket end (weft_socket_adopt): weft_await_recv, weft_await_send"
            : g_tasks ? "a task per socket end: weft_await_fd(READABLE), read, write"
                      : "a weft_fd_watch per socket end (level-triggered callback): read, write");
  }
  weft_loop_free(loop);
  free(ends);
  close_fds(fds, 2 * n);
  free(fds);
  return rc;
}

/* ======================================================= blocking the loop */

typedef struct blk {
  int64_t tick, work, start_delay, tail;
  int offload;
  int64_t stop_at;        /* 0 until the work is done */
  int64_t late_max, late_sum, ticks;
  int64_t work_t0, work_took;
  int stage;              /* the worker's progress */
} blk;

typedef struct ticker {
  blk *b;
  int64_t prev;           /* when the last tick ran (0: none yet) */
} ticker;

/* A tick: lateness is the gap since the previous tick minus the period. */
static int tick_seen(ticker *t) {
  int64_t now = now_ns();
  if (t->prev) {
    int64_t late = now - t->prev - t->b->tick;
    if (late < 0) late = 0;
    if (late > t->b->late_max) t->b->late_max = late;
    t->b->late_sum += late;
    t->b->ticks++;
  }
  t->prev = now;
  return t->b->stop_at && now >= t->b->stop_at;
}

static int tick_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  ticker *t = ud;
  if (status < 0) return status;
  if (tick_seen(t)) return 0;
  return weft_await_sleep(loop, self, t->b->tick);
}

static void tick_timer(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  if (tick_seen(ud)) weft_timer_stop(loop, timer);
}

static int noop_work(void *arg) {
  (void)arg;
  return 0;
}

static int burn_work(void *arg) {
  blk *b = arg;
  return burn_cpu(b->work) >= 0 ? 0 : -1;
}

static void work_finished(blk *b) {
  int64_t now = now_ns();
  b->work_took = now - b->work_t0;
  b->stop_at = now + b->tail;
}

/* The worker task: warm the pool up, wait, then do the CPU work. */
static int work_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  blk *b = ud;
  if (status < 0) return status;
  switch (b->stage++) {
    case 0:
      return weft_await_thread(loop, self, noop_work, NULL);
    case 1:
      return weft_await_sleep(loop, self, b->start_delay);
    case 2:
      b->work_t0 = now_ns();
      if (b->offload) return weft_await_thread(loop, self, burn_work, b);
      burn_cpu(b->work); /* inline: the loop is blocked meanwhile */
      /* fall through */
    default:
      work_finished(b);
      return 0;
  }
}

static void work_done_cb(weft_loop_t *loop, weft_work_t w, int result, void *ud) {
  (void)loop, (void)w, (void)result;
  work_finished(ud);
}

static void work_timer(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  blk *b = ud;
  (void)timer;
  b->work_t0 = now_ns();
  if (b->offload) {
    if (weft_to_thread(loop, burn_work, b, work_done_cb, b, NULL) < 0) work_finished(b);
  } else {
    burn_cpu(b->work);
    work_finished(b);
  }
}

static int block_round(const wl_params *p, int offload, const char *prefix) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop));
  blk b = {p->tick_ns, p->work_ns, 50000000, 50000000, offload, 0, 0, 0, 0, 0, 0, 0};
  int64_t nt = p->tickers;
  ticker *ts = calloc((size_t)nt, sizeof *ts);
  weft_timer_t *tids = calloc((size_t)nt, sizeof *tids);
  if (g_tasks) {
    CHECK(weft_task_spawn(loop, work_step, &b, NULL));
    for (int64_t i = 0; i < nt; i++) {
      ts[i].b = &b;
      CHECK(weft_task_spawn(loop, tick_step, &ts[i], NULL));
    }
  } else {
    CHECK(weft_to_thread(loop, noop_work, NULL, NULL, NULL, NULL)); /* pool warm-up */
    CHECK(weft_timer_start(loop, b.start_delay, 0, work_timer, &b, NULL));
    for (int64_t i = 0; i < nt; i++) {
      ts[i].b = &b;
      CHECK(weft_timer_start(loop, 0, p->tick_ns, tick_timer, &ts[i], &tids[i]));
    }
  }
  CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT));
  weft_loop_free(loop);
  free(ts);
  free(tids);
  block_figures(prefix, b.late_max, b.late_sum, b.ticks, b.work_took);
  return 0;
}

int wl_weft_block(const wl_params *p) {
  pick_model(p);
  if (block_round(p, 0, "inline")) return 1;
  if (block_round(p, 1, "offload")) return 1;
  wl_note(g_tasks ? "tickers: tasks in weft_await_sleep(1 ms); work inline in a step vs "
                        "weft_await_thread"
                      : "tickers: repeating weft timers (1 ms); work inline in a timer callback "
                        "vs weft_to_thread");
  return 0;
}

/* ==================================================================
 * weft-bench-run's workloads (uv.c has the same on libuv, function for
 * function; p->variant picks the style). */

#define MS WL_MS
#define SEC WL_SEC

static int64_t weft_iterations(weft_loop_t *loop) {
  weft_loop_stats_t st;
  st.size = sizeof st;
  WL_CHECK(weft_loop_stats(loop, &st) == 0);
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

int wl_weft_timers(const wl_params *p) {
  const int64_t n = p->n;
  weft_loop_t *loop;
  WL_CHECK(weft_loop_new(&loop) == 0);

  const int64_t c0 = cpu_ns(), w0 = now_ns(), s0 = sys_ns();
  WL_PHASE_BEGIN();
  int64_t timeout = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i % 1000 == 0) timeout++;
    WL_CHECK(weft_timer_start(loop, timeout * MS, 0, timers_cb, NULL, NULL) == 0);
  }
  WL_PHASE_END("start");
  const int64_t c1 = cpu_ns(), w1 = now_ns(), s1 = sys_ns();
  WL_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  WL_PHASE_END("dispatch");
  const int64_t c2 = cpu_ns(), w2 = now_ns(), s2 = sys_ns();
  const int64_t iters = weft_iterations(loop);
  WL_CHECK(weft_loop_free(loop) == 0);
  WL_PHASE_END("cleanup");
  const int64_t c3 = cpu_ns(), w3 = now_ns(), s3 = sys_ns();
  WL_CHECK(g_fired == n);

    wl_num("start_cpu_ns", (double)(c1 - c0) / n);
  wl_num("dispatch_cpu_ns", (double)(c2 - c1) / n);
  wl_num("cleanup_cpu_ns", (double)(c3 - c2) / n);
  wl_num("start_sys_ns", (double)(s1 - s0) / n);
  wl_num("dispatch_sys_ns", (double)(s2 - s1) / n);
  wl_num("cleanup_sys_ns", (double)(s3 - s2) / n);
  wl_num("start_wall_ns", (double)(w1 - w0) / n);
  wl_num("dispatch_wall_s", (double)(w2 - w1) / 1e9);
  wl_num("cleanup_wall_ns", (double)(w3 - w2) / n);
  wl_num("iterations", (double)iters);
  wl_num("maxrss_bytes", (double)maxrss_bytes());
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
  if (g_lc_watch) WL_CHECK(weft_fd_watch_stop(loop, g_lc_watch) == 0);
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
  WL_CHECK(weft_timer_start(loop, 0, 0, lc_timer0, s, NULL) == 0);
}

static void lc_stop(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer;
  ((struct lc *)ud)->stop = 1;
}

static void lc_never(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)loop, (void)w, (void)events, (void)ud;
  WL_CHECK(!"idle fd became ready");
}

int wl_weft_loop_count(const wl_params *p) {
  struct lc s = {0, p->count, 0};
  weft_loop_t *loop;
  WL_CHECK(weft_loop_new(&loop) == 0);
  /* "_fd" variants: one idle fd watch too, so every iteration polls. */
  int fds[2] = {-1, -1};
  weft_fd_watch_t idle_watch = 0;
  if (strstr(p->variant, "_fd")) {
    wl_socketpair(fds);
    WL_CHECK(weft_fd_watch_start(loop, fds[0], WEFT_READABLE, lc_never, NULL, &idle_watch) == 0);
    g_lc_watch = idle_watch;
  }
  if (!strncmp(p->variant, "timer0", 6))
    WL_CHECK(weft_timer_start(loop, 0, 0, lc_timer0, &s, NULL) == 0);
  else
    WL_CHECK(weft_task_spawn(loop, lc_task, &s, NULL) == 0);
  if (!p->count)
    WL_CHECK(weft_timer_start(loop, (int64_t)(p->duration * SEC), 0, lc_stop, &s, NULL) == 0);

  const int64_t c0 = cpu_ns(), w0 = now_ns();
  WL_PHASE_BEGIN();
  WL_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  WL_PHASE_END("run");
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  const int64_t iters = weft_iterations(loop);
  WL_CHECK(weft_loop_free(loop) == 0);
  if (fds[0] >= 0) {
    close(fds[0]);
    close(fds[1]);
  }

    wl_num("ticks", (double)s.ticks);
  wl_num("ticks_per_cpu_s", s.ticks / ((c1 - c0) / 1e9));
  wl_num("ticks_per_s", s.ticks / ((w1 - w0) / 1e9));
  wl_num("iterations", (double)iters);
    return 0;
}

/* ---------------------------------------------------------------- pingpong
 * A socketpair; the pinger writes "PING\n" and waits for it to come back,
 * the echo end writes back what it reads. threads == 1: both ends on one
 * loop; threads == 2: the echo end on a second loop on a second thread.
 * Variant "watch": fd-watch callbacks; variant "task": two tasks that
 * weft_await_fd; variant "sock": two tasks on weft_await_recv/send (below).
 * Ends after the duration (checked on each pong against the
 * loop's cached clock) or after --count round trips. */

static void pp_pinger_cb(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)events;
  if (pp_pinger_read(ud, weft_loop_now(loop))) WL_CHECK(weft_fd_watch_stop(loop, w) == 0);
}

static void pp_echo_cb(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)events;
  if (pp_echo_read(((struct pp *)ud)->b)) WL_CHECK(weft_fd_watch_stop(loop, w) == 0);
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

/* Variant "sock": the same two tasks on the socket awaits (both fds handed
 * to weft with weft_socket_adopt): the pinger sends a ping and awaits the
 * recv of its pong; the echo end recvs and sends back what it got. */
struct pp_sock {
  struct pp *s;
  int step;  /* 0 send done / start, 1 recv done */
  int len;
  char buf[64];
};

static int pp_sock_pinger(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  struct pp_sock *x = ud;
  struct pp *s = x->s;
  if (status < 0) return status;
  if (x->step == 1) { /* a recv finished */
    WL_CHECK(status > 0);
    s->got += status;
    while (s->got >= WL_PING_LEN) {
      s->got -= WL_PING_LEN;
      s->pongs++;
    }
    if (s->got) return weft_await_recv(loop, self, s->a, x->buf, sizeof x->buf);
    if (s->count ? s->pongs >= s->count : weft_loop_now(loop) - s->start >= s->dur_ns) {
      weft_socket_shutdown(loop, s->a);
      return 0;
    }
    x->step = 0;
    return weft_await_send(loop, self, s->a, WL_PING, WL_PING_LEN, NULL);
  }
  if (!x->len) { /* the first step: the first ping */
    x->len = 1;
    return weft_await_send(loop, self, s->a, WL_PING, WL_PING_LEN, NULL);
  }
  x->step = 1; /* the send finished: await the pong */
  return weft_await_recv(loop, self, s->a, x->buf, sizeof x->buf);
}

static int pp_sock_echo(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  struct pp_sock *x = ud;
  if (status < 0) return status;
  if (x->step == 1) { /* a recv finished */
    if (status == 0) return 0; /* the pinger shut down */
    x->step = 0;
    return weft_await_send(loop, self, x->s->b, x->buf, (size_t)status, NULL);
  }
  x->step = 1;
  return weft_await_recv(loop, self, x->s->b, x->buf, sizeof x->buf);
}

static void *pp_echo_thread(void *arg) {
  WL_CHECK(weft_loop_run(arg, WEFT_RUN_DEFAULT) == 0);
  return NULL;
}

int wl_weft_pingpong(const wl_params *p) {
  /* --pairs P (default 1): P socketpairs, each its own pinger and echo end,
   * all pingers on the first loop; the figures sum the pairs' round trips. */
  const int64_t np = p->pairs > 0 ? p->pairs : 1;
  struct pp *s = calloc((size_t)np, sizeof *s);
  struct pp_sock *xs = calloc((size_t)(2 * np), sizeof *xs);
  weft_fd_watch_t *ws = calloc((size_t)(2 * np), sizeof *ws);
  WL_CHECK(s && xs && ws);
  const int tasks = !strcmp(p->variant, "task");
  const int sock = !strcmp(p->variant, "sock");

  weft_loop_t *loop, *loop2;
  WL_CHECK(weft_loop_new(&loop) == 0);
  loop2 = loop;
  if (p->threads > 1) WL_CHECK(weft_loop_new(&loop2) == 0);
  for (int64_t i = 0; i < np; i++) {
    int fds[2];
    wl_socketpair(fds);
    s[i].a = fds[0];
    s[i].b = fds[1];
    s[i].count = p->count;
    s[i].dur_ns = (int64_t)(p->duration * SEC);
    struct pp_sock *xa = &xs[2 * i], *xb = &xs[2 * i + 1];
    xa->s = xb->s = &s[i];
    if (sock) {
      WL_CHECK(weft_socket_adopt(loop, s[i].a) == 0);
      WL_CHECK(weft_socket_adopt(loop2, s[i].b) == 0);
      WL_CHECK(weft_task_spawn(loop, pp_sock_pinger, xa, NULL) == 0);
      WL_CHECK(weft_task_spawn(loop2, pp_sock_echo, xb, NULL) == 0);
    } else if (tasks) {
      WL_CHECK(weft_task_spawn(loop, pp_pinger_task, &s[i], NULL) == 0);
      WL_CHECK(weft_task_spawn(loop2, pp_echo_task, &s[i], NULL) == 0);
    } else {
      WL_CHECK(weft_fd_watch_start(loop, s[i].a, WEFT_READABLE, pp_pinger_cb, &s[i], &ws[2 * i]) == 0);
      WL_CHECK(weft_fd_watch_start(loop2, s[i].b, WEFT_READABLE, pp_echo_cb, &s[i], &ws[2 * i + 1]) == 0);
    }
  }
  pthread_t th;
  if (p->threads > 1) WL_CHECK(pthread_create(&th, NULL, pp_echo_thread, loop2) == 0);

  const int64_t c0 = cpu_ns(), w0 = now_ns();
  for (int64_t i = 0; i < np; i++) s[i].start = w0; /* weft_loop_now is CLOCK_MONOTONIC ns too */
  WL_PHASE_BEGIN();
  if (!sock) /* the sock pingers send their first ping themselves */
    for (int64_t i = 0; i < np; i++) pp_send(s[i].a);
  WL_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  WL_PHASE_END("run");
  if (p->threads > 1) WL_CHECK(pthread_join(th, NULL) == 0);
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  const int64_t iters = weft_iterations(loop);
  if (loop2 != loop) WL_CHECK(weft_loop_free(loop2) == 0);
  WL_CHECK(weft_loop_free(loop) == 0);
  int64_t pongs = 0;
  for (int64_t i = 0; i < np; i++) {
    pongs += s[i].pongs;
    close(s[i].a);
    close(s[i].b);
  }
  free(s);
  free(xs);
  free(ws);

  wl_num("pairs", (double)np);
  wl_num("roundtrips", (double)pongs);
  wl_num("roundtrips_per_s", pongs / ((w1 - w0) / 1e9));
  wl_num("roundtrips_per_cpu_s", pongs / ((c1 - c0) / 1e9));
  wl_num("iterations", (double)iters);
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
  wl_fastrand(&((struct tt_chain *)arg)->seed);
  return 1;
}

static int tt_more(struct tt *s) {
  s->completions++;
  return !(s->stop || (s->count && s->completions >= s->count));
}

static void tt_done(weft_loop_t *loop, weft_work_t work, int result, void *ud) {
  (void)work;
  WL_CHECK(result == 1);
  struct tt_chain *c = ud;
  if (tt_more(c->s)) WL_CHECK(weft_to_thread(loop, tt_work, c, tt_done, c, NULL) == 0);
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
  s->t_snap = now_ns();
}

int wl_weft_to_thread(const wl_params *p) {
  struct tt s;
  memset(&s, 0, sizeof s);
  s.count = p->count;
  struct tt_chain chains[64];
  WL_CHECK(p->threads <= 64);
  weft_loop_t *loop;
  WL_CHECK(weft_loop_new(&loop) == 0);
  const int tasks = !strcmp(p->variant, "task");
  if (!p->count)
    WL_CHECK(weft_timer_start(loop, (int64_t)(p->duration * SEC), 0, tt_stop, &s, NULL) == 0);

  const int64_t c0 = cpu_ns();
  s.t0 = now_ns();
  for (int i = 0; i < p->threads; i++) {
    chains[i].s = &s;
    chains[i].seed = (unsigned)i;
    if (tasks)
      WL_CHECK(weft_task_spawn(loop, tt_task, &chains[i], NULL) == 0);
    else
      WL_CHECK(weft_to_thread(loop, tt_work, &chains[i], tt_done, &chains[i], NULL) == 0);
  }
  WL_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  if (p->count) {
    s.snap = s.completions;
    s.t_snap = w1;
  }
  WL_CHECK(weft_loop_free(loop) == 0);

    wl_num("completions", (double)s.snap);
  wl_num("completions_per_s", s.snap / ((s.t_snap - s.t0) / 1e9));
  wl_num("cpu_per_completion_ns", (double)(c1 - c0) / (double)s.completions);
    return 0;
}

/* ------------------------------------------------------------------- posts
 * `threads` producers post to the loop as fast as they can; every post is
 * delivered (weft never coalesces). So that the queue cannot grow without
 * bound, a producer pauses (sched_yield) while it has more than a window of
 * undelivered posts. A timer ends it after the duration; the figure is the
 * callbacks delivered by then. */

#define WL_POST_WINDOW 65536

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
        WL_POST_WINDOW) {
      sched_yield();
      continue;
    }
    WL_CHECK(weft_loop_post(s->loop, ps_cb, pr) == 0);
    pr->posted++;
  }
  return NULL;
}

static void ps_stop(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop, (void)timer;
  struct ps *s = ud;
  s->snap = s->delivered;
  s->t_snap = now_ns();
  atomic_store(&s->stop, 1);
  for (int i = 0; i < s->n; i++) {
    WL_CHECK(pthread_join(s->prod[i].th, NULL) == 0);
    s->posted += s->prod[i].posted;
  }
}

int wl_weft_posts(const wl_params *p) {
  struct ps s;
  memset(&s, 0, sizeof s);
  s.n = p->threads;
  WL_CHECK(posix_memalign((void **)&s.prod, 64, sizeof(struct producer) * (size_t)s.n) == 0);
  memset(s.prod, 0, sizeof(struct producer) * (size_t)s.n);
  WL_CHECK(weft_loop_new(&s.loop) == 0);
  WL_CHECK(weft_timer_start(s.loop, (int64_t)(p->duration * SEC), 0, ps_stop, &s, NULL) == 0);
  s.t0 = now_ns();
  for (int i = 0; i < s.n; i++) {
    s.prod[i].s = &s;
    WL_CHECK(pthread_create(&s.prod[i].th, NULL, ps_producer, &s.prod[i]) == 0);
  }
  WL_CHECK(weft_loop_run(s.loop, WEFT_RUN_DEFAULT) == 0);
  const int64_t iters = weft_iterations(s.loop);
  WL_CHECK(weft_loop_free(s.loop) == 0);
  WL_CHECK(s.delivered == s.posted);
  const double secs = (s.t_snap - s.t0) / 1e9;

    wl_num("callbacks", (double)s.snap);
  wl_num("callbacks_per_s", s.snap / secs);
  wl_num("sends_per_s", s.snap / secs);  /* every post is a callback */
  wl_num("iterations", (double)iters);
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
  WL_CHECK(!"timer fired");
}

static void never_fd(weft_loop_t *loop, weft_fd_watch_t w, int events, void *ud) {
  (void)loop, (void)w, (void)events, (void)ud;
}

int wl_weft_handles(const wl_params *p) {
  const int fds_mode = !strcmp(p->variant, "fds");
  int64_t n = p->n;
  int *fds = NULL;
  if (fds_mode) {
    n = 2 * wl_handle_pairs(p);
    fds = malloc(sizeof(int) * (size_t)n);
    WL_CHECK(fds);
    for (int64_t i = 0; i < n; i += 2) wl_socketpair(fds + i);
  }
  weft_loop_t *loop;
  WL_CHECK(weft_loop_new(&loop) == 0);

  const int64_t r0 = rss_bytes(), c0 = cpu_ns();
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
  WL_CHECK(ids);
  if (fds_mode) {
    for (int64_t i = 0; i < n; i++)
      WL_CHECK(weft_fd_watch_start(loop, fds[i], WEFT_READABLE, never_fd, NULL, &ids[i]) == 0);
  } else {
    for (int64_t i = 0; i < n; i++)
      WL_CHECK(weft_timer_start(loop, 3600 * SEC, 0, never_timer, NULL, &ids[i]) == 0);
  }
  WL_CHECK(weft_loop_run(loop, WEFT_RUN_NOWAIT) == 1);
  const int64_t c1 = cpu_ns(), r1 = rss_bytes();
  if (fds_mode) {
    for (int64_t i = 0; i < n; i++) WL_CHECK(weft_fd_watch_stop(loop, ids[i]) == 0);
  } else {
    for (int64_t i = 0; i < n; i++) WL_CHECK(weft_timer_stop(loop, ids[i]) == 0);
  }
  free(ids);
  WL_CHECK(weft_loop_free(loop) == 0);
  const int64_t c2 = cpu_ns();
  if (fds) {
    for (int64_t i = 0; i < n; i++) close(fds[i]);
    free(fds);
  }

  handles_figures(n, r0, r1, c0, c1, c2);
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

int wl_weft_tasks(const wl_params *p) {
  const int64_t n = p->n;
  weft_loop_t *loop;
  WL_CHECK(weft_loop_new(&loop) == 0);
    if (!strcmp(p->variant, "yield")) {
    struct ty s = {0, 0};
    for (int64_t i = 0; i < (n < 2 ? 2 : n); i++)
      WL_CHECK(weft_task_spawn(loop, tk_yield, &s, NULL) == 0);
    WL_CHECK(weft_timer_start(loop, (int64_t)(p->duration * SEC), 0, ty_stop, &s, NULL) == 0);
    const int64_t c0 = cpu_ns();
    WL_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
    const int64_t c1 = cpu_ns();
    wl_num("tasks", (double)(n < 2 ? 2 : n));
    wl_num("switches", (double)s.steps);
    wl_num("switch_ns", (double)(c1 - c0) / s.steps);
  } else if (!strcmp(p->variant, "sleep")) {
    const int64_t r0 = rss_bytes(), c0 = cpu_ns();
    for (int64_t i = 0; i < n; i++) WL_CHECK(weft_task_spawn(loop, tk_sleep, NULL, NULL) == 0);
    WL_CHECK(weft_loop_run(loop, WEFT_RUN_NOWAIT) == 1);
    const int64_t c1 = cpu_ns(), r1 = rss_bytes();
    WL_CHECK(weft_loop_free(loop) == 0);
    loop = NULL;
    const int64_t c2 = cpu_ns();
    wl_num("tasks", (double)n);
    wl_num("bytes_per_task", (double)(r1 - r0) / n);
    wl_num("spawn_sleep_ns", (double)(c1 - c0) / n);
    wl_num("cancel_ns", (double)(c2 - c1) / n);
  } else {
    const int64_t c0 = cpu_ns();
    for (int64_t i = 0; i < n; i++) WL_CHECK(weft_task_spawn(loop, tk_finish, NULL, NULL) == 0);
    const int64_t c1 = cpu_ns();
    WL_CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
    const int64_t c2 = cpu_ns();
    wl_num("tasks", (double)n);
    wl_num("spawn_ns", (double)(c1 - c0) / n);
    wl_num("step_finish_ns", (double)(c2 - c1) / n);
  }
  if (loop) WL_CHECK(weft_loop_free(loop) == 0);
    return 0;
}
