/**
 * Incremental reply parser for the client side of a connection, RESP2 and RESP3 (RESP2 is a subset):
 * MIGRATE's and the slot hand-off's link to a target node (cluster-node/src/cluster/key-mover.ts) and
 * the gateway's upstream subscriber connections (which run `HELLO 3` so that pushes and command
 * replies are told apart by type). Binary safe: strings come back as Buffers. Push frames (`>`) are
 * marked so a connection can route them; error replies become {@link RespErrorReply}.
 */

import { InputBuffer } from './input-buffer';

export class RespErrorReply {
  constructor(readonly message: string) {}
}

export type RespReply = Buffer | number | bigint | boolean | null | RespErrorReply | RespReply[] | RespPush;

/** A `>` push frame (pub/sub messages and (un)subscribe confirmations). */
export class RespPush {
  constructor(readonly items: RespReply[]) {}
}

export class ReplyProtocolError extends Error {}

const INCOMPLETE = Symbol('incomplete');
/** One element parsed: a value, or the header of an aggregate whose elements follow. */
type Parsed = { value: RespReply; end: number; open?: undefined } | { open: Frame; end: number } | typeof INCOMPLETE;
const EMPTY = Buffer.alloc(0);

/** An aggregate being received: its elements so far and how many are still to come. */
interface Frame {
  type: number;
  items: RespReply[];
  left: number;
}

const T_SET = 0x7e;
const T_PUSH = 0x3e;
const T_MAP = 0x25;
const T_ATTR = 0x7c;

export class ReplyParser extends InputBuffer {
  /** Largest bulk end seen by an incomplete parse (to avoid re-parsing on every small chunk). */
  private wantEnd = 0;
  /**
   * Aggregates still receiving elements, outermost first. Parsing resumes at the element it stopped at:
   * a large array arriving over many reads is parsed once, and only an incomplete element is carried
   * over to the next read (not the whole array so far).
   */
  private readonly open: Frame[] = [];

  feed(chunk: Buffer): void {
    this.append(chunk);
  }

  /** The next complete value, or undefined when more input is needed. Throws ReplyProtocolError. */
  next(): RespReply | undefined {
    for (;;) {
      if (this.need > 0 || this.pos >= this.buf.length) return undefined;
      this.wantEnd = 0;
      const r = this.parse(this.pos);
      if (r === INCOMPLETE) {
        // A big bulk is on its way: hold chunks until it is all here instead of re-parsing each time.
        if (this.wantEnd - this.pos > 64 * 1024) this.need = this.wantEnd - this.pos;
        return undefined;
      }
      this.pos = r.end;
      if (this.pos >= this.buf.length) {
        this.buf = EMPTY;
        this.pos = 0;
      }
      if (r.open !== undefined) {
        this.open.push(r.open);
        continue;
      }
      // A value: it completes the innermost open aggregate's element, which may complete that one, ...
      let v: RespReply = r.value;
      let done = true;
      while (this.open.length > 0) {
        const f = this.open[this.open.length - 1]!;
        f.items.push(v);
        if (--f.left > 0) {
          done = false;
          break;
        }
        this.open.pop();
        if (f.type === T_ATTR) {
          // An attribute is dropped: the value that follows stands in its place.
          done = false;
          break;
        }
        v = f.type === T_PUSH ? new RespPush(f.items) : f.items;
      }
      if (done) return v;
    }
  }

  /** One element at `p`: a scalar, an empty aggregate, or an aggregate's header (its elements follow). */
  private parse(p: number): Parsed {
    const buf = this.buf;
    if (p >= buf.length) return INCOMPLETE;
    const eol = buf.indexOf(0x0d, p);
    if (eol < 0 || eol + 1 >= buf.length) return INCOMPLETE;
    if (buf[eol + 1] !== 0x0a) throw new ReplyProtocolError('Protocol error: expected CRLF');
    const type = buf[p]!;
    const after = eol + 2;
    const line = (): string => buf.latin1Slice(p + 1, eol);
    switch (type) {
      case 0x2b: // + simple string
        return { value: buf.subarray(p + 1, eol), end: after };
      case 0x2d: // - error
        return { value: new RespErrorReply(buf.toString('utf8', p + 1, eol)), end: after };
      case 0x3a: // : integer
        return { value: int(line()), end: after };
      case 0x28: // ( big number
        return { value: BigInt(line()), end: after };
      case 0x2c: // , double
        return { value: Number(line().replace('inf', 'Infinity')), end: after };
      case 0x23: // # boolean
        return { value: line() === 't', end: after };
      case 0x5f: // _ null
        return { value: null, end: after };
      case 0x24: // $ bulk
      case 0x3d: // = verbatim
      case 0x21: {
        // ! bulk error
        const n = int(line());
        if (n < 0) return { value: null, end: after };
        if (after + n + 2 > buf.length) {
          this.wantEnd = Math.max(this.wantEnd, after + n + 2);
          return INCOMPLETE;
        }
        if (buf[after + n] !== 0x0d || buf[after + n + 1] !== 0x0a) throw new ReplyProtocolError('Protocol error: bad bulk string end');
        const body = buf.subarray(after, after + n);
        if (type === 0x21) return { value: new RespErrorReply(body.toString('utf8')), end: after + n + 2 };
        return { value: type === 0x3d ? body.subarray(4) : body, end: after + n + 2 };
      }
      case 0x2a: // * array
      case T_SET: // ~ set
      case T_PUSH: // > push
      case T_MAP: // % map (flattened)
      case T_ATTR: {
        // | attribute: parsed and dropped, the value that follows is returned
        let n = int(line());
        if (n < 0) return { value: null, end: after };
        if (type === T_MAP || type === T_ATTR) n *= 2;
        if (n === 0) {
          if (type === T_ATTR) return this.parse(after);
          return { value: type === T_PUSH ? new RespPush([]) : [], end: after };
        }
        return { open: { type, items: [], left: n }, end: after };
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
