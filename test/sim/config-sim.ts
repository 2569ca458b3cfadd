/**
 * The configuration VOPR: one seed -> one randomized run of the Raft module driving the cluster
 * configuration state machine (ConfigState) on every simulated node.
 *
 * Setup: 1, 3 or 5 founding voters are bootstrapped; a batch of `join` commands puts them in the node
 * table with the slots split between them.
 *
 * Safety phase (faults on): the network drops, duplicates, delays and reorders messages; partitions
 * come and go; nodes crash and restart from their disk (losing any Ready not yet persisted) or lose
 * their disk for good (a decommissioned node: it is then failed over / flushed and forgotten, and may
 * come back under a new id); nodes compact their logs (the ConfigState snapshot is the Raft snapshot
 * data) and lagging nodes install snapshots. New nodes join through `join` commands (as primaries
 * claiming slots, some of them already served so the join must be refused, as replicas, or at an
 * address already in use), and random admin commands are proposed at the leader. The leader runs
 * `planMembership` with liveness facts taken from the messages it received and proposes the change,
 * so learners get added and promoted, dead voters replaced and forgotten nodes removed.
 *
 * Checked after every step (see {@link ConfigOracle}): the Raft invariants of SafetyChecker (one leader
 * per term, log matching, committed entries never lost, ...), plus: every node that applied index i
 * holds the same configuration (fingerprint and version) as every other node that applied i, so a slot
 * has at most one owner per configuration index; the result of each command is the same on every node
 * and is what its proposer observed; each configuration keeps the structural invariants (slot owners
 * are known primaries, replicas own nothing and follow a known primary of their shard, slot states name
 * known nodes); a refused command changes nothing; a snapshot restores exactly the state it was taken
 * from; a membership change the leader plans never leaves a group that had a live quorum (by the
 * leader's liveness facts) without one. The configuration only changes when an entry is applied, so checking at apply time (and at
 * every snapshot restore) covers every step.
 *
 * Liveness phase: heal, restart every crashed node, stop faults and the workload; within a bounded
 * number of ticks a proposal must commit, every live member must have applied the same index with
 * the same fingerprint, the planner must have nothing left to do, every live known node must be a
 * member, every voter live, and the voter count equal to targetVoters(live known nodes).
 *
 * `runConfigSeed(seed)` never throws: it returns the failure with its seed and a trace tail.
 */
import {
  ConfigState,
  SLOTS,
  type ApplyResult,
  type ConfigCommand,
  type ConfigSnapshot,
  type NodeRecord,
  type SlotRanges,
} from '../../cluster-node/src/cluster/config-state';
import { planMembership, targetVoters, type PeerFacts } from '../../cluster-node/src/cluster/membership';
import {
  applyConfChange,
  decodeConfChange,
  quorumSize,
  type ConfChange,
  type ConfState,
  type Entry,
  type RaftNode,
} from '../../cluster-node/src/raft';
import { InvariantViolation, entryKey } from './invariants';
import { Prng, fnv1a } from './prng';
import { injectFaults } from './raft-vopr';
import { SimCluster, type MachineOrigin, type NetworkOptions, type SimMachine, type SimNode, type SimOptions } from './sim-cluster';

// ---------------------------------------------------------------------------------------------------
// Parameters

export interface ConfigSimParams {
  founders: number;
  /** At most this many nodes running at once (joins wait below it). */
  maxLive: number;
  safetyTicks: number;
  livenessTicks: number;
  crashRate: number;
  leaderCrashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
  /** Per tick: a new node starts and asks to join. */
  joinRate: number;
  /** Per tick: an admin command is proposed. */
  adminRate: number;
  /** Per tick: a node stops for good (loses its disk); it is then removed from the configuration. */
  decommissionRate: number;
  /** Of decommissioned nodes, the share that comes back under a new id. */
  rebirthRate: number;
  /** Per tick: some node compacts its log at its applied index. */
  compactRate: number;
  /** The leader runs the membership planner every this many ticks. */
  planEvery: number;
  /**
   * Of the nodes lost for good, the share lost while another voter turns slow: its messages to the
   * leader are cut from that moment for 2-4 election timeouts (see loseNode).
   */
  slowVoterRate: number;
  sim: SimOptions;
}

export interface ConfigSimResult {
  seed: number;
  ok: boolean;
  error?: string;
  phase: 'setup' | 'safety' | 'liveness';
  trace: string[];
  params: ConfigSimParams;
  stats: ConfigSimStats;
}

export interface ConfigSimStats {
  ticks: number;
  delivered: number;
  dropped: number;
  elections: number;
  snapshotsInstalled: number;
  committed: number;
  /** Configuration commands applied (first application of each index). */
  commands: number;
  refused: number;
  /** Proposals whose result the proposer observed. */
  observed: number;
  joins: number;
  joinsRefused: number;
  forgets: number;
  confChanges: number;
  restarts: number;
  compactions: number;
  decommissioned: number;
  slowVoters: number;
  maxTerm: number;
  nodes: number;
}

export interface ConfigSimOptions {
  fullTrace?: boolean;
  raftDebug?: boolean;
  params?: Partial<ConfigSimParams>;
}

/** Derive every parameter of a run from its seed. */
export function configSimParams(seed: number): ConfigSimParams {
  const p = new Prng(seed ^ 0x2c1b3c6d);
  const electionTimeout = p.int(6, 12);
  const net: NetworkOptions = {
    dropRate: p.pick([0, 0.01, 0.05, 0.1]),
    dupRate: p.pick([0, 0.02, 0.1]),
    minDelay: 0,
    maxDelay: p.int(0, 2),
    longDelayRate: p.pick([0, 0.02, 0.05]),
    longDelayMax: p.int(Math.floor(electionTimeout / 2), 2 * electionTimeout),
    reorderRate: p.pick([0, 0.05, 0.2]),
  };
  const storm = p.chance(0.35);
  return {
    founders: p.pick([1, 1, 3, 3, 3, 5]),
    maxLive: p.int(4, 8),
    safetyTicks: p.int(250, 500),
    livenessTicks: 40 * electionTimeout + 300,
    crashRate: storm ? p.pick([0.01, 0.03]) : p.pick([0, 0.005, 0.01]),
    leaderCrashRate: storm ? p.pick([0.01, 0.02]) : p.pick([0, 0, 0.005]),
    restartRate: storm ? p.pick([0.1, 0.3]) : p.pick([0.02, 0.1]),
    partitionRate: storm ? p.pick([0.03, 0.08]) : p.pick([0, 0.005, 0.02]),
    healRate: storm ? p.pick([0.1, 0.3]) : p.pick([0.02, 0.1]),
    joinRate: p.pick([0.01, 0.02, 0.04]),
    adminRate: p.pick([0.05, 0.15, 0.3]),
    decommissionRate: p.pick([0, 0.003, 0.006, 0.01]),
    rebirthRate: p.pick([0.5, 1]),
    compactRate: p.pick([0, 0.01, 0.04]),
    planEvery: p.pick([1, 2, 5]),
    sim: {
      electionTimeout,
      heartbeatTimeout: p.int(1, Math.max(1, Math.floor(electionTimeout / 3))),
      net,
      fastDiskRate: p.pick([1, 0.8, 0.4]),
      maxEntriesPerMessage: p.pick([1, 4, 64]),
      jsonWire: p.chance(0.2),
    },
    slowVoterRate: p.pick([0, 0.5, 1]),
  };
}

// ---------------------------------------------------------------------------------------------------
// The oracle: canonical configuration per log index

interface IndexRecord {
  readonly term: number;
  readonly key: string;
  /** Fingerprint of the configuration after applying this index. */
  readonly fp: string;
  /** Hash of {@link deepState} after applying this index. */
  readonly deep: number;
  readonly version: number;
  /** JSON of the ApplyResult (normal entries only). */
  readonly result: string | null;
  readonly firstBy: string;
}

/**
 * Applies every committed entry once, in log order, to a reference ConfigState (the first time any node
 * applies an index), records the configuration after it, and compares every node's state and result
 * with that record.
 */
export class ConfigOracle {
  readonly ref = new ConfigState();
  /** Committed Raft membership as of `refIndex` (conf entries applied in log order). */
  refConf: ConfState = { voters: [], learners: [] };
  refIndex = 0;
  private refFp: string;
  private refDeep: number;
  private readonly byIndex = new Map<number, IndexRecord>();
  commands = 0;
  refused = 0;
  readonly opCounts = new Map<string, { ok: number; err: number }>();
  /** Nodes the reference configuration ever knew. */
  readonly everKnown = new Set<string>();
  /** Called after each first application (for the simulation's bookkeeping). */
  onFirstApply: ((e: Entry, cmd: ConfigCommand | null, result: ApplyResult | null) => void) | null = null;

  constructor() {
    this.refFp = this.ref.fingerprint();
    this.refDeep = fnv1a(deepState(this.ref));
    this.byIndex.set(0, { term: 0, key: '', fp: this.refFp, deep: this.refDeep, version: 0, result: null, firstBy: '-' });
  }

  fingerprintAt(index: number): string | undefined {
    return this.byIndex.get(index)?.fp;
  }

  resultAt(index: number): string | null | undefined {
    return this.byIndex.get(index)?.result;
  }

  /** Node `id` applied `e`, and its state is now `state` (fingerprint `fp`); `result` for normal entries. */
  check(id: string, e: Entry, state: ConfigState, fp: string, result: ApplyResult | null): void {
    let rec = this.byIndex.get(e.index);
    if (rec === undefined) rec = this.first(id, e);
    if (rec.term !== e.term || rec.key !== entryKey(e)) {
      throw new InvariantViolation(`config: ${id} applied a different entry at ${e.index} than ${rec.firstBy}`);
    }
    if (fp !== rec.fp) {
      throw new InvariantViolation(
        `config: ${id} diverges from ${rec.firstBy} after applying ${e.index} (${describeEntry(e)}): ${fpDiff(rec.fp, fp)}`,
      );
    }
    if (state.version !== rec.version) {
      throw new InvariantViolation(`config: ${id} has version ${state.version} at ${e.index}, ${rec.firstBy} had ${rec.version}`);
    }
    const res = result === null ? null : JSON.stringify(result);
    if (res !== rec.result) {
      throw new InvariantViolation(`config: ${id} computed ${res} for ${e.index} (${describeEntry(e)}), ${rec.firstBy} computed ${rec.result}`);
    }
  }

  /** Node `id` restored a configuration as of `index` (from its disk or a received snapshot). */
  checkRestore(id: string, index: number, state: ConfigState, fp: string, why: string): void {
    const rec = this.byIndex.get(index);
    if (rec === undefined) throw new InvariantViolation(`config: ${id} restored (${why}) a snapshot at ${index} nobody applied`);
    if (fp !== rec.fp) {
      throw new InvariantViolation(`config: ${id} restored (${why}) a snapshot at ${index} that diverges: ${fpDiff(rec.fp, fp)}`);
    }
    if (state.version !== rec.version) {
      throw new InvariantViolation(`config: ${id} restored version ${state.version} at ${index}, expected ${rec.version}`);
    }
    if (fnv1a(deepState(state)) !== rec.deep) {
      throw new InvariantViolation(`config: ${id} restored (${why}) a snapshot at ${index} that differs in a field the fingerprint does not cover`);
    }
  }

  private first(id: string, e: Entry): IndexRecord {
    if (e.index !== this.refIndex + 1) {
      throw new InvariantViolation(`config: ${id} is the first to apply ${e.index} but the reference is at ${this.refIndex}`);
    }
    let result: ApplyResult | null = null;
    let cmd: ConfigCommand | null = null;
    if (e.type === 'normal') {
      cmd = JSON.parse(e.data) as ConfigCommand;
      result = this.ref.apply(cmd);
      this.commands++;
      const c = this.opCounts.get(cmd.op) ?? { ok: 0, err: 0 };
      this.opCounts.set(cmd.op, c);
      if (result.ok) {
        c.ok++;
        this.refFp = this.ref.fingerprint();
        this.refDeep = fnv1a(deepState(this.ref));
        checkStructure(this.ref, `after ${e.index} (${describeEntry(e)})`);
        for (const n of this.ref.nodes.keys()) this.everKnown.add(n);
      } else {
        c.err++;
        this.refused++;
        const after = this.ref.fingerprint();
        if (after !== this.refFp) {
          throw new InvariantViolation(
            `config: refused command changed the configuration at ${e.index} (${describeEntry(e)} -> ${result.error}): ${fpDiff(this.refFp, after)}`,
          );
        }
      }
    } else if (e.type === 'conf') {
      this.refConf = applyConfChange(this.refConf, decodeConfChange(e));
    }
    this.refIndex = e.index;
    const rec: IndexRecord = {
      term: e.term,
      key: entryKey(e),
      fp: this.refFp,
      deep: this.refDeep,
      version: this.ref.version,
      result: result === null ? null : JSON.stringify(result),
      firstBy: id,
    };
    this.byIndex.set(e.index, rec);
    this.onFirstApply?.(e, cmd, result);
    return rec;
  }
}

/**
 * The invariants every configuration keeps (config-state.ts header): a slot has at most one owner (by
 * construction: one owner per slot) which is a known primary; a replica owns no slots and replicates a
 * known primary whose shard it shares; migrating/importing states name known nodes, the migrating node
 * owns the slot and the importing node is a primary; no node's config epoch exceeds the current epoch.
 */
export function checkStructure(st: ConfigState, where: string): void {
  const fail = (what: string): never => {
    throw new InvariantViolation(`config structure ${where}: ${what}`);
  };
  let last: string | null = null;
  for (let s = 0; s < SLOTS; s++) {
    const o = st.owners[s];
    if (o === null || o === undefined || o === last) continue;
    const n = st.nodes.get(o);
    if (!n) fail(`slot ${s} is owned by unknown node ${o}`);
    else if (n.primary !== null) fail(`slot ${s} is owned by ${o}, a replica of ${n.primary}`);
    last = o;
  }
  for (const n of st.nodes.values()) {
    if (n.configEpoch > st.currentEpoch) fail(`${n.id} has config epoch ${n.configEpoch} > current epoch ${st.currentEpoch}`);
    if (n.primary === null) continue;
    const p = st.nodes.get(n.primary);
    if (!p) fail(`${n.id} replicates unknown node ${n.primary}`);
    else if (p.primary !== null) fail(`${n.id} replicates ${p.id}, itself a replica`);
    else if (p.shardId !== n.shardId) fail(`replica ${n.id} is in shard ${n.shardId}, its primary ${p.id} in ${p.shardId}`);
  }
  for (const [slot, ss] of st.slotStates) {
    if (!ss.migrating && !ss.importing) fail(`slot ${slot} has an empty state entry`);
    if (ss.migrating) {
      if (!st.nodes.has(ss.migrating.by) || !st.nodes.has(ss.migrating.to)) {
        fail(`slot ${slot} migrating ${JSON.stringify(ss.migrating)} names an unknown node`);
      }
      if (st.owners[slot] !== ss.migrating.by) fail(`slot ${slot} is migrating by ${ss.migrating.by} but owned by ${st.owners[slot]}`);
    }
    if (ss.importing) {
      if (!st.nodes.has(ss.importing.by) || !st.nodes.has(ss.importing.from)) {
        fail(`slot ${slot} importing ${JSON.stringify(ss.importing)} names an unknown node`);
      }
      if (!st.isPrimary(ss.importing.by)) fail(`slot ${slot} is importing by ${ss.importing.by}, not a primary`);
    }
  }
}

/**
 * Every field of a ConfigState (found generically, so a field added later is covered too), in a
 * canonical form, except `version`: unlike `fingerprint()`, which is built from `toSnapshot()`, this
 * sees a field that the snapshot forgets.
 */
export function deepState(st: ConfigState): string {
  const norm = (v: unknown): unknown => {
    if (v instanceof Map) return [...v.entries()].map(([k, x]) => [k, norm(x)] as [unknown, unknown]).sort((a, b) => cmp(String(a[0]), String(b[0])));
    if (v instanceof Set) return [...v].map((x) => JSON.stringify(norm(x))).sort();
    if (Array.isArray(v)) {
      // Runs of equal primitives are run-length encoded (the owner table: 16384 entries, long runs).
      const out: [unknown, number][] = [];
      let prev: unknown;
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        const primitive = x === null || typeof x !== 'object';
        if (i > 0 && primitive && x === prev) out[out.length - 1]![1]++;
        else out.push([primitive ? (x === undefined ? 'undefined' : x) : norm(x), 1]);
        prev = primitive ? x : {};
      }
      return out;
    }
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => [k, norm(o[k])]);
    }
    return v;
  };
  const fields = Object.keys(st)
    .filter((k) => k !== 'version')
    .sort()
    .map((k) => [k, norm((st as unknown as Record<string, unknown>)[k])]);
  return JSON.stringify(fields);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeEntry(e: Entry): string {
  if (e.type !== 'normal') return `${e.type} ${e.data}`;
  return e.data.length > 160 ? `${e.data.slice(0, 160)}…` : e.data;
}

function fpDiff(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 60);
  return `expected …${a.slice(from, i + 60)}… got …${b.slice(from, i + 60)}…`;
}

// ---------------------------------------------------------------------------------------------------
// One node's configuration machine

class ConfigMachine implements SimMachine {
  readonly state: ConfigState;
  applied: number;
  fp: string;

  constructor(
    private readonly sim: ConfigSim,
    private readonly node: SimNode,
    from: MachineOrigin | null,
    why: 'start' | 'install',
  ) {
    if (from === null) {
      this.state = new ConfigState();
      this.applied = 0;
    } else {
      // Through JSON, as a snapshot on disk or on the wire would be.
      this.state = ConfigState.fromSnapshot(JSON.parse(JSON.stringify(from.state)) as ConfigSnapshot);
      this.applied = from.index;
    }
    this.fp = this.state.fingerprint();
    sim.oracle.checkRestore(node.id, this.applied, this.state, this.fp, why);
  }

  apply(e: Entry): void {
    if (e.index !== this.applied + 1) {
      throw new InvariantViolation(`config: ${this.node.id} applied ${e.index} after ${this.applied}`);
    }
    this.applied = e.index;
    let result: ApplyResult | null = null;
    if (e.type === 'normal') {
      const cmd = JSON.parse(e.data) as ConfigCommand;
      const version = this.state.version;
      result = this.state.apply(cmd);
      // A refused command leaves the state as it was (the oracle checks that on its reference copy).
      if (this.state.version !== version) this.fp = this.state.fingerprint();
    }
    this.sim.oracle.check(this.node.id, e, this.state, this.fp, result);
    if (result !== null) this.sim.clients.onApplied(this.node, e, result);
  }

  snapshot(): unknown {
    const snap = this.state.toSnapshot();
    const back = ConfigState.fromSnapshot(JSON.parse(JSON.stringify(snap)) as ConfigSnapshot);
    if (back.fingerprint() !== this.fp || back.version !== this.state.version || deepState(back) !== deepState(this.state)) {
      throw new InvariantViolation(`config: ${this.node.id}'s snapshot at ${this.applied} does not restore its state`);
    }
    return snap;
  }
}

// ---------------------------------------------------------------------------------------------------
// Clients: proposals at the leader and the results their proposers observe

type Purpose =
  | { kind: 'admin' }
  | { kind: 'founders' }
  | { kind: 'join'; nodeId: string; tries: number }
  | { kind: 'decommission'; nodeId: string }
  | { kind: 'marker' };

interface Request {
  req: string;
  cmd: ConfigCommand;
  purpose: Purpose;
  /** Retry on loss (joins, founders, markers); admin commands are fire-and-observe. */
  retry: boolean;
  attempts: number;
  done: boolean;
}

interface Attempt {
  request: Request;
  node: string;
  incarnation: number;
  index: number;
  term: number;
  at: number;
}

class Clients {
  private readonly attempts = new Map<string, Attempt>();
  private readonly waiting: Request[] = [];
  private seq = 0;
  observed = 0;
  onResult: ((r: Request, result: ApplyResult) => void) | null = null;

  constructor(private readonly sim: ConfigSim) {}

  /** Submit `cmd` (with a fresh req id) to the current leader now, or as soon as there is one. */
  submit(cmd: ConfigCommand, purpose: Purpose, retry: boolean): Request {
    const r: Request = { req: `r${++this.seq}`, cmd, purpose, retry, attempts: 0, done: false };
    r.cmd = { ...cmd, req: r.req } as ConfigCommand;
    if (!this.tryPropose(r) && retry) this.waiting.push(r);
    return r;
  }

  private tryPropose(r: Request): boolean {
    const c = this.sim.c;
    const l = c.leader();
    if (!l) return false;
    const res = l.propose(JSON.stringify(r.cmd));
    c.check(c.node(l.id));
    if (!res.ok) return false;
    r.attempts++;
    const n = c.node(l.id);
    const key = `${l.id}@${res.index}`;
    const old = this.attempts.get(key);
    this.attempts.set(key, {
      request: r,
      node: l.id,
      incarnation: n.incarnation,
      index: res.index,
      term: res.term,
      at: c.time,
    });
    c.trace(`PROPOSE ${r.req} ${r.cmd.op} via ${l.id} @${res.index}`);
    // The same node, leader again, reused the index: the entry it proposed there before was truncated.
    if (old) this.lost(old, `index ${res.index} reused`);
    return true;
  }

  /** A node applied a normal entry: resolve the attempt made through that node at that index, if any. */
  onApplied(node: SimNode, e: Entry, result: ApplyResult): void {
    const k = `${node.id}@${e.index}`;
    const a = this.attempts.get(k);
    if (!a) return;
    this.attempts.delete(k);
    if (a.incarnation !== node.incarnation) return this.lost(a, 'proposer restarted');
    if (e.term !== a.term) return this.lost(a, `index ${e.index} holds a term ${e.term} entry`);
    const cmd = JSON.parse(e.data) as ConfigCommand;
    if (cmd.req !== a.request.req) {
      throw new InvariantViolation(`client: entry ${e.index}@${e.term} is ${cmd.req}, proposed as ${a.request.req}`);
    }
    const canonical = this.sim.oracle.resultAt(e.index);
    if (canonical !== JSON.stringify(result)) {
      throw new InvariantViolation(`client: ${a.request.req} observed ${JSON.stringify(result)}, nodes computed ${canonical}`);
    }
    this.observed++;
    if (a.request.done) return; // an earlier attempt already answered (duplicate in the log)
    a.request.done = true;
    this.sim.c.trace(`RESULT ${a.request.req} ${a.request.cmd.op} @${e.index}: ${result.ok ? (result.value ?? 'OK') : result.error}`);
    this.onResult?.(a.request, result);
  }

  /** Per tick: drop attempts whose node went down or restarted or that timed out; resubmit waiting requests. */
  tick(): void {
    const c = this.sim.c;
    for (const [k, a] of this.attempts) {
      const n = c.node(a.node);
      const m = n.machine as ConfigMachine | null;
      let why: string | null = null;
      if (!n.raft || n.incarnation !== a.incarnation) why = 'proposer down';
      else if (m && m.applied >= a.index) why = 'applied through a snapshot';
      else if (c.time - a.at > 40 * c.opts.electionTimeout) why = 'timeout';
      if (why !== null) {
        this.attempts.delete(k);
        this.lost(a, why);
      }
    }
    if (this.waiting.length > 0) {
      const w = this.waiting.splice(0);
      for (const r of w) if (!r.done && !this.tryPropose(r)) this.waiting.push(r);
    }
  }

  private lost(a: Attempt, why: string): void {
    const r = a.request;
    if (r.done || !r.retry) return;
    for (const other of this.attempts.values()) if (other.request === r) return; // another attempt pending
    this.sim.c.trace(`LOST ${r.req} @${a.index} (${why}); retrying`);
    if (!this.tryPropose(r)) this.waiting.push(r);
  }

  /** Forget every pending attempt and waiting request except those `keep` accepts. */
  clear(keep: (r: Request) => boolean = () => false): void {
    for (const [k, a] of this.attempts) if (!keep(a.request)) this.attempts.delete(k);
    const w = this.waiting.splice(0).filter(keep);
    this.waiting.push(...w);
  }
}

// ---------------------------------------------------------------------------------------------------
// The simulation

interface NodeInfo {
  id: string;
  ip: string;
  port: number;
  /** Stopped for good by the simulation (disk lost); it must be removed from the configuration. */
  decommissioned: boolean;
  /** Gave up joining (refused). */
  gaveUp: boolean;
}

class ConfigSim {
  readonly c: SimCluster;
  readonly rng: Prng;
  readonly oracle = new ConfigOracle();
  readonly clients: Clients;
  readonly info = new Map<string, NodeInfo>();
  /** Last time node `to` received a message from `from`, keyed `to<from`. */
  private readonly heard = new Map<string, number>();
  private readonly leaderSince = new Map<string, { term: number; since: number }>();
  private nextId = 1;
  /** When the workload last proposed forgetting a running node. */
  private lastRunningForget = -Infinity;
  /** No new faults before this time (see maybeDecommission). */
  quietUntil = 0;
  /** When the node chosen to be lost for good stops (phase 2 of maybeDecommission). */
  private lossAt: number | null = null;
  /** The network options in force before a quiet period. */
  private savedNet: NetworkOptions | null = null;
  private nextIp = 1;
  stats = { joins: 0, joinsRefused: 0, forgets: 0, confChanges: 0, restarts: 0, compactions: 0, decommissioned: 0, slowVoters: 0 };
  /** A voter made slow at a loss (its link to the leader cut) and when the cut ends. */
  private slowVoter: { from: string; to: string; until: number } | null = null;
  /** A node to lose for good a few ticks after a voter was made slow. */
  private deferredLoss: { id: string; at: number } | null = null;

  constructor(
    readonly seed: number,
    readonly params: ConfigSimParams,
    options: ConfigSimOptions,
  ) {
    this.c = new SimCluster(seed, {
      ...params.sim,
      fullTrace: options.fullTrace,
      raftDebug: options.raftDebug,
      machine: (node, from, why) => {
        if (why === 'start' && node.incarnation > 1) this.stats.restarts++;
        return new ConfigMachine(this, node, from, why);
      },
    });
    this.rng = this.c.rng.fork();
    this.clients = new Clients(this);
    this.c.tap = (m) => this.heard.set(`${m.to}<${m.from}`, this.c.time);
    this.clients.onResult = (r, res) => this.onResult(r, res);
    this.oracle.onFirstApply = (e, cmd, res) => {
      if (!cmd || !res) return;
      if (cmd.op === 'join') {
        if (res.ok) this.stats.joins++;
        else this.stats.joinsRefused++;
      } else if (cmd.op === 'forget' && res.ok) this.stats.forgets++;
    };
  }

  // ------------------------------------------------------------------ nodes

  private newInfo(): NodeInfo {
    const id = `n${this.nextId++}`;
    const info: NodeInfo = { id, ip: `10.0.${this.nextIp >> 8}.${this.nextIp & 255}`, port: 7000, decommissioned: false, gaveUp: false };
    this.nextIp++;
    this.info.set(id, info);
    return info;
  }

  private record(info: NodeInfo, primary: NodeRecord | null, shardId?: string): NodeRecord {
    return {
      id: info.id,
      ip: info.ip,
      port: info.port,
      cport: info.port + 10000,
      hostname: '',
      primary: primary?.id ?? null,
      shardId: primary?.shardId ?? shardId ?? this.hex40(),
      configEpoch: 0,
      failed: false,
      nofailover: false,
    };
  }

  private hex40(): string {
    let s = '';
    while (s.length < 40) s += this.rng.nextU32().toString(16).padStart(8, '0');
    return s.slice(0, 40);
  }

  setup(): void {
    const founders = Array.from({ length: this.params.founders }, () => this.newInfo());
    this.c.bootstrap(founders.map((f) => f.id));
    // The founders' records and the slots split between them, in one batch.
    const per = Math.floor(SLOTS / founders.length);
    const cmds: ConfigCommand[] = founders.map((f, i) => {
      const hi = i === founders.length - 1 ? SLOTS - 1 : (i + 1) * per - 1;
      return { op: 'join', node: this.record(f, null), slots: [[i * per, hi]] };
    });
    this.clients.submit({ op: 'batch', cmds }, { kind: 'founders' }, true);
  }

  live(): SimNode[] {
    return [...this.c.nodes.values()].filter((n) => n.raft !== null);
  }

  machineOf(id: string): ConfigMachine | null {
    return (this.c.node(id).machine as ConfigMachine | null) ?? null;
  }

  /** The leader and its applied configuration, if there is a leader. */
  leaderView(): { l: RaftNode; st: ConfigState } | null {
    const l = this.c.leader();
    if (!l) return null;
    const m = this.machineOf(l.id);
    return m ? { l, st: m.state } : null;
  }

  // ------------------------------------------------------------------ workload

  /** A new node starts with an empty disk and asks to join (through the leader). */
  maybeJoin(): void {
    if (!this.rng.chance(this.params.joinRate)) return;
    const running = [...this.c.nodes.values()].filter((n) => !n.retired).length;
    if (running >= this.params.maxLive) return;
    const v = this.leaderView();
    if (!v || v.st.nodes.size === 0) return;
    const info = this.newInfo();
    this.c.addEmptyNode(info.id);
    this.c.trace(`NEW node ${info.id} at ${info.ip}:${info.port}`);
    this.clients.submit(this.joinCommand(info, v.st, 0), { kind: 'join', nodeId: info.id, tries: 0 }, true);
  }

  private joinCommand(info: NodeInfo, st: ConfigState, tries: number): ConfigCommand {
    const rng = this.rng;
    const primaries = [...st.nodes.values()].filter((n) => n.primary === null);
    const roll = tries > 0 ? 0.99 : rng.next();
    if (roll < 0.3) {
      // A primary claiming slots: unassigned ones, or (conflict) already served ones.
      return { op: 'join', node: this.record(info, null), slots: this.randomRanges(st, rng.chance(0.5) ? 'free' : 'any') };
    }
    if (roll < 0.6 && primaries.length > 0) {
      const p = rng.pick(primaries);
      // A replica; now and then one that also (wrongly) claims slots or names a wrong shard.
      const slots: SlotRanges = rng.chance(0.05) ? this.randomRanges(st, 'free') : [];
      const shard = rng.chance(0.05) ? this.hex40() : undefined;
      const rec = this.record(info, p);
      return { op: 'join', node: shard ? { ...rec, shardId: shard } : rec, slots };
    }
    if (roll < 0.65 && st.nodes.size > 0) {
      // At an address another node already uses: refused.
      const other = rng.pick([...st.nodes.values()]);
      return { op: 'join', node: { ...this.record(info, null), ip: other.ip, port: other.port }, slots: [] };
    }
    if (roll < 0.68) {
      // A replica of a node that is unknown or a replica: refused.
      const target = rng.chance(0.5) ? `n${this.nextId + 50}` : (rng.pick([...st.nodes.keys()]) ?? 'x');
      return { op: 'join', node: { ...this.record(info, null), primary: target }, slots: [] };
    }
    return { op: 'join', node: this.record(info, null), slots: [] };
  }

  private onResult(r: Request, res: ApplyResult): void {
    const p = r.purpose;
    if (p.kind === 'join' && !res.ok) {
      const info = this.info.get(p.nodeId)!;
      const n = this.c.node(p.nodeId);
      if (n.retired) return;
      if (p.tries < 2) {
        const v = this.leaderView();
        const st = v?.st ?? this.oracle.ref;
        this.clients.submit(this.joinCommand(info, st, p.tries + 1), { kind: 'join', nodeId: p.nodeId, tries: p.tries + 1 }, true);
      } else {
        info.gaveUp = true;
        this.c.trace(`GIVE UP joining: ${p.nodeId}`);
        this.c.retire(p.nodeId, true);
      }
    }
  }

  /** Random slot ranges: 'free' ones mostly unassigned in `st`, 'any' anywhere; now and then invalid ones. */
  private randomRanges(st: ConfigState, kind: 'free' | 'any'): SlotRanges {
    const rng = this.rng;
    if (rng.chance(0.03)) return rng.pick<SlotRanges>([[[100, 50]], [[SLOTS, SLOTS]], [[-1, 3]], [[5, 5], [5, 5]]]);
    const out: SlotRanges = [];
    const count = rng.int(1, 3);
    for (let i = 0; i < count; i++) {
      let a = rng.int(0, SLOTS - 1);
      if (kind === 'free') {
        for (let k = 0; k < 64 && st.owners[a] !== null; k++) a = rng.int(0, SLOTS - 1);
      }
      const len = rng.pick([1, 1, 3, 20, 200]);
      let b = Math.min(SLOTS - 1, a + len - 1);
      if (kind === 'free') for (let s = a; s <= b; s++) if (st.owners[s] !== null) b = Math.max(a, s - 1);
      out.push([a, b]);
    }
    return out;
  }

  maybeAdmin(): void {
    if (!this.rng.chance(this.params.adminRate)) return;
    const v = this.leaderView();
    if (!v || v.st.nodes.size === 0) return;
    const cmd = this.rng.chance(0.12) ? this.batchCommand(v.st, v.l) : this.adminCommand(v.st, v.l);
    this.clients.submit(cmd, { kind: 'admin' }, false);
  }

  private batchCommand(st: ConfigState, l: RaftNode): ConfigCommand {
    const rng = this.rng;
    if (rng.chance(0.4)) return this.migration(st);
    const cmds: ConfigCommand[] = [];
    const n = rng.int(1, 4);
    for (let i = 0; i < n; i++) cmds.push(rng.chance(0.05) ? { op: 'batch', cmds: [this.adminCommand(st, l)] } : this.adminCommand(st, l));
    return { op: 'batch', cmds };
  }

  /** A slot migration as redis-cli performs it: IMPORTING at the target, MIGRATING at the source, then NODE. */
  private migration(st: ConfigState): ConfigCommand {
    const rng = this.rng;
    const slot = rng.int(0, SLOTS - 1);
    const from = st.owners[slot] ?? this.anyNode(st);
    const to = this.primary(st);
    const cmds: ConfigCommand[] = [
      { op: 'set-slot-importing', node: to, slot, from },
      { op: 'set-slot-migrating', node: from, slot, to },
    ];
    if (rng.chance(0.8)) cmds.push({ op: 'set-slot-node', slot, to, by: from });
    if (rng.chance(0.5)) return { op: 'batch', cmds };
    // Or one command at a time (each its own entry; others may interleave).
    for (const cm of cmds.slice(0, -1)) this.clients.submit(cm, { kind: 'admin' }, false);
    return cmds[cmds.length - 1]!;
  }

  private anyNode(st: ConfigState): string {
    const rng = this.rng;
    if (rng.chance(0.05) || st.nodes.size === 0) return rng.pick([...this.info.keys(), 'nobody']);
    return rng.pick([...st.nodes.keys()]);
  }

  private primary(st: ConfigState): string {
    const ps = [...st.nodes.values()].filter((n) => n.primary === null);
    if (ps.length === 0 || this.rng.chance(0.08)) return this.anyNode(st);
    return this.rng.pick(ps).id;
  }

  private slotWithState(st: ConfigState): number {
    if (st.slotStates.size > 0 && this.rng.chance(0.7)) return this.rng.pick([...st.slotStates.keys()]);
    return this.rng.int(0, SLOTS - 1);
  }

  private adminCommand(st: ConfigState, l: RaftNode): ConfigCommand {
    const rng = this.rng;
    const roll = rng.int(0, 99);
    if (roll < 10) return { op: 'add-slots', node: this.primary(st), slots: this.randomRanges(st, rng.chance(0.7) ? 'free' : 'any') };
    if (roll < 16) return { op: 'del-slots', slots: this.randomRanges(st, 'any') };
    if (roll < 18) return { op: 'flush-slots', node: this.anyNode(st) };
    if (roll < 28) {
      const slot = rng.chance(0.9) ? rng.int(0, SLOTS - 1) : rng.pick([-1, SLOTS]);
      const owner = st.owners[slot] ?? null;
      return { op: 'set-slot-migrating', node: owner !== null && rng.chance(0.85) ? owner : this.anyNode(st), slot, to: this.primary(st) };
    }
    if (roll < 38) {
      const slot = rng.int(0, SLOTS - 1);
      const owner = st.owners[slot] ?? null;
      return { op: 'set-slot-importing', node: this.primary(st), slot, from: owner !== null && rng.chance(0.85) ? owner : this.anyNode(st) };
    }
    if (roll < 46) {
      const slot = this.slotWithState(st);
      const ss = st.slotStates.get(slot);
      const node = ss && rng.chance(0.8) ? (ss.migrating?.by ?? ss.importing?.by ?? this.anyNode(st)) : this.anyNode(st);
      return { op: 'set-slot-stable', node, slot };
    }
    if (roll < 56) {
      const slot = this.slotWithState(st);
      return { op: 'set-slot-node', slot, to: this.primary(st), by: this.anyNode(st) };
    }
    if (roll < 66) {
      // Prefer a primary without slots (the valid case), else anyone.
      const empty = [...st.nodes.values()].filter((n) => n.primary === null && !st.owners.includes(n.id));
      const node = empty.length > 0 && rng.chance(0.7) ? rng.pick(empty).id : this.anyNode(st);
      return { op: 'replicate', node, primary: this.primary(st) };
    }
    if (roll < 73) return this.forgetCommand(st, l);
    if (roll < 78) return { op: 'bump-epoch', node: this.anyNode(st) };
    if (roll < 80) return { op: 'set-config-epoch', node: this.anyNode(st), epoch: rng.pick([0, 1, 7, -1]) };
    if (roll < 84) {
      const id = this.anyNode(st);
      const info = this.info.get(id);
      const port = rng.chance(0.8) ? (info?.port ?? 7000) : 7000 + rng.int(1, 3);
      if (info) info.port = port;
      return { op: 'node-info', node: id, ip: info?.ip ?? '10.9.9.9', port, cport: port + 10000, hostname: rng.pick(['', 'h']) };
    }
    if (roll < 88) return { op: 'set-failed', node: this.anyNode(st), failed: rng.chance(0.5) };
    const replicas = [...st.nodes.values()].filter((n) => n.primary !== null);
    return { op: 'failover', replica: replicas.length > 0 && rng.chance(0.9) ? rng.pick(replicas).id : this.anyNode(st) };
  }

  /**
   * FORGET as a node of the table executes it (`by` is that node): mostly of a node that is not
   * running; a running one only while at least three running nodes are known, so that random forgets
   * do not empty the cluster (the leader's own forget included: see plan()).
   */
  private forgetCommand(st: ConfigState, l: RaftNode): ConfigCommand {
    const rng = this.rng;
    const known = [...st.nodes.keys()];
    const running = known.filter((id) => !this.c.node(id).retired);
    const stopped = known.filter((id) => this.c.node(id).retired);
    let id: string;
    const roll = rng.next();
    if (roll < 0.6 && stopped.length > 0) id = rng.pick(stopped);
    else if (roll < 0.9 && running.length >= 3) {
      // Voters most of the time: removing one is what tests the planner's care for the quorum.
      const voters = running.filter((x) => l.conf().voters.includes(x));
      id = voters.length > 0 && rng.chance(0.7) ? rng.pick(voters) : rng.pick(running);
    } else id = rng.chance(0.5) ? `n${this.nextId + 7}` : rng.pick(known);
    if (running.includes(id)) {
      if (running.length < 3 || !this.mayForgetRunning()) id = rng.pick(stopped.concat(['no-such-node']));
      else this.lastRunningForget = this.c.time;
    }
    const by = rng.chance(0.9) && running.length > 0 ? rng.pick(running) : this.anyNode(st);
    return { op: 'forget', id, by };
  }

  // ------------------------------------------------------------------ decommissioning

  /**
   * A running, known node stops for good (its disk is lost): the cluster must cope with it, but no
   * planner can tell a node that just stopped from a live one, so the loss happens only where the
   * leader's liveness facts are otherwise exact, and only if even the worst use of the stale fact
   * about the lost node keeps a running quorum. In two phases:
   *
   *  1. Quiet: in a healthy cluster (network whole, every member running), faults stop and the
   *     network calms down (no drops, long delays or reordering) for long enough to drain the long
   *     delays in flight, which stall a FIFO link and make a live node look dead.
   *  2. Loss: if every member was heard within a heartbeat (so none can look dead while the lost node
   *     still looks alive), the voters that run must remain a quorum of the latest configuration and
   *     of the one before it (its last change may not be committed), even if the lost node and any
   *     other stopped node that still looks alive get promoted meanwhile (Raft grows a group one voter
   *     at a time, through even sizes: a one-voter group that promotes a node which then dies for good
   *     is stuck). The quiet lasts three more election timeouts, while the leader learns the loss.
   *
   * Outside these conditions, lagging facts can make the planner remove a voter that is only slow
   * while the lost node still counts as alive, and leave the lost node in a two-voter group for good.
   * The planner counts only voters heard from within an election timeout ("fresh") toward the majority
   * a change must leave (finding (b)), which narrows that to a lost node that still looks fresh; so at
   * some losses (`slowVoterRate`) another running voter is made slow on purpose, its messages to the
   * leader cut for 2-4 election timeouts, and the node is lost at once or up to `slack` ticks later: the
   * slow voter looks dead (not heard for two election timeouts) only after the lost node stopped
   * looking fresh, as long as election timeout > slack + heartbeat + 2 x maxDelay + 1 ticks (how much
   * earlier the slow voter can have been heard from last, and how much later the lost node); it is not
   * done when no slack is left (no planner can tell a node that just stopped from a live one).
   * A planner that counted the lost node while it still looked alive removes the slow voter and, in a
   * three-voter group, is stuck for good (the liveness phase fails).
   */
  maybeDecommission(): void {
    if (this.deferredLoss !== null) {
      if (this.c.time >= this.deferredLoss.at) {
        const id = this.deferredLoss.id;
        this.deferredLoss = null;
        if (!this.c.node(id).retired) this.loseNow(id);
      }
      return;
    }
    if (this.lossAt !== null) {
      if (this.c.time >= this.lossAt) {
        this.lossAt = null;
        this.loseNode();
      }
      return;
    }
    if (!this.rng.chance(this.params.decommissionRate)) return;
    if (!this.healthy() || this.c.time - this.lastRunningForget < 150) return;
    const net = this.c.net;
    this.savedNet = net;
    this.c.net = { ...net, dropRate: 0, longDelayRate: 0, reorderRate: 0 };
    this.lossAt = this.c.time + net.longDelayMax + net.maxDelay + 2;
    this.quietUntil = this.lossAt + 3 * this.params.sim.electionTimeout;
    this.c.trace(`QUIET until ${this.quietUntil}: a node is lost for good at ${this.lossAt}`);
  }

  /** Network whole, every member of the leader's configuration running and in its node table. */
  private healthy(): boolean {
    const v = this.leaderView();
    if (!v || this.c.group.size > 0 || this.c.cut.size > 0) return false;
    const conf = v.l.conf();
    for (const id of [...conf.voters, ...conf.learners]) {
      if (!v.st.nodes.has(id)) return false; // a forgotten member not removed yet
      const n = this.c.node(id);
      if (!n.retired && !n.raft) return false;
    }
    return true;
  }

  /** Phase 2 of {@link maybeDecommission}. */
  private loseNode(): void {
    const v = this.leaderView();
    if (!v || !this.healthy() || this.c.time - this.lastRunningForget < 150) return;
    const candidates = [...this.c.nodes.values()].filter((n) => !n.retired && v.st.nodes.has(n.id));
    if (candidates.length <= 1) return;
    const victim = this.rng.pick(candidates);
    const conf = v.l.conf();
    const heardWithin = this.params.sim.heartbeatTimeout + this.c.net.maxDelay + 2;
    for (const id of [...conf.voters, ...conf.learners]) {
      const last = this.heard.get(`${v.l.id}<${id}`) ?? -Infinity;
      if (id !== v.l.id && !this.c.node(id).retired && this.c.time - last > heardWithin) return;
    }
    const alive = this.facts(v.l).alive;
    const ghosts = [...this.c.nodes.values()].filter((n) => (n.retired || n === victim) && alive(n.id)).map((n) => n.id);
    for (const voters of this.recentVoterSets(v.l)) {
      const running = voters.filter((id) => id !== victim.id && !this.c.node(id).retired).length;
      const promotable = ghosts.filter((id) => !voters.includes(id)).length;
      if (running < quorumSize(voters.length + promotable)) return;
    }
    const et = this.params.sim.electionTimeout;
    // How much later than the slow voter's last message the lost node's may be heard (see above).
    const slack = et - this.params.sim.heartbeatTimeout - 2 * this.c.net.maxDelay - 2;
    if (this.rng.chance(this.params.slowVoterRate) && slack >= 0) {
      const slow = conf.voters.filter((id) => id !== v.l.id && id !== victim.id && !this.c.node(id).retired);
      if (slow.length > 0) {
        const s = this.rng.pick(slow);
        this.slowVoter = { from: s, to: v.l.id, until: this.c.time + this.rng.int(2 * et + 2, 4 * et) };
        this.quietUntil = Math.max(this.quietUntil, this.slowVoter.until + 3 * et);
        this.c.cutOneWay(s, v.l.id);
        this.stats.slowVoters++;
        this.c.trace(`SLOW voter ${s}: its messages to the leader ${v.l.id} are cut until ${this.slowVoter.until}`);
        // The node is lost a little later (within the slack): the slow voter then looks dead for
        // longer while the lost node still looks alive, but still only once it no longer looks fresh.
        const later = this.rng.int(0, slack);
        if (later > 0) {
          this.deferredLoss = { id: victim.id, at: this.c.time + later };
          return;
        }
      }
    }
    this.loseNow(victim.id);
  }

  /** `id` stops for good (its disk is lost); maybe it comes back under a new id. */
  private loseNow(id: string): void {
    this.stats.decommissioned++;
    this.info.get(id)!.decommissioned = true;
    this.c.retire(id, true);
    this.c.trace(`DECOMMISSION ${id} (disk lost)`);
    const st = this.leaderView()?.st ?? this.oracle.ref;
    if (this.rng.chance(this.params.rebirthRate) && this.live().length < this.params.maxLive) {
      // It comes back with an empty disk under a new id, at a new port on the same host.
      const info = this.newInfo();
      const old = this.info.get(id)!;
      info.ip = old.ip;
      info.port = old.port + 1;
      this.c.addEmptyNode(info.id);
      this.c.trace(`REBIRTH ${id} as ${info.id} at ${info.ip}:${info.port}`);
      this.clients.submit(this.joinCommand(info, st, 0), { kind: 'join', nodeId: info.id, tries: 0 }, true);
    }
  }

  /** The liveness phase sets its own network: forget a quiet period's saved one. */
  endQuiet(): void {
    this.savedNet = null;
    this.lossAt = null;
    this.slowVoter = null;
    this.deferredLoss = null;
  }

  /** Per tick: faults (outside quiet periods), the end of a slow voter's cut and of a quiet period. */
  faults(): void {
    const sv = this.slowVoter;
    if (sv && this.c.time >= sv.until) {
      this.c.cut.delete(`${sv.from}>${sv.to}`);
      this.slowVoter = null;
      this.c.trace(`SLOW voter ${sv.from} heard again by ${sv.to}`);
    }
    if (this.c.time < this.quietUntil) return;
    if (this.savedNet) {
      this.c.net = this.savedNet;
      this.savedNet = null;
    }
    injectFaults(this.c, this.rng, this.params);
  }

  /**
   * May the workload forget a running node? The planner then removes it, even as a voter, as long as
   * the voters left keep a live quorum by its liveness facts. Those lag: a node stopped for good looks
   * alive for a while. So no stopped node may still look alive, nor a loss be pending (and no node is
   * lost for a while after such a forget, see maybeDecommission).
   */
  private mayForgetRunning(): boolean {
    const l = this.c.leader();
    if (!l || this.lossAt !== null) return false;
    const alive = this.facts(l).alive;
    return ![...this.c.nodes.values()].some((n) => n.retired && alive(n.id));
  }

  /** Voter sets of the leader's latest configuration and of the one before its last conf entry. */
  private recentVoterSets(l: RaftNode): (readonly string[])[] {
    const conf = l.conf();
    const sets: (readonly string[])[] = [conf.voters];
    const log = l.inspectLog();
    for (let i = log.lastIndex; i > log.committed && i >= log.firstIndex; i--) {
      const e = log.entries(i, i + 1)[0]!;
      if (e.type !== 'conf') continue;
      const ch = decodeConfChange(e);
      if (ch.type === 'promote') sets.push(conf.voters.filter((x) => x !== ch.nodeId));
      else if (ch.type === 'remove') sets.push([...conf.voters, ch.nodeId]);
      break;
    }
    return sets;
  }

  /** Every few ticks: move a decommissioned node's duties away and forget it (by a running node). */
  driveDecommissions(): void {
    if (this.c.time % 10 !== 0) return;
    const v = this.leaderView();
    if (!v) return;
    for (const info of this.info.values()) {
      if (!info.decommissioned) continue;
      const rec = v.st.node(info.id);
      if (!rec) continue;
      const cmds: ConfigCommand[] = [];
      if (rec.primary === null) {
        const replicas = v.st.replicasOf(info.id);
        if (replicas.length > 0) cmds.push({ op: 'failover', replica: replicas[0]!.id });
        else cmds.push({ op: 'flush-slots', node: info.id });
      }
      const by = [...v.st.nodes.values()].filter((n) => n.id !== info.id && !this.c.node(n.id).retired);
      if (by.length === 0) continue;
      cmds.push({ op: 'forget', id: info.id, by: this.rng.pick(by).id });
      this.clients.submit({ op: 'batch', cmds }, { kind: 'decommission', nodeId: info.id }, false);
    }
  }

  /** Stop nodes the configuration forgot once the committed membership no longer includes them. */
  reapForgotten(): void {
    const ref = this.oracle.ref;
    const conf = this.oracle.refConf;
    for (const n of this.c.nodes.values()) {
      if (n.retired || ref.nodes.has(n.id) || !this.oracle.everKnown.has(n.id)) continue;
      if (conf.voters.includes(n.id) || conf.learners.includes(n.id)) continue;
      this.c.trace(`REAP ${n.id}: forgotten and removed`);
      this.c.retire(n.id, false);
    }
  }

  // ------------------------------------------------------------------ membership

  /**
   * Liveness facts as the leader sees them: it received a message from the node within two election
   * timeouts (alive), within one (fresh).
   */
  facts(l: RaftNode): PeerFacts {
    const et = this.params.sim.electionTimeout;
    const since = (id: string): number => this.c.time - (this.heard.get(`${l.id}<${id}`) ?? -Infinity);
    return {
      alive: (id) => id === l.id || since(id) <= 2 * et,
      fresh: (id) => id === l.id || since(id) <= et,
      caughtUp: (id) => l.isCaughtUp(id, 5),
    };
  }

  /** What the leader's membership duty proposes now (planMembership's change), or null. */
  plan(l: RaftNode): ConfChange | null | 'not-ready' {
    const st = l.status();
    const since = this.leaderSince.get(l.id);
    if (!since || since.term !== st.term) {
      this.leaderSince.set(l.id, { term: st.term, since: this.c.time });
      return 'not-ready';
    }
    // A new leader has not heard from every member yet: wait an election timeout before judging.
    if (this.c.time - since.since < this.params.sim.electionTimeout) return 'not-ready';
    const m = this.machineOf(l.id);
    // The node table must reflect the log at least up to the last conf entry, else a member whose
    // join the leader has not applied yet looks unknown (and gets removed).
    if (!m || m.applied < st.commit) return 'not-ready';
    if (m.state.nodes.size === 0) return 'not-ready'; // founders not in the table yet
    return planMembership(l.conf(), m.state, l.id, this.facts(l));
  }

  driveMembership(force: boolean): void {
    if (!force && this.c.time % this.params.planEvery !== 0) return;
    const l = this.c.leader();
    if (!l) return;
    const change = this.plan(l);
    if (change === null || change === 'not-ready') return;
    // The planner must never cost the group its live quorum (as the leader's facts have it), and a change
    // of the voters must leave them a majority heard from within an election timeout (finding (b)).
    const f = this.facts(l);
    const liveQuorum = (c: ConfState, live: (id: string) => boolean) => c.voters.filter((id) => live(id)).length >= quorumSize(c.voters.length);
    const before = l.conf();
    const after = applyConfChange(before, change);
    if (liveQuorum(before, f.alive) && !liveQuorum(after, f.alive)) {
      throw new InvariantViolation(`membership: ${l.id} plans ${JSON.stringify(change)}, which leaves voters [${after.voters}] without a live quorum`);
    }
    if (after.voters.join() !== before.voters.join() && !liveQuorum(after, (id) => f.alive(id) && f.fresh(id))) {
      throw new InvariantViolation(`membership: ${l.id} plans ${JSON.stringify(change)}, which leaves voters [${after.voters}] without a majority heard from lately`);
    }
    const res = l.proposeConfChange(change);
    this.c.check(this.c.node(l.id));
    if (res.ok) {
      this.stats.confChanges++;
      this.c.trace(`MEMBERSHIP ${change.type} ${'nodeId' in change ? change.nodeId : ''} via ${l.id} @${res.index}`);
    }
  }

  // ------------------------------------------------------------------ compaction

  maybeCompact(): void {
    if (!this.rng.chance(this.params.compactRate)) return;
    const up = this.live();
    if (up.length === 0) return;
    const n = this.rng.pick(up);
    if (n.app.applied - n.storage.firstIndex() < 8) return;
    if (this.c.compact(n.id, n.app.applied)) this.stats.compactions++;
  }

  // ------------------------------------------------------------------ liveness

  /** Null when converged, else why not. */
  convergence(marker: Request | null): string | null {
    const c = this.c;
    const l = c.leader();
    if (!l) return 'no leader';
    const st = l.status();
    if (!marker || !marker.done) return 'marker not committed';
    if (st.commit !== st.lastIndex || l.inspectLog().term(st.commit) !== st.term) return 'leader log not committed';
    const m = this.machineOf(l.id);
    if (!m || m.applied !== st.lastIndex) return 'leader has not applied its log';
    const change = this.plan(l);
    if (change !== null) return `membership: ${typeof change === 'string' ? change : JSON.stringify(change)}`;
    const known = m.state.nodes;
    const liveKnown = [...known.keys()].filter((id) => c.nodes.has(id) && !c.node(id).retired);
    const members = new Set([...st.voters, ...st.learners]);
    for (const id of liveKnown) {
      if (!members.has(id)) return `known live node ${id} is not a member`;
    }
    for (const id of members) {
      if (!known.has(id)) return `member ${id} is not in the node table`;
      const n = c.nodes.get(id);
      if (!n || n.retired) {
        if (st.voters.includes(id)) return `voter ${id} is not running`;
        continue; // a learner that stopped for good (not forgotten yet)
      }
      const nm = n.machine as ConfigMachine | null;
      if (!nm || nm.applied !== m.applied) return `${id} applied ${nm?.applied ?? 'nothing'}, leader ${m.applied}`;
      if (nm.fp !== m.fp) return `${id} has a different configuration`;
      if (deepState(nm.state) !== deepState(m.state)) {
        throw new InvariantViolation(`config: ${id} and the leader have equal fingerprints but differ in a field the fingerprint does not cover`);
      }
    }
    const want = targetVoters(Math.max(1, liveKnown.length));
    if (st.voters.length !== want) return `voters ${st.voters.length} [${st.voters}], want ${want} of ${liveKnown.length} live known nodes`;
    return null;
  }

  describeNodes(): string {
    return [...this.c.nodes.values()]
      .map((n) => {
        const info = this.info.get(n.id);
        const flags = `${n.retired ? ' retired' : ''}${info?.decommissioned ? ' decommissioned' : ''}${info?.gaveUp ? ' gave-up' : ''}`;
        if (!n.raft) return `${n.id}: down${flags}`;
        const s = n.raft.status();
        const m = n.machine as ConfigMachine | null;
        return `${n.id}: ${s.role} term ${s.term} leader ${s.leader ?? '-'} commit ${s.commit} applied ${m?.applied} last ${s.lastIndex} voters [${s.voters}] learners [${s.learners}] known [${[...(m?.state.nodes.keys() ?? [])]}]${flags}`;
      })
      .join('\n  ');
  }
}

export function runConfigSeed(seed: number, options: ConfigSimOptions = {}): ConfigSimResult {
  const params: ConfigSimParams = { ...configSimParams(seed), ...options.params };
  let phase: ConfigSimResult['phase'] = 'setup';
  let sim: ConfigSim | null = null;
  let maxTerm = 0;
  const result = (ok: boolean, error?: string): ConfigSimResult => {
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
        delivered: c?.stats.delivered ?? 0,
        dropped: c?.stats.dropped ?? 0,
        elections: c?.stats.elections ?? 0,
        snapshotsInstalled: c?.stats.snapshotsInstalled ?? 0,
        committed: c?.checker.maxCommitted ?? 0,
        commands: sim?.oracle.commands ?? 0,
        refused: sim?.oracle.refused ?? 0,
        observed: sim?.clients.observed ?? 0,
        ...(sim?.stats ?? { joins: 0, joinsRefused: 0, forgets: 0, confChanges: 0, restarts: 0, compactions: 0, decommissioned: 0, slowVoters: 0 }),
        maxTerm,
        nodes: c?.nodes.size ?? 0,
      },
    };
  };

  try {
    sim = new ConfigSim(seed, params, options);
    const s = sim;
    const c = s.c;
    c.trace(`seed ${seed} params ${JSON.stringify({ ...params, sim: undefined })} sim ${JSON.stringify(params.sim)}`);
    s.setup();

    phase = 'safety';
    for (let t = 0; t < params.safetyTicks; t++) {
      s.faults();
      s.maybeDecommission();
      s.maybeJoin();
      s.maybeAdmin();
      s.driveDecommissions();
      s.maybeCompact();
      s.clients.tick();
      s.driveMembership(false);
      c.step();
      s.reapForgotten();
      if (t % 50 === 0) for (const [id, r] of c.alive()) c.checker.scanLog(id, r);
      for (const r of c.alive().values()) maxTerm = Math.max(maxTerm, r.status().term);
    }

    phase = 'liveness';
    s.endQuiet();
    // Requests still pending are abandoned (their entries may still commit); the founders' batch and
    // joins keep retrying so that no running node is left half-joined.
    s.clients.clear((r) => r.purpose.kind === 'founders' || r.purpose.kind === 'join');
    c.heal();
    c.net = { dropRate: 0, dupRate: 0, minDelay: 0, maxDelay: Math.min(c.net.maxDelay, 2), longDelayRate: 0, longDelayMax: 0, reorderRate: 0 };
    for (const n of c.nodes.values()) if (!n.raft && !n.retired) c.restart(n.id);
    let marker: Request | null = null;
    let why: string | null = 'not started';
    const deadline = c.time + params.livenessTicks;
    while (c.time < deadline) {
      s.clients.tick();
      s.driveMembership(true);
      c.step();
      s.reapForgotten();
      if (!marker && c.leader()) {
        marker = s.clients.submit({ op: 'forget', id: 'no-such-node', by: 'marker' }, { kind: 'marker' }, true);
      }
      why = s.convergence(marker);
      if (why === null) break;
    }
    for (const r of c.alive().values()) maxTerm = Math.max(maxTerm, r.status().term);
    if (why !== null) {
      return result(false, `liveness: no convergence within ${params.livenessTicks} ticks: ${why}\n  ${s.describeNodes()}`);
    }
    for (const [id, r] of c.alive()) c.checker.scanLog(id, r);
    return result(true);
  } catch (e) {
    const err = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return result(false, sim ? `${err}\n  ${sim.describeNodes()}` : err);
  }
}
