/**
 * Command handler: CLUSTERSCAN cursor [MATCH pattern] [COUNT count] [TYPE type] [SLOT n] (Valkey 9.1),
 * a cluster-wide SCAN whose cursor names the next slot (cursor format: cluster/scan-cursor.ts;
 * routing: cluster/router.ts; protocol and guarantee: docs/cluster.md). Spec in
 * common/src/commands/specs/keys.ts.
 *
 * Each call scans whole slots of the selected db, starting at the cursor's slot and going on while
 * the next slot is served here (and not MIGRATING) and fewer than COUNT keys were examined. A slot
 * MIGRATING from this node is scanned alone: the reply's cursor names the same slot in phase 1, which
 * the router then sends to the target (ASK) for the keys already moved there.
 *
 * Without cluster mode every slot is local: the same cursors walk the whole db.
 */
import { ReplyError, type HandlerMap } from './registry';
import type { Client } from '../server/client';
import type { Db } from '../keyspace/db';
import { typeOf } from '../keyspace/values';
import { globMatch } from '../../../common/src/glob';
import { SLOT_COUNT } from '../../../common/src/slot';
import { DOWN_UNBOUND } from '../cluster/router';
import { formatCursor, issuedBy, nextSlot, parseScanArgs, scanTarget, type ScanArgs } from '../cluster/scan-cursor';

/** Append the matching live keys of one slot to `out`; returns how many keys were examined. */
function scanSlot(db: Db, slot: number, a: ScanArgs, out: string[]): number {
  const keys = db.slotKeys(slot);
  if (keys === undefined) return 0;
  for (const key of keys) {
    // Expired keys are skipped without reclaiming them: a scan has no side effects.
    if (db.isExpired(key)) continue;
    if (a.pattern !== null && !globMatch(a.pattern, key)) continue;
    if (a.type !== null && typeOf(db.peek(key)!) !== a.type) continue;
    out.push(key);
  }
  return keys.size;
}

function reply(c: Client, cursor: string, keys: string[]): void {
  c.w.array(2);
  c.w.bulk(cursor);
  c.w.bulkArray(keys);
}

export const handlers: HandlerMap = {
  clusterscan(c, argv) {
    const a = parseScanArgs(argv);
    if (typeof a === 'string') throw new ReplyError(a);
    const target = scanTarget(a);
    if (target === null) return reply(c, '0', []);
    const db = c.db;
    const keys: string[] = [];
    let slot = target.slot;
    let mine: (s: number) => boolean = () => true;

    const cl = c.server.clusterNode;
    if (cl !== null) {
      // The router already redirected what is not ours; these checks matter for a CLUSTERSCAN queued
      // in MULTI, whose EXEC may run under another configuration.
      const view = cl.view;
      const me = cl.myId;
      const owner = view.owners[slot] ?? null;
      if (owner === null) throw new ReplyError(DOWN_UNBOUND);
      const st = view.slotStates.get(slot);
      if (owner !== me) {
        const imp = st?.importing;
        if (imp === undefined || imp.by !== me || target.issuer === null || !issuedBy(target.issuer, imp.from)) {
          throw new ReplyError(`MOVED ${slot} ${cl.endpoint(owner)}`);
        }
        // Importing node under ASKING: the source already returned its keys; add ours and move on.
        scanSlot(db, slot, a, keys);
        return reply(c, formatCursor(nextSlot(a, slot)), keys);
      }
      const mig = st?.migrating;
      if (mig !== undefined && mig.by === me) {
        if (target.issuer !== null && issuedBy(target.issuer, me)) throw new ReplyError(`ASK ${slot} ${cl.endpoint(mig.to)}`);
        // Phase 0 of a MIGRATING slot: our keys now; the target's next, by ASK.
        scanSlot(db, slot, a, keys);
        return reply(c, formatCursor(slot, me), keys);
      }
      // Served here and not migrating: a phase-1 cursor (a migration that finished or was cancelled
      // since, or was issued by another node) rescans the whole slot, as phase 0 does.
      mine = (s) => view.owners[s] === me && view.slotStates.get(s)?.migrating?.by !== me;
    }

    let examined = 0;
    for (;;) {
      examined += scanSlot(db, slot, a, keys);
      slot = nextSlot(a, slot);
      if (slot >= SLOT_COUNT || examined >= a.count || !mine(slot)) break;
    }
    reply(c, formatCursor(slot), keys);
  },
};
