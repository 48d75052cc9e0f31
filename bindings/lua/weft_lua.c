/*
 * weft_lua.c -- the C half of weft's Lua binding: callbacks held as registry
 * refs and called with lua_pcall, tasks as coroutines resumed by a step
 * trampoline, to_thread jobs in per-pool-thread Lua states, socket helpers.
 *
 * Rules this file keeps, because weft's C++ frames sit below every callback:
 *  - No Lua error may longjmp out of a trampoline. Trampolines only call API
 *    functions that cannot raise (lua_rawgeti, lua_pushinteger, lua_pushvalue,
 *    lua_xmove, lua_checkstack, lua_resume, lua_pcall, luaL_unref); anything
 *    that may allocate (strings, tables, tracebacks) runs inside a lua_pcall'd
 *    C function.
 *  - Every registry ref belongs to exactly one weft handle and is released
 *    exactly once: when the handle ends (a one-shot timer fired, a timer or
 *    watch was stopped, a post ran, work was delivered, a task finished), or
 *    at weft_loop_free, which stops timers and watches without calling them.
 *    The loop keeps every live ref in a list and an id -> ref hash for that.
 *  - Callbacks run on the Lua thread that is inside loop_run or loop_free
 *    (wl_loop.L); a handler that adds a traceback sits on its stack.
 */
#define _GNU_SOURCE
#include "weft_lua.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#define WL_LOOP_MT "weft.loop"
#define WL_TASK_MT "weft.task"
#define WL_JOB_MT "weft.job"

/* Registry keys (light userdata) for alloc-free lookups from trampolines. */
static const char wl_key_task_mt = 0;
static const char wl_key_job_mt = 0;
static const char wl_key_cancelled = 0;
static const char wl_key_timeout = 0;

/* ------------------------------------------------------------- helpers */

int64_t wl_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t wl_mem_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return (int64_t)(mi.uordblks + mi.hblkhd);
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
  if (lua_type(L, idx) == LUA_TNUMBER) {  /* a float: truncate if it fits */
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

static int wl_hasmeta(lua_State *L, int idx, const void *key) {
  int r = 0;
  if (!lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  r = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return r;
}

static int wl_is_sentinel(lua_State *L, int idx, const void *key) {
  int r;
  idx = lua_absindex(L, idx);
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  r = !lua_isnil(L, -1) && lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return r;
}

/* ------------------------------------------------- id -> callback hash */

static uint32_t wl_hash(int64_t id) {
  uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
  return (uint32_t)(x >> 32);
}

static void wl_tab_insert(wl_loop *lp, wl_cb *cb) {
  uint32_t mask = lp->cap - 1, i = wl_hash(cb->id) & mask;
  while (lp->tab[i].id) i = (i + 1) & mask;
  lp->tab[i].id = cb->id;
  lp->tab[i].cb = cb;
  lp->used++;
}

/* Makes room for one more entry; 0 or WEFT_ENOMEM. */
static int wl_tab_reserve(wl_loop *lp) {
  if ((lp->used + 1) * 2 <= lp->cap) return 0;
  uint32_t ocap = lp->cap, ncap = ocap ? ocap * 2 : 64;
  struct wl_slot *old = lp->tab, *nt = (struct wl_slot *)calloc(ncap, sizeof *nt);
  if (!nt) return WEFT_ENOMEM;
  lp->tab = nt;
  lp->cap = ncap;
  lp->used = 0;
  for (uint32_t i = 0; i < ocap; i++)
    if (old[i].id) wl_tab_insert(lp, old[i].cb);
  free(old);
  return 0;
}

static wl_cb *wl_tab_get(wl_loop *lp, int64_t id) {
  if (!lp->cap || id == 0) return NULL;
  uint32_t mask = lp->cap - 1, i = wl_hash(id) & mask;
  for (; lp->tab[i].id; i = (i + 1) & mask)
    if (lp->tab[i].id == id) return lp->tab[i].cb;
  return NULL;
}

/* Removes cb's entry with backward-shift deletion (no tombstones). */
static void wl_tab_del(wl_loop *lp, wl_cb *cb) {
  if (!lp->cap || cb->id == 0) return;
  uint32_t mask = lp->cap - 1, i = wl_hash(cb->id) & mask;
  while (lp->tab[i].id && lp->tab[i].cb != cb) i = (i + 1) & mask;
  if (!lp->tab[i].id) return;
  lp->tab[i].id = 0;
  lp->used--;
  for (uint32_t j = (i + 1) & mask; lp->tab[j].id; j = (j + 1) & mask) {
    uint32_t home = wl_hash(lp->tab[j].id) & mask;
    /* move j back to the hole at i unless its home lies in (i, j] */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      lp->tab[i] = lp->tab[j];
      lp->tab[j].id = 0;
      i = j;
    }
  }
}

/* ------------------------------------------------- callback lifecycle */

static void wl_link(wl_loop *lp, wl_cb *cb) {
  cb->next = &lp->live;
  cb->prev = lp->live.prev;
  lp->live.prev->next = cb;
  lp->live.prev = cb;
  lp->nlive[cb->kind]++;
}

static void wl_unlink(wl_loop *lp, wl_cb *cb) {
  if (!cb->next) return;
  cb->prev->next = cb->next;
  cb->next->prev = cb->prev;
  cb->next = cb->prev = NULL;
  lp->nlive[cb->kind]--;
}

/* A new callback holding a ref to the value at idx (0: none). May raise
 * (luaL_ref): only called from Lua->C entry points. */
static wl_cb *wl_cb_new(lua_State *L, wl_loop *lp, int kind, int idx) {
  int ref = LUA_NOREF;
  if (idx) {
    lua_pushvalue(L, idx);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  wl_cb *cb = (wl_cb *)calloc(1, sizeof *cb);
  if (!cb) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return NULL;
  }
  cb->lp = lp;
  cb->ref = ref;
  cb->ref2 = LUA_NOREF;
  cb->kind = (uint8_t)kind;
  return cb;
}

struct wl_job;
static void wl_job_unanchor(lua_State *L, wl_cb *cb);

/* Releases the ref(s) of a callback that ended, and the callback itself.
 * Never raises. Task records live inside their userdata: only the ref goes. */
static void wl_cb_release(lua_State *L, wl_loop *lp, wl_cb *cb) {
  wl_tab_del(lp, cb);
  wl_unlink(lp, cb);
  luaL_unref(L, LUA_REGISTRYINDEX, cb->ref);
  cb->ref = LUA_NOREF;
  if (cb->kind == WL_K_TASK) return;
  if (cb->job) wl_job_unanchor(L, cb);
  free(cb);
}

/* The handle ended by a call from Lua (stop): release now, or after its
 * callback returns if it is the one running. */
static void wl_cb_kill(lua_State *L, wl_loop *lp, wl_cb *cb) {
  wl_tab_del(lp, cb);
  if (cb->busy)
    cb->dead = 1;
  else
    wl_cb_release(L, lp, cb);
}

/* After the C call that starts cb's handle (rc, id): on success index cb by
 * id and report the id; on failure release cb. Returns rc. */
static int wl_cb_started(lua_State *L, wl_loop *lp, wl_cb *cb, int rc, int64_t id,
                         int64_t *OUT_ID) {
  if (rc < 0) {
    wl_cb_release(L, lp, cb);
    return rc;
  }
  cb->id = id;
  wl_tab_insert(lp, cb);
  wl_link(lp, cb);
  *OUT_ID = id;
  return 0;
}

/* After a stop call from Lua (rc): a handle of `kind` stopped by id ends. */
static int wl_cb_stopped(lua_State *L, wl_loop *lp, int rc, int64_t id, int kind) {
  if (rc == 0) {
    wl_cb *cb = wl_tab_get(lp, id);
    if (cb && cb->kind == kind) wl_cb_kill(L, lp, cb);
  }
  return rc;
}

/* --------------------------------------------------- errors, reporting */

/* Message handler for callbacks: adds a traceback to string errors. */
static int wl_msgh(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

/* Protected: (err, lp, where[, co]) -> the loop's error handler, or stderr. */
static int wl_report_p(lua_State *L) {
  wl_loop *lp = (wl_loop *)lua_touserdata(L, 2);
  const char *where = (const char *)lua_touserdata(L, 3);
  if (lua_type(L, 4) == LUA_TTHREAD && lua_type(L, 1) == LUA_TSTRING) {
    luaL_traceback(L, lua_tothread(L, 4), lua_tostring(L, 1), 0);
    lua_replace(L, 1);
  }
  if (lp->errh_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, lp->errh_ref);
    lua_pushvalue(L, 1);
    lua_pushstring(L, where);
    lua_call(L, 2, 0);
  } else {
    const char *msg = luaL_tolstring(L, 1, NULL);
    fprintf(stderr, "weft: error in %s: %s\n", where, msg);
  }
  return 0;
}

/* Reports the error value on top of L (popped). co: the task's coroutine
 * (its traceback is added), or NULL. Never raises. */
static void wl_report(lua_State *L, wl_loop *lp, const char *where, lua_State *co) {
  lp->errors++;
  if (!lua_checkstack(L, 6)) {
    lua_pop(L, 1);
    fprintf(stderr, "weft: error in %s (no stack to report it)\n", where);
    return;
  }
  lua_pushcfunction(L, wl_report_p);
  lua_insert(L, -2);
  lua_pushlightuserdata(L, lp);
  lua_pushlightuserdata(L, (void *)where);
  if (co) {
    lua_pushthread(co);
    lua_xmove(co, L, 1);
  } else {
    lua_pushnil(L);
  }
  if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
    fprintf(stderr, "weft: error in %s; the error handler failed: %s\n", where,
            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)");
    lua_pop(L, 1);
  }
}

/* ---------------------------------------------------------------- loop */

wl_loop *wl_checkloop(lua_State *L, int idx) {
  return (wl_loop *)luaL_checkudata(L, idx, WL_LOOP_MT);
}

int wl_l_loop_new(lua_State *L) {
  wl_loop *lp = (wl_loop *)lua_newuserdatauv(L, sizeof *lp, 0);
  memset(lp, 0, sizeof *lp);
  lp->errh_ref = lp->log_ref = LUA_NOREF;
  lp->live.next = lp->live.prev = &lp->live;
  luaL_setmetatable(L, WL_LOOP_MT);
  weft_loop_t *loop = NULL;
  int rc = weft_loop_new(&loop);
  if (rc < 0) return wl_fail(L, rc);
  lp->loop = loop;
  return 1;
}

/* Enters run/free: L becomes the thread callbacks run on, with the message
 * handler on its stack. Returns the stack top to restore, or -1. */
struct wl_saved {
  lua_State *L;
  int msgh, top;
};

static int wl_enter(lua_State *L, wl_loop *lp, struct wl_saved *s) {
  if (!lua_checkstack(L, 32)) return -1;
  s->L = lp->L;
  s->msgh = lp->msgh;
  s->top = lua_gettop(L);
  lua_pushcfunction(L, wl_msgh);
  lp->msgh = lua_gettop(L);
  lp->L = L;
  return 0;
}

static void wl_leave(lua_State *L, wl_loop *lp, const struct wl_saved *s) {
  lua_settop(L, s->top);
  lp->L = s->L;
  lp->msgh = s->msgh;
}

int wl_loop_run(lua_State *L, wl_loop *lp, int mode) {
  struct wl_saved s;
  if (!lp->loop) return WEFT_EINVAL;
  if (wl_enter(L, lp, &s) < 0) return WEFT_ENOMEM;
  int rc = weft_loop_run(lp->loop, mode);
  wl_leave(L, lp, &s);
  return rc;
}

int wl_loop_free(lua_State *L, wl_loop *lp) {
  struct wl_saved s;
  if (!lp->loop) return WEFT_EINVAL;
  if (wl_enter(L, lp, &s) < 0) return WEFT_ENOMEM;
  int rc = weft_loop_free(lp->loop);
  wl_leave(L, lp, &s);
  if (rc < 0) return rc;
  lp->loop = NULL;
  /* Timers and watches were stopped without their callbacks: their refs
   * (and anything else still tracked) are released here. */
  while (lp->live.next != &lp->live) wl_cb_release(L, lp, lp->live.next);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->errh_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lp->log_ref);
  lp->errh_ref = lp->log_ref = LUA_NOREF;
  free(lp->tab);
  lp->tab = NULL;
  lp->cap = lp->used = 0;
  return 0;
}

static int wl_loop_gc(lua_State *L) {
  wl_loop *lp = (wl_loop *)luaL_checkudata(L, 1, WL_LOOP_MT);
  if (lp->loop) wl_loop_free(L, lp);
  return 0;
}

static int wl_loop_tostring(lua_State *L) {
  wl_loop *lp = (wl_loop *)luaL_checkudata(L, 1, WL_LOOP_MT);
  lua_pushfstring(L, "weft.loop (%s): %p", lp->loop ? "open" : "closed", (void *)lp);
  return 1;
}

static void wl_post_tramp(weft_loop_t *loop, void *ud) {
  wl_cb *cb = (wl_cb *)ud;
  wl_loop *lp = cb->lp;
  lua_State *L = lp->L;
  (void)loop;
  if (!L) return; /* posts only run inside run/free */
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->ref);
  if (lua_pcall(L, 0, 0, lp->msgh) != LUA_OK) wl_report(L, lp, "posted callback", NULL);
  wl_cb_release(L, lp, cb);
}

int wl_loop_post(lua_State *L, wl_loop *lp, WL_FUNC fn) {
  if (!lp->loop) return WEFT_EINVAL;
  wl_cb *cb = wl_cb_new(L, lp, WL_K_POST, fn);
  if (!cb) return WEFT_ENOMEM;
  int rc = weft_loop_post(lp->loop, wl_post_tramp, cb);
  if (rc < 0) {
    wl_cb_release(L, lp, cb);
    return rc;
  }
  wl_link(lp, cb);
  return 0;
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
  if (lua_pcall(L, 3, 0, lp->msgh) != LUA_OK) wl_report(L, lp, "logger", NULL);
}

int wl_loop_set_logger(lua_State *L, wl_loop *lp, WL_OPTFUNC fn) {
  if (!lp->loop) return WEFT_EINVAL;
  int ref = LUA_NOREF;
  if (fn) {
    lua_pushvalue(L, fn);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  int rc = weft_loop_set_logger(lp->loop, fn ? wl_log_tramp : NULL, fn ? lp : NULL);
  if (rc < 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return rc;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, lp->log_ref);
  lp->log_ref = ref;
  return 0;
}

int wl_loop_set_error_handler(lua_State *L, wl_loop *lp, WL_OPTFUNC fn) {
  if (!lp->loop) return WEFT_EINVAL;
  int ref = LUA_NOREF;
  if (fn) {
    lua_pushvalue(L, fn);
    ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, lp->errh_ref);
  lp->errh_ref = ref;
  return 0;
}

int64_t wl_live(wl_loop *lp, int kind) {
  if (kind < 0 || kind >= WL_K_COUNT) {
    int64_t n = 0;
    for (int k = 0; k < WL_K_COUNT; k++) n += lp->nlive[k];
    return n;
  }
  return lp->nlive[kind];
}

int64_t wl_errors(wl_loop *lp) { return lp->errors; }

void wl_push_stats(lua_State *L, const weft_loop_stats_t *st) {
  lua_createtable(L, 0, 10);
#define WL_F(f)                  \
  lua_pushinteger(L, st->f);     \
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

/* -------------------------------------------------------------- timers */

static void wl_timer_tramp(weft_loop_t *loop, weft_timer_t id, void *ud) {
  wl_cb *cb = (wl_cb *)ud;
  wl_loop *lp = cb->lp;
  lua_State *L = lp->L;
  (void)loop;
  if (!L) return;
  cb->busy = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->ref);
  lua_pushinteger(L, id);
  if (lua_pcall(L, 1, 0, lp->msgh) != LUA_OK) wl_report(L, lp, "timer callback", NULL);
  cb->busy = 0;
  if (cb->oneshot || cb->dead) wl_cb_release(L, lp, cb);
}

int wl_timer_start(lua_State *L, wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns,
                   WL_FUNC fn, int64_t *OUT_ID) {
  *OUT_ID = 0;
  if (!lp->loop) return WEFT_EINVAL;
  if (wl_tab_reserve(lp)) return WEFT_ENOMEM;
  wl_cb *cb = wl_cb_new(L, lp, WL_K_TIMER, fn);
  if (!cb) return WEFT_ENOMEM;
  cb->oneshot = repeat_ns == 0;
  weft_timer_t id = 0;
  int rc = weft_timer_start(lp->loop, timeout_ns, repeat_ns, wl_timer_tramp, cb, &id);
  return wl_cb_started(L, lp, cb, rc, id, OUT_ID);
}

int wl_timer_stop(lua_State *L, wl_loop *lp, int64_t timer) {
  if (!lp->loop) return WEFT_EINVAL;
  return wl_cb_stopped(L, lp, weft_timer_stop(lp->loop, timer), timer, WL_K_TIMER);
}

static void wl_native_timer_cb(weft_loop_t *loop, weft_timer_t id, void *ud) {
  (void)loop;
  (void)id;
  ((wl_loop *)ud)->native_fires++;
}

/* Benchmark support: a timer whose callback is C (it counts its fires), to
 * measure the loop's own cost next to the same timer calling Lua. */
int wl_bench_timer_start(wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns, int64_t *OUT_ID) {
  *OUT_ID = 0;
  if (!lp->loop) return WEFT_EINVAL;
  return weft_timer_start(lp->loop, timeout_ns, repeat_ns, wl_native_timer_cb, lp, OUT_ID);
}

int64_t wl_bench_fires(wl_loop *lp) { return lp->native_fires; }

/* ----------------------------------------------------------- fd watches */

static void wl_fd_tramp(weft_loop_t *loop, weft_fd_watch_t id, int events, void *ud) {
  wl_cb *cb = (wl_cb *)ud;
  wl_loop *lp = cb->lp;
  lua_State *L = lp->L;
  (void)loop;
  if (!L) return;
  cb->busy = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->ref);
  lua_pushinteger(L, id);
  lua_pushinteger(L, events);
  if (lua_pcall(L, 2, 0, lp->msgh) != LUA_OK) wl_report(L, lp, "fd watch callback", NULL);
  cb->busy = 0;
  if (cb->dead) wl_cb_release(L, lp, cb);
}

int wl_fd_watch_start(lua_State *L, wl_loop *lp, int fd, int events, WL_FUNC fn,
                      int64_t *OUT_ID) {
  *OUT_ID = 0;
  if (!lp->loop) return WEFT_EINVAL;
  if (wl_tab_reserve(lp)) return WEFT_ENOMEM;
  wl_cb *cb = wl_cb_new(L, lp, WL_K_WATCH, fn);
  if (!cb) return WEFT_ENOMEM;
  weft_fd_watch_t id = 0;
  int rc = weft_fd_watch_start(lp->loop, fd, events, wl_fd_tramp, cb, &id);
  return wl_cb_started(L, lp, cb, rc, id, OUT_ID);
}

int wl_fd_watch_stop(lua_State *L, wl_loop *lp, int64_t watch) {
  if (!lp->loop) return WEFT_EINVAL;
  return wl_cb_stopped(L, lp, weft_fd_watch_stop(lp->loop, watch), watch, WL_K_WATCH);
}

/* ------------------------------------------------------ to_thread jobs
 *
 * A job is a chunk (Lua source or bytecode, e.g. string.dump of a function
 * without upvalues) plus arguments copied out of the Lua state: nil,
 * booleans, numbers and strings. A pool thread runs it in its own lua_State
 * (created on first use, kept for the thread's life, closed when the thread
 * exits, as luv does) and copies the results back out the same way. */

enum { WL_V_NIL, WL_V_BOOL, WL_V_INT, WL_V_NUM, WL_V_STR };

typedef struct wl_val {
  int type;
  size_t len;
  union {
    int b;
    lua_Integer i;
    lua_Number n;
    char *s;
  } u;
} wl_val;

struct wl_job {
  char *code;
  size_t codelen, codecap;
  wl_val *args, *res;
  int nargs, nres;
  int status;   /* 0 not run, 1 returned, 2 raised (res[0] is the message) */
  int inflight; /* submitted, not yet delivered */
  int used;     /* submitted once: a job is single-use */
};

static void wl_vals_free(wl_val *v, int n) {
  for (int i = 0; i < n; i++)
    if (v[i].type == WL_V_STR) free(v[i].u.s);
  free(v);
}

static void wl_job_clear(wl_job *j) {
  free(j->code);
  j->code = NULL;
  wl_vals_free(j->args, j->nargs);
  wl_vals_free(j->res, j->nres);
  j->args = j->res = NULL;
  j->nargs = j->nres = 0;
}

/* Copies n values from L (starting at first) into *out; raises on a value
 * that cannot cross (tables, functions...). *count grows as values are
 * copied, so a raise leaves a consistent array for wl_vals_free. */
static void wl_vals_copy(lua_State *L, int first, int n, wl_val **out, int *count) {
  if (n <= 0) return;
  *out = (wl_val *)calloc((size_t)n, sizeof(wl_val));
  if (!*out) luaL_error(L, "to_thread: out of memory");
  for (int i = 0; i < n; i++) {
    int idx = first + i;
    wl_val *v = &(*out)[i];
    switch (lua_type(L, idx)) {
      case LUA_TNIL: v->type = WL_V_NIL; break;
      case LUA_TBOOLEAN:
        v->type = WL_V_BOOL;
        v->u.b = lua_toboolean(L, idx);
        break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
          v->type = WL_V_INT;
          v->u.i = lua_tointeger(L, idx);
        } else {
          v->type = WL_V_NUM;
          v->u.n = lua_tonumber(L, idx);
        }
        break;
      case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        char *c = (char *)malloc(len + 1);
        if (!c) luaL_error(L, "to_thread: out of memory");
        memcpy(c, s, len + 1);
        v->type = WL_V_STR;
        v->len = len;
        v->u.s = c;
        break;
      }
      default:
        luaL_error(L, "to_thread: cannot pass a %s value between Lua states (value %d)",
                   luaL_typename(L, idx), i + 1);
    }
    (*count)++;
  }
}

static void wl_vals_push(lua_State *L, const wl_val *v, int n) {
  luaL_checkstack(L, n, "too many results");
  for (int i = 0; i < n; i++) {
    switch (v[i].type) {
      case WL_V_NIL: lua_pushnil(L); break;
      case WL_V_BOOL: lua_pushboolean(L, v[i].u.b); break;
      case WL_V_INT: lua_pushinteger(L, v[i].u.i); break;
      case WL_V_NUM: lua_pushnumber(L, v[i].u.n); break;
      default: lua_pushlstring(L, v[i].u.s, v[i].len); break;
    }
  }
}

wl_job *wl_checkjob(lua_State *L, int idx) {
  return (wl_job *)luaL_checkudata(L, idx, WL_JOB_MT);
}

static int wl_dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  wl_job *j = (wl_job *)ud;
  (void)L;
  if (j->codelen + sz > j->codecap) {
    size_t cap = j->codecap ? j->codecap : 256;
    while (cap < j->codelen + sz) cap *= 2;
    char *n = (char *)realloc(j->code, cap);
    if (!n) return 1;
    j->code = n;
    j->codecap = cap;
  }
  memcpy(j->code + j->codelen, p, sz);
  j->codelen += sz;
  return 0;
}

/* job_new(fn_or_chunk, ...) -> job. fn: a Lua function without upvalues
 * (dumped to bytecode); or a string: Lua source or bytecode. */
int wl_l_job_new(lua_State *L) {
  int n = lua_gettop(L);
  luaL_argexpected(L, lua_isfunction(L, 1) || lua_type(L, 1) == LUA_TSTRING, 1,
                   "function or string");
  wl_job *j = (wl_job *)lua_newuserdatauv(L, sizeof *j, 0);
  memset(j, 0, sizeof *j);
  luaL_setmetatable(L, WL_JOB_MT);
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (wl_dump_writer(L, s, len, j)) return luaL_error(L, "to_thread: out of memory");
  } else {
    lua_Debug ar;
    lua_pushvalue(L, 1);
    lua_getinfo(L, ">Su", &ar);
    if (ar.what[0] == 'C') return luaL_argerror(L, 1, "a C function cannot run in another state");
    /* _ENV is the only upvalue a plain chunk-like function may have */
    if (ar.nups > 1 || (ar.nups == 1 && strcmp(lua_getupvalue(L, 1, 1), "_ENV") != 0))
      return luaL_argerror(L, 1, "the function must not use upvalues (they do not cross states)");
    if (ar.nups == 1) lua_pop(L, 1);
    lua_pushvalue(L, 1);
    int rc = lua_dump(L, wl_dump_writer, j, 0);
    lua_pop(L, 1);
    if (rc) return luaL_error(L, "to_thread: cannot dump the function");
  }
  wl_vals_copy(L, 2, n - 1, &j->args, &j->nargs);
  return 1;
}

static int wl_job_gc(lua_State *L) {
  wl_job *j = (wl_job *)luaL_checkudata(L, 1, WL_JOB_MT);
  if (!j->inflight) wl_job_clear(j); /* in flight: anchored, cannot happen */
  return 0;
}

/* Pushes what a finished job gives Lua: its values, or nil, message, code. */
static int wl_job_push_results(lua_State *L, wl_job *j, int result) {
  if (j->status == 1 && result >= 0) {
    wl_vals_push(L, j->res, j->nres);
    return j->nres;
  }
  if (j->status == 2 && result != WEFT_ECANCELED && result != WEFT_ETIMEDOUT) {
    lua_pushnil(L);
    if (j->nres > 0 && j->res[0].type == WL_V_STR)
      lua_pushlstring(L, j->res[0].u.s, j->res[0].len);
    else
      lua_pushstring(L, "to_thread: the chunk raised an error");
    lua_pushinteger(L, result < 0 ? result : WEFT_EHOST);
    return 3;
  }
  return wl_fail(L, result < 0 ? result : WEFT_EINVAL);
}

/* job:results(status) */
static int wl_job_results(lua_State *L) {
  wl_job *j = wl_checkjob(L, 1);
  int result = (int)luaL_optinteger(L, 2, 0);
  return wl_job_push_results(L, j, result);
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
  S = luaL_newstate();
  if (!S) return NULL;
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
  if (luaL_loadbufferx(S, j->code, j->codelen, "=to_thread", NULL) != LUA_OK) return lua_error(S);
  wl_vals_push(S, j->args, j->nargs);
  lua_call(S, j->nargs, LUA_MULTRET);
  wl_vals_copy(S, 2, lua_gettop(S) - 1, &j->res, &j->nres);
  return 0;
}

/* The weft_work_fn: runs on a pool thread, never touches the loop's state. */
static int wl_job_run(void *arg) {
  wl_job *j = (wl_job *)arg;
  lua_State *S = wl_worker_state();
  if (!S) {
    j->status = 2;
    return WEFT_ENOMEM;
  }
  lua_settop(S, 0);
  lua_pushcfunction(S, wl_tb_msgh);
  lua_pushcfunction(S, wl_job_body);
  lua_pushlightuserdata(S, j);
  if (lua_pcall(S, 1, 0, 1) == LUA_OK) {
    j->status = 1;
  } else {
    wl_vals_free(j->res, j->nres);
    j->res = NULL;
    j->nres = 0;
    const char *m = lua_tostring(S, -1);
    size_t len = m ? strlen(m) : 0;
    j->res = (wl_val *)calloc(1, sizeof(wl_val));
    if (j->res && m && (j->res[0].u.s = (char *)malloc(len + 1)) != NULL) {
      memcpy(j->res[0].u.s, m, len + 1);
      j->res[0].type = WL_V_STR;
      j->res[0].len = len;
      j->nres = 1;
    }
    j->status = 2;
  }
  lua_settop(S, 0);
  return j->status == 1 ? 0 : WEFT_EHOST; /* raised, or did not load */
}

/* The callback-style job's userdata is anchored by a second ref. */
static void wl_job_unanchor(lua_State *L, wl_cb *cb) {
  cb->job->inflight = 0;
  luaL_unref(L, LUA_REGISTRYINDEX, cb->ref2);
  cb->ref2 = LUA_NOREF;
  cb->job = NULL;
}

static int wl_done_p(lua_State *L) {
  wl_cb *cb = (wl_cb *)lua_touserdata(L, 1);
  int result = (int)lua_tointeger(L, 2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->ref);
  lua_pushinteger(L, cb->id);
  int n = wl_job_push_results(L, cb->job, result);
  lua_call(L, n + 1, 0);
  return 0;
}

static void wl_done_tramp(weft_loop_t *loop, weft_work_t id, int result, void *ud) {
  wl_cb *cb = (wl_cb *)ud;
  wl_loop *lp = cb->lp;
  lua_State *L = lp->L;
  (void)loop;
  (void)id;
  if (!L) return;
  cb->job->inflight = 0;
  if (cb->ref != LUA_NOREF && lua_checkstack(L, 4)) {
    lua_pushcfunction(L, wl_done_p);
    lua_pushlightuserdata(L, cb);
    lua_pushinteger(L, result);
    if (lua_pcall(L, 2, 0, lp->msgh) != LUA_OK) wl_report(L, lp, "to_thread done callback", NULL);
  }
  wl_cb_release(L, lp, cb);
}

int wl_to_thread(lua_State *L, wl_loop *lp, wl_job *job, WL_OPTFUNC done, int64_t *OUT_ID) {
  *OUT_ID = 0;
  if (!lp->loop) return WEFT_EINVAL;
  if (job->used) return WEFT_EBUSY;
  if (wl_tab_reserve(lp)) return WEFT_ENOMEM;
  wl_cb *cb = wl_cb_new(L, lp, WL_K_WORK, done);
  if (!cb) return WEFT_ENOMEM;
  lua_pushvalue(L, 2); /* to_thread(loop, job, done): anchor the job until done ran */
  cb->ref2 = luaL_ref(L, LUA_REGISTRYINDEX);
  cb->job = job;
  job->inflight = 1;
  job->used = 1;
  weft_work_t id = 0;
  int rc = weft_to_thread(lp->loop, wl_job_run, job, wl_done_tramp, cb, &id);
  if (rc < 0) job->used = 0;
  return wl_cb_started(L, lp, cb, rc, id, OUT_ID);
}

/* ---------------------------------------------------------------- tasks */

enum { WL_OUT_OK = 0, WL_OUT_INTR = 1, WL_OUT_ERR = 2 };

typedef struct wl_task {
  wl_cb cb;          /* kind WL_K_TASK; ref anchors this userdata; id: task id */
  lua_State *co;     /* the coroutine (user value 1 keeps it alive) */
  uint8_t started, done, outcome, stop_on_done;
  uint8_t intr_cancel; /* the binding asked for a cancel not yet delivered */
  uint8_t await_coe;   /* the pending await is a cancel-on-error group */
  uint8_t anchored;    /* user value 3 holds what the pending await names */
  int result;          /* weft result once done: 0, ECANCELED, ETIMEDOUT, EINVAL */
  int rbase, nres;     /* results (or the error value) on co's stack */
  int awaiters;        /* tasks awaiting this one right now */
  int64_t deadline;    /* absolute ns of the timeout, 0 = none */
  int64_t finish_seq;
  struct wl_task **waiting; /* children of the pending join */
  int nwaiting;
  wl_job *job; /* the pending to_thread job */
} wl_task;

static wl_task *wl_totask(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TUSERDATA || !wl_hasmeta(L, idx, &wl_key_task_mt)) return NULL;
  return (wl_task *)lua_touserdata(L, idx);
}

static wl_task *wl_checktask(lua_State *L, int idx) {
  return (wl_task *)luaL_checkudata(L, idx, WL_TASK_MT);
}

/* The task finished with `result`; its values are on co's stack. */
static int wl_task_end(lua_State *L, wl_loop *lp, wl_task *t, int result, int outcome) {
  t->done = 1;
  t->result = result;
  t->outcome = (uint8_t)outcome;
  t->finish_seq = ++lp->finish_seq;
  if (t->stop_on_done && lp->loop) weft_loop_stop(lp->loop);
  wl_cb_release(L, lp, &t->cb); /* last: the userdata may be collected now */
  return result;
}

static void wl_task_clear_wait(wl_task *t) {
  for (int i = 0; i < t->nwaiting; i++) t->waiting[i]->awaiters--;
  free(t->waiting);
  t->waiting = NULL;
  t->nwaiting = 0;
}

/* Pushes onto co what the coroutine's pending yield returns. Returns the
 * count, or -1 without stack. */
static int wl_task_deliver(wl_task *t, lua_State *co, int status) {
  int own = 1;
  if (!lua_checkstack(co, 3)) return -1;
  if (t->anchored) { /* the await is over: its object may go */
    lua_rawgeti(co, LUA_REGISTRYINDEX, t->cb.ref);
    lua_pushnil(co);
    lua_setiuservalue(co, -2, 3);
    lua_pop(co, 1);
    t->anchored = 0;
  }
  if (t->nwaiting) wl_task_clear_wait(t);
  if (t->job) {
    t->job->inflight = 0;
    t->job = NULL;
  }
  if (status == WEFT_ECANCELED) {
    own = t->await_coe ? t->intr_cancel : 1;
    if (own) t->intr_cancel = 0;
  } else if (status == WEFT_ETIMEDOUT) {
    own = !t->await_coe || (t->deadline && wl_clock_ns() >= t->deadline);
    if (own) t->deadline = 0;
  }
  lua_pushinteger(co, status);
  if (!t->await_coe) return 1;
  t->await_coe = 0;
  lua_pushboolean(co, own);
  return 2;
}

/* Arms the await the coroutine yielded for (nres values on co's top).
 * Returns WEFT_PENDING once armed; otherwise pushes onto co the values the
 * yield returns at once and returns their count (or -1 without stack). */
static int wl_task_arm(wl_loop *lp, wl_task *t, weft_task_t self, lua_State *co, int nres) {
  int base = lua_gettop(co) - nres + 1;
  int op = WL_OP_YIELD, rc = WEFT_EINVAL, sync = 0, coe = 0;
  if (!lua_checkstack(co, 3)) return -1;
  if (nres > 0) {
    int isnum;
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
    case WL_OP_FD: {
      int ok1, ok2;
      lua_Integer fd = lua_tointegerx(co, base + 1, &ok1);
      lua_Integer ev = lua_tointegerx(co, base + 2, &ok2);
      if (!ok1 || !ok2 || fd < INT_MIN || fd > INT_MAX || ev < INT_MIN || ev > INT_MAX)
        rc = WEFT_EINVAL;
      else
        rc = weft_await_fd(lp->loop, self, (int)fd, (int)ev);
      break;
    }
    case WL_OP_TASK: {
      wl_task *c = wl_totask(co, base + 1);
      if (!c || c->cb.lp != lp) {
        rc = WEFT_EINVAL;
      } else if (c->done) {
        rc = 0;
      } else {
        weft_task_t id = c->cb.id;
        wl_task **w = (wl_task **)malloc(sizeof *w);
        if (!w) {
          rc = WEFT_ENOMEM;
          break;
        }
        rc = weft_await_all(lp->loop, self, &id, 1, 0);
        if (rc == WEFT_PENDING) {
          w[0] = c;
          c->awaiters++;
          t->waiting = w;
          t->nwaiting = 1;
        } else {
          free(w);
        }
      }
      break;
    }
    case WL_OP_ALL: {
      int ok;
      lua_Integer flags = lua_tointegerx(co, base + 1, &ok);
      if (!ok || flags < 0 || flags > INT_MAX || lua_type(co, base + 2) != LUA_TTABLE ||
          !lua_checkstack(co, 2)) {
        rc = WEFT_EINVAL;
        break;
      }
      coe = (flags & WEFT_CANCEL_ON_ERROR) != 0;
      size_t n = (size_t)lua_rawlen(co, base + 2), m = 0;
      weft_task_t *ids = (weft_task_t *)malloc((n ? n : 1) * sizeof *ids);
      wl_task **kids = (wl_task **)malloc((n ? n : 1) * sizeof *kids);
      int prefail = 0;
      rc = 0;
      if (!ids || !kids) rc = WEFT_ENOMEM;
      for (size_t i = 0; rc == 0 && i < n; i++) {
        lua_rawgeti(co, base + 2, (lua_Integer)i + 1);
        wl_task *c = wl_totask(co, -1);
        lua_pop(co, 1);
        if (!c || c->cb.lp != lp || c == t) {
          rc = WEFT_EINVAL;
        } else if (c->done) {
          if (c->result < 0) prefail = 1;
        } else {
          ids[m] = c->cb.id;
          kids[m++] = c;
        }
      }
      if (rc == 0 && coe && prefail) {
        /* a child already failed: cancel the others, then wait for them */
        for (size_t i = 0; i < m; i++) weft_task_cancel(lp->loop, ids[i]);
        flags &= ~WEFT_CANCEL_ON_ERROR;
      }
      if (rc == 0 && m > 0) {
        rc = weft_await_all(lp->loop, self, ids, m, (int)flags);
        if (rc == WEFT_PENDING) {
          for (size_t i = 0; i < m; i++) kids[i]->awaiters++;
          t->waiting = kids;
          t->nwaiting = (int)m;
          kids = NULL;
        }
      }
      free(ids);
      free(kids);
      break;
    }
    case WL_OP_YIELD:
      rc = weft_await_yield(lp->loop, self);
      break;
    case WL_OP_THREAD: {
      wl_job *j = NULL;
      if (lua_type(co, base + 1) == LUA_TUSERDATA && wl_hasmeta(co, base + 1, &wl_key_job_mt))
        j = (wl_job *)lua_touserdata(co, base + 1);
      if (!j) {
        rc = WEFT_EINVAL;
      } else if (j->used) {
        rc = WEFT_EBUSY;
      } else {
        j->inflight = j->used = 1;
        rc = weft_await_thread(lp->loop, self, wl_job_run, j);
        if (rc == WEFT_PENDING)
          t->job = j;
        else
          j->inflight = j->used = 0;
      }
      break;
    }
    case WL_OP_TIMEOUT: {
      int ok;
      lua_Integer ns = lua_tointegerx(co, base + 1, &ok);
      sync = 1;
      rc = ok ? weft_task_timeout(lp->loop, self, ns) : WEFT_EINVAL;
      if (rc == 0) t->deadline = ns ? wl_clock_ns() + ns : 0;
      break;
    }
    case WL_OP_SELF:
      sync = 1;
      rc = 0;
      break;
    default:
      rc = WEFT_EINVAL;
      break;
  }
  if (rc == WEFT_PENDING && (op == WL_OP_TASK || op == WL_OP_ALL || op == WL_OP_THREAD)) {
    /* Keep the awaited tasks (or the job, which a pool thread writes to)
     * alive until the await is over, whoever else holds them. */
    lua_rawgeti(co, LUA_REGISTRYINDEX, t->cb.ref);
    lua_pushvalue(co, op == WL_OP_ALL ? base + 2 : base + 1);
    lua_setiuservalue(co, -2, 3);
    lua_pop(co, 1);
    t->anchored = 1;
  }
  lua_settop(co, base - 1); /* drop the request */
  if (rc == WEFT_PENDING) {
    t->await_coe = (uint8_t)coe;
    return WEFT_PENDING;
  }
  if (op == WL_OP_SELF && sync) {
    lua_rawgeti(co, LUA_REGISTRYINDEX, t->cb.ref);
    return 1;
  }
  lua_pushinteger(co, rc);
  if (op == WL_OP_ALL && coe) {
    lua_pushboolean(co, 0);
    return 2;
  }
  return 1;
}

/* The weft_task_fn of every Lua task: resumes the coroutine with the result
 * of its last await, then arms the await it yields next. */
static int wl_task_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  wl_task *t = (wl_task *)ud;
  wl_loop *lp = t->cb.lp;
  lua_State *L = lp->L, *co = t->co;
  int nargs, nres, rc;
  (void)loop;
  if (!L) return WEFT_ECANCELED; /* steps only run inside run/free */
  if (!t->started) {
    t->started = 1;
    if (status < 0) { /* cancelled (or timed out) before it started */
      lua_settop(co, 0);
      t->rbase = 1;
      t->nres = 0;
      return wl_task_end(L, lp, t, status, WL_OUT_INTR);
    }
    nargs = lua_gettop(co) - 1;
  } else {
    nargs = wl_task_deliver(t, co, status);
  }
  for (;;) {
    if (nargs < 0) { /* no stack left to resume with: give up on it */
      t->rbase = lua_gettop(co) + 1;
      t->nres = 0;
      return wl_task_end(L, lp, t, WEFT_ENOMEM, WL_OUT_INTR);
    }
    rc = lua_resume(co, L, nargs, &nres);
    if (rc == LUA_YIELD) {
      nargs = wl_task_arm(lp, t, self, co, nres);
      if (nargs == WEFT_PENDING) return WEFT_PENDING;
      continue;
    }
    if (rc == LUA_OK) {
      t->rbase = lua_gettop(co) - nres + 1;
      t->nres = nres;
      return wl_task_end(L, lp, t, 0, WL_OUT_OK);
    }
    /* raised: the error value is on co's top */
    t->rbase = lua_gettop(co);
    t->nres = 1;
    if (wl_is_sentinel(co, -1, &wl_key_cancelled))
      return wl_task_end(L, lp, t, WEFT_ECANCELED, WL_OUT_INTR);
    if (wl_is_sentinel(co, -1, &wl_key_timeout))
      return wl_task_end(L, lp, t, WEFT_ETIMEDOUT, WL_OUT_INTR);
    if (t->awaiters == 0 && !t->stop_on_done && lua_checkstack(co, 1)) {
      lua_pushvalue(co, -1);
      lua_xmove(co, L, 1);
      wl_report(L, lp, "task", co);
    }
    return wl_task_end(L, lp, t, WEFT_EHOST, WL_OUT_ERR);
  }
}

/* task_spawn(loop, fn, ...) -> task | nil, message, code */
int wl_l_task_spawn(lua_State *L) {
  wl_loop *lp = wl_checkloop(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  int n = lua_gettop(L) - 1; /* fn and its arguments */
  if (!lp->loop) return wl_fail(L, WEFT_EINVAL);
  if (wl_tab_reserve(lp)) return wl_fail(L, WEFT_ENOMEM);
  /* user values: 1 the coroutine, 2 the loop, 3 what the pending await names */
  wl_task *t = (wl_task *)lua_newuserdatauv(L, sizeof *t, 3);
  memset(t, 0, sizeof *t);
  t->cb.ref = LUA_NOREF;
  t->cb.kind = WL_K_TASK;
  t->cb.lp = lp;
  t->done = 1; /* until spawned */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &wl_key_task_mt);
  lua_setmetatable(L, -2);
  int tidx = lua_gettop(L);
  lua_State *co = lua_newthread(L);
  t->co = co;
  lua_setiuservalue(L, tidx, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, tidx, 2);
  if (!lua_checkstack(co, n + 1)) return luaL_error(L, "too many arguments to spawn");
  luaL_checkstack(L, n, "too many arguments to spawn");
  for (int i = 2; i <= n + 1; i++) lua_pushvalue(L, i);
  lua_xmove(L, co, n);
  lua_pushvalue(L, tidx);
  t->cb.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  weft_task_t id = 0;
  int rc = weft_task_spawn(lp->loop, wl_task_step, t, &id);
  if (rc < 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->cb.ref);
    t->cb.ref = LUA_NOREF;
    t->result = rc;
    t->outcome = WL_OUT_INTR;
    return wl_fail(L, rc);
  }
  /* Detach at once: weft frees the slot when the task finishes, and this
   * userdata keeps the outcome for as long as Lua holds it. */
  weft_task_release(lp->loop, id);
  t->done = 0;
  t->cb.id = id;
  wl_tab_insert(lp, &t->cb);
  wl_link(lp, &t->cb);
  lua_settop(L, tidx);
  return 1;
}

static int wl_task_do_cancel(wl_loop *lp, wl_task *t) {
  if (t->done) return 0;
  if (!lp->loop) return WEFT_EINVAL;
  int rc = weft_task_cancel(lp->loop, t->cb.id);
  if (rc == 0) t->intr_cancel = 1;
  return rc;
}

static int wl_task_do_timeout(wl_loop *lp, wl_task *t, int64_t ns) {
  if (t->done) return 0;
  if (!lp->loop) return WEFT_EINVAL;
  int rc = weft_task_timeout(lp->loop, t->cb.id, ns);
  if (rc == 0) t->deadline = ns ? wl_clock_ns() + ns : 0;
  return rc;
}

int wl_task_cancel(wl_loop *lp, int64_t task) {
  wl_cb *cb = wl_tab_get(lp, task);
  if (cb && cb->kind == WL_K_TASK) return wl_task_do_cancel(lp, (wl_task *)cb);
  return lp->loop ? weft_task_cancel(lp->loop, task) : WEFT_EINVAL;
}

int wl_task_timeout(wl_loop *lp, int64_t task, int64_t ns) {
  wl_cb *cb = wl_tab_get(lp, task);
  if (cb && cb->kind == WL_K_TASK) {
    if (ns < 0) return WEFT_EINVAL;
    return wl_task_do_timeout(lp, (wl_task *)cb, ns);
  }
  return lp->loop ? weft_task_timeout(lp->loop, task, ns) : WEFT_EINVAL;
}

static int wl_ok_or_fail(lua_State *L, int rc) {
  if (rc < 0) return wl_fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

/* task:cancel() -> true | nil, message, code */
static int wl_tm_cancel(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  return wl_ok_or_fail(L, wl_task_do_cancel(t->cb.lp, t));
}

/* task:timeout(seconds) -> true | nil, message, code */
static int wl_tm_timeout(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  int64_t ns = 0;
  luaL_checknumber(L, 2);
  if (wl_secs_to_ns(L, 2, &ns) < 0) return wl_fail(L, WEFT_EINVAL);
  return wl_ok_or_fail(L, wl_task_do_timeout(t->cb.lp, t, ns));
}

static const char *wl_state_name(int st) {
  switch (st) {
    case WEFT_TASK_READY: return "ready";
    case WEFT_TASK_WAITING: return "waiting";
    case WEFT_TASK_RUNNING: return "running";
    default: return "done";
  }
}

/* task:state() -> "ready" | "running" | "waiting" | "done" */
static int wl_tm_state(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  if (t->done) {
    lua_pushstring(L, "done");
    return 1;
  }
  if (!t->cb.lp->loop) return wl_fail(L, WEFT_EINVAL);
  int st = weft_task_state(t->cb.lp->loop, t->cb.id);
  if (st < 0) return wl_fail(L, st);
  lua_pushstring(L, wl_state_name(st));
  return 1;
}

static int wl_tm_done(lua_State *L) {
  lua_pushboolean(L, wl_checktask(L, 1)->done);
  return 1;
}

static int wl_tm_cancelled(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  lua_pushboolean(L, t->done && t->result == WEFT_ECANCELED);
  return 1;
}

static int wl_tm_id(lua_State *L) {
  lua_pushinteger(L, wl_checktask(L, 1)->cb.id);
  return 1;
}

/* Pushes the error triple of a task that did not return normally. */
static int wl_task_push_failure(lua_State *L, wl_task *t) {
  lua_pushnil(L);
  if (t->outcome == WL_OUT_ERR) {
    lua_pushvalue(t->co, t->rbase);
    lua_xmove(t->co, L, 1);
  } else {
    lua_pushstring(L, wl_errmsg(t->result));
  }
  lua_pushinteger(L, t->result);
  return 3;
}

/* task:_values() -> the values it returned | nil, error, code (finished
 * tasks); nil, message, WEFT_EBUSY while it runs. */
static int wl_tm_values(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  if (!t->done) return wl_fail(L, WEFT_EBUSY);
  if (t->outcome != WL_OUT_OK) return wl_task_push_failure(L, t);
  luaL_checkstack(L, t->nres, "too many results");
  if (!lua_checkstack(t->co, t->nres)) return luaL_error(L, "too many results");
  for (int i = 0; i < t->nres; i++) lua_pushvalue(t->co, t->rbase + i);
  lua_xmove(t->co, L, t->nres);
  return t->nres;
}

/* task:_first() -> true, first value | false, error, code, finish order */
static int wl_tm_first(lua_State *L) {
  wl_task *t = wl_checktask(L, 1);
  if (!t->done) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, wl_errmsg(WEFT_EBUSY));
    lua_pushinteger(L, WEFT_EBUSY);
    lua_pushinteger(L, INT64_MAX);
    return 4;
  }
  if (t->outcome == WL_OUT_OK) {
    lua_pushboolean(L, 1);
    if (t->nres > 0) {
      lua_pushvalue(t->co, t->rbase);
      lua_xmove(t->co, L, 1);
    } else {
      lua_pushnil(L);
    }
    return 2;
  }
  wl_task_push_failure(L, t);
  lua_pushboolean(L, 0);
  lua_replace(L, -4);
  lua_pushinteger(L, t->finish_seq);
  return 4;
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
  lua_pushfstring(L, "weft.task %I (%s)", (lua_Integer)t->cb.id,
                  t->done ? "done" : t->started ? "started" : "new");
  return 1;
}

/* set_sentinels(cancelled, timeout): the error values the Lua layer raises
 * in a task on cancellation and timeout (a task that lets one escape
 * finishes with WEFT_ECANCELED / WEFT_ETIMEDOUT instead of an error). */
int wl_l_set_sentinels(lua_State *L) {
  lua_settop(L, 2);
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &wl_key_cancelled);
  lua_pushvalue(L, 2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &wl_key_timeout);
  return 0;
}

/* -------------------------------------------------------------- sockets */

static int wl_errno_fail(lua_State *L) { return wl_fail(L, -errno); }

static int wl_checkfd(lua_State *L, int idx) { return (int)wl_checkint(L, idx, 0, INT_MAX); }

/* socketpair([nonblocking=true]) -> fd1, fd2 | nil, message, code */
int wl_l_socketpair(lua_State *L) {
  int nb = lua_isnoneornil(L, 1) ? 1 : lua_toboolean(L, 1);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0), 0, sv) < 0)
    return wl_errno_fail(L);
  lua_pushinteger(L, sv[0]);
  lua_pushinteger(L, sv[1]);
  return 2;
}

/* pipe([nonblocking=true]) -> read_fd, write_fd | nil, message, code */
int wl_l_pipe(lua_State *L) {
  int nb = lua_isnoneornil(L, 1) ? 1 : lua_toboolean(L, 1);
  int p[2];
  if (pipe2(p, O_CLOEXEC | (nb ? O_NONBLOCK : 0)) < 0) return wl_errno_fail(L);
  lua_pushinteger(L, p[0]);
  lua_pushinteger(L, p[1]);
  return 2;
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
  if (i > j) {
    lua_pushinteger(L, 0);
    return 1;
  }
  ssize_t n;
  do n = write(fd, s + i - 1, (size_t)(j - i + 1));
  while (n < 0 && errno == EINTR);
  if (n < 0) return wl_errno_fail(L);
  lua_pushinteger(L, n);
  return 1;
}

/* close(fd) -> true | nil, message, code */
int wl_l_close(lua_State *L) {
  int fd = wl_checkfd(L, 1);
  if (close(fd) < 0) return wl_errno_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

/* set_nonblocking(fd[, on=true]) -> true | nil, message, code */
int wl_l_set_nonblocking(lua_State *L) {
  int fd = wl_checkfd(L, 1);
  int on = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) < 0)
    return wl_errno_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

/* ----------------------------------------------------------------- init */

static void wl_newmeta(lua_State *L, const char *name, const void *key, const luaL_Reg *meta,
                       const luaL_Reg *methods, int mod, const char *field) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_pushvalue(L, -1);
  lua_setfield(L, mod, field); /* the Lua layer adds its methods here */
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  lua_pushfstring(L, "%s_mt", field);
  lua_insert(L, -2);
  lua_settable(L, mod); /* core.Task_mt: to recognise tasks from Lua */
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  lua_pop(L, 1);
}

static const char wl_key_loop_mt = 0;

void wl_init(lua_State *L, int mod) {
  static const luaL_Reg loop_meta[] = {{"__gc", wl_loop_gc},
                                       {"__close", wl_loop_gc},
                                       {"__tostring", wl_loop_tostring},
                                       {NULL, NULL}};
  static const luaL_Reg no_methods[] = {{NULL, NULL}};
  static const luaL_Reg task_meta[] = {{"__tostring", wl_tm_tostring}, {NULL, NULL}};
  static const luaL_Reg task_methods[] = {{"cancel", wl_tm_cancel},
                                          {"timeout", wl_tm_timeout},
                                          {"state", wl_tm_state},
                                          {"done", wl_tm_done},
                                          {"cancelled", wl_tm_cancelled},
                                          {"id", wl_tm_id},
                                          {"traceback", wl_tm_traceback},
                                          {"_values", wl_tm_values},
                                          {"_first", wl_tm_first},
                                          {"_stop_on_done", wl_tm_stop_on_done},
                                          {NULL, NULL}};
  static const luaL_Reg job_meta[] = {{"__gc", wl_job_gc}, {NULL, NULL}};
  static const luaL_Reg job_methods[] = {{"results", wl_job_results}, {NULL, NULL}};
  mod = lua_absindex(L, mod);
  wl_newmeta(L, WL_LOOP_MT, &wl_key_loop_mt, loop_meta, no_methods, mod, "Loop");
  wl_newmeta(L, WL_TASK_MT, &wl_key_task_mt, task_meta, task_methods, mod, "Task");
  wl_newmeta(L, WL_JOB_MT, &wl_key_job_mt, job_meta, job_methods, mod, "Job");

  lua_newtable(L);
#define WL_OP(n, v)          \
  lua_pushinteger(L, v);     \
  lua_setfield(L, -2, n)
  WL_OP("SLEEP", WL_OP_SLEEP);
  WL_OP("FD", WL_OP_FD);
  WL_OP("TASK", WL_OP_TASK);
  WL_OP("ALL", WL_OP_ALL);
  WL_OP("YIELD", WL_OP_YIELD);
  WL_OP("THREAD", WL_OP_THREAD);
  WL_OP("TIMEOUT", WL_OP_TIMEOUT);
  WL_OP("SELF", WL_OP_SELF);
#undef WL_OP
  lua_setfield(L, mod, "op");

  lua_newtable(L);
  lua_pushinteger(L, WL_K_TIMER);
  lua_setfield(L, -2, "timer");
  lua_pushinteger(L, WL_K_WATCH);
  lua_setfield(L, -2, "watch");
  lua_pushinteger(L, WL_K_WORK);
  lua_setfield(L, -2, "work");
  lua_pushinteger(L, WL_K_POST);
  lua_setfield(L, -2, "post");
  lua_pushinteger(L, WL_K_TASK);
  lua_setfield(L, -2, "task");
  lua_setfield(L, mod, "kind");
}
