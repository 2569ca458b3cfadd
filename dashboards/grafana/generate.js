#!/usr/bin/env node
// @ts-check
'use strict';
/**
 * Source of the Grafana dashboards in dashboards/grafana/dashboards/*.json: `node dashboards/grafana/generate.js`
 * rewrites them. Edit the panels here, not the JSON (test/integration/dashboards.test.ts fails when the
 * JSON differs from what this file generates).
 *
 * Every panel and query uses the provisioned datasource by its fixed uid "prometheus". Metric names are
 * those of redis_exporter 1.45 (redis_*, one `instance` per cluster node) and of gateway/src/metrics.ts
 * (gateway_*, prom-client's process_* / nodejs_*). Job names are those of dashboards/prometheus/prometheus.yml.
 */
const fs = require('node:fs');
const path = require('node:path');

const DS = { type: 'prometheus', uid: 'prometheus' };
const TAG = 'redis-raft-cluster';
const OUT_DIR = path.join(__dirname, 'dashboards');
const RATE = '$__rate_interval';

// ---------------------------------------------------------------------------------------------- targets

/**
 * A query: [expr, legend] or { expr, legend, instant, format }.
 * @typedef {[string, string?] | { expr: string, legend?: string, instant?: boolean, format?: string }} Query
 */

/** @param {Query[]} queries */
function targets(queries) {
  return queries.map((q, i) => {
    const o = Array.isArray(q) ? { expr: q[0], legend: q[1] } : q;
    return {
      datasource: DS,
      refId: String.fromCharCode(65 + i),
      expr: o.expr,
      legendFormat: o.legend ?? '__auto',
      range: !o.instant,
      instant: !!o.instant,
      format: o.format ?? 'time_series',
      editorMode: 'code',
    };
  });
}

// ---------------------------------------------------------------------------------------------- panels

/** @typedef {{ w?: number, h?: number, unit?: string, description?: string, min?: number, max?: number, decimals?: number, mappings?: any[], thresholds?: any[], overrides?: any[] }} Common */

function fieldDefaults(/** @type {Common} */ o, custom = {}) {
  /** @type {any} */
  const d = {
    unit: o.unit ?? 'short',
    color: { mode: o.thresholds ? 'thresholds' : 'palette-classic' },
    mappings: o.mappings ?? [],
    thresholds: { mode: 'absolute', steps: o.thresholds ?? [{ color: 'green', value: null }] },
    custom,
  };
  if (o.min !== undefined) d.min = o.min;
  if (o.max !== undefined) d.max = o.max;
  if (o.decimals !== undefined) d.decimals = o.decimals;
  return d;
}

/**
 * A time series panel.
 * @param {string} title
 * @param {Query[]} queries
 * @param {Common & { bars?: boolean, points?: boolean, stack?: boolean, legend?: 'list' | 'table', calcs?: string[] }} [o]
 */
function timeseries(title, queries, o = {}) {
  const custom = {
    drawStyle: o.bars ? 'bars' : o.points ? 'points' : 'line',
    lineWidth: 1,
    fillOpacity: o.bars ? 80 : o.stack ? 40 : 10,
    pointSize: o.points ? 8 : 4,
    showPoints: o.points ? 'always' : 'never',
    spanNulls: false,
    lineInterpolation: 'linear',
    axisPlacement: 'auto',
    axisSoftMin: 0,
    stacking: { mode: o.stack ? 'normal' : 'none', group: 'A' },
  };
  return {
    type: 'timeseries',
    title,
    description: o.description ?? '',
    w: o.w ?? 12,
    h: o.h ?? 8,
    fieldConfig: { defaults: fieldDefaults(o, custom), overrides: o.overrides ?? [] },
    options: {
      legend: { displayMode: o.legend ?? 'list', placement: 'bottom', showLegend: true, calcs: o.calcs ?? [] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets(queries),
  };
}

/**
 * A single-value panel.
 * @param {string} title
 * @param {Query[]} queries
 * @param {Common & { graph?: boolean, textMode?: string, colorMode?: string }} [o]
 */
function stat(title, queries, o = {}) {
  return {
    type: 'stat',
    title,
    description: o.description ?? '',
    w: o.w ?? 4,
    h: o.h ?? 4,
    fieldConfig: { defaults: fieldDefaults({ thresholds: [{ color: 'blue', value: null }], ...o }), overrides: o.overrides ?? [] },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      orientation: 'auto',
      textMode: o.textMode ?? 'auto',
      colorMode: o.colorMode ?? 'value',
      graphMode: o.graph ? 'area' : 'none',
      justifyMode: 'auto',
    },
    targets: targets(queries),
  };
}

/**
 * A latency heatmap from histogram buckets (already-bucketed data, one row per `le`).
 * @param {string} title
 * @param {string} expr  sum by (le) (increase(..._bucket[...]))
 * @param {Common} [o]
 */
function heatmap(title, expr, o = {}) {
  return {
    type: 'heatmap',
    title,
    description: o.description ?? '',
    w: o.w ?? 12,
    h: o.h ?? 8,
    fieldConfig: { defaults: { custom: { hideFrom: { legend: false, tooltip: false, viz: false } } }, overrides: [] },
    options: {
      calculate: false,
      cellGap: 1,
      color: { mode: 'scheme', scheme: 'Oranges', fill: 'dark-orange', scale: 'exponential', exponent: 0.5, steps: 64, reverse: false },
      yAxis: { axisPlacement: 'left', unit: o.unit ?? 's', reverse: false },
      rowsFrame: { layout: 'auto' },
      tooltip: { show: true, yHistogram: false },
      legend: { show: true },
      exemplars: { color: 'rgba(255,0,255,0.7)' },
      filterValues: { le: 1e-9 },
    },
    targets: targets([{ expr, legend: '{{le}}', format: 'heatmap' }]),
  };
}

/**
 * States over time (roles, link up/down), one row per series.
 * @param {string} title
 * @param {Query[]} queries
 * @param {Common} [o]
 */
function stateTimeline(title, queries, o = {}) {
  return {
    type: 'state-timeline',
    title,
    description: o.description ?? '',
    w: o.w ?? 12,
    h: o.h ?? 8,
    fieldConfig: { defaults: fieldDefaults(o, { lineWidth: 0, fillOpacity: 80 }), overrides: o.overrides ?? [] },
    options: {
      mergeValues: true,
      showValue: 'auto',
      alignValue: 'left',
      rowHeight: 0.9,
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'single', sort: 'none' },
    },
    targets: targets(queries),
  };
}

/**
 * A table of instant queries joined on their labels (merge), value columns renamed.
 * @param {string} title
 * @param {{ expr: string, column: string, unit?: string }[]} columns
 * @param {Common & { hide?: string[] }} [o]
 */
function table(title, columns, o = {}) {
  const rename = {};
  const overrides = [];
  columns.forEach((c, i) => {
    rename[`Value #${String.fromCharCode(65 + i)}`] = c.column;
    if (c.unit) overrides.push({ matcher: { id: 'byName', options: c.column }, properties: [{ id: 'unit', value: c.unit }] });
  });
  const exclude = { Time: true };
  for (const h of o.hide ?? []) exclude[h] = true;
  return {
    type: 'table',
    title,
    description: o.description ?? '',
    w: o.w ?? 24,
    h: o.h ?? 8,
    fieldConfig: { defaults: { ...fieldDefaults(o), custom: { align: 'auto', cellOptions: { type: 'auto' } } }, overrides: [...overrides, ...(o.overrides ?? [])] },
    options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } },
    transformations: [
      { id: 'merge', options: {} },
      { id: 'organize', options: { excludeByName: exclude, renameByName: rename, indexByName: {} } },
    ],
    targets: targets(columns.map((c) => ({ expr: c.expr, instant: true, format: 'table' }))),
  };
}

/** @param {string} title @param {any[]} panels */
function row(title, panels) {
  return { title, panels };
}

// ---------------------------------------------------------------------------------------------- value mappings

const ROLE_MAPPING = [
  { type: 'value', options: { 1: { text: 'primary', color: 'blue', index: 0 }, 0: { text: 'replica', color: 'purple', index: 1 } } },
];
const UPDOWN_MAPPING = [
  { type: 'value', options: { 1: { text: 'up', color: 'green', index: 0 }, 0: { text: 'down', color: 'red', index: 1 } } },
];
const STATE_MAPPING = [
  { type: 'value', options: { 1: { text: 'ok', color: 'green', index: 0 }, 0: { text: 'fail', color: 'red', index: 1 } } },
];
const RED_BELOW = (/** @type {number} */ v) => [
  { color: 'red', value: null },
  { color: 'green', value: v },
];
const RED_ABOVE = (/** @type {number} */ v) => [
  { color: 'green', value: null },
  { color: 'red', value: v },
];

// ---------------------------------------------------------------------------------------------- assembly

/** Lay rows and panels out on Grafana's 24-column grid; assign unique ids. */
function layout(rows) {
  const out = [];
  let id = 1;
  let y = 0;
  for (const r of rows) {
    out.push({ type: 'row', title: r.title, id: id++, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    let rowH = 0;
    for (const p of r.panels) {
      const { w, h, ...rest } = p;
      if (x + w > 24) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      out.push({ id: id++, ...rest, datasource: DS, gridPos: { h, w, x, y } });
      x += w;
      rowH = Math.max(rowH, h);
    }
    y += rowH;
  }
  return out;
}

/** @param {string} name @param {string} label @param {string} metricQuery */
function instanceVariable(name, label, metricQuery) {
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    query: { query: metricQuery, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    definition: metricQuery,
    refresh: 2,
    multi: true,
    includeAll: true,
    allValue: '.+',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
    hide: 0,
    options: [],
    regex: '',
  };
}

/** @param {string} name @param {string} expr @param {string} title @param {string} color */
function annotation(name, expr, title, color) {
  return { name, datasource: DS, enable: true, iconColor: color, expr, step: '30s', titleFormat: title, textFormat: '', tagKeys: '', useValueForTime: false };
}

/**
 * @param {{ uid: string, title: string, description: string, rows: any[], variables?: any[], annotations?: any[] }} d
 */
function dashboard(d) {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: [TAG],
    editable: true,
    graphTooltip: 1,
    timezone: 'browser',
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    schemaVersion: 39,
    version: 1,
    links: [{ type: 'dashboards', title: 'Dashboards', tags: [TAG], asDropdown: true, includeVars: false, keepTime: true, icon: 'external link', tooltip: '', url: '', targetBlank: false }],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...(d.annotations ?? []),
      ],
    },
    templating: { list: d.variables ?? [] },
    panels: layout(d.rows),
  };
}

// ---------------------------------------------------------------------------------------------- dashboards

const N = 'instance=~"$instance"'; // cluster node filter (redis_* series) or gateway filter (gateway_* series)
const PRIMARIES = 'on (instance) group_left () max by (instance) (redis_instance_info{role="master"})';

function clusterOverview() {
  return dashboard({
    uid: 'rrc-cluster-overview',
    title: 'Cluster overview',
    description: 'Cluster nodes as redis_exporter sees them: health, roles, slots, keys, memory, commands, replication.',
    variables: [instanceVariable('instance', 'Node', 'label_values(redis_up, instance)')],
    rows: [
      row('Cluster', [
        stat('Nodes up', [['sum(redis_up)', 'up'], ['count(redis_up)', 'scraped']], { textMode: 'value_and_name', description: 'Nodes answering INFO / all nodes Prometheus scrapes through redis_exporter.' }),
        stat('Primaries', [['count(redis_instance_info{role="master"})']]),
        stat('Replicas', [['count(redis_instance_info{role="slave"}) or vector(0)']]),
        stat('Cluster state', [['min(redis_cluster_state)']], { mappings: STATE_MAPPING, thresholds: RED_BELOW(1), colorMode: 'background', description: 'The worst cluster_state over all nodes (CLUSTER INFO).' }),
        stat('Slots assigned / ok', [['min(redis_cluster_slots_assigned)', 'assigned'], ['min(redis_cluster_slots_ok)', 'ok']], { thresholds: RED_BELOW(16384), textMode: 'value_and_name' }),
        stat('Slots pfail / fail', [['max(redis_cluster_slots_pfail)', 'pfail'], ['max(redis_cluster_slots_fail)', 'fail']], { thresholds: RED_ABOVE(1), textMode: 'value_and_name', description: 'Slots whose primary is suspected (pfail) or marked failed (fail): no writable primary until a replica takes over.' }),
        stat('Known nodes', [['max(redis_cluster_known_nodes)']]),
        stat('Shards', [['max(redis_cluster_size)']], { description: 'Primaries serving at least one slot (cluster_size).' }),
        stat('Current epoch', [['max(redis_cluster_current_epoch)']], { description: 'Grows with every configuration change that needs a new epoch (failovers, slot moves).' }),
        stat('Keys (primaries)', [[`sum(redis_db_keys * ${PRIMARIES})`]], { graph: true }),
        stat('Ops/s', [[`sum(rate(redis_commands_processed_total[${RATE}]))`]], { graph: true, unit: 'ops' }),
        stat('Memory used', [['sum(redis_memory_used_bytes)']], { graph: true, unit: 'bytes' }),
        table(
          'Nodes',
          [
            { expr: `max by (instance, role, redis_version) (redis_instance_info{${N}})`, column: 'info' },
            { expr: `max by (instance) (redis_up{${N}})`, column: 'Up' },
            { expr: `max by (instance) (redis_cluster_state{${N}})`, column: 'cluster_state' },
            { expr: `sum by (instance) (redis_db_keys{${N}})`, column: 'Keys', unit: 'short' },
            { expr: `max by (instance) (redis_memory_used_bytes{${N}})`, column: 'Memory', unit: 'bytes' },
            { expr: `max by (instance) (redis_connected_clients{${N}})`, column: 'Clients', unit: 'short' },
            { expr: `max by (instance) (redis_master_repl_offset{${N}})`, column: 'Repl offset', unit: 'short' },
            { expr: `max by (instance) (redis_cluster_my_epoch{${N}})`, column: 'Config epoch', unit: 'short' },
            { expr: `max by (instance) (redis_uptime_in_seconds{${N}})`, column: 'Uptime', unit: 's' },
          ],
          {
            hide: ['info'],
            overrides: [
              { matcher: { id: 'byName', options: 'Up' }, properties: [{ id: 'mappings', value: UPDOWN_MAPPING }, { id: 'custom.cellOptions', value: { type: 'color-text' } }] },
              { matcher: { id: 'byName', options: 'cluster_state' }, properties: [{ id: 'mappings', value: STATE_MAPPING }, { id: 'custom.cellOptions', value: { type: 'color-text' } }] },
            ],
            description: 'One row per node: role (master = primary, slave = replica), version, and current values.',
          },
        ),
      ]),
      row('Commands', [
        timeseries('Ops/s by node', [[`sum by (instance) (rate(redis_commands_processed_total{${N}}[${RATE}]))`, '{{instance}}']], { unit: 'ops' }),
        timeseries('Ops/s by command (top 10)', [[`topk(10, sum by (cmd) (rate(redis_commands_total{${N}}[${RATE}])))`, '{{cmd}}']], { unit: 'ops', legend: 'table', calcs: ['mean', 'max'] }),
        timeseries(
          'Average latency by command (top 10)',
          [[`topk(10, sum by (cmd) (rate(redis_commands_duration_seconds_total{${N}}[${RATE}])) / sum by (cmd) (rate(redis_commands_total{${N}}[${RATE}])))`, '{{cmd}}']],
          { unit: 's', legend: 'table', calcs: ['mean', 'max'], description: 'Time spent executing the command on the node (INFO commandstats usec/calls), not including network or queueing.' },
        ),
        timeseries('Error replies/s by type', [[`sum by (err) (rate(redis_errors_total{${N}}[${RATE}]))`, '{{err}}']], {
          unit: 'ops',
          description: 'INFO errorstats: MOVED and ASK are redirects (clients with a stale slot map, slots migrating), CLUSTERDOWN/TRYAGAIN come with failovers and migrations.',
        }),
        timeseries(
          'Failed / rejected calls by command',
          [
            [`topk(5, sum by (cmd) (rate(redis_commands_failed_calls_total{${N}}[${RATE}])) > 0)`, '{{cmd}} failed'],
            [`topk(5, sum by (cmd) (rate(redis_commands_rejected_calls_total{${N}}[${RATE}])) > 0)`, '{{cmd}} rejected'],
          ],
          { unit: 'ops', description: 'Rejected: refused before running (arity, auth, redirect, OOM). Failed: ran and replied an error.' },
        ),
        timeseries(
          'Keyspace hit ratio',
          [[`sum(rate(redis_keyspace_hits_total{${N}}[${RATE}])) / (sum(rate(redis_keyspace_hits_total{${N}}[${RATE}])) + sum(rate(redis_keyspace_misses_total{${N}}[${RATE}])) > 0)`, 'hits / lookups']],
          { unit: 'percentunit', min: 0, max: 1 },
        ),
      ]),
      row('Keys and memory', [
        timeseries('Keys by db (primaries)', [[`sum by (db) (redis_db_keys{${N}} * ${PRIMARIES})`, '{{db}}']], { stack: true, description: 'Keys per logical database, counted on primaries only (replicas hold copies).' }),
        timeseries('Keys by node', [[`sum by (instance) (redis_db_keys{${N}})`, '{{instance}}']]),
        timeseries('Keys with a TTL by node', [[`sum by (instance) (redis_db_keys_expiring{${N}})`, '{{instance}}']]),
        timeseries('Expired / evicted keys/s', [
          [`sum(rate(redis_expired_keys_total{${N}}[${RATE}]))`, 'expired'],
          [`sum(rate(redis_evicted_keys_total{${N}}[${RATE}]))`, 'evicted'],
        ], { unit: 'ops' }),
        timeseries(
          'Memory by node',
          [
            [`redis_memory_used_bytes{${N}}`, '{{instance}} used'],
            [`redis_memory_used_rss_bytes{${N}}`, '{{instance}} rss'],
            [`redis_memory_max_bytes{${N}} > 0`, '{{instance}} maxmemory'],
          ],
          { unit: 'bytes', description: 'used = the dataset estimate maxmemory compares against; rss = the process resident set (README, "Behaviour worth knowing").' },
        ),
        timeseries('Clients by node', [
          [`redis_connected_clients{${N}}`, '{{instance}} connected'],
          [`redis_blocked_clients{${N}} > 0`, '{{instance}} blocked'],
        ]),
        timeseries('Network by node', [
          [`rate(redis_net_input_bytes_total{${N}}[${RATE}])`, '{{instance}} in'],
          [`-rate(redis_net_output_bytes_total{${N}}[${RATE}])`, '{{instance}} out'],
        ], { unit: 'Bps', description: 'Input above the axis, output below.' }),
        timeseries('CPU by node', [[`rate(redis_cpu_user_seconds_total{${N}}[${RATE}]) + rate(redis_cpu_sys_seconds_total{${N}}[${RATE}])`, '{{instance}}']], { unit: 'percentunit', description: 'CPU seconds per second (1 = one core).' }),
      ]),
      row('Replication', [
        stateTimeline(
          'Role by node',
          [[`max by (instance) (redis_instance_info{${N}, role="master"}) or max by (instance) (0 * redis_instance_info{${N}, role="slave"})`, '{{instance}}']],
          { mappings: ROLE_MAPPING, description: 'Gaps: the node was not answering.' },
        ),
        timeseries('Replication offset by node', [[`redis_master_repl_offset{${N}}`, '{{instance}}']], { unit: 'decbytes' }),
        timeseries(
          'Replica lag behind its primary (bytes)',
          [[`redis_master_repl_offset{${N}} - on (instance) group_right () redis_connected_slave_offset_bytes{${N}}`, '{{slave_ip}}:{{slave_port}} of {{instance}}']],
          { unit: 'decbytes', description: "The primary's offset minus the offset each replica acknowledged (INFO replication on the primary)." },
        ),
        timeseries('Replica lag (seconds since last ack)', [[`redis_connected_slave_lag_seconds{${N}}`, '{{slave_ip}}:{{slave_port}} of {{instance}}']], { unit: 's' }),
        stateTimeline('Replica link to primary', [[`redis_master_link_up{${N}}`, '{{instance}} → {{master_host}}:{{master_port}}']], { mappings: UPDOWN_MAPPING }),
        timeseries('Connected replicas per primary', [[`redis_connected_slaves{${N}} * ${PRIMARIES}`, '{{instance}}']], { decimals: 0 }),
      ]),
    ],
  });
}

const G = 'instance=~"$instance"';

function gatewayDashboard() {
  return dashboard({
    uid: 'rrc-gateway',
    title: 'Gateway',
    description: 'The HTTP/WebSocket gateway: requests and latency by route and command, errors, redirects, slot map, upstream connections.',
    variables: [instanceVariable('instance', 'Gateway', 'label_values(gateway_slots_covered, instance)')],
    rows: [
      row('Overview', [
        stat('Gateways up', [['sum(up{job="gateway"})', 'up'], ['count(up{job="gateway"})', 'scraped'], [`sum(gateway_worker_processes{${G}})`, 'worker processes']], { textMode: 'value_and_name', description: 'Gateway processes Prometheus reaches, and the worker processes answering behind them (--workers N: fewer than N while one restarts).' }),
        stat('HTTP requests/s', [[`sum(rate(gateway_http_requests_total{${G}}[${RATE}]))`]], { unit: 'reqps', graph: true }),
        stat('Commands/s', [[`sum(rate(gateway_commands_total{${G}}[${RATE}]))`]], { unit: 'ops', graph: true }),
        stat(
          'Upstream error ratio',
          [[`sum(rate(gateway_errors_total{${G}, kind=~"upstream|internal"}[${RATE}])) / (sum(rate(gateway_commands_total{${G}}[${RATE}])) > 0) or vector(0)`]],
          { unit: 'percentunit', thresholds: RED_ABOVE(0.05), graph: true, description: 'Upstream and internal errors per command (alert GatewayHighErrorRate above 5%).' },
        ),
        stat('p99 command latency', [[`histogram_quantile(0.99, sum by (le) (rate(gateway_command_duration_seconds_bucket{${G}}[${RATE}])))`]], { unit: 's', graph: true, thresholds: RED_ABOVE(0.25) }),
        stat('Slots covered', [[`min(gateway_slots_covered{${G}})`]], { thresholds: RED_BELOW(16384), description: 'Slots with a known primary in the slot map (16384 when complete).' }),
      ]),
      row('HTTP', [
        timeseries('Requests/s by route', [[`sum by (route) (rate(gateway_http_requests_total{${G}}[${RATE}]))`, '{{route}}']], { unit: 'reqps' }),
        timeseries('Requests/s by status', [[`sum by (status) (rate(gateway_http_requests_total{${G}}[${RATE}]))`, '{{status}}']], { unit: 'reqps', stack: true }),
        timeseries('HTTP latency by route (p50, p99)', [
          [`histogram_quantile(0.5, sum by (route, le) (rate(gateway_http_request_duration_seconds_bucket{${G}}[${RATE}])))`, '{{route}} p50'],
          [`histogram_quantile(0.99, sum by (route, le) (rate(gateway_http_request_duration_seconds_bucket{${G}}[${RATE}])))`, '{{route}} p99'],
        ], { unit: 's' }),
        heatmap('HTTP latency', `sum by (le) (increase(gateway_http_request_duration_seconds_bucket{${G}}[${RATE}]))`),
      ]),
      row('Commands', [
        timeseries('Commands/s by command (top 10)', [[`topk(10, sum by (cmd) (rate(gateway_commands_total{${G}}[${RATE}])))`, '{{cmd}}']], { unit: 'ops', legend: 'table', calcs: ['mean', 'max'] }),
        timeseries('Commands/s by front end', [[`sum by (frontend) (rate(gateway_commands_total{${G}}[${RATE}]))`, '{{frontend}}']], { unit: 'ops', stack: true }),
        timeseries('Command latency (p50, p90, p99)', [
          [`histogram_quantile(0.5, sum by (le) (rate(gateway_command_duration_seconds_bucket{${G}}[${RATE}])))`, 'p50'],
          [`histogram_quantile(0.9, sum by (le) (rate(gateway_command_duration_seconds_bucket{${G}}[${RATE}])))`, 'p90'],
          [`histogram_quantile(0.99, sum by (le) (rate(gateway_command_duration_seconds_bucket{${G}}[${RATE}])))`, 'p99'],
        ], { unit: 's', description: 'Upstream round trips, redirects and fan-out included.' }),
        timeseries('p99 latency by command (top 10)', [[`topk(10, histogram_quantile(0.99, sum by (cmd, le) (rate(gateway_command_duration_seconds_bucket{${G}}[${RATE}]))))`, '{{cmd}}']], { unit: 's', legend: 'table', calcs: ['mean', 'max'] }),
        heatmap('Command latency', `sum by (le) (increase(gateway_command_duration_seconds_bucket{${G}}[${RATE}]))`),
        timeseries('Errors/s by kind', [[`sum by (kind) (rate(gateway_errors_total{${G}}[${RATE}]))`, '{{kind}}']], {
          unit: 'ops',
          stack: true,
          description: 'auth, forbidden, rate_limited, bad_request, limit: the client\'s request; redis: an error reply from the cluster; upstream, internal: the gateway or the cluster failed.',
        }),
      ]),
      row('Cluster client', [
        timeseries('Redirects/s by type', [[`sum by (type) (rate(gateway_redirects_total{${G}}[${RATE}]))`, '{{type}}']], { unit: 'ops', description: 'MOVED (slot map out of date) and ASK (slot migrating) redirects the gateway followed.' }),
        timeseries('Upstream retries/s by reason', [[`sum by (reason) (rate(gateway_upstream_retries_total{${G}}[${RATE}]))`, '{{reason}}']], { unit: 'ops' }),
        timeseries('Slot map refreshes by trigger and outcome', [[`sum by (trigger, outcome) (increase(gateway_slot_map_refreshes_total{${G}}[${RATE}]))`, '{{trigger}} {{outcome}}']], { bars: true, decimals: 0 }),
        timeseries('Slot map: slots covered, shards', [
          [`min by (instance) (gateway_slots_covered{${G}})`, '{{instance}} slots covered'],
          [`max by (instance) (gateway_cluster_shards{${G}})`, '{{instance}} shards'],
        ], { overrides: [{ matcher: { id: 'byRegexp', options: '.*shards' }, properties: [{ id: 'custom.axisPlacement', value: 'right' }] }] }),
        stateTimeline('Upstream nodes reachable', [[`max by (node, role) (gateway_node_up{${G}})`, '{{node}} ({{role}})']], { mappings: UPDOWN_MAPPING }),
        timeseries('Upstream connections by kind', [[`sum by (kind) (gateway_upstream_connections{${G}})`, '{{kind}}']], { decimals: 0 }),
      ]),
      row('Fan-out and limits', [
        timeseries('Fan-out operations/s by command', [[`sum by (cmd) (rate(gateway_fanout_requests_total{${G}}[${RATE}]))`, '{{cmd}}']], { unit: 'ops', w: 8 }),
        timeseries('Upstream calls per fan-out (mean)', [[`sum(rate(gateway_fanout_nodes_sum{${G}}[${RATE}])) / (sum(rate(gateway_fanout_nodes_count{${G}}[${RATE}])) > 0)`, 'calls']], { w: 8 }),
        timeseries('SCAN slots visited/s, rate-limited requests/s', [
          [`sum(rate(gateway_scan_slots_total{${G}}[${RATE}]))`, 'scan slots'],
          [`sum(rate(gateway_rate_limited_total{${G}}[${RATE}]))`, 'rate limited'],
        ], { unit: 'ops', w: 8 }),
      ]),
      row('Process', [
        timeseries('CPU', [[`rate(process_cpu_seconds_total{job="gateway", ${G}}[${RATE}])`, '{{instance}}']], { unit: 'percentunit', w: 6 }),
        timeseries('Memory', [
          [`process_resident_memory_bytes{job="gateway", ${G}}`, '{{instance}} rss'],
          [`nodejs_heap_size_used_bytes{job="gateway", ${G}}`, '{{instance}} heap used'],
        ], { unit: 'bytes', w: 6 }),
        timeseries('Event loop lag (p99)', [[`nodejs_eventloop_lag_p99_seconds{job="gateway", ${G}}`, '{{instance}}']], { unit: 's', w: 6 }),
        timeseries('Open file descriptors', [[`process_open_fds{job="gateway", ${G}}`, '{{instance}}']], { w: 6 }),
      ]),
    ],
  });
}

function pubsubDashboard() {
  const subsRatio = (by) =>
    `sum${by ? ` by (${by})` : ''} (gateway_subscriptions{${G}}) / (sum${by ? ` by (${by})` : ''} (gateway_upstream_subscriptions{${G}}) > 0)`;
  return dashboard({
    uid: 'rrc-pubsub',
    title: 'Pub/sub and WebSocket',
    description: 'WebSocket and SSE clients, subscriptions and their multiplexing onto upstream subscriptions, messages in and out, drops and slow consumers.',
    variables: [instanceVariable('instance', 'Gateway', 'label_values(gateway_slots_covered, instance)')],
    rows: [
      row('Now', [
        stat('WebSocket connections', [[`sum(gateway_ws_connections{${G}})`]], { graph: true }),
        stat('SSE streams', [[`sum(gateway_sse_connections{${G}})`]], { graph: true }),
        stat('Client subscriptions', [[`sum(gateway_subscriptions{${G}})`]], { graph: true }),
        stat('Upstream subscriptions', [[`sum(gateway_upstream_subscriptions{${G}})`]], { graph: true }),
        stat('Multiplexing ratio', [[subsRatio('')]], { decimals: 1, description: 'Client subscriptions per upstream subscription: how many browser subscriptions share one subscription to the cluster.' }),
        stat('Slow consumers (range)', [
          [`sum(increase(gateway_dropped_messages_total{${G}, reason="slow_consumer"}[$__range])) or vector(0)`, 'dropped'],
          [`sum(increase(gateway_ws_closed_total{${G}, reason="slow_consumer"}[$__range])) or vector(0)`, 'closed'],
        ], { textMode: 'value_and_name', thresholds: RED_ABOVE(1), decimals: 0 }),
      ]),
      row('Connections', [
        timeseries('Connections by protocol', [
          [`sum by (protocol) (gateway_ws_connections{${G}})`, 'ws {{protocol}}'],
          [`sum(gateway_sse_connections{${G}})`, 'sse'],
        ], { stack: true, decimals: 0 }),
        timeseries('WebSocket closes/s by reason', [[`sum by (reason) (rate(gateway_ws_closed_total{${G}}[${RATE}]))`, '{{reason}}']], { unit: 'ops', stack: true }),
      ]),
      row('Subscriptions', [
        timeseries('Client vs upstream subscriptions by kind', [
          [`sum by (kind) (gateway_subscriptions{${G}})`, '{{kind}} clients'],
          [`sum by (kind) (gateway_upstream_subscriptions{${G}})`, '{{kind}} upstream'],
        ], { decimals: 0, w: 8 }),
        timeseries('Multiplexing ratio by kind', [[subsRatio('kind'), '{{kind}}']], { w: 8 }),
        timeseries('Upstream subscriber connections', [[`sum by (instance) (gateway_upstream_connections{${G}, kind="subscriber"})`, '{{instance}}']], { decimals: 0, w: 8 }),
      ]),
      row('Messages', [
        timeseries('WebSocket messages/s', [[`sum by (direction) (rate(gateway_ws_messages_total{${G}}[${RATE}]))`, '{{direction}}']], { unit: 'ops' }),
        timeseries('Pub/sub messages received vs delivered', [
          [`sum by (kind) (rate(gateway_pubsub_messages_total{${G}}[${RATE}]))`, '{{kind}} received from upstream'],
          [`sum(rate(gateway_pubsub_deliveries_total{${G}}[${RATE}]))`, 'delivered to clients'],
        ], { unit: 'ops' }),
        timeseries('Deliveries per upstream message', [[`sum(rate(gateway_pubsub_deliveries_total{${G}}[${RATE}])) / (sum(rate(gateway_pubsub_messages_total{${G}}[${RATE}])) > 0)`, 'fan-out']]),
        timeseries('Dropped messages/s by reason', [[`sum by (reason) (rate(gateway_dropped_messages_total{${G}}[${RATE}]))`, '{{reason}}']], { unit: 'ops', stack: true, description: 'slow_consumer: a client socket had too much unsent data; closed: the client went away with messages queued.' }),
      ]),
      row('Cluster nodes', [
        timeseries('Channels and patterns with subscribers, by node', [
          ['redis_pubsub_channels', '{{instance}} channels'],
          ['redis_pubsub_patterns > 0', '{{instance}} patterns'],
        ], { decimals: 0 }),
        timeseries('Pub/sub commands/s on the nodes', [[`sum by (cmd) (rate(redis_commands_total{cmd=~"publish|spublish|subscribe|ssubscribe|psubscribe|unsubscribe|sunsubscribe|punsubscribe"}[${RATE}]))`, '{{cmd}}']], { unit: 'ops' }),
      ]),
    ],
  });
}

function migrationsFailoversDashboard() {
  const roles = 'max by (instance) (redis_instance_info{role="master"}) or max by (instance) (0 * redis_instance_info{role="slave"})';
  return dashboard({
    uid: 'rrc-migrations-failovers',
    title: 'Migrations and failovers',
    description: 'Slot migrations (reshard, rebalance) and failovers: what is moving now, how long it took, how long a shard had no writable primary.',
    annotations: [
      annotation('Failovers', 'sum by (shard) (increase(gateway_failovers_total[1m])) > 0', 'Failover of shard {{shard}}', 'red'),
      annotation('Slot migrations', 'max(increase(gateway_slot_migrations_completed_total[1m])) > 0', 'Slot migrations completed', 'blue'),
    ],
    rows: [
      row('Now', [
        stat('Slots migrating now', [['max(gateway_slots_migrating) or vector(0)']], { graph: true, decimals: 0 }),
        stat('Migrations (range)', [
          ['max(increase(gateway_slot_migrations_started_total[$__range])) or vector(0)', 'started'],
          ['max(increase(gateway_slot_migrations_completed_total[$__range])) or vector(0)', 'completed'],
        ], { textMode: 'value_and_name', decimals: 0, w: 5 }),
        stat('Keys moved (range)', [['sum(increase(gateway_slot_migration_keys_moved_total[$__range])) or vector(0)']], { decimals: 0, description: 'Seen by the gateway: ASK redirects, and MOVED redirects for slots that were migrating.' }),
        stat('Failovers (range)', [['max(sum by (instance) (increase(gateway_failovers_total[$__range]))) or vector(0)']], { decimals: 0, thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 1 }] }),
        stat('Failover p99 without primary (range)', [['histogram_quantile(0.99, sum by (le) (increase(gateway_failover_duration_seconds_bucket[$__range])))']], { unit: 's', w: 5 }),
        stat('Shards / slots failing', [
          ['max(redis_cluster_size)', 'shards'],
          ['max(redis_cluster_slots_fail)', 'slots fail'],
        ], { textMode: 'value_and_name', decimals: 0 }),
      ]),
      row('Slot migrations', [
        timeseries('Slots migrating or importing', [['max(gateway_slots_migrating)', 'slots']], { decimals: 0, w: 8 }),
        timeseries('Migrations started / completed', [
          [`max(increase(gateway_slot_migrations_started_total[${RATE}]))`, 'started'],
          [`max(increase(gateway_slot_migrations_completed_total[${RATE}]))`, 'completed'],
        ], { bars: true, decimals: 0, w: 8 }),
        timeseries('Keys moved/s and ASK replies/s', [
          [`sum(rate(gateway_slot_migration_keys_moved_total[${RATE}]))`, 'keys moved (gateway)'],
          [`sum by (err) (rate(redis_errors_total{err=~"ASK|TRYAGAIN"}[${RATE}]))`, '{{err}} replies (nodes)'],
        ], { unit: 'ops', w: 8 }),
        timeseries('Migration duration (p50, p99)', [
          [`histogram_quantile(0.5, sum by (le) (rate(gateway_slot_migration_duration_seconds_bucket[5m])))`, 'p50'],
          [`histogram_quantile(0.99, sum by (le) (rate(gateway_slot_migration_duration_seconds_bucket[5m])))`, 'p99'],
        ], { unit: 's', w: 8, description: 'From a slot first seen migrating to its owner change, over 5-minute windows.' }),
        timeseries('Migration commands/s on the nodes', [[`sum by (cmd) (rate(redis_commands_total{cmd=~"migrate|restore-asking|cluster.setslot|cluster.getkeysinslot|cluster.countkeysinslot"}[${RATE}]))`, '{{cmd}}']], { unit: 'ops', w: 8 }),
        timeseries('Keys by primary', [[`sum by (instance) (redis_db_keys * ${PRIMARIES})`, '{{instance}}']], { w: 8, description: 'Keys leave one primary and arrive at another as slots move.' }),
      ]),
      row('Failovers', [
        timeseries('Failovers by shard', [[`sum by (shard) (increase(gateway_failovers_total[${RATE}]))`, '{{shard}}']], { bars: true, decimals: 0, w: 8 }),
        timeseries(
          'Failover duration by shard (time without a writable primary)',
          [[`sum by (shard) (increase(gateway_failover_duration_seconds_sum[${RATE}])) / (sum by (shard) (increase(gateway_failover_duration_seconds_count[${RATE}])) > 0)`, '{{shard}}']],
          { unit: 's', points: true, w: 8, description: 'One point per failover: from the first failure the gateway saw to the new primary.' },
        ),
        timeseries('Upstream retries/s (TRYAGAIN, CLUSTERDOWN, connection...)', [[`sum by (reason) (rate(gateway_upstream_retries_total[${RATE}]))`, '{{reason}}']], { unit: 'ops', w: 8 }),
        stateTimeline('Role by node', [[roles, '{{instance}}']], { mappings: ROLE_MAPPING, w: 12 }),
        stateTimeline('cluster_state by node', [['redis_cluster_state', '{{instance}}']], { mappings: STATE_MAPPING, w: 12 }),
        timeseries('Primaries, replicas, slots failing', [
          ['count(redis_instance_info{role="master"})', 'primaries'],
          ['count(redis_instance_info{role="slave"})', 'replicas'],
          ['max(redis_cluster_slots_pfail)', 'slots pfail'],
          ['max(redis_cluster_slots_fail)', 'slots fail'],
        ], { decimals: 0, overrides: [{ matcher: { id: 'byRegexp', options: 'slots.*' }, properties: [{ id: 'custom.axisPlacement', value: 'right' }] }] }),
        timeseries('Epochs', [
          ['max(redis_cluster_current_epoch)', 'current epoch'],
          ['redis_cluster_my_epoch', '{{instance}} config epoch'],
        ], { decimals: 0 }),
      ]),
    ],
  });
}

/** File name -> dashboard object. */
function buildDashboards() {
  return {
    'cluster-overview.json': clusterOverview(),
    'gateway.json': gatewayDashboard(),
    'pubsub.json': pubsubDashboard(),
    'migrations-failovers.json': migrationsFailoversDashboard(),
  };
}

/** The JSON text written for a dashboard. */
function render(d) {
  return `${JSON.stringify(d, null, 2)}\n`;
}

module.exports = { buildDashboards, render, OUT_DIR };

if (require.main === module) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, d] of Object.entries(buildDashboards())) {
    fs.writeFileSync(path.join(OUT_DIR, name), render(d));
    console.log(`wrote ${path.relative(process.cwd(), path.join(OUT_DIR, name))}`);
  }
}
