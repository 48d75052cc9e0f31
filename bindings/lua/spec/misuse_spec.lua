-- Misuse at the binding's edge (issue 7): objects kept after their loop
-- ended, objects of one loop used in another. Each must give an error (a
-- nil, message, code triple or a raised Lua error), never a crash, and the
-- loops involved must stay usable.
local weft = require "weft"
local core = require "weft.core"

-- Runs the garbage collector until nothing more is freed.
local function full_gc()
  for _ = 1, 4 do collectgarbage("collect") end
end

describe("task tables kept after weft.run ended", function()
  local kept, finished, failed
  local saved_on_error

  setup(function()
    saved_on_error = weft.on_error
    weft.on_error = function() end -- the failing task's error is expected
  end)
  teardown(function() weft.on_error = saved_on_error end)

  before_each(function()
    weft.run(function()
      kept = weft.spawn(function() weft.sleep(3600) end) -- cancelled at close
      finished = weft.spawn(function() return 42, "x" end)
      failed = weft.spawn(function() error("boom") end)
      weft.sleep(0)
    end)
    full_gc() -- the loop is unreachable now: only the task tables remain
  end)

  it("answer every method with a value or an error triple", function()
    assert.is_true(kept:done())
    assert.is_true(kept:cancelled())
    assert.are.equal("done", kept:state())
    local r, msg, code = kept:result()
    assert.is_nil(r)
    assert.is_string(msg)
    assert.are.equal(weft.ECANCELED, code)
    -- Cancelling or timing out a finished task changes nothing.
    assert.is_true(kept:cancel())
    assert.is_true(kept:timeout(1))
    assert.is_true(kept:timeout(0))
    assert.is_number(kept:id())
    assert.is_string(kept:traceback())
    local a, b = finished:result()
    assert.are.equal(42, a)
    assert.are.equal("x", b)
    local fr, ferr, fcode = failed:result()
    assert.is_nil(fr)
    assert.matches("boom", ferr)
    assert.are.equal(weft.EHOST, fcode)
  end)

  it("can be awaited from a task of a new loop", function()
    local got = table.pack(weft.run(function()
      local a = finished:result()
      local r, _, code = kept:result()
      return a, r, code
    end))
    assert.are.equal(42, got[1])
    assert.is_nil(got[2])
    assert.are.equal(weft.ECANCELED, got[3])
  end)

  it("are refused by gather in a new loop, which stays usable", function()
    -- gather arms a weft await on the task's id: a task of another loop
    -- (here a closed one, which let go of the task) is stale.
    local r, msg, code, after = weft.run(function()
      local a, b, c = weft.gather(finished, function() return 7 end)
      return a, b, c, weft.gather(function() return 8 end)
    end)
    assert.is_nil(r)
    assert.is_string(msg)
    assert.are.equal(weft.ESTALE, code)
    assert.are.equal(8, after[1])
  end)
end)

describe("a task whose loop was closed while it waited", function()
  it("is cancelled, and its methods give errors or no-ops afterwards", function()
    local saved = weft.on_error
    weft.on_error = function() end
    local loop = assert(weft.loop())
    local t = assert(loop:spawn(function() weft.sleep(3600) end))
    local never = assert(loop:spawn(function() error("never starts") end))
    assert.is_true(loop:run("nowait")) -- t sleeps; `never` ran and failed
    assert.is_true(loop:close())
    assert.is_true(t:done())
    assert.is_true(t:cancelled())
    assert.is_true(t:cancel())
    assert.are.equal("done", t:state())
    assert.is_true(never:done())
    loop = nil
    full_gc()
    local _, _, code = t:result()
    assert.are.equal(weft.ECANCELED, code)
    weft.on_error = saved
  end)
end)

describe("timers, watches and work of a closed loop", function()
  it("return nil, message, code from every method", function()
    local loop = assert(weft.loop())
    local a, b = weft.socketpair()
    local tm = assert(loop:timer(3600, 0, function() error("must not fire") end))
    local rep = assert(loop:timer(3600, 1, function() error("must not fire") end))
    local w = assert(loop:watch(a, "r", function() error("must not fire") end))
    local work = assert(loop:work(function() end, function() return 1 end))
    assert.is_true(loop:close())
    for _, obj in ipairs({ tm, rep }) do
      local ok, msg, code = obj:stop()
      assert.is_nil(ok)
      assert.is_string(msg)
      assert.is_number(code)
    end
    local ok, _, code = w:modify("rw")
    assert.is_nil(ok)
    assert.is_number(code)
    ok, _, code = w:stop()
    assert.is_nil(ok)
    assert.is_number(code)
    ok, _, code = work:cancel()
    assert.is_nil(ok)
    assert.is_number(code)
    -- Twice, and after the loop object itself is gone.
    loop = nil
    full_gc()
    assert.is_nil((tm:stop()))
    assert.is_nil((w:stop()))
    assert.is_nil((work:cancel()))
    weft.close(a)
    weft.close(b)
  end)
end)

describe("a task of another loop", function()
  it("cannot be awaited, cancelled through the raw API, or gathered, while both live", function()
    local other = assert(weft.loop())
    local foreign = assert(other:spawn(function() weft.sleep(3600) end))
    assert.is_true(other:run("nowait"))
    local results = weft.run(function()
      local r = {}
      r.await = table.pack(foreign:result())
      r.gather = table.pack(weft.gather(foreign))
      -- The raw API with the foreign task's id: a stale id on this loop.
      r.raw = core.task_cancel(weft.current_loop(), foreign:id())
      return r
    end)
    assert.is_nil(results.await[1])
    assert.is_number(results.await[3])
    assert.is_nil(results.gather[1])
    assert.is_number(results.gather[3])
    assert.are.equal(core.ESTALE, results.raw)
    -- The foreign task was not disturbed: it still waits on its own loop.
    assert.are.equal("waiting", foreign:state())
    assert.is_true(foreign:cancel())
    assert.is_false(other:run())
    assert.is_true(foreign:cancelled())
    assert.is_true(other:close())
  end)
end)

describe("weft functions with no loop", function()
  it("raise an error outside weft.run", function()
    assert.has_error(function() weft.spawn(function() end) end)
    assert.has_error(function() weft.sleep(0) end)
    assert.has_error(function() weft.timer(0, 0, function() end) end)
    assert.has_error(function() weft.post(function() end) end)
  end)

  it("leave no registry refs behind after all of the above", function()
    full_gc()
    local loop = assert(weft.loop())
    assert.are.equal(0, loop:stats().refs)
    assert.is_true(loop:close())
  end)
end)

describe("a closed loop", function()
  it("refuses new callbacks and queues with EINVAL and holds no ref for them", function()
    local loop = assert(weft.loop())
    assert.is_true(loop:close())
    local fn = function() error("must not run") end
    assert.are.equal(core.EINVAL, (core.timer_start(loop, 0, 0, fn)))
    assert.are.equal(core.EINVAL, (core.fd_watch_start(loop, 0, core.READABLE, fn)))
    assert.are.equal(core.EINVAL, core.loop_post(loop, fn))
    assert.are.equal(core.EINVAL, core.loop_set_logger(loop, fn))
    assert.are.equal(core.EINVAL, (core.queue_new(loop, 0, fn)))
    assert.are.equal(core.EINVAL, core.queue_close(loop, 1, 0))
    assert.are.equal(core.EINVAL, core.queue_free(loop, 1))
    assert.are.equal(0, core.refs(loop))
    assert.are.equal(0, core.live(loop, -1))
  end)
end)
