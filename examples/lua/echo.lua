#!/usr/bin/env lua5.4
-- echo.lua -- weft-echo in Lua: a TCP echo server, and a client that opens
-- N connections at once; same arguments and output lines as the C weft-echo
-- (examples/echo), so each drives the other.
--
--   lua5.4 examples/lua/echo.lua serve PORT [--host ADDR]      (ADDR 127.0.0.1)
--   lua5.4 examples/lua/echo.lua client HOST PORT N [--timeout-ms T] (T 2000)
--   lua5.4 examples/lua/echo.lua          (both in one process, N = 20)
--
-- The server prints "listening on ADDR:PORT" and serves until killed, one
-- task per connection. The client sends a line on each connection, reads
-- the echo under the timeout, cancels the stragglers, prints
-- "echoed K/N in X ms" and exits 0 only when K = N.
-- (LUA_PATH="bindings/lua/?.lua;;" LUA_CPATH="build/bindings/lua/?.so;;")
local weft = require "weft"

local function echo(fd) -- one connection: every byte back, until EOF
  while true do
    local data = weft.recv(fd)
    if not data or data == "" or not weft.send(fd, data) then break end
  end
  weft.close(fd)
end

local function serve(host, port, ready)
  local lfd, err = weft.listen(host, port)
  if not lfd then
    io.stderr:write(("echo.lua: listen on %s:%d: %s\n"):format(host, port, err))
    os.exit(1)
  end
  print(("listening on %s:%d"):format(host, weft.port(lfd)))
  io.stdout:flush()
  if ready then ready(weft.port(lfd)) end
  while true do
    local fd, aerr = weft.accept(lfd)
    if fd then weft.spawn(echo, fd) else io.stderr:write("echo.lua: accept: ", aerr, "\n") weft.sleep(0.01) end
  end
end

local function one(host, port, i) -- true when the echo matched, else nil, err
  local fd, err = weft.connect(host, port)
  if not fd then return nil, err end
  local line, got = ("hello from connection %d\n"):format(i), ""
  local ok, serr = weft.send(fd, line)
  while ok and #got < #line do
    local s, rerr = weft.recv(fd, #line - #got)
    if s == "" then rerr = "closed before the whole echo came" end
    if not s or s == "" then ok, serr = nil, rerr else got = got .. s end
  end
  weft.close(fd)
  if ok and got ~= line then ok, serr = nil, "echo differs" end
  return ok, serr
end

local function client(host, port, n, timeout_ms)
  local t0, tasks = weft.clock(), {}
  for i = 1, n do tasks[i] = weft.spawn(one, host, port, i - 1) end
  if not weft.timeout(timeout_ms / 1000, weft.gather, tasks) then
    for _, t in ipairs(tasks) do t:cancel() end
    weft.gather(tasks)
  end
  local k, first = 0, nil
  for _, t in ipairs(tasks) do
    local ok, err = t:result()
    if ok then k = k + 1 else first = first or err end
  end
  print(("echoed %d/%d in %d ms"):format(k, n, (weft.clock() - t0) * 1000 // 1))
  if first then io.stderr:write("echo.lua: first failure: ", tostring(first), "\n") end
  return k == n
end

local function num(s, lo, hi)
  local v = math.tointeger(tonumber(s))
  return v and v >= lo and v <= hi and v or nil
end
local function usage()
  io.stderr:write("usage: echo.lua serve PORT [--host ADDR]\n",
                  "       echo.lua client HOST PORT N [--timeout-ms T]\n")
  os.exit(2)
end

local cmd = arg[1]
if cmd == "serve" then
  local port, host = num(arg[2], 0, 65535), "127.0.0.1"
  if not port or (#arg ~= 2 and (#arg ~= 4 or arg[3] ~= "--host")) then usage() end
  host = arg[4] or host
  weft.run(serve, host, port)
elseif cmd == "client" then
  local port, n, t = num(arg[3], 1, 65535), num(arg[4], 1, 1 << 30), 2000
  if #arg == 6 and arg[5] == "--timeout-ms" then t = num(arg[6], 0, 3600000)
  elseif #arg ~= 4 then usage() end
  if not (arg[2] and port and n and t) then usage() end
  os.exit(weft.run(client, arg[2], port, n, t) and 0 or 1)
elseif cmd == nil then -- both in one process
  os.exit(weft.run(function()
    local port
    local server = weft.spawn(serve, "127.0.0.1", 0, function(p) port = p end)
    while not port do weft.yield() end
    local ok = client("127.0.0.1", port, 20, 5000)
    server:cancel()
    return ok
  end) and 0 or 1)
else
  usage()
end
