/** Command handlers: connection family (specs in common/src/commands/specs/connection.ts). */
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { E, eq, parseInt64 } from './args';
import type { Client } from '../server/client';
import { REDIS_VERSION } from '../version';

function checkPassword(c: Client, user: string, pass: string): void {
  const required = c.server.config.str('requirepass');
  if (required === '' && user === 'default') {
    throw new ReplyError(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
  }
  if (user !== 'default' || pass !== required) {
    throw new ReplyError('WRONGPASS invalid username-password pair or user is disabled.');
  }
  c.setAuthenticated(true);
  c.user = user;
}

/** CLIENT LIST / CLIENT INFO line for one client. */
export function clientInfoLine(c: Client): string {
  const now = Date.now();
  let flags = '';
  if (c.multi !== null) flags += 'x';
  if (c.blocked) flags += 'b';
  if (c.subscriptionCount > 0) flags += 'P';
  if (c.monitor) flags += 'O';
  if (c.readonlyMode) flags += 'r';
  if (c.noEvict) flags += 'e';
  if (c.noTouch) flags += 'T';
  if (c.isPrimaryLink) flags += 'M';
  if (c.isReplicaLink) flags += 'S';
  if (c.closeAfterReply) flags += 'c';
  if (flags === '') flags = 'N';
  const qbuf = c.parser.bufferedBytes;
  const omem = c.outBytes + c.socket.writableLength;
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=${(c.socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1} ` +
    `name=${c.name} age=${Math.floor((now - c.createdAt) / 1000)} idle=${Math.floor((now - c.lastInteraction) / 1000)} ` +
    `flags=${flags} db=${c.dbIndex} sub=${c.channels.size} psub=${c.patterns.size} ssub=${c.shardChannels.size} ` +
    `multi=${c.multi === null ? -1 : c.multi.length} qbuf=${qbuf} qbuf-free=${Math.max(0, 32768 - qbuf)} argv-mem=0 ` +
    `multi-mem=0 rbs=16384 rbp=0 obl=0 oll=${c.out.length} omem=${omem} tot-mem=${qbuf + omem + 1024} ` +
    `events=r${omem > 0 ? 'w' : ''} cmd=${c.lastCommand} user=${c.user} redir=-1 resp=${c.resp} ` +
    `lib-name=${c.libName} lib-ver=${c.libVer}`
  );
}

function clientType(c: Client): string {
  if (c.isPrimaryLink) return 'master';
  if (c.isReplicaLink) return 'replica';
  if (c.subscriptionCount > 0) return 'pubsub';
  return 'normal';
}

function validName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch < 33 || ch > 126) return false;
  }
  return true;
}

export const handlers: HandlerMap = {
  ping(c, argv) {
    if (argv.length > 2) throw new ReplyError("ERR wrong number of arguments for 'ping' command");
    if (c.inSubscribedMode) {
      c.w.array(2);
      c.w.bulk('pong');
      c.w.bulk(argv.length === 2 ? argv[1] : '');
      return;
    }
    if (argv.length === 2) c.w.bulk(argv[1]);
    else c.w.simple('PONG');
  },

  echo(c, argv) {
    c.w.bulk(argv[1]);
  },

  quit(c) {
    c.w.ok();
    c.closeAfterReply = true;
  },

  reset(c) {
    const s = c.server;
    c.multi = null;
    c.multiError = false;
    c.unwatchAll();
    s.pubsub.removeClient(c);
    s.monitors.delete(c);
    c.monitor = false;
    c.select(0);
    c.resp = 2;
    c.w.proto = 2;
    c.name = '';
    c.replyMode = 'on';
    c.noEvict = false;
    c.noTouch = false;
    c.readonlyMode = false;
    c.asking = false;
    if (s.config.str('requirepass') !== '') c.setAuthenticated(false);
    c.w.simple('RESET');
  },

  select(c, argv) {
    const n = parseInt64(argv[1], 'ERR value is not an integer or out of range');
    if (n < 0 || n >= c.server.dbs.length) throw new ReplyError('ERR DB index is out of range');
    c.select(n);
    c.w.ok();
  },

  auth(c, argv) {
    if (argv.length > 3) throw new ReplyError(E.syntax);
    const user = argv.length === 3 ? argv[1] : 'default';
    const pass = argv[argv.length - 1];
    checkPassword(c, user, pass);
    c.w.ok();
  },

  hello(c, argv) {
    let proto = c.resp as number;
    let i = 1;
    if (argv.length >= 2) {
      const v = argv[1];
      if (!/^-?\d+$/.test(v)) throw new ReplyError('ERR Protocol version is not an integer or out of range');
      proto = Number(v);
      if (proto < 2 || proto > 3) throw new ReplyError('NOPROTO unsupported protocol version');
      i = 2;
    }
    let setname: string | null = null;
    for (; i < argv.length; i++) {
      const opt = argv[i].toUpperCase();
      if (opt === 'AUTH' && i + 2 < argv.length) {
        checkPassword(c, argv[i + 1], argv[i + 2]);
        i += 2;
      } else if (opt === 'SETNAME' && i + 1 < argv.length) {
        setname = argv[++i];
        if (!validName(setname)) throw new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.');
      } else {
        throw new ReplyError(`ERR Syntax error in HELLO option '${argv[i]}'`);
      }
    }
    if (!c.authenticated) throw new ReplyError('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    if (setname !== null) c.name = setname;
    c.resp = proto as 2 | 3;
    c.w.proto = c.resp;
    const w = c.w;
    w.map(7);
    w.bulk('server');
    w.bulk('redis');
    w.bulk('version');
    w.bulk(REDIS_VERSION);
    w.bulk('proto');
    w.int(proto);
    w.bulk('id');
    w.int(c.id);
    w.bulk('mode');
    w.bulk(c.server.config.bool('cluster-enabled') ? 'cluster' : 'standalone');
    w.bulk('role');
    w.bulk(c.server.isReplica ? 'replica' : 'master');
    w.bulk('modules');
    w.emptyArray();
  },

  'client|id'(c) {
    c.w.int(c.id);
  },

  'client|setname'(c, argv) {
    if (!validName(argv[2])) throw new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.');
    c.name = argv[2];
    c.w.ok();
  },

  'client|getname'(c) {
    if (c.name === '') c.w.nil();
    else c.w.bulk(c.name);
  },

  'client|setinfo'(c, argv) {
    const attr = argv[2].toUpperCase();
    if (attr !== 'LIB-NAME' && attr !== 'LIB-VER') throw new ReplyError(`ERR Unrecognized option '${argv[2]}'`);
    if (!validName(argv[3])) throw new ReplyError(`ERR ${attr.toLowerCase()} cannot contain spaces, newlines or special characters.`);
    if (attr === 'LIB-NAME') c.libName = argv[3];
    else c.libVer = argv[3];
    c.w.ok();
  },

  'client|list'(c, argv) {
    let list = [...c.server.clients.values()];
    for (let i = 2; i < argv.length; i++) {
      const opt = argv[i].toUpperCase();
      if (opt === 'TYPE' && i + 1 < argv.length) {
        const t = argv[++i].toLowerCase();
        const norm = t === 'slave' ? 'replica' : t;
        if (!['normal', 'master', 'replica', 'pubsub'].includes(norm)) throw new ReplyError(`ERR Unknown client type '${argv[i]}'`);
        list = list.filter((x) => clientType(x) === norm);
      } else if (opt === 'ID' && i + 1 < argv.length) {
        const ids = new Set<number>();
        for (i++; i < argv.length; i++) {
          const n = Number(argv[i]);
          if (!Number.isInteger(n) || n <= 0) throw new ReplyError('ERR Invalid client ID');
          ids.add(n);
        }
        list = list.filter((x) => ids.has(x.id));
      } else throw new ReplyError(E.syntax);
    }
    c.w.verbatim(list.map((x) => clientInfoLine(x) + '\n').join(''));
  },

  'client|info'(c) {
    c.w.verbatim(clientInfoLine(c) + '\n');
  },

  'client|kill'(c, argv) {
    const s = c.server;
    if (argv.length === 3) {
      const target = [...s.clients.values()].find((x) => x.addr === argv[2]);
      if (!target) throw new ReplyError('ERR No such client');
      s.closeClient(target, target !== c);
      if (target === c) c.closeAfterReply = true;
      c.w.ok();
      return;
    }
    if ((argv.length - 2) % 2 !== 0) throw new ReplyError(E.syntax);
    let skipMe = true;
    const filters: ((x: Client) => boolean)[] = [];
    for (let i = 2; i < argv.length; i += 2) {
      const opt = argv[i].toUpperCase();
      const val = argv[i + 1];
      if (opt === 'ID') {
        const id = Number(val);
        if (!Number.isInteger(id) || id <= 0) throw new ReplyError('ERR client-id should be greater than 0');
        filters.push((x) => x.id === id);
      } else if (opt === 'ADDR') filters.push((x) => x.addr === val);
      else if (opt === 'LADDR') filters.push((x) => x.laddr === val);
      else if (opt === 'USER') filters.push((x) => x.user === val);
      else if (opt === 'TYPE') {
        const t = val.toLowerCase() === 'slave' ? 'replica' : val.toLowerCase();
        if (!['normal', 'master', 'replica', 'pubsub'].includes(t)) throw new ReplyError(`ERR Unknown client type '${val}'`);
        filters.push((x) => clientType(x) === t);
      } else if (opt === 'SKIPME') {
        const v = val.toLowerCase();
        if (v !== 'yes' && v !== 'no') throw new ReplyError(E.syntax);
        skipMe = v === 'yes';
      } else if (opt === 'MAXAGE') {
        const age = parseInt64(val);
        filters.push((x) => (Date.now() - x.createdAt) / 1000 >= age);
      } else throw new ReplyError(E.syntax);
    }
    let killed = 0;
    for (const x of [...s.clients.values()]) {
      if (x === c && skipMe) continue;
      if (!filters.every((f) => f(x))) continue;
      killed++;
      if (x === c) c.closeAfterReply = true;
      else s.closeClient(x, true);
    }
    c.w.int(killed);
  },

  'client|reply'(c, argv) {
    const mode = argv[2].toUpperCase();
    if (mode === 'ON') {
      c.replyMode = 'on';
      c.w.ok();
    } else if (mode === 'OFF') c.replyMode = 'off';
    else if (mode === 'SKIP') {
      if (c.replyMode !== 'off') c.replyMode = 'skip';
    } else throw new ReplyError(E.syntax);
  },

  'client|no-evict'(c, argv) {
    const v = argv[2].toUpperCase();
    if (v !== 'ON' && v !== 'OFF') throw new ReplyError(E.syntax);
    c.noEvict = v === 'ON';
    c.w.ok();
  },

  'client|no-touch'(c, argv) {
    const v = argv[2].toUpperCase();
    if (v !== 'ON' && v !== 'OFF') throw new ReplyError(E.syntax);
    c.noTouch = v === 'ON';
    c.w.ok();
  },

  'client|pause'(c, argv) {
    const ms = parseInt64(argv[2], 'ERR timeout is not an integer or out of range');
    if (ms < 0) throw new ReplyError('ERR timeout is negative');
    const mode = argv.length > 3 ? argv[3].toUpperCase() : 'ALL';
    if (argv.length > 4 || (mode !== 'ALL' && mode !== 'WRITE')) throw new ReplyError(E.syntax);
    c.server.pauseClients(Date.now() + ms, mode === 'WRITE');
    c.w.ok();
  },

  'client|unpause'(c) {
    c.server.unpauseClients();
    c.w.ok();
  },

  'client|unblock'(c, argv) {
    const id = parseInt64(argv[2]);
    let mode = 'TIMEOUT';
    if (argv.length === 4) mode = argv[3].toUpperCase();
    if (argv.length > 4 || (mode !== 'TIMEOUT' && mode !== 'ERROR')) {
      throw new ReplyError('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
    }
    const target = c.server.clients.get(id);
    if (!target || !target.blocked || target.blocked.deferred) {
      c.w.int(0);
      return;
    }
    c.server.unblockWith(target, mode === 'ERROR' ? 'UNBLOCKED client unblocked via CLIENT UNBLOCK' : null);
    c.w.int(1);
  },

  'client|getredir'(c) {
    c.w.int(-1);
  },

  'client|help'(c) {
    c.w.bulkArray([
      'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'GETNAME', '    Return the name of the current connection.',
      'ID', '    Return the ID of the current connection.',
      'INFO', '    Return information about the current client connection.',
      'KILL <ip:port>', '    Kill connection made from <ip:port>.',
      'KILL <option> <value> [<option> <value> [...]]', '    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME, MAXAGE.',
      'LIST [options ...]', '    Return information about client connections. Options: TYPE (normal|master|replica|pubsub), ID.',
      'UNPAUSE', '    Stop the current client pause, resuming traffic.',
      'PAUSE <timeout> [WRITE|ALL]', '    Suspend all, or just write, clients for <timeout> milliseconds.',
      'REPLY (ON|OFF|SKIP)', '    Control the replies sent to the current connection.',
      'SETNAME <name>', '    Assign the name <name> to the current connection.',
      'SETINFO <option> <value>', '    Set client meta attr. Options are: LIB-NAME, LIB-VER.',
      'UNBLOCK <clientid> [TIMEOUT|ERROR]', '    Unblock the specified blocked client.',
      'NO-EVICT (ON|OFF)', '    Protect current client connection from eviction.',
      'NO-TOUCH (ON|OFF)', '    Will not touch LRU/LFU stats when this mode is on.',
      'HELP', '    Print this help.',
    ]);
  },
};

void eq;
