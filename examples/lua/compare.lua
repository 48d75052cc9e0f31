#!/usr/bin/env lua5.4
--[[
compare.lua -- weft's Lua binding next to luv (libuv for Lua), same work.

  cmake --build build --target compare-lua            # full run
  ctest --test-dir build -R lua.compare_quick -V      # quick run (a test)
  # or by hand, from the source tree, with a build in ./build:
  LUA_PATH="bindings/lua/?.lua;;" LUA_CPATH="build/bindings/lua/?.so;;" \
    lua5.4 examples/lua/compare.lua [--quick] [--only=fanout,switch,pingpong,crossing]

Models:
  weft coroutines   weft.spawn tasks (Lua coroutines resumed by the weft loop)
  weft callbacks    weft timers / fd watches calling Lua functions
  luv callbacks     luv (Debian lua-luv) timers / polls calling Lua functions
  luv coroutines    coroutines on top of luv, luvit style: a callback resumes
                    the coroutine that waits (a timer per sleep, one poll per
                    fd kept started, an idle handle draining a run queue)

Workloads:
  fan-out sleep   N waiters each sleep D; creation time per waiter (until it
                  waits: for coroutines spawn + first step up to the sleep),
                  memory per waiter (malloc'd bytes, Lua heap included,
                  measured while all wait),
                  wall time for all (about D when the model is concurrent)
  switch          two coroutines hand the turn back and forth through the loop;
                  and a hand-off: two weft tasks bounce a value through two
                  weft.Queue(1) (one each way), so every get waits for the
                  other task's put; ns per hand-off
  fd ping-pong    P socketpairs, a 1-byte message bounced K times over each;
                  throughput in messages per second (same read/write helpers
                  for every model: only the waiting differs)
  crossing        the cost of one C->Lua callback: K repeating weft timers fire
                  every iteration, once calling a Lua function and once a C
                  function, in the same loop; (time_lua - time_c) / fires is
                  what crossing into Lua adds (registry lookup, lua_pcall, the
                  call of an empty-ish function, returning). Best of R runs.

Figures are ratios of things measured side by side in one run; re-measure on a
quiet machine. Nothing here asserts timing.
]]

local weft = require "weft"
local core = weft.core
-- test-only helpers (malloc'd bytes, a timer with a C callback), built next
-- to weft/core.so in the build tree and never installed
local bench = require "weft_bench"
local has_luv, uv = pcall(require, "luv")

local quick, only = false, nil
for _, a in ipairs(arg or {}) do
  if a == "--quick" then
    quick = true
  elseif a:match("^%-%-only=") then
    only = {}
    for w in a:sub(8):gmatch("[^,]+") do only[w] = true end
  else
    io.stderr:write("usage: compare.lua [--quick] [--only=fanout,switch,pingpong,crossing]\n")
    os.exit(2)
  end
end
local function want(section) return not only or only[section] end

local clock, mem = weft.clock_ns, bench.mem_bytes
local read, write, readable = core.read, core.write, weft.readable
local function gc() collectgarbage(); collectgarbage() end

-- Memory while all wait: a full GC (so only live objects count), then the
-- malloc'd bytes. Returns the bytes and the time the pause took, which the
-- wall time leaves out.
local function measure_mem()
  local p0 = clock()
  gc()
  local m = mem()
  return m, clock() - p0
end

local CFG = quick and {
  fanout = { 1000 }, sleep_ms = 20,
  switches = 20000,
  pingpong = { { 10, 200 } },
  cross_k = 200, cross_m = 200, cross_r = 3,
} or {
  fanout = { 10000, 100000 }, sleep_ms = 100,
  switches = 500000,
  pingpong = { { 1, 20000 }, { 100, 1000 }, { 1000, 100 } },
  cross_k = 1000, cross_m = 1000, cross_r = 7,
}

local function fmt_ns(ns)
  if ns >= 1e6 then return ("%.2f ms"):format(ns / 1e6) end
  if ns >= 1e3 then return ("%.2f us"):format(ns / 1e3) end
  return ("%.1f ns"):format(ns)
end

local function fmt_bytes(b)
  if b >= 1024 then return ("%.2f KiB"):format(b / 1024) end
  return ("%d B"):format(math.floor(b + 0.5))
end

local function row(cols, widths)
  local out = {}
  for i, c in ipairs(cols) do out[i] = ("%-" .. widths[i] .. "s"):format(tostring(c)) end
  print(table.concat(out, "  "))
end

-- ----------------------------------------------------------- fan-out sleep

local function fanout_weft(N, ms)
  local loop = assert(weft.loop())
  local done = 0
  local secs = ms / 1000
  local function waiter()
    weft.sleep(secs)
    done = done + 1
  end
  gc()
  local m0, t0 = mem(), clock()
  for _ = 1, N do loop:spawn(waiter) end
  loop:run("nowait") -- every waiter runs its first step and is asleep now
  local t1 = clock()
  local m1, pause = measure_mem()
  loop:run()
  local t2 = clock()
  loop:close()
  assert(done == N)
  return (t1 - t0) / N, (m1 - m0) / N, (t2 - t0 - pause) / 1e6
end

local function fanout_weft_cb(N, ms)
  local loop = assert(weft.loop())
  local done = 0
  local function fired() done = done + 1 end
  gc()
  local m0, t0 = mem(), clock()
  for _ = 1, N do loop:timer(ms / 1000, fired) end
  local t1 = clock()
  local m1, pause = measure_mem()
  loop:run()
  local t2 = clock()
  loop:close()
  assert(done == N)
  return (t1 - t0) / N, (m1 - m0) / N, (t2 - t0 - pause) / 1e6
end

local function fanout_luv_cb(N, ms)
  local done = 0
  gc()
  uv.update_time() -- luv timers count from the loop's cached clock
  local m0, t0 = mem(), clock()
  for _ = 1, N do
    local t = uv.new_timer()
    t:start(ms, 0, function()
      t:close()
      done = done + 1
    end)
  end
  local t1 = clock()
  local m1, pause = measure_mem()
  uv.run()
  local t2 = clock()
  assert(done == N)
  return (t1 - t0) / N, (m1 - m0) / N, (t2 - t0 - pause) / 1e6
end

-- luvit-style sleep: a timer whose callback resumes the sleeping coroutine
local function luv_sleep(ms)
  local co = coroutine.running()
  local t = uv.new_timer()
  t:start(ms, 0, function()
    t:close()
    assert(coroutine.resume(co))
  end)
  coroutine.yield()
end

local function fanout_luv_co(N, ms)
  local done = 0
  local function waiter()
    luv_sleep(ms)
    done = done + 1
  end
  gc()
  uv.update_time()
  local m0, t0 = mem(), clock()
  for _ = 1, N do assert(coroutine.resume(coroutine.create(waiter))) end
  local t1 = clock()
  local m1, pause = measure_mem()
  uv.run()
  local t2 = clock()
  assert(done == N)
  return (t1 - t0) / N, (m1 - m0) / N, (t2 - t0 - pause) / 1e6
end

-- ----------------------------------------------------------------- switch

local function switch_weft(M)
  local loop = assert(weft.loop())
  local function party()
    for _ = 1, M do weft.yield() end
  end
  loop:spawn(party)
  loop:spawn(party)
  local t0 = clock()
  loop:run()
  local t1 = clock()
  loop:close()
  return (t1 - t0) / (2 * M)
end

-- Task<->task hand-off: A puts into `ping` and gets from `pong`, B the other
-- way round; each value crosses one queue of capacity 1, 2*M hand-offs.
local function handoff_weft(M)
  local loop = assert(weft.loop())
  local got = 0
  loop:spawn(function()
    local ping, pong = weft.Queue(1), weft.Queue(1)
    weft.spawn(function()
      for _ = 1, M do
        local v = ping:get()
        pong:put(v)
      end
    end)
    for i = 1, M do
      ping:put(i)
      if pong:get() == i then got = got + 1 end
    end
  end)
  local t0 = clock()
  loop:run()
  local t1 = clock()
  loop:close()
  assert(got == M, "every value comes back")
  return (t1 - t0) / (2 * M)
end

local function switch_luv_co(M)
  local q, qn, q2 = {}, 0, {}
  local alive = 2
  local idle = uv.new_idle()
  local function yield_to_loop()
    qn = qn + 1
    q[qn] = coroutine.running()
    coroutine.yield()
  end
  idle:start(function()
    local cur, n = q, qn
    q, q2, qn = q2, cur, 0
    for i = 1, n do
      assert(coroutine.resume(cur[i]))
      cur[i] = nil
    end
    if alive == 0 then
      idle:stop()
      idle:close()
    end
  end)
  local function party()
    for _ = 1, M do yield_to_loop() end
    alive = alive - 1
  end
  local t0 = clock()
  assert(coroutine.resume(coroutine.create(party)))
  assert(coroutine.resume(coroutine.create(party)))
  uv.run()
  local t1 = clock()
  return (t1 - t0) / (2 * M)
end

-- ----------------------------------------------------------- fd ping-pong

local function pairs_open(P)
  local fds = {}
  for i = 1, P do
    local a, b = assert(core.socketpair())
    fds[i] = { a, b }
  end
  return fds
end

local function pairs_close(fds)
  for _, p in ipairs(fds) do core.close(p[1]); core.close(p[2]) end
end

local function pingpong_weft(P, K)
  local loop = assert(weft.loop())
  local fds = pairs_open(P)
  for _, p in ipairs(fds) do
    local a, b = p[1], p[2]
    loop:spawn(function()
      for _ = 1, K do
        write(a, "x")
        readable(a)
        read(a, 1)
      end
    end)
    loop:spawn(function()
      for _ = 1, K do
        readable(b)
        read(b, 1)
        write(b, "x")
      end
    end)
  end
  local t0 = clock()
  loop:run()
  local t1 = clock()
  loop:close()
  pairs_close(fds)
  return t1 - t0
end

local function pingpong_weft_cb(P, K)
  local loop = assert(weft.loop())
  local fds = pairs_open(P)
  for _, p in ipairs(fds) do
    local a, b = p[1], p[2]
    local na, nb = 0, 0
    local wa, wb
    wa = loop:watch(a, "r", function()
      read(a, 1)
      na = na + 1
      if na == K then wa:stop() else write(a, "x") end
    end)
    wb = loop:watch(b, "r", function()
      read(b, 1)
      write(b, "x")
      nb = nb + 1
      if nb == K then wb:stop() end
    end)
    write(a, "x")
  end
  local t0 = clock()
  loop:run()
  local t1 = clock()
  loop:close()
  pairs_close(fds)
  return t1 - t0
end

local function pingpong_luv_cb(P, K)
  local fds = pairs_open(P)
  for _, p in ipairs(fds) do
    local a, b = p[1], p[2]
    local na, nb = 0, 0
    local pa, pb = uv.new_poll(a), uv.new_poll(b)
    pa:start("r", function()
      read(a, 1)
      na = na + 1
      if na == K then pa:stop(); pa:close() else write(a, "x") end
    end)
    pb:start("r", function()
      read(b, 1)
      write(b, "x")
      nb = nb + 1
      if nb == K then pb:stop(); pb:close() end
    end)
    write(a, "x")
  end
  local t0 = clock()
  uv.run()
  local t1 = clock()
  pairs_close(fds)
  return t1 - t0
end

-- luvit style: one poll per fd, started once; its callback resumes the
-- coroutine waiting on the fd (if any).
local function pingpong_luv_co(P, K)
  local fds = pairs_open(P)
  local waiting, polls = {}, {}
  local function luv_readable(fd)
    waiting[fd] = coroutine.running()
    coroutine.yield()
  end
  local function watch(fd)
    local p = uv.new_poll(fd)
    polls[#polls + 1] = p
    p:start("r", function()
      local co = waiting[fd]
      if co then
        waiting[fd] = nil
        assert(coroutine.resume(co))
      end
    end)
  end
  local left = 2 * P
  local function finished()
    left = left - 1
    if left == 0 then
      for _, p in ipairs(polls) do p:stop(); p:close() end
    end
  end
  local t0 = clock()
  for _, p in ipairs(fds) do
    local a, b = p[1], p[2]
    watch(a); watch(b)
    assert(coroutine.resume(coroutine.create(function()
      for _ = 1, K do
        write(a, "x")
        luv_readable(a)
        read(a, 1)
      end
      finished()
    end)))
    assert(coroutine.resume(coroutine.create(function()
      for _ = 1, K do
        luv_readable(b)
        read(b, 1)
        write(b, "x")
      end
      finished()
    end)))
  end
  uv.run()
  local t1 = clock()
  pairs_close(fds)
  return t1 - t0
end

-- --------------------------------------------------------------- crossing

-- K repeating timers (period 1 ns: every one is due in every iteration),
-- M iterations in NOWAIT mode; returns ns per timer fire.
local function cross_weft(K, M, lua_cb)
  local loop = assert(weft.loop())
  local n = 0
  local function cb() n = n + 1 end
  for _ = 1, K do
    local rc
    if lua_cb then
      rc = core.timer_start(loop, 0, 1, cb)
    else
      rc = bench.timer_start(loop, 0, 1)
    end
    assert(rc == 0)
  end
  local run, NOWAIT = core.loop_run, core.RUN_NOWAIT
  run(loop, NOWAIT) -- warm up
  local fires0 = lua_cb and n or bench.fires()
  local t0 = clock()
  for _ = 1, M do run(loop, NOWAIT) end
  local t1 = clock()
  local fires = (lua_cb and n or bench.fires()) - fires0
  core.loop_free(loop)
  assert(fires == K * M, "every timer fires once per iteration")
  return (t1 - t0) / fires
end

local function cross_luv(K, M)
  local n = 0
  local function cb() n = n + 1 end
  local hs = {}
  for i = 1, K do
    hs[i] = uv.new_check()
    hs[i]:start(cb)
  end
  uv.run("nowait")
  local n0, t0 = n, clock()
  for _ = 1, M do uv.run("nowait") end
  local t1 = clock()
  local fires = n - n0
  for _, h in ipairs(hs) do h:stop(); h:close() end
  uv.run("nowait")
  -- the same iterations with no handle, to subtract the loop's own cost
  local e0 = clock()
  for _ = 1, M do uv.run("nowait") end
  local e1 = clock()
  return ((t1 - t0) - (e1 - e0)) / fires
end

-- ------------------------------------------------------------------- main

local function best(r, f, ...)
  local b = math.huge
  for _ = 1, r do
    local v = f(...)
    if v < b then b = v end
  end
  return b
end

print(("weft %s Lua binding vs %s, %s, %s mode"):format(weft.version_string,
  has_luv and ("luv " .. uv.version_string()) or "no luv", _VERSION, quick and "quick" or "full"))
if not has_luv then print("(luv not found: apt-get install lua-luv; luv rows skipped)") end
print()

local W1 = { 16, 8, 14, 12, 11 }
if want("fanout") then
print(("fan-out sleep: N waiters each sleep %d ms"):format(CFG.sleep_ms))
row({ "model", "N", "create/waiter", "mem/waiter", "wall" }, W1)
for _, N in ipairs(CFG.fanout) do
  local models = {
    { "weft coroutines", fanout_weft },
    { "weft callbacks", fanout_weft_cb },
  }
  if has_luv then
    models[#models + 1] = { "luv callbacks", fanout_luv_cb }
    models[#models + 1] = { "luv coroutines", fanout_luv_co }
  end
  for _, m in ipairs(models) do
    -- warm up at the same N: every model then runs on a heap (and weft on
    -- task pools) already grown to N, so page faults of first growth do
    -- not land on whichever model happens to run first
    m[2](N, 1)
    local c, b, w = m[2](N, CFG.sleep_ms)
    row({ m[1], N, fmt_ns(c), fmt_bytes(b), ("%.1f ms"):format(w) }, W1)
  end
end
print()
end

local W2 = { 16, 10, 12 }
if want("switch") then
print("switch: two coroutines hand the turn back and forth through the loop")
row({ "model", "switches", "per switch" }, W2)
do
  local M = CFG.switches
  row({ "weft coroutines", 2 * M, fmt_ns(best(3, switch_weft, M)) }, W2)
  if has_luv then
    row({ "luv coroutines", 2 * M, fmt_ns(best(3, switch_luv_co, M)) }, W2)
  end
  row({ "weft Queue(1)", 2 * M, fmt_ns(best(3, handoff_weft, M)) .. " (task<->task hand-off)" }, W2)
end
print()
end

local W3 = { 16, 6, 7, 14, 13 }
if want("pingpong") then
print("fd ping-pong: P socketpairs, a 1-byte message bounced K times over each")
row({ "model", "P", "K", "messages/s", "per message" }, W3)
for _, pk in ipairs(CFG.pingpong) do
  local P, K = pk[1], pk[2]
  local msgs = 2 * P * K
  local models = {
    { "weft coroutines", pingpong_weft },
    { "weft callbacks", pingpong_weft_cb },
  }
  if has_luv then
    models[#models + 1] = { "luv callbacks", pingpong_luv_cb }
    models[#models + 1] = { "luv coroutines", pingpong_luv_co }
  end
  for _, m in ipairs(models) do
    m[2](math.min(P, 10), 10) -- warm up
    local ns = m[2](P, K)
    row({ m[1], P, K, ("%.0f"):format(msgs / (ns / 1e9)), fmt_ns(ns / msgs) }, W3)
  end
end
print()
end

if want("crossing") then
  local K, M, R = CFG.cross_k, CFG.cross_m, CFG.cross_r
  print(("C->Lua crossing: %d repeating timers x %d iterations, best of %d"):format(K, M, R))
  local c_best, lua_best = math.huge, math.huge
  for _ = 1, R do -- interleaved, so drift hits both alike
    c_best = math.min(c_best, cross_weft(K, M, false))
    lua_best = math.min(lua_best, cross_weft(K, M, true))
  end
  print(("  weft timer, C callback:    %s per fire"):format(fmt_ns(c_best)))
  print(("  weft timer, Lua callback:  %s per fire"):format(fmt_ns(lua_best)))
  local crossing = lua_best - c_best
  print(("  crossing C->Lua:           %s per callback (target <= 50 ns: %s)"):format(
    fmt_ns(crossing), crossing <= 50 and "met" or "NOT met"))
  if has_luv then
    local l = best(R, cross_luv, K, M)
    print(("  luv check handle, Lua cb:  %s per callback (minus the empty loop;"):format(fmt_ns(l)))
    print("                             luv's own dispatch included, no C baseline)")
  end
end
