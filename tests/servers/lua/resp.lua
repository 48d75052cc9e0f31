--- resp.lua: the RESP protocol and keyspace shared by the comparison's two
-- Lua servers (resp_server.lua on luv, weft_resp_server.lua on weft). It
-- answers PING, GET and SET (no options) byte for byte as redis-server 7.0
-- does, reads multibulk and inline requests, and answers pipelined requests
-- in order.
local M = {}

local QUERY_MAX = 1024 * 1024 * 1024  -- redis client-query-buffer-limit
local INLINE_MAX = 64 * 1024          -- redis PROTO_INLINE_MAX_SIZE
local BULK_MAX = 512 * 1024 * 1024    -- redis proto-max-bulk-len

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

local function execute(store, args)
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

--- Answers every complete request at the front of `buf` from `store` (a
-- table: key -> value).
-- @treturn table the replies (strings, in order; send them together)
-- @treturn string the rest of buf: the start of an incomplete request
-- @treturn boolean true when the connection must close once the replies
--   went (a protocol error, or an unfinished request over 1 GB)
function M.process(store, buf)
  local out, pos = {}, 1
  while pos <= #buf do
    local args, nxt = parse(buf, pos)
    if args == nil then break end
    if args == false then
      out[#out + 1] = err(nxt)
      return out, "", true
    end
    if #args > 0 then out[#out + 1] = execute(store, args) end
    pos = nxt
  end
  local rest = pos > 1 and buf:sub(pos) or buf
  return out, rest, #rest > QUERY_MAX
end

return M
