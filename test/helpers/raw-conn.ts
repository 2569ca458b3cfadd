/**
 * A raw RESP2/RESP3 connection for tests that check replies byte for byte (error texts, pushes):
 * no client library in between, so nothing follows MOVED/ASK or rewrites errors. Bulk strings are
 * decoded as latin1 (binary safe); errors become `{ err: text }`; RESP3 pushes become `{ push: [...] }`.
 */
import net from 'node:net';

export type Reply = string | number | null | { err: string } | { push: Reply[] } | Reply[];

export class RawConn {
  readonly frames: Reply[] = [];
  /** Each frame's own bytes (latin1), parallel to `frames`. */
  readonly raw: string[] = [];
  /** Raw bytes received so far (latin1), for exact-bytes assertions. */
  bytes = '';
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private consumed = 0;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.bytes += d.toString('latin1');
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parseReply(this.buf, 0);
        if (r === null) break;
        this.frames.push(r.value);
        this.raw.push(this.buf.toString('latin1', 0, r.end));
        this.buf = this.buf.subarray(r.end);
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    sock.on('error', () => undefined);
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  send(...args: (string | Buffer)[]): void {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    this.sock.write(Buffer.concat(parts));
  }

  /** The next frame not yet consumed (in arrival order), waiting up to `ms`. */
  async next(ms = 3000): Promise<Reply> {
    const deadline = Date.now() + ms;
    while (this.consumed >= this.frames.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms; got so far: ${JSON.stringify(this.bytes.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames[this.consumed++]!;
  }

  /** Send a command and return its reply (RESP3 pushes arriving meanwhile are skipped but kept in `frames`). */
  async call(...args: (string | Buffer)[]): Promise<Reply> {
    this.send(...args);
    for (;;) {
      const r = await this.next();
      if (isPush(r)) {
        this.skipped.push(r);
        continue;
      }
      return r;
    }
  }

  /** Send a command and return its reply's bytes as sent (latin1; no pushes expected meanwhile). */
  async callRaw(...args: (string | Buffer)[]): Promise<string> {
    const i = this.consumed;
    this.send(...args);
    await this.next();
    return this.raw[i]!;
  }

  /** Pushes skipped by call(). */
  readonly skipped: Reply[] = [];

  /** Frames not consumed yet, without waiting. */
  pending(): Reply[] {
    return this.frames.slice(this.consumed);
  }

  close(): void {
    this.sock.destroy();
  }
}

export function isPush(r: Reply): r is { push: Reply[] } {
  return r !== null && typeof r === 'object' && !Array.isArray(r) && 'push' in r;
}

function line(buf: Buffer, at: number): { text: string; end: number } | null {
  const i = buf.indexOf('\r\n', at);
  if (i < 0) return null;
  return { text: buf.toString('latin1', at, i), end: i + 2 };
}

/** Parse one RESP2/RESP3 value at `at` (null when incomplete): the test helpers' one RESP reader. */
export function parseReply(buf: Buffer, at: number): { value: Reply; end: number } | null {
  if (at >= buf.length) return null;
  const type = String.fromCharCode(buf[at]!);
  const l = line(buf, at + 1);
  if (l === null) return null;
  switch (type) {
    case '+':
      return { value: l.text, end: l.end };
    case '-':
      return { value: { err: l.text }, end: l.end };
    case ':':
      return { value: Number(l.text), end: l.end };
    case '_':
      return { value: null, end: l.end };
    case '#':
      return { value: l.text === 't' ? 1 : 0, end: l.end };
    case ',':
      return { value: Number(l.text), end: l.end };
    case '$':
    case '=':
    case '!': {
      const n = Number(l.text);
      if (n < 0) return { value: null, end: l.end };
      if (buf.length < l.end + n + 2) return null;
      let s = buf.toString('latin1', l.end, l.end + n);
      if (type === '=') s = s.slice(4);
      if (type === '!') return { value: { err: s }, end: l.end + n + 2 };
      return { value: s, end: l.end + n + 2 };
    }
    case '*':
    case '>':
    case '~':
    case '%': {
      let n = Number(l.text);
      if (n < 0) return { value: null, end: l.end };
      if (type === '%') n *= 2;
      const items: Reply[] = [];
      let p = l.end;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (r === null) return null;
        items.push(r.value);
        p = r.end;
      }
      return { value: type === '>' ? { push: items } : items, end: p };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
