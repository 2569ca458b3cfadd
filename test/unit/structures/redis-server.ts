/**
 * Starts a throwaway redis-server on a unix socket for live comparisons. Throws (never skips) when
 * redis-server is not installed: these suites exist to compare with the real thing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

export interface LiveRedis {
  client: Redis;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<LiveRedis> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || which.stdout.trim() === '') {
    throw new Error('redis-server is not installed (apt-get install redis-server): the live comparison cannot run');
  }
  const dir = mkdtempSync(join(tmpdir(), 'structures-redis-'));
  const sock = join(dir, 'redis.sock');
  const server: ChildProcess = spawn(
    which.stdout.trim(),
    ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => server.once('exit', r));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = new Redis({ path: sock, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      return {
        client: c,
        stop: async () => {
          c.disconnect();
          await stop();
        },
      };
    } catch {
      c.disconnect();
      if (Date.now() > deadline) {
        await stop();
        throw new Error('redis-server did not start on ' + sock);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
