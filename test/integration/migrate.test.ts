/**
 * MIGRATE and RESTORE-ASKING between real processes (our nodes and a real redis-server 7), and the
 * key mover behind them (cluster/key-mover.ts) in-process: single key and KEYS forms, COPY, REPLACE,
 * BUSYKEY, NOKEY, destination db over the cached connection, TTLs, AUTH / AUTH2, IOERR cases (refused,
 * unresolvable, silent target), interop both ways, errors byte for byte against redis-server, MULTI,
 * propagation as DEL, Server.holdWrites, and a concurrent writer whose writes must not be lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, startNode, waitForPort, type NodeHandle } from '../helpers/node';
import { Server } from '../../cluster-node/src/server/server';
import { Config } from '../../cluster-node/src/server/config';
import { cachedMoveConnections, closeMoveConnections, moveKeys, MoveError } from '../../cluster-node/src/cluster/key-mover';
import { migratePort } from '../../cluster-node/src/commands/migrate';

// ------------------------------------------------------------------------------------------ helpers

const HOST = '127.0.0.1';

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('');
}

/** Raw reply bytes of commands sent on one fresh connection. */
async function rawBytes(port: number, cmds: readonly (readonly string[])[]): Promise<string> {
  const END = '__end__';
  const tail = `$${END.length}\r\n${END}\r\n`;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: HOST });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout, got ${JSON.stringify(buf)}`));
    }, 8000);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.endsWith(tail)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(buf.slice(0, -tail.length));
      }
    });
    sock.on('error', reject);
    sock.write(cmds.map(encode).join('') + encode(['ECHO', END]));
  });
}

function client(port: number, password?: string): Redis {
  return new Redis({ port, host: HOST, password, lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: true });
}

async function err(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A target that accepts connections and never answers. */
async function silentServer(): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, HOST, () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close() {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

/** A TCP proxy that forwards requests at once and replies `delayMs` late. */
async function slowProxy(targetPort: number, delayMs: number): Promise<{ port: number; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((down) => {
    const up = net.connect({ port: targetPort, host: HOST });
    socks.add(down).add(up);
    down.on('data', (d) => up.write(d));
    up.on('data', (d) => setTimeout(() => down.write(d), delayMs));
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => srv.listen(0, HOST, () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close() {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

/** Fill one key of every type (names prefixed) on a client. */
async function fillTypes(r: Redis, p: string): Promise<string[]> {
  await r.set(`${p}:str`, 'hello\x00\xffworld');
  await r.set(`${p}:int`, '12345');
  await r.hset(`${p}:hash`, 'a', '1', 'b', '2');
  await r.rpush(`${p}:list`, 'x', 'y', 'z', 'x');
  await r.sadd(`${p}:set`, 'm1', 'm2', '3');
  await r.sadd(`${p}:intset`, '1', '2', '3');
  await r.zadd(`${p}:zset`, '1.5', 'a', '-2', 'b', '1e100', 'c');
  const big: string[] = [];
  for (let i = 0; i < 300; i++) big.push(`f${i}`, `v${i}`.repeat(5));
  await r.hset(`${p}:bighash`, ...big);
  return ['str', 'int', 'hash', 'list', 'set', 'intset', 'zset', 'bighash'].map((t) => `${p}:${t}`);
}

/** A comparable snapshot of a key's value, whatever its type. */
async function snapshot(r: Redis, key: string): Promise<unknown> {
  const type = await r.type(key);
  switch (type) {
    case 'string':
      return [type, await r.getBuffer(key).then((b) => b?.toString('latin1'))];
    case 'hash':
      return [type, await r.hgetall(key)];
    case 'list':
      return [type, await r.lrange(key, 0, -1)];
    case 'set':
      return [type, (await r.smembers(key)).sort()];
    case 'zset':
      return [type, await r.zrange(key, 0, -1, 'WITHSCORES')];
    default:
      return [type];
  }
}

async function snapshots(r: Redis, keys: string[]): Promise<unknown[]> {
  return Promise.all(keys.map((k) => snapshot(r, k)));
}

// ------------------------------------------------------------------------------------------ processes

let src: NodeHandle; // our node, source
let dst: NodeHandle; // our node, target
let locked: NodeHandle; // our node with requirepass
let real: { port: number; proc: ChildProcess };
let a: Redis;
let b: Redis;
let r: Redis;

beforeAll(async () => {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || !which.stdout.trim()) throw new Error('redis-server is not installed: the interop checks cannot run');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'real-redis-'));
  const proc = spawn(which.stdout.trim(), ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  real = { port, proc };
  [src, dst, locked] = await Promise.all([startNode(), startNode(), startNode(['--requirepass', 'sesame']), waitForPort(port)]);
  a = client(src.port);
  b = client(dst.port);
  r = client(real.port);
  await r.call('ACL', 'SETUSER', 'bob', 'on', '>bobpw', '~*', '+@all');
}, 20_000);

afterAll(() => {
  a?.disconnect();
  b?.disconnect();
  r?.disconnect();
  real?.proc.kill('SIGKILL');
});

const migrate = (from: Redis, port: number, ...rest: (string | number)[]): Promise<unknown> => from.call('MIGRATE', HOST, port, ...rest.map(String));

// ------------------------------------------------------------------------------------------ tests

describe('MIGRATE between our nodes', () => {
  it('moves a single key of every type, and the KEYS form moves several, skipping missing ones', async () => {
    await a.flushall();
    await b.flushall();
    const keys = await fillTypes(a, 'one');
    const before = await snapshots(a, keys);
    for (const k of keys.slice(0, 4)) expect(await migrate(a, dst.port, k, 0, 1000)).toBe('OK');
    expect(await migrate(a, dst.port, '', 0, 1000, 'KEYS', ...keys.slice(4), 'no-such-key')).toBe('OK');
    expect(await a.dbsize()).toBe(0);
    expect(await snapshots(b, keys)).toEqual(before);
  });

  it('answers NOKEY when no key exists (single and KEYS forms), before connecting anywhere', async () => {
    expect(await migrate(a, 1, 'nope', 0, 1000)).toBe('NOKEY');
    expect(await migrate(a, 1, '', 0, 1000, 'KEYS', 'nope1', 'nope2')).toBe('NOKEY');
    expect(await migrate(a, 1, '', 0, 1000, 'COPY', 'KEYS')).toBe('NOKEY');
  });

  it('COPY keeps the source; BUSYKEY without REPLACE keeps it too; REPLACE overwrites', async () => {
    await b.flushall();
    await a.set('c1', 'v1');
    expect(await migrate(a, dst.port, 'c1', 0, 1000, 'COPY')).toBe('OK');
    expect(await a.get('c1')).toBe('v1');
    expect(await b.get('c1')).toBe('v1');
    await a.set('c1', 'v2');
    expect(await err(migrate(a, dst.port, 'c1', 0, 1000))).toBe('ERR Target instance replied with error: BUSYKEY Target key name already exists.');
    expect(await a.get('c1')).toBe('v2');
    expect(await b.get('c1')).toBe('v1');
    expect(await migrate(a, dst.port, 'c1', 0, 1000, 'COPY', 'REPLACE')).toBe('OK');
    expect(await a.get('c1')).toBe('v2');
    expect(await b.get('c1')).toBe('v2');
    await a.set('c1', 'v3');
    expect(await migrate(a, dst.port, 'c1', 0, 1000, 'REPLACE')).toBe('OK');
    expect(await a.exists('c1')).toBe(0);
    expect(await b.get('c1')).toBe('v3');
  });

  it('KEYS with one busy key: the others move, the busy one stays, the error is reported', async () => {
    await b.flushall();
    await b.set('k2', 'theirs');
    await a.mset('k1', '1', 'k2', '2', 'k3', '3');
    expect(await err(migrate(a, dst.port, '', 0, 1000, 'KEYS', 'k1', 'k2', 'k3'))).toBe(
      'ERR Target instance replied with error: BUSYKEY Target key name already exists.',
    );
    expect(await a.mget('k1', 'k2', 'k3')).toEqual([null, '2', null]);
    expect(await b.mget('k1', 'k2', 'k3')).toEqual(['1', 'theirs', '3']);
    await a.del('k2');
  });

  it('lands in the destination db, selecting again on the cached connection whenever the db changes', async () => {
    await b.flushall();
    const plan: [string, number][] = [['d1', 3], ['d2', 3], ['d3', 0], ['d4', 5], ['d5', 3]];
    for (const [k, db] of plan) {
      await a.set(k, `in-${db}`);
      expect(await migrate(a, dst.port, k, db, 1000)).toBe('OK');
    }
    for (const [k, db] of plan) {
      expect(await rawBytes(dst.port, [['SELECT', String(db)], ['GET', k]])).toBe(`+OK\r\n$${`in-${db}`.length}\r\nin-${db}\r\n`);
    }
    await a.set('dx', '1');
    expect(await err(migrate(a, dst.port, 'dx', 99, 1000))).toBe('ERR Target instance replied with error: ERR DB index is out of range');
    expect(await a.get('dx')).toBe('1');
    expect(await migrate(a, dst.port, 'dx', 0, 1000)).toBe('OK');
  });

  it('keeps the remaining TTL, and migrates from the selected source db', async () => {
    await b.flushall();
    await a.set('t1', 'v', 'PX', 60_000);
    await a.select(2);
    await a.set('t2', 'in-two', 'EX', 100);
    expect(await migrate(a, dst.port, 't2', 0, 1000)).toBe('OK');
    await a.select(0);
    expect(await migrate(a, dst.port, 't1', 0, 1000)).toBe('OK');
    const pttl = await b.pttl('t1');
    expect(pttl).toBeGreaterThan(58_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(await b.ttl('t2')).toBeGreaterThan(97);
    expect(await b.get('t2')).toBe('in-two');
    expect(await b.ttl('t1')).toBeGreaterThan(0);
  });

  it('RESTORE-ASKING restores like RESTORE', async () => {
    await a.set('ra', 'payload-source');
    const payload = await a.dumpBuffer('ra');
    expect(await b.call('RESTORE-ASKING', 'ra2', '0', payload)).toBe('OK');
    expect(await b.get('ra2')).toBe('payload-source');
    expect(await err(b.call('RESTORE-ASKING', 'ra2', '0', payload))).toBe('BUSYKEY Target key name already exists.');
    expect(await b.call('RESTORE-ASKING', 'ra2', '5000', payload, 'REPLACE')).toBe('OK');
    expect(await b.pttl('ra2')).toBeGreaterThan(4000);
    await a.del('ra');
  });

  it('refuses to move inside MULTI/EXEC (it cannot wait there), other answers as usual', async () => {
    await a.set('mx', '1');
    const res = await a.multi().call('MIGRATE', HOST, String(dst.port), 'mx', '0', '1000').call('MIGRATE', HOST, '1', 'nokey', '0', '1000').exec();
    expect(res![0][0]?.message).toBe('ERR MIGRATE cannot wait for the target inside MULTI/EXEC');
    expect(res![1]).toEqual([null, 'NOKEY']);
    expect(await a.get('mx')).toBe('1');
    await a.del('mx');
  });
});

describe('MIGRATE authentication', () => {
  it('AUTH against a requirepass target: NOAUTH / WRONGPASS passed through, then success', async () => {
    await a.set('au', 'secret-value');
    expect(await err(migrate(a, locked.port, 'au', 0, 1000))).toBe('ERR Target instance replied with error: NOAUTH Authentication required.');
    expect(await err(migrate(a, locked.port, 'au', 0, 1000, 'AUTH', 'wrong'))).toMatch(/^ERR Target instance replied with error: WRONGPASS /);
    expect(await a.get('au')).toBe('secret-value');
    expect(await migrate(a, locked.port, 'au', 0, 1000, 'AUTH', 'sesame')).toBe('OK');
    await a.set('au2', 'v2');
    expect(await migrate(a, locked.port, 'au2', 0, 1000, 'AUTH2', 'default', 'sesame')).toBe('OK');
    const l = client(locked.port, 'sesame');
    expect(await l.mget('au', 'au2')).toEqual(['secret-value', 'v2']);
    l.disconnect();
  });

  it('AUTH2 with an ACL user of redis-server', async () => {
    await r.flushall();
    await a.set('bobkey', 'for-bob');
    expect(await err(migrate(a, real.port, 'bobkey', 1, 1000, 'AUTH2', 'bob', 'nope'))).toBe(
      'ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(await a.exists('bobkey')).toBe(1);
    await r.select(1);
    // Like redis-server: the RESTORE ran anyway (the default user needs no password), so now it is busy.
    expect(await r.get('bobkey')).toBe('for-bob');
    await r.del('bobkey');
    expect(await migrate(a, real.port, 'bobkey', 1, 1000, 'AUTH2', 'bob', 'bobpw')).toBe('OK');
    expect(await r.get('bobkey')).toBe('for-bob');
    await r.select(0);
    expect(await a.exists('bobkey')).toBe(0);
  });
});

describe('MIGRATE I/O errors', () => {
  it('refused port, unresolvable host, silent target: IOERR like redis-server, keys kept', async () => {
    await a.set('io', 'stays');
    const closed = await freePort();
    expect(await err(migrate(a, closed, 'io', 0, 500))).toBe('IOERR error or timeout writing to target instance');
    expect(await err(a.call('MIGRATE', 'nonexistent.invalid', '6379', 'io', '0', '500'))).toBe('IOERR error or timeout connecting to the client');
    expect(await err(a.call('MIGRATE', '', String(dst.port), 'io', '0', '500'))).toBe('IOERR error or timeout connecting to the client');
    const silent = await silentServer();
    try {
      const t0 = Date.now();
      const pending = err(migrate(a, silent.port, 'io', 0, 300));
      // The node keeps serving other clients (reads) while MIGRATE waits.
      const other = client(src.port);
      try {
        expect(await other.get('io')).toBe('stays');
        expect(Date.now() - t0).toBeLessThan(250);
      } finally {
        other.disconnect();
      }
      expect(await pending).toBe('IOERR error or timeout reading to target instance');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    } finally {
      silent.close();
    }
    expect(await a.get('io')).toBe('stays');
    await a.del('io');
  });

  it('recovers when the target closed the cached connection', async () => {
    await a.set('rc1', '1');
    expect(await migrate(a, dst.port, 'rc1', 0, 1000, 'REPLACE')).toBe('OK');
    // Kill every client of the target (our cached migrate link included), then migrate again.
    await b.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await a.set('rc2', '2');
    expect(await migrate(a, dst.port, 'rc2', 0, 1000, 'REPLACE')).toBe('OK');
    expect(await b.mget('rc1', 'rc2')).toEqual(['1', '2']);
  });

  it('the port is parsed like redis-server (atoi, then getaddrinfo)', () => {
    expect(migratePort('6379')).toBe(6379);
    expect(migratePort(' 17003')).toBe(17003);
    expect(migratePort('12x')).toBe(12);
    expect(migratePort('abc')).toBe(0);
    expect(migratePort('-1')).toBe(-1);
    expect(migratePort('70000')).toBe(70000 & 0xffff);
  });
});

describe('MIGRATE interop with redis-server', () => {
  it('our node -> redis-server and redis-server -> our node, every type', async () => {
    await a.flushall();
    await r.flushall();
    const keys = await fillTypes(a, 'x');
    const before = await snapshots(a, keys);
    expect(await migrate(a, real.port, '', 0, 1000, 'KEYS', ...keys)).toBe('OK');
    expect(await snapshots(r, keys)).toEqual(before);
    expect(await a.dbsize()).toBe(0);
    // Real Redis writes its compact encodings (listpacks, intsets): we must load them.
    await r.pexpire('x:str', 50_000);
    expect(await migrate(r, src.port, '', 0, 1000, 'KEYS', ...keys)).toBe('OK');
    expect(await snapshots(a, keys)).toEqual(before);
    expect(await a.pttl('x:str')).toBeGreaterThan(48_000);
    expect(await r.dbsize()).toBe(0);
  });

  it('argument errors, NOKEY, IOERR and target errors are byte for byte those of redis-server', async () => {
    const closed = await freePort();
    const script = (target: number): string[][] => [
      ['FLUSHALL'],
      ['SET', 'e1', 'v'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000', 'FOO'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000', 'AUTH'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000', 'AUTH2', 'u'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000', 'KEYS', 'e1'],
      ['MIGRATE', HOST, String(target), 'e1', 'x', '1000'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1.5'],
      ['MIGRATE', HOST, String(target), 'e1'],
      ['MIGRATE', HOST, String(target), 'nokey', '0', '1000'],
      ['MIGRATE', HOST, String(target), '', '0', '1000', 'COPY', 'KEYS', 'n1', 'n2'],
      ['MIGRATE', HOST, String(closed), 'e1', '0', '1000'],
      ['MIGRATE', HOST, '0', 'e1', '0', '1000'],
      ['MIGRATE', HOST, '-1', 'e1', '0', '1000'],
      ['MIGRATE', HOST, String(target), 'e1', '77', '1000'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000', 'COPY'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000'],
      ['MIGRATE', HOST, String(target), 'e1', '0', '1000', 'REPLACE'],
      ['EXISTS', 'e1'],
      ['COMMAND', 'INFO', 'migrate', 'restore-asking'],
      ['COMMAND', 'GETKEYSANDFLAGS', 'migrate', 'h', '1', '', '0', '5', 'AUTH2', 'u', 'p', 'KEYS', 'a', 'b'],
      ['COMMAND', 'GETKEYS', 'migrate', 'h', '1', '', '0', '5', 'COPY'],
      ['COMMAND', 'GETKEYS', 'migrate', 'h', '1', 'k', '0', '5', 'KEYS', 'a'],
    ];
    await b.flushall();
    const ours = await rawBytes(src.port, script(dst.port));
    await b.flushall();
    const theirs = await rawBytes(real.port, script(dst.port));
    expect(ours).toBe(theirs);
    expect(ours).toContain('-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n');
    expect(ours).toContain('-IOERR error or timeout writing to target instance\r\n');
  });
});

// ------------------------------------------------------------------------------------------ in-process

describe('key mover and write holds (in-process source)', () => {
  let server: Server;
  let c: Redis;
  let other: Redis;
  const log: string[] = [];
  const take = (): string[] => log.splice(0, log.length);
  beforeAll(async () => {
    server = new Server(Config.fromArgs(['--port', '0', '--bind', HOST, '--loglevel', 'warning']));
    await server.listen();
    server.propagators.push((db, argv) => log.push([db, ...argv].join(' ')));
    c = client(server.boundPort());
    other = client(server.boundPort());
  });
  afterAll(async () => {
    c?.disconnect();
    other?.disconnect();
    closeMoveConnections(server);
    await server?.close();
  });

  it('moveKeys: counts, one propagated DEL of the acknowledged keys, nothing propagated for COPY', async () => {
    await b.flushall();
    await c.select(1);
    await c.mset('m1', 'a', 'm2', 'b', 'm3', 'c');
    await c.set('gone', 'x', 'PX', 1);
    await sleep(5);
    take();
    const res = await moveKeys(server, { host: HOST, port: dst.port }, { srcDb: 1, dstDb: 2, keys: ['m1', 'm2', 'nokey', 'gone'] }, { copy: false, replace: false, timeoutMs: 1000 });
    expect(res).toEqual({ moved: 2, missing: 2 });
    expect(take()).toEqual(['1 DEL gone', '1 DEL m1 m2']);
    expect(await rawBytes(dst.port, [['SELECT', '2'], ['MGET', 'm1', 'm2', 'm3']])).toBe('+OK\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n');
    expect(await moveKeys(server, { host: HOST, port: dst.port }, { srcDb: 1, dstDb: 2, keys: ['m3'] }, { copy: true, replace: false, timeoutMs: 1000 })).toEqual({
      moved: 1,
      missing: 0,
    });
    expect(take()).toEqual([]);
    expect(await c.get('m3')).toBe('c');
    expect(cachedMoveConnections(server)).toBe(1);
  });

  it('moveKeys rejects with MoveError carrying what was moved before the target error', async () => {
    await b.flushall();
    await b.set('busy', 'theirs');
    await c.mset('free', '1', 'busy', '2');
    take();
    const e = await moveKeys(server, { host: HOST, port: dst.port }, { srcDb: 1, dstDb: 0, keys: ['free', 'busy'] }, { copy: false, replace: false, timeoutMs: 1000 }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(MoveError);
    expect((e as MoveError).message).toBe('ERR Target instance replied with error: BUSYKEY Target key name already exists.');
    expect((e as MoveError).moved).toBe(1);
    expect(take()).toEqual(['1 DEL free']);
    expect(await c.get('busy')).toBe('2');
  });

  it('holdWrites parks writes of other clients (reads and RESTORE-ASKING pass) until released', async () => {
    await c.select(0);
    await c.set('h', '0');
    const release = server.holdWrites();
    const done: string[] = [];
    const w1 = other.incr('h').then(() => done.push('incr'));
    expect(await c.get('h')).toBe('0');
    expect(await c.call('RESTORE-ASKING', 'ra-pass', '0', await c.dumpBuffer('h'))).toBe('OK');
    await sleep(50);
    expect(done).toEqual([]);
    const second = server.holdWrites();
    release();
    release(); // idempotent
    await sleep(20);
    expect(done).toEqual([]);
    second();
    await w1;
    expect(await c.get('h')).toBe('1');
  });

  it('CLIENT UNPAUSE in a pipeline keeps its replies (parked clients resume after the command)', async () => {
    const port = server.boundPort();
    const parked = net.connect({ port, host: HOST });
    let got = '';
    parked.on('data', (d) => (got += d.toString('latin1')));
    await new Promise((r) => parked.once('connect', r));
    expect(await rawBytes(port, [['CLIENT', 'PAUSE', '10000', 'WRITE']])).toBe('+OK\r\n');
    parked.write(encode(['SET', 'unp', '1']));
    await sleep(50);
    expect(got).toBe('');
    expect(await rawBytes(port, [['PING'], ['CLIENT', 'UNPAUSE'], ['PING']])).toBe('+PONG\r\n+OK\r\n+PONG\r\n');
    await sleep(30);
    expect(got).toBe('+OK\r\n');
    parked.destroy();
  });

  it('a concurrent writer loses nothing: its writes land before the dump or wait for the move', async () => {
    await b.flushall();
    await c.select(0);
    await c.set('ctr', '0');
    const proxy = await slowProxy(dst.port, 150);
    let stop = false;
    let acked = 0;
    let maxLatency = 0;
    const writer = (async () => {
      while (!stop) {
        const t0 = Date.now();
        await other.incr('ctr');
        maxLatency = Math.max(maxLatency, Date.now() - t0);
        acked++;
      }
    })();
    try {
      await sleep(30);
      const readT0 = Date.now();
      const moving = moveKeys(server, { host: HOST, port: proxy.port }, { srcDb: 0, dstDb: 0, keys: ['ctr'] }, { copy: false, replace: false, timeoutMs: 2000 });
      await sleep(40);
      // Reads are not held while the move waits for the target.
      expect(await c.exists('ctr')).toBe(1);
      expect(Date.now() - readT0).toBeLessThan(120);
      expect(await moving).toEqual({ moved: 1, missing: 0 });
      await sleep(30);
    } finally {
      stop = true;
      await writer;
      proxy.close();
    }
    const moved = Number(await b.get('ctr'));
    const after = Number((await c.get('ctr')) ?? 0);
    expect(moved).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(0);
    expect(moved + after).toBe(acked);
    // At least one INCR waited for the move (the target answered 150 ms late).
    expect(maxLatency).toBeGreaterThanOrEqual(100);
  });
});
