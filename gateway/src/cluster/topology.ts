/**
 * The cluster as the gateway last saw it, from CLUSTER SHARDS (at start) or CLUSTER NODES (the watch and
 * refreshes, which also show migrating/importing slots and config epochs): nodes (id, address, role, primary,
 * flags), the slot -> primary map, and open slots (migrating/importing, which Redis shows only on the
 * owning node's own line, so the watcher merges every primary's view). Immutable once built (the
 * client patches MOVED slots on a `clone`); `diff`
 * tells what changed between two snapshots (slot owner changes, migrations opening and closing,
 * primary changes per shard).
 */
import { SLOT_COUNT } from '../../../common/src/slot';

export interface NodeInfo {
  id: string;
  host: string;
  port: number;
  /** "host:port", the key for connections and metrics. */
  addr: string;
  primary: boolean;
  /** For a replica, its primary's id. */
  primaryId: string | null;
  failed: boolean;
  connected: boolean;
  /** Its config epoch (CLUSTER NODES); -1 when read from CLUSTER SHARDS, which does not show it. */
  configEpoch: number;
}

export interface OpenSlot {
  slot: number;
  /** Node id marking it migrating (source) and importing (target), when seen. */
  from?: string;
  to?: string;
}

export class Topology {
  /** slot -> primary node id ('' when unassigned). */
  readonly owners: string[];
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  readonly open: ReadonlyMap<number, OpenSlot>;

  constructor(nodes: Map<string, NodeInfo>, owners: string[], open: Map<number, OpenSlot>) {
    this.nodes = nodes;
    this.owners = owners;
    this.open = open;
  }

  static empty(): Topology {
    return new Topology(new Map(), new Array<string>(SLOT_COUNT).fill(''), new Map());
  }

  /**
   * CLUSTER NODES text as answered by the node at `host`: a myself line without an address (":7000@17000",
   * a Redis node that has not met another node yet) gets the host it was reached at.
   */
  static withAskedHost(text: string, host: string): string {
    return text.replace(/^([0-9a-f]{40}) :(\d+)(@\d+(?:,\S*)?)? (\S*myself)/gm, (_m, id: string, port: string, bus: string | undefined, flags: string) => `${id} ${host}:${port}${bus ?? ''} ${flags}`);
  }

  /**
   * Parse CLUSTER NODES text. `extra` are other nodes' CLUSTER NODES outputs, consulted only for the open
   * slots on their myself lines.
   */
  static parse(text: string, extra: string[] = []): Topology {
    const nodes = new Map<string, NodeInfo>();
    const owners = new Array<string>(SLOT_COUNT).fill('');
    const open = new Map<number, OpenSlot>();
    const openOf = (slot: number): OpenSlot => {
      let o = open.get(slot);
      if (!o) open.set(slot, (o = { slot }));
      return o;
    };
    const scan = (body: string, full: boolean): void => {
      for (const line of body.split('\n')) {
        const f = line.trim().split(' ');
        if (f.length < 8 || f[0]!.length !== 40) continue;
        const [id, addrField, flagsField, primary, , , epochField, link] = f as [string, string, string, string, string, string, string, string];
        const flags = flagsField.split(',');
        const myself = flags.includes('myself');
        if (full) {
          const hp = addrField.split('@')[0]!;
          const colon = hp.lastIndexOf(':');
          const host = hp.slice(0, colon);
          const port = Number(hp.slice(colon + 1));
          if (flags.includes('noaddr') || !host || !port) continue;
          nodes.set(id, {
            id,
            host,
            port,
            addr: `${host}:${port}`,
            primary: flags.includes('master'),
            primaryId: primary === '-' ? null : primary,
            failed: flags.includes('fail'),
            connected: link === 'connected',
            configEpoch: Number(epochField) || 0,
          });
        }
        for (const s of f.slice(8)) {
          if (s.startsWith('[')) {
            if (!myself) continue;
            const m = /^\[(\d+)-([<>])-([0-9a-f]{40})\]$/.exec(s);
            if (!m) continue;
            const o = openOf(Number(m[1]));
            if (m[2] === '>') { o.from = id; o.to = m[3]; } else { o.to = id; o.from = m[3]; }
            continue;
          }
          if (!full) continue;
          const dash = s.indexOf('-');
          const a = Number(dash < 0 ? s : s.slice(0, dash));
          const b = dash < 0 ? a : Number(s.slice(dash + 1));
          if (!(a >= 0 && b < SLOT_COUNT && a <= b)) continue;
          for (let i = a; i <= b; i++) owners[i] = id;
        }
      }
    };
    scan(text, true);
    for (const e of extra) scan(e, false);
    return new Topology(nodes, owners, open);
  }

  /**
   * Build from a CLUSTER SHARDS reply (RESP2 shape: flat [name, value, ...] arrays; strings as Buffers or
   * strings, integers as numbers). CLUSTER SHARDS has no migrating/importing states: open slots come
   * from the CLUSTER NODES watch.
   */
  static fromShards(reply: unknown, asked?: { host: string; port: number }): Topology {
    const nodes = new Map<string, NodeInfo>();
    const owners = new Array<string>(SLOT_COUNT).fill('');
    const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString() : String(v));
    const fields = (v: unknown): Map<string, unknown> => {
      const m = new Map<string, unknown>();
      if (Array.isArray(v)) for (let i = 0; i + 1 < v.length; i += 2) m.set(str(v[i]), v[i + 1]);
      return m;
    };
    if (!Array.isArray(reply)) throw new Error('CLUSTER SHARDS: expected an array');
    for (const shardReply of reply) {
      const shard = fields(shardReply);
      const slots = shard.get('slots');
      const members = (shard.get('nodes') as unknown[] | undefined ?? []).map(fields);
      const primary = members.find((n) => str(n.get('role')) === 'master');
      for (const n of members) {
        const id = str(n.get('id'));
        const port = Number(str(n.get('port') ?? n.get('tls-port') ?? 0));
        let host = str(n.get('ip') ?? '') || str(n.get('endpoint') ?? '');
        // A Redis node that has not met another node does not know its own IP yet (ip ""): it is the
        // node that answered, as redis-cli and ioredis take it.
        if (!host && asked !== undefined && port === asked.port) host = asked.host;
        if (id.length !== 40 || !host || !port) continue;
        const health = str(n.get('health') ?? 'online');
        const isPrimary = n === primary;
        nodes.set(id, {
          id,
          host,
          port,
          addr: `${host}:${port}`,
          primary: isPrimary,
          primaryId: isPrimary || !primary ? null : str(primary.get('id')),
          failed: health === 'fail' || health === 'failed',
          connected: health === 'online',
          configEpoch: -1,
        });
      }
      if (!primary || !Array.isArray(slots)) continue;
      const owner = str(primary.get('id'));
      for (let i = 0; i + 1 < slots.length; i += 2) {
        const a = Number(str(slots[i]));
        const b = Number(str(slots[i + 1]));
        if (!(a >= 0 && b < SLOT_COUNT && a <= b)) continue;
        for (let x = a; x <= b; x++) owners[x] = owner;
      }
    }
    return new Topology(nodes, owners, new Map());
  }

  /** A copy with its own slot-owner array (the client patches slots after MOVED on the copy). */
  clone(): Topology {
    return new Topology(new Map(this.nodes), this.owners.slice(), new Map(this.open));
  }

  /**
   * The cluster's configuration epoch as this map shows it: the highest node config epoch. Every
   * failover and every completed slot migration raises it, so two maps with the same epoch agree on
   * which primary owns which slot. 0 is an epoch like any other (a cluster whose slots were assigned
   * once and never moved); -1 for a map read from CLUSTER SHARDS (epochs not shown) or an empty one.
   * Cached: asked on every write.
   */
  get epoch(): number {
    if (this.epochCache === null) {
      let e = -1;
      for (const n of this.nodes.values()) if (n.configEpoch > e) e = n.configEpoch;
      this.epochCache = e;
    }
    return this.epochCache;
  }

  /** A MOVED patch: `slot` is now `id`'s. */
  setOwner(slot: number, id: string): void {
    this.owners[slot] = id;
    this.shards = null;
  }

  /**
   * The shards: each primary owning slots, with the first slot it owns, ordered by address. Computed
   * once per map (writes, fan-outs and keyless commands ask); MOVED patches (setOwner) drop it.
   */
  private shardList(): ReadonlyArray<{ slot: number; node: NodeInfo }> {
    if (this.shards === null) {
      const out: Array<{ slot: number; node: NodeInfo }> = [];
      const seen = new Set<string>();
      for (let s = 0; s < SLOT_COUNT; s++) {
        const id = this.owners[s]!;
        if (id === '' || seen.has(id)) continue;
        seen.add(id);
        const node = this.nodes.get(id);
        if (node) out.push({ slot: s, node });
      }
      this.shards = out.sort((x, y) => x.node.addr.localeCompare(y.node.addr));
    }
    return this.shards;
  }

  /** One slot per shard (the first slot each primary owns) with that primary's address, by address. */
  shardSlots(): Array<{ slot: number; addr: string }> {
    return this.shardList().map((x) => ({ slot: x.slot, addr: x.node.addr }));
  }

  private shards: Array<{ slot: number; node: NodeInfo }> | null = null;
  private epochCache: number | null = null;

  private byAddr: Map<string, string> | null = null;
  private withReplicas: Set<string> | null = null;

  /** Whether the primary `id` has a replica that is not failed (cached: asked on every write). */
  hasReplicas(id: string): boolean {
    if (this.withReplicas === null) {
      this.withReplicas = new Set();
      for (const n of this.nodes.values()) if (n.primaryId !== null && !n.failed) this.withReplicas.add(n.primaryId);
    }
    return this.withReplicas.has(id);
  }

  /** The id of the node at "host:port", or null. */
  idAt(addr: string): string | null {
    if (this.byAddr === null) {
      this.byAddr = new Map();
      for (const n of this.nodes.values()) this.byAddr.set(n.addr, n.id);
    }
    return this.byAddr.get(addr) ?? null;
  }

  /** The id of the primary whose id starts with `prefix` (sync tokens carry 12 hex digits). */
  primaryIdByPrefix(prefix: string): string | undefined {
    for (const n of this.nodes.values()) if (n.primary && n.id.startsWith(prefix)) return n.id;
    return undefined;
  }

  primaries(): NodeInfo[] {
    return [...this.nodes.values()].filter((n) => n.primary);
  }

  /** Primaries that own at least one slot (the shards), in a stable order. */
  shardPrimaries(): NodeInfo[] {
    return this.shardList().map((x) => x.node);
  }

  replicasOf(id: string): NodeInfo[] {
    return [...this.nodes.values()].filter((n) => n.primaryId === id && !n.failed);
  }

  covered(): number {
    let n = 0;
    for (const o of this.owners) if (o !== '' && this.nodes.has(o)) n++;
    return n;
  }

  /** The slot ranges a node owns, as [start, end] pairs. */
  rangesOf(id: string): [number, number][] {
    const out: [number, number][] = [];
    for (let s = 0; s < SLOT_COUNT; s++) {
      if (this.owners[s] !== id) continue;
      let e = s;
      while (e + 1 < SLOT_COUNT && this.owners[e + 1] === id) e++;
      out.push([s, e]);
      s = e;
    }
    return out;
  }

  /**
   * A stable shard identity for a node: the id of the first primary the shard was seen with is not
   * known here, so a shard is named by its replica group: the lowest node id among the primary and its
   * replicas. It survives a failover (the same group, a different primary).
   */
  shardIdOf(primaryId: string): string {
    let low = primaryId;
    for (const n of this.nodes.values()) if (n.primaryId === primaryId && n.id < low) low = n.id;
    return low;
  }

  /** JSON for the dashboard page and /cluster. */
  toJSON(): unknown {
    return {
      nodes: [...this.nodes.values()],
      shards: this.shardPrimaries().map((p) => ({
        primary: p.id,
        addr: p.addr,
        ranges: this.rangesOf(p.id),
        replicas: this.replicasOf(p.id).map((r) => ({ id: r.id, addr: r.addr })),
      })),
      open: [...this.open.values()],
      covered: this.covered(),
    };
  }
}

export interface TopologyDiff {
  /** Slots whose owner changed: [slot, from id, to id]. */
  moved: Array<[number, string, string]>;
  /** Slots that became open (migrating/importing) and that closed. */
  opened: number[];
  closed: number[];
  /** Primary changes: a node that was a replica is now a primary owning slots its old primary owned. */
  failovers: Array<{ oldPrimary: string; newPrimary: string }>;
}

export function diffTopology(a: Topology, b: Topology): TopologyDiff {
  const moved: Array<[number, string, string]> = [];
  const failoverPairs = new Map<string, string>();
  for (let s = 0; s < SLOT_COUNT; s++) {
    const x = a.owners[s]!;
    const y = b.owners[s]!;
    if (x === y || x === '' || y === '') continue;
    // A slot moving to a node that was the old owner's replica is a failover, not a migration.
    const wasReplica = a.nodes.get(y)?.primaryId === x;
    if (wasReplica) failoverPairs.set(x, y);
    else moved.push([s, x, y]);
  }
  const opened: number[] = [];
  const closed: number[] = [];
  for (const s of b.open.keys()) if (!a.open.has(s)) opened.push(s);
  for (const s of a.open.keys()) if (!b.open.has(s)) closed.push(s);
  return { moved, opened, closed, failovers: [...failoverPairs].map(([oldPrimary, newPrimary]) => ({ oldPrimary, newPrimary })) };
}
