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
 * reachable replica with the highest replication offset. With `min-replicas-ack N >= 1` a write was
 * acknowledged only after N replicas had it, so the leader also requires at least
 * (replicas - N + 1) reachable replicas: one of them must hold every acknowledged write, and the one
 * with the highest offset does.
 *
 * A node restarted without its data (there is no persistence yet) says so in its heartbeats. While it
 * is a primary owning slots with replicas, it serves nothing and feeds no replica (so it cannot wipe
 * them with its empty dataset), gets no lease, and is replaced like a failed primary by the replica
 * holding the most data among those that have data; only when no reachable replica has any is it told
 * to serve what it has (`mayServe`).
 *
 * Decisions rest on when the leader last heard from each node. After the leader's own process stalled
 * (SIGSTOP, a long pause) the messages that arrived meanwhile are still unread, so `stalled(now)` gives
 * every node a fresh timeout instead of failing them all on the stale view.
 *
 * Pure apart from the clock values passed in: the caller supplies `now`, liveness and offsets.
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
  /** Our own process was stalled until then: nobody is judged silent from before it. */
  private resumedAt = Number.NEGATIVE_INFINITY;

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

  /** A heartbeat from `id`: record its offset (and whether it lost its data); answer whether it gets a write lease. */
  onHeartbeat(id: string, offset: number, now: number, leaderLeaseValid: boolean, dataless = false): boolean {
    this.offsets.set(id, offset);
    this.noteDataless(id, dataless);
    if (!leaderLeaseValid || this.fenced.has(id) || dataless) return false;
    this.lastGrant.set(id, now);
    return true;
  }

  /** Record whether `id` restarted without its data (from its heartbeat; the leader's own flag each tick). */
  noteDataless(id: string, dataless: boolean): void {
    this.dataless.set(id, dataless);
    if (!dataless) this.serveEmpty.delete(id);
  }

  /** A dataless primary that no replica with data can replace: it may serve (and feed replicas) again. */
  mayServe(id: string): boolean {
    return this.serveEmpty.has(id);
  }

  /** Our process was stalled (ticks came late): give every node a full timeout from now. */
  stalled(now: number): void {
    this.resumedAt = now;
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
    const heard = (id: string): number =>
      Math.max(id === this.previousLeader ? lastHeard(id) : Math.max(lastHeard(id), this.leaderSince, this.firstSeen.get(id) ?? now), this.resumedAt);
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
      if (now - this.leaderSince < t.leaseMs + t.marginMs) continue;
      if (now - (this.lastGrant.get(n.id) ?? -Infinity) < t.leaseMs + t.marginMs) continue;
      if (recentlyProposed(n.id)) continue;
      const replicas = state.replicasOf(n.id);
      const reachable = replicas.filter((r) => alive(r) && !r.failed);
      const eligible = reachable.filter((r) => !r.nofailover);
      const enough = minReplicasAck <= 0 || reachable.length >= replicas.length - minReplicasAck + 1;
      if (eligible.length === 0 || !enough) {
        if (!n.failed) {
          out.push({ op: 'set-failed', node: n.id, failed: true });
          this.proposedAt.set(n.id, now);
        }
        continue;
      }
      eligible.sort((a, b) => this.offsetOf(b.id) - this.offsetOf(a.id) || (a.id < b.id ? -1 : 1));
      const best = eligible[0]!;
      // With acknowledged writes required, never promote a replica behind a reachable one.
      out.push({ op: 'batch', cmds: [{ op: 'failover', replica: best.id }, { op: 'set-failed', node: n.id, failed: true }] });
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
    const t = this.timing;
    const replicas = state.replicasOf(n.id);
    if (replicas.length === 0 || !state.owners.includes(n.id)) {
      this.serveEmpty.add(n.id);
      return null;
    }
    if (now - this.leaderSince < t.leaseMs + t.marginMs) return null;
    if (now - (this.lastGrant.get(n.id) ?? -Infinity) < t.leaseMs + t.marginMs) return null;
    if (now - (this.proposedAt.get(n.id) ?? -Infinity) < 1000) return null;
    const reachable = replicas.filter((r) => alive(r) && !r.failed);
    const enough = minReplicasAck <= 0 || reachable.length >= replicas.length - minReplicasAck + 1;
    if (!enough) return null;
    const holding = reachable.filter((r) => this.dataless.get(r.id) === false && !r.nofailover);
    if (holding.length === 0) {
      if (reachable.every((r) => this.dataless.get(r.id) === true)) this.serveEmpty.add(n.id);
      return null;
    }
    holding.sort((a, b) => this.offsetOf(b.id) - this.offsetOf(a.id) || (a.id < b.id ? -1 : 1));
    this.proposedAt.set(n.id, now);
    return { op: 'batch', cmds: [{ op: 'failover', replica: holding[0]!.id }] };
  }
}
