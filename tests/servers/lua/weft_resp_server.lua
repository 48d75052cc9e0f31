--- The comparison's RESP server in Lua on the weft binding: one weft task
-- (a coroutine) per connection, written as straight-line code with the
-- binding's socket awaits (weft.listen, weft.accept, weft.recv, weft.send,
-- weft.close); replies to one batch of input go in one send. The protocol
-- (PING, GET, SET as redis-server 7.0 answers them) is resp.lua's;
-- resp_server.lua is the same server on luv callbacks.
--
--     lua5.4 weft_resp_server.lua --port PORT [--host ADDR]
--
-- PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
-- Needs the weft module on LUA_PATH / LUA_CPATH (bindings/lua/?.lua and
-- <build>/bindings/lua/?.so).
local weft = require("weft")

-- The protocol and keyspace: resp.lua, beside this file.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local resp = require("resp")

local store = {}

--- One connection: receive, answer every complete request, send the
-- replies, until end of stream, an error or a protocol error.
local function serve(fd)
  local buf = ""
  while true do
    local chunk = weft.recv(fd)
    if not chunk or chunk == "" then break end -- an error, or end of stream
    local out, closing
    out, buf, closing = resp.process(store, buf .. chunk)
    if #out > 0 and not weft.send(fd, table.concat(out)) then break end
    if closing then break end
  end
  weft.close(fd)
end

local host, port = "127.0.0.1", nil
for i = 1, #arg, 2 do
  if arg[i] == "--port" then port = math.tointeger(tonumber(arg[i + 1]))
  elseif arg[i] == "--host" then host = arg[i + 1]
  else port = nil end
end
if not port or port < 0 or port > 65535 then
  io.stderr:write("usage: weft_resp_server.lua --port PORT [--host ADDR]\n")
  os.exit(2)
end

weft.run(function()
  local lfd, lerr = weft.listen(host, port)
  if not lfd then
    io.stderr:write(("weft_resp_server.lua: listen on %s:%d: %s\n"):format(host, port, lerr))
    os.exit(1)
  end
  print(("listening on %s:%d"):format(host, weft.port(lfd)))
  io.stdout:flush()
  while true do
    local fd, aerr, code = weft.accept(lfd)
    if fd then
      weft.spawn(serve, fd)
    elseif code == weft.EMFILE or code == weft.ENOMEM then
      weft.sleep(0.01) -- out of fds: the connection stays queued
    elseif code ~= weft.ECONNABORTED then
      io.stderr:write("weft_resp_server.lua: accept: ", tostring(aerr), "\n")
      os.exit(1)
    end
  end
end)
