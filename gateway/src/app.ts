/**
 * The gateway process: a fastify app wiring the cluster client, auth, the executor, the REST API, the
 * WebSocket and SSE endpoints, the browser page and /metrics, /healthz, /readyz. Stateless: any number
 * of copies can run behind a load balancer.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Auth, presentedToken, type TokenConfig } from './auth';
import { ClusterClient } from './cluster/client';
import { Errors, httpErrorOf } from './errors';
import { FastHttp, type FastRequest, type FastResponse } from './http/fast';
import { Executor } from './executor';
import { GatewayMetrics } from './metrics';
import { PubSubHub } from './pubsub/hub';
import { createRest, JSON_TYPE, registerRest, type RestApi } from './rest/routes';
import { registerStatic, STATIC_FILES } from './rest/static';
import { registerClusterEvents } from './rest/cluster-events';
import { registerSse } from './rest/sse';
import { registerWebSocket } from './ws/server';

export interface GatewayOptions {
  seeds: Array<{ host: string; port: number }>;
  tokens: TokenConfig[];
  /** Password for the cluster nodes (requirepass), when set. */
  upstreamPassword?: string;
  /** Max request body in bytes (default 10 MB, as Upstash). */
  bodyLimit?: number;
  /** Max commands in one /pipeline or /multi-exec (default 1000). */
  maxPipeline?: number;
  /** Databases per node (for /db/<n> validation; default 16). */
  databases?: number;
  /** Max WebSocket frame (default 1 MiB). */
  wsMaxFrame?: number;
  /** Max bytes queued for one slow WebSocket/SSE consumer before it is closed (default 1 MiB). */
  wsQueueLimit?: number;
  /** WebSocket ping interval (default 15 s); a peer missing one pong is closed. */
  wsHeartbeatMs?: number;
  /** Allowed Origins for WebSocket and CORS (null = any). */
  origins?: string[] | null;
  upstreamTimeoutMs?: number;
  retryWindowMs?: number;
  watchIntervalMs?: number;
  /**
   * The /metrics text (default: this process's registry). A worker of a multi-process gateway answers
   * with every worker's metrics, aggregated by the primary process (see workers.ts).
   */
  metricsText?: () => Promise<string>;
  /** Collect Node process metrics (default true; tests running many gateways in one process turn it off). */
  processMetrics?: boolean;
  logger?: boolean;
  /**
   * Answer plain REST calls on the gateway's own HTTP/1.1 fast path instead of node:http + fastify
   * (default true; see http/fast.ts). Off: every request goes through fastify.
   */
  fastPath?: boolean;
}

export interface Gateway {
  app: FastifyInstance;
  client: ClusterClient;
  metrics: GatewayMetrics;
  auth: Auth;
  executor: Executor;
  /** Upstream pub/sub multiplexing shared by WebSocket sessions and SSE streams. */
  hub: PubSubHub;
  opts: Required<Omit<GatewayOptions, 'upstreamPassword' | 'origins' | 'metricsText'>> & Pick<GatewayOptions, 'upstreamPassword' | 'origins'>;
  /** The REST fast path (null when turned off). */
  fast: FastHttp | null;
  /** Hooks run by close() (WebSocket server, pub/sub hub, ...). */
  onClose: Array<() => Promise<void> | void>;
  close(): Promise<void>;
}

/** The metrics route label for a URL (bounded set). */
export function routeLabel(url: string): string {
  // The first path segment after an optional /db/<n>, found without splitting (runs on every request).
  const q = url.indexOf('?');
  const limit = q < 0 ? url.length : q;
  let start = 1;
  if (url.startsWith('/db/')) {
    const slash = url.indexOf('/', 4);
    start = slash < 0 || slash >= limit ? limit : slash + 1;
  }
  let end = url.indexOf('/', start);
  if (end < 0 || end > limit) end = limit;
  const first = start >= limit ? '' : url.slice(start, end);
  switch (first) {
    case '':
      return 'command';
    case 'pipeline':
    case 'multi-exec':
    case 'subscribe':
    case 'psubscribe':
    case 'metrics':
    case 'healthz':
    case 'readyz':
    case 'ws':
    case 'cluster':
      return first;
    case 'client.js':
    case 'client.d.ts':
    case 'app.js':
    case 'app.css':
    case 'index.html':
    case 'favicon.ico':
    case 'favicon.svg':
      return 'static';
    default:
      return 'command';
  }
}

/** First path segments that are not REST commands (their own routes); requests for them go to fastify. */
const NOT_REST = new Set<string>(['healthz', 'readyz', 'metrics', 'cluster', 'subscribe', 'psubscribe', 'ws', 'favicon.ico', ...STATIC_FILES]);

/**
 * Whether the REST fast path answers this request: a REST call fastify would route to the REST handler
 * (`/*`, and POST|PUT `/`). `GET /` (the page), the other routes and anything whose first segment is
 * percent-encoded (fastify's router decodes it before matching) stay with fastify.
 */
export function fastPathTakes(method: string, url: string): boolean {
  if (url.length > 10_000) return false; // fastify's maxParamLength for the /* route
  const q = url.indexOf('?');
  const limit = q < 0 ? url.length : q;
  if (limit === 1) return method !== 'GET';
  let end = url.indexOf('/', 1);
  if (end < 0 || end > limit) end = limit;
  const first = url.slice(1, end);
  return !NOT_REST.has(first) && !first.includes('%');
}

/** A connection's requests waiting for the one in progress (node:http path); undefined when none is in progress. */
const IN_ORDER = Symbol('gateway.inOrder');

export function buildGateway(options: GatewayOptions): Gateway {
  const opts = {
    bodyLimit: 10 * 1024 * 1024,
    maxPipeline: 1000,
    databases: 16,
    wsMaxFrame: 1024 * 1024,
    wsQueueLimit: 1024 * 1024,
    wsHeartbeatMs: 15_000,
    upstreamTimeoutMs: 5000,
    retryWindowMs: 6000,
    watchIntervalMs: 1000,
    processMetrics: true,
    logger: false,
    fastPath: true,
    origins: null,
    ...options,
  };
  const metrics = new GatewayMetrics({ processMetrics: opts.processMetrics });
  const client = new ClusterClient({
    seeds: opts.seeds,
    password: opts.upstreamPassword,
    metrics,
    commandTimeoutMs: opts.upstreamTimeoutMs,
    retryWindowMs: opts.retryWindowMs,
    watchIntervalMs: opts.watchIntervalMs,
  });
  const auth = new Auth(opts.tokens);
  const executor = new Executor(client, metrics);
  const app = Fastify({
    logger: opts.logger,
    bodyLimit: opts.bodyLimit,
    routerOptions: { maxParamLength: 10_000 },
    // Errors fastify raises before routing (a path that does not percent-decode) in the API's own shape.
    frameworkErrors: (e, _req, res) => {
      metrics.errors.inc({ kind: 'bad_request' });
      const message = e.code === 'FST_ERR_BAD_URL' ? 'malformed percent-encoding in path' : e.message;
      void (res as FastifyReply).code(400).type('application/json').send(JSON.stringify({ error: message }));
    },
  });

  // Bodies are taken as bytes whatever the content type; routes parse JSON themselves (clear 400s).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body));

  const allowedOrigin = (origin: string | undefined): string | null => {
    if (!origin) return null;
    if (!opts.origins) return origin;
    return opts.origins.includes(origin) ? origin : null;
  };

  /** The CORS headers of a response to a request from an allowed Origin. */
  const corsHeaders = (origin: string): Array<[string, string]> => [
    ['access-control-allow-origin', origin],
    ['vary', 'Origin'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-expose-headers', 'upstash-sync-token'],
  ];

  // Pipelined requests on one connection run one after another, as the fast path's do: node:http emits
  // each as soon as its head is parsed, so a GET behind a POST whose body is still being read would
  // otherwise reach the cluster first (RFC 9112 9.3.2: only safe methods may be processed in parallel).
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const sock = req.raw.socket as (typeof req.raw.socket & { [IN_ORDER]?: Array<() => void> }) | null;
    if (sock === null) return done();
    const waiting = sock[IN_ORDER];
    const start = (): void => {
      let finished = false;
      const next = (): void => {
        if (finished) return;
        finished = true;
        const q = sock[IN_ORDER]!;
        const following = q.shift();
        if (following) following();
        else sock[IN_ORDER] = undefined;
      };
      reply.raw.once('finish', next);
      reply.raw.once('close', next);
      done();
    };
    if (waiting === undefined) {
      sock[IN_ORDER] = [];
      start();
    } else waiting.push(start);
  });

  // Callback-style hooks (no promise per request and hook): they run on every request.
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    (req as unknown as { startedAt: number }).startedAt = performance.now();
    const origin = allowedOrigin(req.headers.origin);
    if (origin) for (const [n, v] of corsHeaders(origin)) reply.header(n, v);
    if (req.method === 'OPTIONS') {
      reply.header('access-control-allow-methods', 'HEAD, GET, POST, PUT');
      reply.header('access-control-allow-headers', 'authorization, content-type, upstash-encoding, upstash-response-format, upstash-sync-token, upstash-replica-read, ' + String(req.headers['access-control-request-headers'] ?? ''));
      reply.header('access-control-max-age', '600');
      void reply.code(204).send();
      return;
    }
    const m = req.method;
    if (m !== 'GET' && m !== 'POST' && m !== 'HEAD' && m !== 'PUT') {
      metrics.errors.inc({ kind: 'bad_request' });
      void reply.code(405).header('allow', 'HEAD, GET, POST, PUT').type('application/json').send(JSON.stringify({ error: `method ${req.method} not allowed: use HEAD, GET, POST or PUT` }));
      return;
    }
    done();
  });

  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const started = (req as unknown as { startedAt?: number }).startedAt;
    metrics.httpDone(routeLabel(req.url), req.method, reply.statusCode, started === undefined ? 0 : (performance.now() - started) / 1000);
    done();
  });

  app.setErrorHandler((e: unknown, _req, reply) => {
    const { status, message, kind } = httpErrorOf(e);
    metrics.errors.inc({ kind });
    void reply.code(status).type('application/json').send(JSON.stringify({ error: message }));
  });

  app.setNotFoundHandler((req, reply) => {
    metrics.errors.inc({ kind: 'bad_request' });
    void reply.code(404).type('application/json').send(JSON.stringify({ error: `no route for ${req.method} ${req.url.split('?')[0]}` }));
  });

  app.get('/healthz', async (_req, reply) => reply.type('application/json').send('{"status":"ok"}'));
  app.get('/readyz', async (_req, reply) => {
    const t = client.topology;
    const ok = client.ready();
    return reply
      .code(ok ? 200 : 503)
      .type('application/json')
      .send(JSON.stringify({ status: ok ? 'ready' : 'not ready', slotsCovered: t.covered(), nodes: t.nodes.size, lastRefreshMsAgo: client.lastRefreshOk ? Date.now() - client.lastRefreshOk : null }));
  });
  const metricsText = options.metricsText ?? (() => metrics.registry.metrics());
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metricsText()));
  /** The live cluster as JSON (the browser page polls it); any valid token. */
  app.get('/cluster', async (req, reply) => {
    auth.authenticate(presentedToken(req.headers.authorization, req.url));
    return reply.type('application/json').send(JSON.stringify(client.topology.toJSON()));
  });

  const restApi = createRest({ auth, executor, metrics, maxPipeline: opts.maxPipeline, databases: opts.databases });
  const rest = registerRest(app, restApi);
  registerStatic(app, { rest });
  registerClusterEvents(app, { client, auth, metrics, queueLimit: opts.wsQueueLimit });
  const hub = new PubSubHub(client, metrics, { password: opts.upstreamPassword, subscribeTimeoutMs: opts.retryWindowMs });
  const sse = registerSse(app, { auth, executor, metrics, hub, queueLimit: opts.wsQueueLimit });

  const fast = opts.fastPath ? fastPath(app, restApi, allowedOrigin, corsHeaders, metrics) : null;

  const onClose: Array<() => Promise<void> | void> = [];
  const gw: Gateway = {
    app,
    client,
    metrics,
    auth,
    executor,
    hub,
    opts,
    fast,
    onClose,
    async close() {
      fast?.close();
      for (const f of onClose) await f();
      await app.close();
      await client.close();
    },
  };
  registerWebSocket(gw, hub);
  onClose.push(() => sse.closeAll(), () => hub.close());
  return gw;
}

/** The REST fast path on the fastify app's HTTP server (same answers, headers and metrics as the fastify route). */
function fastPath(
  app: FastifyInstance,
  api: RestApi,
  allowedOrigin: (o: string | undefined) => string | null,
  corsHeaders: (o: string) => Array<[string, string]>,
  metrics: GatewayMetrics,
): FastHttp {
  return new FastHttp(app.server, {
    accepts: fastPathTakes,
    handle: async (req: FastRequest): Promise<FastResponse> => {
      const started = performance.now();
      const origin = req.headers.origin === undefined ? null : allowedOrigin(req.headers.origin);
      const headers = origin ? corsHeaders(origin) : undefined;
      let res: FastResponse;
      try {
        const r = await api.handle({
          method: req.method,
          url: req.url,
          token: presentedToken(req.headers.authorization, req.url),
          body: req.body,
          encoding: req.headers['upstash-encoding'],
          responseFormat: req.headers['upstash-response-format'],
          replicaRead: req.headers['upstash-replica-read'],
          syncToken: req.headers['upstash-sync-token'],
        });
        res = { status: r.status, type: r.type, body: r.body, headers, syncToken: r.syncToken };
      } catch (e) {
        const { status, message, kind } = httpErrorOf(e);
        metrics.errors.inc({ kind });
        res = { status, type: JSON_TYPE, body: JSON.stringify({ error: message }), headers };
      }
      metrics.httpDone(routeLabel(req.url), req.method, res.status, (performance.now() - started) / 1000);
      return res;
    },
  });
}

/** Build, load the slot map and listen. */
export async function startGateway(options: GatewayOptions & { port: number; host?: string }): Promise<Gateway> {
  const gw = buildGateway(options);
  await gw.client.start();
  await gw.app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  return gw;
}

export { Errors };
