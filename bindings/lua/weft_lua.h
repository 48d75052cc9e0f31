/*
 * weft_lua.h -- the C half of weft's Lua binding (internal).
 *
 * The SWIG wrapper generated from bindings/weft.i (Lua section:
 * bindings/lua/weft_lua.i) wraps weft.h directly where it can, and the
 * functions declared here where a Lua value crosses into C: callbacks
 * (registry refs called with lua_pcall), tasks (coroutines resumed by a
 * weft_task_fn trampoline), to_thread jobs (a chunk run in a per-pool-thread
 * lua_State) and the fd helpers. Not a public C API: the Lua interface is
 * documented in weft.lua (LDoc) and bindings/lua/README.md.
 */
#ifndef WEFT_LUA_H
#define WEFT_LUA_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "weft.h"

/* Stack index of a Lua function argument (SWIG typemap WL_FUNC checks it);
 * WL_OPTFUNC: a function or nil, 0 when nil. */
typedef int WL_FUNC;
typedef int WL_OPTFUNC;

/* The await requests a task yields to the step trampoline:
 * coroutine.yield(op, ...). SYNC ones are answered without the loop. */
enum {
  WL_OP_SLEEP = 1,   /* seconds           -> 0                              */
  WL_OP_FD = 2,      /* fd, events        -> ready events mask              */
  WL_OP_TASK = 3,    /* task              -> 0 once it finished             */
  WL_OP_ALL = 4,     /* flags, {tasks}    -> 0 / first error [, asked cancel] */
  WL_OP_YIELD = 5,   /* (a bare yield too) -> 0                             */
  WL_OP_THREAD = 6,  /* job               -> work result                    */
  WL_OP_TIMEOUT = 7, /* ns (0 clears)     -> rc                      (SYNC) */
  WL_OP_SELF = 8     /*                   -> the task                (SYNC) */
};

/* Refs held per handle kind (weft's WEFT_KIND_* numbers index them). */
#define WL_KINDS 16

typedef struct wl_job wl_job;

/* The binding's state of one loop: the full userdata behind a Lua loop. */
typedef struct wl_loop {
  weft_loop_t *loop; /* NULL once freed */
  lua_State *L;      /* the Lua thread inside run/free, NULL otherwise */
  lua_State *main;   /* the state's main thread: releases refs outside run */
  int msgh;          /* absolute index of the message handler on L */
  int errh_ref;      /* error handler, or LUA_NOREF */
  int log_ref;       /* logger, or LUA_NOREF */
  int64_t made[WL_KINDS], released[WL_KINDS]; /* refs taken, refs the hook released */
  int64_t nrefs;      /* registry refs held for weft (all kinds) */
  int64_t errors;     /* errors reported through the handler */
  int64_t finish_seq; /* counts finished tasks (orders failures) */
} wl_loop;

/* ---- functions SWIG wraps (see weft_lua.i for their Lua names) ---- */
int wl_loop_free(lua_State *L, wl_loop *lp);
int wl_loop_run(lua_State *L, wl_loop *lp, int mode);
int wl_loop_post(lua_State *L, wl_loop *lp, WL_FUNC fn);
int wl_loop_set_logger(lua_State *L, wl_loop *lp, WL_OPTFUNC fn);
int wl_loop_set_error_handler(lua_State *L, wl_loop *lp, WL_OPTFUNC fn);
int wl_timer_start(lua_State *L, wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns,
                   WL_FUNC fn, int64_t *OUT_ID);
int wl_fd_watch_start(lua_State *L, wl_loop *lp, int fd, int events, WL_FUNC fn,
                      int64_t *OUT_ID);
int wl_to_thread(lua_State *L, wl_loop *lp, wl_job *job, WL_OPTFUNC done, int64_t *OUT_ID);
int64_t wl_live(wl_loop *lp, int kind);
int64_t wl_released(wl_loop *lp, int kind);
int64_t wl_refs(wl_loop *lp);
int64_t wl_errors(wl_loop *lp);
int64_t wl_clock_ns(void);

/* ---- hand-written lua_CFunctions (SWIG %native) ---- */
int wl_l_loop_new(lua_State *L);
int wl_l_task_spawn(lua_State *L);
int wl_l_job_new(lua_State *L);
int wl_l_set_sentinels(lua_State *L);
int wl_l_socketpair(lua_State *L);
int wl_l_pipe(lua_State *L);
int wl_l_read(lua_State *L);
int wl_l_write(lua_State *L);
int wl_l_close(lua_State *L);
int wl_l_set_nonblocking(lua_State *L);

/* Used by the typemaps. */
wl_loop *wl_checkloop(lua_State *L, int idx);
wl_job *wl_checkjob(lua_State *L, int idx);
int wl_isfuncornil(lua_State *L, int idx);
lua_Integer wl_checkint(lua_State *L, int idx, lua_Integer lo, lua_Integer hi);
int64_t wl_checkint64(lua_State *L, int idx);
void wl_push_stats(lua_State *L, const weft_loop_stats_t *st);
/* Module setup: metatables, the op table; the module table is at `mod`. */
void wl_init(lua_State *L, int mod);

#endif /* WEFT_LUA_H */
