-- Ownership: weft's release hook lets go of every Lua value exactly once, in
-- every ending; objects own their ids until collected; dropped loops are
-- collected; and the fixes of issue 12 (gather of a list, clear errors
-- outside a task, weft.clock).
local weft = require "weft"
local core = require "weft.core"
local H = require "helper"

local function full_gc()
  collectgarbage(); collectgarbage()
end

-- Every user_data the loop handed weft of `kind` was let go once: as many
-- hook calls as handles, none left.
local function all_released(loop, kind, n)
  assert.are.equal(0, core.live(loop, kind))
  assert.are.equal(n, core.released(loop, kind))
end

describe("the release hook", function()
  it("lets go of each callback once: fired, stopped, stopped inside, run", function()
    local before = H.registry_refs()
    local loop = assert(weft.loop())
    local fired, ticks, posts = 0, 0, 0
    for _ = 1, 10 do loop:timer(0, function() fired = fired + 1 end) end     -- one-shot, fired
    for _ = 1, 10 do assert(loop:timer(3600, function() end):stop()) end     -- stopped
    local rep
    rep = loop:timer(0, 0.001, function()                                      -- stopped inside
      ticks = ticks + 1
      if ticks == 3 then assert(rep:stop()) end
    end)
    for _ = 1, 10 do loop:post(function() posts = posts + 1 end) end         -- run
    local a, b = weft.socketpair()
    for _ = 1, 10 do assert(loop:watch(a, "w", function() end):stop()) end   -- watch stopped
    local w
    w = loop:watch(a, "w", function() w:stop() end)                            -- stopped inside
    assert.is_false(loop:run())
    assert.are.same({ 10, 3, 10 }, { fired, ticks, posts })
    all_released(loop, core.KIND_TIMER, 21)
    all_released(loop, core.KIND_POST, 10)
    all_released(loop, core.KIND_FD_WATCH, 11)
    assert.are.equal(0, core.refs(loop))
    loop:close()
    weft.close(a); weft.close(b)
    assert.are.equal(before, H.registry_refs())
  end)

  it("lets go of work once: delivered, cancelled, awaited, orphaned at free", function()
    local before = H.registry_refs()
    local loop = assert(weft.loop({ thread_pool_size = 1 }))
    local r, w = weft.pipe(false)
    local dones = 0
    -- blocks the one pool thread until the loop writes to the pipe
    local blocker = loop:spawn(weft.to_thread, function(fd)
      return require("weft.core").read(fd, 1)
    end, r)
    loop:run("nowait") -- the blocker's job is queued first (the pool is FIFO)
    local queued = loop:work(function() dones = dones + 1 end, function() return 1 end)
    local awaiting = loop:spawn(weft.to_thread, function() return 2 end) -- queued too
    loop:run("nowait")
    assert.is_true(queued:cancel())   -- taken back before a thread started it
    assert.is_true(awaiting:cancel()) -- likewise, through the task
    weft.write(w, "x")
    assert.is_false(loop:run())
    assert.are.equal("x", blocker:result())
    assert.is_true(awaiting:cancelled())
    assert.are.equal(1, dones)
    all_released(loop, core.KIND_WORK, 3)
    -- orphaned: the loop is freed while the work still runs; the job is let
    -- go when the work really ends, during the free
    loop:spawn(weft.to_thread, function(fd) return require("weft.core").read(fd, 1) end, r)
    loop:run("nowait")
    loop:run("nowait")
    weft.write(w, "y") -- lets the work end while close waits for it
    assert.is_true(loop:close())
    assert.are.equal(4, core.released(loop, core.KIND_WORK))
    weft.close(r); weft.close(w)
    blocker, queued, awaiting = nil, nil, nil
    assert.are.equal(before, H.registry_refs())
  end)

  it("lets go of every task once: collected early, collected late, at free", function()
    local before = H.registry_refs()
    local loop = assert(weft.loop())
    local kept = {}
    for i = 1, 50 do
      loop:spawn(function() weft.sleep(0) end)                  -- dropped while it runs
      kept[i] = loop:spawn(function() return i end)             -- held past its end
      loop:spawn(function() weft.sleep(3600) end)               -- dropped, never ends by itself
    end
    full_gc() -- the loop holds its unfinished tasks: none is collected
    assert.are.equal(0, core.refs(loop))
    assert.are.equal(0, core.released(loop, core.KIND_TASK))
    assert.are.equal(150, core.live(loop, core.KIND_TASK))
    assert.is_true(loop:run("nowait"))
    loop:run("nowait")
    full_gc()
    -- the first 50 ended, were collected and let go; the loop still holds
    -- the 50 sleepers (without a registry ref)
    assert.are.equal(50, core.released(loop, core.KIND_TASK))
    assert.are.equal(0, core.refs(loop))
    for i = 1, 50 do assert.are.equal(i, kept[i]:result()) end
    kept = nil
    full_gc()
    assert.are.equal(100, core.released(loop, core.KIND_TASK))
    assert.is_true(loop:close()) -- cancels the sleepers, lets go of them
    all_released(loop, core.KIND_TASK, 150)
    assert.are.equal(0, core.refs(loop))
    assert.are.equal(before, H.registry_refs())
  end)

  it("lets go at free of tasks whose objects are still held", function()
    local loop = assert(weft.loop())
    local t = loop:spawn(function() return 1 end)
    local u = loop:spawn(function() weft.sleep(3600) end)
    assert.is_true(loop:run("nowait"))
    assert.is_true(loop:close())
    all_released(loop, core.KIND_TASK, 2)
    assert.are.equal(1, t:result())
    assert.is_true(u:cancelled())
    full_gc() -- collecting them later releases nothing twice
    assert.are.equal(2, core.released(loop, core.KIND_TASK))
  end)
end)

describe("a dropped loop", function()
  local function fds()
    local n = 0
    for _ in io.popen("ls /proc/self/fd"):lines() do n = n + 1 end
    return n
  end

  it("is closed by the collector, also with live tasks, timers and watches", function()
    local before, fd0 = H.registry_refs(), fds()
    local cleaned = 0
    local a, b = weft.socketpair()
    local weak = setmetatable({}, { __mode = "v" })
    for i = 1, 100 do
      local loop = assert(weft.loop())
      loop:spawn(function()
        local ok, err = pcall(weft.sleep, 3600)
        if not ok and err == weft.Cancelled then cleaned = cleaned + 1 end
      end)
      loop:spawn(weft.readable, a)
      loop:timer(3600, 1, function() end)
      loop:watch(a, "r", function() end)
      loop:post(function() end)
      assert.is_true(loop:run("nowait"))
      weak[i] = loop
    end
    full_gc()
    full_gc()
    assert.is_nil(next(weak))
    assert.are.equal(100, cleaned) -- every task got its cancellation
    weft.close(a); weft.close(b)
    assert.are.equal(fd0, fds())
    assert.are.equal(before, H.registry_refs())
  end)

  it("is not kept alive by tasks, also when one awaits another", function()
    local weak = setmetatable({}, { __mode = "v" })
    local held, child
    do
      local loop = assert(weft.loop())
      weak[1] = loop
      held = loop:spawn(function() return weft.gather({ weft.spawn(weft.sleep, 3600) },
                                                      { cancel_on_error = true }) end)
      child = loop:spawn(function() weft.sleep(3600) end)
      loop:spawn(function() return child:result() end) -- dropped, awaits child
      assert.is_true(loop:run("nowait"))
    end
    full_gc()
    assert.is_nil(weak[1]) -- collected and closed: its tasks were cancelled
    assert.is_true(held:done())
    assert.are.equal(weft.ECANCELED, select(3, held:result()))
    assert.is_true(child:cancelled())
  end)

  it("stays alive while held, for the tasks spawned on it", function()
    local loop = assert(weft.loop())
    local t = loop:spawn(function() return "kept" end)
    full_gc()
    assert.is_false(loop:run())
    assert.are.equal("kept", t:result())
    loop:close()
  end)
end)

describe("random endings and collections", function()
  it("leave no registry ref behind and no loop alive", function()
    local before = H.registry_refs()
    local loops = setmetatable({}, { __mode = "v" })
    local saved = weft.on_error
    weft.on_error = function() end
    for seed = 1, 3 do
      math.randomseed(seed)
      for round = 1, 20 do
        local loop = weft.loop({ thread_pool_size = 2 })
        loops[#loops + 1] = loop
        local keep = {}
        for i = 1, 40 do
          local r, t = math.random(8), nil
          if r == 1 then t = loop:spawn(weft.sleep, math.random() * 0.002)
          elseif r == 2 then t = loop:spawn(function() weft.yield(); error("e") end)
          elseif r == 3 then t = loop:spawn(weft.to_thread, function(x) return x end, i)
          elseif r == 4 then
            t = loop:spawn(function()
              return weft.gather({ weft.spawn(weft.sleep, 0.001) }, { cancel_on_error = true })
            end)
          elseif r == 5 then loop:timer(math.random() * 0.001, function() collectgarbage() end)
          elseif r == 6 then loop:post(function() collectgarbage("step") end)
          elseif r == 7 then t = loop:spawn(function() return weft.current() end)
          else loop:work(nil, "return 1") end
          if t and math.random(2) == 1 then keep[#keep + 1] = t end
          if t and math.random(4) == 1 then t:cancel() end
        end
        local mode = math.random(3) -- run to the end; close early; drop it running
        if mode == 1 then loop:run() elseif mode == 2 then loop:run("nowait"); loop:close()
        else loop:run("nowait") end
        if math.random(2) == 1 then collectgarbage() end
      end
    end
    weft.on_error = saved
    assert.are.equal(before, H.registry_refs())
    assert.is_nil(next(loops))
  end)
end)

describe("cancelling a long-finished task", function()
  it("through its object reaches nothing else", function()
    weft.run(function()
      local old = weft.spawn(function() return 1 end)
      weft.yield(); weft.yield()
      assert.is_true(old:done())
      local others = {}
      for round = 1, 20 do -- new tasks take the slots old ones left
        for i = 1, 50 do others[#others + 1] = weft.spawn(weft.sleep, 0.001 * (round % 3)) end
        full_gc()
        assert.is_true(old:cancel())
      end
      weft.gather(others)
      for _, t in ipairs(others) do assert.is_false(t:cancelled()) end
      assert.is_false(old:cancelled())
    end)
  end)

  it("through its raw id, once released, is stale and reaches nothing else", function()
    local loop = assert(weft.loop())
    local old = loop:spawn(function() return 1 end)
    assert.is_false(loop:run())
    local id = old:id()
    old = nil
    full_gc() -- the object released the id
    local others, hit = {}, 0
    for round = 1, 40 do
      for i = 1, 100 do others[i] = loop:spawn(weft.sleep, 0) end
      local rc = core.task_cancel(loop, id)
      if rc ~= core.ESTALE then hit = hit + 1 end
      assert.is_false(loop:run())
      for i = 1, 100 do
        if others[i]:cancelled() then hit = hit + 1 end
      end
      others = {}
      full_gc()
    end
    assert.are.equal(0, hit)
    loop:close()
  end)
end)

describe("weft.gather", function()
  it("accepts a list of tasks and functions, with options after it", function()
    weft.run(function()
      local list = {}
      for i = 1, 5 do list[i] = weft.spawn(function() weft.sleep(0.001); return i end) end
      list[6] = function() return 6 end
      local r = weft.gather(list)
      assert.are.same({ 1, 2, 3, 4, 5, 6, n = 6 }, r)
      assert.is_nil(rawget(list, "n")) -- the caller's list is not touched
      local bad, err = weft.gather({ weft.spawn(function() error("x") end),
                                     weft.spawn(weft.sleep, 5) }, { cancel_on_error = true })
      assert.is_nil(bad)
      assert.matches("x", err)
    end)
  end)

  it("raises a clear error for what is not a list or a task", function()
    weft.run(function()
      assert.has_error(function() weft.gather({ 1, 2 }) end,
        "weft.gather: list item 1 is not a task or function")
      assert.has_error(function() weft.gather({ weft.spawn(weft.yield) }, 5) end)
      assert.has_error(function() weft.gather(1) end,
        "weft.gather: argument 1 is not a task or function")
    end)
  end)
end)

describe("functions that suspend", function()
  it("say what is wrong when called outside a task", function()
    local expect = "not inside a task"
    for _, f in ipairs {
      function() weft.sleep(0) end, function() weft.yield() end,
      function() weft.readable(0) end, function() weft.gather() end,
      function() weft.timeout(1, print) end, function() weft.to_thread("return 1") end,
      function() weft.current() end,
    } do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches(expect, err, 1, true)
    end
    local ok, err = pcall(weft.sleep, 0)
    assert.is_false(ok)
    assert.matches("weft.sleep: not inside a task", err, 1, true)
  end)
end)

describe("weft.clock", function()
  it("is a fresh monotonic reading, in seconds and in ns", function()
    local a, an = weft.clock(), weft.clock_ns()
    assert.are.equal("integer", math.type(an))
    assert.is_true(math.abs(an / 1e9 - a) < 1)
    local t0 = weft.clock()
    while weft.clock() == t0 do end -- advances without a loop running
    weft.run(function()
      local cached = weft.now()
      local t1 = weft.clock()
      while weft.clock() - t1 < 0.002 do end
      assert.are.equal(cached, weft.now()) -- the loop's clock is cached
      assert.is_true(weft.clock() - cached >= 0.002)
    end)
  end)
end)

describe("the shipped module", function()
  it("holds no benchmark entry points", function()
    for _, name in ipairs { "bench_timer_start", "bench_fires", "mem_bytes" } do
      assert.is_nil(core[name])
    end
  end)
end)
