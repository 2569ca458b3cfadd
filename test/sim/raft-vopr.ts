/**
 * The Raft VOPR: one seed -> one randomized run of a simulated cluster (TigerBeetle VOPR style).
 *
 * Safety phase: 3-5 voters bootstrapped, clients propose, the network drops/duplicates/delays/reorders,
 * partitions come and go (random splits, isolated leader, one-way cuts), nodes crash and restart from
 * disk (losing any Ready they had not persisted), learners join with empty disks, get promoted,
 * voters and learners get removed, learners lose their disk (and are replaced by a new id), and nodes
 * compact their logs. The SafetyChecker runs after every step.
 *
 * Liveness phase: heal the network, restart every crashed node, stop faults; within a bounded number
 * of ticks there must be a leader and every live member must have applied the same last entry.
 *
 * `runSeed(seed)` never throws: it returns the failure with the seed and a trace tail that replays it.
 */
import type { ConfChange, RaftNode } from '../../cluster-node/src/raft';
import { entryKey } from './invariants';
import { Prng } from './prng';
import { SimCluster, type NetworkOptions, type SimOptions } from './sim-cluster';

export interface VoprParams {
  voters: number;
  minVoters: number;
  maxMembers: number;
  safetyTicks: number;
  livenessTicks: number;
  crashRate: number;
  /** Crash whoever is leader (the most disruptive crash). */
  leaderCrashRate: number;
  restartRate: number;
  partitionRate: number;
  healRate: number;
  confRate: number;
  compactRate: number;
  proposeRate: number;
  sim: SimOptions;
}

export interface VoprResult {
  seed: number;
  ok: boolean;
  error?: string;
  phase: 'setup' | 'safety' | 'liveness';
  trace: string[];
  params: VoprParams;
  stats: SimCluster['stats'] & { ticks: number; committed: number; confChanges: number; maxTerm: number };
}

export interface VoprOptions {
  fullTrace?: boolean;
  raftDebug?: boolean;
  /** Override derived parameters (for focused fuzzing). */
  params?: Partial<VoprParams>;
}

/** Derive every parameter of a run from its seed. */
export function voprParams(seed: number): VoprParams {
  const p = new Prng(seed ^ 0x5bd1e995);
  const electionTimeout = p.int(6, 14);
  const net: NetworkOptions = {
    dropRate: p.pick([0, 0.01, 0.05, 0.1, 0.2]),
    dupRate: p.pick([0, 0.02, 0.1]),
    minDelay: 0,
    maxDelay: p.int(0, 3),
    longDelayRate: p.pick([0, 0.02, 0.1]),
    longDelayMax: p.int(Math.floor(electionTimeout / 2), 3 * electionTimeout),
    reorderRate: p.pick([0, 0.05, 0.3]),
  };
  // Half the seeds are "storms": faults every few ticks, leaders crashing and being cut off.
  const storm = p.chance(0.5);
  return {
    voters: p.int(3, 5),
    minVoters: p.pick([1, 2, 3, 3]),
    maxMembers: p.int(5, 7),
    safetyTicks: p.int(300, 700),
    livenessTicks: 40 * electionTimeout + 200,
    crashRate: storm ? p.pick([0.01, 0.03]) : p.pick([0, 0.005, 0.01, 0.03]),
    leaderCrashRate: storm ? p.pick([0.01, 0.03, 0.06]) : p.pick([0, 0, 0.005]),
    restartRate: storm ? p.pick([0.1, 0.3]) : p.pick([0.02, 0.1]),
    partitionRate: storm ? p.pick([0.05, 0.1, 0.2]) : p.pick([0, 0.005, 0.02, 0.05]),
    healRate: storm ? p.pick([0.1, 0.3]) : p.pick([0.02, 0.1]),
    confRate: p.pick([0, 0.01, 0.03, 0.06]),
    compactRate: p.pick([0, 0.01, 0.05]),
    proposeRate: p.pick([0.1, 0.3, 0.7]),
    sim: {
      electionTimeout,
      heartbeatTimeout: p.int(1, Math.max(1, Math.floor(electionTimeout / 3))),
      net,
      fastDiskRate: p.pick([1, 0.8, 0.4]),
      maxEntriesPerMessage: p.pick([1, 1, 4, 64]),
      jsonWire: p.chance(0.2),
    },
  };
}

interface PendingOp {
  change: ConfChange;
  proposed?: { index: number; term: number };
}

class Operator {
  private queue: PendingOp[] = [];
  private inFlightRemovals: { id: string; index: number; term: number; key: string }[] = [];
  private nextId: number;
  changes = 0;

  constructor(
    private readonly c: SimCluster,
    private readonly rng: Prng,
    private readonly params: VoprParams,
  ) {
    this.nextId = params.voters + 1;
  }

  maybePlan(): void {
    if (this.queue.length > 2 || !this.rng.chance(this.params.confRate)) return;
    const leader = this.c.leader();
    if (!leader) return;
    const conf = leader.conf();
    const planned = new Set(this.queue.map((q) => ('nodeId' in q.change ? q.change.nodeId : '')));
    const learners = conf.learners.filter((l) => !this.c.node(l).diskLost && !planned.has(l));
    const members = conf.voters.length + conf.learners.length;
    const options: (() => void)[] = [];
    if (members < this.params.maxMembers) {
      options.push(() => {
        const id = `n${this.nextId++}`;
        this.c.addEmptyNode(id);
        this.c.trace(`OPERATOR new empty node ${id}`);
        this.queue.push({ change: { type: 'add-learner', nodeId: id } });
      });
    }
    const caughtUp = learners.filter((l) => leader.isCaughtUp(l, 10));
    if (caughtUp.length > 0) {
      options.push(() => this.queue.push({ change: { type: 'promote', nodeId: this.rng.pick(caughtUp) } }));
    }
    if (conf.voters.length > this.params.minVoters) {
      options.push(() => this.queue.push({ change: { type: 'remove', nodeId: this.rng.pick(conf.voters) } }));
    }
    if (learners.length > 0) {
      options.push(() => this.queue.push({ change: { type: 'remove', nodeId: this.rng.pick(learners) } }));
      options.push(() => {
        // A learner loses its disk. It may never answer for its old log again, so it restarts empty
        // under a new id (as etcd requires): remove the old id, add the new one as a learner.
        const id = this.rng.pick(learners);
        this.c.retire(id, true);
        this.queue.push({ change: { type: 'remove', nodeId: id } });
        const fresh = `n${this.nextId++}`;
        this.c.addEmptyNode(fresh);
        this.c.trace(`OPERATOR ${id} restarts without state as ${fresh}`);
        this.queue.push({ change: { type: 'add-learner', nodeId: fresh } });
      });
    }
    if (options.length > 0) this.rng.pick(options)();
  }

  /** Try to get the head of the queue accepted by the leader. */
  drive(): void {
    const op = this.queue[0];
    if (!op) return;
    if (op.change.type === 'promote' && this.c.node(op.change.nodeId).diskLost) {
      this.queue.shift(); // it lost its disk after the promotion was planned: never make it a voter
      return;
    }
    const res = this.c.proposeConfChange(op.change);
    if (!res) return;
    if (res.ok) {
      this.changes++;
      this.queue.shift();
      if (op.change.type === 'remove') {
        this.inFlightRemovals.push({
          id: op.change.nodeId,
          index: res.index,
          term: res.term,
          key: entryKey({ type: 'conf', data: JSON.stringify(op.change) }),
        });
      }
    } else if (res.reason === 'invalid-conf-change') {
      this.queue.shift();
      if (op.change.type === 'add-learner') this.c.retire(op.change.nodeId, false);
    }
  }

  /** Stop nodes whose removal is committed. */
  reapRemoved(): void {
    this.inFlightRemovals = this.inFlightRemovals.filter((r) => {
      const c = this.c.checker.committedAt(r.index);
      if (c === undefined) return true;
      if (c.term === r.term && c.key === r.key) {
        const n = this.c.node(r.id);
        if (!n.retired) this.c.retire(r.id, false);
      }
      return false;
    });
  }

  stop(): void {
    for (const op of this.queue) {
      if (op.change.type === 'add-learner') this.c.retire(op.change.nodeId, false);
    }
    this.queue = [];
  }
}

export function runSeed(seed: number, options: VoprOptions = {}): VoprResult {
  const params: VoprParams = { ...voprParams(seed), ...options.params };
  const c = new SimCluster(seed, { ...params.sim, fullTrace: options.fullTrace, raftDebug: options.raftDebug });
  const rng = c.rng.fork();
  const op = new Operator(c, rng, params);
  let phase: VoprResult['phase'] = 'setup';
  let maxTerm = 0;
  const result = (ok: boolean, error?: string): VoprResult => ({
    seed,
    ok,
    ...(error !== undefined ? { error } : {}),
    phase,
    trace: c.traceTail(),
    params,
    stats: { ...c.stats, ticks: c.time, committed: c.checker.maxCommitted, confChanges: op.changes, maxTerm },
  });

  try {
    const ids = Array.from({ length: params.voters }, (_, i) => `n${i + 1}`);
    c.trace(`seed ${seed} params ${JSON.stringify({ ...params, sim: undefined })} sim ${JSON.stringify(params.sim)}`);
    c.bootstrap(ids);

    phase = 'safety';
    let proposals = 0;
    let busy = true; // clients come and go: quiet periods let logs converge, which exposes other bugs
    for (let t = 0; t < params.safetyTicks; t++) {
      if (rng.chance(0.03)) busy = !busy;
      injectFaults(c, rng, params);
      op.maybePlan();
      op.drive();
      if (busy && rng.chance(params.proposeRate)) {
        const data = rng.chance(0.1) ? new Uint8Array([seed & 255, proposals & 255, 7]) : `s${seed}-${proposals}`;
        proposals++;
        c.propose(data);
      }
      if (rng.chance(params.compactRate)) compactSomeone(c, rng);
      c.step();
      op.reapRemoved();
      if (t % 50 === 0) for (const [id, r] of c.alive()) c.checker.scanLog(id, r);
      for (const r of c.alive().values()) maxTerm = Math.max(maxTerm, r.status().term);
    }

    phase = 'liveness';
    op.stop();
    c.heal();
    c.net = {
      dropRate: 0,
      dupRate: 0,
      minDelay: 0,
      maxDelay: Math.min(c.net.maxDelay, 2),
      longDelayRate: 0,
      longDelayMax: 0,
      reorderRate: 0,
    };
    for (const n of c.nodes.values()) if (!n.raft && !n.retired) c.restart(n.id);
    const err = awaitConvergence(c, op, params.livenessTicks, seed);
    for (const r of c.alive().values()) maxTerm = Math.max(maxTerm, r.status().term);
    if (err) return result(false, err);
    for (const [id, r] of c.alive()) c.checker.scanLog(id, r);
    return result(true);
  } catch (e) {
    return result(false, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
}

/** Fault rates {@link injectFaults} draws from. */
export type FaultRates = Pick<VoprParams, 'leaderCrashRate' | 'crashRate' | 'restartRate' | 'partitionRate' | 'healRate'>;

/**
 * One tick's worth of faults: leader crashes, crashes (half of them quick bounces), restarts of crashed
 * nodes, partitions (isolated leader, random splits, one-way and two-way link cuts) and heals.
 */
export function injectFaults(c: SimCluster, rng: Prng, p: FaultRates): void {
  if (rng.chance(p.leaderCrashRate)) {
    const l = c.leader();
    if (l) c.crash(l.id);
  }
  if (rng.chance(p.crashRate)) {
    const up = [...c.nodes.values()].filter((n) => n.raft);
    if (up.length > 0) {
      const id = rng.pick(up).id;
      c.crash(id);
      // Half the crashes are quick bounces: the process comes straight back from disk.
      if (rng.chance(0.5)) c.restart(id);
    }
  }
  for (const n of c.nodes.values()) {
    if (!n.raft && !n.retired && rng.chance(p.restartRate)) c.restart(n.id);
  }
  if (rng.chance(p.partitionRate)) {
    const ids = [...c.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    const leader = c.leader();
    const roll = rng.next();
    const kind = roll < 0.3 ? 0 : roll < 0.5 ? 1 : roll < 0.6 ? 2 : roll < 0.75 ? 3 : 4;
    switch (kind) {
      case 4: {
        // Partial connectivity: cut one link in both directions (cuts accumulate until healed).
        const a = rng.pick(ids);
        const b = rng.pick(ids);
        if (a !== b) {
          c.cutOneWay(a, b);
          c.cutOneWay(b, a);
        }
        break;
      }
      case 0:
        if (leader) c.isolate(leader.id);
        break;
      case 1:
        c.split(ids.filter(() => rng.chance(0.5)));
        break;
      case 2: {
        const a = rng.pick(ids);
        const b = rng.pick(ids);
        if (a !== b) c.cutOneWay(a, b);
        break;
      }
      default:
        c.isolate(rng.pick(ids));
    }
  }
  if (rng.chance(p.healRate) && (c.group.size > 0 || c.cut.size > 0)) c.heal();
}

function compactSomeone(c: SimCluster, rng: Prng): void {
  const up = [...c.nodes.values()].filter((n) => n.raft);
  if (up.length === 0) return;
  const n = rng.pick(up);
  const first = n.storage.firstIndex();
  const applied = n.app.applied;
  if (applied - first < 8) return;
  const index = rng.int(Math.max(first, applied - 20), applied);
  c.compact(n.id, index);
}

/** Liveness: a leader, and every live member applied the leader's last entry (a fresh marker). */
function awaitConvergence(c: SimCluster, op: Operator, maxTicks: number, seed: number): string | null {
  let marker: { index: number; term: number; data: string } | null = null;
  let attempt = 0;
  const deadline = c.time + maxTicks;
  while (c.time < deadline) {
    c.step();
    op.reapRemoved();
    const leader = c.leader();
    if (!leader) continue;
    const st = leader.status();
    if (!marker || (marker.term !== st.term && !markerCommitted(c, marker))) {
      const data = `final-${seed}-${attempt++}`;
      const res = leader.propose(data);
      c.check(c.node(leader.id));
      if (res.ok) marker = { index: res.index, term: res.term, data };
      continue;
    }
    if (!markerCommitted(c, marker)) continue;
    if (converged(c, leader)) return null;
  }
  const lines = [...c.nodes.values()].map((n) => {
    if (!n.raft) return `${n.id}: down${n.retired ? ' (retired)' : ''}${n.diskLost ? ' (disk lost)' : ''}`;
    const s = n.raft.status();
    return `${n.id}: ${s.role} term ${s.term} leader ${s.leader ?? '-'} commit ${s.commit} applied ${n.app.applied} last ${s.lastIndex} voters [${s.voters}] learners [${s.learners}]`;
  });
  return `liveness: no convergence within ${maxTicks} ticks (marker ${JSON.stringify(marker)})\n  ${lines.join('\n  ')}`;
}

function markerCommitted(c: SimCluster, m: { index: number; term: number; data: string }): boolean {
  const got = c.checker.committedAt(m.index);
  return got !== undefined && got.term === m.term && got.key === entryKey({ type: 'normal', data: m.data });
}

function converged(c: SimCluster, leader: RaftNode): boolean {
  const st = leader.status();
  if (st.commit !== st.lastIndex) return false;
  const leaderApp = c.node(leader.id).app;
  if (leaderApp.applied !== st.lastIndex) return false;
  for (const id of [...st.voters, ...st.learners]) {
    const n = c.nodes.get(id);
    if (!n || !n.raft) {
      if (n && n.diskLost) continue; // its removal may still be pending; it is gone
      return false;
    }
    if (n.app.applied !== leaderApp.applied || n.app.chain !== leaderApp.chain) return false;
  }
  return true;
}
