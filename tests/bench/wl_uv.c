/*
 * wl_uv.c -- the workloads on libuv, the same shapes as wl_weft.c, function
 * for function. Handles are closed and loops closed as libuv requires.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "bench.h"

static uv_loop_t *new_loop(void) {
  uv_loop_t *loop = malloc(sizeof *loop);
  WB_CHECK(loop && uv_loop_init(loop) == 0);
  return loop;
}

static void free_loop(uv_loop_t *loop) {
  WB_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);  /* pending close callbacks */
  WB_CHECK(uv_loop_close(loop) == 0);
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

int wb_uv_timers(const wb_params *p) {
  const int64_t n = p->n;
  uv_loop_t *loop = new_loop();

  const int64_t c0 = wb_cpu_ns(), w0 = wb_wall_ns(), s0 = wb_sys_ns();
  WB_PHASE_BEGIN();
  uv_timer_t *timers = malloc(sizeof(uv_timer_t) * (size_t)n);
  WB_CHECK(timers);
  int64_t timeout = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i % 1000 == 0) timeout++;
    WB_CHECK(uv_timer_init(loop, timers + i) == 0);
    WB_CHECK(uv_timer_start(timers + i, timers_cb, (uint64_t)timeout, 0) == 0);
  }
  WB_PHASE_END("start");
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns(), s1 = wb_sys_ns();
  WB_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WB_PHASE_END("dispatch");
  const int64_t c2 = wb_cpu_ns(), w2 = wb_wall_ns(), s2 = wb_sys_ns();
  for (int64_t i = 0; i < n; i++) uv_close((uv_handle_t *)(timers + i), timers_close_cb);
  free_loop(loop);
  free(timers);
  WB_PHASE_END("cleanup");
  const int64_t c3 = wb_cpu_ns(), w3 = wb_wall_ns(), s3 = wb_sys_ns();
  WB_CHECK(g_fired == n && g_closed == n);

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
  wb_out_num("maxrss_bytes", (double)wb_maxrss_bytes());
  wb_out_end();
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
  WB_CHECK(!"idle fd became ready");
}

static void lc_stop(uv_timer_t *h) { ((struct lc *)h->data)->stop = 1; }

int wb_uv_loop_count(const wb_params *p) {
  struct lc s = {0, p->count, 0};
  uv_loop_t *loop = new_loop();
  uv_idle_t idle;
  uv_timer_t timer;
  WB_CHECK(uv_idle_init(loop, &idle) == 0);
  idle.data = &s;
  WB_CHECK(uv_idle_start(&idle, lc_idle) == 0);
  /* variant "fd": one uv_poll that never fires as well (as weft's "_fd"). */
  int fds[2] = {-1, -1};
  uv_poll_t poll;
  if (strstr(p->variant, "fd")) {
    wb_socketpair(fds);
    WB_CHECK(uv_poll_init(loop, &poll, fds[0]) == 0);
    WB_CHECK(uv_poll_start(&poll, UV_READABLE, lc_never) == 0);
    g_lc_poll = &poll;
  }
  WB_CHECK(uv_timer_init(loop, &timer) == 0);
  timer.data = &s;
  if (!p->count)
    WB_CHECK(uv_timer_start(&timer, lc_stop, (uint64_t)(p->duration * 1000), 0) == 0);

  const int64_t c0 = wb_cpu_ns(), w0 = wb_wall_ns();
  WB_PHASE_BEGIN();
  WB_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WB_PHASE_END("run");
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns();
  uv_close((uv_handle_t *)&idle, NULL);
  uv_close((uv_handle_t *)&timer, NULL);
  if (g_lc_poll) uv_close((uv_handle_t *)&poll, NULL);
  free_loop(loop);
  if (fds[0] >= 0) {
    close(fds[0]);
    close(fds[1]);
  }

  wb_out_begin(p);
  wb_out_num("ticks", (double)s.ticks);
  wb_out_num("ticks_per_cpu_s", s.ticks / ((c1 - c0) / 1e9));
  wb_out_num("ticks_per_s", s.ticks / ((w1 - w0) / 1e9));
  wb_out_end();
  return 0;
}

/* ---------------------------------------------------------------- pingpong
 * uv_poll on both ends of a socketpair; threads == 2 puts the echo end on a
 * second loop on a second thread. */

struct upp {
  struct pp pp;
  uv_poll_t pa, pb;
};

static void pp_pinger_cb(uv_poll_t *h, int status, int events) {
  (void)events;
  WB_CHECK(status == 0);
  struct upp *u = h->data;
  if (pp_pinger_read(&u->pp, (int64_t)uv_now(h->loop) * 1000000)) uv_close((uv_handle_t *)h, NULL);
}

static void pp_echo_cb(uv_poll_t *h, int status, int events) {
  (void)events;
  WB_CHECK(status == 0);
  struct upp *u = h->data;
  if (pp_echo_read(u->pp.b)) uv_close((uv_handle_t *)h, NULL);
}

static void *pp_echo_thread(void *arg) {
  WB_CHECK(uv_run(arg, UV_RUN_DEFAULT) == 0);
  return NULL;
}

int wb_uv_pingpong(const wb_params *p) {
  int fds[2];
  wb_socketpair(fds);
  struct upp u;
  memset(&u, 0, sizeof u);
  u.pp.a = fds[0];
  u.pp.b = fds[1];
  u.pp.count = p->count;
  u.pp.dur_ns = (int64_t)(p->duration * 1e9);

  uv_loop_t *loop = new_loop(), *loop2 = loop;
  if (p->threads > 1) loop2 = new_loop();
  WB_CHECK(uv_poll_init(loop, &u.pa, u.pp.a) == 0);
  WB_CHECK(uv_poll_init(loop2, &u.pb, u.pp.b) == 0);
  u.pa.data = u.pb.data = &u;
  WB_CHECK(uv_poll_start(&u.pa, UV_READABLE, pp_pinger_cb) == 0);
  WB_CHECK(uv_poll_start(&u.pb, UV_READABLE, pp_echo_cb) == 0);
  pthread_t th;
  if (p->threads > 1) WB_CHECK(pthread_create(&th, NULL, pp_echo_thread, loop2) == 0);

  const int64_t c0 = wb_cpu_ns(), w0 = wb_wall_ns();
  uv_update_time(loop);
  u.pp.start = (int64_t)uv_now(loop) * 1000000;
  WB_PHASE_BEGIN();
  pp_send(u.pp.a);
  WB_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  WB_PHASE_END("run");
  if (p->threads > 1) WB_CHECK(pthread_join(th, NULL) == 0);
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns();
  if (loop2 != loop) free_loop(loop2);
  free_loop(loop);
  close(u.pp.a);
  close(u.pp.b);

  wb_out_begin(p);
  wb_out_num("roundtrips", (double)u.pp.pongs);
  wb_out_num("roundtrips_per_s", u.pp.pongs / ((w1 - w0) / 1e9));
  wb_out_num("roundtrips_per_cpu_s", u.pp.pongs / ((c1 - c0) / 1e9));
  wb_out_end();
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

static void tt_work(uv_work_t *req) { wb_fastrand(&((struct tt_chain *)req->data)->seed); }

static void tt_after(uv_work_t *req, int status) {
  WB_CHECK(status == 0);
  struct tt_chain *c = req->data;
  struct tt *s = c->s;
  s->completions++;
  if (!(s->stop || (s->count && s->completions >= s->count)))
    WB_CHECK(uv_queue_work(req->loop, req, tt_work, tt_after) == 0);
}

static void tt_stop(uv_timer_t *h) {
  struct tt *s = h->data;
  s->stop = 1;
  s->snap = s->completions;
  s->t_snap = wb_wall_ns();
}

int wb_uv_to_thread(const wb_params *p) {
  struct tt s;
  memset(&s, 0, sizeof s);
  s.count = p->count;
  struct tt_chain chains[64];
  WB_CHECK(p->threads <= 64);
  uv_loop_t *loop = new_loop();
  uv_timer_t timer;
  WB_CHECK(uv_timer_init(loop, &timer) == 0);
  timer.data = &s;
  if (!p->count)
    WB_CHECK(uv_timer_start(&timer, tt_stop, (uint64_t)(p->duration * 1000), 0) == 0);

  const int64_t c0 = wb_cpu_ns();
  s.t0 = wb_wall_ns();
  for (int i = 0; i < p->threads; i++) {
    chains[i].s = &s;
    chains[i].seed = (unsigned)i;
    chains[i].req.data = &chains[i];
    WB_CHECK(uv_queue_work(loop, &chains[i].req, tt_work, tt_after) == 0);
  }
  WB_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  const int64_t c1 = wb_cpu_ns(), w1 = wb_wall_ns();
  if (p->count) {
    s.snap = s.completions;
    s.t_snap = w1;
  }
  uv_close((uv_handle_t *)&timer, NULL);
  free_loop(loop);

  wb_out_begin(p);
  wb_out_num("completions", (double)s.snap);
  wb_out_num("completions_per_s", s.snap / ((s.t_snap - s.t0) / 1e9));
  wb_out_num("cpu_per_completion_ns", (double)(c1 - c0) / (double)s.completions);
  wb_out_end();
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
    WB_CHECK(uv_async_send(&s->async) == 0);
    pr->posted++;
  }
  return NULL;
}

static void ps_stop(uv_timer_t *h) {
  struct ps *s = h->data;
  s->snap = s->callbacks;
  s->t_snap = wb_wall_ns();
  atomic_store(&s->stop, 1);
  for (int i = 0; i < s->n; i++) {
    WB_CHECK(pthread_join(s->prod[i].th, NULL) == 0);
    s->sends += s->prod[i].posted;
  }
  uv_close((uv_handle_t *)&s->async, NULL);
  uv_close((uv_handle_t *)&s->timer, NULL);
}

int wb_uv_posts(const wb_params *p) {
  struct ps s;
  memset(&s, 0, sizeof s);
  s.n = p->threads;
  WB_CHECK(posix_memalign((void **)&s.prod, 64, sizeof(struct producer) * (size_t)s.n) == 0);
  memset(s.prod, 0, sizeof(struct producer) * (size_t)s.n);
  uv_loop_t *loop = new_loop();
  WB_CHECK(uv_async_init(loop, &s.async, ps_cb) == 0);
  s.async.data = &s;
  WB_CHECK(uv_timer_init(loop, &s.timer) == 0);
  s.timer.data = &s;
  WB_CHECK(uv_timer_start(&s.timer, ps_stop, (uint64_t)(p->duration * 1000), 0) == 0);
  s.t0 = wb_wall_ns();
  for (int i = 0; i < s.n; i++) {
    s.prod[i].s = &s;
    WB_CHECK(pthread_create(&s.prod[i].th, NULL, ps_producer, &s.prod[i]) == 0);
  }
  WB_CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  free_loop(loop);
  const double secs = (s.t_snap - s.t0) / 1e9;

  wb_out_begin(p);
  wb_out_num("callbacks", (double)s.snap);
  wb_out_num("callbacks_per_s", s.snap / secs);
  wb_out_num("sends_per_s", s.sends / secs);
  wb_out_end();
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
  WB_CHECK(!"timer fired");
}

static void never_fd(uv_poll_t *h, int status, int events) { (void)h, (void)status, (void)events; }

int wb_uv_handles(const wb_params *p) {
  const int fds_mode = !strcmp(p->variant, "fds");
  int64_t n = p->n;
  int *fds = NULL;
  if (fds_mode) {
    n = 2 * wb_handle_pairs(p);
    fds = malloc(sizeof(int) * (size_t)n);
    WB_CHECK(fds);
    for (int64_t i = 0; i < n; i += 2) wb_socketpair(fds + i);
  }
  uv_loop_t *loop = new_loop();

  const int64_t r0 = wb_rss_bytes(), c0 = wb_cpu_ns();
  uv_timer_t *timers = NULL;
  uv_poll_t *polls = NULL;
  if (fds_mode) {
    polls = malloc(sizeof(uv_poll_t) * (size_t)n);
    WB_CHECK(polls);
    for (int64_t i = 0; i < n; i++) {
      WB_CHECK(uv_poll_init(loop, polls + i, fds[i]) == 0);
      WB_CHECK(uv_poll_start(polls + i, UV_READABLE, never_fd) == 0);
    }
  } else {
    timers = malloc(sizeof(uv_timer_t) * (size_t)n);
    WB_CHECK(timers);
    for (int64_t i = 0; i < n; i++) {
      WB_CHECK(uv_timer_init(loop, timers + i) == 0);
      WB_CHECK(uv_timer_start(timers + i, never_timer, 3600 * 1000, 0) == 0);
    }
  }
  WB_CHECK(uv_run(loop, UV_RUN_NOWAIT) != 0);
  const int64_t c1 = wb_cpu_ns(), r1 = wb_rss_bytes();
  for (int64_t i = 0; i < n; i++)
    uv_close(fds_mode ? (uv_handle_t *)(polls + i) : (uv_handle_t *)(timers + i), NULL);
  free_loop(loop);
  free(timers);
  free(polls);
  const int64_t c2 = wb_cpu_ns();
  if (fds) {
    for (int64_t i = 0; i < n; i++) close(fds[i]);
    free(fds);
  }

  wb_out_handles(p, n, r0, r1, c0, c1, c2);
  return 0;
}
