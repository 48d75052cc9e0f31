/*
 * main.c -- weft-bench-run: runs one workload on one library and prints its
 * figures as one JSON line. The driver, bench.py, is what people run. The
 * workloads live in tests/workloads (weft_workloads, shared with the
 * comparison, examples/compare); this file is the front end.
 *
 *   weft-bench-run WORKLOAD LIB [--variant V] [--n N] [--count K]
 *                  [--duration S] [--threads T] [--pairs P]
 *
 * WORKLOAD: timers loop_count pingpong to_thread posts handles tasks
 * LIB:      weft uv            (tasks: weft only; threads has none of these yet)
 */
#include <string.h>

#include "workloads.h"

/* The workloads this front end runs (the registry has more: weft-compare's). */
static const char *const k_workloads[] = {"timers",  "loop_count", "pingpong", "to_thread",
                                          "posts",   "handles",    "tasks"};

/* LIB names -> the registry's libraries. */
static const struct {
  const char *name;
  wl_lib lib;
} k_libs[] = {{"weft", WL_WEFT}, {"uv", WL_LIBUV}, {"threads", WL_THREADS}};

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
  wl_params p;
  memset(&p, 0, sizeof p);
  p.workload = argv[1];
  p.model = argv[2];
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
  int known = 0;
  for (size_t i = 0; i < sizeof k_workloads / sizeof k_workloads[0]; i++)
    known |= !strcmp(k_workloads[i], p.workload);
  wl_lib lib = WL_NLIBS;
  for (size_t i = 0; i < sizeof k_libs / sizeof k_libs[0]; i++)
    if (!strcmp(k_libs[i].name, p.model)) lib = k_libs[i].lib;
  const wl_fn fn = known ? wl_find(p.workload, lib) : NULL;
  if (!fn) usage();
  wl_out_format(WL_FMT_JSON);
  const int rc = fn(&p);
  wl_out_flush(&p, rc == 0);
  return rc;
}
