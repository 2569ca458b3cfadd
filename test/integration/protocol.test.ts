import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import Redis from 'ioredis';
import { startNode, rawExchange, type NodeHandle } from '../helpers/node';

/** A node must survive hostile input: reply with Redis's protocol errors, close, and keep serving others. */
describe('protocol handling and abuse', () => {
  let node: NodeHandle;
  let healthy: Redis;
  beforeAll(async () => {
    node = await startNode(['--proto-max-bulk-len', '2mb', '--client-query-buffer-limit', '4mb']);
    healthy = new Redis({ port: node.port, enableReadyCheck: false });
  });
  afterAll(() => healthy.disconnect());

  const stillServing = async () => {
    expect(await healthy.ping()).toBe('PONG');
    expect(node.proc.exitCode).toBeNull();
  };

  it('inline commands with quotes and escapes', async () => {
    const { reply } = await rawExchange(node.port, 'SET "inline key" "a\\x41\\n"\r\nGET "inline key"\r\nECHO \'it\\\'s\'\r\n\r\nPING\n');
    expect(reply).toBe('+OK\r\n$3\r\naA\n\r\n$4\r\nit\'s\r\n+PONG\r\n');
  });

  it('unbalanced quotes in an inline command', async () => {
    const r = await rawExchange(node.port, 'SET "abc\r\n');
    expect(r.reply).toBe('-ERR Protocol error: unbalanced quotes in request\r\n');
    expect(r.closed).toBe(true);
    await stillServing();
  });

  it("expected '$', got something else", async () => {
    const r = await rawExchange(node.port, '*1\r\n+PING\r\n');
    expect(r.reply).toBe("-ERR Protocol error: expected '$', got '+'\r\n");
    expect(r.closed).toBe(true);
  });

  it('invalid multibulk and bulk lengths', async () => {
    expect((await rawExchange(node.port, '*abc\r\n')).reply).toBe('-ERR Protocol error: invalid multibulk length\r\n');
    expect((await rawExchange(node.port, '*3000000000\r\n')).reply).toBe('-ERR Protocol error: invalid multibulk length\r\n');
    expect((await rawExchange(node.port, '*1\r\n$-5\r\n')).reply).toBe('-ERR Protocol error: invalid bulk length\r\n');
    // Above proto-max-bulk-len (2mb here).
    const r = await rawExchange(node.port, '*2\r\n$3\r\nGET\r\n$3000000\r\n');
    expect(r.reply).toBe('-ERR Protocol error: invalid bulk length\r\n');
    expect(r.closed).toBe(true);
    await stillServing();
  });

  it('too big inline request and mbulk count string', async () => {
    expect((await rawExchange(node.port, 'A'.repeat(70 * 1024), 800)).reply).toBe('-ERR Protocol error: too big inline request\r\n');
    expect((await rawExchange(node.port, '*' + '1'.repeat(70 * 1024), 800)).reply).toBe('-ERR Protocol error: too big mbulk count string\r\n');
    await stillServing();
  });

  it('a huge declared multibulk count does not allocate up front', async () => {
    const before = await healthy.ping();
    const r = await rawExchange(node.port, '*1000000\r\n$4\r\nPING\r\n', 300);
    expect(r.closed).toBe(false); // waiting for the rest, not crashed
    expect(before).toBe('PONG');
    await stillServing();
  });

  it('closes a client whose partial command exceeds client-query-buffer-limit', async () => {
    const s = net.connect({ port: node.port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise<boolean>((resolve) => s.once('close', () => resolve(true)));
    s.on('error', () => undefined);
    // Many 1.5 MiB bulks of one command: each is within proto-max-bulk-len but together beyond 4mb.
    s.write('*10\r\n');
    const chunk = Buffer.alloc(1536 * 1024, 0x61);
    for (let i = 0; i < 5; i++) {
      s.write(`$${chunk.length}\r\n`);
      s.write(chunk);
      s.write('\r\n');
    }
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 5000))])).toBe(true);
    await stillServing();
  });

  it('truncated frames wait for the rest, then complete', async () => {
    const s = net.connect({ port: node.port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    const frame = '*3\r\n$3\r\nSET\r\n$5\r\ntrunc\r\n$10\r\n0123456789\r\n*2\r\n$3\r\nGET\r\n$5\r\ntrunc\r\n';
    for (const ch of frame) {
      s.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe('+OK\r\n$10\r\n0123456789\r\n');
    s.destroy();
  });

  it("a partial command and commands queued behind a blocked client survive other clients' reads", async () => {
    // The node reads every socket into one shared buffer: what a client has not consumed yet must be
    // its own copy, or the next read of another socket overwrites it.
    const conn = async () => {
      const s = net.connect({ port: node.port, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      const st = { got: '' };
      s.on('data', (d) => (st.got += d.toString('latin1')));
      return { s, st };
    };
    const a = await conn();
    const b = await conn();
    const value = 'v'.repeat(300);
    const full = `*3\r\n$3\r\nSET\r\n$7\r\nshared1\r\n$300\r\n${value}\r\n`;
    a.s.write(full.slice(0, 40));
    await new Promise((r) => setTimeout(r, 50));
    b.s.write('*3\r\n$3\r\nSET\r\n$7\r\nshared2\r\n$' + '3\r\nxyz\r\n'.repeat(1) + 'PING\r\n'.repeat(200));
    await new Promise((r) => setTimeout(r, 50));
    a.s.write(full.slice(40) + '*2\r\n$3\r\nGET\r\n$7\r\nshared1\r\n');
    // A client blocked with more commands behind its BLPOP in the same packet.
    b.s.write('*3\r\n$5\r\nBLPOP\r\n$7\r\nshared3\r\n$1\r\n0\r\n*2\r\n$4\r\nECHO\r\n$11\r\nafter-block\r\n*2\r\n$3\r\nGET\r\n$7\r\nshared2\r\n');
    await new Promise((r) => setTimeout(r, 50));
    // Other clients' traffic in between.
    for (let i = 0; i < 20; i++) await healthy.set(`noise${i}`, 'x'.repeat(2000));
    await healthy.rpush('shared3', 'item');
    await new Promise((r) => setTimeout(r, 150));
    expect(a.st.got).toBe(`+OK\r\n$300\r\n${value}\r\n`);
    expect(b.st.got).toBe('+OK\r\n' + '+PONG\r\n'.repeat(200) + '*2\r\n$7\r\nshared3\r\n$4\r\nitem\r\n$11\r\nafter-block\r\n$3\r\nxyz\r\n');
    a.s.destroy();
    b.s.destroy();
  });

  it('garbage bytes get a protocol error or unknown-command replies, never a crash', async () => {
    const rnd = Buffer.alloc(64 * 1024);
    let x = 12345;
    for (let i = 0; i < rnd.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      rnd[i] = x & 0xff;
    }
    for (let i = 0; i < 5; i++) await rawExchange(node.port, rnd.subarray(i * 1000), 200);
    await rawExchange(node.port, Buffer.from([0x2a, 0x32, 0x0d, 0x0a, 0x24, 0x31, 0x0d, 0x0a, 0, 0x0d, 0x0a, 0xff, 0xfe]), 200);
    await stillServing();
  });

  it('a flood of empty lines and empty multibulks is skipped without exhausting the stack', async () => {
    const flood = '\r\n'.repeat(300_000) + '*0\r\n'.repeat(300_000) + '*-1\r\n'.repeat(1000) + 'PING\r\n';
    const r = await rawExchange(node.port, flood, 1500);
    expect(r.reply).toBe('+PONG\r\n');
    await stillServing();
  });

  it('10k pipelined commands come back in order in few writes', async () => {
    const n = 10_000;
    let req = '';
    for (let i = 0; i < n; i++) req += `*3\r\n$3\r\nSET\r\n$${`p${i}`.length}\r\np${i}\r\n$${String(i).length}\r\n${i}\r\n`;
    for (let i = 0; i < n; i++) req += `*2\r\n$3\r\nGET\r\n$${`p${i}`.length}\r\np${i}\r\n`;
    const { reply } = await rawExchange(node.port, req, 3000);
    const expected = '+OK\r\n'.repeat(n) + Array.from({ length: n }, (_, i) => `$${String(i).length}\r\n${i}\r\n`).join('');
    expect(reply.length).toBe(expected.length);
    expect(reply).toBe(expected);
  });

  it('a slow reader does not stall other clients and output stays bounded', async () => {
    await healthy.set('big', 'x'.repeat(512 * 1024));
    const s = net.connect({ port: node.port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    s.pause(); // never reads: its replies pile up on our side of the socket
    let req = '';
    for (let i = 0; i < 200; i++) req += '*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n';
    s.write(req); // ~100 MB of replies requested
    await new Promise((r) => setTimeout(r, 300));
    // Other clients keep being served (a stall would hit the test timeout).
    for (let i = 0; i < 50; i++) expect(await healthy.ping()).toBe('PONG');
    const myId = await healthy.client('ID');
    const info = (await healthy.call('CLIENT', 'LIST')) as string;
    const line = info.split('\n').find((l) => / cmd=get /.test(l) && !l.includes(`id=${myId} `));
    expect(line).toBeDefined();
    // Reading from the slow client is paused, so its pending output stays far below the 100 MB requested.
    const omem = Number(/omem=(\d+)/.exec(line ?? 'omem=0')![1]);
    expect(omem).toBeLessThan(32 * 1024 * 1024);
    s.destroy();
    await stillServing();
  });

  it('NOAUTH and unauthenticated frame limits with requirepass', async () => {
    const secured = await startNode(['--requirepass', 's3cret']);
    const r1 = await rawExchange(secured.port, 'GET a\r\nAUTH wrong\r\nAUTH s3cret\r\nGET a\r\n');
    expect(r1.reply).toBe('-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n');
    const r2 = await rawExchange(secured.port, '*20\r\n');
    expect(r2.reply).toBe('-ERR Protocol error: unauthenticated multibulk length\r\n');
    const r3 = await rawExchange(secured.port, '*2\r\n$3\r\nGET\r\n$100000\r\n');
    expect(r3.reply).toBe('-ERR Protocol error: unauthenticated bulk length\r\n');
    const r4 = await rawExchange(secured.port, 'HELLO 3 AUTH default s3cret\r\nPING\r\n');
    expect(r4.reply).toContain('%7\r\n');
    expect(r4.reply.endsWith('+PONG\r\n')).toBe(true);
    await secured.stop();
  });
});
