--- The comparison's RESP server in Lua on luv (libuv's Lua binding): one
-- uv TCP handle per connection, read callbacks, replies written per batch.
-- It answers PING, GET and SET (no options) byte for byte as redis-server
-- 7.0 does, reads multibulk and inline requests, and answers pipelined
-- requests in order.
--
--     lua5.4 resp_server.lua --port PORT [--host ADDR]
--
-- PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
local uv = require("luv")

local INLINE_MAX = 64 * 1024          -- redis PROTO_INLINE_MAX_SIZE
local BULK_MAX = 512 * 1024 * 1024    -- redis proto-max-bulk-len

local store = {}

--- Parses as redis's string2ll: digits, an optional '-', no leading zeros.
local function parse_int(s)
  if not s:match("^%-?%d+$") or #s > 20 or s:match("^%-?0%d") or s == "-0" then return nil end
  return math.tointeger(tonumber(s))
end

local function err(msg)
  return "-ERR " .. msg:gsub("[\r\n]", " ") .. "\r\n"
end

local function bulk(v)
  return "$" .. #v .. "\r\n" .. v .. "\r\n"
end

local function arity(name)
  return err("wrong number of arguments for '" .. name .. "' command")
end

local function execute(args)
  local name = args[1]:lower()
  if name == "ping" then
    if #args == 1 then return "+PONG\r\n" end
    if #args == 2 then return bulk(args[2]) end
    return arity("ping")
  elseif name == "get" then
    if #args ~= 2 then return arity("get") end
    local v = store[args[2]]
    return v and bulk(v) or "$-1\r\n"
  elseif name == "set" then
    if #args < 3 then return arity("set") end
    if #args > 3 then return err("syntax error") end
    store[args[2]] = args[3]
    return "+OK\r\n"
  end
  local list = ""
  for i = 2, #args do
    if #list >= 128 then break end
    list = list .. "'" .. args[i]:sub(1, 128 - #list) .. "' "
  end
  return err("unknown command '" .. args[1]:sub(1, 128) .. "', with args beginning with: " .. list)
end

--- Parses one request at buf[pos..]. Returns the arguments and the position
-- after it; nil when incomplete; false and an error text on a protocol error.
local function parse(buf, pos)
  if buf:byte(pos) ~= 42 then -- '*': multibulk; anything else is inline
    local nl = buf:find("\n", pos, true)
    if not nl then
      if #buf - pos + 1 > INLINE_MAX then return false, "Protocol error: too big inline request" end
      return nil
    end
    local args = {}
    for a in buf:sub(pos, nl - 1):gmatch("[^ \t\r]+") do args[#args + 1] = a end
    return args, nl + 1
  end
  local cr = buf:find("\r", pos, true)
  if not cr or cr + 1 > #buf then
    if #buf - pos + 1 > INLINE_MAX then return false, "Protocol error: too big mbulk count string" end
    return nil
  end
  local count = parse_int(buf:sub(pos + 1, cr - 1))
  if not count or count > 2147483647 then return false, "Protocol error: invalid multibulk length" end
  pos = cr + 2
  local args = {}
  for _ = 1, count do
    cr = buf:find("\r", pos, true)
    if not cr or cr + 1 > #buf then
      if #buf - pos + 1 > INLINE_MAX then return false, "Protocol error: too big bulk count string" end
      return nil
    end
    if buf:byte(pos) ~= 36 then -- '$'
      return false, "Protocol error: expected '$', got '" .. buf:sub(pos, pos) .. "'"
    end
    local size = parse_int(buf:sub(pos + 1, cr - 1))
    if not size or size < 0 or size > BULK_MAX then return false, "Protocol error: invalid bulk length" end
    pos = cr + 2
    if #buf - pos + 1 < size + 2 then return nil end
    args[#args + 1] = buf:sub(pos, pos + size - 1)
    pos = pos + size + 2
  end
  return args, pos
end

local function serve(client)
  local buf = ""
  local function close()
    if not client:is_closing() then client:close() end
  end
  client:read_start(function(rerr, chunk)
    if rerr or not chunk then return close() end
    buf = buf .. chunk
    local out, pos = {}, 1
    while pos <= #buf do
      local args, nxt = parse(buf, pos)
      if args == nil then break end
      if args == false then
        out[#out + 1] = err(nxt)
        client:read_stop()
        client:write(out, close)
        return
      end
      if #args > 0 then out[#out + 1] = execute(args) end
      pos = nxt
    end
    buf = buf:sub(pos)
    if #out > 0 then
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
