/*
 * model_weft.c -- the workloads on weft, in two styles:
 *   "weft"    tasks: step functions that suspend on weft_await_* (the model
 *             weft is about: what async/await compiles to);
 *   "weft-cb" callbacks: weft timers, fd watches, posts and weft_to_thread,
 *             the same style as libuv, to separate the loop's cost from the
 *             tasks' cost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

#include "compare.h"

static int g_tasks; /* 1 for "weft", 0 for "weft-cb" */

#define CHECK(call)                                                              \
  do {                                                                           \
    int rc_ = (call);                                                            \
    if (rc_ < 0) {                                                               \
      fprintf(stderr, "weft-compare: %s: %s\n", #call, weft_strerror(rc_));      \
      report_note("%s failed: %s", #call, weft_err_name(rc_));                   \
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
  if (err < 0) report_note("creation stopped at %lld of %lld: %s", (long long)created,
                           (long long)n, weft_err_name(err));
  report_num("n", (double)n);
  report_num("created", (double)created);
  report_num("peak_concurrent", (double)g_fan_pc.peak);
  if (g_tasks) report_num("spawn_ns", created ? (double)(t1 - t0) / (double)created : 0);
  report_num("create_ns", created ? (double)(t2 - t0) / (double)created : 0);
  report_num("wall_ns", (double)(t3 - t0));
  report_num("rss_delta", (double)(m1.hwm - m0.rss));
  report_num("vm_delta", (double)(m1.vmpeak - m0.vmsize));
  return err < 0;
}

static int do_fanout(const params *p) {
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

static int do_switch(const params *p) {
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
  if (c.s.misses) report_note("token found with the wrong party %lld times", (long long)c.s.misses);
  report_note(g_tasks ? "two tasks; each step passes the token and calls weft_await_yield"
                      : "two callbacks passing the token with weft_loop_post (call_soon); "
                        "switch_timer: with zero-delay one-shot weft timers");
  weft_loop_free(c.loop);
  return 0;
}

/* ======================================================== fd ping-pong */

typedef struct pp_end {
  int fd;
  int initiator;     /* sends first; the other end echoes */
  int64_t left;      /* messages still to receive */
  int got;           /* bytes of the current message received */
  int armed;         /* task: first step done */
  weft_fd_watch_t watch;
  char buf[MSG_SIZE];
} pp_end;

static int64_t g_pp_errors;

static int pp_send(pp_end *e) {
  ssize_t w = write(e->fd, e->buf, MSG_SIZE);
  return w == MSG_SIZE ? 0 : -1; /* one 64-byte message in flight never fills a socket */
}

/* Reads what is there: 1 when a whole message has arrived, 0 if not yet,
 * -1 on error or end of file. */
static int pp_recv(pp_end *e) {
  ssize_t r = read(e->fd, e->buf + e->got, (size_t)(MSG_SIZE - e->got));
  if (r < 0) return errno == EAGAIN ? 0 : -1;
  if (r == 0) return -1;
  e->got += (int)r;
  if (e->got < MSG_SIZE) return 0;
  e->got = 0;
  return 1;
}

/* After a whole message: 1 if this end is finished, 0 to go on, -1 error. */
static int pp_on_message(pp_end *e) {
  if (e->initiator) {
    if (--e->left == 0) return 1;
    return pp_send(e);
  }
  if (pp_send(e) < 0) return -1;
  return --e->left == 0;
}

static int pp_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  pp_end *e = ud;
  if (status < 0) return status;
  if (!e->armed) {
    e->armed = 1;
    if (e->initiator && pp_send(e) < 0) return -EIO;
  } else {
    int r = pp_recv(e);
    if (r < 0) return g_pp_errors++, -EIO;
    if (r > 0) {
      r = pp_on_message(e);
      if (r < 0) return g_pp_errors++, -EIO;
      if (r > 0) return 0;
    }
  }
  return weft_await_fd(loop, self, e->fd, WEFT_READABLE);
}

static void pp_watch(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud) {
  pp_end *e = ud;
  (void)events;
  int r = pp_recv(e);
  if (r > 0) r = pp_on_message(e);
  if (r < 0) g_pp_errors++;
  if (r != 0) weft_fd_watch_stop(loop, watch);
}

static int pp_start(weft_loop_t *loop, pp_end *ends, const int *fds, int64_t n, int64_t k) {
  for (int64_t i = 0; i < 2 * n; i++) {
    pp_end *e = &ends[i];
    e->fd = fds[i];
    e->initiator = (i % 2) == 0;
    e->left = k;
    e->got = 0;
    e->armed = 0;
    memset(e->buf, 'x', MSG_SIZE);
    if (g_tasks) {
      CHECK(weft_task_spawn(loop, pp_step, e, NULL));
    } else {
      if (e->initiator && pp_send(e) < 0) return 1;
      CHECK(weft_fd_watch_start(loop, e->fd, WEFT_READABLE, pp_watch, e, &e->watch));
    }
  }
  return 0;
}

static int do_fdpp(const params *p) {
  int64_t n = p->n;
  int *fds = malloc(sizeof(int) * (size_t)(2 * n));
  if (!fds) return 1;
  memset(fds, -1, sizeof(int) * (size_t)(2 * n));
  int64_t made = make_socketpairs(fds, n, 1);
  if (made < n) {
    report_note("socketpair failed after %lld pairs: %s", (long long)made, strerror(errno));
    close_fds(fds, 2 * n);
    free(fds);
    return 1;
  }
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop));
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  pp_end *ends = calloc((size_t)(2 * n), sizeof *ends);
  double v[64];
  int reps = p->reps < 1 ? 1 : p->reps > 63 ? 63 : p->reps;
  int rc = 0;
  for (int r = 0; r <= reps && !rc; r++) { /* run 0 is the warm-up */
    if (pp_start(loop, ends, fds, n, r == 0 ? (p->k < 10 ? p->k : 10) : p->k)) rc = 1;
    int64_t t0 = now_ns();
    if (!rc && weft_loop_run(loop, WEFT_RUN_DEFAULT) < 0) rc = 1;
    int64_t t1 = now_ns();
    if (r == 0) mem_snap(&m1);
    else v[r - 1] = (double)(t1 - t0);
  }
  if (g_pp_errors) report_note("%lld read/write errors", (long long)g_pp_errors), rc = 1;
  if (!rc) {
    double wall = median(v, reps);
    report_num("n", (double)n);
    report_num("k", (double)p->k);
    report_num("wall_ns", wall);
    report_num("rtt_ns", wall / (double)(n * p->k));
    report_num("rss_delta", (double)(m1.hwm - m0.rss));
    report_note(g_tasks ? "a task per socket end: weft_await_fd(READABLE), read, write"
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

static int block_round(const params *p, int offload, const char *prefix) {
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
  char key[64];
  snprintf(key, sizeof key, "%s_worst_ns", prefix);
  report_num(key, (double)b.late_max);
  snprintf(key, sizeof key, "%s_mean_ns", prefix);
  report_num(key, b.ticks ? (double)b.late_sum / (double)b.ticks : 0);
  snprintf(key, sizeof key, "%s_ticks", prefix);
  report_num(key, (double)b.ticks);
  snprintf(key, sizeof key, "%s_work_ns", prefix);
  report_num(key, (double)b.work_took);
  return 0;
}

static int do_block(const params *p) {
  if (block_round(p, 0, "inline")) return 1;
  if (block_round(p, 1, "offload")) return 1;
  report_note(g_tasks ? "tickers: tasks in weft_await_sleep(1 ms); work inline in a step vs "
                        "weft_await_thread"
                      : "tickers: repeating weft timers (1 ms); work inline in a timer callback "
                        "vs weft_to_thread");
  return 0;
}

/* ================================================================ entry */

int run_weft(const params *p) {
  g_tasks = strcmp(p->model, "weft") == 0;
  if (!strcmp(p->workload, "fanout")) return do_fanout(p);
  if (!strcmp(p->workload, "switch")) return do_switch(p);
  if (!strcmp(p->workload, "fdpp")) return do_fdpp(p);
  if (!strcmp(p->workload, "block")) return do_block(p);
  return 2;
}
