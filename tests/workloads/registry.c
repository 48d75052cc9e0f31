/* registry.c -- which function runs a workload on each library. One row per
 * workload, one column per library (designated by wl_lib); a library without
 * a version of the workload is left out of the row.
 * Adding a workload is one row here (see README.md). */
#include <string.h>

#include "workloads.h"

static const struct {
  const char *name;
  wl_fn fn[WL_NLIBS]; /* indexed by wl_lib: weft, libuv, threads */
} g_workloads[] = {
    /* weft-compare (examples/compare) */
    {"fanout",
     {[WL_WEFT] = wl_weft_fanout,
      [WL_LIBUV] = wl_uv_fanout,
      [WL_THREADS] = wl_threads_fanout}},
    {"switch",
     {[WL_WEFT] = wl_weft_switch,
      [WL_LIBUV] = wl_uv_switch,
      [WL_THREADS] = wl_threads_switch}},
    {"fdpp", {[WL_WEFT] = wl_weft_fdpp, [WL_LIBUV] = wl_uv_fdpp, [WL_THREADS] = wl_threads_fdpp}},
    {"block",
     {[WL_WEFT] = wl_weft_block,
      [WL_LIBUV] = wl_uv_block,
      [WL_THREADS] = wl_threads_block}},
    /* weft-bench-run (tests/bench) */
    {"timers", {[WL_WEFT] = wl_weft_timers, [WL_LIBUV] = wl_uv_timers}},
    {"loop_count", {[WL_WEFT] = wl_weft_loop_count, [WL_LIBUV] = wl_uv_loop_count}},
    {"pingpong", {[WL_WEFT] = wl_weft_pingpong, [WL_LIBUV] = wl_uv_pingpong}},
    {"to_thread", {[WL_WEFT] = wl_weft_to_thread, [WL_LIBUV] = wl_uv_to_thread}},
    {"posts", {[WL_WEFT] = wl_weft_posts, [WL_LIBUV] = wl_uv_posts}},
    {"handles", {[WL_WEFT] = wl_weft_handles, [WL_LIBUV] = wl_uv_handles}},
    {"tasks", {[WL_WEFT] = wl_weft_tasks}},
};

wl_fn wl_find(const char *name, wl_lib lib) {
  if (!name || (int)lib < 0 || lib >= WL_NLIBS) return NULL;
  for (size_t i = 0; i < sizeof g_workloads / sizeof g_workloads[0]; i++)
    if (!strcmp(g_workloads[i].name, name)) return g_workloads[i].fn[lib];
  return NULL;
}
