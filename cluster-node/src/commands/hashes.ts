/**
 * Command handlers: hashes family (specs in common/src/commands/specs/hashes.ts).
 *
 * Behaviour follows Redis 7.0's t_hash.c: reply types (RESP3 map for HGETALL, nested pairs for
 * HRANDFIELD WITHVALUES), error texts, the "hset"/"hdel"/"hincrby"/"hincrbyfloat" notifications (and
 * "del" when HDEL empties a hash), dirty counting, and HINCRBYFLOAT propagated as HSET.
 *
 * HINCRBYFLOAT computes in x87 80-bit long double like Redis (see the LongDouble section), so results
 * such as 0.1 + 0.2 = "0.3" and huge values like 1e400 match Redis byte for byte.
 *
 * HSCAN: see scanCollection in ./sets for the cursor guarantee (live insertion-order iterators;
 * hashes with at most hash-max-listpack-entries fields are returned whole with cursor 0, like
 * Redis's listpack encoding). NOVALUES (Redis 7.4) is supported.
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseBigInt, parseInt64 } from './args';
import type { Client } from '../server/client';
import { HashValue } from '../keyspace/values';
import { globMatch } from '../../../common/src/glob';
import { MAX_REPEAT_REPLY, parseScanCursor, parseScanOptions, parseSignedCount, replyScan, scanCollection } from './sets';

// ------------------------------------------------------------------------------------ helpers

/** The hash at `key` for a read (counts keyspace hits/misses), null if missing; WRONGTYPE otherwise. */
function readHash(c: Client, key: string): HashValue | null {
  const v = c.db.get(key);
  if (v === undefined) {
    c.server.stats.keyspaceMisses++;
    return null;
  }
  c.server.stats.keyspaceHits++;
  if (typeof v === 'string' || v.type !== 'hash') throw new ReplyError(E.wrongType);
  return v as HashValue;
}

/** The hash at `key` for a write (no stats), null if missing; WRONGTYPE otherwise. */
function writeHash(c: Client, key: string): HashValue | null {
  const v = c.db.get(key);
  if (v === undefined) return null;
  if (typeof v === 'string' || v.type !== 'hash') throw new ReplyError(E.wrongType);
  return v as HashValue;
}

/** The hash at `key`, created (and stored, empty) if missing: the caller must add a field. */
function hashForWrite(c: Client, key: string): HashValue {
  const db = c.db;
  const v = db.get(key);
  if (v === undefined) {
    const h = new HashValue();
    db.set(key, h);
    return h;
  }
  if (typeof v === 'string' || v.type !== 'hash') throw new ReplyError(E.wrongType);
  return v as HashValue;
}

/** Common tail of a hash write: memory, WATCH, notification, dirty. */
function written(c: Client, key: string, h: HashValue, event: string, dirty: number): void {
  const db = c.db;
  const s = c.server;
  db.account(key, h);
  s.signalModified(db, key);
  if (s.pubsub.notifying) s.pubsub.notify('h', event, key, db.id);
  s.dirty += dirty;
}

function randInt(n: number): number {
  return Math.floor(Math.random() * n);
}

// ------------------------------------------------------------------------- random field index

/** Hashes below this size pick random fields by walking the Map. */
const RANDOM_INDEX_MIN = 64;
/** Field arrays of large hashes used by HRANDFIELD; dropped by every write that adds or removes a field. */
const randIndex = new WeakMap<HashValue, string[]>();
let randIndexCount = 0;

function dropIndex(h: HashValue): void {
  if (randIndexCount > 0 && randIndex.delete(h)) randIndexCount--;
}

function randomField(h: HashValue): string {
  const map = h.map;
  const n = map.size;
  if (n < RANDOM_INDEX_MIN) {
    let k = randInt(n);
    for (const f of map.keys()) if (k-- === 0) return f;
  }
  let arr = randIndex.get(h);
  if (arr === undefined || arr.length !== n) {
    if (arr === undefined) randIndexCount++;
    arr = Array.from(map.keys());
    randIndex.set(h, arr);
  }
  let f = arr[randInt(n)];
  if (!map.has(f)) {
    arr = Array.from(map.keys());
    randIndex.set(h, arr);
    f = arr[randInt(n)];
  }
  return f;
}

// ---------------------------------------------------------------------- integers (HINCRBY)

const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;

/** Exact int64 parse (Redis string2ll): a number when short (exact), else a BigInt. */
function parseExactInt(s: string, err: string): number | bigint {
  if (s.length < 16) return parseInt64(s, err);
  return parseBigInt(s, err);
}

// ---------------------------------------------------------------- LongDouble (HINCRBYFLOAT)

/**
 * x87 80-bit extended precision ("long double" on x86-64 Linux, what Redis's HINCRBYFLOAT and
 * INCRBYFLOAT compute with), emulated exactly with BigInt: value = (neg ? -1 : 1) * m * 2^e with a
 * 64-bit significand m. Parsing rounds correctly (like glibc strtold), addition rounds the exact sum
 * (round to nearest, ties to even), and formatting is exact "%.17Lf" with Redis's LD_STR_HUMAN trim.
 */
export interface LongDouble {
  neg: boolean;
  m: bigint;
  e: number;
  inf: boolean;
}

const LD_MIN_E = -16445; // scale of subnormals and of the smallest normal exponent
const LD_MAX_E = 16320; // m < 2^64 at this scale is the largest finite value
const B63 = 1n << 63n;
const B64 = 1n << 64n;
const MAX_LONG_DOUBLE_CHARS = 5 * 1024;

function bitLen(n: bigint): number {
  const h = n.toString(16);
  return (h.length - 1) * 4 + (32 - Math.clz32(parseInt(h[0], 16)));
}

/** Round N/D (N, D > 0) to a long double; inf on overflow, null on underflow to zero. */
function ldRound(neg: boolean, N: bigint, D: bigint): LongDouble | null {
  let e = bitLen(N) - bitLen(D) - 64;
  for (;;) {
    if (e < LD_MIN_E) e = LD_MIN_E;
    let num = N;
    let den = D;
    if (e >= 0) den = D << BigInt(e);
    else num = N << BigInt(-e);
    let q = num / den;
    if (q >= B64) {
      e++;
      continue;
    }
    const r2 = (num - q * den) << 1n;
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q++;
    if (q === B64) {
      q = B63;
      e++;
    }
    if (e > LD_MAX_E) return { neg, m: 0n, e: 0, inf: true };
    if (q === 0n) return null;
    return { neg, m: q, e, inf: false };
  }
}

const DEC_RE = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX_RE = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;

/**
 * Redis's string2ld: strtold over the whole string (no leading space, no NaN, no overflow or
 * underflow to zero). Accepts decimal, hex floats and inf/infinity. Null when not a valid float.
 */
export function ldParse(s: string): LongDouble | null {
  const n = s.length;
  if (n === 0 || n >= MAX_LONG_DOUBLE_CHARS) return null;
  const c0 = s.charCodeAt(0);
  if (c0 === 32 || (c0 >= 9 && c0 <= 13)) return null;
  let neg = false;
  let body = s;
  if (c0 === 43 || c0 === 45) {
    neg = c0 === 45;
    body = s.slice(1);
  }
  const lower = body.toLowerCase();
  if (lower === 'inf' || lower === 'infinity') return { neg, m: 0n, e: 0, inf: true };
  let N: bigint;
  let D = 1n;
  let m = HEX_RE.exec(body);
  if (m !== null) {
    const ip = m[1];
    const fp = m[2] ?? '';
    if (ip.length + fp.length === 0) return null;
    const digits = (ip + fp).replace(/^0+/, '');
    if (digits === '') return { neg, m: 0n, e: 0, inf: false };
    N = BigInt('0x' + digits);
    const exp2 = (m[3] === undefined ? 0 : Number(m[3])) - 4 * fp.length;
    const mag = bitLen(N) + exp2;
    if (mag > 16400) return null;
    if (mag < LD_MIN_E - 2) return null;
    if (exp2 >= 0) N <<= BigInt(exp2);
    else D = 1n << BigInt(-exp2);
  } else {
    m = DEC_RE.exec(body);
    if (m === null) return null;
    const ip = m[1];
    const fp = m[2] ?? '';
    if (ip.length + fp.length === 0) return null;
    const digits = (ip + fp).replace(/^0+/, '');
    if (digits === '') return { neg, m: 0n, e: 0, inf: false };
    const exp10 = (m[3] === undefined ? 0 : Number(m[3])) - fp.length;
    const mag = digits.length + exp10;
    if (mag > 4940) return null;
    if (mag < -4960) return null;
    N = BigInt(digits);
    if (exp10 >= 0) N *= 10n ** BigInt(exp10);
    else D = 10n ** BigInt(-exp10);
  }
  const r = ldRound(neg, N, D);
  if (r === null || r.inf) return null; // ERANGE: underflow to zero or overflow
  return r;
}

/** Exact long double of an int64 (always representable). */
export function ldFromInt(n: bigint): LongDouble {
  if (n === 0n) return { neg: false, m: 0n, e: 0, inf: false };
  const neg = n < 0n;
  return ldRound(neg, neg ? -n : n, 1n)!;
}

/** a + b rounded to long double (finite inputs); inf on overflow. */
export function ldAdd(a: LongDouble, b: LongDouble): LongDouble {
  if (a.inf || b.inf) {
    if (a.inf && b.inf && a.neg !== b.neg) return { neg: false, m: -1n, e: 0, inf: true }; // NaN marker
    return a.inf ? a : b;
  }
  if (a.m === 0n && b.m === 0n) return { neg: a.neg && b.neg, m: 0n, e: 0, inf: false };
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  let A = a.m << BigInt(a.e - e);
  if (a.neg) A = -A;
  let B = b.m << BigInt(b.e - e);
  if (b.neg) B = -B;
  const S = A + B;
  if (S === 0n) return { neg: false, m: 0n, e: 0, inf: false };
  const neg = S < 0n;
  const N = neg ? -S : S;
  const r = e >= 0 ? ldRound(neg, N << BigInt(e), 1n) : ldRound(neg, N, 1n << BigInt(-e));
  return r!; // the exact sum of two values at scale >= LD_MIN_E never underflows to zero
}

const P17 = 10n ** 17n;

/** Redis ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and dot removed, "-0" -> "0". */
export function ldFormatHuman(x: LongDouble): string {
  if (x.inf) return x.neg ? '-inf' : 'inf';
  let X: bigint;
  if (x.e >= 0) X = (x.m << BigInt(x.e)) * P17;
  else {
    const den = 1n << BigInt(-x.e);
    const num = x.m * P17;
    X = num / den;
    const r2 = (num - X * den) << 1n;
    if (r2 > den || (r2 === den && (X & 1n) === 1n)) X++;
  }
  let digits = X.toString();
  if (digits.length < 18) digits = '0'.repeat(18 - digits.length) + digits;
  const intPart = digits.slice(0, digits.length - 17);
  let fracEnd = digits.length;
  while (fracEnd > digits.length - 17 && digits.charCodeAt(fracEnd - 1) === 48) fracEnd--;
  const frac = digits.slice(digits.length - 17, fracEnd);
  const out = (x.neg ? '-' : '') + intPart + (frac.length > 0 ? '.' + frac : '');
  return out === '-0' ? '0' : out;
}

// ----------------------------------------------------------------------------------- handlers

function hsetGeneric(c: Client, argv: string[], isHset: boolean): void {
  const n = argv.length;
  if ((n & 1) === 1) throw new ReplyError(`ERR wrong number of arguments for '${isHset ? 'hset' : 'hmset'}' command`);
  const key = argv[1];
  const h = hashForWrite(c, key);
  const map = h.map;
  const before = map.size;
  if (n === 4) map.set(argv[2], argv[3]);
  else for (let i = 2; i < n; i += 2) map.set(argv[i], argv[i + 1]);
  const created = map.size - before;
  if (created > 0 && randIndexCount > 0) dropIndex(h);
  if (isHset) c.w.int(created);
  else c.w.ok();
  written(c, key, h, 'hset', (n - 2) >> 1);
}

export const handlers: HandlerMap = {
  hset(c, argv) {
    hsetGeneric(c, argv, true);
  },

  hmset(c, argv) {
    hsetGeneric(c, argv, false);
  },

  hsetnx(c, argv) {
    const key = argv[1];
    const h = hashForWrite(c, key);
    if (h.map.has(argv[2])) return c.w.int(0);
    h.map.set(argv[2], argv[3]);
    dropIndex(h);
    c.w.int(1);
    written(c, key, h, 'hset', 1);
  },

  hget(c, argv) {
    const h = readHash(c, argv[1]);
    if (h === null) return c.w.nil();
    const v = h.map.get(argv[2]);
    if (v === undefined) c.w.nil();
    else c.w.bulk(v);
  },

  hmget(c, argv) {
    const h = readHash(c, argv[1]);
    const w = c.w;
    w.array(argv.length - 2);
    for (let i = 2; i < argv.length; i++) {
      const v = h === null ? undefined : h.map.get(argv[i]);
      if (v === undefined) w.nil();
      else w.bulk(v);
    }
  },

  hdel(c, argv) {
    const db = c.db;
    const s = c.server;
    const key = argv[1];
    const h = writeHash(c, key);
    if (h === null) return c.w.int(0);
    const map = h.map;
    let deleted = 0;
    for (let i = 2; i < argv.length; i++) {
      if (map.delete(argv[i])) {
        deleted++;
        if (map.size === 0) break;
      }
    }
    if (deleted > 0) {
      dropIndex(h);
      db.account(key, h);
      s.signalModified(db, key);
      s.pubsub.notify('h', 'hdel', key, db.id);
      if (map.size === 0) s.pubsub.notify('g', 'del', key, db.id);
      s.dirty += deleted;
    }
    c.w.int(deleted);
  },

  hlen(c, argv) {
    const h = readHash(c, argv[1]);
    c.w.int(h === null ? 0 : h.map.size);
  },

  hstrlen(c, argv) {
    const h = readHash(c, argv[1]);
    const v = h === null ? undefined : h.map.get(argv[2]);
    c.w.int(v === undefined ? 0 : v.length);
  },

  hexists(c, argv) {
    const h = readHash(c, argv[1]);
    c.w.int(h !== null && h.map.has(argv[2]) ? 1 : 0);
  },

  hkeys(c, argv) {
    const h = readHash(c, argv[1]);
    const w = c.w;
    if (h === null) return w.emptyArray();
    w.array(h.map.size);
    for (const f of h.map.keys()) w.bulk(f);
  },

  hvals(c, argv) {
    const h = readHash(c, argv[1]);
    const w = c.w;
    if (h === null) return w.emptyArray();
    w.array(h.map.size);
    for (const v of h.map.values()) w.bulk(v);
  },

  hgetall(c, argv) {
    const h = readHash(c, argv[1]);
    const w = c.w;
    if (h === null) return w.map(0);
    w.map(h.map.size);
    for (const [f, v] of h.map) {
      w.bulk(f);
      w.bulk(v);
    }
  },

  hincrby(c, argv) {
    const incr = parseExactInt(argv[3], E.notInt);
    const key = argv[1];
    const field = argv[2];
    const h = hashForWrite(c, key);
    const cur = h.map.get(field);
    const old = cur === undefined ? 0 : parseExactInt(cur, 'ERR hash value is not an integer');
    let result: string;
    if (typeof old === 'number' && typeof incr === 'number') {
      const sum = old + incr; // both below 1e15: exact
      result = String(sum);
      c.w.int(sum);
    } else {
      const sum = BigInt(old) + BigInt(incr);
      if (sum > I64_MAX || sum < I64_MIN) throw new ReplyError(E.overflow);
      result = sum.toString();
      c.w.bigint(sum);
    }
    h.map.set(field, result);
    if (cur === undefined) dropIndex(h);
    written(c, key, h, 'hincrby', 1);
  },

  hincrbyfloat(c, argv) {
    const incr = ldParse(argv[3]);
    if (incr === null) throw new ReplyError(E.notFloat);
    if (incr.inf) throw new ReplyError('ERR value is NaN or Infinity');
    const key = argv[1];
    const field = argv[2];
    const h = hashForWrite(c, key);
    const cur = h.map.get(field);
    let value: LongDouble;
    if (cur === undefined) value = { neg: false, m: 0n, e: 0, inf: false };
    else {
      const p = ldParse(cur);
      if (p === null) throw new ReplyError('ERR hash value is not a float');
      value = p;
    }
    const sum = ldAdd(value, incr);
    if (sum.inf) throw new ReplyError(E.nanOrInf);
    const out = ldFormatHuman(sum);
    h.map.set(field, out);
    if (cur === undefined) dropIndex(h);
    c.w.bulk(out);
    written(c, key, h, 'hincrbyfloat', 1);
    c.server.propagateAs(['HSET', key, field, out]);
  },

  hrandfield(c, argv) {
    if (argv.length >= 3) return hrandfieldWithCount(c, argv);
    const h = readHash(c, argv[1]);
    if (h === null) return c.w.nil();
    c.w.bulk(randomField(h));
  },

  hscan(c, argv) {
    const cursor = parseScanCursor(argv[2]);
    const h = readHash(c, argv[1]);
    if (h === null) return replyScan(c, 0, []);
    const o = parseScanOptions(argv, 3, true);
    const items: string[] = [];
    const pat = o.pattern;
    const noValues = o.noValues;
    const smallMax = c.server.config.int('hash-max-listpack-entries');
    const next = scanCollection<[string, string]>(h.map, h.map.size, cursor, o.count, smallMax, (e) => {
      if (pat !== null && !globMatch(pat, e[0])) return;
      items.push(e[0]);
      if (!noValues) items.push(e[1]);
    });
    replyScan(c, next, items);
  },
};

const HALF_LONG_MAX = 4611686018427387903n;

function hrandfieldWithCount(c: Client, argv: string[]): void {
  const countArg = argv[2];
  const l = parseSignedCount(countArg);
  let withValues = false;
  if (argv.length > 4 || (argv.length === 4 && argv[3].toLowerCase() !== 'withvalues')) throw new ReplyError(E.syntax);
  if (argv.length === 4) {
    withValues = true;
    const big = BigInt(countArg);
    if (big < -HALF_LONG_MAX || big > HALF_LONG_MAX) throw new ReplyError('ERR value is out of range');
  }
  const h = readHash(c, argv[1]);
  const w = c.w;
  if (h === null) return w.emptyArray();
  const map = h.map;
  const size = map.size;
  const uniq = l >= 0;
  const count = uniq ? l : -l;
  if (count === 0) return w.emptyArray();
  const resp3 = w.proto === 3;
  if (!uniq || count === 1) {
    if (count >= MAX_REPEAT_REPLY) throw new ReplyError('ERR value is out of range');
    w.array(withValues && !resp3 ? count * 2 : count);
    for (let k = 0; k < count; k++) {
      const f = randomField(h);
      if (withValues) {
        if (resp3) w.array(2);
        w.bulk(f);
        w.bulk(map.get(f)!);
      } else w.bulk(f);
    }
    return;
  }
  const n = count < size ? count : size;
  w.array(withValues && !resp3 ? n * 2 : n);
  const emit = (f: string, v: string): void => {
    if (withValues) {
      if (resp3) w.array(2);
      w.bulk(f);
      w.bulk(v);
    } else w.bulk(f);
  };
  if (count >= size) {
    for (const [f, v] of map) emit(f, v);
    return;
  }
  if (count * 3 > size) {
    const arr = Array.from(map.keys());
    for (let k = 0; k < count; k++) {
      const j = k + randInt(size - k);
      const t = arr[j];
      arr[j] = arr[k];
      arr[k] = t;
      emit(t, map.get(t)!);
    }
    return;
  }
  const picked = new Set<string>();
  while (picked.size < count) {
    const f = randomField(h);
    if (!picked.has(f)) {
      picked.add(f);
      emit(f, map.get(f)!);
    }
  }
}
