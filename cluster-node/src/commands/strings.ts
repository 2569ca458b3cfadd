/** Command handlers: strings family (specs in common/src/commands/specs/strings.ts). */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseInt64 } from './args';
import type { Client } from '../server/client';

/** The string value of a key, null if missing; throws WRONGTYPE for other types. Counts hits/misses. */
export function getString(c: Client, key: string): string | null {
  const v = c.db.get(key);
  if (v === undefined) {
    c.server.stats.keyspaceMisses++;
    return null;
  }
  c.server.stats.keyspaceHits++;
  if (typeof v !== 'string') throw new ReplyError(E.wrongType);
  return v;
}

/** Store a string (the common tail of SET-like commands): value, TTL, watchers, notification, dirty. */
export function storeString(c: Client, key: string, value: string, expireAt = -1, keepTtl = false): void {
  const db = c.db;
  const s = c.server;
  db.set(key, value, keepTtl);
  if (expireAt >= 0) db.setExpire(key, expireAt);
  s.signalModified(db, key);
  s.dirty++;
  if (s.pubsub.notifying) {
    s.pubsub.notify('$', 'set', key, db.id);
    if (expireAt >= 0) s.pubsub.notify('g', 'expire', key, db.id);
  }
}

const SET_NX = 1;
const SET_XX = 2;
const SET_GET = 4;
const SET_KEEPTTL = 8;

export const handlers: HandlerMap = {
  get(c, argv) {
    const v = getString(c, argv[1]);
    if (v === null) c.w.nil();
    else c.w.bulk(v);
  },

  set(c, argv) {
    const key = argv[1];
    const value = argv[2];
    let flags = 0;
    let expireAt = -1;
    let unit = '';
    if (argv.length > 3) {
      for (let i = 3; i < argv.length; i++) {
        const opt = argv[i].toUpperCase();
        if (opt === 'NX' && !(flags & SET_XX)) flags |= SET_NX;
        else if (opt === 'XX' && !(flags & SET_NX)) flags |= SET_XX;
        else if (opt === 'GET') flags |= SET_GET;
        else if (opt === 'KEEPTTL' && unit === '') flags |= SET_KEEPTTL;
        else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && unit === '' && !(flags & SET_KEEPTTL) && i + 1 < argv.length) {
          unit = opt;
          const n = parseInt64(argv[++i]);
          if (n <= 0) throw new ReplyError(E.invalidExpire('set'));
          const now = c.server.now();
          const ms = opt === 'EX' ? n * 1000 : opt === 'PX' ? n : opt === 'EXAT' ? n * 1000 : n;
          if (!Number.isSafeInteger(ms) || (opt === 'EX' || opt === 'PX' ? !Number.isSafeInteger(now + ms) : false)) {
            throw new ReplyError(E.invalidExpire('set'));
          }
          expireAt = opt === 'EX' || opt === 'PX' ? now + ms : ms;
        } else throw new ReplyError(E.syntax);
      }
    }
    let old: string | null = null;
    if (flags & (SET_NX | SET_XX | SET_GET)) {
      const cur = c.db.get(key);
      if (flags & SET_GET) {
        if (cur !== undefined && typeof cur !== 'string') throw new ReplyError(E.wrongType);
        old = cur === undefined ? null : cur;
      }
      if ((flags & SET_NX && cur !== undefined) || (flags & SET_XX && cur === undefined)) {
        if (flags & SET_GET) c.w.bulkOrNil(old);
        else c.w.nil();
        return;
      }
    }
    storeString(c, key, value, expireAt, (flags & SET_KEEPTTL) !== 0);
    if (expireAt >= 0 && unit !== 'PXAT') c.server.propagateAs(['SET', key, value, 'PXAT', String(expireAt)]);
    if (flags & SET_GET) c.w.bulkOrNil(old);
    else c.w.ok();
  },
};
