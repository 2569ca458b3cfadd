/**
 * The write-lease rules (cluster/lease.ts): a primary's lease runs from the send time of the granted
 * heartbeat on its monotonic clock (a wall-clock step never extends it); the leader's Raft lease ends in
 * time even when ticks stop; the leader grants only to primaries of its applied configuration, with
 * nothing unapplied.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../cluster-node/src/cluster/clock';
import { RaftLeaseClock, WriteLease, entryMayChangeRoles, leaderMayGrant } from '../../cluster-node/src/cluster/lease';

/** A node's clocks, driven by the test: `advance` moves both, `step` only the wall clock (NTP). */
class FakeClock implements Clock {
  mono = 5_000;
  wall = 1_700_000_000_000;
  monoMs(): number {
    return this.mono;
  }
  wallMs(): number {
    return this.wall;
  }
  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
  }
  step(ms: number): void {
    this.wall += ms;
  }
}

describe('WriteLease', () => {
  const facts = { primary: true, raftLease: null };

  it('runs leaseMs from when the granted heartbeat was sent, never shortened by an older grant', () => {
    const clock = new FakeClock();
    const l = new WriteLease(clock);
    expect(l.allows(facts)).toBe(false);
    const sent = l.requestSent();
    clock.advance(100); // the reply takes 100 ms: the lease still runs from the send
    l.granted(sent, 500);
    clock.advance(399);
    expect(l.allows(facts)).toBe(true);
    clock.advance(1);
    expect(l.allows(facts)).toBe(false);
    l.granted({ mono: sent.mono - 100, wall: sent.wall - 100 }, 500); // a late reply to an older heartbeat
    expect(l.allows(facts)).toBe(false);
    const next = l.requestSent();
    l.granted(next, 500);
    l.granted(sent, 500);
    clock.advance(499);
    expect(l.allows(facts)).toBe(true);
  });

  it('a wall-clock step back does not extend the lease: it ends leaseMs after the send on the monotonic clock', () => {
    const clock = new FakeClock();
    const l = new WriteLease(clock);
    l.granted(l.requestSent(), 500);
    clock.advance(300);
    clock.step(-3_600_000); // NTP steps the wall clock back an hour
    expect(l.allows(facts)).toBe(true);
    clock.advance(199);
    expect(l.allows(facts)).toBe(true);
    clock.advance(1);
    expect(l.allows(facts)).toBe(false); // 500 ms after the send, whatever the wall clock says
    // A grant requested after the step runs as usual.
    l.granted(l.requestSent(), 500);
    clock.advance(499);
    expect(l.allows(facts)).toBe(true);
    clock.advance(1);
    expect(l.allows(facts)).toBe(false);
  });

  it('a wall-clock step forward can only end the lease sooner (a suspended host); the next grant restores it', () => {
    const clock = new FakeClock();
    const l = new WriteLease(clock);
    l.granted(l.requestSent(), 500);
    clock.advance(100);
    clock.step(10_000); // the host slept 10 s: its monotonic clock did not move
    expect(l.allows(facts)).toBe(false);
    l.granted(l.requestSent(), 500);
    expect(l.allows(facts)).toBe(true);
    clock.advance(499);
    expect(l.allows(facts)).toBe(true);
    clock.advance(1);
    expect(l.allows(facts)).toBe(false);
  });

  it('every primary needs a lease, whether or not its configuration lists replicas; the leader uses its Raft lease', () => {
    const l = new WriteLease(new FakeClock());
    // A primary whose configuration lists no replica: one may have been added while it was cut off.
    expect(l.allows({ primary: true, raftLease: null })).toBe(false);
    expect(l.allows({ primary: false, raftLease: null })).toBe(true); // a replica: READONLY elsewhere
    expect(l.allows({ primary: true, raftLease: true })).toBe(true); // e.g. a one-node cluster
    l.granted(l.requestSent(), 500);
    expect(l.allows({ primary: true, raftLease: false })).toBe(false);
  });
});

describe('RaftLeaseClock', () => {
  // A Raft lease of 4 ticks of 100 ms that started at the tick just taken (RaftNode.leaseRemaining() = 4).
  it('ends leaseTicks x tickMs after the tick it started at, in time, even when ticks stop (a stalled process)', () => {
    const clock = new FakeClock();
    const rl = new RaftLeaseClock(clock, 100);
    clock.advance(100);
    rl.ticked();
    expect(rl.valid(4, 4)).toBe(true);
    clock.advance(399);
    expect(rl.valid(4, 4)).toBe(true);
    clock.advance(1);
    expect(rl.valid(4, 4)).toBe(false); // no tick came (SIGSTOP): RaftNode still counts 4 ticks left
    expect(rl.valid(0, 4)).toBe(false);
  });

  it('a wall-clock step back does not extend it', () => {
    const clock = new FakeClock();
    const rl = new RaftLeaseClock(clock, 100);
    rl.ticked();
    clock.step(-60_000);
    clock.advance(400);
    expect(rl.valid(4, 4)).toBe(false);
  });

  it('a wall-clock step forward ends it sooner; a lease started at a later tick is valid again', () => {
    const clock = new FakeClock();
    const rl = new RaftLeaseClock(clock, 100);
    rl.ticked();
    clock.step(5_000);
    expect(rl.valid(4, 4)).toBe(false);
    clock.advance(100);
    rl.ticked();
    expect(rl.valid(4, 4)).toBe(true);
  });
});

describe('leaderMayGrant', () => {
  it('only under its own lease, to a primary of its applied configuration, with its log applied', () => {
    const ok = { raftLease: true, requesterIsPrimary: true, logApplied: true };
    expect(leaderMayGrant(ok)).toBe(true);
    expect(leaderMayGrant({ ...ok, raftLease: false })).toBe(false);
    // Failed over while cut off: it still thinks it is the primary, the configuration says not.
    expect(leaderMayGrant({ ...ok, requesterIsPrimary: false })).toBe(false);
    // An entry (perhaps an inherited failover) is not applied yet.
    expect(leaderMayGrant({ ...ok, logApplied: false })).toBe(false);
  });
});

describe('entryMayChangeRoles', () => {
  it('lets reshard entries through and holds grants back for anything that may change a role', () => {
    const e = (cmd: unknown) => entryMayChangeRoles('normal', JSON.stringify(cmd));
    expect(e({ op: 'set-slot-migrating', node: 'a', slot: 1, to: 'b' })).toBe(false);
    expect(e({ op: 'set-slot-node', slot: 1, to: 'b', by: 'a' })).toBe(false);
    expect(e({ op: 'batch', cmds: [{ op: 'add-slots', node: 'a', slots: [[0, 1]] }, { op: 'bump-epoch', node: 'a' }] })).toBe(false);
    expect(entryMayChangeRoles('conf', '')).toBe(false);
    expect(entryMayChangeRoles('normal', '')).toBe(false);
    expect(e({ op: 'failover', replica: 'r' })).toBe(true);
    expect(e({ op: 'replicate', node: 'a', primary: 'b' })).toBe(true);
    expect(e({ op: 'forget', id: 'a', by: 'b' })).toBe(true);
    expect(e({ op: 'batch', cmds: [{ op: 'add-slots', node: 'a', slots: [] }, { op: 'failover', replica: 'r' }] })).toBe(true);
    expect(e({ op: 'something-new' })).toBe(true);
    expect(entryMayChangeRoles('normal', '{not json')).toBe(true);
  });
});
