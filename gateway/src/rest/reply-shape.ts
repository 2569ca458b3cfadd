/**
 * Reply shapes: what a command's reply looked like on the wire, which the upstream RESP2 decoder
 * (conn.ts) does not keep. `+OK` and `$2\r\nOK` both arrive as the Buffer "OK"; a RESP3 map, set or
 * double arrives as its RESP2 form (flat array, array, bulk string). A RESP client of the gateway
 * (RESP over WebSocket, `Upstash-Response-Format: resp2`) should get the bytes Redis would have sent it,
 * so the encoders take the shape from here.
 *
 * The shape is a function of the command and its arguments alone, never of the reply's value (Redis
 * decides it the same way: SET answers +OK, SET ... GET a bulk string). Replies a script builds
 * (redis.status_reply, RESP3 types from Lua) cannot be known and stay in their RESP2 form.
 */
import { RespWriter } from '../../../common/src/resp/writer';
import type { Arg, Reply } from '../cluster/client';

export type Shape =
  /** A string reply is a simple string (+OK, +string from TYPE). */
  | 'status'
  /** Flat [k, v, ...] -> RESP3 map (HGETALL, CONFIG GET, HELLO). */
  | 'map'
  /** Array -> RESP3 set (SMEMBERS). */
  | 'set'
  /** Bulk string -> RESP3 double (ZSCORE). */
  | 'double'
  /** Array of bulk string or nil -> doubles (ZMSCORE). */
  | 'doubles'
  /** Flat [member, score, ...] -> RESP3 [[member, score(double)], ...] (ZRANGE ... WITHSCORES). */
  | 'scored'
  /** Flat [member, score, ...] -> the same flat array with doubles (ZPOPMIN without a count). */
  | 'scored-flat'
  /** Flat [field, value, ...] -> RESP3 [[field, value], ...] (HRANDFIELD ... WITHVALUES). */
  | 'pairs'
  /** [key, member, score] -> score as a double (BZPOPMIN). */
  | 'bzpop'
  /** [key, [[member, score], ...]] -> scores as doubles (ZMPOP). */
  | 'mpop'
  /** [rank, score] -> score as a double (ZRANK ... WITHSCORE). */
  | 'rank-score'
  /** Bulk string -> RESP3 verbatim string, format txt (INFO, CLIENT LIST). */
  | 'verbatim';

/**
 * Commands (or container|subcommand) of the command table whose string reply is always a simple string.
 * Only commands the engine has (a unit test checks every name against the command table).
 */
const STATUS = new Set([
  'setex', 'psetex', 'mset', 'rename', 'lset', 'ltrim', 'hmset', 'restore', 'restore-asking', 'type',
  'flushdb', 'flushall', 'pfmerge', 'swapdb', 'migrate', 'readonly', 'readwrite', 'asking',
  'unwatch', 'discard', 'multi', 'watch', 'quit', 'reset', 'auth', 'select', 'replicaof', 'slaveof', 'shutdown',
  'script|flush', 'script|kill', 'config|set', 'config|resetstat', 'config|rewrite',
  'client|setname', 'client|setinfo', 'client|pause', 'client|unpause', 'client|no-evict',
  'client|no-touch', 'client|reply', 'slowlog|reset', 'memory|purge', 'cluster|meet', 'cluster|addslots',
  'cluster|addslotsrange', 'cluster|delslots', 'cluster|delslotsrange', 'cluster|setslot', 'cluster|forget',
  'cluster|replicate', 'cluster|failover', 'cluster|reset', 'cluster|flushslots', 'cluster|saveconfig',
  'cluster|set-config-epoch', 'cluster|bumpepoch',
]);

/** RESP3 shapes that depend on the command alone. */
const RESP3: Record<string, Shape> = {
  hgetall: 'map',
  'config|get': 'map',
  smembers: 'set',
  sinter: 'set',
  sunion: 'set',
  sdiff: 'set',
  zscore: 'double',
  zincrby: 'double',
  zmscore: 'doubles',
  bzpopmin: 'bzpop',
  bzpopmax: 'bzpop',
  zmpop: 'mpop',
  bzmpop: 'mpop',
  info: 'verbatim',
  'client|info': 'verbatim',
  'client|list': 'verbatim',
  'cluster|info': 'verbatim',
  'cluster|nodes': 'verbatim',
  'memory|doctor': 'verbatim',
  'latency|doctor': 'verbatim',
};

/** Where WITHSCORES may appear: after the range (ZRANGE family), the count, or the numkeys keys. */
const afterKeys = (args: readonly Arg[]): number => 2 + (Number(lower(args[1])) || 0);
const WITHSCORES_FROM: Record<string, (args: readonly Arg[]) => number> = {
  zrange: () => 4,
  zrangebyscore: () => 4,
  zrevrange: () => 4,
  zrevrangebyscore: () => 4,
  zrandmember: () => 3,
  zunion: afterKeys,
  zinter: afterKeys,
  zdiff: afterKeys,
};

/** Every command name the shapes above know (container|subcommand for subcommands), for the table check. */
export const SHAPED_COMMANDS: readonly string[] = [
  ...STATUS, ...Object.keys(RESP3), ...Object.keys(WITHSCORES_FROM),
  'set', 'ping', 'spop', 'zadd', 'zpopmin', 'zpopmax', 'zrank', 'zrevrank', 'hrandfield',
];
const ZADD_OPTIONS = new Set(['nx', 'xx', 'gt', 'lt', 'ch']);
const CONTAINERS = new Set(['xgroup', 'script', 'function', 'config', 'client', 'slowlog', 'memory', 'acl', 'cluster', 'latency']);

function lower(a: Arg | undefined): string {
  if (a === undefined) return '';
  return (typeof a === 'string' ? a : a.toString('latin1')).toLowerCase();
}

function hasWord(args: readonly Arg[], from: number, word: string): boolean {
  for (let i = from; i < args.length; i++) {
    const a = args[i]!;
    if (a.length === word.length && lower(a) === word) return true;
  }
  return false;
}

/**
 * The shape of `args`'s reply for a client speaking `proto`, or undefined when the RESP2 decoding
 * (bulk strings, flat arrays) is already what Redis sends.
 */
export function replyShape(args: readonly Arg[], proto: 2 | 3): Shape | undefined {
  let name = lower(args[0]);
  if (CONTAINERS.has(name)) name = `${name}|${lower(args[1])}`;
  if (STATUS.has(name)) return 'status';
  switch (name) {
    case 'set':
      return hasWord(args, 3, 'get') ? undefined : 'status';
    case 'ping':
      return args.length === 1 ? 'status' : undefined;
  }
  if (proto === 2) return undefined;
  const s = RESP3[name];
  if (s !== undefined) return s;
  switch (name) {
    case 'spop':
      return args.length === 3 ? 'set' : undefined;
    case 'zadd':
      return zaddIncr(args) ? 'double' : undefined;
    case 'zpopmin':
    case 'zpopmax':
      return args.length === 3 ? 'scored' : 'scored-flat';
    case 'zrank':
    case 'zrevrank':
      return hasWord(args, 3, 'withscore') ? 'rank-score' : undefined;
    case 'hrandfield':
      return hasWord(args, 3, 'withvalues') ? 'pairs' : undefined;
  }
  const from = WITHSCORES_FROM[name];
  if (from !== undefined) return hasWord(args, from(args), 'withscores') ? 'scored' : undefined;
  return undefined;
}

/** ZADD's options come before the first score: INCR among them (a member may be called "incr"). */
function zaddIncr(args: readonly Arg[]): boolean {
  for (let i = 2; i < args.length; i++) {
    const w = lower(args[i]);
    if (w === 'incr') return true;
    if (!ZADD_OPTIONS.has(w)) return false;
  }
  return false;
}

const writer = new RespWriter();
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A decoded reply as the RESP bytes Redis would send a client speaking `proto`, given its shape. In
 * RESP2 only `status` changes anything (the other shapes are RESP2's own form already).
 */
export function encodeResp(r: Reply, proto: 2 | 3, shape?: Shape): Buffer {
  writer.proto = proto;
  writeReply(writer, r, proto === 2 && shape !== 'status' ? undefined : shape);
  return writer.take();
}

/** An EXEC reply: each queued command's reply with its own shape. */
export function encodeEach(r: Reply, proto: 2 | 3, shapes: ReadonlyArray<Shape | undefined>): Buffer {
  if (!Array.isArray(r)) return encodeResp(r, proto);
  writer.proto = proto;
  writer.array(r.length);
  for (let i = 0; i < r.length; i++) {
    const shape = shapes[i];
    writeReply(writer, r[i]!, proto === 2 && shape !== 'status' ? undefined : shape);
  }
  return writer.take();
}

/** Which elements of an array reply are doubles, for the shapes that mark some by position. */
function doubleAt(shape: Shape, i: number): boolean {
  switch (shape) {
    case 'doubles':
      return true;
    case 'scored-flat':
      return i % 2 === 1;
    case 'rank-score':
      return i === 1;
    case 'bzpop':
      return i === 2;
    default:
      return false;
  }
}

function writeReply(w: RespWriter, r: Reply, shape: Shape | undefined): void {
  if (r === null) return w.nil();
  if (r instanceof Error) {
    // The upstream connection decoded the error text as UTF-8; the writer takes bytes as latin1.
    const m = r.message;
    return w.error(NON_ASCII.test(m) ? Buffer.from(m, 'utf8').toString('latin1') : m);
  }
  if (typeof r === 'number') return w.int(r);
  if (Buffer.isBuffer(r)) {
    if (shape === 'status' && r.indexOf(13) < 0 && r.indexOf(10) < 0) return w.simple(r.latin1Slice(0, r.length));
    if (shape === 'double') return w.doubleText(r.latin1Slice(0, r.length));
    if (shape === 'verbatim') return w.verbatim(r.latin1Slice(0, r.length));
    return w.bulkBytes(r);
  }
  switch (shape) {
    case 'map':
      w.map(r.length >> 1);
      for (const x of r) writeReply(w, x, undefined);
      return;
    case 'set':
      w.set(r.length);
      for (const x of r) writeReply(w, x, undefined);
      return;
    case 'scored':
    case 'pairs':
      w.array(r.length >> 1);
      for (let i = 0; i + 1 < r.length; i += 2) {
        w.array(2);
        writeReply(w, r[i]!, undefined);
        writeReply(w, r[i + 1]!, shape === 'scored' ? 'double' : undefined);
      }
      return;
    case 'mpop':
      // [key, [[member, score], ...]]
      w.array(r.length);
      for (let i = 0; i < r.length; i++) {
        const x = r[i]!;
        if (i === 1 && Array.isArray(x)) {
          w.array(x.length);
          for (const pair of x) writeReply(w, pair, 'rank-score');
        } else writeReply(w, x, undefined);
      }
      return;
  }
  w.array(r.length);
  for (let i = 0; i < r.length; i++) writeReply(w, r[i]!, shape !== undefined && doubleAt(shape, i) ? 'double' : undefined);
}
