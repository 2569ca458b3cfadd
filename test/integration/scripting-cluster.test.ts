/**
 * Scripts in cluster mode (3 real primaries formed by redis-cli --cluster create): EVAL is routed by
 * its declared keys like any keyed command (MOVED, CROSSSLOT), keyless scripts run on any node, a
 * script touching an undeclared key is refused as Redis words it (non-local key; one slot for
 * shebang scripts), the script cache is per node, and ioredis's Cluster client runs a defined command
 * over keys in every shard (EVALSHA, NOSCRIPT -> EVAL on each primary).
 */
import Redis, { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../common/src/slot';
import { keysWhere, startCluster } from '../helpers/cluster';
import type { NodeHandle } from '../helpers/node';

let nodes: NodeHandle[];
let conns: Redis[];
/** slot -> port of its owner. */
const owner: number[] = [];

beforeAll(async () => {
  nodes = await startCluster(3);
  conns = nodes.map((n) => new Redis({ port: n.port, enableReadyCheck: false }));
  const slots = (await conns[0]!.cluster('SLOTS')) as [number, number, [string, number]][];
  for (const [start, end, [, port]] of slots) for (let s = start; s <= end; s++) owner[s] = port;
}, 90_000);

afterAll(() => {
  for (const c of conns ?? []) c.disconnect();
});

describe('scripts in a cluster', () => {
  it('EVAL is routed by its declared keys: MOVED to the owner, CROSSSLOT across slots; keyless runs anywhere', async () => {
    const here = nodes[0]!.port;
    const [remote] = keysWhere('mv:', 1, (s) => owner[s] !== here);
    const slot = keyHashSlot(remote!);
    await expect(conns[0]!.eval("return redis.call('get', KEYS[1])", 1, remote!)).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${owner[slot]}`);
    await expect(conns[0]!.evalsha('f'.repeat(40), 1, remote!)).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${owner[slot]}`);
    const [a] = keysWhere('cs:', 1, (s) => owner[s] === here);
    const [b] = keysWhere('cs:', 1, (s) => owner[s] === here && s !== keyHashSlot(a!));
    await expect(conns[0]!.eval('return 1', 2, a!, b!)).rejects.toThrow("CROSSSLOT Keys in request don't hash to the same slot");
    for (const c of conns) expect(await c.eval('return redis.call("ping")', 0)).toBe('PONG');
    expect(await conns[0]!.command('GETKEYS', 'EVAL', 'return 1', '2', 'k1', 'k2', 'arg')).toEqual(['k1', 'k2']);
  });

  it('a script touching an undeclared key: elsewhere -> refused; another local slot -> allowed without a shebang, refused with one', async () => {
    const here = nodes[0]!.port;
    const [local, local2] = keysWhere('loc:', 2, (s) => owner[s] === here);
    const [remote] = keysWhere('rem:', 1, (s) => owner[s] !== here);
    await expect(conns[0]!.eval(`redis.call('set', KEYS[1], 1) return redis.call('get', '${remote}')`, 1, local!)).rejects.toThrow(
      /^ERR Script attempted to access a non local key in a cluster node script: [0-9a-f]{40}, on @user_script:1\.$/,
    );
    // Its first write happened before the refusal and stays (as in Redis).
    expect(await conns[0]!.get(local!)).toBe('1');
    expect(keyHashSlot(local!)).not.toBe(keyHashSlot(local2!));
    expect(await conns[0]!.eval(`return redis.call('set', '${local2}', 'x')`, 1, local!)).toBe('OK');
    await expect(conns[0]!.eval(`#!lua\nreturn redis.call('set', '${local2}', 'x')`, 1, local!)).rejects.toThrow(
      /^ERR Script attempted to access keys that do not hash to the same slot script: [0-9a-f]{40}, on @user_script:2\.$/,
    );
    expect(await conns[0]!.eval(`#!lua flags=allow-cross-slot-keys\nreturn redis.call('set', '${local2}', 'y')`, 1, local!)).toBe('OK');
    await expect(conns[0]!.eval("#!lua flags=no-cluster\nreturn 1", 0)).rejects.toThrow("ERR Can not run script on cluster, 'no-cluster' flag is set.");
  });

  it('during a slot migration: ASK for a script whose key moved; under ASKING the importing node runs it and its commands', async () => {
    const [a, b] = [conns[0]!, conns[1]!];
    const [here] = keysWhere('mig:', 1, (s) => owner[s] === nodes[0]!.port);
    const slot = keyHashSlot(here!);
    const moved = `{${here}}:moved`;
    await a.set(here!, 'stays');
    const aId = (await a.cluster('MYID')) as string;
    const bId = (await b.cluster('MYID')) as string;
    await b.cluster('SETSLOT', slot, 'IMPORTING', aId);
    await a.cluster('SETSLOT', slot, 'MIGRATING', bId);
    try {
      const bAddr = `127.0.0.1:${nodes[1]!.port}`;
      expect(await a.eval("return redis.call('get', KEYS[1])", 1, here!)).toBe('stays');
      await expect(a.eval("return redis.call('get', KEYS[1])", 1, moved)).rejects.toThrow(`ASK ${slot} ${bAddr}`);
      await expect(a.eval(`return redis.call('get', '${moved}')`, 1, here!)).rejects.toThrow('Script attempted to access a non local key in a cluster node');
      await expect(b.eval("return redis.call('set', KEYS[1], 'v')", 1, moved)).rejects.toThrow(`MOVED ${slot}`);
      await b.asking();
      expect(await b.eval("redis.call('set', KEYS[1], 'new') return redis.call('get', KEYS[1])", 1, moved)).toBe('new');
    } finally {
      await a.cluster('SETSLOT', slot, 'STABLE');
      await b.cluster('SETSLOT', slot, 'STABLE');
      await b.del(moved).catch(() => 0);
    }
  });

  it('the script cache is per node (SCRIPT LOAD is not replicated or broadcast)', async () => {
    const sha = (await conns[0]!.script('LOAD', 'return "only here"')) as string;
    expect(await conns[0]!.script('EXISTS', sha)).toEqual([1]);
    expect(await conns[1]!.script('EXISTS', sha)).toEqual([0]);
    await expect(conns[1]!.evalsha(sha, 0)).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
  });

  it('ioredis Cluster: a defined command over keys on every shard', async () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }], {
      scripts: {
        transfer: {
          numberOfKeys: 2,
          lua: "local n = tonumber(ARGV[1]) local from = tonumber(redis.call('get', KEYS[1]) or '0') if from < n then return redis.error_reply('INSUFFICIENT funds') end redis.call('decrby', KEYS[1], n) return redis.call('incrby', KEYS[2], n)",
        },
      },
    });
    const cl = cluster as Cluster & { transfer(from: string, to: string, n: number): Promise<number> };
    try {
      const tags = Array.from({ length: 24 }, (_, i) => `acct${i}`);
      expect(new Set(tags.map((t) => owner[keyHashSlot(`{${t}}`)])).size).toBe(3);
      for (const t of tags) await cluster.set(`{${t}}:a`, '100');
      const results = await Promise.all(tags.map((t) => cl.transfer(`{${t}}:a`, `{${t}}:b`, 30)));
      expect(results).toEqual(tags.map(() => 30));
      await expect(cl.transfer(`{${tags[0]}}:a`, `{${tags[0]}}:b`, 500)).rejects.toThrow('INSUFFICIENT funds');
      for (const t of tags) expect(await cluster.mget(`{${t}}:a`, `{${t}}:b`)).toEqual(['70', '30']);
      await expect(cl.transfer(`{${tags[0]}}:a`, `{${tags[1]}}:b`, 1)).rejects.toThrow(/CROSSSLOT|All keys in the pipeline should belong to the same slot/);
    } finally {
      cluster.disconnect();
    }
  });
});
