/**
 * The gateway process: a fastify app wiring the cluster client, auth, the executor, the REST API, the
 * WebSocket and SSE endpoints, the browser page and /metrics, /healthz, /readyz. Stateless: any number
 * of copies can run behind a load balancer.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Auth, type TokenConfig } from './auth';
import { ClusterClient } from './cluster/client';
import { Errors, GatewayError } from './errors';
import { Executor } from './executor';
import { GatewayMetrics } from './metrics';
import { PubSubHub } from './pubsub/hub';
import { registerRest } from './rest/routes';
import { registerStatic } from './rest/static';
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
  const app = Fastify({ logger: opts.logger, bodyLimit: opts.bodyLimit, routerOptions: { maxParamLength: 10_000 } });

  // Bodies are taken as bytes whatever the content type; routes parse JSON themselves (clear 400s).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body));

  const allowedOrigin = (origin: string | undefined): string | null => {
    if (!origin) return null;
    if (!opts.origins) return origin;
    return opts.origins.includes(origin) ? origin : null;
  };

  // Callback-style hooks (no promise per request and hook): they run on every request.
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    (req as unknown as { startedAt: number }).startedAt = performance.now();
    const origin = allowedOrigin(req.headers.origin);
    if (origin) {
      reply.header('access-control-allow-origin', origin);
      reply.header('vary', 'Origin');
      reply.header('access-control-allow-credentials', 'true');
      reply.header('access-control-expose-headers', 'upstash-sync-token');
    }
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
    let status: number;
    let message: string;
    let kind: string;
    if (e instanceof GatewayError) {
      status = e.status;
      message = e.message;
      kind = e.kind;
    } else {
      const fe = e as { code?: string; statusCode?: number; message?: string };
      if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        status = 413;
        message = 'ERR max request size exceeded';
        kind = 'limit';
      } else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
        status = fe.statusCode;
        message = fe.message ?? 'bad request';
        kind = 'bad_request';
      } else {
        status = 500;
        message = `internal error: ${fe.message ?? String(e)}`;
        kind = 'internal';
      }
    }
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
    const q = req.query as Record<string, string | undefined>;
    const h = req.headers.authorization;
    auth.authenticate(h ? /^Bearer\s+(.+)$/i.exec(h)?.[1] : q._token);
    return reply.type('application/json').send(JSON.stringify(client.topology.toJSON()));
  });

  const rest = registerRest(app, { auth, executor, metrics, maxPipeline: opts.maxPipeline, databases: opts.databases });
  registerStatic(app, { rest });
  registerClusterEvents(app, { client, auth, metrics, queueLimit: opts.wsQueueLimit });
  const hub = new PubSubHub(client, metrics, { password: opts.upstreamPassword, subscribeTimeoutMs: opts.retryWindowMs });
  const sse = registerSse(app, { auth, executor, metrics, hub, queueLimit: opts.wsQueueLimit });

  const onClose: Array<() => Promise<void> | void> = [];
  const gw: Gateway = {
    app,
    client,
    metrics,
    auth,
    executor,
    hub,
    opts,
    onClose,
    async close() {
      for (const f of onClose) await f();
      await app.close();
      await client.close();
    },
  };
  registerWebSocket(gw, hub);
  onClose.push(() => sse.closeAll(), () => hub.close());
  return gw;
}

/** Build, load the slot map and listen. */
export async function startGateway(options: GatewayOptions & { port: number; host?: string }): Promise<Gateway> {
  const gw = buildGateway(options);
  await gw.client.start();
  await gw.app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  return gw;
}

export { Errors };
