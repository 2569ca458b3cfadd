/**
 * Command handlers: hyperloglog family (specs in common/src/commands/specs/hyperloglog.ts).
 *
 * An HLL is stored as a plain string value holding exactly Redis's bytes (GET/TYPE/STRLEN see a
 * string, DUMP/RESTORE and replication carry it), parsed with keyspace/structures/hyperloglog for
 * each command and written back only when it changed. Follows Redis 7.0's hyperloglog.c: WRONGTYPE
 * for non-strings, "WRONGTYPE Key is not a valid HyperLogLog string value." for other strings,
 * INVALIDOBJ for corrupted payloads, single-key PFCOUNT caching the cardinality in the header
 * (a write: dirty++ and WATCH signal), the "pfadd" event for PFADD and PFMERGE.
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E } from './args';
import type { Client } from '../server/client';
import type { Value } from '../keyspace/values';
import {
  HLL_DENSE_SIZE,
  HLL_HDR_SIZE,
  HLL_INVALID_ERR,
  HLL_REGISTERS,
  HLL_WRONGTYPE_ERR,
  HllCorruptError,
  HyperLogLog,
} from '../keyspace/structures/hyperloglog';

/** Parse a stored value as an HLL (Redis isHLLObjectOrReply). */
function asHll(v: Value): HyperLogLog {
  if (typeof v !== 'string') throw new ReplyError(E.wrongType);
  const h = HyperLogLog.parse(v);
  if (h === null) throw new ReplyError(HLL_WRONGTYPE_ERR);
  return h;
}

/**
 * True unless `s` is a sparse HLL whose opcodes do not cover exactly 16384 registers. The structure's
 * merge and sparse-to-dense paths stop at an opcode that would run past the last register without
 * flagging it; redis-server (with the CVE-2025-32023 hardening shipped in current 7.0.x packages)
 * reports every such payload as corrupted, so check before merging or converting.
 */
function sparseIntact(s: string): boolean {
  if (s.charCodeAt(4) !== 1) return true;
  let idx = 0;
  let p = HLL_HDR_SIZE;
  const end = s.length;
  while (p < end) {
    const op = s.charCodeAt(p);
    if ((op & 0xc0) === 0) {
      idx += (op & 0x3f) + 1;
      p++;
    } else if ((op & 0xc0) === 0x40) {
      idx += (((op & 0x3f) << 8) | (p + 1 < end ? s.charCodeAt(p + 1) : 0)) + 1;
      p += 2;
    } else {
      idx += (op & 3) + 1;
      p++;
    }
    if (idx > HLL_REGISTERS) return false;
  }
  return idx === HLL_REGISTERS;
}

/** Run `f`, turning a corrupted-HLL exception into Redis's INVALIDOBJ error reply. */
function guarded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof HllCorruptError) throw new ReplyError(HLL_INVALID_ERR);
    throw e;
  }
}

/** Store an HLL back into its key (an in-place modification in Redis: the TTL stays). */
function store(c: Client, key: string, h: HyperLogLog): void {
  c.db.set(key, h.toString(), true);
}

/**
 * Look up and parse the HLLs of argv[from..] for a read (missing keys skipped), reporting errors in
 * Redis's order: it validates and merges key by key, so a corrupted HLL before a key of the wrong
 * type is reported as INVALIDOBJ. (A dense HLL cannot be corrupted: its size is checked.)
 */
function readHlls(c: Client, argv: string[], from: number): { list: HyperLogLog[]; first: HyperLogLog | null } {
  const stats = c.server.stats;
  const list: HyperLogLog[] = [];
  let first: HyperLogLog | null = null;
  for (let j = from; j < argv.length; j++) {
    const v = c.db.get(argv[j]);
    if (v === undefined) {
      stats.keyspaceMisses++;
      continue;
    }
    stats.keyspaceHits++;
    const h = asHll(v);
    if (!sparseIntact(v as string)) throw new ReplyError(HLL_INVALID_ERR);
    if (j === from) first = h;
    list.push(h);
  }
  return { list, first };
}

/** Cached cardinality straight from the string header, or -1 if the cache is invalid. */
function cachedCard(s: string): number {
  if ((s.charCodeAt(15) & 0x80) !== 0) return -1;
  let v = 0;
  for (let i = 15; i >= 8; i--) v = v * 256 + s.charCodeAt(i);
  return v;
}

function decodeSparse(b: Uint8Array): string {
  const parts: string[] = [];
  let p = HLL_HDR_SIZE;
  while (p < b.length) {
    const op = b[p];
    if ((op & 0xc0) === 0) {
      parts.push(`z:${(op & 0x3f) + 1}`);
      p++;
    } else if ((op & 0xc0) === 0x40) {
      parts.push(`Z:${(((op & 0x3f) << 8) | (p + 1 < b.length ? b[p + 1] : 0)) + 1}`);
      p += 2;
    } else {
      parts.push(`v:${((op >>> 2) & 0x1f) + 1},${(op & 3) + 1}`);
      p++;
    }
  }
  return parts.join(' ');
}

export const handlers: HandlerMap = {
  pfadd(c, argv) {
    const db = c.db;
    const key = argv[1];
    const v = db.get(key);
    let h: HyperLogLog;
    let updated = 0;
    if (v === undefined) {
      h = HyperLogLog.create();
      updated++;
    } else h = asHll(v);
    guarded(() => {
      for (let j = 2; j < argv.length; j++) if (h.add(argv[j])) updated++;
    });
    if (updated > 0) {
      h.invalidateCache();
      store(c, key, h);
      const s = c.server;
      s.signalModified(db, key);
      if (s.pubsub.notifying) s.pubsub.notify('$', 'pfadd', key, db.id);
      s.dirty += updated;
    }
    c.w.int(updated > 0 ? 1 : 0);
  },

  pfcount(c, argv) {
    const db = c.db;
    const s = c.server;
    if (argv.length > 2) {
      const { list } = readHlls(c, argv, 1);
      c.w.int(guarded(() => HyperLogLog.countUnion(list)));
      return;
    }
    const key = argv[1];
    const v = db.get(key);
    if (v === undefined) {
      s.stats.keyspaceMisses++;
      return c.w.int(0);
    }
    s.stats.keyspaceHits++;
    if (typeof v !== 'string') throw new ReplyError(E.wrongType);
    if (!HyperLogLog.isValid(v)) throw new ReplyError(HLL_WRONGTYPE_ERR);
    const cached = cachedCard(v);
    if (cached >= 0) return c.w.int(cached);
    const h = HyperLogLog.parse(v)!;
    const card = guarded(() => h.count());
    store(c, key, h);
    s.signalModified(db, key);
    s.dirty++;
    c.w.int(card);
  },

  pfmerge(c, argv) {
    const db = c.db;
    const s = c.server;
    const key = argv[1];
    const { list, first } = readHlls(c, argv, 1);
    const dest = guarded(() => HyperLogLog.merge(first, list));
    store(c, key, dest);
    s.signalModified(db, key);
    s.pubsub.notify('$', 'pfadd', key, db.id);
    s.dirty++;
    c.w.ok();
  },

  pfdebug(c, argv) {
    const db = c.db;
    const s = c.server;
    const sub = argv[1];
    const key = argv[2];
    const v = db.get(key);
    if (v === undefined) throw new ReplyError('ERR The specified key does not exist');
    const h = asHll(v);
    const op = sub.toLowerCase();
    if ((op === 'getreg' || op === 'todense') && !sparseIntact(v as string)) throw new ReplyError(HLL_INVALID_ERR);
    if (op === 'getreg') {
      if (h.encoding === 'sparse') {
        guarded(() => h.toDense());
        store(c, key, h);
        s.dirty++;
      }
      const regs = h.registers();
      const w = c.w;
      w.array(HLL_REGISTERS);
      for (let i = 0; i < HLL_REGISTERS; i++) w.int(regs[i]);
    } else if (op === 'decode') {
      if (h.encoding !== 'sparse') throw new ReplyError('ERR HLL encoding is not sparse');
      c.w.bulk(decodeSparse(h.toBytes()));
    } else if (op === 'encoding') {
      c.w.simple(h.encoding);
    } else if (op === 'todense') {
      let conv = 0;
      if (h.encoding === 'sparse') {
        guarded(() => h.toDense());
        store(c, key, h);
        conv = 1;
        s.dirty++;
      }
      c.w.int(conv);
    } else throw new ReplyError(`ERR Unknown PFDEBUG subcommand '${sub}'`);
  },

  pfselftest(c) {
    const err = selfTest();
    if (err !== null) throw new ReplyError(`ERR TESTFAILED ${err}`);
    c.w.ok();
  },
};

/**
 * PFSELFTEST: the same HLL fed through the sparse and the dense encodings must agree register for
 * register and in cardinality, and the estimate must stay within Redis's error bounds
 * (6 standard errors of 1.04/sqrt(m); at most 1 at 10 elements) at checkpoints, like Redis's test.
 */
function selfTest(): string | null {
  const sparse = HyperLogLog.create();
  const dense = HyperLogLog.create();
  dense.toDense();
  if (dense.byteLength !== HLL_DENSE_SIZE) return 'Dense HLL has the wrong size';
  const relerr = 1.04 / Math.sqrt(HLL_REGISTERS);
  let checkpoint = 1;
  const seed = Math.floor(Math.random() * 0xffffffff);
  for (let j = 1; j <= 100000; j++) {
    const ele = `${seed}:${j}`;
    sparse.add(ele);
    dense.add(ele);
    if (j === checkpoint) {
      const a = sparse.estimate();
      const b = dense.estimate();
      if (a !== b) return `Sparse/dense mismatch at ${j}: ${a} != ${b}`;
      const maxerr = j === 10 ? 1 : Math.ceil(relerr * 6 * j);
      const abserr = Math.abs(b - j);
      if (abserr > maxerr) return `Too big error. card:${j} abserr:${abserr}`;
      checkpoint *= 10;
    }
  }
  const ra = sparse.registers();
  const rb = dense.registers();
  for (let i = 0; i < HLL_REGISTERS; i++) if (ra[i] !== rb[i]) return `Register error at ${i}`;
  return null;
}
