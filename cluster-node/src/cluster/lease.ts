/**
 * The write lease of a primary: the pure decision behind fencing. cluster.ts feeds it its clock
 * (clock.ts) and the replies to its heartbeats; test/sim/failover-sim.ts runs the same code on simulated
 * clocks.
 *
 * A failover can start another primary for a shard only while the old one may not accept writes, so
 * every primary writes only under a lease:
 *  - on the Raft leader, its Raft lease (no other node can be leader, hence none can fail it over),
 *    counted in ticks and bounded in time by {@link RaftLeaseClock};
 *  - elsewhere, a lease granted by the leader in reply to a heartbeat, valid for leaseMs from the moment
 *    the primary SENT that heartbeat, on the primary's own monotonic clock (so a slow reply never extends
 *    it). The leader waits leaseMs + marginMs on its own monotonic clock after its last grant (and after
 *    its own election) before promoting a replica. Only durations are compared, each on one node's clock:
 *    the two nodes' clocks need not agree, only run at about the same rate (the margin covers the rest).
 * That includes a primary whose configuration lists no replicas: replicas may have been added to its
 * shard after it was cut off (it has not applied that), and the shard failed over to one of them. In a
 * one-node cluster the node is its own Raft leader, so its Raft lease serves.
 *
 * The monotonic clock decides; a wall-clock step cannot extend a lease. The wall clock can only end one
 * sooner (see clock.ts: a suspended host's monotonic clock stands still).
 */
import { instant, type Clock, type Instant } from './clock';

/** What the node knows about itself when a write arrives. */
export interface LeaseFacts {
  /** This node is a primary in the configuration it serves from (a replica accepts no writes anyway). */
  primary: boolean;
  /** Null unless this node is the Raft leader; then whether its Raft lease is valid now. */
  raftLease: boolean | null;
}

export class WriteLease {
  /** Writes are allowed before this moment (on both clocks) on a non-leader primary. */
  private until: Instant = { mono: Number.NEGATIVE_INFINITY, wall: Number.NEGATIVE_INFINITY };

  constructor(private readonly clock: Clock) {}

  /** Read when a heartbeat (a lease request) is sent: a grant in reply runs from this moment. */
  requestSent(): Instant {
    return instant(this.clock);
  }

  /** The leader granted the heartbeat this node sent at `sent` (from requestSent()). */
  granted(sent: Instant, leaseMs: number): void {
    this.until = {
      mono: Math.max(this.until.mono, sent.mono + leaseMs),
      wall: Math.max(this.until.wall, sent.wall + leaseMs),
    };
  }

  /** Whether this node may accept a write now. */
  allows(facts: LeaseFacts): boolean {
    if (!facts.primary) return true;
    if (facts.raftLease !== null) return facts.raftLease;
    return before(this.clock, this.until.mono, this.until.wall);
  }
}

/**
 * Now is before (`mono`, `wall`) on the monotonic clock, and the wall clock does not say it has passed.
 * Reads the clocks directly: this runs for every write on a primary.
 */
function before(clock: Clock, mono: number, wall: number): boolean {
  return clock.monoMs() < mono && clock.wallMs() < wall;
}

/**
 * The Raft leader's lease in time. RaftNode counts it in ticks from the tick its quorum-acknowledged
 * heartbeat was sent at; ticks stop while the process is stalled (SIGSTOP, a long pause), so requests
 * read before the first late tick would still see a lease that ran out long ago, while followers,
 * counting their own ticks, may have elected another leader. So the lease also ends leaseTicks x tickMs
 * after the moment of that tick (monotonic clock; the wall clock may only end it sooner).
 */
export class RaftLeaseClock {
  /** When each of the last ticks of the current RaftNode happened, by tick number modulo the length. */
  private readonly at = new Array<Instant>(64);
  /** Ticks of the current RaftNode (its clock). */
  private now = 0;

  constructor(
    private readonly clock: Clock,
    private readonly tickMs: number,
  ) {
    this.reset();
  }

  /** A new RaftNode: its tick count starts again at 0, now. */
  reset(): void {
    this.now = 0;
    this.at.fill(instant(this.clock));
  }

  /** The RaftNode ticked. */
  ticked(): void {
    this.now++;
    this.at[this.now % this.at.length] = instant(this.clock);
  }

  /** Whether a Raft lease with `remaining` of its `leaseTicks` ticks left (RaftNode.leaseRemaining()) holds in time too. */
  valid(remaining: number, leaseTicks: number): boolean {
    if (remaining <= 0) return false;
    const start = this.now + remaining - leaseTicks;
    if (start < 0 || this.now - start >= this.at.length) return false;
    const t = this.at[start % this.at.length]!;
    return before(this.clock, t.mono + leaseTicks * this.tickMs, t.wall + leaseTicks * this.tickMs);
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
