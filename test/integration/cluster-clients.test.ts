/**
 * A 3-primary cluster of real cluster-node processes used through the two mainstream cluster clients
 * (ioredis `Cluster`, node-redis `createCluster`) and through raw connections that see every reply byte
 * for byte (COMPAT.md section 1):
 *  - many keys across slots (strings, hashes, lists), hash-tag multi-key commands, pipelines and
 *    transactions within one slot;
 *  - both clients follow MOVED after a slot is moved (SETSLOT IMPORTING/MIGRATING + MIGRATE + SETSLOT NODE
 *    on every node) and ASK while a slot is half migrated;
 *  - exact redirection / error texts: MOVED, ASK, CROSSSLOT, TRYAGAIN, the three CLUSTERDOWN forms;
 *    ASKING lasts one command; READONLY/READWRITE; keyless commands anywhere; MULTI/EXEC across slots and
 *    an EXEC whose slot moved away after queueing (the transaction is discarded, as Redis does);
 *  - regression: CLUSTER RESET HARD on a member must not crash it when peers still address its old id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { keyHashSlot } from '../../common/src/slot';
import { startCluster, startClusterNodes } from '../helpers/cluster';
import { RawConn, type Reply } from '../helpers/raw-conn';
import {
  beginMigration,
  closeCtx,
  finishMigration,
  keysWhere,
  migrateKeys,
  moveSlot,
  openCtx,
  slotOwners,
  tagWhere,
  waitFor,
  type ClusterCtx,
} from '../helpers/cluster-ops';

type NodeRedisCluster = ReturnType<typeof createCluster>;

let ctx: ClusterCtx;
/** Owner index (0..2) per slot, as of the start. */
let ownerIdx: number[];
let io: Cluster;
let nr: NodeRedisCluster;
const raws: RawConn[] = [];

async function raw(port: number): Promise<RawConn> {
  const c = await RawConn.open(port);
  raws.push(c);
  return c;
}

const err = (text: string): Reply => ({ err: text });
const moved = (slot: number, i: number): Reply => err(`MOVED ${slot} 127.0.0.1:${ctx.ports[i]}`);
const ask = (slot: number, i: number): Reply => err(`ASK ${slot} 127.0.0.1:${ctx.ports[i]}`);
const CROSSSLOT = err("CROSSSLOT Keys in request don't hash to the same slot");
const TRYAGAIN = err('TRYAGAIN Multiple keys request during rehashing of slot');

function slotsOf(i: number): (s: number) => boolean {
  return (s) => ownerIdx[s] === i;
}

beforeAll(async () => {
  const nodes = await startCluster(3);
  ctx = await openCtx(nodes);
  const owners = await slotOwners(ctx.admin[0]!);
  ownerIdx = owners.map((p) => ctx.ports.indexOf(p));
  expect(ownerIdx.every((i) => i >= 0)).toBe(true);
  io = new Cluster([{ host: '127.0.0.1', port: ctx.ports[0]! }], {
    slotsRefreshTimeout: 2000,
    retryDelayOnMoved: 0,
    retryDelayOnTryAgain: 50,
    redisOptions: { maxRetriesPerRequest: 3 },
  });
  nr = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port: ctx.ports[1]! } }], maxCommandRedirections: 8 });
  nr.on('error', () => undefined);
  await nr.connect();
});

afterAll(async () => {
  for (const r of raws) r.close();
  io?.disconnect();
  await nr?.close().catch(() => undefined);
  closeCtx(ctx);
});

describe('ioredis Cluster and node-redis createCluster on a 3-node cluster', () => {
  it('ioredis Cluster: strings, hashes, lists across all slots; hash-tag multi-key commands; pipeline and MULTI in one slot', async () => {
    const keys = Array.from({ length: 600 }, (_, i) => `io:str:${i}`);
    await Promise.all(keys.map((k, i) => io.set(k, `v${i}`)));
    expect(await Promise.all(keys.map((k) => io.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
    // The keys really are spread over the three nodes.
    const perNode = [0, 0, 0];
    for (const k of keys) perNode[ownerIdx[keyHashSlot(k)]!]!++;
    expect(perNode.every((n) => n > 100)).toBe(true);
    const sizes = await Promise.all(ctx.admin.map((r) => r.dbsize()));
    for (let i = 0; i < 3; i++) expect(sizes[i]).toBeGreaterThanOrEqual(perNode[i]!);

    for (let i = 0; i < 60; i++) await io.hset(`io:h:${i}`, { f1: `a${i}`, f2: `b${i}` });
    for (let i = 0; i < 60; i++) expect(await io.hgetall(`io:h:${i}`)).toEqual({ f1: `a${i}`, f2: `b${i}` });
    for (let i = 0; i < 60; i++) await io.rpush(`io:l:${i}`, 'x', 'y', String(i));
    for (let i = 0; i < 60; i++) expect(await io.lrange(`io:l:${i}`, 0, -1)).toEqual(['x', 'y', String(i)]);

    // Multi-key commands with a hash tag, on each node's slots.
    for (let n = 0; n < 3; n++) {
      const { tag } = tagWhere(`io-tag${n}-`, slotsOf(n));
      expect(await io.mset(`{${tag}}a`, '1', `{${tag}}b`, '2', `{${tag}}c`, '3')).toBe('OK');
      expect(await io.mget(`{${tag}}a`, `{${tag}}b`, `{${tag}}c`, `{${tag}}none`)).toEqual(['1', '2', '3', null]);
      await io.sadd(`{${tag}}s1`, 'a', 'b', 'c');
      await io.sadd(`{${tag}}s2`, 'b', 'c', 'd');
      expect((await io.sinter(`{${tag}}s1`, `{${tag}}s2`)).sort()).toEqual(['b', 'c']);
      expect(await io.rpoplpush(`{${tag}}lsrc`, `{${tag}}ldst`)).toBe(null);
      expect(await io.del(`{${tag}}a`, `{${tag}}b`)).toBe(2);
      // Pipeline in one slot.
      const p = await io.pipeline().set(`{${tag}}p1`, 'x').incr(`{${tag}}ctr`).incr(`{${tag}}ctr`).get(`{${tag}}p1`).exec();
      expect(p).toEqual([[null, 'OK'], [null, 1], [null, 2], [null, 'x']]);
      // Transaction in one slot.
      const m = await io.multi().set(`{${tag}}m1`, 'y').hset(`{${tag}}mh`, 'f', 'v').lpush(`{${tag}}ml`, 'z').get(`{${tag}}m1`).exec();
      expect(m).toEqual([[null, 'OK'], [null, 1], [null, 1], [null, 'y']]);
    }
    // A pipeline whose keys span slots is refused by ioredis itself, and a cross-slot MSET by the server.
    await expect(io.mset('io:x1', '1', 'io:x2', '2')).rejects.toThrow(/CROSSSLOT Keys in request don't hash to the same slot/);
  });

  it('node-redis createCluster: strings, hashes, lists across all slots; hash-tag multi-key commands; pipeline and MULTI in one slot', async () => {
    const keys = Array.from({ length: 600 }, (_, i) => `nr:str:${i}`);
    await Promise.all(keys.map((k, i) => nr.set(k, `v${i}`)));
    expect(await Promise.all(keys.map((k) => nr.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
    // Values written by one client are read by the other.
    expect(await io.get('nr:str:7')).toBe('v7');
    expect(await nr.get('io:str:9')).toBe('v9');

    for (let i = 0; i < 60; i++) await nr.hSet(`nr:h:${i}`, { f1: `a${i}`, f2: `b${i}` });
    for (let i = 0; i < 60; i++) expect({ ...(await nr.hGetAll(`nr:h:${i}`)) }).toEqual({ f1: `a${i}`, f2: `b${i}` });
    for (let i = 0; i < 60; i++) await nr.rPush(`nr:l:${i}`, ['x', 'y', String(i)]);
    for (let i = 0; i < 60; i++) expect(await nr.lRange(`nr:l:${i}`, 0, -1)).toEqual(['x', 'y', String(i)]);

    for (let n = 0; n < 3; n++) {
      const { tag } = tagWhere(`nr-tag${n}-`, slotsOf(n));
      expect(await nr.mSet([[`{${tag}}a`, '1'], [`{${tag}}b`, '2']])).toBe('OK');
      expect(await nr.mGet([`{${tag}}a`, `{${tag}}b`, `{${tag}}none`])).toEqual(['1', '2', null]);
      expect(await nr.sendCommand(`{${tag}}a`, false, ['DEL', `{${tag}}a`, `{${tag}}b`])).toBe(2);
      const m = await nr.multi().set(`{${tag}}m1`, 'y').incr(`{${tag}}ctr`).get(`{${tag}}m1`).exec();
      expect(m).toEqual(['OK', 1, 'y']);
      const p = await nr.multi().set(`{${tag}}p1`, 'x').incr(`{${tag}}ctr`).get(`{${tag}}p1`).execAsPipeline();
      expect(p).toEqual(['OK', 2, 'x']);
    }
    // node-redis splits MSET/MGET across shards itself (request policy multi_shard); each part is one slot.
    const spread = keysWhere('nr:spread', 3, () => true);
    expect(new Set(spread.map((k) => ownerIdx[keyHashSlot(k)])).size).toBeGreaterThan(1);
    expect(await nr.mSet(spread.map((k) => [k, `s-${k}`] as [string, string]))).toBe('OK');
    expect(await nr.mGet(spread)).toEqual(spread.map((k) => `s-${k}`));
    // A multi-key command without such a policy gets the server's CROSSSLOT.
    await expect(nr.sInter(spread)).rejects.toThrow(/CROSSSLOT Keys in request don't hash to the same slot/);
  });

  it('both clients follow MOVED after a slot is moved with SETSLOT IMPORTING/MIGRATING + MIGRATE + SETSLOT NODE', async () => {
    const { tag, slot } = tagWhere('mv-', slotsOf(0));
    const keys = Array.from({ length: 25 }, (_, i) => `{${tag}}k${i}`);
    for (const k of keys) await io.set(k, `val-${k}`);
    await io.hset(`{${tag}}h`, 'f', 'v');
    await io.rpush(`{${tag}}l`, 'a', 'b');
    // Both clients have the old slot map cached.
    expect(await nr.get(keys[0]!)).toBe(`val-${keys[0]}`);

    await moveSlot(ctx, slot, 0, 1);
    expect(await ctx.admin[0]!.cluster('COUNTKEYSINSLOT', slot)).toBe(0);
    expect(await ctx.admin[1]!.cluster('COUNTKEYSINSLOT', slot)).toBe(keys.length + 2);

    // Every node redirects to the new owner right after its SETSLOT NODE returned.
    for (const i of [0, 2]) {
      const c = await raw(ctx.ports[i]!);
      expect(await c.call('GET', keys[0]!)).toEqual(moved(slot, 1));
    }
    const c1 = await raw(ctx.ports[1]!);
    expect(await c1.call('GET', keys[0]!)).toBe(`val-${keys[0]}`);
    // The exact bytes on the wire.
    const c0 = await raw(ctx.ports[0]!);
    await c0.call('GET', keys[1]!);
    expect(c0.bytes).toBe(`-MOVED ${slot} 127.0.0.1:${ctx.ports[1]}\r\n`);

    // Both clients still on the old map: they get MOVED and follow it.
    expect(await Promise.all(keys.map((k) => io.get(k)))).toEqual(keys.map((k) => `val-${k}`));
    expect(await io.hget(`{${tag}}h`, 'f')).toBe('v');
    expect(await Promise.all(keys.map((k) => nr.get(k)))).toEqual(keys.map((k) => `val-${k}`));
    expect(await nr.lRange(`{${tag}}l`, 0, -1)).toEqual(['a', 'b']);
    // Writes land on the new owner.
    await io.set(`{${tag}}new-io`, '1');
    await nr.set(`{${tag}}new-nr`, '2');
    expect(await ctx.admin[1]!.mget(`{${tag}}new-io`, `{${tag}}new-nr`)).toEqual(['1', '2']);
    expect(await ctx.admin[0]!.cluster('COUNTKEYSINSLOT', slot)).toBe(0);
    // Every node's view agrees.
    for (const r of ctx.admin) expect((await slotOwners(r))[slot]).toBe(ctx.ports[1]);
  });

  it('ASK while a slot is half migrated: moved keys are served by the target after ASKING, the rest by the source', async () => {
    const { tag, slot } = tagWhere('ask-', slotsOf(2));
    const keys = Array.from({ length: 6 }, (_, i) => `{${tag}}k${i}`);
    for (const k of keys) await ctx.admin[2]!.set(k, `v-${k}`);
    const [a, b, c, d] = keys as [string, string, string, string];
    await beginMigration(ctx, slot, 2, 0);
    await migrateKeys(ctx, slot, 2, 0, [a, b]);

    const src = await raw(ctx.ports[2]!);
    const dst = await raw(ctx.ports[0]!);
    const other = await raw(ctx.ports[1]!);
    // Source: keys still here are served, moved or new keys get ASK, a mix gets TRYAGAIN.
    expect(await src.call('GET', c)).toBe(`v-${c}`);
    expect(await src.call('GET', a)).toEqual(ask(slot, 0));
    expect(await src.call('SET', `{${tag}}brand-new`, 'x')).toEqual(ask(slot, 0));
    expect(await src.call('MGET', c, d)).toEqual([`v-${c}`, `v-${d}`]);
    expect(await src.call('MGET', a, b)).toEqual(ask(slot, 0));
    expect(await src.call('MGET', a, c)).toEqual(TRYAGAIN);
    expect(await src.call('DEL', a, c)).toEqual(TRYAGAIN);
    // Target: without ASKING the slot is still the source's.
    expect(await dst.call('GET', a)).toEqual(moved(slot, 2));
    // ASKING lasts exactly one command.
    expect(await dst.call('ASKING')).toBe('OK');
    expect(await dst.call('GET', a)).toBe(`v-${a}`);
    expect(await dst.call('GET', a)).toEqual(moved(slot, 2));
    expect(await dst.call('ASKING')).toBe('OK');
    expect(await dst.call('PING')).toBe('PONG');
    expect(await dst.call('GET', a)).toEqual(moved(slot, 2));
    expect(await dst.call('ASKING')).toBe('OK');
    expect(await dst.call('MGET', a, b)).toEqual([`v-${a}`, `v-${b}`]);
    expect(await dst.call('ASKING')).toBe('OK');
    expect(await dst.call('MGET', a, c)).toEqual(TRYAGAIN);
    // A node outside the migration redirects to the owner of record.
    expect(await other.call('GET', a)).toEqual(moved(slot, 2));
    const askBytes = await raw(ctx.ports[2]!);
    await askBytes.call('GET', b);
    expect(askBytes.bytes).toBe(`-ASK ${slot} 127.0.0.1:${ctx.ports[0]}\r\n`);

    // Both clients: all keys readable whichever side holds them; a new key goes to the target.
    for (const cl of ['io', 'nr'] as const) {
      const vals = cl === 'io' ? await Promise.all(keys.map((k) => io.get(k))) : await Promise.all(keys.map((k) => nr.get(k)));
      expect(vals).toEqual(keys.map((k) => `v-${k}`));
    }
    expect(await io.set(`{${tag}}io-new`, 'n1')).toBe('OK');
    expect(await nr.set(`{${tag}}nr-new`, 'n2')).toBe('OK');
    expect(await ctx.admin[0]!.cluster('GETKEYSINSLOT', slot, 100)).toEqual(expect.arrayContaining([a, b, `{${tag}}io-new`, `{${tag}}nr-new`]));
    expect(((await ctx.admin[2]!.cluster('GETKEYSINSLOT', slot, 100)) as string[]).sort()).toEqual([c, d, keys[4], keys[5]].sort());
    expect(await io.get(`{${tag}}io-new`)).toBe('n1');
    expect(await nr.get(`{${tag}}nr-new`)).toBe('n2');

    // ioredis retries TRYAGAIN: a cross-side MGET issued mid-migration completes once the slot settles.
    const pending = io.mget(a, c);
    await new Promise((r) => setTimeout(r, 120));
    await migrateKeys(ctx, slot, 2, 0);
    await finishMigration(ctx, slot, 2, 0);
    expect(await pending).toEqual([`v-${a}`, `v-${c}`]);
    expect(await Promise.all(keys.map((k) => nr.get(k)))).toEqual(keys.map((k) => `v-${k}`));
    expect(await dst.call('MGET', a, c)).toEqual([`v-${a}`, `v-${c}`]);
    expect(await src.call('GET', a)).toEqual(moved(slot, 0));
  });
});

describe('redirections and errors byte for byte (raw connections)', () => {
  it('MOVED, CROSSSLOT, keyless commands anywhere, READONLY/READWRITE', async () => {
    const [k0] = keysWhere('raw-a', 1, slotsOf(0));
    const [k1] = keysWhere('raw-b', 1, slotsOf(1));
    const c1 = await raw(ctx.ports[1]!);
    const s0 = keyHashSlot(k0!);
    expect(await c1.call('SET', k0!, 'v')).toEqual(moved(s0, 0));
    expect(await c1.call('SET', k1!, 'v')).toBe('OK');
    expect(await c1.call('MSET', k1!, 'a', k0!, 'b')).toEqual(CROSSSLOT);
    expect(await c1.call('MGET', k1!, k0!)).toEqual(CROSSSLOT);
    // Two keys of the same node but different slots are still CROSSSLOT.
    const [x, y] = keysWhere('raw-c', 2, slotsOf(1));
    expect(keyHashSlot(x!)).not.toBe(keyHashSlot(y!));
    expect(await c1.call('DEL', x!, y!)).toEqual(CROSSSLOT);
    c1.bytes = '';
    await c1.call('MGET', k1!, k0!);
    expect(c1.bytes).toBe("-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    for (const port of ctx.ports) {
      const c = await raw(port);
      expect(await c.call('PING')).toBe('PONG');
      expect(await c.call('ECHO', 'hi')).toBe('hi');
      expect(typeof (await c.call('DBSIZE'))).toBe('number');
      expect(await c.call('CLUSTER', 'KEYSLOT', k0!)).toBe(s0);
      expect(Array.isArray(await c.call('TIME'))).toBe(true);
      expect(await c.call('READONLY')).toBe('OK');
      expect(await c.call('READWRITE')).toBe('OK');
      // READONLY on a primary changes nothing for keys of other primaries.
      expect(await c.call('READONLY')).toBe('OK');
      const owner = ownerIdx[s0]!;
      const r = await c.call('GET', k0!);
      if (port === ctx.ports[owner]) expect(r).toBe(null);
      else expect(r).toEqual(moved(s0, owner));
    }
  });

  it('MULTI/EXEC: keys of two slots fail at EXEC (CROSSSLOT) and the transaction is discarded; a queued foreign key is MOVED and EXEC aborts', async () => {
    const [x, y] = keysWhere('tx-a', 2, slotsOf(1));
    const c = await raw(ctx.ports[1]!);
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('SET', x!, '1')).toBe('QUEUED');
    expect(await c.call('SET', y!, '2')).toBe('QUEUED');
    expect(await c.call('EXEC')).toEqual(CROSSSLOT);
    // Redis discards the transaction when EXEC itself is refused by the cluster.
    expect(await c.call('PING')).toBe('PONG');
    expect(await c.call('EXEC')).toEqual(err('ERR EXEC without MULTI'));
    expect(await c.call('MGET', x!)).toEqual([null]);

    const [foreign] = keysWhere('tx-b', 1, slotsOf(2));
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('SET', x!, '1')).toBe('QUEUED');
    expect(await c.call('SET', foreign!, '1')).toEqual(moved(keyHashSlot(foreign!), 2));
    expect(await c.call('EXEC')).toEqual(err('EXECABORT Transaction discarded because of previous errors.'));
    expect(await c.call('GET', x!)).toBe(null);
  });

  it('EXEC after the slot of a queued command moved to another node: MOVED, transaction discarded', async () => {
    const { tag, slot } = tagWhere('txmv-', slotsOf(1));
    const c = await raw(ctx.ports[1]!);
    expect(await c.call('SET', `{${tag}}a`, 'before')).toBe('OK');
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('SET', `{${tag}}a`, 'after')).toBe('QUEUED');
    expect(await c.call('GET', `{${tag}}a`)).toBe('QUEUED');
    await moveSlot(ctx, slot, 1, 2);
    expect(await c.call('EXEC')).toEqual(moved(slot, 2));
    expect(await c.call('EXEC')).toEqual(err('ERR EXEC without MULTI'));
    expect(await ctx.admin[2]!.get(`{${tag}}a`)).toBe('before');
  });

  it('a client blocked (BLPOP, BLMOVE) on a slot that moves away is answered MOVED at once; others stay blocked', async () => {
    const { tag, slot } = tagWhere('blk-', slotsOf(2));
    const [stay] = keysWhere('blk-stay', 1, (s) => ownerIdx[s] === 2 && s !== slot);
    const b1 = await raw(ctx.ports[2]!);
    const b2 = await raw(ctx.ports[2]!);
    const b3 = await raw(ctx.ports[2]!);
    b1.send('BLPOP', `{${tag}}list`, '0');
    b2.send('BLMOVE', `{${tag}}src`, `{${tag}}dst`, 'LEFT', 'RIGHT', '0');
    b3.send('BLPOP', stay!, '0');
    await waitFor('three blocked clients', async () => ((await ctx.admin[2]!.info('clients')) as string).includes('blocked_clients:3'));
    await moveSlot(ctx, slot, 2, 0);
    expect(await b1.next()).toEqual(moved(slot, 0));
    expect(await b2.next()).toEqual(moved(slot, 0));
    // The connection is usable afterwards, and the client blocked elsewhere is untouched.
    expect(await b1.call('PING')).toBe('PONG');
    expect(b3.pending()).toEqual([]);
    expect(await ctx.admin[2]!.rpush(stay!, 'x')).toBe(1);
    expect(await b3.next()).toEqual([stay, 'x']);
  });

  it('CLUSTERDOWN: unassigned slot with full coverage required, Hash slot not served without it, reads-when-down', async () => {
    const [free] = keysWhere('down-a', 1, slotsOf(0));
    const freeSlot = keyHashSlot(free!);
    const [k1] = keysWhere('down-b', 1, slotsOf(1));
    expect(await ctx.admin[0]!.cluster('COUNTKEYSINSLOT', freeSlot)).toBe(0);
    expect(await ctx.admin[1]!.set(k1!, 'kept')).toBe('OK');
    // A client blocked on a served slot is released with the cluster-down error once the cluster fails.
    const blocked = await raw(ctx.ports[1]!);
    blocked.send('BLPOP', keysWhere('down-list', 1, slotsOf(1))[0]!, '0');
    await waitFor('a blocked client', async () => ((await ctx.admin[1]!.info('clients')) as string).includes('blocked_clients:1'));
    expect(await ctx.admin[0]!.cluster('DELSLOTS', freeSlot)).toBe('OK');
    expect(await blocked.next()).toEqual(err('CLUSTERDOWN The cluster is down'));
    await waitFor('all nodes see the slot unassigned', async () => (await Promise.all(ctx.admin.map(slotOwners))).every((o) => o[freeSlot] === 0));
    await waitFor('cluster_state:fail', async () =>
      (await Promise.all(ctx.admin.map((r) => r.cluster('INFO') as Promise<string>))).every((i) => i.includes('cluster_state:fail')),
    );
    const c1 = await raw(ctx.ports[1]!);
    // Full coverage required (default): the whole cluster is down.
    expect(await c1.call('GET', k1!)).toEqual(err('CLUSTERDOWN The cluster is down'));
    expect(await c1.call('SET', k1!, 'x')).toEqual(err('CLUSTERDOWN The cluster is down'));
    expect(await c1.call('GET', free!)).toEqual(err('CLUSTERDOWN Hash slot not served'));
    expect(await c1.call('PING')).toBe('PONG');
    c1.bytes = '';
    await c1.call('GET', k1!);
    expect(c1.bytes).toBe('-CLUSTERDOWN The cluster is down\r\n');

    // cluster-allow-reads-when-down yes: reads served, writes refused.
    expect(await c1.call('CONFIG', 'SET', 'cluster-allow-reads-when-down', 'yes')).toBe('OK');
    expect(await c1.call('GET', k1!)).toBe('kept');
    expect(await c1.call('SET', k1!, 'x')).toEqual(err('CLUSTERDOWN The cluster is down and only accepts read commands'));
    expect(await c1.call('MULTI')).toBe('OK');
    expect(await c1.call('GET', k1!)).toBe('QUEUED');
    expect(await c1.call('EXEC')).toEqual(['kept']);
    expect(await c1.call('CONFIG', 'SET', 'cluster-allow-reads-when-down', 'no')).toBe('OK');

    // cluster-require-full-coverage no (set at runtime): served slots work again, the hole is "not served".
    for (const r of ctx.admin) expect(await r.config('SET', 'cluster-require-full-coverage', 'no')).toBe('OK');
    await waitFor('cluster_state:ok without full coverage', async () =>
      (await Promise.all(ctx.admin.map((r) => r.cluster('INFO') as Promise<string>))).every((i) => i.includes('cluster_state:ok')),
    3000);
    expect(await c1.call('GET', k1!)).toBe('kept');
    expect(await c1.call('SET', k1!, 'again')).toBe('OK');
    expect(await c1.call('GET', free!)).toEqual(err('CLUSTERDOWN Hash slot not served'));
    c1.bytes = '';
    await c1.call('SET', free!, 'v');
    expect(c1.bytes).toBe('-CLUSTERDOWN Hash slot not served\r\n');
    // Clients: keys elsewhere still work.
    expect(await io.get(k1!)).toBe('again');
    expect(await nr.get(k1!)).toBe('again');

    // Restore full coverage.
    for (const r of ctx.admin) await r.config('SET', 'cluster-require-full-coverage', 'yes');
    expect(await ctx.admin[0]!.cluster('ADDSLOTS', freeSlot)).toBe('OK');
    await waitFor('cluster_state:ok again', async () =>
      (await Promise.all(ctx.admin.map((r) => r.cluster('INFO') as Promise<string>))).every((i) => i.includes('cluster_state:ok')),
    );
    expect(await io.set(free!, 'back')).toBe('OK');
    expect(await ctx.admin[0]!.get(free!)).toBe('back');
  });
});

describe('regressions', () => {
  it('CLUSTER RESET HARD on a member does not crash it while peers still send Raft messages to its old id', async () => {
    const [extra] = await startClusterNodes(1);
    const r = new Redis({ port: extra!.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      const oldId = (await r.cluster('MYID')) as string;
      expect(await r.cluster('MEET', '127.0.0.1', ctx.ports[0]!)).toBe('OK');
      await waitFor('the new node is known everywhere', async () =>
        (await Promise.all(ctx.admin.map((a) => a.cluster('NODES') as Promise<string>))).every((n) => n.includes(oldId)),
      );
      await waitFor('the new node has the cluster config', async () => ((await r.cluster('INFO')) as string).includes('cluster_known_nodes:4'));
      expect(await r.cluster('RESET', 'HARD')).toBe('OK');
      // Peers keep sending to the old id at this address for a while.
      await new Promise((res) => setTimeout(res, 1500));
      expect(extra!.proc.exitCode).toBe(null);
      expect(await r.ping()).toBe('PONG');
      expect((await r.cluster('MYID')) as string).not.toBe(oldId);
      // Clean up: the cluster forgets the old node and keeps working.
      for (const a of ctx.admin) expect(await a.cluster('FORGET', oldId)).toBe('OK');
      expect(await io.set('after-reset', '1')).toBe('OK');
    } finally {
      r.disconnect();
    }
  });
});
