/**
 * One command through the gateway, for every front end (REST, WebSocket JSON, RESP over WebSocket):
 * lookup in the shared command table -> arity -> permission (token role, key/channel patterns, db)
 * -> rate limit -> route: a single slot, a split by slot (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH), a
 * cluster-wide fan-out (SCAN through CLUSTERSCAN, KEYS, DBSIZE, FLUSHDB, FLUSHALL, RANDOMKEY, INFO,
 * PING, SCRIPT/FUNCTION management), or any node (keyless commands). Commands that need a connection
 * of their own (blocking pops, WATCH, MULTI, SUBSCRIBE, MONITOR...) are refused with a clear error:
 * the REST routes have /multi-exec and SSE for those, the WebSocket session handles MULTI and
 * SUBSCRIBE itself.
 */
import { lookupCommand, keyPositions, hasFlag, type CommandSpec } from '../../common/src/commands/table';
import { globMatch } from '../../common/src/glob';
import { keyHashSlot, keyHashSlotBytes, patternHashSlot, utf8ToLatin1, SLOT_COUNT } from '../../common/src/slot';
import { Auth, type Principal } from './auth';
import type { Arg, ClusterClient, Reply, SyncNeed, WriteLog } from './cluster/client';
import { formatSyncToken, mergeSyncToken, syncNeed } from './sync-token';
import { ClusterRateLimiter } from './rate-limit';
import { Errors, ReplyError } from './errors';
import { GatewayMetrics } from './metrics';

export type Frontend = 'rest' | 'ws-json' | 'ws-resp';

export interface ExecContext {
  principal: Principal;
  db: number;
  frontend: Frontend;
  /** Read from replicas (per request or per token). */
  replica?: boolean;
  /** upstash-sync-token presented (see sync-token.ts). */
  syncToken?: string;
  /** What replica reads of this request need, from the token (computed on first use). */
  need?: SyncNeed | 'none';
  /** The replication offsets this request's writes reached (created by its first write). */
  log?: WriteLog;
  /** false: writes learn no replication offsets (a front end that hands out no sync token). */
  trackWrites?: boolean;
  /** Set by `finishWrites` after the request's writes: the sync token to hand back. */
  newSyncToken?: string;
  /** The front end already charged this request to the token's rate limit (REST: once per HTTP request). */
  rateCharged?: boolean;
}

/** Commands that need a connection of their own; `why` completes "… is not supported here: …". */
const STATEFUL: Record<string, string> = {
  watch: 'WATCH needs a connection of its own; use POST /multi-exec (same-slot transaction) instead',
  unwatch: 'WATCH needs a connection of its own; use POST /multi-exec instead',
  multi: 'use POST /multi-exec with the commands as a 2-D JSON array',
  exec: 'use POST /multi-exec with the commands as a 2-D JSON array',
  discard: 'use POST /multi-exec with the commands as a 2-D JSON array',
  subscribe: 'use GET/POST /subscribe/<channel> (Server-Sent Events) or the WebSocket endpoint /ws',
  psubscribe: 'use GET/POST /psubscribe/<pattern> (Server-Sent Events) or the WebSocket endpoint /ws',
  ssubscribe: 'use the WebSocket endpoint /ws',
  unsubscribe: 'only inside a subscription (WebSocket /ws)',
  punsubscribe: 'only inside a subscription (WebSocket /ws)',
  sunsubscribe: 'only inside a subscription (WebSocket /ws)',
  monitor: 'MONITOR is not available through the gateway',
  sync: 'replication commands are not available through the gateway',
  psync: 'replication commands are not available through the gateway',
  replconf: 'replication commands are not available through the gateway',
  select: 'select a database with the /db/<n>/ path prefix (REST) or SELECT inside a WebSocket session',
  auth: 'authenticate to the gateway with a token (Authorization: Bearer, or ?_token=)',
  hello: 'HELLO is only meaningful on a RESP connection (RESP over WebSocket)',
  quit: 'QUIT is only meaningful on a connection',
  reset: 'RESET is only meaningful on a connection',
  client: 'CLIENT commands act on the gateway\'s shared upstream connections and are not available',
  readonly: 'replica reads are chosen per token or per request (Upstash-Replica-Read header)',
  readwrite: 'replica reads are chosen per token or per request',
  asking: 'the gateway follows ASK redirects itself',
  wait: 'WAIT counts replicas for a connection; the gateway shares connections',
  waitaof: 'WAITAOF counts for a connection; the gateway shares connections',
  shutdown: 'SHUTDOWN is not available through the gateway',
  swapdb: 'SWAPDB is not supported in cluster mode',
};

/** Multi-key commands the gateway splits by slot and merges (not atomic across slots). */
const SPLIT = new Set(['mget', 'mset', 'del', 'unlink', 'exists', 'touch']);

/** Commands run on every primary and merged. `destructive` ones need an admin token. */
const FANOUT: Record<string, { destructive: boolean }> = {
  scan: { destructive: false },
  keys: { destructive: false },
  dbsize: { destructive: false },
  randomkey: { destructive: false },
  flushdb: { destructive: true },
  flushall: { destructive: true },
  info: { destructive: false },
  ping: { destructive: false },
  script: { destructive: false },
  function: { destructive: false },
};
/** Script runs that may write (EVAL_RO/EVALSHA_RO are flagged readonly in the command table). */
const WRITING_SCRIPT_RUNS = new Set(['eval', 'evalsha', 'fcall']);

/** SCRIPT/FUNCTION subcommands that change every node. */
const DESTRUCTIVE_SUB = new Set(['script|flush', 'script|kill', 'function|flush', 'function|delete', 'function|kill', 'function|restore', 'function|load']);

const MAX_SCAN_CALLS = 64;

/** Redis's unknown-command error, byte for byte (server.c: arguments quoted until 128 characters). */
export function unknownCommandError(argv: readonly string[]): string {
  const trunc = (x: string, n = 128): string => (x.length > n ? x.slice(0, n) : x);
  let args = '';
  for (let i = 1; i < argv.length && args.length < 128; i++) args += `'${trunc(argv[i]!, 128 - args.length)}' `;
  return `ERR unknown command '${trunc(argv[0]!)}', with args beginning with: ${args}`;
}

export function argStr(a: Arg): string {
  return typeof a === 'string' ? a : a.toString('utf8');
}

const ASCII = /^[\x00-\x7f]*$/;

/** Hash slot of a key given as a JS string (UTF-8 on the wire) or raw bytes. */
export function slotOf(a: Arg): number {
  if (typeof a === 'string') return ASCII.test(a) ? keyHashSlot(a) : keyHashSlotBytes(Buffer.from(a, 'utf8'));
  return keyHashSlotBytes(a);
}

/** The request's write log, created by its first write; none when the front end does not track writes. */
export function logOf(ctx: ExecContext): WriteLog | undefined {
  if (ctx.trackWrites === false) return undefined;
  return (ctx.log ??= { offsets: new Map(), unknown: false });
}

export interface Prepared {
  spec: CommandSpec;
  name: string;
  argv: string[];
  /** Route: a slot, -1 for any node, -2 for split/fan-out handled specially. */
  slot: number;
  write: boolean;
}

export class Executor {
  private readonly limiter: ClusterRateLimiter;

  constructor(
    readonly client: ClusterClient,
    readonly metrics: GatewayMetrics,
  ) {
    this.limiter = new ClusterRateLimiter(client);
  }

  /** Lookup, arity and permission checks; throws a ReplyError-like or a GatewayError. */
  prepare(ctx: ExecContext, args: readonly Arg[], allowStateful = false): Prepared {
    if (args.length === 0) throw Errors.badRequest('empty command');
    const argv = args.map(argStr);
    const spec = lookupCommand(argv);
    if (!spec) throw new ReplyError(unknownCommandError(argv));
    const name = spec.container ?? spec.name;
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
      throw new ReplyError(`ERR wrong number of arguments for '${spec.name}' command`);
    }
    if (!allowStateful && STATEFUL[name] !== undefined) throw Errors.unsupported(`${argv[0]!.toUpperCase()} is not supported here: ${STATEFUL[name]}`);
    if (!allowStateful && hasFlag(spec, 'blocking') && name !== 'xread' && name !== 'xreadgroup') {
      throw Errors.unsupported(`${argv[0]!.toUpperCase()} blocks a connection and is not supported over the stateless gateway; use the non-blocking form (e.g. LPOP instead of BLPOP)`);
    }
    if ((name === 'xread' || name === 'xreadgroup') && argv.some((a) => a.toLowerCase() === 'block')) {
      throw Errors.unsupported(`${argv[0]!.toUpperCase()} ... BLOCK is not supported over the stateless gateway`);
    }
    const destructive = (FANOUT[name]?.destructive ?? false) || DESTRUCTIVE_SUB.has(spec.name);
    Auth.authorize(ctx.principal, spec, argv, destructive);
    Auth.checkDb(ctx.principal, ctx.db, spec);
    // EVAL/EVALSHA may write (their _RO forms cannot): never sent to a replica.
    const write = hasFlag(spec, 'write') || name === 'publish' || name === 'spublish' || hasFlag(spec, 'may_replicate') || WRITING_SCRIPT_RUNS.has(name);
    let slot = -1;
    if (FANOUT[name] !== undefined && !(name === 'ping' && argv.length > 1)) slot = -2;
    else if (SPLIT.has(name)) slot = -2;
    // PUBLISH reaches every node's subscribers from any node; sending a channel's messages always to
    // the primary of the channel's slot keeps them in order (a random node per call would not).
    else if (name === 'publish') slot = slotOf(args[1]!);
    else {
      const pos = keyPositions(spec, argv);
      for (const p of pos) {
        const s = slotOf(args[p]!);
        if (slot === -1) slot = s;
        else if (s !== slot) throw new ReplyError("CROSSSLOT Keys in request don't hash to the same slot");
      }
    }
    return { spec, name, argv, slot, write };
  }

  /**
   * Spend one request of the token's rate limit (429 when empty): in the cluster (scope "cluster",
   * a promise) or in this process (scope "process", synchronous). Nothing to do for unlimited tokens.
   */
  chargeRate(principal: Principal): void | Promise<void> {
    const b = principal.bucket;
    if (b === null) return;
    if (b.scope === 'process') {
      try {
        Auth.rateLimit(principal);
      } catch (e) {
        this.metrics.rateLimited.inc();
        throw e;
      }
      return;
    }
    return this.limiter.take(principal.name, b.perSecond, b.burst).then((d) => {
      if (d.allowed) return;
      this.metrics.rateLimited.inc();
      throw Errors.rateLimited(`rate limit exceeded for token ${principal.name}: ${b.perSecond} requests/s (retry in ${d.retryAfterMs} ms)`);
    });
  }

  /**
   * The slot a command pins a transaction to (-1: keyless, goes with the others). Multi-key commands the
   * gateway would split run as they are when their keys share a slot; cluster-wide commands cannot run
   * inside a transaction on one shard.
   */
  transactionSlot(p: Prepared, args: readonly Arg[]): number {
    if (p.slot !== -2) return p.slot;
    if (SPLIT.has(p.name)) {
      let slot = -1;
      for (const pos of keyPositions(p.spec, p.argv)) {
        const s = slotOf(args[pos]!);
        if (slot >= 0 && s !== slot) throw Errors.crossSlot(`CROSSSLOT Keys in request don't hash to the same slot: inside /multi-exec ${p.name.toUpperCase()} is not split across shards; use a hash tag ({...}) to keep keys together`);
        slot = s;
      }
      return slot;
    }
    if (p.name === 'ping') return -1;
    throw Errors.badRequest(`${p.name.toUpperCase()} is a cluster-wide command and cannot run inside /multi-exec`);
  }

  /** Run one command (already checked by `prepare` when `prepared` is given). */
  async run(ctx: ExecContext, args: readonly Arg[], prepared?: Prepared): Promise<Reply> {
    const p = prepared ?? this.prepare(ctx, args);
    if (!ctx.rateCharged) {
      const c = this.chargeRate(ctx.principal);
      if (c) await c;
    }
    const m = this.metrics.forCommand(ctx.frontend, p.name);
    m.calls.inc();
    const started = performance.now();
    try {
      if (p.slot === -2) {
        // Fan-out writes (FLUSHDB, SCRIPT FLUSH, ...) learn no offsets; split ones (MSET, DEL) do.
        const log = p.write && !SPLIT.has(p.name) ? logOf(ctx) : undefined;
        if (log) log.unknown = true;
        return await this.special(ctx, p, args);
      }
      if (p.write) return await this.client.send(p.slot, args, { db: ctx.db, write: true, log: logOf(ctx) });
      const replica = ctx.replica ?? ctx.principal.replicaReads;
      return await this.client.send(p.slot, args, { db: ctx.db, replica, need: replica ? this.needOf(ctx) : undefined });
    } finally {
      m.duration.observe((performance.now() - started) / 1000);
    }
  }

  /** What this request's replica reads need (see sync-token.ts), from its token. */
  needOf(ctx: ExecContext): SyncNeed | undefined {
    if (ctx.need === undefined) ctx.need = syncNeed(ctx.syncToken, this.client.epoch, (prefix) => this.client.topology.primaryIdByPrefix(prefix)) ?? 'none';
    return ctx.need === 'none' ? undefined : ctx.need;
  }

  /**
   * After a request's writes (all acknowledged, or failed): the sync token to hand back, in
   * ctx.newSyncToken. Synchronous unless the token must be rebuilt from every primary's offset.
   */
  finishWrites(ctx: ExecContext): void | Promise<void> {
    const log = ctx.log;
    if (!log) return;
    const epoch = this.client.epoch;
    const merged = mergeSyncToken(ctx.syncToken, log, epoch);
    if (merged !== null) {
      ctx.newSyncToken = merged;
      return;
    }
    return this.client.primaryOffsets().then((all) => {
      ctx.newSyncToken = formatSyncToken(epoch, all);
    });
  }

  private async special(ctx: ExecContext, p: Prepared, args: readonly Arg[]): Promise<Reply> {
    const db = ctx.db;
    this.metrics.fanouts.inc({ cmd: GatewayMetrics.cmdLabel(p.name) });
    switch (p.name) {
      case 'mget':
      case 'exists':
      case 'touch':
      case 'del':
      case 'unlink':
      case 'mset':
        return this.split(ctx, p, args);
      case 'scan':
        return this.scan(ctx, p, args);
    }
    if (p.name === 'keys') {
      // A pattern with a hash tag names one slot: only its owner can hold matching keys.
      const ps = patternHashSlot(utf8ToLatin1(p.argv[1]!));
      if (ps >= 0) return this.filterKeys(ctx, await this.client.send(ps, args, { db }));
    }
    // Every shard, through one of its slots: a shard failing over mid-call is retried on its new primary.
    const shards = this.client.shardSlots();
    if (shards.length === 0) throw Errors.upstream('the cluster has no primary with slots');
    this.metrics.fanoutNodes.observe(shards.length);
    const results = await Promise.all(shards.map((n) => this.client.send(n.slot, args, { db, write: p.write }).then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e }))));
    const firstErr = results.find((x) => !x.ok);
    if (firstErr && !firstErr.ok) throw firstErr.e;
    const replies = results.map((x) => (x as { r: Reply }).r);
    switch (p.name) {
      case 'keys':
        return this.filterKeys(ctx, replies.flatMap((r) => (Array.isArray(r) ? r : [])));
      case 'dbsize':
        return replies.reduce<number>((s, r) => s + (typeof r === 'number' ? r : 0), 0);
      case 'randomkey': {
        const keys = replies.filter((r): r is Buffer => Buffer.isBuffer(r));
        return keys.length ? keys[Math.floor(Math.random() * keys.length)]! : null;
      }
      case 'info':
        return this.mergeInfo(shards.map((n) => n.addr), replies);
      case 'ping':
        return replies[0] ?? null;
      default:
        // FLUSHDB, FLUSHALL, SCRIPT/FUNCTION management: every node agrees (or the first error above).
        if (p.spec.name === 'script|exists') {
          // A script exists only if it exists everywhere.
          const arrs = replies.filter(Array.isArray) as number[][];
          return arrs[0]!.map((_, i) => (arrs.every((a) => a[i] === 1) ? 1 : 0));
        }
        return replies[0]!;
    }
  }

  /** Keys a key-restricted token may see (KEYS/SCAN results); everything for other tokens. */
  private filterKeys(ctx: ExecContext, r: Reply): Reply {
    const pats = ctx.principal.keys;
    if (!pats || !Array.isArray(r)) return r;
    return r.filter((k) => Buffer.isBuffer(k) && pats.some((pat) => globMatch(pat, k.toString('utf8'))));
  }

  /** INFO over the cluster: summed counters first (# Cluster-wide), then each node's own INFO. */
  private mergeInfo(addrs: string[], replies: Reply[]): Buffer {
    const sums = new Map<string, number>();
    const keyspace = new Map<string, { keys: number; expires: number }>();
    const SUM = /^(connected_clients|used_memory|total_commands_processed|total_connections_received|instantaneous_ops_per_sec|keyspace_hits|keyspace_misses|expired_keys|evicted_keys|total_net_input_bytes|total_net_output_bytes|connected_slaves)$/;
    for (const r of replies) {
      if (!Buffer.isBuffer(r)) continue;
      for (const line of r.toString().split('\r\n')) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i);
        const v = line.slice(i + 1);
        if (SUM.test(k) && /^\d+$/.test(v)) sums.set(k, (sums.get(k) ?? 0) + Number(v));
        const m = /^db(\d+)$/.exec(k);
        if (m) {
          const kv = Object.fromEntries(v.split(',').map((x) => x.split('=')));
          const cur = keyspace.get(k) ?? { keys: 0, expires: 0 };
          cur.keys += Number(kv.keys ?? 0);
          cur.expires += Number(kv.expires ?? 0);
          keyspace.set(k, cur);
        }
      }
    }
    let out = `# Cluster-wide\r\ncluster_nodes:${addrs.length}\r\n`;
    for (const [k, v] of sums) out += `${k}:${v}\r\n`;
    for (const [k, v] of [...keyspace].sort()) out += `${k}:keys=${v.keys},expires=${v.expires}\r\n`;
    replies.forEach((r, i) => {
      if (Buffer.isBuffer(r)) out += `\r\n# Node ${addrs[i]}\r\n${r.toString()}`;
    });
    return Buffer.from(out);
  }

  /** MGET/EXISTS/TOUCH/DEL/UNLINK/MSET split by slot, one call per slot group, merged in order. */
  private async split(ctx: ExecContext, p: Prepared, args: readonly Arg[]): Promise<Reply> {
    const step = p.name === 'mset' ? 2 : 1;
    if (p.name === 'mset' && (args.length - 1) % 2 !== 0) throw new ReplyError("ERR wrong number of arguments for 'mset' command");
    const groups = new Map<number, number[]>(); // slot -> argument indexes of the keys
    for (let i = 1; i < args.length; i += step) {
      const s = slotOf(args[i]!);
      let g = groups.get(s);
      if (!g) groups.set(s, (g = []));
      g.push(i);
    }
    const write = p.write;
    const replica = !write && (ctx.replica ?? ctx.principal.replicaReads);
    const opts = write ? { db: ctx.db, write, log: logOf(ctx) } : { db: ctx.db, replica, need: replica ? this.needOf(ctx) : undefined };
    if (groups.size === 1) {
      const [slot] = groups.keys();
      return this.client.send(slot!, args, opts);
    }
    this.metrics.fanoutNodes.observe(groups.size);
    const entries = [...groups];
    const replies = await Promise.all(
      entries.map(([slot, idx]) => {
        const sub: Arg[] = [args[0]!];
        for (const i of idx) {
          sub.push(args[i]!);
          if (step === 2) sub.push(args[i + 1]!);
        }
        return this.client.send(slot, sub, opts);
      }),
    );
    if (p.name === 'mset') return Buffer.from('OK');
    if (p.name === 'mget') {
      const out: Reply[] = new Array((args.length - 1) / step);
      entries.forEach(([, idx], gi) => {
        const r = replies[gi] as Reply[];
        idx.forEach((argIdx, j) => (out[argIdx - 1] = r[j] ?? null));
      });
      return out;
    }
    return replies.reduce<number>((s, r) => s + (typeof r === 'number' ? r : 0), 0);
  }

  /**
   * SCAN over the whole cluster: CLUSTERSCAN calls routed by cursor (the cursor hashes to the slot it
   * names), repeated until COUNT keys are collected or the iteration ends. The cursor is opaque.
   */
  private async scan(ctx: ExecContext, p: Prepared, args: readonly Arg[]): Promise<Reply> {
    const argv = p.argv;
    let cursor = argv[1]!;
    let count = 10;
    let match: string | null = null;
    let withType = false;
    const rest: string[] = [];
    for (let i = 2; i < argv.length; i += 2) {
      const opt = argv[i]!.toUpperCase();
      if (opt === 'WITHTYPE') {
        // Upstash's extension (@upstash/redis scan(cursor, {withType: true})): [key, type, key, type...].
        withType = true;
        i--;
        continue;
      }
      const v = argv[i + 1];
      if (v === undefined) throw new ReplyError('ERR syntax error');
      if (opt === 'COUNT') {
        if (!/^-?\d+$/.test(v)) throw new ReplyError('ERR value is not an integer or out of range');
        if (Number(v) < 1) throw new ReplyError('ERR syntax error');
        count = Number(v);
      } else if (opt === 'MATCH') match = v;
      else if (opt !== 'TYPE') throw new ReplyError('ERR syntax error');
      rest.push(opt, v);
    }
    void args;
    let keys: Reply[] = [];
    for (let calls = 0; calls < MAX_SCAN_CALLS; calls++) {
      let slot: number;
      if (cursor === '0') {
        const ps = match !== null ? patternHashSlot(utf8ToLatin1(match)) : -1;
        slot = ps >= 0 ? ps : 0;
      } else slot = keyHashSlot(cursor);
      const r = await this.client.send(slot, ['CLUSTERSCAN', cursor, ...rest], { db: ctx.db });
      if (!Array.isArray(r) || !Buffer.isBuffer(r[0]) || !Array.isArray(r[1])) throw Errors.upstream('unexpected CLUSTERSCAN reply');
      const next = r[0].toString();
      const nextSlot = next === '0' ? SLOT_COUNT : keyHashSlot(next);
      this.metrics.scanSlots.inc(Math.max(1, nextSlot - slot));
      keys.push(...r[1]);
      cursor = next;
      if (cursor === '0' || keys.length >= count) break;
    }
    keys = this.filterKeys(ctx, keys) as Reply[];
    if (withType) {
      const types = await Promise.all(keys.map((k) => this.client.send(slotOf(k as Buffer), ['TYPE', k as Buffer], { db: ctx.db })));
      keys = keys.flatMap((k, i) => [k, types[i]!]);
    }
    return [Buffer.from(cursor), keys];
  }
}
