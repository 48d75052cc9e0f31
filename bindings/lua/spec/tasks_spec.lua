-- The idiomatic layer: run, spawn, sleep, yield, results, cancellation,
-- timeouts, gather, errors.
local weft = require "weft"
local H = require "helper"

describe("weft.run", function()
  it("returns what main returns, with its arguments", function()
    local a, b, c = weft.run(function(x, y) return x + y, "two", nil end, 1, 2)
    assert.are.equal(3, a)
    assert.are.equal("two", b)
    assert.is_nil(c)
  end)

  it("re-raises main's error with the task's traceback", function()
    local ok, err = pcall(weft.run, function() weft.sleep(0); error("kaput") end)
    assert.is_false(ok)
    assert.matches("kaput", err)
    assert.matches("stack traceback", err)
  end)

  it("re-raises non-string errors as they are", function()
    local e = { reason = 1 }
    local ok, err = pcall(weft.run, function() error(e) end)
    assert.is_false(ok)
    assert.are.equal(e, err)
  end)

  it("raises weft.Cancelled when main is cancelled", function()
    local ok, err = pcall(weft.run, function()
      local me = weft.current()
      me:cancel()
      weft.sleep(1)
    end)
    assert.is_false(ok)
    assert.are.equal(weft.Cancelled, err)
  end)

  it("returns when main finishes and cancels what is left", function()
    local cleaned = false
    local t0 = weft.now()
    weft.run(function()
      weft.spawn(function()
        local ok, err = pcall(weft.sleep, 100)
        assert(not ok and err == weft.Cancelled)
        cleaned = true
      end)
      weft.timer(100, 100, function() end)
      weft.sleep(0.001)
    end)
    assert.is_true(cleaned)
    assert.is_true(weft.now() - t0 < 10)
  end)

  it("refuses to nest and to spawn without a loop", function()
    assert.has_error(function() weft.spawn(function() end) end)
    assert.has_error(function() weft.timer(0, function() end) end)
    weft.run(function()
      assert.has_error(function() weft.run(function() end) end)
    end)
    assert.is_nil(weft.current_loop())
  end)
end)

describe("tasks", function()
  it("start in the loop, never inside spawn", function()
    local order = {}
    weft.run(function()
      local t = weft.spawn(function() order[#order + 1] = "child" end)
      order[#order + 1] = "spawned"
      assert.are.equal("ready", t:state())
      assert.is_false(t:done())
      weft.yield()
      assert.is_true(t:done())
      assert.are.equal("done", t:state())
    end)
    assert.are.same({ "spawned", "child" }, order)
  end)

  it("pass arguments and give every result back", function()
    weft.run(function()
      local t = weft.spawn(function(...) weft.sleep(0); return select("#", ...), ... end, 1, nil, "x")
      local n, a, b, c = t:result()
      assert.are.equal(3, n)
      assert.are.equal(1, a)
      assert.is_nil(b)
      assert.are.equal("x", c)
      -- again, from a finished task
      assert.are.equal(3, (t:result()))
      assert.are.equal("integer", math.type(t:id()))
    end)
  end)

  it("report EBUSY for result() of an unfinished task outside a task", function()
    local loop = weft.loop()
    local t = loop:spawn(function() weft.sleep(0) end)
    local v, msg, code = t:result()
    assert.is_nil(v)
    assert.is_string(msg)
    assert.are.equal(weft.EBUSY, code)
    assert.is_false(loop:run())
    assert.is_true(t:done())
    assert.is_true(loop:close())
  end)

  it("interleave through yield and sleep", function()
    local trace = {}
    weft.run(function()
      local function worker(name)
        for i = 1, 3 do
          trace[#trace + 1] = name .. i
          weft.yield()
        end
      end
      weft.gather(weft.spawn(worker, "a"), weft.spawn(worker, "b"))
    end)
    assert.are.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, trace)
  end)

  it("sleep about as long as asked, concurrently", function()
    weft.run(function()
      local t0 = weft.now()
      local ts = {}
      for i = 1, 50 do ts[i] = weft.spawn(function() return weft.sleep(0.02) end) end
      local r = weft.gather(table.unpack(ts))
      assert.are.equal(50, r.n)
      assert.is_true(r[50])
      assert.is_true(weft.now() - t0 >= 0.02)
    end)
  end)

  it("return nil, message, code for bad durations", function()
    weft.run(function()
      local v, msg, code = weft.sleep(-1)
      assert.is_nil(v)
      assert.is_string(msg)
      assert.are.equal(weft.EINVAL, code)
      assert.are.equal(weft.EINVAL, select(3, weft.sleep(0 / 0)))
      assert.has_error(function() weft.sleep("1") end)
    end)
  end)

  it("know the current task", function()
    weft.run(function()
      local t
      t = weft.spawn(function() return weft.current() == t end)
      assert.is_true(t:result())
      assert.are.equal("running", weft.current():state())
    end)
  end)

  it("cannot await themselves", function()
    weft.run(function()
      local v, _, code = weft.current():result()
      assert.is_nil(v)
      assert.are.equal(weft.EINVAL, code)
    end)
  end)
end)

describe("cancellation", function()
  it("raises weft.Cancelled at the await; the task may clean up and choose its result", function()
    weft.run(function()
      local steps = {}
      local t = weft.spawn(function()
        local ok, err = pcall(weft.sleep, 10)
        steps[#steps + 1] = ok and "slept" or err
        weft.sleep(0.001) -- cleanup may await
        return "cleaned up"
      end)
      weft.sleep(0.001)
      assert.is_true(t:cancel())
      assert.are.equal("cleaned up", t:result())
      assert.is_false(t:cancelled())
      assert.are.same({ weft.Cancelled }, steps)
      assert.matches("cancelled", tostring(weft.Cancelled))
    end)
  end)

  it("finishes the task as cancelled when the error escapes", function()
    weft.run(function()
      local t = weft.spawn(function() weft.sleep(10) end)
      weft.yield()
      t:cancel()
      local v, msg, code = t:result()
      assert.is_nil(v)
      assert.are.equal(weft.strerror(weft.ECANCELED), msg)
      assert.are.equal(weft.ECANCELED, code)
      assert.is_true(t:cancelled())
    end)
  end)

  it("of a task that has not started means it never runs", function()
    weft.run(function()
      local ran = false
      local t = weft.spawn(function() ran = true end)
      t:cancel()
      assert.are.equal(weft.ECANCELED, select(3, t:result()))
      assert.is_false(ran)
    end)
  end)

  it("of a finished task changes nothing", function()
    weft.run(function()
      local t = weft.spawn(function() return 7 end)
      assert.are.equal(7, t:result())
      assert.is_true(t:cancel())
      assert.are.equal(7, t:result())
    end)
  end)

  it("of the running task comes from its next await", function()
    weft.run(function()
      local t = weft.spawn(function()
        weft.current():cancel()
        local x = 1 + 1 -- still running
        local ok, err = pcall(weft.yield)
        return x, ok, err
      end)
      local x, ok, err = t:result()
      assert.are.equal(2, x)
      assert.is_false(ok)
      assert.are.equal(weft.Cancelled, err)
    end)
  end)

  it("while awaiting another task cancels only the wait", function()
    weft.run(function()
      local go = false
      local child = weft.spawn(function()
        while not go do weft.sleep(0.001) end
        return "child done"
      end)
      local waiter = weft.spawn(function() return child:result() end)
      weft.yield()
      waiter:cancel()
      assert.are.equal(weft.ECANCELED, select(3, waiter:result()))
      assert.is_false(child:done())
      go = true
      assert.are.equal("child done", child:result())
    end)
  end)
end)

describe("timeouts", function()
  it("weft.timeout gives nil, message, ETIMEDOUT when the deadline passes", function()
    weft.run(function()
      local after = false
      local v, msg, code = weft.timeout(0.01, function() weft.sleep(5); after = true end)
      assert.is_nil(v)
      assert.are.equal(weft.strerror(weft.ETIMEDOUT), msg)
      assert.are.equal(weft.ETIMEDOUT, code)
      assert.is_false(after)
      -- the deadline is gone afterwards
      assert.is_true(weft.sleep(0.02))
    end)
  end)

  it("weft.timeout returns fn's values in time", function()
    weft.run(function()
      local a, b = weft.timeout(5, function(x) weft.sleep(0); return x, "b" end, "a")
      assert.are.equal("a", a)
      assert.are.equal("b", b)
      assert.is_true(weft.sleep(0.001))
    end)
  end)

  it("nest: the inner one fires first", function()
    weft.run(function()
      local inner
      local r = weft.timeout(5, function()
        inner = table.pack(weft.timeout(0.01, function() weft.sleep(5) end))
        return "outer ok"
      end)
      assert.are.equal("outer ok", r)
      assert.are.equal(weft.ETIMEDOUT, inner[3])
    end)
  end)

  it("nest: an outer deadline passes through the inner scope", function()
    weft.run(function()
      local inner_returned = false
      local v, _, code = weft.timeout(0.01, function()
        weft.timeout(5, function() weft.sleep(5) end)
        inner_returned = true
      end)
      assert.is_nil(v)
      assert.are.equal(weft.ETIMEDOUT, code)
      assert.is_false(inner_returned)
    end)
  end)

  it("a deadline that passes as the scope's last await completes stays in the scope", function()
    weft.run(function()
      local r = weft.timeout(0.005, function()
        -- the spinner blocks the loop for 10 ms right after this task armed
        -- its 1 ms sleep: in the next iteration both the sleep and the 5 ms
        -- deadline have passed; the sleep completes first, then the timeout
        -- fires while this task is ready, and would hit its next await
        weft.spawn(function()
          local t0 = weft.core.clock_ns()
          while weft.core.clock_ns() - t0 < 10e6 do end
        end)
        weft.sleep(0.001)
        return "in time"
      end)
      assert.are.equal("in time", r)
      assert.is_true(weft.sleep(0)) -- no stray weft.Timeout out here
    end)
  end)

  it("re-raise other errors and cancellation", function()
    weft.run(function()
      local ok, err = pcall(weft.timeout, 1, function() error("inner") end)
      assert.is_false(ok)
      assert.matches("inner", err)
      local t = weft.spawn(weft.timeout, 5, function() weft.sleep(5) end)
      weft.yield()
      t:cancel()
      assert.are.equal(weft.ECANCELED, select(3, t:result()))
    end)
  end)

  it("task:timeout finishes a task that lets weft.Timeout escape", function()
    weft.run(function()
      local t = weft.spawn(function() weft.sleep(5) end)
      assert.is_true(t:timeout(0.01))
      local v, msg, code = t:result()
      assert.is_nil(v)
      assert.are.equal(weft.ETIMEDOUT, code)
      assert.is_true(t:timeout(1)) -- on a finished task: nothing
      local u = weft.spawn(function()
        local ok, err = pcall(weft.sleep, 5)
        return ok, err
      end)
      u:timeout(0.001)
      local ok, err = u:result()
      assert.is_false(ok)
      assert.are.equal(weft.Timeout, err)
      assert.is_nil((weft.spawn(function() end):timeout(-1)))
    end)
  end)
end)

describe("gather", function()
  it("collects each task's first result in order", function()
    weft.run(function()
      local slow = weft.spawn(function() weft.sleep(0.01); return "slow" end)
      local r = weft.gather(slow, function() return "fn" end, weft.spawn(function() return nil end))
      assert.are.same({ "slow", "fn", nil, n = 3 }, r)
      assert.are.same({ n = 0 }, weft.gather())
      -- finished tasks, duplicates
      local r2 = weft.gather(slow, slow)
      assert.are.same({ "slow", "slow", n = 2 }, r2)
    end)
  end)

  it("waits for all and gives the first failure", function()
    local errs = H.collect_errors(function()
      local other_done = false
      local v, err, code = weft.gather(
        function() weft.sleep(0.001); error("first") end,
        function() weft.sleep(0.02); other_done = true end)
      assert.is_nil(v)
      assert.matches("first", err)
      assert.are.equal(weft.EINVAL, code)
      assert.is_true(other_done)
    end)
    assert.are.same({}, errs) -- awaited: not reported
  end)

  it("with cancel_on_error cancels the others at the first failure", function()
    weft.run(function()
      local cancelled = false
      local sibling = weft.spawn(function()
        local ok, err = pcall(weft.sleep, 5)
        cancelled = (err == weft.Cancelled)
        error(err, 0)
      end)
      local t0 = weft.now()
      local v, err, code = weft.gather({ cancel_on_error = true }, sibling,
        function() weft.sleep(0.001); error("bad") end)
      assert.is_nil(v)
      assert.matches("bad", err)
      assert.are.equal(weft.EINVAL, code)
      assert.is_true(cancelled)
      assert.is_true(sibling:cancelled())
      assert.is_true(weft.now() - t0 < 4)
    end)
  end)

  it("with cancel_on_error and a child that failed already", function()
    H.collect_errors(function()
      local failed = weft.spawn(function() error("early") end)
      weft.yield()
      weft.yield()
      local other = weft.spawn(function() weft.sleep(5) end)
      local v, err = weft.gather({ cancel_on_error = true }, failed, other)
      assert.is_nil(v)
      assert.matches("early", err)
      assert.is_true(other:cancelled())
    end)
  end)

  it("raises weft.Cancelled when the gatherer is cancelled", function()
    weft.run(function()
      local child = weft.spawn(function() weft.sleep(0.02); return 1 end)
      local g = weft.spawn(function() return weft.gather(child) end)
      weft.yield()
      g:cancel()
      assert.are.equal(weft.ECANCELED, select(3, g:result()))
      assert.are.equal(1, child:result()) -- without options the child goes on

      local child2 = weft.spawn(function() weft.sleep(5) end)
      local g2 = weft.spawn(function() return weft.gather({ cancel_on_error = true }, child2) end)
      weft.yield()
      g2:cancel()
      assert.are.equal(weft.ECANCELED, select(3, g2:result()))
      assert.is_true(child2:cancelled()) -- a group cancels its children
    end)
  end)

  it("rejects what is not a task", function()
    weft.run(function()
      assert.has_error(function() weft.gather(1) end)
      assert.has_error(function() weft.gather({ cancel_on_error = true }, {}) end)
    end)
  end)
end)

describe("errors", function()
  it("in a task nobody awaits are reported, with a traceback; the loop goes on", function()
    local after = false
    local errs = H.collect_errors(function()
      weft.spawn(function() weft.sleep(0); error("lost") end)
      weft.sleep(0.005)
      after = true
    end)
    assert.is_true(after)
    assert.are.equal(1, #errs)
    assert.are.equal("task", errs[1].where)
    assert.matches("lost", errs[1].err)
    assert.matches("stack traceback", errs[1].err)
  end)

  it("in an awaited task go to the awaiter only", function()
    local errs = H.collect_errors(function()
      local t = weft.spawn(function() weft.sleep(0.001); error({ code = 42 }) end)
      local v, err, code = t:result()
      assert.is_nil(v)
      assert.are.same({ code = 42 }, err)
      assert.are.equal(weft.EINVAL, code)
    end)
    assert.are.same({}, errs)
  end)

  it("in callbacks are reported and the loop survives", function()
    local ticks, calls = 0, 0
    local errs = H.collect_errors(function()
      local tm
      tm = weft.timer(0, 0.001, function()
        ticks = ticks + 1
        if ticks == 3 then tm:stop() end
        error("tick " .. ticks)
      end)
      weft.post(function() calls = calls + 1; error({ "table error" }) end)
      local a, b = weft.socketpair()
      weft.write(b, "x")
      local w
      w = weft.watch(a, "r", function() calls = calls + 1; w:stop(); error("watch") end)
      weft.work(function() calls = calls + 1; error("done cb") end, function() return 1 end)
      while ticks < 3 or calls < 3 do weft.sleep(0.001) end
      weft.close(a); weft.close(b)
    end)
    assert.are.equal(3, ticks)
    local where = {}
    for _, e in ipairs(errs) do where[e.where] = (where[e.where] or 0) + 1 end
    assert.are.same({ ["timer callback"] = 3, ["posted callback"] = 1,
                      ["fd watch callback"] = 1, ["to_thread done callback"] = 1 }, where)
    for _, e in ipairs(errs) do
      if type(e.err) == "string" then assert.matches("stack traceback", e.err) end
    end
  end)

  it("in the error handler itself do not break the loop", function()
    local saved = weft.on_error
    weft.on_error = function() error("handler broke") end
    local ok = weft.run(function()
      weft.post(function() error("x") end)
      weft.sleep(0.001)
      return true
    end)
    weft.on_error = saved
    assert.is_true(ok)
  end)

  it("reports an error raised while the loop is closed", function()
    local errs = H.collect_errors(function()
      weft.spawn(function()
        pcall(weft.sleep, 10)
        error("in cleanup")
      end)
      weft.sleep(0.001)
    end)
    assert.are.equal(1, #errs)
    assert.matches("in cleanup", errs[1].err)
  end)
end)

describe("loops", function()
  it("run step by step and report liveness", function()
    local loop = assert(weft.loop({ thread_pool_size = 2, slow_callback = 1 }))
    local n = 0
    local t = loop:timer(0, 0.001, function() n = n + 1 end)
    assert.is_true(loop:run("nowait"))
    assert.is_true(loop:run("once"))
    assert.is_true(t:stop())
    assert.is_nil((t:stop()))
    assert.is_false(loop:run())
    assert.is_true(n >= 1)
    local st = loop:stats()
    assert.is_true(st.iterations >= 2)
    assert.are.equal(0, st.refs)
    assert.is_true(loop:backend_fd() >= 0)
    assert.is_nil(loop:next_timeout())
    assert.is_true(loop:set_logger(function() end))
    assert.is_true(loop:set_option("slow_callback_ns", 0))
    assert.is_true(loop:post(function() end))
    assert.is_false(loop:run())
    assert.is_true(loop:stop())
    assert.is_false(loop:run())
    assert.is_true(loop:close())
    assert.is_true(loop:closed())
    assert.is_true(loop:close())
    assert.is_nil((loop:run()))
    assert.has_error(function() loop:run("sideways") end)
    assert.is_nil((weft.loop({ thread_pool_size = 0 })))
  end)

  it("log slow callbacks to the logger, on the loop thread", function()
    local loop = weft.loop({ slow_callback = 0.001 })
    local lines = {}
    assert.is_true(loop:set_logger(function(level, msg) lines[#lines + 1] = { level, msg } end))
    loop:post(function()
      local t0 = weft.core.clock_ns()
      while weft.core.clock_ns() - t0 < 3e6 do end -- 3 ms, over the threshold
    end)
    assert.is_false(loop:run())
    assert.are.equal(1, #lines)
    assert.are.equal(weft.core.LOG_WARN, lines[1][1])
    assert.is_string(lines[1][2])
    assert.are.equal(1, loop:stats().slow_callbacks)
    assert.is_true(loop:set_logger(nil))
    loop:close()
  end)

  it("tell an embedder how long it may block", function()
    local loop = weft.loop()
    local t = loop:timer(10, function() end)
    local s = loop:next_timeout()
    assert.is_true(s > 9 and s <= 10)
    loop:post(function() end)
    assert.are.equal(0, loop:next_timeout())
    t:stop()
    loop:close()
  end)

  it("expose version, codes and names", function()
    assert.are.equal(weft.core.version(), weft.version)
    assert.matches("^%d+%.%d+%.%d+$", weft.version_string)
    assert.are.equal(-125, weft.ECANCELED)
    assert.are.equal("WEFT_ETIMEDOUT", weft.err_name(weft.ETIMEDOUT))
    assert.are.equal("timed out", weft.strerror(weft.ETIMEDOUT))
    assert.matches("timed out", tostring(weft.Timeout))
    assert.are.equal(weft.ECANCELED, weft.Cancelled.code)
  end)

  it("give the time and stats of the running loop", function()
    weft.run(function()
      local t0 = weft.now()
      weft.sleep(0.002)
      assert.is_true(weft.now() >= t0 + 0.002)
      assert.is_true(weft.stats().tasks_alive >= 1)
    end)
    assert.is_number(weft.now())
  end)

  it("drive tasks spawned on a loop of one's own", function()
    local loop = weft.loop()
    local t = loop:spawn(function(x) weft.sleep(0.001); return x end, "mine")
    -- weft.spawn inside such a loop's tasks uses that loop
    local u = loop:spawn(function() return weft.spawn(function() return 5 end):result() end)
    assert.is_false(loop:run())
    assert.are.equal("mine", t:result())
    assert.are.equal(5, u:result())
    loop:close()
  end)
end)
