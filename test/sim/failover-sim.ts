/**
 * The failover VOPR: one seed -> one randomized run of a cluster of shards (a primary and its replicas)
 * whose roles are decided by the Raft-replicated configuration, with simulated replication, clients
 * writing, and faults. Built on SimCluster (Raft nodes, their disks, the faulty network) and the
 * configuration oracle of config-sim.ts.
 *
 * Production code under test: the Raft module, ConfigState (every node applies the log), the
 * FailoverCoordinator (the leader's failure detection, fencing, lease wait and choice of replica), the
 * membership planner, and the write-lease rule (cluster/lease.ts). The glue around them mirrors
 * cluster.ts (tick: heartbeat or leader duties; proposals with their resubmission; what a node does
 * when its configuration changes) and the replication layer is a model of replication.ts and
 * primary-link.ts (PSYNC2: replication ids, +CONTINUE / +FULLRESYNC, offsets, REPLCONF ACK, chained
 * replicas, min-replicas-ack holding replies until N replicas acknowledged).
 *
 * Time: one simulated tick is one timer period (TICK_MS = 100 ms) of a running node; every node has
 * clocks of its own (offsets from simulated time): a monotonic one with a new origin for each process,
 * which times every lease and failover decision as in cluster.ts, and a wall clock that is stepped
 * (NTP) now and then by up to 10 s either way. Faults: crashes (the in-memory data and every
 * volatile state are lost, the Raft state on disk survives; a restarted node resyncs), restarts,
 * partitions (random splits, one-way cuts, a primary cut off from every node while its clients still
 * reach it), message loss, delay, duplication and reordering, stalled processes (a paused node neither
 * ticks nor handles messages, which wait for it; it resumes with every stale belief it had, and may
 * handle those messages before its timer fires), and log compaction. With min-replicas-ack N >= 1, a
 * crash is injected only while at most N nodes of its shard are damaged (down, or restarted and not
 * yet resynced): beyond that, acknowledged writes can be lost whatever the protocol.
 *
 * Checked after every event (message, tick, Ready): the Raft invariants (SafetyChecker) and the
 * configuration invariants (ConfigOracle), plus
 *  - one writable primary: at most one node per shard would accept a write now (it owns the shard's
 *    slots in its applied configuration and its write lease is valid at its clock); a stalled node
 *    counts as it would judge a write arriving the moment it resumes;
 *  - with N >= 1, no acknowledged write lost: every node that would accept a write for a shard holds
 *    every write of that shard acknowledged so far (an OK is counted as acknowledged when it is sent).
 * Liveness phase: heal, resume and restart everything, stop faults; within a bound every shard must
 * have exactly one writable primary, the owner of its slots in the Raft leader's configuration.
 *
 * `runFailoverSeed(seed)` never throws: it returns the failure with its seed and a trace tail.
 */
import { ConfigState, SLOTS, type ApplyResult, type ConfigCommand, type ConfigSnapshot, type NodeRecord } from '../../cluster-node/src/cluster/config-state';
import { FailoverCoordinator, timingFor, type FailoverTiming } from '../../cluster-node/src/cluster/failover';
import { RaftLeaseClock, WriteLease, entryMayChangeRoles, leaderMayGrant } from '../../cluster-node/src/cluster/lease';
import type { Clock, Instant } from '../../cluster-node/src/cluster/clock';
import { planMembership, targetVoters } from '../../cluster-node/src/cluster/membership';
import type { Entry, Ready } from '../../cluster-node/src/raft';
import { ConfigOracle } from './config-sim';
import { InvariantViolation } from './invariants';
import { Prng } from './prng';
import { SimCluster, type MachineOrigin, type NetworkOptions, type SimMachine, type SimNode, type SimOptions } from './sim-cluster';

/** As cluster.ts: one timer period, one Raft tick. */
const TICK_MS = 100;
/** As primary-link.ts: a failed replication connection is retried after this long. */
const RECONNECT_MS = 1000;
/** As cluster.ts leaderDuties: failover proposals give up after this long. */
const FAILOVER_PROPOSAL_MS = 2000;
/** As cluster.ts submit(): a proposal forwarded to the leader times out after this long. */
const FORWARD_MS = 2000;
/** As replication.ts: REPLCONF ACK every second. */
const ACK_EVERY_MS = 1000;
const ZERO_ID = '-';

// ---------------------------------------------------------------------------------------------------
// Parameters

export interface FailoverSimParams {
  /** Replicas of each shard's founding primary (one entry per shard). */
  replicas: number[];
  /** min-replicas-ack N. */
  minReplicasAck: number;
  /** cluster-node-timeout: the failover timing and the Raft election timeout derive from it. */
  nodeTimeoutMs: number;
  safetyTicks: number;
  livenessTicks: number;
  clients: number;
  /** Per client and tick: a new write (when none is outstanding). */
  writeRate: number;
  crashRate: number;
  /** Per tick: crash a node that believes it is a primary. */
  primaryCrashRate: number;
  restartRate: number;
  partitionRate: number;
  /** Per tick: cut a node that believes it is a primary off from every other node (not from clients). */
  isolatePrimaryRate: number;
  healRate: number;
  pauseRate: number;
  pauseMaxTicks: number;
  /** A resumed node handles the messages that waited for it before its timer fires. */
  ioFirstRate: number;
  compactRate: number;
  /** Per tick: some node's wall clock is stepped (NTP) by up to 10 s either way. */
  clockStepRate: number;
  /**
   * Per tick (N = 0, two shards or more): an operator moves a replica of another shard to some primary
   * (CLUSTER REPLICATE), often right after cutting that primary off, so that it misses the change.
   */
  adoptRate: number;
  sim: SimOptions;
}

export interface FailoverSimStats {
  ticks: number;
  nodes: number;
  writes: number;
  acked: number;
  refused: number;
  failovers: number;
  elections: number;
  crashes: number;
  pauses: number;
  fullSyncs: number;
  partialSyncs: number;
  clockSteps: number;
  adoptions: number;
  maxTerm: number;
}

export interface FailoverSimResult {
  seed: number;
  ok: boolean;
  error?: string;
  phase: 'setup' | 'safety' | 'liveness';
  trace: string[];
  params: FailoverSimParams;
  stats: FailoverSimStats;
}

export interface FailoverSimOptions {
  fullTrace?: boolean;
  raftDebug?: boolean;
  params?: Partial<FailoverSimParams>;
}

/** The Raft election timeout cluster.ts derives from cluster-node-timeout, in ticks. */
export function electionTicks(nodeTimeoutMs: number): number {
  return Math.max(3, Math.min(30, Math.round(nodeTimeoutMs / 2 / TICK_MS)));
}

/** Derive every parameter of a run from its seed. */
export function failoverSimParams(seed: number): FailoverSimParams {
  const p = new Prng(seed ^ 0x6a09e667);
  const shards = p.pick([1, 2, 2, 3]);
  const replicas = Array.from({ length: shards }, () => p.pick([1, 1, 2, 2, 3]));
  if (shards > 1 && p.chance(0.15)) replicas[shards - 1] = 0;
  const minReplicasAck = Math.min(Math.max(...replicas), p.pick([0, 1, 1, 1, 2]));
  const nodeTimeoutMs = p.pick([600, 1000, 1000, 1500, 2000]);
  const et = electionTicks(nodeTimeoutMs);
  const net: NetworkOptions = {
    dropRate: p.pick([0, 0.01, 0.05]),
    dupRate: p.pick([0, 0.02, 0.05]),
    minDelay: 0,
    // A round trip must fit in the Raft lease (T - 1 ticks), as on a LAN.
    maxDelay: p.int(0, Math.min(2, Math.floor((et - 2) / 2))),
    longDelayRate: p.pick([0, 0.02, 0.05]),
    longDelayMax: p.int(Math.max(1, Math.floor(et / 2)), 3 * et),
    reorderRate: p.pick([0, 0.05, 0.2]),
  };
  const storm = p.chance(0.35);
  return {
    replicas,
    minReplicasAck,
    nodeTimeoutMs,
    safetyTicks: p.int(300, 600),
    livenessTicks: 400,
    clients: p.int(1, 4),
    writeRate: p.pick([0.2, 0.5, 1]),
    crashRate: storm ? p.pick([0.01, 0.03]) : p.pick([0, 0.005, 0.01]),
    primaryCrashRate: storm ? p.pick([0.01, 0.02]) : p.pick([0, 0.005]),
    restartRate: storm ? p.pick([0.05, 0.2]) : p.pick([0.02, 0.1]),
    partitionRate: storm ? p.pick([0.02, 0.05]) : p.pick([0, 0.005, 0.02]),
    isolatePrimaryRate: storm ? p.pick([0.01, 0.03]) : p.pick([0, 0.005, 0.01]),
    healRate: storm ? p.pick([0.05, 0.2]) : p.pick([0.02, 0.1]),
    pauseRate: storm ? p.pick([0.01, 0.03]) : p.pick([0, 0.005, 0.01]),
    pauseMaxTicks: p.pick([5, 20, 60]),
    ioFirstRate: p.pick([0, 0.5, 1]),
    compactRate: p.pick([0, 0.01, 0.04]),
    sim: {
      electionTimeout: et,
      heartbeatTimeout: 1,
      net,
      fastDiskRate: p.pick([1, 0.8, 0.4]),
      maxEntriesPerMessage: p.pick([4, 64]),
      jsonWire: p.chance(0.2),
    },
    clockStepRate: p.pick([0, 0.005, 0.02]),
    adoptRate: minReplicasAck === 0 && shards > 1 ? p.pick([0, 0.005, 0.02]) : 0,
  };
}

// ---------------------------------------------------------------------------------------------------
// Messages other than Raft's (the bus requests of cluster.ts, replication, clients)

type Body =
  | { t: 'hb'; seq: number; offset: number; dataless: boolean; synced: string | null; echo?: number; echoBoot?: number }
  | { t: 'hb-reply'; seq: number; grant: boolean; serve: boolean; at: number; boot: number }
  | { t: 'propose'; req: string; cmd: ConfigCommand }
  | { t: 'propose-reply'; req: string; ok: boolean }
  | { t: 'psync'; session: number; replId: string; offset: number }
  | { t: 'fullresync'; session: number; replId: string; data: string[] }
  | { t: 'continue'; session: number; replId: string; from: number; writes: string[] }
  | { t: 'psync-refused'; session: number }
  | { t: 'data'; session: number; start: number; writes: string[] }
  | { t: 'ack'; session: number; offset: number }
  | { t: 'close'; session: number }
  | { t: 'write'; wid: string; shard: number; attempt: number }
  | { t: 'reply'; wid: string; attempt: number; reply: string; owner?: string };

interface AppMsg {
  at: number;
  order: number;
  from: string;
  to: string;
  /** The incarnation of the receiving node the message was sent to (its connection); 0 for clients. */
  toInc: number;
  body: Body;
}

// ---------------------------------------------------------------------------------------------------
// One running node's volatile state (lost on crash)

interface PendingProposal {
  cmd: ConfigCommand;
  deadline: number;
  acceptedTerm: number;
  /** A forwarded attempt: its term and when it times out. */
  forward: { term: number; until: number } | null;
  done: (r: ApplyResult | null) => void;
  /** Only this node as leader of that term may propose it (a failover decision). */
  leaderTerm: number | null;
}

interface ReplicaLink {
  session: number;
  online: boolean;
  ackOffset: number;
}

interface HeldWrite {
  wid: string;
  shard: number;
  client: string;
  attempt: number;
  offset: number;
  deadline: number;
}

class NodeRt {
  // Replication (replication.ts / primary-link.ts).
  replId2 = ZERO_ID;
  secondReplOffset = -1;
  /** The data: the write stream applied so far (offset = length). */
  readonly log: string[] = [];
  readonly has = new Set<string>();
  backlog = false;
  /** The link to the primary we follow (null: we are a primary). */
  upstream: { primary: string; session: number; state: 'handshake' | 'online'; since: number } | null = null;
  cached: { replId: string; offset: number } | null = null;
  readonly links = new Map<string, ReplicaLink>();
  held: HeldWrite[] = [];
  lastAckAt = 0;
  // Cluster layer (cluster.ts).
  followed: string | null | undefined = undefined;
  /** A primary in its applied configuration: it needs a write lease. */
  primary = false;
  ok = false;
  okOf: ConfigState | null = null;
  okVersion = -1;
  readonly lease: WriteLease;
  /** A heartbeat in flight: when it was sent (monotonic clock), and the moment a grant would run from. */
  hb: { seq: number; sentAt: number; sent: Instant } | null = null;
  readonly failover: FailoverCoordinator;
  lastLeader: string | null = null;
  readonly lastHeard = new Map<string, number>();
  readonly pending = new Map<string, PendingProposal>();
  failoverProposals = 0;
  lastView: ConfigState | null = null;
  lastVersion = -1;
  /** Restarted without its data (no persistence) and not synchronized since nor told to serve. */
  dataless: boolean;
  /** dataless while a primary owning slots with replicas: serves nothing, feeds no replica. */
  amnesiac = false;
  /** When the RaftNode ticked (leaderLeaseValid). */
  readonly raftLeaseClock: RaftLeaseClock;
  lastTickAt = 0;
  /** The primary whose stream our data is a prefix of (synchronized with it since we follow it). */
  syncedWith: string | null = null;
  /** The leader's (monotonic) clock in its reply to our last heartbeat, and that leader's incarnation. */
  hbEcho: { leader: string; at: number; boot: number } | null = null;
  /** A restarted node does not know its role before it replayed its committed log up to here. */
  replayTo = 0;
  // Simulation bookkeeping.
  /** Restarted and not yet resynced from a primary: its data may lack acknowledged writes. */
  unsynced: boolean;
  /** Per shard: acknowledged writes verified while continuously writable (-1: not writable at the last check). */
  readonly verified: number[];

  constructor(
    readonly id: string,
    readonly incarnation: number,
    public replId: string,
    timing: FailoverTiming,
    shards: number,
    restarted: boolean,
    readonly clock: Clock,
  ) {
    this.failover = new FailoverCoordinator(timing);
    this.lease = new WriteLease(clock);
    this.raftLeaseClock = new RaftLeaseClock(clock, TICK_MS);
    this.unsynced = restarted;
    this.dataless = restarted;
    this.verified = new Array<number>(shards).fill(-1);
  }

  append(wid: string): void {
    this.log.push(wid);
    this.has.add(wid);
  }

  replaceData(data: readonly string[]): void {
    this.log.length = 0;
    this.has.clear();
    for (const w of data) this.append(w);
  }
}

/** A node's configuration machine: the ConfigState it applies from the log (volatile). */
class CfgMachine implements SimMachine {
  readonly state: ConfigState;
  applied: number;
  private fp: string;

  constructor(
    private readonly sim: FailoverSim,
    private readonly node: SimNode,
    from: MachineOrigin | null,
    why: 'start' | 'install',
  ) {
    if (from === null) {
      this.state = new ConfigState();
      this.applied = 0;
    } else {
      this.state = ConfigState.fromSnapshot(JSON.parse(JSON.stringify(from.state)) as ConfigSnapshot);
      this.applied = from.index;
    }
    this.fp = this.state.fingerprint();
    sim.oracle.checkRestore(node.id, this.applied, this.state, this.fp, why);
  }

  apply(e: Entry): void {
    if (e.index !== this.applied + 1) throw new InvariantViolation(`config: ${this.node.id} applied ${e.index} after ${this.applied}`);
    this.applied = e.index;
    let result: ApplyResult | null = null;
    let cmd: ConfigCommand | null = null;
    if (e.type === 'normal') {
      cmd = JSON.parse(e.data) as ConfigCommand;
      const version = this.state.version;
      result = this.state.apply(cmd);
      if (this.state.version !== version) this.fp = this.state.fingerprint();
    }
    this.sim.oracle.check(this.node.id, e, this.state, this.fp, result);
    if (cmd && result) this.sim.onApplied(this.node, cmd, result);
  }

  snapshot(): unknown {
    return this.state.toSnapshot();
  }
}

interface SimClient {
  id: string;
  /** The node believed to be each shard's primary. */
  belief: (string | null)[];
  busy: { wid: string; shard: number; node: string; attempt: number; sentAt: number } | null;
}

// ---------------------------------------------------------------------------------------------------
// The simulation

class FailoverSim {
  readonly c: SimCluster;
  readonly rng: Prng;
  readonly oracle = new ConfigOracle();
  readonly timing: FailoverTiming;
  readonly N: number;
  /** Node ids of each shard (fixed: failovers change roles within a shard). */
  readonly shardNodes: string[][] = [];
  readonly shardOf = new Map<string, number>();
  /** The slot clients write to in each shard. */
  readonly shardSlot: number[] = [];
  /** Writes acknowledged to clients, per shard, in order. */
  readonly acked: string[][] = [];
  readonly stats = { writes: 0, acked: 0, refused: 0, failovers: 0, crashes: 0, pauses: 0, fullSyncs: 0, partialSyncs: 0, clockSteps: 0, adoptions: 0 };
  private readonly rts = new Map<string, NodeRt>();
  /** Each node's wall clock, as an offset from simulated time: random, and stepped now and then. */
  private readonly wallOffset = new Map<string, number>();
  /** Each running incarnation's monotonic clock: a random origin per process, as performance.now(). */
  private readonly monoOrigin = new Map<string, number>();
  private readonly clients: SimClient[] = [];
  private queue: AppMsg[] = [];
  private held: AppMsg[] = [];
  private orderSeq = 0;
  private readonly linkLastAt = new Map<string, number>();
  private seq = 0;
  private readonly resumeAt = new Map<string, number>();
  private readonly founders: NodeRecord[] = [];
  private setupBatch: ConfigCommand | null = null;
  private nextSetupProposal = 0;
  private readonly allIds: string[] = [];

  constructor(
    readonly seed: number,
    readonly params: FailoverSimParams,
    options: FailoverSimOptions,
  ) {
    this.c = new SimCluster(seed, {
      ...params.sim,
      fullTrace: options.fullTrace,
      raftDebug: options.raftDebug,
      machine: (node, from, why) => {
        if (why === 'start') this.startRuntime(node);
        const m = new CfgMachine(this, node, from, why);
        // cluster.ts start(): before anything else, a restarted primary knows it must not serve.
        if (why === 'start') this.updateAmnesiac(node.id, this.rts.get(node.id)!, m.state);
        return m;
      },
    });
    this.rng = this.c.rng.fork();
    this.timing = timingFor(params.nodeTimeoutMs);
    this.N = params.minReplicasAck;
    this.c.tap = (m) => {
      const rt = this.rtOf(m.to);
      if (rt) rt.lastHeard.set(m.from, this.now(m.to));
    };
    this.c.onReady = (n, rd) => this.afterReady(n, rd);
    this.c.checker.leaseValid = (id, r) => {
      const rt = this.rtOf(id);
      return rt ? this.leaderLeaseValid(this.c.node(id), rt) : r.leaseValid();
    };
    this.oracle.onFirstApply = (_e, cmd, res) => {
      if (cmd && res?.ok && JSON.stringify(cmd).includes('"op":"failover"')) this.stats.failovers++;
    };
  }

  // ------------------------------------------------------------------ clocks and lookups

  /**
   * Node `id`'s monotonic clock (ms), the one cluster.ts times everything with; its origin changes when
   * the node restarts (another process).
   */
  now(id: string): number {
    return this.c.time * TICK_MS + (this.monoOrigin.get(id) ?? 0);
  }

  /** Node `id`'s wall clock (ms): only ever shortens a lease (lease.ts). */
  wall(id: string): number {
    return this.c.time * TICK_MS + (this.wallOffset.get(id) ?? 0);
  }

  /** The volatile state of `id`'s running incarnation (paused or not), or null when it is down. */
  rtOf(id: string): NodeRt | null {
    const n = this.c.nodes.get(id);
    if (!n || !n.raft) return null;
    const rt = this.rts.get(id);
    return rt && rt.incarnation === n.incarnation ? rt : null;
  }

  stateOf(id: string): ConfigState | null {
    const n = this.c.nodes.get(id);
    return (n?.machine as CfgMachine | null)?.state ?? null;
  }

  private startRuntime(node: SimNode): void {
    this.monoOrigin.set(node.id, this.rng.int(0, 1_000_000));
    const id = node.id;
    const clock: Clock = { monoMs: () => this.now(id), wallMs: () => this.wall(id) };
    const rt = new NodeRt(id, node.incarnation, this.newReplId(), this.timing, this.shardNodes.length, node.incarnation > 1, clock);
    if (rt.dataless) rt.replayTo = node.raft!.status().commit;
    this.rts.set(node.id, rt);
  }

  private newReplId(): string {
    return `r${this.rng.nextU32().toString(36)}`;
  }

  private newSession(): number {
    return ++this.seq;
  }

  // ------------------------------------------------------------------ setup

  setup(): void {
    const p = this.params;
    let k = 0;
    const per = Math.floor(SLOTS / p.replicas.length);
    for (let s = 0; s < p.replicas.length; s++) {
      const ids: string[] = [];
      for (let i = 0; i <= p.replicas[s]!; i++) ids.push(`n${++k}`);
      this.shardNodes.push(ids);
      for (const id of ids) {
        this.shardOf.set(id, s);
        this.allIds.push(id);
        this.wallOffset.set(id, this.rng.int(0, 1_000_000));
      }
      this.shardSlot.push(s * per + this.rng.int(0, per - 1));
      this.acked.push([]);
    }
    // Founding voters spread over shards: primaries first, then replicas round-robin.
    const spread: string[] = [];
    for (let i = 0; spread.length < this.allIds.length; i++) {
      for (const ids of this.shardNodes) if (ids[i] !== undefined) spread.push(ids[i]!);
    }
    const voters = spread.slice(0, targetVoters(this.allIds.length));
    this.c.bootstrap(voters);
    for (const id of this.allIds) if (!voters.includes(id)) this.c.addEmptyNode(id);
    const cmds: ConfigCommand[] = [];
    for (let s = 0; s < this.shardNodes.length; s++) {
      const [primary, ...replicas] = this.shardNodes[s]!;
      const hi = s === this.shardNodes.length - 1 ? SLOTS - 1 : (s + 1) * per - 1;
      const rec = this.record(primary!, null, `shard${s}`);
      this.founders.push(rec);
      cmds.push({ op: 'join', node: rec, slots: [[s * per, hi]] });
      for (const r of replicas) cmds.push({ op: 'join', node: this.record(r, rec, rec.shardId), slots: [] });
    }
    this.setupBatch = { op: 'batch', cmds };
    for (let i = 0; i < p.clients; i++) {
      this.clients.push({ id: `c${i + 1}`, belief: this.shardNodes.map((ids) => ids[0]!), busy: null });
    }
  }

  private record(id: string, primary: NodeRecord | null, shardId: string): NodeRecord {
    const i = Number(id.slice(1));
    return { id, ip: `10.0.0.${i}`, port: 7000, cport: 17000, hostname: '', primary: primary?.id ?? null, shardId, configEpoch: 0, failed: false, nofailover: false };
  }

  /** Until the founders' batch is applied, an operator proposes it at the leader now and then. */
  private driveSetup(): void {
    if (!this.setupBatch || this.oracle.ref.nodes.size === this.allIds.length) return;
    if (this.c.time < this.nextSetupProposal) return;
    const l = this.c.leader();
    if (!l || this.c.paused.has(l.id)) return;
    this.nextSetupProposal = this.c.time + 20;
    l.propose(JSON.stringify(this.setupBatch));
    this.c.check(this.c.node(l.id));
  }

  /**
   * Every node applied the founders' batch and every replica has synchronized with its primary. (Not
   * "is streaming now": clients write from the start, and with reordering on the network a replica's
   * link breaks at a gap every few ticks; all of them online at one moment may never happen.)
   */
  setupDone(): boolean {
    if (this.oracle.ref.nodes.size !== this.allIds.length) return false;
    for (const id of this.allIds) {
      const rt = this.rtOf(id);
      const st = this.stateOf(id);
      if (!rt || !st || st.nodes.size !== this.allIds.length) return false;
      const me = st.node(id)!;
      if (me.primary !== null && rt.syncedWith !== me.primary) return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ the app network

  private reachable(from: string, to: string): boolean {
    if (!this.c.nodes.has(from) || !this.c.nodes.has(to)) return true; // clients reach every node
    return this.c.canReach(from, to);
  }

  send(from: string, to: string, body: Body): void {
    const target = this.c.nodes.get(to);
    let toInc = 0;
    if (target) {
      if (!target.raft) return; // connection refused
      toInc = target.incarnation;
    }
    const net = this.c.net;
    if (this.rng.chance(net.dropRate)) return;
    // Requests may be retried (duplicated); a client's command is not (it has one TCP connection).
    const copies = target && this.c.nodes.has(from) && this.rng.chance(net.dupRate) ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      let delay = this.rng.int(net.minDelay, net.maxDelay);
      if (this.rng.chance(net.longDelayRate)) delay += this.rng.int(1, Math.max(1, net.longDelayMax));
      let at = this.c.time + delay;
      let order: number;
      if (this.rng.chance(net.reorderRate)) order = this.rng.nextU32() * 0x100000 + this.orderSeq++;
      else {
        const link = `${from}>${to}`;
        at = Math.max(at, this.linkLastAt.get(link) ?? 0);
        this.linkLastAt.set(link, at);
        order = this.orderSeq++;
      }
      this.queue.push({ at, order, from, to, toInc, body });
    }
  }

  /** Deliver every app message due now. Returns how many were handled. */
  private deliverDue(): number {
    const due = this.queue.filter((m) => m.at <= this.c.time).sort((a, b) => a.at - b.at || a.order - b.order);
    if (due.length === 0) return 0;
    this.queue = this.queue.filter((m) => m.at > this.c.time);
    let count = 0;
    for (const m of due) {
      if (this.c.paused.has(m.to)) {
        this.held.push(m);
        continue;
      }
      if (this.deliver(m)) count++;
    }
    return count;
  }

  private deliver(m: AppMsg): boolean {
    if (!this.reachable(m.from, m.to)) return false;
    const client = this.clients.find((x) => x.id === m.to);
    if (client) {
      this.onClientReply(client, m.body);
      return true;
    }
    const n = this.c.nodes.get(m.to);
    if (!n || !n.raft || n.incarnation !== m.toInc) return false;
    const rt = this.rtOf(m.to)!;
    this.handle(n, rt, m.from, m.body);
    this.checkShards();
    return true;
  }

  /** The messages that waited for a stalled node: due now, or handled at once (before its timer). */
  private release(id: string, now: boolean): void {
    const mine = this.held.filter((m) => m.to === id);
    this.held = this.held.filter((m) => m.to !== id);
    for (const m of mine) {
      if (now) this.deliver(m);
      else this.queue.push({ ...m, at: this.c.time });
    }
  }

  /** Messages and Readies until nothing is left to do at this time (bounded). */
  settle(): void {
    for (let round = 0; round < 64; round++) {
      const before = this.c.stats.delivered + this.c.stats.readies;
      const n = this.deliverDue();
      this.c.settle();
      if (n === 0 && this.c.stats.delivered + this.c.stats.readies === before) return;
    }
  }

  // ------------------------------------------------------------------ cluster.ts: ticks

  /** One simulated tick: faults (safety phase), timers, then every message and Ready due. */
  step(faults: boolean): void {
    if (faults) this.faults();
    this.driveSetup();
    this.tick();
    this.settle();
    this.checkShards();
  }

  tick(): void {
    this.c.time++;
    for (const n of this.c.nodes.values()) {
      if (!n.raft || this.c.paused.has(n.id)) continue;
      const rt = this.rtOf(n.id);
      if (!rt) continue;
      this.tickNode(n, rt);
      this.checkShards();
    }
    for (const cl of this.clients) this.clientTick(cl);
  }

  private tickNode(n: SimNode, rt: NodeRt): void {
    const raft = n.raft!;
    const now = this.now(n.id);
    if (rt.lastTickAt > 0 && now - rt.lastTickAt > 3 * TICK_MS) rt.failover.stalled(now);
    rt.lastTickAt = now;
    if (rt.upstream?.state === 'online') this.synced(n.id, rt);
    if (rt.replayTo > 0 && raft.status().applied >= rt.replayTo) {
      rt.replayTo = 0;
      this.updateAmnesiac(n.id, rt, this.stateOf(n.id));
    }
    raft.tick();
    rt.raftLeaseClock.ticked();
    this.c.check(n);
    if (rt.hb && now - rt.hb.sentAt >= this.timing.leaseMs) rt.hb = null;
    this.recompute(n.id, rt);
    if (raft.status().role === 'leader') this.leaderDuties(n, rt);
    else this.heartbeat(n, rt);
    this.resubmitPending(n, rt);
    for (const [req, p] of rt.pending) {
      if (p.forward && now >= p.forward.until) {
        if (p.acceptedTerm === p.forward.term) p.acceptedTerm = -1;
        p.forward = null;
      }
      if (now >= p.deadline) {
        rt.pending.delete(req);
        p.done(null);
      }
    }
    this.replicationCron(n.id, rt, now);
  }

  /**
   * cluster.ts recompute(): cluster_state ok (full coverage by live owners) and this node known. (It runs
   * every tick there, for CONFIG SET; here the configuration is all it depends on.)
   */
  private recompute(id: string, rt: NodeRt): void {
    const v = this.stateOf(id);
    if (!v || (v === rt.okOf && v.version === rt.okVersion)) return;
    rt.okOf = v;
    rt.okVersion = v.version;
    let ok = true;
    let last: string | null | undefined;
    for (let s = 0; s < SLOTS && ok; s++) {
      const o = v.owners[s];
      if (o === last) continue;
      last = o;
      if (o === null || v.nodes.get(o!)?.failed) ok = false;
    }
    rt.ok = ok && v.nodes.has(id);
  }

  /** cluster.ts heartbeat(): the replication offset to the leader; a grant renews the write lease. */
  private heartbeat(n: SimNode, rt: NodeRt): void {
    const leader = n.raft!.status().leader;
    if (leader === null || rt.hb) return;
    rt.hb = { seq: ++this.seq, sentAt: this.now(n.id), sent: rt.lease.requestSent() };
    const echo = rt.hbEcho?.leader === leader ? rt.hbEcho : null;
    this.send(n.id, leader, { t: 'hb', seq: rt.hb.seq, offset: rt.log.length, dataless: rt.dataless, synced: rt.syncedWith, ...(echo ? { echo: echo.at, echoBoot: echo.boot } : {}) });
  }

  /** cluster.ts synced(): our data is a prefix of the stream of the primary we follow. */
  private synced(id: string, rt: NodeRt): void {
    if (rt.followed) rt.syncedWith = rt.followed;
    if (rt.dataless) this.setDataless(id, rt, false);
  }

  /** cluster.ts setDataless() / updateAmnesiac(). */
  private setDataless(id: string, rt: NodeRt, dataless: boolean): void {
    rt.dataless = dataless;
    this.c.trace(`${id} holds its shard's data again`);
    this.updateAmnesiac(id, rt, this.stateOf(id));
  }

  private updateAmnesiac(id: string, rt: NodeRt, v: ConfigState | null): void {
    const replaying = rt.replayTo > 0 && this.c.node(id).raft!.status().applied < rt.replayTo;
    rt.amnesiac = v !== null && rt.dataless && (replaying || (v.node(id)?.primary === null && v.replicasOf(id).length > 0 && v.owners.includes(id)));
  }

  /** cluster.ts leaderLeaseValid(): the Raft lease, in ticks and in time (lease.ts RaftLeaseClock). */
  leaderLeaseValid(n: SimNode, rt: NodeRt): boolean {
    return rt.raftLeaseClock.valid(n.raft!.leaseRemaining(), this.params.sim.electionTimeout - 1);
  }

  /** cluster.ts writeLeaseValid(). */
  writeLeaseValid(n: SimNode, rt: NodeRt): boolean {
    if (!rt.primary) return true;
    const raft = n.raft!;
    const raftLease = raft.status().role === 'leader' ? this.leaderLeaseValid(n, rt) : null;
    return rt.lease.allows({ primary: true, raftLease });
  }

  /** cluster.ts leaderDuties(). */
  private leaderDuties(n: SimNode, rt: NodeRt): void {
    const raft = n.raft!;
    const st = raft.status();
    const state = this.stateOf(n.id)!;
    const known = state.nodes.has(n.id);
    const now = this.now(n.id);
    if (known) rt.failover.noteSelf(n.id, rt.log.length, rt.dataless, rt.syncedWith, now);
    if (known && rt.dataless && rt.failover.mayServe(n.id)) this.setDataless(n.id, rt, false);
    if (known && rt.failoverProposals === 0) {
      const cmds = rt.failover.decide(now, state, n.id, (id) => rt.lastHeard.get(id) ?? -Infinity, this.N);
      for (const cmd of cmds) {
        rt.failoverProposals++;
        this.c.trace(`${n.id} proposes ${JSON.stringify(cmd)}`);
        this.propose(n, rt, cmd, FAILOVER_PROPOSAL_MS, () => rt.failoverProposals--, st.term);
      }
    }
    if (st.applied < st.commit) return;
    // Before the founders' batch the node table is empty (a state of the simulation's bootstrap only:
    // a real cluster's first voter is in its own table): every member would look forgotten.
    if (state.nodes.size === 0) return;
    const deadAfter = Math.max(2000, this.params.nodeTimeoutMs);
    const freshFor = this.params.sim.electionTimeout * TICK_MS;
    const change = planMembership({ voters: st.voters, learners: st.learners }, state, n.id, {
      alive: (id) => id === n.id || now - (rt.lastHeard.get(id) ?? -Infinity) < deadAfter,
      fresh: (id) => id === n.id || now - (rt.lastHeard.get(id) ?? -Infinity) < freshFor,
      caughtUp: (id) => raft.isCaughtUp(id, 5),
    });
    if (change) {
      const r = raft.proposeConfChange(change);
      this.c.check(n);
      if (r.ok) this.c.trace(`${n.id} membership ${change.type} ${'nodeId' in change ? change.nodeId : ''}`);
    }
  }

  // ------------------------------------------------------------------ cluster.ts: proposals

  private propose(n: SimNode, rt: NodeRt, cmd: ConfigCommand, timeoutMs: number, done: (r: ApplyResult | null) => void, leaderTerm: number | null = null): void {
    const req = `${n.id}:${n.incarnation}:${++this.seq}`;
    rt.pending.set(req, { cmd: { ...cmd, req } as ConfigCommand, deadline: this.now(n.id) + timeoutMs, acceptedTerm: -1, forward: null, done, leaderTerm });
    this.submit(n, rt, req);
  }

  private submit(n: SimNode, rt: NodeRt, req: string): void {
    const p = rt.pending.get(req);
    if (!p) return;
    const raft = n.raft!;
    const st = raft.status();
    if (p.leaderTerm !== null && (st.role !== 'leader' || st.term !== p.leaderTerm)) {
      rt.pending.delete(req);
      p.done(null);
      return;
    }
    if (st.role === 'leader') {
      const r = raft.propose(JSON.stringify(p.cmd));
      this.c.check(n);
      if (r.ok) p.acceptedTerm = r.term;
      return;
    }
    if (st.leader === null) return;
    p.acceptedTerm = st.term;
    p.forward = { term: st.term, until: this.now(n.id) + FORWARD_MS };
    this.send(n.id, st.leader, { t: 'propose', req, cmd: p.cmd });
  }

  private resubmitPending(n: SimNode, rt: NodeRt): void {
    if (rt.pending.size === 0) return;
    const term = n.raft!.status().term;
    for (const [req, p] of rt.pending) if (p.acceptedTerm !== term) this.submit(n, rt, req);
  }

  /** A node applied a normal entry: the proposal it made with that req id is answered. */
  onApplied(node: SimNode, cmd: ConfigCommand, result: ApplyResult): void {
    if (!cmd.req) return;
    const rt = this.rtOf(node.id);
    const p = rt?.pending.get(cmd.req);
    if (!rt || !p) return;
    rt.pending.delete(cmd.req);
    p.done(result);
  }

  // ------------------------------------------------------------------ cluster.ts: processReady / afterApply

  private afterReady(n: SimNode, rd: Ready): void {
    const rt = this.rtOf(n.id);
    if (!rt) return;
    const applied = (rd.snapshot !== undefined && rd.snapshot !== null && rd.snapshot.data !== '') || rd.committed.some((e) => e.type === 'normal');
    if (rd.softState) {
      const now = this.now(n.id);
      if (rd.softState.role === 'leader') rt.failover.becameLeader(now, rt.lastLeader);
      else rt.failover.steppedDown();
      if (rd.softState.leader !== null && rd.softState.leader !== n.id) rt.lastLeader = rd.softState.leader;
    }
    if (applied) this.afterApply(n, rt);
    this.checkShards();
  }

  private afterApply(n: SimNode, rt: NodeRt): void {
    const v = this.stateOf(n.id)!;
    if (v === rt.lastView && v.version === rt.lastVersion) return;
    rt.lastView = v;
    rt.lastVersion = v.version;
    rt.primary = v.node(n.id)?.primary === null;
    this.updateAmnesiac(n.id, rt, v);
    this.roleChanged(n.id, rt, v);
    this.recompute(n.id, rt);
  }

  private roleChanged(id: string, rt: NodeRt, v: ConfigState): void {
    const me = v.node(id);
    if (!me) return;
    const primary = me.primary;
    if (primary === rt.followed) return;
    rt.followed = primary;
    rt.syncedWith = null;
    if (primary === null) {
      this.promote(id, rt);
      return;
    }
    if (!v.node(primary)) return;
    this.c.trace(`${id} replicates ${primary}`);
    this.follow(id, rt, primary);
  }

  // ------------------------------------------------------------------ replication.ts / primary-link.ts

  private follow(id: string, rt: NodeRt, primary: string): void {
    if (rt.upstream && rt.upstream.primary === primary) return;
    if (!rt.upstream) rt.cached = { replId: rt.replId, offset: rt.log.length };
    else {
      if (rt.upstream.state === 'online') rt.cached = { replId: rt.replId, offset: rt.log.length };
      this.send(id, rt.upstream.primary, { t: 'close', session: rt.upstream.session });
    }
    this.disconnectReplicas(id, rt);
    rt.upstream = { primary, session: this.newSession(), state: 'handshake', since: this.now(id) };
    this.sendPsync(id, rt);
  }

  private promote(id: string, rt: NodeRt): void {
    if (!rt.upstream) return;
    this.send(id, rt.upstream.primary, { t: 'close', session: rt.upstream.session });
    rt.upstream = null;
    rt.cached = null;
    rt.replId2 = rt.replId;
    rt.secondReplOffset = rt.log.length + 1;
    rt.replId = this.newReplId();
    this.c.trace(`${id} promoted at offset ${rt.log.length}`);
    this.disconnectReplicas(id, rt);
  }

  private sendPsync(id: string, rt: NodeRt): void {
    const u = rt.upstream!;
    const c = rt.cached;
    this.send(id, u.primary, { t: 'psync', session: u.session, replId: c ? c.replId : '?', offset: c ? c.offset + 1 : -1 });
  }

  private disconnectReplicas(id: string, rt: NodeRt): void {
    for (const [r, l] of rt.links) this.send(id, r, { t: 'close', session: l.session });
    rt.links.clear();
  }

  /** The replication connection broke: keep where we are, retry after RECONNECT_MS. */
  private linkBroken(id: string, rt: NodeRt): void {
    const u = rt.upstream!;
    if (u.state === 'online') rt.cached = { replId: rt.replId, offset: rt.log.length };
    rt.upstream = { primary: u.primary, session: this.newSession(), state: 'handshake', since: this.now(id) };
  }

  private replicationCron(id: string, rt: NodeRt, now: number): void {
    const u = rt.upstream;
    if (u && u.state === 'handshake' && now - u.since >= RECONNECT_MS) {
      rt.upstream = { primary: u.primary, session: this.newSession(), state: 'handshake', since: now };
      this.sendPsync(id, rt);
    }
    if (u && u.state === 'online' && now - rt.lastAckAt >= ACK_EVERY_MS) this.sendAck(id, rt);
    if (rt.held.length > 0) {
      const expired = rt.held.filter((w) => now >= w.deadline);
      if (expired.length > 0) {
        rt.held = rt.held.filter((w) => now < w.deadline);
        for (const w of expired) this.reply(id, w.client, w.wid, w.attempt, 'NOREPLICAS-TIMEOUT');
      }
    }
  }

  private sendAck(id: string, rt: NodeRt): void {
    rt.lastAckAt = this.now(id);
    this.send(id, rt.upstream!.primary, { t: 'ack', session: rt.upstream!.session, offset: rt.log.length });
  }

  /** Append writes to our stream and pass them on to our replicas (a primary's feed, or a replica's proxy). */
  private propagate(id: string, rt: NodeRt, writes: readonly string[]): void {
    const start = rt.log.length;
    for (const w of writes) rt.append(w);
    for (const [r, l] of rt.links) this.send(id, r, { t: 'data', session: l.session, start, writes: [...writes] });
  }

  private onPsync(id: string, rt: NodeRt, from: string, b: { session: number; replId: string; offset: number }): void {
    if ((rt.upstream && rt.upstream.state !== 'online') || rt.amnesiac) {
      this.send(id, from, { t: 'psync-refused', session: b.session });
      return;
    }
    const partial =
      rt.backlog &&
      (b.replId === rt.replId || (b.replId === rt.replId2 && b.offset <= rt.secondReplOffset)) &&
      b.offset >= 1 &&
      b.offset <= rt.log.length + 1;
    if (partial) {
      rt.links.set(from, { session: b.session, online: true, ackOffset: b.offset - 1 });
      this.send(id, from, { t: 'continue', session: b.session, replId: rt.replId, from: b.offset - 1, writes: rt.log.slice(b.offset - 1) });
      this.stats.partialSyncs++;
      return;
    }
    if (!rt.backlog) {
      // As Redis: a primary's first replica starts a new replication history.
      if (!rt.upstream) {
        rt.replId = this.newReplId();
        rt.replId2 = ZERO_ID;
        rt.secondReplOffset = -1;
      }
      rt.backlog = true;
    }
    rt.links.set(from, { session: b.session, online: false, ackOffset: -1 });
    this.send(id, from, { t: 'fullresync', session: b.session, replId: rt.replId, data: rt.log.slice() });
    this.stats.fullSyncs++;
  }

  private mySession(rt: NodeRt, session: number): boolean {
    return rt.upstream !== null && rt.upstream.session === session;
  }

  private onFullResync(id: string, rt: NodeRt, b: { session: number; replId: string; data: string[] }): void {
    if (!this.mySession(rt, b.session) || rt.upstream!.state !== 'handshake') return;
    this.disconnectReplicas(id, rt);
    rt.replaceData(b.data);
    rt.replId = b.replId;
    rt.replId2 = ZERO_ID;
    rt.secondReplOffset = -1;
    rt.backlog = true;
    rt.cached = null;
    rt.upstream!.state = 'online';
    rt.unsynced = false;
    this.c.trace(`${id} full sync from ${rt.upstream!.primary}: offset ${rt.log.length}`);
    this.synced(id, rt);
    this.sendAck(id, rt);
  }

  private onContinue(id: string, rt: NodeRt, b: { session: number; replId: string; from: number; writes: string[] }): void {
    if (!this.mySession(rt, b.session) || rt.upstream!.state !== 'handshake') return;
    if (b.replId !== rt.replId) {
      rt.replId2 = rt.replId;
      rt.secondReplOffset = rt.log.length + 1;
      rt.replId = b.replId;
      this.disconnectReplicas(id, rt);
    }
    rt.backlog = true;
    rt.cached = null;
    if (b.from !== rt.log.length) throw new InvariantViolation(`replication model: ${id} continues at ${b.from} with ${rt.log.length} entries`);
    rt.upstream!.state = 'online';
    rt.unsynced = false;
    this.synced(id, rt);
    this.propagate(id, rt, b.writes);
    this.sendAck(id, rt);
  }

  private onData(id: string, rt: NodeRt, b: { session: number; start: number; writes: string[] }): void {
    if (!this.mySession(rt, b.session) || rt.upstream!.state !== 'online') return;
    if (b.start > rt.log.length) {
      // A gap (lost message): the connection is broken; resume from what we have.
      this.send(id, rt.upstream!.primary, { t: 'close', session: b.session });
      this.linkBroken(id, rt);
      return;
    }
    const fresh = b.writes.slice(rt.log.length - b.start);
    if (fresh.length === 0) return;
    this.propagate(id, rt, fresh);
    this.sendAck(id, rt);
  }

  private onAck(id: string, rt: NodeRt, from: string, b: { session: number; offset: number }): void {
    const l = rt.links.get(from);
    if (!l || l.session !== b.session) return;
    l.online = true;
    if (b.offset > l.ackOffset) l.ackOffset = b.offset;
    if (rt.held.length === 0) return;
    const acked = rt.held.filter((w) => this.ackedReplicas(rt, w.offset) >= this.N);
    if (acked.length === 0) return;
    rt.held = rt.held.filter((w) => !acked.includes(w));
    // server.ts holdForAcks: acks that come after the write lease ran out do not count.
    const valid = this.writeLeaseValid(this.c.node(id), rt);
    for (const w of acked) this.reply(id, w.client, w.wid, w.attempt, valid ? 'OK' : 'NOREPLICAS-LATE', w.shard);
  }

  private onlineReplicas(rt: NodeRt): number {
    let k = 0;
    for (const l of rt.links.values()) if (l.online) k++;
    return k;
  }

  private ackedReplicas(rt: NodeRt, offset: number): number {
    let k = 0;
    for (const l of rt.links.values()) if (l.online && l.ackOffset >= offset) k++;
    return k;
  }

  // ------------------------------------------------------------------ message handlers

  private handle(n: SimNode, rt: NodeRt, from: string, b: Body): void {
    const id = n.id;
    const raft = n.raft!;
    switch (b.t) {
      case 'hb': {
        rt.lastHeard.set(from, this.now(id));
        const st = raft.status();
        const leading = st.role === 'leader';
        // cluster.ts mayGrantLease(): only unapplied entries that may change a role hold grants back.
        let logApplied = st.applied === st.lastIndex;
        if (!logApplied) {
          try {
            logApplied = !raft.inspectLog().entries(st.applied + 1, st.lastIndex + 1).some((e) => entryMayChangeRoles(e.type, e.data));
          } catch {
            logApplied = false;
          }
        }
        const mayGrant = leaderMayGrant({ raftLease: this.leaderLeaseValid(n, rt), requesterIsPrimary: this.stateOf(id)!.node(from)?.primary === null, logApplied });
        const now = this.now(id);
        // cluster.ts: the echo is a time on our monotonic clock only if this very incarnation sent it.
        const stream = { syncedWith: b.synced, echo: b.echo !== undefined && b.echoBoot === n.incarnation ? b.echo : -Infinity };
        const grant = leading && rt.failover.onHeartbeat(from, b.offset, now, mayGrant, b.dataless, stream);
        this.send(id, from, { t: 'hb-reply', seq: b.seq, grant, serve: leading && b.dataless && rt.failover.mayServe(from), at: now, boot: n.incarnation });
        return;
      }
      case 'hb-reply': {
        rt.lastHeard.set(from, this.now(id));
        const hb = rt.hb;
        if (!hb || hb.seq !== b.seq || this.now(id) - hb.sentAt >= this.timing.leaseMs) return;
        rt.hb = null;
        rt.hbEcho = { leader: from, at: b.at, boot: b.boot };
        if (b.grant) rt.lease.granted(hb.sent, this.timing.leaseMs);
        if (b.serve && rt.dataless) this.setDataless(id, rt, false);
        return;
      }
      case 'propose': {
        rt.lastHeard.set(from, this.now(id));
        const r = raft.propose(JSON.stringify(b.cmd));
        this.c.check(n);
        this.send(id, from, { t: 'propose-reply', req: b.req, ok: r.ok });
        return;
      }
      case 'propose-reply': {
        rt.lastHeard.set(from, this.now(id));
        const p = rt.pending.get(b.req);
        if (!p || !p.forward) return;
        if (!b.ok && p.acceptedTerm === p.forward.term) p.acceptedTerm = -1;
        p.forward = null;
        return;
      }
      case 'psync':
        this.onPsync(id, rt, from, b);
        return;
      case 'fullresync':
        this.onFullResync(id, rt, b);
        return;
      case 'continue':
        this.onContinue(id, rt, b);
        return;
      case 'psync-refused':
        if (this.mySession(rt, b.session)) this.linkBroken(id, rt);
        return;
      case 'data':
        this.onData(id, rt, b);
        return;
      case 'ack':
        this.onAck(id, rt, from, b);
        return;
      case 'close': {
        const l = rt.links.get(from);
        if (l && l.session === b.session) rt.links.delete(from);
        if (this.mySession(rt, b.session)) this.linkBroken(id, rt);
        return;
      }
      case 'write':
        this.onWrite(n, rt, from, b);
        return;
      case 'reply':
        return;
    }
  }

  /** A client's write: the router's checks, the write lease, min-replicas-ack (server.ts). */
  private onWrite(n: SimNode, rt: NodeRt, client: string, b: { wid: string; shard: number; attempt: number }): void {
    const id = n.id;
    const v = this.stateOf(id)!;
    const answer = (reply: string, owner?: string) => this.send(id, client, { t: 'reply', wid: b.wid, attempt: b.attempt, reply, ...(owner ? { owner } : {}) });
    if (!rt.ok) return answer('CLUSTERDOWN');
    const owner = v.owners[this.shardSlot[b.shard]!] ?? null;
    if (owner === null) return answer('CLUSTERDOWN');
    if (owner !== id) return answer('MOVED', owner);
    if (rt.amnesiac) return answer('DATA_LOST');
    if (!this.writeLeaseValid(n, rt)) return answer('LEASE_LOST');
    if (this.N > 0 && this.onlineReplicas(rt) < this.N) return answer('NOREPLICAS');
    if (rt.upstream) return answer('READONLY');
    this.propagate(id, rt, [b.wid]);
    const offset = rt.log.length;
    if (this.N === 0 || this.ackedReplicas(rt, offset) >= this.N) {
      this.reply(id, client, b.wid, b.attempt, 'OK', b.shard);
      return;
    }
    rt.held.push({ wid: b.wid, shard: b.shard, client, attempt: b.attempt, offset, deadline: this.now(id) + Math.max(1000, 2 * this.params.nodeTimeoutMs) });
  }

  private reply(id: string, client: string, wid: string, attempt: number, reply: string, shard?: number): void {
    if (reply === 'OK' && shard !== undefined) {
      this.acked[shard]!.push(wid);
      this.stats.acked++;
      this.c.trace(`ACK ${wid} by ${id}`);
    }
    this.send(id, client, { t: 'reply', wid, attempt, reply });
  }

  // ------------------------------------------------------------------ clients

  private clientTick(cl: SimClient): void {
    const timeoutTicks = Math.ceil((2 * Math.max(1000, 2 * this.params.nodeTimeoutMs)) / TICK_MS);
    if (cl.busy && this.c.time - cl.busy.sentAt > timeoutTicks) {
      this.refresh(cl, cl.busy.shard);
      cl.busy = null;
    }
    if (cl.busy || !this.rng.chance(this.params.writeRate)) return;
    const shard = this.rng.int(0, this.shardNodes.length - 1);
    const target = cl.belief[shard] ?? this.rng.pick(this.allIds);
    if (!this.c.nodes.get(target)?.raft) {
      this.refresh(cl, shard);
      return;
    }
    const wid = `s${shard}w${++this.stats.writes}`;
    cl.busy = { wid, shard, node: target, attempt: ++this.seq, sentAt: this.c.time };
    this.send(cl.id, target, { t: 'write', wid, shard, attempt: cl.busy.attempt });
  }

  private onClientReply(cl: SimClient, b: Body): void {
    if (b.t !== 'reply' || !cl.busy || cl.busy.attempt !== b.attempt) return;
    const shard = cl.busy.shard;
    cl.busy = null;
    if (b.reply === 'OK') return;
    this.stats.refused++;
    if (b.reply === 'MOVED' && b.owner) cl.belief[shard] = b.owner;
    else if (this.rng.chance(0.5)) this.refresh(cl, shard);
  }

  /** A cluster client refreshes its slot map from some node. */
  private refresh(cl: SimClient, shard: number): void {
    const up = this.allIds.filter((id) => this.c.nodes.get(id)?.raft);
    if (up.length === 0) return;
    const v = this.stateOf(this.rng.pick(up));
    cl.belief[shard] = v?.owners[this.shardSlot[shard]!] ?? this.rng.pick(this.allIds);
  }

  // ------------------------------------------------------------------ invariants

  /** Would `id` accept a write for `shard` now (a stalled node: the moment it resumes)? */
  writable(id: string, shard: number): boolean {
    const n = this.c.nodes.get(id);
    const rt = this.rtOf(id);
    if (!n || !rt) return false;
    const v = this.stateOf(id);
    if (!v || v.owners[this.shardSlot[shard]!] !== id || rt.amnesiac) return false;
    return this.writeLeaseValid(n, rt);
  }

  checkShards(): void {
    for (let s = 0; s < this.shardNodes.length; s++) {
      let writer: string | null = null;
      for (const id of this.allIds) {
        const rt = this.rtOf(id);
        if (!rt) continue;
        if (!this.writable(id, s)) {
          rt.verified[s] = -1;
          continue;
        }
        if (writer !== null) {
          throw new InvariantViolation(`two writable primaries for shard ${s}: ${this.describeWriter(writer)} and ${this.describeWriter(id)}`);
        }
        writer = id;
        if (this.N === 0) continue;
        const acked = this.acked[s]!;
        for (let i = Math.max(0, rt.verified[s]!); i < acked.length; i++) {
          if (!rt.has.has(acked[i]!)) {
            throw new InvariantViolation(`acknowledged write ${acked[i]} of shard ${s} lost: ${this.describeWriter(id)} accepts writes without it (offset ${rt.log.length})`);
          }
        }
        rt.verified[s] = acked.length;
      }
    }
  }

  private describeWriter(id: string): string {
    const n = this.c.node(id);
    const rt = this.rtOf(id)!;
    const st = n.raft!.status();
    const v = this.stateOf(id)!;
    const lease = st.role === 'leader' ? `raft lease ${st.leaseRemaining} ticks` : `lease ${JSON.stringify(rt.lease)}, clock ${this.now(id)} wall ${this.wall(id)}`;
    return `${id} (${this.c.paused.has(id) ? 'paused, ' : ''}${st.role} term ${st.term}, applied ${st.applied}, epoch ${v.node(id)?.configEpoch}, ${lease})`;
  }

  // ------------------------------------------------------------------ faults

  /** Nodes of `id`'s shard that are down or restarted without a resync yet, counting `id` as lost. */
  private crashAllowed(id: string): boolean {
    if (this.N === 0) return true;
    const s = this.shardOf.get(id)!;
    let damaged = 0;
    for (const x of this.shardNodes[s]!) {
      const rt = this.rtOf(x);
      if (x === id || !rt || rt.unsynced) damaged++;
    }
    return damaged <= this.N;
  }

  private crash(id: string, why: string): void {
    if (!this.c.nodes.get(id)?.raft || !this.crashAllowed(id)) return;
    this.c.trace(`CRASH ${id} (${why})`);
    this.stats.crashes++;
    this.held = this.held.filter((m) => m.to !== id);
    this.resumeAt.delete(id);
    this.c.crash(id);
    this.rts.delete(id);
    if (this.rng.chance(0.5)) this.c.restart(id);
  }

  /** Nodes that believe they are a primary. */
  private primaries(): string[] {
    return this.allIds.filter((id) => this.rtOf(id) && this.stateOf(id)?.node(id)?.primary === null);
  }

  faults(): void {
    const p = this.params;
    const rng = this.rng;
    const up = this.allIds.filter((id) => this.c.nodes.get(id)!.raft);
    if (rng.chance(p.crashRate) && up.length > 0) this.crash(rng.pick(up), 'random');
    if (rng.chance(p.primaryCrashRate)) {
      const ps = this.primaries();
      if (ps.length > 0) this.crash(rng.pick(ps), 'primary');
    }
    for (const id of this.allIds) {
      const n = this.c.node(id);
      if (!n.raft && rng.chance(p.restartRate)) this.c.restart(id);
    }
    if (rng.chance(p.partitionRate)) {
      const roll = rng.next();
      if (roll < 0.3) this.c.isolate(rng.pick(this.allIds));
      else if (roll < 0.55) this.c.split(this.allIds.filter(() => rng.chance(0.5)));
      else if (roll < 0.7) {
        const l = this.c.leader();
        if (l) this.c.isolate(l.id);
      } else {
        const a = rng.pick(this.allIds);
        const b = rng.pick(this.allIds);
        if (a !== b) {
          this.c.cutOneWay(a, b);
          if (rng.chance(0.5)) this.c.cutOneWay(b, a);
        }
      }
    }
    if (rng.chance(p.isolatePrimaryRate)) {
      const ps = this.primaries();
      if (ps.length > 0) {
        const id = rng.pick(ps);
        this.c.isolate(id);
        if (p.clockStepRate > 0 && rng.chance(0.3)) this.stepWallClock(id, -rng.int(1, 100) * TICK_MS);
      }
    }
    if (rng.chance(p.adoptRate)) this.adopt();
    if (rng.chance(p.healRate) && (this.c.group.size > 0 || this.c.cut.size > 0)) this.c.heal();
    if (rng.chance(p.pauseRate)) {
      const cands = up.filter((id) => !this.c.paused.has(id));
      if (cands.length > 0) {
        const id = rng.chance(0.5) && this.primaries().length > 0 ? rng.pick(this.primaries()) : rng.pick(cands);
        if (!this.c.paused.has(id) && this.c.nodes.get(id)!.raft) {
          this.c.pause(id);
          this.stats.pauses++;
          this.resumeAt.set(id, this.c.time + rng.int(1, p.pauseMaxTicks));
        }
      }
    }
    for (const [id, at] of [...this.resumeAt]) if (this.c.time >= at) this.resume(id);
    if (rng.chance(p.clockStepRate)) {
      // NTP steps a node's wall clock: nothing may depend on it but what users see and the lease's cap.
      // Half of the time a node that believes it is a primary (a step back would extend a lease read
      // on the wall clock).
      const ps = this.primaries();
      const id = rng.chance(0.5) && ps.length > 0 ? rng.pick(ps) : rng.pick(this.allIds);
      this.stepWallClock(id, (rng.chance(0.5) ? -1 : 1) * rng.int(1, 100) * TICK_MS);
    }
    if (rng.chance(p.compactRate) && up.length > 0) {
      const id = rng.pick(up);
      const n = this.c.node(id);
      if (n.raft && !this.c.paused.has(id) && n.app.applied - n.storage.firstIndex() >= 8) this.c.compact(id, n.app.applied);
    }
  }

  /**
   * CLUSTER REPLICATE of a replica of another shard to a primary, proposed at the leader; 60% of the time
   * that primary is cut off from every node first (its clients still reach it), so it keeps serving from
   * a configuration that lists fewer replicas (often none) while its shard can now fail over. Only with
   * N = 0: the crash budget of N >= 1 counts the founding shards.
   */
  private adopt(): void {
    const rng = this.rng;
    const l = this.c.leader();
    if (!l || this.c.paused.has(l.id)) return;
    const st = this.stateOf(l.id);
    if (!st) return;
    const ps = [...st.nodes.values()].filter((n) => n.primary === null && st.owners.includes(n.id));
    if (ps.length === 0) return;
    // Mostly a primary whose own configuration lists no replica.
    const lonely = ps.filter((n) => this.stateOf(n.id)?.replicasOf(n.id).length === 0);
    const target = rng.chance(0.7) && lonely.length > 0 ? rng.pick(lonely) : rng.pick(ps);
    const donors = [...st.nodes.values()].filter((n) => n.primary !== null && n.primary !== target.id);
    if (donors.length === 0) return;
    const donor = rng.pick(donors);
    const cut = target.id !== l.id && rng.chance(0.6);
    if (cut) this.c.isolate(target.id);
    const r = l.propose(JSON.stringify({ op: 'replicate', node: donor.id, primary: target.id }));
    this.c.check(this.c.node(l.id));
    if (!r.ok) return;
    this.stats.adoptions++;
    this.c.trace(`ADOPT ${donor.id} (replica of ${donor.primary}) -> replica of ${target.id}${cut ? ' (cut off)' : ''}`);
  }

  private stepWallClock(id: string, step: number): void {
    this.wallOffset.set(id, (this.wallOffset.get(id) ?? 0) + step);
    this.stats.clockSteps++;
    this.c.trace(`CLOCK STEP ${id} ${step > 0 ? '+' : ''}${step} ms (wall clock)`);
  }

  resume(id: string): void {
    this.resumeAt.delete(id);
    this.c.resume(id);
    this.release(id, this.rng.chance(this.params.ioFirstRate));
  }

  /** Liveness phase: everything heals, stalled nodes resume, crashed ones restart. */
  healAll(): void {
    this.c.heal();
    for (const id of [...this.c.paused]) this.resume(id);
    for (const id of this.allIds) if (!this.c.node(id).raft) this.c.restart(id);
    const net = this.c.net;
    this.c.net = { dropRate: 0, dupRate: 0, minDelay: 0, maxDelay: Math.min(net.maxDelay, 2), longDelayRate: 0, longDelayMax: 0, reorderRate: 0 };
  }

  /** Null when every shard has exactly one writable primary, the owner in the leader's configuration. */
  convergence(): string | null {
    const leaders = this.allIds.filter((id) => this.c.node(id).raft?.status().role === 'leader');
    const l = leaders.map((id) => this.c.node(id).raft!).sort((a, b) => b.status().term - a.status().term)[0];
    if (!l || !l.leaseValid()) return 'no leader with a valid lease';
    const st = this.stateOf(l.id)!;
    for (let s = 0; s < this.shardNodes.length; s++) {
      const w = this.allIds.filter((id) => this.writable(id, s));
      if (w.length !== 1) return `shard ${s}: ${w.length} writable primaries`;
      const owner = st.owners[this.shardSlot[s]!];
      if (w[0] !== owner) return `shard ${s}: ${w[0]} is writable, the leader's configuration says ${owner}`;
    }
    return null;
  }

  describeNodes(): string {
    return this.allIds
      .map((id) => {
        const n = this.c.node(id);
        if (!n.raft) return `${id}: down`;
        const s = n.raft.status();
        const rt = this.rtOf(id)!;
        const me = this.stateOf(id)?.node(id);
        const role = me ? (me.primary === null ? 'primary' : `replica of ${me.primary}`) : 'unknown';
        const link = rt.upstream ? ` link ${rt.upstream.primary} ${rt.upstream.state}` : '';
        return `${id}${this.c.paused.has(id) ? ' (paused)' : ''}: raft ${s.role} term ${s.term} leader ${s.leader ?? '-'} applied ${s.applied}; ${role}${me?.failed ? ' failed' : ''}; offset ${rt.log.length} ${rt.replId}${link}${rt.unsynced ? ' unsynced' : ''}`;
      })
      .join('\n  ');
  }
}

export function runFailoverSeed(seed: number, options: FailoverSimOptions = {}): FailoverSimResult {
  const params: FailoverSimParams = { ...failoverSimParams(seed), ...options.params };
  let phase: FailoverSimResult['phase'] = 'setup';
  let sim: FailoverSim | null = null;
  let maxTerm = 0;
  const result = (ok: boolean, error?: string): FailoverSimResult => {
    const c = sim?.c;
    return {
      seed,
      ok,
      ...(error !== undefined ? { error } : {}),
      phase,
      trace: c?.traceTail(options.fullTrace ? Number.MAX_SAFE_INTEGER : undefined) ?? [],
      params,
      stats: {
        ticks: c?.time ?? 0,
        nodes: c?.nodes.size ?? 0,
        ...(sim?.stats ?? { writes: 0, acked: 0, refused: 0, failovers: 0, crashes: 0, pauses: 0, fullSyncs: 0, partialSyncs: 0, clockSteps: 0, adoptions: 0 }),
        elections: c?.stats.elections ?? 0,
        maxTerm,
      },
    };
  };
  try {
    sim = new FailoverSim(seed, params, options);
    const s = sim;
    const c = s.c;
    c.trace(`seed ${seed} params ${JSON.stringify({ ...params, sim: undefined })} sim ${JSON.stringify(params.sim)}`);
    s.setup();
    const setupDeadline = 60 * params.sim.electionTimeout + 200;
    while (!s.setupDone()) {
      if (c.time > setupDeadline) return result(false, `setup: not done after ${setupDeadline} ticks\n  ${s.describeNodes()}`);
      s.step(false);
    }

    phase = 'safety';
    for (let t = 0; t < params.safetyTicks; t++) {
      s.step(true);
      for (const r of c.alive().values()) maxTerm = Math.max(maxTerm, r.status().term);
    }

    phase = 'liveness';
    s.healAll();
    let why: string | null = 'not started';
    const deadline = c.time + params.livenessTicks;
    while (c.time < deadline) {
      s.step(false);
      why = s.convergence();
      if (why === null) break;
    }
    for (const r of c.alive().values()) maxTerm = Math.max(maxTerm, r.status().term);
    if (why !== null) return result(false, `liveness: no convergence within ${params.livenessTicks} ticks: ${why}\n  ${s.describeNodes()}`);
    return result(true);
  } catch (e) {
    const err = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return result(false, sim ? `${err}\n  ${sim.describeNodes()}` : err);
  }
}
