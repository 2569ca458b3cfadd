/**
 * The pub/sub hub: every browser socket and SSE stream of this gateway process shares a few upstream
 * subscriber connections (one per node address, ./upstream.ts), and each channel, pattern or shard
 * channel is subscribed upstream once, however many clients listen (reference counted).
 *
 * Where a subscription lives ("placements"):
 * - SUBSCRIBE / PSUBSCRIBE: PUBLISH reaches every node of the cluster, so one node is enough: a
 *   primary picked by hashing the name (spreading load), kept until that node goes away.
 * - SSUBSCRIBE: the slot's owner (main placement), plus the owner's replicas (a replica accepts
 *   SSUBSCRIBE for its primary's slots and receives nothing until it is promoted, so a failover has
 *   no gap), plus the importing node while the slot is migrating (subscribed with ASKING, so the
 *   slot's new owner already has the subscription when the migration ends).
 *
 * Moves (slot migrated, failover, node lost, a node pushing `sunsubscribe` because it lost the slot)
 * are reconciled per entry: new placements are subscribed first; only once the main placement is
 * confirmed are placements that are no longer wanted released. Clients never see these moves: the
 * hub never tells a subscriber it was unsubscribed. While a SUBSCRIBE/PSUBSCRIBE has two placements
 * (a deliberate move), identical messages arriving from both are delivered once (a short window).
 *
 * Delivery calls `deliver` on every subscriber synchronously; subscribers enqueue into their own
 * bounded queue (and close themselves when it overflows), so a slow client never stalls the hub or
 * the upstream connection.
 */
import { createHash } from 'node:crypto';
import { keyHashSlot } from '../../../common/src/slot';
import type { ClusterClient } from '../cluster/client';
import { Errors } from '../errors';
import type { GatewayMetrics } from '../metrics';
import { UpstreamConn, type SubKind } from './upstream';

export type { SubKind };

export interface HubMessage {
  kind: SubKind;
  /** The matching pattern (kind 'pattern'), latin1. */
  pattern: string | null;
  /** Channel name as latin1 (one char per byte). */
  channel: string;
  data: Buffer;
  /** Encoded forms shared by all recipients (filled lazily by the front ends). */
  cache: Map<string, Buffer | string>;
}

export interface HubSubscriber {
  /** Must not block: enqueue or drop. */
  deliver(m: HubMessage): void;
}

export interface HubOptions {
  password?: string;
  /** Also subscribe shard channels at the owner's replicas (no gap on failover). Default true. */
  shardReplicas?: boolean;
  connectTimeoutMs?: number;
  /** How long a first subscriber waits for the upstream subscription. */
  subscribeTimeoutMs?: number;
  /** Upstream PING period. */
  pingMs?: number;
  /** Duplicate suppression window after a SUBSCRIBE/PSUBSCRIBE gained a second placement. */
  dedupeMs?: number;
}

interface Placement {
  live: boolean;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  const d: Deferred = {
    promise,
    settled: false,
    resolve: () => {
      d.settled = true;
      resolve();
    },
    reject: (e) => {
      d.settled = true;
      reject(e);
    },
  };
  return d;
}

interface Entry {
  kind: SubKind;
  /** latin1 */
  name: string;
  key: string;
  subs: Set<HubSubscriber>;
  at: Map<string, Placement>;
  /** Resolved once the main placement is live. */
  ready: Deferred;
  /** Node chosen for a SUBSCRIBE/PSUBSCRIBE. */
  home: string | null;
  busy: boolean;
  again: boolean;
  retry: NodeJS.Timeout | null;
  failures: number;
  lastError: string;
  dedupe: { until: number; pending: Map<string, { addr: string; n: number }> } | null;
}

interface Want {
  addr: string;
  main: boolean;
  asking: boolean;
}

const PREFIX: Record<SubKind, string> = { channel: 'c:', pattern: 'p:', shard: 's:' };

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export class PubSubHub {
  private readonly entries = new Map<string, Entry>();
  private readonly conns = new Map<string, UpstreamConn>();
  private readonly bySub = new Map<HubSubscriber, Set<Entry>>();
  /** Addresses whose subscriber connection failed recently (not chosen as a home for a while). */
  private readonly badUntil = new Map<string, number>();
  /** MOVED answers to SSUBSCRIBE: slot -> address, until the slot map agrees or changes. */
  private readonly movedHints = new Map<number, string>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private readonly opts: Required<Omit<HubOptions, 'password'>> & Pick<HubOptions, 'password'>;
  private closed = false;
  private readonly clientCounts: Record<SubKind, number> = { channel: 0, pattern: 0, shard: 0 };
  private readonly onTopology = () => this.reconcileAll();

  constructor(
    private readonly client: ClusterClient,
    private readonly metrics: GatewayMetrics,
    opts: HubOptions = {},
  ) {
    this.opts = { shardReplicas: true, connectTimeoutMs: 2000, subscribeTimeoutMs: 6000, pingMs: 5000, dedupeMs: 2000, ...opts };
    client.on('topology', this.onTopology);
  }

  // ---- subscriber API ------------------------------------------------------------------------

  /**
   * Add `sub` to the listeners of `name` (bytes). Resolves when the upstream subscription is live
   * (at once when it already was); rejects when it cannot be made within the subscribe timeout, in
   * which case `sub` is removed again.
   */
  async subscribe(sub: HubSubscriber, kind: SubKind, name: Buffer | string): Promise<void> {
    if (this.closed) throw Errors.upstream('the gateway is shutting down');
    const n = typeof name === 'string' ? name : name.toString('latin1');
    const key = PREFIX[kind] + n;
    let e = this.entries.get(key);
    if (!e) {
      e = { kind, name: n, key, subs: new Set(), at: new Map(), ready: deferred(), home: null, busy: false, again: false, retry: null, failures: 0, lastError: '', dedupe: null };
      this.entries.set(key, e);
    }
    if (!e.subs.has(sub)) {
      const wasEmpty = e.subs.size === 0;
      e.subs.add(sub);
      let mine = this.bySub.get(sub);
      if (!mine) this.bySub.set(sub, (mine = new Set()));
      mine.add(e);
      this.clientCounts[kind]++;
      if (wasEmpty) {
        this.updateGauges();
        this.reconcile(e);
      } else this.metrics.subscriptions.set({ kind }, this.clientCounts[kind]);
    }
    if (e.ready.settled) return;
    let timer: NodeJS.Timeout | undefined;
    const entry = e;
    try {
      await Promise.race([
        e.ready.promise,
        new Promise<void>((_, reject) => {
          timer = setTimeout(
            () => reject(Errors.upstream(`cannot subscribe upstream within ${this.opts.subscribeTimeoutMs} ms${entry.lastError ? `: ${entry.lastError}` : ''}`)),
            this.opts.subscribeTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      this.unsubscribe(sub, kind, n);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Remove `sub` from `name`; the last listener leaving releases the upstream subscription. */
  unsubscribe(sub: HubSubscriber, kind: SubKind, name: Buffer | string): void {
    const n = typeof name === 'string' ? name : name.toString('latin1');
    const e = this.entries.get(PREFIX[kind] + n);
    if (!e || !e.subs.delete(sub)) return;
    this.bySub.get(sub)?.delete(e);
    this.clientCounts[kind]--;
    this.released(e);
  }

  /** Remove `sub` from everything it listens to (socket closed, stream ended). */
  removeAll(sub: HubSubscriber): void {
    const mine = this.bySub.get(sub);
    if (!mine) return;
    this.bySub.delete(sub);
    for (const e of mine) {
      if (!e.subs.delete(sub)) continue;
      this.clientCounts[e.kind]--;
      this.released(e);
    }
  }

  private released(e: Entry): void {
    if (e.subs.size === 0) {
      // Waiters of an unfinished first subscription have all left; the next subscriber waits anew.
      if (!e.ready.settled) e.ready.reject(Errors.upstream('unsubscribed'));
      e.ready = deferred();
      this.reconcile(e);
    }
    this.updateGauges();
  }

  /** Listeners of one name (tests and introspection). */
  listeners(kind: SubKind, name: Buffer | string): number {
    const n = typeof name === 'string' ? name : name.toString('latin1');
    return this.entries.get(PREFIX[kind] + n)?.subs.size ?? 0;
  }

  /** Where each name is subscribed upstream right now (tests and introspection). */
  placements(kind: SubKind, name: Buffer | string): Array<{ addr: string; live: boolean }> {
    const n = typeof name === 'string' ? name : name.toString('latin1');
    const e = this.entries.get(PREFIX[kind] + n);
    return e ? [...e.at].map(([addr, p]) => ({ addr, live: p.live })) : [];
  }

  get upstreamConnectionCount(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.off('topology', this.onTopology);
    for (const e of this.entries.values()) if (e.retry) clearTimeout(e.retry);
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    this.entries.clear();
    this.bySub.clear();
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
    this.clientCounts.channel = this.clientCounts.pattern = this.clientCounts.shard = 0;
    this.updateGauges();
  }

  // ---- placement ---------------------------------------------------------------------------

  private updateGauges(): void {
    const distinct: Record<SubKind, number> = { channel: 0, pattern: 0, shard: 0 };
    for (const e of this.entries.values()) if (e.subs.size > 0) distinct[e.kind]++;
    for (const k of ['channel', 'pattern', 'shard'] as const) {
      this.metrics.upstreamSubscriptions.set({ kind: k }, distinct[k]);
      this.metrics.subscriptions.set({ kind: k }, this.clientCounts[k]);
    }
    this.metrics.upstreamConnections.set({ kind: 'subscriber' }, this.conns.size);
  }

  private reconcileAll(): void {
    if (this.closed) return;
    // A changed slot map supersedes MOVED hints that it now agrees with.
    for (const [slot, addr] of this.movedHints) if (this.client.addrForSlot(slot) === addr) this.movedHints.delete(slot);
    for (const e of this.entries.values()) this.reconcile(e);
  }

  private isBad(addr: string): boolean {
    const t = this.badUntil.get(addr);
    if (t === undefined) return false;
    if (Date.now() > t) {
      this.badUntil.delete(addr);
      return false;
    }
    return true;
  }

  /** Where `e` should be subscribed now. */
  private wanted(e: Entry): Want[] {
    if (e.subs.size === 0 || this.closed) return [];
    const topo = this.client.topology;
    if (e.kind !== 'shard') {
      const nodes = [...topo.nodes.values()];
      const usable = (addr: string | null): boolean => {
        if (!addr) return false;
        const n = nodes.find((x) => x.addr === addr);
        if (n === undefined || n.failed) return false;
        // A live subscription stays where it is; a new one avoids a node whose connection just failed.
        return e.at.get(addr)?.live === true || !this.isBad(addr);
      };
      if (!usable(e.home)) {
        let cands = topo.shardPrimaries().filter((n) => !n.failed && !this.isBad(n.addr));
        if (!cands.length) cands = nodes.filter((n) => !n.failed && !this.isBad(n.addr));
        if (cands.length) e.home = cands[hashName(e.name) % cands.length]!.addr;
        else if (!e.home) e.home = this.client.anyAddr();
      }
      return e.home ? [{ addr: e.home, main: true, asking: false }] : [];
    }
    const slot = keyHashSlot(e.name);
    const ownerId = topo.owners[slot] ?? '';
    const owner = this.movedHints.get(slot) ?? this.client.addrForSlot(slot);
    if (!owner) return [];
    const out: Want[] = [{ addr: owner, main: true, asking: false }];
    const ownerNode = [...topo.nodes.values()].find((n) => n.addr === owner);
    if (this.opts.shardReplicas && ownerNode && ownerNode.id === ownerId) {
      for (const r of topo.replicasOf(ownerId)) if (!r.failed && r.addr !== owner) out.push({ addr: r.addr, main: false, asking: false });
    }
    const open = topo.open.get(slot);
    if (open?.to && open.to !== ownerNode?.id) {
      const to = topo.nodes.get(open.to);
      if (to && !to.failed && !out.some((w) => w.addr === to.addr)) out.push({ addr: to.addr, main: false, asking: true });
    }
    return out;
  }

  /** Bring `e`'s placements to what is wanted (serialized per entry; a request while busy reruns). */
  private reconcile(e: Entry): void {
    if (e.busy) {
      e.again = true;
      return;
    }
    e.busy = true;
    void (async () => {
      try {
        do {
          e.again = false;
          await this.reconcileOnce(e);
        } while (e.again && !this.closed);
      } catch {
        /* reconcileOnce handles its failures */
      } finally {
        e.busy = false;
      }
    })();
  }

  private async reconcileOnce(e: Entry): Promise<void> {
    if (e.retry) {
      clearTimeout(e.retry);
      e.retry = null;
    }
    const want = this.wanted(e);
    const adds = want.filter((w) => !e.at.has(w.addr));
    if (e.kind !== 'shard' && adds.length && e.at.size > 0) {
      e.dedupe = { until: Infinity, pending: new Map() };
    }
    let mainFailed = false;
    let sideFailed = false;
    let quick = false;
    await Promise.all(
      adds.map(async (w) => {
        const p: Placement = { live: false };
        e.at.set(w.addr, p);
        try {
          const conn = this.conn(w.addr);
          await conn.ready;
          await conn.subscribe(e.kind, [e.name], w.asking);
          p.live = true;
        } catch (err) {
          if (e.at.get(w.addr) === p) e.at.delete(w.addr);
          const msg = err instanceof Error ? err.message : String(err);
          e.lastError = msg;
          const moved = /^MOVED (\d+) (\S+)/.exec(msg);
          if (w.main) {
            mainFailed = true;
            if (moved) {
              this.movedHints.set(Number(moved[1]), moved[2]!);
              void this.client.refresh('moved').catch(() => {});
              quick = true;
            } else {
              void this.client.refresh('error').catch(() => {});
            }
          } else sideFailed = true;
        }
      }),
    );
    const main = want.find((w) => w.main);
    const mainLive = main ? e.at.get(main.addr)?.live === true : false;
    if (mainLive || want.length === 0) {
      // The wanted placements are live: release the others (stop accepting their messages first).
      const keep = new Set(want.map((w) => w.addr));
      for (const addr of [...e.at.keys()]) {
        if (keep.has(addr)) continue;
        e.at.delete(addr);
        const conn = this.conns.get(addr);
        if (conn?.alive) {
          conn.unsubscribe(e.kind, [e.name]).catch(() => {});
          this.maybeIdle(conn);
        }
      }
      if (mainLive) {
        e.failures = 0;
        if (!e.ready.settled) e.ready.resolve();
      }
    }
    // The overlap is over: keep suppressing duplicates a little longer (messages still in flight).
    if (e.dedupe && e.at.size <= 1 && e.dedupe.until === Infinity) e.dedupe.until = Date.now() + this.opts.dedupeMs;
    if (want.length === 0 && e.subs.size === 0 && e.at.size === 0) {
      if (this.entries.get(e.key) === e) this.entries.delete(e.key);
      this.updateGauges();
      return;
    }
    if (this.closed || e.subs.size === 0) return;
    if (!main || mainFailed) {
      e.failures++;
      if (quick && e.failures <= 3) e.again = true;
      else this.scheduleRetry(e, Math.min(50 * 2 ** Math.min(e.failures, 5), 1000));
    } else if (sideFailed) {
      this.scheduleRetry(e, 1000);
    }
  }

  private scheduleRetry(e: Entry, ms: number): void {
    if (e.retry || this.closed) return;
    e.retry = setTimeout(() => {
      e.retry = null;
      this.reconcile(e);
    }, ms);
    e.retry.unref();
  }

  private conn(addr: string): UpstreamConn {
    const idle = this.idleTimers.get(addr);
    if (idle) {
      clearTimeout(idle);
      this.idleTimers.delete(addr);
    }
    let c = this.conns.get(addr);
    if (c?.alive) return c;
    const conn: UpstreamConn = new UpstreamConn(
      addr,
      { password: this.opts.password, connectTimeoutMs: this.opts.connectTimeoutMs, pingMs: this.opts.pingMs },
      {
        onMessage: (kind, pattern, channel, data) => this.onMessage(addr, kind, pattern, channel, data),
        onDropped: (channel) => this.onDropped(addr, channel),
        onClose: (_reason, byUs) => this.onConnClosed(conn, byUs),
      },
    );
    c = conn;
    this.conns.set(addr, c);
    this.updateGauges();
    return c;
  }

  /** Close a connection that carries nothing after a short grace (a resubscribe often follows). */
  private maybeIdle(conn: UpstreamConn): void {
    if (this.idleTimers.has(conn.addr)) return;
    const t = setTimeout(() => {
      this.idleTimers.delete(conn.addr);
      if (conn.idle && this.conns.get(conn.addr) === conn) {
        this.conns.delete(conn.addr);
        conn.close();
        this.updateGauges();
      }
    }, 1000);
    t.unref();
    this.idleTimers.set(conn.addr, t);
  }

  private onConnClosed(conn: UpstreamConn, byUs: boolean): void {
    if (this.conns.get(conn.addr) === conn) this.conns.delete(conn.addr);
    this.updateGauges();
    if (this.closed || byUs) return;
    this.badUntil.set(conn.addr, Date.now() + 2000);
    void this.client.refresh('error').catch(() => {});
    for (const e of this.entries.values()) {
      if (!e.at.has(conn.addr)) continue;
      e.at.delete(conn.addr);
      this.reconcile(e);
    }
  }

  private onDropped(addr: string, channel: string): void {
    const e = this.entries.get(PREFIX.shard + channel);
    if (!e || !e.at.has(addr)) return;
    e.at.delete(addr);
    void this.client.refresh('moved').catch(() => {});
    this.reconcile(e);
  }

  // ---- delivery ----------------------------------------------------------------------------

  private onMessage(addr: string, kind: SubKind, pattern: string | null, channel: string, data: Buffer): void {
    const e = this.entries.get(PREFIX[kind] + (kind === 'pattern' ? pattern! : channel));
    if (!e || !e.at.has(addr) || e.subs.size === 0) return;
    if (e.dedupe) {
      if (Date.now() > e.dedupe.until) e.dedupe = null;
      else {
        const k = createHash('sha1').update(channel, 'latin1').update('\0').update(data).digest('base64');
        const p = e.dedupe.pending.get(k);
        if (p && p.addr !== addr) {
          if (--p.n === 0) e.dedupe.pending.delete(k);
          return;
        }
        if (p) p.n++;
        else e.dedupe.pending.set(k, { addr, n: 1 });
      }
    }
    this.metrics.pubsubMessages.inc({ kind });
    const m: HubMessage = { kind, pattern, channel, data, cache: new Map() };
    let n = 0;
    for (const s of e.subs) {
      try {
        s.deliver(m);
        n++;
      } catch {
        /* a subscriber's failure is its own */
      }
    }
    this.metrics.pubsubDeliveries.inc(n);
  }
}
