/**
 * Command specs: server family (INFO, CONFIG, COMMAND, TIME, LASTSAVE, MONITOR, SLOWLOG, MEMORY,
 * LATENCY, DEBUG, ROLE, SHUTDOWN). Arity, flags, ACL categories, tips, key specs and docs follow
 * `COMMAND INFO` / `COMMAND DOCS` of redis-server 7.0.
 */
import type { CommandSpec } from '../types';
import { cmd, k, sub } from '../define';

const G = 'server';

/** Tips shared by many introspection commands. */
const ND = 'nondeterministic_output';
const NDO = 'nondeterministic_output_order';
const ALL_SHARDS = 'request_policy:all_shards';
const ALL_NODES = 'request_policy:all_nodes';
const SPECIAL = 'response_policy:special';
const ALL_OK = 'response_policy:all_succeeded';

const HELP = 'Show helpful text about the different subcommands';

export const specs: CommandSpec[] = [
  cmd('info', -1, 'loading stale', G, 'Get information and statistics about the server', '1.0.0', {
    acl: 'dangerous',
    complexity: 'O(1)',
    tips: [ND, ALL_SHARDS, SPECIAL],
  }),
  cmd('config', -2, '', G, 'A container for server configuration commands', '2.0.0', {
    complexity: 'Depends on subcommand.',
    subcommands: [
      sub('get', -3, 'admin noscript loading stale', G, 'Get the values of configuration parameters', '2.0.0', {
        complexity: 'O(N) when N is the number of configuration parameters provided',
      }),
      sub('set', -4, 'admin noscript loading stale', G, 'Set configuration parameters to the given values', '2.0.0', {
        complexity: 'O(N) when N is the number of configuration parameters provided',
        tips: [ALL_NODES, ALL_OK],
      }),
      sub('resetstat', 2, 'admin noscript loading stale', G, 'Reset the stats returned by INFO', '2.0.0', { complexity: 'O(1)' }),
      sub('rewrite', 2, 'admin noscript loading stale', G, 'Rewrite the configuration file with the in memory configuration', '2.8.0', { complexity: 'O(1)' }),
      sub('help', 2, 'loading stale', G, HELP, '5.0.0', { complexity: 'O(1)' }),
    ],
  }),
  cmd('command', -1, 'loading stale', G, 'Get array of Redis command details', '2.8.13', {
    acl: 'connection',
    complexity: 'O(N) where N is the total number of Redis commands',
    tips: [NDO],
    subcommands: [
      sub('count', 2, 'loading stale', G, 'Get total number of Redis commands', '2.8.13', { acl: 'connection', complexity: 'O(1)' }),
      sub('docs', -2, 'loading stale', G, 'Get array of specific Redis command documentation', '7.0.0', {
        acl: 'connection',
        complexity: 'O(N) where N is the number of commands to look up',
        tips: [NDO],
      }),
      sub('getkeys', -4, 'loading stale', G, 'Extract keys given a full Redis command', '2.8.13', {
        acl: 'connection',
        complexity: 'O(N) where N is the number of arguments to the command',
      }),
      sub('getkeysandflags', -4, 'loading stale', G, 'Extract keys and access flags given a full Redis command', '7.0.0', {
        acl: 'connection',
        complexity: 'O(N) where N is the number of arguments to the command',
      }),
      sub('info', -2, 'loading stale', G, 'Get array of specific Redis command details, or all when no argument is given.', '2.8.13', {
        acl: 'connection',
        complexity: 'O(N) where N is the number of commands to look up',
        tips: [NDO],
      }),
      sub('list', -2, 'loading stale', G, 'Get an array of Redis command names', '7.0.0', {
        acl: 'connection',
        complexity: 'O(N) where N is the total number of Redis commands',
        tips: [NDO],
      }),
      sub('help', 2, 'loading stale', G, HELP, '5.0.0', { acl: 'connection', complexity: 'O(1)' }),
    ],
  }),
  cmd('time', 1, 'loading stale fast', G, 'Return the current server time', '2.6.0', { complexity: 'O(1)', tips: [ND] }),
  cmd('lastsave', 1, 'loading stale fast', G, 'Get the UNIX time stamp of the last successful save to disk', '1.0.0', {
    acl: 'admin dangerous',
    complexity: 'O(1)',
    tips: [ND],
  }),
  cmd('monitor', 1, 'admin noscript loading stale', G, 'Listen for all requests received by the server in real time', '1.0.0'),
  cmd('slowlog', -2, '', G, 'A container for slow log commands', '2.2.12', {
    complexity: 'Depends on subcommand.',
    subcommands: [
      sub('get', -2, 'admin loading stale', G, "Get the slow log's entries", '2.2.12', {
        complexity: 'O(N) where N is the number of entries returned',
        tips: [ALL_NODES, ND],
      }),
      sub('len', 2, 'admin loading stale', G, "Get the slow log's length", '2.2.12', {
        complexity: 'O(1)',
        tips: [ALL_NODES, 'response_policy:agg_sum', ND],
      }),
      sub('reset', 2, 'admin loading stale', G, 'Clear all entries from the slow log', '2.2.12', {
        complexity: 'O(N) where N is the number of entries in the slowlog',
        tips: [ALL_NODES, ALL_OK],
      }),
      sub('help', 2, 'loading stale', G, HELP, '6.2.0', { complexity: 'O(1)' }),
    ],
  }),
  cmd('memory', -2, '', G, 'A container for memory diagnostics commands', '4.0.0', {
    complexity: 'Depends on subcommand.',
    subcommands: [
      sub('doctor', 2, '', G, 'Outputs memory problems report', '4.0.0', { complexity: 'O(1)', tips: [ND, ALL_SHARDS, SPECIAL] }),
      sub('malloc-stats', 2, '', G, 'Show allocator internal stats', '4.0.0', {
        complexity: 'Depends on how much memory is allocated, could be slow',
        tips: [ND, ALL_SHARDS, SPECIAL],
      }),
      sub('purge', 2, '', G, 'Ask the allocator to release memory', '4.0.0', {
        complexity: 'Depends on how much memory is allocated, could be slow',
        tips: [ALL_SHARDS, ALL_OK],
      }),
      sub('stats', 2, '', G, 'Show memory usage details', '4.0.0', { complexity: 'O(1)', tips: [ND, ALL_SHARDS, SPECIAL] }),
      sub('usage', -3, 'readonly', G, 'Estimate the memory usage of a key', '4.0.0', {
        complexity: 'O(N) where N is the number of samples.',
        keys: [k(2, 2, 1, 'RO')],
      }),
      sub('help', 2, 'loading stale', G, HELP, '4.0.0', { complexity: 'O(1)' }),
    ],
  }),
  cmd('latency', -2, '', G, 'A container for latency diagnostics commands', '2.8.13', {
    complexity: 'Depends on subcommand.',
    subcommands: [
      sub('doctor', 2, 'admin noscript loading stale', G, 'Return a human readable latency analysis report.', '2.8.13', {
        complexity: 'O(1)',
        tips: [ND, ALL_NODES, SPECIAL],
      }),
      sub('history', 3, 'admin noscript loading stale', G, 'Return timestamp-latency samples for the event.', '2.8.13', {
        complexity: 'O(1)',
        tips: [ND, ALL_NODES, SPECIAL],
      }),
      sub('latest', 2, 'admin noscript loading stale', G, 'Return the latest latency samples for all events.', '2.8.13', {
        complexity: 'O(1)',
        tips: [ND, ALL_NODES, SPECIAL],
      }),
      sub('reset', -2, 'admin noscript loading stale', G, 'Reset latency data for one or more events.', '2.8.13', {
        complexity: 'O(1)',
        tips: [ALL_NODES, ALL_OK],
      }),
      sub('help', 2, 'loading stale', G, `${HELP}.`, '2.8.13', { complexity: 'O(1)' }),
    ],
  }),
  cmd('debug', -2, 'admin noscript loading stale', G, 'A container for debugging commands', '1.0.0', {
    complexity: 'Depends on subcommand.',
  }),
  cmd('role', 1, 'noscript loading stale fast', G, 'Return the role of the instance in the context of replication', '2.8.12', { acl: 'admin dangerous', complexity: 'O(1)' }),
  cmd('shutdown', -1, 'admin noscript loading stale no_multi allow_busy', G, 'Synchronously save the dataset to disk and then shut down the server', '1.0.0', {
    complexity: 'O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)',
  }),
];
