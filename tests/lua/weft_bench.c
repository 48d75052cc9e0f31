/*
 * weft_bench.c -- test-only Lua C module for the Lua comparison
 * (examples/lua/compare.lua): what a benchmark needs and a user does not.
 * Built next to weft/core.so in the build tree (require "weft_bench"), never
 * installed.
 *
 *   weft_bench.mem_bytes()  -> bytes malloc has handed out in this process
 *   weft_bench.timer_start(loop, timeout_ns, repeat_ns) -> rc, id: a timer
 *       whose callback is C (it counts its fires), to measure the loop's own
 *       cost next to the same timer calling Lua
 *   weft_bench.fires()      -> fires of those timers so far (all loops)
 */
#include <malloc.h>

#include <lauxlib.h>
#include <lua.h>

#include "weft.h"

static int64_t wb_fires;

static void wb_timer_cb(weft_loop_t *loop, weft_timer_t id, void *ud) {
  (void)loop;
  (void)id;
  (void)ud;
  wb_fires++;
}

static int wb_mem_bytes(lua_State *L) {
  struct mallinfo2 mi = mallinfo2();
  lua_pushinteger(L, (lua_Integer)(mi.uordblks + mi.hblkhd));
  return 1;
}

static int wb_timer_start(lua_State *L) {
  /* the loop userdata starts with its weft_loop_t* (NULL once freed) */
  weft_loop_t *loop = *(weft_loop_t **)luaL_checkudata(L, 1, "weft.loop");
  int64_t timeout = luaL_checkinteger(L, 2), rep = luaL_checkinteger(L, 3);
  weft_timer_t id = 0;
  /* NULL user_data: the binding's release hook is never told of it */
  int rc = loop ? weft_timer_start(loop, timeout, rep, wb_timer_cb, NULL, &id) : WEFT_EINVAL;
  lua_pushinteger(L, rc);
  lua_pushinteger(L, id);
  return 2;
}

static int wb_fires_get(lua_State *L) {
  lua_pushinteger(L, wb_fires);
  return 1;
}

int luaopen_weft_bench(lua_State *L) {
  static const luaL_Reg fns[] = {{"mem_bytes", wb_mem_bytes},
                                 {"timer_start", wb_timer_start},
                                 {"fires", wb_fires_get},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
