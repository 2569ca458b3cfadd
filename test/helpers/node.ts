/**
 * Test harness: spawn real cluster-node processes on loopback (built JS in dist/, so `npm test` builds
 * first) and talk to them with real clients. Every node is killed when the test file ends.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

export const ROOT = path.resolve(__dirname, '../..');
export const NODE_BIN = path.join(ROOT, 'bin/cluster-node.js');

export interface NodeHandle {
  port: number;
  proc: ChildProcess;
  dir: string;
  /** stderr/stdout of the node so far (for debugging failures). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<NodeHandle>();

// Every node a test file starts is killed when the file ends. Registered at import time (file level):
// vitest ignores hooks registered from inside other hooks, which is where startNode is usually called.
afterAll(async () => {
  await Promise.all([...running].map((n) => n.stop('SIGKILL')));
});
// Last resort if the worker exits without running hooks (crash, timeout).
process.once('exit', () => {
  for (const n of running) n.proc.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Wait until something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
}

/** Start a cluster-node with extra `--name value` args. */
export async function startNode(args: string[] = [], opts: { port?: number; dir?: string } = {}): Promise<NodeHandle> {
  const port = opts.port ?? (await freePort());
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'cnode-'));
  const proc = spawn(process.execPath, [NODE_BIN, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const handle: NodeHandle = {
    port,
    proc,
    dir,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      running.delete(handle);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
  running.add(handle);
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => {
        throw new Error(`cluster-node exited during start: ${out}`);
      }),
    ]);
  } catch (e) {
    await handle.stop('SIGKILL');
    throw e;
  }
  return handle;
}

/** Run redis-cli against a port; returns stdout (trimmed of the final newline). */
export function redisCli(port: number, args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { input, encoding: 'latin1', timeout: 20_000 });
  if (r.error) throw r.error;
  return { stdout: r.stdout.replace(/\n+$/, ''), stderr: r.stderr, status: r.status };
}

/** Send raw bytes on a fresh connection and collect what comes back until the server closes or `ms` pass. */
export async function rawExchange(port: number, data: Buffer | string, ms = 500): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    let closed = false;
    s.on('data', (d) => (reply += d.toString('latin1')));
    s.on('close', () => {
      closed = true;
      clearTimeout(t);
      resolve({ reply, closed });
    });
    s.on('error', () => undefined);
    s.write(data);
    const t = setTimeout(() => {
      s.destroy();
      resolve({ reply, closed });
    }, ms);
  });
}
