import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, redisCli, type NodeHandle } from '../helpers/node';

describe('a node answers real clients', () => {
  let node: NodeHandle;
  let io: Redis;
  beforeAll(async () => {
    node = await startNode();
    io = new Redis({ port: node.port, lazyConnect: true });
    await io.connect();
  });
  afterAll(async () => {
    io.disconnect();
  });

  it('ioredis SET/GET round-trips binary-safe values', async () => {
    const bin = Buffer.from([0, 1, 2, 255, 13, 10, 36]);
    expect(await io.set('bin', bin)).toBe('OK');
    expect(await io.getBuffer('bin')).toEqual(bin);
    expect(await io.set('héllo', 'wörld')).toBe('OK');
    expect(await io.get('héllo')).toBe('wörld');
  });

  it('node-redis works with RESP2 and RESP3', async () => {
    for (const RESP of [2, 3] as const) {
      const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP });
      await c.connect();
      await c.set(`k${RESP}`, 'v');
      expect(await c.get(`k${RESP}`)).toBe('v');
      await c.quit();
    }
  });

  it('redis-cli reports errors with Redis wording', () => {
    expect(redisCli(node.port, ['nosuchcmd', 'a', 'b']).stdout).toBe("ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b' ");
    expect(redisCli(node.port, ['get']).stdout).toBe("ERR wrong number of arguments for 'get' command");
    expect(redisCli(node.port, ['set', 'a', 'b', 'XX', 'NX']).stdout).toBe('ERR syntax error');
  });
});
