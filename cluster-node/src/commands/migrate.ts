/**
 * Command handlers: MIGRATE and RESTORE-ASKING (specs in common/src/commands/specs/keys.ts), following
 * Redis 7's migrateCommand (cluster.c). The transfer itself is cluster/key-mover.ts: it runs without
 * blocking the event loop, the client waits through Server.deferReply while other clients' writes are
 * held, so the result is the same as Redis's blocking MIGRATE.
 *
 * Difference from Redis: inside MULTI/EXEC a MIGRATE that has keys to move cannot wait for the target,
 * so it answers an error there (argument errors and +NOKEY are still answered as Redis does).
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, parseInt64 } from './args';
import { handlers as keyHandlers } from './keys';
import { moveKeys } from '../cluster/key-mover';
import type { RespWriter } from '../../../common/src/resp/writer';

export const IN_EXEC_ERROR = 'ERR MIGRATE cannot wait for the target inside MULTI/EXEC';

export const handlers: HandlerMap = {
  migrate(c, argv) {
    let copy = false;
    let replace = false;
    let user: string | undefined;
    let password: string | undefined;
    let first = 3;
    let num = 1;
    for (let j = 6; j < argv.length; j++) {
      const more = argv.length - 1 - j;
      const opt = argv[j].toLowerCase();
      if (opt === 'copy') copy = true;
      else if (opt === 'replace') replace = true;
      else if (opt === 'auth') {
        if (more < 1) throw new ReplyError(E.syntax);
        password = argv[++j];
      } else if (opt === 'auth2') {
        if (more < 2) throw new ReplyError(E.syntax);
        user = argv[++j];
        password = argv[++j];
      } else if (opt === 'keys') {
        if (argv[3].length !== 0) throw new ReplyError('ERR When using MIGRATE KEYS option, the key argument must be set to the empty string');
        first = j + 1;
        num = argv.length - j - 1;
        break;
      } else throw new ReplyError(E.syntax);
    }
    const timeout = parseInt64(argv[5]);
    const dbid = parseInt64(argv[4]);

    // Keys that exist now; if none, +NOKEY (often a key that just expired: not an error).
    const s = c.server;
    const db = c.db;
    const keys: string[] = [];
    for (let j = 0; j < num; j++) {
      const key = argv[first + j];
      if (db.get(key) === undefined) s.stats.keyspaceMisses++;
      else {
        s.stats.keyspaceHits++;
        keys.push(key);
      }
    }
    if (keys.length === 0) {
      c.w.simple('NOKEY');
      return;
    }
    if (c.inExec) throw new ReplyError(IN_EXEC_ERROR);

    const spec = c.cmdSpec!;
    const move = moveKeys(
      s,
      { host: argv[1], port: migratePort(argv[2]), user, password },
      { srcDb: c.dbIndex, dstDb: dbid, keys },
      { copy, replace, timeoutMs: timeout },
    );
    s.deferReply(
      c,
      move.then(
        () => (w: RespWriter) => w.ok(),
        (e: unknown) => {
          // The error reply is written after dispatch accounted the call: count it here.
          const msg = e instanceof ReplyError ? e.message : 'ERR';
          const sp = msg.indexOf(' ');
          s.stats.command(spec.name).failed++;
          s.stats.errorReply(sp < 0 ? msg : msg.slice(0, sp));
          throw e;
        },
      ),
    );
  },

  'restore-asking'(c, argv) {
    keyHandlers.restore!(c, argv);
  },
};

/**
 * The port as redis-server ends up using it: atoi() (leading blanks, sign, digits, the rest ignored),
 * truncated to a C int, then handed to getaddrinfo which rejects negatives and keeps the low 16 bits.
 * Returns -1 for a port that cannot be connected to (an IOERR "connecting" error).
 */
export function migratePort(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(s)!;
  let n = m[2] === '' ? 0n : BigInt(m[2]);
  if (m[1] === '-') n = -n;
  // strtol saturates at the long range, then the value is truncated to an int.
  if (n > 9223372036854775807n) n = 9223372036854775807n;
  if (n < -9223372036854775808n) n = -9223372036854775808n;
  const port = Number(BigInt.asIntN(32, n));
  return port < 0 ? -1 : port & 0xffff;
}
