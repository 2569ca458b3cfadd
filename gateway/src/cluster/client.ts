/**
 * The gateway's cluster client: the slot map, one connection (conn.ts) per (node, db[, read-only]),
 * routing a command to the node that owns its slot, and the redirect/retry rules of a Redis Cluster
 * client (ioredis lib/cluster, ../shared/ENGINEERING.md pattern 7):
 *
 * - The map comes from CLUSTER SHARDS of a seed at start (CLUSTER NODES on servers without it), is
 *   refreshed (CLUSTER NODES) single-flight after a MOVED or a
 *   connection failure, and is watched: every `watchIntervalMs` every primary's CLUSTER NODES is read,
 *   so owner changes, open (migrating/importing) slots and failovers are seen without a redirect.
 * - MOVED patches the slot at once and schedules a refresh; ASK sends ASKING + the command on the
 *   target's connection (one shot); both within a redirect budget.
 * - TRYAGAIN, CLUSTERDOWN (including a primary that lost its write lease), LOADING and an unreachable
 *   node are retried with backoff until `retryWindowMs` is spent: these are refusals, the command did
 *   not run. A connection that dies with a command in flight is different: a read is retried, a write
 *   is not (it may have run), and the caller gets GW_ERR_UPSTREAM saying so.
 *
 * Commands are arrays of strings/Buffers; replies are RESP2 values with bulk and status strings as
 * Buffers (binary safe) and nested error replies as Error objects (see conn.ts).
 */
import { EventEmitter } from 'node:events';
import { CommandTimeoutError, UnsentError, UpstreamConn, type Arg, type Reply } from './conn';
import { SLOT_COUNT } from '../../../common/src/slot';
import { Errors, GatewayError, isReplyError } from '../errors';
import type { GatewayMetrics } from '../metrics';
import { Topology, diffTopology, type NodeInfo } from './topology';

export type { Arg, Reply } from './conn';

export interface ClusterClientOptions {
  seeds: Array<{ host: string; port: number }>;
  password?: string;
  username?: string;
  metrics: GatewayMetrics;
  /** Per upstream command (the watchdog's limit). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** How long a command keeps retrying refusals and unreachable nodes (covers a failover). */
  retryWindowMs?: number;
  redirectBudget?: number;
  watchIntervalMs?: number;
}

export interface SendOptions {
  db?: number;
  /** Read from a replica of the owning shard when one is up (READONLY connection). */
  replica?: boolean;
  /** The command is a write (not retried when a connection dies with it in flight). */
  write?: boolean;
  /**
   * Replica reads under a sync token: which replicas may answer (see `SyncNeed`); a replica may answer
   * any read when absent.
   */
  need?: SyncNeed;
  /** Writes: where to record the primary's replication offset after the write (read-your-writes). */
  log?: WriteLog;
}

/**
 * What a read presenting a sync token needs from a replica: `'primary'` (no replica is known to be
 * safe: read from the primary), or per primary id the replication offset a replica of it must have
 * acknowledged (primaries not listed: any replica).
 */
export type SyncNeed = 'primary' | ReadonlyMap<string, number>;

/**
 * The offset recorded for a write to a primary that had no replica: no replica can have acknowledged
 * it, so reads of that shard under the token go to the primary (a replica added later included).
 */
export const NO_REPLICA_YET = Number.MAX_SAFE_INTEGER;

/** The replication offsets a request's writes reached, per primary id; `unknown` when one was not learned. */
export interface WriteLog {
  offsets: Map<string, number>;
  unknown: boolean;
}

/** A ROLE reply's replication offset when the node answered as a primary, else null. */
export function roleOffset(r: unknown): number | null {
  return Array.isArray(r) && String(r[0]) === 'master' && typeof r[1] === 'number' ? r[1] : null;
}

/** Record that a write to primary `id` reached offset `o` (null id or offset: not learned). */
export function recordOffset(log: WriteLog, id: string | null, o: number | null): void {
  if (o === null || id === null) log.unknown = true;
  else if (o > (log.offsets.get(id) ?? -1)) log.offsets.set(id, o);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const NO_OPTIONS: SendOptions = {};

/** Highest config epoch in a CLUSTER NODES text (a view after a failover or a migration has a higher one). */
function viewEpoch(text: string): number {
  let max = -1;
  for (const line of text.split('\n')) {
    const e = Number(line.split(' ')[6]);
    if (e > max) max = e;
  }
  return max;
}

/** The freshest of several nodes' CLUSTER NODES answers (highest epoch; the first on ties), or null. */
function freshest(texts: Array<string | null>): string | null {
  let best: string | null = null;
  let bestEpoch = -1;
  for (const t of texts) {
    if (t === null) continue;
    const e = viewEpoch(t);
    if (best === null || e > bestEpoch) {
      best = t;
      bestEpoch = e;
    }
  }
  return best;
}

/** A reply error worth retrying: the node refused the command without running it. */
function isRefusal(msg: string): 'tryagain' | 'clusterdown' | 'loading' | null {
  if (msg.startsWith('TRYAGAIN')) return 'tryagain';
  if (msg.startsWith('CLUSTERDOWN')) return 'clusterdown';
  if (msg.startsWith('LOADING')) return 'loading';
  if (msg.startsWith('MASTERDOWN')) return 'clusterdown';
  return null;
}

export class ClusterClient extends EventEmitter {
  /** The slot map used for routing: the last map read, with slots patched by MOVED since. */
  topology: Topology = Topology.empty();
  /** The last map read from the cluster, never patched: the baseline that changes are measured against. */
  private seen: Topology = Topology.empty();
  /** Command connections by node address, each indexed by `db * 2 + (read-only ? 1 : 0)`. */
  private readonly conns = new Map<string, UpstreamConn[]>();
  private connCount = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private readonly opts: Required<Omit<ClusterClientOptions, 'password' | 'username'>> & Pick<ClusterClientOptions, 'password' | 'username'>;
  private refreshing: Promise<void> | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly metrics: GatewayMetrics;
  /** Last time each node address answered anything / failed. */
  private readonly downSince = new Map<string, number>();
  /** Slots seen migrating (open in CLUSTER NODES, or an ASK redirect) -> when first seen. */
  private readonly migrating = new Map<number, number>();
  /** Per primary id: when the gateway first saw it failing (for failover durations). */
  private readonly primaryTroubleSince = new Map<string, number>();
  /** Every address ever learned, so the map can be refreshed even when the seeds are gone. */
  private readonly knownAddrs = new Set<string>();
  lastRefreshOk = 0;
  /** Per replica address: the replication offset its primary last reported it had acknowledged. */
  private readonly replicaAcked = new Map<string, number>();
  /** ROLE queries waiting for the end of this turn, per connection (one covers every write of the turn). */
  private readonly pendingRoles = new Map<UpstreamConn, { promise: Promise<number | null>; resolve: (v: number | null) => void }>();

  constructor(opts: ClusterClientOptions) {
    super();
    this.opts = {
      commandTimeoutMs: 5000,
      connectTimeoutMs: 2000,
      retryWindowMs: 6000,
      redirectBudget: 16,
      watchIntervalMs: 1000,
      ...opts,
    };
    this.metrics = opts.metrics;
    for (const s of opts.seeds) this.knownAddrs.add(`${s.host}:${s.port}`);
  }

  /** Load the slot map (retrying until it works or `timeoutMs` passes) and start watching. */
  async start(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let trigger: 'start' | 'error' = 'start';
    for (;;) {
      try {
        // The first map from CLUSTER SHARDS; a server without it (Redis < 7) is read with CLUSTER NODES.
        if (!(await this.loadShards())) await this.refresh(trigger);
        if (this.topology.nodes.size > 0) break;
      } catch {
        /* retried below */
      }
      if (Date.now() > deadline) throw Errors.upstream(`cannot load the cluster slot map from ${[...this.knownAddrs].join(', ')}`);
      trigger = 'error';
      await sleep(200);
    }
    // A first watch now: CLUSTER SHARDS shows no config epochs, which sync tokens carry (sync-token.ts).
    if (this.seen.epoch < 0) await this.refresh('watch').catch(() => {});
    this.watchTimer = setInterval(() => void this.refresh('watch').catch(() => {}), this.opts.watchIntervalMs);
    this.watchTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    for (const c of this.allConns()) c.disconnect();
    this.conns.clear();
    this.connCount = 0;
  }

  /** How long a command keeps retrying refusals and unreachable nodes. */
  get retryWindowMs(): number {
    return this.opts.retryWindowMs;
  }

  /** True when every slot has a primary and at least one node answered the last refresh. */
  ready(): boolean {
    return this.topology.covered() === SLOT_COUNT && Date.now() - this.lastRefreshOk < Math.max(5000, 3 * this.opts.watchIntervalMs);
  }

  // ---- connections -----------------------------------------------------------------------------

  /** The command connection to `addr` for `db` (created on first use). */
  connection(addr: string, db = 0, readOnly = false): UpstreamConn {
    // Looked up per request: by address, then (db, read-only) as an index, with no key string built.
    const index = db * 2 + (readOnly ? 1 : 0);
    let byIndex = this.conns.get(addr);
    const hit = byIndex?.[index];
    if (hit !== undefined) return hit;
    const colon = addr.lastIndexOf(':');
    const conn = new UpstreamConn({
      host: addr.slice(0, colon),
      port: Number(addr.slice(colon + 1)),
      db,
      readOnly,
      password: this.opts.password,
      username: this.opts.username,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      retryDelay: (times) => (this.closed ? null : Math.min(50 * times, 1000)),
      onDirty: (d) => this.dirtied(d),
    });
    conn.on('ready', () => this.markUp(addr));
    conn.on('close', () => this.markDown(addr));
    if (byIndex === undefined) this.conns.set(addr, (byIndex = []));
    byIndex[index] = conn;
    this.connCount++;
    this.metrics.upstreamConnections.set({ kind: 'command' }, this.connCount);
    this.startWatchdog();
    return conn;
  }

  private *allConns(): Generator<UpstreamConn> {
    for (const byIndex of this.conns.values()) for (const c of byIndex) if (c !== undefined) yield c;
  }

  /**
   * Upstream command timeouts, one timer for every connection instead of a setTimeout and clearTimeout
   * per command. Every tick, each connection's commands waiting for a reply (and those held while it
   * connects) are walked from the oldest: one first seen by an earlier tick that has waited
   * `commandTimeoutMs` since fails with "Command timed out" (CommandTimeoutError). A command is seen
   * within a tick of being sent, so it times out between `commandTimeoutMs` and `commandTimeoutMs` plus
   * two ticks (a tick is a tenth of the timeout, at most 250 ms). The connection stays up; the node's
   * late reply goes to the settled command and is dropped.
   */
  private startWatchdog(): void {
    if (this.watchdog !== null || this.closed) return;
    const tick = Math.max(1, Math.min(250, Math.floor(this.opts.commandTimeoutMs / 10)));
    this.watchdog = setInterval(() => this.checkTimeouts(), tick);
    this.watchdog.unref();
  }

  private checkTimeouts(): void {
    const now = Date.now();
    const limit = this.opts.commandTimeoutMs;
    for (const c of this.allConns()) c.expire(now, limit);
  }

  /** Close connections to nodes no longer in the cluster (forgotten nodes would be redialled forever). */
  private dropConnectionsNotIn(t: Topology): void {
    if (t.nodes.size === 0) return;
    const live = new Set([...t.nodes.values()].map((n) => n.addr));
    for (const [addr, byIndex] of this.conns) {
      if (live.has(addr)) continue;
      this.conns.delete(addr);
      this.downSince.delete(addr);
      for (const c of byIndex) {
        if (c === undefined) continue;
        c.removeAllListeners('close');
        c.removeAllListeners('ready');
        c.disconnect();
        this.connCount--;
      }
    }
    this.metrics.upstreamConnections.set({ kind: 'command' }, this.connCount);
  }

  private markUp(addr: string): void {
    if (this.downSince.delete(addr)) this.updateNodeGauges();
  }

  private markDown(addr: string): void {
    if (this.closed || this.downSince.has(addr)) return;
    this.downSince.set(addr, Date.now());
    const node = [...this.topology.nodes.values()].find((n) => n.addr === addr);
    if (node?.primary && !this.primaryTroubleSince.has(node.id)) this.primaryTroubleSince.set(node.id, Date.now());
    this.updateNodeGauges();
    void this.refresh('error').catch(() => {});
  }

  private updateNodeGauges(): void {
    this.metrics.nodeUp.reset();
    for (const n of this.topology.nodes.values()) {
      const up = !n.failed && !this.downSince.has(n.addr) ? 1 : 0;
      this.metrics.nodeUp.set({ node: n.addr, role: n.primary ? 'primary' : 'replica' }, up);
    }
  }

  /**
   * Batch the commands one event-loop turn sends on a connection into one socket write: a connection
   * with commands to write reports itself here on its first command of the turn, and every such
   * connection is flushed in setImmediate, after the turn's other requests have queued theirs.
   */
  private dirtied(conn: UpstreamConn): void {
    this.dirty.push(conn);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.sendPendingRoles(); // behind the turn's commands, in the same writes
      const dirty = this.dirty;
      this.dirty = [];
      this.flushScheduled = false;
      for (const c of dirty) c.flush();
    });
  }

  /**
   * The primary's replication offset once every command sent on `conn` so far (and for the rest of
   * this event-loop turn) has run: one ROLE per connection per turn, sent behind the turn's commands on
   * the same connection, so it answers after them. null when the node does not answer as a primary.
   */
  offsetAfter(conn: UpstreamConn): Promise<number | null> {
    let p = this.pendingRoles.get(conn);
    if (!p) {
      let resolve!: (v: number | null) => void;
      const promise = new Promise<number | null>((r) => (resolve = r));
      p = { promise, resolve };
      this.pendingRoles.set(conn, p);
      this.scheduleFlush();
    }
    return p.promise;
  }

  private sendPendingRoles(): void {
    if (this.pendingRoles.size === 0) return;
    for (const [conn, p] of this.pendingRoles) {
      conn.sendCb(['ROLE'], (err, r) => p.resolve(err === null ? roleOffset(r) : null));
    }
    this.pendingRoles.clear();
  }

  /**
   * Every primary's replication offset now (ROLE on each, in parallel); null when one does not answer
   * as a primary. Taken after a request's writes were acknowledged, the offsets cover them and every
   * write acknowledged before: a token of these offsets is safe whatever the client wrote before.
   */
  async primaryOffsets(): Promise<Map<string, number> | null> {
    const prims = this.topology.shardPrimaries();
    const offs = await Promise.all(prims.map((p) => this.offsetAfter(this.connection(p.addr, 0)).catch(() => null)));
    const out = new Map<string, number>();
    for (let i = 0; i < prims.length; i++) {
      const o = offs[i];
      if (o === null || o === undefined) return null;
      out.set(prims[i]!.id, o);
    }
    return out;
  }

  /** The configuration epoch of the last slot map read (see Topology.epoch). */
  get epoch(): number {
    return this.seen.epoch;
  }

  /** Connections with commands to write this turn. */
  private dirty: UpstreamConn[] = [];
  private flushScheduled = false;

  // ---- slot map --------------------------------------------------------------------------------

  /** Refresh the slot map now (single flight: concurrent callers share one refresh). */
  refresh(trigger: 'start' | 'moved' | 'watch' | 'error'): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.doRefresh(trigger).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(trigger: string): Promise<void> {
    // Every primary in parallel: each shows its own open (migrating/importing) slots only, and a primary
    // without slots may be importing. The freshest answer gives the node table and the slot owners (so a
    // primary that has not applied the latest change yet cannot flip the map back and forth).
    const up = (a: string): boolean => !this.downSince.has(a);
    let prim = this.topology.primaries().map((n) => n.addr).filter(up);
    let texts = await Promise.all(prim.map((a) => this.nodesOf(a).catch(() => null)));
    let main = freshest(texts);
    if (main === null) {
      // Bootstrapping, or no primary answers: any address ever learned, reachable ones first.
      const rest = [...this.knownAddrs].filter((a) => !prim.includes(a)).sort((a, b) => Number(!up(a)) - Number(!up(b)));
      for (const addr of rest) {
        main = await this.nodesOf(addr).catch(() => null);
        if (main !== null) break;
      }
      if (main === null) {
        this.metrics.slotMapRefreshes.inc({ trigger, outcome: 'failed' });
        throw Errors.upstream('no cluster node answered CLUSTER NODES');
      }
      prim = Topology.parse(main).primaries().map((n) => n.addr).filter(up);
      texts = await Promise.all(prim.map((a) => this.nodesOf(a).catch(() => null)));
    }
    this.apply(Topology.parse(main, texts.filter((t): t is string => t !== null)));
    this.lastRefreshOk = Date.now();
    this.metrics.slotMapRefreshes.inc({ trigger, outcome: 'ok' });
    if (trigger === 'watch') await this.trackReplication().catch(() => {});
  }

  /**
   * Replica freshness for read-your-writes: each watch reads INFO replication on every primary and
   * keeps, per replica, the offset the primary says it has acknowledged. A read whose token needs
   * offset o from a shard goes to a replica of that shard whose acknowledged offset is at least o.
   */
  private async trackReplication(): Promise<void> {
    await Promise.all(
      this.topology.shardPrimaries().filter((p) => !this.downSince.has(p.addr)).map(async (p) => {
        const r = await this.connection(p.addr, 0).send(['INFO', 'replication']).catch(() => null);
        if (!Buffer.isBuffer(r)) return;
        for (const line of r.toString().matchAll(/slave\d+:ip=([^,]+),port=(\d+),state=online,offset=(\d+)/g)) {
          this.replicaAcked.set(`${line[1]}:${line[2]}`, Number(line[3]));
        }
      }),
    );
  }

  /** The slot map from the first known node answering CLUSTER SHARDS; false when none does. */
  private async loadShards(): Promise<boolean> {
    for (const addr of this.knownAddrs) {
      try {
        const colon = addr.lastIndexOf(':');
        const t = Topology.fromShards(await this.clusterQuery(addr, 'SHARDS'), { host: addr.slice(0, colon), port: Number(addr.slice(colon + 1)) });
        if (t.nodes.size === 0) continue;
        this.apply(t);
        this.lastRefreshOk = Date.now();
        this.metrics.slotMapRefreshes.inc({ trigger: 'start', outcome: 'ok' });
        return true;
      } catch {
        /* the next address */
      }
    }
    return false;
  }

  private async nodesOf(addr: string): Promise<string> {
    const r = await this.clusterQuery(addr, 'NODES');
    if (!Buffer.isBuffer(r)) throw Errors.upstream(`unexpected CLUSTER NODES reply from ${addr}`);
    return Topology.withAskedHost(r.toString(), addr.slice(0, addr.lastIndexOf(':')));
  }

  /** CLUSTER <sub> on `addr`, failing after the connect timeout (a node that accepts but never answers). */
  private clusterQuery(addr: string, sub: 'NODES' | 'SHARDS'): Promise<Reply> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Errors.timeout(`CLUSTER ${sub} on ${addr} timed out`)), this.opts.connectTimeoutMs);
    });
    return Promise.race([this.connection(addr, 0).send(['CLUSTER', sub]), timeout]).finally(() => clearTimeout(timer));
  }

  private apply(next: Topology): void {
    const prev = this.seen;
    this.seen = next;
    this.topology = next;
    for (const n of next.nodes.values()) this.knownAddrs.add(n.addr);
    const d = diffTopology(prev, next);
    const now = Date.now();
    for (const s of d.opened) this.migrationSeen(s, now);
    for (const [slot] of d.moved) {
      // A migration that started and finished between two looks is seen only as an owner change.
      const since = this.migrating.get(slot);
      if (since === undefined) this.metrics.migrationsStarted.inc();
      else this.metrics.migrationDuration.observe((now - since) / 1000);
      this.metrics.migrationsCompleted.inc();
      this.migrating.delete(slot);
    }
    // Closed without an owner change (cancelled), or learned from an ASK and never seen open since.
    for (const s of d.closed) if (!next.open.has(s)) this.migrating.delete(s);
    for (const [s, since] of this.migrating) if (!next.open.has(s) && now - since > 10_000) this.migrating.delete(s);
    for (const f of d.failovers) {
      const shard = next.shardIdOf(f.newPrimary);
      const since = this.primaryTroubleSince.get(f.oldPrimary);
      this.primaryTroubleSince.delete(f.oldPrimary);
      const seconds = since !== undefined ? (now - since) / 1000 : 0;
      this.metrics.failovers.inc({ shard });
      this.metrics.failoverDuration.observe({ shard }, seconds);
      this.emit('failover', { shard, oldPrimary: f.oldPrimary, newPrimary: f.newPrimary, seconds, at: now });
    }
    // A primary flagged failed by the cluster starts its trouble clock too.
    for (const n of next.nodes.values()) if (n.primary && n.failed && !this.primaryTroubleSince.has(n.id)) this.primaryTroubleSince.set(n.id, now);
    this.dropConnectionsNotIn(next);
    this.metrics.slotsCovered.set(next.covered());
    this.metrics.shards.set(next.shardPrimaries().length);
    this.metrics.slotsMigrating.set(next.open.size);
    this.updateNodeGauges();
    if (d.moved.length || d.opened.length || d.closed.length) this.emit('migration', { moved: d.moved.length, opened: d.opened, closed: d.closed, at: now });
    if (d.moved.length || d.failovers.length || prev.nodes.size !== next.nodes.size || d.opened.length || d.closed.length) this.emit('topology', next);
  }

  /** A slot seen migrating (open slot or ASK): counted as a started migration once. */
  private migrationSeen(slot: number, now: number): void {
    if (this.migrating.has(slot)) return;
    this.migrating.set(slot, now);
    this.metrics.migrationsStarted.inc();
  }

  /** The primary's address for a slot, or null when the slot has no owner. */
  addrForSlot(slot: number): string | null {
    const id = this.topology.owners[slot];
    if (!id) return null;
    return this.topology.nodes.get(id)?.addr ?? null;
  }

  private replicaAddrForSlot(slot: number, need: SyncNeed | undefined): string | null {
    if (need === 'primary') return null;
    const id = this.topology.owners[slot];
    if (!id) return null;
    const min = need?.get(id) ?? 0;
    const up = this.topology.replicasOf(id).filter((r) => r.connected && !this.downSince.has(r.addr) && (min <= 0 || (this.replicaAcked.get(r.addr) ?? -1) >= min));
    if (!up.length) return null;
    return up[Math.floor(Math.random() * up.length)]!.addr;
  }

  /** An address able to answer a keyless command: a primary that is up, else any known node. */
  anyAddr(): string {
    const prims = this.topology.shardPrimaries().filter((n) => !this.downSince.has(n.addr) && !n.failed);
    if (prims.length) return prims[Math.floor(Math.random() * prims.length)]!.addr;
    const nodes = [...this.topology.nodes.values()].filter((n) => !this.downSince.has(n.addr));
    if (nodes.length) return nodes[0]!.addr;
    return [...this.knownAddrs][0]!;
  }

  /** The primaries owning slots, as they are now. */
  primaryNodes(): NodeInfo[] {
    return this.topology.shardPrimaries();
  }

  /**
   * One slot per shard (the first slot each primary owns) with that primary: fan-outs send to these
   * slots with `send`, so a shard whose primary fails over mid-call is retried on its new primary.
   */
  shardSlots(): Array<{ slot: number; addr: string }> {
    return this.topology.shardSlots();
  }

  // ---- sending ---------------------------------------------------------------------------------

  /**
   * Run a command in `slot` (or on any primary when slot is -1), following redirects and retrying
   * refusals within the retry window.
   */
  send(slot: number, args: readonly Arg[], opts: SendOptions = NO_OPTIONS): Promise<Reply> {
    // The common case first: a slot whose owner is known and connected, no replica read, and (for a
    // write) a primary without replicas, whose offset needs no ROLE. One command on the wire, and the
    // redirect/retry loop below only if it fails.
    try {
      const fast = this.sendDirect(slot, args, opts);
      if (fast !== null) return fast;
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.sendLoop(slot, args, opts, Date.now());
  }

  /** `send` on the owner's ready connection, or null when the loop must decide. */
  private sendDirect(slot: number, args: readonly Arg[], opts: SendOptions): Promise<Reply> | null {
    if (slot < 0 || opts.replica === true) return null;
    const addr = this.addrForSlot(slot);
    if (addr === null) return null;
    const conn = this.connection(addr, opts.db ?? 0, false);
    if (conn.status !== 'ready') return null;
    const log = opts.write === true ? opts.log : undefined;
    if (log !== undefined) {
      const id = this.topology.idAt(addr);
      if (id === null || this.topology.hasReplicas(id)) return null; // its offset comes from a ROLE: the loop
      // Recorded whatever the outcome, as the loop does: a failed write may have applied.
      recordOffset(log, id, NO_REPLICA_YET);
    }
    const started = Date.now();
    return conn.send(args).catch((e: unknown) => this.sendLoop(slot, args, opts, started, { error: e, addr }));
  }

  /** `send`'s redirect/retry loop; `first` is a first attempt that already failed (sent by `send`). */
  private async sendLoop(slot: number, args: readonly Arg[], opts: SendOptions, started: number, first?: { error: unknown; addr: string }): Promise<Reply> {
    const db = opts.db ?? 0;
    const deadline = started + this.opts.retryWindowMs;
    let redirects = 0;
    let askAddr: string | null = null;
    let movedAddr: string | null = null;
    let attempt = first === undefined ? 0 : 1;
    let failed = first;
    for (;;) {
      let addr: string;
      let e: unknown;
      if (failed !== undefined) {
        // The attempt `send` made: handled as any failed attempt below.
        addr = failed.addr;
        e = failed.error;
        failed = undefined;
      } else {
        attempt++;
        let to: string | null;
        if (askAddr) to = askAddr;
        else if (movedAddr) to = movedAddr;
        else if (slot < 0) to = this.anyAddr();
        else to = (opts.replica && !opts.write ? this.replicaAddrForSlot(slot, opts.need) : null) ?? this.addrForSlot(slot);
        const useReplica = !askAddr && !movedAddr && slot >= 0 && !!opts.replica && !opts.write && to !== this.addrForSlot(slot);
        movedAddr = null;
        if (!to) {
          // No owner known: refresh and wait (CLUSTERDOWN-like) within the window.
          if (Date.now() > deadline) throw Errors.upstream(`no node serves hash slot ${slot}`);
          this.metrics.retries.inc({ reason: 'unowned' });
          await this.refresh('error').catch(() => {});
          await sleep(Math.min(50 * attempt, 500));
          continue;
        }
        addr = to;
        const conn = this.connection(addr, db, useReplica);
        if (conn.status !== 'ready' && conn.status !== 'connecting') {
          // Known unreachable (reconnecting): not sent, so retrying is safe for any command.
          if (Date.now() > deadline) throw Errors.upstream(`cluster node ${addr} is unreachable`);
          this.metrics.retries.inc({ reason: 'unreachable' });
          await this.refresh('error').catch(() => {});
          await sleep(Math.min(50 * attempt, 500));
          continue;
        }
        try {
          let reply: Reply;
          if (askAddr) {
            askAddr = null;
            // A write during a migration: its offset is not tracked (the token falls back to a full one).
            if (opts.write && opts.log) opts.log.unknown = true;
            // Back to back on the wire: the node applies ASKING to the very next command.
            const [, last] = await conn.batch([['ASKING'], args]);
            if (last[0] !== null) throw last[0];
            reply = last[1];
          } else if (opts.write && opts.log) {
            const log = opts.log;
            const id = this.topology.idAt(addr);
            const sent = conn.send(args);
            // Asked now, so the ROLE goes out behind this write on the same connection. A primary with
            // no replica needs none: no replica may serve the write's reads (NO_REPLICA_YET).
            const off = id !== null && this.topology.hasReplicas(id) ? this.offsetAfter(conn) : null;
            try {
              reply = await sent;
            } finally {
              // Recorded even when the write failed: it may have applied.
              recordOffset(log, id, off === null ? NO_REPLICA_YET : await off);
            }
          } else {
            reply = await conn.send(args);
          }
          return reply;
        } catch (err) {
          e = err;
        }
      }
      if (e instanceof GatewayError) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      if (isReplyError(e)) {
        if (msg.startsWith('MOVED ') || msg.startsWith('ASK ')) {
          if (++redirects > this.opts.redirectBudget) throw e;
          const [kind, slotStr, target] = msg.split(' ') as [string, string, string];
          const s = Number(slotStr);
          if (!(s >= 0 && s < SLOT_COUNT) || !target) throw e;
          if (kind === 'MOVED') {
            this.metrics.redirects.inc({ type: 'moved' });
            if (this.topology.open.has(s)) this.metrics.migrationKeysMoved.inc();
            this.patchSlot(s, target);
            movedAddr = target;
            void this.refresh('moved').catch(() => {});
          } else {
            this.metrics.redirects.inc({ type: 'ask' });
            this.metrics.migrationKeysMoved.inc();
            this.migrationSeen(s, Date.now());
            askAddr = target;
          }
          continue;
        }
        const refusal = isRefusal(msg);
        if (refusal && Date.now() < deadline) {
          this.metrics.retries.inc({ reason: refusal });
          if (refusal === 'clusterdown') void this.refresh('error').catch(() => {});
          await sleep(Math.min(25 * 2 ** Math.min(attempt, 5), 500));
          continue;
        }
        throw e;
      }
      if (e instanceof CommandTimeoutError) throw Errors.timeout(`cluster node ${addr} did not answer within ${this.opts.commandTimeoutMs} ms${opts.write ? ': the write may or may not have been applied' : ''}`);
      // Never written to a socket (held while connecting, or the connection closed before its turn's write): safe to retry.
      const unsent = e instanceof UnsentError;
      // Otherwise a connection-level failure with the command possibly in flight.
      if (opts.write && !unsent) throw Errors.upstream(`connection to ${addr} lost with the command in flight: it may or may not have been applied (${msg})`);
      if (Date.now() > deadline) throw Errors.upstream(`cluster node ${addr}: ${msg}`);
      this.metrics.retries.inc({ reason: 'connection' });
      void this.refresh('error').catch(() => {});
      await sleep(Math.min(50 * attempt, 500));
    }
  }

  /** MOVED: the slot now belongs to `addr` (a node we may not know yet). */
  private patchSlot(slot: number, addr: string): void {
    this.knownAddrs.add(addr);
    const node = [...this.topology.nodes.values()].find((n) => n.addr === addr);
    if (!node) return;
    // Copy on first patch: `seen` stays as read, so the next refresh still sees the owner change.
    if (this.topology === this.seen) this.topology = this.topology.clone();
    this.topology.setOwner(slot, node.id);
  }

  /** Run a command on a specific node address (fan-out), with the refusal retries but no redirects. */
  async sendTo(addr: string, args: readonly Arg[], db = 0): Promise<Reply> {
    const deadline = Date.now() + this.opts.retryWindowMs;
    let attempt = 0;
    for (;;) {
      attempt++;
      try {
        return await this.connection(addr, db).send(args);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        const refusal = isReplyError(e) ? isRefusal(msg) : null;
        if (refusal && Date.now() < deadline) {
          this.metrics.retries.inc({ reason: refusal });
          await sleep(Math.min(25 * 2 ** Math.min(attempt, 5), 500));
          continue;
        }
        if (isReplyError(e)) throw e;
        if (e instanceof CommandTimeoutError) throw Errors.timeout(`cluster node ${addr} did not answer within ${this.opts.commandTimeoutMs} ms`);
        throw Errors.upstream(`cluster node ${addr}: ${msg}`);
      }
    }
  }
}
