/**
 * Focused, deterministic Raft scenarios on the simulated cluster (perfect network unless a test cuts
 * it). Each checks behaviour a cluster operator could observe; the SafetyChecker still runs after every
 * step underneath.
 */
import { describe, expect, it } from 'vitest';
import type { RaftNode } from '../../cluster-node/src/raft';
import { PERFECT_NETWORK, SimCluster, type SimOptions } from './sim-cluster';

const T = 10;

function cluster(n: number, seed = 1, extra: Partial<SimOptions> = {}): SimCluster {
  const c = new SimCluster(seed, {
    electionTimeout: T,
    heartbeatTimeout: 2,
    net: PERFECT_NETWORK,
    fastDiskRate: 1,
    ...extra,
  });
  c.bootstrap(Array.from({ length: n }, (_, i) => `n${i + 1}`));
  return c;
}

function electLeader(c: SimCluster): RaftNode {
  expect(c.runUntil(() => c.leader() !== null, 10 * T)).toBe(true);
  // Let the no-op commit so the leader is ready for conf changes.
  c.run(2);
  return c.leader()!;
}

function followers(c: SimCluster, leader: RaftNode): string[] {
  return [...c.alive().keys()].filter((id) => id !== leader.id);
}

function logOf(r: RaftNode): string[] {
  const l = r.inspectLog();
  return l.entries(l.firstIndex, l.lastIndex + 1).map((e) => `${e.index}@${e.term}:${e.type}:${e.data}`);
}

describe('raft scenarios', () => {
  it('elects a single leader and replicates proposals to every node in order', () => {
    const c = cluster(3);
    const leader = electLeader(c);
    expect(c.propose('a')).toMatchObject({ ok: true });
    expect(c.propose(new Uint8Array([1, 2, 3]))).toMatchObject({ ok: true });
    expect(c.propose('c')).toMatchObject({ ok: true });
    c.run(3);
    for (const n of c.nodes.values()) expect(n.app.appliedData).toEqual(['a', 'AQID', 'c']);
    const f = followers(c, leader)[0]!;
    expect(c.raft(f).propose('x')).toEqual({ ok: false, reason: 'not-leader', leaderHint: leader.id });
    expect(c.checker.maxCommitted).toBe(leader.status().lastIndex);
  });

  it('pre-vote: an isolated follower does not inflate its term and does not disrupt the leader on rejoin', () => {
    const c = cluster(3, 7);
    const leader = electLeader(c);
    const term = leader.status().term;
    const f = followers(c, leader)[0]!;
    c.isolate(f);
    c.run(20 * T);
    expect(c.raft(f).status().term).toBe(term);
    c.heal();
    c.run(3 * T);
    expect(c.leader()!.id).toBe(leader.id);
    expect(c.leader()!.status().term).toBe(term);
    for (const n of c.alive().values()) expect(n.status().term).toBe(term);
  });

  it('without pre-vote the same rejoin forces the leader out (the disruption pre-vote prevents)', () => {
    const c = cluster(3, 7, { preVote: false });
    const leader = electLeader(c);
    const term = leader.status().term;
    const f = followers(c, leader)[0]!;
    c.isolate(f);
    c.run(20 * T);
    expect(c.raft(f).status().term).toBeGreaterThan(term);
    c.heal();
    c.run(5 * T);
    expect(c.leader()!.status().term).toBeGreaterThan(term);
  });

  it('CheckQuorum: a partitioned leader steps down, and its lease ends before another leader is elected', () => {
    const c = cluster(5, 3);
    const old = electLeader(c);
    c.run(T); // lease established by heartbeat acknowledgements
    expect(old.leaseValid()).toBe(true);
    expect(old.leaseRemaining()).toBeLessThan(T);
    c.isolate(old.id);
    const isolatedAt = c.time;
    let leaseEndedAt = -1;
    let newLeaderAt = -1;
    let steppedDownAt = -1;
    for (let i = 0; i < 6 * T; i++) {
      c.step();
      if (leaseEndedAt < 0 && !old.leaseValid()) leaseEndedAt = c.time;
      if (steppedDownAt < 0 && old.status().role !== 'leader') steppedDownAt = c.time;
      const l = c.leader();
      if (newLeaderAt < 0 && l && l.id !== old.id) newLeaderAt = c.time;
    }
    expect(steppedDownAt).toBeGreaterThan(0);
    expect(steppedDownAt - isolatedAt).toBeLessThanOrEqual(2 * T);
    expect(newLeaderAt).toBeGreaterThan(0);
    expect(leaseEndedAt).toBeGreaterThan(0);
    expect(leaseEndedAt).toBeLessThan(newLeaderAt);
    expect(old.status().role).not.toBe('leader');
  });

  it('lease: a follower that restarts right after acknowledging the leader still withholds its vote', () => {
    // n1 leads; n3 cannot reach n1 but can reach n2. n2 acknowledges n1 and then restarts: it must not
    // help n3 win while n1 still believes in its lease (the SafetyChecker's lease invariant throws).
    const c = cluster(3, 11);
    const leader = electLeader(c);
    const [a, b] = followers(c, leader) as [string, string];
    c.cutOneWay(leader.id, b);
    c.cutOneWay(b, leader.id);
    c.run(2);
    c.crash(a);
    c.restart(a);
    c.raft(b).campaign();
    c.run(4 * T);
    expect(c.leader()).not.toBeNull();
  });

  it('snapshot: a follower behind the compacted log catches up by installing a snapshot', () => {
    const c = cluster(3, 5);
    const leader = electLeader(c);
    const lagging = followers(c, leader)[0]!;
    c.crash(lagging);
    for (let i = 0; i < 60; i++) {
      c.propose(`v${i}`);
      if (i % 10 === 0) c.step();
    }
    c.run(3);
    for (const [id] of c.alive()) expect(c.compact(id, c.node(id).app.applied)).toBe(true);
    expect(leader.status().firstIndex).toBeGreaterThan(50);
    c.restart(lagging);
    expect(c.runUntil(() => c.node(lagging).app.applied === c.node(leader.id).app.applied, 10 * T)).toBe(true);
    expect(c.stats.snapshotsInstalled).toBe(1);
    expect(c.node(lagging).app.chain).toBe(c.node(leader.id).app.chain);
    expect(c.node(lagging).storage.snapshot().meta.index).toBeGreaterThan(50);
    // Replication continues normally after the snapshot.
    c.propose('after');
    c.run(3);
    expect(c.node(lagging).app.appliedData).toEqual(['after']);
  });

  it('log conflict: entries of a deposed leader are overwritten by the new leader log', () => {
    const c = cluster(5, 9, { maxEntriesPerMessage: 2 });
    const old = electLeader(c);
    c.propose('committed-1');
    c.run(2);
    c.isolate(old.id);
    for (const d of ['lost-1', 'lost-2', 'lost-3']) expect(old.propose(d)).toMatchObject({ ok: true });
    c.run(1);
    expect(c.runUntil(() => (c.leader()?.id ?? old.id) !== old.id, 10 * T)).toBe(true);
    const fresh = c.leader()!;
    for (const d of ['kept-1', 'kept-2']) expect(fresh.propose(d)).toMatchObject({ ok: true });
    c.run(2);
    c.heal();
    c.run(4 * T);
    const logs = [...c.alive().values()].map(logOf);
    for (const l of logs) expect(l).toEqual(logs[0]);
    for (const n of c.nodes.values()) {
      expect(n.app.appliedData).toEqual(['committed-1', 'kept-1', 'kept-2']);
    }
  });

  it('fast backtracking: a follower with a long divergent tail converges in few round trips', () => {
    const c = cluster(3, 4, { maxEntriesPerMessage: 8 });
    const old = electLeader(c);
    c.isolate(old.id);
    for (let i = 0; i < 200; i++) old.propose(`stale-${i}`);
    c.run(1);
    expect(c.runUntil(() => (c.leader()?.id ?? old.id) !== old.id, 10 * T)).toBe(true);
    const fresh = c.leader()!;
    for (let i = 0; i < 20; i++) fresh.propose(`new-${i}`);
    c.run(2);
    let rejects = 0;
    c.tap = (m) => {
      if (m.type === 'append-resp' && m.reject) rejects++;
    };
    c.heal();
    expect(c.runUntil(() => c.node(old.id).app.applied === c.node(fresh.id).app.applied, 10 * T)).toBe(true);
    expect(rejects).toBeLessThanOrEqual(3);
  });

  it('learners receive the log but do not count toward the quorum', () => {
    const c = cluster(3, 2);
    const leader = electLeader(c);
    c.addEmptyNode('n4');
    expect(leader.proposeConfChange({ type: 'add-learner', nodeId: 'n4' })).toMatchObject({ ok: true });
    c.propose('x');
    c.run(5);
    expect(c.node('n4').app.appliedData).toEqual(['x']);
    expect(c.raft('n4').status().learners).toEqual(['n4']);
    // With both other voters down, leader + learner is not a quorum.
    for (const f of followers(c, leader).filter((id) => id !== 'n4')) c.crash(f);
    const res = leader.propose('y');
    expect(res).toMatchObject({ ok: true });
    c.run(3);
    expect(leader.status().commit).toBeLessThan((res as { index: number }).index);
    expect(c.raft('n4').status().lastIndex).toBe((res as { index: number }).index);
    // A learner never campaigns.
    c.crash(leader.id);
    c.run(10 * T);
    expect(c.raft('n4').status().role).toBe('follower');
  });

  it('replace a failed voter: add a learner, let it catch up, promote it, remove the dead voter', () => {
    const c = cluster(3, 6);
    const leader = electLeader(c);
    for (let i = 0; i < 20; i++) c.propose(`v${i}`);
    c.run(2);
    const dead = followers(c, leader)[0]!;
    c.crash(dead);
    c.addEmptyNode('n4');
    expect(leader.proposeConfChange({ type: 'add-learner', nodeId: 'n4' })).toMatchObject({ ok: true });
    expect(leader.proposeConfChange({ type: 'promote', nodeId: 'n4' })).toMatchObject({
      ok: false,
      reason: 'conf-change-pending',
    });
    expect(c.runUntil(() => leader.isCaughtUp('n4'), 5 * T)).toBe(true);
    c.run(1);
    expect(leader.proposeConfChange({ type: 'promote', nodeId: 'n4' })).toMatchObject({ ok: true });
    c.run(2);
    expect(leader.proposeConfChange({ type: 'remove', nodeId: dead })).toMatchObject({ ok: true });
    c.run(2);
    expect(leader.status().voters).toEqual([leader.id, followers(c, leader).find((x) => x !== 'n4')!, 'n4'].sort());
    expect(leader.proposeConfChange({ type: 'promote', nodeId: dead })).toMatchObject({
      ok: false,
      reason: 'invalid-conf-change',
    });
    // The new voter set tolerates the loss of the other original follower.
    const other = followers(c, leader).find((x) => x !== 'n4')!;
    c.crash(other);
    expect(leader.propose('still-works')).toMatchObject({ ok: true });
    c.run(3);
    expect(c.node('n4').app.appliedData.at(-1)).toBe('still-works');
  });

  it('a leader that removes itself keeps leading until the removal commits, then steps down', () => {
    const c = cluster(3, 8);
    const leader = electLeader(c);
    expect(leader.proposeConfChange({ type: 'remove', nodeId: leader.id })).toMatchObject({ ok: true });
    expect(leader.propose('x')).toMatchObject({ ok: false, reason: 'leader-removed' });
    c.run(2);
    expect(leader.status().role).toBe('follower');
    expect(c.runUntil(() => c.leader() !== null, 6 * T)).toBe(true);
    expect(c.leader()!.status().voters).not.toContain(leader.id);
    expect(c.propose('after-removal')).toMatchObject({ ok: true });
    c.run(3);
    // The removed node does not disrupt the remaining voters by campaigning.
    const term = c.leader()!.status().term;
    c.run(10 * T);
    expect(c.leader()!.status().term).toBe(term);
  });

  it('conf changes wait for the leader to commit an entry of its own term', () => {
    const c = cluster(3, 12, { net: { ...PERFECT_NETWORK, minDelay: 1, maxDelay: 1 } });
    expect(c.runUntil(() => c.leader() !== null, 10 * T)).toBe(true);
    const leader = c.leader()!;
    // Immediately after election the no-op is not committed yet.
    expect(leader.proposeConfChange({ type: 'add-learner', nodeId: 'n9' })).toMatchObject({
      ok: false,
      reason: 'leader-not-ready',
    });
    c.run(2);
    expect(leader.proposeConfChange({ type: 'add-learner', nodeId: 'n9' })).toMatchObject({ ok: true });
  });

  it('Figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
    // Raft paper, Figure 8, with index 1 being the bootstrap entry. Each phase lets through only the
    // messages the figure needs; between phases everything is blocked for T ticks so followers stop
    // withholding votes for the previous leader.
    const c = cluster(5, 21, { maxEntriesPerMessage: 1 });
    const r = (id: string) => c.raft(id);
    const among = (ids: string[]) => (m: { from: string; to: string }) => ids.includes(m.from) && ids.includes(m.to);
    const quiet = () => {
      c.filter = () => false;
      c.run(T);
    };
    const elect = (id: string) => {
      for (let i = 0; i < 3 && r(id).status().role !== 'leader'; i++) {
        r(id).campaign();
        c.settle();
      }
      expect(r(id).status().role).toBe('leader');
    };
    quiet();
    c.filter = null;
    elect('n1'); // term 2, no-op at 2
    c.run(2);
    // (a) n1 appends A at 3 (term 2) and gets it only to n2, then crashes.
    c.filter = among(['n1', 'n2']);
    expect(r('n1').propose('A')).toMatchObject({ ok: true, index: 3, term: 2 });
    c.settle();
    expect(r('n2').status().lastIndex).toBe(3);
    c.crash('n1');
    // (b) n5 wins term 3 with n3, n4 and appends its no-op at 3 (term 3) locally only; crashes.
    quiet();
    const votesOnly = (m: { type: string }) => m.type.includes('vote');
    c.filter = (m) => among(['n3', 'n4', 'n5'])(m) && votesOnly(m);
    elect('n5');
    expect(r('n5').inspectLog().term(3)).toBe(3);
    c.crash('n5');
    // (c) n1 restarts, wins term 4 with n3, n4 and copies A (term 2) to them, but not its own no-op.
    c.restart('n1');
    quiet();
    c.filter = (m) =>
      among(['n1', 'n3', 'n4'])(m) &&
      !(m.type === 'append' && m.entries.some((e) => e.term === 4) && r(m.to).status().lastIndex >= 3);
    elect('n1');
    c.run(3);
    for (const id of ['n3', 'n4']) expect(r(id).inspectLog().term(3)).toBe(2);
    // A is now on a majority (n1, n2, n3, n4) but is not of n1's term: it must not be committed.
    expect(r('n1').status().commit).toBe(2);
    c.crash('n1');
    // (d) n5 restarts and wins term 5 with n2, n3, n4 (its last term 3 beats their 2) and overwrites A.
    c.restart('n5');
    quiet();
    c.filter = among(['n2', 'n3', 'n4', 'n5']);
    elect('n5');
    c.run(3);
    for (const id of ['n2', 'n3', 'n4', 'n5']) {
      expect(r(id).inspectLog().term(3)).toBe(3);
      expect(c.node(id).app.appliedData).not.toContain('A');
    }
  });
});
