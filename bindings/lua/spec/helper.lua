-- Shared test helpers for the busted specs (spec/?.lua is on LUA_PATH).
local weft = require "weft"
local H = {}

--- Live registry refs: integer keys whose value is not a free-list link.
function H.registry_refs()
  collectgarbage()
  collectgarbage()
  local n = 0
  for k, v in pairs(debug.getregistry()) do
    if math.type(k) == "integer" and type(v) ~= "number" then n = n + 1 end
  end
  return n
end

--- Runs fn inside weft.run with errors collected instead of printed.
-- Returns the list of {err, where} reported, then fn's results.
function H.collect_errors(fn)
  local errs = {}
  local saved = weft.on_error
  weft.on_error = function(err, where) errs[#errs + 1] = { err = err, where = where } end
  local r = table.pack(pcall(weft.run, fn))
  weft.on_error = saved
  if not r[1] then error(r[2], 0) end
  return errs, table.unpack(r, 2, r.n)
end

return H
