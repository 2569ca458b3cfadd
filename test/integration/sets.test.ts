/**
 * Set commands end to end: replies and errors through ioredis, node-redis (RESP2/RESP3), redis-cli
 * and raw RESP, SPOP/SRANDMEMBER on large sets, SSCAN guarantees, redis-benchmark, and a differential
 * run of a command script against a real redis-server (raw replies and keyspace notifications must be
 * identical).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { redisCli, startNode, type NodeHandle } from '../helpers/node';
import { Config } from '../../cluster-node/src/server/config';
import { Server } from '../../cluster-node/src/server/server';
import { Raw, startRealRedis, parseFrame, runScript, type Step } from '../helpers/script-diff';


// ------------------------------------------------------------------------------------- tests

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

function bulkSet(reply: string): string[] {
  const f = parseFrame(reply).f;
  return f.kids.map((k) => k.raw.slice(k.raw.indexOf('\r\n') + 2, -2)).sort();
}

describe('set commands', () => {
  let node: NodeHandle;
  let io: Redis;
  let raw2: Raw;
  let raw3: Raw;
  beforeAll(async () => {
    node = await startNode();
    io = new Redis({ port: node.port, lazyConnect: true, enableReadyCheck: false });
    await io.connect();
    raw2 = await Raw.open(node.port, 2);
    raw3 = await Raw.open(node.port, 3);
  });
  afterAll(() => {
    io.disconnect();
    raw2.close();
    raw3.close();
  });

  it('SADD/SREM/SCARD/SISMEMBER/SMISMEMBER/SMEMBERS', async () => {
    expect(await io.sadd('s1', 'a', 'b', 'c', 'a')).toBe(3);
    expect(await io.sadd('s1', 'c', 'd')).toBe(1);
    expect(await io.scard('s1')).toBe(4);
    expect(await io.scard('s1-missing')).toBe(0);
    expect(await io.sismember('s1', 'a')).toBe(1);
    expect(await io.sismember('s1', 'zz')).toBe(0);
    expect(await io.sismember('s1-missing', 'a')).toBe(0);
    expect(await io.smismember('s1', 'a', 'zz', 'd')).toEqual([1, 0, 1]);
    expect(await io.smismember('s1-missing', 'a')).toEqual([0]);
    expect((await io.smembers('s1')).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(await io.smembers('s1-missing')).toEqual([]);
    expect(redisCli(node.port, ['smembers', 's1']).stdout.split('\n').sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(await io.type('s1')).toBe('set');
    expect(await io.srem('s1', 'a', 'zz', 'a')).toBe(1);
    expect(await io.srem('s1-missing', 'a')).toBe(0);
    // RESP3: SMEMBERS is a set, SMISMEMBER/SISMEMBER integers.
    expect(await raw3.cmd('SMEMBERS', 's1-missing')).toBe('~0\r\n');
    expect(await raw2.cmd('SMEMBERS', 's1-missing')).toBe('*0\r\n');
    const m3 = await raw3.cmd('SMEMBERS', 's1');
    expect(m3.startsWith('~3\r\n')).toBe(true);
    expect(bulkSet(m3)).toEqual(['b', 'c', 'd']);
    expect(await raw3.cmd('SMISMEMBER', 's1', 'b', 'zz')).toBe('*2\r\n:1\r\n:0\r\n');
    expect(await raw3.cmd('SISMEMBER', 's1', 'b')).toBe(':1\r\n');
    // Binary-safe members; the key goes away with its last member (and its TTL with it).
    const bin = Buffer.from([0, 255, 13, 10]);
    expect(await io.sadd('s1', bin)).toBe(1);
    expect(await io.sismember('s1', bin)).toBe(1);
    expect(await io.expire('s1', 100)).toBe(1);
    expect(await io.srem('s1', 'b')).toBe(1);
    expect(await io.ttl('s1')).toBeGreaterThan(0);
    expect(await io.srem('s1', 'b', 'c', 'd', bin)).toBe(3);
    expect(await io.exists('s1')).toBe(0);
    expect(await io.sadd('s1', 'x')).toBe(1);
    expect(await io.ttl('s1')).toBe(-1);
    for (const RESP of [2, 3] as const) {
      const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP });
      await c.connect();
      expect(await c.sAdd('s1-nr', ['p', 'q'])).toBe(2);
      const members = await c.sMembers('s1-nr');
      expect([...members].sort()).toEqual(['p', 'q']);
      expect(await c.sIsMember('s1-nr', 'p')).toBeTruthy();
      await c.del('s1-nr');
      c.destroy();
    }
  });

  it('arity errors and WRONGTYPE for every set command', async () => {
    expect(await raw2.cmd('SADD', 's2')).toBe("-ERR wrong number of arguments for 'sadd' command\r\n");
    expect(await raw2.cmd('SMOVE', 'a', 'b')).toBe("-ERR wrong number of arguments for 'smove' command\r\n");
    expect(await raw2.cmd('SINTERCARD', '1')).toBe("-ERR wrong number of arguments for 'sintercard' command\r\n");
    expect(await raw2.cmd('SPOP', 's2', '1', '2')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('SRANDMEMBER', 's2', '1', '2')).toBe('-ERR syntax error\r\n');
    await io.set('sstr', 'v');
    await io.sadd('sok', 'a');
    const cmds = [
      ['SADD', 'sstr', 'a'],
      ['SREM', 'sstr', 'a'],
      ['SMEMBERS', 'sstr'],
      ['SISMEMBER', 'sstr', 'a'],
      ['SMISMEMBER', 'sstr', 'a'],
      ['SCARD', 'sstr'],
      ['SPOP', 'sstr'],
      ['SPOP', 'sstr', '2'],
      ['SRANDMEMBER', 'sstr'],
      ['SRANDMEMBER', 'sstr', '2'],
      ['SMOVE', 'sstr', 'sok', 'a'],
      ['SMOVE', 'sok', 'sstr', 'a'],
      ['SINTER', 'sok', 'sstr'],
      ['SINTER', 'nokey', 'sstr'],
      ['SINTERCARD', '2', 'sok', 'sstr'],
      ['SINTERSTORE', 'dst', 'sok', 'sstr'],
      ['SUNION', 'sok', 'sstr'],
      ['SUNIONSTORE', 'dst', 'sstr'],
      ['SDIFF', 'sok', 'sstr'],
      ['SDIFF', 'nokey', 'sstr'],
      ['SDIFFSTORE', 'dst', 'sok', 'sstr'],
      ['SSCAN', 'sstr', '0'],
    ];
    for (const c of cmds) expect(await raw2.cmd(...c), c.join(' ')).toBe(`-${WRONGTYPE}\r\n`);
    expect(await io.smembers('sok')).toEqual(['a']);
    expect(await io.exists('dst')).toBe(0);
    // SMOVE from a missing source answers 0 before looking at the destination's type.
    expect(await io.smove('nokey', 'sstr', 'a')).toBe(0);
  });

  it('SPOP: single, count, whole set, errors, RESP3 set replies', async () => {
    await io.sadd('s3', 'a', 'b', 'c', 'd', 'e');
    const one = await io.spop('s3');
    expect(['a', 'b', 'c', 'd', 'e']).toContain(one);
    expect(await io.sismember('s3', one!)).toBe(0);
    const two = (await io.spop('s3', 2)) as string[];
    expect(two.length).toBe(2);
    expect(await io.scard('s3')).toBe(2);
    const rest = await io.smembers('s3');
    expect(new Set([one, ...two, ...rest]).size).toBe(5);
    expect(((await io.spop('s3', 10)) as string[]).sort()).toEqual(rest.sort());
    expect(await io.exists('s3')).toBe(0);
    expect(await io.spop('s3')).toBeNull();
    expect(await raw3.cmd('SPOP', 's3')).toBe('_\r\n');
    expect(await raw3.cmd('SPOP', 's3', '3')).toBe('~0\r\n');
    expect(await raw2.cmd('SPOP', 's3', '3')).toBe('*0\r\n');
    await io.sadd('s3', 'x', 'y');
    expect(await raw3.cmd('SPOP', 's3', '0')).toBe('~0\r\n');
    expect((await raw3.cmd('SPOP', 's3', '1')).startsWith('~1\r\n')).toBe(true);
    expect(await raw2.cmd('SPOP', 's3', '-1')).toBe('-ERR value is out of range, must be positive\r\n');
    expect(await raw2.cmd('SPOP', 's3', 'x')).toBe('-ERR value is out of range, must be positive\r\n');
    expect(await raw2.cmd('SPOP', 'nokey', '-1')).toBe('-ERR value is out of range, must be positive\r\n');
    expect(await io.scard('s3')).toBe(1);
  });

  it('SPOP on large sets: uniform enough, exact membership, interleaved with SADD/SREM/SMOVE', async () => {
    const members: string[] = [];
    for (let i = 0; i < 1000; i++) members.push(`m${i}`);
    await io.sadd('s4', ...members);
    // SRANDMEMBER sampling covers most members.
    const sample = new Set((await io.srandmember('s4', -3000)) as string[]);
    expect(sample.size).toBeGreaterThan(900);
    const live = new Set(members);
    const popped: string[] = [];
    for (let round = 0; round < 40; round++) {
      const p = (await io.spop('s4', 10)) as string[];
      for (const m of p) {
        expect(live.delete(m), m).toBe(true);
        popped.push(m);
      }
      const single = (await io.spop('s4'))!;
      expect(live.delete(single), single).toBe(true);
      // Interleave other writes.
      await io.sadd('s4', `new${round}`, `m${round}`);
      live.add(`new${round}`);
      live.add(`m${round}`);
      const victim = [...live][round * 7 % live.size];
      expect(await io.srem('s4', victim)).toBe(1);
      live.delete(victim);
      if (round % 10 === 0) {
        const mv = [...live][0];
        expect(await io.smove('s4', 's4-other', mv)).toBe(1);
        live.delete(mv);
      }
      expect(await io.scard('s4')).toBe(live.size);
    }
    const rest = (await io.spop('s4', 100000)) as string[];
    expect(rest.sort()).toEqual([...live].sort());
    expect(await io.exists('s4')).toBe(0);
  });

  it('SRANDMEMBER: single, count, negative count, errors and shapes', async () => {
    await io.sadd('s5', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j');
    const all = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    expect(all).toContain(await io.srandmember('s5'));
    expect(await io.srandmember('s5-missing')).toBeNull();
    expect(await raw3.cmd('SRANDMEMBER', 's5-missing')).toBe('_\r\n');
    expect(await raw3.cmd('SRANDMEMBER', 's5-missing', '5')).toBe('*0\r\n');
    expect(await raw3.cmd('SRANDMEMBER', 's5', '0')).toBe('*0\r\n');
    for (const n of [1, 3, 4, 9]) {
      const r = (await io.srandmember('s5', n)) as string[];
      expect(r.length).toBe(n);
      expect(new Set(r).size).toBe(n);
      for (const m of r) expect(all).toContain(m);
    }
    expect(((await io.srandmember('s5', 20)) as string[]).sort()).toEqual(all);
    const neg = (await io.srandmember('s5', -25)) as string[];
    expect(neg.length).toBe(25);
    // RESP3: an array (not a set), even when the whole set is returned.
    expect((await raw3.cmd('SRANDMEMBER', 's5', '20')).startsWith('*10\r\n')).toBe(true);
    expect((await raw3.cmd('SRANDMEMBER', 's5', '-3')).startsWith('*3\r\n')).toBe(true);
    expect(await raw2.cmd('SRANDMEMBER', 's5', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await raw2.cmd('SRANDMEMBER', 's5', '-9223372036854775808')).toBe(
      '-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n',
    );
    expect(await io.scard('s5')).toBe(10);
  });

  it('SMOVE', async () => {
    await io.sadd('src', 'a', 'b');
    await io.sadd('dst', 'x');
    await io.expire('dst', 100);
    expect(await io.smove('src', 'dst', 'a')).toBe(1);
    expect(await io.smove('src', 'dst', 'zz')).toBe(0);
    expect(await io.smove('src', 'src', 'b')).toBe(1);
    expect(await io.smove('src', 'src', 'zz')).toBe(0);
    expect((await io.smembers('dst')).sort()).toEqual(['a', 'x']);
    expect(await io.ttl('dst')).toBeGreaterThan(0);
    await io.sadd('dst', 'b');
    expect(await io.smove('src', 'dst', 'b')).toBe(1); // already in dst: still 1, src emptied
    expect(await io.exists('src')).toBe(0);
    expect(await io.smove('dst', 'fresh', 'x')).toBe(1);
    expect(await io.smembers('fresh')).toEqual(['x']);
    expect(await io.ttl('fresh')).toBe(-1);
  });

  it('SINTER/SINTERCARD/SINTERSTORE', async () => {
    await io.sadd('i1', 'a', 'b', 'c', 'd');
    await io.sadd('i2', 'b', 'c', 'd', 'e');
    await io.sadd('i3', 'c', 'd', 'x');
    expect((await io.sinter('i1', 'i2', 'i3')).sort()).toEqual(['c', 'd']);
    expect((await io.sinter('i1', 'i1')).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(await io.sinter('i1', 'nokey')).toEqual([]);
    expect(await raw3.cmd('SINTER', 'i1', 'nokey')).toBe('~0\r\n');
    expect((await raw3.cmd('SINTER', 'i1', 'i3')).startsWith('~2\r\n')).toBe(true);
    expect(await io.call('SINTERCARD', '3', 'i1', 'i2', 'i3')).toBe(2);
    expect(await io.call('SINTERCARD', '2', 'i1', 'i2', 'LIMIT', '2')).toBe(2);
    expect(await io.call('SINTERCARD', '2', 'i1', 'i2', 'LIMIT', '0')).toBe(3);
    expect(await io.call('SINTERCARD', '2', 'i1', 'nokey')).toBe(0);
    expect(await raw2.cmd('SINTERCARD', '0', 'i1')).toBe('-ERR numkeys should be greater than 0\r\n');
    expect(await raw2.cmd('SINTERCARD', 'x', 'i1')).toBe('-ERR numkeys should be greater than 0\r\n');
    expect(await raw2.cmd('SINTERCARD', '3', 'i1')).toBe("-ERR Number of keys can't be greater than number of args\r\n");
    expect(await raw2.cmd('SINTERCARD', '1', 'i1', 'LIMIT', '-1')).toBe("-ERR LIMIT can't be negative\r\n");
    expect(await raw2.cmd('SINTERCARD', '1', 'i1', 'LIMIT', 'x')).toBe("-ERR LIMIT can't be negative\r\n");
    expect(await raw2.cmd('SINTERCARD', '1', 'i1', 'LIMIT')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('SINTERCARD', '1', 'i1', 'FOO', '1')).toBe('-ERR syntax error\r\n');
    // STORE: overwrites any type, drops the TTL; an empty result deletes the destination.
    await io.set('out', 'string');
    await io.expire('out', 100);
    expect(await io.sinterstore('out', 'i1', 'i2')).toBe(3);
    expect((await io.smembers('out')).sort()).toEqual(['b', 'c', 'd']);
    expect(await io.ttl('out')).toBe(-1);
    expect(await io.sinterstore('out', 'i1', 'nokey')).toBe(0);
    expect(await io.exists('out')).toBe(0);
    // The destination may be one of the sources.
    expect(await io.sinterstore('i1', 'i1', 'i3')).toBe(2);
    expect((await io.smembers('i1')).sort()).toEqual(['c', 'd']);
  });

  it('SUNION/SUNIONSTORE/SDIFF/SDIFFSTORE', async () => {
    await io.sadd('u1', 'a', 'b', 'c');
    await io.sadd('u2', 'c', 'd');
    expect((await io.sunion('u1', 'u2', 'nokey')).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(await io.sunion('nokey')).toEqual([]);
    expect(await raw3.cmd('SUNION', 'nokey')).toBe('~0\r\n');
    expect((await raw3.cmd('SUNION', 'u1', 'u2')).startsWith('~4\r\n')).toBe(true);
    expect((await io.sdiff('u1', 'u2', 'nokey')).sort()).toEqual(['a', 'b']);
    expect(await io.sdiff('u1', 'u1')).toEqual([]);
    expect(await io.sdiff('nokey', 'u1')).toEqual([]);
    expect((await raw3.cmd('SDIFF', 'u1', 'u2')).startsWith('~2\r\n')).toBe(true);
    expect(await io.sunionstore('u3', 'u1', 'u2')).toBe(4);
    expect(await io.sdiffstore('u4', 'u3', 'u2')).toBe(2);
    expect((await io.smembers('u4')).sort()).toEqual(['a', 'b']);
    expect(await io.sdiffstore('u4', 'u1', 'u3')).toBe(0);
    expect(await io.exists('u4')).toBe(0);
    expect(await io.sunionstore('u3', 'nokey')).toBe(0);
    expect(await io.exists('u3')).toBe(0);
    expect(await io.sunionstore('u1', 'u1', 'u2')).toBe(4);
  });

  it('SSCAN: small sets whole, large sets with the exactly-once guarantee, MATCH, errors', async () => {
    await io.sadd('sc1', 'a1', 'a2', 'b1');
    expect(await io.sscan('sc1', '0')).toEqual(['0', ['a1', 'a2', 'b1']]);
    expect(await io.sscan('sc1', '0', 'MATCH', 'a*', 'COUNT', '1')).toEqual(['0', ['a1', 'a2']]);
    expect(await raw3.cmd('SSCAN', 'sc1', '0', 'MATCH', 'b*')).toBe('*2\r\n$1\r\n0\r\n*1\r\n$2\r\nb1\r\n');
    expect(await raw2.cmd('SSCAN', 'nokey', '0')).toBe('*2\r\n$1\r\n0\r\n*0\r\n');
    expect(await raw2.cmd('SSCAN', 'sc1', '0', 'NOVALUES')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('SSCAN', 'sc1', '0', 'COUNT', '0')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('SSCAN', 'sc1', 'x')).toBe('-ERR invalid cursor\r\n');
    const members: string[] = [];
    for (let i = 0; i < 3000; i++) members.push(`e${i}`);
    await io.sadd('sc2', ...members);
    const seen = new Map<string, number>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, items] = await io.sscan('sc2', cursor, 'COUNT', '100');
      for (const m of items) seen.set(m, (seen.get(m) ?? 0) + 1);
      if (calls === 5) {
        await io.srem('sc2', 'e0', 'e2999');
        await io.sadd('sc2', 'late');
        await io.spop('sc2', 10);
      }
      cursor = next;
      calls++;
    } while (cursor !== '0');
    const now = new Set(await io.smembers('sc2'));
    for (const m of now) if (m !== 'late') expect(seen.get(m), m).toBe(1);
    expect(seen.has('e2999')).toBe(false);
    expect(seen.get('late')).toBe(1);
    const matched: string[] = [];
    cursor = '0';
    do {
      const [next, items] = await io.sscan('sc2', cursor, 'MATCH', 'e1??', 'COUNT', '500');
      matched.push(...items);
      cursor = next;
    } while (cursor !== '0');
    expect(matched.length).toBe([...now].filter((m) => /^e1..$/.test(m)).length);
  });

  it('WATCH sees set writes; no-op writes do not touch the key', async () => {
    const other = new Redis({ port: node.port, enableReadyCheck: false });
    await io.sadd('sw', 'a');
    await io.watch('sw');
    await other.sadd('sw', 'a');
    await other.srem('sw', 'zz');
    await other.smove('sw', 'sw2', 'zz');
    expect(await io.multi().scard('sw').exec()).toEqual([[null, 1]]);
    await io.watch('sw');
    await other.spop('sw');
    expect(await io.multi().scard('sw').exec()).toBeNull();
    other.disconnect();
  });

  it('redis-benchmark -t hset,sadd,spop completes', () => {
    const r = spawnSync('redis-benchmark', ['-p', String(node.port), '-t', 'hset,sadd,spop', '-n', '20000', '-q'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    for (const t of ['HSET', 'SADD', 'SPOP']) expect(r.stdout).toMatch(new RegExp(`${t}: [0-9.]+ requests per second`));
  }, 70_000);
});

// ------------------------------------------------------------------------ differential test

const DIFF_SCRIPT: Step[] = [
  ['COMMAND', 'INFO', 'SADD', 'SREM', 'SMEMBERS', 'SISMEMBER', 'SMISMEMBER', 'SCARD', 'SPOP', 'SRANDMEMBER', 'SMOVE', 'SINTER', 'SINTERCARD', 'SINTERSTORE', 'SUNION', 'SUNIONSTORE', 'SDIFF', 'SDIFFSTORE', 'SSCAN'],
  ['COMMAND', 'GETKEYS', 'SINTERCARD', '2', 'a', 'b', 'LIMIT', '1'],
  ['SADD', 's', 'a', 'b', 'c', 'a'],
  ['SADD', 's', 'c', 'd'],
  ['SADD', 's', 'd'],
  ['SADD', 's'],
  ['SADD', 'n', '1', '2', '3', '10', '-5'],
  ['SCARD', 's'],
  ['SCARD', 'nokey'],
  ['SISMEMBER', 's', 'a'],
  ['SISMEMBER', 's', 'zz'],
  ['SISMEMBER', 'nokey', 'a'],
  ['SMISMEMBER', 's', 'a', 'zz', 'b'],
  ['SMISMEMBER', 'nokey', 'a'],
  { cmd: ['SMEMBERS', 's'], how: 'set' },
  { cmd: ['SMEMBERS', 'n'], how: 'set' },
  ['SMEMBERS', 'nokey'],
  ['SREM', 's', 'a', 'zz', 'a'],
  ['SREM', 'nokey', 'a'],
  ['SADD', 'one', 'x'],
  ['SPOP', 'one'],
  ['SPOP', 'one'],
  ['SPOP', 'nokey'],
  ['SADD', 'one', 'x'],
  ['SPOP', 'one', '1'],
  ['SADD', 'two', 'x', 'y'],
  { cmd: ['SPOP', 'two', '5'], how: 'set' },
  ['SPOP', 'two', '5'],
  ['SPOP', 's', '0'],
  ['SPOP', 's', '-1'],
  ['SPOP', 's', 'x'],
  ['SPOP', 's', '1', '2'],
  ['SADD', 'one', 'x'],
  ['SRANDMEMBER', 'one'],
  ['SRANDMEMBER', 'one', '-3'],
  ['SRANDMEMBER', 'one', '1'],
  ['SRANDMEMBER', 'nokey'],
  ['SRANDMEMBER', 'nokey', '3'],
  ['SRANDMEMBER', 's', '0'],
  { cmd: ['SRANDMEMBER', 's', '10'], how: 'set' },
  ['SRANDMEMBER', 's', 'x'],
  ['SRANDMEMBER', 's', '-9223372036854775808'],
  ['SRANDMEMBER', 's', '1', '2'],
  ['SADD', 'm1', 'a', 'b'],
  ['SADD', 'm2', 'x'],
  ['SMOVE', 'm1', 'm2', 'a'],
  ['SMOVE', 'm1', 'm2', 'zz'],
  ['SMOVE', 'm1', 'm1', 'b'],
  ['SMOVE', 'm1', 'm2', 'b'],
  ['SMOVE', 'm2', 'm3', 'x'],
  ['SMOVE', 'nokey', 'm2', 'x'],
  ['SADD', 'm2', 'a'],
  ['SMOVE', 'm3', 'm2', 'x'],
  { cmd: ['SMEMBERS', 'm2'], how: 'set' },
  ['EXISTS', 'm1', 'm3'],
  ['SADD', 'i1', 'a', 'b', 'c', 'd'],
  ['SADD', 'i2', 'b', 'c', 'd', 'e'],
  ['SADD', 'i3', 'c', 'd', 'x'],
  { cmd: ['SINTER', 'i1', 'i2', 'i3'], how: 'set' },
  { cmd: ['SINTER', 'i1', 'i1'], how: 'set' },
  ['SINTER', 'i1', 'nokey'],
  ['SINTER', 'nokey', 'i1'],
  ['SINTERCARD', '3', 'i1', 'i2', 'i3'],
  ['SINTERCARD', '2', 'i1', 'i2', 'LIMIT', '2'],
  ['SINTERCARD', '2', 'i1', 'i2', 'limit', '0'],
  ['SINTERCARD', '2', 'i1', 'nokey'],
  ['SINTERCARD', '0', 'i1'],
  ['SINTERCARD', 'x', 'i1'],
  ['SINTERCARD', '-1', 'i1'],
  ['SINTERCARD', '3', 'i1'],
  ['SINTERCARD', '1', 'i1', 'LIMIT', '-1'],
  ['SINTERCARD', '1', 'i1', 'LIMIT', 'x'],
  ['SINTERCARD', '1', 'i1', 'LIMIT'],
  ['SINTERCARD', '1', 'i1', 'FOO', '1'],
  ['SET', 'out', 'str'],
  ['EXPIRE', 'out', '1000'],
  ['SINTERSTORE', 'out', 'i1', 'i2'],
  ['TTL', 'out'],
  { cmd: ['SMEMBERS', 'out'], how: 'set' },
  ['SINTERSTORE', 'out', 'i1', 'nokey'],
  ['SINTERSTORE', 'out', 'i1', 'nokey'],
  ['EXISTS', 'out'],
  ['SINTERSTORE', 'i1', 'i1', 'i3'],
  { cmd: ['SUNION', 'i1', 'i2', 'nokey'], how: 'set' },
  ['SUNION', 'nokey'],
  ['SUNIONSTORE', 'u', 'i1', 'i2', 'i3'],
  ['SUNIONSTORE', 'u', 'nokey'],
  ['SUNIONSTORE', 'u', 'nokey'],
  { cmd: ['SDIFF', 'i2', 'i1', 'nokey'], how: 'set' },
  ['SDIFF', 'i2', 'i2'],
  ['SDIFF', 'nokey', 'i2'],
  ['SDIFFSTORE', 'd', 'i2', 'i3'],
  { cmd: ['SMEMBERS', 'd'], how: 'set' },
  ['SDIFFSTORE', 'd', 'i3', 'i3'],
  ['SDIFFSTORE', 'd', 'i3', 'i3'],
  { cmd: ['SSCAN', 'n', '0'], how: 'scanset' },
  { cmd: ['SSCAN', 'n', '0', 'MATCH', '1*'], how: 'scanset' },
  { cmd: ['SSCAN', 'i2', '0', 'COUNT', '100'], how: 'scanset' },
  ['SSCAN', 'nokey', '0'],
  ['SSCAN', 'n', '0', 'COUNT', '0'],
  ['SSCAN', 'n', '0', 'COUNT', 'x'],
  ['SSCAN', 'n', 'x'],
  ['SSCAN', 'n', '0', 'MATCH'],
  ['SSCAN', 'n', '0', 'TYPE', 'set'],
  ['SET', 'str', 'v'],
  ['SADD', 'str', 'a'],
  ['SREM', 'str', 'a'],
  ['SMEMBERS', 'str'],
  ['SCARD', 'str'],
  ['SISMEMBER', 'str', 'a'],
  ['SMISMEMBER', 'str', 'a'],
  ['SPOP', 'str'],
  ['SPOP', 'str', '1'],
  ['SPOP', 'str', '-1'],
  ['SRANDMEMBER', 'str'],
  ['SRANDMEMBER', 'str', '1'],
  ['SMOVE', 'str', 'i2', 'a'],
  ['SMOVE', 'i2', 'str', 'b'],
  ['SMOVE', 'nokey', 'str', 'b'],
  ['SINTER', 'nokey', 'str'],
  ['SINTERCARD', '2', 'i2', 'str'],
  ['SINTERSTORE', 'x', 'i2', 'str'],
  ['SUNION', 'i2', 'str'],
  ['SDIFF', 'nokey', 'str'],
  ['SDIFFSTORE', 'x', 'str'],
  ['SSCAN', 'str', '0'],
  ['EXISTS', 'x'],
];

describe('differential: set commands vs a real redis-server', () => {
  let node: NodeHandle;
  let real: { port: number; stop: () => Promise<void> };
  beforeAll(async () => {
    [node, real] = await Promise.all([startNode(['--notify-keyspace-events', 'KEA']), startRealRedis()]);
    const r = await Raw.open(real.port);
    await r.cmd('CONFIG', 'SET', 'notify-keyspace-events', 'KEA');
    r.close();
  });
  afterAll(async () => {
    await real?.stop();
  });

  for (const proto of [2, 3] as const) {
    it(`same raw replies and notifications (RESP${proto})`, async () => {
      for (const port of [node.port, real.port]) {
        const r = await Raw.open(port);
        await r.cmd('FLUSHALL');
        r.close();
      }
      const ours = await runScript(node.port, proto, DIFF_SCRIPT);
      const theirs = await runScript(real.port, proto, DIFF_SCRIPT);
      expect(ours.join('\n')).toBe(theirs.join('\n'));
    });
  }
});

// ------------------------------------------------------------- propagation and memory (in-process)

describe('sets: propagation and memory accounting (in-process server)', () => {
  let server: Server;
  let c: Redis;
  const log: string[] = [];
  const take = (): string[] => log.splice(0, log.length);
  beforeAll(async () => {
    server = new Server(Config.fromArgs(['--port', '0', '--bind', '127.0.0.1', '--loglevel', 'warning']));
    await server.listen();
    server.propagators.push((db, argv) => log.push([db, ...argv].join(' ')));
    c = new Redis({ port: server.boundPort(), host: '127.0.0.1', enableReadyCheck: false });
  });
  afterAll(async () => {
    c?.disconnect();
    await server?.close();
  });

  it('SPOP propagates as SREM per member (DEL for the whole set); other writes as sent; no-ops not at all', async () => {
    await c.sadd('p', 'a', 'b', 'c', 'd', 'e');
    await c.srem('p', 'e', 'zz');
    expect(take()).toEqual(['0 sadd p a b c d e', '0 srem p e zz']);
    const one = await c.spop('p');
    expect(take()).toEqual([`0 SREM p ${one}`]);
    const two = (await c.spop('p', 2)) as string[];
    expect(take()).toEqual(two.map((m) => `0 SREM p ${m}`));
    await c.spop('p', 10);
    expect(take()).toEqual(['0 DEL p']);
    await c.sadd('q', 'x');
    await c.smove('q', 'r', 'x');
    await c.sunionstore('u', 'r');
    await c.sinterstore('i', 'r', 'missing');
    await c.sdiffstore('d', 'r');
    expect(take()).toEqual(['0 sadd q x', '0 smove q r x', '0 sunionstore u r', '0 sdiffstore d r']);
    await c.sadd('r', 'x');
    await c.srem('r', 'zz');
    await c.spop('missing');
    await c.spop('missing', 3);
    await c.spop('r', 0);
    await c.smove('r', 'u', 'zz');
    await c.sinterstore('i', 'r', 'missing');
    await c.smembers('r');
    await c.srandmember('r', 3);
    expect(take()).toEqual([]);
  });

  it('memory accounting follows in-place changes and returns to the baseline', async () => {
    const db = server.dbs[0];
    const base = db.used;
    const members: string[] = [];
    for (let i = 0; i < 3000; i++) members.push(`member-${i}-${'y'.repeat(30)}`);
    await c.sadd('mem', ...members);
    const full = db.used;
    expect(full - base).toBeGreaterThan(3000 * 40);
    await c.spop('mem', 1000);
    expect(db.used).toBeLessThan(full);
    await c.srem('mem', ...members.slice(0, 1500));
    await c.sunionstore('mem2', 'mem');
    expect(db.used).toBeGreaterThan(base);
    await c.spop('mem', 5000);
    await c.spop('mem2', 5000);
    expect(await c.exists('mem', 'mem2')).toBe(0);
    expect(db.used).toBe(base);
  });
});
