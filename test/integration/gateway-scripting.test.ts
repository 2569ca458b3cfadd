/**
 * Scripting through the gateway, with the real @upstash/redis SDK and the real @upstash/ratelimit
 * (built on Lua scripts) against a real 3-primary + 3-replica cluster: EVAL/EVALSHA(_RO) routed by
 * their declared keys (keyless ones to any primary, never to a replica when they may write), SCRIPT
 * LOAD/EXISTS/FLUSH on every primary (EXISTS is 1 only where every primary has the script), and the
 * token rules (read-only tokens only run EVAL_RO/EVALSHA_RO; key-restricted tokens run no scripts).
 */
import { createHash } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { Ratelimit } from '@upstash/ratelimit';
import IORedis from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/src/app';
import { slotOf } from '../../gateway/src/executor';
import { TOKENS, baseUrl, gateway, http, startReplicatedCluster } from '../helpers/gateway';
import type { NodeHandle } from '../helpers/node';

let nodes: NodeHandle[];
let gw: Gateway;

beforeAll(async () => {
  nodes = await startReplicatedCluster(3, 1);
  gw = await gateway(nodes);
}, 90_000);

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

function sdk(encoding: 'base64' | false, token: string = TOKENS.rw): Redis {
  return new Redis({ url: baseUrl(gw), token, responseEncoding: encoding, enableTelemetry: false, retry: false });
}

/** Keys named `${prefix}<i>`, one per shard. */
function onEveryShard(prefix: string): string[] {
  const byAddr = new Map<string, string>();
  for (let i = 0; byAddr.size < 3; i++) {
    const k = `${prefix}${i}`;
    const addr = gw.client.addrForSlot(slotOf(k))!;
    if (!byAddr.has(addr)) byAddr.set(addr, k);
  }
  return [...byAddr.values()];
}

describe.each([['base64' as const], [false as const]])('@upstash/redis scripting, responseEncoding %s', (encoding) => {
  const p = `lua-${encoding || 'json'}:`;

  it('eval and evalsha on keys of every shard, scriptLoad, scriptExists, errors', async () => {
    const redis = sdk(encoding);
    const script = "return {KEYS[1], ARGV[1], redis.call('incrby', KEYS[1], ARGV[2])}";
    for (const k of onEveryShard(`${p}ev`)) {
      expect(await redis.eval(script, [k], ['tag', 5])).toEqual([k, 'tag', 5]);
      expect(await redis.get(k)).toBe(5);
    }
    const sha = await redis.scriptLoad(script);
    expect(sha).toBe(sha1(script));
    expect(await redis.scriptExists(sha, 'f'.repeat(40))).toEqual([1, 0]);
    for (const k of onEveryShard(`${p}sha`)) expect(await redis.evalsha(sha, [k], ['x', 2])).toEqual([k, 'x', 2]);
    expect(await redis.eval('return ARGV[1]', [], ['keyless'])).toBe('keyless');
    expect(await redis.eval("return {ok='fine'}", [], [])).toBe('fine');
    await expect(redis.eval('return x', [], [])).rejects.toThrow("Script attempted to access nonexistent global variable 'x'");
    await expect(redis.evalsha('f'.repeat(40), [], [])).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
    const [a, b] = onEveryShard(`${p}xs`);
    await expect(redis.eval('return 1', [a!, b!], [])).rejects.toThrow('CROSSSLOT');
  });

  it('createScript: EVALSHA, falling back to EVAL on NOSCRIPT, then EVALSHA again; read-only scripts', async () => {
    const redis = sdk(encoding);
    const body = `return redis.call('incr', KEYS[1]) -- ${encoding}`;
    const script = redis.createScript<number>(body);
    const [k] = onEveryShard(`${p}cs`);
    expect(await script.exec([k!], [])).toBe(1);
    expect(await redis.scriptExists(sha1(body))).toEqual([0]); // loaded by EVAL on one primary only
    expect(await script.exec([k!], [])).toBe(2);
    expect(await script.evalsha([k!], [])).toBe(3);
    const ro = redis.createScript<string>("return redis.call('get', KEYS[1])", { readonly: true });
    expect(await ro.exec([k!], [])).toBe(3);
    expect(await redis.evalRo("return redis.call('get', KEYS[1])", [k!], [])).toBe(3);
    await expect(redis.evalRo("return redis.call('set', KEYS[1], 1)", [k!], [])).rejects.toThrow('Write commands are not allowed from read-only scripts.');
  });
});

describe('SCRIPT management across primaries', () => {
  it('SCRIPT EXISTS is 1 only when every primary has the script; SCRIPT LOAD loads it on all; FLUSH needs an admin token', async () => {
    const redis = sdk('base64');
    const body = 'return "everywhere"';
    const sha = sha1(body);
    const one = new IORedis({ port: nodes[0]!.port, enableReadyCheck: false });
    try {
      expect(await one.script('LOAD', body)).toBe(sha);
      expect(await redis.scriptExists(sha)).toEqual([0]);
      expect(await redis.scriptLoad(body)).toBe(sha);
      expect(await redis.scriptExists(sha)).toEqual([1]);
      for (const k of onEveryShard('flush:')) expect(await redis.evalsha(sha, [k], [])).toBe('everywhere');
      const rw = await http(gw, 'POST', '/', { body: ['SCRIPT', 'FLUSH'] });
      expect(rw.status).toBe(403);
      const admin = await http(gw, 'POST', '/', { token: TOKENS.admin, body: ['SCRIPT', 'FLUSH'] });
      expect(admin.json).toEqual({ result: 'OK' });
      expect(await redis.scriptExists(sha)).toEqual([0]);
      expect(await one.script('EXISTS', sha)).toEqual([0]);
      const kill = await http(gw, 'POST', '/', { token: TOKENS.admin, body: ['SCRIPT', 'KILL'] });
      expect(kill.json).toEqual({ error: 'NOTBUSY No scripts in execution right now.' });
    } finally {
      one.disconnect();
    }
  });
});

describe('tokens and routing', () => {
  it('read-only tokens run only EVAL_RO/EVALSHA_RO and SCRIPT EXISTS; key-restricted tokens run no scripts', async () => {
    const ro = await http(gw, 'POST', '/', { token: TOKENS.ro, body: ['EVAL', "return redis.call('set', KEYS[1], 1)", '1', 'ro:k'] });
    expect(ro.status).toBe(403);
    expect((await http(gw, 'POST', '/', { token: TOKENS.ro, body: ['SCRIPT', 'LOAD', 'return 1'] })).status).toBe(403);
    expect((await http(gw, 'POST', '/', { token: TOKENS.ro, body: ['EVAL_RO', 'return ARGV[1]', '0', 'ok'] })).json).toEqual({ result: 'ok' });
    expect((await http(gw, 'POST', '/', { token: TOKENS.ro, body: ['SCRIPT', 'EXISTS', 'f'.repeat(40)] })).json).toEqual({ result: [0] });
    const users = await http(gw, 'POST', '/', { token: TOKENS.users, body: ['EVAL', "return redis.call('get', 'other')", '1', 'user:1'] });
    expect(users.status).toBe(403);
    expect(users.json.error).toContain('a script can access keys it does not declare');
  });

  it('with replica reads on, a writing EVAL still goes to the primary; EVAL_RO may be served by a replica', async () => {
    for (const k of onEveryShard('rr:')) {
      const w = await http(gw, 'POST', '/', { token: TOKENS.replica, body: ['EVAL', "return redis.call('set', KEYS[1], ARGV[1])", '1', k, 'v'] });
      expect(w.json).toEqual({ result: 'OK' });
      const r = await http(gw, 'POST', '/', { token: TOKENS.replica, body: ['EVAL_RO', "return redis.call('get', KEYS[1])", '1', k] });
      expect(r.json).toEqual({ result: 'v' });
    }
  });

  it('/pipeline and /multi-exec carry scripts', async () => {
    const [k] = onEveryShard('pl:');
    const pl = await http(gw, 'POST', '/pipeline', {
      body: [
        ['EVAL', "return redis.call('incr', KEYS[1])", '1', k],
        ['EVAL', 'return x', '0'],
      ],
    });
    expect(pl.json[0]).toEqual({ result: 1 });
    expect(pl.json[1].error).toContain('nonexistent global variable');
    const tx = await http(gw, 'POST', '/multi-exec', {
      body: [
        ['EVAL', "return redis.call('incr', KEYS[1])", '1', k],
        ['GET', k],
      ],
    });
    expect(tx.json).toEqual([{ result: 2 }, { result: '2' }]);
  });
});

describe('@upstash/ratelimit', () => {
  it('sliding window through the gateway: allowed up to the limit, then refused (identifiers on every shard)', async () => {
    const ratelimit = new Ratelimit({
      redis: sdk('base64'),
      limiter: Ratelimit.slidingWindow(5, '20 s'),
      prefix: 'ratelimit-test',
      analytics: false,
      ephemeralCache: false,
    });
    // A hash tag keeps the current and previous window keys of an identifier in one slot.
    const ids = onEveryShard('ratelimit-test:{user-').map((k) => `{user-${k.slice('ratelimit-test:{user-'.length)}}`);
    expect(ids).toHaveLength(3);
    for (const id of ids) {
      const results = [];
      for (let i = 0; i < 7; i++) results.push(await ratelimit.limit(id));
      expect(results.map((r) => r.success)).toEqual([true, true, true, true, true, false, false]);
      expect(results[4]!.remaining).toBe(0);
      expect(results[0]!.limit).toBe(5);
      expect(results[5]!.reset).toBeGreaterThan(Date.now());
    }
    expect((await ratelimit.getRemaining(ids[0]!)).remaining).toBe(0);
    await ratelimit.resetUsedTokens(ids[0]!);
    expect((await ratelimit.limit(ids[0]!)).success).toBe(true);
  });

  it('token bucket and fixed window limiters too', async () => {
    const redis = sdk(false);
    const bucket = new Ratelimit({ redis, limiter: Ratelimit.tokenBucket(1, '60 s', 3), prefix: 'rl-bucket', analytics: false, ephemeralCache: false });
    const fixed = new Ratelimit({ redis, limiter: Ratelimit.fixedWindow(2, '60 s'), prefix: 'rl-fixed', analytics: false, ephemeralCache: false });
    const b = [];
    for (let i = 0; i < 4; i++) b.push((await bucket.limit('{b1}')).success);
    expect(b).toEqual([true, true, true, false]);
    const f = [];
    for (let i = 0; i < 3; i++) f.push((await fixed.limit('{f1}')).success);
    expect(f).toEqual([true, true, false]);
  });
});
