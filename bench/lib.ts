/**
 * Helpers shared by the benchmark scripts (run.ts, cluster.ts, failover.ts): loopback ports, process
 * exits, machine facts and the dated sections of BENCHMARKS.md.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** n client ports in 20000-22767 whose bus ports (+10000, below the ephemeral range) are free too. */
export async function clusterPorts(n: number, avoid: number[] = []): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < n && tries < 2000; tries++) {
    const p = 20000 + Math.floor(Math.random() * 2768);
    const taken = [...ports, ...avoid];
    if (taken.includes(p) || taken.includes(p + 10000) || taken.includes(p - 10000)) continue;
    if ((await bindable(p)) && (await bindable(p + 10000))) ports.push(p);
  }
  if (ports.length < n) throw new Error('could not find free port pairs (port, port+10000)');
  return ports;
}

/** Wait until something accepts connections on 127.0.0.1:port. */
export async function waitPort(port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not ready within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function exitOf(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((r) => proc.once('exit', () => r()));
}

export interface MachineFacts {
  nproc: string;
  cpu: string;
  memory: string;
  os: string;
  node: string;
  redis: string;
  load: string;
}

export function machineFacts(): MachineFacts {
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.cpus().length);
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    /* not Linux */
  }
  return {
    nproc,
    cpu,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? 'unknown',
    // Other work on the machine skews both sides; recorded so a run on a busy machine is recognisable.
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

/** Put a section above the first dated ("## ") section of a markdown file, or at the end if there is none. */
export function addSection(file: string, section: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const at = text.search(/^## /m);
  const next = at < 0 ? `${text.replace(/\n*$/, '\n\n')}${section}` : `${text.slice(0, at)}${section}\n${text.slice(at)}`;
  writeFileSync(file, next);
}
