/**
 * DUMP / RESTORE payloads, deep copies (COPY) and Redis-like OBJECT ENCODING names.
 *
 * Payload shape (the same as Redis's, so payloads move between this engine and redis-server):
 *
 *   <type byte> <encoded value> <RDB version: 2 bytes LE> <CRC64-Jones of everything before: 8 bytes LE>
 *
 * We write the plain RDB object encodings every Redis >= 2.x loads: 0 string, 1 list, 2 set,
 * 4 hash, 5 zset (binary double scores), with RDB length prefixes, and stamp them with RDB version 10
 * (Redis 7.0) so a Redis 7.0+ server accepts them. We read those plus the compact encodings a real
 * Redis 7 writes: int-encoded and LZF-compressed strings, intsets, listpacks (hash / zset / set) and
 * quicklist-of-listpacks lists, and the old string-scored zset (3).
 *
 * Payloads are latin1 strings (one char = one byte), like every Redis string in this engine.
 *
 * The value encoder (rdbTypeOf + encodeValueBody) and decoder (RdbReader + readValue) are shared with
 * the RDB file writer/reader in persistence/rdb.ts: a DUMP payload is exactly one RDB value.
 */
import { HashValue, SetValue, type Value, type CollectionValue } from './values';
import { ListValue } from './values-list';
import { ZSetValue, buildZSet } from './values-zset';

/** RDB version stamped on our payloads, and the newest one we accept. */
export const DUMP_RDB_VERSION = 10;
export const MAX_RDB_VERSION = 12;

const T_STRING = 0;
const T_LIST = 1;
const T_SET = 2;
const T_ZSET = 3;
const T_HASH = 4;
const T_ZSET_2 = 5;
const T_LIST_ZIPLIST = 10;
const T_SET_INTSET = 11;
const T_ZSET_ZIPLIST = 12;
const T_HASH_ZIPLIST = 13;
const T_LIST_QUICKLIST = 14;
const T_HASH_LISTPACK = 16;
const T_ZSET_LISTPACK = 17;
const T_LIST_QUICKLIST_2 = 18;
const T_SET_LISTPACK = 20;

/** RDB value type bytes readValue() decodes (RDB opcodes are 0xf5..0xff, streams/modules are unsupported). */
export function isSupportedValueType(t: number): boolean {
  return t <= T_HASH || t === T_ZSET_2 || (t >= T_LIST_ZIPLIST && t <= T_LIST_QUICKLIST) || (t >= T_HASH_LISTPACK && t <= T_LIST_QUICKLIST_2) || t === T_SET_LISTPACK;
}

// ---------------------------------------------------------------------------------------- CRC64

/** CRC-64/Jones as Redis uses it (reflected, poly 0xad93d23594c935a9, init 0), as two 32-bit tables. */
const CRC_LO = new Uint32Array(256);
const CRC_HI = new Uint32Array(256);
{
  // Reflected polynomial 0x95ac9329ac4bc9b5.
  const PHI = 0x95ac9329;
  const PLO = 0xac4bc9b5;
  for (let i = 0; i < 256; i++) {
    let hi = 0;
    let lo = i;
    for (let b = 0; b < 8; b++) {
      const bit = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (bit) {
        lo = (lo ^ PLO) >>> 0;
        hi = (hi ^ PHI) >>> 0;
      }
    }
    CRC_LO[i] = lo;
    CRC_HI[i] = hi;
  }
}

/** CRC64 of s[0..end) (latin1 bytes) as [hi, lo] 32-bit halves. */
function crc64(s: string, end: number): [number, number] {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < end; i++) {
    const idx = (lo ^ s.charCodeAt(i)) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ CRC_LO[idx]) >>> 0;
    hi = ((hi >>> 8) ^ CRC_HI[idx]) >>> 0;
  }
  return [hi, lo];
}

/** A running CRC64 over a byte stream fed in pieces (RDB files). */
export class Crc64 {
  private hi = 0;
  private lo = 0;

  update(buf: Uint8Array, start = 0, end = buf.length): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = start; i < end; i++) {
      const idx = (lo ^ buf[i]) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ CRC_LO[idx]) >>> 0;
      hi = ((hi >>> 8) ^ CRC_HI[idx]) >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** The checksum as RDB stores it: 8 bytes, little endian. */
  bytes(): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(this.lo, 0);
    b.writeUInt32LE(this.hi, 4);
    return b;
  }
}

/** CRC64 as a 16-digit hex string (tests: "123456789" gives e9c6d914c4b8d9ca). */
export function crc64Hex(s: string): string {
  const [hi, lo] = crc64(s, s.length);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------- writing

const F64 = new Float64Array(1);
const F64B = new Uint8Array(F64.buffer);

/** An RDB length prefix (6-bit, 14-bit, 32-bit or 64-bit form). */
export function rdbLen(n: number): string {
  if (n < 64) return String.fromCharCode(n);
  if (n < 16384) return String.fromCharCode(0x40 | (n >>> 8), n & 0xff);
  if (n <= 0xffffffff) return String.fromCharCode(0x80, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  return String.fromCharCode(0x81, (hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
}

const lenBytes = rdbLen;

function doubleBytes(d: number): string {
  F64[0] = d;
  let s = '';
  for (let i = 0; i < 8; i++) s += String.fromCharCode(F64B[i]);
  return s;
}

/** The RDB type byte written for a value. */
export function rdbTypeOf(v: Value): number {
  if (typeof v === 'string') return T_STRING;
  switch (v.type) {
    case 'list':
      return T_LIST;
    case 'set':
      return T_SET;
    case 'hash':
      return T_HASH;
    case 'zset':
      return T_ZSET_2;
  }
}

/** Append the RDB encoding of a value (what follows its type byte, and its key in an RDB file) to `parts`. */
export function encodeValueBody(v: Value, parts: string[]): void {
  if (typeof v === 'string') {
    parts.push(lenBytes(v.length), v);
    return;
  }
  switch (v.type) {
    case 'list': {
      const items = listItems(v);
      parts.push(lenBytes(items.length));
      for (const it of items) parts.push(lenBytes(it.length), it);
      break;
    }
    case 'set': {
      const set = (v as SetValue).set;
      parts.push(lenBytes(set.size));
      for (const m of set) parts.push(lenBytes(m.length), m);
      break;
    }
    case 'hash': {
      const map = (v as HashValue).map;
      parts.push(lenBytes(map.size));
      for (const [f, val] of map) parts.push(lenBytes(f.length), f, lenBytes(val.length), val);
      break;
    }
    case 'zset': {
      parts.push(lenBytes(v.size));
      zsetForEach(v, (m, score) => {
        parts.push(lenBytes(m.length), m, doubleBytes(score));
      });
      break;
    }
  }
}

/** Serialize a value into a DUMP payload. */
export function dumpValue(v: Value): string {
  const parts: string[] = [String.fromCharCode(rdbTypeOf(v))];
  encodeValueBody(v, parts);
  parts.push(String.fromCharCode(DUMP_RDB_VERSION & 0xff, DUMP_RDB_VERSION >>> 8));
  let body = parts.join('');
  const [hi, lo] = crc64(body, body.length);
  body += String.fromCharCode(lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff, (hi >>> 16) & 0xff, hi >>> 24);
  return body;
}

// ---------------------------------------------------------------------------------------- reading

/** Thrown for a payload whose content cannot be decoded (RESTORE answers "ERR Bad data format"). */
export class BadPayload extends Error {}

/** True if the payload has a version we understand and a matching checksum (Redis's verifyDumpPayload). */
export function verifyPayload(p: string): boolean {
  const n = p.length;
  if (n < 10) return false;
  const ver = p.charCodeAt(n - 10) | (p.charCodeAt(n - 9) << 8);
  if (ver > MAX_RDB_VERSION) return false;
  const [hi, lo] = crc64(p, n - 8);
  const glo = (p.charCodeAt(n - 8) | (p.charCodeAt(n - 7) << 8) | (p.charCodeAt(n - 6) << 16) | (p.charCodeAt(n - 5) << 24)) >>> 0;
  const ghi = (p.charCodeAt(n - 4) | (p.charCodeAt(n - 3) << 8) | (p.charCodeAt(n - 2) << 16) | (p.charCodeAt(n - 1) << 24)) >>> 0;
  return glo === lo && ghi === hi;
}

/**
 * Sequential reader over RDB-encoded bytes (a DUMP payload or a whole RDB file); every read checks
 * bounds and throws BadPayload. Strings come back as latin1 strings.
 */
export class RdbReader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw new BadPayload('short read');
    return this.buf[this.pos++];
  }

  bytes(n: number): string {
    if (n < 0 || this.pos + n > this.end) throw new BadPayload('short read');
    const out = this.buf.latin1Slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Little-endian signed 64-bit integer as a number (expire times in ms). */
  int64(): number {
    if (this.pos + 8 > this.end) throw new BadPayload('short read');
    const v = Number(this.buf.readBigInt64LE(this.pos));
    this.pos += 8;
    return v;
  }

  /** Little-endian unsigned 32-bit integer (old second-resolution expire times). */
  uint32(): number {
    if (this.pos + 4 > this.end) throw new BadPayload('short read');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** RDB length; `encoded` is set when the value is a special string encoding (11xxxxxx). */
  encoded = false;
  len(): number {
    this.encoded = false;
    const b = this.byte();
    const kind = b >>> 6;
    if (kind === 0) return b & 0x3f;
    if (kind === 1) return ((b & 0x3f) << 8) | this.byte();
    if (kind === 3) {
      this.encoded = true;
      return b & 0x3f;
    }
    if (b === 0x80) return ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte();
    if (b === 0x81) {
      const hi = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte();
      const lo = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte();
      const n = hi * 0x100000000 + lo;
      if (!Number.isSafeInteger(n)) throw new BadPayload('length');
      return n;
    }
    throw new BadPayload('length encoding');
  }

  /** A count of items: a plain length, bounded by what is left in the payload. */
  count(minBytesEach: number): number {
    const n = this.len();
    if (this.encoded) throw new BadPayload('count');
    if (n * minBytesEach > this.end - this.pos) throw new BadPayload('count');
    return n;
  }

  /** An RDB string: raw, int-encoded or LZF-compressed. */
  str(): string {
    const n = this.len();
    if (!this.encoded) return this.bytes(n);
    switch (n) {
      case 0: {
        const v = this.byte();
        return String(v > 127 ? v - 256 : v);
      }
      case 1: {
        const v = this.byte() | (this.byte() << 8);
        return String(v > 32767 ? v - 65536 : v);
      }
      case 2: {
        const v = this.byte() | (this.byte() << 8) | (this.byte() << 16) | (this.byte() << 24);
        return String(v);
      }
      case 3: {
        const clen = this.len();
        if (this.encoded) throw new BadPayload('lzf');
        const ulen = this.len();
        if (this.encoded) throw new BadPayload('lzf');
        return lzfDecompress(this.bytes(clen), ulen);
      }
      default:
        throw new BadPayload('string encoding');
    }
  }

  /** 8-byte little-endian binary double. */
  binDouble(): number {
    if (this.pos + 8 > this.end) throw new BadPayload('short read');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Old-style string double: 253 nan, 254 +inf, 255 -inf, else length + ASCII. */
  strDouble(): number {
    const n = this.byte();
    if (n === 253) return NaN;
    if (n === 254) return Infinity;
    if (n === 255) return -Infinity;
    const v = Number(this.bytes(n));
    return v;
  }
}

function lzfDecompress(input: string, outLen: number): string {
  const out = new Uint8Array(outLen);
  let ip = 0;
  let op = 0;
  const n = input.length;
  while (ip < n) {
    let ctrl = input.charCodeAt(ip++);
    if (ctrl < 32) {
      ctrl++;
      if (op + ctrl > outLen || ip + ctrl > n) throw new BadPayload('lzf');
      for (let i = 0; i < ctrl; i++) out[op++] = input.charCodeAt(ip++);
    } else {
      let len = ctrl >>> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) {
        if (ip >= n) throw new BadPayload('lzf');
        len += input.charCodeAt(ip++);
      }
      if (ip >= n) throw new BadPayload('lzf');
      ref -= input.charCodeAt(ip++);
      len += 2;
      if (op + len > outLen || ref < 0) throw new BadPayload('lzf');
      for (let i = 0; i < len; i++) out[op++] = out[ref++];
    }
  }
  if (op !== outLen) throw new BadPayload('lzf');
  return Buffer.from(out.buffer, out.byteOffset, out.length).latin1Slice(0, outLen);
}

/** Decode a listpack blob into its entries (strings; integers rendered in decimal). */
function listpackEntries(lp: string): string[] {
  const n = lp.length;
  if (n < 7 || lp.charCodeAt(n - 1) !== 0xff) throw new BadPayload('listpack');
  const total = (lp.charCodeAt(0) | (lp.charCodeAt(1) << 8) | (lp.charCodeAt(2) << 16) | (lp.charCodeAt(3) << 24)) >>> 0;
  if (total !== n) throw new BadPayload('listpack size');
  const out: string[] = [];
  let p = 6;
  const b = (i: number): number => {
    if (i >= n - 1) throw new BadPayload('listpack entry');
    return lp.charCodeAt(i);
  };
  while (p < n - 1) {
    const start = p;
    const e = b(p);
    let val: string;
    if ((e & 0x80) === 0) {
      val = String(e & 0x7f);
      p += 1;
    } else if ((e & 0xc0) === 0x80) {
      const len = e & 0x3f;
      if (p + 1 + len > n - 1) throw new BadPayload('listpack entry');
      val = lp.slice(p + 1, p + 1 + len);
      p += 1 + len;
    } else if ((e & 0xe0) === 0xc0) {
      let v = ((e & 0x1f) << 8) | b(p + 1);
      if (v >= 1 << 12) v -= 1 << 13;
      val = String(v);
      p += 2;
    } else if ((e & 0xf0) === 0xe0) {
      const len = ((e & 0x0f) << 8) | b(p + 1);
      if (p + 2 + len > n - 1) throw new BadPayload('listpack entry');
      val = lp.slice(p + 2, p + 2 + len);
      p += 2 + len;
    } else if (e === 0xf0) {
      const len = (b(p + 1) | (b(p + 2) << 8) | (b(p + 3) << 16) | (b(p + 4) << 24)) >>> 0;
      if (p + 5 + len > n - 1) throw new BadPayload('listpack entry');
      val = lp.slice(p + 5, p + 5 + len);
      p += 5 + len;
    } else if (e === 0xf1) {
      let v = b(p + 1) | (b(p + 2) << 8);
      if (v >= 0x8000) v -= 0x10000;
      val = String(v);
      p += 3;
    } else if (e === 0xf2) {
      let v = b(p + 1) | (b(p + 2) << 8) | (b(p + 3) << 16);
      if (v >= 0x800000) v -= 0x1000000;
      val = String(v);
      p += 4;
    } else if (e === 0xf3) {
      val = String(b(p + 1) | (b(p + 2) << 8) | (b(p + 3) << 16) | (b(p + 4) << 24));
      p += 5;
    } else if (e === 0xf4) {
      let v = 0n;
      for (let i = 8; i >= 1; i--) v = (v << 8n) | BigInt(b(p + i));
      val = BigInt.asIntN(64, v).toString();
      p += 9;
    } else {
      throw new BadPayload('listpack encoding');
    }
    // Skip the backlen: 1-5 bytes depending on the entry's encoding+data length.
    const l = p - start;
    p += l < 128 ? 1 : l < 16384 ? 2 : l < 2097152 ? 3 : l < 268435456 ? 4 : 5;
    if (p > n - 1) throw new BadPayload('listpack backlen');
    out.push(val);
  }
  const count = lp.charCodeAt(4) | (lp.charCodeAt(5) << 8);
  if (count !== 65535 && count !== out.length) throw new BadPayload('listpack count');
  return out;
}

/** Decode a ziplist blob (RDB written by Redis < 7) into its entries (integers rendered in decimal). */
function ziplistEntries(zl: string): string[] {
  const n = zl.length;
  if (n < 11 || zl.charCodeAt(n - 1) !== 0xff) throw new BadPayload('ziplist');
  const total = (zl.charCodeAt(0) | (zl.charCodeAt(1) << 8) | (zl.charCodeAt(2) << 16) | (zl.charCodeAt(3) << 24)) >>> 0;
  if (total !== n) throw new BadPayload('ziplist size');
  const b = (i: number): number => {
    if (i >= n - 1) throw new BadPayload('ziplist entry');
    return zl.charCodeAt(i);
  };
  const out: string[] = [];
  let p = 10;
  while (p < n - 1) {
    p += b(p) === 0xfe ? 5 : 1; // prevlen
    const e = b(p);
    const kind = e >>> 6;
    let len = -1;
    if (kind === 0) {
      len = e & 0x3f;
      p += 1;
    } else if (kind === 1) {
      len = ((e & 0x3f) << 8) | b(p + 1);
      p += 2;
    } else if (kind === 2) {
      len = ((b(p + 1) << 24) >>> 0) + (b(p + 2) << 16) + (b(p + 3) << 8) + b(p + 4);
      p += 5;
    }
    if (len >= 0) {
      if (p + len > n - 1) throw new BadPayload('ziplist entry');
      out.push(zl.slice(p, p + len));
      p += len;
      continue;
    }
    let v: number | bigint;
    if (e === 0xc0) {
      v = (b(p + 1) | (b(p + 2) << 8)) << 16 >> 16;
      p += 3;
    } else if (e === 0xd0) {
      v = b(p + 1) | (b(p + 2) << 8) | (b(p + 3) << 16) | (b(p + 4) << 24);
      p += 5;
    } else if (e === 0xe0) {
      let x = 0n;
      for (let i = 8; i >= 1; i--) x = (x << 8n) | BigInt(b(p + i));
      v = BigInt.asIntN(64, x);
      p += 9;
    } else if (e === 0xf0) {
      v = (b(p + 1) | (b(p + 2) << 8) | (b(p + 3) << 16)) << 8 >> 8;
      p += 4;
    } else if (e === 0xfe) {
      v = (b(p + 1) << 24) >> 24;
      p += 2;
    } else if (e >= 0xf1 && e <= 0xfd) {
      v = (e & 0x0f) - 1;
      p += 1;
    } else throw new BadPayload('ziplist encoding');
    out.push(String(v));
  }
  const count = zl.charCodeAt(8) | (zl.charCodeAt(9) << 8);
  if (count !== 65535 && count !== out.length) throw new BadPayload('ziplist count');
  return out;
}

function intsetEntries(is: string): string[] {
  if (is.length < 8) throw new BadPayload('intset');
  const enc = (is.charCodeAt(0) | (is.charCodeAt(1) << 8) | (is.charCodeAt(2) << 16) | (is.charCodeAt(3) << 24)) >>> 0;
  const len = (is.charCodeAt(4) | (is.charCodeAt(5) << 8) | (is.charCodeAt(6) << 16) | (is.charCodeAt(7) << 24)) >>> 0;
  if ((enc !== 2 && enc !== 4 && enc !== 8) || is.length !== 8 + enc * len || len === 0) throw new BadPayload('intset');
  const out: string[] = [];
  for (let i = 0; i < len; i++) {
    let v = 0n;
    const at = 8 + i * enc;
    for (let j = enc - 1; j >= 0; j--) v = (v << 8n) | BigInt(is.charCodeAt(at + j));
    out.push(BigInt.asIntN(enc * 8, v).toString());
  }
  return out;
}

/**
 * Decode a payload (already checked with verifyPayload) into a fresh value. Throws BadPayload when
 * it cannot be decoded, has trailing bytes, is an empty collection, or repeats a member/field.
 */
export function restoreValue(p: string): Value {
  const buf = Buffer.from(p, 'latin1');
  const r = new RdbReader(buf, 0, buf.length - 10);
  const v = readValue(r, r.byte());
  if (r.pos !== buf.length - 10) throw new BadPayload('trailing bytes');
  if (typeof v !== 'string' && v.size === 0) throw new BadPayload('empty key');
  return v;
}

/**
 * Decode one value of RDB type `type` at the reader's position (the shared decoder of DUMP payloads
 * and RDB files). An empty collection is returned as is: RESTORE refuses it, RDB loading skips it.
 */
export function readValue(r: RdbReader, type: number): Value {
  let v: Value;
  switch (type) {
    case T_STRING:
      v = r.str();
      break;
    case T_LIST: {
      const n = r.count(1);
      const items: string[] = new Array(n);
      for (let i = 0; i < n; i++) items[i] = r.str();
      v = makeList(items);
      break;
    }
    case T_LIST_ZIPLIST:
      v = makeList(ziplistEntries(r.str()));
      break;
    case T_SET: {
      const n = r.count(1);
      v = setFrom(readStrings(r, n));
      break;
    }
    case T_SET_INTSET:
      v = setFrom(intsetEntries(r.str()));
      break;
    case T_SET_LISTPACK:
      v = setFrom(listpackEntries(r.str()));
      break;
    case T_HASH: {
      const n = r.count(2);
      v = hashFrom(readStrings(r, n * 2));
      break;
    }
    case T_HASH_LISTPACK:
      v = hashFrom(listpackEntries(r.str()));
      break;
    case T_HASH_ZIPLIST:
      v = hashFrom(ziplistEntries(r.str()));
      break;
    case T_ZSET:
    case T_ZSET_2: {
      const n = r.count(2);
      const members: string[] = new Array(n);
      const scores: number[] = new Array(n);
      for (let i = 0; i < n; i++) {
        members[i] = r.str();
        scores[i] = type === T_ZSET_2 ? r.binDouble() : r.strDouble();
        if (Number.isNaN(scores[i])) throw new BadPayload('zset NaN score');
      }
      v = zsetFrom(members, scores);
      break;
    }
    case T_ZSET_LISTPACK:
    case T_ZSET_ZIPLIST: {
      const e = type === T_ZSET_LISTPACK ? listpackEntries(r.str()) : ziplistEntries(r.str());
      if (e.length % 2 !== 0) throw new BadPayload('zset listpack');
      const members: string[] = [];
      const scores: number[] = [];
      for (let i = 0; i < e.length; i += 2) {
        members.push(e[i]);
        scores.push(parseLpScore(e[i + 1]));
      }
      v = zsetFrom(members, scores);
      break;
    }
    case T_LIST_QUICKLIST: {
      const nodes = r.count(1);
      const items: string[] = [];
      for (let i = 0; i < nodes; i++) for (const x of ziplistEntries(r.str())) items.push(x);
      v = makeList(items);
      break;
    }
    case T_LIST_QUICKLIST_2: {
      const nodes = r.count(2);
      const items: string[] = [];
      for (let i = 0; i < nodes; i++) {
        const container = r.len();
        if (r.encoded) throw new BadPayload('quicklist container');
        const blob = r.str();
        if (container === 1) items.push(blob);
        else if (container === 2) {
          const e = listpackEntries(blob);
          if (e.length === 0) throw new BadPayload('empty quicklist node');
          for (const x of e) items.push(x);
        } else throw new BadPayload('quicklist container');
      }
      v = makeList(items);
      break;
    }
    default:
      throw new BadPayload(`unsupported type ${type}`);
  }
  return v;
}

function parseLpScore(s: string): number {
  const l = s.toLowerCase();
  if (l === 'inf' || l === '+inf') return Infinity;
  if (l === '-inf') return -Infinity;
  const v = Number(s);
  if (Number.isNaN(v)) throw new BadPayload('zset score');
  return v;
}

function readStrings(r: RdbReader, n: number): string[] {
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.str();
  return out;
}

function setFrom(members: string[]): SetValue {
  const v = new SetValue();
  for (const m of members) {
    if (v.set.has(m)) throw new BadPayload('duplicate set member');
    v.set.add(m);
  }
  return v;
}

function hashFrom(flat: string[]): HashValue {
  if (flat.length % 2 !== 0) throw new BadPayload('hash');
  const v = new HashValue();
  for (let i = 0; i < flat.length; i += 2) {
    if (v.map.has(flat[i])) throw new BadPayload('duplicate hash field');
    v.map.set(flat[i], flat[i + 1]);
  }
  return v;
}

function zsetFrom(members: string[], scores: number[]): CollectionValue {
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m)) throw new BadPayload('duplicate zset member');
    seen.add(m);
  }
  return makeZSet(members, scores);
}

// ---------------------------------------------------------------------------------------- lists & zsets

/** The elements of a list value, head to tail. */
export function listItems(v: CollectionValue): string[] {
  return (v as ListValue).toArray();
}

/** A new list value holding `items` (head first). */
export function makeList(items: string[]): CollectionValue {
  return new ListValue(items);
}

/** Visit a sorted set's members in rank order (or reverse). */
export function zsetForEach(v: CollectionValue, fn: (member: string, score: number) => void, reverse = false): void {
  (v as ZSetValue).forEach(fn, reverse);
}

/** Visit members at ascending ranks [lo, hi) (0-based), in ascending order or descending with `reverse`. */
export function zsetForRanks(v: CollectionValue, lo: number, hi: number, reverse: boolean, fn: (member: string, score: number) => void): void {
  (v as ZSetValue).forEachInRanks(lo, hi, reverse, fn);
}

/** A new sorted-set value (members distinct). */
export function makeZSet(members: string[], scores: number[]): CollectionValue {
  return buildZSet(members, scores);
}

// ---------------------------------------------------------------------------------------- copies

/** A deep copy of a value (COPY). Strings are immutable and shared. */
export function cloneValue(v: Value): Value {
  if (typeof v === 'string') return v;
  switch (v.type) {
    case 'hash': {
      const out = new HashValue();
      for (const [f, x] of (v as HashValue).map) out.map.set(f, x);
      return out;
    }
    case 'set': {
      const out = new SetValue();
      for (const m of (v as SetValue).set) out.set.add(m);
      return out;
    }
    case 'list':
      return makeList(listItems(v));
    case 'zset': {
      const members: string[] = [];
      const scores: number[] = [];
      zsetForEach(v, (m, s) => {
        members.push(m);
        scores.push(s);
      });
      const out = makeZSet(members, scores);
      if (bigEncoded.has(v)) bigEncoded.add(out);
      return out;
    }
  }
}

// ---------------------------------------------------------------------------------------- encodings

/** Thresholds OBJECT ENCODING compares against (the *-max-listpack-* / intset configs). */
export interface EncodingLimits {
  listMaxListpackSize: number;
  hashMaxListpackEntries: number;
  hashMaxListpackValue: number;
  setMaxIntsetEntries: number;
  setMaxListpackEntries: number;
  setMaxListpackValue: number;
  zsetMaxListpackEntries: number;
  zsetMaxListpackValue: number;
}

const MAX_INT64 = 9223372036854775807n;
const MIN_INT64 = -9223372036854775808n;

/** True if s is what Redis's string2ll accepts (canonical decimal int64). */
function isInt64Str(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 20) return false;
  let i = 0;
  if (s.charCodeAt(0) === 45) {
    if (n === 1) return false;
    i = 1;
  }
  const first = s.charCodeAt(i);
  if (first === 48) return n === 1;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  if (n < 19) return true;
  const b = BigInt(s);
  return b <= MAX_INT64 && b >= MIN_INT64;
}

/** Bytes a listpack entry for `s` takes (encoding + data + backlen), roughly as Redis's lpEncode. */
function lpEntryBytes(s: string): number {
  let body: number;
  if (isInt64Str(s)) {
    const v = Number(s);
    body = v >= 0 && v <= 127 ? 1 : v >= -4096 && v <= 4095 ? 2 : v >= -32768 && v <= 32767 ? 3 : v >= -8388608 && v <= 8388607 ? 4 : v >= -2147483648 && v <= 2147483647 ? 5 : 9;
  } else {
    const n = s.length;
    body = n < 64 ? 1 + n : n < 4096 ? 2 + n : 5 + n;
  }
  return body + (body < 128 ? 1 : body < 16384 ? 2 : body < 2097152 ? 3 : body < 268435456 ? 4 : 5);
}

/**
 * Values Redis would have converted to their big encoding for good (SORT converts a listpack zset to
 * a skiplist in place; COPY keeps the encoding).
 */
const bigEncoded = new WeakSet<object>();

export function markBigEncoding(v: CollectionValue): void {
  bigEncoded.add(v);
}

/** The encoding name Redis would report for a value in its current state. */
export function encodingOf(v: Value, lim: EncodingLimits): string {
  if (typeof v === 'string') {
    if (v.length <= 20 && isInt64Str(v)) return 'int';
    return v.length <= 44 ? 'embstr' : 'raw';
  }
  switch (v.type) {
    case 'hash': {
      const map = (v as HashValue).map;
      if (map.size > lim.hashMaxListpackEntries) return 'hashtable';
      for (const [f, x] of map) if (f.length > lim.hashMaxListpackValue || x.length > lim.hashMaxListpackValue) return 'hashtable';
      return 'listpack';
    }
    case 'set': {
      const set = (v as SetValue).set;
      let allInts = set.size <= lim.setMaxIntsetEntries;
      if (allInts) {
        for (const m of set) {
          if (!isInt64Str(m)) {
            allInts = false;
            break;
          }
        }
      }
      if (allInts) return 'intset';
      if (set.size > lim.setMaxListpackEntries) return 'hashtable';
      for (const m of set) if (m.length > lim.setMaxListpackValue) return 'hashtable';
      return 'listpack';
    }
    case 'zset': {
      if (v.size > lim.zsetMaxListpackEntries || bigEncoded.has(v)) return 'skiplist';
      let long = false;
      zsetForEach(v, (m) => {
        if (m.length > lim.zsetMaxListpackValue) long = true;
      });
      return long ? 'skiplist' : 'listpack';
    }
    case 'list': {
      const fill = lim.listMaxListpackSize;
      if (fill >= 0) return v.size <= Math.max(1, fill) ? 'listpack' : 'quicklist';
      const limit = fill === -1 ? 4096 : fill === -3 ? 16384 : fill === -4 ? 32768 : fill <= -5 ? 65536 : 8192;
      if (v.size * 2 > limit) return 'quicklist';
      let bytes = 7;
      for (const it of listItems(v)) {
        bytes += lpEntryBytes(it);
        if (bytes > limit) return 'quicklist';
      }
      return 'listpack';
    }
  }
}
