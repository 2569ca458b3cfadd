/**
 * One upstream subscriber connection to one cluster node, speaking RESP3 (`HELLO 3`) so that
 * messages and (un)subscribe confirmations arrive as push frames apart from command replies, and
 * ASKING (needed to subscribe at a slot's importing node during a migration) may be sent while the
 * connection is subscribed. A raw socket rather than ioredis: the hub needs every push exactly as
 * the node sent it — in particular the unsolicited `sunsubscribe` a node sends when it loses a
 * slot, with its channel — and must decide itself where subscriptions go after a reconnect (ioredis
 * would resubscribe on its own, possibly at a node that no longer owns the slot).
 *
 * The connection is never reconnected: when it dies, `onClose` fires once and the hub places the
 * subscriptions it carried elsewhere (or on a new connection to the same node).
 */
import net from 'node:net';
import { encodeCommand } from '../../../common/src/resp/writer';
import { RespErrorReply, ReplyParser, RespPush, type RespReply } from '../../../common/src/resp/reply-parser';
import { ReplyError } from '../errors';

export type SubKind = 'channel' | 'pattern' | 'shard';

export const SUB_CMD: Record<SubKind, [string, string]> = {
  channel: ['subscribe', 'unsubscribe'],
  pattern: ['psubscribe', 'punsubscribe'],
  shard: ['ssubscribe', 'sunsubscribe'],
};

const KIND_OF: Record<string, SubKind> = {
  subscribe: 'channel',
  unsubscribe: 'channel',
  psubscribe: 'pattern',
  punsubscribe: 'pattern',
  ssubscribe: 'shard',
  sunsubscribe: 'shard',
};

export interface UpstreamEvents {
  /** A message: kind 'message' | 'pmessage' | 'smessage'; names are latin1 strings (one char per byte). */
  onMessage(kind: SubKind, pattern: string | null, channel: string, data: Buffer): void;
  /** The node dropped a shard channel on its own (it lost the slot). */
  onDropped(channel: string): void;
  /** The connection is gone; `byUs` when the gateway closed it (idle, shutdown). */
  onClose(reason: string, byUs: boolean): void;
}

/** A command waiting for its reply: `confirms` pushes of type `push` (subscribe family) or one reply. */
interface Pending {
  push: string | null;
  /** Channels still to be confirmed (subscribe family). */
  left: Set<string> | null;
  /** Confirmations still expected (an unsubscribe of a channel may be confirmed once per name). */
  count: number;
  resolve(v: RespReply): void;
  reject(e: Error): void;
}

export class UpstreamError extends Error {}

export interface UpstreamOptions {
  password?: string;
  username?: string;
  connectTimeoutMs: number;
  /** PING every this many ms; no reply within the next period closes the connection. */
  pingMs: number;
}

export class UpstreamConn {
  private readonly sock: net.Socket;
  private readonly parser = new ReplyParser();
  private readonly pending: Pending[] = [];
  private closed = false;
  private closing = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastReplyAt = Date.now();
  /** Names this connection is subscribed to (or has asked for), by kind, latin1. */
  readonly names: Record<SubKind, Set<string>> = { channel: new Set(), pattern: new Set(), shard: new Set() };
  readonly ready: Promise<void>;

  constructor(
    readonly addr: string,
    private readonly opts: UpstreamOptions,
    private readonly events: UpstreamEvents,
  ) {
    const colon = addr.lastIndexOf(':');
    this.sock = net.connect({ host: addr.slice(0, colon), port: Number(addr.slice(colon + 1)) });
    this.sock.setNoDelay(true);
    this.sock.setKeepAlive(true, 10_000);
    const connectTimer = setTimeout(() => this.destroy(`connect timeout after ${opts.connectTimeoutMs} ms`), opts.connectTimeoutMs);
    this.sock.once('connect', () => clearTimeout(connectTimer));
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (e) => this.destroy(e.message));
    this.sock.on('close', () => {
      clearTimeout(connectTimer);
      this.destroy('connection closed');
    });
    const hello = ['HELLO', '3'];
    if (opts.password !== undefined) hello.push('AUTH', opts.username ?? 'default', opts.password);
    this.ready = this.call(hello).then(() => undefined);
    this.ready.catch(() => {});
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastReplyAt > 2 * opts.pingMs) {
        this.destroy(`no reply to PING within ${2 * opts.pingMs} ms`);
        return;
      }
      this.call(['PING']).catch(() => {});
    }, opts.pingMs);
    this.pingTimer.unref();
  }

  get alive(): boolean {
    return !this.closed;
  }

  /** True when the connection carries no subscription and waits for nothing. */
  get idle(): boolean {
    return this.pending.length === 0 && this.names.channel.size === 0 && this.names.pattern.size === 0 && this.names.shard.size === 0;
  }

  /** Send a plain command; resolves with its reply (rejects on an error reply or connection loss). */
  call(args: string[]): Promise<RespReply> {
    return this.send(args, null, null);
  }

  /**
   * SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE (names latin1); resolves once every name is confirmed. With
   * `asking`, ASKING goes first (a shard channel at the node importing its slot).
   */
  async subscribe(kind: SubKind, names: string[], asking = false): Promise<void> {
    for (const n of names) this.names[kind].add(n);
    const p = asking ? this.call(['ASKING']) : null;
    const s = this.send([SUB_CMD[kind][0], ...names], SUB_CMD[kind][0], new Set(names));
    try {
      if (p) await p;
      await s;
    } catch (e) {
      for (const n of names) this.names[kind].delete(n);
      throw e;
    }
  }

  /** UNSUBSCRIBE & co. for the given names (never an empty list: that would drop every name). */
  async unsubscribe(kind: SubKind, names: string[]): Promise<void> {
    if (names.length === 0) return;
    for (const n of names) this.names[kind].delete(n);
    await this.send([SUB_CMD[kind][1], ...names], SUB_CMD[kind][1], new Set(names));
  }

  close(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.call(['QUIT']).catch(() => {});
    this.sock.end();
    setTimeout(() => this.destroy('closed by the gateway'), 1000).unref();
  }

  private send(args: string[], push: string | null, left: Set<string> | null): Promise<RespReply> {
    if (this.closed) return Promise.reject(new UpstreamError(`subscriber connection to ${this.addr} is closed`));
    return new Promise<RespReply>((resolve, reject) => {
      this.pending.push({ push, left, count: left ? left.size : 1, resolve, reject });
      this.sock.write(encodeCommand(args.map((a) => Buffer.from(a, 'latin1'))));
    });
  }

  private destroy(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.sock.destroy();
    const err = new UpstreamError(`subscriber connection to ${this.addr}: ${reason}`);
    for (const p of this.pending.splice(0)) p.reject(err);
    this.events.onClose(reason, this.closing);
  }

  private onData(d: Buffer): void {
    this.lastReplyAt = Date.now();
    try {
      this.parser.feed(d);
      for (;;) {
        const v = this.parser.next();
        if (v === undefined) break;
        if (v instanceof RespPush) this.onPush(v.items);
        else this.onReply(v);
        if (this.closed) return;
      }
    } catch (e) {
      this.destroy(`protocol error: ${(e as Error).message}`);
    }
  }

  private onReply(v: RespReply): void {
    const head = this.pending[0];
    if (!head) {
      this.destroy('reply with no command waiting');
      return;
    }
    // An error answers any command (a subscribe refused with MOVED/CROSSSLOT has no confirmations).
    if (v instanceof RespErrorReply) {
      this.pending.shift();
      head.reject(new ReplyError(v.message));
      return;
    }
    if (head.push !== null) {
      this.destroy(`unexpected reply while waiting for ${head.push} confirmations`);
      return;
    }
    this.pending.shift();
    head.resolve(v);
  }

  private onPush(items: RespReply[]): void {
    const type = Buffer.isBuffer(items[0]) ? items[0].toString('latin1') : '';
    const str = (i: number): string | null => (Buffer.isBuffer(items[i]) ? (items[i] as Buffer).toString('latin1') : null);
    switch (type) {
      case 'message':
      case 'smessage': {
        const ch = str(1);
        const data = items[2];
        if (ch !== null && Buffer.isBuffer(data)) this.events.onMessage(type === 'message' ? 'channel' : 'shard', null, ch, data);
        return;
      }
      case 'pmessage': {
        const pat = str(1);
        const ch = str(2);
        const data = items[3];
        if (pat !== null && ch !== null && Buffer.isBuffer(data)) this.events.onMessage('pattern', pat, ch, data);
        return;
      }
      case 'subscribe':
      case 'psubscribe':
      case 'ssubscribe':
      case 'unsubscribe':
      case 'punsubscribe':
      case 'sunsubscribe': {
        const name = str(1);
        const head = this.pending[0];
        if (head && head.push === type && (name === null || head.left === null || head.left.has(name))) {
          if (name !== null) head.left?.delete(name);
          if (--head.count <= 0 || (head.left !== null && head.left.size === 0)) {
            this.pending.shift();
            head.resolve(null);
          }
          return;
        }
        // Not an answer to what we asked: a node dropping a shard channel on its own (slot lost).
        if (type === 'sunsubscribe' && name !== null) {
          const had = this.names.shard.delete(name);
          if (had) this.events.onDropped(name);
          return;
        }
        // Anything else unexpected means we lost track of the conversation.
        if (type === 'unsubscribe' || type === 'punsubscribe') {
          const k = KIND_OF[type]!;
          if (name !== null && !this.names[k].has(name)) return;
        }
        this.destroy(`unexpected ${type} push`);
        return;
      }
      default:
        // Other pushes (e.g. invalidation) are not ours; ignore.
        return;
    }
  }
}
