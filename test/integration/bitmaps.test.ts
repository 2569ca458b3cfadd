/**
 * Bitmap commands: SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO through real clients,
 * plus a byte-for-byte differential run against a real redis-server (RESP2 and RESP3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, redisCli, type NodeHandle } from '../helpers/node';
import { RawConn, diffScript, startRealRedis, type RealRedis } from '../helpers/resp-diff';
import { Prng } from '../sim/prng';

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
const OFFSET_ERR = 'ERR bit offset is not an integer or out of range';
const TYPE_ERR = 'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.';

async function err(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
}

describe('SETBIT / GETBIT', () => {
  it('sets bits MSB-first, grows with zero bytes, returns the old bit', async () => {
    await io.del('b1');
    expect(await io.setbit('b1', 7, 1)).toBe(0);
    expect(await io.getBuffer('b1')).toEqual(Buffer.from([1]));
    expect(await io.setbit('b1', 7, 1)).toBe(1);
    expect(await io.setbit('b1', 0, 1)).toBe(0);
    expect(await io.getBuffer('b1')).toEqual(Buffer.from([0x81]));
    expect(await io.setbit('b1', 23, 1)).toBe(0);
    expect(await io.getBuffer('b1')).toEqual(Buffer.from([0x81, 0, 1]));
    expect(await io.setbit('b1', 0, 0)).toBe(1);
    expect(await io.getbit('b1', 7)).toBe(1);
    expect(await io.getbit('b1', 6)).toBe(0);
    expect(await io.getbit('b1', 1000000)).toBe(0);
    expect(await io.getbit('missing-b', 3)).toBe(0);
    // Bits of a plain string value (char codes).
    await io.set('b2', 'A'); // 0x41
    expect(await io.getbit('b2', 1)).toBe(1);
    expect(await io.getbit('b2', 7)).toBe(1);
    expect(await io.getbit('b2', 6)).toBe(0);
  });

  it('the largest offset works, beyond it is an error; bad bit values', async () => {
    expect(await io.setbit('b3', 8_000_007, 1)).toBe(0);
    expect(await io.strlen('b3')).toBe(1_000_001);
    expect(await io.bitcount('b3')).toBe(1);
    expect(await io.bitpos('b3', 1)).toBe(8_000_007);
    await io.del('b3');
    expect(await err(io.setbit('b3', 4294967296, 1))).toBe(OFFSET_ERR);
    expect(await err(io.setbit('b3', -1, 1))).toBe(OFFSET_ERR);
    expect(await err(io.setbit('b3', 'x', 1))).toBe(OFFSET_ERR);
    expect(await err(io.getbit('b3', -1))).toBe(OFFSET_ERR);
    expect(await err(io.setbit('b3', 1, 2 as 1))).toBe('ERR bit is not an integer or out of range');
    expect(await err(io.call('SETBIT', 'b3', '1', '-1'))).toBe('ERR bit is not an integer or out of range');
    expect(await err(io.call('SETBIT', 'b3', '1', 'x'))).toBe('ERR bit is not an integer or out of range');
    await io.rpush('b-list', 'x');
    expect(await err(io.setbit('b-list', 1, 1))).toBe(WRONGTYPE);
    expect(await err(io.getbit('b-list', 1))).toBe(WRONGTYPE);
  });

  it('keeps the TTL', async () => {
    await io.set('b4', 'x', 'EX', 100);
    await io.setbit('b4', 100, 1);
    expect(await io.ttl('b4')).toBe(100);
  });
});

describe('BITCOUNT / BITPOS', () => {
  it('BITCOUNT with byte and bit ranges, negative indexes', async () => {
    await io.set('c1', 'foobar');
    expect(await io.bitcount('c1')).toBe(26);
    expect(await io.bitcount('c1', 0, 0)).toBe(4);
    expect(await io.bitcount('c1', 1, 1)).toBe(6);
    expect(await io.call('BITCOUNT', 'c1', '1', '1', 'BYTE')).toBe(6);
    expect(await io.call('BITCOUNT', 'c1', '5', '30', 'BIT')).toBe(17);
    expect(await io.call('BITCOUNT', 'c1', '-2', '-1')).toBe(7);
    expect(await io.call('BITCOUNT', 'c1', '-1', '-2')).toBe(0);
    expect(await io.call('BITCOUNT', 'c1', '0', '-1', 'bit')).toBe(26);
    expect(await io.call('BITCOUNT', 'missing-c', '0', 'x')).toBe(0);
    expect(await err(io.call('BITCOUNT', 'c1', '0'))).toBe('ERR syntax error');
    expect(await err(io.call('BITCOUNT', 'c1', '0', '1', 'FOO'))).toBe('ERR syntax error');
    expect(await err(io.call('BITCOUNT', 'c1', '0', 'x'))).toBe(NOT_INT);
  });

  it('BITPOS finds set and clear bits; clear bits past the end depend on an explicit end', async () => {
    await io.set('p1', Buffer.from([0xff, 0xf0, 0x00]));
    expect(await io.bitpos('p1', 0)).toBe(12);
    expect(await io.bitpos('p1', 1)).toBe(0);
    expect(await io.bitpos('p1', 1, 2)).toBe(-1);
    expect(await io.bitpos('p1', 1, 1)).toBe(8);
    expect(await io.call('BITPOS', 'p1', '1', '9', '-1', 'BIT')).toBe(9);
    expect(await io.call('BITPOS', 'p1', '0', '0', '11', 'BIT')).toBe(-1);
    await io.set('p2', Buffer.from([0xff, 0xff]));
    expect(await io.bitpos('p2', 0)).toBe(16); // no end: the string is zero-padded on the right
    expect(await io.bitpos('p2', 0, 0)).toBe(16);
    expect(await io.bitpos('p2', 0, 0, -1)).toBe(-1); // explicit end: not found
    expect(await io.bitpos('missing-p', 0)).toBe(0);
    expect(await io.bitpos('missing-p', 1)).toBe(-1);
    expect(await err(io.call('BITPOS', 'p1', '2'))).toBe('ERR The bit argument must be 1 or 0.');
    expect(await err(io.call('BITPOS', 'p1', '1', '0', 'x', 'FOO'))).toBe('ERR syntax error');
    expect(await err(io.call('BITPOS', 'p1', '1', 'x'))).toBe(NOT_INT);
    await io.rpush('p-list', 'x');
    expect(await err(io.bitpos('p-list', 1))).toBe(WRONGTYPE);
    expect(await err(io.bitcount('p-list'))).toBe(WRONGTYPE);
  });
});

describe('BITOP', () => {
  it('AND OR XOR NOT over strings of different lengths', async () => {
    await io.set('o1', Buffer.from([0xf0, 0x0f, 0xaa]));
    await io.set('o2', Buffer.from([0xff, 0x01]));
    expect(await io.bitop('AND', 'od', 'o1', 'o2')).toBe(3);
    expect(await io.getBuffer('od')).toEqual(Buffer.from([0xf0, 0x01, 0x00]));
    expect(await io.bitop('OR', 'od', 'o1', 'o2')).toBe(3);
    expect(await io.getBuffer('od')).toEqual(Buffer.from([0xff, 0x0f, 0xaa]));
    expect(await io.bitop('XOR', 'od', 'o1', 'o2', 'missing-o')).toBe(3);
    expect(await io.getBuffer('od')).toEqual(Buffer.from([0x0f, 0x0e, 0xaa]));
    expect(await io.bitop('NOT', 'od', 'o1')).toBe(3);
    expect(await io.getBuffer('od')).toEqual(Buffer.from([0x0f, 0xf0, 0x55]));
    expect(await io.bitop('and', 'od', 'o1', 'missing-o')).toBe(3);
    expect(await io.getBuffer('od')).toEqual(Buffer.from([0, 0, 0]));
  });

  it('an empty result deletes the destination; the destination loses its TTL', async () => {
    await io.set('od2', 'x', 'EX', 100);
    expect(await io.bitop('OR', 'od2', 'o1')).toBe(3);
    expect(await io.ttl('od2')).toBe(-1);
    expect(await io.bitop('OR', 'od2', 'missing-o', 'missing-o2')).toBe(0);
    expect(await io.exists('od2')).toBe(0);
    expect(await err(io.bitop('NOT', 'od2', 'o1', 'o2'))).toBe('ERR BITOP NOT must be called with a single source key.');
    expect(await err(io.bitop('NAND', 'od2', 'o1'))).toBe('ERR syntax error');
    await io.rpush('o-list', 'x');
    expect(await err(io.bitop('AND', 'od2', 'o1', 'o-list'))).toBe(WRONGTYPE);
    // The destination may hold any type: it is overwritten.
    expect(await io.bitop('AND', 'o-list', 'o1')).toBe(3);
    expect(await io.type('o-list')).toBe('string');
  });
});

describe('BITFIELD / BITFIELD_RO', () => {
  it('GET SET INCRBY with signed and unsigned types and #offsets', async () => {
    await io.del('f1');
    expect(await io.call('BITFIELD', 'f1', 'SET', 'i8', '0', '-100', 'GET', 'i8', '0', 'GET', 'u8', '0')).toEqual([0, -100, 156]);
    // 156 = 0x9c: the u4 at bit 4 is 12; 12 + 5 wraps to 1.
    expect(await io.call('BITFIELD', 'f1', 'INCRBY', 'u4', '#1', '5', 'GET', 'u4', '4')).toEqual([1, 1]);
    expect(await io.call('BITFIELD', 'f1', 'SET', 'u8', '#5', '255', 'GET', 'u8', '40')).toEqual([0, 255]);
    expect(await io.strlen('f1')).toBe(6);
    expect(await io.call('BITFIELD', 'f1')).toEqual([]);
    expect(await io.call('BITFIELD_RO', 'f1', 'GET', 'u8', '#5', 'GET', 'i8', '#5', 'GET', 'u1', '47')).toEqual([255, -1, 1]);
  });

  it('64-bit fields are exact (node-redis, RESP3)', async () => {
    const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await c.connect();
    try {
      await c.del('f2');
      const r = redisCli(node.port, ['BITFIELD', 'f2', 'SET', 'i64', '0', '-9223372036854775808', 'GET', 'i64', '0', 'SET', 'u63', '64', '9223372036854775807', 'GET', 'u63', '64']);
      expect(r.stdout.split('\n')).toEqual(['0', '-9223372036854775808', '0', '9223372036854775807']);
      expect(await c.sendCommand(['BITFIELD', 'f2', 'OVERFLOW', 'FAIL', 'INCRBY', 'i64', '0', '-1', 'OVERFLOW', 'WRAP', 'INCRBY', 'i64', '0', '-1'])).toEqual([null, 9223372036854775807]);
    } finally {
      await c.quit();
    }
  });

  it('OVERFLOW WRAP SAT FAIL', async () => {
    await io.del('f3');
    expect(await io.call('BITFIELD', 'f3', 'INCRBY', 'u2', '0', '5')).toEqual([1]);
    expect(await io.call('BITFIELD', 'f3', 'OVERFLOW', 'SAT', 'INCRBY', 'u2', '0', '5', 'INCRBY', 'u2', '0', '-10')).toEqual([3, 0]);
    expect(await io.call('BITFIELD', 'f3', 'OVERFLOW', 'FAIL', 'INCRBY', 'u2', '0', '4', 'INCRBY', 'u2', '0', '3')).toEqual([null, 3]);
    expect(await io.call('BITFIELD', 'f3', 'OVERFLOW', 'SAT', 'SET', 'i4', '0', '100', 'GET', 'i4', '0', 'SET', 'i4', '0', '-100', 'GET', 'i4', '0')).toEqual([-4, 7, 7, -8]);
    expect(await io.call('BITFIELD', 'f3', 'OVERFLOW', 'WRAP', 'SET', 'i4', '0', '9', 'GET', 'i4', '0')).toEqual([-8, -7]);
    // Unsigned SET of a negative value overflows (it is the uint64 of the value).
    expect(await io.call('BITFIELD', 'f3', 'OVERFLOW', 'SAT', 'SET', 'u8', '0', '-1', 'GET', 'u8', '0')).toEqual([0x90, 255]);
  });

  it('errors and BITFIELD_RO restrictions', async () => {
    await io.set('f4', 'x');
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'u64', '0'))).toBe(TYPE_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'i65', '0'))).toBe(TYPE_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'I8', '0'))).toBe(TYPE_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'u0', '0'))).toBe(TYPE_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'u8', '-1'))).toBe(OFFSET_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'u8', '#-1'))).toBe(OFFSET_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'u8', '4294967296'))).toBe(OFFSET_ERR);
    expect(await err(io.call('BITFIELD', 'f4', 'GET', 'u8'))).toBe('ERR syntax error');
    expect(await err(io.call('BITFIELD', 'f4', 'FOO'))).toBe('ERR syntax error');
    expect(await err(io.call('BITFIELD', 'f4', 'SET', 'u8', '0', 'x'))).toBe(NOT_INT);
    expect(await err(io.call('BITFIELD', 'f4', 'OVERFLOW', 'FOO', 'GET', 'u8', '0'))).toBe('ERR Invalid OVERFLOW type specified');
    expect(await err(io.call('BITFIELD_RO', 'f4', 'SET', 'u8', '0', '1'))).toBe('ERR BITFIELD_RO only supports the GET subcommand');
    expect(await err(io.call('BITFIELD_RO', 'f4', 'INCRBY', 'u8', '0', '1'))).toBe('ERR BITFIELD_RO only supports the GET subcommand');
    expect(await io.get('f4')).toBe('x');
    await io.rpush('f-list', 'x');
    expect(await err(io.call('BITFIELD', 'f-list', 'GET', 'u8', '0'))).toBe(WRONGTYPE);
    expect(await err(io.call('BITFIELD', 'f-list', 'SET', 'u8', '0', '1'))).toBe(WRONGTYPE);
  });
});

describe('COMMAND INFO metadata', () => {
  it('flags and key specs match Redis', () => {
    const info = redisCli(node.port, ['COMMAND', 'INFO', 'setbit', 'bitop', 'bitfield_ro']).stdout;
    if (info.startsWith('ERR')) throw new Error(`COMMAND INFO unavailable: ${info}`);
    expect(info).toContain('setbit\n4\nwrite\ndenyoom\n1\n1\n1\n@write\n@bitmap\n@slow');
    expect(info).toContain('bitop\n-4\nwrite\ndenyoom\n2\n-1\n1\n@write\n@bitmap\n@slow');
    expect(info).toContain('bitfield_ro\n-2\nreadonly\nfast\n1\n1\n1\n@read\n@bitmap\n@fast');
  });
});

describe('notifications', () => {
  it('setbit only when something changed; bitfield on writes; bitop set/del', async () => {
    const sub = new Redis({ port: node.port });
    await io.config('SET', 'notify-keyspace-events', 'KEA');
    const events: string[] = [];
    sub.on('pmessage', (_p, ch, msg) => events.push(`${ch.replace('__keyevent@0__:', '')} ${msg}`));
    await sub.psubscribe('__keyevent@0__:*');
    try {
      await io.del('nb', 'nd');
      await io.setbit('nb', 7, 1); // created
      await io.setbit('nb', 7, 1); // unchanged: no event
      await io.setbit('nb', 7, 0); // changed
      await io.setbit('nb', 7, 0); // unchanged
      await io.setbit('nb', 30, 0); // grew
      await io.call('BITFIELD', 'nb', 'GET', 'u8', '0');
      await io.call('BITFIELD', 'nb', 'SET', 'u8', '0', '1');
      await io.call('BITFIELD', 'nb', 'OVERFLOW', 'FAIL', 'INCRBY', 'u2', '0', '100');
      await io.bitop('AND', 'nd', 'missing-n');
      await io.bitop('OR', 'nd', 'nb');
      await io.bitop('AND', 'nd', 'missing-n');
      await io.set('done-n', '1');
      await waitFor(() => events.includes('set done-n'));
      expect(events).toEqual(['setbit nb', 'setbit nb', 'setbit nb', 'setbit nb', 'set nd', 'del nd', 'set done-n']);
    } finally {
      await io.config('SET', 'notify-keyspace-events', '');
      sub.disconnect();
    }
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

const BYTES = (...b: number[]) => String.fromCharCode(...b);

const FIXED_SCRIPT: string[][] = [
  ['SET', 'z', BYTES(0xff, 0xff)],
  ['SET', 'm', BYTES(0x00, 0xff, 0xf0, 0x0f, 0x80, 0x01)],
  ['SET', 'e', ''],
  ...['z', 'm', 'e', 'nokey'].flatMap((k) => [
    ['BITPOS', k, '0'],
    ['BITPOS', k, '1'],
    ...['0', '1'].flatMap((bit) =>
      [
        ['0'],
        ['1'],
        ['-1'],
        ['0', '-1'],
        ['1', '2'],
        ['-3', '-1'],
        ['5', '2'],
        ['0', '-1', 'BIT'],
        ['0', '-1', 'BYTE'],
        ['3', '12', 'BIT'],
        ['9', '9', 'bit'],
        ['7', '8', 'BIT'],
        ['-5', '-1', 'BIT'],
        ['-1', '-5', 'BIT'],
        ['13', '13', 'BIT'],
        ['100', '200', 'BIT'],
        ['0', '1000', 'BIT'],
        ['-100', '1000', 'BIT'],
        ['0', '0', 'FOO'],
        ['x', '0', 'FOO'],
        ['0', 'x', 'FOO'],
        ['0', 'x'],
        ['-9223372036854775808', '9223372036854775807', 'BIT'],
      ].map((r) => ['BITPOS', k, bit, ...r]),
    ),
    ['BITPOS', k, '2'],
    ['BITPOS', k, '-1'],
    ['BITPOS', k, 'x'],
    ['BITPOS', k, '0', '0', '1', 'BIT', 'x'],
    ['BITCOUNT', k],
    ...[
      ['0', '-1'],
      ['1', '1'],
      ['-1', '-2'],
      ['-2', '-1'],
      ['0', '-1', 'BIT'],
      ['5', '30', 'BIT'],
      ['-7', '-1', 'BIT'],
      ['-1', '-7', 'BIT'],
      ['9', '9', 'BIT'],
      ['0', '1000', 'BIT'],
      ['0', '0', 'FOO'],
      ['0'],
      ['x', 'y'],
      ['-9223372036854775807', '-9223372036854775808'],
      ['-9223372036854775808', '-9223372036854775807', 'BIT'],
      ['0', '1', 'BYTE', 'x'],
    ].map((r) => ['BITCOUNT', k, ...r]),
    ['GETBIT', k, '0'],
    ['GETBIT', k, '15'],
    ['GETBIT', k, '4294967295'],
    ['GETBIT', k, '4294967296'],
    ['GETBIT', k, '-1'],
    ['GETBIT', k, '01'],
  ]),
  ['SETBIT', 's', '0', '1'],
  ['SETBIT', 's', '0', '1'],
  ['SETBIT', 's', '01', '1'],
  ['SETBIT', 's', '1', '01'],
  ['SETBIT', 's', '1', '2'],
  ['SETBIT', 's', '1', '-0'],
  ['SETBIT', 's', '9', '1'],
  ['GET', 's'],
  ['BITOP', 'AND', 'd', 'm', 'z'],
  ['GET', 'd'],
  ['BITOP', 'OR', 'd', 'm', 'z', 'nokey'],
  ['GET', 'd'],
  ['BITOP', 'XOR', 'd', 'm', 'z', 'm'],
  ['GET', 'd'],
  ['BITOP', 'NOT', 'd', 'm'],
  ['GET', 'd'],
  ['BITOP', 'NOT', 'd', 'e'],
  ['EXISTS', 'd'],
  ['BITOP', 'NOT', 'd', 'm', 'z'],
  ['BITOP', 'nand', 'd', 'm'],
  ['BITOP', 'AND', 'd', 'nokey', 'm'],
  ['GET', 'd'],
  ['BITFIELD', 'nokey'],
  ['BITFIELD', 'nokey', 'GET', 'u8', '0'],
  ['EXISTS', 'nokey'],
  ['BITFIELD', 'bf', 'OVERFLOW', 'FAIL', 'INCRBY', 'u2', '100', '100'],
  ['GET', 'bf'],
  ['BITFIELD', 'bf', 'SET', 'i64', '0', '-9223372036854775808', 'INCRBY', 'i64', '0', '-1', 'GET', 'u63', '0', 'GET', 'i64', '0'],
  ['BITFIELD', 'bf', 'OVERFLOW', 'SAT', 'INCRBY', 'i64', '0', '-1', 'INCRBY', 'i64', '0', '9223372036854775807', 'INCRBY', 'i64', '0', '9223372036854775807'],
  ['BITFIELD', 'bf', 'OVERFLOW', 'FAIL', 'INCRBY', 'i64', '0', '1', 'INCRBY', 'u63', '0', '1', 'SET', 'u63', '0', '-1'],
  ['BITFIELD', 'bf', 'OVERFLOW', 'WRAP', 'SET', 'u63', '3', '-1', 'GET', 'u63', '3', 'SET', 'u1', '#100', '3', 'GET', 'u1', '#100'],
  ['BITFIELD', 'bf', 'OVERFLOW', 'SAT', 'SET', 'u8', '0', '-1', 'SET', 'u8', '0', '256', 'SET', 'i8', '0', '-129', 'SET', 'i8', '0', '128'],
  ['BITFIELD', 'bf', 'GET', 'i1', '0', 'SET', 'i1', '0', '-1', 'GET', 'i1', '0', 'INCRBY', 'i1', '0', '1', 'INCRBY', 'u1', '0', '-1'],
  ['BITFIELD', 'bf', 'GET', 'u63', '#2305843009213693952'],
  ['BITFIELD', 'bf', 'GET', 'u8', '#536870912'],
  ['BITFIELD', 'bf', 'GET', 'u8', '#536870911'],
  ['BITFIELD', 'bf', 'GET', 'u8', '#'],
  ['BITFIELD', 'bf', 'GET', 'u8', '#1x'],
  ['BITFIELD', 'bf', 'GET', 'i8', '#-0'],
  ['BITFIELD', 'bf', 'GET', 'u8', '0', 'OVERFLOW'],
  ['BITFIELD', 'bf', 'overflow', 'sat', 'get', 'u8', '0', 'set', 'u8', '0', '1', 'incrby', 'u8', '0', '1'],
  ['BITFIELD', 'bf', 'SET', 'u8', '0', '9223372036854775808'],
  ['BITFIELD', 'bf', 'INCRBY', 'u8', '0'],
  ['BITFIELD', 'bf', 'GET', 'u', '0'],
  ['BITFIELD', 'bf', 'GET', 'u08', '0'],
  ['BITFIELD', 'bf', 'GET', 'x8', '0'],
  ['BITFIELD_RO', 'bf', 'GET', 'u8', '0', 'SET', 'u8', '0', '1'],
  ['BITFIELD_RO', 'bf', 'GET', 'u8', '0', 'OVERFLOW', 'FAIL'],
  ['BITFIELD_RO', 'bf'],
  ['GET', 'bf'],
  ['RPUSH', 'list', 'x'],
  ['BITFIELD', 'list', 'GET', 'u8', 'x'],
  ['BITFIELD', 'list', 'GET', 'u8', '0'],
  ['BITFIELD_RO', 'list', 'GET', 'u8', '0'],
  ['BITFIELD', 'list', 'SET', 'u8', '0', '1'],
  ['BITOP', 'AND', 'd', 'm', 'list'],
  ['BITOP', 'AND', 'list', 'm'],
  ['TYPE', 'list'],
  ['RPUSH', 'list2', 'x'],
  ['SETBIT', 'list2', 'x', '1'],
  ['SETBIT', 'list2', '0', '1'],
  ['GETBIT', 'list2', '0'],
  ['BITCOUNT', 'list2', 'x'],
  ['BITPOS', 'list2', '3'],
  ['BITPOS', 'list2', '1'],
];

/** Random bitmap commands over a few keys; seeded so failures reproduce. */
function randomScript(seed: number, n: number): string[][] {
  const r = new Prng(seed);
  const keys = ['k0', 'k1', 'k2', 'k3'];
  const key = () => r.pick(keys);
  const bytes = () => {
    const len = r.int(0, 10);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(r.pick([0, 0xff, 0x80, 0x01, 0x0f, 0xf0, r.int(0, 255), r.int(0, 255)]));
    return s;
  };
  const smallIdx = () => String(r.int(-90, 90));
  const types = ['u1', 'u2', 'u3', 'u7', 'u8', 'u9', 'u15', 'u16', 'u31', 'u32', 'u33', 'u48', 'u63', 'i1', 'i2', 'i5', 'i8', 'i13', 'i16', 'i32', 'i33', 'i53', 'i63', 'i64'];
  const bigs = ['0', '1', '-1', '127', '-128', '255', '256', '65535', '-65536', '2147483647', '-2147483649', '4294967296', '9007199254740993', '9223372036854775807', '-9223372036854775808', '-4611686018427387905'];
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    switch (r.int(0, 11)) {
      case 0:
        out.push(['SET', key(), bytes()]);
        break;
      case 1:
        out.push(['SETBIT', key(), String(r.int(0, 100)), r.pick(['0', '1'])]);
        break;
      case 2:
        out.push(['GETBIT', key(), String(r.int(0, 100))]);
        break;
      case 3: {
        const extra = r.pick([[], [smallIdx(), smallIdx()], [smallIdx(), smallIdx(), r.pick(['BIT', 'BYTE'])]]);
        out.push(['BITCOUNT', key(), ...extra]);
        break;
      }
      case 4:
      case 5: {
        const extra = r.pick([[], [smallIdx()], [smallIdx(), smallIdx()], [smallIdx(), smallIdx(), r.pick(['BIT', 'BYTE'])]]);
        out.push(['BITPOS', key(), r.pick(['0', '1']), ...extra]);
        break;
      }
      case 6: {
        const op = r.pick(['AND', 'OR', 'XOR', 'NOT']);
        out.push(op === 'NOT' ? ['BITOP', op, key(), key()] : ['BITOP', op, key(), key(), key(), ...(r.chance(0.5) ? [key()] : [])]);
        break;
      }
      case 7:
      case 8:
      case 9: {
        const cmd = [r.chance(0.15) ? 'BITFIELD_RO' : 'BITFIELD', key()];
        const nops = r.int(1, 4);
        for (let j = 0; j < nops; j++) {
          const t = r.pick(types);
          const off = r.chance(0.3) ? `#${r.int(0, 4)}` : String(r.int(0, 70));
          switch (r.int(0, 3)) {
            case 0:
              cmd.push('GET', t, off);
              break;
            case 1:
              cmd.push('SET', t, off, r.pick(bigs));
              break;
            case 2:
              cmd.push('INCRBY', t, off, r.pick(bigs));
              break;
            default:
              cmd.push('OVERFLOW', r.pick(['WRAP', 'SAT', 'FAIL']));
          }
        }
        out.push(cmd);
        break;
      }
      case 10:
        out.push(['GET', key()]);
        break;
      default:
        out.push(r.chance(0.5) ? ['DEL', key()] : ['RPUSH', key(), 'x']);
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
        expect(await diffScript(ours, theirs, FIXED_SCRIPT)).toEqual([]);
        await ours.send([['FLUSHDB']]);
        await theirs.send([['FLUSHDB']]);
        expect(await diffScript(ours, theirs, randomScript(2000 + proto, 6000))).toEqual([]);
        const dump = [['MGET', 'k0', 'k1', 'k2', 'k3'], ['TYPE', 'k0'], ['TYPE', 'k1'], ['TYPE', 'k2'], ['TYPE', 'k3']];
        expect(await diffScript(ours, theirs, dump)).toEqual([]);
        // Keyspace hit/miss accounting: reads count, write lookups do not.
        const reads = [
          ['CONFIG', 'RESETSTAT'],
          ['SETBIT', 'h1', '3', '1'],
          ['GETBIT', 'h1', '3'],
          ['GETBIT', 'nokey', '3'],
          ['BITCOUNT', 'h1'],
          ['BITCOUNT', 'nokey'],
          ['BITPOS', 'h1', '1'],
          ['BITPOS', 'nokey', '1'],
          ['BITOP', 'OR', 'h2', 'h1', 'nokey'],
          ['BITFIELD', 'h1', 'GET', 'u8', '0'],
          ['BITFIELD', 'nokey', 'GET', 'u8', '0'],
          ['BITFIELD_RO', 'h1', 'GET', 'u8', '0'],
          ['BITFIELD', 'h1', 'SET', 'u8', '0', '1'],
          ['BITFIELD', 'h3', 'INCRBY', 'u8', '0', '1'],
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
        const info = 'setbit getbit bitcount bitpos bitop bitfield bitfield_ro'.split(' ').map((c) => ['COMMAND', 'INFO', c]);
        expect(await diffScript(ours, theirs, info)).toEqual([]);
      } finally {
        ours.close();
        theirs.close();
      }
    });
  }
});
