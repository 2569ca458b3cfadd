/**
 * The write-safety chaos scenario (issue 4), shared by `npm run chaos` (bench/chaos.ts) and the bounded
 * CI test (test/integration/chaos.test.ts).
 *
 * One run: 3 primaries + 3 replicas on loopback (`redis-cli --cluster create ... --cluster-replicas 1`),
 * either cluster-node (with `--min-replicas-ack N`, default cluster-node-timeout 1000 ms) or redis-server 7
 * with its defaults (cluster-node-timeout 15000 ms, no persistence). Writers RPUSH values that are unique
 * per attempt (`<writer>.<seq>`) to a few lists per shard, follow MOVED with their own slot map, and record
 * every outcome:
 *   - acked: an integer reply;
 *   - refused: an error that Redis (and we) send before running the command (MOVED, ASK, TRYAGAIN,
 *     CLUSTERDOWN..., NOREPLICAS Not enough good replicas, READONLY, MASTERDOWN, LOADING) or a
 *     connection that could not be made: the value is not there;
 *   - unknown: a timeout, a dropped connection, or any other error (our "NOREPLICAS Write applied
 *     locally..." included): the value may or may not be there.
 * A failed attempt is never resent: the next attempt carries a new value, so a value seen twice is a
 * duplicate made by the servers, not by a client retry.
 *
 * Faults, one at a time, each followed by healing and a wait until the cluster is healthy again (every
 * node cluster_state:ok, 3 primaries each with a replica whose link is up, nobody flagged fail):
 *   kill9      kill -9 of a primary, wait for its failover, start it again (same port and dir: it rejoins);
 *   stall      SIGSTOP of a primary, until its replica has been promoted ("long") or for 300 ms ("short"),
 *              then SIGCONT;
 *   partition  the primary's cluster bus cut (clients and replication links still reach it), long or
 *              short as for stall, then healed. Ours: DEBUG CLUSTER-BUS-DROP; redis-server: each node's
 *              bus port is announced through a TCP proxy (BusProxy) that closes every bus connection to
 *              or from the partitioned node (the sender id is read from the first message header);
 *   restart    kill -9 of any node (primary or replica) and start it again at once, without waiting for a
 *              failover (no persistence: it comes back empty);
 *   failover   CLUSTER FAILOVER [FORCE|TAKEOVER] (random) on a replica.
 * After each fault every list is read back from the primaries and the acked values missing so far are
 * charged to that fault; after the last one the writers stop and the final read-back gives the counts:
 * lost (acked, absent), duplicate (present more than once), phantom (present but never written, or
 * written to another list), refusedPresent (present though refused before running).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { keyHashSlot } from '../common/src/slot';
import { clusterPorts, exitOf, waitPort } from './lib';

export type SideName = 'ours' | 'redis';
export type FaultKind = 'kill9' | 'stall' | 'partition' | 'restart' | 'failover';
export const FAULT_KINDS: FaultKind[] = ['kill9', 'stall', 'partition', 'restart', 'failover'];

export interface ChaosOptions {
  side: SideName;
  /** min-replicas-ack for ours (ignored for redis-server). */
  minReplicasAck: number;
  /** Rounds of faults; each round applies every kind in `faults` once, in a seeded random order. */
  loops: number;
  /** Stop starting new faults after this many seconds of fault loop (0 = no limit). */
  seconds: number;
  faults?: FaultKind[];
  /** Writers per shard (default 3). */
  writersPerShard?: number;
  /** Lists per shard (default 4). */
  listsPerShard?: number;
  /** Pause of each writer between two writes, ms (default 2). */
  writePauseMs?: number;
  seed?: number;
  /** Keep the data dirs and node logs even when the run went well. */
  keepDirs?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  detail: string;
  /** Acknowledged writes found missing for the first time after this fault. */
  lost: number;
  /** The victim's slots were taken over by another node during the fault. */
  failedOver: boolean;
  ms: number;
}

export interface ChaosResult {
  side: SideName;
  label: string;
  minReplicasAck: number | null;
  seed: number;
  attempts: number;
  acked: number;
  /** Acknowledged writes per shard (the lists of each initial primary). */
  ackedPerShard: number[];
  refused: number;
  unknown: number;
  unknownPresent: number;
  lost: number;
  duplicate: number;
  phantom: number;
  refusedPresent: number;
  faults: FaultRecord[];
  faultCounts: Record<FaultKind, number>;
  /** Fault loop time, ms. */
  ms: number;
  /** Up to 10 examples of each problem, for diagnosis. */
  samples: { lost: string[]; duplicate: string[]; phantom: string[]; refusedPresent: string[] };
  partitionMethod: string;
}

const HOST = '127.0.0.1';
/** The repository root, from bench/ (vitest) or dist/bench/ (compiled). */
const ROOT = existsSync(path.resolve(__dirname, '../package.json')) ? path.resolve(__dirname, '..') : path.resolve(__dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a small seeded PRNG, so a run's choices can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- connections ---------------------------------------------------------------------------------

/** A plain (non-cluster) ioredis connection that never retries, resends or queues anything by itself. */
function plainConn(port: number, commandTimeout: number): Redis {
  const r = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => null,
    commandTimeout,
    connectTimeout: 1000,
  });
  r.on('error', () => undefined);
  return r;
}

/** One connection per port, made on first use and dropped after any failure other than an error reply. */
class Pool {
  private readonly conns = new Map<number, Promise<Redis>>();
  constructor(private readonly commandTimeout: number) {}

  get(port: number): Promise<Redis> {
    let p = this.conns.get(port);
    if (!p) {
      const r = plainConn(port, this.commandTimeout);
      p = r.connect().then(
        () => r,
        (e: unknown) => {
          if (this.conns.get(port) === p) this.conns.delete(port);
          r.disconnect();
          throw e;
        },
      );
      this.conns.set(port, p);
    }
    return p;
  }

  drop(port: number): void {
    const p = this.conns.get(port);
    this.conns.delete(port);
    p?.then((r) => r.disconnect(), () => undefined);
  }

  close(): void {
    for (const port of [...this.conns.keys()]) this.drop(port);
  }
}

/** An error reply that is sent before the command runs: the write did not happen. */
export function refusedBeforeRunning(msg: string): boolean {
  return (
    /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|READONLY|MASTERDOWN|LOADING) /.test(msg) || msg === 'NOREPLICAS Not enough good replicas to write.'
  );
}

// ---- the cluster under test ----------------------------------------------------------------------

interface Member {
  port: number;
  dir: string;
  proc: ChildProcess | null;
  id: string;
  stopped: boolean;
  proxy: BusProxy | null;
}

export interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  primary: string;
  slots: number;
}

export function parseClusterNodes(text: string): NodeLine[] {
  const out: NodeLine[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9a-f]{40}$/.test(f[0]!)) continue;
    let slots = 0;
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) continue;
      const [a, b] = s.split('-').map(Number);
      slots += (b ?? a!) - a! + 1;
    }
    out.push({ id: f[0]!, port: Number(/:(\d+)/.exec(f[1]!)?.[1]), flags: f[2]!.split(','), primary: f[3]!, slots });
  }
  return out;
}

/**
 * A TCP proxy in front of one redis-server node's cluster bus port (the node announces the proxy's
 * port). Partitioning node X closes every connection through X's proxy and every connection whose first
 * message names X as its sender, and refuses such connections until healed. Nothing is forwarded
 * before the sender is known (bytes 40..80 of the first message: the clusterMsg header's sender).
 */
class BusProxy {
  private server: net.Server | null = null;
  port = 0;
  private readonly conns = new Set<{ a: net.Socket; b: net.Socket | null; sender: string | null }>();

  constructor(
    private readonly targetPort: number,
    private readonly ownerId: () => string,
    private readonly cut: Set<string>,
  ) {}

  async listen(): Promise<void> {
    const srv = net.createServer((a) => this.accept(a));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, HOST, () => resolve());
    });
    this.server = srv;
    this.port = (srv.address() as net.AddressInfo).port;
  }

  private accept(a: net.Socket): void {
    a.on('error', () => undefined);
    if (this.cut.has(this.ownerId())) {
      a.destroy();
      return;
    }
    const c = { a, b: null as net.Socket | null, sender: null as string | null };
    this.conns.add(c);
    let head = Buffer.alloc(0);
    const kill = () => {
      this.conns.delete(c);
      a.destroy();
      c.b?.destroy();
    };
    a.on('close', kill);
    a.on('data', (d: Buffer) => {
      if (c.b !== null) {
        c.b.write(d);
        return;
      }
      head = Buffer.concat([head, d]);
      if (head.length < 80) return;
      c.sender = head.subarray(40, 80).toString('latin1');
      if (this.cut.has(c.sender) || this.cut.has(this.ownerId())) return kill();
      const b = net.connect(this.targetPort, HOST);
      b.on('error', () => undefined);
      b.on('close', kill);
      b.on('data', (x: Buffer) => a.write(x));
      b.write(head);
      c.b = b;
    });
  }

  /** Close the connections the current cut forbids. */
  enforce(): void {
    const owner = this.ownerId();
    for (const c of [...this.conns]) {
      if (this.cut.has(owner) || (c.sender !== null && this.cut.has(c.sender))) {
        this.conns.delete(c);
        c.a.destroy();
        c.b?.destroy();
      }
    }
  }

  close(): void {
    this.server?.close();
    for (const c of this.conns) {
      c.a.destroy();
      c.b?.destroy();
    }
    this.conns.clear();
  }
}

class TestCluster {
  members: Member[] = [];
  root = '';
  readonly cut = new Set<string>();
  private readonly control = new Pool(3000);

  constructor(
    readonly side: SideName,
    readonly minReplicasAck: number,
  ) {}

  get label(): string {
    return this.side === 'ours' ? `cluster-node (min-replicas-ack ${this.minReplicasAck})` : 'redis-server';
  }

  /** Generous bounds: a failover takes ~1.1 s for ours and ~20 s for redis-server with its defaults. */
  get failoverWaitMs(): number {
    return this.side === 'ours' ? 30_000 : 90_000;
  }

  get healWaitMs(): number {
    return this.side === 'ours' ? 60_000 : 180_000;
  }

  async start(): Promise<void> {
    const ports = await clusterPorts(6);
    this.root = mkdtempSync(path.join(os.tmpdir(), `chaos-${this.side}-`));
    this.members = ports.map((port) => {
      const dir = path.join(this.root, String(port));
      mkdirSync(dir, { recursive: true });
      return { port, dir, proc: null, id: '', stopped: false, proxy: null };
    });
    if (this.side === 'redis') {
      for (const m of this.members) {
        m.proxy = new BusProxy(m.port + 10000, () => m.id, this.cut);
        await m.proxy.listen();
      }
    }
    for (const m of this.members) this.spawn(m);
    await Promise.all(this.members.map((m) => waitPort(m.port)));
    if (this.side === 'redis') for (const m of this.members) m.id = await this.call(m.port, 'cluster', 'myid') as string;
    // Not spawnSync: for redis-server the bus proxies run in this process and must keep forwarding.
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes'], 120_000);
    for (const m of this.members) m.id = (await this.call(m.port, 'cluster', 'myid')) as string;
    await this.waitHealthy(this.healWaitMs);
  }

  private spawn(m: Member): void {
    const args =
      this.side === 'ours'
        ? [path.join(ROOT, 'bin/cluster-node.js'), '--port', String(m.port), '--bind', HOST, '--dir', m.dir,
           '--cluster-enabled', 'yes', '--min-replicas-ack', String(this.minReplicasAck)]
        : ['--port', String(m.port), '--bind', HOST, '--dir', m.dir, '--cluster-enabled', 'yes', '--save', '', '--appendonly', 'no',
           '--cluster-announce-bus-port', String(m.proxy!.port)];
    // The node's output goes to <dir>/node.log (appended across restarts; kept when a run fails).
    const fd = openSync(path.join(m.dir, 'node.log'), 'a');
    const proc = spawn(this.side === 'ours' ? process.execPath : 'redis-server', args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    m.proc = proc;
    m.stopped = false;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
  }

  async kill(m: Member): Promise<void> {
    const p = m.proc;
    if (!p) return;
    p.kill('SIGKILL');
    await exitOf(p);
    m.proc = null;
    m.stopped = false;
    this.control.drop(m.port);
  }

  async restart(m: Member): Promise<void> {
    if (m.proc) await this.kill(m);
    this.spawn(m);
    await waitPort(m.port);
  }

  stop(m: Member): void {
    m.proc?.kill('SIGSTOP');
    m.stopped = true;
  }

  cont(m: Member): void {
    m.proc?.kill('SIGCONT');
    m.stopped = false;
  }

  async setPartitioned(m: Member, on: boolean): Promise<void> {
    if (this.side === 'ours') {
      await this.call(m.port, 'debug', 'cluster-bus-drop', on ? '1' : '0');
      return;
    }
    if (on) this.cut.add(m.id);
    else this.cut.delete(m.id);
    for (const x of this.members) x.proxy!.enforce();
  }

  async call(port: number, ...args: string[]): Promise<unknown> {
    try {
      const c = await this.control.get(port);
      return await c.call(args[0]!, ...args.slice(1));
    } catch (e) {
      if (!(e instanceof Error && e.name === 'ReplyError')) this.control.drop(port);
      throw e;
    }
  }

  /** One command on its own connection with a long timeout (CLUSTER FAILOVER may wait for a catch-up and a commit). */
  async callSlow(port: number, timeoutMs: number, ...args: string[]): Promise<unknown> {
    const c = plainConn(port, timeoutMs);
    try {
      await c.connect();
      return await c.call(args[0]!, ...args.slice(1));
    } finally {
      c.disconnect();
    }
  }

  async nodes(port: number): Promise<NodeLine[]> {
    return parseClusterNodes(String(await this.call(port, 'cluster', 'nodes')));
  }

  member(port: number): Member {
    const m = this.members.find((x) => x.port === port);
    if (!m) throw new Error(`no member on port ${port}`);
    return m;
  }

  /** Why the cluster is not healthy yet ('' = healthy). */
  async unhealthy(): Promise<string> {
    for (const m of this.members) if (!m.proc || m.stopped) return `${m.port} is not running`;
    let first: string | null = null;
    let view: NodeLine[] = [];
    for (const m of this.members) {
      const info = String(await this.call(m.port, 'cluster', 'info'));
      if (!info.includes('cluster_state:ok')) return `${m.port}: cluster_state not ok`;
      const nodes = await this.nodes(m.port);
      if (nodes.length !== 6) return `${m.port} knows ${nodes.length} nodes`;
      const bad = nodes.find((n) => n.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr'));
      if (bad) return `${m.port} sees ${bad.port} as ${bad.flags.join(',')}`;
      const sig = nodes.map((n) => `${n.id}:${n.primary}:${n.slots}`).sort().join('|');
      if (first === null) {
        first = sig;
        view = nodes;
      } else if (sig !== first) return `${m.port} disagrees with ${this.members[0]!.port} on the topology`;
    }
    const primaries = view.filter((n) => n.flags.includes('master') && n.slots > 0);
    if (primaries.length !== 3) return `${primaries.length} primaries serve slots`;
    for (const p of primaries) {
      const reps = view.filter((n) => n.primary === p.id);
      if (reps.length === 0) return `primary ${p.port} has no replica`;
      for (const r of reps) {
        const info = String(await this.call(r.port, 'info', 'replication'));
        if (!info.includes('master_link_status:up') || !info.includes(`master_port:${p.port}`)) return `replica ${r.port} of ${p.port}: link not up`;
      }
    }
    return '';
  }

  async waitHealthy(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let why = '';
    for (;;) {
      try {
        why = await this.unhealthy();
      } catch (e) {
        why = (e as Error).message;
      }
      if (why === '') return;
      if (Date.now() > deadline) throw new Error(`${this.label}: cluster not healthy ${ms} ms after the fault was healed: ${why}`);
      await sleep(200);
    }
  }

  /** The topology as the first node that answers sees it. */
  async view(): Promise<NodeLine[]> {
    for (const m of this.members) {
      if (!m.proc || m.stopped) continue;
      try {
        return await this.nodes(m.port);
      } catch {
        // next
      }
    }
    throw new Error('no node answers CLUSTER NODES');
  }

  /** Whether the node on `port` is a primary serving slots in its own view. */
  async servesSlots(port: number): Promise<boolean> {
    try {
      const me = (await this.nodes(port)).find((n) => n.flags.includes('myself'));
      return me !== undefined && me.flags.includes('master') && me.slots > 0;
    } catch {
      return false;
    }
  }

  /** Slot owner ports from CLUSTER SLOTS of the node on `port`. */
  async slotMap(port: number): Promise<Int32Array> {
    const map = new Int32Array(16384).fill(-1);
    const rows = (await this.call(port, 'cluster', 'slots')) as [number, number, [string, number]][];
    for (const [a, b, master] of rows) for (let s = a; s <= b; s++) map[s] = Number(master[1]);
    return map;
  }

  /** The last lines of every node's log. */
  dumpLogs(lines = 25): string {
    return this.members
      .map((m) => {
        let text = '';
        try {
          text = readFileSync(path.join(m.dir, 'node.log'), 'utf8');
        } catch {
          // no log yet
        }
        return `--- ${this.label} ${m.port} (${path.join(m.dir, 'node.log')}) ---\n${text.split('\n').slice(-lines).join('\n')}`;
      })
      .join('\n');
  }

  /** CLUSTER INFO and CLUSTER NODES of every running node (for a failure report). */
  async dumpState(): Promise<string> {
    const out: string[] = [];
    for (const m of this.members) {
      if (!m.proc || m.stopped) continue;
      try {
        out.push(`--- ${m.port} ${m.id}\n${String(await this.call(m.port, 'cluster', 'info')).trim()}\n${String(await this.call(m.port, 'cluster', 'nodes')).trim()}`);
      } catch (e) {
        out.push(`--- ${m.port}: ${(e as Error).message}`);
      }
    }
    return out.join('\n');
  }

  /** Kill everything; the data dirs (logs, nodes.conf) are removed unless `keep`. */
  async close(keep = false): Promise<void> {
    this.control.close();
    for (const m of this.members) {
      if (m.proc) {
        m.proc.kill('SIGKILL');
        await exitOf(m.proc);
        m.proc = null;
      }
      m.proxy?.close();
    }
    if (this.root && !keep) rmSync(this.root, { recursive: true, force: true });
  }
}

/** Run a command to completion without blocking the event loop; throws with its output if it fails. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${out}`));
    });
  });
}

/** Every process started here, killed if the parent exits without cleaning up (crash, vitest timeout). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

// ---- writers --------------------------------------------------------------------------------------

const ACKED = 1;
const REFUSED = 2;
const UNKNOWN = 3;
const PENDING = 0;

interface Attempt {
  list: string;
  st: number;
  /** The node that answered, and when (ms), for the diagnosis of a lost write. */
  port: number;
  at: number;
}

class Workload {
  readonly attempts = new Map<string, Attempt>();
  map: Int32Array = new Int32Array(16384).fill(-1);
  stopping = false;
  private refreshing: Promise<void> | null = null;
  private lastRefresh = 0;
  private readonly running: Promise<void>[] = [];

  constructor(
    private readonly cl: TestCluster,
    readonly listsByShard: string[][],
    private readonly writersPerShard: number,
    private readonly pauseMs: number,
    private readonly rand: () => number,
  ) {}

  /** A fresh slot map from some node (single flight, at most every 100 ms). */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    const wait = Math.max(0, this.lastRefresh + 100 - Date.now());
    this.refreshing = (async () => {
      await sleep(wait);
      const order = [...this.cl.members].sort(() => this.rand() - 0.5);
      for (const m of order) {
        if (!m.proc || m.stopped) continue;
        try {
          const map = await this.cl.slotMap(m.port);
          if (map.every((p) => p > 0)) {
            this.map = map;
            break;
          }
        } catch {
          // try another node
        }
      }
    })().finally(() => {
      this.lastRefresh = Date.now();
      this.refreshing = null;
    });
    return this.refreshing;
  }

  start(): void {
    let w = 0;
    for (const lists of this.listsByShard) for (let i = 0; i < this.writersPerShard; i++) this.running.push(this.writer(w++, lists));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  private async writer(w: number, lists: string[]): Promise<void> {
    const pool = new Pool(3000);
    try {
      for (let seq = 0; !this.stopping; seq++) {
        const list = lists[Math.floor(this.rand() * lists.length)]!;
        const slot = keyHashSlot(list);
        const port = this.map[slot]!;
        const value = `${w}.${seq}`;
        const a: Attempt = { list, st: PENDING, port, at: 0 };
        this.attempts.set(value, a);
        let conn: Redis;
        try {
          conn = await pool.get(port);
        } catch {
          a.st = REFUSED; // never sent
          void this.refresh();
          await sleep(50);
          continue;
        }
        try {
          const r = await conn.rpush(list, value);
          a.st = typeof r === 'number' ? ACKED : UNKNOWN;
          a.at = Date.now();
          if (this.pauseMs > 0) await sleep(this.pauseMs);
        } catch (e) {
          const msg = (e as Error).message;
          const isReply = (e as Error).name === 'ReplyError';
          a.st = isReply && refusedBeforeRunning(msg) ? REFUSED : UNKNOWN;
          if (!isReply) pool.drop(port);
          const moved = /^MOVED (\d+) [^:]*:(\d+)/.exec(msg);
          if (isReply && moved) {
            this.map[Number(moved[1])] = Number(moved[2]);
            void this.refresh();
          } else {
            void this.refresh();
            await sleep(20 + Math.floor(this.rand() * 60));
          }
        }
      }
    } finally {
      pool.close();
    }
  }

  count(st: number): number {
    let n = 0;
    for (const a of this.attempts.values()) if (a.st === st) n++;
    return n;
  }
}

interface Check {
  lost: Set<string>;
  duplicate: string[];
  phantom: string[];
  refusedPresent: string[];
  unknownPresent: number;
}

/** Read every list from its primary (following MOVED) and compare with the attempts. */
async function readBack(cl: TestCluster, wl: Workload, onlyAckedBefore: Set<string> | null): Promise<Check> {
  const present = new Map<string, number>();
  const where = new Map<string, string>();
  const pool = new Pool(10_000);
  try {
    for (const list of wl.listsByShard.flat()) {
      const slot = keyHashSlot(list);
      let values: string[] | null = null;
      for (let i = 0; values === null; i++) {
        if (i > 200) throw new Error(`${cl.label}: could not read ${list} back`);
        const port = wl.map[slot]!;
        try {
          values = (await (await pool.get(port)).lrange(list, 0, -1)) as string[];
        } catch (e) {
          const moved = /^MOVED (\d+) [^:]*:(\d+)/.exec((e as Error).message);
          if (moved) wl.map[slot] = Number(moved[2]);
          else {
            pool.drop(port);
            await wl.refresh();
            await sleep(100);
          }
        }
      }
      for (const v of values) {
        present.set(v, (present.get(v) ?? 0) + 1);
        where.set(v, list);
      }
    }
  } finally {
    pool.close();
  }
  const c: Check = { lost: new Set(), duplicate: [], phantom: [], refusedPresent: [], unknownPresent: 0 };
  for (const [v, a] of wl.attempts) {
    if (a.st === ACKED && !present.has(v) && (onlyAckedBefore === null || onlyAckedBefore.has(v))) c.lost.add(v);
  }
  for (const [v, n] of present) {
    const a = wl.attempts.get(v);
    if (n > 1) c.duplicate.push(v);
    if (!a || where.get(v) !== a.list) c.phantom.push(v);
    else if (a.st === REFUSED) c.refusedPresent.push(v);
    else if (a.st === UNKNOWN) c.unknownPresent++;
  }
  return c;
}

// ---- the scenario ---------------------------------------------------------------------------------

/** Run the scenario once against one side; every process started is killed before this returns. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rand = rng(seed);
  const log = opts.log ?? (() => undefined);
  const kinds = opts.faults ?? FAULT_KINDS;
  const cl = new TestCluster(opts.side, opts.minReplicasAck);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
  let wl: Workload | null = null;
  let failed = false;
  try {
    log(`${cl.label}: starting 3 primaries + 3 replicas (seed ${seed})`);
    await cl.start();
    log(`${cl.label}: cluster healthy after ${elapsed()}`);
    // Lists: `listsPerShard` per primary's slots, chosen from the initial map.
    const map = await cl.slotMap(cl.members[0]!.port);
    const byPort = new Map<number, string[]>();
    const perShard = opts.listsPerShard ?? 4;
    for (let i = 0; [...byPort.values()].filter((l) => l.length >= perShard).length < 3; i++) {
      const k = `chaos:list:${i}`;
      const p = map[keyHashSlot(k)]!;
      const l = byPort.get(p) ?? [];
      if (l.length < perShard) l.push(k);
      byPort.set(p, l);
    }
    wl = new Workload(cl, [...byPort.values()], opts.writersPerShard ?? 3, opts.writePauseMs ?? 2, rng(seed + 1));
    wl.map = map;
    wl.start();
    await sleep(1000);

    const faults: FaultRecord[] = [];
    const lostSoFar = new Set<string>();
    const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    const loopStart = Date.now();
    const longFirst = new Map<FaultKind, boolean>();
    outer: for (let loop = 0; loop < opts.loops; loop++) {
      const order = [...kinds].sort(() => rand() - 0.5);
      for (const kind of order) {
        if (opts.seconds > 0 && Date.now() - loopStart > opts.seconds * 1000) break outer;
        const ackedBefore = wl.count(ACKED);
        log(`[${elapsed()}] loop ${loop + 1} ${kind} starts at ${new Date().toISOString()}`);
        const f0 = Date.now();
        const { restartedPrimary, ...rec } = await applyFault(cl, kind, pick, rand, longFirst, log);
        await cl.waitHealthy(cl.healWaitMs);
        // A primary restarted at once was failed over if it came back as a replica.
        if (restartedPrimary !== undefined) rec.failedOver = !(await cl.servesSlots(restartedPrimary));
        await wl.refresh();
        // Charge to this fault the acknowledged writes that are missing now (acked before the read-back).
        const snapshot = new Set<string>();
        for (const [v, a] of wl.attempts) if (a.st === ACKED) snapshot.add(v);
        const check = await readBack(cl, wl, snapshot);
        let fresh = 0;
        for (const v of check.lost) if (!lostSoFar.has(v)) (lostSoFar.add(v), fresh++);
        const full: FaultRecord = { ...rec, lost: fresh, ms: Date.now() - f0 };
        faults.push(full);
        counts[kind]++;
        log(
          `[${elapsed()}] loop ${loop + 1} ${kind} (${rec.detail}${rec.failedOver ? ', failed over' : ''}): healthy after ${full.ms} ms; ` +
            `acked ${wl.count(ACKED)} (+${wl.count(ACKED) - ackedBefore}), lost so far ${lostSoFar.size} (+${fresh}), ` +
            `dup ${check.duplicate.length}, phantom ${check.phantom.length}, refused-present ${check.refusedPresent.length}`,
        );
      }
    }
    const ms = Date.now() - loopStart;
    await sleep(500);
    await wl.stop();
    await cl.waitHealthy(cl.healWaitMs);
    await wl.refresh();
    const final = await readBack(cl, wl, null);
    const res: ChaosResult = {
      side: opts.side,
      label: cl.label,
      minReplicasAck: opts.side === 'ours' ? opts.minReplicasAck : null,
      seed,
      attempts: wl.attempts.size,
      acked: wl.count(ACKED),
      ackedPerShard: wl.listsByShard.map((lists) => [...wl!.attempts.values()].filter((a) => a.st === ACKED && lists.includes(a.list)).length),
      refused: wl.count(REFUSED),
      unknown: wl.count(UNKNOWN),
      unknownPresent: final.unknownPresent,
      lost: final.lost.size,
      duplicate: final.duplicate.length,
      phantom: final.phantom.length,
      refusedPresent: final.refusedPresent.length,
      faults,
      faultCounts: counts,
      ms,
      samples: {
        lost: [...final.lost].slice(0, 10).map((v) => {
          const a = wl!.attempts.get(v)!;
          return `${v} (acked by ${a.port} at ${new Date(a.at).toISOString()})`;
        }),
        duplicate: final.duplicate.slice(0, 10),
        phantom: final.phantom.slice(0, 10),
        refusedPresent: final.refusedPresent.slice(0, 10),
      },
      partitionMethod:
        opts.side === 'ours'
          ? 'DEBUG CLUSTER-BUS-DROP (cluster bus messages dropped)'
          : 'TCP proxy on each announced cluster bus port (connections to/from the node closed)',
    };
    // Keep the logs of a run that broke a guarantee (any loss counts only with min-replicas-ack >= 1).
    if ((opts.side === 'ours' && opts.minReplicasAck >= 1 && res.lost > 0) || res.duplicate + res.phantom + res.refusedPresent > 0) {
      failed = true;
      log(`${cl.label}: node logs and data dirs kept in ${cl.root}`);
    }
    log(
      `${cl.label}: ${res.attempts} attempts, ${res.acked} acked, ${res.refused} refused, ${res.unknown} unknown ` +
        `(${res.unknownPresent} of them present); lost ${res.lost}, duplicate ${res.duplicate}, phantom ${res.phantom}, ` +
        `refused-but-present ${res.refusedPresent}`,
    );
    return res;
  } catch (e) {
    failed = true;
    log(cl.dumpLogs());
    log(await cl.dumpState());
    log(`${cl.label}: node logs and data dirs kept in ${cl.root}`);
    throw e;
  } finally {
    if (wl) {
      wl.stopping = true;
      await wl.stop().catch(() => undefined);
    }
    for (const m of cl.members) if (m.stopped) cl.cont(m);
    if (opts.keepDirs && !failed) log(`${cl.label}: node logs and data dirs kept in ${cl.root}`);
    await cl.close(failed || opts.keepDirs === true);
  }
}

/** A primary serving slots with a replica whose link is up (from the current view), chosen at random. */
async function pickPrimary(cl: TestCluster, pick: <T>(xs: T[]) => T): Promise<{ victim: Member; replica: Member; id: string }> {
  const view = await cl.view();
  const primaries = view.filter((n) => n.flags.includes('master') && n.slots > 0);
  const p = pick(primaries);
  const r = view.find((n) => n.primary === p.id)!;
  return { victim: cl.member(p.port), replica: cl.member(r.port), id: p.id };
}

async function applyFault(
  cl: TestCluster,
  kind: FaultKind,
  pick: <T>(xs: T[]) => T,
  rand: () => number,
  longFirst: Map<FaultKind, boolean>,
  log: (l: string) => void,
): Promise<Omit<FaultRecord, 'lost' | 'ms'> & { restartedPrimary?: number }> {
  const waitPromoted = async (replica: Member, ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await cl.servesSlots(replica.port)) return true;
      await sleep(100);
    }
    return false;
  };
  // stall / partition: the first of each kind lasts until the failover, later ones are long or short at random.
  const long = (): boolean => {
    if (!longFirst.has(kind)) {
      longFirst.set(kind, true);
      return true;
    }
    return rand() < 0.6;
  };
  switch (kind) {
    case 'kill9': {
      const { victim, replica } = await pickPrimary(cl, pick);
      log(`  kill -9 primary ${victim.port} (replica ${replica.port})`);
      await cl.kill(victim);
      const failedOver = await waitPromoted(replica, cl.failoverWaitMs);
      if (!failedOver) log(`kill9: ${replica.port} not promoted within ${cl.failoverWaitMs} ms`);
      await cl.restart(victim);
      return { kind, detail: `primary ${victim.port}`, failedOver };
    }
    case 'stall': {
      const { victim, replica } = await pickPrimary(cl, pick);
      const isLong = long();
      log(`  SIGSTOP primary ${victim.port} (replica ${replica.port}), ${isLong ? 'long' : 'short'}`);
      cl.stop(victim);
      let failedOver = false;
      try {
        if (isLong) failedOver = await waitPromoted(replica, cl.failoverWaitMs);
        else await sleep(300);
        if (isLong) await sleep(Math.floor(rand() * 500));
      } finally {
        cl.cont(victim);
      }
      return { kind, detail: `primary ${victim.port}, ${isLong ? 'until failover' : '300 ms'}`, failedOver };
    }
    case 'partition': {
      const { victim, replica } = await pickPrimary(cl, pick);
      const isLong = long();
      log(`  partition primary ${victim.port} (replica ${replica.port}), ${isLong ? 'long' : 'short'}`);
      await cl.setPartitioned(victim, true);
      let failedOver = false;
      try {
        if (isLong) failedOver = await waitPromoted(replica, cl.failoverWaitMs);
        else await sleep(300);
        if (isLong) await sleep(Math.floor(rand() * 500));
      } finally {
        await cl.setPartitioned(victim, false);
      }
      return { kind, detail: `primary ${victim.port}, ${isLong ? 'until failover' : '300 ms'}`, failedOver };
    }
    case 'restart': {
      const view = await cl.view();
      const n = pick(view);
      const victim = cl.member(n.port);
      const primary = n.flags.includes('master');
      log(`  kill -9 and restart ${primary ? 'primary' : 'replica'} ${victim.port}`);
      await cl.restart(victim);
      return { kind, detail: `${primary ? 'primary' : 'replica'} ${victim.port}`, failedOver: false, restartedPrimary: primary ? victim.port : undefined };
    }
    case 'failover': {
      const { victim, replica } = await pickPrimary(cl, pick);
      const mode = pick(['', 'force', 'takeover']);
      const args = mode ? ['cluster', 'failover', mode] : ['cluster', 'failover'];
      log(`  ${args.join(' ')} on replica ${replica.port} (primary ${victim.port})`);
      let failedOver: boolean;
      try {
        await cl.callSlow(replica.port, 30_000, ...args);
        failedOver = await waitPromoted(replica, cl.failoverWaitMs);
      } catch (e) {
        // Refused or timed out: recorded as a fault without failover (the CI test requires one).
        log(`  CLUSTER FAILOVER: ${(e as Error).message}`);
        failedOver = await cl.servesSlots(replica.port);
      }
      return { kind, detail: `CLUSTER FAILOVER${mode ? ' ' + mode.toUpperCase() : ''} on ${replica.port} (primary ${victim.port})`, failedOver };
    }
  }
}
