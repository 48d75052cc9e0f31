/*
 * weft_lua.h -- the C half of weft's Lua binding (internal).
 *
 * The SWIG wrapper generated from bindings/weft.i (Lua section:
 * bindings/lua/weft_lua.i) wraps the C API of weft.h directly where it can,
 * and the functions declared here where a Lua value has to cross into C:
 * callbacks (registry refs, called with lua_pcall), tasks (Lua coroutines
 * resumed with lua_resume from a weft_task_fn trampoline), to_thread jobs (a
 * chunk run in a per-pool-thread lua_State) and a few socket helpers.
 *
 * Nothing here is a public C API: the module's Lua interface is documented
 * in weft.lua (LDoc) and bindings/lua/README.md.
 */
#ifndef WEFT_LUA_H
#define WEFT_LUA_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Stack index of a Lua function argument (SWIG typemap WL_FUNC checks it). */
typedef int WL_FUNC;
/* Stack index of a function-or-nil argument; 0 when nil. */
typedef int WL_OPTFUNC;

/* What a tracked callback belongs to. */
enum {
  WL_K_TIMER = 0,
  WL_K_WATCH,
  WL_K_WORK,
  WL_K_POST,
  WL_K_TASK,
  WL_K_COUNT
};

/* The await requests a task coroutine yields to the step trampoline:
 * coroutine.yield(op, ...). SYNC ones are answered at once, without going
 * back to the loop. */
enum {
  WL_OP_SLEEP = 1,   /* seconds                -> 0                        */
  WL_OP_FD = 2,      /* fd, events             -> ready events mask        */
  WL_OP_TASK = 3,    /* task                   -> 0 when it finished       */
  WL_OP_ALL = 4,     /* flags, {tasks}         -> 0 / first error, own     */
  WL_OP_YIELD = 5,   /* (also a bare yield)    -> 0                        */
  WL_OP_THREAD = 6,  /* job                    -> work result              */
  WL_OP_TIMEOUT = 7, /* ns (0 clears)          -> rc            (SYNC)     */
  WL_OP_SELF = 8     /*                        -> the task      (SYNC)     */
};

typedef struct wl_loop wl_loop;
typedef struct wl_job wl_job;
struct wl_cb;
struct wl_slot {
  int64_t id; /* 0: empty */
  struct wl_cb *cb;
};

/* A Lua value owned by one weft handle: a registry ref, released exactly
 * once, when the handle ends (or when the loop is freed). */
typedef struct wl_cb {
  struct wl_cb *prev, *next; /* in the loop's list of live callbacks */
  wl_loop *lp;
  int64_t id;                /* the handle's id (0 for posts) */
  int ref;                   /* registry ref (function, or the task userdata) */
  int ref2;                  /* WL_K_WORK: ref anchoring the job's userdata */
  uint8_t kind;              /* WL_K_* */
  uint8_t busy;              /* its callback is running */
  uint8_t dead;              /* ended while busy: release after the call */
  uint8_t oneshot;           /* a one-shot timer: ends when it fired */
  wl_job *job;               /* WL_K_WORK: the job, owned */
} wl_cb;

/* The binding's state of one loop; the full userdata behind a Lua loop. */
struct wl_loop {
  weft_loop_t *loop;  /* NULL once freed */
  lua_State *L;       /* the Lua thread inside run/free, NULL otherwise */
  int msgh;           /* absolute index of the message handler on L */
  int errh_ref;       /* error handler, or LUA_NOREF */
  int log_ref;        /* logger, or LUA_NOREF */
  wl_cb live;         /* list sentinel */
  struct wl_slot *tab; /* id -> callback, open addressing (ids inline) */
  uint32_t cap, used;
  int64_t nlive[WL_K_COUNT];
  int64_t errors;      /* errors reported through the handler */
  int64_t finish_seq;  /* counts finished tasks (orders failures) */
  int64_t native_fires;
};

/* ---- functions SWIG wraps (see weft_lua.i for their Lua names) ---- */
int wl_loop_free(lua_State *L, wl_loop *lp);
int wl_loop_run(lua_State *L, wl_loop *lp, int mode);
int wl_loop_post(lua_State *L, wl_loop *lp, WL_FUNC fn);
int wl_loop_set_logger(lua_State *L, wl_loop *lp, WL_OPTFUNC fn);
int wl_loop_set_error_handler(lua_State *L, wl_loop *lp, WL_OPTFUNC fn);
int wl_timer_start(lua_State *L, wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns,
                   WL_FUNC fn, int64_t *OUT_ID);
int wl_timer_stop(lua_State *L, wl_loop *lp, int64_t timer);
int wl_fd_watch_start(lua_State *L, wl_loop *lp, int fd, int events, WL_FUNC fn,
                      int64_t *OUT_ID);
int wl_fd_watch_stop(lua_State *L, wl_loop *lp, int64_t watch);
int wl_to_thread(lua_State *L, wl_loop *lp, wl_job *job, WL_OPTFUNC done, int64_t *OUT_ID);
int wl_task_cancel(wl_loop *lp, int64_t task);
int wl_task_timeout(wl_loop *lp, int64_t task, int64_t ns);
int64_t wl_live(wl_loop *lp, int kind);
int64_t wl_errors(wl_loop *lp);
int64_t wl_clock_ns(void);
int64_t wl_mem_bytes(void);
int wl_bench_timer_start(wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns, int64_t *OUT_ID);
int64_t wl_bench_fires(wl_loop *lp);

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
int wl_l_registry_count(lua_State *L);

/* Used by the typemaps. */
wl_loop *wl_checkloop(lua_State *L, int idx);
wl_job *wl_checkjob(lua_State *L, int idx);
int wl_isfuncornil(lua_State *L, int idx);
lua_Integer wl_checkint(lua_State *L, int idx, lua_Integer lo, lua_Integer hi);
int64_t wl_checkint64(lua_State *L, int idx);
void wl_push_stats(lua_State *L, const weft_loop_stats_t *st);
/* Module setup: metatables, the op table; the module table is at `mod`. */
void wl_init(lua_State *L, int mod);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_LUA_H */
