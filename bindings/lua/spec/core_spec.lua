-- The raw SWIG module, weft.core: the C API as SWIG generated it.
local core = require "weft.core"

describe("weft.core constants and version", function()
  it("pushes constants as integers with the ABI values", function()
    local expect = {
      READABLE = 1, WRITABLE = 2, HANGUP = 4, ERROR = 8, PENDING = 0x7fffffff,
      CANCEL_ON_ERROR = 1, RUN_DEFAULT = 0, RUN_ONCE = 1, RUN_NOWAIT = 2,
      TASK_READY = 1, TASK_WAITING = 2, TASK_DONE = 3, TASK_RUNNING = 4,
      LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3,
      OPT_THREAD_POOL_SIZE = 1, OPT_SLOW_CALLBACK_NS = 2,
      EPERM = -1, EBADF = -9, EAGAIN = -11, ENOMEM = -12, EBUSY = -16, EEXIST = -17,
      EINVAL = -22, EMFILE = -24, ENOSPC = -28, ETIMEDOUT = -110, ESTALE = -116,
      ECANCELED = -125, EHOST = -1000,
    }
    for k, v in pairs(expect) do
      assert.are.equal(v, core[k], k)
      assert.are.equal("integer", math.type(core[k]), k)
    end
  end)

  it("reports the version as an integer and a string", function()
    assert.are.equal("integer", math.type(core.version()))
    assert.are.equal(core.VERSION, core.version())
    assert.are.equal(("%d.%d.%d"):format(core.VERSION_MAJOR, core.VERSION_MINOR, core.VERSION_PATCH),
      core.version_string())
  end)

  it("names and describes every code, also unknown ones", function()
    assert.are.equal("WEFT_ECANCELED", core.err_name(core.ECANCELED))
    assert.are.equal("operation canceled", core.strerror(core.ECANCELED))
    assert.is_string(core.strerror(-99999))
    assert.are.equal("WEFT_E?", core.err_name(-99999))
  end)

  it("leaves no SWIG helpers in the global table", function()
    assert.is_nil(rawget(_G, "swig_type"))
    assert.is_nil(rawget(_G, "swig_equals"))
  end)

  it("rejects numbers without an integer representation", function()
    local loop = core.loop_new()
    assert.has_error(function() core.loop_run(loop, 0.5) end)
    assert.has_error(function() core.loop_set_option(loop, "x", 1) end)
    -- int64 durations accept floats (truncated)
    local rc, id = core.timer_start(loop, 1.5e6, 0, function() end)
    assert.are.equal(0, rc)
    assert.are.equal(0, core.timer_stop(loop, id))
    assert.are.equal(0, core.loop_free(loop))
  end)

  it("rejects a non-loop where a loop is expected", function()
    assert.has_error(function() core.loop_stop({}) end)
    assert.has_error(function() core.loop_run(io.stdout, 0) end)
  end)
end)

describe("weft.core loop", function()
  local loop
  before_each(function() loop = assert(core.loop_new()) end)
  after_each(function() if core.loop_now(loop) >= 0 then core.loop_free(loop) end end)

  it("runs an empty loop and returns 0 in every mode", function()
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.equal(0, core.loop_run(loop, core.RUN_ONCE))
    assert.are.equal(0, core.loop_run(loop, core.RUN_NOWAIT))
    assert.are.equal(core.EINVAL, core.loop_run(loop, 7))
  end)

  it("gives integer clocks, stats, backend fd and next timeout", function()
    local now = core.loop_now(loop)
    assert.are.equal("integer", math.type(now))
    assert.is_true(now > 0)
    local rc, st = core.loop_stats(loop)
    assert.are.equal(0, rc)
    for _, f in ipairs { "iterations", "tasks_alive", "tasks_ready", "timers_active",
                         "fd_watches_active", "work_queued", "work_running", "work_ns",
                         "slow_callbacks", "posts" } do
      assert.are.equal("integer", math.type(st[f]), f)
    end
    assert.is_true(core.loop_backend_fd(loop) >= 0)
    assert.are.equal(-1, core.loop_next_timeout(loop))
    assert.are.equal(0, core.loop_stop(loop))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.is_true(core.clock_ns() >= now)
  end)

  it("sets options and rejects bad ones", function()
    assert.are.equal(0, core.loop_set_option(loop, core.OPT_THREAD_POOL_SIZE, 2))
    assert.are.equal(core.EINVAL, core.loop_set_option(loop, core.OPT_THREAD_POOL_SIZE, 0))
    assert.are.equal(core.EINVAL, core.loop_set_option(loop, 99, 1))
    assert.are.equal(0, core.loop_set_option(loop, core.OPT_SLOW_CALLBACK_NS, 0))
  end)

  it("returns EINVAL on a freed loop instead of crashing", function()
    assert.are.equal(0, core.loop_free(loop))
    assert.are.equal(core.EINVAL, core.loop_free(loop))
    assert.are.equal(core.EINVAL, core.loop_run(loop, 0))
    assert.are.equal(core.EINVAL, core.loop_stop(loop))
    assert.is_true(core.loop_now(loop) < 0)
    assert.are.equal(core.EINVAL, (core.timer_start(loop, 0, 0, function() end)))
    assert.are.equal(core.EINVAL, core.loop_post(loop, function() end))
    assert.is_nil((core.task_spawn(loop, function() end)))
    assert.are.equal(core.EINVAL, core.timer_stop(loop, 1))
  end)

  it("starts, fires and stops timers; ids go stale", function()
    local fired = {}
    local rc, id = core.timer_start(loop, 0, 0, function(tid) fired[#fired + 1] = tid end)
    assert.are.equal(0, rc)
    assert.are.equal("integer", math.type(id))
    assert.are.equal(1, core.live(loop, core.KIND_TIMER))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ id }, fired)
    assert.are.equal(0, core.live(loop, core.KIND_TIMER))
    assert.are.equal(core.ESTALE, core.timer_stop(loop, id))
    local rc2, id2 = core.timer_start(loop, 1e9, 0, function() error("must not run") end)
    assert.are.equal(0, rc2)
    assert.are.equal(0, core.timer_stop(loop, id2))
    assert.are.equal(core.ESTALE, core.timer_stop(loop, id2))
    assert.are.equal(0, core.live(loop, -1))
    assert.are.equal(core.EINVAL, (core.timer_start(loop, -1, 0, function() end)))
    assert.are.equal(core.ESTALE, core.timer_stop(loop, 0))
    assert.are.equal(0, core.live(loop, -1))
    assert.has_error(function() core.timer_start(loop, 0, 0, "not a function") end)
  end)

  it("finds every handle by id after many stops in random order", function()
    local ids = {}
    for i = 1, 5000 do
      local rc, id = core.timer_start(loop, 3600e9, 3600e9, function() end)
      assert(rc == 0)
      ids[i] = id
    end
    math.randomseed(42)
    for i = #ids, 2, -1 do
      local j = math.random(i)
      ids[i], ids[j] = ids[j], ids[i]
    end
    for i = 1, #ids do
      assert.are.equal(0, core.timer_stop(loop, ids[i]))
      assert.are.equal(#ids - i, core.live(loop, core.KIND_TIMER))
      if i % 1000 == 0 then -- interleave fresh inserts with the deletions
        local _, id = core.timer_start(loop, 3600e9, 0, function() end)
        assert.are.equal(0, core.timer_stop(loop, id))
      end
    end
    for i = 1, #ids do assert.are.equal(core.ESTALE, core.timer_stop(loop, ids[i])) end
    assert.are.equal(0, core.live(loop, -1))
  end)

  it("lets a repeating timer stop itself from its callback", function()
    local n, id = 0, nil
    local rc
    rc, id = core.timer_start(loop, 0, 1000, function(tid)
      n = n + 1
      if n == 5 then assert(core.timer_stop(loop, tid) == 0) end
    end)
    assert.are.equal(0, rc)
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.equal(5, n)
    assert.are.equal(0, core.live(loop, -1))
  end)

  it("runs posts once, in order", function()
    local seen = {}
    for i = 1, 3 do assert.are.equal(0, core.loop_post(loop, function() seen[#seen + 1] = i end)) end
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ 1, 2, 3 }, seen)
    assert.are.equal(0, core.live(loop, -1))
  end)

  it("watches fds and reports bad ones", function()
    local a, b = core.socketpair()
    local got
    local rc, id = core.fd_watch_start(loop, a, core.READABLE, function(wid, ev)
      got = ev
      assert(core.fd_watch_stop(loop, wid) == 0)
    end)
    assert.are.equal(0, rc)
    assert.are.equal(1, core.write(b, "x"))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.equal(core.READABLE, got & core.READABLE)
    assert.are.equal(core.ESTALE, core.fd_watch_stop(loop, id))
    assert.are.equal(core.EINVAL, (core.fd_watch_start(loop, a, 0, function() end)))
    assert.are.equal(core.EINVAL, (core.fd_watch_start(loop, a, 16, function() end)))
    assert.are.equal(core.EBADF, (core.fd_watch_start(loop, 99999, 1, function() end)))
    -- a closed fd that was never watched
    local c, d = core.socketpair()
    core.close(c); core.close(d)
    assert.are.equal(core.EBADF, (core.fd_watch_start(loop, c, 1, function() end)))
    core.close(a)
    core.close(b)
    assert.are.equal(0, core.live(loop, -1))
  end)

  it("modifies a watch", function()
    local a, b = core.socketpair()
    local evs = {}
    local _, id = core.fd_watch_start(loop, a, core.WRITABLE, function(wid, ev)
      evs[#evs + 1] = ev
      if #evs == 1 then
        assert(core.fd_watch_modify(loop, wid, core.READABLE) == 0)
        core.write(b, "y")
      else
        core.fd_watch_stop(loop, wid)
      end
    end)
    assert.are.equal(core.EINVAL, core.fd_watch_modify(loop, id, 0))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.equal(core.WRITABLE, evs[1] & 3)
    assert.are.equal(core.READABLE, evs[2] & 3)
    assert.are.equal(core.ESTALE, core.fd_watch_modify(loop, id, 1))
    core.close(a); core.close(b)
  end)

  it("delivers to_thread work to its done callback", function()
    -- raw jobs are a chunk and one input string; the chunk returns a string
    local got
    local job = core.job_new("local s = ... return s .. '!'", "hi")
    local rc, id = core.to_thread(loop, job, function(wid, result) got = { wid, result } end)
    assert.are.equal(0, rc)
    assert.are.equal(core.EBUSY, (core.to_thread(loop, job, nil)))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ id, 0 }, got)
    assert.are.same({ 1, "hi!" }, { job:output() })
    assert.are.equal(core.ESTALE, core.work_cancel(loop, id))
    local bad = core.job_new("error('no')", "")
    assert.are.equal(0, (core.to_thread(loop, bad, nil))) -- done may be nil
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    local status, msg = bad:output()
    assert.are.equal(2, status)
    assert.matches("no", msg)
    assert.are.equal(0, core.live(loop, -1))
    assert.are.equal(2, core.released(loop, core.KIND_WORK))
  end)

  it("spawns raw tasks and handles their ids", function()
    local t = core.task_spawn(loop, function(x) coroutine.yield(core.op.SLEEP, 0); return x * 2 end, 21)
    local id = t:id()
    assert.are.equal(core.TASK_READY, core.task_state(loop, id))
    assert.are.equal(core.EBUSY, (core.task_result(loop, id)))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ 0, 1, 42 }, { t:_outcome() }) -- result, finish order, values
    -- the task object owns the id: it names the finished task while the
    -- object lives, and goes stale once the collector released it
    assert.are.equal(core.TASK_DONE, core.task_state(loop, id))
    assert.are.equal(0, core.task_cancel(loop, id))
    assert.are.equal(0, core.task_timeout(loop, id, 1))
    local released = core.released(loop, core.KIND_TASK)
    t = nil
    collectgarbage(); collectgarbage()
    assert.are.equal(released + 1, core.released(loop, core.KIND_TASK))
    assert.are.equal(core.ESTALE, core.task_state(loop, id))
    assert.are.equal(core.ESTALE, core.task_cancel(loop, id))
    assert.are.equal(core.ESTALE, core.task_timeout(loop, id, 1))
    assert.are.equal(core.ESTALE, core.task_state(loop, 12345))
    local t2 = core.task_spawn(loop, function() coroutine.yield(core.op.SLEEP, 10) end)
    assert.are.equal(0, core.task_cancel(loop, t2:id()))
    assert.are.equal(core.EINVAL, core.task_timeout(loop, t2:id(), -1))
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.equal(core.ECANCELED, (t2:_outcome()))
    assert.are.equal(1, core.live(loop, -1)) -- t2's, until t2 is collected
    t2 = nil
    collectgarbage(); collectgarbage()
    assert.are.equal(0, core.live(loop, -1))
  end)

  it("keeps what a raw await names alive while it waits", function()
    local results = {}
    -- collects garbage in every iteration while the others wait
    local gc = core.task_spawn(loop, function()
      for _ = 1, 20 do collectgarbage(); coroutine.yield() end
    end)
    core.task_spawn(loop, function()
      local f = function() coroutine.yield(); return 1 end
      -- nothing but the request refers to these tasks and this job
      results[1] = coroutine.yield(core.op.ALL, 0, { core.task_spawn(loop, f), core.task_spawn(loop, f) })
      results[2] = coroutine.yield(core.op.TASK, core.task_spawn(loop, f))
      results[3] = coroutine.yield(core.op.THREAD, core.job_new(
        "local x = 0 for i = 1, 1e5 do x = x + i end return tostring(x)", ""))
    end)
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ 0, 0, 0 }, results)
    assert.is_true(gc:done())
  end)

  it("answers a bad await request with EINVAL instead of failing", function()
    local got = {}
    core.task_spawn(loop, function()
      got[1] = coroutine.yield(999)
      got[2] = coroutine.yield("sleep")
      got[3] = coroutine.yield(core.op.FD, "x", 1)
      got[4] = coroutine.yield(core.op.TASK, {})
      got[5] = coroutine.yield(core.op.ALL, 0, { 1 })
      got[6] = coroutine.yield(core.op.THREAD, {})
      got[7] = coroutine.yield() -- a bare yield is weft.yield
    end)
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ core.EINVAL, core.EINVAL, core.EINVAL, core.EINVAL, core.EINVAL,
                      core.EINVAL, 0 }, got)
  end)

  it("answers out-of-range arguments of every await request with EINVAL", function()
    local op, got, buf = core.op, {}, core.buffer(8)
    local bad = {
      { op.FD, -1, 1 }, { op.FD, 0, 1 << 31 }, { op.FD, 0, 1.5 },
      { op.ALL, -1, {} }, { op.ALL, 1 << 31, {} }, { op.TIMEOUT, "x" },
      { op.ACCEPT, 1 << 31 }, { op.ACCEPT, "x" }, { op.CONNECT, 1, 80 },
      { op.CONNECT, "localhost", 1 << 31 }, { op.RECV, 0, buf, 0 }, { op.RECV, 0, "s", 8 },
      { op.RECV, -(1 << 31) - 1, buf, 8 }, { op.SEND, 0, "abc", 0, 2 }, { op.SEND, 0, "abc", 2, 1 },
      { op.SEND, 0, "abc", 1, 4 }, { op.SEND, 0, "", 1, 1 }, { op.SEND, 1 << 31, "abc", 1, 3 },
      { op.EVENT, 1.5 }, { op.SEM, "x" }, { op.LOCK }, { op.QPUT, 1, 0.5 }, { op.QGET, {} },
    }
    core.task_spawn(loop, function()
      for i, req in ipairs(bad) do got[i] = coroutine.yield(table.unpack(req, 1, 5)) end
    end)
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    for i = 1, #bad do assert.are.equal(core.EINVAL, got[i], "request " .. i) end
  end)

  it("calls the logger and the error handler", function()
    local errs = {}
    assert.are.equal(0, core.loop_set_error_handler(loop, function(e, where) errs[#errs + 1] = where end))
    assert.are.equal(0, core.loop_set_logger(loop, function() end))
    assert.are.equal(0, core.loop_set_logger(loop, nil))
    core.loop_post(loop, function() error("x") end)
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.same({ "posted callback" }, errs)
    assert.are.equal(1, core.errors(loop))
  end)

  it("frees a loop from its __gc and __close", function()
    do
      local l <close> = core.loop_new()
      core.timer_start(l, 1e9, 1e9, function() end)
    end
    local l2 = core.loop_new()
    core.timer_start(l2, 1e9, 0, function() end)
    l2 = nil
    collectgarbage(); collectgarbage()
  end)

  it("refuses run and free from inside a callback (EBUSY)", function()
    local r1, r2
    core.loop_post(loop, function()
      r1 = core.loop_run(loop, core.RUN_DEFAULT)
      r2 = core.loop_free(loop)
    end)
    assert.are.equal(0, core.loop_run(loop, core.RUN_DEFAULT))
    assert.are.equal(core.EBUSY, r1)
    assert.are.equal(core.EBUSY, r2)
  end)
end)

describe("an error no handler takes", function()
  it("goes to stderr, also when the error handler itself fails", function()
    local script = [[
      local core = require "weft.core"
      local loop = core.loop_new()
      core.loop_post(loop, function() error("first", 0) end)
      core.loop_post(loop, function() error({}) end)
      core.loop_run(loop, core.RUN_DEFAULT)
      core.loop_set_error_handler(loop, function() error("handler broke", 0) end)
      core.loop_post(loop, function() error("third", 0) end)
      core.loop_run(loop, core.RUN_DEFAULT)
      core.loop_free(loop)
    ]]
    local p = io.popen("lua5.4 - 2>&1 <<'EOS'\n" .. script .. "\nEOS\n")
    local out = p:read("a")
    p:close()
    assert.matches("^weft: error in posted callback: first\nstack traceback:\n", out)
    assert.matches("\nweft: error in posted callback: %(not a string%)\n"
      .. "weft: error in posted callback; the error handler failed: handler broke\n$", out)
  end)
end)
