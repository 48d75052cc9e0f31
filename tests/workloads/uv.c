/*
 * uv.c -- the workloads on libuv (Debian's libuv1), the reference:
 * callback style, as libuv is meant to be used. Handles live in arrays the
 * program allocates (the cheapest way to hold them) and one-shot handles are
 * closed in their own callback, as idiomatic libuv code does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "workloads.h"

#define CHECK(call)                                                              \
  do {                                                                           \
    int rc_ = (call);                                                            \
    if (rc_ < 0) {                                                               \
      fprintf(stderr, "weft-compare: %s: %s\n", #call, uv_strerror(rc_));        \
      wl_note("%s failed: %s", #call, uv_err_name(rc_));                     \
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
  if (err < 0) wl_note("creation stopped at %lld: %s", (long long)created, uv_err_name(err));
  wl_num("n", (double)n);
  wl_num("created", (double)created);
  wl_num("peak_concurrent", (double)g_fan_pc.peak);
  wl_num("create_ns", created ? (double)(t1 - t0) / (double)created : 0);
  wl_num("wall_ns", (double)(t2 - t0));
  wl_num("rss_delta", (double)(m1.hwm - m0.rss));
  wl_num("vm_delta", (double)(m1.vmpeak - m0.vmsize));
  return err < 0;
}

int wl_uv_fanout(const wl_params *p) {
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

int wl_uv_switch(const wl_params *p) {
  uv_loop_t loop;
  sw_state s;
  memset(&s, 0, sizeof s);
  CHECK(uv_loop_init(&loop));
  for (int i = 0; i < 2; i++) {
    CHECK(uv_idle_init(&loop, &s.idle[i]));
    s.idle[i].data = &s;
  }
  measure_switch(p, "switch", sw_run, &s);
  if (s.misses) wl_note("token found with the wrong party %lld times", (long long)s.misses);
  wl_note("two uv_idle_t callbacks passing a token (both run once per loop iteration)");
  uv_close((uv_handle_t *)&s.idle[0], NULL);
  uv_close((uv_handle_t *)&s.idle[1], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop));
  return 0;
}

/* ======================================================== fd ping-pong */

typedef struct pp_end {
  fdpp_end e; /* the message logic (util.c) */
  uv_poll_t poll;
} pp_end;

static int64_t g_pp_errors;

static void fdpp_cb(uv_poll_t *h, int status, int events) {
  pp_end *pe = h->data;
  (void)events;
  int r = status < 0 ? -1 : fdpp_on_readable(&pe->e);
  if (r < 0) g_pp_errors++;
  if (r != 0) uv_poll_stop(h);
}

int wl_uv_fdpp(const wl_params *p) {
  int64_t n = p->n;
  int *fds = malloc(sizeof(int) * (size_t)(2 * n));
  memset(fds, -1, sizeof(int) * (size_t)(2 * n));
  int64_t made = make_socketpairs(fds, n, 1);
  if (made < n) {
    wl_note("socketpair failed after %lld pairs: %s", (long long)made, strerror(errno));
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
    fdpp_reset(&ends[i].e, fds[i], (i % 2) == 0, 0);
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
      e->e.left = k;
      e->e.got = 0;
      if (e->e.initiator && fdpp_send(&e->e) < 0) rc = 1;
      CHECK(uv_poll_start(&e->poll, UV_READABLE, fdpp_cb));
    }
    int64_t t0 = now_ns();
    uv_run(&loop, UV_RUN_DEFAULT);
    int64_t t1 = now_ns();
    if (r == 0) mem_snap(&m1);
    else v[r - 1] = (double)(t1 - t0);
  }
  if (g_pp_errors) wl_note("%lld read/write errors", (long long)g_pp_errors), rc = 1;
  if (!rc) {
    fdpp_figures(p, v, reps, &m0, &m1);
    wl_note("a uv_poll_t per socket end (UV_READABLE): read, write");
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

static int block_round(const wl_params *p, int offload, const char *prefix) {
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
  block_figures(prefix, b.late_max, b.late_sum, b.ticks, b.work_took);
  return 0;
}

int wl_uv_block(const wl_params *p) {
  if (block_round(p, 0, "inline")) return 1;
  if (block_round(p, 1, "offload")) return 1;
  wl_note("tickers: repeating uv_timer_t (1 ms); work inline in a timer callback vs "
              "uv_queue_work");
  return 0;
}

/* ==================================================================
 * weft-bench-run's workloads (weft.c has the same on weft, function for
 * function). Handles are closed and loops closed as libuv requires. */

static uv_loop_t *new_loop(void) {
  uv_loop_t *loop = malloc(sizeof *loop);
  WL_CHECK(loop && uv_loop_init(loop) == 0);
  return loop;
}

static void free_loop(uv_loop_t *loop) {
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);  /* pending close callbacks */
  WL_CHECK(uv_loop_close(loop) == 0);
  free(loop);
}

/* ------------------------------------------------------------------ timers */

static int64_t g_fired, g_closed;

static void timers_cb(uv_timer_t *h) {
  (void)h;
  g_fired++;
}

static void timers_close_cb(uv_handle_t *h) {
  (void)h;
  g_closed++;
}

int wl_uv_timers(const wl_params *p) {
  const int64_t n = p->n;
  uv_loop_t *loop = new_loop();

  const int64_t c0 = cpu_ns(), w0 = now_ns(), s0 = sys_ns();
  WL_PHASE_BEGIN();
  uv_timer_t *timers = malloc(sizeof(uv_timer_t) * (size_t)n);
  WL_CHECK(timers);
  int64_t timeout = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i % 1000 == 0) timeout++;
    WL_CHECK(uv_timer_init(loop, timers + i) == 0);
    WL_CHECK(uv_timer_start(timers + i, timers_cb, (uint64_t)timeout, 0) == 0);
  }
  WL_PHASE_END("start");
  const int64_t c1 = cpu_ns(), w1 = now_ns(), s1 = sys_ns();
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WL_PHASE_END("dispatch");
  const int64_t c2 = cpu_ns(), w2 = now_ns(), s2 = sys_ns();
  for (int64_t i = 0; i < n; i++) uv_close((uv_handle_t *)(timers + i), timers_close_cb);
  free_loop(loop);
  free(timers);
  WL_PHASE_END("cleanup");
  const int64_t c3 = cpu_ns(), w3 = now_ns(), s3 = sys_ns();
  WL_CHECK(g_fired == n && g_closed == n);

    wl_num("start_cpu_ns", (double)(c1 - c0) / n);
  wl_num("dispatch_cpu_ns", (double)(c2 - c1) / n);
  wl_num("cleanup_cpu_ns", (double)(c3 - c2) / n);
  wl_num("start_sys_ns", (double)(s1 - s0) / n);
  wl_num("dispatch_sys_ns", (double)(s2 - s1) / n);
  wl_num("cleanup_sys_ns", (double)(s3 - s2) / n);
  wl_num("start_wall_ns", (double)(w1 - w0) / n);
  wl_num("dispatch_wall_s", (double)(w2 - w1) / 1e9);
  wl_num("cleanup_wall_ns", (double)(w3 - w2) / n);
  wl_num("maxrss_bytes", (double)maxrss_bytes());
    return 0;
}

/* -------------------------------------------------------------- loop_count
 * One uv_idle handle (libuv's loop_count_timed); a timer ends it. Variant
 * "fd" adds one uv_poll that never fires (weft's "_fd" variants). */

struct lc {
  int64_t ticks, count;
  int stop;
};

static uv_poll_t *g_lc_poll;

static void lc_idle(uv_idle_t *h) {
  struct lc *s = h->data;
  s->ticks++;
  if (s->stop || (s->count && s->ticks >= s->count)) {
    uv_idle_stop(h);
    if (g_lc_poll) uv_poll_stop(g_lc_poll);
  }
}

static void lc_never(uv_poll_t *h, int status, int events) {
  (void)h, (void)status, (void)events;
  WL_CHECK(!"idle fd became ready");
}

static void lc_stop(uv_timer_t *h) { ((struct lc *)h->data)->stop = 1; }

int wl_uv_loop_count(const wl_params *p) {
  struct lc s = {0, p->count, 0};
  uv_loop_t *loop = new_loop();
  uv_idle_t idle;
  uv_timer_t timer;
  WL_CHECK(uv_idle_init(loop, &idle) == 0);
  idle.data = &s;
  WL_CHECK(uv_idle_start(&idle, lc_idle) == 0);
  /* variant "fd": one uv_poll that never fires as well (as weft's "_fd"). */
  int fds[2] = {-1, -1};
  uv_poll_t poll;
  if (strstr(p->variant, "fd")) {
    wl_socketpair(fds);
    WL_CHECK(uv_poll_init(loop, &poll, fds[0]) == 0);
    WL_CHECK(uv_poll_start(&poll, UV_READABLE, lc_never) == 0);
    g_lc_poll = &poll;
  }
  WL_CHECK(uv_timer_init(loop, &timer) == 0);
  timer.data = &s;
  if (!p->count)
    WL_CHECK(uv_timer_start(&timer, lc_stop, (uint64_t)(p->duration * 1000), 0) == 0);

  const int64_t c0 = cpu_ns(), w0 = now_ns();
  WL_PHASE_BEGIN();
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WL_PHASE_END("run");
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  uv_close((uv_handle_t *)&idle, NULL);
  uv_close((uv_handle_t *)&timer, NULL);
  if (g_lc_poll) uv_close((uv_handle_t *)&poll, NULL);
  free_loop(loop);
  if (fds[0] >= 0) {
    close(fds[0]);
    close(fds[1]);
  }

    wl_num("ticks", (double)s.ticks);
  wl_num("ticks_per_cpu_s", s.ticks / ((c1 - c0) / 1e9));
  wl_num("ticks_per_s", s.ticks / ((w1 - w0) / 1e9));
    return 0;
}

/* ---------------------------------------------------------------- pingpong
 * uv_poll on both ends of a socketpair (variant "stream": libuv streams,
 * below); threads == 2 puts the echo end on a
 * second loop on a second thread. */

struct upp {
  struct pp pp;
  uv_poll_t pa, pb;
};

static void pp_pinger_cb(uv_poll_t *h, int status, int events) {
  (void)events;
  WL_CHECK(status == 0);
  struct upp *u = h->data;
  if (pp_pinger_read(&u->pp, (int64_t)uv_now(h->loop) * 1000000)) uv_close((uv_handle_t *)h, NULL);
}

static void pp_echo_cb(uv_poll_t *h, int status, int events) {
  (void)events;
  WL_CHECK(status == 0);
  struct upp *u = h->data;
  if (pp_echo_read(u->pp.b)) uv_close((uv_handle_t *)h, NULL);
}

static void *pp_echo_thread(void *arg) {
  WL_CHECK(uv_run(arg, UV_RUN_DEFAULT) == 0);
  return NULL;
}

/* Variant "stream": libuv's streams on the socketpair (uv_pipe_open,
 * uv_read_start, uv_try_write falling back to uv_write), the way a libuv
 * user writes socket I/O. */
struct ups {
  struct pp pp;
  uv_pipe_t a, b;
  char rbuf[2][64];
  uv_write_t wreq;
  char wbuf[64];
  int wpending;
};

static void ups_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct ups *u = h->data;
  (void)suggested;
  int i = h == (uv_handle_t *)&u->a ? 0 : 1;
  *buf = uv_buf_init(u->rbuf[i], sizeof u->rbuf[i]);
}

static void ups_written(uv_write_t *req, int status) {
  WL_CHECK(status == 0);
  ((struct ups *)req->data)->wpending = 0;
}

/* Writes all of buf: uv_try_write, then uv_write for the rest. */
static void ups_send(struct ups *u, uv_stream_t *st, const char *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int w = uv_try_write(st, &b, 1);
  if (w == (int)n) return;
  WL_CHECK(w >= 0 || w == UV_EAGAIN);
  if (w < 0) w = 0;
  WL_CHECK(!u->wpending && n - (size_t)w <= sizeof u->wbuf);
  memcpy(u->wbuf, p + w, n - (size_t)w);
  b = uv_buf_init(u->wbuf, (unsigned)(n - (size_t)w));
  u->wreq.data = u;
  u->wpending = 1;
  WL_CHECK(uv_write(&u->wreq, st, &b, 1, ups_written) == 0);
}

static void ups_pinger_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct ups *u = st->data;
  (void)buf;
  if (nread == 0) return;
  WL_CHECK(nread > 0);
  struct pp *s = &u->pp;
  s->got += (int)nread;
  while (s->got >= WL_PING_LEN) {
    s->got -= WL_PING_LEN;
    s->pongs++;
  }
  if (s->got) return;
  if (s->count ? s->pongs >= s->count
               : (int64_t)uv_now(st->loop) * 1000000 - s->start >= s->dur_ns) {
    shutdown(s->a, SHUT_WR);
    uv_close((uv_handle_t *)st, NULL);
    return;
  }
  ups_send(u, st, WL_PING, WL_PING_LEN);
}

static void ups_echo_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  struct ups *u = st->data;
  if (nread == UV_EOF) {
    uv_close((uv_handle_t *)st, NULL);
    return;
  }
  if (nread == 0) return;
  WL_CHECK(nread > 0);
  ups_send(u, st, buf->base, (size_t)nread);
}

/* --pairs P (default 1): P socketpairs, each its own pinger and echo end,
 * all pingers on the first loop; the figures sum the pairs' round trips. */
static int64_t pp_pairs(const wl_params *p) { return p->pairs > 0 ? p->pairs : 1; }

static int uv_pingpong_stream(const wl_params *p) {
  const int64_t np = pp_pairs(p);
  struct ups *us = calloc((size_t)np, sizeof *us);
  WL_CHECK(us != NULL);
  uv_loop_t *loop = new_loop(), *loop2 = loop;
  if (p->threads > 1) loop2 = new_loop();
  for (int64_t i = 0; i < np; i++) {
    struct ups *u = &us[i];
    int fds[2];
    wl_socketpair(fds);
    u->pp.a = fds[0];
    u->pp.b = fds[1];
    u->pp.count = p->count;
    u->pp.dur_ns = (int64_t)(p->duration * 1e9);
    WL_CHECK(uv_pipe_init(loop, &u->a, 0) == 0);
    WL_CHECK(uv_pipe_init(loop2, &u->b, 0) == 0);
    WL_CHECK(uv_pipe_open(&u->a, fds[0]) == 0);
    WL_CHECK(uv_pipe_open(&u->b, fds[1]) == 0);
    u->a.data = u->b.data = u;
    WL_CHECK(uv_read_start((uv_stream_t *)&u->a, ups_alloc, ups_pinger_read) == 0);
    WL_CHECK(uv_read_start((uv_stream_t *)&u->b, ups_alloc, ups_echo_read) == 0);
  }
  pthread_t th;
  if (p->threads > 1) WL_CHECK(pthread_create(&th, NULL, pp_echo_thread, loop2) == 0);
  const int64_t c0 = cpu_ns(), w0 = now_ns();
  uv_update_time(loop);
  for (int64_t i = 0; i < np; i++) us[i].pp.start = (int64_t)uv_now(loop) * 1000000;
  WL_PHASE_BEGIN();
  for (int64_t i = 0; i < np; i++) ups_send(&us[i], (uv_stream_t *)&us[i].a, WL_PING, WL_PING_LEN);
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WL_PHASE_END("run");
  if (p->threads > 1) WL_CHECK(pthread_join(th, NULL) == 0);
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  if (loop2 != loop) free_loop(loop2);
  free_loop(loop); /* the pipes closed the fds */
  int64_t pongs = 0;
  for (int64_t i = 0; i < np; i++) pongs += us[i].pp.pongs;
  wl_num("pairs", (double)np);
  wl_num("roundtrips", (double)pongs);
  wl_num("roundtrips_per_s", pongs / ((w1 - w0) / 1e9));
  wl_num("roundtrips_per_cpu_s", pongs / ((c1 - c0) / 1e9));
  free(us);
  return 0;
}

int wl_uv_pingpong(const wl_params *p) {
  if (!strcmp(p->variant, "stream")) return uv_pingpong_stream(p);
  const int64_t np = pp_pairs(p);
  struct upp *us = calloc((size_t)np, sizeof *us);
  WL_CHECK(us != NULL);
  uv_loop_t *loop = new_loop(), *loop2 = loop;
  if (p->threads > 1) loop2 = new_loop();
  for (int64_t i = 0; i < np; i++) {
    struct upp *u = &us[i];
    int fds[2];
    wl_socketpair(fds);
    u->pp.a = fds[0];
    u->pp.b = fds[1];
    u->pp.count = p->count;
    u->pp.dur_ns = (int64_t)(p->duration * 1e9);
    WL_CHECK(uv_poll_init(loop, &u->pa, u->pp.a) == 0);
    WL_CHECK(uv_poll_init(loop2, &u->pb, u->pp.b) == 0);
    u->pa.data = u->pb.data = u;
    WL_CHECK(uv_poll_start(&u->pa, UV_READABLE, pp_pinger_cb) == 0);
    WL_CHECK(uv_poll_start(&u->pb, UV_READABLE, pp_echo_cb) == 0);
  }
  pthread_t th;
  if (p->threads > 1) WL_CHECK(pthread_create(&th, NULL, pp_echo_thread, loop2) == 0);

  const int64_t c0 = cpu_ns(), w0 = now_ns();
  uv_update_time(loop);
  for (int64_t i = 0; i < np; i++) us[i].pp.start = (int64_t)uv_now(loop) * 1000000;
  WL_PHASE_BEGIN();
  for (int64_t i = 0; i < np; i++) pp_send(us[i].pp.a);
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WL_PHASE_END("run");
  if (p->threads > 1) WL_CHECK(pthread_join(th, NULL) == 0);
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  if (loop2 != loop) free_loop(loop2);
  free_loop(loop);
  int64_t pongs = 0;
  for (int64_t i = 0; i < np; i++) {
    pongs += us[i].pp.pongs;
    close(us[i].pp.a);
    close(us[i].pp.b);
  }
  free(us);

  wl_num("pairs", (double)np);
  wl_num("roundtrips", (double)pongs);
  wl_num("roundtrips_per_s", pongs / ((w1 - w0) / 1e9));
  wl_num("roundtrips_per_cpu_s", pongs / ((c1 - c0) / 1e9));
  return 0;
}

/* --------------------------------------------------------------- to_thread
 * `threads` chains of uv_queue_work, each re-queued from its after_work
 * callback (libuv's queue_work benchmark); a timer ends it. */

struct tt {
  int64_t completions, count, snap, t0, t_snap;
  int stop;
};
struct tt_chain {
  uv_work_t req;
  struct tt *s;
  unsigned seed;
};

static void tt_work(uv_work_t *req) { wl_fastrand(&((struct tt_chain *)req->data)->seed); }

static void tt_after(uv_work_t *req, int status) {
  WL_CHECK(status == 0);
  struct tt_chain *c = req->data;
  struct tt *s = c->s;
  s->completions++;
  if (!(s->stop || (s->count && s->completions >= s->count)))
    WL_CHECK(uv_queue_work(req->loop, req, tt_work, tt_after) == 0);
}

static void tt_stop(uv_timer_t *h) {
  struct tt *s = h->data;
  s->stop = 1;
  s->snap = s->completions;
  s->t_snap = now_ns();
}

int wl_uv_to_thread(const wl_params *p) {
  struct tt s;
  memset(&s, 0, sizeof s);
  s.count = p->count;
  struct tt_chain chains[64];
  WL_CHECK(p->threads <= 64);
  uv_loop_t *loop = new_loop();
  uv_timer_t timer;
  WL_CHECK(uv_timer_init(loop, &timer) == 0);
  timer.data = &s;
  if (!p->count)
    WL_CHECK(uv_timer_start(&timer, tt_stop, (uint64_t)(p->duration * 1000), 0) == 0);

  const int64_t c0 = cpu_ns();
  s.t0 = now_ns();
  for (int i = 0; i < p->threads; i++) {
    chains[i].s = &s;
    chains[i].seed = (unsigned)i;
    chains[i].req.data = &chains[i];
    WL_CHECK(uv_queue_work(loop, &chains[i].req, tt_work, tt_after) == 0);
  }
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  const int64_t c1 = cpu_ns(), w1 = now_ns();
  if (p->count) {
    s.snap = s.completions;
    s.t_snap = w1;
  }
  uv_close((uv_handle_t *)&timer, NULL);
  free_loop(loop);

    wl_num("completions", (double)s.snap);
  wl_num("completions_per_s", s.snap / ((s.t_snap - s.t0) / 1e9));
  wl_num("cpu_per_completion_ns", (double)(c1 - c0) / (double)s.completions);
    return 0;
}

/* ------------------------------------------------------------------- posts
 * `threads` producers call uv_async_send on one handle as fast as they can
 * (libuv's async_pummel). libuv coalesces: many sends become one callback;
 * both counts are reported. A timer ends it. */

struct ps;
struct producer {
  _Alignas(64) int64_t posted;
  struct ps *s;
  pthread_t th;
};
struct ps {
  uv_async_t async;
  uv_timer_t timer;
  _Atomic int stop;
  int n;
  struct producer *prod;
  int64_t callbacks, snap, t0, t_snap, sends;
};

static void ps_cb(uv_async_t *h) { ((struct ps *)h->data)->callbacks++; }

static void *ps_producer(void *arg) {
  struct producer *pr = arg;
  struct ps *s = pr->s;
  while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
    WL_CHECK(uv_async_send(&s->async) == 0);
    pr->posted++;
  }
  return NULL;
}

static void ps_stop(uv_timer_t *h) {
  struct ps *s = h->data;
  s->snap = s->callbacks;
  s->t_snap = now_ns();
  atomic_store(&s->stop, 1);
  for (int i = 0; i < s->n; i++) {
    WL_CHECK(pthread_join(s->prod[i].th, NULL) == 0);
    s->sends += s->prod[i].posted;
  }
  uv_close((uv_handle_t *)&s->async, NULL);
  uv_close((uv_handle_t *)&s->timer, NULL);
}

int wl_uv_posts(const wl_params *p) {
  struct ps s;
  memset(&s, 0, sizeof s);
  s.n = p->threads;
  WL_CHECK(posix_memalign((void **)&s.prod, 64, sizeof(struct producer) * (size_t)s.n) == 0);
  memset(s.prod, 0, sizeof(struct producer) * (size_t)s.n);
  uv_loop_t *loop = new_loop();
  WL_CHECK(uv_async_init(loop, &s.async, ps_cb) == 0);
  s.async.data = &s;
  WL_CHECK(uv_timer_init(loop, &s.timer) == 0);
  s.timer.data = &s;
  WL_CHECK(uv_timer_start(&s.timer, ps_stop, (uint64_t)(p->duration * 1000), 0) == 0);
  s.t0 = now_ns();
  for (int i = 0; i < s.n; i++) {
    s.prod[i].s = &s;
    WL_CHECK(pthread_create(&s.prod[i].th, NULL, ps_producer, &s.prod[i]) == 0);
  }
  WL_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  free_loop(loop);
  const double secs = (s.t_snap - s.t0) / 1e9;

    wl_num("callbacks", (double)s.snap);
  wl_num("callbacks_per_s", s.snap / secs);
  wl_num("sends_per_s", s.sends / secs);
    free(s.prod);
  return 0;
}

/* ----------------------------------------------------------------- handles
 * The same two variants as weft's: "timers" (n uv_timer_t an hour away) and
 * "fds" (uv_poll READABLE on both ends of the socketpairs). Stop is
 * uv_close of every handle, the run that calls the close callbacks, and
 * uv_loop_close. */

static void never_timer(uv_timer_t *h) {
  (void)h;
  WL_CHECK(!"timer fired");
}

static void never_fd(uv_poll_t *h, int status, int events) { (void)h, (void)status, (void)events; }

int wl_uv_handles(const wl_params *p) {
  const int fds_mode = !strcmp(p->variant, "fds");
  int64_t n = p->n;
  int *fds = NULL;
  if (fds_mode) {
    n = 2 * wl_handle_pairs(p);
    fds = malloc(sizeof(int) * (size_t)n);
    WL_CHECK(fds);
    for (int64_t i = 0; i < n; i += 2) wl_socketpair(fds + i);
  }
  uv_loop_t *loop = new_loop();

  const int64_t r0 = rss_bytes(), c0 = cpu_ns();
  uv_timer_t *timers = NULL;
  uv_poll_t *polls = NULL;
  if (fds_mode) {
    polls = malloc(sizeof(uv_poll_t) * (size_t)n);
    WL_CHECK(polls);
    for (int64_t i = 0; i < n; i++) {
      WL_CHECK(uv_poll_init(loop, polls + i, fds[i]) == 0);
      WL_CHECK(uv_poll_start(polls + i, UV_READABLE, never_fd) == 0);
    }
  } else {
    timers = malloc(sizeof(uv_timer_t) * (size_t)n);
    WL_CHECK(timers);
    for (int64_t i = 0; i < n; i++) {
      WL_CHECK(uv_timer_init(loop, timers + i) == 0);
      WL_CHECK(uv_timer_start(timers + i, never_timer, 3600 * 1000, 0) == 0);
    }
  }
  WL_CHECK(uv_run(loop, UV_RUN_NOWAIT) != 0);
  const int64_t c1 = cpu_ns(), r1 = rss_bytes();
  for (int64_t i = 0; i < n; i++)
    uv_close(fds_mode ? (uv_handle_t *)(polls + i) : (uv_handle_t *)(timers + i), NULL);
  free_loop(loop);
  free(timers);
  free(polls);
  const int64_t c2 = cpu_ns();
  if (fds) {
    for (int64_t i = 0; i < n; i++) close(fds[i]);
    free(fds);
  }

  handles_figures(n, r0, r1, c0, c1, c2);
  return 0;
}
