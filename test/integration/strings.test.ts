/**
 * String commands: GET SET GETEX GETDEL GETSET MGET MSET MSETNX SETNX SETEX PSETEX APPEND STRLEN
 * GETRANGE SUBSTR SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT LCS, through real clients, plus a
 * byte-for-byte differential run against a real redis-server (RESP2 and RESP3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, redisCli, type NodeHandle } from '../helpers/node';
import { RawConn, diffScript, startRealRedis, type RealRedis } from '../helpers/resp-diff';
import { Prng } from '../sim/prng';
import { Config } from '../../cluster-node/src/server/config';
import { Server } from '../../cluster-node/src/server/server';

let node: NodeHandle;
let io: Redis;

beforeAll(async () => {
  node = await startNode();
  io = new Redis({ port: node.port, lazyConnect: true });
  await io.connect();
});

afterAll(() => {
  io.disconnect();
});

const NOT_INT = 'ERR value is not an integer or out of range';
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

async function err(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
}

describe('SET family', () => {
  it('SET options: NX XX GET KEEPTTL EX PX EXAT PXAT and their conflicts', async () => {
    await io.del('s1');
    expect(await io.set('s1', 'a', 'NX')).toBe('OK');
    expect(await io.set('s1', 'b', 'NX')).toBeNull();
    expect(await io.set('s1', 'c', 'XX')).toBe('OK');
    expect(await io.set('nx-missing', 'c', 'XX')).toBeNull();
    expect(await io.call('SET', 's1', 'd', 'GET')).toBe('c');
    expect(await io.call('SET', 's1', 'e', 'NX', 'GET')).toBe('d');
    expect(await io.get('s1')).toBe('d');
    expect(await io.call('SET', 's1', 'v', 'EX', '100')).toBe('OK');
    expect(await io.ttl('s1')).toBe(100);
    expect(await io.call('SET', 's1', 'v2', 'KEEPTTL')).toBe('OK');
    expect(await io.ttl('s1')).toBe(100);
    expect(await io.set('s1', 'v3')).toBe('OK');
    expect(await io.ttl('s1')).toBe(-1);
    // EX may repeat (the last wins), like Redis.
    expect(await io.call('SET', 's1', 'v', 'EX', '10', 'EX', '20')).toBe('OK');
    expect(await io.ttl('s1')).toBe(20);
    expect(await io.call('SET', 's1', 'v', 'PX', '5000')).toBe('OK');
    const pttl = await io.pttl('s1');
    expect(pttl).toBeGreaterThan(4000);
    expect(pttl).toBeLessThanOrEqual(5000);
    const at = Math.floor(Date.now() / 1000) + 1000;
    expect(await io.call('SET', 's1', 'v', 'EXAT', String(at))).toBe('OK');
    expect(await io.ttl('s1')).toBeGreaterThan(990);
    expect(await io.call('SET', 's1', 'v', 'PXAT', '1')).toBe('OK');
    expect(await io.exists('s1')).toBe(0);
    for (const bad of [
      ['EX', '10', 'PX', '10'],
      ['NX', 'XX'],
      ['KEEPTTL', 'EX', '1'],
      ['EX', '1', 'KEEPTTL'],
      ['EX'],
      ['PERSIST'],
      ['FOO'],
    ]) {
      expect(await err(io.call('SET', 's1', 'v', ...bad))).toBe('ERR syntax error');
    }
    expect(await err(io.call('SET', 's1', 'v', 'EX', 'abc'))).toBe(NOT_INT);
    expect(await err(io.call('SET', 's1', 'v', 'EX', '0'))).toBe("ERR invalid expire time in 'set' command");
    expect(await err(io.call('SET', 's1', 'v', 'PX', '-5'))).toBe("ERR invalid expire time in 'set' command");
    expect(await err(io.call('SET', 's1', 'v', 'EX', '9300000000000000'))).toBe("ERR invalid expire time in 'set' command");
    expect(await io.call('SET', 's1', 'v', 'EX', '9000000000000000')).toBe('OK');
    expect(await io.ttl('s1')).toBe(9000000000000000);
    await io.rpush('s-list', 'x');
    expect(await err(io.call('SET', 's-list', 'v', 'GET'))).toBe(WRONGTYPE);
    expect(await io.type('s-list')).toBe('list');
    expect(await io.set('s-list', 'v')).toBe('OK');
    expect(await io.type('s-list')).toBe('string');
  });

  it('SETNX, SETEX, PSETEX, GETSET, GETDEL, MSET, MSETNX, MGET', async () => {
    await io.del('n1', 'n2', 'n3', 'n4');
    expect(await io.setnx('n1', 'a')).toBe(1);
    expect(await io.setnx('n1', 'b')).toBe(0);
    expect(await io.get('n1')).toBe('a');
    expect(await io.setex('n2', 100, 'v')).toBe('OK');
    expect(await io.ttl('n2')).toBe(100);
    expect(await io.psetex('n2', 50000, 'v')).toBe('OK');
    expect(await io.ttl('n2')).toBe(50);
    expect(await err(io.setex('n2', 0, 'v'))).toBe("ERR invalid expire time in 'setex' command");
    expect(await err(io.psetex('n2', -1, 'v'))).toBe("ERR invalid expire time in 'psetex' command");
    expect(await err(io.call('SETEX', 'n2', 'x', 'v'))).toBe(NOT_INT);
    // GETSET clears the TTL.
    expect(await io.getset('n2', 'w')).toBe('v');
    expect(await io.ttl('n2')).toBe(-1);
    expect(await io.getset('n3', 'z')).toBeNull();
    expect(await io.getdel('n3')).toBe('z');
    expect(await io.exists('n3')).toBe(0);
    expect(await io.getdel('n3')).toBeNull();
    expect(await io.mset('n1', '1', 'n3', '3')).toBe('OK');
    await io.del('n-list');
    await io.rpush('n-list', 'x');
    expect(await io.mget('n1', 'missing', 'n3', 'n-list')).toEqual(['1', null, '3', null]);
    expect(await err(io.call('MSET', 'a', 'b', 'c'))).toBe("ERR wrong number of arguments for 'mset' command");
    expect(await err(io.call('MSETNX', 'a', 'b', 'c'))).toBe("ERR wrong number of arguments for 'msetnx' command");
    expect(await io.msetnx('n4', 'x', 'n1', 'y')).toBe(0);
    expect(await io.exists('n4')).toBe(0);
    expect(await io.msetnx('n4', 'x', 'n5', 'y')).toBe(1);
    expect(await io.mget('n4', 'n5')).toEqual(['x', 'y']);
    expect(await err(io.getset('n-list', 'v'))).toBe(WRONGTYPE);
    expect(await err(io.getdel('n-list'))).toBe(WRONGTYPE);
    expect(await err(io.get('n-list'))).toBe(WRONGTYPE);
  });

  it('GETEX: EX PX EXAT PXAT PERSIST, past times delete, errors', async () => {
    await io.set('g1', 'v');
    expect(await io.call('GETEX', 'g1')).toBe('v');
    expect(await io.ttl('g1')).toBe(-1);
    expect(await io.call('GETEX', 'g1', 'EX', '100')).toBe('v');
    expect(await io.ttl('g1')).toBe(100);
    expect(await io.call('GETEX', 'g1', 'PERSIST')).toBe('v');
    expect(await io.ttl('g1')).toBe(-1);
    expect(await io.call('GETEX', 'g1', 'PX', '20000')).toBe('v');
    expect(await io.ttl('g1')).toBe(20);
    expect(await io.call('GETEX', 'g1', 'EXAT', String(Math.floor(Date.now() / 1000) + 500))).toBe('v');
    expect(await io.ttl('g1')).toBeGreaterThan(490);
    expect(await io.call('GETEX', 'g1', 'PXAT', '1')).toBe('v');
    expect(await io.exists('g1')).toBe(0);
    expect(await io.call('GETEX', 'g1', 'EX', 'abc')).toBeNull(); // missing key: nil before validating
    await io.set('g1', 'v');
    expect(await err(io.call('GETEX', 'g1', 'EX', 'abc'))).toBe(NOT_INT);
    expect(await err(io.call('GETEX', 'g1', 'EX', '0'))).toBe("ERR invalid expire time in 'getex' command");
    expect(await err(io.call('GETEX', 'g1', 'EX', '10', 'PERSIST'))).toBe('ERR syntax error');
    expect(await err(io.call('GETEX', 'g1', 'KEEPTTL'))).toBe('ERR syntax error');
    expect(await err(io.call('GETEX', 'g1', 'NX'))).toBe('ERR syntax error');
    await io.rpush('g-list', 'x');
    expect(await err(io.call('GETEX', 'g-list', 'EX', '10'))).toBe(WRONGTYPE);
  });

  it('an expired key reads as missing for every string reader', async () => {
    await io.set('e1', 'value', 'PX', 30);
    await new Promise((r) => setTimeout(r, 60));
    expect(await io.get('e1')).toBeNull();
    expect(await io.strlen('e1')).toBe(0);
    expect(await io.getrange('e1', 0, -1)).toBe('');
    expect(await io.incr('e1')).toBe(1);
  });
});

describe('APPEND STRLEN GETRANGE SUBSTR SETRANGE', () => {
  it('binary-safe append and ranges', async () => {
    await io.del('a1');
    const bin = Buffer.from([0, 255, 13, 10, 128]);
    expect(await io.append('a1', bin)).toBe(5);
    expect(await io.append('a1', 'xyz')).toBe(8);
    expect(await io.getBuffer('a1')).toEqual(Buffer.concat([bin, Buffer.from('xyz')]));
    expect(await io.strlen('a1')).toBe(8);
    expect(await io.getrangeBuffer('a1', 1, 3)).toEqual(Buffer.from([255, 13, 10]));
    expect(await io.call('SUBSTR', 'a1', '-3', '-1')).toBe('xyz');
    expect(await io.getrange('a1', -1, -5)).toBe('');
    expect(await io.getrange('a1', 5, 1)).toBe('');
    expect(await io.getrange('a1', -100, -100)).toBe('\0');
    expect(await io.getrange('a1', 0, '9223372036854775807')).toHaveLength(8);
    expect(await io.getrange('missing-a', 0, -1)).toBe('');
    expect(await err(io.getrange('a1', 'x', 1))).toBe(NOT_INT);
  });

  it('APPEND keeps the TTL', async () => {
    await io.set('a2', 'x', 'EX', 100);
    await io.append('a2', 'y');
    expect(await io.ttl('a2')).toBe(100);
  });

  it('SETRANGE pads with zero bytes, keeps the TTL, limits the size', async () => {
    await io.del('r1');
    expect(await io.setrange('r1', 3, 'ab')).toBe(5);
    expect(await io.getBuffer('r1')).toEqual(Buffer.from([0, 0, 0, 97, 98]));
    expect(await io.setrange('r1', 1, 'ZZZZZZ')).toBe(7);
    expect(await io.get('r1')).toBe('\0ZZZZZZ');
    expect(await io.setrange('r1', 0, '')).toBe(7);
    expect(await io.setrange('r-missing', 10, '')).toBe(0);
    expect(await io.exists('r-missing')).toBe(0);
    await io.expire('r1', 100);
    expect(await io.setrange('r1', 2, 'q')).toBe(7);
    expect(await io.ttl('r1')).toBe(100);
    expect(await err(io.setrange('r1', -1, 'x'))).toBe('ERR offset is out of range');
    expect(await err(io.setrange('r1', 536870912, 'x'))).toBe('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
    expect(await err(io.setrange('r1', '9223372036854775807', 'x'))).toBe(
      'ERR string exceeds maximum allowed size (proto-max-bulk-len)',
    );
    expect(await err(io.setrange('r1', 'x', 'x'))).toBe(NOT_INT);
    await io.rpush('r-list', 'x');
    expect(await err(io.setrange('r-list', 0, 'x'))).toBe(WRONGTYPE);
    expect(await err(io.append('r-list', 'x'))).toBe(WRONGTYPE);
    expect(await err(io.strlen('r-list'))).toBe(WRONGTYPE);
  });
});

describe('INCR family', () => {
  it('exact int64 arithmetic and overflow errors', async () => {
    const exact = new Redis({ port: node.port, stringNumbers: true });
    try {
      await exact.del('i1');
      expect(await exact.incr('i1')).toBe('1');
      expect(await exact.decr('i1')).toBe('0');
      expect(await exact.decr('i1')).toBe('-1');
      expect(await exact.incrby('i1', 100)).toBe('99');
      expect(await exact.decrby('i1', 200)).toBe('-101');
      await exact.set('i1', '9223372036854775806');
      expect(await exact.incr('i1')).toBe('9223372036854775807');
      expect(await err(exact.incr('i1'))).toBe('ERR increment or decrement would overflow');
      expect(await err(exact.incrby('i1', 1))).toBe('ERR increment or decrement would overflow');
      expect(await exact.get('i1')).toBe('9223372036854775807');
      await exact.set('i1', '-9223372036854775808');
      expect(await err(exact.decr('i1'))).toBe('ERR increment or decrement would overflow');
      expect(await err(exact.decrby('i1', '-9223372036854775808'))).toBe('ERR decrement would overflow');
      expect(await exact.incrby('i1', '9223372036854775807')).toBe('-1');
      expect(await exact.incrby('i1', '-9223372036854775807')).toBe('-9223372036854775808');
      expect(await exact.decrby('i1', '-9223372036854775807')).toBe('-1');
      expect(await exact.get('i1')).toBe('-1');
    } finally {
      exact.disconnect();
    }
  });

  it('big values round-trip exactly as strings (redis-cli)', () => {
    expect(redisCli(node.port, ['SET', 'i2', '4611686018427387904']).stdout).toBe('OK');
    expect(redisCli(node.port, ['INCRBY', 'i2', '4611686018427387903']).stdout).toBe('9223372036854775807');
    expect(redisCli(node.port, ['DECRBY', 'i2', '9223372036854775807']).stdout).toBe('0');
    expect(redisCli(node.port, ['DECRBY', 'i2', '-9007199254740993']).stdout).toBe('9007199254740993');
    expect(redisCli(node.port, ['INCR', 'i2']).stdout).toBe('9007199254740994');
    expect(redisCli(node.port, ['INCRBY', 'i2', '-18014398509481988']).stdout).toBe('-9007199254740994');
    expect(redisCli(node.port, ['GET', 'i2']).stdout).toBe('-9007199254740994');
  });

  it('values that are not canonical integers are rejected', async () => {
    for (const v of [' 1', '1 ', '007', '+1', '-0', '1.0', '', 'abc', '99999999999999999999', '1e3']) {
      await io.set('i3', v);
      expect(await err(io.incr('i3')), JSON.stringify(v)).toBe(NOT_INT);
    }
    await io.set('i3', '5');
    for (const v of [' 1', '1.5', '', '9223372036854775808', '0x10']) {
      expect(await err(io.incrby('i3', v)), JSON.stringify(v)).toBe(NOT_INT);
    }
    await io.rpush('i-list', 'x');
    expect(await err(io.incr('i-list'))).toBe(WRONGTYPE);
    // The increment is validated before the key's type.
    expect(await err(io.incrby('i-list', 'x'))).toBe(NOT_INT);
  });

  it('INCR keeps the TTL', async () => {
    await io.set('i4', '10', 'EX', 100);
    await io.incr('i4');
    expect(await io.ttl('i4')).toBe(100);
  });

  it('INCRBYFLOAT uses long double precision and Redis formatting', async () => {
    await io.del('f1');
    expect(await io.incrbyfloat('f1', '10.5')).toBe('10.5');
    expect(await io.incrbyfloat('f1', '0.1')).toBe('10.6');
    await io.set('f1', '1');
    expect(await io.incrbyfloat('f1', '0.1')).toBe('1.1');
    expect(await io.incrbyfloat('f1', '0.2')).toBe('1.3'); // not 1.3000000000000003
    expect(await io.incrbyfloat('f1', '-1.3')).toBe('0');
    expect(await io.incrbyfloat('f1', '5.0e3')).toBe('5000');
    expect(await io.incrbyfloat('f1', '0x10')).toBe('5016');
    expect(await io.incrbyfloat('f1', '-10000')).toBe('-4984');
    expect(await io.incrbyfloat('f2', '1.23456789012345678901')).toBe('1.23456789012345679');
    expect(await io.incrbyfloat('f3', '1e-20')).toBe('0');
    expect(await io.incrbyfloat('f4', '-0.00000000000000001')).toBe('-0.00000000000000001');
    expect(await io.incrbyfloat('f5', '1.000003814697265625')).toBe('1.00000381469726562'); // tie: half to even
    expect(await io.incrbyfloat('f6', '1e30')).toBe('1000000000000000000024696061952');
    await io.set('f1', '1e308');
    expect(await io.incrbyfloat('f1', '1e308')).toHaveLength(309); // beyond double range, fine for long double
    for (const bad of ['abc', ' 1', '1 ', 'nan', '1e5000', '1e-5000', '', '1e', '0x']) {
      expect(await err(io.incrbyfloat('f1', bad)), JSON.stringify(bad)).toBe('ERR value is not a valid float');
    }
    for (const inf of ['inf', '-inf', '+Infinity']) {
      expect(await err(io.incrbyfloat('f1', inf))).toBe('ERR increment would produce NaN or Infinity');
    }
    await io.set('f1', 'x');
    expect(await err(io.incrbyfloat('f1', '1'))).toBe('ERR value is not a valid float');
    await io.set('f1', '1', 'EX', 100);
    await io.incrbyfloat('f1', '1');
    expect(await io.ttl('f1')).toBe(100);
    await io.rpush('f-list', 'x');
    expect(await err(io.incrbyfloat('f-list', 'x'))).toBe(WRONGTYPE);
  });
});

describe('LCS', () => {
  it('string, LEN, IDX with MINMATCHLEN and WITHMATCHLEN in RESP2', async () => {
    await io.mset('l1', 'ohmytext', 'l2', 'mynewtext');
    expect(await io.call('LCS', 'l1', 'l2')).toBe('mytext');
    expect(await io.call('LCS', 'l1', 'l2', 'LEN')).toBe(6);
    expect(await io.call('LCS', 'l1', 'l2', 'IDX')).toEqual([
      'matches',
      [
        [
          [4, 7],
          [5, 8],
        ],
        [
          [2, 3],
          [0, 1],
        ],
      ],
      'len',
      6,
    ]);
    expect(await io.call('LCS', 'l1', 'l2', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN')).toEqual([
      'matches',
      [
        [
          [4, 7],
          [5, 8],
          4,
        ],
      ],
      'len',
      6,
    ]);
    expect(await io.call('LCS', 'l1', 'missing')).toBe('');
    expect(await err(io.call('LCS', 'l1', 'l2', 'LEN', 'IDX'))).toBe('ERR If you want both the length and indexes, please just use IDX.');
    expect(await err(io.call('LCS', 'l1', 'l2', 'FOO'))).toBe('ERR syntax error');
    expect(await err(io.call('LCS', 'l1', 'l2', 'MINMATCHLEN', 'x'))).toBe(NOT_INT);
    await io.rpush('l-list', 'x');
    expect(await err(io.call('LCS', 'l1', 'l-list'))).toBe('ERR The specified keys must contain string values');
  });

  it('IDX is a map in RESP3 (node-redis)', async () => {
    const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await c.connect();
    try {
      await c.mSet({ l3: 'ohmytext', l4: 'mynewtext' });
      const r = await c.sendCommand(['LCS', 'l3', 'l4', 'IDX', 'WITHMATCHLEN']);
      expect(r).toEqual({
        matches: [
          [[4, 7], [5, 8], 4],
          [[2, 3], [0, 1], 2],
        ],
        len: 6,
      });
    } finally {
      await c.quit();
    }
  });
});

describe('notifications and propagation-visible effects', () => {
  it('emits Redis events for string writes', async () => {
    const sub = new Redis({ port: node.port });
    await io.config('SET', 'notify-keyspace-events', 'KEA');
    const events: string[] = [];
    sub.on('pmessage', (_p, ch, msg) => events.push(`${ch.replace('__keyevent@0__:', '')} ${msg}`));
    await sub.psubscribe('__keyevent@0__:*');
    try {
      await io.del('ev');
      await io.set('ev', '1');
      await io.call('SETRANGE', 'ev', '0', '2');
      await io.append('ev', '3');
      await io.incrby('ev', 1);
      await io.incrbyfloat('ev', '1.5');
      await io.call('GETEX', 'ev', 'EX', '100');
      await io.call('GETEX', 'ev', 'PERSIST');
      await io.call('GETEX', 'ev', 'PERSIST'); // no TTL: no event
      await io.getset('ev', 'x');
      await io.getdel('ev');
      await io.setex('ev', 10, 'v');
      await io.mset('ev', 'a', 'ev2', 'b');
      await io.msetnx('ev3', 'c');
      await io.setnx('ev3', 'c');
      await io.set('ev4', 'v');
      await io.call('GETEX', 'ev4', 'PXAT', '1');
      await io.set('done', '1');
      await waitFor(() => events.includes('set done'));
      expect(events).toEqual([
        'set ev',
        'setrange ev',
        'append ev',
        'incrby ev',
        'incrbyfloat ev',
        'expire ev',
        'persist ev',
        'set ev',
        'del ev',
        'set ev',
        'expire ev',
        'set ev',
        'set ev2',
        'set ev3',
        'set ev4',
        'del ev4',
        'set done',
      ]);
    } finally {
      await io.config('SET', 'notify-keyspace-events', '');
      sub.disconnect();
    }
  });

  it('WATCH sees string writes (EXEC aborts)', async () => {
    const other = new Redis({ port: node.port });
    try {
      await io.set('w1', '1');
      await io.watch('w1');
      await other.append('w1', 'x');
      const r = await io.multi().get('w1').exec();
      expect(r).toBeNull();
      await io.watch('w1');
      await other.call('GETEX', 'w1', 'PERSIST'); // nothing to persist: not a modification
      expect(await io.multi().get('w1').exec()).toEqual([[null, '1x']]);
    } finally {
      other.disconnect();
    }
  });
});

describe('propagation (what replicas and the AOF receive)', () => {
  let server: Server;
  let c: Redis;
  const log: string[] = [];
  const take = (): string[] => log.splice(0, log.length);

  beforeAll(async () => {
    server = new Server(Config.fromArgs(['--port', '0', '--bind', '127.0.0.1', '--loglevel', 'warning']));
    await server.listen();
    server.propagators.push((db, argv) => log.push([db, argv[0].toUpperCase(), ...argv.slice(1)].join(' ')));
    c = new Redis({ port: server.boundPort(), host: '127.0.0.1' });
  });

  afterAll(async () => {
    c?.disconnect();
    await server?.close();
  });

  it('relative expiries become SET ... PXAT / PEXPIREAT with absolute ms', async () => {
    const before = Date.now();
    await c.set('p1', 'v', 'EX', 100);
    await c.setex('p2', 100, 'v');
    await c.psetex('p3', 100000, 'v');
    await c.call('SET', 'p4', 'v', 'PX', '100000', 'GET');
    await c.call('SET', 'p5', 'v', 'EXAT', '4000000000');
    await c.call('GETEX', 'p1', 'EX', '100');
    await c.call('GETEX', 'p1', 'PXAT', '4000000000000');
    await c.call('GETEX', 'p1', 'EXAT', '4000000000');
    const after = Date.now();
    const lines = take();
    expect(lines).toHaveLength(8);
    const abs = (line: string, re: RegExp): number => {
      const m = re.exec(line);
      expect(m, line).not.toBeNull();
      return Number(m![1]);
    };
    for (const [i, key] of [[0, 'p1'], [1, 'p2'], [2, 'p3'], [3, 'p4']] as const) {
      const at = abs(lines[i], new RegExp(`^0 SET ${key} v PXAT (\\d+)$`));
      expect(at).toBeGreaterThanOrEqual(before + 100_000);
      expect(at).toBeLessThanOrEqual(after + 100_000);
    }
    expect(lines[4]).toBe('0 SET p5 v PXAT 4000000000000');
    const at = abs(lines[5], /^0 PEXPIREAT p1 (\d+)$/);
    expect(at).toBeGreaterThanOrEqual(before + 100_000);
    expect(lines[6]).toBe('0 GETEX p1 PXAT 4000000000000');
    expect(lines[7]).toBe('0 PEXPIREAT p1 4000000000000');
  });

  it('GETDEL and past GETEX become DEL, PERSIST only when a TTL was removed, GETSET becomes SET', async () => {
    await c.set('q1', 'v');
    await c.getdel('q1');
    await c.getdel('q1'); // missing: nothing
    await c.set('q2', 'v', 'EX', 100);
    await c.call('GETEX', 'q2', 'PERSIST');
    await c.call('GETEX', 'q2', 'PERSIST'); // no TTL: nothing
    await c.call('GETEX', 'q2'); // read only: nothing
    await c.call('GETEX', 'q2', 'PXAT', '1');
    await c.getset('q3', 'x');
    expect(take().filter((l) => !l.includes(' PXAT '))).toEqual([
      '0 SET q1 v',
      '0 DEL q1',
      '0 PERSIST q2',
      '0 DEL q2',
      '0 SET q3 x',
    ]);
  });

  it('an expired key is propagated as DEL; the read that reclaimed it is not propagated', async () => {
    // Lazy expiry is what is under test: keep the active cycle from reclaiming the keys first.
    expect(await c.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0')).toBe('OK');
    await c.set('x1', 'v', 'PX', 20);
    await c.set('x2', 'v', 'PX', 20);
    await new Promise((r) => setTimeout(r, 50));
    take();
    expect(await c.get('x1')).toBeNull();
    expect(await c.set('x2', 'w', 'KEEPTTL')).toBe('OK');
    expect(await c.ttl('x2')).toBe(-1);
    expect(take()).toEqual(['0 DEL x1', '0 DEL x2', '0 SET x2 w KEEPTTL']);
    await c.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
  });

  it('INCRBYFLOAT becomes SET key result KEEPTTL; other writes go as sent; no-ops are not propagated', async () => {
    await c.set('r1', '1.5');
    await c.incrbyfloat('r1', '0.1');
    await c.incr('r2');
    await c.append('r2', '0');
    await c.setrange('r2', 0, '2');
    await c.setrange('r2', 0, ''); // nothing written
    await c.setnx('r2', 'x'); // exists: nothing
    await c.msetnx('r2', 'x', 'r3', 'y'); // nothing
    await c.setbit('r4', 3, 1);
    await c.setbit('r4', 3, 1); // unchanged: nothing
    await c.bitop('OR', 'r5', 'r4');
    await c.call('BITFIELD', 'r4', 'SET', 'u8', '0', '7');
    await c.call('BITFIELD', 'r4', 'GET', 'u8', '0');
    await c.call('BITFIELD', 'r4', 'OVERFLOW', 'FAIL', 'INCRBY', 'u2', '0', '9');
    expect(take()).toEqual([
      '0 SET r1 1.5',
      '0 SET r1 1.6 KEEPTTL',
      '0 INCR r2',
      '0 APPEND r2 0',
      '0 SETRANGE r2 0 2',
      '0 SETBIT r4 3 1',
      '0 BITOP OR r5 r4',
      '0 BITFIELD r4 SET u8 0 7',
    ]);
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ------------------------------------------------------------------ differential vs redis-server

/** Deterministic text over a small alphabet (long common runs for LCS). */
function pseudoText(seed: number, n: number): string {
  const r = new Prng(seed);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.pick([97, 98, 99, 100, 0, 255]));
  return s;
}

const FIXED_SCRIPT: string[][] = [
  ['SET', 'k', 'v', 'EX', '10', 'EX', '20'],
  ['SET', 'k', 'v', 'PX', '10', 'EX', '20'],
  ['SET', 'k', 'v', 'EXAT', '1', 'EXAT', '2'],
  ['SET', 'k', 'v', 'KEEPTTL', 'KEEPTTL'],
  ['SET', 'k', 'v', 'NX', 'NX', 'GET'],
  ['SET', 'k', 'v', 'EX', 'abc', 'FOO'],
  ['SET', 'k', 'v', 'EX', '-1'],
  ['SET', 'k', 'v', 'EX', '9223372036854775807'],
  ['SET', 'k', 'v', 'PX', '9223372036854775807'],
  ['SET', 'k', 'v', 'PXAT', '9223372036854775807'],
  ['SET', 'k', 'v', 'EXAT', '9223372036854775'],
  ['SET', 'k', 'v', 'EXAT', '9223372036854776'],
  ['GET', 'k'],
  ['SET', 'k', 'v'],
  ['GETEX', 'k', 'PERSIST', 'PERSIST'],
  ['GETEX', 'k', 'EX', '1', 'PX', '1'],
  ['GETEX', 'k', 'EX', '1', 'EX'],
  ['GETEX', 'k', 'EXAT', '0'],
  ['GETEX', 'k', 'PXAT', '-1'],
  ['GETEX', 'k', 'PXAT', '1'],
  ['EXISTS', 'k'],
  ['SETEX', 'k', '9223372036854775', 'v'],
  ['SETEX', 'k', '9223372036854776', 'v'],
  ['PSETEX', 'k', '9223372036854775807', 'v'],
  ['MSET', 'a', '1', 'b'],
  ['MSETNX', 'a', '1', 'a', '2'],
  ['GET', 'a'],
  ['MGET', 'a', 'b', 'a'],
  ['INCRBY', 'a', '9223372036854775806'],
  ['INCRBY', 'a', '1'],
  ['DECRBY', 'a', '-1'],
  ['SET', 'n', '-9223372036854775807'],
  ['DECR', 'n'],
  ['DECR', 'n'],
  ['INCRBY', 'n', '-1'],
  ['DECRBY', 'n', '9223372036854775807'],
  ['SET', 'n', '0'],
  ['DECRBY', 'n', '-9223372036854775807'],
  ['INCRBY', 'n', '9223372036854775808'],
  ['INCRBY', 'n', '-9223372036854775809'],
  ['INCRBY', 'n', '-0'],
  ['INCRBY', 'n', '+5'],
  ['SET', 'n', '12345678901234567'],
  ['INCRBY', 'n', '3'],
  ['INCRBY', 'n', '4503599627370496'],
  ['INCRBY', 'n', '-4503599627370497'],
  ['SET', 'n', '9007199254740992'],
  ['INCR', 'n'],
  ['SET', 'f', '0'],
  ...['0.1', '0.2', '0.3', '-0.6', '1e-17', '1e-18', '3.5e-18', '123456789.123456789', '-1e20', '1e20', '0x1p-60', '0X1P+3', '0x.8', '1.', '.5', '-.5', '+.5', '0e-99999', '1e-4950', '1e4932', '1.2e4932', '-1e4932', '5e-4951', '1e-4951', '00001.50000', '1E2', '1e+2', '1e-2', '4.9406564584124654e-324', '1.7976931348623157e308', '2.2250738585072014e-308', '0.000003814697265625', '7.62939453125e-6', 'infinity', '-INF', 'nan', 'NaN', '1e', '1e+', 'e1', '0x', '0xg', '1_0', '١'].map(
    (x) => ['INCRBYFLOAT', 'f', x],
  ),
  ['SET', 'f', '0x1p3'],
  ['INCRBYFLOAT', 'f', '0'],
  ['SET', 'f', ' 1'],
  ['INCRBYFLOAT', 'f', '0'],
  ['SET', 'f', '1.5e400'],
  ['INCRBYFLOAT', 'f', '1'],
  ['INCRBYFLOAT', 'nf1', '-0'],
  ['INCRBYFLOAT', 'nf2', '-0.0'],
  ['INCRBYFLOAT', 'nf3', '-1e-30'],
  ['INCRBYFLOAT', 'nf4', '0.00000000000000000999999'],
  ['INCRBYFLOAT', 'nf5', '0.000000000000000005'],
  ['INCRBYFLOAT', 'nf6', '0.000000000000000015'],
  ['INCRBYFLOAT', 'nf7', '0.000000000000000025'],
  ['SET', 's', 'Hello World'],
  ...[
    ['0', '-1'],
    ['-1', '-5'],
    ['-5', '-1'],
    ['5', '1'],
    ['0', '-100'],
    ['-100', '-100'],
    ['-100', '100'],
    ['100', '200'],
    ['-9223372036854775808', '-9223372036854775807'],
    ['-9223372036854775807', '-9223372036854775808'],
    ['0', '9223372036854775807'],
    ['3', '3'],
    ['a', '1'],
    ['1', 'a'],
  ].flatMap(([a, b]) => [
    ['GETRANGE', 's', a, b],
    ['SUBSTR', 's', a, b],
    ['GETRANGE', 'nokey', a, b],
  ]),
  ['SET', 'e', ''],
  ['GETRANGE', 'e', '0', '-1'],
  ['GETRANGE', 'e', '-1', '0'],
  ['STRLEN', 'e'],
  ['SETRANGE', 'e', '0', ''],
  ['SETRANGE', 'e', '2', 'x'],
  ['GET', 'e'],
  ['SETRANGE', 'nokey2', '0', ''],
  ['SETRANGE', 'nokey2', '536870912', ''],
  ['SETRANGE', 'nokey2', '536870912', 'x'],
  ['SETRANGE', 'nokey2', '-1', ''],
  ['SETRANGE', 'nokey2', '9223372036854775807', 'x'],
  ['SETRANGE', 'nokey2', '9223372036854775808', 'x'],
  ['APPEND', 'ap', ''],
  ['EXISTS', 'ap'],
  ['APPEND', 'ap', '\x00\xff'],
  ['STRLEN', 'ap'],
  ['LCS', 'nokey', 'nokey'],
  ['LCS', 'nokey', 'nokey', 'IDX'],
  ['LCS', 'nokey', 'nokey', 'LEN'],
  ['SET', 'la', 'ohmytext'],
  ['SET', 'lb', 'mynewtext'],
  ['LCS', 'la', 'lb', 'IDX', 'MINMATCHLEN'],
  ['LCS', 'la', 'lb', 'IDX', 'MINMATCHLEN', '-5', 'WITHMATCHLEN'],
  ['LCS', 'la', 'lb', 'IDX', 'idx', 'MinMatchLen', '3'],
  ['LCS', 'la', 'lb', 'len', 'len'],
  ['LCS', 'la', 'la', 'IDX', 'WITHMATCHLEN'],
  ['LCS', 'la', 'nokey', 'IDX', 'WITHMATCHLEN'],
  ['SET', 'la', 'abcabcabc'],
  ['SET', 'lb', 'cbacbacba'],
  ['LCS', 'la', 'lb', 'IDX', 'WITHMATCHLEN'],
  ['SET', 'big1', 'a'.repeat(12000)],
  ['SET', 'big2', 'b'.repeat(12000)],
  ['LCS', 'big1', 'big2'],
  ['LCS', 'big1', 'big2', 'LEN'],
  ['LCS', 'big1', 'nokey', 'IDX'],
  ['SET', 'mid1', pseudoText(1, 700)],
  ['SET', 'mid2', pseudoText(2, 500)],
  ['LCS', 'mid1', 'mid2'],
  ['LCS', 'mid1', 'mid2', 'LEN'],
  ['LCS', 'mid2', 'mid1', 'IDX', 'WITHMATCHLEN'],
  ['LCS', 'mid1', 'mid2', 'IDX', 'MINMATCHLEN', '3'],
  ['RPUSH', 'list', 'x'],
  ['LCS', 'list', 'nokey', 'FOO'],
  ['GET', 'list'],
  ['GETEX', 'list', 'FOO'],
  ['GETEX', 'list'],
  ['GETDEL', 'list'],
  ['GETSET', 'list', 'x'],
  ['MGET', 'list', 'la'],
  ['MSETNX', 'list', 'x'],
  ['SETNX', 'list', 'x'],
  ['APPEND', 'list', 'x'],
  ['STRLEN', 'list'],
  ['GETRANGE', 'list', 'x', '0'],
  ['GETRANGE', 'list', '0', '0'],
  ['SETRANGE', 'list', '0', ''],
  ['SETRANGE', 'list', '-1', ''],
  ['INCR', 'list'],
  ['INCRBY', 'list', 'x'],
  ['DECRBY', 'list', '-9223372036854775808'],
  ['INCRBYFLOAT', 'list', 'x'],
  ['SET', 'list', 'x', 'GET'],
  ['SET', 'list', 'x', 'NX'],
  ['SET', 'list', 'x', 'XX', 'GET', 'EX', '0'],
  ['SETEX', 'list', '10', 'x'],
  ['TYPE', 'list'],
];

/** Random string commands over a few keys and awkward values; seeded so failures reproduce. */
function randomScript(seed: number, n: number): string[][] {
  const r = new Prng(seed);
  const keys = ['k0', 'k1', 'k2', 'k3'];
  const ints = ['0', '1', '-1', '2', '10', '-7', '255', '9223372036854775807', '-9223372036854775808', '9223372036854775806', '4611686018427387904', '007', ' 3', '3.0', '', 'x'];
  const floats = ['0', '0.1', '-0.1', '1.5', '1e10', '-2.5e-3', '3', '1e300', '0x1p4', 'inf', '1e-20', '7', '-7.25', 'abc'];
  const idx = ['0', '1', '2', '-1', '-2', '5', '-5', '100', '-100', '3'];
  const key = () => r.pick(keys);
  const bytes = () => {
    const len = r.int(0, 12);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(r.chance(0.7) ? r.pick([97, 98, 99, 120, 49, 48]) : r.int(0, 255));
    return s;
  };
  const val = () => (r.chance(0.4) ? r.pick(ints) : r.chance(0.3) ? r.pick(floats) : bytes());
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    switch (r.int(0, 21)) {
      case 0:
        out.push(['SET', key(), val(), ...(r.chance(0.3) ? [r.pick(['NX', 'XX', 'GET', 'KEEPTTL'])] : [])]);
        break;
      case 1:
        out.push(['GET', key()]);
        break;
      case 2:
        out.push(['APPEND', key(), bytes()]);
        break;
      case 3:
        out.push(['STRLEN', key()]);
        break;
      case 4:
        out.push([r.pick(['GETRANGE', 'SUBSTR']), key(), r.pick(idx), r.pick(idx)]);
        break;
      case 5:
        out.push(['SETRANGE', key(), r.pick(['0', '1', '3', '10', '-1']), bytes()]);
        break;
      case 6:
        out.push([r.pick(['INCR', 'DECR']), key()]);
        break;
      case 7:
        out.push([r.pick(['INCRBY', 'DECRBY']), key(), r.pick(ints)]);
        break;
      case 8:
        out.push(['INCRBYFLOAT', key(), r.pick(floats)]);
        break;
      case 9:
        out.push(['MGET', key(), key(), key()]);
        break;
      case 10:
        out.push(['MSET', key(), val(), key(), val()]);
        break;
      case 11:
        out.push(['MSETNX', key(), val(), key(), val()]);
        break;
      case 12:
        out.push(['SETNX', key(), val()]);
        break;
      case 13:
        out.push(['GETSET', key(), val()]);
        break;
      case 14:
        out.push(['GETDEL', key()]);
        break;
      case 15:
        out.push(['GETEX', key(), ...r.pick([[], ['PERSIST'], ['EX', '1000'], ['PXAT', '1'], ['EX', '0'], ['PX', 'x']])]);
        break;
      case 16: {
        const opts = [['IDX'], ['LEN'], [], ['IDX', 'WITHMATCHLEN'], ['IDX', 'MINMATCHLEN', r.pick(['0', '1', '2', '3'])]];
        out.push(['LCS', key(), key(), ...r.pick(opts)]);
        break;
      }
      case 17:
        out.push(['RPUSH', key(), 'x']);
        break;
      case 18:
        out.push(['DEL', key()]);
        break;
      case 19:
        out.push([r.pick(['SETEX', 'PSETEX']), key(), r.pick(['100000', '0', '-1', 'x']), val()]);
        break;
      case 20:
        out.push(['SET', key(), val(), r.pick(['EX', 'PX']), r.pick(['100000', '0', 'abc'])]);
        break;
      default:
        out.push(['EXISTS', key()]);
    }
  }
  return out;
}

describe('differential: same replies as redis-server, byte for byte', () => {
  let real: RealRedis;
  beforeAll(async () => {
    real = await startRealRedis();
  });
  afterAll(async () => {
    await real.stop();
  });

  for (const proto of [2, 3] as const) {
    it(`fixed edge-case script and a random script, RESP${proto}`, async () => {
      const ours = await RawConn.open({ port: node.port });
      const theirs = await RawConn.open({ path: real.path });
      try {
        const hello = [['HELLO', String(proto)], ['SELECT', '9'], ['FLUSHDB']];
        await ours.send(hello);
        await theirs.send(hello);
        const fixed = await diffScript(ours, theirs, FIXED_SCRIPT);
        expect(fixed).toEqual([]);
        await ours.send([['FLUSHDB']]);
        await theirs.send([['FLUSHDB']]);
        const random = await diffScript(ours, theirs, randomScript(1000 + proto, 4000));
        expect(random).toEqual([]);
        // Final states agree too.
        const dump = [['MGET', 'k0', 'k1', 'k2', 'k3'], ['TYPE', 'k0'], ['TYPE', 'k1'], ['TYPE', 'k2'], ['TYPE', 'k3']];
        expect(await diffScript(ours, theirs, dump)).toEqual([]);
        // Keyspace hit/miss accounting of the read paths (write lookups do not count).
        const reads = [
          ['CONFIG', 'RESETSTAT'],
          ['SET', 'h1', 'abc'],
          ['GET', 'h1'],
          ['GET', 'nokey'],
          ['MGET', 'h1', 'nokey', 'h1'],
          ['STRLEN', 'h1'],
          ['GETRANGE', 'nokey', '0', '1'],
          ['SET', 'h1', 'x', 'GET'],
          ['GETEX', 'h1'],
          ['GETSET', 'h1', 'y'],
          ['LCS', 'h1', 'nokey'],
          ['INCR', 'h2'],
          ['APPEND', 'h2', '1'],
          ['SETNX', 'h2', '1'],
          ['MSETNX', 'h2', '1'],
          ['INCRBYFLOAT', 'h2', '1'],
          ['SETRANGE', 'h2', '0', '1'],
          ['GETDEL', 'h1'],
          ['GETDEL', 'h1'],
        ];
        await diffScript(ours, theirs, reads);
        const stats = async (conn: RawConn) => {
          const [info] = await conn.send([['INFO', 'stats']]);
          return /keyspace_hits:\d+\r\nkeyspace_misses:\d+/.exec(info)?.[0];
        };
        const theirStats = await stats(theirs);
        expect(theirStats).toMatch(/keyspace_hits:[1-9]/);
        expect(await stats(ours)).toBe(theirStats);
        // Command metadata: arity, flags, key specs (with notes), ACL categories, tips.
        const info = 'get set getex getdel getset mget mset msetnx setnx setex psetex append strlen getrange substr setrange incr decr incrby decrby incrbyfloat lcs'.split(' ').map((c) => ['COMMAND', 'INFO', c]);
        expect(await diffScript(ours, theirs, info)).toEqual([]);
      } finally {
        ours.close();
        theirs.close();
      }
    });
  }
});
