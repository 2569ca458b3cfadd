/**
 * Command handlers: keys family (specs in common/src/commands/specs/keys.ts): DEL UNLINK EXISTS TYPE
 * RENAME(NX) EXPIRE & co, TTL & co, PERSIST TOUCH KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL SWAPDB
 * MOVE COPY OBJECT DUMP RESTORE SORT SORT_RO, following Redis 7's db.c / expire.c / sort.c / cluster.c.
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseBigInt, parseInt64 } from './args';
import { parseScoreBound } from '../keyspace/structures/sorted-set';
import type { Client } from '../server/client';
import type { Db } from '../keyspace/db';
import { typeOf, type Value, type CollectionValue, type HashValue, type SetValue } from '../keyspace/values';
import { globMatch } from '../../../common/src/glob';
import { SLOT_COUNT, patternHashSlot as patternSlot } from '../../../common/src/slot';
import {
  BadPayload,
  cloneValue,
  dumpValue,
  encodingOf,
  listItems,
  makeList,
  markBigEncoding,
  restoreValue,
  verifyPayload,
  zsetForEach,
  zsetForRanks,
  type EncodingLimits,
} from '../keyspace/serialize';

const SAME_OBJECT = 'ERR source and destination objects are the same';
const DB_RANGE = 'ERR DB index is out of range';
const BUSYKEY = 'BUSYKEY Target key name already exists.';
const INT_MAX = 2147483647;
const INT_MIN = -2147483648;
const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;

// ------------------------------------------------------------------------------------------ helpers

/** Read lookup without touching LRU/LFU (Redis's LOOKUP_NOTOUCH); reclaims an expired key; counts hits/misses. */
function lookupNoTouch(c: Client, db: Db, key: string): Value | undefined {
  let v = db.peek(key);
  if (v !== undefined && db.isExpired(key)) {
    db.get(key);
    v = undefined;
  }
  if (v === undefined) c.server.stats.keyspaceMisses++;
  else c.server.stats.keyspaceHits++;
  return v;
}

/** Read lookup (touches LRU/LFU), counting hits/misses. */
function lookupRead(c: Client, db: Db, key: string): Value | undefined {
  const v = db.get(key);
  if (v === undefined) c.server.stats.keyspaceMisses++;
  else c.server.stats.keyspaceHits++;
  return v;
}

/** Redis's getIntFromObjectOrReply: an int64 that must also fit a C int (`msg` replaces both errors). */
function parseInt32(s: string, msg?: string): number {
  const n = parseInt64(s, msg ?? E.notInt);
  if (n < INT_MIN || n > INT_MAX) throw new ReplyError(msg ?? 'ERR value is out of range, value must between -2147483648 and 2147483647');
  return n;
}

function isClusterSingleDb(c: Client): boolean {
  return c.server.config.bool('cluster-enabled') && c.server.dbs.length === 1;
}

/** Carry LRU/LFU access data with a key that moves (RENAME, MOVE), as Redis keeps the object's lru field. */
function carryAccess(from: Db, fromKey: string, to: Db, toKey: string): void {
  if (from.access === null || to.access === null) return;
  const a = from.access.get(fromKey);
  if (a !== undefined) to.access.set(toKey, a);
}

/**
 * Insert a value under a key that does not exist (Redis's dbAdd): wakes clients blocked on the key.
 * `fresh` values (copies, restored payloads) get their memory estimated; a value moving from another
 * key keeps the estimate its old key accounted, which that key's deletion gives back.
 */
function addValue(c: Client, db: Db, key: string, v: Value, fresh: boolean): void {
  db.set(key, v);
  if (typeof v !== 'string') {
    if (fresh) db.account(key, v);
    c.server.signalKeyReady(db, key);
  }
}

function delKeys(c: Client, argv: string[]): void {
  const db = c.db;
  const s = c.server;
  let n = 0;
  for (let i = 1; i < argv.length; i++) {
    const key = argv[i];
    if (db.get(key) === undefined) continue;
    db.delete(key);
    s.signalModified(db, key);
    s.pubsub.notify('g', 'del', key, db.id);
    s.dirty++;
    n++;
  }
  c.w.int(n);
}

// ------------------------------------------------------------------------------------------ expire

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

/**
 * EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT (Redis's expireGenericCommand). `relative`: the time is
 * added to now; `seconds`: the unit is seconds.
 */
function expireGeneric(c: Client, argv: string[], relative: boolean, seconds: boolean): void {
  let flags = 0;
  for (let i = 3; i < argv.length; i++) {
    const opt = argv[i].toUpperCase();
    if (opt === 'NX') flags |= EXPIRE_NX;
    else if (opt === 'XX') flags |= EXPIRE_XX;
    else if (opt === 'GT') flags |= EXPIRE_GT;
    else if (opt === 'LT') flags |= EXPIRE_LT;
    else throw new ReplyError(`ERR Unsupported option ${argv[i]}`);
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    throw new ReplyError('ERR NX and XX, GT or LT options at the same time are not compatible');
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) throw new ReplyError('ERR GT and LT options at the same time are not compatible');
  const s = c.server;
  const name = c.cmdSpec?.name ?? argv[0].toLowerCase();
  const base = relative ? s.now() : 0;
  const arg = argv[2];
  let when: number;
  if (arg.length < 16) {
    // |n| < 1e15: neither the unit conversion nor adding now can overflow int64.
    when = parseInt64(arg);
    if (seconds) when *= 1000;
    when += base;
  } else {
    let b = parseBigInt(arg);
    if (seconds) {
      if (b > LLONG_MAX / 1000n || b < LLONG_MIN / 1000n) throw new ReplyError(E.invalidExpire(name));
      b *= 1000n;
    }
    if (b > LLONG_MAX - BigInt(base)) throw new ReplyError(E.invalidExpire(name));
    when = Number(b + BigInt(base));
  }
  const db = c.db;
  const key = argv[1];
  if (db.get(key) === undefined) {
    c.w.int(0);
    return;
  }
  if (flags !== 0) {
    const cur = db.getExpire(key);
    if (
      (flags & EXPIRE_NX && cur !== -1) ||
      (flags & EXPIRE_XX && cur === -1) ||
      (flags & EXPIRE_GT && (cur === -1 || when <= cur)) ||
      (flags & EXPIRE_LT && cur !== -1 && when >= cur)
    ) {
      c.w.int(0);
      return;
    }
  }
  s.signalModified(db, key);
  s.dirty++;
  if (when <= s.now() && !s.isReplica) {
    db.delete(key);
    s.propagateAs(['DEL', key]);
    s.pubsub.notify('g', 'del', key, db.id);
  } else {
    db.setExpire(key, when);
    if (relative || seconds) {
      const out = ['PEXPIREAT', key, String(when)];
      for (let i = 3; i < argv.length; i++) out.push(argv[i]);
      s.propagateAs(out);
    }
    s.pubsub.notify('g', 'expire', key, db.id);
  }
  c.w.int(1);
}

/** TTL / PTTL / EXPIRETIME / PEXPIRETIME. */
function ttlGeneric(c: Client, key: string, ms: boolean, abs: boolean): void {
  const db = c.db;
  if (lookupNoTouch(c, db, key) === undefined) {
    c.w.int(-2);
    return;
  }
  const when = db.getExpire(key);
  if (when === -1) {
    c.w.int(-1);
    return;
  }
  let t = abs ? when : when - c.server.now();
  if (t < 0) t = 0;
  c.w.int(ms ? t : Math.floor((t + 500) / 1000));
}

// ------------------------------------------------------------------------------------------ scan

const MAX_U64 = 18446744073709551615n;

/** Redis 7.2 parseScanCursorOrReply (string2ull): a non-negative decimal up to 2^64-1. */
function parseCursor(s: string): number {
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 32 || (s.charCodeAt(i) >= 9 && s.charCodeAt(i) <= 13))) i++;
  if (i < s.length && s.charCodeAt(i) === 43 && i > 0) i++;
  else if (i === 0 && s.charCodeAt(0) === 43) i++;
  const digits = s.slice(i);
  if (digits.length === 0) throw new ReplyError('ERR invalid cursor');
  for (let j = 0; j < digits.length; j++) {
    const d = digits.charCodeAt(j);
    if (d < 48 || d > 57) throw new ReplyError('ERR invalid cursor');
  }
  if (digits.length > 15 && BigInt(digits) > MAX_U64) throw new ReplyError('ERR invalid cursor');
  return Number(digits);
}

// ------------------------------------------------------------------------------------------ object

const OBJECT_HELP = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.',
];

function configInt(c: Client, name: string, dflt: number): number {
  try {
    return c.server.config.int(name);
  } catch {
    return dflt;
  }
}

function encodingLimits(c: Client): EncodingLimits {
  return {
    listMaxListpackSize: configInt(c, 'list-max-listpack-size', -2),
    hashMaxListpackEntries: configInt(c, 'hash-max-listpack-entries', 128),
    hashMaxListpackValue: configInt(c, 'hash-max-listpack-value', 64),
    setMaxIntsetEntries: configInt(c, 'set-max-intset-entries', 512),
    setMaxListpackEntries: configInt(c, 'set-max-listpack-entries', 128),
    setMaxListpackValue: configInt(c, 'set-max-listpack-value', 64),
    zsetMaxListpackEntries: configInt(c, 'zset-max-listpack-entries', 128),
    zsetMaxListpackValue: configInt(c, 'zset-max-listpack-value', 64),
  };
}

/**
 * Redis stores string values 0..9999 as shared integer objects (OBJECT REFCOUNT answers INT_MAX for
 * them) unless maxmemory is set with an LRU/LFU policy, which needs per-object access data.
 */
function isSharedInteger(c: Client, v: string): boolean {
  const n = v.length;
  if (n === 0 || n > 4 || (n > 1 && v.charCodeAt(0) === 48)) return false;
  for (let i = 0; i < n; i++) {
    const d = v.charCodeAt(i);
    if (d < 48 || d > 57) return false;
  }
  const policy = c.server.config.str('maxmemory-policy');
  return c.server.config.int('maxmemory') === 0 || !(policy.endsWith('-lru') || policy.endsWith('-lfu'));
}

function isLfuPolicy(c: Client): boolean {
  return c.server.config.str('maxmemory-policy').endsWith('-lfu');
}

// ------------------------------------------------------------------------------------------ sort

/** SORT's lookupKeyByPattern: "#" is the element itself; "pre*post" a string key; "pre*post->field" a hash field. */
function lookupByPattern(c: Client, db: Db, pattern: string, subst: string): string | null {
  if (pattern === '#') return subst;
  const star = pattern.indexOf('*');
  if (star < 0) return null;
  const arrow = pattern.indexOf('->', star + 1);
  const hasField = arrow >= 0 && arrow + 2 < pattern.length;
  const key = pattern.slice(0, star) + subst + pattern.slice(star + 1, hasField ? arrow : pattern.length);
  const o = lookupRead(c, db, key);
  if (o === undefined) return null;
  if (hasField) {
    if (typeof o === 'string' || o.type !== 'hash') return null;
    return (o as HashValue).map.get(pattern.slice(arrow + 2)) ?? null;
  }
  return typeof o === 'string' ? o : null;
}

/** strtod over a whole C string for SORT's numeric mode: null when it does not convert cleanly. */
function sortScore(s: string): number | null {
  if (s.charCodeAt(0) === 40) return null; // '(' would be taken as an exclusive-bound marker
  const b = parseScoreBound(s);
  if (b === null) return null;
  const v = b.value;
  if (v === Infinity || v === -Infinity) {
    // ERANGE overflow ("1e400") unless the text spells infinity.
    if (!/inf/i.test(s)) return null;
  } else if (v === 0 && /[1-9]/.test(s.split(/[eEpP]/)[0]) && !/^\s*[+-]?0[xX]/.test(s)) {
    return null; // ERANGE underflow ("1e-400")
  }
  return v;
}

function sortGeneric(c: Client, argv: string[], readonly: boolean): void {
  let desc = false;
  let alpha = false;
  let limitStart = 0;
  let limitCount = -1;
  let storeKey: string | null = null;
  let sortBy: string | null = null;
  let dontsort = false;
  const gets: string[] = [];
  const cluster = c.server.config.bool('cluster-enabled');
  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1;
    const opt = argv[j].toUpperCase();
    if (opt === 'ASC') desc = false;
    else if (opt === 'DESC') desc = true;
    else if (opt === 'ALPHA') alpha = true;
    else if (opt === 'LIMIT' && left >= 2) {
      limitStart = parseInt64(argv[j + 1]);
      limitCount = parseInt64(argv[j + 2]);
      j += 2;
    } else if (!readonly && opt === 'STORE' && left >= 1) {
      storeKey = argv[++j];
    } else if (opt === 'BY' && left >= 1) {
      sortBy = argv[++j];
      if (sortBy.indexOf('*') < 0) dontsort = true;
      else if (cluster) throw new ReplyError('ERR BY option of SORT denied in Cluster mode.');
    } else if (opt === 'GET' && left >= 1) {
      if (cluster) throw new ReplyError('ERR GET option of SORT denied in Cluster mode.');
      gets.push(argv[++j]);
    } else throw new ReplyError(E.syntax);
  }
  const db = c.db;
  const s = c.server;
  const sortval = lookupRead(c, db, argv[1]);
  if (sortval !== undefined && (typeof sortval === 'string' || sortval.type === 'hash')) throw new ReplyError(E.wrongType);
  const type = sortval === undefined ? 'list' : (sortval as CollectionValue).type;
  if (type === 'zset') markBigEncoding(sortval as CollectionValue);
  if (dontsort && type === 'set' && storeKey !== null) {
    dontsort = false;
    alpha = true;
    sortBy = null;
  }
  let vectorlen = sortval === undefined ? 0 : (sortval as CollectionValue).size;
  let start = Math.min(Math.max(limitStart, 0), vectorlen);
  limitCount = Math.min(Math.max(limitCount, -1), vectorlen);
  let end = limitCount < 0 ? vectorlen : start + limitCount - 1;
  if (start >= vectorlen) {
    start = vectorlen - 1;
    end = vectorlen - 2;
  }
  if (end >= vectorlen) end = vectorlen - 1;
  if ((type === 'zset' || type === 'list') && dontsort && (start !== 0 || end !== vectorlen - 1)) vectorlen = end - start + 1;

  let objs: string[];
  if (sortval === undefined) objs = [];
  else if (type === 'list' && dontsort) {
    objs = [];
    if (end >= start) {
      const items = listItems(sortval as CollectionValue);
      if (desc) for (let i = items.length - start - 1; i >= 0 && objs.length < vectorlen; i--) objs.push(items[i]);
      else for (let i = start; i < items.length && objs.length < vectorlen; i++) objs.push(items[i]);
      end -= start;
      start = 0;
    }
  } else if (type === 'list') objs = listItems(sortval as CollectionValue);
  else if (type === 'set') objs = [...(sortval as SetValue).set];
  else if (dontsort) {
    objs = [];
    const z = sortval as CollectionValue;
    if (vectorlen > 0) {
      const lo = desc ? z.size - start - vectorlen : start;
      const out = objs;
      zsetForRanks(z, lo, lo + vectorlen, desc, (m) => {
        out.push(m);
      });
    }
    end -= start;
    start = 0;
  } else {
    objs = [];
    const out = objs;
    zsetForEach(sortval as CollectionValue, (m) => {
      out.push(m);
    });
  }

  let order: number[] | null = null;
  let conversionError = false;
  if (!dontsort) {
    const n = objs.length;
    const scores = new Float64Array(n);
    const cmp: (string | null)[] | null = alpha && sortBy !== null ? new Array<string | null>(n).fill(null) : null;
    for (let j = 0; j < n; j++) {
      let byval: string | null;
      if (sortBy !== null) {
        byval = lookupByPattern(c, db, sortBy, objs[j]);
        if (byval === null) continue;
      } else byval = objs[j];
      if (alpha) {
        if (cmp !== null) cmp[j] = byval;
      } else {
        const d = sortScore(byval);
        if (d === null) conversionError = true;
        else scores[j] = d;
      }
    }
    order = new Array<number>(n);
    for (let j = 0; j < n; j++) order[j] = j;
    const sign = desc ? -1 : 1;
    if (!alpha) {
      order.sort((a, b) => {
        const x = scores[a];
        const y = scores[b];
        const r = x > y ? 1 : x < y ? -1 : objs[a] < objs[b] ? -1 : objs[a] > objs[b] ? 1 : 0;
        return r * sign;
      });
    } else if (cmp !== null) {
      order.sort((a, b) => {
        const x = cmp[a];
        const y = cmp[b];
        let r: number;
        if (x === null || y === null) r = x === y ? 0 : x === null ? -1 : 1;
        else r = x < y ? -1 : x > y ? 1 : 0;
        return r * sign;
      });
    } else {
      order.sort((a, b) => (objs[a] < objs[b] ? -1 : objs[a] > objs[b] ? 1 : 0) * sign);
    }
  }
  if (conversionError) throw new ReplyError("ERR One or more scores can't be converted into double");
  const count = end - start + 1;
  const outputlen = gets.length > 0 ? gets.length * count : count;
  const w = c.w;
  if (storeKey === null) {
    w.array(outputlen);
    for (let j = start; j <= end; j++) {
      const obj = objs[order === null ? j : order[j]];
      if (gets.length === 0) w.bulk(obj);
      for (const g of gets) {
        const val = lookupByPattern(c, db, g, obj);
        if (val === null) w.nil();
        else w.bulk(val);
      }
    }
    return;
  }
  const items: string[] = [];
  for (let j = start; j <= end; j++) {
    const obj = objs[order === null ? j : order[j]];
    if (gets.length === 0) items.push(obj);
    for (const g of gets) items.push(lookupByPattern(c, db, g, obj) ?? '');
  }
  if (outputlen > 0) {
    const list = makeList(items);
    db.set(storeKey, list);
    db.account(storeKey, list);
    s.signalModified(db, storeKey);
    s.signalKeyReady(db, storeKey);
    s.pubsub.notify('l', 'sortstore', storeKey, db.id);
    s.dirty += outputlen;
  } else if (db.delete(storeKey)) {
    s.signalModified(db, storeKey);
    s.pubsub.notify('g', 'del', storeKey, db.id);
    s.dirty++;
  }
  w.int(outputlen);
}

// ------------------------------------------------------------------------------------------ handlers

export const handlers: HandlerMap = {
  del(c, argv) {
    delKeys(c, argv);
  },

  unlink(c, argv) {
    delKeys(c, argv);
  },

  exists(c, argv) {
    const db = c.db;
    let n = 0;
    for (let i = 1; i < argv.length; i++) if (lookupNoTouch(c, db, argv[i]) !== undefined) n++;
    c.w.int(n);
  },

  type(c, argv) {
    const v = lookupNoTouch(c, c.db, argv[1]);
    c.w.simple(v === undefined ? 'none' : typeOf(v));
  },

  rename(c, argv) {
    renameGeneric(c, argv, false);
  },

  renamenx(c, argv) {
    renameGeneric(c, argv, true);
  },

  expire(c, argv) {
    expireGeneric(c, argv, true, true);
  },
  pexpire(c, argv) {
    expireGeneric(c, argv, true, false);
  },
  expireat(c, argv) {
    expireGeneric(c, argv, false, true);
  },
  pexpireat(c, argv) {
    expireGeneric(c, argv, false, false);
  },

  ttl(c, argv) {
    ttlGeneric(c, argv[1], false, false);
  },
  pttl(c, argv) {
    ttlGeneric(c, argv[1], true, false);
  },
  expiretime(c, argv) {
    ttlGeneric(c, argv[1], false, true);
  },
  pexpiretime(c, argv) {
    ttlGeneric(c, argv[1], true, true);
  },

  persist(c, argv) {
    const db = c.db;
    const key = argv[1];
    if (db.get(key) !== undefined && db.persist(key)) {
      const s = c.server;
      s.signalModified(db, key);
      s.pubsub.notify('g', 'persist', key, db.id);
      s.dirty++;
      c.w.int(1);
    } else c.w.int(0);
  },

  touch(c, argv) {
    const db = c.db;
    let n = 0;
    for (let i = 1; i < argv.length; i++) if (lookupRead(c, db, argv[i]) !== undefined) n++;
    c.w.int(n);
  },

  keys(c, argv) {
    const pattern = argv[1];
    const all = pattern === '*';
    const db = c.db;
    const out: string[] = [];
    const slot = patternSlot(pattern);
    const iter = slot < 0 ? db.keys() : (db.slotKeys(slot) ?? []);
    for (const key of iter) {
      if ((all || globMatch(pattern, key)) && !db.isExpired(key)) out.push(key);
    }
    c.w.bulkArray(out);
  },

  scan(c, argv) {
    const cursor = parseCursor(argv[1]);
    let count = 10;
    let pattern: string | null = null;
    let typeName: string | null = null;
    for (let i = 2; i < argv.length; ) {
      const left = argv.length - i;
      const opt = argv[i].toUpperCase();
      if (opt === 'COUNT' && left >= 2) {
        count = parseInt64(argv[i + 1]);
        if (count < 1) throw new ReplyError(E.syntax);
        i += 2;
      } else if (opt === 'MATCH' && left >= 2) {
        pattern = argv[i + 1] === '*' ? null : argv[i + 1];
        i += 2;
      } else if (opt === 'TYPE' && left >= 2) {
        typeName = argv[i + 1].toLowerCase();
        i += 2;
      } else throw new ReplyError(E.syntax);
    }
    const db = c.db;
    const found: string[] = [];
    let next = 0;
    if (cursor < SLOT_COUNT) {
      next = db.scan(cursor, count, (k) => {
        found.push(k);
      });
    }
    const keys: string[] = [];
    for (const k of found) {
      if (pattern !== null && !globMatch(pattern, k)) continue;
      if (typeName !== null) {
        // Redis looks the key up (counting a hit or miss, reclaiming it if expired) to check its type.
        const v = lookupNoTouch(c, db, k);
        if (v === undefined || typeOf(v) !== typeName) continue;
      } else if (db.isExpired(k)) {
        db.get(k);
        continue;
      }
      keys.push(k);
    }
    const w = c.w;
    w.array(2);
    w.bulk(String(next));
    w.bulkArray(keys);
  },

  randomkey(c) {
    c.w.bulkOrNil(c.db.randomKey());
  },

  dbsize(c) {
    c.w.int(c.db.size);
  },

  flushdb(c, argv) {
    flushMode(argv);
    const db = c.db;
    const s = c.server;
    const n = db.flush();
    db.touchAllWatched();
    // Redis forces propagation even when nothing was removed (dirty unchanged).
    if (n > 0) s.dirty += n;
    else s.propagateNow(c.dbIndex, argv);
    c.w.ok();
  },

  flushall(c, argv) {
    flushMode(argv);
    const s = c.server;
    let n = 0;
    for (const db of s.dbs) {
      n += db.flush();
      db.touchAllWatched();
    }
    // As redis-server 7: dirty grows by the keys removed, and the command is propagated regardless.
    if (n > 0) s.dirty += n;
    else s.propagateNow(c.dbIndex, argv);
    c.w.ok();
  },

  swapdb(c, argv) {
    // Valkey 9 refuses SWAPDB in cluster mode too: a swap is node-local and would split a slot's dbs across nodes.
    if (c.server.config.bool('cluster-enabled')) throw new ReplyError('ERR SWAPDB is not allowed in cluster mode');
    const id1 = parseInt32(argv[1], 'ERR invalid first DB index');
    const id2 = parseInt32(argv[2], 'ERR invalid second DB index');
    const s = c.server;
    if (id1 < 0 || id1 >= s.dbs.length || id2 < 0 || id2 >= s.dbs.length) throw new ReplyError(DB_RANGE);
    const a = s.dbs[id1];
    const b = s.dbs[id2];
    if (a !== b) a.swapWith(b);
    for (const db of a === b ? [a] : [a, b]) {
      db.touchAllWatched();
      // Clients blocked on keys that now exist in the swapped-in data may be served.
      if (db.blockedKeys !== null) for (const key of db.blockedKeys.keys()) if (db.peek(key) !== undefined && !db.isExpired(key)) s.signalKeyReady(db, key);
    }
    s.dirty++;
    c.w.ok();
  },

  move(c, argv) {
    if (isClusterSingleDb(c)) throw new ReplyError('ERR MOVE is not allowed in cluster mode');
    const s = c.server;
    const src = c.db;
    const dbid = parseInt32(argv[2]);
    if (dbid < 0 || dbid >= s.dbs.length) throw new ReplyError(DB_RANGE);
    const dst = s.dbs[dbid];
    if (dst === src) throw new ReplyError(SAME_OBJECT);
    const key = argv[1];
    const v = src.get(key);
    if (v === undefined) {
      c.w.int(0);
      return;
    }
    const expire = src.getExpire(key);
    if (dst.get(key) !== undefined) {
      c.w.int(0);
      return;
    }
    addValue(c, dst, key, v, false);
    if (expire !== -1) dst.setExpire(key, expire);
    carryAccess(src, key, dst, key);
    src.delete(key);
    s.signalModified(src, key);
    s.signalModified(dst, key);
    s.pubsub.notify('g', 'move_from', key, src.id);
    s.pubsub.notify('g', 'move_to', key, dst.id);
    s.dirty++;
    c.w.int(1);
  },

  copy(c, argv) {
    const s = c.server;
    const src = c.db;
    let dst = c.db;
    let replace = false;
    for (let j = 3; j < argv.length; j++) {
      const opt = argv[j].toUpperCase();
      if (opt === 'REPLACE') replace = true;
      else if (opt === 'DB' && j + 1 < argv.length) {
        const dbid = parseInt32(argv[++j]);
        if (dbid < 0 || dbid >= s.dbs.length) throw new ReplyError(DB_RANGE);
        dst = s.dbs[dbid];
      } else throw new ReplyError(E.syntax);
    }
    if (isClusterSingleDb(c) && (src.id !== 0 || dst.id !== 0)) throw new ReplyError('ERR Copying to another database is not allowed in cluster mode');
    const key = argv[1];
    const newkey = argv[2];
    if (src === dst && key === newkey) throw new ReplyError(SAME_OBJECT);
    const v = lookupRead(c, src, key);
    if (v === undefined) {
      c.w.int(0);
      return;
    }
    const expire = src.getExpire(key);
    let del = false;
    if (dst.get(newkey) !== undefined) {
      if (!replace) {
        c.w.int(0);
        return;
      }
      del = true;
    }
    const copy = cloneValue(v);
    if (del) dst.delete(newkey);
    addValue(c, dst, newkey, copy, true);
    if (expire !== -1) dst.setExpire(newkey, expire);
    s.signalModified(dst, newkey);
    s.pubsub.notify('g', 'copy_to', newkey, dst.id);
    s.dirty++;
    c.w.int(1);
  },

  'object|help'(c) {
    const w = c.w;
    w.array(OBJECT_HELP.length);
    for (const line of OBJECT_HELP) w.simple(line);
  },

  'object|encoding'(c, argv) {
    const v = lookupNoTouch(c, c.db, argv[2]);
    if (v === undefined) c.w.nil();
    else c.w.bulk(encodingOf(v, encodingLimits(c)));
  },

  'object|refcount'(c, argv) {
    const v = lookupNoTouch(c, c.db, argv[2]);
    if (v === undefined) c.w.nil();
    else c.w.int(typeof v === 'string' && isSharedInteger(c, v) ? INT_MAX : 1);
  },

  'object|freq'(c, argv) {
    const v = lookupNoTouch(c, c.db, argv[2]);
    if (v === undefined) {
      c.w.nil();
      return;
    }
    if (!isLfuPolicy(c)) {
      throw new ReplyError(
        'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
      );
    }
    c.w.int(c.db.lfuCounter(argv[2]));
  },

  'object|idletime'(c, argv) {
    const v = lookupNoTouch(c, c.db, argv[2]);
    if (v === undefined) {
      c.w.nil();
      return;
    }
    if (isLfuPolicy(c)) {
      throw new ReplyError(
        'ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
      );
    }
    c.w.int(c.db.idleSeconds(argv[2]));
  },

  dump(c, argv) {
    const v = lookupRead(c, c.db, argv[1]);
    if (v === undefined) c.w.nil();
    else c.w.bulk(dumpValue(v));
  },

  restore(c, argv) {
    let replace = false;
    let absttl = false;
    let idle = -1;
    let freq = -1;
    for (let j = 4; j < argv.length; j++) {
      const left = argv.length - j - 1;
      const opt = argv[j].toUpperCase();
      if (opt === 'REPLACE') replace = true;
      else if (opt === 'ABSTTL') absttl = true;
      else if (opt === 'IDLETIME' && left >= 1 && freq === -1) {
        idle = parseInt64(argv[++j]);
        if (idle < 0) throw new ReplyError('ERR Invalid IDLETIME value, must be >= 0');
      } else if (opt === 'FREQ' && left >= 1 && idle === -1) {
        freq = parseInt64(argv[++j]);
        if (freq < 0 || freq > 255) throw new ReplyError('ERR Invalid FREQ value, must be >= 0 and <= 255');
      } else throw new ReplyError(E.syntax);
    }
    const db = c.db;
    const s = c.server;
    const key = argv[1];
    if (!replace && db.get(key) !== undefined) throw new ReplyError(BUSYKEY);
    let ttl = parseInt64(argv[2]);
    if (ttl < 0) throw new ReplyError('ERR Invalid TTL value, must be >= 0');
    const payload = argv[3];
    if (!verifyPayload(payload)) throw new ReplyError('ERR DUMP payload version or checksum are wrong');
    let v: Value;
    try {
      v = restoreValue(payload);
    } catch (e) {
      if (e instanceof BadPayload || e instanceof RangeError) throw new ReplyError('ERR Bad data format');
      throw e;
    }
    let deleted = false;
    if (replace) deleted = db.delete(key);
    if (ttl !== 0 && !absttl) ttl += s.now();
    if (ttl !== 0 && ttl <= s.now() && !s.isReplica) {
      if (deleted) {
        s.propagateAs(['DEL', key]);
        s.signalModified(db, key);
        s.pubsub.notify('g', 'del', key, db.id);
        s.dirty++;
      }
      c.w.ok();
      return;
    }
    addValue(c, db, key, v, true);
    if (ttl !== 0) {
      db.setExpire(key, ttl);
      if (!absttl) {
        const out = argv.slice();
        out[2] = String(ttl);
        out.push('ABSTTL');
        s.propagateAs(out);
      }
    }
    if (db.access !== null) db.setAccess(key, idle, freq);
    s.signalModified(db, key);
    s.pubsub.notify('g', 'restore', key, db.id);
    s.dirty++;
    c.w.ok();
  },

  sort(c, argv) {
    sortGeneric(c, argv, false);
  },

  sort_ro(c, argv) {
    sortGeneric(c, argv, true);
  },
};

function flushMode(argv: string[]): void {
  if (argv.length === 1) return;
  const m = argv[1].toUpperCase();
  if (argv.length !== 2 || (m !== 'SYNC' && m !== 'ASYNC')) throw new ReplyError(E.syntax);
}

function renameGeneric(c: Client, argv: string[], nx: boolean): void {
  const db = c.db;
  const s = c.server;
  const src = argv[1];
  const dst = argv[2];
  const v = db.get(src);
  if (v === undefined) throw new ReplyError(E.noKey);
  if (src === dst) {
    if (nx) c.w.int(0);
    else c.w.ok();
    return;
  }
  const expire = db.getExpire(src);
  if (db.get(dst) !== undefined) {
    if (nx) {
      c.w.int(0);
      return;
    }
    db.delete(dst);
  }
  addValue(c, db, dst, v, false);
  if (expire !== -1) db.setExpire(dst, expire);
  carryAccess(db, src, db, dst);
  db.delete(src);
  s.signalModified(db, src);
  s.signalModified(db, dst);
  s.pubsub.notify('g', 'rename_from', src, db.id);
  s.pubsub.notify('g', 'rename_to', dst, db.id);
  s.dirty++;
  if (nx) c.w.int(1);
  else c.w.ok();
}
