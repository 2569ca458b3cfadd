/**
 * The two conversions of Redis scripting (Redis 7's script_lua.c, Lua 5.1 rules on Lua 5.4):
 *
 * - A command's reply (RESP bytes written by its handler) to a Lua value for redis.call/pcall:
 *   integer -> number, bulk -> string, nil bulk / nil array -> false, status -> {ok=...},
 *   error -> {err=...}, array -> table; with redis.setresp(3) also map -> {map={...}},
 *   set -> {set={[member]=true}}, null -> nil, boolean, double -> {double=n},
 *   big number -> {big_number=s}, verbatim -> {verbatim_string={format=, string=}}.
 * - A script's return value to a reply: string -> bulk, number -> integer (truncated), true -> 1,
 *   false -> nil (booleans under RESP3 scripts), {err=} -> error, {ok=} -> status, {double=},
 *   {big_number=}, {verbatim_string=}, {map=}, {set=}, other tables -> array up to the first nil,
 *   anything else -> nil.
 */
import type { RespWriter } from '../../../common/src/resp/writer';
import { LuaState, T_BOOLEAN, T_NIL, T_NUMBER, T_STRING, T_TABLE } from './lua';

/** Nesting at which a reply is cut with an error element (a table containing itself would never end). */
const MAX_DEPTH = 1000;

/** Redis's luaPushErrorBuff: push {err="CODE msg"} from "-CODE msg" or "msg" (code ERR). */
export function pushErrorTable(lua: LuaState, text: string, ignoreStats = false): void {
  let code: string;
  let msg: string;
  if (text.startsWith('-')) {
    const sp = text.indexOf(' ');
    if (sp < 0) {
      code = 'ERR';
      msg = text.slice(1);
    } else {
      code = text.slice(1, sp);
      msg = text.slice(sp + 1);
    }
  } else {
    code = 'ERR';
    msg = text;
  }
  msg = msg.replace(/^[\r\n]+|[\r\n]+$/g, '');
  lua.newTable(0, 2);
  lua.pushString(`${code} ${msg}`);
  lua.rawSetField(-2, 'err');
  if (ignoreStats) {
    lua.pushBoolean(true);
    lua.rawSetField(-2, 'ignore_error_stats_update');
  }
}

// ------------------------------------------------------------------------------- reply -> Lua

/** Push the Lua form of the single RESP reply starting at `p` in `b`; returns the offset after it. */
export function pushReply(lua: LuaState, b: Buffer, p: number): number {
  if (!lua.checkStack(4)) throw new Error('lua stack limit reached when converting a reply');
  const type = b[p]!;
  const eol = b.indexOf(0x0d, p);
  const head = b.latin1Slice(p + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // + status
      lua.newTable(0, 1);
      lua.pushString(head);
      lua.rawSetField(-2, 'ok');
      return next;
    case 0x2d: // - error
      pushErrorTable(lua, `-${head}`, true);
      return next;
    case 0x3a: {
      // : integer
      const n = Number(head);
      lua.pushInteger(Number.isSafeInteger(n) ? n : BigInt(head));
      return next;
    }
    case 0x24: {
      // $ bulk
      const n = Number(head);
      if (n < 0) {
        lua.pushBoolean(false);
        return next;
      }
      lua.pushBytes(b, next, next + n);
      return next + n + 2;
    }
    case 0x2a: // * array
    case 0x3e: {
      // > push (not expected from a command reply; read as an array)
      const n = Number(head);
      if (n < 0) {
        lua.pushBoolean(false);
        return next;
      }
      lua.newTable(n, 0);
      const t = lua.top();
      let q = next;
      for (let i = 1; i <= n; i++) {
        q = pushReply(lua, b, q);
        lua.rawSetI(t, i);
      }
      return q;
    }
    case 0x25: // % map: {map={[k]=v}}
    case 0x7e: {
      // ~ set: {set={[member]=true}}
      const n = Number(head);
      const isSet = type === 0x7e;
      lua.newTable(0, 1);
      lua.newTable(0, n);
      const t = lua.top();
      let q = next;
      for (let i = 0; i < n; i++) {
        q = pushReply(lua, b, q);
        if (isSet) lua.pushBoolean(true);
        else q = pushReply(lua, b, q);
        if (lua.type(-2) === T_NIL) lua.pop(2); // a nil key cannot be stored
        else lua.rawSet(t);
      }
      lua.rawSetField(-2, isSet ? 'set' : 'map');
      return q;
    }
    case 0x5f: // _ null
      lua.pushNil();
      return next;
    case 0x23: // # boolean
      lua.pushBoolean(head === 't');
      return next;
    case 0x2c: {
      // , double
      lua.newTable(0, 1);
      lua.pushNumber(parseDouble(head));
      lua.rawSetField(-2, 'double');
      return next;
    }
    case 0x28: // ( big number
      lua.newTable(0, 1);
      lua.pushString(head);
      lua.rawSetField(-2, 'big_number');
      return next;
    case 0x3d: {
      // = verbatim string: "fmt:text"
      const n = Number(head);
      lua.newTable(0, 1);
      lua.newTable(0, 2);
      lua.pushBytes(b, next + 4, next + n);
      lua.rawSetField(-2, 'string');
      lua.pushBytes(b, next, next + 3);
      lua.rawSetField(-2, 'format');
      lua.rawSetField(-2, 'verbatim_string');
      return next + n + 2;
    }
    case 0x7c: {
      // | attribute: skipped, then the reply it annotates
      const n = Number(head);
      let q = next;
      for (let i = 0; i < 2 * n; i++) {
        q = pushReply(lua, b, q);
        lua.pop(1);
      }
      return pushReply(lua, b, q);
    }
    default:
      throw new Error(`unexpected reply type byte ${type} in a script's command reply`);
  }
}

function parseDouble(s: string): number {
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  if (s === 'nan' || s === '-nan') return NaN;
  return Number(s);
}

// ------------------------------------------------------------------------------- Lua -> reply

const INT64_MIN = -(2n ** 63n);

/** C's (long long) cast of a double as x86-64 does it: NaN and out-of-range values give INT64_MIN. */
function truncateToInt64(v: number): bigint | number {
  if (Number.isSafeInteger(Math.trunc(v))) return Math.trunc(v);
  if (!Number.isFinite(v) || v >= 9223372036854775808 || v < -9223372036854775808) return INT64_MIN;
  return BigInt(Math.trunc(v));
}

/** Redis's reply sanitising: each CR and LF of an error or status text becomes a space. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

/**
 * Write the value on top of the stack as a reply and pop it. `scriptResp` is the protocol the script
 * chose with redis.setresp (booleans reply as RESP3 booleans only under 3).
 */
export function writeLuaValue(lua: LuaState, w: RespWriter, scriptResp: 2 | 3, depth = 0): void {
  const top = lua.top();
  switch (lua.type(top)) {
    case T_STRING:
      w.bulk(lua.toString(top)!);
      break;
    case T_BOOLEAN:
      if (scriptResp === 2) {
        if (lua.toBoolean(top)) w.int(1);
        else w.nil();
      } else w.bool(lua.toBoolean(top));
      break;
    case T_NUMBER:
      if (lua.isInteger(top)) w.bigint(lua.toInteger(top));
      else {
        const n = truncateToInt64(lua.toNumber(top));
        if (typeof n === 'number') w.int(n);
        else w.bigint(n);
      }
      break;
    case T_TABLE:
      if (depth >= MAX_DEPTH || !lua.checkStack(4)) w.error('ERR reached lua stack limit');
      else writeTable(lua, w, scriptResp, top, depth);
      break;
    default:
      w.nil();
  }
  lua.setTop(top - 1);
}

function writeTable(lua: LuaState, w: RespWriter, scriptResp: 2 | 3, t: number, depth: number): void {
  if (lua.rawGetField(t, 'err') === T_STRING) {
    w.error(oneLine(lua.toString(-1)!));
    return;
  }
  lua.pop(1);
  if (lua.rawGetField(t, 'ok') === T_STRING) {
    w.simple(oneLine(lua.toString(-1)!));
    return;
  }
  lua.pop(1);
  if (lua.rawGetField(t, 'double') === T_NUMBER) {
    w.double(lua.toNumber(-1));
    return;
  }
  lua.pop(1);
  if (lua.rawGetField(t, 'big_number') === T_STRING) {
    const s = oneLine(lua.toString(-1)!);
    if (w.proto === 3) w.raw(`(${s}\r\n`);
    else w.bulk(s);
    return;
  }
  lua.pop(1);
  if (lua.rawGetField(t, 'verbatim_string') === T_TABLE) {
    const v = lua.top();
    if (lua.rawGetField(v, 'format') === T_STRING) {
      const format = lua.toString(-1)!;
      if (lua.rawGetField(v, 'string') === T_STRING) {
        w.verbatim(lua.toString(-1)!, format.padEnd(3, ' ').slice(0, 3));
        return;
      }
    }
  }
  lua.setTop(t);
  if (lua.rawGetField(t, 'map') === T_TABLE) {
    const m = lua.top();
    w.map(countEntries(lua, m));
    lua.pushNil();
    while (lua.next(m)) {
      lua.pushValue(-2);
      writeLuaValue(lua, w, scriptResp, depth + 1); // the key (a copy)
      writeLuaValue(lua, w, scriptResp, depth + 1); // the value
    }
    return;
  }
  lua.pop(1);
  if (lua.rawGetField(t, 'set') === T_TABLE) {
    const s = lua.top();
    w.set(countEntries(lua, s));
    lua.pushNil();
    while (lua.next(s)) {
      lua.pop(1);
      lua.pushValue(-1);
      writeLuaValue(lua, w, scriptResp, depth + 1);
    }
    return;
  }
  lua.pop(1);
  let n = 0;
  while (lua.rawGetI(t, n + 1) !== 0) {
    n++;
    lua.pop(1);
  }
  lua.pop(1);
  w.array(n);
  for (let i = 1; i <= n; i++) {
    lua.rawGetI(t, i);
    writeLuaValue(lua, w, scriptResp, depth + 1);
  }
}

/** Number of entries of the table at `t` (every key, not only the array part). */
function countEntries(lua: LuaState, t: number): number {
  let n = 0;
  lua.pushNil();
  while (lua.next(t)) {
    n++;
    lua.pop(1);
  }
  return n;
}
