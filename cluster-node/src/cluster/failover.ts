/**
 * Failure detection, write leases and automatic failover, as decided by the Raft leader.
 *
 * Every node sends the leader a heartbeat each tick carrying its replication offset. The leader
 * answers primaries with a write lease: a primary that has replicas accepts writes only until
 * `sendTime + leaseMs` of the last heartbeat the leader granted (measured from when the primary SENT
 * it, so a delayed reply never extends it). The leader grants only while its own Raft lease is valid,
 * and a new leader waits `leaseMs + marginMs` after its election before failing anyone over, so no
 * lease granted by an earlier leader is still running.
 *
 * A primary not heard from for `failAfterMs` (> leaseMs + marginMs) is fenced (no more grants) and,
 * once `leaseMs + marginMs` passed since its last grant, replaced: one `failover` entry promotes the
 * replica holding the most of its stream. A primary acknowledges writes only under its lease, so what
 * a replica reports in a heartbeat sent after that moment (it echoes the time of the leader's reply to
 * its previous one) covers every write the primary acknowledged with it; each heartbeat also says which
 * primary's stream the replica's data is a prefix of (the one it last synchronized with and still
 * follows). Replicas are thus holders (a prefix of this primary's stream, reported since), empty
 * (restarted without data), others (data from another history: none of this primary's acknowledged
 * writes) or unknown (silent, failed, or no report since). With `min-replicas-ack N >= 1` every
 * acknowledged write is on N replicas, so the leader promotes only once at least (replicas - N + 1) are
 * holders: one of them has each such write, and the holder with the highest offset has them all. With
 * N = 0 it promotes the best replica it knows of (holders first, then by offset).
 *
 * A node restarted without its data (there is no persistence yet) says so in its heartbeats. While it
 * is a primary owning slots with replicas, it serves nothing and feeds no replica (so it cannot wipe
 * them with its empty dataset), gets no lease, and is replaced like a failed primary by the replica
 * holding the most data among those that have data; only when no reachable replica has any is it told
 * to serve what it has (`mayServe`). Unlike a silent primary, it is known to hold nothing: once every
 * replica is known, what none of them holds is gone, and the best of them is promoted.
 *
 * Decisions rest on when the leader last heard from each node. After the leader's own process stalled
 * (SIGSTOP, a long pause) the messages that arrived meanwhile are still unread at its first tick (timers
 * run before I/O), so after `stalled()` the next decision round is skipped; it is read by the round after.
 * Only one round in a row is skipped, so a loaded machine whose ticks are all late still decides.
 *
 * Pure apart from the clock values passed in: the caller supplies `now`, liveness and offsets. Every time
 * is the leader's own monotonic clock (clock.ts): grants, elections, last-heard times and the echoes of
 * its replies, so a wall-clock step cannot shorten the wait for a lease to run out.
 */
import type { ConfigCommand, ConfigState, NodeRecord } from './config-state';

export interface FailoverTiming {
  /** A node not heard from for this long is considered failed. */
  failAfterMs: number;
  /** Length of a write lease. */
  leaseMs: number;
  /** Allowance for clock rate differences and scheduling delays. */
  marginMs: number;
}

export function timingFor(nodeTimeoutMs: number): FailoverTiming {
  const leaseMs = Math.max(100, Math.floor(nodeTimeoutMs / 2));
  const marginMs = Math.max(50, Math.floor(nodeTimeoutMs / 5));
  return { failAfterMs: Math.max(nodeTimeoutMs, leaseMs + marginMs + 50), leaseMs, marginMs };
}

/** What a heartbeat says about where the node's data comes from. */
export interface StreamReport {
  /**
   * The primary whose replication stream the node's data is a prefix of: the one it last synchronized
   * with since it started, while it still follows it (null: none).
   */
  syncedWith: string | null;
  /**
   * When this leader answered the node's previous heartbeat (this leader's monotonic clock; -Infinity:
   * unknown, or answered by another process of the leader, whose clock has another origin).
   */
  echo: number;
}

type ReplicaKind = 'holder' | 'other' | 'empty' | 'unknown';

export interface PeerView {
  lastHeard(id: string): number;
  offset(id: string): number;
}

export class FailoverCoordinator {
  private leaderSince = Number.POSITIVE_INFINITY;
  private readonly lastGrant = new Map<string, number>();
  private readonly fenced = new Set<string>();
  /** Last time a command about a node was proposed (avoid flooding the log while it commits). */
  private readonly proposedAt = new Map<string, number>();
  private readonly offsets = new Map<string, number>();
  private readonly firstSeen = new Map<string, number>();
  /** Whether each node said, in its last heartbeat, that it restarted without its data. */
  private readonly dataless = new Map<string, boolean>();
  /** Dataless primaries that no reachable replica can replace with data: they serve what they have. */
  private readonly serveEmpty = new Set<string>();
  /**
   * When we first heard that a node restarted without its data (our clock): its previous process, which
   * may have fed its replicas (a full sync) until it died, was gone by then.
   */
  private readonly datalessSince = new Map<string, number>();
  /** The next decision round is skipped (our process was stalled); the last one was skipped. */
  private skipNext = false;
  private skippedLast = false;
  /** Where each node's data comes from, from its last heartbeat (null: a heartbeat without it, from an older version). */
  private readonly streams = new Map<string, StreamReport | null>();

  constructor(public timing: FailoverTiming) {}

  /** The leader before us: the only node whose silence we observed directly as a follower. */
  private previousLeader: string | null = null;

  becameLeader(now: number, previousLeader: string | null): void {
    this.leaderSince = now;
    this.previousLeader = previousLeader;
    this.lastGrant.clear();
    this.fenced.clear();
    this.proposedAt.clear();
  }

  steppedDown(): void {
    this.leaderSince = Number.POSITIVE_INFINITY;
  }

  /**
   * A heartbeat from `id`: record its offset, whether it lost its data and where its data comes from;
   * answer whether it gets a write lease.
   */
  onHeartbeat(id: string, offset: number, now: number, leaderLeaseValid: boolean, dataless = false, stream: StreamReport | null = null): boolean {
    this.offsets.set(id, offset);
    this.noteDataless(id, dataless, now);
    this.streams.set(id, stream);
    if (!leaderLeaseValid || this.fenced.has(id) || dataless) return false;
    this.lastGrant.set(id, now);
    return true;
  }

  /** Record whether `id` restarted without its data (from its heartbeat; the leader's own flag each tick). */
  noteDataless(id: string, dataless: boolean, now: number): void {
    this.dataless.set(id, dataless);
    if (dataless) {
      if (!this.datalessSince.has(id)) this.datalessSince.set(id, now);
    } else {
      this.serveEmpty.delete(id);
      this.datalessSince.delete(id);
    }
  }

  /** The leader's own report, each tick (it sends itself no heartbeat; as a replica it may be promoted). */
  noteSelf(id: string, offset: number, dataless: boolean, syncedWith: string | null, now: number): void {
    this.offsets.set(id, offset);
    this.noteDataless(id, dataless, now);
    this.streams.set(id, { syncedWith, echo: now });
  }

  /** A dataless primary that no replica with data can replace: it may serve (and feed replicas) again. */
  mayServe(id: string): boolean {
    return this.serveEmpty.has(id);
  }

  /** Our process was stalled (this tick came late): skip the next decision round, unless the last one was. */
  stalled(_now: number): void {
    if (!this.skippedLast) this.skipNext = true;
  }

  offsetOf(id: string): number {
    return this.offsets.get(id) ?? -1;
  }

  isFenced(id: string): boolean {
    return this.fenced.has(id);
  }

  /**
   * A manual failover (CLUSTER FAILOVER): fence the primary now and tell how long to wait before the
   * promotion may be committed (until every lease granted to it has run out).
   */
  fenceForManualFailover(primary: string, now: number): number {
    this.fenced.add(primary);
    const t = this.timing;
    const lastGrant = this.lastGrant.get(primary) ?? -Infinity;
    const since = Math.max(lastGrant, this.leaderSince === Number.POSITIVE_INFINITY ? now : this.leaderSince);
    return Math.max(0, since + t.leaseMs + t.marginMs - now);
  }

  /** Commands the leader should propose now. */
  decide(now: number, state: ConfigState, self: string, lastHeard: (id: string) => number, minReplicasAck: number): ConfigCommand[] {
    const t = this.timing;
    const out: ConfigCommand[] = [];
    // Followers hear only from the leader: a new leader gives everyone else a full timeout from its election.
    // A node that just joined gets a full timeout from when we first saw it in the configuration.
    for (const id of state.nodes.keys()) if (!this.firstSeen.has(id)) this.firstSeen.set(id, now);
    if (this.skipNext) {
      this.skipNext = false;
      this.skippedLast = true;
      return out;
    }
    this.skippedLast = false;
    const heard = (id: string): number =>
      id === this.previousLeader ? lastHeard(id) : Math.max(lastHeard(id), this.leaderSince, this.firstSeen.get(id) ?? now);
    const alive = (n: NodeRecord): boolean => n.id === self || now - heard(n.id) < t.failAfterMs;
    const recentlyProposed = (id: string): boolean => now - (this.proposedAt.get(id) ?? -Infinity) < 1000;
    for (const n of state.nodes.values()) {
      if (alive(n)) {
        if (this.fenced.has(n.id) && now - lastHeard(n.id) < t.leaseMs) this.fenced.delete(n.id);
        // Not heard from directly yet (we never hear from ourselves: a leader marked failed by an earlier
        // leader clears its own flag).
        if (n.failed && n.id !== self && now - lastHeard(n.id) >= t.leaseMs) continue;
        if (n.failed && !recentlyProposed(n.id)) {
          out.push({ op: 'set-failed', node: n.id, failed: false });
          this.proposedAt.set(n.id, now);
        }
        if (n.primary === null && this.dataless.get(n.id) === true) {
          const cmd = this.replaceDataless(n, now, state, alive, minReplicasAck);
          if (cmd) out.push(cmd);
        }
        continue;
      }
      if (n.id === self) continue;
      this.fenced.add(n.id);
      if (n.primary !== null) {
        if (!n.failed && !recentlyProposed(n.id)) {
          out.push({ op: 'set-failed', node: n.id, failed: true });
          this.proposedAt.set(n.id, now);
        }
        continue;
      }
      // A primary is down. Wait until no lease granted by anyone can still be running.
      const since = this.leasesOver(n.id);
      if (now < since) continue;
      if (recentlyProposed(n.id)) continue;
      const best = this.pickReplica(n, state, since, alive, minReplicasAck, false);
      if (best === null) {
        if (!n.failed) {
          out.push({ op: 'set-failed', node: n.id, failed: true });
          this.proposedAt.set(n.id, now);
        }
        continue;
      }
      // Pinned to n: a replica moved to another primary before this entry applies is not promoted.
      out.push({ op: 'batch', cmds: [{ op: 'failover', replica: best.node.id, primary: n.id }, { op: 'set-failed', node: n.id, failed: true }] });
      this.proposedAt.set(n.id, now);
    }
    return out;
  }

  /**
   * A live primary that restarted without its data: promote its replica with the most data, if one with
   * data is reachable (and, with min-replicas-ack N, at least replicas - N + 1 are); if none of its
   * reachable replicas has data either, let it serve; otherwise wait.
   */
  private replaceDataless(n: NodeRecord, now: number, state: ConfigState, alive: (n: NodeRecord) => boolean, minReplicasAck: number): ConfigCommand | null {
    const replicas = state.replicasOf(n.id);
    if (replicas.length === 0 || !state.owners.includes(n.id)) {
      this.serveEmpty.add(n.id);
      return null;
    }
    // Reports count once made after its leases ran out and after its previous process died: until then
    // that process may have fed a replica that reported itself empty (or behind) a moment before.
    const since = Math.max(this.leasesOver(n.id), this.datalessSince.get(n.id) ?? now);
    if (now < since) return null;
    if (now - (this.proposedAt.get(n.id) ?? -Infinity) < 1000) return null;
    const best = this.pickReplica(n, state, since, alive, minReplicasAck, true);
    if (best === null) return null;
    if (best.kind === 'empty') {
      // No replica has data either (the whole shard restarted): serve what we have, once every replica
      // said so (a silent one may hold data).
      if (replicas.every((r) => this.classify(r, n.id, since, alive) !== 'unknown')) this.serveEmpty.add(n.id);
      return null;
    }
    this.proposedAt.set(n.id, now);
    return { op: 'batch', cmds: [{ op: 'failover', replica: best.node.id, primary: n.id }] };
  }

  /** When every write lease `id` may hold has run out (leader clock): ours and our predecessors'. */
  private leasesOver(id: string): number {
    const t = this.timing;
    return Math.max(this.leaderSince, this.lastGrant.get(id) ?? -Infinity) + t.leaseMs + t.marginMs;
  }

  /** A replica of `p` as its heartbeats show it to us now (see the header). */
  private classify(r: NodeRecord, p: string, since: number, alive: (n: NodeRecord) => boolean): ReplicaKind {
    if (!alive(r) || r.failed) return 'unknown';
    const s = this.streams.get(r.id);
    if (s === undefined) return 'unknown';
    if (this.dataless.get(r.id) === true) return s === null || s.echo >= since ? 'empty' : 'unknown';
    if (s === null) return 'holder'; // an older node: as before, any live replica
    if (s.echo < since) return 'unknown';
    return s.syncedWith === p ? 'holder' : 'other';
  }

  /**
   * The replica to promote in place of primary `n` (whose leases ran out at `since`), null to wait (see
   * the header). `lostData`: n is alive but restarted without its data; else it is silent, and may come
   * back with writes no replica has. Holders first, then others, then empty ones, by offset.
   */
  private pickReplica(
    n: NodeRecord,
    state: ConfigState,
    since: number,
    alive: (n: NodeRecord) => boolean,
    minReplicasAck: number,
    lostData: boolean,
  ): { node: NodeRecord; kind: ReplicaKind } | null {
    const replicas = state.replicasOf(n.id);
    const kind = new Map(replicas.map((r) => [r.id, this.classify(r, n.id, since, alive)] as const));
    const rank: Record<ReplicaKind, number> = { holder: 0, other: 1, empty: 2, unknown: 3 };
    const best = (pool: NodeRecord[]): { node: NodeRecord; kind: ReplicaKind } | null => {
      const eligible = pool.filter((r) => !r.nofailover);
      eligible.sort((a, b) => rank[kind.get(a.id)!] - rank[kind.get(b.id)!] || this.offsetOf(b.id) - this.offsetOf(a.id) || (a.id < b.id ? -1 : 1));
      return eligible.length > 0 ? { node: eligible[0]!, kind: kind.get(eligible[0]!.id)! } : null;
    };
    const known = replicas.filter((r) => kind.get(r.id) !== 'unknown');
    if (minReplicasAck > 0) {
      const holders = replicas.filter((r) => kind.get(r.id) === 'holder');
      if (holders.length > 0 && holders.length >= replicas.length - minReplicasAck + 1) return best(holders);
      // n's own copy is gone and every replica is known: what none of them holds is lost anyway.
      return lostData && known.length === replicas.length ? best(known) : null;
    }
    // N = 0: availability first, as Redis; with no replica known, any live one.
    return best(known) ?? (lostData ? null : best(replicas.filter((r) => alive(r) && !r.failed)));
  }
}
