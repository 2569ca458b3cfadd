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

  /** A heartbeat from `id`: record its offset; answer whether it gets a write lease. */
  onHeartbeat(id: string, offset: number, now: number, leaderLeaseValid: boolean): boolean {
    this.offsets.set(id, offset);
    if (!leaderLeaseValid || this.fenced.has(id)) return false;
    this.lastGrant.set(id, now);
    return true;
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
      id === this.previousLeader ? lastHeard(id) : Math.max(lastHeard(id), this.leaderSince, this.firstSeen.get(id) ?? now);
    const alive = (n: NodeRecord): boolean => n.id === self || now - heard(n.id) < t.failAfterMs;
    const recentlyProposed = (id: string): boolean => now - (this.proposedAt.get(id) ?? -Infinity) < 1000;
    for (const n of state.nodes.values()) {
      if (alive(n)) {
        if (this.fenced.has(n.id) && now - lastHeard(n.id) < t.leaseMs) this.fenced.delete(n.id);
        if (n.failed && now - lastHeard(n.id) >= t.leaseMs) continue; // not heard from directly yet
        if (n.failed && !recentlyProposed(n.id)) {
          out.push({ op: 'set-failed', node: n.id, failed: false });
          this.proposedAt.set(n.id, now);
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
}
