import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { NODE_BIN, freePort } from '../helpers/node';

describe('configuration like redis-server', () => {
  it('reads a redis.conf file, then --name value overrides', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'node.conf');
    const port = await freePort();
    writeFileSync(
      file,
      ['# comment', `port ${port}`, 'bind 127.0.0.1', 'databases 4', 'maxmemory 64mb', 'maxmemory-policy allkeys-lru', 'requirepass "from-file"', ''].join('\n'),
    );
    // Spawned directly (not via startNode, which passes --port/--bind) so the file alone sets them.
    const { spawn } = await import('node:child_process');
    const proc = spawn(process.execPath, [NODE_BIN, file, '--requirepass', 'override'], { stdio: 'ignore' });
    try {
      let r: Redis | null = null;
      for (let i = 0; i < 100 && !r; i++) {
        await new Promise((res) => setTimeout(res, 50));
        const c = new Redis({ port, enableReadyCheck: false, lazyConnect: true, retryStrategy: () => null, password: 'override' });
        c.on('error', () => undefined);
        try {
          await c.connect();
          r = c;
        } catch {
          c.disconnect();
        }
      }
      expect(r).not.toBeNull();
      expect(await r!.select(3)).toBe('OK');
      await expect(r!.select(4)).rejects.toThrow('ERR DB index is out of range');
      r!.disconnect();
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('an unknown directive stops the node at start, naming the directive', () => {
    const r = spawnSync(process.execPath, [NODE_BIN, '--port', '0', '--no-such-directive', 'x'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("unknown directive 'no-such-directive'");
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'bad.conf');
    writeFileSync(file, 'port 0\nmaxmemmory 10mb\n');
    const r2 = spawnSync(process.execPath, [NODE_BIN, file], { encoding: 'utf8', timeout: 10_000 });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain("unknown directive 'maxmemmory'");
    expect(r2.stderr).toContain('line 2');
  });

  it('a bad value is refused with the reason', () => {
    const r = spawnSync(process.execPath, [NODE_BIN, '--port', '0', '--maxmemory-policy', 'sometimes'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Invalid value for 'maxmemory-policy'");
  });
});
