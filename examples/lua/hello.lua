#!/usr/bin/env lua5.4
-- hello.lua -- weft from Lua in one page: tasks, gather, a timeout,
-- cancellation, a job on the thread pool, and a timer in callback style.
--
--   LUA_PATH="bindings/lua/?.lua;;" LUA_CPATH="build/bindings/lua/?.so;;" \
--     lua5.4 examples/lua/hello.lua
local weft = require "weft"

local function fetch(name, seconds)
  weft.sleep(seconds) -- suspends this task only
  return name .. " after " .. seconds .. " s"
end

print(weft.run(function()
  local t0 = weft.now()

  -- three tasks sleep at once: about 0.03 s in all, not 0.06 s
  local r = weft.gather(
    weft.spawn(fetch, "a", 0.01),
    weft.spawn(fetch, "b", 0.02),
    weft.spawn(fetch, "c", 0.03))
  print(r[1], r[2], r[3], ("(%.3f s)"):format(weft.now() - t0))

  -- a deadline: nil, message, code when it passes
  print("timeout:", weft.timeout(0.01, fetch, "slow", 10))

  -- cancellation raises weft.Cancelled at the await; the task may clean up
  local t = weft.spawn(function()
    local ok, err = pcall(weft.sleep, 10)
    if err == weft.Cancelled then return "cleaned up after cancel" end
    return ok
  end)
  weft.sleep(0.001)
  t:cancel()
  print("cancel:", t:result())

  -- blocking work runs on the pool, in a Lua state of its own
  print("to_thread:", weft.to_thread(function(n)
    local s = 0
    for i = 1, n do s = s + i end
    return s
  end, 1000000))

  -- callback style: a repeating timer that stops itself
  local ticks, timer = 0, nil
  timer = weft.timer(0, 0.001, function()
    ticks = ticks + 1
    if ticks == 3 then timer:stop() end
  end)
  weft.sleep(0.01)
  print("ticks:", ticks)
  return "done"
end))
