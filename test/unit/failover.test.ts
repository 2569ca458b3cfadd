/**
 * The leader's failover decisions (cluster/failover.ts): leases, fencing, the wait for old leases, the
 * choice of replica, the min-replicas-ack reachability rule, and no false failures for new nodes.
 */
import { describe, expect, it } from 'vitest';
import { ConfigState, type NodeRecord } from '../../cluster-node/src/cluster/config-state';
import { FailoverCoordinator } from '../../cluster-node/src/cluster/failover';

const T = { failAfterMs: 1000, leaseMs: 500, marginMs: 200 };

function node(id: string, primary: string | null = null): NodeRecord {
  return { id, ip: '127.0.0.1', port: 1000 + [...id].reduce((a, ch) => a * 31 + ch.charCodeAt(0), 0) % 50000, cport: 0, hostname: '', primary, shardId: `s-${primary ?? id}`, configEpoch: 0, failed: false, nofailover: false };
}

/** Leader L, primary P owning slot 0 with replicas R1, R2. */
function setup(): ConfigState {
  const st = new ConfigState();
  st.apply({ op: 'join', node: node('L'), slots: [] });
  st.apply({ op: 'join', node: node('P'), slots: [[0, 100]] });
  st.apply({ op: 'join', node: node('R1', 'P'), slots: [] });
  st.apply({ op: 'join', node: node('R2', 'P'), slots: [] });
  return st;
}

describe('FailoverCoordinator', () => {
  it('a node never heard from is not failed before a full timeout from when the leader first saw it', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    const never = () => 0;
    expect(fc.decide(5000, st, 'L', never, 0)).toEqual([]); // first sight at 5000
    expect(fc.decide(5500, st, 'L', never, 0)).toEqual([]);
    expect(fc.decide(6100, st, 'L', never, 0).length).toBeGreaterThan(0);
  });

  it('fences a silent primary, waits out its last lease, then promotes the replica with the highest offset', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    const heard: Record<string, number> = { P: 2000, R1: 2950, R2: 2950 };
    fc.decide(0, st, 'L', (id) => heard[id] ?? 0, 0);
    expect(fc.onHeartbeat('P', 10, 2000, true)).toBe(true);
    fc.onHeartbeat('R1', 7, 2950, true);
    fc.onHeartbeat('R2', 9, 2950, true);
    const cmds = fc.decide(3050, st, 'L', (id) => heard[id] ?? 0, 0);
    expect(cmds).toEqual([{ op: 'batch', cmds: [{ op: 'failover', replica: 'R2', primary: 'P' }, { op: 'set-failed', node: 'P', failed: true }] }]);
    // Fenced: P gets no more leases even if it speaks again before the entry commits.
    expect(fc.onHeartbeat('P', 11, 3060, true)).toBe(false);
  });

  it('a new leader waits a lease length after its election before failing anyone over', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(10_000, 'P'); // P was the old leader: its silence counts from its last message
    const heard = (id: string): number => (id === 'P' ? 8000 : 10_000);
    expect(fc.decide(10_100, st, 'L', heard, 0).filter((c) => c.op === 'batch')).toEqual([]);
    expect(fc.decide(10_800, st, 'L', heard, 0).filter((c) => c.op === 'batch')).toHaveLength(1);
  });

  it('with min-replicas-ack N it needs replicas - N + 1 reachable replicas to promote', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.decide(0, st, 'L', () => 0, 2);
    const heard: Record<string, number> = { R1: 5000 };
    fc.onHeartbeat('R1', 0, 5000, true);
    // N = 2 of 2 replicas: one reachable replica is enough (2 - 2 + 1 = 1).
    expect(fc.decide(5000, st, 'L', (id) => heard[id] ?? 0, 2).some((c) => c.op === 'batch')).toBe(true);
    const fc1 = new FailoverCoordinator(T);
    fc1.becameLeader(0, null);
    fc1.decide(0, st, 'L', () => 0, 1);
    fc1.onHeartbeat('R1', 0, 5000, true);
    // N = 1 of 2: both replicas must be reachable (the one that acked may be the silent one).
    const cmds = fc1.decide(5000, st, 'L', (id) => heard[id] ?? 0, 1);
    expect(cmds.some((c) => c.op === 'batch')).toBe(false);
    expect(cmds).toContainEqual({ op: 'set-failed', node: 'P', failed: true });
  });
});

describe('FailoverCoordinator: stalls, its own failed flag, restarted primaries without data', () => {
  it('a leader marked failed by an earlier leader clears its own flag', () => {
    const st = setup();
    st.apply({ op: 'set-failed', node: 'L', failed: true });
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    // We never hear from ourselves: lastHeard(L) stays 0.
    expect(fc.decide(100, st, 'L', () => 100, 0)).toContainEqual({ op: 'set-failed', node: 'L', failed: false });
  });

  it('after its own process stalled, the leader skips one decision round (messages sent meanwhile are still unread)', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.decide(0, st, 'L', () => 0, 0);
    // Everyone was last heard at 1000; the leader was stopped until 5000 and has not read their messages yet.
    fc.stalled(5000);
    expect(fc.decide(5000, st, 'L', () => 1000, 0)).toEqual([]);
    // By the next round their messages were read: nobody is failed.
    expect(fc.decide(5100, st, 'L', () => 5050, 0)).toEqual([]);
    // Late ticks in a row (a loaded machine) skip at most one round in two: a silent primary is still replaced.
    fc.stalled(5500);
    expect(fc.decide(5500, st, 'L', (id) => (id === 'P' ? 1000 : 5450), 0)).toEqual([]);
    fc.stalled(5900);
    expect(fc.decide(5900, st, 'L', (id) => (id === 'P' ? 1000 : 5850), 0).some((c) => c.op === 'batch')).toBe(true);
  });

  it('a primary restarted without data gets no lease and is replaced by its replica with data, the most advanced one', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    const heard = () => 5000;
    fc.onHeartbeat('R1', 900, 5000, true, false);
    fc.onHeartbeat('R2', 0, 5000, true, true); // R2 restarted too: no data
    expect(fc.onHeartbeat('P', 0, 5000, true, true)).toBe(false);
    expect(fc.decide(5000, st, 'L', heard, 1)).toEqual([{ op: 'batch', cmds: [{ op: 'failover', replica: 'R1', primary: 'P' }] }]);
    expect(fc.mayServe('P')).toBe(false);
  });

  it('a primary restarted without data serves again when no reachable replica has data, and not before', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.onHeartbeat('P', 0, 5000, true, true);
    fc.onHeartbeat('R1', 0, 5000, true, true);
    // No heartbeat from R2 yet: whether it holds data is unknown, so wait.
    expect(fc.decide(5000, st, 'L', (id) => (id === 'R2' ? 0 : 5000), 0)).toEqual([]);
    expect(fc.mayServe('P')).toBe(false);
    fc.onHeartbeat('R2', 0, 5000, true, true);
    expect(fc.decide(5100, st, 'L', () => 5100, 0)).toEqual([]);
    expect(fc.mayServe('P')).toBe(true);
    // Its next heartbeat says it serves (no longer dataless): it gets leases again.
    expect(fc.onHeartbeat('P', 0, 5200, true, false)).toBe(true);
    expect(fc.mayServe('P')).toBe(false);
  });
});

describe('FailoverCoordinator: which replica holds the acknowledged writes (found by test/sim/failover-sim.ts)', () => {
  const fresh = (syncedWith: string | null, echo: number) => ({ syncedWith, echo });

  // Seed 856 (N = 1): the replica R1 restarted without data and said so; P's old process then full-synced
  // it (R1 got an acknowledged write no other copy had) and crashed; P came back without data. R1's
  // report of being empty was dated after P's last lease ran out, so R2 (never synchronized with P)
  // was preferred over an "empty" R1 and the write was lost. Reports now count only once made after
  // the leader heard P is dataless: its previous process, the only one that could feed R1, was gone.
  it('a primary restarted without data: replica reports count once made after its previous process died', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.onHeartbeat('R1', 0, 4900, true, true, fresh(null, 4800));
    fc.onHeartbeat('R2', 0, 4900, true, false, fresh(null, 4800));
    fc.onHeartbeat('P', 0, 5000, true, true, fresh(null, 4900)); // P is back, without data
    // Before the fix: [{ op: 'batch', cmds: [{ op: 'failover', replica: 'R2', primary: 'P' }] }].
    expect(fc.decide(5000, st, 'L', () => 5000, 1)).toEqual([]);
    // R1's next report, made after that: it holds P's stream (the sync), R2 still another history.
    fc.onHeartbeat('R1', 7, 5100, true, false, fresh('P', 5000));
    fc.onHeartbeat('R2', 0, 5100, true, false, fresh(null, 5000));
    expect(fc.decide(5100, st, 'L', () => 5100, 1)).toEqual([{ op: 'batch', cmds: [{ op: 'failover', replica: 'R1', primary: 'P' }] }]);
  });

  it("counts the leader's own offset when the leader is a replica of the failed primary", () => {
    const st = setup();
    st.apply({ op: 'replicate', node: 'L', primary: 'P' });
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.decide(0, st, 'L', () => 0, 0);
    fc.onHeartbeat('R1', 5, 5000, true, false, fresh('P', 4900));
    fc.onHeartbeat('R2', 5, 5000, true, false, fresh('P', 4900));
    fc.noteSelf('L', 9, false, 'P', 5000);
    const heard = (id: string) => (id === 'P' ? 0 : 5000);
    expect(fc.decide(5000, st, 'L', heard, 1)).toContainEqual({ op: 'batch', cmds: [{ op: 'failover', replica: 'L', primary: 'P' }, { op: 'set-failed', node: 'P', failed: true }] });
  });

  it('trusts only reports sent after the primary could no longer acknowledge writes (its leases ran out)', () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.decide(0, st, 'L', () => 0, 1);
    expect(fc.onHeartbeat('P', 10, 2000, true)).toBe(true); // its leases end by 2000 + 500 + 200
    fc.onHeartbeat('R1', 7, 3950, true, false, fresh('P', 3900));
    // R2's last report was sent before 2700 (it echoes an older reply): it may have acked more since.
    fc.onHeartbeat('R2', 6, 3950, true, false, fresh('P', 2600));
    let heard = (id: string) => (id === 'P' ? 2000 : 3950);
    expect(fc.decide(4000, st, 'L', heard, 1).some((c) => c.op === 'batch')).toBe(false);
    fc.onHeartbeat('R2', 9, 5050, true, false, fresh('P', 3950));
    heard = (id: string) => (id === 'P' ? 2000 : 5050);
    expect(fc.decide(5100, st, 'L', heard, 1)).toContainEqual({ op: 'batch', cmds: [{ op: 'failover', replica: 'R2', primary: 'P' }, { op: 'set-failed', node: 'P', failed: true }] });
  });

  it("a replica whose data comes from another primary's stream is no holder, whatever its offset", () => {
    const st = setup();
    const fc = new FailoverCoordinator(T);
    fc.becameLeader(0, null);
    fc.decide(0, st, 'L', () => 0, 2);
    fc.onHeartbeat('R1', 5, 5000, true, false, fresh('P', 4900));
    fc.onHeartbeat('R2', 9, 5000, true, false, fresh('Q', 4900)); // e.g. an old primary not resynced yet
    const heard = (id: string) => (id === 'P' ? 0 : 5000);
    expect(fc.decide(5000, st, 'L', heard, 2)).toContainEqual({ op: 'batch', cmds: [{ op: 'failover', replica: 'R1', primary: 'P' }, { op: 'set-failed', node: 'P', failed: true }] });
    // N = 1 needs two holders: wait.
    const fc1 = new FailoverCoordinator(T);
    fc1.becameLeader(0, null);
    fc1.decide(0, st, 'L', () => 0, 1);
    fc1.onHeartbeat('R1', 5, 5000, true, false, fresh('P', 4900));
    fc1.onHeartbeat('R2', 9, 5000, true, false, fresh('Q', 4900));
    expect(fc1.decide(5000, st, 'L', heard, 1).some((c) => c.op === 'batch')).toBe(false);
  });
});
