/**
 * GET /cluster/events: the live cluster as a Server-Sent Events stream (the browser page's view).
 *   event: topology   data: Topology.toJSON()    on connect, and whenever it changes
 *   event: migration  data: {moved, opened, closed, at}
 *   event: failover   data: {shard, oldPrimary, newPrimary, oldPrimaryAddr, newPrimaryAddr, seconds, at}
 *   ": ping" comments keep idle proxies from closing the stream.
 * Authenticated like /cluster (Authorization: Bearer, or ?_token= since EventSource cannot set headers).
 * Bounded: a consumer with more than `queueLimit` bytes unsent is dropped (EventSource reconnects and
 * gets a fresh topology). Besides the cluster client's events, the topology is compared once a second
 * while streams are open, so changes no event reports (a node flagged failed, a replica added) show too.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Auth } from '../auth';
import type { ClusterClient } from '../cluster/client';
import type { Topology } from '../cluster/topology';
import type { GatewayMetrics } from '../metrics';
import { requestToken } from './routes';

export interface ClusterEventsDeps {
  client: ClusterClient;
  auth: Auth;
  metrics?: GatewayMetrics;
  /** Max bytes buffered for one stream before it is closed. */
  queueLimit: number;
  /** Interval of ": ping" comments (default 15 s). */
  heartbeatMs?: number;
  /** How often the topology is compared while streams are open (default 1 s). */
  pollMs?: number;
}

interface Stream {
  res: ServerResponse;
  /** The last topology JSON sent on this stream. */
  last: string;
}

export function registerClusterEvents(app: FastifyInstance, d: ClusterEventsDeps): void {
  const { client } = d;
  const streams = new Set<Stream>();
  let timers: NodeJS.Timeout[] = [];
  let polled: Topology | null = null;
  let polledJson = '';

  const topologyJson = (): string => {
    if (client.topology !== polled) {
      polled = client.topology;
      polledJson = JSON.stringify(polled.toJSON());
    }
    return polledJson;
  };

  const drop = (s: Stream): void => {
    if (streams.delete(s)) d.metrics?.sseConnections.dec();
    if (!s.res.destroyed) s.res.destroy();
    if (streams.size === 0) stopTimers();
  };

  const write = (s: Stream, frame: string): void => {
    if (s.res.destroyed || s.res.writableEnded) return drop(s);
    s.res.write(frame);
    if (s.res.writableLength > d.queueLimit) {
      d.metrics?.droppedMessages.inc({ reason: 'slow_consumer' });
      drop(s);
    }
  };

  const sendTopology = (s: Stream): void => {
    const json = topologyJson();
    if (json === s.last) return;
    s.last = json;
    write(s, `event: topology\ndata: ${json}\n\n`);
  };

  const broadcast = (event: string, data: unknown): void => {
    if (streams.size === 0) return;
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of [...streams]) write(s, frame);
  };

  const startTimers = (): void => {
    if (timers.length) return;
    const poll = setInterval(() => {
      for (const s of [...streams]) sendTopology(s);
    }, d.pollMs ?? 1000);
    const ping = setInterval(() => {
      for (const s of [...streams]) write(s, ': ping\n\n');
    }, d.heartbeatMs ?? 15_000);
    poll.unref();
    ping.unref();
    timers = [poll, ping];
  };

  const stopTimers = (): void => {
    for (const t of timers) clearInterval(t);
    timers = [];
  };

  const addrOf = (id: string): string | null => client.topology.nodes.get(id)?.addr ?? null;

  const onTopology = (): void => {
    for (const s of [...streams]) sendTopology(s);
  };
  const onMigration = (m: unknown): void => broadcast('migration', m);
  const onFailover = (f: { oldPrimary: string; newPrimary: string }): void =>
    broadcast('failover', { ...f, oldPrimaryAddr: addrOf(f.oldPrimary), newPrimaryAddr: addrOf(f.newPrimary) });
  client.on('topology', onTopology);
  client.on('migration', onMigration);
  client.on('failover', onFailover);

  app.route({
    method: 'GET',
    url: '/cluster/events',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      d.auth.authenticate(requestToken(req));
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      const s: Stream = { res, last: '' };
      streams.add(s);
      d.metrics?.sseConnections.inc();
      startTimers();
      res.on('close', () => drop(s));
      res.on('error', () => drop(s));
      write(s, 'retry: 1000\n\n');
      sendTopology(s);
    },
  });

  // End the streams before the server waits for its connections to close.
  app.addHook('preClose', (done) => {
    client.off('topology', onTopology);
    client.off('migration', onMigration);
    client.off('failover', onFailover);
    for (const s of [...streams]) {
      streams.delete(s);
      d.metrics?.sseConnections.dec();
      s.res.end();
    }
    stopTimers();
    done();
  });
}
