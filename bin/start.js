#!/usr/bin/env node
'use strict';
/**
 * `npm start`: run a local cluster on loopback (default: 3 primaries on 127.0.0.1:7000-7002 and one replica
 * each on 7003-7005, data under .cluster-data/ in the repo), create it if the nodes are fresh, wait until it
 * is usable, then keep running until Ctrl-C / SIGTERM, which stops every node and waits for it to exit.
 *
 * Options (flag or env; flags win):
 *   --base-port P      CLUSTER_BASE_PORT (or PORT)   first client port, default 7000; nodes use
 *                                                    P..P+N*(1+R)-1 (primaries first, then the replicas)
 *   --ports a,b,c      CLUSTER_PORTS                 explicit client ports instead (tests use free ports):
 *                                                    N*(1+R) of them, the N primaries first
 *   --primaries N      CLUSTER_PRIMARIES             number of primaries, default 3
 *   --replicas R       CLUSTER_REPLICAS              replicas per primary, default 1 (0: primaries only).
 *                                                    Node N+k replicates primary k mod N (redis-cli's
 *                                                    simple assignment)
 *   --dir D            CLUSTER_DATA_DIR (or DATA_DIR) data dir, default <repo>/.cluster-data; node i uses D/<port>/
 *   --node-timeout ms  CLUSTER_NODE_TIMEOUT          passed to each node as --cluster-node-timeout
 *   --timeout s        CLUSTER_START_TIMEOUT         seconds to wait for cluster_state:ok, default 60
 *   --server NAME      CLUSTER_SERVER                cluster-node (default) or redis-server (same layout,
 *                                                    for comparing against the reference implementation)
 *   --gateway-port G   GATEWAY_PORT                  the gateway's HTTP/WebSocket port, default 8080; 0: no gateway
 *   --token T          GATEWAY_TOKEN                 its read-write token (default: generated once, kept in
 *                                                    <dir>/gateway-tokens.json with an admin token)
 * Every node's bus port is its client port + 10000. Each node logs to D/<port>/node.log; warnings and
 * anything unexpected on its stderr are echoed to the console prefixed with "[port]".
 *
 * Exit status: 0 after a clean stop on SIGINT/SIGTERM/SIGHUP; 1 when start-up fails, a node dies, or a node
 * had to be killed because it did not stop within 10 s.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { RespClient, call, parseInfo } = require('./lib/resp-client');

const ROOT = path.resolve(__dirname, '..');
const NODE_BIN = path.join(__dirname, 'cluster-node.js');
const DIST_MAIN = path.join(ROOT, 'dist/cluster-node/src/main.js');
const SLOTS = 16384;
const HOST = '127.0.0.1';
const STOP_GRACE_MS = 10_000;

const USAGE = `Usage: npm start [-- options]   (or node bin/start.js [options])
  --base-port P       first port (default 7000; env CLUSTER_BASE_PORT)
  --ports a,b,c       explicit ports, primaries first (env CLUSTER_PORTS)
  --primaries N       primaries (default 3; env CLUSTER_PRIMARIES)
  --replicas R        replicas per primary (default 1; env CLUSTER_REPLICAS)
  --dir D             data dir (default .cluster-data; env CLUSTER_DATA_DIR)
  --node-timeout ms   cluster-node-timeout for each node (env CLUSTER_NODE_TIMEOUT)
  --timeout s         how long to wait for cluster_state:ok (default 60; env CLUSTER_START_TIMEOUT)
  --server NAME       cluster-node (default) or redis-server (env CLUSTER_SERVER)
  --gateway-port G    gateway HTTP/WebSocket port (default 8080; 0 = no gateway; env GATEWAY_PORT)
  --token T           gateway read-write token (default: generated, kept in <dir>/gateway-tokens.json; env GATEWAY_TOKEN)`;

class StartError extends Error {}

function parseOptions(argv, env) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new StartError(`unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined) throw new StartError(`${a} needs a value`);
    flags[m[1]] = value;
  }
  const known = ['base-port', 'ports', 'primaries', 'replicas', 'dir', 'node-timeout', 'timeout', 'server', 'gateway-port', 'token'];
  for (const k of Object.keys(flags)) if (!known.includes(k)) throw new StartError(`unknown option --${k}\n${USAGE}`);
  const pick = (flag, ...envs) => {
    if (flags[flag] !== undefined) return flags[flag];
    for (const e of envs) if (env[e] !== undefined && env[e] !== '') return env[e];
    return undefined;
  };
  const int = (name, raw, def, min, max) => {
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new StartError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
    return n;
  };

  const replicas = int('--replicas', pick('replicas', 'CLUSTER_REPLICAS'), 1, 0, 10);
  const primariesRaw = pick('primaries', 'CLUSTER_PRIMARIES');
  let ports;
  let primaries;
  const portList = pick('ports', 'CLUSTER_PORTS');
  if (portList !== undefined) {
    ports = portList.split(',').map((p) => int('--ports entry', p.trim(), 0, 1, 55535));
    if (primariesRaw !== undefined) {
      primaries = int('--primaries', primariesRaw, 3, 1, 1000);
      if (primaries * (1 + replicas) !== ports.length) {
        throw new StartError(`--ports lists ${ports.length} ports, but ${primaries} primaries with ${replicas} replicas each need ${primaries * (1 + replicas)}`);
      }
    } else {
      if (ports.length % (1 + replicas) !== 0) {
        throw new StartError(`--ports lists ${ports.length} ports, not a multiple of ${1 + replicas} (1 primary + ${replicas} replicas per shard)`);
      }
      primaries = ports.length / (1 + replicas);
    }
  } else {
    const base = int('--base-port', pick('base-port', 'CLUSTER_BASE_PORT', 'PORT'), 7000, 1, 55535);
    primaries = int('--primaries', primariesRaw, 3, 1, 1000);
    const count = primaries * (1 + replicas);
    if (base + count - 1 > 55535) throw new StartError('ports must stay <= 55535 (bus port = port + 10000)');
    ports = Array.from({ length: count }, (_, i) => base + i);
  }
  if (new Set(ports).size !== ports.length) throw new StartError('ports must be distinct');
  if (ports.length < 1 || primaries < 1) throw new StartError('need at least one primary');
  for (const p of ports) {
    if (ports.includes(p + 10000)) throw new StartError(`port ${p + 10000} is both a client port and the bus port of ${p}`);
  }
  const server = pick('server', 'CLUSTER_SERVER') ?? 'cluster-node';
  if (server !== 'cluster-node' && server !== 'redis-server') throw new StartError(`--server must be cluster-node or redis-server, got ${server}`);
  const nodeTimeout = pick('node-timeout', 'CLUSTER_NODE_TIMEOUT');
  return {
    ports,
    primaries,
    replicas,
    dataDir: path.resolve(pick('dir', 'CLUSTER_DATA_DIR', 'DATA_DIR') ?? path.join(ROOT, '.cluster-data')),
    nodeTimeout: nodeTimeout === undefined ? undefined : int('--node-timeout', nodeTimeout, 0, 1, 2 ** 31 - 1),
    timeoutMs: int('--timeout', pick('timeout', 'CLUSTER_START_TIMEOUT'), 60, 1, 86400) * 1000,
    server,
    gatewayPort: int('--gateway-port', pick('gateway-port', 'GATEWAY_PORT'), 8080, 0, 65535),
    token: pick('token', 'GATEWAY_TOKEN'),
  };
}

/** Even split of the 16384 slots over n primaries, the same ranges redis-cli --cluster create picks. */
function slotRanges(n) {
  const per = SLOTS / n;
  const out = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    let last = Math.round(cursor + per - 1);
    if (last > SLOTS - 1 || i === n - 1) last = SLOTS - 1;
    if (last < first) last = first;
    out.push([first, last]);
    first = last + 1;
    cursor += per;
  }
  return out;
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Newest mtime (ms) of the .ts files under dir, or 0. */
function newestTs(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function checkBuild() {
  if (!fs.existsSync(DIST_MAIN)) {
    throw new StartError(
      `${DIST_MAIN} is missing: the TypeScript has not been built.\n` +
        'Run `npm run build` (or `npm install`, whose prepare step builds), then `npm start` again.',
    );
  }
  const built = fs.statSync(DIST_MAIN).mtimeMs;
  const src = Math.max(newestTs(path.join(ROOT, 'cluster-node/src')), newestTs(path.join(ROOT, 'common/src')));
  if (src > built) warn('dist/ is older than the TypeScript sources; run `npm run build` to pick up the changes.');
}

function info(msg) {
  process.stdout.write(`${msg}\n`);
}
function warn(msg) {
  process.stderr.write(`warning: ${msg}\n`);
}

// A log line in redis-server's format: "pid:R <date> hh:mm:ss.mmm <mark> msg" ('#' marks a warning).
const LOG_LINE = /^\d+:[A-Z] .*?\d\d:\d\d:\d\d\.\d{3} ([.\-*#]) /;
const NOISE =
  /Redis is starting|Redis version=|Configuration loaded|Server initialized|overcommit|IP address for this node updated|Cluster state changed: ok|ready to exit|User requested shutdown|Received SIG|signal-handler/;

/** A child process this script started and watches: exit state, its log's tail. Subclasses spawn it. */
class Child {
  constructor(logPath) {
    this.logPath = logPath;
    this.proc = null;
    this.exit = null; // { code, signal } once exited
    this.exited = null; // promise
  }

  /** Track `proc` (started with its output going to `logFd`); `onExit(this)` once it has exited. */
  watch(proc, logFd, onExit) {
    this.proc = proc;
    this.exited = new Promise((resolve) => {
      proc.once('error', (e) => {
        // spawn failure (e.g. redis-server not installed): no 'exit' follows.
        this.exit = { code: null, signal: null, error: e };
        resolve();
        onExit(this);
      });
      proc.once('close', (code, signal) => {
        if (this.exit) return;
        this.exit = { code, signal };
        try {
          fs.closeSync(logFd);
        } catch {
          /* already closed */
        }
        resolve();
        onExit(this);
      });
    });
  }

  get alive() {
    return this.proc !== null && this.exit === null;
  }

  describeExit() {
    if (!this.exit) return 'running';
    if (this.exit.error) return `could not be started (${this.exit.error.message})`;
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  tail(lines = 15) {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8').trimEnd().split('\n');
      return text.slice(-lines).map((l) => `    ${l}`).join('\n');
    } catch {
      return '    (no log)';
    }
  }
}

class Node extends Child {
  constructor(opts, port, index) {
    const dir = path.join(opts.dataDir, String(port));
    super(path.join(dir, 'node.log'));
    this.port = port;
    this.index = index;
    this.dir = dir;
    this.opts = opts;
    this.quiet = () => false;
  }

  spawn(onExit) {
    fs.mkdirSync(this.dir, { recursive: true });
    const logFd = fs.openSync(this.logPath, 'a');
    fs.writeSync(logFd, `--- ${new Date().toISOString()} start.js: starting ${this.opts.server} on ${HOST}:${this.port}\n`);
    const clusterArgs = ['--port', String(this.port), '--bind', HOST, '--dir', this.dir, '--cluster-enabled', 'yes'];
    if (this.opts.nodeTimeout !== undefined) clusterArgs.push('--cluster-node-timeout', String(this.opts.nodeTimeout));
    const [cmd, args] =
      this.opts.server === 'redis-server'
        ? ['redis-server', [...clusterArgs, '--cluster-config-file', 'nodes.conf', '--save', '', '--appendonly', 'no']]
        : [process.execPath, [NODE_BIN, ...clusterArgs]];
    // Own process group: a terminal Ctrl-C reaches only this script, which then stops the nodes in order.
    const proc = spawn(cmd, args, { cwd: this.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (line) => {
      try {
        fs.writeSync(logFd, `${line}\n`);
      } catch {
        /* disk full etc.: the console still gets warnings */
      }
      // Console: warnings (without the pid/date prefix) and anything not in the log format (a crash's
      // stack trace, a config error), minus start-up/shutdown chatter that both servers log as warnings.
      // While stopping, only the unexpected (unformatted) lines.
      if (NOISE.test(line)) return;
      const m = LOG_LINE.exec(line);
      if (!m) process.stderr.write(`[${this.port}] ${line}\n`);
      else if (m[1] === '#' && !this.quiet()) process.stderr.write(`[${this.port}] ${line.slice(m[0].length)}\n`);
    };
    for (const stream of [proc.stdout, proc.stderr]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const l of lines) if (l.length) onLine(l);
      });
      stream.on('end', () => {
        if (partial.length) onLine(partial);
        partial = '';
      });
    }
    this.watch(proc, logFd, onExit);
  }

  async waitPort(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new StartError(`node ${HOST}:${this.port} exited during start-up (${this.describeExit()}); last lines of ${this.logPath}:\n${this.tail()}`);
      const ok = await new Promise((resolve) => {
        const s = net.connect({ port: this.port, host: HOST }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new StartError(`node ${HOST}:${this.port} did not accept connections within ${timeoutMs / 1000} s; see ${this.logPath}`);
  }
}

/**
 * The gateway's tokens: --token (or GATEWAY_TOKEN) as the read-write token, else one generated on the first
 * start and kept in <dir>/gateway-tokens.json (mode 0600) with an admin token, so restarts keep them.
 */
function gatewayTokens(opts) {
  const file = path.join(opts.dataDir, 'gateway-tokens.json');
  let saved = null;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    /* first start */
  }
  if (!saved || typeof saved.token !== 'string' || typeof saved.adminToken !== 'string') {
    const crypto = require('node:crypto');
    saved = { token: crypto.randomBytes(18).toString('base64url'), adminToken: crypto.randomBytes(18).toString('base64url') };
    fs.writeFileSync(file, JSON.stringify(saved, null, 2) + '\n', { mode: 0o600 });
  }
  return { token: opts.token || saved.token, adminToken: saved.adminToken, file };
}

/** The gateway process (bin/cluster-gateway.js), logging to <dir>/gateway.log. */
class GatewayProc extends Child {
  constructor(opts, seeds, tokens) {
    super(path.join(opts.dataDir, 'gateway.log'));
    this.opts = opts;
    this.port = opts.gatewayPort;
    this.seeds = seeds;
    this.tokens = tokens;
  }

  spawn(onExit) {
    const logFd = fs.openSync(this.logPath, 'a');
    fs.writeSync(logFd, `--- ${new Date().toISOString()} start.js: starting the gateway on ${HOST}:${this.port}\n`);
    const args = [
      path.join(__dirname, 'cluster-gateway.js'),
      '--port', String(this.port),
      '--host', HOST,
      '--seeds', this.seeds.map((p) => `${HOST}:${p}`).join(','),
      '--token', this.tokens.token,
      '--admin-token', this.tokens.adminToken,
    ];
    this.watch(spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] }), logFd, onExit);
  }

  async waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new StartError(`the gateway exited during start-up (${this.describeExit()}); last lines of ${this.logPath}:\n${this.tail()}`);
      const ok = await new Promise((resolve) => {
        const http = require('node:http');
        const req = http.get({ host: HOST, port: this.port, path: '/readyz', timeout: 1000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => {
          req.destroy();
          resolve(false);
        });
      });
      if (ok) return;
      await sleep(100);
    }
    throw new StartError(`the gateway on ${HOST}:${this.port} was not ready within ${timeoutMs / 1000} s; see ${this.logPath}`);
  }
}

/** CLUSTER INFO of one node as { state, assigned, known, raw }. */
async function clusterInfo(port, timeoutMs = 2000) {
  const raw = parseInfo(await call(port, ['CLUSTER', 'INFO'], { timeoutMs }));
  return { state: raw.cluster_state, assigned: Number(raw.cluster_slots_assigned), known: Number(raw.cluster_known_nodes), raw };
}

/** CLUSTER NODES text as [{ id, addr, port, flags, master, slots }]. */
function parseClusterNodes(text) {
  return String(text)
    .split('\n')
    .filter((l) => l.trim().length)
    .map((l) => {
      const f = l.trim().split(' ');
      const port = Number(/:(\d+)/.exec(f[1])?.[1]);
      return { id: f[0], addr: f[1], port, flags: f[2].split(','), master: f[3], slots: f.slice(8) };
    });
}

/** CLUSTER MYID of one node. */
async function myId(port) {
  return String(await call(port, ['CLUSTER', 'MYID']));
}

/**
 * Fresh nodes: give each primary its share of the slots while it is still alone, introduce every other node
 * (replicas too) to the first, then make node N+k a replica of primary k mod N (CLUSTER REPLICATE). Nodes
 * restarted with a formed cluster in their nodes.conf are left alone. A creation that was interrupted
 * half-way (some nodes have slots or peers, not all joined, replicas not yet attached) is completed
 * idempotently.
 */
async function formCluster(nodes, opts, deadline) {
  const states = await Promise.all(nodes.map((n) => clusterInfo(n.port)));
  const fresh = states.map((s) => s.known === 1 && s.assigned === 0);
  const total = nodes.length;
  const n = opts.primaries;
  const primaries = nodes.slice(0, n);
  const replicas = nodes.slice(n);
  // A node that should be a replica but is a primary without slots (creation interrupted before REPLICATE).
  const unattached = async () => {
    const out = [];
    for (const r of replicas) {
      const me = parseClusterNodes(await call(r.port, ['CLUSTER', 'NODES'])).find((x) => x.flags.includes('myself'));
      if (me && me.flags.includes('master') && me.slots.length === 0) out.push(r);
    }
    return out;
  };
  if (states.every((s) => s.known >= total && s.assigned === SLOTS) && (await unattached()).length === 0) {
    info(`Existing cluster found in the data dir (${total} nodes, all ${SLOTS} slots assigned): skipping creation.`);
    return;
  }
  if (fresh.some(Boolean) && states.some((s) => s.known > 1)) {
    const newcomers = nodes.filter((_, i) => fresh[i]).map((x) => x.port);
    const members = nodes.filter((_, i) => states[i].known > 1).map((x) => x.port);
    throw new StartError(
      `the data dir holds a cluster that does not match these ports: ${newcomers.join(', ')} ${newcomers.length > 1 ? 'are' : 'is'} new, ` +
        `${members.join(', ')} already ${members.length > 1 ? 'belong' : 'belongs'} to a cluster. Start with the same ports/--primaries/--replicas as before, ` +
        `or remove the data dir to create a new cluster.`,
    );
  }
  const ranges = slotRanges(n);
  if (fresh.every(Boolean)) {
    info(
      `Creating the cluster: ${n} primaries, slots ${ranges.map(([a, b], i) => `${a}-${b} -> ${primaries[i].port}`).join(', ')}` +
        (replicas.length ? `; replicas ${replicas.map((r, j) => `${r.port} -> ${primaries[j % n].port}`).join(', ')}` : ''),
    );
  } else {
    info('Completing a cluster whose creation was interrupted (nodes.conf present, cluster not formed).');
  }
  for (let i = 0; i < n; i++) {
    if (!fresh[i]) continue;
    await call(primaries[i].port, ['CLUSTER', 'ADDSLOTSRANGE', String(ranges[i][0]), String(ranges[i][1])]);
  }
  if (total === 1) return;
  const firstId = await myId(nodes[0].port);
  for (let i = 1; i < total; i++) {
    const known = String(await call(nodes[i].port, ['CLUSTER', 'NODES']));
    if (known.includes(firstId)) continue;
    await call(nodes[i].port, ['CLUSTER', 'MEET', HOST, String(nodes[0].port)]);
  }
  if (replicas.length === 0) return;
  const primaryIds = await Promise.all(primaries.map((p) => myId(p.port)));
  for (const r of await unattached()) {
    const j = replicas.indexOf(r);
    const target = primaryIds[j % n];
    // The replica learns of its primary through the replicated configuration: retry while it does not yet.
    for (;;) {
      try {
        await call(r.port, ['CLUSTER', 'REPLICATE', target]);
        break;
      } catch (e) {
        if (!/Unknown node/i.test(String(e && e.message)) || Date.now() > deadline) {
          throw new StartError(`CLUSTER REPLICATE ${target} (${HOST}:${primaries[j % n].port}) on ${HOST}:${r.port} failed: ${e && e.message}`);
        }
        await sleep(100);
      }
    }
  }
}

/**
 * Poll every node's CLUSTER INFO and INFO replication until all say cluster_state:ok with all slots assigned
 * and every node in the cluster, there are as many replicas as asked for, and each replica's link to its
 * primary is up (master_link_status:up).
 */
async function waitClusterOk(nodes, opts, started, isStopping) {
  const timeoutMs = opts.timeoutMs;
  const deadline = started + timeoutMs;
  const wantReplicas = opts.primaries * opts.replicas;
  const tty = process.stdout.isTTY;
  const clients = new Map();
  let lastLine = '';
  let lastPrinted = 0;
  const describe = (port, s) =>
    s
      ? `${port} ${s.state ?? '?'} ${s.assigned}/${SLOTS} slots ${s.known} nodes${s.role === 'slave' ? ` replica link ${s.link ?? '?'}` : ''}`
      : `${port} (no reply)`;
  try {
    for (;;) {
      if (isStopping()) throw new StartError('stopped while waiting for the cluster');
      const states = await Promise.all(
        nodes.map(async (n) => {
          try {
            let c = clients.get(n.port);
            if (!c || c.closedError) {
              c = await RespClient.connect(n.port, HOST, { timeoutMs: 2000 });
              clients.set(n.port, c);
            }
            const [ci, ri] = await Promise.all([c.command(['CLUSTER', 'INFO']), c.command(['INFO', 'replication'])]);
            const raw = parseInfo(ci);
            const repl = parseInfo(ri);
            return {
              state: raw.cluster_state,
              assigned: Number(raw.cluster_slots_assigned),
              known: Number(raw.cluster_known_nodes),
              role: repl.role,
              link: repl.master_link_status,
            };
          } catch {
            return null;
          }
        }),
      );
      const ok =
        states.every((s) => s && s.state === 'ok' && s.assigned === SLOTS && s.known >= nodes.length && (s.role !== 'slave' || s.link === 'up')) &&
        states.filter((s) => s.role === 'slave').length === wantReplicas;
      const elapsed = ((Date.now() - started) / 1000).toFixed(1);
      const what = wantReplicas ? 'cluster_state:ok and replica links up' : 'cluster_state:ok';
      const line = `waiting for ${what} (${elapsed} s): ${nodes.map((n, i) => describe(n.port, states[i])).join(' | ')}`;
      if (ok) {
        if (tty && lastLine) process.stdout.write('\r\x1b[K');
        info(`Cluster state ok on all ${nodes.length} nodes${wantReplicas ? `, ${wantReplicas} replica links up,` : ''} after ${elapsed} s.`);
        return;
      }
      if (Date.now() > deadline) {
        if (tty && lastLine) process.stdout.write('\n');
        throw new StartError(
          `the cluster did not reach cluster_state:ok with all ${SLOTS} slots assigned${wantReplicas ? ` and ${wantReplicas} replicas with master_link_status:up` : ''} within ${timeoutMs / 1000} s.\n` +
            `Last state: ${nodes.map((n, i) => describe(n.port, states[i])).join(' | ')}\n` +
            `Node logs: ${nodes.map((n) => n.logPath).join(', ')}\n` +
            'If the data dir comes from a run with other ports or another number of primaries/replicas, remove it and start again.',
        );
      }
      const summary = line.replace(/\([\d.]+ s\)/, '');
      if (tty) {
        process.stdout.write(`\r\x1b[K${line.slice(0, (process.stdout.columns || 120) - 1)}`);
        lastLine = line;
      } else if (summary !== lastLine || Date.now() - lastPrinted > 5000) {
        info(line);
        lastLine = summary;
        lastPrinted = Date.now();
      }
      await sleep(200);
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/**
 * The actual roles, from the first node's CLUSTER NODES (after a failover in an earlier run they may differ
 * from the start order): [{ port, slots, replicas: [port] }] for the primaries with slots, in port order.
 */
async function topology(nodes) {
  const entries = parseClusterNodes(await call(nodes[0].port, ['CLUSTER', 'NODES']));
  return entries
    .filter((e) => e.flags.includes('master') && e.slots.length)
    .sort((a, b) => a.port - b.port)
    .map((p) => ({
      port: p.port,
      slots: p.slots.filter((s) => !s.startsWith('[')).join(','),
      replicas: entries.filter((e) => e.master === p.id).map((e) => e.port).sort((a, b) => a - b),
    }));
}

function printReady(opts, nodes, topo, gateway) {
  const first = nodes[0].port;
  const shards = topo || [];
  const primaryCount = shards.length || opts.primaries;
  const replicaCount = shards.reduce((a, s) => a + s.replicas.length, 0);
  const lines = shards
    .map((s) => `  primary ${HOST}:${s.port} slots ${s.slots}${s.replicas.length ? `  replicas ${s.replicas.map((p) => `${HOST}:${p}`).join(' ')}` : ''}`)
    .join('\n');
  info(`
Cluster ready: ${primaryCount} primaries, ${replicaCount} replicas (${opts.replicas} per primary) (${opts.server})
${lines}
Data dir: ${opts.dataDir} (node logs: <data dir>/<port>/node.log)

Connect:
  redis-cli -c -p ${first}

  // ioredis
  const { Cluster } = require('ioredis');
  const cluster = new Cluster([{ host: '${HOST}', port: ${first} }]);

  // node-redis
  const { createCluster } = require('redis');
  const cluster = await createCluster({ rootNodes: [{ url: 'redis://${HOST}:${first}' }] }).connect();

${gatewayText(opts, gateway)}
Ctrl-C stops the cluster${gateway ? ' and the gateway' : ''}.`);
}

function gatewayText(opts, gateway) {
  if (!gateway) return '';
  const url = `http://${HOST}:${gateway.port}`;
  return `
Gateway: ${url}   (live cluster page: ${url}/?_token=${gateway.tokens.token})
  token (read-write): ${gateway.tokens.token}
  admin token:        ${gateway.tokens.adminToken}   (tokens kept in ${gateway.tokens.file})
  curl -H "Authorization: Bearer ${gateway.tokens.token}" ${url}/set/hello/world
  // @upstash/redis
  const redis = new Redis({ url: '${url}', token: '${gateway.tokens.token}' });
  // WebSocket: ws://${HOST}:${gateway.port}/ws?_token=${gateway.tokens.token}   (JSON frames: ["GET","hello"])
  // Prometheus metrics: ${url}/metrics   health: ${url}/healthz  ${url}/readyz
`;
}

/**
 * Start the cluster described by opts. Returns at once a handle: `ready` resolves with true once every node
 * reports cluster_state:ok (false if start-up failed or was stopped); `done` resolves with the exit status
 * this script should use, after a stop or an unexpected node exit; `stop(reason, code)` stops every node.
 */
function startCluster(opts) {
  const nodes = opts.ports.map((p, i) => new Node(opts, p, i));
  let gateway = null;
  let stopping = false;
  for (const n of nodes) n.quiet = () => stopping;
  let stopPromise = null;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));

  const stop = (reason, code) => {
    if (stopPromise) return stopPromise;
    stopping = true;
    stopPromise = (async () => {
      if (reason) info(reason);
      if (gateway && gateway.alive) {
        gateway.proc.kill('SIGTERM');
        await Promise.race([gateway.exited, sleep(STOP_GRACE_MS)]);
        if (gateway.alive) gateway.proc.kill('SIGKILL');
      }
      const running = nodes.filter((n) => n.alive);
      for (const n of running) n.proc.kill('SIGTERM');
      await Promise.race([Promise.all(running.map((n) => n.exited)), sleep(STOP_GRACE_MS)]);
      const killed = nodes.filter((n) => n.alive);
      for (const n of killed) {
        process.stderr.write(`node ${HOST}:${n.port} (pid ${n.proc.pid}) did not stop within ${STOP_GRACE_MS / 1000} s: killing it\n`);
        n.proc.kill('SIGKILL');
      }
      await Promise.all(killed.map((n) => n.exited));
      const unclean = running.filter((n) => !killed.includes(n) && n.exit && n.exit.code !== 0 && n.exit.signal !== 'SIGTERM');
      for (const n of unclean) process.stderr.write(`node ${HOST}:${n.port} stopped with ${n.describeExit()}\n`);
      const status = code !== 0 || killed.length || unclean.length ? Math.max(code, 1) : 0;
      if (nodes.some((n) => n.proc)) {
        info(status === 0 ? `All ${nodes.length} nodes stopped.` : `All nodes stopped; exiting with status ${status}.`);
      }
      resolveDone(status);
      return status;
    })();
    return stopPromise;
  };

  const onExit = (n) => {
    if (stopping) return;
    process.stderr.write(
      `\n${n === gateway ? 'the gateway' : 'node'} ${HOST}:${n.port}${n.proc && n.proc.pid ? ` (pid ${n.proc.pid})` : ''} exited unexpectedly: ${n.describeExit()}. ` +
        `Last lines of ${n.logPath}:\n${n.tail()}\n`,
    );
    void stop('Stopping the other nodes.', 1);
  };

  let readyTopology = null;
  const ready = (async () => {
    try {
      fs.mkdirSync(opts.dataDir, { recursive: true });
      if (opts.gatewayPort && !(await portFree(opts.gatewayPort))) {
        throw new StartError(`the gateway port ${opts.gatewayPort} is already in use. Choose another with --gateway-port (0: no gateway).`);
      }
      for (const n of nodes) {
        for (const p of [n.port, n.port + 10000]) {
          if (!(await portFree(p))) {
            throw new StartError(
              `port ${p} (${p === n.port ? 'client' : 'cluster bus'} port of node ${n.port}) is already in use` +
                ' (is a cluster from an earlier `npm start` still running?). Choose other ports with --base-port.',
            );
          }
        }
      }
      if (stopping) return false;
      const hadConfig = nodes.filter((n) => fs.existsSync(path.join(n.dir, 'nodes.conf')));
      info(`Data dir: ${opts.dataDir}${hadConfig.length ? ` (nodes.conf present for ${hadConfig.map((n) => n.port).join(', ')})` : ' (fresh)'}`);
      for (const n of nodes) {
        n.spawn(onExit);
        info(`started ${opts.server} ${HOST}:${n.port} pid ${n.proc.pid}, log ${n.logPath}`);
      }
      await Promise.all(nodes.map((n) => n.waitPort(15_000)));
      if (stopping) return false;
      const started = Date.now();
      await formCluster(nodes, opts, started + opts.timeoutMs);
      await waitClusterOk(nodes, opts, started, () => stopping);
      if (stopping) return false;
      readyTopology = await topology(nodes);
      if (opts.gatewayPort && !stopping) {
        gateway = new GatewayProc(opts, nodes.map((n) => n.port), gatewayTokens(opts));
        gateway.spawn(onExit);
        info(`started the gateway ${HOST}:${opts.gatewayPort} pid ${gateway.proc.pid}, log ${gateway.logPath}`);
        await gateway.waitReady(30_000);
      }
      return !stopping;
    } catch (e) {
      if (!stopping) {
        process.stderr.write(`\nerror: ${e instanceof StartError ? e.message : e && e.stack ? e.stack : e}\n`);
        void stop(nodes.some((n) => n.alive) ? 'Stopping the nodes.' : '', 1);
      }
      return false;
    }
  })();

  return { nodes, stop, done, ready, isStopping: () => stopping, topology: () => readyTopology, gateway: () => gateway };
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
    if (opts.server === 'cluster-node') checkBuild();
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  }
  const handle = startCluster(opts);
  let signals = 0;
  const onSignal = (sig) => {
    if (++signals > 1) {
      for (const n of handle.nodes) if (n.alive) n.proc.kill('SIGKILL');
      return;
    }
    void handle.stop(`\nReceived ${sig}: stopping ${handle.nodes.filter((n) => n.alive).length} nodes (again to force)...`, 0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => onSignal(sig));
  // Last resort if this script dies on an exception: the nodes are in their own process groups.
  process.on('exit', () => {
    for (const n of handle.nodes) if (n.alive) n.proc.kill('SIGKILL');
    const g = handle.gateway();
    if (g && g.alive) g.proc.kill('SIGKILL');
  });
  if (await handle.ready) printReady(opts, handle.nodes, handle.topology(), handle.gateway());
  process.exit(await handle.done);
}

module.exports = { startCluster, parseOptions, slotRanges };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`error: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
