/**
 * Failover decided by the Raft leader, with real processes: a killed primary's replica takes its
 * slots; a primary cut off from the cluster (bus traffic dropped, clients still connected) stops
 * accepting writes before its replica starts accepting them, and comes back as a replica; so does a
 * primary that had no replica when it was cut off and got one meanwhile.
 * (Data replication is not asserted here: this file checks the control path.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { keyHashSlot } from '../../common/src/slot';
import { cli, createCluster, startClusterNodes, waitClusterOk, waitFor } from '../helpers/cluster';
import { clusterNodes, expandSlots, myself, sleep } from '../helpers/cluster-cli-util';
import type { NodeHandle } from '../helpers/node';

const ARGS = ['--cluster-node-timeout', '1000'];

let nodes: NodeHandle[] = [];
const conns: Redis[] = [];

function conn(port: number): Redis {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  r.on('error', () => undefined);
  conns.push(r);
  return r;
}

/** A key whose slot the node on `port` serves. */
function keyServedBy(port: number, prefix: string): string {
  const slots = new Set(expandSlots(myself(port).slots));
  for (let i = 0; ; i++) if (slots.has(keyHashSlot(`${prefix}${i}`))) return `${prefix}${i}`;
}

const isAlive = (n: NodeHandle): boolean => n.proc.exitCode === null && n.proc.signalCode === null;

/** A live primary serving slots with a healthy replica. */
function primaryWithReplica(): NodeHandle {
  const p = nodes.find((n) => {
    if (!isAlive(n)) return false;
    const me = myself(n.port);
    return me.flags.includes('master') && me.slots.length > 0 && clusterNodes(n.port).some((l) => l.primary === me.id && !l.flags.includes('fail'));
  });
  if (!p) throw new Error('no primary with a live replica');
  return p;
}

function replicaOf(primaryPort: number): NodeHandle {
  const id = myself(primaryPort).id;
  const line = clusterNodes(primaryPort).find((n) => n.primary === id && !n.flags.includes('fail'));
  if (!line) throw new Error(`no replica of ${primaryPort}`);
  return nodes.find((n) => line.addr.startsWith(`127.0.0.1:${n.port}@`))!;
}


beforeAll(async () => {
  nodes = await startClusterNodes(6, ARGS);
  createCluster(nodes, 1);
  await waitClusterOk(nodes.map((n) => n.port));
  // Replicas learn their role from the log; wait until every node shows 3 primaries with a replica each.
  await waitFor('3 replicas', () => clusterNodes(nodes[0]!.port).filter((n) => n.flags.includes('slave')).length === 3);
}, 60_000);

afterAll(() => {
  for (const c of conns) c.disconnect();
});


/**
 * Two writers on one key, neither following redirects: A on the old primary `a` (its last acknowledgement
 * and first CLUSTERDOWN refusal recorded), B on the node `b` that should take over (its first
 * acknowledgement recorded). Split-brain checks compare the two times.
 */
function splitWriters(a: Redis, b: Redis, key: string): { lastAckOld: number; firstAckNew: number; oldRefusal: string; stop(): Promise<void> } {
  let running = true;
  const w = {
    lastAckOld: 0,
    firstAckNew: 0,
    oldRefusal: '',
    async stop(): Promise<void> {
      running = false;
      await Promise.all([writerA, writerB]);
    },
  };
  const writerA = (async () => {
    for (let i = 0; running; i++) {
      const res = await a.set(key, `a${i}`).catch((e: Error) => e.message);
      if (res === 'OK') w.lastAckOld = Date.now();
      else if (!w.oldRefusal && res.startsWith('CLUSTERDOWN')) w.oldRefusal = res;
      await sleep(2);
    }
  })();
  const writerB = (async () => {
    for (let i = 0; running; i++) {
      const res = await b.set(key, `b${i}`).catch((e: Error) => e.message);
      if (res === 'OK' && w.firstAckNew === 0) w.firstAckNew = Date.now();
      await sleep(2);
    }
  })();
  return w;
}

describe('failover', () => {
  it('kill -9 of a primary: its replica takes over its slots and accepts writes', async () => {
    const primary = primaryWithReplica();
    const replica = replicaOf(primary.port);
    const key = keyServedBy(primary.port, 'fo-kill-');
    const slot = keyHashSlot(key);
    const r = conn(replica.port);
    expect(await r.set(key, 'x').catch((e: Error) => e.message)).toMatch(new RegExp(`^MOVED ${slot} `));

    const t0 = Date.now();
    await primary.stop('SIGKILL');
    let firstOk = 0;
    await waitFor('the replica to accept the write', async () => {
      const res = await r.set(key, 'after-failover').catch((e: Error) => e.message);
      if (res === 'OK') firstOk = Date.now();
      return res === 'OK';
    });
    console.log(`failover after kill -9: writes accepted by the new primary ${firstOk - t0} ms after the kill`);
    const view = clusterNodes(replica.port);
    const oldLine = view.find((n) => n.addr.startsWith(`127.0.0.1:${primary.port}@`))!;
    const newLine = view.find((n) => n.flags.includes('myself'))!;
    expect(newLine.flags).toContain('master');
    expect(newLine.slots.length).toBeGreaterThan(0);
    expect(oldLine.flags).toEqual(expect.arrayContaining(['slave', 'fail']));
    expect(oldLine.primary).toBe(newLine.id);
    // Every surviving node agrees.
    const alive = nodes.filter(isAlive);
    await waitFor('agreement', () => alive.every((n) => clusterNodes(n.port).find((l) => l.id === newLine.id)?.flags.includes('master')));
    // The cluster keeps serving every slot.
    for (const n of alive) {
      await waitFor(`cluster_state ok on ${n.port}`, async () => String(await conn(n.port).call('cluster', 'info')).includes('cluster_state:ok'));
    }
  }, 60_000);

  it('a primary cut off from the cluster stops accepting writes before its replica starts, then rejoins as a replica', async () => {
    const primary = primaryWithReplica();
    const replica = replicaOf(primary.port);
    const key = keyServedBy(primary.port, 'fo-part-');
    const p = conn(primary.port);
    const r = conn(replica.port);
    expect(await p.set(key, 'before')).toBe('OK');

    // Writer A talks to the old primary only; writer B to the replica only. Neither follows redirects.
    const w = splitWriters(p, r, key);
    await sleep(300);
    expect(w.lastAckOld).toBeGreaterThan(0);
    expect(await p.call('debug', 'cluster-bus-drop', '1')).toBe('OK');
    await waitFor('the replica to accept writes', () => w.firstAckNew > 0);
    await sleep(300);
    await w.stop();
    console.log(`partition: old primary's last ack ${w.firstAckNew - w.lastAckOld} ms before the new primary's first ack`);
    expect(w.oldRefusal).toMatch(/^CLUSTERDOWN Write refused: this primary lost its lease/);
    expect(w.lastAckOld).toBeLessThan(w.firstAckNew);

    // Heal: the old primary learns the configuration and redirects to the new primary.
    expect(await p.call('debug', 'cluster-bus-drop', '0')).toBe('OK');
    await waitFor('the old primary to become a replica', () => myself(primary.port).flags.includes('slave'));
    expect(myself(primary.port).primary).toBe(myself(replica.port).id);
    const res = await p.set(key, 'x').catch((e: Error) => e.message);
    expect(res).toBe(`MOVED ${keyHashSlot(key)} 127.0.0.1:${replica.port}`);
    await waitFor('the old primary to be marked healthy', () => !clusterNodes(replica.port).find((l) => l.addr.startsWith(`127.0.0.1:${primary.port}@`))!.flags.includes('fail'));
  }, 60_000);

  it('kill -9 of the Raft leader: the survivors elect a new leader, and fail it over when it was a primary', async () => {
    const alive = nodes.filter(isAlive);
    const info = String(await conn(alive[0]!.port).call('cluster', 'info'));
    const leaderId = /raft_leader:(\w+)/.exec(info)![1]!;
    const leader = alive.find((n) => myself(n.port).id === leaderId)!;
    const me = myself(leader.port);
    const replicaLine = clusterNodes(leader.port).find((l) => l.primary === me.id && !l.flags.includes('fail'));
    const wasPrimary = me.flags.includes('master') && me.slots.length > 0 && replicaLine !== undefined;
    const replica = wasPrimary ? replicaOf(leader.port) : null;
    const key = wasPrimary ? keyServedBy(leader.port, 'fo-leader-') : '';
    const t0 = Date.now();
    await leader.stop('SIGKILL');
    const others = alive.filter((n) => n !== leader);
    await waitFor('a new leader among the survivors', async () => {
      const i = String(await conn(others[0]!.port).call('cluster', 'info'));
      const l = /raft_leader:(\w+)/.exec(i)?.[1];
      return l !== undefined && l !== leaderId && others.some((n) => myself(n.port).id === l);
    });
    console.log(`new Raft leader ${Date.now() - t0} ms after killing the old one`);
    if (replica) {
      const r = conn(replica.port);
      await waitFor('the replica to accept writes', async () => (await r.set(key, 'x').catch((e: Error) => e.message)) === 'OK');
      console.log(`failover of the killed leader-primary: writes accepted ${Date.now() - t0} ms after the kill`);
    }
  }, 60_000);

  it('CLUSTER FAILOVER on a replica switches roles once committed (default and FORCE); wrong uses get Redis errors', async () => {
    for (const mode of [[], ['force']]) {
      // Earlier tests leave the configuration settling (old primaries rejoining as replicas): wait for a pair.
      let primary!: NodeHandle;
      let replica!: NodeHandle;
      await waitFor('a primary with a live replica', () => {
        primary = primaryWithReplica();
        replica = replicaOf(primary.port);
        return isAlive(replica) && myself(replica.port).primary === myself(primary.port).id;
      });
      const r = conn(replica.port);
      expect(await r.call('cluster', 'failover', ...mode)).toBe('OK');
      // Replied once applied on the replica itself.
      expect(myself(replica.port).flags).toContain('master');
      await waitFor('the old primary to follow', () => myself(primary.port).primary === myself(replica.port).id);
    }
    const p = conn(primaryWithReplica().port);
    await expect(p.call('cluster', 'failover')).rejects.toThrow('ERR You should send CLUSTER FAILOVER to a replica');
    const anyReplica = nodes.filter(isAlive).find((n) => myself(n.port).flags.includes('slave') && !myself(n.port).flags.includes('fail'))!;
    await expect(conn(anyReplica.port).call('cluster', 'failover', 'bogus')).rejects.toThrow('ERR Invalid CLUSTER FAILOVER option.');
  }, 60_000);
});

// Issue 4: a primary whose configuration lists no replica used to write without a lease. Cut off, it
// cannot learn that a replica was added to its shard, nor that the shard then failed over to it.
describe('a primary without replicas', () => {
  let small: NodeHandle[] = [];

  beforeAll(async () => {
    small = await startClusterNodes(4, ARGS);
    createCluster(small.slice(0, 3));
    await waitClusterOk(small.slice(0, 3).map((n) => n.port));
    // The fourth node joins as a primary without slots: the spare.
    cli(small[3]!.port, 'cluster', 'meet', '127.0.0.1', String(small[0]!.port));
    await waitClusterOk(small.map((n) => n.port));
  }, 60_000);

  it('cut off while a replica is added to its shard: it stops accepting writes before that replica, promoted, starts', async () => {
    const leaderId = /raft_leader:(\w+)/.exec(cli(small[0]!.port, 'cluster', 'info'))![1]!;
    // A primary serving slots that is not the Raft leader (the leader's Raft lease would fence it too).
    const primary = small.slice(0, 3).find((n) => myself(n.port).id !== leaderId)!;
    const spare = small[3]!;
    const primaryId = myself(primary.port).id;
    expect(clusterNodes(primary.port).some((l) => l.primary === primaryId)).toBe(false);
    const key = keyServedBy(primary.port, 'fo-lonely-');
    const p = conn(primary.port);
    const s = conn(spare.port);
    expect(await p.set(key, 'before')).toBe('OK');

    const w = splitWriters(p, s, key);
    await sleep(300);
    expect(w.lastAckOld).toBeGreaterThan(0);
    expect(await p.call('debug', 'cluster-bus-drop', '1')).toBe('OK');
    // Committed by the majority; the cut-off primary does not apply it and still lists no replica.
    expect(await s.call('cluster', 'replicate', primaryId)).toBe('OK');
    await waitFor('the spare, promoted in its place, to accept writes', () => w.firstAckNew > 0, 20_000);
    await sleep(300);
    await w.stop();
    console.log(`replica-less primary cut off: its last ack ${w.firstAckNew - w.lastAckOld} ms before its successor's first ack`);
    expect(w.oldRefusal).toMatch(/^CLUSTERDOWN Write refused: this primary lost its lease/);
    expect(w.lastAckOld).toBeLessThan(w.firstAckNew);

    // Heal: the old primary learns the configuration and follows its successor.
    expect(await p.call('debug', 'cluster-bus-drop', '0')).toBe('OK');
    await waitFor('the old primary to become a replica', () => myself(primary.port).primary === myself(spare.port).id);
    expect(await p.set(key, 'x').catch((e: Error) => e.message)).toBe(`MOVED ${keyHashSlot(key)} 127.0.0.1:${spare.port}`);
  }, 60_000);
});
