/*
 * weft_lua.c -- the C half of weft's Lua binding: callbacks held as registry
 * refs and called with lua_pcall, tasks as coroutines resumed by a step
 * trampoline, to_thread jobs in per-pool-thread Lua states, fd helpers.
 *
 * Ownership: weft says when it lets go. Every Lua value weft refers to
 * (a callback, a job, a task's record) is anchored by one registry ref, and
 * the loop's release hook (weft_loop_set_release) drops that ref: exactly
 * once, when weft stops referring to it. The binding keeps no table of ids,
 * no copy of a task's deadline and no join rules of its own: the core
 * decides.
 *  - A task's Lua object owns the task's id while it is reachable; its __gc
 *    releases the id. An unfinished task is held by its loop (the loop's
 *    user value, a table of tasks keyed by wl_task*), so everything its
 *    coroutine refers to (an Event it waits on, a Lock it holds) stays
 *    reachable while the loop is; the loop lets go when the task finishes.
 *    Tasks do not hold their loop (a task awaiting another would otherwise
 *    keep it alive for ever): a loop lives while it is held or runs, and
 *    its collection frees it, cancelling its tasks. A task collected
 *    unfinished (with its loop) anchors itself until the hook says the
 *    task is over.
 *  - Timers, watches and posts hand weft the ref itself as user_data.
 *  - Jobs (to_thread) hand weft the job; the job holds its own ref.
 *
 * No Lua error may longjmp out of a trampoline (weft's C++ frames are below):
 * trampolines call only API functions that cannot raise, and run anything
 * that may allocate inside lua_pcall. Callbacks run on the Lua thread inside
 * loop_run or loop_free (wl_loop.L), with a traceback handler on its stack.
 *
 * The SWIG wrapper (weft.i, Lua section weft_lua.i) includes this file: the
 * wl_* functions stand in for weft.h's where a Lua value crosses into C
 * (their Lua names are in weft_lua.i), and the module's init calls wl_init.
 * The Lua interface is documented in weft.lua (LDoc) and README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "weft.h"

/* Stack index of a Lua function argument; WL_OPTFUNC: function or nil (0). */
typedef int WL_FUNC;
typedef int WL_OPTFUNC;
/* The binding's loop (a full userdata whose first field is the
 * weft_loop_t*, NULL once freed), a to_thread job and a task. */
typedef struct wl_loop wl_loop;
typedef struct wl_job wl_job;
typedef struct wl_task wl_task;

/* The await requests a task yields to the step trampoline:
 * coroutine.yield(op, ...), op being core.op.NAME (WL_OP_NAME here). SYNC
 * ones are answered without the loop. Socket strings and buffers stay
 * referenced by the yielding Lua frame, which lives until the await resolves. */
#define WL_OPS(X)                                                                  \
  X(SLEEP, 1)         /* seconds            -> 0                                */ \
  X(FD, 2)            /* fd, events         -> ready events mask                */ \
  X(TASK, 3)          /* task               -> 0 once it finished               */ \
  X(ALL, 4)           /* flags, {tasks}     -> 0 / first error [, asked cancel] */ \
  X(YIELD, 5)         /* (a bare yield too) -> 0                                */ \
  X(THREAD, 6)        /* job                -> work result                      */ \
  X(TIMEOUT, 7)       /* ns (0 clears)      -> rc                        (SYNC) */ \
  X(SELF, 8)          /*                    -> the task                  (SYNC) */ \
  X(ACCEPT, 9)        /* fd                 -> new fd | error                   */ \
  X(CONNECT, 10)      /* host, port         -> fd | error                       */ \
  X(CONNECT_UNIX, 11) /* path               -> fd | error                       */ \
  X(RECV, 12)         /* fd, buffer, max    -> count | 0 | error                */ \
  X(SEND, 13)         /* fd, string, i, j   -> 0 | error, bytes sent            */ \
  X(EVENT, 14)        /* event id           -> 0 | error                        */ \
  X(SEM, 15)          /* semaphore id       -> 0 | error                        */ \
  X(LOCK, 16)         /* lock id            -> 0 | error                        */ \
  X(QPUT, 17)         /* queue id, item     -> 0 | error                        */ \
  X(QGET, 18)         /* queue id           -> 0, item | error, nil             */ \
  X(FIRST, 19)        /* {tasks}            -> 0-based index | error            */
#define WL_OP_ENUM(name, v) WL_OP_##name = v,
enum { WL_OPS(WL_OP_ENUM) };

#define WL_KINDS 16 /* refs are counted per WEFT_KIND_* */

struct wl_loop {
  weft_loop_t *loop; /* first (weft_bench.c relies on it); NULL once freed */
  lua_State *L;      /* the Lua thread inside run/free, NULL otherwise */
  lua_State *main;   /* the state's main thread: releases refs outside run */
  int msgh;          /* absolute index of the message handler on L */
  int tasks;         /* absolute index on L of the loop's unfinished tasks, or 0 */
  int errh_ref;      /* error handler, or LUA_NOREF */
  int log_ref;       /* logger, or LUA_NOREF */
  int64_t made[WL_KINDS], released[WL_KINDS]; /* user_data handed to weft, let go */
  int64_t nrefs;      /* registry refs held for weft (all kinds) */
  int64_t errors;     /* errors reported through the handler */
  int64_t finish_seq; /* counts finished tasks (orders failures) */
};

struct wl_job {
  char *chunk, *in, *out;
  size_t chunklen, inlen, outlen;
  int status; /* 0 not run, 1 returned, 2 raised (out: the message) */
  int used;   /* submitted once: a job is single-use */
  int ref;    /* anchors the job while weft refers to it, or LUA_NOREF */
};

struct wl_task {
  wl_loop *lp;   /* NULL once weft let go of the task (hook) */
  lua_State *co; /* the coroutine */
  weft_task_t id;
  int ref;       /* anchors a collected, unfinished task until weft lets go */
  int result;    /* once done: 0, WEFT_EHOST (raised), or a negative code */
  int rbase, nres; /* the values (or the error) on co's stack once done */
  int64_t finish_seq;
  uint8_t done, awaited, stop_on_done;
  uint8_t asked_cancel; /* task:cancel() was called and not yet delivered */
  uint8_t second; /* the pending await resumes with a second value: WL_OP_ALL (a cancel-on-error
                   * group: was it my cancel), WL_OP_SEND (t->sent), WL_OP_QGET (the item) or 0 */
  size_t sent;          /* weft_await_send's *sent */
};

#define WL_LOOP_MT "weft.loop"
#define WL_TASK_MT "weft.task"
#define WL_JOB_MT "weft.job"
#define WL_BUF_MT "weft.buffer"

/* Registry keys (light userdata) for alloc-free lookups from trampolines. */
static const char wl_key_loop_mt = 0, wl_key_task_mt = 0, wl_key_job_mt = 0, wl_key_buf_mt = 0;
static const char wl_key_cancelled = 0, wl_key_timeout = 0;

/* The loop whose run or free is in progress on this thread: the callbacks'
 * user_data is the bare ref, so they find their loop here. */
static __thread wl_loop *wl_cur;

/* ------------------------------------------------------------- helpers */

int64_t wl_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A message for a weft code, or for a negated errno weft has no name for. */
static const char *wl_errmsg(int code) {
  const char *m = weft_strerror(code);
  if (strcmp(m, "unknown error") == 0 && code < 0 && code > -4096) return strerror(-code);
  return m;
}

/* The idiom of the whole binding: nil, message, code. */
static int wl_fail(lua_State *L, int code) {
  lua_pushnil(L);
  lua_pushstring(L, wl_errmsg(code));
  lua_pushinteger(L, code);
  return 3;
}

static int wl_ok_or_fail(lua_State *L, int rc) {
  if (rc < 0) return wl_fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

lua_Integer wl_checkint(lua_State *L, int idx, lua_Integer lo, lua_Integer hi) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (!ok) luaL_argerror(L, idx, "number has no integer representation");
  if (v < lo || v > hi) luaL_argerror(L, idx, "integer out of range");
  return v;
}

int64_t wl_checkint64(lua_State *L, int idx) {
  int ok;
  lua_Integer v = lua_tointegerx(L, idx, &ok);
  if (ok) return (int64_t)v;
  if (lua_type(L, idx) == LUA_TNUMBER) { /* a float: truncate if it fits */
    lua_Number d = lua_tonumber(L, idx);
    if (d >= -9.2e18 && d <= 9.2e18) return (int64_t)d;
  }
  luaL_argerror(L, idx, "number has no 64-bit integer representation");
  return 0;
}

int wl_isfuncornil(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) || lua_isfunction(L, idx);
}

/* Seconds (integer or float) to ns; WEFT_EINVAL for NaN or negatives.
 * Non-raising (used from the step trampoline). */
static int wl_secs_to_ns(lua_State *L, int idx, int64_t *ns) {
  if (lua_isinteger(L, idx)) {
    lua_Integer s = lua_tointeger(L, idx);
    if (s < 0) return WEFT_EINVAL;
    *ns = s > INT64_MAX / 1000000000 ? INT64_MAX : (int64_t)s * 1000000000;
    return 0;
  }
  if (lua_type(L, idx) != LUA_TNUMBER) return WEFT_EINVAL;
  lua_Number d = lua_tonumber(L, idx) * 1e9;
  if (!(d >= 0)) return WEFT_EINVAL; /* negative or NaN */
  *ns = d >= 9.2e18 ? INT64_MAX : (int64_t)d;
  return 0;
}

/* The userdata at idx if its metatable is the one stored at key, else NULL. */
static void *wl_toudata(lua_State *L, int idx, const void *key) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}

/* Non-raising: whether the value at idx is an integer in [lo, hi] (into *v). */
static int wl_int(lua_State *L, int idx, lua_Integer lo, lua_Integer hi, lua_Integer *v) {
  int ok;
  *v = lua_tointegerx(L, idx, &ok);
  return ok && *v >= lo && *v <= hi;
}

static int wl_is_sentinel(lua_State *L, int idx, const void *key) {
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  int r = !lua_isnil(L, -1) && lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

/* --------------------------------------------------------- refs, hook */

/* A ref to the value at idx, handed to weft as the user_data of `kind`.
 * May raise (luaL_ref): only from Lua->C entry points. */
static int wl_ref(lua_State *L, wl_loop *lp, int kind, int idx) {
  lua_pushvalue(L, idx);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lp->made[kind]++;
  lp->nrefs++;
  return ref;
}

/* Returns rc; undoes wl_ref if rc < 0 (weft refused the handle: it never
 * referred to it). A freed loop (NULL) is refused with WEFT_EINVAL. */
static int wl_kept(lua_State *L, wl_loop *lp, int kind, int ref, int rc) {
  if (rc < 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    lp->made[kind]--;
    lp->nrefs--;
  }
  return rc;
}

/* weft's release hook: weft no longer refers to ud. Never raises. */
static void wl_release(void *ctx, int kind, void *ud) {
  wl_loop *lp = (wl_loop *)ctx;
  lua_State *L = lp->L ? lp->L : lp->main;
  int ref = (int)(intptr_t)ud, *slot = &ref;
  if (kind == WEFT_KIND_TASK) {
    ((wl_task *)ud)->lp = NULL;
    slot = &((wl_task *)ud)->ref;
  } else if (kind == WEFT_KIND_WORK) {
    slot = &((wl_job *)ud)->ref;
  }
  if (kind >= 0 && kind < WL_KINDS) lp->released[kind]++;
  if (*slot == LUA_NOREF) return;
  lp->nrefs--;
  luaL_unref(L, LUA_REGISTRYINDEX, *slot);
  *slot = LUA_NOREF;
}

int64_t wl_live(wl_loop *lp, int kind) {
  int64_t n = 0;
  for (int k = 0; k < WL_KINDS; k++)
    if (kind < 0 || k == kind) n += lp->made[k] - lp->released[k];
  return n;
}

int64_t wl_released(wl_loop *lp, int kind) {
  return kind >= 0 && kind < WL_KINDS ? lp->released[kind] : -1;
}

int64_t wl_refs(wl_loop *lp) { return lp->nrefs; }
int64_t wl_errors(wl_loop *lp) { return lp->errors; }

/* --------------------------------------------------- errors, reporting */

/* Message handler for callbacks: adds a traceback to string errors. */
static int wl_msgh(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

/* Protected: (handler, err, where as a light userdata[, co]). */
static int wl_report_p(lua_State *L) {
  lua_pushstring(L, (const char *)lua_touserdata(L, 3));
  lua_replace(L, 3);
  lua_call(L, lua_gettop(L) - 1, 0);
  return 0;
}

/* Reports the error value on top of L (popped) to the loop's error handler,
 * handler(err, where[, co]) (co: the task's coroutine), or to stderr. Never
 * raises. */
static void wl_report(lua_State *L, wl_loop *lp, const char *where, lua_State *co) {
  const char *failed = "";
  lp->errors++;
  if (lp->errh_ref != LUA_NOREF && lua_checkstack(L, 6)) {
    lua_pushcfunction(L, wl_report_p);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->errh_ref);
    lua_rotate(L, -3, 2); /* report_p, handler, err */
    lua_pushlightuserdata(L, (void *)where);
    if (co) lua_pushthread(co), lua_xmove(co, L, 1);
    if (lua_pcall(L, co ? 4 : 3, 0, 0) == LUA_OK) return;
    failed = "; the error handler failed"; /* its error replaced err */
  }
  fprintf(stderr, "weft: error in %s%s: %s\n", where, failed,
          lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)");
  lua_pop(L, 1);
}

/* Calls the function under n arguments on L; reports what it raises. */
static void wl_call(lua_State *L, wl_loop *lp, int n, const char *where) {
  if (lua_pcall(L, n, 0, lp->msgh) != LUA_OK) wl_report(L, lp, where, NULL);
}

/* ---------------------------------------------------------------- loop */

wl_loop *wl_checkloop(lua_State *L, int idx) {
  return (wl_loop *)luaL_checkudata(L, idx, WL_LOOP_MT);
}

int wl_l_loop_new(lua_State *L) {
  wl_loop *lp = (wl_loop *)lua_newuserdatauv(L, sizeof *lp, 1);
  memset(lp, 0, sizeof *lp);
  lua_newtable(L); /* user value 1: its unfinished tasks, wl_task* -> task */
  lua_setiuservalue(L, -2, 1);
  lp->errh_ref = lp->log_ref = LUA_NOREF;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  lp->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  luaL_setmetatable(L, WL_LOOP_MT);
  weft_loop_t *loop = NULL;
  int rc = weft_loop_new(&loop);
  if (rc == 0 && (rc = weft_loop_set_release(loop, wl_release, lp)) < 0) weft_loop_free(loop);
  if (rc < 0) return wl_fail(L, rc);
  lp->loop = loop;
  return 1;
}

/* Enters run/free: L becomes the thread callbacks run on, with the message
 * handler and the loop's table of unfinished tasks on its stack (the loop
 * is argument 1 of every caller); wl_leave restores what was there before. */
struct wl_saved {
  lua_State *L;
  wl_loop *cur;
  int msgh, tasks, top;
};

static int wl_enter(lua_State *L, wl_loop *lp, struct wl_saved *s) {
  if (!lp->loop) return WEFT_EINVAL;
  if (!lua_checkstack(L, 32)) return WEFT_ENOMEM;
  s->L = lp->L;
  s->cur = wl_cur;
  s->msgh = lp->msgh;
  s->tasks = lp->tasks;
  s->top = lua_gettop(L);
  lua_pushcfunction(L, wl_msgh);
  lp->msgh = lua_gettop(L);
  lp->tasks = 0;
  if (lua_touserdata(L, 1) == lp && lua_getiuservalue(L, 1, 1) == LUA_TTABLE)
    lp->tasks = lua_gettop(L);
  lp->L = L;
  wl_cur = lp;
  return 0;
}

static void wl_leave(lua_State *L, wl_loop *lp, const struct wl_saved *s) {
  lua_settop(L, s->top);
  lp->L = s->L;
  lp->msgh = s->msgh;
  lp->tasks = s->tasks;
  wl_cur = s->cur;
}

int wl_loop_run(lua_State *L, wl_loop *lp, int mode) {
  struct wl_saved s;
  int rc = wl_enter(L, lp, &s);
  if (rc < 0) return rc;
  rc = weft_loop_run(lp->loop, mode);
  wl_leave(L, lp, &s);
  return rc;
}

/* Frees the loop; its release hook drops every ref weft still held. */
int wl_loop_free(lua_State *L, wl_loop *lp) {
  struct wl_saved s;
  int rc = wl_enter(L, lp, &s);
  if (rc < 0) return rc;
  rc = weft_loop_free(lp->loop);
  wl_leave(L, lp, &s);
  if (rc < 0) return rc;
  lp->loop = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, lp->errh_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->log_ref);
  lp->errh_ref = lp->log_ref = LUA_NOREF;
  return 0;
}

static int wl_loop_gc(lua_State *L) {
  wl_loop *lp = wl_checkloop(L, 1);
  if (lp->loop) wl_loop_free(L, lp);
  return 0;
}

static int wl_loop_tostring(lua_State *L) {
  wl_loop *lp = wl_checkloop(L, 1);
  lua_pushfstring(L, "weft.loop (%s): %p", lp->loop ? "open" : "closed", (void *)lp);
  return 1;
}

/* Calls the callback whose ref is ud with the first n of (id, events). */
static void wl_fire(void *ud, int n, int64_t id, int events, const char *where) {
  wl_loop *lp = wl_cur;
  if (!lp) return;
  lua_rawgeti(lp->L, LUA_REGISTRYINDEX, (int)(intptr_t)ud);
  if (n > 0) lua_pushinteger(lp->L, id);
  if (n > 1) lua_pushinteger(lp->L, events);
  wl_call(lp->L, lp, n, where);
}

static void wl_post_tramp(weft_loop_t *loop, void *ud) {
  (void)loop;
  wl_fire(ud, 0, 0, 0, "posted callback");
}

int wl_loop_post(lua_State *L, wl_loop *lp, WL_FUNC fn) {
  int ref = wl_ref(L, lp, WEFT_KIND_POST, fn);
  return wl_kept(L, lp, WEFT_KIND_POST, ref,
                 weft_loop_post(lp->loop, wl_post_tramp, (void *)(intptr_t)ref));
}

static int wl_log_p(lua_State *L) {
  wl_loop *lp = (wl_loop *)lua_touserdata(L, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lp->log_ref);
  lua_pushvalue(L, 2);
  lua_pushstring(L, (const char *)lua_touserdata(L, 3));
  lua_call(L, 2, 0);
  return 0;
}

static void wl_log_tramp(void *ud, int level, const char *message) {
  wl_loop *lp = (wl_loop *)ud;
  lua_State *L = lp->L;
  if (!L || lp->log_ref == LUA_NOREF || !lua_checkstack(L, 6)) return;
  lua_pushcfunction(L, wl_log_p);
  lua_pushlightuserdata(L, lp);
  lua_pushinteger(L, level);
  lua_pushlightuserdata(L, (void *)message);
  wl_call(L, lp, 3, "logger");
}

/* Replaces the function ref at *slot with fn (0: none). */
static void wl_set_fn(lua_State *L, int *slot, int fn) {
  int ref = LUA_NOREF;
  if (fn) {
    lua_pushvalue(L, fn);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, *slot);
  *slot = ref;
}

int wl_loop_set_logger(lua_State *L, wl_loop *lp, WL_OPTFUNC fn) {
  int rc = weft_loop_set_logger(lp->loop, fn ? wl_log_tramp : NULL, fn ? lp : NULL);
  if (rc == 0) wl_set_fn(L, &lp->log_ref, fn);
  return rc;
}

int wl_loop_set_error_handler(lua_State *L, wl_loop *lp, WL_OPTFUNC fn) {
  if (!lp->loop) return WEFT_EINVAL;
  wl_set_fn(L, &lp->errh_ref, fn);
  return 0;
}

void wl_push_stats(lua_State *L, const weft_loop_stats_t *st) {
  lua_createtable(L, 0, 12);
#define WL_F(f)              \
  lua_pushinteger(L, st->f); \
  lua_setfield(L, -2, #f)
  WL_F(iterations);
  WL_F(tasks_alive);
  WL_F(tasks_ready);
  WL_F(timers_active);
  WL_F(fd_watches_active);
  WL_F(work_queued);
  WL_F(work_running);
  WL_F(work_ns);
  WL_F(slow_callbacks);
  WL_F(posts);
#undef WL_F
}

/* ---------------------------------------------------- timers, watches */

static void wl_timer_tramp(weft_loop_t *loop, weft_timer_t id, void *ud) {
  (void)loop;
  wl_fire(ud, 1, id, 0, "timer callback");
}

static void wl_fd_tramp(weft_loop_t *loop, weft_fd_watch_t id, int events, void *ud) {
  (void)loop;
  wl_fire(ud, 2, id, events, "fd watch callback");
}

int wl_timer_start(lua_State *L, wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns,
                   WL_FUNC fn, int64_t *OUT_ID) {
  int ref = wl_ref(L, lp, WEFT_KIND_TIMER, fn);
  return wl_kept(L, lp, WEFT_KIND_TIMER, ref,
                 weft_timer_start(lp->loop, timeout_ns, repeat_ns, wl_timer_tramp,
                                  (void *)(intptr_t)ref, OUT_ID));
}

int wl_fd_watch_start(lua_State *L, wl_loop *lp, int fd, int events, WL_FUNC fn,
                      int64_t *OUT_ID) {
  int ref = wl_ref(L, lp, WEFT_KIND_FD_WATCH, fn);
  return wl_kept(L, lp, WEFT_KIND_FD_WATCH, ref,
                 weft_fd_watch_start(lp->loop, fd, events, wl_fd_tramp, (void *)(intptr_t)ref,
                                     OUT_ID));
}

/* ------------------------------------------------------ to_thread jobs
 *
 * A job is two strings: a chunk (Lua source or bytecode) and its input. A
 * pool thread runs chunk(input) in its own lua_State (created on first use,
 * kept for the thread's life with the chunk compiled once, closed when the
 * thread exits, as luv does); the chunk returns one string, the output, or
 * raises (the output is then the message with a traceback). weft.lua packs
 * the function and its arguments into the input and unpacks the output. */

wl_job *wl_checkjob(lua_State *L, int idx) {
  return (wl_job *)luaL_checkudata(L, idx, WL_JOB_MT);
}

static char *wl_dup(const char *s, size_t n) {
  char *p = (char *)malloc(n + 1);
  if (p) memcpy(p, s, n), p[n] = 0;
  return p;
}

/* job_new(chunk, input) -> job */
int wl_l_job_new(lua_State *L) {
  size_t cl, il;
  const char *c = luaL_checklstring(L, 1, &cl), *in = luaL_checklstring(L, 2, &il);
  wl_job *j = (wl_job *)lua_newuserdatauv(L, sizeof *j, 1); /* 1: done callback */
  memset(j, 0, sizeof *j);
  j->ref = LUA_NOREF;
  luaL_setmetatable(L, WL_JOB_MT);
  j->chunk = wl_dup(c, j->chunklen = cl);
  j->in = wl_dup(in, j->inlen = il);
  if (!j->chunk || !j->in) return luaL_error(L, "to_thread: out of memory");
  return 1;
}

static int wl_job_gc(lua_State *L) { /* never while weft refers to it: the ref anchors it */
  wl_job *j = wl_checkjob(L, 1);
  free(j->chunk), free(j->in), free(j->out);
  j->chunk = j->in = j->out = NULL;
  return 0;
}

/* job:output() -> status (0 not run, 1 returned, 2 raised), output | nil */
static int wl_job_output(lua_State *L) {
  wl_job *j = wl_checkjob(L, 1);
  lua_pushinteger(L, j->status);
  if (j->out) lua_pushlstring(L, j->out, j->outlen);
  return j->out ? 2 : 1;
}

static pthread_key_t wl_tls_key;
static pthread_once_t wl_tls_once = PTHREAD_ONCE_INIT;

static void wl_tls_free(void *p) { lua_close((lua_State *)p); }
static void wl_tls_make(void) { pthread_key_create(&wl_tls_key, wl_tls_free); }

static int wl_openlibs_p(lua_State *S) {
  luaL_openlibs(S);
  return 0;
}

static lua_State *wl_worker_state(void) {
  pthread_once(&wl_tls_once, wl_tls_make);
  lua_State *S = (lua_State *)pthread_getspecific(wl_tls_key);
  if (S) return S;
  if (!(S = luaL_newstate())) return NULL;
  lua_pushcfunction(S, wl_openlibs_p);
  if (lua_pcall(S, 0, 0, 0) != LUA_OK || pthread_setspecific(wl_tls_key, S) != 0) {
    lua_close(S);
    return NULL;
  }
  return S;
}

static int wl_tb_msgh(lua_State *S) {
  const char *m = lua_tostring(S, 1);
  luaL_traceback(S, S, m ? m : luaL_typename(S, 1), 1);
  return 1;
}

static int wl_job_body(lua_State *S) {
  wl_job *j = (wl_job *)lua_touserdata(S, 1);
  lua_pushlstring(S, j->chunk, j->chunklen);
  if (lua_rawget(S, LUA_REGISTRYINDEX) != LUA_TFUNCTION) { /* compile once per state */
    if (luaL_loadbufferx(S, j->chunk, j->chunklen, "=to_thread", NULL) != LUA_OK)
      return lua_error(S);
    lua_pushlstring(S, j->chunk, j->chunklen);
    lua_pushvalue(S, -2);
    lua_rawset(S, LUA_REGISTRYINDEX);
  }
  lua_pushlstring(S, j->in, j->inlen);
  lua_call(S, 1, 1);
  if (!lua_isstring(S, -1)) return luaL_error(S, "to_thread: the chunk returned no string");
  return 1;
}

/* The weft_work_fn: runs on a pool thread, never touches the loop's state. */
static int wl_job_run(void *arg) {
  wl_job *j = (wl_job *)arg;
  lua_State *S = wl_worker_state();
  j->status = 2;
  if (!S) return WEFT_ENOMEM;
  lua_settop(S, 0);
  lua_pushcfunction(S, wl_tb_msgh);
  lua_pushcfunction(S, wl_job_body);
  lua_pushlightuserdata(S, j);
  if (lua_pcall(S, 1, 1, 1) == LUA_OK) j->status = 1;
  const char *o = lua_tolstring(S, -1, &j->outlen);
  free(j->out);
  j->out = o ? wl_dup(o, j->outlen) : NULL;
  lua_settop(S, 0);
  return j->status == 1 ? 0 : WEFT_EHOST; /* raised, or did not load */
}

/* Callback style: weft gets the job as both arg and user_data; the job's
 * user value 1 is done(id, result) (weft.lua reads the output), or nil. */
static void wl_done_tramp(weft_loop_t *loop, weft_work_t id, int result, void *ud) {
  wl_loop *lp = wl_cur;
  (void)loop;
  if (!lp || !lua_checkstack(lp->L, 4)) return;
  lua_rawgeti(lp->L, LUA_REGISTRYINDEX, ((wl_job *)ud)->ref);
  int t = lua_getiuservalue(lp->L, -1, 1);
  lua_remove(lp->L, -2);
  if (t != LUA_TFUNCTION) {
    lua_pop(lp->L, 1);
    return;
  }
  lua_pushinteger(lp->L, id);
  lua_pushinteger(lp->L, result);
  wl_call(lp->L, lp, 2, "to_thread done callback");
}

/* Protected luaL_ref of the value at 1 -> the ref. */
static int wl_ref_p(lua_State *L) {
  lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
  return 1;
}

/* Submits job j, the value on top of L (popped), to the pool: as task
 * self's await, or (self 0) in callback style. The job anchors itself by a
 * ref, taken in protected mode (this runs in the step trampoline too),
 * until the release hook lets go of it. */
static int wl_job_submit(lua_State *L, wl_loop *lp, wl_job *j, weft_task_t self, int64_t *id) {
  if (j->used) return lua_pop(L, 1), WEFT_EBUSY;
  lua_pushcfunction(L, wl_ref_p);
  lua_rotate(L, -2, 1);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return lua_pop(L, 1), WEFT_ENOMEM;
  j->ref = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lp->made[WEFT_KIND_WORK]++;
  lp->nrefs++;
  j->used = 1;
  int rc = self ? weft_await_thread(lp->loop, self, wl_job_run, j)
                : weft_to_thread(lp->loop, wl_job_run, j, wl_done_tramp, j, id);
  if (wl_kept(L, lp, WEFT_KIND_WORK, j->ref, rc) < 0) { /* an await: WEFT_PENDING or < 0 */
    j->ref = LUA_NOREF;
    j->used = 0;
  }
  return rc;
}

/* to_thread(loop, job, done) (job at stack index 2). */
int wl_to_thread(lua_State *L, wl_loop *lp, wl_job *job, WL_OPTFUNC done, int64_t *OUT_ID) {
  if (!lp->loop) return WEFT_EINVAL;
  if (job->used) return WEFT_EBUSY;
  if (done) lua_pushvalue(L, done);
  else lua_pushnil(L);
  lua_setiuservalue(L, 2, 1);
  lua_pushvalue(L, 2);
  return wl_job_submit(L, lp, job, 0, OUT_ID);
}

/* ---------------------------------------------------------------- tasks
 *
 * A task is a full userdata (this record; user value 1: its coroutine)
 * whose id it owns; lp is a plain pointer, cleared when weft lets go. The
 * coroutine runs wl_task_main(task, fn, ...), so the task is found at the
 * bottom of its own stack (weft.current).
 * A task's outcome stays readable after its loop closed: done, result, and
 * the values (or the error) on the coroutine's stack. */

static wl_task *wl_checktask(lua_State *L, int idx) {
  return (wl_task *)luaL_checkudata(L, idx, WL_TASK_MT);
}

static int wl_task_main_k(lua_State *co, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return lua_gettop(co) - 1; /* what fn returned, above the task */
}

static int wl_task_main(lua_State *co) {
  lua_callk(co, lua_gettop(co) - 2, LUA_MULTRET, 0, wl_task_main_k);
  return wl_task_main_k(co, LUA_OK, 0);
}

/* The task finished with `result`; its values are the top n of co. */
static int wl_task_end(wl_loop *lp, wl_task *t, int result, int n) {
  if (lp->tasks) { /* the loop lets go of it (removing a key never allocates) */
    lua_pushnil(lp->L);
    lua_rawsetp(lp->L, lp->tasks, t);
  }
  t->done = 1;
  t->result = result;
  t->rbase = lua_gettop(t->co) - n + 1;
  t->nres = n;
  t->finish_seq = ++lp->finish_seq;
  if (t->stop_on_done) weft_loop_stop(lp->loop);
  return result;
}

/* Arms weft_await_all with flags (>= 0) or weft_await_first (flags < 0)
 * for task self on the tasks at idx of co: a list, or one task. Tasks
 * awaited so have their errors read, not reported. */
static int wl_await_tasks(wl_loop *lp, weft_task_t self, lua_State *co, int idx, int flags) {
  weft_task_t buf[16], *ids = buf;
  int list = lua_type(co, idx) == LUA_TTABLE, rc = 0;
  size_t cnt = list ? (size_t)lua_rawlen(co, idx) : 1;
  if (flags < 0 && cnt == 0) return WEFT_EINVAL;
  if (cnt > 16 && !(ids = (weft_task_t *)malloc(cnt * sizeof *ids))) return WEFT_ENOMEM;
  for (int pass = 0; pass < 2; pass++) { /* 0: collect the ids; 1: mark them awaited */
    for (size_t i = 0; rc == (pass ? WEFT_PENDING : 0) && i < cnt; i++) {
      if (list) lua_rawgeti(co, idx, (lua_Integer)i + 1);
      wl_task *c = (wl_task *)wl_toudata(co, list ? -1 : idx, &wl_key_task_mt);
      if (list) lua_pop(co, 1);
      if (pass) c->awaited = 1;
      else if (!c) rc = WEFT_EINVAL;
      else if (!c->lp) rc = WEFT_ESTALE; /* its loop was closed */
      else ids[i] = c->id;
    }
    if (pass == 0 && rc == 0)
      rc = flags < 0 ? weft_await_first(lp->loop, self, ids, cnt)
                     : weft_await_all(lp->loop, self, ids, cnt, flags);
  }
  if (ids != buf) free(ids);
  return rc;
}

/* Arms the await the coroutine yielded for (n values on co's top). Returns
 * WEFT_PENDING once armed; otherwise pushes onto co what the yield returns
 * at once and returns their count (or -1 without stack). */
static int wl_task_arm(lua_State *L, wl_loop *lp, wl_task *t, weft_task_t self, lua_State *co,
                       int n) {
  int base = lua_gettop(co) - n + 1, op = WL_OP_YIELD, rc = WEFT_EINVAL, group = 0, isnum;
  lua_Integer a, b; /* integer arguments of the request */
  if (!lua_checkstack(co, 4)) return -1;
  if (n > 0) {
    lua_Integer v = lua_tointegerx(co, base, &isnum);
    op = isnum ? (int)v : -1;
  }
  switch (op) {
    case WL_OP_SLEEP: {
      int64_t ns = 0;
      rc = wl_secs_to_ns(co, base + 1, &ns);
      if (rc == 0) rc = weft_await_sleep(lp->loop, self, ns);
      break;
    }
    case WL_OP_FD:
      if (wl_int(co, base + 1, 0, INT_MAX, &a) && wl_int(co, base + 2, 0, INT_MAX, &b))
        rc = weft_await_fd(lp->loop, self, (int)a, (int)b);
      break;
    case WL_OP_TASK: /* one task */
      if (lua_type(co, base + 1) == LUA_TUSERDATA) rc = wl_await_tasks(lp, self, co, base + 1, 0);
      break;
    case WL_OP_ALL: /* flags, {tasks} */
      if (!wl_int(co, base + 1, 0, INT_MAX, &a) || lua_type(co, base + 2) != LUA_TTABLE) break;
      rc = wl_await_tasks(lp, self, co, base + 2, (int)a);
      group = (a & WEFT_CANCEL_ON_ERROR) != 0;
      break;
    case WL_OP_YIELD:
      rc = weft_await_yield(lp->loop, self);
      break;
    case WL_OP_THREAD: {
      wl_job *j = (wl_job *)wl_toudata(co, base + 1, &wl_key_job_mt);
      if (!j) break;
      lua_pushvalue(co, base + 1);
      lua_xmove(co, L, 1);
      rc = wl_job_submit(L, lp, j, self, NULL);
      break;
    }
    case WL_OP_TIMEOUT:
      if (wl_int(co, base + 1, LUA_MININTEGER, LUA_MAXINTEGER, &a))
        rc = weft_task_timeout(lp->loop, self, a);
      break;
    case WL_OP_ACCEPT:
      if (wl_int(co, base + 1, INT_MIN, INT_MAX, &a))
        rc = weft_await_accept(lp->loop, self, (int)a);
      break;
    case WL_OP_CONNECT:
      if (lua_type(co, base + 1) == LUA_TSTRING && wl_int(co, base + 2, INT_MIN, INT_MAX, &a))
        rc = weft_await_connect(lp->loop, self, lua_tostring(co, base + 1), (int)a);
      break;
    case WL_OP_CONNECT_UNIX:
      if (lua_type(co, base + 1) == LUA_TSTRING)
        rc = weft_await_connect_unix(lp->loop, self, lua_tostring(co, base + 1));
      break;
    case WL_OP_RECV: { /* fd, buffer, max; the buffer is a local of the yielding frame */
      void *buf = wl_toudata(co, base + 2, &wl_key_buf_mt);
      size_t cap = lua_rawlen(co, base + 2);
      if (buf && wl_int(co, base + 1, INT_MIN, INT_MAX, &a) &&
          wl_int(co, base + 3, 1, LUA_MAXINTEGER, &b))
        rc = weft_await_recv(lp->loop, self, (int)a, buf, (size_t)b < cap ? (size_t)b : cap);
      break;
    }
    case WL_OP_SEND: { /* fd, s, i, j: s[i..j]; s is a local of the yielding frame */
      size_t len = 0;
      const char *str = lua_type(co, base + 2) == LUA_TSTRING ? lua_tolstring(co, base + 2, &len) : NULL;
      lua_Integer i, j;
      t->sent = 0;
      if (str && wl_int(co, base + 1, INT_MIN, INT_MAX, &a) &&
          wl_int(co, base + 3, 1, (lua_Integer)len, &i) &&
          wl_int(co, base + 4, i, (lua_Integer)len, &j))
        rc = weft_await_send(lp->loop, self, (int)a, str + i - 1, (size_t)(j - i + 1), &t->sent);
      break;
    }
    case WL_OP_EVENT:
    case WL_OP_SEM:
    case WL_OP_LOCK:
    case WL_OP_QPUT:
    case WL_OP_QGET:
      if (!wl_int(co, base + 1, LUA_MININTEGER, LUA_MAXINTEGER, &a)) break; /* id */
      if (op == WL_OP_QPUT && !wl_int(co, base + 2, LUA_MININTEGER, LUA_MAXINTEGER, &b)) break;
      if (op == WL_OP_EVENT) rc = weft_await_event(lp->loop, self, a);
      else if (op == WL_OP_SEM) rc = weft_await_semaphore(lp->loop, self, a);
      else if (op == WL_OP_LOCK) rc = weft_await_lock(lp->loop, self, a);
      else if (op == WL_OP_QPUT) rc = weft_await_queue_put(lp->loop, self, a, b);
      else rc = weft_await_queue_get(lp->loop, self, a);
      break;
    case WL_OP_FIRST: /* {tasks} */
      if (lua_type(co, base + 1) == LUA_TTABLE) rc = wl_await_tasks(lp, self, co, base + 1, -1);
      break;
    case WL_OP_SELF: { /* the task sits at the bottom of its own stack */
      lua_Debug ar;
      int lv = 0;
      while (lua_getstack(co, lv + 1, &ar)) lv++;
      lua_settop(co, base - 1);
      if (lua_getstack(co, lv, &ar) && lua_getlocal(co, &ar, 1)) return 1;
      lua_pushnil(co);
      return 1;
    }
    default:
      break;
  }
  lua_settop(co, base - 1); /* drop the request */
  if (rc == WEFT_PENDING) {
    t->second = (uint8_t)(group ? WL_OP_ALL : op == WL_OP_SEND || op == WL_OP_QGET ? op : 0);
    return WEFT_PENDING;
  }
  lua_pushinteger(co, rc);
  if (!group) return 1;
  lua_pushboolean(co, 0);
  return 2;
}

/* The weft_task_fn of every Lua task: resumes the coroutine with the result
 * of its last await, then arms the await it yields next. */
static int wl_task_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  wl_task *t = (wl_task *)ud;
  wl_loop *lp = t->lp;
  lua_State *L = lp->L, *co = t->co;
  int nargs, nres, rc;
  if (!L) return WEFT_ECANCELED; /* steps only run inside run/free */
  if (lua_status(co) == LUA_OK) { /* the first step: co holds main, task, fn, args */
    if (status < 0) { /* cancelled (or timed out) before it started */
      lua_settop(co, 0);
      return wl_task_end(lp, t, status, 0);
    }
    nargs = lua_gettop(co) - 1;
  } else if (!lua_checkstack(co, 2)) {
    nargs = -1;
  } else { /* what the pending yield returns: status [, its second value] */
    int mine = status == WEFT_ECANCELED && t->asked_cancel;
    if (status == WEFT_ECANCELED) t->asked_cancel = 0;
    lua_pushinteger(co, status);
    nargs = 1;
    if (t->second == WL_OP_ALL) lua_pushboolean(co, mine), nargs = 2;
    if (t->second == WL_OP_SEND) lua_pushinteger(co, (lua_Integer)t->sent), nargs = 2;
    if (t->second == WL_OP_QGET) {
      int64_t item = 0;
      if (status == 0 && weft_task_item(loop, self, &item) == 0)
        lua_pushinteger(co, (lua_Integer)item);
      else
        lua_pushnil(co);
      nargs = 2;
    }
    t->second = 0;
  }
  for (;;) {
    if (nargs < 0) return wl_task_end(lp, t, WEFT_ENOMEM, 0); /* no stack to resume */
    rc = lua_resume(co, L, nargs, &nres);
    if (rc == LUA_YIELD) {
      nargs = wl_task_arm(L, lp, t, self, co, nres);
      if (nargs == WEFT_PENDING) return WEFT_PENDING;
      continue;
    }
    if (rc == LUA_OK) return wl_task_end(lp, t, 0, nres);
    /* raised: the error value is on co's top */
    if (wl_is_sentinel(co, -1, &wl_key_cancelled)) return wl_task_end(lp, t, WEFT_ECANCELED, 1);
    if (wl_is_sentinel(co, -1, &wl_key_timeout)) return wl_task_end(lp, t, WEFT_ETIMEDOUT, 1);
    if (!t->awaited && !t->stop_on_done && lua_checkstack(co, 1)) {
      lua_pushvalue(co, -1);
      lua_xmove(co, L, 1);
      wl_report(L, lp, "task", co);
    }
    return wl_task_end(lp, t, WEFT_EHOST, 1);
  }
}

/* task_spawn(loop, fn, ...) -> task | nil, message, code */
int wl_l_task_spawn(lua_State *L) {
  wl_loop *lp = wl_checkloop(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int n = lua_gettop(L) - 1; /* fn and its arguments */
  if (!lp->loop) return wl_fail(L, WEFT_EINVAL);
  wl_task *t = (wl_task *)lua_newuserdatauv(L, sizeof *t, 1);
  memset(t, 0, sizeof *t);
  t->ref = LUA_NOREF;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &wl_key_task_mt);
  lua_setmetatable(L, -2);
  lua_State *co = t->co = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);
  if (!lua_checkstack(co, n + 2)) return luaL_error(L, "too many arguments to spawn");
  luaL_checkstack(L, n + 1, "too many arguments to spawn");
  lua_pushcfunction(co, wl_task_main);
  for (int i = 1; i <= n + 1; i++) lua_pushvalue(L, i == 1 ? -1 : i); /* task, fn, args */
  lua_xmove(L, co, n + 1); /* co: main, task, fn, args */
  lua_getiuservalue(L, 1, 1); /* the loop holds it until it finishes */
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, t); /* may raise (memory): before weft knows the task */
  lua_pop(L, 1);
  int rc = weft_task_spawn(lp->loop, wl_task_step, t, &t->id);
  if (rc < 0) {
    lua_getiuservalue(L, 1, 1);
    lua_pushnil(L);
    lua_rawsetp(L, -2, t);
    lua_pop(L, 1);
    t->done = 1;
    t->result = rc;
    return wl_fail(L, rc);
  }
  t->lp = lp;
  lp->made[WEFT_KIND_TASK]++;
  return 1;
}

/* __gc: gives up the task's id. An unfinished task (collected only with its
 * loop, which holds it until then) anchors itself until weft lets go of it
 * (when it finishes, at the latest at loop free). */
static int wl_task_gc(lua_State *L) {
  wl_task *t = (wl_task *)lua_touserdata(L, 1);
  wl_loop *lp = t->lp;
  if (!lp || !lp->loop) return 0;
  lua_pushvalue(L, 1);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lp->nrefs++;
  /* if weft refuses (a foreign thread: EPERM), the task stays anchored until
   * the hook lets go of it at loop free: a leak rather than a dangling ud */
  weft_task_release(lp->loop, t->id);
  return 0;
}

/* task:cancel() -> true | nil, message, code */
static int wl_tm_cancel(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  if (t->done) return wl_ok_or_fail(L, 0);
  int rc = t->lp ? weft_task_cancel(t->lp->loop, t->id) : WEFT_EINVAL;
  if (rc == 0) t->asked_cancel = 1;
  return wl_ok_or_fail(L, rc);
}

/* task:timeout(seconds) -> true | nil, message, code */
static int wl_tm_timeout(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  int64_t ns = 0;
  luaL_checknumber(L, 2);
  if (wl_secs_to_ns(L, 2, &ns) < 0) return wl_fail(L, WEFT_EINVAL);
  if (t->done) return wl_ok_or_fail(L, 0);
  return wl_ok_or_fail(L, t->lp ? weft_task_timeout(t->lp->loop, t->id, ns) : WEFT_EINVAL);
}

/* task:state() -> "ready" | "running" | "waiting" | "done" */
static int wl_tm_state(lua_State *L) {
  static const char *const names[] = {"done", "ready", "waiting", "done", "running"};
  wl_task *t = wl_checktask(L, 1);
  int st = t->done ? WEFT_TASK_DONE : t->lp ? weft_task_state(t->lp->loop, t->id) : WEFT_EINVAL;
  if (st < 0) return wl_fail(L, st);
  lua_pushstring(L, names[st <= WEFT_TASK_RUNNING ? st : 0]);
  return 1;
}

static int wl_tm_done(lua_State *L) {
  lua_pushboolean(L, wl_checktask(L, 1)->done);
  return 1;
}

static int wl_tm_id(lua_State *L) {
  lua_pushinteger(L, wl_checktask(L, 1)->id);
  return 1;
}

/* task:_outcome() -> result, finish order, then the values it returned
 * (result 0) or the error it raised (WEFT_EHOST); WEFT_EBUSY until done. */
static int wl_tm_outcome(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  int n = t->result == 0 ? t->nres : t->result == WEFT_EHOST;
  lua_pushinteger(L, t->done ? t->result : WEFT_EBUSY);
  lua_pushinteger(L, t->done ? t->finish_seq : INT64_MAX);
  if (!t->done) return 2;
  t->awaited = 1;
  luaL_checkstack(L, n, "too many results");
  if (!lua_checkstack(t->co, n)) return luaL_error(L, "too many results");
  for (int i = 0; i < n; i++) lua_pushvalue(t->co, t->rbase + i);
  lua_xmove(t->co, L, n);
  return n + 2;
}

/* task:traceback([msg]) -> the coroutine's traceback (useful after a raise) */
static int wl_tm_traceback(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  luaL_traceback(L, t->co, luaL_optstring(L, 2, NULL), 0);
  return 1;
}

/* task:_stop_on_done(): stop the loop when this task finishes (weft.run's
 * main task); its error is then not reported, run raises it. */
static int wl_tm_stop_on_done(lua_State *L) {
  wl_checktask(L, 1)->stop_on_done = 1;
  return 0;
}

static int wl_tm_tostring(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  lua_pushfstring(L, "weft.task %I (%s)", (lua_Integer)t->id,
                  t->done ? "done" : lua_status(t->co) == LUA_YIELD ? "started" : "new");
  return 1;
}

/* set_sentinels(cancelled, timeout): the error values the Lua layer raises
 * in a task on cancellation and timeout (a task that lets one escape
 * finishes with WEFT_ECANCELED / WEFT_ETIMEDOUT instead of an error). */
int wl_l_set_sentinels(lua_State *L) {
  lua_settop(L, 2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &wl_key_timeout);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &wl_key_cancelled);
  return 0;
}

/* -------------------------------------------------------------- sockets */

static int wl_errno_fail(lua_State *L) { return wl_fail(L, -errno); }

static int wl_checkfd(lua_State *L, int idx) { return (int)wl_checkint(L, idx, 0, INT_MAX); }

/* The two fds of a socketpair or pipe2 that returned rc. */
static int wl_fdpair(lua_State *L, int rc, const int fds[2]) {
  if (rc < 0) return wl_errno_fail(L);
  lua_pushinteger(L, fds[0]);
  lua_pushinteger(L, fds[1]);
  return 2;
}

/* socketpair([nonblocking=true]) -> fd1, fd2 | nil, message, code */
int wl_l_socketpair(lua_State *L) {
  int nb = lua_isnoneornil(L, 1) || lua_toboolean(L, 1);
  int sv[2];
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0);
  return wl_fdpair(L, socketpair(AF_UNIX, type, 0, sv), sv);
}

/* pipe([nonblocking=true]) -> read_fd, write_fd | nil, message, code */
int wl_l_pipe(lua_State *L) {
  int nb = lua_isnoneornil(L, 1) || lua_toboolean(L, 1);
  int p[2];
  return wl_fdpair(L, pipe2(p, O_CLOEXEC | (nb ? O_NONBLOCK : 0)), p);
}

/* read(fd[, max=65536]) -> string ("" at end of file) | nil, message, code */
int wl_l_read(lua_State *L) {
  int fd = wl_checkfd(L, 1);
  size_t max = lua_isnoneornil(L, 2) ? 65536 : (size_t)wl_checkint(L, 2, 1, 1 << 30);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, max);
  ssize_t n;
  do n = read(fd, p, max);
  while (n < 0 && errno == EINTR);
  if (n < 0) return wl_errno_fail(L);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* write(fd, s[, i[, j]]) -> bytes written | nil, message, code */
int wl_l_write(lua_State *L) {
  int fd = wl_checkfd(L, 1);
  size_t len;
  const char *s = luaL_checklstring(L, 2, &len);
  lua_Integer i = luaL_optinteger(L, 3, 1), j = luaL_optinteger(L, 4, (lua_Integer)len);
  if (i < 1) i = 1;
  if (j > (lua_Integer)len) j = (lua_Integer)len;
  ssize_t n = 0;
  if (i <= j) {
    do n = write(fd, s + i - 1, (size_t)(j - i + 1));
    while (n < 0 && errno == EINTR);
  }
  if (n < 0) return wl_errno_fail(L);
  lua_pushinteger(L, n);
  return 1;
}

/* close(fd) -> true | nil, message, code */
int wl_l_close(lua_State *L) {
  return wl_ok_or_fail(L, close(wl_checkfd(L, 1)) < 0 ? -errno : 0);
}

/* set_nonblocking(fd[, on=true]) -> true | nil, message, code */
int wl_l_set_nonblocking(lua_State *L) {
  int fd = wl_checkfd(L, 1);
  int on = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fl = fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
  return wl_ok_or_fail(L, fl < 0 ? -errno : 0);
}

/* buffer(size) -> a receive buffer (full userdata: it never moves) */
int wl_l_buffer(lua_State *L) {
  size_t n = (size_t)wl_checkint(L, 1, 1, INT_MAX);
  lua_newuserdatauv(L, n, 0);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &wl_key_buf_mt);
  lua_setmetatable(L, -2);
  return 1;
}

static int wl_buf_len(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
  return 1;
}

/* buffer_string(buf, n) -> the first n bytes of buf as a string */
int wl_l_buffer_string(lua_State *L) {
  void *p = wl_toudata(L, 1, &wl_key_buf_mt);
  luaL_argcheck(L, p != NULL, 1, "weft buffer expected");
  lua_Integer n = wl_checkint(L, 2, 0, (lua_Integer)lua_rawlen(L, 1));
  lua_pushlstring(L, (const char *)p, (size_t)n);
  return 1;
}

/* ------------------------------------------------------------- queues
 *
 * A queue's user_data is a ref to its drop function, drop(item), which the
 * Lua layer (weft.lua) makes: it takes the Lua value the item stood for out
 * of the queue's table. weft calls it once per dropped item; the release
 * hook drops the ref (kind WEFT_KIND_QUEUE) once the queue is freed. Drops
 * happen inside close/free (called from Lua, in or out of a run) and inside
 * loop_free, so the trampoline finds its loop through wl_cur, which these
 * wrappers set. */

static void wl_drop_tramp(weft_loop_t *loop, weft_queue_t queue, int64_t item, void *ud) {
  wl_loop *lp = wl_cur;
  (void)loop;
  (void)queue;
  if (!lp) return;
  lua_State *L = lp->L ? lp->L : lp->main;
  if (!lua_checkstack(L, 4)) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, (int)(intptr_t)ud);
  lua_pushinteger(L, (lua_Integer)item);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) wl_report(L, lp, "queue drop callback", NULL);
}

/* queue_new(loop, capacity, drop) -> rc, id */
int wl_queue_new(lua_State *L, wl_loop *lp, int64_t capacity, WL_FUNC drop, int64_t *OUT_ID) {
  int ref = wl_ref(L, lp, WEFT_KIND_QUEUE, drop);
  return wl_kept(L, lp, WEFT_KIND_QUEUE, ref,
                 weft_queue_new(lp->loop, capacity, wl_drop_tramp, (void *)(intptr_t)ref, OUT_ID));
}

/* weft_queue_close, or weft_queue_free if `freeing`, with wl_cur set */
static int wl_queue_end(wl_loop *lp, int64_t queue, int flags, int freeing) {
  wl_loop *saved = wl_cur;
  wl_cur = lp;
  int rc = freeing ? weft_queue_free(lp->loop, queue) : weft_queue_close(lp->loop, queue, flags);
  wl_cur = saved;
  return rc;
}

int wl_queue_close(wl_loop *lp, int64_t queue, int flags) {
  return wl_queue_end(lp, queue, flags, 0);
}
int wl_queue_free(wl_loop *lp, int64_t queue) { return wl_queue_end(lp, queue, 0, 1); }

static void wl_newmeta(lua_State *L, const char *name, const void *key, const luaL_Reg *meta,
                       const luaL_Reg *methods, int mod, const char *field) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, mod, field); /* core.Task...: the Lua layer adds methods here */
  lua_setfield(L, -2, "__index");
  lua_pushfstring(L, "%s_mt", field);
  lua_pushvalue(L, -2);
  lua_settable(L, mod); /* core.Task_mt: to recognise tasks from Lua */
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void wl_init(lua_State *L, int mod) {
  static const luaL_Reg loop_meta[] = {
      {"__gc", wl_loop_gc}, {"__close", wl_loop_gc}, {"__tostring", wl_loop_tostring}, {NULL, NULL}};
  static const luaL_Reg no_methods[] = {{NULL, NULL}};
  static const luaL_Reg task_meta[] = {
      {"__gc", wl_task_gc}, {"__tostring", wl_tm_tostring}, {NULL, NULL}};
  static const luaL_Reg task_methods[] = {
      {"cancel", wl_tm_cancel},       {"timeout", wl_tm_timeout}, {"state", wl_tm_state},
      {"done", wl_tm_done},           {"id", wl_tm_id},           {"_outcome", wl_tm_outcome},
      {"traceback", wl_tm_traceback},
      {"_stop_on_done", wl_tm_stop_on_done}, {NULL, NULL}};
  static const luaL_Reg job_meta[] = {{"__gc", wl_job_gc}, {NULL, NULL}};
  static const luaL_Reg job_methods[] = {{"output", wl_job_output}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  wl_newmeta(L, WL_LOOP_MT, &wl_key_loop_mt, loop_meta, no_methods, mod, "Loop");
  wl_newmeta(L, WL_TASK_MT, &wl_key_task_mt, task_meta, task_methods, mod, "Task");
  wl_newmeta(L, WL_JOB_MT, &wl_key_job_mt, job_meta, job_methods, mod, "Job");
  static const luaL_Reg buf_meta[] = {{"__len", wl_buf_len}, {NULL, NULL}};
  wl_newmeta(L, WL_BUF_MT, &wl_key_buf_mt, buf_meta, no_methods, mod, "Buffer");
  lua_newtable(L);
#define WL_OP_FIELD(name, v) (lua_pushinteger(L, v), lua_setfield(L, -2, #name));
  WL_OPS(WL_OP_FIELD)
  lua_setfield(L, mod, "op");
}
