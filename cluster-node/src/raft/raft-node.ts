/**
 * RaftNode: the Raft consensus algorithm as a pure, deterministic state machine (after etcd-io/raft).
 *
 * No I/O, timers, clocks or global randomness: time moves only through `tick()`, randomness comes from
 * `config.rand`, input arrives through `step()`/`propose()`, and output leaves through `ready()`.
 * The caller persists each Ready before sending its messages, then calls `advance()`.
 *
 * Roles swap their step and tick functions (`becomeFollower`, `becomePreCandidate`, `becomeCandidate`,
 * `becomeLeader`); no other code branches on the role except for reporting.
 *
 * Features: pre-vote; randomized election timeout in [T, 2T); heartbeats; pipelined replication with
 * fast backtracking; leader commits only entries of its own term (plus its no-op on election);
 * CheckQuorum; a leader lease; snapshots and log compaction; voters and learners.
 *
 * Membership changes take effect when the entry is APPENDED to a node's log (Raft dissertation §4.1),
 * not when committed. A node always uses the latest configuration in its log, committed or not; if the
 * entry is truncated away the previous configuration comes back. Safety rules enforced by the leader:
 *  - one server changes at a time (add learner, promote learner to voter, remove voter or learner),
 *    so any majority of the old and of the new voter set intersect;
 *  - at most one uncommitted conf entry in the log;
 *  - the leader must have committed an entry of its current term first (fixes the single-server
 *    change bug found by Ongaro in 2015).
 * A leader that removes itself keeps leading (without counting itself) until the removal commits,
 * then steps down. Removed nodes that never hear of their removal cannot disrupt the cluster: their
 * pre-votes are refused while the voters hear from a leader.
 *
 * Leader lease: the leader stamps every append/heartbeat with its tick `sentAt`; followers echo it.
 * A follower that heard from a leader (or restarted, or stepped down as leader) refuses to vote for an
 * election timeout T. So once a quorum has acknowledged messages sent at tick s, no other node can
 * become leader before s + T; the lease runs until s + T - leaseMargin (margin >= 1 ticks, to cover
 * clock-rate drift). Requires checkQuorum (on by default).
 *
 * Nodes that lose their storage must rejoin under a NEW id (as in etcd): a node id must never
 * answer for a log it no longer has.
 */
import { applyConfChange, confChangeError, decodeConfChange, quorumIndex, voteOutcome } from './conf';
import { encodeEntryData } from './encoding';
import { Progress } from './progress';
import { RaftLog } from './raft-log';
import type { RaftStorage } from './storage';
import type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  Message,
  NodeId,
  PeerProgress,
  ProposeResult,
  Ready,
  Role,
  Snapshot,
  SoftState,
  Status,
  VoteRequest,
  VoteResponse,
} from './types';

export interface RaftConfig {
  readonly id: NodeId;
  /** T: followers wait a random number of ticks in [T, 2T) without a leader before campaigning. */
  readonly electionTimeout: number;
  /** Leader sends heartbeats every this many ticks. Must be < electionTimeout. */
  readonly heartbeatTimeout: number;
  /** Uniform random in [0, 1). Inject a seeded generator for determinism. */
  readonly rand: () => number;
  /** Leader steps down if it has not heard from a quorum within T. Default true; required for the lease. */
  readonly checkQuorum?: boolean;
  /** Campaign with a pre-vote round first. Default true. */
  readonly preVote?: boolean;
  /** The lease is T - leaseMargin ticks after the quorum-acknowledged send time. Default 1, must be in [1, T). */
  readonly leaseMargin?: number;
  /** Max entries per append message. Default 64. */
  readonly maxEntriesPerMessage?: number;
  /** Max un-acknowledged append messages per follower in replicate state. Default 16. */
  readonly maxInflight?: number;
  /** Max committed entries per Ready. Default 256. */
  readonly maxCommittedPerReady?: number;
  /** Last index the application's state already reflects (if it persists state beyond snapshots). */
  readonly applied?: number;
  /** Optional debug sink. */
  readonly logger?: (line: string) => void;
}

interface ConfPoint {
  readonly index: number;
  readonly conf: ConfState;
}

type StepFn = (m: Message) => void;
type TickFn = () => void;

export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: Required<Omit<RaftConfig, 'applied' | 'logger'>> & Pick<RaftConfig, 'logger'>;
  private readonly storage: RaftStorage;
  private readonly log: RaftLog;

  private term = 0;
  private vote: NodeId | null = null;
  private lead: NodeId | null = null;
  private role: Role = 'follower';
  private stepFn: StepFn = () => {};
  private tickFn: TickFn = () => {};

  /** Local clock: ticks since this incarnation started. */
  private now = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since we last heard from (or were) a leader, or restarted. We refuse votes while < T. */
  private sinceLeaderContact = 0;

  /** Membership history: [0] is the config at the snapshot point; later points come from conf entries. */
  private confHistory: ConfPoint[];
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];

  private prevHardState: HardState;
  private prevSoftState: SoftState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig, storage: RaftStorage) {
    if (config.electionTimeout < 2) throw new Error('raft: electionTimeout must be >= 2');
    if (config.heartbeatTimeout < 1 || config.heartbeatTimeout >= config.electionTimeout) {
      throw new Error('raft: heartbeatTimeout must be in [1, electionTimeout)');
    }
    const leaseMargin = config.leaseMargin ?? 1;
    if (leaseMargin < 1 || leaseMargin >= config.electionTimeout) {
      throw new Error('raft: leaseMargin must be in [1, electionTimeout)');
    }
    this.id = config.id;
    this.cfg = {
      id: config.id,
      electionTimeout: config.electionTimeout,
      heartbeatTimeout: config.heartbeatTimeout,
      rand: config.rand,
      checkQuorum: config.checkQuorum ?? true,
      preVote: config.preVote ?? true,
      leaseMargin,
      maxEntriesPerMessage: config.maxEntriesPerMessage ?? 64,
      maxInflight: config.maxInflight ?? 16,
      maxCommittedPerReady: config.maxCommittedPerReady ?? 256,
      logger: config.logger,
    };
    this.storage = storage;
    this.log = new RaftLog(storage);

    const hs = storage.hardState();
    const snap = storage.snapshot();
    const commit = Math.max(hs.commit, snap.meta.index);
    if (commit > this.log.lastIndex()) {
      throw new Error(`raft: stored commit ${commit} is beyond last index ${this.log.lastIndex()}`);
    }
    this.log.committed = commit;
    const applied = config.applied ?? snap.meta.index;
    this.log.applied = Math.min(Math.max(applied, snap.meta.index), commit);
    this.term = hs.term;
    this.vote = hs.vote;

    this.confHistory = [{ index: snap.meta.index, conf: snap.meta.confState }];
    if (storage.lastIndex() >= storage.firstIndex()) {
      this.recordConfEntries(storage.entries(storage.firstIndex(), storage.lastIndex() + 1));
    }

    this.prevHardState = { term: this.term, vote: this.vote, commit };
    this.becomeFollower(this.term, null);
    this.prevSoftState = { leader: null, role: 'follower' };
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  /** Advance logical time by one tick. */
  tick(): void {
    this.now++;
    this.tickFn();
  }

  /** Feed a message from the network. Messages for other nodes are a caller bug. */
  step(m: Message): void {
    if (m.to !== this.id) throw new Error(`raft ${this.id}: message for ${m.to}`);
    if (m.from === this.id) return;
    if ((m.type === 'vote' || m.type === 'pre-vote') && m.term >= this.term && this.inLease()) {
      // A leader may still count on us for its lease. This holds whatever our term is: we may have
      // moved to the candidate's term through some other message (e.g. a rejected pre-vote's answer)
      // without having heard of a new leader.
      const sameVote = m.type === 'vote' && m.term === this.term && this.vote === m.from;
      if (!sameVote) {
        this.debug(`ignore ${m.type} from ${m.from} term ${m.term}: in lease`);
        return;
      }
    }
    if (m.term > this.term) {
      if (m.type === 'pre-vote') {
        // Never change term for a pre-vote.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // Granted pre-votes carry the term we will campaign in.
      } else {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'heartbeat') {
        // A stale leader (or one partitioned away while we moved on): tell it our term so it steps down.
        this.send(this.appendResponse(m.from, 0, false, -1));
      } else if (m.type === 'pre-vote') {
        this.send<VoteResponse>({ type: 'pre-vote-resp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }
    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVoteRequest(m);
      return;
    }
    this.stepFn(m);
  }

  /**
   * Start an election now instead of waiting for the election timeout (with a pre-vote round when
   * enabled). Ignored when already leader or not a voter. Other nodes still refuse votes while they
   * hear from a leader.
   */
  campaign(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    this.campaignNow(this.cfg.preVote ? 'pre' : 'real');
  }

  /** Append a client entry. Only the leader accepts proposals. */
  propose(data: Uint8Array | string): ProposeResult {
    const rejected = this.leaderRejection();
    if (rejected) return rejected;
    const enc = encodeEntryData(data);
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type: 'normal', ...enc };
    this.appendToLog([entry]);
    this.bcastAppend(false);
    return { ok: true, index: entry.index, term: entry.term };
  }

  /** Propose a single-server membership change (see header for the rules). */
  proposeConfChange(change: ConfChange): ProposeResult {
    const rejected = this.leaderRejection();
    if (rejected) return rejected;
    if (this.log.term(this.log.committed) !== this.term) {
      return { ok: false, reason: 'leader-not-ready', message: 'leader has not committed an entry of its term yet' };
    }
    const pending = this.lastConfIndex();
    if (pending > this.log.committed) {
      return { ok: false, reason: 'conf-change-pending', message: `conf change at ${pending} not committed yet` };
    }
    const err = confChangeError(this.conf(), change);
    if (err !== null) return { ok: false, reason: 'invalid-conf-change', message: err };
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type: 'conf', data: JSON.stringify(change) };
    this.appendToLog([entry]);
    this.bcastAppend(false);
    return { ok: true, index: entry.index, term: entry.term };
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    const ss = this.softState();
    if (ss.leader !== this.prevSoftState.leader || ss.role !== this.prevSoftState.role) return true;
    if (!sameHardState(this.hardState(), this.prevHardState)) return true;
    if (this.msgs.length > 0) return true;
    if (this.log.hasUnstable()) return true;
    return this.log.committed > this.log.applied;
  }

  /**
   * The next batch of work, or null if there is none. Throws if the previous batch was not advanced.
   * See {@link Ready} for the order in which to handle it.
   */
  ready(): Ready | null {
    if (this.outstanding) throw new Error(`raft ${this.id}: ready() called before advance()`);
    if (!this.hasReady()) return null;
    const ss = this.softState();
    const hs = this.hardState();
    const snapshot = this.log.unstableSnapshot();
    const rd: Ready = {
      ...(ss.leader !== this.prevSoftState.leader || ss.role !== this.prevSoftState.role ? { softState: ss } : {}),
      ...(sameHardState(hs, this.prevHardState) ? {} : { hardState: hs }),
      entries: this.log.unstableEntries(),
      ...(snapshot ? { snapshot } : {}),
      committed: this.log.nextCommitted(this.log.applied, this.cfg.maxCommittedPerReady),
      messages: this.msgs,
    };
    this.msgs = [];
    this.prevSoftState = ss;
    this.outstanding = rd;
    return rd;
  }

  /** Acknowledge that `rd` was persisted, its messages sent and its committed entries applied. */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw new Error(`raft ${this.id}: advance() with a Ready that is not outstanding`);
    this.outstanding = null;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.snapshot) {
      this.log.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > this.log.applied) this.log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      this.log.stableTo(last.index, last.term);
    }
    if (rd.committed.length > 0) {
      const last = rd.committed[rd.committed.length - 1]!.index;
      if (last > this.log.applied) this.log.appliedTo(last);
    }
    // Our own entries count toward the quorum only once durable.
    if (this.role === 'leader' && this.maybeCommit()) this.bcastAppend(true);
  }

  /**
   * Snapshot the application state `data` as of `index` (<= applied) and discard the log up to it.
   * Returns false (and does nothing) when `index` is already compacted or a received snapshot is
   * still being persisted.
   */
  compact(index: number, data: string): boolean {
    if (index > this.log.applied) throw new Error(`raft ${this.id}: compact(${index}) beyond applied ${this.log.applied}`);
    if (this.log.unstableSnapshot()) return false;
    if (index <= this.storage.snapshot().meta.index) return false;
    if (index > this.storage.lastIndex()) throw new Error(`raft ${this.id}: compact(${index}) beyond stored log`);
    const term = this.log.term(index);
    if (term === undefined) throw new Error(`raft ${this.id}: compact(${index}): unknown term`);
    const snapshot: Snapshot = { meta: { index, term, confState: this.confAt(index) }, data };
    this.storage.compact(snapshot);
    // Keep the membership in force at `index` as the new base of the history.
    let base = 0;
    while (base + 1 < this.confHistory.length && this.confHistory[base + 1]!.index <= index) base++;
    this.confHistory = this.confHistory.slice(base);
    return true;
  }

  /** Leader only: is the lease (no other node can be leader) still running? */
  leaseValid(): boolean {
    return this.leaseRemaining() > 0;
  }

  /** Ticks of lease left; 0 when not leader, checkQuorum is off, or the lease expired. */
  leaseRemaining(): number {
    if (this.role !== 'leader' || !this.cfg.checkQuorum) return 0;
    const voters = this.conf().voters;
    if (voters.length === 0) return 0;
    const acks = voters.map((v) =>
      v === this.id ? this.now : (this.progress.get(v)?.ackedSentAt ?? Number.NEGATIVE_INFINITY),
    );
    const start = quorumIndex(acks);
    return Math.max(0, start + this.leaseTicks() - this.now);
  }

  status(): Status {
    const conf = this.conf();
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      role: this.role,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      voters: conf.voters,
      learners: conf.learners,
      leaseRemaining: this.leaseRemaining(),
    };
  }

  /** Leader only: replication progress of every other member (empty when not leader). */
  peers(): PeerProgress[] {
    return [...this.progress.values()].map((p) => p.view());
  }

  /** Leader only: has learner `id` acknowledged everything up to within `maxLag` of our last index? */
  isCaughtUp(id: NodeId, maxLag = 0): boolean {
    const pr = this.progress.get(id);
    return pr !== undefined && pr.match + maxLag >= this.log.lastIndex();
  }

  /** Current membership (the latest conf entry in the log, committed or not). */
  conf(): ConfState {
    return this.confHistory[this.confHistory.length - 1]!.conf;
  }

  /** Read-only view of the log for tests and tooling. */
  inspectLog(): {
    firstIndex: number;
    lastIndex: number;
    committed: number;
    applied: number;
    term: (i: number) => number | undefined;
    entries: (lo: number, hi: number) => Entry[];
  } {
    const log = this.log;
    return {
      firstIndex: log.firstIndex(),
      lastIndex: log.lastIndex(),
      committed: log.committed,
      applied: log.applied,
      term: (i) => log.term(i),
      entries: (lo, hi) => log.entries(lo, hi),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Role transitions

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
    this.stepFn = this.stepFollower;
    this.tickFn = this.tickElection;
    this.debug(`became follower term ${term} leader ${lead}`);
  }

  private becomePreCandidate(): void {
    // Does not change term or vote: a failed pre-vote leaves no trace.
    this.votes.clear();
    this.progress.clear();
    this.lead = null;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.role = 'pre-candidate';
    this.stepFn = this.stepCandidate;
    this.tickFn = this.tickElection;
    this.debug(`became pre-candidate term ${this.term}`);
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.lead = null;
    this.role = 'candidate';
    this.stepFn = this.stepCandidate;
    this.tickFn = this.tickElection;
    this.debug(`became candidate term ${this.term}`);
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.stepFn = this.stepLeader;
    this.tickFn = this.tickHeartbeat;
    this.sinceLeaderContact = 0;
    this.syncProgress();
    this.appendToLog([{ index: this.log.lastIndex() + 1, term: this.term, type: 'noop', data: '' }]);
    this.debug(`became leader term ${this.term}`);
    this.bcastAppend(true);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.progress.clear();
  }

  private resetRandomizedElectionTimeout(): void {
    const t = this.cfg.electionTimeout;
    this.randomizedElectionTimeout = t + Math.floor(this.cfg.rand() * t);
  }

  // ---------------------------------------------------------------------------------------------
  // Tick functions

  private tickElection(): void {
    this.electionElapsed++;
    this.sinceLeaderContact++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaignNow(this.cfg.preVote ? 'pre' : 'real');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    this.sinceLeaderContact = 0;
    if (this.electionElapsed >= this.cfg.electionTimeout) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          this.debug('stepping down: no quorum heard within an election timeout');
          this.becomeFollower(this.term, null);
          return;
        }
        for (const pr of this.progress.values()) pr.recentActive = false;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Step functions

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      default:
        return; // stale responses
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // A leader exists in our term.
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'pre-vote-resp':
      case 'vote-resp': {
        const mine = this.role === 'pre-candidate' ? 'pre-vote-resp' : 'vote-resp';
        if (m.type !== mine) return;
        if (mine === 'pre-vote-resp' && !m.reject && m.term !== this.term + 1) return; // stale round
        this.votes.set(m.from, !m.reject);
        const outcome = voteOutcome(this.conf().voters, this.votes);
        if (outcome === 'won') {
          if (this.role === 'pre-candidate') this.campaignNow('real');
          else this.becomeLeader();
        } else if (outcome === 'lost') {
          this.becomeFollower(this.term, null);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'append-resp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeat-resp':
        this.handleHeartbeatResponse(m);
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  private campaignNow(kind: 'pre' | 'real'): void {
    if (kind === 'pre') this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === 'pre' ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    const voters = this.conf().voters;
    if (voteOutcome(voters, this.votes) === 'won') {
      if (kind === 'pre') this.campaignNow('real');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const v of voters) {
      if (v === this.id) continue;
      this.send<VoteRequest>({
        type: kind === 'pre' ? 'pre-vote' : 'vote',
        from: this.id,
        to: v,
        term: voteTerm,
        lastIndex,
        lastTerm,
      });
    }
  }

  private handleVoteRequest(m: VoteRequest): void {
    const isPre = m.type === 'pre-vote';
    const canVote =
      this.vote === m.from || (this.vote === null && this.lead === null) || (isPre && m.term > this.term);
    const respType = isPre ? 'pre-vote-resp' : 'vote-resp';
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send<VoteResponse>({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (!isPre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send<VoteResponse>({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  /** Refuse (pre-)votes while a leader may still hold a lease that counts on us. */
  private inLease(): boolean {
    return this.cfg.checkQuorum && this.sinceLeaderContact < this.cfg.electionTimeout;
  }

  /**
   * May we campaign? Voters of the latest config may; so may a voter whose removal is appended but not
   * yet committed (dissertation §4.2.2): its vote may still be needed to commit that removal.
   */
  private promotable(): boolean {
    if (this.conf().voters.includes(this.id)) return true;
    const last = this.lastConfIndex();
    return last > this.log.committed && this.confAt(last - 1).voters.includes(this.id);
  }

  // ---------------------------------------------------------------------------------------------
  // Follower handling

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.sinceLeaderContact = 0;
    this.lead = from;
  }

  private handleAppend(m: AppendRequest): void {
    const committed = this.log.committed;
    if (m.prevIndex < committed) {
      this.send(this.appendResponse(m.from, committed, false, m.sentAt));
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = m.prevIndex + m.entries.length;
      const ci = this.log.findConflict(m.entries);
      if (ci !== 0) {
        if (ci <= committed) throw new Error(`raft ${this.id}: entry ${ci} conflicts with committed ${committed}`);
        this.appendToLog(m.entries.slice(ci - (m.prevIndex + 1)));
      }
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.send(this.appendResponse(m.from, lastNew, false, m.sentAt));
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send<AppendResponse>({
      type: 'append-resp',
      from: this.id,
      to: m.from,
      term: this.term,
      index: m.prevIndex,
      reject: true,
      hintIndex: hint.index,
      hintTerm: hint.term,
      lastIndex: this.log.lastIndex(),
      sentAt: m.sentAt,
    });
  }

  private handleHeartbeat(m: Heartbeat): void {
    // The leader sends min(commit, our match), so this never commits an unverified entry.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    this.send<HeartbeatResponse>({ type: 'heartbeat-resp', from: this.id, to: m.from, term: this.term, sentAt: m.sentAt });
  }

  private handleSnapshot(m: InstallSnapshot): void {
    const s = m.snapshot;
    if (s.meta.index <= this.log.committed) {
      this.send(this.appendResponse(m.from, this.log.committed, false, m.sentAt));
      return;
    }
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already have the snapshot's last entry: just fast-forward the commit index.
      this.log.commitTo(s.meta.index);
      this.send(this.appendResponse(m.from, this.log.committed, false, m.sentAt));
      return;
    }
    this.debug(`restoring snapshot at ${s.meta.index} term ${s.meta.term}`);
    this.log.restore(s);
    this.confHistory = [{ index: s.meta.index, conf: s.meta.confState }];
    this.send(this.appendResponse(m.from, s.meta.index, false, m.sentAt));
  }

  private appendResponse(to: NodeId, index: number, reject: boolean, sentAt: number): AppendResponse {
    return {
      type: 'append-resp',
      from: this.id,
      to,
      term: this.term,
      index,
      reject,
      hintIndex: 0,
      hintTerm: 0,
      lastIndex: this.log.lastIndex(),
      sentAt,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Leader handling

  private leaderRejection(): ProposeResult | null {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leaderHint: this.lead };
    if (!this.conf().voters.includes(this.id)) {
      return { ok: false, reason: 'leader-removed', message: 'leader is being removed from the configuration' };
    }
    return null;
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    this.noteAck(pr, m.sentAt);
    if (m.reject) {
      let nextProbe = m.hintIndex;
      if (m.hintTerm > 0) nextProbe = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        this.debug(`${m.from} rejected ${m.index}; next ${pr.next}`);
        if (pr.state === 'replicate') pr.becomeProbe(this.now);
        this.sendAppend(pr, true);
      }
      return;
    }
    const wasPaused = pr.isPaused(this.cfg.maxInflight);
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe') pr.becomeReplicate(this.now);
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate(this.now);
      if (this.maybeCommit()) {
        this.bcastAppend(true);
        return;
      }
    } else if (!wasPaused) {
      return;
    }
    if (this.role !== 'leader') return;
    while (this.sendAppend(pr, false)) {
      // keep filling the pipeline
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    this.noteAck(pr, m.sentAt);
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflight.length >= this.cfg.maxInflight) pr.inflight.shift();
    if (pr.state === 'snapshot' && this.now - pr.stateSince >= 2 * this.cfg.electionTimeout) {
      // The snapshot (or its acknowledgement) was probably lost: probe again.
      pr.becomeProbe(this.now);
    }
    if (pr.match < this.log.lastIndex()) this.sendAppend(pr, true);
  }

  private noteAck(pr: Progress, sentAt: number): void {
    if (sentAt > pr.ackedSentAt && sentAt <= this.now) pr.ackedSentAt = sentAt;
  }

  /** Send an append (or snapshot) to `pr` if not paused. Returns true if entries were sent. */
  private sendAppend(pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused(this.cfg.maxInflight)) return false;
    const last = this.log.lastIndex();
    if (pr.next > last + 1) pr.next = last + 1;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) {
      this.sendSnapshot(pr);
      return false;
    }
    const entries = this.log.entries(pr.next, last + 1, this.cfg.maxEntriesPerMessage);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send<AppendRequest>({
      type: 'append',
      from: this.id,
      to: pr.id,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
      sentAt: this.now,
    });
    if (entries.length > 0) pr.sentEntries(entries[entries.length - 1]!.index);
    else if (pr.state === 'probe') pr.probeSent = true;
    return entries.length > 0;
  }

  private sendSnapshot(pr: Progress): void {
    const snapshot = this.log.snapshot();
    if (snapshot.meta.index === 0) throw new Error(`raft ${this.id}: need a snapshot for ${pr.id} but have none`);
    this.debug(`sending snapshot ${snapshot.meta.index} to ${pr.id}`);
    this.send<InstallSnapshot>({ type: 'snapshot', from: this.id, to: pr.id, term: this.term, snapshot, sentAt: this.now });
    pr.becomeSnapshot(snapshot.meta.index, this.now);
  }

  private bcastAppend(sendIfEmpty: boolean): void {
    for (const pr of this.progress.values()) this.sendAppend(pr, sendIfEmpty);
  }

  private bcastHeartbeat(): void {
    for (const pr of this.progress.values()) {
      this.send<Heartbeat>({
        type: 'heartbeat',
        from: this.id,
        to: pr.id,
        term: this.term,
        commit: Math.min(pr.match, this.log.committed),
        sentAt: this.now,
      });
    }
  }

  /** Advance the commit index to what a quorum of voters has durably stored, if it is of our term. */
  private maybeCommit(): boolean {
    const conf = this.conf();
    const matches = conf.voters.map((v) => (v === this.id ? this.log.stableIndex() : (this.progress.get(v)?.match ?? 0)));
    const q = quorumIndex(matches);
    if (q <= this.log.committed || this.log.term(q) !== this.term) return false;
    this.log.commitTo(q);
    if (!conf.voters.includes(this.id) && this.log.committed >= this.lastConfIndex()) {
      // Our own removal is committed: hand over by going silent.
      this.debug('removal committed; stepping down');
      this.bcastAppend(true); // let followers learn the final commit index
      this.becomeFollower(this.term, null);
      return false;
    }
    return true;
  }

  private quorumActive(): boolean {
    const voters = this.conf().voters;
    const active = new Map<NodeId, boolean>();
    for (const v of voters) active.set(v, v === this.id || (this.progress.get(v)?.recentActive ?? false));
    return voteOutcome(voters, active) === 'won';
  }

  private leaseTicks(): number {
    return this.cfg.electionTimeout - this.cfg.leaseMargin;
  }

  // ---------------------------------------------------------------------------------------------
  // Log and membership bookkeeping

  /** The only way entries enter the log: keeps the membership history in step with the log. */
  private appendToLog(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    this.log.append(entries);
    let changed = false;
    while (this.confHistory.length > 1 && this.confHistory[this.confHistory.length - 1]!.index >= first) {
      this.confHistory.pop();
      changed = true;
    }
    if (this.recordConfEntries(entries)) changed = true;
    if (changed) this.onConfChanged();
  }

  private recordConfEntries(entries: readonly Entry[]): boolean {
    let changed = false;
    for (const e of entries) {
      if (e.type !== 'conf') continue;
      this.confHistory.push({ index: e.index, conf: applyConfChange(this.conf(), decodeConfChange(e)) });
      changed = true;
    }
    return changed;
  }

  private onConfChanged(): void {
    const conf = this.conf();
    this.debug(`conf now voters=[${conf.voters.join(',')}] learners=[${conf.learners.join(',')}]`);
    if (this.role === 'leader') this.syncProgress();
  }

  /** Leader: one Progress per other member; new members start probing at our last index. */
  private syncProgress(): void {
    const conf = this.conf();
    const members = new Set([...conf.voters, ...conf.learners]);
    members.delete(this.id);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const isLearner = conf.learners.includes(id);
      const pr = this.progress.get(id);
      if (pr) pr.isLearner = isLearner;
      else this.progress.set(id, new Progress(id, this.log.lastIndex() + 1, isLearner));
    }
  }

  private lastConfIndex(): number {
    return this.confHistory[this.confHistory.length - 1]!.index;
  }

  private confAt(index: number): ConfState {
    let c = this.confHistory[0]!.conf;
    for (const p of this.confHistory) {
      if (p.index > index) break;
      c = p.conf;
    }
    return c;
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  private send<M extends Message>(m: M): void {
    this.msgs.push(m);
  }

  private debug(line: string): void {
    this.cfg.logger?.(`[${this.id} t${this.term} @${this.now}] ${line}`);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
