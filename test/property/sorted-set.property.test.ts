/**
 * SortedSet vs a naive model (array sorted by (score, member)) over random operation sequences,
 * with default node sizes and with tiny nodes (deep trees, many splits/merges/redistributions).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LEX_MAX,
  LEX_MIN,
  SortedSet,
  setSortedSetNodeSizes,
  type LexBound,
  type ScoreBound,
  type ZRangeResult,
} from '../../cluster-node/src/keyspace/structures/sorted-set';

interface E {
  m: string;
  s: number;
}

const less = (a: E, b: E) => a.s < b.s || (a.s === b.s && a.m < b.m);

class Model {
  arr: E[] = [];
  find(m: string): number {
    return this.arr.findIndex((e) => e.m === m);
  }
  add(m: string, s: number): number | undefined {
    const i = this.find(m);
    if (i >= 0) {
      const old = this.arr[i].s;
      if (old === s) return old;
      this.arr.splice(i, 1);
      this.insert(m, s);
      return old;
    }
    this.insert(m, s);
    return undefined;
  }
  insert(m: string, s: number) {
    const e = { m, s };
    let i = 0;
    while (i < this.arr.length && less(this.arr[i], e)) i++;
    this.arr.splice(i, 0, e);
  }
  remove(m: string): boolean {
    const i = this.find(m);
    if (i < 0) return false;
    this.arr.splice(i, 1);
    return true;
  }
}

function inScore(e: E, min: ScoreBound, max: ScoreBound): boolean {
  const okMin = min.exclusive ? e.s > min.value : e.s >= min.value;
  const okMax = max.exclusive ? e.s < max.value : e.s <= max.value;
  return okMin && okMax;
}

function lexGeMin(m: string, b: LexBound): boolean {
  if (b.inf !== 0) return b.inf < 0;
  return b.exclusive ? m > b.value : m >= b.value;
}
function lexLeMax(m: string, b: LexBound): boolean {
  if (b.inf !== 0) return b.inf > 0;
  return b.exclusive ? m < b.value : m <= b.value;
}

function normRank(n: number, start: number, stop: number): [number, number] | null {
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) return null;
  if (stop >= n) stop = n - 1;
  return [start, stop];
}

function window(list: E[], reverse: boolean, offset: number, limit: number): E[] {
  const l = reverse ? [...list].reverse() : list;
  if (offset < 0 || limit === 0) return [];
  return limit < 0 ? l.slice(offset) : l.slice(offset, offset + limit);
}

function asRes(list: E[]): ZRangeResult {
  return { members: list.map((e) => e.m), scores: list.map((e) => e.s) };
}

function expectSame(got: ZRangeResult, want: E[]) {
  expect(got.members).toEqual(want.map((e) => e.m));
  expect(got.scores.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Object.is(got.scores[i], want[i].s)).toBe(true);
}

const memberArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'z', '\x00', '\xff', '\x80'), maxLength: 2 });
const scoreArb = fc.oneof(
  fc.constantFrom(-Infinity, Infinity, 0, -0, 1, -1, 1.5, 2, 3, 1e300, -1e-300),
  fc.integer({ min: -5, max: 5 }),
  fc.double({ noNaN: true }),
);
const scoreBoundArb = fc.record({ value: scoreArb, exclusive: fc.boolean() });
const lexBoundArb: fc.Arbitrary<LexBound> = fc.oneof(
  fc.constant(LEX_MIN),
  fc.constant(LEX_MAX),
  fc.record({ value: memberArb, exclusive: fc.boolean(), inf: fc.constant(0 as const) }),
);
const idxArb = fc.integer({ min: -12, max: 12 });

type Op =
  | { t: 'add'; m: string; s: number }
  | { t: 'bulk'; seed: number; n: number; sameScore: boolean }
  | { t: 'rem'; m: string }
  | { t: 'remRank'; a: number; b: number }
  | { t: 'remScore'; min: ScoreBound; max: ScoreBound }
  | { t: 'remLex'; min: LexBound; max: LexBound }
  | { t: 'popMin'; k: number }
  | { t: 'popMax'; k: number }
  | { t: 'range'; a: number; b: number; rev: boolean }
  | { t: 'rangeScore'; min: ScoreBound; max: ScoreBound; rev: boolean; off: number; lim: number }
  | { t: 'rangeLex'; min: LexBound; max: LexBound; rev: boolean; off: number; lim: number }
  | { t: 'rank'; m: string }
  | { t: 'at'; r: number };

function opsArb(lexOnly: boolean): fc.Arbitrary<Op[]> {
  const s = lexOnly ? fc.constant(0) : scoreArb;
  const ops: fc.Arbitrary<Op>[] = [
    fc.record({ t: fc.constant('add' as const), m: memberArb, s }),
    fc.record({ t: fc.constant('add' as const), m: memberArb, s }),
    fc.record({ t: fc.constant('bulk' as const), seed: fc.integer(), n: fc.integer({ min: 1, max: 300 }), sameScore: fc.constant(lexOnly) }),
    fc.record({ t: fc.constant('rem' as const), m: memberArb }),
    fc.record({ t: fc.constant('remRank' as const), a: idxArb, b: idxArb }),
    fc.record({ t: fc.constant('remLex' as const), min: lexBoundArb, max: lexBoundArb }),
    fc.record({ t: fc.constant('popMin' as const), k: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ t: fc.constant('popMax' as const), k: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ t: fc.constant('range' as const), a: idxArb, b: idxArb, rev: fc.boolean() }),
    fc.record({
      t: fc.constant('rangeLex' as const),
      min: lexBoundArb,
      max: lexBoundArb,
      rev: fc.boolean(),
      off: fc.integer({ min: -1, max: 5 }),
      lim: fc.integer({ min: -1, max: 5 }),
    }),
    fc.record({ t: fc.constant('rank' as const), m: memberArb }),
    fc.record({ t: fc.constant('at' as const), r: fc.integer({ min: -1, max: 400 }) }),
  ];
  if (!lexOnly) {
    ops.push(
      fc.record({ t: fc.constant('remScore' as const), min: scoreBoundArb, max: scoreBoundArb }),
      fc.record({
        t: fc.constant('rangeScore' as const),
        min: scoreBoundArb,
        max: scoreBoundArb,
        rev: fc.boolean(),
        off: fc.integer({ min: -1, max: 5 }),
        lim: fc.integer({ min: -1, max: 5 }),
      }),
    );
  }
  return fc.array(fc.oneof(...ops), { maxLength: 60 });
}

const allEqual = (arr: E[]) => arr.every((e) => e.s === arr[0].s);

function run(ops: Op[]) {
  const z = new SortedSet();
  const model = new Model();
  for (const op of ops) {
    switch (op.t) {
      case 'add':
        expect(z.add(op.m, op.s)).toBe(model.add(op.m, op.s));
        break;
      case 'bulk': {
        let x = op.seed | 1;
        for (let i = 0; i < op.n; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          const m = 'k' + ((x >>> 0) % 150);
          const s = op.sameScore ? 0 : ((x >>> 8) % 50) - 25;
          expect(z.add(m, s)).toBe(model.add(m, s));
        }
        break;
      }
      case 'rem':
        expect(z.remove(op.m)).toBe(model.remove(op.m));
        break;
      case 'remRank': {
        const r = normRank(model.arr.length, op.a, op.b);
        const want = r === null ? 0 : r[1] - r[0] + 1;
        if (r !== null) model.arr.splice(r[0], want);
        expect(z.removeRangeByRank(op.a, op.b)).toBe(want);
        break;
      }
      case 'remScore': {
        const keep = model.arr.filter((e) => !inScore(e, op.min, op.max));
        const want = model.arr.length - keep.length;
        model.arr = keep;
        expect(z.removeRangeByScore(op.min, op.max)).toBe(want);
        break;
      }
      case 'remLex': {
        if (!allEqual(model.arr)) break; // lex order is only defined among equal scores
        const keep = model.arr.filter((e) => !(lexGeMin(e.m, op.min) && lexLeMax(e.m, op.max)));
        const want = model.arr.length - keep.length;
        model.arr = keep;
        expect(z.removeRangeByLex(op.min, op.max)).toBe(want);
        break;
      }
      case 'popMin': {
        const want = model.arr.splice(0, op.k);
        expectSame(z.popMin(op.k), want);
        break;
      }
      case 'popMax': {
        const n = Math.min(op.k, model.arr.length);
        const want = model.arr.splice(model.arr.length - n, n).reverse();
        expectSame(z.popMax(op.k), want);
        break;
      }
      case 'range': {
        const n = model.arr.length;
        const r = normRank(n, op.a, op.b);
        const src = op.rev ? [...model.arr].reverse() : model.arr;
        const want = r === null ? [] : src.slice(r[0], r[1] + 1);
        expectSame(z.rangeByRank(op.a, op.b, op.rev), want);
        break;
      }
      case 'rangeScore': {
        const inRange = model.arr.filter((e) => inScore(e, op.min, op.max));
        expectSame(z.rangeByScore(op.min, op.max, op.rev, op.off, op.lim), window(inRange, op.rev, op.off, op.lim));
        expect(z.countByScore(op.min, op.max)).toBe(inRange.length);
        break;
      }
      case 'rangeLex': {
        if (!allEqual(model.arr)) {
          // Undefined order for Redis too: just check it answers a consistent contiguous slice.
          const got = z.rangeByLex(op.min, op.max, op.rev, 0, -1);
          expect(got.members.length).toBe(z.countByLex(op.min, op.max));
          break;
        }
        const inRange = model.arr.filter((e) => lexGeMin(e.m, op.min) && lexLeMax(e.m, op.max));
        expectSame(z.rangeByLex(op.min, op.max, op.rev, op.off, op.lim), window(inRange, op.rev, op.off, op.lim));
        expect(z.countByLex(op.min, op.max)).toBe(inRange.length);
        break;
      }
      case 'rank': {
        const i = model.find(op.m);
        const want = i < 0 ? -1 : model.arr.findIndex((e) => e.m === op.m);
        expect(z.rank(op.m)).toBe(want);
        expect(z.rank(op.m, true)).toBe(want < 0 ? -1 : model.arr.length - 1 - want);
        expect(z.score(op.m)).toBe(i < 0 ? undefined : model.arr[i].s);
        break;
      }
      case 'at': {
        const e = model.arr[op.r];
        expect(z.memberAt(op.r)).toBe(e?.m);
        expect(z.scoreAt(op.r)).toBe(e?.s);
        break;
      }
    }
    expect(z.size).toBe(model.arr.length);
  }
  z.checkInvariants();
  // Full content and iteration order.
  const all: E[] = [];
  z.forEach((m, s) => all.push({ m, s }));
  expectSame(asRes(all), model.arr);
  const rev: E[] = [];
  z.forEach((m, s) => rev.push({ m, s }), true);
  expectSame(asRes(rev), [...model.arr].reverse());
  expect([...z].map(([m]) => m)).toEqual(model.arr.map((e) => e.m));
  for (let i = 0; i < model.arr.length; i += 7) expect(z.rank(model.arr[i].m)).toBe(i);
  expect(z.first()).toBe(model.arr[0]?.m);
  expect(z.last()).toBe(model.arr[model.arr.length - 1]?.m);
}

describe('SortedSet vs model', () => {
  afterAll(() => setSortedSetNodeSizes());

  for (const [label, leaf, inner] of [
    ['default nodes', 128, 64],
    ['tiny nodes', 4, 4],
    ['small nodes', 8, 5],
  ] as const) {
    it(`mixed scores (${label})`, () => {
      setSortedSetNodeSizes(leaf, inner);
      fc.assert(fc.property(opsArb(false), run), { numRuns: label === 'default nodes' ? 150 : 250 });
    });
    it(`lex ranges with equal scores (${label})`, () => {
      setSortedSetNodeSizes(leaf, inner);
      fc.assert(fc.property(opsArb(true), run), { numRuns: label === 'default nodes' ? 100 : 200 });
    });
  }

  it('large random workload with deep tree keeps invariants', () => {
    setSortedSetNodeSizes(6, 4);
    const z = new SortedSet();
    const model = new Map<string, number>();
    let x = 12345;
    const rnd = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    for (let i = 0; i < 20000; i++) {
      const m = 'm' + Math.floor(rnd() * 3000);
      const r = rnd();
      if (r < 0.6) {
        const s = Math.floor(rnd() * 100);
        z.add(m, s);
        model.set(m, s);
      } else if (r < 0.9) {
        expect(z.remove(m)).toBe(model.delete(m));
      } else if (r < 0.95) {
        const a = Math.floor(rnd() * 100);
        const removed = z.removeRangeByScore({ value: a, exclusive: false }, { value: a + 3, exclusive: true });
        let cnt = 0;
        for (const [k, v] of model)
          if (v >= a && v < a + 3) {
            model.delete(k);
            cnt++;
          }
        expect(removed).toBe(cnt);
      } else {
        const k = Math.floor(rnd() * 20);
        for (const m2 of z.popMin(k).members) model.delete(m2);
      }
      if (i % 2000 === 0) z.checkInvariants();
    }
    z.checkInvariants();
    const want = [...model].sort((a, b) => (a[1] - b[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    expect([...z]).toEqual(want);
  });
});
