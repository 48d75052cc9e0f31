#!/usr/bin/env lua5.4
-- sync.lua -- seed 004's two production patterns with weft's
-- synchronisation primitives, from Lua (examples/sync/sync.c is the C one;
-- the output lines are the same):
--
--  1. a producer hands work to a background writer through a bounded queue
--     (asyncio.Queue(maxsize=20)); the writer does its blocking write on the
--     thread pool (weft.to_thread); closing the queue is the end-of-stream
--     mark, like closing a Go channel;
--  2. 10,000 tasks "fetch" from one upstream, at most 50 at a time, through
--     a semaphore (asyncio.Semaphore(50)); the peak number of fetches in
--     flight is printed and checked.
--
-- Exits non-zero unless every check passes.
--
--   LUA_PATH="bindings/lua/?.lua;;" LUA_CPATH="build/bindings/lua/?.so;;" \
--     lua5.4 examples/lua/sync.lua
local weft = require "weft"

local ITEMS, QUEUE_CAPACITY = 100, 20
local FETCHES, MAX_IN_FLIGHT = 10000, 50

local function check(v, msg, code)
  if v == nil then
    io.stderr:write(("sync.lua: %s (%s)\n"):format(tostring(msg), tostring(code)))
    os.exit(1)
  end
  return v
end

-- Runs on a pool thread, in that thread's own Lua state (no upvalues): the
-- blocking write, appending one line to the file at `path`.
local function write_item(path, item)
  local f = assert(io.open(path, "a"))
  assert(f:write(("item %d\n"):format(item)))
  f:close()
  return true
end

-- 1. producer and writer
local function pipeline()
  local path = os.tmpname()
  local queue = check(weft.Queue(QUEUE_CAPACITY))
  local written, sum_written, peak_size = 0, 0, 0

  local writer = weft.spawn(function()
    while true do
      local item, msg, code = queue:get()
      if item == nil then
        if code == weft.ECLOSED then return 0 end -- closed and drained: done
        check(nil, "queue get: " .. tostring(msg), code)
      end
      check(weft.to_thread(write_item, path, item))
      written = written + 1
      sum_written = sum_written + item
    end
  end)
  local producer = weft.spawn(function()
    for i = 1, ITEMS do
      check(queue:put(i)) -- waits while the queue holds QUEUE_CAPACITY items
      peak_size = math.max(peak_size, check(queue:size()))
    end
    check(queue:close()) -- end of stream: the writer drains, then sees ECLOSED
  end)
  producer:result()
  local wr = writer:result()
  os.remove(path)
  queue:free()
  print(("writer: %d items written (sum %d), queue peak %d of %d"):format(written,
    sum_written, peak_size, QUEUE_CAPACITY))
  return wr == 0 and written == ITEMS and sum_written == ITEMS * (ITEMS + 1) // 2
    and peak_size <= QUEUE_CAPACITY and peak_size > 0
end

-- 2. bounded fetch
local function bounded_fetch()
  local sem = check(weft.Semaphore(MAX_IN_FLIGHT, { bounded = true }))
  local in_flight, peak, done = 0, 0, 0
  local function fetch()
    check(sem:with(function() -- async with sem:
      in_flight = in_flight + 1
      if in_flight > peak then peak = in_flight end
      weft.sleep(0.001) -- the upstream takes 1 ms
      in_flight = in_flight - 1
      done = done + 1
      return true
    end))
  end
  local tasks = {}
  for i = 1, FETCHES do tasks[i] = check(weft.spawn(fetch)) end
  check(weft.gather(tasks))
  local left = check(sem:value())
  sem:free()
  print(("fetch: %d of %d done, peak in flight %d (limit %d), permits back %d"):format(done,
    FETCHES, peak, MAX_IN_FLIGHT, left))
  return done == FETCHES and peak == MAX_IN_FLIGHT and left == MAX_IN_FLIGHT
end

local ok = weft.run(function()
  local pipeline_ok = pipeline()
  local fetch_ok = bounded_fetch()
  return pipeline_ok and fetch_ok
end)
if not ok then
  print("FAILED")
  os.exit(1)
end
print("all checks passed")
