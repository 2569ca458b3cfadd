/**
 * The gateway in front of a real Redis 7 in cluster mode (Debian's redis-server): a one-node cluster
 * whose slots were assigned with CLUSTER ADDSLOTSRANGE and that has met no other node, so it reports its
 * own address as ":port" (CLUSTER NODES) and ip "" (CLUSTER SHARDS). The gateway must still load the map
 * and serve REST calls through it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../gateway/src/app';
import { freePort, redisCli, waitForPort } from '../helpers/node';
import { TOKENS, TOKEN_CONFIG, baseUrl } from '../helpers/gateway';

let proc: ChildProcess;
let dir: string;
let port: number;
let gw: Gateway;

beforeAll(async () => {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) throw new Error('redis-server is not installed (apt-get install redis-server)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'gw-redis-'));
  port = await freePort();
  proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitForPort(port);
  expect(redisCli(port, ['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']).stdout.trim()).toBe('OK');
  // Its own address is not known until it meets another node.
  expect(redisCli(port, ['CLUSTER', 'NODES']).stdout).toMatch(/ :\d+@\d+ myself,master /);
  for (let i = 0; i < 100 && !redisCli(port, ['CLUSTER', 'INFO']).stdout.includes('cluster_state:ok'); i++) await new Promise((r) => setTimeout(r, 100));
  gw = await startGateway({ port: 0, seeds: [{ host: '127.0.0.1', port }], tokens: TOKEN_CONFIG, processMetrics: false, watchIntervalMs: 200 });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  proc?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('gateway -> redis-server (cluster mode, one node that has met no other)', () => {
  it('loads the slot map with the seed address and serves REST calls', async () => {
    expect(gw.client.topology.covered()).toBe(16384);
    expect([...gw.client.topology.nodes.values()].map((n) => n.addr)).toEqual([`127.0.0.1:${port}`]);
    const call = async (body: unknown) => {
      const r = await fetch(baseUrl(gw), { method: 'POST', headers: { authorization: `Bearer ${TOKENS.rw}` }, body: JSON.stringify(body) });
      return { status: r.status, json: (await r.json()) as unknown };
    };
    expect(await call(['SET', 'k{1}', 'v'])).toEqual({ status: 200, json: { result: 'OK' } });
    expect(await call(['GET', 'k{1}'])).toEqual({ status: 200, json: { result: 'v' } });
    expect(redisCli(port, ['GET', 'k{1}']).stdout.trim()).toBe('v');
    // The watch (CLUSTER NODES every 200 ms) keeps the address too.
    await new Promise((r) => setTimeout(r, 500));
    expect(gw.client.ready()).toBe(true);
    expect(await call(['GET', 'k{1}'])).toEqual({ status: 200, json: { result: 'v' } });
  });
});
