/**
 * Reply shapes: what a command's reply looked like on the wire, which the upstream RESP2 decoder
 * (ioredis) does not keep. `+OK` and `$2\r\nOK` both arrive as the Buffer "OK"; a RESP3 map, set or
 * double arrives as its RESP2 form (flat array, array, bulk string). A RESP client of the gateway
 * (RESP over WebSocket, `Upstash-Response-Format: resp2`) should get the bytes Redis would have sent it,
 * so the encoders take the shape from here.
 *
 * The shape is a function of the command and its arguments alone, never of the reply's value (Redis
 * decides it the same way: SET answers +OK, SET ... GET a bulk string). Replies a script builds
 * (redis.status_reply, RESP3 types from Lua) cannot be known and stay in their RESP2 form.
 */
import type { Arg, Reply } from '../cluster/client';

export type Shape =
  /** A string reply is a simple string (+OK, +string from TYPE). */
  | 'status'
  /** Flat [k, v, ...] -> RESP3 map (HGETALL, CONFIG GET). */
  | 'map'
  /** [[k, v], ...] -> RESP3 map (XREAD: stream name -> entries). */
  | 'pairs-map'
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
  /** [[lon, lat] | nil, ...] -> coordinates as doubles (GEOPOS). */
  | 'geopos'
  /** Items [member, ..., [lon, lat]] -> coordinates as doubles (GEOSEARCH ... WITHCOORD). */
  | 'geo-coord'
  /** Bulk string -> RESP3 verbatim string, format txt (INFO, CLIENT LIST). */
  | 'verbatim';

/** Commands (or container|subcommand) whose string reply is always a simple string. */
const STATUS = new Set([
  'setex', 'psetex', 'mset', 'rename', 'lset', 'ltrim', 'hmset', 'restore', 'restore-asking', 'type',
  'flushdb', 'flushall', 'pfmerge', 'xsetid', 'swapdb', 'migrate', 'readonly', 'readwrite', 'asking',
  'save', 'bgsave', 'bgrewriteaof', 'unwatch', 'discard', 'multi', 'watch', 'quit', 'reset', 'auth', 'select',
  'replicaof', 'slaveof', 'failover', 'shutdown',
  'xgroup|create', 'xgroup|setid', 'script|flush', 'script|kill', 'function|delete', 'function|flush',
  'function|restore', 'function|kill', 'config|set', 'config|resetstat', 'config|rewrite',
  'client|setname', 'client|setinfo', 'client|pause', 'client|unpause', 'client|no-evict',
  'client|no-touch', 'client|reply', 'client|tracking', 'client|caching', 'slowlog|reset', 'memory|purge',
  'acl|setuser', 'acl|save', 'acl|load', 'cluster|meet', 'cluster|addslots', 'cluster|addslotsrange',
  'cluster|delslots', 'cluster|delslotsrange', 'cluster|setslot', 'cluster|forget', 'cluster|replicate',
  'cluster|failover', 'cluster|reset', 'cluster|flushslots', 'cluster|saveconfig', 'cluster|set-config-epoch',
  'cluster|bumpepoch',
]);

const RESP3: Record<string, Shape> = {
  hgetall: 'map',
  'config|get': 'map',
  xread: 'pairs-map',
  xreadgroup: 'pairs-map',
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
  geopos: 'geopos',
  info: 'verbatim',
  lolwut: 'verbatim',
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
/** Where GEO* options start: after the key and FROM/BY (GEOSEARCH), member + radius + unit, or lon lat radius unit. */
const GEO_FROM: Record<string, number> = { geosearch: 2, georadiusbymember: 5, georadiusbymember_ro: 5, georadius: 6, georadius_ro: 6 };
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
  const geoFrom = GEO_FROM[name];
  if (geoFrom !== undefined) return geoWithCoord(args, geoFrom) ? 'geo-coord' : undefined;
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

/** WITHCOORD among GEO* options, skipping the values of FROMMEMBER, STORE and STOREDIST. */
function geoWithCoord(args: readonly Arg[], from: number): boolean {
  for (let i = from; i < args.length; i++) {
    const w = lower(args[i]);
    if (w === 'withcoord') return true;
    if (w === 'frommember' || w === 'store' || w === 'storedist') i++;
  }
  return false;
}

const CRLF = '\r\n';
const NIL2 = Buffer.from('$-1\r\n');
const NIL3 = Buffer.from('_\r\n');
const CRLF_BUF = Buffer.from(CRLF);

function head(c: string, n: number): Buffer {
  return Buffer.from(`${c}${n}${CRLF}`);
}

/**
 * Encode a decoded reply as RESP (`proto` 2 or 3) with its shape, appending to `out`. Errors inside
 * arrays (EXEC) are error replies; nil is `$-1` in RESP2 and `_` in RESP3.
 */
export function encodeResp(r: Reply, proto: 2 | 3, shape: Shape | undefined, out: Buffer[]): Buffer[] {
  if (r === null) {
    out.push(proto === 3 ? NIL3 : NIL2);
    return out;
  }
  if (r instanceof Error) {
    out.push(Buffer.from(`-${r.message.replace(/[\r\n]+/g, ' ')}${CRLF}`));
    return out;
  }
  if (typeof r === 'number') {
    out.push(Buffer.from(`:${r}${CRLF}`));
    return out;
  }
  if (Buffer.isBuffer(r)) {
    if (shape === 'status' && r.indexOf(13) < 0 && r.indexOf(10) < 0) out.push(Buffer.from(`+${r.toString('latin1')}${CRLF}`, 'latin1'));
    else if (proto === 3 && shape === 'double') out.push(Buffer.from(`,${r.toString('latin1')}${CRLF}`, 'latin1'));
    else if (proto === 3 && shape === 'verbatim') out.push(head('=', r.length + 4), Buffer.from('txt:'), r, CRLF_BUF);
    else out.push(head('$', r.length), r, CRLF_BUF);
    return out;
  }
  // An array.
  if (proto === 2 || shape === undefined || shape === 'status' || shape === 'double' || shape === 'verbatim') {
    out.push(head('*', r.length));
    for (const x of r) encodeResp(x, proto, undefined, out);
    return out;
  }
  switch (shape) {
    case 'map':
      out.push(head('%', r.length >> 1));
      for (const x of r) encodeResp(x, 3, undefined, out);
      return out;
    case 'pairs-map':
      out.push(head('%', r.length));
      for (const x of r) {
        if (Array.isArray(x) && x.length === 2) {
          encodeResp(x[0]!, 3, undefined, out);
          encodeResp(x[1]!, 3, undefined, out);
        } else encodeResp(x, 3, undefined, out);
      }
      return out;
    case 'set':
      out.push(head('~', r.length));
      for (const x of r) encodeResp(x, 3, undefined, out);
      return out;
    case 'doubles':
      out.push(head('*', r.length));
      for (const x of r) encodeResp(x, 3, 'double', out);
      return out;
    case 'scored':
    case 'pairs':
      out.push(head('*', r.length >> 1));
      for (let i = 0; i + 1 < r.length; i += 2) {
        out.push(head('*', 2));
        encodeResp(r[i]!, 3, undefined, out);
        encodeResp(r[i + 1]!, 3, shape === 'scored' ? 'double' : undefined, out);
      }
      return out;
    case 'scored-flat':
      out.push(head('*', r.length));
      for (let i = 0; i < r.length; i++) encodeResp(r[i]!, 3, i % 2 === 1 ? 'double' : undefined, out);
      return out;
    case 'bzpop':
      out.push(head('*', r.length));
      for (let i = 0; i < r.length; i++) encodeResp(r[i]!, 3, i === 2 ? 'double' : undefined, out);
      return out;
    case 'rank-score':
      out.push(head('*', r.length));
      for (let i = 0; i < r.length; i++) encodeResp(r[i]!, 3, i === 1 ? 'double' : undefined, out);
      return out;
    case 'mpop':
      out.push(head('*', r.length));
      for (let i = 0; i < r.length; i++) {
        const x = r[i]!;
        if (i === 1 && Array.isArray(x)) {
          out.push(head('*', x.length));
          for (const pair of x) encodeResp(pair, 3, 'rank-score', out);
        } else encodeResp(x, 3, undefined, out);
      }
      return out;
    case 'geopos':
      out.push(head('*', r.length));
      for (const x of r) encodeResp(x, 3, 'doubles', out);
      return out;
    case 'geo-coord':
      out.push(head('*', r.length));
      for (const item of r) {
        if (!Array.isArray(item)) {
          encodeResp(item, 3, undefined, out);
          continue;
        }
        out.push(head('*', item.length));
        for (let i = 0; i < item.length; i++) encodeResp(item[i]!, 3, i === item.length - 1 && Array.isArray(item[i]) ? 'doubles' : undefined, out);
      }
      return out;
  }
  return out;
}
