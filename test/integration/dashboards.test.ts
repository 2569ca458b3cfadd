/**
 * The monitoring stack as shipped (dashboards/, docker-compose.yml, Dockerfile), checked with the real tools:
 * promtool (config, rules, rule unit tests); the compose file's services, ports, volumes and provisioning
 * paths against each other and against prometheus.yml; the Grafana dashboards (generated, fixed datasource
 * uid, unique ids); and end to end: a 3 primaries + 3 replicas cluster of our nodes, a real redis_exporter in
 * multi-target mode, the gateway, and a real Prometheus running the shipped scrape config (addresses moved to
 * loopback) and alert rules. Every PromQL expression of the dashboards and alerts must parse and evaluate in
 * that Prometheus, and every metric it names must exist: gateway_* in gateway/src/metrics.ts, redis_* with
 * data from the exporter.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { GatewayMetrics } from '../../gateway/src/metrics';
import { cli, createCluster, startClusterNodes, waitClusterOk, waitFor } from '../helpers/cluster';
import { ROOT, freePort, type NodeHandle } from '../helpers/node';

const DASH = path.join(ROOT, 'dashboards');
const PROM_DIR = path.join(DASH, 'prometheus');
const GRAFANA_DIR = path.join(DASH, 'grafana');
const JSON_DIR = path.join(GRAFANA_DIR, 'dashboards');
const DS = { type: 'prometheus', uid: 'prometheus' };

const generator = createRequire(__filename)(path.join(GRAFANA_DIR, 'generate.js')) as { buildDashboards(): Record<string, any>; render(d: unknown): string };

const readYaml = (p: string): any => YAML.parse(fs.readFileSync(p, 'utf8'), { merge: true });
const compose = readYaml(path.join(ROOT, 'docker-compose.yml'));
const promConfig = readYaml(path.join(PROM_DIR, 'prometheus.yml'));
const alerts = readYaml(path.join(PROM_DIR, 'alerts.yml'));
const dashboards: Record<string, any> = Object.fromEntries(
  fs
    .readdirSync(JSON_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(fs.readFileSync(path.join(JSON_DIR, f), 'utf8'))]),
);

// ------------------------------------------------------------------------------------------ expressions

interface Expr {
  where: string;
  expr: string;
}

/** Every PromQL expression: dashboard targets, variable queries (label_values(metric, label) -> metric), annotations; alert rules. */
function allExpressions(): Expr[] {
  const out: Expr[] = [];
  for (const [file, d] of Object.entries(dashboards)) {
    for (const p of d.panels) for (const t of p.targets ?? []) out.push({ where: `${file} panel "${p.title}" ${t.refId}`, expr: t.expr });
    for (const v of d.templating.list) {
      const m = /^label_values\((.*),\s*\w+\)$/.exec(v.query.query);
      if (!m) throw new Error(`${file} variable ${v.name}: expected label_values(metric, label), got ${v.query.query}`);
      out.push({ where: `${file} variable ${v.name}`, expr: m[1]! });
    }
    for (const a of d.annotations.list) if (a.expr) out.push({ where: `${file} annotation ${a.name}`, expr: a.expr });
  }
  for (const g of alerts.groups) for (const r of g.rules) out.push({ where: `alerts.yml ${r.alert ?? r.record}`, expr: r.expr });
  return out;
}

/** Grafana's variables replaced by values Prometheus accepts. */
function substitute(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval/g, '1m')
    .replace(/\$__range/g, '1h')
    .replace(/\$\{?instance\}?/g, '.+');
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names in a PromQL expression: identifiers outside strings, label matchers, ranges and grouping clauses that are not calls or keywords. */
function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ');
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  s = s.replace(/\boffset\s+-?\w+/g, ' ');
  s = s.replace(/(^|[^\w:])\d+(\.\d+)?(e[+-]?\d+)?/gi, '$1 ');
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    if (/^\s*\(/.test(s.slice(m.index! + m[0].length))) continue;
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Names a fresh gateway registry exposes (gateway/src/metrics.ts + prom-client defaults), histogram series expanded. */
async function gatewayMetricNames(): Promise<Set<string>> {
  const m = new GatewayMetrics({ processMetrics: true });
  const names = new Set<string>();
  for (const x of await m.registry.getMetricsAsJSON()) {
    names.add(x.name);
    if (String(x.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(x.name + s);
  }
  return names;
}

// ------------------------------------------------------------------------------------------ processes

const procs = new Set<ChildProcess>();
const tmpDirs: string[] = [];
process.once('exit', () => {
  for (const p of procs) p.kill('SIGKILL');
});

function startProcess(cmd: string, args: string[], cwd?: string): { proc: ChildProcess; output: () => string } {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-20_000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-20_000)));
  procs.add(proc);
  proc.once('exit', () => procs.delete(proc));
  return { proc, output: () => out };
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await exited;
}

function tool(cmd: string, args: string[], cwd = PROM_DIR): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${out}`);
  return out;
}

// ------------------------------------------------------------------------------------------ static checks

describe('Prometheus config and alert rules (promtool)', () => {
  it('promtool check config: prometheus.yml (compose) and prometheus.local.yml (npm start)', () => {
    expect(tool('promtool', ['check', 'config', 'prometheus.yml'])).toContain('SUCCESS');
    expect(tool('promtool', ['check', 'config', 'prometheus.local.yml'])).toContain('SUCCESS');
  });

  it('promtool check rules and promtool test rules (alerts.test.yml)', () => {
    expect(tool('promtool', ['check', 'rules', 'alerts.yml'])).toMatch(/SUCCESS: \d+ rules found/);
    expect(tool('promtool', ['test', 'rules', 'alerts.test.yml'])).toContain('SUCCESS');
  });

  it('prometheus.local.yml is prometheus.yml with loopback addresses', () => {
    const local = readYaml(path.join(PROM_DIR, 'prometheus.local.yml'));
    const toLoopback = (s: string): string =>
      s
        .replace(/^(redis:\/\/)?(node-\d+|gateway|redis-exporter|localhost)(?=:\d+$)/, (_m, scheme) => `${scheme ?? ''}127.0.0.1`);
    const rewrite = (v: any): any =>
      Array.isArray(v) ? v.map(rewrite) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rewrite(x)])) : typeof v === 'string' ? toLoopback(v) : v;
    expect(local).toEqual(rewrite(promConfig));
  });

  it('every alert has a severity and a summary; job labels used exist in prometheus.yml', () => {
    const jobs = new Set(promConfig.scrape_configs.map((c: any) => c.job_name));
    for (const g of alerts.groups) {
      for (const r of g.rules) {
        expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
        expect(r.annotations?.summary, r.alert).toBeTruthy();
      }
    }
    for (const e of allExpressions()) for (const m of e.expr.matchAll(/\bjob="([^"]+)"/g)) expect(jobs, e.where).toContain(m[1]);
  });
});

describe('Grafana dashboards and provisioning', () => {
  it('the dashboard JSON files are exactly what dashboards/grafana/generate.js generates', () => {
    const built = generator.buildDashboards();
    expect(Object.keys(dashboards).sort()).toEqual(Object.keys(built).sort());
    for (const [f, d] of Object.entries(built)) {
      expect(fs.readFileSync(path.join(JSON_DIR, f), 'utf8'), `${f} is stale: run node dashboards/grafana/generate.js`).toBe(generator.render(d));
    }
  });

  it('every dashboard: fixed datasource uid everywhere, no ${DS_...} inputs, unique uids and panel ids, panels on the grid without overlap', () => {
    const uids = new Set<string>();
    for (const [file, d] of Object.entries(dashboards)) {
      const text = fs.readFileSync(path.join(JSON_DIR, file), 'utf8');
      expect(text, file).not.toMatch(/\$\{?DS_/);
      expect(d.__inputs, file).toBeUndefined();
      expect(uids.has(d.uid), `${file}: uid ${d.uid} used twice`).toBe(false);
      uids.add(d.uid);
      expect(d.title && d.schemaVersion >= 36, file).toBeTruthy();
      const ids = new Set<number>();
      const cells = new Set<string>();
      for (const p of d.panels) {
        expect(Number.isInteger(p.id) && !ids.has(p.id), `${file}: panel id ${p.id}`).toBe(true);
        ids.add(p.id);
        const g = p.gridPos;
        expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${file} "${p.title}" gridPos`).toBe(true);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            expect(cells.has(`${x},${y}`), `${file} "${p.title}" overlaps another panel`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
        if (p.type === 'row') continue;
        expect(p.datasource, `${file} "${p.title}"`).toEqual(DS);
        expect(p.targets.length, `${file} "${p.title}" has no query`).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource, `${file} "${p.title}" ${t.refId}`).toEqual(DS);
      }
      for (const v of d.templating.list) expect(v.datasource, `${file} variable ${v.name}`).toEqual(DS);
      for (const a of d.annotations.list) if (!a.builtIn) expect(a.datasource, `${file} annotation ${a.name}`).toEqual(DS);
    }
  });

  it('the datasource is provisioned with that uid; the dashboards provider reads the directory compose mounts', () => {
    const ds = readYaml(path.join(GRAFANA_DIR, 'provisioning/datasources/prometheus.yml'));
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({ uid: 'prometheus', type: 'prometheus', url: '${PROMETHEUS_URL}' });
    const prov = readYaml(path.join(GRAFANA_DIR, 'provisioning/dashboards/dashboards.yml'));
    expect(prov.providers).toHaveLength(1);
    expect(prov.providers[0]).toMatchObject({ type: 'file', options: { path: '${GRAFANA_DASHBOARDS_DIR}' } });
  });

  it('every gateway_* / process_* / nodejs_* metric used is one gateway/src/metrics.ts exposes', async () => {
    const known = await gatewayMetricNames();
    const unknown: string[] = [];
    for (const e of allExpressions()) {
      for (const n of metricNames(e.expr)) {
        if (/^(gateway_|process_|nodejs_)/.test(n) && !known.has(n)) unknown.push(`${e.where}: ${n}`);
        else if (!/^(gateway_|process_|nodejs_|redis_)/.test(n) && n !== 'up') unknown.push(`${e.where}: ${n} (neither gateway nor redis_exporter)`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('metricNames() finds the metrics of an expression and nothing else', () => {
    expect(
      metricNames(
        'sum by (instance) (rate(a_total{x="b_c", le="5"}[5m])) / on (instance) group_left () max by (instance) (c{role="master"} offset 5m) > 0.5 and d or vector(1e-9) - histogram_quantile(0.99, e_bucket)',
      ).sort(),
    ).toEqual(['a_total', 'c', 'd', 'e_bucket']);
  });
});

describe('docker-compose.yml and Dockerfile', () => {
  const services: Record<string, any> = compose.services;
  const nodeServices = Object.keys(services).filter((s) => /^node-\d+$/.test(s));
  const argOf = (cmd: string[], flag: string): string | undefined => {
    const i = cmd.indexOf(flag);
    return i < 0 ? undefined : cmd[i + 1];
  };
  const portOf = (svc: string): number => Number(argOf(services[svc].command, '--port'));

  it('six cluster nodes on 7000-7005 as npm start, each announcing its fixed address', () => {
    expect(nodeServices).toEqual(['node-0', 'node-1', 'node-2', 'node-3', 'node-4', 'node-5']);
    const subnet = compose.networks.cluster.ipam.config[0].subnet as string;
    const prefix = subnet.replace(/\.0\/24$/, '.');
    nodeServices.forEach((s, i) => {
      const svc = services[s];
      expect(svc.command.slice(0, 2)).toEqual(['node', 'bin/cluster-node.js']);
      expect(portOf(s)).toBe(7000 + i);
      expect(argOf(svc.command, '--cluster-enabled')).toBe('yes');
      expect(argOf(svc.command, '--bind')).toBe('0.0.0.0');
      const ip = svc.networks.cluster.ipv4_address as string;
      expect(ip.startsWith(prefix), `${s} ${ip} outside ${subnet}`).toBe(true);
      expect(argOf(svc.command, '--cluster-announce-ip')).toBe(ip);
      expect(svc.environment.NODE_PORT).toBe(String(7000 + i));
      expect(svc.ports).toEqual([`${7000 + i}:${7000 + i}`]);
      expect(svc.build).toBe('.');
      expect(svc.volumes).toEqual([`${s}-data:/data`]);
    });
  });

  it('cluster-init creates the cluster from those addresses, primaries first, 1 replica each', () => {
    const script = (services['cluster-init'].command as string[]).join(' ');
    const create = /redis-cli --cluster create ([\d.: ]+) --cluster-replicas 1 --cluster-yes/.exec(script);
    expect(create, script).toBeTruthy();
    const addrs = create![1]!.trim().split(/\s+/);
    expect(addrs).toEqual(nodeServices.map((s) => `${services[s].networks.cluster.ipv4_address}:${portOf(s)}`));
    for (const s of nodeServices) expect(services['cluster-init'].depends_on[s]).toEqual({ condition: 'service_healthy' });
  });

  it('the gateway: CLI entry point, port 8080, seeds naming node services with their ports', () => {
    const gw = services.gateway;
    expect(gw.command).toEqual(['node', 'dist/gateway/src/main.js']);
    expect(fs.existsSync(path.join(ROOT, 'gateway/src/main.ts'))).toBe(true);
    expect(gw.environment.GATEWAY_PORT).toBe('8080');
    expect(gw.environment.GATEWAY_HOST).toBe('0.0.0.0');
    expect(gw.ports).toEqual(['8080:8080']);
    for (const seed of (gw.environment.GATEWAY_SEEDS as string).split(',')) {
      const [host, port] = seed.split(':');
      expect(nodeServices, seed).toContain(host);
      expect(portOf(host!), seed).toBe(Number(port));
    }
    expect(gw.depends_on['cluster-init']).toEqual({ condition: 'service_completed_successfully' });
  });

  it('prometheus.yml scrapes compose services at the ports they listen on', () => {
    const jobs = Object.fromEntries(promConfig.scrape_configs.map((c: any) => [c.job_name, c]));
    expect(jobs.gateway.static_configs[0].targets).toEqual([`gateway:${services.gateway.environment.GATEWAY_PORT}`]);
    const exporterListen = /^-web\.listen-address=:(\d+)$/.exec(services['redis-exporter'].command.find((a: string) => a.startsWith('-web.listen-address')))![1];
    expect(services['redis-exporter'].command).toContain('-redis.addr=');
    expect(jobs['redis-exporter'].static_configs[0].targets).toEqual([`redis-exporter:${exporterListen}`]);
    expect(jobs.redis.metrics_path).toBe('/scrape');
    expect(jobs.redis.relabel_configs.at(-1)).toEqual({ target_label: '__address__', replacement: `redis-exporter:${exporterListen}` });
    expect(jobs.redis.static_configs[0].targets).toEqual(nodeServices.map((s) => `redis://${s}:${portOf(s)}`));
    expect(jobs.prometheus.static_configs[0].targets).toEqual(['localhost:9090']);
    expect(services.prometheus.ports).toEqual(['9090:9090']);
  });

  it('mounts: every bind source exists, prometheus and grafana read the files from the paths their config names', () => {
    const named = new Set(Object.keys(compose.volumes));
    const mounts: Record<string, string> = {};
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const [src, dst] = (v as string).split(':');
        if (src!.startsWith('.')) {
          expect(fs.existsSync(path.join(ROOT, src!)), `${name}: ${src} missing`).toBe(true);
          mounts[`${name}:${dst}`] = src!;
        } else {
          expect(named, `${name}: volume ${src} not declared`).toContain(src);
        }
      }
      for (const dep of Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {})) expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
      for (const net of Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks ?? {})) expect(Object.keys(compose.networks)).toContain(net);
      if (svc.image) expect(svc.image, `${name}: pin the image tag`).toMatch(/:[\w.-]+$/);
      if (svc.image) expect(svc.image).not.toMatch(/:latest$/);
    }
    // Prometheus: the config file and its rule files inside the mounted directory.
    const cfg = services.prometheus.command.find((a: string) => a.startsWith('--config.file=')).slice('--config.file='.length);
    const promSrc = mounts[`prometheus:${path.posix.dirname(cfg)}`];
    expect(promSrc, 'prometheus config dir mounted').toBe('./dashboards/prometheus');
    expect(fs.existsSync(path.join(ROOT, promSrc!, path.posix.basename(cfg)))).toBe(true);
    for (const r of promConfig.rule_files) expect(fs.existsSync(path.join(ROOT, promSrc!, r))).toBe(true);
    // Grafana: provisioning in its default place, the dashboards where the provider (env) points.
    const env = services.grafana.environment;
    expect(mounts['grafana:/etc/grafana/provisioning']).toBe('./dashboards/grafana/provisioning');
    expect(mounts[`grafana:${env.GRAFANA_DASHBOARDS_DIR}`]).toBe('./dashboards/grafana/dashboards');
    expect(env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH.startsWith(`${env.GRAFANA_DASHBOARDS_DIR}/`)).toBe(true);
    expect(dashboards[path.posix.basename(env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH)]).toBeTruthy();
    const url = new URL(env.PROMETHEUS_URL);
    expect(services[url.hostname], 'PROMETHEUS_URL names the prometheus service').toBe(services.prometheus);
    expect(services.prometheus.ports).toContain(`${url.port}:${url.port}`);
  });

  it('Dockerfile: node:20, npm ci, npm run build; .dockerignore keeps node_modules and dist out', () => {
    const df = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^FROM node:20\S* AS build$/m);
    expect(df).toMatch(/RUN npm ci\b/);
    expect(df).toMatch(/RUN npm run build\b/);
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', '.git']) expect(ignore).toContain(p);
  });
});

// ------------------------------------------------------------------------------------------ end to end

const COMPOSE_NODE_ARGS: string[] = (() => {
  // node-0's arguments minus what the test harness sets itself (port, bind, dir, cluster-enabled); the
  // announced address becomes loopback.
  const cmd: string[] = compose.services['node-0'].command.slice(2);
  const out: string[] = [];
  for (let i = 0; i < cmd.length; i += 2) {
    const [flag, value] = [cmd[i]!, cmd[i + 1]!];
    if (['--port', '--bind', '--dir', '--cluster-enabled'].includes(flag)) continue;
    out.push(flag, flag === '--cluster-announce-ip' ? '127.0.0.1' : value);
  }
  return out;
})();

describe('end to end: cluster + redis_exporter + gateway scraped by Prometheus with the shipped config', () => {
  let nodes: NodeHandle[] = [];
  let promUrl = '';
  let gatewayPort = 0;
  const token = 'dashboards-test-token';
  let prom: ReturnType<typeof startProcess>;
  let exporter: ReturnType<typeof startProcess>;
  let gateway: ReturnType<typeof startProcess>;

  async function api(pathAndQuery: string): Promise<any> {
    const r = await fetch(`${promUrl}${pathAndQuery}`);
    return r.json();
  }
  async function query(expr: string): Promise<any[]> {
    const j = await api(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (j.status !== 'success') throw new Error(`${expr}: ${j.error}`);
    return j.data.result;
  }
  const scalar = async (expr: string): Promise<number> => Number((await query(expr))[0]?.value[1] ?? NaN);

  beforeAll(async () => {
    // The cluster: 3 primaries + 3 replicas, with the node arguments docker-compose.yml uses.
    nodes = await startClusterNodes(6, COMPOSE_NODE_ARGS);
    createCluster(nodes, 1);
    const ports = nodes.map((n) => n.port);
    await waitClusterOk(ports);
    await waitFor('3 replicas with their link up', () => ports.filter((p) => /master_link_status:up/.test(cli(p, 'info', 'replication'))).length === 3, 20_000);

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboards-'));
    tmpDirs.push(tmp);
    const exporterPort = await freePort();
    exporter = startProcess('prometheus-redis-exporter', ['-redis.addr=', `-web.listen-address=127.0.0.1:${exporterPort}`]);

    gatewayPort = await freePort();
    gateway = startProcess(process.execPath, [
      path.join(ROOT, 'dist/gateway/src/main.js'),
      '--port', String(gatewayPort),
      '--seeds', ports.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(','),
      '--token', token,
    ]);

    // The shipped config with loopback addresses and a 1 s rhythm; relabeling and rules unchanged.
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const cfg = structuredClone(promConfig);
    cfg.global = { ...cfg.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
    cfg.rule_files = cfg.rule_files.map((f: string) => path.join(PROM_DIR, f));
    for (const job of cfg.scrape_configs) {
      if (job.job_name === 'gateway') job.static_configs = [{ targets: [`127.0.0.1:${gatewayPort}`] }];
      if (job.job_name === 'redis-exporter') job.static_configs = [{ targets: [`127.0.0.1:${exporterPort}`] }];
      if (job.job_name === 'prometheus') job.static_configs = [{ targets: [`127.0.0.1:${promPort}`] }];
      if (job.job_name === 'redis') {
        job.static_configs = [{ targets: ports.map((p) => `redis://127.0.0.1:${p}`) }];
        job.relabel_configs.at(-1).replacement = `127.0.0.1:${exporterPort}`;
      }
    }
    fs.writeFileSync(path.join(tmp, 'prometheus.yml'), YAML.stringify(cfg));
    prom = startProcess('prometheus', [
      `--config.file=${path.join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], tmp);
    await waitFor(`prometheus ready\n${prom.output()}`, async () => (await fetch(`${promUrl}/-/ready`)).ok, 20_000);
    await waitFor(`gateway ready\n${gateway.output()}`, async () => (await fetch(`http://127.0.0.1:${gatewayPort}/readyz`)).ok, 20_000);

    // Traffic: keys in every shard through the gateway and redis-cli -c; a MOVED reply (errorstats) from a
    // node asked for keys it does not serve.
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://127.0.0.1:${gatewayPort}/`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(['SET', `dash:${i}`, String(i)]) });
      expect(r.status).toBe(200);
    }
    for (const k of ['a', 'b', 'c', 'd', 'e']) cli(ports[0]!, 'get', k);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([prom, exporter, gateway].filter(Boolean).map((p) => stopProcess(p.proc)));
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('every node is scraped through the exporter under its own address: redis_up 1, cluster ok, 3 primaries + 3 replicas', async () => {
    const want = nodes.map((n) => `127.0.0.1:${n.port}`).sort();
    await waitFor('all 6 nodes scraped', async () => (await query('redis_up == 1')).length === 6, 20_000);
    expect((await query('redis_up')).map((r) => r.metric.instance).sort()).toEqual(want);
    expect((await query('redis_up')).every((r) => r.metric.job === 'redis')).toBe(true);
    expect(await scalar('min(redis_cluster_state)')).toBe(1);
    expect(await scalar('min(redis_cluster_slots_ok)')).toBe(16384);
    expect(await scalar('count(redis_instance_info{role="master"})')).toBe(3);
    expect(await scalar('count(redis_instance_info{role="slave"})')).toBe(3);
    expect(await scalar('count(redis_master_link_up == 1)')).toBe(3);
  });

  it('the gateway is scraped: up, full slot map, 3 shards, 6 nodes reachable, commands counted', async () => {
    await waitFor('gateway scraped', async () => (await scalar('up{job="gateway"}')) === 1, 20_000);
    await waitFor('gateway commands scraped', async () => (await scalar('sum(gateway_commands_total{cmd="set"})')) >= 20, 20_000);
    expect(await scalar('gateway_slots_covered')).toBe(16384);
    expect(await scalar('gateway_cluster_shards')).toBe(3);
    expect(await scalar('sum(gateway_node_up)')).toBe(6);
  });

  it('every PromQL expression of the dashboards and alerts parses and evaluates', async () => {
    const failures: string[] = [];
    for (const e of allExpressions()) {
      const q = substitute(e.expr);
      const fmt = await api(`/api/v1/format_query?query=${encodeURIComponent(q)}`);
      if (fmt.status !== 'success') {
        failures.push(`${e.where}: ${fmt.error}`);
        continue;
      }
      const r = await api(`/api/v1/query?query=${encodeURIComponent(q)}`);
      if (r.status !== 'success') failures.push(`${e.where}: ${r.error}`);
    }
    expect(failures).toEqual([]);
  });

  it('every redis_* metric the dashboards and alerts use has data from the exporter', async () => {
    const used = new Map<string, string>();
    for (const e of allExpressions()) for (const n of metricNames(e.expr)) if (n.startsWith('redis_')) used.set(n, e.where);
    expect(used.size).toBeGreaterThan(20);
    let missing: string[] = [];
    await waitFor(
      'series for every redis_* metric used',
      async () => {
        missing = [];
        for (const [n, where] of used) if ((await query(`count(${n})`)).length === 0) missing.push(`${n} (${where})`);
        return missing.length === 0;
      },
      20_000,
    ).catch(() => undefined);
    expect(missing).toEqual([]);
  });

  it('the alert rules load and evaluate without errors; a killed replica raises ClusterNodeDown for its address', async () => {
    let rules: any[] = [];
    await waitFor(
      'every rule evaluated',
      async () => {
        const j = await api('/api/v1/rules');
        rules = j.data.groups.flatMap((g: any) => g.rules);
        return rules.length > 0 && rules.every((r) => !r.lastEvaluation.startsWith('0001-'));
      },
      20_000,
    );
    expect(rules.length).toBe(alerts.groups.reduce((n: number, g: any) => n + g.rules.length, 0));
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    // Nothing critical fires on a healthy cluster with a healthy gateway.
    const active = (await api('/api/v1/alerts')).data.alerts.filter((a: any) => a.labels.severity === 'critical');
    expect(active.map((a: any) => `${a.labels.alertname} ${a.labels.instance ?? ''}`)).toEqual([]);

    const replicaPort = nodes.map((n) => n.port).find((p) => /role:slave/.test(cli(p, 'info', 'replication')))!;
    await nodes.find((n) => n.port === replicaPort)!.stop('SIGKILL');
    await waitFor(
      'ClusterNodeDown pending for the killed replica',
      async () =>
        (await api('/api/v1/alerts')).data.alerts.some(
          (a: any) => a.labels.alertname === 'ClusterNodeDown' && a.labels.instance === `127.0.0.1:${replicaPort}` && ['pending', 'firing'].includes(a.state),
        ),
      20_000,
    );
  });
});
