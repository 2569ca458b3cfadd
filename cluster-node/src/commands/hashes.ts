/**
 * Command handlers: hashes family (specs in common/src/commands/specs/hashes.ts).
 *
 * Behaviour follows Redis 7.0's t_hash.c: reply types (RESP3 map for HGETALL, nested pairs for
 * HRANDFIELD WITHVALUES), error texts, the "hset"/"hdel"/"hincrby"/"hincrbyfloat" notifications (and
 * "del" when HDEL empties a hash), dirty counting, and HINCRBYFLOAT propagated as HSET.
 *
 * HINCRBYFLOAT computes in x87 80-bit long double like Redis (./long-double.ts), so results
 * such as 0.1 + 0.2 = "0.3" and huge values like 1e400 match Redis byte for byte.
 *
 * HSCAN: see scanCollection in ./sets for the cursor guarantee (live insertion-order iterators;
 * hashes with at most hash-max-listpack-entries fields are returned whole with cursor 0, like
 * Redis's listpack encoding). NOVALUES (Redis 7.4) is supported.
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseBigInt, parseInt64 } from './args';
import { LD_ZERO, addLongDouble, formatLongDouble, parseLongDouble } from './long-double';
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
    const incr = parseLongDouble(argv[3]);
    if (incr === null) throw new ReplyError(E.notFloat);
    if (incr.inf) throw new ReplyError('ERR value is NaN or Infinity');
    const key = argv[1];
    const field = argv[2];
    const h = hashForWrite(c, key);
    const cur = h.map.get(field);
    const value = cur === undefined ? LD_ZERO : parseLongDouble(cur);
    if (value === null) throw new ReplyError('ERR hash value is not a float');
    const sum = addLongDouble(value, incr);
    if (sum === null) throw new ReplyError(E.nanOrInf);
    const out = formatLongDouble(sum);
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
