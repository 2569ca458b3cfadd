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
import { presentedToken, type Auth, type Principal } from '../auth';
import { NO_REPLICA_YET, recordOffset, roleOffset, type Arg, type Reply } from '../cluster/client';
import { CommandTimeoutError, UnsentError } from '../cluster/conn';
import { Errors, GatewayError, ReplyError, isReplyError } from '../errors';
import { argStr, logOf, type ExecContext, type Executor, type Prepared } from '../executor';
import { GatewayMetrics } from '../metrics';
import { toJson, type JsonValue } from './encode';
import { encodeResp, replyShape } from './reply-shape';

/**
 * A REST call, whichever HTTP front end read it (fastify, or the fast path of ../http/fast.ts). Header
 * values are as sent; `token` is the Bearer token or `?_token=`.
 */
export interface RestRequest {
  method: string;
  url: string;
  token: string | undefined;
  body: Buffer | undefined;
  encoding: string | undefined;
  responseFormat: string | undefined;
  replicaRead: string | undefined;
  syncToken: string | undefined;
}

/** The answer to a REST call (errors the gateway raises are thrown as GatewayError instead). */
export interface RestResult {
  status: number;
  /** Content-Type; null for no body (HEAD). */
  type: string | null;
  body: string | Buffer | null;
  /** upstash-sync-token to send back (already checked to be a valid header value). */
  syncToken?: string;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

export interface RestDeps {
  auth: Auth;
  executor: Executor;
  metrics: GatewayMetrics;
  maxPipeline: number;
  databases: number;
}

/** The token of a fastify request (see presentedToken). */
export function requestToken(req: FastifyRequest): string | undefined {
  return presentedToken(req.headers.authorization, req.url);
}

interface Format {
  base64: boolean;
  resp2: boolean;
}

function formatOf(req: RestRequest): Format {
  const enc = (req.encoding ?? '').toLowerCase();
  const fmt = (req.responseFormat ?? '').toLowerCase();
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

/** A header value echoed back (the sync token a client sent): visible ASCII only. */
const SAFE_HEADER_VALUE = /^[\x20-\x7e]{0,256}$/;

/**
 * The upstash-sync-token to answer with: the one this request's write produced, else the one it
 * presented, echoed only when it is visible ASCII (it becomes a response header).
 */
function syncTokenOf(ctx: ExecContext): string | undefined {
  if (ctx.newSyncToken !== undefined) return ctx.newSyncToken; // made here (formatSyncToken): safe
  const t = ctx.syncToken;
  return t !== undefined && SAFE_HEADER_VALUE.test(t) ? t : undefined;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * One result as Upstash JSON. With base64, a top-level "OK" stays "OK", as Upstash sends status
 * replies (the SDK leaves exactly that string undecoded; nested strings are always base64).
 */
function resultJson(r: Reply, base64: boolean): JsonValue {
  if (base64 && Buffer.isBuffer(r) && r.length === 2 && r[0] === 0x4f && r[1] === 0x4b) return 'OK';
  return toJson(r, base64);
}

/** Reject Upstash-Response-Format: resp2 where only JSON is produced (checked before anything runs). */
function jsonOnly(fmt: Format, route: string): void {
  if (fmt.resp2) throw Errors.badRequest(`Upstash-Response-Format: resp2 is not supported for ${route}`);
}

/** The REST API, independent of the HTTP server: `handle` answers one call or throws a GatewayError. */
export interface RestApi {
  handle(req: RestRequest): Promise<RestResult>;
}

export function createRest(d: RestDeps): RestApi {
  const { auth, executor, metrics } = d;

  const ok = (fmt: Format, r: Reply, ctx: ExecContext, args: readonly Arg[]): RestResult => {
    const syncToken = syncTokenOf(ctx);
    if (fmt.resp2) return { status: 200, type: 'application/octet-stream', body: encodeResp(r, 2, replyShape(args, 2)), syncToken };
    return { status: 200, type: JSON_TYPE, body: JSON.stringify({ result: resultJson(r, fmt.base64) }), syncToken };
  };

  const ctxOf = (req: RestRequest, principal: Principal, db: number): ExecContext => {
    const rr = (req.replicaRead ?? '').toLowerCase();
    return {
      principal,
      db,
      frontend: 'rest',
      replica: rr === 'true' || rr === '1' ? true : rr === 'false' || rr === '0' ? false : undefined,
      syncToken: req.syncToken,
      // Charged once per HTTP request by the handler (a pipeline is one request).
      rateCharged: true,
    };
  };

  /** Parse /db/<n>/rest-of-path; returns the db and the remaining segments (URL-decoded). */
  const parsePath = (url: string): { db: number; segs: string[] } => {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // Empty segments inside the path are empty arguments (/set/k//EX/10); a trailing slash adds none.
    let segs = path.split('/').slice(1);
    if (segs[segs.length - 1] === '') segs.pop();
    let db = 0;
    if (segs[0] === 'db') {
      const n = segs[1];
      if (n === undefined || !/^\d{1,5}$/.test(n) || Number(n) >= d.databases) throw Errors.badRequest(`invalid database in path: /db/${n ?? ''} (0-${d.databases - 1})`);
      db = Number(n);
      segs = segs.slice(2);
    }
    try {
      return { db, segs: segs.map((s) => (s.includes('%') ? decodeURIComponent(s) : s)) };
    } catch {
      throw Errors.badRequest('malformed percent-encoding in path');
    }
  };

  /** A Redis error reply as REST answers it: 400 {"error": the node's text}. */
  const redisError = (ctx: ExecContext, e: Error): RestResult => {
    metrics.errors.inc({ kind: 'redis' });
    return { status: 400, type: JSON_TYPE, body: JSON.stringify({ error: e.message }), syncToken: syncTokenOf(ctx) };
  };

  /** The 2-D JSON body of /pipeline and /multi-exec, checked against the pipeline limit. */
  const commandsOf = (req: RestRequest, fmt: Format, route: string): Arg[][] => {
    jsonOnly(fmt, route);
    const body = parseJson(req.body);
    if (!Array.isArray(body)) throw Errors.badRequest(`${route}: expected a 2-D JSON array of commands`);
    if (body.length > d.maxPipeline) throw Errors.tooLarge(`${route}: ${body.length} commands exceed the limit of ${d.maxPipeline}`);
    return body.map((c, i) => toArgs(c, `${route} command ${i}`));
  };

  const runOne = async (req: RestRequest, principal: Principal, db: number, args: Arg[]): Promise<RestResult> => {
    const fmt = formatOf(req);
    const ctx = ctxOf(req, principal, db);
    let r: Reply = null;
    let failed: Error | null = null;
    try {
      r = await executor.run(ctx, args);
    } catch (e) {
      if (!isReplyError(e)) throw e;
      failed = e;
    }
    const written = executor.finishWrites(ctx);
    if (written) await written;
    return failed ? redisError(ctx, failed) : ok(fmt, r, ctx, args);
  };

  const pipeline = async (req: RestRequest, principal: Principal, db: number): Promise<RestResult> => {
    const fmt = formatOf(req);
    const cmds = commandsOf(req, fmt, '/pipeline');
    const ctx = ctxOf(req, principal, db);
    // Commands are sent at once, in order: each upstream connection keeps that order, so commands on one
    // slot (and the parts of split and fan-out commands) run in pipeline order. SCAN makes several round
    // trips, so it waits for the commands before it and the ones after it wait for it.
    const runAt = (c: Arg[]): Promise<{ result: JsonValue } | { error: string }> =>
      executor.run(ctx, c).then(
        (r) => ({ result: resultJson(r, fmt.base64) }),
        (e: unknown) => {
          if (isReplyError(e) || e instanceof GatewayError) {
            metrics.errors.inc({ kind: e instanceof GatewayError ? e.kind : 'redis' });
            return { error: errorText(e) };
          }
          throw e;
        },
      );
    const pending: Array<Promise<{ result: JsonValue } | { error: string }>> = [];
    for (const c of cmds) {
      if (argStr(c[0]!).toLowerCase() === 'scan') {
        await Promise.all(pending);
        const done = runAt(c);
        pending.push(done);
        await done;
      } else pending.push(runAt(c));
    }
    const results = await Promise.all(pending);
    const written = executor.finishWrites(ctx);
    if (written) await written;
    return { status: 200, type: JSON_TYPE, body: JSON.stringify(results), syncToken: syncTokenOf(ctx) };
  };

  const multiExec = async (req: RestRequest, principal: Principal, db: number): Promise<RestResult> => {
    const fmt = formatOf(req);
    const cmds = commandsOf(req, fmt, '/multi-exec');
    const ctx = ctxOf(req, principal, db);
    let out: Reply = null;
    let failed: Error | null = null;
    try {
      out = await runTransaction(executor, ctx, cmds);
    } catch (e) {
      if (!isReplyError(e)) throw e;
      failed = e;
    }
    const written = executor.finishWrites(ctx);
    if (written) await written;
    if (failed) return redisError(ctx, failed);
    const arr = Array.isArray(out) ? out : [];
    const body = JSON.stringify(arr.map((r) => (r instanceof Error ? { error: r.message } : { result: resultJson(r, fmt.base64) })));
    return { status: 200, type: JSON_TYPE, body, syncToken: syncTokenOf(ctx) };
  };

  const handle = async (req: RestRequest): Promise<RestResult> => {
    const principal = auth.authenticate(req.token);
    const { db, segs } = parsePath(req.url);
    if (req.method === 'HEAD') return { status: 200, type: null, body: null };
    if ((segs[0] === 'pipeline' || segs[0] === 'multi-exec') && (segs.length > 1 || req.method !== 'POST')) {
      throw Errors.notFound(`no route for ${req.method} /${segs.join('/')}: POST /${segs[0]} with a 2-D JSON array of commands`);
    }
    const charged = executor.chargeRate(principal);
    if (charged) await charged;
    if (segs.length === 0) {
      if (req.method === 'GET') throw Errors.badRequest('GET / needs a command in the path (GET /get/key) or POST / with a JSON array body');
      const body = parseJson(req.body);
      return runOne(req, principal, db, toArgs(body, 'request body'));
    }
    if (segs.length === 1 && req.method === 'POST') {
      if (segs[0] === 'pipeline') return pipeline(req, principal, db);
      if (segs[0] === 'multi-exec') return multiExec(req, principal, db);
    }
    const args: Arg[] = segs;
    if ((req.method === 'POST' || req.method === 'PUT') && req.body !== undefined && req.body.length > 0) args.push(req.body);
    return runOne(req, principal, db, args);
  };

  return { handle };
}

/** A header as one string (a repeated header is not taken as a value). */
function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** A fastify request as a REST call. */
export function restRequestOf(req: FastifyRequest): RestRequest {
  return {
    method: req.method,
    url: req.url,
    token: requestToken(req),
    body: Buffer.isBuffer(req.body) ? req.body : undefined,
    encoding: header(req, 'upstash-encoding'),
    responseFormat: header(req, 'upstash-response-format'),
    replicaRead: header(req, 'upstash-replica-read'),
    syncToken: header(req, 'upstash-sync-token'),
  };
}

/** Registers the REST routes on fastify; returns the handler (the page route at `GET /` falls through to it). */
export function registerRest(app: FastifyInstance, api: RestApi): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const r = await api.handle(restRequestOf(req));
    if (r.syncToken !== undefined) reply.header('upstash-sync-token', r.syncToken);
    reply.code(r.status);
    if (r.type !== null) reply.type(r.type);
    return r.body === null ? reply.send() : reply.send(r.body);
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
  prepared.forEach((p, i) => {
    const s = executor.transactionSlot(p, cmds[i]!);
    if (s >= 0) {
      if (slot >= 0 && s !== slot) throw Errors.crossSlot("CROSSSLOT Keys in request don't hash to the same slot: a transaction runs on one shard; use a hash tag ({...}) to keep keys together");
      slot = s;
    }
  });
  for (const p of prepared) executor.metrics.commands.inc({ frontend: ctx.frontend, cmd: GatewayMetrics.cmdLabel(p.name) });
  const client = executor.client;
  const write = prepared.some((p) => p.write);
  const deadline = Date.now() + client.retryWindowMs;
  let askAddr: string | null = null;
  for (let attempt = 1; ; attempt++) {
    const addr = askAddr ?? (slot >= 0 ? client.addrForSlot(slot) : client.anyAddr());
    const asking = askAddr !== null;
    askAddr = null;
    if (!addr) {
      if (Date.now() > deadline) throw Errors.upstream(`no node serves hash slot ${slot}`);
      await client.refresh('error').catch(() => {});
      await sleep(Math.min(50 * attempt, 500));
      continue;
    }
    const conn = client.connection(addr, ctx.db);
    if (conn.status !== 'ready' && conn.status !== 'connecting') {
      // Known unreachable: nothing was sent, retrying is safe.
      if (Date.now() > deadline) throw Errors.upstream(`cluster node ${addr} is unreachable`);
      await client.refresh('error').catch(() => {});
      await sleep(Math.min(50 * attempt, 500));
      continue;
    }
    // ASKING before MULTI holds for the whole transaction (the node clears it at EXEC). The commands go
    // back to back on the connection: no other request's command can land inside the transaction.
    const batch: Array<readonly Arg[]> = [];
    if (asking) batch.push(['ASKING']);
    batch.push(['MULTI'], ...cmds, ['EXEC']);
    // A write transaction: the primary's replication offset after it, for the sync token (a ROLE behind
    // EXEC, as ClusterClient.send does for single writes; none for a primary without replicas).
    const log = write ? logOf(ctx) : undefined;
    const id = client.topology.idAt(addr);
    const askRole = log !== undefined && id !== null && client.topology.hasReplicas(id);
    if (askRole) batch.push(['ROLE']);
    const res = await conn.batch(batch);
    if (res[0]![0] instanceof UnsentError && Date.now() < deadline) {
      // The connection closed before the batch was written (it goes out whole): nothing ran, send it again.
      executor.metrics.retries.inc({ reason: 'connection' });
      await sleep(Math.min(50 * attempt, 500));
      continue;
    }
    if (askRole) {
      const [roleErr, r] = res.pop()!;
      recordOffset(log, id, roleErr ? null : roleOffset(r));
    } else if (log) recordOffset(log, id, NO_REPLICA_YET);
    const failed = res.find(([e]) => e && !isReplyError(e));
    if (failed) {
      const msg = errorText(failed[0]);
      if (failed[0] instanceof CommandTimeoutError) throw Errors.timeout(`transaction on ${addr}: no answer in time${write ? ', it may or may not have run' : ''}`);
      throw Errors.upstream(`transaction on ${addr}: ${write ? 'connection lost, it may or may not have run' : 'connection lost'} (${msg})`);
    }
    const queued = res.slice(asking ? 2 : 1, -1);
    const [execErr, execRes] = res[res.length - 1]!;
    const redirect = queued.find(([e]) => e && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN) /.test(e.message))?.[0];
    if (redirect && execErr && Date.now() < deadline) {
      // Aborted as a whole (EXECABORT): nothing ran. Follow the redirect and send it again.
      const [kind, , target] = redirect.message.split(' ');
      if (kind === 'ASK' && target) {
        executor.metrics.redirects.inc({ type: 'ask' });
        askAddr = target;
      } else if (kind === 'MOVED') {
        executor.metrics.redirects.inc({ type: 'moved' });
        await client.refresh('moved').catch(() => {});
      } else {
        executor.metrics.retries.inc({ reason: kind === 'TRYAGAIN' ? 'tryagain' : 'clusterdown' });
        await sleep(Math.min(25 * 2 ** Math.min(attempt, 5), 500));
      }
      continue;
    }
    if (execErr) {
      // EXECABORT: name the first queued error (Redis says only "previous errors").
      const first = queued.find(([e]) => e)?.[0];
      throw new ReplyError(first ? `${execErr.message.replace(/\.$/, '')}: ${first.message}` : execErr.message);
    }
    if (execRes === null) {
      throw new ReplyError('EXECABORT Transaction discarded');
    }
    return execRes as Reply;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { argStr };
