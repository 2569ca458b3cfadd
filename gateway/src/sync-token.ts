/**
 * upstash-sync-token: read-your-writes for replica reads, with no clocks involved, so any number of
 * gateway copies can issue and honour each other's tokens.
 *
 * A token names the cluster configuration epoch the writes ran under and, per primary written, the
 * replication offset right after the client's writes to it (a ROLE sent behind the write on the same
 * upstream connection): `e<epoch>:<id>=<offset>,<id>=<offset>` with node ids cut to 12 hex digits.
 * A read presenting it may use a replica of primary P only when P's latest INFO replication says that
 * replica has acknowledged P's offset in the token (any replica of a primary not in the token).
 *
 * Whenever the epoch moved on (a failover or a completed slot migration since the token was made: the
 * offsets may belong to another primary's stream, the keys to another shard), or the gateway could not
 * learn an offset (a write answered by ASK, a fan-out, a node that no longer answers as a primary: the
 * token is `e<epoch>:*`), reads go to the primary. The next write turns such a token back into a precise
 * one: it takes every primary's offset after its own writes, which covers every write acknowledged
 * before.
 */
import { NO_REPLICA_YET, type SyncNeed, type WriteLog } from './cluster/client';

const ID_CHARS = 12;
const TOKEN = /^e(\d{1,15}):(\*|[0-9a-f]{12}=\d{1,18}(?:,[0-9a-f]{12}=\d{1,18}){0,511})$/;

export interface ParsedToken {
  epoch: number;
  /** Per node id prefix (12 hex digits): the offset; null = unknown (`*`). */
  offsets: Map<string, number> | null;
}

/**
 * A token as presented; null for anything this gateway did not issue (older formats included).
 * `formatSyncToken` with offsets null (an offset that could not be learned) gives `e<epoch>:*`.
 */
export function parseSyncToken(t: string): ParsedToken | null {
  const m = TOKEN.exec(t);
  if (!m) return null;
  const epoch = Number(m[1]);
  if (m[2] === '*') return { epoch, offsets: null };
  const offsets = new Map<string, number>();
  for (const part of m[2]!.split(',')) {
    const eq = part.indexOf('=');
    const o = Number(part.slice(eq + 1));
    const id = part.slice(0, eq);
    if (o > (offsets.get(id) ?? -1)) offsets.set(id, o);
  }
  return { epoch, offsets };
}

export function formatSyncToken(epoch: number, offsets: ReadonlyMap<string, number> | null): string {
  // Epoch unknown (-1: no CLUSTER NODES read yet): `*` sends reads to the primary whatever the epoch.
  if (epoch < 0) return 'e0:*';
  if (offsets === null || offsets.size === 0) return `e${epoch}:*`;
  const parts: string[] = [];
  for (const [id, o] of offsets) parts.push(`${id.slice(0, ID_CHARS)}=${o}`);
  return `e${epoch}:${parts.join(',')}`;
}

/**
 * What a replica read presenting `token` needs, given the gateway's current epoch: undefined (no token:
 * any replica), 'primary', or the offsets by full primary id (`primaryId` finds a current primary's id
 * from the token's 12-digit prefix).
 */
export function syncNeed(token: string | undefined, epoch: number, primaryId: (prefix: string) => string | undefined): SyncNeed | undefined {
  if (token === undefined || token === '') return undefined;
  const p = parseSyncToken(token);
  if (p === null || p.offsets === null || p.epoch !== epoch || epoch < 0) return 'primary';
  const need = new Map<string, number>();
  for (const [prefix, o] of p.offsets) {
    const id = primaryId(prefix);
    // A primary the token names is no longer one: its offsets mean nothing to anyone now.
    if (id === undefined) return 'primary';
    need.set(id, o);
  }
  return need;
}

/**
 * The token to hand back after a request's writes: the presented token's offsets merged with the ones
 * the writes reached, keeping the highest per primary, except that an offset learned now replaces a
 * presented NO_REPLICA_YET (it was taken after that write, so it covers it, and lets the shard's replicas
 * serve reads again once they have it). Before the gateway knows the epoch: `e0:*` (reads go to the
 * primary). null when the merge cannot be trusted (the presented token is foreign, `*` or of another
 * epoch, or a write's offset was not learned): then the token of every primary's offset taken after the
 * writes (`formatSyncToken(epoch, all)`) stands in for all of them.
 */
export function mergeSyncToken(presented: string | undefined, log: WriteLog, epoch: number): string | null {
  if (epoch < 0) return formatSyncToken(epoch, null);
  if (log.unknown) return null;
  let base: Map<string, number>;
  if (presented === undefined || presented === '') {
    if (log.offsets.size === 1) return singleToken(epoch, log.offsets);
    base = new Map();
  } else {
    const p = parseSyncToken(presented);
    if (p === null || p.offsets === null || p.epoch !== epoch) return null;
    base = p.offsets;
  }
  for (const [id, o] of log.offsets) {
    const k = id.slice(0, ID_CHARS);
    const had = base.get(k);
    if (had === undefined || had === NO_REPLICA_YET || o > had) base.set(k, o);
  }
  return formatSyncToken(epoch, base);
}

/** The last one-primary token made (a write request without a token, the common case): reused while it repeats. */
let lastSingle = { epoch: -1, id: '', offset: -1, token: '' };

/** `formatSyncToken(epoch, offsets)` for one offset, reusing the last string when nothing changed (NO_REPLICA_YET always repeats). */
function singleToken(epoch: number, offsets: ReadonlyMap<string, number>): string {
  const [id, o] = offsets.entries().next().value as [string, number];
  const l = lastSingle;
  if (l.epoch === epoch && l.offset === o && l.id === id) return l.token;
  const token = formatSyncToken(epoch, offsets);
  lastSingle = { epoch, id, offset: o, token };
  return token;
}
