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

  it("really runs off the loop thread while the loop goes on", function()
    -- the job blocks on a pipe that only the loop writes to: if the job ran
    -- on the loop thread, or blocked it, this would never finish
    weft.run(function()
      local r, w = weft.pipe(false)
      local ticks = 0
      local tm
      tm = weft.timer(0, 0.001, function()
        ticks = ticks + 1
        if ticks == 3 then tm:stop(); weft.write(w, "g") end
      end)
      local got = weft.to_thread(function(fd)
        return require("weft.core").read(fd, 1)
      end, r)
      assert.are.equal("g", got)
      assert.are.equal(3, ticks)
      weft.close(r); weft.close(w)
    end)
  end)

  it("gives nil, message, code when the chunk raises or does not load", function()
    weft.run(function()
      local v, msg, code = weft.to_thread(function() error("on the pool") end)
      assert.is_nil(v)
      assert.matches("on the pool", msg)
      assert.matches("stack traceback", msg)
      assert.are.equal(weft.EHOST, code)
      v, msg, code = weft.to_thread("this is not lua")
      assert.is_nil(v)
      assert.is_string(msg)
      assert.are.equal(weft.EHOST, code)
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

  -- A job that blocks its pool thread until the returned write end is written.
  local function blocker(loop)
    local r, w = weft.pipe(false)
    local t = loop:spawn(weft.to_thread, function(fd)
      return require("weft.core").read(fd, 1)
    end, r)
    return t, function() weft.write(w, "x"); return r, w end
  end

  it("does not run work cancelled before a thread took it", function()
    local loop = weft.loop({ thread_pool_size = 1 })
    local busy, release = blocker(loop)
    local ran = false
    local queued = loop:spawn(weft.to_thread, function() return "ran" end)
    loop:spawn(function()
      weft.yield() -- both jobs are submitted; the one thread is blocked
      queued:cancel()
      assert.are.equal(weft.ECANCELED, select(3, queued:result()))
      ran = true
      local r, w = release()
      assert.are.equal("x", busy:result())
      weft.close(r); weft.close(w)
    end)
    loop:run()
    loop:close()
    assert.is_true(ran)
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
    local r, w = weft.pipe(false)
    local got, cancelled = nil, nil
    loop:work(function(...) got = table.pack(...) end, function(fd, a)
      return require("weft.core").read(fd, 1), a
    end, r, 7)
    local wk = loop:work(function(...) cancelled = table.pack(...) end, function() return "never" end)
    assert.is_true(wk:cancel()) -- the one thread is blocked: this one is still queued
    assert.is_nil((wk:cancel()))
    weft.write(w, "x")
    assert.is_false(loop:run())
    assert.are.same({ "x", 7, n = 2 }, got)
    assert.is_nil(cancelled[1])
    assert.are.equal(weft.ECANCELED, cancelled[3])
    -- done may be nil
    assert.is_truthy(loop:work(nil, function() return 1 end))
    assert.is_false(loop:run())
    assert.are.equal(0, loop:stats().refs)
    loop:close()
    weft.close(r); weft.close(w)
  end)

  it("delivers every done exactly once when the loop closes", function()
    local loop = weft.loop({ thread_pool_size = 1 })
    local calls = {}
    for i = 1, 5 do
      loop:work(function(v, _, code)
        calls[i] = (calls[i] or 0) + 1
        assert(v == i or code == weft.ECANCELED)
      end, function(k) return k end, i)
    end
    loop:run("nowait")
    loop:close()
    for i = 1, 5 do assert.are.equal(1, calls[i]) end
  end)
end)
