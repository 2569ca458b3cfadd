/**
 * Numbered databases in cluster mode (Valkey 9 semantics, COMPAT.md section 3) on real 3-node clusters:
 * SELECT within cluster-databases (16 by default, 4 when configured), a key maps to the same slot and
 * node in every db, MOVE and COPY ... DB between dbs, GETKEYSINSLOT/COUNTKEYSINSLOT of the selected db,
 * SWAPDB refused, MOVE / cross-db COPY answered TRYAGAIN while the slot is migrating or importing,
 * MIGRATE with a destination db between cluster nodes, and the SETSLOT NODE hand-off carrying keys of
 * every db. Also ioredis Cluster with a non-zero db (it SELECTs on every node connection).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { keyHashSlot } from '../../common/src/slot';
import { startCluster } from '../helpers/cluster';
import { RawConn, type Reply } from '../helpers/raw-conn';
import {
  beginMigration,
  closeCtx,
  finishMigration,
  keysWhere,
  migrateKeys,
  openCtx,
  slotOwners,
  tagWhere,
  type ClusterCtx,
} from '../helpers/cluster-ops';

const RANGE = { err: 'ERR DB index is out of range' };
const TRYAGAIN = { err: 'TRYAGAIN Multiple keys request during rehashing of slot' };

let ctx: ClusterCtx;
let ownerIdx: number[];
const closers: (() => unknown)[] = [];

async function raw(port: number, db = 0): Promise<RawConn> {
  const c = await RawConn.open(port);
  closers.push(() => c.close());
  if (db !== 0) expect(await c.call('SELECT', String(db))).toBe('OK');
  return c;
}

beforeAll(async () => {
  ctx = await openCtx(await startCluster(3));
  ownerIdx = (await slotOwners(ctx.admin[0]!)).map((p) => ctx.ports.indexOf(p));
});

afterAll(() => {
  for (const c of closers) c();
  closeCtx(ctx);
});

describe('numbered databases in cluster mode (cluster-databases 16, the default)', () => {
  it('SELECT 0..15 works on every node, 16 is out of range; a key routes to the same node in every db', async () => {
    const [k] = keysWhere('sel', 1, (s) => ownerIdx[s] === 1);
    const slot = keyHashSlot(k!);
    for (let i = 0; i < 3; i++) {
      const c = await raw(ctx.ports[i]!);
      expect(await c.call('CONFIG', 'GET', 'cluster-databases')).toEqual(['cluster-databases', '16']);
      for (let db = 0; db < 16; db++) expect(await c.call('SELECT', String(db))).toBe('OK');
      expect(await c.call('SELECT', '16')).toEqual(RANGE);
      expect(await c.call('SELECT', '-1')).toEqual(RANGE);
      // The failed SELECT kept db 15.
      expect(await c.call('CLIENT', 'INFO')).toMatch(/ db=15 /);
      for (const db of ['0', '7', '15']) {
        expect(await c.call('SELECT', db)).toBe('OK');
        const r = await c.call('SET', k!, `v${db}`);
        if (i === 1) expect(r).toBe('OK');
        else expect(r).toEqual({ err: `MOVED ${slot} 127.0.0.1:${ctx.ports[1]}` });
      }
    }
    const c = await raw(ctx.ports[1]!);
    for (const db of ['0', '7', '15']) {
      await c.call('SELECT', db);
      expect(await c.call('GET', k!)).toBe(`v${db}`);
    }
    await c.call('SELECT', '3');
    expect(await c.call('GET', k!)).toBe(null);
  });

  it('MOVE and COPY ... DB between dbs; SWAPDB is refused', async () => {
    const { tag } = tagWhere('mv-', (s) => ownerIdx[s] === 0);
    const [a, b] = [`{${tag}}a`, `{${tag}}b`];
    const c = await raw(ctx.ports[0]!, 3);
    expect(await c.call('RPUSH', a, 'x', 'y')).toBe(2);
    expect(await c.call('PEXPIRE', a, '100000')).toBe(1);
    expect(await c.call('MOVE', a, '5')).toBe(1);
    expect(await c.call('EXISTS', a)).toBe(0);
    expect(await c.call('MOVE', a, '5')).toBe(0);
    expect(await c.call('MOVE', a, '16')).toEqual(RANGE);
    expect(await c.call('SELECT', '5')).toBe('OK');
    expect(await c.call('LRANGE', a, '0', '-1')).toEqual(['x', 'y']);
    expect(Number(await c.call('PTTL', a))).toBeGreaterThan(90_000);
    expect(await c.call('MOVE', a, '5')).toEqual({ err: 'ERR source and destination objects are the same' });
    // COPY into another db, with and without REPLACE.
    expect(await c.call('COPY', a, b, 'DB', '9')).toBe(1);
    expect(await c.call('COPY', a, b, 'DB', '9')).toBe(0);
    expect(await c.call('RPUSH', a, 'z')).toBe(3);
    expect(await c.call('COPY', a, b, 'DB', '9', 'REPLACE')).toBe(1);
    expect(await c.call('COPY', a, b, 'DB', '16')).toEqual(RANGE);
    expect(await c.call('SELECT', '9')).toBe('OK');
    expect(await c.call('LRANGE', b, '0', '-1')).toEqual(['x', 'y', 'z']);
    // A key of another node's slot is redirected whatever the db.
    const [foreign] = keysWhere('mv-f', 1, (s) => ownerIdx[s] === 2);
    expect(await c.call('MOVE', foreign!, '1')).toEqual({ err: `MOVED ${keyHashSlot(foreign!)} 127.0.0.1:${ctx.ports[2]}` });
    // SWAPDB would split a slot's data between dbs across nodes.
    for (const port of ctx.ports) {
      const s = await raw(port);
      expect(await s.call('SWAPDB', '0', '1')).toEqual({ err: 'ERR SWAPDB is not allowed in cluster mode' });
    }
  });

  it('GETKEYSINSLOT, COUNTKEYSINSLOT, DBSIZE and FLUSHDB act on the selected db', async () => {
    const { tag, slot } = tagWhere('gk-', (s) => ownerIdx[s] === 2);
    const c = await raw(ctx.ports[2]!);
    const inDb = (db: number, n: number) => Array.from({ length: n }, (_, i) => `{${tag}}db${db}-${i}`);
    for (const [db, n] of [[0, 3], [4, 2], [11, 5]] as const) {
      await c.call('SELECT', String(db));
      for (const k of inDb(db, n)) expect(await c.call('SET', k, 'v')).toBe('OK');
    }
    for (const [db, n] of [[0, 3], [4, 2], [11, 5], [12, 0]] as const) {
      await c.call('SELECT', String(db));
      expect(await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))).toBe(n);
      expect(((await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[]).sort()).toEqual(inDb(db, n).sort());
      expect(((await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '1')) as string[]).length).toBe(Math.min(1, n));
    }
    await c.call('SELECT', '4');
    const before0 = await ctx.admin[2]!.dbsize();
    expect(await c.call('DBSIZE')).toBe(2);
    expect(await c.call('FLUSHDB')).toBe('OK');
    expect(await c.call('DBSIZE')).toBe(0);
    expect(await ctx.admin[2]!.dbsize()).toBe(before0);
    await c.call('SELECT', '11');
    expect(await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))).toBe(5);
    // Other nodes have nothing of that slot in any db.
    const o = await raw(ctx.ports[0]!, 11);
    expect(await o.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))).toBe(0);
  });

  it('during a migration: MOVE and cross-db COPY get TRYAGAIN, MIGRATE takes a destination db, SETSLOT NODE carries every db', async () => {
    const { tag, slot } = tagWhere('mig-', (s) => ownerIdx[s] === 0);
    const k = (n: string) => `{${tag}}${n}`;
    const src = await raw(ctx.ports[0]!);
    for (const n of ['a', 'b']) expect(await src.call('SET', k(n), `db0-${n}`)).toBe('OK');
    await src.call('SELECT', '4');
    for (const n of ['a', 'c', 'd']) expect(await src.call('SET', k(n), `db4-${n}`)).toBe('OK');
    await src.call('SELECT', '8');
    expect(await src.call('HSET', k('h'), 'f', 'db8')).toBe(1);

    await beginMigration(ctx, slot, 0, 1);
    await src.call('SELECT', '4');
    expect(await src.call('MOVE', k('a'), '5')).toEqual(TRYAGAIN);
    expect(await src.call('COPY', k('a'), k('z'), 'DB', '5')).toEqual(TRYAGAIN);
    expect(await src.call('COPY', k('a'), k('a'), 'DB', '0')).toEqual(TRYAGAIN);
    // Same-db COPY follows the usual rule (all keys here or TRYAGAIN).
    expect(await src.call('COPY', k('a'), k('c'), 'DB', '4', 'REPLACE')).toBe(1);
    expect(await src.call('GET', k('a'))).toBe('db4-a');

    // Inside MULTI, a queued SELECT decides which db the slot's keys are looked up in.
    await src.call('SELECT', '0');
    expect(await src.call('MULTI')).toBe('OK');
    expect(await src.call('SELECT', '4')).toBe('QUEUED');
    expect(await src.call('GET', k('d'))).toBe('QUEUED');
    expect(await src.call('EXEC')).toEqual(['OK', 'db4-d']);
    expect(await src.call('MULTI')).toBe('OK');
    expect(await src.call('SELECT', '0')).toBe('QUEUED');
    // d is not in db 0 here: it may be on the target already, so no nil from the source.
    expect(await src.call('GET', k('d'))).toEqual({ err: `ASK ${slot} 127.0.0.1:${ctx.ports[1]}` });
    expect(await src.call('EXEC')).toEqual({ err: 'EXECABORT Transaction discarded because of previous errors.' });
    await src.call('SELECT', '4');

    // MIGRATE db 4 -> db 4 and db 4 -> db 6 on the target.
    expect(await src.call('MIGRATE', '127.0.0.1', String(ctx.ports[1]), k('a'), '4', '5000')).toBe('OK');
    expect(await src.call('MIGRATE', '127.0.0.1', String(ctx.ports[1]), '', '6', '5000', 'KEYS', k('d'))).toBe('OK');
    expect(await src.call('GET', k('a'))).toEqual({ err: `ASK ${slot} 127.0.0.1:${ctx.ports[1]}` });
    const dst = await raw(ctx.ports[1]!);
    const askGet = async (db: string, key: string): Promise<Reply> => {
      expect(await dst.call('SELECT', db)).toBe('OK');
      expect(await dst.call('ASKING')).toBe('OK');
      return dst.call('GET', key);
    };
    expect(await askGet('4', k('a'))).toBe('db4-a');
    expect(await askGet('6', k('d'))).toBe('db4-d');
    expect(await askGet('4', k('d'))).toBe(null);
    // The target refuses MOVE too, even under ASKING.
    await dst.call('SELECT', '4');
    await dst.call('ASKING');
    expect(await dst.call('MOVE', k('a'), '2')).toEqual(TRYAGAIN);

    // redis-cli style: only db 0 keys are MIGRATEd; SETSLOT NODE moves what is left in every other db.
    await migrateKeys(ctx, slot, 0, 1);
    await finishMigration(ctx, slot, 0, 1);
    const counts = async (r: RawConn, db: string) => {
      await r.call('SELECT', db);
      return r.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot));
    };
    for (const db of ['0', '4', '6', '8']) expect(await counts(src, db)).toBe(0);
    expect([await counts(dst, '0'), await counts(dst, '4'), await counts(dst, '6'), await counts(dst, '8')]).toEqual([2, 2, 1, 1]);
    await dst.call('SELECT', '4');
    expect(await dst.call('MGET', k('a'), k('c'), k('d'))).toEqual(['db4-a', 'db4-a', null]);
    await dst.call('SELECT', '8');
    expect(await dst.call('HGET', k('h'), 'f')).toBe('db8');
    // Stable again: MOVE works at the new owner.
    expect(await dst.call('MOVE', k('h'), '9')).toBe(1);
  });

  it('ioredis Cluster with db 3 reads and writes db 3 on every node', async () => {
    const io = new Cluster([{ host: '127.0.0.1', port: ctx.ports[0]! }], { redisOptions: { db: 3 } });
    closers.push(() => io.disconnect());
    const keys = Array.from({ length: 60 }, (_, i) => `db3:${i}`);
    await Promise.all(keys.map((k) => io.set(k, k)));
    expect(await Promise.all(keys.map((k) => io.get(k)))).toEqual(keys);
    let total = 0;
    for (const port of ctx.ports) {
      const r = new Redis({ port, host: '127.0.0.1', db: 3 });
      closers.push(() => r.disconnect());
      const n = (await r.keys('db3:*')).length;
      expect(n).toBeGreaterThan(0);
      total += n;
      expect(await ctx.admin[ctx.ports.indexOf(port)]!.keys('db3:*')).toEqual([]);
    }
    expect(total).toBe(keys.length);
  });
});

describe('cluster-databases 4', () => {
  let small: ClusterCtx;
  beforeAll(async () => {
    small = await openCtx(await startCluster(3, ['--cluster-databases', '4']));
  });
  afterAll(() => closeCtx(small));

  it('SELECT 0..3 only; MOVE / COPY ... DB bounded by 4; INFO keyspace per db', async () => {
    const owners = (await slotOwners(small.admin[0]!)).map((p) => small.ports.indexOf(p));
    const { tag } = tagWhere('small-', (s) => owners[s] === 1);
    for (const port of small.ports) {
      const c = await raw(port);
      expect(await c.call('CONFIG', 'GET', 'cluster-databases')).toEqual(['cluster-databases', '4']);
      for (let db = 0; db < 4; db++) expect(await c.call('SELECT', String(db))).toBe('OK');
      expect(await c.call('SELECT', '4')).toEqual(RANGE);
      expect(await c.call('SELECT', '15')).toEqual(RANGE);
    }
    const c = await raw(small.ports[1]!, 3);
    expect(await c.call('SET', `{${tag}}k`, 'v')).toBe('OK');
    expect(await c.call('MOVE', `{${tag}}k`, '4')).toEqual(RANGE);
    expect(await c.call('COPY', `{${tag}}k`, `{${tag}}k2`, 'DB', '4')).toEqual(RANGE);
    expect(await c.call('MOVE', `{${tag}}k`, '0')).toBe(1);
    expect(await c.call('COPY', `{${tag}}k`, `{${tag}}k`, 'DB', '0')).toBe(0);
    await c.call('SELECT', '0');
    expect(await c.call('COPY', `{${tag}}k`, `{${tag}}k`, 'DB', '2')).toBe(1);
    const info = (await c.call('INFO', 'keyspace')) as string;
    expect(info).toMatch(/db0:keys=1,/);
    expect(info).toMatch(/db2:keys=1,/);
    expect(info).not.toMatch(/db3:/);
  });
});
