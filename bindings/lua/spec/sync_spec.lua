-- Synchronisation: weft.Event, Semaphore, Lock, Queue, weft.first and
-- weft.as_completed: every function and error path, cancellation and
-- timeouts before and after the grant, free and close resuming waiters,
-- FIFO order, Lua values carried through a queue and dropped ones released
-- exactly once.
local weft = require "weft"
local H = require "helper"

-- Spawns fn and lets it run until it waits.
local function waiter(fn)
  local t = weft.spawn(fn)
  weft.yield()
  return t
end

-- Waits for a task, then whether it finished cancelled.
local function cancelled(t)
  t:result()
  return t:cancelled()
end

-- A task's outcome as (value, code): code nil when it returned.
local function outcome(t)
  local v, _, code = t:result()
  return v, code
end

describe("outside a task", function()
  it("the awaits raise, the constructors need a running loop", function()
    assert.has_error(function() weft.Event() end)
    local ev, sem, lk, q
    weft.run(function()
      ev, sem, lk, q = weft.Event(), weft.Semaphore(1), weft.Lock(), weft.Queue()
      -- try_ calls work outside a task too (here: inside, but no await)
      assert.is_true(q:try_put(1))
      assert.are.equal(1, q:try_get())
    end)
    assert.has_error(function() ev:wait() end, nil)
    assert.has_error(function() sem:acquire() end)
    assert.has_error(function() lk:acquire() end)
    assert.has_error(function() q:put(1) end)
    assert.has_error(function() q:get() end)
    assert.has_error(function() weft.first(function() end) end)
    -- the loop is closed: the primitives are gone
    local v, _, code = sem:try_acquire()
    assert.is_nil(v)
    assert.are.equal(weft.EINVAL, code)
  end)
end)

describe("weft.Event", function()
  it("set wakes every waiter, clear and is_set", function()
    weft.run(function()
      local ev = assert(weft.Event())
      assert.is_false(ev:is_set())
      local woke = {}
      for i = 1, 3 do waiter(function() assert.is_true(ev:wait()); woke[#woke + 1] = i end) end
      assert.is_true(ev:set())
      assert.is_true(ev:set()) -- setting a set event does nothing
      assert.is_true(ev:is_set())
      weft.yield(); weft.yield()
      assert.are.same({ 1, 2, 3 }, woke)
      assert.is_true(ev:wait()) -- set: resumes at once
      assert.is_true(ev:clear())
      assert.is_false(ev:is_set())
      assert.is_true(ev:free())
      local v, _, code = ev:is_set()
      assert.is_nil(v)
      assert.are.equal(weft.ESTALE, code)
      assert.are.equal(weft.ESTALE, select(3, ev:set()))
      assert.are.equal(weft.ESTALE, select(3, ev:clear()))
      assert.are.equal(weft.ESTALE, select(3, ev:free()))
      assert.are.equal(weft.ESTALE, select(3, ev:wait()))
    end)
  end)

  it("free resumes waiters with ECLOSED", function()
    weft.run(function()
      local ev = weft.Event()
      local a = waiter(function() return ev:wait() end)
      ev:free()
      local v, code = outcome(a)
      assert.is_nil(v)
      assert.are.equal(weft.ECLOSED, code)
    end)
  end)

  it("cancel and timeout before the set take nothing; after it, the next await raises", function()
    weft.run(function()
      local ev = weft.Event()
      local a = waiter(function() return ev:wait() end)
      a:cancel()
      assert.is_true(cancelled(a))
      local b = waiter(function() return weft.timeout(0.001, function() return ev:wait() end) end)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(b)))
      local got
      local c = waiter(function() got = ev:wait(); weft.yield(); return "not here" end)
      ev:set()
      c:cancel()
      assert.is_true(cancelled(c))
      assert.is_true(got)
      ev:clear()
      local d = waiter(function() got = ev:wait(); weft.sleep(10) end)
      ev:set()
      d:timeout(1e-9)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(d)))
      assert.is_true(got)
    end)
  end)
end)

describe("weft.Semaphore", function()
  it("acquire, try_acquire, release, value; bad arguments", function()
    weft.run(function()
      assert.are.equal(weft.EINVAL, select(3, weft.Semaphore(-1)))
      assert.has_error(function() weft.Semaphore("2") end)
      local sem = assert(weft.Semaphore(2))
      assert.are.equal(2, sem:value())
      assert.is_true(sem:acquire())
      assert.is_true(sem:try_acquire())
      assert.are.equal(0, sem:value())
      assert.are.equal(weft.EAGAIN, select(3, sem:try_acquire()))
      assert.is_true(sem:release()); assert.is_true(sem:release()); assert.is_true(sem:release())
      assert.are.equal(3, sem:value()) -- not bounded: past the initial count is fine
      local b = weft.Semaphore(1, { bounded = true })
      assert.are.equal(weft.EINVAL, select(3, b:release()))
      assert.is_true(b:free())
      assert.are.equal(weft.ESTALE, select(3, b:value()))
      assert.are.equal(weft.ESTALE, select(3, b:acquire()))
      assert.are.equal(weft.ESTALE, select(3, b:try_acquire()))
      assert.are.equal(weft.ESTALE, select(3, b:release()))
      assert.are.equal(weft.ESTALE, select(3, b:free()))
    end)
  end)

  it("hands permits to waiters in FIFO order; try_acquire fails while they wait", function()
    weft.run(function()
      local sem = weft.Semaphore(0)
      local order = {}
      for i = 1, 4 do waiter(function() sem:acquire(); order[#order + 1] = i end) end
      assert.is_true(sem:release())
      assert.are.equal(weft.EAGAIN, select(3, sem:try_acquire()))
      for _ = 1, 3 do sem:release() end
      weft.yield(); weft.yield()
      assert.are.same({ 1, 2, 3, 4 }, order)
      assert.are.equal(0, sem:value())
    end)
  end)

  it("with releases on return and on error, and passes results and arguments", function()
    weft.run(function()
      local sem = weft.Semaphore(1)
      local a, b = sem:with(function(x, y)
        assert.are.equal(0, sem:value())
        return x + y, "b"
      end, 1, 2)
      assert.are.equal(3, a); assert.are.equal("b", b)
      assert.are.equal(1, sem:value())
      local ok, err = pcall(sem.with, sem, function() error("boom", 0) end)
      assert.is_false(ok); assert.are.equal("boom", err)
      assert.are.equal(1, sem:value())
      sem:free()
      local v, _, code = sem:with(function() error("never") end)
      assert.is_nil(v); assert.are.equal(weft.ESTALE, code)
    end)
  end)

  it("bounds concurrency", function()
    weft.run(function()
      local sem, cur, peak = weft.Semaphore(3), 0, 0
      local ts = {}
      for i = 1, 20 do
        ts[i] = function()
          sem:with(function()
            cur = cur + 1; peak = math.max(peak, cur)
            weft.yield()
            cur = cur - 1
          end)
        end
      end
      assert(weft.gather(ts))
      assert.are.equal(3, peak)
      assert.are.equal(3, sem:value())
    end)
  end)

  it("cancel and timeout before the grant take nothing", function()
    weft.run(function()
      local sem = weft.Semaphore(0)
      local a = waiter(function() return sem:acquire() end)
      a:cancel()
      assert.is_true(cancelled(a))
      local b = waiter(function() return weft.timeout(0.001, function() return sem:acquire() end) end)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(b)))
      sem:release()
      assert.are.equal(1, sem:value())
    end)
  end)

  it("a waiter cancelled or timed out after its grant keeps the permit", function()
    weft.run(function()
      local sem = weft.Semaphore(0)
      local got
      local a = waiter(function() got = sem:acquire(); weft.yield() end)
      sem:release(); a:cancel()
      assert.is_true(cancelled(a)); assert.is_true(got)
      got = nil
      local b = waiter(function() got = sem:acquire(); weft.sleep(10) end)
      sem:release(); b:timeout(1e-9)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(b))); assert.is_true(got)
      assert.are.equal(0, sem:value())
      -- a with interrupted after the grant still releases
      local c = waiter(function() return sem:with(function() weft.sleep(10) end) end)
      sem:release(); c:cancel()
      assert.is_true(cancelled(c))
      assert.are.equal(1, sem:value())
    end)
  end)

  it("free resumes waiters with ECLOSED", function()
    weft.run(function()
      local sem = weft.Semaphore(0)
      local a = waiter(function() return sem:acquire() end)
      local b = waiter(function() return sem:with(function() error("not run") end) end)
      sem:free()
      assert.are.equal(weft.ECLOSED, select(2, outcome(a)))
      assert.are.equal(weft.ECLOSED, select(2, outcome(b)))
    end)
  end)
end)

describe("weft.Lock", function()
  it("acquire, try_acquire, release, locked, owner; misuse", function()
    weft.run(function()
      local lk = assert(weft.Lock())
      local me = weft.current()
      assert.is_false(lk:locked()); assert.is_false(lk:owner())
      assert.is_true(lk:acquire())
      assert.is_true(lk:locked()); assert.are.equal(me:id(), lk:owner())
      assert.are.equal(weft.EINVAL, select(3, lk:acquire())) -- not reentrant
      assert.are.equal(weft.EINVAL, select(3, lk:try_acquire()))
      local other = weft.spawn(function() return lk:try_acquire() end)
      local v, _, code = other:result()
      assert.is_nil(v); assert.are.equal(weft.EAGAIN, code)
      assert.are.equal(weft.EINVAL, select(3, lk:release(other))) -- not the holder
      assert.is_true(lk:release())
      assert.are.equal(weft.EINVAL, select(3, lk:release())) -- unlocked
      assert.is_true(lk:try_acquire(other)) -- for another (finished) task
      assert.are.equal(other:id(), lk:owner())
      assert.is_true(lk:release(other))
      assert.has_error(function() lk:release("me") end)
      assert.is_true(lk:free())
      assert.are.equal(weft.ESTALE, select(3, lk:locked()))
      assert.are.equal(weft.ESTALE, select(3, lk:owner()))
      assert.are.equal(weft.ESTALE, select(3, lk:acquire()))
      assert.are.equal(weft.ESTALE, select(3, lk:try_acquire()))
      assert.are.equal(weft.ESTALE, select(3, lk:release()))
      assert.are.equal(weft.ESTALE, select(3, lk:free()))
    end)
  end)

  it("passes in FIFO order; with releases on error", function()
    weft.run(function()
      local lk = weft.Lock()
      local order = {}
      lk:acquire()
      local ts = {}
      for i = 1, 3 do
        ts[i] = waiter(function() lk:with(function() order[#order + 1] = i; weft.yield() end) end)
      end
      assert.are.equal(weft.EAGAIN, select(3, lk:try_acquire(ts[1])))
      lk:release()
      assert(weft.gather(ts))
      assert.are.same({ 1, 2, 3 }, order)
      assert.is_false(lk:locked())
      local ok, err = pcall(lk.with, lk, function() error("boom", 0) end)
      assert.is_false(ok); assert.are.equal("boom", err)
      assert.is_false(lk:locked())
    end)
  end)

  it("cancel before the grant takes nothing; after it, the task holds the lock", function()
    weft.run(function()
      local lk = weft.Lock()
      lk:acquire()
      local a = waiter(function() return lk:acquire() end)
      local b = waiter(function() return weft.timeout(0.001, function() return lk:acquire() end) end)
      a:cancel()
      assert.is_true(cancelled(a))
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(b)))
      local got
      local c = waiter(function() got = lk:acquire(); weft.yield() end)
      lk:release(); c:cancel()
      assert.is_true(cancelled(c)); assert.is_true(got)
      assert.are.equal(c:id(), lk:owner())
      assert.is_true(lk:release(c)) -- a finished task's id still releases it
      local d = waiter(function() return lk:with(function() weft.sleep(10) end) end)
      d:timeout(1e-9)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(d)))
      assert.is_false(lk:locked()) -- with released it
    end)
  end)

  it("free resumes waiters with ECLOSED", function()
    weft.run(function()
      local lk = weft.Lock()
      lk:acquire()
      local a = waiter(function() return lk:acquire() end)
      lk:free()
      assert.are.equal(weft.ECLOSED, select(2, outcome(a)))
    end)
  end)
end)

describe("weft.Queue", function()
  it("carries any Lua value, nil included, in FIFO order", function()
    weft.run(function()
      assert.are.equal(weft.EINVAL, select(3, weft.Queue(-1)))
      assert.has_error(function() weft.Queue(1.5) end)
      assert.has_error(function() weft.Queue(1, { on_drop = 3 }) end)
      local q = assert(weft.Queue())
      local t, f = {}, function() end
      for _, v in ipairs { 1, "s", t, f, true } do assert.is_true(q:put(v)) end
      assert.is_true(q:try_put(nil))
      assert.are.equal(6, q:size())
      assert.are.equal(1, q:get()); assert.are.equal("s", q:try_get())
      assert.are.equal(t, q:get()); assert.are.equal(f, q:get())
      assert.is_true(q:get())
      local v, msg = q:get()
      assert.is_nil(v); assert.is_nil(msg)
      assert.are.equal(weft.EAGAIN, select(3, q:try_get()))
      assert.is_nil(next(q._values))
    end)
  end)

  it("bounded: put waits while full, try_put fails; getters and putters in FIFO order", function()
    weft.run(function()
      local q = weft.Queue(1)
      q:put("a")
      assert.are.equal(weft.EAGAIN, select(3, q:try_put("x")))
      for _, v in ipairs { "b", "c" } do waiter(function() q:put(v) end) end
      assert.are.equal(1, q:size())
      local got = {}
      for _ = 1, 3 do got[#got + 1] = q:get() end
      assert.are.same({ "a", "b", "c" }, got)
      local order = {}
      for i = 1, 3 do waiter(function() local v = q:get(); order[#order + 1] = i .. v end) end
      assert.are.equal(weft.EAGAIN, select(3, q:try_get()))
      for _, v in ipairs { "x", "y", "z" } do q:put(v) end
      weft.yield(); weft.yield()
      assert.are.same({ "1x", "2y", "3z" }, order)
    end)
  end)

  it("close: puts fail, gets drain then fail; waiters resume with ECLOSED", function()
    weft.run(function()
      local q = weft.Queue(1)
      q:put("a")
      local p = waiter(function() return q:put("p") end)
      assert.is_true(q:close())
      assert.are.equal(weft.ECLOSED, select(2, outcome(p)))
      assert.are.equal(weft.ECLOSED, select(3, q:put("x")))
      assert.are.equal(weft.ECLOSED, select(3, q:try_put("x")))
      assert.are.equal("a", q:get())
      assert.are.equal(weft.ECLOSED, select(3, q:get()))
      assert.are.equal(weft.ECLOSED, select(3, q:try_get()))
      local q2 = weft.Queue()
      local g = waiter(function() return q2:get() end)
      q2:close()
      assert.are.equal(weft.ECLOSED, select(2, outcome(g)))
      assert.is_nil(next(q._values)); assert.is_nil(next(q2._values))
    end)
  end)

  it("free resumes getters and putters with ECLOSED; stale afterwards", function()
    weft.run(function()
      local q = weft.Queue(1)
      local g = waiter(function() return q:get() end)
      q:free()
      assert.are.equal(weft.ECLOSED, select(2, outcome(g)))
      local q2 = weft.Queue(1)
      q2:put(1)
      local p = waiter(function() return q2:put(2) end)
      q2:free()
      assert.are.equal(weft.ECLOSED, select(2, outcome(p)))
      for _, fn in ipairs { "size", "try_get", "get", "close", "free" } do
        assert.are.equal(weft.ESTALE, select(3, q[fn](q)))
      end
      assert.are.equal(weft.ESTALE, select(3, q:try_put(1)))
      assert.are.equal(weft.ESTALE, select(3, q:put(1)))
      assert.is_nil(next(q._values))
    end)
  end)

  it("cancel and timeout before the grant: the put did not happen, the get took nothing", function()
    weft.run(function()
      local q = weft.Queue(1)
      q:put("a")
      local p = waiter(function() return q:put("p") end)
      p:cancel()
      assert.is_true(cancelled(p))
      local p2 = waiter(function() return weft.timeout(0.001, function() return q:put("p2") end) end)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(p2)))
      assert.are.equal(1, q:size())
      assert.are.equal("a", q:get())
      local g = waiter(function() return q:get() end)
      g:cancel()
      assert.is_true(cancelled(g))
      local g2 = waiter(function() return weft.timeout(0.001, function() return q:get() end) end)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(g2)))
      q:put("b")
      assert.are.equal(1, q:size())
      assert.are.equal("b", q:get())
      assert.is_nil(next(q._values))
    end)
  end)

  it("cancel and timeout after the grant: the put happened, the get has the value", function()
    weft.run(function()
      local q = weft.Queue(1)
      local got
      local g = waiter(function() got = q:get(); weft.yield() end)
      q:put({ "v" }); g:cancel()
      assert.is_true(cancelled(g)); assert.are.same({ "v" }, got)
      local g2 = waiter(function() got = q:get(); weft.sleep(10) end)
      q:put("w"); g2:timeout(1e-9)
      assert.are.equal(weft.ETIMEDOUT, select(2, outcome(g2))); assert.are.equal("w", got)
      q:put("a")
      local put
      local p = waiter(function() put = q:put("p"); weft.yield() end)
      assert.are.equal("a", q:get()); p:cancel()
      assert.is_true(cancelled(p)); assert.is_true(put)
      assert.are.equal("p", q:get())
      assert.is_nil(next(q._values))
    end)
  end)

  it("randomized: no value is lost or duplicated under cancels and timeouts", function()
    for seed = 1, 6 do
      math.randomseed(seed)
      local put, got, dropped = {}, {}, {}
      weft.run(function()
        local q = weft.Queue(3, { on_drop = function(v) dropped[#dropped + 1] = v end })
        local producers, victims = {}, {}
        for p = 1, 4 do
          local t = weft.spawn(function()
            for i = 1, 40 do
              local v = p * 1000 + i
              local ok
              if math.random(4) == 1 then
                ok = weft.timeout(0.0001, function() return q:put(v) end)
              else
                ok = q:put(v)
              end
              if ok == true then put[#put + 1] = v end -- recorded before any raise
              weft.yield()
            end
          end)
          producers[#producers + 1] = t
          victims[#victims + 1] = t
        end
        local consumers = {}
        for c = 1, 3 do
          local t = weft.spawn(function()
            while true do
              local v, _, code
              if c > 1 and math.random(3) == 1 then
                v, _, code = weft.timeout(0.0001, function() return q:get() end)
                if code == weft.ETIMEDOUT then v = nil end
              else
                v, _, code = q:get()
              end
              if code == weft.ECLOSED then return end
              if v ~= nil then got[#got + 1] = v end -- recorded before any raise
              weft.yield()
            end
          end)
          consumers[#consumers + 1] = t
          if c > 1 then victims[#victims + 1] = t end -- consumer 1 always drains
        end
        for _ = 1, 12 do
          for _ = 1, math.random(5) do weft.yield() end
          victims[math.random(#victims)]:cancel()
        end
        for _, t in ipairs(producers) do t:result() end
        q:close({ immediate = true })
        for _, t in ipairs(consumers) do t:result() end
        q:free()
      end)
      local seen = {}
      for _, list in ipairs { got, dropped } do
        for _, v in ipairs(list) do
          assert.is_nil(seen[v], "seed " .. seed .. ": value " .. tostring(v) .. " twice")
          seen[v] = true
        end
      end
      for _, v in ipairs(put) do
        assert.is_true(seen[v], "seed " .. seed .. ": value " .. v .. " lost")
        seen[v] = nil
      end
      assert.is_nil(next(seen), "seed " .. seed .. ": a value nobody put")
      assert.is_true(#put > 0)
    end
  end)

  it("releases each dropped value exactly once: immediate close, free, loop close", function()
    local dropped = {}
    local function on_drop(v) dropped[v] = (dropped[v] or 0) + 1 end
    local refs0 = H.registry_refs()
    local q3
    weft.run(function()
      local q = weft.Queue(0, { on_drop = on_drop })
      for _, v in ipairs { "a", "b", "c" } do q:put(v) end
      assert.are.equal("a", q:get())
      assert.is_true(q:close())
      assert.is_nil(next(dropped)) -- a plain close drops nothing
      assert.is_true(q:close({ immediate = true }))
      assert.are.same({ b = 1, c = 1 }, dropped)
      assert.are.equal(0, q:size())
      assert.are.equal(weft.ECLOSED, select(3, q:get()))
      q:free()
      local q2 = weft.Queue(2, { on_drop = on_drop })
      q2:put("d"); q2:put("e")
      q2:free()
      q3 = weft.Queue(0, { on_drop = on_drop })
      q3:put("f"); q3:put("g")
      weft.Queue():put("no on_drop")
      assert.are.same({ b = 1, c = 1, d = 1, e = 1 }, dropped)
    end)
    assert.are.same({ b = 1, c = 1, d = 1, e = 1, f = 1, g = 1 }, dropped)
    assert.is_nil(next(q3._values))
    assert.are.equal(refs0, H.registry_refs())
  end)

  it("on_drop errors go to weft.on_error", function()
    local errs = H.collect_errors(function()
      local q = weft.Queue(0, { on_drop = function() error("drop failed", 0) end })
      q:put(1)
      q:free()
    end)
    assert.are.equal(1, #errs)
    assert.are.equal("drop failed", errs[1].err)
    assert.matches("queue", errs[1].where)
  end)
end)

describe("weft.first", function()
  it("resolves with the index and task of the first to finish; the others keep running", function()
    weft.run(function()
      local ev = weft.Event()
      local slow = weft.spawn(function() ev:wait(); return "slow" end)
      local i, t = weft.first(slow, function() return "fast" end)
      assert.are.equal(2, i); assert.are.equal("fast", t:result())
      assert.is_false(slow:done())
      ev:set()
      assert.are.equal(1, (weft.first { slow }))
      assert.are.equal("slow", slow:result())
      -- finished already: the lowest index
      local ev2 = weft.Event()
      local waiting = weft.spawn(function() ev2:wait() end)
      local done = weft.spawn(function() return 1 end)
      done:result()
      assert.are.equal(2, (weft.first(waiting, done, done)))
      ev2:set()
    end)
  end)

  it("errors and interruption", function()
    weft.run(function()
      assert.are.equal(weft.EINVAL, select(3, weft.first()))
      assert.are.equal(weft.EINVAL, select(3, weft.first {}))
      assert.has_error(function() weft.first(1) end)
      -- a task of a closed loop
      local other = weft.loop()
      local stale = other:spawn(function() end)
      other:close()
      assert.are.equal(weft.ESTALE, select(3, weft.first(stale)))
      local ok, err = pcall(function() for _ in weft.as_completed { stale } do end end)
      assert.is_false(ok); assert.matches("as_completed", err)
      local ev = weft.Event()
      local t = weft.spawn(function() ev:wait() end)
      local r = table.pack(weft.timeout(0.001, function() return weft.first(t) end))
      assert.are.equal(weft.ETIMEDOUT, r[3])
      local w = waiter(function() return weft.first(t) end)
      w:cancel()
      assert.is_true(cancelled(w))
      assert.is_false(t:done()) -- only the wait ended
      ev:set()
      assert.is_nil(t:result())
    end)
  end)
end)

describe("weft.as_completed", function()
  it("gives each task in the order they finish, with its index", function()
    weft.run(function()
      local evs = { weft.Event(), weft.Event(), weft.Event() }
      local list = {}
      for i = 1, 3 do list[i] = function() evs[i]:wait(); return i * 10 end end
      weft.spawn(function() evs[2]:set(); weft.yield(); evs[3]:set(); weft.yield(); evs[1]:set() end)
      local seen = {}
      for t, i in weft.as_completed(list) do seen[#seen + 1] = { i, t:result() } end
      assert.are.same({ { 2, 20 }, { 3, 30 }, { 1, 10 } }, seen)
      assert.has_error(function() weft.as_completed(3) end)
      assert.is_nil(weft.as_completed {}())
    end)
  end)
end)
