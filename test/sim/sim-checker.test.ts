/**
 * The simulation's safety checker on a corner the config VOPR found (seed 6789): a lone voter wins a
 * term on its own vote, with no message, appends entries and crashes before persisting any of it. It
 * restarts in the previous term, wins the same term again and writes other data at the same (index,
 * term). The lost entries never left its memory, so nobody can tell: no log matching violation.
 */
import { describe, expect, it } from 'vitest';
import { PERFECT_NETWORK, SimCluster } from './sim-cluster';

describe('safety checker', () => {
  it('forgets the unpersisted entries of a crashed lone voter that leads the same term again', () => {
    // fastDiskRate 0: every Ready is persisted 1..3 ticks after it is taken, so a crash can lose it.
    const c = new SimCluster(7, { electionTimeout: 5, heartbeatTimeout: 1, net: PERFECT_NETWORK, fastDiskRate: 0 });
    c.bootstrap(['n1']);
    expect(c.runUntil(() => c.leader() !== null, 100)).toBe(true);
    c.run(5); // its first term is durable now
    const durableTerm = c.raft('n1').status().term;

    // A new term, lost with its entries: crash right after the election, before the Ready persists.
    c.crash('n1');
    c.restart('n1');
    expect(c.runUntil(() => c.leader() !== null, 100)).toBe(true);
    const term = c.raft('n1').status().term;
    expect(term).toBe(durableTerm + 1);
    expect(c.propose('lost')!.ok).toBe(true);
    c.checker.scanLog('n1', c.raft('n1')); // the checker sees the entry (in memory only)
    expect(c.node('n1').storage.hardState().term).toBe(durableTerm);
    c.crash('n1');

    // Same term again, other data at the same index.
    c.restart('n1');
    expect(c.runUntil(() => c.leader() !== null, 100)).toBe(true);
    expect(c.raft('n1').status().term).toBe(term);
    expect(c.propose('kept')!.ok).toBe(true);
    c.checker.scanLog('n1', c.raft('n1'));
    c.run(10);
    expect(c.node('n1').app.appliedData).toContain('kept');
    expect(c.node('n1').app.appliedData).not.toContain('lost');
  });
});
