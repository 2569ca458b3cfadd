/**
 * Live comparison of HyperLogLog with a real redis-server: random PFADD / PFMERGE / PFCOUNT
 * sequences must give the same replies and the same GET bytes. Requires `redis-server` on PATH
 * (Debian: apt-get install redis-server); without it this suite FAILS on purpose rather than skip.
 */
import fc from 'fast-check';
import type Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HLL_DENSE_SIZE, HllCorruptError, HyperLogLog } from '../../../cluster-node/src/keyspace/structures/hyperloglog';
import { startRedis, type LiveRedis } from './redis-server';

let live: LiveRedis | null = null;
let client: Redis | null = null;

beforeAll(async () => {
  live = await startRedis();
  client = live.client;
});

afterAll(async () => {
  await live?.stop();
});

const KEYS = ['h0', 'h1', 'h2'];

type Op =
  | { t: 'add'; key: number; els: string[] }
  | { t: 'bulk'; key: number; prefix: string; n: number }
  | { t: 'merge'; dest: number; srcs: number[] }
  | { t: 'count'; keys: number[] };

const elArb = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 20 });
const keyArb = fc.integer({ min: 0, max: KEYS.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('add' as const), key: keyArb, els: fc.array(elArb, { maxLength: 8 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('bulk' as const),
      key: keyArb,
      prefix: fc.string({ maxLength: 3 }),
      n: fc.integer({ min: 1, max: 2500 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('merge' as const), dest: keyArb, srcs: fc.array(keyArb, { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('count' as const), keys: fc.array(keyArb, { minLength: 1, maxLength: 3 }) }) },
);

/** Apply ops to Redis and to local HLLs (with PFADD/PFCOUNT/PFMERGE command semantics); compare. */
async function runAgainstRedis(ops: Op[]) {
  const r = client!;
  await r.del(...KEYS);
  const local: (HyperLogLog | null)[] = KEYS.map(() => null);
  for (const op of ops) {
    switch (op.t) {
      case 'add':
      case 'bulk': {
        const els = op.t === 'add' ? op.els : Array.from({ length: op.n }, (_, i) => op.prefix + ':' + i);
        let h = local[op.key];
        let updated = false;
        if (h === null) {
          h = local[op.key] = HyperLogLog.create();
          updated = true;
        }
        if (h.addAll(els)) updated = true;
        if (updated) h.invalidateCache();
        const reply = await r.pfadd(KEYS[op.key], ...els.map((e) => Buffer.from(e, 'latin1')));
        expect(reply).toBe(updated ? 1 : 0);
        break;
      }
      case 'merge': {
        const names = [op.dest, ...op.srcs];
        const sources = names.map((k) => local[k]).filter((h): h is HyperLogLog => h !== null);
        local[op.dest] = HyperLogLog.merge(local[op.dest], sources);
        expect(await r.pfmerge(KEYS[op.dest], ...op.srcs.map((k) => KEYS[k]))).toBe('OK');
        break;
      }
      case 'count': {
        let want: number;
        if (op.keys.length === 1) want = local[op.keys[0]]?.count() ?? 0;
        else want = HyperLogLog.countUnion(op.keys.map((k) => local[k]).filter((h): h is HyperLogLog => h !== null));
        expect(await r.pfcount(...(op.keys.map((k) => KEYS[k]) as [string]))).toBe(want);
        break;
      }
    }
    for (let k = 0; k < KEYS.length; k++) {
      const got = await r.getBuffer(KEYS[k]);
      const mine = local[k];
      if (mine === null) expect(got).toBeNull();
      else expect(got?.toString('latin1')).toBe(mine.toString());
    }
  }
}

describe('HyperLogLog vs live redis-server', () => {
  it('random PFADD / PFMERGE / PFCOUNT sequences give identical replies and bytes', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 12 }), runAgainstRedis), { numRuns: 80 });
  });

  it('same with a small hll-sparse-max-bytes (early sparse -> dense promotion)', async () => {
    const saved = HyperLogLog.sparseMaxBytes;
    await client!.config('SET', 'hll-sparse-max-bytes', '300');
    HyperLogLog.sparseMaxBytes = 300;
    try {
      await fc.assert(fc.asyncProperty(fc.array(opArb, { maxLength: 8 }), runAgainstRedis), { numRuns: 15 });
    } finally {
      HyperLogLog.sparseMaxBytes = saved;
      await client!.config('SET', 'hll-sparse-max-bytes', String(saved));
    }
  });

  it('single-element PFADDs: bytes identical after every step through sparse -> dense', async () => {
    const r = client!;
    for (let seq = 0; seq < 3; seq++) {
      await r.del('steps');
      const h = HyperLogLog.create();
      const p = r.pipeline();
      const mine: string[] = [];
      for (let i = 0; i < 2200; i++) {
        const e = 'q' + seq + ':' + i;
        h.add(e);
        p.pfadd('steps', e);
        p.getBuffer('steps');
        mine.push(h.toString());
      }
      const res = (await p.exec())!;
      for (let i = 0; i < mine.length; i++) {
        const got = (res[2 * i + 1][1] as Buffer).toString('latin1');
        if (got !== mine[i]) expect.fail(`sequence ${seq}: bytes differ after element ${i} (${h.encoding})`);
      }
      expect(h.encoding).toBe('dense');
    }
  });

  it('large cardinalities: 1..2M elements give the same PFCOUNT', async () => {
    const r = client!;
    await r.del('big');
    const h = HyperLogLog.create();
    let next = 0;
    for (const target of [10, 1000, 50_000, 300_000, 2_000_000]) {
      const batch: string[] = [];
      for (; next < target; next++) {
        const e = 'big-' + next;
        h.add(e);
        batch.push(e);
        if (batch.length === 5000) {
          await r.pfadd('big', ...batch);
          batch.length = 0;
        }
      }
      if (batch.length > 0) await r.pfadd('big', ...batch);
      expect(await r.pfcount('big')).toBe(h.count());
    }
    expect(h.byteLength).toBe(HLL_DENSE_SIZE);
    expect((await r.getBuffer('big'))!.toString('latin1')).toBe(h.toString());
  });

  it('WRONGTYPE and INVALIDOBJ cases agree', async () => {
    const r = client!;
    await r.set('notahll', 'hello world, definitely not an HLL');
    await expect(r.pfadd('notahll', 'a')).rejects.toThrow(/WRONGTYPE Key is not a valid HyperLogLog string value/);
    expect(HyperLogLog.parse('hello world, definitely not an HLL')).toBeNull();
    // Sparse, cache marked invalid (byte 15 bit 7), one ZERO opcode covering 1 of 16384 registers.
    const corrupt = 'HYLL\x01\x00\x00\x00' + '\x00'.repeat(7) + '\x80' + '\x00';
    await r.set('corrupt', Buffer.from(corrupt, 'latin1'));
    await expect(r.pfcount('corrupt')).rejects.toThrow(/INVALIDOBJ Corrupted HLL object detected/);
    expect(() => HyperLogLog.parse(corrupt)!.count()).toThrow(HllCorruptError);
  });
});
