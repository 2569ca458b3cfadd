/**
 * Incremental parser for client requests: RESP multibulk (`*N\r\n$L\r\n...`) and inline commands.
 *
 * Produces argv as latin1 strings. Partial input is kept between feeds; a large bulk that arrives in
 * many chunks is gathered into a list and joined once (no quadratic re-concatenation). Limits mirror
 * Redis (proto-max-bulk-len, the 64 KiB inline limit, client-query-buffer-limit, unauthenticated
 * limits) and violations raise {@link ProtocolError} with Redis's wording.
 */
import { InputBuffer } from './input-buffer';

export class ProtocolError extends Error {
  /** If true the connection is closed without a reply (query buffer overflow). */
  constructor(message: string, readonly silent = false) {
    super(message);
  }
}

export interface ParserLimits {
  maxBulkLen: number;
  maxQueryBuffer: number;
  /** Unauthenticated clients may only send small frames (Redis: 10 args, 16 KiB bulks). */
  authenticated: boolean;
}

const INLINE_MAX = 64 * 1024;
/** Multibulk counts up to this get an argv array of their exact size up front. */
const PREALLOC_ARGS = 1024;
const MAX_MULTIBULK = 0x7fffffff;

export class RequestParser extends InputBuffer {
  private argv: string[] | null = null;
  private argsLeft = 0;
  /** Arguments of `argv` parsed so far. */
  private argc = 0;
  /** Bytes of argv gathered so far for the command being parsed. */
  private argvBytes = 0;

  constructor(readonly limits: ParserLimits) {
    super();
  }

  /** Bytes buffered but not yet turned into commands (what Redis calls the query buffer). */
  get bufferedBytes(): number {
    return this.unreadBytes + this.argvBytes;
  }

  /** Add received bytes; `borrowed` as in {@link InputBuffer.append} (then call release() after parsing). */
  feed(chunk: Buffer, borrowed = false): void {
    if (!this.append(chunk, borrowed) && this.bufferedBytes > this.limits.maxQueryBuffer) throw new ProtocolError('query buffer limit', true);
  }

  /** Next complete command, or null when more input is needed. Throws ProtocolError. */
  next(): string[] | null {
    // Empty inline lines and empty multibulks (`*0`, `*-1`) are skipped in this loop, not by recursion,
    // so a flood of them cannot exhaust the stack.
    while (this.argv === null) {
      const buf = this.buf;
      if (this.pos >= buf.length) return null;
      if (buf[this.pos] !== 0x2a) {
        const args = this.inline();
        if (args === null) return null;
        if (args.length > 0) return args;
        continue;
      }
      // Multibulk header.
      const eol = indexOfCR(buf, this.pos);
      if (eol < 0 || eol + 1 >= buf.length) {
        if (buf.length - this.pos > INLINE_MAX) throw new ProtocolError('Protocol error: too big mbulk count string');
        return null;
      }
      if (buf[eol + 1] !== 0x0a) throw new ProtocolError('Protocol error: invalid multibulk length');
      const n = parseInteger(buf, this.pos + 1, eol);
      if (n === null || n > MAX_MULTIBULK) throw new ProtocolError('Protocol error: invalid multibulk length');
      if (!this.limits.authenticated && n > 10) throw new ProtocolError('Protocol error: unauthenticated multibulk length');
      this.pos = eol + 2;
      if (n <= 0) continue;
      // Exactly sized for ordinary commands (no growth, no slack); a huge declared count grows as
      // arguments actually arrive instead of allocating up front.
      this.argv = n <= PREALLOC_ARGS ? new Array<string>(n) : [];
      this.argsLeft = n;
      this.argc = 0;
      this.argvBytes = 0;
    }
    const buf = this.buf;
    const argv = this.argv;
    while (this.argsLeft > 0) {
      if (this.pos >= buf.length) return this.compact();
      if (buf[this.pos] !== 0x24) {
        throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(buf[this.pos])}'`);
      }
      const eol = indexOfCR(buf, this.pos);
      if (eol < 0 || eol + 1 >= buf.length) {
        if (buf.length - this.pos > INLINE_MAX) throw new ProtocolError('Protocol error: too big bulk count string');
        return this.compact();
      }
      const len = parseInteger(buf, this.pos + 1, eol);
      if (len === null || len < 0 || len > this.limits.maxBulkLen || buf[eol + 1] !== 0x0a) {
        throw new ProtocolError('Protocol error: invalid bulk length');
      }
      if (!this.limits.authenticated && len > 16384) throw new ProtocolError('Protocol error: unauthenticated bulk length');
      const start = eol + 2;
      if (start + len + 2 > buf.length) {
        // Wait for the whole bulk; remember how much is needed to avoid re-joining small chunks.
        if (this.argvBytes + len > this.limits.maxQueryBuffer) throw new ProtocolError('query buffer limit', true);
        const frameBytes = start + len + 2 - this.pos;
        this.compact();
        // Small frames are simply re-joined on the next feed; big ones are gathered until complete.
        if (frameBytes > 16 * 1024) this.need = frameBytes;
        return null;
      }
      argv[this.argc++] =
        len <= INTERN_MAX ? internedLatin1(buf, start, len) : len <= SHORT_ARG ? shortLatin1(buf, start, len) : buf.latin1Slice(start, start + len);
      this.argvBytes += len;
      this.pos = start + len + 2;
      this.argsLeft--;
    }
    this.argv = null;
    this.argvBytes = 0;
    return argv;
  }

  /** Drop consumed bytes so a long-lived partial command does not pin a large buffer. */
  private compact(): null {
    if (this.pos > 0 && this.pos >= 64 * 1024) {
      this.buf = Buffer.from(this.buf.subarray(this.pos));
      this.pos = 0;
    }
    if (this.bufferedBytes > this.limits.maxQueryBuffer) throw new ProtocolError('query buffer limit', true);
    return null;
  }

  /** One inline command; [] for an empty line, null when the line is incomplete. */
  private inline(): string[] | null {
    const buf = this.buf;
    const nl = buf.indexOf(0x0a, this.pos);
    if (nl < 0) {
      if (buf.length - this.pos > INLINE_MAX) throw new ProtocolError('Protocol error: too big inline request');
      return null;
    }
    let end = nl;
    if (end > this.pos && buf[end - 1] === 0x0d) end--;
    const line = buf.latin1Slice(this.pos, end);
    this.pos = nl + 1;
    const args = splitArgs(line);
    if (args === null) throw new ProtocolError('Protocol error: unbalanced quotes in request');
    return args;
  }
}

/**
 * Index of the first CR at or after `from`, or -1. Header lines (`*3`, `$16`) are a few bytes long:
 * a short JS scan finds their CR for much less than Buffer.indexOf's native call costs.
 */
function indexOfCR(buf: Buffer, from: number): number {
  const end = from + 24 < buf.length ? from + 24 : buf.length;
  for (let i = from; i < end; i++) if (buf[i] === 0x0d) return i;
  return end < buf.length ? buf.indexOf(0x0d, end) : -1;
}

/** Arguments up to this many bytes go through the {@link internedLatin1} cache. */
const INTERN_MAX = 8;
const INTERN_SLOTS = 1024; // a power of two
const interned: string[] = new Array<string>(INTERN_SLOTS).fill('');

/**
 * The latin1 string of bytes [s, s + n) for n <= INTERN_MAX, reusing the string decoded last time the
 * same bytes hashed to the same slot of a small direct-mapped cache. Command names and short repeated
 * values (flags, small numbers, a benchmark's constant value) then cost no allocation, and a repeated
 * value stored in the keyspace is one shared string rather than a new one for the collector to copy
 * and promote (Redis shares its small integer objects for the same reason). Strings are immutable,
 * so sharing one is invisible to callers.
 */
function internedLatin1(b: Buffer, s: number, n: number): string {
  if (n === 0) return '';
  // A cheap hash of the length and three bytes picks the slot; the byte comparison below decides.
  const last = b[s + n - 1];
  const slot = (n * 0x9e ^ b[s] * 0x3b ^ last * 0x11 ^ b[s + (n >> 1)]) & (INTERN_SLOTS - 1);
  const cached = interned[slot];
  if (cached.length === n) {
    let i = 0;
    while (i < n && cached.charCodeAt(i) === b[s + i]) i++;
    if (i === n) return cached;
  }
  const str = shortLatin1(b, s, n);
  interned[slot] = str;
  return str;
}

/** Arguments up to this many bytes are decoded in JS ({@link shortLatin1}), longer ones natively. */
const SHORT_ARG = 16;
const fromCharCode = String.fromCharCode;

/**
 * The latin1 string of bytes [s, s + n) (n <= SHORT_ARG takes the fast path). One String.fromCharCode call with the
 * bytes as arguments makes a flat one-byte string (like latin1Slice, never a cons string) at a
 * fraction of latin1Slice's native call overhead; command names, keys and small values take this path.
 */
function shortLatin1(b: Buffer, s: number, n: number): string {
  switch (n) {
    case 0: return '';
    case 1: return fromCharCode(b[s]);
    case 2: return fromCharCode(b[s], b[s + 1]);
    case 3: return fromCharCode(b[s], b[s + 1], b[s + 2]);
    case 4: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    case 7: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
    case 8: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
    case 9: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8]);
    case 10: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9]);
    case 11: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10]);
    case 12: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11]);
    case 13: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12]);
    case 14: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13]);
    case 15: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14]);
    case 16: return fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14], b[s + 15]);
    default: return b.latin1Slice(s, s + n);
  }
}

/** Parse a decimal integer from bytes [start, end); null if malformed. */
function parseInteger(buf: Buffer, start: number, end: number): number | null {
  if (start >= end || end - start > 19) return null;
  let neg = false;
  let i = start;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
    if (i === end) return null;
  }
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i] - 0x30;
    if (c < 0 || c > 9) return null;
    n = n * 10 + c;
  }
  return neg ? -n : n;
}

function isHex(c: string): boolean {
  return /[0-9a-fA-F]/.test(c);
}

/**
 * Split an inline command line like Redis's sdssplitargs: whitespace separated, "double quotes"
 * with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \' only. Returns null on unbalanced quotes.
 */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (true) {
    while (i < n && /\s/.test(line[i])) i++;
    if (i >= n) return out;
    let cur = '';
    let inDq = false;
    let inSq = false;
    let done = false;
    while (!done) {
      if (inDq) {
        if (i >= n) return null;
        const c = line[i];
        if (c === '\\' && i + 3 < n && line[i + 1] === 'x' && isHex(line[i + 2]) && isHex(line[i + 3])) {
          cur += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < n) {
          i++;
          const e = line[i];
          cur += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (c === '"') {
          if (i + 1 < n && !/\s/.test(line[i + 1])) return null;
          done = true;
        } else cur += c;
      } else if (inSq) {
        if (i >= n) return null;
        const c = line[i];
        if (c === '\\' && i + 1 < n && line[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (c === "'") {
          if (i + 1 < n && !/\s/.test(line[i + 1])) return null;
          done = true;
        } else cur += c;
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        const c = line[i];
        if (c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\0') done = true;
        else if (c === '"') inDq = true;
        else if (c === "'") inSq = true;
        else cur += c;
      }
      if (i < n) i++;
    }
    out.push(cur);
  }
}
