/**
 * The leader's replication state for one peer (etcd-io/raft tracker.Progress, simplified).
 *
 *  probe:     one append in flight at a time; `probeSent` pauses until a response or heartbeat reply.
 *  replicate: optimistic pipelining; `next` jumps past what was sent; bounded by `maxInflight` messages.
 *  snapshot:  a snapshot was sent; wait for the follower to acknowledge it (or retry after a while).
 * Invariant: match < next.
 */
import type { NodeId, PeerProgress, ProgressState } from './types';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  probeSent = false;
  /** Last index of each in-flight append in replicate state, ascending. */
  inflight: number[] = [];
  pendingSnapshot = 0;
  /** Leader tick when the current state began (used to retry lost snapshots). */
  stateSince = 0;
  /** Any message from the peer since the last CheckQuorum round. */
  recentActive = true;
  /** Largest `sentAt` echoed back by this peer in the current term (-Infinity when none). */
  ackedSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly id: NodeId,
    next: number,
    public isLearner: boolean,
  ) {
    this.next = next;
  }

  becomeProbe(now: number): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.inflight = [];
    this.pendingSnapshot = 0;
    this.stateSince = now;
  }

  becomeReplicate(now: number): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight = [];
    this.pendingSnapshot = 0;
    this.stateSince = now;
  }

  becomeSnapshot(index: number, now: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.inflight = [];
    this.stateSince = now;
  }

  /** Record an acknowledgement up to `n`. Returns true if `match` moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= n) this.inflight.shift();
    return updated;
  }

  /**
   * Handle a rejection of an append at `rejected` with the follower's hint. Returns false if the
   * rejection is stale (already superseded) and should be ignored.
   */
  maybeDecrTo(rejected: number, nextProbe: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, nextProbe + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= maxInflight;
      case 'snapshot':
        return true;
    }
  }

  sentEntries(lastIndex: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflight.push(lastIndex);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  view(): PeerProgress {
    return {
      id: this.id,
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      isLearner: this.isLearner,
    };
  }
}
