/**
 * Test clients for the gateway's WebSocket endpoints (the `ws` package, as a browser would speak):
 * JsonWs (JSON frames: replies by id, pushes collected) and RespWs (RESP over binary frames, RESP2 and
 * RESP3 replies parsed, strings as latin1 so bytes compare exactly; errors as {err}, pushes as
 * {push}). Both record how the socket closed.
 */
import WebSocket, { type ClientOptions } from 'ws';
import { parseReply, type Reply } from './raw-conn';

export interface Closed {
  code: number;
  reason: string;
}

/** Open a socket; resolves once open, rejects if it closes or fails first. */
function openSocket(url: string, protocols: string[] | undefined, opts: ClientOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

abstract class Base {
  readonly closed: Promise<Closed>;
  closedWith: Closed | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        this.wake();
        resolve(this.closedWith);
      });
    });
  }

  protected wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `pred` holds (re-checked on every frame), or fail after `ms`. */
  async until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export type JsonFrame = { id?: unknown; result?: unknown; error?: string; type?: string; channel?: string | null; pattern?: string; data?: string; count?: number };

export class JsonWs extends Base {
  readonly frames: JsonFrame[] = [];
  private nextId = 1;
  private readonly byId = new Map<unknown, (f: JsonFrame) => void>();

  static async open(url: string, opts: ClientOptions & { protocols?: string[] } = {}): Promise<JsonWs> {
    return new JsonWs(await openSocket(url, opts.protocols, opts));
  }

  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as JsonFrame;
      this.frames.push(f);
      if ('id' in f) {
        const cb = this.byId.get(f.id);
        if (cb) {
          this.byId.delete(f.id);
          cb(f);
        }
      }
      this.wake();
    });
  }

  /** Send a raw frame (any JSON value, or a string as is). */
  sendRaw(v: unknown): void {
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v));
  }

  /** Send a command with a fresh id and resolve with its reply frame. */
  call(...cmd: Array<string | number | boolean>): Promise<JsonFrame> {
    const id = `r${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.byId.set(id, resolve);
      this.ws.send(JSON.stringify({ id, cmd }));
      void this.closed.then((c) => reject(new Error(`socket closed (${c.code} ${c.reason}) before the reply to ${String(cmd[0])}`)));
    });
  }

  /** The result of a command; throws on an error reply. */
  async result(...cmd: Array<string | number | boolean>): Promise<unknown> {
    const f = await this.call(...cmd);
    if (f.error !== undefined) throw new Error(f.error);
    return f.result;
  }

  pushes(type?: string): JsonFrame[] {
    return this.frames.filter((f) => f.type !== undefined && (type === undefined || f.type === type));
  }

  messages(): JsonFrame[] {
    return this.frames.filter((f) => f.type === 'message' || f.type === 'pmessage' || f.type === 'smessage');
  }
}

export type RespValue = Reply;

export class RespWs extends Base {
  readonly frames: RespValue[] = [];
  /** Each frame's own bytes (latin1), parallel to `frames`. */
  readonly raw: string[] = [];
  private buf = Buffer.alloc(0);
  private consumed = 0;

  static async open(url: string, opts: ClientOptions & { protocols?: string[] } = {}): Promise<RespWs> {
    return new RespWs(await openSocket(url, opts.protocols, opts));
  }

  constructor(ws: WebSocket) {
    super(ws);
    ws.on('message', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parseReply(this.buf, 0);
        if (r === null) break;
        this.frames.push(r.value);
        this.raw.push(this.buf.toString('latin1', 0, r.end));
        this.buf = this.buf.subarray(r.end);
      }
      this.wake();
    });
  }

  send(...args: Array<string | Buffer>): void {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = typeof a === 'string' ? Buffer.from(a) : a;
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    this.ws.send(Buffer.concat(parts));
  }

  /** The next frame not consumed yet. */
  async next(ms = 10_000): Promise<RespValue> {
    await this.until('a RESP frame', () => this.frames.length > this.consumed || this.closedWith !== null, ms);
    if (this.frames.length <= this.consumed) throw new Error(`socket closed (${this.closedWith?.code}) with no more frames`);
    return this.frames[this.consumed++]!;
  }

  /** Send a command and return its reply's bytes as sent (latin1; no pushes expected meanwhile). */
  async callRaw(...args: Array<string | Buffer>): Promise<string> {
    const i = this.consumed;
    this.send(...args);
    await this.next();
    return this.raw[i]!;
  }

  /** Send a command and return the next non-push frame (pushes meanwhile stay in `frames`). */
  async call(...args: Array<string | Buffer>): Promise<RespValue> {
    this.send(...args);
    for (;;) {
      const f = await this.next();
      if (f !== null && typeof f === 'object' && !Array.isArray(f) && 'push' in f) continue;
      return f;
    }
  }
}

export { metricValue } from './gateway';
