/**
 * A simulated Raft cluster: RaftNodes, a faulty network, durable storage per node, and a toy state
 * machine (a hash chain over applied entries). Everything random comes from one seeded Prng, and time is
 * a tick counter, so a (seed, options) pair replays exactly.
 *
 * Durability model: each node's MemoryStorage is its disk. A Ready is taken, then completed later
 * ("disk latency"); completing it persists, sends, applies and advances in one step. A crash drops the
 * in-memory RaftNode, any Ready not yet completed, and the application state; restart rebuilds both from
 * the disk (the application from the stored snapshot).
 *
 * The safety checker runs after every tick, delivery and Ready completion.
 *
 * An optional application state machine ({@link SimMachineFactory}, e.g. the cluster configuration)
 * runs on every node next to the hash chain: it applies every committed entry, is embedded in the
 * snapshots the node takes, and is rebuilt from the stored snapshot on restart and from a received
 * snapshot on install (Raft then replays the committed entries after it).
 */
import {
  MemoryStorage,
  RaftNode,
  applyConfChange,
  decodeConfChange,
  persistReady,
  type ConfState,
  type ConfChange,
  type Entry,
  type Message,
  type ProposeResult,
  type RaftConfig,
  type Ready,
} from '../../cluster-node/src/raft';
import { InvariantViolation, SafetyChecker, chainNext } from './invariants';
import { Prng } from './prng';

export interface NetworkOptions {
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  dupRate: number;
  /** Delivery delay in ticks, uniform in [minDelay, maxDelay]. */
  minDelay: number;
  maxDelay: number;
  /** Probability of an extra long delay (up to longDelayMax ticks), which reorders messages. */
  longDelayRate: number;
  longDelayMax: number;
  /**
   * Probability that a message ignores link order. Otherwise each (from, to) link is FIFO, like a TCP
   * connection: a message is never delivered before one sent earlier on the same link.
   */
  reorderRate: number;
}

export interface SimOptions {
  electionTimeout: number;
  heartbeatTimeout: number;
  net: NetworkOptions;
  /** Probability that a Ready completes in the tick it was taken (else 1..3 ticks later). */
  fastDiskRate: number;
  maxEntriesPerMessage?: number;
  preVote?: boolean;
  /** Send every message through JSON.stringify/JSON.parse, as the TCP transport will. */
  jsonWire?: boolean;
  /** Collect every trace line (not only the most recent ones). */
  fullTrace?: boolean;
  /** Also trace raft's own debug lines. */
  raftDebug?: boolean;
  /** Application state machine run by every node (see {@link SimMachine}). */
  machine?: SimMachineFactory;
}

/** An application state machine one simulated node runs (its volatile state: lost on crash). */
export interface SimMachine {
  /** Apply the next committed entry (every type: `normal`, `noop` and `conf`). */
  apply(e: Entry): void;
  /** The state as of the node's applied index, to embed in a snapshot (JSON-serialisable). */
  snapshot(): unknown;
}

/** Where a machine starts from: the state embedded in a snapshot at `index`, or null for an empty state. */
export interface MachineOrigin {
  readonly index: number;
  readonly state: unknown;
}

/**
 * Builds a node's machine when the node (re)starts (`from` = its stored snapshot, if any) and when it
 * installs a snapshot received from the leader.
 */
export type SimMachineFactory = (node: SimNode, from: MachineOrigin | null, why: 'start' | 'install') => SimMachine;

export const PERFECT_NETWORK: NetworkOptions = {
  dropRate: 0,
  dupRate: 0,
  minDelay: 0,
  maxDelay: 0,
  longDelayRate: 0,
  longDelayMax: 0,
  reorderRate: 0,
};

export interface AppState {
  applied: number;
  chain: number;
  /** Chain value at recent applied indices, to build snapshots below `applied`. */
  chainAt: Map<number, number>;
  /** Every applied entry's payload, in order since the last restore (for scenario assertions). */
  appliedData: string[];
}

export interface SimNode {
  readonly id: string;
  readonly storage: MemoryStorage;
  raft: RaftNode | null;
  app: AppState;
  /** The application machine (null without `SimOptions.machine`, or while down). */
  machine: SimMachine | null;
  pending: Ready | null;
  persistAt: number;
  /** Permanently stopped (removed from the cluster or lost its disk). */
  retired: boolean;
  /** Its disk was lost: never restart, never promote. */
  diskLost: boolean;
  incarnation: number;
}

interface InFlight {
  at: number;
  order: number;
  msg: Message;
}

const TRACE_TAIL = 120;

export class SimCluster {
  time = 0;
  readonly rng: Prng;
  readonly nodes = new Map<string, SimNode>();
  readonly checker = new SafetyChecker();
  readonly opts: SimOptions;
  net: NetworkOptions;
  /** Partition groups: nodes in different groups cannot talk. Absent = group 0. */
  readonly group = new Map<string, number>();
  /** One-way cuts "from>to". */
  readonly cut = new Set<string>();
  /** Extra per-message filter for scenario tests: return false to drop. */
  filter: ((m: Message) => boolean) | null = null;
  /** Observer of every delivered message (golden transcripts). */
  tap: ((m: Message) => void) | null = null;
  /** Called after a node completed a Ready (persisted, sent, applied, advanced). */
  onReady: ((n: SimNode, rd: Ready) => void) | null = null;
  /**
   * Stalled processes (a long GC pause, SIGSTOP, a frozen VM): they neither tick nor process Readies,
   * and messages to them wait (in their socket buffers) until they resume.
   */
  readonly paused = new Set<string>();
  private held: InFlight[] = [];
  stats = { delivered: 0, dropped: 0, steps: 0, readies: 0, elections: 0, snapshotsInstalled: 0 };
  private queue: InFlight[] = [];
  private orderSeq = 0;
  private readonly leaderCommitChecked = new Map<string, number>();
  private readonly linkLastAt = new Map<string, number>();
  private traceLines: string[] = [];

  constructor(seed: number, opts: SimOptions) {
    this.rng = new Prng(seed);
    this.opts = opts;
    this.net = opts.net;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership of the simulation

  /** Create founding voters, each bootstrapped with the same voter list. */
  bootstrap(ids: readonly string[]): void {
    for (const id of ids) this.createNode(id, MemoryStorage.bootstrap(ids));
  }

  /** Create a node with an empty disk (to be added as a learner). */
  addEmptyNode(id: string): SimNode {
    return this.createNode(id, new MemoryStorage());
  }

  private createNode(id: string, storage: MemoryStorage): SimNode {
    if (this.nodes.has(id)) throw new Error(`sim: duplicate node ${id}`);
    const n: SimNode = {
      id,
      storage,
      raft: null,
      app: freshApp(),
      machine: null,
      pending: null,
      persistAt: 0,
      retired: false,
      diskLost: false,
      incarnation: 0,
    };
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimNode): void {
    const r = this.rng.fork();
    const cfg: RaftConfig = {
      id: n.id,
      electionTimeout: this.opts.electionTimeout,
      heartbeatTimeout: this.opts.heartbeatTimeout,
      rand: () => r.next(),
      ...(this.opts.maxEntriesPerMessage ? { maxEntriesPerMessage: this.opts.maxEntriesPerMessage } : {}),
      ...(this.opts.preVote !== undefined ? { preVote: this.opts.preVote } : {}),
      ...(this.opts.raftDebug ? { logger: (l: string) => this.trace(l) } : {}),
    };
    n.raft = new RaftNode(cfg, n.storage);
    n.incarnation++;
    const snap = n.storage.snapshot();
    n.app = freshApp();
    let origin: MachineOrigin | null = null;
    if (snap.meta.index > 0) {
      const s = JSON.parse(snap.data) as SnapshotData;
      n.app.applied = s.index;
      n.app.chain = s.chain;
      n.app.chainAt.set(s.index, s.chain);
      origin = { index: s.index, state: s.machine };
    }
    n.machine = this.opts.machine ? this.opts.machine(n, origin, 'start') : null;
    this.checker.onRestart(n.id);
    this.check(n);
  }

  crash(id: string): void {
    const n = this.mustNode(id);
    if (!n.raft) return;
    this.unpause(id, false);
    this.trace(`CRASH ${id}${n.pending ? ' (unpersisted Ready lost)' : ''}`);
    this.loseMemory(n);
    n.raft = null;
    n.machine = null;
    n.pending = null;
  }

  /** A node's process dies: tell the checker which log entries existed only in its memory. */
  private loseMemory(n: SimNode): void {
    const r = n.raft;
    if (!r) return;
    const log = r.inspectLog();
    const st = n.storage;
    const lost: Entry[] = [];
    for (let i = Math.max(log.firstIndex, st.firstIndex()); i <= log.lastIndex; i++) {
      if (st.term(i) !== log.term(i)) lost.push(...log.entries(i, i + 1));
    }
    if (lost.length > 0) this.checker.onLostEntries(n.id, lost);
  }

  restart(id: string): void {
    const n = this.mustNode(id);
    if (n.raft || n.retired) return;
    this.trace(`RESTART ${id} from disk (last ${n.storage.lastIndex()}, snap ${n.storage.snapshot().meta.index})`);
    this.start(n);
  }

  /** Stop a node for good; with `loseDisk` its storage is considered destroyed. */
  retire(id: string, loseDisk: boolean): void {
    const n = this.mustNode(id);
    this.unpause(id, false);
    this.trace(`RETIRE ${id}${loseDisk ? ' (disk lost)' : ''}`);
    this.loseMemory(n);
    n.raft = null;
    n.machine = null;
    n.pending = null;
    n.retired = true;
    n.diskLost ||= loseDisk;
  }

  alive(): Map<string, RaftNode> {
    const m = new Map<string, RaftNode>();
    for (const n of this.nodes.values()) if (n.raft) m.set(n.id, n.raft);
    return m;
  }

  /** Live nodes that are not stalled. */
  running(): Map<string, RaftNode> {
    const m = this.alive();
    for (const id of this.paused) m.delete(id);
    return m;
  }

  node(id: string): SimNode {
    return this.mustNode(id);
  }

  raft(id: string): RaftNode {
    const r = this.mustNode(id).raft;
    if (!r) throw new Error(`sim: ${id} is down`);
    return r;
  }

  /** The live leader with the highest term, if any. */
  leader(): RaftNode | null {
    let best: RaftNode | null = null;
    let bestTerm = -1;
    for (const r of this.alive().values()) {
      const st = r.status();
      if (st.role === 'leader' && st.term > bestTerm) {
        best = r;
        bestTerm = st.term;
      }
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------------
  // Client operations

  propose(data: string | Uint8Array): ProposeResult | null {
    const l = this.leader();
    if (!l) return null;
    const res = l.propose(data);
    this.check(this.mustNode(l.id));
    return res;
  }

  proposeConfChange(change: ConfChange): ProposeResult | null {
    const l = this.leader();
    if (!l) return null;
    const res = l.proposeConfChange(change);
    this.trace(`CONF ${JSON.stringify(change)} via ${l.id}: ${res.ok ? `ok @${res.index}` : res.reason}`);
    this.check(this.mustNode(l.id));
    return res;
  }

  /**
   * Compact node `id` at `index` (<= applied), snapshotting the toy state machine there. With an
   * application machine only `index === applied` is possible (the machine has no older states).
   */
  compact(id: string, index: number): boolean {
    const n = this.mustNode(id);
    const r = n.raft;
    if (!r) return false;
    const chain = n.app.chainAt.get(index);
    if (chain === undefined) return false;
    if (n.machine && index !== n.app.applied) return false;
    const data: SnapshotData = n.machine ? { index, chain, machine: n.machine.snapshot() } : { index, chain };
    const ok = r.compact(index, JSON.stringify(data));
    if (ok) {
      this.trace(`COMPACT ${id} at ${index}`);
      for (const k of n.app.chainAt.keys()) if (k < index) n.app.chainAt.delete(k);
    }
    return ok;
  }

  /** Stall a running node (see {@link paused}). */
  pause(id: string): void {
    if (!this.mustNode(id).raft || this.paused.has(id)) return;
    this.paused.add(id);
    this.trace(`PAUSE ${id}`);
  }

  /** A stalled node runs again: the messages that waited for it are due now. */
  resume(id: string): void {
    if (!this.paused.has(id)) return;
    this.trace(`RESUME ${id}`);
    this.unpause(id, true);
  }

  private unpause(id: string, deliver: boolean): void {
    if (!this.paused.delete(id)) return;
    const mine = this.held.filter((x) => x.msg.to === id);
    this.held = this.held.filter((x) => x.msg.to !== id);
    if (deliver) for (const x of mine) this.push({ at: this.time, order: x.order, msg: x.msg });
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  isolate(id: string): void {
    this.group.set(id, 1 + this.rng.int(0, 1_000_000));
    this.trace(`PARTITION isolate ${id}`);
  }

  split(side: readonly string[]): void {
    this.group.clear();
    for (const id of side) this.group.set(id, 1);
    this.trace(`PARTITION split [${side.join(',')}] | rest`);
  }

  cutOneWay(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
    this.trace(`PARTITION one-way ${from} -/-> ${to}`);
  }

  heal(): void {
    this.group.clear();
    this.cut.clear();
    this.trace('HEAL');
  }

  canReach(from: string, to: string): boolean {
    return (this.group.get(from) ?? 0) === (this.group.get(to) ?? 0) && !this.cut.has(`${from}>${to}`);
  }

  inFlight(): number {
    return this.queue.length;
  }

  private sendAll(msgs: readonly Message[]): void {
    const net = this.net;
    for (const original of msgs) {
      const m: Message = this.opts.jsonWire ? (JSON.parse(JSON.stringify(original)) as Message) : original;
      if (this.rng.chance(net.dropRate)) {
        this.stats.dropped++;
        continue;
      }
      const copies = this.rng.chance(net.dupRate) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        let delay = this.rng.int(net.minDelay, net.maxDelay);
        if (this.rng.chance(net.longDelayRate)) delay += this.rng.int(1, Math.max(1, net.longDelayMax));
        let at = this.time + delay;
        if (this.rng.chance(net.reorderRate)) {
          this.push({ at, order: this.rng.nextU32() * 0x100000 + this.orderSeq++, msg: m });
        } else {
          const link = `${m.from}>${m.to}`;
          at = Math.max(at, this.linkLastAt.get(link) ?? 0);
          this.linkLastAt.set(link, at);
          this.push({ at, order: this.orderSeq++, msg: m });
        }
      }
    }
  }

  // Binary min-heap on (at, order).
  private push(x: InFlight): void {
    const q = this.queue;
    q.push(x);
    let i = q.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(q[i]!, q[p]!)) break;
      [q[i], q[p]] = [q[p]!, q[i]!];
      i = p;
    }
  }

  private pop(): InFlight | undefined {
    const q = this.queue;
    if (q.length === 0) return undefined;
    const top = q[0]!;
    const last = q.pop()!;
    if (q.length > 0) {
      q[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && less(q[l]!, q[m]!)) m = l;
        if (r < q.length && less(q[r]!, q[m]!)) m = r;
        if (m === i) break;
        [q[i], q[m]] = [q[m]!, q[i]!];
        i = m;
      }
    }
    return top;
  }

  /** Deliver every message due by now. Returns how many were delivered. */
  deliverDue(): number {
    let count = 0;
    while (this.queue.length > 0 && this.queue[0]!.at <= this.time) {
      const { msg } = this.pop()!;
      const target = this.nodes.get(msg.to);
      if (!target || !target.raft || !this.canReach(msg.from, msg.to) || (this.filter && !this.filter(msg))) {
        this.stats.dropped++;
        continue;
      }
      if (this.paused.has(msg.to)) {
        this.held.push({ at: this.time, order: this.orderSeq++, msg });
        continue;
      }
      this.stats.delivered++;
      this.tap?.(msg);
      target.raft.step(msg);
      this.check(target);
      count++;
    }
    return count;
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  /** Tick every live node once. */
  tickAll(): void {
    this.time++;
    for (const n of this.nodes.values()) {
      if (!n.raft || this.paused.has(n.id)) continue;
      n.raft.tick();
      this.check(n);
    }
  }

  /**
   * Complete due Readies and take new ones, and deliver due messages, until nothing is left to do at
   * this time (bounded).
   */
  settle(): void {
    for (let round = 0; round < 64; round++) {
      let progress = this.deliverDue();
      for (const n of this.nodes.values()) progress += this.processReady(n);
      if (progress === 0) return;
    }
  }

  /** One simulated tick: advance clocks, then settle. */
  step(): void {
    this.tickAll();
    this.settle();
  }

  /** Run `ticks` ticks. */
  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.step();
  }

  /** Run until `cond` holds (checked after each tick), at most `maxTicks`. Returns whether it held. */
  runUntil(cond: () => boolean, maxTicks: number): boolean {
    for (let i = 0; i < maxTicks; i++) {
      if (cond()) return true;
      this.step();
    }
    return cond();
  }

  private processReady(n: SimNode): number {
    const r = n.raft;
    if (!r || this.paused.has(n.id)) return 0;
    let did = 0;
    if (n.pending && n.persistAt <= this.time) {
      this.completeReady(n, r, n.pending);
      n.pending = null;
      did++;
    }
    if (!n.pending && r.hasReady()) {
      const rd = r.ready()!;
      this.stats.readies++;
      if (rd.softState) {
        this.trace(`${n.id} is ${rd.softState.role} (leader ${rd.softState.leader ?? '-'}) term ${r.status().term}`);
        if (rd.softState.role === 'leader') this.stats.elections++;
      }
      this.checker.onEntries(n.id, r, rd.entries);
      n.pending = rd;
      n.persistAt = this.rng.chance(this.opts.fastDiskRate) ? this.time : this.time + this.rng.int(1, 3);
      did++;
      if (n.persistAt <= this.time) {
        this.completeReady(n, r, rd);
        n.pending = null;
      }
    }
    return did;
  }

  private completeReady(n: SimNode, r: RaftNode, rd: Ready): void {
    persistReady(n.storage, rd);
    this.sendAll(rd.messages);
    if (rd.snapshot) {
      const s = JSON.parse(rd.snapshot.data) as SnapshotData;
      if (s.index !== rd.snapshot.meta.index) throw new InvariantViolation(`${n.id}: snapshot data/meta mismatch`);
      this.checker.onRestore(n.id, s.index, s.chain);
      n.app.applied = s.index;
      n.app.chain = s.chain;
      n.app.chainAt.clear();
      n.app.chainAt.set(s.index, s.chain);
      n.app.appliedData = [];
      if (this.opts.machine) n.machine = this.opts.machine(n, { index: s.index, state: s.machine }, 'install');
      this.stats.snapshotsInstalled++;
      this.trace(`${n.id} installed snapshot at ${s.index}`);
    }
    const term = r.status().term;
    for (const e of rd.committed) this.apply(n, e, term);
    r.advance(rd);
    this.check(n);
    this.onReady?.(n, rd);
  }

  private apply(n: SimNode, e: Entry, nodeTerm: number): void {
    if (e.index !== n.app.applied + 1) {
      throw new InvariantViolation(`${n.id} applied index ${e.index} after ${n.app.applied} (gap or repeat)`);
    }
    n.app.chain = chainNext(n.app.chain, e);
    n.app.applied = e.index;
    n.app.chainAt.set(e.index, n.app.chain);
    if (e.type === 'normal') n.app.appliedData.push(e.data);
    this.checker.onApply(n.id, e, n.app.chain, nodeTerm);
    n.machine?.apply(e);
  }

  check(n: SimNode): void {
    if (!n.raft) return;
    this.stats.steps++;
    // A stalled node's tick-based Raft lease is frozen with its clock: judged once it runs again.
    this.checker.afterStep(n.id, n.raft, this.paused.size === 0 ? this.alive() : this.running(), this.time);
    const st = n.raft.status();
    if (st.role === 'leader' && st.commit > (this.leaderCommitChecked.get(n.id) ?? 0)) {
      this.leaderCommitChecked.set(n.id, st.commit);
      this.checkCommitDurable(n.raft, st.commit);
    }
  }

  /**
   * Durability of a commit, checked the moment a leader advances its commit index: no node lacking the
   * committed entry may be able to win an election, i.e. collect votes from a quorum of the voters of
   * the configuration it would campaign with, each of whose logs is no more up to date than its own.
   * Every node is considered with both its durable and its in-memory log (a crash brings back the
   * former; either may be the one it campaigns or votes with), and with the membership that log
   * implies. This catches an unsafe commit (e.g. of an earlier term's entry by counting, Raft Figure 8,
   * or overlapping membership changes) before any node actually loses the entry.
   */
  private checkCommitDurable(leader: RaftNode, index: number): void {
    const term = leader.inspectLog().term(index);
    if (term === undefined) return;
    type Opt = { last: [number, number]; has: boolean; voters: readonly string[] };
    const options = new Map<string, Opt[]>();
    for (const n of this.nodes.values()) {
      if (n.retired) continue;
      const st = n.storage;
      const opts: Opt[] = [];
      if (st.lastIndex() > 0 || n.raft === null) {
        opts.push({
          last: [st.term(st.lastIndex()) ?? 0, st.lastIndex()],
          has: index <= st.snapshot().meta.index || st.term(index) === term,
          voters: confFromStorage(st).voters,
        });
      }
      if (n.raft) {
        const log = n.raft.inspectLog();
        opts.push({
          last: [log.term(log.lastIndex) ?? 0, log.lastIndex],
          has: index < log.firstIndex || log.term(index) === term,
          voters: n.raft.conf().voters,
        });
      }
      options.set(n.id, opts);
    }
    const geq = (a: [number, number], b: [number, number]) => a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1]);
    for (const [x, xopts] of options) {
      for (const ox of xopts) {
        if (ox.has || ox.voters.length === 0) continue;
        const votes = ox.voters.filter((y) => {
          if (y === x) return true;
          const yopts = options.get(y);
          return yopts !== undefined && yopts.some((oy) => geq(ox.last, oy.last));
        });
        if (votes.length >= Math.floor(ox.voters.length / 2) + 1) {
          throw new InvariantViolation(
            `unsafe commit: ${leader.id} committed ${index}@${term} but ${x} (log ending ${ox.last[1]}@${ox.last[0]}, ` +
              `voters [${ox.voters.join(',')}]) lacks it and could win with ${votes.join(',')}`,
          );
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Trace

  trace(line: string): void {
    this.traceLines.push(`[t=${this.time}] ${line}`);
    if (!this.opts.fullTrace && this.traceLines.length > 4 * TRACE_TAIL) {
      this.traceLines = this.traceLines.slice(-TRACE_TAIL);
    }
  }

  traceTail(n = TRACE_TAIL): string[] {
    return this.traceLines.slice(-n);
  }

  private mustNode(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`sim: unknown node ${id}`);
    return n;
  }
}

/** What a simulated node stores as Raft snapshot data. */
interface SnapshotData {
  index: number;
  chain: number;
  /** The application machine's state (only with `SimOptions.machine`). */
  machine?: unknown;
}

function less(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

function freshApp(): AppState {
  return { applied: 0, chain: 0, chainAt: new Map([[0, 0]]), appliedData: [] };
}

/** Membership implied by a stored log: the snapshot's, then every conf entry after it. */
function confFromStorage(st: MemoryStorage): ConfState {
  let conf: ConfState = st.snapshot().meta.confState;
  if (st.lastIndex() >= st.firstIndex()) {
    for (const e of st.entries(st.firstIndex(), st.lastIndex() + 1)) {
      if (e.type === 'conf') conf = applyConfChange(conf, decodeConfChange(e));
    }
  }
  return conf;
}
