/**
 * One numbered database. Values live in one Map for the whole db, so a lookup is one probe of one
 * table; a second index holds each hash slot's keys (a Set per slot, touched only when a key is
 * created or removed), so COUNTKEYSINSLOT and GETKEYSINSLOT cost O(keys in that slot), slot migration
 * and snapshots walk one slot, and SCAN walks slots with the slot number as its cursor. The same
 * layout serves standalone mode, where slots are just buckets.
 *
 * Why two structures: 16384 small per-slot Maps as the only store cost one or two more dependent
 * cache misses per lookup (the slot's Map object, then its table) than one large table; MSET pays
 * that ten times. The flat table plus the per-slot Sets cost 10-20% less CPU per MSET and GET and
 * about 12-15 more bytes of RSS per key than the per-slot Maps did (BENCHMARKS.md, session 14).
 *
 * Invariants: `table` and the union of the slot Sets hold the same keys, each key in the Set of its
 * own slot; every key in `expires` exists in `table`; `used` is the estimated bytes of keys and
 * values (strings exactly, collections by their `est`).
 */
import { keyHashSlot, SLOT_COUNT } from '../../../common/src/slot';
import { KEY_OVERHEAD, strBytes, type CollectionValue, type Value } from './values';

/** What a database needs from the server around it. */
export interface KeyspaceHooks {
  /** Current time in ms (cached per command by the server). */
  now(): number;
  /** A key was removed because its TTL passed (notify, propagate DEL). */
  expired(db: Db, key: string): void;
  /** True on replicas: expired keys read as missing but are deleted only by the primary's DEL. */
  readonly isReplica: boolean;
  /** True while a replica runs a command from its primary: keys are never expired for it (as Redis's expireIfNeeded). */
  readonly servingPrimary?: boolean;
}

const LFU_INIT_VAL = 5;
/** LRU clock: 10 ms ticks since this epoch, so values stay small integers (smis) for ~240 days. */
const LRU_EPOCH = Date.now();
const lruClock = (nowMs: number): number => Math.floor((nowMs - LRU_EPOCH) / 10);

export interface WatchingClient {
  dirtyCas: boolean;
}

export class Db {
  /** Every key and its value. */
  private table = new Map<string, Value>();
  /** Keys of each hash slot (undefined when the slot has none). */
  private slots: (Set<string> | undefined)[] = new Array(SLOT_COUNT).fill(undefined);
  /** Absolute expiry time (ms) of keys that have one. */
  expires = new Map<string, number>();
  /** Estimated bytes of keys and values. */
  used = 0;
  /** Clients that WATCH a key of this db. */
  watched: Map<string, Set<WatchingClient>> | null = null;
  /** Keys with clients blocked on them (BLPOP & co), in arrival order per key. */
  blockedKeys: Map<string, unknown[]> | null = null;
  /** Iterator used by the active expire cycle, resumed across cycles. */
  expireCursor: Iterator<[string, number]> | null = null;
  /** Keyspace hits/misses are counted by the server; avg_ttl estimate for INFO keyspace. */
  avgTtl = 0;
  /**
   * Access tracking for LRU/LFU eviction and OBJECT IDLETIME/FREQ: key -> LRU clock (seconds) or
   * LFU word ((minutes & 0xffff) << 8 | log counter). Null when the eviction policy needs neither.
   */
  access: Map<string, number> | null = null;
  lfu = false;
  lfuLogFactor = 10;
  lfuDecayMinutes = 1;

  constructor(
    readonly id: number,
    private readonly hooks: KeyspaceHooks,
  ) {}

  /** Number of keys, expired-but-not-yet-reclaimed included. */
  get size(): number {
    return this.table.size;
  }

  /** The value without checking expiry (internal use: migration, DEBUG). */
  peek(key: string): Value | undefined {
    return this.table.get(key);
  }

  /** Look a key up, treating an expired key as missing (and reclaiming it on a primary). */
  get(key: string): Value | undefined {
    const v = this.table.get(key);
    if (v === undefined) return v;
    if (this.expires.size !== 0) {
      const when = this.expires.get(key);
      if (when !== undefined && when <= this.hooks.now()) {
        if (!this.hooks.isReplica) {
          this.expireNow(key);
          return undefined;
        }
        if (this.hooks.servingPrimary !== true) return undefined;
      }
    }
    if (this.access !== null) this.touchAccess(key);
    return v;
  }

  /** Record an access for LRU/LFU (Redis's updateLFU / LRU clock). */
  touchAccess(key: string): void {
    const access = this.access!;
    const now = this.hooks.now();
    if (!this.lfu) {
      access.set(key, lruClock(now));
      return;
    }
    const minutes = Math.floor(now / 60000) & 0xffff;
    const word = access.get(key) ?? ((minutes << 8) | LFU_INIT_VAL);
    let counter = word & 0xff;
    const last = word >>> 8;
    const elapsed = minutes >= last ? minutes - last : 65535 - last + minutes;
    if (this.lfuDecayMinutes > 0) counter = Math.max(0, counter - Math.floor(elapsed / this.lfuDecayMinutes));
    if (counter < 255) {
      const base = Math.max(0, counter - LFU_INIT_VAL);
      if (Math.random() < 1 / (base * this.lfuLogFactor + 1)) counter++;
    }
    access.set(key, (minutes << 8) | counter);
  }

  /** A new key's access data, as Redis's createObject sets it: LRU clock now, or LFU_INIT_VAL stamped now. */
  initAccess(key: string): void {
    const now = this.hooks.now();
    this.access!.set(key, this.lfu ? ((Math.floor(now / 60000) & 0xffff) << 8) | LFU_INIT_VAL : lruClock(now));
  }

  /** LFU counter of a key after decay (OBJECT FREQ). */
  lfuCounter(key: string): number {
    const word = this.access?.get(key);
    if (word === undefined) return 0;
    const minutes = Math.floor(this.hooks.now() / 60000) & 0xffff;
    const last = word >>> 8;
    const elapsed = minutes >= last ? minutes - last : 65535 - last + minutes;
    const counter = word & 0xff;
    return this.lfuDecayMinutes > 0 ? Math.max(0, counter - Math.floor(elapsed / this.lfuDecayMinutes)) : counter;
  }

  /** Idle time in 10 ms LRU ticks (eviction ranking), when LRU tracking is on. */
  idleTicks(key: string): number {
    const t = this.access?.get(key);
    if (t === undefined || this.lfu) return 0;
    return Math.max(0, lruClock(this.hooks.now()) - t);
  }

  /** Seconds since the key was last accessed (OBJECT IDLETIME), when LRU tracking is on. */
  idleSeconds(key: string): number {
    const t = this.access?.get(key);
    if (t === undefined || this.lfu) return 0;
    return Math.max(0, Math.floor((lruClock(this.hooks.now()) - t) / 100));
  }

  /**
   * RESTORE ... IDLETIME / FREQ (Redis's objectSetLRUOrLFU): under an LRU policy make the key look
   * last accessed `idleSeconds` ago; under an LFU policy set its counter to `freq`. -1 = leave as is.
   */
  setAccess(key: string, idleSeconds: number, freq: number): void {
    const access = this.access;
    if (access === null) return;
    const now = this.hooks.now();
    if (this.lfu) {
      if (freq >= 0) access.set(key, ((Math.floor(now / 60000) & 0xffff) << 8) | freq);
    } else if (idleSeconds >= 0) access.set(key, lruClock(now) - idleSeconds * 100);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Delete an expired key and tell the server (notification, propagation). */
  expireNow(key: string): void {
    this.delete(key);
    this.hooks.expired(this, key);
  }

  /**
   * Set a key's value. Removes any TTL unless `keepTtl`. Accounts memory for strings; collections are
   * accounted when the server re-estimates them after a write.
   */
  set(key: string, value: Value, keepTtl = false): void {
    const t = this.table;
    const old = t.get(key);
    if (old === undefined) {
      const slot = keyHashSlot(key);
      const keys = this.slots[slot];
      if (keys === undefined) (this.slots[slot] = new Set()).add(key);
      else keys.add(key);
      this.used += KEY_OVERHEAD + strBytes(key.length);
      if (this.access !== null) this.initAccess(key);
    } else {
      this.used -= typeof old === 'string' ? strBytes(old.length) : old.est;
      if (!keepTtl && this.expires.size > 0) this.expires.delete(key);
    }
    t.set(key, value);
    if (typeof value === 'string') this.used += strBytes(value.length);
    else this.used += value.est;
  }

  /** Remove a key; true if it existed. */
  delete(key: string): boolean {
    const t = this.table;
    const old = t.get(key);
    if (old === undefined) return false;
    t.delete(key);
    const slot = keyHashSlot(key);
    const keys = this.slots[slot]!;
    keys.delete(key);
    if (keys.size === 0) this.slots[slot] = undefined;
    this.used -= KEY_OVERHEAD + strBytes(key.length) + (typeof old === 'string' ? strBytes(old.length) : old.est);
    if (this.expires.size > 0) this.expires.delete(key);
    if (this.access !== null) this.access.delete(key);
    return true;
  }

  /** Re-estimate a collection's size after it changed in place; deletes it if it became empty. */
  account(key: string, v: CollectionValue): void {
    if (v.size === 0) {
      this.delete(key);
      return;
    }
    const est = v.estimate();
    this.used += est - v.est;
    v.est = est;
  }

  /** Absolute expiry in ms, or -1 if the key has none. Caller checks existence. */
  getExpire(key: string): number {
    return this.expires.size === 0 ? -1 : (this.expires.get(key) ?? -1);
  }

  setExpire(key: string, whenMs: number): void {
    this.expires.set(key, whenMs);
  }

  /** Remove a TTL; true if there was one. */
  persist(key: string): boolean {
    return this.expires.size > 0 && this.expires.delete(key);
  }

  /** Remove every key. Returns the number removed. */
  flush(): number {
    const n = this.size;
    this.table = new Map();
    this.slots = new Array(SLOT_COUNT).fill(undefined);
    this.used = 0;
    this.expires = new Map();
    this.expireCursor = null;
    if (this.access !== null) this.access = new Map();
    return n;
  }

  /** Swap contents with another db (SWAPDB); watchers and blocked clients stay with their db number. */
  swapWith(other: Db): void {
    [this.table, other.table] = [other.table, this.table];
    [this.slots, other.slots] = [other.slots, this.slots];
    [this.used, other.used] = [other.used, this.used];
    [this.expires, other.expires] = [other.expires, this.expires];
    [this.access, other.access] = [other.access, this.access];
    this.expireCursor = other.expireCursor = null;
  }

  /** The keys of one slot (undefined when it has none); values via `peek`. */
  slotKeys(slot: number): ReadonlySet<string> | undefined {
    return this.slots[slot];
  }

  countKeysInSlot(slot: number): number {
    return this.slots[slot]?.size ?? 0;
  }

  keysInSlot(slot: number, count: number): string[] {
    const out: string[] = [];
    const keys = this.slots[slot];
    if (keys === undefined) return out;
    for (const k of keys) {
      if (out.length >= count) break;
      out.push(k);
    }
    return out;
  }

  /** Remove every key of one slot (cluster: slot deleted or handed off). Returns the count. */
  deleteSlot(slot: number): number {
    const keys = this.slots[slot];
    if (keys === undefined) return 0;
    const all = [...keys];
    for (const k of all) this.delete(k);
    return all.length;
  }

  /**
   * SCAN over slots: visits whole slots starting at `cursor` until at least `count` keys were seen
   * (or every slot was visited) and returns the next cursor (0 when done). A key present for the
   * whole scan lives in one slot for the whole scan, so it is returned at least once. Values via `peek`.
   */
  scan(cursor: number, count: number, visit: (key: string) => void): number {
    let seen = 0;
    let slot = cursor;
    while (slot < SLOT_COUNT && seen < count) {
      const keys = this.slots[slot];
      if (keys !== undefined) {
        for (const k of keys) visit(k);
        seen += keys.size;
      }
      slot++;
    }
    return slot >= SLOT_COUNT ? 0 : slot;
  }

  /** Every key (KEYS, DEBUG); callers filter expired ones. */
  keys(): IterableIterator<string> {
    return this.table.keys();
  }

  entries(): IterableIterator<[string, Value]> {
    return this.table.entries();
  }

  /** True if the key has a TTL that has passed (without deleting it). */
  isExpired(key: string): boolean {
    if (this.expires.size === 0) return false;
    const when = this.expires.get(key);
    return when !== undefined && when <= this.hooks.now();
  }

  /** A random non-expired key, or null. Reclaims expired keys it meets (on a primary). */
  randomKey(rand: () => number = Math.random): string | null {
    for (let tries = 0; tries < 100 && this.size > 0; tries++) {
      const key = this.randomRawKey(rand);
      if (key === null) return null;
      if (!this.isExpired(key)) return key;
      if (this.hooks.isReplica) {
        if (tries > 50) return key;
      } else this.expireNow(key);
    }
    return null;
  }

  private randomRawKey(rand: () => number): string | null {
    if (this.size === 0) return null;
    let slot = Math.floor(rand() * SLOT_COUNT);
    for (let i = 0; i < SLOT_COUNT; i++, slot = (slot + 1) % SLOT_COUNT) {
      const keys = this.slots[slot];
      if (keys === undefined) continue;
      let idx = Math.floor(rand() * keys.size);
      for (const k of keys) if (idx-- === 0) return k;
    }
    return null;
  }

  /** Register a watcher of a key. */
  watch(key: string, c: WatchingClient): void {
    if (this.watched === null) this.watched = new Map();
    let s = this.watched.get(key);
    if (s === undefined) this.watched.set(key, (s = new Set()));
    s.add(c);
  }

  unwatch(key: string, c: WatchingClient): void {
    const s = this.watched?.get(key);
    if (s === undefined) return;
    s.delete(c);
    if (s.size === 0) this.watched!.delete(key);
  }

  /** A key changed: WATCHers of it fail their EXEC. */
  touchWatched(key: string): void {
    const s = this.watched!.get(key);
    if (s !== undefined) for (const c of s) c.dirtyCas = true;
  }

  /** Every watcher in this db fails its EXEC (FLUSHDB, SWAPDB). */
  touchAllWatched(): void {
    if (this.watched === null) return;
    for (const s of this.watched.values()) for (const c of s) c.dirtyCas = true;
  }
}
