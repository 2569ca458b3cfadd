/**
 * planMembership: the next Raft membership change so voters follow the node table (at most 5, odd,
 * spread over shards, learners otherwise, dead voters replaced), step by step and as a property
 * (repeatedly applying its changes converges, and no change leaves the voters without a majority of
 * members heard from recently: a slow voter is not removed while another one has just died).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigState, type NodeRecord } from '../../cluster-node/src/cluster/config-state';
import { MAX_VOTERS, planMembership, targetVoters, type PeerFacts } from '../../cluster-node/src/cluster/membership';
import { applyConfChange, quorumSize, type ConfChange, type ConfState } from '../../cluster-node/src/raft';

/** A node table: `spec` maps id -> shard (ids sharing a shard: the first is primary, the rest its replicas). */
function table(spec: Record<string, string>): ConfigState {
  const c = new ConfigState();
  const primaryOf = new Map<string, string>();
  let i = 0;
  for (const [id, shard] of Object.entries(spec)) {
    i++;
    const p = primaryOf.get(shard);
    const node: NodeRecord = {
      id,
      ip: `10.0.0.${i}`,
      port: 7000,
      cport: 17000,
      hostname: '',
      primary: p ?? null,
      shardId: shard,
      configEpoch: 0,
      failed: false,
      nofailover: false,
    };
    const r = c.apply({ op: 'join', node, slots: [] });
    if (!r.ok) throw new Error(r.error);
    if (!p) primaryOf.set(shard, id);
  }
  return c;
}

/**
 * `dead`: not heard from for the long window (not alive, not fresh); `stale`: heard from within the long
 * window but not the short one (alive, not fresh: it may have just died); `behind`: not caught up.
 */
function facts(dead: string[] = [], behind: string[] = [], stale: string[] = []): PeerFacts {
  return {
    alive: (id) => !dead.includes(id),
    fresh: (id) => !dead.includes(id) && !stale.includes(id),
    caughtUp: (id) => !behind.includes(id),
  };
}

const conf = (voters: string[], learners: string[] = []): ConfState => ({ voters, learners });

describe('targetVoters', () => {
  it('is odd, at most MAX_VOTERS, at least 1', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 9].map(targetVoters)).toEqual([1, 1, 1, 3, 3, 5, 5, 5, 5]);
    expect(MAX_VOTERS).toBe(5);
  });
});

describe('planMembership', () => {
  it('removes members the node table no longer knows, learners first, never itself', () => {
    const st = table({ a: 'A', b: 'B', c: 'C' });
    expect(planMembership(conf(['a', 'b', 'c', 'x'], ['y']), st, 'a', facts())).toEqual({ type: 'remove', nodeId: 'y' });
    expect(planMembership(conf(['a', 'b', 'c', 'x']), st, 'a', facts())).toEqual({ type: 'remove', nodeId: 'x' });
    // A lone leader the table does not know (yet) has nothing to do.
    expect(planMembership(conf(['z']), table({}), 'z', facts())).toBeNull();
  });

  // Open finding of the configuration simulation (its own planner did this; production kept leading and
  // skipped membership duties): a leader the table forgot leaves the group once the others can go on.
  it('a forgotten leader removes the other forgotten members, then itself once the other voters have a live quorum', () => {
    const st = table({ a: 'A', b: 'B', c: 'C' });
    expect(planMembership(conf(['z', 'a', 'b', 'x'], ['c']), st, 'z', facts())).toEqual({ type: 'remove', nodeId: 'x' });
    expect(planMembership(conf(['z', 'a', 'b'], ['c']), st, 'z', facts())).toEqual({ type: 'remove', nodeId: 'z' });
    // {a, b} with b dead has no live quorum: promote a caught-up learner first.
    expect(planMembership(conf(['z', 'a', 'b'], ['c']), st, 'z', facts(['b']))).toEqual({ type: 'promote', nodeId: 'c' });
    expect(planMembership(conf(['z', 'a', 'b', 'c']), st, 'z', facts(['b']))).toEqual({ type: 'remove', nodeId: 'z' });
  });

  // Found by the configuration simulation (test/sim/config-sim.ts, seed 1225): with voters {a, b, x},
  // b dead and x forgotten but alive, removing x first left {a, b}: no live quorum, for good if b is
  // gone. The dead voter goes first; x once the voters left have a live quorum.
  it('keeps a forgotten live voter while removing it would lose the live quorum', () => {
    const st = table({ a: 'A', b: 'B' });
    const f = facts(['b']);
    const first = planMembership(conf(['a', 'b', 'x']), st, 'a', f);
    expect(first).toEqual({ type: 'remove', nodeId: 'b' });
    expect(planMembership(conf(['a', 'x']), st, 'a', f)).toEqual({ type: 'remove', nodeId: 'x' });
    // A dead forgotten voter goes as soon as the voters left have a majority heard from recently...
    expect(planMembership(conf(['a', 'b', 'x']), st, 'a', facts(['x']))).toEqual({ type: 'remove', nodeId: 'x' });
    // ...not while b looks dead too: b may be only slow, and {a, b} would then need it (as {a, b, x} does).
    expect(planMembership(conf(['a', 'b', 'x']), st, 'a', facts(['b', 'x']))).toBeNull();
  });

  // Finding (b) of the membership review: liveness facts lag. A voter that is only slow (c: nothing
  // from it for the long window) looks dead while voters that have just died (d, e: heard from within
  // the long window, not within the short one) still look alive. Removing c would leave {a, b, d, e}
  // with a and b alone live: no quorum, while {a, b, c, d, e} keeps one with c.
  it('does not remove a slow voter while other voters may have just died (5 voters)', () => {
    const st = table({ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' });
    // Before the fix: { type: 'remove', nodeId: 'c' } (4 live nodes -> 3 voters wanted, c looks dead).
    expect(planMembership(conf(['a', 'b', 'c', 'd', 'e']), st, 'a', facts(['c'], [], ['d', 'e']))).toBeNull();
    // Only e stale: {a, b, d, e} keeps a fresh majority (a, b, d) without c.
    expect(planMembership(conf(['a', 'b', 'c', 'd', 'e']), st, 'a', facts(['c'], [], ['e']))).toEqual({ type: 'remove', nodeId: 'c' });
    // Once d and e are past the long window too, c is no worse a candidate than them, but removing
    // any of the three still leaves {a, b} and two silent voters: nothing to do but wait.
    expect(planMembership(conf(['a', 'b', 'c', 'd', 'e']), st, 'a', facts(['c', 'd', 'e']))).toBeNull();
  });

  it('does not remove a slow voter of three while the other one may have just died', () => {
    // s looks dead (it may be only slow), v looks alive but was not heard from lately (it may be gone
    // for good): {a, v} would need v.
    const st = table({ a: 'A', s: 'S', v: 'V' });
    // Before the fix: { type: 'remove', nodeId: 's' } (2 live nodes -> 1 voter wanted).
    expect(planMembership(conf(['a', 's', 'v']), st, 'a', facts(['s'], [], ['v']))).toBeNull();
    // v heard from lately: {a, v} has a fresh majority.
    expect(planMembership(conf(['a', 's', 'v']), st, 'a', facts(['s']))).toEqual({ type: 'remove', nodeId: 's' });
  });

  it('promotes only a learner heard from lately, and only if the voters then have a fresh majority', () => {
    const st = table({ a: 'A', b: 'B', c: 'C', d: 'D' });
    // c is dead; d is the replacement but was not heard from lately.
    expect(planMembership(conf(['a', 'b', 'c'], ['d']), st, 'a', facts(['c'], [], ['d']))).toBeNull();
    // d fresh, but b stale: {a, b, c, d} would have a and d fresh only (2 of 4).
    expect(planMembership(conf(['a', 'b', 'c'], ['d']), st, 'a', facts(['c'], [], ['b']))).toBeNull();
    expect(planMembership(conf(['a', 'b', 'c'], ['d']), st, 'a', facts(['c']))).toEqual({ type: 'promote', nodeId: 'd' });
  });

  it('adds known non-members as learners, in id order', () => {
    const st = table({ a: 'A', c: 'C', b: 'B' });
    expect(planMembership(conf(['a']), st, 'a', facts())).toEqual({ type: 'add-learner', nodeId: 'b' });
    expect(planMembership(conf(['a'], ['b']), st, 'a', facts())).toEqual({ type: 'add-learner', nodeId: 'c' });
  });

  it('promotes caught-up live learners up to the target, a shard without a voter first', () => {
    // a (shard A) is the only voter; a2 replicates a (shard A); b is alone in shard B.
    const st = table({ a: 'A', a2: 'A', b: 'B' });
    expect(planMembership(conf(['a'], ['a2', 'b']), st, 'a', facts())).toEqual({ type: 'promote', nodeId: 'b' });
    // Not caught up, or dead: not promoted.
    expect(planMembership(conf(['a'], ['a2', 'b']), st, 'a', facts([], ['b']))).toEqual({ type: 'promote', nodeId: 'a2' });
    expect(planMembership(conf(['a'], ['a2', 'b']), st, 'a', facts(['b'], ['a2']))).toBeNull();
    // At the target (3 live nodes -> 3 voters): nothing to do.
    expect(planMembership(conf(['a', 'a2', 'b']), st, 'a', facts())).toBeNull();
  });

  it('two live nodes run on one voter; four on three; six or more on five', () => {
    expect(planMembership(conf(['a'], ['b']), table({ a: 'A', b: 'B' }), 'a', facts())).toBeNull();
    const four = table({ a: 'A', b: 'B', c: 'C', d: 'D' });
    expect(planMembership(conf(['a', 'b', 'c'], ['d']), four, 'a', facts())).toBeNull();
    const six = table({ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E', f: 'F' });
    expect(planMembership(conf(['a', 'b', 'c'], ['d', 'e', 'f']), six, 'a', facts())).toEqual({ type: 'promote', nodeId: 'd' });
    expect(planMembership(conf(['a', 'b', 'c', 'd', 'e'], ['f']), six, 'a', facts())).toBeNull();
  });

  it('replaces a dead voter: promote a learner first, then remove the dead one', () => {
    const st = table({ a: 'A', b: 'B', c: 'C', d: 'D' });
    const f = facts(['c']);
    expect(planMembership(conf(['a', 'b', 'c'], ['d']), st, 'a', f)).toEqual({ type: 'promote', nodeId: 'd' });
    expect(planMembership(conf(['a', 'b', 'c', 'd']), st, 'a', f)).toEqual({ type: 'remove', nodeId: 'c' });
    expect(planMembership(conf(['a', 'b', 'd'], ['c']), st, 'a', f)).toBeNull();
  });

  it('keeps a dead voter when there is no one to replace it and the group is not too big', () => {
    const st = table({ a: 'A', b: 'B', c: 'C', d: 'D' });
    // 3 live known nodes (a, b, d) -> target 3; d is not caught up: c stays a voter for now.
    expect(planMembership(conf(['a', 'b', 'c'], ['d']), st, 'a', { alive: (id) => id !== 'c', fresh: (id) => id !== 'c', caughtUp: (id) => id !== 'd' })).toBeNull();
  });

  it('too many voters: removes one from the most represented shard, never the leader', () => {
    // Two live nodes -> one voter wanted.
    const st = table({ a: 'A', b: 'B' });
    expect(planMembership(conf(['a', 'b']), st, 'b', facts())).toEqual({ type: 'remove', nodeId: 'a' });
    // Five voters, four live known nodes -> three; shard A has three voters.
    const st2 = table({ a: 'A', a2: 'A', a3: 'A', b: 'B', c: 'C' });
    expect(planMembership(conf(['a', 'a2', 'a3', 'b', 'c']), st2, 'b', facts(['c']))).toEqual({ type: 'remove', nodeId: 'c' });
    expect(planMembership(conf(['a', 'a2', 'a3', 'b'], ['c']), st2, 'b', facts(['c']))).toEqual({ type: 'remove', nodeId: 'a' });
  });
});

describe('planMembership as a process (property)', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
  const world = fc
    .record({
      n: fc.integer({ min: 1, max: 9 }),
      shards: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 9, maxLength: 9 }),
      dead: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
      role: fc.array(fc.constantFrom('voter', 'learner', 'none'), { minLength: 12, maxLength: 12 }),
      self: fc.integer({ min: 0, max: 8 }),
    })
    .map(({ n, shards, dead, role, self }) => {
      const known = ids.slice(0, n);
      const me = known[self % n]!;
      const spec: Record<string, string> = {};
      for (let i = 0; i < n; i++) spec[known[i]!] = `S${shards[i]}`;
      // Members may include up to three nodes the table no longer knows (x, y, z).
      const everyone = [...ids.slice(0, 9), 'x', 'y', 'z'];
      const voters = everyone.filter((id, i) => id === me || (role[i] === 'voter' && (known.includes(id) || id >= 'x')));
      const learners = everyone.filter((id, i) => id !== me && role[i] === 'learner' && (known.includes(id) || id >= 'x'));
      const deadSet = new Set(everyone.filter((id, i) => id !== me && dead[i % 9] && (i % 2 === 0 || id >= 'x')));
      return { st: table(spec), me, start: conf(voters.sort(), learners.sort()), deadSet };
    });

  it('converges to: every live known node a member, no unknown members, voters live and targetVoters(live known) many', () => {
    fc.assert(
      fc.property(world, ({ st, me, start, deadSet }) => {
        const f: PeerFacts = { alive: (id) => !deadSet.has(id), fresh: (id) => !deadSet.has(id), caughtUp: () => true };
        const liveQuorum = (c: ConfState) => c.voters.filter((v) => f.alive(v)).length >= quorumSize(c.voters.length);
        let c = start;
        const hadQuorum = liveQuorum(c);
        let change: ConfChange | null = null;
        for (let step = 0; step < 60; step++) {
          change = planMembership(c, st, me, f);
          if (change === null) break;
          expect(change).not.toEqual({ type: 'remove', nodeId: me });
          const next = applyConfChange(c, change);
          expect(next).not.toBe(c); // every planned change is valid
          const touchesVoters = change.type === 'promote' || (change.type === 'remove' && c.voters.includes(change.nodeId));
          c = next;
          // A change of the voters always leaves them a live majority, whatever the group started from.
          if (touchesVoters || hadQuorum) expect(liveQuorum(c)).toBe(true);
        }
        expect(change).toBeNull();
        // A group without a live majority cannot commit a change anyway: the planner only waits.
        if (!hadQuorum) return;
        const liveKnown = [...st.nodes.keys()].filter((id) => f.alive(id));
        const members = new Set([...c.voters, ...c.learners]);
        for (const id of st.nodes.keys()) expect(members.has(id)).toBe(true);
        for (const id of members) expect(st.nodes.has(id)).toBe(true);
        expect(c.voters.every((v) => f.alive(v))).toBe(true);
        expect(c.voters.length).toBe(targetVoters(liveKnown.length));
      }),
      { numRuns: 500 },
    );
  });
});
