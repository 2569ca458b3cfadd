/**
 * `npm start` (bin/start.js) end to end: the default topology (3 primaries + 1 replica each) on free loopback
 * ports in a temporary data dir, used through ioredis's Cluster client, read back from the replicas, then
 * stopped with SIGTERM. (Set CLUSTER_SERVER=redis-server in the
 * environment to run the same checks against redis-server 7 nodes.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, freePort } from '../helpers/node';

const START = path.join(ROOT, 'bin/start.js');

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * n client ports whose bus ports (+10000) are free too. freePort() hands out ephemeral ports, whose +10000
 * may be past 65535 or in use, so candidates come from freePort() shifted below the ephemeral range
 * (20000-22767, bus ports 30000-32767) and are checked by binding both.
 */
async function clusterPorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < n && tries < 1000; tries++) {
    const p = 20000 + ((await freePort()) % 2768);
    if (ports.includes(p) || ports.includes(p + 10000) || ports.includes(p - 10000)) continue;
    if ((await bindable(p)) && (await bindable(p + 10000))) ports.push(p);
  }
  if (ports.length < n) throw new Error('no free port pairs');
  return ports;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

let script: ChildProcess | null = null;
let nodePids: number[] = [];
const gatewayPids: number[] = [];
const dirs: string[] = [];

afterAll(() => {
  // Only if the test failed half-way: nothing may outlive the file.
  if (script && script.exitCode === null && script.signalCode === null) script.kill('SIGKILL');
  for (const pid of nodePids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const pid of gatewayPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('npm start (bin/start.js)', () => {
  it('creates 3 primaries + 3 replicas, serves reads and writes across slots, replicates, stops cleanly on SIGTERM', async () => {
    const all = await clusterPorts(7);
    const ports = all.slice(0, 6);
    const gatewayPort = all[6]!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'start-script-'));
    dirs.push(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, CLUSTER_PORTS: ports.join(','), CLUSTER_DATA_DIR: dir, CLUSTER_START_TIMEOUT: '12', GATEWAY_PORT: String(gatewayPort) };
    delete env.GATEWAY_TOKEN;
    delete env.CLUSTER_PRIMARIES;
    delete env.CLUSTER_REPLICAS;
    delete env.CLUSTER_BASE_PORT;
    const proc = spawn(process.execPath, [START], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    script = proc;
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      proc.once('exit', (code, signal) => r({ code, signal })),
    );

    // Ready line, or the script's own failure (its output says why).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Cluster ready" within 20 s:\n${out}`)), 20_000);
      const check = () => {
        if (/^Cluster ready:/m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', check);
      void exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`start.js exited (${e.code ?? e.signal}) before ready:\n${out}`));
      });
      check();
    });
    nodePids = [...out.matchAll(/^started \S+ 127\.0\.0\.1:(\d+) pid (\d+)/gm)].map((m) => Number(m[2]));
    expect(nodePids).toHaveLength(6);
    expect(out).toContain(`redis-cli -c -p ${ports[0]}`);
    expect(out).toMatch(/^Cluster ready: 3 primaries, 3 replicas/m);
    // The gateway: its URL and a generated token are printed, and it serves the cluster.
    const gatewayPid = Number(/^started the gateway 127\.0\.0\.1:\d+ pid (\d+)/m.exec(out)?.[1]);
    expect(gatewayPid).toBeGreaterThan(0);
    gatewayPids.push(gatewayPid);
    expect(out).toContain(`Gateway: http://127.0.0.1:${gatewayPort}`);
    const token = /token \(read-write\): (\S+)/.exec(out)?.[1];
    expect(token).toBeTruthy();
    const rest = async (cmd: string[]): Promise<unknown> => {
      const r = await fetch(`http://127.0.0.1:${gatewayPort}/`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(cmd) });
      return r.json();
    };
    expect(await rest(['SET', 'start-script:via-gateway', 'hello'])).toEqual({ result: 'OK' });
    expect(await rest(['DBSIZE'])).toEqual({ result: 1 });
    expect((await fetch(`http://127.0.0.1:${gatewayPort}/get/x`)).status).toBe(401);
    for (let i = 0; i < 3; i++) {
      expect(out).toContain(`primary 127.0.0.1:${ports[i]} `);
      expect(out).toMatch(new RegExp(`primary 127\\.0\\.0\\.1:${ports[i]} .*replicas 127\\.0\\.0\\.1:${ports[i + 3]}`));
    }

    const cluster = new Cluster([{ host: '127.0.0.1', port: ports[0] }], { enableOfflineQueue: true });
    const direct = ports.map((port) => new Redis({ port, host: '127.0.0.1', lazyConnect: true }));
    try {
      const keys = Array.from({ length: 600 }, (_, i) => `start-script:${i}`);
      await Promise.all(keys.map((k, i) => cluster.set(k, `v${i}`)));
      expect(await cluster.get('start-script:via-gateway')).toBe('hello');
      const values = await Promise.all(keys.map((k) => cluster.get(k)));
      expect(values).toEqual(keys.map((_, i) => `v${i}`));

      for (const r of direct) await r.connect();
      const infos = await Promise.all(direct.map((r) => r.call('CLUSTER', 'INFO') as Promise<string>));
      for (const text of infos) {
        expect(text).toMatch(/cluster_state:ok/);
        expect(text).toMatch(/cluster_slots_assigned:16384/);
        expect(text).toMatch(/cluster_known_nodes:6/);
      }

      // Topology: ports[0..2] are masters with slots, ports[3+i] replicates ports[i].
      const entries = (String(await direct[0]!.call('CLUSTER', 'NODES')))
        .trim()
        .split('\n')
        .map((l) => l.trim().split(' '))
        .map((f) => ({ id: f[0]!, port: Number(/:(\d+)/.exec(f[1]!)![1]), flags: f[2]!.split(','), master: f[3]!, slots: f.slice(8) }));
      expect(entries).toHaveLength(6);
      expect(entries.filter((e) => e.flags.includes('master'))).toHaveLength(3);
      expect(entries.filter((e) => e.flags.includes('slave'))).toHaveLength(3);
      const byPort = new Map(entries.map((e) => [e.port, e]));
      for (let i = 0; i < 3; i++) {
        const primary = byPort.get(ports[i]!)!;
        const replica = byPort.get(ports[i + 3]!)!;
        expect(primary.flags).toContain('master');
        expect(primary.slots.length).toBeGreaterThan(0);
        expect(replica.flags).toContain('slave');
        expect(replica.master).toBe(primary.id);
      }
      for (let i = 3; i < 6; i++) {
        const repl = (await direct[i]!.info('replication')) as string;
        expect(repl).toMatch(/role:slave/);
        expect(repl).toMatch(/master_link_status:up/);
        expect(repl).toContain(`master_port:${ports[i - 3]}`);
      }

      // The keys really are spread over all three primaries (replicas excluded: they hold copies).
      const sizes = await Promise.all(direct.slice(0, 3).map((r) => r.dbsize()));
      for (const n of sizes) expect(n).toBeGreaterThan(100);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(keys.length + 1); // + the key written through the gateway

      // A key written through the cluster client is readable (READONLY) on the replica of its slot's primary.
      const key = 'start-script:replicated';
      await cluster.set(key, 'copied');
      const slot = Number(await direct[0]!.call('CLUSTER', 'KEYSLOT', key));
      const owner = entries.find(
        (e) =>
          e.flags.includes('master') &&
          e.slots.some((r) => {
            const [a, b] = r.split('-').map(Number);
            return slot >= a! && slot <= (b ?? a)!;
          }),
      )!;
      const replicaPort = entries.find((e) => e.master === owner.id)!.port;
      const replica = direct[ports.indexOf(replicaPort)]!;
      await replica.call('READONLY');
      let seen: string | null = null;
      for (let i = 0; i < 100 && seen === null; i++) {
        seen = await replica.get(key);
        if (seen === null) await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toBe('copied');
      // So were the 600 keys: each replica holds its primary's.
      for (let i = 0; i < 3; i++) {
        let n = 0;
        for (let t = 0; t < 100; t++) {
          n = await direct[i + 3]!.dbsize();
          if (n === (await direct[i]!.dbsize())) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(n).toBe(await direct[i]!.dbsize());
      }
      expect(await rest(['DBSIZE'])).toEqual({ result: 602 });
    } finally {
      cluster.disconnect();
      for (const r of direct) r.disconnect();
    }

    proc.kill('SIGTERM');
    const exit = await exited;
    expect({ exit, tail: out.split('\n').slice(-5).join('\n') }).toMatchObject({ exit: { code: 0, signal: null } });
    expect(out).toMatch(/All 6 nodes stopped/);
    for (const pid of [...nodePids, gatewayPid]) expect(alive(pid)).toBe(false);
    for (const port of all) expect(await bindable(port)).toBe(true);
  }, 40_000);
});
