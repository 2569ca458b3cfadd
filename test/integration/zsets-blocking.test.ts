/**
 * Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP): immediate answers, float timeouts,
 * wakeups by every kind of zset write from other connections, FIFO fairness, kept deadlines,
 * MULTI/EXEC, disconnects, real clients; plus, on an in-process server, what pops propagate
 * (BZPOPMIN -> ZPOPMIN, [B]ZMPOP -> ZPOPMIN key count) and exact memory accounting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, type NodeHandle } from '../helpers/node';
import { RawConn } from '../helpers/resp-diff';
import { Config } from '../../cluster-node/src/server/config';
import { Server } from '../../cluster-node/src/server/server';

let node: NodeHandle;
let io: Redis;
const extra: RawConn[] = [];

beforeAll(async () => {
  node = await startNode();
  io = new Redis({ port: node.port, lazyConnect: true });
  await io.connect();
});

afterAll(async () => {
  io.disconnect();
  for (const c of extra) c.close();
});

async function conn(resp: 2 | 3 = 2): Promise<RawConn> {
  const c = await RawConn.open({ port: node.port });
  extra.push(c);
  if (resp === 3) await c.send([['HELLO', '3']]);
  return c;
}

/** Start a blocking command on `c` without waiting for it; resolves with its raw reply. */
function start(c: RawConn, ...args: string[]): Promise<string> {
  return c.send([args]).then((r) => r[0]);
}

/** Wait until the server reports `n` blocked clients. */
async function blocked(n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const info = await io.info('clients');
    const m = /blocked_clients:(\d+)/.exec(info);
    if (m && Number(m[1]) === n) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never saw ${n} blocked clients`);
}

const b = (s: string) => `$${s.length}\r\n${s}\r\n`;

describe('served at once', () => {
  it('BZPOPMIN / BZPOPMAX reply [key, member, score] from the first non-empty key', async () => {
    await io.zadd('i2', 1, 'a', 2, 'b', 3, 'c');
    const c2 = await conn(2);
    const c3 = await conn(3);
    expect(await start(c2, 'BZPOPMIN', 'i1', 'i2', '0')).toBe(`*3\r\n${b('i2')}${b('a')}${b('1')}`);
    expect(await start(c3, 'BZPOPMAX', 'i1', 'i2', '0')).toBe(`*3\r\n${b('i2')}${b('c')},3\r\n`);
    expect(await io.bzpopmin('i2', 1)).toEqual(['i2', 'b', '2']);
    expect(await io.exists('i2')).toBe(0);
  });

  it('BZMPOP replies [key, [[member, score], ...]] and honours COUNT', async () => {
    await io.zadd('{j}2', 1, 'a', 2, 'b', 3, 'c');
    const c3 = await conn(3);
    expect(await start(c3, 'BZMPOP', '0', '2', '{j}1', '{j}2', 'MAX', 'COUNT', '2')).toBe(
      `*2\r\n${b('{j}2')}*2\r\n*2\r\n${b('c')},3\r\n*2\r\n${b('b')},2\r\n`,
    );
    expect(await io.call('bzmpop', 0, 1, '{j}2', 'MIN', 'COUNT', 5)).toEqual(['{j}2', [['a', '1']]]);
    expect(await io.exists('{j}2')).toBe(0);
  });

  it('errors: timeout, numkeys, count, wrong type', async () => {
    const err = async (...args: string[]) => (await io.call(args[0], ...args.slice(1)).catch((e: Error) => e.message)) as string;
    expect(await err('BZPOPMIN', 'e1', '-1')).toBe('ERR timeout is negative');
    expect(await err('BZPOPMIN', 'e1', 'abc')).toBe('ERR timeout is not a float or out of range');
    expect(await err('BZMPOP', 'x', '1', 'e1', 'MIN')).toBe('ERR timeout is not a float or out of range');
    expect(await err('BZMPOP', '-1', '1', 'e1', 'MIN')).toBe('ERR timeout is negative');
    // numkeys/direction/count are checked before the timeout, as in Redis.
    expect(await err('BZMPOP', 'x', '0', 'e1', 'MIN')).toBe('ERR numkeys should be greater than 0');
    expect(await err('BZMPOP', '0', '1', 'e1', 'UP')).toBe('ERR syntax error');
    expect(await err('BZMPOP', '0', '1', 'e1', 'MIN', 'COUNT', '0')).toBe('ERR count should be greater than 0');
    expect(await err('BZMPOP', '0', '3', 'e1', 'MIN')).toBe('ERR syntax error');
    expect(await err('BZPOPMIN', 'e1')).toBe("ERR wrong number of arguments for 'bzpopmin' command");
    await io.set('e-str', 'v');
    await io.zadd('e-z', 1, 'a');
    expect(await err('BZPOPMIN', 'e-str', 'e-z', '0')).toMatch(/^WRONGTYPE/);
    expect(await err('BZMPOP', '0', '2', 'e-str', 'e-z', 'MIN')).toMatch(/^WRONGTYPE/);
    expect(await io.zcard('e-z')).toBe(1);
  });
});

describe('timeouts', () => {
  it('float timeouts reply a null array (RESP2 *-1, RESP3 _) when they expire', async () => {
    const c2 = await conn(2);
    const c3 = await conn(3);
    const t0 = Date.now();
    const [r2, r3, r4] = await Promise.all([
      start(c2, 'BZPOPMIN', 't1', 't2', '0.15'),
      start(c3, 'BZPOPMAX', 't1', '.1'),
      start(c3, 'BZMPOP', '0.05', '1', 't1', 'MIN'),
    ]);
    const elapsed = Date.now() - t0;
    expect(r2).toBe('*-1\r\n');
    expect(r3).toBe('_\r\n');
    expect(r4).toBe('_\r\n');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2000);
    expect(await io.bzpopmin('t1', 0.05)).toBeNull();
  });

  it('a client re-blocked after losing the race keeps its original deadline', async () => {
    const a = await conn();
    const c = await conn();
    const t0 = Date.now();
    const pa = start(a, 'BZPOPMIN', 'race', '0.6');
    await blocked(1);
    const pc = start(c, 'BZPOPMIN', 'race', '0.6');
    await blocked(2);
    await new Promise((r) => setTimeout(r, 300));
    await io.zadd('race', 1, 'only');
    expect(await pa).toBe(`*3\r\n${b('race')}${b('only')}${b('1')}`);
    expect(await pc).toBe('*-1\r\n');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(850);
  });
});

describe('wakeups', () => {
  it('ZADD from another client wakes a waiter, which gets key, member and score', async () => {
    const w = await conn(3);
    const p = start(w, 'BZPOPMIN', 'w1', 'w2', '0');
    await blocked(1);
    await io.zadd('w2', 5, 'x', 7, 'y');
    expect(await p).toBe(`*3\r\n${b('w2')}${b('x')},5\r\n`);
    expect(await io.zrange('w2', 0, -1)).toEqual(['y']);
    await blocked(0);
  });

  it('waiters are served first come, first served; the rest stay blocked', async () => {
    const cs = [await conn(), await conn(), await conn()];
    const ps = [start(cs[0], 'BZPOPMAX', 'fifo', '0'), undefined, undefined] as (Promise<string> | undefined)[];
    await blocked(1);
    ps[1] = start(cs[1], 'BZPOPMAX', 'fifo', '0');
    await blocked(2);
    ps[2] = start(cs[2], 'BZPOPMAX', 'other', 'fifo', '0');
    await blocked(3);
    await io.zadd('fifo', 1, 'a', 2, 'b');
    expect(await ps[0]).toBe(`*3\r\n${b('fifo')}${b('b')}${b('2')}`);
    expect(await ps[1]).toBe(`*3\r\n${b('fifo')}${b('a')}${b('1')}`);
    await blocked(1);
    await io.zadd('other', 9, 'z');
    expect(await ps[2]).toBe(`*3\r\n${b('other')}${b('z')}${b('9')}`);
  });

  it('every zset write that creates a key wakes waiters', async () => {
    await io.zadd('{x}src', 1, 'a', 2, 'b');
    await io.sadd('{x}set', 'm');
    const writes: [string, (string | number)[]][] = [
      ['{x}k1', ['zincrby', '{x}k1', 3, 'm']],
      ['{x}k2', ['zadd', '{x}k2', 'INCR', 4, 'm']],
      ['{x}k3', ['zunionstore', '{x}k3', 1, '{x}src']],
      ['{x}k4', ['zinterstore', '{x}k4', 2, '{x}src', '{x}src']],
      ['{x}k5', ['zdiffstore', '{x}k5', 1, '{x}set']],
      ['{x}k6', ['zrangestore', '{x}k6', '{x}src', 1, 1]],
    ];
    const w = await conn();
    for (const [key, cmd] of writes) {
      const p = start(w, 'BZPOPMIN', key, '5');
      await blocked(1);
      await io.call(String(cmd[0]), ...cmd.slice(1));
      const r = await p;
      expect(r.startsWith(`*3\r\n${b(key)}`), `${cmd[0]} -> ${JSON.stringify(r)}`).toBe(true);
      await blocked(0);
    }
  });

  it('a write inside MULTI wakes waiters after EXEC, with the final state', async () => {
    const w = await conn();
    const p = start(w, 'BZMPOP', '0', '1', 'tx', 'MIN', 'COUNT', '10');
    await blocked(1);
    const res = await io.multi().zadd('tx', 1, 'a', 2, 'b', 3, 'c').zrem('tx', 'b').exec();
    expect(res).toEqual([
      [null, 3],
      [null, 1],
    ]);
    expect(await p).toBe(`*2\r\n${b('tx')}*2\r\n*2\r\n${b('a')}${b('1')}*2\r\n${b('c')}${b('3')}`);
    expect(await io.exists('tx')).toBe(0);
  });

  it('a waiter on several keys is woken by the one that gets data', async () => {
    const w = await conn();
    const p = start(w, 'BZMPOP', '10', '3', 'mk1', 'mk2', 'mk3', 'MAX');
    await blocked(1);
    await io.zadd('mk3', 1, 'a', 2, 'b');
    expect(await p).toBe(`*2\r\n${b('mk3')}*1\r\n*2\r\n${b('b')}${b('2')}`);
  });

  it('inside MULTI a blocking pop on empty keys answers at once like a timeout', async () => {
    const r = await io.multi().bzpopmin('mt', 0).call('bzmpop', 0, 1, 'mt', 'MIN').zadd('mt', 1, 'a').bzpopmax('mt', 0).exec();
    expect(r).toEqual([
      [null, null],
      [null, null],
      [null, 1],
      [null, ['mt', 'a', '1']],
    ]);
  });

  it('a disconnected waiter is forgotten; the data stays for the next reader', async () => {
    const w = new Redis({ port: node.port });
    void w.bzpopmin('gone', 0).catch(() => undefined);
    await blocked(1);
    w.disconnect();
    await blocked(0);
    await io.zadd('gone', 1, 'a');
    expect(await io.zcard('gone')).toBe(1);
  });

  it('CLIENT UNBLOCK answers a waiter as on timeout, or with an error', async () => {
    const w = await conn(3);
    const id = (await w.send([['CLIENT', 'ID']]))[0].slice(1, -2);
    const p = start(w, 'BZPOPMIN', 'ub', '0');
    await blocked(1);
    expect(await io.client('UNBLOCK', id)).toBe(1);
    expect(await p).toBe('_\r\n');
    const q = start(w, 'BZMPOP', '0', '1', 'ub', 'MAX');
    await blocked(1);
    expect(await io.client('UNBLOCK', id, 'ERROR')).toBe(1);
    expect((await q).startsWith('-UNBLOCKED')).toBe(true);
    await blocked(0);
  });

  it('node-redis RESP3 and ioredis see the usual shapes', async () => {
    const nr = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await nr.connect();
    const p = nr.bzPopMin('nr', 0);
    await blocked(1);
    await io.zadd('nr', 2.5, 'm');
    expect(await p).toEqual({ key: 'nr', value: 'm', score: 2.5 });
    expect(await nr.bzPopMax('nr', 0.05)).toBeNull();
    await nr.quit();
    const q = io.duplicate();
    const pq = q.bzpopmax('iq', 0);
    await blocked(1);
    await io.zadd('iq', 1, 'lo', 9, 'hi');
    expect(await pq).toEqual(['iq', 'hi', '9']);
    q.disconnect();
  });
});

describe('in-process: propagation and memory', () => {
  let server: Server;
  let c: Redis;
  let w: Redis;
  const log: string[] = [];
  const take = (): string[] => log.splice(0, log.length);

  beforeAll(async () => {
    server = new Server(Config.fromArgs(['--port', '0', '--bind', '127.0.0.1', '--loglevel', 'warning']));
    await server.listen();
    server.propagators.push((db, argv) => log.push([db, ...argv].join(' ')));
    c = new Redis({ port: server.boundPort(), host: '127.0.0.1' });
    w = new Redis({ port: server.boundPort(), host: '127.0.0.1' });
  });
  afterAll(async () => {
    c?.disconnect();
    w?.disconnect();
    await server?.close();
  });

  it('writes propagate as sent; reads and no-ops not at all', async () => {
    await c.zadd('p', 1, 'a', 2, 'b', 3, 'c', 4, 'd');
    await c.zincrby('p', 1, 'a');
    await c.zrem('p', 'd');
    await c.zpopmin('p');
    await c.zunionstore('{p}u', 1, '{p}none');
    await c.zadd('p', 'NX', 9, 'b');
    await c.zrem('p', 'nope');
    await c.zrange('p', 0, -1);
    await c.zpopmin('nope');
    await c.zremrangebyscore('p', 100, 200);
    await c.zadd('p', 'XX', 'GT', 1, 'b');
    expect(take()).toEqual(['0 zadd p 1 a 2 b 3 c 4 d', '0 zincrby p 1 a', '0 zrem p d', '0 zpopmin p']);
  });

  it('blocking pops and ZMPOP propagate as ZPOPMIN/ZPOPMAX, woken ones after the write that woke them', async () => {
    await c.zadd('q', 1, 'a', 2, 'b', 3, 'c', 4, 'd', 5, 'e');
    take();
    await c.bzpopmin('none', 'q', 0);
    await c.bzpopmax('q', 0);
    await c.call('zmpop', 2, 'none', 'q', 'MIN', 'COUNT', 2);
    await c.call('bzmpop', 0, 1, 'q', 'MAX', 'COUNT', 7);
    expect(take()).toEqual(['0 ZPOPMIN q', '0 ZPOPMAX q', '0 ZPOPMIN q 2', '0 ZPOPMAX q 7']);
    const p = w.bzpopmax('q2', 0);
    for (let i = 0; i < 200 && server.stats.blockedClients < 1; i++) await new Promise((r) => setTimeout(r, 5));
    await c.zadd('q2', 1, 'x', 2, 'y');
    expect(await p).toEqual(['q2', 'y', '2']);
    expect(take()).toEqual(['0 zadd q2 1 x 2 y', '0 ZPOPMAX q2']);
    await c.bzpopmin('q3', 0.02);
    await c.call('zmpop', 1, 'q3', 'MIN');
    await c.multi().bzpopmin('q3', 0).exec();
    expect(take()).toEqual([]);
  });

  it('memory accounting returns exactly to the baseline', async () => {
    const db = server.dbs[0];
    const base = db.used;
    const args: (string | number)[] = [];
    for (let i = 0; i < 2000; i++) args.push(i, `member-${i}`);
    await c.zadd('mem', ...args);
    const full = db.used;
    expect(full - base).toBeGreaterThan(2000 * 50);
    await c.zremrangebyrank('mem', 0, 999);
    expect(db.used).toBeLessThan(full - 1000 * 40);
    await c.zunionstore('mem2', 1, 'mem');
    await c.zrangestore('mem3', 'mem', 0, 9);
    await c.zrangestore('mem3', 'mem', 0, 99);
    await c.zpopmax('mem', 500);
    await c.zrem('mem', ...Array.from({ length: 500 }, (_, i) => `member-${1000 + i}`));
    expect(await c.exists('mem')).toBe(0);
    await c.zinterstore('mem2', 1, 'none');
    await c.zremrangebyscore('mem3', '-inf', '+inf');
    expect(db.used).toBe(base);
  });
});
