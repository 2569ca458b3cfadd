/**
 * Which Raft membership change the leader should make next so that the consensus group follows the
 * node table: every known node is a member, at most 5 (and an odd number of) voters spread across
 * shards, everyone else a learner, and a voter that stopped answering is replaced by a caught-up
 * learner. A leader the node table forgot (CLUSTER FORGET) removes itself once the other voters have a
 * live quorum. Pure: the caller supplies liveness and catch-up facts and proposes the returned change.
 */
import { quorumSize, type ConfChange, type ConfState } from '../raft';
import type { ConfigState } from './config-state';

export const MAX_VOTERS = 5;

export interface PeerFacts {
  /** The leader heard from this node recently. */
  alive(id: string): boolean;
  /** The node's log is close enough to the leader's to vote without stalling commits. */
  caughtUp(id: string): boolean;
}

/** Voters wanted for `n` members: odd, at most 5 (an even count adds no fault tolerance). */
export function targetVoters(n: number): number {
  const t = Math.min(MAX_VOTERS, n);
  return t % 2 === 0 ? Math.max(1, t - 1) : t;
}

export function planMembership(conf: ConfState, state: ConfigState, self: string, facts: PeerFacts): ConfChange | null {
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const known = state.nodes;

  // 0. The node table forgot the leader itself: the other forgotten members leave first, then the
  //    leader, once the other voters have a live quorum (else a caught-up learner is promoted first).
  if (!known.has(self)) {
    for (const id of [...conf.learners, ...conf.voters]) {
      if (id !== self && !known.has(id)) return { type: 'remove', nodeId: id };
    }
    const rest = conf.voters.filter((id) => id !== self);
    if (rest.length > 0 && rest.filter((id) => facts.alive(id)).length >= quorumSize(rest.length)) return { type: 'remove', nodeId: self };
    const cand = conf.learners.filter((id) => known.has(id) && facts.alive(id) && facts.caughtUp(id)).sort();
    return cand.length > 0 ? { type: 'promote', nodeId: cand[0]! } : null;
  }

  // 1. Members the configuration no longer knows leave (never the leader itself). A live voter only
  //    while the voters left keep a live quorum; until then dead voters go first (step 4).
  const liveVoterCount = conf.voters.filter((id) => id === self || facts.alive(id)).length;
  for (const id of [...conf.learners, ...conf.voters]) {
    if (known.has(id) || id === self) continue;
    if (voters.has(id) && facts.alive(id) && liveVoterCount - 1 < quorumSize(conf.voters.length - 1)) continue;
    return { type: 'remove', nodeId: id };
  }
  // 2. Known nodes join as learners. Sorted for determinism.
  const ids = [...known.keys()].sort();
  for (const id of ids) {
    if (!voters.has(id) && !learners.has(id)) return { type: 'add-learner', nodeId: id };
  }

  const shardOf = (id: string): string => known.get(id)?.shardId ?? id;
  const liveMembers = ids.filter((id) => id === self || facts.alive(id));
  const target = targetVoters(Math.max(1, liveMembers.length));
  const deadVoters = conf.voters.filter((id) => id !== self && !facts.alive(id));
  const candidates = conf.learners.filter((id) => known.has(id) && facts.alive(id) && facts.caughtUp(id));
  const votingShards = new Set(conf.voters.filter((id) => !deadVoters.includes(id)).map(shardOf));
  const bestCandidate = (): string | undefined => {
    const fresh = candidates.filter((id) => !votingShards.has(shardOf(id)));
    return (fresh.length > 0 ? fresh : candidates).sort()[0];
  };
  const liveVoters = conf.voters.length - deadVoters.length;

  // 3. Too few live voters: promote the best learner (a shard without a voter first).
  if (liveVoters < target) {
    const pick = bestCandidate();
    if (pick !== undefined) return { type: 'promote', nodeId: pick };
  }
  // 4. Dead voters beyond what is needed go (after a replacement was promoted above, if one existed).
  if (deadVoters.length > 0 && conf.voters.length > target) return { type: 'remove', nodeId: deadVoters.sort()[0]! };
  // 5. Too many voters (nodes left): demote by removal; the node rejoins as a learner in step 2.
  if (conf.voters.length > target) {
    const byShard = new Map<string, number>();
    for (const id of conf.voters) byShard.set(shardOf(id), (byShard.get(shardOf(id)) ?? 0) + 1);
    const extra = conf.voters.filter((id) => id !== self).sort((a, b) => (byShard.get(shardOf(b))! - byShard.get(shardOf(a))!) || (a < b ? -1 : 1));
    if (extra[0] !== undefined) return { type: 'remove', nodeId: extra[0] };
  }
  return null;
}
