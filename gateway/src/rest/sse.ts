/**
 * Server-Sent Events subscriptions in the Upstash format (what @upstash/redis's `subscribe` and
 * `psubscribe` read; COMPAT.md section 4):
 *
 *   GET|POST /subscribe/<channel>    data: subscribe,<channel>,1
 *                                    data: message,<channel>,<payload>
 *   GET|POST /psubscribe/<pattern>   data: psubscribe,<pattern>,1
 *                                    data: pmessage,<pattern>,<channel>,<payload>
 *
 * One channel or pattern per stream (the SDK opens one request per channel), through the shared
 * pub/sub hub (one upstream subscription however many streams and sockets listen). The token needs
 * the channel in its channel patterns. A payload containing line breaks is sent as several `data:`
 * lines (the SSE rule: an EventSource joins them back with "\n"). `Upstash-Encoding: base64` (which
 * the SDK sends on every request) does not apply: the SDK's subscriber reads payloads as they are. A
 * comment line every `keepAliveMs` keeps proxies from timing the
 * stream out. When the client goes away (the SDK aborts the request) its listener is removed and the
 * last one leaving releases the upstream subscription. A client that does not read is cut off once
 * more than `queueLimit` bytes are waiting for it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Auth } from '../auth';
import { Errors } from '../errors';
import type { Executor } from '../executor';
import type { GatewayMetrics } from '../metrics';
import type { HubMessage, HubSubscriber, PubSubHub } from '../pubsub/hub';
import { requestToken } from './routes';

export interface SseDeps {
  auth: Auth;
  executor: Executor;
  metrics: GatewayMetrics;
  hub: PubSubHub;
  queueLimit: number;
  keepAliveMs?: number;
}

export interface SseHandle {
  /** End every open stream (gateway shutdown). */
  closeAll(): void;
  readonly open: number;
}

/** One `data:` event; line breaks inside become continuation `data:` lines. */
function event(text: string): string {
  return `data: ${text.replace(/\r\n|\r|\n/g, '\ndata: ')}\n\n`;
}

export function registerSse(app: FastifyInstance, d: SseDeps): SseHandle {
  const { auth, executor, metrics, hub } = d;
  const keepAliveMs = d.keepAliveMs ?? 15_000;
  const streams = new Set<() => void>();

  const handler = (pattern: boolean) => async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const principal = auth.authenticate(requestToken(req));
    const raw = (req.params as Record<string, string>)['*'] ?? '';
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      name = raw;
    }
    if (!name) throw Errors.badRequest(`${pattern ? '/psubscribe/<pattern>' : '/subscribe/<channel>'}: missing ${pattern ? 'pattern' : 'channel'}`);
    // Role and channel-pattern checks, as for the SUBSCRIBE command (pub/sub has no db: any the token may use).
    executor.prepare({ principal, db: principal.dbs?.[0] ?? 0, frontend: 'rest' }, [pattern ? 'PSUBSCRIBE' : 'SUBSCRIBE', name], true);
    const kind = pattern ? 'pattern' : 'channel';
    const res = reply.raw;

    let ended = false;
    let keepAlive: NodeJS.Timeout | null = null;
    const sub: HubSubscriber = {
      deliver(m: HubMessage) {
        if (ended) return;
        let f = m.cache.get('sse') as string | undefined;
        if (f === undefined) {
          const ch = Buffer.from(m.channel, 'latin1').toString('utf8');
          const payload = m.data.toString('utf8');
          f = event(m.kind === 'pattern' ? `pmessage,${Buffer.from(m.pattern!, 'latin1').toString('utf8')},${ch},${payload}` : `message,${ch},${payload}`);
          m.cache.set('sse', f);
        }
        send(f);
      },
    };
    const end = (why: 'client' | 'slow_consumer' | 'server'): void => {
      if (ended) return;
      ended = true;
      if (keepAlive) clearInterval(keepAlive);
      streams.delete(stop);
      hub.removeAll(sub);
      metrics.sseConnections.dec();
      metrics.httpRequests.inc({ route: pattern ? 'psubscribe' : 'subscribe', method: req.method, status: '200' });
      if (why === 'slow_consumer') {
        metrics.droppedMessages.inc({ reason: 'slow_consumer' });
        res.destroy();
      } else if (why === 'server') res.end();
    };
    const stop = (): void => end('server');
    const send = (text: string): void => {
      if (ended) return;
      res.write(text);
      if (res.writableLength > d.queueLimit) end('slow_consumer');
    };

    reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string;
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    metrics.sseConnections.inc();
    streams.add(stop);
    res.on('close', () => end('client'));
    try {
      await hub.subscribe(sub, kind, Buffer.from(name, 'utf8'));
    } catch (e) {
      res.write(event(`error,${e instanceof Error ? e.message : String(e)}`));
      end('server');
      return;
    }
    send(event(`${pattern ? 'psubscribe' : 'subscribe'},${name},1`));
    keepAlive = setInterval(() => send(': keep-alive\n\n'), keepAliveMs);
    keepAlive.unref();
  };

  for (const [path, pattern] of [['/subscribe/*', false], ['/psubscribe/*', true]] as const) {
    app.route({ method: ['GET', 'POST'], url: path, handler: handler(pattern) });
  }

  return {
    closeAll() {
      for (const s of [...streams]) s();
    },
    get open() {
      return streams.size;
    },
  };
}
