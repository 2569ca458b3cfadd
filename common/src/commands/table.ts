/**
 * The command table: every command spec by lower-case name, plus key extraction from argv.
 * Both cluster-node (dispatch, cluster redirects, COMMAND) and the gateway (routing, permissions) use it.
 */
import type { CommandSpec, KeySpec } from './types';
import { specs as stringSpecs } from './specs/strings';
import { specs as keySpecs } from './specs/keys';
import { specs as listSpecs } from './specs/lists';
import { specs as hashSpecs } from './specs/hashes';
import { specs as setSpecs } from './specs/sets';
import { specs as zsetSpecs } from './specs/zsets';
import { specs as hllSpecs } from './specs/hyperloglog';
import { specs as bitmapSpecs } from './specs/bitmaps';
import { specs as pubsubSpecs } from './specs/pubsub';
import { specs as txSpecs } from './specs/transactions';
import { specs as connectionSpecs } from './specs/connection';
import { specs as serverSpecs } from './specs/server';
import { specs as clusterSpecs } from './specs/cluster';
import { specs as replicationSpecs } from './specs/replication';
import { specs as scriptingSpecs } from './specs/scripting';

export type { CommandSpec, KeySpec } from './types';

export const ALL_SPECS: readonly CommandSpec[] = [
  ...stringSpecs,
  ...keySpecs,
  ...listSpecs,
  ...hashSpecs,
  ...setSpecs,
  ...zsetSpecs,
  ...hllSpecs,
  ...bitmapSpecs,
  ...pubsubSpecs,
  ...txSpecs,
  ...connectionSpecs,
  ...serverSpecs,
  ...clusterSpecs,
  ...replicationSpecs,
  ...scriptingSpecs,
];

export const COMMANDS: ReadonlyMap<string, CommandSpec> = (() => {
  const m = new Map<string, CommandSpec>();
  for (const s of ALL_SPECS) {
    if (m.has(s.name)) throw new Error(`duplicate command spec: ${s.name}`);
    m.set(s.name, s);
  }
  return m;
})();

/** Look a command up by name in any case (argv[0]); for containers, resolve the subcommand too. */
export function lookupCommand(argv: readonly string[]): CommandSpec | undefined {
  const spec = COMMANDS.get(argv[0]) ?? COMMANDS.get(argv[0].toLowerCase());
  if (!spec || !spec.subcommands || argv.length < 2) return spec;
  return spec.subcommands.get(argv[1].toLowerCase()) ?? spec;
}

function parseCount(s: string | undefined): number {
  if (s === undefined || !/^-?\d+$/.test(s)) return -1;
  return Number(s);
}

/**
 * argv positions of the keys a command touches, per its key specs. Malformed key counts yield the keys
 * that can be found (the command itself reports the error when it runs).
 */
export function keyPositions(spec: CommandSpec, argv: readonly string[]): number[] {
  // Like Redis, a command with an incomplete key spec has its keys found by code instead.
  if (spec.name === 'migrate') return migrateKeyPositions(argv);
  const out: number[] = [];
  for (const ks of spec.keySpecs) collect(ks, argv, out);
  return out;
}

function collect(ks: KeySpec, argv: readonly string[], out: number[]): void {
  const argc = argv.length;
  let start: number;
  if ('index' in ks.begin) {
    start = ks.begin.index;
  } else {
    const kw = ks.begin.keyword.toLowerCase();
    const from = ks.begin.startFrom;
    start = -1;
    if (from >= 0) {
      for (let i = from; i < argc; i++) if (argv[i].toLowerCase() === kw) { start = i + 1; break; }
    } else {
      for (let i = argc + from; i > 0; i--) if (argv[i].toLowerCase() === kw) { start = i + 1; break; }
    }
    if (start < 0) return;
  }
  if (start >= argc) return;
  const f = ks.find;
  if ('lastKey' in f) {
    let last = f.lastKey >= 0 ? start + f.lastKey : argc + f.lastKey;
    if (f.lastKey < 0 && f.limit > 1) last = start + Math.floor((last - start) / f.limit);
    if (last >= argc) last = argc - 1;
    for (let i = start; i <= last; i += f.keyStep) out.push(i);
  } else {
    const n = parseCount(argv[start + f.keyNumIdx]);
    if (n <= 0) return;
    const first = start + f.firstKey;
    for (let i = 0; i < n; i++) {
      const p = first + i * f.keyStep;
      if (p >= argc) break;
      out.push(p);
    }
  }
}

/**
 * MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS k ...]: the key at 3,
 * or every argument after KEYS (then the key at 3 must be "", else no keys). Redis 7's migrateGetKeys.
 */
export function migrateKeyPositions(argv: readonly string[]): number[] {
  let first = 3;
  let num = 1;
  for (let i = 6; i < argv.length; i++) {
    const a = argv[i].toLowerCase();
    if (a === 'keys') {
      if (argv[3].length > 0) return [];
      first = i + 1;
      num = argv.length - first;
      break;
    }
    if (a === 'auth') i += 1;
    else if (a === 'auth2') i += 2;
  }
  const out: number[] = [];
  for (let i = 0; i < num && first + i < argv.length; i++) out.push(first + i);
  return out;
}

/** The keys themselves. */
export function commandKeys(spec: CommandSpec, argv: readonly string[]): string[] {
  return keyPositions(spec, argv).map((i) => argv[i]);
}

export function hasFlag(spec: CommandSpec, flag: CommandSpec['flags'][number]): boolean {
  return spec.flags.includes(flag);
}
