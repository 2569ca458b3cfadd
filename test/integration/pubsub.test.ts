import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, rawExchange, type NodeHandle } from '../helpers/node';

const opts = (port: number) => ({ port, enableReadyCheck: false, lazyConnect: true, maxRetriesPerRequest: 1 });

function nextMessage<T>(emitter: Redis, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: unknown[]) => resolve(args as T)));
}

describe('pub/sub', () => {
  let node: NodeHandle;
  const clients: Redis[] = [];
  const mk = async () => {
    const r = new Redis(opts(node.port));
    await r.connect();
    clients.push(r);
    return r;
  };
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(() => clients.forEach((c) => c.disconnect()));

  it('delivers PUBLISH to channel and pattern subscribers (RESP2, ioredis)', async () => {
    const sub = await mk();
    const pub = await mk();
    expect(await sub.subscribe('news', 'other')).toBe(2);
    expect(await sub.psubscribe('n*')).toBe(3);
    const msg = nextMessage<[string, string]>(sub, 'message');
    const pmsg = nextMessage<[string, string, string]>(sub, 'pmessage');
    expect(await pub.publish('news', 'hello')).toBe(2);
    expect(await msg).toEqual(['news', 'hello']);
    expect(await pmsg).toEqual(['n*', 'news', 'hello']);
    expect(await pub.pubsub('CHANNELS')).toEqual(expect.arrayContaining(['news', 'other']));
    expect(await pub.pubsub('NUMSUB', 'news', 'none')).toEqual(['news', 1, 'none', 0]);
    expect(await pub.pubsub('NUMPAT')).toBe(1);
    expect(await pub.publish('zzz-nobody', 'x')).toBe(0);
  });

  it('RESP2 subscribed mode only allows (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET', async () => {
    const { reply } = await rawExchange(
      node.port,
      '*2\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n*2\r\n$3\r\nget\r\n$1\r\nk\r\n*1\r\n$4\r\nping\r\n*1\r\n$11\r\nunsubscribe\r\n*1\r\n$4\r\nping\r\n',
    );
    expect(reply).toBe(
      '*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n' +
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
        '*2\r\n$4\r\npong\r\n$0\r\n\r\n' +
        '*3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n' +
        '+PONG\r\n',
    );
  });

  it('RESP3 clients get push messages and may run normal commands while subscribed', async () => {
    const sub = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    const pub = createClient({ socket: { port: node.port, host: '127.0.0.1' } });
    await Promise.all([sub.connect(), pub.connect()]);
    const got: string[] = [];
    await sub.subscribe('r3', (m) => got.push(m));
    await sub.pSubscribe('r*', (m, ch) => got.push(`p:${ch}:${m}`));
    expect(await sub.set('while-subscribed', '1')).toBe('OK');
    await pub.publish('r3', 'one');
    await new Promise((r) => setTimeout(r, 100));
    expect(got.sort()).toEqual(['one', 'p:r3:one']);
    const raw = await rawExchange(node.port, 'HELLO 3\r\nSUBSCRIBE x\r\n');
    expect(raw.reply).toContain('>3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n');
    await Promise.all([sub.quit(), pub.quit()]);
  });

  it('shard channels: SSUBSCRIBE / SPUBLISH / PUBSUB SHARDCHANNELS', async () => {
    const sub = await mk();
    const pub = await mk();
    await sub.ssubscribe('orders');
    const got = nextMessage<[string, string]>(sub, 'smessage');
    expect(await pub.spublish('orders', 'o1')).toBe(1);
    expect(await got).toEqual(['orders', 'o1']);
    expect(await pub.call('PUBSUB', 'SHARDCHANNELS')).toEqual(['orders']);
    expect(await pub.call('PUBSUB', 'SHARDNUMSUB', 'orders')).toEqual(['orders', 1]);
    // Classic PUBLISH does not reach shard subscribers.
    expect(await pub.publish('orders', 'x')).toBe(0);
  });

  it('keyspace notifications for the configured classes', async () => {
    const sub = await mk();
    const cmd = await mk();
    expect(await cmd.config('SET', 'notify-keyspace-events', 'KEA')).toBe('OK');
    await sub.psubscribe('__key*__:*');
    const events: string[] = [];
    sub.on('pmessage', (_p: string, ch: string, msg: string) => events.push(`${ch} ${msg}`));
    await cmd.set('nk', 'v');
    await cmd.set('nk2', 'v', 'PX', 50);
    await new Promise((r) => setTimeout(r, 400));
    await cmd.config('SET', 'notify-keyspace-events', '');
    expect(events).toContain('__keyspace@0__:nk set');
    expect(events).toContain('__keyevent@0__:set nk');
    expect(events).toContain('__keyevent@0__:expired nk2');
  });

  it('a subscriber that never reads is disconnected at the pubsub output limit, publishers are not stalled', async () => {
    const cmd = await mk();
    await cmd.config('SET', 'client-output-buffer-limit', 'pubsub 1048576 262144 1');
    const net = await import('node:net');
    const slow = net.connect({ port: node.port, host: '127.0.0.1' });
    await new Promise((r) => slow.once('connect', r));
    slow.write('SUBSCRIBE flood\r\n');
    await new Promise((r) => setTimeout(r, 100));
    slow.pause(); // never read again
    const payload = 'x'.repeat(64 * 1024);
    // Publishing never waits for the slow subscriber (a stall would hit the test timeout).
    for (let i = 0; i < 400; i++) await cmd.publish('flood', payload);
    await new Promise((r) => setTimeout(r, 200));
    expect(await cmd.pubsub('NUMSUB', 'flood')).toEqual(['flood', 0]);
    slow.destroy();
    expect(await cmd.ping()).toBe('PONG');
  });
});
