/**
 * Property test: the Db's two structures (one table of every key's value, and the per-slot key index
 * behind COUNTKEYSINSLOT, GETKEYSINSLOT, SCAN's slot cursor, snapshots and slot migration) agree with
 * a naive model of a key -> value map, for random sequences of set / overwrite / delete /
 * delete-slot / flush / swap-with-another-db.
 *
 * Keys come from a small pool where several share a slot through hash tags, so slots fill up,
 * empty and refill; after every step each observable view of the Db is compared with the model.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Db, type KeyspaceHooks } from '../../cluster-node/src/keyspace/db';
import { KEY_OVERHEAD, strBytes } from '../../cluster-node/src/keyspace/values';
import { keyHashSlot } from '../../common/src/slot';

const KEYS = ['a', 'b', 'c', 'user:1', 'user:2', '{t}1', '{t}2', '{t}3', '{u}x', '{u}y', 'k'.repeat(40)];
const SLOTS = [...new Set(KEYS.map(keyHashSlot))];

type Op =
  | { op: 'set'; db: 0 | 1; key: string; value: string }
  | { op: 'delete'; db: 0 | 1; key: string }
  | { op: 'deleteSlot'; db: 0 | 1; slot: number }
  | { op: 'flush'; db: 0 | 1 }
  | { op: 'swap' };

const dbArb = fc.constantFrom(0 as const, 1 as const);
const key = fc.constantFrom(...KEYS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('set' as const), db: dbArb, key, value: fc.string({ maxLength: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), db: dbArb, key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteSlot' as const), db: dbArb, slot: fc.constantFrom(...SLOTS) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const), db: dbArb }) },
  { weight: 1, arbitrary: fc.constant({ op: 'swap' as const }) },
);

const hooks: KeyspaceHooks = { now: () => 1_000_000, expired: () => {}, isReplica: false };

function check(db: Db, model: Map<string, string>): void {
  expect(db.size).toBe(model.size);
  expect([...db.keys()].sort()).toEqual([...model.keys()].sort());
  expect(new Map(db.entries())).toEqual(model);
  for (const k of KEYS) expect(db.peek(k)).toBe(model.get(k));
  let used = 0;
  for (const [k, v] of model) used += KEY_OVERHEAD + strBytes(k.length) + strBytes(v.length);
  expect(db.used).toBe(used);
  for (const slot of SLOTS) {
    const inSlot = [...model.keys()].filter((k) => keyHashSlot(k) === slot).sort();
    expect(db.countKeysInSlot(slot)).toBe(inSlot.length);
    expect([...db.keysInSlot(slot, 100)].sort()).toEqual(inSlot);
    expect([...(db.slotKeys(slot) ?? [])].sort()).toEqual(inSlot);
    if (inSlot.length > 0) expect(db.keysInSlot(slot, 1)).toHaveLength(1);
  }
  // A full SCAN (any COUNT) returns every key exactly once, each with its value.
  const seen = new Map<string, string>();
  let cursor = 0;
  do {
    cursor = db.scan(cursor, 2, (k) => {
      expect(seen.has(k)).toBe(false);
      seen.set(k, db.peek(k) as string);
    });
  } while (cursor !== 0);
  expect(seen).toEqual(model);
  const r = db.randomKey();
  if (model.size === 0) expect(r).toBeNull();
  else expect(model.has(r!)).toBe(true);
}

function run(ops: Op[]): void {
  const dbs = [new Db(0, hooks), new Db(1, hooks)];
  const models = [new Map<string, string>(), new Map<string, string>()];
  for (const o of ops) {
    switch (o.op) {
      case 'set':
        dbs[o.db].set(o.key, o.value);
        models[o.db].set(o.key, o.value);
        break;
      case 'delete':
        expect(dbs[o.db].delete(o.key)).toBe(models[o.db].delete(o.key));
        break;
      case 'deleteSlot': {
        const m = models[o.db];
        const inSlot = [...m.keys()].filter((k) => keyHashSlot(k) === o.slot);
        for (const k of inSlot) m.delete(k);
        expect(dbs[o.db].deleteSlot(o.slot)).toBe(inSlot.length);
        break;
      }
      case 'flush':
        expect(dbs[o.db].flush()).toBe(models[o.db].size);
        models[o.db].clear();
        break;
      case 'swap':
        dbs[0].swapWith(dbs[1]);
        models.reverse();
        break;
    }
    check(dbs[0], models[0]);
    check(dbs[1], models[1]);
  }
}

describe('Db table and per-slot key index', () => {
  it('agree with a naive map under random set/delete/deleteSlot/flush/swap', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => run(ops)),
      { numRuns: 300 },
    );
  });

  it('keep a slot empty after its last key goes, and refill it', () => {
    const db = new Db(0, hooks);
    db.set('{t}1', 'x');
    db.set('{t}2', 'y');
    const slot = keyHashSlot('{t}1');
    expect(db.deleteSlot(slot)).toBe(2);
    expect(db.slotKeys(slot)).toBeUndefined();
    expect(db.size).toBe(0);
    db.set('{t}3', 'z');
    expect([...db.slotKeys(slot)!]).toEqual(['{t}3']);
  });
});
