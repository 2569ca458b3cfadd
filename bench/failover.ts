/**
 * `npm run bench:failover`: failover time, "from kill -9 of a primary to writes accepted by the new
 * primary", over repeated runs, for a 3-primary + 3-replica cluster of ours (default settings:
 * cluster-node-timeout 1000 ms) and of redis-server 7 (default cluster-node-timeout 15000 ms), both on
 * free loopback ports and created with `redis-cli --cluster create ... --cluster-replicas 1`.
 *
 * One run: pick a primary with a replica and a key in the primary's slots; a writer sends SET key to the
 * replica's port every ~5 ms on one connection (no redirect following; the replica answers MOVED while it
 * is a replica); kill -9 the primary; the time to the first OK from the replica is the failover time. Then
 * the killed node is restarted with the same port and dir (it rejoins as a replica of the new primary) and
 * the next run starts once the cluster is ok, no node is flagged fail and every primary with slots has
 * a replica whose link is up.
 *
 * Options (env): BENCH_FAILOVER_RUNS (runs per side; default 5 for ours, 3 for redis-server, whose runs
 * take ~20 s each), BENCH_FAILOVER_SIDES (comma list of ours,redis; default both).
 * Flag: --md adds a dated markdown section to BENCHMARKS.md (above the existing dated sections).
 *
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { addSection, clusterPorts, exitOf, machineFacts, waitPort } from './lib';
import type { MachineFacts } from './lib';
import { keyHashSlot as keySlot } from '../common/src/slot';
import { encodeCommand as respCommand } from '../common/src/resp/writer';

const ROOT = path.resolve(__dirname, '../..');
const RUNS_ENV = process.env.BENCH_FAILOVER_RUNS ? Number(process.env.BENCH_FAILOVER_RUNS) : undefined;
const SIDES = (process.env.BENCH_FAILOVER_SIDES ?? 'ours,redis').split(',');
const WRITE_INTERVAL_MS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


// ---- cluster plumbing ------------------------------------------------------------------------------

function cli(port: number, args: string[], timeout = 10_000): string {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout });
  return (r.stdout ?? '') + (r.status === 0 ? '' : r.stderr ?? '');
}

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  master: string;
  link: string;
  slots: Array<[number, number]>;
}

function clusterNodes(port: number): NodeLine[] {
  const out: NodeLine[] = [];
  for (const line of cli(port, ['cluster', 'nodes']).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9a-f]{40}$/.test(f[0])) continue;
    const slots: Array<[number, number]> = [];
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) continue; // migrating/importing
      const [a, b] = s.split('-').map(Number);
      slots.push([a, b ?? a]);
    }
    out.push({ id: f[0], port: Number(/:(\d+)/.exec(f[1])?.[1]), flags: f[2].split(','), master: f[3], link: f[7], slots });
  }
  return out;
}

interface Member {
  port: number;
  dir: string;
  proc: ChildProcess | null;
  log: string;
}

interface Side {
  name: 'ours' | 'redis';
  label: string;
  members: Member[];
}

function startMember(side: Side, m: Member): void {
  const proc =
    side.name === 'ours'
      ? spawn(process.execPath, [path.join(ROOT, 'bin/cluster-node.js'), '--port', String(m.port), '--bind', '127.0.0.1', '--dir', m.dir, '--cluster-enabled', 'yes'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(
          'redis-server',
          ['--port', String(m.port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${m.port}.conf`, '--dir', m.dir, '--save', '', '--appendonly', 'no'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
  const keep = (d: Buffer) => (m.log = (m.log + d.toString()).slice(-20_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  m.proc = proc;
}

async function stopMember(m: Member): Promise<void> {
  const p = m.proc;
  if (!p) return;
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
    await exitOf(p);
    clearTimeout(t);
  }
  m.proc = null;
}

async function startSide(name: 'ours' | 'redis', ports: number[], all: Side[]): Promise<Side> {
  const root = mkdtempSync(path.join(os.tmpdir(), `bench-failover-${name}-`));
  const members = ports.map((port) => {
    const dir = name === 'ours' ? path.join(root, String(port)) : root; // redis: one dir, nodes-P.conf each
    mkdirSync(dir, { recursive: true });
    return { port, dir, proc: null, log: '' } as Member;
  });
  const side: Side = { name, label: name === 'ours' ? 'cluster-node' : 'redis-server', members };
  (side as Side & { root: string }).root = root;
  all.push(side);
  for (const m of members) startMember(side, m);
  await Promise.all(ports.map((p) => waitPort(p)));
  const r = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`redis-cli --cluster create (${name}) failed: ${r.stdout}${r.stderr}`);
  await waitSettled(side, 60_000);
  return side;
}

async function stopSide(side: Side): Promise<void> {
  await Promise.all(side.members.map(stopMember));
  rmSync((side as Side & { root: string }).root, { recursive: true, force: true });
}

/**
 * Settled: every node reports cluster_state:ok, no node is flagged fail/pfail, 3 primaries own slots and each has a
 * replica whose INFO replication says master_link_status:up.
 */
async function waitSettled(side: Side, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let why = '';
  for (;;) {
    why = settledWhy(side);
    if (!why) return;
    if (Date.now() > deadline) throw new Error(`${side.label} cluster not settled within ${ms} ms: ${why}`);
    await sleep(200);
  }
}

function settledWhy(side: Side): string {
  const ports = side.members.map((m) => m.port);
  for (const p of ports) if (!/cluster_state:ok/.test(cli(p, ['cluster', 'info']))) return `${p}: cluster_state not ok`;
  for (const p of ports) {
    const nodes = clusterNodes(p);
    if (nodes.length !== 6) return `${p} knows ${nodes.length} nodes`;
    const bad = nodes.find((n) => n.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr'));
    if (bad) return `${p} sees ${bad.port} as ${bad.flags.join(',')}`;
  }
  const nodes = clusterNodes(ports[0]);
  const primaries = nodes.filter((n) => n.flags.includes('master') && n.slots.length > 0);
  if (primaries.length !== 3) return `${primaries.length} primaries with slots`;
  for (const pr of primaries) {
    const reps = nodes.filter((n) => n.flags.includes('slave') && n.master === pr.id);
    if (!reps.some((r) => /master_link_status:up/.test(cli(r.port, ['info', 'replication'])))) return `primary ${pr.port} has no replica with its link up`;
  }
  return '';
}

// ---- one failover ----------------------------------------------------------------------------------

/**
 * A writer on one connection to `port`: SET key every ~WRITE_INTERVAL_MS (one in flight at a time); each
 * reply's first line goes to onReply. Reconnects if the connection drops.
 */
class Writer {
  private sock: net.Socket | null = null;
  private buf = '';
  private waiting: ((line: string) => void) | null = null;
  private stopped = false;
  constructor(
    private port: number,
    private key: string,
  ) {}

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.port, '127.0.0.1', () => resolve());
      s.setNoDelay(true);
      s.on('data', (d) => {
        this.buf += d.toString('latin1');
        let i: number;
        while (this.waiting && (i = this.buf.indexOf('\r\n')) >= 0) {
          const line = this.buf.slice(0, i);
          this.buf = this.buf.slice(i + 2);
          const w = this.waiting;
          this.waiting = null;
          w(line);
        }
      });
      const fail = (e: Error) => {
        if (this.sock === s) this.sock = null;
        const w = this.waiting;
        this.waiting = null;
        w?.(`-ERRCONN ${e.message}`);
        reject(e);
      };
      s.on('error', fail);
      s.on('close', () => fail(new Error('closed')));
      this.sock = s;
    });
  }

  /** One SET; resolves with the reply's first line (or -ERRCONN ...). */
  async set(value: string): Promise<string> {
    if (!this.sock) {
      this.buf = '';
      try {
        await this.connect();
      } catch (e) {
        return `-ERRCONN ${(e as Error).message}`;
      }
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.sock!.write(respCommand(['SET', this.key, value]));
    });
  }

  /** SET every interval until a reply matches `done`; returns that time (performance.now()) and the replies seen. */
  async until(done: (line: string) => boolean, timeoutMs: number): Promise<{ at: number; replies: Map<string, number> }> {
    const replies = new Map<string, number>();
    const deadline = performance.now() + timeoutMs;
    for (let i = 0; !this.stopped; i++) {
      const line = await this.set(`v${i}`);
      const at = performance.now();
      const kind = line.split(' ')[0];
      replies.set(kind, (replies.get(kind) ?? 0) + 1);
      if (done(line)) return { at, replies };
      if (at > deadline) throw new Error(`no matching reply within ${timeoutMs} ms (replies: ${[...replies].map(([k, n]) => `${k} x${n}`).join(', ')})`);
      await sleep(WRITE_INTERVAL_MS);
    }
    throw new Error('writer stopped');
  }

  close(): void {
    this.stopped = true;
    this.sock?.destroy();
    this.sock = null;
  }
}

async function oneFailover(side: Side, run: number, timeoutMs: number): Promise<{ ms: number; replies: string }> {
  const nodes = clusterNodes(side.members[0].port);
  const primaries = nodes.filter((n) => n.flags.includes('master') && n.slots.length > 0).sort((a, b) => a.port - b.port);
  // Rotate over the primaries so that different nodes (and, for ours, different roles) take turns.
  const ordered = [...primaries.slice(run % primaries.length), ...primaries.slice(0, run % primaries.length)];
  let primary: NodeLine | undefined;
  let replica: NodeLine | undefined;
  for (const p of ordered) {
    const r = nodes.find((n) => n.flags.includes('slave') && n.master === p.id && /master_link_status:up/.test(cli(n.port, ['info', 'replication'])));
    if (r) {
      primary = p;
      replica = r;
      break;
    }
  }
  if (!primary || !replica) throw new Error('no primary with a linked replica');
  const [lo, hi] = primary.slots[0];
  let key = '';
  for (let i = 0; !key; i++) {
    const k = `failover:${run}:${i}`;
    const s = keySlot(k);
    if (s >= lo && s <= hi) key = k;
  }
  const victim = side.members.find((m) => m.port === primary!.port)!;
  const writer = new Writer(replica.port, key);
  try {
    // Before the failover the replica redirects the write to its primary.
    await writer.until((l) => l.startsWith('-MOVED'), 10_000);
    const t0 = performance.now();
    victim.proc!.kill('SIGKILL');
    const { at, replies } = await writer.until((l) => l === '+OK', timeoutMs);
    const ms = at - t0;
    await exitOf(victim.proc!);
    victim.proc = null;
    // Rejoin: same port and dir; the node comes back as a replica of the new primary.
    startMember(side, victim);
    await waitPort(victim.port);
    await waitSettled(side, 120_000);
    const role = cli(victim.port, ['info', 'replication']);
    if (!/role:slave/.test(role)) throw new Error(`restarted ${victim.port} did not rejoin as a replica:\n${role}`);
    return { ms, replies: [...replies].map(([k, n]) => `${k} x${n}`).join(', ') };
  } finally {
    writer.close();
  }
}

// ---- stats and output ------------------------------------------------------------------------------

interface Stats {
  runs: number[];
  min: number;
  median: number;
  p90: number;
  max: number;
}

function quantile(sorted: number[], q: number): number {
  // Nearest-rank for p90 with few samples; interpolated median.
  if (q === 0.5) {
    const m = (sorted.length - 1) / 2;
    return (sorted[Math.floor(m)] + sorted[Math.ceil(m)]) / 2;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function stats(runs: number[]): Stats {
  const s = [...runs].sort((a, b) => a - b);
  return { runs, min: s[0], median: quantile(s, 0.5), p90: quantile(s, 0.9), max: s[s.length - 1] };
}

const f0 = (n: number) => n.toFixed(0);

function markdownSection(date: Date, facts: MachineFacts, results: Record<string, Stats>): string {
  const ours = results.ours;
  const redis = results.redis;
  const lines = [
    `## ${date.toISOString().slice(0, 10)} — failover time, kill -9 of a primary to writes accepted by the new primary (\`npm run bench:failover\`)`,
    '',
    `- Machine: nproc ${facts.nproc}, CPU ${facts.cpu}, ${facts.memory}, ${facts.os}; Node ${facts.node}. Anchor: ${facts.redis}. Load average at start: ${facts.load}.`,
    '- Each side: 3 primaries + 3 replicas on loopback (`redis-cli --cluster create ... --cluster-replicas 1`), default settings: ' +
      'ours `node bin/cluster-node.js --port P --bind 127.0.0.1 --dir D --cluster-enabled yes` (cluster-node-timeout 1000 ms), ' +
      "redis `redis-server --cluster-enabled yes --save '' --appendonly no` (cluster-node-timeout 15000 ms).",
    `- One run: a writer sends \`SET\` for a key of the victim primary's slots to that primary's replica every ~${WRITE_INTERVAL_MS} ms (one connection, ` +
      'no redirects followed; the replica answers MOVED until it is promoted); the time is from `kill -9` of the primary to the first `+OK` from the replica. ' +
      'The killed node is then restarted on its port and dir, rejoins as a replica, and the next run starts once the cluster is ok with every primary ' +
      'replicated again. Runs rotate over the primaries.',
    '',
    '| | runs | min (ms) | median (ms) | p90 (ms) | max (ms) | all runs (ms) |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const [name, s] of Object.entries(results)) {
    lines.push(`| ${name === 'ours' ? 'cluster-node' : 'redis-server'} | ${s.runs.length} | ${f0(s.min)} | ${f0(s.median)} | ${f0(s.p90)} | ${f0(s.max)} | ${s.runs.map(f0).join(', ')} |`);
  }
  if (ours && redis) lines.push('', `Median ratio ours / redis-server: **${(ours.median / redis.median).toFixed(3)}** (${f0(ours.median)} ms vs ${f0(redis.median)} ms).`);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (a !== '--md') throw new Error(`unknown argument ${a} (only --md)`);
  if (!existsSync(path.join(ROOT, 'dist/cluster-node/src/main.js'))) throw new Error('dist/ is missing: run npm run build');
  const date = new Date();
  const facts = machineFacts();
  console.log(
    `date: ${date.toISOString()}\nmachine: nproc ${facts.nproc}, ${facts.cpu}, ${facts.memory}, ${facts.os}, node ${facts.node}, load ${facts.load}\nanchor: ${facts.redis}\n`,
  );
  const sides: Side[] = [];
  const stopAll = () => Promise.all(sides.map(stopSide));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));
  const results: Record<string, Stats> = {};
  const used: number[] = [];
  try {
    for (const name of ['ours', 'redis'] as const) {
      if (!SIDES.includes(name)) continue;
      const runs = RUNS_ENV ?? (name === 'ours' ? 5 : 3);
      const ports = await clusterPorts(6, used);
      used.push(...ports);
      console.log(`${name}: starting 3 primaries + 3 replicas on ${ports.join(', ')}...`);
      const side = await startSide(name, ports, sides);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await oneFailover(side, i, name === 'ours' ? 30_000 : 90_000);
        times.push(r.ms);
        console.log(`  run ${i + 1}/${runs}: ${r.ms.toFixed(1)} ms (replies at the replica: ${r.replies})`);
      }
      await stopSide(side);
      sides.splice(sides.indexOf(side), 1);
      results[name] = stats(times);
    }
  } catch (e) {
    for (const s of sides) for (const m of s.members) if (m.log) console.error(`--- ${s.label} ${m.port} (last output) ---\n${m.log.split('\n').slice(-15).join('\n')}`);
    throw e;
  } finally {
    await stopAll();
  }
  console.log('\n' + 'side'.padEnd(14) + 'runs'.padStart(5) + 'min'.padStart(9) + 'median'.padStart(9) + 'p90'.padStart(9) + 'max'.padStart(9) + '  (ms)');
  for (const [name, s] of Object.entries(results)) {
    console.log((name === 'ours' ? 'cluster-node' : 'redis-server').padEnd(14) + String(s.runs.length).padStart(5) + [s.min, s.median, s.p90, s.max].map((n) => f0(n).padStart(9)).join(''));
  }
  if (results.ours && results.redis) console.log(`median ratio ours / redis-server: ${(results.ours.median / results.redis.median).toFixed(3)}`);
  if (args.includes('--md')) {
    const f = path.join(ROOT, 'BENCHMARKS.md');
    addSection(f, markdownSection(date, facts, results));
    console.log(`\nadded a section to ${f}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
