/**
 * min-replicas-ack N (write safety), with real processes.
 * Standalone: a primary with two replicas (REPLICAOF) and N = 1: a write's reply comes only once a
 * replica has it; with both replicas stopped (SIGSTOP) a write gets the timeout error after the bound
 * (max(1000, 2 x cluster-node-timeout) = 2000 ms here) while other clients are served; with both
 * replicas gone writes are refused at once; N = 0 replies at once; pipelines keep their order.
 * Cluster: 3 primaries + 3 replicas with N = 1: kill -9 of a primary under a writer loses no
 * acknowledged write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { keyHashSlot } from '../../common/src/slot';
import { startNode, type NodeHandle } from '../helpers/node';
import { createCluster, startClusterNodes, waitClusterOk, waitFor } from '../helpers/cluster';
import { clusterNodes, expandSlots, myself, sleep } from '../helpers/cluster-cli-util';

const HOST = '127.0.0.1';
const TIMEOUT_ERR = /^NOREPLICAS Write applied locally but not acknowledged by 1 replicas in time; it may be lost on failover/;

const conns: Redis[] = [];
function conn(port: number): Redis {
  const r = new Redis({ port, host: HOST, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  r.on('error', () => undefined);
  conns.push(r);
  return r;
}
afterAll(() => {
  for (const c of conns) c.disconnect();
});


const errOf = (p: Promise<unknown>): Promise<unknown> => p.catch((e: Error) => e.message);

describe('standalone primary with two replicas, min-replicas-ack 1', () => {
  let P: NodeHandle;
  let R1: NodeHandle;
  let R2: NodeHandle;
  let p: Redis;
  let r1: Redis;
  let r2: Redis;

  beforeAll(async () => {
    P = await startNode(['--min-replicas-ack', '1', '--cluster-node-timeout', '1000']);
    R1 = await startNode();
    R2 = await startNode();
    p = conn(P.port);
    r1 = conn(R1.port);
    r2 = conn(R2.port);
    // No replica yet: writes are refused without being executed.
    expect(await errOf(p.set('before', '1'))).toBe('NOREPLICAS Not enough good replicas to write.');
    expect(await p.exists('before')).toBe(0);
    await r1.replicaof(HOST, String(P.port));
    await r2.replicaof(HOST, String(P.port));
    await waitFor('2 online replicas', async () => ((await p.info('replication')).match(/state=online/g) ?? []).length === 2);
  }, 20_000);

  it('a write is on a replica when its reply arrives', async () => {
    for (let i = 0; i < 100; i++) {
      expect(await p.set(`k${i}`, `v${i}`)).toBe('OK');
      const [a, b] = await Promise.all([r1.get(`k${i}`), r2.get(`k${i}`)]);
      expect(a === `v${i}` || b === `v${i}`).toBe(true);
    }
    // MULTI/EXEC counts as one write.
    expect(await p.multi().set('tx1', 'a').incr('tx2').exec()).toEqual([
      [null, 'OK'],
      [null, 1],
    ]);
    const [a, b] = await Promise.all([r1.mget('tx1', 'tx2'), r2.mget('tx1', 'tx2')]);
    expect(a.join() === 'a,1' || b.join() === 'a,1').toBe(true);
  });

  it('pipelined writes and reads keep their order', async () => {
    const pl = p.pipeline();
    for (let i = 0; i < 50; i++) pl.set('pk', String(i)).get('pk').incr('pn').get('pn');
    const res = (await pl.exec())!;
    for (let i = 0; i < 50; i++) {
      expect(res[4 * i]).toEqual([null, 'OK']);
      expect(res[4 * i + 1]).toEqual([null, String(i)]);
      expect(res[4 * i + 2]).toEqual([null, i + 1]);
      expect(res[4 * i + 3]).toEqual([null, String(i + 1)]);
    }
  });

  it('replicas stopped: N = 0 replies at once; N = 1 times out after the bound, holding only that client', async () => {
    R1.proc.kill('SIGSTOP');
    R2.proc.kill('SIGSTOP');
    try {
      await p.config('SET', 'min-replicas-ack', '0');
      let t0 = Date.now();
      expect(await p.set('async', '1')).toBe('OK');
      expect(Date.now() - t0).toBeLessThan(500);

      await p.config('SET', 'min-replicas-ack', '1');
      const other = conn(P.port);
      await other.ping();
      const order: string[] = [];
      t0 = Date.now();
      const held = p.set('stopped', 'x').then(
        (r) => (order.push('set'), r),
        (e: Error) => (order.push('set'), e.message),
      );
      const readAfter = p.get('stopped').then((r) => (order.push('get'), r));
      // Another client is not held: its read sees the (locally applied) write at once.
      await sleep(100);
      const t1 = Date.now();
      expect(await other.get('stopped')).toBe('x');
      expect(Date.now() - t1).toBeLessThan(500);
      expect(order).toEqual([]);
      expect(await held).toMatch(TIMEOUT_ERR);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(1900);
      expect(took).toBeLessThan(4000);
      expect(await readAfter).toBe('x');
      expect(order).toEqual(['set', 'get']);
    } finally {
      R1.proc.kill('SIGCONT');
      R2.proc.kill('SIGCONT');
    }
  }, 15_000);

  it('replicas gone: writes are refused at once, reads still served', async () => {
    await R1.stop('SIGKILL');
    await R2.stop('SIGKILL');
    await waitFor('replicas dropped', async () => (await p.info('replication')).includes('connected_slaves:0'));
    const t0 = Date.now();
    expect(await errOf(p.set('gone', '1'))).toBe('NOREPLICAS Not enough good replicas to write.');
    expect(Date.now() - t0).toBeLessThan(500);
    expect(await p.exists('gone')).toBe(0);
    expect(await p.get('k1')).toBe('v1');
    await p.config('SET', 'min-replicas-ack', '0');
    expect(await p.set('gone', '1')).toBe('OK');
  });
});

describe('cluster, 3 primaries + 3 replicas, min-replicas-ack 1', () => {
  let nodes: NodeHandle[] = [];

  beforeAll(async () => {
    nodes = await startClusterNodes(6, ['--min-replicas-ack', '1']);
    createCluster(nodes, 1);
    await waitClusterOk(nodes.map((n) => n.port));
    await waitFor('3 replicas', () => clusterNodes(nodes[0]!.port).filter((n) => n.flags.includes('slave')).length === 3);
  }, 30_000);

  it('kill -9 of a primary under writes: every acknowledged write is on the promoted replica', async () => {
    const primary = nodes.find((n) => myself(n.port).flags.includes('master') && myself(n.port).slots.length > 0)!;
    const pid = myself(primary.port).id;
    const rline = clusterNodes(primary.port).find((l) => l.primary === pid)!;
    const replica = nodes.find((n) => rline.addr.startsWith(`127.0.0.1:${n.port}@`))!;
    const slots = new Set(expandSlots(myself(primary.port).slots));
    const p = conn(primary.port);
    // The replica syncs after CLUSTER REPLICATE: wait until writes are accepted.
    let probe = 'probe0';
    for (let i = 1; !slots.has(keyHashSlot(probe)); i++) probe = `probe${i}`;
    await waitFor('writes accepted', async () => (await errOf(p.set(probe, '1'))) === 'OK');

    const acked = new Map<string, string>();
    let stop = false;
    let refused = 0;
    const writers = [0, 1, 2, 3].map(async (wi) => {
      for (let i = 0; !stop; i++) {
        let key = '';
        for (let j = i; ; j++) {
          const k = `w${wi}:${j}`;
          if (slots.has(keyHashSlot(k))) {
            key = k;
            i = j;
            break;
          }
        }
        const val = `${wi}-${i}-${Date.now()}`;
        const res = await errOf(p.set(key, val));
        if (res === 'OK') acked.set(key, val);
        else if (typeof res === 'string' && res.startsWith('NOREPLICAS')) refused++;
        else if (res !== 'OK') return; // connection gone
      }
    });
    await sleep(1000);
    await primary.stop('SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(acked.size).toBeGreaterThan(50);

    await waitFor('the replica to become primary', () => myself(replica.port).flags.includes('master') && myself(replica.port).slots.length > 0, 20_000);
    const r = conn(replica.port);
    const keys = [...acked.keys()];
    const lost: string[] = [];
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const vals = await Promise.all(chunk.map((k) => r.get(k)));
      chunk.forEach((k, j) => {
        if (vals[j] !== acked.get(k)) lost.push(k);
      });
    }
    console.log(`min-replicas-ack 1: ${acked.size} acknowledged writes, ${refused} refused, ${lost.length} lost after kill -9 + failover`);
    expect(lost).toEqual([]);
  }, 30_000);
});
