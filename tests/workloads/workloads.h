/*
 * workloads.h -- weft's one library of measuring workloads (static library
 * weft_workloads), shared by its two front ends:
 *
 *   examples/compare  weft-compare: the comparison of concurrency models (the
 *                     seeds' cost table); runs each cell in a child process
 *                     and reads its figures as `key=value` lines;
 *   tests/bench       weft-bench-run: weft versus libuv, one workload per
 *                     process, one JSON line, driven by bench.py.
 *
 * A workload is written once per library, in that library's file: weft.c
 * (both weft models: tasks and callbacks), uv.c (libuv), threads.c (OS
 * threads). It reads its parameters from a wl_params, measures, and hands
 * its figures to wl_num() / wl_note(); it never prints. The front end chose
 * the output format (wl_out_format) and writes the collected figures with
 * wl_out_flush() after the workload returns, so a workload's figures have the
 * same names and meaning whichever front end ran it. registry.c maps
 * (workload, library) to the function. README.md says how to add a workload
 * or a model.
 *
 * Benchmark-only code: it lives under tests/ (DESIGN.md, "Layout"), is never
 * installed and uses weft only through the public C API (weft.h).
 */
#ifndef WEFT_WORKLOADS_H
#define WEFT_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" { /* so that a C++ model (e.g. coroutines) can be a file of this library */
#endif

/* ============================================================ parameters */

/* Everything a workload may read. Each front end fills the fields its
 * workloads use and leaves the rest 0 (both start from a zeroed struct). */
typedef struct wl_params {
  const char *workload; /* "fanout", "timers", ... (the registry's name) */
  const char *model;    /* weft-compare: "weft" (tasks), "weft-cb" (callbacks), "threads",
                           "libuv"; weft-bench-run: its LIB argument, "weft" or "uv" */
  const char *variant;  /* weft-bench-run: per workload, e.g. watch|task (pingpong); "" if none */
  int64_t n;            /* waiters (fanout), socketpairs (fdpp), timers / handles / tasks */
  int64_t k;            /* fdpp: round trips per pair */
  int64_t count;        /* fixed event count instead of a duration (callgrind); 0 = timed */
  double duration;      /* seconds, for timed bench workloads */
  int threads;          /* posts: producers; pingpong: loops (1|2); to_thread: in flight */
  int64_t pairs;        /* handles: socketpairs for fd watches (0 = as many as fds allow);
                           pingpong: socketpairs ping-ponging at once on one loop (0 = 1) */
  int64_t thread_cap;   /* the most threads the threads model may create */
  int64_t sleep_ns;     /* fanout: each waiter's sleep (100 ms) */
  int64_t work_ns;      /* block: CPU work (200 ms) */
  int64_t tick_ns;      /* block: tick period (1 ms) */
  int64_t tickers;      /* block: ticking tasks / threads / timers */
  int64_t switch_target_ns; /* switch: each timed run lasts about this long */
  int reps;             /* switch, fdpp: timed runs inside one process (median) */
} wl_params;

/* ============================================================== registry */

/* A workload on one library: returns 0 when its figures were recorded,
 * non-zero otherwise (a note says why). Fatal misbehaviour exits through
 * WL_CHECK instead. */
typedef int (*wl_fn)(const wl_params *p);

/* The libraries (a column of the registry each). */
typedef enum wl_lib { WL_WEFT, WL_LIBUV, WL_THREADS, WL_CPP, WL_NLIBS } wl_lib;
/* WL_CPP: C++20 coroutines on weft.hpp (cpp.cc). */

/* The workload `name` on library `lib`, or NULL if it has none there. */
wl_fn wl_find(const char *name, wl_lib lib);

/* ================================================================ output */

typedef enum wl_format {
  WL_FMT_LINES, /* weft-compare's child protocol: `key=value`, `note=text`, then `end=1` */
  WL_FMT_JSON   /* weft-bench-run: one JSON object {workload,lib,variant,...,figures:{}} */
} wl_format;

void wl_out_format(wl_format f);                   /* default WL_FMT_LINES */
void wl_num(const char *key, double value);        /* records one figure */
void wl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* a note */
/* Writes what was recorded to stdout and flushes. LINES: every figure and
 * note, then `end=1` if ok. JSON: the object if ok, nothing otherwise. */
void wl_out_flush(const wl_params *p, int ok);

/* ================================================================ checks */

/* Aborts the run with a message: a benchmark that misbehaves prints no figure. */
#define WL_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(2);                                                                \
    }                                                                         \
  } while (0)

/* Under valgrind --tool=callgrind, each phase of a workload is dumped as its
 * own profile part (bench.py reads the instruction totals per part); outside
 * valgrind these are a few no-op instructions. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define WL_HAVE_CALLGRIND 1
#endif
#endif
#ifdef WL_HAVE_CALLGRIND
#define WL_PHASE_BEGIN() CALLGRIND_ZERO_STATS
#define WL_PHASE_END(name) CALLGRIND_DUMP_STATS_AT(name)
#else
#define WL_PHASE_BEGIN() ((void)0)
#define WL_PHASE_END(name) ((void)0)
#endif

/* ================================================================ clocks */

#define WL_MS 1000000LL
#define WL_SEC 1000000000LL

int64_t now_ns(void);        /* CLOCK_MONOTONIC, ns */
int64_t thread_cpu_ns(void); /* CLOCK_THREAD_CPUTIME_ID, ns */
int64_t cpu_ns(void);        /* CPU time of the whole process (user + sys, all threads), ns */
int64_t sys_ns(void);        /* the system (kernel) part of cpu_ns, ns */
void sleep_ns(int64_t ns);   /* nanosleep, restarted on EINTR */

/* Burns CPU on the calling thread until it has used `ns` of CPU time (not
 * wall time: on a loaded machine it takes longer, and the lateness it causes
 * is at least `ns`). Returns a value derived from the work so it is kept. */
int burn_cpu(int64_t ns);

/* A tiny job for the pool workloads (the same in every library). */
static inline unsigned wl_fastrand(unsigned *g) {
  *g = *g * 214013u + 2531011u;
  return *g;
}

/* ================================================================ memory */

/* Memory of this process, from /proc/self/status, in bytes (-1 if absent). */
typedef struct memsnap {
  int64_t rss, hwm, vmsize, vmpeak;
  int64_t kstack; /* /proc/meminfo KernelStack: system-wide, bytes */
} memsnap;
void mem_snap(memsnap *m);
/* Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs).
 * Returns 0, or -1 if the kernel refused (the delta is then from RSS). */
int mem_reset_peak(void);
int64_t rss_bytes(void);    /* resident set size now, bytes (/proc/self/statm) */
int64_t maxrss_bytes(void); /* peak resident set size, bytes (getrusage ru_maxrss) */

/* ============================================================ statistics */

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
 * and records <prefix>_ns (median ns per switch), <prefix>_min_ns,
 * <prefix>_max_ns and <prefix>_rounds. */
typedef int64_t (*switch_run_fn)(void *ctx, int64_t rounds);
void measure_switch(const wl_params *p, const char *prefix, switch_run_fn run, void *ctx);

/* Records the blocking workload's figures for one round: <prefix>_worst_ns,
 * _mean_ns (tick lateness), _ticks and _work_ns (how long the work took). */
void block_figures(const char *prefix, int64_t late_max, int64_t late_sum, int64_t ticks,
                   int64_t work_took);

/* Records the fdpp figures: n, k, wall_ns (median of v[0..reps-1]), rtt_ns,
 * rss_delta (m1.hwm - m0.rss). */
void fdpp_figures(const wl_params *p, double *v, int reps, const memsnap *m0, const memsnap *m1);

/* Records the handles workload's figures (bench): n handles, RSS before and
 * after starting them, CPU time before start, after start, after stop and
 * cleanup. */
void handles_figures(int64_t n, int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t c2);

/* =============================================================== sockets */

/* Creates n socketpairs (AF_UNIX, SOCK_STREAM, close-on-exec), nonblocking or
 * not. fds[2*i] and fds[2*i+1] are the two ends of pair i. Returns the number
 * created (< n when the fd limit is reached; errno is then set). */
int64_t make_socketpairs(int *fds, int64_t n, int nonblocking);
void close_fds(int *fds, int64_t n);
/* One nonblocking socketpair; aborts (WL_CHECK) if it cannot be made. */
void wl_socketpair(int fds[2]);
/* Raises the soft open-file limit to the hard one; returns the new limit. */
int64_t wl_raise_nofile(void);
/* Socketpairs for the fd-watch handles workload: as many as the open-file
 * limit allows, at most 9,000 (and at most p->pairs if set). */
int64_t wl_handle_pairs(const wl_params *p);

/* ---- fdpp (weft-compare): N socketpairs, a MSG_SIZE message bounced K times
 * over each; one fdpp_end per socket end, the same for every event library. */
#define MSG_SIZE 64
typedef struct fdpp_end {
  int fd;
  int initiator; /* sends first; the other end echoes */
  int64_t left;  /* messages still to receive */
  int got;       /* bytes of the current message received */
  char buf[MSG_SIZE];
} fdpp_end;
/* Sets up an end for a run of k messages (clears got, fills buf). */
void fdpp_reset(fdpp_end *e, int fd, int initiator, int64_t k);
/* Writes one message: 0, or -1 (one message in flight never fills a socket). */
int fdpp_send(fdpp_end *e);
/* Reads what is there: 1 when a whole message has arrived, 0 if not yet,
 * -1 on error or end of file. */
int fdpp_recv(fdpp_end *e);
/* After a whole message: 1 if this end is finished, 0 to go on, -1 error. */
int fdpp_on_message(fdpp_end *e);
/* The fd is readable: fdpp_recv then fdpp_on_message; 1 done, 0 go on, -1 error. */
int fdpp_on_readable(fdpp_end *e);

/* ---- pingpong (weft-bench-run): one socketpair, the pinger writes WL_PING
 * on `a` and waits for it to come back; the echo end `b` writes back what it
 * reads. */
#define WL_PING "PING\n"
#define WL_PING_LEN 5
struct pp {
  int a, b;  /* pinger's end, echo's end */
  int64_t pongs, count, dur_ns, start;  /* start and now: ns, any fixed origin */
  int got;   /* bytes of the current pong received */
};
/* Writes one ping on fd. */
void pp_send(int fd);
/* The pinger's end is readable: reads, counts pongs, sends the next ping.
 * Returns 1 when the run is over (count reached, or now - start >= dur_ns);
 * then `a` is shut down for writing so that the echo end sees EOF. */
int pp_pinger_read(struct pp *s, int64_t now_ns);
/* The echo end is readable: reads and writes back; 1 at EOF. */
int pp_echo_read(int fd);

/* =========================================================== the workloads
 * One function per (library, workload); registry.c lists them. */

/* weft-compare's: p->model picks "weft" (tasks) or "weft-cb" (callbacks). */
int wl_weft_fanout(const wl_params *p);
int wl_weft_switch(const wl_params *p);
int wl_weft_fdpp(const wl_params *p);
int wl_weft_block(const wl_params *p);
int wl_uv_fanout(const wl_params *p);
int wl_uv_switch(const wl_params *p);
int wl_uv_fdpp(const wl_params *p);
int wl_uv_block(const wl_params *p);
int wl_threads_fanout(const wl_params *p);
int wl_threads_switch(const wl_params *p);
int wl_threads_fdpp(const wl_params *p);
int wl_threads_block(const wl_params *p);
/* C++20 coroutines on weft.hpp (cpp.cc), weft-compare model "weft-cpp". */
int wl_cpp_fanout(const wl_params *p);
int wl_cpp_switch(const wl_params *p);
int wl_cpp_fdpp(const wl_params *p);
int wl_cpp_block(const wl_params *p);

/* weft-bench-run's: p->variant picks the style (see each workload). */
int wl_weft_timers(const wl_params *p);
int wl_weft_loop_count(const wl_params *p);
int wl_weft_pingpong(const wl_params *p);
int wl_weft_to_thread(const wl_params *p);
int wl_weft_posts(const wl_params *p);
int wl_weft_handles(const wl_params *p);
int wl_weft_tasks(const wl_params *p);
int wl_uv_timers(const wl_params *p);
int wl_uv_loop_count(const wl_params *p);
int wl_uv_pingpong(const wl_params *p);
int wl_uv_to_thread(const wl_params *p);
int wl_uv_posts(const wl_params *p);
int wl_uv_handles(const wl_params *p);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_WORKLOADS_H */
