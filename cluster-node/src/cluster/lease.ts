/**
 * The write lease of a primary: the pure decision behind fencing. cluster.ts feeds it Date.now() and
 * the replies to its heartbeats; test/sim/failover-sim.ts runs the same code on simulated clocks.
 *
 * A failover can start another primary for a shard only while the old one may not accept writes, so a
 * primary with replicas writes only under a lease:
 *  - on the Raft leader, its Raft lease (no other node can be leader, hence none can fail it over);
 *  - elsewhere, a lease granted by the leader in reply to a heartbeat, valid until the heartbeat's SEND
 *    time + leaseMs on the primary's own clock (so a slow reply never extends it). The leader waits
 *    leaseMs + marginMs after its last grant (and after its own election) before promoting a replica.
 * A primary without replicas needs none: no failover can replace it.
 */

/** What the node knows about itself when a write arrives. */
export interface LeaseFacts {
  /** This node is a primary with at least one replica in its applied configuration. */
  primaryWithReplicas: boolean;
  /** Null unless this node is the Raft leader; then whether its Raft lease is valid now. */
  raftLease: boolean | null;
}

export class WriteLease {
  /** Writes are allowed before this time (ms, the primary's clock) on a non-leader primary. */
  private until = Number.NEGATIVE_INFINITY;

  /** The leader granted the heartbeat this node sent at `sentAtMs`. */
  granted(sentAtMs: number, leaseMs: number): void {
    this.until = Math.max(this.until, sentAtMs + leaseMs);
  }

  /** Whether this node may accept a write at `nowMs`. */
  allows(nowMs: number, facts: LeaseFacts): boolean {
    if (!facts.primaryWithReplicas) return true;
    if (facts.raftLease !== null) return facts.raftLease;
    return nowMs < this.until;
  }
}

/** What the Raft leader knows when a heartbeat asks it for a write lease. */
export interface GrantFacts {
  /** The leader's own lease is valid: no other node can be leader now. */
  raftLease: boolean;
  /** The requester is a primary in the leader's applied configuration. */
  requesterIsPrimary: boolean;
  /** The leader has applied every entry of its log. */
  logApplied: boolean;
}

/**
 * Whether the leader may grant a write lease (FailoverCoordinator.onHeartbeat adds fencing). Never to a
 * node the configuration no longer makes a primary: after a failover it has not applied yet (it was cut
 * off, or stalled) it still believes it is one, and a lease would let it write next to the replica
 * that replaced it. Never while an entry of the leader's log is unapplied either: it may be a failover
 * (one inherited from an earlier leader, which this leader did not fence for) about to demote the
 * requester. Config entries are rare and commit within a round trip, so this costs a lease renewal at
 * most.
 */
export function leaderMayGrant(f: GrantFacts): boolean {
  return f.raftLease && f.requesterIsPrimary && f.logApplied;
}

/**
 * Config ops that never change which node is a shard's primary: slot assignment and migration states,
 * epochs, addresses. Everything else (failover, replicate, forget, set-failed, join, and anything not
 * understood) might.
 */
const ROLE_NEUTRAL_OPS = new Set(['add-slots', 'del-slots', 'flush-slots', 'set-slot-migrating', 'set-slot-importing', 'set-slot-stable', 'set-slot-node', 'set-config-epoch', 'bump-epoch', 'node-info']);

/**
 * Whether an unapplied log entry may change a node's role (then the leader must not grant leases until it
 * is applied). Raft membership changes and role-neutral config ops cannot: a reshard appends such entries
 * back to back, and refusing grants for them would let every lease lapse for the whole reshard.
 */
export function entryMayChangeRoles(type: string, data: string): boolean {
  if (type !== 'normal') return false;
  if (data === '') return false; // the empty entry a new leader appends
  let cmd: unknown;
  try {
    cmd = JSON.parse(data);
  } catch {
    return true;
  }
  const neutral = (c: unknown): boolean => {
    const op = (c as { op?: unknown } | null)?.op;
    if (op === 'batch') return Array.isArray((c as { cmds?: unknown }).cmds) && ((c as { cmds: unknown[] }).cmds).every(neutral);
    return typeof op === 'string' && ROLE_NEUTRAL_OPS.has(op);
  };
  return !neutral(cmd);
}
