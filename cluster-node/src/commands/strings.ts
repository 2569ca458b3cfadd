/** Command handlers: strings family (specs in common/src/commands/specs/strings.ts). */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseBigInt, parseInt64 } from './args';
import type { Client } from '../server/client';
import type { Value } from '../keyspace/values';
import { LD_ZERO, addLongDouble, formatLongDouble, parseLongDouble } from './long-double';

/** The string value of a key, null if missing; throws WRONGTYPE for other types. Counts hits/misses. */
export function getString(c: Client, key: string): string | null {
  const v = c.db.get(key);
  if (v === undefined) {
    c.server.stats.keyspaceMisses++;
    return null;
  }
  c.server.stats.keyspaceHits++;
  if (typeof v !== 'string') throw new ReplyError(E.wrongType);
  return v;
}

/** Store a string (the common tail of SET-like commands): value, TTL, watchers, notification, dirty. */
export function storeString(c: Client, key: string, value: string, expireAt = -1, keepTtl = false): void {
  const db = c.db;
  const s = c.server;
  // Like Redis's lookupKeyWrite in setKey: a logically expired key is reclaimed first (its 'expired'
  // event fires and KEEPTTL cannot resurrect its stale TTL). Free when the key has no TTL.
  if (db.expires.size !== 0 && db.expires.has(key)) db.get(key);
  db.set(key, value, keepTtl);
  if (expireAt >= 0) db.setExpire(key, expireAt);
  s.signalModified(db, key);
  s.dirty++;
  if (s.pubsub.notifying) {
    s.pubsub.notify('$', 'set', key, db.id);
    if (expireAt >= 0) s.pubsub.notify('g', 'expire', key, db.id);
  }
}

/** A read lookup (Redis's lookupKeyRead): counts keyspace hits/misses, no type check. */
export function lookupRead(c: Client, key: string): Value | undefined {
  const v = c.db.get(key);
  if (v === undefined) c.server.stats.keyspaceMisses++;
  else c.server.stats.keyspaceHits++;
  return v;
}

/** A write lookup (Redis's lookupKeyWrite) of a string-or-missing key: throws WRONGTYPE for other types. */
function lookupWriteString(c: Client, key: string): string | undefined {
  const v = c.db.get(key);
  if (v !== undefined && typeof v !== 'string') throw new ReplyError(E.wrongType);
  return v;
}

/** Modify a key's string value in place (TTL kept) and signal it: watchers, dirty, notification. */
function updateString(c: Client, key: string, value: string, event: string): void {
  const db = c.db;
  const s = c.server;
  db.set(key, value, true);
  s.signalModified(db, key);
  s.dirty++;
  if (s.pubsub.notifying) s.pubsub.notify('$', event, key, db.id);
}

/**
 * Redis's checkStringLength: a string may not grow beyond proto-max-bulk-len (the primary link is exempt).
 * Strings beyond what a JS engine can hold are refused with the same error.
 */
export function checkStringLength(c: Client, size: number, append: number): void {
  const total = size + append;
  if ((!c.isPrimaryLink && total > c.server.config.int('proto-max-bulk-len')) || total > MAX_JS_STRING) {
    throw new ReplyError('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  }
}

/** V8's String::kMaxLength on 64-bit platforms. */
const MAX_JS_STRING = 2 ** 29 - 24;

// ------------------------------------------------------------------ SET / GETEX options

const O_NX = 1;
const O_XX = 2;
const O_GET = 4;
const O_KEEPTTL = 8;
const O_PERSIST = 16;
const O_EX = 32;
const O_PX = 64;
const O_EXAT = 128;
const O_PXAT = 256;
const O_EXPIRE = O_EX | O_PX | O_EXAT | O_PXAT;

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
/** LLONG_MAX / 1000: larger second counts overflow when turned into milliseconds. */
const MAX_EXPIRE_SECONDS = 9223372036854775n;

/** The expire argument found by the last parseStringOptions call. */
let optExpireArg = '';

/**
 * Redis's parseExtendedStringArgumentsOrReply for SET (isSet) and GETEX: option compatibility rules
 * are Redis's (e.g. EX may repeat, EX and PX may not be combined). Returns the O_* flags.
 */
function parseStringOptions(argv: string[], start: number, isSet: boolean): number {
  let flags = 0;
  for (let j = start; j < argv.length; j++) {
    const opt = argv[j].length <= 7 ? argv[j].toUpperCase() : '';
    const next = j + 1 < argv.length;
    if (isSet && opt === 'NX' && !(flags & O_XX)) flags |= O_NX;
    else if (isSet && opt === 'XX' && !(flags & O_NX)) flags |= O_XX;
    else if (isSet && opt === 'GET') flags |= O_GET;
    else if (isSet && opt === 'KEEPTTL' && !(flags & (O_PERSIST | O_EXPIRE))) flags |= O_KEEPTTL;
    else if (!isSet && opt === 'PERSIST' && !(flags & (O_EXPIRE | O_KEEPTTL))) flags |= O_PERSIST;
    else if (opt === 'EX' && next && !(flags & (O_KEEPTTL | O_PERSIST | O_EXAT | O_PX | O_PXAT))) {
      flags |= O_EX;
      optExpireArg = argv[++j];
    } else if (opt === 'PX' && next && !(flags & (O_KEEPTTL | O_PERSIST | O_EX | O_EXAT | O_PXAT))) {
      flags |= O_PX;
      optExpireArg = argv[++j];
    } else if (opt === 'EXAT' && next && !(flags & (O_KEEPTTL | O_PERSIST | O_EX | O_PX | O_PXAT))) {
      flags |= O_EXAT;
      optExpireArg = argv[++j];
    } else if (opt === 'PXAT' && next && !(flags & (O_KEEPTTL | O_PERSIST | O_EX | O_EXAT | O_PX))) {
      flags |= O_PXAT;
      optExpireArg = argv[++j];
    } else throw new ReplyError(E.syntax);
  }
  return flags;
}

/**
 * Absolute expiry (ms) from an expire argument, validated like Redis's getExpireMillisecondsOrReply:
 * not an integer -> "value is not an integer", <= 0 or overflowing int64 -> "invalid expire time in '<cmd>'".
 */
function expireArgToMs(c: Client, arg: string, flags: number, cmdName: string): number {
  const seconds = (flags & (O_EX | O_EXAT)) !== 0;
  const relative = (flags & (O_EX | O_PX)) !== 0;
  if (arg.length < 16) {
    // |n| < 1e15: n * 1000 + now cannot overflow int64.
    const n = parseInt64(arg);
    if (n <= 0) throw new ReplyError(E.invalidExpire(cmdName));
    const ms = seconds ? n * 1000 : n;
    return relative ? ms + c.server.now() : ms;
  }
  let n = parseBigInt(arg);
  if (n <= 0n || (seconds && n > MAX_EXPIRE_SECONDS)) throw new ReplyError(E.invalidExpire(cmdName));
  if (seconds) n *= 1000n;
  if (relative) n += BigInt(c.server.now());
  if (n > INT64_MAX) throw new ReplyError(E.invalidExpire(cmdName));
  return Number(n);
}

/** SET-like write with a TTL: store, then propagate as SET key value PXAT ms (as Redis 7 does). */
function setWithExpire(c: Client, key: string, value: string, expireAt: number): void {
  storeString(c, key, value, expireAt);
  c.server.propagateAs(['SET', key, value, 'PXAT', String(expireAt)]);
}

// ------------------------------------------------------------------ integers

const SMALL_INCR = 2 ** 52;

/** INCR/DECR/INCRBY/DECRBY core: exact int64 arithmetic, Redis's errors and overflow check. */
function incrDecr(c: Client, key: string, incr: number, bigIncr: bigint | null): void {
  const cur = lookupWriteString(c, key);
  let out: string;
  if (bigIncr === null && (cur === undefined || cur.length < 16)) {
    // Both operands are below 2^53 in magnitude: plain double arithmetic is exact.
    const r = (cur === undefined ? 0 : parseInt64(cur)) + incr;
    out = String(r);
    c.w.int(r);
  } else {
    const r = (cur === undefined ? 0n : parseBigInt(cur)) + (bigIncr ?? BigInt(incr));
    if (r > INT64_MAX || r < INT64_MIN) throw new ReplyError(E.overflow);
    out = r.toString();
    c.w.bigint(r);
  }
  updateString(c, key, out, 'incrby');
}

/** Parse an INCRBY/DECRBY amount: returns a small number, or sets `parsedBig` for large ones. */
let parsedBig: bigint | null = null;
function parseIncrement(s: string): number {
  if (s.length < 16) {
    parsedBig = null;
    return parseInt64(s);
  }
  const b = parseBigInt(s);
  if (b < SMALL_INCR && b > -SMALL_INCR) {
    parsedBig = null;
    return Number(b);
  }
  parsedBig = b;
  return 0;
}

// ------------------------------------------------------------------ GETRANGE helpers

/** Parse two int64 range arguments; `bothNegReversed` tells whether start > end while both are negative. */
let rangeStart = 0;
let rangeEnd = 0;
export function parseRangePair(a: string, b: string): boolean {
  rangeStart = parseInt64(a);
  rangeEnd = parseInt64(b);
  if (a.length >= 16 || b.length >= 16) {
    // Beyond 2^53 doubles may tie: compare exactly.
    const sa = BigInt(a);
    const sb = BigInt(b);
    return sa < 0n && sb < 0n && sa > sb;
  }
  return rangeStart < 0 && rangeEnd < 0 && rangeStart > rangeEnd;
}

function getrange(c: Client, argv: string[]): void {
  const reversed = parseRangePair(argv[2], argv[3]);
  let start = rangeStart;
  let end = rangeEnd;
  const v = getString(c, argv[1]);
  if (v === null) {
    c.w.bulk('');
    return;
  }
  if (reversed) {
    c.w.bulk('');
    return;
  }
  const len = v.length;
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len === 0) c.w.bulk('');
  else c.w.bulk(start === 0 && end === len - 1 ? v : v.slice(start, end + 1));
}

// ------------------------------------------------------------------ LCS

const LCS_TYPE_ERR = 'ERR The specified keys must contain string values';

function lcs(c: Client, argv: string[]): void {
  const oa = lookupRead(c, argv[1]);
  const ob = lookupRead(c, argv[2]);
  if ((oa !== undefined && typeof oa !== 'string') || (ob !== undefined && typeof ob !== 'string')) {
    throw new ReplyError(LCS_TYPE_ERR);
  }
  const a = (oa as string | undefined) ?? '';
  const b = (ob as string | undefined) ?? '';
  let getidx = false;
  let getlen = false;
  let withmatchlen = false;
  let minmatchlen = 0;
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j].toUpperCase();
    const moreargs = argv.length - 1 - j;
    if (opt === 'IDX') getidx = true;
    else if (opt === 'LEN') getlen = true;
    else if (opt === 'WITHMATCHLEN') withmatchlen = true;
    else if (opt === 'MINMATCHLEN' && moreargs > 0) {
      minmatchlen = parseInt64(argv[++j]);
      if (minmatchlen < 0) minmatchlen = 0;
    } else throw new ReplyError(E.syntax);
  }
  if (getidx && getlen) throw new ReplyError('ERR If you want both the length and indexes, please just use IDX.');
  const alen = a.length;
  const blen = b.length;
  const width = blen + 1;
  const cells = (alen + 1) * width;
  if (cells * 4 > c.server.config.int('proto-max-bulk-len')) {
    throw new ReplyError('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
  }
  const ab = Buffer.from(a, 'latin1');
  const bb = Buffer.from(b, 'latin1');
  if (getlen) {
    // Only the length: two rows of the table are enough.
    let prevRow = new Uint32Array(width);
    let curRow = new Uint32Array(width);
    for (let i = 1; i <= alen; i++) {
      const ai = ab[i - 1];
      let left = 0;
      let diag = 0;
      for (let j = 1; j <= blen; j++) {
        const up = prevRow[j];
        const v = ai === bb[j - 1] ? diag + 1 : up > left ? up : left;
        curRow[j] = v;
        left = v;
        diag = up;
      }
      const tmp = prevRow;
      prevRow = curRow;
      curRow = tmp;
    }
    c.w.int(prevRow[blen]);
    return;
  }
  let t: Uint32Array;
  try {
    t = new Uint32Array(cells);
  } catch {
    throw new ReplyError('ERR Insufficient memory, failed allocating transient memory for LCS');
  }
  for (let i = 1; i <= alen; i++) {
    const ai = ab[i - 1];
    const row = i * width;
    const prev = row - width;
    let left = 0;
    let diag = 0;
    for (let j = 1; j <= blen; j++) {
      const up = t[prev + j];
      const v = ai === bb[j - 1] ? diag + 1 : up > left ? up : left;
      t[row + j] = v;
      left = v;
      diag = up;
    }
  }
  const total = t[alen * width + blen];
  let idx = total;
  const result = Buffer.allocUnsafe(total);
  // Ranges found while walking back: [aStart, aEnd, bStart, bEnd, len] per match.
  const ranges: number[] = [];
  let arangeStart = alen;
  let arangeEnd = 0;
  let brangeStart = 0;
  let brangeEnd = 0;
  let i = alen;
  let j = blen;
  while (i > 0 && j > 0) {
    let emit = false;
    if (ab[i - 1] === bb[j - 1]) {
      result[idx - 1] = ab[i - 1];
      if (arangeStart === alen) {
        arangeStart = i - 1;
        arangeEnd = i - 1;
        brangeStart = j - 1;
        brangeEnd = j - 1;
      } else if (arangeStart === i && brangeStart === j) {
        arangeStart--;
        brangeStart--;
      } else emit = true;
      if (arangeStart === 0 || brangeStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      const l1 = t[(i - 1) * width + j];
      const l2 = t[i * width + j - 1];
      if (l1 > l2) i--;
      else j--;
      if (arangeStart !== alen) emit = true;
    }
    const matchLen = arangeEnd - arangeStart + 1;
    if (emit) {
      if (getidx && (minmatchlen === 0 || matchLen >= minmatchlen)) {
        ranges.push(arangeStart, arangeEnd, brangeStart, brangeEnd, matchLen);
      }
      arangeStart = alen;
    }
  }
  const w = c.w;
  if (getidx) {
    w.map(2);
    w.bulk('matches');
    w.array(ranges.length / 5);
    for (let r = 0; r < ranges.length; r += 5) {
      w.array(withmatchlen ? 3 : 2);
      w.array(2);
      w.int(ranges[r]);
      w.int(ranges[r + 1]);
      w.array(2);
      w.int(ranges[r + 2]);
      w.int(ranges[r + 3]);
      if (withmatchlen) w.int(ranges[r + 4]);
    }
    w.bulk('len');
    w.int(total);
  } else w.bulk(result.toString('latin1'));
}

// ------------------------------------------------------------------ handlers

export const handlers: HandlerMap = {
  get(c, argv) {
    const v = getString(c, argv[1]);
    if (v === null) c.w.nil();
    else c.w.bulk(v);
  },

  set(c, argv) {
    const key = argv[1];
    const value = argv[2];
    if (argv.length === 3) {
      storeString(c, key, value);
      c.w.ok();
      return;
    }
    const flags = parseStringOptions(argv, 3, true);
    const expireAt = flags & O_EXPIRE ? expireArgToMs(c, optExpireArg, flags, 'set') : -1;
    let old: string | null = null;
    if (flags & O_GET) old = getString(c, key);
    if (flags & (O_NX | O_XX)) {
      const found = flags & O_GET ? old !== null : c.db.get(key) !== undefined;
      if ((flags & O_NX && found) || (flags & O_XX && !found)) {
        if (flags & O_GET) c.w.bulkOrNil(old);
        else c.w.nil();
        return;
      }
    }
    if (expireAt >= 0) setWithExpire(c, key, value, expireAt);
    else storeString(c, key, value, -1, (flags & O_KEEPTTL) !== 0);
    if (flags & O_GET) c.w.bulkOrNil(old);
    else c.w.ok();
  },

  setnx(c, argv) {
    if (c.db.get(argv[1]) !== undefined) {
      c.w.int(0);
      return;
    }
    storeString(c, argv[1], argv[2]);
    c.w.int(1);
  },

  setex(c, argv) {
    const expireAt = expireArgToMs(c, argv[2], O_EX, 'setex');
    setWithExpire(c, argv[1], argv[3], expireAt);
    c.w.ok();
  },

  psetex(c, argv) {
    const expireAt = expireArgToMs(c, argv[2], O_PX, 'psetex');
    setWithExpire(c, argv[1], argv[3], expireAt);
    c.w.ok();
  },

  getex(c, argv) {
    const key = argv[1];
    const flags = argv.length > 2 ? parseStringOptions(argv, 2, false) : 0;
    const v = getString(c, key);
    if (v === null) {
      c.w.nil();
      return;
    }
    const expireAt = flags & O_EXPIRE ? expireArgToMs(c, optExpireArg, flags, 'getex') : -1;
    c.w.bulk(v);
    const s = c.server;
    const db = c.db;
    if (flags & (O_EXAT | O_PXAT) && expireAt <= s.now() && !s.isReplica) {
      // An absolute time already in the past deletes the key.
      db.delete(key);
      s.propagateAs(['DEL', key]);
      s.signalModified(db, key);
      s.pubsub.notify('g', 'del', key, db.id);
      s.dirty++;
    } else if (expireAt >= 0) {
      db.setExpire(key, expireAt);
      if (!(flags & O_PXAT)) s.propagateAs(['PEXPIREAT', key, String(expireAt)]);
      s.signalModified(db, key);
      s.pubsub.notify('g', 'expire', key, db.id);
      s.dirty++;
    } else if (flags & O_PERSIST) {
      if (db.persist(key)) {
        s.signalModified(db, key);
        s.propagateAs(['PERSIST', key]);
        s.pubsub.notify('g', 'persist', key, db.id);
        s.dirty++;
      }
    }
  },

  getdel(c, argv) {
    const key = argv[1];
    const v = getString(c, key);
    if (v === null) {
      c.w.nil();
      return;
    }
    c.w.bulk(v);
    const s = c.server;
    const db = c.db;
    if (db.delete(key)) {
      s.propagateAs(['DEL', key]);
      s.signalModified(db, key);
      s.pubsub.notify('g', 'del', key, db.id);
      s.dirty++;
    }
  },

  getset(c, argv) {
    const key = argv[1];
    const old = getString(c, key);
    storeString(c, key, argv[2]);
    c.server.propagateAs(['SET', key, argv[2]]);
    c.w.bulkOrNil(old);
  },

  mget(c, argv) {
    const w = c.w;
    w.array(argv.length - 1);
    for (let i = 1; i < argv.length; i++) {
      const v = lookupRead(c, argv[i]);
      if (typeof v === 'string') w.bulk(v);
      else w.nil();
    }
  },

  mset(c, argv) {
    if (argv.length % 2 === 0) throw new ReplyError("ERR wrong number of arguments for 'mset' command");
    for (let i = 1; i < argv.length; i += 2) storeString(c, argv[i], argv[i + 1]);
    c.w.ok();
  },

  msetnx(c, argv) {
    if (argv.length % 2 === 0) throw new ReplyError("ERR wrong number of arguments for 'msetnx' command");
    const db = c.db;
    for (let i = 1; i < argv.length; i += 2) {
      if (db.get(argv[i]) !== undefined) {
        c.w.int(0);
        return;
      }
    }
    for (let i = 1; i < argv.length; i += 2) storeString(c, argv[i], argv[i + 1]);
    c.w.int(1);
  },

  append(c, argv) {
    const key = argv[1];
    const cur = lookupWriteString(c, key);
    let v: string;
    if (cur === undefined) v = argv[2];
    else {
      checkStringLength(c, cur.length, argv[2].length);
      v = cur + argv[2];
    }
    updateString(c, key, v, 'append');
    c.w.int(v.length);
  },

  strlen(c, argv) {
    const v = getString(c, argv[1]);
    c.w.int(v === null ? 0 : v.length);
  },

  getrange,
  substr: getrange,

  setrange(c, argv) {
    const key = argv[1];
    const value = argv[3];
    const offset = parseInt64(argv[2]);
    if (offset < 0) throw new ReplyError('ERR offset is out of range');
    const cur = lookupWriteString(c, key);
    if (cur === undefined) {
      if (value.length === 0) {
        c.w.int(0);
        return;
      }
      checkStringLength(c, offset, value.length);
      const v = offset === 0 ? value : '\0'.repeat(offset) + value;
      updateString(c, key, v, 'setrange');
      c.w.int(v.length);
      return;
    }
    if (value.length === 0) {
      c.w.int(cur.length);
      return;
    }
    checkStringLength(c, offset, value.length);
    const len = cur.length;
    let v: string;
    if (offset >= len) v = cur + (offset > len ? '\0'.repeat(offset - len) : '') + value;
    else {
      const tail = offset + value.length;
      v = (offset > 0 ? cur.slice(0, offset) : '') + value + (tail < len ? cur.slice(tail) : '');
    }
    updateString(c, key, v, 'setrange');
    c.w.int(v.length);
  },

  incr(c, argv) {
    incrDecr(c, argv[1], 1, null);
  },

  decr(c, argv) {
    incrDecr(c, argv[1], -1, null);
  },

  incrby(c, argv) {
    const n = parseIncrement(argv[2]);
    incrDecr(c, argv[1], n, parsedBig);
  },

  decrby(c, argv) {
    const n = parseIncrement(argv[2]);
    const big = parsedBig;
    if (big !== null) {
      if (big === INT64_MIN) throw new ReplyError('ERR decrement would overflow');
      incrDecr(c, argv[1], 0, -big);
    } else incrDecr(c, argv[1], 0 - n, null);
  },

  incrbyfloat(c, argv) {
    const key = argv[1];
    const cur = lookupWriteString(c, key);
    const a = cur === undefined ? LD_ZERO : parseLongDouble(cur);
    if (a === null) throw new ReplyError(E.notFloat);
    const b = parseLongDouble(argv[2]);
    if (b === null) throw new ReplyError(E.notFloat);
    const r = addLongDouble(a, b);
    if (r === null) throw new ReplyError(E.nanOrInf);
    const out = formatLongDouble(r);
    updateString(c, key, out, 'incrbyfloat');
    c.w.bulk(out);
    // Replicate the result, not the increment, so float formatting cannot make replicas diverge.
    c.server.propagateAs(['SET', key, out, 'KEEPTTL']);
  },

  lcs,
};
