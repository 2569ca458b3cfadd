/**
 * Lua scripting on a real node: EVAL/EVALSHA/EVAL_RO/EVALSHA_RO and SCRIPT, byte for byte against a
 * real redis-server 7 (RESP2 and RESP3: errors and their "script: <sha>, on @user_script:N." suffix,
 * the Lua <-> RESP conversions, global protection, redis.* helpers, cjson, bit, shebang flags), then
 * the clients people script with (ioredis defineCommand, node-redis defineScript, redis-cli --eval),
 * MULTI/EXEC and WATCH around scripts, atomicity, the time limit, and effects replication to a replica
 * (checked on the replica's data and on the stream itself, read with redis-cli --replica).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { createClient, defineScript } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCli, startNode, type NodeHandle } from '../helpers/node';
import { RawConn, diffScript, startRealRedis, type RealRedis } from '../helpers/resp-diff';
import { waitFor } from '../helpers/cluster';

const sha1 = (s: string): string => createHash('sha1').update(Buffer.from(s, 'latin1')).digest('hex');

let node: NodeHandle;
let real: RealRedis;

beforeAll(async () => {
  [node, real] = await Promise.all([startNode(), startRealRedis()]);
}, 30_000);

afterAll(async () => {
  await real?.stop();
});

const e = (script: string, ...rest: string[]): string[] => ['EVAL', script, ...(rest.length ? rest : ['0'])];

/** Commands whose replies must be byte-identical to redis-server 7's (RESP2). */
const SCRIPT_RESP2: string[][] = [
  ['FLUSHALL'],
  ['SCRIPT', 'FLUSH'],
  // Global protection and errors, with the script/line suffix.
  e('return x'),
  e('x = 5'),
  e('string.foo = 1'),
  e("rawset(_G, 'a', 1)"),
  e('return _G.nope'),
  e('local t = {} t.x = 1 return t.x'),
  e("error('boom')"),
  e("error({err='TABLEERR x'})"),
  e('\n\nerror("third line")'),
  e('return 1 +'),
  e('return ('),
  e("return 'abc"),
  e('local x = '),
  // redis.call / redis.pcall.
  e("return redis.call('incr','foo','bar')"),
  ['SET', 's', 'abc'],
  e("return redis.call('incr','s')"),
  e("return redis.pcall('incr','s')"),
  e("local r = redis.pcall('incr','s') return r.err"),
  e("return redis.call('nosuch')"),
  e("return redis.call('blpop','x',0)"),
  e("return redis.call('subscribe','x')"),
  e("return redis.call('multi')"),
  e("return redis.call('eval','return 1','0')"),
  e('return redis.call()'),
  e('return redis.pcall()'),
  e("return redis.call('set',{},1)"),
  e("return redis.call('get',KEYS[1])"),
  e("local ok, err = pcall(function() redis.call('incr','s') end) return err"),
  e("local ok, err = pcall(error, 'x') return err"),
  // Numbers as arguments: %.17g.
  e("redis.call('set','x',0.1) return redis.call('get','x')"),
  e("redis.call('set','x',3) return redis.call('get','x')"),
  e("redis.call('set','x',1e20) return redis.call('get','x')"),
  e("redis.call('set','x',10/3) return redis.call('get','x')"),
  // Lua -> RESP.
  e("return {1,2,3.99,'x',nil,5}"),
  e("return {ok='fine'}"),
  e("return {err='bad thing'}"),
  e("return {err='MYERR bad thing'}"),
  e("return {err='a\r\nb'}"),
  e("return {ok='a\r\nb'}"),
  e("return {err=''}"),
  e('return 1/0'),
  e('return -1/0'),
  e('return 0/0'),
  e('return -0.5'),
  e('return 2.5'),
  e('return -2.5'),
  e('return math.huge'),
  e('return true'),
  e('return false'),
  e('return nil'),
  e('return {true,false}'),
  e('return {double=3.5}'),
  e('return {map={a=1}}'),
  e("return {big_number='123'}"),
  e('return {set={a=true}}'),
  e("return {verbatim_string={format='txt',string='hi'}}"),
  e('local t = {} for i=1,100 do t[i]=i end return #t'),
  // RESP -> Lua.
  ['RPUSH', 'l', 'a', 'b', 'c'],
  e("return redis.call('lrange','l',0,-1)"),
  ['HSET', 'h', 'f', 'v'],
  e("return redis.call('hgetall','h')"),
  e("return redis.call('get','nokey')"),
  e("return type(redis.call('get','nokey'))"),
  e("return redis.call('ping')"),
  e("return type(redis.call('ping'))"),
  e("return redis.call('ping').ok"),
  e("return redis.call('echo','x\u0000y\u00ff')"),
  e("return #redis.call('time')"),
  e("return redis.call('hgetall','nohash')"),
  e("return redis.call('set','k','v','get')"),
  e("return redis.call('mget','k','nokey')"),
  e("return redis.call('type','k')"),
  e("return redis.call('expire','k',100)"),
  e("return redis.call('ttl','k')"),
  ['ZADD', 'z', '1.5', 'm'],
  e("return redis.call('zscore','z','m')"),
  e("redis.setresp(3) return redis.call('hgetall','h')"),
  e("redis.setresp(3) return redis.call('get','nokey')"),
  e("redis.setresp(3) return type(redis.call('get','nokey'))"),
  e("redis.setresp(3) return redis.call('zscore','z','m')"),
  e("redis.setresp(3) local r = redis.call('zscore','z','m') return r.double * 2"),
  e("redis.setresp(3) return redis.call('smembers','nos')"),
  e('redis.setresp(3) return {true,false}'),
  // KEYS, ARGV, numkeys.
  e('return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}', '2', 'k1', 'k2', 'a1', 'a2'),
  e('return 1', '-1'),
  e('return 1', '5', 'a'),
  e('return 1', 'x'),
  e('return 1', '1.5'),
  e('KEYS = {}'),
  e('local KEYS = 1 return KEYS'),
  // redis.* helpers.
  e("return redis.error_reply('E1')"),
  e("return redis.error_reply('-E1 x')"),
  e("return redis.error_reply('bad thing')"),
  e('return redis.error_reply(5)'),
  e("return redis.status_reply('S1')"),
  e('return redis.status_reply()'),
  e("return redis.sha1hex('')"),
  e("return redis.sha1hex('abc', 1)"),
  e("return redis.log(redis.LOG_WARNING, 'a warning from a test script', 5)"),
  e("return redis.log(99, 'hi')"),
  e("return redis.log('x', 'hi')"),
  e('return redis.log(1)'),
  e('return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}'),
  e('return redis.setresp(4)'),
  e('return redis.setresp()'),
  e("return redis.acl_check_cmd('get','x')"),
  e("return redis.acl_check_cmd('nosuch')"),
  e('return redis.replicate_commands()'),
  e('return redis.set_repl(redis.REPL_ALL)'),
  e('return redis.set_repl(99)'),
  // The Lua 5.1 environment.
  e('return tostring(3)'),
  e('return tostring(1.5)'),
  e('return tostring(1e100)'),
  e('return tostring(10/2)'),
  e("return tonumber('0x10')"),
  e('return unpack({1,2,3})'),
  e("return select('#', unpack({1,2,3}))"),
  e('return math.floor(3.7)'),
  e("return string.format('%d', 42)"),
  e("return ('abc'):upper()"),
  e("return table.concat({1,2,3},',')"),
  e("return 'a' .. 1"),
  e("return type(loadstring) .. type(print) .. type(io) .. type(require) .. type(debug) .. type(dofile)"),
  e('return type(setfenv)'),
  e('return type(gcinfo) .. type(coroutine) .. type(cjson) .. type(bit) .. type(cmsgpack)'),
  // cjson.
  e("return cjson.encode({1,2,3,'x'})"),
  e("return cjson.encode({a={b='c'}})"),
  e("return cjson.encode('a/b\"c\\\\d\\n\\1')"),
  e('return cjson.encode({})'),
  e('return cjson.encode(1.5)'),
  e('return cjson.encode(100)'),
  e('return cjson.encode(1e20)'),
  e('return cjson.encode({[1]=1,[20]=2})'),
  e('return cjson.encode(function() end)'),
  e('return cjson.encode(cjson.null)'),
  e('return cjson.encode({true,false})'),
  e('return cjson.encode()'),
  e('return cjson.encode({[true]=1})'),
  e("local t = cjson.decode('[1,2,{\"a\":\"b\"},null,true]') return {t[1],t[2],t[3].a,t[4]==cjson.null,t[5]}"),
  e("return cjson.decode('{\"a\":1.5}').a"),
  e("return tostring(cjson.decode('10'))"),
  e("return cjson.decode('[1,2')"),
  e("return cjson.decode('{1:2}')"),
  e("return cjson.decode('')"),
  e("return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')"),
  e("return cjson.decode('[1] x')"),
  e('return cjson.decode()'),
  e('return cjson.decode(cjson.null)'),
  // cmsgpack.
  ["EVAL", "return cmsgpack.pack(1.5, 'abc', {1,2}, {a=1}, true, false, 300, -5, -200, 70000, 5000000000, 0.1, -40000, -3000000000)", "0"],
  ["EVAL", "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300), string.rep('z', 70000))", "0"],
  ["EVAL", "return cmsgpack.pack()", "0"],
  ["EVAL", "return cmsgpack.pack(nil)", "0"],
  ["EVAL", "return cmsgpack.pack({1,nil,3})", "0"],
  ["EVAL", "return cmsgpack.pack({[1]=1,[3]=3})", "0"],
  ["EVAL", "return cmsgpack.pack(1e300, 1/0, -1/0)", "0"],
  ["EVAL", "return cmsgpack.pack(-0.0)", "0"],
  ["EVAL", "return cmsgpack.pack({})", "0"],
  ["EVAL", "return cmsgpack.pack(function() end)", "0"],
  ["EVAL", "local t = {} t.t = t return cmsgpack.pack(t)", "0"],
  ["EVAL", "return cmsgpack.pack(2^53, -2^63, 2^64)", "0"],
  ["EVAL", "local t = {} for i=1,20 do t[i]=i end return cmsgpack.pack(t)", "0"],
  ["EVAL", "local t = {} for i=1,20 do t['k'..i]=i end return #cmsgpack.pack(t)", "0"],
  ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2,{x='y'}}, 2.5))}", "0"],
  ["EVAL", "return cmsgpack.unpack('')", "0"],
  ["EVAL", "return cmsgpack.unpack('\\146\\001')", "0"],
  ["EVAL", "return cmsgpack.unpack('\\193')", "0"],
  ["EVAL", "return cmsgpack.unpack('\\196\\002ab')", "0"],
  ["EVAL", "return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')", "0"],
  ["EVAL", "return type(cmsgpack.unpack('\\203\\064\\004\\000\\000\\000\\000\\000\\000'))", "0"],
  ["EVAL", "return {cmsgpack.unpack('\\001\\002')}", "0"],
  ["EVAL", "return cmsgpack.unpack('\\001', 5)", "0"],
  ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 0)}", "0"],
  ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2, 0)}", "0"],
  ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 3)}", "0"],
  ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 0, 1)}", "0"],
  ["EVAL", "return {cmsgpack.unpack_one('')}", "0"],
  ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1), -1)}", "0"],
  ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(1), 5)}", "0"],
  ["EVAL", "return cmsgpack.unpack(5)", "0"],
  ["EVAL", "return cmsgpack._VERSION", "0"],
  ["EVAL", "return cmsgpack.unpack('\\217\\003abc')", "0"],
  ["EVAL", "return cmsgpack.unpack('\\160')", "0"],
  ["EVAL", "return cmsgpack.unpack()", "0"],
  ["EVAL", "local t = cmsgpack.unpack(cmsgpack.pack({a={b={1,2,'c'}}, n=5})) return {t.a.b[3], t.n}", "0"],
  ["EVAL", "return cmsgpack.unpack(cmsgpack.pack(string.rep('z', 70000))) == string.rep('z', 70000)", "0"],
  // bit.
  e('return bit.band(0xff, 0x0f)'),
  e('return bit.bor(1,2,4)'),
  e('return bit.bxor(5,1)'),
  e('return bit.bnot(0)'),
  e('return bit.lshift(1,31)'),
  e('return bit.rshift(-1,28)'),
  e('return bit.arshift(-256,4)'),
  e('return bit.tohex(255)'),
  e('return bit.tohex(-1, -4)'),
  e('return bit.tobit(2^32+5)'),
  e('return bit.rol(0x12345678, 8)'),
  e('return bit.bswap(0x12345678)'),
  // Shebang flags and the read-only variants.
  e("#!lua\nreturn redis.call('get','x')"),
  e("#!lua flags=no-writes\nreturn redis.call('set','x', 1)"),
  e('#!lua flags=no-writes\nreturn x'),
  e('#!lua flags=bogus\nreturn 1'),
  e('#!notlua\nreturn 1'),
  e('#!lua name=x\nreturn 1'),
  e('#!lua'),
  e('#!lua flags=\nreturn 1'),
  e('#!lua flags=no-writes,allow-oom\nreturn 1'),
  ['EVAL_RO', "return redis.call('set','x', 1)", '0'],
  ['EVAL_RO', "return redis.call('get','x')", '0'],
  ['EVAL_RO', '#!lua\nreturn 1', '0'],
  ['EVALSHA_RO', '0000000000000000000000000000000000000000', '0'],
  // SELECT inside a script does not change the caller's db.
  e("return redis.call('select','1')"),
  e("redis.call('select','1') redis.call('set','indb1','v') return 1"),
  ['GET', 'indb1'],
  ['SELECT', '1'],
  ['GET', 'indb1'],
  ['SELECT', '0'],
  // EVALSHA and SCRIPT.
  ['EVALSHA', '0000000000000000000000000000000000000000', '0'],
  ['EVALSHA', 'abc', '0'],
  ['SCRIPT', 'LOAD', "return 'loaded'"],
  ['EVALSHA', sha1("return 'loaded'"), '0'],
  ['EVALSHA', sha1("return 'loaded'").toUpperCase(), '0'],
  ['SCRIPT', 'EXISTS', sha1("return 'loaded'"), '0000000000000000000000000000000000000000', sha1("return 'loaded'").toUpperCase()],
  ['SCRIPT', 'LOAD', 'return +'],
  ['SCRIPT', 'FLUSH', 'bogus'],
  ['SCRIPT', 'FLUSH', 'async'],
  ['SCRIPT', 'EXISTS', sha1("return 'loaded'")],
  ['SCRIPT', 'FLUSH', 'sync'],
  ['SCRIPT', 'FLUSH'],
  ['SCRIPT', 'FLUSH', 'a', 'b'],
  ['SCRIPT', 'KILL'],
  ['SCRIPT', 'BOGUS'],
  ['SCRIPT'],
  ['SCRIPT', 'HELP'],
  ['EVAL'],
  ['EVAL', 'return 1'],
  ['EVALSHA'],
  ['SCRIPT', 'LOAD'],
  ['SCRIPT', 'EXISTS'],
  ['COMMAND', 'GETKEYS', 'EVAL', 'return 1', '2', 'a', 'b', 'c'],
  ['COMMAND', 'GETKEYS', 'EVALSHA_RO', sha1('x'), '1', 'a', 'b'],
];

/** RESP3: booleans, maps, sets, doubles, nulls. */
const SCRIPT_RESP3: string[][] = [
  ['FLUSHALL'],
  ['HSET', 'h', 'f', 'v'],
  ['ZADD', 'z', '1.5', 'm'],
  ['SADD', 'st', 'a'],
  e("return {1,2,3.99,'x',nil,5}"),
  e('return true'),
  e('return false'),
  e('return nil'),
  e('redis.setresp(3) return true'),
  e('redis.setresp(3) return false'),
  e('redis.setresp(3) return {true,false}'),
  e('return {double=3.5}'),
  e('return {map={a=1}}'),
  e("return {big_number='123'}"),
  e('return {set={a=true}}'),
  e("return {verbatim_string={format='txt',string='hi'}}"),
  e("return redis.call('hgetall','h')"),
  e("redis.setresp(3) return redis.call('hgetall','h')"),
  e("redis.setresp(3) return redis.call('zscore','z','m')"),
  e("return redis.call('zscore','z','m')"),
  e("redis.setresp(3) return redis.call('smembers','st')"),
  e("redis.setresp(3) return redis.call('get','nokey')"),
  e("return redis.call('get','nokey')"),
  e("redis.setresp(3) return redis.call('zrange','z',0,-1,'withscores')"),
  e("return redis.call('zrange','z',0,-1,'withscores')"),
  e("redis.setresp(3) local r = redis.call('hgetall','h') return r.map.f"),
  e("return {err='x'}"),
];

describe('against redis-server 7, byte for byte', () => {
  it('RESP2: errors, conversions, environment, helpers, cjson, bit, shebang, SCRIPT', async () => {
    const ours = await RawConn.open({ port: node.port });
    const theirs = await RawConn.open({ path: real.path });
    try {
      expect(await diffScript(ours, theirs, SCRIPT_RESP2)).toEqual([]);
    } finally {
      ours.close();
      theirs.close();
    }
  });

  it('RESP3', async () => {
    const ours = await RawConn.open({ port: node.port });
    const theirs = await RawConn.open({ path: real.path });
    try {
      await ours.send([['HELLO', '3']]);
      await theirs.send([['HELLO', '3']]);
      expect(await diffScript(ours, theirs, SCRIPT_RESP3)).toEqual([]);
    } finally {
      ours.close();
      theirs.close();
    }
  });

  it('known differences: Lua 5.4 integers, os.clock (Redis 7.2), no struct', async () => {
    const r = new Redis({ port: node.port, enableReadyCheck: false });
    try {
      // 64-bit integers (Redis's Lua 5.1 numbers are doubles: 2^53 + 1 would round).
      expect(await r.eval("return tostring(9007199254740993)", 0)).toBe('9007199254740993');
      expect(await r.eval("return type(os.clock())", 0)).toBe('number');
      await expect(r.eval('return type(struct)', 0)).rejects.toThrow("nonexistent global variable 'struct'");
    } finally {
      r.disconnect();
    }
  });
});

describe('real clients', () => {
  let r: Redis;
  beforeAll(() => {
    r = new Redis({ port: node.port, enableReadyCheck: false });
  });
  afterAll(() => r.disconnect());

  it('ioredis eval/evalsha and defineCommand (EVALSHA, NOSCRIPT -> EVAL, then EVALSHA), also in a pipeline', async () => {
    await r.script('FLUSH');
    expect(await r.eval("return {KEYS[1], ARGV[1], redis.call('set', KEYS[1], ARGV[1])}", 1, 'io:k', 'v1')).toEqual(['io:k', 'v1', 'OK']);
    const lua = "local n = redis.call('incrby', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], n) return n";
    r.defineCommand('incrAndLog', { numberOfKeys: 2, lua });
    const rr = r as Redis & { incrAndLog(a: string, b: string, n: number): Promise<number> };
    expect(await rr.incrAndLog('io:n', 'io:log', 5)).toBe(5);
    expect(await r.script('EXISTS', sha1(lua))).toEqual([1]);
    expect(await rr.incrAndLog('io:n', 'io:log', 2)).toBe(7);
    const res = await (r.pipeline() as unknown as { incrAndLog(a: string, b: string, n: number): { exec(): Promise<[Error | null, unknown][]> } }).incrAndLog('io:n', 'io:log', 1).exec();
    expect(res).toEqual([[null, 8]]);
    expect(await r.lrange('io:log', 0, -1)).toEqual(['5', '7', '8']);
    const sha = await r.script('LOAD', 'return ARGV[1]');
    expect(await r.evalsha(sha as string, 0, 'hello')).toBe('hello');
    expect(await r.evalsha_ro(sha as string, 0, 'ro')).toBe('ro');
    await expect(r.evalsha('f'.repeat(40), 0)).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
  });

  it('node-redis defineScript', async () => {
    const incrBy = defineScript({
      NUMBER_OF_KEYS: 1,
      SCRIPT: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
      parseCommand(parser: { pushKey(k: string): void; push(a: string): void }, key: string, n: number) {
        parser.pushKey(key);
        parser.push(String(n));
      },
      transformReply: undefined as unknown as () => number,
    });
    const c = createClient({ socket: { port: node.port, host: '127.0.0.1' }, scripts: { incrBy } });
    await c.connect();
    try {
      await c.del('nr:n');
      expect(await c.incrBy('nr:n', 3)).toBe(3);
      expect(await c.incrBy('nr:n', 4)).toBe(7);
      expect(await c.eval("return redis.call('get', KEYS[1])", { keys: ['nr:n'] })).toBe('7');
    } finally {
      await c.quit();
    }
  });

  it('redis-cli --eval', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lua-'));
    const file = path.join(dir, 'script.lua');
    writeFileSync(file, "redis.call('set', KEYS[1], ARGV[1])\nredis.call('set', KEYS[2], ARGV[2])\nreturn {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}\n");
    const out = redisCli(node.port, ['--eval', file, 'cli:a', 'cli:b', ',', '1', '2']);
    expect(out.stdout.split('\n')).toEqual(['cli:a', 'cli:b', '1', '2']);
    expect(redisCli(node.port, ['mget', 'cli:a', 'cli:b']).stdout.split('\n')).toEqual(['1', '2']);
    writeFileSync(file, 'return x\n');
    expect(redisCli(node.port, ['--eval', file]).stdout).toMatch(/^(\(error\) )?ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: [0-9a-f]{40}, on @user_script:1\.$/);
  });

  it('MONITOR shows the EVAL, then the commands its script runs as coming from lua', async () => {
    const monitor = await r.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push(`${source === 'lua' ? 'lua' : 'client'} ${args.join(' ')}`));
    try {
      await r.eval("return redis.call('incr', KEYS[1])", 1, 'mon:k');
      await waitFor('the EVAL and its INCR', () => seen.length >= 2);
      expect(seen.slice(0, 2)).toEqual(["client eval return redis.call('incr', KEYS[1]) 1 mon:k", 'lua incr mon:k']);
    } finally {
      monitor.disconnect();
    }
  });

  it('EVAL inside MULTI/EXEC, and a script that changes a WATCHed key aborts the other client', async () => {
    const res = await r.multi().set('tx:a', '1').eval("return redis.call('incr', KEYS[1])", 1, 'tx:a').eval('return 1 +', 0).get('tx:a').exec();
    expect(res![0]).toEqual([null, 'OK']);
    expect(res![1]).toEqual([null, 2]);
    expect(String(res![2]![0])).toContain('Error compiling script');
    expect(res![3]).toEqual([null, '2']);
    const other = new Redis({ port: node.port, enableReadyCheck: false });
    try {
      await other.watch('tx:a');
      await r.eval("return redis.call('set', KEYS[1], 'changed')", 1, 'tx:a');
      expect(await other.multi().set('tx:a', 'mine').exec()).toBeNull();
      expect(await r.get('tx:a')).toBe('changed');
    } finally {
      other.disconnect();
    }
  });

  it('a script wakes a client blocked on a list after it finishes', async () => {
    const blocked = new Redis({ port: node.port, enableReadyCheck: false });
    try {
      await r.del('bl:list');
      const popped = blocked.blpop('bl:list', 5);
      await waitFor('client blocked', async () => /blocked_clients:1/.test(await r.info('clients')));
      expect(await r.eval("redis.call('rpush', KEYS[1], 'a', 'b') return redis.call('llen', KEYS[1])", 1, 'bl:list')).toBe(2);
      expect(await popped).toEqual(['bl:list', 'a']);
      expect(await r.lrange('bl:list', 0, -1)).toEqual(['b']);
    } finally {
      blocked.disconnect();
    }
  });

  it('is atomic: another client waits until the script is done', async () => {
    const other = new Redis({ port: node.port, enableReadyCheck: false });
    try {
      await r.set('atom', 'before');
      // The script spins ~300 ms between a write and a read of the same key.
      const script =
        "redis.call('set', KEYS[1], 'script') local t0 = redis.call('time') local t repeat t = redis.call('time') until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 return redis.call('get', KEYS[1])";
      const running = r.eval(script, 1, 'atom');
      await new Promise((res) => setTimeout(res, 50));
      const t0 = Date.now();
      await other.set('atom', 'other');
      const waited = Date.now() - t0;
      expect(await running).toBe('script');
      expect(await r.get('atom')).toBe('other');
      expect(waited).toBeGreaterThan(100);
    } finally {
      other.disconnect();
    }
  });

  it('CLIENT PAUSE WRITE holds EVAL (a script may write) but not EVAL_RO', async () => {
    const other = new Redis({ port: node.port, enableReadyCheck: false });
    try {
      await other.ping();
      await r.client('PAUSE', '400', 'WRITE');
      const t0 = Date.now();
      expect(await other.eval_ro("return 'ro'", 0)).toBe('ro');
      expect(Date.now() - t0).toBeLessThan(300);
      expect(await other.eval("return 'rw'", 0)).toBe('rw');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    } finally {
      other.disconnect();
    }
  });

  it('stops a runaway script at lua-time-limit with an error (pcall cannot catch it); the node stays up', async () => {
    await r.config('SET', 'lua-time-limit', '200');
    try {
      const t0 = Date.now();
      await expect(r.eval('while true do end', 0)).rejects.toThrow(/^ERR Script killed: it ran longer than lua-time-limit \(200 ms\) script: [0-9a-f]{40}, on @user_script:1\.$/);
      await expect(r.eval("redis.call('set', KEYS[1], 'w') while true do pcall(function() while true do end end) end", 1, 'tl:k')).rejects.toThrow(
        'the writes it made before were kept',
      );
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(await r.get('tl:k')).toBe('w');
      expect(await r.ping()).toBe('PONG');
      expect(await r.eval('local n = 0 for i = 1, 100000 do n = n + i end return n', 0)).toBe(5000050000);
    } finally {
      await r.config('SET', 'lua-time-limit', '5000');
    }
    await expect(r.script('KILL')).rejects.toThrow('NOTBUSY No scripts in execution right now.');
  });

  it('globals stay protected across scripts and SCRIPT FLUSH resets the interpreter', async () => {
    await expect(r.eval("getmetatable('').__index.upper = nil", 0)).rejects.toThrow();
    expect(await r.eval("return ('a'):upper()", 0)).toBe('A');
    await expect(r.eval("load('x = 1')()", 0)).rejects.toThrow('Attempt to modify a readonly table');
    await expect(r.eval("cjson.encode = nil", 0)).rejects.toThrow('Attempt to modify a readonly table');
    await r.eval("return cjson.encode_max_depth(5)", 0);
    await r.script('FLUSH');
    expect(await r.eval("return cjson.encode_max_depth()", 0)).toBe(1000);
  });
});

/** Read what a primary streams to replicas for `ms`, with the real redis-cli --replica. */
function replicaStream(port: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('redis-cli', ['-p', String(port), '--replica'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

describe('effects replication', () => {
  let replica: NodeHandle;
  let p: Redis;
  let rep: Redis;
  beforeAll(async () => {
    replica = await startNode(['--replicaof', `127.0.0.1 ${node.port}`]);
    p = new Redis({ port: node.port, enableReadyCheck: false });
    rep = new Redis({ port: replica.port, enableReadyCheck: false });
    await waitFor('replica link up', async () => /master_link_status:up/.test(await rep.info('replication')));
  }, 30_000);
  afterAll(() => {
    p.disconnect();
    rep.disconnect();
  });

  it('the replica ends with the same data; the stream carries the commands in MULTI/EXEC, not EVAL', async () => {
    const stream = replicaStream(node.port, 2500);
    await new Promise((res) => setTimeout(res, 700));
    await p.eval(
      "redis.call('set', KEYS[1], ARGV[1]) redis.call('incrby', KEYS[1], 5) redis.call('rpush', KEYS[2], 'x', 'y') redis.call('expire', KEYS[1], 100) return 1",
      2,
      'rep:a',
      'rep:l',
      '10',
    );
    await p.eval("redis.call('select', 2) redis.call('set', 'rep:d2', 'v') return 1", 0);
    const sha = (await p.script('LOAD', "return redis.call('sadd', KEYS[1], unpack(ARGV))")) as string;
    await p.evalsha(sha, 1, 'rep:set', 'a', 'b', 'c');
    await p.eval("return redis.call('spop', KEYS[1])", 1, 'rep:set');
    await p.multi().set('rep:m', '1').eval("return redis.call('incr', KEYS[1])", 1, 'rep:m').exec();
    await p.eval("return redis.call('get', KEYS[1])", 1, 'rep:a'); // read only: nothing to propagate
    const out = await stream;
    expect(out).not.toMatch(/"EVAL/i);
    const lines = out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('"'));
    const first = lines.findIndex((l) => l.startsWith('"set","rep:a"') || l.startsWith('"SET","rep:a"'));
    expect(first).toBeGreaterThan(0);
    expect(lines[first - 1]!.toUpperCase()).toBe('"MULTI"');
    expect(lines.slice(first, first + 5).map((l) => l.split(',')[0]!.toUpperCase())).toEqual(['"SET"', '"INCRBY"', '"RPUSH"', '"PEXPIREAT"', '"EXEC"']);
    await waitFor('replica caught up', async () => (await rep.get('rep:m')) === '2');
    for (const c of [p, rep]) {
      expect(await c.get('rep:a')).toBe('15');
      expect(await c.lrange('rep:l', 0, -1)).toEqual(['x', 'y']);
      expect(await c.ttl('rep:a')).toBeGreaterThan(90);
      expect((await c.smembers('rep:set')).sort().length).toBe(2);
    }
    expect((await rep.smembers('rep:set')).sort()).toEqual((await p.smembers('rep:set')).sort());
    const rep2 = new Redis({ port: replica.port, db: 2, enableReadyCheck: false });
    try {
      expect(await rep2.get('rep:d2')).toBe('v');
    } finally {
      rep2.disconnect();
    }
  });

  it("min-replicas-ack: a script's writes are acknowledged like any write; refused when too few replicas", async () => {
    await p.config('SET', 'min-replicas-ack', '1');
    try {
      expect(await p.eval("return redis.call('set', KEYS[1], 'acked')", 1, 'rep:ack')).toBe('OK');
      expect(await rep.get('rep:ack')).toBe('acked');
      await p.config('SET', 'min-replicas-ack', '2');
      await expect(p.eval("return redis.call('set', KEYS[1], 'no')", 1, 'rep:ack')).rejects.toThrow(/^NOREPLICAS Not enough good replicas to write\. script: /);
      expect(await p.eval("return redis.call('get', KEYS[1])", 1, 'rep:ack')).toBe('acked');
    } finally {
      await p.config('SET', 'min-replicas-ack', '0');
    }
  });

  it('on the replica: EVAL_RO reads, writes are refused', async () => {
    expect(await rep.eval_ro("return redis.call('get', KEYS[1])", 1, 'rep:a')).toBe('15');
    await expect(rep.eval("return redis.call('set', KEYS[1], 'x')", 1, 'rep:a')).rejects.toThrow(/^READONLY You can't write against a read only replica\. script: /);
    await expect(rep.eval('#!lua\nreturn 1', 0)).rejects.toThrow("READONLY You can't write against a read only replica.");
    expect(await rep.eval('#!lua flags=no-writes\nreturn redis.call("get", KEYS[1])', 1, 'rep:a')).toBe('15');
  });
});
