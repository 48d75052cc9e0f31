/* util.c -- clocks, memory readings, CPU burning and child output. */
#define _GNU_SOURCE
#include "compare.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int read_file(const char *path, char *buf, size_t size) {
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
  if (read_file("/proc/self/status", buf, sizeof buf) == 0) {
    m->rss = status_kb(buf, "\nVmRSS:") * 1024;
    m->hwm = status_kb(buf, "\nVmHWM:") * 1024;
    m->vmsize = status_kb(buf, "\nVmSize:") * 1024;
    m->vmpeak = status_kb(buf, "\nVmPeak:") * 1024;
  }
  if (read_file("/proc/meminfo", buf, sizeof buf) == 0)
    m->kstack = status_kb(buf, "\nKernelStack:") * 1024;
}

int mem_reset_peak(void) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write(fd, "5", 1) == 1 ? 0 : -1;
  close(fd);
  return rc;
}

void report_num(const char *key, double value) { printf("%s=%.17g\n", key, value); }

void report_note(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  for (char *c = buf; *c; c++)
    if (*c == '\n') *c = ' ';
  printf("note=%s\n", buf);
}

void report_end(void) {
  printf("end=1\n");
  fflush(stdout);
}

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

void measure_switch(const params *p, const char *prefix, switch_run_fn run, void *ctx) {
  /* Calibrate: grow rounds until a run takes at least 5 ms. */
  int64_t rounds = 1000, took = 0;
  for (;;) {
    took = run(ctx, rounds);
    if (took < 0) {
      report_note("%s: run failed", prefix);
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
  report_num(key, median(v, n));
  snprintf(key, sizeof key, "%s_min_ns", prefix);
  report_num(key, lo);
  snprintf(key, sizeof key, "%s_max_ns", prefix);
  report_num(key, hi);
  snprintf(key, sizeof key, "%s_rounds", prefix);
  report_num(key, (double)rounds);
}
