/**
 * cluster-gateway entry point:
 *   cluster-gateway --port 8080 --seeds 127.0.0.1:7000[,host:port...] --token SECRET
 *   cluster-gateway --port 8080 --seeds ... --tokens tokens.json
 * Every option also reads an environment variable (GATEWAY_PORT, GATEWAY_SEEDS, GATEWAY_TOKEN, ...).
 */
import os from 'node:os';
import { loadTokenFile, type TokenConfig } from './auth';
import { startGateway, type Gateway } from './app';
import { isWorker, runPrimary, serveWorkerMetrics, workerMetrics, workerReady } from './workers';

interface OptDef {
  flag: string;
  env: string;
  help: string;
  def?: string;
}

const OPTS: OptDef[] = [
  { flag: 'port', env: 'GATEWAY_PORT', help: 'HTTP/WebSocket port', def: '8080' },
  { flag: 'host', env: 'GATEWAY_HOST', help: 'address to listen on', def: '127.0.0.1' },
  { flag: 'seeds', env: 'GATEWAY_SEEDS', help: 'cluster nodes to load the slot map from: host:port[,host:port...]', def: '127.0.0.1:7000' },
  { flag: 'token', env: 'GATEWAY_TOKEN', help: 'one read-write token' },
  { flag: 'admin-token', env: 'GATEWAY_ADMIN_TOKEN', help: 'one admin token (destructive fan-outs, admin commands)' },
  { flag: 'readonly-token', env: 'GATEWAY_READONLY_TOKEN', help: 'one read-only token' },
  { flag: 'tokens', env: 'GATEWAY_TOKENS_FILE', help: 'token file (JSON, see README): roles, key/channel patterns, dbs, rate limits' },
  { flag: 'upstream-password', env: 'GATEWAY_UPSTREAM_PASSWORD', help: 'password of the cluster nodes (requirepass)' },
  { flag: 'body-limit', env: 'GATEWAY_BODY_LIMIT', help: 'max request body in bytes', def: String(10 * 1024 * 1024) },
  { flag: 'max-pipeline', env: 'GATEWAY_MAX_PIPELINE', help: 'max commands per /pipeline or /multi-exec', def: '1000' },
  { flag: 'ws-max-frame', env: 'GATEWAY_WS_MAX_FRAME', help: 'max WebSocket frame in bytes', def: String(1024 * 1024) },
  { flag: 'ws-queue-limit', env: 'GATEWAY_WS_QUEUE_LIMIT', help: 'max bytes queued for one slow WebSocket/SSE consumer', def: String(1024 * 1024) },
  { flag: 'origins', env: 'GATEWAY_ORIGINS', help: 'allowed Origins for WebSocket/CORS, comma separated (default: any)' },
  { flag: 'upstream-timeout', env: 'GATEWAY_UPSTREAM_TIMEOUT_MS', help: 'per upstream command timeout (ms)', def: '5000' },
  { flag: 'databases', env: 'GATEWAY_DATABASES', help: 'databases per node', def: '16' },
  { flag: 'fast-path', env: 'GATEWAY_FAST_PATH', help: "answer plain REST calls on the gateway's own HTTP/1.1 path ('on') or all through fastify ('off')", def: 'on' },
  { flag: 'workers', env: 'GATEWAY_WORKERS', help: "worker processes sharing the port (a number, or 'auto' for one per CPU)", def: '1' },
];

function usage(): string {
  return ['Usage: cluster-gateway [--option value ...]', '', ...OPTS.map((o) => `  --${o.flag.padEnd(18)} ${o.help} (env ${o.env}${o.def ? `, default ${o.def}` : ''})`)].join('\n') + '\n';
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const o of OPTS) out[o.flag] = env[o.env] ?? o.def;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (!OPTS.some((o) => o.flag === name)) throw new Error(`unknown option --${name}`);
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    out[name] = v;
  }
  return out;
}

function onOff(o: Record<string, string | undefined>, k: string): boolean {
  const v = o[k];
  if (v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new Error(`--${k} must be on or off, got ${v}`);
}

function int(o: Record<string, string | undefined>, k: string): number {
  const v = Number(o[k]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a non-negative integer, got ${o[k]}`);
  return v;
}

/** --workers: a positive integer, or 'auto' (one per CPU the process may use). */
export function workerCount(v: string | undefined): number {
  if (v === 'auto') return os.availableParallelism();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`--workers must be a number from 1 to 256 or 'auto', got ${v}`);
  return n;
}

/** Starts the gateway; with --workers N > 1 this process supervises N workers and returns null. */
export async function main(argv: string[]): Promise<Gateway | null> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    process.exit(0);
  }
  const o = parseArgs(argv);
  const seeds = (o.seeds ?? '').split(',').filter(Boolean).map((s) => {
    const i = s.lastIndexOf(':');
    const port = Number(s.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad seed address: ${s} (expected host:port)`);
    return { host: s.slice(0, i), port };
  });
  if (!seeds.length) throw new Error('--seeds is required');
  const tokens: TokenConfig[] = [];
  if (o.tokens) tokens.push(...loadTokenFile(o.tokens));
  if (o.token) tokens.push({ token: o.token, name: 'read-write', role: 'read-write' });
  if (o['admin-token']) tokens.push({ token: o['admin-token'], name: 'admin', role: 'admin' });
  if (o['readonly-token']) tokens.push({ token: o['readonly-token'], name: 'read-only', role: 'read-only' });
  if (!tokens.length) throw new Error('no token configured: pass --token SECRET or --tokens FILE (every request must authenticate)');
  const workers = workerCount(o.workers);
  if (workers > 1 && !isWorker()) {
    await runPrimary(workers);
    return null;
  }
  if (isWorker()) serveWorkerMetrics(null);
  const gw = await startGateway({
    port: int(o, 'port'),
    host: o.host,
    seeds,
    tokens,
    upstreamPassword: o['upstream-password'],
    bodyLimit: int(o, 'body-limit'),
    maxPipeline: int(o, 'max-pipeline'),
    wsMaxFrame: int(o, 'ws-max-frame'),
    wsQueueLimit: int(o, 'ws-queue-limit'),
    origins: o.origins ? o.origins.split(',').map((s) => s.trim()).filter(Boolean) : null,
    upstreamTimeoutMs: int(o, 'upstream-timeout'),
    databases: int(o, 'databases'),
    fastPath: onOff(o, 'fast-path'),
    metricsText: isWorker() ? workerMetrics() : undefined,
  });
  const addr = gw.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const line = `cluster-gateway listening on http://${o.host}:${port} (cluster: ${gw.client.topology.nodes.size} nodes, ${gw.client.topology.covered()} slots covered)`;
  if (isWorker()) {
    serveWorkerMetrics(gw.metrics.registry);
    workerReady(line);
  } else process.stdout.write(line + '\n');
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    gw.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A worker whose primary is gone (killed) stops too instead of serving on unsupervised.
  if (isWorker()) process.once('disconnect', stop);
  return gw;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`Fatal: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
