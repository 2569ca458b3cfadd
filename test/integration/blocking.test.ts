/**
 * Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP): immediate answers, timeouts,
 * wakeups from other connections, FIFO fairness, chains, MULTI/EXEC, disconnects, CLIENT UNBLOCK,
 * and a scenario replayed against a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startNode, type NodeHandle } from '../helpers/node';

// ------------------------------------------------------------------ raw RESP connection

function replyEnd(b: string, i: number): number {
  if (i >= b.length) return -1;
  const nl = b.indexOf('\r\n', i);
  if (nl < 0) return -1;
  const t = b[i];
  const n = Number(b.slice(i + 1, nl));
  if (t === '$' || t === '=' || t === '!') {
    if (n < 0) return nl + 2;
    const end = nl + 2 + n + 2;
    return end <= b.length ? end : -1;
  }
  if (t === '*' || t === '~' || t === '>' || t === '%' || t === '|') {
    if (n < 0) return nl + 2;
    const items = t === '%' || t === '|' ? n * 2 : n;
    let p = nl + 2;
    for (let k = 0; k < items; k++) {
      p = replyEnd(b, p);
      if (p < 0) return -1;
    }
    return p;
  }
  return nl + 2;
}

type Target = { port?: number; path?: string };

/** A raw connection: each command resolves with the exact bytes (latin1) of its reply. */
class Raw {
  private buf = '';
  private waiting: ((r: string) => void)[] = [];
  readonly extra: string[] = [];
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      for (;;) {
        const end = replyEnd(this.buf, 0);
        if (end < 0) break;
        const r = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        const w = this.waiting.shift();
        if (w) w(r);
        else this.extra.push(r);
      }
    });
    sock.on('error', () => undefined);
  }

  static connect(t: Target): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = t.path ? net.connect(t.path) : net.connect(t.port!, '127.0.0.1');
      s.once('connect', () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }

  cmd(...args: string[]): Promise<string> {
    const p = new Promise<string>((r) => this.waiting.push(r));
    let s = `*${args.length}\r\n`;
    for (const a of args) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
    this.sock.write(s, 'latin1');
    return p;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Number of clients CLIENT LIST shows as blocked (flag b). */
async function blockedCount(c: Raw): Promise<number> {
  const r = await c.cmd('CLIENT', 'LIST');
  return (r.match(/ flags=[a-zA-Z]*b/g) ?? []).length;
}

async function waitBlocked(c: Raw, n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await blockedCount(c)) !== n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} blocked clients`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the value, or 'pending' if the promise has not settled after `ms`. */
async function settled<T>(p: Promise<T>, ms = 50): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

const WRONGTYPE = '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n';
const NILARR = '*-1\r\n';

// ------------------------------------------------------------------ tests against our node

describe('blocking list commands', () => {
  let node: NodeHandle;
  let ctl: Raw;
  let io: Redis;
  const open: Raw[] = [];
  const conn = async (proto: 2 | 3 = 2): Promise<Raw> => {
    const r = await Raw.connect({ port: node.port });
    open.push(r);
    if (proto === 3) await r.cmd('HELLO', '3');
    return r;
  };
  beforeAll(async () => {
    node = await startNode(['--notify-keyspace-events', 'KEA']);
    ctl = await Raw.connect({ port: node.port });
    io = new Redis({ port: node.port, lazyConnect: true });
    await io.connect();
  });
  afterAll(() => {
    for (const r of open) r.close();
    ctl.close();
    io.disconnect();
  });

  it('answer at once when a list has data, from the first non-empty key', async () => {
    await io.rpush('im2', 'a', 'b', 'c');
    expect(await io.blpop('im1', 'im2', 0)).toEqual(['im2', 'a']);
    expect(await io.brpop('im1', 'im2', 0)).toEqual(['im2', 'c']);
    await io.rpush('im1', 'x');
    expect(await io.blpop('im1', 'im2', 0)).toEqual(['im1', 'x']);
    expect(await io.blmove('im2', 'im3', 'LEFT', 'RIGHT', 0)).toBe('b');
    expect(await io.exists('im2')).toBe(0);
    expect(await io.brpoplpush('im3', 'im4', 0)).toBe('b');
    await io.rpush('im5', '1', '2', '3');
    expect(await io.blmpop(0, 2, 'im1', 'im5', 'RIGHT', 'COUNT', 2)).toEqual(['im5', ['3', '2']]);
    expect(await io.blmpop(1, 2, 'im1', 'im5', 'LEFT')).toEqual(['im5', ['1']]);
  });

  it('time out with a null array in RESP2 and RESP3 (float seconds)', async () => {
    const c2 = await conn(2);
    const c3 = await conn(3);
    for (const [c, nil] of [
      [c2, NILARR],
      [c3, '_\r\n'],
    ] as const) {
      const t0 = Date.now();
      expect(await c.cmd('BLPOP', 'to1', 'to2', '0.15')).toBe(nil);
      const dt = Date.now() - t0;
      expect(dt).toBeGreaterThanOrEqual(140);
      expect(dt).toBeLessThan(2500);
      expect(await c.cmd('BRPOP', 'to1', '0.1')).toBe(nil);
      expect(await c.cmd('BLMOVE', 'to1', 'to2', 'LEFT', 'LEFT', '0.1')).toBe(nil);
      expect(await c.cmd('BRPOPLPUSH', 'to1', 'to2', '0.1')).toBe(nil);
      expect(await c.cmd('BLMPOP', '0.1', '2', 'to1', 'to2', 'LEFT', 'COUNT', '3')).toBe(nil);
    }
    expect(await io.exists('to1', 'to2')).toBe(0);
  });

  it('timeout argument errors', async () => {
    const c = await conn();
    for (const cmd of [
      ['BLPOP', 'k'],
      ['BRPOP', 'k'],
      ['BLMOVE', 'k', 'd', 'LEFT', 'LEFT'],
      ['BRPOPLPUSH', 'k', 'd'],
      ['BLMPOP'],
    ]) {
      const withTimeout = (t: string) => (cmd[0] === 'BLMPOP' ? ['BLMPOP', t, '1', 'k', 'LEFT'] : [...cmd, t]);
      expect(await c.cmd(...withTimeout('-1'))).toBe('-ERR timeout is negative\r\n');
      expect(await c.cmd(...withTimeout('-0.5'))).toBe('-ERR timeout is negative\r\n');
      expect(await c.cmd(...withTimeout('abc'))).toBe('-ERR timeout is not a float or out of range\r\n');
      expect(await c.cmd(...withTimeout('1x'))).toBe('-ERR timeout is not a float or out of range\r\n');
      expect(await c.cmd(...withTimeout('nan'))).toBe('-ERR timeout is not a float or out of range\r\n');
    }
    // Redis converts inf (and anything beyond LLONG_MAX ms) to a negative number.
    expect(await c.cmd('BLPOP', 'k', 'inf')).toBe('-ERR timeout is negative\r\n');
    expect(await c.cmd('BLPOP', 'k', '1e300')).toBe('-ERR timeout is negative\r\n');
    expect(await c.cmd('BLPOP', 'k')).toBe("-ERR wrong number of arguments for 'blpop' command\r\n");
  });

  it('WRONGTYPE for a key of another type, checked in key order', async () => {
    const c = await conn();
    await io.set('wt-str', 'v');
    await io.rpush('wt-list', 'a');
    expect(await c.cmd('BLPOP', 'wt-missing', 'wt-str', 'wt-list', '0')).toBe(WRONGTYPE);
    expect(await c.cmd('BLMOVE', 'wt-str', 'x', 'LEFT', 'LEFT', '0')).toBe(WRONGTYPE);
    expect(await c.cmd('BLMOVE', 'wt-list', 'wt-str', 'LEFT', 'LEFT', '0')).toBe(WRONGTYPE);
    expect(await c.cmd('BLMPOP', '0', '2', 'wt-str', 'wt-list', 'LEFT')).toBe(WRONGTYPE);
    expect(await c.cmd('BLPOP', 'wt-list', 'wt-str', '0')).toBe('*2\r\n$7\r\nwt-list\r\n$1\r\na\r\n');
  });

  it('a push from another connection wakes the waiter, which takes the element', async () => {
    const blocker = new Redis({ port: node.port });
    try {
      const p = blocker.blpop('wk', 0);
      await waitBlocked(ctl, 1);
      expect(await settled(p)).toBe('pending');
      expect(await io.rpush('wk', 'hello')).toBe(1);
      expect(await p).toEqual(['wk', 'hello']);
      expect(await io.exists('wk')).toBe(0);
      await waitBlocked(ctl, 0);
    } finally {
      blocker.disconnect();
    }
  });

  it('waiters on one key are served first come, first served', async () => {
    const cs = [await conn(), await conn(), await conn(), await conn()];
    const ps: Promise<string>[] = [];
    for (let i = 0; i < cs.length; i++) {
      ps.push(cs[i].cmd(i % 2 ? 'BRPOP' : 'BLPOP', 'fifo', '0'));
      await waitBlocked(ctl, i + 1);
    }
    // One push of three elements serves the first three waiters in arrival order.
    await io.rpush('fifo', 'a', 'b', 'c');
    expect(await ps[0]).toBe('*2\r\n$4\r\nfifo\r\n$1\r\na\r\n');
    expect(await ps[1]).toBe('*2\r\n$4\r\nfifo\r\n$1\r\nc\r\n');
    expect(await ps[2]).toBe('*2\r\n$4\r\nfifo\r\n$1\r\nb\r\n');
    expect(await settled(ps[3])).toBe('pending');
    await waitBlocked(ctl, 1);
    await io.lpush('fifo', 'd');
    expect(await ps[3]).toBe('*2\r\n$4\r\nfifo\r\n$1\r\nd\r\n');
    expect(await io.exists('fifo')).toBe(0);
  });

  it('the same key given twice is waited on once', async () => {
    const a = await conn();
    const b = await conn();
    const pa = a.cmd('BLPOP', 'dup', 'dup', '0');
    await waitBlocked(ctl, 1);
    const pb = b.cmd('BLPOP', 'dup', '0');
    await waitBlocked(ctl, 2);
    await io.rpush('dup', '1', '2');
    expect(await pa).toBe('*2\r\n$3\r\ndup\r\n$1\r\n1\r\n');
    expect(await pb).toBe('*2\r\n$3\r\ndup\r\n$1\r\n2\r\n');
  });

  it('a waiter on several keys is served from the key that received data', async () => {
    const c = await conn();
    const p = c.cmd('BRPOP', 'mk1', 'mk2', 'mk3', '0');
    await waitBlocked(ctl, 1);
    await io.rpush('mk3', 'x', 'y');
    expect(await p).toBe('*2\r\n$3\r\nmk3\r\n$1\r\ny\r\n');
    expect(await io.lrange('mk3', 0, -1)).toEqual(['x']);
  });

  it('BLMPOP waits and pops up to COUNT elements', async () => {
    const c = await conn();
    const c3 = await conn(3);
    const p = c.cmd('BLMPOP', '0', '2', 'bm1', 'bm2', 'RIGHT', 'COUNT', '2');
    await waitBlocked(ctl, 1);
    const p3 = c3.cmd('BLMPOP', '0', '1', 'bm2', 'LEFT', 'COUNT', '5');
    await waitBlocked(ctl, 2);
    await io.rpush('bm2', 'a', 'b', 'c');
    expect(await p).toBe('*2\r\n$3\r\nbm2\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n');
    expect(await p3).toBe('*2\r\n$3\r\nbm2\r\n*1\r\n$1\r\na\r\n');
    expect(await io.exists('bm2')).toBe(0);
  });

  it('BLMOVE chains: each move wakes the next waiter', async () => {
    const a = await conn();
    const b = await conn();
    const c = await conn();
    const pa = a.cmd('BLMOVE', 'ch1', 'ch2', 'RIGHT', 'LEFT', '0');
    await waitBlocked(ctl, 1);
    const pb = b.cmd('BLMOVE', 'ch2', 'ch3', 'LEFT', 'RIGHT', '0');
    await waitBlocked(ctl, 2);
    const pc = c.cmd('BRPOPLPUSH', 'ch3', 'ch4', '0');
    await waitBlocked(ctl, 3);
    await io.rpush('ch1', 'v');
    expect(await pa).toBe('$1\r\nv\r\n');
    expect(await pb).toBe('$1\r\nv\r\n');
    expect(await pc).toBe('$1\r\nv\r\n');
    expect(await io.exists('ch1', 'ch2', 'ch3')).toBe(0);
    expect(await io.lrange('ch4', 0, -1)).toEqual(['v']);
    // A waiter rotating a list onto itself.
    const pr = a.cmd('BLMOVE', 'rot', 'rot', 'LEFT', 'RIGHT', '0');
    await waitBlocked(ctl, 1);
    await io.rpush('rot', 'x');
    expect(await pr).toBe('$1\r\nx\r\n');
    expect(await io.lrange('rot', 0, -1)).toEqual(['x']);
  });

  it('a woken BLMOVE whose destination is not a list gets WRONGTYPE and the element stays', async () => {
    const c = await conn();
    const p = c.cmd('BLMOVE', 'wd-src', 'wd-dst', 'LEFT', 'LEFT', '0');
    await waitBlocked(ctl, 1);
    await io.set('wd-dst', 'str');
    await io.rpush('wd-src', 'x');
    expect(await p).toBe(WRONGTYPE);
    expect(await io.lrange('wd-src', 0, -1)).toEqual(['x']);
    await waitBlocked(ctl, 0);
  });

  it('a waiter that finds nothing keeps waiting until its original deadline', async () => {
    const a = await conn();
    const b = await conn();
    const t0 = Date.now();
    const pa = a.cmd('BLPOP', 'dl', '0.5');
    await waitBlocked(ctl, 1);
    const pb = b.cmd('BLPOP', 'dl', '0.5');
    await waitBlocked(ctl, 2);
    await new Promise((r) => setTimeout(r, 150));
    await io.rpush('dl', 'only');
    expect(await pa).toBe('*2\r\n$2\r\ndl\r\n$4\r\nonly\r\n');
    expect(await pb).toBe(NILARR);
    const dt = Date.now() - t0;
    expect(dt).toBeGreaterThanOrEqual(480);
    expect(dt).toBeLessThan(2500);
  });

  it('timeouts longer than 2^31 ms do not fire early', async () => {
    const c = await conn();
    const p = c.cmd('BLPOP', 'long', '100000000');
    await waitBlocked(ctl, 1);
    expect(await settled(p, 300)).toBe('pending');
    await io.rpush('long', 'x');
    expect(await p).toBe('*2\r\n$4\r\nlong\r\n$1\r\nx\r\n');
  });

  it('a command pipelined after a blocking one runs once it is served', async () => {
    const c = await conn();
    const p1 = c.cmd('BLPOP', 'pl', '0');
    const p2 = c.cmd('PING');
    const p3 = c.cmd('LLEN', 'pl');
    await waitBlocked(ctl, 1);
    expect(await settled(p2)).toBe('pending');
    await io.rpush('pl', 'a', 'b');
    expect(await p1).toBe('*2\r\n$2\r\npl\r\n$1\r\na\r\n');
    expect(await p2).toBe('+PONG\r\n');
    expect(await p3).toBe(':1\r\n');
  });

  it('inside MULTI blocking commands answer as on timeout', async () => {
    for (const [proto, want] of [
      [2, '*6\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n*2\r\n$3\r\nmx2\r\n$1\r\na\r\n'],
      [3, '*6\r\n_\r\n_\r\n_\r\n_\r\n_\r\n*2\r\n$3\r\nmx2\r\n$1\r\na\r\n'],
    ] as const) {
      const c = await conn(proto);
      await io.rpush('mx2', 'a');
      expect(await c.cmd('MULTI')).toBe('+OK\r\n');
      for (const cmd of [
        ['BLPOP', 'mx1', '0'],
        ['BRPOP', 'mx1', '0'],
        ['BLMOVE', 'mx1', 'd', 'LEFT', 'LEFT', '0'],
        ['BRPOPLPUSH', 'mx1', 'd', '0'],
        ['BLMPOP', '0', '1', 'mx1', 'LEFT'],
        ['BLPOP', 'mx1', 'mx2', '0'],
      ]) {
        expect(await c.cmd(...cmd)).toBe('+QUEUED\r\n');
      }
      expect(await c.cmd('EXEC')).toBe(want);
    }
    expect(await blockedCount(ctl)).toBe(0);
  });

  it('pushes inside MULTI/EXEC wake waiters only after EXEC', async () => {
    const w = await conn();
    const p = w.cmd('BLPOP', 'tx', '0');
    await waitBlocked(ctl, 1);
    const t = await conn();
    await t.cmd('MULTI');
    await t.cmd('RPUSH', 'tx', 'a');
    await t.cmd('LLEN', 'tx');
    await t.cmd('RPUSH', 'tx', 'b');
    await t.cmd('LRANGE', 'tx', '0', '-1');
    // Inside EXEC the waiter is not served: LLEN and LRANGE still see every element.
    expect(await t.cmd('EXEC')).toBe('*4\r\n:1\r\n:1\r\n:2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n');
    expect(await p).toBe('*2\r\n$2\r\ntx\r\n$1\r\na\r\n');
    expect(await io.lrange('tx', 0, -1)).toEqual(['b']);
    await io.del('tx');
    // A push and pop in the same transaction leave nothing for the waiter.
    const p2 = w.cmd('BLPOP', 'tx', '0.3');
    await waitBlocked(ctl, 1);
    await t.cmd('MULTI');
    await t.cmd('RPUSH', 'tx', 'x');
    await t.cmd('LPOP', 'tx');
    expect(await t.cmd('EXEC')).toBe('*2\r\n:1\r\n$1\r\nx\r\n');
    expect(await settled(p2)).toBe('pending');
    expect(await p2).toBe(NILARR);
  });

  it('a blocked client that disconnects is forgotten; the next push stays in the list', async () => {
    const c = await Raw.connect({ port: node.port });
    void c.cmd('BLPOP', 'gone', '0');
    await waitBlocked(ctl, 1);
    c.close();
    await waitBlocked(ctl, 0);
    expect(await io.rpush('gone', 'x')).toBe(1);
    expect(await io.lrange('gone', 0, -1)).toEqual(['x']);
    // A later waiter still works.
    const d = await conn();
    expect(await d.cmd('BLPOP', 'gone', '0')).toBe('*2\r\n$4\r\ngone\r\n$1\r\nx\r\n');
  });

  it('CLIENT UNBLOCK with TIMEOUT or ERROR', async () => {
    const c = await conn();
    const id = (await c.cmd('CLIENT', 'ID')).slice(1, -2);
    const p1 = c.cmd('BLPOP', 'ub', '0');
    const p2 = c.cmd('PING');
    await waitBlocked(ctl, 1);
    expect(await ctl.cmd('CLIENT', 'UNBLOCK', id)).toBe(':1\r\n');
    expect(await p1).toBe(NILARR);
    expect(await p2).toBe('+PONG\r\n');
    const p3 = c.cmd('BLMOVE', 'ub', 'ub2', 'LEFT', 'LEFT', '0');
    await waitBlocked(ctl, 1);
    expect(await ctl.cmd('CLIENT', 'UNBLOCK', id, 'ERROR')).toBe(':1\r\n');
    expect(await p3).toBe('-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n');
    expect(await ctl.cmd('CLIENT', 'UNBLOCK', id)).toBe(':0\r\n');
    const p4 = c.cmd('BLMPOP', '0', '1', 'ub', 'LEFT');
    await waitBlocked(ctl, 1);
    expect(await ctl.cmd('CLIENT', 'UNBLOCK', id, 'timeout')).toBe(':1\r\n');
    expect(await p4).toBe(NILARR);
    // Not blocked any more: a push is not consumed.
    await io.rpush('ub', 'x');
    expect(await io.llen('ub')).toBe(1);
  });

  it('served waiters emit the pop events, and the list is deleted when emptied', async () => {
    const sub = await conn();
    await sub.cmd('PSUBSCRIBE', '__keyevent@0__:*');
    const c = await conn();
    const p = c.cmd('BRPOP', 'evb', '0');
    await waitBlocked(ctl, 1);
    await io.rpush('evb', 'x');
    expect(await p).toBe('*2\r\n$3\r\nevb\r\n$1\r\nx\r\n');
    const evs: string[] = [];
    const deadline = Date.now() + 2000;
    while (evs.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      while (sub.extra.length > 0) {
        const parts = sub.extra.shift()!.split('\r\n');
        evs.push(`${parts[6]} ${parts[8]}`);
      }
    }
    expect(evs).toEqual(['__keyevent@0__:rpush evb', '__keyevent@0__:rpop evb', '__keyevent@0__:del evb']);
  });

  it('ioredis and node-redis see the same shapes', async () => {
    const nr = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await nr.connect();
    try {
      expect(await nr.blPop('nr1', 0.1)).toBeNull();
      const p = nr.duplicate();
      await p.connect();
      const wait = p.blPop(['nr1', 'nr2'], 0);
      await waitBlocked(ctl, 1);
      await io.rpush('nr2', 'v');
      expect(await wait).toEqual({ key: 'nr2', element: 'v' });
      await p.quit();
    } finally {
      await nr.quit();
    }
    expect(await io.blpop('nr1', 0.1)).toBeNull();
    expect(await io.blmpop(0.1, 1, 'nr1', 'LEFT')).toBeNull();
  });
});

// ------------------------------------------------------------------ the same scenario on redis-server

async function startRealRedis(): Promise<{ path: string; stop(): Promise<void> }> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || which.stdout.trim() === '') throw new Error('redis-server is not installed: the comparison needs it');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blocking-redis-'));
  const sock = path.join(dir, 'redis.sock');
  const proc: ChildProcess = spawn(which.stdout.trim(), ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((r) => proc.once('exit', r));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await Raw.connect({ path: sock });
      const pong = await r.cmd('PING');
      r.close();
      if (pong === '+PONG\r\n') return { path: sock, stop };
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('redis-server did not start');
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** A scripted multi-client blocking scenario; returns the transcript of every reply. */
async function scenario(t: Target): Promise<string[]> {
  const log: string[] = [];
  const ctl = await Raw.connect(t);
  const cs = await Promise.all([0, 1, 2, 3].map(() => Raw.connect(t)));
  const rec = async (name: string, p: Promise<string>) => log.push(`${name}: ${JSON.stringify(await p)}`);
  try {
    // FIFO on one key, mixed commands.
    const w: Promise<string>[] = [];
    w.push(cs[0].cmd('BLPOP', 'q', '0'));
    await waitBlocked(ctl, 1);
    w.push(cs[1].cmd('BLMPOP', '0', '2', 'other', 'q', 'RIGHT', 'COUNT', '2'));
    await waitBlocked(ctl, 2);
    w.push(cs[2].cmd('BLMOVE', 'q', 'dst', 'RIGHT', 'LEFT', '0'));
    await waitBlocked(ctl, 3);
    w.push(cs[3].cmd('BRPOPLPUSH', 'q', 'dst', '0'));
    await waitBlocked(ctl, 4);
    await rec('rpush', ctl.cmd('RPUSH', 'q', '1', '2', '3', '4', '5'));
    for (let i = 0; i < 4; i++) await rec(`waiter${i}`, w[i]);
    await rec('dst', ctl.cmd('LRANGE', 'dst', '0', '-1'));
    await rec('q', ctl.cmd('LRANGE', 'q', '0', '-1'));
    // Pushes in a transaction are served after EXEC.
    const p = cs[0].cmd('BRPOP', 'a', 'b', '0');
    await waitBlocked(ctl, 1);
    await ctl.cmd('MULTI');
    await ctl.cmd('RPUSH', 'b', 'b1');
    await ctl.cmd('RPUSH', 'a', 'a1');
    await ctl.cmd('LLEN', 'b');
    await rec('exec', ctl.cmd('EXEC'));
    await rec('brpop', p);
    await rec('a', ctl.cmd('LRANGE', 'a', '0', '-1'));
    await rec('b', ctl.cmd('LRANGE', 'b', '0', '-1'));
    // Chains.
    const c1 = cs[1].cmd('BLMOVE', 'x1', 'x2', 'LEFT', 'LEFT', '0');
    await waitBlocked(ctl, 1);
    const c2 = cs[2].cmd('BLMPOP', '0', '1', 'x2', 'LEFT');
    await waitBlocked(ctl, 2);
    await rec('lpush', ctl.cmd('LPUSH', 'x1', 'v'));
    await rec('chain1', c1);
    await rec('chain2', c2);
    await rec('x', ctl.cmd('EXISTS', 'x1', 'x2'));
    // CLIENT UNBLOCK and timeouts.
    const id = (await cs[3].cmd('CLIENT', 'ID')).slice(1, -2);
    const u = cs[3].cmd('BLPOP', 'u', '0');
    await waitBlocked(ctl, 1);
    await rec('unblock', ctl.cmd('CLIENT', 'UNBLOCK', id, 'ERROR'));
    await rec('unblocked', u);
    await rec('timeout', cs[3].cmd('BLMOVE', 'u', 'v', 'LEFT', 'LEFT', '0.05'));
    await rec('multi', cs[3].cmd('MULTI'));
    await cs[3].cmd('BLMOVE', 'u', 'v', 'LEFT', 'LEFT', '0');
    await cs[3].cmd('BLPOP', 'u', '0');
    await rec('exec-blocking', cs[3].cmd('EXEC'));
  } finally {
    ctl.close();
    for (const c of cs) c.close();
  }
  return log;
}

describe('blocking scenario: our node vs redis-server', () => {
  let node: NodeHandle;
  let real: { path: string; stop(): Promise<void> };
  beforeAll(async () => {
    [node, real] = await Promise.all([startNode(), startRealRedis()]);
  });
  afterAll(async () => {
    await real?.stop();
  });

  it('gives the same transcript', async () => {
    const [ours, theirs] = await Promise.all([scenario({ port: node.port }), scenario({ path: real.path })]);
    expect(ours.length).toBeGreaterThan(15);
    expect(ours).toEqual(theirs);
  }, 20_000);
});
