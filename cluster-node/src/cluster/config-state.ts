/**
 * The replicated cluster configuration: the state machine every node applies from the Raft log.
 *
 * Pure and deterministic: `apply(cmd)` depends only on the current state and the command, so every
 * node that applied the same log prefix holds the same configuration (the simulation checks this).
 * It owns the node table (id, addresses, role, primary, shard, epochs), the owner of each of the
 * 16384 slots, the open migrating/importing states and the current epoch. Nothing else decides who
 * owns a slot or which node is a primary.
 *
 * Invariants kept by every command: a slot has at most one owner; an owner is a known primary;
 * a replica owns no slots; a replica's primary is a known primary; migrating/importing states name
 * known nodes.
 */

export const SLOTS = 16384;

export interface NodeRecord {
  readonly id: string;
  ip: string;
  port: number;
  cport: number;
  hostname: string;
  /** Primary this node replicates, or null for a primary. */
  primary: string | null;
  /** Shard id: a primary's own (40 hex), adopted by its replicas. */
  shardId: string;
  configEpoch: number;
  /** Failure decided by the configuration (issue: failover); not set by this module's admin commands. */
  failed: boolean;
  nofailover: boolean;
}

export interface SlotState {
  /** Node that declared the slot MIGRATING (the owner) and its destination. */
  migrating?: { by: string; to: string };
  /** Node that declared the slot IMPORTING and its source. */
  importing?: { by: string; from: string };
}

/** Slot ranges as inclusive [start, end] pairs. */
export type SlotRanges = [number, number][];

/** A command in the log. `req` identifies the proposal so the proposer can get its result. */
export type ConfigCommand = { req?: string } & (
  | { op: 'join'; node: NodeRecord; slots: SlotRanges }
  | { op: 'forget'; id: string; by: string }
  | { op: 'add-slots'; node: string; slots: SlotRanges }
  | { op: 'del-slots'; slots: SlotRanges }
  | { op: 'flush-slots'; node: string }
  | { op: 'set-slot-migrating'; node: string; slot: number; to: string }
  | { op: 'set-slot-importing'; node: string; slot: number; from: string }
  | { op: 'set-slot-stable'; node: string; slot: number }
  | { op: 'set-slot-node'; slot: number; to: string; by: string }
  | { op: 'replicate'; node: string; primary: string }
  | { op: 'set-config-epoch'; node: string; epoch: number }
  | { op: 'bump-epoch'; node: string }
  | { op: 'node-info'; node: string; ip: string; port: number; cport: number; hostname: string }
  | { op: 'set-failed'; node: string; failed: boolean }
  /**
   * `primary`: the primary the decision was made for (fenced, its lease waited out). Refused if the
   * replica follows another node when the entry applies: a CLUSTER REPLICATE ordered before it in the
   * log moved it, and it must not take over a primary whose lease nobody waited out. Absent in entries
   * of older nodes: whichever primary the replica follows then.
   */
  | { op: 'failover'; replica: string; primary?: string }
  | { op: 'batch'; cmds: ConfigCommand[] }
);

/** Result of applying one command: a reply value or a Redis-style error text. */
export type ApplyResult = { ok: true; value?: string } | { ok: false; error: string };

const OK: ApplyResult = { ok: true };
const err = (error: string): ApplyResult => ({ ok: false, error });

export interface ConfigSnapshot {
  nodes: NodeRecord[];
  owners: [number, number, string][];
  slotStates: [number, SlotState][];
  currentEpoch: number;
  version: number;
}

export class ConfigState {
  readonly nodes = new Map<string, NodeRecord>();
  /** Owner node id per slot, or null. */
  readonly owners: (string | null)[] = new Array<string | null>(SLOTS).fill(null);
  readonly slotStates = new Map<number, SlotState>();
  currentEpoch = 0;
  /** Count of applied commands that changed something (cheap change detection for observers). */
  version = 0;

  // ------------------------------------------------------------------ queries

  node(id: string): NodeRecord | undefined {
    return this.nodes.get(id);
  }

  isPrimary(id: string): boolean {
    const n = this.nodes.get(id);
    return n !== undefined && n.primary === null;
  }

  slotsOf(id: string): number[] {
    const out: number[] = [];
    for (let s = 0; s < SLOTS; s++) if (this.owners[s] === id) out.push(s);
    return out;
  }

  replicasOf(id: string): NodeRecord[] {
    return [...this.nodes.values()].filter((n) => n.primary === id);
  }

  assignedSlots(): number {
    let n = 0;
    for (let s = 0; s < SLOTS; s++) if (this.owners[s] !== null) n++;
    return n;
  }

  /** Primaries that own at least one slot (Redis's cluster_size). */
  size(): number {
    const owners = new Set<string>();
    for (let s = 0; s < SLOTS; s++) {
      const o = this.owners[s];
      if (o !== null) owners.add(o);
    }
    return owners.size;
  }

  // ------------------------------------------------------------------ apply

  apply(cmd: ConfigCommand): ApplyResult {
    const r = this.applyInner(cmd);
    if (r.ok) this.version++;
    return r;
  }

  private applyInner(cmd: ConfigCommand): ApplyResult {
    switch (cmd.op) {
      case 'join':
        return this.join(cmd.node, cmd.slots);
      case 'forget':
        return this.forget(cmd.id, cmd.by);
      case 'add-slots':
        return this.addSlots(cmd.node, cmd.slots);
      case 'del-slots':
        return this.delSlots(cmd.slots);
      case 'flush-slots':
        return this.flushSlots(cmd.node);
      case 'set-slot-migrating':
        return this.setMigrating(cmd.node, cmd.slot, cmd.to);
      case 'set-slot-importing':
        return this.setImporting(cmd.node, cmd.slot, cmd.from);
      case 'set-slot-stable':
        return this.setStable(cmd.node, cmd.slot);
      case 'set-slot-node':
        return this.setSlotNode(cmd.slot, cmd.to);
      case 'replicate':
        return this.replicate(cmd.node, cmd.primary);
      case 'set-config-epoch':
        return this.setConfigEpoch(cmd.node, cmd.epoch);
      case 'bump-epoch':
        return this.bumpEpoch(cmd.node);
      case 'node-info':
        return this.nodeInfo(cmd);
      case 'set-failed':
        return this.setFailed(cmd.node, cmd.failed);
      case 'failover':
        return this.failover(cmd.replica, cmd.primary);
      case 'batch':
        return this.batch(cmd.cmds);
      default:
        return err(`ERR unknown cluster configuration command`);
    }
  }

  /** All-or-nothing: a failing command rolls the whole batch back (MULTI ... EXEC of admin commands). */
  private batch(cmds: ConfigCommand[]): ApplyResult {
    const saved = this.toSnapshot();
    const values: string[] = [];
    for (const c of cmds) {
      const r = this.applyInner(c);
      if (!r.ok) {
        this.restore(saved);
        return r;
      }
      values.push(r.value ?? 'OK');
    }
    return { ok: true, value: values.join('\n') };
  }

  private join(node: NodeRecord, slots: SlotRanges): ApplyResult {
    const existing = this.nodes.get(node.id);
    if (existing) {
      // A repeated join (retry after a lost reply) only refreshes addresses.
      existing.ip = node.ip;
      existing.port = node.port;
      existing.cport = node.cport;
      existing.hostname = node.hostname;
      return OK;
    }
    if (node.primary !== null && !this.isPrimary(node.primary)) {
      return err(`ERR Joining node ${node.id} replicates unknown primary ${node.primary}`);
    }
    if (node.primary !== null && slots.length > 0) {
      return err(`ERR Cannot join: node ${node.id} is a replica and cannot claim slots`);
    }
    const bad = validRanges(slots);
    if (bad) return err(bad);
    for (const [a, b] of slots) {
      for (let s = a; s <= b; s++) {
        const o = this.owners[s];
        if (o !== null) {
          return err(`ERR Cannot join: slot ${s} is claimed by the joining node ${node.id} and already served by ${o}`);
        }
      }
    }
    if (this.hasAddress(node.ip, node.port)) {
      return err(`ERR Cannot join: another node is already known at ${node.ip}:${node.port}`);
    }
    // A replica is in its primary's shard (as `replicate` makes it).
    const shardId = node.primary !== null ? this.nodes.get(node.primary)!.shardId : node.shardId;
    this.nodes.set(node.id, { ...node, shardId, failed: false });
    for (const [a, b] of slots) for (let s = a; s <= b; s++) this.owners[s] = node.id;
    if (node.configEpoch > this.currentEpoch) this.currentEpoch = node.configEpoch;
    return OK;
  }

  private hasAddress(ip: string, port: number): boolean {
    for (const n of this.nodes.values()) if (n.ip === ip && n.port === port) return true;
    return false;
  }

  private forget(id: string, by: string): ApplyResult {
    const n = this.nodes.get(id);
    if (!n) return err(`ERR Unknown node ${id}`);
    if (id === by) return err("ERR I tried hard but I can't forget myself...");
    const me = this.nodes.get(by);
    if (me && me.primary === id) return err("ERR Can't forget my master!");
    if (this.slotsOf(id).length > 0) {
      return err(`ERR Can't forget node ${id}: it still serves hash slots (move them away first)`);
    }
    if (this.replicasOf(id).length > 0) {
      return err(`ERR Can't forget node ${id}: it still has replicas (CLUSTER REPLICATE them elsewhere first)`);
    }
    this.nodes.delete(id);
    for (const [slot, st] of this.slotStates) {
      if (st.migrating && (st.migrating.by === id || st.migrating.to === id)) delete st.migrating;
      if (st.importing && (st.importing.by === id || st.importing.from === id)) delete st.importing;
      if (!st.migrating && !st.importing) this.slotStates.delete(slot);
    }
    return OK;
  }

  private addSlots(node: string, slots: SlotRanges): ApplyResult {
    if (!this.nodes.has(node)) return err(`ERR Unknown node ${node}`);
    if (!this.isPrimary(node)) return err('ERR Target node is not a master');
    const bad = validRanges(slots);
    if (bad) return err(bad);
    const seen = new Set<number>();
    for (const [a, b] of slots) {
      for (let s = a; s <= b; s++) {
        if (this.owners[s] !== null) return err(`ERR Slot ${s} is already busy`);
        if (seen.has(s)) return err(`ERR Slot ${s} specified multiple times`);
        seen.add(s);
      }
    }
    for (const s of seen) {
      this.owners[s] = node;
      // Claiming a slot we were importing closes the import (Redis does the same in ADDSLOTS).
      const st = this.slotStates.get(s);
      if (st?.importing?.by === node) this.clearState(s, 'importing');
    }
    return OK;
  }

  private delSlots(slots: SlotRanges): ApplyResult {
    const bad = validRanges(slots);
    if (bad) return err(bad);
    const seen = new Set<number>();
    for (const [a, b] of slots) {
      for (let s = a; s <= b; s++) {
        if (this.owners[s] === null) return err(`ERR Slot ${s} is already unassigned`);
        if (seen.has(s)) return err(`ERR Slot ${s} specified multiple times`);
        seen.add(s);
      }
    }
    for (const s of seen) {
      this.owners[s] = null;
      this.slotStates.delete(s);
    }
    return OK;
  }

  private flushSlots(node: string): ApplyResult {
    if (!this.nodes.has(node)) return err(`ERR Unknown node ${node}`);
    for (let s = 0; s < SLOTS; s++) {
      if (this.owners[s] === node) {
        this.owners[s] = null;
        this.slotStates.delete(s);
      }
    }
    return OK;
  }

  private setMigrating(node: string, slot: number, to: string): ApplyResult {
    if (!validSlot(slot)) return err('ERR Invalid or out of range slot');
    if (this.owners[slot] !== node) return err(`ERR I'm not the owner of hash slot ${slot}`);
    const target = this.nodes.get(to);
    if (!target) return err(`ERR I don't know about node ${to}`);
    if (target.primary !== null) return err('ERR Target node is not a master');
    if (to === node) return err("ERR Can't MIGRATE to myself");
    this.stateOf(slot).migrating = { by: node, to };
    return OK;
  }

  private setImporting(node: string, slot: number, from: string): ApplyResult {
    if (!validSlot(slot)) return err('ERR Invalid or out of range slot');
    if (this.owners[slot] === node) return err(`ERR I'm already the owner of hash slot ${slot}`);
    const source = this.nodes.get(from);
    if (!source) return err(`ERR I don't know about node ${from}`);
    if (source.primary !== null) return err('ERR Target node is not a master');
    if (from === node) return err("ERR Can't IMPORT from myself");
    if (!this.isPrimary(node)) return err('ERR Please use SETSLOT only with masters.');
    this.stateOf(slot).importing = { by: node, from };
    return OK;
  }

  private setStable(node: string, slot: number): ApplyResult {
    if (!validSlot(slot)) return err('ERR Invalid or out of range slot');
    const st = this.slotStates.get(slot);
    if (st) {
      if (st.migrating?.by === node) delete st.migrating;
      if (st.importing?.by === node) delete st.importing;
      if (!st.migrating && !st.importing) this.slotStates.delete(slot);
    }
    return OK;
  }

  private setSlotNode(slot: number, to: string): ApplyResult {
    if (!validSlot(slot)) return err('ERR Invalid or out of range slot');
    const target = this.nodes.get(to);
    if (!target) return err(`ERR Unknown node ${to}`);
    if (target.primary !== null) return err('ERR Target node is not a master');
    const prev = this.owners[slot];
    this.owners[slot] = to;
    this.slotStates.delete(slot);
    if (prev !== to) {
      // The new owner's claim must win over any stale one: give it a fresh, unique epoch.
      target.configEpoch = ++this.currentEpoch;
    }
    return OK;
  }

  private replicate(node: string, primary: string): ApplyResult {
    const me = this.nodes.get(node);
    if (!me) return err(`ERR Unknown node ${node}`);
    const p = this.nodes.get(primary);
    if (!p) return err(`ERR Unknown node ${primary}`);
    if (node === primary) return err("ERR Can't replicate myself");
    if (p.primary !== null) return err('ERR I can only replicate a master, not a replica.');
    if (me.primary === null && this.slotsOf(node).length > 0) {
      return err('ERR To set a master the node must be empty and without assigned slots.');
    }
    if (me.primary === null && this.replicasOf(node).length > 0) {
      return err(`ERR Node ${node} has replicas: move them to another primary first`);
    }
    me.primary = primary;
    me.shardId = p.shardId;
    for (const [slot, st] of this.slotStates) {
      if (st.importing?.by === node) delete st.importing;
      if (!st.migrating && !st.importing) this.slotStates.delete(slot);
    }
    return OK;
  }

  private setConfigEpoch(node: string, epoch: number): ApplyResult {
    const me = this.nodes.get(node);
    if (!me) return err(`ERR Unknown node ${node}`);
    if (!Number.isSafeInteger(epoch) || epoch < 0) return err('ERR Invalid config epoch specified: ' + epoch);
    if (this.nodes.size > 1) return err('ERR The user can assign a config epoch only when the node does not know any other node.');
    if (me.configEpoch !== 0) return err('ERR Node config epoch is already non-zero');
    me.configEpoch = epoch;
    if (epoch > this.currentEpoch) this.currentEpoch = epoch;
    return OK;
  }

  private bumpEpoch(node: string): ApplyResult {
    const me = this.nodes.get(node);
    if (!me) return err(`ERR Unknown node ${node}`);
    // Like Redis: bump only when our epoch is not already the unique maximum.
    let unique = me.configEpoch === this.currentEpoch && this.currentEpoch > 0;
    if (unique) for (const n of this.nodes.values()) if (n !== me && n.configEpoch === me.configEpoch) unique = false;
    if (unique) return { ok: true, value: `STILL ${me.configEpoch}` };
    me.configEpoch = ++this.currentEpoch;
    return { ok: true, value: `BUMPED ${me.configEpoch}` };
  }

  private nodeInfo(c: { node: string; ip: string; port: number; cport: number; hostname: string }): ApplyResult {
    const me = this.nodes.get(c.node);
    if (!me) return err(`ERR Unknown node ${c.node}`);
    me.ip = c.ip;
    me.port = c.port;
    me.cport = c.cport;
    me.hostname = c.hostname;
    return OK;
  }

  private setFailed(node: string, failed: boolean): ApplyResult {
    const me = this.nodes.get(node);
    if (!me) return err(`ERR Unknown node ${node}`);
    me.failed = failed;
    return OK;
  }

  /** Promote a replica: it takes its primary's slots (and open states) and the old primary becomes its replica. */
  private failover(replica: string, primary: string | undefined): ApplyResult {
    const r = this.nodes.get(replica);
    if (!r) return err(`ERR Unknown node ${replica}`);
    if (r.primary === null) return err("ERR You should send CLUSTER FAILOVER to a replica");
    if (primary !== undefined && r.primary !== primary) {
      return err(`ERR Failover of ${replica} in place of ${primary} refused: it now replicates ${r.primary}`);
    }
    const old = this.nodes.get(r.primary);
    if (!old) return err(`ERR Unknown node ${r.primary}`);
    for (let s = 0; s < SLOTS; s++) if (this.owners[s] === old.id) this.owners[s] = r.id;
    for (const st of this.slotStates.values()) {
      if (st.migrating?.by === old.id) st.migrating = { by: r.id, to: st.migrating.to };
      if (st.migrating?.to === old.id) st.migrating = { by: st.migrating.by, to: r.id };
      if (st.importing?.by === old.id) st.importing = { by: r.id, from: st.importing.from };
      if (st.importing?.from === old.id) st.importing = { by: st.importing.by, from: r.id };
    }
    for (const n of this.nodes.values()) if (n.primary === old.id && n !== r) n.primary = r.id;
    r.primary = null;
    old.primary = r.id;
    r.configEpoch = ++this.currentEpoch;
    return OK;
  }

  private stateOf(slot: number): SlotState {
    let st = this.slotStates.get(slot);
    if (!st) this.slotStates.set(slot, (st = {}));
    return st;
  }

  private clearState(slot: number, which: 'migrating' | 'importing'): void {
    const st = this.slotStates.get(slot);
    if (!st) return;
    delete st[which];
    if (!st.migrating && !st.importing) this.slotStates.delete(slot);
  }

  // ------------------------------------------------------------------ snapshots

  toSnapshot(): ConfigSnapshot {
    const owners: [number, number, string][] = [];
    let s = 0;
    while (s < SLOTS) {
      const o = this.owners[s];
      if (o === null) {
        s++;
        continue;
      }
      let e = s;
      while (e + 1 < SLOTS && this.owners[e + 1] === o) e++;
      owners.push([s, e, o]);
      s = e + 1;
    }
    return {
      nodes: [...this.nodes.values()].map((n) => ({ ...n })),
      owners,
      slotStates: [...this.slotStates].map(([k, v]) => [k, structuredClone(v)]),
      currentEpoch: this.currentEpoch,
      version: this.version,
    };
  }

  restore(snap: ConfigSnapshot): void {
    this.nodes.clear();
    for (const n of snap.nodes) this.nodes.set(n.id, { ...n });
    this.owners.fill(null);
    for (const [a, b, o] of snap.owners) for (let s = a; s <= b; s++) this.owners[s] = o;
    this.slotStates.clear();
    for (const [k, v] of snap.slotStates) this.slotStates.set(k, structuredClone(v));
    this.currentEpoch = snap.currentEpoch;
    this.version = snap.version;
  }

  static fromSnapshot(snap: ConfigSnapshot): ConfigState {
    const c = new ConfigState();
    c.restore(snap);
    return c;
  }

  /** Canonical text of the state, equal on two nodes iff their configurations are equal. */
  fingerprint(): string {
    const s = this.toSnapshot();
    s.nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    s.slotStates.sort((a, b) => a[0] - b[0]);
    return JSON.stringify({ ...s, version: 0 });
  }
}

function validSlot(s: number): boolean {
  return Number.isInteger(s) && s >= 0 && s < SLOTS;
}

function validRanges(ranges: SlotRanges): string | null {
  for (const [a, b] of ranges) {
    if (!validSlot(a) || !validSlot(b)) return 'ERR Invalid or out of range slot';
    if (a > b) return `ERR start slot number ${a} is greater than end slot number ${b}`;
  }
  return null;
}

/** Compress a sorted list of slots into inclusive ranges. */
export function toRanges(slots: Iterable<number>): SlotRanges {
  const out: SlotRanges = [];
  for (const s of slots) {
    const last = out[out.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}
