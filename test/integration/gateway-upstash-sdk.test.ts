/**
 * The real @upstash/redis SDK, unchanged, against the gateway in front of a real 3-primary cluster:
 * strings, hashes, lists, sets, sorted sets, expiry, pipelines, auto-pipelining, multi-exec and SCAN,
 * with base64 responses (the SDK's default) and plain JSON, automatic deserialization on and off,
 * keys spread over every shard (hash tags for transactions), and /db/<n> as part of the URL.
 * subscribe/psubscribe go over the gateway's SSE endpoints (gateway/src/rest/sse.ts).
 */
import { Redis } from '@upstash/redis';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/src/app';
import { slotOf } from '../../gateway/src/executor';
import { startCluster, waitFor } from '../helpers/cluster';
import { TOKENS, baseUrl, gateway, metric } from '../helpers/gateway';

let gw: Gateway;

beforeAll(async () => {
  const nodes = await startCluster(3);
  gw = await gateway(nodes);
}, 60_000);

type Encoding = 'base64' | false;

function sdk(encoding: Encoding, o: { autoPipeline?: boolean; deserialize?: boolean; db?: number; token?: string } = {}): Redis {
  return new Redis({
    url: baseUrl(gw) + (o.db ? `/db/${o.db}` : ''),
    token: o.token ?? TOKENS.rw,
    responseEncoding: encoding,
    enableAutoPipelining: o.autoPipeline ?? false,
    automaticDeserialization: o.deserialize ?? true,
    enableTelemetry: false,
    retry: false,
  });
}

/** The number of distinct shards (primaries) the keys live on. */
const shards = (keys: string[]): number => new Set(keys.map((k) => gw.client.addrForSlot(slotOf(k)))).size;

describe.each([['base64' as Encoding], [false as Encoding]])('@upstash/redis, responseEncoding %s', (encoding) => {
  const p = `sdk-${encoding || 'json'}:`;
  let redis: Redis;
  beforeAll(() => {
    redis = sdk(encoding);
  });

  it('strings (keys on every shard)', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `${p}s${i}`);
    expect(shards(keys)).toBe(3);
    expect(await redis.set(keys[0]!, 'hello')).toBe('OK');
    expect(await redis.get(keys[0]!)).toBe('hello');
    expect(await redis.set(keys[1]!, { a: 1, b: [true, null, 'x'] })).toBe('OK');
    expect(await redis.get(keys[1]!)).toEqual({ a: 1, b: [true, null, 'x'] });
    expect(await redis.set(keys[2]!, 'héllo wörld ✓ 日本')).toBe('OK');
    expect(await redis.get(keys[2]!)).toBe('héllo wörld ✓ 日本');
    expect(await redis.set(keys[3]!, 41)).toBe('OK');
    expect(await redis.incr(keys[3]!)).toBe(42);
    expect(await redis.incrby(keys[3]!, 8)).toBe(50);
    expect(await redis.incrbyfloat(keys[3]!, 0.5)).toBe(50.5);
    expect(await redis.decr(keys[4]!)).toBe(-1);
    expect(await redis.append(keys[0]!, ' world')).toBe(11);
    expect(await redis.getrange(keys[0]!, 0, 4)).toBe('hello');
    expect(await redis.strlen(keys[0]!)).toBe(11);
    expect(await redis.set(keys[5]!, 'v', { nx: true })).toBe('OK');
    expect(await redis.set(keys[5]!, 'w', { nx: true })).toBeNull();
    expect(await redis.set(keys[5]!, 'w', { xx: true, get: true })).toBe('v');
    expect(await redis.getdel(keys[5]!)).toBe('w');
    expect(await redis.get(keys[5]!)).toBeNull();
    // Cross-slot multi-key commands, split by the gateway.
    const kv = Object.fromEntries(keys.slice(6).map((k, i) => [k, `m${i}`]));
    expect(await redis.mset(kv)).toBe('OK');
    expect(await redis.mget(...keys.slice(6), `${p}missing`)).toEqual([...keys.slice(6).map((_, i) => `m${i}`), null]);
    expect(await redis.exists(...keys.slice(6), `${p}missing`)).toBe(6);
    expect(await redis.del(...keys.slice(6, 9))).toBe(3);
    expect(await redis.exists(...keys.slice(6))).toBe(3);
    expect(await redis.type(keys[0]!)).toBe('string');
  });

  it('hashes', async () => {
    const h = `${p}hash`;
    expect(await redis.hset(h, { name: 'ann', age: 31, tags: ['a', 'b'] })).toBe(3);
    expect(await redis.hget(h, 'name')).toBe('ann');
    expect(await redis.hget(h, 'age')).toBe(31);
    expect(await redis.hgetall(h)).toEqual({ name: 'ann', age: 31, tags: ['a', 'b'] });
    expect(await redis.hincrby(h, 'age', 1)).toBe(32);
    expect(await redis.hmget(h, 'name', 'nope')).toEqual({ name: 'ann', nope: null });
    expect((await redis.hkeys(h)).sort()).toEqual(['age', 'name', 'tags']);
    expect(await redis.hlen(h)).toBe(3);
    expect(await redis.hexists(h, 'name')).toBe(1);
    expect(await redis.hdel(h, 'tags', 'nope')).toBe(1);
    expect(await redis.hgetall(`${p}nohash`)).toBeNull();
  });

  it('lists', async () => {
    const l = `${p}list`;
    expect(await redis.rpush(l, 'a', 'b', 'c')).toBe(3);
    expect(await redis.lpush(l, 'z')).toBe(4);
    expect(await redis.lrange(l, 0, -1)).toEqual(['z', 'a', 'b', 'c']);
    expect(await redis.llen(l)).toBe(4);
    expect(await redis.lindex(l, 1)).toBe('a');
    expect(await redis.lset(l, 1, 'A')).toBe('OK');
    expect(await redis.lpop(l)).toBe('z');
    expect(await redis.rpop(l)).toBe('c');
    expect(await redis.lpop(l, 5)).toEqual(['A', 'b']);
    expect(await redis.lpop(l)).toBeNull();
  });

  it('sets (multi-key ones on one slot through a hash tag)', async () => {
    const a = `{${p}set}a`;
    const b = `{${p}set}b`;
    expect(await redis.sadd(a, 'x', 'y', 'z')).toBe(3);
    expect(await redis.sadd(b, 'y', 'w')).toBe(2);
    expect((await redis.smembers(a)).sort()).toEqual(['x', 'y', 'z']);
    expect(await redis.sismember(a, 'x')).toBe(1);
    expect(await redis.scard(a)).toBe(3);
    expect(await redis.sinter(a, b)).toEqual(['y']);
    expect((await redis.sunion(a, b)).sort()).toEqual(['w', 'x', 'y', 'z']);
    expect(await redis.srem(a, 'x')).toBe(1);
  });

  it('sorted sets', async () => {
    const z = `${p}zset`;
    expect(await redis.zadd(z, { score: 1, member: 'one' }, { score: 2.5, member: 'two' }, { score: 3, member: 'three' })).toBe(3);
    expect(await redis.zrange(z, 0, -1)).toEqual(['one', 'two', 'three']);
    expect(await redis.zrange(z, 0, -1, { withScores: true })).toEqual(['one', 1, 'two', 2.5, 'three', 3]);
    expect(await redis.zscore(z, 'two')).toBe(2.5);
    expect(await redis.zincrby(z, 10, 'one')).toBe(11);
    expect(await redis.zrank(z, 'one')).toBe(2);
    expect(await redis.zrange(z, 2, 3, { byScore: true })).toEqual(['two', 'three']);
    expect(await redis.zrange(z, 0, 0, { rev: true })).toEqual(['one']);
    expect(await redis.zcard(z)).toBe(3);
    expect(await redis.zrem(z, 'two')).toBe(1);
  });

  it('expiry', async () => {
    const k = `${p}exp`;
    expect(await redis.set(k, 'v', { ex: 100 })).toBe('OK');
    expect(await redis.ttl(k)).toBeGreaterThan(90);
    expect(await redis.pttl(k)).toBeGreaterThan(90_000);
    expect(await redis.persist(k)).toBe(1);
    expect(await redis.ttl(k)).toBe(-1);
    expect(await redis.expire(k, 50)).toBe(1);
    expect(await redis.expire(k, 10, 'GT')).toBe(0);
    expect(await redis.setex(`${p}exp2`, 100, 'x')).toBe('OK');
    expect(await redis.set(`${p}short`, 'v', { px: 50 })).toBe('OK');
    await waitFor('the key to expire', async () => (await redis.get(`${p}short`)) === null, 5000);
    expect(await redis.exists(`${p}short`)).toBe(0);
    expect(await redis.ttl(`${p}none`)).toBe(-2);
  });

  it('pipelines across shards, errors reported per command', async () => {
    const keys = Array.from({ length: 9 }, (_, i) => `${p}pipe${i}`);
    expect(shards(keys)).toBe(3);
    const pl = redis.pipeline();
    for (const k of keys) pl.set(k, k);
    for (const k of keys) pl.get(k);
    pl.incr(`${p}pipectr`).incr(`${p}pipectr`).hset(`${p}pipeh`, { f: 'v' }).hgetall(`${p}pipeh`);
    const res = await pl.exec();
    expect(res).toEqual([...keys.map(() => 'OK'), ...keys, 1, 2, 1, { f: 'v' }]);
    const bad = redis.pipeline().set(`${p}pipes`, 'x').incr(`${p}pipes`).get(`${p}pipes`);
    await expect(bad.exec()).rejects.toThrow('Command 2 [ incr ] failed: ERR value is not an integer or out of range');
    const kept = await redis.pipeline().set(`${p}pipes`, 'x').incr(`${p}pipes`).get(`${p}pipes`).exec({ keepErrors: true });
    expect(kept[0]).toEqual({ result: 'OK', error: undefined });
    expect(kept[1]!.error).toBe('ERR value is not an integer or out of range');
    expect(kept[2]).toEqual({ result: 'x', error: undefined });
  });

  it('auto-pipelining batches concurrent commands into /pipeline', async () => {
    const auto = sdk(encoding, { autoPipeline: true });
    const keys = Array.from({ length: 30 }, (_, i) => `${p}auto${i}`);
    expect(shards(keys)).toBe(3);
    const before = await metric(gw, 'gateway_http_requests_total', { route: 'pipeline' });
    expect(await Promise.all(keys.map((k, i) => auto.set(k, i)))).toEqual(keys.map(() => 'OK'));
    expect(await Promise.all([...keys.map((k) => auto.get(k)), auto.incr(`${p}autoctr`), auto.hget(`${p}nohash`, 'f')])).toEqual([...keys.map((_, i) => i), 1, null]);
    const after = await metric(gw, 'gateway_http_requests_total', { route: 'pipeline' });
    expect(after - before).toBeGreaterThanOrEqual(2);
    expect(after - before).toBeLessThanOrEqual(4); // 62 commands in a few requests
    expect((auto as unknown as { pipelineCounter: number }).pipelineCounter).toBeLessThanOrEqual(4);
    await expect(Promise.all([auto.set(`${p}autos`, 'x'), auto.incr(`${p}autos`)])).rejects.toThrow('ERR value is not an integer or out of range');
  });

  it('multi-exec on one slot; a cross-slot transaction is a clear error', async () => {
    const t = `{${p}tx}`;
    const res = await redis.multi().set(`${t}a`, 1).incr(`${t}a`).get(`${t}a`).hset(`${t}h`, { f: 1 }).hgetall(`${t}h`).exec();
    expect(res).toEqual(['OK', 2, 2, 1, { f: 1 }]);
    await expect(redis.multi().set(`${t}a`, 1).set(`${p}elsewhere-${t.length}`, 2).set(`${p}x`, 3).exec()).rejects.toThrow(/CROSSSLOT Keys in request don't hash to the same slot/);
    const withErr = redis.multi().set(`${t}s`, 'x').incr(`${t}s`).get(`${t}s`);
    await expect(withErr.exec()).rejects.toThrow('Command 2 [ incr ] failed: ERR value is not an integer or out of range');
    expect(await redis.get(`${t}s`)).toBe('x'); // EXEC ran the others
  });

  it('SCAN over every shard with MATCH, COUNT, TYPE and withType; KEYS; the cursor is a string', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `${p}scan:${i}`);
    expect(shards(keys)).toBe(3);
    await redis.mset(Object.fromEntries(keys.map((k) => [k, 1])));
    await redis.hset(`${p}scanhash`, { f: 1 });
    const seen = new Set<string>();
    let cursor: string = '0';
    let calls = 0;
    do {
      const [next, batch] = await redis.scan(cursor, { match: `${p}scan*`, count: 20 });
      expect(typeof next).toBe('string');
      batch.forEach((k) => seen.add(String(k)));
      cursor = next;
      calls++;
    } while (cursor !== '0' && calls < 1000);
    expect(cursor).toBe('0');
    expect(calls).toBeGreaterThan(2);
    expect(seen).toEqual(new Set([...keys, `${p}scanhash`]));
    const hashes: string[] = [];
    cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, { match: `${p}*`, type: 'hash', count: 100 });
      hashes.push(...batch.map(String));
      cursor = next;
    } while (cursor !== '0');
    expect(hashes.sort()).toEqual([`${p}hash`, `${p}pipeh`, `${p}scanhash`].sort());
    const [, typed] = await redis.scan(0, { match: `${p}scanhash`, count: 100_000, withType: true });
    expect(typed).toEqual([{ key: `${p}scanhash`, type: 'hash' }]);
    expect((await redis.keys(`${p}scan:1*`)).sort()).toEqual(keys.filter((k) => k.startsWith(`${p}scan:1`)).sort());
  });

  it('errors are thrown as UpstashError with the Redis text', async () => {
    await redis.set(`${p}str`, 'x');
    await expect(redis.lpush(`${p}str`, 'a')).rejects.toMatchObject({ name: 'UpstashError', message: expect.stringContaining('WRONGTYPE Operation against a key holding the wrong kind of value') });
    await expect(redis.eval('return x', [], [])).rejects.toThrow(/^ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: [0-9a-f]{40}, on @user_script:1\./);
    const ro = sdk(encoding, { token: TOKENS.ro });
    expect(await ro.get(`${p}str`)).toBe('x');
    await expect(ro.set(`${p}str`, 'y')).rejects.toThrow('command SET is not allowed for a read-only token');
    await expect(sdk(encoding, { token: 'wrong-token-123' }).get('a')).rejects.toThrow(/Unauthorized/);
  });
});

describe('@upstash/redis options', () => {
  it('automaticDeserialization: false returns the stored text', async () => {
    const raw = sdk('base64', { deserialize: false });
    const json = sdk('base64');
    await json.set('sdk-opt:obj', { n: 1 });
    expect(await raw.get('sdk-opt:obj')).toBe('{"n":1}');
    await raw.set('sdk-opt:num', '007');
    expect(await raw.get('sdk-opt:num')).toBe('007');
    expect(await raw.hgetall('sdk-opt:none')).toEqual([]); // the raw RESP2 reply, not turned into null
  });

  it('a database in the URL (/db/<n>) is isolated from db 0, pipelines included', async () => {
    const db5 = sdk('base64', { db: 5 });
    const db0 = sdk('base64');
    await db5.set('sdk-db:k', 'five');
    await db0.set('sdk-db:k', 'zero');
    expect(await db5.get('sdk-db:k')).toBe('five');
    expect(await db5.pipeline().get('sdk-db:k').incr('sdk-db:c').exec()).toEqual(['five', 1]);
    expect(await db5.multi().get('sdk-db:k').exec()).toEqual(['five']);
    expect(await db0.get('sdk-db:k')).toBe('zero');
    expect(await db0.get('sdk-db:c')).toBeNull();
  });

  it('the SDK keeps the sync token the gateway hands out', async () => {
    const r = sdk('base64');
    expect(r.readYourWritesSyncToken).toBe('');
    await r.set('sdk-sync:k', 'v');
    const t = r.readYourWritesSyncToken!;
    // e<config epoch>:<primary id prefix>=<replication offset> (gateway/src/sync-token.ts).
    expect(t).toMatch(/^e[1-9]\d*:[0-9a-f]{12}=\d+$/);
    expect(await r.get('sdk-sync:k')).toBe('v');
    expect(r.readYourWritesSyncToken).toBe(t); // echoed back by reads
  });
});

describe.each([['base64' as Encoding], [false as Encoding]])('@upstash/redis subscribe over SSE, responseEncoding %s', (encoding) => {
  it('subscribe and psubscribe receive what is published, until unsubscribed', async () => {
    const r = sdk(encoding);
    const ch = `sdk-chan-${encoding || 'json'}`;
    const streams0 = await metric(gw, 'gateway_sse_connections');
    const sub = r.subscribe([ch]);
    const psub = r.psubscribe([`${ch}*`]);
    const messages: unknown[] = [];
    const pmessages: unknown[] = [];
    const errors: unknown[] = [];
    sub.on('message', (m) => messages.push(m));
    psub.on('pmessage', (m) => pmessages.push(m));
    sub.on('error', (e) => errors.push(e));
    psub.on('error', (e) => errors.push(e));
    const subscribed = new Promise((res) => sub.on('subscribe', res));
    const psubscribed = new Promise((res) => psub.on('psubscribe', res));
    expect(await subscribed).toBe(1);
    expect(await psubscribed).toBe(1);
    // (PUBLISH's count is the receivers known to the one node that took it, as in Redis Cluster.)
    expect(typeof (await r.publish(ch, { hello: 'wörld', n: 1 }))).toBe('number');
    // (The SDK JSON-parses pmessage payloads without a fallback: only JSON payloads on patterns.)
    await r.publish(ch, ['a, b', 2]);
    await waitFor('both messages on both subscriptions', () => messages.length >= 2 && pmessages.length >= 2, 10_000);
    expect(messages).toEqual([
      { channel: ch, message: { hello: 'wörld', n: 1 } },
      { channel: ch, message: ['a, b', 2] },
    ]);
    expect(pmessages).toEqual([
      { pattern: `${ch}*`, channel: ch, message: { hello: 'wörld', n: 1 } },
      { pattern: `${ch}*`, channel: ch, message: ['a, b', 2] },
    ]);
    expect(errors).toEqual([]);
    await sub.unsubscribe();
    await psub.unsubscribe();
    // The gateway notices the aborted streams.
    await waitFor('SSE streams closed', async () => (await metric(gw, 'gateway_sse_connections')) === streams0, 10_000);
  });
});
