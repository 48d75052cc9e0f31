-- Socket operations (weft.listen ... weft.close) and their errors: success,
-- EOF, partial sends, close with operations pending, cancel and timeout of
-- every await, connect refused, name not found, misuse.
local weft = require "weft"

-- Runs fn inside weft.run; returns its results.
local function run(fn, ...) return weft.run(fn, ...) end

-- A listener on a free loopback port: fd, port.
local function listener(opts)
  local lfd = assert(weft.listen("127.0.0.1", 0, opts))
  return lfd, assert(weft.port(lfd))
end

-- A connected TCP pair: client fd, server fd, listener fd.
local function tcp_pair()
  local lfd, port = listener()
  local acc = weft.spawn(weft.accept, lfd)
  local c = assert(weft.connect("127.0.0.1", port))
  local s = assert(acc:result())
  return c, s, lfd
end

-- A listener whose accept queue is full (backlog 1, nobody accepts), so
-- that a further connect stays in progress: lfd, port, the connected fds.
local function full_listener()
  local lfd, port = listener { backlog = 1 }
  local fds = {}
  for _ = 1, 16 do
    local fd, _, code = weft.timeout(0.5, weft.connect, "127.0.0.1", port)
    if not fd then
      assert.are.equal(weft.ETIMEDOUT, code)
      return lfd, port, fds
    end
    fds[#fds + 1] = fd
  end
  error("the accept queue never filled")
end

-- A string bigger than a socket's buffers.
local BIG = string.rep("0123456789abcdef", 1 << 18) -- 4 MiB

describe("sockets", function()
  it("listen, port, connect, accept, send, recv, shutdown and close over TCP", function()
    run(function()
      local lfd, port = listener()
      assert.is_true(port >= 1 and port <= 65535)
      local server = weft.spawn(function()
        local fd = assert(weft.accept(lfd))
        local got = {}
        while true do
          local s = assert(weft.recv(fd, 3))
          if s == "" then break end -- EOF after the peer's shutdown
          got[#got + 1] = s
        end
        assert.are.equal(5, weft.send(fd, table.concat(got)))
        assert.is_true(weft.close(fd))
        return table.concat(got)
      end)
      local fd = assert(weft.connect("localhost", port)) -- a name: resolved on the pool
      assert.are.equal(3, weft.send(fd, "xhelloy", 2, 4))
      assert.are.equal(2, weft.send(fd, "lo"))
      assert.are.equal(0, weft.send(fd, ""))
      assert.is_true(weft.shutdown(fd))
      assert.are.equal("hello", server:result())
      local back = ""
      repeat back = back .. assert(weft.recv(fd)) until #back >= 5
      assert.are.equal("hello", back)
      assert.are.equal("", assert(weft.recv(fd)), "the server's end of stream")
      assert.is_true(weft.close(fd))
      assert.is_true(weft.close(lfd))
    end)
  end)

  it("listen_unix and connect_unix", function()
    local path = os.tmpname()
    os.remove(path)
    run(function()
      local lfd = assert(weft.listen_unix(path))
      assert.are.equal(weft.EADDRINUSE, select(3, weft.listen_unix(path)))
      local acc = weft.spawn(weft.accept, lfd)
      local c = assert(weft.connect_unix(path))
      local s = assert(acc:result())
      assert.are.equal(4, weft.send(c, "unix"))
      assert.are.equal("unix", weft.recv(s))
      weft.close(c); weft.close(s); weft.close(lfd)
      os.remove(path)
      assert.are.equal(weft.ENOENT, select(3, weft.connect_unix(path)))
      assert.are.equal(weft.ENAMETOOLONG, select(3, weft.listen_unix("/tmp/" .. string.rep("x", 200))))
    end)
    os.remove(path)
  end)

  it("listen: reuseport, address in use, bad host and port", function()
    run(function()
      local a = assert(weft.listen("127.0.0.1", 0, { reuseport = true }))
      local port = weft.port(a)
      local b = assert(weft.listen("127.0.0.1", port, { reuseport = true }))
      local v, msg, code = weft.listen("127.0.0.1", port)
      assert.is_nil(v)
      assert.is_string(msg)
      assert.are.equal(weft.EADDRINUSE, code)
      assert.are.equal(weft.EINVAL, select(3, weft.listen("localhost", 0))) -- names are not resolved
      assert.are.equal(weft.EINVAL, select(3, weft.listen("127.0.0.1", 70000)))
      weft.close(a); weft.close(b)
    end)
  end)

  it("connect: refused, name not found, bad port", function()
    run(function()
      local lfd, port = listener()
      weft.close(lfd)
      local v, msg, code = weft.connect("127.0.0.1", port)
      assert.is_nil(v)
      assert.is_string(msg)
      assert.are.equal(weft.ECONNREFUSED, code)
      assert.are.equal(weft.ENOTFOUND, select(3, weft.connect("no-such-host.invalid", 80)))
      assert.are.equal("WEFT_ENOTFOUND", weft.err_name(weft.ENOTFOUND))
      assert.are.equal(weft.EINVAL, select(3, weft.connect("127.0.0.1", 0)))
      assert.are.equal(weft.EINVAL, select(3, weft.connect("", 80)))
    end)
  end)

  it("recv and send errors: a listening socket, a closed fd, after shutdown", function()
    run(function()
      local c, s, lfd = tcp_pair()
      assert.are.equal(weft.ENOTCONN, select(3, weft.recv(lfd)))
      assert.is_true(weft.shutdown(c))
      local v, _, code, sent = weft.send(c, "x")
      assert.is_nil(v)
      assert.are.equal(weft.EPIPE, code)
      assert.are.equal(0, sent)
      assert.are.equal("", weft.recv(s)) -- EOF
      weft.close(s)
      assert.are.equal(weft.ECONNRESET == select(3, weft.send(c, "y")) or weft.EPIPE,
                       select(3, weft.send(c, "y")))
      assert.is_true(weft.close(c))
      assert.are.equal(weft.EBADF, select(3, weft.recv(c)))
      assert.are.equal(weft.EBADF, select(3, weft.send(c, "z")))
      assert.are.equal(weft.EBADF, select(3, weft.close(c)))
      assert.are.equal(weft.EBADF, select(3, weft.shutdown(c)))
      assert.are.equal(weft.EBADF, select(3, weft.port(c)))
      weft.close(lfd)
    end)
  end)

  it("close with an operation pending resolves it with ECLOSED (recv, accept)", function()
    run(function()
      local a, b = assert(weft.socketpair())
      local lfd = listener()
      local r = weft.spawn(weft.recv, a)
      local acc = weft.spawn(weft.accept, lfd)
      weft.yield() -- both are waiting now
      assert.are.equal("waiting", r:state())
      assert.are.equal("waiting", acc:state())
      assert.is_true(weft.close(a))
      assert.is_true(weft.close(lfd))
      assert.are.equal(weft.ECLOSED, select(3, r:result()))
      assert.are.equal(weft.ECLOSED, select(3, acc:result()))
      weft.close(b)
    end)
  end)

  it("a partial send reports its count when closed or shut down under it", function()
    run(function()
      for _, how in ipairs { "close", "shutdown" } do
        local c, s, lfd = tcp_pair()
        local t = weft.spawn(function() return select(3, weft.send(c, BIG)) end)
        local t2 = weft.spawn(function() local v, _, code, sent = weft.send(c, BIG); return v, code, sent end)
        weft.yield()
        assert.are.equal("waiting", t:state())
        weft[how](c)
        local r = table.pack(t2:result())
        assert.is_nil(r[1])
        assert.are.equal(weft.ECLOSED, r[2])
        assert.are.equal(weft.ECLOSED, t:result())
        weft.close(s)
        if how == "shutdown" then weft.close(c) end
        weft.close(lfd)
      end
      -- the count itself: one sender, stopped part way
      local c, s, lfd = tcp_pair()
      local t = weft.spawn(function() return weft.send(c, BIG) end)
      weft.yield() -- t starts its send
      weft.yield() -- after a poll: on io_uring a send moves bytes once submitted
      weft.shutdown(c)
      local v, _, code, sent = t:result()
      assert.is_nil(v)
      assert.are.equal(weft.ECLOSED, code)
      assert.is_true(sent > 0 and sent < #BIG, "sent " .. tostring(sent))
      -- what went is all there, in order, then the end of stream
      local got = 0
      while true do
        local chunk = assert(weft.recv(s, 65536))
        if chunk == "" then break end
        assert.are.equal(BIG:sub(got + 1, got + #chunk), chunk)
        got = got + #chunk
      end
      assert.are.equal(sent, got)
      weft.close(c); weft.close(s); weft.close(lfd)
    end)
  end)

  it("every await raises weft.Cancelled when its task is cancelled", function()
    run(function()
      local full, port, held = full_listener()
      local lfd = listener() -- nobody connects
      local a, b = assert(weft.socketpair())
      local c, d = assert(weft.socketpair())
      local ops = {
        accept = function() return weft.accept(lfd) end,
        recv = function() return weft.recv(a) end,
        send = function() return weft.send(d, BIG) end, -- nobody reads c
        connect = function() return weft.connect("127.0.0.1", port) end, -- queue full
      }
      for name, op in pairs(ops) do
        local t = weft.spawn(op)
        weft.yield()
        assert.are.equal("waiting", t:state(), name)
        assert.is_true(t:cancel())
        local v, _, code = t:result()
        assert.is_nil(v, name)
        assert.are.equal(weft.ECANCELED, code, name)
        assert.is_true(t:cancelled(), name)
      end
      for _, fd in ipairs(held) do weft.close(fd) end
      weft.close(a); weft.close(b); weft.close(c); weft.close(d); weft.close(lfd); weft.close(full)
    end)
  end)

  it("every await times out: nil, message, weft.ETIMEDOUT", function()
    run(function()
      local full, port, held = full_listener() -- the connect case is in there
      local lfd = listener() -- nobody connects
      local a, b = assert(weft.socketpair())
      local c, d = assert(weft.socketpair())
      local cases = {
        { weft.accept, lfd },
        { weft.recv, a },
        { weft.send, d, BIG },
        { weft.connect, "127.0.0.1", port },
      }
      for i, c in ipairs(cases) do
        local v, msg, code = weft.timeout(0.05, table.unpack(c))
        assert.is_nil(v, i)
        assert.is_string(msg)
        assert.are.equal(weft.ETIMEDOUT, code, i)
      end
      -- task:timeout raises weft.Timeout inside the task
      local t = weft.spawn(function() return weft.recv(a) end)
      t:timeout(0.05)
      assert.are.equal(weft.ETIMEDOUT, select(3, t:result()))
      for _, fd in ipairs(held) do weft.close(fd) end
      weft.close(a); weft.close(b); weft.close(c); weft.close(d); weft.close(lfd); weft.close(full)
    end)
  end)

  it("recv and send work on pipes too; close outside a loop is close(2)", function()
    local r, w = assert(weft.pipe())
    run(function()
      assert.are.equal(3, weft.send(w, "abc"))
      assert.are.equal("ab", weft.recv(r, 2))
      assert.are.equal("c", weft.recv(r))
      weft.close(w)
      assert.are.equal("", weft.recv(r))
    end)
    assert.is_true(weft.close(r))
    assert.are.equal(weft.EBADF, select(3, weft.close(r)))
  end)

  it("misuse raises: outside a task, outside a loop, bad arguments", function()
    local a, b = assert(weft.socketpair())
    assert.has_error(function() weft.recv(a) end)
    assert.has_error(function() weft.send(a, "x") end)
    assert.has_error(function() weft.accept(a) end)
    assert.has_error(function() weft.connect("127.0.0.1", 1) end)
    assert.has_error(function() weft.connect_unix("/nonexistent") end)
    assert.has_error(function() weft.listen("127.0.0.1", 0) end)
    assert.has_error(function() weft.listen_unix("/tmp/x") end)
    assert.has_error(function() weft.port(a) end)
    assert.has_error(function() weft.shutdown(a) end)
    run(function()
      assert.has_error(function() weft.recv("x") end)
      assert.has_error(function() weft.recv(a, 0) end)
      assert.has_error(function() weft.send(a, 5) end)
      assert.has_error(function() weft.connect(5, 5) end)
      assert.has_error(function() weft.listen(1, 0) end)
      assert.has_error(function() weft.listen("127.0.0.1", "x") end)
    end)
    weft.close(a); weft.close(b)
  end)

  it("maps the new codes to names", function()
    for _, k in ipairs { "ECONNREFUSED", "ENOTFOUND", "ECLOSED", "EMFILE", "EPIPE", "ECONNRESET",
                         "EADDRINUSE", "ENOENT", "ENOTCONN" } do
      assert.is_true(math.type(weft[k]) == "integer" and weft[k] < 0, k)
      assert.are.equal("WEFT_" .. k, weft.err_name(weft[k]))
    end
  end)
end)
