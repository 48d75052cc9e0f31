-- create_cost.lua -- the fan-out creation cost under callgrind (test-only):
-- N waiters created and run to their first sleep, then exit; the
-- instruction count of N = 20000 minus that of N = 10000, divided by 10000,
-- is the cost of one waiter, start-up excluded. Repeatable on a loaded
-- machine, unlike wall time. From the source tree, with a build in ./build:
--
--   for n in 10000 20000; do LUA_PATH="bindings/lua/?.lua;;" \
--     LUA_CPATH="build/bindings/lua/?.so;;" valgrind --tool=callgrind \
--     --callgrind-out-file=/dev/null lua5.4 tests/lua/create_cost.lua weft $n \
--     2>&1 | grep Collected; done            # and the same with luv
local model, N = arg[1], tonumber(arg[2])
if model == "weft" then
  local weft = require "weft"
  local loop = assert(weft.loop())
  local function waiter() weft.sleep(0.1) end
  for _ = 1, N do loop:spawn(waiter) end
  loop:run("nowait")
  os.exit(0) -- leave the rest out
else
  local uv = require "luv"
  local function luv_sleep(ms)
    local co = coroutine.running()
    local t = uv.new_timer()
    t:start(ms, 0, function() t:close(); assert(coroutine.resume(co)) end)
    coroutine.yield()
  end
  local function waiter() luv_sleep(100) end
  for _ = 1, N do assert(coroutine.resume(coroutine.create(waiter))) end
  os.exit(0)
end
