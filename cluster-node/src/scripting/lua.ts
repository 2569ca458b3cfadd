/**
 * Lua 5.4 for the script engine: the C Lua interpreter compiled to WebAssembly that the `wasmoon`
 * package ships, driven through its raw C API exports (not wasmoon's object wrapper). Everything is
 * synchronous once the module is loaded, so a script runs start to end inside one command.
 *
 * Strings cross the boundary as bytes: a JS string here is latin1 (one char = one byte, as everywhere
 * in the engine), copied into and out of the WebAssembly heap without any UTF-8 conversion, so
 * binary values and embedded NULs survive.
 *
 * Error handling contract: `lua_error` (and any Lua API call that raises) unwinds with emscripten's
 * setjmp/longjmp emulation, which is a JS `throw Infinity`. A JS function registered with
 * {@link LuaState.cfunction} must let that through, and must never let any other JS exception escape
 * into the interpreter (it would skip Lua's own unwinding and corrupt the state): `cfunction` wraps
 * every callback to turn a JS exception into a Lua error.
 */

/** Lua type tags (lua.h). */
export const T_NONE = -1;
export const T_NIL = 0;
export const T_BOOLEAN = 1;
export const T_LIGHTUSERDATA = 2;
export const T_NUMBER = 3;
export const T_STRING = 4;
export const T_TABLE = 5;
export const T_FUNCTION = 6;

const TYPE_NAMES = ['no value', 'nil', 'boolean', 'userdata', 'number', 'string', 'table', 'function', 'userdata', 'thread'];

/** LUA_REGISTRYINDEX for the default LUAI_MAXSTACK (1000000). */
export const REGISTRY = -1001000;
const MASK_LINE = 4;
const MASK_COUNT = 8;

/** The raw exports used here (wasmoon's glue module; lua_Integer is a BigInt: the build uses WASM_BIGINT). */
interface LuaModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  _malloc(n: number): number;
  _free(p: number): void;
  addFunction(fn: (...args: number[]) => number | void, sig: string): number;
  removeFunction(p: number): void;
  _luaL_newstate(): number;
  _luaL_openlibs(L: number): void;
  _lua_close(L: number): void;
  _luaL_loadbufferx(L: number, buf: number, len: number, name: number, mode: number): number;
  _lua_pcallk(L: number, nargs: number, nresults: number, errfunc: number, ctx: number, k: number): number;
  _lua_gettop(L: number): number;
  _lua_settop(L: number, idx: number): void;
  _lua_checkstack(L: number, n: number): number;
  _lua_type(L: number, idx: number): number;
  _lua_pushnil(L: number): void;
  _lua_pushboolean(L: number, b: number): void;
  _lua_pushinteger(L: number, n: bigint): void;
  _lua_pushnumber(L: number, n: number): void;
  _lua_pushlstring(L: number, p: number, len: number): number;
  _lua_pushvalue(L: number, idx: number): void;
  _lua_pushcclosure(L: number, fn: number, n: number): void;
  _lua_pushlightuserdata(L: number, p: number): void;
  _lua_tolstring(L: number, idx: number, lenp: number): number;
  _lua_toboolean(L: number, idx: number): number;
  _lua_tonumberx(L: number, idx: number, isnum: number): number;
  _lua_tointegerx(L: number, idx: number, isnum: number): bigint;
  _lua_isinteger(L: number, idx: number): number;
  _lua_touserdata(L: number, idx: number): number;
  _lua_createtable(L: number, narr: number, nrec: number): void;
  _lua_rawget(L: number, idx: number): number;
  _lua_rawset(L: number, idx: number): void;
  _lua_rawgeti(L: number, idx: number, n: bigint): number;
  _lua_rawseti(L: number, idx: number, n: bigint): void;
  _lua_rawlen(L: number, idx: number): bigint;
  _lua_next(L: number, idx: number): number;
  _lua_rotate(L: number, idx: number, n: number): void;
  _lua_setupvalue(L: number, funcidx: number, n: number): number;
  _lua_error(L: number): number;
  _lua_sethook(L: number, fn: number, mask: number, count: number): void;
  _luaL_where(L: number, level: number): void;
}

let mod: LuaModule | null = null;
let loading: Promise<void> | null = null;
type WasmExports = Record<string, unknown>;

/** Load the WebAssembly interpreter once per process (the only asynchronous step). */
export function loadLua(): Promise<void> {
  if (loading === null) {
    loading = (async () => {
      // Untyped on purpose: wasmoon's declarations need @types/emscripten; only LuaModule above is used.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const wasmoon = require('wasmoon') as { LuaWasm: { initialize(): Promise<{ module: LuaModule }> } };
      // Node's WebAssembly global (not in this project's TypeScript libs): catch the instance wasmoon creates.
      const wasm = (globalThis as unknown as { WebAssembly: { instantiate(...args: unknown[]): Promise<unknown> } }).WebAssembly;
      let exports: WasmExports | null = null;
      const instantiate = wasm.instantiate;
      wasm.instantiate = async function (this: unknown, ...args: unknown[]) {
        const r = (await Reflect.apply(instantiate, this, args)) as { instance?: { exports: WasmExports }; exports?: WasmExports };
        exports = r.instance?.exports ?? r.exports ?? null;
        return r;
      };
      let lw: { module: LuaModule };
      try {
        lw = await wasmoon.LuaWasm.initialize();
      } finally {
        wasm.instantiate = instantiate;
      }
      mod = exports === null ? lw.module : directCalls(lw.module, exports);
    })();
  }
  return loading;
}

/**
 * wasmoon's build calls every C export through an assertion wrapper (`f.apply(null, arguments)`
 * after checking the runtime started), about a tenth of the CPU of an EVALSHA running one command.
 * The C API calls go to the instance's exports instead; everything else (heap views, which are
 * replaced when the memory grows, addFunction) stays the module's.
 */
function directCalls(module: LuaModule, exports: WasmExports): LuaModule {
  const direct = Object.create(module) as Record<string, unknown>;
  for (const key of Object.keys(module)) {
    const raw = key.startsWith('_') ? exports[key.slice(1)] : undefined;
    if (typeof raw === 'function') direct[key] = raw;
  }
  return direct as unknown as LuaModule;
}

export function luaLoaded(): boolean {
  return mod !== null;
}

/** A JS function callable from Lua: reads its arguments from the stack, pushes results, returns their count. */
export type CFunction = (L: LuaState) => number;

/** The `throw` value of lua_error / longjmp in this build. */
function isLuaUnwind(e: unknown): boolean {
  return e === Infinity;
}

/**
 * One Lua interpreter state with byte-exact string helpers. Stack indexes follow the C API (negative
 * from the top). Methods that may raise a Lua error say so; they unwind to the nearest protected call.
 */
export class LuaState {
  readonly m: LuaModule;
  /** The main thread. */
  readonly main: number;
  /** The thread the API calls act on: the main thread, or a coroutine while its call into JS runs. */
  L: number;
  private scratch: number;
  private scratchSize: number;
  private readonly lenp: number;
  private readonly fnPtrs: number[] = [];
  private readonly names = new Map<string, number>();
  private hookPtr = 0;
  private closed = false;

  constructor() {
    if (mod === null) throw new Error('Lua is not loaded (loadLua() was not awaited)');
    this.m = mod;
    this.main = this.m._luaL_newstate();
    this.L = this.main;
    this.scratchSize = 4096;
    this.scratch = this.m._malloc(this.scratchSize);
    this.lenp = this.m._malloc(8);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.m._lua_close(this.main);
    for (const p of this.fnPtrs) this.m.removeFunction(p);
    if (this.hookPtr !== 0) this.m.removeFunction(this.hookPtr);
    this.m._free(this.scratch);
    this.m._free(this.lenp);
    for (const p of this.names.values()) this.m._free(p);
  }

  openLibs(): void {
    this.m._luaL_openlibs(this.L);
  }

  /** A NUL-terminated copy of a constant name in the heap (cached: field names, chunk names). */
  cname(s: string): number {
    let p = this.names.get(s);
    if (p === undefined) {
      p = this.m._malloc(s.length + 1);
      const h = this.m.HEAPU8;
      for (let i = 0; i < s.length; i++) h[p + i] = s.charCodeAt(i);
      h[p + s.length] = 0;
      this.names.set(s, p);
    }
    return p;
  }

  private reserve(n: number): number {
    if (n > this.scratchSize) {
      this.m._free(this.scratch);
      this.scratchSize = Math.max(n, this.scratchSize * 2);
      this.scratch = this.m._malloc(this.scratchSize);
      if (this.scratch === 0) throw new Error('out of WebAssembly memory');
    }
    return this.scratch;
  }

  // ------------------------------------------------------------------ stack

  top(): number {
    return this.m._lua_gettop(this.L);
  }

  setTop(idx: number): void {
    this.m._lua_settop(this.L, idx);
  }

  pop(n = 1): void {
    this.m._lua_settop(this.L, -n - 1);
  }

  checkStack(n: number): boolean {
    return this.m._lua_checkstack(this.L, n) !== 0;
  }

  type(idx: number): number {
    return this.m._lua_type(this.L, idx);
  }

  /** lua_typename of the value at idx ("no value" past the top). */
  typeName(idx: number): string {
    return TYPE_NAMES[this.m._lua_type(this.L, idx) + 1] ?? 'userdata';
  }

  pushValue(idx: number): void {
    this.m._lua_pushvalue(this.L, idx);
  }

  /** lua_insert: move the top element to `idx`. */
  insert(idx: number): void {
    this.m._lua_rotate(this.L, idx, 1);
  }

  /** lua_remove. */
  remove(idx: number): void {
    this.m._lua_rotate(this.L, idx, -1);
    this.pop();
  }

  pushNil(): void {
    this.m._lua_pushnil(this.L);
  }

  pushBoolean(b: boolean): void {
    this.m._lua_pushboolean(this.L, b ? 1 : 0);
  }

  pushInteger(n: number | bigint): void {
    this.m._lua_pushinteger(this.L, typeof n === 'bigint' ? n : BigInt(n));
  }

  pushNumber(n: number): void {
    this.m._lua_pushnumber(this.L, n);
  }

  pushLightUserdata(p: number): void {
    this.m._lua_pushlightuserdata(this.L, p);
  }

  /** Push a latin1 string as its bytes. */
  pushString(s: string): void {
    const n = s.length;
    const p = this.reserve(n);
    const h = this.m.HEAPU8;
    for (let i = 0; i < n; i++) h[p + i] = s.charCodeAt(i);
    this.m._lua_pushlstring(this.L, p, n);
  }

  /** Push bytes [start, end) of a buffer as a Lua string. */
  pushBytes(b: Uint8Array, start = 0, end = b.length): void {
    const n = end - start;
    const p = this.reserve(n);
    this.m.HEAPU8.set(b.subarray(start, end), p);
    this.m._lua_pushlstring(this.L, p, n);
  }

  /** The string (or number, converted in place as lua_tolstring does) at idx as latin1, or null. */
  toString(idx: number): string | null {
    const p = this.m._lua_tolstring(this.L, idx, this.lenp);
    if (p === 0) return null;
    const n = this.m.HEAPU32[this.lenp >> 2]!;
    return Buffer.from(this.m.HEAPU8.buffer, p, n).latin1Slice(0, n);
  }

  /** Bytes of the string at idx (a copy), or null. */
  toBytes(idx: number): Buffer | null {
    const p = this.m._lua_tolstring(this.L, idx, this.lenp);
    if (p === 0) return null;
    const n = this.m.HEAPU32[this.lenp >> 2]!;
    return Buffer.from(this.m.HEAPU8.subarray(p, p + n));
  }

  toBoolean(idx: number): boolean {
    return this.m._lua_toboolean(this.L, idx) !== 0;
  }

  isInteger(idx: number): boolean {
    return this.m._lua_isinteger(this.L, idx) !== 0;
  }

  toNumber(idx: number): number {
    return this.m._lua_tonumberx(this.L, idx, 0);
  }

  toInteger(idx: number): bigint {
    return this.m._lua_tointegerx(this.L, idx, 0);
  }

  toUserdata(idx: number): number {
    return this.m._lua_touserdata(this.L, idx);
  }

  /** True when the value at idx is a number or a string convertible to one (lua_isnumber). */
  isNumber(idx: number): boolean {
    const isnum = this.lenp;
    this.m._lua_tonumberx(this.L, idx, isnum);
    return this.m.HEAPU32[isnum >> 2] !== 0;
  }

  // ------------------------------------------------------------------ tables

  newTable(narr = 0, nrec = 0): void {
    this.m._lua_createtable(this.L, narr, nrec);
  }

  rawGet(idx: number): number {
    return this.m._lua_rawget(this.L, idx);
  }

  rawSet(idx: number): void {
    this.m._lua_rawset(this.L, idx);
  }

  rawGetI(idx: number, n: number): number {
    return this.m._lua_rawgeti(this.L, idx, BigInt(n));
  }

  rawSetI(idx: number, n: number): void {
    this.m._lua_rawseti(this.L, idx, BigInt(n));
  }

  rawLen(idx: number): number {
    return Number(this.m._lua_rawlen(this.L, idx));
  }

  /** Push t[name] (raw) for the table at idx. */
  rawGetField(idx: number, name: string): number {
    const abs = idx < 0 && idx > REGISTRY ? this.top() + idx + 1 : idx;
    this.pushString(name);
    return this.m._lua_rawget(this.L, abs);
  }

  /** t[name] = top (raw), popping the value. */
  rawSetField(idx: number, name: string): void {
    const abs = idx < 0 && idx > REGISTRY ? this.top() + idx + 1 : idx;
    this.pushString(name);
    this.insert(-2);
    this.m._lua_rawset(this.L, abs);
  }

  next(idx: number): boolean {
    return this.m._lua_next(this.L, idx) !== 0;
  }

  setUpvalue(funcIdx: number, n: number): boolean {
    return this.m._lua_setupvalue(this.L, funcIdx, n) !== 0;
  }

  // ------------------------------------------------------------------ code

  /** Compile a chunk (text only); pushes the function, or the error message and returns false. */
  load(src: string, chunkName: string): boolean {
    const n = src.length;
    const p = this.reserve(n);
    const h = this.m.HEAPU8;
    for (let i = 0; i < n; i++) h[p + i] = src.charCodeAt(i);
    return this.m._luaL_loadbufferx(this.L, p, n, this.cname(chunkName), this.cname('t')) === 0;
  }

  /** lua_pcall: 0 on success, else an error status with the error object on top. */
  pcall(nargs: number, nresults: number, errfunc: number): number {
    return this.m._lua_pcallk(this.L, nargs, nresults, errfunc, 0, 0);
  }

  /** luaL_where: "chunkname:currentline: " of the function at `level` (1 = the caller of the running C function), or "". */
  where(level: number): string {
    this.m._luaL_where(this.L, level);
    const s = this.toString(-1) ?? '';
    this.pop();
    return s;
  }

  /** Raise the value on top of the stack as a Lua error (does not return). */
  error(): never {
    this.m._lua_error(this.L);
    throw new Error('unreachable: lua_error returned');
  }

  /** Raise a string error (does not return). */
  errorString(msg: string): never {
    this.pushString(msg);
    return this.error();
  }

  /** Raise "<where>msg" like luaL_error, positioned at the script line that called the running C function (does not return). */
  errorWhere(msg: string): never {
    return this.errorString(`${this.where(1)}${msg}`);
  }

  /**
   * Push a JS function as a Lua C function. A JS exception thrown by `fn` becomes a Lua error
   * ("internal error: ..."); a Lua error raised inside it unwinds normally.
   */
  pushCFunction(fn: CFunction): void {
    const ptr = this.m.addFunction((L: number) => this.callFromLua(L, fn), 'ii');
    this.fnPtrs.push(ptr);
    this.m._lua_pushcclosure(this.L, ptr, 0);
  }

  /**
   * Install the count hook on the main thread (coroutines created afterwards inherit it): `fn` runs
   * every `count` VM instructions with the running thread current and may raise a Lua error. A JS
   * exception from `fn` becomes a Lua error like in {@link pushCFunction}.
   */
  setHook(fn: () => void, count: number): void {
    if (this.hookPtr === 0) {
      this.hookPtr = this.m.addFunction((L: number) => {
        this.callFromLua(L, () => {
          this.hookFn?.();
          return 0;
        });
      }, 'vii');
    }
    this.hookFn = fn;
    this.m._lua_sethook(this.main, this.hookPtr, MASK_COUNT, count);
  }

  /** From inside the hook: fire on every line and every instruction of the current thread from now on. */
  hookEveryInstruction(): void {
    this.m._lua_sethook(this.L, this.hookPtr, MASK_LINE | MASK_COUNT, 1);
  }

  clearHook(): void {
    this.hookFn = null;
    this.m._lua_sethook(this.main, 0, 0, 0);
  }

  private hookFn: (() => void) | null = null;

  /**
   * Run a JS callback the interpreter called on thread `L`, with `L` current: a Lua error it raises
   * unwinds normally, any other JS exception becomes the Lua error "internal error: ...".
   */
  private callFromLua(L: number, fn: CFunction): number {
    const saved = this.L;
    this.L = L;
    try {
      return fn(this);
    } catch (e) {
      if (isLuaUnwind(e)) throw e;
      this.pushString(`internal error: ${(e as Error)?.message ?? String(e)}`);
      return this.m._lua_error(L);
    } finally {
      this.L = saved;
    }
  }
}
