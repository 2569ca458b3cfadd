/**
 * CLUSTERSCAN (Valkey 9.1 server-side cluster scan; docs/cluster.md) on real processes: a 3-node
 * cluster formed by redis-cli, driven by a small client loop that routes each cursor like a key
 * (hash slot of the cursor -> owner from CLUSTER SLOTS) and follows MOVED and ASK (with ASKING)
 * itself. Covers full scans in several dbs, MATCH / TYPE / COUNT / SLOT, cursor errors, each
 * migration phase step by step, and the guarantee while slots keep moving between nodes under
 * concurrent writes: every key present for the whole scan is returned. Also a standalone node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import Redis from 'ioredis';
import { startNode, type NodeHandle } from '../helpers/node';
import { myId, startCluster, waitClusterOk } from '../helpers/cluster';
import { keyHashSlot } from '../../common/src/slot';

const HOST = '127.0.0.1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------ connections

const conns = new Map<string, Redis>();

/** A cached connection to one node, on one db. */
function conn(port: number, db = 0): Redis {
  const k = `${port}/${db}`;
  let c = conns.get(k);
  if (!c) {
    c = new Redis({ port, host: HOST, db, maxRetriesPerRequest: 0, enableOfflineQueue: true });
    conns.set(k, c);
  }
  return c;
}

afterAll(() => {
  for (const c of conns.values()) c.disconnect();
});

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

/** Raw reply bytes of commands pipelined on a fresh connection (read until `expect` bytes came or 1 s). */
function raw(port: number, cmds: string[][]): Promise<string> {
  const enc = (a: string[]): string => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(x, 'latin1')}\r\n${x}\r\n`).join('');
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: HOST });
    let buf = '';
    const done = (): void => {
      sock.destroy();
      resolve(buf.slice(0, -'$3\r\nend\r\n'.length));
    };
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout: ${JSON.stringify(buf)}`));
    }, 2000);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.endsWith('$3\r\nend\r\n')) {
        clearTimeout(timer);
        done();
      }
    });
    sock.on('error', reject);
    sock.write(cmds.map(enc).join('') + enc(['ECHO', 'end']));
  });
}

type ScanReply = [string, string[]];

/** CLUSTERSCAN on one node (optionally after ASKING on the same connection). */
async function scanAt(port: number, db: number, cursor: string, args: string[] = [], asking = false): Promise<ScanReply> {
  const c = conn(port, db);
  if (!asking) return (await c.call('clusterscan', cursor, ...args)) as ScanReply;
  const res = await c.pipeline().call('asking').call('clusterscan', cursor, ...args).exec();
  const [e, r] = res![1]!;
  if (e) throw e;
  return r as ScanReply;
}

/** Owner port of every slot, from CLUSTER SLOTS. */
async function slotMap(port: number): Promise<number[]> {
  const map = new Array<number>(16384).fill(0);
  const slots = (await conn(port).call('cluster', 'slots')) as [number, number, [string, number, string]][];
  for (const [a, b, [, p]] of slots) for (let s = a; s <= b; s++) map[s] = p;
  return map;
}

interface ScanResult {
  keys: string[];
  calls: number;
  moved: number;
  ask: number;
  /** Cursors in order (for format checks). */
  cursors: string[];
}

const REDIRECT_RE = /^(MOVED|ASK) (\d+) [\d.]+:(\d+)$/;

/**
 * A whole CLUSTERSCAN iteration as a cluster client would run it: a continuing cursor goes to the
 * owner of its hash slot (as for a key); MOVED updates the slot map; ASK resends to the target with
 * ASKING first. `before(cursor)` may delay each call (used to interleave with slot migrations).
 */
async function clusterScan(
  ports: number[],
  db: number,
  args: string[] = [],
  opts: { before?: (cursor: string) => Promise<void>; onReply?: (cursor: string, r: ScanReply) => void } = {},
): Promise<ScanResult> {
  // Without cluster mode (CLUSTER SLOTS fails) every slot is on the one node.
  const map = await slotMap(ports[0]!).catch(() => new Array<number>(16384).fill(ports[0]!));
  const out: ScanResult = { keys: [], calls: 0, moved: 0, ask: 0, cursors: [] };
  let cursor = '0';
  let redirect: number | null = null;
  let asking = false;
  let bounces = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    if (opts.before) await opts.before(cursor);
    const port = redirect ?? ((cursor === '0' ? 0 : map[keyHashSlot(cursor)]!) || ports[0]!);
    let r: ScanReply;
    try {
      r = await scanAt(port, db, cursor, args, asking);
    } catch (e) {
      const m = REDIRECT_RE.exec((e as Error).message);
      if (!m) throw e;
      // Nodes apply a new configuration a few ms apart: redirects may bounce briefly.
      if (++bounces > 5) await sleep(5);
      if (bounces > 500) throw new Error(`redirect loop at cursor ${cursor}: ${(e as Error).message}`);
      redirect = Number(m[3]);
      asking = m[1] === 'ASK';
      if (asking) out.ask++;
      else {
        out.moved++;
        map[Number(m[2])] = redirect;
      }
      continue;
    }
    redirect = null;
    asking = false;
    bounces = 0;
    out.calls++;
    opts.onReply?.(cursor, r);
    out.keys.push(...r[1]);
    cursor = r[0];
    out.cursors.push(cursor);
    if (cursor === '0') return out;
  }
  throw new Error('scan did not finish');
}

function missingFrom(expected: Iterable<string>, got: Iterable<string>): string[] {
  const g = new Set(got);
  return [...expected].filter((k) => !g.has(k));
}

// ------------------------------------------------------------------------------------------ data set

const TAGS = 40;
const tagSlot = (j: number): number => keyHashSlot(`t${j}`);

interface DataSet {
  /** db -> key -> type */
  dbs: Map<number, Map<string, string>>;
}

function makeData(): DataSet {
  const db0 = new Map<string, string>();
  const types = ['string', 'hash', 'list', 'string', 'set', 'zset'];
  for (let j = 0; j < TAGS; j++) for (let i = 0; i < 20; i++) db0.set(`{t${j}}:${types[i % 6]}:${i}`, types[i % 6]!);
  for (let i = 0; i < 2000; i++) db0.set(`k:${types[i % 6]}:${i}`, types[i % 6]!);
  const db3 = new Map<string, string>();
  for (let j = 0; j < TAGS; j++) for (let i = 0; i < 10; i++) db3.set(`{t${j}}:d3:${i}`, 'string');
  for (let i = 0; i < 300; i++) db3.set(`d3:${i}`, 'hash');
  const db5 = new Map<string, string>([['d5:only', 'string']]);
  return { dbs: new Map([[0, db0], [3, db3], [5, db5]]) };
}

function writeArgs(key: string, type: string): string[] {
  switch (type) {
    case 'hash':
      return ['hset', key, 'f', 'v'];
    case 'list':
      return ['rpush', key, 'a', 'b'];
    case 'set':
      return ['sadd', key, 'm'];
    case 'zset':
      return ['zadd', key, '1', 'm'];
    default:
      return ['set', key, 'v'];
  }
}

/** Write every key to its owner, pipelined per node and db. */
async function load(map: number[], data: DataSet): Promise<void> {
  const jobs: Promise<unknown>[] = [];
  for (const [db, keys] of data.dbs) {
    const byPort = new Map<number, string[][]>();
    for (const [k, t] of keys) {
      const p = map[keyHashSlot(k)]!;
      if (!byPort.has(p)) byPort.set(p, []);
      byPort.get(p)!.push(writeArgs(k, t));
    }
    for (const [p, cmds] of byPort) {
      const pl = conn(p, db).pipeline();
      for (const [name, ...rest] of cmds) pl.call(name!, ...rest);
      jobs.push(
        pl.exec().then((res) => {
          for (const [e] of res!) if (e) throw e;
        }),
      );
    }
  }
  await Promise.all(jobs);
}

// ------------------------------------------------------------------------------------------ migrations

/** Move one slot from the node at `from` to `to` the way redis-cli does, in every loaded db. */
async function migrateSlot(
  slot: number,
  from: number,
  to: number,
  ids: Map<number, string>,
  hooks: { afterHalf?: () => Promise<void> } = {},
): Promise<void> {
  await conn(to).call('cluster', 'setslot', String(slot), 'importing', ids.get(from)!);
  await conn(from).call('cluster', 'setslot', String(slot), 'migrating', ids.get(to)!);
  const moveSome = async (db: number, max: number): Promise<number> => {
    const keys = (await conn(from, db).call('cluster', 'getkeysinslot', String(slot), String(max))) as string[];
    if (keys.length > 0) await conn(from, db).call('migrate', HOST, String(to), '', String(db), '5000', 'KEYS', ...keys);
    return keys.length;
  };
  await moveSome(0, 10);
  if (hooks.afterHalf) await hooks.afterHalf();
  for (const db of [0, 3]) while ((await moveSome(db, 100)) > 0);
  // Sent to the target first, as redis-cli does; the owner's hand-off commits the new owner.
  await conn(to).call('cluster', 'setslot', String(slot), 'node', ids.get(to)!);
  await conn(from).call('cluster', 'setslot', String(slot), 'node', ids.get(to)!);
}

// ------------------------------------------------------------------------------------------ cluster tests

describe('CLUSTERSCAN on a 3-node cluster', () => {
  let nodes: NodeHandle[];
  let ports: number[];
  const ids = new Map<number, string>();
  const data = makeData();
  const all = (db: number): string[] => [...data.dbs.get(db)!.keys()];

  beforeAll(async () => {
    nodes = await startCluster(3);
    ports = nodes.map((n) => n.port);
    for (const p of ports) ids.set(p, myId(p));
    await load(await slotMap(ports[0]!), data);
  });

  it('returns every key of the selected db once, following MOVED between nodes; cursors hash to the slot they name', async () => {
    for (const db of [0, 3, 5]) {
      const r = await clusterScan(ports, db, ['COUNT', '100']);
      expect(r.keys.length, `db ${db}`).toBe(data.dbs.get(db)!.size);
      expect(new Set(r.keys)).toEqual(new Set(all(db)));
      expect(r.ask).toBe(0);
    }
    // Starting from a node that does not own slot 0, and with COUNT 1: more calls, same keys.
    const map = await slotMap(ports[0]!);
    const notFirst = ports.find((p) => p !== map[0])!;
    const r = await clusterScan([notFirst, ...ports], 0, ['COUNT', '1']);
    expect(r.moved).toBeGreaterThan(0);
    expect(new Set(r.keys)).toEqual(new Set(all(0)));
    expect(r.keys.length).toBe(all(0).length);
    // Cursors move forward slot by slot; each has the shape fingerprint-{tag}-phase.
    let last = -1;
    for (const c of r.cursors.slice(0, -1)) {
      expect(c).toMatch(/^[0-9a-f]{8}-\{[0-9a-z]{1,4}\}-0$/);
      const s = keyHashSlot(c);
      expect(s).toBeGreaterThan(last);
      last = s;
    }
    expect(r.cursors.at(-1)).toBe('0');
  });

  it('scans whole slots per call, stopping once COUNT keys were examined or at the end of the node\'s slot range', async () => {
    const map = await slotMap(ports[0]!);
    const s = tagSlot(7);
    const owner = map[s]!;
    // 20 keys in the tag's slot: COUNT 1 still returns the whole slot.
    const [cur, keys] = await scanAt(owner, 0, `0-{t7}-0`, ['COUNT', '1']);
    expect(keys.filter((k) => k.startsWith('{t7}')).length).toBe(20);
    expect(keyHashSlot(cur)).toBe(s + 1);
    // A large COUNT stops at the first slot served by another node.
    const r = await scanAt(map[0]!, 0, '0', ['COUNT', '1000000']);
    let end = 0;
    while (end + 1 < 16384 && map[end + 1] === map[0]) end++;
    expect(keyHashSlot(r[0])).toBe(end + 1);
    expect(r[1].length).toBe(all(0).filter((k) => keyHashSlot(k) <= end).length);
  });

  it('MATCH, TYPE and SLOT filter; MATCH with a literal hash tag visits only that slot', async () => {
    const m = await clusterScan(ports, 0, ['MATCH', 'k:list:*', 'COUNT', '500']);
    expect(new Set(m.keys)).toEqual(new Set(all(0).filter((k) => k.startsWith('k:list:'))));
    const t = await clusterScan(ports, 0, ['TYPE', 'zset', 'COUNT', '500']);
    expect(new Set(t.keys)).toEqual(new Set(all(0).filter((k) => data.dbs.get(0)!.get(k) === 'zset')));
    const both = await clusterScan(ports, 3, ['TYPE', 'HASH', 'MATCH', 'd3:1*']);
    expect(new Set(both.keys)).toEqual(new Set(all(3).filter((k) => k.startsWith('d3:1'))));

    // SLOT n: one slot, from any node (MOVED to its owner), then "0".
    const s = tagSlot(3);
    const sl = await clusterScan(ports, 0, ['SLOT', String(s)]);
    expect(sl.calls).toBe(1);
    expect(sl.keys.sort()).toEqual(all(0).filter((k) => keyHashSlot(k) === s).sort());
    // MATCH {t5}:* : straight to that slot.
    const tm = await clusterScan(ports, 0, ['MATCH', '{t5}:*', 'COUNT', '1']);
    expect(tm.calls).toBe(1);
    expect(tm.keys.sort()).toEqual(all(0).filter((k) => k.startsWith('{t5}:')).sort());
    // SLOT and a MATCH tag of another slot: nothing to scan.
    expect(await scanAt(ports[0]!, 0, '0', ['SLOT', String(s), 'MATCH', '{t5}:*'])).toEqual(['0', []]);
  });

  it('rejects malformed cursors and arguments; a foreign fingerprint restarts its slot', async () => {
    const p = ports[0]!;
    for (const bad of ['1', 'abc', '-1', 'x-{a}', 'zz-{}-0', 'ab-{a}-2', 'ab-{a}-1.', 'a b-{a}-0', '0-{a}-0-0']) {
      expect(await errorOf(scanAt(p, 0, bad)), bad).toBe('ERR invalid cursor');
    }
    expect(await errorOf(scanAt(p, 0, '0', ['COUNT', '0']))).toBe('ERR syntax error');
    expect(await errorOf(scanAt(p, 0, '0', ['COUNT', 'x']))).toBe('ERR value is not an integer or out of range');
    expect(await errorOf(scanAt(p, 0, '0', ['COUNT']))).toBe('ERR syntax error');
    expect(await errorOf(scanAt(p, 0, '0', ['FOO', 'bar']))).toBe('ERR syntax error');
    expect(await errorOf(scanAt(p, 0, '0', ['SLOT', '16384']))).toBe('ERR Invalid or out of range slot');
    // With SLOT, the cursor must name that slot.
    expect(await errorOf(scanAt(p, 0, '0-{t1}-0', ['SLOT', String(tagSlot(2))]))).toBe('ERR invalid cursor');
    expect(await errorOf(conn(p).call('clusterscan'))).toBe("ERR wrong number of arguments for 'clusterscan' command");
    // A well-formed cursor of another engine version: its slot is scanned from the start.
    const map = await slotMap(p);
    const owner = map[tagSlot(9)]!;
    const [cur, keys] = await scanAt(owner, 0, 'ffffffff-{t9}-1.abcdef12', ['COUNT', '1']);
    expect(keys.filter((k) => k.startsWith('{t9}')).length).toBe(20);
    expect(keyHashSlot(cur)).toBe(tagSlot(9) + 1);
  });

  it('walks a MIGRATING slot in two phases: source keys, ASK to the target for the rest, rescan after the hand-off', async () => {
    const j = 11;
    const s = tagSlot(j);
    const map = await slotMap(ports[0]!);
    const from = map[s]!;
    const to = ports.find((p) => p !== from)!;
    const third = ports.find((p) => p !== from && p !== to)!;
    const mine = all(0).filter((k) => keyHashSlot(k) === s);
    await conn(to).call('cluster', 'setslot', String(s), 'importing', ids.get(from)!);
    await conn(from).call('cluster', 'setslot', String(s), 'migrating', ids.get(to)!);
    const first = (await conn(from).call('cluster', 'getkeysinslot', String(s), '8')) as string[];
    await conn(from).call('migrate', HOST, String(to), '', '0', '5000', 'KEYS', ...first);

    // Phase 0 at the source: its 12 remaining keys, and a cursor for the same slot in phase 1.
    const [c1, k1] = await scanAt(from, 0, `0-{t${j}}-0`, ['COUNT', '1000']);
    expect(k1.sort()).toEqual(missingFrom(mine, first).sort());
    expect(keyHashSlot(c1)).toBe(s);
    expect(c1).toMatch(new RegExp(`-1\\.${ids.get(from)!.slice(0, 8)}$`));
    // Phase 1 at the source: ASK; at the target without ASKING: MOVED; elsewhere: MOVED.
    expect(await errorOf(scanAt(from, 0, c1))).toBe(`ASK ${s} 127.0.0.1:${to}`);
    expect(await errorOf(scanAt(to, 0, c1))).toBe(`MOVED ${s} 127.0.0.1:${from}`);
    expect(await errorOf(scanAt(third, 0, c1))).toBe(`MOVED ${s} 127.0.0.1:${from}`);
    // A phase-0 cursor under ASKING at the target is not served there (the source's keys would be lost).
    expect(await errorOf(scanAt(to, 0, `0-{t${j}}-0`, [], true))).toBe(`MOVED ${s} 127.0.0.1:${from}`);
    // Phase 1 under ASKING at the target: the keys moved so far, then on to the next slot.
    const [c2, k2] = await scanAt(to, 0, c1, ['COUNT', '1000'], true);
    expect([...k2].sort()).toEqual([...first].sort());
    expect(keyHashSlot(c2)).toBe(s + 1);
    // A foreign fingerprint at the migrating source restarts the slot: phase 0 again, no ASK.
    const [c3, k3] = await scanAt(from, 0, c1.replace(/^[0-9a-f]{8}/, 'ffffffff'), ['COUNT', '1000']);
    expect(k3.length).toBe(12);
    expect(c3).toBe(c1);

    // ASKING lasts for one command, a transaction included: after EXEC the next command is not ASKING.
    // ASKING before MULTI covers the transaction's commands (as in Redis) and ends with EXEC.
    const tx = await raw(to, [['ASKING'], ['MULTI'], ['CLUSTERSCAN', c1, 'COUNT', '1000'], ['EXEC'], ['CLUSTERSCAN', c1]]);
    const enc = (k: string[]): string => `*${k.length}\r\n` + k.map((x) => `$${x.length}\r\n${x}\r\n`).join('');
    expect(tx).toBe(`+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n*2\r\n$${c2.length}\r\n${c2}\r\n${enc(k2)}-MOVED ${s} 127.0.0.1:${from}\r\n`);

    // The hand-off completes: the phase-1 cursor now reaches the new owner, which rescans the slot.
    await conn(to).call('cluster', 'setslot', String(s), 'node', ids.get(to)!);
    const deadline = Date.now() + 5000;
    let c4: ScanReply | null = null;
    while (c4 === null && Date.now() < deadline) {
      try {
        c4 = await scanAt(to, 0, c1, ['COUNT', '1']);
      } catch {
        await sleep(20);
      }
    }
    expect(c4![1].filter((k) => keyHashSlot(k) === s).sort()).toEqual([...mine].sort());
    expect(keyHashSlot(c4![0])).toBe(s + 1);
    expect(await errorOf(scanAt(from, 0, c1))).toBe(`MOVED ${s} 127.0.0.1:${to}`);
  });

  it('a phase-1 cursor at an owner that is no longer migrating (migration cancelled) rescans the slot', async () => {
    const j = 12;
    const s = tagSlot(j);
    const map = await slotMap(ports[0]!);
    const from = map[s]!;
    const to = ports.find((p) => p !== from)!;
    await conn(to).call('cluster', 'setslot', String(s), 'importing', ids.get(from)!);
    await conn(from).call('cluster', 'setslot', String(s), 'migrating', ids.get(to)!);
    const [c1, k1] = await scanAt(from, 0, `0-{t${j}}-0`);
    expect(k1.length).toBe(20);
    await conn(from).call('cluster', 'setslot', String(s), 'stable');
    await conn(to).call('cluster', 'setslot', String(s), 'stable');
    const [c2, k2] = await scanAt(from, 0, c1, ['COUNT', '1']);
    expect(k2.length).toBe(20);
    expect(keyHashSlot(c2)).toBe(s + 1);
  });

  it('a phase-1 cursor issued by a previous owner is phase 0 at an owner now migrating the slot onwards', async () => {
    const j = 14;
    const s = tagSlot(j);
    const map = await slotMap(ports[0]!);
    const a = map[s]!;
    const b = ports.find((p) => p !== a)!;
    const c = ports.find((p) => p !== a && p !== b)!;
    const mine = all(0).filter((k) => keyHashSlot(k) === s);
    // A -> B: A issues a phase-1 cursor, then the hand-off completes.
    let half: string[] = [];
    let c1 = '';
    await migrateSlot(s, a, b, ids, {
      afterHalf: async () => {
        half = (await scanAt(a, 0, `0-{t${j}}-0`))[1];
        c1 = (await scanAt(a, 0, `0-{t${j}}-0`))[0];
      },
    });
    expect(half.length).toBe(10);
    // B -> C, half moved: the A-issued cursor at B must not be sent on to C (B's keys would be skipped).
    await conn(c).call('cluster', 'setslot', String(s), 'importing', ids.get(b)!);
    await conn(b).call('cluster', 'setslot', String(s), 'migrating', ids.get(c)!);
    const some = (await conn(b).call('cluster', 'getkeysinslot', String(s), '5')) as string[];
    await conn(b).call('migrate', HOST, String(c), '', '0', '5000', 'KEYS', ...some);
    let r: ScanReply | null = null;
    for (const deadline = Date.now() + 5000; r === null && Date.now() < deadline; ) {
      r = await scanAt(b, 0, c1).catch(async () => {
        await sleep(20);
        return null;
      });
    }
    expect(r![1].length).toBe(15);
    expect(r![0]).toMatch(new RegExp(`-1\\.${ids.get(b)!.slice(0, 8)}$`));
    expect(await errorOf(scanAt(b, 0, r![0]))).toBe(`ASK ${s} 127.0.0.1:${c}`);
    const [next, rest] = await scanAt(c, 0, r![0], [], true);
    expect([...r![1], ...rest].sort()).toEqual([...mine].sort());
    expect(keyHashSlot(next)).toBe(s + 1);
    await conn(c).call('cluster', 'setslot', String(s), 'node', ids.get(c)!);
  });

  it('replies CLUSTERDOWN for a cursor of an unassigned slot', async () => {
    const map = await slotMap(ports[0]!);
    const s = tagSlot(13);
    const owner = map[s]!;
    const keys = (await conn(owner).call('cluster', 'getkeysinslot', String(s), '100')) as string[];
    expect(keys.length).toBe(20);
    // An empty slot next to it can be unassigned without losing data.
    let empty = s + 1;
    const hasKeys = async (slot: number): Promise<boolean> => {
      for (const db of [0, 3, 5]) if ((await conn(map[slot]!, db).call('cluster', 'countkeysinslot', String(slot))) !== 0) return true;
      return false;
    };
    while (await hasKeys(empty)) empty++;
    await conn(map[empty]!).call('cluster', 'delslots', String(empty));
    try {
      expect(await errorOf(scanAt(map[empty]!, 0, '0', ['SLOT', String(empty)]))).toBe('CLUSTERDOWN Hash slot not served');
    } finally {
      await conn(map[empty]!).call('cluster', 'addslots', String(empty));
      await waitClusterOk(ports);
    }
  });

  it('returns every key present for the whole scan while slots keep moving between nodes under concurrent writes', async () => {
    const owners = await slotMap(ports[0]!);
    const expected = new Map([0, 3].map((db) => [db, all(db)] as const));
    let scanning = true;

    // Coordination: the resharder migrates the tagged slots just ahead of scanner A, and holds A back
    // until half the slot's keys have moved, so A meets it MIGRATING; then either finishes at once
    // (A's phase-1 cursor meets the new owner) or waits until A has passed the slot (ASK path).
    let aSlot = 0;
    let preparing = -1;
    let migrations = 0;
    const tagged = [...new Set(Array.from({ length: TAGS }, (_, j) => tagSlot(j)))].sort((x, y) => x - y);
    const moved = new Set<number>([tagSlot(11)]);
    const resharder = (async () => {
      let turn = 0;
      while (scanning) {
        const s = tagged.find((t) => t > aSlot && !moved.has(t));
        if (s === undefined) break;
        moved.add(s);
        const from = owners[s]!;
        const others = ports.filter((p) => p !== from);
        const to = others[turn % 2]!;
        const waitForA = turn % 3 !== 0;
        turn++;
        preparing = s;
        await migrateSlot(s, from, to, ids, {
          afterHalf: async () => {
            preparing = -1;
            if (!waitForA) return;
            const until = Date.now() + 1000;
            while (scanning && aSlot <= s && Date.now() < until) await sleep(2);
          },
        });
        owners[s] = to;
        migrations++;
      }
      preparing = -1;
    })();

    // Concurrent writes: overwrite existing string keys (following MOVED/ASK), create and delete others.
    const writer = (async () => {
      const strings = all(0).filter((k) => data.dbs.get(0)!.get(k) === 'string');
      let n = 0;
      while (scanning) {
        const key = n % 2 === 0 ? strings[(n * 7919) % strings.length]! : `tmp:${n % 50}`;
        const args = n % 2 === 0 || n % 4 === 1 ? ['set', key, String(n)] : ['del', key];
        let port = owners[keyHashSlot(key)]!;
        let asking = false;
        for (let tries = 0; tries < 50; tries++) {
          try {
            if (asking) {
              const res = await conn(port).pipeline().call('asking').call(args[0]!, ...args.slice(1)).exec();
              if (res![1]![0]) throw res![1]![0];
            } else await conn(port).call(args[0]!, ...args.slice(1));
            break;
          } catch (e) {
            const m = REDIRECT_RE.exec((e as Error).message);
            if (!m && !(e as Error).message.startsWith('TRYAGAIN')) throw e;
            if (m) {
              port = Number(m[3]);
              asking = m[1] === 'ASK';
            }
            await sleep(2);
          }
        }
        n++;
        await sleep(1);
      }
    })();

    const scanA = clusterScan(ports, 0, ['COUNT', '5'], {
      before: async (cursor) => {
        await sleep(2);
        if (cursor !== '0') aSlot = keyHashSlot(cursor);
        while (preparing >= 0 && aSlot <= preparing && (cursor === '0' || keyHashSlot(cursor) <= preparing)) await sleep(1);
      },
    });
    // Scanner B (db 3) and C (db 0, MATCH, large COUNT) run free, throttled a little.
    const scanB = clusterScan(ports, 3, ['COUNT', '3'], { before: () => sleep(3) });
    const scanC = clusterScan(ports, 0, ['COUNT', '200', 'MATCH', '{t*'], { before: () => sleep(5) });
    let a: ScanResult;
    let b: ScanResult;
    let c: ScanResult;
    try {
      [a, b, c] = await Promise.all([scanA, scanB, scanC]);
    } finally {
      scanning = false;
      await Promise.all([resharder, writer]);
    }

    expect(missingFrom(expected.get(0)!, a.keys)).toEqual([]);
    expect(missingFrom(expected.get(3)!, b.keys)).toEqual([]);
    expect(missingFrom(expected.get(0)!.filter((k) => k.startsWith('{t')), c.keys)).toEqual([]);
    // The interleaving really happened: slots moved, and A met MIGRATING slots (ASK to their targets).
    expect(migrations).toBeGreaterThan(5);
    expect(a.ask).toBeGreaterThan(0);
    // Nothing from another db, nothing that never existed.
    const known = new Set([...expected.get(0)!, ...Array.from({ length: 50 }, (_, i) => `tmp:${i}`)]);
    expect(a.keys.filter((k) => !known.has(k))).toEqual([]);
    expect(b.keys.filter((k) => !expected.get(3)!.includes(k))).toEqual([]);

    // After the dust settles: a scan returns every key exactly once, and the cluster holds each once.
    const final = await clusterScan(ports, 0, ['COUNT', '50']);
    const finalStable = final.keys.filter((k) => !k.startsWith('tmp:'));
    expect(finalStable.length).toBe(expected.get(0)!.length);
    expect(new Set(finalStable)).toEqual(new Set(expected.get(0)!));
    const sizes = await Promise.all(ports.map((p) => conn(p, 3).call('dbsize') as Promise<number>));
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(expected.get(3)!.length);
  });
});

// ------------------------------------------------------------------------------------------ standalone

describe('CLUSTERSCAN without cluster mode', () => {
  let node: NodeHandle;
  const keys = Array.from({ length: 1500 }, (_, i) => `s:${i}`);

  beforeAll(async () => {
    node = await startNode();
    const pl = conn(node.port).pipeline();
    for (const k of keys) pl.call('set', k, 'v');
    pl.call('hset', 'h:1', 'f', 'v');
    pl.call('set', 'gone', 'v', 'PX', '1');
    await pl.exec();
    await conn(node.port, 2).call('set', 'db2:only', 'v');
  });

  it('walks every slot locally with the same cursors', async () => {
    await sleep(5);
    const r = await clusterScan([node.port], 0, ['COUNT', '7']);
    expect(r.moved + r.ask).toBe(0);
    expect(r.keys.length).toBe(keys.length + 1);
    expect(new Set(r.keys)).toEqual(new Set([...keys, 'h:1']));
    for (const c of r.cursors.slice(0, -1)) expect(c).toMatch(/^[0-9a-f]{8}-\{[0-9a-z]{1,4}\}-0$/);
    expect((await clusterScan([node.port], 2)).keys).toEqual(['db2:only']);
    expect((await clusterScan([node.port], 0, ['TYPE', 'hash'])).keys).toEqual(['h:1']);
    const s = keyHashSlot('s:10');
    const one = await scanAt(node.port, 0, '0', ['SLOT', String(s)]);
    expect(one[0]).toBe('0');
    expect(one[1]).toContain('s:10');
    expect(one[1].every((k) => keyHashSlot(k) === s)).toBe(true);
    expect(await errorOf(scanAt(node.port, 0, 'nope'))).toBe('ERR invalid cursor');
    // One call covers everything with a large COUNT.
    const big = await scanAt(node.port, 0, '0', ['COUNT', '100000']);
    expect(big[0]).toBe('0');
    expect(big[1].length).toBe(keys.length + 1);
  });
});
