/**
 * RDB files (persistence/rdb.ts) and incremental copy-on-write snapshots (persistence/snapshot.ts),
 * in-process: round trips of every type in several dbs with TTLs, checksum and corruption detection,
 * and snapshots that stay equal to the dataset at their start while the dataset changes under them
 * (slot-level copy-on-write, FLUSHDB dropping slots, SWAPDB finishing dbs), each slot written once.
 */
import { describe, expect, it } from 'vitest';
import { Db, type KeyspaceHooks } from '../../cluster-node/src/keyspace/db';
import { HashValue, SetValue, type Value } from '../../cluster-node/src/keyspace/values';
import { listItems, makeList, makeZSet, zsetForEach } from '../../cluster-node/src/keyspace/serialize';
import { loadRdb, RdbLoadError, standardAux, writeRdb } from '../../cluster-node/src/persistence/rdb';
import { RdbSnapshot, activeSnapshots } from '../../cluster-node/src/persistence/snapshot';
import { Server } from '../../cluster-node/src/server/server';
import { Config } from '../../cluster-node/src/server/config';
import { COMMANDS } from '../../common/src/commands/table';
import { keyHashSlot } from '../../common/src/slot';
import type { Client } from '../../cluster-node/src/server/client';

const hooks: KeyspaceHooks = { now: () => Date.now(), expired: () => undefined, isReplica: false };
const freshDbs = (n: number): Db[] => Array.from({ length: n }, (_, i) => new Db(i, hooks));

function view(v: Value): unknown {
  if (typeof v === 'string') return v;
  switch (v.type) {
    case 'hash':
      return { hash: [...(v as HashValue).map].sort() };
    case 'set':
      return { set: [...(v as SetValue).set].sort() };
    case 'list':
      return { list: listItems(v) };
    case 'zset': {
      const out: [string, number][] = [];
      zsetForEach(v, (m, s) => out.push([m, s]));
      return { zset: out };
    }
  }
}

/** Every db as {key: [value view, expire]}. */
function dump(dbs: Db[]): Record<string, unknown>[] {
  return dbs.map((db) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of db.entries()) o[k] = [view(v), db.getExpire(k)];
    return o;
  });
}

function put(db: Db, key: string, v: Value, expire = -1): void {
  db.set(key, v);
  if (typeof v !== 'string') db.account(key, v);
  if (expire !== -1) db.setExpire(key, expire);
}

function fill(dbs: Db[], n: number): void {
  const bin = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
  for (const d of [0, 1, 5]) {
    const db = dbs[d];
    for (let i = 0; i < n; i++) {
      put(db, `str:${i}`, i % 3 === 0 ? String(i * 7919) : `value-${i}-${bin.slice(i % 200, (i % 200) + 20)}`);
      if (i % 10 === 0) put(db, `ttl:${i}`, 'x', Date.now() + 100_000 + i);
    }
    const h = new HashValue();
    for (let i = 0; i < 300; i++) h.map.set(`f${i}`, `v${i}`);
    put(db, 'hash', h, Date.now() + 50_000);
    const s = new SetValue();
    for (let i = 0; i < 50; i++) s.set.add(String(i - 25));
    put(db, 'intset', s);
    put(db, 'list', makeList(Array.from({ length: 1000 }, (_, i) => `item${i}`)));
    put(db, 'zset', makeZSet(['a', 'b', 'c', 'inf', 'ninf'], [1.5, -2, 1e300, Infinity, -Infinity]));
    put(db, bin, bin);
  }
}

describe('RDB write / load', () => {
  it('round-trips every type in several dbs with TTLs', () => {
    const a = freshDbs(8);
    fill(a, 500);
    const file = writeRdb(a, standardAux(12345, { streamDb: 0, replId: 'a'.repeat(40), offset: 77 }));
    expect(file.latin1Slice(0, 9)).toBe('REDIS0010');
    const b = freshDbs(8);
    const res = loadRdb(file, b, { dropExpired: false, now: Date.now() });
    expect(res.aux.get('repl-offset')).toBe('77');
    expect(res.aux.get('repl-id')).toBe('a'.repeat(40));
    expect(res.keys).toBe(a.reduce((n, db) => n + db.size, 0));
    expect(dump(b)).toEqual(dump(a));
  });

  it('drops expired keys only when asked to (a primary loading its file), keeps them on replicas', () => {
    const a = freshDbs(2);
    put(a[0], 'gone', 'x', Date.now() - 1000);
    put(a[0], 'kept', 'y');
    const file = writeRdb(a, standardAux(0));
    const p = freshDbs(2);
    expect(loadRdb(file, p, { dropExpired: true, now: Date.now() }).skipped).toBe(1);
    expect(p[0].size).toBe(1);
    const r = freshDbs(2);
    loadRdb(file, r, { dropExpired: false, now: Date.now() });
    expect(r[0].size).toBe(2);
  });

  it('detects a wrong checksum, truncation, a bad signature and too many dbs', () => {
    const a = freshDbs(6);
    fill(a, 20);
    const file = writeRdb(a, standardAux(0));
    const bad = Buffer.from(file);
    bad[40] ^= 0xff;
    expect(() => loadRdb(bad, freshDbs(8), { dropExpired: false, now: 0 })).toThrow(RdbLoadError);
    expect(() => loadRdb(file.subarray(0, file.length - 20), freshDbs(8), { dropExpired: false, now: 0 })).toThrow(RdbLoadError);
    expect(() => loadRdb(Buffer.from('RADIS0010'), freshDbs(8), { dropExpired: false, now: 0 })).toThrow(/signature/);
    expect(() => loadRdb(file, freshDbs(2), { dropExpired: false, now: 0 })).toThrow(/databases/);
    // A zero checksum is accepted (rdbchecksum no).
    const zero = Buffer.from(file);
    zero.fill(0, zero.length - 8);
    expect(() => loadRdb(zero, freshDbs(8), { dropExpired: false, now: 0 })).not.toThrow();
  });
});

describe('incremental snapshot with slot copy-on-write', () => {
  function server(): Server {
    return new Server(new Config());
  }
  const fakeClient = (s: Server, db: number): Client => ({ server: s, dbIndex: db, db: s.dbs[db] }) as unknown as Client;

  it('equals the dataset at its start while keys change, are deleted, created and flushed', () => {
    const s = server();
    fill(s.dbs, 2000);
    const t0 = dump(s.dbs);
    const chunks: Buffer[] = [];
    const snap = new RdbSnapshot(s, standardAux(0), (b) => chunks.push(b));
    expect(s.beforeWrite).not.toBeNull();
    let rounds = 0;
    let i = 0;
    const set = COMMANDS.get('set')!;
    const del = COMMANDS.get('del')!;
    while (!snap.step(2000, 50)) {
      rounds++;
      // Writes through the hook, as dispatch does before running a write command.
      for (let k = 0; k < 20; k++, i++) {
        const key = `str:${(i * 37) % 2000}`;
        s.beforeWrite!(fakeClient(s, 0), set, ['SET', key, 'changed']);
        s.dbs[0].set(key, `changed-${i}`);
        const gone = `str:${(i * 53) % 2000}`;
        s.beforeWrite!(fakeClient(s, 1), del, ['DEL', gone]);
        s.dbs[1].delete(gone);
        s.beforeWrite!(fakeClient(s, 5), set, ['SET', `new:${i}`, 'x']);
        s.dbs[5].set(`new:${i}`, 'x');
      }
    }
    expect(rounds).toBeGreaterThan(3);
    expect(activeSnapshots(s)).toBe(0);
    expect(s.beforeWrite).toBeNull();
    const loaded = freshDbs(16);
    loadRdb(Buffer.concat(chunks), loaded, { dropExpired: false, now: Date.now() });
    expect(dump(loaded)).toEqual(t0);
  });

  it('FLUSHDB drops the slots not written yet; SWAPDB writes both dbs first', () => {
    const s = server();
    fill(s.dbs, 2000);
    const t0 = dump(s.dbs);
    const chunks: Buffer[] = [];
    const snap = new RdbSnapshot(s, standardAux(0), (b) => chunks.push(b));
    snap.step(3000, 50);
    s.beforeWrite!(fakeClient(s, 1), COMMANDS.get('swapdb')!, ['SWAPDB', '1', '5']);
    s.dbs[1].swapWith(s.dbs[5]);
    s.beforeWrite!(fakeClient(s, 0), COMMANDS.get('flushdb')!, ['FLUSHDB']);
    s.dbs[0].flush();
    while (!snap.step(1 << 20, 50));
    const loaded = freshDbs(16);
    loadRdb(Buffer.concat(chunks), loaded, { dropExpired: false, now: Date.now() });
    const got = dump(loaded);
    // db 0 was flushed mid-snapshot: what was written before the flush is a subset of T0's db 0.
    for (const [k, v] of Object.entries(got[0])) expect(t0[0][k]).toEqual(v);
    expect(Object.keys(got[0]).length).toBeLessThan(Object.keys(t0[0]).length);
    expect(got.slice(1)).toEqual(t0.slice(1));
  });

  it('copy-on-write writes a touched slot once, before the sequential pass reaches it', () => {
    const s = server();
    put(s.dbs[0], 'a', '1');
    put(s.dbs[0], 'zzz', '2');
    const chunks: Buffer[] = [];
    const snap = new RdbSnapshot(s, standardAux(0), (b) => chunks.push(b));
    snap.touch(0, keyHashSlot('zzz'));
    s.dbs[0].set('zzz', 'changed');
    snap.touch(0, keyHashSlot('zzz'));
    while (!snap.step(1 << 20, 50));
    const loaded = freshDbs(16);
    loadRdb(Buffer.concat(chunks), loaded, { dropExpired: false, now: Date.now() });
    expect(loaded[0].peek('zzz')).toBe('2');
    expect(loaded[0].peek('a')).toBe('1');
  });
});
