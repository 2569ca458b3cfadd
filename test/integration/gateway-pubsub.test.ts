/**
 * Browser pub/sub through the gateway against a real cluster of 3 primaries + 3 replicas:
 *  - many sockets on one channel (and pattern, and shard channel) cost one upstream subscription
 *    (gateway gauges and PUBSUB NUMSUB/NUMPAT/SHARDNUMSUB on every node), released when the last
 *    listener leaves;
 *  - SSE (`/subscribe`, `/psubscribe`, Upstash format) through plain fetch and through the
 *    @upstash/redis SDK's subscribe, with permissions, and the upstream released on disconnect;
 *  - an SSUBSCRIBE'd socket keeps receiving across a slot migration (pre-subscribed at the importing
 *    node while the slot is open, or moved on the old owner's sunsubscribe push when the migration is
 *    too quick to be seen) and across CLUSTER FAILOVER, with no sunsubscribe reaching the browser and
 *    no message lost or duplicated;
 *  - a SUBSCRIBE'd socket survives kill -9 of the node its upstream subscription lived on.
 */
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { Redis as Upstash } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../gateway/src/app';
import { keyHashSlot } from '../../common/src/slot';
import { createCluster, startClusterNodes, waitClusterOk, waitFor } from '../helpers/cluster';
import { beginMigration, closeCtx, finishMigration, moveSlot, openCtx, tagWhere, type ClusterCtx } from '../helpers/cluster-ops';
import { JsonWs, metricValue } from '../helpers/gateway-ws';
import type { NodeHandle } from '../helpers/node';

const RW = 'rw-token-1';
const CHAT = 'chat-token-1';

let nodes: NodeHandle[];
let gw: Gateway;
let base: string;
let wsBase: string;
/** One plain connection per node (PUBSUB introspection, CLUSTER FAILOVER). */
const admin = new Map<number, Redis>();
let ctx: ClusterCtx;
const sockets: Array<{ close(): void }> = [];

const json = (token = RW) =>
  JsonWs.open(`${wsBase}/ws?_token=${token}`).then((s) => {
    sockets.push(s);
    return s;
  });

async function rest(cmd: string[], token = RW): Promise<{ status: number; body: { result?: unknown; error?: string } }> {
  const r = await fetch(base + '/', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(cmd) });
  return { status: r.status, body: (await r.json()) as { result?: unknown; error?: string } };
}

const portOf = (addr: string): number => Number(addr.slice(addr.lastIndexOf(':') + 1));
const alive = (n: NodeHandle): boolean => n.proc.exitCode === null && n.proc.signalCode === null;

/** Sum of PUBSUB <sub> <name> counts over every live node. */
async function numsub(sub: 'NUMSUB' | 'SHARDNUMSUB', name: string): Promise<number> {
  let n = 0;
  for (const node of nodes.filter(alive)) {
    const r = (await admin.get(node.port)!.call('PUBSUB', sub, name)) as [string, number];
    n += Number(r[1]);
  }
  return n;
}

async function numpat(): Promise<number> {
  let n = 0;
  for (const node of nodes.filter(alive)) n += Number(await admin.get(node.port)!.call('PUBSUB', 'NUMPAT'));
  return n;
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await gw.metrics.registry.metrics(), name, labels);
}

/** The gateway's current view: primary address owning `slot`, and that primary's replicas. */
function ownerOf(slot: number): { addr: string; replicas: string[] } {
  const t = gw.client.topology;
  const id = t.owners[slot]!;
  return { addr: t.nodes.get(id)!.addr, replicas: t.replicasOf(id).map((r) => r.addr) };
}

function livePlacements(kind: 'channel' | 'pattern' | 'shard', name: string): string[] {
  return gw.hub
    .placements(kind, name)
    .filter((p) => p.live)
    .map((p) => p.addr)
    .sort();
}

beforeAll(async () => {
  nodes = await startClusterNodes(6);
  createCluster(nodes, 1);
  await waitClusterOk(nodes.map((n) => n.port));
  for (const n of nodes) {
    const r = new Redis({ port: n.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => {});
    admin.set(n.port, r);
  }
  gw = await startGateway({
    port: 0,
    seeds: [{ host: '127.0.0.1', port: nodes[0]!.port }],
    tokens: [
      { token: RW, role: 'read-write' },
      { token: CHAT, role: 'read-write', channels: ['chat:*'] },
    ],
    processMetrics: false,
    watchIntervalMs: 250,
  });
  const port = (gw.app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  wsBase = `ws://127.0.0.1:${port}`;
  await waitFor('3 primaries with a replica each', () => gw.client.topology.shardPrimaries().length === 3 && gw.client.topology.shardPrimaries().every((p) => gw.client.topology.replicasOf(p.id).length === 1));
  const primaries = gw.client.topology.shardPrimaries().map((p) => nodes.find((n) => n.port === portOf(p.addr))!);
  ctx = await openCtx(primaries);
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await gw?.close();
  closeCtx(ctx);
  for (const r of admin.values()) r.disconnect();
});

describe('multiplexing', () => {
  it('300 sockets on one channel, 100 on a pattern and 100 on a shard channel cost one upstream subscription each; the last one leaving releases it', async () => {
    const N = 300;
    const socks = await Promise.all(Array.from({ length: N }, () => json()));
    const shardCh = '{fan}shard';
    await Promise.all(socks.map((s) => s.result('SUBSCRIBE', 'fan')));
    await Promise.all(socks.slice(0, 100).map((s) => s.result('PSUBSCRIBE', 'fa*')));
    await Promise.all(socks.slice(100, 200).map((s) => s.result('SSUBSCRIBE', shardCh)));
    expect(await metric('gateway_subscriptions', { kind: 'channel' })).toBe(N);
    expect(await metric('gateway_upstream_subscriptions', { kind: 'channel' })).toBe(1);
    expect(await metric('gateway_upstream_subscriptions', { kind: 'pattern' })).toBe(1);
    expect(await metric('gateway_upstream_subscriptions', { kind: 'shard' })).toBe(1);
    expect(await numsub('NUMSUB', 'fan')).toBe(1);
    expect(await numpat()).toBe(1);
    // The shard channel lives at its owner and (for failovers) at the owner's replica.
    const { addr, replicas } = ownerOf(keyHashSlot(shardCh));
    expect(livePlacements('shard', shardCh)).toEqual([addr, ...replicas].sort());
    expect(await numsub('SHARDNUMSUB', shardCh)).toBe(2);
    expect(await metric('gateway_upstream_connections', { kind: 'subscriber' })).toBeLessThanOrEqual(6);

    const deliveriesBefore = await metric('gateway_pubsub_deliveries_total');
    for (const m of ['one', 'two', 'three']) expect((await rest(['PUBLISH', 'fan', m])).status).toBe(200);
    expect((await rest(['SPUBLISH', shardCh, 'sharded'])).body.result).toBe(1);
    await waitFor('every socket got its messages', () => socks.every((s, i) => s.messages().length === 3 + (i < 100 ? 3 : 0) + (i >= 100 && i < 200 ? 1 : 0)));
    for (const [i, s] of socks.entries()) {
      const msgs = s.messages();
      expect(msgs.filter((m) => m.type === 'message').map((m) => m.data).sort()).toEqual(['one', 'three', 'two']);
      if (i < 100) expect(msgs.filter((m) => m.type === 'pmessage').every((m) => m.pattern === 'fa*' && m.channel === 'fan')).toBe(true);
      if (i >= 100 && i < 200) expect(msgs.filter((m) => m.type === 'smessage')).toEqual([{ type: 'smessage', channel: shardCh, data: 'sharded' }]);
    }
    // Received once upstream, delivered 300 + 100 times per message (+ 100 for the shard message).
    expect(await metric('gateway_pubsub_deliveries_total')).toBe(deliveriesBefore + 3 * 400 + 100);

    // Half leave: nothing changes upstream.
    for (const s of socks.slice(0, 150)) s.close();
    await waitFor('150 left', () => gw.hub.listeners('channel', 'fan') === 150);
    expect(await numsub('NUMSUB', 'fan')).toBe(1);
    expect(gw.hub.listeners('pattern', 'fa*')).toBe(0);
    await waitFor('the pattern released upstream', async () => (await numpat()) === 0);
    // UNSUBSCRIBE by the rest, then the sockets go.
    await Promise.all(socks.slice(150).map((s) => s.result('UNSUBSCRIBE')));
    await waitFor('the channel released upstream', async () => (await numsub('NUMSUB', 'fan')) === 0);
    for (const s of socks.slice(150)) s.close();
    await waitFor('the shard channel released upstream', async () => (await numsub('SHARDNUMSUB', shardCh)) === 0);
    expect(await metric('gateway_upstream_subscriptions')).toBe(0);
    expect(await metric('gateway_subscriptions')).toBe(0);
    await waitFor('idle subscriber connections closed', async () => (await metric('gateway_upstream_connections', { kind: 'subscriber' })) === 0);
    // Nobody was told "unsubscribe" except those who asked.
    expect(socks.slice(0, 150).every((s) => s.pushes('unsubscribe').length === 0)).toBe(true);
  }, 30_000);
});

/** An SSE stream read with fetch; `text` grows as events arrive. */
async function sse(path: string, token = RW): Promise<{ status: number; text: () => string; abort(): void }> {
  const ac = new AbortController();
  const res = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: ac.signal });
  let text = '';
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += dec.decode(value, { stream: true });
        }
      } catch {
        /* aborted */
      }
    })();
  } else text = await res.text();
  return { status: res.status, text: () => text, abort: () => ac.abort() };
}

describe('Server-Sent Events', () => {
  it('streams the Upstash format to plain fetch; the upstream subscription goes when the client does', async () => {
    const a = await sse('/subscribe/sse-news');
    const p = await sse('/psubscribe/sse-*');
    expect(a.status).toBe(200);
    await waitFor('subscribed', () => a.text().includes('data: subscribe,sse-news,1\n\n') && p.text().includes('data: psubscribe,sse-*,1\n\n'));
    // The two streams are separate HTTP responses fed by separate upstream subscriptions: each is waited
    // for on its own (checking one right after the other arrived raced the second's delivery).
    await rest(['PUBLISH', 'sse-news', 'hello, world']);
    await waitFor('the message on both streams', () => a.text().includes('data: message,sse-news,hello, world\n\n') && p.text().includes('data: pmessage,sse-*,sse-news,hello, world\n\n'));
    await rest(['PUBLISH', 'sse-news', 'two\nlines']);
    await waitFor('the two-line message on both streams', () => p.text().includes('data: pmessage,sse-*,sse-news,two\ndata: lines\n\n') && a.text().includes('data: message,sse-news,two\ndata: lines\n\n'));
    // Exactly once each, in order.
    expect(a.text().split('data: message,').length - 1).toBe(2);
    expect(p.text().split('data: pmessage,').length - 1).toBe(2);
    expect(a.text().indexOf('hello, world')).toBeLessThan(a.text().indexOf('two\ndata: lines'));
    expect(await metric('gateway_sse_connections')).toBe(2);
    expect(await numsub('NUMSUB', 'sse-news')).toBe(1);
    a.abort();
    p.abort();
    await waitFor('released upstream', async () => (await numsub('NUMSUB', 'sse-news')) === 0 && (await numpat()) === 0);
    await waitFor('streams gone', async () => (await metric('gateway_sse_connections')) === 0);
    expect(gw.hub.listeners('channel', 'sse-news')).toBe(0);
    // Auth and channel permissions.
    expect((await sse('/subscribe/x', 'bad-token')).status).toBe(401);
    const refused = await sse('/subscribe/news', CHAT);
    expect(refused.status).toBe(403);
    expect(refused.text()).toContain("may not use channel 'news'");
    const ok = await sse('/subscribe/chat:1', CHAT);
    await waitFor('chat subscribed', () => ok.text().includes('data: subscribe,chat:1,1'));
    ok.abort();
  });

  it('works with the @upstash/redis SDK subscribe/unsubscribe', async () => {
    const redis = new Upstash({ url: base, token: RW, enableTelemetry: false });
    const sub = redis.subscribe<{ n: number }>(['sdk-news']);
    const got: Array<{ channel: string; message: { n: number } }> = [];
    let subscribed = 0;
    sub.on('subscribe', (count) => (subscribed = count));
    sub.on('message', (m) => got.push(m));
    await waitFor('the SDK subscribed', () => subscribed === 1 && gw.hub.listeners('channel', 'sdk-news') === 1);
    expect(await redis.publish('sdk-news', { n: 1 })).toBeGreaterThanOrEqual(0);
    await redis.publish('sdk-news', { n: 2 });
    await waitFor('two messages', () => got.length === 2);
    expect(got.map((m) => m.message.n).sort()).toEqual([1, 2]);
    expect(got[0]!.channel).toBe('sdk-news');
    const psub = redis.psubscribe<{ n: number }>(['sdk-*']);
    const pgot: Array<{ pattern: string; channel: string; message: { n: number } }> = [];
    let psubscribed = 0;
    psub.on('psubscribe', (count) => (psubscribed = count));
    psub.on('pmessage', (m) => pgot.push(m));
    await waitFor('the SDK psubscribed', () => psubscribed === 1 && gw.hub.listeners('pattern', 'sdk-*') === 1);
    await redis.publish('sdk-other', { n: 3 });
    await waitFor('a pmessage', () => pgot.length === 1);
    expect(pgot[0]).toEqual({ pattern: 'sdk-*', channel: 'sdk-other', message: { n: 3 } });
    await sub.unsubscribe();
    await psub.unsubscribe();
    await waitFor('released upstream', async () => (await numsub('NUMSUB', 'sdk-news')) === 0 && gw.hub.listeners('pattern', 'sdk-*') === 0);
  });
});

/** Publish `SPUBLISH ch <prefix><i>` through the gateway's REST API; returns the reply (-1 on an error). */
async function spublish(ch: string, msg: string): Promise<number> {
  const r = await rest(['SPUBLISH', ch, msg]);
  return r.status === 200 ? Number(r.body.result) : -1;
}

function smessages(s: JsonWs, ch: string): string[] {
  return s.messages().filter((m) => m.type === 'smessage' && m.channel === ch).map((m) => m.data!);
}

describe('sharded channels follow the cluster', () => {
  it('a slot migration: pre-subscribed at the importing node, no gap, no sunsubscribe reaching the browser', async () => {
    const [from, to] = [0, 1];
    const { tag, slot } = tagWhere('mig-', (s) => gw.client.addrForSlot(s) === `127.0.0.1:${ctx.ports[from]}`);
    const ch = `{${tag}}news`;
    const s = await json();
    expect(await s.result('SSUBSCRIBE', ch)).toBe(1);
    const sent: string[] = [];
    const replies: number[] = [];
    const pub = async (phase: string, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const m = `${phase}${i}`;
        sent.push(m);
        replies.push(await spublish(ch, m));
      }
    };
    await pub('before', 10);
    await beginMigration(ctx, slot, from, to);
    await waitFor('subscribed at the importing node', () => livePlacements('shard', ch).includes(`127.0.0.1:${ctx.ports[to]}`));
    await pub('during', 10);
    await finishMigration(ctx, slot, from, to);
    await pub('after', 10);
    await waitFor('released at the old owner', () => !gw.hub.placements('shard', ch).some((p) => p.addr === `127.0.0.1:${ctx.ports[from]}`));
    await pub('later', 10);
    // Every SPUBLISH found the gateway's subscription, and the socket got each message once.
    expect(replies.every((r) => r >= 1)).toBe(true);
    await s.until('all messages', () => smessages(s, ch).length >= sent.length);
    expect(smessages(s, ch).sort()).toEqual([...sent].sort());
    expect(s.pushes('sunsubscribe')).toEqual([]);
    expect(s.pushes('ssubscribe')).toEqual([{ type: 'ssubscribe', channel: ch, count: 1 }]);
    const owner = ownerOf(slot);
    expect(owner.addr).toBe(`127.0.0.1:${ctx.ports[to]}`);
    await waitFor('placed at the new shard only', () => JSON.stringify(livePlacements('shard', ch)) === JSON.stringify([owner.addr, ...owner.replicas].sort())).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(gw.hub.placements('shard', ch))} want ${JSON.stringify(owner)} topo ${JSON.stringify(gw.client.topology.toJSON())}`);
    });
    expect(await numsub('SHARDNUMSUB', ch)).toBe(2);
  }, 30_000);

  it('a migration too quick to be seen: moved on the old owner\'s sunsubscribe push, which never reaches the browser', async () => {
    const [from, to] = [1, 2];
    const { tag, slot } = tagWhere('fast-', (s) => gw.client.addrForSlot(s) === `127.0.0.1:${ctx.ports[from]}`);
    const ch = `{${tag}}news`;
    const s = await json();
    expect(await s.result('SSUBSCRIBE', ch)).toBe(1);
    expect(await spublish(ch, 'm-before')).toBe(1);
    await moveSlot(ctx, slot, from, to);
    await waitFor('subscribed at the new owner', () => livePlacements('shard', ch).includes(`127.0.0.1:${ctx.ports[to]}`));
    for (let i = 0; i < 10; i++) expect(await spublish(ch, `m-after${i}`)).toBeGreaterThanOrEqual(1);
    await s.until('all messages', () => smessages(s, ch).length >= 11);
    expect(smessages(s, ch).sort()).toEqual(['m-before', ...Array.from({ length: 10 }, (_, i) => `m-after${i}`)].sort());
    expect(s.pushes('sunsubscribe')).toEqual([]);
    expect(gw.hub.listeners('shard', ch)).toBe(1);
  }, 30_000);

  it('CLUSTER FAILOVER: the subscription was already at the replica; nothing lost, nothing duplicated', async () => {
    const { tag, slot } = tagWhere('fo-', (s) => gw.client.addrForSlot(s) === `127.0.0.1:${ctx.ports[0]}`);
    const ch = `{${tag}}news`;
    const s = await json();
    expect(await s.result('SSUBSCRIBE', ch)).toBe(1);
    const { addr: oldPrimary, replicas } = ownerOf(slot);
    const replica = replicas[0]!;
    await waitFor('placed at primary and replica', () => JSON.stringify(livePlacements('shard', ch)) === JSON.stringify([oldPrimary, replica].sort()));
    const sent: Array<{ m: string; r: number }> = [];
    for (let i = 0; i < 5; i++) sent.push({ m: `pre${i}`, r: await spublish(ch, `pre${i}`) });
    expect(await admin.get(portOf(replica))!.call('CLUSTER', 'FAILOVER')).toBe('OK');
    // Keep publishing while the gateway learns the new primary.
    for (let i = 0; i < 200 && gw.client.addrForSlot(slot) !== replica; i++) sent.push({ m: `mid${i}`, r: await spublish(ch, `mid${i}`) });
    await waitFor('the gateway sees the new primary', () => gw.client.addrForSlot(slot) === replica);
    for (let i = 0; i < 10; i++) sent.push({ m: `post${i}`, r: await spublish(ch, `post${i}`) });
    // Every SPUBLISH, before, during and after the switch, found the gateway's subscription.
    expect(sent.filter((x) => x.r < 1)).toEqual([]);
    const delivered = sent.map((x) => x.m);
    await s.until('every delivered message', () => smessages(s, ch).length >= delivered.length);
    expect(smessages(s, ch).sort()).toEqual([...delivered].sort());
    expect(s.pushes('sunsubscribe')).toEqual([]);
    // Still at both nodes of the shard (roles swapped).
    expect(livePlacements('shard', ch)).toEqual([oldPrimary, replica].sort());
  }, 30_000);
});

describe('node loss', () => {
  it('a SUBSCRIBE survives kill -9 of the node holding its upstream subscription', async () => {
    closeCtx(ctx); // its connections would complain about the dead node
    const s = await json();
    expect(await s.result('SUBSCRIBE', 'survivor')).toBe(1);
    const [home] = livePlacements('channel', 'survivor');
    expect(home).toBeDefined();
    const victim = nodes.find((n) => n.port === portOf(home!))!;
    await victim.stop('SIGKILL');
    await waitFor('re-subscribed elsewhere', () => livePlacements('channel', 'survivor').length === 1 && livePlacements('channel', 'survivor')[0] !== home, 20_000);
    for (let i = 0; i < 5; i++) expect((await rest(['PUBLISH', 'survivor', `after${i}`])).status).toBe(200);
    await s.until('messages after the loss', () => s.messages().length >= 5, 15_000);
    expect(s.messages().map((m) => m.data).sort()).toEqual(['after0', 'after1', 'after2', 'after3', 'after4']);
    expect(s.pushes('unsubscribe')).toEqual([]);
    expect(await numsub('NUMSUB', 'survivor')).toBe(1);
  }, 40_000);
});
