/*
 * compare.h -- shared pieces of weft-compare, the comparison harness.
 *
 * The parent process (main.c) runs every (model, workload, size) in a child
 * process of its own -- `weft-compare --child MODEL WORKLOAD N K` -- so that
 * memory figures of one model never mix with another's. A child measures,
 * then writes its figures to stdout as `key=value` lines (numbers) and
 * `note=text` lines, ending with `end=1`. The parent reads them from a pipe,
 * takes medians over repeated children, prints the table and writes JSON.
 *
 * The model files (model_weft.c, model_threads.c, model_uv.c) each provide
 * one entry point that runs one workload and reports through report_*().
 */
#ifndef WEFT_COMPARE_H
#define WEFT_COMPARE_H

#include <stddef.h>
#include <stdint.h>

/* Workload parameters handed to a child. */
typedef struct params {
  const char *model;    /* "weft", "weft-cb", "threads", "libuv" */
  const char *workload; /* "fanout", "switch", "fdpp", "block" */
  int64_t n;            /* waiters (fanout), socketpairs (fdpp); unused otherwise */
  int64_t k;            /* round trips per pair (fdpp) */
  int64_t thread_cap;   /* the most threads the threads model may create */
  int64_t sleep_ns;     /* fan-out sleep (100 ms) */
  int64_t work_ns;      /* block: CPU work (200 ms) */
  int64_t tick_ns;      /* block: tick period (1 ms) */
  int64_t tickers;      /* block: ticking tasks / threads */
  int64_t switch_target_ns; /* switch: each timed run lasts about this long */
  int reps;             /* switch, fdpp: timed runs inside the child (median) */
} params;

/* ------------------------------------------------------------- util.c */

int64_t now_ns(void);             /* CLOCK_MONOTONIC */
int64_t thread_cpu_ns(void);      /* CLOCK_THREAD_CPUTIME_ID */
void sleep_ns(int64_t ns);        /* nanosleep, restarted on EINTR */

/* Burns CPU on the calling thread until it has used `ns` of CPU time (not
 * wall time: on a loaded machine it takes longer, and the lateness it causes
 * is at least `ns`). Returns a value derived from the work so it is kept. */
int burn_cpu(int64_t ns);

/* Memory of this process, from /proc/self/status, in bytes (-1 if absent). */
typedef struct memsnap {
  int64_t rss, hwm, vmsize, vmpeak;
  int64_t kstack; /* /proc/meminfo KernelStack: system-wide, bytes */
} memsnap;
void mem_snap(memsnap *m);
/* Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs).
 * Returns 0, or -1 if the kernel refused (the delta is then from RSS). */
int mem_reset_peak(void);

/* Child output: key=value lines and notes, flushed at end. */
void report_num(const char *key, double value);
void report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_end(void);

/* Median of v[0..n-1] (sorts v). */
double median(double *v, int n);

/* Tracks how many waiters are alive at once (threads use it concurrently). */
typedef struct peak_counter {
  int64_t alive; /* accessed with __atomic builtins */
  int64_t peak;
} peak_counter;
void peak_enter(peak_counter *p);
void peak_leave(peak_counter *p);
/* The same for one thread: plain arithmetic. */
static inline void peak_enter1(peak_counter *p) {
  if (++p->alive > p->peak) p->peak = p->alive;
}
static inline void peak_leave1(peak_counter *p) { p->alive--; }

/* Measures a switch workload: run(ctx, rounds) performs `rounds` switches
 * and returns the ns they took. Calibrates rounds so that one run lasts
 * about p->switch_target_ns, does one warm-up run, then p->reps timed runs,
 * and reports <prefix>_ns (median ns per switch), <prefix>_min_ns,
 * <prefix>_max_ns and <prefix>_rounds. */
typedef int64_t (*switch_run_fn)(void *ctx, int64_t rounds);
void measure_switch(const params *p, const char *prefix, switch_run_fn run, void *ctx);

/* Creates n socketpairs (AF_UNIX, SOCK_STREAM), nonblocking or not. fds[2*i]
 * and fds[2*i+1] are the two ends of pair i. Returns the number created
 * (< n when the fd limit is reached; errno is then set). */
int64_t make_socketpairs(int *fds, int64_t n, int nonblocking);
void close_fds(int *fds, int64_t n);

#define MSG_SIZE 64 /* bytes bounced in fd ping-pong */

/* ----------------------------------------------------- model entry points */

int run_weft(const params *p);     /* model "weft" (tasks) and "weft-cb" */
int run_threads(const params *p);  /* model "threads" */
int run_uv(const params *p);       /* model "libuv" */

#endif
