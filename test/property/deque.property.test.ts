/** Deque (LIST values) vs a plain-array model over random operation sequences. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from '../../cluster-node/src/keyspace/structures/deque';

function norm(n: number, start: number, stop: number): [number, number] | null {
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) return null;
  if (stop >= n) stop = n - 1;
  return [start, stop];
}

function modelLpos(arr: string[], v: string, rank: number, count: number, maxlen: number): number[] {
  const order = arr.map((_, i) => i);
  if (rank < 0) order.reverse();
  const lim = maxlen > 0 ? Math.min(maxlen, arr.length) : arr.length;
  const out: number[] = [];
  let matches = 0;
  for (let k = 0; k < lim; k++) {
    const i = order[k];
    if (arr[i] !== v) continue;
    matches++;
    if (matches >= Math.abs(rank)) {
      out.push(i);
      if (count !== 0 && out.length >= count) break;
    }
  }
  return out;
}

const valArb = fc.constantFrom('a', 'b', 'c', '', '\x00', '\xff\xfe', 'long-value-xxxxxxxxxxxxxxxx');
const idxArb = fc.integer({ min: -25, max: 25 });

type Op =
  | { t: 'pushBack' | 'pushFront'; v: string; n: number }
  | { t: 'popBack' | 'popFront'; n: number }
  | { t: 'get'; i: number }
  | { t: 'set'; i: number; v: string }
  | { t: 'insertAt'; i: number; v: string }
  | { t: 'removeAt'; i: number }
  | { t: 'insertRel'; pivot: string; v: string; after: boolean }
  | { t: 'range'; a: number; b: number }
  | { t: 'trim'; a: number; b: number }
  | { t: 'lrem'; v: string; count: number }
  | { t: 'lpos'; v: string; rank: number; count: number; maxlen: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constantFrom('pushBack' as const, 'pushFront' as const), v: valArb, n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ t: fc.constantFrom('popBack' as const, 'popFront' as const), n: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ t: fc.constant('get' as const), i: idxArb }),
  fc.record({ t: fc.constant('set' as const), i: idxArb, v: valArb }),
  fc.record({ t: fc.constant('insertAt' as const), i: fc.integer({ min: 0, max: 30 }), v: valArb }),
  fc.record({ t: fc.constant('removeAt' as const), i: idxArb }),
  fc.record({ t: fc.constant('insertRel' as const), pivot: valArb, v: valArb, after: fc.boolean() }),
  fc.record({ t: fc.constant('range' as const), a: idxArb, b: idxArb }),
  fc.record({ t: fc.constant('trim' as const), a: idxArb, b: idxArb }),
  fc.record({ t: fc.constant('lrem' as const), v: valArb, count: fc.integer({ min: -4, max: 4 }) }),
  fc.record({
    t: fc.constant('lpos' as const),
    v: valArb,
    rank: fc.integer({ min: -3, max: 3 }).filter((r) => r !== 0),
    count: fc.integer({ min: 0, max: 3 }),
    maxlen: fc.integer({ min: 0, max: 10 }),
  }),
);

function run(ops: Op[]) {
  const d = new Deque();
  let arr: string[] = [];
  for (const op of ops) {
    switch (op.t) {
      case 'pushBack':
        for (let k = 0; k < op.n; k++) {
          d.pushBack(op.v + k);
          arr.push(op.v + k);
        }
        break;
      case 'pushFront':
        for (let k = 0; k < op.n; k++) {
          d.pushFront(op.v);
          arr.unshift(op.v);
        }
        break;
      case 'popBack':
        for (let k = 0; k < op.n; k++) expect(d.popBack()).toBe(arr.pop());
        break;
      case 'popFront':
        for (let k = 0; k < op.n; k++) expect(d.popFront()).toBe(arr.shift());
        break;
      case 'get':
        expect(d.get(op.i)).toBe(arr.at(op.i));
        break;
      case 'set': {
        const i = op.i < 0 ? op.i + arr.length : op.i;
        const ok = i >= 0 && i < arr.length;
        if (ok) arr[i] = op.v;
        expect(d.set(op.i, op.v)).toBe(ok);
        break;
      }
      case 'insertAt':
        if (op.i <= arr.length) {
          d.insertAt(op.i, op.v);
          arr.splice(op.i, 0, op.v);
        } else expect(() => d.insertAt(op.i, op.v)).toThrow(RangeError);
        break;
      case 'removeAt': {
        const i = op.i < 0 ? op.i + arr.length : op.i;
        const want = i >= 0 && i < arr.length ? arr.splice(i, 1)[0] : undefined;
        expect(d.removeAt(op.i)).toBe(want);
        break;
      }
      case 'insertRel': {
        const i = arr.indexOf(op.pivot);
        if (i >= 0) arr.splice(op.after ? i + 1 : i, 0, op.v);
        expect(d.insertRelative(op.pivot, op.v, op.after)).toBe(i >= 0 ? arr.length : -1);
        break;
      }
      case 'range': {
        const r = norm(arr.length, op.a, op.b);
        const want = r === null ? [] : arr.slice(r[0], r[1] + 1);
        expect(d.range(op.a, op.b)).toEqual(want);
        const seen: string[] = [];
        const idx: number[] = [];
        expect(d.forEachInRange(op.a, op.b, (v, i) => (seen.push(v), idx.push(i)))).toBe(want.length);
        expect(seen).toEqual(want);
        if (r !== null) expect(idx[0]).toBe(r[0]);
        break;
      }
      case 'trim': {
        const r = norm(arr.length, op.a, op.b);
        const before = arr.length;
        arr = r === null ? [] : arr.slice(r[0], r[1] + 1);
        expect(d.trim(op.a, op.b)).toBe(before - arr.length);
        break;
      }
      case 'lrem': {
        let removed = 0;
        if (op.count >= 0) {
          const out: string[] = [];
          for (const x of arr) {
            if (x === op.v && (op.count === 0 || removed < op.count)) removed++;
            else out.push(x);
          }
          arr = out;
        } else {
          const out: string[] = [];
          for (let i = arr.length - 1; i >= 0; i--) {
            if (arr[i] === op.v && removed < -op.count) removed++;
            else out.unshift(arr[i]);
          }
          arr = out;
        }
        expect(d.removeValue(op.v, op.count)).toBe(removed);
        break;
      }
      case 'lpos':
        expect(d.positions(op.v, op.rank, op.count, op.maxlen)).toEqual(modelLpos(arr, op.v, op.rank, op.count, op.maxlen));
        break;
    }
    expect(d.size).toBe(arr.length);
    // Capacity invariant: power of two, >= size, and not more than 4x oversized once large.
    const cap = d.capacity;
    expect(cap & (cap - 1)).toBe(0);
    expect(cap).toBeGreaterThanOrEqual(arr.length);
  }
  expect(d.toArray()).toEqual(arr);
  expect([...d]).toEqual(arr);
  expect(d.peekFront()).toBe(arr[0]);
  expect(d.peekBack()).toBe(arr[arr.length - 1]);
  const bytes = arr.reduce((a, v) => a + ((16 + v.length + 7) & ~7), 0);
  expect(d.estimate()).toBe(64 + d.capacity * 8 + bytes);
}

describe('Deque vs array model', () => {
  it('random operation sequences', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 80 }), run), { numRuns: 600 });
  });

  it('rank 0 is rejected for LPOS', () => {
    expect(() => new Deque(['a']).positions('a', 0)).toThrow(RangeError);
  });

  it('shrinks after large pops and trims', () => {
    const d = new Deque();
    for (let i = 0; i < 10000; i++) d.pushBack('x' + i);
    expect(d.capacity).toBe(16384);
    d.trim(0, 9);
    expect(d.capacity).toBeLessThanOrEqual(64);
    expect(d.toArray()).toEqual(Array.from({ length: 10 }, (_, i) => 'x' + i));
    while (d.size > 0) d.popFront();
    expect(d.capacity).toBe(4);
  });
});
