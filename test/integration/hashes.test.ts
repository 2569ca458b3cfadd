/**
 * Hash commands end to end: replies and errors through ioredis, node-redis (RESP2/RESP3), redis-cli
 * and raw RESP, HSCAN cursor guarantees, and a differential run of a command script against a real
 * redis-server (raw replies and keyspace notifications must be identical).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { redisCli, startNode, type NodeHandle } from '../helpers/node';
import { Config } from '../../cluster-node/src/server/config';
import { Server } from '../../cluster-node/src/server/server';
import { Raw, startRealRedis, runScript, type Step } from '../helpers/script-diff';


// ------------------------------------------------------------------------------------- tests

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

describe('hash commands', () => {
  let node: NodeHandle;
  let io: Redis;
  let raw2: Raw;
  let raw3: Raw;
  beforeAll(async () => {
    node = await startNode(['--notify-keyspace-events', 'KEA']);
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

  it('HSET/HMSET/HSETNX/HGET/HMGET/HLEN/HEXISTS/HSTRLEN', async () => {
    expect(await io.hset('h1', 'a', '1', 'b', '2')).toBe(2);
    expect(await io.hset('h1', 'a', 'x', 'c', '3')).toBe(1);
    expect(await io.hmset('h1', 'd', '4')).toBe('OK');
    expect(await io.hsetnx('h1', 'a', 'nope')).toBe(0);
    expect(await io.hsetnx('h1', 'e', 'héllo')).toBe(1);
    expect(await io.hget('h1', 'a')).toBe('x');
    expect(await io.hget('h1', 'e')).toBe('héllo');
    expect(await io.hget('h1', 'zz')).toBeNull();
    expect(await io.hget('h1-missing', 'a')).toBeNull();
    expect(await io.hmget('h1', 'a', 'zz', 'c')).toEqual(['x', null, '3']);
    expect(await io.hmget('h1-missing', 'a', 'b')).toEqual([null, null]);
    expect(await io.hlen('h1')).toBe(5);
    expect(await io.hlen('h1-missing')).toBe(0);
    expect(await io.hexists('h1', 'c')).toBe(1);
    expect(await io.hexists('h1', 'zz')).toBe(0);
    expect(await io.hstrlen('h1', 'e')).toBe(6); // bytes, not characters
    expect(await io.hstrlen('h1', 'zz')).toBe(0);
    expect(await io.type('h1')).toBe('hash');
    // Binary-safe fields and values.
    const bin = Buffer.from([0, 255, 13, 10, 36]);
    expect(await io.hset('h1', bin, bin)).toBe(1);
    expect(await io.hgetBuffer('h1', bin)).toEqual(bin);
    // Raw replies: RESP2 and RESP3 nulls.
    expect(await raw2.cmd('HGET', 'h1', 'zz')).toBe('$-1\r\n');
    expect(await raw3.cmd('HGET', 'h1', 'zz')).toBe('_\r\n');
    expect(await raw3.cmd('HMGET', 'h1', 'a', 'zz')).toBe('*2\r\n$1\r\nx\r\n_\r\n');
  });

  it('arity and argument errors with Redis wording', async () => {
    expect(await raw2.cmd('HSET', 'h2', 'a')).toBe("-ERR wrong number of arguments for 'hset' command\r\n");
    expect(await raw2.cmd('HSET', 'h2', 'a', '1', 'b')).toBe("-ERR wrong number of arguments for 'hset' command\r\n");
    expect(await raw2.cmd('HMSET', 'h2', 'a', '1', 'b')).toBe("-ERR wrong number of arguments for 'hmset' command\r\n");
    expect(await raw2.cmd('HGET', 'h2')).toBe("-ERR wrong number of arguments for 'hget' command\r\n");
    expect(await raw2.cmd('HSETNX', 'h2', 'a')).toBe("-ERR wrong number of arguments for 'hsetnx' command\r\n");
    expect(await raw2.cmd('HDEL', 'h2')).toBe("-ERR wrong number of arguments for 'hdel' command\r\n");
    expect(await raw2.cmd('HRANDFIELD')).toBe("-ERR wrong number of arguments for 'hrandfield' command\r\n");
    expect(redisCli(node.port, ['hlen']).stdout.trim()).toBe("ERR wrong number of arguments for 'hlen' command");
    expect(await io.exists('h2')).toBe(0);
  });

  it('WRONGTYPE for every hash command on a string key (arity errors first)', async () => {
    await io.set('hstr', 'v');
    const cmds = [
      ['HSET', 'hstr', 'a', '1'],
      ['HMSET', 'hstr', 'a', '1'],
      ['HSETNX', 'hstr', 'a', '1'],
      ['HGET', 'hstr', 'a'],
      ['HMGET', 'hstr', 'a'],
      ['HDEL', 'hstr', 'a'],
      ['HLEN', 'hstr'],
      ['HSTRLEN', 'hstr', 'a'],
      ['HEXISTS', 'hstr', 'a'],
      ['HKEYS', 'hstr'],
      ['HVALS', 'hstr'],
      ['HGETALL', 'hstr'],
      ['HINCRBY', 'hstr', 'a', '1'],
      ['HINCRBYFLOAT', 'hstr', 'a', '1'],
      ['HRANDFIELD', 'hstr'],
      ['HRANDFIELD', 'hstr', '2'],
      ['HSCAN', 'hstr', '0'],
    ];
    for (const c of cmds) expect(await raw2.cmd(...c), c.join(' ')).toBe(`-${WRONGTYPE}\r\n`);
    expect(await raw2.cmd('HSET', 'hstr', 'a')).toBe("-ERR wrong number of arguments for 'hset' command\r\n");
    expect(await raw2.cmd('HINCRBY', 'hstr', 'a', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await raw2.cmd('HSCAN', 'hstr', 'x')).toBe('-ERR invalid cursor\r\n');
    expect(await io.get('hstr')).toBe('v');
  });

  it('HDEL returns the count and deletes the key with its last field', async () => {
    await io.hset('h3', 'a', '1', 'b', '2', 'c', '3');
    expect(await io.hdel('h3', 'a', 'zz', 'a')).toBe(1);
    expect(await io.hdel('h3-missing', 'a')).toBe(0);
    expect(await io.expire('h3', 100)).toBe(1);
    expect(await io.hdel('h3', 'b')).toBe(1);
    expect(await io.ttl('h3')).toBeGreaterThan(0); // in-place change keeps the TTL
    expect(await io.hdel('h3', 'b', 'c', 'zz')).toBe(1);
    expect(await io.exists('h3')).toBe(0);
    expect(await io.hlen('h3')).toBe(0);
    // A new hash under the same name has no TTL left over.
    await io.hset('h3', 'x', '1');
    expect(await io.ttl('h3')).toBe(-1);
  });

  it('HKEYS/HVALS/HGETALL in RESP2 and RESP3 (map), empty for a missing key', async () => {
    await io.hset('h4', 'f1', 'v1', 'f2', 'v2');
    expect((await io.hkeys('h4')).sort()).toEqual(['f1', 'f2']);
    expect((await io.hvals('h4')).sort()).toEqual(['v1', 'v2']);
    expect(await io.hgetall('h4')).toEqual({ f1: 'v1', f2: 'v2' });
    expect(await io.hgetall('h4-missing')).toEqual({});
    expect(await io.hkeys('h4-missing')).toEqual([]);
    expect(await raw2.cmd('HGETALL', 'h4')).toBe('*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n');
    expect(await raw3.cmd('HGETALL', 'h4')).toBe('%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n');
    expect(await raw3.cmd('HGETALL', 'h4-missing')).toBe('%0\r\n');
    expect(await raw2.cmd('HGETALL', 'h4-missing')).toBe('*0\r\n');
    expect(await raw3.cmd('HKEYS', 'h4-missing')).toBe('*0\r\n');
    for (const RESP of [2, 3] as const) {
      const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP });
      await c.connect();
      expect(await c.hGetAll('h4')).toEqual({ f1: 'v1', f2: 'v2' });
      expect(await c.hSet('h4', { f3: 'v3' })).toBe(1);
      expect(await c.hLen('h4')).toBe(3);
      expect(await c.hDel('h4', 'f3')).toBe(1);
      c.destroy();
    }
  });

  it('HINCRBY is exact over the whole int64 range', async () => {
    expect(await io.hincrby('h5', 'n', 5)).toBe(5);
    expect(await io.hincrby('h5', 'n', -12)).toBe(-7);
    await io.hset('h5', 'big', '9223372036854775800');
    expect(await raw2.cmd('HINCRBY', 'h5', 'big', '7')).toBe(':9223372036854775807\r\n');
    expect(await raw2.cmd('HINCRBY', 'h5', 'big', '1')).toBe('-ERR increment or decrement would overflow\r\n');
    expect(await io.hget('h5', 'big')).toBe('9223372036854775807');
    expect(await raw2.cmd('HINCRBY', 'h5', 'big', '-9223372036854775807')).toBe(':0\r\n');
    await io.hset('h5', 'min', '-9223372036854775808');
    expect(await raw2.cmd('HINCRBY', 'h5', 'min', '-1')).toBe('-ERR increment or decrement would overflow\r\n');
    expect(await raw2.cmd('HINCRBY', 'h5', 'min', '9223372036854775807')).toBe(':-1\r\n');
    expect(await raw2.cmd('HINCRBY', 'h5', 'n', '9223372036854775808')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await raw2.cmd('HINCRBY', 'h5', 'n', '1.5')).toBe('-ERR value is not an integer or out of range\r\n');
    for (const bad of ['abc', ' 1', '1 ', '007', '-0', '+1', '', '1.0']) {
      await io.hset('h5', 'bad', bad);
      expect(await raw2.cmd('HINCRBY', 'h5', 'bad', '1'), bad).toBe('-ERR hash value is not an integer\r\n');
    }
    expect(await io.hget('h5', 'bad')).toBe('1.0');
    // A missing key is created.
    expect(await io.hincrby('h5-new', 'x', -3)).toBe(-3);
    expect(await io.type('h5-new')).toBe('hash');
  });

  it('HINCRBYFLOAT computes in long double like Redis', async () => {
    const steps: [string, string, string][] = [
      ['a', '0.1', '0.1'],
      ['a', '0.2', '0.3'],
      ['b', '10.5', '10.5'],
      ['b', '0.1', '10.6'],
      ['b', '-10.6', '0'],
      ['c', '5.0e3', '5000'],
      ['c', '2.0e-2', '5000.02000000000000002'],
      ['d', '0x10', '16'],
      ['d', '0x1p-3', '16.125'],
      ['e', '3.14159265358979323846264338327950288', '3.14159265358979324'],
      ['f', '0.000000000000000001', '0'],
      ['g', '-0.000000000000000001', '0'],
      ['h', '1.7976931348623157e308', '179769313486231569995921046774104434048386446944329178485314420765176628523124396354701868608387085564428793419425520689308708363451136055357897278026477617073498977686288394835618163294045594434929537447290627480669417384648879122776218333598953852832103282504751611691208117720159985926376802466863339536384'],
      ['i', '1e400', '10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880'],
      ['j', '-.5', '-0.5'],
      ['j', '+5.', '4.5'],
      ['k', '123456789012345678901234567890', '123456789012345678899921813504'],
    ];
    for (const [f, incr, want] of steps) {
      expect(await raw2.cmd('HINCRBYFLOAT', 'h6', f, incr), `${f} += ${incr}`).toBe(`$${want.length}\r\n${want}\r\n`);
      expect(await io.hget('h6', f)).toBe(want);
    }
    // RESP3 replies a bulk string too (not a double).
    expect(await raw3.cmd('HINCRBYFLOAT', 'h6', 'a', '1')).toBe('$3\r\n1.3\r\n');
    // Integer-looking stored values are fine.
    await io.hset('h6', 'int', '17');
    expect(await io.hincrbyfloat('h6', 'int', '0.5')).toBe('17.5');
    const errs: [string, string][] = [
      ['inf', '-ERR value is NaN or Infinity\r\n'],
      ['-infinity', '-ERR value is NaN or Infinity\r\n'],
      ['nan', '-ERR value is not a valid float\r\n'],
      ['abc', '-ERR value is not a valid float\r\n'],
      [' 1', '-ERR value is not a valid float\r\n'],
      ['1 ', '-ERR value is not a valid float\r\n'],
      ['', '-ERR value is not a valid float\r\n'],
      ['1e', '-ERR value is not a valid float\r\n'],
      ['1e5000', '-ERR value is not a valid float\r\n'],
      ['1e-5000', '-ERR value is not a valid float\r\n'],
    ];
    for (const [incr, want] of errs) expect(await raw2.cmd('HINCRBYFLOAT', 'h6', 'a', incr), incr).toBe(want);
    await io.hset('h6', 'txt', 'abc');
    expect(await raw2.cmd('HINCRBYFLOAT', 'h6', 'txt', '1')).toBe('-ERR hash value is not a float\r\n');
    await io.hset('h6', 'huge', '1e4932');
    expect(await raw2.cmd('HINCRBYFLOAT', 'h6', 'huge', '1e4932')).toBe('-ERR increment would produce NaN or Infinity\r\n');
    await io.hset('h6', 'inf', 'inf');
    expect(await raw2.cmd('HINCRBYFLOAT', 'h6', 'inf', '1')).toBe('-ERR increment would produce NaN or Infinity\r\n');
    expect(await io.hget('h6', 'a')).toBe('1.3');
  });

  it('HRANDFIELD: single, count, negative count, WITHVALUES, RESP2/RESP3 shapes and errors', async () => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < 10; i++) fields[`f${i}`] = `v${i}`;
    await io.hset('h7', fields);
    const names = Object.keys(fields);
    for (let i = 0; i < 20; i++) expect(names).toContain(await io.hrandfield('h7'));
    expect(await io.hrandfield('h7-missing')).toBeNull();
    expect(await raw3.cmd('HRANDFIELD', 'h7-missing')).toBe('_\r\n');
    expect(await raw3.cmd('HRANDFIELD', 'h7-missing', '3')).toBe('*0\r\n');
    expect(await raw3.cmd('HRANDFIELD', 'h7', '0')).toBe('*0\r\n');
    // Positive count: distinct fields, at most the hash size.
    const five = (await io.hrandfield('h7', 5)) as string[];
    expect(new Set(five).size).toBe(5);
    for (const f of five) expect(names).toContain(f);
    const all = (await io.hrandfield('h7', 100)) as string[];
    expect(all.sort()).toEqual([...names].sort());
    const eight = (await io.hrandfield('h7', 8)) as string[];
    expect(new Set(eight).size).toBe(8);
    // Negative count: exactly |count| fields, repetitions allowed.
    const many = (await io.hrandfield('h7', -50)) as string[];
    expect(many.length).toBe(50);
    for (const f of many) expect(names).toContain(f);
    // WITHVALUES: flat pairs in RESP2, nested pairs in RESP3.
    const wv = (await io.hrandfield('h7', -6, 'WITHVALUES')) as string[];
    expect(wv.length).toBe(12);
    for (let i = 0; i < wv.length; i += 2) expect(fields[wv[i]]).toBe(wv[i + 1]);
    const r3 = await raw3.cmd('HRANDFIELD', 'h7', '2', 'WITHVALUES');
    expect(r3).toMatch(/^\*2\r\n\*2\r\n\$2\r\nf(\d)\r\n\$2\r\nv\1\r\n\*2\r\n\$2\r\nf(\d)\r\n\$2\r\nv\2\r\n$/);
    const r2 = await raw2.cmd('HRANDFIELD', 'h7', '-1', 'withvalues');
    expect(r2).toMatch(/^\*2\r\n\$2\r\nf(\d)\r\n\$2\r\nv\1\r\n$/);
    const c3 = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await c3.connect();
    const pairs = (await c3.sendCommand(['HRANDFIELD', 'h7', '3', 'WITHVALUES'])) as unknown as string[][];
    expect(pairs.length).toBe(3);
    for (const [f, v] of pairs) expect(fields[f]).toBe(v);
    c3.destroy();
    // Errors.
    expect(await raw2.cmd('HRANDFIELD', 'h7', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await raw2.cmd('HRANDFIELD', 'h7-missing', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await raw2.cmd('HRANDFIELD', 'h7', '1', 'WITHSCORES')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('HRANDFIELD', 'h7', '1', 'WITHVALUES', 'x')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('HRANDFIELD', 'h7', '-9223372036854775808')).toBe(
      '-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n',
    );
    expect(await raw2.cmd('HRANDFIELD', 'h7', '4611686018427387904', 'WITHVALUES')).toBe('-ERR value is out of range\r\n');
    expect(await raw2.cmd('HRANDFIELD', 'h7', '-4611686018427387904', 'WITHVALUES')).toBe('-ERR value is out of range\r\n');
    expect(await raw2.cmd('HRANDFIELD', 'h7', '4611686018427387903', 'WITHVALUES')).toMatch(/^\*20\r\n/);
  });

  it('HRANDFIELD on a large hash is uniform-ish and follows writes', async () => {
    const big: string[] = [];
    for (let i = 0; i < 1000; i++) big.push(`k${i}`, String(i));
    await io.hset('h8', ...big);
    const seen = new Set<string>();
    const sample = (await io.hrandfield('h8', -3000)) as string[];
    for (const f of sample) seen.add(f);
    expect(seen.size).toBeGreaterThan(900); // 3000 draws over 1000 fields: ~950 distinct expected
    // After deleting most fields, only live ones come back.
    const del: string[] = [];
    for (let i = 0; i < 995; i++) del.push(`k${i}`);
    expect(await io.hdel('h8', ...del)).toBe(995);
    const rest = (await io.hrandfield('h8', -200)) as string[];
    for (const f of rest) expect(['k995', 'k996', 'k997', 'k998', 'k999']).toContain(f);
    await io.hset('h8', 'fresh', 'x');
    const after = new Set((await io.hrandfield('h8', -300)) as string[]);
    expect(after.has('fresh')).toBe(true);
    expect(((await io.hrandfield('h8', 4)) as string[]).length).toBe(4);
  });

  it('HSCAN: small hashes whole, MATCH, COUNT, NOVALUES, errors', async () => {
    await io.hset('h9', 'a1', '1', 'a2', '2', 'b1', '3');
    expect(await io.hscan('h9', '0')).toEqual(['0', ['a1', '1', 'a2', '2', 'b1', '3']]);
    expect(await io.hscan('h9', '0', 'MATCH', 'a*')).toEqual(['0', ['a1', '1', 'a2', '2']]);
    expect(await io.hscan('h9', '0', 'COUNT', '1')).toEqual(['0', ['a1', '1', 'a2', '2', 'b1', '3']]);
    expect(await raw2.cmd('HSCAN', 'h9', '0', 'NOVALUES', 'MATCH', '*1')).toBe('*2\r\n$1\r\n0\r\n*2\r\n$2\r\na1\r\n$2\r\nb1\r\n');
    expect(await raw3.cmd('HSCAN', 'h9', '0', 'MATCH', 'b*')).toBe('*2\r\n$1\r\n0\r\n*2\r\n$2\r\nb1\r\n$1\r\n3\r\n');
    expect(await raw2.cmd('HSCAN', 'h9-missing', '0')).toBe('*2\r\n$1\r\n0\r\n*0\r\n');
    expect(await raw2.cmd('HSCAN', 'h9-missing', '0', 'COUNT', '0')).toBe('*2\r\n$1\r\n0\r\n*0\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', '')).toMatch(/^\*2\r\n\$1\r\n0\r\n\*6\r\n/);
    expect(await raw2.cmd('HSCAN', 'h9', '0', 'COUNT', '0')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', '0', 'COUNT', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', '0', 'MATCH')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', '0', 'TYPE', 'hash')).toBe('-ERR syntax error\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', 'abc')).toBe('-ERR invalid cursor\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', ' 0')).toBe('-ERR invalid cursor\r\n');
    expect(await raw2.cmd('HSCAN', 'h9', '18446744073709551616')).toBe('-ERR invalid cursor\r\n');
  });

  it('HSCAN of a large hash: every field present for the whole scan comes back exactly once', async () => {
    const args: string[] = [];
    for (let i = 0; i < 2000; i++) args.push(`f${i}`, `v${i}`);
    await io.hset('h10', ...args);
    const seen = new Map<string, number>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, items] = await io.hscan('h10', cursor, 'COUNT', '50');
      expect(items.length % 2).toBe(0);
      for (let i = 0; i < items.length; i += 2) {
        seen.set(items[i], (seen.get(items[i]) ?? 0) + 1);
        expect(items[i + 1]).toBe(items[i].replace('f', 'v'));
      }
      if (calls === 3) {
        // Meanwhile: delete some visited and some unvisited fields, add new ones.
        await io.hdel('h10', 'f0', 'f1', 'f1500', 'f1501');
        await io.hset('h10', 'fnew1', 'vnew1', 'fnew2', 'vnew2');
      }
      cursor = next;
      calls++;
      expect(Number.isSafeInteger(Number(cursor))).toBe(true);
    } while (cursor !== '0');
    expect(calls).toBeGreaterThan(30);
    for (let i = 2; i < 2000; i++) if (i !== 1500 && i !== 1501) expect(seen.get(`f${i}`), `f${i}`).toBe(1);
    expect(seen.has('f1500')).toBe(false);
    expect(seen.get('fnew1')).toBe(1);
  });

  it('HSCAN cursors survive eviction of their iterator (position resume) and work with node-redis', async () => {
    const args: string[] = [];
    for (let i = 0; i < 500; i++) args.push(`g${i}`, `${i}`);
    await io.hset('h11', ...args);
    const [first, items] = await io.hscan('h11', '0', 'COUNT', '100');
    const seen = new Set<string>();
    for (let i = 0; i < items.length; i += 2) seen.add(items[i]);
    // Start many other scans so that the first one's cached iterator is evicted.
    for (let k = 0; k < 300; k++) await io.hscan('h11', '0', 'COUNT', '1');
    let cursor = first;
    do {
      const [next, more] = await io.hscan('h11', cursor, 'COUNT', '100');
      for (let i = 0; i < more.length; i += 2) seen.add(more[i]);
      cursor = next;
    } while (cursor !== '0');
    expect(seen.size).toBe(500);
    // node-redis (which parses cursors) iterates it fully too.
    const c = createClient({ socket: { port: node.port, host: '127.0.0.1' } });
    await c.connect();
    const got = new Set<string>();
    let cur = '0';
    do {
      const r = await c.hScan('h11', cur, { COUNT: 64 });
      for (const e of r.entries) got.add(e.field);
      cur = String(r.cursor);
    } while (cur !== '0');
    expect(got.size).toBe(500);
    c.destroy();
  });

  it('WATCH is triggered by hash writes, and not by no-op writes', async () => {
    const other = new Redis({ port: node.port, enableReadyCheck: false });
    await io.hset('hw', 'a', '1');
    await io.watch('hw');
    await other.hsetnx('hw', 'a', '2'); // no-op
    await other.hdel('hw', 'zz'); // no-op
    expect(await io.multi().hget('hw', 'a').exec()).toEqual([[null, '1']]);
    await io.watch('hw');
    await other.hincrbyfloat('hw', 'a', '1');
    expect(await io.multi().hget('hw', 'a').exec()).toBeNull();
    other.disconnect();
  });
});

// ------------------------------------------------------------------------ differential test

const DIFF_SCRIPT: Step[] = [
  ['COMMAND', 'INFO', 'HSET', 'HSETNX', 'HGET', 'HMGET', 'HMSET', 'HDEL', 'HLEN', 'HSTRLEN', 'HEXISTS', 'HKEYS', 'HVALS', 'HGETALL', 'HINCRBY', 'HINCRBYFLOAT', 'HRANDFIELD', 'HSCAN'],
  ['COMMAND', 'GETKEYS', 'HSET', 'h', 'f', 'v'],
  ['HSET', 'h', 'a', '1', 'b', '2', 'c', '3'],
  ['HSET', 'h', 'a', '10', 'd', '4'],
  ['HSET', 'h', 'a'],
  ['HMSET', 'h', 'e', '5', 'f', '6'],
  ['HMSET', 'h', 'e'],
  ['HSETNX', 'h', 'a', 'x'],
  ['HSETNX', 'h', 'z', 'y'],
  ['HSETNX', 'newh', 'z', 'y'],
  ['HGET', 'h', 'a'],
  ['HGET', 'h', 'nope'],
  ['HGET', 'nokey', 'a'],
  ['HMGET', 'h', 'a', 'nope', 'b'],
  ['HMGET', 'nokey', 'a'],
  ['HLEN', 'h'],
  ['HLEN', 'nokey'],
  ['HSTRLEN', 'h', 'a'],
  ['HSTRLEN', 'h', 'nope'],
  ['HEXISTS', 'h', 'a'],
  ['HEXISTS', 'h', 'nope'],
  ['HEXISTS', 'nokey', 'a'],
  { cmd: ['HKEYS', 'h'], how: 'set' },
  { cmd: ['HVALS', 'h'], how: 'set' },
  { cmd: ['HGETALL', 'h'], how: 'pairs' },
  ['HGETALL', 'nokey'],
  ['HKEYS', 'nokey'],
  ['HVALS', 'nokey'],
  ['HDEL', 'h', 'a', 'nope', 'b'],
  ['HDEL', 'nokey', 'a'],
  ['HINCRBY', 'h', 'n', '5'],
  ['HINCRBY', 'h', 'n', '-7'],
  ['HINCRBY', 'h', 'n', 'x'],
  ['HINCRBY', 'h', 'c', '9223372036854775804'],
  ['HINCRBY', 'h', 'c', '1'],
  ['HINCRBY', 'h', 'c', '9223372036854775807'],
  ['HSET', 'h', 'm', '-9223372036854775808'],
  ['HINCRBY', 'h', 'm', '-1'],
  ['HINCRBY', 'h', 'm', '9223372036854775807'],
  ['HSET', 'h', 'lead', '007', 'sp', ' 1', 'neg0', '-0'],
  ['HINCRBY', 'h', 'lead', '1'],
  ['HINCRBY', 'h', 'sp', '1'],
  ['HINCRBY', 'h', 'neg0', '1'],
  ['HINCRBYFLOAT', 'h', 'lead', '1'],
  ['HINCRBYFLOAT', 'h', 'sp', '1'],
  ['HINCRBYFLOAT', 'h', 'neg0', '1'],
  ['HINCRBYFLOAT', 'h', 'n', '1.5'],
  ['HINCRBY', 'h', 'n', '1'],
  ['HINCRBYFLOAT', 'fl', 'x', '0.1'],
  ['HINCRBYFLOAT', 'fl', 'x', '0.2'],
  ['HINCRBYFLOAT', 'fl', 'x', '-0.3'],
  ['HINCRBYFLOAT', 'fl', 'y', '10.5'],
  ['HINCRBYFLOAT', 'fl', 'y', '0.1'],
  ['HINCRBYFLOAT', 'fl', 'y', '1e-17'],
  ['HINCRBYFLOAT', 'fl', 'y', '-1e20'],
  ['HINCRBYFLOAT', 'fl', 'z', '1e400'],
  ['HINCRBYFLOAT', 'fl', 'z', '-1e400'],
  ['HINCRBYFLOAT', 'fl', 'w', '3.0e3'],
  ['HINCRBYFLOAT', 'fl', 'w', '2.5e-3'],
  ['HINCRBYFLOAT', 'fl', 'v', '0x1p-3'],
  ['HINCRBYFLOAT', 'fl', 'v', '0X1.8P1'],
  ['HINCRBYFLOAT', 'fl', 'v', '1.5'],
  ['HINCRBYFLOAT', 'fl', 'u', '.5'],
  ['HINCRBYFLOAT', 'fl', 'u', '5.'],
  ['HINCRBYFLOAT', 'fl', 'u', '+.5e1'],
  ['HINCRBYFLOAT', 'fl', 'u', '1e-4950'],
  ['HINCRBYFLOAT', 'fl', 't', '1.7976931348623157e308'],
  ['HINCRBYFLOAT', 'fl', 't', '1.7976931348623157e308'],
  ['HINCRBYFLOAT', 'fl', 's', '0.000000000000000001'],
  ['HINCRBYFLOAT', 'fl', 'r', '-0.000000000000000006'],
  ['HINCRBYFLOAT', 'fl', 'q', '3.14159265358979323846264338327950288'],
  ['HINCRBYFLOAT', 'fl', 'q', '2.71828182845904523536028747135266250'],
  ['HINCRBYFLOAT', 'fl', 'p', '123456789012345678901234567890.123'],
  ['HINCRBYFLOAT', 'fl', 'o', '0.00000000000000000000000001'],
  ['HINCRBYFLOAT', 'fl', 'o', '1'],
  ['HINCRBYFLOAT', 'fl', 'k', '1e4932'],
  ['HINCRBYFLOAT', 'fl', 'k', '1e4932'],
  ['HINCRBYFLOAT', 'fl', 'j', '-1.1'],
  ['HINCRBYFLOAT', 'fl', 'j', '-2.2'],
  ['HINCRBYFLOAT', 'fl', 'u', 'inf'],
  ['HINCRBYFLOAT', 'fl', 'u', '-Infinity'],
  ['HINCRBYFLOAT', 'fl', 'u', 'nan'],
  ['HINCRBYFLOAT', 'fl', 'u', ' 1'],
  ['HINCRBYFLOAT', 'fl', 'u', '1 '],
  ['HINCRBYFLOAT', 'fl', 'u', ''],
  ['HINCRBYFLOAT', 'fl', 'u', '1e5000'],
  ['HINCRBYFLOAT', 'fl', 'u', '1e-5000'],
  ['HINCRBYFLOAT', 'fl', 'u', '0x'],
  ['HINCRBYFLOAT', 'fl', 'u', '1e'],
  ['HINCRBYFLOAT', 'fl', 'u', '--1'],
  ['HSET', 'fl', 'txt', 'abc', 'inf', 'inf'],
  ['HINCRBYFLOAT', 'fl', 'txt', '1'],
  ['HINCRBYFLOAT', 'fl', 'inf', '1'],
  { cmd: ['HGETALL', 'fl'], how: 'pairs' },
  ['HRANDFIELD', 'nokey'],
  ['HRANDFIELD', 'nokey', '3'],
  ['HRANDFIELD', 'nokey', '3', 'WITHVALUES'],
  ['HRANDFIELD', 'h', '0'],
  ['HRANDFIELD', 'h', '0', 'WITHVALUES'],
  { cmd: ['HRANDFIELD', 'h', '100'], how: 'set' },
  { cmd: ['HRANDFIELD', 'h', '100', 'WITHVALUES'], how: 'pairs' },
  ['HRANDFIELD', 'h', 'x'],
  ['HRANDFIELD', 'h', '1', '2'],
  ['HRANDFIELD', 'h', '1', 'WITHVALUES', 'x'],
  ['HRANDFIELD', 'h', '-9223372036854775808'],
  ['HRANDFIELD', 'h', '4611686018427387904', 'WITHVALUES'],
  ['HRANDFIELD', 'h', '-4611686018427387904', 'WITHVALUES'],
  ['HSET', 'one', 'only', 'v'],
  ['HRANDFIELD', 'one'],
  ['HRANDFIELD', 'one', '-3'],
  ['HRANDFIELD', 'one', '-2', 'WITHVALUES'],
  { cmd: ['HSCAN', 'h', '0'], how: 'scanpairs' },
  { cmd: ['HSCAN', 'h', '0', 'MATCH', '*e*', 'COUNT', '1'], how: 'scanpairs' },
  ['HSCAN', 'h', '0', 'COUNT', '0'],
  ['HSCAN', 'h', '0', 'COUNT', 'x'],
  ['HSCAN', 'h', 'x'],
  ['HSCAN', 'nokey', '0'],
  ['HSCAN', 'nokey', '0', 'COUNT', '0'],
  ['HSCAN', 'h', '0', 'FOO'],
  ['HSCAN', 'h', '0', 'MATCH'],
  ['HSCAN', 'h', '-1', 'COUNT', '-1'],
  ['SET', 'str', 'v'],
  ['HSET', 'str', 'a', '1'],
  ['HSET', 'str', 'a'],
  ['HGET', 'str', 'a'],
  ['HMGET', 'str', 'a'],
  ['HDEL', 'str', 'a'],
  ['HLEN', 'str'],
  ['HGETALL', 'str'],
  ['HINCRBY', 'str', 'a', '1'],
  ['HINCRBY', 'str', 'a', 'x'],
  ['HINCRBYFLOAT', 'str', 'a', '1'],
  ['HRANDFIELD', 'str'],
  ['HRANDFIELD', 'str', 'x'],
  ['HSCAN', 'str', '0'],
  ['HDEL', 'h', 'c', 'd', 'e', 'f', 'z', 'n', 'm', 'lead', 'sp', 'neg0'],
  ['EXISTS', 'h'],
  ['HSET', 'h', 'a', '1'],
  ['EXPIRE', 'h', '1000'],
  ['HSET', 'h', 'b', '2'],
  ['HDEL', 'h', 'a'],
  ['HINCRBY', 'h', 'b', '1'],
  ['TTL', 'h'],
  ['HDEL', 'h', 'b'],
  ['TTL', 'h'],
];

describe('differential: hash commands vs a real redis-server', () => {
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

describe('hashes: propagation and memory accounting (in-process server)', () => {
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

  it('writes propagate as sent, HINCRBYFLOAT as HSET with the result, no-ops and reads not at all', async () => {
    await c.hset('p', 'a', '1', 'b', '2');
    await c.hmset('p', 'c', '3');
    await c.hsetnx('p', 'd', '4');
    await c.hincrby('p', 'a', 5);
    await c.hincrbyfloat('p', 'f', '0.1');
    await c.hincrbyfloat('p', 'f', '0.2');
    await c.hdel('p', 'd', 'zz');
    expect(take()).toEqual(['0 hset p a 1 b 2', '0 hmset p c 3', '0 hsetnx p d 4', '0 hincrby p a 5', '0 HSET p f 0.1', '0 HSET p f 0.3', '0 hdel p d zz']);
    await c.hsetnx('p', 'a', 'x');
    await c.hdel('p', 'zz');
    await c.hdel('missing', 'a');
    await c.hget('p', 'a');
    await c.hgetall('p');
    await c.hrandfield('p', 2);
    await c.hscan('p', '0');
    await c.hincrby('p', 'a', 'x').catch(() => undefined);
    await c.hincrbyfloat('p', 'a', 'inf').catch(() => undefined);
    expect(take()).toEqual([]);
  });

  it('memory accounting follows in-place changes and returns to the baseline', async () => {
    const db = server.dbs[0];
    const base = db.used;
    const args: string[] = [];
    for (let i = 0; i < 2000; i++) args.push(`field-${i}`, `value-${i}-${'x'.repeat(40)}`);
    await c.hset('mem', ...args);
    const full = db.used;
    expect(full - base).toBeGreaterThan(2000 * 60);
    await c.hdel('mem', ...args.filter((_, i) => i % 2 === 0).slice(0, 1000));
    expect(db.used).toBeLessThan(full);
    expect(db.used).toBeGreaterThan(base);
    await c.hdel('mem', ...args.filter((_, i) => i % 2 === 0));
    expect(await c.exists('mem')).toBe(0);
    expect(db.used).toBe(base);
  });
});
