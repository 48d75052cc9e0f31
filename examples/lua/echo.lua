#!/usr/bin/env lua5.4
-- echo.lua -- an echo "server" and its clients over socketpairs: each
-- connection is a task that waits for its fd, as in an asyncio server.
--
--   LUA_PATH="bindings/lua/?.lua;;" LUA_CPATH="build/bindings/lua/?.so;;" \
--     lua5.4 examples/lua/echo.lua
local weft = require "weft"

local function serve(fd)
  while true do
    local data, err = weft.recv(fd, 4096) -- suspends until readable
    if not data then error(err) end
    if data == "" then break end -- the peer closed
    weft.send(fd, data:upper())
  end
  weft.close(fd)
end

local function client(fd, id)
  local replies = {}
  for i = 1, 3 do
    weft.send(fd, ("hello %d.%d"):format(id, i))
    replies[#replies + 1] = weft.recv(fd, 4096)
  end
  weft.close(fd)
  return table.concat(replies, " | ")
end

weft.run(function()
  local clients = {}
  for id = 1, 5 do
    local a, b = assert(weft.socketpair())
    weft.spawn(serve, b)
    clients[#clients + 1] = weft.spawn(client, a, id)
  end
  local r = assert(weft.gather(table.unpack(clients)))
  for i = 1, r.n do print(r[i]) end
end)
