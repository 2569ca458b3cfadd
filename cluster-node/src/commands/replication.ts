/**
 * Command handlers: replication (specs in common/src/commands/specs/replication.ts).
 * REPLICAOF / SLAVEOF, SYNC / PSYNC and REPLCONF (the replica side of the handshake talks to these),
 * and WAIT. The machinery is in replication/replication.ts; ROLE and INFO replication render it.
 */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import type { Client } from '../server/client';
import { E, eq, isInt64, parseInt64 } from './args';
import { clientInfoLine } from './connection';

function replicaof(c: Client, argv: string[]): void {
  const s = c.server;
  const repl = s.replication;
  if (s.config.bool('cluster-enabled')) throw new ReplyError('ERR REPLICAOF not allowed in cluster mode.');
  if (eq(argv[1], 'NO') && eq(argv[2], 'ONE')) {
    if (repl.isReplica) {
      repl.promote();
      s.log.notice(`MASTER MODE enabled (user request from '${clientInfoLine(c)}')`);
    }
    c.w.ok();
    return;
  }
  if (c.isReplicaLink) throw new ReplyError('ERR Command is not valid when client is a replica.');
  const port = isInt64(argv[2]) ? Number(argv[2]) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new ReplyError('ERR Invalid master port');
  const host = argv[1];
  const cur = repl.link();
  if (cur !== null && cur.host === host && cur.port === port) {
    s.log.notice('REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.');
    c.w.simple('OK Already connected to specified master');
    return;
  }
  repl.follow(host, port);
  s.log.notice(`REPLICAOF ${host}:${port} enabled (user request from '${clientInfoLine(c)}')`);
  c.w.ok();
}

export const handlers: HandlerMap = {
  replicaof,
  slaveof: replicaof,

  sync(c) {
    c.server.replication.sync(c, null);
  },

  psync(c, argv) {
    const repl = c.server.replication;
    if (repl.isReplicaClient(c)) return;
    const offset = parseInt64(argv[2]);
    repl.sync(c, { replId: argv[1], offset });
  },

  replconf(c, argv) {
    if (argv.length % 2 === 0) throw new ReplyError(E.syntax);
    const repl = c.server.replication;
    for (let i = 1; i < argv.length; i += 2) {
      const opt = argv[i].toLowerCase();
      const val = argv[i + 1];
      if (opt === 'listening-port') {
        repl.handshake(c).port = parseInt64(val);
      } else if (opt === 'ip-address') {
        if (val.length >= 46) throw new ReplyError(`ERR REPLCONF ip-address provided by replica instance is too long: ${val.length} bytes`);
        repl.handshake(c).ip = val;
      } else if (opt === 'capa') {
        const capa = val.toLowerCase();
        if (capa === 'eof') repl.handshake(c).capaEof = true;
        else if (capa === 'psync2') repl.handshake(c).capaPsync2 = true;
      } else if (opt === 'ack') {
        // Sent by replicas; never answered.
        if (repl.isReplicaClient(c) && isInt64(val)) repl.ack(c, Number(val));
        return;
      } else if (opt === 'getack') {
        // Sent by our primary: answered with REPLCONF ACK on the link, not with a reply.
        if (c.isPrimaryLink) repl.sendAckToPrimary();
        return;
      } else if (opt === 'rdb-only') {
        const v = parseInt64(val);
        if (v < 0 || v > 1) throw new ReplyError('ERR value is out of range, value must between 0 and 1');
      } else if (opt === 'rdb-filter-only') {
        // Redis 7.2: accepted, ignored (we never filter).
      } else {
        throw new ReplyError(`ERR Unrecognized REPLCONF option: ${argv[i]}`);
      }
    }
    c.w.ok();
  },

  wait(c, argv) {
    const s = c.server;
    const repl = s.replication;
    if (repl.isReplica) {
      throw new ReplyError(
        'ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.',
      );
    }
    const need = parseInt64(argv[1]);
    const ms = parseInt64(argv[2], 'ERR timeout is not an integer or out of range');
    if (ms < 0) throw new ReplyError(E.timeoutNegative);
    const offset = repl.clientOffset(c);
    const acked = repl.ackedReplicas(offset);
    if (acked >= need || c.inExec) {
      c.w.int(acked);
      return;
    }
    s.deferReply(
      c,
      repl.waitForAcks(need, offset, ms).then((n) => (w) => w.int(n)),
    );
  },
};
