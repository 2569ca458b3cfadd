/**
 * The gateway while the cluster changes under it (3 primaries + 3 replicas, real processes): cluster-wide
 * SCAN returns every key present for the whole scan at least once across a half-migrated slot, across
 * migrations finishing between two SCAN calls, during a real `redis-cli --cluster reshard` and during
 * failovers (CLUSTER FAILOVER on a replica, kill -9 of a primary); and the gateway's migration, redirect
 * and failover metrics move. Two gateways: A watches the cluster (200 ms), B does not (it learns only from
 * redirects).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../common/src/slot';
import type { Gateway } from '../../gateway/src/app';
import { cli, keysWhere, waitFor } from '../helpers/cluster';
import { clusterCliAsync } from '../helpers/cluster-cli-util';
import { beginMigration, closeCtx, finishMigration, migrateKeys, moveSlot, openCtx, type ClusterCtx } from '../helpers/cluster-ops';
import type { NodeHandle } from '../helpers/node';
import { TOKENS, cmd, gateway, http, metric, scanAll, startReplicatedCluster } from '../helpers/gateway';

let nodes: NodeHandle[];
let gwA: Gateway;
let gwB: Gateway;
/** The three primaries, in slot order (0: slots 0-5460, 1: 5461-10922, 2: 10923-16383). */
let prim: NodeHandle[];
let ctx: ClusterCtx;
/** Every key written, with its value. */
const written = new Map<string, string>();

async function write(gw: Gateway, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const r = await http(gw, 'POST', '/pipeline', { body: chunk.map((k) => ['SET', k, `v-${k}`]) });
    expect(r.status).toBe(200);
    for (const k of chunk) written.set(k, `v-${k}`);
  }
}

/** A full SCAN through `gw` returned every written key (at least once). */
async function expectCompleteScan(gw: Gateway, count = 100): Promise<number> {
  const { keys, cursors } = await scanAll(gw, ['COUNT', count]);
  const got = new Set(keys);
  const missing = [...written.keys()].filter((k) => !got.has(k));
  expect(missing, `${missing.length} keys missing from a full scan, e.g. ${missing.slice(0, 5).join(' ')}`).toEqual([]);
  return cursors.length + 1;
}

beforeAll(async () => {
  nodes = await startReplicatedCluster(3, 1);
  gwA = await gateway(nodes, { watchIntervalMs: 200, retryWindowMs: 20_000 });
  gwB = await gateway(nodes, { watchIntervalMs: 600_000, retryWindowMs: 20_000 });
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  prim = [0, 5461, 10923].map((s) => byPort.get(Number(gwA.client.addrForSlot(s)!.split(':')[1]))!);
  ctx = await openCtx(prim);
  for (const r of ctx.admin) r.on('error', () => {}); // one of these nodes is killed below
  await write(gwA, Array.from({ length: 3000 }, (_, i) => `k:${i}`));
}, 90_000);

afterAll(() => closeCtx(ctx));

describe('SCAN while slots migrate', () => {
  it('across a half-migrated slot, and across migrations that finish between two SCAN calls', async () => {
    const S = 1000;
    const keysS = keysWhere('slotS:', 10, (s) => s === S);
    await write(gwA, keysS);
    const askBefore = await metric(gwB, 'gateway_redirects_total', { type: 'ask' });
    await beginMigration(ctx, S, 0, 1);
    await migrateKeys(ctx, S, 0, 1, keysS.slice(0, 5));
    await waitFor('gateway A to see the open slot', () => gwA.client.topology.open.has(S));
    // Half of S's keys on the source, half on the target: both halves, from both gateways.
    await expectCompleteScan(gwA);
    await expectCompleteScan(gwB, 500);
    expect(await cmd(gwB, ['GET', keysS[0]!])).toBe(`v-${keysS[0]}`);
    expect(await metric(gwB, 'gateway_redirects_total', { type: 'ask' })).toBeGreaterThan(askBefore);
    expect(await metric(gwA, 'gateway_slots_migrating')).toBe(1);
    await migrateKeys(ctx, S, 0, 1);
    await finishMigration(ctx, S, 0, 1);

    // Start a scan, move a slot it already passed and one it has not reached yet, finish the scan.
    const V = 100;
    const U = 5000;
    await write(gwA, [...keysWhere('slotV:', 5, (s) => s === V), ...keysWhere('slotU:', 5, (s) => s === U)]);
    const seen = new Set<string>();
    let [cursor, batch] = (await cmd(gwA, ['SCAN', '0', 'COUNT', 50])) as [string, string[]];
    batch.forEach((k) => seen.add(k));
    expect(keyHashSlot(cursor)).toBeGreaterThan(V);
    expect(keyHashSlot(cursor)).toBeLessThan(U);
    await moveSlot(ctx, V, 0, 2);
    await moveSlot(ctx, U, 0, 2);
    for (let i = 0; cursor !== '0' && i < 10_000; i++) {
      [cursor, batch] = (await cmd(gwA, ['SCAN', cursor, 'COUNT', 50])) as [string, string[]];
      batch.forEach((k) => seen.add(k));
    }
    expect([...written.keys()].filter((k) => !seen.has(k))).toEqual([]);

    await waitFor('gateway A to see the three owner changes', async () => (await metric(gwA, 'gateway_slot_migrations_completed_total')) >= 3);
    expect(await metric(gwA, 'gateway_slot_migrations_started_total')).toBeGreaterThanOrEqual(3);
    // S was seen open before it moved: its migration time was measured.
    expect(await metric(gwA, 'gateway_slot_migration_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    await waitFor('no open slot left', async () => (await metric(gwA, 'gateway_slots_migrating')) === 0);
  });

  it('during redis-cli --cluster reshard: every full scan has every key; migration and redirect metrics move', async () => {
    const SLOTS = 100; // a slot takes ~50 ms to move here (Raft-committed SETSLOTs)
    const src = prim[0]!;
    const dst = prim[1]!;
    const startedA = await metric(gwA, 'gateway_slot_migrations_started_total');
    const completedA = await metric(gwA, 'gateway_slot_migrations_completed_total');
    const movedB = await metric(gwB, 'gateway_redirects_total', { type: 'moved' });
    const completedB = await metric(gwB, 'gateway_slot_migrations_completed_total');
    let done = false;
    const reshard = clusterCliAsync(['reshard', `127.0.0.1:${src.port}`, '--cluster-from', ctx.ids[0]!, '--cluster-to', ctx.ids[1]!, '--cluster-slots', String(SLOTS), '--cluster-yes'], 120_000).finally(() => {
      done = true;
    });
    let scans = 0;
    let during = 0;
    while (!done && scans < 500) {
      // Alternate: the watching gateway and the one that learns only from MOVED/ASK.
      await expectCompleteScan(scans % 2 === 0 ? gwA : gwB, 200);
      scans++;
      if (!done) during++;
    }
    const r = await reshard;
    expect(r.status, r.out).toBe(0);
    expect(r.out.match(/Moving slot \d+ from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+/g)).toHaveLength(SLOTS);
    console.log(`reshard of ${SLOTS} slots: ${scans} full scans, ${during} completed while it ran`);
    expect(during).toBeGreaterThan(0);
    await expectCompleteScan(gwA);
    await expectCompleteScan(gwB);

    // A, watching, saw every slot change owner.
    await waitFor('gateway A to count the reshard', async () => (await metric(gwA, 'gateway_slot_migrations_completed_total')) - completedA >= SLOTS);
    expect((await metric(gwA, 'gateway_slot_migrations_started_total')) - startedA).toBeGreaterThanOrEqual(SLOTS);
    // B, not watching, is redirected by MOVED for keys in moved slots, and counts the migrations on its refresh.
    const movedKeys = [...written.keys()].filter((k) => keyHashSlot(k) < 5461 && gwA.client.addrForSlot(keyHashSlot(k)) === `127.0.0.1:${dst.port}`).slice(0, 20);
    expect(movedKeys.length).toBeGreaterThan(0);
    for (const k of movedKeys) expect(await cmd(gwB, ['GET', k])).toBe(written.get(k));
    await waitFor('gateway B to see the migrations through MOVED', async () => (await metric(gwB, 'gateway_slot_migrations_completed_total')) > completedB);
    expect(await metric(gwB, 'gateway_redirects_total', { type: 'moved' })).toBeGreaterThan(movedB);
  }, 90_000);
});

describe('SCAN while primaries fail over', () => {
  /** Wait until every replica acknowledged its primary's whole replication stream. */
  async function replicasCaughtUp(): Promise<void> {
    await waitFor('replicas caught up', () =>
      gwA.client.primaryNodes().every((p) => {
        const info = cli(p.port, 'info', 'replication');
        const off = /master_repl_offset:(\d+)/.exec(info)?.[1];
        const acks = [...info.matchAll(/slave\d+:.*?offset=(\d+)/g)].map((m) => m[1]);
        return acks.length > 0 && acks.every((a) => a === off);
      }),
    20_000);
  }

  /** The replica of the primary owning `slot`, as gateway A sees it. */
  function replicaOfSlotOwner(slot: number): { primary: NodeHandle; replica: NodeHandle } {
    const id = gwA.client.topology.owners[slot]!;
    const p = gwA.client.topology.nodes.get(id)!;
    const r = gwA.client.topology.replicasOf(id)[0]!;
    return { primary: nodes.find((n) => n.port === p.port)!, replica: nodes.find((n) => n.port === r.port)! };
  }

  it('CLUSTER FAILOVER on a replica, then kill -9 of a primary: complete scans throughout; failover metrics move', async () => {
    await replicasCaughtUp();
    const failovers0 = await metric(gwA, 'gateway_failovers_total');

    // Manual failover of the shard owning slot 12000, with scans running.
    const manual = replicaOfSlotOwner(12_000);
    let stop = false;
    const scanner = (async () => {
      let n = 0;
      while (!stop) {
        await expectCompleteScan(n % 2 === 0 ? gwA : gwB, 200);
        n++;
      }
      return n;
    })();
    expect(cli(manual.replica.port, 'cluster', 'failover')).toBe('OK');
    await waitFor('gateway A to see the manual failover', () => gwA.client.addrForSlot(12_000) === `127.0.0.1:${manual.replica.port}`, 20_000);
    await waitFor('the failover counted', async () => (await metric(gwA, 'gateway_failovers_total')) >= failovers0 + 1);

    // kill -9 of the primary owning slot 6000 while the scans go on.
    await replicasCaughtUp();
    const killed = replicaOfSlotOwner(6000);
    const durCount0 = await metric(gwA, 'gateway_failover_duration_seconds_count');
    const durSum0 = await metric(gwA, 'gateway_failover_duration_seconds_sum');
    await killed.primary.stop('SIGKILL');
    await waitFor('gateway A to see the promoted replica', () => gwA.client.addrForSlot(6000) === `127.0.0.1:${killed.replica.port}`, 30_000);
    await waitFor('the failover counted', async () => (await metric(gwA, 'gateway_failovers_total')) >= failovers0 + 2);
    // One more complete scan after both failovers, then stop.
    await expectCompleteScan(gwA);
    stop = true;
    const scans = await scanner;
    console.log(`${scans} full scans during two failovers`);
    expect(scans).toBeGreaterThan(0);

    // The shard had no writable primary from the kill until the promotion: a positive duration.
    expect(await metric(gwA, 'gateway_failover_duration_seconds_count')).toBeGreaterThan(durCount0);
    expect(await metric(gwA, 'gateway_failover_duration_seconds_sum')).toBeGreaterThan(durSum0);
    // Writes and reads through both gateways go to the new primaries.
    for (const gw of [gwA, gwB]) {
      for (const slotKey of keysWhere('after-fo:', 3, (s) => s === 6000 || s === 12_000)) {
        expect(await cmd(gw, ['SET', slotKey, 'x'])).toBe('OK');
        expect(await cmd(gw, ['GET', slotKey], TOKENS.ro)).toBe('x');
      }
    }
  }, 60_000);
});
