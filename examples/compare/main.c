/*
 * weft-compare -- weft's comparison harness: the same workloads under
 * several concurrency models, measured side by side on this machine, printed
 * as the seeds' cost table (memory per waiter, creation time, switch time,
 * cost at 10,000 and 100,000 concurrent) plus each workload's own figures.
 *
 *   weft-compare                 full run (about two minutes)
 *   weft-compare --quick         small sizes, a few seconds (CI)
 *   weft-compare --json FILE     also write every figure as JSON
 *   weft-compare --help          all options
 *
 * Models: weft (tasks), weft-cb (weft callbacks), weft-sock (tasks on
 * weft_await_recv/send; fdpp only), weft-cpp (C++20 coroutines on weft.hpp),
 * threads (pthreads), libuv.
 * Workloads: fanout (N waiters sleep 100 ms), switch (two parties hand a
 * token back and forth), fdpp (N socketpairs bounce a message K times),
 * block (1 ms tickers while 200 ms of CPU work runs inline or offloaded).
 *
 * Every (model, workload, size) runs in a child process of its own (this
 * program re-executed with --child), so one model's memory never shows in
 * another's figures. A child measures, then writes its figures to stdout as
 * `key=value` lines (numbers) and `note=text` lines, ending with `end=1`;
 * the parent reads them from a pipe, takes medians over repeated children,
 * prints the table and writes JSON.
 *
 * The workloads themselves live in tests/workloads (the library
 * weft_workloads, shared with tests/bench's weft-vs-libuv benchmark); this
 * file is the front end: options, children, medians, tables, JSON.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>
#include <weft.h>

#include "workloads.h"

extern char **environ;

/* ============================================================ options */

#define MAX_LIST 16

typedef struct options {
  int quick;
  const char *json;
  const char *models[16];
  int nmodels;
  const char *workloads[16];
  int nworkloads;
  int64_t fanout_n[MAX_LIST];
  int nfanout;
  int64_t fdpp_n[MAX_LIST];
  int nfdpp;
  int64_t fdpp_trips;   /* round trips per fdpp size in total: K = trips / N (at least 10) */
  int64_t thread_cap;
  int reps;             /* fan-out: children per cell; switch/fdpp: timed runs per child */
  int64_t work_ms;
  int64_t tickers;
  int64_t switch_ms;
} options;

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The models: name, title in the tables, and the library (registry column of
 * tests/workloads) that implements it. Adding a model is one entry in each. */
static const char *const k_models[] = {"weft", "weft-cb", "weft-sock", "weft-cpp", "threads",
                                       "libuv"};
static const char *const k_model_titles[] = {"weft tasks", "weft callbacks", "weft recv/send",
                                             "C++ coroutines", "OS threads", "libuv"};
static const wl_lib k_model_libs[] = {WL_WEFT, WL_WEFT, WL_WEFT, WL_CPP, WL_THREADS, WL_LIBUV};
/* The one workload a model runs, or NULL for every workload its library has:
 * weft-sock (tasks on weft_socket_adopt + weft_await_recv/send) is a style of
 * socket I/O, so only the fd ping-pong has it. */
static const char *const k_model_only[] = {NULL, NULL, "fdpp", NULL, NULL, NULL};
/* The workloads this front end runs, in table order (see also the plan and
 * the print_* section in main()). */
static const char *const k_workloads[] = {"fanout", "switch", "fdpp", "block"};
_Static_assert(NELEM(k_models) == NELEM(k_model_titles) && NELEM(k_models) == NELEM(k_model_libs) &&
                   NELEM(k_models) == NELEM(k_model_only),
               "one title, one library and one workload restriction per model");

static void usage(FILE *f) {
  fprintf(f,
          "usage: weft-compare [options]\n"
          "Runs the same workloads under several concurrency models, each in a process of\n"
          "its own, and prints the seeds' cost table measured on this machine.\n\n"
          "  --quick             small sizes, a few seconds in total (used by CI)\n"
          "  --json FILE         also write all results as JSON to FILE\n"
          "  --models LIST       comma-separated: weft,weft-cb,weft-sock,weft-cpp,threads,libuv\n"
          "                      (default all; weft-sock runs fdpp only)\n"
          "  --workloads LIST    comma-separated: fanout,switch,fdpp,block (default all)\n"
          "  --fanout-n LIST     fan-out sizes (default 3,1000,10000,100000)\n"
          "  --fdpp-n LIST       socketpair counts (default 1,100,1000,9000)\n"
          "  --fdpp-trips T      round trips per fd ping-pong size; K = T/N, at least 10\n"
          "                      (default 30000)\n"
          "  --thread-cap N      most threads the threads model may create (default 20000)\n"
          "  --reps R            fan-out: child runs per cell; switch and fd ping-pong:\n"
          "                      timed runs after a warm-up; medians are shown (default 3)\n"
          "  --work-ms MS        blocking workload: CPU work (default 200)\n"
          "  --tickers T         blocking workload: 1 ms tickers (default 10)\n"
          "  --switch-ms MS      switch workload: length of one timed run (default 100)\n"
          "  -h, --help          this text\n");
}

static int in_list(const char *s, const char *const *list, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(s, list[i])) return i;
  return -1;
}

/* Splits a comma-separated list of names, each of which must be in `valid`. */
static int parse_names(char *arg, const char **out, int *n, const char *const *valid, int nvalid,
                       const char *what) {
  *n = 0;
  for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
    int i = in_list(tok, valid, nvalid);
    if (i < 0) {
      fprintf(stderr, "weft-compare: unknown %s '%s'\n", what, tok);
      return -1;
    }
    if (*n < 16) out[(*n)++] = valid[i];
  }
  return *n ? 0 : -1;
}

static int parse_nums(char *arg, int64_t *out, int *n) {
  *n = 0;
  for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
    char *end;
    long long v = strtoll(tok, &end, 10);
    if (*end || v <= 0) return -1;
    if (*n < MAX_LIST) out[(*n)++] = v;
  }
  return *n ? 0 : -1;
}

static int64_t parse_pos(const char *s) {
  char *end;
  long long v = strtoll(s, &end, 10);
  return (*end || v <= 0) ? -1 : v;
}

/* ================================================================ child */

/* The function that runs `workload` under `model`, or NULL if that model has
 * none (its cells are then not run). */
static wl_fn find_cell(const char *model, const char *workload) {
  int i = in_list(model, k_models, NELEM(k_models));
  if (i < 0 || (k_model_only[i] && strcmp(k_model_only[i], workload))) return NULL;
  return wl_find(workload, k_model_libs[i]);
}

static int child_main(int argc, char **argv) {
  /* --child MODEL WORKLOAD N K CAP SLEEP WORK TICK TICKERS SWITCH_TARGET REPS */
  if (argc != 13) {
    fprintf(stderr, "weft-compare: --child takes 11 arguments\n");
    return 2;
  }
  wl_params p;
  memset(&p, 0, sizeof p);
  p.variant = "";
  p.model = argv[2];
  p.workload = argv[3];
  p.n = strtoll(argv[4], NULL, 10);
  p.k = strtoll(argv[5], NULL, 10);
  p.thread_cap = strtoll(argv[6], NULL, 10);
  p.sleep_ns = strtoll(argv[7], NULL, 10);
  p.work_ns = strtoll(argv[8], NULL, 10);
  p.tick_ns = strtoll(argv[9], NULL, 10);
  p.tickers = strtoll(argv[10], NULL, 10);
  p.switch_target_ns = strtoll(argv[11], NULL, 10);
  p.reps = (int)strtol(argv[12], NULL, 10);
  alarm(600); /* a hung child must not hang the comparison */
  /* model -> the library that implements it (weft runs both weft models) */
  wl_fn fn = find_cell(p.model, p.workload);
  wl_out_format(WL_FMT_LINES);
  int rc = fn ? fn(&p) : 2;
  wl_out_flush(&p, rc == 0);
  return rc;
}

/* ============================================================ results */

#define MAX_METRICS 48
#define MAX_NOTES 4

typedef struct metric {
  char key[40];
  double v;
} metric;

typedef struct result {
  const char *model, *workload;
  int64_t n, k;
  int ok;        /* every child finished and reported end=1 */
  int children;  /* child runs merged into this result */
  metric m[MAX_METRICS];
  int nm;
  char notes[MAX_NOTES][320];
  int nnotes;
  char error[200];
  double seconds; /* wall time the cell took, for the progress line */
} result;

#define MAX_RESULTS 256
static result g_results[MAX_RESULTS];
static int g_nresults;

static const double kNaN = __builtin_nan("");

static double get(const result *r, const char *key) {
  if (!r) return kNaN;
  for (int i = 0; i < r->nm; i++)
    if (!strcmp(r->m[i].key, key)) return r->m[i].v;
  return kNaN;
}

static int have(double v) { return v == v; }

static void set_metric(result *r, const char *key, double v) {
  for (int i = 0; i < r->nm; i++)
    if (!strcmp(r->m[i].key, key)) {
      r->m[i].v = v;
      return;
    }
  if (r->nm < MAX_METRICS) {
    snprintf(r->m[r->nm].key, sizeof r->m[r->nm].key, "%s", key);
    r->m[r->nm++].v = v;
  }
}

static void add_note(result *r, const char *text) {
  for (int i = 0; i < r->nnotes; i++)
    if (!strcmp(r->notes[i], text)) return;
  if (r->nnotes < MAX_NOTES) snprintf(r->notes[r->nnotes++], sizeof r->notes[0], "%s", text);
}

static result *find(const char *model, const char *workload, int64_t n) {
  for (int i = 0; i < g_nresults; i++) {
    result *r = &g_results[i];
    if (!strcmp(r->model, model) && !strcmp(r->workload, workload) && (n < 0 || r->n == n))
      return r;
  }
  return NULL;
}

/* ======================================================= running children */

static char g_self[PATH_MAX];

/* Runs one child; fills *r (metrics, notes). Returns 0 if it reported end=1. */
static int run_child(const options *o, const char *model, const char *workload, int64_t n,
                     int64_t k, result *r) {
  char a[11][32];
  snprintf(a[0], 32, "%lld", (long long)n);
  snprintf(a[1], 32, "%lld", (long long)k);
  snprintf(a[2], 32, "%lld", (long long)o->thread_cap);
  snprintf(a[3], 32, "%lld", 100000000LL);
  snprintf(a[4], 32, "%lld", (long long)o->work_ms * 1000000);
  snprintf(a[5], 32, "%lld", 1000000LL);
  snprintf(a[6], 32, "%lld", (long long)o->tickers);
  snprintf(a[7], 32, "%lld", (long long)o->switch_ms * 1000000);
  snprintf(a[8], 32, "%d", o->reps);
  char *argv[] = {g_self, "--child", (char *)model, (char *)workload, a[0], a[1], a[2], a[3],
                  a[4], a[5], a[6], a[7], a[8], NULL};
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    snprintf(r->error, sizeof r->error, "pipe: %s", strerror(errno));
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
  pid_t pid;
  int e = posix_spawn(&pid, g_self, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (e != 0) {
    close(pfd[0]);
    snprintf(r->error, sizeof r->error, "posix_spawn: %s", strerror(e));
    return -1;
  }
  FILE *f = fdopen(pfd[0], "r");
  char line[512];
  int ended = 0;
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    if (!strcmp(line, "note")) add_note(r, eq + 1);
    else if (!strcmp(line, "end")) ended = 1;
    else set_metric(r, line, strtod(eq + 1, NULL));
  }
  if (f) fclose(f);
  else close(pfd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    snprintf(r->error, sizeof r->error, "child killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
    return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ended) {
    snprintf(r->error, sizeof r->error, "child exited with status %d%s",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1, ended ? "" : " without results");
    return -1;
  }
  return 0;
}

/* Runs `runs` children for one cell and keeps the median of each figure. */
static void run_cell(const options *o, const char *model, const char *workload, int64_t n,
                     int64_t k, int runs, int index, int total) {
  if (g_nresults >= MAX_RESULTS) return;
  result *r = &g_results[g_nresults++];
  memset(r, 0, sizeof *r);
  r->model = model;
  r->workload = workload;
  r->n = n;
  r->k = k;
  fprintf(stderr, "[%2d/%d] %-7s %-8s", index, total, workload, model);
  if (n) fprintf(stderr, " N=%lld", (long long)n);
  if (k) fprintf(stderr, " K=%lld", (long long)k);
  fflush(stderr);
  int64_t t0 = now_ns();
  static result one[16];
  int good = 0;
  for (int i = 0; i < runs && i < 16; i++) {
    memset(&one[i], 0, sizeof one[i]);
    if (run_child(o, model, workload, n, k, &one[i]) == 0) {
      good++;
    } else {
      snprintf(r->error, sizeof r->error, "%s", one[i].error);
    }
    for (int j = 0; j < one[i].nnotes; j++) add_note(r, one[i].notes[j]);
    if (one[i].error[0]) break;
  }
  r->children = good;
  r->ok = good == runs;
  /* median of every key over the good runs */
  for (int i = 0; i < runs && i < 16; i++) {
    if (one[i].error[0]) continue;
    for (int j = 0; j < one[i].nm; j++) {
      const char *key = one[i].m[j].key;
      if (have(get(r, key))) continue;
      double v[16];
      int nv = 0;
      for (int c = 0; c < runs && c < 16; c++) {
        if (one[c].error[0]) continue;
        double x = get(&one[c], key);
        if (have(x)) v[nv++] = x;
      }
      set_metric(r, key, median(v, nv));
    }
  }
  r->seconds = (double)(now_ns() - t0) / 1e9;
  fprintf(stderr, "  %.1f s%s%s\n", r->seconds, r->ok ? "" : "  FAILED: ", r->ok ? "" : r->error);
}

/* ============================================================ formatting */

static const char *fmt_ns(char *buf, double ns) {
  if (!have(ns)) return strcpy(buf, "-");
  if (ns < 1000) sprintf(buf, "%.1f ns", ns);
  else if (ns < 1e6) sprintf(buf, "%.2f us", ns / 1e3);
  else if (ns < 1e9) sprintf(buf, "%.1f ms", ns / 1e6);
  else sprintf(buf, "%.2f s", ns / 1e9);
  return buf;
}

static const char *fmt_bytes(char *buf, double b) {
  if (!have(b)) return strcpy(buf, "-");
  double a = b < 0 ? -b : b;
  if (a < 10 * 1024) sprintf(buf, "%.0f B", b);
  else if (a < 10 * 1024 * 1024) sprintf(buf, "%.1f KiB", b / 1024);
  else if (a < 10.0 * 1024 * 1024 * 1024) sprintf(buf, "%.1f MiB", b / (1024 * 1024));
  else sprintf(buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  return buf;
}

static const char *fmt_count(char *buf, double v) {
  if (!have(v)) return strcpy(buf, "-");
  long long x = (long long)v;
  char tmp[32];
  int len = sprintf(tmp, "%lld", x < 0 ? -x : x), o = 0;
  if (x < 0) buf[o++] = '-';
  for (int i = 0; i < len; i++) {
    if (i && (len - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = tmp[i];
  }
  buf[o] = 0;
  return buf;
}

static const char *title_of(const char *model) {
  int i = in_list(model, k_models, NELEM(k_models));
  return i < 0 ? model : k_model_titles[i];
}

/* ========================================================= the summary */

/* The figures of the headline table for one model. */
typedef struct summary {
  double mem_per_waiter, mem_n, vm_per_waiter, kstack_per_waiter;
  double create_ns, create_n, switch_ns, switch_xcpu_ns;
  double mem_10k, wall_10k, mem_100k, wall_100k;
  double n_10k, n_100k; /* waiters actually concurrent in those runs */
  double kstack_10k, kstack_100k; /* threads: kernel stacks in those runs */
  double cap;           /* threads: where creation stopped (cap or failure), else NaN */
  int cap_failed;       /* creation failed (vs. capped) */
} summary;

static double div_or_nan(double a, double b) { return have(a) && have(b) && b > 0 ? a / b : kNaN; }

static summary summarize(const options *o, const char *model) {
  summary s;
  s.mem_per_waiter = s.mem_n = s.vm_per_waiter = s.kstack_per_waiter = kNaN;
  s.create_ns = s.create_n = s.switch_ns = s.switch_xcpu_ns = kNaN;
  s.mem_10k = s.wall_10k = s.mem_100k = s.wall_100k = kNaN;
  s.n_10k = s.n_100k = s.kstack_10k = s.kstack_100k = kNaN;
  s.cap = kNaN;
  s.cap_failed = 0;
  /* memory and creation: the largest fan-out whose waiters were all concurrent */
  for (int i = o->nfanout - 1; i >= 0; i--) {
    result *r = find(model, "fanout", o->fanout_n[i]);
    if (!r || !r->ok) continue;
    double peak = get(r, "peak_concurrent");
    if (!have(s.mem_per_waiter) && peak > 100) {
      s.mem_per_waiter = div_or_nan(get(r, "rss_delta"), peak);
      s.vm_per_waiter = div_or_nan(get(r, "vm_delta"), peak);
      s.kstack_per_waiter = div_or_nan(get(r, "kstack_delta"), get(r, "kstack_sampled_alive"));
      s.mem_n = peak;
      s.create_ns = get(r, "create_ns");
      s.create_n = get(r, "created");
    }
    if (have(get(r, "capped_at"))) s.cap = get(r, "capped_at");
    if (have(get(r, "create_failed_at"))) s.cap = get(r, "create_failed_at"), s.cap_failed = 1;
  }
  result *r10 = find(model, "fanout", 10000), *r100 = find(model, "fanout", 100000);
  if (r10 && r10->ok) {
    s.mem_10k = get(r10, "rss_delta");
    s.wall_10k = get(r10, "wall_ns");
    s.n_10k = get(r10, "peak_concurrent");
    s.kstack_10k = get(r10, "kstack_delta");
  }
  if (r100 && r100->ok) {
    s.mem_100k = get(r100, "rss_delta");
    s.wall_100k = get(r100, "wall_ns");
    s.n_100k = get(r100, "peak_concurrent");
    s.kstack_100k = get(r100, "kstack_delta");
  }
  result *sw = find(model, "switch", -1);
  if (sw && sw->ok) {
    /* threads: the context switch itself, both threads on one CPU, as the
     * other models run on one CPU; the cross-CPU handoff is shown too */
    s.switch_ns = get(sw, "switch_ns");
    s.switch_xcpu_ns = kNaN;
    if (have(get(sw, "switch_1cpu_ns"))) {
      s.switch_xcpu_ns = s.switch_ns;
      s.switch_ns = get(sw, "switch_1cpu_ns");
    }
  }
  return s;
}

#define COLW 16
#define LABW 36

static void row_start(const char *label) { printf("  %-*s", LABW, label); }
static void cell(const char *text) { printf("%*s", COLW, text); }

/* "3.1x less" / "1.2x more": how weft's figure a compares with b (lower is better). */
static const char *versus(char *buf, double a, double b, const char *less, const char *more) {
  if (!have(a) || !have(b) || a <= 0 || b <= 0) return strcpy(buf, "n/a");
  if (a / b > 0.95 && a / b < 1.05) strcpy(buf, "about the same");
  else if (a <= b) sprintf(buf, "%.3gx %s", b / a, less);
  else sprintf(buf, "%.3gx %s", a / b, more);
  return buf;
}

static void print_short(const options *o, const summary *s) {
  int w = in_list("weft", o->models, o->nmodels);
  if (w < 0) return;
  char b[4][48];
  if (!have(s[w].mem_per_waiter) && !have(s[w].switch_ns)) return;
  printf("\n  In short (weft tasks against each model; measured above, same machine, same run):\n");
  for (int i = 0; i < o->nmodels; i++) {
    if (i == w) continue;
    double mem_other = s[i].mem_per_waiter;
    if (have(s[i].kstack_per_waiter)) mem_other += s[i].kstack_per_waiter;
    printf("  - vs %s: memory per waiter %s%s, creation %s, switch %s\n",
           title_of(o->models[i]), versus(b[0], s[w].mem_per_waiter, mem_other, "less", "MORE"),
           have(s[i].kstack_per_waiter) ? " (with kernel stacks)" : "",
           versus(b[1], s[w].create_ns, s[i].create_ns, "faster", "SLOWER"),
           versus(b[2], s[w].switch_ns, s[i].switch_ns, "faster", "SLOWER"));
  }
}

static void print_table(const options *o) {
  summary s[8];
  for (int i = 0; i < o->nmodels; i++) s[i] = summarize(o, o->models[i]);
  char b[64];

  printf("\nThe seeds' cost table, measured here (each model in its own process)\n\n");
  row_start("");
  for (int i = 0; i < o->nmodels; i++) cell(title_of(o->models[i]));
  printf("\n");
  row_start("memory per waiter (RSS)");
  for (int i = 0; i < o->nmodels; i++) cell(fmt_bytes(b, s[i].mem_per_waiter));
  printf("\n");
  int any_threads = in_list("threads", o->models, o->nmodels) >= 0;
  if (any_threads) {
    row_start("  + kernel stack per waiter");
    for (int i = 0; i < o->nmodels; i++)
      cell(strcmp(o->models[i], "threads") ? "-" : fmt_bytes(b, s[i].kstack_per_waiter));
    printf("\n");
    row_start("  address space reserved per waiter");
    for (int i = 0; i < o->nmodels; i++)
      cell(strcmp(o->models[i], "threads") ? "-" : fmt_bytes(b, s[i].vm_per_waiter));
    printf("\n");
  }
  row_start("  (measured with N concurrent)");
  for (int i = 0; i < o->nmodels; i++) cell(fmt_count(b, s[i].mem_n));
  printf("\n");
  row_start("creation per waiter");
  for (int i = 0; i < o->nmodels; i++) cell(fmt_ns(b, s[i].create_ns));
  printf("\n");
  row_start("switch");
  for (int i = 0; i < o->nmodels; i++) cell(fmt_ns(b, s[i].switch_ns));
  printf("\n");
  if (any_threads) {
    row_start("  threads: handoff across CPUs");
    for (int i = 0; i < o->nmodels; i++)
      cell(strcmp(o->models[i], "threads") ? "-" : fmt_ns(b, s[i].switch_xcpu_ns));
    printf("\n");
  }
  const int64_t at[2] = {10000, 100000};
  for (int j = 0; j < 2; j++) {
    if (in_list("fanout", o->workloads, o->nworkloads) < 0) break;
    int wanted = 0;
    for (int i = 0; i < o->nfanout; i++) wanted |= o->fanout_n[i] == at[j];
    if (!wanted) continue;
    char label[64];
    snprintf(label, sizeof label, "at %s concurrent: memory", fmt_count(b, (double)at[j]));
    row_start(label);
    for (int i = 0; i < o->nmodels; i++) {
      double mem = j ? s[i].mem_100k : s[i].mem_10k, n = j ? s[i].n_100k : s[i].n_10k;
      if (have(n) && n < 0.95 * (double)at[j]) {
        char c[40];
        snprintf(c, sizeof c, "only %s", fmt_count(b, n));
        cell(c);
      } else {
        cell(fmt_bytes(b, mem));
      }
    }
    printf("\n");
    if (any_threads) {
      row_start("  + kernel stacks (threads)");
      for (int i = 0; i < o->nmodels; i++) {
        double n = j ? s[i].n_100k : s[i].n_10k;
        int full = have(n) && n >= 0.95 * (double)at[j];
        cell(strcmp(o->models[i], "threads") || !full ? "-"
                                                       : fmt_bytes(b, j ? s[i].kstack_100k
                                                                        : s[i].kstack_10k));
      }
      printf("\n");
    }
    snprintf(label, sizeof label, "at %s concurrent: wall time", fmt_count(b, (double)at[j]));
    row_start(label);
    for (int i = 0; i < o->nmodels; i++) cell(fmt_ns(b, j ? s[i].wall_100k : s[i].wall_10k));
    printf("\n");
  }

  print_short(o, s);
  printf("\n  What each figure is:\n");
  printf("  - memory per waiter: peak RSS growth of the child (VmHWM after - VmRSS before) / waiters\n"
         "    alive at once, in the largest fan-out where all of them were; user space only.\n");
  if (any_threads) {
    printf("  - kernel stack per waiter: growth of KernelStack in /proc/meminfo while the threads\n"
           "    lived, per thread (system-wide, so other work on the machine adds noise).\n");
    printf("  - address space reserved: VmPeak growth per thread: the default stack plus guard\n"
           "    page, reserved but mostly never touched.\n");
  }
  printf("  - creation per waiter: wall time to create one waiter and arm its sleep (weft tasks:\n"
         "    weft_task_spawn + first step; threads: pthread_create; libuv / weft callbacks:\n"
         "    timer init + start), in that same fan-out.\n");
  printf("  - switch: ns per handoff of a token between two parties in one process, median of\n"
         "    the timed runs, all on one CPU (threads pinned to one; see the switch section for\n"
         "    each mechanism). Across CPUs: the same two threads left to the scheduler.\n");
  printf("  - at N concurrent: peak RSS growth and wall time (creation to last wake-up) of the\n"
         "    fan-out where N waiters each sleep 100 ms; 'only M' when creation stopped at M.\n");
  for (int i = 0; i < o->nmodels; i++) {
    if (have(s[i].cap))
      printf("  - %s: creation %s at %s threads (see the fan-out section).\n",
             title_of(o->models[i]), s[i].cap_failed ? "FAILED" : "was capped",
             fmt_count(b, s[i].cap));
  }
}

static void print_notes(const result *r) {
  for (int i = 0; i < r->nnotes; i++)
    printf("      %s: %s\n", title_of(r->model), r->notes[i]);
  if (r->error[0]) printf("      %s: ERROR %s\n", title_of(r->model), r->error);
}

static void print_fanout(const options *o) {
  char b[7][64];
  printf("\nFan-out sleep: N waiters each sleep 100 ms, all at once (median of %d child runs)\n\n",
         o->reps);
  printf("  %-15s %9s %9s %10s %12s %12s %12s %11s\n", "model", "N", "created", "peak alive",
         "create/each", "wall", "RSS/waiter", "RSS total");
  for (int i = 0; i < o->nmodels; i++) {
    for (int j = 0; j < o->nfanout; j++) {
      result *r = find(o->models[i], "fanout", o->fanout_n[j]);
      if (!r) continue;
      double peak = get(r, "peak_concurrent");
      printf("  %-15s %9s %9s %10s %12s %12s %12s %11s\n", title_of(r->model),
             fmt_count(b[0], (double)r->n), fmt_count(b[1], get(r, "created")),
             fmt_count(b[2], peak), fmt_ns(b[3], get(r, "create_ns")),
             fmt_ns(b[4], get(r, "wall_ns")),
             fmt_bytes(b[5], div_or_nan(get(r, "rss_delta"), peak)),
             fmt_bytes(b[6], get(r, "rss_delta")));
      if (!r->ok || have(get(r, "capped_at")) || have(get(r, "create_failed_at")))
        print_notes(r);
    }
  }
  for (int i = 0; i < o->nmodels; i++) {
    result *r = find(o->models[i], "fanout", o->fanout_n[o->nfanout - 1]);
    if (r && have(get(r, "spawn_ns")))
      printf("  %s: weft_task_spawn alone is %s per task (first step, which arms the sleep, is "
             "the rest)\n",
             title_of(r->model), fmt_ns(b[0], get(r, "spawn_ns")));
  }
  printf("  create/each: creation loop time / waiters; wall: from the first creation to the last\n"
         "  wake-up (ideal: 100 ms); peak alive: waiters alive at the same moment. The sleeps start\n"
         "  once all waiters exist: weft tasks arm them in their first steps, run after all spawns;\n"
         "  threads wait at a gate (a rwlock) until the last pthread_create; timers start at\n"
         "  creation, which lasts N x ~100 ns.\n");
}

static void print_switch(const options *o) {
  char b[3][64];
  printf("\nSwitch: two parties in one process hand a token back and forth "
         "(median of %d timed runs)\n\n",
         o->reps);
  printf("  %-24s %12s %22s %12s\n", "model", "per switch", "min - max", "switches");
  for (int i = 0; i < o->nmodels; i++) {
    result *r = find(o->models[i], "switch", -1);
    if (!r) continue;
    const char *vars[4] = {"switch", "switch_1cpu", "switch_timer", "switch_queue"};
    for (int v = 0; v < 4; v++) {
      char key[64], range[64];
      snprintf(key, sizeof key, "%s_ns", vars[v]);
      if (!have(get(r, key)) && v) continue;
      double med = get(r, key);
      snprintf(key, sizeof key, "%s_min_ns", vars[v]);
      double lo = get(r, key);
      snprintf(key, sizeof key, "%s_max_ns", vars[v]);
      double hi = get(r, key);
      snprintf(key, sizeof key, "%s_rounds", vars[v]);
      snprintf(range, sizeof range, "%s - %s", fmt_ns(b[0], lo), fmt_ns(b[1], hi));
      char name[40];
      snprintf(name, sizeof name, "%s%s", title_of(r->model),
               v == 1 ? " (1 cpu)" : v == 2 ? " (timer)" : v == 3 ? " (queue 1)" : "");
      printf("  %-24s %12s %22s %12s\n", name, fmt_ns(b[2], med), range,
             fmt_count(b[0], get(r, key)));
    }
    print_notes(r);
  }
}

static void print_fdpp(const options *o) {
  char b[5][64];
  printf("\nfd ping-pong: N socketpairs, a %d-byte message bounced K times over each, all pairs "
         "at once\n(median of %d timed runs after a warm-up)\n\n",
         MSG_SIZE, o->reps);
  printf("  %-15s %7s %8s %12s %14s %12s\n", "model", "pairs", "K", "wall", "per round trip",
         "RSS/pair");
  for (int j = 0; j < o->nfdpp; j++) {
    for (int i = 0; i < o->nmodels; i++) {
      result *r = find(o->models[i], "fdpp", o->fdpp_n[j]);
      if (!r) continue;
      if (have(get(r, "skipped"))) {
        printf("  %-15s %7s %8s %12s\n", title_of(r->model), fmt_count(b[0], (double)r->n),
               fmt_count(b[1], (double)r->k), "not run");
        print_notes(r);
        continue;
      }
      printf("  %-15s %7s %8s %12s %14s %12s\n", title_of(r->model), fmt_count(b[0], (double)r->n),
             fmt_count(b[1], (double)r->k), fmt_ns(b[2], get(r, "wall_ns")),
             fmt_ns(b[3], get(r, "rtt_ns")),
             r->n < 100 ? "-"
                        : fmt_bytes(b[4], div_or_nan(get(r, "rss_delta"), (double)r->n)));
      if (!r->ok) print_notes(r);
    }
  }
  for (int i = 0; i < o->nmodels; i++) {
    result *r = find(o->models[i], "fdpp", -1);
    if (r && r->ok && r->nnotes) printf("  %s: %s\n", title_of(r->model), r->notes[0]);
  }
  printf("  per round trip: wall / (pairs x K); one round trip is two messages and two wake-ups.\n"
         "  RSS/pair: peak RSS growth / pairs (shown from 100 pairs; below, allocation chunks\n"
         "  dominate). With one pair, threads pay a cross-CPU wake-up per message; with many\n"
         "  pairs both CPUs stay busy.\n");
}

static void print_block(const options *o) {
  char b[4][64];
  printf("\nBlocking the loop: %lld tickers every 1 ms while %lld ms of CPU work runs\n\n",
         (long long)o->tickers, (long long)o->work_ms);
  printf("  %-15s %-22s %12s %12s %8s %12s\n", "model", "work runs", "worst late", "mean late",
         "ticks", "work took");
  for (int i = 0; i < o->nmodels; i++) {
    result *r = find(o->models[i], "block", -1);
    if (!r) continue;
    const char *vars[3] = {"inline", "offload", "onecpu"};
    int threads = !strcmp(r->model, "threads");
    for (int v = 0; v < 3; v++) {
      char key[64];
      snprintf(key, sizeof key, "%s_worst_ns", vars[v]);
      double worst = get(r, key);
      const char *how =
          v == 0   ? "inline (on the loop)"
          : v == 1 ? (threads ? "in its own thread" : !strcmp(r->model, "libuv") ? "uv_queue_work"
                                                  : "to_thread (pool)")
                   : "own thread, 1 CPU";
      if (!have(worst)) {
        if (v == 0 && threads)
          printf("  %-15s %-22s %12s\n", title_of(r->model), "inline", "n/a (no loop)");
        continue;
      }
      snprintf(key, sizeof key, "%s_mean_ns", vars[v]);
      double mean = get(r, key);
      snprintf(key, sizeof key, "%s_ticks", vars[v]);
      double ticks = get(r, key);
      snprintf(key, sizeof key, "%s_work_ns", vars[v]);
      printf("  %-15s %-22s %12s %12s %8s %12s\n", title_of(r->model), how, fmt_ns(b[0], worst),
             fmt_ns(b[1], mean), fmt_count(b[2], ticks), fmt_ns(b[3], get(r, key)));
    }
    if (!r->ok) print_notes(r);
  }
  printf("  late: a tick's gap since the previous tick minus 1 ms; worst over all tickers.\n"
         "  work took: wall time of the CPU work (it burns %lld ms of thread CPU time).\n",
         (long long)o->work_ms);
}

/* ================================================================ JSON */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (!have(v)) fputs("null", f);
  else if (v == (double)(long long)v && v < 9e15 && v > -9e15) fprintf(f, "%lld", (long long)v);
  else fprintf(f, "%.6g", v);
}

typedef struct machine {
  int cpus;
  long long pid_max, threads_at_start, nofile;
  long long threads_max, max_map_count, nproc_limit;
  long long thread_ceiling; /* where pthread_create would fail, estimated */
  const char *ceiling_why;
  char load_start[64], load_end[64];
  char kernel[256];
} machine;

static void read_first_line(const char *path, char *buf, size_t n) {
  buf[0] = 0;
  FILE *f = fopen(path, "re");
  if (!f) return;
  if (!fgets(buf, (int)n, f)) buf[0] = 0;
  fclose(f);
  buf[strcspn(buf, "\n")] = 0;
}

static void machine_start(machine *m) {
  char buf[128];
  m->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
  read_first_line("/proc/sys/kernel/pid_max", buf, sizeof buf);
  m->pid_max = atoll(buf);
  read_first_line("/proc/loadavg", m->load_start, sizeof m->load_start);
  const char *slash = strchr(m->load_start, '/');
  m->threads_at_start = slash ? atoll(slash + 1) : -1;
  struct rlimit rl;
  m->nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long long)rl.rlim_cur : -1;
  read_first_line("/proc/sys/kernel/threads-max", buf, sizeof buf);
  m->threads_max = atoll(buf);
  read_first_line("/proc/sys/vm/max_map_count", buf, sizeof buf);
  m->max_map_count = atoll(buf);
  m->nproc_limit = getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && geteuid()
                       ? (long long)rl.rlim_cur
                       : -1;
  /* Every thread takes a pid; its stack and guard page take two memory maps. */
  m->thread_ceiling = m->pid_max - m->threads_at_start;
  m->ceiling_why = "pid_max minus the threads and processes running";
  if (m->threads_max > 0 && m->threads_max - m->threads_at_start < m->thread_ceiling)
    m->thread_ceiling = m->threads_max - m->threads_at_start, m->ceiling_why = "threads-max";
  if (m->max_map_count > 0 && m->max_map_count / 2 < m->thread_ceiling)
    m->thread_ceiling = m->max_map_count / 2, m->ceiling_why = "vm.max_map_count / 2";
  if (m->nproc_limit > 0 && m->nproc_limit - m->threads_at_start < m->thread_ceiling)
    m->thread_ceiling = m->nproc_limit - m->threads_at_start, m->ceiling_why = "RLIMIT_NPROC";
  struct utsname u;
  if (uname(&u) == 0)
    snprintf(m->kernel, sizeof m->kernel, "%.60s %.100s %.60s", u.sysname, u.release, u.machine);
}

static int write_json(const options *o, const machine *m, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "weft-compare: %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "{\n  \"tool\": \"weft-compare\",\n  \"weft_version\": ");
  json_str(f, weft_version_string());
  fprintf(f, ",\n  \"libuv_version\": ");
  json_str(f, uv_version_string());
  fprintf(f, ",\n  \"quick\": %s,\n", o->quick ? "true" : "false");
  fprintf(f, "  \"machine\": {\"cpus\": %d, \"pid_max\": %lld, \"threads_in_use_at_start\": %lld, "
             "\"threads_max\": %lld, \"max_map_count\": %lld, \"thread_ceiling_estimate\": %lld, "
             "\"open_files_limit\": %lld, \"kernel\": ",
          m->cpus, m->pid_max, m->threads_at_start, m->threads_max, m->max_map_count,
          m->thread_ceiling, m->nofile);
  json_str(f, m->kernel);
  fprintf(f, ", \"loadavg_start\": ");
  json_str(f, m->load_start);
  fprintf(f, ", \"loadavg_end\": ");
  json_str(f, m->load_end);
  fprintf(f, "},\n  \"options\": {\"thread_cap\": %lld, \"reps\": %d, \"work_ms\": %lld, "
             "\"tickers\": %lld, \"switch_ms\": %lld, \"fanout_sleep_ms\": 100, "
             "\"message_bytes\": %d},\n",
          (long long)o->thread_cap, o->reps, (long long)o->work_ms, (long long)o->tickers,
          (long long)o->switch_ms, MSG_SIZE);
  fprintf(f, "  \"table\": {");
  for (int i = 0; i < o->nmodels; i++) {
    summary s = summarize(o, o->models[i]);
    fprintf(f, "%s\n    ", i ? "," : "");
    json_str(f, o->models[i]);
    fprintf(f, ": {\"title\": ");
    json_str(f, title_of(o->models[i]));
    fprintf(f, ", \"memory_per_waiter_bytes\": ");
    json_num(f, s.mem_per_waiter);
    fprintf(f, ", \"memory_measured_with_n\": ");
    json_num(f, s.mem_n);
    fprintf(f, ", \"kernel_stack_per_waiter_bytes\": ");
    json_num(f, s.kstack_per_waiter);
    fprintf(f, ", \"address_space_per_waiter_bytes\": ");
    json_num(f, s.vm_per_waiter);
    fprintf(f, ", \"create_ns\": ");
    json_num(f, s.create_ns);
    fprintf(f, ", \"switch_ns\": ");
    json_num(f, s.switch_ns);
    fprintf(f, ", \"switch_across_cpus_ns\": ");
    json_num(f, s.switch_xcpu_ns);
    fprintf(f, ",\n      \"at_10000\": {\"memory_bytes\": ");
    json_num(f, s.mem_10k);
    fprintf(f, ", \"wall_ns\": ");
    json_num(f, s.wall_10k);
    fprintf(f, ", \"concurrent\": ");
    json_num(f, s.n_10k);
    fprintf(f, "}, \"at_100000\": {\"memory_bytes\": ");
    json_num(f, s.mem_100k);
    fprintf(f, ", \"wall_ns\": ");
    json_num(f, s.wall_100k);
    fprintf(f, ", \"concurrent\": ");
    json_num(f, s.n_100k);
    fprintf(f, "}, \"thread_creation_stopped_at\": ");
    json_num(f, s.cap);
    fprintf(f, ", \"thread_creation_failed\": %s}", s.cap_failed ? "true" : "false");
  }
  fprintf(f, "\n  },\n  \"results\": [");
  for (int i = 0; i < g_nresults; i++) {
    const result *r = &g_results[i];
    fprintf(f, "%s\n    {\"model\": ", i ? "," : "");
    json_str(f, r->model);
    fprintf(f, ", \"workload\": ");
    json_str(f, r->workload);
    fprintf(f, ", \"n\": %lld, \"k\": %lld, \"ok\": %s, \"children\": %d, \"metrics\": {",
            (long long)r->n, (long long)r->k, r->ok ? "true" : "false", r->children);
    for (int j = 0; j < r->nm; j++) {
      fprintf(f, "%s", j ? ", " : "");
      json_str(f, r->m[j].key);
      fprintf(f, ": ");
      json_num(f, r->m[j].v);
    }
    fprintf(f, "}, \"notes\": [");
    for (int j = 0; j < r->nnotes; j++) {
      fprintf(f, "%s", j ? ", " : "");
      json_str(f, r->notes[j]);
    }
    fprintf(f, "], \"error\": ");
    if (r->error[0]) json_str(f, r->error);
    else fputs("null", f);
    fputc('}', f);
  }
  fprintf(f, "\n  ]\n}\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    fprintf(stderr, "weft-compare: writing %s failed\n", path);
    return -1;
  }
  return 0;
}

/* ================================================================= main */

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--child")) return child_main(argc, argv);

  options o;
  memset(&o, 0, sizeof o);
  o.thread_cap = 20000;
  o.reps = 3;
  o.work_ms = 200;
  o.tickers = 10;
  o.switch_ms = 100;
  o.fdpp_trips = 30000;
  int set_fanout = 0, set_fdpp = 0, set_cap = 0, set_trips = 0, set_work = 0, set_switch = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t x;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--quick")) {
      o.quick = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "weft-compare: unknown option or missing value: %s\n", a);
      usage(stderr);
      return 2;
    }
    i++;
    char *arg = argv[i];
    int bad = 0;
    if (!strcmp(a, "--json")) o.json = v;
    else if (!strcmp(a, "--models"))
      bad = parse_names(arg, o.models, &o.nmodels, k_models, NELEM(k_models), "model");
    else if (!strcmp(a, "--workloads"))
      bad = parse_names(arg, o.workloads, &o.nworkloads, k_workloads, NELEM(k_workloads), "workload");
    else if (!strcmp(a, "--fanout-n")) bad = parse_nums(arg, o.fanout_n, &o.nfanout), set_fanout = 1;
    else if (!strcmp(a, "--fdpp-n")) bad = parse_nums(arg, o.fdpp_n, &o.nfdpp), set_fdpp = 1;
    else if (!strcmp(a, "--fdpp-trips")) bad = (x = parse_pos(v)) < 0, o.fdpp_trips = x, set_trips = 1;
    else if (!strcmp(a, "--thread-cap")) bad = (x = parse_pos(v)) < 0, o.thread_cap = x, set_cap = 1;
    else if (!strcmp(a, "--reps")) bad = (x = parse_pos(v)) < 0 || x > 15, o.reps = (int)x;
    else if (!strcmp(a, "--work-ms")) bad = (x = parse_pos(v)) < 0, o.work_ms = x, set_work = 1;
    else if (!strcmp(a, "--tickers")) bad = (x = parse_pos(v)) < 0 || x > 1000, o.tickers = x;
    else if (!strcmp(a, "--switch-ms")) bad = (x = parse_pos(v)) < 0, o.switch_ms = x, set_switch = 1;
    else {
      fprintf(stderr, "weft-compare: unknown option %s\n", a);
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, "weft-compare: bad value for %s: %s\n", a, v);
      return 2;
    }
  }
  if (!o.nmodels)
    for (int i = 0; i < NELEM(k_models); i++) o.models[o.nmodels++] = k_models[i];
  if (!o.nworkloads)
    for (int i = 0; i < NELEM(k_workloads); i++) o.workloads[o.nworkloads++] = k_workloads[i];
  if (!set_fanout) {
    static const int64_t full[] = {3, 1000, 10000, 100000}, quick[] = {3, 1000};
    o.nfanout = o.quick ? 2 : 4;
    memcpy(o.fanout_n, o.quick ? quick : full, sizeof(int64_t) * (size_t)o.nfanout);
  }
  if (!set_fdpp) {
    static const int64_t full[] = {1, 100, 1000, 9000}, quick[] = {1, 100};
    o.nfdpp = o.quick ? 2 : 4;
    memcpy(o.fdpp_n, o.quick ? quick : full, sizeof(int64_t) * (size_t)o.nfdpp);
  }
  if (o.quick) {
    if (!set_trips) o.fdpp_trips = 2000;
    if (!set_cap) o.thread_cap = 2000;
    if (!set_work) o.work_ms = 50;
    if (!set_switch) o.switch_ms = 20;
  }

  ssize_t len = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (len <= 0) {
    fprintf(stderr, "weft-compare: cannot find my own executable: %s\n", strerror(errno));
    return 1;
  }
  g_self[len] = 0;
  signal(SIGPIPE, SIG_IGN);

  /* fd ping-pong: stay inside the open-file limit (two fds per pair). */
  struct rlimit rl;
  int64_t max_pairs = 1000000;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    max_pairs = ((int64_t)rl.rlim_cur - 100) / 2;
  char limited_note[200] = "";
  for (int i = 0; i < o.nfdpp; i++) {
    if (o.fdpp_n[i] > max_pairs) {
      snprintf(limited_note, sizeof limited_note,
               "fd ping-pong: %lld pairs asked, %lld run: the open-file limit is %lld",
               (long long)o.fdpp_n[i], (long long)max_pairs, (long long)rl.rlim_cur);
      o.fdpp_n[i] = max_pairs;
    }
  }

  machine m;
  machine_start(&m);
  printf("weft-compare: weft %s vs OS threads vs libuv %s\n", weft_version_string(),
         uv_version_string());
  printf("machine: %s, %d CPUs, pid_max %lld, %lld threads+processes running at start, "
         "open-file limit %lld\n",
         m.kernel, m.cpus, m.pid_max, m.threads_at_start, m.nofile);
  printf("load average at start: %s (the machine may be shared: figures are noisy)\n",
         m.load_start);
  printf("threads: pthread_create would fail near %lld threads here (%s; pid_max %lld, "
         "threads-max %lld, vm.max_map_count %lld);\n  the threads model stops at %lld "
         "(--thread-cap) to leave the shared machine usable%s\n",
         m.thread_ceiling, m.ceiling_why, m.pid_max, m.threads_max, m.max_map_count,
         (long long)o.thread_cap, o.quick ? "; --quick sizes" : "");
  if (limited_note[0]) printf("%s\n", limited_note);
  fflush(stdout);

  /* The plan: every cell, in workload order. */
  int total = 0;
  for (int w = 0; w < o.nworkloads; w++) {
    int cells = !strcmp(o.workloads[w], "fanout") ? o.nfanout
                : !strcmp(o.workloads[w], "fdpp") ? o.nfdpp
                                                  : 1;
    for (int i = 0; i < o.nmodels; i++) total += find_cell(o.models[i], o.workloads[w]) ? cells : 0;
  }
  int idx = 0;
  for (int w = 0; w < o.nworkloads; w++) {
    const char *wl = o.workloads[w];
    if (!strcmp(wl, "fanout")) {
      for (int j = 0; j < o.nfanout; j++)
        for (int i = 0; i < o.nmodels; i++)
          if (find_cell(o.models[i], wl))
            run_cell(&o, o.models[i], wl, o.fanout_n[j], 0, o.reps, ++idx, total);
    } else if (!strcmp(wl, "fdpp")) {
      for (int j = 0; j < o.nfdpp; j++) {
        int64_t k = o.fdpp_trips / o.fdpp_n[j];
        if (k < 10) k = 10;
        for (int i = 0; i < o.nmodels; i++)
          if (find_cell(o.models[i], wl))
            run_cell(&o, o.models[i], wl, o.fdpp_n[j], k, 1, ++idx, total);
      }
    } else {
      for (int i = 0; i < o.nmodels; i++)
        if (find_cell(o.models[i], wl)) run_cell(&o, o.models[i], wl, 0, 0, 1, ++idx, total);
    }
  }
  read_first_line("/proc/loadavg", m.load_end, sizeof m.load_end);

  if (in_list("fanout", o.workloads, o.nworkloads) >= 0 ||
      in_list("switch", o.workloads, o.nworkloads) >= 0)
    print_table(&o);
  for (int w = 0; w < o.nworkloads; w++) {
    if (!strcmp(o.workloads[w], "fanout")) print_fanout(&o);
    else if (!strcmp(o.workloads[w], "switch")) print_switch(&o);
    else if (!strcmp(o.workloads[w], "fdpp")) print_fdpp(&o);
    else if (!strcmp(o.workloads[w], "block")) print_block(&o);
  }
  printf("\nload average at end: %s\n", m.load_end);

  int failed = 0;
  for (int i = 0; i < g_nresults; i++) failed += !g_results[i].ok;
  if (failed) printf("%d of %d runs FAILED (see above)\n", failed, g_nresults);
  if (o.json) {
    if (write_json(&o, &m, o.json) != 0) return 1;
    printf("results written to %s\n", o.json);
  }
  return failed ? 1 : 0;
}
