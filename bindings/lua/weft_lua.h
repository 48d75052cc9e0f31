/*
 * weft_lua.h -- what the SWIG wrapper (weft.i, Lua section weft_lua.i) and
 * weft_lua.c share: the functions of weft_lua.c that stand in for weft.h's
 * where a Lua value crosses into C. Internal; the Lua interface is
 * documented in weft.lua (LDoc) and bindings/lua/README.md.
 */
#ifndef WEFT_LUA_H
#define WEFT_LUA_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "weft.h"

/* Stack index of a Lua function argument; WL_OPTFUNC: function or nil (0). */
typedef int WL_FUNC;
typedef int WL_OPTFUNC;
/* The binding's loop (a full userdata whose first field is the
 * weft_loop_t*, NULL once freed) and a to_thread job. */
typedef struct wl_loop wl_loop;
typedef struct wl_job wl_job;

/* wrapped by SWIG (see weft_lua.i for their Lua names) */
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
int wl_queue_new(lua_State *L, wl_loop *lp, int64_t capacity, WL_FUNC drop, int64_t *OUT_ID);
int wl_queue_close(lua_State *L, wl_loop *lp, int64_t queue, int flags);
int wl_queue_free(lua_State *L, wl_loop *lp, int64_t queue);

/* lua_CFunctions (SWIG %native) */
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
int wl_l_buffer(lua_State *L);
int wl_l_buffer_string(lua_State *L);

/* used by the typemaps and the module's init */
wl_loop *wl_checkloop(lua_State *L, int idx);
weft_loop_t *wl_loop_of(lua_State *L, int idx);
wl_job *wl_checkjob(lua_State *L, int idx);
int wl_isfuncornil(lua_State *L, int idx);
lua_Integer wl_checkint(lua_State *L, int idx, lua_Integer lo, lua_Integer hi);
int64_t wl_checkint64(lua_State *L, int idx);
void wl_push_stats(lua_State *L, const weft_loop_stats_t *st);
void wl_init(lua_State *L, int mod); /* the module table is at mod */

#endif /* WEFT_LUA_H */
