/**
 * The gateway's upstream command connection (gateway/src/cluster/conn.ts) against a real redis-server
 * (Debian's package): the handshake (AUTH with an ACL user, SELECT, READONLY refused outside cluster
 * mode), replies as the REST and WebSocket front ends rely on them (binary-safe Buffers, nested error
 * replies, multi-megabyte values split over many reads), order and back-to-back batches, the
 * watchdog's timeouts, and what a caller learns when the connection dies: written commands are lost
 * (may have run), commands never written are unsent (safe to retry). Misbehaving servers (a protocol
 * error, an unsolicited reply) close the connection without crashing anything.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandTimeoutError, ConnectionLostError, ReplyError, UnsentError, UpstreamConn, type Reply, type UpstreamConnOptions } from '../../gateway/src/cluster/conn';
import { freePort, redisCli, waitForPort } from '../helpers/node';

const PASSWORD = 'conn-test-secret';
let port: number;
let server: ChildProcess | null = null;
const conns: UpstreamConn[] = [];

async function startRedis(): Promise<void> {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes', '--requirepass', PASSWORD], { stdio: 'ignore' });
  await waitForPort(port);
  const cli = (args: string[]) => redisCli(port, ['-a', PASSWORD, '--no-auth-warning', ...args]).stdout;
  expect(cli(['ACL', 'SETUSER', 'gw', 'on', '>gw-pass', '~*', '&*', '+@all'])).toBe('OK');
}

async function killRedis(): Promise<void> {
  const p = server;
  server = null;
  if (p === null || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

/** A connection that flushes in setImmediate (as ClusterClient does) unless `manualFlush`. */
function open(o: Partial<UpstreamConnOptions> & { manualFlush?: boolean } = {}): UpstreamConn {
  const c = new UpstreamConn({
    host: '127.0.0.1',
    port,
    username: 'gw',
    password: 'gw-pass',
    connectTimeoutMs: 2000,
    retryDelay: (n) => Math.min(20 * n, 200),
    onDirty: (d) => {
      if (!o.manualFlush) setImmediate(() => d.flush());
    },
    ...o,
  });
  conns.push(c);
  return c;
}

const ready = (c: UpstreamConn) =>
  c.status === 'ready' ? Promise.resolve() : new Promise<void>((r) => c.once('ready', () => r()));

const settle = (p: Promise<Reply>) => p.then((v) => ({ ok: true as const, v }), (e: Error) => ({ ok: false as const, e }));

beforeAll(async () => {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) throw new Error('redis-server is not installed (apt-get install redis-server)');
  port = await freePort();
  await startRedis();
}, 30_000);

afterEach(() => {
  for (const c of conns.splice(0)) c.disconnect();
});

afterAll(async () => {
  await killRedis();
});

describe('upstream connection (conn.ts) against redis-server', () => {
  it('authenticates as an ACL user, selects its db, and answers binary-safe', async () => {
    const c = open({ db: 3 });
    // Sent before the handshake finished: held, then written in order.
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const set = c.send(['SET', Buffer.from('bin\r\nkey'), bytes]);
    const get = c.send(['GET', Buffer.from('bin\r\nkey')]);
    expect(c.status).toBe('connecting');
    expect((await set)!.toString()).toBe('OK');
    expect(Buffer.compare((await get) as Buffer, bytes)).toBe(0);
    expect(c.status).toBe('ready');
    // It went to db 3, as the same user sees it.
    expect(redisCli(port, ['--user', 'gw', '--pass', 'gw-pass', '--no-auth-warning', '-n', '3', 'STRLEN', 'bin\r\nkey']).stdout).toBe('256');
    expect(redisCli(port, ['--user', 'gw', '--pass', 'gw-pass', '--no-auth-warning', '-n', '0', 'EXISTS', 'bin\r\nkey']).stdout).toBe('0');
    // UTF-8 strings are sent as UTF-8 with their byte length.
    expect(String(await c.send(['SET', 'ключ', 'значение ✓']))).toBe('OK');
    expect(((await c.send(['GET', 'ключ'])) as Buffer).toString('utf8')).toBe('значение ✓');
    expect(await c.send(['STRLEN', 'ключ'])).toBe(Buffer.byteLength('значение ✓'));
  });

  it('replies: integers, nil, arrays, top-level and nested error replies', async () => {
    const c = open();
    await ready(c);
    await c.send(['DEL', 'l', 'n']);
    expect(await c.send(['RPUSH', 'l', 'a', 'b', 'c'])).toBe(3);
    expect(((await c.send(['LRANGE', 'l', '0', '-1'])) as Buffer[]).map(String)).toEqual(['a', 'b', 'c']);
    expect(await c.send(['GET', 'missing'])).toBeNull();
    const bad = await settle(c.send(['INCR', 'l']));
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.e).toBeInstanceOf(ReplyError);
    expect(!bad.ok && bad.e.message).toMatch(/^WRONGTYPE /);
    // MULTI/EXEC back to back: the run-time error is an element of EXEC's array.
    const res = await c.batch([['MULTI'], ['SET', 'n', '1'], ['INCR', 'l'], ['INCR', 'n'], ['EXEC']]);
    expect(res.slice(0, 4).map(([e, r]) => (e === null ? String(r) : e.message))).toEqual(['OK', 'QUEUED', 'QUEUED', 'QUEUED']);
    const [execErr, exec] = res[4]!;
    expect(execErr).toBeNull();
    const arr = exec as Reply[];
    expect(String(arr[0])).toBe('OK');
    expect(arr[1]).toBeInstanceOf(ReplyError);
    expect((arr[1] as Error).message).toMatch(/^WRONGTYPE /);
    expect(arr[2]).toBe(2);
    // Nothing else on the connection went between them.
    expect(await c.send(['GET', 'n'])).toEqual(Buffer.from('2'));
  });

  it('keeps order over thousands of commands in one turn and carries a 6 MB value and a 100,000-element array over many reads', async () => {
    const c = open();
    await ready(c);
    await c.send(['DEL', 'ctr']);
    const ps: Array<Promise<Reply>> = [];
    for (let i = 0; i < 5000; i++) ps.push(c.send(['INCR', 'ctr']));
    const got = await Promise.all(ps);
    expect(got).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    const big = Buffer.alloc(6 * 1024 * 1024, 'x');
    big.write('head', 0);
    big.write('tail', big.length - 4);
    expect(String(await c.send(['SET', 'big', big]))).toBe('OK');
    const back = (await c.send(['GET', 'big'])) as Buffer;
    expect(back.length).toBe(big.length);
    expect(Buffer.compare(back, big)).toBe(0);
    // A 100,000-element array reply arrives over many reads and is parsed once (reply-parser resumes).
    await c.send(['DEL', 'biglist']);
    for (let i = 0; i < 100_000; i += 10_000) await c.send(['RPUSH', 'biglist', ...Array.from({ length: 10_000 }, (_, j) => `element:${i + j}`)]);
    const list = (await c.send(['LRANGE', 'biglist', '0', '-1'])) as Buffer[];
    expect(list.length).toBe(100_000);
    expect(list[0]!.toString()).toBe('element:0');
    expect(list[99_999]!.toString()).toBe('element:99999');
    expect(c.pending).toBe(0);
  });

  it('the watchdog times a command out; the connection stays up and the late reply goes nowhere', async () => {
    const c = open();
    await ready(c);
    const slow = settle(c.send(['DEBUG', 'SLEEP', '0.6']));
    const after = c.send(['ECHO', 'after']);
    await new Promise((r) => setImmediate(r));
    c.expire(Date.now(), 200); // first look: both seen now
    await new Promise((r) => setTimeout(r, 300));
    c.expire(Date.now(), 200);
    const s = await slow;
    expect(s.ok).toBe(false);
    expect(!s.ok && s.e).toBeInstanceOf(CommandTimeoutError);
    expect(!s.ok && s.e.message).toBe('Command timed out');
    // The command behind it timed out too (it waited as long); the connection is still usable and in step.
    expect((await settle(after)).ok).toBe(false);
    expect(c.status).toBe('ready');
    expect(String(await c.send(['ECHO', 'in step']))).toBe('in step');
  });

  it('a dead server: written commands are lost, unflushed and held ones unsent; it reconnects when the server is back', async () => {
    const c = open({ manualFlush: true });
    await ready(c);
    // A caller that resends at once from its failure callback finds the connection no longer ready: the
    // command is held for the next connection, not queued on the dead one.
    let statusSeen = '';
    let resent: Promise<{ ok: boolean; e?: Error }> | null = null;
    c.sendCb(['DEBUG', 'SLEEP', '5'], (err) => {
      if (err === null) return;
      statusSeen = c.status;
      resent = settle(c.send(['ECHO', 'resent']));
    });
    const written = settle(c.send(['DEBUG', 'SLEEP', '5']));
    c.flush();
    const unflushed = settle(c.send(['GET', 'x'])); // encoded, never flushed
    await new Promise((r) => setTimeout(r, 100));
    await killRedis();
    const w = await written;
    expect(!w.ok && w.e).toBeInstanceOf(ConnectionLostError);
    expect(!w.ok && w.e.message).toMatch(/lost with the command in flight/);
    const u = await unflushed;
    expect(!u.ok && u.e).toBeInstanceOf(UnsentError);
    expect(statusSeen).toBe('reconnecting');
    const r = await resent!;
    expect(!r.ok && r.e).toBeInstanceOf(UnsentError); // the server is still down at the next attempt
    expect(c.status === 'reconnecting' || c.status === 'connecting').toBe(true);
    // While the server is down: held, then unsent when the attempt fails.
    await new Promise((r) => setTimeout(r, 50));
    const held = await settle(c.send(['PING']));
    expect(!held.ok && held.e).toBeInstanceOf(UnsentError);
    await startRedis();
    await ready(c);
    c.flush();
    const p = c.send(['PING']);
    c.flush();
    expect(String(await p)).toBe('PONG');
  }, 30_000);

  it('a wrong password never makes the connection ready; its commands fail unsent', async () => {
    const c = open({ password: 'wrong', retryDelay: () => null });
    const r = await settle(c.send(['PING']));
    expect(!r.ok && r.e).toBeInstanceOf(UnsentError);
    expect(c.status).toBe('end');
  });

  it('READONLY outside cluster mode fails the handshake (a replica connection is never used unprepared)', async () => {
    const c = open({ readOnly: true, retryDelay: () => null });
    const r = await settle(c.send(['PING']));
    expect(!r.ok && r.e).toBeInstanceOf(UnsentError);
    expect(c.status).toBe('end');
  });

  it('a server speaking garbage or answering unasked is dropped without a crash', async () => {
    for (const answer of ['%%garbage\r\n', '+OK\r\n+EXTRA\r\n']) {
      const fake = net.createServer((s) => {
        s.on('data', () => s.write(answer));
        s.on('error', () => {});
      });
      await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
      const fport = (fake.address() as net.AddressInfo).port;
      const c = open({ port: fport, username: undefined, password: undefined, retryDelay: () => null });
      await ready(c);
      const r = await settle(c.send(['PING']));
      if (answer.startsWith('%%')) {
        expect(!r.ok && r.e).toBeInstanceOf(ConnectionLostError);
      } else {
        expect(r.ok && String(r.v)).toBe('OK');
      }
      for (let i = 0; i < 50 && c.status !== 'end'; i++) await new Promise((res) => setTimeout(res, 10));
      expect(c.status).toBe('end');
      await new Promise<void>((res) => fake.close(() => res()));
    }
  });
});
