-- to_thread: chunks on the pool, in a Lua state of their own.
local weft = require "weft"

describe("weft.to_thread", function()
  it("runs a function on the pool and returns its values with their types", function()
    weft.run(function()
      local a, b, c, d, e, f = weft.to_thread(function(x, y, s)
        return x + 1, y * 2, s .. "!", nil, true, 2^53
      end, 41, 1.25, "s\0t")
      assert.are.equal(42, a)
      assert.are.equal("integer", math.type(a))
      assert.are.equal(2.5, b)
      assert.are.equal("float", math.type(b))
      assert.are.equal("s\0t!", c)
      assert.is_nil(d)
      assert.is_true(e)
      assert.are.equal(2^53, f)
    end)
  end)

  it("runs a chunk given as source", function()
    weft.run(function()
      assert.are.equal(6, weft.to_thread("local a, b = ... return a * b", 2, 3))
    end)
  end)

  it("really runs off the loop thread while others tick", function()
    weft.run(function()
      local ticks = 0
      local tm = weft.timer(0, 0.001, function() ticks = ticks + 1 end)
      local r = weft.to_thread(function()
        local t0 = os.clock()
        while os.clock() - t0 < 0.05 do end
        return "spun"
      end)
      tm:stop()
      assert.are.equal("spun", r)
      assert.is_true(ticks >= 2)
    end)
  end)

  it("gives nil, message, code when the chunk raises or does not load", function()
    weft.run(function()
      local v, msg, code = weft.to_thread(function() error("on the pool") end)
      assert.is_nil(v)
      assert.matches("on the pool", msg)
      assert.matches("stack traceback", msg)
      assert.are.equal(weft.EINVAL, code)
      v, msg, code = weft.to_thread("this is not lua")
      assert.is_nil(v)
      assert.is_string(msg)
      assert.are.equal(weft.EINVAL, code)
      v, msg = weft.to_thread(function() return {} end)
      assert.is_nil(v)
      assert.matches("cannot pass a table", msg)
    end)
  end)

  it("refuses upvalues, C functions and values that cannot cross", function()
    weft.run(function()
      local up = 1
      assert.has_error(function() weft.to_thread(function() return up end) end)
      assert.has_error(function() weft.to_thread(print) end)
      assert.has_error(function() weft.to_thread(function() end, {}) end)
      assert.has_error(function() weft.to_thread(42) end)
    end)
  end)

  it("does not run work cancelled before a thread took it", function()
    weft.run(function()
      local loop = weft.current_loop()
      -- one pool thread, kept busy
      local busy = weft.spawn(weft.to_thread, function()
        local t0 = os.clock()
        while os.clock() - t0 < 0.05 do end
        return "busy"
      end)
      weft.yield()
      local queued = weft.spawn(weft.to_thread, function() return "ran" end)
      weft.yield()
      queued:cancel()
      assert.are.equal(weft.ECANCELED, select(3, queued:result()))
      assert.are.equal("busy", busy:result())
      assert.is_not_nil(loop)
    end)
  end)

  it("finishes running work before delivering a cancel", function()
    weft.run(function()
      local t = weft.spawn(function()
        local ok, err = pcall(weft.to_thread, function()
          local t0 = os.clock()
          while os.clock() - t0 < 0.02 do end
          return 1
        end)
        return ok, err
      end)
      weft.sleep(0.005)
      t:cancel()
      local ok, err = t:result()
      assert.is_false(ok)
      assert.are.equal(weft.Cancelled, err)
    end)
  end)

  it("in callback style delivers results and cancels queued work", function()
    local loop = weft.loop({ thread_pool_size = 1 })
    local got, cancelled = nil, nil
    loop:work(function(...) got = table.pack(...) end, function(a) 
      local t0 = os.clock()
      while os.clock() - t0 < 0.02 do end
      return a, "x"
    end, 7)
    local w = loop:work(function(...) cancelled = table.pack(...) end, function() return "never" end)
    assert.is_true(w:cancel())
    assert.is_nil((w:cancel()))
    assert.is_false(loop:run())
    assert.are.same({ 7, "x", n = 2 }, got)
    assert.are.equal(weft.ECANCELED, cancelled[3])
    assert.is_nil(cancelled[1])
    -- done may be nil
    assert.is_truthy(loop:work(nil, function() return 1 end))
    assert.is_false(loop:run())
    assert.are.equal(0, loop:stats().refs)
    loop:close()
  end)

  it("delivers work still queued when the loop closes", function()
    local loop = weft.loop({ thread_pool_size = 1 })
    local results = {}
    for i = 1, 3 do
      loop:work(function(...) results[i] = table.pack(...) end, function(k)
        local t0 = os.clock()
        while os.clock() - t0 < 0.01 do end
        return k
      end, i)
    end
    loop:run("nowait")
    loop:close()
    for i = 1, 3 do assert.is_table(results[i]) end
    assert.are.equal(weft.ECANCELED, results[3][3])
  end)
end)
