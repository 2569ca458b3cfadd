/**
 * Command specs: scripting family (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT). Arity, flags, key
 * specs (the numkeys argument: COMMAND GETKEYS, cluster routing and the gateway read the declared
 * keys from it), tips and docs follow `COMMAND INFO` / `COMMAND DOCS` of redis-server 7.0.
 */
import type { CommandSpec } from '../types';
import { cmd, knum, sub } from '../define';

const G = 'scripting';
const RUN = 'noscript stale skip_monitor no_mandatory_keys';
const RUN_RO = `readonly ${RUN}`;
const DEPENDS = 'Depends on the script that is executed.';
const RW_KEYS = { ...knum(2, 1, 'RW access update'), notes: 'We cannot tell how the keys will be used so we assume the worst, RW and UPDATE' };
const RO_KEYS = { ...knum(2, 1, 'RO access'), notes: 'We cannot tell how the keys will be used so we assume the worst, RO and ACCESS' };

const script = cmd('script', -2, '', G, 'A container for Lua scripts management commands', '2.6.0', {
  complexity: 'Depends on subcommand.',
  subcommands: [
    sub('debug', 3, 'noscript', G, 'Set the debug mode for executed scripts.', '3.2.0', { complexity: 'O(1)' }),
    sub('exists', -3, 'noscript', G, 'Check existence of scripts in the script cache.', '2.6.0', {
      complexity: 'O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).',
      tips: ['request_policy:all_shards', 'response_policy:agg_logical_and'],
    }),
    sub('flush', -2, 'noscript', G, 'Remove all the scripts from the script cache.', '2.6.0', {
      complexity: 'O(N) with N being the number of scripts in cache',
      tips: ['request_policy:all_nodes', 'response_policy:all_succeeded'],
    }),
    sub('help', 2, 'loading stale', G, 'Show helpful text about the different subcommands', '5.0.0', { complexity: 'O(1)' }),
    sub('kill', 2, 'noscript allow_busy', G, 'Kill the script currently in execution.', '2.6.0', {
      complexity: 'O(1)',
      tips: ['request_policy:all_shards', 'response_policy:one_succeeded'],
    }),
    sub('load', 3, 'noscript stale', G, 'Load the specified Lua script into the script cache.', '2.6.0', {
      complexity: 'O(N) with N being the length in bytes of the script body.',
      tips: ['request_policy:all_nodes', 'response_policy:all_succeeded'],
    }),
  ],
});
// Like every container, SCRIPT itself is only @slow (its subcommands are @scripting).
script.acl = ['slow'];

export const specs: CommandSpec[] = [
  cmd('eval', -3, RUN, G, 'Execute a Lua script server side', '2.6.0', { complexity: DEPENDS, keys: [RW_KEYS] }),
  cmd('evalsha', -3, RUN, G, 'Execute a Lua script server side', '2.6.0', { complexity: DEPENDS, keys: [knum(2, 1, 'RW access update')] }),
  cmd('eval_ro', -3, RUN_RO, G, 'Execute a read-only Lua script server side', '7.0.0', { complexity: DEPENDS, keys: [RO_KEYS] }),
  cmd('evalsha_ro', -3, RUN_RO, G, 'Execute a read-only Lua script server side', '7.0.0', { complexity: DEPENDS, keys: [knum(2, 1, 'RO access')] }),
  script,
];
