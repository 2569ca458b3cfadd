/**
 * A multi-process gateway (`--workers 2`, a real bin/cluster-gateway.js in front of a real 3-primary
 * cluster): two workers serve requests on a shared port, /metrics adds the workers up
 * (without counting the slot map twice), WebSocket pub/sub works whichever worker a socket and a
 * publisher land on, a killed worker is replaced, SIGTERM stops every process, and a gateway whose
 * workers cannot listen exits with an error instead of hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, startClusterNodes, waitClusterOk, waitFor } from '../helpers/cluster';
import { freePort, ROOT, type NodeHandle } from '../helpers/node';
import { metricValue } from '../helpers/gateway';
import { JsonWs } from '../helpers/gateway-ws';

const TOKEN = 'workers-test-token';
let nodes: NodeHandle[] = [];
let gw: ChildProcess | null = null;
let gwOut = '';
let port = 0;

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function startGateway(p: number, workers: string): { proc: ChildProcess; out: () => string } {
  let out = '';
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/cluster-gateway.js'), '--port', String(p), '--seeds', `127.0.0.1:${nodes[0]!.port}`, '--token', TOKEN, '--workers', workers], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return { proc, out: () => out };
}

/** One REST call on a connection of its own (so the kernel spreads them over the workers). */
function rest(pathname: string): Promise<{ status: number; body: { result?: unknown; error?: string } }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

afterAll(() => {
  if (gw && gw.exitCode === null) {
    for (const c of children(gw.pid!)) process.kill(c, 'SIGKILL');
    gw.kill('SIGKILL');
  }
});

beforeAll(async () => {
  nodes = await startClusterNodes(3);
  createCluster(nodes, 0);
  await waitClusterOk(nodes.map((n) => n.port));
  port = await freePort();
  const g = startGateway(port, '2');
  gw = g.proc;
  await waitFor('the gateway announces 2 workers', () => /cluster-gateway listening on http:\/\/127\.0\.0\.1:\d+ .*\[2 worker processes/.test(g.out()), 30_000);
  gwOut = g.out();
}, 90_000);

describe('gateway --workers 2', () => {
  it('runs two worker processes that serve requests, and /metrics adds the workers up', async () => {
    expect(gwOut).toContain('16384 slots covered');
    expect(children(gw!.pid!)).toHaveLength(2);
    for (let i = 0; i < 40; i++) expect((await rest(`/set/wk:${i}/v${i}`)).body).toEqual({ result: 'OK' });
    for (let i = 0; i < 40; i++) expect((await rest(`/get/wk:${i}`)).body).toEqual({ result: `v${i}` });
    const text = await metrics();
    expect(metricValue(text, 'gateway_worker_processes')).toBe(2);
    // Every request counted once, whichever worker served it.
    expect(metricValue(text, 'gateway_commands_total', { frontend: 'rest', cmd: 'set' })).toBe(40);
    expect(metricValue(text, 'gateway_commands_total', { frontend: 'rest', cmd: 'get' })).toBe(40);
    expect(metricValue(text, 'gateway_http_requests_total', { route: 'command', method: 'GET', status: '200' })).toBe(80);
    // What every worker sees alike is not doubled.
    expect(metricValue(text, 'gateway_slots_covered')).toBe(16384);
    expect(metricValue(text, 'gateway_cluster_shards')).toBe(3);
    // Both workers hold upstream connections of their own (one per primary each, at least).
    expect(metricValue(text, 'gateway_upstream_connections', { kind: 'command' })).toBeGreaterThanOrEqual(6);
  });

  it('delivers pub/sub to sockets on either worker, published through either worker', async () => {
    const sockets = await Promise.all(Array.from({ length: 6 }, () => JsonWs.open(`ws://127.0.0.1:${port}/ws?_token=${TOKEN}`)));
    try {
      for (const s of sockets) expect(await s.result('SUBSCRIBE', 'wk-news')).toBe(1);
      for (let i = 0; i < 4; i++) expect((await rest(`/publish/wk-news/m${i}`)).status).toBe(200);
      for (const s of sockets) {
        await s.until('4 messages', () => s.messages().length >= 4);
        expect(s.messages().map((m) => m.data)).toEqual(['m0', 'm1', 'm2', 'm3']);
      }
    } finally {
      for (const s of sockets) s.close();
    }
  });

  it('replaces a killed worker, keeps serving meanwhile, and stops every process on SIGTERM', async () => {
    const before = children(gw!.pid!);
    process.kill(before[0]!, 'SIGKILL');
    // New connections go to the surviving worker until the replacement listens.
    for (let i = 0; i < 10; i++) expect((await rest(`/get/wk:${i}`)).body).toEqual({ result: `v${i}` });
    await waitFor('a replacement worker', () => {
      const now = children(gw!.pid!);
      return now.length === 2 && !now.includes(before[0]!);
    }, 20_000);
    await waitFor('2 workers in /metrics', async () => metricValue(await metrics(), 'gateway_worker_processes') === 2, 20_000);
    const all = [gw!.pid!, ...children(gw!.pid!)];
    const exited = new Promise<number | null>((resolve) => gw!.once('exit', (code) => resolve(code)));
    gw!.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor('every gateway process gone', () => all.every((p) => !alive(p)), 10_000);
  }, 60_000);

  it('exits with an error when its workers cannot listen (port taken)', async () => {
    const blocker = http.createServer();
    const taken = await freePort();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', () => r()));
    try {
      const g = startGateway(taken, '2');
      const code = await new Promise<number | null>((resolve) => g.proc.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(g.out()).toMatch(/EADDRINUSE/);
      expect(g.out()).toMatch(/exited before it was ready/);
    } finally {
      blocker.close();
    }
  });
});
