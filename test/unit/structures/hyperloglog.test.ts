/**
 * HyperLogLog against results recorded from a real redis-server (fixtures/hll-redis.json, made by
 * gen-hll-fixture.ts; see that file for the exact commands) plus API semantics.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  HLL_DENSE_SIZE,
  HLL_INVALID_ERR,
  HLL_WRONGTYPE_ERR,
  HllCorruptError,
  HyperLogLog,
  hllHashElement,
  murmurHash64A,
} from '../../../cluster-node/src/keyspace/structures/hyperloglog';
import { HLL_INPUT_SETS, HLL_MERGES } from './hll-inputs';

interface Fixture {
  redisVersion: string;
  sets: { name: string; pfcount: number; encoding: string; getLength: number; getSha1: string; getHex?: string }[];
  merges: { name: string; sources: string[]; unionPfcount: number; mergedPfcount: number; getLength: number; getSha1: string }[];
}

const fixture: Fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'hll-redis.json'), 'utf8'));

const sha1 = (s: string) => createHash('sha1').update(Buffer.from(s, 'latin1')).digest('hex');

function build(name: string): HyperLogLog {
  const set = HLL_INPUT_SETS.find((s) => s.name === name)!;
  const h = HyperLogLog.create();
  h.addAll(set.elements());
  return h;
}

describe('HyperLogLog matches recorded Redis results', () => {
  const built = new Map<string, HyperLogLog>();
  for (const rec of fixture.sets) {
    it(`${rec.name}: PFCOUNT and GET bytes (Redis ${fixture.redisVersion})`, () => {
      const h = build(rec.name);
      expect(h.count()).toBe(rec.pfcount);
      expect(h.encoding).toBe(rec.encoding);
      const s = h.toString();
      expect(s.length).toBe(rec.getLength);
      if (rec.getHex !== undefined) expect(Buffer.from(s, 'latin1').toString('hex')).toBe(rec.getHex);
      expect(sha1(s)).toBe(rec.getSha1);
      built.set(rec.name, h);
    });
  }
  for (const rec of fixture.merges) {
    it(`${rec.name}: multi-key PFCOUNT and PFMERGE`, () => {
      const srcs = rec.sources.map((n) => built.get(n) ?? build(n));
      expect(HyperLogLog.countUnion(srcs)).toBe(rec.unionPfcount);
      const merged = HyperLogLog.merge(null, srcs);
      expect(merged.count()).toBe(rec.mergedPfcount);
      const s = merged.toString();
      expect(s.length).toBe(rec.getLength);
      expect(sha1(s)).toBe(rec.getSha1);
    });
  }
  it('fixture covers every input set and merge', () => {
    expect(fixture.sets.map((s) => s.name)).toEqual(HLL_INPUT_SETS.map((s) => s.name));
    expect(fixture.merges.map((s) => s.name)).toEqual(HLL_MERGES.map((s) => s.name));
  });
});

describe('HyperLogLog API', () => {
  it('MurmurHash64A reference values', () => {
    // Independent BigInt implementation of MurmurHash64A.
    const ref = (s: string, seed: bigint): bigint => {
      const M = 0xc6a4a7935bd1e995n;
      const mask = (1n << 64n) - 1n;
      const b = Buffer.from(s, 'latin1');
      let h = (seed ^ (BigInt(b.length) * M)) & mask;
      const end = b.length - (b.length & 7);
      for (let i = 0; i < end; i += 8) {
        let k = b.readBigUInt64LE(i);
        k = (k * M) & mask;
        k ^= k >> 47n;
        k = (k * M) & mask;
        h ^= k;
        h = (h * M) & mask;
      }
      const rem = b.length & 7;
      if (rem) {
        for (let j = rem - 1; j >= 0; j--) h ^= BigInt(b[end + j]) << BigInt(8 * j);
        h = (h * M) & mask;
      }
      h ^= h >> 47n;
      h = (h * M) & mask;
      h ^= h >> 47n;
      return h;
    };
    let x = 7;
    for (let n = 0; n < 300; n++) {
      let s = '';
      for (let k = 0; k < n % 40; k++) {
        x = (x * 1103515245 + 12345) >>> 0;
        s += String.fromCharCode(x >>> 24);
      }
      expect(murmurHash64A(s)).toBe(ref(s, 0xadc83b19n));
      expect(murmurHash64A(s, 0)).toBe(ref(s, 0n));
    }
  });

  it('register index and run length follow hllPatLen', () => {
    for (const s of ['a', 'foo', '', 'elem:1']) {
      const h = murmurHash64A(s);
      const { index, count } = hllHashElement(s);
      expect(index).toBe(Number(h & 16383n));
      let rest = (h >> 14n) | (1n << 50n);
      let c = 1;
      while ((rest & 1n) === 0n) {
        c++;
        rest >>= 1n;
      }
      expect(count).toBe(c);
    }
  });

  it('a new HLL is the Redis empty sparse value', () => {
    const h = HyperLogLog.create();
    expect(Buffer.from(h.toString(), 'latin1').toString('hex')).toBe('48594c4c01000000000000000000000' + '07fff');
    expect(h.count()).toBe(0);
    expect(h.cacheValid).toBe(true);
  });

  it('add reports changes and invalidates the cache only on change', () => {
    const h = HyperLogLog.create();
    expect(h.add('x')).toBe(true);
    expect(h.cacheValid).toBe(false);
    expect(h.count()).toBe(1);
    expect(h.cacheValid).toBe(true);
    expect(h.add('x')).toBe(false);
    expect(h.cacheValid).toBe(true);
  });

  it('parse rejects non-HLL strings (WRONGTYPE) and round-trips valid ones', () => {
    expect(HLL_WRONGTYPE_ERR).toBe('WRONGTYPE Key is not a valid HyperLogLog string value.');
    expect(HyperLogLog.parse('hello')).toBeNull();
    expect(HyperLogLog.parse('HYLL')).toBeNull();
    expect(HyperLogLog.parse('HYLL\x02' + '\x00'.repeat(20))).toBeNull(); // bad encoding
    expect(HyperLogLog.parse('HYLL\x00' + '\x00'.repeat(20))).toBeNull(); // dense of wrong size
    expect(HyperLogLog.parse('XYLL\x01' + '\x00'.repeat(20))).toBeNull();
    const h = build('elem-1000');
    const p = HyperLogLog.parse(h.toString())!;
    expect(p.toString()).toBe(h.toString());
    expect(p.count()).toBe(h.count());
    p.add('new-element-xyz');
    h.add('new-element-xyz');
    expect(p.toString()).toBe(h.toString());
    const d = build('elem-20000');
    expect(d.byteLength).toBe(HLL_DENSE_SIZE);
    expect(HyperLogLog.parse(d.toString())!.toString()).toBe(d.toString());
  });

  it('corrupted sparse payloads raise HllCorruptError (INVALIDOBJ)', () => {
    // Header + a single ZERO opcode covering 1 register instead of 16384.
    const bad = HyperLogLog.parse('HYLL\x01\x00\x00\x00' + '\x00'.repeat(7) + '\x80' + '\x00')!;
    expect(bad).not.toBeNull();
    expect(() => bad.count()).toThrow(HllCorruptError);
    expect(() => bad.count()).toThrow(HLL_INVALID_ERR);
    expect(() => HyperLogLog.countUnion([bad])).toThrow(HllCorruptError);
  });

  it('mergeFrom equals the HLL of the union', () => {
    const a = HyperLogLog.create();
    const b = HyperLogLog.create();
    const u = HyperLogLog.create();
    for (let i = 0; i < 5000; i++) {
      const e = 'e' + i;
      (i % 3 === 0 ? a : b).add(e);
      u.add(e);
    }
    a.mergeFrom(b);
    expect(a.registers()).toEqual(u.registers());
    expect(a.count()).toBe(u.estimate());
  });

  it('promotes to dense past sparseMaxBytes; a dense merge source makes the destination dense', () => {
    const saved = HyperLogLog.sparseMaxBytes;
    try {
      HyperLogLog.sparseMaxBytes = 100;
      const h = HyperLogLog.create();
      let i = 0;
      while (h.encoding === 'sparse') h.add('p' + i++);
      expect(h.byteLength).toBe(HLL_DENSE_SIZE);
      expect(i).toBeLessThan(60);
    } finally {
      HyperLogLog.sparseMaxBytes = saved;
    }
    const h = HyperLogLog.create();
    const d = HyperLogLog.create();
    d.toDense();
    expect(d.encoding).toBe('dense');
    h.add('a');
    HyperLogLog.merge(h, [h, d]);
    expect(h.encoding).toBe('dense'); // a dense source makes the destination dense
    expect(h.count()).toBe(1);
  });
});
