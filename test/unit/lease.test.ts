/**
 * The write-lease rules (cluster/lease.ts): a primary's lease runs from the send time of the granted
 * heartbeat; the leader grants only to primaries of its applied configuration, with nothing unapplied.
 */
import { describe, expect, it } from 'vitest';
import { WriteLease, entryMayChangeRoles, leaderMayGrant } from '../../cluster-node/src/cluster/lease';

describe('WriteLease', () => {
  it('runs leaseMs from when the granted heartbeat was sent, never shortened by an older grant', () => {
    const l = new WriteLease();
    const facts = { primaryWithReplicas: true, raftLease: null };
    expect(l.allows(1000, facts)).toBe(false);
    l.granted(1000, 500);
    expect(l.allows(1499, facts)).toBe(true);
    expect(l.allows(1500, facts)).toBe(false);
    l.granted(900, 500); // a late reply to an older heartbeat
    expect(l.allows(1450, facts)).toBe(true);
  });

  it('a primary without replicas needs no lease; the leader uses its Raft lease', () => {
    const l = new WriteLease();
    expect(l.allows(0, { primaryWithReplicas: false, raftLease: null })).toBe(true);
    expect(l.allows(0, { primaryWithReplicas: true, raftLease: true })).toBe(true);
    l.granted(0, 500);
    expect(l.allows(1, { primaryWithReplicas: true, raftLease: false })).toBe(false);
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
