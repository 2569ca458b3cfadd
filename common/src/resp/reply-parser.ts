/**
 * Incremental RESP2 reply parser for the client side of a connection (MIGRATE's link to its target).
 *
 * Feed socket chunks, then take complete replies with `next()`. Simple and bulk strings come back as
 * latin1 strings (one char = one byte), integers as numbers, nil bulks/arrays as null, error replies
 * as {@link RespErrorReply} (their text without the leading '-'), arrays as arrays.
 */

/** An error reply ("-ERR ..."): `message` is the text after '-'. */
export class RespErrorReply {
  constructor(readonly message: string) {}
}

export type RespReply = string | number | null | RespErrorReply | RespReply[];

/** The peer sent something that is not RESP2. */
export class ReplyProtocolError extends Error {}

const EMPTY = Buffer.alloc(0);
/** Marks "reply not complete yet" inside the recursive parse. */
const INCOMPLETE = Symbol('incomplete');
type Parsed = { value: RespReply; end: number } | typeof INCOMPLETE;

export class ReplyParser {
  private buf: Buffer = EMPTY;
  private pos = 0;

  feed(chunk: Buffer): void {
    if (this.pos >= this.buf.length) this.buf = chunk;
    else this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
  }

  /** The next complete reply, or undefined when more input is needed. Throws ReplyProtocolError. */
  next(): RespReply | undefined {
    if (this.pos >= this.buf.length) return undefined;
    const r = this.parse(this.pos);
    if (r === INCOMPLETE) return undefined;
    this.pos = r.end;
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    return r.value;
  }

  private parse(p: number): Parsed {
    const buf = this.buf;
    if (p >= buf.length) return INCOMPLETE;
    const eol = buf.indexOf(0x0d, p);
    if (eol < 0 || eol + 1 >= buf.length) return INCOMPLETE;
    if (buf[eol + 1] !== 0x0a) throw new ReplyProtocolError('Protocol error: expected CRLF');
    const type = buf[p];
    const line = buf.latin1Slice(p + 1, eol);
    const after = eol + 2;
    switch (type) {
      case 0x2b: // +
        return { value: line, end: after };
      case 0x2d: // -
        return { value: new RespErrorReply(line), end: after };
      case 0x3a: // :
        return { value: int(line), end: after };
      case 0x24: {
        // $
        const n = int(line);
        if (n < 0) return { value: null, end: after };
        if (after + n + 2 > buf.length) return INCOMPLETE;
        if (buf[after + n] !== 0x0d || buf[after + n + 1] !== 0x0a) throw new ReplyProtocolError('Protocol error: bad bulk string end');
        return { value: buf.latin1Slice(after, after + n), end: after + n + 2 };
      }
      case 0x2a: {
        // *
        const n = int(line);
        if (n < 0) return { value: null, end: after };
        const items: RespReply[] = [];
        let q = after;
        for (let i = 0; i < n; i++) {
          const r = this.parse(q);
          if (r === INCOMPLETE) return INCOMPLETE;
          items.push(r.value);
          q = r.end;
        }
        return { value: items, end: q };
      }
      default:
        throw new ReplyProtocolError(`Protocol error: unexpected reply type byte ${type}`);
    }
  }
}

function int(s: string): number {
  if (!/^-?\d+$/.test(s)) throw new ReplyProtocolError(`Protocol error: bad integer '${s}'`);
  return Number(s);
}
