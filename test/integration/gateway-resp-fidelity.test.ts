/**
 * RESP fidelity through the gateway: a RESP client over WebSocket (RESP2, and RESP3 after HELLO 3) and
 * a REST client asking for `Upstash-Response-Format: resp2` get the same bytes for every reply as a
 * client connected straight to the node: simple strings stay simple strings (+OK, +string from TYPE,
 * not $2 OK), and in RESP3 maps, sets, doubles, score pairs and verbatim strings keep their types,
 * although the gateway's upstream connection (ioredis, RESP2) decodes them all alike.
 *
 * Method: one script of deterministic commands runs against a one-node cluster straight (a raw TCP
 * connection) and, after FLUSHALL, through the gateway; each reply's bytes are compared.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../gateway/src/app';
import { cli, startClusterNodes, waitClusterOk } from '../helpers/cluster';
import { RespWs } from '../helpers/gateway-ws';
import type { NodeHandle } from '../helpers/node';
import { RawConn } from '../helpers/raw-conn';

const TOKEN = 'fidelity-admin-token';
let nodes: NodeHandle[];
let gw: Gateway;
let port: number;

/** Keys sharing a hash tag where a command takes several (the node is a cluster node: no CROSSSLOT). */
const SCRIPT: string[][] = [
  ['PING'],
  ['PING', 'hello'],
  ['ECHO', 'OK'],
  ['SET', 'k', 'OK'],
  ['GET', 'k'],
  ['SET', 'k', 'v2', 'GET'],
  ['SET', 'k', 'v3', 'NX'],
  ['SET', 'k', 'v3', 'XX', 'GET'],
  ['SETEX', 'ke', '100', 'x'],
  ['PSETEX', 'kp', '100000', 'x'],
  ['MSET', '{t}a', '1', '{t}b', '2'],
  ['MGET', '{t}a', '{t}b', '{t}c'],
  ['TYPE', 'k'],
  ['TYPE', 'nokey'],
  ['RENAME', '{r}1', '{r}2'],
  ['SET', '{r}1', 'x'],
  ['RENAME', '{r}1', '{r}2'],
  ['INCRBYFLOAT', 'f', '1.5'],
  ['RPUSH', 'l', 'a', 'b', 'c'],
  ['LSET', 'l', '0', 'z'],
  ['LTRIM', 'l', '0', '1'],
  ['LRANGE', 'l', '0', '-1'],
  ['LSET', 'nolist', '0', 'x'],
  ['HSET', 'h', 'f1', 'v1', 'f2', 'v2'],
  ['HMSET', 'h', 'f3', 'v3'],
  ['HGETALL', 'h'],
  ['HGETALL', 'nohash'],
  ['HINCRBYFLOAT', 'h', 'fl', '2.5'],
  ['HKEYS', 'h'],
  ['HRANDFIELD', 'h', '10', 'WITHVALUES'],
  ['SADD', 's', 'a', 'b', 'c'],
  ['SMEMBERS', 's'],
  ['SINTER', 's'],
  ['SUNION', 's'],
  ['SDIFF', 's'],
  ['SMEMBERS', 'noset'],
  ['SADD', 's2', 'x', 'y'],
  ['SPOP', 's2', '10'],
  ['ZADD', 'z', '1', 'a', '2.5', 'b', '3', 'incr'],
  ['ZSCORE', 'z', 'b'],
  ['ZSCORE', 'z', 'nomember'],
  ['ZINCRBY', 'z', '1.5', 'a'],
  ['ZADD', 'z', 'INCR', '1', 'c'],
  ['ZADD', 'z', 'NX', 'INCR', '1', 'c'],
  ['ZADD', 'z', 'CH', '4', 'incr'],
  ['ZMSCORE', 'z', 'a', 'nomember'],
  ['ZRANGE', 'z', '0', '-1'],
  ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'],
  ['ZRANGEBYSCORE', 'z', '-inf', '+inf', 'WITHSCORES'],
  ['ZREVRANGE', 'z', '0', '-1', 'WITHSCORES'],
  ['ZRANK', 'z', 'a', 'WITHSCORE'],
  ['ZRANK', 'z', 'a'],
  ['ZUNION', '1', 'z', 'WITHSCORES'],
  ['ZRANDMEMBER', 'z', '10', 'WITHSCORES'],
  ['ZADD', 'z', '+inf', 'top'],
  ['ZPOPMAX', 'z'],
  ['ZPOPMIN', 'z', '2'],
  ['ZMPOP', '1', 'z', 'MIN', 'COUNT', '2'],
  ['PFADD', '{p}1', 'a'],
  ['PFADD', '{p}2', 'b'],
  ['PFMERGE', '{p}1', '{p}2'],
  ['MULTI'],
  ['SET', '{m}k', 'OK'],
  ['GET', '{m}k'],
  ['HSET', '{m}h', 'a', '1'],
  ['HGETALL', '{m}h'],
  ['ZADD', '{m}z', '1.25', 'm'],
  ['ZSCORE', '{m}z', 'm'],
  ['TYPE', '{m}h'],
  ['EXEC'],
  ['DEL', 'k'],
  ['SCRIPT', 'FLUSH'],
];

beforeAll(async () => {
  nodes = await startClusterNodes(1);
  cli(nodes[0]!.port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await waitClusterOk([nodes[0]!.port]);
  gw = await startGateway({ port: 0, seeds: [{ host: '127.0.0.1', port: nodes[0]!.port }], tokens: [{ token: TOKEN, role: 'admin' }], processMetrics: false });
  port = (gw.app.server.address() as AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await Promise.all((nodes ?? []).map((n) => n.stop()));
});

/** The script's raw replies over one connection (a node's or the gateway's), after HELLO 3 for RESP3. */
async function runScript(c: { call(...a: string[]): Promise<unknown>; callRaw(...a: string[]): Promise<string>; close(): void }, proto: 2 | 3): Promise<string[]> {
  try {
    if (proto === 3) await c.call('HELLO', '3');
    const out: string[] = [];
    for (const cmd of SCRIPT) out.push(await c.callRaw(...cmd));
    return out;
  } finally {
    c.close();
  }
}

async function flushAll(): Promise<void> {
  const c = await RawConn.open(nodes[0]!.port);
  expect(await c.call('FLUSHALL')).toBe('OK');
  c.close();
}

async function direct(proto: 2 | 3): Promise<string[]> {
  await flushAll();
  return runScript(await RawConn.open(nodes[0]!.port), proto);
}

async function viaWs(proto: 2 | 3): Promise<string[]> {
  await flushAll();
  return runScript(await RespWs.open(`ws://127.0.0.1:${port}/ws/resp?_token=${TOKEN}`), proto);
}

function compare(want: string[], got: string[]): void {
  const diffs: string[] = [];
  SCRIPT.forEach((cmd, i) => {
    if (want[i] !== got[i]) diffs.push(`${cmd.join(' ')}\n  node:    ${JSON.stringify(want[i])}\n  gateway: ${JSON.stringify(got[i])}`);
  });
  expect(diffs.join('\n')).toBe('');
}

describe('RESP over WebSocket sends the bytes the node sends', () => {
  it('RESP2: simple strings stay simple strings', async () => {
    const want = await direct(2);
    // The script does exercise both kinds: +OK and a bulk "OK" (ECHO OK, GET of "OK").
    expect(want[SCRIPT.findIndex((c) => c[0] === 'ECHO')]).toBe('$2\r\nOK\r\n');
    expect(want[SCRIPT.findIndex((c) => c[0] === 'SET')]).toBe('+OK\r\n');
    compare(want, await viaWs(2));
  });

  it('RESP3 (HELLO 3): maps, sets, doubles, score pairs and nulls keep their types', async () => {
    const want = await direct(3);
    expect(want[SCRIPT.findIndex((c) => c[0] === 'HGETALL')]!.startsWith('%')).toBe(true);
    expect(want[SCRIPT.findIndex((c) => c[0] === 'SMEMBERS')]!.startsWith('~')).toBe(true);
    expect(want[SCRIPT.findIndex((c) => c[0] === 'ZSCORE')]).toBe(',2.5\r\n');
    compare(want, await viaWs(3));
  });
});

describe('REST with Upstash-Response-Format: resp2', () => {
  it('answers the node\'s RESP2 bytes, +OK included', async () => {
    const c = await RawConn.open(nodes[0]!.port);
    expect(await c.call('FLUSHALL')).toBe('OK');
    const cmds = [['SET', 'rk', 'OK'], ['GET', 'rk'], ['TYPE', 'rk'], ['SET', 'rk', 'x', 'GET'], ['PING'], ['HSET', 'rh', 'a', '1'], ['HGETALL', 'rh']];
    const want: string[] = [];
    for (const cmd of cmds) want.push(await c.callRaw(...cmd));
    expect(await c.call('FLUSHALL')).toBe('OK');
    c.close();
    const got: string[] = [];
    for (const cmd of cmds) {
      const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'upstash-response-format': 'resp2' }, body: JSON.stringify(cmd) });
      expect(r.status).toBe(200);
      got.push(Buffer.from(await r.arrayBuffer()).toString('latin1'));
    }
    expect(got).toEqual(want);
    expect(got[0]).toBe('+OK\r\n');
    expect(got[1]).toBe('$2\r\nOK\r\n');
  });
});
