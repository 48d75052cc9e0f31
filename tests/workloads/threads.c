/*
 * threads.c -- the workloads on OS threads: one pthread per waiter,
 * default attributes (so the default stack size, 8 MB of address space
 * here), blocking system calls, mutex + condition variable for handoffs.
 * This is the "thread per request" model of the seeds, written the way a C
 * programmer would write it.
 *
 * Thread counts are capped (params.thread_cap) well below the machine's
 * pid_max so the shared machine stays usable; creation also stops at the
 * first pthread_create failure. Both are reported.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workloads.h"

/* =============================================================== fan-out */

static peak_counter g_fan_pc;
static int64_t g_fan_sleep;
/* The start gate: the creator holds it for writing while it creates the
 * threads; each thread passes it (read lock, unlock) and then sleeps. So the
 * sleeps begin once every thread exists, as weft tasks' sleeps begin when the
 * loop runs their first steps after all were spawned; without the gate, at
 * 10,000 threads the first ones would be gone before the last were created. */
static pthread_rwlock_t g_fan_gate = PTHREAD_RWLOCK_INITIALIZER;

static void *fan_thread(void *arg) {
  (void)arg;
  peak_enter(&g_fan_pc);
  pthread_rwlock_rdlock(&g_fan_gate);
  pthread_rwlock_unlock(&g_fan_gate);
  sleep_ns(g_fan_sleep);
  peak_leave(&g_fan_pc);
  return NULL;
}

typedef struct fan_result {
  int64_t created, alive_after_create, err;
  int64_t t_create, t_wall;
  memsnap m0, m_created, m1;
} fan_result;

static void fan_round(int64_t n, int64_t cap, int64_t sleep, fan_result *r) {
  memset(r, 0, sizeof *r);
  g_fan_sleep = sleep;
  memset(&g_fan_pc, 0, sizeof g_fan_pc);
  int64_t want = n < cap ? n : cap;
  mem_reset_peak();
  mem_snap(&r->m0);
  int64_t t0 = now_ns();
  pthread_t *tids = malloc(sizeof *tids * (size_t)(want ? want : 1));
  pthread_rwlock_wrlock(&g_fan_gate);
  for (; r->created < want; r->created++) {
    int e = pthread_create(&tids[r->created], NULL, fan_thread, NULL);
    if (e) {
      r->err = e;
      break;
    }
  }
  int64_t t1 = now_ns();
  /* every thread exists now; most are blocked at the gate */
  r->alive_after_create = r->created;
  mem_snap(&r->m_created);
  pthread_rwlock_unlock(&g_fan_gate);
  for (int64_t i = 0; i < r->created; i++) pthread_join(tids[i], NULL);
  int64_t t2 = now_ns();
  mem_snap(&r->m1);
  free(tids);
  r->t_create = t1 - t0;
  r->t_wall = t2 - t0;
}

int wl_threads_fanout(const wl_params *p) {
  fan_result r;
  fan_round(3, 3, 1000000, &r); /* warm-up */
  fan_round(p->n, p->thread_cap, p->sleep_ns, &r);
  wl_num("n", (double)p->n);
  wl_num("created", (double)r.created);
  wl_num("peak_concurrent", (double)g_fan_pc.peak);
  wl_num("create_ns", r.created ? (double)r.t_create / (double)r.created : 0);
  wl_num("wall_ns", (double)r.t_wall);
  wl_num("rss_delta", (double)(r.m1.hwm - r.m0.rss));
  wl_num("vm_delta", (double)(r.m1.vmpeak - r.m0.vmsize));
  wl_num("kstack_delta", (double)(r.m_created.kstack - r.m0.kstack));
  wl_num("kstack_sampled_alive", (double)r.alive_after_create);
  if (r.err) {
    wl_num("create_failed_at", (double)r.created);
    wl_note("pthread_create failed after %lld threads: %s", (long long)r.created,
                strerror((int)r.err));
  } else if (r.created < p->n) {
    wl_num("capped_at", (double)r.created);
    wl_note("capped at %lld threads (--thread-cap; pid_max is shared by the machine)",
                (long long)r.created);
  }
  return 0;
}

/* ================================================================ switch */

typedef struct sw_state {
  pthread_mutex_t mu;
  pthread_cond_t cv[2];
  int turn;       /* -1 until the run starts, then the party holding the token */
  int64_t left;
  int pin_cpu;    /* -1, or the CPU both threads are pinned to */
} sw_state;

typedef struct sw_party {
  sw_state *s;
  int me;
} sw_party;

static void *sw_thread(void *arg) {
  sw_party *p = arg;
  sw_state *s = p->s;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (s->turn != p->me && s->left > 0) pthread_cond_wait(&s->cv[p->me], &s->mu);
    if (s->left <= 0) break;
    s->left--;
    s->turn = !p->me;
    pthread_cond_signal(&s->cv[!p->me]);
  }
  pthread_cond_signal(&s->cv[!p->me]); /* let the other see the end */
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static int64_t sw_run(void *vs, int64_t rounds) {
  sw_state *s = vs;
  sw_party a = {s, 0}, b = {s, 1};
  pthread_t ta, tb;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (s->pin_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(s->pin_cpu, &set);
    pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  }
  s->turn = -1;
  s->left = rounds;
  if (pthread_create(&ta, &attr, sw_thread, &a)) return -1;
  if (pthread_create(&tb, &attr, sw_thread, &b)) {
    pthread_mutex_lock(&s->mu);
    s->left = 0;
    pthread_cond_broadcast(&s->cv[0]);
    pthread_mutex_unlock(&s->mu);
    pthread_join(ta, NULL);
    return -1;
  }
  pthread_attr_destroy(&attr);
  sleep_ns(1000000); /* let both reach their wait */
  int64_t t0 = now_ns();
  pthread_mutex_lock(&s->mu);
  s->turn = 0;
  pthread_cond_signal(&s->cv[0]);
  pthread_mutex_unlock(&s->mu);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  return now_ns() - t0;
}

static int first_cpu(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) return c;
  return 0;
}

int wl_threads_switch(const wl_params *p) {
  sw_state s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cv[0], NULL);
  pthread_cond_init(&s.cv[1], NULL);
  s.pin_cpu = -1;
  measure_switch(p, "switch", sw_run, &s);
  s.pin_cpu = first_cpu();
  measure_switch(p, "switch_1cpu", sw_run, &s);
  wl_note("two threads, mutex + one condvar each, token in a shared int; "
              "switch_1cpu: both pinned to CPU %d", s.pin_cpu);
  pthread_cond_destroy(&s.cv[0]);
  pthread_cond_destroy(&s.cv[1]);
  pthread_mutex_destroy(&s.mu);
  return 0;
}

/* ======================================================== fd ping-pong */

typedef struct pp_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
} pp_gate;

typedef struct pp_end {
  int fd;
  int initiator;
  int64_t k;
  pp_gate *gate;
  int failed;
} pp_end;

static int read_full(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static void *pp_thread(void *arg) {
  pp_end *e = arg;
  char buf[MSG_SIZE];
  memset(buf, 'x', sizeof buf);
  if (e->initiator) { /* wait for the start so creation is not timed */
    pthread_mutex_lock(&e->gate->mu);
    while (!e->gate->open) pthread_cond_wait(&e->gate->cv, &e->gate->mu);
    pthread_mutex_unlock(&e->gate->mu);
  }
  for (int64_t i = 0; i < e->k; i++) {
    if (e->initiator) {
      if (write(e->fd, buf, MSG_SIZE) != MSG_SIZE || read_full(e->fd, buf, MSG_SIZE)) goto fail;
    } else {
      if (read_full(e->fd, buf, MSG_SIZE) || write(e->fd, buf, MSG_SIZE) != MSG_SIZE) goto fail;
    }
  }
  return NULL;
fail:
  e->failed = 1;
  return NULL;
}

/* One timed run: 2n threads, gate, go, join. Returns ns or -1. */
static int64_t pp_round(int *fds, int64_t n, int64_t k, pp_end *ends, pthread_t *tids,
                        int64_t *created, int *err) {
  pp_gate gate;
  pthread_mutex_init(&gate.mu, NULL);
  pthread_cond_init(&gate.cv, NULL);
  gate.open = 0;
  *created = 0;
  *err = 0;
  for (int64_t i = 0; i < 2 * n; i++) {
    ends[i] = (pp_end){fds[i], (i % 2) == 0, k, &gate, 0};
    int e = pthread_create(&tids[i], NULL, pp_thread, &ends[i]);
    if (e) {
      *err = e;
      /* unblock what was created: the gate opens and the ends see EOF */
      break;
    }
    (*created)++;
  }
  if (*err) {
    for (int64_t i = 0; i < 2 * n; i++) shutdown(fds[i], SHUT_RDWR);
  }
  int64_t t0 = now_ns();
  pthread_mutex_lock(&gate.mu);
  gate.open = 1;
  pthread_cond_broadcast(&gate.cv);
  pthread_mutex_unlock(&gate.mu);
  int failed = 0;
  for (int64_t i = 0; i < *created; i++) {
    pthread_join(tids[i], NULL);
    failed |= ends[i].failed;
  }
  int64_t t1 = now_ns();
  pthread_cond_destroy(&gate.cv);
  pthread_mutex_destroy(&gate.mu);
  return (*err || failed) ? -1 : t1 - t0;
}

int wl_threads_fdpp(const wl_params *p) {
  int64_t n = p->n;
  if (2 * n > p->thread_cap) {
    wl_note("needs %lld threads, more than the cap of %lld: not run",
                (long long)(2 * n), (long long)p->thread_cap);
    wl_num("skipped", 1);
    return 0;
  }
  int *fds = malloc(sizeof(int) * (size_t)(2 * n));
  memset(fds, -1, sizeof(int) * (size_t)(2 * n));
  int64_t made = make_socketpairs(fds, n, 0);
  if (made < n) {
    wl_note("socketpair failed after %lld pairs: %s", (long long)made, strerror(errno));
    close_fds(fds, 2 * n);
    free(fds);
    return 1;
  }
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  pp_end *ends = calloc((size_t)(2 * n), sizeof *ends);
  pthread_t *tids = calloc((size_t)(2 * n), sizeof *tids);
  double v[64];
  int reps = p->reps < 1 ? 1 : p->reps > 63 ? 63 : p->reps;
  int rc = 0;
  for (int r = 0; r <= reps && !rc; r++) { /* run 0 is the warm-up */
    int64_t created;
    int err;
    int64_t t = pp_round(fds, n, r == 0 ? (p->k < 10 ? p->k : 10) : p->k, ends, tids, &created,
                         &err);
    if (t < 0) {
      if (err) {
        wl_num("create_failed_at", (double)created);
        wl_note("pthread_create failed after %lld threads: %s", (long long)created,
                    strerror(err));
      } else {
        wl_note("read/write failed");
      }
      rc = 1;
    }
    if (r == 0) mem_snap(&m1);
    else v[r - 1] = (double)t;
  }
  if (!rc) {
    fdpp_figures(p, v, reps, &m0, &m1);
    wl_note("a thread per socket end, blocking read/write (2 threads per pair)");
  }
  free(ends);
  free(tids);
  close_fds(fds, 2 * n);
  free(fds);
  return rc;
}

/* ======================================================= blocking the loop */

typedef struct blk {
  int64_t tick, work, start_delay, tail;
  int64_t stop_at; /* atomic: 0 until the work is done */
  int64_t work_took;
} blk;

typedef struct ticker {
  blk *b;
  int64_t late_max, late_sum, ticks;
} ticker;

static void *tick_thread(void *arg) {
  ticker *t = arg;
  int64_t prev = now_ns();
  for (;;) {
    sleep_ns(t->b->tick);
    int64_t now = now_ns();
    int64_t late = now - prev - t->b->tick;
    if (late < 0) late = 0;
    if (late > t->late_max) t->late_max = late;
    t->late_sum += late;
    t->ticks++;
    prev = now;
    int64_t stop = __atomic_load_n(&t->b->stop_at, __ATOMIC_ACQUIRE);
    if (stop && now >= stop) break;
  }
  return NULL;
}

static void *work_thread(void *arg) {
  blk *b = arg;
  sleep_ns(b->start_delay);
  int64_t t0 = now_ns();
  burn_cpu(b->work);
  int64_t t1 = now_ns();
  b->work_took = t1 - t0;
  __atomic_store_n(&b->stop_at, t1 + b->tail, __ATOMIC_RELEASE);
  return NULL;
}

static int block_round(const wl_params *p, int pin, const char *prefix) {
  blk b = {p->tick_ns, p->work_ns, 50000000, 50000000, 0, 0};
  int64_t nt = p->tickers;
  ticker *ts = calloc((size_t)nt, sizeof *ts);
  pthread_t *tids = calloc((size_t)nt, sizeof *tids);
  pthread_t wt;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (pin) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(first_cpu(), &set);
    pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  }
  int rc = 0;
  int64_t started = 0;
  if (pthread_create(&wt, &attr, work_thread, &b)) return 1;
  for (; started < nt; started++) {
    ts[started].b = &b;
    if (pthread_create(&tids[started], &attr, tick_thread, &ts[started])) {
      rc = 1;
      break;
    }
  }
  pthread_join(wt, NULL);
  int64_t late_max = 0, late_sum = 0, ticks = 0;
  for (int64_t i = 0; i < started; i++) {
    pthread_join(tids[i], NULL);
    if (ts[i].late_max > late_max) late_max = ts[i].late_max;
    late_sum += ts[i].late_sum;
    ticks += ts[i].ticks;
  }
  pthread_attr_destroy(&attr);
  free(ts);
  free(tids);
  block_figures(prefix, late_max, late_sum, ticks, b.work_took);
  return rc;
}

int wl_threads_block(const wl_params *p) {
  if (block_round(p, 0, "offload")) return 1;
  if (block_round(p, 1, "onecpu")) return 1;
  wl_note("tickers: threads in nanosleep(1 ms); work in its own thread (there is no loop "
              "to block); onecpu: all pinned to CPU %d, so the kernel must preempt", first_cpu());
  return 0;
}
