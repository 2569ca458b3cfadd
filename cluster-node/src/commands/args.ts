/**
 * Argument parsing shared by command handlers, with Redis's error texts.
 */
import { ReplyError } from './registry';

export const E = {
  syntax: 'ERR syntax error',
  notInt: 'ERR value is not an integer or out of range',
  notFloat: 'ERR value is not a valid float',
  overflow: 'ERR increment or decrement would overflow',
  nanOrInf: 'ERR increment would produce NaN or Infinity',
  wrongType: 'WRONGTYPE Operation against a key holding the wrong kind of value',
  noKey: 'ERR no such key',
  outOfRange: 'ERR index out of range',
  timeoutNotFloat: 'ERR timeout is not a float or out of range',
  timeoutNegative: 'ERR timeout is negative',
  invalidExpire: (cmd: string) => `ERR invalid expire time in '${cmd}' command`,
} as const;

const INT_RE = /^-?(0|[1-9]\d*)$/;
const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

/** True if `s` is a canonical int64 decimal (what Redis's string2ll accepts). */
export function isInt64(s: string): boolean {
  if (s.length === 0 || s.length > 20 || !INT_RE.test(s)) return false;
  if (s.length < 19) return true;
  const b = BigInt(s);
  return b <= MAX && b >= MIN;
}

/** Parse an int64 argument; numbers beyond 2^53 lose precision, so use parseBigInt where exactness matters. */
export function parseInt64(s: string, err: string = E.notInt): number {
  if (s.length > 0 && s.length < 16) {
    // Fast path: short canonical integers.
    let i = 0;
    let neg = false;
    if (s.charCodeAt(0) === 45) {
      neg = true;
      i = 1;
      if (s.length === 1) throw new ReplyError(err);
    }
    if (s.charCodeAt(i) === 48 && s.length > i + 1) throw new ReplyError(err);
    let n = 0;
    for (; i < s.length; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) throw new ReplyError(err);
      n = n * 10 + d;
    }
    if (neg && n === 0) throw new ReplyError(err);
    return neg ? -n : n;
  }
  if (!isInt64(s)) throw new ReplyError(err);
  return Number(s);
}

/** Exact int64 parse as BigInt. */
export function parseBigInt(s: string, err: string = E.notInt): bigint {
  if (!isInt64(s)) throw new ReplyError(err);
  return BigInt(s);
}

const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a double like Redis's strtod-based parser: accepts inf/-inf/+inf, rejects nan and spaces. */
export function parseFloatArg(s: string, err: string = E.notFloat): number {
  if (FLOAT_RE.test(s)) {
    const d = Number(s);
    if (!Number.isNaN(d)) return d;
  }
  const l = s.toLowerCase();
  if (l === 'inf' || l === '+inf' || l === 'infinity' || l === '+infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  throw new ReplyError(err);
}

/** Case-insensitive option comparison. */
export function eq(a: string, upper: string): boolean {
  return a.length === upper.length && a.toUpperCase() === upper;
}

/** Blocking-command timeout in seconds (float) to absolute ms deadline (0 = forever). */
export function parseTimeout(s: string, now: number): number {
  let t: number;
  try {
    t = parseFloatArg(s, E.timeoutNotFloat);
  } catch {
    throw new ReplyError(E.timeoutNotFloat);
  }
  // Like Redis 7.0: ms = ceil(t * 1000); inf or more than LLONG_MAX ms overflows the conversion to a
  // negative number ("timeout is negative"); a tiny negative value rounds to 0 (block forever).
  const ms = Math.ceil(t * 1000);
  if (!(ms <= 9223372036854775807) || ms < 0) throw new ReplyError(E.timeoutNegative);
  if (ms === 0) return 0;
  return now + ms;
}
