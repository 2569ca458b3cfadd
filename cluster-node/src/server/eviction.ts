/**
 * maxmemory enforcement and active expiry, both by sampling as Redis does:
 * - eviction keeps a pool of the best candidates seen in samples (idle time, LFU counter or TTL) and
 *   evicts the best until used memory is under maxmemory or a small time budget is spent;
 * - the active expire cycle walks each db's TTL map with a resumable cursor, a few keys per step, and
 *   keeps going while more than 10% of what it looked at had expired (within a time budget).
 */
import type { Db } from '../keyspace/db';
import type { Server } from './server';

const POOL_SIZE = 16;
/** Fixed overhead counted in used_memory besides the dataset (comparable to Redis's startup usage). */
export const BASE_MEMORY = 1024 * 1024;

interface Candidate {
  db: Db;
  key: string;
  score: number;
}

export class Evictor {
  private pool: Candidate[] = [];
  private volatileCursor = new Map<Db, Iterator<string>>();

  constructor(private readonly server: Server) {
    this.policyChanged();
  }

  policyChanged(): void {
    const policy = this.server.config.str('maxmemory-policy');
    const lfu = policy.endsWith('-lfu');
    const track = lfu || policy.endsWith('-lru');
    for (const db of this.server.dbs) {
      if (!track) {
        db.access = null;
      } else if (db.access === null || db.lfu !== lfu) {
        db.access = new Map();
        db.lfu = lfu;
      }
      db.lfuLogFactor = this.server.config.int('lfu-log-factor');
      db.lfuDecayMinutes = this.server.config.int('lfu-decay-time');
    }
    this.pool = [];
  }

  usedMemory(): number {
    let out = 0;
    for (const c of this.server.clients.values()) out += c.outBytes + c.socket.writableLength;
    return BASE_MEMORY + this.server.datasetBytes() + out;
  }

  /** Evict until under maxmemory; false if that was impossible (the caller answers OOM). */
  makeRoom(): boolean {
    const max = this.server.config.int('maxmemory');
    if (max <= 0) return true;
    let used = this.usedMemory();
    if (used <= max) return true;
    const policy = this.server.config.str('maxmemory-policy');
    if (policy === 'noeviction') return false;
    const deadline = performance.now() + 2;
    while (used > max) {
      const victim = this.pick(policy);
      if (victim === null) return false;
      this.evict(victim.db, victim.key);
      used = this.usedMemory();
      if (performance.now() > deadline) return used <= max;
    }
    return true;
  }

  private evict(db: Db, key: string): void {
    const s = this.server;
    db.delete(key);
    s.stats.evictedKeys++;
    s.signalModified(db, key);
    s.pubsub.notify('e', 'evicted', key, db.id);
    s.propagateNow(db.id, ['DEL', key]);
    s.dirty++;
  }

  private pick(policy: string): Candidate | null {
    const samples = this.server.config.int('maxmemory-samples');
    const volatile = policy.startsWith('volatile-');
    const dbs = this.server.dbs.filter((d) => (volatile ? d.expires.size > 0 : d.size > 0));
    if (dbs.length === 0) return null;
    if (policy.endsWith('-random')) {
      const db = dbs[Math.floor(Math.random() * dbs.length)];
      const key = volatile ? this.nextVolatile(db) : db.randomKey();
      return key === null ? null : { db, key, score: 0 };
    }
    for (const db of dbs) {
      for (let i = 0; i < samples; i++) {
        const key = volatile ? this.nextVolatile(db) : db.randomKey();
        if (key === null) break;
        this.offer({ db, key, score: this.score(policy, db, key) });
      }
    }
    while (this.pool.length > 0) {
      const best = this.pool.pop()!;
      if (best.db.peek(best.key) !== undefined) return best;
    }
    return null;
  }

  /** Higher score = better eviction candidate. */
  private score(policy: string, db: Db, key: string): number {
    if (policy.endsWith('-lru')) return db.idleTicks(key) + 1;
    if (policy.endsWith('-lfu')) return 255 - db.lfuCounter(key);
    // volatile-ttl: sooner expiry is better.
    const when = db.getExpire(key);
    return when < 0 ? 0 : Number.MAX_SAFE_INTEGER - when;
  }

  private offer(c: Candidate): void {
    const pool = this.pool;
    if (pool.some((p) => p.db === c.db && p.key === c.key)) return;
    // Pool sorted ascending by score; best at the end.
    let i = 0;
    while (i < pool.length && pool[i].score <= c.score) i++;
    if (pool.length >= POOL_SIZE) {
      if (i === 0) return;
      pool.shift();
      i--;
    }
    pool.splice(i, 0, c);
  }

  private nextVolatile(db: Db): string | null {
    let it = this.volatileCursor.get(db);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!it) {
        it = db.expires.keys();
        this.volatileCursor.set(db, it);
      }
      const r = it.next();
      if (!r.done) return r.value;
      it = undefined;
      this.volatileCursor.delete(db);
    }
    return null;
  }

  /** One active-expire cycle across dbs within `budgetMs`. */
  activeExpire(budgetMs: number): void {
    if (this.server.isReplica) return;
    const deadline = performance.now() + budgetMs;
    const now = Date.now();
    let sampled = 0;
    let expired = 0;
    for (const db of this.server.dbs) {
      if (db.expires.size === 0) continue;
      for (;;) {
        let looked = 0;
        let gone = 0;
        let ttlSum = 0;
        let ttlCount = 0;
        if (db.expireCursor === null) db.expireCursor = db.expires.entries();
        while (looked < 20) {
          const r = db.expireCursor.next();
          if (r.done) {
            db.expireCursor = null;
            break;
          }
          looked++;
          const [key, when] = r.value;
          if (when <= now) {
            if (db.expires.get(key) === when) {
              db.expireNow(key);
              gone++;
            }
          } else {
            ttlSum += when - now;
            ttlCount++;
          }
        }
        if (ttlCount > 0) {
          const avg = ttlSum / ttlCount;
          db.avgTtl = db.avgTtl === 0 ? avg : db.avgTtl * 0.98 + avg * 0.02;
        }
        sampled += looked;
        expired += gone;
        if (looked === 0 || gone * 10 <= looked || performance.now() > deadline) break;
      }
      if (performance.now() > deadline) break;
    }
    if (sampled > 0) {
      const perc = expired / sampled;
      this.server.stats.expiredStalePerc = this.server.stats.expiredStalePerc * 0.95 + perc * 0.05;
    }
  }
}
