/**
 * The one place that decides whether this node runs a command or redirects it (Redis's
 * getNodeByQuery + clusterRedirectClient): MOVED, ASK, TRYAGAIN, CROSSSLOT and CLUSTERDOWN, worded
 * byte for byte as Redis does. Reads only the served configuration view and the local keyspace.
 */
import type { Client } from '../server/client';
import type { Db } from '../keyspace/db';
import type { CommandSpec } from '../../../common/src/commands/types';
import { keyPositions } from '../../../common/src/commands/table';
import { keyHashSlot } from '../../../common/src/slot';
import type { Cluster } from './cluster';
import { issuedBy, parseScanArgs, scanTarget } from './scan-cursor';

export const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
export const TRYAGAIN = 'TRYAGAIN Multiple keys request during rehashing of slot';
export const DOWN = 'CLUSTERDOWN The cluster is down';
export const DOWN_UNBOUND = 'CLUSTERDOWN Hash slot not served';
export const DOWN_RO = 'CLUSTERDOWN The cluster is down and only accepts read commands';
/** A primary with replicas that lost its write lease (cut off from the Raft majority): clients retry as for CLUSTERDOWN. */
export const LEASE_LOST = 'CLUSTERDOWN Write refused: this primary lost its lease from the cluster majority (a failover may be in progress)';
/** A primary restarted without its data (no persistence) while a replica may still hold it: clients retry as for CLUSTERDOWN. */
export const DATA_LOST = 'CLUSTERDOWN This primary restarted without its data; a replica is taking over its slots';

const SHARD_PUBSUB = new Set(['ssubscribe', 'sunsubscribe', 'spublish']);

/** Scratch state of one routing decision (reused: routing runs once per command, synchronously). */
interface Scan {
  slot: number;
  firstKey: string | null;
  multiple: boolean;
  owner: string | null;
  migrating: boolean;
  importing: boolean;
  missing: number;
  existing: number;
  error: string | null;
  /** The db the command being scanned will run in (queued SELECTs change it inside MULTI); null = not computed yet. */
  db: Db | null;
}
const scan: Scan = { slot: -1, firstKey: null, multiple: false, owner: null, migrating: false, importing: false, missing: 0, existing: 0, error: null, db: null };

export function routeCommand(cl: Cluster, c: Client, spec: CommandSpec, argv: string[]): string | null {
  const asking = c.asking;
  // ASKING covers exactly the next command; sent before MULTI it covers the transaction and ends
  // with EXEC or DISCARD (Redis's resetClient keeps the flag while CLIENT_MULTI is set).
  if (spec.name !== 'asking' && (c.multi === null ? spec.name !== 'multi' : spec.name === 'exec' || spec.name === 'discard')) {
    c.asking = false;
  }
  if (c.isPrimaryLink) return null;
  if (spec.name === 'clusterscan') return routeClusterScan(cl, c, argv, asking);
  const isExec = spec.name === 'exec';
  if (spec.keySpecs.length === 0 && !isExec) return null;

  scan.slot = -1;
  scan.firstKey = null;
  scan.multiple = false;
  scan.owner = null;
  scan.migrating = scan.importing = false;
  scan.missing = scan.existing = 0;
  scan.error = null;
  // Inside MULTI a queued command runs in the db of the last SELECT queued before it; that matters only
  // for an open slot, so it is worked out lazily (curDb).
  scan.db = c.multi === null || isExec ? c.db : null;
  let isWrite = spec.flags.includes('write');
  let shardPubsub = SHARD_PUBSUB.has(spec.name);
  if (isExec) {
    if (c.multi === null) return null;
    for (const q of c.multi) {
      if (q.spec.name === 'select') queuedSelect(cl, q.argv);
      if (q.spec.flags.includes('write')) isWrite = true;
      if (SHARD_PUBSUB.has(q.spec.name)) shardPubsub = true;
      collect(cl, c, q.spec, q.argv, SHARD_PUBSUB.has(q.spec.name));
      if (scan.error !== null) return scan.error;
    }
  } else {
    collect(cl, c, spec, argv, shardPubsub);
    if (scan.error !== null) return scan.error;
  }
  if (scan.slot < 0) return null;

  if (!cl.ok) {
    if (shardPubsub) {
      if (!cl.server.config.bool('cluster-allow-pubsubshard-when-down')) return DOWN;
    } else if (!cl.server.config.bool('cluster-allow-reads-when-down')) {
      return DOWN;
    } else if (isWrite) {
      return DOWN_RO;
    }
  }
  const slot = scan.slot;
  const view = cl.view;
  if ((scan.migrating || scan.importing) && spec.name === 'migrate') return null;
  if (scan.migrating && scan.missing > 0) {
    if (scan.existing > 0) return TRYAGAIN;
    const to = view.slotStates.get(slot)!.migrating!.to;
    return `ASK ${slot} ${cl.endpoint(to)}`;
  }
  if (scan.importing && (asking || spec.flags.includes('asking'))) {
    if (scan.multiple && scan.missing > 0) return TRYAGAIN;
    return null;
  }
  const me = view.node(cl.myId);
  if ((c.readonlyMode || shardPubsub) && !isWrite && me !== undefined && me.primary !== null && me.primary === scan.owner) {
    return null;
  }
  if (scan.owner !== cl.myId) return `MOVED ${slot} ${cl.endpoint(scan.owner!)}`;
  if (cl.amnesiac) return DATA_LOST;
  if (isWrite && !cl.writeLeaseValid()) return LEASE_LOST;
  return null;
}

const ONE: number[] = [0];

function collect(cl: Cluster, c: Client, spec: CommandSpec, argv: string[], shardPubsub: boolean): void {
  // Fast path: exactly one key at a fixed position (GET, SET, HSET, LPUSH...): no allocation.
  const [first, last] = spec.legacy;
  let positions: number[];
  if (first > 0 && first === last && !spec.movableKeys && spec.keySpecs.length === 1) {
    if (first >= argv.length) return;
    ONE[0] = first;
    positions = ONE;
  } else {
    positions = keyPositions(spec, argv);
  }
  const view = cl.view;
  for (let i = 0; i < positions.length; i++) {
    const key = argv[positions[i]!]!;
    const slot = keyHashSlot(key);
    if (scan.firstKey === null) {
      scan.firstKey = key;
      scan.slot = slot;
      const owner = view.owners[slot] ?? null;
      if (owner === null) {
        scan.error = DOWN_UNBOUND;
        return;
      }
      scan.owner = owner;
      if (view.slotStates.size > 0) {
        const st = view.slotStates.get(slot);
        if (st !== undefined) {
          scan.migrating = owner === cl.myId && st.migrating?.by === cl.myId;
          scan.importing = st.importing?.by === cl.myId;
        }
      }
    } else if (key !== scan.firstKey) {
      if (slot !== scan.slot) {
        scan.error = CROSSSLOT;
        return;
      }
      scan.multiple = true;
    }
    if ((scan.migrating || scan.importing) && !shardPubsub) {
      const db = curDb(cl, c);
      if (db.peek(key) === undefined || db.isExpired(key)) scan.missing++;
      else scan.existing++;
    }
  }
  // Valkey 9 (numbered databases): MOVE, and COPY into another db, get TRYAGAIN while the slot is open:
  // whether the key's counterpart in the other db was already migrated is unknown here.
  if ((scan.migrating || scan.importing) && positions.length > 0 && (spec.name === 'move' || (spec.name === 'copy' && copyToOtherDb(curDb(cl, c), argv)))) {
    scan.error = TRYAGAIN;
  }
}

/** A queued SELECT that will succeed switches the db later queued commands are checked in (as Valkey). */
function queuedSelect(cl: Cluster, argv: string[]): void {
  const n = /^\d+$/.test(argv[1] ?? '') ? Number(argv[1]) : -1;
  if (n >= 0 && n < cl.server.dbs.length) scan.db = cl.server.dbs[n]!;
}

function curDb(cl: Cluster, c: Client): Db {
  if (scan.db === null) {
    scan.db = c.db;
    if (c.multi !== null) for (const q of c.multi) if (q.spec.name === 'select') queuedSelect(cl, q.argv);
  }
  return scan.db!;
}

function copyToOtherDb(db: Db, argv: string[]): boolean {
  for (let j = 3; j + 1 < argv.length; j++) {
    if (argv[j]!.toLowerCase() === 'db') return argv[j + 1] !== String(db.id);
  }
  return false;
}

/**
 * CLUSTERSCAN: its cursor is not a key but names a slot (scan-cursor.ts). The owner serves it; a
 * phase-1 cursor (its issuer already returned its keys of the MIGRATING slot) arriving back at that
 * issuer is sent to the migration target with ASK; the importing node serves a phase-1 cursor only
 * under ASKING. Malformed arguments run locally, so the handler replies the error.
 */
function routeClusterScan(cl: Cluster, c: Client, argv: string[], asking: boolean): string | null {
  const args = parseScanArgs(argv);
  if (typeof args === 'string') return null;
  const target = scanTarget(args);
  if (target === null) return null;
  const slot = target.slot;
  const view = cl.view;
  const owner = view.owners[slot] ?? null;
  if (owner === null) return DOWN_UNBOUND;
  if (!cl.ok && !cl.server.config.bool('cluster-allow-reads-when-down')) return DOWN;
  const st = view.slotStates.size > 0 ? view.slotStates.get(slot) : undefined;
  if (owner === cl.myId) {
    const mig = st?.migrating;
    if (mig !== undefined && mig.by === cl.myId && target.issuer !== null && issuedBy(target.issuer, cl.myId)) {
      return `ASK ${slot} ${cl.endpoint(mig.to)}`;
    }
    return null;
  }
  const imp = st?.importing;
  if (asking && imp !== undefined && imp.by === cl.myId && target.issuer !== null && issuedBy(target.issuer, imp.from)) return null;
  return `MOVED ${slot} ${cl.endpoint(owner)}`;
}
