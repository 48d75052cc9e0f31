-- Registry refs: every handle's Lua value is released when the handle ends,
-- and at loop close for what it stopped without calling.
local weft = require "weft"
local core = require "weft.core"
local H = require "helper"

describe("registry refs", function()
  it("are all released after many handles of every kind", function()
    local before = H.registry_refs()
    local N = 2000
    local errs = H.collect_errors(function()
      local loop = weft.current_loop()
      local ts, works, raised = {}, 0, 0
      for i = 1, N do
        ts[#ts + 1] = weft.spawn(function() weft.sleep(0) return i end)     -- finished
        weft.timer(0, function() end)                                        -- one-shot, fired
        local rep = weft.timer(0, 0.001, function() end); rep:stop()         -- stopped
        weft.post(function() end)                                            -- posted
      end
      for i = 1, 200 do
        weft.spawn(function() raised = raised + 1; error("x" .. i) end)      -- raised, reported
        local c = weft.spawn(function() weft.sleep(10) end); c:cancel()      -- cancelled
        ts[#ts + 1] = c
        local a, b = weft.socketpair()
        local w = weft.watch(a, "r", function() end); w:stop()               -- watch stopped
        weft.close(a); weft.close(b)
        weft.work(function() works = works + 1 end, function() return 1 end) -- work
      end
      weft.gather(table.unpack(ts))
      while works < 200 or raised < 200 do weft.sleep(0.001) end
      -- weft refers to the tasks kept in ts (their objects own their ids)
      -- and to main, but holds no registry ref for any of them; the raised
      -- ones, which nobody holds, are released once collected
      collectgarbage(); collectgarbage()
      assert.are.equal(#ts + 1, core.live(loop, -1))
      assert.are.equal(0, core.refs(loop))
    end)
    assert.are.equal(200, #errs)
    assert.are.equal(before, H.registry_refs())
  end)

  it("are released at close for timers, watches and tasks left running", function()
    local before = H.registry_refs()
    local loop = weft.loop()
    local a, b = weft.socketpair()
    for _ = 1, 100 do
      loop:timer(100, 100, function() end)
      loop:timer(100, function() end)
      loop:watch(a, "r", function() end)
      loop:spawn(function() weft.sleep(100) end)
      loop:post(function() end)
    end
    loop:set_logger(function() end)
    loop:run("nowait")
    -- 200 timers, 100 watches, the logger (the loop holds its tasks itself)
    assert.is_true(H.registry_refs() > before + 300)
    assert.is_true(loop:close())
    weft.close(a); weft.close(b)
    assert.are.equal(before, H.registry_refs())
  end)

  it("are released when an unclosed loop is collected", function()
    local before = H.registry_refs()
    do
      local loop = weft.loop()
      for _ = 1, 50 do
        loop:timer(100, 100, function() end)
        loop:post(function() end)
      end
    end
    assert.are.equal(before, H.registry_refs())
  end)

  it("do not grow over repeated runs", function()
    local before = H.registry_refs()
    for _ = 1, 20 do
      weft.run(function()
        local ts = {}
        for i = 1, 50 do ts[i] = weft.spawn(weft.sleep, 0) end
        weft.gather(table.unpack(ts))
        weft.timeout(1, weft.yield)
        weft.to_thread(function() return 1 end)
      end)
    end
    assert.are.equal(before, H.registry_refs())
  end)
end)
