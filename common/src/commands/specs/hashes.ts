/** Command specs: hashes family (flags, key specs and docs as in Redis 7.0's COMMAND INFO / DOCS). */
import type { CommandSpec } from '../types';
import { cmd, k } from '../define';

const G = 'hash';
const RO = 'RO access';
const NDO = ['nondeterministic_output'];
const NDOO = ['nondeterministic_output_order'];

export const specs: CommandSpec[] = [
  cmd('hset', -4, 'write denyoom fast', G, 'Set the string value of a hash field', '2.0.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity: 'O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.',
  }),
  cmd('hsetnx', 4, 'write denyoom fast', G, 'Set the value of a hash field, only if the field does not exist', '2.0.0', {
    keys: [k(1, 1, 1, 'RW insert')],
    complexity: 'O(1)',
  }),
  cmd('hget', 3, 'readonly fast', G, 'Get the value of a hash field', '2.0.0', { keys: [k(1, 1, 1, RO)], complexity: 'O(1)' }),
  cmd('hmget', -3, 'readonly fast', G, 'Get the values of all the given hash fields', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the number of fields being requested.',
  }),
  cmd('hmset', -4, 'write denyoom fast', G, 'Set multiple hash fields to multiple values', '2.0.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity: 'O(N) where N is the number of fields being set.',
  }),
  cmd('hdel', -3, 'write fast', G, 'Delete one or more hash fields', '2.0.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(N) where N is the number of fields to be removed.',
  }),
  cmd('hlen', 2, 'readonly fast', G, 'Get the number of fields in a hash', '2.0.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('hstrlen', 3, 'readonly fast', G, 'Get the length of the value of a hash field', '3.2.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('hexists', 3, 'readonly fast', G, 'Determine if a hash field exists', '2.0.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('hkeys', 2, 'readonly', G, 'Get all the fields in a hash', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the size of the hash.',
    tips: NDOO,
  }),
  cmd('hvals', 2, 'readonly', G, 'Get all the values in a hash', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the size of the hash.',
    tips: NDOO,
  }),
  cmd('hgetall', 2, 'readonly', G, 'Get all the fields and values in a hash', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the size of the hash.',
    tips: NDOO,
  }),
  cmd('hincrby', 4, 'write denyoom fast', G, 'Increment the integer value of a hash field by the given number', '2.0.0', {
    keys: [k(1, 1, 1, 'RW access update')],
    complexity: 'O(1)',
  }),
  cmd('hincrbyfloat', 4, 'write denyoom fast', G, 'Increment the float value of a hash field by the given amount', '2.6.0', {
    keys: [k(1, 1, 1, 'RW access update')],
    complexity: 'O(1)',
  }),
  cmd('hrandfield', -2, 'readonly', G, 'Get one or multiple random fields from a hash', '6.2.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the number of fields returned',
    tips: NDO,
  }),
  cmd('hscan', -3, 'readonly', G, 'Incrementally iterate hash fields and associated values', '2.8.0', {
    keys: [k(1, 1, 1, RO)],
    complexity:
      'O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..',
    tips: NDO,
  }),
];
