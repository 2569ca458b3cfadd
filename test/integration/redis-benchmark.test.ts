import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startNode } from '../helpers/node';

const TESTS = 'set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset';

describe('redis-benchmark runs to completion against a node', () => {
  it(`-t ${TESTS}`, async () => {
    const node = await startNode();
    for (const pipeline of ['1', '16']) {
      const r = spawnSync('redis-benchmark', ['-p', String(node.port), '-c', '20', '-n', '3000', '-P', pipeline, '-r', '1000', '-t', TESTS, '--csv'], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status).toBe(0);
      expect(r.stderr).not.toMatch(/error/i);
      const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.split('","')[0].replace(/"/g, ''));
      // A result row per requested test, each with a positive rate (LRANGE_100 is preceded by its own LPUSH fill).
      const names = rows.map((row) => row.split(' ')[0].toLowerCase());
      for (const t of TESTS.split(',')) expect(names).toContain(t);
      for (const line of r.stdout.trim().split('\n').slice(1)) expect(Number(line.split('","')[1])).toBeGreaterThan(0);
    }
    await node.stop();
  }, 180_000);
});
