/**
 * Command handlers: sets family (specs in common/src/commands/specs/sets.ts), plus the collection
 * SCAN machinery shared with HSCAN (and usable by ZSCAN).
 *
 * Behaviour follows Redis 7.0's t_set.c: reply types (RESP3 sets for SMEMBERS/SINTER/SUNION/SDIFF/
 * SPOP count, arrays for SRANDMEMBER), error texts, notifications ("sadd", "srem", "spop", the
 * "*store" events and "del" when a set is emptied or a store result is empty), dirty counting, and
 * propagation (SPOP as SREM / DEL).
 *
 * Random members: a JS Set has no random access, so sets larger than RANDOM_INDEX_MIN get a lazily
 * built member array (`randIndex`) when a random command first needs one. SPOP keeps it in sync
 * (swap-remove) and SADD appends to it, so SADD/SPOP workloads stay O(1) per member; other writes
 * through these handlers drop it (rebuilt on the next random read). A stale array (a write that
 * bypassed these handlers) is detected by a size mismatch or by the picked member being absent.
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseBigInt, parseInt64 } from './args';
import type { Client } from '../server/client';
import { SetValue } from '../keyspace/values';
import { globMatch } from '../../../common/src/glob';

// ------------------------------------------------------------------------------------ helpers

/** The set at `key` for a read (counts keyspace hits/misses), null if missing; WRONGTYPE otherwise. */
function readSet(c: Client, key: string): SetValue | null {
  const v = c.db.get(key);
  if (v === undefined) {
    c.server.stats.keyspaceMisses++;
    return null;
  }
  c.server.stats.keyspaceHits++;
  if (typeof v === 'string' || v.type !== 'set') throw new ReplyError(E.wrongType);
  return v as SetValue;
}

/** The set at `key` for a write (no hit/miss stats), null if missing; WRONGTYPE otherwise. */
function writeSet(c: Client, key: string): SetValue | null {
  const v = c.db.get(key);
  if (v === undefined) return null;
  if (typeof v === 'string' || v.type !== 'set') throw new ReplyError(E.wrongType);
  return v as SetValue;
}

const MAX_I64 = 9223372036854775807n;

/**
 * Redis's getRangeLongFromObjectOrReply for ranges within [-LONG_MAX, LONG_MAX]: exact for the
 * 19-digit edges (a JS number cannot tell -2^63 from -2^63+1). Returns a number (counts beyond 2^53
 * lose precision, which no caller can act on anyway).
 */
function parseLongRange(s: string, min: bigint, max: bigint, rangeErr: string | null, notIntErr: string = E.notInt): number {
  const big = s.length < 16 ? BigInt(parseInt64(s, notIntErr)) : parseBigInt(s, notIntErr);
  if (big < min || big > max) {
    throw new ReplyError(rangeErr ?? `ERR value is out of range, value must between ${min} and ${max}`);
  }
  return Number(big);
}

/** Signed count in [-LONG_MAX, LONG_MAX] (SRANDMEMBER, HRANDFIELD). */
export function parseSignedCount(s: string): number {
  return parseLongRange(s, -MAX_I64, MAX_I64, null);
}

/** Redis getPositiveLongFromObjectOrReply. */
export function parsePositiveLong(s: string, err = 'ERR value is out of range, must be positive'): number {
  return parseLongRange(s, 0n, MAX_I64, err, err);
}

/**
 * Replies that would repeat members this many times or more are refused (Redis would try to build
 * them and exhaust memory; a JS process cannot even attempt it).
 */
export const MAX_REPEAT_REPLY = 64 * 1024 * 1024;

function randInt(n: number): number {
  return Math.floor(Math.random() * n);
}

// -------------------------------------------------------------------------------- random index

/** Sets below this size pick random members by walking the Set (at most this many steps). */
const RANDOM_INDEX_MIN = 64;
const randIndex = new WeakMap<SetValue, string[]>();
/** Number of random indexes ever built and not dropped (lets SADD skip the WeakMap when zero). */
let randIndexCount = 0;

function dropIndex(sv: SetValue): void {
  if (randIndexCount > 0 && randIndex.delete(sv)) randIndexCount--;
}

/** The member array of a large set, (re)built when missing or visibly stale. */
function indexOf(sv: SetValue): string[] {
  let arr = randIndex.get(sv);
  if (arr === undefined || arr.length !== sv.set.size) {
    if (arr === undefined) randIndexCount++;
    arr = Array.from(sv.set);
    randIndex.set(sv, arr);
  }
  return arr;
}

/** Position in the random index of a uniformly random member (set size >= RANDOM_INDEX_MIN). */
function randomSlot(sv: SetValue): { arr: string[]; i: number } {
  let arr = indexOf(sv);
  let i = randInt(arr.length);
  if (!sv.set.has(arr[i])) {
    // Stale (the set changed behind our back): rebuild once.
    arr = Array.from(sv.set);
    randIndex.set(sv, arr);
    i = randInt(arr.length);
  }
  return { arr, i };
}

/** A uniformly random member of a non-empty set. */
function randomMember(sv: SetValue): string {
  const set = sv.set;
  const n = set.size;
  if (n < RANDOM_INDEX_MIN) {
    let k = randInt(n);
    for (const m of set) if (k-- === 0) return m;
  }
  const r = randomSlot(sv);
  return r.arr[r.i];
}

/** Remove and return a uniformly random member (the caller accounts / deletes the key). */
function popRandom(sv: SetValue): string {
  const set = sv.set;
  if (set.size < RANDOM_INDEX_MIN && (randIndexCount === 0 || !randIndex.has(sv))) {
    let k = randInt(set.size);
    for (const m of set) {
      if (k-- === 0) {
        set.delete(m);
        return m;
      }
    }
  }
  const { arr, i } = randomSlot(sv);
  const m = arr[i];
  const last = arr.pop()!;
  if (i < arr.length) arr[i] = last;
  set.delete(m);
  return m;
}

// ---------------------------------------------------------------------------------- scanning

/**
 * SCAN-family cursors over a Map/Set (HSCAN, SSCAN; ZSCAN can use it too).
 *
 * JS Maps and Sets iterate in insertion order and their iterators are live: deleting an element not
 * yet visited means it is not returned, deleting a visited one does not disturb the iterator, and
 * new elements are appended (so they are returned). A cursor is `pos * 2^20 + token`, where `token`
 * names a cached live iterator that has yielded `pos` elements. While the iterator is cached
 * (the SCAN_CACHE most recent unfinished scans), **every element present for the whole scan is
 * returned exactly once** — stronger than Redis's "at least once" — and elements added during the
 * scan are returned too (an element deleted and re-added may be returned twice).
 * If the cursor's iterator is gone (evicted, server restarted, replica failover, or a cursor made up
 * by the client) the scan resumes at position `pos` of the current insertion order: elements are
 * then still never skipped unless elements that were already returned are deleted meanwhile.
 *
 * Small collections (at most `smallMax` elements, Redis's listpack/intset case) are returned whole
 * with cursor 0, whatever the cursor and COUNT, exactly like Redis does for compact encodings.
 * Cursors stay below 2^53 so clients that turn them into numbers (node-redis) round-trip them.
 */
const TOKEN_SPACE = 1 << 20;
const SCAN_CACHE = 256;

interface ScanState {
  coll: object;
  it: Iterator<unknown>;
  pos: number;
}

const scanStates = new Map<number, ScanState>();
let nextToken = 1;

/** Redis's parseScanCursorOrReply (strtoul semantics: sign allowed, empty = 0); returns a BigInt. */
export function parseScanCursor(s: string): bigint {
  const n = s.length;
  if (n === 0) return 0n;
  let i = 0;
  const c0 = s.charCodeAt(0);
  const neg = c0 === 45;
  if (neg || c0 === 43) i = 1;
  if (i === n) throw new ReplyError('ERR invalid cursor');
  for (let j = i; j < n; j++) {
    const d = s.charCodeAt(j);
    if (d < 48 || d > 57) throw new ReplyError('ERR invalid cursor');
  }
  let v = BigInt(i === 0 ? s : s.slice(1));
  if (v > 0xffffffffffffffffn) throw new ReplyError('ERR invalid cursor');
  if (neg && v !== 0n) v = (1n << 64n) - v;
  return v;
}

export interface ScanOptions {
  count: number;
  pattern: string | null;
  /** HSCAN NOVALUES (Redis 7.4). */
  noValues: boolean;
}

/**
 * Parse the options after `KEY CURSOR` (argv index `from`): COUNT n (>= 1), MATCH pattern, and
 * NOVALUES when `allowNoValues`.
 */
export function parseScanOptions(argv: string[], from: number, allowNoValues: boolean): ScanOptions {
  const o: ScanOptions = { count: 10, pattern: null, noValues: false };
  let i = from;
  while (i < argv.length) {
    const more = argv.length - i;
    const opt = argv[i].toLowerCase();
    if (opt === 'count' && more >= 2) {
      const n = parseLongRange(argv[i + 1], -MAX_I64 - 1n, MAX_I64, null);
      if (n < 1) throw new ReplyError(E.syntax);
      o.count = n;
      i += 2;
    } else if (opt === 'match' && more >= 2) {
      const p = argv[i + 1];
      o.pattern = p === '*' ? null : p;
      i += 2;
    } else if (opt === 'novalues' && allowNoValues) {
      o.noValues = true;
      i++;
    } else throw new ReplyError(E.syntax);
  }
  return o;
}

/**
 * Walk `coll` (a Map or Set, `size` elements) from `cursor`, calling `visit` for up to `count`
 * elements (all of them when size <= smallMax). Returns the next cursor (0 when done).
 */
export function scanCollection<T>(
  coll: { [Symbol.iterator](): Iterator<T> },
  size: number,
  cursor: bigint,
  count: number,
  smallMax: number,
  visit: (item: T) => void,
): number {
  if (size <= smallMax) {
    for (const item of coll as Iterable<T>) visit(item);
    return 0;
  }
  let it: Iterator<T>;
  let pos: number;
  if (cursor === 0n) {
    it = coll[Symbol.iterator]();
    pos = 0;
  } else {
    const token = Number(cursor % BigInt(TOKEN_SPACE));
    pos = Number(cursor / BigInt(TOKEN_SPACE));
    const st = scanStates.get(token);
    if (st !== undefined && st.coll === coll && st.pos === pos) {
      scanStates.delete(token);
      it = st.it as Iterator<T>;
    } else {
      // Unknown cursor: resume by position in insertion order.
      if (pos >= size) return 0;
      it = coll[Symbol.iterator]();
      for (let k = 0; k < pos; k++) if (it.next().done) return 0;
    }
  }
  for (let k = 0; k < count; k++) {
    const r = it.next();
    if (r.done) return 0;
    visit(r.value);
    pos++;
  }
  if (pos >= Number.MAX_SAFE_INTEGER / TOKEN_SPACE) return 0;
  const token = nextToken;
  nextToken = nextToken + 1 >= TOKEN_SPACE ? 1 : nextToken + 1;
  scanStates.delete(token);
  scanStates.set(token, { coll, it, pos });
  if (scanStates.size > SCAN_CACHE) {
    const oldest = scanStates.keys().next().value as number;
    scanStates.delete(oldest);
  }
  return pos * TOKEN_SPACE + token;
}

/** Reply `[cursor, [items...]]`. */
export function replyScan(c: Client, cursor: number, items: string[]): void {
  const w = c.w;
  w.array(2);
  w.bulk(String(cursor));
  w.bulkArray(items);
}

/** Small-collection threshold for SSCAN: set-max-listpack-entries (Redis 7.2's listpack sets). */
function setSmallMax(c: Client): number {
  return c.server.config.int('set-max-listpack-entries');
}

// ------------------------------------------------------------------------- set algebra helpers

/** Look up every source key (read, with stats), type-checking all of them like Redis does. */
function lookupSets(c: Client, argv: string[], from: number, to: number): (SetValue | null)[] {
  const out: (SetValue | null)[] = new Array(to - from);
  for (let j = from; j < to; j++) out[j - from] = readSet(c, argv[j]);
  return out;
}

/** Intersection of non-null sets (smallest first) into `out`, stopping after `limit` members (0 = no limit). */
function intersect(sets: SetValue[], limit: number, out: Set<string> | null): number {
  sets.sort((a, b) => a.set.size - b.set.size);
  const first = sets[0];
  const n = sets.length;
  let card = 0;
  outer: for (const m of first.set) {
    for (let j = 1; j < n; j++) {
      const other = sets[j];
      if (other !== first && !other.set.has(m)) continue outer;
    }
    if (out !== null) out.add(m);
    card++;
    if (limit !== 0 && card >= limit) break;
  }
  return card;
}

function union(sets: (SetValue | null)[], out: Set<string>): Set<string> {
  for (const s of sets) if (s !== null) for (const m of s.set) out.add(m);
  return out;
}

function difference(sets: (SetValue | null)[], out: Set<string>): Set<string> {
  const first = sets[0];
  if (first === null) return out;
  for (let j = 1; j < sets.length; j++) if (sets[j] === first) return out;
  outer: for (const m of first.set) {
    for (let j = 1; j < sets.length; j++) {
      const s = sets[j];
      if (s !== null && s.set.has(m)) continue outer;
    }
    out.add(m);
  }
  return out;
}

/** Store the computed set `sv` at `dst` (or delete `dst` when it is empty), with the STORE commands' side effects. */
function storeResult(c: Client, dst: string, sv: SetValue, event: string): void {
  const db = c.db;
  const s = c.server;
  const size = sv.set.size;
  if (size > 0) {
    db.set(dst, sv);
    db.account(dst, sv);
    s.signalModified(db, dst);
    s.pubsub.notify('s', event, dst, db.id);
    s.dirty++;
    c.w.int(size);
  } else {
    c.w.int(0);
    if (db.delete(dst)) {
      s.dirty++;
      s.signalModified(db, dst);
      s.pubsub.notify('g', 'del', dst, db.id);
    }
  }
}

function replySet(c: Client, members: Iterable<string>, size: number): void {
  const w = c.w;
  w.set(size);
  for (const m of members) w.bulk(m);
}

/** After removing members from `sv` at `key`: account memory, and if it became empty the key is gone ("del"). */
function afterRemove(c: Client, key: string, sv: SetValue): boolean {
  const db = c.db;
  db.account(key, sv);
  if (sv.set.size === 0) {
    dropIndex(sv);
    return true;
  }
  return false;
}

// ----------------------------------------------------------------------------------- handlers

export const handlers: HandlerMap = {
  sadd(c, argv) {
    const db = c.db;
    const key = argv[1];
    const v = db.get(key);
    let sv: SetValue;
    if (v === undefined) {
      sv = new SetValue();
      db.set(key, sv);
    } else if (typeof v === 'string' || v.type !== 'set') throw new ReplyError(E.wrongType);
    else sv = v as SetValue;
    const set = sv.set;
    const before = set.size;
    const arr = randIndexCount > 0 ? randIndex.get(sv) : undefined;
    if (arr === undefined) {
      for (let i = 2; i < argv.length; i++) set.add(argv[i]);
    } else {
      for (let i = 2; i < argv.length; i++) {
        const m = argv[i];
        if (!set.has(m)) {
          set.add(m);
          arr.push(m);
        }
      }
    }
    const added = set.size - before;
    if (added > 0) {
      db.account(key, sv);
      const s = c.server;
      s.signalModified(db, key);
      if (s.pubsub.notifying) s.pubsub.notify('s', 'sadd', key, db.id);
      s.dirty += added;
    }
    c.w.int(added);
  },

  srem(c, argv) {
    const db = c.db;
    const key = argv[1];
    const sv = writeSet(c, key);
    if (sv === null) return c.w.int(0);
    const set = sv.set;
    let deleted = 0;
    for (let i = 2; i < argv.length; i++) {
      if (set.delete(argv[i])) {
        deleted++;
        if (set.size === 0) break;
      }
    }
    if (deleted > 0) {
      dropIndex(sv);
      const removed = afterRemove(c, key, sv);
      const s = c.server;
      s.signalModified(db, key);
      s.pubsub.notify('s', 'srem', key, db.id);
      if (removed) s.pubsub.notify('g', 'del', key, db.id);
      s.dirty += deleted;
    }
    c.w.int(deleted);
  },

  smembers(c, argv) {
    const sv = readSet(c, argv[1]);
    if (sv === null) return c.w.set(0);
    replySet(c, sv.set, sv.set.size);
  },

  sismember(c, argv) {
    const sv = readSet(c, argv[1]);
    c.w.int(sv !== null && sv.set.has(argv[2]) ? 1 : 0);
  },

  smismember(c, argv) {
    const sv = readSet(c, argv[1]);
    const w = c.w;
    w.array(argv.length - 2);
    for (let i = 2; i < argv.length; i++) w.int(sv !== null && sv.set.has(argv[i]) ? 1 : 0);
  },

  scard(c, argv) {
    const sv = readSet(c, argv[1]);
    c.w.int(sv === null ? 0 : sv.set.size);
  },

  spop(c, argv) {
    const db = c.db;
    const s = c.server;
    const key = argv[1];
    if (argv.length > 3) throw new ReplyError(E.syntax);
    if (argv.length === 3) return spopWithCount(c, key, argv[2]);
    const sv = writeSet(c, key);
    if (sv === null) return c.w.nil();
    const m = popRandom(sv);
    s.pubsub.notify('s', 'spop', key, db.id);
    s.propagateAs(['SREM', key, m]);
    c.w.bulk(m);
    if (afterRemove(c, key, sv)) s.pubsub.notify('g', 'del', key, db.id);
    s.signalModified(db, key);
    s.dirty++;
  },

  srandmember(c, argv) {
    if (argv.length > 3) throw new ReplyError(E.syntax);
    if (argv.length === 3) return srandmemberWithCount(c, argv[1], argv[2]);
    const sv = readSet(c, argv[1]);
    if (sv === null) return c.w.nil();
    c.w.bulk(randomMember(sv));
  },

  smove(c, argv) {
    const db = c.db;
    const s = c.server;
    const srcKey = argv[1];
    const dstKey = argv[2];
    const m = argv[3];
    const srcV = db.get(srcKey);
    const dstV = db.get(dstKey);
    if (srcV === undefined) return c.w.int(0);
    if (typeof srcV === 'string' || srcV.type !== 'set') throw new ReplyError(E.wrongType);
    if (dstV !== undefined && (typeof dstV === 'string' || dstV.type !== 'set')) throw new ReplyError(E.wrongType);
    const src = srcV as SetValue;
    if (src === dstV) return c.w.int(src.set.has(m) ? 1 : 0);
    if (!src.set.delete(m)) return c.w.int(0);
    dropIndex(src);
    s.pubsub.notify('s', 'srem', srcKey, db.id);
    if (afterRemove(c, srcKey, src)) s.pubsub.notify('g', 'del', srcKey, db.id);
    let dst = dstV as SetValue | undefined;
    if (dst === undefined) {
      dst = new SetValue();
      db.set(dstKey, dst);
    }
    s.signalModified(db, srcKey);
    s.dirty++;
    if (!dst.set.has(m)) {
      dst.set.add(m);
      const arr = randIndexCount > 0 ? randIndex.get(dst) : undefined;
      if (arr !== undefined) arr.push(m);
      db.account(dstKey, dst);
      s.dirty++;
      s.signalModified(db, dstKey);
      s.pubsub.notify('s', 'sadd', dstKey, db.id);
    }
    c.w.int(1);
  },

  sinter(c, argv) {
    const sets = lookupSets(c, argv, 1, argv.length);
    if (sets.includes(null)) return c.w.set(0);
    const out = new Set<string>();
    intersect(sets as SetValue[], 0, out);
    replySet(c, out, out.size);
  },

  sintercard(c, argv) {
    const numkeys = parseLongRange(argv[1], 1n, MAX_I64, 'ERR numkeys should be greater than 0', 'ERR numkeys should be greater than 0');
    if (numkeys > argv.length - 2) throw new ReplyError("ERR Number of keys can't be greater than number of args");
    let limit = 0;
    for (let j = 2 + numkeys; j < argv.length; j++) {
      const more = argv.length - 1 - j;
      if (argv[j].toLowerCase() === 'limit' && more > 0) {
        j++;
        limit = parsePositiveLong(argv[j], "ERR LIMIT can't be negative");
      } else throw new ReplyError(E.syntax);
    }
    const sets = lookupSets(c, argv, 2, 2 + numkeys);
    if (sets.includes(null)) return c.w.int(0);
    c.w.int(intersect(sets as SetValue[], limit, null));
  },

  sinterstore(c, argv) {
    const sets = lookupSets(c, argv, 2, argv.length);
    const sv = new SetValue();
    if (!sets.includes(null)) intersect(sets as SetValue[], 0, sv.set);
    storeResult(c, argv[1], sv, 'sinterstore');
  },

  sunion(c, argv) {
    const res = union(lookupSets(c, argv, 1, argv.length), new Set());
    replySet(c, res, res.size);
  },

  sunionstore(c, argv) {
    const sv = new SetValue();
    union(lookupSets(c, argv, 2, argv.length), sv.set);
    storeResult(c, argv[1], sv, 'sunionstore');
  },

  sdiff(c, argv) {
    const res = difference(lookupSets(c, argv, 1, argv.length), new Set());
    replySet(c, res, res.size);
  },

  sdiffstore(c, argv) {
    const sv = new SetValue();
    difference(lookupSets(c, argv, 2, argv.length), sv.set);
    storeResult(c, argv[1], sv, 'sdiffstore');
  },

  sscan(c, argv) {
    const cursor = parseScanCursor(argv[2]);
    const sv = readSet(c, argv[1]);
    if (sv === null) return replyScan(c, 0, []);
    const o = parseScanOptions(argv, 3, false);
    const items: string[] = [];
    const pat = o.pattern;
    const next = scanCollection<string>(sv.set, sv.set.size, cursor, o.count, setSmallMax(c), (m) => {
      if (pat === null || globMatch(pat, m)) items.push(m);
    });
    replyScan(c, next, items);
  },
};

function spopWithCount(c: Client, key: string, countArg: string): void {
  const db = c.db;
  const s = c.server;
  const count = parsePositiveLong(countArg);
  const sv = writeSet(c, key);
  if (sv === null || count === 0) return c.w.set(0);
  const set = sv.set;
  const size = set.size;
  s.pubsub.notify('s', 'spop', key, db.id);
  s.dirty += count < size ? count : size;
  if (count >= size) {
    // Redis replies through SUNION's code here, whose read lookup counts a keyspace hit.
    s.stats.keyspaceHits++;
    replySet(c, set, size);
    dropIndex(sv);
    db.delete(key);
    s.pubsub.notify('g', 'del', key, db.id);
    s.propagateAs(['DEL', key]);
    s.signalModified(db, key);
    return;
  }
  const w = c.w;
  w.set(count);
  // Propagated as one SREM per popped member, like Redis 7.0.
  for (let k = 0; k < count; k++) {
    const m = popRandom(sv);
    w.bulk(m);
    s.propagateAs(['SREM', key, m]);
  }
  db.account(key, sv);
  s.signalModified(db, key);
}

function srandmemberWithCount(c: Client, key: string, countArg: string): void {
  const l = parseSignedCount(countArg);
  const sv = readSet(c, key);
  const w = c.w;
  if (sv === null) return w.emptyArray();
  const set = sv.set;
  const size = set.size;
  const uniq = l >= 0;
  const count = uniq ? l : -l;
  if (count === 0) return w.emptyArray();
  if (!uniq || count === 1) {
    if (count >= MAX_REPEAT_REPLY) throw new ReplyError('ERR value is out of range');
    w.array(count);
    if (size < RANDOM_INDEX_MIN) {
      const arr = Array.from(set);
      for (let k = 0; k < count; k++) w.bulk(arr[randInt(size)]);
    } else {
      for (let k = 0; k < count; k++) w.bulk(randomMember(sv));
    }
    return;
  }
  if (count >= size) {
    w.array(size);
    for (const m of set) w.bulk(m);
    return;
  }
  w.array(count);
  if (count * 3 > size) {
    // Partial Fisher-Yates over a copy: count distinct members in random order.
    const arr = Array.from(set);
    for (let k = 0; k < count; k++) {
      const j = k + randInt(size - k);
      const t = arr[j];
      arr[j] = arr[k];
      arr[k] = t;
      w.bulk(t);
    }
    return;
  }
  const picked = new Set<string>();
  while (picked.size < count) {
    const m = randomMember(sv);
    if (!picked.has(m)) {
      picked.add(m);
      w.bulk(m);
    }
  }
}
