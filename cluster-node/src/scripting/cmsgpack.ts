/**
 * `cmsgpack` for scripts: lua-cmsgpack 0.4.0 as Redis ships it (pack(...), unpack, unpack_one,
 * unpack_limit), implemented in JS on the Lua stack. Encoding follows its rules: integers in the
 * smallest MessagePack integer type, other numbers as float 32 when exact, else float 64; strings as
 * fixstr/str8/str16/str32; a table whose keys are exactly 1..n as an array, else a map; tables nested
 * deeper than 16 and functions/userdata as nil. Decoding accepts what it produces (no bin/ext).
 */
import { LuaState, T_BOOLEAN, T_NIL, T_NUMBER, T_STRING, T_TABLE } from './lua';

const MAX_NESTING = 16;

class Buf {
  private b = Buffer.allocUnsafe(256);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.b.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.b.length * 2, this.len + n));
    this.b.copy(next, 0, 0, this.len);
    this.b = next;
  }

  byte(v: number): void {
    this.ensure(1);
    this.b[this.len++] = v;
  }

  u16(tag: number, v: number): void {
    this.ensure(3);
    this.b[this.len] = tag;
    this.b.writeUInt16BE(v, this.len + 1);
    this.len += 3;
  }

  u32(tag: number, v: number): void {
    this.ensure(5);
    this.b[this.len] = tag;
    this.b.writeUInt32BE(v, this.len + 1);
    this.len += 5;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.b.set(src, this.len);
    this.len += src.length;
  }

  view(): Buffer {
    return this.b.subarray(0, this.len);
  }

  raw(n: number): Buffer {
    this.ensure(n);
    const v = this.b.subarray(this.len, this.len + n);
    this.len += n;
    return v;
  }
}

function encodeInt(buf: Buf, n: bigint): void {
  if (n >= 0n) {
    if (n <= 127n) buf.byte(Number(n));
    else if (n <= 0xffn) {
      buf.byte(0xcc);
      buf.byte(Number(n));
    } else if (n <= 0xffffn) buf.u16(0xcd, Number(n));
    else if (n <= 0xffffffffn) buf.u32(0xce, Number(n));
    else {
      buf.byte(0xcf);
      buf.raw(8).writeBigUInt64BE(n);
    }
  } else if (n >= -32n) buf.byte(Number(n) & 0xff);
  else if (n >= -128n) {
    buf.byte(0xd0);
    buf.byte(Number(n) & 0xff);
  } else if (n >= -32768n) buf.u16(0xd1, Number(n) & 0xffff);
  else if (n >= -2147483648n) buf.u32(0xd2, Number(n) >>> 0);
  else {
    buf.byte(0xd3);
    buf.raw(8).writeBigInt64BE(n);
  }
}

function encodeNumber(lua: LuaState, buf: Buf, idx: number): void {
  if (lua.isInteger(idx)) return encodeInt(buf, lua.toInteger(idx));
  const d = lua.toNumber(idx);
  // IS_INT64_EQUIVALENT: an integral double in the int64 range is an integer.
  if (Number.isFinite(d) && Math.trunc(d) === d && d >= -9223372036854775808 && d < 9223372036854775808) return encodeInt(buf, BigInt(d));
  // Exactly representable as a float 32 (infinities too; NaN is not equal to itself).
  if (Math.fround(d) === d) {
    buf.byte(0xca);
    buf.raw(4).writeFloatBE(d);
  } else {
    buf.byte(0xcb);
    buf.raw(8).writeDoubleBE(d);
  }
}

function encodeString(lua: LuaState, buf: Buf, idx: number): void {
  const s = lua.toBytes(idx)!;
  const n = s.length;
  if (n < 32) buf.byte(0xa0 | n);
  else if (n <= 0xff) {
    buf.byte(0xd9);
    buf.byte(n);
  } else if (n <= 0xffff) buf.u16(0xda, n);
  else buf.u32(0xdb, n);
  buf.bytes(s);
}

/** table_is_an_array: every key an integer >= 1 and the largest equals the count. */
function isArray(lua: LuaState, t: number): boolean {
  let count = 0;
  let max = 0;
  const top = lua.top();
  lua.pushNil();
  while (lua.next(t)) {
    lua.pop(1);
    let n: number;
    if (lua.type(-1) !== T_NUMBER) {
      lua.setTop(top);
      return false;
    }
    if (lua.isInteger(-1)) n = Number(lua.toInteger(-1));
    else {
      n = lua.toNumber(-1);
      if (!Number.isInteger(n)) {
        lua.setTop(top);
        return false;
      }
    }
    if (n <= 0) {
      lua.setTop(top);
      return false;
    }
    if (n > max) max = n;
    count++;
  }
  lua.setTop(top);
  return max === count;
}

/** Encode the value at absolute index `idx`. */
function encodeValue(lua: LuaState, buf: Buf, idx: number, level: number): void {
  let t = lua.type(idx);
  if (t === T_TABLE && level === MAX_NESTING) t = T_NIL;
  switch (t) {
    case T_STRING:
      return encodeString(lua, buf, idx);
    case T_BOOLEAN:
      return buf.byte(lua.toBoolean(idx) ? 0xc3 : 0xc2);
    case T_NUMBER:
      return encodeNumber(lua, buf, idx);
    case T_TABLE:
      return encodeTable(lua, buf, idx, level);
    default:
      return buf.byte(0xc0);
  }
}

function encodeTable(lua: LuaState, buf: Buf, t: number, level: number): void {
  if (!lua.checkStack(4)) lua.errorWhere('cmsgpack: table too deeply nested');
  if (isArray(lua, t)) {
    const n = lua.rawLen(t);
    if (n <= 15) buf.byte(0x90 | n);
    else if (n <= 0xffff) buf.u16(0xdc, n);
    else buf.u32(0xdd, n);
    for (let j = 1; j <= n; j++) {
      lua.rawGetI(t, j);
      encodeValue(lua, buf, lua.top(), level + 1);
      lua.pop(1);
    }
    return;
  }
  let n = 0;
  lua.pushNil();
  while (lua.next(t)) {
    lua.pop(1);
    n++;
  }
  if (n <= 15) buf.byte(0x80 | n);
  else if (n <= 0xffff) buf.u16(0xde, n);
  else buf.u32(0xdf, n);
  lua.pushNil();
  while (lua.next(t)) {
    const top = lua.top();
    encodeValue(lua, buf, top - 1, level + 1);
    encodeValue(lua, buf, top, level + 1);
    lua.pop(1);
  }
}

export function cmsgpackPack(lua: LuaState): number {
  const nargs = lua.top();
  if (nargs === 0) lua.errorWhere("bad argument #0 to 'pack' (MessagePack pack needs input.)");
  const buf = new Buf();
  for (let i = 1; i <= nargs; i++) encodeValue(lua, buf, i, 0);
  lua.pushBytes(buf.view());
  return 1;
}

// ---------------------------------------------------------------------------------------- decode

class NeedMore {}
class BadFormat {}

class Decoder {
  constructor(
    private readonly lua: LuaState,
    private readonly b: Buffer,
    public pos: number,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new NeedMore();
  }

  private len(size: 1 | 2 | 4): number {
    const p = this.fixed(size);
    return size === 1 ? this.b[p]! : size === 2 ? this.b.readUInt16BE(p) : this.b.readUInt32BE(p);
  }

  private str(n: number): void {
    this.need(n);
    this.lua.pushBytes(this.b, this.pos, this.pos + n);
    this.pos += n;
  }

  private array(n: number): void {
    const lua = this.lua;
    if (!lua.checkStack(3)) throw new BadFormat();
    lua.newTable(Math.min(n, 1 << 16), 0);
    const t = lua.top();
    for (let i = 1; i <= n; i++) {
      this.value();
      lua.rawSetI(t, i);
    }
  }

  private map(n: number): void {
    const lua = this.lua;
    if (!lua.checkStack(4)) throw new BadFormat();
    lua.newTable(0, Math.min(n, 1 << 16));
    const t = lua.top();
    for (let i = 0; i < n; i++) {
      this.value();
      this.value();
      const kt = lua.type(-2);
      if (kt === T_NIL || (kt === T_NUMBER && Number.isNaN(lua.toNumber(-2)))) lua.pop(2);
      else lua.rawSet(t);
    }
  }

  /** Consume a tag and its `n` payload bytes; returns the payload's offset. */
  private fixed(n: number): number {
    this.need(1 + n);
    const p = this.pos + 1;
    this.pos = p + n;
    return p;
  }

  value(): void {
    const lua = this.lua;
    const b = this.b;
    this.need(1);
    const tag = b[this.pos]!;
    switch (tag) {
      case 0xcc:
        return lua.pushInteger(b[this.fixed(1)]!);
      case 0xd0:
        return lua.pushInteger(b.readInt8(this.fixed(1)));
      case 0xcd:
        return lua.pushInteger(b.readUInt16BE(this.fixed(2)));
      case 0xd1:
        return lua.pushInteger(b.readInt16BE(this.fixed(2)));
      case 0xce:
        return lua.pushInteger(b.readUInt32BE(this.fixed(4)));
      case 0xd2:
        return lua.pushInteger(b.readInt32BE(this.fixed(4)));
      case 0xcf:
      case 0xd3:
        // uint 64 is read as a signed 64-bit value, as lua-cmsgpack does.
        return lua.pushInteger(b.readBigInt64BE(this.fixed(8)));
      case 0xc0:
        this.pos += 1;
        return lua.pushNil();
      case 0xc3:
        this.pos += 1;
        return lua.pushBoolean(true);
      case 0xc2:
        this.pos += 1;
        return lua.pushBoolean(false);
      case 0xca:
        return lua.pushNumber(b.readFloatBE(this.fixed(4)));
      case 0xcb:
        return lua.pushNumber(b.readDoubleBE(this.fixed(8)));
      case 0xd9:
        return this.str(this.len(1));
      case 0xda:
        return this.str(this.len(2));
      case 0xdb:
        return this.str(this.len(4));
      case 0xdc:
        return this.array(this.len(2));
      case 0xdd:
        return this.array(this.len(4));
      case 0xde:
        return this.map(this.len(2));
      case 0xdf:
        return this.map(this.len(4));
    }
    if ((tag & 0x80) === 0) {
      this.pos += 1;
      return lua.pushInteger(tag);
    }
    if ((tag & 0xe0) === 0xe0) {
      this.pos += 1;
      return lua.pushInteger(tag - 256);
    }
    if ((tag & 0xe0) === 0xa0) {
      this.pos += 1;
      return this.str(tag & 0x1f);
    }
    if ((tag & 0xf0) === 0x90) {
      this.pos += 1;
      return this.array(tag & 0x0f);
    }
    if ((tag & 0xf0) === 0x80) {
      this.pos += 1;
      return this.map(tag & 0x0f);
    }
    throw new BadFormat();
  }
}

/** mp_unpack_full: with limit 0 and offset 0 every value; otherwise the next offset (-1 at the end) first. */
function unpackFull(lua: LuaState, name: string, limit: number, offset: number): number {
  const t = lua.type(1);
  if (t !== T_STRING && t !== T_NUMBER) lua.errorWhere(`bad argument #1 to '${name}' (string expected, got ${lua.typeName(1)})`);
  const s = lua.toBytes(1)!;
  lua.setTop(1);
  const all = limit === 0 && offset === 0;
  if (offset < 0 || limit < 0) lua.errorWhere(`Invalid request to unpack with offset of ${offset} and limit of ${s.length}.`);
  if (offset > s.length) lua.errorWhere(`Start offset ${offset} greater than input length ${s.length}.`);
  const max = all ? Number.MAX_SAFE_INTEGER : limit;
  const d = new Decoder(lua, s, offset);
  let n = 0;
  try {
    for (; d.pos < s.length && n < max; n++) {
      if (!lua.checkStack(2)) lua.errorWhere('too many return values at once; use unpack_one or unpack_limit instead.');
      d.value();
    }
  } catch (e) {
    if (e instanceof NeedMore) lua.errorWhere('Missing bytes in input.');
    if (e instanceof BadFormat) lua.errorWhere('Bad data format in input.');
    throw e;
  }
  if (!all) {
    lua.pushInteger(d.pos >= s.length ? -1 : d.pos);
    lua.insert(2);
    n++;
  }
  return n;
}

function intArg(lua: LuaState, i: number, name: string, def: number | null): number {
  if (lua.top() < i || lua.type(i) === T_NIL) {
    if (def !== null) return def;
    lua.errorWhere(`bad argument #${i} to '${name}' (number expected, got no value)`);
  }
  if (!lua.isNumber(i)) lua.errorWhere(`bad argument #${i} to '${name}' (number expected, got ${lua.typeName(i)})`);
  return Math.trunc(lua.toNumber(i));
}

export function cmsgpackUnpack(lua: LuaState): number {
  if (lua.top() > 1) lua.setTop(1);
  return unpackFull(lua, 'unpack', 0, 0);
}

export function cmsgpackUnpackOne(lua: LuaState): number {
  const offset = intArg(lua, 2, 'unpack_one', 0);
  return unpackFull(lua, 'unpack_one', 1, offset);
}

export function cmsgpackUnpackLimit(lua: LuaState): number {
  const limit = intArg(lua, 2, 'unpack_limit', null);
  const offset = intArg(lua, 3, 'unpack_limit', 0);
  return unpackFull(lua, 'unpack_limit', limit, offset);
}
