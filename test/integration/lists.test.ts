/**
 * List commands (LPUSH ... LMPOP): replies, errors, RESP2/RESP3 shapes, keyspace events, a
 * differential run against a real redis-server, and redis-benchmark's list tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startNode, redisCli, type NodeHandle } from '../helpers/node';
import { Config } from '../../cluster-node/src/server/config';
import { Server } from '../../cluster-node/src/server/server';

// ------------------------------------------------------------------ raw RESP connection

/** End offset of the RESP reply starting at `i` in `b`, or -1 if incomplete. */
function replyEnd(b: string, i: number): number {
  if (i >= b.length) return -1;
  const nl = b.indexOf('\r\n', i);
  if (nl < 0) return -1;
  const t = b[i];
  const n = Number(b.slice(i + 1, nl));
  switch (t) {
    case '$':
    case '=':
    case '!': {
      if (n < 0) return nl + 2;
      const end = nl + 2 + n + 2;
      return end <= b.length ? end : -1;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      if (n < 0) return nl + 2;
      const items = t === '%' || t === '|' ? n * 2 : n;
      let p = nl + 2;
      for (let k = 0; k < items; k++) {
        p = replyEnd(b, p);
        if (p < 0) return -1;
      }
      return p;
    }
    default:
      return nl + 2;
  }
}

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return s;
}

/** A raw connection: send commands, get each reply's exact bytes (latin1) in order. */
class Raw {
  private buf = '';
  private waiting: ((r: string) => void)[] = [];
  readonly replies: string[] = [];
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
        else this.replies.push(r);
      }
    });
    sock.on('error', () => undefined);
  }

  static connect(target: { port?: number; path?: string }): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = target.path ? net.connect(target.path) : net.connect(target.port!, '127.0.0.1');
      s.once('connect', () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }

  /** Send one command; resolves with its reply. */
  cmd(...args: string[]): Promise<string> {
    const p = new Promise<string>((r) => this.waiting.push(r));
    this.sock.write(encode(args), 'latin1');
    return p;
  }

  /** Pipeline many commands; resolves with all replies. */
  pipeline(cmds: string[][]): Promise<string[]> {
    const ps = cmds.map(() => new Promise<string>((r) => this.waiting.push(r)));
    this.sock.write(cmds.map(encode).join(''), 'latin1');
    return Promise.all(ps);
  }

  /** Next unsolicited message (pub/sub push), waiting up to `ms`. */
  async next(ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.replies.length === 0) {
      if (Date.now() > deadline) throw new Error('no message');
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.replies.shift()!;
  }

  close(): void {
    this.sock.destroy();
  }
}

// ------------------------------------------------------------------ a real redis-server

interface RealRedis {
  path: string;
  stop(): Promise<void>;
}

async function startRealRedis(extra: string[] = []): Promise<RealRedis> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || which.stdout.trim() === '') throw new Error('redis-server is not installed: the differential test needs it');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lists-redis-'));
  const sock = path.join(dir, 'redis.sock');
  const proc: ChildProcess = spawn(which.stdout.trim(), ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
    stdio: 'ignore',
  });
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

// ------------------------------------------------------------------ tests

const NIL2 = '$-1\r\n';
const NILARR2 = '*-1\r\n';
const NULL3 = '_\r\n';
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

describe('list commands', () => {
  let node: NodeHandle;
  let io: Redis;
  let r2: Raw;
  let r3: Raw;
  beforeAll(async () => {
    node = await startNode(['--notify-keyspace-events', 'KEA']);
    io = new Redis({ port: node.port, lazyConnect: true });
    await io.connect();
    r2 = await Raw.connect({ port: node.port });
    r3 = await Raw.connect({ port: node.port });
    await r3.cmd('HELLO', '3');
  });
  afterAll(async () => {
    io.disconnect();
    r2.close();
    r3.close();
  });

  it('LPUSH/RPUSH prepend and append, return the new length, and create the key', async () => {
    expect(await io.rpush('p1', 'a', 'b')).toBe(2);
    expect(await io.lpush('p1', 'x', 'y', 'z')).toBe(5);
    expect(await io.lrange('p1', 0, -1)).toEqual(['z', 'y', 'x', 'a', 'b']);
    expect(await io.type('p1')).toBe('list');
    expect(await io.llen('p1')).toBe(5);
    expect(await io.llen('p1-missing')).toBe(0);
    await io.set('p1s', 'str');
    await expect(io.lpush('p1s', 'a')).rejects.toThrow(WRONGTYPE);
    await expect(io.rpush('p1s', 'a')).rejects.toThrow(WRONGTYPE);
    await expect(io.llen('p1s')).rejects.toThrow(WRONGTYPE);
    expect(await io.get('p1s')).toBe('str');
    await expect(io.call('lpush', 'p1')).rejects.toThrow("ERR wrong number of arguments for 'lpush' command");
  });

  it('LPUSHX/RPUSHX push only onto an existing list (several elements allowed)', async () => {
    expect(await io.lpushx('px', 'a')).toBe(0);
    expect(await io.rpushx('px', 'a', 'b')).toBe(0);
    expect(await io.exists('px')).toBe(0);
    await io.rpush('px', 'm');
    expect(await io.lpushx('px', 'l1', 'l2')).toBe(3);
    expect(await io.rpushx('px', 'r1', 'r2')).toBe(5);
    expect(await io.lrange('px', 0, -1)).toEqual(['l2', 'l1', 'm', 'r1', 'r2']);
    await io.set('pxs', 'v');
    await expect(io.lpushx('pxs', 'a')).rejects.toThrow(WRONGTYPE);
  });

  it('values are binary safe', async () => {
    const bin = Buffer.from([0, 255, 13, 10, 36, 42, 128]);
    await io.rpush('bin', bin, Buffer.alloc(0), Buffer.alloc(300, 0xfe));
    const got = await io.lrangeBuffer('bin', 0, -1);
    expect(got[0]).toEqual(bin);
    expect(got[1]).toEqual(Buffer.alloc(0));
    expect(got[2]).toEqual(Buffer.alloc(300, 0xfe));
    expect(await io.lindexBuffer('bin', 0)).toEqual(bin);
    expect(await io.lposBuffer('bin', bin)).toBe(0);
    expect(await io.lpopBuffer('bin')).toEqual(bin);
  });

  it('LPOP/RPOP with and without count; the key disappears when emptied', async () => {
    await io.rpush('pop', 'a', 'b', 'c', 'd', 'e');
    expect(await io.lpop('pop')).toBe('a');
    expect(await io.rpop('pop')).toBe('e');
    expect(await io.lpop('pop', 0)).toEqual([]);
    expect(await io.lpop('pop', 1)).toEqual(['b']);
    expect(await io.rpop('pop', 10)).toEqual(['d', 'c']);
    expect(await io.exists('pop')).toBe(0);
    expect(await io.lpop('pop')).toBeNull();
    expect(await io.rpop('pop', 2)).toBeNull();
    await io.rpush('pop', '1', '2', '3');
    expect(await io.lpop('pop', 2)).toEqual(['1', '2']);
    expect(await io.rpop('pop', 2)).toEqual(['3']);
    expect(await io.exists('pop')).toBe(0);
  });

  it('LPOP/RPOP errors', async () => {
    await io.rpush('pope', 'a');
    await expect(io.call('lpop', 'pope', '-1')).rejects.toThrow(/^ERR value is out of range, must be positive$/);
    await expect(io.call('rpop', 'pope', 'x')).rejects.toThrow(/^ERR value is out of range, must be positive$/);
    await expect(io.call('lpop', 'pope', '99999999999999999999')).rejects.toThrow(/^ERR value is out of range, must be positive$/);
    await expect(io.call('lpop', 'pope', '1', '2')).rejects.toThrow("ERR wrong number of arguments for 'lpop' command");
    await expect(io.call('rpop', 'pope', '1', '2')).rejects.toThrow("ERR wrong number of arguments for 'rpop' command");
    await io.set('pops', 'x');
    await expect(io.lpop('pops')).rejects.toThrow(WRONGTYPE);
    await expect(io.call('rpop', 'pops', '0')).rejects.toThrow(WRONGTYPE);
    expect(await io.llen('pope')).toBe(1);
  });

  it('LPOP/RPOP reply shapes in RESP2 and RESP3', async () => {
    await io.rpush('shape', 'a', 'b');
    expect(await r2.pipeline([['LPOP', 'nokey'], ['LPOP', 'nokey', '1'], ['RPOP', 'nokey', '0'], ['LPOP', 'shape', '0'], ['LPOP', 'shape', '1'], ['RPOP', 'shape']])).toEqual([
      NIL2,
      NILARR2,
      NILARR2,
      '*0\r\n',
      '*1\r\n$1\r\na\r\n',
      '$1\r\nb\r\n',
    ]);
    await io.rpush('shape', 'a');
    expect(await r3.pipeline([['LPOP', 'nokey'], ['LPOP', 'nokey', '1'], ['RPOP', 'nokey', '0'], ['LPOP', 'shape', '0'], ['RPOP', 'shape', '5']])).toEqual([
      NULL3,
      NULL3,
      NULL3,
      '*0\r\n',
      '*1\r\n$1\r\na\r\n',
    ]);
  });

  it('LINDEX', async () => {
    await io.rpush('idx', 'a', 'b', 'c');
    expect(await io.lindex('idx', 0)).toBe('a');
    expect(await io.lindex('idx', 2)).toBe('c');
    expect(await io.lindex('idx', -1)).toBe('c');
    expect(await io.lindex('idx', -3)).toBe('a');
    expect(await io.lindex('idx', 3)).toBeNull();
    expect(await io.lindex('idx', -4)).toBeNull();
    expect(await io.lindex('idx-missing', 0)).toBeNull();
    // Redis looks the key up before parsing the index.
    expect(await io.call('lindex', 'idx-missing', 'abc')).toBeNull();
    await expect(io.call('lindex', 'idx', 'abc')).rejects.toThrow('ERR value is not an integer or out of range');
    await expect(io.call('lindex', 'idx', '1.5')).rejects.toThrow('ERR value is not an integer or out of range');
    await io.set('idxs', 'v');
    await expect(io.lindex('idxs', 0)).rejects.toThrow(WRONGTYPE);
    expect(await r3.cmd('LINDEX', 'idx', '9')).toBe(NULL3);
    expect(await r2.cmd('LINDEX', 'idx', '9')).toBe(NIL2);
  });

  it('LSET', async () => {
    await io.rpush('lset', 'a', 'b', 'c');
    expect(await io.lset('lset', 0, 'A')).toBe('OK');
    expect(await io.lset('lset', -1, 'C')).toBe('OK');
    expect(await io.lrange('lset', 0, -1)).toEqual(['A', 'b', 'C']);
    await expect(io.lset('lset', 3, 'x')).rejects.toThrow(/^ERR index out of range$/);
    await expect(io.lset('lset', -4, 'x')).rejects.toThrow(/^ERR index out of range$/);
    await expect(io.lset('lset-missing', 0, 'x')).rejects.toThrow(/^ERR no such key$/);
    await expect(io.call('lset', 'lset-missing', 'abc', 'x')).rejects.toThrow(/^ERR no such key$/);
    await expect(io.call('lset', 'lset', 'abc', 'x')).rejects.toThrow('ERR value is not an integer or out of range');
    await io.set('lsets', 'v');
    await expect(io.lset('lsets', 0, 'x')).rejects.toThrow(WRONGTYPE);
  });

  it('LRANGE clamps and normalises indexes like Redis', async () => {
    await io.rpush('rng', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9');
    const all = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    const cases: [number | string, number | string, string[]][] = [
      [0, -1, all],
      [0, 0, ['0']],
      [2, 4, ['2', '3', '4']],
      [-3, -1, ['7', '8', '9']],
      [-100, 1, ['0', '1']],
      [5, 100, ['5', '6', '7', '8', '9']],
      [4, 3, []],
      [10, 20, []],
      [-1, -2, []],
      [-20, -15, []],
      ['-9223372036854775808', '9223372036854775807', all],
      [9, 9, ['9']],
    ];
    for (const [a, b, want] of cases) expect(await io.lrange('rng', a, b), `LRANGE ${a} ${b}`).toEqual(want);
    expect(await io.lrange('rng-missing', 0, -1)).toEqual([]);
    await expect(io.call('lrange', 'rng', 'a', '1')).rejects.toThrow('ERR value is not an integer or out of range');
    // Indexes are parsed before the key is looked up.
    await expect(io.call('lrange', 'rng-missing', '0', 'x')).rejects.toThrow('ERR value is not an integer or out of range');
    await io.set('rngs', 'v');
    await expect(io.lrange('rngs', 0, 1)).rejects.toThrow(WRONGTYPE);
  });

  it('LRANGE over a large list that wrapped around the ring buffer', async () => {
    const want: string[] = [];
    for (let i = 0; i < 1000; i++) want.push(`v${i}`);
    await io.rpush('big', ...want.slice(500));
    await io.lpush('big', ...want.slice(0, 500).reverse());
    expect(await io.lrange('big', 0, -1)).toEqual(want);
    expect(await io.lrange('big', 250, 749)).toEqual(want.slice(250, 750));
    expect(await io.lindex('big', 777)).toBe('v777');
    const long = 'L'.repeat(5000);
    await io.rpush('big', long);
    expect(await io.lrange('big', -2, -1)).toEqual(['v999', long]);
  });

  it('LTRIM keeps a range and deletes the key when nothing is left', async () => {
    await io.rpush('trim', 'a', 'b', 'c', 'd', 'e');
    expect(await io.ltrim('trim', 1, -2)).toBe('OK');
    expect(await io.lrange('trim', 0, -1)).toEqual(['b', 'c', 'd']);
    expect(await io.ltrim('trim', 0, 100)).toBe('OK');
    expect(await io.lrange('trim', 0, -1)).toEqual(['b', 'c', 'd']);
    expect(await io.ltrim('trim', -1, -1)).toBe('OK');
    expect(await io.lrange('trim', 0, -1)).toEqual(['d']);
    expect(await io.ltrim('trim', 1, 0)).toBe('OK');
    expect(await io.exists('trim')).toBe(0);
    expect(await io.ltrim('trim', 0, 1)).toBe('OK');
    await expect(io.call('ltrim', 'trim', 'x', '1')).rejects.toThrow('ERR value is not an integer or out of range');
    await io.set('trims', 'v');
    await expect(io.ltrim('trims', 0, 1)).rejects.toThrow(WRONGTYPE);
  });

  it('LINSERT BEFORE|AFTER the first pivot', async () => {
    await io.rpush('ins', 'a', 'b', 'a');
    expect(await io.linsert('ins', 'BEFORE', 'a', 'x')).toBe(4);
    expect(await io.call('linsert', 'ins', 'after', 'a', 'y')).toBe(5);
    expect(await io.linsert('ins', 'AFTER', 'b', 'z')).toBe(6);
    expect(await io.lrange('ins', 0, -1)).toEqual(['x', 'a', 'y', 'b', 'z', 'a']);
    expect(await io.linsert('ins', 'BEFORE', 'nope', 'q')).toBe(-1);
    expect(await io.linsert('ins-missing', 'BEFORE', 'a', 'q')).toBe(0);
    expect(await io.exists('ins-missing')).toBe(0);
    await expect(io.call('linsert', 'ins', 'MIDDLE', 'a', 'q')).rejects.toThrow(/^ERR syntax error$/);
    await expect(io.call('linsert', 'ins-missing', 'MIDDLE', 'a', 'q')).rejects.toThrow(/^ERR syntax error$/);
    await io.set('inss', 'v');
    await expect(io.linsert('inss', 'BEFORE', 'a', 'b')).rejects.toThrow(WRONGTYPE);
  });

  it('LREM from the head, from the tail, or all', async () => {
    await io.rpush('rem', 'a', 'b', 'a', 'c', 'a', 'b');
    expect(await io.lrem('rem', 1, 'a')).toBe(1);
    expect(await io.lrange('rem', 0, -1)).toEqual(['b', 'a', 'c', 'a', 'b']);
    expect(await io.lrem('rem', -1, 'b')).toBe(1);
    expect(await io.lrange('rem', 0, -1)).toEqual(['b', 'a', 'c', 'a']);
    expect(await io.lrem('rem', 0, 'a')).toBe(2);
    expect(await io.lrange('rem', 0, -1)).toEqual(['b', 'c']);
    expect(await io.lrem('rem', 5, 'zzz')).toBe(0);
    expect(await io.lrem('rem', -5, 'b')).toBe(1);
    expect(await io.lrem('rem', 0, 'c')).toBe(1);
    expect(await io.exists('rem')).toBe(0);
    expect(await io.lrem('rem', 0, 'c')).toBe(0);
    await expect(io.call('lrem', 'rem', 'x', 'a')).rejects.toThrow('ERR value is not an integer or out of range');
    await io.set('rems', 'v');
    await expect(io.lrem('rems', 0, 'a')).rejects.toThrow(WRONGTYPE);
  });

  it('LPOS with RANK, COUNT and MAXLEN', async () => {
    await io.rpush('pos', 'a', 'b', 'c', '1', '2', '3', 'c', 'c');
    expect(await io.lpos('pos', 'c')).toBe(2);
    expect(await io.lpos('pos', 'zz')).toBeNull();
    expect(await io.lpos('pos', 'c', 'RANK', 2)).toBe(6);
    expect(await io.lpos('pos', 'c', 'RANK', -1)).toBe(7);
    expect(await io.lpos('pos', 'c', 'RANK', -3)).toBe(2);
    expect(await io.lpos('pos', 'c', 'RANK', 4)).toBeNull();
    expect(await io.lpos('pos', 'c', 'COUNT', 0)).toEqual([2, 6, 7]);
    expect(await io.lpos('pos', 'c', 'COUNT', 2)).toEqual([2, 6]);
    expect(await io.lpos('pos', 'c', 'COUNT', 0, 'RANK', -1)).toEqual([7, 6, 2]);
    expect(await io.lpos('pos', 'c', 'RANK', 2, 'COUNT', 5)).toEqual([6, 7]);
    expect(await io.lpos('pos', 'c', 'COUNT', 0, 'MAXLEN', 7)).toEqual([2, 6]);
    expect(await io.lpos('pos', 'c', 'RANK', -1, 'COUNT', 0, 'MAXLEN', 2)).toEqual([7, 6]);
    expect(await io.lpos('pos', 'zz', 'COUNT', 3)).toEqual([]);
    expect(await io.lpos('pos-missing', 'zz', 'COUNT', 3)).toEqual([]);
    expect(await io.lpos('pos-missing', 'zz')).toBeNull();
    expect(await io.call('lpos', 'pos', 'c', 'rank', '-9223372036854775808')).toBe(7);
    expect(await io.call('lpos', 'pos', 'c', 'count', '1', 'count', '2', 'rank', '1', 'rank', '2')).toEqual([6, 7]);
    await expect(io.call('lpos', 'pos', 'c', 'RANK', '0')).rejects.toThrow(
      "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
    );
    await expect(io.call('lpos', 'pos', 'c', 'RANK', 'x')).rejects.toThrow('ERR value is not an integer or out of range');
    await expect(io.call('lpos', 'pos', 'c', 'COUNT', '-1')).rejects.toThrow(/^ERR COUNT can't be negative$/);
    await expect(io.call('lpos', 'pos', 'c', 'COUNT', 'x')).rejects.toThrow(/^ERR COUNT can't be negative$/);
    await expect(io.call('lpos', 'pos', 'c', 'MAXLEN', '-1')).rejects.toThrow(/^ERR MAXLEN can't be negative$/);
    await expect(io.call('lpos', 'pos', 'c', 'RANK')).rejects.toThrow(/^ERR syntax error$/);
    await expect(io.call('lpos', 'pos', 'c', 'FOO', '1')).rejects.toThrow(/^ERR syntax error$/);
    await io.set('poss', 'v');
    // Options are checked before the key's type.
    await expect(io.call('lpos', 'poss', 'c', 'FOO')).rejects.toThrow(/^ERR syntax error$/);
    await expect(io.lpos('poss', 'c')).rejects.toThrow(WRONGTYPE);
    expect(await r3.pipeline([['LPOS', 'pos', 'zz'], ['LPOS', 'pos', 'zz', 'COUNT', '1']])).toEqual([NULL3, '*0\r\n']);
    expect(await r2.pipeline([['LPOS', 'pos', 'zz'], ['LPOS', 'pos', 'zz', 'COUNT', '1']])).toEqual([NIL2, '*0\r\n']);
  });

  it('LMOVE in all four directions, rotation of one list, and RPOPLPUSH', async () => {
    await io.rpush('mv-src', '1', '2', '3', '4');
    expect(await io.lmove('mv-src', 'mv-dst', 'LEFT', 'LEFT')).toBe('1');
    expect(await io.lmove('mv-src', 'mv-dst', 'RIGHT', 'LEFT')).toBe('4');
    expect(await io.call('lmove', 'mv-src', 'mv-dst', 'left', 'right')).toBe('2');
    expect(await io.lmove('mv-src', 'mv-dst', 'RIGHT', 'RIGHT')).toBe('3');
    expect(await io.exists('mv-src')).toBe(0);
    expect(await io.lrange('mv-dst', 0, -1)).toEqual(['4', '1', '2', '3']);
    expect(await io.lmove('mv-dst', 'mv-dst', 'LEFT', 'RIGHT')).toBe('4');
    expect(await io.lrange('mv-dst', 0, -1)).toEqual(['1', '2', '3', '4']);
    expect(await io.rpoplpush('mv-dst', 'mv-dst')).toBe('4');
    expect(await io.lrange('mv-dst', 0, -1)).toEqual(['4', '1', '2', '3']);
    expect(await io.rpoplpush('mv-dst', 'mv-other')).toBe('3');
    expect(await io.lrange('mv-other', 0, -1)).toEqual(['3']);
    await io.rpush('mv-one', 'only');
    expect(await io.lmove('mv-one', 'mv-one', 'LEFT', 'LEFT')).toBe('only');
    expect(await io.lrange('mv-one', 0, -1)).toEqual(['only']);
    expect(await io.lmove('mv-missing', 'mv-dst', 'LEFT', 'LEFT')).toBeNull();
    expect(await io.rpoplpush('mv-missing', 'mv-dst')).toBeNull();
    expect(await r3.cmd('LMOVE', 'mv-missing', 'x', 'LEFT', 'LEFT')).toBe(NULL3);
    expect(await r2.cmd('RPOPLPUSH', 'mv-missing', 'x')).toBe(NIL2);
  });

  it('LMOVE errors', async () => {
    await io.rpush('mve', 'a');
    await io.set('mve-str', 'v');
    await expect(io.call('lmove', 'mve', 'x', 'UP', 'LEFT')).rejects.toThrow(/^ERR syntax error$/);
    await expect(io.call('lmove', 'mve', 'x', 'LEFT', 'DOWN')).rejects.toThrow(/^ERR syntax error$/);
    await expect(io.lmove('mve-str', 'x', 'LEFT', 'LEFT')).rejects.toThrow(WRONGTYPE);
    await expect(io.lmove('mve', 'mve-str', 'LEFT', 'LEFT')).rejects.toThrow(WRONGTYPE);
    await expect(io.rpoplpush('mve', 'mve-str')).rejects.toThrow(WRONGTYPE);
    // Nothing moved on error; a missing source answers nil whatever the destination holds.
    expect(await io.lrange('mve', 0, -1)).toEqual(['a']);
    expect(await io.lmove('mve-missing', 'mve-str', 'LEFT', 'LEFT')).toBeNull();
  });

  it('LMPOP pops from the first non-empty list', async () => {
    await io.rpush('mp2', 'a', 'b', 'c', 'd');
    expect(await io.lmpop(3, 'mp1', 'mp2', 'mp3', 'LEFT')).toEqual(['mp2', ['a']]);
    expect(await io.lmpop(2, 'mp1', 'mp2', 'RIGHT', 'COUNT', 2)).toEqual(['mp2', ['d', 'c']]);
    expect(await io.call('lmpop', '1', 'mp2', 'left', 'count', '10')).toEqual(['mp2', ['b']]);
    expect(await io.exists('mp2')).toBe(0);
    expect(await io.lmpop(2, 'mp1', 'mp2', 'LEFT')).toBeNull();
    expect(await r2.cmd('LMPOP', '1', 'mp1', 'LEFT')).toBe(NILARR2);
    expect(await r3.cmd('LMPOP', '1', 'mp1', 'LEFT')).toBe(NULL3);
    await io.rpush('mp3', 'x', 'y');
    expect(await r3.cmd('LMPOP', '2', 'mp1', 'mp3', 'RIGHT', 'COUNT', '2')).toBe('*2\r\n$3\r\nmp3\r\n*2\r\n$1\r\ny\r\n$1\r\nx\r\n');
    await io.set('mps', 'v');
    await io.rpush('mp4', 'x');
    await expect(io.lmpop(2, 'mps', 'mp4', 'LEFT')).rejects.toThrow(WRONGTYPE);
    expect(await io.lmpop(2, 'mp4', 'mps', 'LEFT')).toEqual(['mp4', ['x']]);
  });

  it('LMPOP errors', async () => {
    const cases: [string[], string][] = [
      [['0', 'k', 'LEFT'], 'ERR numkeys should be greater than 0'],
      [['abc', 'k', 'LEFT'], 'ERR numkeys should be greater than 0'],
      [['-1', 'k', 'LEFT'], 'ERR numkeys should be greater than 0'],
      [['2', 'k', 'LEFT'], 'ERR syntax error'],
      [['1', 'k', 'MIDDLE'], 'ERR syntax error'],
      [['1', 'k', 'LEFT', 'COUNT'], 'ERR syntax error'],
      [['1', 'k', 'LEFT', 'COUNT', '0'], 'ERR count should be greater than 0'],
      [['1', 'k', 'LEFT', 'COUNT', '-1'], 'ERR count should be greater than 0'],
      [['1', 'k', 'LEFT', 'COUNT', 'x'], 'ERR count should be greater than 0'],
      [['1', 'k', 'LEFT', 'COUNT', '1', 'COUNT', '2'], 'ERR syntax error'],
      [['1', 'k', 'LEFT', 'FOO'], 'ERR syntax error'],
    ];
    for (const [args, err] of cases) {
      expect(await r2.cmd('LMPOP', ...args), args.join(' ')).toBe(`-${err}\r\n`);
    }
    expect(await r2.cmd('LMPOP', '1', 'k')).toBe("-ERR wrong number of arguments for 'lmpop' command\r\n");
  });

  it('redis-cli sees the same replies', async () => {
    await io.rpush('cli', 'a', 'b');
    expect(redisCli(node.port, ['lrange', 'cli', '0', '-1']).stdout).toBe('a\nb');
    expect(redisCli(node.port, ['--no-raw', 'lpop', 'cli', '5']).stdout).toBe('1) "a"\n2) "b"');
    expect(redisCli(node.port, ['--no-raw', 'lpop', 'cli', '5']).stdout).toBe('(nil)');
    expect(redisCli(node.port, ['-3', '--no-raw', 'lmpop', '1', 'cli', 'left']).stdout).toBe('(nil)');
  });

  it('node-redis RESP3 decodes list replies', async () => {
    const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await c.connect();
    try {
      expect(await c.rPush('nr', ['a', 'b', 'c'])).toBe(3);
      expect(await c.lRange('nr', 0, -1)).toEqual(['a', 'b', 'c']);
      expect(await c.lPos('nr', 'b')).toBe(1);
      expect(await c.lPopCount('nr', 2)).toEqual(['a', 'b']);
      expect(await c.lPopCount('nr-missing', 2)).toBeNull();
      expect(await c.lmPop(['nr-missing', 'nr'], 'RIGHT')).toEqual(['nr', ['c']]);
    } finally {
      await c.quit();
    }
  });

  it('keyspace events as Redis emits them', async () => {
    const sub = await Raw.connect({ port: node.port });
    await sub.cmd('PSUBSCRIBE', '__keyevent@0__:*');
    const events = async (n: number): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const m = await sub.next();
        const parts = m.split('\r\n');
        // pmessage pattern channel message
        out.push(`${parts[6].slice('__keyevent@0__:'.length)} ${parts[8]}`);
      }
      return out;
    };
    await io.rpush('ev', 'a', 'b', 'c');
    await io.lpush('ev', 'z');
    await io.lpushx('ev', 'y');
    await io.lpushx('ev-missing', 'y');
    await io.linsert('ev', 'BEFORE', 'a', 'q');
    await io.linsert('ev', 'BEFORE', 'nope', 'q');
    await io.lset('ev', 0, 'Y');
    await io.lrem('ev', 0, 'q');
    await io.lrem('ev', 0, 'nope');
    await io.lmove('ev', 'ev2', 'LEFT', 'RIGHT');
    await io.ltrim('ev', 0, 1);
    await io.lpop('ev');
    await io.rpop('ev', 5);
    await io.rpop('ev2');
    await io.rpush('ev3', 'x');
    await io.ltrim('ev3', 1, 0);
    expect(await events(17)).toEqual([
      'rpush ev',
      'lpush ev',
      'lpush ev',
      'linsert ev',
      'lset ev',
      'lrem ev',
      'rpush ev2',
      'lpop ev',
      'ltrim ev',
      'lpop ev',
      'rpop ev',
      'del ev',
      'rpop ev2',
      'del ev2',
      'rpush ev3',
      'ltrim ev3',
      'del ev3',
    ]);
    sub.close();
  });

  it('redis-benchmark list tests complete without errors', async () => {
    const r = spawnSync('redis-benchmark', ['-p', String(node.port), '-t', 'lpush,rpush,lpop,rpop,lrange_100', '-n', '10000', '-q'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const out = (r.stdout + r.stderr).replace(/\r/g, '\n');
    expect(out).not.toMatch(/error/i);
    for (const t of ['LPUSH', 'RPUSH', 'LPOP', 'RPOP', 'LRANGE_100']) expect(out).toMatch(new RegExp(`^${t}[^\\n]*: [\\d.]+ requests per second`, 'm'));
    // The LPUSHes for LRANGE left 10000 elements in mylist (redis-benchmark's key).
    expect(await io.llen('mylist')).toBeGreaterThanOrEqual(10000);
    const head = await io.lrange('mylist', 0, 2);
    expect(head.length).toBe(3);
    for (const v of head) expect(v.length).toBe(3);
  }, 60_000);
});

// ------------------------------------------------------------------ propagation, memory

describe('propagation and memory accounting of list writes (in-process server)', () => {
  let server: Server;
  let c: Redis;
  let b: Redis;
  const log: string[] = [];
  const take = (): string[] => log.splice(0, log.length);

  beforeAll(async () => {
    server = new Server(Config.fromArgs(['--port', '0', '--bind', '127.0.0.1', '--loglevel', 'warning']));
    await server.listen();
    server.propagators.push((db, argv) => log.push([db, ...argv].join(' ')));
    c = new Redis({ port: server.boundPort(), host: '127.0.0.1' });
    b = new Redis({ port: server.boundPort(), host: '127.0.0.1' });
  });
  afterAll(async () => {
    c?.disconnect();
    b?.disconnect();
    await server?.close();
  });

  it('plain writes propagate as sent, no-ops and reads not at all', async () => {
    await c.rpush('k', 'a', 'b', 'c', 'd');
    await c.lpush('k', 'z');
    await c.lpop('k', 2);
    await c.lset('k', 0, 'B');
    await c.linsert('k', 'AFTER', 'B', 'x');
    await c.lrem('k', 1, 'x');
    await c.lmove('k', 'k2', 'LEFT', 'RIGHT');
    expect(take()).toEqual([
      '0 rpush k a b c d',
      '0 lpush k z',
      '0 lpop k 2',
      '0 lset k 0 B',
      '0 linsert k AFTER B x',
      '0 lrem k 1 x',
      '0 lmove k k2 LEFT RIGHT',
    ]);
    await c.lpop('missing');
    await c.lpushx('missing', 'v');
    await c.lrem('k', 0, 'nope');
    await c.linsert('k', 'BEFORE', 'nope', 'v');
    await c.ltrim('k', 0, -1);
    await c.lrange('k', 0, -1);
    await c.lpos('k', 'c');
    await c.lmpop(1, 'missing', 'LEFT');
    expect(take()).toEqual([]);
    await c.ltrim('k', 0, 0);
    expect(take()).toEqual(['0 ltrim k 0 0']);
  });

  it('LMPOP and blocking pops served at once propagate as the equivalent pop', async () => {
    await c.rpush('m', '1', '2', '3', '4', '5');
    take();
    await c.lmpop(2, 'missing', 'm', 'LEFT', 'COUNT', 2);
    await c.blpop('missing', 'm', 0);
    await c.brpop('m', 0);
    await c.blmove('m', 'n', 'RIGHT', 'LEFT', 0);
    expect(take()).toEqual(['0 LPOP m 2', '0 LPOP m', '0 RPOP m', '0 LMOVE m n RIGHT LEFT']);
    await c.rpush('m', 'x', 'y');
    take();
    await c.brpoplpush('m', 'n', 0);
    await c.blmpop(0, 1, 'm', 'RIGHT', 'COUNT', 10);
    expect(take()).toEqual(['0 RPOPLPUSH m n', '0 RPOP m 1']);
  });

  it('a woken waiter propagates its pop after the push that woke it', async () => {
    const p = b.blpop('w', 0);
    const q = b.duplicate();
    const pm = q.blmove('w2', 'w3', 'LEFT', 'RIGHT', 0);
    for (let i = 0; i < 200 && server.stats.blockedClients < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.stats.blockedClients).toBe(2);
    await c.rpush('w', 'v');
    expect(await p).toEqual(['w', 'v']);
    await c.rpush('w2', 'u');
    expect(await pm).toBe('u');
    q.disconnect();
    expect(take()).toEqual(['0 rpush w v', '0 LPOP w', '0 rpush w2 u', '0 LMOVE w2 w3 LEFT RIGHT']);
  });

  it('memory accounting follows every in-place change and returns to the baseline', async () => {
    const db = server.dbs[0];
    await c.del('mem');
    const base = db.used;
    const v = 'x'.repeat(200);
    await c.rpush('mem', ...Array.from({ length: 1000 }, () => v));
    const full = db.used;
    expect(full - base).toBeGreaterThan(200_000);
    await c.lset('mem', 0, 'y'.repeat(100_000));
    expect(db.used - full).toBeGreaterThan(99_000);
    await c.ltrim('mem', 1, -1);
    expect(Math.abs(db.used - full)).toBeLessThan(1000);
    await c.lpop('mem', 500);
    const half = db.used;
    expect(full - half).toBeGreaterThan(100_000);
    await c.lrem('mem', 0, v);
    expect(await c.exists('mem')).toBe(0);
    expect(db.used).toBe(base);
    await c.rpush('mem', v);
    await c.lmove('mem', 'mem2', 'LEFT', 'LEFT');
    await c.linsert('mem2', 'BEFORE', v, v);
    await c.rpop('mem2', 2);
    expect(db.used).toBe(base);
  });

  it('blocking commands that time out or run in MULTI on empty keys propagate nothing', async () => {
    take();
    expect(await c.blpop('none', 0.05)).toBeNull();
    expect(await c.multi().brpop('none', 0).blmove('none', 'x', 'LEFT', 'LEFT', 0).exec()).toEqual([
      [null, null],
      [null, null],
    ]);
    expect(take().filter((l) => !/^0 (MULTI|EXEC)$/i.test(l))).toEqual([]);
  });
});

// ------------------------------------------------------------------ differential vs redis-server

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic script of non-blocking list commands (and blocking ones that cannot block). */
function script(p: string, seed: number, n: number): string[][] {
  const rnd = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const keys = [`${p}a`, `${p}b`, `${p}c`, `${p}d`];
  const vals = ['a', 'b', 'c', 'd', '', 'x\x00y', '\xff\xfe', 'long'.repeat(20)];
  const key = () => (rnd() < 0.05 ? `${p}str` : pick(keys));
  const side = () => pick(['LEFT', 'RIGHT', 'left', 'Right']);
  const out: string[][] = [['SET', `${p}str`, 'v']];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const k = key();
    if (r < 0.22) {
      const vs = Array.from({ length: int(1, 4) }, () => pick(vals));
      out.push([pick(['LPUSH', 'RPUSH', 'RPUSH', 'LPUSH', 'LPUSHX', 'RPUSHX']), k, ...vs]);
    } else if (r < 0.34) {
      const cmd = pick(['LPOP', 'RPOP']);
      out.push(rnd() < 0.5 ? [cmd, k] : [cmd, k, String(int(0, 4))]);
    } else if (r < 0.4) out.push([pick(['LLEN', 'EXISTS']), k]);
    else if (r < 0.46) out.push(['LINDEX', k, String(int(-7, 7))]);
    else if (r < 0.5) out.push(['LSET', k, String(int(-6, 6)), pick(vals)]);
    else if (r < 0.58) out.push(['LRANGE', k, String(int(-8, 8)), String(int(-8, 8))]);
    else if (r < 0.6) out.push(['LTRIM', k, String(int(-3, 1)), String(int(-1, 8))]);
    else if (r < 0.65) out.push(['LINSERT', k, pick(['BEFORE', 'AFTER', 'after']), pick(vals), pick(vals)]);
    else if (r < 0.69) out.push(['LREM', k, String(int(-3, 3)), pick(vals)]);
    else if (r < 0.76) {
      const args = ['LPOS', k, pick(vals)];
      if (rnd() < 0.5) args.push('RANK', String(pick([-3, -2, -1, 1, 2, 3])));
      if (rnd() < 0.5) args.push('COUNT', String(int(0, 3)));
      if (rnd() < 0.3) args.push('MAXLEN', String(int(0, 5)));
      out.push(args);
    } else if (r < 0.83) out.push(['LMOVE', k, key(), side(), side()]);
    else if (r < 0.86) out.push(['RPOPLPUSH', k, key()]);
    else if (r < 0.92) {
      const ks = Array.from({ length: int(1, 3) }, key);
      const args = ['LMPOP', String(ks.length), ...ks, side()];
      if (rnd() < 0.5) args.push('COUNT', String(int(1, 4)));
      out.push(args);
    } else if (r < 0.96) {
      // Blocking commands on a non-empty list answer at once; in MULTI they never block.
      const nonEmpty = [`${p}a`, `${p}b`];
      out.push(['RPUSH', nonEmpty[0], 'q']);
      out.push(pick([
        ['BLPOP', `${p}none`, nonEmpty[0], '0'],
        ['BRPOP', nonEmpty[0], '0.5'],
        ['BLMOVE', nonEmpty[0], k, side(), side(), '0'],
        ['BRPOPLPUSH', nonEmpty[0], k, '0'],
        ['BLMPOP', '0', '2', `${p}none`, nonEmpty[0], side(), 'COUNT', String(int(1, 3))],
      ]));
    } else {
      out.push(['MULTI']);
      out.push(['BLPOP', `${p}none`, '0']);
      out.push(['BLMOVE', `${p}none`, k, 'LEFT', 'RIGHT', '0']);
      out.push(['BLMPOP', '0', '1', `${p}none`, 'LEFT']);
      out.push(['RPUSH', k, 'm']);
      out.push(['BRPOP', k, '0']);
      out.push(['EXEC']);
    }
  }
  // Every list's final content.
  for (const k of keys) out.push(['LRANGE', k, '0', '-1']);
  return out;
}

/** Fixed error and edge cases (argument order of checks, error texts). */
function edgeCases(p: string): string[][] {
  const l = `${p}el`;
  const s = `${p}es`;
  const m = `${p}em`;
  return [
    ['RPUSH', l, 'a', 'e', 'b', 'e'],
    ['SET', s, 'x'],
    ['LPOP', l, '-1'], ['LPOP', l, 'x'], ['LPOP', l, '1', '2'], ['RPOP', m, '0'], ['LPOP', s, '0'], ['LPOP', l, '99999999999999999999'],
    ['LINDEX', m, 'abc'], ['LINDEX', l, 'abc'], ['LINDEX', s, 'abc'], ['LINDEX', l, '-9223372036854775808'],
    ['LSET', m, 'abc', 'x'], ['LSET', s, 'abc', 'x'], ['LSET', l, 'abc', 'x'], ['LSET', l, '100', 'x'], ['LSET', l, '-5', 'x'],
    ['LRANGE', m, 'a', 'b'], ['LRANGE', s, '0', '1'], ['LRANGE', l, '-9223372036854775808', '9223372036854775807'], ['LRANGE', l, '1', 'x'],
    ['LTRIM', m, 'a', '1'], ['LTRIM', s, '0', '1'],
    ['LINSERT', m, 'middle', 'a', 'b'], ['LINSERT', s, 'BEFORE', 'a', 'b'], ['LINSERT', m, 'BEFORE', 'a', 'b'],
    ['LREM', m, 'x', 'a'], ['LREM', s, '1', 'a'],
    ['LPOS', l, 'e', 'RANK', '0'], ['LPOS', l, 'e', 'RANK', '-9223372036854775808'], ['LPOS', l, 'e', 'RANK', '9223372036854775807'],
    ['LPOS', l, 'e', 'RANK', '-9223372036854775807'], ['LPOS', l, 'e', 'COUNT', '-1'], ['LPOS', l, 'e', 'COUNT', 'abc'],
    ['LPOS', l, 'e', 'MAXLEN', '-1'], ['LPOS', l, 'e', 'RANK'], ['LPOS', s, 'e', 'foo'], ['LPOS', s, 'e'], ['LPOS', m, 'e', 'COUNT', '0'],
    ['LPOS', l, 'e', 'RANK', '-1', 'COUNT', '0'], ['LPOS', l, 'e', 'rank', '1', 'count', '0', 'maxlen', '2'], ['LPOS', l, 'e', 'COUNT', '0', 'MAXLEN', '0'],
    ['LMOVE', s, 'd', 'left', 'left'], ['LMOVE', m, s, 'left', 'left'], ['LMOVE', l, s, 'left', 'left'], ['LMOVE', 'a', 'b', 'up', 'left'],
    ['RPOPLPUSH', s, l], ['RPOPLPUSH', l, s],
    ['LMPOP', '0', l, 'left'], ['LMPOP', '2', l, 'left'], ['LMPOP', '1', l, 'left', 'count', '1', 'count', '2'], ['LMPOP', 'abc', l],
    ['LMPOP', '1', l, 'left', 'count', '-1'], ['LMPOP', '1', l, 'LEFT', 'COUNT', 'abc'], ['LMPOP', '2', s, l, 'LEFT'],
    ['BLMPOP', 'abc', '0', l, 'left'], ['BLMPOP', 'abc', '1', l, 'middle'], ['BLMPOP', 'abc', '1', l, 'left', 'count', '0'], ['BLMPOP', '-1', '1', m, 'left'],
    ['BLMPOP', 'x', '1', m, 'left'], ['BLMPOP', '0', '1', s, 'left'],
    ['BRPOPLPUSH', 'a', 'b', '-1'], ['BLMOVE', 'a', 'b', 'left', 'left', 'abc'], ['BLMOVE', 'a', 'b', 'lleft', 'left', 'abc'],
    ['BLMOVE', s, 'b', 'left', 'left', '0'], ['BLMOVE', l, s, 'left', 'left', '0'],
    ['BLPOP', s, m, '1'], ['BLPOP', m, s, '0.01'], ['BLPOP', 'k'], ['BLPOP', m, 'inf'], ['BLPOP', m, '-inf'], ['BLPOP', m, 'nan'], ['BLPOP', m, '1e300'],
    ['BLPOP', m, '-1'], ['BLPOP', m, 'abc'], ['BLPOP', m, ''], ['BLPOP', m, ' 1'], ['BRPOP', m, '-0.5'], ['BLPOP', m, '9223372036854775807'],
    ['BLPOP', l, s, '0'],
    ['LPUSH', l], ['LLEN', l, 'x'], ['LPOS', l], ['LMOVE', l, l, 'left'],
    ['LRANGE', l, '0', '-1'],
  ];
}

describe('differential: the same list script against redis-server', () => {
  let node: NodeHandle;
  let real: RealRedis;
  beforeAll(async () => {
    [node, real] = await Promise.all([startNode(['--notify-keyspace-events', 'KEA']), startRealRedis(['--notify-keyspace-events', 'KEA'])]);
  });
  afterAll(async () => {
    await real?.stop();
  });

  async function run(target: { port?: number; path?: string }, proto: 2 | 3, cmds: string[][]): Promise<string[]> {
    const c = await Raw.connect(target);
    try {
      if (proto === 3) await c.cmd('HELLO', '3');
      const replies = await c.pipeline(cmds);
      return cmds.map((a, i) => `${a.join(' ')} => ${JSON.stringify(replies[i])}`);
    } finally {
      c.close();
    }
  }

  it('edge cases and error texts match byte for byte (RESP2 and RESP3)', async () => {
    for (const proto of [2, 3] as const) {
      const cmds = edgeCases(`e${proto}:`);
      const [ours, theirs] = await Promise.all([run({ port: node.port }, proto, cmds), run({ path: real.path }, proto, cmds)]);
      expect(ours).toEqual(theirs);
    }
  });

  it('a random script of list commands gives identical replies and keyspace events', async () => {
    const subscribe = async (target: { port?: number; path?: string }) => {
      const s = await Raw.connect(target);
      await s.cmd('PSUBSCRIBE', '__keyevent@0__:*');
      return s;
    };
    const [subOurs, subTheirs] = await Promise.all([subscribe({ port: node.port }), subscribe({ path: real.path })]);
    for (const [proto, seed] of [[2, 1], [3, 2], [2, 3]] as const) {
      const cmds = script(`s${seed}:`, seed, 700);
      const [ours, theirs] = await Promise.all([run({ port: node.port }, proto, cmds), run({ path: real.path }, proto, cmds)]);
      expect(ours.length).toBe(cmds.length);
      expect(ours).toEqual(theirs);
    }
    // Same notifications in the same order: collect until a marker event arrives on both.
    const collect = async (s: Raw, target: { port?: number; path?: string }) => {
      const c = await Raw.connect(target);
      await c.cmd('RPUSH', 'end-marker', 'x');
      c.close();
      const out: string[] = [];
      for (;;) {
        const m = await s.next(5000);
        const parts = m.split('\r\n');
        const ev = `${parts[6]} ${parts[8]}`;
        if (parts[8] === 'end-marker') break;
        out.push(ev);
      }
      s.close();
      return out;
    };
    const [evOurs, evTheirs] = await Promise.all([collect(subOurs, { port: node.port }), collect(subTheirs, { path: real.path })]);
    expect(evOurs.length).toBeGreaterThan(500);
    expect(evOurs).toEqual(evTheirs);
  }, 30_000);
});
