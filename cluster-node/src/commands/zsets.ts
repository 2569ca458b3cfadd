/**
 * Command handlers: zsets family (specs in common/src/commands/specs/zsets.ts). Semantics, reply
 * shapes and error texts follow Redis 7's t_zset.c: options are parsed and validated before the
 * key is looked up, read lookups count keyspace hits/misses, writes signal WATCH, notify, count
 * dirty and re-estimate memory (Db.account deletes a set that became empty).
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseInt64, parseTimeout } from './args';
import type { Client } from '../server/client';
import { formatDouble, type RespWriter } from '../../../common/src/resp/writer';
import { globMatch } from '../../../common/src/glob';
import { ZSetValue } from '../keyspace/values-zset';
import { encodingOf } from '../keyspace/serialize';
import type { SetValue, Value } from '../keyspace/values';
import {
  limitWindow,
  parseLexBound,
  parseRedisDouble,
  rankWindow,
  winHi,
  winLo,
  parseScoreBound,
  type LexBound,
  type ScoreBound,
  type SortedSet,
  type ZRangeResult,
} from '../keyspace/structures/sorted-set';

const ERR_RANGE_FLOAT = 'ERR min or max is not a float';
const ERR_RANGE_LEX = 'ERR min or max not valid string range item';
const ERR_NAN = 'ERR resulting score is not a number (NaN)';
const ERR_POSITIVE = 'ERR value is out of range, must be positive';

// ------------------------------------------------------------------------------------------------
// Small helpers

/** Case-insensitive compare of an argument with a lower-case ASCII letters-only word, no allocation. */
function isWord(s: string, lower: string): boolean {
  const n = lower.length;
  if (s.length !== n) return false;
  for (let i = 0; i < n; i++) if ((s.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/**
 * A score argument like Redis's getDoubleFromObject. Plain decimals ("12", "-3.5", ".5") take a
 * char-scan fast path (Number() and strtod agree on them); everything else goes through the
 * strtod-compatible parser (exponents, hex floats, inf, overflow/underflow rejection).
 */
function parseScore(s: string, err: string = E.notFloat): number {
  const n = s.length;
  if (n > 0 && n <= 24) {
    let i = 0;
    let c = s.charCodeAt(0);
    if (c === 45 || c === 43) i = 1;
    let digits = 0;
    let dot = false;
    for (; i < n; i++) {
      c = s.charCodeAt(i);
      if (c >= 48 && c <= 57) digits++;
      else if (c === 46 && !dot) dot = true;
      else break;
    }
    if (i === n && digits > 0) return +s;
  }
  const v = parseRedisDouble(s);
  if (v === null) throw new ReplyError(err);
  return v;
}

function scoreBound(s: string): ScoreBound {
  const b = parseScoreBound(s);
  if (b === null) throw new ReplyError(ERR_RANGE_FLOAT);
  return b;
}

function lexBound(s: string): LexBound {
  const b = parseLexBound(s);
  if (b === null) throw new ReplyError(ERR_RANGE_LEX);
  return b;
}

/** getPositiveLongFromObjectOrReply / getRangeLongFromObjectOrReply with a custom message. */
function parseRangeLong(s: string, min: number, max: number, err: string): number {
  let n: number;
  try {
    n = parseInt64(s, err);
  } catch {
    throw new ReplyError(err);
  }
  if (n < min || n > max) throw new ReplyError(err);
  return n;
}

function isWrongType(v: Value): boolean {
  return typeof v === 'string' || v.type !== 'zset';
}

/** lookupKeyRead + checkType: the sorted set at key or null; counts keyspace hits/misses. */
function readZ(c: Client, key: string): SortedSet | null {
  const v = c.db.get(key);
  if (v === undefined) {
    c.server.stats.keyspaceMisses++;
    return null;
  }
  c.server.stats.keyspaceHits++;
  if (isWrongType(v)) throw new ReplyError(E.wrongType);
  return v as ZSetValue;
}

/** lookupKeyWrite + checkType (no hit/miss stats, as in Redis). */
function writeZ(c: Client, key: string): ZSetValue | null {
  const v = c.db.get(key);
  if (v === undefined) return null;
  if (isWrongType(v)) throw new ReplyError(E.wrongType);
  return v as ZSetValue;
}

/** After removing elements from `zv` in place: memory, deletion when empty, WATCH, events, dirty. */
function afterRemoval(c: Client, key: string, zv: ZSetValue, removed: number, event: string): void {
  const s = c.server;
  const db = c.db;
  db.account(key, zv);
  s.signalModified(db, key);
  s.dirty += removed;
  if (s.pubsub.notifying) {
    s.pubsub.notify('z', event, key, db.id);
    if (zv.size === 0) s.pubsub.notify('g', 'del', key, db.id);
  }
}

/** Store a computed set at dst (ZUNIONSTORE & co, ZRANGESTORE): replaces any value, or deletes dst when empty. */
function storeResult(c: Client, dst: string, zv: ZSetValue, event: string): void {
  const s = c.server;
  const db = c.db;
  const n = zv.size;
  if (n > 0) {
    db.set(dst, zv);
    db.account(dst, zv);
    s.signalModified(db, dst);
    s.signalKeyReady(db, dst);
    s.dirty++;
    if (s.pubsub.notifying) s.pubsub.notify('z', event, dst, db.id);
    c.w.int(n);
  } else {
    c.w.int(0);
    if (db.delete(dst)) {
      s.signalModified(db, dst);
      s.dirty++;
      if (s.pubsub.notifying) s.pubsub.notify('g', 'del', dst, db.id);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Range emission without per-call closures: module-level state read by static callbacks.

let emW: RespWriter;
let emScores = false;
let emPairs = false;
let emTarget: SortedSet;

function emitOne(m: string, s: number): void {
  const w = emW;
  if (emPairs) w.array(2);
  w.bulk(m);
  if (emScores) w.double(s);
}

function storeOne(m: string, s: number): void {
  emTarget.add(m, s);
}

/** Reply the elements at ascending ranks [lo, hi) of z (descending order if reverse). */
function replyRanks(c: Client, z: SortedSet, lo: number, hi: number, reverse: boolean, withScores: boolean): void {
  const w = c.w;
  const n = hi > lo ? hi - lo : 0;
  if (n === 0) {
    w.emptyArray();
    return;
  }
  const resp3 = w.proto === 3;
  w.array(withScores && !resp3 ? n * 2 : n);
  emW = w;
  emScores = withScores;
  emPairs = withScores && resp3;
  z.forEachInRanks(lo, hi, reverse, emitOne);
}

/** Reply a whole ZSetValue built by a command (ZUNION & co), ascending. */
function replyAll(c: Client, z: SortedSet, withScores: boolean): void {
  replyRanks(c, z, 0, z.size, false, withScores);
}

function copyRanks(z: SortedSet, lo: number, hi: number, reverse: boolean): ZSetValue {
  const out = new ZSetValue();
  if (hi > lo) {
    emTarget = out;
    z.forEachInRanks(lo, hi, reverse, storeOne);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

/** Scratch for parsed scores (all validated before any change, as Redis does). */
let scoreBuf: number[] = [];

function zaddGeneric(c: Client, argv: string[], incrCmd: boolean): void {
  const key = argv[1];
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  let ch = false;
  let incr = incrCmd;
  let i = 2;
  const argc = argv.length;
  for (; i < argc; i++) {
    const a = argv[i];
    if (a.length === 2) {
      const c0 = a.charCodeAt(0) | 0x20;
      const c1 = a.charCodeAt(1) | 0x20;
      if (c0 === 110 && c1 === 120) nx = true;
      else if (c0 === 120 && c1 === 120) xx = true;
      else if (c0 === 99 && c1 === 104) ch = true;
      else if (c0 === 103 && c1 === 116) gt = true;
      else if (c0 === 108 && c1 === 116) lt = true;
      else break;
    } else if (a.length === 4 && isWord(a, 'incr')) incr = true;
    else break;
  }
  const scoreIdx = i;
  let elements = argc - scoreIdx;
  if (elements % 2 !== 0 || elements === 0) throw new ReplyError(E.syntax);
  elements >>>= 1;
  if (nx && xx) throw new ReplyError('ERR XX and NX options at the same time are not compatible');
  if ((gt && nx) || (lt && nx) || (gt && lt)) throw new ReplyError('ERR GT, LT, and/or NX options at the same time are not compatible');
  if (incr && elements > 1) throw new ReplyError('ERR INCR option supports a single increment-element pair');

  const scores = scoreBuf;
  for (let j = 0; j < elements; j++) scores[j] = parseScore(argv[scoreIdx + j * 2]);

  const db = c.db;
  let zv = writeZ(c, key);
  let created = false;
  if (zv === null) {
    if (xx) {
      if (incr) c.w.nil();
      else c.w.int(0);
      return;
    }
    zv = new ZSetValue();
    created = true;
  }
  const z = zv;
  let added = 0;
  let updated = 0;
  let processed = 0;
  let result = 0;
  if (!nx && !xx && !gt && !lt && !incr) {
    // Plain ZADD: one dictionary probe per element inside add().
    for (let j = 0, m = scoreIdx + 1; j < elements; j++, m += 2) {
      const score = scores[j];
      // Stored scores never keep the sign of zero (Redis's listpack encoding turns -0 into 0).
      const old = z.add(argv[m], score + 0);
      if (old === undefined) added++;
      else if (old !== score) updated++;
    }
  } else {
    for (let j = 0, m = scoreIdx + 1; j < elements; j++, m += 2) {
      let score = scores[j];
      const member = argv[m];
      const cur = z.score(member);
      if (cur !== undefined) {
        if (nx) continue;
        if (incr) {
          score += cur;
          if (score !== score) {
            // Only reachable with INCR (a single pair), so nothing changed yet.
            throw new ReplyError(ERR_NAN);
          }
        }
        if ((lt && score >= cur) || (gt && score <= cur)) continue;
        processed++;
        result = score;
        if (score !== cur) {
          z.add(member, score + 0);
          updated++;
        }
      } else if (!xx) {
        z.add(member, score + 0);
        added++;
        processed++;
        result = score;
      }
    }
  }
  if (scores.length > 1024) scoreBuf = [];
  if (added > 0 || updated > 0) {
    const s = c.server;
    if (created) db.set(key, zv);
    db.account(key, zv);
    s.signalModified(db, key);
    s.dirty += added + updated;
    if (s.pubsub.notifying) s.pubsub.notify('z', incr ? 'zincr' : 'zadd', key, db.id);
    if (created) s.signalKeyReady(db, key);
  }
  if (incr) {
    if (processed > 0) c.w.double(result);
    else c.w.nil();
  } else c.w.int(ch ? added + updated : added);
}

// ------------------------------------------------------------------------------------------------
// ZRANGE family

const BY_RANK = 0;
const BY_SCORE = 1;
const BY_LEX = 2;
const AUTO = -1;

/**
 * zrangeGenericCommand: `first` is the index of the source key (1, or 2 for ZRANGESTORE);
 * `type`/`rev` are AUTO for ZRANGE/ZRANGESTORE (set by BYSCORE/BYLEX/REV options).
 */
function zrangeGeneric(c: Client, argv: string[], first: number, store: boolean, type: number, rev: number): void {
  const key = argv[first];
  let minIdx = first + 1;
  let maxIdx = first + 2;
  let withScores = false;
  let offset = 0;
  let limit = -1;
  const argc = argv.length;
  for (let j = first + 3; j < argc; j++) {
    const a = argv[j];
    const left = argc - j - 1;
    if (!store && isWord(a, 'withscores')) withScores = true;
    else if (left >= 2 && isWord(a, 'limit')) {
      offset = parseInt64(argv[j + 1]);
      limit = parseInt64(argv[j + 2]);
      j += 2;
    } else if (rev === AUTO && isWord(a, 'rev')) rev = 1;
    else if (type === AUTO && isWord(a, 'bylex')) type = BY_LEX;
    else if (type === AUTO && isWord(a, 'byscore')) type = BY_SCORE;
    else throw new ReplyError(E.syntax);
  }
  const reverse = rev === 1;
  if (type === AUTO) type = BY_RANK;
  if (limit !== -1 && type === BY_RANK) {
    throw new ReplyError('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  }
  if (withScores && type === BY_LEX) throw new ReplyError('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
  if (reverse && type !== BY_RANK) {
    const t = maxIdx;
    maxIdx = minIdx;
    minIdx = t;
  }
  let start = 0;
  let stop = 0;
  let smin: ScoreBound | null = null;
  let smax: ScoreBound | null = null;
  let lmin: LexBound | null = null;
  let lmax: LexBound | null = null;
  if (type === BY_RANK) {
    start = parseInt64(argv[minIdx]);
    stop = parseInt64(argv[maxIdx]);
  } else if (type === BY_SCORE) {
    const a = parseScoreBound(argv[minIdx]);
    const b = parseScoreBound(argv[maxIdx]);
    if (a === null || b === null) throw new ReplyError(ERR_RANGE_FLOAT);
    smin = a;
    smax = b;
  } else {
    const a = parseLexBound(argv[minIdx]);
    const b = parseLexBound(argv[maxIdx]);
    if (a === null || b === null) throw new ReplyError(ERR_RANGE_LEX);
    lmin = a;
    lmax = b;
  }
  const z = readZ(c, key);
  if (z === null) {
    if (store) storeResult(c, argv[1], new ZSetValue(), 'zrangestore');
    else c.w.emptyArray();
    return;
  }
  if (type === BY_RANK) rankWindow(z.size, start, stop, reverse);
  else if (type === BY_SCORE) limitWindow(z.lowerRankByScore(smin!), z.upperRankByScore(smax!), reverse, offset, limit);
  else limitWindow(z.lowerRankByLex(lmin!), z.upperRankByLex(lmax!), reverse, offset, limit);
  if (store) storeResult(c, argv[1], copyRanks(z, winLo, winHi, reverse), 'zrangestore');
  else replyRanks(c, z, winLo, winHi, reverse, withScores);
}

// ------------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF (+STORE, ZINTERCARD)

const OP_UNION = 0;
const OP_INTER = 1;
const OP_DIFF = 2;
const AGG_SUM = 0;
const AGG_MIN = 1;
const AGG_MAX = 2;

interface OpSource {
  z: SortedSet | null;
  set: ReadonlySet<string> | null;
  size: number;
  weight: number;
}

/** Score of member in a source (sets count as 1), or undefined. */
function srcScore(src: OpSource, m: string): number | undefined {
  if (src.z !== null) return src.z.score(m);
  if (src.set !== null) return src.set.has(m) ? 1 : undefined;
  return undefined;
}

function aggregate(target: number, val: number, agg: number): number {
  if (agg === AGG_SUM) {
    const r = target + val;
    return r !== r ? 0 : r;
  }
  if (agg === AGG_MIN) return val < target ? val : target;
  return val > target ? val : target;
}

/** Iterate a source's elements (sets with score 1). */
function forEachSrc(src: OpSource, fn: (m: string, s: number) => void): void {
  if (src.z !== null) for (const [m, s] of src.z.scores) fn(m, s);
  else if (src.set !== null) for (const m of src.set) fn(m, 1);
}

function zsetOp(c: Client, argv: string[], dst: string | null, numIdx: number, op: number, cardOnly: boolean): void {
  const name = c.cmdSpec?.name ?? argv[0].toLowerCase();
  const argc = argv.length;
  const setnum = parseInt64(argv[numIdx]);
  if (setnum < 1) throw new ReplyError(`ERR at least 1 input key is needed for '${name}' command`);
  if (setnum > argc - (numIdx + 1)) throw new ReplyError(E.syntax);
  const srcs: OpSource[] = new Array(setnum);
  const stats = c.server.stats;
  let j = numIdx + 1;
  for (let i = 0; i < setnum; i++, j++) {
    const v = c.db.get(argv[j]);
    const src: OpSource = { z: null, set: null, size: 0, weight: 1 };
    if (v === undefined) stats.keyspaceMisses++;
    else {
      stats.keyspaceHits++;
      if (typeof v === 'string') throw new ReplyError(E.wrongType);
      if (v.type === 'zset') {
        src.z = v as ZSetValue;
        src.size = src.z.size;
      } else if (v.type === 'set') {
        src.set = (v as SetValue).set;
        src.size = src.set.size;
      } else throw new ReplyError(E.wrongType);
    }
    srcs[i] = src;
  }
  let agg = AGG_SUM;
  let withScores = false;
  let limit = 0;
  while (j < argc) {
    const remaining = argc - j;
    const a = argv[j];
    if (op !== OP_DIFF && !cardOnly && remaining >= setnum + 1 && isWord(a, 'weights')) {
      j++;
      for (let i = 0; i < setnum; i++, j++) srcs[i].weight = parseScore(argv[j], 'ERR weight value is not a float');
    } else if (op !== OP_DIFF && !cardOnly && remaining >= 2 && isWord(a, 'aggregate')) {
      const v = argv[j + 1];
      if (isWord(v, 'sum')) agg = AGG_SUM;
      else if (isWord(v, 'min')) agg = AGG_MIN;
      else if (isWord(v, 'max')) agg = AGG_MAX;
      else throw new ReplyError(E.syntax);
      j += 2;
    } else if (dst === null && !cardOnly && isWord(a, 'withscores')) {
      withScores = true;
      j++;
    } else if (cardOnly && remaining >= 2 && isWord(a, 'limit')) {
      limit = parseRangeLong(argv[j + 1], 0, Number.MAX_VALUE, "ERR LIMIT can't be negative");
      j += 2;
    } else throw new ReplyError(E.syntax);
  }

  // Smallest inputs first (as Redis sorts them; also fixes the order float sums are made in).
  if (op !== OP_DIFF) srcs.sort((a, b) => a.size - b.size);
  const out = new ZSetValue();
  const oz = out;
  // Stored results lose the sign of zero like ZADD's; replies keep it (as Redis's skiplist result).
  const zero = dst !== null ? 0 : -0;
  let card = 0;
  if (op === OP_INTER) {
    const first = srcs[0];
    if (first.size > 0) {
      const iter: Iterable<[string, number]> | null = first.z !== null ? first.z.scores : null;
      const visit = (m: string, s0: number): boolean => {
        let score = first.weight * s0;
        if (score !== score) score = 0;
        let k = 1;
        for (; k < setnum; k++) {
          const sv = srcScore(srcs[k], m);
          if (sv === undefined) break;
          score = aggregate(score, sv * srcs[k].weight, agg);
        }
        if (k !== setnum) return true;
        if (cardOnly) {
          card++;
          return !(limit > 0 && card >= limit);
        }
        oz.add(m, score + zero);
        return true;
      };
      if (iter !== null) {
        for (const [m, s] of iter) if (!visit(m, s)) break;
      } else {
        for (const m of first.set!) if (!visit(m, 1)) break;
      }
    }
  } else if (op === OP_UNION) {
    const acc = new Map<string, number>();
    for (let i = 0; i < setnum; i++) {
      const src = srcs[i];
      if (src.size === 0) continue;
      const w = src.weight;
      forEachSrc(src, (m, s) => {
        let score = w * s;
        if (score !== score) score = 0;
        const cur = acc.get(m);
        acc.set(m, cur === undefined ? score : aggregate(cur, score, agg));
      });
    }
    for (const [m, s] of acc) oz.add(m, s + zero);
  } else {
    const first = srcs[0];
    if (first.size > 0) {
      forEachSrc(first, (m, s) => {
        for (let k = 1; k < setnum; k++) {
          if (srcs[k].size > 0 && srcScore(srcs[k], m) !== undefined) return;
        }
        oz.add(m, s + zero);
      });
    }
  }

  if (dst !== null) storeResult(c, dst, out, op === OP_UNION ? 'zunionstore' : op === OP_INTER ? 'zinterstore' : 'zdiffstore');
  else if (cardOnly) c.w.int(card);
  else replyAll(c, oz, withScores);
}

// ------------------------------------------------------------------------------------------------
// Pops

const popBuf: ZRangeResult = { members: [], scores: [] };

/**
 * genericZpopCommand's emission for a non-empty set: pops min(count, size) elements (count >= 1)
 * and replies in one of the four Redis shapes; then events, memory, deletion when empty.
 */
function popAndReply(c: Client, key: string, zv: ZSetValue, max: boolean, count: number, emitKey: boolean, nested: boolean): number {
  const z = zv;
  const size = z.size;
  const n = count < size ? count : size;
  const out = popBuf;
  out.members.length = 0;
  out.scores.length = 0;
  if (max) z.removeRanks(size - n, size, out);
  else z.removeRanks(0, n, out);
  const w = c.w;
  if (!nested && !emitKey) w.array(n * 2);
  else if (nested && !emitKey) w.array(n);
  else if (!nested && emitKey) {
    w.array(n * 2 + 1);
    w.bulk(key);
  } else {
    w.array(2);
    w.bulk(key);
    w.array(n);
  }
  const mm = out.members;
  const ss = out.scores;
  if (max) {
    for (let i = n - 1; i >= 0; i--) {
      if (nested) w.array(2);
      w.bulk(mm[i]);
      w.double(ss[i]);
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (nested) w.array(2);
      w.bulk(mm[i]);
      w.double(ss[i]);
    }
  }
  if (n > 64) {
    out.members = [];
    out.scores = [];
  } else {
    mm.length = 0;
    ss.length = 0;
  }
  afterRemoval(c, key, zv, n, max ? 'zpopmax' : 'zpopmin');
  return n;
}

function zpopCommand(c: Client, argv: string[], max: boolean): void {
  if (argv.length > 3) throw new ReplyError(E.syntax);
  let count = -1;
  if (argv.length === 3) count = parseRangeLong(argv[2], 0, Number.MAX_VALUE, ERR_POSITIVE);
  const zv = writeZ(c, argv[1]);
  if (zv === null || count === 0) {
    c.w.emptyArray();
    return;
  }
  popAndReply(c, argv[1], zv, max, count === -1 ? 1 : count, false, c.resp === 3 && count !== -1);
}

function nilArrayOnTimeout(c: Client): void {
  c.w.nilArray();
}

/**
 * blockingGenericZpopCommand: pop from the first non-empty key of argv[from..to) or block.
 * count -1 = BZPOPMIN/BZPOPMAX shape (flat, key first); otherwise ZMPOP shape.
 */
function blockingPop(c: Client, argv: string[], from: number, to: number, max: boolean, timeoutIdx: number, count: number): void {
  const deadline = parseTimeout(argv[timeoutIdx], c.server.now());
  for (let i = from; i < to; i++) {
    const key = argv[i];
    const zv = writeZ(c, key);
    if (zv === null || zv.size === 0) continue;
    const cmd = max ? 'ZPOPMAX' : 'ZPOPMIN';
    if (count === -1) {
      popAndReply(c, key, zv, max, 1, true, false);
      c.server.propagateAs([cmd, key]);
    } else {
      popAndReply(c, key, zv, max, count, true, true);
      c.server.propagateAs([cmd, key, String(count)]);
    }
    return;
  }
  if (c.inExec) {
    c.w.nilArray();
    return;
  }
  c.server.block(c, argv.slice(from, to), deadline, nilArrayOnTimeout);
}

/** zmpopGenericCommand: [B]ZMPOP [timeout] numkeys key... MIN|MAX [COUNT n]. */
function zmpop(c: Client, argv: string[], numIdx: number, blocking: boolean): void {
  const argc = argv.length;
  const numkeys = parseRangeLong(argv[numIdx], 1, Number.MAX_VALUE, 'ERR numkeys should be greater than 0');
  const whereIdx = numIdx + numkeys + 1;
  if (whereIdx >= argc) throw new ReplyError(E.syntax);
  const wh = argv[whereIdx];
  let max: boolean;
  if (isWord(wh, 'min')) max = false;
  else if (isWord(wh, 'max')) max = true;
  else throw new ReplyError(E.syntax);
  let count = -1;
  for (let j = whereIdx + 1; j < argc; j++) {
    if (count === -1 && isWord(argv[j], 'count') && j < argc - 1) {
      j++;
      count = parseRangeLong(argv[j], 1, Number.MAX_VALUE, 'ERR count should be greater than 0');
    } else throw new ReplyError(E.syntax);
  }
  if (count === -1) count = 1;
  if (blocking) {
    blockingPop(c, argv, numIdx + 1, whereIdx, max, 1, count);
    return;
  }
  for (let i = numIdx + 1; i < whereIdx; i++) {
    const key = argv[i];
    const zv = writeZ(c, key);
    if (zv === null) continue;
    popAndReply(c, key, zv, max, count, true, true);
    c.server.propagateAs([max ? 'ZPOPMAX' : 'ZPOPMIN', key, String(count)]);
    return;
  }
  c.w.nilArray();
}

// ------------------------------------------------------------------------------------------------
// ZRANDMEMBER / ZSCAN

function randomInt(n: number): number {
  return Math.floor(Math.random() * n);
}

function zrandmemberWithCount(c: Client, key: string, l: number, withScores: boolean): void {
  const z = readZ(c, key);
  const w = c.w;
  if (z === null || l === 0) {
    w.emptyArray();
    return;
  }
  const size = z.size;
  const resp3 = w.proto === 3;
  const uniq = l > 0;
  const count = uniq ? l : -l;
  emW = w;
  emScores = withScores;
  emPairs = withScores && resp3;
  if (!uniq || count === 1) {
    // Independent draws (repetitions allowed), random order.
    w.array(withScores && !resp3 ? count * 2 : count);
    for (let i = 0; i < count; i++) {
      const r = randomInt(size);
      const m = z.memberAt(r)!;
      emitOne(m, z.score(m)!);
    }
    return;
  }
  if (count >= size) {
    // The whole set (Redis replies it highest first).
    replyRanks(c, z, 0, size, true, withScores);
    return;
  }
  // Distinct ranks in random order.
  const ranks: number[] = [];
  if (count * 3 > size) {
    const all = new Array<number>(size);
    for (let i = 0; i < size; i++) all[i] = i;
    for (let i = 0; i < count; i++) {
      const k = i + randomInt(size - i);
      const t = all[i];
      all[i] = all[k];
      all[k] = t;
      ranks.push(all[i]);
    }
  } else {
    const seen = new Set<number>();
    while (ranks.length < count) {
      const r = randomInt(size);
      if (!seen.has(r)) {
        seen.add(r);
        ranks.push(r);
      }
    }
  }
  w.array(withScores && !resp3 ? count * 2 : count);
  for (let i = 0; i < count; i++) {
    const m = z.memberAt(ranks[i])!;
    emitOne(m, z.score(m)!);
  }
}

const MAX_ULONG = 18446744073709551615n;

/** parseScanCursorOrReply: strtoul semantics (optional sign, digits, no spaces, no overflow). */
function parseCursor(s: string): number {
  let i = 0;
  const n = s.length;
  let neg = false;
  if (n > 0 && (s.charCodeAt(0) === 43 || s.charCodeAt(0) === 45)) {
    neg = s.charCodeAt(0) === 45;
    i = 1;
  }
  const digitsFrom = i;
  for (; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch < 48 || ch > 57) throw new ReplyError('ERR invalid cursor');
  }
  if (i === digitsFrom) {
    // strtoul parsed nothing: valid only for the empty string (end pointer at the terminator).
    if (n === 0) return 0;
    throw new ReplyError('ERR invalid cursor');
  }
  const digits = s.slice(digitsFrom);
  if (digits.length > 18) {
    if (BigInt(digits) > MAX_ULONG) throw new ReplyError('ERR invalid cursor');
    return Number.MAX_SAFE_INTEGER;
  }
  const v = Number(digits);
  // A negated cursor wraps around in C: effectively beyond any set.
  return neg && v !== 0 ? Number.MAX_SAFE_INTEGER : v;
}

/** Would Redis hold this set as a listpack (small), which ZSCAN returns in one reply? Same rule as OBJECT ENCODING. */
function isListpack(c: Client, zv: ZSetValue): boolean {
  const cfg = c.server.config;
  const entries = cfg.int('zset-max-listpack-entries');
  if (zv.size > entries) return false;
  return (
    encodingOf(zv, {
      listMaxListpackSize: 0,
      hashMaxListpackEntries: 0,
      hashMaxListpackValue: 0,
      setMaxIntsetEntries: 0,
      setMaxListpackEntries: 0,
      setMaxListpackValue: 0,
      zsetMaxListpackEntries: entries,
      zsetMaxListpackValue: cfg.int('zset-max-listpack-value'),
    }) === 'listpack'
  );
}

function zscan(c: Client, argv: string[]): void {
  const cursor = parseCursor(argv[2]);
  const z = readZ(c, argv[1]);
  const w = c.w;
  if (z === null) {
    w.array(2);
    w.bulk('0');
    w.emptyArray();
    return;
  }
  let count = 10;
  let pattern: string | null = null;
  const argc = argv.length;
  for (let i = 3; i < argc; ) {
    const left = argc - i;
    const a = argv[i];
    if (left >= 2 && isWord(a, 'count')) {
      count = parseInt64(argv[i + 1]);
      if (count < 1) throw new ReplyError(E.syntax);
      i += 2;
    } else if (left >= 2 && isWord(a, 'match')) {
      const p = argv[i + 1];
      pattern = p === '*' ? null : p;
      i += 2;
    } else throw new ReplyError(E.syntax);
  }
  const size = z.size;
  let lo: number;
  let hi: number;
  let next: number;
  if (isListpack(c, c.db.peek(argv[1]) as ZSetValue)) {
    // Small sets are answered in one go, whatever the cursor and COUNT (as Redis's listpack encoding).
    lo = 0;
    hi = size;
    next = 0;
  } else {
    lo = Math.min(cursor, size);
    hi = Math.min(size, lo + count);
    next = hi >= size ? 0 : hi;
  }
  const members: string[] = [];
  const scores: number[] = [];
  z.forEachInRanks(lo, hi, false, (m, s) => {
    if (pattern === null || globMatch(pattern, m)) {
      members.push(m);
      scores.push(s);
    }
  });
  w.array(2);
  w.bulk(String(next));
  w.array(members.length * 2);
  for (let i = 0; i < members.length; i++) {
    w.bulk(members[i]);
    w.bulk(formatDouble(scores[i]));
  }
}

// ------------------------------------------------------------------------------------------------

export const handlers: HandlerMap = {
  zadd(c, argv) {
    zaddGeneric(c, argv, false);
  },

  zincrby(c, argv) {
    zaddGeneric(c, argv, true);
  },

  zcard(c, argv) {
    const z = readZ(c, argv[1]);
    c.w.int(z === null ? 0 : z.size);
  },

  zscore(c, argv) {
    const z = readZ(c, argv[1]);
    const s = z === null ? undefined : z.score(argv[2]);
    if (s === undefined) c.w.nil();
    else c.w.double(s);
  },

  zmscore(c, argv) {
    const z = readZ(c, argv[1]);
    const w = c.w;
    w.array(argv.length - 2);
    for (let i = 2; i < argv.length; i++) {
      const s = z === null ? undefined : z.score(argv[i]);
      if (s === undefined) w.nil();
      else w.double(s);
    }
  },

  zrank(c, argv) {
    zrank(c, argv, false);
  },

  zrevrank(c, argv) {
    zrank(c, argv, true);
  },

  zcount(c, argv) {
    const min = scoreBound(argv[2]);
    const max = scoreBound(argv[3]);
    const z = readZ(c, argv[1]);
    c.w.int(z === null ? 0 : z.countByScore(min, max));
  },

  zlexcount(c, argv) {
    const min = lexBound(argv[2]);
    const max = lexBound(argv[3]);
    const z = readZ(c, argv[1]);
    c.w.int(z === null ? 0 : z.countByLex(min, max));
  },

  zrange(c, argv) {
    zrangeGeneric(c, argv, 1, false, AUTO, AUTO);
  },

  zrangestore(c, argv) {
    zrangeGeneric(c, argv, 2, true, AUTO, AUTO);
  },

  zrevrange(c, argv) {
    zrangeGeneric(c, argv, 1, false, BY_RANK, 1);
  },

  zrangebyscore(c, argv) {
    zrangeGeneric(c, argv, 1, false, BY_SCORE, 0);
  },

  zrevrangebyscore(c, argv) {
    zrangeGeneric(c, argv, 1, false, BY_SCORE, 1);
  },

  zrangebylex(c, argv) {
    zrangeGeneric(c, argv, 1, false, BY_LEX, 0);
  },

  zrevrangebylex(c, argv) {
    zrangeGeneric(c, argv, 1, false, BY_LEX, 1);
  },

  zrem(c, argv) {
    const key = argv[1];
    const zv = writeZ(c, key);
    if (zv === null) {
      c.w.int(0);
      return;
    }
    const z = zv;
    let deleted = 0;
    for (let i = 2; i < argv.length; i++) {
      if (z.remove(argv[i])) {
        deleted++;
        if (z.size === 0) break;
      }
    }
    if (deleted > 0) afterRemoval(c, key, zv, deleted, 'zrem');
    c.w.int(deleted);
  },

  zremrangebyrank(c, argv) {
    const start = parseInt64(argv[2]);
    const stop = parseInt64(argv[3]);
    const zv = writeZ(c, argv[1]);
    let n = 0;
    if (zv !== null) {
      n = zv.removeRangeByRank(start, stop);
      if (n > 0) afterRemoval(c, argv[1], zv, n, 'zremrangebyrank');
    }
    c.w.int(n);
  },

  zremrangebyscore(c, argv) {
    const min = scoreBound(argv[2]);
    const max = scoreBound(argv[3]);
    const zv = writeZ(c, argv[1]);
    let n = 0;
    if (zv !== null) {
      n = zv.removeRangeByScore(min, max);
      if (n > 0) afterRemoval(c, argv[1], zv, n, 'zremrangebyscore');
    }
    c.w.int(n);
  },

  zremrangebylex(c, argv) {
    const min = lexBound(argv[2]);
    const max = lexBound(argv[3]);
    const zv = writeZ(c, argv[1]);
    let n = 0;
    if (zv !== null) {
      n = zv.removeRangeByLex(min, max);
      if (n > 0) afterRemoval(c, argv[1], zv, n, 'zremrangebylex');
    }
    c.w.int(n);
  },

  zunion(c, argv) {
    zsetOp(c, argv, null, 1, OP_UNION, false);
  },

  zinter(c, argv) {
    zsetOp(c, argv, null, 1, OP_INTER, false);
  },

  zdiff(c, argv) {
    zsetOp(c, argv, null, 1, OP_DIFF, false);
  },

  zintercard(c, argv) {
    zsetOp(c, argv, null, 1, OP_INTER, true);
  },

  zunionstore(c, argv) {
    zsetOp(c, argv, argv[1], 2, OP_UNION, false);
  },

  zinterstore(c, argv) {
    zsetOp(c, argv, argv[1], 2, OP_INTER, false);
  },

  zdiffstore(c, argv) {
    zsetOp(c, argv, argv[1], 2, OP_DIFF, false);
  },

  zpopmin(c, argv) {
    zpopCommand(c, argv, false);
  },

  zpopmax(c, argv) {
    zpopCommand(c, argv, true);
  },

  bzpopmin(c, argv) {
    blockingPop(c, argv, 1, argv.length - 1, false, argv.length - 1, -1);
  },

  bzpopmax(c, argv) {
    blockingPop(c, argv, 1, argv.length - 1, true, argv.length - 1, -1);
  },

  zmpop(c, argv) {
    zmpop(c, argv, 1, false);
  },

  bzmpop(c, argv) {
    zmpop(c, argv, 2, true);
  },

  zrandmember(c, argv) {
    const argc = argv.length;
    if (argc >= 3) {
      const l = parseInt64(argv[2]);
      if (argv[2] === '-9223372036854775808') {
        throw new ReplyError('ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807');
      }
      let withScores = false;
      if (argc > 4 || (argc === 4 && !isWord(argv[3], 'withscores'))) throw new ReplyError(E.syntax);
      if (argc === 4) {
        withScores = true;
        // |count| > LONG_MAX/2 (exactly, beyond double precision).
        if (Math.abs(l) >= 2 ** 62) {
          const b = BigInt(argv[2]);
          if (b < -4611686018427387903n || b > 4611686018427387903n) throw new ReplyError('ERR value is out of range');
        }
      }
      zrandmemberWithCount(c, argv[1], l, withScores);
      return;
    }
    const z = readZ(c, argv[1]);
    if (z === null) c.w.nil();
    else c.w.bulk(z.memberAt(randomInt(z.size))!);
  },

  zscan(c, argv) {
    zscan(c, argv);
  },
};

function zrank(c: Client, argv: string[], reverse: boolean): void {
  const argc = argv.length;
  if (argc > 4) throw new ReplyError(`ERR wrong number of arguments for '${reverse ? 'zrevrank' : 'zrank'}' command`);
  let withScore = false;
  if (argc === 4) {
    if (isWord(argv[3], 'withscore')) withScore = true;
    else throw new ReplyError(E.syntax);
  }
  const z = readZ(c, argv[1]);
  const w = c.w;
  const r = z === null ? -1 : z.rank(argv[2], reverse);
  if (r < 0) {
    if (withScore) w.nilArray();
    else w.nil();
    return;
  }
  if (withScore) {
    w.array(2);
    w.int(r);
    w.double(z!.score(argv[2])!);
  } else w.int(r);
}
