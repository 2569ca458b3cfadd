/**
 * `cjson` for scripts: encode/decode with lua-cjson 2.1's behaviour as Redis ships it (numbers with
 * `%.14g`, `/` escaped, empty tables as `{}`, excessively sparse arrays refused, `cjson.null` as a
 * NULL light userdata, the same error texts), implemented in JS on the Lua stack. Strings are bytes:
 * bytes >= 0x80 pass through, `\uXXXX` escapes decode to UTF-8.
 */
import { LuaState, T_BOOLEAN, T_LIGHTUSERDATA, T_NIL, T_NUMBER, T_STRING, T_TABLE } from './lua';
import { formatG } from './format';

/** cjson's module-wide settings (kept across scripts, as in Redis). */
export interface CjsonConfig {
  encodeMaxDepth: number;
  decodeMaxDepth: number;
  numberPrecision: number;
  sparseConvert: boolean;
  sparseRatio: number;
  sparseSafe: number;
  encodeInvalidNumbers: boolean | 'null';
  decodeInvalidNumbers: boolean;
  keepBuffer: boolean;
}

export function defaultCjsonConfig(): CjsonConfig {
  return {
    encodeMaxDepth: 1000,
    decodeMaxDepth: 1000,
    numberPrecision: 14,
    sparseConvert: false,
    sparseRatio: 2,
    sparseSafe: 10,
    encodeInvalidNumbers: false,
    decodeInvalidNumbers: true,
    keepBuffer: true,
  };
}

// ---------------------------------------------------------------------------------------- encode

const ESCAPES: string[] = (() => {
  const t: string[] = [];
  for (let i = 0; i < 256; i++) t.push(String.fromCharCode(i));
  for (let i = 0; i < 32; i++) t[i] = `\\u${i.toString(16).padStart(4, '0')}`;
  t[8] = '\\b';
  t[9] = '\\t';
  t[10] = '\\n';
  t[12] = '\\f';
  t[13] = '\\r';
  t[0x22] = '\\"';
  t[0x5c] = '\\\\';
  t[0x2f] = '\\/';
  t[0x7f] = '\\u007f';
  return t;
})();

function escapeString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) out += ESCAPES[s.charCodeAt(i)];
  return out + '"';
}

export function cjsonEncode(lua: LuaState, cfg: CjsonConfig): number {
  if (lua.top() !== 1) lua.errorWhere("bad argument #1 to 'encode' (expected 1 argument)");
  const out: string[] = [];
  encodeValue(lua, cfg, 1, 0, out);
  lua.pushString(out.join(''));
  return 1;
}

function encodeNumber(lua: LuaState, cfg: CjsonConfig, idx: number): string {
  const v = lua.isInteger(idx) ? Number(lua.toInteger(idx)) : lua.toNumber(idx);
  if (!Number.isFinite(v)) {
    if (cfg.encodeInvalidNumbers === 'null') return 'null';
    if (!cfg.encodeInvalidNumbers) lua.errorWhere('Cannot serialise number: must not be NaN or Inf');
  }
  return formatG(v, cfg.numberPrecision);
}

function encodeValue(lua: LuaState, cfg: CjsonConfig, idx: number, depth: number, out: string[]): void {
  switch (lua.type(idx)) {
    case T_STRING:
      out.push(escapeString(lua.toString(idx)!));
      return;
    case T_NUMBER:
      out.push(encodeNumber(lua, cfg, idx));
      return;
    case T_BOOLEAN:
      out.push(lua.toBoolean(idx) ? 'true' : 'false');
      return;
    case T_NIL:
      out.push('null');
      return;
    case T_LIGHTUSERDATA:
      if (lua.toUserdata(idx) === 0) {
        out.push('null');
        return;
      }
      break;
    case T_TABLE:
      encodeTable(lua, cfg, idx, depth + 1, out);
      return;
  }
  lua.errorWhere(`Cannot serialise ${lua.typeName(idx)}: type not supported`);
}

/** lua-cjson's lua_array_length: the array size, or -1 when the table must be an object. */
function arrayLength(lua: LuaState, cfg: CjsonConfig, idx: number): number {
  let max = 0;
  let items = 0;
  lua.pushNil();
  while (lua.next(idx)) {
    if (lua.type(-2) === T_NUMBER) {
      const k = lua.toNumber(-2);
      if (Number.isInteger(k) && k >= 1) {
        if (k > max) max = k;
        items++;
        lua.pop(1);
        continue;
      }
    }
    lua.pop(2);
    return -1;
  }
  if (cfg.sparseRatio > 0 && max > items * cfg.sparseRatio && max > cfg.sparseSafe) {
    if (!cfg.sparseConvert) lua.errorWhere('Cannot serialise table: excessively sparse array');
    return -1;
  }
  return max;
}

function encodeTable(lua: LuaState, cfg: CjsonConfig, idx: number, depth: number, out: string[]): void {
  if (depth > cfg.encodeMaxDepth) lua.errorWhere(`Cannot serialise, excessive nesting (${depth})`);
  if (!lua.checkStack(4)) lua.errorWhere(`Cannot serialise, excessive nesting (${depth})`);
  const len = arrayLength(lua, cfg, idx);
  if (len > 0) {
    out.push('[');
    for (let i = 1; i <= len; i++) {
      if (i > 1) out.push(',');
      lua.rawGetI(idx, i);
      encodeValue(lua, cfg, lua.top(), depth, out);
      lua.pop(1);
    }
    out.push(']');
    return;
  }
  out.push('{');
  let first = true;
  lua.pushNil();
  while (lua.next(idx)) {
    if (!first) out.push(',');
    first = false;
    const kt = lua.type(-2);
    if (kt === T_NUMBER) {
      out.push(`"${encodeNumber(lua, cfg, lua.top() - 1)}":`);
    } else if (kt === T_STRING) {
      out.push(`${escapeString(lua.toString(-2)!)}:`);
    } else {
      lua.errorWhere(`Cannot serialise ${lua.typeName(-2)}: table key must be a number or string`);
    }
    encodeValue(lua, cfg, lua.top(), depth, out);
    lua.pop(1);
  }
  out.push('}');
}

// ---------------------------------------------------------------------------------------- decode

const enum Tok {
  ObjBegin,
  ObjEnd,
  ArrBegin,
  ArrEnd,
  String,
  Number,
  Boolean,
  Null,
  Colon,
  Comma,
  End,
  Error,
}
const TOKEN_NAMES = ['T_OBJ_BEGIN', 'T_OBJ_END', 'T_ARR_BEGIN', 'T_ARR_END', 'T_STRING', 'T_NUMBER', 'T_BOOLEAN', 'T_NULL', 'T_COLON', 'T_COMMA', 'T_END', 'T_ERROR'];

const PUNCTUATION: Partial<Record<string, Tok>> = { '{': Tok.ObjBegin, '}': Tok.ObjEnd, '[': Tok.ArrBegin, ']': Tok.ArrEnd, ':': Tok.Colon, ',': Tok.Comma };
const KEYWORDS = [
  ['true', Tok.Boolean, true],
  ['false', Tok.Boolean, false],
  ['null', Tok.Null, false],
] as const;

interface Token {
  type: Tok;
  /** Offset of the token's first byte. */
  index: number;
  str: string;
  num: number;
  int: boolean;
  bool: boolean;
}

class JsonDecoder {
  private pos = 0;
  private readonly tok: Token = { type: Tok.End, index: 0, str: '', num: 0, int: false, bool: false };

  constructor(
    private readonly lua: LuaState,
    private readonly s: string,
    private readonly cfg: CjsonConfig,
  ) {}

  private fail(expected: string): never {
    const t = this.tok;
    const found = t.type === Tok.Error ? t.str : TOKEN_NAMES[t.type];
    return this.lua.errorWhere(`Expected ${expected} but found ${found} at character ${t.index + 1}`);
  }

  private next(): Token {
    const s = this.s;
    const t = this.tok;
    let i = this.pos;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
    t.index = i;
    if (i >= s.length) {
      t.type = Tok.End;
      this.pos = i;
      return t;
    }
    const c = s[i]!;
    this.pos = i + 1;
    const punct = PUNCTUATION[c];
    if (punct !== undefined) {
      t.type = punct;
      return t;
    }
    if (c === '"') return this.string(i + 1);
    if (c === '-' || (c >= '0' && c <= '9')) return this.number(i);
    for (const [word, type, bool] of KEYWORDS) {
      if (s.startsWith(word, i)) {
        t.type = type;
        t.bool = bool;
        this.pos = i + word.length;
        return t;
      }
    }
    if (this.cfg.decodeInvalidNumbers && /^[-+]?(inf|nan|infinity)/i.test(s.slice(i, i + 9))) return this.number(i);
    t.type = Tok.Error;
    t.str = 'invalid token';
    return t;
  }

  private string(start: number): Token {
    const s = this.s;
    const t = this.tok;
    let out = '';
    let i = start;
    for (;;) {
      if (i >= s.length) {
        t.type = Tok.Error;
        t.str = 'unexpected end of string';
        return t;
      }
      const ch = s[i]!;
      if (ch === '"') break;
      if (ch !== '\\') {
        out += ch;
        i++;
        continue;
      }
      const e = s[i + 1];
      i += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const cp = this.unicode(i - 2);
          if (cp < 0) {
            t.type = Tok.Error;
            t.str = 'invalid unicode escape code';
            return t;
          }
          i += cp > 0xffff ? 10 : 4;
          out += utf8(cp);
          break;
        }
        default:
          t.type = Tok.Error;
          t.str = 'invalid escape code';
          return t;
      }
    }
    this.pos = i + 1;
    t.type = Tok.String;
    t.str = out;
    return t;
  }

  /** Code point of the \u escape at `at` (with a following low surrogate when it is a high one), or -1. */
  private unicode(at: number): number {
    const hex = (p: number): number => (/^[0-9a-fA-F]{4}$/.test(this.s.slice(p, p + 4)) ? parseInt(this.s.slice(p, p + 4), 16) : -1);
    const hi = hex(at + 2);
    if (hi < 0) return -1;
    if (hi >= 0xdc00 && hi <= 0xdfff) return -1;
    if (hi >= 0xd800 && hi <= 0xdbff) {
      if (this.s[at + 6] !== '\\' || this.s[at + 7] !== 'u') return -1;
      const lo = hex(at + 8);
      if (lo < 0xdc00 || lo > 0xdfff) return -1;
      return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    return hi;
  }

  private number(start: number): Token {
    const s = this.s;
    const t = this.tok;
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(start, start + 400));
    const inv = this.cfg.decodeInvalidNumbers ? /^[-+]?(?:infinity|inf|nan|0[xX][0-9a-fA-F]+)/i.exec(s.slice(start, start + 40)) : null;
    if (inv !== null && (m === null || inv[0].length > m[0].length)) {
      const w = inv[0].toLowerCase().replace(/^\+/, '');
      t.num = w.includes('x') ? parseInt(w, 16) : w.includes('nan') ? NaN : w.startsWith('-') ? -Infinity : Infinity;
      t.int = false;
      t.type = Tok.Number;
      this.pos = start + inv[0].length;
      return t;
    }
    if (m === null) {
      t.type = Tok.Error;
      t.str = 'invalid number';
      return t;
    }
    t.num = Number(m[0]);
    t.int = m[1] === undefined && m[2] === undefined;
    t.type = Tok.Number;
    this.pos = start + m[0].length;
    return t;
  }

  private pushNumber(t: Token): void {
    // Lua 5.1 had only doubles; an integral value becomes a 5.4 integer so it prints without ".0".
    if (Number.isInteger(t.num) && Math.abs(t.num) <= Number.MAX_SAFE_INTEGER) this.lua.pushInteger(t.num);
    else this.lua.pushNumber(t.num);
  }

  /** Decode one value whose first token is current, pushing it. */
  private value(depth: number): void {
    const lua = this.lua;
    const t = this.tok;
    switch (t.type) {
      case Tok.String:
        lua.pushString(t.str);
        return;
      case Tok.Number:
        this.pushNumber(t);
        return;
      case Tok.Boolean:
        lua.pushBoolean(t.bool);
        return;
      case Tok.Null:
        lua.pushLightUserdata(0);
        return;
      case Tok.ObjBegin:
        return this.object(depth + 1);
      case Tok.ArrBegin:
        return this.array(depth + 1);
      default:
        return this.fail('value');
    }
  }

  private nest(depth: number): void {
    if (depth > this.cfg.decodeMaxDepth || !this.lua.checkStack(3)) {
      this.lua.errorWhere(`Found too many nested data structures (${depth}) at character ${this.tok.index + 1}`);
    }
  }

  private object(depth: number): void {
    const lua = this.lua;
    this.nest(depth);
    lua.newTable();
    const tbl = lua.top();
    let t = this.next();
    if (t.type === Tok.ObjEnd) return;
    for (;;) {
      if (t.type !== Tok.String) this.fail('object key string');
      lua.pushString(t.str);
      t = this.next();
      if (t.type !== Tok.Colon) this.fail('colon');
      this.next();
      this.value(depth);
      lua.rawSet(tbl);
      t = this.next();
      if (t.type === Tok.ObjEnd) return;
      if (t.type !== Tok.Comma) this.fail('comma or object end');
      t = this.next();
    }
  }

  private array(depth: number): void {
    const lua = this.lua;
    this.nest(depth);
    lua.newTable();
    const tbl = lua.top();
    let t = this.next();
    if (t.type === Tok.ArrEnd) return;
    for (let i = 1; ; i++) {
      this.value(depth);
      lua.rawSetI(tbl, i);
      t = this.next();
      if (t.type === Tok.ArrEnd) return;
      if (t.type !== Tok.Comma) this.fail('comma or array end');
      t = this.next();
    }
  }

  decode(): void {
    this.next();
    this.value(0);
    const t = this.next();
    if (t.type !== Tok.End) this.fail('the end');
  }
}

function utf8(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  return String.fromCharCode(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

export function cjsonDecode(lua: LuaState, cfg: CjsonConfig): number {
  if (lua.top() !== 1) lua.errorWhere("bad argument #1 to 'decode' (expected 1 argument)");
  const s = lua.type(1) === T_STRING || lua.type(1) === T_NUMBER ? lua.toString(1) : null;
  if (s === null) lua.errorWhere(`bad argument #1 to 'decode' (string expected, got ${lua.typeName(1)})`);
  new JsonDecoder(lua, s, cfg).decode();
  return 1;
}

/** The cjson configuration functions (each returns the current setting(s), optionally changing them). */
export function cjsonConfigure(lua: LuaState, cfg: CjsonConfig, name: string): number {
  const n = lua.top();
  const intArg = (i: number, min: number, max: number): number | null => {
    if (n < i || lua.type(i) === T_NIL) return null;
    if (!lua.isNumber(i)) lua.errorWhere(`bad argument #${i} to '${name}' (number expected)`);
    const v = Math.trunc(lua.toNumber(i));
    if (v < min || v > max) lua.errorWhere(`bad argument #${i} to '${name}' (expected integer between ${min} and ${max})`);
    return v;
  };
  const boolArg = (i: number): boolean | 'null' | null => {
    if (n < i || lua.type(i) === T_NIL) return null;
    if (lua.type(i) === T_BOOLEAN) return lua.toBoolean(i);
    const s = lua.toString(i);
    if (s === 'on') return true;
    if (s === 'off') return false;
    if (s === 'null') return 'null';
    return lua.errorWhere(`bad argument #${i} to '${name}' (invalid option '${s}')`);
  };
  const pushBool = (b: boolean | 'null'): void => (b === 'null' ? lua.pushString('null') : lua.pushBoolean(b));
  switch (name) {
    case 'encode_max_depth': {
      const v = intArg(1, 1, 0x7fffffff);
      if (v !== null) cfg.encodeMaxDepth = v;
      lua.pushInteger(cfg.encodeMaxDepth);
      return 1;
    }
    case 'decode_max_depth': {
      const v = intArg(1, 1, 0x7fffffff);
      if (v !== null) cfg.decodeMaxDepth = v;
      lua.pushInteger(cfg.decodeMaxDepth);
      return 1;
    }
    case 'encode_number_precision': {
      const v = intArg(1, 1, 14);
      if (v !== null) cfg.numberPrecision = v;
      lua.pushInteger(cfg.numberPrecision);
      return 1;
    }
    case 'encode_sparse_array': {
      const conv = boolArg(1);
      const ratio = intArg(2, 0, 0x7fffffff);
      const safe = intArg(3, 0, 0x7fffffff);
      if (conv !== null) cfg.sparseConvert = conv === true;
      if (ratio !== null) cfg.sparseRatio = ratio;
      if (safe !== null) cfg.sparseSafe = safe;
      lua.pushBoolean(cfg.sparseConvert);
      lua.pushInteger(cfg.sparseRatio);
      lua.pushInteger(cfg.sparseSafe);
      return 3;
    }
    case 'encode_invalid_numbers': {
      const v = boolArg(1);
      if (v !== null) cfg.encodeInvalidNumbers = v;
      pushBool(cfg.encodeInvalidNumbers);
      return 1;
    }
    case 'decode_invalid_numbers': {
      const v = boolArg(1);
      if (v !== null) cfg.decodeInvalidNumbers = v === true;
      lua.pushBoolean(cfg.decodeInvalidNumbers);
      return 1;
    }
    default: {
      const v = boolArg(1);
      if (v !== null) cfg.keepBuffer = v === true;
      lua.pushBoolean(cfg.keepBuffer);
      return 1;
    }
  }
}

export const CJSON_CONFIG_FUNCTIONS = [
  'encode_max_depth',
  'decode_max_depth',
  'encode_number_precision',
  'encode_sparse_array',
  'encode_invalid_numbers',
  'decode_invalid_numbers',
  'encode_keep_buffer',
];
