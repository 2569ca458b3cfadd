/**
 * HyperLogLog commands end to end: PFADD/PFCOUNT/PFMERGE results and stored bytes equal to a real
 * redis-server for the same inputs, errors (WRONGTYPE, INVALIDOBJ), PFDEBUG, notifications, and a
 * differential run of a command script (raw replies and keyspace notifications must be identical).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { startNode, type NodeHandle } from '../helpers/node';
import { Config } from '../../cluster-node/src/server/config';
import { Server } from '../../cluster-node/src/server/server';
import { Raw, startRealRedis, eventCollector, runScript, type Step } from '../helpers/script-diff';


// ------------------------------------------------------------------------------------- tests

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const HLL_WRONGTYPE = 'WRONGTYPE Key is not a valid HyperLogLog string value.';
const INVALIDOBJ = 'INVALIDOBJ Corrupted HLL object detected';

/** Deterministic element names for a batch: `${prefix}${i}` for i in [from, to). */
function elements(prefix: string, from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(`${prefix}${i}`);
  return out;
}

/** A sparse HLL header ("HYLL", sparse, cache invalid) followed by `payload` opcodes. */
function sparseHll(payload: number[]): Buffer {
  return Buffer.from([0x48, 0x59, 0x4c, 0x4c, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, ...payload]);
}

describe('hyperloglog commands', () => {
  let node: NodeHandle;
  let real: { port: number; stop: () => Promise<void> };
  let io: Redis;
  let rio: Redis;
  let raw2: Raw;
  let raw3: Raw;
  beforeAll(async () => {
    [node, real] = await Promise.all([startNode(['--notify-keyspace-events', 'KEA']), startRealRedis()]);
    io = new Redis({ port: node.port, lazyConnect: true, enableReadyCheck: false });
    rio = new Redis({ port: real.port, lazyConnect: true, enableReadyCheck: false });
    await Promise.all([io.connect(), rio.connect()]);
    await rio.config('SET', 'notify-keyspace-events', 'KEA');
    raw2 = await Raw.open(node.port, 2);
    raw3 = await Raw.open(node.port, 3);
  });
  afterAll(async () => {
    io.disconnect();
    rio.disconnect();
    raw2.close();
    raw3.close();
    await real?.stop();
  });

  it('PFADD/PFCOUNT basics; the value is a string', async () => {
    expect(await io.pfadd('p1', 'a', 'b', 'c')).toBe(1);
    expect(await io.pfadd('p1', 'a', 'b')).toBe(0);
    expect(await io.pfadd('p1', 'd')).toBe(1);
    expect(await io.pfcount('p1')).toBe(4);
    expect(await io.pfcount('p1')).toBe(4); // cached
    expect(await io.pfcount('p1-missing')).toBe(0);
    expect(await io.pfadd('p2')).toBe(1); // creates an empty HLL
    expect(await io.pfadd('p2')).toBe(0);
    expect(await io.pfcount('p2')).toBe(0);
    expect(await io.type('p1')).toBe('string');
    expect((await io.getBuffer('p1'))!.subarray(0, 4).toString()).toBe('HYLL');
    expect(await io.strlen('p2')).toBe(18);
    expect(await raw3.cmd('PFCOUNT', 'p1')).toBe(':4\r\n');
    expect(await raw2.cmd('PFADD')).toBe("-ERR wrong number of arguments for 'pfadd' command\r\n");
    expect(await raw2.cmd('PFCOUNT')).toBe("-ERR wrong number of arguments for 'pfcount' command\r\n");
    expect(await raw2.cmd('PFMERGE')).toBe("-ERR wrong number of arguments for 'pfmerge' command\r\n");
  });

  it('PFADD keeps the TTL; PFCOUNT refreshing its cache keeps it too', async () => {
    await io.pfadd('pt', 'a');
    await io.expire('pt', 100);
    expect(await io.pfadd('pt', 'b', 'c')).toBe(1);
    expect(await io.ttl('pt')).toBeGreaterThan(0);
    expect(await io.pfcount('pt')).toBe(3);
    expect(await io.ttl('pt')).toBeGreaterThan(0);
    await io.pfmerge('pt', 'p1');
    expect(await io.ttl('pt')).toBeGreaterThan(0);
  });

  it('PFCOUNT and the stored bytes equal redis-server for the same inputs (sparse, promotion, dense)', async () => {
    await Promise.all([io.del('big', 'big2', 'merged'), rio.del('big', 'big2', 'merged')]);
    let done = 0;
    const checkpoints = [1, 5, 20, 100, 300, 1000, 2000, 5000, 20000, 60000];
    for (const cp of checkpoints) {
      const batch = elements('el:', done, cp);
      done = cp;
      for (let i = 0; i < batch.length; i += 5000) {
        const part = batch.slice(i, i + 5000);
        const [a, b] = await Promise.all([io.pfadd('big', ...part), rio.pfadd('big', ...part)]);
        expect(a).toBe(b);
      }
      const [ca, cb] = await Promise.all([io.pfcount('big'), rio.pfcount('big')]);
      expect(ca, `count after ${cp}`).toBe(cb);
      const [ga, gb] = await Promise.all([io.getBuffer('big'), rio.getBuffer('big')]);
      expect(ga!.equals(gb!), `bytes after ${cp}`).toBe(true);
    }
    // A second HLL overlapping the first; multi-key PFCOUNT and PFMERGE.
    const other = elements('el:', 40000, 90000);
    for (let i = 0; i < other.length; i += 5000) {
      const part = other.slice(i, i + 5000);
      await Promise.all([io.pfadd('big2', ...part), rio.pfadd('big2', ...part)]);
    }
    await Promise.all([io.pfadd('small', 'x', 'y'), rio.pfadd('small', 'x', 'y')]);
    const [ua, ub] = await Promise.all([io.pfcount('big', 'big2', 'nokey', 'small'), rio.pfcount('big', 'big2', 'nokey', 'small')]);
    expect(ua).toBe(ub);
    expect(await io.pfmerge('merged', 'small', 'big', 'big2')).toBe('OK');
    await rio.pfmerge('merged', 'small', 'big', 'big2');
    const [ma, mb] = await Promise.all([io.getBuffer('merged'), rio.getBuffer('merged')]);
    expect(ma!.equals(mb!)).toBe(true);
    expect(await io.pfcount('merged')).toBe(await rio.pfcount('merged'));
    // Sparse-only merges stay sparse, byte for byte.
    await Promise.all([io.pfadd('sa', ...elements('s', 0, 50)), rio.pfadd('sa', ...elements('s', 0, 50))]);
    await Promise.all([io.pfadd('sb', ...elements('s', 25, 90)), rio.pfadd('sb', ...elements('s', 25, 90))]);
    await Promise.all([io.pfmerge('sa', 'sb', 'nokey'), rio.pfmerge('sa', 'sb', 'nokey')]);
    const [sa, sb] = await Promise.all([io.getBuffer('sa'), rio.getBuffer('sa')]);
    expect(sa!.equals(sb!)).toBe(true);
    expect(await io.call('PFDEBUG', 'ENCODING', 'sa')).toBe('sparse');
  });

  it('PFCOUNT on a value restored from real redis-server bytes (dense and sparse)', async () => {
    for (const key of ['big', 'sa']) {
      const bytes = (await rio.getBuffer(key))!;
      await io.set(`copy-${key}`, bytes);
      expect(await io.pfcount(`copy-${key}`)).toBe(await rio.pfcount(key));
    }
  });

  it('WRONGTYPE: other types, non-HLL strings, bad headers; INVALIDOBJ for corrupted payloads', async () => {
    await io.sadd('pset', 'a');
    await io.set('pstr', 'hello');
    await io.set('pint', '12345');
    await io.set('pbadenc', Buffer.concat([Buffer.from('HYLL'), Buffer.from([2]), Buffer.alloc(11)]));
    await io.set('pshortdense', Buffer.concat([Buffer.from('HYLL'), Buffer.from([0]), Buffer.alloc(100)]));
    for (const c of [['PFADD', 'pset', 'a'], ['PFCOUNT', 'pset'], ['PFCOUNT', 'p1', 'pset'], ['PFMERGE', 'pset', 'p1'], ['PFMERGE', 'p1', 'pset']]) {
      expect(await raw2.cmd(...c), c.join(' ')).toBe(`-${WRONGTYPE}\r\n`);
    }
    for (const key of ['pstr', 'pint', 'pbadenc', 'pshortdense']) {
      for (const c of [['PFADD', key, 'a'], ['PFCOUNT', key], ['PFCOUNT', 'p1', key], ['PFMERGE', key, 'p1'], ['PFMERGE', 'pnew', key], ['PFDEBUG', 'ENCODING', key]]) {
        expect(await raw2.cmd(...c), c.join(' ')).toBe(`-${HLL_WRONGTYPE}\r\n`);
      }
    }
    expect(await io.exists('pnew')).toBe(0);
    // A sparse payload that does not cover 16384 registers.
    await io.set('pcorrupt', sparseHll([0x7f, 0xff, 0x80])); // XZERO 16384 then one extra register
    await rio.set('pcorrupt', sparseHll([0x7f, 0xff, 0x80]));
    for (const c of [['PFCOUNT', 'pcorrupt'], ['PFCOUNT', 'p1', 'pcorrupt'], ['PFMERGE', 'pm', 'pcorrupt']]) {
      expect(await raw2.cmd(...c), c.join(' ')).toBe(`-${INVALIDOBJ}\r\n`);
      expect(await rio.call(c[0], ...c.slice(1)).catch((e: Error) => e.message)).toBe(INVALIDOBJ);
    }
    await io.set('pcorrupt2', sparseHll([0x00]));
    await rio.set('pcorrupt2', sparseHll([0x00]));
    expect(await raw2.cmd('PFADD', 'pcorrupt2', 'zzz')).toBe(`-${INVALIDOBJ}\r\n`);
    expect(await rio.pfadd('pcorrupt2', 'zzz').catch((e: Error) => e.message)).toBe(INVALIDOBJ);
    expect(await io.exists('pm')).toBe(0);
  });

  it('corrupted sparse payloads behave like redis-server in every command', async () => {
    const cases: Record<string, number[]> = {
      xzeroThenVal: [0x7f, 0xff, 0x80],
      xzeroThenZero: [0x7f, 0xff, 0x00],
      twoXzero: [0x7f, 0xff, 0x40, 0x00],
      short: [0x7f, 0xfe],
      valOnly: [0x80],
      exact: [0x7f, 0xfe, 0x80],
      empty: [],
    };
    await Promise.all([io.del('pc-h'), rio.del('pc-h')]);
    await Promise.all([io.pfadd('pc-h', 'a'), rio.pfadd('pc-h', 'a')]);
    for (const [name, payload] of Object.entries(cases)) {
      const key = `pc-${name}`;
      for (const c of [['PFCOUNT', key], ['PFCOUNT', 'pc-h', key], ['PFMERGE', 'pc-dst', key], ['PFADD', key, 'zz'], ['PFDEBUG', 'TODENSE', key], ['PFDEBUG', 'GETREG', key]]) {
        const results: string[] = [];
        for (const cl of [io, rio]) {
          await cl.set(key, sparseHll(payload));
          await cl.del('pc-dst');
          const r = await cl.call(c[0], ...c.slice(1)).then(
            (x) => JSON.stringify(x),
            (e: Error) => e.message,
          );
          results.push(`${r} exists=${await cl.exists('pc-dst')} value=${(await cl.getBuffer(key))!.toString('hex')}`);
        }
        expect(results[0], `${name}: ${c.join(' ')}`).toBe(results[1]);
      }
    }
  });

  it('PFDEBUG GETREG/DECODE/ENCODING/TODENSE and PFSELFTEST', async () => {
    await Promise.all([io.del('pd'), rio.del('pd')]);
    await Promise.all([io.pfadd('pd', 'a', 'b', 'c'), rio.pfadd('pd', 'a', 'b', 'c')]);
    expect(await io.call('PFDEBUG', 'ENCODING', 'pd')).toBe('sparse');
    expect(await io.call('PFDEBUG', 'DECODE', 'pd')).toBe(await rio.call('PFDEBUG', 'DECODE', 'pd'));
    expect(await io.call('PFDEBUG', 'TODENSE', 'pd')).toBe(1);
    expect(await io.call('PFDEBUG', 'TODENSE', 'pd')).toBe(0);
    await rio.call('PFDEBUG', 'TODENSE', 'pd');
    expect((await io.getBuffer('pd'))!.equals((await rio.getBuffer('pd'))!)).toBe(true);
    expect(await io.call('PFDEBUG', 'ENCODING', 'pd')).toBe('dense');
    expect(await raw2.cmd('PFDEBUG', 'DECODE', 'pd')).toBe('-ERR HLL encoding is not sparse\r\n');
    const regs = (await io.call('PFDEBUG', 'GETREG', 'pd')) as number[];
    expect(regs.length).toBe(16384);
    expect(regs).toEqual(await rio.call('PFDEBUG', 'GETREG', 'pd'));
    expect(regs.filter((r) => r > 0).length).toBe(3);
    // GETREG converts a sparse HLL to dense.
    await io.pfadd('pd2', 'x');
    expect(((await io.call('PFDEBUG', 'GETREG', 'pd2')) as number[]).length).toBe(16384);
    expect(await io.call('PFDEBUG', 'ENCODING', 'pd2')).toBe('dense');
    expect(await io.pfcount('pd2')).toBe(1);
    expect(await raw2.cmd('PFDEBUG', 'FOO', 'pd')).toBe("-ERR Unknown PFDEBUG subcommand 'FOO'\r\n");
    expect(await raw2.cmd('PFDEBUG', 'GETREG', 'nokey')).toBe('-ERR The specified key does not exist\r\n');
    expect(await raw2.cmd('PFDEBUG', 'GETREG')).toBe("-ERR wrong number of arguments for 'pfdebug' command\r\n");
    expect(await raw2.cmd('PFSELFTEST')).toBe('+OK\r\n');
    expect(await raw2.cmd('PFSELFTEST', 'x')).toBe("-ERR wrong number of arguments for 'pfselftest' command\r\n");
  });

  it('notifications and WATCH: PFADD/PFMERGE emit pfadd; a PFCOUNT that refreshes the cache is a write', async () => {
    const ev = await eventCollector(node.port);
    await io.pfadd('pn', 'a');
    await io.pfadd('pn', 'a'); // no change: no event
    await io.pfcount('pn');
    await io.pfmerge('pn2', 'pn');
    expect(await ev.flush(raw2)).toEqual(['pfadd pn', 'pfadd pn2']);
    ev.close();
    const other = new Redis({ port: node.port, enableReadyCheck: false });
    await io.pfadd('pw', 'a', 'b');
    await io.watch('pw');
    await other.pfcount('pw'); // cache invalid: recomputed and stored
    expect(await io.multi().pfcount('pw').exec()).toBeNull();
    await io.watch('pw');
    await other.pfcount('pw'); // cache valid: a pure read
    await other.pfadd('pw', 'a'); // no change
    expect(await io.multi().pfcount('pw').exec()).toEqual([[null, 2]]);
    other.disconnect();
  });
});

// ------------------------------------------------------------------------ differential test

const DIFF_SCRIPT: Step[] = [
  ['COMMAND', 'INFO', 'PFADD', 'PFCOUNT', 'PFMERGE', 'PFDEBUG', 'PFSELFTEST'],
  ['COMMAND', 'GETKEYS', 'PFMERGE', 'd', 's1', 's2'],
  ['PFADD', 'h', 'a', 'b', 'c'],
  ['PFADD', 'h', 'a'],
  ['PFADD', 'h'],
  ['PFADD', 'e'],
  ['PFCOUNT', 'h'],
  ['GET', 'h'],
  ['PFCOUNT', 'h'],
  ['GET', 'h'],
  ['PFCOUNT', 'e'],
  ['PFCOUNT', 'nokey'],
  ['PFADD', 'h2', 'c', 'd', 'e', 'f', 'g'],
  ['PFCOUNT', 'h', 'h2'],
  ['PFCOUNT', 'h', 'nokey'],
  ['GET', 'h2'],
  ['PFMERGE', 'm', 'h', 'h2'],
  ['GET', 'm'],
  ['PFCOUNT', 'm'],
  ['PFMERGE', 'm'],
  ['PFMERGE', 'm2'],
  ['GET', 'm2'],
  ['PFMERGE', 'h', 'h2'],
  ['GET', 'h'],
  ['PFDEBUG', 'ENCODING', 'h'],
  ['PFDEBUG', 'DECODE', 'h'],
  ['PFDEBUG', 'DECODE', 'nokey'],
  ['PFDEBUG', 'TODENSE', 'h2'],
  ['PFDEBUG', 'TODENSE', 'h2'],
  ['PFDEBUG', 'ENCODING', 'h2'],
  ['PFDEBUG', 'DECODE', 'h2'],
  ['PFDEBUG', 'encoding', 'h2'],
  ['PFDEBUG', 'bogus', 'h2'],
  ['PFADD', 'h2', 'zz'],
  ['PFCOUNT', 'h2'],
  ['GET', 'h2'],
  ['PFMERGE', 'm3', 'h', 'h2'],
  ['PFDEBUG', 'ENCODING', 'm3'],
  ['GET', 'm3'],
  ['PFCOUNT', 'm3', 'h', 'h2'],
  ['SET', 'str', 'abc'],
  ['SET', 'int', '42'],
  ['SADD', 'set', 'a'],
  ['PFADD', 'str', 'a'],
  ['PFADD', 'int', 'a'],
  ['PFADD', 'set', 'a'],
  ['PFCOUNT', 'str'],
  ['PFCOUNT', 'h', 'str'],
  ['PFCOUNT', 'set'],
  ['PFMERGE', 'str', 'h'],
  ['PFMERGE', 'new', 'str'],
  ['PFMERGE', 'new', 'set'],
  ['PFDEBUG', 'GETREG', 'str'],
  ['PFDEBUG', 'GETREG', 'set'],
  ['EXISTS', 'new'],
  ['SET', 'bad', 'HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'],
  ['PFCOUNT', 'bad'],
  ['SET', 'bad', 'HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00xx'],
  ['PFCOUNT', 'bad'],
  ['SET', 'bad', 'HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x80'],
  ['PFCOUNT', 'bad'],
  ['PFCOUNT', 'h', 'bad'],
  ['PFMERGE', 'bad2', 'bad'],
  ['PFADD', 'bad', 'x'],
  ['EXISTS', 'bad2'],
  ['SET', 'ok', 'HYLL\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x7f\xff'],
  ['PFCOUNT', 'ok'],
  ['PFADD', 'ok', 'q'],
  ['PFCOUNT', 'ok'],
  ['GET', 'ok'],
  ['PFADD', 'ttl', 'a'],
  ['EXPIRE', 'ttl', '1000'],
  ['PFADD', 'ttl', 'b'],
  ['PFCOUNT', 'ttl'],
  ['TTL', 'ttl'],
];

describe('differential: hyperloglog commands vs a real redis-server', () => {
  let node: NodeHandle;
  let real: { port: number; stop: () => Promise<void> };
  beforeAll(async () => {
    [node, real] = await Promise.all([startNode(['--notify-keyspace-events', 'KEA']), startRealRedis()]);
    const r = await Raw.open(real.port);
    await r.cmd('CONFIG', 'SET', 'notify-keyspace-events', 'KEA');
    r.close();
  });
  afterAll(async () => {
    await real?.stop();
  });

  for (const proto of [2, 3] as const) {
    it(`same raw replies and notifications (RESP${proto})`, async () => {
      for (const port of [node.port, real.port]) {
        const r = await Raw.open(port);
        await r.cmd('FLUSHALL');
        r.close();
      }
      const ours = await runScript(node.port, proto, DIFF_SCRIPT);
      const theirs = await runScript(real.port, proto, DIFF_SCRIPT);
      expect(ours.join('\n')).toBe(theirs.join('\n'));
    });
  }
});

// ------------------------------------------------------------- propagation and memory (in-process)

describe('hyperloglog: propagation and memory accounting (in-process server)', () => {
  let server: Server;
  let c: Redis;
  const log: string[] = [];
  const take = (): string[] => log.splice(0, log.length);
  beforeAll(async () => {
    server = new Server(Config.fromArgs(['--port', '0', '--bind', '127.0.0.1', '--loglevel', 'warning']));
    await server.listen();
    server.propagators.push((db, argv) => log.push([db, ...argv].join(' ')));
    c = new Redis({ port: server.boundPort(), host: '127.0.0.1', enableReadyCheck: false });
  });
  afterAll(async () => {
    c?.disconnect();
    await server?.close();
  });

  it('PFADD/PFMERGE propagate as sent; PFCOUNT only when it refreshes the cached cardinality', async () => {
    await c.pfadd('p', 'a', 'b');
    await c.pfadd('p', 'a');
    expect(take()).toEqual(['0 pfadd p a b']);
    await c.pfcount('p');
    await c.pfcount('p');
    expect(take()).toEqual(['0 pfcount p']);
    await c.pfmerge('m', 'p', 'missing');
    await c.pfcount('m', 'p');
    expect(take()).toEqual(['0 pfmerge m p missing']);
    await c.call('PFDEBUG', 'ENCODING', 'p');
    await c.call('PFDEBUG', 'TODENSE', 'p');
    await c.call('PFDEBUG', 'TODENSE', 'p');
    expect(take()).toEqual(['0 PFDEBUG TODENSE p']);
  });

  it('memory accounting follows the string size (sparse -> dense) and returns to the baseline', async () => {
    const db = server.dbs[0];
    const base = db.used;
    await c.pfadd('mem', 'a');
    const sparse = db.used;
    expect(sparse).toBeGreaterThan(base);
    await c.pfadd('mem', ...elements('m', 0, 5000));
    expect(await c.strlen('mem')).toBe(12304);
    expect(db.used - sparse).toBeGreaterThan(12000);
    await c.del('mem');
    expect(db.used).toBe(base);
  });
});
