/** Command handlers: bitmaps family (specs in common/src/commands/specs/bitmaps.ts). */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseBigInt, parseInt64 } from './args';
import type { Client } from '../server/client';
import { checkStringLength, lookupRead, parseRangePair, storeString } from './strings';

const BIT_OFFSET_ERR = 'ERR bit offset is not an integer or out of range';
const BIT_VALUE_ERR = 'ERR bit is not an integer or out of range';
const BITFIELD_TYPE_ERR = 'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.';

/** Bits set in each byte value. */
const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];

/**
 * Redis's getBitOffsetFromArgument: an int64 bit offset, or "#N" (N * bits) for BITFIELD; must be
 * >= 0 and address a byte below proto-max-bulk-len.
 */
function parseBitOffset(c: Client, s: string, hash: boolean, bits: number): number {
  let off: number;
  if (hash && bits > 0 && s.charCodeAt(0) === 35) {
    const body = s.slice(1);
    if (body.length < 16) off = parseInt64(body, BIT_OFFSET_ERR) * bits;
    else off = Number(BigInt.asIntN(64, parseBigInt(body, BIT_OFFSET_ERR) * BigInt(bits)));
  } else off = parseInt64(s, BIT_OFFSET_ERR);
  if (off < 0 || Math.floor(off / 8) >= c.server.config.int('proto-max-bulk-len')) throw new ReplyError(BIT_OFFSET_ERR);
  return off;
}

/** The string at key for a read, undefined if missing; WRONGTYPE otherwise. Counts hits/misses. */
function readString(c: Client, key: string): string | undefined {
  const v = lookupRead(c, key);
  if (v !== undefined && typeof v !== 'string') throw new ReplyError(E.wrongType);
  return v;
}

/** The string at key for a write (no hit/miss accounting), undefined if missing; WRONGTYPE otherwise. */
function writeString(c: Client, key: string): string | undefined {
  const v = c.db.get(key);
  if (v !== undefined && typeof v !== 'string') throw new ReplyError(E.wrongType);
  return v;
}

function popcount(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i <= to; i++) n += POPCOUNT[s.charCodeAt(i)];
  return n;
}

/** Redis's redisBitpos over bytes [from, from+count): first bit equal to `bit`; for 0 not found, count*8; for 1, -1. */
function bitposBytes(get: (i: number) => number, from: number, count: number, bit: number): number {
  const skip = bit ? 0 : 0xff;
  for (let i = 0; i < count; i++) {
    const b = get(from + i);
    if (b !== skip) {
      for (let k = 0; k < 8; k++) {
        if (((b >> (7 - k)) & 1) === bit) return i * 8 + k;
      }
    }
  }
  return bit ? -1 : count * 8;
}

/** Parse BIT|BYTE. */
function isBitUnit(s: string): boolean {
  const u = s.toUpperCase();
  if (u === 'BIT') return true;
  if (u === 'BYTE') return false;
  throw new ReplyError(E.syntax);
}

// ------------------------------------------------------------------ BITFIELD

const OP_GET = 0;
const OP_SET = 1;
const OP_INCRBY = 2;
const OW_WRAP = 0;
const OW_SAT = 1;
const OW_FAIL = 2;

interface BitfieldOp {
  opcode: number;
  sign: boolean;
  bits: number;
  offset: number;
  value: bigint;
  owtype: number;
}

function parseBitfieldType(s: string): { sign: boolean; bits: number } {
  const t = s.charCodeAt(0);
  let sign: boolean;
  if (t === 105) sign = true;
  else if (t === 117) sign = false;
  else throw new ReplyError(BITFIELD_TYPE_ERR);
  let rest = s.slice(1);
  const nul = rest.indexOf('\0');
  if (nul >= 0) rest = rest.slice(0, nul);
  let bits: number;
  try {
    bits = parseInt64(rest);
  } catch {
    throw new ReplyError(BITFIELD_TYPE_ERR);
  }
  if (bits < 1 || (sign && bits > 64) || (!sign && bits > 63)) throw new ReplyError(BITFIELD_TYPE_ERR);
  return { sign, bits };
}

function byteOf(src: string | Uint8Array, i: number): number {
  if (typeof src === 'string') return i < src.length ? src.charCodeAt(i) : 0;
  return i < src.length ? src[i] : 0;
}

/** Read `bits` bits at bit `offset` (MSB first, zero past the end) as an unsigned value. */
function readBits(src: string | Uint8Array, offset: number, bits: number): bigint {
  const first = Math.floor(offset / 8);
  const last = Math.floor((offset + bits - 1) / 8);
  if (last - first < 6) {
    // At most 48 bits: exact in a double.
    let v = 0;
    for (let i = first; i <= last; i++) v = v * 256 + byteOf(src, i);
    const trailing = (last + 1) * 8 - (offset + bits);
    return BigInt(Math.floor(v / 2 ** trailing) % 2 ** bits);
  }
  let v = 0n;
  for (let i = first; i <= last; i++) v = (v << 8n) | BigInt(byteOf(src, i));
  const trailing = (last + 1) * 8 - (offset + bits);
  return (v >> BigInt(trailing)) & ((1n << BigInt(bits)) - 1n);
}

/** Write the low `bits` bits of `value` at bit `offset` (MSB first); the buffer is large enough. */
function writeBits(buf: Uint8Array, offset: number, bits: number, value: bigint): void {
  const bin = BigInt.asUintN(bits, value).toString(2);
  const pad = bits - bin.length;
  for (let j = 0; j < bits; j++) {
    const bitval = j < pad ? 0 : bin.charCodeAt(j - pad) - 48;
    const pos = offset + j;
    const byte = Math.floor(pos / 8);
    const mask = 1 << (7 - (pos % 8));
    if (bitval) buf[byte] |= mask;
    else buf[byte] &= ~mask;
  }
}

/**
 * Redis's checkSignedBitfieldOverflow: 1 overflow, -1 underflow, 0 none. Computed with its int64
 * wrap-arounds, so e.g. SET of a very negative value to a narrow field counts as an overflow (SAT -> max).
 */
function signedOverflow(value: bigint, incr: bigint, bits: number): number {
  const max = bits === 64 ? INT64_MAX : (1n << BigInt(bits - 1)) - 1n;
  const min = -max - 1n;
  const maxincr = BigInt.asIntN(64, max - value);
  const minincr = BigInt.asIntN(64, min - value);
  if (value > max || (bits !== 64 && incr > maxincr) || (value >= 0n && incr > 0n && incr > maxincr)) return 1;
  if (value < min || (bits !== 64 && incr < minincr) || (value < 0n && incr < 0n && incr < minincr)) return -1;
  return 0;
}

/** Redis's checkUnsignedBitfieldOverflow (value is a uint64, incr an int64). */
function unsignedOverflow(value: bigint, incr: bigint, bits: number): number {
  const max = (1n << BigInt(bits)) - 1n;
  const maxincr = BigInt.asIntN(64, max - value);
  const minincr = BigInt.asIntN(64, -value);
  if (value > max || (incr > 0n && incr > maxincr)) return 1;
  if (incr < 0n && incr < minincr) return -1;
  return 0;
}

const INT64_MAX = (1n << 63n) - 1n;

function bitfieldGeneric(c: Client, argv: string[], readonlyCmd: boolean): void {
  const ops: BitfieldOp[] = [];
  let owtype = OW_WRAP;
  let readonly = true;
  let highestWrite = 0;
  for (let j = 2; j < argv.length; j++) {
    const remargs = argv.length - j - 1;
    const sub = argv[j].toUpperCase();
    let opcode: number;
    if (sub === 'GET' && remargs >= 2) opcode = OP_GET;
    else if (sub === 'SET' && remargs >= 3) opcode = OP_SET;
    else if (sub === 'INCRBY' && remargs >= 3) opcode = OP_INCRBY;
    else if (sub === 'OVERFLOW' && remargs >= 1) {
      const ow = argv[++j].toUpperCase();
      if (ow === 'WRAP') owtype = OW_WRAP;
      else if (ow === 'SAT') owtype = OW_SAT;
      else if (ow === 'FAIL') owtype = OW_FAIL;
      else throw new ReplyError('ERR Invalid OVERFLOW type specified');
      continue;
    } else throw new ReplyError(E.syntax);
    const { sign, bits } = parseBitfieldType(argv[j + 1]);
    const offset = parseBitOffset(c, argv[j + 2], true, bits);
    let value = 0n;
    if (opcode !== OP_GET) {
      readonly = false;
      if (highestWrite < offset + bits - 1) highestWrite = offset + bits - 1;
      value = parseBigInt(argv[j + 3]);
    }
    ops.push({ opcode, sign, bits, offset, value, owtype });
    j += opcode === OP_GET ? 2 : 3;
  }

  const key = argv[1];
  const w = c.w;
  if (readonly) {
    const src = readString(c, key);
    w.array(ops.length);
    for (const op of ops) {
      const u = src === undefined ? 0n : readBits(src, op.offset, op.bits);
      w.bigint(op.sign ? BigInt.asIntN(op.bits, u) : u);
    }
    return;
  }
  if (readonlyCmd) throw new ReplyError('ERR BITFIELD_RO only supports the GET subcommand');

  // Like lookupStringForBitCommand: create or zero-extend the string up to the farthest written byte.
  const cur = writeString(c, key);
  const need = Math.floor(highestWrite / 8) + 1;
  const oldLen = cur === undefined ? 0 : cur.length;
  if (need > oldLen) checkStringLength(c, need, 0);
  const buf = Buffer.alloc(Math.max(need, oldLen));
  if (cur !== undefined) buf.latin1Write(cur, 0);
  const grown = cur === undefined || need > oldLen;

  w.array(ops.length);
  let changes = 0;
  for (const op of ops) {
    const bits = op.bits;
    if (op.opcode === OP_GET) {
      const u = readBits(buf, op.offset, bits);
      w.bigint(op.sign ? BigInt.asIntN(bits, u) : u);
      continue;
    }
    const oldU = readBits(buf, op.offset, bits);
    const oldval = op.sign ? BigInt.asIntN(bits, oldU) : oldU;
    // Redis's check{Signed,Unsigned}BitfieldOverflow, int64 wrap-arounds included.
    const isIncr = op.opcode === OP_INCRBY;
    const value = isIncr ? oldval : op.sign ? op.value : BigInt.asUintN(64, op.value);
    const incr = isIncr ? op.value : 0n;
    const overflow = op.sign ? signedOverflow(value, incr, bits) : unsignedOverflow(value, incr, bits);
    let newval = op.sign ? value + incr : BigInt.asUintN(64, value + incr);
    let failed = false;
    if (overflow !== 0) {
      if (op.owtype === OW_WRAP) newval = op.sign ? BigInt.asIntN(bits, value + incr) : BigInt.asUintN(bits, value + incr);
      else if (op.owtype === OW_SAT) {
        if (op.sign) newval = overflow > 0 ? (1n << BigInt(bits - 1)) - 1n : -(1n << BigInt(bits - 1));
        else newval = overflow > 0 ? (1n << BigInt(bits)) - 1n : 0n;
      } else failed = true;
    }
    if (failed) {
      w.nil();
      continue;
    }
    w.bigint(isIncr ? newval : oldval);
    writeBits(buf, op.offset, bits, newval);
    changes++;
  }

  if (changes > 0 || grown) c.db.set(key, buf.latin1Slice(0, buf.length), true);
  if (changes > 0) {
    const s = c.server;
    s.signalModified(c.db, key);
    s.pubsub.notify('$', 'setbit', key, c.db.id);
    s.dirty += changes;
  }
}

// ------------------------------------------------------------------ handlers

/** BITCOUNT/BITPOS range normalisation (Redis bitops.c): byte range plus masks of bits to discount. */
const br = { start: 0, end: 0, firstMask: 0, lastMask: 0 };
function byteRange(bytes: number, start: number, end: number, isbit: boolean): void {
  const totlen = isbit ? bytes * 8 : bytes;
  if (start < 0) start = totlen + start;
  if (end < 0) end = totlen + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= totlen) end = totlen - 1;
  br.firstMask = 0;
  br.lastMask = 0;
  if (isbit && start <= end) {
    br.firstMask = ~((1 << (8 - (start % 8))) - 1) & 0xff;
    br.lastMask = (1 << (7 - (end % 8))) - 1;
    start = Math.floor(start / 8);
    end = Math.floor(end / 8);
  }
  br.start = start;
  br.end = end;
}

export const handlers: HandlerMap = {
  setbit(c, argv) {
    const key = argv[1];
    const offset = parseBitOffset(c, argv[2], false, 0);
    const on = parseInt64(argv[3], BIT_VALUE_ERR);
    if (on !== 0 && on !== 1) throw new ReplyError(BIT_VALUE_ERR);
    const cur = writeString(c, key);
    const byte = Math.floor(offset / 8);
    const mask = 1 << (7 - (offset % 8));
    let bitval = 0;
    let v: string;
    if (cur === undefined || byte >= cur.length) {
      const len = cur === undefined ? 0 : cur.length;
      checkStringLength(c, byte + 1, 0);
      const pad = byte - len;
      v = (cur ?? '') + (pad > 0 ? '\0'.repeat(pad) : '') + String.fromCharCode(on ? mask : 0);
    } else {
      const old = cur.charCodeAt(byte);
      bitval = old & mask ? 1 : 0;
      if (bitval === on) {
        c.w.int(bitval);
        return;
      }
      v = cur.slice(0, byte) + String.fromCharCode(on ? old | mask : old & ~mask) + cur.slice(byte + 1);
    }
    const s = c.server;
    c.db.set(key, v, true);
    s.signalModified(c.db, key);
    s.pubsub.notify('$', 'setbit', key, c.db.id);
    s.dirty++;
    c.w.int(bitval);
  },

  getbit(c, argv) {
    const offset = parseBitOffset(c, argv[2], false, 0);
    const v = readString(c, argv[1]);
    const byte = Math.floor(offset / 8);
    if (v === undefined || byte >= v.length) {
      c.w.int(0);
      return;
    }
    c.w.int(v.charCodeAt(byte) & (1 << (7 - (offset % 8))) ? 1 : 0);
  },

  bitcount(c, argv) {
    const v = readString(c, argv[1]);
    if (v === undefined) {
      c.w.int(0);
      return;
    }
    const strlen = v.length;
    let start: number;
    let end: number;
    let firstMask = 0;
    let lastMask = 0;
    if (argv.length === 4 || argv.length === 5) {
      const totlen = strlen;
      const reversed = parseRangePair(argv[2], argv[3]);
      start = parseInt64(argv[2]);
      end = parseInt64(argv[3]);
      if (reversed) {
        c.w.int(0);
        return;
      }
      const isbit = argv.length === 5 && isBitUnit(argv[4]);
      byteRange(totlen, start, end, isbit);
      ({ start, end, firstMask, lastMask } = br);
    } else if (argv.length === 2) {
      start = 0;
      end = strlen - 1;
    } else throw new ReplyError(E.syntax);
    if (start > end) {
      c.w.int(0);
      return;
    }
    let count = popcount(v, start, end);
    if (firstMask !== 0) count -= POPCOUNT[v.charCodeAt(start) & firstMask];
    if (lastMask !== 0) count -= POPCOUNT[v.charCodeAt(end) & lastMask];
    c.w.int(count);
  },

  bitpos(c, argv) {
    const bit = parseInt64(argv[2]);
    if (bit !== 0 && bit !== 1) throw new ReplyError('ERR The bit argument must be 1 or 0.');
    const v = readString(c, argv[1]);
    if (v === undefined) {
      c.w.int(bit ? -1 : 0);
      return;
    }
    const strlen = v.length;
    const argc = argv.length;
    let start: number;
    let end: number;
    let endGiven = false;
    let firstMask = 0;
    let lastMask = 0;
    if (argc >= 4 && argc <= 6) {
      const totlen = strlen;
      start = parseInt64(argv[3]);
      const isbit = argc === 6 && isBitUnit(argv[5]);
      if (argc >= 5) {
        end = parseInt64(argv[4]);
        endGiven = true;
      } else end = totlen - 1;
      byteRange(totlen, start, end, isbit);
      ({ start, end, firstMask, lastMask } = br);
    } else if (argc === 3) {
      start = 0;
      end = strlen - 1;
    } else throw new ReplyError(E.syntax);

    if (start > end) {
      c.w.int(-1);
      return;
    }
    const get = (i: number): number => v.charCodeAt(i);
    let bytes = end - start + 1;
    let pos: number;
    compute: {
      if (firstMask) {
        let tmp = bit ? v.charCodeAt(start) & ~firstMask & 0xff : v.charCodeAt(start) | firstMask;
        if (lastMask && bytes === 1) tmp = bit ? tmp & ~lastMask & 0xff : tmp | lastMask;
        pos = bitposBytes(() => tmp, 0, 1, bit);
        if (bytes === 1 || (pos !== -1 && pos !== 8)) break compute;
        start++;
        bytes--;
      }
      const curbytes = bytes - (lastMask ? 1 : 0);
      if (curbytes > 0) {
        pos = bitposBytes(get, start, curbytes, bit);
        if (bytes === curbytes || (pos !== -1 && pos !== curbytes * 8)) break compute;
        start += curbytes;
        bytes -= curbytes;
      }
      const tmp = bit ? v.charCodeAt(end) & ~lastMask & 0xff : v.charCodeAt(end) | lastMask;
      pos = bitposBytes(() => tmp, 0, 1, bit);
    }
    // A clear bit past an explicit end is outside the range: report "not found".
    if (endGiven && bit === 0 && pos === bytes * 8) {
      c.w.int(-1);
      return;
    }
    if (pos !== -1) pos += start * 8;
    c.w.int(pos);
  },

  bitop(c, argv) {
    const op = argv[1].toUpperCase();
    if (op !== 'AND' && op !== 'OR' && op !== 'XOR' && op !== 'NOT') throw new ReplyError(E.syntax);
    if (op === 'NOT' && argv.length !== 4) throw new ReplyError('ERR BITOP NOT must be called with a single source key.');
    const target = argv[2];
    const n = argv.length - 3;
    const srcs: (Buffer | null)[] = [];
    let maxlen = 0;
    for (let j = 0; j < n; j++) {
      const v = readString(c, argv[j + 3]);
      if (v === undefined || v.length === 0) {
        srcs.push(null);
        continue;
      }
      srcs.push(Buffer.from(v, 'latin1'));
      if (v.length > maxlen) maxlen = v.length;
    }
    const s = c.server;
    const db = c.db;
    if (maxlen === 0) {
      if (db.delete(target)) {
        s.signalModified(db, target);
        s.pubsub.notify('g', 'del', target, db.id);
        s.dirty++;
      }
      c.w.int(0);
      return;
    }
    const res = Buffer.alloc(maxlen);
    const first = srcs[0];
    if (first !== null) first.copy(res, 0);
    if (op === 'NOT') {
      for (let i = 0; i < maxlen; i++) res[i] = ~res[i] & 0xff;
    } else if (op === 'AND') {
      for (let j = 1; j < n; j++) {
        const b = srcs[j];
        const len = b === null ? 0 : b.length;
        for (let i = 0; i < len; i++) res[i] &= b![i];
        res.fill(0, len);
      }
    } else if (op === 'OR') {
      for (let j = 1; j < n; j++) {
        const b = srcs[j];
        if (b === null) continue;
        for (let i = 0; i < b.length; i++) res[i] |= b[i];
      }
    } else {
      for (let j = 1; j < n; j++) {
        const b = srcs[j];
        if (b === null) continue;
        for (let i = 0; i < b.length; i++) res[i] ^= b[i];
      }
    }
    storeString(c, target, res.latin1Slice(0, maxlen));
    c.w.int(maxlen);
  },

  bitfield(c, argv) {
    bitfieldGeneric(c, argv, false);
  },

  bitfield_ro(c, argv) {
    bitfieldGeneric(c, argv, true);
  },
};
