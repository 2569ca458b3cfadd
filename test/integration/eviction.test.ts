import { afterAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startNode } from '../helpers/node';

const clients: Redis[] = [];
afterAll(() => clients.forEach((c) => c.disconnect()));

async function nodeWith(args: string[]): Promise<Redis> {
  const node = await startNode(args);
  const r = new Redis({ port: node.port, enableReadyCheck: false });
  clients.push(r);
  return r;
}

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

const value = 'v'.repeat(1000);

describe('maxmemory and eviction', () => {
  it('noeviction answers OOM for writes once full, reads and deletes still work', async () => {
    const r = await nodeWith(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
    let oom: Error | null = null;
    for (let i = 0; i < 5000 && !oom; i++) {
      try {
        await r.set(`k${i}`, value);
      } catch (e) {
        oom = e as Error;
      }
    }
    expect(oom?.message).toBe("OOM command not allowed when used memory > 'maxmemory'.");
    expect(await r.get('k0')).toBe(value);
    expect(await r.del('k0', 'k1', 'k2')).toBe(3);
    expect(await r.set('small', 'x')).toBe('OK');
  });

  it('allkeys-lru keeps memory under the limit and keeps recently used keys', async () => {
    const r = await nodeWith(['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lru', '--maxmemory-samples', '10']);
    await r.set('hot', value);
    for (let i = 0; i < 6000; i++) {
      await r.set(`k${i}`, value);
      if (i % 50 === 0) await r.get('hot');
    }
    const size = await r.dbsize();
    expect(size).toBeLessThan(6000);
    expect(size).toBeGreaterThan(500);
    // As in Redis, the limit is enforced before each write, so the last write may overshoot by its own size.
    expect(usedMemory(await r.info('memory'))).toBeLessThanOrEqual(2 * 1024 * 1024 + 4096);
    expect(await r.get('hot')).toBe(value);
    expect(Number(/evicted_keys:(\d+)/.exec(await r.info('stats'))![1])).toBeGreaterThan(0);
  });

  it('allkeys-lfu keeps frequently used keys', async () => {
    const r = await nodeWith(['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-lfu']);
    await r.set('freq', value);
    for (let i = 0; i < 200; i++) await r.get('freq');
    for (let i = 0; i < 6000; i++) await r.set(`k${i}`, value);
    expect(await r.get('freq')).toBe(value);
    expect(Number(await r.object('FREQ', 'freq'))).toBeGreaterThan(5);
  });

  it('volatile-ttl evicts only keys with a TTL, soonest first; OOM when none left', async () => {
    const r = await nodeWith(['--maxmemory', '2mb', '--maxmemory-policy', 'volatile-ttl']);
    for (let i = 0; i < 800; i++) await r.set(`persistent${i}`, value);
    for (let i = 0; i < 3000; i++) await r.set(`ttl${i}`, value, 'EX', 1000 + i);
    for (let i = 0; i < 800; i++) expect(await r.exists(`persistent${i}`)).toBe(1);
    // The keys expiring last are the ones kept.
    expect(await r.exists('ttl2999')).toBe(1);
    expect(await r.exists('ttl0')).toBe(0);
    let oom: Error | null = null;
    for (let i = 0; i < 5000 && !oom; i++) await r.set(`more${i}`, value).catch((e) => (oom = e));
    expect(oom).not.toBeNull();
  });

  it('volatile-lru and volatile-random evict only keys with a TTL (LRU: the least recently used of them)', async () => {
    for (const policy of ['volatile-lru', 'volatile-random']) {
      const r = await nodeWith(['--maxmemory', '2mb', '--maxmemory-policy', policy]);
      for (let i = 0; i < 500; i++) await r.set(`persistent${i}`, value);
      await r.set('hot', value, 'EX', 10_000);
      // Keys restored as idle for 1000 s are all older than 'hot' (kept fresh by reads), so under LRU
      // 'hot' is never the best candidate; with SETs alone many keys share one 10 ms LRU tick with it and
      // the sampled approximation (as in Redis) may pick it on a tie.
      await r.set('seed', value);
      const payload = await r.dumpBuffer('seed');
      await r.del('seed');
      for (let i = 0; i < 4000; i++) {
        await r.restore(`ttl${i}`, 10_000_000, payload, 'IDLETIME', 1000);
        if (policy === 'volatile-lru' && i % 50 === 0) await r.get('hot');
      }
      for (let i = 0; i < 500; i++) expect(await r.exists(`persistent${i}`)).toBe(1);
      expect(await r.dbsize()).toBeLessThan(4501);
      if (policy === 'volatile-lru') expect(await r.get('hot')).toBe(value);
      expect(usedMemory(await r.info('memory'))).toBeLessThanOrEqual(2 * 1024 * 1024 + 4096);
    }
  });

  it('allkeys-random evicts something to make room', async () => {
    const r = await nodeWith(['--maxmemory', '2mb', '--maxmemory-policy', 'allkeys-random']);
    for (let i = 0; i < 6000; i++) await r.set(`k${i}`, value);
    expect(await r.dbsize()).toBeLessThan(6000);
    // As in Redis, the limit is enforced before each write, so the last write may overshoot by its own size.
    expect(usedMemory(await r.info('memory'))).toBeLessThanOrEqual(2 * 1024 * 1024 + 4096);
  });
});
