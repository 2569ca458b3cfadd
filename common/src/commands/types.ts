/**
 * The command table's declarative half: what a command is (arity, flags, keys, ACL categories),
 * independent of how it runs. cluster-node pairs each spec with a handler; the gateway reads the
 * same specs to route requests by key and to decide what a read-only token may run.
 */

export type CommandFlag =
  | 'write'
  | 'readonly'
  | 'denyoom'
  | 'admin'
  | 'pubsub'
  | 'noscript'
  | 'blocking'
  | 'loading'
  | 'stale'
  | 'fast'
  | 'no_auth'
  | 'may_replicate'
  | 'no_multi'
  | 'allow_busy'
  | 'skip_monitor'
  | 'skip_slowlog'
  | 'no_mandatory_keys'
  | 'sentinel'
  | 'only_sentinel'
  | 'module'
  | 'asking'
  | 'no_async_loading';

/** Where the search for keys begins: a fixed argv index, or after a keyword. */
export type BeginSearch = { index: number } | { keyword: string; startFrom: number };

/** How keys are found from the begin point: a range, or a key count stored in argv. */
export type FindKeys =
  | { lastKey: number; keyStep: number; limit: number }
  | { keyNumIdx: number; firstKey: number; keyStep: number };

export interface KeySpec {
  begin: BeginSearch;
  find: FindKeys;
  /** Redis key-spec flags: RW RO OW RM access update insert delete not_key incomplete variable_flags. */
  flags: string[];
  /** Redis's key-spec notes (COMMAND INFO shows them before the flags). */
  notes?: string;
}

export interface CommandSpec {
  /** Lower-case name; subcommands are "container|sub". */
  name: string;
  /** N = exactly N args (name included); -N = at least N. */
  arity: number;
  flags: CommandFlag[];
  /** Docs group: string, list, hash, set, sorted-set, hyperloglog, bitmap, generic, connection, server, pubsub, transactions, cluster, scripting. */
  group: string;
  summary: string;
  since: string;
  complexity?: string;
  /** ACL categories without '@' (derived ones such as read/write/fast/slow are added automatically). */
  acl: string[];
  keySpecs: KeySpec[];
  tips?: string[];
  subcommands?: Map<string, CommandSpec>;
  /** Container commands: the parent name. */
  container?: string;
  /** True when keys cannot be found from key specs alone (set from specs). */
  movableKeys: boolean;
  /** Keys a legacy (first, last, step) triple describes. */
  legacy: [number, number, number];
}
