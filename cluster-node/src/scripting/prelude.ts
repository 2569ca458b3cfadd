/**
 * The Lua side of the script environment, run once in every fresh interpreter after the standard
 * libraries, `redis` and `cjson` are in place. It reshapes Lua 5.4 into what Redis's Lua 5.1 scripts
 * expect and locks the globals the way Redis 7 does:
 *
 * - Lua 5.1 names: `unpack`, `loadstring`, `table.getn`/`maxn`, `math.pow`/`mod`/`log10`,
 *   `string.gfind`, the `bit` library (LuaBitOp semantics: 32-bit signed results), and a `tostring`
 *   that prints floats as 5.1 did (`%.14g`: `tostring(10/2)` is "5", not 5.4's "5.0").
 * - Removed: io, os (but os.clock, as Redis 7.2), package/require, dofile, loadfile, print, utf8,
 *   warn, debug (kept privately for the error handler). `load`/`loadstring` compile text only, with
 *   the script environment.
 * - Scripts run with a proxy `_ENV`: reading a missing global raises "Script attempted to access
 *   nonexistent global variable", writing any global (and any field of the library tables, also via
 *   rawset) raises "Attempt to modify a readonly table".
 *
 * The chunk receives (G, api) where G is the real globals table and api holds the JS functions that
 * raise those errors (they are C functions, so error positions point at the script's line), and
 * returns the error handler, the script environment and the set of protected tables.
 */
export const PRELUDE = String.raw`
local G, api = ...
local dbg = G.debug
local type, tostring, pcall, load, next, rawset, setmetatable, getmetatable, select, ipairs, tonumber, error =
  G.type, G.tostring, G.pcall, G.load, G.next, G.rawset, G.setmetatable, G.getmetatable, G.select, G.ipairs, G.tonumber, G.error
local string, table, math = G.string, G.table, G.math
local math_type, math_floor, math_fmod, math_tointeger = math.type, math.floor, math.fmod, math.tointeger
local string_format, table_pack, table_unpack = string.format, table.pack, table.unpack

-- Lua 5.1 names scripts written for Redis use.
G.unpack = table_unpack
table.getn = function(t) return #t end
table.maxn = function(t)
  local n = 0
  for k in next, t do
    if type(k) == 'number' and k > n then n = k end
  end
  return n
end
math.pow = function(x, y) return x ^ y end
math.mod = math_fmod
math.log10 = function(x) return math.log(x, 10) end
string.gfind = string.gmatch
G.tostring = function(v)
  if math_type(v) == 'float' then return string_format('%.14g', v) end
  return tostring(v)
end
G.gcinfo = function() return math_floor(G.collectgarbage('count')) end

-- bit (LuaBitOp): arguments taken modulo 2^32, results as signed 32-bit numbers.
local function norm(x)
  if type(x) ~= 'number' then
    local n = tonumber(x)
    if n == nil then error("bad argument to bit operation (number expected, got " .. type(x) .. ")", 3) end
    x = n
  end
  if math_type(x) == 'float' then
    if x ~= x or x == math.huge or x == -math.huge then return 0 end
    x = math_tointeger(math_fmod(math_floor(x + 0.5), 4294967296))
  end
  return x & 0xffffffff
end
local function sign(x)
  x = x & 0xffffffff
  if x >= 0x80000000 then return x - 0x100000000 end
  return x
end
local function fold(op)
  return function(x, ...)
    local r = norm(x)
    for i = 1, select('#', ...) do r = op(r, norm((select(i, ...)))) end
    return sign(r)
  end
end
local bit = {
  tobit = function(x) return sign(norm(x)) end,
  bnot = function(x) return sign(~norm(x)) end,
  band = fold(function(a, b) return a & b end),
  bor = fold(function(a, b) return a | b end),
  bxor = fold(function(a, b) return a ~ b end),
  lshift = function(x, n) return sign(norm(x) << (norm(n) & 31)) end,
  rshift = function(x, n) return sign(norm(x) >> (norm(n) & 31)) end,
  arshift = function(x, n) return sign(sign(norm(x)) // (1 << (norm(n) & 31))) end,
  rol = function(x, n)
    n = norm(n) & 31
    x = norm(x)
    return sign((x << n) | (x >> (32 - n)))
  end,
  ror = function(x, n)
    n = norm(n) & 31
    x = norm(x)
    return sign((x >> n) | (x << (32 - n)))
  end,
  bswap = function(x)
    x = norm(x)
    return sign(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >> 8) & 0xff00) | (x >> 24))
  end,
  tohex = function(x, n)
    n = n == nil and 8 or sign(norm(n))
    local hexfmt = 'x'
    if n < 0 then n = -n; hexfmt = 'X' end
    if n > 8 then n = 8 end
    local v = norm(x)
    if n < 8 then v = v & ((1 << (4 * n)) - 1) end
    return string_format('%0' .. n .. hexfmt, v)
  end,
}
G.bit = bit

local clock = G.os and G.os.clock
G.os = { clock = clock }
G.io, G.package, G.require, G.dofile, G.loadfile, G.print, G.utf8, G.warn, G.debug = nil, nil, nil, nil, nil, nil, nil, nil, nil
G.rawlen = nil

local env = {}
G.load = function(chunk, name, mode, e) return load(chunk, name, 't', e or env) end
G.loadstring = function(s, name) return load(s, name, 't', env) end

local function err_handler(err)
  local i = dbg.getinfo(2, 'nSl')
  if i and i.what == 'C' then i = dbg.getinfo(3, 'nSl') end
  if type(err) ~= 'table' then err = { err = 'ERR ' .. tostring(err) } end
  if i then
    rawset(err, 'source', i.source)
    rawset(err, 'line', i.currentline)
  end
  return err
end

local protected = setmetatable({}, { __mode = 'k' })
local function readonly(t)
  local p = setmetatable({}, {
    __index = t,
    __newindex = api.readonly,
    __pairs = function() return next, t, nil end,
    __len = function() return #t end,
    __metatable = false,
  })
  protected[p] = true
  return p
end
for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'bit', 'cjson', 'cmsgpack', 'redis', 'os' }) do
  if G[name] ~= nil then G[name] = readonly(G[name]) end
end
getmetatable('').__metatable = false

G.rawset = api.rawset
G._G = env
setmetatable(env, { __index = G, __newindex = api.readonly, __pairs = function() return next, G, nil end, __metatable = false })
protected[env] = true
protected[G] = true
setmetatable(G, { __index = api.missing, __newindex = api.readonly, __metatable = false })
return err_handler, env, protected
`;
