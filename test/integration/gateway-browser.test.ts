/**
 * The browser side, in a real headless Chromium: the live cluster page at `/` against a real cluster
 * (3 primaries + 3 replicas) and an in-process gateway (shards, slot coverage, a failover showing up as
 * it happens), and /client.js (reconnect and automatic resubscribe). The client's reconnect rules are
 * also checked against a scripted WebSocket server, which can close with any code at any moment.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/src/app';
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
      await new Promise<void>((r) => server.close(() => r()));
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
    [4003, 'origin not allowed'],
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

  it('shows a failover as it happens', async () => {
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
