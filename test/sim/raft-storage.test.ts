/**
 * MemoryStorage against a naive model (fast-check): appends that overwrite a suffix, compaction and
 * snapshot installs keep firstIndex/lastIndex/term/entries consistent with "a snapshot point followed
 * by a plain array of entries".
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorage, type Entry, type Snapshot } from '../../cluster-node/src/raft';

type Op =
  | { kind: 'append'; back: number; count: number; term: number }
  | { kind: 'compact'; back: number }
  | { kind: 'snapshot'; ahead: number; term: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), back: fc.nat(6), count: fc.integer({ min: 1, max: 5 }), term: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ kind: fc.constant('compact' as const), back: fc.nat(6) }),
  fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.nat(6), term: fc.integer({ min: 1, max: 9 }) }),
);

function snap(index: number, term: number): Snapshot {
  return { meta: { index, term, confState: { voters: ['a'], learners: [] } }, data: `s${index}` };
}

describe('MemoryStorage', () => {
  it('behaves like a snapshot point plus an array of entries', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const s = new MemoryStorage();
        let snapIndex = 0;
        let snapTerm = 0;
        let model: Entry[] = []; // entries after the snapshot point
        const last = () => snapIndex + model.length;
        for (const o of ops) {
          if (o.kind === 'append') {
            const from = Math.max(snapIndex + 1, last() + 1 - o.back);
            const ents: Entry[] = Array.from({ length: o.count }, (_, k) => ({
              index: from + k,
              term: o.term,
              type: 'normal',
              data: `${from + k}/${o.term}`,
            }));
            s.append(ents);
            model = model.slice(0, from - snapIndex - 1).concat(ents);
          } else if (o.kind === 'compact') {
            const index = last() - o.back;
            if (index <= snapIndex) continue;
            const term = model[index - snapIndex - 1]!.term;
            s.compact(snap(index, term));
            model = model.slice(index - snapIndex);
            snapIndex = index;
            snapTerm = term;
          } else {
            const index = last() + o.ahead;
            if (index < snapIndex) continue;
            s.applySnapshot(snap(index, o.term));
            snapIndex = index;
            snapTerm = o.term;
            model = [];
          }
          expect(s.firstIndex()).toBe(snapIndex + 1);
          expect(s.lastIndex()).toBe(last());
          expect(s.term(snapIndex)).toBe(snapTerm);
          expect(s.term(snapIndex - 1)).toBeUndefined();
          expect(s.term(last() + 1)).toBeUndefined();
          expect(s.entries(snapIndex + 1, last() + 1)).toEqual(model);
          expect(s.snapshot().meta.index).toBe(snapIndex);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('bootstrap writes a committed conf entry naming the founding voters', () => {
    const s = MemoryStorage.bootstrap(['n1', 'n2', 'n3']);
    expect(s.hardState()).toEqual({ term: 1, vote: null, commit: 1 });
    expect(s.entries(1, 2)).toEqual([
      { index: 1, term: 1, type: 'conf', data: JSON.stringify({ type: 'bootstrap', voters: ['n1', 'n2', 'n3'] }) },
    ]);
  });
});
