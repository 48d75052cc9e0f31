-- Collected primitives: an Event, Semaphore, Lock or Queue nobody holds is
-- freed by its __gc while its loop lives (a queue's values go to on_drop,
-- once each); what a task waits on stays reachable; one collected after
-- its loop was closed does nothing harmful.
local weft = require "weft"
local core = require "weft.core"
local H = require "helper"

local function full_gc()
  collectgarbage(); collectgarbage()
end

-- The is-it-alive query of each kind: rc, ... for a primitive's id.
local probe = {
  Event = core.event_is_set,
  Semaphore = core.semaphore_value,
  Lock = core.lock_owner,
  Queue = core.queue_size,
}
local makers = {
  Event = function() return weft.Event() end,
  Semaphore = function() return weft.Semaphore(1) end,
  Lock = function() return weft.Lock() end,
  Queue = function() return weft.Queue() end,
}

-- Makes n primitives of each kind on the running loop and drops them: their
-- ids by kind. (A function of its own, so no register of the caller holds
-- the last one.)
local function make_and_drop(n)
  local ids = {}
  for kind, make in pairs(makers) do
    ids[kind] = {}
    for i = 1, n do ids[kind][i] = assert(make()).id end
  end
  return ids
end

-- How many of ids (by kind) are still live primitives of loop.
local function alive(loop, ids)
  local n = 0
  for kind, list in pairs(ids) do
    for _, id in ipairs(list) do
      local rc = probe[kind](loop, id)
      if rc >= 0 then n = n + 1 else assert.are.equal(weft.ESTALE, rc) end
    end
  end
  return n
end

-- Runs fn as a task of a fresh loop until the loop has nothing left to do;
-- returns the loop (still open).
local function run_in(fn)
  local loop = assert(weft.loop())
  local t = loop:spawn(fn, loop)
  assert.is_false(loop:run())
  local ok, err = t:result()
  if not ok and err ~= nil then error(err, 0) end
  return loop
end

describe("dropped primitives", function()
  it("are freed when collected while their loop lives: 100 of each", function()
    local before = H.registry_refs()
    local loop = run_in(function(loop)
      local ids = make_and_drop(100)
      assert.are.equal(400, alive(loop, ids))
      full_gc()
      assert.are.equal(0, alive(loop, ids))
      return true
    end)
    assert.are.equal(100, core.released(loop, core.KIND_QUEUE))
    assert.are.equal(0, core.live(loop, core.KIND_QUEUE))
    loop:close()
    assert.are.equal(before, H.registry_refs())
  end)

  it("a kept one stays alive, a freed one is collected quietly", function()
    run_in(function(loop)
      local ev, q = weft.Event(), weft.Queue()
      full_gc()
      assert.is_false(ev:is_set())
      assert.are.equal(0, q:size())
      assert.is_true(ev:free())
      assert.is_true(q:free())
      ev, q = nil, nil
      full_gc() -- __gc of a freed one: ESTALE, ignored
      assert.are.equal(1, core.released(loop, core.KIND_QUEUE))
      return true
    end):close()
  end)

  it("a dropped queue's values go to on_drop once, then it lets go of them", function()
    local before = H.registry_refs()
    local dropped, n, seen = {}, 0, setmetatable({}, { __mode = "k" })
    local loop = run_in(function()
      (function()
        local q = weft.Queue(0, { on_drop = function(v) n = n + 1; dropped[n] = v end })
        for i = 1, 3 do
          local v = { i }
          seen[v] = true
          assert(q:try_put(v))
        end
        assert(q:try_put(nil))
      end)()
      full_gc()
      return true
    end)
    assert.are.equal(4, n) -- the three tables and the nil, oldest first
    assert.are.same({ 1, 2, 3 }, { dropped[1][1], dropped[2][1], dropped[3][1] })
    assert.is_nil(dropped[4])
    loop:close() -- nothing left to drop
    assert.are.equal(4, n)
    dropped = {}
    full_gc()
    assert.is_nil(next(seen)) -- the queue kept none of them
    assert.are.equal(before, H.registry_refs())
  end)
end)

describe("a primitive a task waits on", function()
  local waits = { Event = "wait", Semaphore = "acquire", Lock = "acquire", Queue = "get" }
  -- A task waits on a primitive nothing else holds: it calls the await as a
  -- tail call, so only the await's own frame refers to the primitive. keep:
  -- whether the task object is held too (else only its loop holds it).
  local function waits_on(kind, keep)
    it(kind .. " stays alive under its waiter (task " .. (keep and "kept" or "dropped") .. ")",
      function()
        local weak = setmetatable({}, { __mode = "v" }) -- [1] the primitive, [2] the task
        local kept
        run_in(function()
          (function()
            local p = kind == "Semaphore" and weft.Semaphore(0) or weft[kind]()
            if kind == "Lock" then assert(p:try_acquire()) end -- held by this task
            weak[1] = p
            weak[2] = weft.spawn(function() return weak[1][waits[kind]](weak[1]) end)
            if keep then kept = weak[2] end
          end)()
          weft.yield() -- the waiter waits
          full_gc(); full_gc()
          local p = assert(weak[1], "collected under its waiter")
          local t = assert(weak[2], "its loop let go of a waiting task")
          assert.is_false(t:done())
          if kind == "Event" then p:set()
          elseif kind == "Queue" then p:try_put("item")
          else p:release() end
          p = nil
          assert.are.equal(kind == "Queue" and "item" or true, t:result())
          return true
        end):close()
      end)
  end
  for _, kind in ipairs({ "Event", "Semaphore", "Lock", "Queue" }) do
    waits_on(kind, true)
    waits_on(kind, false)
  end

  it("a semaphore shared by dropped workers stays theirs", function()
    local log = {}
    run_in(function()
      (function()
        local sem = weft.Semaphore(1)
        for w = 1, 2 do
          weft.spawn(function()
            for _ = 1, 3 do
              assert(sem:acquire())
              weft.yield() -- holding it, the other one waiting
              log[#log + 1] = w
              assert(sem:release())
            end
          end)
        end
      end)()
      -- the workers and sem are unreachable but for the loop
      for _ = 1, 20 do
        if #log == 6 then break end
        full_gc()
        weft.yield()
      end
      return true
    end):close()
    assert.are.same({ 1, 2, 1, 2, 1, 2 }, log)
  end)
end)

describe("a primitive collected after its loop closed", function()
  it("does nothing: no crash, no second drop", function()
    local dropped = 0
    local loop = assert(weft.loop())
    local keep = {}
    loop:spawn(function()
      keep = { weft.Event(), weft.Semaphore(1), weft.Lock(),
        weft.Queue(0, { on_drop = function() dropped = dropped + 1 end }) }
      assert(keep[4]:try_put(1))
    end)
    assert.is_false(loop:run())
    loop:close()
    assert.are.equal(1, dropped)
    assert.are.equal(weft.EINVAL, select(3, keep[1]:set()))
    keep = nil
    full_gc()
    assert.are.equal(1, dropped)
  end)
end)

describe("a dropped loop", function()
  it("cancels a task waiting on a primitive, which the loop frees", function()
    local seen, dropped = {}, 0
    local function wait_on(make, method)
      return function()
        local p = make()
        local ok, v, _, code = pcall(p[method], p)
        seen[#seen + 1] = ok and (code or v) or (v == weft.Cancelled and "cancelled" or v)
      end
    end
    (function()
      local loop = assert(weft.loop())
      loop:spawn(wait_on(weft.Event, "wait"))
      loop:spawn(wait_on(function() return weft.Semaphore(0) end, "acquire"))
      loop:spawn(wait_on(function()
        local q = weft.Queue(1, { on_drop = function() dropped = dropped + 1 end })
        assert(q:try_put(1))
        return q
      end, "put"))
      assert.is_true(loop:run("nowait"))
    end)()
    full_gc()
    assert.are.same({ "cancelled", "cancelled", "cancelled" }, seen)
    assert.are.equal(1, dropped)
  end)
end)
