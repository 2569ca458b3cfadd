/**
 * Cluster test harness: start real cluster-node processes in cluster mode on loopback, form them into
 * a cluster with the real `redis-cli --cluster create`, and wait until every node serves all slots.
 */
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { keyHashSlot } from '../../common/src/slot';
import { redisCli, startNode, type NodeHandle } from './node';

/** Default args for test clusters: a short node timeout keeps elections quick. */
export const CLUSTER_ARGS = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/** A port in 10000-22767 whose bus port (port + 10000) is free too. */
export async function freeClusterPort(): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    // Both ports below the ephemeral range (32768+), where outgoing sockets and freePort() pick theirs:
    // a bus port up there could be taken by some client connection between our check and the bind.
    const p = 10000 + Math.floor(Math.random() * 12768);
    if (handedOut.has(p) || handedOut.has(p + 10000) || handedOut.has(p - 10000)) continue;
    if ((await portFree(p)) && (await portFree(p + 10000))) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error('no free cluster port pair found');
}

/** Start `n` cluster-mode nodes, each still alone. */
export async function startClusterNodes(n: number, extraArgs: string[] = []): Promise<NodeHandle[]> {
  const nodes: NodeHandle[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freeClusterPort();
    nodes.push(await startNode([...CLUSTER_ARGS, ...extraArgs], { port }));
  }
  return nodes;
}

/** `redis-cli --cluster <args>`; throws with the output when it fails. */
export function clusterCli(args: string[], timeoutMs = 120_000): string {
  const r = spawnSync('redis-cli', ['--cluster', ...args], { encoding: 'latin1', timeout: timeoutMs });
  if (r.error) throw r.error;
  const out = r.stdout + r.stderr;
  if (r.status !== 0) throw new Error(`redis-cli --cluster ${args.join(' ')} failed (${r.status}):\n${out}`);
  return out;
}

/** Create a cluster of the nodes with redis-cli (all primaries unless `replicas`). */
export function createCluster(nodes: NodeHandle[], replicas = 0): string {
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  return clusterCli(['create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes']);
}

export function cli(port: number, ...args: string[]): string {
  return redisCli(port, args).stdout;
}

export function myId(port: number): string {
  return cli(port, 'cluster', 'myid');
}

/** Wait until every node reports cluster_state:ok and agrees on the slot map. */
export async function waitClusterOk(ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const infos = ports.map((p) => cli(p, 'cluster', 'info'));
    const slots = ports.map((p) => signature(cli(p, 'cluster', 'nodes')));
    if (infos.every((i) => i.includes('cluster_state:ok')) && slots.every((s) => s === slots[0])) return;
    last = infos.join('\n---\n');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cluster not ok after ${timeoutMs} ms:\n${last}`);
}

/** "id:slots" per node, sorted: what redis-cli compares to decide nodes agree. */
export function signature(nodesOutput: string): string {
  return nodesOutput
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      return `${f[0]}:${f.slice(8).filter((s) => !s.startsWith('[')).join(',')}`;
    })
    .sort()
    .join('|');
}

/** Start `n` primaries and create a cluster of them; resolves when all nodes agree and are ok. */
export async function startCluster(n: number, extraArgs: string[] = []): Promise<NodeHandle[]> {
  const nodes = await startClusterNodes(n, extraArgs);
  createCluster(nodes);
  await waitClusterOk(nodes.map((x) => x.port));
  return nodes;
}

/** Poll `check` (errors count as "not yet": nodes may be restarting) until it holds or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `n` distinct key names `${prefix}<i>` whose slots satisfy `pred`. */
export function keysWhere(prefix: string, n: number, pred: (slot: number) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (i > 10_000_000) throw new Error('keysWhere: predicate too narrow');
    const k = `${prefix}${i}`;
    if (pred(keyHashSlot(k))) out.push(k);
  }
  return out;
}
