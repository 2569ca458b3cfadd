/**
 * Which Raft membership change the leader should make next so that the consensus group follows the
 * node table: every known node is a member, at most 5 (and an odd number of) voters spread across
 * shards, everyone else a learner, and a voter that stopped answering is replaced by a caught-up
 * learner. A leader the node table forgot (CLUSTER FORGET) removes itself once the other voters have a
 * live quorum. Pure: the caller supplies liveness and catch-up facts and proposes the returned change.
 *
 * Liveness facts lag: a voter that just died still counts as `alive` for a while (the window is long so
 * that a voter that is only slow is not replaced at once), and one that is only slow may already count
 * as dead. Removing such a slow voter while another voter has just died could leave the group without
 * a quorum, for good if the dead one never comes back. So no change that touches the voters is planned
 * unless the voters after it have a majority of members heard from within a short window (`fresh`);
 * otherwise the planner waits (or makes another change that passes). A voter that died within that
 * short window still counts: no planner can tell it from a live one.
 */
import { quorumSize, type ConfChange, type ConfState } from '../raft';
import type { ConfigState } from './config-state';

export const MAX_VOTERS = 5;

export interface PeerFacts {
  /** The leader heard from this node recently (a generous window: dead voters are replaced after it). */
  alive(id: string): boolean;
  /**
   * The leader heard from this node within a short window (about an election timeout): the only nodes
   * counted toward the majority a change must leave among the voters.
   */
  fresh(id: string): boolean;
  /** The node's log is close enough to the leader's to vote without stalling commits. */
  caughtUp(id: string): boolean;
}

/** Voters wanted for `n` members: odd, at most 5 (an even count adds no fault tolerance). */
export function targetVoters(n: number): number {
  const t = Math.min(MAX_VOTERS, n);
  return t % 2 === 0 ? Math.max(1, t - 1) : t;
}

/** The voters after `change` have a majority of fresh members (the leader, `self`, always is). */
export function leavesFreshMajority(conf: ConfState, change: ConfChange, self: string, facts: PeerFacts): boolean {
  let voters: readonly string[] = conf.voters;
  if (change.type === 'remove') voters = voters.filter((id) => id !== change.nodeId);
  else if (change.type === 'promote') voters = voters.includes(change.nodeId) ? voters : [...voters, change.nodeId];
  else return true; // learners only
  return voters.filter((id) => id === self || facts.fresh(id)).length >= quorumSize(voters.length);
}

export function planMembership(conf: ConfState, state: ConfigState, self: string, facts: PeerFacts): ConfChange | null {
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const known = state.nodes;
  const safe = (change: ConfChange): boolean => leavesFreshMajority(conf, change, self, facts);
  const remove = (id: string): ConfChange => ({ type: 'remove', nodeId: id });
  const promote = (id: string): ConfChange => ({ type: 'promote', nodeId: id });
  const fresh = (id: string): boolean => facts.alive(id) && facts.fresh(id);

  // 0. The node table forgot the leader itself: the other forgotten members leave first, then the
  //    leader, once the other voters have a fresh majority (else a caught-up learner is promoted first).
  if (!known.has(self)) {
    for (const id of [...conf.learners, ...conf.voters]) {
      if (id !== self && !known.has(id) && safe(remove(id))) return remove(id);
    }
    const rest = conf.voters.filter((id) => id !== self);
    if (rest.length > 0 && rest.filter(fresh).length >= quorumSize(rest.length)) return remove(self);
    const cand = conf.learners.filter((id) => known.has(id) && fresh(id) && facts.caughtUp(id)).sort();
    return cand.length > 0 && safe(promote(cand[0]!)) ? promote(cand[0]!) : null;
  }

  // 1. Members the configuration no longer knows leave (never the leader itself), a voter only while
  //    the voters left keep a fresh majority; until then dead voters go first (step 4).
  for (const id of [...conf.learners, ...conf.voters]) {
    if (known.has(id) || id === self) continue;
    if (safe(remove(id))) return remove(id);
  }
  // 2. Known nodes join as learners. Sorted for determinism.
  const ids = [...known.keys()].sort();
  for (const id of ids) {
    if (!voters.has(id) && !learners.has(id)) return { type: 'add-learner', nodeId: id };
  }

  const shardOf = (id: string): string => known.get(id)?.shardId ?? id;
  const liveMembers = ids.filter((id) => id === self || facts.alive(id));
  const target = targetVoters(Math.max(1, liveMembers.length));
  const deadVoters = conf.voters.filter((id) => id !== self && !facts.alive(id)).sort();
  const candidates = conf.learners.filter((id) => known.has(id) && fresh(id) && facts.caughtUp(id));
  const votingShards = new Set(conf.voters.filter((id) => !deadVoters.includes(id)).map(shardOf));
  const bestCandidate = (): string | undefined => {
    const fresher = candidates.filter((id) => !votingShards.has(shardOf(id)));
    return (fresher.length > 0 ? fresher : candidates).sort()[0];
  };
  const liveVoters = conf.voters.length - deadVoters.length;

  // 3. Too few live voters: promote the best learner (a shard without a voter first).
  if (liveVoters < target) {
    const pick = bestCandidate();
    if (pick !== undefined && safe(promote(pick))) return promote(pick);
  }
  // 4. Dead voters beyond what is needed go (after a replacement was promoted above, if one existed).
  if (deadVoters.length > 0 && conf.voters.length > target) {
    const id = deadVoters.find((x) => safe(remove(x)));
    if (id !== undefined) return remove(id);
  }
  // 5. Too many voters (nodes left): demote by removal; the node rejoins as a learner in step 2.
  if (conf.voters.length > target) {
    const byShard = new Map<string, number>();
    for (const id of conf.voters) byShard.set(shardOf(id), (byShard.get(shardOf(id)) ?? 0) + 1);
    const extra = conf.voters.filter((id) => id !== self).sort((a, b) => (byShard.get(shardOf(b))! - byShard.get(shardOf(a))!) || (a < b ? -1 : 1));
    const id = extra.find((x) => safe(remove(x)));
    if (id !== undefined) return remove(id);
  }
  return null;
}
