/**
 * Configuration directives, parsed like redis-server: an optional redis.conf-style file, then
 * `--name value ...` overrides. Each directive is declared once here with its type and default;
 * CONFIG GET/SET read the same table. Unknown directives fail at start naming the directive.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { splitArgs } from '../../../common/src/resp/request-parser';

export type ConfigValue = string | number | boolean;

interface Directive {
  name: string;
  kind: 'int' | 'memory' | 'bool' | 'string' | 'enum' | 'special';
  default: ConfigValue;
  /** CONFIG SET allowed at runtime. */
  mutable: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
  aliases?: string[];
  /** Multi-argument directives (save, client-output-buffer-limit) keep their raw text. */
  multi?: boolean;
}

const MB = 1024 * 1024;

const D: Directive[] = [
  { name: 'port', kind: 'int', default: 6379, mutable: false, min: 0, max: 65535 },
  { name: 'bind', kind: 'string', default: '127.0.0.1 -::1', mutable: false, multi: true },
  { name: 'dir', kind: 'string', default: '.', mutable: true },
  { name: 'requirepass', kind: 'string', default: '', mutable: true },
  { name: 'masterauth', kind: 'string', default: '', mutable: true },
  { name: 'masteruser', kind: 'string', default: '', mutable: true },
  { name: 'maxmemory', kind: 'memory', default: 0, mutable: true, min: 0 },
  {
    name: 'maxmemory-policy',
    kind: 'enum',
    default: 'noeviction',
    mutable: true,
    values: ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'],
  },
  { name: 'maxmemory-samples', kind: 'int', default: 5, mutable: true, min: 1, max: 64 },
  { name: 'maxmemory-eviction-tenacity', kind: 'int', default: 10, mutable: true, min: 0, max: 100 },
  { name: 'lfu-log-factor', kind: 'int', default: 10, mutable: true, min: 0 },
  { name: 'lfu-decay-time', kind: 'int', default: 1, mutable: true, min: 0 },
  { name: 'databases', kind: 'int', default: 16, mutable: false, min: 1, max: 1_000_000 },
  { name: 'proto-max-bulk-len', kind: 'memory', default: 512 * MB, mutable: true, min: 1024 * 1024 },
  { name: 'client-query-buffer-limit', kind: 'memory', default: 1024 * MB, mutable: true, min: 1024 * 1024 },
  { name: 'maxclients', kind: 'int', default: 10000, mutable: true, min: 1 },
  { name: 'timeout', kind: 'int', default: 0, mutable: true, min: 0 },
  { name: 'tcp-keepalive', kind: 'int', default: 300, mutable: true, min: 0 },
  { name: 'tcp-backlog', kind: 'int', default: 511, mutable: false, min: 0 },
  { name: 'protected-mode', kind: 'bool', default: true, mutable: true },
  { name: 'notify-keyspace-events', kind: 'string', default: '', mutable: true },
  { name: 'slowlog-log-slower-than', kind: 'int', default: 10000, mutable: true, min: -1 },
  { name: 'slowlog-max-len', kind: 'int', default: 128, mutable: true, min: 0 },
  { name: 'latency-monitor-threshold', kind: 'int', default: 0, mutable: true, min: 0 },
  { name: 'latency-tracking', kind: 'bool', default: true, mutable: true },
  { name: 'hz', kind: 'int', default: 10, mutable: true, min: 1, max: 500 },
  { name: 'dynamic-hz', kind: 'bool', default: true, mutable: true },
  { name: 'loglevel', kind: 'enum', default: 'notice', mutable: true, values: ['debug', 'verbose', 'notice', 'warning', 'nothing'] },
  { name: 'logfile', kind: 'string', default: '', mutable: false },
  { name: 'daemonize', kind: 'enum', default: 'no', mutable: false, values: ['no'] },
  { name: 'pidfile', kind: 'string', default: '', mutable: false },
  { name: 'save', kind: 'string', default: '3600 1 300 100 60 10000', mutable: true, multi: true },
  { name: 'appendonly', kind: 'bool', default: false, mutable: true },
  { name: 'appendfsync', kind: 'enum', default: 'everysec', mutable: true, values: ['always', 'everysec', 'no'] },
  { name: 'appendfilename', kind: 'string', default: 'appendonly.aof', mutable: false },
  { name: 'appenddirname', kind: 'string', default: 'appendonlydir', mutable: false },
  { name: 'dbfilename', kind: 'string', default: 'dump.rdb', mutable: true },
  { name: 'client-output-buffer-limit', kind: 'string', default: 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60', mutable: true, multi: true },
  { name: 'list-max-listpack-size', kind: 'int', default: -2, mutable: true, aliases: ['list-max-ziplist-size'] },
  { name: 'hash-max-listpack-entries', kind: 'int', default: 128, mutable: true, aliases: ['hash-max-ziplist-entries'] },
  { name: 'hash-max-listpack-value', kind: 'int', default: 64, mutable: true, aliases: ['hash-max-ziplist-value'] },
  { name: 'set-max-intset-entries', kind: 'int', default: 512, mutable: true },
  { name: 'set-max-listpack-entries', kind: 'int', default: 128, mutable: true },
  { name: 'zset-max-listpack-entries', kind: 'int', default: 128, mutable: true, aliases: ['zset-max-ziplist-entries'] },
  { name: 'zset-max-listpack-value', kind: 'int', default: 64, mutable: true, aliases: ['zset-max-ziplist-value'] },
  { name: 'lazyfree-lazy-user-flush', kind: 'bool', default: false, mutable: true },
  { name: 'lua-time-limit', kind: 'int', default: 5000, mutable: true, aliases: ['busy-reply-threshold'] },
  { name: 'replica-read-only', kind: 'bool', default: true, mutable: true, aliases: ['slave-read-only'] },
  { name: 'replica-serve-stale-data', kind: 'bool', default: true, mutable: true, aliases: ['slave-serve-stale-data'] },
  { name: 'repl-backlog-size', kind: 'memory', default: 1 * MB, mutable: true, min: 16 * 1024 },
  { name: 'repl-timeout', kind: 'int', default: 60, mutable: true, min: 1 },
  { name: 'replicaof', kind: 'string', default: '', mutable: false, multi: true, aliases: ['slaveof'] },
  { name: 'replica-priority', kind: 'int', default: 100, mutable: true, min: 0, aliases: ['slave-priority'] },
  { name: 'replica-announced', kind: 'bool', default: true, mutable: true },
  { name: 'replica-announce-ip', kind: 'string', default: '', mutable: true, aliases: ['slave-announce-ip'] },
  { name: 'replica-announce-port', kind: 'int', default: 0, mutable: true, min: 0, max: 65535, aliases: ['slave-announce-port'] },
  { name: 'repl-ping-replica-period', kind: 'int', default: 10, mutable: true, min: 1, aliases: ['repl-ping-slave-period'] },
  { name: 'min-replicas-to-write', kind: 'int', default: 0, mutable: true, min: 0, aliases: ['min-slaves-to-write'] },
  { name: 'min-replicas-max-lag', kind: 'int', default: 10, mutable: true, min: 0, aliases: ['min-slaves-max-lag'] },
  { name: 'min-replicas-ack', kind: 'int', default: 0, mutable: true, min: 0 },
  { name: 'cluster-enabled', kind: 'bool', default: false, mutable: false },
  { name: 'cluster-config-file', kind: 'string', default: 'nodes.conf', mutable: false },
  { name: 'cluster-node-timeout', kind: 'int', default: 1000, mutable: true, min: 100 },
  { name: 'cluster-port', kind: 'int', default: 0, mutable: false, min: 0, max: 65535 },
  { name: 'cluster-announce-ip', kind: 'string', default: '', mutable: true },
  { name: 'cluster-announce-port', kind: 'int', default: 0, mutable: true, min: 0, max: 65535 },
  { name: 'cluster-announce-bus-port', kind: 'int', default: 0, mutable: true, min: 0, max: 65535 },
  { name: 'cluster-announce-hostname', kind: 'string', default: '', mutable: true },
  { name: 'cluster-require-full-coverage', kind: 'bool', default: true, mutable: true },
  { name: 'cluster-allow-reads-when-down', kind: 'bool', default: false, mutable: true },
  { name: 'cluster-allow-pubsubshard-when-down', kind: 'bool', default: true, mutable: true },
  { name: 'cluster-databases', kind: 'int', default: 16, mutable: false, min: 1, max: 1_000_000 },
  { name: 'cluster-replica-no-failover', kind: 'bool', default: false, mutable: true, aliases: ['cluster-slave-no-failover'] },
  { name: 'cluster-preferred-endpoint-type', kind: 'enum', default: 'ip', mutable: true, values: ['ip', 'hostname', 'unknown-endpoint'] },
  { name: 'enable-debug-command', kind: 'enum', default: 'local', mutable: false, values: ['yes', 'no', 'local'] },
  { name: 'io-threads', kind: 'int', default: 1, mutable: false, min: 1 },
  { name: 'always-show-logo', kind: 'bool', default: false, mutable: false },
  { name: 'supervised', kind: 'enum', default: 'no', mutable: false, values: ['no', 'auto', 'systemd', 'upstart'] },
];

const BY_NAME = new Map<string, Directive>();
for (const d of D) {
  BY_NAME.set(d.name, d);
  for (const a of d.aliases ?? []) BY_NAME.set(a, d);
}

export class ConfigError extends Error {}

/** Parse "100mb", "1gb", "512k" like Redis's memtoull. */
export function parseMemory(s: string): number | null {
  const m = /^(-?\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mul: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1000 * 1000, mb: 1024 * 1024, g: 1000 ** 3, gb: 1024 ** 3 };
  return n * mul[unit];
}

export class Config {
  private values = new Map<string, ConfigValue>();
  /** Absolute path of the config file the server was started with (CONFIG REWRITE, INFO config_file). */
  file: string | null = null;
  /** Called after a runtime change, with the canonical name. */
  onChange: ((name: string) => void) | null = null;

  constructor() {
    for (const d of D) this.values.set(d.name, d.default);
  }

  /** Build from redis-server style argv: [configFile] [--name value...]. */
  static fromArgs(argv: string[]): Config {
    const c = new Config();
    let i = 0;
    if (argv.length > 0 && !argv[0].startsWith('--')) {
      c.loadFile(argv[0]);
      c.file = resolvePath(argv[0]);
      i = 1;
    }
    while (i < argv.length) {
      const a = argv[i];
      if (!a.startsWith('--')) throw new ConfigError(`Bad directive or wrong number of arguments: '${a}' (options must look like --name value)`);
      const name = a.slice(2);
      const vals: string[] = [];
      i++;
      while (i < argv.length && !argv[i].startsWith('--')) vals.push(argv[i++]);
      c.apply(name, vals, 'argument');
    }
    return c;
  }

  loadFile(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`Fatal error, can't open config file '${path}': ${(e as Error).message}`);
    }
    text.split(/\r?\n/).forEach((line, n) => {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) return;
      const args = splitArgs(t);
      if (!args || args.length === 0) throw new ConfigError(`Bad directive or wrong number of arguments at line ${n + 1} of ${path}: '${t}'`);
      if (args[0].toLowerCase() === 'include') {
        this.loadFile(args[1]);
        return;
      }
      this.apply(args[0], args.slice(1), `line ${n + 1} of ${path}`);
    });
  }

  /** Apply a directive at start-up (file or argument). */
  apply(rawName: string, vals: string[], where: string): void {
    const name = rawName.toLowerCase();
    const d = BY_NAME.get(name);
    if (!d) throw new ConfigError(`Bad directive or wrong number of arguments: unknown directive '${rawName}' (${where})`);
    if (!d.multi && vals.length !== 1) throw new ConfigError(`Bad directive or wrong number of arguments: '${rawName}' takes one value (${where})`);
    const err = this.setValue(d, vals.join(' '));
    if (err) throw new ConfigError(`Invalid value for '${rawName}' (${where}): ${err}`);
  }

  private setValue(d: Directive, raw: string): string | null {
    let v: ConfigValue;
    switch (d.kind) {
      case 'int': {
        if (!/^-?\d+$/.test(raw)) return `argument couldn't be parsed into an integer`;
        v = Number(raw);
        break;
      }
      case 'memory': {
        const n = parseMemory(raw);
        if (n === null) return `argument must be a memory value`;
        v = n;
        break;
      }
      case 'bool': {
        const l = raw.toLowerCase();
        if (l !== 'yes' && l !== 'no') return `argument must be 'yes' or 'no'`;
        v = l === 'yes';
        break;
      }
      case 'enum': {
        const l = raw.toLowerCase();
        if (!d.values!.includes(l)) return `argument(s) must be one of the following: ${d.values!.join(', ')}`;
        v = l;
        break;
      }
      default:
        v = raw;
    }
    if (typeof v === 'number') {
      if (d.min !== undefined && v < d.min) return `argument must be between ${d.min} and ${d.max ?? 'LLONG_MAX'} inclusive`;
      if (d.max !== undefined && v > d.max) return `argument must be between ${d.min ?? 0} and ${d.max} inclusive`;
    }
    if (d.name === 'notify-keyspace-events' && !/^[KEg$lshzxetmdnA]*$/.test(String(v))) return 'Invalid event class character. Use \'Ag$lshzxeKEtmdn\'.';
    this.values.set(d.name, v);
    return null;
  }

  get(name: string): ConfigValue {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`unknown config ${name}`);
    return v;
  }

  int(name: string): number {
    return this.get(name) as number;
  }

  bool(name: string): boolean {
    return this.get(name) as boolean;
  }

  str(name: string): string {
    return String(this.get(name));
  }

  /** CONFIG GET: [name, value] pairs for directives matching a glob. */
  matching(pattern: (name: string) => boolean): [string, string][] {
    const out: [string, string][] = [];
    for (const d of D) {
      const names = [d.name, ...(d.aliases ?? [])];
      for (const n of names) if (pattern(n)) out.push([n, this.format(d)]);
    }
    return out;
  }

  private format(d: Directive): string {
    const v = this.values.get(d.name)!;
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    return String(v);
  }

  /** CONFIG SET one directive at runtime; returns an error string or null. */
  setRuntime(rawName: string, value: string): string | null {
    const d = BY_NAME.get(rawName.toLowerCase());
    if (!d) return `ERR Unknown option or number of arguments for CONFIG SET - '${rawName}'`;
    if (!d.mutable) return `ERR CONFIG SET failed (possibly related to argument '${rawName}') - can't set immutable config`;
    const old = this.values.get(d.name)!;
    const err = this.setValue(d, value);
    if (err) return `ERR CONFIG SET failed (possibly related to argument '${rawName}') - ${err}`;
    if (old !== this.values.get(d.name)) this.onChange?.(d.name);
    return null;
  }

  /** What CONFIG SET / CONFIG REWRITE need to know about a directive (aliases resolved), or undefined. */
  directiveInfo(name: string): { name: string; kind: Directive['kind']; mutable: boolean; multi: boolean } | undefined {
    const d = BY_NAME.get(name.toLowerCase());
    return d && { name: d.name, kind: d.kind, mutable: d.mutable, multi: d.multi === true };
  }

  /** Canonical name of a directive (aliases resolved), or undefined. */
  canonical(name: string): string | undefined {
    return BY_NAME.get(name.toLowerCase())?.name;
  }
}
