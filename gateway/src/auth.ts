/**
 * Tokens and what each may do. A token has a role — read-write, read-only (only commands the command
 * table marks as reads), admin (also destructive fan-outs and admin commands) — and optional limits:
 * key patterns, channel patterns, dbs, a rate limit (token bucket per gateway process) and replica reads.
 *
 * Token file (JSON): {"tokens": [{"token": "...", "name": "web", "role": "read-only",
 *   "keys": ["user:*"], "channels": ["chat:*"], "dbs": [0, 1], "rateLimit": {"perSecond": 100, "burst": 200},
 *   "replicaReads": false}]}
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { globMatch } from '../../common/src/glob';
import { commandKeys, hasFlag, type CommandSpec } from '../../common/src/commands/table';
import { Errors } from './errors';

export type Role = 'read-write' | 'read-only' | 'admin';

export interface TokenConfig {
  token: string;
  name?: string;
  role: Role;
  keys?: string[];
  channels?: string[];
  dbs?: number[];
  /** scope "cluster" (default): one bucket in the cluster for every gateway process; "process": per process. */
  rateLimit?: { perSecond: number; burst?: number; scope?: 'cluster' | 'process' };
  replicaReads?: boolean;
}

export interface Principal {
  name: string;
  role: Role;
  keys: string[] | null;
  channels: string[] | null;
  dbs: number[] | null;
  replicaReads: boolean;
  bucket: { perSecond: number; burst: number; tokens: number; at: number; scope: 'cluster' | 'process' } | null;
}

const ROLES: Role[] = ['read-write', 'read-only', 'admin'];

const BEARER = /^Bearer\s+(.+)$/i;

/**
 * The token a request presents, for every front end (REST, SSE, /cluster, WebSocket upgrades):
 * `Authorization: Bearer <token>` (a header of another scheme presents none), else a `?_token=` given
 * once in the request target (browsers cannot set headers on EventSource or WebSocket).
 */
export function presentedToken(authorization: string | string[] | undefined, url: string): string | undefined {
  if (authorization) {
    const m = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    return m ? m[1]!.trim() : undefined;
  }
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const all = new URLSearchParams(url.slice(q + 1)).getAll('_token');
  return all.length === 1 ? all[0] : undefined;
}

/** Scripting commands a read-only token may run (EVAL_RO/EVALSHA_RO are flagged readonly). */
const SCRIPTING_READS = new Set(['script|exists', 'script|help']);
/** Commands that run a script: the keys a script touches need not be the ones it declares. */
const SCRIPT_RUNS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** Commands that publish (not flagged write, but not reads either). */
const PUBLISHES = new Set(['publish', 'spublish']);
/** Channel-argument commands: channels start at argv[1]. */
const CHANNEL_CMDS = new Set(['subscribe', 'ssubscribe', 'psubscribe', 'unsubscribe', 'sunsubscribe', 'punsubscribe']);

export function parseTokenFile(text: string): TokenConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`token file is not valid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { tokens?: unknown })?.tokens;
  if (!Array.isArray(list)) throw new Error('token file: expected {"tokens": [...]}');
  return list.map((t, i) => {
    const o = t as Partial<TokenConfig>;
    if (typeof o.token !== 'string' || o.token.length < 8) throw new Error(`token file: tokens[${i}].token must be a string of at least 8 characters`);
    const role = (o.role ?? 'read-write') as Role;
    if (!ROLES.includes(role)) throw new Error(`token file: tokens[${i}].role must be one of ${ROLES.join(', ')}`);
    for (const f of ['keys', 'channels'] as const) {
      if (o[f] !== undefined && (!Array.isArray(o[f]) || !o[f]!.every((p) => typeof p === 'string'))) throw new Error(`token file: tokens[${i}].${f} must be an array of glob patterns`);
    }
    if (o.dbs !== undefined && (!Array.isArray(o.dbs) || !o.dbs.every((d) => Number.isInteger(d) && d >= 0))) throw new Error(`token file: tokens[${i}].dbs must be an array of db numbers`);
    if (o.rateLimit !== undefined && !(typeof o.rateLimit.perSecond === 'number' && o.rateLimit.perSecond > 0)) throw new Error(`token file: tokens[${i}].rateLimit.perSecond must be > 0`);
    if (o.rateLimit?.burst !== undefined && !(typeof o.rateLimit.burst === 'number' && o.rateLimit.burst >= 1)) throw new Error(`token file: tokens[${i}].rateLimit.burst must be >= 1`);
    if (o.rateLimit?.scope !== undefined && o.rateLimit.scope !== 'cluster' && o.rateLimit.scope !== 'process') throw new Error(`token file: tokens[${i}].rateLimit.scope must be "cluster" or "process"`);
    return { ...o, role } as TokenConfig;
  });
}

export function loadTokenFile(path: string): TokenConfig[] {
  return parseTokenFile(readFileSync(path, 'utf8'));
}

export class Auth {
  private readonly byToken = new Map<string, Principal>();

  constructor(tokens: TokenConfig[]) {
    for (const t of tokens) {
      this.byToken.set(t.token, {
        name: t.name ?? `${t.role}-${this.byToken.size}`,
        role: t.role,
        keys: t.keys ?? null,
        channels: t.channels ?? null,
        dbs: t.dbs ?? null,
        replicaReads: t.replicaReads ?? false,
        bucket: t.rateLimit
          ? { perSecond: t.rateLimit.perSecond, burst: t.rateLimit.burst ?? t.rateLimit.perSecond, tokens: t.rateLimit.burst ?? t.rateLimit.perSecond, at: Date.now(), scope: t.rateLimit.scope ?? 'cluster' }
          : null,
      });
    }
  }

  get size(): number {
    return this.byToken.size;
  }

  /** The principal for a presented token; 401 when missing or unknown. */
  authenticate(token: string | undefined | null): Principal {
    if (!token) throw Errors.unauthorized('Unauthorized: missing token (send "Authorization: Bearer <token>" or ?_token=)');
    const p = this.byToken.get(token) ?? this.slowFind(token);
    if (!p) throw Errors.unauthorized('Unauthorized: invalid token');
    return p;
  }

  /** Constant-time comparison fallback is not needed for a Map hit; this only keeps misses uniform. */
  private slowFind(token: string): Principal | undefined {
    const b = Buffer.from(token);
    for (const [t, p] of this.byToken) {
      const a = Buffer.from(t);
      if (a.length === b.length && timingSafeEqual(a, b)) return p;
    }
    return undefined;
  }

  /** Spend one request from the token's in-process bucket (scope "process"); 429 when empty. */
  static rateLimit(p: Principal): void {
    const b = p.bucket;
    if (!b) return;
    const now = Date.now();
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) / 1000) * b.perSecond);
    b.at = now;
    if (b.tokens < 1) throw Errors.rateLimited(`rate limit exceeded for token ${p.name}: ${b.perSecond} requests/s`);
    b.tokens -= 1;
  }

  static checkDb(p: Principal, db: number, spec?: CommandSpec): void {
    if (p.dbs && !p.dbs.includes(db)) throw Errors.forbidden(`token ${p.name} may not use db ${db}${spec ? ` (command ${commandName(spec).toUpperCase()})` : ''}`);
  }

  /** True when the command only reads (a read-only token may run it). */
  static isRead(spec: CommandSpec): boolean {
    if (PUBLISHES.has(spec.name)) return false;
    if (hasFlag(spec, 'readonly')) return true;
    // EVAL, EVALSHA and SCRIPT LOAD/FLUSH/KILL carry no write flag but a script may write.
    if (spec.group === 'scripting' && !SCRIPTING_READS.has(spec.name)) return false;
    return !hasFlag(spec, 'write') && !hasFlag(spec, 'admin') && !hasFlag(spec, 'may_replicate');
  }

  /**
   * 403 unless `p` may run `argv` (already looked up as `spec`): role, key patterns, channel patterns.
   * `destructive` marks fan-outs that need an admin token (FLUSHALL, FLUSHDB, SCRIPT FLUSH, ...).
   */
  static authorize(p: Principal, spec: CommandSpec, argv: readonly string[], destructive: boolean): void {
    const name = commandName(spec);
    if (p.role !== 'admin') {
      if (destructive || hasFlag(spec, 'admin')) throw Errors.forbidden(`command ${name.toUpperCase()} needs an admin token`);
      if (p.role === 'read-only' && !Auth.isRead(spec)) throw Errors.forbidden(`command ${name.toUpperCase()} is not allowed for a read-only token`);
    }
    if (p.keys) {
      if (SCRIPT_RUNS.has(spec.name)) {
        throw Errors.forbidden(`token ${p.name} is limited to key patterns ${p.keys.join(', ')}: ${name.toUpperCase()} is refused because a script can access keys it does not declare`);
      }
      for (const k of commandKeys(spec, argv)) {
        if (!p.keys.some((pat) => globMatch(pat, k))) throw Errors.forbidden(`token ${p.name} may not access key '${k}' (command ${name.toUpperCase()})`);
      }
      // Keyless commands that reach every key: refused for key-restricted tokens.
      if (['keys', 'scan', 'randomkey', 'flushdb', 'flushall', 'dbsize'].includes(spec.name)) {
        // SCAN/KEYS with a MATCH pattern inside the allowed patterns are fine.
        const pattern = spec.name === 'keys' ? argv[1] : spec.name === 'scan' ? matchArg(argv) : undefined;
        if (pattern === undefined || !p.keys.some((pat) => patternWithin(pat, pattern))) {
          throw Errors.forbidden(`token ${p.name} is limited to key patterns ${p.keys.join(', ')}: ${name.toUpperCase()} needs a MATCH pattern inside them`);
        }
      }
    }
    if (p.channels && (CHANNEL_CMDS.has(spec.name) || PUBLISHES.has(spec.name))) {
      const chans = PUBLISHES.has(spec.name) ? [argv[1] ?? ''] : argv.slice(1);
      for (const c of chans) {
        const ok = spec.name === 'psubscribe' || spec.name === 'punsubscribe' ? (pat: string) => patternWithin(pat, c) : (pat: string) => pat === c || globMatch(pat, c);
        if (!p.channels.some(ok)) throw Errors.forbidden(`token ${p.name} may not use channel '${c}' (command ${name.toUpperCase()})`);
      }
    }
  }
}

const GLOB_META = /[*?[\\]/;

/**
 * True when every name matching glob `requested` also matches glob `allowed` (conservatively: the same
 * pattern, a literal name the allowed pattern matches, or a pattern under the literal prefix of an
 * allowed `prefix*`). Comparing the patterns as strings is not enough: `chat:?` "matches" the text
 * `chat:*`, yet `chat:*` reaches far more channels.
 */
export function patternWithin(allowed: string, requested: string): boolean {
  if (allowed === requested) return true;
  if (!GLOB_META.test(requested)) return globMatch(allowed, requested);
  if (allowed.endsWith('*')) {
    const prefix = allowed.slice(0, -1);
    return !GLOB_META.test(prefix) && requested.startsWith(prefix);
  }
  return false;
}

/** "GET", "SCRIPT FLUSH": the command as a user typed it. */
function commandName(spec: CommandSpec): string {
  return spec.container ? `${spec.container} ${spec.name.split('|')[1]}` : spec.name;
}

function matchArg(argv: readonly string[]): string | undefined {
  for (let i = 2; i + 1 < argv.length; i++) if (argv[i]!.toLowerCase() === 'match') return argv[i + 1];
  return undefined;
}
