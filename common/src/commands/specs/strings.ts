/** Command specs: strings family (flags, key specs and ACL categories as Redis 7's COMMAND INFO). */
import type { CommandSpec } from '../types';
import { cmd, k } from '../define';

const G = 'string';
const RO = (i = 1) => k(i, i, 1, 'RO access');
const RW_ACCESS_UPDATE = () => k(1, 1, 1, 'RW access update');
const OW_UPDATE = () => k(1, 1, 1, 'OW update');
const RANGE_COMPLEXITY =
  'O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.';

export const specs: CommandSpec[] = [
  cmd('get', 2, 'readonly fast', G, 'Returns the string value of a key.', '1.0.0', { keys: [k(1, 1, 1, 'RO access')], complexity: 'O(1)' }),
  cmd('set', -3, 'write denyoom', G, 'Sets the string value of a key, ignoring its type. The key is created if it doesn\'t exist.', '1.0.0', {
    keys: [{ ...k(1, 1, 1, 'RW access update variable_flags'), notes: 'RW and ACCESS due to the optional `GET` argument' }],
    complexity: 'O(1)',
  }),
  cmd('getex', -2, 'write fast', G, 'Returns the string value of a key after setting its expiration time.', '6.2.0', {
    keys: [{ ...RW_ACCESS_UPDATE(), notes: 'RW and UPDATE because it changes the TTL' }],
    complexity: 'O(1)',
  }),
  cmd('getdel', 2, 'write fast', G, 'Returns the string value of a key after deleting the key.', '6.2.0', {
    keys: [k(1, 1, 1, 'RW access delete')],
    complexity: 'O(1)',
  }),
  cmd('getset', 3, 'write denyoom fast', G, 'Returns the previous string value of a key after setting it to a new value.', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('mget', -2, 'readonly fast', G, 'Atomically returns the string values of one or more keys.', '1.0.0', {
    keys: [k(1, -1, 1, 'RO access')],
    complexity: 'O(N) where N is the number of keys to retrieve.',
    tips: ['request_policy:multi_shard'],
  }),
  cmd('mset', -3, 'write denyoom', G, 'Atomically creates or modifies the string values of one or more keys.', '1.0.1', {
    keys: [k(1, -1, 2, 'OW update')],
    complexity: 'O(N) where N is the number of keys to set.',
    tips: ['request_policy:multi_shard', 'response_policy:all_succeeded'],
  }),
  cmd('msetnx', -3, 'write denyoom', G, 'Atomically modifies the string values of one or more keys only when all keys don\'t exist.', '1.0.1', {
    keys: [k(1, -1, 2, 'OW insert')],
    complexity: 'O(N) where N is the number of keys to set.',
    tips: ['request_policy:multi_shard', 'response_policy:agg_min'],
  }),
  cmd('setnx', 3, 'write denyoom fast', G, 'Set the string value of a key only when the key doesn\'t exist.', '1.0.0', {
    keys: [k(1, 1, 1, 'OW insert')],
    complexity: 'O(1)',
  }),
  cmd('setex', 4, 'write denyoom', G, 'Sets the string value and expiration time of a key. Creates the key if it doesn\'t exist.', '2.0.0', {
    keys: [OW_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('psetex', 4, 'write denyoom', G, 'Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn\'t exist.', '2.6.0', {
    keys: [OW_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('append', 3, 'write denyoom fast', G, 'Appends a string to the value of a key. Creates the key if it doesn\'t exist.', '2.0.0', {
    keys: [k(1, 1, 1, 'RW insert')],
    complexity:
      'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.',
  }),
  cmd('strlen', 2, 'readonly fast', G, 'Returns the length of a string value.', '2.2.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('getrange', 4, 'readonly', G, 'Returns a substring of the string stored at a key.', '2.4.0', { keys: [RO()], complexity: RANGE_COMPLEXITY }),
  cmd('substr', 4, 'readonly', G, 'Returns a substring from a string value.', '1.0.0', { keys: [RO()], complexity: RANGE_COMPLEXITY }),
  cmd('setrange', 4, 'write denyoom', G, 'Overwrites a part of a string value with another by an offset. Creates the key if it doesn\'t exist.', '2.2.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity:
      'O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.',
  }),
  cmd('incr', 2, 'write denyoom fast', G, 'Increments the integer value of a key by one. Uses 0 as initial value if the key doesn\'t exist.', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('decr', 2, 'write denyoom fast', G, 'Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn\'t exist.', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('incrby', 3, 'write denyoom fast', G, 'Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('decrby', 3, 'write denyoom fast', G, 'Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn\'t exist.', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('incrbyfloat', 3, 'write denyoom fast', G, 'Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn\'t exist.', '2.6.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('lcs', -3, 'readonly', G, 'Finds the longest common substring.', '7.0.0', {
    keys: [k(1, 2, 1, 'RO access')],
    complexity: 'O(N*M) where N and M are the lengths of s1 and s2, respectively',
  }),
];
