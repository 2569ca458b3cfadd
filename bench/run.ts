/**
 * `npm run bench`: redis-benchmark against a cluster-node and a redis-server 7 in the same run, at
 * pipeline 1 and 16 with 50 clients, printing each command's throughput ratio (ours / redis-server);
 * then 1M small keys loaded into each (redis-cli --pipe) and the RSS growth per key.
 *
 * Options (env): BENCH_N (requests per test at P=1, default 100000), BENCH_KEYS (default 1000000; 0 skips
 * the memory phase), BENCH_SKIP_THROUGHPUT=1 (memory phase only),
 * BENCH_TESTS (comma list), BENCH_ROUNDS (default 3), BENCH_OUT (write a JSON result file).
 *
 * Each test runs on its own, alternating between the two servers (ours first in odd rounds, redis-server
 * first in even ones), BENCH_ROUNDS times; the ratio printed is the median of the per-round ratios, so a
 * burst of load from elsewhere on the machine lands on one round of one pair instead of on every test
 * of one side.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitPort } from './lib';

const ROOT = path.resolve(__dirname, '../..');
const TESTS = (process.env.BENCH_TESTS ?? 'set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset').split(',');
const N = Number(process.env.BENCH_N ?? 100_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const SKIP_THROUGHPUT = process.env.BENCH_SKIP_THROUGHPUT === '1';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

interface Target {
  name: string;
  port: number;
  proc: ChildProcess;
}

async function startOurs(): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cn-'));
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/cluster-node.js'), '--port', String(port), '--bind', '127.0.0.1', '--dir', dir], {
    stdio: 'ignore',
  });
  await waitPort(port);
  return { name: 'cluster-node', port, proc };
}

async function startRedis(): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  await waitPort(port);
  return { name: 'redis-server', port, proc };
}

function cli(port: number, args: string[], input?: string | Buffer): string {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { input, encoding: 'utf8', maxBuffer: 1 << 30 });
  return r.stdout;
}

/** requests/s per test from redis-benchmark --csv. */
function benchmark(port: number, pipeline: number, n: number, tests: string[]): Map<string, { rps: number; p50: number; p99: number }> {
  const r = spawnSync(
    'redis-benchmark',
    ['-p', String(port), '-c', '50', '-n', String(n), '-P', String(pipeline), '-r', '100000', '-t', tests.join(','), '--csv'],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  const out = new Map<string, { rps: number; p50: number; p99: number }>();
  for (const line of r.stdout.split('\n')) {
    const cols = line.split('","').map((c) => c.replace(/"/g, ''));
    if (cols.length < 7 || cols[0] === 'test') continue;
    out.set(cols[0], { rps: Number(cols[1]), p50: Number(cols[4]), p99: Number(cols[6]) });
  }
  if (out.size === 0) throw new Error(`redis-benchmark produced no results: ${r.stderr}`);
  return out;
}

type Run = { rps: number; p50: number; p99: number };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function loadPayload(keys: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < keys; i++) {
    const k = `key:${String(i).padStart(10, '0')}`;
    const v = `v${i}`;
    parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
  }
  return Buffer.from(parts.join(''));
}

async function memoryPerKey(t: Target, payload: Buffer): Promise<{ before: number; after: number; perKey: number }> {
  await new Promise((r) => setTimeout(r, 1000));
  const before = rssBytes(t.proc.pid!);
  cli(t.port, ['--pipe'], payload);
  // Let the runtime settle (young-generation garbage from parsing is collected within this time).
  await new Promise((r) => setTimeout(r, 5000));
  const after = rssBytes(t.proc.pid!);
  const dbsize = Number(cli(t.port, ['dbsize']).trim());
  if (dbsize !== KEYS) throw new Error(`${t.name}: expected ${KEYS} keys, found ${dbsize}`);
  return { before, after, perKey: (after - before) / KEYS };
}

async function main(): Promise<void> {
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, node ${process.version}`;
  console.log(`date: ${new Date().toISOString()}\nmachine: ${machine}\nanchor: ${version}\n`);
  const ours = await startOurs();
  const redis = await startRedis();
  const results: Record<string, unknown> = { date: new Date().toISOString(), machine, anchor: version, throughput: {} as Record<string, unknown> };
  try {
    for (const pipeline of SKIP_THROUGHPUT ? [] : [1, 16]) {
      const n = pipeline === 1 ? N : N * 5;
      console.log(`pipeline ${pipeline}, 50 clients, ${n} requests per test, ${ROUNDS} rounds alternating (median ratio)`);
      console.log(
        'test'.padEnd(28) + 'cluster-node rps'.padStart(18) + 'redis-server rps'.padStart(18) + 'ratio'.padStart(8) + '  rounds'.padEnd(22) + 'p99 ours/redis (ms)',
      );
      const rows: Record<string, unknown> = {};
      for (const t of TESTS) {
        const rounds: { ours: Map<string, Run>; redis: Map<string, Run> }[] = [];
        for (let i = 0; i < ROUNDS; i++) {
          if (i % 2 === 0) {
            const o = benchmark(ours.port, pipeline, n, [t]);
            rounds.push({ ours: o, redis: benchmark(redis.port, pipeline, n, [t]) });
          } else {
            const r = benchmark(redis.port, pipeline, n, [t]);
            rounds.push({ ours: benchmark(ours.port, pipeline, n, [t]), redis: r });
          }
        }
        // One -t can yield several rows (lrange_100 also reports the LPUSH that fills the list).
        for (const test of rounds[0].redis.keys()) {
          const pairs = rounds.map((r) => ({ o: r.ours.get(test), r: r.redis.get(test) })).filter((p) => p.o && p.r) as { o: Run; r: Run }[];
          if (pairs.length === 0) continue;
          const ratios = pairs.map((p) => p.o.rps / p.r.rps);
          const ratio = median(ratios);
          const o = { rps: median(pairs.map((p) => p.o.rps)), p50: median(pairs.map((p) => p.o.p50)), p99: median(pairs.map((p) => p.o.p99)) };
          const r = { rps: median(pairs.map((p) => p.r.rps)), p50: median(pairs.map((p) => p.r.p50)), p99: median(pairs.map((p) => p.r.p99)) };
          rows[test] = { ours: o, redis: r, ratio, rounds: ratios };
          console.log(
            test.padEnd(28) +
              o.rps.toFixed(0).padStart(18) +
              r.rps.toFixed(0).padStart(18) +
              ratio.toFixed(2).padStart(8) +
              `  (${ratios.map((x) => x.toFixed(2)).join(' ')})`.padEnd(22) +
              `${o.p99}/${r.p99}`,
          );
        }
      }
      (results.throughput as Record<string, unknown>)[`P${pipeline}`] = rows;
      console.log('');
    }
    if (KEYS > 0) {
      // Fresh processes: a node that just ran the throughput phase still holds uncollected garbage,
      // which would make its "before" RSS meaningless.
      const payload = loadPayload(KEYS);
      const freshOurs = await startOurs();
      const freshRedis = await startRedis();
      let mo: { before: number; after: number; perKey: number };
      let mr: { before: number; after: number; perKey: number };
      try {
        mo = await memoryPerKey(freshOurs, payload);
        mr = await memoryPerKey(freshRedis, payload);
      } finally {
        freshOurs.proc.kill('SIGKILL');
        freshRedis.proc.kill('SIGKILL');
      }
      console.log(`memory: ${KEYS} keys "key:NNNNNNNNNN" -> "vN"`);
      console.log(`  cluster-node RSS ${(mo.before / 2 ** 20).toFixed(1)} -> ${(mo.after / 2 ** 20).toFixed(1)} MiB, ${mo.perKey.toFixed(1)} B/key`);
      console.log(`  redis-server RSS ${(mr.before / 2 ** 20).toFixed(1)} -> ${(mr.after / 2 ** 20).toFixed(1)} MiB, ${mr.perKey.toFixed(1)} B/key`);
      console.log(`  ratio ${(mo.perKey / mr.perKey).toFixed(2)}x`);
      results.memory = { keys: KEYS, ours: mo, redis: mr, ratio: mo.perKey / mr.perKey };
    }
  } finally {
    ours.proc.kill('SIGKILL');
    redis.proc.kill('SIGKILL');
  }
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify(results, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
