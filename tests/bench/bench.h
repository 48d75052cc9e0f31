/*
 * bench.h -- the shared harness of weft-bench-run: parameters, clocks, memory
 * and the one-line JSON result each run prints.
 *
 * Every workload exists twice, in wl_weft.c and in wl_uv.c, with the same
 * shape, so that the two files read side by side. One process runs one
 * (workload, library, variant) and prints one JSON object on stdout; the
 * driver (bench.py) alternates the libraries over runs and takes medians.
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Under valgrind --tool=callgrind, each phase of a workload is dumped as its
 * own profile part (the driver reads the instruction totals per part);
 * outside valgrind these are a few no-op instructions. */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define WB_HAVE_CALLGRIND 1
#endif
#endif
#ifdef WB_HAVE_CALLGRIND
#define WB_PHASE_BEGIN() CALLGRIND_ZERO_STATS
#define WB_PHASE_END(name) CALLGRIND_DUMP_STATS_AT(name)
#else
#define WB_PHASE_BEGIN() ((void)0)
#define WB_PHASE_END(name) ((void)0)
#endif

typedef struct wb_params {
  const char *workload; /* timers, loop_count, pingpong, to_thread, posts, handles, tasks */
  const char *lib;      /* weft, uv */
  const char *variant;  /* per workload: watch|task (pingpong), yield|timer0 (loop_count)... */
  int64_t n;            /* timers / handles / tasks */
  int64_t count;        /* fixed event count instead of a duration (callgrind); 0 = timed */
  double duration;      /* seconds, for timed workloads */
  int threads;          /* posts: producers; pingpong: loops (1|2); to_thread: in flight */
  int64_t pairs;        /* handles: socketpairs for fd watches (0 = as many as fds allow) */
} wb_params;

/* Monotonic wall clock, ns. */
int64_t wb_wall_ns(void);
/* CPU time of the whole process (user + sys, every thread), ns (getrusage). */
int64_t wb_cpu_ns(void);
/* System (kernel) part of wb_cpu_ns, ns: syscalls and page faults. */
int64_t wb_sys_ns(void);
/* Resident set size now, bytes (/proc/self/statm). */
int64_t wb_rss_bytes(void);
/* Peak resident set size, bytes (getrusage ru_maxrss). */
int64_t wb_maxrss_bytes(void);

/* Result output: begin, any number of figures, end (one JSON line). */
void wb_out_begin(const wb_params *p);
void wb_out_num(const char *key, double value);
void wb_out_end(void);
/* The handles workload's figures, the same for both libraries: n handles,
 * RSS before/after starting them, CPU time before start, after start, after
 * stop and cleanup. */
void wb_out_handles(const wb_params *p, int64_t n, int64_t r0, int64_t r1, int64_t c0,
                    int64_t c1, int64_t c2);

/* Aborts the run with a message: a benchmark that misbehaves prints no figure. */
#define WB_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(2);                                                                \
    }                                                                         \
  } while (0)

/* Socketpair helpers (AF_UNIX stream, non-blocking, close-on-exec). */
void wb_socketpair(int fds[2]);
/* Raises the soft open-file limit to the hard one; returns the new limit. */
int64_t wb_raise_nofile(void);
/* Socketpairs for the fd-watch handles workload: as many as the open-file
 * limit allows, at most 9,000 (and at most p->pairs if set). */
int64_t wb_handle_pairs(const wb_params *p);

/* The workloads: 0 on success (figures printed), non-zero otherwise. */
typedef int (*wb_fn)(const wb_params *p);

int wb_weft_timers(const wb_params *p);
int wb_weft_loop_count(const wb_params *p);
int wb_weft_pingpong(const wb_params *p);
int wb_weft_to_thread(const wb_params *p);
int wb_weft_posts(const wb_params *p);
int wb_weft_handles(const wb_params *p);
int wb_weft_tasks(const wb_params *p);

int wb_uv_timers(const wb_params *p);
int wb_uv_loop_count(const wb_params *p);
int wb_uv_pingpong(const wb_params *p);
int wb_uv_to_thread(const wb_params *p);
int wb_uv_posts(const wb_params *p);
int wb_uv_handles(const wb_params *p);

/* The 5-byte message of the ping-pong workloads. */
#define WB_PING "PING\n"
#define WB_PING_LEN 5

/* The ping-pong of both libraries: the pinger writes WB_PING on `a` and
 * waits for it to come back; the echo end `b` writes back what it reads. */
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

/* A tiny job for the pool workloads (the same in both libraries). */
static inline unsigned wb_fastrand(unsigned *g) {
  *g = *g * 214013u + 2531011u;
  return *g;
}

#endif /* WEFT_BENCH_H */
