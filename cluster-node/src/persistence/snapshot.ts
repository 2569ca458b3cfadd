/**
 * Point-in-time RDB snapshots produced incrementally while clients keep writing: the dataset is
 * serialized slot by slot (keys are stored per hash slot per db) across event-loop turns, and
 * consistency with the instant the snapshot started (T0) is kept by copy-on-write at slot
 * granularity: before a write command runs, every slot it names a key in that has not been
 * serialized yet is serialized first, so each slot is written exactly as it was at T0.
 *
 * What is not hooked and why it is still consistent for a replica that applies the stream after T0:
 *  - deletions outside commands (active/lazy expiry, eviction): a slot serialized later may miss a
 *    key that existed at T0, but its removal is propagated as DEL after T0, and the DEL is idempotent.
 *  - FLUSHALL / FLUSHDB: the slots not serialized yet are dropped (never written). No command before
 *    the flush touched them (it would have serialized them), and after the flush the stream rebuilds
 *    the flushed dbs from empty, so their T0 content can never be observed.
 *  - SWAPDB a b: both dbs are serialized completely first (synchronously), since their contents move.
 *
 * The output is a sequence of segments `SELECTDB d; keys of slot s`, slots of one db in any order
 * (copy-on-write writes touched slots early), each slot exactly once, closed with EOF + CRC64.
 */
import type { Server } from '../server/server';
import type { Client } from '../server/client';
import type { CommandSpec } from '../../../common/src/commands/types';
import { keyPositions } from '../../../common/src/commands/table';
import { keyHashSlot, SLOT_COUNT } from '../../../common/src/slot';
import { RdbEncoder, type RdbAux } from './rdb';

/** Flush accumulated parts into a chunk once they hold about this many bytes. */
const CHUNK_BYTES = 64 * 1024;

export class RdbSnapshot {
  /** One byte per (db, slot): 1 once serialized or dropped. */
  private readonly done: Uint8Array;
  private readonly ndbs: number;
  private cursorDb = 0;
  private cursorSlot = 0;
  /** Db of the last SELECTDB written (-1 none). */
  private lastDb = -1;
  private readonly enc = new RdbEncoder();
  private parts: string[] = [];
  private partBytes = 0;
  private flushQueued = false;
  /** Sizes at T0 (RESIZEDB hints). */
  private readonly sizes: [number, number][];
  finished = false;
  aborted = false;
  keys = 0;
  readonly startedAt = Date.now();

  constructor(
    private readonly server: Server,
    aux: RdbAux,
    /** Receives the file, chunk by chunk, in order. */
    private readonly sink: (chunk: Buffer) => void,
  ) {
    this.ndbs = server.dbs.length;
    this.done = new Uint8Array(this.ndbs * SLOT_COUNT);
    this.sizes = server.dbs.map((db) => [db.size, db.expires.size]);
    // A db empty at T0 has nothing to write: whatever it gets later comes from the stream.
    for (let d = 0; d < this.ndbs; d++) if (this.sizes[d][0] === 0) this.dropDb(d);
    sink(this.enc.header(aux));
    registerSnapshot(server, this);
  }

  /** Bytes of the file produced so far. */
  get bytes(): number {
    return this.enc.bytes + this.partBytes;
  }

  private writeSlot(d: number, slot: number): void {
    const i = d * SLOT_COUNT + slot;
    if (this.done[i] !== 0) return;
    this.done[i] = 1;
    const db = this.server.dbs[d];
    if (db.countKeysInSlot(slot) === 0) return;
    if (this.lastDb !== d) {
      RdbEncoder.selectDb(this.parts, d);
      this.lastDb = d;
    }
    const before = this.parts.length;
    this.keys += RdbEncoder.slot(this.parts, db, slot);
    for (let j = before; j < this.parts.length; j++) this.partBytes += this.parts[j].length;
  }

  private flushParts(): void {
    if (this.parts.length === 0 || this.aborted) return;
    const chunk = this.enc.chunk(this.parts);
    this.parts = [];
    this.partBytes = 0;
    this.sink(chunk);
  }

  /**
   * Serialize forward in (db, slot) order until about `budgetBytes` were produced or `budgetMs`
   * passed. Returns true once the whole file (EOF and checksum included) has been emitted.
   */
  step(budgetBytes: number, budgetMs: number): boolean {
    if (this.finished || this.aborted) return true;
    const deadline = performance.now() + budgetMs;
    let produced = 0;
    let n = 0;
    while (this.cursorDb < this.ndbs) {
      const d = this.cursorDb;
      if (this.cursorSlot === 0 && this.sizes[d][0] > 0) {
        // RESIZEDB is a hint, written when the sequential pass enters a db that had keys at T0.
        if (this.lastDb !== d) {
          RdbEncoder.selectDb(this.parts, d);
          this.lastDb = d;
        }
        RdbEncoder.resizeDb(this.parts, this.sizes[d][0], this.sizes[d][1]);
      }
      const before = this.partBytes;
      this.writeSlot(d, this.cursorSlot);
      produced += this.partBytes - before;
      if (this.partBytes >= CHUNK_BYTES) this.flushParts();
      if (++this.cursorSlot === SLOT_COUNT) {
        this.cursorSlot = 0;
        this.cursorDb++;
      }
      if (produced >= budgetBytes || ((++n & 255) === 0 && performance.now() >= deadline)) break;
    }
    if (this.cursorDb < this.ndbs) {
      this.flushParts();
      return false;
    }
    this.flushParts();
    this.finished = true;
    unregisterSnapshot(this.server, this);
    this.sink(this.enc.end());
    return true;
  }

  /** Copy-on-write: slot `slot` of db `d` is about to change; write its T0 content first. */
  touch(d: number, slot: number): void {
    if (this.done[d * SLOT_COUNT + slot] !== 0) return;
    this.writeSlot(d, slot);
    this.scheduleFlush();
  }

  /** Serialize the rest of db `d` now (SWAPDB is about to move its content). */
  finishDb(d: number): void {
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      this.writeSlot(d, slot);
      if (this.partBytes >= CHUNK_BYTES) this.flushParts();
    }
    this.scheduleFlush();
  }

  /** Db `d` is being flushed: its unserialized slots are never written (see the file comment). */
  dropDb(d: number): void {
    this.done.fill(1, d * SLOT_COUNT, (d + 1) * SLOT_COUNT);
  }

  dropAll(): void {
    this.done.fill(1);
  }

  /** Stop producing (the receiver went away). */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.parts = [];
    unregisterSnapshot(this.server, this);
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (!this.finished) this.flushParts();
    });
  }
}

// ---------------------------------------------------------------------------------------- write hook

const active = new WeakMap<Server, Set<RdbSnapshot>>();

function registerSnapshot(s: Server, snap: RdbSnapshot): void {
  let set = active.get(s);
  if (set === undefined) active.set(s, (set = new Set()));
  set.add(snap);
  s.beforeWrite = beforeWrite;
}

function unregisterSnapshot(s: Server, snap: RdbSnapshot): void {
  const set = active.get(s);
  if (set === undefined) return;
  set.delete(snap);
  if (set.size === 0 && s.beforeWrite === beforeWrite) s.beforeWrite = null;
}

/** Snapshots in progress on a server. */
export function activeSnapshots(s: Server): number {
  return active.get(s)?.size ?? 0;
}

/** Installed as Server.beforeWrite while snapshots are in progress: runs before every write command. */
function beforeWrite(c: Client, spec: CommandSpec, argv: string[]): void {
  const snaps = active.get(c.server);
  if (snaps === undefined || snaps.size === 0) return;
  const name = spec.name;
  if (name === 'flushall') {
    for (const sn of snaps) sn.dropAll();
    return;
  }
  if (name === 'flushdb') {
    for (const sn of snaps) sn.dropDb(c.dbIndex);
    return;
  }
  if (name === 'swapdb') {
    const a = Number(argv[1]);
    const b = Number(argv[2]);
    const n = c.server.dbs.length;
    for (const sn of snaps) {
      for (const d of [a, b]) if (Number.isInteger(d) && d >= 0 && d < n) sn.finishDb(d);
    }
    return;
  }
  const pos = keyPositions(spec, argv);
  if (pos.length === 0) return;
  // MOVE and COPY ... DB n write the key's slot in another db too.
  const allDbs = name === 'move' || name === 'copy';
  for (const p of pos) {
    const slot = keyHashSlot(argv[p]);
    for (const sn of snaps) {
      if (allDbs) for (let d = 0; d < c.server.dbs.length; d++) sn.touch(d, slot);
      else sn.touch(c.dbIndex, slot);
    }
  }
}
