-- Sockets through real socketpairs: the socket helpers, fd awaits, watches.
local weft = require "weft"

describe("socket helpers", function()
  it("read, write, close and set non-blocking", function()
    local a, b = assert(weft.socketpair())
    assert.are.equal("integer", math.type(a))
    assert.are.equal(5, weft.write(b, "hello"))
    assert.are.equal("hel", weft.read(a, 3))
    assert.are.equal("lo", weft.read(a))
    local v, msg, code = weft.read(a)
    assert.is_nil(v)
    assert.is_string(msg)
    assert.are.equal(weft.EAGAIN, code)
    assert.are.equal(2, weft.write(b, "abcdef", 2, 3))
    assert.are.equal("bc", weft.read(a))
    assert.are.equal(0, weft.write(b, "abc", 3, 2))
    assert.are.equal(3, weft.write(b, "a\0b"))
    assert.are.equal("a\0b", weft.read(a))
    assert.is_true(weft.set_nonblocking(a, false))
    assert.is_true(weft.set_nonblocking(a, true))
    assert.is_true(weft.close(b))
    assert.are.equal("", weft.read(a)) -- end of file
    assert.is_true(weft.close(a))
    assert.are.equal(weft.EBADF, select(3, weft.close(a)))
    assert.are.equal(weft.EBADF, select(3, weft.read(a)))
    assert.are.equal(weft.EBADF, select(3, weft.write(a, "x")))
    assert.has_error(function() weft.read(-1) end)
    assert.has_error(function() weft.write(1) end)
  end)

  it("make blocking pairs and pipes on request", function()
    local a, b = weft.socketpair(false)
    weft.write(b, "z")
    assert.are.equal("z", weft.read(a))
    weft.close(a); weft.close(b)
    local r, w = assert(weft.pipe())
    assert.are.equal(1, weft.write(w, "p"))
    assert.are.equal("p", weft.read(r))
    weft.close(r); weft.close(w)
  end)
end)

describe("fd awaits", function()
  it("bounce a message K times over a socketpair", function()
    local K = 200
    weft.run(function()
      local a, b = weft.socketpair()
      local pong = weft.spawn(function()
        for _ = 1, K do
          local s = weft.recv(b, 16)
          assert(weft.send(b, s) == #s)
        end
        return "pong done"
      end)
      for i = 1, K do
        local msg = ("m%d"):format(i % 10)
        assert.are.equal(#msg, weft.send(a, msg))
        assert.are.equal(msg, weft.recv(a, 16))
      end
      assert.are.equal("pong done", pong:result())
      weft.close(a); weft.close(b)
    end)
  end)

  it("serve many socketpairs at once", function()
    local P, K = 50, 20
    weft.run(function()
      local ts = {}
      for i = 1, P do
        local a, b = assert(weft.socketpair())
        ts[#ts + 1] = weft.spawn(function()
          for _ = 1, K do weft.recv(b, 1); weft.send(b, "y") end
        end)
        ts[#ts + 1] = weft.spawn(function()
          for _ = 1, K do weft.send(a, "x"); weft.recv(a, 1) end
          weft.close(a); weft.close(b)
          return i
        end)
      end
      local r = weft.gather(table.unpack(ts))
      assert.are.equal(2 * P, r.n)
      assert.are.equal(P, r[2 * P])
    end)
  end)

  it("report readiness masks, writability and hangup", function()
    weft.run(function()
      local a, b = weft.socketpair()
      assert.are.equal(weft.WRITABLE, weft.writable(a) & weft.WRITABLE)
      assert.are.equal(weft.WRITABLE, weft.wait_fd(a, "w") & weft.WRITABLE)
      weft.close(b)
      local ev = weft.readable(a)
      assert.is_true(ev & (weft.READABLE | weft.HANGUP) ~= 0)
      assert.are.equal("", weft.read(a))
      weft.close(a)
    end)
  end)

  it("return nil, message, code for bad fds and events", function()
    weft.run(function()
      local v, msg, code = weft.readable(999999)
      assert.is_nil(v)
      assert.is_string(msg)
      assert.are.equal(weft.EBADF, code)
      local a, b = weft.socketpair()
      assert.are.equal(weft.EINVAL, select(3, weft.wait_fd(a, 0)))
      assert.has_error(function() weft.wait_fd(a, "x") end)
      weft.close(a); weft.close(b)
    end)
  end)

  it("let readers and writers of one fd wait at once", function()
    weft.run(function()
      local a, b = weft.socketpair()
      local r = weft.spawn(function() return weft.readable(a) end)
      local w = weft.spawn(function() return weft.writable(a) end)
      weft.sleep(0.001)
      weft.write(b, "x")
      assert.are.equal(weft.READABLE, r:result() & 3)
      assert.are.equal(weft.WRITABLE, w:result() & 3)
      weft.close(a); weft.close(b)
    end)
  end)

  it("can be cancelled and timed out while waiting", function()
    weft.run(function()
      local a, b = weft.socketpair()
      local t = weft.spawn(function() return weft.readable(a) end)
      weft.yield()
      t:cancel()
      assert.are.equal(weft.ECANCELED, select(3, t:result()))
      assert.are.equal(weft.ETIMEDOUT,
        select(3, weft.timeout(0.005, function() return weft.readable(a) end)))
      weft.close(a); weft.close(b)
    end)
  end)
end)

describe("fd watches", function()
  it("run ping-pong in callback style", function()
    local K, count = 100, 0
    weft.run(function()
      local a, b = weft.socketpair()
      local wa, wb
      wb = weft.watch(b, "r", function(id, ev)
        assert.are.equal(wb.id, id)
        assert.are.equal(weft.READABLE, ev & weft.READABLE)
        weft.write(b, weft.read(b))
      end)
      wa = weft.watch(a, weft.READABLE, function()
        weft.read(a)
        count = count + 1
        if count == K then
          wa:stop(); wb:stop()
        else
          weft.write(a, "p")
        end
      end)
      weft.write(a, "p")
      while count < K do weft.sleep(0.001) end
      weft.close(a); weft.close(b)
    end)
    assert.are.equal(K, count)
  end)

  it("modify their events and refuse bad ones", function()
    weft.run(function()
      local a, b = weft.socketpair()
      local seen = {}
      local w
      w = weft.watch(a, "w", function(_, ev)
        seen[#seen + 1] = ev & 3
        if #seen == 1 then
          assert(w:modify("r"))
          weft.write(b, "x")
        else
          w:stop()
        end
      end)
      weft.sleep(0.01)
      assert.are.same({ weft.WRITABLE, weft.READABLE }, seen)
      assert.are.equal(weft.ESTALE, select(3, w:modify("rw")))
      assert.are.equal(weft.EBADF, select(3, weft.watch(999999, "r", function() end)))
      assert.has_error(function() weft.watch(a, "q", function() end) end)
      weft.close(a); weft.close(b)
    end)
  end)
end)
