/**
 * RESP2/RESP3 reply encoder writing into one growable Buffer.
 *
 * Strings are latin1 "byte strings" (one char = one byte), so bulk lengths are `s.length` and
 * bytes are copied with latin1Write: no UTF-8 round trips on the hot path. `proto` selects how
 * RESP3-only types degrade to RESP2 (map -> flat array, null -> $-1, double -> bulk, ...).
 */

const CRLF = 0x0a0d; // little-endian "\r\n" for writeUInt16LE
const INITIAL = 16 * 1024;
const SHRINK_ABOVE = 1024 * 1024;
export type Proto = 2 | 3;

/** Redis-style formatting of a double: shortest round-trip, inf/-inf/nan spelled like Redis. */
export function formatDouble(d: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (Number.isNaN(d)) return 'nan';
  if (Object.is(d, -0)) return '-0';
  return String(d);
}

export class RespWriter {
  buf: Buffer;
  len = 0;
  proto: Proto = 2;

  constructor(size = INITIAL) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.buf.copy(nb, 0, 0, this.len);
    this.buf = nb;
  }

  /** Detach what was written as its own Buffer and reset. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    if (this.buf.length > SHRINK_ABOVE) this.buf = Buffer.allocUnsafe(INITIAL);
    return out;
  }

  /** Detach what was written as a latin1 string (its bytes, one char each) and reset. */
  takeLatin1(): string {
    const out = this.buf.latin1Slice(0, this.len);
    this.len = 0;
    if (this.buf.length > SHRINK_ABOVE) this.buf = Buffer.allocUnsafe(INITIAL);
    return out;
  }

  reset(): void {
    this.len = 0;
  }

  /** Roll back to an earlier length (used to discard a partially written reply). */
  truncate(len: number): void {
    this.len = len;
  }

  private line(prefix: number, s: string): void {
    this.ensure(s.length + 3);
    const b = this.buf;
    b[this.len++] = prefix;
    this.len += b.latin1Write(s, this.len);
    b.writeUInt16LE(CRLF, this.len);
    this.len += 2;
  }

  private header(prefix: number, n: number): void {
    this.intLine(prefix, n);
  }

  /** `prefix` + decimal n + CRLF; small integers are written digit by digit, without a string. */
  private intLine(prefix: number, n: number): void {
    if ((n | 0) !== n) {
      this.line(prefix, String(n));
      return;
    }
    this.ensure(14);
    const b = this.buf;
    let p = this.len;
    b[p++] = prefix;
    if (n < 0) {
      b[p++] = 0x2d;
      n = -n;
    }
    p = writeDigits(b, p, n);
    b[p++] = 0x0d;
    b[p++] = 0x0a;
    this.len = p;
  }

  raw(s: string): void {
    this.ensure(s.length);
    this.len += this.buf.latin1Write(s, this.len);
  }

  rawBytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  ok(): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.len;
    b[p] = 0x2b; // +OK\r\n
    b[p + 1] = 0x4f;
    b[p + 2] = 0x4b;
    b[p + 3] = 0x0d;
    b[p + 4] = 0x0a;
    this.len = p + 5;
  }

  simple(s: string): void {
    this.line(0x2b, s);
  }

  /** `msg` carries its own code word, e.g. "ERR syntax error" or "WRONGTYPE ...". */
  error(msg: string): void {
    // Error text must stay on one line.
    this.line(0x2d, msg.indexOf('\n') >= 0 || msg.indexOf('\r') >= 0 ? msg.replace(/[\r\n]+/g, ' ') : msg);
  }

  int(n: number): void {
    this.intLine(0x3a, n);
  }

  bigint(n: bigint): void {
    this.line(0x3a, n.toString());
  }

  bulk(s: string): void {
    const n = s.length;
    this.ensure(n + 24);
    const b = this.buf;
    let p = this.len;
    b[p++] = 0x24;
    p = writeDigits(b, p, n);
    b[p++] = 0x0d;
    b[p++] = 0x0a;
    // Short strings: a byte loop beats the native call's fixed overhead.
    if (n <= 32) for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    else p += b.latin1Write(s, p);
    b[p++] = 0x0d;
    b[p++] = 0x0a;
    this.len = p;
  }

  bulkBytes(v: Uint8Array): void {
    this.line(0x24, String(v.length));
    this.rawBytes(v);
    this.ensure(2);
    this.buf.writeUInt16LE(CRLF, this.len);
    this.len += 2;
  }

  /** A bulk string or nil. */
  bulkOrNil(s: string | null | undefined): void {
    if (s === null || s === undefined) this.nil();
    else this.bulk(s);
  }

  nil(): void {
    this.rawBytes(this.proto === 3 ? NULL3 : NIL_BULK);
  }

  nilArray(): void {
    this.rawBytes(this.proto === 3 ? NULL3 : NIL_ARRAY);
  }

  array(n: number): void {
    this.header(0x2a, n);
  }

  emptyArray(): void {
    this.rawBytes(EMPTY_ARRAY);
  }

  map(n: number): void {
    if (this.proto === 3) this.header(0x25, n);
    else this.header(0x2a, n * 2);
  }

  set(n: number): void {
    this.header(this.proto === 3 ? 0x7e : 0x2a, n);
  }

  push(n: number): void {
    this.header(this.proto === 3 ? 0x3e : 0x2a, n);
  }

  double(d: number): void {
    this.doubleText(formatDouble(d));
  }

  /** A double already spelled out (`1.5`, `inf`): `,1.5` in RESP3, a bulk string in RESP2. */
  doubleText(s: string): void {
    if (this.proto === 3) this.line(0x2c, s);
    else this.bulk(s);
  }

  bool(b: boolean): void {
    if (this.proto === 3) this.raw(b ? '#t\r\n' : '#f\r\n');
    else this.int(b ? 1 : 0);
  }

  verbatim(s: string, format = 'txt'): void {
    if (this.proto === 3) {
      this.line(0x3d, String(s.length + 4));
      this.raw(format);
      this.raw(':');
      this.raw(s);
      this.raw('\r\n');
    } else this.bulk(s);
  }

  /** Array of bulk strings. */
  bulkArray(items: readonly string[]): void {
    this.array(items.length);
    for (let i = 0; i < items.length; i++) this.bulk(items[i]);
  }
}

/** Write the decimal digits of an integer 0 <= n < 2^31 at `p`; returns the position after them. */
function writeDigits(b: Buffer, p: number, n: number): number {
  if (n < 10) {
    b[p] = 0x30 + n;
    return p + 1;
  }
  let digits = 2;
  for (let t = 100; t <= n && digits < 10; t *= 10) digits++;
  const end = p + digits;
  for (let i = end - 1; i >= p; i--) {
    const q = (n / 10) | 0;
    b[i] = 0x30 + n - q * 10;
    n = q;
  }
  return end;
}

const NULL3 = Buffer.from('_\r\n');
const NIL_BULK = Buffer.from('$-1\r\n');
const NIL_ARRAY = Buffer.from('*-1\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');

/** Encode a command as a RESP array of bulk strings (client side). */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const w = new RespWriter(256);
  w.array(args.length);
  for (const a of args) {
    if (typeof a === 'string') w.bulk(a);
    else w.bulkBytes(a);
  }
  return w.take();
}
