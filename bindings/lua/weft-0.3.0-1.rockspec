-- LuaRocks package of weft's Lua binding. It builds the Lua module only,
-- against an installed libweft (cmake --install of the weft tree, or a
-- distribution package): luarocks finds weft.h and libweft through
-- WEFT_DIR / WEFT_INCDIR / WEFT_LIBDIR, e.g.
--   luarocks make weft-0.3.0-1.rockspec WEFT_DIR=/usr/local
-- (run in bindings/lua). Needs SWIG 4 and CMake >= 3.20 at build time.
rockspec_format = "3.0"
package = "weft"
version = "0.3.0-1"

source = {
  url = "git+https://example.invalid/weft.git",
  tag = "v0.3.0",
  dir = "weft/bindings/lua",
}

description = {
  summary = "asyncio-style tasks for Lua 5.4 on the weft event loop",
  detailed = [[
Tasks are Lua coroutines resumed by weft's C loop: weft.run, weft.spawn,
weft.sleep, weft.readable/writable, weft.gather, weft.timeout, cancellation
as a catchable error, weft.to_thread (a chunk on the thread pool), timers
and fd watches in callback style, and small socket helpers.
]],
  homepage = "https://example.invalid/weft",
  license = "MIT",
}

dependencies = {
  "lua >= 5.4, < 5.5",
}

external_dependencies = {
  WEFT = { header = "weft.h", library = "weft" },
}

build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    LUA_INCDIR = "$(LUA_INCDIR)",
    WEFT_INCDIR = "$(WEFT_INCDIR)",
    WEFT_LIBDIR = "$(WEFT_LIBDIR)",
    WEFT_LUA_LMOD_DIR = "$(LUADIR)",
    WEFT_LUA_CMOD_DIR = "$(LIBDIR)",
  },
}
