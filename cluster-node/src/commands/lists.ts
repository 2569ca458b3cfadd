/** Command handlers: lists family (specs in common/src/commands/specs/lists.ts). */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseInt64, parseTimeout } from './args';
import type { Client } from '../server/client';
import type { RespWriter } from '../../../common/src/resp/writer';
import { ListValue, listRange, rangeStart } from '../keyspace/values-list';

const E_POSITIVE = 'ERR value is out of range, must be positive';
const E_RANK_ZERO =
  "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const E_COUNT_NEG = "ERR COUNT can't be negative";
const E_MAXLEN_NEG = "ERR MAXLEN can't be negative";
const E_NUMKEYS = 'ERR numkeys should be greater than 0';
const E_COUNT_GT0 = 'ERR count should be greater than 0';

/**
 * Append a bulk string. Short strings are copied with a charCodeAt loop, which costs far less than
 * the native latin1Write call RespWriter.bulk makes per string (LRANGE replies are many short bulks).
 */
function bulkFast(w: RespWriter, s: string): void {
  const n = s.length;
  if (n > 99) {
    w.bulk(s);
    return;
  }
  w.ensure(n + 9);
  const b = w.buf;
  let p = w.len;
  b[p++] = 0x24;
  if (n < 10) b[p++] = 48 + n;
  else {
    const t = (n / 10) | 0;
    b[p++] = 48 + t;
    b[p++] = 48 + n - t * 10;
  }
  b[p++] = 13;
  b[p++] = 10;
  for (let j = 0; j < n; j++) b[p++] = s.charCodeAt(j);
  b[p++] = 13;
  b[p++] = 10;
  w.len = p;
}

/** Reply of a blocking list command that timed out (or cannot block): a null array. */
function replyNullArray(c: Client): void {
  c.w.nilArray();
}

/** The list at `key` for a write (no hit/miss stats), undefined if missing; throws WRONGTYPE. */
function listForWrite(c: Client, key: string): ListValue | undefined {
  const v = c.db.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'string' || v.type !== 'list') throw new ReplyError(E.wrongType);
  return v as ListValue;
}

/** The list at `key` for a read (counts keyspace hits/misses), undefined if missing; throws WRONGTYPE. */
function listForRead(c: Client, key: string): ListValue | undefined {
  const v = c.db.get(key);
  if (v === undefined) {
    c.server.stats.keyspaceMisses++;
    return undefined;
  }
  c.server.stats.keyspaceHits++;
  if (typeof v === 'string' || v.type !== 'list') throw new ReplyError(E.wrongType);
  return v as ListValue;
}

/** Parse a LEFT|RIGHT argument: true for LEFT (the head). */
function parseSide(s: string): boolean {
  if (s.length === 4 && s.toUpperCase() === 'LEFT') return true;
  if (s.length === 5 && s.toUpperCase() === 'RIGHT') return false;
  throw new ReplyError(E.syntax);
}

/** A non-negative long (getPositiveLongFromObjectOrReply): `err` for junk and negatives alike. */
function parseNonNegative(s: string, err: string): number {
  const n = parseInt64(s, err);
  if (n < 0) throw new ReplyError(err);
  return n;
}

/** A long in [1, LONG_MAX] with `err` for junk and out-of-range values. */
function parsePositive(s: string, err: string): number {
  const n = parseInt64(s, err);
  if (n < 1) throw new ReplyError(err);
  return n;
}

/** Bookkeeping after elements were popped from `lv` (listElementsRemoved): events, memory, WATCH, dirty. */
function popped(c: Client, key: string, lv: ListValue, left: boolean, n: number): void {
  const db = c.db;
  const s = c.server;
  const notifying = s.pubsub.notifying;
  if (notifying) s.pubsub.notify('l', left ? 'lpop' : 'rpop', key, db.id);
  db.account(key, lv);
  if (notifying && lv.size === 0) s.pubsub.notify('g', 'del', key, db.id);
  s.signalModified(db, key);
  s.dirty += n;
}

/** Pop up to `count` elements from one end, replying them as an array (in pop order). */
function popRange(c: Client, key: string, lv: ListValue, left: boolean, count: number): number {
  const d = lv;
  const n = count < d.size ? count : d.size;
  const w = c.w;
  w.array(n);
  if (left) for (let i = 0; i < n; i++) bulkFast(w, d.popFront()!);
  else for (let i = 0; i < n; i++) bulkFast(w, d.popBack()!);
  popped(c, key, lv, left, n);
  return n;
}

/** LPUSH/RPUSH/LPUSHX/RPUSHX. */
function push(c: Client, argv: string[], left: boolean, onlyIfExists: boolean): void {
  const key = argv[1];
  const db = c.db;
  let lv = listForWrite(c, key);
  if (lv === undefined) {
    if (onlyIfExists) {
      c.w.int(0);
      return;
    }
    lv = new ListValue();
    db.set(key, lv);
  }
  const d = lv;
  const n = argv.length;
  if (left) for (let i = 2; i < n; i++) d.pushFront(argv[i]);
  else for (let i = 2; i < n; i++) d.pushBack(argv[i]);
  db.account(key, lv);
  c.w.int(d.size);
  const s = c.server;
  s.signalModified(db, key);
  s.signalKeyReady(db, key);
  if (s.pubsub.notifying) s.pubsub.notify('l', left ? 'lpush' : 'rpush', key, db.id);
  s.dirty += n - 2;
}

/** LPOP/RPOP key [count]. */
function pop(c: Client, argv: string[], left: boolean): void {
  if (argv.length > 3) throw new ReplyError(`ERR wrong number of arguments for '${left ? 'lpop' : 'rpop'}' command`);
  const hasCount = argv.length === 3;
  const count = hasCount ? parseNonNegative(argv[2], E_POSITIVE) : 0;
  const key = argv[1];
  const lv = listForWrite(c, key);
  if (lv === undefined) {
    if (hasCount) c.w.nilArray();
    else c.w.nil();
    return;
  }
  if (!hasCount) {
    const d = lv;
    c.w.bulk((left ? d.popFront() : d.popBack())!);
    popped(c, key, lv, left, 1);
    return;
  }
  if (count === 0) {
    c.w.emptyArray();
    return;
  }
  popRange(c, key, lv, left, count);
}

/**
 * LMOVE core: pop from `src` and push onto `dst`, replying the element; false (nothing written) if
 * `src` does not exist. Events and order follow Redis: push side first, then the pop side.
 */
function move(c: Client, src: string, dst: string, fromLeft: boolean, toLeft: boolean): boolean {
  const db = c.db;
  const s = c.server;
  const sl = listForWrite(c, src);
  if (sl === undefined) return false;
  let dl = src === dst ? sl : listForWrite(c, dst);
  const sd = sl;
  const value = (fromLeft ? sd.popFront() : sd.popBack())!;
  if (dl === undefined) {
    dl = new ListValue();
    db.set(dst, dl);
  }
  if (toLeft) dl.pushFront(value);
  else dl.pushBack(value);
  db.account(dst, dl);
  const notifying = s.pubsub.notifying;
  s.signalModified(db, dst);
  s.signalKeyReady(db, dst);
  if (notifying) s.pubsub.notify('l', toLeft ? 'lpush' : 'rpush', dst, db.id);
  c.w.bulk(value);
  if (notifying) s.pubsub.notify('l', fromLeft ? 'lpop' : 'rpop', src, db.id);
  if (sl !== dl) {
    db.account(src, sl);
    if (notifying && sd.size === 0) s.pubsub.notify('g', 'del', src, db.id);
  }
  s.signalModified(db, src);
  s.dirty++;
  return true;
}

/** Distinct keys to block on (a client waits once per key, like Redis's blocking dict). */
function distinct(argv: string[], from: number, to: number): string[] {
  const keys: string[] = [];
  for (let i = from; i < to; i++) if (!keys.includes(argv[i])) keys.push(argv[i]);
  return keys;
}

/**
 * Look for the first non-empty list among argv[from..to) for a blocking pop (the key that woke a
 * re-run command first). A key of another type is WRONGTYPE, except while re-running a woken command
 * (Redis only wakes clients for lists; the client keeps waiting).
 */
function firstList(c: Client, argv: string[], from: number, to: number): number {
  const s = c.server;
  const resuming = s.resumingDeadline >= 0;
  const db = c.db;
  if (resuming && s.resumingKey !== null) {
    // Redis 7.0 serves a woken client from the key that became ready, whatever its position.
    const rk = s.resumingKey;
    for (let i = from; i < to; i++) {
      if (argv[i] !== rk) continue;
      const v = db.get(rk);
      if (v !== undefined && typeof v !== 'string' && v.type === 'list' && v.size > 0) return i;
      break;
    }
  }
  for (let i = from; i < to; i++) {
    const v = db.get(argv[i]);
    if (v === undefined) continue;
    if (typeof v === 'string' || v.type !== 'list') {
      if (resuming) continue;
      throw new ReplyError(E.wrongType);
    }
    if (v.size > 0) return i;
  }
  return -1;
}

/** BLPOP/BRPOP key [key ...] timeout. */
function bpop(c: Client, argv: string[], left: boolean): void {
  const last = argv.length - 1;
  const deadline = parseTimeout(argv[last], c.server.now());
  const i = firstList(c, argv, 1, last);
  if (i >= 0) {
    const key = argv[i];
    const lv = c.db.get(key) as ListValue;
    const d = lv;
    const value = (left ? d.popFront() : d.popBack())!;
    const w = c.w;
    w.array(2);
    w.bulk(key);
    w.bulk(value);
    popped(c, key, lv, left, 1);
    c.server.propagateAs([left ? 'LPOP' : 'RPOP', key]);
    return;
  }
  if (c.inExec) return replyNullArray(c);
  c.server.block(c, distinct(argv, 1, last), deadline, replyNullArray);
}

/** BLMOVE/BRPOPLPUSH once arguments are parsed. */
function bmove(c: Client, argv: string[], fromLeft: boolean, toLeft: boolean, deadline: number, propagate: string[]): void {
  const src = argv[1];
  const resuming = c.server.resumingDeadline >= 0;
  const v = c.db.get(src);
  const isList = v !== undefined && typeof v !== 'string' && v.type === 'list';
  if (v !== undefined && !isList && !resuming) throw new ReplyError(E.wrongType);
  if (isList && move(c, src, argv[2], fromLeft, toLeft)) {
    c.server.propagateAs(propagate);
    return;
  }
  if (c.inExec) {
    c.w.nil();
    return;
  }
  c.server.block(c, [src], deadline, replyNullArray);
}

/**
 * LMPOP/BLMPOP argument parsing (numkeys at `numIdx`, then keys, LEFT|RIGHT, [COUNT n]); returns
 * the index of the direction argument and leaves the count in {@link mpopCount}.
 */
function parseMpop(argv: string[], numIdx: number): number {
  const numkeys = parsePositive(argv[numIdx], E_NUMKEYS);
  const whereIdx = numIdx + numkeys + 1;
  if (whereIdx >= argv.length) throw new ReplyError(E.syntax);
  parseSide(argv[whereIdx]);
  let count = -1;
  for (let j = whereIdx + 1; j < argv.length; j++) {
    if (count === -1 && j + 1 < argv.length && argv[j].toUpperCase() === 'COUNT') {
      count = parsePositive(argv[++j], E_COUNT_GT0);
    } else throw new ReplyError(E.syntax);
  }
  mpopCount = count === -1 ? 1 : count;
  return whereIdx;
}
let mpopCount = 1;

/** Serve an [B]LMPOP from the first non-empty list among argv[from..to); false if none. */
function mpopServe(c: Client, argv: string[], from: number, to: number, left: boolean, count: number): boolean {
  const i = firstList(c, argv, from, to);
  if (i < 0) return false;
  const key = argv[i];
  const lv = c.db.get(key) as ListValue;
  c.w.array(2);
  c.w.bulk(key);
  const n = popRange(c, key, lv, left, count);
  c.server.propagateAs([left ? 'LPOP' : 'RPOP', key, String(n)]);
  return true;
}

export const handlers: HandlerMap = {
  lpush(c, argv) {
    push(c, argv, true, false);
  },

  rpush(c, argv) {
    push(c, argv, false, false);
  },

  lpushx(c, argv) {
    push(c, argv, true, true);
  },

  rpushx(c, argv) {
    push(c, argv, false, true);
  },

  lpop(c, argv) {
    pop(c, argv, true);
  },

  rpop(c, argv) {
    pop(c, argv, false);
  },

  llen(c, argv) {
    const lv = listForRead(c, argv[1]);
    c.w.int(lv === undefined ? 0 : lv.size);
  },

  lindex(c, argv) {
    const lv = listForRead(c, argv[1]);
    if (lv === undefined) {
      c.w.nil();
      return;
    }
    const index = parseInt64(argv[2]);
    c.w.bulkOrNil(lv.get(index));
  },

  lset(c, argv) {
    const key = argv[1];
    const lv = listForWrite(c, key);
    if (lv === undefined) throw new ReplyError(E.noKey);
    const index = parseInt64(argv[2]);
    if (!lv.set(index, argv[3])) throw new ReplyError(E.outOfRange);
    const db = c.db;
    const s = c.server;
    db.account(key, lv);
    c.w.ok();
    s.signalModified(db, key);
    if (s.pubsub.notifying) s.pubsub.notify('l', 'lset', key, db.id);
    s.dirty++;
  },

  lrange(c, argv) {
    const start = parseInt64(argv[2]);
    const stop = parseInt64(argv[3]);
    const lv = listForRead(c, argv[1]);
    if (lv === undefined) {
      c.w.emptyArray();
      return;
    }
    const d = lv;
    const n = listRange(d.size, start, stop);
    const w = c.w;
    w.array(n);
    if (n === 0) return;
    const lo = rangeStart;
    const hi = lo + n;
    for (let i = lo; i < hi; i++) bulkFast(w, d.get(i)!);
  },

  ltrim(c, argv) {
    const start = parseInt64(argv[2]);
    const stop = parseInt64(argv[3]);
    const key = argv[1];
    const lv = listForWrite(c, key);
    if (lv === undefined) {
      c.w.ok();
      return;
    }
    const removed = lv.trim(start, stop);
    const db = c.db;
    const s = c.server;
    const notifying = s.pubsub.notifying;
    if (notifying) s.pubsub.notify('l', 'ltrim', key, db.id);
    db.account(key, lv);
    if (notifying && lv.size === 0) s.pubsub.notify('g', 'del', key, db.id);
    s.signalModified(db, key);
    s.dirty += removed;
    c.w.ok();
  },

  linsert(c, argv) {
    const where = argv[2].toUpperCase();
    let after: boolean;
    if (where === 'AFTER') after = true;
    else if (where === 'BEFORE') after = false;
    else throw new ReplyError(E.syntax);
    const key = argv[1];
    const lv = listForWrite(c, key);
    if (lv === undefined) {
      c.w.int(0);
      return;
    }
    const n = lv.insertRelative(argv[3], argv[4], after);
    if (n < 0) {
      c.w.int(-1);
      return;
    }
    const db = c.db;
    const s = c.server;
    db.account(key, lv);
    s.signalModified(db, key);
    if (s.pubsub.notifying) s.pubsub.notify('l', 'linsert', key, db.id);
    s.dirty++;
    c.w.int(n);
  },

  lrem(c, argv) {
    const count = parseInt64(argv[2]);
    const key = argv[1];
    const lv = listForWrite(c, key);
    if (lv === undefined) {
      c.w.int(0);
      return;
    }
    const removed = lv.removeValue(argv[3], count);
    const db = c.db;
    const s = c.server;
    if (removed > 0) {
      const notifying = s.pubsub.notifying;
      s.signalModified(db, key);
      if (notifying) s.pubsub.notify('l', 'lrem', key, db.id);
      db.account(key, lv);
      if (notifying && lv.size === 0) s.pubsub.notify('g', 'del', key, db.id);
      s.dirty += removed;
    }
    c.w.int(removed);
  },

  lpos(c, argv) {
    let rank = 1;
    let count = -1;
    let maxlen = 0;
    for (let j = 3; j < argv.length; j++) {
      const opt = argv[j].toUpperCase();
      const more = j + 1 < argv.length;
      if (opt === 'RANK' && more) {
        const s = argv[++j];
        rank = parseInt64(s);
        // LONG_MIN slips through Redis's range check and then behaves like -1 (every match qualifies).
        if (rank === 0) throw new ReplyError(E_RANK_ZERO);
        if (rank <= -9223372036854775807 && s === '-9223372036854775808') rank = -1;
      } else if (opt === 'COUNT' && more) {
        count = parseNonNegative(argv[++j], E_COUNT_NEG);
      } else if (opt === 'MAXLEN' && more) {
        maxlen = parseNonNegative(argv[++j], E_MAXLEN_NEG);
      } else throw new ReplyError(E.syntax);
    }
    const lv = listForRead(c, argv[1]);
    if (lv === undefined) {
      if (count !== -1) c.w.emptyArray();
      else c.w.nil();
      return;
    }
    const found = lv.positions(argv[2], rank, count === -1 ? 1 : count, maxlen);
    const w = c.w;
    if (count === -1) {
      if (found.length === 0) w.nil();
      else w.int(found[0]);
      return;
    }
    w.array(found.length);
    for (let i = 0; i < found.length; i++) w.int(found[i]);
  },

  lmove(c, argv) {
    const fromLeft = parseSide(argv[3]);
    const toLeft = parseSide(argv[4]);
    if (!move(c, argv[1], argv[2], fromLeft, toLeft)) c.w.nil();
  },

  rpoplpush(c, argv) {
    if (!move(c, argv[1], argv[2], false, true)) c.w.nil();
  },

  lmpop(c, argv) {
    const whereIdx = parseMpop(argv, 1);
    const left = parseSide(argv[whereIdx]);
    if (!mpopServe(c, argv, 2, whereIdx, left, mpopCount)) c.w.nilArray();
  },

  blpop(c, argv) {
    bpop(c, argv, true);
  },

  brpop(c, argv) {
    bpop(c, argv, false);
  },

  blmove(c, argv) {
    const fromLeft = parseSide(argv[3]);
    const toLeft = parseSide(argv[4]);
    const deadline = parseTimeout(argv[5], c.server.now());
    bmove(c, argv, fromLeft, toLeft, deadline, ['LMOVE', argv[1], argv[2], argv[3], argv[4]]);
  },

  brpoplpush(c, argv) {
    const deadline = parseTimeout(argv[3], c.server.now());
    bmove(c, argv, false, true, deadline, ['RPOPLPUSH', argv[1], argv[2]]);
  },

  blmpop(c, argv) {
    const whereIdx = parseMpop(argv, 2);
    const left = parseSide(argv[whereIdx]);
    const count = mpopCount;
    const deadline = parseTimeout(argv[1], c.server.now());
    if (mpopServe(c, argv, 3, whereIdx, left, count)) return;
    if (c.inExec) return replyNullArray(c);
    c.server.block(c, distinct(argv, 3, whereIdx), deadline, replyNullArray);
  },
};
