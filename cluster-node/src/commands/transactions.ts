/** Command handlers: transactions family (specs in common/src/commands/specs/transactions.ts). */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import type { Client } from '../server/client';

function discard(c: Client): void {
  c.multi = null;
  c.multiError = false;
  c.unwatchAll();
}

/** A WATCHed key that was live at WATCH time and has logically expired since counts as changed. */
function watchedKeyExpired(c: Client): boolean {
  for (const wk of c.watching) if (!wk.expiredAtWatch && wk.db.isExpired(wk.key)) return true;
  return false;
}

export const handlers: HandlerMap = {
  multi(c) {
    if (c.multi !== null) throw new ReplyError('ERR MULTI calls can not be nested');
    c.multi = [];
    c.multiError = false;
    c.w.ok();
  },

  discard(c) {
    if (c.multi === null) throw new ReplyError('ERR DISCARD without MULTI');
    discard(c);
    c.w.ok();
  },

  exec(c) {
    const s = c.server;
    const queued = c.multi;
    if (queued === null) throw new ReplyError('ERR EXEC without MULTI');
    if (c.multiError) {
      discard(c);
      throw new ReplyError('EXECABORT Transaction discarded because of previous errors.');
    }
    if (c.dirtyCas || watchedKeyExpired(c)) {
      discard(c);
      c.w.nilArray();
      return;
    }
    c.multi = null;
    c.unwatchAll();
    const w = c.w;
    w.array(queued.length);
    c.inExec = true;
    s.beginTransactionPropagation();
    try {
      for (const q of queued) {
        const h = s.handlerFor(q.spec.name)!;
        const err = s.preconditions(c, h);
        if (err !== null) {
          w.error(err);
          continue;
        }
        s.call(c, h, q.argv);
      }
    } finally {
      c.inExec = false;
      s.endTransactionPropagation(c.dbIndex);
    }
  },

  watch(c, argv) {
    if (c.multi !== null) throw new ReplyError('ERR WATCH inside MULTI is not allowed');
    const db = c.db;
    for (let i = 1; i < argv.length; i++) {
      const key = argv[i];
      if (c.watching.some((wk) => wk.db === db && wk.key === key)) continue;
      c.watching.push({ db, key, expiredAtWatch: db.isExpired(key) });
      db.watch(key, c);
    }
    c.w.ok();
  },

  unwatch(c) {
    c.unwatchAll();
    c.w.ok();
  },
};
