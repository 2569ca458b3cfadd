/**
 * The Lua script engine of one server (Redis 7's eval.c + script_lua.c): one interpreter shared by
 * every script, the script cache (sha1 -> body and shebang flags), the `redis`, `cjson` and `cmsgpack` APIs,
 * compiling EVAL bodies, and running a cached script with KEYS/ARGV to a reply.
 *
 * The engine knows nothing of the keyspace: each run gets a {@link ScriptHost} that executes the
 * commands a script calls (with every check Redis makes there) and decides when a script must stop.
 * A run is synchronous from its first instruction to its reply.
 */
import { createHash } from 'node:crypto';
import type { RespWriter } from '../../../common/src/resp/writer';
import { splitArgs } from '../../../common/src/resp/request-parser';
import { LuaState, REGISTRY, T_FUNCTION, T_NIL, T_NUMBER, T_STRING, T_TABLE } from './lua';
import { PRELUDE } from './prelude';
import { oneLine, pushErrorTable, pushReply, writeLuaValue } from './convert';
import { formatG } from './format';
import { cmsgpackPack, cmsgpackUnpack, cmsgpackUnpackLimit, cmsgpackUnpackOne } from './cmsgpack';
import { CJSON_CONFIG_FUNCTIONS, cjsonConfigure, cjsonDecode, cjsonEncode, defaultCjsonConfig, type CjsonConfig } from './cjson';

/** Shebang flags (`#!lua flags=...`). */
export const FLAG_NO_WRITES = 1;
export const FLAG_ALLOW_OOM = 2;
export const FLAG_ALLOW_STALE = 4;
export const FLAG_NO_CLUSTER = 8;
export const FLAG_ALLOW_CROSS_SLOT = 16;
/** No shebang: EVAL's compatibility mode (flags come from the command, cross-slot keys allowed). */
export const FLAG_EVAL_COMPAT = 32;

const SHEBANG_FLAGS: Record<string, number> = {
  'no-writes': FLAG_NO_WRITES,
  'allow-oom': FLAG_ALLOW_OOM,
  'allow-stale': FLAG_ALLOW_STALE,
  'no-cluster': FLAG_NO_CLUSTER,
  'allow-cross-slot-keys': FLAG_ALLOW_CROSS_SLOT,
  // Dragonfly's flag, which Upstash accepts and @upstash/ratelimit's scripts carry: scripts here
  // always run atomically, so it changes nothing.
  'allow-key-locking': 0,
};

/** redis.set_repl flags. */
export const REPL_NONE = 0;
export const REPL_AOF = 1;
export const REPL_REPLICA = 2;
export const REPL_ALL = 3;

/** Log levels of redis.log (Redis's LL_*). */
export const LOG_DEBUG = 0;
export const LOG_VERBOSE = 1;
export const LOG_NOTICE = 2;
export const LOG_WARNING = 3;

/** LUA_RIDX_GLOBALS: the registry slot of the real globals table. */
const RIDX_GLOBALS = 2;

/** How often (in VM instructions) the running script's host is asked whether to stop it. */
const HOOK_INSTRUCTIONS = 100_000;

export const NOSCRIPT = 'NOSCRIPT No matching script. Please use EVAL.';

export interface CachedScript {
  body: string;
  flags: number;
}

/** What redis.call/pcall got back from the host: the reply bytes, or an error raised before the command ran. */
export type CallResult = { buf: Buffer; start: number } | { error: string };

/** The server side of one script run. */
export interface ScriptHost {
  /**
   * Execute a command for redis.call/pcall. `error` texts follow Redis: "msg" (shown as "ERR msg")
   * or "-CODE msg".
   */
  call(argv: string[], resp: 2 | 3): CallResult;
  /** Called every HOOK_INSTRUCTIONS instructions: an error text stops the script with that error. */
  interrupt(): string | null;
  /** redis.set_repl. */
  setRepl(flags: number): void;
  /** redis.log, already filtered by level. */
  log(level: number, msg: string): void;
  /** Minimum level redis.log writes (the server's verbosity). */
  readonly verbosity: number;
  /** redis.acl_check_cmd: whether the command exists (null) / is permitted. */
  commandExists(argv: string[]): boolean;
}

interface Run {
  host: ScriptHost;
  resp: 2 | 3;
  inCall: boolean;
}

/** "7.2.4" -> 0x070204, as REDIS_VERSION_NUM. */
function versionNum(v: string): number {
  const [a = 0, b = 0, c = 0] = v.split('.').map(Number);
  return (a << 16) | (b << 8) | c;
}

export function sha1hex(s: string): string {
  return createHash('sha1').update(Buffer.from(s, 'latin1')).digest('hex');
}

/** Parse a `#!` first line (evalExtractShebangFlags): flags, the shebang's length, or an error text. */
export function parseShebang(body: string): { flags: number; length: number } | { error: string } {
  if (!body.startsWith('#!')) return { flags: FLAG_EVAL_COMPAT, length: 0 };
  const end = body.indexOf('\n');
  if (end < 0) return { error: 'ERR Invalid script shebang' };
  let parts: string[];
  try {
    parts = splitArgs(body.slice(0, end)) ?? [];
  } catch {
    parts = [];
  }
  if (parts.length === 0) return { error: 'ERR Invalid engine in script shebang' };
  if (parts[0] !== '#!lua') return { error: `ERR Unexpected engine in script shebang: ${parts[0]}` };
  let flags = 0;
  for (const part of parts.slice(1)) {
    if (!part.startsWith('flags=')) return { error: `ERR Unknown lua shebang option: ${part}` };
    const list = part.slice(6);
    if (list === '') continue;
    for (const f of list.split(',')) {
      const bit = SHEBANG_FLAGS[f];
      if (bit === undefined) return { error: `ERR Unexpected flag in script shebang: ${f}` };
      flags |= bit;
    }
  }
  return { flags, length: end };
}

export class ScriptEngine {
  private lua: LuaState;
  readonly scripts = new Map<string, CachedScript>();
  private run: Run | null = null;
  private cjson: CjsonConfig = defaultCjsonConfig();

  constructor(private readonly version: string) {
    this.lua = this.createState();
  }

  /** Whether a script is running right now (only ever true inside a command). */
  get running(): boolean {
    return this.run !== null;
  }

  /** SCRIPT FLUSH: forget every script and start a fresh interpreter. */
  flush(): void {
    this.reset();
  }

  private reset(): void {
    try {
      this.lua.close();
    } catch {
      // A broken interpreter may fail to close; its memory is lost, not the node.
    }
    this.scripts.clear();
    this.cjson = defaultCjsonConfig();
    this.lua = this.createState();
  }

  /** Bytes held by the interpreter (collectgarbage('count')), for INFO-like reporting. */
  memory(): number {
    const lua = this.lua;
    if (!lua.load('return collectgarbage("count")', '=memory')) {
      lua.pop(1);
      return 0;
    }
    lua.pcall(0, 1, 0);
    const kb = lua.toNumber(-1);
    lua.pop(1);
    return Math.floor(kb * 1024);
  }

  /**
   * Compile and cache a script (EVAL, SCRIPT LOAD). Returns its sha, or the error text to reply
   * ("ERR Error compiling script (new function): ...", shebang errors).
   */
  load(body: string): { sha: string; script: CachedScript } | { error: string } {
    const sha = sha1hex(body);
    const cached = this.scripts.get(sha);
    if (cached !== undefined) return { sha, script: cached };
    const shebang = parseShebang(body);
    if ('error' in shebang) return shebang;
    const lua = this.lua;
    lua.setTop(0);
    if (!lua.load(shebang.length > 0 ? body.slice(shebang.length) : body, '@user_script')) {
      // Lua 5.4 prints the end of the chunk as <eof>; 5.1 (Redis) quoted it like any other token.
      const msg = (lua.toString(-1) ?? 'unknown error').replace(/ near <eof>$/, " near '<eof>'");
      lua.setTop(0);
      return { error: `ERR Error compiling script (new function): ${msg}` };
    }
    // The script's globals are the protected environment, not the real globals table.
    lua.rawGetField(REGISTRY, 'script_env');
    lua.setUpvalue(-2, 1);
    lua.rawGetField(REGISTRY, 'scripts');
    lua.pushValue(-2);
    lua.rawSetField(-2, sha);
    lua.setTop(0);
    const script: CachedScript = { body, flags: shebang.flags };
    this.scripts.set(sha, script);
    return { sha, script };
  }

  /**
   * Run a cached script: set KEYS and ARGV, call it, and write its reply (or its error, worded as
   * Redis 7 does: "<err> script: <sha>, on @user_script:<line>.") into `w`.
   */
  exec(sha: string, keys: readonly string[], args: readonly string[], host: ScriptHost, w: RespWriter, timeLimited: boolean): void {
    const lua = this.lua;
    if (this.run !== null) throw new Error('a script is already running');
    lua.setTop(0);
    lua.rawGetField(REGISTRY, 'err_handler');
    lua.rawGetField(REGISTRY, 'scripts');
    lua.rawGetField(-1, sha);
    lua.remove(-2);
    if (lua.type(-1) !== T_FUNCTION) {
      lua.setTop(0);
      w.error(NOSCRIPT);
      return;
    }
    lua.rawGetI(REGISTRY, RIDX_GLOBALS);
    const g = lua.top();
    this.pushArray(keys);
    lua.rawSetField(g, 'KEYS');
    this.pushArray(args);
    lua.rawSetField(g, 'ARGV');
    lua.pop(1);
    const run: Run = { host, resp: 2, inCall: false };
    this.run = run;
    if (timeLimited) {
      lua.setHook(() => {
        const msg = run.host.interrupt();
        if (msg === null) return;
        // From now on every instruction raises again, so pcall cannot swallow the stop.
        lua.hookEveryInstruction();
        pushErrorTable(lua, msg);
        lua.error();
      }, HOOK_INSTRUCTIONS);
    }
    let status: number;
    try {
      status = lua.pcall(0, 1, 1);
    } catch (e) {
      // Only a bug or an exhausted WebAssembly heap gets here, and the interpreter's state is then
      // unknown: start over with a fresh one (scripts must be loaded again, as after SCRIPT FLUSH).
      this.run = null;
      this.reset();
      throw e;
    } finally {
      if (this.run !== null && timeLimited) lua.clearHook();
      this.run = null;
    }
    if (status === 0) writeLuaValue(lua, w, run.resp);
    else this.writeError(sha, w);
    lua.setTop(0);
  }

  private writeError(sha: string, w: RespWriter): void {
    const lua = this.lua;
    const e = lua.top();
    if (lua.type(e) !== T_TABLE) {
      const msg = lua.type(e) === T_STRING || lua.type(e) === T_NUMBER ? lua.toString(e)! : 'execution failure';
      w.error(oneLine(`ERR Error running script ${sha}, ${msg.slice(0, 100)}`));
      return;
    }
    const field = (name: string): string | null => {
      const t = lua.rawGetField(e, name);
      const v = t === T_STRING || t === T_NUMBER ? lua.toString(-1) : null;
      lua.pop(1);
      return v;
    };
    let msg = field('err') ?? 'ERR unknown error';
    const source = field('source');
    const line = field('line');
    if (source !== null && line !== null) msg += ` script: ${sha}, on ${source}:${line}.`;
    w.error(oneLine(msg));
  }

  private pushArray(items: readonly string[]): void {
    const lua = this.lua;
    lua.newTable(items.length, 0);
    for (let i = 0; i < items.length; i++) {
      lua.pushString(items[i]!);
      lua.rawSetI(-2, i + 1);
    }
  }

  // ------------------------------------------------------------------ environment

  private createState(): LuaState {
    const lua = new LuaState();
    lua.openLibs();
    lua.rawGetI(REGISTRY, RIDX_GLOBALS);
    const g = lua.top();

    lua.newTable();
    const r = lua.top();
    const fn = (name: string, f: (lua: LuaState) => number): void => {
      lua.pushCFunction(f);
      lua.rawSetField(r, name);
    };
    fn('call', (l) => this.redisCall(l, true));
    fn('pcall', (l) => this.redisCall(l, false));
    fn('sha1hex', (l) => {
      if (l.top() !== 1) this.raise(l, 'wrong number of arguments');
      l.pushString(sha1hex(l.type(1) === T_STRING || l.type(1) === T_NUMBER ? l.toString(1)! : ''));
      return 1;
    });
    fn('error_reply', (l) => {
      if (l.top() !== 1 || l.type(-1) !== T_STRING) {
        pushErrorTable(l, 'wrong number or type of arguments');
        return 1;
      }
      const s = l.toString(-1)!;
      pushErrorTable(l, s.startsWith('-') ? s : `-${s}`);
      return 1;
    });
    fn('status_reply', (l) => {
      if (l.top() !== 1 || l.type(-1) !== T_STRING) {
        pushErrorTable(l, 'wrong number or type of arguments');
        return 1;
      }
      l.newTable(0, 1);
      l.pushValue(-2);
      l.rawSetField(-2, 'ok');
      return 1;
    });
    fn('log', (l) => this.redisLog(l));
    fn('setresp', (l) => {
      const run = this.requireRun(l, 'redis.setresp');
      if (l.top() !== 1) this.raise(l, 'redis.setresp() requires one argument.');
      const v = Math.trunc(l.toNumber(1));
      if (v !== 2 && v !== 3) this.raise(l, 'RESP version must be 2 or 3.');
      run.resp = v;
      return 0;
    });
    fn('set_repl', (l) => {
      const run = this.requireRun(l, 'redis.set_repl');
      if (l.top() !== 1) this.raise(l, 'redis.set_repl() requires two arguments.');
      const v = Math.trunc(l.toNumber(1));
      if ((v & ~REPL_ALL) !== 0) this.raise(l, 'Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.');
      run.host.setRepl(v);
      return 0;
    });
    fn('replicate_commands', (l) => {
      l.pushBoolean(true);
      return 1;
    });
    fn('breakpoint', (l) => {
      l.pushBoolean(false);
      return 1;
    });
    fn('debug', () => 0);
    fn('acl_check_cmd', (l) => {
      const run = this.requireRun(l, 'redis.acl_check_cmd');
      const argv = this.callArgs(l);
      if (argv === null) return l.error();
      if (!run.host.commandExists(argv)) this.raise(l, 'Invalid command passed to redis.acl_check_cmd()');
      l.pushBoolean(true);
      return 1;
    });
    const constants: [string, number | string][] = [
      ['LOG_DEBUG', LOG_DEBUG],
      ['LOG_VERBOSE', LOG_VERBOSE],
      ['LOG_NOTICE', LOG_NOTICE],
      ['LOG_WARNING', LOG_WARNING],
      ['REPL_NONE', REPL_NONE],
      ['REPL_AOF', REPL_AOF],
      ['REPL_SLAVE', REPL_REPLICA],
      ['REPL_REPLICA', REPL_REPLICA],
      ['REPL_ALL', REPL_ALL],
      ['REDIS_VERSION', this.version],
      ['REDIS_VERSION_NUM', versionNum(this.version)],
    ];
    for (const [name, v] of constants) {
      if (typeof v === 'string') lua.pushString(v);
      else lua.pushInteger(v);
      lua.rawSetField(r, name);
    }
    lua.rawSetField(g, 'redis');

    lua.newTable();
    const cj = lua.top();
    lua.pushCFunction((l) => cjsonEncode(l, this.cjson));
    lua.rawSetField(cj, 'encode');
    lua.pushCFunction((l) => cjsonDecode(l, this.cjson));
    lua.rawSetField(cj, 'decode');
    for (const name of CJSON_CONFIG_FUNCTIONS) {
      lua.pushCFunction((l) => cjsonConfigure(l, this.cjson, name));
      lua.rawSetField(cj, name);
    }
    lua.pushLightUserdata(0);
    lua.rawSetField(cj, 'null');
    lua.pushString('cjson');
    lua.rawSetField(cj, '_NAME');
    lua.pushString('2.1.0');
    lua.rawSetField(cj, '_VERSION');
    lua.rawSetField(g, 'cjson');

    lua.newTable();
    const mp = lua.top();
    const mpFns: [string, (l: LuaState) => number][] = [
      ['pack', cmsgpackPack],
      ['unpack', cmsgpackUnpack],
      ['unpack_one', cmsgpackUnpackOne],
      ['unpack_limit', cmsgpackUnpackLimit],
    ];
    for (const [name, f] of mpFns) {
      lua.pushCFunction(f);
      lua.rawSetField(mp, name);
    }
    const mpInfo: [string, string][] = [
      ['_NAME', 'cmsgpack'],
      ['_VERSION', 'lua-cmsgpack 0.4.0'],
      ['_COPYRIGHT', 'Copyright (C) 2012, Salvatore Sanfilippo'],
      ['_DESCRIPTION', 'MessagePack C implementation for Lua'],
    ];
    for (const [name, v] of mpInfo) {
      lua.pushString(v);
      lua.rawSetField(mp, name);
    }
    lua.rawSetField(g, 'cmsgpack');

    // Redis 7's pcall: an error table raised by redis.call comes back as its `err` text. A C
    // function (not Lua) so that a stopped script's error is never raised inside it.
    lua.pushCFunction((l) => {
      if (l.top() < 1) l.errorWhere("bad argument #1 to 'pcall' (value expected)");
      l.pushBoolean(true);
      l.insert(1);
      if (l.pcall(l.top() - 2, -1, 0) !== 0) {
        l.remove(1);
        if (l.type(-1) === T_TABLE) {
          const t = l.rawGetField(-1, 'err');
          if (t === T_STRING || t === T_NUMBER) l.remove(-2);
          else l.pop(1);
        }
        l.pushBoolean(false);
        l.insert(1);
      }
      return l.top();
    });
    lua.rawSetField(g, 'pcall');

    // The prelude gets the globals and the JS halves of the protection; it returns the error
    // handler, the scripts' environment and the protected tables.
    if (!lua.load(PRELUDE, '=prelude')) throw new Error(`script prelude does not compile: ${lua.toString(-1)}`);
    lua.pushValue(g);
    lua.newTable();
    const api = lua.top();
    lua.pushCFunction((l) => l.errorWhere('Attempt to modify a readonly table'));
    lua.rawSetField(api, 'readonly');
    lua.pushCFunction((l) => l.errorWhere(`Script attempted to access nonexistent global variable '${l.toString(2) ?? '?'}'`));
    lua.rawSetField(api, 'missing');
    lua.pushCFunction((l) => this.guardedRawset(l));
    lua.rawSetField(api, 'rawset');
    if (lua.pcall(2, 3, 0) !== 0) throw new Error(`script prelude failed: ${lua.toString(-1)}`);
    lua.rawSetField(REGISTRY, 'protected');
    lua.rawSetField(REGISTRY, 'script_env');
    lua.rawSetField(REGISTRY, 'err_handler');
    lua.newTable();
    lua.rawSetField(REGISTRY, 'scripts');
    lua.setTop(0);
    return lua;
  }

  /** rawset that refuses the protected tables (globals, environment, libraries). */
  private guardedRawset(l: LuaState): number {
    if (l.type(1) !== T_TABLE) l.errorWhere("bad argument #1 to 'rawset' (table expected)");
    if (l.top() < 3) l.errorWhere("bad argument #3 to 'rawset' (value expected)");
    l.setTop(3);
    l.rawGetField(REGISTRY, 'protected');
    l.pushValue(1);
    if (l.rawGet(-2) !== T_NIL) {
      // Raised by the VM inside rawset in Redis: no script position in the message.
      return l.errorString('Attempt to modify a readonly table');
    }
    l.setTop(3);
    l.rawSet(1);
    return 1;
  }

  /** Raise {err="ERR <msg>"} like luaPushError + luaError (no position: the handler adds the script line). */
  private raise(l: LuaState, msg: string): never {
    pushErrorTable(l, msg);
    return l.error();
  }

  private requireRun(l: LuaState, what: string): Run {
    const run = this.run;
    if (run === null) this.raise(l, `${what} can only be called inside a script invocation`);
    return run;
  }

  /**
   * Arguments of redis.call/pcall as latin1 strings (numbers as %.17g, integers exactly), or null with
   * the error table pushed.
   */
  private callArgs(l: LuaState): string[] | null {
    const argc = l.top();
    if (argc === 0) {
      pushErrorTable(l, 'Please specify at least one argument for this redis lib call');
      return null;
    }
    const argv: string[] = new Array<string>(argc);
    for (let j = 1; j <= argc; j++) {
      const t = l.type(j);
      if (t === T_NUMBER) argv[j - 1] = l.isInteger(j) ? l.toInteger(j).toString() : formatG(l.toNumber(j), 17);
      else if (t === T_STRING) argv[j - 1] = l.toString(j)!;
      else {
        l.setTop(0);
        pushErrorTable(l, 'Lua redis lib command arguments must be strings or integers');
        return null;
      }
    }
    l.setTop(0);
    return argv;
  }

  private redisCall(l: LuaState, raise: boolean): number {
    const run = this.requireRun(l, 'redis.call/pcall');
    const argv = this.callArgs(l);
    if (argv === null) return raise ? l.error() : 1;
    if (run.inCall) {
      pushErrorTable(l, 'luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?');
      return 1;
    }
    run.inCall = true;
    let res: CallResult;
    try {
      res = run.host.call(argv, run.resp);
    } finally {
      run.inCall = false;
    }
    if ('error' in res) {
      pushErrorTable(l, res.error, true);
      return raise ? l.error() : 1;
    }
    pushReply(l, res.buf, res.start);
    if (raise && res.buf[res.start] === 0x2d) return l.error();
    return 1;
  }

  private redisLog(l: LuaState): number {
    const run = this.requireRun(l, 'redis.log');
    const argc = l.top();
    if (argc < 2) this.raise(l, 'redis.log() requires two arguments or more.');
    if (!l.isNumber(1)) this.raise(l, 'First argument must be a number (log level).');
    const level = Math.trunc(l.toNumber(1));
    if (level < LOG_DEBUG || level > LOG_WARNING) this.raise(l, 'Invalid debug level.');
    if (level < run.host.verbosity) return 0;
    const parts: string[] = [];
    for (let j = 2; j <= argc; j++) {
      const t = l.type(j);
      if (t === T_STRING || t === T_NUMBER) parts.push(l.toString(j)!);
    }
    run.host.log(level, parts.join(' '));
    return 0;
  }
}
