/* registry.c -- which function runs a workload on each library. One row per
 * workload, one column per library; NULL where a library has no version.
 * Adding a workload is one row here (see README.md). */
#include <string.h>

#include "workloads.h"

static const struct {
  const char *name;
  wl_fn fn[WL_NLIBS]; /* indexed by wl_lib: weft, libuv, threads */
} g_workloads[] = {
    /* weft-compare (examples/compare) */
    {"fanout", {wl_weft_fanout, wl_uv_fanout, wl_threads_fanout}},
    {"switch", {wl_weft_switch, wl_uv_switch, wl_threads_switch}},
    {"fdpp", {wl_weft_fdpp, wl_uv_fdpp, wl_threads_fdpp}},
    {"block", {wl_weft_block, wl_uv_block, wl_threads_block}},
    /* weft-bench-run (tests/bench) */
    {"timers", {wl_weft_timers, wl_uv_timers, NULL}},
    {"loop_count", {wl_weft_loop_count, wl_uv_loop_count, NULL}},
    {"pingpong", {wl_weft_pingpong, wl_uv_pingpong, NULL}},
    {"to_thread", {wl_weft_to_thread, wl_uv_to_thread, NULL}},
    {"posts", {wl_weft_posts, wl_uv_posts, NULL}},
    {"handles", {wl_weft_handles, wl_uv_handles, NULL}},
    {"tasks", {wl_weft_tasks, NULL, NULL}},
};

wl_fn wl_find(const char *name, wl_lib lib) {
  if (!name || (int)lib < 0 || lib >= WL_NLIBS) return NULL;
  for (size_t i = 0; i < sizeof g_workloads / sizeof g_workloads[0]; i++)
    if (!strcmp(g_workloads[i].name, name)) return g_workloads[i].fn[lib];
  return NULL;
}
