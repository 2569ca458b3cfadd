/**
 * The command table as data: every spec has exactly one handler and every handler a spec; arity and
 * flags of well-known commands equal redis-server 7's; keyPositions() finds the keys redis-server's
 * COMMAND GETKEYS finds. The expected values below were captured from redis-server 7.0.15 with
 *   redis-cli COMMAND INFO <name>             (arity, flags)
 *   redis-cli COMMAND GETKEYS <args...>       (key positions = indexes of the returned names in argv)
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, keyPositions, lookupCommand } from '../../common/src/commands/table';
import type { CommandSpec } from '../../common/src/commands/types';
import type { HandlerMap } from '../../cluster-node/src/commands/registry';
import { HANDLERS } from '../../cluster-node/src/commands/index';
import { handlers as strings } from '../../cluster-node/src/commands/strings';
import { handlers as keys } from '../../cluster-node/src/commands/keys';
import { handlers as lists } from '../../cluster-node/src/commands/lists';
import { handlers as hashes } from '../../cluster-node/src/commands/hashes';
import { handlers as sets } from '../../cluster-node/src/commands/sets';
import { handlers as zsets } from '../../cluster-node/src/commands/zsets';
import { handlers as hyperloglog } from '../../cluster-node/src/commands/hyperloglog';
import { handlers as bitmaps } from '../../cluster-node/src/commands/bitmaps';
import { handlers as pubsub } from '../../cluster-node/src/commands/pubsub';
import { handlers as transactions } from '../../cluster-node/src/commands/transactions';
import { handlers as connection } from '../../cluster-node/src/commands/connection';
import { handlers as server } from '../../cluster-node/src/commands/server';
import { handlers as cluster } from '../../cluster-node/src/commands/cluster';
import { handlers as migrate } from '../../cluster-node/src/commands/migrate';
import { handlers as replication } from '../../cluster-node/src/commands/replication';
import { handlers as clusterscan } from '../../cluster-node/src/commands/clusterscan';
import { handlers as scripting } from '../../cluster-node/src/commands/scripting';

const FAMILIES: Record<string, HandlerMap> = {
  strings,
  keys,
  lists,
  hashes,
  sets,
  zsets,
  hyperloglog,
  bitmaps,
  pubsub,
  transactions,
  connection,
  server,
  cluster,
  migrate,
  replication,
  clusterscan,
  scripting,
};

/** Every spec, subcommands included. */
function allSpecs(): CommandSpec[] {
  const out: CommandSpec[] = [];
  for (const spec of COMMANDS.values()) {
    out.push(spec);
    if (spec.subcommands) out.push(...spec.subcommands.values());
  }
  return out;
}

describe('specs and handlers pair up one to one', () => {
  const owners = new Map<string, string[]>();
  for (const [family, map] of Object.entries(FAMILIES)) {
    for (const name of Object.keys(map)) {
      let list = owners.get(name);
      if (!list) owners.set(name, (list = []));
      list.push(family);
    }
  }

  it('the family maps are exactly what HANDLERS merges', () => {
    expect(Object.keys(HANDLERS).sort()).toEqual([...owners.keys()].sort());
  });

  it('no handler name is defined by two families', () => {
    const dup = [...owners].filter(([, f]) => f.length > 1).map(([n, f]) => `${n} (${f.join(', ')})`);
    expect(dup).toEqual([]);
  });

  it('every spec has a handler (a container may instead leave its unknown-subcommand reply to dispatch)', () => {
    const missing = allSpecs()
      .filter((s) => !s.subcommands && !owners.has(s.name))
      .map((s) => s.name);
    expect(missing).toEqual([]);
  });

  it('every handler has a spec', () => {
    const names = new Set(allSpecs().map((s) => s.name));
    const orphans = [...owners.keys()].filter((n) => !names.has(n));
    expect(orphans).toEqual([]);
  });

  it('subcommand specs are named container|sub and point back to their container', () => {
    for (const spec of COMMANDS.values()) {
      expect(spec.name).toBe(spec.name.toLowerCase());
      expect(spec.container).toBeUndefined();
      for (const [key, sub] of spec.subcommands ?? []) {
        expect(sub.name).toBe(`${spec.name}|${key}`);
        expect(sub.container).toBe(spec.name);
        expect(lookupCommand([spec.name.toUpperCase(), key.toUpperCase()])).toBe(sub);
      }
    }
  });
});

/** [name, arity, flags as COMMAND INFO prints them] from redis-server 7.0.15. */
const REDIS_INFO: [string, number, string][] = [
  ['get', 2, 'readonly fast'],
  ['set', -3, 'write denyoom'],
  ['del', -2, 'write'],
  ['mget', -2, 'readonly fast'],
  ['mset', -3, 'write denyoom'],
  ['msetnx', -3, 'write denyoom'],
  ['incr', 2, 'write denyoom fast'],
  ['incrby', 3, 'write denyoom fast'],
  ['append', 3, 'write denyoom fast'],
  ['getex', -2, 'write fast'],
  ['getdel', 2, 'write fast'],
  ['lpush', -3, 'write denyoom fast'],
  ['rpush', -3, 'write denyoom fast'],
  ['lpop', -2, 'write fast'],
  ['blpop', -3, 'write noscript blocking'],
  ['brpop', -3, 'write noscript blocking'],
  ['blmove', 6, 'write denyoom noscript blocking'],
  ['lmove', 5, 'write denyoom'],
  ['lmpop', -4, 'write movablekeys'],
  ['blmpop', -5, 'write blocking movablekeys'],
  ['lrange', 4, 'readonly'],
  ['linsert', 5, 'write denyoom'],
  ['hset', -4, 'write denyoom fast'],
  ['hget', 3, 'readonly fast'],
  ['hgetall', 2, 'readonly'],
  ['hdel', -3, 'write fast'],
  ['sadd', -3, 'write denyoom fast'],
  ['smembers', 2, 'readonly'],
  ['smove', 4, 'write fast'],
  ['sinter', -2, 'readonly'],
  ['sinterstore', -3, 'write denyoom'],
  ['sintercard', -3, 'readonly movablekeys'],
  ['sunionstore', -3, 'write denyoom'],
  ['zadd', -4, 'write denyoom fast'],
  ['zrange', -4, 'readonly'],
  ['zrangestore', -5, 'write denyoom'],
  ['zunionstore', -4, 'write denyoom movablekeys'],
  ['zinterstore', -4, 'write denyoom movablekeys'],
  ['zdiff', -3, 'readonly movablekeys'],
  ['zdiffstore', -4, 'write denyoom movablekeys'],
  ['zintercard', -3, 'readonly movablekeys'],
  ['zmpop', -4, 'write movablekeys'],
  ['bzmpop', -5, 'write blocking movablekeys'],
  ['bzpopmin', -3, 'write noscript blocking fast'],
  ['expire', -3, 'write fast'],
  ['pexpireat', -3, 'write fast'],
  ['ttl', 2, 'readonly fast'],
  ['exists', -2, 'readonly fast'],
  ['type', 2, 'readonly fast'],
  ['rename', 3, 'write'],
  ['renamenx', 3, 'write fast'],
  ['copy', -3, 'write denyoom'],
  ['touch', -2, 'readonly fast'],
  ['unlink', -2, 'write fast'],
  ['keys', 2, 'readonly'],
  ['scan', -2, 'readonly'],
  ['dbsize', 1, 'readonly fast'],
  ['flushall', -1, 'write'],
  ['flushdb', -1, 'write'],
  ['swapdb', 3, 'write fast'],
  ['move', 3, 'write fast'],
  ['randomkey', 1, 'readonly'],
  ['persist', 2, 'write fast'],
  ['expiretime', 2, 'readonly fast'],
  ['publish', 3, 'pubsub loading stale fast'],
  ['subscribe', -2, 'pubsub noscript loading stale'],
  ['psubscribe', -2, 'pubsub noscript loading stale'],
  ['ssubscribe', -2, 'pubsub noscript loading stale'],
  ['spublish', 3, 'pubsub loading stale fast'],
  ['multi', 1, 'noscript loading stale fast allow_busy'],
  ['exec', 1, 'noscript loading stale skip_slowlog'],
  ['watch', -2, 'noscript loading stale fast allow_busy'],
  ['unwatch', 1, 'noscript loading stale fast allow_busy'],
  ['ping', -1, 'fast'],
  ['auth', -2, 'noscript loading stale fast no_auth allow_busy'],
  ['select', 2, 'loading stale fast'],
  ['hello', -1, 'noscript loading stale fast no_auth allow_busy'],
  ['client|list', -2, 'admin noscript loading stale'],
  ['pfadd', -2, 'write denyoom fast'],
  ['pfcount', -2, 'readonly'],
  ['pfmerge', -2, 'write denyoom'],
  ['setbit', 4, 'write denyoom'],
  ['getbit', 3, 'readonly fast'],
  ['bitcount', -2, 'readonly'],
  ['bitop', -4, 'write denyoom'],
  ['bitpos', -3, 'readonly'],
  ['bitfield', -2, 'write denyoom'],
  ['bitfield_ro', -2, 'readonly fast'],
  ['lcs', -3, 'readonly'],
  ['object|encoding', 3, 'readonly'],
  ['sort', -2, 'write denyoom movablekeys'],
  ['dump', 2, 'readonly'],
  ['restore', -4, 'write denyoom'],
  ['restore-asking', -4, 'write denyoom asking'],
  ['migrate', -6, 'write movablekeys'],
  ['setrange', 4, 'write denyoom'],
  ['getrange', 4, 'readonly'],
  ['strlen', 2, 'readonly fast'],
  ['smismember', -3, 'readonly fast'],
  ['zscore', 3, 'readonly fast'],
  ['hincrbyfloat', 4, 'write denyoom fast'],
  // Server family.
  ['info', -1, 'loading stale'],
  ['config|get', -3, 'admin noscript loading stale'],
  ['config|set', -4, 'admin noscript loading stale'],
  ['command|getkeys', -4, 'loading stale'],
  ['memory|usage', -3, 'readonly'],
  ['slowlog|get', -2, 'admin loading stale'],
  ['latency|reset', -2, 'admin noscript loading stale'],
  ['time', 1, 'loading stale fast'],
  ['monitor', 1, 'admin noscript loading stale'],
  ['debug', -2, 'admin noscript loading stale'],
  ['role', 1, 'noscript loading stale fast'],
  ['shutdown', -1, 'admin noscript loading stale no_multi allow_busy'],
];

/** Flags Redis keeps but never prints in COMMAND INFO. */
const HIDDEN = new Set(['may_replicate', 'sentinel', 'only_sentinel', 'protected']);

function spec(name: string): CommandSpec | undefined {
  const bar = name.indexOf('|');
  return bar < 0 ? COMMANDS.get(name) : COMMANDS.get(name.slice(0, bar))?.subcommands?.get(name.slice(bar + 1));
}

describe('arity and flags equal redis-server 7', () => {
  for (const [name, arity, flags] of REDIS_INFO) {
    it(name, () => {
      const s = spec(name);
      expect(s, `no spec for ${name}`).toBeDefined();
      expect(s!.arity).toBe(arity);
      const ours = s!.flags.filter((f) => !HIDDEN.has(f)) as string[];
      if (s!.movableKeys) ours.push('movablekeys');
      expect(ours.sort()).toEqual(flags.split(' ').sort());
    });
  }
});

/** [argv, key positions] from `redis-cli COMMAND GETKEYS <argv>` on redis-server 7.0.15. */
const REDIS_GETKEYS: [string, number[]][] = [
  ['get k', [1]],
  ['set k v', [1]],
  ['set k v get', [1]],
  ['del a b c', [1, 2, 3]],
  ['mget a b c', [1, 2, 3]],
  ['mset a 1 b 2 c 3', [1, 3, 5]],
  ['msetnx a 1 b 2', [1, 3]],
  ['incr k', [1]],
  ['getex k ex 10', [1]],
  ['lpush k a b', [1]],
  ['blpop a b c 0', [1, 2, 3]],
  ['brpop a 0', [1]],
  ['blmove s d left right 0', [1, 2]],
  ['lmove s d left right', [1, 2]],
  ['lmpop 2 a b left count 3', [2, 3]],
  ['blmpop 0 3 a b c right', [3, 4, 5]],
  ['linsert k before p v', [1]],
  ['hset k f v f2 v2', [1]],
  ['hgetall k', [1]],
  ['sadd k m', [1]],
  ['smove s d m', [1, 2]],
  ['sinter a b c', [1, 2, 3]],
  ['sinterstore d a b', [1, 2, 3]],
  ['sintercard 2 a b limit 5', [2, 3]],
  // Redis: "ERR Invalid arguments specified for command" (no key found).
  ['sintercard 0 a', []],
  ['sunionstore d a', [1, 2]],
  ['zadd k 1 m', [1]],
  ['zrange k 0 -1', [1]],
  ['zrangestore d s 0 -1', [1, 2]],
  ['zunionstore d 2 a b weights 1 2 aggregate max', [1, 3, 4]],
  ['zinterstore d 1 a', [1, 3]],
  ['zdiff 2 a b withscores', [2, 3]],
  ['zdiffstore d 2 a b', [1, 3, 4]],
  ['zintercard 3 a b c limit 1', [2, 3, 4]],
  ['zmpop 2 a b min', [2, 3]],
  ['bzmpop 1 2 a b max count 2', [3, 4]],
  ['bzpopmin a b 0', [1, 2]],
  ['expire k 10', [1]],
  ['ttl k', [1]],
  ['exists a b', [1, 2]],
  ['rename a b', [1, 2]],
  ['renamenx a b', [1, 2]],
  ['copy a b db 1 replace', [1, 2]],
  ['touch a b c', [1, 2, 3]],
  ['unlink a b', [1, 2]],
  ['pfadd k a b', [1]],
  ['pfcount a b', [1, 2]],
  ['pfmerge d a b', [1, 2, 3]],
  ['setbit k 1 1', [1]],
  ['bitcount k 0 1', [1]],
  ['bitop and d a b', [2, 3, 4]],
  ['bitop not d a', [2, 3]],
  ['bitpos k 1', [1]],
  ['bitfield k get u8 0', [1]],
  ['bitfield_ro k get u8 0', [1]],
  ['lcs a b len', [1, 2]],
  ['object encoding k', [2]],
  ['memory usage k samples 5', [2]],
  ['sort k', [1]],
  ['sort k limit 0 1 store d', [1, 6]],
  ['dump k', [1]],
  ['restore k 0 payload replace', [1]],
  ['restore-asking k 0 payload replace', [1]],
  ['migrate h 1 k 0 5', [3]],
  ['migrate h 1 k 0 5 copy replace', [3]],
  ['migrate h 1  0 5 keys a b', [7, 8]],
  ['migrate h 1  0 5 auth2 u p keys a b c', [10, 11, 12]],
  ['migrate h 1  0 5 auth keys a b', [3]],
  ['migrate h 1 k 0 5 keys a b', []],
  ['setrange k 0 v', [1]],
  ['smismember k a b', [1]],
  ['move k 1', [1]],
  ['getdel k', [1]],
  ['append k v', [1]],
  ['strlen k', [1]],
];

describe('keyPositions() finds the keys redis-server finds', () => {
  for (const [line, want] of REDIS_GETKEYS) {
    it(line, () => {
      const argv = line.split(' ');
      const s = lookupCommand(argv);
      expect(s, `no spec for ${argv[0]}`).toBeDefined();
      const got = keyPositions(s!, argv);
      expect(got).toEqual(want);
    });
  }
});
