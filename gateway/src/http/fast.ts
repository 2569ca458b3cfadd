/**
 * The REST hot path on plain TCP, in front of node:http.
 *
 * node:http and fastify cost ~20 µs of CPU per keep-alive request on this machine before any gateway work
 * (a bare `http.createServer` answering a constant; a raw socket answering the same: ~10 µs, most of it
 * the read and write syscalls). REST calls are small, simple requests, so the gateway takes the HTTP
 * server's 'connection' event and reads each connection's requests itself:
 *
 * - A request it fully understands (request line `GET|POST|PUT <origin-form> HTTP/1.1`, well-formed
 *   header lines, at most one Content-Length and a small body, no Transfer-Encoding, Upgrade or Expect,
 *   a path the caller's `accepts` takes) is answered here.
 * - Anything else (other methods, HTTP/1.0, chunked or large bodies, WebSocket upgrades, SSE, the page,
 *   /metrics, malformed or oversized headers) hands the connection to node:http for good: the unread
 *   bytes are put back on the socket and the HTTP server's own connection listener takes over, so
 *   fastify answers it exactly as before, errors included. This happens at a request boundary, after the
 *   responses to the requests before it have been written.
 *
 * Reads land in one shared buffer (common/src/net/socket-reader.ts, as the cluster node reads): whatever
 * must outlive the read (a partial request, a body, bytes handed to node:http) is copied.
 *
 * Pipelined requests are answered in order. Limits: a header block over `maxHeaderBytes` goes to
 * node:http (which answers 431); at most `maxPipelined` requests in flight per connection, and no more
 * requests are read while the client does not read its responses (the socket is paused), so a client
 * cannot grow the gateway's buffers; idle connections close after `keepAliveTimeoutMs`, and a request
 * whose header block (or body) is still incomplete after `headersTimeoutMs` gets 408. Both are checked
 * by one sweep timer over all connections (a socket timeout would re-arm a timer on every read and
 * write).
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { adoptWithSharedBuffer } from '../../../common/src/net/socket-reader';

/** The headers the fast path hands to its caller (lower-case names); a request repeating one is handed off. */
const KEPT_NAMES = ['authorization', 'origin', 'upstash-encoding', 'upstash-response-format', 'upstash-replica-read', 'upstash-sync-token'] as const;
const KEPT = new Set<string>(KEPT_NAMES);
export type FastHeaders = Partial<Record<(typeof KEPT_NAMES)[number], string>>;

export interface FastRequest {
  method: 'GET' | 'POST' | 'PUT';
  /** The request target as sent (origin-form: path and query). */
  url: string;
  headers: FastHeaders;
  /** The body (Content-Length bytes); undefined when empty. */
  body: Buffer | undefined;
}

export interface FastResponse {
  status: number;
  /** Content-Type; null for no body. */
  type: string | null;
  body: string | Buffer | null;
  /** Extra headers as `name: value` pairs (already validated by the caller). */
  headers?: Array<[string, string]> | undefined;
  /** An upstash-sync-token header (already validated by the caller). */
  syncToken?: string | undefined;
}

export interface FastHttpOptions {
  /** Whether the fast path answers this method and request target (called once per request). */
  accepts(method: string, url: string): boolean;
  /** Answers a request; must not reject (a rejection becomes a 500 and closes the connection). */
  handle(req: FastRequest): Promise<FastResponse>;
  /** Bodies above this go to node:http (default 64 KiB): large uploads stream better there. */
  maxBodyBytes?: number;
  maxHeaderBytes?: number;
  keepAliveTimeoutMs?: number;
  headersTimeoutMs?: number;
  maxPipelined?: number;
}

type ConnectionListener = (this: Server, socket: Socket) => void;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** A request target in origin-form with only visible ASCII (anything else: node:http decides). */
const TARGET = /^\/[\x21-\x7e]*$/;
/**
 * Header lines from `lastIndex` to the end of the block: names are tokens (RFC 9110 5.6.2), values
 * visible ASCII, space and tab (obs-text and control bytes: node:http decides), lines split by CRLF.
 */
const HEADER_LINES = /(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\x20-\x7e\t]*(?:\r\n(?!$)|$))+$/y;
/** The lengths of the header names parseHead looks at (KEPT_NAMES and the framing/upgrade ones). */
const NAME_LENGTHS = new Uint8Array(32);
for (const n of [...KEPT_NAMES, 'content-length', 'transfer-encoding', 'upgrade', 'expect', 'connection']) NAME_LENGTHS[n.length] = 1;

let dateSecond = -1;
let keepAliveTail = '';
let closeTail = '';
/** The end of a header block (Date, Connection), made once per second. */
function tail(close: boolean): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    const date = `Date: ${new Date(now).toUTCString()}\r\n`;
    keepAliveTail = `${date}Connection: keep-alive\r\nKeep-Alive: timeout=72\r\n\r\n`;
    closeTail = `${date}Connection: close\r\n\r\n`;
  }
  return close ? closeTail : keepAliveTail;
}

const STATUS_200 = 'HTTP/1.1 200 OK\r\n';
/** `content-type: <type>\r\n` per Content-Type the caller answers with (a handful of constants). */
const TYPE_LINES = new Map<string, string>();
function typeLine(type: string): string {
  let l = TYPE_LINES.get(type);
  if (l === undefined) {
    l = `content-type: ${type}\r\n`;
    if (TYPE_LINES.size < 64) TYPE_LINES.set(type, l);
  }
  return l;
}

/** A LF not preceded by CR: lines the fast path does not split; node:http decides what they mean. */
function hasBareLf(buf: Buffer): boolean {
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return true;
  return false;
}

interface Parsed {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers: FastHeaders;
  contentLength: number;
  close: boolean;
}

/**
 * Parses a header block (bytes [0, end) of `buf`, without the final CRLFCRLF). Returns null for anything
 * the fast path does not take.
 */
function parseHead(buf: Buffer, end: number, o: Required<FastHttpOptions>): Parsed | null {
  const head = buf.latin1Slice(0, end);
  let eol = head.indexOf('\r\n');
  if (eol < 0) eol = head.length;
  const sp1 = head.indexOf(' ');
  if (sp1 < 0 || sp1 > eol) return null;
  const m = head.slice(0, sp1);
  if (m !== 'GET' && m !== 'POST' && m !== 'PUT') return null;
  const sp2 = head.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 > eol) return null;
  if (head.slice(sp2 + 1, eol) !== 'HTTP/1.1') return null;
  const url = head.slice(sp1 + 1, sp2);
  if (!TARGET.test(url) || !o.accepts(m, url)) return null;
  const headers: FastHeaders = {};
  let contentLength = -1;
  let close = false;
  let pos = eol + 2;
  if (pos < head.length) {
    // Every header line at once: a token name, ':', a value of visible ASCII, SP and HT (this also
    // rejects obs-fold, a line starting with SP/HT, and SP before ':').
    HEADER_LINES.lastIndex = pos;
    if (!HEADER_LINES.test(head)) return null;
  }
  while (pos < head.length) {
    let next = head.indexOf('\r\n', pos);
    if (next < 0) next = head.length;
    const colon = head.indexOf(':', pos);
    // Only names of the lengths below can matter here; the others are not even sliced.
    if (NAME_LENGTHS[colon - pos] !== 1) {
      pos = next + 2;
      continue;
    }
    // Only SP and HT can be whitespace here (HEADER_LINES let nothing else through): trim() strips exactly them.
    const value = head.slice(colon + 1, next).trim();
    const lname = head.slice(pos, colon).toLowerCase();
    switch (lname) {
      case 'content-length':
        if (contentLength >= 0 || !/^\d{1,15}$/.test(value)) return null;
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return null;
      case 'connection': {
        const v = value.toLowerCase();
        if (v.includes('upgrade')) return null;
        if (/(^|,)\s*close\s*(,|$)/.test(v)) close = true;
        break;
      }
      default:
        if (KEPT.has(lname)) {
          const k = lname as keyof FastHeaders;
          if (headers[k] !== undefined) return null; // node:http decides how repeats combine
          headers[k] = value;
        }
    }
    pos = next + 2;
  }
  if (contentLength > o.maxBodyBytes) return null;
  return { method: m, url, headers, contentLength: contentLength < 0 ? 0 : contentLength, close };
}

/** One response slot, in request order. */
interface Slot {
  out: string | [string, Buffer] | null;
  close: boolean;
}

class Connection {
  private buf: Buffer | null = null;
  private readonly slots: Slot[] = [];
  /** Reading stopped: waiting for responses to drain (pipeline limit or a client not reading). */
  private paused = false;
  private blocked = false;
  private handingOff = false;
  /** Handed to node:http. */
  private gone = false;
  private closing = false;
  private partialSince = 0;
  /** Last read or write (ms): the sweep closes the connection once it has been idle keepAliveTimeoutMs. */
  lastActive = Date.now();

  readonly socket: Socket;
  /** The current chunk is the shared read buffer (copy what outlives this read). */
  private borrowed = false;

  constructor(
    private readonly fh: FastHttp,
    accepted: Socket,
  ) {
    const adopted = adoptWithSharedBuffer(accepted, this.onShared);
    const socket = (this.socket = adopted ?? accepted);
    if (adopted !== null) (adopted as { server?: unknown }).server = fh.server;
    socket.setNoDelay(true);
    if (adopted === null) {
      socket.on('data', this.onData);
      socket.resume();
    }
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.lastActive = Date.now();
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    try {
      this.parse();
    } catch {
      // A bug here must not take the process down: drop this connection only.
      this.socket.destroy();
    }
  };

  /** A read into the shared buffer: parsed in place; unread bytes are copied before it is reused. */
  private readonly onShared = (chunk: Buffer): void => {
    if (this.gone) {
      // Handed to node:http, which reads the handle itself until it lets go of it (a WebSocket upgrade
      // or CONNECT); from then on reads arrive here and go to the socket's 'data' listeners (ws).
      this.socket.emit('data', Buffer.from(chunk));
      return;
    }
    if (this.buf !== null) {
      // Holding a partial request: onData's concat copies the chunk, nothing stays borrowed.
      this.onData(chunk);
      return;
    }
    this.borrowed = true;
    this.onData(chunk);
    this.borrowed = false;
    if (this.buf !== null) this.buf = Buffer.from(this.buf);
  };

  private readonly onDrain = (): void => {
    this.blocked = false;
    this.resumeIfReady();
  };

  /** The sweep (every connection, a few times per timeout): idle connections close, stalled requests get 408. */
  sweep(now: number): void {
    if (this.gone || this.slots.length > 0) return; // requests in flight have their own upstream timeouts
    if (this.partialSince !== 0 && !this.closing) {
      // A request is being received: headersTimeoutMs governs it, not the idle timeout (408, not a bare close).
      if (now - this.partialSince > this.fh.opts.headersTimeoutMs) this.timeOutPartial();
      return;
    }
    if (now - this.lastActive >= this.fh.opts.keepAliveTimeoutMs) this.socket.destroy();
  }

  private timeOutPartial(): void {
    this.socket.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    this.closing = true;
    this.buf = null;
  }

  private readonly onError = (): void => {};

  private readonly onClose = (): void => {
    this.fh.connections.delete(this);
  };

  private parse(): void {
    const o = this.fh.opts;
    while (this.buf !== null && !this.handingOff && !this.closing) {
      if (this.slots.length >= o.maxPipelined || this.blocked) {
        this.pause();
        return;
      }
      const buf = this.buf;
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > o.maxHeaderBytes || hasBareLf(buf)) return this.handOff();
        this.notePartial();
        return;
      }
      if (end > o.maxHeaderBytes) return this.handOff();
      const p = parseHead(buf, end, o);
      if (p === null) return this.handOff();
      const total = end + 4 + p.contentLength;
      if (buf.length < total) {
        this.notePartial();
        return;
      }
      this.partialSince = 0;
      let body = p.contentLength > 0 && p.method !== 'GET' ? buf.subarray(end + 4, total) : undefined;
      if (body !== undefined && this.borrowed) body = Buffer.from(body);
      this.buf = total === buf.length ? null : buf.subarray(total);
      this.dispatch(p, body);
      if (p.close) {
        // Connection: close: nothing after this request is read.
        this.closing = true;
        this.buf = null;
        this.socket.pause();
      }
    }
  }

  /** A header block or body still incomplete: the sweep answers 408 once it has been so for headersTimeoutMs. */
  private notePartial(): void {
    if (this.partialSince === 0) this.partialSince = Date.now();
  }

  private dispatch(p: Parsed, body: Buffer | undefined): void {
    const slot: Slot = { out: null, close: p.close };
    this.slots.push(slot);
    const req: FastRequest = { method: p.method, url: p.url, headers: p.headers, body };
    this.fh.opts.handle(req).then(
      (r) => {
        slot.out = format(r, p.close);
        this.flush();
      },
      () => {
        slot.out = format({ status: 500, type: 'application/json; charset=utf-8', body: '{"error":"internal error"}' }, true);
        slot.close = true;
        this.flush();
      },
    );
  }

  /** Writes the finished responses at the head of the queue, in request order. */
  private flush(): void {
    const s = this.socket;
    if (s.destroyed) return;
    let n = 0;
    while (n < this.slots.length && this.slots[n]!.out !== null) n++;
    if (n === 0) return;
    const done = this.slots.splice(0, n);
    this.lastActive = Date.now();
    if (n > 1) s.cork();
    let ok = true;
    let close = false;
    for (const slot of done) {
      const out = slot.out!;
      if (typeof out === 'string') ok = s.write(out);
      else {
        s.write(out[0], 'latin1');
        ok = s.write(out[1]);
      }
      if (slot.close) {
        close = true;
        break;
      }
    }
    if (n > 1) s.uncork();
    if (close) {
      this.closing = true;
      this.slots.length = 0;
      s.end();
      return;
    }
    if (!ok) this.blocked = true;
    if (this.slots.length === 0) {
      if (this.handingOff) return this.finishHandOff();
      if (this.closing && this.fh.shuttingDown) {
        s.end();
        return;
      }
    }
    this.resumeIfReady();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private resumeIfReady(): void {
    if (!this.paused || this.blocked || this.handingOff || this.closing) return;
    if (this.slots.length >= this.fh.opts.maxPipelined) return;
    this.paused = false;
    this.socket.resume();
    if (this.buf !== null) this.parse();
  }

  /** The rest of this connection belongs to node:http (once the responses before it are written). */
  private handOff(): void {
    this.handingOff = true;
    this.socket.pause();
    if (this.slots.length === 0) this.finishHandOff();
  }

  private finishHandOff(): void {
    const s = this.socket;
    s.removeListener('data', this.onData);
    // An adopted socket reads through `onread`; node:http consumes the handle itself from here on.
    if (this.borrowed && this.buf !== null) this.buf = Buffer.from(this.buf);
    s.removeListener('drain', this.onDrain);
    s.removeListener('error', this.onError);
    s.removeListener('close', this.onClose);
    this.gone = true;
    this.fh.connections.delete(this);
    this.fh.handedOff++;
    const rest = this.buf;
    this.buf = null;
    if (rest !== null) s.unshift(rest);
    for (const l of this.fh.httpListeners) l.call(this.fh.server, s);
    s.resume();
  }

  /** Server shutdown: close now when idle, else after the responses in flight. */
  shutdown(): void {
    this.closing = true;
    this.buf = null;
    if (this.slots.length === 0 || this.socket.destroyed) this.socket.destroy();
    else this.socket.pause();
  }
}

/** A response as the bytes to write: one latin1/utf8 string, or a header string and a Buffer body. */
function format(r: FastResponse, close: boolean): string | [string, Buffer] {
  let head = r.status === 200 ? STATUS_200 : `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Unknown'}\r\n`;
  if (r.headers) for (const [n, v] of r.headers) head += `${n}: ${v}\r\n`;
  if (r.syncToken !== undefined) head += `upstash-sync-token: ${r.syncToken}\r\n`;
  const body = r.body;
  const len = body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (r.type !== null) head += typeLine(r.type);
  head += `content-length: ${len}\r\n${tail(close)}`;
  if (body === null) return head;
  if (typeof body === 'string') return head + body;
  return [head, body];
}

export class FastHttp {
  readonly opts: Required<FastHttpOptions>;
  readonly connections = new Set<Connection>();
  /** node:http's own 'connection' listeners, called for a connection handed to it. */
  readonly httpListeners: ConnectionListener[];
  /** Connections handed to node:http so far (tests and metrics). */
  handedOff = 0;
  shuttingDown = false;
  private readonly sweeper: NodeJS.Timeout;

  /** Takes over `server`'s 'connection' event (before it listens). */
  constructor(
    readonly server: Server,
    options: FastHttpOptions,
  ) {
    this.opts = {
      maxBodyBytes: 64 * 1024,
      maxHeaderBytes: 16 * 1024,
      keepAliveTimeoutMs: 72_000,
      headersTimeoutMs: 60_000,
      maxPipelined: 64,
      ...options,
    };
    // Accepted connections start paused (nothing read yet), so that their handle can be moved onto a
    // socket reading into the shared buffer. net.Server reads this option at accept time.
    (server as unknown as { pauseOnConnect: boolean }).pauseOnConnect = true;
    this.httpListeners = server.listeners('connection') as ConnectionListener[];
    if (this.httpListeners.length === 0) throw new Error('FastHttp: the HTTP server has no connection listener');
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      this.connections.add(new Connection(this, socket));
    });
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(this.opts.keepAliveTimeoutMs, this.opts.headersTimeoutMs) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections) c.sweep(now);
    }, every);
    this.sweeper.unref();
  }

  /** Closes idle connections now and the others once their responses are written. */
  close(): void {
    this.shuttingDown = true;
    clearInterval(this.sweeper);
    for (const c of [...this.connections]) c.shutdown();
  }
}
