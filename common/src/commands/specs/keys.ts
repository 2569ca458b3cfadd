/** Command specs: keys family (generic keyspace commands). */
import type { CommandSpec } from '../types';
import { cmd, k, kword, sub } from '../define';

const G = 'generic';
const MULTI_SUM = ['request_policy:multi_shard', 'response_policy:agg_sum'];
const ALL_SUM = ['request_policy:all_shards', 'response_policy:agg_sum'];
const ALL_OK = ['request_policy:all_shards', 'response_policy:all_succeeded'];

export const specs: CommandSpec[] = [
  cmd('del', -2, 'write', G, 'Deletes one or more keys.', '1.0.0', { keys: [k(1, -1, 1, 'RM delete')], tips: MULTI_SUM, complexity: 'O(N)' }),
  cmd('unlink', -2, 'write fast', G, 'Asynchronously deletes one or more keys.', '4.0.0', {
    keys: [k(1, -1, 1, 'RM delete')],
    tips: MULTI_SUM,
    complexity: 'O(1) for each key removed regardless of its size.',
  }),
  cmd('exists', -2, 'readonly fast', G, 'Determines whether one or more keys exist.', '1.0.0', { keys: [k(1, -1, 1, 'RO')], tips: MULTI_SUM, complexity: 'O(N)' }),
  cmd('type', 2, 'readonly fast', G, 'Determines the type of value stored at a key.', '1.0.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('rename', 3, 'write', G, 'Renames a key and overwrites the destination.', '1.0.0', {
    keys: [k(1, 1, 1, 'RW access delete'), k(2, 2, 1, 'OW update')],
    complexity: 'O(1)',
  }),
  cmd('renamenx', 3, 'write fast', G, 'Renames a key only when the target key name doesn\'t exist.', '1.0.0', {
    keys: [k(1, 1, 1, 'RW access delete'), k(2, 2, 1, 'OW insert')],
    complexity: 'O(1)',
  }),
  cmd('expire', -3, 'write fast', G, 'Sets the expiration time of a key in seconds.', '1.0.0', { keys: [k(1, 1, 1, 'RW update')], complexity: 'O(1)' }),
  cmd('pexpire', -3, 'write fast', G, 'Sets the expiration time of a key in milliseconds.', '2.6.0', { keys: [k(1, 1, 1, 'RW update')], complexity: 'O(1)' }),
  cmd('expireat', -3, 'write fast', G, 'Sets the expiration time of a key to a Unix timestamp.', '1.2.0', { keys: [k(1, 1, 1, 'RW update')], complexity: 'O(1)' }),
  cmd('pexpireat', -3, 'write fast', G, 'Sets the expiration time of a key to a Unix milliseconds timestamp.', '2.6.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity: 'O(1)',
  }),
  cmd('ttl', 2, 'readonly fast', G, 'Returns the expiration time in seconds of a key.', '1.0.0', {
    keys: [k(1, 1, 1, 'RO access')],
    tips: ['nondeterministic_output'],
    complexity: 'O(1)',
  }),
  cmd('pttl', 2, 'readonly fast', G, 'Returns the expiration time in milliseconds of a key.', '2.6.0', {
    keys: [k(1, 1, 1, 'RO access')],
    tips: ['nondeterministic_output'],
    complexity: 'O(1)',
  }),
  cmd('expiretime', 2, 'readonly fast', G, 'Returns the expiration time of a key as a Unix timestamp.', '7.0.0', { keys: [k(1, 1, 1, 'RO access')], complexity: 'O(1)' }),
  cmd('pexpiretime', 2, 'readonly fast', G, 'Returns the expiration time of a key as a Unix milliseconds timestamp.', '7.0.0', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity: 'O(1)',
  }),
  cmd('persist', 2, 'write fast', G, 'Removes the expiration time of a key.', '2.2.0', { keys: [k(1, 1, 1, 'RW update')], complexity: 'O(1)' }),
  cmd('touch', -2, 'readonly fast', G, 'Returns the number of existing keys out of those specified after updating the time they were last accessed.', '3.2.1', {
    keys: [k(1, -1, 1, 'RO')],
    tips: MULTI_SUM,
    complexity: 'O(N) where N is the number of keys that will be touched.',
  }),
  cmd('keys', 2, 'readonly', G, 'Returns all key names that match a pattern.', '1.0.0', {
    acl: 'dangerous',
    tips: ['request_policy:all_shards', 'nondeterministic_output_order'],
    complexity: 'O(N) with N being the number of keys in the database',
  }),
  cmd('scan', -2, 'readonly', G, 'Iterates over the key names in the database.', '2.8.0', {
    tips: ['nondeterministic_output', 'request_policy:special'],
    complexity: 'O(1) for every call. O(N) for a complete iteration.',
  }),
  // Valkey 9.1. No key specs: the cursor is not a key, the cluster router special-cases it (cluster/router.ts).
  cmd('clusterscan', -2, 'readonly', G, 'Incrementally iterates over the key names of the whole cluster, one slot at a time.', '9.1.0', {
    tips: ['nondeterministic_output'],
    complexity: 'O(1) for every call. O(N) for a complete iteration.',
  }),
  cmd('randomkey', 1, 'readonly', G, 'Returns a random key name from the database.', '1.0.0', {
    tips: ['request_policy:all_shards', 'nondeterministic_output'],
    complexity: 'O(1)',
  }),
  cmd('dbsize', 1, 'readonly fast', 'server', 'Returns the number of keys in the database.', '1.0.0', { acl: 'keyspace', tips: ALL_SUM, complexity: 'O(1)' }),
  cmd('flushdb', -1, 'write', 'server', 'Removes all keys from the current database.', '1.0.0', {
    acl: 'keyspace dangerous',
    tips: ALL_OK,
    complexity: 'O(N) where N is the number of keys in the selected database',
  }),
  cmd('flushall', -1, 'write', 'server', 'Removes all keys from all databases.', '1.0.0', {
    acl: 'keyspace dangerous',
    tips: ALL_OK,
    complexity: 'O(N) where N is the total number of keys in all databases',
  }),
  cmd('swapdb', 3, 'write fast', 'server', 'Swaps two Redis databases.', '4.0.0', { acl: 'keyspace dangerous', complexity: 'O(N)' }),
  cmd('move', 3, 'write fast', G, 'Moves a key to another database.', '1.0.0', { keys: [k(1, 1, 1, 'RW access update')], complexity: 'O(1)' }),
  cmd('copy', -3, 'write denyoom', G, 'Copies the value of a key to a new key.', '6.2.0', {
    keys: [k(1, 1, 1, 'RO access'), k(2, 2, 1, 'OW update')],
    complexity: 'O(N) worst case for collections, where N is the number of nested items. O(1) for string values.',
  }),
  cmd('object', -2, '', G, 'A container for object introspection commands.', '2.2.3', {
    subcommands: [
      sub('encoding', 3, 'readonly', G, 'Returns the internal encoding of a Redis object.', '2.2.3', {
        keys: [k(2, 2, 1, 'RO')],
        tips: ['nondeterministic_output'],
        complexity: 'O(1)',
      }),
      sub('freq', 3, 'readonly', G, 'Returns the logarithmic access frequency counter of a Redis object.', '4.0.0', {
        keys: [k(2, 2, 1, 'RO')],
        tips: ['nondeterministic_output'],
        complexity: 'O(1)',
      }),
      sub('idletime', 3, 'readonly', G, 'Returns the time since the last access to a Redis object.', '2.2.3', {
        keys: [k(2, 2, 1, 'RO')],
        tips: ['nondeterministic_output'],
        complexity: 'O(1)',
      }),
      sub('refcount', 3, 'readonly', G, 'Returns the reference count of a value of a key.', '2.2.3', {
        keys: [k(2, 2, 1, 'RO')],
        tips: ['nondeterministic_output'],
        complexity: 'O(1)',
      }),
      sub('help', 2, 'loading stale', G, 'Returns helpful text about the different subcommands.', '6.2.0', { complexity: 'O(1)' }),
    ],
  }),
  cmd('dump', 2, 'readonly', G, 'Returns a serialized representation of the value stored at a key.', '2.6.0', {
    keys: [k(1, 1, 1, 'RO access')],
    tips: ['nondeterministic_output'],
    complexity: 'O(1) to access the key and additional O(N*M) to serialize it.',
  }),
  cmd('restore', -4, 'write denyoom', G, 'Creates a key from the serialized representation of a value.', '2.6.0', {
    keys: [k(1, 1, 1, 'OW update')],
    acl: 'dangerous',
    complexity: 'O(1) to create the new key and additional O(N*M) to reconstruct the serialized value.',
  }),
  // Texts as redis-server 7.0's COMMAND DOCS. The second key spec is incomplete (the key at 3 is "" in
  // the KEYS form), so key extraction uses migrateKeyPositions (table.ts), as Redis uses migrateGetKeys.
  cmd('migrate', -6, 'write', G, 'Atomically transfer a key from a Redis instance to another one.', '2.6.0', {
    keys: [k(3, 3, 1, 'RW access delete'), kword('KEYS', -2, -1, 'RW access delete incomplete')],
    acl: 'dangerous',
    tips: ['nondeterministic_output'],
    complexity:
      'This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.',
  }),
  cmd('restore-asking', -4, 'write denyoom asking', 'server', 'An internal command for migrating keys in a cluster', '3.0.0', {
    keys: [k(1, 1, 1, 'OW update')],
    acl: 'keyspace dangerous',
    complexity:
      'O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).',
  }),
  cmd('sort', -2, 'write denyoom', G, 'Sorts the elements in a list, a set, or a sorted set, optionally storing the result.', '1.0.0', {
    keys: [k(1, 1, 1, 'RO access'), kword('STORE', 2, 0, 'OW update')],
    acl: 'set sortedset list dangerous',
    complexity: 'O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements.',
  }),
  cmd('sort_ro', -2, 'readonly', G, 'Returns the sorted elements of a list, a set, or a sorted set.', '7.0.0', {
    keys: [k(1, 1, 1, 'RO access')],
    acl: 'set sortedset list dangerous',
    complexity: 'O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements.',
  }),
];
