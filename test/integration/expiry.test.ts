/**
 * Key expiry as a client observes it: millisecond precision, TTL/PTTL values and rounding, lazy
 * expiry (expired keys are invisible to every read even before they are reclaimed) and the active
 * expire cycle (keys with a TTL disappear without ever being accessed: DBSIZE and SCAN shrink,
 * "expired" keyspace events fire).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startNode, type NodeHandle } from '../helpers/node';

let node: NodeHandle;
let io: Redis;

beforeAll(async () => {
  node = await startNode();
  io = new Redis({ port: node.port, host: '127.0.0.1' });
});

afterAll(() => {
  io?.disconnect();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until cond() holds or the deadline passes; returns the elapsed ms (throws on timeout). */
async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

async function scanAll(c: Redis): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'COUNT', 100);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

describe('active expiry', () => {
  it('keys with a TTL disappear without being accessed; keys without one stay', async () => {
    await io.flushall();
    const t0 = Date.now();
    const pipe = io.pipeline();
    for (let i = 0; i < 300; i++) pipe.set(`tmp:${i}`, 'x', 'PX', 400 + (i % 200));
    for (let i = 0; i < 50; i++) pipe.set(`keep:${i}`, 'x');
    for (let i = 0; i < 20; i++) pipe.rpush(`tmplist:${i}`, 'a', 'b').pexpire(`tmplist:${i}`, 400);
    await pipe.exec();
    const size = await io.dbsize();
    // Before the first deadline everything is there (unless the machine stalled that long).
    if (Date.now() - t0 < 380) expect(size).toBe(370);
    // Nothing reads the tmp keys: only the active expire cycle can remove them.
    await until(async () => (await io.dbsize()) === 50, 5000, 'DBSIZE to drop to the 50 persistent keys');
    const keys = await scanAll(io);
    expect(keys.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `keep:${i}`).sort());
  });

  it('a large volatile population is reclaimed quickly', async () => {
    await io.flushall();
    const pipe = io.pipeline();
    for (let i = 0; i < 20000; i++) pipe.set(`bulk:${i}`, 'v', 'PX', 100);
    await pipe.exec();
    const elapsed = await until(async () => (await io.dbsize()) === 0, 5000, 'all 20000 keys to be reclaimed');
    expect(elapsed).toBeLessThan(5000);
  });

  it('emits "expired" keyspace events for keys nobody touches', async () => {
    await io.flushall();
    await io.config('SET', 'notify-keyspace-events', 'Ex');
    const sub = new Redis({ port: node.port, host: '127.0.0.1' });
    try {
      const got: string[] = [];
      sub.on('message', (_ch: string, key: string) => got.push(key));
      await sub.subscribe('__keyevent@0__:expired');
      await io.set('e1', 'v', 'PX', 60);
      await io.set('e2', 'v', 'PX', 80);
      await io.hset('e3', 'f', 'v');
      await io.pexpire('e3', 70);
      await io.set('e4', 'v'); // never expires
      await until(async () => got.length >= 3, 3000, 'three expired events');
      await sleep(100);
      expect(got.sort()).toEqual(['e1', 'e2', 'e3']);
    } finally {
      await io.config('SET', 'notify-keyspace-events', '');
      sub.disconnect();
    }
  });
});

describe('precision and TTL values', () => {
  it('PX 100: present well before the deadline, gone ~150 ms after it was set', async () => {
    await io.del('p');
    const t0 = Date.now();
    await io.set('p', 'v', 'PX', 100);
    const tSet = Date.now();
    await sleep(Math.max(0, t0 + 40 - Date.now()));
    const r = await io.get('p');
    // Only meaningful if this read got there before the deadline (the machine may be busy).
    if (Date.now() - t0 < 95) expect(r).toBe('v');
    await sleep(Math.max(0, tSet + 150 - Date.now()));
    expect(await io.get('p')).toBeNull();
    expect(await io.exists('p')).toBe(0);
    expect(await io.pttl('p')).toBe(-2);
  });

  it('PEXPIRE / PEXPIREAT have millisecond resolution', async () => {
    await io.set('q', 'v');
    const tSet = Date.now();
    await io.pexpire('q', 120);
    const pttl = await io.pttl('q');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(120);
    await sleep(Math.max(0, tSet + 170 - Date.now()));
    expect(await io.exists('q')).toBe(0);

    await io.set('q2', 'v');
    const at = Date.now() + 120;
    await io.pexpireat('q2', at);
    expect(await io.pexpiretime('q2')).toBe(at);
    await sleep(Math.max(0, at + 50 - Date.now()));
    expect(await io.get('q2')).toBeNull();
  });

  it('TTL rounds to the nearest second, PTTL counts down, -1 without TTL, -2 when missing', async () => {
    await io.set('t', 'v', 'PX', 3000);
    const p1 = await io.pttl('t');
    const t1 = await io.ttl('t');
    const p1b = await io.pttl('t');
    expect(p1).toBeGreaterThan(0);
    expect(p1).toBeLessThanOrEqual(3000);
    // TTL is (pttl + 500) / 1000 for a pttl between the two readings around it: 2.6 s reads as 3.
    expect(t1).toBeGreaterThanOrEqual(Math.floor((p1b + 500) / 1000));
    expect(t1).toBeLessThanOrEqual(Math.floor((p1 + 500) / 1000));
    await sleep(700);
    const p2 = await io.pttl('t');
    expect(p2).toBeLessThanOrEqual(p1b - 700);
    expect(p2).toBeGreaterThan(0);
    await io.set('t', 'v', 'EX', 100);
    expect(await io.ttl('t')).toBeGreaterThanOrEqual(99);
    expect(await io.ttl('t')).toBeLessThanOrEqual(100);
    expect(await io.persist('t')).toBe(1);
    expect(await io.ttl('t')).toBe(-1);
    expect(await io.pttl('t')).toBe(-1);
    expect(await io.ttl('never-set')).toBe(-2);
    await io.set('t', 'v', 'EX', 100);
    await io.set('t', 'overwritten');
    expect(await io.ttl('t')).toBe(-1);
  });

  it('a deadline in the past deletes the key at once', async () => {
    await io.set('old', 'v');
    expect(await io.expireat('old', Math.floor(Date.now() / 1000) - 10)).toBe(1);
    expect(await io.exists('old')).toBe(0);
    await io.set('old', 'v');
    expect(await io.pexpire('old', -1)).toBe(1);
    expect(await io.dbsize()).toBeGreaterThanOrEqual(0);
    expect(await io.get('old')).toBeNull();
  });

  it('RENAME / MOVE / COPY keep the deadline, which then still applies', async () => {
    await io.flushall();
    const t0 = Date.now();
    await io.set('r', 'v', 'PX', 400);
    await io.rename('r', 'r2');
    await io.set('m', 'v', 'PX', 400);
    await io.move('m', 1);
    await io.set('c', 'v', 'PX', 400);
    await io.copy('c', 'c2');
    const p = await io.pttl('r2');
    const pc = await io.pttl('c2');
    if (Date.now() - t0 < 380) {
      expect(p).toBeGreaterThan(0);
      expect(pc).toBeGreaterThan(0);
    }
    expect(p).toBeLessThanOrEqual(400);
    expect(pc).toBeLessThanOrEqual(400);
    await sleep(Math.max(0, t0 + 650 - Date.now()));
    expect(await io.exists('r2', 'c', 'c2')).toBe(0);
    const db1 = new Redis({ port: node.port, host: '127.0.0.1', db: 1 });
    try {
      expect(await db1.exists('m')).toBe(0);
    } finally {
      db1.disconnect();
    }
  });
});

describe('lazy expiry: expired keys are invisible before they are reclaimed', () => {
  it('with a slow active cycle (hz 1) every read path skips expired keys', async () => {
    const slow = await startNode(['--hz', '1']);
    const c = new Redis({ port: slow.port, host: '127.0.0.1' });
    try {
      const pipe = c.pipeline();
      for (let i = 0; i < 30; i++) pipe.set(`gone:${i}`, 'x', 'PX', 30);
      pipe.rpush('gonelist', 'a').pexpire('gonelist', 30);
      pipe.set('stay', 'x');
      await pipe.exec();
      await sleep(80);
      // Whatever the active cycle has or has not reclaimed yet, reads must not see expired keys.
      expect(await c.keys('*')).toEqual(['stay']);
      expect(await scanAll(c)).toEqual(['stay']);
      expect(await c.scan('0', 'COUNT', 1000, 'TYPE', 'list')).toEqual(['0', []]);
      expect(await c.exists('gone:1', 'gone:2', 'stay')).toBe(1);
      expect(await c.type('gone:3')).toBe('none');
      expect(await c.ttl('gone:4')).toBe(-2);
      expect(await c.get('gone:5')).toBeNull();
      expect(await c.lrange('gonelist', 0, -1)).toEqual([]);
      expect(await c.object('ENCODING', 'gone:6')).toBeNull();
      expect(await c.dump('gone:7')).toBeNull();
      expect(await c.expire('gone:8', 100)).toBe(0);
      expect(await c.persist('gone:9')).toBe(0);
      expect(await err(c.rename('gone:10', 'x'))).toBe('ERR no such key');
      expect(await c.copy('gone:11', 'x')).toBe(0);
      for (let i = 0; i < 20; i++) expect(await c.randomkey()).toBe('stay');
      // A write to an expired key starts from scratch (no old TTL, NX succeeds).
      expect(await c.set('gone:12', 'new', 'NX')).toBe('OK');
      expect(await c.ttl('gone:12')).toBe(-1);
      await until(async () => (await c.dbsize()) === 2, 4000, 'the slow cycle to reclaim the rest');
    } finally {
      c.disconnect();
      await slow.stop();
    }
  });
});

async function err(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
}
