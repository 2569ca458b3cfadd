/**
 * The gateway's WebSocket endpoints against a real 3-primary cluster, with the `ws` package as the
 * client (what a browser speaks): JSON frames (ids echoed, replies in request order, errors), RESP
 * over WebSocket (path or subprotocol, RESP2 subscribed-mode rules, HELLO 3 pushes, protocol errors),
 * SELECT isolation between sessions and REST, MULTI/EXEC queued in the session, token auth (header
 * and ?_token, read-only and channel-restricted tokens, db limits), the Origin allowlist, and the
 * documented close codes: 4001, 4003, 1009 (frame too big), 4008 (slow consumer, while a fast socket
 * on the same channel receives everything; a slow SSE stream is cut too), heartbeat termination and
 * 1001 on shutdown.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/src/app';
import { startCluster, waitFor } from '../helpers/cluster';
import { JsonWs, RespWs, metricValue } from '../helpers/gateway-ws';
import type { NodeHandle } from '../helpers/node';

const RW = 'rw-token-1';
const RO = 'ro-token-1';
const CHAT = 'chat-token-1';
const DBS = 'db-token-01';

let nodes: NodeHandle[];
const gateways: Gateway[] = [];
let gw: Gateway;
let base: string;
let wsBase: string;
const sockets: Array<{ close(): void }> = [];

function track<T extends { close(): void }>(s: T): T {
  sockets.push(s);
  return s;
}

async function gateway(extra: Partial<GatewayOptions> = {}): Promise<{ gw: Gateway; http: string; ws: string }> {
  const g = await startGateway({
    port: 0,
    seeds: [{ host: '127.0.0.1', port: nodes[0]!.port }],
    tokens: [
      { token: RW, role: 'read-write' },
      { token: RO, role: 'read-only' },
      { token: CHAT, role: 'read-write', channels: ['chat:*'] },
      { token: DBS, role: 'read-write', dbs: [0, 1] },
    ],
    processMetrics: false,
    ...extra,
  });
  gateways.push(g);
  const port = (g.app.server.address() as AddressInfo).port;
  return { gw: g, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

async function rest(cmd: string[], token = RW, path = '/'): Promise<{ status: number; body: { result?: unknown; error?: string } }> {
  const r = await fetch(base + path, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(cmd) });
  return { status: r.status, body: (await r.json()) as { result?: unknown; error?: string } };
}

async function metrics(g: Gateway): Promise<string> {
  return g.metrics.registry.metrics();
}

const json = (path = '/ws', token: string | null = RW, opts: Parameters<typeof JsonWs.open>[1] = {}) =>
  JsonWs.open(`${wsBase}${path}${token ? `${path.includes('?') ? '&' : '?'}_token=${token}` : ''}`, opts).then(track);

beforeAll(async () => {
  nodes = await startCluster(3);
  const g = await gateway();
  gw = g.gw;
  base = g.http;
  wsBase = g.ws;
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  for (const g of gateways) await g.close().catch(() => {});
});

describe('JSON frames', () => {
  it('runs commands with ids echoed, bare arrays, number/boolean args, replies in request order, clear errors', async () => {
    const c = await JsonWs.open(`${wsBase}/ws`, { headers: { authorization: `Bearer ${RW}` } }).then(track);
    c.sendRaw(['SET', 'wk', 1]);
    c.sendRaw(['SET', 'wb', true]);
    expect(await c.call('GET', 'wk')).toMatchObject({ result: '1' });
    expect(c.frames.slice(0, 2)).toEqual([{ result: 'OK' }, { result: 'OK' }]);
    expect(await c.result('GET', 'wb')).toBe('true');
    // Any JSON value as id.
    c.sendRaw({ id: { a: [1, 'x'] }, cmd: ['ECHO', 'hi'] });
    await c.until('the echo', () => c.frames.some((f) => f.result === 'hi'));
    expect(c.frames.find((f) => f.result === 'hi')).toEqual({ id: { a: [1, 'x'] }, result: 'hi' });

    // 300 pipelined commands over several slots: replies come back in request order.
    const before = c.frames.length;
    for (let i = 0; i < 300; i++) c.sendRaw({ id: i, cmd: i % 3 === 2 ? ['GET', `other${i}`] : ['INCR', `{seq}n${i % 3}`] });
    await c.until('300 replies', () => c.frames.length >= before + 300);
    const got = c.frames.slice(before);
    expect(got.map((f) => f.id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(got.filter((_, i) => i % 3 === 0).map((f) => f.result)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));

    expect((await c.call('NOSUCH', 'a')).error).toMatch(/^ERR unknown command 'NOSUCH'/);
    expect((await c.call('GET')).error).toBe("ERR wrong number of arguments for 'get' command");
    expect((await c.call('BLPOP', 'l', 0)).error).toMatch(/blocks a connection/);
    await c.call('HSET', 'wh', 'f', 'v');
    expect(await c.result('HGETALL', 'wh')).toEqual(['f', 'v']);
    expect(await c.result('GET', 'nope')).toBeNull();
    c.sendRaw('not json');
    c.sendRaw({ id: 9, cmd: 'GET' });
    c.sendRaw({ id: 10, cmd: ['GET', null] });
    await c.until('three errors', () => c.frames.filter((f) => f.error !== undefined).length >= 6);
    const errs = c.frames.filter((f) => f.error !== undefined).slice(-3);
    expect(errs[0]!.error).toMatch(/^invalid JSON frame/);
    expect(errs[0]!.id).toBeUndefined();
    expect(errs[1]).toMatchObject({ id: 9 });
    expect(errs[2]).toMatchObject({ id: 10, error: 'argument 1 must be a string, number or boolean, not null' });
    // The socket is still usable.
    expect(await c.result('PING')).toBe('PONG');
  });
});

describe('RESP over WebSocket', () => {
  it('is chosen by path or by subprotocol (echoed); replies are RESP; binary safe', async () => {
    const a = await RespWs.open(`${wsBase}/ws/resp?_token=${RW}`).then(track);
    expect(await a.call('SET', 'rk', 'v1')).toBe('OK');
    expect(await a.call('GET', 'rk')).toBe('v1');
    expect(await a.call('GET', 'missing')).toBeNull();
    expect(await a.call('INCR', 'rn')).toBe(1);
    expect(await a.call('NOSUCH')).toEqual({ err: expect.stringMatching(/^ERR unknown command 'NOSUCH', with args beginning with:/) });
    const bytes = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0xc3, 0x28]);
    expect(await a.call('SET', Buffer.from([0x62, 0xfe]), bytes)).toBe('OK');
    expect(await a.call('GET', Buffer.from([0x62, 0xfe]))).toBe(bytes.toString('latin1'));
    // Inline commands work too (a stream of RESP, as on TCP).
    a.ws.send(Buffer.from('PING\r\n'));
    expect(await a.next()).toBe('PONG');

    const b = await RespWs.open(`${wsBase}/ws?_token=${RW}`, { protocols: ['redis-resp'] }).then(track);
    expect(b.ws.protocol).toBe('redis-resp');
    expect(await b.call('GET', 'rk')).toBe('v1');
    const j = await json('/ws', RW, { protocols: ['redis-json'] });
    expect(j.ws.protocol).toBe('redis-json');
    expect(await j.result('GET', 'rk')).toBe('v1');
  });

  it('RESP2: a subscribed socket may only (un)subscribe, PING, QUIT, RESET; messages are arrays', async () => {
    const s = await RespWs.open(`${wsBase}/ws/resp?_token=${RW}`).then(track);
    expect(await s.call('SUBSCRIBE', 'r2chan')).toEqual(['subscribe', 'r2chan', 1]);
    expect(await s.call('GET', 'rk')).toEqual({ err: "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context" });
    expect(await s.call('PING')).toEqual(['pong', '']);
    expect((await rest(['PUBLISH', 'r2chan', 'hello'])).status).toBe(200);
    expect(await s.next()).toEqual(['message', 'r2chan', 'hello']);
    expect(await s.call('UNSUBSCRIBE')).toEqual(['unsubscribe', 'r2chan', 0]);
    expect(await s.call('GET', 'rk')).toBe('v1');
    expect(await s.call('PSUBSCRIBE', 'r2*')).toEqual(['psubscribe', 'r2*', 1]);
    expect(await s.call('RESET')).toBe('RESET');
    expect(await s.call('GET', 'rk')).toBe('v1');
    s.send('QUIT');
    expect(await s.next()).toBe('OK');
    expect((await s.closed).code).toBe(1000);
  });

  it('RESP3 after HELLO 3: pushes are > frames and commands work while subscribed', async () => {
    const s = await RespWs.open(`${wsBase}/ws/resp?_token=${RW}`).then(track);
    const hello = (await s.call('HELLO', '3')) as unknown[];
    expect(hello).toEqual(expect.arrayContaining(['proto', 3, 'mode', 'cluster']));
    s.send('SUBSCRIBE', 'r3chan');
    expect(await s.next()).toEqual({ push: ['subscribe', 'r3chan', 1] });
    s.send('PSUBSCRIBE', 'r3*');
    expect(await s.next()).toEqual({ push: ['psubscribe', 'r3*', 2] });
    expect(await s.call('GET', 'rk')).toBe('v1');
    expect(await s.call('GET', 'missing')).toBeNull();
    // PUBLISH from this very socket: the subscription is live before the PUBLISH runs.
    expect(typeof (await s.call('PUBLISH', 'r3chan', 'x3'))).toBe('number');
    const allPushes = () => (s.frames.filter((f) => f !== null && typeof f === 'object' && 'push' in f) as Array<{ push: unknown }>).filter((f): f is { push: unknown[] } => Array.isArray(f.push));
    await s.until('both pushes', () => allPushes().some((f) => f.push[0] === 'message') && allPushes().some((f) => f.push[0] === 'pmessage'));
    // Exactly these pushes, each once (the message and pmessage may come in either order).
    const kinds = allPushes().map((f) => JSON.stringify(f.push)).sort();
    expect(kinds).toEqual(
      [['message', 'r3chan', 'x3'], ['pmessage', 'r3*', 'r3chan', 'x3'], ['psubscribe', 'r3*', 2], ['subscribe', 'r3chan', 1]].map((p) => JSON.stringify(p)).sort(),
    );
  });

  it('a protocol error is answered -ERR Protocol error and the socket closed (1002)', async () => {
    const s = await RespWs.open(`${wsBase}/ws/resp?_token=${RW}`).then(track);
    expect(await s.call('PING')).toBe('PONG');
    s.ws.send(Buffer.from('*1\r\n$x\r\n'));
    expect(await s.next()).toEqual({ err: 'ERR Protocol error: invalid bulk length' });
    expect((await s.closed).code).toBe(1002);
  });
});

describe('session state', () => {
  it('SELECT switches only its own session: other sockets and REST calls keep their db', async () => {
    const a = await json();
    const b = await json();
    const c = await json('/db/2/ws');
    expect(await a.result('SELECT', 1)).toBe('OK');
    for (let i = 0; i < 50; i++) {
      a.sendRaw(['SET', 'dbk', `a${i}`]);
      b.sendRaw(['SET', 'dbk', `b${i}`]);
      c.sendRaw(['SET', 'dbk', `c${i}`]);
    }
    expect(await a.result('GET', 'dbk')).toBe('a49');
    expect(await b.result('GET', 'dbk')).toBe('b49');
    expect(await c.result('GET', 'dbk')).toBe('c49');
    expect((await rest(['GET', 'dbk'])).body.result).toBe('b49');
    expect((await rest(['GET', 'dbk'], RW, '/db/1')).body.result).toBe('a49');
    expect((await rest(['GET', 'dbk'], RW, '/db/2')).body.result).toBe('c49');
    expect(await a.result('SELECT', 0)).toBe('OK');
    expect(await a.result('GET', 'dbk')).toBe('b49');
    expect((await a.call('SELECT', 99)).error).toBe('ERR DB index is out of range');
    expect((await a.call('SELECT', 'x')).error).toBe('ERR value is not an integer or out of range');
    // A token limited to dbs 0 and 1.
    const d = await json('/ws', DBS);
    expect(await d.result('SELECT', 1)).toBe('OK');
    expect((await d.call('SELECT', 3)).error).toMatch(/may not use db 3/);
    expect(await d.result('GET', 'dbk')).toBe('a49');
    const refused = await JsonWs.open(`${wsBase}/db/3/ws?_token=${DBS}`).then(track);
    expect((await refused.closed).code).toBe(4003);
  });

  it('MULTI/EXEC/DISCARD are queued in the session and run on one shard; WATCH is refused', async () => {
    const c = await json();
    expect(await c.result('MULTI')).toBe('OK');
    expect(await c.result('INCR', '{tx}a')).toBe('QUEUED');
    expect(await c.result('INCR', '{tx}a')).toBe('QUEUED');
    expect(await c.result('GET', '{tx}a')).toBe('QUEUED');
    expect(await c.result('EXEC')).toEqual([1, 2, '2']);
    // Keys in two slots.
    await c.call('MULTI');
    await c.call('SET', '{tx}x', 1);
    await c.call('SET', '{other}y', 2);
    expect((await c.call('EXEC')).error).toMatch(/^CROSSSLOT/);
    // An error while queueing aborts the transaction.
    await c.call('MULTI');
    expect((await c.call('NOSUCH')).error).toMatch(/unknown command/);
    await c.call('SET', '{tx}z', 1);
    expect((await c.call('EXEC')).error).toBe('EXECABORT Transaction discarded because of previous errors.');
    await c.call('MULTI');
    await c.call('SET', '{tx}z', 1);
    expect(await c.result('DISCARD')).toBe('OK');
    expect(await c.result('GET', '{tx}z')).toBeNull();
    expect((await c.call('EXEC')).error).toBe('ERR EXEC without MULTI');
    expect((await c.call('DISCARD')).error).toBe('ERR DISCARD without MULTI');
    expect((await c.call('WATCH', '{tx}a')).error).toMatch(/^ERR WATCH is not supported/);
    await c.call('MULTI');
    expect((await c.call('MULTI')).error).toBe('ERR MULTI calls can not be nested');
    expect((await c.call('SELECT', 1)).error).toBe('ERR Command not allowed inside a transaction');
    await c.call('DISCARD');
    // A transaction in the session's db.
    await c.call('SELECT', 1);
    await c.call('MULTI');
    await c.call('SET', '{tx}d', 'in-db-1');
    expect(await c.result('EXEC')).toEqual(['OK']);
    expect((await rest(['GET', '{tx}d'], RW, '/db/1')).body.result).toBe('in-db-1');
    expect((await rest(['GET', '{tx}d'])).body.result).toBeNull();
    // RESP sessions get RESP replies.
    const r = await RespWs.open(`${wsBase}/ws/resp?_token=${RW}`).then(track);
    expect(await r.call('MULTI')).toBe('OK');
    expect(await r.call('INCR', '{tx}r')).toBe('QUEUED');
    expect(await r.call('EXEC')).toEqual([1]);
  });
});

describe('auth and permissions', () => {
  it('takes the token from the Authorization header or ?_token=, and closes 4001 without a valid one', async () => {
    const h = await JsonWs.open(`${wsBase}/ws`, { headers: { authorization: `Bearer ${RW}` } }).then(track);
    expect(await h.result('PING')).toBe('PONG');
    const q = await json('/ws', RW);
    expect(await q.result('PING')).toBe('PONG');
    for (const url of [`${wsBase}/ws`, `${wsBase}/ws?_token=wrong-token`]) {
      const c = await JsonWs.open(url).then(track);
      const closed = await c.closed;
      expect(closed.code).toBe(4001);
      expect(closed.reason).toMatch(/Unauthorized/);
    }
    const rr = await RespWs.open(`${wsBase}/ws/resp`, { headers: { authorization: 'Bearer nope-nope' } }).then(track);
    expect((await rr.closed).code).toBe(4001);
    expect(metricValue(await metrics(gw), 'gateway_ws_closed_total', { reason: 'auth' })).toBeGreaterThanOrEqual(3);
  });

  it('a read-only token reads and subscribes but cannot SET or PUBLISH; a channel-restricted token stays in its channels', async () => {
    const ro = await json('/ws', RO);
    expect(await ro.result('GET', 'rk')).toBe('v1');
    expect((await ro.call('SET', 'rk', 'x')).error).toBe('command SET is not allowed for a read-only token');
    expect((await ro.call('PUBLISH', 'news', 'x')).error).toBe('command PUBLISH is not allowed for a read-only token');
    expect((await ro.call('SPUBLISH', 'news', 'x')).error).toBe('command SPUBLISH is not allowed for a read-only token');
    expect(await ro.result('SUBSCRIBE', 'news')).toBe(1);
    const rr = await RespWs.open(`${wsBase}/ws/resp?_token=${RO}`).then(track);
    expect(await rr.call('SET', 'rk', 'x')).toEqual({ err: 'NOPERM command SET is not allowed for a read-only token' });

    const chat = await json('/ws', CHAT);
    expect(await chat.result('SUBSCRIBE', 'chat:1')).toBe(1);
    expect(await chat.result('PSUBSCRIBE', 'chat:*')).toBe(2);
    expect((await chat.call('SUBSCRIBE', 'news')).error).toBe("token read-write-2 may not use channel 'news' (command SUBSCRIBE)");
    expect((await chat.call('SSUBSCRIBE', 'news')).error).toMatch(/may not use channel 'news'/);
    expect((await chat.call('PUBLISH', 'news', 'x')).error).toMatch(/may not use channel 'news'/);
    expect(typeof (await chat.result('PUBLISH', 'chat:1', 'hi'))).toBe('number');
    await chat.until('own message and pmessage', () => chat.messages().length >= 2);
    expect(chat.messages()).toEqual(
      expect.arrayContaining([
        { type: 'message', channel: 'chat:1', data: 'hi' },
        { type: 'pmessage', pattern: 'chat:*', channel: 'chat:1', data: 'hi' },
      ]),
    );
    // The refused subscription did not count.
    expect(chat.pushes('subscribe').map((p) => p.channel)).toEqual(['chat:1']);
  });
});

describe('limits and close codes', () => {
  it('applies the Origin allowlist (4003); clients without Origin are not browsers and pass', async () => {
    const g = await gateway({ origins: ['http://good.example'] });
    const bad = await JsonWs.open(`${g.ws}/ws?_token=${RW}`, { origin: 'http://evil.example' }).then(track);
    expect(await bad.closed).toEqual({ code: 4003, reason: 'origin http://evil.example is not allowed' });
    const good = await JsonWs.open(`${g.ws}/ws?_token=${RW}`, { origin: 'http://good.example' }).then(track);
    expect(await good.result('PING')).toBe('PONG');
    const none = await JsonWs.open(`${g.ws}/ws?_token=${RW}`).then(track);
    expect(await none.result('PING')).toBe('PONG');
    // Not a WebSocket endpoint.
    await expect(JsonWs.open(`${g.ws}/nope?_token=${RW}`)).rejects.toThrow('HTTP 404');
  });

  it('closes 1009 on a frame over wsMaxFrame', async () => {
    const g = await gateway({ wsMaxFrame: 64 * 1024 });
    const c = await JsonWs.open(`${g.ws}/ws?_token=${RW}`).then(track);
    expect(await c.result('SET', 'small', 'x'.repeat(60_000))).toBe('OK');
    c.sendRaw(['SET', 'big', 'x'.repeat(70_000)]);
    expect((await c.closed).code).toBe(1009);
    await waitFor('the metric', async () => metricValue(await metrics(g.gw), 'gateway_ws_closed_total', { reason: 'frame_too_large' }) === 1);
  });

  it('closes a slow consumer with 4008 (and cuts a slow SSE stream) while a fast socket on the same channel receives every message', async () => {
    const limit = 256 * 1024;
    const g = await gateway({ wsQueueLimit: limit });
    const slow = await JsonWs.open(`${g.ws}/ws?_token=${RW}`).then(track);
    const fast = await JsonWs.open(`${g.ws}/ws?_token=${RW}`).then(track);
    expect(await slow.result('SUBSCRIBE', 'firehose')).toBe(1);
    expect(await fast.result('SUBSCRIBE', 'firehose')).toBe(1);
    slow.ws.pause(); // stops reading: kernel buffers fill, then the gateway's queue
    // An SSE stream on the same channel whose body is never read.
    const ac = new AbortController();
    const stream = await fetch(`${g.http}/subscribe/firehose`, { headers: { authorization: `Bearer ${RW}` }, signal: ac.signal });
    expect(stream.status).toBe(200);
    await waitFor('the stream subscribed', () => g.gw.hub.listeners('channel', 'firehose') === 3);
    const payload = 'p'.repeat(16 * 1024);
    let sent = 0;
    // Publish in batches until the gateway gives up on the slow socket (bounded: 64 MB at most).
    for (let batch = 0; batch < 80; batch++) {
      const cmds = Array.from({ length: 50 }, () => ['PUBLISH', 'firehose', `${sent++}:${payload}`]);
      const r = await fetch(`${g.http}/pipeline`, { method: 'POST', headers: { authorization: `Bearer ${RW}` }, body: JSON.stringify(cmds) });
      expect(r.status).toBe(200);
      if (metricValue(await metrics(g.gw), 'gateway_dropped_messages_total', { reason: 'slow_consumer' }) >= 2) break;
    }
    await waitFor('both slow consumers cut off', async () => metricValue(await metrics(g.gw), 'gateway_dropped_messages_total', { reason: 'slow_consumer' }) >= 2);
    await waitFor('the stream gone', async () => metricValue(await metrics(g.gw), 'gateway_sse_connections') === 0);
    ac.abort();
    // The fast socket got every message exactly once (PUBLISH runs on any node, so a pipeline's
    // messages reach the gateway's subscription over different bus links: order is not compared).
    await fast.until(`${sent} messages on the fast socket`, () => fast.messages().length >= sent, 30_000);
    const nums = fast.messages().map((m) => Number(m.data!.slice(0, m.data!.indexOf(':'))));
    expect(nums.sort((x, y) => x - y)).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(await fast.result('PING')).toBe('PONG');
    // The slow one, once it reads again, finds the close code after what was queued.
    slow.ws.resume();
    expect((await slow.closed).code).toBe(4008);
    expect(slow.messages().length).toBeLessThan(sent);
    await waitFor('the close metric', async () => metricValue(await metrics(g.gw), 'gateway_ws_closed_total', { reason: 'slow_consumer' }) === 1);
    // Its subscription is released; the fast one keeps the channel alive.
    expect(g.gw.hub.listeners('channel', 'firehose')).toBe(1);
  }, 60_000);

  it('terminates a peer that stops answering pings; shutdown closes the rest with 1001', async () => {
    const g = await gateway({ wsHeartbeatMs: 150 });
    const dead = await JsonWs.open(`${g.ws}/ws?_token=${RW}`, { autoPong: false }).then(track);
    const live = await JsonWs.open(`${g.ws}/ws?_token=${RW}`).then(track);
    const r = await RespWs.open(`${g.ws}/ws/resp?_token=${RW}`).then(track);
    expect((await dead.closed).code).toBe(1006);
    await waitFor('the heartbeat metric', async () => metricValue(await metrics(g.gw), 'gateway_ws_closed_total', { reason: 'heartbeat' }) === 1);
    expect(live.closedWith).toBeNull();
    expect(await live.result('PING')).toBe('PONG');
    await g.gw.close();
    expect(await live.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect((await r.closed).code).toBe(1001);
  });
});
