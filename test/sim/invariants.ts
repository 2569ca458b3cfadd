/**
 * Safety invariants for Raft simulations, checked incrementally after every simulation step.
 *
 *  - election safety: at most one leader per term;
 *  - leader completeness: a new leader of term T holds every entry observed committed in a term < T
 *    (the term that committed an entry is bounded by the lowest term of any node seen treating it as
 *    committed: followers only learn commit indices from leaders of their own term);
 *  - log matching: two entries with the same (index, term) carry the same data and follow the same
 *    term at index-1 (which by induction makes the whole prefixes identical);
 *  - state machine safety: every node's committed prefix and applied sequence agree with the one
 *    canonical sequence (checked entry by entry and through a hash chain over the applied prefix,
 *    which also covers snapshot installs);
 *  - lease safety: while a node believes it holds a valid lease in term T, no other node holds one and
 *    no live node is leader of a later term.
 * A violation throws {@link InvariantViolation}.
 */
import type { Entry, RaftNode } from '../../cluster-node/src/raft';
import { fnv1a } from './prng';

export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

export function entryKey(e: Pick<Entry, 'type' | 'data' | 'binary'>): string {
  return `${e.type}${e.binary ? ':b64' : ''}:${e.data}`;
}

/** Hash chain over an applied sequence: chain(i) = H(chain(i-1), entry i). */
export function chainNext(prev: number, e: Pick<Entry, 'term' | 'type' | 'data' | 'binary'>): number {
  return fnv1a(`${prev}|${e.term}|${entryKey(e)}`);
}

interface Committed {
  readonly term: number;
  readonly key: string;
  /** Lowest term in which any node was seen treating the entry as committed (>= the term that committed it). */
  commitTerm: number;
}

export class SafetyChecker {
  /**
   * Whether a node holds its leader lease. Default: RaftNode's own (tick-based) view; a simulation of
   * the cluster layer sets the rule production applies on top of it (bounded by the wall clock).
   */
  leaseValid: (id: string, node: RaftNode) => boolean = (_id, node) => node.leaseValid();
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly committed = new Map<number, Committed>();
  private readonly chain = new Map<number, number>();
  /** Every (index, term) seen in some log: its data, the term before it, and the nodes seen holding it. */
  private readonly logRegistry = new Map<string, { key: string; prevTerm: number | undefined; holders: Set<string> }>();
  private readonly observedCommit = new Map<string, number>();
  private readonly knownLeader = new Map<string, number>();
  maxCommitted = 0;
  checks = 0;

  /** After any step/tick/advance on `node`. `alive` lists every running node (for the lease check). */
  afterStep(id: string, node: RaftNode, alive: ReadonlyMap<string, RaftNode>, now: number): void {
    this.checks++;
    const st = node.status();
    if (st.role === 'leader') {
      const other = this.leaderOfTerm.get(st.term);
      if (other !== undefined && other !== id) {
        throw new InvariantViolation(`two leaders in term ${st.term}: ${other} and ${id}`);
      }
      if (other === undefined) this.leaderOfTerm.set(st.term, id);
      if (this.knownLeader.get(id) !== st.term) {
        this.knownLeader.set(id, st.term);
        this.checkLeaderCompleteness(id, node);
      }
    }
    this.observeCommit(id, node, st.commit, st.term);
    this.checkLeases(alive, now);
  }

  /** A node restarted from storage: its view of the commit index starts over. */
  onRestart(id: string): void {
    this.observedCommit.delete(id);
    this.knownLeader.delete(id);
  }

  /** Entries a node is about to persist (a contiguous suffix of its log). */
  onEntries(id: string, node: RaftNode, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const log = node.inspectLog();
    let prevTerm = log.term(entries[0]!.index - 1);
    for (const e of entries) {
      this.registerLogEntry(id, e, prevTerm);
      prevTerm = e.term;
    }
  }

  /**
   * A node crashed: `entries` were only in its memory (never persisted, so never sent either). An
   * entry no other node was seen holding is forgotten: a lone voter that crashes before persisting the
   * term it just won (alone, without any message) runs for that term again and may write other data at
   * the same (index, term). Nobody ever saw the lost entry, so this is no log matching violation.
   */
  onLostEntries(id: string, entries: readonly Entry[]): void {
    for (const e of entries) {
      const k = `${e.index}:${e.term}`;
      const r = this.logRegistry.get(k);
      if (r === undefined || r.key !== entryKey(e)) continue;
      r.holders.delete(id);
      if (r.holders.size === 0) this.logRegistry.delete(k);
    }
  }

  /** Full scan of a node's log against the registry (cheap enough to run now and then). */
  scanLog(id: string, node: RaftNode): void {
    const log = node.inspectLog();
    if (log.lastIndex < log.firstIndex) return;
    const ents = log.entries(log.firstIndex, log.lastIndex + 1);
    let prevTerm = log.term(log.firstIndex - 1);
    for (const e of ents) {
      this.registerLogEntry(id, e, prevTerm);
      prevTerm = e.term;
    }
  }

  /** `node` applied `e`; `chain` is its hash chain after applying it. */
  onApply(id: string, e: Entry, chain: number, nodeTerm: number): void {
    this.recordCommitted(e.index, e.term, entryKey(e), `${id} applied`, nodeTerm);
    const known = this.chain.get(e.index);
    if (known === undefined) this.chain.set(e.index, chain);
    else if (known !== chain) {
      throw new InvariantViolation(`${id} applied sequence diverges at index ${e.index} (hash chain mismatch)`);
    }
  }

  /** `node` replaced its state machine by a snapshot at `index` with hash chain `chain`. */
  onRestore(id: string, index: number, chain: number): void {
    const known = this.chain.get(index);
    if (known === undefined) {
      throw new InvariantViolation(`${id} restored a snapshot at ${index} that no node ever applied`);
    }
    if (known !== chain) throw new InvariantViolation(`${id} restored a snapshot at ${index} that diverges`);
  }

  /** Canonical chain value at `index`, if some node applied it. */
  chainAt(index: number): number | undefined {
    return this.chain.get(index);
  }

  committedAt(index: number): Committed | undefined {
    return this.committed.get(index);
  }

  private observeCommit(id: string, node: RaftNode, commit: number, nodeTerm: number): void {
    const seen = this.observedCommit.get(id) ?? 0;
    if (commit <= seen) {
      if (commit < seen) throw new InvariantViolation(`${id} commit index went backwards ${seen} -> ${commit}`);
      return;
    }
    const log = node.inspectLog();
    const lo = Math.max(seen + 1, log.firstIndex);
    if (lo <= commit) {
      for (const e of log.entries(lo, commit + 1)) {
        this.recordCommitted(e.index, e.term, entryKey(e), `${id} committed`, nodeTerm);
      }
    }
    this.observedCommit.set(id, commit);
  }

  private recordCommitted(index: number, term: number, key: string, what: string, observerTerm: number): void {
    const c = this.committed.get(index);
    if (c === undefined) {
      this.committed.set(index, { term, key, commitTerm: observerTerm });
      if (index > this.maxCommitted) this.maxCommitted = index;
      return;
    }
    if (c.term !== term || c.key !== key) {
      throw new InvariantViolation(
        `committed entry changed at index ${index}: was term ${c.term} ${trim(c.key)}, ${what} term ${term} ${trim(key)}`,
      );
    }
    if (observerTerm < c.commitTerm) c.commitTerm = observerTerm;
  }

  private registerLogEntry(id: string, e: Entry, prevTerm: number | undefined): void {
    const k = `${e.index}:${e.term}`;
    const key = entryKey(e);
    const r = this.logRegistry.get(k);
    if (r === undefined) {
      this.logRegistry.set(k, { key, prevTerm, holders: new Set([id]) });
      return;
    }
    if (r.key !== key) {
      throw new InvariantViolation(`log matching: ${id} has different data at index ${e.index} term ${e.term}`);
    }
    if (r.prevTerm !== undefined && prevTerm !== undefined && r.prevTerm !== prevTerm) {
      throw new InvariantViolation(
        `log matching: ${id} entry ${e.index}@${e.term} follows term ${prevTerm}, elsewhere ${r.prevTerm}`,
      );
    }
    if (r.prevTerm === undefined && prevTerm !== undefined) r.prevTerm = prevTerm;
    r.holders.add(id);
  }

  private checkLeaderCompleteness(id: string, node: RaftNode): void {
    const log = node.inspectLog();
    const term = node.status().term;
    for (let i = Math.max(1, log.firstIndex); i <= this.maxCommitted; i++) {
      const c = this.committed.get(i);
      if (c === undefined || c.commitTerm >= term) continue;
      const t = log.term(i);
      if (t !== c.term) {
        throw new InvariantViolation(
          `leader completeness: new leader ${id} has term ${t ?? 'none'} at committed index ${i} (committed term ${c.term})`,
        );
      }
    }
  }

  private checkLeases(alive: ReadonlyMap<string, RaftNode>, now: number): void {
    let holder: string | null = null;
    let holderTerm = 0;
    for (const [id, n] of alive) {
      if (!this.leaseValid(id, n)) continue;
      if (holder !== null) {
        throw new InvariantViolation(`lease: ${holder} and ${id} both hold a valid lease at time ${now}`);
      }
      holder = id;
      holderTerm = n.status().term;
    }
    if (holder === null) return;
    for (const [id, n] of alive) {
      const st = n.status();
      if (st.role === 'leader' && st.term > holderTerm) {
        throw new InvariantViolation(
          `lease: ${id} is leader of term ${st.term} while ${holder} holds a lease for term ${holderTerm} at time ${now}`,
        );
      }
    }
  }
}

function trim(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
