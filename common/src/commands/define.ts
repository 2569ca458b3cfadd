/**
 * Compact builders for command specs. A family file lists its commands as
 *   cmd('get', 2, 'readonly fast', 'string', 'Returns the string value of a key.', '1.0.0', { keys: k(1) })
 * and the table derives legacy key triples, movable-keys and ACL categories from that data.
 */
import type { CommandFlag, CommandSpec, KeySpec } from './types';

export interface CmdOptions {
  keys?: KeySpec[];
  acl?: string;
  complexity?: string;
  tips?: string[];
  subcommands?: CommandSpec[];
}

const GROUP_ACL: Record<string, string> = {
  string: 'string',
  list: 'list',
  hash: 'hash',
  set: 'set',
  'sorted-set': 'sortedset',
  hyperloglog: 'hyperloglog',
  bitmap: 'bitmap',
  generic: 'keyspace',
  connection: 'connection',
  server: '',
  pubsub: 'pubsub',
  transactions: 'transaction',
  scripting: 'scripting',
  cluster: '',
  geo: 'geo',
  stream: 'stream',
};

export function cmd(
  name: string,
  arity: number,
  flags: string,
  group: string,
  summary: string,
  since: string,
  opts: CmdOptions = {},
): CommandSpec {
  const flagList = flags.split(/\s+/).filter(Boolean) as CommandFlag[];
  const keySpecs = opts.keys ?? [];
  const acl = new Set<string>();
  const g = GROUP_ACL[group];
  if (g) acl.add(g);
  for (const a of (opts.acl ?? '').split(/\s+/).filter(Boolean)) acl.add(a.replace(/^@/, ''));
  if (flagList.includes('write')) acl.add('write');
  if (flagList.includes('readonly') && !acl.has('scripting')) acl.add('read');
  if (flagList.includes('admin')) {
    acl.add('admin');
    acl.add('dangerous');
  }
  if (flagList.includes('pubsub')) acl.add('pubsub');
  if (flagList.includes('fast')) acl.add('fast');
  else acl.add('slow');
  if (flagList.includes('blocking')) acl.add('blocking');
  const movableKeys = keySpecs.some((s) => 'keyword' in s.begin || 'keyNumIdx' in s.find);
  const spec: CommandSpec = {
    name,
    arity,
    flags: flagList,
    group,
    summary,
    since,
    complexity: opts.complexity,
    acl: [...acl],
    keySpecs,
    tips: opts.tips,
    movableKeys,
    legacy: legacyTriple(keySpecs),
  };
  if (opts.subcommands) {
    spec.subcommands = new Map();
    for (const sub of opts.subcommands) {
      sub.container = name;
      sub.name = `${name}|${sub.name}`;
      spec.subcommands.set(sub.name.slice(name.length + 1), sub);
    }
  }
  return spec;
}

/** A subcommand spec (its name is prefixed with the container's when attached). */
export const sub = cmd;

/**
 * Range key spec: keys from argv[first] to argv[last] (negative last counts from the end: -1 = last arg)
 * every `step` args. Flags default to RW access.
 */
export function k(first: number, last = first, step = 1, flags = 'RW access'): KeySpec {
  return { begin: { index: first }, find: { lastKey: last < 0 ? last : last - first, keyStep: step, limit: 0 }, flags: flags.split(' ') };
}

/** Key-count spec: argv[numIdx] holds the number of keys, which follow it every `step` args. */
export function knum(numIdx: number, step = 1, flags = 'RW access'): KeySpec {
  return { begin: { index: numIdx }, find: { keyNumIdx: 0, firstKey: 1, keyStep: step }, flags: flags.split(' ') };
}

/** Keys after a keyword, e.g. SORT ... STORE key. */
export function kword(keyword: string, startFrom: number, count = 0, flags = 'OW update'): KeySpec {
  return { begin: { keyword, startFrom }, find: { lastKey: count, keyStep: 1, limit: 0 }, flags: flags.split(' ') };
}

function legacyTriple(specs: KeySpec[]): [number, number, number] {
  let first = 0;
  let last = 0;
  let step = 0;
  for (const s of specs) {
    if (!('index' in s.begin) || !('lastKey' in s.find)) break;
    const f = s.begin.index;
    const l = s.find.lastKey < 0 ? s.find.lastKey : f + s.find.lastKey;
    if (first === 0) {
      first = f;
      last = l;
      step = s.find.keyStep;
    } else if (last >= 0 && f === last + step && s.find.keyStep === step) {
      last = l;
    } else break;
  }
  return [first, last, step];
}
