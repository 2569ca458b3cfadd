/**
 * `npm run bench:gateway`: the gateway's REST throughput and latency side by side with webdis (Debian
 * package) in front of one redis-server 7, the gateway's overhead over a direct ioredis Cluster call, and
 * WebSocket pub/sub fan-out to many sockets. Everything runs on free loopback ports and is stopped at the end.
 *
 * - webdis side: redis-server (`--save '' --appendonly no`) + webdis with a generated config (threads,
 *   pool size and an HTTP Basic auth ACL, see WEBDIS_* below); URLs `/SET/k/v`, `/GET/k`.
 * - gateway side: a 3-primary cluster of ours (bin/start.js, no replicas unless BENCH_REPLICAS=1) + one
 *   gateway process (bin/cluster-gateway.js, Bearer token); URLs `/set/k/v`, `/get/k`.
 * - Load: wrk, one thread, 50 keep-alive connections, GET and SET cycling over a fixed key set spread over
 *   all three shards, after a warm-up; SET runs first so that GET finds every key.
 * - Overhead: the same workload with ioredis Cluster straight to the cluster, 50 commands in flight (and 1),
 *   against the gateway at 50 (and 1) keep-alive connections driven from the same process (runHttpOn);
 *   overhead = gateway latency - direct latency. The anchor is measured the same way in the same rounds:
 *   ioredis straight to webdis's redis-server against HTTP through webdis (and, with BENCH_FLOOR=1, a bare
 *   Node proxy against the gateway's direct side). Each round interleaves the sides in short slices
 *   (BENCH_SLICES) pooled per side, so that a few bad seconds on the shared VM fall on all of them. wrk
 *   through the gateway is reported alongside. At 50 the runs go twice: at full speed (each side at its
 *   own saturation, queueing included) and paced at BENCH_PACED_RATE req/s on every side (the same load,
 *   below saturation; sends spread evenly, see Pacer in gateway-load.ts).
 * - WebSocket: see bench/gateway-ws.ts.
 * The load generator shares the machine's cores with the servers on both sides.
 *
 * Options (env): BENCH_SECONDS (per run, default 10), BENCH_WARMUP (s, default 3), BENCH_KEYS (default 1000),
 * BENCH_ROUNDS (default 3: the sides alternate, medians reported, so drifting load on a shared machine
 * hits all of them), BENCH_SLICES (overhead: slices per side and round, default 5),
 * BENCH_PARTS (comma list of rest,overhead,ws; default all), BENCH_REPLICAS (replicas per primary, default 0), BENCH_PRIMARIES (default 3; 1 = one data server, like webdis in front of one redis-server),
 * WEBDIS_THREADS (default 2), WEBDIS_POOL (redis connections per webdis thread, default 10),
 * GATEWAY_WORKERS (the gateway's --workers, default 1), BENCH_PACED_RATE (req/s of the paced overhead runs, default 10000),
 * GATEWAY_CPU_PROF=<dir> (run the gateway under `node --cpu-prof` and leave the profile there),
 * GATEWAY_BIN=<path> (another gateway entry point, e.g. a patched copy, for A/B runs),
 * BENCH_FLOOR=1 (overhead rows: also bench/floor-proxy.ts, a bare Node HTTP-to-RESP proxy, in front of the
 * gateway's node; needs BENCH_PRIMARIES=1),
 * BENCH_WS_CLIENTS / BENCH_WS_RATES / BENCH_WS_SECONDS (see gateway-ws.ts), BENCH_OUT=<file.json>.
 * Flag: --md adds a dated section to BENCHMARKS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { keyHashSlot } from '../common/src/slot';
import { addSection, clusterPorts, exitOf, freePort, machineFacts, waitPort, type MachineFacts } from './lib';
import { CpuMeter, Histogram, HttpConns, childPids, runHttpOn, runIoredis, runWrk, type LoadResult } from './gateway-load';
import { runWsBench, wsAvailable, type WsResult } from './gateway-ws';

const ROOT = path.resolve(__dirname, '../..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const KEYS = Number(process.env.BENCH_KEYS ?? 1000);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'rest,overhead,ws').split(','));
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 0);
const PRIMARIES = Math.max(1, Number(process.env.BENCH_PRIMARIES ?? 3));
const WEBDIS_THREADS = Number(process.env.WEBDIS_THREADS ?? 2);
const WEBDIS_POOL = Number(process.env.WEBDIS_POOL ?? 10);
const CPU_PROF = process.env.GATEWAY_CPU_PROF;
/** Overhead rows: also measure bench/floor-proxy.ts, a bare Node proxy, in front of the gateway's node. */
const FLOOR = process.env.BENCH_FLOOR === '1';
/**
 * Gateway worker processes (`--workers`); default 1, the gateway's own default. On this 2-core machine,
 * where wrk and the data server share the cores, 2 workers cost more CPU per request (each batches
 * half the upstream traffic, and 4 busy processes share 2 cores) and served fewer requests than 1
 * (BENCHMARKS.md, session 16).
 */
const GATEWAY_WORKERS = process.env.GATEWAY_WORKERS ?? '1';
/** Another gateway entry point (a patched build elsewhere) for A/B runs; default this checkout's. */
const GATEWAY_BIN = process.env.GATEWAY_BIN ?? path.join(ROOT, 'bin/cluster-gateway.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Overhead rounds: each side's BENCH_SECONDS split into this many slices, the two sides' interleaved. */
const SLICES = Math.max(1, Number(process.env.BENCH_SLICES ?? 5));
const CONNECTIONS = 50;
/** Offered load (req/s) of the paced overhead runs at CONNECTIONS connections: well under both sides' saturation on 2 cores. */
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 10_000);
const TOKEN = 'bench-gateway-token';
const WEBDIS_USER = 'bench:bench-webdis-password';

/** The fixed key set: `gwbench:<i>` -> a 32-byte value; URL-safe (no '.', which webdis reads as an extension). */
const keys = Array.from({ length: KEYS }, (_, i) => `gwbench:${i}`);
const value = (i: number) => `value-${String(i).padStart(6, '0')}-`.padEnd(32, 'x');

interface Proc {
  proc: ChildProcess;
  out: () => string;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const proc = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  return { proc, out: () => out };
}

async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill(signal);
  const killer = setTimeout(() => p.proc.kill('SIGKILL'), 15_000);
  await exitOf(p.proc);
  clearTimeout(killer);
}

/** Resolves once the process printed a line matching `ready`; rejects if it exits first or after `ms`. */
function waitOutput(p: Proc, ready: RegExp, what: string, ms = 90_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${ms} ms:\n${p.out()}`)), ms);
    const check = () => {
      if (ready.test(p.out())) {
        clearTimeout(timer);
        p.proc.stdout!.off('data', check);
        resolve();
      }
    };
    p.proc.stdout!.on('data', check);
    p.proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${p.out()}`));
    });
    check();
  });
}

interface WebdisSide {
  redis: Proc;
  webdis: Proc;
  httpPort: number;
  config: Record<string, unknown>;
  dir: string;
}

async function startWebdis(): Promise<WebdisSide> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-gw-webdis-'));
  const redisPort = await freePort();
  const httpPort = await freePort();
  const redis = start('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  await waitPort(redisPort);
  const config = {
    redis_host: '127.0.0.1',
    redis_port: redisPort,
    redis_auth: null,
    http_host: '127.0.0.1',
    http_port: httpPort,
    threads: WEBDIS_THREADS,
    pool_size: WEBDIS_POOL,
    daemonize: false,
    database: 0,
    // Every command needs credentials, as every gateway request needs its token.
    acl: [{ disabled: ['*'] }, { http_basic_auth: WEBDIS_USER, enabled: ['*'] }],
    verbosity: 1,
    logfile: path.join(dir, 'webdis.log'),
  };
  const file = path.join(dir, 'webdis.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const webdis = start('/usr/bin/webdis', [file]);
  await waitPort(httpPort);
  return { redis, webdis, httpPort, config, dir };
}

interface GatewaySide {
  cluster: Proc;
  gateway: Proc;
  ports: number[];
  httpPort: number;
  dir: string;
}

async function startGatewaySide(): Promise<GatewaySide> {
  if (!existsSync(path.join(ROOT, 'dist/gateway/src/main.js'))) throw new Error('dist/ is missing: run npm run build');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-gw-cluster-'));
  const ports = await clusterPorts(PRIMARIES * (1 + REPLICAS));
  const cluster = start(process.execPath, [path.join(ROOT, 'bin/start.js')], {
    ...process.env,
    CLUSTER_PORTS: ports.join(','),
    CLUSTER_PRIMARIES: String(PRIMARIES),
    CLUSTER_REPLICAS: String(REPLICAS),
    CLUSTER_DATA_DIR: dir,
    CLUSTER_START_TIMEOUT: '60',
    CLUSTER_SERVER: 'cluster-node',
    GATEWAY_PORT: '0', // bin/start.js's own gateway: off, the bench starts its own
  });
  try {
    await waitOutput(cluster, /^Cluster ready:/m, 'our cluster (bin/start.js)');
  } catch (e) {
    await stop(cluster);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const httpPort = await freePort();
  const nodeArgs: string[] = [];
  if (CPU_PROF) {
    mkdirSync(CPU_PROF, { recursive: true });
    nodeArgs.push('--cpu-prof', '--cpu-prof-dir', path.resolve(CPU_PROF));
  }
  const gateway = start(process.execPath, [...nodeArgs, GATEWAY_BIN, '--port', String(httpPort), '--seeds', `127.0.0.1:${ports[0]}`, '--token', TOKEN, '--workers', GATEWAY_WORKERS]);
  try {
    await waitOutput(gateway, /cluster-gateway listening/, 'the gateway', 30_000);
  } catch (e) {
    await stop(gateway);
    await stop(cluster);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { cluster, gateway, ports, httpPort, dir };
}

type Op = 'set' | 'get';

const webdisPaths = (op: Op) => keys.map((k, i) => (op === 'set' ? `/SET/${k}/${value(i)}` : `/GET/${k}`));
const gatewayPaths = (op: Op) => keys.map((k, i) => (op === 'set' ? `/set/${k}/${value(i)}` : `/get/${k}`));
const webdisHeaders = { Authorization: `Basic ${Buffer.from(WEBDIS_USER).toString('base64')}` };
const gatewayHeaders = { Authorization: `Bearer ${TOKEN}` };

/** One request of each kind through both front ends, checking the answers look right before timing anything. */
async function sanityCheck(webdisPort: number, gatewayPort: number): Promise<void> {
  const get = async (url: string, headers: Record<string, string>) => {
    const r = await fetch(url, { headers });
    return { status: r.status, body: await r.text() };
  };
  const checks: Array<[string, Record<string, string>, number, RegExp]> = [
    [`http://127.0.0.1:${webdisPort}/SET/${keys[0]}/${value(0)}`, webdisHeaders, 200, /"OK"/],
    [`http://127.0.0.1:${webdisPort}/GET/${keys[0]}`, webdisHeaders, 200, new RegExp(value(0))],
    [`http://127.0.0.1:${webdisPort}/GET/${keys[0]}`, {}, 403, /^/],
    [`http://127.0.0.1:${gatewayPort}/set/${keys[0]}/${value(0)}`, gatewayHeaders, 200, /"OK"/],
    [`http://127.0.0.1:${gatewayPort}/get/${keys[0]}`, gatewayHeaders, 200, new RegExp(value(0))],
    [`http://127.0.0.1:${gatewayPort}/get/${keys[0]}`, {}, 401, /./],
  ];
  for (const [url, headers, status, body] of checks) {
    const r = await get(url, headers);
    if (r.status !== status || !body.test(r.body)) throw new Error(`sanity check failed: GET ${url} -> ${r.status} ${r.body}`);
  }
}

function shardSpread(ports: number[]): string {
  // bin/start.js gives the primaries, in port order, the even slot ranges redis-cli picks
  // (3 primaries: 0-5460, 5461-10922, 10923-16383).
  const firstSlots: number[] = [];
  for (let i = 0; i < PRIMARIES; i++) firstSlots.push(Math.round((i * 16384) / PRIMARIES));
  const counts = new Array<number>(PRIMARIES).fill(0);
  for (const k of keys) {
    const slot = keyHashSlot(k);
    let owner = 0;
    while (owner + 1 < PRIMARIES && slot >= firstSlots[owner + 1]!) owner++;
    counts[owner]!++;
  }
  return counts.map((c, i) => `${c} on :${ports[i]}`).join(', ');
}

interface RestRow {
  op: Op;
  webdis: LoadResult;
  gateway: LoadResult;
  webdisCpu: number;
  gatewayCpu: number;
  nodesCpu: number;
  /** CPU time per request in µs (median over rounds): a cost that other load on the machine moves less than throughput. */
  webdisUs: number;
  gatewayUs: number;
  nodesUs: number;
  /** Median of the per-round ratios gateway / webdis (each round runs both sides back to back). */
  ratio: number;
  ratios: number[];
}

interface OverheadRow {
  op: Op;
  inFlight: number;
  /** Paced at this offered load (req/s) on both sides; 0 = closed loop at full speed. */
  rate: number;
  direct: LoadResult;
  /** Through the gateway from the bench process (runHttpOn): the overhead is measured against this. */
  gateway: LoadResult;
  /** Per round: the gateway's p99 minus the direct one's. */
  gatewayP99Rounds: number[];
  /** The anchor in the same rounds: ioredis straight to webdis's redis-server, and through webdis; null without webdis. */
  anchor: { direct: LoadResult; webdis: LoadResult; webdisP99Rounds: number[] } | null;
  /** bench/floor-proxy.ts in front of the gateway's node (BENCH_FLOOR=1), against the same direct side; null without it. */
  floor: { proxy: LoadResult; p99Rounds: number[] } | null;
  /** Through the gateway with wrk (another process, its own wake-up tail), for comparison; null when paced (wrk cannot pace). */
  gatewayWrk: LoadResult | null;
}

const ms = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Rounds of one side combined: the median of each figure, errors summed. */
function combine(rs: LoadResult[]): LoadResult {
  const med = (f: (r: LoadResult) => number) => median(rs.map(f));
  return {
    requests: rs.reduce((a, r) => a + r.requests, 0),
    seconds: rs.reduce((a, r) => a + r.seconds, 0),
    rps: med((r) => r.rps),
    p50: med((r) => r.p50),
    p90: med((r) => r.p90),
    p99: med((r) => r.p99),
    p999: med((r) => r.p999),
    max: Math.max(...rs.map((r) => r.max)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
  };
}

function printLoad(label: string, r: LoadResult, cpu?: string): void {
  console.log(
    `  ${label.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${ms(r.p50).padStart(6)} ms  p99 ${ms(r.p99).padStart(6)} ms  max ${ms(r.max).padStart(6)} ms  errors ${r.errors} (non-2xx ${r.non2xx})${cpu ? `  ${cpu}` : ''}`,
  );
}

async function restPart(w: WebdisSide, g: GatewaySide): Promise<RestRow[]> {
  const webdisCpu = new CpuMeter(() => [w.webdis.proc.pid!, w.redis.proc.pid!]);
  // bin/start.js's children are the nodes; the gateway is a separate process.
  const nodes = childPids(g.cluster.proc.pid!);
  // The gateway process and its workers (--workers N > 1).
  const gwCpu = new CpuMeter(() => [g.gateway.proc.pid!, ...childPids(g.gateway.proc.pid!)]);
  const nodesCpu = new CpuMeter(() => nodes);
  const rows: RestRow[] = [];
  for (const op of ['set', 'get'] as const) {
    const webdisRun = { url: `http://127.0.0.1:${w.httpPort}`, paths: webdisPaths(op), headers: webdisHeaders, connections: CONNECTIONS };
    const gatewayRun = { url: `http://127.0.0.1:${g.httpPort}`, paths: gatewayPaths(op), headers: gatewayHeaders, connections: CONNECTIONS };
    console.log(`\n${op.toUpperCase()}: wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds of webdis then gateway, ${SECONDS} s each after a ${WARMUP} s warm-up`);
    const a: LoadResult[] = [];
    const b: LoadResult[] = [];
    const cpu = { webdis: [] as number[], gateway: [] as number[], nodes: [] as number[] };
    const ratios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await runWrk({ ...webdisRun, seconds: WARMUP });
      webdisCpu.start();
      const ra = await runWrk({ ...webdisRun, seconds: SECONDS });
      cpu.webdis.push(webdisCpu.percent());
      printLoad(`${round}: webdis + redis-server`, ra, `cpu webdis+redis ${cpu.webdis.at(-1)!.toFixed(0)}%`);
      await runWrk({ ...gatewayRun, seconds: WARMUP });
      gwCpu.start();
      nodesCpu.start();
      const rb = await runWrk({ ...gatewayRun, seconds: SECONDS });
      cpu.gateway.push(gwCpu.percent());
      cpu.nodes.push(nodesCpu.percent());
      printLoad(`${round}: gateway + ${PRIMARIES} cluster-node${PRIMARIES === 1 ? '' : 's'}`, rb, `cpu gateway ${cpu.gateway.at(-1)!.toFixed(0)}%, nodes ${cpu.nodes.at(-1)!.toFixed(0)}%, load ${os.loadavg()[0]!.toFixed(1)}`);
      a.push(ra);
      b.push(rb);
      ratios.push(rb.rps / ra.rps);
    }
    const us = (pct: number[], rs: LoadResult[]) => median(pct.map((p, i) => (p / 100 / rs[i]!.rps) * 1e6));
    const row: RestRow = {
      op,
      webdis: combine(a),
      gateway: combine(b),
      webdisCpu: median(cpu.webdis),
      gatewayCpu: median(cpu.gateway),
      nodesCpu: median(cpu.nodes),
      webdisUs: us(cpu.webdis, a),
      gatewayUs: us(cpu.gateway, b),
      nodesUs: us(cpu.nodes, b),
      ratio: median(ratios),
      ratios,
    };
    console.log(`  median: webdis ${row.webdis.rps.toFixed(0)} req/s, gateway ${row.gateway.rps.toFixed(0)} req/s; ratio gateway / webdis ${row.ratio.toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
    console.log(`  CPU per request: webdis+redis ${row.webdisUs.toFixed(1)} µs; gateway ${row.gatewayUs.toFixed(1)} µs + nodes ${row.nodesUs.toFixed(1)} µs`);
    rows.push(row);
  }
  return rows;
}

/**
 * One round of one overhead row: `sides` (warmed up first when `warmup`), then SLICES short runs of each
 * in turn, each side's pooled into one histogram, so that whatever else the machine does in those seconds
 * falls on every side alike. The HTTP connections stay open across the slices.
 */
async function interleaved(sides: Array<(h: Histogram, s: number) => Promise<LoadResult>>, warmup: boolean): Promise<LoadResult[]> {
  if (warmup) for (const side of sides) await side(new Histogram(), WARMUP);
  const hs = sides.map(() => new Histogram());
  const rs: LoadResult[][] = sides.map(() => []);
  for (let i = 0; i < SLICES; i++) {
    for (const [j, side] of sides.entries()) rs[j]!.push(await side(hs[j]!, SECONDS / SLICES));
  }
  return rs.map(pooled);
}

/** Slices of one side as one run: counts summed, latency figures from the last (the pooled histogram's). */
function pooled(rs: LoadResult[]): LoadResult {
  const last = rs.at(-1)!;
  const requests = rs.reduce((a, r) => a + r.requests, 0);
  const seconds = rs.reduce((a, r) => a + r.seconds, 0);
  return { ...last, requests, seconds, rps: requests / seconds, errors: rs.reduce((a, r) => a + r.errors, 0), non2xx: rs.reduce((a, r) => a + r.non2xx, 0) };
}

async function connected<T extends Cluster | Redis>(client: T): Promise<T> {
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** A side of the overhead rows: one way of issuing the row's commands from the bench process. */
interface Side {
  name: string;
  run: (h: Histogram, seconds: number) => Promise<LoadResult>;
}

/**
 * The gateway's overhead over ioredis Cluster straight to its node, and, when webdis runs (`w`), webdis's
 * overhead over ioredis straight to its redis-server at the same loads in the same rounds: the anchor's
 * figure for what an HTTP front end costs on this machine. With BENCH_FLOOR=1, also the overhead of
 * bench/floor-proxy.ts in front of the gateway's node: the least a Node proxy costs here.
 */
async function overheadPart(g: GatewaySide, w: WebdisSide | null): Promise<OverheadRow[]> {
  const cluster = await connected(new Cluster([{ host: '127.0.0.1', port: g.ports[0]! }], { enableReadyCheck: true, scaleReads: 'master' }));
  const redis = w ? await connected(new Redis({ host: '127.0.0.1', port: Number(w.config.redis_port) })) : null;
  let floor: { proc: Proc; port: number } | null = null;
  const rows: OverheadRow[] = [];
  try {
    if (FLOOR) {
      if (PRIMARIES !== 1) throw new Error('BENCH_FLOOR=1 needs BENCH_PRIMARIES=1 (the floor proxy talks to one node)');
      const port = await freePort();
      floor = { proc: start(process.execPath, [path.join(ROOT, 'dist/bench/floor-proxy.js'), String(port), String(g.ports[0])]), port };
      await waitOutput(floor.proc, /floor-proxy listening/, 'the floor proxy', 10_000);
    }
    if (redis) {
      // GET finds every key on the webdis side too, whatever ran before.
      const p = redis.pipeline();
      keys.forEach((k, i) => p.set(k, value(i)));
      await p.exec();
    }
    for (const op of ['set', 'get'] as const) {
      const run = <C extends Cluster | Redis>(c: C, i: number) => {
        const k = i % KEYS;
        return op === 'set' ? c.set(keys[k]!, value(k)) : c.get(keys[k]!);
      };
      for (const [inFlight, rate] of [[CONNECTIONS, 0], [CONNECTIONS, PACED_RATE], [1, 0]] as const) {
        const how = rate > 0 ? `${inFlight} connections paced at ${rate} req/s` : `${inFlight} in flight`;
        const gatewayRun = { url: `http://127.0.0.1:${g.httpPort}`, paths: gatewayPaths(op), headers: gatewayHeaders, connections: inFlight };
        const open: HttpConns[] = [];
        const http = (port: number, paths: string[], headers: Record<string, string>): Side['run'] => {
          const conns = new HttpConns(port, inFlight);
          open.push(conns);
          return (h, s) => runHttpOn(conns, { paths, headers, connections: inFlight, rate, seconds: s, hist: h });
        };
        const sides: Side[] = [
          { name: 'ioredis Cluster -> node', run: (h, s) => runIoredis(cluster, run, inFlight, s, rate, h) },
          { name: 'gateway', run: http(g.httpPort, gatewayPaths(op), gatewayHeaders) },
        ];
        if (redis && w) {
          sides.push(
            { name: 'ioredis -> redis-server', run: (h, s) => runIoredis(redis, run, inFlight, s, rate, h) },
            { name: 'webdis', run: http(w.httpPort, webdisPaths(op), webdisHeaders) },
          );
        }
        if (floor) sides.push({ name: 'floor proxy', run: http(floor.port, gatewayPaths(op), {}) });
        console.log(
          `\n${op.toUpperCase()} overhead, ${how}: ${sides.map((x) => x.name).join(', ')}, all from the bench process; ${ROUNDS} rounds of ${SLICES} interleaved slices of ${SECONDS / SLICES} s per side${rate > 0 ? '' : ' (and wrk through the gateway)'}`,
        );
        const rounds: LoadResult[][] = [];
        const wrk: LoadResult[] = [];
        try {
          for (const c of open) await c.ready;
          for (let round = 1; round <= ROUNDS; round++) {
            const rs = await interleaved(sides.map((x) => x.run), round === 1);
            rounds.push(rs);
            rs.forEach((r, j) => printLoad(`${round}: ${sides[j]!.name}`, r, j === 1 ? `load ${os.loadavg()[0]!.toFixed(1)}` : undefined));
            const over = [`gateway ${ms(rs[1]!.p99 - rs[0]!.p99)} ms`];
            if (w) over.push(`webdis ${ms(rs[3]!.p99 - rs[2]!.p99)} ms`);
            if (floor) over.push(`floor proxy ${ms(rs.at(-1)!.p99 - rs[0]!.p99)} ms`);
            console.log(`  ${round}: p99 overhead: ${over.join(', ')}`);
            if (rate > 0) continue;
            await runWrk({ ...gatewayRun, seconds: WARMUP });
            wrk.push(await runWrk({ ...gatewayRun, seconds: SECONDS }));
            printLoad(`${round}: gateway (wrk)`, wrk.at(-1)!, `load ${os.loadavg()[0]!.toFixed(1)}`);
          }
        } finally {
          for (const c of open) c.close();
        }
        const side = (j: number) => combine(rounds.map((rs) => rs[j]!));
        const p99s = (j: number, k: number) => rounds.map((rs) => rs[j]!.p99 - rs[k]!.p99);
        const last = sides.length - 1;
        const row: OverheadRow = {
          op,
          inFlight,
          rate,
          direct: side(0),
          gateway: side(1),
          gatewayP99Rounds: p99s(1, 0),
          anchor: w ? { direct: side(2), webdis: side(3), webdisP99Rounds: p99s(3, 2) } : null,
          floor: floor ? { proxy: side(last), p99Rounds: p99s(last, 0) } : null,
          gatewayWrk: wrk.length ? combine(wrk) : null,
        };
        const a = row.anchor;
        const f = row.floor;
        console.log(
          `  median overhead: gateway p50 ${ms(row.gateway.p50 - row.direct.p50)} ms, p99 ${ms(row.gateway.p99 - row.direct.p99)} ms (rounds: ${row.gatewayP99Rounds.map(ms).join(', ')})` +
            (a ? `; webdis p50 ${ms(a.webdis.p50 - a.direct.p50)} ms, p99 ${ms(a.webdis.p99 - a.direct.p99)} ms (rounds: ${a.webdisP99Rounds.map(ms).join(', ')})` : '') +
            (f ? `; floor proxy p50 ${ms(f.proxy.p50 - row.direct.p50)} ms, p99 ${ms(f.proxy.p99 - row.direct.p99)} ms (rounds: ${f.p99Rounds.map(ms).join(', ')})` : '') +
            (row.gatewayWrk ? ` (wrk through the gateway: p50 ${ms(row.gatewayWrk.p50)} ms, p99 ${ms(row.gatewayWrk.p99)} ms)` : ''),
        );
        rows.push(row);
      }
    }
  } finally {
    cluster.disconnect();
    redis?.disconnect();
    if (floor) await stop(floor.proc);
  }
  return rows;
}

function webdisVersion(): string {
  return spawnSync('dpkg-query', ['-W', '-f=${Version}', 'webdis'], { encoding: 'utf8' }).stdout?.trim() || 'unknown version';
}

function markdown(date: Date, facts: MachineFacts, loadAfter: string, rest: RestRow[], over: OverheadRow[], ws: WsResult | string | null): string {
  const L: string[] = [
    `## ${date.toISOString().slice(0, 10)} — gateway REST vs webdis, gateway overhead, WebSocket fan-out (\`npm run bench:gateway\`)`,
    '',
    `- Machine: nproc ${facts.nproc}, CPU ${facts.cpu}, ${facts.memory}, ${facts.os}; Node ${facts.node}. ${facts.redis}. Load average at start: ${facts.load}; at the end: ${loadAfter}.`,
    `- webdis side: Debian webdis ${webdisVersion()} (threads ${WEBDIS_THREADS}, pool_size ${WEBDIS_POOL} redis connections per thread, HTTP Basic auth ACL, verbosity 1) in front of one redis-server (\`--save '' --appendonly no\`).`,
    `- gateway side: one gateway process (\`${path.relative(ROOT, GATEWAY_BIN)} --token\`, Bearer auth) in front of ${PRIMARIES} cluster-node primar${PRIMARIES === 1 ? 'y' : 'ies'} from \`bin/start.js\` (${REPLICAS ? `${REPLICAS} replica(s) per primary` : 'no replicas'}).`,
  ];
  if (rest.length) {
    L.push(
      `- Load: \`wrk -t1 -c${CONNECTIONS}\` (keep-alive), ${SECONDS} s per run after a ${WARMUP} s warm-up, cycling over ${KEYS} keys (spread over the ${PRIMARIES} shard${PRIMARIES === 1 ? '' : 's'}) with 32-byte values; SET runs before GET. ` +
        `${ROUNDS} rounds, the two sides alternating; figures are medians over the rounds, the ratio is the median of the per-round ratios. ` +
        `wrk, both front ends and all servers share the ${facts.nproc} cores (one side is driven at a time; the other side idles).`,
    );
    L.push(
      '',
      '| op | webdis req/s | gateway req/s | ratio gw / webdis (rounds) | p50 webdis / gw (ms) | p99 webdis / gw (ms) | errors webdis / gw | CPU webdis+redis / gateway / nodes | CPU µs per request: webdis+redis / gateway + nodes |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of rest) {
      L.push(
        `| ${r.op.toUpperCase()} | ${r.webdis.rps.toFixed(0)} | ${r.gateway.rps.toFixed(0)} | **${r.ratio.toFixed(2)}** (${r.ratios.map((x) => x.toFixed(2)).join(', ')}) | ${ms(r.webdis.p50)} / ${ms(r.gateway.p50)} | ${ms(r.webdis.p99)} / ${ms(r.gateway.p99)} | ${r.webdis.errors} / ${r.gateway.errors} | ${r.webdisCpu.toFixed(0)}% / ${r.gatewayCpu.toFixed(0)}% / ${r.nodesCpu.toFixed(0)}% | ${r.webdisUs.toFixed(1)} / ${r.gatewayUs.toFixed(1)} + ${r.nodesUs.toFixed(1)} |`,
      );
    }
  }
  if (over.length) {
    const floor = over.some((r) => r.floor);
    L.push(
      '',
      `Overhead of an HTTP front end over a direct ioredis call (same keys, same commands): the gateway over ioredis Cluster straight to its node, and, as the anchor, webdis over ioredis straight to its redis-server. Every side is driven from the bench process, closed loop with N requests in flight, latency histogram in 10 µs steps: ioredis 6 clients (default options), and N keep-alive HTTP/1.1 connections (a minimal client, bench/gateway-load.ts \`runHttpOn\`) through each front end${floor ? ', and through bench/floor-proxy.ts (a bare Node proxy: one upstream connection, no auth, routing, metrics or write batching) in front of the gateway\'s node, against the same direct side' : ''}; each round interleaves the sides in ${SLICES} slices of ${SECONDS / SLICES} s each, pooled per side (the HTTP connections stay open), so that the VM's bad seconds fall on all of them; overhead = front end - its direct path, medians over the rounds. "N at R/s" rows are paced: every side offered the same R req/s over N connections (sends spread evenly by a clock thread; latency from the actual send), so they compare the paths at one load below saturation, where the full-speed rows compare each at its own saturation and include queueing. wrk through the gateway is shown for comparison: it is another process, and its own wake-up tail on this VM is part of its figures.`,
      '',
      `| op | in flight | direct -> node req/s | gateway req/s | p50 direct / gw (ms) | p99 direct / gw (ms) | gateway overhead p50 / p99 (ms) | gateway p99 overhead per round | webdis overhead p50 / p99 (ms) | webdis p99 overhead per round |${floor ? ' floor proxy overhead p50 / p99 (ms), per round |' : ''} wrk via gateway: req/s, p50 / p99 (ms) |`,
      `|---|---:|---:|---:|---:|---:|---:|---|---:|---|${floor ? '---|' : ''}---:|`,
    );
    for (const r of over) {
      const w = r.gatewayWrk;
      const a = r.anchor;
      L.push(
        `| ${r.op.toUpperCase()} | ${r.rate > 0 ? `${r.inFlight} at ${r.rate}/s` : r.inFlight} | ${r.direct.rps.toFixed(0)} | ${r.gateway.rps.toFixed(0)} | ${ms(r.direct.p50)} / ${ms(r.gateway.p50)} | ${ms(r.direct.p99)} / ${ms(r.gateway.p99)} | ${ms(r.gateway.p50 - r.direct.p50)} / **${ms(r.gateway.p99 - r.direct.p99)}** | ${r.gatewayP99Rounds.map(ms).join(', ')} | ${a ? `${ms(a.webdis.p50 - a.direct.p50)} / **${ms(a.webdis.p99 - a.direct.p99)}**` : '-'} | ${a ? a.webdisP99Rounds.map(ms).join(', ') : '-'} |${floor ? ` ${r.floor ? `${ms(r.floor.proxy.p50 - r.direct.p50)} / **${ms(r.floor.proxy.p99 - r.direct.p99)}**, ${r.floor.p99Rounds.map(ms).join(', ')}` : '-'} |` : ''} ${w ? `${w.rps.toFixed(0)}, ${ms(w.p50)} / ${ms(w.p99)}` : '-'} |`,
      );
    }
  }
  if (typeof ws === 'string') L.push('', `WebSocket pub/sub: ${ws}`);
  else if (ws) L.push('', ...wsMarkdown(ws));
  return `${L.join('\n')}\n`;
}

function wsMarkdown(r: WsResult): string[] {
  const L = [
    `WebSocket pub/sub: ${r.clients} \`ws\` clients on the gateway's \`/ws\`, all SUBSCRIBEd to one channel; an ioredis publisher PUBLISHes to a primary at a fixed rate for ${r.seconds} s per step; payload carries a timestamp (end-to-end latency = publish call to the frame's arrival, same process). Baseline: one plain ioredis subscriber on each primary, same messages. Clients, baseline and publisher run in the bench process (one Node thread) on the same 2 cores as the gateway and the nodes; "CPU clients" is that process.`,
    '',
    '| publish rate (msg/s) | published | deliveries/s | expected deliveries | delivered | missing | sockets closed | p50 (ms) | p99 (ms) | CPU gateway / clients | gateway CPU µs per delivery | direct subscriber p50 / p99 (ms) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of r.steps) {
    L.push(
      `| ${s.rate} | ${s.published} | ${s.deliveriesPerSec.toFixed(0)} | ${s.expected} | ${s.delivered} | ${s.expected - s.delivered} | ${s.closed} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.gatewayCpu.toFixed(0)}% / ${s.clientCpu.toFixed(0)}% | ${s.gatewayUs.toFixed(1)} | ${ms(s.direct.p50)} / ${ms(s.direct.p99)} |`,
    );
  }
  return L;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (a !== '--md') throw new Error(`unknown argument ${a} (only --md)`);
  const date = new Date();
  const facts = machineFacts();
  console.log(`date: ${date.toISOString()}\nmachine: nproc ${facts.nproc}, ${facts.cpu}, ${facts.memory}, ${facts.os}, node ${facts.node}, load ${facts.load}\n`);
  let w: WebdisSide | null = null;
  let g: GatewaySide | null = null;
  const cleanup = async () => {
    if (g) {
      await stop(g.gateway);
      await stop(g.cluster);
      rmSync(g.dir, { recursive: true, force: true });
    }
    if (w) {
      await stop(w.webdis);
      await stop(w.redis);
      rmSync(w.dir, { recursive: true, force: true });
    }
    g = null;
    w = null;
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  let rest: RestRow[] = [];
  let over: OverheadRow[] = [];
  let ws: WsResult | string | null = null;
  try {
    if (PARTS.has('rest') || PARTS.has('overhead')) {
      w = await startWebdis();
      console.log(`webdis on :${w.httpPort} (threads ${WEBDIS_THREADS}, pool_size ${WEBDIS_POOL}) -> redis-server :${w.config.redis_port}`);
    }
    g = await startGatewaySide();
    console.log(`gateway on :${g.httpPort} (--workers ${GATEWAY_WORKERS}) -> cluster ${g.ports.join(', ')} (${REPLICAS ? `${REPLICAS} replica(s) per primary` : 'primaries only'}); keys: ${shardSpread(g.ports)}`);
    if (w) await sanityCheck(w.httpPort, g.httpPort);
    if (w && PARTS.has('rest')) rest = await restPart(w, g);
    if (PARTS.has('overhead')) over = await overheadPart(g, w);
    if (PARTS.has('ws')) {
      if (wsAvailable(ROOT)) ws = await runWsBench({ gatewayPort: g.httpPort, gatewayPid: g.gateway.proc.pid!, nodePorts: g.ports.slice(0, 3), token: TOKEN });
      else {
        ws = 'pending: the gateway has no /ws endpoint yet (gateway/src/ws/); the measurement is ready in bench/gateway-ws.ts.';
        console.log(`\nWebSocket: ${ws}`);
      }
    }
  } finally {
    await cleanup();
  }
  const loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`\nload average at the end: ${loadAfter}`);
  if (CPU_PROF) console.log(`gateway CPU profile written to ${path.resolve(CPU_PROF)}`);
  const out = process.env.BENCH_OUT;
  if (out) writeFileSync(out, JSON.stringify({ date: date.toISOString(), machine: facts, loadAfter, seconds: SECONDS, keys: KEYS, connections: CONNECTIONS, rest, overhead: over, ws }, null, 2));
  if (args.includes('--md')) {
    const file = path.join(ROOT, 'BENCHMARKS.md');
    addSection(file, markdown(date, facts, loadAfter, rest, over, ws));
    console.log(`added a section to ${file}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
