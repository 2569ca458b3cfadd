/**
 * Redis-compatible HyperLogLog (PFADD / PFCOUNT / PFMERGE), byte-for-byte identical to Redis 7.
 *
 * Representation: `buf[0, len)` holds exactly the bytes Redis stores in the string value of an HLL key:
 *
 *   header (16 bytes): "HYLL" | encoding (0 = dense, 1 = sparse) | 3 unused bytes | 8-byte cached cardinality
 *                      (little endian; bit 7 of byte 15 set = cache invalid)
 *   dense payload:     16384 registers x 6 bits, packed LSB-first (12288 bytes; total 12304 bytes)
 *   sparse payload:    run-length opcodes ZERO (00xxxxxx), XZERO (01xxxxxx yyyyyyyy), VAL (1vvvvvxx)
 *
 * The sparse encoding is history dependent (Redis merges adjacent VAL opcodes only near the last
 * update), so this module ports Redis's `hllSparseSet` step by step instead of re-encoding: after the
 * same sequence of PFADD/PFMERGE calls, `toString()` equals what GET returns on real Redis, and a
 * sparse HLL is promoted to dense at the same moment (a register value > 32, or the sparse string
 * growing past `HyperLogLog.sparseMaxBytes`, i.e. Redis's `hll-sparse-max-bytes`, default 3000).
 *
 * Hash: MurmurHash64A (seed 0xadc83b19) over the element bytes, computed with 32-bit halves (no
 * BigInt). Register index = low 14 bits; value = 1 + trailing zeros of the remaining 50 bits (max 51).
 * Estimator: Redis 7 `hllCount` (Ertl's improved estimator with hllTau / hllSigma).
 *
 * Elements are latin1 strings (one char = one byte), like every Redis string in this codebase.
 *
 * Invariants:
 *  - buf[0..3] = "HYLL", buf[4] in {0, 1}; when dense, len === HLL_DENSE_SIZE.
 *  - sparse: len >= 16 and buf.length >= len; opcodes are only guaranteed to cover exactly 16384
 *    registers if the value was built here (a user SET may store a corrupted one: operations that
 *    meet the corruption throw HllCorruptError, which maps to Redis's INVALIDOBJ error).
 */

export const HLL_P = 14;
export const HLL_Q = 64 - HLL_P;
export const HLL_REGISTERS = 1 << HLL_P;
const HLL_P_MASK = HLL_REGISTERS - 1;
const HLL_BITS = 6;
const HLL_REGISTER_MAX = (1 << HLL_BITS) - 1;
export const HLL_HDR_SIZE = 16;
export const HLL_DENSE_SIZE = HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS) / 8; // 12304
const HLL_DENSE = 0;
const HLL_SPARSE = 1;
const HLL_ALPHA_INF = 0.721347520444481703680; // 0.5 / ln(2)

const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
const SPARSE_XZERO_MAX_LEN = 16384;

/** Reply for an HLL command on a string that is not an HLL. */
export const HLL_WRONGTYPE_ERR = 'WRONGTYPE Key is not a valid HyperLogLog string value.';
/** Reply when an HLL string passes the header check but its payload is corrupted. */
export const HLL_INVALID_ERR = 'INVALIDOBJ Corrupted HLL object detected';

/** Thrown by operations that meet a corrupted sparse payload; reply with HLL_INVALID_ERR. */
export class HllCorruptError extends Error {
  constructor() {
    super(HLL_INVALID_ERR);
  }
}

// ---------------------------------------------------------------------------------------------
// MurmurHash64A with 32-bit arithmetic. m = 0xc6a4a7935bd1e995, r = 47.

const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;
const M_LO0 = M_LO & 0xffff;
const M_LO1 = M_LO >>> 16;
const HLL_SEED = 0xadc83b19;

/** Output registers of murmur64 (avoids allocating a pair per hash). */
let hHi = 0;
let hLo = 0;

/** High 32 bits of the 64-bit product a * M_LO (a is uint32). */
function mulhiMLo(a: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const p00 = a0 * M_LO0;
  const p01 = a0 * M_LO1;
  const p10 = a1 * M_LO0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * M_LO1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/** MurmurHash64A(bytes of latin1 `s`, len, seed) into (hHi, hLo). */
function murmur64(s: string, seed: number): void {
  const len = s.length;
  // h = seed ^ (len * m)
  let hi = (mulhiMLo(len) + Math.imul(len, M_HI)) >>> 0;
  let lo = (Math.imul(len, M_LO) ^ seed) >>> 0;
  const end = len - (len & 7);
  let i = 0;
  while (i < end) {
    let kl =
      (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) >>> 0;
    let kh =
      (s.charCodeAt(i + 4) | (s.charCodeAt(i + 5) << 8) | (s.charCodeAt(i + 6) << 16) | (s.charCodeAt(i + 7) << 24)) >>>
      0;
    i += 8;
    // k *= m
    let t = (mulhiMLo(kl) + Math.imul(kh, M_LO) + Math.imul(kl, M_HI)) >>> 0;
    kl = Math.imul(kl, M_LO) >>> 0;
    kh = t;
    // k ^= k >> r
    kl = (kl ^ (kh >>> 15)) >>> 0;
    // k *= m
    t = (mulhiMLo(kl) + Math.imul(kh, M_LO) + Math.imul(kl, M_HI)) >>> 0;
    kl = Math.imul(kl, M_LO) >>> 0;
    kh = t;
    // h ^= k; h *= m
    lo = (lo ^ kl) >>> 0;
    hi = (hi ^ kh) >>> 0;
    t = (mulhiMLo(lo) + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0;
    lo = Math.imul(lo, M_LO) >>> 0;
    hi = t;
  }
  const rem = len & 7;
  if (rem !== 0) {
    if (rem >= 7) hi ^= s.charCodeAt(i + 6) << 16;
    if (rem >= 6) hi ^= s.charCodeAt(i + 5) << 8;
    if (rem >= 5) hi ^= s.charCodeAt(i + 4);
    if (rem >= 4) lo ^= s.charCodeAt(i + 3) << 24;
    if (rem >= 3) lo ^= s.charCodeAt(i + 2) << 16;
    if (rem >= 2) lo ^= s.charCodeAt(i + 1) << 8;
    lo ^= s.charCodeAt(i);
    hi >>>= 0;
    lo >>>= 0;
    const t = (mulhiMLo(lo) + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0;
    lo = Math.imul(lo, M_LO) >>> 0;
    hi = t;
  }
  // h ^= h >> r; h *= m; h ^= h >> r
  lo = (lo ^ (hi >>> 15)) >>> 0;
  const t = (mulhiMLo(lo) + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0;
  lo = Math.imul(lo, M_LO) >>> 0;
  hi = t;
  lo = (lo ^ (hi >>> 15)) >>> 0;
  hHi = hi;
  hLo = lo;
}

/** MurmurHash64A of a latin1 string as an unsigned BigInt (for tests and debugging; not hot). */
export function murmurHash64A(s: string, seed: number = HLL_SEED): bigint {
  murmur64(s, seed >>> 0);
  return (BigInt(hHi) << 32n) | BigInt(hLo);
}

/** Register index set by patLen (module scratch: avoids returning a pair). */
let patIndex = 0;

/** Redis hllPatLen: sets patIndex, returns the run length 1..51 of "0...01" in the hash. */
function patLen(s: string): number {
  murmur64(s, HLL_SEED);
  patIndex = hLo & HLL_P_MASK;
  const low = hLo >>> HLL_P; // hash bits 14..31 (18 bits)
  if (low !== 0) return 32 - Math.clz32(low & -low); // ctz + 1
  if (hHi !== 0) return 18 + 32 - Math.clz32(hHi & -hHi);
  return HLL_Q + 1;
}

/** The (register index, value) Redis derives from an element; for tests. */
export function hllHashElement(s: string): { index: number; count: number } {
  const count = patLen(s);
  return { index: patIndex, count };
}

// ---------------------------------------------------------------------------------------------
// Estimator (Redis 7 hllCount).

function hllSigma(x: number): number {
  if (x === 1) return Infinity;
  let zPrime: number;
  let y = 1;
  let z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function hllTau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let zPrime: number;
  let y = 1.0;
  let z = 1 - x;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    const d = 1 - x;
    z -= d * d * y;
  } while (zPrime !== z);
  return z / 3;
}

/** Cardinality estimate from a register histogram (reghisto[v] = registers holding v). */
function countFromHisto(reghisto: Int32Array): number {
  const m = HLL_REGISTERS;
  let z = m * hllTau((m - reghisto[HLL_Q + 1]) / m);
  for (let j = HLL_Q; j >= 1; --j) {
    z += reghisto[j];
    z *= 0.5;
  }
  z += m * hllSigma(reghisto[0] / m);
  // llroundl: half away from zero; the value is >= 0 (or +/-0 / NaN never: z > 0 or Infinity).
  return Math.round((HLL_ALPHA_INF * m * m) / z);
}

const histo = new Int32Array(64);
/**
 * Four interleaved sub-histograms (offsets 0, 64, 128, 192): most registers hold the same few
 * values, so a single histogram serialises on store-to-load forwarding of one counter.
 */
const histo4 = new Int32Array(256);

function foldHisto4(out: Int32Array): void {
  for (let v = 0; v < 64; v++) out[v] += histo4[v] + histo4[v + 64] + histo4[v + 128] + histo4[v + 192];
  histo4.fill(0);
}

function denseHisto(buf: Uint8Array, out: Int32Array): void {
  const h = histo4;
  // 4 registers per 3 bytes.
  for (let p = HLL_HDR_SIZE; p < HLL_DENSE_SIZE; p += 3) {
    const b0 = buf[p];
    const b1 = buf[p + 1];
    const b2 = buf[p + 2];
    h[b0 & 63]++;
    h[64 + (((b0 >>> 6) | (b1 << 2)) & 63)]++;
    h[128 + (((b1 >>> 4) | (b2 << 4)) & 63)]++;
    h[192 + (b2 >>> 2)]++;
  }
  foldHisto4(out);
}

/** Histogram of raw one-byte registers (multi-key PFCOUNT). */
function rawHisto(regs: Uint8Array, out: Int32Array): void {
  const h = histo4;
  for (let i = 0; i < HLL_REGISTERS; i += 4) {
    h[regs[i]]++;
    h[64 + regs[i + 1]]++;
    h[128 + regs[i + 2]]++;
    h[192 + regs[i + 3]]++;
  }
  foldHisto4(out);
}

/** Returns false if the sparse payload does not cover exactly 16384 registers. */
function sparseHisto(buf: Uint8Array, len: number, out: Int32Array): boolean {
  let idx = 0;
  let p = HLL_HDR_SIZE;
  while (p < len) {
    const op = buf[p];
    if ((op & 0xc0) === 0) {
      const runlen = (op & 0x3f) + 1;
      idx += runlen;
      out[0] += runlen;
      p++;
    } else if ((op & 0xc0) === 0x40) {
      const runlen = (((op & 0x3f) << 8) | buf[p + 1]) + 1;
      idx += runlen;
      out[0] += runlen;
      p += 2;
    } else {
      const runlen = (op & 3) + 1;
      idx += runlen;
      out[((op >>> 2) & 0x1f) + 1] += runlen;
      p++;
    }
  }
  return idx === HLL_REGISTERS;
}

function emptyHllBytes(): Uint8Array {
  const b = new Uint8Array(HLL_HDR_SIZE + 8);
  b[0] = 0x48; // H
  b[1] = 0x59; // Y
  b[2] = 0x4c; // L
  b[3] = 0x4c; // L
  b[4] = HLL_SPARSE;
  // One XZERO opcode covering all 16384 registers.
  b[HLL_HDR_SIZE] = 0x40 | ((SPARSE_XZERO_MAX_LEN - 1) >>> 8);
  b[HLL_HDR_SIZE + 1] = (SPARSE_XZERO_MAX_LEN - 1) & 0xff;
  return b;
}

function getDense(buf: Uint8Array, reg: number): number {
  const bit = reg * HLL_BITS;
  const byte = HLL_HDR_SIZE + (bit >>> 3);
  const fb = bit & 7;
  // The byte after the last register is outside the payload: Redis reads the sds terminator (0).
  const b1 = byte + 1 < HLL_DENSE_SIZE ? buf[byte + 1] : 0;
  return ((buf[byte] >>> fb) | (b1 << (8 - fb))) & HLL_REGISTER_MAX;
}

function setDense(buf: Uint8Array, reg: number, val: number): void {
  const bit = reg * HLL_BITS;
  const byte = HLL_HDR_SIZE + (bit >>> 3);
  const fb = bit & 7;
  const fb8 = 8 - fb;
  buf[byte] = (buf[byte] & ~(HLL_REGISTER_MAX << fb)) | (val << fb);
  if (byte + 1 < HLL_DENSE_SIZE) buf[byte + 1] = (buf[byte + 1] & ~(HLL_REGISTER_MAX >>> fb8)) | (val >>> fb8);
}

/** A view of `u` as a Buffer (for latin1 conversions) without copying. */
function asBuffer(u: Uint8Array, len: number): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, len);
}

export class HyperLogLog {
  /**
   * `hll-sparse-max-bytes`: a sparse HLL whose string would grow beyond this is promoted to dense.
   * Redis's default is 3000; settable at runtime (CONFIG SET hll-sparse-max-bytes).
   */
  static sparseMaxBytes = 3000;

  /** Redis bytes of the value; only [0, len) is meaningful (sparse values keep spare capacity). */
  private buf: Uint8Array;
  private len: number;

  private constructor(buf: Uint8Array, len: number) {
    this.buf = buf;
    this.len = len;
  }

  /** A new empty HLL, as Redis creates it (sparse, one XZERO opcode, cached cardinality 0 and valid). */
  static create(): HyperLogLog {
    return new HyperLogLog(emptyHllBytes(), HLL_HDR_SIZE + 2);
  }

  /**
   * True if `s` passes Redis's isHLLObjectOrReply check: at least 16 bytes, "HYLL" magic, encoding
   * 0 or 1, and a dense value of exactly 12304 bytes. (A corrupted sparse payload passes.)
   */
  static isValid(s: string): boolean {
    return (
      s.length >= HLL_HDR_SIZE &&
      s.charCodeAt(0) === 0x48 &&
      s.charCodeAt(1) === 0x59 &&
      s.charCodeAt(2) === 0x4c &&
      s.charCodeAt(3) === 0x4c &&
      s.charCodeAt(4) <= HLL_SPARSE &&
      (s.charCodeAt(4) !== HLL_DENSE || s.length === HLL_DENSE_SIZE)
    );
  }

  /** Parse a stored string value; null if it is not an HLL (reply HLL_WRONGTYPE_ERR). Copies. */
  static parse(s: string): HyperLogLog | null {
    if (!HyperLogLog.isValid(s)) return null;
    const n = s.length;
    const cap = s.charCodeAt(4) === HLL_DENSE ? n : n + 8;
    const u = new Uint8Array(cap);
    asBuffer(u, n).write(s, 0, n, 'latin1');
    return new HyperLogLog(u, n);
  }

  /** The exact Redis string (latin1) of this HLL: what GET returns. */
  toString(): string {
    return asBuffer(this.buf, this.len).toString('latin1', 0, this.len);
  }

  /** The bytes of the Redis string (a copy). */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** Length in bytes of the Redis string (STRLEN). */
  get byteLength(): number {
    return this.len;
  }

  get encoding(): 'dense' | 'sparse' {
    return this.buf[4] === HLL_DENSE ? 'dense' : 'sparse';
  }

  /** True if the cached cardinality in the header is valid (PFCOUNT will not modify the value). */
  get cacheValid(): boolean {
    return (this.buf[15] & 0x80) === 0;
  }

  /** Mark the cached cardinality invalid (Redis HLL_INVALIDATE_CACHE; PFADD does it on any change,
   *  including when it creates the key). */
  invalidateCache(): void {
    this.buf[15] |= 0x80;
  }

  clone(): HyperLogLog {
    return new HyperLogLog(this.buf.slice(), this.len);
  }

  /**
   * PFADD of one element (Redis hllAdd): true if a register changed (the cache is then invalidated).
   * May promote sparse -> dense. Throws HllCorruptError on a corrupted sparse payload.
   */
  add(element: string): boolean {
    const count = patLen(element);
    const index = patIndex;
    let changed: boolean;
    if (this.buf[4] === HLL_DENSE) changed = this.denseSet(index, count);
    else changed = this.sparseSet(index, count);
    if (changed) this.buf[15] |= 0x80;
    return changed;
  }

  /** Add several elements; true if any register changed. */
  addAll(elements: readonly string[]): boolean {
    let changed = false;
    for (let i = 0; i < elements.length; i++) if (this.add(elements[i])) changed = true;
    return changed;
  }

  /**
   * Single-key PFCOUNT: the cached cardinality if valid, else computes it and stores it in the
   * header (making the cache valid: Redis then counts the key as modified and propagates). Check
   * `cacheValid` before calling to know whether the value will change.
   */
  count(): number {
    const b = this.buf;
    if ((b[15] & 0x80) === 0) {
      let v = 0;
      for (let i = 15; i >= 8; i--) v = v * 256 + b[i];
      return v;
    }
    const card = this.estimate();
    let c = card;
    for (let i = 8; i < 16; i++) {
      b[i] = c % 256;
      c = Math.floor(c / 256);
    }
    return card;
  }

  /** The cardinality estimate computed from the registers (ignores and keeps the cache). */
  estimate(): number {
    histo.fill(0);
    if (this.buf[4] === HLL_DENSE) denseHisto(this.buf, histo);
    else if (!sparseHisto(this.buf, this.len, histo)) throw new HllCorruptError();
    return countFromHisto(histo);
  }

  /** Register values as one byte each (16384 bytes). Throws HllCorruptError if corrupted. */
  registers(): Uint8Array {
    const out = new Uint8Array(HLL_REGISTERS);
    this.maxInto(out);
    return out;
  }

  /** Value of one register (PFDEBUG GETREG). */
  getRegister(index: number): number {
    if (this.buf[4] === HLL_DENSE) return getDense(this.buf, index);
    return this.registers()[index];
  }

  /** max[i] = max(max[i], register i) (Redis hllMerge). Throws HllCorruptError if corrupted. */
  maxInto(max: Uint8Array): void {
    const b = this.buf;
    if (b[4] === HLL_DENSE) {
      for (let p = HLL_HDR_SIZE, i = 0; p < HLL_DENSE_SIZE; p += 3, i += 4) {
        const b0 = b[p];
        const b1 = b[p + 1];
        const b2 = b[p + 2];
        const r0 = b0 & 63;
        const r1 = ((b0 >>> 6) | (b1 << 2)) & 63;
        const r2 = ((b1 >>> 4) | (b2 << 4)) & 63;
        const r3 = b2 >>> 2;
        if (r0 > max[i]) max[i] = r0;
        if (r1 > max[i + 1]) max[i + 1] = r1;
        if (r2 > max[i + 2]) max[i + 2] = r2;
        if (r3 > max[i + 3]) max[i + 3] = r3;
      }
      return;
    }
    let i = 0;
    let p = HLL_HDR_SIZE;
    const end = this.len;
    while (p < end) {
      const op = b[p];
      if ((op & 0xc0) === 0) {
        i += (op & 0x3f) + 1;
        p++;
      } else if ((op & 0xc0) === 0x40) {
        i += (((op & 0x3f) << 8) | b[p + 1]) + 1;
        p += 2;
      } else {
        let runlen = (op & 3) + 1;
        const regval = ((op >>> 2) & 0x1f) + 1;
        if (runlen + i > HLL_REGISTERS) break; // overflow
        while (runlen--) {
          if (regval > max[i]) max[i] = regval;
          i++;
        }
        p++;
      }
    }
    if (i !== HLL_REGISTERS) throw new HllCorruptError();
  }

  /** Multi-key PFCOUNT: estimate of the union, without touching any cache. */
  static countUnion(hlls: readonly HyperLogLog[]): number {
    const max = new Uint8Array(HLL_REGISTERS);
    for (const h of hlls) h.maxInto(max);
    histo.fill(0);
    rawHisto(max, histo);
    return countFromHisto(histo);
  }

  /**
   * PFMERGE semantics. `sources` are the HLLs of every existing key named (Redis includes the
   * destination key itself when it exists, so pass it in `sources` too). `dest` is the existing
   * destination or null (a new one is created). The destination becomes dense if any source is
   * dense; its cache is invalidated. Returns the destination. Throws HllCorruptError.
   */
  static merge(dest: HyperLogLog | null, sources: readonly HyperLogLog[]): HyperLogLog {
    const max = new Uint8Array(HLL_REGISTERS);
    let useDense = false;
    for (const h of sources) {
      if (h.buf[4] === HLL_DENSE) useDense = true;
      h.maxInto(max);
    }
    const d = dest ?? HyperLogLog.create();
    if (useDense) d.toDense();
    for (let j = 0; j < HLL_REGISTERS; j++) {
      if (max[j] === 0) continue;
      if (d.buf[4] === HLL_DENSE) d.denseSet(j, max[j]);
      else d.sparseSet(j, max[j]);
    }
    d.invalidateCache();
    return d;
  }

  /** Merge `other` into this HLL (register-wise max), PFMERGE-style. */
  mergeFrom(other: HyperLogLog): this {
    HyperLogLog.merge(this, [this, other]);
    return this;
  }

  /** Convert to the dense encoding (Redis hllSparseToDense; keeps the header's cached cardinality). */
  toDense(): void {
    if (this.buf[4] === HLL_DENSE) return;
    const old = this.buf;
    const dense = new Uint8Array(HLL_DENSE_SIZE);
    dense.set(old.subarray(0, HLL_HDR_SIZE));
    dense[4] = HLL_DENSE;
    let idx = 0;
    let p = HLL_HDR_SIZE;
    const end = this.len;
    while (p < end) {
      const op = old[p];
      if ((op & 0xc0) === 0) {
        idx += (op & 0x3f) + 1;
        p++;
      } else if ((op & 0xc0) === 0x40) {
        idx += (((op & 0x3f) << 8) | old[p + 1]) + 1;
        p += 2;
      } else {
        let runlen = (op & 3) + 1;
        const regval = ((op >>> 2) & 0x1f) + 1;
        if (runlen + idx > HLL_REGISTERS) break; // overflow
        while (runlen--) setDense(dense, idx++, regval);
        p++;
      }
    }
    if (idx !== HLL_REGISTERS) throw new HllCorruptError();
    this.buf = dense;
    this.len = HLL_DENSE_SIZE;
  }

  /** Redis hllDenseSet: raise register `index` to `count` if larger. */
  private denseSet(index: number, count: number): boolean {
    if (count > getDense(this.buf, index)) {
      setDense(this.buf, index, count);
      return true;
    }
    return false;
  }

  /** Make room for `extra` more bytes in the sparse buffer (sdsMakeRoomFor). */
  private reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const nb = new Uint8Array(Math.max(this.len + extra, this.buf.length * 2));
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }

  /**
   * Port of Redis hllSparseSet: raise register `index` to `count` in the sparse payload, promoting
   * to dense when needed. Returns true if the register changed.
   */
  private sparseSet(index: number, count: number): boolean {
    if (count > SPARSE_VAL_MAX_VALUE) return this.promote(index, count);
    this.reserve(3);
    const b = this.buf;
    // Step 1: locate the opcode covering `index`.
    let p = HLL_HDR_SIZE;
    let end = this.len;
    let first = 0;
    let prev = -1;
    let span = 0;
    while (p < end) {
      const op = b[p];
      let oplen = 1;
      if ((op & 0xc0) === 0) span = (op & 0x3f) + 1;
      else if (op & 0x80) span = (op & 3) + 1;
      else {
        span = (((op & 0x3f) << 8) | b[p + 1]) + 1;
        oplen = 2;
      }
      if (index <= first + span - 1) break;
      prev = p;
      p += oplen;
      first += span;
    }
    if (span === 0 || p >= end) throw new HllCorruptError();

    const op = b[p];
    const isXzero = (op & 0xc0) === 0x40;
    const isZero = (op & 0xc0) === 0;
    let next: number = isXzero ? p + 2 : p + 1;
    if (next >= end) next = -1;

    updated: {
      let runlen: number;
      if (isZero) runlen = (op & 0x3f) + 1;
      else if (isXzero) runlen = (((op & 0x3f) << 8) | b[p + 1]) + 1;
      else {
        runlen = (op & 3) + 1;
        const oldcount = ((op >>> 2) & 0x1f) + 1;
        if (oldcount >= count) return false; // case A
        if (runlen === 1) {
          b[p] = 0x80 | ((count - 1) << 2); // case B
          break updated;
        }
      }
      if (isZero && runlen === 1) {
        b[p] = 0x80 | ((count - 1) << 2); // case C
        break updated;
      }
      // Case D: split the opcode into up to 3 (at most 5 bytes).
      const seq = splitSeq;
      let n = 0;
      const last = first + span - 1;
      if (isZero || isXzero) {
        if (index !== first) n = putZero(seq, n, index - first);
        seq[n++] = 0x80 | ((count - 1) << 2);
        if (index !== last) n = putZero(seq, n, last - index);
      } else {
        const curval = ((op >>> 2) & 0x1f) + 1;
        if (index !== first) seq[n++] = 0x80 | ((curval - 1) << 2) | (index - first - 1);
        seq[n++] = 0x80 | ((count - 1) << 2);
        if (index !== last) seq[n++] = 0x80 | ((curval - 1) << 2) | (last - index - 1);
      }
      // Step 3: substitute the new sequence for the old opcode.
      const oldlen = isXzero ? 2 : 1;
      const deltalen = n - oldlen;
      if (deltalen > 0 && this.len + deltalen > HyperLogLog.sparseMaxBytes) return this.promote(index, count);
      if (deltalen !== 0 && next !== -1) b.copyWithin(next + deltalen, next, end);
      this.len += deltalen;
      for (let k = 0; k < n; k++) b[p + k] = seq[k];
      end += deltalen;
    }
    // Step 4: merge adjacent VAL opcodes with the same value, scanning up to 5 opcodes from prev.
    p = prev !== -1 ? prev : HLL_HDR_SIZE;
    let scanlen = 5;
    while (p < end && scanlen-- > 0) {
      const o = b[p];
      if ((o & 0xc0) === 0x40) {
        p += 2;
        continue;
      } else if ((o & 0xc0) === 0) {
        p++;
        continue;
      }
      if (p + 1 < end && b[p + 1] & 0x80) {
        const o2 = b[p + 1];
        const v1 = ((o >>> 2) & 0x1f) + 1;
        const v2 = ((o2 >>> 2) & 0x1f) + 1;
        if (v1 === v2) {
          const len = (o & 3) + 1 + (o2 & 3) + 1;
          if (len <= SPARSE_VAL_MAX_LEN) {
            b[p + 1] = 0x80 | ((v1 - 1) << 2) | (len - 1);
            b.copyWithin(p, p + 1, end);
            end--;
            this.len--;
            continue;
          }
        }
      }
      p++;
    }
    b[15] |= 0x80;
    return true;
  }

  private promote(index: number, count: number): boolean {
    this.toDense();
    this.denseSet(index, count);
    return true;
  }
}

const splitSeq = new Uint8Array(5);

function putZero(seq: Uint8Array, n: number, len: number): number {
  if (len > SPARSE_ZERO_MAX_LEN) {
    const l = len - 1;
    seq[n] = 0x40 | (l >>> 8);
    seq[n + 1] = l & 0xff;
    return n + 2;
  }
  seq[n] = len - 1;
  return n + 1;
}
