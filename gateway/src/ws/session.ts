/**
 * One WebSocket session: the connection state a stateless REST call cannot have — the selected db,
 * a MULTI queue, subscriptions, the RESP protocol version — and the encoding of replies and pushes
 * for its mode (JSON frames or RESP over binary frames). See ./server.ts for the wire protocol.
 *
 * Invariants:
 * - Replies leave in request order (a reply slot per command; commands run concurrently, like a
 *   pipelined Redis client; commands on one slot keep their order on the shared upstream connection).
 * - State changes (SELECT, MULTI queueing, subscription sets) apply when a command is received, so
 *   later commands see them; subscribe-family commands and EXEC additionally run one after another
 *   and before any command received after them (a PUBLISH after SUBSCRIBE reaches this socket).
 * - Pub/sub messages are sent as they arrive (not behind pending replies).
 * - Nothing is written once the session is closing; the outgoing queue is bounded by `queueLimit`
 *   bytes (the socket's bufferedAmount): over it the session closes itself with 4008.
 * - The upstream connection is never told about this session's db: every command carries its db
 *   to the cluster client, which keeps one upstream connection per (node, db).
 */
import type { WebSocket } from 'ws';
import { Auth, type Principal } from '../auth';
import type { Arg, Reply } from '../cluster/client';
import { GatewayError, ReplyError } from '../errors';
import { argStr, type ExecContext, type Executor } from '../executor';
import type { GatewayMetrics } from '../metrics';
import type { HubMessage, HubSubscriber, PubSubHub, SubKind } from '../pubsub/hub';
import { SUB_CMD } from '../pubsub/upstream';
import { toJson } from '../rest/encode';
import { encodeEach, encodeResp, replyShape, type Shape } from '../rest/reply-shape';
import { runTransaction } from '../rest/routes';
import { CLOSE } from './close-codes';

export type WsMode = 'json' | 'resp';

/** Metric children bound once (label lookups cost more than the increment on the fan-out path). */
export interface SessionCounters {
  in: { inc(): void };
  out: { inc(): void };
  droppedClosed: { inc(): void };
}

export function sessionCounters(m: GatewayMetrics): SessionCounters {
  return { in: m.wsMessages.labels('in'), out: m.wsMessages.labels('out'), droppedClosed: m.droppedMessages.labels('closed') };
}

export interface SessionDeps {
  counters: SessionCounters;
  auth: Auth;
  executor: Executor;
  hub: PubSubHub;
  metrics: GatewayMetrics;
  databases: number;
  queueLimit: number;
  maxQueued: number;
}

/** A request tag: the JSON request id, echoed in the reply. */
interface Tag {
  id?: unknown;
  hasId: boolean;
}

/** One reply position in the ordered output. */
interface Slot {
  done: boolean;
  frames: Array<Buffer | string>;
  /** Close the socket once this reply is written (QUIT, a protocol error). */
  closeAfter?: { code: number; reason: string; label: string };
}

type JsonOut = Record<string, unknown>;

const SUB_KIND: Record<string, { kind: SubKind; sub: boolean }> = {
  subscribe: { kind: 'channel', sub: true },
  psubscribe: { kind: 'pattern', sub: true },
  ssubscribe: { kind: 'shard', sub: true },
  unsubscribe: { kind: 'channel', sub: false },
  punsubscribe: { kind: 'pattern', sub: false },
  sunsubscribe: { kind: 'shard', sub: false },
};

/** RESP2 subscribed mode allows only these (as Redis). */
const ALLOWED_SUBSCRIBED = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
/** Session commands refused inside MULTI. */
const NOT_IN_MULTI = new Set(['select', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'hello', 'auth', 'reset', 'watch']);
const PUSH_TYPE: Record<SubKind, string> = { channel: 'message', pattern: 'pmessage', shard: 'smessage' };
const MAX_INFLIGHT = 1024;

const latin1ToUtf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

/** Error text as a RESP client expects it: a leading error code word. */
export function respErrorText(e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ');
  if (e instanceof GatewayError) {
    if (e.kind === 'forbidden') return `NOPERM ${msg}`;
    if (e.kind === 'auth') return `WRONGPASS ${msg}`;
    if (/^[A-Z][A-Z_]+ /.test(msg)) return msg;
    return `ERR ${msg}`;
  }
  return /^[A-Z][A-Z_-]* /.test(msg) || /^[A-Z]+$/.test(msg) ? msg : `ERR ${msg}`;
}

export class WsSession implements HubSubscriber {
  proto: 2 | 3 = 2;
  db: number;
  readonly subs: Record<SubKind, Set<string>> = { channel: new Set(), pattern: new Set(), shard: new Set() };
  private multi: { cmds: Arg[][]; dirty: boolean } | null = null;
  private readonly slots: Slot[] = [];
  /** The last pending subscribe-family/EXEC command: later commands start after it. */
  private barrier: Promise<void> | null = null;
  private inflight = 0;
  private paused = false;
  closing = false;
  /** Why the gateway closed the socket (metrics label); unset when the peer closed it. */
  closeReason: string | null = null;
  /** Heartbeat: a pong (or any message) arrived since the last ping. */
  alive = true;

  constructor(
    readonly ws: WebSocket,
    readonly mode: WsMode,
    public principal: Principal,
    readonly initialDb: number,
    private readonly d: SessionDeps,
  ) {
    this.db = initialDb;
  }

  private get frontend(): 'ws-json' | 'ws-resp' {
    return this.mode === 'json' ? 'ws-json' : 'ws-resp';
  }

  private ctx(): ExecContext {
    // Replica reads (a token's replicaReads) see the session's own writes: the session keeps the sync
    // token its writes produced, and a read sent while one of its writes is in flight goes to the primary.
    return { principal: this.principal, db: this.db, frontend: this.frontend, trackWrites: this.principal.replicaReads === true };
  }

  /** The sync token of this session's writes so far (replica reads only). */
  private syncToken: string | undefined;
  /** Writes sent and not answered yet (replica reads only). */
  private writing = 0;

  private get subscribed(): number {
    return this.subs.channel.size + this.subs.pattern.size + this.subs.shard.size;
  }

  // ---- output ----------------------------------------------------------------------------------

  /** Write one frame now (replies go through `slots` first). */
  private write(frame: Buffer | string): void {
    if (this.closing || this.ws.readyState !== this.ws.OPEN) {
      this.d.counters.droppedClosed.inc();
      return;
    }
    this.ws.send(frame, { binary: this.mode === 'resp' });
    this.d.counters.out.inc();
    if (this.ws.bufferedAmount > this.d.queueLimit) this.slowConsumer();
  }

  private slowConsumer(): void {
    this.d.metrics.droppedMessages.inc({ reason: 'slow_consumer' });
    this.close(CLOSE.SLOW_CONSUMER, `slow consumer: more than ${this.d.queueLimit} bytes queued`, 'slow_consumer');
  }

  /** Close with a code; a peer that does not read its close frame is cut off after `graceMs`. */
  close(code: number, reason: string, label: string, graceMs = 5000): void {
    if (this.closing) return;
    this.closing = true;
    this.closeReason = label;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    setTimeout(() => {
      if (this.ws.readyState !== this.ws.CLOSED) this.ws.terminate();
    }, graceMs).unref();
  }

  private flush(): void {
    while (this.slots.length && this.slots[0]!.done) {
      const s = this.slots.shift()!;
      for (const f of s.frames) this.write(f);
      if (s.closeAfter) this.close(s.closeAfter.code, s.closeAfter.reason, s.closeAfter.label, 1000);
    }
  }

  private openSlot(): Slot {
    const s: Slot = { done: false, frames: [] };
    this.slots.push(s);
    this.inflight++;
    if (this.inflight > MAX_INFLIGHT && !this.paused) {
      this.paused = true;
      this.ws.pause();
    }
    return s;
  }

  private finish(s: Slot): void {
    s.done = true;
    this.inflight--;
    if (this.paused && this.inflight < MAX_INFLIGHT / 2) {
      this.paused = false;
      this.ws.resume();
    }
    this.flush();
  }

  private jsonFrame(o: JsonOut, tag: Tag | null): string {
    if (tag?.hasId) return JSON.stringify({ id: tag.id, ...o });
    return JSON.stringify(o);
  }

  /**
   * A normal reply value. RESP clients get it in the protocol the command ran under, shaped as Redis
   * would have sent it (`shape`: +status, RESP3 maps, sets, doubles; for EXEC one shape per command).
   */
  private result(s: Slot, tag: Tag | null, r: Reply, proto: 2 | 3 = this.proto, shape?: Shape | Array<Shape | undefined>): void {
    if (this.mode === 'json') s.frames.push(this.jsonFrame({ result: toJson(r, false) }, tag));
    else s.frames.push(Array.isArray(shape) ? encodeEach(r, proto, shape) : encodeResp(r, proto, shape));
    this.finish(s);
  }

  /** A simple-string reply (+OK, +QUEUED, +PONG). */
  private status(s: Slot, tag: Tag | null, text: string): void {
    if (this.mode === 'json') s.frames.push(this.jsonFrame({ result: text }, tag));
    else s.frames.push(Buffer.from(`+${text}\r\n`));
    this.finish(s);
  }

  private error(s: Slot, tag: Tag | null, e: unknown): void {
    if (e instanceof GatewayError) this.d.metrics.errors.inc({ kind: e.kind });
    else this.d.metrics.errors.inc({ kind: 'redis' });
    if (this.mode === 'json') s.frames.push(this.jsonFrame({ error: e instanceof Error ? e.message : String(e) }, tag));
    else s.frames.push(Buffer.from(`-${respErrorText(e)}\r\n`));
    this.finish(s);
  }

  /** A (un)subscribe confirmation push, as frames of the command's reply. */
  private confirmFrame(type: string, kind: SubKind, name: string | null, count: number): Buffer | string {
    if (this.mode === 'json') {
      const o: JsonOut = { type };
      o[kind === 'pattern' ? 'pattern' : 'channel'] = name === null ? null : latin1ToUtf8(name);
      o.count = count;
      return JSON.stringify(o);
    }
    const head = this.proto === 3 ? '>3\r\n' : '*3\r\n';
    const nm = name === null ? (this.proto === 3 ? '_\r\n' : '$-1\r\n') : `$${name.length}\r\n${name}\r\n`;
    return Buffer.from(`${head}$${type.length}\r\n${type}\r\n${nm}:${count}\r\n`, 'latin1');
  }

  /** HubSubscriber: a pub/sub message for this socket. Never blocks. */
  deliver(m: HubMessage): void {
    if (this.closing) {
      this.d.counters.droppedClosed.inc();
      return;
    }
    const key = this.mode === 'json' ? 'json' : this.proto === 3 ? 'resp3' : 'resp2';
    let f = m.cache.get(key);
    if (f === undefined) {
      f = key === 'json' ? encodeJsonPush(m) : encodeRespPush(m, this.proto);
      m.cache.set(key, f);
    }
    this.write(f);
  }

  // ---- input -----------------------------------------------------------------------------------

  /** A JSON frame: `["CMD", ...]` or `{"id": any, "cmd": [...]}`. */
  onJson(text: string): void {
    this.d.counters.in.inc();
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      const s = this.openSlot();
      this.error(s, null, new GatewayError('GW_ERR_BAD_REQUEST', 400, 'bad_request', `invalid JSON frame: ${(e as Error).message}`));
      return;
    }
    let tag: Tag = { hasId: false };
    let cmd: unknown = v;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as { id?: unknown; cmd?: unknown };
      tag = { id: o.id, hasId: 'id' in o };
      cmd = o.cmd;
    }
    if (!Array.isArray(cmd) || cmd.length === 0) {
      const s = this.openSlot();
      this.error(s, tag, new GatewayError('GW_ERR_BAD_REQUEST', 400, 'bad_request', 'expected a command: ["SET","key","value"] or {"id": 1, "cmd": ["GET","key"]}'));
      return;
    }
    const args: Arg[] = [];
    for (let i = 0; i < cmd.length; i++) {
      const x = cmd[i] as unknown;
      if (typeof x === 'string') args.push(x);
      else if (typeof x === 'number' || typeof x === 'boolean') args.push(String(x));
      else {
        const s = this.openSlot();
        this.error(s, tag, new GatewayError('GW_ERR_BAD_REQUEST', 400, 'bad_request', `argument ${i} must be a string, number or boolean, not ${x === null ? 'null' : typeof x}`));
        return;
      }
    }
    this.command(args, tag);
  }

  /** A RESP command (argv as parsed: latin1 strings, turned back into bytes). */
  onResp(argv: string[]): void {
    this.d.counters.in.inc();
    this.command(argv.map((a) => Buffer.from(a, 'latin1')), null);
  }

  /** The RESP input was not RESP: answer the error (after pending replies) and close. */
  protocolError(text: string | null): void {
    if (this.closing) return;
    const s = this.openSlot();
    s.closeAfter = { code: CLOSE.PROTOCOL_ERROR, reason: 'protocol error', label: 'protocol' };
    if (text === null) return this.finish(s);
    s.frames.push(Buffer.from(`-ERR ${text.replace(/[\r\n]+/g, ' ')}\r\n`));
    this.finish(s);
  }

  /** One command, in arrival order. */
  command(args: Arg[], tag: Tag | null): void {
    if (this.closing) return;
    this.alive = true;
    const s = this.openSlot();
    const name = argStr(args[0]!).toLowerCase();
    if (this.mode === 'resp' && this.proto === 2 && this.subscribed > 0 && !ALLOWED_SUBSCRIBED.has(name)) {
      this.error(s, tag, new ReplyError(`ERR Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`));
      return;
    }
    if (this.multi && NOT_IN_MULTI.has(name)) {
      this.multi.dirty = true;
      this.error(s, tag, new ReplyError(`ERR Command not allowed inside a transaction`));
      return;
    }
    try {
      switch (name) {
        case 'select':
          return this.select(s, tag, args);
        case 'multi':
          if (this.multi) return this.error(s, tag, new ReplyError('ERR MULTI calls can not be nested'));
          if (args.length !== 1) return this.error(s, tag, new ReplyError("ERR wrong number of arguments for 'multi' command"));
          this.multi = { cmds: [], dirty: false };
          return this.status(s, tag, 'OK');
        case 'discard':
          if (!this.multi) return this.error(s, tag, new ReplyError('ERR DISCARD without MULTI'));
          this.multi = null;
          return this.status(s, tag, 'OK');
        case 'exec':
          return this.exec(s, tag);
        case 'watch':
          return this.error(s, tag, new ReplyError('ERR WATCH is not supported through the gateway (it needs an upstream connection of its own); MULTI/EXEC in a session is queued by the gateway and runs atomically on one shard'));
        case 'unwatch':
          if (this.multi) break;
          return this.status(s, tag, 'OK');
        case 'ping':
          if (this.multi) break;
          return this.ping(s, tag, args);
        case 'quit':
          s.closeAfter = { code: CLOSE.NORMAL, reason: 'bye', label: 'client' };
          return this.status(s, tag, 'OK');
        case 'reset':
          return this.reset(s, tag);
        case 'hello':
          if (this.mode === 'resp') return this.hello(s, tag, args);
          break;
        case 'auth':
          return this.authCmd(s, tag, args);
      }
      const sk = SUB_KIND[name];
      if (sk) return this.subCommand(s, tag, args, name, sk.kind, sk.sub);
      if (this.multi) return this.queue(s, tag, args);
      this.run(s, tag, args);
    } catch (e) {
      this.error(s, tag, e);
    }
  }

  private select(s: Slot, tag: Tag | null, args: Arg[]): void {
    if (args.length !== 2) return this.error(s, tag, new ReplyError("ERR wrong number of arguments for 'select' command"));
    const a = argStr(args[1]!);
    if (!/^-?\d+$/.test(a)) return this.error(s, tag, new ReplyError('ERR value is not an integer or out of range'));
    const n = Number(a);
    if (n < 0 || n >= this.d.databases) return this.error(s, tag, new ReplyError('ERR DB index is out of range'));
    Auth.checkDb(this.principal, n);
    this.db = n;
    this.status(s, tag, 'OK');
  }

  private ping(s: Slot, tag: Tag | null, args: Arg[]): void {
    if (args.length > 2) return this.error(s, tag, new ReplyError("ERR wrong number of arguments for 'ping' command"));
    if (this.mode === 'resp' && this.proto === 2 && this.subscribed > 0) {
      const arg = args[1] === undefined ? Buffer.alloc(0) : Buffer.isBuffer(args[1]) ? args[1] : Buffer.from(args[1]!);
      return this.result(s, tag, [Buffer.from('pong'), arg]);
    }
    if (args.length === 2) return this.result(s, tag, Buffer.isBuffer(args[1]) ? args[1] : Buffer.from(args[1]!));
    this.status(s, tag, 'PONG');
  }

  private authCmd(s: Slot, tag: Tag | null, args: Arg[]): void {
    if (args.length < 2 || args.length > 3) return this.error(s, tag, new ReplyError("ERR wrong number of arguments for 'auth' command"));
    try {
      this.principal = this.d.auth.authenticate(argStr(args[args.length - 1]!));
    } catch {
      return this.error(s, tag, new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'));
    }
    this.status(s, tag, 'OK');
  }

  private hello(s: Slot, tag: Tag | null, args: Arg[]): void {
    let proto = this.proto;
    let i = 1;
    if (args.length > 1) {
      const v = argStr(args[1]!);
      if (!/^\d+$/.test(v)) return this.error(s, tag, new ReplyError('ERR Protocol version is not an integer or out of range'));
      if (v !== '2' && v !== '3') return this.error(s, tag, new ReplyError('NOPROTO unsupported protocol version'));
      proto = Number(v) as 2 | 3;
      i = 2;
    }
    for (; i < args.length; i++) {
      const opt = argStr(args[i]!).toLowerCase();
      if (opt === 'auth' && i + 2 < args.length) {
        try {
          this.principal = this.d.auth.authenticate(argStr(args[i + 2]!));
        } catch {
          return this.error(s, tag, new ReplyError('WRONGPASS invalid username-password pair or user is disabled.'));
        }
        i += 2;
      } else if (opt === 'setname' && i + 1 < args.length) i += 1;
      else return this.error(s, tag, new ReplyError(`ERR Syntax error in HELLO option '${opt}'`));
    }
    this.proto = proto;
    const fields: Array<[string, Reply]> = [
      ['server', Buffer.from('redis')],
      ['version', Buffer.from('7.2.0')],
      ['proto', proto],
      ['id', 0],
      ['mode', Buffer.from('cluster')],
      ['role', Buffer.from('master')],
      ['modules', []],
    ];
    this.result(s, tag, fields.flatMap(([k, v]) => [Buffer.from(k), v]), proto, 'map');
  }

  private reset(s: Slot, tag: Tag | null): void {
    this.multi = null;
    this.db = this.initialDb;
    this.proto = 2;
    for (const k of ['channel', 'pattern', 'shard'] as const) this.subs[k].clear();
    this.serial(async () => {
      this.d.hub.removeAll(this);
    });
    this.status(s, tag, 'RESET');
  }

  /** Run `f` after the previous serialized command; later commands wait for it. */
  private serial(f: () => Promise<void>): void {
    const prev = this.barrier ?? Promise.resolve();
    const p = prev.then(f, f).catch(() => {});
    this.barrier = p;
    void p.then(() => {
      if (this.barrier === p) this.barrier = null;
    });
  }

  private subCommand(s: Slot, tag: Tag | null, args: Arg[], name: string, kind: SubKind, sub: boolean): void {
    // Lookup, arity and permission (channel patterns) as for any command; CROSSSLOT for SSUBSCRIBE.
    this.d.executor.prepare(this.ctx(), args, true);
    const names = args.slice(1).map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : a).toString('latin1'));
    const set = this.subs[kind];
    const countOf = (): number => (kind === 'shard' ? this.subs.shard.size : this.subs.channel.size + this.subs.pattern.size);
    const frames: Array<{ name: string | null; count: number }> = [];
    if (sub) {
      for (const n of names) {
        set.add(n);
        frames.push({ name: n, count: countOf() });
      }
    } else {
      const list = names.length ? names : [...set];
      if (!list.length) frames.push({ name: null, count: countOf() });
      for (const n of list) {
        set.delete(n);
        frames.push({ name: n, count: countOf() });
      }
    }
    const type = sub ? SUB_CMD[kind][0] : SUB_CMD[kind][1];
    const hub = this.d.hub;
    this.serial(async () => {
      if (this.closing) return;
      if (!sub) {
        for (const f of frames) if (f.name !== null) hub.unsubscribe(this, kind, f.name);
      } else {
        try {
          await Promise.all(names.map((n) => hub.subscribe(this, kind, n)));
        } catch (e) {
          for (const n of names) {
            set.delete(n);
            hub.unsubscribe(this, kind, n);
          }
          this.error(s, tag, e);
          return;
        }
        // Unsubscribed again (or reset) while this one waited: keep the session's view.
        for (const n of names) if (!set.has(n)) hub.unsubscribe(this, kind, n);
      }
      for (const f of frames) s.frames.push(this.confirmFrame(type, kind, f.name, f.count));
      if (this.mode === 'json') s.frames.push(this.jsonFrame({ result: frames[frames.length - 1]!.count }, tag));
      this.finish(s);
    });
  }

  private queue(s: Slot, tag: Tag | null, args: Arg[]): void {
    const m = this.multi!;
    try {
      this.d.executor.prepare(this.ctx(), args);
      if (m.cmds.length >= this.d.maxQueued) throw new ReplyError(`ERR too many commands in one transaction (limit ${this.d.maxQueued})`);
    } catch (e) {
      m.dirty = true;
      return this.error(s, tag, e);
    }
    m.cmds.push(args);
    this.status(s, tag, 'QUEUED');
  }

  private exec(s: Slot, tag: Tag | null): void {
    const m = this.multi;
    if (!m) return this.error(s, tag, new ReplyError('ERR EXEC without MULTI'));
    this.multi = null;
    if (m.dirty) return this.error(s, tag, new ReplyError('EXECABORT Transaction discarded because of previous errors.'));
    const ctx = this.ctx();
    const proto = this.proto;
    const shapes = this.mode === 'resp' ? m.cmds.map((c) => replyShape(c, proto)) : undefined;
    this.serial(async () => {
      try {
        if (ctx.trackWrites) ctx.syncToken = this.syncToken;
        const r = await runTransaction(this.d.executor, ctx, m.cmds);
        if (ctx.log) await this.keepToken(ctx);
        this.result(s, tag, r, proto, shapes);
      } catch (e) {
        this.error(s, tag, e);
      }
    });
  }

  private run(s: Slot, tag: Tag | null, args: Arg[]): void {
    const ctx = this.ctx();
    const proto = this.proto;
    const shape = this.mode === 'resp' ? replyShape(args, proto) : undefined;
    // Prepared here only when the session tracks its writes (replica reads), then handed to run.
    const prepared = ctx.trackWrites === true ? this.d.executor.prepare(ctx, args) : undefined;
    const tracked = prepared?.write === true;
    const go = (): void => {
      if (ctx.trackWrites) {
        // Reads see the session's writes (its token; the primary while one is in flight); a write's new
        // token merges the session's.
        ctx.syncToken = this.syncToken;
        if (!tracked && this.writing > 0) ctx.need = 'primary';
      }
      const run = this.d.executor.run(ctx, args, prepared);
      if (!tracked) {
        run.then(
          (r) => this.result(s, tag, r, proto, shape),
          (e: unknown) => this.error(s, tag, e),
        );
        return;
      }
      this.writing++;
      const written = async (): Promise<void> => {
        await this.keepToken(ctx);
        this.writing--;
      };
      run.then(
        (r) => written().then(() => this.result(s, tag, r, proto, shape)),
        (e: unknown) => written().then(() => this.error(s, tag, e)),
      );
    };
    if (this.barrier) void this.barrier.then(go);
    else go();
  }

  /** After this session's writes: keep the sync token they produced (replica reads only). */
  private async keepToken(ctx: ExecContext): Promise<void> {
    await Promise.resolve(this.d.executor.finishWrites(ctx)).catch(() => {});
    if (ctx.newSyncToken !== undefined) this.syncToken = ctx.newSyncToken;
  }

  /** The socket is gone: release every subscription. */
  dispose(): void {
    this.closing = true;
    this.d.hub.removeAll(this);
    for (const k of ['channel', 'pattern', 'shard'] as const) this.subs[k].clear();
  }
}

/** UTF-8 bytes, encoded once for every recipient (ws sends a Buffer as a text frame with binary: false). */
function encodeJsonPush(m: HubMessage): Buffer {
  const o: JsonOut = { type: PUSH_TYPE[m.kind] };
  if (m.kind === 'pattern') o.pattern = latin1ToUtf8(m.pattern!);
  o.channel = latin1ToUtf8(m.channel);
  o.data = m.data.toString('utf8');
  return Buffer.from(JSON.stringify(o));
}

function encodeRespPush(m: HubMessage, proto: 2 | 3): Buffer {
  const items: Buffer[] = [Buffer.from(PUSH_TYPE[m.kind])];
  if (m.kind === 'pattern') items.push(Buffer.from(m.pattern!, 'latin1'));
  items.push(Buffer.from(m.channel, 'latin1'), m.data);
  const parts: Buffer[] = [Buffer.from(`${proto === 3 ? '>' : '*'}${items.length}\r\n`)];
  for (const b of items) parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}
