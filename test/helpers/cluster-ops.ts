/**
 * Cluster test operations over plain ioredis connections (one per node, no redirection following):
 * the slot map, keys that hash to a given node, and a slot move done the way redis-cli --cluster
 * reshard does it (SETSLOT IMPORTING on the target, MIGRATING on the source, MIGRATE ... KEYS,
 * SETSLOT NODE on target, source and every other node), split in phases so tests can stop half way.
 */
import Redis from 'ioredis';
import { keyHashSlot } from '../../common/src/slot';
import type { NodeHandle } from './node';
import { keysWhere, waitFor } from './cluster';

export { keysWhere, waitFor };

export interface ClusterCtx {
  nodes: NodeHandle[];
  ports: number[];
  ids: string[];
  /** Plain (non-cluster) ioredis connection per node, same order as `nodes`. */
  admin: Redis[];
}

export async function openCtx(nodes: NodeHandle[]): Promise<ClusterCtx> {
  const ports = nodes.map((n) => n.port);
  const admin = ports.map((port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  const ids = await Promise.all(admin.map((r) => r.cluster('MYID') as Promise<string>));
  return { nodes, ports, ids, admin };
}

export function closeCtx(ctx: ClusterCtx | undefined): void {
  if (!ctx) return;
  for (const r of ctx.admin) r.disconnect();
}

/** Port of the owner of every slot as `port` sees it (0 = unassigned). */
export async function slotOwners(r: Redis): Promise<number[]> {
  const owners = new Array<number>(16384).fill(0);
  for (const [a, b, ...nodes] of await r.cluster('SLOTS')) {
    const port = nodes[0]?.[1] ?? 0;
    for (let s = a; s <= b; s++) owners[s] = port;
  }
  return owners;
}


/** A hash tag whose slot `pred` accepts (keys `{tag}...` all go to that slot). */
export function tagWhere(prefix: string, pred: (slot: number) => boolean): { tag: string; slot: number } {
  const [k] = keysWhere(prefix, 1, pred);
  return { tag: k!, slot: keyHashSlot(k!) };
}


/** Phase 1: open the slot (IMPORTING on the target first, then MIGRATING on the source, as redis-cli). */
export async function beginMigration(ctx: ClusterCtx, slot: number, from: number, to: number): Promise<void> {
  expect200(await ctx.admin[to]!.cluster('SETSLOT', slot, 'IMPORTING', ctx.ids[from]!));
  expect200(await ctx.admin[from]!.cluster('SETSLOT', slot, 'MIGRATING', ctx.ids[to]!));
}

/** Phase 2: MIGRATE the given keys (or all of the slot's keys in db 0) from source to target. */
export async function migrateKeys(ctx: ClusterCtx, slot: number, from: number, to: number, keys?: string[]): Promise<void> {
  const src = ctx.admin[from]!;
  for (;;) {
    const batch = keys ?? ((await src.cluster('GETKEYSINSLOT', slot, 10)) as string[]);
    if (batch.length === 0) return;
    const r = await src.migrate('127.0.0.1', ctx.ports[to]!, '', 0, 5000, 'KEYS', ...batch);
    if (r !== 'OK' && r !== 'NOKEY') throw new Error(`MIGRATE replied ${String(r)}`);
    if (keys) return;
  }
}

/** Phase 3: SETSLOT NODE on the target, the source, then every other node. */
export async function finishMigration(ctx: ClusterCtx, slot: number, from: number, to: number): Promise<void> {
  const order = [to, from, ...ctx.ports.map((_, i) => i).filter((i) => i !== to && i !== from)];
  for (const i of order) {
    expect200(await ctx.admin[i]!.cluster('SETSLOT', slot, 'NODE', ctx.ids[to]!));
    // Like Redis, a node that answered OK serves from the new assignment (read your own write).
    const seen = (await slotOwners(ctx.admin[i]!))[slot];
    if (seen !== ctx.ports[to]) throw new Error(`SETSLOT ${slot} NODE replied OK on :${ctx.ports[i]} but it still maps the slot to :${seen}`);
  }
}

export async function moveSlot(ctx: ClusterCtx, slot: number, from: number, to: number): Promise<void> {
  await beginMigration(ctx, slot, from, to);
  await migrateKeys(ctx, slot, from, to);
  await finishMigration(ctx, slot, from, to);
}

function expect200(r: unknown): void {
  if (r !== 'OK') throw new Error(`expected OK, got ${JSON.stringify(r)}`);
}
