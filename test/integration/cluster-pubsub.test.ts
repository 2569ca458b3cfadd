/**
 * Pub/sub on a 3-primary cluster of real cluster-node processes (COMPAT.md section 3, "Sharded pub/sub"):
 *  - classic PUBLISH on any node reaches SUBSCRIBE and PSUBSCRIBE subscribers on every node exactly once,
 *    binary safe (channel and payload), in publish order; the PUBLISH reply counts this node's receivers;
 *    RESP3 subscribers get pushes; keyspace notifications stay on the node that owns the key;
 *  - SSUBSCRIBE/SPUBLISH route by slot: MOVED from a non-owner, CROSSSLOT across slots, delivery only
 *    on the owner;
 *  - a node that loses a slot pushes `sunsubscribe` for that slot's channels (RESP2 and RESP3, raw and
 *    through ioredis), and the client can re-subscribe at the new owner and receive SPUBLISH there;
 *  - ioredis Cluster (shardedSubscribers) and node-redis createCluster follow a sharded channel's move.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { keyHashSlot } from '../../common/src/slot';
import { startCluster } from '../helpers/cluster';
import { RawConn } from '../helpers/raw-conn';
import { closeCtx, moveSlot, openCtx, slotOwners, tagWhere, waitFor, type ClusterCtx } from '../helpers/cluster-ops';

let ctx: ClusterCtx;
let ownerIdx: number[];
const closers: (() => unknown)[] = [];

function track<T extends { disconnect(): unknown }>(c: T): T {
  closers.push(() => c.disconnect());
  return c;
}

async function raw(port: number): Promise<RawConn> {
  const c = await RawConn.open(port);
  closers.push(() => c.close());
  return c;
}

function plain(i: number, extra: Record<string, unknown> = {}): Redis {
  return track(new Redis({ port: ctx.ports[i]!, host: '127.0.0.1', maxRetriesPerRequest: 1, ...extra }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  ctx = await openCtx(await startCluster(3));
  ownerIdx = (await slotOwners(ctx.admin[0]!)).map((p) => ctx.ports.indexOf(p));
});

afterAll(() => {
  for (const c of closers) c();
  closeCtx(ctx);
});

/** Every message/pmessage one ioredis connection received, as [kind, pattern, channel, payload] with Buffers. */
interface Inbox {
  got: { kind: string; pattern: string | null; channel: Buffer; payload: Buffer }[];
}

function inbox(r: Redis): Inbox {
  const box: Inbox = { got: [] };
  r.on('messageBuffer', (channel: Buffer, payload: Buffer) => box.got.push({ kind: 'message', pattern: null, channel, payload }));
  r.on('pmessageBuffer', (pattern: string | Buffer, channel: Buffer, payload: Buffer) =>
    box.got.push({ kind: 'pmessage', pattern: pattern.toString(), channel, payload }),
  );
  return box;
}

describe('classic PUBLISH across the cluster', () => {
  it('reaches SUBSCRIBE and PSUBSCRIBE subscribers on every node exactly once, in order; the reply counts local receivers', async () => {
    const subs = [0, 1, 2].map((i) => plain(i));
    const boxes = subs.map(inbox);
    for (const s of subs) {
      await s.subscribe('news', 'only-here');
      await s.psubscribe('ne*');
    }
    const pubs = [0, 1, 2].map((i) => plain(i));
    // Each node: its own subscriber + pattern subscriber received it; the reply counts only those.
    for (let i = 0; i < 3; i++) expect(await pubs[i]!.publish('news', `hello from ${i}`)).toBe(2);
    // 50 more from each node, interleaved.
    for (let n = 0; n < 50; n++) for (let i = 0; i < 3; i++) void pubs[i]!.publish('news', `m${i}-${n}`);
    for (let i = 0; i < 3; i++) await pubs[i]!.publish('news', `end-${i}`);
    await waitFor('the end markers everywhere', () =>
      boxes.every((b) => [0, 1, 2].every((i) => b.got.some((m) => m.kind === 'message' && m.payload.toString() === `end-${i}`))),
    );
    await sleep(200); // a duplicate would arrive by now
    for (const b of boxes) {
      for (const kind of ['message', 'pmessage']) {
        const seen = b.got.filter((m) => m.kind === kind).map((m) => m.payload.toString());
        expect(seen.length).toBe(3 * 52);
        expect(new Set(seen).size).toBe(seen.length);
        for (let i = 0; i < 3; i++) {
          // Messages from one publisher arrive in publish order.
          const mine = seen.filter((p) => p === `hello from ${i}` || p.startsWith(`m${i}-`) || p === `end-${i}`);
          expect(mine).toEqual([`hello from ${i}`, ...Array.from({ length: 50 }, (_, n) => `m${i}-${n}`), `end-${i}`]);
        }
      }
      for (const m of b.got) {
        expect(m.channel.toString()).toBe('news');
        if (m.kind === 'pmessage') expect(m.pattern).toBe('ne*');
      }
    }
    // A channel nobody on this node listens to: reply 0, still delivered elsewhere.
    await subs[0]!.unsubscribe('only-here');
    await subs[1]!.unsubscribe('only-here');
    const before = boxes[2]!.got.length;
    expect(await pubs[0]!.publish('only-here', 'x')).toBe(0);
    await waitFor('delivery on node 2', () => boxes[2]!.got.length === before + 1);
    expect(boxes[2]!.got[before]!.channel.toString()).toBe('only-here');
    await sleep(100);
    expect(boxes[0]!.got.length).toBe(boxes[1]!.got.length);
    for (const s of subs) s.disconnect();
  });

  it('is binary safe: every byte value in channel and payload, invalid UTF-8, CRLF, a 1 MB payload', async () => {
    const channel = Buffer.from([0x62, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0xc3, 0x28, 0x7b, 0x7d]);
    const payloads = [
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xed, 0xa0, 0x80]),
      Buffer.from('\r\n*3\r\n$7\r\nmessage\r\n'),
      Buffer.from('"}\n{"t":"pub","ch":"x","msg":"y"}\n\\u0000'),
      Buffer.alloc(0),
      Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 131 + 7) & 0xff)),
    ];
    const subs = [0, 1, 2].map((i) => plain(i));
    const boxes = subs.map(inbox);
    for (const s of subs) {
      await s.subscribe(channel);
      // "b\0*"; ioredis sends Buffer arguments as they are, its typings only list strings here.
      await s.psubscribe(Buffer.from([0x62, 0x00, 0x2a]) as unknown as string);
    }
    const pub = plain(1);
    for (const p of payloads) expect(await pub.publish(channel, p)).toBe(2);
    await waitFor('all payloads everywhere', () => boxes.every((b) => b.got.length === payloads.length * 2), 10_000);
    for (const b of boxes) {
      const msgs = b.got.filter((m) => m.kind === 'message');
      const pmsgs = b.got.filter((m) => m.kind === 'pmessage');
      expect(msgs.map((m) => m.payload.equals(payloads[msgs.indexOf(m)]!))).toEqual(payloads.map(() => true));
      expect(pmsgs.map((m) => m.payload.equals(payloads[pmsgs.indexOf(m)]!))).toEqual(payloads.map(() => true));
      for (const m of b.got) expect(m.channel.equals(channel)).toBe(true);
    }
    for (const s of subs) s.disconnect();
  });

  it('RESP3 subscribers get push frames for messages published on other nodes', async () => {
    const c = await raw(ctx.ports[2]!);
    expect(Array.isArray(await c.call('HELLO', '3'))).toBe(true);
    c.send('SUBSCRIBE', 'r3');
    expect(await c.next()).toEqual({ push: ['subscribe', 'r3', 1] });
    c.send('PSUBSCRIBE', 'r*');
    expect(await c.next()).toEqual({ push: ['psubscribe', 'r*', 2] });
    const pub = plain(0);
    expect(await pub.publish('r3', 'payload\xff')).toBe(0);
    const frames = [await c.next(), await c.next()];
    expect(frames).toContainEqual({ push: ['message', 'r3', 'payload\xc3\xbf'] });
    expect(frames).toContainEqual({ push: ['pmessage', 'r*', 'r3', 'payload\xc3\xbf'] });
    // PING in subscribed RESP3 mode is a plain reply.
    expect(await c.call('PING')).toBe('PONG');
  });

  it('keyspace notifications stay on the node that owns the key (not broadcast over the bus)', async () => {
    for (const r of ctx.admin) await r.config('SET', 'notify-keyspace-events', 'KEA');
    try {
      const { tag } = tagWhere('ks-', (s) => ownerIdx[s] === 0);
      const subs = [0, 1, 2].map((i) => plain(i));
      const boxes = subs.map(inbox);
      for (const s of subs) await s.psubscribe('__key*__:*');
      await ctx.admin[0]!.set(`{${tag}}k`, 'v');
      await waitFor('the owner reports set', () => boxes[0]!.got.length === 2);
      // A classic PUBLISH afterwards is a marker: once it arrived elsewhere, a forwarded event would have too.
      await ctx.admin[0]!.publish('__keyspace@0__:marker', 'm');
      await waitFor('markers', () => boxes[1]!.got.length >= 1 && boxes[2]!.got.length >= 1);
      await sleep(100);
      expect(boxes[0]!.got.map((m) => `${m.channel}|${m.payload}`)).toEqual([
        `__keyspace@0__:{${tag}}k|set`,
        `__keyevent@0__:set|{${tag}}k`,
        '__keyspace@0__:marker|m',
      ]);
      for (const i of [1, 2]) expect(boxes[i]!.got.map((m) => `${m.channel}|${m.payload}`)).toEqual(['__keyspace@0__:marker|m']);
      for (const s of subs) s.disconnect();
    } finally {
      for (const r of ctx.admin) await r.config('SET', 'notify-keyspace-events', '');
    }
  });
});

describe('sharded pub/sub', () => {
  it('SPUBLISH / SSUBSCRIBE route by slot: MOVED from a non-owner, CROSSSLOT across slots, delivery only at the owner', async () => {
    const { tag, slot } = tagWhere('sh-', (s) => ownerIdx[s] === 1);
    const ch = `{${tag}}ch`;
    const other = tagWhere('sh2-', (s) => s !== slot).tag;
    for (const i of [0, 2]) {
      const c = await raw(ctx.ports[i]!);
      expect(await c.call('SPUBLISH', ch, 'x')).toEqual({ err: `MOVED ${slot} 127.0.0.1:${ctx.ports[1]}` });
      c.send('SSUBSCRIBE', ch);
      expect(await c.next()).toEqual({ err: `MOVED ${slot} 127.0.0.1:${ctx.ports[1]}` });
      expect(await c.call('PING')).toBe('PONG');
    }
    const sub = await raw(ctx.ports[1]!);
    sub.send('SSUBSCRIBE', ch, `{${other}}x`);
    expect(await sub.next()).toEqual({ err: "CROSSSLOT Keys in request don't hash to the same slot" });
    sub.send('SSUBSCRIBE', ch, `{${tag}}two`);
    expect(await sub.next()).toEqual(['ssubscribe', ch, 1]);
    expect(await sub.next()).toEqual(['ssubscribe', `{${tag}}two`, 2]);
    // A classic subscriber of the same name on every node gets nothing from SPUBLISH.
    const classic = [0, 1, 2].map((i) => plain(i));
    const boxes = classic.map(inbox);
    for (const s of classic) await s.subscribe(ch);
    const pub = await raw(ctx.ports[1]!);
    expect(await pub.call('SPUBLISH', ch, 'bin\x00\xff')).toBe(1);
    expect(await sub.next()).toEqual(['smessage', ch, 'bin\x00\xff']);
    expect(await pub.call('SPUBLISH', `{${tag}}nobody`, 'x')).toBe(0);
    expect(await pub.call('PUBSUB', 'SHARDNUMSUB', ch)).toEqual([ch, 1]);
    // ...and SSUBSCRIBE clients get nothing from a classic PUBLISH.
    expect(await ctx.admin[0]!.publish(ch, 'classic')).toBe(1);
    await waitFor('classic delivery', () => boxes.every((b) => b.got.length === 1));
    await sleep(100);
    expect(sub.pending()).toEqual([]);
    for (const s of classic) s.disconnect();
  });

  it('a node that loses a slot pushes sunsubscribe (RESP2 and RESP3); re-subscribing at the new owner works', async () => {
    const { tag, slot } = tagWhere('loss-', (s) => ownerIdx[s] === 0);
    const ch1 = `{${tag}}a`;
    const ch2 = `{${tag}}b`;
    const keep = tagWhere('keep-', (s) => ownerIdx[s] === 0 && s !== slot).tag;
    await ctx.admin[0]!.set(`{${tag}}key`, 'moves too');

    const r2 = await raw(ctx.ports[0]!);
    r2.send('SSUBSCRIBE', ch1, ch2);
    expect([await r2.next(), await r2.next()]).toEqual([['ssubscribe', ch1, 1], ['ssubscribe', ch2, 2]]);
    r2.send('SSUBSCRIBE', `{${keep}}stay`);
    expect(await r2.next()).toEqual(['ssubscribe', `{${keep}}stay`, 3]);
    const r3 = await raw(ctx.ports[0]!);
    expect(Array.isArray(await r3.call('HELLO', '3'))).toBe(true);
    r3.send('SSUBSCRIBE', ch1);
    expect(await r3.next()).toEqual({ push: ['ssubscribe', ch1, 1] });
    // ioredis plain connections (RESP2 and RESP3) report the unsolicited sunsubscribe as 'moved'.
    const io2 = plain(0);
    const io3 = plain(0, { protocol: 3 });
    let moved2 = 0;
    let moved3 = 0;
    io2.on('moved', () => moved2++);
    io3.on('moved', () => moved3++);
    await io2.ssubscribe(ch1);
    await io3.ssubscribe(ch2);

    await moveSlot(ctx, slot, 0, 2);

    expect([await r2.next(), await r2.next()].sort()).toEqual([['sunsubscribe', ch1, 2], ['sunsubscribe', ch2, 1]].sort());
    expect(await r3.next()).toEqual({ push: ['sunsubscribe', ch1, 0] });
    await waitFor('ioredis saw the moves', () => moved2 === 1 && moved3 === 1);
    // The channel of a slot the node kept is still subscribed.
    expect(await ctx.admin[0]!.spublish(`{${keep}}stay`, 'still')).toBe(1);
    expect(await r2.next()).toEqual(['smessage', `{${keep}}stay`, 'still']);
    // The old owner redirects, the new owner serves.
    const old = await raw(ctx.ports[0]!);
    expect(await old.call('SPUBLISH', ch1, 'x')).toEqual({ err: `MOVED ${slot} 127.0.0.1:${ctx.ports[2]}` });
    expect(await ctx.admin[0]!.pubsub('SHARDNUMSUB', ch1, ch2)).toEqual([ch1, 0, ch2, 0]);

    const n2 = await raw(ctx.ports[2]!);
    n2.send('SSUBSCRIBE', ch1, ch2);
    expect([await n2.next(), await n2.next()]).toEqual([['ssubscribe', ch1, 1], ['ssubscribe', ch2, 2]]);
    const n3 = await raw(ctx.ports[2]!);
    await n3.call('HELLO', '3');
    n3.send('SSUBSCRIBE', ch1);
    expect(await n3.next()).toEqual({ push: ['ssubscribe', ch1, 1] });
    expect(await ctx.admin[2]!.spublish(ch1, 'at the new owner')).toBe(2);
    expect(await n2.next()).toEqual(['smessage', ch1, 'at the new owner']);
    expect(await n3.next()).toEqual({ push: ['smessage', ch1, 'at the new owner'] });
    expect(await ctx.admin[2]!.get(`{${tag}}key`)).toBe('moves too');
    // Nothing else was pushed to the old subscribers.
    await sleep(100);
    expect(r2.pending()).toEqual([]);
    expect(r3.pending()).toEqual([]);
  });

  it('ioredis Cluster (shardedSubscribers) and node-redis createCluster keep a sharded subscription across a slot move', async () => {
    const { tag, slot } = tagWhere('cl-', (s) => ownerIdx[s] === 1);
    const ch = `{${tag}}feed`;
    expect(keyHashSlot(ch)).toBe(slot);
    const io = new Cluster([{ host: '127.0.0.1', port: ctx.ports[0]! }], { shardedSubscribers: true, retryDelayOnMoved: 0 });
    closers.push(() => io.disconnect());
    const nr = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port: ctx.ports[2]! } }] });
    nr.on('error', () => undefined);
    await nr.connect();
    closers.push(() => nr.close().catch(() => undefined));

    const ioGot: string[] = [];
    const nrGot: string[] = [];
    io.on('smessage', (c: string, m: string) => {
      if (c === ch) ioGot.push(m);
    });
    await io.ssubscribe(ch);
    await nr.sSubscribe(ch, (m: string) => nrGot.push(m));

    expect(await io.spublish(ch, 'one')).toBe(2);
    await waitFor('first message', () => ioGot.includes('one') && nrGot.includes('one'));

    await moveSlot(ctx, slot, 1, 0);

    // The clients re-subscribe at the new owner on their own (after the sunsubscribe push).
    let n = 0;
    await waitFor(
      'delivery after the move',
      async () => {
        const m = `after-${n++}`;
        await nr.sPublish(ch, m);
        await sleep(50);
        return ioGot.includes(m) && nrGot.includes(m);
      },
      10_000,
    );
    expect(await ctx.admin[0]!.pubsub('SHARDNUMSUB', ch)).toEqual([ch, 2]);
    expect(await ctx.admin[1]!.pubsub('SHARDNUMSUB', ch)).toEqual([ch, 0]);
    // Exactly once per publish from now on.
    const ioBefore = ioGot.length;
    const nrBefore = nrGot.length;
    for (let i = 0; i < 20; i++) await io.spublish(ch, `x${i}`);
    await waitFor('20 more', () => ioGot.length === ioBefore + 20 && nrGot.length === nrBefore + 20);
    expect(ioGot.slice(ioBefore)).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}`));
    expect(nrGot.slice(nrBefore)).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}`));
  });
});
