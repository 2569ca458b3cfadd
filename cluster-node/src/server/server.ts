/**
 * The server: listener, clients, databases, the dispatch loop (lookup -> arity -> auth -> tx/pubsub
 * gates -> cluster route -> memory -> execute), output flushing with backpressure, pub/sub fan-out,
 * keyspace notifications, blocking-key wakeups, active expiry and eviction.
 */
import net from 'node:net';
import { adoptWithSharedBuffer } from '../../../common/src/net/socket-reader';
import { performance } from 'node:perf_hooks';
import { RespWriter } from '../../../common/src/resp/writer';
import { ProtocolError } from '../../../common/src/resp/request-parser';
import { COMMANDS } from '../../../common/src/commands/table';
import type { CommandSpec } from '../../../common/src/commands/types';
import { Db, type KeyspaceHooks } from '../keyspace/db';
import { Config } from './config';
import { Client, NO_OUTPUT, type BlockState } from './client';
import { HANDLERS } from '../commands/index';
import { ReplyError, type Handler } from '../commands/registry';
import { PubSub } from './pubsub';
import { Evictor } from './eviction';
import { Stats, type CommandStat } from './stats';
import { Logger } from './log';
import type { Cluster } from '../cluster/cluster';
import { Replication } from '../replication/replication';

/** What cluster mode plugs into dispatch (the "shared" half of the cluster interface). */
export interface ClusterRouter {
  /** Error text to reply instead of running the command (MOVED, ASK, CROSSSLOT...), or null to run it. */
  route(c: Client, spec: CommandSpec, argv: string[]): string | null;
}

/** Listener for writes to propagate (replication stream, AOF). */
export type PropagateFn = (dbIndex: number, argv: string[]) => void;

const ALLOWED_IN_SUBSCRIBED = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
const TX_CONTROL = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);
/** Output up to this size is queued as a latin1 string rather than a Buffer (see takeOutput). */
const SMALL_OUTPUT = 16 * 1024;
/** Pending output above which a client's input is paused until the socket drains. */
const OUTPUT_HIGH_WATER = 4 * 1024 * 1024;

/** Spec flags the dispatch path tests on every command, as bits computed once at registration. */
const F_WRITE = 1;
const F_DENYOOM = 2;
const F_NO_AUTH = 4;
const F_NO_MULTI = 8;
const F_SKIP_SLOWLOG = 16;
const F_SKIP_MONITOR = 32; // skip_monitor or admin
const F_FAST = 64;
const F_STALE = 128;
/** EXEC and scripts propagate the writes they ran (wrapped in MULTI/EXEC), never their own argv. */
const F_OWN_EFFECTS = 256;
const OWN_EFFECTS = new Set(['exec', 'eval', 'evalsha', 'eval_ro', 'evalsha_ro']);

function flagBits(spec: CommandSpec): number {
  const f = spec.flags;
  return (
    (f.includes('write') ? F_WRITE : 0) |
    (f.includes('denyoom') ? F_DENYOOM : 0) |
    (f.includes('no_auth') ? F_NO_AUTH : 0) |
    (f.includes('no_multi') ? F_NO_MULTI : 0) |
    (f.includes('skip_slowlog') ? F_SKIP_SLOWLOG : 0) |
    (f.includes('skip_monitor') || f.includes('admin') ? F_SKIP_MONITOR : 0) |
    (f.includes('fast') ? F_FAST : 0) |
    (f.includes('stale') ? F_STALE : 0) |
    (OWN_EFFECTS.has(spec.name) ? F_OWN_EFFECTS : 0)
  );
}

export interface Handled {
  spec: CommandSpec;
  handler: Handler;
  bits: number;
  /** This command's INFO commandstats entry, valid while `statEpoch` is the stats' epoch (CONFIG RESETSTAT starts a new one). */
  stat: CommandStat | null;
  statEpoch: number;
}

/** Config values read on every command, refreshed whenever CONFIG SET changes one. */
interface HotConfig {
  maxmemory: number;
  slowlogSlower: number;
  slowlogMaxLen: number;
  latencyThreshold: number;
  replicaReadOnly: boolean;
  replicaServeStale: boolean;
  minReplicasToWrite: number;
  minReplicasMaxLag: number;
  /** min-replicas-ack N (0 = asynchronous replication, the hot path's only check). */
  minReplicasAck: number;
  /** How long a write waits for N acknowledgements: max(1000, 2 x cluster-node-timeout) ms. */
  ackTimeoutMs: number;
}

export class Server {
  readonly config: Config;
  readonly dbs: Db[];
  readonly clients = new Map<number, Client>();
  /** Clients with queued output (each once: Client.pendingWrite), written by flushAll. */
  readonly pendingWrites: Client[] = [];
  readonly pubsub: PubSub;
  readonly stats = new Stats();
  readonly log: Logger;
  readonly evictor: Evictor;
  readonly monitors = new Set<Client>();
  /** Writer for the client being served; `aux` writes to other clients (pub/sub, wakeups). */
  readonly writer = new RespWriter();
  readonly aux = new RespWriter(4096);
  current: Client | null = null;
  /** Count of changes since the last save (rdb_changes_since_last_save). */
  dirty = 0;
  lastSave = Math.floor(Date.now() / 1000);
  readonly startTime = Date.now();
  readonly runId: string;
  cluster: ClusterRouter | null = null;
  /** Cluster mode's state (null in standalone mode); commands reach the configuration through it. */
  clusterNode: Cluster | null = null;
  readonly propagators: PropagateFn[] = [];
  /** Role: replicas reject writes from normal clients (set by replication). */
  isReplica = false;
  /** Keys that got data while clients were blocked on them. */
  private readyKeys: { db: Db; key: string }[] = [];
  /** Id for the next client (connections accepted here, and the replication link to our primary). */
  nextClientId = 1;
  private tcp: net.Server[] = [];
  private cronTimer: NodeJS.Timeout | null = null;
  /** Command time snapshot for now(): 0 outside a command, -1 inside one until the clock is first read. */
  private nowCache = 0;
  private readonly table = new Map<string, Handled>();
  /** Propagation currently replaces the executing command's argv (set by handlers via rewrite). */
  private rewritten: string[][] | null = null;
  shuttingDown = false;

  constructor(config: Config) {
    this.config = config;
    this.log = new Logger(config);
    this.runId = randomHex(40);
    const hooks: KeyspaceHooks = {
      now: () => this.now(),
      expired: (db, key) => this.onKeyExpired(db, key),
      get isReplica() {
        return server.isReplica;
      },
      get servingPrimary() {
        return server.current !== null && server.current.isPrimaryLink;
      },
    };
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const server = this;
    const n = config.bool('cluster-enabled') ? config.int('cluster-databases') : config.int('databases');
    this.dbs = Array.from({ length: n }, (_, i) => new Db(i, hooks));
    this.pubsub = new PubSub(this);
    this.evictor = new Evictor(this);
    for (const [name, spec] of COMMANDS) {
      this.register(name, spec);
    }
    config.onChange = (name) => this.onConfigChange(name);
    this.hot = this.readHotConfig();
    this.replication = new Replication(this);
  }

  /** Primary/replica replication (replication/replication.ts): follow(), promote(), replicas()... */
  readonly replication: Replication;
  /**
   * Called before every write command runs (set while RDB snapshots are in progress: they serialize
   * the slots the command touches first, see persistence/snapshot.ts).
   */
  beforeWrite: ((c: Client, spec: CommandSpec, argv: string[]) => void) | null = null;

  private hot: HotConfig;

  private readHotConfig(): HotConfig {
    const c = this.config;
    return {
      maxmemory: c.int('maxmemory'),
      slowlogSlower: c.int('slowlog-log-slower-than'),
      slowlogMaxLen: c.int('slowlog-max-len'),
      latencyThreshold: c.int('latency-monitor-threshold'),
      replicaReadOnly: c.bool('replica-read-only'),
      replicaServeStale: c.bool('replica-serve-stale-data'),
      minReplicasToWrite: c.int('min-replicas-to-write'),
      minReplicasMaxLag: c.int('min-replicas-max-lag'),
      minReplicasAck: c.int('min-replicas-ack'),
      ackTimeoutMs: Math.max(1000, 2 * c.int('cluster-node-timeout')),
    };
  }

  private register(name: string, spec: CommandSpec): void {
    if (spec.subcommands) {
      for (const sub of spec.subcommands.values()) this.register(sub.name, sub);
    }
    let handler = HANDLERS[name];
    if (!handler && spec.subcommands) {
      // Containers resolve their subcommand in dispatch; reaching this means the subcommand is unknown.
      handler = (c, argv) => {
        throw new ReplyError(
          argv.length < 2
            ? `ERR wrong number of arguments for '${spec.name}' command`
            : `ERR unknown subcommand '${trunc(argv[1])}'. Try ${spec.name.toUpperCase()} HELP.`,
        );
      };
    }
    if (handler) {
      const h: Handled = { spec, handler, bits: flagBits(spec), stat: null, statEpoch: -1 };
      this.table.set(name, h);
      if (!spec.container) this.table.set(name.toUpperCase(), h);
    }
  }

  /** Handler lookup for a spec name (used by EXEC and tests). */
  handlerFor(name: string): Handled | undefined {
    return this.table.get(name);
  }

  /**
   * Milliseconds, fixed for the duration of one command like Redis's command time snapshot. The clock
   * is read on the command's first call (most commands never ask), not up front for every command.
   */
  now(): number {
    const t = this.nowCache;
    if (t > 0) return t;
    const n = Date.now();
    if (t < 0) this.nowCache = n;
    return n;
  }

  // ---------------------------------------------------------------- network

  async listen(): Promise<void> {
    const port = this.config.int('port');
    const binds = this.config.str('bind').split(/\s+/).filter(Boolean);
    for (const raw of binds) {
      const optional = raw.startsWith('-');
      const host = optional ? raw.slice(1) : raw;
      // pauseOnConnect: nothing is read before accept() moves the socket onto the shared read buffer.
      // (maxclients is enforced in accept(): the server's own connection count drops as soon as a
      // socket is adopted, so net.Server's maxConnections would never apply.)
      const srv = net.createServer({ noDelay: true, pauseOnConnect: true }, (s) => this.accept(s));
      try {
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ port, host, backlog: this.config.int('tcp-backlog') }, () => {
            srv.off('error', reject);
            resolve();
          });
        });
        this.tcp.push(srv);
      } catch (e) {
        if (!optional) throw e;
      }
    }
    const hz = this.config.int('hz');
    this.cronTimer = setInterval(() => this.cron(), Math.max(1, Math.floor(1000 / hz)));
    this.log.notice(`Ready to accept connections tcp on port ${this.boundPort()}`);
  }

  /** The TCP port actually bound (useful with --port 0). */
  boundPort(): number {
    const a = this.tcp[0]?.address();
    return a && typeof a === 'object' ? a.port : this.config.int('port');
  }

  async close(): Promise<void> {
    this.shuttingDown = true;
    if (this.cronTimer) clearInterval(this.cronTimer);
    this.replication.close();
    for (const c of [...this.clients.values()]) this.freeClient(c);
    await Promise.all(this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private accept(accepted: net.Socket): void {
    if (this.clients.size >= this.config.int('maxclients')) {
      accepted.end('-ERR max number of clients reached\r\n');
      this.stats.rejectedConnections++;
      return;
    }
    // Reads land in one shared buffer (socket-reader.ts); the stream path is the fallback.
    let c: Client | null = null;
    const adopted = adoptWithSharedBuffer(accepted, (chunk) => this.onData(c!, chunk, true));
    const socket = adopted ?? accepted;
    socket.setNoDelay(true);
    const ka = this.config.int('tcp-keepalive');
    if (ka > 0) socket.setKeepAlive(true, ka * 1000);
    c = new Client(this.nextClientId++, this, socket);
    this.clients.set(c.id, c);
    this.stats.totalConnections++;
    if (adopted === null) {
      socket.on('data', (chunk: Buffer) => this.onData(c, chunk, false));
      socket.resume();
    }
    socket.on('drain', () => {
      if (c.readPaused) {
        c.readPaused = false;
        socket.resume();
        this.processInput(c);
        this.flushAll();
      }
    });
    socket.on('error', () => this.freeClient(c));
    socket.on('close', () => this.freeClient(c));
  }

  /** Bytes from a client; a `borrowed` chunk is reused once this returns (socket-reader.ts). */
  private onData(c: Client, chunk: Buffer, borrowed: boolean): void {
    if (c.closing) return;
    c.netIn += chunk.length;
    this.stats.netInput += chunk.length;
    c.lastInteraction = Date.now();
    try {
      c.parser.feed(chunk, borrowed);
    } catch (e) {
      c.parser.release();
      this.protocolError(c, e);
      return;
    }
    this.processInput(c);
    c.parser.release();
    this.flushAtEndOfTurn();
  }

  private protocolError(c: Client, e: unknown): void {
    if (e instanceof ProtocolError) {
      if (e.silent) this.log.warning(`Closing client that reached max query buffer length: id=${c.id} addr=${c.addr}`);
      else {
        const w = this.aux;
        w.proto = c.resp;
        w.error(`ERR ${e.message}`);
        c.queue(w.take());
        this.stats.errorReply('ERR');
      }
      this.flushClient(c);
      this.closeClient(c, true);
      return;
    }
    // A parser bug must cost one connection, never the node.
    this.log.warning(`Closing client id=${c.id} addr=${c.addr} after an internal parser error: ${(e as Error)?.stack ?? e}`);
    this.closeClient(c, true);
  }

  /** Parse and run every complete command buffered for a client (stops while it is blocked). */
  processInput(c: Client): void {
    if (c.closing || c.blocked || c.readPaused) return;
    const w = this.writer;
    this.current = c;
    w.proto = c.resp;
    c.w = w;
    try {
      for (;;) {
        let argv: string[] | null;
        if (c.heldArgv !== null) {
          argv = c.heldArgv;
          c.heldArgv = null;
        } else {
          try {
            argv = c.parser.next();
          } catch (e) {
            this.takeOutput(c);
            this.current = null;
            this.protocolError(c, e);
            return;
          }
        }
        if (argv === null) break;
        if (this.parkGate !== 0 && this.heldByPause(c, argv)) {
          c.heldArgv = argv;
          break;
        }
        this.execute(c, argv);
        if (c.blocked || c.closing) break;
        if (c.closeAfterReply) break;
        if (w.len > 256 * 1024) {
          this.takeOutput(c);
          if (c.outBytes > OUTPUT_HIGH_WATER) {
            this.pauseReading(c);
            break;
          }
        }
      }
    } finally {
      this.takeOutput(c);
      this.current = null;
    }
    if (c.closeAfterReply) {
      this.flushClient(c);
      this.closeClient(c, false);
    }
  }

  /**
   * Move what the main writer holds for the current client into its output queue. Small output goes
   * as a latin1 string: one short string instead of a Buffer object plus a copy (socket.write takes
   * strings directly); larger output stays a Buffer.
   */
  private takeOutput(c: Client): void {
    const w = this.writer;
    if (w.len > 0) c.queue(w.len <= SMALL_OUTPUT ? w.takeLatin1() : w.take());
  }

  private pauseReading(c: Client): void {
    if (!c.readPaused) {
      c.readPaused = true;
      c.socket.pause();
    }
  }

  // ---------------------------------------------------------------- CLIENT PAUSE

  /** CLIENT PAUSE: deadline (ms) and whether only writes are held. */
  pausedUntil = 0;
  private pauseWritesOnly = false;
  private pauseTimer: NodeJS.Timeout | null = null;
  /** Active holdWrites() holds. */
  private writeHolds = 0;
  /** Nonzero while CLIENT PAUSE or a write hold may park commands: dispatch's one per-command check. */
  private parkGate = 0;

  pauseClients(until: number, writesOnly: boolean): void {
    this.parkGate = 1;
    // A new pause never shortens nor weakens an existing one.
    if (this.pausedUntil > Date.now()) {
      this.pausedUntil = Math.max(this.pausedUntil, until);
      this.pauseWritesOnly = this.pauseWritesOnly && writesOnly;
    } else {
      this.pausedUntil = until;
      this.pauseWritesOnly = writesOnly;
    }
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => this.unpauseClients(), Math.max(0, this.pausedUntil - Date.now()));
  }

  unpauseClients(): void {
    this.pausedUntil = 0;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    // Not synchronously: CLIENT UNPAUSE runs inside its client's command, and serving another client
    // there would mix their replies (the parked client got the unpausing client's pending output).
    queueMicrotask(() => this.resumeParked());
  }

  /**
   * Park other clients' writes (what CLIENT PAUSE WRITE parks: writes, EXEC, PUBLISH, commands in MULTI)
   * until the returned release function is called; holds nest. MIGRATE and slot moves use it to keep the
   * keys they move unchanged between DUMP and DEL without blocking the event loop. Replication links
   * and RESTORE-ASKING pass (two nodes moving slots to each other must not wait on each other).
   */
  holdWrites(): () => void {
    this.writeHolds++;
    this.parkGate = 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // Resume after the current call stack: a release may run inside another client's command.
      if (--this.writeHolds === 0) queueMicrotask(() => this.resumeParked());
    };
  }

  private resumeParked(): void {
    this.parkGate = this.pausedUntil > 0 || this.writeHolds > 0 ? 1 : 0;
    for (const c of this.clients.values()) if (c.heldArgv !== null) this.processInput(c);
    this.flushAll();
  }

  private heldByPause(c: Client, argv: string[]): boolean {
    if (c.isPrimaryLink || c.isReplicaLink) return false;
    const paused = Date.now() < this.pausedUntil;
    if (!paused && this.writeHolds === 0) return false;
    if (paused && !this.pauseWritesOnly) return true;
    const spec = this.table.get(argv[0]) ?? this.table.get(argv[0].toLowerCase());
    if (!spec) return false;
    const name = spec.spec.name;
    if (!paused && name === 'restore-asking') return false;
    // EXEC and scripts that may write (not EVAL_RO/EVALSHA_RO) wait too, as in Redis.
    const mayWrite = (spec.bits & F_WRITE) !== 0 || ((spec.bits & F_OWN_EFFECTS) !== 0 && !spec.spec.flags.includes('readonly'));
    return mayWrite || name === 'publish' || name === 'spublish' || (c.multi !== null && name !== 'discard');
  }

  // ---------------------------------------------------------------- dispatch

  /** Run one command from a client: the single dispatch path for every command. */
  execute(c: Client, argv: string[]): void {
    c.commands++;
    this.nowCache = 0;
    const name = argv[0];
    let h = this.table.get(name);
    if (h === undefined) h = this.table.get(name.toLowerCase());
    if (h === undefined) {
      return this.reject(c, null, unknownCommand(argv));
    }
    let spec = h.spec;
    if (spec.subcommands) {
      if (argv.length >= 2) {
        const sub = this.table.get(`${spec.name}|${argv[1].toLowerCase()}`);
        if (sub !== undefined) {
          h = sub;
          spec = sub.spec;
        } else if (!HANDLERS[spec.name]) {
          return this.reject(c, spec, `ERR unknown subcommand '${trunc(argv[1])}'. Try ${spec.name.toUpperCase()} HELP.`);
        }
      } else if (!HANDLERS[spec.name]) {
        return this.reject(c, spec, `ERR wrong number of arguments for '${spec.name}' command`);
      }
    }
    const arity = spec.arity;
    if ((arity > 0 && argv.length !== arity) || argv.length < -arity) {
      return this.reject(c, spec, `ERR wrong number of arguments for '${spec.name}' command`);
    }
    if (!c.authenticated && !(h.bits & F_NO_AUTH)) {
      return this.reject(c, spec, 'NOAUTH Authentication required.');
    }
    if (c.multi !== null && !TX_CONTROL.has(spec.container ?? spec.name)) {
      if (h.bits & F_NO_MULTI) return this.reject(c, spec, 'ERR Command not allowed inside a transaction');
      const routeErr = this.cluster?.route(c, spec, argv) ?? null;
      if (routeErr !== null) return this.reject(c, spec, routeErr);
      const pre = this.preconditions(c, h);
      if (pre !== null) return this.reject(c, spec, pre);
      c.multi.push({ spec, argv });
      c.w.simple('QUEUED');
      return;
    }
    if (c.inSubscribedMode && !ALLOWED_IN_SUBSCRIBED.has(spec.name)) {
      return this.reject(
        c,
        spec,
        `ERR Can't execute '${spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
    }
    if (this.cluster !== null) {
      const routeErr = this.cluster.route(c, spec, argv);
      if (routeErr !== null) {
        // A refused EXEC (MOVED/ASK/CROSSSLOT/TRYAGAIN/CLUSTERDOWN) discards the transaction, as Redis's
        // processCommand does; otherwise the client would stay in MULTI and queue what follows.
        if (spec.name === 'exec' && c.multi !== null) {
          c.multi = null;
          c.multiError = false;
          c.unwatchAll();
        }
        return this.reject(c, spec, routeErr);
      }
    }
    const err = this.preconditions(c, h);
    if (err !== null) return this.reject(c, spec, err);
    if (this.hot.minReplicasAck === 0) this.call(c, h, argv);
    else {
      const mark = c.w.len;
      const offsetBefore = this.replication.offset();
      this.call(c, h, argv);
      this.holdForAcks(c, h, c.w, mark, offsetBefore);
    }
    if (this.readyKeys.length > 0 && !c.inExec) this.serveBlockedClients();
  }

  /** Checks that apply both at dispatch and to each command in EXEC: memory and replica role. */
  preconditions(c: Client, h: Handled): string | null {
    if (this.hot.maxmemory > 0 && h.bits & F_DENYOOM && !c.isPrimaryLink && !this.evictor.makeRoom()) {
      return "OOM command not allowed when used memory > 'maxmemory'.";
    }
    const hot = this.hot;
    if (hot.minReplicasToWrite > 0 && hot.minReplicasMaxLag > 0 && h.bits & F_WRITE && !this.isReplica && this.replication.goodReplicas(hot.minReplicasMaxLag) < hot.minReplicasToWrite) {
      return 'NOREPLICAS Not enough good replicas to write.';
    }
    if (hot.minReplicasAck > 0 && h.bits & F_WRITE && !this.isReplica && !c.isPrimaryLink && !c.isReplicaLink && this.replication.goodReplicas(Infinity) < hot.minReplicasAck) {
      return 'NOREPLICAS Not enough good replicas to write.';
    }
    if (this.isReplica && h.bits & F_WRITE && !c.isPrimaryLink && hot.replicaReadOnly) {
      return "READONLY You can't write against a read only replica.";
    }
    if (this.isReplica && !hot.replicaServeStale && !(h.bits & F_STALE) && !c.isPrimaryLink && this.replication.link()?.up === false) {
      return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    }
    return null;
  }

  /**
   * min-replicas-ack N >= 1: after a write (or an EXEC or script that wrote) from a normal client on a primary, hold its reply
   * (bytes from `mark` in `w`) and the rest of its pipeline until N replicas acknowledged the stream
   * offset right after it (GETACK is sent once per event-loop turn by waitForAcks), or reply NOREPLICAS
   * after hot.ackTimeoutMs. Nothing is held when the acks are already there.
   */
  private holdForAcks(c: Client, h: Handled, w: RespWriter, mark: number, offsetBefore = -1): void {
    if (c.blocked !== null || c.inExec || c.isPrimaryLink || c.isReplicaLink || this.isReplica) return;
    const need = this.hot.minReplicasAck;
    const repl = this.replication;
    const offset = repl.offset();
    // EXEC and scripts are held only when they propagated writes (offsetBefore: the stream offset before them).
    if (!(h.bits & F_WRITE) && !(h.bits & F_OWN_EFFECTS && offsetBefore >= 0 && offset !== offsetBefore)) return;
    if (repl.ackedReplicas(offset) >= need) return;
    const held = Buffer.from(w.buf.subarray(mark, w.len));
    w.truncate(mark);
    const acked = repl.waitForAcks(need, offset, this.hot.ackTimeoutMs);
    this.deferReply(
      c,
      acked.then((n) => {
        // In a cluster, acks that come after this primary's write lease ran out do not count: a failover
        // may already have been decided without them (cluster/failover.ts).
        if (n >= need && this.clusterNode?.writeLeaseValid() !== false) return (out: RespWriter) => out.rawBytes(held);
        this.stats.errorReply('NOREPLICAS');
        return (out: RespWriter) => out.error(`NOREPLICAS Write applied locally but not acknowledged by ${need} replicas in time; it may be lost on failover`);
      }),
    );
  }

  private reject(c: Client, spec: CommandSpec | null, msg: string): void {
    if (c.multi !== null) c.multiError = true;
    if (spec) this.stats.command(spec.name).rejected++;
    this.stats.errorReply(errorCode(msg));
    c.w.error(msg);
  }

  /** Execute a resolved command: monitor feed, timing, stats, propagation, slowlog. */
  call(c: Client, h: Handled, argv: string[]): void {
    const spec = h.spec;
    const w = c.w;
    const mark = w.len;
    const dirty = this.dirty;
    c.cmdSpec = spec;
    c.cmdArgv = argv;
    const skipReply = c.replyMode !== 'on';
    this.nowCache = -1;
    this.rewritten = null;
    const t0 = performance.now();
    try {
      if (this.beforeWrite !== null && h.bits & F_WRITE) this.beforeWrite(c, spec, argv);
      h.handler(c, argv);
    } catch (e) {
      if (!(e instanceof ReplyError)) {
        this.log.warning(`Internal error in '${spec.name}': ${(e as Error)?.stack ?? e}`);
        w.truncate(mark);
        w.error(`ERR internal error executing '${spec.name}': ${(e as Error)?.message ?? e}`);
      } else {
        w.truncate(mark);
        w.error(e.message);
      }
    }
    const us = (performance.now() - t0) * 1000;
    this.nowCache = 0;
    c.lastCommand = spec.name;
    let st = h.stat;
    if (st === null || h.statEpoch !== this.stats.epoch) {
      st = h.stat = this.stats.command(spec.name);
      h.statEpoch = this.stats.epoch;
    }
    st.calls++;
    st.usec += us;
    if (w.len > mark && w.buf[mark] === 0x2d) {
      st.failed++;
      this.stats.errorReply(errorCodeAt(w.buf, mark + 1, w.len));
    }
    if (skipReply) {
      w.truncate(mark);
      if (c.replyMode === 'skip' && spec.name !== 'client|reply') c.replyMode = 'on';
    }
    if (this.dirty !== dirty && !(h.bits & F_OWN_EFFECTS)) {
      // (The handler may have set it: TypeScript still sees the null assigned above.)
      const rewritten = this.rewritten as string[][] | null;
      if (this.txBuffer !== null) {
        if (rewritten === null) this.txBuffer.push({ db: c.dbIndex, argv });
        else for (const a of rewritten) this.txBuffer.push({ db: c.dbIndex, argv: a });
      } else if (this.propagators.length > 0) {
        // Index loops, no [argv] wrapper: this runs for every write.
        const ps = this.propagators;
        if (rewritten === null) for (let i = 0; i < ps.length; i++) ps[i](c.dbIndex, argv);
        else for (const a of rewritten) for (let i = 0; i < ps.length; i++) ps[i](c.dbIndex, a);
      }
    }
    this.rewritten = null;
    const hot = this.hot;
    if (hot.slowlogSlower >= 0 && us >= hot.slowlogSlower && !(h.bits & F_SKIP_SLOWLOG)) this.stats.slowlog(c, argv, us, hot.slowlogMaxLen);
    if (us >= 1000 && hot.latencyThreshold > 0) {
      this.stats.latencySample(h.bits & F_FAST ? 'fast-command' : 'command', Math.floor(us / 1000), hot.latencyThreshold);
    }
    // As Redis 7: fed after execution (db as left by the command, EXEC after its queued commands),
    // not again when a woken blocked command re-runs.
    if (this.monitors.size > 0 && this.resumingDeadline < 0 && !(h.bits & F_SKIP_MONITOR)) {
      this.feedMonitors(c, argv);
    }
  }

  /**
   * Replace what is propagated for the running command (e.g. EXPIRE -> PEXPIREAT, SPOP -> SREM) so
   * replicas and the AOF replay it deterministically. Each call adds one command.
   */
  propagateAs(argv: string[]): void {
    if (this.rewritten === null) this.rewritten = [];
    this.rewritten.push(argv);
  }

  /** Writes made by EXEC's commands, propagated together wrapped in MULTI/EXEC. */
  private txBuffer: { db: number; argv: string[] }[] | null = null;

  beginTransactionPropagation(): void {
    this.txBuffer = [];
  }

  endTransactionPropagation(dbIndex: number): void {
    const buf = this.txBuffer;
    this.txBuffer = null;
    if (buf === null || buf.length === 0 || this.propagators.length === 0) return;
    for (const p of this.propagators) {
      p(dbIndex, ['MULTI']);
      for (const e of buf) p(e.db, e.argv);
      p(dbIndex, ['EXEC']);
    }
  }

  /** Propagate an extra write that is not the running command (expired-key DEL, eviction DEL). */
  propagateNow(dbIndex: number, argv: string[]): void {
    for (const p of this.propagators) p(dbIndex, argv);
  }

  /** Show a command to MONITOR clients (EVAL feeds itself before its script's commands, as Redis does). */
  feedMonitors(c: Client, argv: string[]): void {
    const ts = Date.now() / 1000;
    const line = `+${ts.toFixed(6)} [${c.dbIndex} ${c.addr}] ${argv.map(repr).join(' ')}\r\n`;
    const b = Buffer.from(line, 'latin1');
    // A monitor sees its own commands too, after their replies.
    for (const m of this.monitors) if (m === c) c.w.raw(line);
    else m.queue(b);
  }

  // ---------------------------------------------------------------- output

  private flushScheduled = false;
  private readonly flushTurn = (): void => {
    this.flushScheduled = false;
    this.flushAll();
  };

  /**
   * Write queued output once every socket that was readable in this event-loop turn has been served
   * (setImmediate runs after the poll phase's I/O callbacks), as Redis writes its replies in
   * beforeSleep: one write per client per turn, and back-to-back writes instead of a write between
   * every two reads (a client that went back to sleep in between costs the kernel a wakeup each time).
   */
  private flushAtEndOfTurn(): void {
    if (this.flushScheduled || this.pendingWrites.length === 0) return;
    this.flushScheduled = true;
    setImmediate(this.flushTurn);
  }

  /** Write every queued output buffer to its socket. */
  flushAll(): void {
    const list = this.pendingWrites;
    // By index: a client that gets output while others are flushed is appended and written too.
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      c.pendingWrite = false;
      this.flushClient(c);
    }
    list.length = 0;
  }

  flushClient(c: Client): void {
    const out = c.out;
    if (out.length === 0 || c.closing) return;
    const data = out.length === 1 ? out[0] : concatOutput(out, c.outBytes);
    const n = data.length;
    c.out = NO_OUTPUT;
    c.outBytes = 0;
    c.netOut += n;
    this.stats.netOutput += n;
    if (typeof data === 'string') c.socket.write(data, 'latin1');
    else c.socket.write(data);
    const pending = c.socket.writableLength;
    if (pending > OUTPUT_HIGH_WATER) {
      if (c.subscriptionCount > 0 || c.monitor) this.checkPubsubLimit(c, pending);
      else this.pauseReading(c);
    } else if (c.softLimitSince !== 0) c.softLimitSince = 0;
  }

  /** client-output-buffer-limit pubsub <hard> <soft> <seconds>. */
  private checkPubsubLimit(c: Client, pending: number): void {
    const m = /pubsub\s+(\S+)\s+(\S+)\s+(\d+)/i.exec(this.config.str('client-output-buffer-limit'));
    const hard = m ? Number(m[1]) : 32 * 1024 * 1024;
    const soft = m ? Number(m[2]) : 8 * 1024 * 1024;
    const secs = m ? Number(m[3]) : 60;
    const now = Date.now();
    let over = hard > 0 && pending > hard;
    if (!over && soft > 0 && pending > soft) {
      if (c.softLimitSince === 0) c.softLimitSince = now;
      else if (now - c.softLimitSince >= secs * 1000) over = true;
    }
    if (over) {
      this.log.warning(`Client id=${c.id} addr=${c.addr} closed for overcoming of output buffer limits.`);
      this.stats.clientOutputLimitDisconnections++;
      this.closeClient(c, true);
    }
  }

  /** Encode something for a client other than the one being served and queue it. */
  sendTo(c: Client, encode: (w: RespWriter) => void): void {
    if (c === this.current) {
      encode(this.writer);
      return;
    }
    const w = this.aux;
    w.proto = c.resp;
    encode(w);
    c.queue(w.take());
  }

  // ---------------------------------------------------------------- clients

  /** Close a client now (async=false) or once its pending output is written. */
  closeClient(c: Client, now: boolean): void {
    if (c.closing) return;
    if (now) {
      this.freeClient(c);
      c.socket.destroy();
    } else {
      this.flushClient(c);
      c.closing = true;
      c.socket.end();
      this.freeClient(c);
    }
  }

  private freeClient(c: Client): void {
    if (!this.clients.has(c.id)) return;
    this.clients.delete(c.id);
    c.closing = true;
    if (c.blocked) this.unblock(c);
    c.unwatchAll();
    c.multi = null;
    this.pubsub.removeClient(c);
    this.monitors.delete(c);
    if (!c.socket.destroyed && c.socket.writableLength === 0) c.socket.destroy();
  }

  // ---------------------------------------------------------------- keyspace events

  /** A key changed: fail WATCHers, wake blocked clients. Called by every write handler. */
  signalModified(db: Db, key: string): void {
    if (db.watched !== null) db.touchWatched(key);
  }

  /** A key received data that blocked clients may want (list push, zadd...). */
  signalKeyReady(db: Db, key: string): void {
    if (db.blockedKeys !== null && db.blockedKeys.has(key)) this.readyKeys.push({ db, key });
  }

  private onKeyExpired(db: Db, key: string): void {
    this.stats.expiredKeys++;
    this.signalModified(db, key);
    this.pubsub.notify('x', 'expired', key, db.id);
    // Like Redis, a lazy/active expiry is propagated as DEL but is not a change of the running
    // command (no dirty++), so a read that reclaims an expired key is not propagated itself.
    this.propagateNow(db.id, ['DEL', key]);
  }

  // ---------------------------------------------------------------- blocking

  /**
   * Block the running client on keys until one is ready or the deadline (ms, 0 = never) passes.
   * When a key is signalled the command is re-executed from scratch, as Redis 7 does.
   */
  block(c: Client, keys: string[], deadline: number, onTimeout: (c: Client) => void): void {
    const spec = c.cmdSpec!;
    const argv = c.cmdArgv!;
    if (this.resumingDeadline >= 0) deadline = this.resumingDeadline;
    const state: BlockState = { db: c.db, keys, deadline, timer: null, spec, argv, onTimeout };
    const db = c.db;
    if (db.blockedKeys === null) db.blockedKeys = new Map();
    for (const k of keys) {
      let list = db.blockedKeys.get(k);
      if (!list) db.blockedKeys.set(k, (list = []));
      list.push(c);
    }
    if (deadline > 0) {
      const fire = (): void => {
        if (c.blocked !== state) return;
        const left = deadline - Date.now();
        // setTimeout caps delays at 2^31-1 ms (longer ones fire at once): re-arm until the deadline.
        if (left > 0) {
          state.timer = setTimeout(fire, Math.min(left, 0x7fffffff));
          return;
        }
        this.unblock(c);
        const w = this.aux;
        w.proto = c.resp;
        c.w = w;
        state.onTimeout(c);
        c.queue(w.take());
        this.stats.blockedTimeouts++;
        this.resumeClient(c);
      };
      state.timer = setTimeout(fire, Math.min(Math.max(0, deadline - Date.now()), 0x7fffffff));
    }
    c.blocked = state;
    this.stats.blockedClients++;
  }

  unblock(c: Client): void {
    const st = c.blocked;
    if (!st) return;
    c.blocked = null;
    this.stats.blockedClients--;
    if (st.timer) clearTimeout(st.timer);
    const bk = st.db.blockedKeys;
    if (bk) {
      for (const k of st.keys) {
        const list = bk.get(k);
        if (!list) continue;
        const i = list.indexOf(c);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) bk.delete(k);
      }
    }
  }

  /**
   * Suspend the running client until `reply` settles, then write what it resolves to (or its rejection
   * as an error reply) and resume the client's pipeline. Used by commands that wait for something
   * outside the event-loop turn (a Raft commit, a MIGRATE round trip). Not for use inside MULTI/EXEC:
   * callers must check `c.inExec` and answer synchronously there.
   */
  deferReply(c: Client, reply: Promise<(w: RespWriter) => void>): void {
    const state: BlockState = {
      db: c.db,
      keys: [],
      deadline: 0,
      timer: null,
      spec: c.cmdSpec!,
      argv: c.cmdArgv!,
      onTimeout: () => undefined,
      deferred: true,
    };
    c.blocked = state;
    this.stats.blockedClients++;
    const silent = c.replyMode !== 'on';
    const finish = (write: (w: RespWriter) => void): void => {
      if (c.blocked !== state) return; // client went away
      this.unblock(c);
      if (c.closing) return;
      const w = this.aux;
      w.proto = c.resp;
      c.w = w;
      if (!silent) write(w);
      c.queue(w.take());
      this.resumeClient(c);
    };
    reply.then(finish, (e: unknown) => {
      const msg = e instanceof ReplyError ? e.message : `ERR ${(e as Error)?.message ?? e}`;
      finish((w) => w.error(msg));
    });
  }

  /** Unblock a client from outside (CLIENT UNBLOCK, slot moved): reply as on timeout or with an error. */
  unblockWith(c: Client, error: string | null): void {
    const st = c.blocked;
    if (!st) return;
    this.unblock(c);
    const w = this.aux;
    w.proto = c.resp;
    c.w = w;
    if (error === null) st.onTimeout(c);
    else w.error(error);
    c.queue(w.take());
    this.resumeClient(c);
  }

  /** After a client leaves the blocked state, serve the rest of its pipeline. */
  private resumeClient(c: Client): void {
    setImmediate(() => {
      this.processInput(c);
      this.flushAll();
    });
    this.flushAll();
  }

  /** Re-run the commands of clients blocked on keys that became ready, FIFO per key. */
  private serveBlockedClients(): void {
    const saved = this.current;
    while (this.readyKeys.length > 0) {
      const ready = this.readyKeys;
      this.readyKeys = [];
      for (const { db, key } of ready) {
        const list = db.blockedKeys?.get(key);
        if (!list) continue;
        for (const waiter of [...list] as Client[]) {
          const st = waiter.blocked;
          if (!st) continue;
          if (!db.has(key)) break;
          this.unblock(waiter);
          const w = this.aux;
          w.proto = waiter.resp;
          waiter.w = w;
          this.current = waiter;
          const h = this.table.get(st.spec.name)!;
          this.resumingDeadline = st.deadline;
          this.resumingKey = key;
          const mark = w.len;
          this.call(waiter, h, st.argv);
          if (this.hot.minReplicasAck !== 0) this.holdForAcks(waiter, h, w, mark);
          this.resumingDeadline = -1;
          this.resumingKey = null;
          this.current = saved;
          if (w.len > 0) waiter.queue(w.take());
          if (!waiter.blocked) this.resumeClient(waiter);
        }
      }
    }
    if (saved) saved.w = this.writer;
  }

  /** While re-running a woken command, the deadline it had (so re-blocking keeps its timeout). */
  resumingDeadline = -1;
  /** While re-running a woken command, the ready key that woke it (Redis 7.0 serves that key first). */
  resumingKey: string | null = null;

  // ---------------------------------------------------------------- cron

  /** DEBUG SET-ACTIVE-EXPIRE 0 turns the active expire cycle off (keys then expire only lazily). */
  activeExpireEnabled = true;

  private cron(): void {
    if (this.activeExpireEnabled) this.evictor.activeExpire(25);
    const timeout = this.config.int('timeout');
    if (timeout > 0) {
      const limit = Date.now() - timeout * 1000;
      for (const c of this.clients.values()) {
        if (c.lastInteraction < limit && !c.blocked && c.subscriptionCount === 0 && !c.monitor && !c.isPrimaryLink && !c.isReplicaLink) {
          this.closeClient(c, true);
        }
      }
    }
    if (this.hot.maxmemory > 0) this.evictor.makeRoom();
    this.stats.sample(this);
    this.flushAll();
  }

  private onConfigChange(name: string): void {
    this.hot = this.readHotConfig();
    if (name === 'maxmemory-policy') this.evictor.policyChanged();
    if (name === 'hz' && this.cronTimer) {
      clearInterval(this.cronTimer);
      this.cronTimer = setInterval(() => this.cron(), Math.max(1, Math.floor(1000 / this.config.int('hz'))));
    }
    if (name === 'notify-keyspace-events') this.pubsub.configure();
    if (name === 'proto-max-bulk-len' || name === 'client-query-buffer-limit') {
      for (const c of this.clients.values()) {
        c.parser.limits.maxBulkLen = this.config.int('proto-max-bulk-len');
        c.parser.limits.maxQueryBuffer = this.config.int('client-query-buffer-limit');
      }
    }
  }

  /** Estimated dataset bytes (sum over dbs). */
  datasetBytes(): number {
    let n = 0;
    for (const db of this.dbs) n += db.used;
    return n;
  }
}

/**
 * A client's queued output as one piece (strings are latin1 bytes): all strings are joined as strings
 * (the common case: several small replies in one turn), without a Buffer copy of each; a mix becomes
 * one Buffer.
 */
function concatOutput(out: readonly (Buffer | string)[], bytes: number): Buffer | string {
  let strings = true;
  for (let i = 0; i < out.length && strings; i++) strings = typeof out[i] === 'string';
  if (strings) return (out as readonly string[]).join('');
  const buf = Buffer.allocUnsafe(bytes);
  let p = 0;
  for (const b of out) p += typeof b === 'string' ? buf.latin1Write(b, p) : b.copy(buf, p);
  return buf;
}

function unknownCommand(argv: string[]): string {
  let args = '';
  for (let i = 1; i < argv.length && args.length < 128; i++) args += `'${trunc(argv[i], 128 - args.length)}' `;
  return `ERR unknown command '${trunc(argv[0])}', with args beginning with: ${args}`;
}

function trunc(s: string, n = 128): string {
  return s.length > n ? s.slice(0, n) : s;
}

/** The error code word: "ERR", "WRONGTYPE", "MOVED"... */
function errorCode(msg: string): string {
  const sp = msg.indexOf(' ');
  return sp < 0 ? msg : msg.slice(0, sp);
}

function errorCodeAt(buf: Buffer, start: number, end: number): string {
  let i = start;
  while (i < end && buf[i] !== 0x20 && buf[i] !== 0x0d) i++;
  return buf.latin1Slice(start, i);
}

/** Redis's sdscatrepr: a quoted, escaped representation of a byte string. */
export function repr(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const c = s[i];
    if (c === '\\' || c === '"') out += '\\' + c;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (ch === 7) out += '\\a';
    else if (ch === 8) out += '\\b';
    else if (ch < 32 || ch > 126) out += '\\x' + ch.toString(16).padStart(2, '0');
    else out += c;
  }
  return out + '"';
}

function randomHex(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}
