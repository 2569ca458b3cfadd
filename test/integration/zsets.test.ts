/**
 * Sorted-set commands end to end: ZADD options, reads, every ZRANGE form, stores, removals, set
 * algebra (with plain sets as inputs), pops, ZRANDMEMBER, ZSCAN, errors, RESP2/RESP3 reply shapes,
 * keyspace events, WATCH, memory accounting, big sets against a model, real clients, and a
 * differential run of a deterministic script against a real redis-server (scores compared
 * numerically: redis-server 7.0 prints doubles with %.17g, we print the shortest round-trip form).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, redisCli, type NodeHandle } from '../helpers/node';
import { RawConn, startRealRedis, type RealRedis } from '../helpers/resp-diff';

let node: NodeHandle;
let io: Redis;
let c2: RawConn;
let c3: RawConn;

beforeAll(async () => {
  node = await startNode(['--notify-keyspace-events', 'KEA']);
  io = new Redis({ port: node.port, lazyConnect: true });
  await io.connect();
  c2 = await RawConn.open({ port: node.port });
  c3 = await RawConn.open({ port: node.port });
  await c3.send([['HELLO', '3']]);
});

afterAll(async () => {
  io.disconnect();
  c2.close();
  c3.close();
});

/** Exact reply bytes of one command over RESP2 / RESP3. */
async function raw2(...args: string[]): Promise<string> {
  return (await c2.send([args]))[0];
}
async function raw3(...args: string[]): Promise<string> {
  return (await c3.send([args]))[0];
}
/** The error reply text (without "-" and CRLF) of a command, or fail. */
async function err(...args: string[]): Promise<string> {
  const r = await raw2(...args);
  expect(r[0], `${args.join(' ')} -> ${JSON.stringify(r)}`).toBe('-');
  return r.slice(1, -2);
}

const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;

describe('ZADD and ZINCRBY', () => {
  it('adds, updates, and counts with CH', async () => {
    expect(await io.zadd('za', 1, 'a', 2, 'b', 3, 'c')).toBe(3);
    expect(await io.zadd('za', 10, 'a', 4, 'd')).toBe(1); // a updated, d added
    expect(await io.zadd('za', 'CH', 11, 'a', 4, 'd', 5, 'e')).toBe(2); // a changed + e added; d same
    expect(await io.zrange('za', 0, -1, 'WITHSCORES')).toEqual(['b', '2', 'c', '3', 'd', '4', 'e', '5', 'a', '11']);
    expect(await io.zadd('za', 1, 'x', 1, 'x')).toBe(1); // duplicate pair: added once
    expect(await io.zcard('za')).toBe(6);
  });

  it('NX, XX, GT, LT and their combinations', async () => {
    await io.zadd('zo', 5, 'a', 5, 'b');
    expect(await io.zadd('zo', 'NX', 1, 'a', 1, 'n')).toBe(1);
    expect(await io.zscore('zo', 'a')).toBe('5');
    expect(await io.zadd('zo', 'XX', 'CH', 7, 'a', 1, 'never')).toBe(1);
    expect(await io.zscore('zo', 'never')).toBeNull();
    expect(await io.zadd('zo', 'GT', 'CH', 6, 'a', 9, 'b', 3, 'g')).toBe(2); // b raised, g added (GT adds new members)
    expect(await io.zscore('zo', 'a')).toBe('7');
    expect(await io.zadd('zo', 'LT', 'CH', 8, 'a', 1, 'b')).toBe(1);
    expect(await io.zscore('zo', 'b')).toBe('1');
    expect(await io.zadd('zo', 'XX', 'GT', 'CH', 100, 'a', 100, 'new')).toBe(1);
    expect(await io.zscore('zo', 'new')).toBeNull();
    // XX on a missing key creates nothing.
    expect(await io.zadd('zo-missing', 'XX', 1, 'a')).toBe(0);
    expect(await io.exists('zo-missing')).toBe(0);
    // Option names are case-insensitive.
    expect(await io.zadd('zo', 'nx', 'ch', 1, 'lower')).toBe(1);
  });

  it('INCR returns the new score, or nil when the condition blocks it', async () => {
    expect(await io.zadd('zi', 'INCR', 2.5, 'a')).toBe('2.5');
    expect(await io.zadd('zi', 'INCR', 2.5, 'a')).toBe('5');
    expect(await io.zadd('zi', 'NX', 'INCR', 1, 'a')).toBeNull();
    expect(await io.zadd('zi', 'XX', 'INCR', 1, 'nobody')).toBeNull();
    expect(await io.zadd('zi', 'GT', 'INCR', -1, 'a')).toBeNull();
    expect(await io.zadd('zi', 'LT', 'INCR', -1, 'a')).toBe('4');
    expect(await raw3('ZADD', 'zi', 'INCR', '0.5', 'a')).toBe(',4.5\r\n');
    expect(await raw3('ZADD', 'zi', 'NX', 'INCR', '1', 'a')).toBe('_\r\n');
    expect(await raw2('ZADD', 'zi', 'NX', 'INCR', '1', 'a')).toBe('$-1\r\n');
    expect(await raw2('ZADD', 'zi-none', 'XX', 'INCR', '1', 'a')).toBe('$-1\r\n');
  });

  it('ZINCRBY creates, increments and replies doubles', async () => {
    expect(await io.zincrby('zb', 1.5, 'm')).toBe('1.5');
    expect(await io.zincrby('zb', -3, 'm')).toBe('-1.5');
    expect(await raw3('ZINCRBY', 'zb', '1', 'm')).toBe(',-0.5\r\n');
    expect(await raw2('ZINCRBY', 'zb', '1', 'm')).toBe(bulk('0.5'));
    expect(await io.zincrby('zb', '+inf', 'm')).toBe('inf');
    expect(await err('ZINCRBY', 'zb', '-inf', 'm')).toBe('ERR resulting score is not a number (NaN)');
    expect(await io.zscore('zb', 'm')).toBe('inf');
    expect(await err('ZINCRBY', 'zb', 'abc', 'm')).toBe('ERR value is not a valid float');
    // The increment slot is parsed for ZADD options first, as in Redis.
    expect(await err('ZINCRBY', 'zb', 'nx', 'm')).toBe('ERR syntax error');
  });

  it('parses scores like strtod and rejects what Redis rejects', async () => {
    await io.zadd('zp', '1e3', 'e', '0x10', 'h', '.5', 'd', '5.', 'p', '+7', 'plus', '-inf', 'ninf', '+inf', 'pinf');
    expect(await io.zrange('zp', 0, -1, 'WITHSCORES')).toEqual(['ninf', '-inf', 'd', '0.5', 'p', '5', 'plus', '7', 'h', '16', 'e', '1000', 'pinf', 'inf']);
    for (const bad of ['abc', '1e400', '-1e400', '1e-400', 'nan', ' 1', '1 ', '', '1a', '--1']) {
      expect(await err('ZADD', 'zp', bad, 'x')).toBe('ERR value is not a valid float');
    }
    expect(await io.zscore('zp', 'x')).toBeNull();
    // -0 is stored as 0 (Redis's small-set encoding drops the sign too).
    await io.zadd('zp', '-0', 'z');
    expect(await io.zscore('zp', 'z')).toBe('0');
  });

  it('validates options before touching the key', async () => {
    await io.zadd('zv', 1, 'a');
    const cases: [string[], string][] = [
      [['ZADD', 'zv', '1'], "ERR wrong number of arguments for 'zadd' command"],
      [['ZADD', 'zv', '1', 'a', '2'], 'ERR syntax error'],
      [['ZADD', 'zv', 'NX', 'XX', '1', 'a'], 'ERR XX and NX options at the same time are not compatible'],
      [['ZADD', 'zv', 'GT', 'LT', '1', 'a'], 'ERR GT, LT, and/or NX options at the same time are not compatible'],
      [['ZADD', 'zv', 'NX', 'GT', '1', 'a'], 'ERR GT, LT, and/or NX options at the same time are not compatible'],
      [['ZADD', 'zv', 'NX', 'LT', 'INCR', '1', 'a', '2', 'b'], 'ERR GT, LT, and/or NX options at the same time are not compatible'],
      [['ZADD', 'zv', 'INCR', '1', 'a', '2', 'b'], 'ERR INCR option supports a single increment-element pair'],
      [['ZADD', 'zv', 'CH', '1', 'a', 'x', 'b'], 'ERR value is not a valid float'],
    ];
    for (const [args, msg] of cases) expect(await err(...args), args.join(' ')).toBe(msg);
    // Nothing of a failed command was applied.
    expect(await io.zrange('zv', 0, -1, 'WITHSCORES')).toEqual(['a', '1']);
    await io.set('zv-str', 'x');
    expect(await err('ZADD', 'zv-str', '1', 'a')).toMatch(/^WRONGTYPE/);
    expect(await err('ZINCRBY', 'zv-str', '1', 'a')).toMatch(/^WRONGTYPE/);
  });
});

describe('reads', () => {
  beforeAll(async () => {
    await io.zadd('zr', 1, 'a', 2, 'b', 3, 'c', 1.25, 'q');
    await io.set('zr-str', 'v');
  });

  it('ZCARD, ZSCORE, ZMSCORE', async () => {
    expect(await io.zcard('zr')).toBe(4);
    expect(await io.zcard('zr-none')).toBe(0);
    expect(await io.zscore('zr', 'q')).toBe('1.25');
    expect(await io.zscore('zr', 'zz')).toBeNull();
    expect(await io.zscore('zr-none', 'a')).toBeNull();
    expect(await raw3('ZSCORE', 'zr', 'q')).toBe(',1.25\r\n');
    expect(await raw3('ZSCORE', 'zr', 'nope')).toBe('_\r\n');
    expect(await io.zmscore('zr', 'a', 'nope', 'c')).toEqual(['1', null, '3']);
    expect(await raw2('ZMSCORE', 'zr', 'a', 'nope')).toBe('*2\r\n$1\r\n1\r\n$-1\r\n');
    expect(await raw3('ZMSCORE', 'zr', 'a', 'nope')).toBe('*2\r\n,1\r\n_\r\n');
    expect(await raw3('ZMSCORE', 'zr-none', 'a', 'b')).toBe('*2\r\n_\r\n_\r\n');
    for (const cmd of [['ZCARD', 'zr-str'], ['ZSCORE', 'zr-str', 'a'], ['ZMSCORE', 'zr-str', 'a']]) {
      expect(await err(...cmd)).toBe('WRONGTYPE Operation against a key holding the wrong kind of value');
    }
  });

  it('ZRANK / ZREVRANK with and without WITHSCORE', async () => {
    expect(await io.zrank('zr', 'a')).toBe(0);
    expect(await io.zrank('zr', 'c')).toBe(3);
    expect(await io.zrevrank('zr', 'c')).toBe(0);
    expect(await io.zrevrank('zr', 'q')).toBe(2);
    expect(await io.zrank('zr', 'nope')).toBeNull();
    expect(await io.zrank('zr-none', 'a')).toBeNull();
    expect(await raw2('ZRANK', 'zr', 'q', 'WITHSCORE')).toBe('*2\r\n:1\r\n$4\r\n1.25\r\n');
    expect(await raw3('ZRANK', 'zr', 'q', 'withscore')).toBe('*2\r\n:1\r\n,1.25\r\n');
    expect(await raw3('ZREVRANK', 'zr', 'a', 'WITHSCORE')).toBe('*2\r\n:3\r\n,1\r\n');
    expect(await raw2('ZRANK', 'zr', 'nope', 'WITHSCORE')).toBe('*-1\r\n');
    expect(await raw3('ZRANK', 'zr', 'nope', 'WITHSCORE')).toBe('_\r\n');
    expect(await raw2('ZRANK', 'zr', 'nope')).toBe('$-1\r\n');
    expect(await err('ZRANK', 'zr', 'a', 'WITHSCORES')).toBe('ERR syntax error');
    expect(await err('ZRANK', 'zr', 'a', 'WITHSCORE', 'x')).toBe("ERR wrong number of arguments for 'zrank' command");
    expect(await err('ZREVRANK', 'zr', 'a', 'WITHSCORE', 'x')).toBe("ERR wrong number of arguments for 'zrevrank' command");
    expect(await err('ZRANK', 'zr-str', 'a')).toMatch(/^WRONGTYPE/);
  });

  it('ZCOUNT and ZLEXCOUNT with inclusive, exclusive and infinite bounds', async () => {
    expect(await io.zcount('zr', '-inf', '+inf')).toBe(4);
    expect(await io.zcount('zr', '(1', '3')).toBe(3);
    expect(await io.zcount('zr', '1', '(3')).toBe(3);
    expect(await io.zcount('zr', '(1', '(1.25')).toBe(0);
    expect(await io.zcount('zr', '3', '1')).toBe(0);
    expect(await io.zcount('zr-none', '0', '1')).toBe(0);
    expect(await err('ZCOUNT', 'zr', 'a', '1')).toBe('ERR min or max is not a float');
    expect(await err('ZCOUNT', 'zr', '1', '(x')).toBe('ERR min or max is not a float');
    expect(await err('ZCOUNT', 'zr', '1', 'nan')).toBe('ERR min or max is not a float');
    await io.zadd('zl', 0, 'a', 0, 'b', 0, 'c', 0, 'd', 0, 'e');
    expect(await io.zlexcount('zl', '-', '+')).toBe(5);
    expect(await io.zlexcount('zl', '[b', '(d')).toBe(2);
    expect(await io.zlexcount('zl', '(b', '[d')).toBe(2);
    expect(await io.zlexcount('zl', '+', '-')).toBe(0);
    expect(await io.zlexcount('zl-none', '-', '+')).toBe(0);
    for (const [a, b] of [['a', '+'], ['-', 'b'], ['-x', '+'], ['', '+']]) {
      expect(await err('ZLEXCOUNT', 'zl', a, b)).toBe('ERR min or max not valid string range item');
    }
    expect(await err('ZCOUNT', 'zr-str', '0', '1')).toMatch(/^WRONGTYPE/);
  });
});

describe('ZRANGE and friends', () => {
  beforeAll(async () => {
    await io.zadd('zg', 1, 'a', 2, 'b', 3, 'c', 4, 'd', 5, 'e');
    await io.zadd('zgl', 0, 'a', 0, 'b', 0, 'c', 0, 'd', 0, 'e', 0, 'f');
  });

  it('index ranges, negative indexes, REV', async () => {
    expect(await io.zrange('zg', 0, -1)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await io.zrange('zg', -2, -1)).toEqual(['d', 'e']);
    expect(await io.zrange('zg', -100, 1)).toEqual(['a', 'b']);
    expect(await io.zrange('zg', 3, 1)).toEqual([]);
    expect(await io.zrange('zg', 10, 20)).toEqual([]);
    expect(await io.zrange('zg', 0, 1, 'REV')).toEqual(['e', 'd']);
    expect(await io.zrevrange('zg', 0, 1, 'WITHSCORES')).toEqual(['e', '5', 'd', '4']);
    expect(await io.zrevrange('zg', -2, -1)).toEqual(['b', 'a']);
    expect(await io.zrange('zg-none', 0, -1)).toEqual([]);
    // LIMIT with the default count (-1) is accepted for index ranges, any other count is not.
    expect(await io.zrange('zg', 0, 0, 'LIMIT', 3, -1)).toEqual(['a']);
  });

  it('BYSCORE: exclusive and infinite bounds, REV swaps min and max, LIMIT windows', async () => {
    expect(await io.zrange('zg', '(1', '3', 'BYSCORE')).toEqual(['b', 'c']);
    expect(await io.zrange('zg', '-inf', '+inf', 'BYSCORE', 'LIMIT', 1, 2)).toEqual(['b', 'c']);
    expect(await io.zrange('zg', '5', '(2', 'BYSCORE', 'REV')).toEqual(['e', 'd', 'c']);
    expect(await io.zrange('zg', '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 1, 2, 'WITHSCORES')).toEqual(['d', '4', 'c', '3']);
    expect(await io.zrange('zg', '-inf', '+inf', 'BYSCORE', 'LIMIT', -1, 2)).toEqual([]);
    expect(await io.zrange('zg', '-inf', '+inf', 'BYSCORE', 'LIMIT', 3, -5)).toEqual(['d', 'e']);
    expect(await io.zrange('zg', '-inf', '+inf', 'BYSCORE', 'LIMIT', 1, 0)).toEqual([]);
    expect(await io.zrange('zg', '+inf', '-inf', 'BYSCORE')).toEqual([]);
    expect(await io.zrangebyscore('zg', 2, 4, 'WITHSCORES', 'LIMIT', 1, 5)).toEqual(['c', '3', 'd', '4']);
    expect(await io.zrevrangebyscore('zg', 4, 2)).toEqual(['d', 'c', 'b']);
    expect(await io.zrevrangebyscore('zg', 2, 4)).toEqual([]);
    expect(await io.zrevrangebyscore('zg', '+inf', '-inf', 'LIMIT', 1, 2)).toEqual(['d', 'c']);
  });

  it('BYLEX and the lex commands', async () => {
    expect(await io.zrange('zgl', '[b', '[d', 'BYLEX')).toEqual(['b', 'c', 'd']);
    expect(await io.zrange('zgl', '[d', '[b', 'BYLEX', 'REV')).toEqual(['d', 'c', 'b']);
    expect(await io.zrange('zgl', '(a', '(f', 'BYLEX', 'LIMIT', 0, 2)).toEqual(['b', 'c']);
    expect(await io.zrangebylex('zgl', '-', '+', 'LIMIT', 1, 2)).toEqual(['b', 'c']);
    expect(await io.zrevrangebylex('zgl', '+', '-', 'LIMIT', 1, 2)).toEqual(['e', 'd']);
    expect(await io.zrevrangebylex('zgl', '[d', '[b')).toEqual(['d', 'c', 'b']);
    expect(await io.zrangebylex('zgl', '+', '-')).toEqual([]);
  });

  it('RESP3 WITHSCORES replies [member, score] pairs; RESP2 a flat array', async () => {
    expect(await raw3('ZRANGE', 'zg', '0', '1', 'WITHSCORES')).toBe('*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n');
    expect(await raw2('ZRANGE', 'zg', '0', '1', 'WITHSCORES')).toBe('*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n');
    expect(await raw3('ZRANGEBYSCORE', 'zg', '5', '5', 'WITHSCORES')).toBe('*1\r\n*2\r\n$1\r\ne\r\n,5\r\n');
    expect(await raw3('ZRANGE', 'zg', '0', '1')).toBe('*2\r\n$1\r\na\r\n$1\r\nb\r\n');
    expect(await raw3('ZRANGE', 'zg-none', '0', '-1', 'WITHSCORES')).toBe('*0\r\n');
  });

  it('errors', async () => {
    const cases: [string[], string][] = [
      [['ZRANGE', 'zg', '0', '-1', 'LIMIT', '0', '1'], 'ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX'],
      [['ZREVRANGE', 'zg', '0', '-1', 'LIMIT', '0', '1'], 'ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX'],
      [['ZRANGE', 'zgl', '-', '+', 'BYLEX', 'WITHSCORES'], 'ERR syntax error, WITHSCORES not supported in combination with BYLEX'],
      [['ZRANGEBYLEX', 'zgl', '-', '+', 'WITHSCORES'], 'ERR syntax error, WITHSCORES not supported in combination with BYLEX'],
      [['ZRANGE', 'zg', 'a', 'b'], 'ERR value is not an integer or out of range'],
      [['ZRANGE', 'zg', 'a', 'b', 'BYSCORE'], 'ERR min or max is not a float'],
      [['ZRANGE', 'zg', 'a', 'b', 'BYLEX'], 'ERR min or max not valid string range item'],
      [['ZRANGE', 'zg', '0', '1', 'BYSCORE', 'BYLEX'], 'ERR syntax error'],
      [['ZRANGE', 'zg', '0', '1', 'REV', 'REV'], 'ERR syntax error'],
      [['ZRANGE', 'zg', '0', '1', 'LIMIT', '1'], 'ERR syntax error'],
      [['ZRANGE', 'zg', '0', '1', 'BYSCORE', 'LIMIT', 'x', '1'], 'ERR value is not an integer or out of range'],
      [['ZRANGE', 'zg', '0', '1', 'foo'], 'ERR syntax error'],
      [['ZRANGEBYSCORE', 'zg', '0', '1', 'BYSCORE'], 'ERR syntax error'],
      [['ZRANGEBYSCORE', 'zg', '0', '1', 'REV'], 'ERR syntax error'],
      [['ZREVRANGE', 'zg', '0', '1', 'REV'], 'ERR syntax error'],
      [['ZRANGEBYLEX', 'zgl', 'a', '+'], 'ERR min or max not valid string range item'],
      [['ZRANGE', 'zg', '0'], "ERR wrong number of arguments for 'zrange' command"],
    ];
    for (const [args, msg] of cases) expect(await err(...args), args.join(' ')).toBe(msg);
    await io.set('zg-str', 'v');
    expect(await err('ZRANGE', 'zg-str', '0', '-1')).toMatch(/^WRONGTYPE/);
    // Argument errors win over the type check, as in Redis.
    expect(await err('ZRANGE', 'zg-str', '0', '-1', 'bad')).toBe('ERR syntax error');
  });

  it('ZRANGESTORE stores ranges, deletes the destination on an empty result', async () => {
    expect(await io.zrangestore('zs-dst', 'zg', 0, 2)).toBe(3);
    expect(await io.zrange('zs-dst', 0, -1, 'WITHSCORES')).toEqual(['a', '1', 'b', '2', 'c', '3']);
    expect(await io.zrangestore('zs-dst', 'zg', 5, '(2', 'BYSCORE', 'REV', 'LIMIT', 0, 2)).toBe(2);
    expect(await io.zrange('zs-dst', 0, -1, 'WITHSCORES')).toEqual(['d', '4', 'e', '5']);
    expect(await io.zrangestore('zs-dst', 'zgl', '[b', '[c', 'BYLEX')).toBe(2);
    expect(await io.zrange('zs-dst', 0, -1, 'WITHSCORES')).toEqual(['b', '0', 'c', '0']);
    await io.set('zs-dst2', 'string');
    await io.expire('zs-dst2', 100);
    expect(await io.zrangestore('zs-dst2', 'zg', 0, 0)).toBe(1); // overwrites any type, drops the TTL
    expect(await io.ttl('zs-dst2')).toBe(-1);
    expect(await io.zrangestore('zs-dst', 'zg', 3, 1)).toBe(0);
    expect(await io.exists('zs-dst')).toBe(0);
    expect(await io.zrangestore('zs-dst2', 'zg-none', 0, -1)).toBe(0);
    expect(await io.exists('zs-dst2')).toBe(0);
    expect(await err('ZRANGESTORE', 'zs-dst', 'zg', '0', '-1', 'WITHSCORES')).toBe('ERR syntax error');
    expect(await err('ZRANGESTORE', 'zs-dst', 'zg-str', '0', '-1')).toMatch(/^WRONGTYPE/);
  });
});

describe('removal', () => {
  it('ZREM removes members and the key with its last member', async () => {
    await io.zadd('zm', 1, 'a', 2, 'b', 3, 'c');
    expect(await io.zrem('zm', 'a', 'nope', 'a')).toBe(1);
    expect(await io.zrem('zm-none', 'a')).toBe(0);
    expect(await io.zrem('zm', 'b', 'c', 'd')).toBe(2);
    expect(await io.exists('zm')).toBe(0);
    expect(await err('ZREM', 'zm')).toBe("ERR wrong number of arguments for 'zrem' command");
  });

  it('ZREMRANGEBYRANK / BYSCORE / BYLEX', async () => {
    await io.zadd('zrr', 1, 'a', 2, 'b', 3, 'c', 4, 'd', 5, 'e', 6, 'f');
    expect(await io.zremrangebyrank('zrr', 0, 0)).toBe(1);
    expect(await io.zremrangebyrank('zrr', -2, -1)).toBe(2);
    expect(await io.zremrangebyrank('zrr', 5, 3)).toBe(0);
    expect(await io.zrange('zrr', 0, -1)).toEqual(['b', 'c', 'd']);
    expect(await io.zremrangebyscore('zrr', '(2', 3)).toBe(1);
    expect(await io.zremrangebyscore('zrr', '-inf', '(2')).toBe(0);
    expect(await io.zrange('zrr', 0, -1)).toEqual(['b', 'd']);
    expect(await io.zremrangebyscore('zrr', '-inf', '+inf')).toBe(2);
    expect(await io.exists('zrr')).toBe(0);
    await io.zadd('zrl', 0, 'a', 0, 'b', 0, 'c', 0, 'd');
    expect(await io.zremrangebylex('zrl', '[b', '(d')).toBe(2);
    expect(await io.zrange('zrl', 0, -1)).toEqual(['a', 'd']);
    expect(await io.zremrangebylex('zrl', '-', '+')).toBe(2);
    expect(await io.exists('zrl')).toBe(0);
    expect(await io.zremrangebyrank('zrl-none', 0, -1)).toBe(0);
    expect(await err('ZREMRANGEBYRANK', 'zrl', 'a', '1')).toBe('ERR value is not an integer or out of range');
    expect(await err('ZREMRANGEBYSCORE', 'zrl', 'a', '1')).toBe('ERR min or max is not a float');
    expect(await err('ZREMRANGEBYLEX', 'zrl', 'a', '+')).toBe('ERR min or max not valid string range item');
    await io.set('zrr-str', 'v');
    expect(await err('ZREMRANGEBYRANK', 'zrr-str', '0', '1')).toMatch(/^WRONGTYPE/);
    expect(await err('ZREM', 'zrr-str', 'a')).toMatch(/^WRONGTYPE/);
  });
});

describe('ZUNION / ZINTER / ZDIFF and their STORE forms', () => {
  beforeAll(async () => {
    await io.zadd('{o}1', 1, 'a', 2, 'b', 3, 'c');
    await io.zadd('{o}2', 10, 'b', 20, 'c', 30, 'd');
    await io.sadd('{o}s', 'b', 'd', 'x');
    await io.set('{o}str', 'v');
  });

  it('union with weights and aggregates; sets count as score 1', async () => {
    expect(await io.zunion(2, '{o}1', '{o}2', 'WITHSCORES')).toEqual(['a', '1', 'b', '12', 'c', '23', 'd', '30']);
    expect(await io.zunion(2, '{o}1', '{o}2', 'WEIGHTS', 2, 3, 'WITHSCORES')).toEqual(['a', '2', 'b', '34', 'c', '66', 'd', '90']);
    expect(await io.zunion(2, '{o}1', '{o}2', 'AGGREGATE', 'MIN', 'WITHSCORES')).toEqual(['a', '1', 'b', '2', 'c', '3', 'd', '30']);
    expect(await io.zunion(2, '{o}1', '{o}2', 'aggregate', 'max', 'WITHSCORES')).toEqual(['a', '1', 'b', '10', 'c', '20', 'd', '30']);
    expect(await io.zunion(3, '{o}1', '{o}none', '{o}s', 'WITHSCORES')).toEqual(['a', '1', 'd', '1', 'x', '1', 'b', '3', 'c', '3']);
    expect(await io.zunion(2, '{o}1', '{o}2')).toEqual(['a', 'b', 'c', 'd']);
    // inf * 0 is NaN, which Redis turns into 0.
    expect(await io.zunion(2, '{o}1', '{o}2', 'WEIGHTS', 0, 'inf', 'WITHSCORES')).toEqual(['a', '0', 'b', 'inf', 'c', 'inf', 'd', 'inf']);
  });

  it('intersection, difference and ZINTERCARD', async () => {
    expect(await io.zinter(2, '{o}1', '{o}2', 'WITHSCORES')).toEqual(['b', '12', 'c', '23']);
    expect(await io.zinter(3, '{o}1', '{o}2', '{o}s', 'WITHSCORES')).toEqual(['b', '13']);
    expect(await io.zinter(2, '{o}1', '{o}2', 'WEIGHTS', 1, -1, 'AGGREGATE', 'MIN', 'WITHSCORES')).toEqual(['c', '-20', 'b', '-10']);
    expect(await io.zinter(2, '{o}1', '{o}1', 'WITHSCORES')).toEqual(['a', '2', 'b', '4', 'c', '6']);
    expect(await io.zinter(2, '{o}1', '{o}none')).toEqual([]);
    expect(await io.zdiff(2, '{o}1', '{o}2', 'WITHSCORES')).toEqual(['a', '1']);
    expect(await io.zdiff(2, '{o}s', '{o}1', 'WITHSCORES')).toEqual(['d', '1', 'x', '1']);
    expect(await io.zdiff(1, '{o}none')).toEqual([]);
    expect(await io.zintercard(2, '{o}1', '{o}2')).toBe(2);
    expect(await io.zintercard(3, '{o}1', '{o}2', '{o}s')).toBe(1);
    expect(await io.zintercard(2, '{o}1', '{o}2', 'LIMIT', 1)).toBe(1);
    expect(await io.zintercard(2, '{o}1', '{o}2', 'LIMIT', 0)).toBe(2);
  });

  it('RESP3 WITHSCORES shape', async () => {
    expect(await raw3('ZINTER', '2', '{o}1', '{o}2', 'WITHSCORES')).toBe('*2\r\n*2\r\n$1\r\nb\r\n,12\r\n*2\r\n$1\r\nc\r\n,23\r\n');
    expect(await raw2('ZDIFF', '2', '{o}1', '{o}2', 'WITHSCORES')).toBe('*2\r\n$1\r\na\r\n$1\r\n1\r\n');
    expect(await raw3('ZUNION', '1', '{o}none')).toBe('*0\r\n');
  });

  it('STORE forms replace the destination or delete it when the result is empty', async () => {
    expect(await io.zunionstore('{o}d', 2, '{o}1', '{o}2', 'WEIGHTS', 1, 2)).toBe(4);
    expect(await io.zrange('{o}d', 0, -1, 'WITHSCORES')).toEqual(['a', '1', 'b', '22', 'c', '43', 'd', '60']);
    expect(await io.zinterstore('{o}d', 2, '{o}1', '{o}2', 'AGGREGATE', 'MAX')).toBe(2);
    expect(await io.zrange('{o}d', 0, -1, 'WITHSCORES')).toEqual(['b', '10', 'c', '20']);
    expect(await io.zdiffstore('{o}d', 2, '{o}2', '{o}s')).toBe(1);
    expect(await io.zrange('{o}d', 0, -1, 'WITHSCORES')).toEqual(['c', '20']);
    expect(await io.zinterstore('{o}d', 2, '{o}1', '{o}none')).toBe(0);
    expect(await io.exists('{o}d')).toBe(0);
    // The destination may be one of the inputs.
    await io.zadd('{o}self', 1, 'a');
    expect(await io.zunionstore('{o}self', 2, '{o}self', '{o}1')).toBe(3);
    expect(await io.zrange('{o}self', 0, -1, 'WITHSCORES')).toEqual(['a', '2', 'b', '2', 'c', '3']);
  });

  it('errors', async () => {
    const cases: [string[], string][] = [
      [['ZUNION', '0', '{o}1'], "ERR at least 1 input key is needed for 'zunion' command"],
      [['ZINTERSTORE', '{o}d', '0', '{o}1'], "ERR at least 1 input key is needed for 'zinterstore' command"],
      [['ZINTERCARD', '0', '{o}1'], "ERR at least 1 input key is needed for 'zintercard' command"],
      [['ZUNION', 'x', '{o}1'], 'ERR value is not an integer or out of range'],
      [['ZUNION', '3', '{o}1', '{o}2'], 'ERR syntax error'],
      [['ZUNION', '2', '{o}1', '{o}2', 'WEIGHTS', '1'], 'ERR syntax error'],
      [['ZUNION', '2', '{o}1', '{o}2', 'WEIGHTS', '1', 'x'], 'ERR weight value is not a float'],
      [['ZUNION', '2', '{o}1', '{o}2', 'WEIGHTS', '1', 'nan'], 'ERR weight value is not a float'],
      [['ZUNION', '2', '{o}1', '{o}2', 'AGGREGATE', 'avg'], 'ERR syntax error'],
      [['ZDIFF', '2', '{o}1', '{o}2', 'WEIGHTS', '1', '1'], 'ERR syntax error'],
      [['ZDIFF', '2', '{o}1', '{o}2', 'AGGREGATE', 'SUM'], 'ERR syntax error'],
      [['ZUNIONSTORE', '{o}d', '1', '{o}1', 'WITHSCORES'], 'ERR syntax error'],
      [['ZINTERCARD', '1', '{o}1', 'WITHSCORES'], 'ERR syntax error'],
      [['ZINTERCARD', '1', '{o}1', 'LIMIT', '-1'], "ERR LIMIT can't be negative"],
      [['ZINTERCARD', '1', '{o}1', 'LIMIT', 'x'], "ERR LIMIT can't be negative"],
      [['ZUNION', '2', '{o}1', '{o}str'], 'WRONGTYPE Operation against a key holding the wrong kind of value'],
      // Input types are checked before the options are parsed.
      [['ZUNION', '2', '{o}str', '{o}1', 'WEIGHTS', 'x', 'y'], 'WRONGTYPE Operation against a key holding the wrong kind of value'],
    ];
    for (const [args, msg] of cases) expect(await err(...args), args.join(' ')).toBe(msg);
  });
});

describe('pops', () => {
  it('ZPOPMIN / ZPOPMAX replies in RESP2 and RESP3', async () => {
    await io.zadd('zq', 1, 'a', 2, 'b', 3, 'c', 4, 'd');
    expect(await raw2('ZPOPMIN', 'zq')).toBe('*2\r\n$1\r\na\r\n$1\r\n1\r\n');
    expect(await raw3('ZPOPMIN', 'zq')).toBe('*2\r\n$1\r\nb\r\n,2\r\n');
    expect(await raw2('ZPOPMAX', 'zq', '1')).toBe('*2\r\n$1\r\nd\r\n$1\r\n4\r\n');
    expect(await raw3('ZPOPMAX', 'zq', '1')).toBe('*1\r\n*2\r\n$1\r\nc\r\n,3\r\n');
    expect(await io.exists('zq')).toBe(0);
    await io.zadd('zq', 1, 'a', 2, 'b', 3, 'c');
    expect(await io.zpopmax('zq', 2)).toEqual(['c', '3', 'b', '2']);
    expect(await raw3('ZPOPMIN', 'zq', '5')).toBe('*1\r\n*2\r\n$1\r\na\r\n,1\r\n');
    expect(await io.exists('zq')).toBe(0);
    expect(await raw2('ZPOPMIN', 'zq')).toBe('*0\r\n');
    expect(await raw3('ZPOPMIN', 'zq', '3')).toBe('*0\r\n');
    await io.zadd('zq', 1, 'a');
    expect(await raw3('ZPOPMIN', 'zq', '0')).toBe('*0\r\n');
    expect(await io.zcard('zq')).toBe(1);
    expect(await err('ZPOPMIN', 'zq', '-1')).toBe('ERR value is out of range, must be positive');
    expect(await err('ZPOPMIN', 'zq', 'x')).toBe('ERR value is out of range, must be positive');
    expect(await err('ZPOPMAX', 'zq', '1', '2')).toBe('ERR syntax error');
    await io.set('zq-str', 'v');
    expect(await err('ZPOPMIN', 'zq-str')).toMatch(/^WRONGTYPE/);
  });

  it('ZMPOP picks the first non-empty key and replies [key, [[member, score]...]]', async () => {
    await io.zadd('{m}1', 1, 'a', 2, 'b', 3, 'c', 4, 'd');
    expect(await raw2('ZMPOP', '2', '{m}none', '{m}1', 'MIN')).toBe('*2\r\n$4\r\n{m}1\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n');
    expect(await raw3('ZMPOP', '1', '{m}1', 'max', 'COUNT', '2')).toBe('*2\r\n$4\r\n{m}1\r\n*2\r\n*2\r\n$1\r\nd\r\n,4\r\n*2\r\n$1\r\nc\r\n,3\r\n');
    expect(await io.call('zmpop', 1, '{m}1', 'MIN', 'COUNT', 10)).toEqual(['{m}1', [['b', '2']]]);
    expect(await io.exists('{m}1')).toBe(0);
    expect(await raw2('ZMPOP', '2', '{m}none', '{m}1', 'MIN')).toBe('*-1\r\n');
    expect(await raw3('ZMPOP', '1', '{m}1', 'MIN')).toBe('_\r\n');
    const cases: [string[], string][] = [
      [['ZMPOP', '0', '{m}1', 'MIN'], 'ERR numkeys should be greater than 0'],
      [['ZMPOP', 'x', '{m}1', 'MIN'], 'ERR numkeys should be greater than 0'],
      [['ZMPOP', '5', '{m}1', 'MIN'], 'ERR syntax error'],
      [['ZMPOP', '1', '{m}1', 'MIDDLE'], 'ERR syntax error'],
      [['ZMPOP', '1', '{m}1', 'MIN', 'COUNT'], 'ERR syntax error'],
      [['ZMPOP', '1', '{m}1', 'MIN', 'COUNT', '0'], 'ERR count should be greater than 0'],
      [['ZMPOP', '1', '{m}1', 'MIN', 'COUNT', '-2'], 'ERR count should be greater than 0'],
      [['ZMPOP', '1', '{m}1', 'MIN', 'COUNT', '1', 'COUNT', '1'], 'ERR syntax error'],
      [['ZMPOP', '1', '{m}1'], "ERR wrong number of arguments for 'zmpop' command"],
    ];
    for (const [args, msg] of cases) expect(await err(...args), args.join(' ')).toBe(msg);
    await io.set('{m}str', 'v');
    await io.zadd('{m}2', 1, 'a');
    expect(await err('ZMPOP', '2', '{m}str', '{m}2', 'MIN')).toMatch(/^WRONGTYPE/);
    expect(await io.zcard('{m}2')).toBe(1);
  });
});

describe('ZRANDMEMBER', () => {
  beforeAll(async () => {
    const args: (string | number)[] = [];
    for (let i = 0; i < 20; i++) args.push(i, `m${i}`);
    await io.zadd('zrand', ...args);
  });

  it('single member, distinct members for positive counts, repeats for negative counts', async () => {
    const all = new Set(await io.zrange('zrand', 0, -1));
    for (let i = 0; i < 10; i++) expect(all.has((await io.zrandmember('zrand')) as string)).toBe(true);
    for (const n of [1, 5, 15, 19]) {
      const got = (await io.zrandmember('zrand', n)) as string[];
      expect(got.length).toBe(n);
      expect(new Set(got).size).toBe(n);
      for (const m of got) expect(all.has(m)).toBe(true);
    }
    const whole = (await io.zrandmember('zrand', 100)) as string[];
    expect(new Set(whole)).toEqual(all);
    const many = (await io.zrandmember('zrand', -200)) as string[];
    expect(many.length).toBe(200);
    for (const m of many) expect(all.has(m)).toBe(true);
    expect(new Set(many).size).toBeLessThan(200);
    expect(await io.zrandmember('zrand', 0)).toEqual([]);
  });

  it('WITHSCORES pairs each member with its own score (RESP2 flat, RESP3 pairs)', async () => {
    const flat = (await io.zrandmember('zrand', -6, 'WITHSCORES')) as string[];
    expect(flat.length).toBe(12);
    for (let i = 0; i < flat.length; i += 2) expect(`m${flat[i + 1]}`).toBe(flat[i]);
    const r3 = await raw3('ZRANDMEMBER', 'zrand', '1', 'WITHSCORES');
    expect(r3).toMatch(/^\*1\r\n\*2\r\n\$\d+\r\nm(\d+)\r\n,(\d+)\r\n$/);
    const m = /m(\d+)\r\n,(\d+)/.exec(r3)!;
    expect(m[1]).toBe(m[2]);
  });

  it('missing keys and errors', async () => {
    expect(await raw2('ZRANDMEMBER', 'zrand-none')).toBe('$-1\r\n');
    expect(await raw3('ZRANDMEMBER', 'zrand-none')).toBe('_\r\n');
    expect(await raw3('ZRANDMEMBER', 'zrand-none', '5', 'WITHSCORES')).toBe('*0\r\n');
    expect(await err('ZRANDMEMBER', 'zrand', 'x')).toBe('ERR value is not an integer or out of range');
    expect(await err('ZRANDMEMBER', 'zrand', '1', 'foo')).toBe('ERR syntax error');
    expect(await err('ZRANDMEMBER', 'zrand', '1', 'WITHSCORES', 'x')).toBe('ERR syntax error');
    expect(await err('ZRANDMEMBER', 'zrand', '-9223372036854775808')).toBe(
      'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
    );
    expect(await err('ZRANDMEMBER', 'zrand', '9223372036854775807', 'WITHSCORES')).toBe('ERR value is out of range');
    expect(await err('ZRANDMEMBER', 'zrand', '4611686018427387904', 'WITHSCORES')).toBe('ERR value is out of range');
    expect((await raw2('ZRANDMEMBER', 'zrand', '4611686018427387903', 'WITHSCORES')).startsWith('*40\r\n')).toBe(true);
    await io.set('zrand-str', 'v');
    expect(await err('ZRANDMEMBER', 'zrand-str')).toMatch(/^WRONGTYPE/);
  });
});

describe('ZSCAN', () => {
  it('small sets come back whole in one call, whatever the cursor and COUNT', async () => {
    await io.zadd('zsc', 1, 'a', 2.5, 'b', 3, 'c');
    expect(await io.zscan('zsc', 0, 'COUNT', 1)).toEqual(['0', ['a', '1', 'b', '2.5', 'c', '3']]);
    expect(await io.zscan('zsc', 0, 'MATCH', '[ab]')).toEqual(['0', ['a', '1', 'b', '2.5']]);
    expect(await raw3('ZSCAN', 'zsc', '0', 'MATCH', 'c')).toBe('*2\r\n$1\r\n0\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n');
    expect(await io.zscan('zsc-none', 0)).toEqual(['0', []]);
  });

  it('big sets are walked with the cursor; every member is seen exactly once', async () => {
    const args: (string | number)[] = [];
    for (let i = 0; i < 1000; i++) args.push(i / 2, `e${i}`);
    await io.zadd('zscb', ...args);
    const seen = new Map<string, string>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, items] = await io.zscan('zscb', cursor, 'COUNT', 100);
      for (let i = 0; i < items.length; i += 2) {
        expect(seen.has(items[i])).toBe(false);
        seen.set(items[i], items[i + 1]);
      }
      cursor = next;
      calls++;
    } while (cursor !== '0');
    expect(calls).toBeGreaterThan(5);
    expect(seen.size).toBe(1000);
    for (const [m, s] of seen) expect(Number(s)).toBe(Number(m.slice(1)) / 2);
    const matched: string[] = [];
    cursor = '0';
    do {
      const [next, items] = await io.zscan('zscb', cursor, 'MATCH', 'e1??');
      for (let i = 0; i < items.length; i += 2) matched.push(items[i]);
      cursor = next;
    } while (cursor !== '0');
    expect(matched.length).toBe(100);
  });

  it('errors', async () => {
    expect(await err('ZSCAN', 'zsc', 'x')).toBe('ERR invalid cursor');
    expect(await err('ZSCAN', 'zsc', ' 1')).toBe('ERR invalid cursor');
    expect(await err('ZSCAN', 'zsc', '18446744073709551616')).toBe('ERR invalid cursor');
    expect(await err('ZSCAN', 'zsc', '0', 'COUNT', '0')).toBe('ERR syntax error');
    expect(await err('ZSCAN', 'zsc', '0', 'COUNT', 'x')).toBe('ERR value is not an integer or out of range');
    expect(await err('ZSCAN', 'zsc', '0', 'TYPE', 'zset')).toBe('ERR syntax error');
    expect(await err('ZSCAN', 'zsc', '0', 'MATCH')).toBe('ERR syntax error');
    // Options of a missing key are not even looked at (Redis replies the empty scan first).
    expect(await raw2('ZSCAN', 'zsc-none', '0', 'COUNT', '0')).toBe('*2\r\n$1\r\n0\r\n*0\r\n');
    await io.set('zsc-str', 'v');
    expect(await err('ZSCAN', 'zsc-str', '0')).toMatch(/^WRONGTYPE/);
  });
});

describe('side effects', () => {
  it('keyspace events carry Redis event names', async () => {
    const sub = new Redis({ port: node.port });
    const events: string[] = [];
    await sub.psubscribe('__keyevent@0__:*');
    sub.on('pmessage', (_p, ch: string, key: string) => {
      if (key.startsWith('ev')) events.push(`${ch.slice('__keyevent@0__:'.length)} ${key}`);
    });
    const script: (string | number)[][] = [
      ['zadd', 'ev', 1, 'a', 2, 'b', 3, 'c', 4, 'd', 5, 'e'],
      ['zadd', 'ev', 'NX', 1, 'a'], // no change: no event
      ['zincrby', 'ev', 1, 'a'],
      ['zadd', 'ev', 'INCR', 1, 'a'],
      ['zrem', 'ev', 'a'],
      ['zrem', 'ev', 'zzz'], // no event
      ['zremrangebyrank', 'ev', 0, 0],
      ['zremrangebyscore', 'ev', 3, 3],
      ['zadd', 'ev', 0, 'x'],
      ['zremrangebylex', 'ev', '-', '+'],
      ['zadd', 'ev', 1, 'a', 2, 'b'],
      ['zpopmin', 'ev'],
      ['zpopmax', 'ev'],
      ['zadd', 'ev', 1, 'a'],
      ['zunionstore', 'ev2', 1, 'ev'],
      ['zinterstore', 'ev2', 1, 'ev'],
      ['zdiffstore', 'ev2', 1, 'ev'],
      ['zrangestore', 'ev2', 'ev', 0, -1],
      ['zunionstore', 'ev2', 1, 'ev-none'],
      ['zmpop', 1, 'ev', 'MIN'],
      ['zadd', 'ev', 1, 'a'],
      ['zrem', 'ev', 'a'],
    ];
    for (const cmd of script) await io.call(String(cmd[0]), ...cmd.slice(1));
    await io.ping();
    await new Promise((r) => setTimeout(r, 100));
    sub.disconnect();
    // Sequence recorded from redis-server 7.0 for the same script.
    expect(events).toEqual([
      'zadd ev',
      'zincr ev',
      'zincr ev',
      'zrem ev',
      'zremrangebyrank ev',
      'zremrangebyscore ev',
      'zadd ev',
      'zremrangebylex ev',
      'del ev',
      'zadd ev',
      'zpopmin ev',
      'zpopmax ev',
      'del ev',
      'zadd ev',
      'zunionstore ev2',
      'zinterstore ev2',
      'zdiffstore ev2',
      'zrangestore ev2',
      'del ev2',
      'zpopmin ev',
      'del ev',
      'zadd ev',
      'zrem ev',
      'del ev',
    ]);
  });

  it('writes invalidate WATCH; no-op writes do not', async () => {
    await io.zadd('zw', 1, 'a');
    const other = new Redis({ port: node.port });
    await other.watch('zw');
    await io.zadd('zw', 'NX', 5, 'a'); // no change
    expect(await other.multi().zscore('zw', 'a').exec()).toEqual([[null, '1']]);
    await other.watch('zw');
    await io.zincrby('zw', 1, 'a');
    expect(await other.multi().zscore('zw', 'a').exec()).toBeNull();
    await other.watch('zw');
    await io.zpopmin('zw');
    expect(await other.multi().zcard('zw').exec()).toBeNull();
    other.disconnect();
  });

  it('memory accounting follows the set as it grows and shrinks', async () => {
    const used = async () => Number(/used_memory:(\d+)/.exec(await io.info('memory'))![1]);
    const before = await used();
    const args: (string | number)[] = [];
    for (let i = 0; i < 20000; i++) args.push(i, `member-with-some-length-${i}`);
    await io.zadd('zmem', ...args);
    const grown = await used();
    expect(grown - before).toBeGreaterThan(20000 * 40);
    await io.zremrangebyrank('zmem', 0, 9999);
    const half = await used();
    expect(half).toBeLessThan(grown - 10000 * 30);
    await io.zpopmin('zmem', 10000);
    expect(await io.exists('zmem')).toBe(0);
    expect(await used()).toBeLessThan(before + 100_000);
  });
});

describe('a big set against a model', () => {
  it('ranks, ranges, counts and pops agree with a sorted array', async () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const model = new Map<string, number>();
    const pipe = io.pipeline();
    for (let i = 0; i < 3000; i++) {
      const m = `k${Math.floor(rnd() * 2500)}`;
      const s = Math.floor(rnd() * 200) / 4;
      model.set(m, s);
      pipe.zadd('zbig', s, m);
    }
    await pipe.exec();
    const sorted = [...model].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    expect(await io.zcard('zbig')).toBe(sorted.length);
    const all = await io.zrange('zbig', 0, -1, 'WITHSCORES');
    expect(all).toEqual(sorted.flatMap(([m, s]) => [m, String(s)]));
    for (const i of [0, 1, 500, 1000, sorted.length - 1]) {
      expect(await io.zrank('zbig', sorted[i][0])).toBe(i);
      expect(await io.zrevrank('zbig', sorted[i][0])).toBe(sorted.length - 1 - i);
    }
    expect(await io.zrange('zbig', 100, 110)).toEqual(sorted.slice(100, 111).map((e) => e[0]));
    expect(await io.zrevrange('zbig', 5, 9)).toEqual(sorted.slice().reverse().slice(5, 10).map((e) => e[0]));
    const inRange = sorted.filter(([, s]) => s > 10 && s <= 20);
    expect(await io.zcount('zbig', '(10', 20)).toBe(inRange.length);
    expect(await io.zrangebyscore('zbig', '(10', 20, 'LIMIT', 7, 30)).toEqual(inRange.slice(7, 37).map((e) => e[0]));
    expect(await io.zrevrangebyscore('zbig', 20, '(10', 'LIMIT', 7, 30)).toEqual(inRange.slice().reverse().slice(7, 37).map((e) => e[0]));
    expect(await io.zpopmin('zbig', 50)).toEqual(sorted.slice(0, 50).flatMap(([m, s]) => [m, String(s)]));
    expect(await io.zpopmax('zbig', 50)).toEqual(sorted.slice(-50).reverse().flatMap(([m, s]) => [m, String(s)]));
    expect(await io.zremrangebyscore('zbig', 10, 20)).toBe(sorted.slice(50, -50).filter(([, s]) => s >= 10 && s <= 20).length);
  });
});

describe('real clients', () => {
  it('node-redis over RESP2 and RESP3', async () => {
    for (const RESP of [2, 3] as const) {
      const cl = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP });
      await cl.connect();
      const key = `nr${RESP}`;
      expect(await cl.zAdd(key, [{ score: 1, value: 'a' }, { score: 2.5, value: 'b' }])).toBe(2);
      expect(await cl.zRangeWithScores(key, 0, -1)).toEqual([
        { value: 'a', score: 1 },
        { value: 'b', score: 2.5 },
      ]);
      expect(await cl.zScore(key, 'b')).toBe(2.5);
      expect(await cl.zRank(key, 'b')).toBe(1);
      expect(await cl.zPopMin(key)).toEqual({ value: 'a', score: 1 });
      expect(await cl.zCard(key)).toBe(1);
      await cl.quit();
    }
  });

  it('redis-cli', () => {
    expect(redisCli(node.port, ['zadd', 'cli', '1', 'a', '2', 'b']).stdout).toBe('2');
    expect(redisCli(node.port, ['zrange', 'cli', '0', '-1', 'withscores']).stdout).toBe('a\n1\nb\n2');
    expect(redisCli(node.port, ['-3', 'zscore', 'cli', 'b']).stdout).toBe('2');
    expect(redisCli(node.port, ['zadd', 'cli', 'xx', 'nx', '1', 'a']).stdout).toBe('ERR XX and NX options at the same time are not compatible');
  });
});

// ------------------------------------------------------------------------------------------------
// Differential run against redis-server.

type Reply = { t: string; v: string | Reply[] | null };

/** Parse one RESP reply into a tree (doubles and numeric bulks are compared numerically later). */
function parseReply(s: string, p = 0): [Reply, number] {
  const eol = s.indexOf('\r\n', p);
  const t = s[p];
  const head = s.slice(p + 1, eol);
  if ('+-:_#,('.includes(t)) return [{ t, v: head }, eol + 2];
  if (t === '$' || t === '=' || t === '!') {
    const n = Number(head);
    if (n < 0) return [{ t, v: null }, eol + 2];
    return [{ t, v: s.slice(eol + 2, eol + 2 + n) }, eol + 4 + n];
  }
  let n = Number(head);
  if (n < 0) return [{ t, v: null }, eol + 2];
  if (t === '%') n *= 2;
  const items: Reply[] = [];
  let q = eol + 2;
  for (let i = 0; i < n; i++) {
    const [r, next] = parseReply(s, q);
    items.push(r);
    q = next;
  }
  return [{ t, v: items }, q];
}

function num(s: string): number | null {
  if (s === 'inf' || s === '+inf') return Infinity;
  if (s === '-inf') return -Infinity;
  if (!/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return null;
  return Number(s);
}

/** Equal replies, where two doubles (or numeric bulk strings, RESP2 scores) may differ in formatting. */
function sameReply(a: Reply, b: Reply): boolean {
  if (a.t !== b.t) return false;
  if (Array.isArray(a.v) || Array.isArray(b.v)) {
    if (!Array.isArray(a.v) || !Array.isArray(b.v) || a.v.length !== b.v.length) return false;
    return a.v.every((x, i) => sameReply(x, (b.v as Reply[])[i]));
  }
  if (a.v === b.v) return true;
  if ((a.t === ',' || a.t === '$') && typeof a.v === 'string' && typeof b.v === 'string') {
    const x = num(a.v);
    const y = num(b.v);
    return x !== null && y !== null && x === y;
  }
  return false;
}

function diffScript(): string[][] {
  const s: string[][] = [];
  const add = (line: string) => s.push(line.split(' ').map((x) => (x === "''" ? '' : x)));
  for (const line of [
    'zadd d1 1 a 2 b 3 c 4 d 5 e',
    'zadd d1 nx 10 a 6 f',
    'zadd d1 xx ch 11 a 7 g',
    'zadd d1 gt ch 5 a 20 b',
    'zadd d1 lt ch 5 a 20 c',
    'zadd d1 incr 0.1 a',
    'zadd d1 incr 0.2 a',
    'zadd d1 nx incr 1 a',
    'zadd d1 incr 1 a 2 b',
    'zadd d1 nx xx 1 a',
    'zadd d1 gt lt 1 a',
    'zadd d1 1e3 ex 0x1p4 hx .5 dot -0 negz +inf pinf',
    'zadd d1 abc a',
    'zadd d1 1e400 a',
    'zincrby d1 0.3 dot',
    'zincrby d1 -inf pinf',
    'zincrby d1 nx m',
    'zrange d1 0 -1 withscores',
    'zrange d1 -3 -1 withscores',
    'zrange d1 0 2 rev',
    'zrange d1 (1 +inf byscore withscores',
    'zrange d1 +inf (1 byscore rev limit 1 3 withscores',
    'zrange d1 0 -1 limit 0 1',
    'zrange d1 - + bylex withscores',
    'zrangebyscore d1 -inf 5 withscores limit 2 2',
    'zrevrangebyscore d1 5 -inf withscores',
    'zrevrange d1 0 3 withscores',
    'zrangebyscore d1 a b',
    'zscore d1 a',
    'zscore d1 dot',
    'zmscore d1 a nope dot',
    'zrank d1 c',
    'zrevrank d1 c',
    'zrank d1 nope',
    'zcard d1',
    'zcount d1 (1 (5',
    'zcount d1 -inf +inf',
    "zcount d1 '' 5",
    'zadd dl 0 a 0 b 0 c 0 d 0 e 0 f 0 g',
    'zlexcount dl [b (f',
    'zrangebylex dl (b + limit 1 2',
    'zrevrangebylex dl + [c',
    'zrange dl [c [a bylex rev limit 0 2',
    'zrangestore dd d1 1 4',
    'zrange dd 0 -1 withscores',
    'zrangestore dd d1 0 -1 withscores',
    'zrangestore dd nokey 0 -1',
    'zrange dd 0 -1',
    'zrem d1 a nope b',
    'zremrangebyrank d1 0 0',
    'zremrangebyscore d1 (5 10',
    'zremrangebylex dl [b [c',
    'zrange d1 0 -1 withscores',
    'zrange dl 0 -1',
    'zadd u1 1 a 2 b 3 c',
    'zadd u2 10 b 20 c 30 d',
    'sadd us b d x',
    'zunion 3 u1 u2 us withscores',
    'zunion 2 u1 u2 weights 0.5 3 aggregate max withscores',
    'zinter 3 u1 u2 us withscores',
    'zinter 2 u1 u2 weights 1 -1 aggregate min withscores',
    'zdiff 2 u1 u2 withscores',
    'zdiff 2 us u1 withscores',
    'zintercard 2 u1 u2 limit 1',
    'zunionstore ud 2 u1 u2 weights 2 1',
    'zrange ud 0 -1 withscores',
    'zinterstore ud 2 u1 nokey',
    'zrange ud 0 -1',
    'zunion 0 u1',
    'zunion 2 u1 u2 weights 1',
    'zunion 2 u1 u2 weights 1 x',
    'zintercard 1 u1 limit -1',
    'zpopmin u1',
    'zpopmax u2 2',
    'zpopmin u1 0',
    'zpopmin u1 -1',
    'zmpop 2 nokey u2 min count 5',
    'zmpop 1 u2 min',
    'zmpop 0 u2 min',
    'zmpop 1 u1 min count 0',
    'bzpopmin u1 0',
    'bzpopmax nokey u1 0.01',
    'bzpopmin nokey 0.01',
    'bzmpop 0.01 2 nokey u1 max count 3',
    'bzpopmin u1 -1',
    'bzpopmin u1 x',
    'set str v',
    'zadd str 1 a',
    'zrange str 0 -1',
    'zunion 2 u1 str',
    'bzpopmin str 0',
    'zrandmember nokey',
    'zrandmember nokey 3',
    'zrandmember d1 0',
    'zrandmember d1 -9223372036854775808',
    'zscan d1 0 count 0',
    'zscan d1 x',
    'zscan nokey 0',
    'zscan dl 0 match [a-d]',
  ]) {
    add(line);
  }
  // A set big enough for Redis's skiplist encoding.
  const big = ['zadd', 'big'];
  for (let i = 0; i < 300; i++) big.push(String((i * 7919) % 1000 / 8), `m${i}`);
  s.push(big);
  for (const line of [
    'zrange big 10 20 withscores',
    'zrange big 50 (60 byscore withscores limit 3 5',
    'zrevrange big 0 9 withscores',
    'zrank big m17',
    'zcount big 10 20',
    'zpopmin big 3',
    'zpopmax big',
    'zremrangebyrank big 100 199',
    'zcard big',
    'zunionstore big2 2 big d1',
    'zrange big2 0 9 withscores',
    'zrandmember big 1000 withscores',
  ]) {
    add(line);
  }
  return s;
}

describe('differential: the same script on redis-server', () => {
  let real: RealRedis;
  beforeAll(async () => {
    real = await startRealRedis();
  });
  afterAll(async () => {
    await real?.stop();
  });

  for (const proto of ['2', '3']) {
    it(`RESP${proto} replies match (scores numerically)`, async () => {
      const other = await startNode();
      const ours = await RawConn.open({ port: other.port });
      const theirs = await RawConn.open({ path: real.path });
      await theirs.send([['FLUSHALL']]);
      if (proto === '3') {
        await ours.send([['HELLO', '3']]);
        await theirs.send([['HELLO', '3']]);
      }
      const script = diffScript();
      const [a, b] = await Promise.all([ours.send(script), theirs.send(script)]);
      const diffs: string[] = [];
      for (let i = 0; i < script.length; i++) {
        if (!sameReply(parseReply(a[i])[0], parseReply(b[i])[0])) {
          diffs.push(`${script[i].slice(0, 8).join(' ')}\n  ours:  ${JSON.stringify(a[i]).slice(0, 300)}\n  redis: ${JSON.stringify(b[i]).slice(0, 300)}`);
        }
      }
      ours.close();
      theirs.close();
      await other.stop();
      expect(diffs).toEqual([]);
      expect(script.length).toBeGreaterThan(100);
    });
  }
});
