/**
 * Helpers for the `redis-cli --cluster` suites (test/integration/cluster-cli*.test.ts): run redis-cli
 * without blocking the event loop, read CLUSTER INFO / NODES / SLOTS / SHARDS in a comparable form,
 * and a writer that routes by slot and follows MOVED / ASK itself, counting acknowledged writes.
 */
import { spawn, spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { keyHashSlot } from '../../common/src/slot';
import { cli, keysWhere, signature } from './cluster';

export { keysWhere };

export interface CliResult {
  status: number | null;
  out: string;
}

/** ANSI colour codes stripped: redis-cli colours its --cluster output. */
export function plain(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

/** `redis-cli --cluster ...` without throwing (for expected failures); blocks the event loop. */
export function clusterCliSync(args: string[], timeoutMs = 60_000): CliResult {
  const r = spawnSync('redis-cli', ['--cluster', ...args], { encoding: 'latin1', timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status, out: plain(r.stdout + r.stderr) };
}

/** `redis-cli --cluster ...` as a child process: the event loop keeps running (writers, clients). */
export function clusterCliAsync(args: string[], timeoutMs = 60_000, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', ['--cluster', ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) p.stdin!.end(input);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out: plain(out) });
    });
  });
}

/** Like clusterCliAsync but fails with the whole output unless redis-cli exits 0. */
export async function clusterCliOk(args: string[], timeoutMs = 60_000, input?: string): Promise<string> {
  const r = await clusterCliAsync(args, timeoutMs, input);
  if (r.status !== 0) throw new Error(`redis-cli --cluster ${args.join(' ')} exited ${r.status}:\n${r.out}`);
  return r.out;
}

/** `--cluster check` passes: exit 0, full coverage, agreement, no open slot warnings. */
export function expectCheckOk(port: number): string {
  const r = clusterCliSync(['check', `127.0.0.1:${port}`]);
  if (
    r.status !== 0 ||
    !r.out.includes('[OK] All 16384 slots covered.') ||
    !r.out.includes('[OK] All nodes agree about slots configuration.') ||
    r.out.includes('[WARNING]') ||
    r.out.includes('[ERR]')
  ) {
    throw new Error(`redis-cli --cluster check 127.0.0.1:${port} failed (${r.status}):\n${r.out}`);
  }
  return r.out;
}

/** CLUSTER INFO as a field map. */
export function clusterInfo(port: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of cli(port, 'cluster', 'info').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** One CLUSTER NODES line parsed. */
export interface NodeLine {
  id: string;
  addr: string;
  flags: string[];
  primary: string;
  epoch: number;
  link: string;
  slots: string[];
  open: string[];
}

export function clusterNodes(port: number): NodeLine[] {
  return cli(port, 'cluster', 'nodes')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      return {
        id: f[0]!,
        addr: f[1]!,
        flags: f[2]!.split(','),
        primary: f[3]!,
        epoch: Number(f[6]),
        link: f[7]!,
        slots: f.slice(8).filter((s) => !s.startsWith('[')),
        open: f.slice(8).filter((s) => s.startsWith('[')),
      };
    });
}

/** CLUSTER NODES without what legitimately differs per observer (myself flag, ping/pong times). */
export function nodesComparable(port: number): string {
  return clusterNodes(port)
    .map((n) => [n.id, n.addr, n.flags.filter((f) => f !== 'myself').join(','), n.primary, n.epoch, n.link, ...n.slots].join(' '))
    .sort()
    .join('\n');
}

/** The myself line of a node. */
export function myself(port: number): NodeLine {
  const me = clusterNodes(port).find((n) => n.flags.includes('myself'));
  if (!me) throw new Error(`no myself line on ${port}`);
  return me;
}

/** Number of slots in a list of `N` / `A-B` items. */
export function slotCount(slots: string[]): number {
  let n = 0;
  for (const s of slots) {
    const [a, b] = s.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

/** Expand `N` / `A-B` items into slot numbers. */
export function expandSlots(slots: string[]): number[] {
  const out: number[] = [];
  for (const s of slots) {
    const [a, b] = s.split('-').map(Number);
    for (let x = a!; x <= (b ?? a!); x++) out.push(x);
  }
  return out;
}

/** A plain (non-cluster) ioredis connection to one node. */
export function client(port: number, db = 0): Redis {
  return new Redis({ port, host: '127.0.0.1', db, maxRetriesPerRequest: 0, lazyConnect: false });
}


export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends commands to the node it believes owns the key's slot and follows redirections itself:
 * MOVED updates its slot map, ASK sends ASKING + the command to the named node, TRYAGAIN and
 * CLUSTERDOWN wait a little and retry. Any other error is a test failure (thrown).
 */
export class RedirectingClient {
  private readonly conns = new Map<string, Redis>();
  private readonly slotOwner = new Map<number, string>();
  readonly stats = { moved: 0, ask: 0, tryagain: 0, down: 0 };

  constructor(private readonly seed: string) {}

  private conn(addr: string): Redis {
    let c = this.conns.get(addr);
    if (!c) {
      const [host, port] = addr.split(':');
      c = new Redis({ host: host || '127.0.0.1', port: Number(port), maxRetriesPerRequest: 0 });
      this.conns.set(addr, c);
    }
    return c;
  }

  async call(key: string, ...cmd: string[]): Promise<unknown> {
    const slot = keyHashSlot(key);
    let addr = this.slotOwner.get(slot) ?? this.seed;
    let asking = false;
    for (let attempt = 0; attempt < 200; attempt++) {
      const c = this.conn(addr);
      try {
        if (asking) {
          // Same connection, in order: ASKING covers exactly the next command.
          const [[e1], [e2, v]] = (await c.pipeline().asking().call(cmd[0]!, ...cmd.slice(1)).exec()) as [[Error | null, unknown], [Error | null, unknown]];
          if (e1) throw e1;
          if (e2) throw e2;
          return v;
        }
        return await c.call(cmd[0]!, ...cmd.slice(1));
      } catch (e) {
        const m = (e as Error).message;
        asking = false;
        let r: RegExpMatchArray | null;
        if ((r = /^MOVED (\d+) (\S*:\d+)$/.exec(m))) {
          this.stats.moved++;
          addr = r[2]!.startsWith(':') ? `127.0.0.1${r[2]}` : r[2]!;
          this.slotOwner.set(Number(r[1]), addr);
          continue;
        }
        if ((r = /^ASK (\d+) (\S*:\d+)$/.exec(m))) {
          this.stats.ask++;
          addr = r[2]!.startsWith(':') ? `127.0.0.1${r[2]}` : r[2]!;
          asking = true;
          continue;
        }
        if (m.startsWith('TRYAGAIN') || m.startsWith('CLUSTERDOWN')) {
          if (m.startsWith('TRYAGAIN')) this.stats.tryagain++;
          else this.stats.down++;
          await sleep(20);
          addr = this.slotOwner.get(slot) ?? this.seed;
          continue;
        }
        throw new Error(`${cmd.join(' ')} on ${addr}: ${m}`);
      }
    }
    throw new Error(`${cmd.join(' ')}: too many redirections`);
  }

  close(): void {
    for (const c of this.conns.values()) c.disconnect();
  }
}

/** Wait until every node shows the same "id:slots" signature (whatever cluster_state says). */
export async function waitAgree(ps: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sigs = ps.map((p) => signature(cli(p, 'cluster', 'nodes')));
    if (sigs.every((s) => s === sigs[0])) return;
    if (Date.now() > deadline) throw new Error(`nodes disagree:\n${sigs.join('\n')}`);
    await sleep(50);
  }
}
