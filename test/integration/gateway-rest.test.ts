/**
 * The gateway's Upstash-compatible REST API against a real cluster (3 primaries + 3 replicas, real
 * processes; the gateway in-process): every endpoint shape, auth (tokens, roles, key/channel/db
 * limits, rate limit), limits and malformed requests, CORS, base64 and RESP2 output, /db/<n>
 * isolation, cross-slot splitting, cluster-wide fan-outs and SCAN, replica reads with read-your-writes.
 */
import Redis from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyHashSlot } from '../../common/src/slot';
import type { Gateway } from '../../gateway/src/app';
import { slotOf } from '../../gateway/src/executor';
import { rateKey } from '../../gateway/src/rate-limit';
import { Topology } from '../../gateway/src/cluster/topology';
import { cli, waitFor } from '../helpers/cluster';
import type { NodeHandle } from '../helpers/node';
import { JsonWs } from '../helpers/gateway-ws';
import { TOKENS, baseUrl, calls, cmd, gateway, http, metric, scanAll, startReplicatedCluster } from '../helpers/gateway';

let nodes: NodeHandle[];
let gw: Gateway;
/** e<config epoch>:<primary id prefix>=<replication offset>,... (gateway/src/sync-token.ts). */
const SYNC_TOKEN = /^e[1-9]\d*:[0-9a-f]{12}=\d+(,[0-9a-f]{12}=\d+)*$/;

beforeAll(async () => {
  nodes = await startReplicatedCluster(3, 1);
  gw = await gateway(nodes, { maxPipeline: 100 });
}, 90_000);

/** The primary address serving each key (to prove keys cover every shard). */
const shardsOf = (keys: string[]): Set<string> => new Set(keys.map((k) => gw.client.addrForSlot(slotOf(k))!));

/** The error text a cluster node itself replies to `args` (for byte-for-byte comparisons). */
async function nodeError(args: string[]): Promise<string> {
  const r = new Redis({ port: nodes[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  try {
    await r.call(args[0]!, ...args.slice(1));
    throw new Error(`${args.join(' ')} did not fail on the node`);
  } catch (e) {
    return (e as Error).message;
  } finally {
    r.disconnect();
  }
}

describe('slot map', () => {
  it('the map loaded from CLUSTER SHARDS at start equals the one read from CLUSTER NODES', async () => {
    const r = new Redis({ port: nodes[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      const fromShards = Topology.fromShards(await r.callBuffer('CLUSTER', 'SHARDS'));
      const fromNodes = Topology.parse(String(await r.call('CLUSTER', 'NODES')));
      expect(fromShards.covered()).toBe(16384);
      expect(fromShards.owners).toEqual(fromNodes.owners);
      const view = (t: Topology) => [...t.nodes.values()].map((n) => [n.id, n.addr, n.primary, n.primaryId, n.failed]).sort();
      expect(view(fromShards)).toEqual(view(fromNodes));
      expect(fromShards.shardPrimaries().length).toBe(3);
      expect([...fromShards.nodes.values()].filter((n) => !n.primary).every((n) => fromShards.nodes.get(n.primaryId!)?.primary)).toBe(true);
      // The gateway started from CLUSTER SHARDS: its start refresh is counted, and it routes like the nodes.
      expect(await metric(gw, 'gateway_slot_map_refreshes_total', { trigger: 'start', outcome: 'ok' })).toBe(1);
      expect(gw.client.topology.owners).toEqual(fromNodes.owners);
    } finally {
      r.disconnect();
    }
  });
});

describe('endpoint shapes', () => {
  it('POST / with a JSON array, numbers and booleans as strings, sync token on writes', async () => {
    const r = await http(gw, 'POST', '/', { body: ['SET', 'shape:a', 'v1', 'EX', 100] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ result: 'OK' });
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.headers.get('upstash-sync-token')).toMatch(SYNC_TOKEN);
    expect(await cmd(gw, ['SET', 'shape:n', 42])).toBe('OK');
    expect(await cmd(gw, ['GET', 'shape:n'])).toBe('42');
    expect((await http(gw, 'POST', '/', { body: ['SET', 'shape:b', true] })).json).toEqual({ result: 'OK' });
    expect(await cmd(gw, ['GET', 'shape:b'])).toBe('true');
    expect(await cmd(gw, ['TTL', 'shape:a'])).toBeGreaterThan(90);
    expect(await cmd(gw, ['GET', 'shape:none'])).toBeNull();
  });

  it('path style GET/POST/PUT /cmd/arg/..., the body as the last argument, HEAD', async () => {
    expect((await http(gw, 'GET', '/set/shape:p/hello%20world%2Fslash/EX/100')).json).toEqual({ result: 'OK' });
    expect((await http(gw, 'GET', '/get/shape:p')).json).toEqual({ result: 'hello world/slash' });
    expect((await http(gw, 'POST', '/set/shape:body', { body: 'raw body bytes', headers: { 'content-type': 'text/plain' } })).json).toEqual({ result: 'OK' });
    expect((await http(gw, 'GET', '/get/shape:body')).json).toEqual({ result: 'raw body bytes' });
    expect((await http(gw, 'PUT', '/set/shape:put', { body: '{"a":1}' })).json).toEqual({ result: 'OK' });
    expect((await http(gw, 'GET', '/get/shape:put')).json).toEqual({ result: '{"a":1}' });
    expect((await http(gw, 'GET', '/set/shape:empty//EX/100')).json).toEqual({ result: 'OK' });
    expect((await http(gw, 'GET', '/strlen/shape:empty/')).json).toEqual({ result: 0 });
    expect((await http(gw, 'GET', '/db/3/exists/shape:empty')).json).toEqual({ result: 0 });
    expect((await http(gw, 'GET', '/hset/shape:h/f/1/g/2')).json).toEqual({ result: 2 });
    // Replies pass through untouched (no client-library reshaping of HGETALL into an object).
    expect((await http(gw, 'GET', '/hgetall/shape:h')).json).toEqual({ result: ['f', '1', 'g', '2'] });
    const head = await http(gw, 'HEAD', '/');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect((await http(gw, 'HEAD', '/', { token: null })).status).toBe(401);
  });

  it('POST /pipeline: one entry per command, errors in place', async () => {
    const r = await http(gw, 'POST', '/pipeline', { body: [['SET', 'pipe:a', '1'], ['INCR', 'pipe:a'], ['GET', 'pipe:a'], ['LPUSH', 'pipe:a', 'x'], ['INCRBY', 'pipe:b', 5], ['MGET', 'pipe:a', 'pipe:b', 'pipe:zz']] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual([
      { result: 'OK' },
      { result: 2 },
      { result: '2' },
      { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
      { result: 5 },
      { result: ['2', '5', null] },
    ]);
    expect(r.headers.get('upstash-sync-token')).toMatch(SYNC_TOKEN);
    expect((await http(gw, 'POST', '/db/3/pipeline', { body: [['SET', 'pipe:db', 'three'], ['GET', 'pipe:db']] })).json).toEqual([{ result: 'OK' }, { result: 'three' }]);
    // Pipeline order holds across shards and around SCAN (several round trips).
    const keys = Array.from({ length: 9 }, (_, i) => `pipescan:${i}`);
    expect(shardsOf(keys).size).toBe(3);
    const scan = ['SCAN', '0', 'MATCH', 'pipescan:*', 'COUNT', 100_000];
    const ordered = await http(gw, 'POST', '/pipeline', { body: [['MSET', ...keys.flatMap((k) => [k, 'x'])], scan, ['DEL', ...keys], scan, ['SET', keys[0]!, 'y'], ['MGET', ...keys]] });
    expect(ordered.json[0]).toEqual({ result: 'OK' });
    expect(ordered.json[1].result[0]).toBe('0');
    expect(new Set(ordered.json[1].result[1])).toEqual(new Set(keys));
    expect(ordered.json[2]).toEqual({ result: 9 });
    expect(ordered.json[3]).toEqual({ result: ['0', []] });
    expect(ordered.json[5]).toEqual({ result: ['y', ...keys.slice(1).map(() => null)] });
    expect(await cmd(gw, ['GET', 'pipe:db'])).toBeNull();
  });

  it('POST /multi-exec: same-slot transactions; cross-slot is a clear error', async () => {
    const ok = await http(gw, 'POST', '/multi-exec', { body: [['SET', '{tx}a', '1'], ['INCR', '{tx}a'], ['LPUSH', '{tx}a', 'x'], ['GET', '{tx}a'], ['MSET', '{tx}b', 'B', '{tx}c', 'C'], ['MGET', '{tx}a', '{tx}b', '{tx}c'], ['PING']] });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual([
      { result: 'OK' },
      { result: 2 },
      { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
      { result: '2' },
      { result: 'OK' },
      { result: ['2', 'B', 'C'] },
      { result: 'PONG' },
    ]);
    expect(ok.headers.get('upstash-sync-token')).toMatch(SYNC_TOKEN);
    const cross = await http(gw, 'POST', '/multi-exec', { body: [['SET', '{tx}a', '1'], ['SET', '{other}b', '2']] });
    expect(cross.status).toBe(400);
    expect(cross.json.error).toMatch(/^CROSSSLOT Keys in request don't hash to the same slot/);
    expect(await cmd(gw, ['GET', '{other}b'])).toBeNull(); // nothing ran
    const crossMget = await http(gw, 'POST', '/multi-exec', { body: [['MGET', '{tx}a', '{other}b']] });
    expect(crossMget.status).toBe(400);
    expect(crossMget.json.error).toMatch(/^CROSSSLOT/);
    const fan = await http(gw, 'POST', '/multi-exec', { body: [['SET', '{tx}a', '1'], ['KEYS', '*']] });
    expect(fan.status).toBe(400);
    expect(fan.json.error).toMatch(/KEYS is a cluster-wide command/);
    const queuedErr = await http(gw, 'POST', '/multi-exec', { body: [['SET', '{tx}a', '9'], ['NOSUCHCMD', '{tx}a']] });
    expect(queuedErr.status).toBe(400);
    expect(queuedErr.json.error).toMatch(/^ERR unknown command 'NOSUCHCMD'/);
    expect(await cmd(gw, ['GET', '{tx}a'])).toBe('2');
  });
});

describe('errors and stateless refusals', () => {
  it('Redis error texts byte for byte', async () => {
    for (const args of [['NOSUCH', 'a', 'b'], ['NOSUCH'], ['NOSUCH', 'x'.repeat(200), 'y'], ['GET'], ['CONFIG', 'GET']]) {
      const r = await http(gw, 'POST', '/', { body: args });
      expect(r.status, args.join(' ')).toBe(400);
      expect(r.json.error, args.join(' ')).toBe(await nodeError(args));
    }
    expect((await http(gw, 'POST', '/', { body: ['INCR', 'shape:a'] })).json).toEqual({ error: 'ERR value is not an integer or out of range' });
  });

  it('blocking commands, WATCH, MULTI, SELECT and SUBSCRIBE get a clear 400', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['BLPOP', 'l', '0'], /^BLPOP blocks a connection .* LPOP/],
      [['BZPOPMIN', 'z', '0'], /^BZPOPMIN blocks a connection/],
      [['WATCH', 'a'], /^WATCH is not supported here: .*\/multi-exec/],
      [['MULTI'], /^MULTI is not supported here: use POST \/multi-exec/],
      [['SELECT', '1'], /^SELECT is not supported here: .*\/db\/<n>/],
      [['SUBSCRIBE', 'ch'], /^SUBSCRIBE is not supported here: .*subscribe/],
    ];
    for (const [args, re] of cases) {
      const r = await http(gw, 'POST', '/', { body: args });
      expect(r.status, args.join(' ')).toBe(400);
      expect(r.json.error, args.join(' ')).toMatch(re);
    }
  });
});

describe('auth', () => {
  it('401 JSON for a missing or invalid token; Bearer and ?_token=', async () => {
    const none = await http(gw, 'GET', '/get/a', { token: null });
    expect(none.status).toBe(401);
    expect(none.json.error).toMatch(/missing token/);
    const bad = await http(gw, 'GET', '/get/a', { token: 'nope-nope-nope' });
    expect(bad.status).toBe(401);
    expect(bad.json.error).toMatch(/invalid token/);
    const basic = await http(gw, 'GET', '/get/a', { token: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.status).toBe(401);
    const q = await http(gw, 'GET', `/get/shape:p?_token=${TOKENS.rw}`, { token: null });
    expect(q.json).toEqual({ result: 'hello world/slash' });
    expect((await http(gw, 'POST', `/?_token=${TOKENS.rw}`, { token: null, body: ['PING'] })).json).toEqual({ result: 'PONG' });
  });

  it('read-only tokens run only read commands (403 naming the command)', async () => {
    expect(await cmd(gw, ['GET', 'shape:p'], TOKENS.ro)).toBe('hello world/slash');
    expect(await cmd(gw, ['MGET', 'shape:p', 'shape:n'], TOKENS.ro)).toEqual(['hello world/slash', '42']);
    for (const args of [['SET', 'ro:a', '1'], ['DEL', 'ro:a'], ['PUBLISH', 'ch', 'x'], ['HSET', 'ro:h', 'f', 'v'], ['EXPIRE', 'ro:a', '10']]) {
      const r = await http(gw, 'POST', '/', { token: TOKENS.ro, body: args });
      expect(r.status, args[0]).toBe(403);
      expect(r.json.error).toContain(`command ${args[0]}`);
    }
    const pipe = await http(gw, 'POST', '/pipeline', { token: TOKENS.ro, body: [['GET', 'shape:n'], ['SET', 'shape:n', '0']] });
    expect(pipe.json).toEqual([{ result: '42' }, { error: 'command SET is not allowed for a read-only token' }]);
    expect((await http(gw, 'POST', '/multi-exec', { token: TOKENS.ro, body: [['SET', 'shape:n', '0']] })).status).toBe(403);
    expect(await cmd(gw, ['GET', 'shape:n'])).toBe('42');
  });

  it('key patterns, channel patterns and dbs', async () => {
    const u = TOKENS.users;
    expect(await cmd(gw, ['SET', 'user:1', 'one'], u)).toBe('OK');
    expect(await cmd(gw, ['MGET', 'user:1', 'user:2'], u)).toEqual(['one', null]);
    const other = await http(gw, 'POST', '/', { token: u, body: ['GET', 'shape:p'] });
    expect(other.status).toBe(403);
    expect(other.json.error).toContain("key 'shape:p' (command GET)");
    expect((await http(gw, 'POST', '/', { token: u, body: ['MSET', 'user:3', 'x', 'admin:1', 'y'] })).status).toBe(403);
    expect(await cmd(gw, ['GET', 'admin:1'])).toBeNull();
    expect(typeof (await cmd(gw, ['PUBLISH', 'chat:room', 'hi'], u))).toBe('number');
    const pub = await http(gw, 'POST', '/', { token: u, body: ['PUBLISH', 'news', 'hi'] });
    expect(pub.status).toBe(403);
    expect(pub.json.error).toContain("channel 'news' (command PUBLISH)");
    expect(await cmd(gw, ['SET', 'user:db3', 'x'], u, 3)).toBe('OK');
    const db2 = await http(gw, 'GET', '/db/2/get/user:1', { token: u });
    expect(db2.status).toBe(403);
    expect(db2.json.error).toContain('db 2 (command GET)');
    // Keyless commands reaching every key need a MATCH inside the allowed patterns; results are filtered.
    expect((await http(gw, 'POST', '/', { token: u, body: ['KEYS', '*'] })).status).toBe(403);
    expect((await http(gw, 'POST', '/', { token: u, body: ['SCAN', '0'] })).status).toBe(403);
    expect((await http(gw, 'POST', '/', { token: u, body: ['DBSIZE'] })).status).toBe(403);
    expect((await http(gw, 'POST', '/', { token: u, body: ['RANDOMKEY'] })).status).toBe(403);
    expect(await cmd(gw, ['KEYS', 'user:*'], u)).toEqual(['user:1']);
    expect(await cmd(gw, ['KEYS', 'user:?'], u)).toEqual(['user:1']);
    expect((await http(gw, 'POST', '/', { token: u, body: ['KEYS', 'u*'] })).status).toBe(403);
    // Subscriptions over SSE follow the channel patterns (a pattern must stay inside an allowed one).
    const sse = async (path: string): Promise<{ status: number; first: string }> => {
      const ac = new AbortController();
      const res = await fetch(baseUrl(gw) + path, { method: 'POST', headers: { authorization: `Bearer ${u}`, accept: 'text/event-stream' }, signal: ac.signal });
      const first = res.status === 200 ? new TextDecoder().decode((await res.body!.getReader().read()).value) : await res.text();
      ac.abort();
      return { status: res.status, first };
    };
    expect(await sse('/subscribe/chat:room')).toEqual({ status: 200, first: 'data: subscribe,chat:room,1\n\n' });
    expect(await sse('/psubscribe/chat:*')).toEqual({ status: 200, first: 'data: psubscribe,chat:*,1\n\n' });
    for (const path of ['/subscribe/news', '/psubscribe/*', '/psubscribe/c*']) {
      const r = await sse(path);
      expect(r.status, path).toBe(403);
      expect(JSON.parse(r.first).error, path).toMatch(/may not use channel '.*' \(command P?SUBSCRIBE\)/);
    }
    expect((await scanAll(gw, ['MATCH', 'user:*', 'COUNT', 1000], 0, u)).keys).toEqual(['user:1']);
  });

  it('destructive fan-outs and admin commands need an admin token', async () => {
    for (const args of [['FLUSHDB'], ['FLUSHALL', 'ASYNC'], ['CONFIG', 'SET', 'maxmemory', '0'], ['CLUSTER', 'RESET']]) {
      const r = await http(gw, 'POST', '/', { body: args });
      expect(r.status, args.join(' ')).toBe(403);
      expect(r.json.error).toBe(`command ${args.slice(0, args[0]!.startsWith('FLUSH') ? 1 : 2).join(' ')} needs an admin token`);
    }
    expect(await cmd(gw, ['DBSIZE'])).toBeGreaterThan(0);
  });

  it('per-token rate limit: 429 JSON once the burst is spent (a pipeline is one request)', async () => {
    const l = TOKENS.limited;
    const before = await metric(gw, 'gateway_rate_limited_total');
    const pipe = await http(gw, 'POST', '/pipeline', { token: l, body: [['SET', 'rl:a', '1'], ['INCR', 'rl:a'], ['INCR', 'rl:a'], ['INCR', 'rl:a'], ['GET', 'rl:a']] });
    expect(pipe.json).toEqual([{ result: 'OK' }, { result: 2 }, { result: 3 }, { result: 4 }, { result: '4' }]);
    let limited: Awaited<ReturnType<typeof http>> | null = null;
    for (let i = 0; i < 20 && !limited; i++) {
      const r = await http(gw, 'GET', '/get/rl:a', { token: l });
      if (r.status === 429) limited = r;
      else expect(r.json).toEqual({ result: '4' });
    }
    expect(limited).not.toBeNull();
    expect(limited!.json.error).toMatch(/^rate limit exceeded for token limited/);
    expect(await metric(gw, 'gateway_rate_limited_total')).toBeGreaterThan(before);
    // Other tokens are not affected.
    expect(await cmd(gw, ['GET', 'rl:a'])).toBe('4');
  });

  it('a rate limit is one bucket in the cluster for every gateway process; scope "process" is per process', async () => {
    const tokens = [
      { token: 'shared-rl-token', name: 'shared-rl', role: 'read-write' as const, rateLimit: { perSecond: 0.2, burst: 4 } },
      { token: 'local-rl-token', name: 'local-rl', role: 'read-write' as const, rateLimit: { perSecond: 0.2, burst: 4, scope: 'process' as const } },
    ];
    const a = await gateway(nodes, { tokens });
    const b = await gateway(nodes, { tokens });
    const status = async (g: Gateway, token: string): Promise<number> => (await http(g, 'GET', '/get/rl:shared', { token })).status;
    // Shared: two requests through each gateway spend the burst of 4; the next one is refused by either.
    expect([await status(a, 'shared-rl-token'), await status(b, 'shared-rl-token'), await status(a, 'shared-rl-token'), await status(b, 'shared-rl-token')]).toEqual([200, 200, 200, 200]);
    const refused = await http(b, 'GET', '/get/rl:shared', { token: 'shared-rl-token' });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatch(/^rate limit exceeded for token shared-rl: 0\.2 requests\/s \(retry in \d+ ms\)$/);
    expect(await status(a, 'shared-rl-token')).toBe(429);
    // The bucket is a key in db 0 that expires once the bucket is full again (<= 4 intervals of 5 s).
    expect((await cmd(gw, ['KEYS', 'gateway:ratelimit:*'], TOKENS.admin)) as string[]).toContain(rateKey('shared-rl'));
    const pttl = (await cmd(gw, ['PTTL', rateKey('shared-rl')], TOKENS.admin)) as number;
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(4 * 5000 + 5000);
    // Per process: each gateway has its own burst of 4.
    for (const g of [a, b]) for (let i = 0; i < 4; i++) expect(await status(g, 'local-rl-token')).toBe(200);
    expect(await status(a, 'local-rl-token')).toBe(429);
    expect(await status(b, 'local-rl-token')).toBe(429);
  });
});

describe('limits and malformed requests (4xx JSON, never a crash)', () => {
  it('request body over 10 MB: 413 ERR max request size exceeded', async () => {
    const big = JSON.stringify(['SET', 'big', 'x'.repeat(10 * 1024 * 1024 + 10)]);
    const r = await gw.app.inject({ method: 'POST', url: '/', headers: { authorization: `Bearer ${TOKENS.rw}`, 'content-type': 'application/json' }, payload: big });
    expect(r.statusCode).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ error: 'ERR max request size exceeded' });
    const viaSocket = await http(gw, 'POST', '/', { body: big });
    expect(viaSocket.status).toBe(413);
    expect(viaSocket.json).toEqual({ error: 'ERR max request size exceeded' });
    // Just under the limit works.
    const ok = await http(gw, 'POST', '/', { body: JSON.stringify(['SET', 'big', 'x'.repeat(9 * 1024 * 1024)]) });
    expect(ok.json).toEqual({ result: 'OK' });
    expect(await cmd(gw, ['STRLEN', 'big'])).toBe(9 * 1024 * 1024);
  });

  it('pipeline length, bad JSON, wrong types, unknown routes, methods', async () => {
    const long = await http(gw, 'POST', '/pipeline', { body: Array.from({ length: 101 }, () => ['PING']) });
    expect(long.status).toBe(413);
    expect(long.json.error).toBe('/pipeline: 101 commands exceed the limit of 100');
    expect((await http(gw, 'POST', '/pipeline', { body: Array.from({ length: 100 }, () => ['PING']) })).status).toBe(200);
    const longTx = await http(gw, 'POST', '/multi-exec', { body: Array.from({ length: 101 }, () => ['PING']) });
    expect(longTx.status).toBe(413);

    const bad: Array<[string, string, string, RegExp]> = [
      ['POST', '/', '[1,2', /^invalid JSON body/],
      ['POST', '/', '{"a":1}', /expected a JSON array/],
      ['POST', '/', '[]', /empty command/],
      ['POST', '/', '', /missing request body/],
      ['POST', '/', '["SET","k",{"x":1}]', /argument 2 must be a string, number or boolean, not object/],
      ['POST', '/', '["SET","k",null]', /argument 2 must be a string, number or boolean, not null/],
      ['POST', '/pipeline', '["SET","k","v"]', /\/pipeline command 0: expected a JSON array/],
      ['POST', '/pipeline', '{"x":1}', /expected a 2-D JSON array/],
      ['POST', '/multi-exec', '[[1,[2]]]', /argument 1 must be a string/],
      ['GET', '/db/99/get/a', '', /invalid database in path/],
      ['GET', '/db/x/get/a', '', /invalid database in path/],
      ['GET', '/get/%E0%A4%A', '', /malformed percent-encoding|Bad Request/],
    ];
    for (const [method, path, body, re] of bad) {
      const r = await http(gw, method, path, { body: method === 'GET' ? undefined : body });
      expect(r.status, `${method} ${path} ${body}`).toBe(400);
      expect(r.json.error, `${method} ${path} ${body}`).toMatch(re);
    }
    const fmt = await http(gw, 'GET', '/get/a', { headers: { 'upstash-response-format': 'xml' } });
    expect(fmt.status).toBe(400);
    expect((await http(gw, 'GET', '/get/a', { headers: { 'upstash-response-format': 'resp2', 'upstash-encoding': 'base64' } })).status).toBe(400);

    for (const [method, path] of [['GET', '/pipeline'], ['PUT', '/multi-exec'], ['POST', '/pipeline/extra'], ['GET', '/db/3/multi-exec']]) {
      const r = await http(gw, method!, path!, { body: method === 'GET' ? undefined : '[["PING"]]' });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.json.error, `${method} ${path}`).toMatch(/^no route for/);
    }
    for (const method of ['DELETE', 'PATCH']) {
      const r = await http(gw, method, '/get/a');
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('HEAD, GET, POST, PUT');
      expect(r.json.error).toMatch(/not allowed: use HEAD, GET, POST or PUT/);
    }
    // Still serving.
    expect(await cmd(gw, ['PING'])).toBe('PONG');
  });
});

describe('upstream timeouts', () => {
  it('a node that does not answer in time: 504 JSON naming the node, the gateway keeps serving', async () => {
    const fast = await gateway(nodes, { upstreamTimeoutMs: 300 });
    const key = 'slow:k';
    const port = Number(fast.client.addrForSlot(keyHashSlot(key))!.split(':')[1]);
    const other = ['slow:a', 'slow:b', 'slow:c', 'slow:d', 'slow:e'].find((k) => fast.client.addrForSlot(keyHashSlot(k)) !== `127.0.0.1:${port}`)!;
    expect(await cmd(fast, ['SET', key, 'v'])).toBe('OK');
    const node = nodes.find((n) => n.port === port)!;
    node.proc.kill('SIGSTOP'); // well under the cluster node timeout: no failover
    let read: Awaited<ReturnType<typeof http>>;
    let write: Awaited<ReturnType<typeof http>>;
    let elsewhere: Awaited<ReturnType<typeof http>>;
    let later: Awaited<ReturnType<typeof http>>;
    try {
      // `later` queues behind the first two on the same upstream connection and times out on its own.
      const laterP = new Promise((r) => setTimeout(r, 150)).then(() => http(fast, 'GET', `/get/${key}`));
      [read, write, elsewhere, later] = await Promise.all([http(fast, 'GET', `/get/${key}`), http(fast, 'GET', `/set/${key}/w`), http(fast, 'GET', `/set/${other}/x`), laterP]);
    } finally {
      node.proc.kill('SIGCONT');
    }
    expect(read.status).toBe(504);
    expect(read.json.error).toBe(`cluster node 127.0.0.1:${port} did not answer within 300 ms`);
    expect(write.status).toBe(504);
    expect(write.json.error).toBe(`cluster node 127.0.0.1:${port} did not answer within 300 ms: the write may or may not have been applied`);
    expect(elsewhere.json).toEqual({ result: 'OK' });
    expect(later.status).toBe(504);
    await waitFor('the node to answer again', async () => (await http(fast, 'GET', `/get/${key}`)).status === 200);
  });
});

describe('CORS, base64, RESP2', () => {
  it('CORS preflight and response headers', async () => {
    const pre = await http(gw, 'OPTIONS', '/pipeline', { token: null, headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, upstash-encoding, upstash-telemetry-sdk' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-methods')).toBe('HEAD, GET, POST, PUT');
    const allowed = pre.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['authorization', 'content-type', 'upstash-encoding', 'upstash-sync-token', 'upstash-response-format', 'upstash-telemetry-sdk']) expect(allowed).toContain(h);
    const get = await http(gw, 'POST', '/', { body: ['SET', 'cors:a', '1'], headers: { origin: 'https://app.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(get.headers.get('access-control-expose-headers')).toContain('upstash-sync-token');
  });

  it('Upstash-Encoding: base64', async () => {
    const b64 = { 'upstash-encoding': 'base64' };
    const enc = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
    expect((await http(gw, 'POST', '/', { body: ['SET', 'b64:k', 'héllo ✓'], headers: b64 })).json).toEqual({ result: 'OK' });
    expect((await http(gw, 'GET', '/get/b64:k', { headers: b64 })).json).toEqual({ result: enc('héllo ✓') });
    expect((await http(gw, 'GET', '/mget/b64:k/b64:none', { headers: b64 })).json).toEqual({ result: [enc('héllo ✓'), null] });
    expect((await http(gw, 'GET', '/incr/b64:n', { headers: b64 })).json).toEqual({ result: 1 });
    // A value that is literally "OK" is base64 inside arrays; at the top level "OK" is sent as is, as Upstash does.
    const pipe = await http(gw, 'POST', '/pipeline', { body: [['SET', 'b64:ok', 'OK'], ['GET', 'b64:k'], ['MGET', 'b64:ok'], ['INCR', 'b64:k']], headers: b64 });
    expect(pipe.json).toEqual([{ result: 'OK' }, { result: enc('héllo ✓') }, { result: [enc('OK')] }, { error: 'ERR value is not an integer or out of range' }]);
  });

  it('Upstash-Response-Format: resp2 returns raw RESP2 bytes', async () => {
    await cmd(gw, ['SET', 'resp:a', 'v1']);
    const hdr = { 'upstash-response-format': 'resp2' };
    const r = await fetch(`${baseUrl(gw)}/mget/resp:a/resp:none`, { headers: { authorization: `Bearer ${TOKENS.rw}`, ...hdr } });
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await r.arrayBuffer()).toString('latin1')).toBe('*2\r\n$2\r\nv1\r\n$-1\r\n');
    expect((await http(gw, 'GET', '/incr/resp:n', { headers: hdr })).text).toBe(':1\r\n');
    const bin = await http(gw, 'POST', '/pipeline', { body: [['PING']], headers: hdr });
    expect(bin.status).toBe(400);
  });
});

describe('databases', () => {
  it('/db/<n> isolation and no SELECT leak between concurrent requests', async () => {
    expect(await cmd(gw, ['SET', 'iso:k', 'db0'])).toBe('OK');
    expect(await cmd(gw, ['SET', 'iso:k', 'db3'], TOKENS.rw, 3)).toBe('OK');
    const N = 300;
    const results = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const db = i % 2 === 0 ? 0 : 3;
        const [get, incr] = await Promise.all([http(gw, 'GET', `${db ? '/db/3' : ''}/get/iso:k`), http(gw, 'GET', `${db ? '/db/3' : ''}/incr/iso:c${i % 7}`)]);
        return { db, get: get.json.result as string, incr: incr.status };
      }),
    );
    for (const r of results) {
      expect(r.get).toBe(r.db ? 'db3' : 'db0');
      expect(r.incr).toBe(200);
    }
    let sum0 = 0;
    let sum3 = 0;
    for (let c = 0; c < 7; c++) {
      sum0 += Number((await cmd(gw, ['GET', `iso:c${c}`])) ?? 0);
      sum3 += Number((await cmd(gw, ['GET', `iso:c${c}`], TOKENS.rw, 3)) ?? 0);
    }
    expect(sum0).toBe(N / 2);
    expect(sum3).toBe(N / 2);
    // On the nodes: db 3 holds its own copy.
    const port = Number(gw.client.addrForSlot(keyHashSlot('iso:k'))!.split(':')[1]);
    expect(cli(port, '-n', '3', 'get', 'iso:k')).toBe('db3');
    expect(cli(port, 'get', 'iso:k')).toBe('db0');
  });
});

describe('cross-slot multi-key commands are split by slot', () => {
  it('MSET/MGET/EXISTS/TOUCH/DEL/UNLINK over every shard, merged in order', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `split:${i}`);
    expect(shardsOf(keys).size).toBe(3);
    expect(await cmd(gw, ['MSET', ...keys.flatMap((k) => [k, `v-${k}`])])).toBe('OK');
    const probe = keys.flatMap((k, i) => (i % 5 === 0 ? [k, `split:missing${i}`] : [k]));
    expect(await cmd(gw, ['MGET', ...probe])).toEqual(probe.map((k) => (k.includes('missing') ? null : `v-${k}`)));
    expect(await cmd(gw, ['EXISTS', keys[0]!, keys[0]!, keys[1]!, 'split:missing', keys[29]!])).toBe(4);
    expect(await cmd(gw, ['TOUCH', ...keys.slice(0, 10), 'split:missing'])).toBe(10);
    expect(await cmd(gw, ['DEL', ...keys.slice(0, 15), 'split:missing'])).toBe(15);
    expect(await cmd(gw, ['UNLINK', ...keys])).toBe(15);
    expect(await cmd(gw, ['MGET', ...keys])).toEqual(keys.map(() => null));
    expect(await cmd(gw, ['EXISTS', ...keys])).toBe(0);
    const wrong = await http(gw, 'POST', '/', { body: ['MSET', 'a', '1', 'b'] });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toBe("ERR wrong number of arguments for 'mset' command");
  });
});

describe('cluster-wide fan-outs', () => {
  it('DBSIZE, KEYS, RANDOMKEY, INFO, PING, FLUSHDB (admin) in db 6', async () => {
    const db = 6;
    const keys = Array.from({ length: 40 }, (_, i) => `fan:${i}`);
    expect(shardsOf(keys).size).toBe(3);
    for (const k of keys) await cmd(gw, ['SET', k, '1'], TOKENS.rw, db);
    await cmd(gw, ['EXPIRE', keys[0]!, 1000], TOKENS.rw, db);
    expect(await cmd(gw, ['DBSIZE'], TOKENS.rw, db)).toBe(40);
    expect(((await cmd(gw, ['KEYS', '*'], TOKENS.rw, db)) as string[]).sort()).toEqual([...keys].sort());
    expect(((await cmd(gw, ['KEYS', 'fan:1*'], TOKENS.rw, db)) as string[]).sort()).toEqual(keys.filter((k) => k.startsWith('fan:1')).sort());
    expect(keys).toContain(await cmd(gw, ['RANDOMKEY'], TOKENS.rw, db));
    expect(await cmd(gw, ['PING'])).toBe('PONG');
    expect(await cmd(gw, ['PING', 'hello'])).toBe('hello');

    const info = (await cmd(gw, ['INFO'], TOKENS.rw, db)) as string;
    expect(info.startsWith('# Cluster-wide\r\ncluster_nodes:3\r\n')).toBe(true);
    expect(info).toContain(`db${db}:keys=40,expires=1\r\n`);
    const primaries = gw.client.primaryNodes().map((n) => n.addr);
    expect(primaries).toHaveLength(3);
    for (const a of primaries) expect(info).toContain(`# Node ${a}\r\n`);
    // The summed counter equals the per-node ones added up.
    const perNode = [...info.matchAll(/\r\nconnected_clients:(\d+)/g)].map((m) => Number(m[1]));
    expect(perNode).toHaveLength(4);
    expect(perNode[0]).toBe(perNode.slice(1).reduce((a, b) => a + b, 0));
    const ks = (await cmd(gw, ['INFO', 'keyspace'], TOKENS.rw, db)) as string;
    expect(ks).toContain(`db${db}:keys=40,expires=1`);

    expect((await http(gw, 'GET', `/db/${db}/flushdb`)).status).toBe(403);
    expect(await cmd(gw, ['FLUSHDB'], TOKENS.admin, db)).toBe('OK');
    expect(await cmd(gw, ['DBSIZE'], TOKENS.rw, db)).toBe(0);
    expect(await cmd(gw, ['RANDOMKEY'], TOKENS.rw, db)).toBeNull();
  });

  it('scripting: SCRIPT runs on every primary (FLUSH needs an admin token), EVAL/EVALSHA answer as the nodes do, FUNCTION is unknown', async () => {
    expect(await cmd(gw, ['SCRIPT', 'LOAD', 'return 1'])).toBe('e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
    expect(await cmd(gw, ['SCRIPT', 'EXISTS', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db'])).toEqual([1]);
    expect((await http(gw, 'POST', '/', { token: TOKENS.rw, body: ['SCRIPT', 'FLUSH'] })).status).toBe(403);
    expect(await cmd(gw, ['SCRIPT', 'FLUSH'], TOKENS.admin)).toBe('OK');
    expect(await cmd(gw, ['EVAL', 'return 1', '0'])).toBe(1);
    for (const args of [['EVALSHA', 'a'.repeat(40), '0'], ['FUNCTION', 'LIST']]) {
      const r = await http(gw, 'POST', '/', { token: TOKENS.rw, body: args });
      expect(r.status, args.join(' ')).toBe(400);
      expect(r.json.error, args.join(' ')).toBe(await nodeError(args));
    }
  });
});

describe('cluster-wide SCAN', () => {
  it('every key over every shard, MATCH, TYPE, COUNT, WITHTYPE, hash-tag MATCH on one slot, opaque cursor', async () => {
    const db = 7;
    const strings = Array.from({ length: 300 }, (_, i) => `scan:${i}`);
    const hashes = Array.from({ length: 30 }, (_, i) => `scanh:${i}`);
    const tagged = Array.from({ length: 20 }, (_, i) => `{scantag}:${i}`);
    expect(shardsOf(strings).size).toBe(3);
    const seed = [...strings.map((k) => ['SET', k, 'v']), ...hashes.map((k) => ['HSET', k, 'f', 'v']), ...tagged.map((k) => ['SET', k, 'v'])];
    for (let i = 0; i < seed.length; i += 100) {
      const r = await http(gw, 'POST', `/db/${db}/pipeline`, { body: seed.slice(i, i + 100) });
      expect(r.status).toBe(200);
    }
    const all = [...strings, ...hashes, ...tagged];
    expect(await cmd(gw, ['DBSIZE'], TOKENS.rw, db)).toBe(all.length);

    const full = await scanAll(gw, ['COUNT', 25], db);
    expect(new Set(full.keys)).toEqual(new Set(all));
    expect(full.cursors.length).toBeGreaterThan(3);
    for (const c of full.cursors) {
      expect(typeof c).toBe('string');
      expect(c).not.toMatch(/^\d+$/); // opaque, not a node-local integer cursor
    }
    // Default COUNT too.
    expect(new Set((await scanAll(gw, [], db)).keys)).toEqual(new Set(all));

    const m = await scanAll(gw, ['MATCH', 'scan:1*', 'COUNT', 50], db);
    expect(new Set(m.keys)).toEqual(new Set(strings.filter((k) => k.startsWith('scan:1'))));
    const t = await scanAll(gw, ['TYPE', 'hash', 'COUNT', 50], db);
    expect(new Set(t.keys)).toEqual(new Set(hashes));

    // A hash tag in MATCH names one slot: only its owner is asked.
    const owner = Number(gw.client.addrForSlot(keyHashSlot('{scantag}'))!.split(':')[1]);
    const prim = gw.client.primaryNodes().map((n) => n.port);
    const before = prim.map((p) => calls(p, 'clusterscan'));
    const tag = await scanAll(gw, ['MATCH', '{scantag}:*'], db);
    expect(new Set(tag.keys)).toEqual(new Set(tagged));
    const after = prim.map((p) => calls(p, 'clusterscan'));
    prim.forEach((p, i) => expect(after[i]! - before[i]!, `:${p}`).toBe(p === owner ? 1 : 0));

    const wt = (await cmd(gw, ['SCAN', '0', 'MATCH', '{scantag}:1*', 'WITHTYPE'], TOKENS.rw, db)) as [string, string[]];
    expect(wt[0]).toBe('0');
    const pairs = new Map<string, string>();
    for (let i = 0; i < wt[1].length; i += 2) pairs.set(wt[1][i]!, wt[1][i + 1]!);
    expect(pairs).toEqual(new Map(tagged.filter((k) => k.startsWith('{scantag}:1')).map((k) => [k, 'string'])));

    const bad = await http(gw, 'POST', `/db/${db}`, { body: ['SCAN', 'garbage'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('ERR invalid cursor');
    expect((await http(gw, 'POST', '/', { body: ['SCAN', '0', 'COUNT', 'x'] })).json.error).toBe('ERR value is not an integer or out of range');
    expect((await http(gw, 'POST', '/', { body: ['SCAN', '0', 'BOGUS', 'x'] })).json.error).toBe('ERR syntax error');
  });
});

describe('replica reads', () => {
  it('read-your-writes through upstash-sync-token; replicas serve reads once they hold the write', async () => {
    const key = 'rr:k';
    const owner = gw.client.topology.owners[keyHashSlot(key)]!;
    const replicaPorts = gw.client.topology.replicasOf(owner).map((r) => r.port);
    expect(replicaPorts).toHaveLength(1);
    const replicaPort = replicaPorts[0]!;
    // A write then an immediate replica read presenting the write's sync token sees the write.
    let token = '';
    for (let i = 0; i < 30; i++) {
      const w = await http(gw, 'POST', '/', { token: TOKENS.replica, body: ['SET', key, `v${i}`], headers: { 'upstash-sync-token': token } });
      expect(w.json).toEqual({ result: 'OK' });
      token = w.headers.get('upstash-sync-token')!;
      expect(token).toMatch(SYNC_TOKEN);
      const r = await http(gw, 'GET', `/get/${key}`, { token: TOKENS.replica, headers: { 'upstash-sync-token': token } });
      expect(r.json).toEqual({ result: `v${i}` });
      // A read hands the token back (the SDK keeps the last one it saw).
      expect(r.headers.get('upstash-sync-token')).toBe(token);
    }
    // Once the replica is known to hold the last write, it serves the reads (with the right value).
    const before = calls(replicaPort, 'get');
    await waitFor('a replica read served by the replica', async () => {
      const r = await http(gw, 'GET', `/get/${key}`, { token: TOKENS.replica, headers: { 'upstash-sync-token': token } });
      expect(r.json).toEqual({ result: 'v29' });
      return calls(replicaPort, 'get') > before;
    }, 15_000);
    // Per request: Upstash-Replica-Read with a read-write token.
    const before2 = calls(replicaPort, 'get');
    await waitFor('a per-request replica read', async () => {
      const r = await http(gw, 'GET', `/get/${key}`, { headers: { 'upstash-replica-read': 'true' } });
      expect(r.json).toEqual({ result: 'v29' });
      return calls(replicaPort, 'get') > before2;
    }, 15_000);
    // Writes always go to the primary, even for a replica-read token.
    expect(await cmd(gw, ['INCR', 'rr:n'], TOKENS.replica)).toBe(1);
  });

  it('sync tokens hold replication offsets, not clocks: another gateway honours them; one it did not issue sends reads to the primary', async () => {
    const gw2 = await gateway(nodes);
    const key = 'rr:two';
    const owner = gw.client.topology.owners[keyHashSlot(key)]!;
    const primaryPort = gw.client.topology.nodes.get(owner)!.port;
    const replicaPort = gw.client.topology.replicasOf(owner)[0]!.port;
    const offset = (): number => Number(/master_repl_offset:(\d+)/.exec(cli(primaryPort, 'INFO', 'replication'))![1]);
    const before = offset();
    const w = await http(gw, 'POST', '/', { token: TOKENS.replica, body: ['SET', key, 'x1'] });
    const token = w.headers.get('upstash-sync-token')!;
    // One entry: the written primary, at an offset past the write (ROLE behind it on the same connection).
    expect(token).toMatch(SYNC_TOKEN);
    const [id, off] = token.split(':')[1]!.split('=') as [string, string];
    expect(owner.startsWith(id)).toBe(true);
    expect(Number(off)).toBeGreaterThan(before);
    expect(Number(off)).toBeLessThanOrEqual(offset());
    // Gateway 2 never saw that write: the token alone routes its read, to the replica once it has acked it.
    const r0 = calls(replicaPort, 'get');
    await waitFor('gateway 2 serving the read from the replica', async () => {
      const r = await http(gw2, 'GET', `/get/${key}`, { token: TOKENS.replica, headers: { 'upstash-sync-token': token } });
      expect(r.json).toEqual({ result: 'x1' });
      return calls(replicaPort, 'get') > r0;
    }, 15_000);
    // A token this gateway did not issue (an older clock-based one, garbage, another epoch): the primary.
    const epoch = Number(/^e(\d+):/.exec(token)![1]);
    for (const t of ['1763740000000', 'garbage', token.replace(/^e\d+:/, `e${epoch + 1}:`)]) {
      const rb = calls(replicaPort, 'get');
      const pb = calls(primaryPort, 'get');
      for (let i = 0; i < 5; i++) {
        const r = await http(gw2, 'GET', `/get/${key}`, { token: TOKENS.replica, headers: { 'upstash-sync-token': t } });
        expect(r.json).toEqual({ result: 'x1' });
      }
      expect(calls(replicaPort, 'get')).toBe(rb);
      expect(calls(primaryPort, 'get')).toBe(pb + 5);
    }
    // A write presenting such a token gets a precise one back: every primary's offset after the write.
    const w2 = await http(gw2, 'POST', '/', { token: TOKENS.replica, body: ['SET', key, 'x2'], headers: { 'upstash-sync-token': 'garbage' } });
    const t2 = w2.headers.get('upstash-sync-token')!;
    expect(t2).toMatch(SYNC_TOKEN);
    expect(t2.split(':')[1]!.split(',').map((e) => e.split('=')[0]).sort()).toEqual(gw.client.primaryNodes().map((n) => n.id.slice(0, 12)).sort());
    await waitFor('the replica serving x2 under the new token', async () => {
      const r = await http(gw, 'GET', `/get/${key}`, { token: TOKENS.replica, headers: { 'upstash-sync-token': t2 } });
      expect(r.json).toEqual({ result: 'x2' });
      return true;
    });
  });

  it('a WebSocket session of a replicaReads token reads its own writes, pipelined, and still uses the replica', async () => {
    const key = 'rr:ws';
    const owner = gw.client.topology.owners[keyHashSlot(key)]!;
    const replicaPort = gw.client.topology.replicasOf(owner)[0]!.port;
    const ws = await JsonWs.open(`${baseUrl(gw).replace('http', 'ws')}/ws?_token=${TOKENS.replica}`);
    try {
      for (let i = 0; i < 30; i++) {
        // Sent back to back: the GET goes out while the SET is in flight.
        const [w, r] = await Promise.all([ws.result('SET', key, `w${i}`), ws.result('GET', key)]);
        expect(w).toBe('OK');
        expect(r).toBe(`w${i}`);
      }
      const before = calls(replicaPort, 'get');
      await waitFor('a WebSocket read served by the replica', async () => {
        expect(await ws.result('GET', key)).toBe('w29');
        return calls(replicaPort, 'get') > before;
      }, 15_000);
    } finally {
      ws.close();
    }
  });

  it('a frozen replica (SIGSTOP) never serves a read presenting a newer sync token', async () => {
    const key = 'rr:frozen';
    const owner = gw.client.topology.owners[keyHashSlot(key)]!;
    const replicaPort = gw.client.topology.replicasOf(owner)[0]!.port;
    const replica = nodes.find((n) => n.port === replicaPort)!;
    replica.proc.kill('SIGSTOP');
    try {
      // The replica cannot acknowledge these writes: with their tokens the reads go to the primary,
      // and answer (a read sent to the frozen replica would hang until the upstream timeout).
      for (let i = 0; i < 10; i++) {
        const w = await http(gw, 'POST', '/', { token: TOKENS.replica, body: ['SET', key, `f${i}`] });
        const t = w.headers.get('upstash-sync-token')!;
        const r = await http(gw, 'GET', `/get/${key}`, { token: TOKENS.replica, headers: { 'upstash-sync-token': t } });
        expect(r.json).toEqual({ result: `f${i}` });
      }
    } finally {
      replica.proc.kill('SIGCONT');
    }
  });
});

describe('FLUSHALL (last: it empties every db)', () => {
  it('needs an admin token and empties every db on every primary', async () => {
    expect(await cmd(gw, ['DBSIZE'])).toBeGreaterThan(0);
    expect(await cmd(gw, ['DBSIZE'], TOKENS.rw, 3)).toBeGreaterThan(0);
    expect((await http(gw, 'POST', '/', { body: ['FLUSHALL'] })).status).toBe(403);
    expect(await cmd(gw, ['FLUSHALL'], TOKENS.admin)).toBe('OK');
    expect(await cmd(gw, ['DBSIZE'])).toBe(0);
    expect(await cmd(gw, ['DBSIZE'], TOKENS.rw, 3)).toBe(0);
    for (const n of gw.client.primaryNodes()) expect(cli(n.port, 'dbsize')).toBe('0');
  });
});
