/**
 * Replication between real processes: our primary -> our replica (full sync of every type in several
 * dbs with TTLs, streaming with MULTI/EXEC, SELECT and expiry DELs, a full sync while a writer keeps
 * writing, partial resync after CLIENT KILL TYPE replica, REPLICAOF NO ONE with PSYNC2 continuation,
 * WAIT, the replica output buffer limit), and interop with a real redis-server 7 both ways (it loads
 * our RDB and follows our stream; we load its RDB, compact encodings included, and follow its stream).
 * Datasets are compared with DEBUG DIGEST (the same algorithm as redis-server's) and DUMP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, startNode, waitForPort, type NodeHandle } from '../helpers/node';

const HOST = '127.0.0.1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const clients: Redis[] = [];
function client(port: number, db = 0): Redis {
  const r = new Redis({ port, host: HOST, db, maxRetriesPerRequest: 1, lazyConnect: false });
  r.on('error', () => undefined);
  clients.push(r);
  return r;
}

const redisProcs: ChildProcess[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const p of redisProcs) p.kill('SIGKILL');
});

/** A real redis-server on a free port. */
async function startRedis(args: string[] = []): Promise<{ port: number; proc: ChildProcess }> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || !which.stdout.trim()) throw new Error('redis-server is not installed: the interop checks cannot run');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'real-redis-'));
  const proc = spawn(
    which.stdout.trim(),
    ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--enable-debug-command', 'yes', '--repl-diskless-sync-delay', '0', ...args],
    { stdio: 'ignore' },
  );
  redisProcs.push(proc);
  await waitForPort(port);
  return { port, proc };
}

async function info(r: Redis, section = 'replication'): Promise<Record<string, string>> {
  const text = (await r.info(section)) as string;
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Wait until the replica is linked and has applied everything the primary produced. */
async function synced(p: Redis, r: Redis, ms = 15_000): Promise<void> {
  let last = '';
  try {
    await waitFor(
      'replica in sync',
      async () => {
        const [pi, ri] = await Promise.all([info(p), info(r)]);
        last = `primary ${pi.master_repl_offset}, replica ${ri.master_link_status} ${ri.slave_repl_offset}`;
        return ri.master_link_status === 'up' && ri.slave_repl_offset === pi.master_repl_offset;
      },
      ms,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${last}`);
  }
}

const digest = async (r: Redis): Promise<string> => (await r.call('DEBUG', 'DIGEST')) as string;

/** DUMP and PEXPIRETIME of every key in dbs 0..n-1, for exact comparison. */
async function snapshotOf(port: number, dbs: number[]): Promise<Record<string, [string, number]>> {
  const out: Record<string, [string, number]> = {};
  for (const d of dbs) {
    const c = client(port, d);
    const keys = await c.keysBuffer('*');
    for (const k of keys) {
      const [dumped, at] = await Promise.all([c.dumpBuffer(k), c.call('PEXPIRETIME', k) as Promise<number>]);
      out[`${d}/${k.toString('latin1')}`] = [dumped!.toString('hex'), at];
    }
    c.disconnect();
  }
  return out;
}

/** One key of every type, with and without TTLs, binary keys and values included. */
async function fillEveryType(c: Redis, tag: string): Promise<void> {
  const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const p = c.pipeline();
  p.set(`${tag}:str`, 'hello');
  p.set(`${tag}:int`, '12345');
  p.set(`${tag}:neg`, '-9223372036854775808');
  p.set(Buffer.concat([Buffer.from(`${tag}:bin:`), bin]), bin);
  p.set(`${tag}:ttl`, 'v', 'PX', 300_000);
  p.set(`${tag}:big`, 'x'.repeat(100_000));
  p.rpush(`${tag}:list`, 'a', 'b', '1', '2');
  p.rpush(`${tag}:biglist`, ...Array.from({ length: 2000 }, (_, i) => `item-${i}`));
  p.sadd(`${tag}:intset`, 1, 2, 3, -5, '9223372036854775807');
  p.sadd(`${tag}:set`, 'x', 'y', 'z');
  p.sadd(`${tag}:bigset`, ...Array.from({ length: 1000 }, (_, i) => `m${i}`));
  p.hset(`${tag}:hash`, 'f1', 'v1', 'f2', '2');
  p.hset(`${tag}:bighash`, ...Array.from({ length: 600 }, (_, i) => [`f${i}`, 'v'.repeat(i % 100)]).flat());
  p.pexpire(`${tag}:bighash`, 200_000);
  p.zadd(`${tag}:zset`, 1, 'a', 2.5, 'b', '-inf', 'lo', '+inf', 'hi');
  p.zadd(`${tag}:bigzset`, ...Array.from({ length: 500 }, (_, i) => [String(i / 7), `m${i}`]).flat());
  p.pfadd(`${tag}:hll`, 'a', 'b', 'c');
  await p.exec();
}

// ---------------------------------------------------------------------------------------- our node -> our node

describe('our primary -> our replica', () => {
  let P: NodeHandle;
  let R: NodeHandle;
  let p: Redis;
  let r: Redis;

  beforeAll(async () => {
    // No periodic PINGs in the stream: the PSYNC2 check below needs offsets that do not move by themselves.
    [P, R] = await Promise.all([startNode(['--repl-ping-replica-period', '3600']), startNode()]);
    p = client(P.port);
    r = client(R.port);
  });

  it('full sync of every type in several dbs with TTLs; INFO and ROLE on both sides', async () => {
    for (const d of [0, 1, 7]) {
      const c = client(P.port, d);
      await fillEveryType(c, `db${d}`);
    }
    expect(await r.replicaof(HOST, String(P.port))).toBe('OK');
    expect(await r.replicaof(HOST, String(P.port))).toBe('OK Already connected to specified master');
    await synced(p, r);
    expect(await digest(r)).toBe(await digest(p));
    expect(await snapshotOf(R.port, [0, 1, 7])).toEqual(await snapshotOf(P.port, [0, 1, 7]));

    const ri = await info(r);
    expect(ri).toMatchObject({ role: 'slave', master_host: HOST, master_port: String(P.port), master_link_status: 'up', master_sync_in_progress: '0', slave_read_only: '1', slave_priority: '100', replica_announced: '1' });
    for (const f of ['master_last_io_seconds_ago', 'slave_read_repl_offset', 'slave_repl_offset', 'master_replid', 'master_replid2', 'second_repl_offset', 'repl_backlog_active', 'repl_backlog_size', 'repl_backlog_first_byte_offset', 'repl_backlog_histlen']) {
      expect(ri[f], f).toBeDefined();
    }
    const pi = await info(p);
    expect(pi).toMatchObject({ role: 'master', connected_slaves: '1', master_failover_state: 'no-failover', repl_backlog_active: '1', master_replid: ri.master_replid });
    expect(pi.slave0).toMatch(new RegExp(`^ip=127\\.0\\.0\\.1,port=${R.port},state=online,offset=\\d+,lag=\\d+$`));
    expect(await r.role()).toEqual(['slave', HOST, P.port, 'connected', Number(ri.slave_repl_offset)]);
    const role = (await p.role()) as [string, number, string[][]];
    expect(role[0]).toBe('master');
    expect(role[2]).toEqual([[HOST, String(R.port), expect.stringMatching(/^\d+$/)]]);
    expect((await info(p, 'stats')).sync_full).toBe('1');
    // A replica is read-only for normal clients; the link shows in CLIENT LIST with flag M / S.
    await expect(r.set('x', '1')).rejects.toThrow("READONLY You can't write against a read only replica.");
    expect(await r.client('LIST', 'TYPE', 'master')).toMatch(/flags=M /);
    expect(await p.client('LIST', 'TYPE', 'replica')).toMatch(/flags=S /);
  });

  it('streams writes: SELECT, MULTI/EXEC across dbs, deterministic rewrites, expiry DELs, FLUSHDB', async () => {
    const c3 = client(P.port, 3);
    await c3.set('in3', 'x');
    await p.incr('n');
    await p.expire('n', 1000); // propagated as PEXPIREAT: the same absolute time on the replica
    await p.incrbyfloat('f', 1.1);
    await p.multi().set('tx:a', '1').select(4).set('tx:b', '2').incr('tx:c').select(0).lpush('tx:l', 'x').exec();
    await p.set('short', 'v', 'PX', 50);
    await p.sadd('popme', 'a', 'b', 'c', 'd');
    await p.spop('popme'); // propagated as SREM
    await p.set('huge', Buffer.alloc(3 * 1024 * 1024, 'h')); // one command spanning many socket reads
    const c9 = client(P.port, 9);
    await c9.set('gone', '1');
    await c9.flushdb();
    await sleep(200); // 'short' expires; the primary's active expiry DELs it and propagates the DEL
    await waitFor('short expired on the primary', async () => (await p.dbsize()) === (await p.keys('*')).length);
    await synced(p, r);
    expect(await r.call('PEXPIRETIME', 'n')).toBe(await p.call('PEXPIRETIME', 'n'));
    expect(await client(R.port, 4).mget('tx:b', 'tx:c')).toEqual(['2', '1']);
    expect(await client(R.port, 3).get('in3')).toBe('x');
    expect(await r.smembers('popme')).toEqual(expect.arrayContaining(await p.smembers('popme')));
    expect(await r.scard('popme')).toBe(3);
    // DBSIZE counts keys not yet reclaimed: the replica only loses 'short' through the primary's DEL.
    expect(await r.dbsize()).toBe(await p.dbsize());
    expect(await client(R.port, 9).dbsize()).toBe(0);
    expect(await r.strlen('huge')).toBe(3 * 1024 * 1024);
    expect(await digest(r)).toBe(await digest(p));
  });

  it('WAIT counts replicas that acknowledged the client\'s writes; refused on a replica', async () => {
    await p.set('w', '1');
    expect(await p.wait(1, 2000)).toBe(1);
    expect(await p.wait(0, 0)).toBe(1);
    const t0 = Date.now();
    expect(await p.wait(2, 300)).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await expect(r.wait(1, 10)).rejects.toThrow(/WAIT cannot be used with replica instances/);
    await expect(p.call('WAIT', 'x', '0')).rejects.toThrow('ERR value is not an integer or out of range');
    await expect(p.call('WAIT', '0', '-1')).rejects.toThrow('ERR timeout is negative');
    // Inside MULTI WAIT does not block.
    expect(await p.multi().set('w2', '1').wait(5, 0).exec()).toEqual([[null, 'OK'], [null, 1]]);
  });

  it('partial resync (+CONTINUE) after CLIENT KILL TYPE replica', async () => {
    const before = await info(p, 'stats');
    expect(await p.client('KILL', 'TYPE', 'replica')).toBe(1);
    for (let i = 0; i < 100; i++) await p.set(`while-down:${i}`, String(i));
    await synced(p, r);
    const after = await info(p, 'stats');
    expect(Number(after.sync_partial_ok)).toBe(Number(before.sync_partial_ok) + 1);
    expect(after.sync_full).toBe(before.sync_full);
    expect(await r.get('while-down:99')).toBe('99');
    expect(await digest(r)).toBe(await digest(p));
    // The same from the replica's side (CLIENT KILL TYPE master).
    expect(await r.client('KILL', 'TYPE', 'master')).toBe(1);
    await p.set('after-master-kill', '1');
    await synced(p, r);
    expect(Number((await info(p, 'stats')).sync_partial_ok)).toBe(Number(before.sync_partial_ok) + 2);
    expect(await r.get('after-master-kill')).toBe('1');
  });

  it('REPLICAOF NO ONE promotes keeping data and history; the old primary then continues from it (PSYNC2)', async () => {
    await synced(p, r);
    const old = await info(r);
    expect(await r.replicaof('NO', 'ONE')).toBe('OK');
    const ri = await info(r);
    expect(ri).toMatchObject({ role: 'master', master_replid2: old.master_replid, second_repl_offset: String(Number(old.master_repl_offset) + 1) });
    expect(ri.master_replid).not.toBe(old.master_replid);
    expect(await r.get('after-master-kill')).toBe('1');
    expect(await r.set('written-on-new-primary', 'yes')).toBe('OK');
    // The old primary follows the new one and continues its history partially.
    expect(await p.replicaof(HOST, String(R.port))).toBe('OK');
    await synced(r, p);
    const st = await info(r, 'stats');
    expect(st.sync_partial_ok).toBe('1');
    expect(st.sync_full).toBe('0');
    expect(await p.get('written-on-new-primary')).toBe('yes');
    expect(await digest(p)).toBe(await digest(r));
    expect((await info(p)).master_replid).toBe(ri.master_replid);
    // Errors.
    await expect(r.call('REPLICAOF', 'localhost', 'abc')).rejects.toThrow('ERR Invalid master port');
    await expect(r.call('REPLCONF', 'foo', 'bar')).rejects.toThrow('ERR Unrecognized REPLCONF option: foo');
    await expect(r.call('REPLCONF', 'a')).rejects.toThrow('ERR syntax error');
    expect(await r.call('REPLCONF', 'capa', 'eof', 'capa', 'psync2')).toBe('OK');
  });
});

// ---------------------------------------------------------------------------------------- concurrent writes

describe('full sync while a writer keeps writing', () => {
  it('ends with the replica equal to the primary in every db', async () => {
    const [P, R] = await Promise.all([startNode(), startNode()]);
    const p = client(P.port);
    const r = client(R.port);
    await p.call('DEBUG', 'POPULATE', '60000', 'key', '20');
    await client(P.port, 1).call('DEBUG', 'POPULATE', '15000', 'one', '10');
    await client(P.port, 2).call('DEBUG', 'POPULATE', '10000', 'two', '10');
    await fillEveryType(client(P.port, 3), 'c');

    let stop = false;
    let n = 0;
    const w0 = client(P.port);
    const w1 = client(P.port, 1);
    const writer = (async () => {
      while (!stop) {
        const a = w0.pipeline();
        const b = w1.pipeline();
        for (let i = 0; i < 40; i++, n++) {
          a.incr(`counter:${n % 97}`);
          a.set(`key:${(n * 7919) % 60000}`, `w${n}`);
          a.append(`key:${(n * 31) % 60000}`, '+');
          a.del(`key:${(n * 104729) % 60000}`);
          a.pexpire(`key:${(n * 13) % 60000}`, 600_000);
          a.rpush(`list:${n % 13}`, String(n));
          a.hincrby(`hash:${n % 11}`, `f${n % 50}`, 1);
          a.zincrby('zs', 1, `m${n % 100}`);
          a.sadd(`set:${n % 7}`, String(n));
          a.rename(`key:${(n * 17) % 60000}`, `renamed:${n}`);
          b.incr(`one:${n % 15000}`);
          b.set(`one-new:${n}`, 'x');
          if (n % 200 === 0) a.multi().incr('tx:n').lpush('tx:l', String(n)).exec();
        }
        await Promise.all([a.exec(), b.exec()]);
      }
    })();
    await sleep(100);
    const n0 = n;
    await r.replicaof(HOST, String(P.port));
    // FLUSHDB on db 2 while the snapshot is (most likely) still in progress.
    await sleep(30);
    await client(P.port, 2).flushdb();
    await waitFor('link up', async () => (await info(r)).master_link_status === 'up');
    const n1 = n;
    await sleep(300);
    stop = true;
    await writer;
    await synced(p, r);
    expect(n1).toBeGreaterThan(n0); // writes went on during the sync
    for (const d of [0, 1, 2, 3]) {
      expect(await client(R.port, d).dbsize(), `db${d}`).toBe(await client(P.port, d).dbsize());
    }
    expect(await digest(r)).toBe(await digest(p));
    // The snapshot took several event-loop turns (writes were served in between).
    const m = /Synchronization with replica .* succeeded \((\d+) keys, (\d+) bytes in (\d+) ms\)/.exec(P.output());
    expect(Number(m?.[1])).toBeGreaterThan(60000);
    expect(Number(m?.[3])).toBeGreaterThan(10);
  });
});

// ---------------------------------------------------------------------------------------- output limit

describe('replica output buffer limit', () => {
  it('disconnects a replica that stops reading, which then resynchronizes', async () => {
    const [P, R] = await Promise.all([startNode(), startNode()]);
    const p = client(P.port);
    const r = client(R.port);
    await r.replicaof(HOST, String(P.port));
    await p.set('k', 'v');
    await synced(p, r);
    await p.config('SET', 'client-output-buffer-limit', 'replica 1mb 0 0');
    R.proc.kill('SIGSTOP');
    try {
      const big = 'x'.repeat(1024 * 1024);
      for (let i = 0; i < 40; i++) await p.set(`big:${i % 4}`, big + i);
      await waitFor('replica dropped', async () => (await info(p)).connected_slaves === '0', 10_000);
      expect(Number((await info(p, 'stats')).client_output_buffer_limit_disconnections)).toBeGreaterThanOrEqual(1);
    } finally {
      R.proc.kill('SIGCONT');
    }
    await synced(p, r, 20_000);
    expect(await digest(r)).toBe(await digest(p));
  });
});

// ---------------------------------------------------------------------------------------- write safety

describe('min-replicas-to-write and replica-serve-stale-data', () => {
  it('NOREPLICAS without enough good replicas; MASTERDOWN on a stale replica that must not serve', async () => {
    const P = await startNode(['--min-replicas-to-write', '1']);
    const p = client(P.port);
    await expect(p.set('a', '1')).rejects.toThrow('NOREPLICAS Not enough good replicas to write.');
    expect(await p.get('a')).toBeNull();
    const R = await startNode(['--replicaof', HOST, String(P.port), '--replica-serve-stale-data', 'no']);
    const r = client(R.port);
    await waitFor('a good replica', async () => (await info(p)).slave0?.includes('state=online') === true);
    expect(await p.set('a', '1')).toBe('OK');
    await synced(p, r);
    expect(await r.get('a')).toBe('1');
    await P.stop('SIGKILL');
    await waitFor('link down', async () => (await info(r)).master_link_status === 'down');
    await expect(r.get('a')).rejects.toThrow("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
    expect((await info(r)).role).toBe('slave'); // INFO is a 'stale' command
  });
});

// ---------------------------------------------------------------------------------------- auth

describe('handshake with authentication', () => {
  it('AUTH with masterauth (and masteruser) before the sync; cluster mode refuses REPLICAOF', async () => {
    const P = await startNode(['--requirepass', 'sekret']);
    const p = new Redis({ port: P.port, host: HOST, password: 'sekret' });
    clients.push(p);
    await p.set('a', '1');
    const R = await startNode(['--masterauth', 'sekret', '--masteruser', 'default', '--replicaof', HOST, String(P.port)]);
    const r = client(R.port);
    await synced(p, r);
    expect(await r.get('a')).toBe('1');
    const bad = await startNode(['--masterauth', 'wrong', '--replicaof', HOST, String(P.port)]);
    await sleep(300);
    expect((await info(client(bad.port))).master_link_status).toBe('down');
    expect(bad.output()).toMatch(/Unable to AUTH to MASTER/);
    const C = await startNode(['--cluster-enabled', 'yes']);
    const c = client(C.port);
    await expect(c.replicaof(HOST, String(P.port))).rejects.toThrow('ERR REPLICAOF not allowed in cluster mode.');
    await expect(c.replicaof('NO', 'ONE')).rejects.toThrow('ERR REPLICAOF not allowed in cluster mode.');
  });
});

// ---------------------------------------------------------------------------------------- interop

describe('interop with redis-server 7', () => {
  it('a real redis-server replicates from our node: loads our RDB, follows the stream, resumes partially', async () => {
    const P = await startNode();
    const p = client(P.port);
    for (const d of [0, 2]) await fillEveryType(client(P.port, d), `i${d}`);
    const real = await startRedis(['--replicaof', HOST, String(P.port)]);
    const x = client(real.port);
    await synced(p, x);
    expect(await digest(x)).toBe(await digest(p));
    await p.multi().incr('cnt').select(2).rpush('l2', 'a').select(0).exec();
    await p.expire('i0:str', 500);
    await p.set('short', '1', 'PX', 30);
    await sleep(150);
    await synced(p, x);
    expect(await digest(x)).toBe(await digest(p));
    expect(await x.call('PEXPIRETIME', 'i0:str')).toBe(await p.call('PEXPIRETIME', 'i0:str'));
    expect(await p.wait(1, 2000)).toBe(1);
    const before = Number((await info(p, 'stats')).sync_partial_ok);
    await p.client('KILL', 'TYPE', 'replica');
    await p.set('after-kill', 'yes');
    await synced(p, x);
    expect(Number((await info(p, 'stats')).sync_partial_ok)).toBe(before + 1);
    expect(await x.get('after-kill')).toBe('yes');
  });

  it('COMMAND INFO of the replication commands equals redis-server\'s', async () => {
    const [P, real] = await Promise.all([startNode(), startRedis()]);
    const names = ['replicaof', 'slaveof', 'sync', 'psync', 'replconf', 'wait', 'role'];
    const ours = await client(P.port).call('COMMAND', 'INFO', ...names);
    const theirs = await client(real.port).call('COMMAND', 'INFO', ...names);
    expect(ours).toEqual(theirs);
  });

  it('our node replicates from a real redis-server: listpack, intset, quicklist, LZF and int strings, EOF and $len transfers', async () => {
    const real = await startRedis();
    const x = client(real.port);
    for (const d of [0, 5]) await fillEveryType(client(real.port, d), `r${d}`);
    await x.set('lzf', 'abc'.repeat(1000)); // rdbcompression: written LZF-compressed
    expect(await x.object('ENCODING', 'r0:intset')).toBe('intset');
    expect(await x.object('ENCODING', 'r0:hash')).toBe('listpack');
    expect(await x.object('ENCODING', 'r0:biglist')).toBe('quicklist');
    const R = await startNode();
    const r = client(R.port);
    await r.replicaof(HOST, String(real.port));
    await synced(x, r);
    expect(await digest(r)).toBe(await digest(x));
    // The stream: MULTI/EXEC, SELECT, rewritten relative expiries, expiry DELs, PINGs, GETACK (WAIT).
    await x.multi().incr('c').select(5).sadd('r5:intset', 77).select(0).exec();
    await x.set('short', 'v', 'PX', 20);
    await x.expire('r0:str', 100);
    await sleep(150);
    expect(await x.wait(1, 2000)).toBe(1);
    await synced(x, r);
    expect(await digest(r)).toBe(await digest(x));
    expect(await r.call('PEXPIRETIME', 'r0:str')).toBe(await x.call('PEXPIRETIME', 'r0:str'));
    // A disk-based ($len) full sync of a second replica.
    await x.config('SET', 'repl-diskless-sync', 'no');
    const R2 = await startNode(['--replicaof', HOST, String(real.port)]);
    const r2 = client(R2.port);
    await synced(x, r2);
    expect(await digest(r2)).toBe(await digest(x));
    expect(R2.output()).toMatch(/receiving \d+ bytes from master/);
  });
});
