/**
 * The gateway's REST fast path (gateway/src/http/fast.ts) against a real cluster: it must answer exactly
 * as the fastify route does (status, headers, body) for every kind of REST call, keep pipelined requests
 * in order whatever the TCP chunking, hand everything else on the same connection to node:http (the
 * page, /healthz, chunked bodies, WebSocket upgrades, oversized headers), and survive garbage.
 * Two gateways run side by side: one with the fast path, one with every request through fastify.
 */
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/src/app';
import { FastHttp } from '../../gateway/src/http/fast';
import type { NodeHandle } from '../helpers/node';
import { TOKENS, baseUrl, gateway, metric, startReplicatedCluster } from '../helpers/gateway';

let nodes: NodeHandle[];
let fast: Gateway;
let plain: Gateway;

beforeAll(async () => {
  nodes = await startReplicatedCluster(3, 0);
  fast = await gateway(nodes, { maxPipeline: 50 });
  plain = await gateway(nodes, { maxPipeline: 50, fastPath: false });
}, 90_000);

const portOf = (gw: Gateway): number => Number(new URL(baseUrl(gw)).port);

interface Res {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses complete HTTP/1.1 responses (Content-Length framed) from `buf`; returns them and the rest. */
function parseResponses(buf: Buffer): { res: Res[]; rest: Buffer } {
  const res: Res[] = [];
  let pos = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = buf.toString('latin1', pos, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    const len = Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + len) break;
    res.push({ status, headers, body: buf.subarray(end + 4, end + 4 + len) });
    pos = end + 4 + len;
  }
  return { res, rest: buf.subarray(pos) };
}

/**
 * Writes `chunks` on one connection (a short pause between chunks, so that each arrives on its own) and
 * collects `expect` responses (or whatever came before the server closed or `ms` passed).
 */
async function exchange(port: number, chunks: Array<string | Buffer>, expectN: number, ms = 10_000): Promise<{ res: Res[]; closed: boolean }> {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.setNoDelay(true);
  let buf = Buffer.alloc(0);
  const res: Res[] = [];
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    s.on('data', (d: Buffer) => {
      const p = parseResponses(Buffer.concat([buf, d]));
      res.push(...p.res);
      buf = p.rest;
      if (res.length >= expectN) {
        clearTimeout(timer);
        resolve();
      }
    });
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const c of chunks) {
    if (s.destroyed) break;
    s.write(c);
    if (chunks.length > 1) await new Promise((r) => setTimeout(r, 5));
  }
  await done;
  s.destroy();
  return { res, closed };
}

/** One request's bytes. */
function request(method: string, path: string, o: { token?: string | null; body?: string | Buffer; headers?: Record<string, string> } = {}): Buffer {
  const token = o.token === undefined ? TOKENS.rw : o.token;
  let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  if (token !== null) head += `Authorization: Bearer ${token}\r\n`;
  for (const [n, v] of Object.entries(o.headers ?? {})) head += `${n}: ${v}\r\n`;
  const body = o.body === undefined ? undefined : Buffer.from(o.body);
  if (body !== undefined) head += `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
}

/** What must match between the two front ends: status, the headers a client reads, the body. */
function visible(r: Res): unknown {
  const keep = ['content-type', 'content-length', 'access-control-allow-origin', 'vary', 'access-control-allow-credentials', 'access-control-expose-headers', 'allow', 'connection'];
  const h: Record<string, string> = {};
  for (const k of keep) if (r.headers[k] !== undefined) h[k] = r.headers[k]!;
  // The sync token is a time: only its presence is compared.
  if (r.headers['upstash-sync-token'] !== undefined) h['upstash-sync-token'] = /^e[1-9]\d*:[0-9a-f]{12}=\d+(,[0-9a-f]{12}=\d+)*$/.test(r.headers['upstash-sync-token']) ? '<sync token>' : r.headers['upstash-sync-token'];
  return { status: r.status, headers: h, body: r.body.toString('latin1') };
}

describe('same answers as the fastify route', () => {
  // Each case runs against a fresh key prefix per gateway so both see the same state.
  const cases: Array<[string, (p: string) => Buffer]> = [
    ['path-style SET', (p) => request('GET', `/set/${p}:a/hello`)],
    ['path-style GET', (p) => request('GET', `/get/${p}:a`)],
    ['GET of a missing key', (p) => request('GET', `/get/${p}:missing`)],
    ['POST / JSON command', (p) => request('POST', '/', { body: JSON.stringify(['INCRBY', `${p}:n`, 5]) })],
    ['POST path-style with the body as last argument', (p) => request('POST', `/set/${p}:b`, { body: 'a body with "quotes" and ünïcode' })],
    ['PUT path-style', (p) => request('PUT', `/append/${p}:b`, { body: '!' })],
    ['GET after PUT', (p) => request('GET', `/get/${p}:b`)],
    ['percent-encoded arguments', (p) => request('GET', `/set/${p}:c/a%2Fb%20c`)],
    ['empty argument inside the path', (p) => request('GET', `/set/${p}:d//`)],
    ['base64 encoding', (p) => request('GET', `/get/${p}:b`, { headers: { 'Upstash-Encoding': 'base64' } })],
    ['base64 OK stays OK', (p) => request('GET', `/set/${p}:e/v`, { headers: { 'Upstash-Encoding': 'base64' } })],
    ['resp2 format', (p) => request('GET', `/get/${p}:a`, { headers: { 'Upstash-Response-Format': 'resp2' } })],
    ['resp2 with base64 is a 400', (p) => request('GET', `/get/${p}:a`, { headers: { 'Upstash-Response-Format': 'resp2', 'Upstash-Encoding': 'base64' } })],
    ['unknown response format', (p) => request('GET', `/get/${p}:a`, { headers: { 'Upstash-Response-Format': 'xml' } })],
    ['pipeline', (p) => request('POST', '/pipeline', { body: JSON.stringify([['SET', `${p}:f`, '1'], ['INCR', `${p}:f`], ['HSET', `${p}:h`, 'x', '1'], ['HGETALL', `${p}:h`], ['LPUSH', `${p}:f`, 'x']]) })],
    ['multi-exec', (p) => request('POST', '/multi-exec', { body: JSON.stringify([['SET', `{${p}}:g`, '1'], ['INCR', `{${p}}:g`], ['GET', `{${p}}:g`]]) })],
    ['cross-slot multi-exec is a 400', (p) => request('POST', '/multi-exec', { body: JSON.stringify([['SET', `${p}:x1`, '1'], ['SET', `${p}:x2`, '1']]) })],
    ['GET /pipeline is a 404', () => request('GET', '/pipeline')],
    ['pipeline over the limit is a 413', (p) => request('POST', '/pipeline', { body: JSON.stringify(Array.from({ length: 51 }, () => ['GET', `${p}:a`])) })],
    ['a Redis error reply is a 400', (p) => request('GET', `/incr/${p}:b`)],
    ['wrong arity', () => request('GET', '/get')],
    ['unknown command', () => request('GET', '/nosuchcommand/x')],
    ['blocking command refused', (p) => request('GET', `/blpop/${p}:l/0`)],
    ['bad JSON', () => request('POST', '/', { body: '["SET", "k"' })],
    ['JSON that is not a command', () => request('POST', '/', { body: '{"a":1}' })],
    ['missing body', () => request('POST', '/')],
    ['no token', (p) => request('GET', `/get/${p}:a`, { token: null })],
    ['wrong token', (p) => request('GET', `/get/${p}:a`, { token: 'nope' })],
    ['malformed Authorization', (p) => request('GET', `/get/${p}:a`, { token: null, headers: { Authorization: 'Basic abc' } })],
    ['?_token=', (p) => request('GET', `/get/${p}:a?_token=${TOKENS.rw}`, { token: null })],
    ['read-only token writing', (p) => request('GET', `/set/${p}:a/x`, { token: TOKENS.ro })],
    ['key pattern forbidden', (p) => request('GET', `/get/${p}:a`, { token: TOKENS.users })],
    ['db prefix', (p) => request('GET', `/db/3/set/${p}:a/in-db-3`)],
    ['db prefix read', (p) => request('GET', `/db/3/get/${p}:a`)],
    ['bad db', (p) => request('GET', `/db/99/get/${p}:a`)],
    ['malformed percent-encoding', () => request('GET', '/get/%E0%A4%A')],
    ['CORS from an Origin', (p) => request('GET', `/get/${p}:a`, { headers: { Origin: 'https://app.example' } })],
    ['sync token echoed', (p) => request('GET', `/get/${p}:a`, { headers: { 'Upstash-Sync-Token': '12345' } })],
    ['split MSET across slots', (p) => request('POST', '/', { body: JSON.stringify(['MSET', `${p}:m1`, '1', `${p}:m2`, '2', `${p}:m3`, '3']) })],
    ['split MGET across slots', (p) => request('POST', '/', { body: JSON.stringify(['MGET', `${p}:m1`, `${p}:m2`, `${p}:m3`, `${p}:none`]) })],
    ['HEAD (node:http on the fast gateway)', (p) => request('HEAD', `/get/${p}:a`)],
    ['OPTIONS preflight (node:http)', () => request('OPTIONS', '/', { token: null, headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' } })],
    ['DELETE is a 405 (node:http)', () => request('DELETE', '/get/x')],
    ['/healthz (node:http)', () => request('GET', '/healthz', { token: null })],
    ['Connection: close', (p) => request('GET', `/get/${p}:a`, { headers: { Connection: 'close' } })],
  ];

  it('every case, one request per connection', async () => {
    const a: unknown[] = [];
    const b: unknown[] = [];
    for (const [name, make] of cases) {
      const [ra, rb] = [await exchange(portOf(fast), [make('fa1')], 1), await exchange(portOf(plain), [make('fa2')], 1)];
      expect(ra.res.length, name).toBe(1);
      expect(rb.res.length, name).toBe(1);
      a.push([name, visible(ra.res[0]!)]);
      b.push([name, JSON.parse(JSON.stringify(visible(rb.res[0]!)).replaceAll('fa2', 'fa1'))]);
    }
    expect(a).toEqual(b);
    // Spot checks that the cases mean what they say.
    const byName = new Map(a as Array<[string, { status: number; body: string }]>);
    expect(byName.get('path-style GET')).toMatchObject({ status: 200, body: '{"result":"hello"}' });
    expect(byName.get('resp2 format')).toMatchObject({ status: 200, body: '$5\r\nhello\r\n' });
    expect(byName.get('no token')!.status).toBe(401);
    expect(byName.get('DELETE is a 405 (node:http)')!.status).toBe(405);
    expect(byName.get('/healthz (node:http)')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(byName.get('split MGET across slots')).toMatchObject({ status: 200, body: '{"result":["1","2","3",null]}' });
  });

  it('every case pipelined on one connection, in order, whatever the TCP chunking', async () => {
    // The requests after HEAD/OPTIONS/DELETE/healthz go to node:http (the connection is handed over),
    // so the stream exercises both paths and the hand-over with bytes already read.
    const stream = (p: string) => Buffer.concat(cases.filter(([n]) => n !== 'Connection: close').map(([, make]) => make(p)));
    const n = cases.length - 1;
    // Expected: the fastify gateway, one request at a time (pipelined, fastify may run a request without
    // a body before an earlier one whose body it is still reading; the fast path keeps request order).
    // Prefixes of one length (the bodies' lengths must not differ), fresh for every run.
    const expected: string[] = [];
    for (const [name, make] of cases) {
      if (name === 'Connection: close') continue;
      const r = await exchange(portOf(plain), [make('pp000')], 1);
      expected.push(JSON.stringify(visible(r.res[0]!)).replaceAll('pp000', 'PP'));
    }
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 0, maxLength: 12 }), async (cuts) => {
        const p = `pq${String(++run).padStart(3, '0')}`;
        const bytes = stream(p);
        const points = [...new Set(cuts.map((c) => Math.min(c * 7, bytes.length - 1)))].sort((x, y) => x - y);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const c of points) {
          if (c > at) chunks.push(bytes.subarray(at, c));
          at = Math.max(at, c);
        }
        chunks.push(bytes.subarray(at));
        const got = await exchange(portOf(fast), chunks, n);
        expect(got.res.map((r) => JSON.stringify(visible(r)).replaceAll(p, 'PP'))).toEqual(expected);
      }),
      { numRuns: 12 },
    );
    expect(fast.fast!.handedOff).toBeGreaterThan(0);
  });
});

describe('the fast path itself', () => {
  it('answers 300 pipelined commands in order (more than it takes in flight at once)', async () => {
    const reqs: Buffer[] = [];
    for (let i = 0; i < 300; i++) reqs.push(i % 2 === 0 ? request('GET', `/incr/pipe:{x}`) : request('GET', `/get/pipe:{x}`));
    const { res } = await exchange(portOf(fast), [Buffer.concat(reqs)], 300);
    expect(res.length).toBe(300);
    const values = res.map((r) => JSON.parse(r.body.toString()).result);
    for (let i = 0; i < 300; i += 2) expect(String(values[i])).toBe(String(values[i + 1]));
    expect(values[298]! - values[0]!).toBe(149);
  });

  it('counts its requests in the same metrics as fastify', async () => {
    const before = await metric(fast, 'gateway_http_requests_total', { route: 'command', method: 'GET', status: '200' });
    const { res } = await exchange(portOf(fast), [request('GET', '/get/m:1'), request('GET', '/get/m:2')], 2);
    expect(res.map((r) => r.status)).toEqual([200, 200]);
    expect(await metric(fast, 'gateway_http_requests_total', { route: 'command', method: 'GET', status: '200' })).toBe(before + 2);
  });

  it('hands chunked and large bodies, oversized headers and WebSocket upgrades to node:http', async () => {
    const port = portOf(fast);
    // Chunked POST / (no Content-Length).
    const chunked = `POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.rw}\r\nTransfer-Encoding: chunked\r\n\r\n` + '14\r\n["SET","ck","chunk"]\r\n0\r\n\r\n';
    const c = await exchange(port, [chunked, request('GET', '/get/ck')], 2);
    expect(c.res.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, '{"result":"OK"}'],
      [200, '{"result":"chunk"}'],
    ]);
    // A 200 KiB value (over the fast path's 64 KiB body limit, under the 10 MB request limit).
    const big = 'v'.repeat(200 * 1024);
    const b = await exchange(port, [request('POST', '/set/bigkey', { body: big }), request('GET', '/strlen/bigkey')], 2);
    expect(b.res.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, '{"result":"OK"}'],
      [200, `{"result":${big.length}}`],
    ]);
    // Over the 10 MB request limit: 413 JSON from fastify.
    const huge = await exchange(port, [`POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.rw}\r\nContent-Length: ${11 * 1024 * 1024}\r\n\r\n`], 1);
    expect(huge.res[0]!.status).toBe(413);
    expect(JSON.parse(huge.res[0]!.body.toString()).error).toMatch(/max request size/);
    // A 20 KiB header block: node:http's 431.
    const h = await exchange(port, [`GET /get/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`], 1);
    expect(h.res[0]?.status ?? (h.closed ? 431 : 0)).toBe(431);
    // WebSocket upgrade after a fast-path request would not be valid HTTP; a fresh one works.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?_token=${TOKENS.rw}`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify(['ECHO', 'over ws'])));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('error', reject);
    });
    ws.close();
    expect(JSON.parse(reply).result).toBe('over ws');
  });

  it('runs pipelined requests handed to node:http in order: a GET behind a large POST sees its write', async () => {
    // One write carrying everything: 100 KiB bodies (over the fast path's 64 KiB) hand the connection to
    // node:http, which parses each request's head as soon as it arrives; the bodyless GET behind a POST
    // must still run after it.
    const parts: Buffer[] = [];
    for (let i = 0; i < 6; i++) {
      parts.push(request('POST', `/set/order:${i}`, { body: String(i).repeat(100 * 1024 + i) }));
      parts.push(request('GET', `/strlen/order:${i}`));
    }
    const r = await exchange(portOf(fast), [Buffer.concat(parts)], 12);
    expect(r.res.map((x) => x.body.toString())).toEqual(
      Array.from({ length: 6 }, (_, i) => ['{"result":"OK"}', `{"result":${100 * 1024 + i}}`]).flat(),
    );
  });

  it('survives garbage: bad request lines, bare LFs, NULs, obs-fold and random bytes', async () => {
    const port = portOf(fast);
    const bad = [
      'GET /get/x HTTP/1.1\nHost: x\n\n',
      'GET /get/x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n',
      'GET /get/x HTTP/1.1\r\nHo st: x\r\n\r\n',
      'GET /get/x HTTP/1.1\r\nHost: x\0y\r\n\r\n',
      'GET /get/x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
      'POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n',
      'GET  /get/x HTTP/1.1\r\n\r\n',
      'GARBAGE\r\n\r\n',
      '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n',
    ];
    for (const b of bad) {
      const r = await exchange(port, [b], 1, 2000);
      // node:http answers 400 and closes, or just closes: never a 200, never a hang.
      if (r.res.length) expect(r.res[0]!.status, JSON.stringify(b)).toBeGreaterThanOrEqual(400);
      else expect(r.closed, JSON.stringify(b)).toBe(true);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const r = await exchange(port, [Buffer.concat([Buffer.from(bytes), Buffer.from('\r\n\r\n')])], 1, 1000);
        for (const x of r.res) expect(x.status).not.toBe(200);
      }),
      { numRuns: 25 },
    );
    const ok = await exchange(port, [request('GET', '/echo/still-alive')], 1);
    expect(ok.res[0]!.body.toString()).toBe('{"result":"still-alive"}');
  });

  it('stops reading a client that does not read its answers, then answers everything in order', async () => {
    const port = portOf(fast);
    const value = 'x'.repeat(20 * 1024);
    const set = await exchange(port, [request('POST', '/set/slowreader:v', { body: value })], 1);
    expect(set.res[0]!.status).toBe(200);
    const n = 3000; // 60 MB of answers: far more than the sockets' buffers hold
    const reqs = Buffer.concat(Array.from({ length: n }, (_, i) => request('GET', i === n - 1 ? '/echo/last' : '/get/slowreader:v')));
    const count = () => metric(fast, 'gateway_http_requests_total', { route: 'command', method: 'GET' });
    const before = await count();
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.pause(); // read nothing yet
    s.write(reqs);
    await new Promise((r) => setTimeout(r, 1500));
    // Answered so far: what fits in the socket buffers plus the requests in flight, not all 3000.
    const answered = (await count()) - before;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(n / 2);
    // Now read: every answer arrives, in order, the last one being the echo.
    let buf = Buffer.alloc(0);
    const res: Res[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${res.length} answers`)), 30_000);
      s.on('data', (d: Buffer) => {
        const p = parseResponses(Buffer.concat([buf, d]));
        res.push(...p.res);
        buf = p.rest;
        if (res.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      });
      s.resume();
    });
    s.destroy();
    expect(res.length).toBe(n);
    expect(res.slice(0, -1).every((r) => r.status === 200 && r.body.length === value.length + 13)).toBe(true);
    expect(res[n - 1]!.body.toString()).toBe('{"result":"last"}');
  });

  it('Connection: close ends the connection after the response', async () => {
    const r = await exchange(portOf(fast), [Buffer.concat([request('GET', '/echo/a', { headers: { Connection: 'close' } }), request('GET', '/echo/b')])], 2, 3000);
    expect(r.res.map((x) => x.body.toString())).toEqual(['{"result":"a"}']);
    expect(r.res[0]!.headers.connection).toBe('close');
    expect(r.closed).toBe(true);
  });

  it('closes a connection idle for keepAliveTimeoutMs, and answers 408 to a header block left incomplete for headersTimeoutMs', async () => {
    // A FastHttp of its own with short timeouts, on a bare node:http server.
    const server = http.createServer((_req, res) => res.end('from node:http'));
    const fh = new FastHttp(server, {
      accepts: () => true,
      handle: async () => ({ status: 200, type: 'text/plain', body: 'fast' }),
      keepAliveTimeoutMs: 400,
      headersTimeoutMs: 400,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      // Answered, then idle: the server closes it (nothing more is sent by the client).
      const t0 = Date.now();
      const idle = await exchange(port, [request('GET', '/x', { token: null })], 2, 10_000);
      expect(idle.res.map((x) => x.body.toString())).toEqual(['fast']);
      expect(idle.closed).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
      // Half a header block and then silence: 408 and close, with no further byte needed to trigger it.
      const partial = await exchange(port, ['GET /x HTTP/1.1\r\nHost: a\r\n'], 2, 10_000);
      expect(partial.res.map((x) => x.status)).toEqual([408]);
      expect(partial.closed).toBe(true);
      // A connection sending a request every 150 ms for 1.2 s (three times the timeout) is never idle.
      const s = net.connect({ port, host: '127.0.0.1' });
      let got = Buffer.alloc(0);
      let closedEarly = false;
      s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      s.on('close', () => (closedEarly = true));
      await new Promise<void>((r) => s.once('connect', () => r()));
      for (let i = 0; i < 8; i++) {
        s.write(request('GET', '/x', { token: null }));
        await new Promise((r) => setTimeout(r, 150));
      }
      expect(closedEarly).toBe(false);
      expect(parseResponses(got).res.map((x) => x.body.toString())).toEqual(Array(8).fill('fast'));
      s.destroy();
    } finally {
      fh.close();
      await new Promise((r) => server.close(r));
    }
  });
});
