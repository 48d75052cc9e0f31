--- weft: asyncio-style tasks for Lua 5.4, on the weft event loop.
--
-- Tasks are Lua coroutines that the weft loop resumes. A task suspends where
-- it waits (`weft.sleep`, `weft.readable`, another task, a job on the thread
-- pool) by yielding an await request to the C step trampoline that drives it;
-- the loop resumes it with the await's result. Timers, fd watches, posts and
-- pool work are also available in callback style.
--
-- Conventions:
--
--  * Durations are seconds (integers or floats); clocks are monotonic.
--  * Failures are returned as `nil, message, code` with a negative weft code
--    (`weft.EINVAL`, `weft.ESTALE`...); bad argument types raise.
--  * Cancellation raises `weft.Cancelled` inside the task at the await it is
--    suspended in (like asyncio's `CancelledError`); a timeout raises
--    `weft.Timeout`. A task may catch either with `pcall` to clean up (it may
--    await again while doing so) and chooses its own outcome. Every function
--    that suspends may raise either; the docs below repeat it only to add to it.
--  * Everything here runs on the thread that runs the loop; the functions that
--    suspend (`sleep`, `readable`, `gather`, `to_thread`...) may only be called
--    from inside a task (elsewhere they raise an error saying so), and not
--    from inside a coroutine of your own that the task resumes (the yield
--    would go to that coroutine).
--  * Lifetimes: a task, timer or watch object keeps what it names alive while
--    you hold it; weft tells the binding when it lets go of a Lua value, and
--    the binding drops it then. A loop nobody holds (or closes) is closed by
--    the garbage collector, cancelling the tasks it still runs.
--  * An error raised by a callback, or by a task nobody is awaiting, never
--    stops the loop: it goes to `weft.on_error(err, where)`.
--
-- @module weft
-- @usage
-- local weft = require "weft"
-- print(weft.run(function()
--   local a = weft.spawn(function() weft.sleep(0.1); return "a" end)
--   local b = weft.spawn(function() weft.sleep(0.1); return "b" end)
--   local r = weft.gather(a, b)        -- about 0.1 s, not 0.2 s
--   return r[1] .. r[2]
-- end))                                --> ab

local core = require "weft.core"

local M = {}

local yield, isyieldable, running = coroutine.yield, coroutine.isyieldable, coroutine.running
local pack, unpack = table.pack, table.unpack
local type, error, pcall, select, getmetatable = type, error, pcall, select, getmetatable
local maxinteger, tointeger = math.maxinteger, math.tointeger

local OP = core.op
local OP_SLEEP, OP_FD, OP_TASK, OP_ALL = OP.SLEEP, OP.FD, OP.TASK, OP.ALL
local OP_YIELD, OP_THREAD, OP_TIMEOUT, OP_SELF = OP.YIELD, OP.THREAD, OP.TIMEOUT, OP.SELF
local ECANCELED, ETIMEDOUT, EBUSY, EINVAL, EHOST =
  core.ECANCELED, core.ETIMEDOUT, core.EBUSY, core.EINVAL, core.EHOST
local READABLE, WRITABLE = core.READABLE, core.WRITABLE
local strerror, clock_ns = core.strerror, core.clock_ns

-- Raised by the functions that suspend when called outside a task.
local function outside(name)
  error(("weft.%s: not inside a task (call it from a function run by weft.spawn or weft.run)")
    :format(name), 3)
end
local task_spawn = core.task_spawn

--- The raw SWIG module (`weft.core`): the C API with ns durations and codes.
M.core = core

--- Library version as an integer: `(major << 16) | (minor << 8) | patch`.
M.version = core.version()
--- Library version as a string, "MAJOR.MINOR.PATCH".
M.version_string = core.version_string()

-- Event bits: `READABLE`, `WRITABLE` (asked for and reported), `HANGUP`,
-- `ERROR` (only reported).
M.READABLE, M.WRITABLE, M.HANGUP, M.ERROR = core.READABLE, core.WRITABLE, core.HANGUP, core.ERROR

-- Error codes (negative), weft.h's WEFT_E* without the prefix: EPERM,
-- EBADF, EAGAIN, ENOMEM, EBUSY, EEXIST, EINVAL, EMFILE, ENOSPC, ETIMEDOUT,
-- ESTALE, ECANCELED, EHOST, ENOSYS, and for sockets ENOENT, EACCES, EPIPE,
-- ENAMETOOLONG, ENOTSOCK, EADDRINUSE, EADDRNOTAVAIL, ENETUNREACH,
-- ECONNABORTED, ECONNRESET, ENOTCONN, ECONNREFUSED, EHOSTUNREACH, ENOTFOUND,
-- ECLOSED.
for k, v in pairs(core) do
  if k:match("^E%u+$") then M[k] = v end -- (ERROR, the event bit, matches too)
end

--- `weft.strerror(code)`: a message for a weft code.
M.strerror = strerror
--- `weft.err_name(code)`: the code's name ("WEFT_ECANCELED").
M.err_name = core.err_name

local function sentinel(name, code, message)
  return setmetatable({ code = code, message = message }, {
    __name = name,
    __tostring = function() return name .. ": " .. message end,
  })
end

--- The error value an await raises when the task is cancelled. Compare with
-- `==`; a task that lets it escape finishes cancelled (`task:cancelled()`).
M.Cancelled = sentinel("weft.Cancelled", ECANCELED, "task cancelled")
--- The error value an await raises when the task's timeout passes. Inside
-- `weft.timeout` it is turned into `nil, message, weft.ETIMEDOUT`.
M.Timeout = sentinel("weft.Timeout", ETIMEDOUT, "task timed out")
core.set_sentinels(M.Cancelled, M.Timeout)

local function fail(code)
  return nil, strerror(code), code
end

-- The values a task's outcome (`task:_outcome()`) stands for: what it
-- returned, or nil, error, code.
local function outcome(code, _, ...)
  if code == 0 then return ... end
  if code == EHOST then return nil, (...), code end
  return fail(code)
end

-- Each collectable object's loop (the primitives, which have a __gc), weak
-- on both sides: Lua clears weak values before it runs finalizers, so when
-- a primitive's __gc runs, its entry is gone if its loop became unreachable
-- too (then the loop's own collection cancels the waiters and frees it).
local loop_of = setmetatable({}, { __mode = "kv" })

-- The object of type mt for what a C constructor returned (rc, id):
-- { loop = loop, id = id } plus the fields of t, or nil, message, code.
local function handle(mt, loop, rc, id, t)
  if rc < 0 then return fail(rc) end
  t = t or {}
  t.loop, t.id = loop, id
  if mt.__gc then loop_of[t] = loop end
  return setmetatable(t, mt)
end

-- v (rc itself when v is nil) for a C return code rc >= 0, else nil,
-- message, code: for functions that return a value second (rc, v).
local function value(rc, v)
  if rc < 0 then return fail(rc) end
  if v == nil then return rc end
  return v
end

-- true, or nil, message, code for a C return code.
local function ok(rc)
  if rc < 0 then return fail(rc) end
  return true
end

-- The status an await resumed with: raise on the task's own interruption,
-- nil, message, code on other errors.
local function check(st)
  if st == ECANCELED then error(M.Cancelled, 0) end
  if st == ETIMEDOUT then error(M.Timeout, 0) end
  return nil, strerror(st), st
end

-- Seconds to ns; -1 (an invalid duration) for NaN and negatives.
local function to_ns(s)
  if type(s) ~= "number" then error("bad duration: number expected, got " .. type(s), 3) end
  if not (s >= 0) then return -1 end
  local ns = s * 1e9
  if ns >= 9.2e18 then return maxinteger end
  return tointeger(ns // 1)
end

local function events_of(ev)
  if type(ev) == "number" then return ev end
  if ev == "r" then return READABLE end
  if ev == "w" then return WRITABLE end
  if ev == "rw" or ev == "wr" then return READABLE | WRITABLE end
  error("bad events: 'r', 'w', 'rw' or a mask expected", 3)
end

--- The error handler of every loop made by this module: receives errors
-- raised by callbacks (with a traceback when the error is a string) and by
-- tasks that nobody awaits. Replace it to collect or log them; the default
-- writes to stderr.
-- @param err the error value
-- @tparam string where "timer callback", "task", "fd watch callback"...
function M.on_error(err, where)
  io.stderr:write(("weft: error in %s: %s\n"):format(where, tostring(err)))
end

-- What the C side reports: an error, where, and for a task its coroutine.
local function report(err, where, co)
  if co and type(err) == "string" then err = debug.traceback(co, err) end
  return M.on_error(err, where)
end

-- Types of this module (documented with their methods below).
local Loop = core.Loop -- methods of the loop userdata
local Task = core.Task -- methods of the task userdata (C ones, plus result)
local Task_mt = core.Task_mt
local Timer = { __name = "weft.timer" }
Timer.__index = Timer
local Watch = { __name = "weft.watch" }
Watch.__index = Watch
local Work = { __name = "weft.work" }
Work.__index = Work

local current = nil -- the loop whose run (or close) is in progress

local RUN_MODE = { default = core.RUN_DEFAULT, once = core.RUN_ONCE, nowait = core.RUN_NOWAIT }
local OPTION = { thread_pool_size = core.OPT_THREAD_POOL_SIZE,
                 slow_callback_ns = core.OPT_SLOW_CALLBACK_NS }

--- Tasks: start them, suspend them, wait for them.
-- @section tasks

--- Starts a task: `fn(...)` as a coroutine resumed by the loop. Its first
-- step runs in the loop, never inside this call. The task runs to its end
-- whether or not you keep the returned object; keep it to cancel the task
-- or read its result. Hold the loop too: a task does not keep its loop
-- alive, and a collected loop is closed, cancelling its tasks.
-- @tparam function fn
-- @param ... its arguments
-- @treturn Task or nil, message, code
function M.spawn(fn, ...)
  local loop = current
  if not loop then error("weft.spawn: no running loop (call it inside weft.run)", 2) end
  return task_spawn(loop, fn, ...)
end

--- Runs `main(...)` as a task on a new loop until it finishes, then
-- cancels what is left and closes the loop (like `asyncio.run`).
-- @tparam function main
-- @return what main returned; raises what it raised (a string error gets
--   the task's traceback), `weft.Cancelled` if it was cancelled
function M.run(main, ...)
  if current then error("weft.run: a loop is already running in this thread", 2) end
  local loop, msg = M.loop()
  if not loop then error("weft.run: " .. msg, 2) end
  local task, err = loop:spawn(main, ...)
  if not task then
    loop:close()
    error("weft.run: " .. err, 2)
  end
  task:_stop_on_done()
  loop:run()
  loop:close()
  local code, _, e = task:_outcome()
  if code == 0 then return outcome(task:_outcome()) end
  check(code) -- raises weft.Cancelled / weft.Timeout
  if type(e) == "string" then error(task:traceback(e), 0) end
  error(e, 0)
end

--- The running loop, or nil.
function M.current_loop()
  return current
end

--- The task that calls it (raises outside a task).
-- @treturn Task
function M.current()
  if not isyieldable() then outside("current") end
  return yield(OP_SELF)
end

--- Suspends the task for `seconds` (0 lets the others run, like
-- `asyncio.sleep(0)`... but use `weft.yield` for that).
-- @tparam number seconds
-- @return true, or nil, message, code
function M.sleep(seconds)
  if type(seconds) ~= "number" then error("weft.sleep: number expected, got " .. type(seconds), 2) end
  if not isyieldable() then outside("sleep") end
  local st = yield(OP_SLEEP, seconds)
  if st == 0 then return true end
  return check(st)
end

--- Lets the other ready tasks run; resumes in the next iteration.
-- @return true
function M.yield()
  if not isyieldable() then outside("yield") end
  local st = yield(OP_YIELD)
  if st == 0 then return true end
  return check(st)
end

local function wait_fd(name, fd, events)
  if not isyieldable() then outside(name) end
  local st = yield(OP_FD, fd, events)
  if st > 0 then return st end
  return check(st)
end

--- Suspends the task until `fd` is ready.
-- @tparam integer fd
-- @param events 'r', 'w', 'rw' or a mask
-- @return the ready events mask (may include `weft.HANGUP`, `weft.ERROR`),
--   or nil, message, code
function M.wait_fd(fd, events)
  return wait_fd("wait_fd", fd, events_of(events))
end

--- Suspends the task until `fd` is readable (see `wait_fd`).
function M.readable(fd)
  return wait_fd("readable", fd, READABLE)
end

--- Suspends the task until `fd` is writable (see `wait_fd`).
function M.writable(fd)
  return wait_fd("writable", fd, WRITABLE)
end

-- The tasks args[i0..last] of a gather/first/as_completed call: Tasks, and
-- functions, spawned; what names an item in the error ("argument").
local function task_list(name, args, i0, last, what)
  local tasks = {}
  for i = i0, last do
    local t = args[i]
    if type(t) == "function" then
      local msg, code
      t, msg, code = M.spawn(t)
      if not t then return nil, msg, code end
    elseif getmetatable(t) ~= Task_mt then
      error(("weft.%s: %s %d is not a task or function"):format(name, what or "argument", i), 3)
    end
    tasks[#tasks + 1] = t
  end
  return tasks
end

--- Waits until every task has finished (functions are spawned first).
-- Without options, like `asyncio.gather`: cancelling the caller cancels only
-- its wait. With `{cancel_on_error = true}`, like a TaskGroup: the first
-- failure cancels the others, and the call returns once all finished.
-- Two forms: `gather([opts,] task_or_fn, ...)` and `gather(list[, opts])`.
-- @param ... tasks or functions, optionally after an options table; or a
--   list of them, optionally followed by the options
-- @return a table of each task's first result (`n` = count); or
--   nil, error, code of the first task that failed; raises
--   `weft.Cancelled` / `weft.Timeout` when the caller is interrupted
-- @usage local r = weft.gather(function() return 1 end, other_task)
-- local r2 = weft.gather(list_of_tasks, { cancel_on_error = true })
function M.gather(...)
  if not isyieldable() then outside("gather") end
  local args, opts, i0, what = pack(...), nil, 1, "argument"
  local last, a1 = args.n, args[1]
  if type(a1) == "table" and getmetatable(a1) == nil then
    if a1[1] ~= nil then -- a list
      if args.n > 2 or (args.n == 2 and type(args[2]) ~= "table") then
        error("weft.gather: a list of tasks may only be followed by an options table", 2)
      end
      args, opts, last, what = a1, args[2], #a1, "list item"
    else
      opts, i0 = a1, 2
    end
  end
  local flags = opts and opts.cancel_on_error and core.CANCEL_ON_ERROR or 0
  local tasks, msg, code = task_list("gather", args, i0, last, what)
  if not tasks then return nil, msg, code end
  local n = #tasks
  local st, mine = yield(OP_ALL, flags, tasks)
  if st == ECANCELED or st == ETIMEDOUT then
    -- a group's interruption is the caller's own unless a child's failure
    -- caused it: a cancel the caller was asked for, or a timeout no child had
    local own = flags == 0 or (st == ECANCELED and mine)
    if st == ETIMEDOUT and not own then
      own = true
      for i = 1, n do
        if tasks[i]:_outcome() == ETIMEDOUT then own = false end
      end
    end
    if own then return check(st) end
  elseif st < 0 and flags == 0 then
    return fail(st)
  end
  local results = { n = n }
  local ferr, fcode, fseq
  for i = 1, n do
    local code, seq, v = tasks[i]:_outcome()
    if code == 0 then
      results[i] = v
    elseif code == EBUSY then
      return fail(st < 0 and st or EBUSY) -- not awaited (the request failed)
    elseif not fseq or seq < fseq then
      ferr, fcode, fseq = code == EHOST and v or strerror(code), code, seq
    end
  end
  if fseq then return nil, ferr, fcode end
  return results
end

-- The deadline the innermost weft.timeout scope of each coroutine set, so
-- that leaving a scope restores the outer one (weft keeps one deadline per
-- task and says nothing of scopes).
local scopes = setmetatable({}, { __mode = "k" })

-- Jobs for the pool: a runner chunk and one string holding the function and
-- its arguments; the runner, in the pool thread's Lua state, answers with one
-- string holding the results. Values cross as nil, booleans, numbers, strings.
local CODEC = [[
local pack, unpack, select, type, mtype = string.pack, string.unpack, select, type, math.type
local function enc(...)
  local n = select("#", ...)
  local t = { pack("<j", n) }
  for i = 1, n do
    local v = select(i, ...)
    local k = mtype(v) or type(v)
    if k == "integer" then t[i + 1] = pack("<c1j", "i", v)
    elseif k == "float" then t[i + 1] = pack("<c1n", "d", v)
    elseif k == "string" then t[i + 1] = pack("<c1s4", "s", v)
    elseif k == "boolean" or k == "nil" then t[i + 1] = tostring(v):sub(1, 1) -- t, f, n
    else error(("cannot pass a %s value between Lua states (value %d)"):format(k, i), 0) end
  end
  return table.concat(t)
end
local function dec(s)
  local n, pos = unpack("<j", s)
  local out = {}
  for i = 1, n do
    local k = s:sub(pos, pos)
    if k == "i" or k == "d" or k == "s" then
      out[i], pos = unpack(k == "i" and "<j" or k == "d" and "<n" or "<s4", s, pos + 1)
    else
      if k ~= "n" then out[i] = k == "t" end
      pos = pos + 1
    end
  end
  return table.unpack(out, 1, n)
end
]]
local RUNNER = CODEC .. [[
local code = ...
return enc((function(chunk, ...) return assert(load(chunk, "=to_thread"))(...) end)(dec(code)))
]]
local encode, decode = load(CODEC .. "return enc, dec", "=weft.codec")()

local function new_job(fn, ...)
  if type(fn) == "function" then
    local up1, up2 = debug.getupvalue(fn, 1), debug.getupvalue(fn, 2)
    if up2 or (up1 and up1 ~= "_ENV") then
      error("weft.to_thread: the function must not use upvalues (they do not cross states)", 3)
    end
    fn = string.dump(fn)
  elseif type(fn) ~= "string" then
    error("weft.to_thread: function or string expected, got " .. type(fn), 3)
  end
  local ok, input = pcall(encode, fn, ...)
  if not ok then error("weft.to_thread: " .. input, 3) end
  return core.job_new(RUNNER, input)
end

-- What a job gives Lua once weft delivered `st`: its values, or nil,
-- message, code.
local function job_results(job, st)
  local status, out = job:output()
  if status == 1 and st >= 0 then return decode(out) end
  if status == 2 and st ~= ECANCELED and st ~= ETIMEDOUT then
    return nil, out or "to_thread: the chunk raised an error", st < 0 and st or EHOST
  end
  return fail(st < 0 and st or EINVAL)
end

--- Runs `fn(...)` in this task with a deadline (like `asyncio.timeout`):
-- when `seconds` pass, the await `fn` is suspended in raises `weft.Timeout`,
-- which this call turns into `nil, message, weft.ETIMEDOUT`. Timeouts nest;
-- an outer deadline that passes first is raised on to its own scope.
-- @tparam number seconds
-- @tparam function fn
-- @return what fn returned, or nil, message, `weft.ETIMEDOUT`; re-raises
--   any other error of fn
function M.timeout(seconds, fn, ...)
  if not isyieldable() then outside("timeout") end
  local co = running()
  local now = clock_ns()
  local ns = to_ns(seconds)
  if ns < 0 then return fail(EINVAL) end
  local mine = ns >= maxinteger - now and maxinteger or now + ns
  local outer = scopes[co]
  local eff = (outer and outer < mine) and outer or mine
  local rc = yield(OP_TIMEOUT, eff - now > 0 and eff - now or 1)
  if rc ~= 0 then return fail(rc) end
  scopes[co] = eff
  local r = pack(pcall(fn, ...))
  scopes[co] = outer
  now = clock_ns()
  local ours = outer == nil or mine <= outer
  if now >= eff and r[1] then
    -- the deadline passed as fn finished: a timeout may be waiting for the
    -- next await; take it here, where it belongs
    local st = yield(OP_YIELD)
    if st == ECANCELED then error(M.Cancelled, 0) end
    if st == ETIMEDOUT and not ours then error(M.Timeout, 0) end
  end
  yield(OP_TIMEOUT, outer and (outer - now > 0 and outer - now or 1) or 0)
  if r[1] then return unpack(r, 2, r.n) end
  local err = r[2]
  if err == M.Timeout and ours then return fail(ETIMEDOUT) end
  error(err, 0)
end

--- Runs `fn(...)` on the loop's thread pool and suspends the task until it
-- returns. `fn` runs in a separate Lua state owned by the pool thread (one
-- per thread, with the standard libraries, kept between jobs): it must not
-- use upvalues, and its arguments and results may only be nil, booleans,
-- numbers and strings. A string `fn` is a chunk (source or bytecode).
-- If the task is cancelled before a thread took the job, it never runs; if
-- it runs already, it completes first.
-- @return fn's results, or nil, message, code (`weft.EHOST` with the error
--   message and traceback if fn raised)
-- @usage local n = weft.to_thread(function(k) local s = 0 for i = 1, k do s = s + i end return s end, 1e8)
function M.to_thread(fn, ...)
  if not isyieldable() then outside("to_thread") end
  local job = new_job(fn, ...)
  local st = yield(OP_THREAD, job)
  if st == ECANCELED or st == ETIMEDOUT then return check(st) end
  return job_results(job, st)
end

--- Synchronisation between the tasks of one loop: `weft.Event`,
-- `weft.Semaphore`, `weft.Lock`, `weft.Queue` (asyncio's), and `weft.first`
-- / `weft.as_completed` to wait for the first of several tasks.
--
-- Each primitive belongs to the loop that runs when it is made (make it
-- inside `weft.run` or a loop's task) and lives until `free`, the loop's
-- close, or its collection: a primitive nobody holds any more is freed by
-- its `__gc` (a dropped queue's values go to `on_drop` then, once each). A
-- task waiting on one holds it, so it is never collected under its
-- waiters. Rules shared by all of them:
--
--  * FIFO hand-off: a release, set or put goes straight to the oldest
--    waiting task; a `try_` call fails with `weft.EAGAIN` while anyone waits.
--  * The awaits (`wait`, `acquire`, `put`, `get`, `first`): a task
--    interrupted before its grant takes nothing; one granted before the
--    interruption gets the grant (the permit, the lock, the item) from the
--    await, and the interruption from its next await.
--  * Freeing a primitive resumes its waiters with `nil, message,
--    weft.ECLOSED`; every other failure is `nil, message, code` too
--    (`weft.ESTALE` for a freed primitive, `weft.EPERM` off the loop thread).
-- @section sync
-- @usage
-- weft.run(function()
--   local q, sem = weft.Queue(20), weft.Semaphore(50)
--   local writer = weft.spawn(function()
--     while true do
--       local line, err, code = q:get()
--       if code == weft.ECLOSED then return end
--       io.write(line)
--     end
--   end)
--   for i = 1, 100 do sem:with(function() q:put(i .. "\n") end) end
--   q:close(); writer:result()
-- end)

local OP_EVENT, OP_SEM, OP_LOCK, OP_QPUT, OP_QGET, OP_FIRST =
  OP.EVENT, OP.SEM, OP.LOCK, OP.QPUT, OP.QGET, OP.FIRST
-- The running loop (which a new primitive, socket... belongs to); raises
-- outside one.
local function loop_or_error(name)
  local loop = current
  if not loop then error("weft." .. name .. ": no running loop (call it inside weft.run)", 3) end
  return loop
end

-- Suspends the task for a sync await on primitive p: true, or raise / nil,
-- message, code. p is an argument of this frame, not a tail call: it stays
-- on the waiting coroutine's stack, so what a task waits on stays reachable.
local function sync_await(name, op, p)
  if not isyieldable() then outside(name) end
  local st = yield(op, p.id)
  if st == 0 then return true end
  return check(st)
end

-- The `__gc` of every primitive: a dropped one is freed like `free()` (a
-- queue's values go to `on_drop`). Nothing when its loop is being
-- collected with it (the loop's close cancels the waiters first, then frees
-- it); on a closed loop the free fails harmlessly (the loop freed it).
local function collect(p)
  if loop_of[p] then p:free() end
end

-- Runs fn(...) holding what `release` gives back, also when fn raises.
local function scoped(release, fn, ...)
  local r = pack(pcall(fn, ...))
  release()
  if r[1] then return unpack(r, 2, r.n) end
  error(r[2], 0)
end

--- Event: a flag tasks wait for (asyncio.Event).
-- @type Event
local Event = { __name = "weft.Event", __gc = collect }
Event.__index = Event

--- `weft.Event()`: a new event of the running loop, initially clear.
-- @treturn Event or nil, message, code
-- @function Event
function M.Event()
  local loop = loop_or_error("Event")
  return handle(Event, loop, core.event_new(loop))
end

--- Sets the event: every waiting task resumes (in the order they waited).
-- @return true, or nil, message, code
function Event:set() return ok(core.event_set(self.loop, self.id)) end
--- Clears the event (tasks already resumed stay resumed).
-- @return true, or nil, message, code
function Event:clear() return ok(core.event_clear(self.loop, self.id)) end
--- Whether the event is set.
-- @treturn boolean or nil, message, code
function Event:is_set()
  local rc = core.event_is_set(self.loop, self.id)
  if rc < 0 then return fail(rc) end
  return rc == 1
end
--- Suspends the task until the event is set (in the next iteration if it is
-- set now).
-- @return true, or nil, message, code (`weft.ECLOSED` if freed while waiting)
function Event:wait() return sync_await("Event:wait", OP_EVENT, self) end
--- Frees the event: waiting tasks resume with `weft.ECLOSED`.
-- @return true, or nil, message, code
function Event:free() return ok(core.event_free(self.loop, self.id)) end

--- Semaphore: a count of permits (asyncio.Semaphore, BoundedSemaphore).
-- @type Semaphore
local Semaphore = { __name = "weft.Semaphore", __gc = collect }
Semaphore.__index = Semaphore

--- `weft.Semaphore(permits[, opts])`: a semaphore of the running loop
-- holding `permits` (an integer >= 0) permits. With `{bounded = true}`,
-- releasing beyond `permits` is an error (asyncio.BoundedSemaphore).
-- @treturn Semaphore or nil, message, code (`weft.EINVAL` for permits < 0)
-- @function Semaphore
function M.Semaphore(permits, opts)
  local loop = loop_or_error("Semaphore")
  if math.type(permits) ~= "integer" then error("weft.Semaphore: integer expected", 2) end
  local flags = opts and opts.bounded and core.SEMAPHORE_BOUNDED or 0
  return handle(Semaphore, loop, core.semaphore_new(loop, permits, flags))
end

--- Suspends the task until it holds a permit (at once if one is free and
-- nobody waits).
-- @return true, or nil, message, code (`weft.ECLOSED` if freed while waiting)
function Semaphore:acquire() return sync_await("Semaphore:acquire", OP_SEM, self) end
--- Takes a permit without waiting.
-- @return true, or nil, message, `weft.EAGAIN` (none free, or tasks wait)
function Semaphore:try_acquire() return ok(core.semaphore_try_acquire(self.loop, self.id)) end
--- Gives a permit back: to the oldest waiting task, or to the count. Any
-- code may release.
-- @return true, or nil, message, code (`weft.EINVAL` past a bounded
--   semaphore's initial count)
function Semaphore:release() return ok(core.semaphore_release(self.loop, self.id)) end
--- The number of free permits (0 while tasks wait).
-- @treturn integer or nil, message, code
function Semaphore:value()
  return value(core.semaphore_value(self.loop, self.id))
end
--- Frees the semaphore: waiting tasks resume with `weft.ECLOSED`.
-- @return true, or nil, message, code
function Semaphore:free() return ok(core.semaphore_free(self.loop, self.id)) end
--- Runs `fn(...)` holding a permit (like `async with sem:`): acquires,
-- calls, and releases when fn returns or raises.
-- @return what fn returned; nil, message, code if the permit could not be
--   had (fn did not run); re-raises what fn raised
function Semaphore:with(fn, ...)
  local got, msg, code = self:acquire()
  if not got then return nil, msg, code end
  return scoped(function() self:release() end, fn, ...)
end

--- Lock: mutual exclusion between tasks (asyncio.Lock), held by a task.
-- @type Lock
local Lock = { __name = "weft.Lock", __gc = collect }
Lock.__index = Lock

--- `weft.Lock()`: an unlocked lock of the running loop.
-- @treturn Lock or nil, message, code
-- @function Lock
function M.Lock()
  local loop = loop_or_error("Lock")
  return handle(Lock, loop, core.lock_new(loop))
end

-- The id of `task` (a Task, or the calling task when nil).
local function owner_id(name, task)
  if task == nil then
    if not isyieldable() then outside(name) end
    task = yield(OP_SELF)
  end
  if getmetatable(task) ~= Task_mt then error("weft." .. name .. ": task expected", 3) end
  return task:id()
end

--- Suspends the task until it holds the lock (at once if it is free and
-- nobody waits).
-- @return true, or nil, message, code (`weft.EINVAL` if the task holds it
--   already: locks are not reentrant; `weft.ECLOSED` if freed while waiting)
function Lock:acquire() return sync_await("Lock:acquire", OP_LOCK, self) end
--- Locks it for `task` (default: the calling task) without waiting.
-- @tparam[opt] Task task
-- @return true, or nil, message, code (`weft.EAGAIN` if held or awaited,
--   `weft.EINVAL` if task holds it already)
function Lock:try_acquire(task)
  return ok(core.lock_try_acquire(self.loop, self.id, owner_id("Lock:try_acquire", task)))
end
--- Unlocks it; `task` (default: the calling task) must hold it. The lock
-- passes to the oldest waiting task.
-- @tparam[opt] Task task
-- @return true, or nil, message, `weft.EINVAL` (task does not hold it)
function Lock:release(task)
  return ok(core.lock_release(self.loop, self.id, owner_id("Lock:release", task)))
end
--- Whether the lock is held.
-- @treturn boolean or nil, message, code
function Lock:locked()
  local rc, owner = core.lock_owner(self.loop, self.id)
  if rc < 0 then return fail(rc) end
  return owner ~= 0
end
--- The id of the task holding the lock (compare with `Task:id`), or false.
-- @return integer id, false, or nil, message, code
function Lock:owner()
  local rc, owner = core.lock_owner(self.loop, self.id)
  if rc < 0 then return fail(rc) end
  return owner ~= 0 and owner
end
--- Frees the lock (held or not): waiting tasks resume with `weft.ECLOSED`.
-- @return true, or nil, message, code
function Lock:free() return ok(core.lock_free(self.loop, self.id)) end
--- Runs `fn(...)` holding the lock (like `async with lock:`), as
-- `Semaphore:with` does with a permit; returns and raises as that does.
function Lock:with(fn, ...)
  local got, msg, code = self:acquire()
  if not got then return nil, msg, code end
  local me = yield(OP_SELF)
  return scoped(function() self:release(me) end, fn, ...)
end

--- Queue: a FIFO of Lua values between tasks (asyncio.Queue; closing is a
-- Go channel's close). Any Lua value, nil included, may be put; the queue
-- keeps each value in its own table under an integer item until a get
-- returns it or weft drops it (`close{immediate = true}`, `free`, the
-- loop's close): a dropped value goes to the `on_drop` function given at
-- creation, once, and the queue lets go of it.
-- @type Queue
local Queue = { __name = "weft.Queue", __gc = collect }
Queue.__index = Queue
local NIL = setmetatable({}, { __name = "weft.Queue nil" }) -- stands for a nil value

--- `weft.Queue([capacity[, opts]])`: a queue of the running loop holding at
-- most `capacity` values (an integer >= 1), or any number (0 or nil:
-- unbounded). `opts.on_drop(value)` is called once for each value weft
-- drops (errors it raises go to `weft.on_error`).
-- @treturn Queue or nil, message, code (`weft.EINVAL` for capacity < 0)
-- @function Queue
function M.Queue(capacity, opts)
  local loop = loop_or_error("Queue")
  capacity = capacity or 0
  if math.type(capacity) ~= "integer" then error("weft.Queue: integer capacity expected", 2) end
  local on_drop = opts and opts.on_drop
  if on_drop ~= nil and type(on_drop) ~= "function" then
    error("weft.Queue: on_drop must be a function", 2)
  end
  local values = {}
  local rc, id = core.queue_new(loop, capacity, function(item)
    local v = values[item]
    values[item] = nil
    if on_drop then
      if v == NIL then v = nil end
      on_drop(v)
    end
  end)
  return handle(Queue, loop, rc, id, { _values = values, _next = 0 })
end

-- Stores v under a new item; returns the item.
local function stash(q, v)
  local item = q._next + 1
  q._next = item
  q._values[item] = v == nil and NIL or v
  return item
end

local function take(q, item)
  local v = q._values[item]
  q._values[item] = nil
  if v == NIL then return nil end
  return v
end

--- Suspends the task until `value` is in the queue (handed to the oldest
-- waiting getter, or queued).
-- @return true, or nil, message, code (`weft.ECLOSED`: the queue is or got
--   closed); the value was not put unless it returns true
function Queue:put(value)
  if not isyieldable() then outside("Queue:put") end
  local item = stash(self, value)
  local st = yield(OP_QPUT, self.id, item)
  if st == 0 then return true end
  self._values[item] = nil
  return check(st)
end
--- Puts `value` without waiting.
-- @return true, or nil, message, code (`weft.EAGAIN` if full,
--   `weft.ECLOSED` if closed)
function Queue:try_put(value)
  local item = stash(self, value)
  local rc = core.queue_try_put(self.loop, self.id, item)
  if rc == 0 then return true end
  self._values[item] = nil
  return fail(rc)
end
--- Suspends the task until it took the oldest value.
-- @return the value (a nil value gives nil and no message), or nil,
--   message, code (`weft.ECLOSED` once the queue is closed and empty, or
--   freed); raises `weft.Cancelled` / `weft.Timeout` (nothing was taken)
function Queue:get()
  if not isyieldable() then outside("Queue:get") end
  local st, item = yield(OP_QGET, self.id)
  if st == 0 then return take(self, item) end
  return check(st)
end
--- Takes the oldest value without waiting.
-- @return the value, or nil, message, code (`weft.EAGAIN` if empty,
--   `weft.ECLOSED` if empty and closed)
function Queue:try_get()
  local rc, item = core.queue_try_get(self.loop, self.id)
  if rc < 0 then return fail(rc) end
  return take(self, item)
end
--- The number of queued values (waiting putters not counted).
-- @treturn integer or nil, message, code
function Queue:size()
  return value(core.queue_size(self.loop, self.id))
end
--- Closes the queue: puts fail with `weft.ECLOSED`, waiting putters resume
-- with it; gets take what is left, then fail with it. With
-- `{immediate = true}`, the queued values are dropped first (each to
-- `on_drop`, oldest first, before this returns).
-- @tparam[opt] table opts
-- @return true, or nil, message, code
function Queue:close(opts)
  local flags = opts and opts.immediate and core.QUEUE_IMMEDIATE or 0
  return ok(core.queue_close(self.loop, self.id, flags))
end
--- Frees the queue: waiting tasks resume with `weft.ECLOSED`, queued values
-- go to `on_drop`.
-- @return true, or nil, message, code
function Queue:free() return ok(core.queue_free(self.loop, self.id)) end

--- Waiting for the first of several tasks.
-- @section first

--- Suspends the task until the first of the given tasks finishes (like
-- `asyncio.wait(return_when=FIRST_COMPLETED)`); the others keep running.
-- Functions are spawned first. Also `weft.first(list)`.
-- @param ... tasks or functions (at least one), or one list of them
-- @return the index of the task that finished (the lowest among those
--   finished already) and that task; or nil, message, code (`weft.EINVAL`
--   for no tasks, `weft.ESTALE` for a task of a closed loop); raises
--   `weft.Cancelled` / `weft.Timeout` (only this wait ends)
-- @usage local i, t = weft.first(fetch_a, fetch_b)
-- print(i, t:result())
function M.first(...)
  if not isyieldable() then outside("first") end
  local args, n = pack(...), select("#", ...)
  if n == 1 and type(args[1]) == "table" and getmetatable(args[1]) == nil then
    args = args[1]; n = #args
  end
  if n == 0 then return fail(EINVAL) end
  local tasks, msg, code = task_list("first", args, 1, n)
  if not tasks then return nil, msg, code end
  local st = yield(OP_FIRST, tasks)
  if st >= 0 then return st + 1, tasks[st + 1] end
  return check(st)
end

--- An iterator over `list`'s tasks (or functions, spawned first) in the
-- order they finish (like `asyncio.as_completed`): each step suspends the
-- task until the next one finished and gives that task and its index in
-- `list`. A failure of the wait itself raises (an iterator cannot return
-- nil, message, code), as do `weft.Cancelled` / `weft.Timeout`.
-- @tparam table list
-- @usage for t, i in weft.as_completed { a, b, c } do print(i, t:result()) end
function M.as_completed(list)
  if type(list) ~= "table" then error("weft.as_completed: list expected", 2) end
  local tasks, msg = task_list("as_completed", list, 1, #list)
  if not tasks then error("weft.as_completed: " .. msg, 2) end
  local rest, index = {}, {}
  for i = 1, #tasks do rest[i], index[i] = tasks[i], i end
  return function()
    if #rest == 0 then return nil end
    local k, t, m = M.first(rest)
    if not k then error("weft.as_completed: " .. m, 2) end
    local i = index[k]
    table.remove(rest, k)
    table.remove(index, k)
    return t, i
  end
end

--- Callback style, on the running loop.
-- @section callbacks

--- `Loop:timer` on the running loop.
function M.timer(timeout, rep, cb)
  return loop_or_error("timer"):timer(timeout, rep, cb)
end

--- `Loop:watch` on the running loop.
function M.watch(fd, events, cb)
  return loop_or_error("watch"):watch(fd, events, cb)
end

--- `Loop:post` on the running loop.
function M.post(fn)
  return loop_or_error("post"):post(fn)
end

--- `Loop:work` on the running loop.
function M.work(done, fn, ...)
  return loop_or_error("work"):work(done, fn, ...)
end

--- The running loop's clock in seconds: cached at the start of the loop's
-- iteration (a fresh reading when no loop runs). See `weft.clock`.
function M.now()
  if current then return current:now() end
  return clock_ns() / 1e9
end

--- A fresh reading of weft's monotonic clock (CLOCK_MONOTONIC), in seconds
-- (a float, ns resolution): the clock timers and sleeps are measured on,
-- read at the call. `weft.clock_ns()` gives the same as integer ns.
-- @treturn number seconds
function M.clock()
  return clock_ns() / 1e9
end

--- `weft.clock_ns()`: like `weft.clock`, in integer nanoseconds.
-- @treturn integer ns
M.clock_ns = clock_ns

--- The running loop's counters (see `Loop:stats`).
function M.stats()
  return loop_or_error("stats"):stats()
end

--- Sockets and file descriptors.
-- Sockets are plain integer fds. The fds weft creates (`listen`,
-- `listen_unix`, `accept`, `connect`, `connect_unix`) are non-blocking,
-- close-on-exec and owned by weft: close them with `weft.close`. `recv` and
-- `send` also work on any other non-blocking stream fd (pipes, socketpairs).
-- The awaits are `accept`, `connect`, `connect_unix`, `recv` and `send`.
-- A failure other than an interruption is `nil, message, code` with a weft
-- code: `weft.ECONNREFUSED`, `weft.ENOTFOUND` (a name that does
-- not resolve), `weft.ECLOSED` (the fd was closed or shut down through weft
-- while the operation waited), `weft.EPIPE`, `weft.ECONNRESET`,
-- `weft.EADDRINUSE`, `weft.EMFILE`...
-- A loop closed with fds still open leaves them open: close them first.
-- @section sockets
-- @usage
-- weft.run(function()
--   local lfd = assert(weft.listen("127.0.0.1", 0))
--   local port = weft.port(lfd)
--   weft.spawn(function()
--     local c = assert(weft.accept(lfd))
--     weft.send(c, weft.recv(c)); weft.close(c)
--   end)
--   local fd = assert(weft.connect("localhost", port))
--   weft.send(fd, "hi"); print(weft.recv(fd)) --> hi
--   weft.close(fd); weft.close(lfd)
-- end)

local OP_ACCEPT, OP_CONNECT, OP_CONNECT_UNIX, OP_RECV, OP_SEND =
  OP.ACCEPT, OP.CONNECT, OP.CONNECT_UNIX, OP.RECV, OP.SEND
local buffer, buffer_string = core.buffer, core.buffer_string

-- An fd (or an await's result): the value if >= 0, else nil, message, code.
local function fd_or_fail(st)
  if st >= 0 then return st end
  return check(st)
end

local function checkfd(name, fd)
  if math.type(fd) ~= "integer" then
    error(("weft.%s: integer fd expected, got %s"):format(name, type(fd)), 3)
  end
end

--- Opens a TCP socket listening on `host`, `port` (on the running loop).
-- @tparam ?string host a numeric IPv4 or IPv6 address ("127.0.0.1",
--   "::1"), or nil for every address
-- @tparam integer port 0..65535; 0 lets the kernel choose (see `weft.port`)
-- @tparam[opt] table opts `reuseport` (boolean: SO_REUSEPORT, so that
--   several loops share the port), `backlog` (integer; default SOMAXCONN)
-- @treturn integer the listening fd, or nil, message, code (`weft.EINVAL`
--   for a host name or a bad port, `weft.EADDRINUSE`, `weft.EACCES`...)
function M.listen(host, port, opts)
  local loop = loop_or_error("listen")
  if host ~= nil and type(host) ~= "string" then error("weft.listen: host must be a string or nil", 2) end
  if math.type(port) ~= "integer" then error("weft.listen: integer port expected", 2) end
  opts = opts or {}
  return value(core.tcp_listen(loop, host, port, opts.backlog or 0,
                                   opts.reuseport and core.LISTEN_REUSEPORT or 0))
end

--- Opens a Unix stream socket listening on filesystem `path` (which must
-- not exist; unlink it when done: `os.remove(path)`).
-- @tparam string path
-- @tparam[opt] table opts `backlog` (integer; default SOMAXCONN)
-- @treturn integer the listening fd, or nil, message, code
--   (`weft.EADDRINUSE` when the path exists, `weft.ENAMETOOLONG`...)
function M.listen_unix(path, opts)
  local loop = loop_or_error("listen_unix")
  if type(path) ~= "string" then error("weft.listen_unix: string path expected", 2) end
  return value(core.unix_listen(loop, path, (opts or {}).backlog or 0))
end

--- The local port of TCP socket `fd` (a listener opened on port 0 gives the
-- port the kernel chose).
-- @tparam integer fd
-- @treturn integer 1..65535, or nil, message, code
function M.port(fd)
  checkfd("port", fd)
  return value(core.socket_port(loop_or_error("port"), fd))
end

--- Accepts a connection on listening socket `fd`, suspending the task until
-- one arrives.
-- @tparam integer fd
-- @treturn integer the connected fd (owned by weft), or nil, message, code
--   (`weft.EMFILE`: out of fds, the connection stays queued: free an fd or
--   wait before accepting again; `weft.ECLOSED`: the listener was closed)
function M.accept(fd)
  checkfd("accept", fd)
  if not isyieldable() then outside("accept") end
  return fd_or_fail(yield(OP_ACCEPT, fd))
end

--- Connects to `host`:`port`, suspending the task until connected. A name
-- is resolved on the loop's thread pool; each of its addresses is tried in
-- turn.
-- @tparam string host a numeric address or a host name
-- @tparam integer port 1..65535
-- @treturn integer the connected fd (owned by weft), or nil, message, code
--   (`weft.ECONNREFUSED`, `weft.ENOTFOUND` for a name that does not
--   resolve, `weft.EINVAL` for a bad port, `weft.ENETUNREACH`...)
function M.connect(host, port)
  if type(host) ~= "string" then error("weft.connect: string host expected", 2) end
  if math.type(port) ~= "integer" then error("weft.connect: integer port expected", 2) end
  if not isyieldable() then outside("connect") end
  return fd_or_fail(yield(OP_CONNECT, host, port))
end

--- Connects to the Unix stream socket at `path`.
-- @tparam string path
-- @treturn integer the connected fd (owned by weft), or nil, message, code
--   (`weft.ENOENT`, `weft.ECONNREFUSED`...)
function M.connect_unix(path)
  if type(path) ~= "string" then error("weft.connect_unix: string path expected", 2) end
  if not isyieldable() then outside("connect_unix") end
  return fd_or_fail(yield(OP_CONNECT_UNIX, path))
end

-- One receive buffer per coroutine, reused (a full userdata never moves;
-- the frame of `recv` holds it while the await is pending).
local buffers = setmetatable({}, { __mode = "k" })

--- Receives up to `max` bytes from stream fd `fd`, suspending the task until
-- at least one byte (or the end of the stream) is there.
-- @tparam integer fd a socket or another non-blocking stream fd
-- @tparam[opt=16384] integer max 1..2^31-1 (the coroutine's receive buffer
--   grows to the largest `max` it asked for and is kept for its next recv)
-- @treturn string the bytes; "" at end of stream; or nil, message, code
--   (`weft.ECONNRESET`, `weft.ECLOSED`: closed through weft meanwhile,
--   `weft.ENOTCONN`: a listening socket...)
function M.recv(fd, max)
  checkfd("recv", fd)
  max = max or 16384
  if math.type(max) ~= "integer" or max < 1 or max > 0x7fffffff then
    error("weft.recv: max must be an integer in 1..2^31-1", 2)
  end
  if not isyieldable() then outside("recv") end
  local co = running()
  local buf = buffers[co]
  if not buf or #buf < max then
    buf = buffer(max > 4096 and max or 4096)
    buffers[co] = buf
  end
  local n = yield(OP_RECV, fd, buf, max)
  if n < 0 then return check(n) end
  return buffer_string(buf, n)
end

--- Sends all of `s` (or `s:sub(i, j)`) on stream fd `fd`, suspending the
-- task whenever the kernel's buffer is full.
-- @tparam integer fd
-- @tparam string s
-- @tparam[opt=1] integer i
-- @tparam[opt=#s] integer j
-- @treturn integer the number of bytes sent (all of them); or nil, message,
--   code, sent: `sent` is how many bytes went before the failure
--   (`weft.EPIPE`, `weft.ECONNRESET`, `weft.ECLOSED`: closed or shut down
--   through weft meanwhile). A cancel or timeout raises as usual, and the
--   bytes it interrupted may have gone in part.
function M.send(fd, s, i, j)
  checkfd("send", fd)
  if type(s) ~= "string" then error("weft.send: string expected, got " .. type(s), 2) end
  i, j = i or 1, j or #s
  if i < 1 then i = 1 end
  if j > #s then j = #s end
  if j < i then return 0 end
  if not isyieldable() then outside("send") end
  local st, sent = yield(OP_SEND, fd, s, i, j)
  if st == 0 then return j - i + 1 end
  local _, msg, code = check(st)
  return nil, msg, code, sent or 0
end

--- Shuts down the write side of socket `fd`: the peer's `recv` sees the end
-- of the stream; receiving goes on. Pending sends fail with `weft.ECLOSED`.
-- @tparam integer fd
-- @return true, or nil, message, code
function M.shutdown(fd)
  checkfd("shutdown", fd)
  return ok(core.socket_shutdown(loop_or_error("shutdown"), fd))
end

--- Closes `fd`. On the running loop, through weft: every operation still
-- waiting on fd (in any task) fails with `weft.ECLOSED`; outside a loop,
-- with close(2). Stop the fd's watches first (`weft.EBUSY` otherwise).
-- @tparam integer fd
-- @return true, or nil, message, code
function M.close(fd)
  checkfd("close", fd)
  if not current then return core.close(fd) end
  return ok(core.socket_close(current, fd))
end

--- A connected pair of Unix stream sockets, non-blocking unless asked
-- (a convenience for tests and in-process pipes).
-- @tparam[opt=true] boolean nonblocking
-- @return fd1, fd2, or nil, message, code
M.socketpair = core.socketpair
--- A pipe: read end, write end (non-blocking unless asked).
M.pipe = core.pipe
--- `read(fd[, max=65536])`: one read(2) that never suspends: a string (""
-- at end of file), or nil, message, code (`weft.EAGAIN` when nothing is
-- there yet on a non-blocking fd).
M.read = core.read
--- `write(fd, s[, i[, j]])`: one write(2) that never suspends: bytes
-- written, or nil, message, code.
M.write = core.write
--- `set_nonblocking(fd[, on=true])`: true, or nil, message, code.
M.set_nonblocking = core.set_nonblocking

--- Loops of one's own.
-- @section loops

-- f(loop, ...) with loop as the running loop (weft.spawn & co. use it).
local function as_current(loop, f, ...)
  local prev = current
  current = loop
  local rc = f(loop, ...)
  current = prev
  return rc
end

--- Creates a loop.
-- @tparam[opt] table opts `thread_pool_size` (1..1024, default 4),
--   `slow_callback` (seconds; a callback or step longer than this is logged)
-- @return the loop, or nil, message, code
function M.loop(opts)
  local loop, msg, code = core.loop_new()
  if not loop then return nil, msg, code end
  core.loop_set_error_handler(loop, report)
  for name, v in pairs(opts or {}) do
    local rc = EINVAL
    if name == "thread_pool_size" then rc = core.loop_set_option(loop, OPTION[name], v) end
    if name == "slow_callback" then rc = core.loop_set_option(loop, OPTION.slow_callback_ns, to_ns(v)) end
    if rc < 0 then core.loop_free(loop); return fail(rc) end
  end
  return loop
end

--- A loop. `weft.run` makes one for you; make your own to drive the loop
-- step by step, embed it, or use callbacks only. Also closed by `__close`
-- and `__gc`.
-- @type Loop

--- Runs the loop on this thread.
-- @tparam[opt="default"] string mode "default" (until nothing is alive or
--   `stop`), "once" (one iteration, may block), "nowait" (one iteration)
-- @treturn boolean true if something is still alive, false if nothing is;
--   or nil, message, code (`EBUSY` when already running)
function Loop:run(mode)
  local m = RUN_MODE[mode or "default"]
  if not m then error("bad run mode '" .. tostring(mode) .. "'", 2) end
  local rc = as_current(self, core.loop_run, m)
  if rc < 0 then return fail(rc) end
  return rc == 1
end

--- Asks the running loop to return after the current iteration (or the next
-- run to return after its first).
function Loop:stop()
  core.loop_stop(self)
  return true
end

--- Frees the loop: cancels every unfinished task (each runs to its end on
-- this thread, with `weft.Cancelled` raised at its await), stops timers and
-- watches without calling them, runs pending posts, and releases every Lua
-- value the loop held. Closing a closed loop does nothing.
-- @return true, or nil, message, code (`EBUSY` while it runs)
function Loop:close()
  if self:closed() then return true end
  return ok(as_current(self, core.loop_free))
end

--- Whether the loop was closed.
function Loop:closed()
  return core.loop_now(self) < 0
end

--- Starts a task on this loop (see `weft.spawn`).
function Loop:spawn(fn, ...)
  return task_spawn(self, fn, ...)
end

--- The loop's clock in seconds (cached at the start of the iteration).
function Loop:now()
  return core.loop_now(self) / 1e9
end

--- A snapshot of the loop's counters, plus `refs` (Lua values held for live
-- handles, all kinds) and `errors` (errors reported so far).
function Loop:stats()
  local rc, st = core.loop_stats(self)
  if rc < 0 then return fail(rc) end
  st.refs = core.refs(self)
  st.errors = core.errors(self)
  return st
end

--- Sets an option before the loop runs: "thread_pool_size" or
-- "slow_callback_ns".
function Loop:set_option(name, value)
  local opt = OPTION[name] or name
  return ok(core.loop_set_option(self, opt, value))
end

--- Sets (or with nil clears) the logger: `fn(level, message)`, levels
-- `core.LOG_DEBUG`..`core.LOG_ERROR`.
function Loop:set_logger(fn)
  return ok(core.loop_set_logger(self, fn))
end

--- The epoll fd, to embed the loop in another one.
function Loop:backend_fd()
  return value(core.loop_backend_fd(self))
end

--- Seconds the embedder may block before the loop has work: 0 if work is
-- ready, nil if no timer is pending.
function Loop:next_timeout()
  local ns = core.loop_next_timeout(self)
  if ns < 0 then return nil end
  return ns / 1e9
end

--- Starts a timer: `cb(id)` after `timeout` seconds, then every `rep`
-- seconds if `rep` > 0, until stopped.
-- @tparam number timeout seconds
-- @tparam[opt=0] number rep seconds
-- @tparam function cb
-- @treturn Timer or nil, message, code
function Loop:timer(timeout, rep, cb)
  if type(rep) == "function" then rep, cb = 0, rep end
  return handle(Timer, self, core.timer_start(self, to_ns(timeout), to_ns(rep or 0), cb))
end

--- Watches an fd: `cb(id, events)` runs in every iteration in which the fd
-- is ready (level-triggered).
-- @tparam integer fd a socket, pipe... (not a regular file)
-- @param events 'r', 'w', 'rw' or a mask of `weft.READABLE|weft.WRITABLE`
-- @tparam function cb
-- @treturn Watch or nil, message, code
function Loop:watch(fd, events, cb)
  return handle(Watch, self, core.fd_watch_start(self, fd, events_of(events), cb))
end

--- Runs `fn()` once on the loop, in a later iteration (call_soon).
-- @return true, or nil, message, code
function Loop:post(fn)
  return ok(core.loop_post(self, fn))
end

--- Runs `fn(...)` on the loop's thread pool, in a Lua state of its own, then
-- `done(...)` on the loop with its results (or nil, message, code). See
-- `weft.to_thread` for what `fn` and the values may be.
-- @tparam[opt] function done
-- @param fn a function without upvalues, or a chunk (source or bytecode)
-- @treturn Work or nil, message, code
function Loop:work(done, fn, ...)
  local job = new_job(fn, ...)
  local cb = done and function(_, st) return done(job_results(job, st)) end
  return handle(Work, self, core.to_thread(self, job, cb))
end

--- A running timer (see `Loop:timer`).
-- @type Timer

--- Stops the timer; its callback will not run again.
-- @return true, or nil, message, code (`ESTALE` once stopped or fired)
function Timer:stop()
  return ok(core.timer_stop(self.loop, self.id))
end

--- A running fd watch (see `Loop:watch`).
-- @type Watch

--- Changes the events watched ('r', 'w', 'rw' or a mask).
function Watch:modify(events)
  return ok(core.fd_watch_modify(self.loop, self.id, events_of(events)))
end

--- Stops the watch; stop every watch on an fd before closing the fd.
function Watch:stop()
  return ok(core.fd_watch_stop(self.loop, self.id))
end

--- Pool work submitted in callback style (see `Loop:work`).
-- @type Work

--- Cancels the work if no pool thread has started it (its `done` then gets
-- nil, message, `weft.ECANCELED`).
-- @return true, or nil, message, code (`EBUSY` once started)
function Work:cancel()
  return ok(core.work_cancel(self.loop, self.id))
end

--- A task: a coroutine driven by the loop (see `weft.spawn`).
-- @type Task

--- Requests cooperative cancellation: the await the task is suspended in
-- raises `weft.Cancelled` (a task that has not started never runs; a
-- running task gets it at its next await). Cancelling a finished task
-- does nothing. (Implemented in C.)
-- @function Task:cancel
-- @return true, or nil, message, code

--- Sets the task's deadline `seconds` from now (0 clears it): the await it
-- is suspended in then raises `weft.Timeout`. (Implemented in C.)
-- @function Task:timeout
-- @tparam number seconds
-- @return true, or nil, message, code

--- "ready", "running", "waiting" or "done". (Implemented in C.)
-- @function Task:state

--- Whether the task finished (returned, raised or was cancelled).
-- @function Task:done

--- The task's weft id (an integer). The object owns it: it names the task,
-- finished or not, until the object is collected (its `__gc` releases it).
-- @function Task:id

--- The traceback of the task's coroutine (where it raised, for a task that
-- failed), with an optional message first.
-- @function Task:traceback

--- The task's outcome. Inside another task, waits until it finished;
-- elsewhere, an unfinished task gives nil, message, `weft.EBUSY`.
-- @return the values its function returned; or nil, error, code: the value
--   it raised with `weft.EHOST`, or a message with `weft.ECANCELED` /
--   `weft.ETIMEDOUT`
function Task:result()
  if not self:done() then
    if not isyieldable() then return fail(EBUSY) end
    local st = yield(OP_TASK, self)
    if st ~= 0 then return check(st) end
  end
  return outcome(self:_outcome())
end

--- Whether the task finished cancelled (`weft.Cancelled` escaped it, or it
-- was cancelled before it started).
function Task:cancelled()
  return (self:_outcome()) == ECANCELED
end

return M
