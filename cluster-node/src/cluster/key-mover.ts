/**
 * Moving keys to another node: what MIGRATE does, and what the cluster layer calls to empty a slot.
 *
 * Like Redis's migrateCommand (cluster.c): one cached connection per host:port (closed after 10 s
 * idle, at most 64), AUTH when a password is given, SELECT when the target db differs from the one
 * the connection last selected, then one pipelined RESTORE (RESTORE-ASKING in cluster mode) per key
 * with its DUMP payload and remaining TTL. Replies are matched to keys in order; a key is deleted from
 * the source only once the target answered +OK for it (unless COPY), and the deletes are propagated
 * as one DEL. Redis blocks the whole server meanwhile; we keep the event loop running and instead
 * park other clients' writes (Server.holdWrites) from the DUMP until the deletes are done, so no
 * write to a moving key can land between its DUMP and its DEL and be lost.
 *
 * Errors are Redis's words: IOERR for connection problems (the cached connection is dropped; a
 * connection that fails before any RESTORE reply is retried once on a fresh one, unless it timed out),
 * "ERR Target instance replied with error: ..." for the first error the target answered.
 */
import net from 'node:net';
import type { Server } from '../server/server';
import { ReplyError } from '../commands/registry';
import { encodeCommand } from '../../../common/src/resp/writer';
import { ReplyParser, RespErrorReply, type RespReply } from '../../../common/src/resp/reply-parser';
import { dumpValue } from '../keyspace/serialize';

export interface MoveTarget {
  host: string;
  port: number;
  user?: string;
  password?: string;
}

export interface MoveBatch {
  srcDb: number;
  dstDb: number;
  keys: string[];
}

export interface MoveOptions {
  /** Keep the source keys (MIGRATE COPY). */
  copy: boolean;
  /** Overwrite existing target keys (RESTORE ... REPLACE). */
  replace: boolean;
  /** Connect / write / per-reply read timeout in ms (<= 0 means 1000, as MIGRATE). */
  timeoutMs: number;
}

export interface MoveResult {
  /** Keys the target acknowledged (deleted from the source unless copy). */
  moved: number;
  /** Keys of the batch that were missing or expired in the source when dumped. */
  missing: number;
}

/** A failed move. Keys acknowledged before the failure were still moved: `moved` counts them. */
export class MoveError extends ReplyError {
  constructor(
    message: string,
    readonly moved: number,
    readonly missing: number,
  ) {
    super(message);
  }
}

export const IOERR_CONNECT = 'IOERR error or timeout connecting to the client';
export const IOERR_WRITE = 'IOERR error or timeout writing to target instance';
export const IOERR_READ = 'IOERR error or timeout reading to target instance';

/** Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL. */
const CACHE_ITEMS = 64;
const CACHE_IDLE_MS = 10_000;

/** Move (or copy) keys of one source db to a db of another node. Never blocks the event loop. */
export async function moveKeys(server: Server, target: MoveTarget, batch: MoveBatch, opts: MoveOptions): Promise<MoveResult> {
  const db = server.dbs[batch.srcDb];
  if (db === undefined) throw new ReplyError('ERR DB index is out of range');
  if (batch.keys.length === 0) return { moved: 0, missing: 0 };
  const timeout = Math.min(opts.timeoutMs > 0 ? opts.timeoutMs : 1000, 0x7fffffff);
  const pool = poolOf(server);
  const restoreCmd = server.config.bool('cluster-enabled') ? 'RESTORE-ASKING' : 'RESTORE';
  let release: (() => void) | null = null;
  let mayRetry = true;
  try {
    for (;;) {
      const link = await pool.acquire(target, timeout);
      try {
        // From here until the deletes are done nobody else writes: the payloads stay current.
        if (release === null) release = server.holdWrites();
        const parts: Buffer[] = [];
        const auth = target.password !== undefined;
        if (auth) parts.push(encodeCommand(target.user !== undefined ? ['AUTH', target.user, target.password!] : ['AUTH', target.password!]));
        const select = link.lastDb !== batch.dstDb;
        if (select) parts.push(encodeCommand(['SELECT', String(batch.dstDb)]));
        const sent: string[] = [];
        let missing = 0;
        const now = Date.now();
        for (const key of batch.keys) {
          const v = db.get(key);
          if (v === undefined) {
            missing++;
            continue;
          }
          let ttl = 0;
          const at = db.getExpire(key);
          if (at !== -1) {
            ttl = at - now;
            if (ttl < 0) {
              missing++;
              continue;
            }
            if (ttl < 1) ttl = 1;
          }
          const args = [restoreCmd, key, String(ttl), dumpValue(v)];
          if (opts.replace) args.push('REPLACE');
          parts.push(encodeCommand(args));
          sent.push(key);
        }
        if (sent.length === 0) return { moved: 0, missing };

        const pre = (auth ? 1 : 0) + (select ? 1 : 0);
        const ex = await link.exchange(Buffer.concat(parts), pre + sent.length, timeout);
        const { replies } = ex;
        // Socket trouble before any RESTORE reply: nothing was acknowledged, so retry once on a fresh
        // connection (the cached one was probably closed by the target), unless it was a timeout.
        if (ex.failure !== null && replies.length <= pre && mayRetry && ex.failure !== 'timeout') {
          mayRetry = false;
          continue;
        }
        if (ex.failure !== null && replies.length < pre) throw new MoveError(ex.written ? IOERR_READ : IOERR_WRITE, 0, missing);

        const preError = (auth && isError(replies[0])) || (select && isError(replies[auth ? 1 : 0]));
        let targetError: string | null = null;
        const deleted: string[] = [];
        let moved = 0;
        for (let j = 0; j < sent.length && pre + j < replies.length; j++) {
          const r = replies[pre + j];
          if (preError || isError(r)) {
            if (targetError === null) {
              link.lastDb = -1;
              const e = (auth && isError(replies[0]) ? replies[0] : select && isError(replies[auth ? 1 : 0]) ? replies[auth ? 1 : 0] : r) as RespErrorReply;
              targetError = `ERR Target instance replied with error: ${e.message}`;
            }
            continue;
          }
          moved++;
          if (!opts.copy) {
            const key = sent[j];
            if (db.delete(key)) {
              server.signalModified(db, key);
              server.pubsub.notify('g', 'del', key, db.id);
              server.dirty++;
              deleted.push(key);
            }
          }
        }
        if (deleted.length > 0) server.propagateNow(db.id, ['DEL', ...deleted]);
        if (targetError !== null) throw new MoveError(targetError, moved, missing);
        if (ex.failure !== null) throw new MoveError(ex.written ? IOERR_READ : IOERR_WRITE, moved, missing);
        link.lastDb = batch.dstDb;
        return { moved, missing };
      } finally {
        pool.release(link);
      }
    }
  } finally {
    release?.();
  }
}

/** Close every cached connection of this server (shutdown, tests). */
export function closeMoveConnections(server: Server): void {
  const pool = pools.get(server);
  if (pool) pool.closeAll();
}

/** Number of cached target connections (tests, INFO-style introspection). */
export function cachedMoveConnections(server: Server): number {
  return pools.get(server)?.size ?? 0;
}

function isError(r: RespReply | undefined): boolean {
  return r instanceof RespErrorReply;
}

// ------------------------------------------------------------------------------------------ connections

const pools = new WeakMap<Server, LinkPool>();

function poolOf(server: Server): LinkPool {
  let p = pools.get(server);
  if (p === undefined) pools.set(server, (p = new LinkPool()));
  return p;
}

interface Exchange {
  replies: RespReply[];
  /** null when every expected reply arrived. */
  failure: 'timeout' | 'error' | null;
  /** The request was fully handed to the kernel (else a failure is a write error). */
  written: boolean;
}

/** One cached connection to a target. Used by one move at a time (a FIFO lock). */
class Link {
  lastDb = -1;
  closed = false;
  users = 0;
  private readonly parser = new ReplyParser();
  private idle: NodeJS.Timeout | null = null;
  private lockTail: Promise<void> = Promise.resolve();
  private holder: (() => void) | null = null;
  private onReply: ((r: RespReply) => void) | null = null;
  private onFail: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly socket: net.Socket,
    private readonly dropped: (l: Link) => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.parser.feed(chunk);
      for (;;) {
        let r: RespReply | undefined;
        try {
          r = this.parser.next();
        } catch {
          this.close();
          return;
        }
        if (r === undefined) return;
        // A reply nobody waits for means we lost track of the stream: never reuse it.
        if (this.onReply === null) {
          this.close();
          return;
        }
        this.onReply(r);
      }
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Wait for exclusive use (FIFO); every lock() is paired with one unlock(). */
  async lock(): Promise<void> {
    this.users++;
    this.setIdle(false);
    const prev = this.lockTail;
    let unlock!: () => void;
    this.lockTail = new Promise((r) => (unlock = r));
    await prev;
    this.holder = unlock;
  }

  unlock(): void {
    const u = this.holder;
    this.holder = null;
    u?.();
    this.users--;
    if (this.users === 0) this.setIdle(true);
  }

  private setIdle(idle: boolean): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (this.closed) return;
    if (idle) {
      this.socket.unref();
      this.idle = setTimeout(() => this.close(), CACHE_IDLE_MS);
      this.idle.unref();
    } else {
      this.socket.ref();
    }
  }

  /** Send a request and collect `expect` replies; the timeout restarts whenever progress is made. */
  exchange(data: Buffer, expect: number, timeoutMs: number): Promise<Exchange> {
    return new Promise((resolve) => {
      const ex: Exchange = { replies: [], failure: null, written: false };
      let timer: NodeJS.Timeout | null = null;
      const finish = (failure: Exchange['failure']): void => {
        if (timer === null) return;
        clearTimeout(timer);
        timer = null;
        this.onReply = null;
        this.onFail = null;
        ex.failure = failure;
        // After a failure the stream position is unknown (late replies would be misread).
        if (failure !== null) this.close();
        resolve(ex);
      };
      const arm = (): void => {
        if (timer !== null) clearTimeout(timer);
        timer = setTimeout(() => finish('timeout'), timeoutMs);
      };
      arm();
      if (this.closed) {
        finish('error');
        return;
      }
      this.onReply = (r) => {
        ex.replies.push(r);
        if (ex.replies.length === expect) finish(null);
        else arm();
      };
      this.onFail = () => finish('error');
      this.socket.write(data, (err) => {
        if (err || timer === null) return;
        ex.written = true;
        arm();
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    this.socket.destroy();
    this.dropped(this);
    const fail = this.onFail;
    this.onFail = null;
    fail?.();
  }
}

class LinkPool {
  private readonly links = new Map<string, Link>();
  private readonly connecting = new Map<string, Promise<Link>>();
  get size(): number {
    return this.links.size;
  }

  /** The cached (or a new) connection to the target, locked for the caller. Throws MoveError IOERR. */
  async acquire(target: MoveTarget, timeoutMs: number): Promise<Link> {
    const name = `${target.host}:${target.port}`;
    for (;;) {
      let link = this.links.get(name);
      if (link === undefined) {
        let pending = this.connecting.get(name);
        if (pending === undefined) {
          pending = this.connect(name, target, timeoutMs);
          this.connecting.set(name, pending);
          const done = (): void => void this.connecting.delete(name);
          pending.then(done, done);
        }
        link = await pending;
      }
      await link.lock();
      if (!link.closed) return link;
      link.unlock();
    }
  }

  release(link: Link): void {
    link.unlock();
  }

  closeAll(): void {
    for (const l of [...this.links.values()]) l.close();
  }

  private async connect(name: string, target: MoveTarget, timeoutMs: number): Promise<Link> {
    const socket = await openSocket(target.host, target.port, timeoutMs);
    if (this.links.size >= CACHE_ITEMS) {
      // Full: drop an idle connection, as Redis drops a random one.
      for (const l of this.links.values()) {
        if (l.users === 0) {
          l.close();
          break;
        }
      }
    }
    const link = new Link(name, socket, (l) => {
      if (this.links.get(l.name) === l) this.links.delete(l.name);
    });
    this.links.set(name, link);
    return link;
  }
}

/**
 * Connect with a timeout. Errors as redis-server words them: a name that does not resolve or a
 * connection attempt that times out is "connecting"; a refused connection counts as a write error
 * (Redis's blocking connect reports success once the socket is writable, then its write fails).
 */
function openSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const fail = (msg: string): void => reject(new MoveError(msg, 0, 0));
    if (host === '' || !Number.isInteger(port) || port < 0 || port > 65535) return fail(IOERR_CONNECT);
    if (port === 0) return fail(IOERR_WRITE);
    let socket: net.Socket;
    try {
      socket = net.connect({ host, port, noDelay: true });
    } catch {
      return fail(IOERR_CONNECT);
    }
    const timer = setTimeout(() => {
      socket.destroy();
      fail(IOERR_CONNECT);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      fail(isConnectRefusal(e) ? IOERR_WRITE : IOERR_CONNECT);
    });
  });
}

/** The attempt reached the network (refused, reset, unreachable) rather than failing to resolve. */
function isConnectRefusal(e: NodeJS.ErrnoException): boolean {
  if (e.syscall === 'connect') return true;
  const inner = (e as { errors?: NodeJS.ErrnoException[] }).errors;
  return Array.isArray(inner) && inner.some((x) => x.syscall === 'connect');
}
