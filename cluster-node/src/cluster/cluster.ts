/**
 * Cluster mode for one node: identity, the Raft group that replicates the configuration, the bus,
 * proposals of admin commands (they reply once committed), joining (MEET), slot hand-off with key
 * transfer in every db, and the reactions to a new configuration (lost slots: keys dropped, shard
 * subscribers told). Routing decisions live in router.ts and reply formats in views.ts.
 *
 * Joining. Every node starts as a one-node cluster of its own (a single Raft voter), so a lone node
 * can take ADDSLOTS and SET-CONFIG-EPOCH as redis-cli's create flow sends them. `CLUSTER MEET` sent to a
 * lone node Y naming X makes Y ask X to admit it: X proposes a `join` entry carrying Y's record and
 * Y's slot claims; the entry commits only if no claimed slot is served by another node (otherwise MEET
 * fails with an error naming the slot). Once admitted, Y drops its one-node log and receives X's log as
 * a learner; the leader promotes learners to voters (at most 5, spread over shards). If X is the lone
 * one and Y is in a bigger cluster, X joins Y's cluster instead. Two multi-node clusters never merge.
 */
import path from 'node:path';
import crypto from 'node:crypto';
import type { Server } from '../server/server';
import type { Client } from '../server/client';
import type { CommandSpec } from '../../../common/src/commands/types';
import { keyHashSlot } from '../../../common/src/slot';
import { MemoryStorage, RaftNode, persistReady, type Entry, type Message, type Ready } from '../raft';
import { ConfigState, SLOTS, toRanges, type ApplyResult, type ConfigCommand, type NodeRecord } from './config-state';
import { ClusterBus, type Addr, type BusMessage } from './bus';
import { loadNodeFile, saveNodeFile } from './node-file';
import { planMembership } from './membership';
import { DOWN, DOWN_UNBOUND, routeCommand } from './router';
import { moveKeys } from './key-mover';
import { FailoverCoordinator, timingFor } from './failover';
import { RaftLeaseClock, WriteLease, entryMayChangeRoles, leaderMayGrant } from './lease';
import { systemClock, type Clock } from './clock';

/** Raft drives its clock in ticks of this many ms. */
export const TICK_MS = 100;
/** How long an admin command waits for its entry to commit. */
const COMMIT_TIMEOUT_MS = 10_000;
/** Compact the Raft log once this many applied entries follow the snapshot. */
const COMPACT_EVERY = 500;

interface PendingProposal {
  cmd: ConfigCommand;
  resolve: (r: ApplyResult) => void;
  timer: NodeJS.Timeout;
  /** The current leader accepted it into its log; do not resubmit unless leadership changes. */
  acceptedTerm: number;
  /**
   * A leader's own decision (failover), valid only while this node leads in that term: it rests on what
   * this leader saw and fenced, so it is dropped, never forwarded to a later leader.
   */
  leaderTerm: number | null;
}

/** What the cluster layer needs from replication. */
export interface ReplicationHooks {
  /** Replication offset reported to the leader (the failover picks the highest). */
  offset(): number;
  /** Our link to the primary we follow (up once synchronized), or null when we are a primary. */
  link(): { up: boolean } | null;
  /** Set by the cluster layer: called when a synchronization with the primary we follow completed. */
  onSynced?: (() => void) | null;
  /** The configuration made this node a replica of the node at host:port. */
  follow(host: string, port: number): void;
  /** The configuration made this node a primary. */
  promote(): void;
}

export class Cluster {
  myId = '';
  myShardId = '';
  /** The configuration as applied from the Raft log. */
  state = new ConfigState();
  /**
   * The configuration this node serves from: `state`, except while a node that just joined has not
   * yet received the cluster's log (then the configuration it had before joining).
   */
  view = new ConfigState();
  raft!: RaftNode;
  private storage!: MemoryStorage;
  readonly bus: ClusterBus;
  private readonly file: string;
  private tickTimer: NodeJS.Timeout | null = null;
  private readyScheduled = false;
  private readonly pending = new Map<string, PendingProposal>();
  private seq = 0;
  /** Slots this node owned in the last applied configuration (to detect losses). */
  private owned = new Uint8Array(SLOTS);
  /** Slots we lost to "unassigned" whose keys we still hold (see afterApply). */
  private readonly orphans = new Set<number>();
  private lastVersion = -1;
  private lastView: ConfigState | null = null;
  /** Nodes forgotten recently: FORGET of one again succeeds (redis-cli sends it to every node). */
  private readonly forgotten = new Map<string, number>();
  /** Cached answer of clusterOk(), recomputed when the configuration changes. */
  ok = false;
  private ticks = 0;
  /** Leader side: failure detection, write leases, failover decisions. */
  readonly failover: FailoverCoordinator;
  /** The write lease granted by the leader (used when this node is a primary, not the leader). */
  private readonly lease: WriteLease;
  /**
   * Tags this process's monotonic clock readings sent to other nodes (the leader's time in heartbeat
   * replies, echoed back): another process of the same node id has another clock origin.
   */
  private readonly boot = randomHex(16);
  private hbInFlight = false;
  /** This node is a primary in the configuration it serves from (derived on each configuration change). */
  private isPrimary = false;
  /** Replication, plugged in by the replication layer: offsets for heartbeats, follow/promote on role changes. */
  replication: ReplicationHooks | null = null;
  /** Set while the node has joined a cluster and waits for its log. */
  private joining = false;
  /**
   * This node restarted (its node file existed) without its data (there is no persistence yet), and has
   * not learned since that it holds its shard's data: it clears once it synchronized from a primary, or
   * when the leader finds no replica that could take over with data (see failover.ts).
   */
  private dataless = false;
  /** dataless, and the served configuration makes this node a primary owning slots with replicas. */
  amnesiac = false;
  /**
   * A dataless node feeds no replica (SYNC/PSYNC refused), whatever its view says: right after a restart
   * its view is only the snapshot in its node file (often none), until it has applied the log again.
   */
  get refusesSync(): boolean {
    return this.dataless;
  }
  /** When the current RaftNode ticked (its lease in time), and its lease length in ticks. */
  private readonly raftLeaseClock: RaftLeaseClock;
  private leaseTicks = 1;
  /** The current RaftNode's election timeout in ticks (the membership planner's `fresh` window). */
  private electionTicks = 3;
  private lastTickAt = 0;
  /**
   * The primary whose replication stream our data is a prefix of: the one we follow, once synchronized
   * with it since we started following it (a failover promotes such a replica first; see failover.ts).
   */
  private syncedWith: string | null = null;
  /** The leader's (monotonic) clock in its reply to our last heartbeat: echoed, it dates our next report. */
  private hbEcho: { leader: string; at: number; boot: string } | null = null;
  /** A restarted node does not know its role before it replayed its committed log up to here. */
  private replayTo = 0;
  readonly handoffs = new Map<number, Promise<void>>();

  /** `clock`: the time source of every lease and failover decision (clock.ts); injectable for tests. */
  constructor(
    readonly server: Server,
    private readonly clock: Clock = systemClock,
  ) {
    const cfg = server.config;
    this.lease = new WriteLease(clock);
    this.raftLeaseClock = new RaftLeaseClock(clock, TICK_MS);
    this.failover = new FailoverCoordinator(timingFor(cfg.int('cluster-node-timeout')));
    this.file = path.resolve(cfg.str('dir'), cfg.str('cluster-config-file'));
    this.bus = new ClusterBus(
      () => this.myId,
      {
        onMessage: (from, msg) => this.onBusMessage(from, msg),
        onRequest: (from, body) => this.onBusRequest(from, body),
      },
      (line) => server.log.warning(line),
      clock,
    );
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const loaded = loadNodeFile(this.file);
    if (loaded) {
      this.myId = loaded.myId;
      this.myShardId = loaded.myShardId;
      this.storage = loaded.storage;
      const snap = this.storage.snapshot();
      if (snap.meta.index > 0 && snap.data !== '') this.state.restore(JSON.parse(snap.data));
      this.server.log.notice(`Node configuration loaded, I'm ${this.myId}`);
      this.dataless = true;
    } else {
      this.myId = randomHex(40);
      this.myShardId = randomHex(40);
      this.storage = MemoryStorage.bootstrap([this.myId]);
      this.save();
      this.server.log.notice(`No cluster configuration found, I'm ${this.myId}`);
    }
    this.raft = this.newRaft(this.storage, this.storage.snapshot().meta.index);
    this.view = this.state;
    if (this.dataless) this.replayTo = this.raft.status().commit;
    // Known at once (a link may break again before the next tick looks at it).
    if (this.replication) this.replication.onSynced = () => this.synced();
    // Before any await: a replica reconnecting right away must not get a sync from our empty dataset.
    this.updateAmnesiac();
    await this.bus.listen(this.busHost(), this.busPort());
    this.server.pubsub.onPublish = (ch, msg) => this.bus.broadcast({ t: 'pub', ch, msg });
    this.server.cluster = { route: (c, spec, argv) => this.route(c, spec, argv) };
    this.recompute();
    // A lone voter need not wait for an election timeout.
    if (this.raft.status().voters.length === 1 && this.raft.status().voters[0] === this.myId) this.raft.campaign();
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.scheduleReady();
  }

  stop(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.bus.close();
    for (const p of this.pending.values()) clearTimeout(p.timer);
  }

  private newRaft(storage: MemoryStorage, applied: number): RaftNode {
    // T = node-timeout / 2 in [300 ms, 3 s]: 500 ms with the default 1000 ms node timeout.
    const et = Math.max(3, Math.min(30, Math.round(this.server.config.int('cluster-node-timeout') / 2 / TICK_MS)));
    // RaftNode's default lease margin is 1 tick.
    this.leaseTicks = et - 1;
    this.electionTicks = et;
    this.raftLeaseClock.reset();
    return new RaftNode(
      { id: this.myId, electionTimeout: et, heartbeatTimeout: 1, rand: Math.random, applied },
      storage,
    );
  }

  private save(): void {
    saveNodeFile(this.file, { myId: this.myId, myShardId: this.myShardId, storage: this.storage });
  }

  // ------------------------------------------------------------------ addresses

  myIp(): string {
    const announce = this.server.config.str('cluster-announce-ip');
    if (announce) return announce;
    const bind = this.server.config.str('bind').split(/\s+/).filter(Boolean)[0]?.replace(/^-/, '') ?? '127.0.0.1';
    return bind === '*' || bind === '0.0.0.0' || bind === '::' || bind === '::*' ? '127.0.0.1' : bind;
  }

  myPort(): number {
    return this.server.config.int('cluster-announce-port') || this.server.boundPort();
  }

  private busHost(): string {
    const bind = this.server.config.str('bind').split(/\s+/).filter(Boolean)[0]?.replace(/^-/, '') ?? '127.0.0.1';
    return bind === '*' ? '0.0.0.0' : bind;
  }

  private busPort(): number {
    return this.server.config.int('cluster-port') || this.server.boundPort() + 10000;
  }

  myBusPort(): number {
    return this.server.config.int('cluster-announce-bus-port') || this.bus.boundPort() || this.busPort();
  }

  myRecord(): NodeRecord {
    const cur = this.view.node(this.myId);
    return {
      id: this.myId,
      ip: this.myIp(),
      port: this.myPort(),
      cport: this.myBusPort(),
      hostname: this.server.config.str('cluster-announce-hostname'),
      primary: cur?.primary ?? null,
      shardId: cur?.shardId ?? this.myShardId,
      configEpoch: cur?.configEpoch ?? 0,
      failed: false,
      nofailover: this.server.config.bool('cluster-replica-no-failover'),
    };
  }

  /** `ip:port` clients are redirected to for a node. */
  endpoint(id: string): string {
    const n = this.view.node(id);
    if (!n) return ':0';
    const pref = this.server.config.str('cluster-preferred-endpoint-type');
    if (pref === 'hostname' && n.hostname) return `${n.hostname}:${n.port}`;
    if (pref === 'unknown-endpoint') return `?:${n.port}`;
    return `${n.ip}:${n.port}`;
  }

  // ------------------------------------------------------------------ routing

  route(c: Client, spec: CommandSpec, argv: string[]): string | null {
    return routeCommand(this, c, spec, argv);
  }

  /** Recompute cached facts after the configuration changed. */
  private recompute(): void {
    const v = this.view;
    const full = this.server.config.bool('cluster-require-full-coverage');
    let ok = true;
    if (full) {
      for (let s = 0; s < SLOTS; s++) {
        const o = v.owners[s];
        if (o === null || v.nodes.get(o)?.failed) {
          ok = false;
          break;
        }
      }
    }
    this.ok = ok && v.nodes.has(this.myId);
  }

  // ------------------------------------------------------------------ Raft driving

  private tick(): void {
    this.ticks++;
    const now = this.clock.monoMs();
    // Ticks came late: the process was stalled (SIGSTOP, a long pause) and what peers sent meanwhile is
    // still unread. The next failure decision round is skipped rather than made on that stale view.
    if (this.lastTickAt > 0 && now - this.lastTickAt > 3 * TICK_MS) {
      // Logged only when long: ticks run this late all the time on a loaded machine.
      if (now - this.lastTickAt > 1000) this.server.log.warning(`cluster: no tick for ${now - this.lastTickAt} ms (process stalled?)`);
      this.failover.stalled(now);
    }
    this.lastTickAt = now;
    if (this.replication?.link()?.up) this.synced();
    if (this.replayTo > 0 && this.raft.status().applied >= this.replayTo) {
      this.replayTo = 0;
      this.updateAmnesiac();
    }
    // cluster_state also depends on CONFIG SET cluster-require-full-coverage: re-evaluate it every tick,
    // as Redis's clusterCron does, not only when the configuration log changes.
    const wasOk = this.ok;
    this.recompute();
    if (wasOk && !this.ok) this.redirectBlocked();
    this.raft.tick();
    this.raftLeaseClock.ticked();
    this.bus.reconnect();
    this.failover.timing = timingFor(this.server.config.int('cluster-node-timeout'));
    if (this.raft.status().role === 'leader') this.leaderDuties();
    else this.heartbeat();
    if (this.ticks % 10 === 0) this.publishMyAddress();
    this.resubmitPending();
    this.scheduleReady();
  }

  scheduleReady(): void {
    if (this.readyScheduled) return;
    this.readyScheduled = true;
    setImmediate(() => {
      this.readyScheduled = false;
      this.processReady();
    });
  }

  private processReady(): void {
    let rd: Ready | null;
    let applied = false;
    while ((rd = this.raft.ready()) !== null) {
      const prev = this.storage.hardState();
      persistReady(this.storage, rd);
      // A commit-index-only change need not be durable (it is re-learned from the leader): no fsync.
      const hs = rd.hardState;
      if (rd.snapshot || rd.entries.length > 0 || (hs && (hs.term !== prev.term || hs.vote !== prev.vote))) this.save();
      for (const m of rd.messages) this.bus.send(m.to, { t: 'raft', m });
      if (rd.snapshot && rd.snapshot.data !== '') {
        this.state.restore(JSON.parse(rd.snapshot.data));
        applied = true;
      }
      for (const e of rd.committed) {
        if (this.applyEntry(e)) applied = true;
      }
      this.raft.advance(rd);
      if (rd.softState) {
        if (rd.softState.role === 'leader') this.failover.becameLeader(this.clock.monoMs(), this.lastLeader);
        else this.failover.steppedDown();
        if (rd.softState.leader !== null && rd.softState.leader !== this.myId) this.lastLeader = rd.softState.leader;
      }
      this.ensureSelf();
    }
    if (applied) this.afterApply();
    this.maybeCompact();
  }

  private selfJoinTerm = -1;

  /** A founding lone node's leader records the node itself in the configuration, once per term. */
  private ensureSelf(): void {
    if (this.joining || this.state.nodes.has(this.myId)) return;
    const st = this.raft.status();
    if (st.role !== 'leader' || this.selfJoinTerm === st.term) return;
    const r = this.raft.propose(JSON.stringify({ op: 'join', node: this.myRecord(), slots: [] }));
    if (r.ok) this.selfJoinTerm = st.term;
  }

  private applyEntry(e: Entry): boolean {
    if (e.type !== 'normal') return false;
    let cmd: ConfigCommand;
    try {
      cmd = JSON.parse(e.data) as ConfigCommand;
    } catch {
      this.server.log.warning(`cluster: undecodable log entry ${e.index}`);
      return false;
    }
    const res = this.state.apply(cmd);
    if (cmd.op === 'forget' && res.ok) this.forgotten.set(cmd.id, this.clock.monoMs());
    if (cmd.req) {
      const p = this.pending.get(cmd.req);
      if (p) {
        this.pending.delete(cmd.req);
        clearTimeout(p.timer);
        p.resolve(res);
      }
    }
    return true;
  }

  private maybeCompact(): void {
    const st = this.raft.status();
    if (st.applied - st.firstIndex < COMPACT_EVERY) return;
    this.raft.compact(st.applied, JSON.stringify(this.state.toSnapshot()));
    this.save();
  }

  private appliedWaiters: { pred: () => boolean; resolve: () => void }[] = [];

  /** Resolve once `pred` holds for the applied configuration (checked after each apply), or after timeoutMs. */
  waitApplied(pred: () => boolean, timeoutMs: number): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { pred, resolve: () => (clearTimeout(t), resolve()) };
      const t = setTimeout(() => {
        this.appliedWaiters = this.appliedWaiters.filter((x) => x !== w);
        resolve();
      }, timeoutMs);
      this.appliedWaiters.push(w);
    });
  }

  /** React to a new configuration: peers, served view, lost slots. */
  private afterApply(): void {
    if (this.joining && this.state.nodes.has(this.myId)) {
      this.joining = false;
      this.server.log.notice('Joined the cluster: configuration received');
    }
    if (!this.joining) this.view = this.state;
    const v = this.view;
    // Versions count changes within one ConfigState: a joiner's new state can reach the very version
    // number its old lone view had, so compare the object too.
    if (v === this.lastView && v.version === this.lastVersion) return;
    this.lastView = v;
    this.lastVersion = v.version;
    this.isPrimary = v.node(this.myId)?.primary === null;
    this.updateAmnesiac();
    this.roleChanged();
    const peers = new Map<string, Addr>();
    for (const n of v.nodes.values()) if (n.id !== this.myId) peers.set(n.id, { host: n.ip, port: n.cport });
    this.bus.setPeers(peers);
    const lost: number[] = [];
    // Slots whose data this node holds: its own, or (on a replica) its primary's.
    const myPrimary = v.node(this.myId)?.primary ?? null;
    for (let s = 0; s < SLOTS; s++) {
      const o = v.owners[s];
      const mine = o !== null && (o === this.myId || o === myPrimary) ? 1 : 0;
      if (this.owned[s] === 1 && mine === 0) lost.push(s);
      this.owned[s] = mine;
    }
    // A slot left unassigned (CLUSTER DELSLOTS) keeps its keys here, as in Redis: redis-cli --cluster
    // fix covers such a slot with the node holding its keys. They go once another node owns it.
    const drop = lost.filter((s) => v.owners[s] !== null);
    for (const s of lost) if (v.owners[s] === null) this.orphans.add(s);
    for (const s of this.orphans) {
      if (v.owners[s] === null) continue;
      this.orphans.delete(s);
      if (v.owners[s] !== this.myId) drop.push(s);
    }
    if (lost.length > 0 || drop.length > 0) this.slotsLost(lost, drop);
    this.recompute();
    this.redirectBlocked();
    if (this.appliedWaiters.length > 0) {
      const ready = this.appliedWaiters.filter((w) => w.pred());
      this.appliedWaiters = this.appliedWaiters.filter((w) => !ready.includes(w));
      for (const w of ready) w.resolve();
    }
  }

  /**
   * Clients blocked on keys (BLPOP & co.) of a slot this node no longer serves, or while the cluster is
   * down, get the redirection now instead of waiting for a push that will never come here (Redis's
   * clusterRedirectBlockedClientIfNeeded).
   */
  private redirectBlocked(): void {
    if (this.server.stats.blockedClients === 0) return;
    const v = this.view;
    const me = v.node(this.myId);
    for (const c of [...this.server.clients.values()]) {
      const st = c.blocked;
      if (st === null || st.deferred || st.keys.length === 0) continue;
      let error: string | null = null;
      if (!this.ok) error = DOWN;
      else {
        const slot = keyHashSlot(st.keys[0]!);
        const owner = v.owners[slot] ?? null;
        if (c.readonlyMode && !st.spec.flags.includes('write') && me?.primary != null && me.primary === owner) continue;
        if (owner !== this.myId && v.slotStates.get(slot)?.importing?.by !== this.myId) {
          error = owner === null ? DOWN_UNBOUND : `MOVED ${slot} ${this.endpoint(owner)}`;
        }
      }
      if (error !== null) this.server.unblockWith(c, error);
    }
  }

  /** The primary this node replicates per the last applied configuration ('' = none known yet). */
  private followed: string | null | undefined = undefined;

  /** Start or stop replicating when the configuration changed this node's role or primary. */
  private roleChanged(): void {
    const me = this.view.node(this.myId);
    if (!me) return;
    const primary = me.primary;
    if (primary === this.followed) {
      // Same primary, but it may have moved (restart on another port): follow its current address.
      return;
    }
    this.followed = primary;
    this.syncedWith = null;
    if (primary === null) {
      this.server.isReplica = false;
      this.replication?.promote();
      return;
    }
    const p = this.view.node(primary);
    if (!p) return;
    this.server.isReplica = true;
    this.server.log.notice(`cluster: replicating ${primary} at ${p.ip}:${p.port}`);
    this.replication?.follow(p.ip, p.port);
  }

  /** Slots that moved away: tell shard subscribers, drop leftover keys (unreachable now, as Redis does). */
  private slotsLost(slots: number[], drop: number[]): void {
    const set = new Set(slots);
    const ps = this.server.pubsub;
    for (const [ch, clients] of [...ps.shardChannels]) {
      if (!set.has(keyHashSlot(ch))) continue;
      for (const c of [...clients]) {
        ps.unsubscribe(c, 'shard', ch);
        ps.push(c, ['sunsubscribe', ch, c.shardChannels.size]);
      }
    }
    let dropped = 0;
    for (const db of this.server.dbs) for (const s of drop) dropped += db.deleteSlot(s);
    if (dropped > 0) this.server.log.warning(`cluster: dropped ${dropped} keys of ${drop.length} slots now served elsewhere`);
    this.server.flushAll();
  }

  private failoverProposals = 0;
  /** The last leader other than us (for failure detection after we take over). */
  private lastLeader: string | null = null;

  /**
   * Send the leader our heartbeat (replication offset); a primary gets its write lease back. Also while
   * joining: the node serves its slots from the configuration it had, and the cluster, which admitted it
   * as their primary, can give it replicas and fail it over.
   */
  private heartbeat(): void {
    const leader = this.raft.status().leader;
    if (leader === null || this.hbInFlight) return;
    this.hbInFlight = true;
    // Before the request leaves: a lease granted in reply runs from this moment.
    const sent = this.lease.requestSent();
    const leaseMs = this.failover.timing.leaseMs;
    const echo = this.hbEcho?.leader === leader ? this.hbEcho : null;
    const hb = { op: 'hb', offset: this.replication?.offset() ?? 0, dataless: this.dataless, synced: this.syncedWith, echo: echo?.at, echoBoot: echo?.boot };
    this.bus.request(leader, hb, leaseMs).then(
      (r) => {
        this.hbInFlight = false;
        const reply = r as { grant?: boolean; serve?: boolean; at?: number; boot?: string } | null;
        if (typeof reply?.at === 'number' && typeof reply.boot === 'string') this.hbEcho = { leader, at: reply.at, boot: reply.boot };
        if (reply?.grant) this.lease.granted(sent, leaseMs);
        if (reply?.serve && this.dataless) this.setDataless(false, 'the leader found no replica holding data');
      },
      () => (this.hbInFlight = false),
    );
  }

  /** Our data is now a prefix of the stream of the primary we follow. */
  private synced(): void {
    if (this.followed) this.syncedWith = this.followed;
    if (this.dataless) this.setDataless(false, 'synchronized from its primary');
  }

  private setDataless(dataless: boolean, why: string): void {
    this.dataless = dataless;
    this.server.log.notice(`cluster: no longer waiting for a replica holding data: ${why}`);
    this.updateAmnesiac();
  }

  /** Recompute `amnesiac` (a restarted primary must neither serve its slots nor feed its replicas). */
  private updateAmnesiac(): void {
    const v = this.view;
    const was = this.amnesiac;
    // Until the committed log is replayed, the role it gives us is unknown: assume the worst.
    const replaying = this.replayTo > 0 && this.raft.status().applied < this.replayTo;
    this.amnesiac = this.dataless && (replaying || (v.node(this.myId)?.primary === null && v.replicasOf(this.myId).length > 0 && v.owners.includes(this.myId)));
    if (this.amnesiac && !was) {
      this.server.log.warning('cluster: restarted without data as a primary with replicas: not serving its slots nor syncing replicas until a replica with the data takes over');
    }
  }

  /** The Raft leader's lease, in ticks and in time (lease.ts RaftLeaseClock). */
  private leaderLeaseValid(): boolean {
    return this.raftLeaseClock.valid(this.raft.leaseRemaining(), this.leaseTicks);
  }

  /** The leader's rule for granting `id` a write lease (lease.ts leaderMayGrant). */
  private mayGrantLease(id: string): boolean {
    const st = this.raft.status();
    let logApplied = st.applied === st.lastIndex;
    if (!logApplied) {
      // Only entries that could change a role hold grants back (lease.ts entryMayChangeRoles).
      try {
        logApplied = !this.raft.inspectLog().entries(st.applied + 1, st.lastIndex + 1).some((e) => entryMayChangeRoles(e.type, e.data));
      } catch {
        logApplied = false; // not readable (compacted under a snapshot): be strict
      }
    }
    return leaderMayGrant({ raftLease: this.leaderLeaseValid(), requesterIsPrimary: this.state.node(id)?.primary === null, logApplied });
  }

  /**
   * Whether this node may accept a write now. Every primary needs a lease, with or without replicas in
   * its configuration: replicas may have been added to its shard while it was cut off, and the shard
   * failed over. The Raft leader's own Raft lease serves for it (a lone node is its own leader).
   */
  writeLeaseValid(): boolean {
    if (!this.isPrimary) return true;
    const raftLease = this.raft.status().role === 'leader' ? this.leaderLeaseValid() : null;
    return this.lease.allows({ primary: true, raftLease });
  }

  private leaderDuties(): void {
    const st = this.raft.status();
    // A leader the node table forgot has one duty left: leaving the Raft group (planMembership).
    const known = this.state.nodes.has(this.myId);
    // Every time below is this node's monotonic clock (clock.ts), as are the bus's lastHeardMs.
    if (known) this.failover.noteSelf(this.myId, this.replication?.offset() ?? 0, this.dataless, this.syncedWith, this.clock.monoMs());
    if (known && this.dataless && this.failover.mayServe(this.myId)) this.setDataless(false, 'no replica holds data');
    if (known && this.failoverProposals === 0) {
      const now = this.clock.monoMs();
      const cmds = this.failover.decide(now, this.state, this.myId, (id) => this.bus.lastHeardMs(id), this.server.config.int('min-replicas-ack'));
      for (const cmd of cmds) {
        this.failoverProposals++;
        this.server.log.notice(`cluster: proposing ${JSON.stringify(cmd)}`);
        void this.propose(cmd, 2000, st.term).then((r) => {
          this.failoverProposals--;
          if (!r.ok) this.server.log.warning(`cluster: ${cmd.op} failed: ${r.error}`);
        });
      }
    }
    // Plan membership only from a node table applied up to the commit index: a new leader that has not
    // applied a learner's join yet would otherwise remove that learner.
    if (st.applied < st.commit) return;
    const deadAfter = Math.max(2000, this.server.config.int('cluster-node-timeout'));
    // Voters answer every heartbeat (each tick): one not heard from for an election timeout may be gone.
    const freshFor = this.electionTicks * TICK_MS;
    const now = this.clock.monoMs();
    const change = planMembership({ voters: st.voters, learners: st.learners }, this.state, this.myId, {
      alive: (id) => id === this.myId || now - this.bus.lastHeardMs(id) < deadAfter,
      fresh: (id) => id === this.myId || now - this.bus.lastHeardMs(id) < freshFor,
      caughtUp: (id) => this.raft.isCaughtUp(id, 5),
    });
    if (change) {
      const r = this.raft.proposeConfChange(change);
      if (r.ok) this.server.log.notice(`cluster: membership change ${change.type} ${'nodeId' in change ? change.nodeId : ''}`);
    }
  }

  // ------------------------------------------------------------------ proposals

  /**
   * Propose an admin command; resolves with its result once applied here (or a timeout error). With
   * `leaderTerm`, only this node as leader of that term may propose it (see PendingProposal.leaderTerm).
   */
  propose(cmd: ConfigCommand, timeoutMs = COMMIT_TIMEOUT_MS, leaderTerm: number | null = null): Promise<ApplyResult> {
    const req = `${this.myId}:${++this.seq}:${Date.now()}`;
    const withReq = { ...cmd, req } as ConfigCommand;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        resolve({ ok: false, error: 'ERR cluster configuration change not committed in time (no reachable Raft majority?)' });
      }, timeoutMs);
      this.pending.set(req, { cmd: withReq, resolve, timer, acceptedTerm: -1, leaderTerm });
      this.submit(req);
    });
  }

  /** Propose and turn the result into a reply value or a thrown ReplyError-compatible Error. */
  async proposeOrThrow(cmd: ConfigCommand): Promise<string> {
    const r = await this.propose(cmd);
    if (!r.ok) throw new Error(r.error.replace(/^ERR /, ''));
    return r.value ?? 'OK';
  }

  private addressUpdate: Promise<ApplyResult> | null = null;

  /** Announce changed addresses (restart on another port, CONFIG SET cluster-announce-*) to the configuration. */
  private publishMyAddress(): void {
    const me = this.state.node(this.myId);
    if (!me || this.joining || this.addressUpdate) return;
    const hostname = this.server.config.str('cluster-announce-hostname');
    if (me.ip === this.myIp() && me.port === this.myPort() && me.cport === this.myBusPort() && me.hostname === hostname) return;
    this.addressUpdate = this.propose({ op: 'node-info', node: this.myId, ip: this.myIp(), port: this.myPort(), cport: this.myBusPort(), hostname });
    void this.addressUpdate.finally(() => (this.addressUpdate = null));
  }

  private submit(req: string): void {
    const p = this.pending.get(req);
    if (!p) return;
    const st = this.raft.status();
    if (p.leaderTerm !== null && (st.role !== 'leader' || st.term !== p.leaderTerm)) {
      // A deposed leader's failover decisions (made, e.g., right after a stall, on a stale view of who
      // is alive) must not reach the new leader's log.
      this.pending.delete(req);
      clearTimeout(p.timer);
      p.resolve({ ok: false, error: `ERR no longer the Raft leader of term ${p.leaderTerm}: change dropped` });
      return;
    }
    if (st.role === 'leader') {
      const r = this.raft.propose(JSON.stringify(p.cmd));
      if (r.ok) {
        p.acceptedTerm = r.term;
        this.scheduleReady();
      }
      return;
    }
    if (st.leader === null || this.joining) return;
    const term = st.term;
    p.acceptedTerm = term; // in flight; reset on failure
    this.bus.request(st.leader, { op: 'propose', cmd: p.cmd }, 2000).then(
      () => undefined,
      () => {
        const q = this.pending.get(req);
        if (q && q.acceptedTerm === term) q.acceptedTerm = -1;
      },
    );
  }

  /** Resubmit proposals not accepted by the current leader (leader unknown earlier, or it changed). */
  private resubmitPending(): void {
    if (this.pending.size === 0) return;
    const term = this.raft.status().term;
    for (const [req, p] of this.pending) if (p.acceptedTerm !== term) this.submit(req);
  }

  // ------------------------------------------------------------------ bus

  private onBusMessage(_from: string, msg: BusMessage): void {
    if (msg.t === 'raft') {
      const m = msg.m as Message;
      // Peers may still address an id we no longer have (after CLUSTER RESET HARD, or a new node
      // started at a forgotten node's address); RaftNode.step throws on those, so drop them here.
      if (m.to !== this.myId) return;
      // A lone node (its own single voter, not joining) has no peers: whatever arrives comes from a
      // cluster that still lists it (e.g. after CLUSTER RESET). Stepping it would make a higher-term
      // foreign leader our leader and wedge our one-node log (admin commands never commit).
      if (!this.joining && this.isLoneVoter()) return;
      this.raft.step(m);
      this.scheduleReady();
    } else if (msg.t === 'pub') {
      this.server.pubsub.publishLocal(msg.ch, msg.msg);
      this.server.flushAll();
    }
  }

  private async onBusRequest(_from: string, body: Record<string, unknown>): Promise<unknown> {
    switch (body.op) {
      case 'propose': {
        const r = this.raft.propose(JSON.stringify(body.cmd));
        if (!r.ok) throw new Error('not leader');
        this.scheduleReady();
        return r.index;
      }
      case 'join':
        return this.admit(body.node as NodeRecord, body.slots as [number, number][], body.size as number);
      case 'hb': {
        const leading = this.raft.status().role === 'leader';
        const dataless = body.dataless === true;
        const now = this.clock.monoMs();
        // Where the sender's data comes from, dated by the echo of our previous reply: a time on our own
        // monotonic clock, so only if this very process sent it (none from older nodes).
        const echo = typeof body.echo === 'number' && body.echoBoot === this.boot ? body.echo : -Infinity;
        const stream = 'synced' in body ? { syncedWith: typeof body.synced === 'string' ? body.synced : null, echo } : null;
        const grant = leading && this.failover.onHeartbeat(_from, Number(body.offset) || 0, now, this.mayGrantLease(_from), dataless, stream);
        return { grant, serve: leading && dataless && this.failover.mayServe(_from), at: now, boot: this.boot };
      }
      case 'manual-failover':
        return this.leaderManualFailover(body.replica as string);
      case 'failover-prepare': {
        // Graceful CLUSTER FAILOVER, on the primary: hold writes until the promotion is applied here
        // (or a timeout), and tell the replica the offset it must reach first.
        const release = this.server.holdWrites();
        const replica = body.replica as string;
        void this.waitApplied(() => this.view.node(this.myId)?.primary === replica, 5000).then(release);
        return { offset: this.replication?.offset() ?? 0 };
      }
      case 'handoff':
        await this.handoff(body.slot as number, body.to as string);
        return 'OK';
      default:
        throw new Error(`ERR unknown bus request ${String(body.op)}`);
    }
  }

  // ------------------------------------------------------------------ joining

  /** CLUSTER MEET: join the node at ip:port (or have it join us when it is the lone one). */
  async meet(ip: string, port: number, cport: number): Promise<void> {
    for (const n of this.view.nodes.values()) if (n.ip === ip && n.port === port) return;
    let reply: unknown;
    try {
      reply = await this.bus.requestAddr(
        { host: ip, port: cport },
        { op: 'join', node: this.myRecord(), slots: toRanges(this.view.slotsOf(this.myId)), size: this.view.nodes.size },
        COMMIT_TIMEOUT_MS,
      );
    } catch (e) {
      const m = (e as Error).message;
      if (m.startsWith('ERR ')) throw new Error(m.slice(4));
      throw new Error(`Cannot reach the cluster bus of ${ip}:${port} at port ${cport} (${m})`);
    }
    if (reply === 'admitted') this.becomeJoiner();
  }

  /** A node asks to join our cluster (its MEET). */
  private async admit(node: NodeRecord, slots: [number, number][], size: number): Promise<string> {
    if (this.joining) throw new Error('ERR this node is itself joining a cluster, retry shortly');
    if (this.state.nodes.has(node.id)) return 'known';
    const mySize = this.state.nodes.size;
    if (size > 1 && mySize > 1) {
      throw new Error(`ERR Cannot MEET: both nodes already belong to different clusters (${size} and ${mySize} nodes); CLUSTER RESET one side first`);
    }
    if (size > 1 && mySize <= 1) {
      // We are the lone one: we join its cluster.
      if (this.server.dbs.some((db) => db.size > 0) && this.view.slotsOf(this.myId).length === 0) {
        throw new Error('ERR Cannot join: this node holds keys but serves no slots');
      }
      // Our meet() strips the `ERR ` prefix; restore it so the asker reports the refusal itself
      // (e.g. a slot conflict) rather than "Cannot reach the cluster bus".
      await this.meet(node.ip, node.port, node.cport).catch((e: unknown) => {
        throw new Error(`ERR ${(e as Error).message}`);
      });
      return 'joined-you';
    }
    const r = await this.propose({ op: 'join', node: { ...node, failed: false }, slots });
    if (!r.ok) throw new Error(r.error);
    return 'admitted';
  }

  /** Our one-node log is superseded: receive the cluster's log as a learner. */
  private becomeJoiner(): void {
    this.server.log.notice('Admitted to a cluster; waiting for its configuration log');
    this.joining = true;
    this.view = this.state;
    this.state = new ConfigState();
    this.storage = new MemoryStorage();
    this.raft = this.newRaft(this.storage, 0);
    this.save();
  }

  /** CLUSTER RESET: become a lone node again (HARD: with a new id and epoch 0). */
  reset(hard: boolean): void {
    if (hard) this.myId = randomHex(40);
    this.myShardId = randomHex(40);
    this.joining = false;
    this.selfJoinTerm = -1;
    this.state = new ConfigState();
    this.view = this.state;
    this.storage = MemoryStorage.bootstrap([this.myId]);
    this.raft = this.newRaft(this.storage, 0);
    this.save();
    this.raft.campaign();
    this.lastVersion = -1;
    this.afterApply();
    this.scheduleReady();
  }

  /** Our Raft group is just us (a lone node), with no learners. */
  private isLoneVoter(): boolean {
    const st = this.raft.status();
    return st.voters.length === 1 && st.voters[0] === this.myId && st.learners.length === 0;
  }

  /**
   * CLUSTER FAILOVER on a replica. Default: the primary holds writes, we catch up to its offset, then
   * the leader fences it and commits the promotion. FORCE / TAKEOVER skip the primary (it may be down);
   * the leader still waits out the primary's write lease, so two primaries never accept writes at once.
   */
  async manualFailover(mode: 'default' | 'force' | 'takeover'): Promise<void> {
    const me = this.view.node(this.myId);
    if (!me || me.primary === null) throw new Error('You should send CLUSTER FAILOVER to a replica');
    const primary = this.view.node(me.primary);
    if (mode === 'default') {
      if (!primary || primary.failed) throw new Error('Master is down or failed, please use CLUSTER FAILOVER FORCE');
      let target: number;
      try {
        const r = (await this.bus.request(primary.id, { op: 'failover-prepare', replica: this.myId }, 2000)) as { offset: number };
        target = r.offset;
      } catch (e) {
        throw new Error(`Master is down or failed, please use CLUSTER FAILOVER FORCE (${(e as Error).message})`);
      }
      const deadline = this.clock.monoMs() + 5000;
      while ((this.replication?.offset() ?? target) < target) {
        if (this.clock.monoMs() > deadline) throw new Error('Manual failover timed out: the replica did not catch up with its primary');
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const leader = this.raft.status().leader;
    if (leader === null) throw new Error('No Raft leader: the cluster configuration cannot change now');
    if (leader === this.myId) await this.leaderManualFailover(this.myId);
    else await this.bus.request(leader, { op: 'manual-failover', replica: this.myId }, 10_000);
    await this.waitApplied(() => this.view.node(this.myId)?.primary === null, COMMIT_TIMEOUT_MS);
  }

  /** On the leader: fence the replica's primary, wait out its lease, commit the promotion. */
  private async leaderManualFailover(replica: string): Promise<string> {
    const r = this.state.node(replica);
    if (!r || r.primary === null) throw new Error('ERR You should send CLUSTER FAILOVER to a replica');
    const st = this.raft.status();
    if (st.role !== 'leader') throw new Error('ERR not the Raft leader any more, retry');
    const wait = this.failover.fenceForManualFailover(r.primary, this.clock.monoMs());
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    // The fence and the wait for the old primary's lease hold only for this leader's term.
    // Pinned to the primary fenced above (refused if a CLUSTER REPLICATE moved the replica meanwhile).
    const res = await this.propose({ op: 'batch', cmds: [{ op: 'failover', replica, primary: r.primary }] }, COMMIT_TIMEOUT_MS, st.term);
    if (!res.ok) throw new Error(res.error);
    return 'OK';
  }

  wasForgotten(id: string): boolean {
    const t = this.forgotten.get(id);
    return t !== undefined && this.clock.monoMs() - t < 60_000;
  }

  // ------------------------------------------------------------------ slot hand-off

  /**
   * CLUSTER SETSLOT <slot> NODE <to>. When another live node owns the slot, that owner performs the
   * hand-off (it must move its keys first); otherwise the change is proposed directly.
   */
  async setSlotNode(slot: number, to: string): Promise<void> {
    const v = this.view;
    if (!v.nodes.has(to)) throw new Error(`I don't know about node ${to}`);
    const owner = v.owners[slot];
    if (owner === to && !v.slotStates.has(slot)) return;
    if (owner === this.myId && owner !== to) return this.handoff(slot, to);
    if (owner !== null && owner !== to && !v.node(owner)?.failed) {
      try {
        await this.bus.request(owner, { op: 'handoff', slot, to }, COMMIT_TIMEOUT_MS * 6);
        // Reply only once our own view agrees, so clients redirected here are not sent back.
        await this.waitApplied(() => this.view.owners[slot] === to, COMMIT_TIMEOUT_MS);
        return;
      } catch (e) {
        const m = (e as Error).message;
        throw new Error(m.startsWith('ERR ') ? m.slice(4) : `The owner of slot ${slot} (${owner}) did not hand it off: ${m}`);
      }
    }
    await this.proposeOrThrow({ op: 'set-slot-node', slot, to, by: this.myId });
  }

  /** On the owner: move the slot's keys in every db to `to`, then commit the new owner. */
  handoff(slot: number, to: string): Promise<void> {
    const running = this.handoffs.get(slot);
    if (running) return running;
    const p = this.doHandoff(slot, to).finally(() => this.handoffs.delete(slot));
    this.handoffs.set(slot, p);
    return p;
  }

  private async doHandoff(slot: number, to: string): Promise<void> {
    const v = this.view;
    if (v.owners[slot] !== this.myId) {
      await this.proposeOrThrow({ op: 'set-slot-node', slot, to, by: this.myId });
      return;
    }
    const migrating = v.slotStates.get(slot)?.migrating;
    const hasKeys = (): boolean => this.server.dbs.some((db) => db.countKeysInSlot(slot) > 0);
    if (hasKeys()) {
      if (migrating?.to !== to) {
        throw new Error(`Can't assign hashslot ${slot} to a different node while I still hold keys for this hash slot.`);
      }
      const target = v.node(to);
      if (!target) throw new Error(`I don't know about node ${to}`);
      // Keys still here are the authoritative copies (new keys already go to the target via ASK).
      for (let pass = 0; hasKeys(); pass++) {
        if (pass > 1000) throw new Error(`slot ${slot}: keys keep appearing during the hand-off`);
        for (const db of this.server.dbs) {
          for (;;) {
            const keys = db.keysInSlot(slot, 100);
            if (keys.length === 0) break;
            await moveKeys(this.server, { host: target.ip, port: target.port }, { srcDb: db.id, dstDb: db.id, keys }, { copy: false, replace: true, timeoutMs: 10_000 });
          }
        }
      }
    }
    await this.proposeOrThrow({ op: 'set-slot-node', slot, to, by: this.myId });
  }

  // ------------------------------------------------------------------ introspection

  raftInfo(): Record<string, string | number> {
    const st = this.raft.status();
    return {
      raft_role: st.role,
      raft_term: st.term,
      raft_leader: st.leader ?? '',
      raft_commit_index: st.commit,
      raft_applied_index: st.applied,
      raft_first_index: st.firstIndex,
      raft_last_index: st.lastIndex,
      raft_voters: st.voters.length,
      raft_learners: st.learners.length,
    };
  }

  /** Last contact with a node (ms timestamp) for CLUSTER NODES pong-recv. */
  lastContact(id: string): number {
    return id === this.myId ? 0 : this.bus.lastHeardFrom(id);
  }
}

function randomHex(n: number): string {
  return crypto.randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}
