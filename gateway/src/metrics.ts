/**
 * The gateway's Prometheus metrics (prom-client), one registry per gateway instance. Names follow
 * Prometheus practice: `gateway_` prefix, base units (seconds, bytes), `_total` for counters, histograms
 * over summaries, and bounded label values only: route names, command names from the command table
 * (unknown commands count as "other"), error kinds, node addresses and shard ids (bounded by cluster
 * size) — never keys, channels, tokens or slot numbers.
 *
 * With `--workers N` every worker process has its own registry and /metrics answers the sum over the
 * workers (prom-client's AggregatorRegistry). Metrics that count what each worker does (requests,
 * commands, errors, redirects, connections, WebSocket traffic) add up; metrics of what every worker sees
 * the same way (the slot map, migrations, failovers) take the largest value (the smallest for slot
 * coverage and node up), so one failover counts once, not N times.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { COMMANDS } from '../../common/src/commands/table';
import { HotCounter, HotHistogram, type HotCounterChild, type HotHistogramChild } from './hot-metrics';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class GatewayMetrics {
  readonly registry = new Registry();

  // --- requests -------------------------------------------------------------------------------------
  /** HTTP requests by route (rest, pipeline, multi-exec, subscribe, metrics, ...), method and status code. */
  readonly httpRequests = new HotCounter({ name: 'gateway_http_requests_total', help: 'HTTP requests by route, method and status code', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
  readonly httpDuration = new HotHistogram({ name: 'gateway_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  /** Commands executed by the gateway for any front end (rest, ws-json, ws-resp), by command name. */
  readonly commands = new HotCounter({ name: 'gateway_commands_total', help: 'Commands executed, by front end and command', labelNames: ['frontend', 'cmd'], registers: [this.registry] });
  readonly commandDuration = new HotHistogram({ name: 'gateway_command_duration_seconds', help: 'Command latency through the gateway (upstream round trips, redirects and fan-out included), by command', labelNames: ['cmd'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  /** Errors by kind: auth, forbidden, rate_limited, bad_request, limit, redis (an error reply), upstream (connection/timeout), internal. */
  readonly errors = new Counter({ name: 'gateway_errors_total', help: 'Errors returned to clients, by kind', labelNames: ['kind'], registers: [this.registry] });

  /** 1 per gateway process; with --workers N the sum over the workers: fewer than N means a worker is down or restarting. */
  readonly workerProcesses = new Gauge({ name: 'gateway_worker_processes', help: 'Gateway processes answering requests (the worker count with --workers N)', registers: [this.registry] });

  // --- cluster client -------------------------------------------------------------------------------
  readonly redirects = new Counter({ name: 'gateway_redirects_total', help: 'MOVED/ASK redirects followed', labelNames: ['type'], registers: [this.registry] });
  readonly retries = new Counter({ name: 'gateway_upstream_retries_total', help: 'Upstream retries after TRYAGAIN, CLUSTERDOWN, a lost lease or a connection error', labelNames: ['reason'], registers: [this.registry] });
  readonly slotMapRefreshes = new Counter({ name: 'gateway_slot_map_refreshes_total', help: 'Slot map refreshes, by trigger (start, moved, watch, error) and outcome', labelNames: ['trigger', 'outcome'], registers: [this.registry] });
  readonly slotsCovered = new Gauge({ name: 'gateway_slots_covered', help: 'Hash slots with a known primary in the current slot map (16384 when complete)', aggregator: 'min', registers: [this.registry] });
  readonly shards = new Gauge({ name: 'gateway_cluster_shards', help: 'Shards (primaries owning slots) in the current slot map', aggregator: 'max', registers: [this.registry] });
  readonly nodeUp = new Gauge({ name: 'gateway_node_up', help: '1 when the gateway can reach the node, by node address and role', labelNames: ['node', 'role'], aggregator: 'min', registers: [this.registry] });
  readonly upstreamConnections = new Gauge({ name: 'gateway_upstream_connections', help: 'Open upstream connections to cluster nodes, by kind (command, subscriber)', labelNames: ['kind'], registers: [this.registry] });

  // --- migrations -----------------------------------------------------------------------------------
  readonly migrationsStarted = new Counter({ name: 'gateway_slot_migrations_started_total', help: 'Slot migrations seen starting (a slot marked migrating/importing)', aggregator: 'max', registers: [this.registry] });
  readonly migrationsCompleted = new Counter({ name: 'gateway_slot_migrations_completed_total', help: 'Slot migrations seen completing (a slot changing owner)', aggregator: 'max', registers: [this.registry] });
  readonly migrationKeysMoved = new Counter({ name: 'gateway_slot_migration_keys_moved_total', help: 'Keys seen moving between nodes: ASK redirects and MOVED redirects for migrated slots', registers: [this.registry] });
  readonly migrationDuration = new Histogram({ name: 'gateway_slot_migration_duration_seconds', help: 'Time from a slot first seen migrating to its owner change', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], aggregator: 'max', registers: [this.registry] });
  readonly slotsMigrating = new Gauge({ name: 'gateway_slots_migrating', help: 'Slots marked migrating or importing right now', aggregator: 'max', registers: [this.registry] });

  // --- failovers ------------------------------------------------------------------------------------
  readonly failovers = new Counter({ name: 'gateway_failovers_total', help: 'Primary changes seen, by shard', labelNames: ['shard'], aggregator: 'max', registers: [this.registry] });
  readonly failoverDuration = new Histogram({ name: 'gateway_failover_duration_seconds', help: 'How long a shard had no writable primary, as the gateway saw it (first failure to new primary)', labelNames: ['shard'], buckets: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60], aggregator: 'max', registers: [this.registry] });

  // --- WebSocket and pub/sub ------------------------------------------------------------------------
  readonly wsConnections = new Gauge({ name: 'gateway_ws_connections', help: 'Open WebSocket connections, by protocol (json, resp)', labelNames: ['protocol'], registers: [this.registry] });
  readonly wsMessages = new HotCounter({ name: 'gateway_ws_messages_total', help: 'WebSocket messages, by direction (in, out)', labelNames: ['direction'], registers: [this.registry] });
  readonly wsClosed = new Counter({ name: 'gateway_ws_closed_total', help: 'WebSocket connections closed, by reason (client, slow_consumer, heartbeat, frame_too_large, auth, server)', labelNames: ['reason'], registers: [this.registry] });
  readonly droppedMessages = new Counter({ name: 'gateway_dropped_messages_total', help: 'Outgoing messages dropped, by reason (slow_consumer, closed)', labelNames: ['reason'], registers: [this.registry] });
  readonly sseConnections = new Gauge({ name: 'gateway_sse_connections', help: 'Open Server-Sent Events streams', registers: [this.registry] });
  readonly subscriptions = new Gauge({ name: 'gateway_subscriptions', help: 'Client subscriptions (browser sockets and SSE streams), by kind (channel, pattern, shard)', labelNames: ['kind'], registers: [this.registry] });
  readonly upstreamSubscriptions = new Gauge({ name: 'gateway_upstream_subscriptions', help: 'Distinct upstream subscriptions after multiplexing, by kind (channel, pattern, shard)', labelNames: ['kind'], registers: [this.registry] });
  readonly pubsubMessages = new Counter({ name: 'gateway_pubsub_messages_total', help: 'Pub/sub messages received from upstream (before fan-out to clients)', labelNames: ['kind'], registers: [this.registry] });
  readonly pubsubDeliveries = new HotCounter({ name: 'gateway_pubsub_deliveries_total', help: 'Pub/sub messages delivered to client sockets and streams (after fan-out)', registers: [this.registry] });

  // --- fan-out --------------------------------------------------------------------------------------
  readonly fanouts = new Counter({ name: 'gateway_fanout_requests_total', help: 'Cluster-wide fan-out operations (scan, keys, dbsize, flushdb, ..., split multi-key commands), by command', labelNames: ['cmd'], registers: [this.registry] });
  readonly fanoutNodes = new Histogram({ name: 'gateway_fanout_nodes', help: 'Upstream calls made by one fan-out operation', buckets: [1, 2, 3, 5, 8, 13, 21, 34, 64, 128], registers: [this.registry] });
  readonly scanSlots = new Counter({ name: 'gateway_scan_slots_total', help: 'Slots visited by cluster-wide SCAN', registers: [this.registry] });
  readonly rateLimited = new Counter({ name: 'gateway_rate_limited_total', help: 'Requests refused by a token rate limit', registers: [this.registry] });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.workerProcesses.set(1);
  }

  /** Count one finished HTTP request (the hot metrics cache their labelled children themselves). */
  httpDone(route: string, method: string, status: number, seconds: number): void {
    // Children cached per (route, method, status) in nested maps: no label string built per request.
    let byMethod = this.httpChildren.get(route);
    if (byMethod === undefined) this.httpChildren.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let c = byStatus.get(status);
    if (c === undefined) byStatus.set(status, (c = { requests: this.httpRequests.labels(route, method, String(status)), duration: this.httpDuration.labels(route) }));
    c.requests.inc();
    c.duration.observe(seconds);
  }

  private readonly httpChildren = new Map<string, Map<string, Map<number, { requests: HotCounterChild; duration: HotHistogramChild }>>>();

  private readonly perCommand = new Map<string, { calls: HotCounterChild; duration: HotHistogramChild }>();

  /**
   * The labelled children for one (front end, command): resolved once and cached, so the per-command
   * path does not look labels up on every call (bounded: front ends x command-table names).
   */
  forCommand(frontend: string, name: string): { calls: HotCounterChild; duration: HotHistogramChild } {
    const key = `${frontend}\0${name}`;
    let m = this.perCommand.get(key);
    if (!m) {
      const cmd = GatewayMetrics.cmdLabel(name);
      m = { calls: this.commands.labels(frontend, cmd), duration: this.commandDuration.labels(cmd) };
      this.perCommand.set(key, m);
    }
    return m;
  }

  /** A bounded command label: a name from the command table, else "other". */
  static cmdLabel(name: string): string {
    const n = name.toLowerCase();
    return COMMANDS.has(n) ? n : 'other';
  }
}
