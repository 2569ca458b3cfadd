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
  cmd('get', 2, 'readonly fast', G, 'Get the value of a key', '1.0.0', { keys: [k(1, 1, 1, 'RO access')], complexity: 'O(1)' }),
  cmd('set', -3, 'write denyoom', G, 'Set the string value of a key', '1.0.0', {
    keys: [{ ...k(1, 1, 1, 'RW access update variable_flags'), notes: 'RW and ACCESS due to the optional `GET` argument' }],
    complexity: 'O(1)',
  }),
  cmd('getex', -2, 'write fast', G, 'Get the value of a key and optionally set its expiration', '6.2.0', {
    keys: [{ ...RW_ACCESS_UPDATE(), notes: 'RW and UPDATE because it changes the TTL' }],
    complexity: 'O(1)',
  }),
  cmd('getdel', 2, 'write fast', G, 'Get the value of a key and delete the key', '6.2.0', {
    keys: [k(1, 1, 1, 'RW access delete')],
    complexity: 'O(1)',
  }),
  cmd('getset', 3, 'write denyoom fast', G, 'Set the string value of a key and return its old value', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('mget', -2, 'readonly fast', G, 'Get the values of all the given keys', '1.0.0', {
    keys: [k(1, -1, 1, 'RO access')],
    complexity: 'O(N) where N is the number of keys to retrieve.',
    tips: ['request_policy:multi_shard'],
  }),
  cmd('mset', -3, 'write denyoom', G, 'Set multiple keys to multiple values', '1.0.1', {
    keys: [k(1, -1, 2, 'OW update')],
    complexity: 'O(N) where N is the number of keys to set.',
    tips: ['request_policy:multi_shard', 'response_policy:all_succeeded'],
  }),
  cmd('msetnx', -3, 'write denyoom', G, 'Set multiple keys to multiple values, only if none of the keys exist', '1.0.1', {
    keys: [k(1, -1, 2, 'OW insert')],
    complexity: 'O(N) where N is the number of keys to set.',
    tips: ['request_policy:multi_shard', 'response_policy:agg_min'],
  }),
  cmd('setnx', 3, 'write denyoom fast', G, 'Set the value of a key, only if the key does not exist', '1.0.0', {
    keys: [k(1, 1, 1, 'OW insert')],
    complexity: 'O(1)',
  }),
  cmd('setex', 4, 'write denyoom', G, 'Set the value and expiration of a key', '2.0.0', {
    keys: [OW_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('psetex', 4, 'write denyoom', G, 'Set the value and expiration in milliseconds of a key', '2.6.0', {
    keys: [OW_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('append', 3, 'write denyoom fast', G, 'Append a value to a key', '2.0.0', {
    keys: [k(1, 1, 1, 'RW insert')],
    complexity:
      'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.',
  }),
  cmd('strlen', 2, 'readonly fast', G, 'Get the length of the value stored in a key', '2.2.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('getrange', 4, 'readonly', G, 'Get a substring of the string stored at a key', '2.4.0', { keys: [RO()], complexity: RANGE_COMPLEXITY }),
  cmd('substr', 4, 'readonly', G, 'Get a substring of the string stored at a key', '1.0.0', { keys: [RO()], complexity: RANGE_COMPLEXITY }),
  cmd('setrange', 4, 'write denyoom', G, 'Overwrite part of a string at key starting at the specified offset', '2.2.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity:
      'O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.',
  }),
  cmd('incr', 2, 'write denyoom fast', G, 'Increment the integer value of a key by one', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('decr', 2, 'write denyoom fast', G, 'Decrement the integer value of a key by one', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('incrby', 3, 'write denyoom fast', G, 'Increment the integer value of a key by the given amount', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('decrby', 3, 'write denyoom fast', G, 'Decrement the integer value of a key by the given number', '1.0.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('incrbyfloat', 3, 'write denyoom fast', G, 'Increment the float value of a key by the given amount', '2.6.0', {
    keys: [RW_ACCESS_UPDATE()],
    complexity: 'O(1)',
  }),
  cmd('lcs', -3, 'readonly', G, 'Find longest common substring', '7.0.0', {
    keys: [k(1, 2, 1, 'RO access')],
    complexity: 'O(N*M) where N and M are the lengths of s1 and s2, respectively',
  }),
];
