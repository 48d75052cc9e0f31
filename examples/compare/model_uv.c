/*
 * model_uv.c -- the workloads on libuv (Debian's libuv1), the reference:
 * callback style, as libuv is meant to be used. Handles live in arrays the
 * program allocates (the cheapest way to hold them) and one-shot handles are
 * closed in their own callback, as idiomatic libuv code does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "compare.h"

#define CHECK(call)                                                              \
  do {                                                                           \
    int rc_ = (call);                                                            \
    if (rc_ < 0) {                                                               \
      fprintf(stderr, "weft-compare: %s: %s\n", #call, uv_strerror(rc_));        \
      report_note("%s failed: %s", #call, uv_err_name(rc_));                     \
      return 1;                                                                  \
    }                                                                            \
  } while (0)

/* =============================================================== fan-out */

static peak_counter g_fan_pc;

static void fan_timer(uv_timer_t *t) {
  peak_leave1(&g_fan_pc);
  uv_close((uv_handle_t *)t, NULL);
}

static int fan_round(uv_loop_t *loop, int64_t n, int64_t sleep, int report) {
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  memset(&g_fan_pc, 0, sizeof g_fan_pc);
  uint64_t ms = (uint64_t)(sleep / 1000000);
  uv_update_time(loop); /* timers count from now, as weft's do */
  int64_t t0 = now_ns();
  uv_timer_t *timers = calloc((size_t)n, sizeof *timers);
  if (!timers) return 1;
  int64_t created = 0;
  int err = 0;
  for (; created < n; created++) {
    if ((err = uv_timer_init(loop, &timers[created])) < 0) break;
    if ((err = uv_timer_start(&timers[created], fan_timer, ms, 0)) < 0) {
      uv_close((uv_handle_t *)&timers[created], NULL);
      break;
    }
    peak_enter1(&g_fan_pc);
  }
  int64_t t1 = now_ns();
  uv_run(loop, UV_RUN_DEFAULT);
  int64_t t2 = now_ns();
  mem_snap(&m1);
  free(timers);
  if (!report) return err < 0;
  if (err < 0) report_note("creation stopped at %lld: %s", (long long)created, uv_err_name(err));
  report_num("n", (double)n);
  report_num("created", (double)created);
  report_num("peak_concurrent", (double)g_fan_pc.peak);
  report_num("create_ns", created ? (double)(t1 - t0) / (double)created : 0);
  report_num("wall_ns", (double)(t2 - t0));
  report_num("rss_delta", (double)(m1.hwm - m0.rss));
  report_num("vm_delta", (double)(m1.vmpeak - m0.vmsize));
  return err < 0;
}

static int do_fanout(const params *p) {
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop));
  fan_round(&loop, 3, 1000000, 0); /* warm-up */
  int rc = fan_round(&loop, p->n, p->sleep_ns, 1);
  CHECK(uv_loop_close(&loop));
  return rc;
}

/* ================================================================ switch */

typedef struct sw_state {
  uv_idle_t idle[2];
  int turn;
  int64_t left;
  int64_t misses;
} sw_state;

/* Two idle handles: libuv runs both callbacks once per loop iteration (and
 * polls with timeout 0 in between), so each callback call is one handoff. */
static void sw_idle(uv_idle_t *h) {
  sw_state *s = h->data;
  int me = h == &s->idle[1];
  if (s->turn != me) s->misses++;
  s->turn = !me;
  if (--s->left <= 0) {
    uv_idle_stop(&s->idle[0]);
    uv_idle_stop(&s->idle[1]);
  }
}

static int64_t sw_run(void *vs, int64_t rounds) {
  sw_state *s = vs;
  s->left = rounds;
  s->turn = 0;
  int64_t t0 = now_ns();
  uv_idle_start(&s->idle[1], sw_idle); /* each start goes to the queue's head: */
  uv_idle_start(&s->idle[0], sw_idle); /* idle[0] runs first */
  uv_run(s->idle[0].loop, UV_RUN_DEFAULT);
  return now_ns() - t0;
}

static int do_switch(const params *p) {
  uv_loop_t loop;
  sw_state s;
  memset(&s, 0, sizeof s);
  CHECK(uv_loop_init(&loop));
  for (int i = 0; i < 2; i++) {
    CHECK(uv_idle_init(&loop, &s.idle[i]));
    s.idle[i].data = &s;
  }
  measure_switch(p, "switch", sw_run, &s);
  if (s.misses) report_note("token found with the wrong party %lld times", (long long)s.misses);
  report_note("two uv_idle_t callbacks passing a token (both run once per loop iteration)");
  uv_close((uv_handle_t *)&s.idle[0], NULL);
  uv_close((uv_handle_t *)&s.idle[1], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop));
  return 0;
}

/* ======================================================== fd ping-pong */

typedef struct pp_end {
  uv_poll_t poll;
  int fd;
  int initiator;
  int64_t left;
  int got;
  char buf[MSG_SIZE];
} pp_end;

static int64_t g_pp_errors;

static int pp_send(pp_end *e) {
  return write(e->fd, e->buf, MSG_SIZE) == MSG_SIZE ? 0 : -1;
}

static int pp_recv(pp_end *e) {
  ssize_t r = read(e->fd, e->buf + e->got, (size_t)(MSG_SIZE - e->got));
  if (r < 0) return errno == EAGAIN ? 0 : -1;
  if (r == 0) return -1;
  e->got += (int)r;
  if (e->got < MSG_SIZE) return 0;
  e->got = 0;
  return 1;
}

static void pp_cb(uv_poll_t *h, int status, int events) {
  pp_end *e = h->data;
  (void)events;
  int r = status < 0 ? -1 : pp_recv(e);
  if (r > 0) {
    if (e->initiator) {
      r = --e->left == 0 ? 1 : pp_send(e);
    } else {
      r = pp_send(e) < 0 ? -1 : --e->left == 0;
    }
  }
  if (r < 0) g_pp_errors++;
  if (r != 0) uv_poll_stop(h);
}

static int do_fdpp(const params *p) {
  int64_t n = p->n;
  int *fds = malloc(sizeof(int) * (size_t)(2 * n));
  memset(fds, -1, sizeof(int) * (size_t)(2 * n));
  int64_t made = make_socketpairs(fds, n, 1);
  if (made < n) {
    report_note("socketpair failed after %lld pairs: %s", (long long)made, strerror(errno));
    close_fds(fds, 2 * n);
    free(fds);
    return 1;
  }
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop));
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  pp_end *ends = calloc((size_t)(2 * n), sizeof *ends);
  for (int64_t i = 0; i < 2 * n; i++) {
    ends[i].fd = fds[i];
    ends[i].initiator = (i % 2) == 0;
    memset(ends[i].buf, 'x', MSG_SIZE);
    CHECK(uv_poll_init(&loop, &ends[i].poll, fds[i]));
    ends[i].poll.data = &ends[i];
  }
  double v[64];
  int reps = p->reps < 1 ? 1 : p->reps > 63 ? 63 : p->reps;
  int rc = 0;
  for (int r = 0; r <= reps && !rc; r++) { /* run 0 is the warm-up */
    int64_t k = r == 0 ? (p->k < 10 ? p->k : 10) : p->k;
    for (int64_t i = 0; i < 2 * n; i++) {
      pp_end *e = &ends[i];
      e->left = k;
      e->got = 0;
      if (e->initiator && pp_send(e) < 0) rc = 1;
      CHECK(uv_poll_start(&e->poll, UV_READABLE, pp_cb));
    }
    int64_t t0 = now_ns();
    uv_run(&loop, UV_RUN_DEFAULT);
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
    report_note("a uv_poll_t per socket end (UV_READABLE): read, write");
  }
  for (int64_t i = 0; i < 2 * n; i++) uv_close((uv_handle_t *)&ends[i].poll, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(ends);
  close_fds(fds, 2 * n);
  free(fds);
  return rc;
}

/* ======================================================= blocking the loop */

typedef struct blk {
  int64_t tick, work, start_delay, tail;
  int offload;
  int64_t stop_at;
  int64_t late_max, late_sum, ticks;
  int64_t work_t0, work_took;
  uv_work_t req;
  uv_timer_t worker;
} blk;

typedef struct ticker {
  uv_timer_t timer;
  blk *b;
  int64_t prev;
} ticker;

static void tick_cb(uv_timer_t *h) {
  ticker *t = h->data;
  blk *b = t->b;
  int64_t now = now_ns();
  if (t->prev) {
    int64_t late = now - t->prev - b->tick;
    if (late < 0) late = 0;
    if (late > b->late_max) b->late_max = late;
    b->late_sum += late;
    b->ticks++;
  }
  t->prev = now;
  if (b->stop_at && now >= b->stop_at) {
    uv_timer_stop(h);
    uv_close((uv_handle_t *)h, NULL);
  }
}

static void work_finished(blk *b) {
  int64_t now = now_ns();
  b->work_took = now - b->work_t0;
  b->stop_at = now + b->tail;
}

static void burn_cb(uv_work_t *req) {
  blk *b = req->data;
  burn_cpu(b->work);
}

static void after_burn(uv_work_t *req, int status) {
  (void)status;
  work_finished(req->data);
}

static void noop_cb(uv_work_t *req) { (void)req; }
static void after_noop(uv_work_t *req, int status) { (void)req, (void)status; }

static void worker_cb(uv_timer_t *h) {
  blk *b = h->data;
  b->work_t0 = now_ns();
  if (b->offload) {
    b->req.data = b;
    if (uv_queue_work(h->loop, &b->req, burn_cb, after_burn) < 0) work_finished(b);
  } else {
    burn_cpu(b->work);
    work_finished(b);
  }
  uv_close((uv_handle_t *)h, NULL);
}

static int block_round(const params *p, int offload, const char *prefix) {
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop));
  blk b;
  memset(&b, 0, sizeof b);
  b.tick = p->tick_ns;
  b.work = p->work_ns;
  b.start_delay = 50000000;
  b.tail = 50000000;
  b.offload = offload;
  uv_work_t warm;
  CHECK(uv_queue_work(&loop, &warm, noop_cb, after_noop)); /* start the pool first */
  uv_run(&loop, UV_RUN_DEFAULT);
  int64_t nt = p->tickers;
  ticker *ts = calloc((size_t)nt, sizeof *ts);
  uint64_t tick_ms = (uint64_t)(p->tick_ns / 1000000);
  if (tick_ms == 0) tick_ms = 1;
  CHECK(uv_timer_init(&loop, &b.worker));
  b.worker.data = &b;
  CHECK(uv_timer_start(&b.worker, worker_cb, (uint64_t)(b.start_delay / 1000000), 0));
  for (int64_t i = 0; i < nt; i++) {
    ts[i].b = &b;
    CHECK(uv_timer_init(&loop, &ts[i].timer));
    ts[i].timer.data = &ts[i];
    CHECK(uv_timer_start(&ts[i].timer, tick_cb, 0, tick_ms));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop));
  free(ts);
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
  report_note("tickers: repeating uv_timer_t (1 ms); work inline in a timer callback vs "
              "uv_queue_work");
  return 0;
}

/* ================================================================ entry */

int run_uv(const params *p) {
  if (!strcmp(p->workload, "fanout")) return do_fanout(p);
  if (!strcmp(p->workload, "switch")) return do_switch(p);
  if (!strcmp(p->workload, "fdpp")) return do_fdpp(p);
  if (!strcmp(p->workload, "block")) return do_block(p);
  return 2;
}
