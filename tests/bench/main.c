/*
 * main.c -- weft-bench-run: runs one workload on one library and prints its
 * figures as one JSON line. The driver, bench.py, is what people run.
 *
 *   weft-bench-run WORKLOAD LIB [--variant V] [--n N] [--count K]
 *                  [--duration S] [--threads T] [--pairs P]
 *
 * WORKLOAD: timers loop_count pingpong to_thread posts handles tasks
 * LIB:      weft uv            (tasks: weft only)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int64_t wb_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t wb_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

int64_t wb_sys_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_stime.tv_sec * 1000000000 + (int64_t)ru.ru_stime.tv_usec * 1000;
}

int64_t wb_rss_bytes(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : (int64_t)resident * sysconf(_SC_PAGESIZE);
}

int64_t wb_maxrss_bytes(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)ru.ru_maxrss * 1024;
}

static int g_first;

void wb_out_begin(const wb_params *p) {
  printf("{\"workload\":\"%s\",\"lib\":\"%s\",\"variant\":\"%s\",\"n\":%lld,\"count\":%lld,"
         "\"duration\":%g,\"threads\":%d,\"figures\":{",
         p->workload, p->lib, p->variant ? p->variant : "", (long long)p->n,
         (long long)p->count, p->duration, p->threads);
  g_first = 1;
}

void wb_out_num(const char *key, double value) {
  printf("%s\"%s\":%.6g", g_first ? "" : ",", key, value);
  g_first = 0;
}

void wb_out_end(void) {
  printf("}}\n");
  fflush(stdout);
}

void wb_out_handles(const wb_params *p, int64_t n, int64_t r0, int64_t r1, int64_t c0,
                    int64_t c1, int64_t c2) {
  wb_out_begin(p);
  wb_out_num("handles", (double)n);
  wb_out_num("bytes_per_handle", (double)(r1 - r0) / n);
  wb_out_num("start_cpu_ns", (double)(c1 - c0) / n);
  wb_out_num("stop_cpu_ns", (double)(c2 - c1) / n);
  wb_out_end();
}

void wb_socketpair(int fds[2]) {
  WB_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
}

int64_t wb_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return (int64_t)rl.rlim_cur;
}

int64_t wb_handle_pairs(const wb_params *p) {
  const int64_t nofile = wb_raise_nofile();
  int64_t pairs = (nofile - 100) / 2;
  if (pairs > 9000) pairs = 9000;
  if (p->pairs && p->pairs < pairs) pairs = p->pairs;
  return pairs;
}

/* ------------------------------------------------ ping-pong, both libraries */

void pp_send(int fd) {
  ssize_t r = write(fd, WB_PING, WB_PING_LEN);
  WB_CHECK(r == WB_PING_LEN);
}

int pp_pinger_read(struct pp *s, int64_t now_ns) {
  char buf[64];
  ssize_t r = read(s->a, buf, sizeof buf);
  if (r < 0) {
    WB_CHECK(errno == EAGAIN);
    return 0;
  }
  WB_CHECK(r > 0);
  s->got += (int)r;
  while (s->got >= WB_PING_LEN) {
    s->got -= WB_PING_LEN;
    s->pongs++;
  }
  if (s->got) return 0;
  if (s->count ? s->pongs >= s->count : now_ns - s->start >= s->dur_ns) {
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
    WB_CHECK(errno == EAGAIN);
    return 0;
  }
  if (r == 0) return 1;
  WB_CHECK(write(fd, buf, (size_t)r) == r);
  return 0;
}

static const struct {
  const char *workload;
  wb_fn weft, uv;
} g_table[] = {
    {"timers", wb_weft_timers, wb_uv_timers},
    {"loop_count", wb_weft_loop_count, wb_uv_loop_count},
    {"pingpong", wb_weft_pingpong, wb_uv_pingpong},
    {"to_thread", wb_weft_to_thread, wb_uv_to_thread},
    {"posts", wb_weft_posts, wb_uv_posts},
    {"handles", wb_weft_handles, wb_uv_handles},
    {"tasks", wb_weft_tasks, NULL},
};

static void usage(void) {
  fprintf(stderr,
          "usage: weft-bench-run WORKLOAD LIB [--variant V] [--n N] [--count K]\n"
          "                      [--duration S] [--threads T] [--pairs P]\n"
          "  WORKLOAD: timers loop_count pingpong to_thread posts handles tasks\n"
          "  LIB: weft uv\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  wb_params p;
  memset(&p, 0, sizeof p);
  p.workload = argv[1];
  p.lib = argv[2];
  p.variant = "";
  p.n = 1000000;
  p.duration = 5.0;
  p.threads = 1;
  for (int i = 3; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *k = argv[i], *v = argv[++i];
    if (!strcmp(k, "--variant"))
      p.variant = v;
    else if (!strcmp(k, "--n"))
      p.n = atoll(v);
    else if (!strcmp(k, "--count"))
      p.count = atoll(v);
    else if (!strcmp(k, "--duration"))
      p.duration = atof(v);
    else if (!strcmp(k, "--threads"))
      p.threads = atoi(v);
    else if (!strcmp(k, "--pairs"))
      p.pairs = atoll(v);
    else
      usage();
  }
  if (p.n < 1 || p.threads < 1 || p.duration <= 0 || p.count < 0) usage();
  for (size_t i = 0; i < sizeof g_table / sizeof g_table[0]; i++) {
    if (strcmp(g_table[i].workload, p.workload) != 0) continue;
    wb_fn fn = !strcmp(p.lib, "weft") ? g_table[i].weft
               : !strcmp(p.lib, "uv") ? g_table[i].uv
                                      : NULL;
    if (!fn) usage();
    return fn(&p);
  }
  usage();
  return 2;
}
