/**
 * Server family: INFO, CONFIG, TIME, LASTSAVE, ROLE, MONITOR, SLOWLOG, MEMORY, LATENCY, DEBUG, SHUTDOWN.
 * Driven with ioredis, node-redis, redis-cli and raw RESP; where replies are deterministic they are
 * compared byte for byte with a real redis-server started by this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { NODE_BIN, freePort, redisCli, startNode, waitForPort, type NodeHandle } from '../helpers/node';
import { REDIS_VERSION } from '../../cluster-node/src/version';

// ------------------------------------------------------------------------------------------ helpers

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('');
}

const END = '__end_of_script__';

/**
 * Run commands on one fresh connection and return everything the server sent before the reply to a
 * trailing ECHO sentinel (so nothing depends on timing).
 */
async function raw(port: number, cmds: readonly (readonly string[])[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    const tail = `$${END.length}\r\n${END}\r\n`;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no sentinel reply; got ${JSON.stringify(buf.slice(0, 500))}`));
    }, 10_000);
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.endsWith(tail)) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.slice(0, buf.length - tail.length));
      }
    });
    s.on('error', reject);
    s.write(cmds.map(encode).join('') + encode(['ECHO', END]));
  });
}

interface RealRedis {
  port: number;
  stop(): Promise<void>;
}

/** A real redis-server on a free loopback port (never skipped: the comparison needs it). */
async function startRealRedis(): Promise<RealRedis> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || !which.stdout.trim()) throw new Error('redis-server is not installed: the live comparison cannot run');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'real-redis-'));
  const proc: ChildProcess = spawn(
    which.stdout.trim(),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--enable-debug-command', 'yes'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await waitForPort(port);
  return {
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Parse INFO text the way redis_exporter and ioredis do: "# Section" headers and "field:value" lines. */
function parseInfo(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let cur = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line.startsWith('# ')) {
      cur = new Map();
      out.set(line.slice(2), cur);
    } else if (line !== '') {
      const i = line.indexOf(':');
      cur.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  return out;
}

function field(text: string, name: string): string | undefined {
  for (const sec of parseInfo(text).values()) if (sec.has(name)) return sec.get(name);
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------ suite

let node: NodeHandle;
let real: RealRedis;
let io: Redis;

beforeAll(async () => {
  [node, real] = await Promise.all([startNode(), startRealRedis()]);
  io = new Redis({ port: node.port, lazyConnect: true });
  await io.connect();
}, 20_000);

afterAll(async () => {
  io?.disconnect();
  await real?.stop();
});

describe('INFO', () => {
  it("passes ioredis' ready check (its own INFO parser finds loading:0)", async () => {
    const c = new Redis({ port: node.port, lazyConnect: true, enableReadyCheck: true });
    await c.connect();
    expect(c.status).toBe('ready');
    const info = await new Promise<Record<string, string>>((resolve, reject) =>
      (c as unknown as { _readyCheck(cb: (e: Error | null, i: Record<string, string>) => void): void })._readyCheck((e, i) => (e ? reject(e) : resolve(i))),
    );
    expect(info.loading).toBe('0');
    expect(info.redis_version).toBe(REDIS_VERSION);
    expect(info.role).toBe('master');
    expect(Number(info.tcp_port)).toBe(node.port);
    c.disconnect();
  });

  it('is CRLF-terminated "field:value" lines under "# Section" headers, sections separated by one empty line', async () => {
    const text = await io.info();
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.endsWith('\r\n\r\n')).toBe(false);
    // No bare LF anywhere.
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const blocks = text.split('\r\n\r\n');
    expect(blocks.map((b) => b.split('\r\n')[0])).toEqual([
      '# Server',
      '# Clients',
      '# Memory',
      '# Persistence',
      '# Stats',
      '# Replication',
      '# CPU',
      '# Modules',
      '# Errorstats',
      '# Cluster',
      '# Keyspace',
    ]);
    for (const line of text.split('\r\n')) {
      if (line === '' || line.startsWith('# ')) continue;
      expect(line).toMatch(/^[a-z][a-z0-9_|.-]*:\S*( \S+)*$/i);
    }
  });

  it('selects sections: default, all, everything, several names, any case; unknown names give an empty reply', async () => {
    const heads = async (...args: string[]) =>
      ((await io.call('info', ...args)) as string)
        .split('\r\n')
        .filter((l) => l.startsWith('# '))
        .map((l) => l.slice(2));
    const def = await heads();
    expect(await heads('default')).toEqual(def);
    const all = ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'CPU', 'Modules', 'Commandstats', 'Errorstats', 'Latencystats', 'Cluster', 'Keyspace'];
    expect(await heads('all')).toEqual(all);
    expect(await heads('everything')).toEqual(all);
    expect(await heads('KEYSPACE', 'server')).toEqual(['Server', 'Keyspace']);
    expect(await heads('default', 'commandstats')).toEqual(def.slice(0, 8).concat(['Commandstats'], def.slice(8)));
    expect(await io.call('info', 'nosuchsection')).toBe('');
    // Same section choices as redis-server.
    const realHeads = (await raw(real.port, [['INFO', 'cpu', 'KEYSPACE', 'nosuch']])).match(/# \w+/g);
    const ourHeads = (await raw(node.port, [['INFO', 'cpu', 'KEYSPACE', 'nosuch']])).match(/# \w+/g);
    expect(ourHeads).toEqual(realHeads);
  });

  it('reports server, clients, memory, persistence, replication, cpu and cluster fields', async () => {
    const text = (await io.call('info', 'everything')) as string;
    const f = (n: string) => field(text, n);
    expect(f('redis_version')).toBe(REDIS_VERSION);
    expect(f('redis_mode')).toBe('standalone');
    expect(f('process_id')).toBe(String(node.proc.pid));
    expect(f('run_id')).toMatch(/^[0-9a-f]{40}$/);
    expect(f('tcp_port')).toBe(String(node.port));
    expect(f('arch_bits')).toMatch(/^(32|64)$/);
    expect(Number(f('uptime_in_seconds'))).toBeGreaterThanOrEqual(0);
    expect(f('uptime_in_days')).toBe('0');
    expect(f('hz')).toBe('10');
    expect(f('config_file')).toBe('');
    expect(f('executable')).toMatch(/cluster-node/);
    expect(Number(f('connected_clients'))).toBeGreaterThanOrEqual(1);
    expect(f('maxclients')).toBe('10000');
    expect(f('blocked_clients')).toBe('0');
    expect(Number(f('used_memory'))).toBeGreaterThan(0);
    expect(f('used_memory_human')).toMatch(/^\d+(\.\d\d[KMGTP])?B?$/);
    expect(Number(f('used_memory_rss'))).toBeGreaterThan(1024 * 1024);
    expect(Number(f('used_memory_peak'))).toBeGreaterThanOrEqual(Number(f('used_memory')));
    expect(f('maxmemory')).toBe('0');
    expect(f('maxmemory_human')).toBe('0B');
    expect(f('maxmemory_policy')).toBe('noeviction');
    expect(f('mem_fragmentation_ratio')).toMatch(/^\d+\.\d\d$/);
    expect(f('loading')).toBe('0');
    expect(f('aof_enabled')).toBe('0');
    expect(f('rdb_last_save_time')).toMatch(/^\d+$/);
    expect(f('role')).toBe('master');
    expect(f('connected_slaves')).toBe('0');
    expect(f('master_replid')).toMatch(/^[0-9a-f]{40}$/);
    expect(f('master_repl_offset')).toBe('0');
    expect(f('used_cpu_sys')).toMatch(/^\d+\.\d{6}$/);
    expect(f('used_cpu_user')).toMatch(/^\d+\.\d{6}$/);
    expect(f('cluster_enabled')).toBe('0');
    // Every field name redis-server 7 prints in these sections is present here too.
    const ours = parseInfo(text);
    const theirs = parseInfo((await raw(real.port, [['INFO', 'everything']])).replace(/^\$\d+\r\n/, ''));
    for (const sec of ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'CPU', 'Cluster']) {
      const missing = [...theirs.get(sec)!.keys()].filter((k) => !ours.get(sec)!.has(k));
      expect(missing, sec).toEqual([]);
    }
  });

  it('counts keyspace, changes, hits/misses, connections and commands', async () => {
    const c = new Redis({ port: node.port });
    await c.select(3);
    const before = await c.info('stats');
    await c.set('ks:a', '1');
    await c.set('ks:b', '2', 'PX', 100000);
    await c.get('ks:a');
    await c.get('ks:nope');
    const after = await c.info();
    expect(after).toMatch(/\r\ndb3:keys=2,expires=1,avg_ttl=\d+\r\n/);
    expect(Number(field(after, 'keyspace_hits')) - Number(field(before, 'keyspace_hits'))).toBe(1);
    expect(Number(field(after, 'keyspace_misses')) - Number(field(before, 'keyspace_misses'))).toBe(1);
    expect(Number(field(after, 'total_commands_processed'))).toBeGreaterThan(Number(field(before, 'total_commands_processed')));
    expect(Number(field(after, 'rdb_changes_since_last_save'))).toBeGreaterThanOrEqual(2);
    expect(Number(field(after, 'total_connections_received'))).toBeGreaterThanOrEqual(2);
    expect(Number(field(after, 'total_net_input_bytes'))).toBeGreaterThan(0);
    c.disconnect();
  });

  it('commandstats and errorstats use Redis line formats (subcommands as container|sub)', async () => {
    const c = new Redis({ port: node.port });
    await c.call('config', 'resetstat');
    await c.get('x');
    await c.get('x');
    await c.call('config', 'get', 'hz');
    await expect(c.call('get')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
    await expect(c.call('nosuchcommand')).rejects.toThrow(/unknown command/);
    const text = (await c.call('info', 'commandstats', 'errorstats')) as string;
    expect(text).toMatch(/\r\ncmdstat_get:calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0\r\n/);
    expect(text).toMatch(/\r\ncmdstat_config\|get:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n/);
    expect(text).toMatch(/\r\nerrorstat_ERR:count=2\r\n/);
    expect(field(await c.info('stats'), 'total_error_replies')).toBe('2');
    c.disconnect();
  });

  it('is a verbatim string in RESP3 and a bulk string in RESP2', async () => {
    const body = '# Cluster\r\ncluster_enabled:0\r\n';
    const r2 = await raw(node.port, [['INFO', 'cluster']]);
    expect(r2).toBe(`$${body.length}\r\n${body}\r\n`);
    const r3 = await raw(node.port, [['HELLO', '3'], ['INFO', 'cluster']]);
    expect(r3.endsWith(`=${body.length + 4}\r\ntxt:${body}\r\n`)).toBe(true);
    // Exactly like redis-server.
    expect(await raw(real.port, [['INFO', 'cluster']])).toBe(r2);
    expect(await raw(node.port, [['INFO', 'nosuch']])).toBe(await raw(real.port, [['INFO', 'nosuch']]));
    const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, RESP: 3 });
    await c.connect();
    const text = String(await c.info('server'));
    expect(text).toContain(`redis_version:${REDIS_VERSION}`);
    await c.quit();
  });
});

describe('CONFIG', () => {
  it('GET takes several glob patterns and exact names and replies with a map', async () => {
    const r = (await io.call('config', 'get', 'maxmemory*', 'hz', 'nosuch')) as string[];
    const m = new Map<string, string>();
    for (let i = 0; i < r.length; i += 2) m.set(r[i], r[i + 1]);
    expect(m.get('maxmemory')).toBe('0');
    expect(m.get('maxmemory-policy')).toBe('noeviction');
    expect(m.get('maxmemory-samples')).toBe('5');
    expect(m.get('hz')).toBe('10');
    expect(m.has('nosuch')).toBe(false);
    // Exact names are echoed as typed; duplicates appear once.
    expect(await io.call('config', 'get', 'HZ', 'HZ')).toEqual(['HZ', '10']);
    expect(await io.call('config', 'get', 'h?', 'hz')).toEqual(['hz', '10']);
    expect(await io.call('config', 'get', 'nosuch*')).toEqual([]);
    const ro = (await io.call('config', 'get', '*read-only*')) as string[];
    expect(ro.filter((_, i) => i % 2 === 0).sort()).toEqual(['replica-read-only', 'slave-read-only']);
    // RESP3: a map.
    expect(await raw(node.port, [['HELLO', '3'], ['CONFIG', 'GET', 'hz']]).then((s) => s.slice(s.lastIndexOf('%1')))).toBe(
      '%1\r\n$2\r\nhz\r\n$2\r\n10\r\n',
    );
    await expect(io.call('config', 'get')).rejects.toThrow("ERR wrong number of arguments for 'config|get' command");
  });

  it('SET changes several parameters at once and GET reads them back', async () => {
    expect(await io.call('config', 'set', 'maxmemory-samples', '7', 'slowlog-max-len', '64', 'maxmemory', '100mb')).toBe('OK');
    expect(await io.call('config', 'get', 'maxmemory-samples', 'slowlog-max-len', 'maxmemory')).toEqual(
      expect.arrayContaining(['maxmemory-samples', '7', 'slowlog-max-len', '64', 'maxmemory', String(100 * 1024 * 1024)]),
    );
    expect(field(await io.info('memory'), 'maxmemory_human')).toBe('100.00M');
    expect(await io.call('config', 'set', 'maxmemory', '0', 'maxmemory-samples', '5', 'slowlog-max-len', '128')).toBe('OK');
  });

  it('SET is all or nothing and reports errors like Redis', async () => {
    const errs: [string[], string][] = [
      [['config', 'set', 'hz'], "ERR wrong number of arguments for 'config|set' command"],
      [['config', 'set', 'hz', '5', 'maxmemory'], 'ERR syntax error'],
      [['config', 'set', 'nosuch', '1'], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"],
      [['config', 'set', 'databases', '2', 'nosuch', '1'], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"],
      [['config', 'set', 'hz', '2', 'nosuch', '1', 'databases', '3'], "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"],
      [['config', 'set', 'databases', '4'], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"],
      [['config', 'set', 'hz', '5', 'HZ', '6'], "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"],
      [['config', 'set', 'hz', 'abc'], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"],
    ];
    for (const [args, msg] of errs) {
      const ours = await io.call(args[0], ...args.slice(1)).catch((e: Error) => e.message);
      expect(ours, args.join(' ')).toBe(msg);
      const theirs = await raw(real.port, [args]);
      expect(theirs, `redis-server: ${args.join(' ')}`).toBe(`-${msg}\r\n`);
    }
    // A bad value later in the list leaves earlier ones untouched.
    await expect(io.call('config', 'set', 'maxmemory', '1mb', 'hz', '20', 'maxmemory-policy', 'bogus')).rejects.toThrow(
      "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')",
    );
    expect(await io.call('config', 'get', 'maxmemory', 'hz')).toEqual(['maxmemory', '0', 'hz', '10']);
  });

  it('RESETSTAT clears command, error and keyspace counters', async () => {
    await io.get('rs:x');
    await io.call('nosuch').catch(() => undefined);
    expect(await io.call('config', 'resetstat')).toBe('OK');
    const text = (await io.call('info', 'all')) as string;
    expect(text).not.toMatch(/cmdstat_get:/);
    expect(text).not.toMatch(/errorstat_/);
    expect(field(text, 'keyspace_misses')).toBe('0');
    expect(field(text, 'total_error_replies')).toBe('0');
  });

  it('REWRITE without a config file fails like Redis; HELP lists the subcommands', async () => {
    await expect(io.call('config', 'rewrite')).rejects.toThrow('ERR The server is running without a config file');
    const help = (await io.call('config', 'help')) as string[];
    expect(help[0]).toBe('CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    expect(help).toContain('REWRITE');
    expect(help[help.length - 1]).toBe('    Prints this help.');
    expect(await raw(node.port, [['CONFIG', 'HELP']])).toBe(await raw(real.port, [['CONFIG', 'HELP']]));
    await expect(io.call('config', 'nosuch')).rejects.toThrow("ERR unknown subcommand 'nosuch'. Try CONFIG HELP.");
  });

  it('REWRITE writes changes back into the config file, keeping comments, and a restart reads them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rewrite-'));
    const file = path.join(dir, 'node.conf');
    const port = await freePort();
    writeFileSync(file, ['# my settings', `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, 'hz 10', 'hz 11', 'maxmemory 10mb', ''].join('\n'));
    const start = async () => {
      const p = spawn(process.execPath, [NODE_BIN, file], { stdio: 'ignore' });
      await waitForPort(port);
      return p;
    };
    let proc = await start();
    try {
      const c = new Redis({ port });
      expect(field(await c.info('server'), 'config_file')).toBe(file);
      expect(await c.call('config', 'set', 'hz', '25', 'maxmemory', '20mb', 'maxmemory-policy', 'allkeys-lru', 'notify-keyspace-events', 'KEA')).toBe('OK');
      expect(await c.call('config', 'rewrite')).toBe('OK');
      const text = readFileSync(file, 'utf8');
      const lines = text.trim().split('\n');
      expect(lines[0]).toBe('# my settings');
      expect(lines.filter((l) => l.startsWith('hz '))).toEqual(['hz 25']);
      expect(lines).toContain('maxmemory 20mb');
      expect(lines).toContain('# Generated by CONFIG REWRITE');
      expect(lines).toContain('maxmemory-policy allkeys-lru');
      expect(lines).toContain(`notify-keyspace-events "${((await c.call('config', 'get', 'notify-keyspace-events')) as string[])[1]}"`);
      c.disconnect();
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      proc = await start();
      const c2 = new Redis({ port });
      expect(await c2.call('config', 'get', 'save')).toEqual(['save', '3600 1 300 100 60 10000']);
      expect(await c2.call('config', 'get', 'hz', 'maxmemory', 'maxmemory-policy')).toEqual([
        'hz',
        '25',
        'maxmemory',
        String(20 * 1024 * 1024),
        'maxmemory-policy',
        'allkeys-lru',
      ]);
      c2.disconnect();
    } finally {
      proc.kill('SIGKILL');
    }
  });
});

describe('TIME, LASTSAVE, ROLE', () => {
  it('TIME is [seconds, microseconds] as bulk strings close to the wall clock', async () => {
    const [s, us] = (await io.call('time')) as string[];
    expect(s).toMatch(/^\d+$/);
    expect(us).toMatch(/^\d{1,6}$/);
    expect(Math.abs(Number(s) * 1000 + Number(us) / 1000 - Date.now())).toBeLessThan(2000);
    await expect(io.call('time', 'x')).rejects.toThrow("ERR wrong number of arguments for 'time' command");
  });

  it('LASTSAVE is an integer timestamp; ROLE has the master shape', async () => {
    const t = (await io.call('lastsave')) as number;
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(600);
    expect(await io.call('role')).toEqual(['master', 0, []]);
    expect(await raw(node.port, [['ROLE']])).toBe(await raw(real.port, [['ROLE']]));
  });
});

describe('MONITOR', () => {
  /** What a monitor connection sees while a second connection runs `script`, timestamps and ports normalised. */
  async function monitorSession(port: number, script: string[][]): Promise<string> {
    const mon = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    mon.on('data', (d) => (got += d.toString('latin1')));
    await new Promise((r) => mon.once('connect', r));
    mon.write(encode(['MONITOR']));
    for (let i = 0; i < 200 && !got.includes('+OK\r\n'); i++) await sleep(5);
    await raw(port, script);
    for (let i = 0; i < 200 && !got.includes(END); i++) await sleep(5);
    // The monitor's own commands are shown too (after their replies); a second MONITOR is ignored.
    mon.write(encode(['MONITOR']) + encode(['PING']) + encode(['ECHO', 'done']));
    for (let i = 0; i < 200 && !got.includes('"done"'); i++) await sleep(5);
    const monPort = mon.localPort;
    mon.destroy();
    return got
      .replace(/^\+\d+\.\d{6} \[/gm, '+TS [')
      .replace(new RegExp(`127\\.0\\.0\\.1:${monPort}\\]`, 'g'), 'MONITOR]')
      .replace(/127\.0\.0\.1:\d+\]/g, 'CLIENT]');
  }

  it("streams commands in redis-server's format and order (db after the command, EXEC after its commands, no admin or rejected commands)", async () => {
    const script = [
      ['SELECT', '2'],
      ['SET', 'mon:key', 'a "quoted"\nvalue\x01'],
      ['CONFIG', 'GET', 'hz'],
      ['GET', 'mon:key'],
      ['GET'],
      ['NOSUCHCOMMAND', 'x'],
      ['MULTI'],
      ['SET', 'mon:a', '1'],
      ['EXEC'],
      ['DEL', 'mon:key', 'mon:a'],
    ];
    const ours = await monitorSession(node.port, script);
    const theirs = await monitorSession(real.port, script);
    expect(ours).toBe(theirs);
    expect(ours).toContain('+TS [2 CLIENT] "SELECT" "2"\r\n');
    expect(ours).toContain('+TS [2 CLIENT] "SET" "mon:key" "a \\"quoted\\"\\nvalue\\x01"\r\n');
    expect(ours).toContain('+PONG\r\n+TS [0 MONITOR] "PING"\r\n');
    expect(ours).not.toContain('CONFIG');
  });

  it('shows the O flag in CLIENT LIST and a blocked command once', async () => {
    const mon = net.connect({ port: node.port, host: '127.0.0.1' });
    let got = '';
    mon.on('data', (d) => (got += d.toString('latin1')));
    await new Promise((r) => mon.once('connect', r));
    mon.write(encode(['MONITOR']));
    for (let i = 0; i < 200 && !got.includes('+OK\r\n'); i++) await sleep(5);
    const c = new Redis({ port: node.port });
    expect(String(await c.call('client', 'list'))).toMatch(/flags=O /);
    const b = new Redis({ port: node.port });
    const popped = b.blpop('mon:list', 5);
    for (let i = 0; i < 200 && !got.includes('"blpop"'); i++) await sleep(5);
    await c.rpush('mon:list', 'x');
    expect(await popped).toEqual(['mon:list', 'x']);
    for (let i = 0; i < 200 && !got.includes('"rpush"'); i++) await sleep(5);
    expect(got.match(/"blpop"/g)).toHaveLength(1);
    mon.destroy();
    c.disconnect();
    b.disconnect();
  });

  it('is refused inside MULTI like Redis', async () => {
    const r = await raw(node.port, [['MULTI'], ['MONITOR'], ['EXEC']]);
    expect(r).toBe(await raw(real.port, [['MULTI'], ['MONITOR'], ['EXEC']]));
  });
});

describe('SLOWLOG', () => {
  it('captures a DEBUG SLEEP with its arguments, duration, client address and name', async () => {
    const c = new Redis({ port: node.port, connectionName: 'sleeper' });
    expect(await c.call('slowlog', 'reset')).toBe('OK');
    expect(await c.call('debug', 'sleep', '0.03')).toBe('OK');
    const entries = (await c.call('slowlog', 'get')) as unknown[][];
    const e = entries.find((x) => (x[3] as string[])[0] === 'debug')!;
    expect(e).toBeDefined();
    expect(e).toHaveLength(6);
    expect(typeof e[0]).toBe('number');
    expect(Math.abs((e[1] as number) - Date.now() / 1000)).toBeLessThan(10);
    expect(e[2] as number).toBeGreaterThanOrEqual(30_000);
    expect(e[3]).toEqual(['debug', 'sleep', '0.03']);
    expect(e[4]).toBe(`127.0.0.1:${(c.stream as net.Socket).localPort}`);
    expect(e[5]).toBe('sleeper');
    expect(await c.call('slowlog', 'len')).toBeGreaterThanOrEqual(1);
    expect(await c.call('slowlog', 'get', '-1')).toHaveLength((await c.call('slowlog', 'len')) as number);
    expect(await c.call('slowlog', 'get', '0')).toEqual([]);
    expect(await c.call('slowlog', 'reset')).toBe('OK');
    expect(await c.call('slowlog', 'len')).toBe(0);
    c.disconnect();
  });

  it('logs everything at threshold 0, nothing at -1, and keeps slowlog-max-len entries newest first', async () => {
    const c = new Redis({ port: node.port });
    await c.call('config', 'set', 'slowlog-log-slower-than', '0', 'slowlog-max-len', '3');
    await c.call('slowlog', 'reset');
    await c.set('sl:1', 'a');
    await c.get('sl:1');
    await c.echo('x');
    await c.ping();
    const entries = (await c.call('slowlog', 'get')) as unknown[][];
    expect(entries).toHaveLength(3);
    expect(entries.map((e) => (e[3] as string[])[0])).toEqual(['ping', 'echo', 'get']);
    expect((entries[0][0] as number) > (entries[1][0] as number)).toBe(true);
    await c.call('config', 'set', 'slowlog-log-slower-than', '-1');
    await c.call('slowlog', 'reset');
    await c.call('debug', 'sleep', '0.02');
    expect(await c.call('slowlog', 'len')).toBe(0);
    await c.call('config', 'set', 'slowlog-log-slower-than', '10000', 'slowlog-max-len', '128');
    c.disconnect();
  });

  it('errors and HELP match redis-server', async () => {
    for (const cmd of [['SLOWLOG', 'GET', 'abc'], ['SLOWLOG', 'GET', '-2'], ['SLOWLOG', 'GET', '1', '2'], ['SLOWLOG', 'LEN', 'x'], ['SLOWLOG', 'NOPE'], ['SLOWLOG'], ['SLOWLOG', 'HELP']]) {
      expect(await raw(node.port, [cmd]), cmd.join(' ')).toBe(await raw(real.port, [cmd]));
    }
  });
});

describe('MEMORY', () => {
  it('USAGE grows with the value, is nil for a missing key, and accepts SAMPLES', async () => {
    await io.set('mu:small', 'x');
    await io.set('mu:big', 'x'.repeat(10_000));
    const small = (await io.call('memory', 'usage', 'mu:small')) as number;
    const big = (await io.call('memory', 'usage', 'mu:big')) as number;
    expect(small).toBeGreaterThan(0);
    expect(big).toBeGreaterThan(small + 9_000);
    expect(big).toBeLessThan(small + 12_000);
    expect(await io.call('memory', 'usage', 'mu:none')).toBeNull();
    await io.call('hset', 'mu:h', ...Array.from({ length: 200 }, (_, i) => [`f${i}`, 'v'.repeat(i < 100 ? 10 : 1000)]).flat());
    const h5 = (await io.call('memory', 'usage', 'mu:h')) as number;
    const hAll = (await io.call('memory', 'usage', 'mu:h', 'SAMPLES', '0')) as number;
    expect(hAll).toBeGreaterThan(h5);
    expect(hAll).toBeGreaterThan(100 * 1000);
    for (const cmd of [
      ['MEMORY', 'USAGE', 'mu:small', 'SAMPLES'],
      ['MEMORY', 'USAGE', 'mu:small', 'SAMPLES', '-1'],
      ['MEMORY', 'USAGE', 'mu:small', 'SAMPLES', 'x'],
      ['MEMORY', 'USAGE', 'mu:small', 'bogus'],
      ['MEMORY', 'USAGE'],
      ['MEMORY', 'USAGE', 'mu:none'],
      ['MEMORY', 'NOPE'],
    ]) {
      expect(await raw(node.port, [cmd]), cmd.join(' ')).toBe(await raw(real.port, [cmd]));
    }
  });

  it('STATS is a Redis-shaped map with integer and double values', async () => {
    const r = (await io.call('memory', 'stats')) as unknown[];
    const m = new Map<string, unknown>();
    for (let i = 0; i < r.length; i += 2) m.set(r[i] as string, r[i + 1]);
    const rc = new Redis({ port: real.port });
    const theirs = (await rc.call('memory', 'stats')) as unknown[];
    rc.disconnect();
    const theirKeys = theirs.filter((_, i) => i % 2 === 0).map(String).filter((k) => !k.startsWith('db.'));
    expect([...m.keys()].filter((k) => !k.startsWith('db.'))).toEqual(theirKeys);
    expect(m.get('keys.count')).toBeGreaterThan(0);
    expect(Array.isArray(m.get('db.0'))).toBe(true);
    expect((m.get('db.0') as unknown[])[0]).toBe('overhead.hashtable.main');
    expect(Number(m.get('dataset.percentage'))).toBeGreaterThan(0);
    // RESP3: ratios are doubles, counts integers.
    const r3 = await raw(node.port, [['HELLO', '3'], ['MEMORY', 'STATS']]);
    expect(r3).toMatch(/\$18\r\ndataset.percentage\r\n,[0-9.e+-]+\r\n/);
    expect(r3).toMatch(/\$14\r\npeak.allocated\r\n:\d+\r\n/);
  });

  it('DOCTOR, MALLOC-STATS, PURGE and HELP', async () => {
    expect(String(await io.call('memory', 'doctor'))).toMatch(/^Hi Sam, /);
    expect(String(await io.call('memory', 'malloc-stats')).length).toBeGreaterThan(100);
    expect(await io.call('memory', 'purge')).toBe('OK');
    expect(await raw(node.port, [['MEMORY', 'HELP']])).toBe(await raw(real.port, [['MEMORY', 'HELP']]));
    const r3 = await raw(node.port, [['HELLO', '3'], ['MEMORY', 'DOCTOR']]);
    expect(r3).toMatch(/=\d+\r\ntxt:Hi Sam, /);
  });
});

describe('LATENCY', () => {
  it('records "command" spikes above latency-monitor-threshold: LATEST, HISTORY, DOCTOR, RESET', async () => {
    const c = new Redis({ port: node.port });
    expect(await c.call('latency', 'reset')).toBeGreaterThanOrEqual(0);
    expect(String(await c.call('latency', 'doctor'))).toMatch(/^I'm sorry, Dave, I can't do that\. Latency monitoring is disabled/);
    await c.call('config', 'set', 'latency-monitor-threshold', '20');
    await c.call('debug', 'sleep', '0.03');
    const latest = (await c.call('latency', 'latest')) as unknown[][];
    const ev = latest.find((e) => e[0] === 'command')!;
    expect(ev).toBeDefined();
    expect(Math.abs((ev[1] as number) - Date.now() / 1000)).toBeLessThan(10);
    expect(ev[2] as number).toBeGreaterThanOrEqual(30);
    expect(ev[3] as number).toBeGreaterThanOrEqual(ev[2] as number);
    const hist = (await c.call('latency', 'history', 'command')) as number[][];
    expect(hist.length).toBeGreaterThanOrEqual(1);
    expect(hist[hist.length - 1][1]).toBeGreaterThanOrEqual(30);
    expect(await c.call('latency', 'history', 'nosuch')).toEqual([]);
    expect(String(await c.call('latency', 'doctor'))).toMatch(/^Dave, I have observed latency spikes.*\n\n1\. command: 1 latency spikes \(average \d+ms/s);
    expect(await c.call('latency', 'reset', 'nosuch', 'command')).toBe(1);
    expect(await c.call('latency', 'latest')).toEqual([]);
    expect(String(await c.call('latency', 'doctor'))).toMatch(/^Dave, no latency spike was observed/);
    await c.call('config', 'set', 'latency-monitor-threshold', '0');
    expect(await raw(node.port, [['LATENCY', 'HISTORY', 'x', 'y']])).toBe(await raw(real.port, [['LATENCY', 'HISTORY', 'x', 'y']]));
    c.disconnect();
  });
});

describe('DEBUG', () => {
  const data: string[][] = [
    ['SET', 'dg:s', 'bar'],
    ['SET', 'dg:n', '12345'],
    ['RPUSH', 'dg:l', 'a', 'b', 'c'],
    ['SADD', 'dg:set', 'x', 'y', '42'],
    ['HSET', 'dg:h', 'f', 'v', 'g', 'w'],
    ['ZADD', 'dg:z', '1', 'a', '2.5', 'b', '0.1', 'c', '-inf', 'd'],
    ['SET', 'dg:ttl', 'v', 'EX', '1000'],
  ];
  const keys = ['dg:s', 'dg:n', 'dg:l', 'dg:set', 'dg:h', 'dg:z', 'dg:ttl', 'dg:missing'];

  it('DIGEST-VALUE and DIGEST equal redis-server\'s for the same data', async () => {
    const db = ['SELECT', '9'];
    const script = [db, ['FLUSHDB'], ...data, ['DEBUG', 'DIGEST-VALUE', ...keys]];
    const ours = await raw(node.port, script);
    const theirs = await raw(real.port, script);
    expect(ours).toBe(theirs);
    expect(ours).toMatch(/\*8\r\n(\+[0-9a-f]{40}\r\n){8}$/);
    // Whole-dataset digest: only db 9 holds data on the real server; use a fresh node for ours.
    const fresh = await startNode();
    const d1 = await raw(fresh.port, [db, ...data, ['DEBUG', 'DIGEST']]);
    const d2 = await raw(real.port, [['FLUSHALL'], db, ...data, ['DEBUG', 'DIGEST']]);
    expect(d1.slice(d1.lastIndexOf('+'))).toBe(d2.slice(d2.lastIndexOf('+')));
    expect(await raw(fresh.port, [['FLUSHALL'], ['DEBUG', 'DIGEST']]).then((s) => s.slice(s.lastIndexOf('+')))).toBe(`+${'0'.repeat(40)}\r\n`);
    await fresh.stop();
  });

  it('OBJECT reports encoding, serialized length and idle time; missing keys error', async () => {
    await io.set('dobj:s', 'hello');
    await io.set('dobj:n', '123456');
    await io.set('dobj:raw', 'x'.repeat(100));
    expect(await io.call('debug', 'object', 'dobj:s')).toMatch(
      /^Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:6 lru:\d+ lru_seconds_idle:\d+$/,
    );
    expect(await io.call('debug', 'object', 'dobj:n')).toMatch(/ encoding:int /);
    expect(await io.call('debug', 'object', 'dobj:raw')).toMatch(/ encoding:raw /);
    await expect(io.call('debug', 'object', 'dobj:none')).rejects.toThrow('ERR no such key');
  });

  it('PROTOCOL replies each type like redis-server in RESP2 and RESP3', async () => {
    const types = ['string', 'integer', 'double', 'bignum', 'null', 'array', 'set', 'map', 'attrib', 'push', 'verbatim', 'true', 'false', 'nosuch'];
    const cmds = types.map((t) => ['DEBUG', 'PROTOCOL', t]);
    expect(await raw(node.port, cmds)).toBe(await raw(real.port, cmds));
    const ours3 = await raw(node.port, [['HELLO', '3'], ...cmds]);
    const theirs3 = await raw(real.port, [['HELLO', '3'], ...cmds]);
    const strip = (s: string) => s.slice(s.indexOf('$11\r\nHello World'));
    expect(strip(ours3)).toBe(strip(theirs3));
  });

  it('POPULATE, ERROR, LOG and argument errors match redis-server', async () => {
    const script = [
      ['SELECT', '8'],
      ['FLUSHDB'],
      ['DEBUG', 'POPULATE', '3'],
      ['DEBUG', 'POPULATE', '2', 'pp', '10'],
      ['DEBUG', 'POPULATE', '2', 'pp', '3'],
      ['MGET', 'key:0', 'key:2', 'key:3', 'pp:0', 'pp:1'],
      ['DEBUG', 'POPULATE', '-1'],
      ['DEBUG', 'POPULATE', 'abc'],
      ['DEBUG', 'ERROR', 'SOMECODE something went wrong'],
      ['DEBUG', 'LOG', 'hello from the test'],
      ['DEBUG', 'NOSUCH'],
      ['DEBUG', 'OBJECT'],
      ['DEBUG', 'SLEEP', '0'],
      ['DEBUG', 'SLEEP', 'abc'],
      ['DEBUG', 'DIGEST-VALUE'],
      ['DEBUG'],
    ];
    expect(await raw(node.port, script)).toBe(await raw(real.port, script));
  });

  it('SLEEP blocks the whole server; SET-ACTIVE-EXPIRE 0 stops background expiry', async () => {
    const other = new Redis({ port: node.port });
    await other.ping();
    const t0 = Date.now();
    const sleeping = io.call('debug', 'sleep', '0.2');
    await sleep(20);
    await other.ping();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    await sleeping;

    await other.select(7);
    expect(await other.call('debug', 'set-active-expire', '0')).toBe('OK');
    await other.set('ae:k', 'v', 'PX', 30);
    await sleep(300);
    // Still held (not reclaimed in the background): the keyspace count includes it.
    expect(await other.info('keyspace')).toMatch(/\r\ndb7:keys=1,/);
    expect(await other.call('debug', 'set-active-expire', '1')).toBe('OK');
    for (let i = 0; i < 100 && /\r\ndb7:/.test(await other.info('keyspace')); i++) await sleep(20);
    expect(await other.info('keyspace')).not.toMatch(/\r\ndb7:/);
    other.disconnect();
  });

  it('CHANGE-REPL-ID changes master_replid; HELP lists subcommands', async () => {
    const before = field(await io.info('replication'), 'master_replid');
    expect(await io.call('debug', 'change-repl-id')).toBe('OK');
    const after = field(await io.info('replication'), 'master_replid');
    expect(after).toMatch(/^[0-9a-f]{40}$/);
    expect(after).not.toBe(before);
    const help = (await io.call('debug', 'help')) as string[];
    expect(help[0]).toBe('DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    expect(help).toContain('DIGEST-VALUE <key> [<key> ...]');
  });

  it('is refused when enable-debug-command is no', async () => {
    const n = await startNode(['--enable-debug-command', 'no']);
    const r = await raw(n.port, [['DEBUG', 'SLEEP', '0']]);
    const realNo = await raw(real.port, [['CONFIG', 'GET', 'enable-debug-command']]);
    expect(realNo).toContain('yes');
    expect(r).toBe(
      '-ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n',
    );
    await n.stop();
  });
});

describe('SHUTDOWN', () => {
  it('validates its options like redis-server', async () => {
    // Never a bare SHUTDOWN here: the same script runs against the shared redis-server.
    const script = [['SHUTDOWN', 'foo'], ['SHUTDOWN', 'SAVE', 'NOSAVE'], ['SHUTDOWN', 'ABORT', 'NOW'], ['SHUTDOWN', 'ABORT'], ['MULTI'], ['SHUTDOWN', 'NOSAVE'], ['DISCARD']];
    expect(await raw(node.port, script)).toBe(await raw(real.port, script));
  });

  it('NOSAVE closes the listener and exits the process with status 0', async () => {
    const n = await startNode();
    const exit = new Promise<number | null>((r) => n.proc.once('exit', (code) => r(code)));
    const r = redisCli(n.port, ['shutdown', 'nosave']);
    expect(r.stdout).toBe('');
    expect(await exit).toBe(0);
    await expect(new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 }).connect()).rejects.toThrow();
  });
});

describe('clients that read server state at start', () => {
  it('redis-benchmark runs and reads CONFIG without warnings', () => {
    const r = spawnSync('redis-benchmark', ['-p', String(node.port), '-c', '4', '-n', '400', '-t', 'ping,set,get', '-q'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/WARNING|Could not fetch|error/i);
    expect(r.stdout).toMatch(/SET: .*requests per second/);
    expect(r.stdout).toMatch(/GET: .*requests per second/);
  }, 60_000);

  it('redis-cli --stat, INFO and CONFIG GET print like against redis-server', () => {
    const r = redisCli(node.port, ['config', 'get', 'save']);
    expect(r.stdout).toBe('save\n3600 1 300 100 60 10000');
    const info = redisCli(node.port, ['info', 'cluster']);
    expect(info.stdout.replace(/\r/g, '')).toBe('# Cluster\ncluster_enabled:0');
    const stat = spawnSync('stdbuf', ['-o0', 'redis-cli', '-p', String(node.port), '--stat', '-i', '0.1'], { encoding: 'utf8', timeout: 1500 });
    expect(stat.stdout).toMatch(/------- data ------/);
    expect(stat.stdout).toMatch(/keys\s+mem\s+clients/);
  });
});
