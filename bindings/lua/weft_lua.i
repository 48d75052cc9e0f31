/* lua/weft_lua.i -- the Lua section of weft.i (included under SWIGLUA).
 *
 * Generates the raw module `weft.core` (swig -lua -module weft_core): the C
 * API of weft.h with Lua-friendly names (weft_loop_stop -> loop_stop,
 * WEFT_READABLE -> READABLE), integers as Lua integers, and, where a Lua
 * value must cross into C, the functions of weft_lua.c in place of the C
 * ones (callbacks are registry refs called with lua_pcall; tasks are
 * coroutines resumed by a weft_task_fn trampoline). The idiomatic layer,
 * `require "weft"`, is weft.lua.
 *
 * Raw conventions: every function returns the C return code first; ids come
 * second (`rc, id = core.timer_start(loop, 0, 1e6, fn)`). Durations are ns.
 */

%begin %{
#define _GNU_SOURCE /* pipe2, in weft_lua.c */
%}
%{
#include "weft_lua.c"
%}

/* ------------------------------------------------------------------ names */
%rename("%(strip:[weft_])s", %$isfunction) "";
%rename("%(strip:[WEFT_])s", %$isconstant) "";

/* --------------------------------------------------------------- integers
 * SWIG's Lua typemaps push every number with lua_pushnumber (a float) and
 * truncate any number on input. weft's values are integers: push them as
 * Lua integers, and accept only numbers with an integer representation
 * (int64 durations also accept floats, truncated: 1.5e9 ns is fine). */
%typemap(in, checkfn="lua_isnumber") int, signed int
%{ $1 = ($1_ltype)wl_checkint(L, $input, INT_MIN, INT_MAX); %}
%typemap(in, checkfn="lua_isnumber") long long, signed long long, long, int64_t
%{ $1 = ($1_ltype)wl_checkint64(L, $input); %}
%typemap(in, checkfn="lua_isnumber") size_t
%{ $1 = (size_t)wl_checkint(L, $input, 0, LUA_MAXINTEGER); %}
%typemap(out) int, signed int, unsigned int, long, long long, signed long long, int64_t, size_t
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}

/* ------------------------------------------------------- binding objects */
typedef int WL_FUNC;
typedef int WL_OPTFUNC;
typedef struct wl_loop wl_loop;
typedef struct wl_job wl_job;

/* A loop argument of the C API: the Lua loop's weft_loop_t*, NULL once it
 * was freed (the C function then returns WEFT_EINVAL). */
%typemap(in, checkfn="lua_isuserdata") weft_loop_t *loop, const weft_loop_t *loop
%{ $1 = wl_checkloop(L, $input)->loop; %}
%typemap(in, checkfn="lua_isuserdata") wl_loop *lp
%{ $1 = wl_checkloop(L, $input); %}
%typemap(in, checkfn="lua_isuserdata") wl_job *job
%{ $1 = wl_checkjob(L, $input); %}
%typemap(in, checkfn="lua_isfunction") WL_FUNC
%{ $1 = $input; %}
%typemap(in, checkfn="wl_isfuncornil") WL_OPTFUNC
%{ $1 = lua_isnoneornil(L, $input) ? 0 : $input; %}

/* ids come back as a second result */
%typemap(in, numinputs=0) int64_t *OUT_ID (int64_t temp)
%{ temp = 0; $1 = &temp; %}
%typemap(argout) int64_t *OUT_ID
%{ lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; %}

/* weft_task_result(loop, task) -> rc, result */
%typemap(in, numinputs=0) int *result (int temp)
%{ temp = 0; $1 = &temp; %}
%typemap(argout) int *result
%{ lua_pushinteger(L, (lua_Integer)*$1); SWIG_arg++; %}

/* weft_loop_stats(loop) -> rc, {iterations=..., ...} */
%typemap(in, numinputs=0) weft_loop_stats_t *out (weft_loop_stats_t temp)
%{ memset(&temp, 0, sizeof temp); temp.size = sizeof temp; $1 = &temp; %}
%typemap(argout) weft_loop_stats_t *out
%{ if (result == 0) { wl_push_stats(L, $1); SWIG_arg++; } %}
%ignore weft_loop_stats_s;

/* ------------------------------------------- replaced by weft_lua.c
 * Loop life and everything that takes a callback: the Lua function is held
 * as a registry ref that the loop's release hook drops when weft lets go of
 * it (so stop, cancel and timeout are weft's own functions). Tasks are Lua
 * coroutines; their awaits are requests the coroutine yields (see weft.lua),
 * so the weft_await_* functions have no raw Lua form. A task's Lua object
 * owns its id (released by __gc). */
%ignore weft_loop_new;
%ignore weft_loop_free;
%ignore weft_loop_run;
%ignore weft_loop_post;
%ignore weft_loop_set_logger;
%ignore weft_loop_set_release;
%ignore weft_timer_start;
%ignore weft_fd_watch_start;
%ignore weft_to_thread;
%ignore weft_task_spawn;
%ignore weft_task_release;
%rename("$ignore", regextarget=1, %$isfunction) "^weft_await_";

/* loop_new() -> loop | nil, message, code */
%native(loop_new) int wl_l_loop_new(lua_State *L);

/* loop_free(loop) -> rc. Runs cancelled tasks and pending posts on the
 * calling Lua thread; releases the refs of timers and watches it stopped. */
%rename(loop_free) wl_loop_free;
int wl_loop_free(lua_State *L, wl_loop *lp);
/* loop_run(loop, mode) -> rc. Callbacks and task steps run on the caller. */
%rename(loop_run) wl_loop_run;
int wl_loop_run(lua_State *L, wl_loop *lp, int mode);
/* loop_post(loop, fn) -> rc; fn() runs once on the loop. */
%rename(loop_post) wl_loop_post;
int wl_loop_post(lua_State *L, wl_loop *lp, WL_FUNC fn);
/* loop_set_logger(loop, fn|nil) -> rc; fn(level, message). */
%rename(loop_set_logger) wl_loop_set_logger;
int wl_loop_set_logger(lua_State *L, wl_loop *lp, WL_OPTFUNC fn);
/* loop_set_error_handler(loop, fn|nil) -> rc; fn(err, where) receives
 * errors raised by callbacks and by tasks nobody awaits (default: stderr). */
%rename(loop_set_error_handler) wl_loop_set_error_handler;
int wl_loop_set_error_handler(lua_State *L, wl_loop *lp, WL_OPTFUNC fn);

/* timer_start(loop, timeout_ns, repeat_ns, fn) -> rc, id; fn(id) */
%rename(timer_start) wl_timer_start;
int wl_timer_start(lua_State *L, wl_loop *lp, int64_t timeout_ns, int64_t repeat_ns,
                   WL_FUNC fn, int64_t *OUT_ID);

/* fd_watch_start(loop, fd, events, fn) -> rc, id; fn(id, events) */
%rename(fd_watch_start) wl_fd_watch_start;
int wl_fd_watch_start(lua_State *L, wl_loop *lp, int fd, int events, WL_FUNC fn,
                      int64_t *OUT_ID);

/* job_new(fn_or_chunk, ...) -> job: a chunk and its arguments (nil,
 * booleans, numbers, strings) to run in a pool thread's own lua_State. */
%native(job_new) int wl_l_job_new(lua_State *L);
/* to_thread(loop, job, done|nil) -> rc, id; done(id, ...results) or
 * done(id, nil, message, code). */
%rename(to_thread) wl_to_thread;
int wl_to_thread(lua_State *L, wl_loop *lp, wl_job *job, WL_OPTFUNC done, int64_t *OUT_ID);

/* task_spawn(loop, fn, ...) -> task | nil, message, code */
%native(task_spawn) int wl_l_task_spawn(lua_State *L);
/* set_sentinels(cancelled, timeout): error values meaning "cancelled" and
 * "timed out" when a task lets them escape. */
%native(set_sentinels) int wl_l_set_sentinels(lua_State *L);

/* live(loop, kind) -> user_data of kind (core.KIND_*) weft refers to now,
 * all kinds with kind = -1; released(loop, kind) -> how many times the
 * release hook let go of one; errors(loop) -> errors reported so far. */
%rename(live) wl_live;
int64_t wl_live(wl_loop *lp, int kind);
%rename(released) wl_released;
int64_t wl_released(wl_loop *lp, int kind);
/* refs(loop) -> registry refs the loop holds for weft now */
%rename(refs) wl_refs;
int64_t wl_refs(wl_loop *lp);
%rename(errors) wl_errors;
int64_t wl_errors(wl_loop *lp);

/* clock_ns() -> a fresh CLOCK_MONOTONIC reading (weft's clock) */
%rename(clock_ns) wl_clock_ns;
int64_t wl_clock_ns(void);

/* socket helpers (luaposix has no Lua 5.4 build in Debian 12) */
%native(socketpair) int wl_l_socketpair(lua_State *L);
%native(pipe) int wl_l_pipe(lua_State *L);
%native(read) int wl_l_read(lua_State *L);
%native(write) int wl_l_write(lua_State *L);
%native(close) int wl_l_close(lua_State *L);
%native(set_nonblocking) int wl_l_set_nonblocking(lua_State *L);

/* sockets (weft.h "sockets"): the awaits are requests a task yields (see
 * weft.lua). tcp_listen(loop, host|nil, port, backlog, flags) and
 * unix_listen(loop, path, backlog) -> rc, fd; socket_port, socket_adopt,
 * socket_shutdown and socket_close (loop, fd) -> rc: SWIG's raw wrappers.
 * buffer(n) / buffer_string(buf, n): receive buffers. */
%apply int *result { int *out_fd };
%native(buffer) int wl_l_buffer(lua_State *L);
%native(buffer_string) int wl_l_buffer_string(lua_State *L);

/* synchronisation (weft.h "synchronisation"): the awaits are requests a
 * task yields (see weft.lua); out-parameters come back second
 * (`rc, id = core.event_new(loop)`, `rc, n = core.queue_size(loop, q)`).
 * A queue's drop callback is a Lua function drop(item) held as a registry
 * ref (released by the hook, kind QUEUE); close and free run it. */
%apply int64_t *OUT_ID { weft_event_t *out, weft_semaphore_t *out, weft_lock_t *out,
                         int64_t *value, weft_task_t *owner, int64_t *size, int64_t *item };
%ignore weft_task_item;
%ignore weft_queue_new;
%ignore weft_queue_close;
%ignore weft_queue_free;
/* queue_new(loop, capacity, drop) -> rc, id; drop(item) per dropped item */
%rename(queue_new) wl_queue_new;
int wl_queue_new(lua_State *L, wl_loop *lp, int64_t capacity, WL_FUNC drop, int64_t *OUT_ID);
/* queue_close(loop, id, flags) -> rc; queue_free(loop, id) -> rc */
%rename(queue_close) wl_queue_close;
int wl_queue_close(wl_loop *lp, int64_t queue, int flags);
%rename(queue_free) wl_queue_free;
int wl_queue_free(wl_loop *lp, int64_t queue);

%init %{
  wl_init(L, lua_gettop(L));
  /* SWIG's runtime adds two helpers to the global table; a module should
   * not touch globals, so take them back out (only if they are ours). */
  lua_getglobal(L, "swig_type");
  if (lua_tocfunction(L, -1) == SWIG_Lua_type) { lua_pushnil(L); lua_setglobal(L, "swig_type"); }
  lua_pop(L, 1);
  lua_getglobal(L, "swig_equals");
  if (lua_tocfunction(L, -1) == SWIG_Lua_class_equal) { lua_pushnil(L); lua_setglobal(L, "swig_equals"); }
  lua_pop(L, 1);
%}
