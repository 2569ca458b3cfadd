/**
 * Raft value types: log entries, persistent state, configuration, wire messages and the Ready batch.
 *
 * Everything here is plain JSON-serialisable data (strings, numbers, booleans, arrays, plain objects)
 * so messages can be written to a TCP stream as JSON lines and entries/snapshots to a file unchanged.
 * Node ids are strings; `null` means "no node".
 */

export type NodeId = string;

/** Kind of a log entry. `noop` is the empty entry a new leader appends; `conf` carries a {@link ConfChange}. */
export type EntryType = 'normal' | 'noop' | 'conf';

/**
 * One log entry. `data` is the application payload: a UTF-8 string, or base64 when `binary` is true
 * (see `encodeEntryData` / `entryBytes`). For `conf` entries `data` is the JSON of a {@link ConfChange}.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: string;
  readonly binary?: true;
}

/** The state that must be durable before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state worth telling the application about when it changes. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/** Cluster membership. Voters elect and form quorums; learners only receive the log. Disjoint sets. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * A single-server membership change. `bootstrap` only appears as the first entry written by
 * `MemoryStorage.bootstrap` (or an equivalent file storage) and sets the initial voters.
 */
export type ConfChange =
  | { readonly type: 'add-learner'; readonly nodeId: NodeId }
  | { readonly type: 'promote'; readonly nodeId: NodeId }
  | { readonly type: 'remove'; readonly nodeId: NodeId }
  | { readonly type: 'bootstrap'; readonly voters: readonly NodeId[] };

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** Membership in force at `index` (i.e. after every conf entry up to and including `index`). */
  readonly confState: ConfState;
}

/** Application state as of `meta.index`; `data` is opaque to Raft. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: string;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's term (for `pre-vote`: the term the sender would campaign in; for a granted pre-vote response: that same term). */
  readonly term: number;
}

/** Ask for a (pre-)vote. `lastIndex`/`lastTerm` describe the candidate's log. */
export interface VoteRequest extends MessageBase {
  readonly type: 'pre-vote' | 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'pre-vote-resp' | 'vote-resp';
  readonly reject: boolean;
}

/**
 * Replicate `entries` after (prevIndex, prevTerm). `sentAt` is the leader's tick when it sent this;
 * the follower echoes it so the leader can date the quorum acknowledgement behind its lease.
 */
export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly sentAt: number;
}

/**
 * Answer to `append` or `snapshot` (or a lower-term leader's message, to tell it our term).
 * On success `index` is the last index now known to match the leader. On reject `index` is the
 * rejected prevIndex, and (`hintIndex`, `hintTerm`) the follower's best guess of where the logs may
 * agree: the largest index <= min(prevIndex, lastIndex) whose term is <= the leader's prevTerm.
 */
export interface AppendResponse extends MessageBase {
  readonly type: 'append-resp';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
  /** Follower's last log index, for diagnostics and for detecting learners that lost their state. */
  readonly lastIndex: number;
  /** Echo of the request's `sentAt`, or -1 when there is none. */
  readonly sentAt: number;
}

/** `commit` is min(leader commit, follower's known match) so a follower never commits unverified entries. */
export interface Heartbeat extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly sentAt: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeat-resp';
  readonly sentAt: number;
}

export interface InstallSnapshot extends MessageBase {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
  readonly sentAt: number;
}

/** Every message Raft nodes exchange, discriminated on `type`. */
export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot;

export type MessageType = Message['type'];

/**
 * A batch of work for the application. Handle it in this order:
 *  1. persist `snapshot` (if any), then `entries`, then `hardState` (if any) durably;
 *  2. send `messages`;
 *  3. restore `snapshot` into the state machine (if any), then apply `committed` in order;
 *  4. call `advance(ready)`.
 * Steps and ticks may happen between `ready()` and `advance()`; `ready()` may not be called again
 * until the previous batch has been advanced.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committed: readonly Entry[];
  readonly messages: readonly Message[];
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId | null }
  | {
      readonly ok: false;
      readonly reason: 'conf-change-pending' | 'leader-not-ready' | 'invalid-conf-change' | 'leader-removed';
      readonly message: string;
    };

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one peer. */
export interface PeerProgress {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Ticks of leader lease left (0 when not leader or lease expired). */
  readonly leaseRemaining: number;
}
