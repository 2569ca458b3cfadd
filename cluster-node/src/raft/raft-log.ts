/**
 * The Raft log as one node sees it: stable storage plus the not-yet-persisted ("unstable") tail.
 *
 * Unstable holds entries (and possibly a snapshot) that were handed out in a Ready but not yet
 * advanced, or not yet handed out at all. For index >= unstable.offset the unstable entries win
 * (they may shadow stale storage entries that the next persist will overwrite).
 * Invariants: committed <= lastIndex(); applied <= committed; entries <= committed are never changed.
 */
import type { RaftStorage } from './storage';
import type { Entry, Snapshot } from './types';

class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  constructor(public offset: number) {}

  lastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.meta.index;
    return undefined;
  }

  firstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.meta.index + 1 : undefined;
  }

  term(i: number): number | undefined {
    if (i < this.offset) {
      return this.snapshot && this.snapshot.meta.index === i ? this.snapshot.meta.term : undefined;
    }
    const last = this.lastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Entries up to (i, t) are now durable. No-op if the log changed under them since the Ready. */
  stableTo(i: number, t: number): void {
    const gt = this.term(i);
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.meta.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replace the whole unstable tail (and shadow storage from `after` on).
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }
}

export class RaftLog {
  private readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(private readonly storage: RaftStorage) {
    this.unstable = new Unstable(storage.lastIndex() + 1);
    const first = storage.firstIndex();
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new Error('raft log: term of last index unavailable');
    return t;
  }

  /** Term at `i`, or undefined when `i` is compacted (below firstIndex()-1) or beyond the log. */
  term(i: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const ut = this.unstable.term(i);
    if (ut !== undefined) return ut;
    if (i >= this.unstable.offset) return undefined;
    return this.storage.term(i);
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Entries in [lo, hi), at most `maxCount`. Throws if lo is compacted. */
  entries(lo: number, hi: number, maxCount = Number.POSITIVE_INFINITY): Entry[] {
    if (lo < this.firstIndex()) throw new Error(`raft log: ${lo} is compacted`);
    hi = Math.min(hi, this.lastIndex() + 1, lo + maxCount);
    if (lo >= hi) return [];
    const out: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      for (const e of this.storage.entries(lo, Math.min(hi, uoff))) out.push(e);
    }
    if (hi > uoff) {
      const from = Math.max(lo, uoff) - uoff;
      for (let i = from; i < hi - uoff; i++) out.push(this.unstable.entries[i]!);
    }
    return out;
  }

  /** Is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Index of the first entry of `ents` that is not already in the log (a term mismatch or past the end),
   * or 0 if all are present.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Largest index <= `index` whose term is <= `term`, with that term (fast backtracking hint).
   * Stops at the compaction point, where the term is unknown (returns term 0 there).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Append (truncating any conflicting suffix). Entries at or below `committed` must not change. */
  append(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new Error(`raft log: truncating committed entries (after ${after}, committed ${this.committed})`);
    }
    if (after > this.lastIndex()) throw new Error(`raft log: gap appending at ${after + 1}, last ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(ents);
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    if (i > this.lastIndex()) throw new Error(`raft log: commit ${i} beyond last ${this.lastIndex()}`);
    this.committed = i;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) {
      throw new Error(`raft log: applied ${i} out of range [${this.applied}, ${this.committed}]`);
    }
    this.applied = i;
  }

  /** Install a snapshot received from the leader; the log becomes empty after it. */
  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  hasUnstable(): boolean {
    return this.unstable.entries.length > 0 || this.unstable.snapshot !== undefined;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  unstableSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Highest index known durable and part of the current log (0 while a received snapshot is not yet persisted). */
  stableIndex(): number {
    if (this.unstable.snapshot) return 0;
    return Math.min(this.unstable.offset - 1, this.lastIndex());
  }

  /** The snapshot to send to a follower that is behind our first index. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Committed entries not yet applied, starting after `from` (at most maxCount). */
  nextCommitted(from: number, maxCount: number): Entry[] {
    const lo = Math.max(from + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    return this.entries(lo, this.committed + 1, maxCount);
  }
}
