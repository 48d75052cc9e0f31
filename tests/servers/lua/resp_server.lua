--- The comparison's RESP server in Lua on luv (libuv's Lua binding): one
-- uv TCP handle per connection, read callbacks, replies written per batch.
-- The protocol (PING, GET, SET as redis-server 7.0 answers them) is
-- resp.lua's; weft_resp_server.lua is the same server on weft tasks.
--
--     lua5.4 resp_server.lua --port PORT [--host ADDR]
--
-- PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
local uv = require("luv")

-- The protocol and keyspace: resp.lua, beside this file.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local resp = require("resp")

local store = {}

local function serve(client)
  local buf = ""
  local function close()
    if not client:is_closing() then client:close() end
  end
  client:read_start(function(rerr, chunk)
    if rerr or not chunk then return close() end
    local out, closing
    out, buf, closing = resp.process(store, buf .. chunk)
    if closing then
      client:read_stop()
      client:write(out, close)
    elseif #out > 0 then
      client:write(out, function(werr) if werr then close() end end)
    end
  end)
end

local host, port = "127.0.0.1", nil
for i = 1, #arg, 2 do
  if arg[i] == "--port" then port = math.tointeger(tonumber(arg[i + 1]))
  elseif arg[i] == "--host" then host = arg[i + 1]
  else port = nil end
end
if not port or port < 0 or port > 65535 then
  io.stderr:write("usage: resp_server.lua --port PORT [--host ADDR]\n")
  os.exit(2)
end

local server = uv.new_tcp()
assert(server:bind(host, port))
assert(server:listen(4096, function(lerr)
  if lerr then return end
  local client = uv.new_tcp()
  if server:accept(client) then
    client:nodelay(true)
    serve(client)
  else
    client:close()
  end
end))
print(("listening on %s:%d"):format(host, server:getsockname().port))
io.stdout:flush()
uv.run()
