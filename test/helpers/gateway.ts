/**
 * Gateway test harness: a real cluster (primaries + replicas, real processes), the gateway in-process
 * on an ephemeral port, an HTTP helper returning status/headers/JSON, and Prometheus text parsing.
 */
import { afterAll } from 'vitest';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/src/app';
import type { TokenConfig } from '../../gateway/src/auth';
import { cli, createCluster, startClusterNodes, waitClusterOk, waitFor } from './cluster';
import type { NodeHandle } from './node';

export const TOKENS = {
  rw: 'rw-token-0001',
  admin: 'admin-token-0001',
  ro: 'ro-token-0001',
  users: 'users-token-0001',
  limited: 'limited-token-0001',
  replica: 'replica-token-0001',
};

export const TOKEN_CONFIG: TokenConfig[] = [
  { token: TOKENS.rw, name: 'rw', role: 'read-write' },
  { token: TOKENS.admin, name: 'admin', role: 'admin' },
  { token: TOKENS.ro, name: 'ro', role: 'read-only' },
  { token: TOKENS.users, name: 'users', role: 'read-write', keys: ['user:*'], channels: ['chat:*'], dbs: [0, 3] },
  { token: TOKENS.limited, name: 'limited', role: 'read-write', rateLimit: { perSecond: 1, burst: 3 } },
  { token: TOKENS.replica, name: 'replica', role: 'read-write', replicaReads: true },
];

const gateways = new Set<Gateway>();
afterAll(async () => {
  await Promise.all([...gateways].map((g) => g.close().catch(() => {})));
});

/** `primaries` primaries with `replicas` replicas each, created by redis-cli, replica links up. */
export async function startReplicatedCluster(primaries = 3, replicas = 1): Promise<NodeHandle[]> {
  const nodes = await startClusterNodes(primaries * (1 + replicas));
  createCluster(nodes, replicas);
  const ports = nodes.map((n) => n.port);
  await waitClusterOk(ports, 30_000);
  if (replicas > 0) {
    await waitFor('replica links up', () => ports.every((p) => {
      const info = cli(p, 'info', 'replication');
      return info.includes('role:master') || info.includes('master_link_status:up');
    }), 30_000);
  }
  return nodes;
}

/** The gateway in-process on an ephemeral loopback port, closed when the test file ends. */
export async function gateway(nodes: NodeHandle[], opts: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const gw = await startGateway({
    port: 0,
    seeds: [{ host: '127.0.0.1', port: nodes[0]!.port }],
    tokens: TOKEN_CONFIG,
    processMetrics: false,
    watchIntervalMs: 200,
    ...opts,
  });
  gateways.add(gw);
  return gw;
}

export function baseUrl(gw: Gateway): string {
  const a = gw.app.server.address();
  if (!a || typeof a === 'string') throw new Error('gateway not listening');
  return `http://127.0.0.1:${a.port}`;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request; `body` arrays/objects are sent as JSON, strings/Buffers as they are. */
export async function http(
  gw: Gateway,
  method: string,
  path: string,
  o: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? TOKENS.rw : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined;
  if (o.body !== undefined) body = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
  const res = await fetch(baseUrl(gw) + path, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Run one command through POST / and return `result`, throwing on an error reply. */
export async function cmd(gw: Gateway, args: Array<string | number>, token: string = TOKENS.rw, db = 0): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await http(gw, 'POST', db ? `/db/${db}` : '/', { token, body: args });
  if (r.status !== 200) throw new Error(`${args.join(' ')}: ${r.status} ${r.text}`);
  return r.json.result;
}

/** Sum of a metric's samples in Prometheus text whose labels include `labels` (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

/** `metricValue` over an in-process gateway's registry. */
export async function metric(gw: Gateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await gw.metrics.registry.metrics(), name, labels);
}

/** A node's call count for a command from INFO commandstats. */
export function calls(port: number, command: string): number {
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(cli(port, 'info', 'commandstats'));
  return m ? Number(m[1]) : 0;
}

/** Full cluster-wide SCAN through the gateway: every key returned (with repeats) and the cursors seen. */
export async function scanAll(gw: Gateway, extra: Array<string | number> = [], db = 0, token: string = TOKENS.rw): Promise<{ keys: string[]; cursors: string[] }> {
  const keys: string[] = [];
  const cursors: string[] = [];
  let cursor = '0';
  for (let i = 0; i < 20_000; i++) {
    const [next, batch] = (await cmd(gw, ['SCAN', cursor, ...extra], token, db)) as [string, string[]];
    keys.push(...batch);
    cursor = next;
    if (cursor === '0') return { keys, cursors };
    cursors.push(cursor);
  }
  throw new Error('SCAN did not finish');
}
