/* util.c -- the utilities every workload shares: clocks, memory readings,
 * CPU burning, statistics, sockets, the ping-pong message logic and the
 * figure output of both front ends. */
#define _GNU_SOURCE
#include "workloads.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

int64_t sys_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_stime.tv_sec * 1000000000 + (int64_t)ru.ru_stime.tv_usec * 1000;
}

void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int burn_cpu(int64_t ns) {
  int64_t end = thread_cpu_ns() + ns;
  uint32_t x = 2463534242u;
  for (;;) {
    for (int i = 0; i < 20000; i++) { /* xorshift: real work the compiler keeps */
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
    }
    if (thread_cpu_ns() >= end) break;
  }
  return (int)(x & 0x7fff);
}

static int64_t status_kb(const char *text, const char *key) {
  const char *p = strstr(text, key);
  if (!p) return -1;
  return strtoll(p + strlen(key), NULL, 10);
}

static int read_text(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = 0, r;
  while ((size_t)got < size - 1 && (r = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
    got += r;
  close(fd);
  buf[got > 0 ? got : 0] = 0;
  return got > 0 ? 0 : -1;
}

void mem_snap(memsnap *m) {
  char buf[8192];
  m->rss = m->hwm = m->vmsize = m->vmpeak = m->kstack = -1;
  if (read_text("/proc/self/status", buf, sizeof buf) == 0) {
    m->rss = status_kb(buf, "\nVmRSS:") * 1024;
    m->hwm = status_kb(buf, "\nVmHWM:") * 1024;
    m->vmsize = status_kb(buf, "\nVmSize:") * 1024;
    m->vmpeak = status_kb(buf, "\nVmPeak:") * 1024;
  }
  if (read_text("/proc/meminfo", buf, sizeof buf) == 0)
    m->kstack = status_kb(buf, "\nKernelStack:") * 1024;
}

int mem_reset_peak(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write(fd, "5", 1) == 1 ? 0 : -1;
  close(fd);
  return rc;
}

int64_t rss_bytes(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : (int64_t)resident * sysconf(_SC_PAGESIZE);
}

int64_t maxrss_bytes(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_maxrss * 1024;
}

/* ================================================================ output */

/* Figures and notes are kept in order until the front end flushes them, so
 * that a workload never knows which format it is measured for. */
#define WL_MAX_ENTRIES 96
typedef struct wl_entry {
  char key[48];   /* "" for a note */
  double value;
  char note[512];
} wl_entry;

static wl_entry g_entries[WL_MAX_ENTRIES];
static int g_nentries;
static wl_format g_format = WL_FMT_LINES;

void wl_out_format(wl_format f) { g_format = f; }

void wl_num(const char *key, double value) {
  WL_CHECK(g_nentries < WL_MAX_ENTRIES && strlen(key) < sizeof g_entries[0].key);
  wl_entry *e = &g_entries[g_nentries++];
  strcpy(e->key, key);
  e->value = value;
}

void wl_note(const char *fmt, ...) {
  WL_CHECK(g_nentries < WL_MAX_ENTRIES);
  wl_entry *e = &g_entries[g_nentries++];
  e->key[0] = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->note, sizeof e->note, fmt, ap);
  va_end(ap);
  for (char *c = e->note; *c; c++)
    if (*c == '\n') *c = ' ';
}

void wl_out_flush(const wl_params *p, int ok) {
  if (g_format == WL_FMT_LINES) {
    for (int i = 0; i < g_nentries; i++) {
      const wl_entry *e = &g_entries[i];
      if (e->key[0])
        printf("%s=%.17g\n", e->key, e->value);
      else
        printf("note=%s\n", e->note);
    }
    if (ok) printf("end=1\n");
  } else if (ok) {
    printf("{\"workload\":\"%s\",\"lib\":\"%s\",\"variant\":\"%s\",\"n\":%lld,"
           "\"count\":%lld,\"duration\":%g,\"threads\":%d,\"figures\":{",
           p->workload, p->model, p->variant ? p->variant : "", (long long)p->n,
           (long long)p->count, p->duration, p->threads);
    int first = 1;
    for (int i = 0; i < g_nentries; i++) {
      const wl_entry *e = &g_entries[i];
      if (!e->key[0]) {
        fprintf(stderr, "note: %s\n", e->note); /* the JSON line carries figures only */
        continue;
      }
      printf("%s\"%s\":%.6g", first ? "" : ",", e->key, e->value);
      first = 0;
    }
    printf("}}\n");
  }
  g_nentries = 0;
  fflush(stdout);
}

/* ============================================================ statistics */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double median(double *v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void peak_enter(peak_counter *p) {
  int64_t now = __atomic_add_fetch(&p->alive, 1, __ATOMIC_RELAXED);
  int64_t old = __atomic_load_n(&p->peak, __ATOMIC_RELAXED);
  while (now > old &&
         !__atomic_compare_exchange_n(&p->peak, &old, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

void peak_leave(peak_counter *p) { __atomic_sub_fetch(&p->alive, 1, __ATOMIC_RELAXED); }

int64_t make_socketpairs(int *fds, int64_t n, int nonblocking) {
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  for (int64_t i = 0; i < n; i++)
    if (socketpair(AF_UNIX, type, 0, fds + 2 * i) != 0) return i;
  return n;
}

void close_fds(int *fds, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

void measure_switch(const wl_params *p, const char *prefix, switch_run_fn run, void *ctx) {
  /* Calibrate: grow rounds until a run takes at least 5 ms. */
  int64_t rounds = 1000, took = 0;
  for (;;) {
    took = run(ctx, rounds);
    if (took < 0) {
      wl_note("%s: run failed", prefix);
      return;
    }
    if (took >= 5000000 || rounds >= ((int64_t)1 << 34)) break;
    int64_t f = took > 0 ? 5000000 / took + 1 : 10;
    rounds *= f < 2 ? 2 : f > 10 ? 10 : f;
  }
  double per = (double)took / (double)rounds;
  rounds = (int64_t)((double)p->switch_target_ns / (per > 0 ? per : 1));
  if (rounds < 1000) rounds = 1000;
  run(ctx, rounds); /* warm-up */
  double v[64];
  int n = p->reps < 1 ? 1 : p->reps > 64 ? 64 : p->reps;
  for (int i = 0; i < n; i++) {
    int64_t t = run(ctx, rounds);
    v[i] = (double)t / (double)rounds;
  }
  double lo = v[0], hi = v[0];
  for (int i = 1; i < n; i++) {
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  char key[96];
  snprintf(key, sizeof key, "%s_ns", prefix);
  wl_num(key, median(v, n));
  snprintf(key, sizeof key, "%s_min_ns", prefix);
  wl_num(key, lo);
  snprintf(key, sizeof key, "%s_max_ns", prefix);
  wl_num(key, hi);
  snprintf(key, sizeof key, "%s_rounds", prefix);
  wl_num(key, (double)rounds);
}

void block_figures(const char *prefix, int64_t late_max, int64_t late_sum, int64_t ticks,
                   int64_t work_took) {
  char key[64];
  snprintf(key, sizeof key, "%s_worst_ns", prefix);
  wl_num(key, (double)late_max);
  snprintf(key, sizeof key, "%s_mean_ns", prefix);
  wl_num(key, ticks ? (double)late_sum / (double)ticks : 0);
  snprintf(key, sizeof key, "%s_ticks", prefix);
  wl_num(key, (double)ticks);
  snprintf(key, sizeof key, "%s_work_ns", prefix);
  wl_num(key, (double)work_took);
}

void fdpp_figures(const wl_params *p, double *v, int reps, const memsnap *m0, const memsnap *m1) {
  double wall = median(v, reps);
  wl_num("n", (double)p->n);
  wl_num("k", (double)p->k);
  wl_num("wall_ns", wall);
  wl_num("rtt_ns", wall / (double)(p->n * p->k));
  wl_num("rss_delta", (double)(m1->hwm - m0->rss));
}

void handles_figures(int64_t n, int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t c2) {
  wl_num("handles", (double)n);
  wl_num("bytes_per_handle", (double)(r1 - r0) / n);
  wl_num("start_cpu_ns", (double)(c1 - c0) / n);
  wl_num("stop_cpu_ns", (double)(c2 - c1) / n);
}

/* =============================================================== sockets */

void wl_socketpair(int fds[2]) {
  WL_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
}

int64_t wl_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return (int64_t)rl.rlim_cur;
}

int64_t wl_handle_pairs(const wl_params *p) {
  const int64_t nofile = wl_raise_nofile();
  int64_t pairs = (nofile - 100) / 2;
  if (pairs > 9000) pairs = 9000;
  if (p->pairs && p->pairs < pairs) pairs = p->pairs;
  return pairs;
}

/* ------------------------------------------------------------------ fdpp */

void fdpp_reset(fdpp_end *e, int fd, int initiator, int64_t k) {
  e->fd = fd;
  e->initiator = initiator;
  e->left = k;
  e->got = 0;
  memset(e->buf, 'x', MSG_SIZE);
}

int fdpp_send(fdpp_end *e) {
  ssize_t w = write(e->fd, e->buf, MSG_SIZE);
  return w == MSG_SIZE ? 0 : -1;
}

int fdpp_recv(fdpp_end *e) {
  ssize_t r = read(e->fd, e->buf + e->got, (size_t)(MSG_SIZE - e->got));
  if (r < 0) return errno == EAGAIN ? 0 : -1;
  if (r == 0) return -1;
  e->got += (int)r;
  if (e->got < MSG_SIZE) return 0;
  e->got = 0;
  return 1;
}

int fdpp_on_message(fdpp_end *e) {
  if (e->initiator) {
    if (--e->left == 0) return 1;
    return fdpp_send(e);
  }
  if (fdpp_send(e) < 0) return -1;
  return --e->left == 0;
}

int fdpp_on_readable(fdpp_end *e) {
  int r = fdpp_recv(e);
  return r > 0 ? fdpp_on_message(e) : r;
}

/* -------------------------------------------------------------- pingpong */

void pp_send(int fd) {
  ssize_t r = write(fd, WL_PING, WL_PING_LEN);
  WL_CHECK(r == WL_PING_LEN);
}

int pp_pinger_read(struct pp *s, int64_t now) {
  char buf[64];
  ssize_t r = read(s->a, buf, sizeof buf);
  if (r < 0) {
    WL_CHECK(errno == EAGAIN);
    return 0;
  }
  WL_CHECK(r > 0);
  s->got += (int)r;
  while (s->got >= WL_PING_LEN) {
    s->got -= WL_PING_LEN;
    s->pongs++;
  }
  if (s->got) return 0;
  if (s->count ? s->pongs >= s->count : now - s->start >= s->dur_ns) {
    shutdown(s->a, SHUT_WR);
    return 1;
  }
  pp_send(s->a);
  return 0;
}

int pp_echo_read(int fd) {
  char buf[64];
  ssize_t r = read(fd, buf, sizeof buf);
  if (r < 0) {
    WL_CHECK(errno == EAGAIN);
    return 0;
  }
  if (r == 0) return 1;
  WL_CHECK(write(fd, buf, (size_t)r) == r);
  return 0;
}
