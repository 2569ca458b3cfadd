/**
 * Command handlers: scripting family (specs in common/src/commands/specs/scripting.ts): EVAL,
 * EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/DEBUG/HELP, on the Lua engine in
 * ../scripting/. This file is the server side of a run (Redis's script.c): the checks a command called
 * from a script goes through (noscript, read-only scripts, replica, OOM, cluster slots), running it
 * through the normal call path on the script's own client, and effects replication.
 *
 * Replication: the writes a script makes are propagated as themselves (not the EVAL), wrapped in
 * MULTI/EXEC, like Redis 7's effects replication; inside a transaction they join EXEC's own wrapping.
 * A script is atomic because it runs synchronously inside one command: nothing else runs meanwhile.
 * A script running longer than lua-time-limit (busy-reply-threshold) is stopped with an error (the
 * event loop cannot serve BUSY replies while it runs); writes it made before that are kept.
 */
import type { Socket } from 'node:net';
import type { HandlerMap } from './registry';
import { ReplyError } from './registry';
import { Client } from '../server/client';
import type { Server } from '../server/server';
import { RespWriter } from '../../../common/src/resp/writer';
import { keyPositions, lookupCommand } from '../../../common/src/commands/table';
import type { CommandSpec } from '../../../common/src/commands/types';
import { keyHashSlot } from '../../../common/src/slot';
import { luaLoaded } from '../scripting/lua';
import {
  FLAG_ALLOW_CROSS_SLOT,
  FLAG_ALLOW_OOM,
  FLAG_ALLOW_STALE,
  FLAG_EVAL_COMPAT,
  FLAG_NO_CLUSTER,
  FLAG_NO_WRITES,
  NOSCRIPT,
  ScriptEngine,
  type CallResult,
  type CachedScript,
  type ScriptHost,
} from '../scripting/engine';
import { REDIS_VERSION } from '../version';
import { DOWN, DOWN_RO } from '../cluster/router';

const NOT_INTEGER = 'ERR value is not an integer or out of range';
const LOG_NAMES = ['debug', 'verbose', 'notice', 'warning'] as const;

interface Scripting {
  engine: ScriptEngine;
  /** The client scripts run their commands as (Redis's lua_client): never connected, never listed. */
  client: Client;
  writer: RespWriter;
}

const perServer = new WeakMap<Server, Scripting>();

function scripting(s: Server): Scripting {
  let sc = perServer.get(s);
  if (sc === undefined) {
    if (!luaLoaded()) throw new ReplyError('ERR Lua scripting is not available on this node (the Lua engine was not loaded)');
    const socket = { remoteAddress: undefined, remotePort: undefined, localAddress: undefined, localPort: undefined, write: () => true, end: () => undefined, destroy: () => undefined };
    const client = new Client(0, s, socket as unknown as Socket);
    // MONITOR and SLOWLOG show the script's commands as coming from "lua", as Redis does.
    Object.defineProperty(client, 'addr', { get: () => 'lua' });
    // Output is never queued for it: replies are read from its writer by the engine.
    client.closing = true;
    client.name = '';
    const writer = new RespWriter(4096);
    client.w = writer;
    sc = { engine: new ScriptEngine(REDIS_VERSION), client, writer };
    perServer.set(s, sc);
  }
  return sc;
}

/** The engine of a server, for INFO-like reporting and tests (null until a scripting command ran). */
export function scriptEngineOf(s: Server): ScriptEngine | null {
  return perServer.get(s)?.engine ?? null;
}

function parseNumKeys(argv: string[]): number {
  const raw = argv[2]!;
  if (!/^-?\d+$/.test(raw) || raw.length > 20) throw new ReplyError(NOT_INTEGER);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new ReplyError(NOT_INTEGER);
  if (n > argv.length - 3) throw new ReplyError("ERR Number of keys can't be greater than number of args");
  if (n < 0) throw new ReplyError("ERR Number of keys can't be negative");
  return n;
}

/** The replica is stale: its primary link is down and replica-serve-stale-data is no. */
function runningStale(s: Server): boolean {
  return s.isReplica && !s.config.bool('replica-serve-stale-data') && s.replication.link()?.up === false;
}

function writeDeniedOnReplica(s: Server, caller: Client): boolean {
  return s.isReplica && s.config.bool('replica-read-only') && !caller.isPrimaryLink;
}

/** Redis's scriptPrepareForRun checks: an error text to reply instead of running, or null. */
function prepareError(s: Server, caller: Client, flags: number, ro: boolean, oom: boolean): string | null {
  if (flags & FLAG_EVAL_COMPAT) {
    return runningStale(s) && !caller.isPrimaryLink ? "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'." : null;
  }
  if (flags & FLAG_NO_CLUSTER && s.cluster !== null) return "ERR Can not run script on cluster, 'no-cluster' flag is set.";
  if (!(flags & FLAG_ALLOW_OOM) && oom) return "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'";
  if (runningStale(s) && !caller.isPrimaryLink && !(flags & FLAG_ALLOW_STALE)) {
    return "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.";
  }
  if (!(flags & FLAG_NO_WRITES)) {
    // A script that may write is a write command for dispatch (Redis's evalGetCommandFlags).
    if (writeDeniedOnReplica(s, caller)) return "READONLY You can't write against a read only replica.";
    if (ro) return 'ERR Can not execute a script with write flag using *_ro command.';
  }
  return null;
}

/** The command a script names, or undefined (a container command with an unknown subcommand included). */
function scriptCommand(argv: string[]): CommandSpec | undefined {
  const spec = lookupCommand(argv);
  return spec === undefined || (spec.subcommands !== undefined && argv.length >= 2) ? undefined : spec;
}

/** The server side of one script run: the checks and the execution of each redis.call. */
class RunHost implements ScriptHost {
  /** A write command ran (or was about to): OOM is no longer checked, the stop message says so. */
  private writeDirty = false;
  private stopMessage: string | null = null;
  private readonly startedAt = Date.now();
  private readonly limitMs: number;
  /** Cluster: the slot the script's keys must share (shebang scripts without allow-cross-slot-keys), -1 = not yet known. */
  private slot: number;
  /** The script was let into an importing slot with ASKING: its commands carry ASKING too. */
  private readonly asking: boolean;

  constructor(
    private readonly s: Server,
    private readonly caller: Client,
    private readonly sc: Scripting,
    private readonly flags: number,
    private readonly readOnly: boolean,
    private readonly oom: boolean,
    declaredSlot: number,
  ) {
    this.limitMs = s.config.int('lua-time-limit');
    this.slot = declaredSlot;
    const cl = s.clusterNode;
    this.asking = cl !== null && declaredSlot >= 0 && cl.view.owners[declaredSlot] !== cl.myId && cl.view.slotStates.get(declaredSlot)?.importing?.by === cl.myId;
  }

  /** Read when the script logs (most never do), not for every run. */
  get verbosity(): number {
    const level = (LOG_NAMES as readonly string[]).indexOf(this.s.config.str('loglevel'));
    return level < 0 ? LOG_NAMES.length : level;
  }

  get timeLimited(): boolean {
    return this.limitMs > 0;
  }

  call(argv: string[], resp: 2 | 3): CallResult {
    const s = this.s;
    const spec = scriptCommand(argv);
    if (spec === undefined) return { error: 'Unknown Redis command called from script' };
    const h = s.handlerFor(spec.name);
    if (h === undefined) return { error: 'Unknown Redis command called from script' };
    if ((spec.arity > 0 && argv.length !== spec.arity) || argv.length < -spec.arity) return { error: 'Wrong number of args calling Redis command from script' };
    const flags = spec.flags;
    if (flags.includes('noscript')) return { error: 'This Redis command is not allowed from script' };
    const caller = this.caller;
    if (runningStale(s) && !flags.includes('stale') && !caller.isPrimaryLink) return { error: 'Can not execute the command on a stale replica' };
    const write = flags.includes('write');
    if (write) {
      const err = this.writeError();
      if (err !== null) return { error: err };
    }
    if (!(this.flags & FLAG_ALLOW_OOM) && this.oom && !this.writeDirty && flags.includes('denyoom') && !s.isReplica && !caller.isPrimaryLink) {
      return { error: "-OOM command not allowed when used memory > 'maxmemory'." };
    }
    if (write) this.writeDirty = true;
    const client = this.sc.client;
    if (s.cluster !== null && !caller.isPrimaryLink) {
      const err = this.clusterError(client, spec, argv);
      if (err !== null) return { error: err };
    }
    const w = this.sc.writer;
    w.reset();
    w.proto = resp;
    client.resp = resp;
    client.w = w;
    s.call(client, h, argv);
    return { buf: w.buf, start: 0 };
  }

  /** Redis's scriptVerifyWriteCommandAllow (plus this node's write-safety checks). */
  private writeError(): string | null {
    const s = this.s;
    if (this.readOnly) return 'Write commands are not allowed from read-only scripts.';
    if (writeDeniedOnReplica(s, this.caller)) return "-READONLY You can't write against a read only replica.";
    if (s.isReplica || this.caller.isPrimaryLink) return null;
    const minToWrite = s.config.int('min-replicas-to-write');
    const maxLag = s.config.int('min-replicas-max-lag');
    if (minToWrite > 0 && maxLag > 0 && s.replication.goodReplicas(maxLag) < minToWrite) return '-NOREPLICAS Not enough good replicas to write.';
    const ack = s.config.int('min-replicas-ack');
    if (ack > 0 && !this.caller.isReplicaLink && s.replication.goodReplicas(Infinity) < ack) return '-NOREPLICAS Not enough good replicas to write.';
    return null;
  }

  /** Redis's scriptVerifyClusterState: every key a command touches must be served here (and share one slot unless allowed). */
  private clusterError(client: Client, spec: CommandSpec, argv: string[]): string | null {
    const s = this.s;
    client.readonlyMode = this.caller.readonlyMode;
    client.asking = this.asking;
    const routeErr = s.cluster!.route(client, spec, argv);
    client.asking = false;
    if (routeErr !== null) {
      if (routeErr === DOWN_RO) return 'Script attempted to execute a write command while the cluster is down and readonly';
      if (routeErr === DOWN) return 'Script attempted to execute a command while the cluster is down';
      // This node's own refusals (write lease lost, data lost) keep their text but not their CLUSTERDOWN
      // code: earlier writes of the script are applied, and clients retry CLUSTERDOWN replies.
      if (routeErr.startsWith('CLUSTERDOWN') && routeErr !== 'CLUSTERDOWN Hash slot not served') {
        return `Script attempted to execute a command this node refused: ${routeErr}`;
      }
      return 'Script attempted to access a non local key in a cluster node';
    }
    if (this.flags & (FLAG_EVAL_COMPAT | FLAG_ALLOW_CROSS_SLOT)) return null;
    for (const pos of keyPositions(spec, argv)) {
      const slot = keyHashSlot(argv[pos]!);
      if (this.slot < 0) this.slot = slot;
      else if (slot !== this.slot) return 'Script attempted to access keys that do not hash to the same slot';
    }
    return null;
  }

  interrupt(): string | null {
    if (this.stopMessage !== null) return this.stopMessage;
    const elapsed = Date.now() - this.startedAt;
    if (elapsed < this.limitMs) return null;
    this.s.log.warning(
      `Lua script stopped after ${elapsed} milliseconds (lua-time-limit ${this.limitMs} ms): scripts run synchronously, so a longer one would keep every other client waiting.${this.writeDirty ? ' Its writes so far were kept and replicated.' : ''}`,
    );
    this.stopMessage = `Script killed: it ran longer than lua-time-limit (${this.limitMs} ms)${this.writeDirty ? '; the writes it made before were kept' : ''}`;
    return this.stopMessage;
  }

  setRepl(): void {
    // Accepted for compatibility; effects are always propagated (see docs: scripting).
  }

  log(level: number, msg: string): void {
    const log = this.s.log;
    if (level === 0) log.debug(msg);
    else if (level === 1) log.verbose(msg);
    else if (level === 2) log.notice(msg);
    else log.warning(msg);
  }

  commandExists(argv: string[]): boolean {
    return scriptCommand(argv) !== undefined;
  }
}

/** Slot of the keys declared to EVAL (already checked to be one slot by routing in cluster mode), or -1. */
function declaredSlot(s: Server, keys: readonly string[]): number {
  if (s.cluster === null || keys.length === 0) return -1;
  return keyHashSlot(keys[0]!);
}

function runScript(c: Client, argv: string[], evalsha: boolean, ro: boolean): void {
  const s = c.server;
  // The EVAL family is skip_monitor: like Redis, it shows itself before the commands its script runs.
  if (s.monitors.size > 0) s.feedMonitors(c, argv);
  const numkeys = parseNumKeys(argv);
  const sc = scripting(s);
  const engine = sc.engine;
  let sha: string;
  let script: CachedScript | undefined;
  if (evalsha) {
    sha = argv[1]!.toLowerCase();
    script = argv[1]!.length === 40 ? engine.scripts.get(sha) : undefined;
    if (script === undefined) throw new ReplyError(NOSCRIPT);
  } else {
    const r = engine.load(argv[1]!);
    if ('error' in r) throw new ReplyError(r.error);
    sha = r.sha;
    script = r.script;
  }
  const oom = s.config.int('maxmemory') > 0 && !s.isReplica && !c.isPrimaryLink && !s.evictor.makeRoom();
  const err = prepareError(s, c, script.flags, ro, oom);
  if (err !== null) throw new ReplyError(err);
  const keys = argv.slice(3, 3 + numkeys);
  const args = argv.slice(3 + numkeys);
  const client = sc.client;
  client.select(c.dbIndex);
  client.resp = 2;
  client.authenticated = c.authenticated;
  client.user = c.user;
  client.inExec = true; // commands never block inside a script (as inside EXEC)
  const host = new RunHost(s, c, sc, script.flags, ro || (script.flags & FLAG_NO_WRITES) !== 0, oom, declaredSlot(s, keys));
  // Inside EXEC the transaction already collects every write into one MULTI/EXEC.
  const ownPropagation = !c.inExec;
  if (ownPropagation) s.beginTransactionPropagation();
  try {
    engine.exec(sha, keys, args, host, c.w, host.timeLimited);
  } finally {
    if (ownPropagation) s.endTransactionPropagation(c.dbIndex);
  }
}

const SCRIPT_HELP = [
  'SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'DEBUG (YES|SYNC|NO)',
  '    Set the debug mode for subsequent scripts executed.',
  'EXISTS <sha1> [<sha1> ...]',
  '    Return information about the existence of the scripts in the script cache.',
  'FLUSH [ASYNC|SYNC]',
  '    Flush the Lua scripts cache. Very dangerous on replicas.',
  '    When called without the optional mode argument, the behavior is determined by the',
  '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
  '    * ASYNC: Asynchronously flush the scripts cache.',
  '    * SYNC: Synchronously flush the scripts cache.',
  'KILL',
  '    Kill the currently executing Lua script.',
  'LOAD <script>',
  '    Load a script into the scripts cache without executing it.',
  'HELP',
  '    Prints this help.',
];

export const handlers: HandlerMap = {
  eval(c, argv) {
    runScript(c, argv, false, false);
  },

  evalsha(c, argv) {
    runScript(c, argv, true, false);
  },

  eval_ro(c, argv) {
    runScript(c, argv, false, true);
  },

  evalsha_ro(c, argv) {
    runScript(c, argv, true, true);
  },

  'script|load'(c, argv) {
    const r = scripting(c.server).engine.load(argv[2]!);
    if ('error' in r) throw new ReplyError(r.error);
    c.w.bulk(r.sha);
  },

  'script|exists'(c, argv) {
    const scripts = scripting(c.server).engine.scripts;
    c.w.array(argv.length - 2);
    for (let i = 2; i < argv.length; i++) c.w.int(scripts.has(argv[i]!.toLowerCase()) ? 1 : 0);
  },

  'script|flush'(c, argv) {
    if (argv.length > 3 || (argv.length === 3 && !/^(sync|async)$/i.test(argv[2]!))) {
      throw new ReplyError('ERR SCRIPT FLUSH only support SYNC|ASYNC option');
    }
    scripting(c.server).engine.flush();
    c.w.ok();
  },

  'script|kill'() {
    // A script runs inside one command and nothing else runs meanwhile: there is never one to kill.
    throw new ReplyError('NOTBUSY No scripts in execution right now.');
  },

  'script|debug'(c, argv) {
    const mode = argv[2]!.toLowerCase();
    if (mode === 'no') {
      c.w.ok();
      return;
    }
    if (mode === 'yes' || mode === 'sync') throw new ReplyError('ERR The Lua debugger (LDB) is not supported by this server');
    throw new ReplyError('ERR Use SCRIPT DEBUG YES/SYNC/NO');
  },

  'script|help'(c) {
    c.w.array(SCRIPT_HELP.length);
    for (const line of SCRIPT_HELP) c.w.simple(line);
  },
};
