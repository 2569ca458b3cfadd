/**
 * The browser side, in a real headless Chromium: the live cluster page at `/` against a real cluster
 * (3 primaries + 3 replicas) and an in-process gateway (shards, slot coverage, the pub/sub console, a
 * migration and a failover showing up as they happen), and /client.js (reconnect and automatic
 * resubscribe across a gateway restart). The client's reconnect rules are also checked against a
 * scripted WebSocket server, which can close with any code at any moment; /cluster/events against a
 * stand-in cluster client (event order, a consumer that stops reading is dropped).
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import Fastify from 'fastify';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/src/app';
import { Auth } from '../../gateway/src/auth';
import type { ClusterClient } from '../../gateway/src/cluster/client';
import { Topology } from '../../gateway/src/cluster/topology';
import { GatewayMetrics } from '../../gateway/src/metrics';
import { registerClusterEvents } from '../../gateway/src/rest/cluster-events';
import { createCluster, startClusterNodes, waitClusterOk, waitFor, cli } from '../helpers/cluster';
import { clusterNodes } from '../helpers/cluster-cli-util';
import { ROOT, type NodeHandle } from '../helpers/node';

const TOKEN = 'secret123';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  context = await browser.newContext();
}, 30_000);

afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
});

/**
 * Load /client.js into the page as `window.gwc`. A string, not a function: vitest rewrites `import()`
 * inside test code, and the rewrite does not exist in the browser.
 */
async function loadClient(page: Page): Promise<void> {
  await page.evaluate("import('/client.js').then((m) => { window.gwc = m; })");
}

/** A page that reports its console errors and uncaught exceptions into `errors`. */
async function newPage(errors: string[] = []): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return page;
}

// ---- client.js against a scripted server -------------------------------------------------------

interface ScriptedConn {
  ws: WebSocket;
  url: string;
  frames: Array<{ id: unknown; cmd: string[] }>;
  at: number;
}

/** An HTTP server serving a blank page and /client.js, with a WebSocket server that records frames. */
async function scriptedServer(): Promise<{ port: number; conns: ScriptedConn[]; hold: Set<string>; closeOnConnect: { code: number } | null; close(): Promise<void> }> {
  const clientJs = readFileSync(path.join(ROOT, 'gateway/public/client.js'));
  const server = http.createServer((req, res) => {
    if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'application/javascript' }).end(clientJs);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>scripted</title>');
  });
  const wss = new WebSocketServer({ server });
  const state = {
    port: 0,
    conns: [] as ScriptedConn[],
    /** Command names the server does not answer (to leave a command in flight). */
    hold: new Set<string>(),
    closeOnConnect: null as { code: number } | null,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      // The browser keeps its HTTP keep-alive sockets per context, after the page is closed: close them
      // here instead of waiting for them to time out (server.close waits for every connection).
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
  wss.on('connection', (ws, req) => {
    const conn: ScriptedConn = { ws, url: req.url ?? '', frames: [], at: Date.now() };
    state.conns.push(conn);
    if (state.closeOnConnect) {
      ws.close(state.closeOnConnect.code, 'scripted');
      return;
    }
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { id: unknown; cmd: string[] };
      conn.frames.push(msg);
      const name = msg.cmd[0]!.toUpperCase();
      if (state.hold.has(name)) return;
      if (/^[PS]?SUBSCRIBE$/.test(name)) {
        const type = name.toLowerCase();
        msg.cmd.slice(1).forEach((c, i) => ws.send(JSON.stringify({ type, [type === 'psubscribe' ? 'pattern' : 'channel']: c, count: i + 1 })));
      }
      ws.send(JSON.stringify({ id: msg.id, result: name === 'PING' ? 'PONG' : 'OK' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

describe('client.js against a scripted server', () => {
  let srv: Awaited<ReturnType<typeof scriptedServer>>;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    srv = await scriptedServer();
    page = await newPage(errors);
    await page.goto(`http://127.0.0.1:${srv.port}/`);
    await loadClient(page);
  });

  afterAll(async () => {
    await page?.evaluate(() => (window as unknown as { c?: { close(): void } }).c?.close()).catch(() => {});
    await page?.close();
    await srv?.close();
  });

  it('after a non-fatal close: rejects the command in flight, reconnects, resubscribes everything, then sends what was queued', async () => {
    srv.hold.add('GET');
    await page.evaluate(async (port) => {
      const w = window as any;
      const { connect } = w.gwc;
      w.got = [];
      w.events = [];
      const c = connect(`ws://127.0.0.1:${port}/ws`, { token: 't 1', minDelayMs: 300, maxDelayMs: 600 });
      w.c = c;
      c.on('close', (i: any) => {
        w.events.push(`close ${i.code} ${i.willReconnect}`);
        // Issued while disconnected: waits and goes out after the reconnect.
        w.queued = c.call('SET', 'q', 1).then((r: unknown) => `ok ${r}`, (e: any) => `err ${e.code}`);
      });
      c.on('reconnect', (i: any) => w.events.push(`reconnect ${i.reconnects}`));
      const subs = [
        c.subscribe('news', (d: string, ch: string) => w.got.push(`message ${ch} ${d}`)),
        c.psubscribe('p.*', (d: string, ch: string, p: string) => w.got.push(`pmessage ${p} ${ch} ${d}`)),
        c.ssubscribe('{s}1', (d: string, ch: string) => w.got.push(`smessage ${ch} ${d}`)),
        c.ssubscribe('{t}2', (d: string, ch: string) => w.got.push(`smessage ${ch} ${d}`)),
      ];
      await Promise.all(subs.map((s) => s.ready));
      w.inflight = c.call('GET', 'k').then((r: unknown) => `ok ${r}`, (e: any) => `err ${e.code} sent=${e.sent}`);
    }, srv.port);
    await waitFor('the GET to reach the server', () => srv.conns[0]?.frames.some((f) => f.cmd[0] === 'GET') ?? false);
    expect(srv.conns[0]!.url).toBe('/ws?_token=t+1');
    expect(srv.conns[0]!.frames.map((f) => f.cmd.join(' '))).toEqual(['SUBSCRIBE news', 'PSUBSCRIBE p.*', 'SSUBSCRIBE {s}1', 'SSUBSCRIBE {t}2', 'GET k']);

    srv.conns[0]!.ws.close(4008, 'slow consumer');
    expect(await page.evaluate(() => (window as any).inflight)).toBe('err CONNECTION_LOST sent=true');
    await waitFor('the reconnect', () => page.evaluate(() => (window as any).events.includes('reconnect 1')), 5000);
    expect(srv.conns.length).toBe(2);
    expect(srv.conns[1]!.at - srv.conns[0]!.at).toBeGreaterThanOrEqual(140); // backoff: [minDelay/2, minDelay]
    await waitFor('the queued SET to be answered', () => page.evaluate(async () => (await (window as any).queued) === 'ok OK'));
    // Resubscribed (shard channels one per command: they may live in different slots), before the queued SET.
    expect(srv.conns[1]!.frames.map((f) => f.cmd.join(' '))).toEqual(['SUBSCRIBE news', 'PSUBSCRIBE p.*', 'SSUBSCRIBE {s}1', 'SSUBSCRIBE {t}2', 'SET q 1']);
    expect(await page.evaluate(() => (window as any).events)).toEqual(['close 4008 true', 'reconnect 1']);

    const ws = srv.conns[1]!.ws;
    ws.send(JSON.stringify({ type: 'message', channel: 'news', data: 'n1' }));
    ws.send(JSON.stringify({ type: 'pmessage', pattern: 'p.*', channel: 'p.x', data: 'p1' }));
    ws.send(JSON.stringify({ type: 'smessage', channel: '{s}1', data: 's1' }));
    ws.send(JSON.stringify({ type: 'message', channel: 'other', data: 'not subscribed' }));
    await waitFor('3 messages', () => page.evaluate(() => (window as any).got.length >= 3));
    expect(await page.evaluate(() => (window as any).got)).toEqual(['message news n1', 'pmessage p.* p.x p1', 'smessage {s}1 s1']);

    // The server drops a shard channel by itself (its slot moved): the client subscribes again.
    ws.send(JSON.stringify({ type: 'sunsubscribe', channel: '{s}1', count: 0 }));
    await waitFor('SSUBSCRIBE again', () => srv.conns[1]!.frames.filter((f) => f.cmd.join(' ') === 'SSUBSCRIBE {s}1').length === 2);
    expect(errors).toEqual([]);
    srv.hold.clear();
    await page.evaluate(() => (window as any).c.close());
  });

  it('backs off exponentially with jitter, capped', async () => {
    srv.closeOnConnect = { code: 1001 };
    const first = srv.conns.length;
    await page.evaluate((port) => {
      (window as any).c = (window as any).gwc.connect(`ws://127.0.0.1:${port}/ws`, { minDelayMs: 100, maxDelayMs: 400 });
    }, srv.port);
    await waitFor('6 attempts', () => srv.conns.length - first >= 6, 10_000);
    await page.evaluate(() => (window as any).c.close());
    const at = srv.conns.slice(first).map((c) => c.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // Delays are drawn from [d/2, d] with d = 100, 200, 400, 400, 400 (timers never fire early).
    [50, 100, 200, 200, 200].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 5));
    expect(Math.max(...gaps)).toBeLessThan(1500);
    srv.closeOnConnect = null;
  });

  it.each([
    [4001, 'unauthorized'],
    [4003, 'forbidden'],
    [1008, 'invalid database'],
  ])('close code %i (%s) is fatal: no reconnect, waiting commands rejected', async (code, text) => {
    srv.closeOnConnect = { code };
    const first = srv.conns.length;
    const out = await page.evaluate(async (port) => {
      const c = (window as any).gwc.connect(`ws://127.0.0.1:${port}/ws`, { minDelayMs: 20 });
      const events: string[] = [];
      c.on('close', (i: any) => events.push(`close ${i.code} fatal=${i.fatal} willReconnect=${i.willReconnect}`));
      c.on('error', (e: Error) => events.push(`error ${e.message}`));
      const call = c.call('GET', 'k').then(() => 'ok', (e: any) => `err ${e.code}`);
      const sub = c.subscribe('x', () => {});
      const ready = sub.ready.then(() => 'ok', (e: any) => `err ${e.code}`);
      const r = { call: await call, ready: await ready };
      await new Promise((res) => setTimeout(res, 300));
      return { ...r, events, state: c.state };
    }, srv.port);
    expect(srv.conns.length - first).toBe(1);
    expect(out.call).toBe('err FATAL');
    expect(out.ready).toBe('err FATAL');
    expect(out.state).toBe('closed');
    expect(out.events[0]).toBe(`close ${code} fatal=true willReconnect=false`);
    expect(out.events[1]).toContain(text);
    srv.closeOnConnect = null;
  });
});

// ---- /cluster/events with a stand-in cluster client ----------------------------------------------

describe('GET /cluster/events', () => {
  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);
  /** CLUSTER NODES of one shard: A on 7000, B on 7001, `primary` owning every slot. */
  const nodesText = (primary: string): string => {
    const line = (id: string, port: number): string =>
      id === primary ? `${id} 127.0.0.1:${port}@1${port} master - 0 0 1 connected 0-16383` : `${id} 127.0.0.1:${port}@1${port} slave ${primary} 0 0 1 connected`;
    return `${line(A, 7000)}\n${line(B, 7001)}\n`;
  };

  it('sends the topology on connect and on change, migrations and failovers; drops a consumer that does not read', async () => {
    const client = Object.assign(new EventEmitter(), { topology: Topology.parse(nodesText(A)) });
    const metrics = new GatewayMetrics({ processMetrics: false });
    const app = Fastify();
    registerClusterEvents(app, { client: client as unknown as ClusterClient, auth: new Auth([{ token: TOKEN, role: 'read-only' }]), metrics, queueLimit: 64 * 1024, pollMs: 50 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    try {
      // A reader.
      let text = '';
      const req = http.get(`http://127.0.0.1:${port}/cluster/events?_token=${TOKEN}`, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
      });
      req.on('error', () => {});
      const events = (): Array<{ event: string; data: any }> =>
        text
          .split('\n\n')
          .filter((b) => b.startsWith('event: '))
          .map((b) => ({ event: b.slice(7, b.indexOf('\n')), data: JSON.parse(b.slice(b.indexOf('data: ') + 6)) }));
      await waitFor('the first topology', () => events().length === 1);
      expect(events()[0]!.event).toBe('topology');
      expect(events()[0]!.data.shards).toEqual([{ primary: A, addr: '127.0.0.1:7000', ranges: [[0, 16383]], replicas: [{ id: B, addr: '127.0.0.1:7001' }] }]);

      // A failover: the event (with addresses), then the new topology.
      client.topology = Topology.parse(nodesText(B));
      client.emit('failover', { shard: A, oldPrimary: A, newPrimary: B, seconds: 1.5, at: 1 });
      client.emit('topology', client.topology);
      await waitFor('2 more events', () => events().length === 3);
      expect(events()[1]).toEqual({ event: 'failover', data: { shard: A, oldPrimary: A, newPrimary: B, oldPrimaryAddr: '127.0.0.1:7000', newPrimaryAddr: '127.0.0.1:7001', seconds: 1.5, at: 1 } });
      expect(events()[2]!.data.shards[0].primary).toBe(B);
      client.emit('migration', { moved: 0, opened: [5], closed: [], at: 2 });
      await waitFor('the migration', () => events().length === 4);
      expect(events()[3]).toEqual({ event: 'migration', data: { moved: 0, opened: [5], closed: [], at: 2 } });
      // A change no event reports still reaches the stream (compared every pollMs).
      client.topology = Topology.parse(nodesText(A));
      await waitFor('the polled topology', () => events().length === 5);

      // A consumer that never reads: its stream is closed once 64 KiB wait, the reader keeps its own.
      const stalled = net.connect(port, '127.0.0.1');
      stalled.on('error', () => {});
      stalled.write(`GET /cluster/events?_token=${TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n`);
      stalled.pause();
      await waitFor('2 streams', async () => (await metrics.sseConnections.get()).values[0]?.value === 2);
      // ~4 KiB frames in small bursts: the reader keeps up; the stalled socket's kernel buffers fill, then
      // the 64 KiB queue in the gateway.
      const big = { moved: 0, opened: Array.from({ length: 800 }, (_, i) => i + 1000), closed: [], at: 3 };
      const t0 = Date.now();
      while (Date.now() - t0 < 20_000 && (await metrics.sseConnections.get()).values[0]?.value === 2) {
        for (let j = 0; j < 4; j++) client.emit('migration', big);
        await new Promise((r) => setImmediate(r));
      }
      expect((await metrics.droppedMessages.get()).values.find((v) => v.labels.reason === 'slow_consumer')?.value).toBe(1);
      expect((await metrics.sseConnections.get()).values[0]?.value).toBe(1);
      const before = events().length;
      client.emit('migration', { moved: 1, opened: [], closed: [5], at: 4 });
      await waitFor('the reader to get more', () => events().length > before && events().at(-1)!.data.at === 4);
      stalled.destroy();
      req.destroy();
    } finally {
      await app.close();
    }
  });
});

// ---- the page and the gateway against a real cluster ---------------------------------------------

describe('the live cluster page', () => {
  let nodes: NodeHandle[] = [];
  let gw: Gateway;
  let base: string;
  let gwOpts: GatewayOptions & { port: number };
  let page: Page;
  const errors: string[] = [];

  const rest = async (cmd: string[]): Promise<unknown> => {
    const r = await fetch(`${base}/`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(cmd) });
    return ((await r.json()) as { result: unknown }).result;
  };

  beforeAll(async () => {
    nodes = await startClusterNodes(6, ['--cluster-node-timeout', '1000']);
    createCluster(nodes, 1);
    await waitClusterOk(nodes.map((n) => n.port));
    await waitFor('3 replicas', () => clusterNodes(nodes[0]!.port).filter((n) => n.flags.includes('slave')).length === 3);
    gwOpts = {
      port: 0,
      seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      tokens: [{ token: TOKEN, role: 'read-write' }],
      processMetrics: false,
      watchIntervalMs: 250,
    };
    gw = await startGateway(gwOpts);
    gwOpts.port = (gw.app.server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${gwOpts.port}`;
    await waitFor('the gateway to see 3 replicas', () => gw.client.topology.toJSON() && [...gw.client.topology.nodes.values()].filter((n) => !n.primary).length === 3);
    page = await newPage(errors);
  }, 60_000);

  afterAll(async () => {
    await page?.close();
    await gw?.close();
  });

  it('GET / is the page for browsers only; the REST API keeps /', async () => {
    const html = await fetch(`${base}/`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    const js = await fetch(`${base}/client.js`);
    expect(js.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(await js.text()).toContain('export function connect');
    // Without Accept: text/html, GET / is still the REST API's (a 401 without a token, then its 400).
    expect((await fetch(`${base}/`)).status).toBe(401);
    const bare = await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bare.status).toBe(400);
    expect(await rest(['SET', 'page-key', 'v'])).toBe('OK');
    expect(await rest(['GET', 'page-key'])).toBe('v');
    // The cluster stream authenticates like /cluster.
    expect((await fetch(`${base}/cluster/events`)).status).toBe(401);
    expect((await fetch(`${base}/cluster/events?_token=wrong-token`)).status).toBe(401);
  });

  it('rejects a wrong token, then shows 3 shards with their replicas covering all 16384 slots', async () => {
    await page.goto(`${base}/`);
    await page.fill('#token', 'wrong-token');
    await page.click('#connect');
    await page.waitForSelector('#login-error:not([hidden])');
    expect(await page.textContent('#login-error')).toContain('token rejected');
    errors.length = 0; // the browser logs the 401 of that attempt

    await page.fill('#token', TOKEN);
    await page.click('#connect');
    await page.waitForSelector('#cluster-status[data-state="open"]');
    await page.waitForFunction(() => document.querySelectorAll('#shards .shard').length === 3);
    expect(await page.textContent('#covered')).toBe('16384');
    const shards = await page.$$eval('#shards .shard', (els) =>
      els.map((e) => ({
        slots: Number((e as HTMLElement).dataset.slots),
        primary: e.querySelector('[data-role="primary"]')?.getAttribute('data-addr'),
        replicas: [...e.querySelectorAll('[data-role="replica"]')].map((r) => r.getAttribute('data-addr')),
        ranges: e.querySelector('.ranges')?.textContent,
      })),
    );
    expect(shards.reduce((n, s) => n + s.slots, 0)).toBe(16384);
    const t = gw.client.topology;
    for (const s of shards) {
      const p = t.shardPrimaries().find((n) => n.addr === s.primary)!;
      expect(p).toBeTruthy();
      expect(s.replicas).toEqual(t.replicasOf(p.id).map((r) => r.addr));
      expect(s.ranges).toBe(t.rangesOf(p.id).map(([a, b]) => `${a}-${b}`).join(', '));
    }
    expect(shards[0]!.ranges).toMatch(/^0-/);
    expect(await page.$$eval('#slotbar .seg', (els) => els.length)).toBe(3);
  });

  it('takes the token from ?_token= and keeps it out of the address bar', async () => {
    const p2 = await newPage(errors);
    await p2.goto(`${base}/?_token=${TOKEN}`);
    await p2.waitForFunction(() => document.querySelectorAll('#shards .shard').length === 3);
    expect(p2.url()).toBe(`${base}/`);
    await p2.close();
  });

  it('pub/sub console: subscribe, psubscribe and ssubscribe; messages published from the page and through REST arrive', async () => {
    await page.waitForSelector('#ws-status[data-state="open"]');
    const sub = async (kind: string, name: string): Promise<void> => {
      await page.selectOption('#sub-kind', kind);
      await page.fill('#sub-name', name);
      await page.click('#sub-button');
      await page.waitForSelector(`#subscriptions li[data-kind="${kind}"][data-name="${name}"][data-state="active"]`);
    };
    await sub('subscribe', 'news');
    await sub('psubscribe', 'ev.*');
    await sub('ssubscribe', '{sh}chan');

    await page.selectOption('#pub-kind', 'PUBLISH');
    await page.fill('#pub-channel', 'news');
    await page.fill('#pub-message', 'hello from the page');
    await page.click('#pub-button');
    await page.waitForSelector('#messages li[data-kind="message"][data-channel="news"]');
    // (In a cluster PUBLISH counts the receiving node's subscribers only, so the number is not checked.)
    await page.waitForFunction(() => /^published \(\d+ subscriber\(s\) on the receiving node\)$/.test(document.querySelector('#pub-result')?.textContent ?? ''));

    await page.selectOption('#pub-kind', 'SPUBLISH');
    await page.fill('#pub-channel', '{sh}chan');
    await page.fill('#pub-message', 'to a shard channel');
    await page.click('#pub-button');
    await page.waitForSelector('#messages li[data-kind="smessage"][data-channel="{sh}chan"]');

    await rest(['PUBLISH', 'ev.deploy', 'from <b>REST</b>']);
    await page.waitForSelector('#messages li[data-kind="pmessage"]');
    await rest(['PUBLISH', 'news', 'second']);
    await page.waitForFunction(() => document.querySelectorAll('#messages li').length >= 4);
    const msgs = await page.$$eval('#messages li', (els) => els.map((e) => `${e.querySelector('.chan')?.textContent} ${e.querySelector('.data')?.textContent}`));
    // Newest first; text, never markup.
    expect(msgs).toEqual(['news second', 'ev.deploy (ev.*) from <b>REST</b>', '{sh}chan to a shard channel', 'news hello from the page']);
    expect(await page.$$eval('#messages b', (els) => els.length)).toBe(0);

    // Unsubscribing from the console stops delivery.
    await page.click('#subscriptions li[data-name="ev.*"] button');
    await page.waitForSelector('#subscriptions li[data-name="ev.*"]', { state: 'detached' });
    await new Promise((r) => setTimeout(r, 200)); // the PUNSUBSCRIBE reaches the gateway
    await rest(['PUBLISH', 'ev.deploy', 'after unsubscribing']);
    await rest(['PUBLISH', 'news', 'marker']);
    await page.waitForFunction(() => document.querySelector('#messages li .data')?.textContent === 'marker');
    await new Promise((r) => setTimeout(r, 300));
    expect(await page.$$eval('#messages li .data', (els) => els.map((e) => e.textContent))).not.toContain('after unsubscribing');
    expect(errors).toEqual([]);
  });

  it('client.js: a db in the URL; a wrong token (4001) or database (1008) is fatal: no reconnect', async () => {
    await loadClient(page);
    const out = await page.evaluate(async (token) => {
      const { connect } = (window as any).gwc;
      const c = connect('/ws', { token, db: 2 });
      const set = await c.call('SET', 'browser-db-key', 'in db 2');
      await c.call('SELECT', 3); // the db a reconnect would start in
      const dbAfterSelect = c.db;
      c.close();
      const bad = connect('/ws', { token: 'wrong-token', minDelayMs: 20 });
      const closes: string[] = [];
      bad.on('close', (i: any) => closes.push(`${i.code} fatal=${i.fatal} reconnect=${i.willReconnect}`));
      const err = await bad.call('PING').then(() => 'ok', (e: any) => `${e.name} ${e.code}`);
      const noDb = connect('/ws', { token, db: 99, minDelayMs: 20 });
      noDb.on('close', (i: any) => closes.push(`${i.code} fatal=${i.fatal} reconnect=${i.willReconnect}`));
      await new Promise((r) => setTimeout(r, 300));
      return { set, dbAfterSelect, closes, err, state: bad.state };
    }, TOKEN);
    expect(out.set).toBe('OK');
    expect(out.dbAfterSelect).toBe(3);
    const r = await fetch(`${base}/db/2/get/browser-db-key`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await r.json()).toEqual({ result: 'in db 2' });
    expect(await rest(['EXISTS', 'browser-db-key'])).toBe(0);
    expect(out.closes.sort()).toEqual(['1008 fatal=true reconnect=false', '4001 fatal=true reconnect=false']);
    expect(out.err).toBe('ConnectionError FATAL');
    expect(out.state).toBe('closed');
    errors.length = 0; // the refused socket is logged by the browser
  });

  it('client.js and the page reconnect after a gateway restart and resubscribe; later messages arrive', async () => {
    await page.evaluate(async (token) => {
      const w = window as any;
      const c = w.gwc.connect('/ws', { token, minDelayMs: 100, maxDelayMs: 1000 });
      w.rc = c;
      w.rcGot = [];
      w.rcEvents = [];
      c.on('close', (i: any) => w.rcEvents.push(`close ${i.code} ${i.willReconnect}`));
      c.on('reconnect', () => w.rcEvents.push('reconnect'));
      const subs = [
        c.subscribe('rc', (d: string, ch: string) => w.rcGot.push(`message ${ch} ${d}`)),
        c.psubscribe('rc.*', (d: string, ch: string, p: string) => w.rcGot.push(`pmessage ${p} ${ch} ${d}`)),
        c.ssubscribe('{rc}s', (d: string, ch: string) => w.rcGot.push(`smessage ${ch} ${d}`)),
      ];
      await Promise.all(subs.map((x) => x.ready));
    }, TOKEN);
    await rest(['PUBLISH', 'rc', 'before']);
    await waitFor('the message before the restart', () => page.evaluate(() => (window as any).rcGot.length === 1));

    await gw.close();
    gw = await startGateway(gwOpts);
    await waitFor('client.js to reconnect', () => page.evaluate(() => (window as any).rcEvents.includes('reconnect')), 15_000);
    // 1001 from the closing gateway; then maybe refused attempts (1006) while it was down; then back.
    const events = await page.evaluate(() => (window as any).rcEvents as string[]);
    expect(events[0]).toBe('close 1001 true');
    expect(events.slice(1, -1).every((e) => e === 'close 1006 true')).toBe(true);
    expect(events.at(-1)).toBe('reconnect');
    // The resubscribe commands went first on the new socket and replies come in order: once a PING is
    // answered, the gateway has confirmed them all.
    expect(await page.evaluate(() => (window as any).rc.call('PING'))).toBe('PONG');
    await rest(['PUBLISH', 'rc', 'after']);
    await rest(['PUBLISH', 'rc.x', 'after']);
    await rest(['SPUBLISH', '{rc}s', 'after']);
    await waitFor('3 messages after the restart', () => page.evaluate(() => (window as any).rcGot.length >= 4));
    await new Promise((r) => setTimeout(r, 100));
    expect((await page.evaluate(() => (window as any).rcGot as string[])).sort()).toEqual(['message rc after', 'message rc before', 'pmessage rc.* rc.x after', 'smessage {rc}s after']);

    // The page: its console resubscribed, its cluster stream is live again.
    await page.waitForSelector('#ws-status[data-state="open"]', { timeout: 15_000 });
    await page.waitForSelector('#cluster-status[data-state="open"]', { timeout: 15_000 });
    let n = 0;
    await waitFor('the console to be resubscribed', async () => {
      await rest(['PUBLISH', 'news', `after the restart ${n++}`]);
      await new Promise((r) => setTimeout(r, 100));
      return /^after the restart/.test((await page.textContent('#messages li .data')) ?? '');
    }, 5000);
    expect(await page.$$eval('#event-log li', (els) => els.map((e) => e.textContent ?? ''))).toEqual(
      expect.arrayContaining([expect.stringContaining('pub/sub reconnected; resubscribed 2 subscription(s)'), expect.stringContaining('cluster stream reconnected')]),
    );
    await page.evaluate(() => (window as any).rc.close());
    // While the gateway was down the browser logged failed connection attempts; nothing else.
    expect(errors.filter((e) => !/WebSocket connection to|ERR_CONNECTION_REFUSED|Failed to load resource/.test(e))).toEqual([]);
    errors.length = 0;
  });

  it('highlights a migration (open slots) while it lasts', async () => {
    await page.waitForSelector('#cluster-status[data-state="open"]');
    const t = gw.client.topology;
    const [src, dst] = t.shardPrimaries();
    const slot = t.rangesOf(src!.id)[0]![0] + 7;
    expect(cli(dst!.port, 'cluster', 'setslot', String(slot), 'importing', src!.id).trim()).toBe('OK');
    expect(cli(src!.port, 'cluster', 'setslot', String(slot), 'migrating', dst!.id).trim()).toBe('OK');
    await page.waitForSelector(`#shards .shard.migrating[data-primary="${src!.id}"]`, { timeout: 10_000 });
    expect(await page.textContent(`#shards .shard[data-primary="${src!.id}"] .migrations`)).toBe(`migrating out: ${slot} → ${dst!.addr} (${dst!.id.slice(0, 8)})`);
    expect(await page.textContent(`#shards .shard[data-primary="${dst!.id}"] .migrations`)).toBe(`importing: ${slot} ← ${src!.addr} (${src!.id.slice(0, 8)})`);
    expect(await page.textContent('#open-count')).toBe('1');
    expect(await page.$$eval('#slotbar .open', (els) => els.length)).toBe(1);
    expect(await page.textContent('#event-log li[data-kind="migration"]')).toContain(`1 slot(s) opened (${slot})`);

    cli(src!.port, 'cluster', 'setslot', String(slot), 'stable');
    cli(dst!.port, 'cluster', 'setslot', String(slot), 'stable');
    await page.waitForFunction(() => document.querySelectorAll('#shards .shard.migrating').length === 0, undefined, { timeout: 10_000 });
    expect(await page.textContent('#event-log li[data-kind="migration"]')).toContain('1 slot(s) closed');
    expect(await page.textContent('#open-count')).toBe('0');
  });

  it('shows a failover as it happens', async () => {
    await page.waitForSelector('#cluster-status[data-state="open"]');
    const before = await page.$$eval('#event-log li[data-kind="failover"]', (els) => els.length);
    const t = gw.client.topology;
    const primary = t.shardPrimaries()[1]!;
    const replica = t.replicasOf(primary.id)[0]!;
    expect(cli(replica.port, 'cluster', 'failover').trim()).toBe('OK');
    await page.waitForSelector(`#shards .shard [data-role="primary"][data-addr="${replica.addr}"]`, { timeout: 15_000 });
    await page.waitForFunction((n) => document.querySelectorAll('#event-log li[data-kind="failover"]').length > n, before, { timeout: 15_000 });
    const entry = await page.textContent('#event-log li[data-kind="failover"]');
    expect(entry).toContain(`${primary.addr} (${primary.id.slice(0, 8)}) → ${replica.addr} (${replica.id.slice(0, 8)})`);
    // The card of the shard that failed over is highlighted, and its old primary is now its replica.
    const card = page.locator('#shards .shard.failover');
    await expect(card.count()).resolves.toBe(1);
    await page.waitForSelector(`#shards .shard.failover [data-role="replica"][data-addr="${primary.addr}"]`, { timeout: 15_000 });
    expect(await page.textContent('#covered')).toBe('16384');
    expect(errors).toEqual([]);
  });
});
