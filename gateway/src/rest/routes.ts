/**
 * The Upstash-compatible REST API (../shared/COMPAT.md section 4):
 *   POST /                 JSON array body: one command          -> {"result": ...}
 *   GET|POST|PUT /cmd/a/b  path style; a POST/PUT body is the last argument
 *   POST /pipeline         2-D JSON array                         -> [{"result"}|{"error"}, ...]
 *   POST /multi-exec       2-D JSON array, one slot, atomic       -> [{"result"}|{"error"}, ...]
 *   /db/<n>/...            any of the above in database n
 * Headers: Authorization: Bearer <token> (or ?_token=), Upstash-Encoding: base64,
 * Upstash-Response-Format: resp2, Upstash-Replica-Read: true (ours), upstash-sync-token (echoed).
 * Errors: 4xx/5xx with {"error": "..."}; a Redis error reply is a 400 with the node's text.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Redis, { Command } from 'ioredis';
import type { Principal } from '../auth';
import type { Arg, Reply } from '../cluster/client';
import { Errors, GatewayError, isReplyError } from '../errors';
import { argStr, type ExecContext, type Executor, type Prepared } from '../executor';
import type { GatewayMetrics } from '../metrics';
import type { Auth } from '../auth';
import { toJson, toResp2 } from './encode';

export interface RestDeps {
  auth: Auth;
  executor: Executor;
  metrics: GatewayMetrics;
  maxPipeline: number;
  databases: number;
}

/** The token of a request: Authorization: Bearer <t>, or ?_token=. */
export function requestToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(.+)$/i.exec(h);
    return m ? m[1]!.trim() : undefined;
  }
  const q = req.query as Record<string, unknown> | undefined;
  const t = q?._token;
  return typeof t === 'string' ? t : undefined;
}

interface Format {
  base64: boolean;
  resp2: boolean;
}

function formatOf(req: FastifyRequest): Format {
  const enc = String(req.headers['upstash-encoding'] ?? '').toLowerCase();
  const fmt = String(req.headers['upstash-response-format'] ?? '').toLowerCase();
  const base64 = enc === 'base64';
  const resp2 = fmt === 'resp2';
  if (base64 && resp2) throw Errors.badRequest('Upstash-Encoding: base64 cannot be combined with Upstash-Response-Format: resp2');
  if (fmt && fmt !== 'resp2' && fmt !== 'json') throw Errors.badRequest(`unknown Upstash-Response-Format: ${fmt}`);
  return { base64, resp2 };
}

/** JSON body -> a command (strings; numbers and booleans become their string form). */
function toArgs(v: unknown, where: string): Arg[] {
  if (!Array.isArray(v)) throw Errors.badRequest(`${where}: expected a JSON array of strings, e.g. ["SET","key","value"]`);
  if (v.length === 0) throw Errors.badRequest(`${where}: empty command`);
  return v.map((x, i) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    throw Errors.badRequest(`${where}: argument ${i} must be a string, number or boolean, not ${x === null ? 'null' : typeof x}`);
  });
}

function parseJson(body: unknown): unknown {
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) throw Errors.badRequest('missing request body');
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : String(body);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw Errors.badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Registers the REST routes; returns the handler (the page route at `GET /` falls through to it). */
export function registerRest(app: FastifyInstance, d: RestDeps): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const { auth, executor, metrics } = d;

  const send = (reply: FastifyReply, fmt: Format, r: Reply): FastifyReply => {
    if (fmt.resp2) return reply.type('application/octet-stream').send(Buffer.concat(toResp2(r)));
    return reply.type('application/json').send(JSON.stringify({ result: toJson(r, fmt.base64) }));
  };

  const ctxOf = (req: FastifyRequest, principal: Principal, db: number): ExecContext => {
    const rr = String(req.headers['upstash-replica-read'] ?? '').toLowerCase();
    const sync = req.headers['upstash-sync-token'];
    return {
      principal,
      db,
      frontend: 'rest',
      replica: rr === 'true' || rr === '1' ? true : rr === 'false' || rr === '0' ? false : undefined,
      syncToken: typeof sync === 'string' ? sync : undefined,
    };
  };

  const afterWrite = (reply: FastifyReply, ctx: ExecContext): void => {
    if (ctx.newSyncToken) reply.header('upstash-sync-token', ctx.newSyncToken);
    else if (ctx.syncToken) reply.header('upstash-sync-token', ctx.syncToken);
  };

  /** Parse /db/<n>/rest-of-path; returns the db and the remaining segments (URL-decoded). */
  const parsePath = (url: string): { db: number; segs: string[] } => {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let segs = path.split('/').filter((s) => s.length > 0);
    let db = 0;
    if (segs[0] === 'db') {
      const n = segs[1];
      if (n === undefined || !/^\d{1,5}$/.test(n) || Number(n) >= d.databases) throw Errors.badRequest(`invalid database in path: /db/${n ?? ''} (0-${d.databases - 1})`);
      db = Number(n);
      segs = segs.slice(2);
    }
    try {
      return { db, segs: segs.map((s) => decodeURIComponent(s)) };
    } catch {
      throw Errors.badRequest('malformed percent-encoding in path');
    }
  };

  const runOne = async (req: FastifyRequest, reply: FastifyReply, principal: Principal, db: number, args: Arg[]): Promise<FastifyReply> => {
    const fmt = formatOf(req);
    const ctx = ctxOf(req, principal, db);
    try {
      const r = await executor.run(ctx, args);
      afterWrite(reply, ctx);
      return send(reply, fmt, r);
    } catch (e) {
      if (isReplyError(e)) {
        metrics.errors.inc({ kind: 'redis' });
        afterWrite(reply, ctx);
        return reply.code(400).type('application/json').send(JSON.stringify({ error: e.message }));
      }
      throw e;
    }
  };

  const pipeline = async (req: FastifyRequest, reply: FastifyReply, principal: Principal, db: number): Promise<FastifyReply> => {
    const fmt = formatOf(req);
    const body = parseJson(req.body);
    if (!Array.isArray(body)) throw Errors.badRequest('/pipeline: expected a 2-D JSON array of commands');
    if (body.length > d.maxPipeline) throw Errors.tooLarge(`/pipeline: ${body.length} commands exceed the limit of ${d.maxPipeline}`);
    const cmds = body.map((c, i) => toArgs(c, `/pipeline command ${i}`));
    const ctx = ctxOf(req, principal, db);
    // Commands run concurrently but each connection keeps order; commands on the same slot keep order.
    const results = await Promise.all(
      cmds.map((c) =>
        executor.run(ctx, c).then(
          (r) => ({ result: toJson(r, fmt.base64) }),
          (e: unknown) => {
            if (isReplyError(e) || e instanceof GatewayError) {
              metrics.errors.inc({ kind: e instanceof GatewayError ? e.kind : 'redis' });
              return { error: errorText(e) };
            }
            throw e;
          },
        ),
      ),
    );
    afterWrite(reply, ctx);
    if (fmt.resp2) throw Errors.badRequest('Upstash-Response-Format: resp2 is not supported for /pipeline');
    return reply.type('application/json').send(JSON.stringify(results));
  };

  const multiExec = async (req: FastifyRequest, reply: FastifyReply, principal: Principal, db: number): Promise<FastifyReply> => {
    const fmt = formatOf(req);
    const body = parseJson(req.body);
    if (!Array.isArray(body)) throw Errors.badRequest('/multi-exec: expected a 2-D JSON array of commands');
    if (body.length > d.maxPipeline) throw Errors.tooLarge(`/multi-exec: ${body.length} commands exceed the limit of ${d.maxPipeline}`);
    const cmds = body.map((c, i) => toArgs(c, `/multi-exec command ${i}`));
    const ctx = ctxOf(req, principal, db);
    let out: Reply;
    try {
      out = await runTransaction(executor, ctx, cmds);
    } catch (e) {
      if (isReplyError(e)) {
        metrics.errors.inc({ kind: 'redis' });
        return reply.code(400).type('application/json').send(JSON.stringify({ error: e.message }));
      }
      throw e;
    }
    afterWrite(reply, ctx);
    if (fmt.resp2) throw Errors.badRequest('Upstash-Response-Format: resp2 is not supported for /multi-exec');
    const arr = Array.isArray(out) ? out : [];
    return reply.type('application/json').send(JSON.stringify(arr.map((r) => (r instanceof Error ? { error: r.message } : { result: toJson(r, fmt.base64) }))));
  };

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const principal = auth.authenticate(requestToken(req));
    const { db, segs } = parsePath(req.url);
    if (req.method === 'HEAD') return reply.code(200).send();
    if (segs.length === 0) {
      if (req.method === 'GET') throw Errors.badRequest('GET / needs a command in the path (GET /get/key) or POST / with a JSON array body');
      const body = parseJson(req.body);
      return runOne(req, reply, principal, db, toArgs(body, 'request body'));
    }
    if (segs.length === 1 && req.method === 'POST') {
      if (segs[0] === 'pipeline') return pipeline(req, reply, principal, db);
      if (segs[0] === 'multi-exec') return multiExec(req, reply, principal, db);
    }
    const args: Arg[] = [...segs];
    if ((req.method === 'POST' || req.method === 'PUT') && Buffer.isBuffer(req.body) && req.body.length > 0) args.push(req.body);
    return runOne(req, reply, principal, db, args);
  };

  app.route({ method: ['GET', 'POST', 'PUT', 'HEAD'], url: '/*', handler });
  app.route({ method: ['POST', 'PUT'], url: '/', handler });
  return handler;
}

/**
 * MULTI ... EXEC on the node owning the commands' slot (all keys in one slot; keyless commands go with
 * them). A MOVED/ASK/TRYAGAIN inside aborts the transaction as a whole (EXECABORT), so it is retried
 * against the refreshed slot map. Returns EXEC's reply (an array, entries may be errors).
 */
export async function runTransaction(executor: Executor, ctx: ExecContext, cmds: Arg[][]): Promise<Reply> {
  if (cmds.length === 0) return [];
  const prepared: Prepared[] = cmds.map((c) => executor.prepare(ctx, c));
  let slot = -1;
  for (const p of prepared) {
    if (p.slot === -2) throw Errors.badRequest(`${p.name.toUpperCase()} is a cluster-wide command and cannot run inside /multi-exec`);
    if (p.slot >= 0) {
      if (slot >= 0 && p.slot !== slot) throw Errors.crossSlot("CROSSSLOT Keys in request don't hash to the same slot: a transaction runs on one shard; use a hash tag ({...}) to keep keys together");
      slot = p.slot;
    }
  }
  const client = executor.client;
  const write = prepared.some((p) => p.write);
  for (let attempt = 0; ; attempt++) {
    const addr = slot >= 0 ? client.addrForSlot(slot) : client.anyAddr();
    if (!addr) throw Errors.upstream(`no node serves hash slot ${slot}`);
    const redis: Redis = client.connection(addr, ctx.db);
    const p = redis.pipeline();
    p.call('MULTI');
    const raw = p as unknown as { sendCommand(c: Command): void };
    for (const c of cmds) raw.sendCommand(new Command(String(c[0]), c.slice(1), { replyEncoding: null }));
    raw.sendCommand(new Command('EXEC', [], { replyEncoding: null }));
    let res: Array<[Error | null, unknown]> | null;
    try {
      res = await p.exec();
    } catch (e) {
      if (write) throw Errors.upstream(`transaction on ${addr}: connection lost, it may or may not have run (${errorText(e)})`);
      throw Errors.upstream(`transaction on ${addr}: ${errorText(e)}`);
    }
    if (!res) throw Errors.upstream('transaction: no reply');
    const queued = res.slice(1, -1);
    const redirect = queued.find(([e]) => e && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(e.message));
    const [execErr, execRes] = res[res.length - 1]!;
    if (redirect && execErr && attempt < 8) {
      // Aborted as a whole; follow the map and try again.
      await client.refresh('moved').catch(() => {});
      await new Promise((r) => setTimeout(r, Math.min(50 * (attempt + 1), 400)));
      continue;
    }
    if (execErr) {
      // EXECABORT: name the first queued error (Redis says only "previous errors").
      const first = queued.find(([e]) => e)?.[0];
      const e = new Error(first ? `${execErr.message.replace(/\.$/, '')}: ${first.message}` : execErr.message);
      e.name = 'ReplyError';
      throw e;
    }
    if (execRes === null) {
      const e = new Error('EXECABORT Transaction discarded');
      e.name = 'ReplyError';
      throw e;
    }
    return execRes as Reply;
  }
}

export { argStr };
