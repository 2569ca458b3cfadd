/**
 * The gateway under change: a reshard (redis-cli --cluster reshard) and a kill -9 failover while REST
 * writers and readers and WebSocket clients (commands, SUBSCRIBE and SSUBSCRIBE) run through a real
 * gateway process, checking what the clients saw:
 * - during the reshard, no request fails (MOVED/ASK/TRYAGAIN are absorbed by the gateway) but for
 *   writes answered "applied but not acknowledged in time" when a lease lapses on a loaded machine;
 * - around the kill, requests fail only inside the failover window, and every request after it works;
 * - no acknowledged write is lost (the nodes run with min-replicas-ack 1);
 * - WebSocket subscriptions stay intact: no unsubscribe reaches a socket, and every message published
 *   after the failover window reaches every socket (a sharded channel on the killed shard included);
 * - the gateway's migration and failover metrics moved.
 */
import WebSocket from 'ws';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../common/src/slot';
import { CLUSTER_ARGS, cli, createCluster, startClusterNodes, waitClusterOk, waitFor } from '../helpers/cluster';
import { clusterCliOk, clusterNodes, expandSlots, myself, sleep } from '../helpers/cluster-cli-util';
import { freePort, startNode, waitForPort, ROOT, type NodeHandle } from '../helpers/node';
import { metricValue } from '../helpers/gateway';

const TOKEN = 'chaos-test-token';
const NODE_ARGS = ['--cluster-node-timeout', '1000', '--min-replicas-ack', '1'];
let nodes: NodeHandle[] = [];
let gateway: ChildProcess | null = null;
let gwPort = 0;
let gwOut = '';

afterAll(() => {
  if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
});

beforeAll(async () => {
  nodes = await startClusterNodes(6, NODE_ARGS);
  createCluster(nodes, 1);
  await waitClusterOk(nodes.map((n) => n.port));
  await waitFor('3 replicas linked', () => clusterNodes(nodes[0]!.port).filter((n) => n.flags.includes('slave')).length === 3);
  gwPort = await freePort();
  gateway = spawn(process.execPath, [path.join(ROOT, 'bin/cluster-gateway.js'), '--port', String(gwPort), '--seeds', nodes.map((n) => `127.0.0.1:${n.port}`).join(','), '--token', TOKEN], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout!.on('data', (d) => (gwOut += d));
  gateway.stderr!.on('data', (d) => (gwOut += d));
  await waitForPort(gwPort, 20_000);
  await waitFor('gateway ready', async () => (await fetch(`http://127.0.0.1:${gwPort}/readyz`).catch(() => null))?.status === 200);
}, 90_000);

interface Outcome {
  /** When the request was sent and when its answer came. */
  at: number;
  end: number;
  ok: boolean;
  error?: string;
}

async function rest(cmd: (string | number)[]): Promise<{ status: number; body: { result?: unknown; error?: string } }> {
  const r = await fetch(`http://127.0.0.1:${gwPort}/`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(cmd) });
  return { status: r.status, body: (await r.json()) as { result?: unknown; error?: string } };
}

async function metric(name: string): Promise<number> {
  return metricValue(await (await fetch(`http://127.0.0.1:${gwPort}/metrics`)).text(), name);
}

/**
 * Writers: each owns a set of keys across all shards and SETs increasing values, recording the last
 * acknowledged value per key; readers GET and record failures. Runs until stop() is called.
 */
function load(writers: number, keysPerWriter: number) {
  const outcomes: Outcome[] = [];
  const acked = new Map<string, number>();
  const attempted = new Map<string, number>();
  let running = true;
  const loops: Promise<void>[] = [];
  for (let w = 0; w < writers; w++) {
    loops.push(
      (async () => {
        let n = 0;
        while (running) {
          const key = `gwchaos:${w}:${n % keysPerWriter}`;
          const value = ++n;
          attempted.set(key, value);
          const at = Date.now();
          try {
            const r = await rest(['SET', key, String(value)]);
            if (r.status === 200 && r.body.result === 'OK') {
              acked.set(key, value);
              outcomes.push({ at, end: Date.now(), ok: true });
            } else outcomes.push({ at, end: Date.now(), ok: false, error: r.body.error ?? String(r.status) });
          } catch (e) {
            outcomes.push({ at, end: Date.now(), ok: false, error: (e as Error).message });
          }
          const gAt = Date.now();
          const g = await rest(['GET', key]).catch((e: Error) => ({ status: 0, body: { error: e.message } }));
          outcomes.push({ at: gAt, end: Date.now(), ok: g.status === 200, error: g.status === 200 ? undefined : g.body.error });
        }
      })(),
    );
  }
  return {
    outcomes,
    acked,
    attempted,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

interface Sub {
  ws: WebSocket;
  /** message payloads by channel */
  got: Map<string, string[]>;
  unsubscribes: number;
  closed: number | null;
}

/** A WebSocket (JSON frames) subscribed to `channel` and sharded channel `schannel`. */
async function subscriber(channel: string, schannel: string): Promise<Sub> {
  const ws = new WebSocket(`ws://127.0.0.1:${gwPort}/ws?_token=${TOKEN}`);
  const sub: Sub = { ws, got: new Map(), unsubscribes: 0, closed: null };
  let confirmed = 0;
  let onConfirmed: () => void = () => {};
  const both = new Promise<void>((r) => (onConfirmed = r));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { type?: string; channel?: string; data?: string };
    if (m.type === 'message' || m.type === 'smessage') {
      const list = sub.got.get(m.channel!) ?? [];
      list.push(m.data!);
      sub.got.set(m.channel!, list);
    } else if (m.type === 'subscribe' || m.type === 'ssubscribe') {
      if (++confirmed === 2) onConfirmed();
    } else if (m.type && /unsubscribe/.test(m.type)) sub.unsubscribes++;
  });
  ws.on('close', (code) => (sub.closed = code));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ id: 1, cmd: ['SUBSCRIBE', channel] }));
  ws.send(JSON.stringify({ id: 2, cmd: ['SSUBSCRIBE', schannel] }));
  await both;
  return sub;
}

/** WebSocket command traffic: SET/GET over one socket, outcomes recorded like the REST load. */
function wsLoad(outcomes: Outcome[]) {
  const ws = new WebSocket(`ws://127.0.0.1:${gwPort}/ws?_token=${TOKEN}`);
  let running = true;
  let id = 0;
  const pending = new Map<number, { at: number; resolve: () => void }>();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: string };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    outcomes.push({ at: p.at, end: Date.now(), ok: m.error === undefined, error: m.error });
    p.resolve();
  });
  const loop = (async () => {
    await new Promise<void>((r) => ws.once('open', () => r()));
    for (let n = 0; running; n++) {
      const i = ++id;
      await new Promise<void>((resolve) => {
        pending.set(i, { at: Date.now(), resolve });
        ws.send(JSON.stringify({ id: i, cmd: n % 2 ? ['GET', `gwchaos:ws:${n % 100}`] : ['SET', `gwchaos:ws:${n % 100}`, String(n)] }));
      });
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      ws.close();
    },
  };
}

describe('gateway under a reshard and a failover', () => {
  it('absorbs the reshard, fails only inside the failover window, loses no acknowledged write, and counts both in metrics', async () => {
    const ports = nodes.map((n) => n.port);
    const primaries = nodes.filter((n) => myself(n.port).flags.includes('master'));
    const [a, b] = [primaries[0]!, primaries[1]!];
    const victim = primaries.find((p) => p !== b && clusterNodes(p.port).some((l2) => l2.primary === myself(p.port).id))!;
    // A sharded channel on the shard that will fail over, and one in the slots the reshard moves.
    const victimSlots0 = new Set(expandSlots(myself(victim.port).slots));
    const movingSlots = new Set(expandSlots(myself(a.port).slots).slice(0, 100));
    const schanVictim = Array.from({ length: 100000 }, (_, i) => `shard-victim-${i}`).find((c) => victimSlots0.has(keyHashSlot(c)) && !movingSlots.has(keyHashSlot(c)))!;
    const schanMoving = Array.from({ length: 100000 }, (_, i) => `shard-moving-${i}`).find((c) => movingSlots.has(keyHashSlot(c)))!;
    const subs: Sub[] = [];
    for (let i = 0; i < 20; i++) subs.push(await subscriber('news', i % 2 ? schanVictim : schanMoving));

    // Publisher: numbered messages on the three channels, acknowledged through REST.
    const published: Array<{ channel: string; data: string; at: number; ok: boolean }> = [];
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        for (const [cmd, ch] of [['PUBLISH', 'news'], ['SPUBLISH', schanVictim], ['SPUBLISH', schanMoving]] as const) {
          const at = Date.now();
          const r = await rest([cmd, ch, `m${n}`]).catch(() => ({ status: 0, body: {} }));
          published.push({ channel: ch, data: `m${n}`, at, ok: r.status === 200 });
        }
        await sleep(20);
      }
    })();

    const l = load(6, 200);
    const wl = wsLoad(l.outcomes);
    await sleep(1000);
    const movedBefore = await metric('gateway_slot_migrations_completed_total');

    // 1. Reshard 100 slots from a to b under load: nothing may fail.
    const reshardStart = Date.now();
    await clusterCliOk(['reshard', `127.0.0.1:${a.port}`, '--cluster-from', myself(a.port).id, '--cluster-to', myself(b.port).id, '--cluster-slots', '100', '--cluster-yes'], 120_000);
    await waitClusterOk(ports);
    const reshardEnd = Date.now();
    await sleep(1500); // the watcher sees the final owners
    const duringReshard = l.outcomes.filter((o) => o.at >= reshardStart && o.at <= reshardEnd);
    expect(duringReshard.length).toBeGreaterThan(50);
    // Nothing fails, except that on a loaded machine a primary's write lease can lapse for a moment while
    // its event loop is busy (each slot move rewrites and fsyncs nodes.conf): a write applied just before
    // then gets the honest "applied locally but not acknowledged in time" (an unknown outcome, not a loss).
    const UNKNOWN = /^NOREPLICAS Write applied locally but not acknowledged/;
    expect(duringReshard.filter((o) => !o.ok && !UNKNOWN.test(o.error ?? '')).map((o) => o.error)).toEqual([]);
    const unknownInReshard = duringReshard.filter((o) => !o.ok).length;
    expect(await metric('gateway_slot_migrations_completed_total')).toBeGreaterThanOrEqual(movedBefore + 100);
    expect(await metric('gateway_slot_migrations_started_total')).toBeGreaterThan(0);
    const redirects = await metric('gateway_redirects_total');

    // 2. kill -9 a primary that has a replica, under load.
    const victimId = myself(victim.port).id;
    const victimSlots = new Set(expandSlots(myself(victim.port).slots));
    const killAt = Date.now();
    victim.proc.kill('SIGKILL');
    const survivor = nodes.find((n) => n !== victim)!;
    await waitFor('a replica took over the killed primary\'s slots', () => {
      const owner = clusterNodes(survivor.port).find((x) => x.flags.includes('master') && x.id !== victimId && expandSlots(x.slots).some((s) => victimSlots.has(s)));
      return !!owner;
    }, 20_000);
    const promotedAt = Date.now();
    // With min-replicas-ack 1 the promoted replica has no replica of its own, so its shard refuses writes
    // (NOREPLICAS, nothing applied) until the killed node is back: restart it; it rejoins as a replica.
    const back = await startNode([...CLUSTER_ARGS, ...NODE_ARGS], { port: victim.port, dir: victim.dir });
    nodes[nodes.indexOf(victim)] = back;
    await waitFor('the restarted node is a replica with its link up', () => /master_link_status:up/.test(cli(back.port, 'info', 'replication')), 30_000);
    const restoredAt = Date.now();
    await sleep(3000);
    await l.stop();
    await wl.stop();
    publishing = false;
    await publisher;
    await sleep(1000); // the last messages reach the sockets

    // Failures only between the kill and a short while after the shard is whole again (the gateway's
    // watch interval and retry backoff); every request started later than that succeeded.
    const windowEnd = restoredAt + 2000;
    const failures = l.outcomes.filter((o) => !o.ok);
    // A request overlaps the window when it was still waiting at the kill (a write sent just before it
    // is retried into the new primary) and was sent before the window's end.
    const late = failures.filter((f) => !(f.end >= killAt && f.at <= windowEnd)).map((f) => ({ msAfterKill: f.at - killAt, error: f.error }));
    expect({ late, promotedMsAfterKill: promotedAt - killAt }).toEqual({ late: [], promotedMsAfterKill: promotedAt - killAt });
    expect(l.outcomes.filter((o) => o.at > windowEnd && o.ok).length).toBeGreaterThan(20);
    // Requests to the killed shard were retried through the failover, so few or none failed at all.
    console.log(`gateway chaos: reshard of 100 slots under load: ${duringReshard.length} requests, 0 failed (${unknownInReshard} answered 'applied but not acknowledged in time'), ${redirects} redirects followed;\n` + `${l.outcomes.length} requests in all, ${failures.length} failed (all within ${windowEnd - killAt} ms of the kill; ${failures.filter((f) => /^NOREPLICAS/.test(f.error ?? '')).length} of them NOREPLICAS refusals while the shard had no replica); failover seen ${promotedAt - killAt} ms after the kill, replica back after ${restoredAt - killAt} ms`);

    // WebSocket subscriptions: intact, and complete after the window. (Messages published inside the
    // window may be missed while the gateway moves its upstream subscription: counted, not asserted.)
    let missedInWindow = 0;
    for (const sub of subs) {
      expect({ closed: sub.closed, unsubscribes: sub.unsubscribes }).toEqual({ closed: null, unsubscribes: 0 });
      for (const ch of ['news', sub.got.has(schanVictim) ? schanVictim : schanMoving]) {
        const got = new Set(sub.got.get(ch) ?? []);
        const expected = published.filter((p) => p.channel === ch && p.ok);
        const missingLate = expected.filter((p) => p.at > windowEnd && !got.has(p.data)).map((p) => p.data);
        expect({ ch, missingLate }).toEqual({ ch, missingLate: [] });
        missedInWindow += expected.filter((p) => p.at <= windowEnd && !got.has(p.data)).length;
      }
      sub.ws.close();
    }
    expect(published.filter((p) => p.ok && p.at > windowEnd).length).toBeGreaterThan(10);
    console.log(`gateway chaos: ${subs.length} sockets, ${published.filter((p) => p.ok).length} messages published; ${missedInWindow} socket-deliveries missed inside the window, none after it`);

    // 3. No acknowledged write lost: each key holds its last acknowledged value, or a later attempted one
    // (a write whose reply was lost may have been applied).
    for (const [key, v] of l.acked) {
      const r = await rest(['GET', key]);
      const got = Number(r.body.result);
      expect({ key, got, ok: got >= v && got <= l.attempted.get(key)! }).toMatchObject({ ok: true });
    }
    expect(l.acked.size).toBeGreaterThan(100);
    void keyHashSlot;

    // 4. The failover was seen and timed.
    await waitFor('failover metric', async () => (await metric('gateway_failovers_total')) >= 1, 10_000);
    expect(await metric('gateway_failover_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    const dur = await metric('gateway_failover_duration_seconds_sum');
    expect(dur).toBeGreaterThan(0);
    expect(gwOut).not.toMatch(/Fatal|Unhandled/);
  }, 180_000);
});
