/**
 * Property test: a Db driven with a fake clock (KeyspaceHooks.now) agrees with a naive model of
 * keys-with-deadlines on existence, TTLs, lazy expiry, active-expiry sweeps, SCAN and RANDOMKEY,
 * for random sequences of set / expire / persist / advance-time / get / delete.
 *
 * Operations are applied the way command handlers apply them (a write looks the key up first, which
 * reclaims it if it expired), so this checks the Db contract the keys family relies on.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Db, type KeyspaceHooks } from '../../cluster-node/src/keyspace/db';
import { SLOT_COUNT } from '../../common/src/slot';

const KEYS = ['a', 'b', 'c', 'user:1', '{tag}x', '{tag}y'];

type Op =
  | { op: 'set'; key: string; value: string; ttl: number | null; keepTtl: boolean }
  | { op: 'expire'; key: string; ms: number }
  | { op: 'persist'; key: string }
  | { op: 'advance'; ms: number }
  | { op: 'get'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'sweep' }
  | { op: 'scan'; count: number }
  | { op: 'random' };

const key = fc.constantFrom(...KEYS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.string({ maxLength: 5 }), ttl: fc.option(fc.integer({ min: 1, max: 200 })), keepTtl: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('expire' as const), key, ms: fc.integer({ min: -50, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('persist' as const), key }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 120 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('scan' as const), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'random' as const }) },
);

interface Entry {
  value: string;
  /** Absolute ms deadline, or null for no TTL. */
  at: number | null;
}

class Model {
  readonly m = new Map<string, Entry>();
  constructor(public now: number) {}
  live(k: string): Entry | undefined {
    const e = this.m.get(k);
    if (e === undefined) return undefined;
    // Expired entries stay in the map (so the deadline is known when the Db reports reclaiming them).
    return e.at !== null && e.at <= this.now ? undefined : e;
  }
  liveKeys(): string[] {
    return KEYS.filter((k) => this.live(k) !== undefined).sort();
  }
}

function run(ops: Op[]): void {
  let now = 1_700_000_000_000;
  const expiredByHook: { key: string; at: number }[] = [];
  const model = new Model(now);
  const hooks: KeyspaceHooks = {
    now: () => now,
    expired: (_db, k) => expiredByHook.push({ key: k, at: now }),
    isReplica: false,
  };
  const db = new Db(0, hooks);

  for (const o of ops) {
    // Deadlines the model knows about, to validate what the expired hook reports.
    const deadlines = new Map<string, number | null>();
    for (const [k, e] of model.m) deadlines.set(k, e.at);
    const hookMark = expiredByHook.length;

    switch (o.op) {
      case 'set': {
        const existed = db.get(o.key) !== undefined;
        const prev = model.live(o.key);
        expect(existed).toBe(prev !== undefined);
        db.set(o.key, o.value, o.keepTtl);
        let at = o.keepTtl && prev ? prev.at : null;
        if (o.ttl !== null) {
          at = now + o.ttl;
          db.setExpire(o.key, at);
        }
        model.m.set(o.key, { value: o.value, at });
        break;
      }
      case 'expire': {
        const exists = db.get(o.key) !== undefined;
        const e = model.live(o.key);
        expect(exists).toBe(e !== undefined);
        if (exists && e) {
          const when = now + o.ms;
          if (when <= now) {
            // A past deadline deletes the key right away (EXPIRE with a negative time).
            expect(db.delete(o.key)).toBe(true);
            model.m.delete(o.key);
          } else {
            db.setExpire(o.key, when);
            e.at = when;
          }
        }
        break;
      }
      case 'persist': {
        const e = model.live(o.key);
        const had = db.get(o.key) !== undefined && db.persist(o.key);
        expect(had).toBe(e !== undefined && e.at !== null);
        if (e) e.at = null;
        break;
      }
      case 'advance':
        now += o.ms;
        model.now = now;
        break;
      case 'get': {
        const v = db.get(o.key);
        const e = model.live(o.key);
        expect(v).toBe(e?.value);
        break;
      }
      case 'delete': {
        const exists = db.get(o.key) !== undefined;
        const e = model.live(o.key);
        expect(exists).toBe(e !== undefined);
        if (exists) expect(db.delete(o.key)).toBe(true);
        model.m.delete(o.key);
        break;
      }
      case 'sweep': {
        // What the active expire cycle does: reclaim every key whose deadline passed, unaccessed.
        for (const [k, when] of [...db.expires]) if (when <= now) db.expireNow(k);
        // After a sweep nothing expired is left, so DBSIZE is exact.
        expect(db.size).toBe(model.liveKeys().length);
        break;
      }
      case 'scan': {
        const seen = new Set<string>();
        let cursor = 0;
        let rounds = 0;
        do {
          cursor = db.scan(cursor, o.count, (k) => {
            if (!db.isExpired(k)) seen.add(k);
          });
          expect(++rounds).toBeLessThanOrEqual(SLOT_COUNT);
        } while (cursor !== 0);
        expect([...seen].sort()).toEqual(model.liveKeys());
        break;
      }
      case 'random': {
        const k = db.randomKey();
        const live = model.liveKeys();
        if (live.length === 0) expect(k).toBeNull();
        else expect(live).toContain(k);
        break;
      }
    }

    // Keys reported expired by the hook really had a deadline that had passed.
    for (const { key: k, at } of expiredByHook.slice(hookMark)) {
      const d = deadlines.get(k);
      expect(d === null || d === undefined ? 'no deadline' : d <= at ? 'passed' : 'future').toBe('passed');
    }

    // Full agreement on existence and TTL after every step.
    for (const k of KEYS) {
      const e = model.live(k);
      const expired = db.isExpired(k);
      const present = db.peek(k) !== undefined && !expired;
      expect(present, `exists ${k}`).toBe(e !== undefined);
      if (e !== undefined) {
        const when = db.getExpire(k);
        expect(when === -1 ? null : when, `ttl ${k}`).toBe(e.at);
      }
    }
    // Invariants: every TTL belongs to a stored key; size counts stored keys (expired ones included).
    for (const k of db.expires.keys()) expect(db.peek(k)).toBeDefined();
    let stored = 0;
    for (const k of KEYS) if (db.peek(k) !== undefined) stored++;
    expect(db.size).toBe(stored);
    expect(stored).toBeGreaterThanOrEqual(model.liveKeys().length);
  }
}

describe('Db expiry vs a naive model', () => {
  it('random set/expire/persist/advance/get/delete sequences agree on existence and TTL', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => run(ops)),
      { numRuns: 400 },
    );
  });

  it('lazy expiry reclaims the key and reports it once', () => {
    let now = 1000;
    const expired: string[] = [];
    const db = new Db(0, { now: () => now, expired: (_d, k) => expired.push(k), isReplica: false });
    db.set('k', 'v');
    db.setExpire('k', 1100);
    now = 1099;
    expect(db.get('k')).toBe('v');
    now = 1100;
    expect(db.size).toBe(1);
    expect(db.get('k')).toBeUndefined();
    expect(db.get('k')).toBeUndefined();
    expect(expired).toEqual(['k']);
    expect(db.size).toBe(0);
    expect(db.expires.size).toBe(0);
  });

  it('on a replica expired keys read as missing but stay until the primary deletes them', () => {
    let now = 1000;
    const expired: string[] = [];
    const db = new Db(0, { now: () => now, expired: (_d, k) => expired.push(k), isReplica: true });
    db.set('k', 'v');
    db.setExpire('k', 1001);
    now = 2000;
    expect(db.get('k')).toBeUndefined();
    expect(db.size).toBe(1);
    expect(expired).toEqual([]);
    expect(db.delete('k')).toBe(true);
  });
});
