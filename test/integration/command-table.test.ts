/**
 * COMMAND and its subcommands against a real redis-server: COMMAND INFO entries (RESP3 types
 * included: sets of flags, maps of key specs), COMMAND DOCS, GETKEYS / GETKEYSANDFLAGS, COUNT,
 * LIST filters, HELP and errors; and redis-cli's help, which it builds from COMMAND DOCS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, redisCli, startNode, waitForPort, type NodeHandle } from '../helpers/node';

// ------------------------------------------------------------------------------------------ helpers

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('');
}

/** A RESP3 value with its type kept: sets, maps, simple vs bulk strings stay distinguishable. */
type V = null | number | string | { set: V[] } | { map: [V, V][] } | V[] | { double: string } | { bool: boolean } | { error: string } | { verbatim: string };

/** Parse one RESP2/RESP3 reply; simple strings come back as "+text", bulk strings as "$text". */
function parseReply(s: string, pos = { i: 0 }): V {
  const line = (): string => {
    const e = s.indexOf('\r\n', pos.i);
    if (e < 0) throw new Error('incomplete');
    const l = s.slice(pos.i, e);
    pos.i = e + 2;
    return l;
  };
  const l = line();
  const t = l[0];
  const rest = l.slice(1);
  const n = Number(rest);
  const items = (k: number): V[] => Array.from({ length: k }, () => parseReply(s, pos));
  switch (t) {
    case '+':
      return `+${rest}`;
    case '-':
      return { error: rest };
    case ':':
      return n;
    case '_':
      return null;
    case ',':
      return { double: rest };
    case '#':
      return { bool: rest === 't' };
    case '$':
    case '=': {
      if (n < 0) return null;
      if (pos.i + n + 2 > s.length) throw new Error('incomplete');
      const body = s.slice(pos.i, pos.i + n);
      pos.i += n + 2;
      return t === '$' ? `$${body}` : { verbatim: body };
    }
    case '*':
      return n < 0 ? null : items(n);
    case '~':
      return { set: items(n) };
    case '%': {
      const kv: [V, V][] = [];
      for (let j = 0; j < n; j++) kv.push([parseReply(s, pos), parseReply(s, pos)]);
      return { map: kv };
    }
    default:
      throw new Error(`unknown RESP type ${JSON.stringify(l)}`);
  }
}

/** Send commands on one connection (optionally after HELLO 3) and parse one reply per command. */
async function call(port: number, cmds: readonly (readonly string[])[], resp3 = false): Promise<V[]> {
  const all = resp3 ? [['HELLO', '3'], ...cmds] : cmds;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('timeout'));
    }, 10_000);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const pos = { i: 0 };
      const out: V[] = [];
      try {
        for (let k = 0; k < all.length; k++) out.push(parseReply(buf, pos));
      } catch {
        return;
      }
      clearTimeout(timer);
      sock.destroy();
      resolve(resp3 ? out.slice(1) : out);
    });
    sock.on('error', reject);
    sock.write(all.map(encode).join(''));
  });
}

async function rawBytes(port: number, cmds: readonly (readonly string[])[]): Promise<string> {
  const END = '__end__';
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const tail = `$${END.length}\r\n${END}\r\n`;
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.endsWith(tail)) {
        sock.destroy();
        resolve(buf.slice(0, -tail.length));
      }
    });
    sock.on('error', reject);
    sock.write(cmds.map(encode).join('') + encode(['ECHO', END]));
  });
}

let node: NodeHandle;
let real: { port: number; proc: ChildProcess };

beforeAll(async () => {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || !which.stdout.trim()) throw new Error('redis-server is not installed: the live comparison cannot run');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'real-redis-'));
  const proc = spawn(which.stdout.trim(), ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  real = { port, proc };
  [node] = await Promise.all([startNode(), waitForPort(port)]);
}, 20_000);

afterAll(() => {
  real?.proc.kill('SIGKILL');
});

/** Commands whose COMMAND INFO entry must equal redis-server 7's. */
const LEAVES = [
  // Server family.
  'info',
  'time',
  'lastsave',
  'monitor',
  'debug',
  'role',
  'shutdown',
  'config|get',
  'config|set',
  'config|resetstat',
  'config|rewrite',
  'config|help',
  'command|count',
  'command|docs',
  'command|getkeys',
  'command|getkeysandflags',
  'command|info',
  'command|list',
  'command|help',
  'slowlog|get',
  'slowlog|len',
  'slowlog|reset',
  'slowlog|help',
  'memory|usage',
  'memory|stats',
  'memory|doctor',
  'memory|malloc-stats',
  'memory|purge',
  'memory|help',
  'latency|latest',
  'latency|history',
  'latency|reset',
  'latency|doctor',
  'latency|help',
  // Well-known commands covering every key-spec shape.
  'get',
  'set',
  'mget',
  'mset',
  'del',
  'lmove',
  'blmpop',
  'zunionstore',
  'sintercard',
  'rename',
  'incr',
  'hset',
  'bitop',
  'object|encoding',
  // Scripting family.
  'eval',
  'evalsha',
  'eval_ro',
  'evalsha_ro',
  'script|load',
  'script|exists',
  'script|flush',
  'script|kill',
  'script|debug',
  'script|help',
];
const CONTAINERS = ['config', 'command', 'slowlog', 'memory', 'latency', 'script'];

describe('COMMAND INFO', () => {
  it('gives the same 10-element entries as redis-server, with RESP3 sets and maps', async () => {
    for (const resp3 of [false, true]) {
      const cmd = ['COMMAND', 'INFO', ...LEAVES];
      const [ours] = await call(node.port, [cmd], resp3);
      const [theirs] = await call(real.port, [cmd], resp3);
      const o = ours as V[];
      const t = theirs as V[];
      expect(o).toHaveLength(LEAVES.length);
      for (let i = 0; i < LEAVES.length; i++) expect(o[i], `${LEAVES[i]} (RESP${resp3 ? 3 : 2})`).toEqual(t[i]);
    }
  });

  it('containers list their subcommands with full entries', async () => {
    const [ours] = await call(node.port, [['COMMAND', 'INFO', ...CONTAINERS]], true);
    const [theirs] = await call(real.port, [['COMMAND', 'INFO', ...CONTAINERS]], true);
    for (let i = 0; i < CONTAINERS.length; i++) {
      const o = (ours as V[][])[i];
      const t = (theirs as V[][])[i];
      expect(o.slice(0, 9), CONTAINERS[i]).toEqual(t.slice(0, 9));
      const subsO = o[9] as V[][];
      const subsT = new Map((t[9] as V[][]).map((e) => [e[0], e]));
      expect(subsO.length).toBeGreaterThan(1);
      for (const sub of subsO) expect(sub, String(sub[0])).toEqual(subsT.get(sub[0]));
    }
  });

  it('answers nil for unknown names, accepts container|sub, and COMMAND lists every command once', async () => {
    const [r2, r3] = await Promise.all([
      call(node.port, [['COMMAND', 'INFO', 'nosuch', 'GET', 'config|GET', 'config|nosuch', 'get|x|y']]),
      call(node.port, [['COMMAND', 'INFO', 'nosuch']], true),
    ]);
    const list = r2[0] as V[];
    expect(list[0]).toBeNull();
    expect((list[1] as V[])[0]).toBe('$get');
    expect((list[2] as V[])[0]).toBe('$config|get');
    expect(list[3]).toBeNull();
    expect(list[4]).toBeNull();
    expect(await rawBytes(node.port, [['COMMAND', 'INFO', 'nosuch']])).toBe('*1\r\n$-1\r\n');
    expect(r3[0]).toEqual([null]);
    const [all, count, names] = await call(node.port, [['COMMAND'], ['COMMAND', 'COUNT'], ['COMMAND', 'LIST']]);
    const entries = all as V[][];
    expect(entries.length).toBe(count);
    for (const e of entries) expect(e).toHaveLength(10);
    const top = entries.map((e) => e[0]);
    expect(new Set(top).size).toBe(top.length);
    const listed = names as string[];
    expect(listed.filter((n) => !n.includes('|')).sort()).toEqual([...top].sort());
    expect(listed).toContain('$config|get');
    expect(await call(node.port, [['COMMAND', 'INFO']]).then((r) => (r[0] as V[]).length)).toBe(count);
  });
});

describe('COMMAND DOCS', () => {
  it('is a map of name -> {summary, since, group, complexity, subcommands} with redis-server\'s texts', async () => {
    const names = ['get', 'config', 'memory|usage', 'info', 'nosuch'];
    const [ours] = await call(node.port, [['COMMAND', 'DOCS', ...names]], true);
    const [theirs] = await call(real.port, [['COMMAND', 'DOCS', ...names]], true);
    const toObj = (m: V): Record<string, V> => Object.fromEntries((m as { map: [V, V][] }).map.map(([k, v]) => [String(k).slice(1), v]));
    const o = toObj(ours);
    const t = toObj(theirs);
    expect(Object.keys(o)).toEqual(['get', 'config', 'memory|usage', 'info']);
    for (const name of Object.keys(o)) {
      const od = toObj(o[name]);
      const td = toObj(t[name]);
      expect(od.summary, name).toEqual(td.summary);
      expect(od.since, name).toEqual(td.since);
      expect(od.group, name).toEqual(td.group);
      expect(od.complexity, name).toEqual(td.complexity);
    }
    const subs = toObj(toObj(o.config).subcommands);
    const realSubs = toObj(toObj(t.config).subcommands);
    expect(Object.keys(subs).sort()).toEqual(Object.keys(realSubs).sort());
    for (const [n, d] of Object.entries(subs)) {
      const theirsNoArgs = toObj(realSubs[n]);
      delete theirsNoArgs.arguments;
      delete theirsNoArgs.history;
      expect(toObj(d), n).toEqual(theirsNoArgs);
    }
    // Every server-family command documents itself as redis-server does (arguments aside: not in our table).
    const family = ['info', 'config', 'command', 'time', 'lastsave', 'monitor', 'slowlog', 'memory', 'latency', 'debug', 'role', 'shutdown'];
    const [fo] = await call(node.port, [['COMMAND', 'DOCS', ...family]], true);
    const [ft] = await call(real.port, [['COMMAND', 'DOCS', ...family]], true);
    const drop = (d: V): Record<string, V> => {
      const x = toObj(d);
      delete x.arguments;
      delete x.history;
      delete x.doc_flags;
      if (x.subcommands) x.subcommands = { map: (x.subcommands as { map: [V, V][] }).map.map(([k, v]) => [k, { map: Object.entries(drop(v)).map(([kk, vv]) => [`$${kk}`, vv] as [V, V]) }] as [V, V]) };
      return x;
    };
    const fot = toObj(fo);
    const ftt = toObj(ft);
    for (const n of family) {
      const a = drop(fot[n]);
      const b = drop(ftt[n]);
      if (a.subcommands) {
        const subA = toObj(a.subcommands);
        const subB = toObj(b.subcommands);
        for (const k of Object.keys(subA)) expect(subA[k], k).toEqual(subB[k]);
        delete a.subcommands;
        delete b.subcommands;
      }
      expect(a, n).toEqual(b);
    }
    // Unknown names only: an empty map.
    expect(await rawBytes(node.port, [['COMMAND', 'DOCS', 'nosuch']])).toBe(await rawBytes(real.port, [['COMMAND', 'DOCS', 'nosuch']]));
  });

  it("feeds redis-cli's help (which it builds from COMMAND DOCS of all commands)", () => {
    const r = redisCli(node.port, ['help', 'config', 'get']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/CONFIG GET/);
    expect(r.stdout).toMatch(/summary:.*Get the values of configuration parameters/);
    expect(r.stdout).toMatch(/group:.*server/);
    const g = redisCli(node.port, ['help', '@string']);
    expect(g.status).toBe(0);
    expect(g.stdout).toMatch(/GET/);
    expect(g.stdout).toMatch(/SET/);
    const docs = redisCli(node.port, ['command', 'docs', 'get']);
    const realDocs = redisCli(real.port, ['command', 'docs', 'get']);
    expect(docs.stdout.split('\n').slice(0, 8)).toEqual(realDocs.stdout.split('\n').slice(0, 8));
  });
});

describe('COMMAND GETKEYS / GETKEYSANDFLAGS', () => {
  const CASES: string[][] = [
    ['get', 'k'],
    ['set', 'k', 'v'],
    ['mset', 'a', '1', 'b', '2'],
    ['mget', 'a', 'b', 'c'],
    ['del', 'a', 'b', 'c'],
    ['lmove', 'a', 'b', 'left', 'right'],
    ['blmpop', '0', '2', 'a', 'b', 'left'],
    ['sintercard', '2', 'a', 'b', 'limit', '1'],
    ['sintercard', '0', 'a'],
    ['zunionstore', 'd', '2', 'a', 'b', 'weights', '1', '2'],
    ['bitop', 'and', 'd', 'a', 'b'],
    ['object', 'encoding', 'k'],
    ['memory', 'usage', 'k'],
    ['rename', 'a', 'b'],
    ['get', 'a', 'b'],
    ['ping', 'x'],
    ['config', 'get', 'x'],
    ['config', 'nosuch', 'x'],
    ['nosuch', 'a'],
  ];

  it('extracts the same keys and flags as redis-server, and fails the same way', async () => {
    for (const resp3 of [false, true]) {
      const cmds = CASES.flatMap((c) => [
        ['COMMAND', 'GETKEYS', ...c],
        ['COMMAND', 'GETKEYSANDFLAGS', ...c],
      ]);
      const ours = await call(node.port, cmds, resp3);
      const theirs = await call(real.port, cmds, resp3);
      for (let i = 0; i < cmds.length; i++) expect(ours[i], `${cmds[i].join(' ')} (RESP${resp3 ? 3 : 2})`).toEqual(theirs[i]);
    }
  });

  it('reports per-call flags for SET (GET option) and BITFIELD (read-only forms)', async () => {
    const cmds = [
      ['COMMAND', 'GETKEYSANDFLAGS', 'set', 'k', 'v', 'GET'],
      ['COMMAND', 'GETKEYSANDFLAGS', 'bitfield', 'k', 'get', 'u8', '0'],
      ['COMMAND', 'GETKEYSANDFLAGS', 'bitfield', 'k', 'set', 'u8', '0', '1'],
    ];
    expect(await call(node.port, cmds, true)).toEqual(await call(real.port, cmds, true));
  });

  it('arity errors name the subcommand', async () => {
    const cmds = [['COMMAND', 'GETKEYS', 'get'], ['COMMAND', 'GETKEYS'], ['COMMAND', 'COUNT', 'x']];
    expect(await rawBytes(node.port, cmds)).toBe(await rawBytes(real.port, cmds));
  });
});

describe('COMMAND LIST, COUNT, HELP', () => {
  it('filters by pattern, ACL category and module like redis-server', async () => {
    const io = new Redis({ port: node.port });
    const rio = new Redis({ port: real.port });
    const pattern = (await io.call('command', 'list', 'filterby', 'pattern', 'conf*')) as string[];
    expect(pattern.sort()).toEqual(((await rio.call('command', 'list', 'filterby', 'pattern', 'conf*')) as string[]).sort());
    const ours = (await io.call('command', 'list', 'filterby', 'aclcat', 'STRING')) as string[];
    expect(ours).toContain('get');
    expect(ours).toContain('set');
    expect(ours).not.toContain('lpush');
    const theirs = new Set((await rio.call('command', 'list', 'filterby', 'aclcat', 'string')) as string[]);
    for (const n of ours) expect(theirs.has(n), n).toBe(true);
    expect(await io.call('command', 'list', 'filterby', 'module', 'x')).toEqual([]);
    expect(await io.call('command', 'list', 'filterby', 'aclcat', 'nosuch')).toEqual([]);
    io.disconnect();
    rio.disconnect();
    const errs = [
      ['COMMAND', 'LIST', 'FILTERBY'],
      ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN'],
      ['COMMAND', 'LIST', 'foo'],
      ['COMMAND', 'LIST', 'FILTERBY', 'foo', 'bar'],
      ['COMMAND', 'FOO'],
      ['COMMAND', 'HELP'],
    ];
    expect(await rawBytes(node.port, errs)).toBe(await rawBytes(real.port, errs));
  });

  it('COUNT matches the number of runnable top-level commands', async () => {
    const io = new Redis({ port: node.port });
    const count = (await io.call('command', 'count')) as number;
    const list = (await io.call('command', 'list')) as string[];
    expect(count).toBe(list.filter((n) => !n.includes('|')).length);
    expect(count).toBeGreaterThan(20);
    io.disconnect();
  });
});
