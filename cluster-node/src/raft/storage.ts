/**
 * Durable Raft state: the interface Raft reads its stable log through, and an in-memory implementation.
 *
 * Raft only reads storage (plus `compact`, which it calls from `RaftNode.compact`). The application
 * writes to it while handling a Ready (see {@link persistReady}); whatever is in storage is what survives
 * a crash. A file-backed storage implements the same interface with the same semantics.
 *
 * Log layout: the storage holds a snapshot (possibly the empty one at index 0) and the entries
 * `firstIndex()..lastIndex()` that follow it; `firstIndex() === snapshot().meta.index + 1`.
 */
import type { ConfState, Entry, HardState, Ready, Snapshot } from './types';

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });
export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: [], learners: [] });
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  meta: Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF_STATE }),
  data: '',
});

/** What Raft reads. All indices are log indices (1-based; 0 is "before the log"). */
export interface RaftStorage {
  hardState(): HardState;
  /** Entries with index in [lo, hi). Requires firstIndex() <= lo <= hi <= lastIndex() + 1. */
  entries(lo: number, hi: number): Entry[];
  /** Term of entry `index`, for firstIndex()-1 <= index <= lastIndex(); undefined outside that range. */
  term(index: number): number | undefined;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
  /**
   * Durably store `snapshot` and discard entries up to `snapshot.meta.index`.
   * Called by `RaftNode.compact` once the application has applied that far.
   */
  compact(snapshot: Snapshot): void;
}

/** What the application writes while handling a Ready. */
export interface WritableRaftStorage extends RaftStorage {
  setHardState(hs: HardState): void;
  /** Append entries, first discarding any stored entries at or after `entries[0].index`. */
  append(entries: readonly Entry[]): void;
  /** Replace everything with `snapshot` (the log becomes empty after it). */
  applySnapshot(snapshot: Snapshot): void;
}

/** Persist a Ready's durable parts in the required order: snapshot, entries, hard state. */
export function persistReady(storage: WritableRaftStorage, rd: Ready): void {
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  if (rd.entries.length > 0) storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
}

/** In-memory {@link WritableRaftStorage}. `ents[0]` is a dummy entry standing for the snapshot point. */
export class MemoryStorage implements WritableRaftStorage {
  private hs: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  private ents: Entry[] = [{ index: 0, term: 0, type: 'noop', data: '' }];

  /**
   * Initialise a brand-new cluster member of the founding voter set: writes a committed `bootstrap`
   * conf entry at index 1, term 1. Every founding voter must be bootstrapped with the same list;
   * nodes that join later start from an empty storage and learn the log from the leader.
   */
  static bootstrap(voters: readonly string[]): MemoryStorage {
    const s = new MemoryStorage();
    s.bootstrapInto(voters);
    return s;
  }

  protected bootstrapInto(voters: readonly string[]): void {
    if (this.lastIndex() !== 0 || this.hs.term !== 0) throw new Error('bootstrap: storage is not empty');
    if (voters.length === 0) throw new Error('bootstrap: need at least one voter');
    this.append([bootstrapEntry(voters)]);
    this.setHardState({ term: 1, vote: null, commit: 1 });
  }

  hardState(): HardState {
    return this.hs;
  }

  setHardState(hs: HardState): void {
    this.hs = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[this.ents.length - 1]!.index;
  }

  term(index: number): number | undefined {
    const offset = this.ents[0]!.index;
    if (index < offset || index > this.lastIndex()) return undefined;
    return this.ents[index - offset]!.term;
  }

  entries(lo: number, hi: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new Error(`storage.entries: ${lo} is compacted (first ${offset + 1})`);
    if (hi > this.lastIndex() + 1) throw new Error(`storage.entries: ${hi - 1} is beyond last ${this.lastIndex()}`);
    return this.ents.slice(lo - offset, hi - offset);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const offset = this.ents[0]!.index;
    if (first > this.lastIndex() + 1) {
      throw new Error(`storage.append: gap (last ${this.lastIndex()}, appending ${first})`);
    }
    // Entries at or below the snapshot are already durable in it: skip them.
    const skip = Math.max(0, offset + 1 - first);
    if (skip >= entries.length) return;
    const keep = first + skip - offset; // number of existing entries (incl. dummy) to keep
    this.ents.length = keep;
    for (let i = skip; i < entries.length; i++) this.ents.push(entries[i]!);
  }

  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index < this.snap.meta.index) {
      throw new Error(`storage.applySnapshot: ${snapshot.meta.index} older than ${this.snap.meta.index}`);
    }
    this.snap = snapshot;
    this.ents = [{ index: snapshot.meta.index, term: snapshot.meta.term, type: 'noop', data: '' }];
  }

  compact(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    const offset = this.ents[0]!.index;
    if (index <= offset) return; // already compacted that far
    if (index > this.lastIndex()) throw new Error(`storage.compact: ${index} beyond last ${this.lastIndex()}`);
    if (this.term(index) !== term) throw new Error(`storage.compact: term mismatch at ${index}`);
    this.snap = snapshot;
    this.ents = [{ index, term, type: 'noop', data: '' }, ...this.ents.slice(index - offset + 1)];
  }

  /** Deep copy, used by simulations to model "what was durable at crash time". */
  clone(): MemoryStorage {
    const c = new MemoryStorage();
    c.hs = this.hs;
    c.snap = this.snap;
    c.ents = this.ents.slice();
    return c;
  }
}

/** The first log entry of a bootstrapped cluster. */
export function bootstrapEntry(voters: readonly string[]): Entry {
  return { index: 1, term: 1, type: 'conf', data: JSON.stringify({ type: 'bootstrap', voters: [...voters] }) };
}
