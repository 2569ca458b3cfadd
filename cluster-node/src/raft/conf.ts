/**
 * Membership: applying single-server changes to a ConfState, validating them, and quorum arithmetic.
 *
 * Pure functions; `RaftNode` decides when a change takes effect (when the entry is appended).
 */
import type { ConfChange, ConfState, Entry, NodeId } from './types';

/** Why `change` cannot be applied to `conf`, or null if it can. */
export function confChangeError(conf: ConfState, change: ConfChange): string | null {
  switch (change.type) {
    case 'bootstrap':
      return 'bootstrap can only be written by storage bootstrap';
    case 'add-learner':
      if (conf.voters.includes(change.nodeId)) return `${change.nodeId} is already a voter`;
      if (conf.learners.includes(change.nodeId)) return `${change.nodeId} is already a learner`;
      return null;
    case 'promote':
      if (!conf.learners.includes(change.nodeId)) return `${change.nodeId} is not a learner`;
      return null;
    case 'remove':
      if (conf.voters.includes(change.nodeId)) {
        return conf.voters.length === 1 ? `cannot remove the last voter ${change.nodeId}` : null;
      }
      if (conf.learners.includes(change.nodeId)) return null;
      return `${change.nodeId} is not a member`;
  }
}

/**
 * Apply `change`. Invalid changes (which a correct leader never appends) leave the config unchanged,
 * so every node replaying the same log computes the same membership.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (change.type === 'bootstrap') return { voters: [...change.voters].sort(), learners: [] };
  if (confChangeError(conf, change) !== null) return conf;
  const id = change.nodeId;
  switch (change.type) {
    case 'add-learner':
      return { voters: conf.voters, learners: [...conf.learners, id].sort() };
    case 'promote':
      return { voters: [...conf.voters, id].sort(), learners: conf.learners.filter((x) => x !== id) };
    case 'remove':
      return { voters: conf.voters.filter((x) => x !== id), learners: conf.learners.filter((x) => x !== id) };
  }
}

export function decodeConfChange(entry: Entry): ConfChange {
  if (entry.type !== 'conf') throw new Error(`entry ${entry.index} is not a conf entry`);
  return JSON.parse(entry.data) as ConfChange;
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

/** Votes needed out of `voters` voters. */
export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** Largest index that at least a quorum of `matches` (one per voter) have reached; 0 when there are no voters. */
export function quorumIndex(matches: number[]): number {
  if (matches.length === 0) return 0;
  const sorted = matches.slice().sort((a, b) => b - a);
  return sorted[quorumSize(matches.length) - 1]!;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Outcome of an election among `voters` given the grants/rejections recorded so far. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === true) granted++;
    else if (g === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}
