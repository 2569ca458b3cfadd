/** Focused SortedSet tests and Redis-compatibility of its argument parsers (live redis-server). */
import type Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LEX_MAX,
  LEX_MIN,
  SCORE_MAX,
  SCORE_MIN,
  SortedSet,
  parseLexBound,
  parseRedisDouble,
  parseScoreBound,
} from '../../../cluster-node/src/keyspace/structures/sorted-set';
import { startRedis, type LiveRedis } from './redis-server';

const incl = (value: number) => ({ value, exclusive: false });
const excl = (value: number) => ({ value, exclusive: true });

describe('SortedSet basics', () => {
  it('orders by score then member bytes, with infinities and -0', () => {
    const z = new SortedSet();
    z.add('b', 1);
    z.add('a', 1);
    z.add('\xff', 1);
    z.add('\x00', 1);
    z.add('top', Infinity);
    z.add('bottom', -Infinity);
    z.add('zero', -0);
    expect(z.rangeByRank(0, -1).members).toEqual(['bottom', 'zero', '\x00', 'a', 'b', '\xff', 'top']);
    expect(z.rangeByRank(0, 0, true).members).toEqual(['top']);
    expect(Object.is(z.score('zero'), -0)).toBe(true);
    expect(z.add('zero', 0)).toBe(-0); // equal score: no change, keeps -0
    expect(Object.is(z.score('zero'), -0)).toBe(true);
    expect(z.rank('a')).toBe(3);
    expect(z.rank('a', true)).toBe(3);
    expect(z.rank('missing')).toBe(-1);
    expect(z.countByScore(SCORE_MIN, SCORE_MAX)).toBe(7);
    expect(z.countByScore(excl(-Infinity), excl(Infinity))).toBe(5);
    expect(z.countByScore(incl(0), incl(0))).toBe(1);
    expect(z.countByScore(excl(1), incl(1))).toBe(0);
    expect(() => z.add('nan', NaN)).toThrow(RangeError);
  });

  it('score ranges with offset/limit in both directions (ZRANGEBYSCORE ... LIMIT)', () => {
    const z = new SortedSet();
    for (let i = 0; i < 10; i++) z.add('m' + i, i);
    expect(z.rangeByScore(incl(2), excl(6)).members).toEqual(['m2', 'm3', 'm4', 'm5']);
    expect(z.rangeByScore(incl(2), excl(6), true).members).toEqual(['m5', 'm4', 'm3', 'm2']);
    expect(z.rangeByScore(incl(2), excl(6), false, 1, 2).members).toEqual(['m3', 'm4']);
    expect(z.rangeByScore(incl(2), excl(6), true, 1, 2).members).toEqual(['m4', 'm3']);
    expect(z.rangeByScore(incl(2), excl(6), false, -1, 2).members).toEqual([]);
    expect(z.rangeByScore(incl(2), excl(6), false, 1, -5).members).toEqual(['m3', 'm4', 'm5']);
    expect(z.rangeByScore(incl(2), excl(6), false, 0, 0).members).toEqual([]);
    expect(z.rangeByScore(incl(6), incl(2)).members).toEqual([]);
    expect(z.rangeByScore(incl(9), incl(100)).scores).toEqual([9]);
  });

  it('lex ranges (ZRANGEBYLEX) with -, +, [ and (', () => {
    const z = new SortedSet();
    for (const m of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) z.add(m, 0);
    const lb = (s: string) => parseLexBound(s)!;
    expect(z.rangeByLex(LEX_MIN, LEX_MAX).members.join('')).toBe('abcdefg');
    expect(z.rangeByLex(lb('-'), lb('[c')).members.join('')).toBe('abc');
    expect(z.rangeByLex(lb('-'), lb('(c')).members.join('')).toBe('ab');
    expect(z.rangeByLex(lb('[aaa'), lb('(g')).members.join('')).toBe('bcdef');
    expect(z.rangeByLex(lb('[aaa'), lb('(g'), true, 1, 2).members.join('')).toBe('ed');
    expect(z.rangeByLex(lb('+'), lb('-')).members).toEqual([]);
    expect(z.countByLex(lb('(b'), lb('[f'))).toBe(4);
    expect(z.removeRangeByLex(lb('[b'), lb('(d'))).toBe(2);
    expect(z.rangeByLex(LEX_MIN, LEX_MAX).members.join('')).toBe('adefg');
  });

  it('pops, rank-range removal, iteration', () => {
    const z = new SortedSet();
    for (let i = 0; i < 1000; i++) z.add('k' + String(i).padStart(4, '0'), i % 10);
    const mins = z.popMin(3);
    expect(mins.members).toEqual(['k0000', 'k0010', 'k0020']);
    const maxs = z.popMax(2);
    expect(maxs.members).toEqual(['k0999', 'k0989']);
    expect(maxs.scores).toEqual([9, 9]);
    expect(z.size).toBe(995);
    expect(z.removeRangeByRank(0, 9)).toBe(10);
    expect(z.removeRangeByRank(-5, -1)).toBe(5);
    expect(z.removeRangeByRank(5, 2)).toBe(0);
    expect(z.removeRangeByScore(incl(3), excl(5))).toBe(200);
    expect(z.size).toBe(780);
    z.checkInvariants();
    let n = 0;
    let prev = -Infinity;
    z.forEach((_m, s) => {
      expect(s).toBeGreaterThanOrEqual(prev);
      prev = s;
      n++;
    });
    expect(n).toBe(780);
    expect(z.removeRangeByScore(SCORE_MIN, SCORE_MAX)).toBe(780);
    expect(z.size).toBe(0);
    expect(z.popMin(5).members).toEqual([]);
    expect(z.estimate()).toBe(96);
  });

  it('bulk inserts and deletes build and collapse a multi-level tree', () => {
    const z = new SortedSet();
    const N = 50_000;
    for (let i = 0; i < N; i++) z.add('m' + ((i * 7919) % N), (i * 31) % 1000);
    z.checkInvariants();
    expect(z.size).toBe(N);
    for (let r = 0; r < N; r += 997) expect(z.rank(z.memberAt(r)!)).toBe(r);
    for (let i = 0; i < N; i += 2) z.remove('m' + i);
    z.checkInvariants();
    expect(z.size).toBe(N / 2);
    expect(z.removeRangeByRank(100, N)).toBe(N / 2 - 100);
    z.checkInvariants();
    expect(z.size).toBe(100);
  });
});

describe('argument parsers', () => {
  it('parseScoreBound follows zslParseRange', () => {
    expect(parseScoreBound('1.5')).toEqual({ value: 1.5, exclusive: false });
    expect(parseScoreBound('(1.5')).toEqual({ value: 1.5, exclusive: true });
    expect(parseScoreBound('-inf')).toEqual({ value: -Infinity, exclusive: false });
    expect(parseScoreBound('(+inf')).toEqual({ value: Infinity, exclusive: true });
    expect(parseScoreBound('')).toEqual({ value: 0, exclusive: false });
    expect(parseScoreBound('abc')).toBeNull();
    expect(parseScoreBound('nan')).toBeNull();
    expect(parseScoreBound('[1')).toBeNull();
  });
  it('parseLexBound follows zslParseLexRangeItem', () => {
    expect(parseLexBound('-')).toBe(LEX_MIN);
    expect(parseLexBound('+')).toBe(LEX_MAX);
    expect(parseLexBound('[a')).toEqual({ value: 'a', exclusive: false, inf: 0 });
    expect(parseLexBound('(')).toEqual({ value: '', exclusive: true, inf: 0 });
    expect(parseLexBound('a')).toBeNull();
    expect(parseLexBound('+a')).toBeNull();
    expect(parseLexBound('')).toBeNull();
  });
  it('parseRedisDouble follows string2d', () => {
    expect(parseRedisDouble('1')).toBe(1);
    expect(parseRedisDouble('-2.5e3')).toBe(-2500);
    expect(parseRedisDouble('inf')).toBe(Infinity);
    expect(parseRedisDouble('-Infinity')).toBe(-Infinity);
    expect(parseRedisDouble('0x10')).toBe(16);
    expect(parseRedisDouble(' 1')).toBeNull();
    expect(parseRedisDouble('1 ')).toBeNull();
    expect(parseRedisDouble('')).toBeNull();
    expect(parseRedisDouble('nan')).toBeNull();
    expect(parseRedisDouble('1e400')).toBeNull();
    expect(parseRedisDouble('1e-400')).toBeNull();
    expect(parseRedisDouble('0e-400')).toBe(0);
  });
});

describe('argument parsers agree with a live redis-server', () => {
  let live: LiveRedis | null = null;
  let r: Redis;
  beforeAll(async () => {
    live = await startRedis();
    r = live.client;
  });
  afterAll(async () => {
    await live?.stop();
  });

  const SCORES = [
    '1', '-1', '+1', '1.5', '.5', '5.', '1e3', '1E-3', '-0', '0', '00012', '1e', '1e+', 'e1', '.', '-', '+',
    'inf', '-inf', '+inf', 'Inf', 'INFINITY', '-Infinity', 'infinit', 'nan', 'NaN', '-nan', ' 1', '1 ', '\t1',
    '', '0x1A', '0x1p4', '0X.8', '0x', '1e400', '-1e400', '1e-400', '4.9e-324', '2.2250738585072014e-308',
    '1.7976931348623157e308', '1.7976931348623159e308', '123456789012345678901234567890', '0.1', '1_000', '1,5',
    '١', '1\x00', '3.14159265358979323846264338327950288',
  ];

  it('ZADD score parsing (string2d) matches parseRedisDouble', async () => {
    for (const s of SCORES) {
      const arg = Buffer.from(s, 'latin1');
      let redis: number | null;
      try {
        await r.zadd('zp', arg, 'm');
        const reply = (await r.zscore('zp', 'm'))!;
        redis = reply === 'inf' ? Infinity : reply === '-inf' ? -Infinity : Number(reply);
      } catch (e) {
        expect(String(e)).toMatch(/not a valid float/);
        redis = null;
      }
      const mine = parseRedisDouble(s);
      // (+ 0: Redis's small-zset listpack encoding stores -0 as the integer 0, so ZSCORE says 0.)
      expect({ s, v: mine === null ? null : mine + 0 }).toEqual({ s, v: redis });
    }
  });

  it('ZCOUNT bound parsing (zslParseRange) matches parseScoreBound', async () => {
    await r.del('zc');
    await r.zadd('zc', 0, 'zero', 1, 'one', -1, 'minus', 1e300, 'big');
    for (const s0 of SCORES) {
      for (const s of [s0, '(' + s0]) {
        let redis: number | null;
        try {
          redis = await r.zcount('zc', Buffer.from(s, 'latin1'), '+inf');
        } catch (e) {
          expect(String(e)).toMatch(/min or max is not a float/);
          redis = null;
        }
        const b = parseScoreBound(s);
        const z = new SortedSet();
        z.add('zero', 0);
        z.add('one', 1);
        z.add('minus', -1);
        z.add('big', 1e300);
        const mine = b === null ? null : z.countByScore(b, SCORE_MAX);
        expect({ s, n: mine }).toEqual({ s, n: redis });
      }
    }
  });
});
