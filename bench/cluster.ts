/**
 * `npm run bench:cluster`: redis-benchmark --cluster against a 3-primary cluster of ours (brought up by
 * bin/start.js, the `npm start` script) and a 3-primary redis-server 7 cluster (redis-cli --cluster create)
 * in the same run, on free loopback ports, at pipeline 1 and 16 with 50 clients; prints each test's
 * throughput and the ratio ours / redis.
 *
 * Options (env): BENCH_N (requests per test at P=1, default 500000; P=16 runs 5x as many),
 * BENCH_TESTS (comma list, default set,get), BENCH_OUT=<file> (a .json file gets the results as JSON, as
 * in bench/run.ts; any other file, e.g. BENCHMARKS.md, gets a dated markdown section).
 * Flag: --md adds the dated markdown section to BENCHMARKS.md in the repo.
 * Markdown sections go above the existing dated sections (the file is newest first).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addSection, clusterPorts, exitOf, machineFacts, waitPort } from './lib';
import type { MachineFacts } from './lib';

const ROOT = path.resolve(__dirname, '../..');
const N = Number(process.env.BENCH_N ?? 500_000);
const TESTS = (process.env.BENCH_TESTS ?? 'set,get').split(',');
const PIPELINES = [1, 16];
const CLIENTS = 50;
const KEYSPACE = 100_000;

interface Side {
  name: string;
  port: number;
  stop(): Promise<void>;
}

interface Row {
  rps: number;
  p50: number;
  p99: number;
}

/** Ours: bin/start.js with explicit ports and a temporary data dir; resolves once it prints "Cluster ready". */
async function startOurs(ports: number[]): Promise<Side> {
  if (!existsSync(path.join(ROOT, 'dist/cluster-node/src/main.js'))) throw new Error('dist/ is missing: run npm run build');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-ours-'));
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/start.js')], {
    env: { ...process.env, CLUSTER_PORTS: ports.join(','), CLUSTER_REPLICAS: '0', CLUSTER_DATA_DIR: dir, CLUSTER_START_TIMEOUT: '60', CLUSTER_SERVER: 'cluster-node', GATEWAY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exitOf(proc);
    if (proc.exitCode !== 0) console.error(`warning: bin/start.js exited with ${proc.exitCode ?? proc.signalCode}:\n${out.split('\n').slice(-10).join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`our cluster was not ready within 90 s:\n${out}`)), 90_000);
    const check = () => {
      if (/^Cluster ready:/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bin/start.js exited (${code ?? signal}) before the cluster was ready:\n${out}`));
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  return { name: 'cluster-node', port: ports[0], stop };
}

function cli(port: number, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The anchor: 3 redis-server cluster nodes joined by redis-cli --cluster create. */
async function startRedis(ports: number[]): Promise<Side> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-redis-'));
  const procs = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map(exitOf));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((p) => waitPort(p)));
    const r = cli(ports[0], ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stdout}${r.stderr}`);
    const deadline = Date.now() + 30_000;
    while (!ports.every((p) => /cluster_state:ok/.test(cli(p, ['cluster', 'info']).stdout))) {
      if (Date.now() > deadline) throw new Error('redis-server cluster did not reach cluster_state:ok within 30 s');
      await new Promise((res) => setTimeout(res, 200));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: 'redis-server', port: ports[0], stop };
}

/** Throughput per test from redis-benchmark --cluster --csv (rows after the "test" header). */
function benchmark(port: number, pipeline: number, n: number): Map<string, Row> {
  const r = spawnSync(
    'redis-benchmark',
    ['--cluster', '-p', String(port), '-t', TESTS.join(','), '-n', String(n), '-r', String(KEYSPACE), '-c', String(CLIENTS), '-P', String(pipeline), '-q', '--csv'],
    { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 600_000 },
  );
  const out = new Map<string, Row>();
  for (const line of (r.stdout ?? '').split('\n')) {
    if (!line.startsWith('"')) continue; // "Cluster has 3 master nodes" preamble
    const cols = line.split('","').map((c) => c.replace(/"/g, ''));
    if (cols.length < 7 || cols[0] === 'test') continue;
    out.set(cols[0], { rps: Number(cols[1]), p50: Number(cols[4]), p99: Number(cols[6]) });
  }
  if (r.status !== 0 || out.size === 0) throw new Error(`redis-benchmark --cluster -p ${port} -P ${pipeline} failed (status ${r.status}): ${r.stderr}${r.stdout}`);
  return out;
}

type Results = Record<string, Record<string, { ours: Row; redis: Row; ratio: number }>>;

function markdownSection(date: Date, facts: MachineFacts, results: Results): string {
  const lines = [
    `## ${date.toISOString().slice(0, 10)} — cluster mode, 3 primaries per side (\`npm run bench:cluster\`)`,
    '',
    `- Machine: nproc ${facts.nproc}, CPU ${facts.cpu}, ${facts.memory}, ${facts.os}; Node ${facts.node}. Anchor: ${facts.redis}. Load average at start: ${facts.load}.`,
    `- ours: 3 cluster-node primaries from \`bin/start.js\`; redis: 3 redis-server primaries from \`redis-cli --cluster create\`. ` +
      `All 6 nodes and the client share the machine (only one side is driven at a time).`,
    `- \`redis-benchmark --cluster -t ${TESTS.join(',')} -r ${KEYSPACE} -c ${CLIENTS} -q --csv\`, ` +
      `-n ${N} at pipeline 1, ${N * 5} at pipeline 16.`,
    '',
    '| pipeline | test | cluster-node rps | redis-server rps | ratio | p50 ours / redis (ms) | p99 ours / redis (ms) |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const [p, rows] of Object.entries(results)) {
    for (const [test, r] of Object.entries(rows)) {
      lines.push(`| ${p} | ${test} | ${r.ours.rps.toFixed(0)} | ${r.redis.rps.toFixed(0)} | ${r.ratio.toFixed(2)} | ${r.ours.p50} / ${r.redis.p50} | ${r.ours.p99} / ${r.redis.p99} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (a !== '--md') throw new Error(`unknown argument ${a} (only --md)`);
  const date = new Date();
  const facts = machineFacts();
  console.log(
    `date: ${date.toISOString()}\nmachine: nproc ${facts.nproc}, ${facts.cpu}, ${facts.memory}, ${facts.os}, node ${facts.node}, load ${facts.load}\nanchor: ${facts.redis}\n`,
  );
  const oursPorts = await clusterPorts(3);
  const redisPorts = await clusterPorts(3, oursPorts);
  const sides: Side[] = [];
  const stopAll = () => Promise.all(sides.map((s) => s.stop()));
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  const results: Results = {};
  try {
    console.log(`starting our cluster on ${oursPorts.join(', ')} and redis-server's on ${redisPorts.join(', ')}...`);
    const ours = await startOurs(oursPorts);
    sides.push(ours);
    const redis = await startRedis(redisPorts);
    sides.push(redis);
    for (const pipeline of PIPELINES) {
      const n = pipeline === 1 ? N : N * 5;
      const a = benchmark(ours.port, pipeline, n);
      const b = benchmark(redis.port, pipeline, n);
      console.log(`\npipeline ${pipeline}, ${CLIENTS} clients, ${n} requests per test, 3 primaries each`);
      console.log('test'.padEnd(10) + 'cluster-node rps'.padStart(18) + 'redis-server rps'.padStart(18) + 'ratio'.padStart(8) + '  p50 ours/redis'.padEnd(20) + '  p99 ours/redis (ms)');
      const rows: Results[string] = {};
      for (const [test, r] of b) {
        const o = a.get(test);
        if (!o) continue;
        const ratio = o.rps / r.rps;
        rows[test] = { ours: o, redis: r, ratio };
        console.log(
          test.padEnd(10) + o.rps.toFixed(0).padStart(18) + r.rps.toFixed(0).padStart(18) + ratio.toFixed(2).padStart(8) + `  ${o.p50}/${r.p50}`.padEnd(20) + `  ${o.p99}/${r.p99}`,
        );
      }
      results[`P${pipeline}`] = rows;
    }
  } finally {
    await stopAll();
  }
  const out = process.env.BENCH_OUT;
  const json = { date: date.toISOString(), machine: facts, n: N, clients: CLIENTS, keyspace: KEYSPACE, primaries: 3, throughput: results };
  if (out && out.endsWith('.json')) writeFileSync(out, JSON.stringify(json, null, 2));
  const mdFiles = [...(out && !out.endsWith('.json') ? [path.resolve(out)] : []), ...(args.includes('--md') ? [path.join(ROOT, 'BENCHMARKS.md')] : [])];
  for (const f of new Set(mdFiles)) {
    addSection(f, markdownSection(date, facts, results));
    console.log(`\nadded a section to ${f}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
