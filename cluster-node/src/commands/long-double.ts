/**
 * x87 80-bit extended precision ("long double" on x86-64 Linux), emulated exactly with BigInt, because
 * Redis computes INCRBYFLOAT and HINCRBYFLOAT in it and clients see the formatted result: parsing as
 * string2ld (strtold), addition rounded to nearest-even, formatting as ld2string(LD_STR_HUMAN).
 */
/**
 * An x87 extended-precision value as Redis's INCRBYFLOAT computes with (`long double` on x86-64):
 * value = (neg ? -1 : 1) * m * 2^e, m < 2^64. `inf` marks an infinity (never stored).
 */
export interface LongDouble {
  neg: boolean;
  m: bigint;
  e: number;
  inf?: boolean;
}

/** Exponent of the smallest subnormal (2^-16445); values are multiples of it. */
const LD_MIN_E = -16445;
/** Values must stay below 2^16384. */
const LD_MAX_BITS = 16384;
const TWO64 = 1n << 64n;
const TWO63 = 1n << 63n;
const TEN17 = 10n ** 17n;

function bitLength(b: bigint): number {
  if (b === 0n) return 0;
  const hex = b.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0], 16)));
}

/** Round num/den (> 0) to 64 significant bits, half to even, subnormals included. null = overflow, m = 0 = underflow. */
function roundRational(neg: boolean, num: bigint, den: bigint): LongDouble | null {
  let e = bitLength(num) - bitLength(den) - 64;
  if (e < LD_MIN_E) e = LD_MIN_E;
  for (;;) {
    let n = num;
    let d = den;
    if (e >= 0) d = den << BigInt(e);
    else n = num << BigInt(-e);
    let q = n / d;
    if (q >= TWO64) {
      e++;
      continue;
    }
    const r2 = (n - q * d) * 2n;
    if (r2 > d || (r2 === d && (q & 1n) === 1n)) q++;
    if (q === TWO64) {
      q = TWO63;
      e++;
    }
    if (q !== 0n && bitLength(q) + e > LD_MAX_BITS) return null;
    return { neg, m: q, e };
  }
}

/** Round s * 2^e (s >= 0, e >= LD_MIN_E) to a LongDouble; null on overflow. */
function roundScaled(neg: boolean, s: bigint, e: number): LongDouble | null {
  const bl = bitLength(s);
  if (bl > 64) {
    const shift = bl - 64;
    const sh = BigInt(shift);
    let q = s >> sh;
    const r = s - (q << sh);
    const half = 1n << (sh - 1n);
    if (r > half || (r === half && (q & 1n) === 1n)) q++;
    e += shift;
    if (q === TWO64) {
      q = TWO63;
      e++;
    }
    s = q;
  }
  if (s !== 0n && bitLength(s) + e > LD_MAX_BITS) return null;
  return { neg, m: s, e };
}

function isSpace(ch: number): boolean {
  return ch === 32 || (ch >= 9 && ch <= 13);
}

/**
 * Parse like Redis's string2ld (strtold, the whole string, no leading space, no NaN, no ERANGE
 * overflow/underflow-to-zero). Accepts decimal, hex floats ("0x1p3") and inf/infinity.
 * Returns null when Redis would say "value is not a valid float".
 */
export function parseLongDouble(s: string): LongDouble | null {
  const len = s.length;
  if (len === 0 || len >= 5 * 1024 || isSpace(s.charCodeAt(0))) return null;
  let i = 0;
  let neg = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 43 || c0 === 45) {
    neg = c0 === 45;
    i = 1;
  }
  const rest = s.length - i <= 8 ? s.slice(i).toLowerCase() : '';
  if (rest === 'inf' || rest === 'infinity') return { neg, m: 0n, e: 0, inf: true };
  if (i < len && s.charCodeAt(i) === 48 && i + 1 < len && (s.charCodeAt(i + 1) | 0x20) === 120) return parseHexLD(s, i + 2, neg);
  let digits = '';
  let fracDigits = 0;
  let sawDigit = false;
  let sawDot = false;
  for (; i < len; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      sawDigit = true;
      if (digits.length > 0 || ch !== 48) digits += s[i];
      if (sawDot) fracDigits++;
    } else if (ch === 46 && !sawDot) sawDot = true;
    else break;
  }
  if (!sawDigit) return null;
  let exp = 0;
  if (i < len) {
    if ((s.charCodeAt(i) | 0x20) !== 101) return null;
    i++;
    let eneg = false;
    if (i < len && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) {
      eneg = s.charCodeAt(i) === 45;
      i++;
    }
    if (i >= len) return null;
    for (; i < len; i++) {
      const ch = s.charCodeAt(i);
      if (ch < 48 || ch > 57) return null;
      if (exp < 1e7) exp = exp * 10 + (ch - 48);
    }
    if (eneg) exp = -exp;
  }
  if (digits.length === 0) return { neg, m: 0n, e: 0 };
  // digits (without leading zeros) * 10^e10; its magnitude is about 10^(e10 + digits.length).
  const e10 = exp - fracDigits;
  const mag = e10 + digits.length;
  if (mag > 4934) return null; // >= 10^4933: beyond the largest long double (~1.19e4932)
  if (mag < -4952) return null; // < 10^-4952: underflows to zero
  const d = BigInt(digits);
  const r = e10 >= 0 ? roundRational(neg, d * 10n ** BigInt(e10), 1n) : roundRational(neg, d, 10n ** BigInt(-e10));
  if (r === null || r.m === 0n) return null;
  return r;
}

function parseHexLD(s: string, i: number, neg: boolean): LongDouble | null {
  const len = s.length;
  let digits = '';
  let fracDigits = 0;
  let sawDigit = false;
  let sawDot = false;
  for (; i < len; i++) {
    const ch = s.charCodeAt(i);
    if ((ch >= 48 && ch <= 57) || (ch >= 97 && ch <= 102) || (ch >= 65 && ch <= 70)) {
      sawDigit = true;
      if (digits.length > 0 || s[i] !== '0') digits += s[i];
      if (sawDot) fracDigits++;
    } else if (ch === 46 && !sawDot) sawDot = true;
    else break;
  }
  if (!sawDigit) return null; // strtold parses "0" and stops at the 'x'
  let exp = 0;
  if (i < len) {
    if ((s.charCodeAt(i) | 0x20) !== 112) return null;
    i++;
    let eneg = false;
    if (i < len && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) {
      eneg = s.charCodeAt(i) === 45;
      i++;
    }
    if (i >= len) return null;
    for (; i < len; i++) {
      const ch = s.charCodeAt(i);
      if (ch < 48 || ch > 57) return null;
      if (exp < 1e8) exp = exp * 10 + (ch - 48);
    }
    if (eneg) exp = -exp;
  }
  if (digits.length === 0) return { neg, m: 0n, e: 0 };
  const h = BigInt('0x' + digits);
  const e2 = exp - 4 * fracDigits;
  const mag = bitLength(h) + e2;
  if (mag > LD_MAX_BITS + 1) return null;
  if (mag < LD_MIN_E - 2) return null;
  const r = e2 >= 0 ? roundRational(neg, h << BigInt(e2), 1n) : roundRational(neg, h, 1n << BigInt(-e2));
  if (r === null || r.m === 0n) return null;
  return r;
}

/** a + b in extended precision; null if the result is infinite or NaN. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.inf || b.inf) return null;
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const av = a.m << BigInt(a.e - e);
  const bv = b.m << BigInt(b.e - e);
  let sum = (a.neg ? -av : av) + (b.neg ? -bv : bv);
  const neg = sum < 0n;
  if (neg) sum = -sum;
  if (sum === 0n) return { neg: false, m: 0n, e: 0 };
  return roundScaled(neg, sum, e);
}

/** Redis's ld2string(LD_STR_HUMAN): printf("%.17Lf") with trailing zeros (and a bare '.') removed, "-0" as "0". */
export function formatLongDouble(x: LongDouble): string {
  const t = x.m * TEN17;
  let n: bigint;
  if (x.e >= 0) n = t << BigInt(x.e);
  else {
    const sh = BigInt(-x.e);
    n = t >> sh;
    const r = t - (n << sh);
    const half = 1n << (sh - 1n);
    if (r > half || (r === half && (n & 1n) === 1n)) n++;
  }
  let digits = n.toString();
  if (digits.length < 18) digits = '0'.repeat(18 - digits.length) + digits;
  const intPart = digits.slice(0, digits.length - 17);
  let end = digits.length;
  while (end > digits.length - 17 && digits.charCodeAt(end - 1) === 48) end--;
  const frac = digits.slice(digits.length - 17, end);
  const out = (x.neg ? '-' : '') + intPart + (frac.length > 0 ? '.' + frac : '');
  return out === '-0' ? '0' : out;
}

export const LD_ZERO: LongDouble = { neg: false, m: 0n, e: 0 };

