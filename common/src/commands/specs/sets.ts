/** Command specs: sets family (flags, key specs and docs as in Redis 7.0's COMMAND INFO / DOCS). */
import type { CommandSpec } from '../types';
import { cmd, k, knum } from '../define';

const G = 'set';
const RO = 'RO access';
const NDO = ['nondeterministic_output'];
const NDOO = ['nondeterministic_output_order'];
const INTER = 'O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.';
const TOTAL = 'O(N) where N is the total number of elements in all given sets.';
const SCAN =
  'O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..';

export const specs: CommandSpec[] = [
  cmd('sadd', -3, 'write denyoom fast', G, 'Add one or more members to a set', '1.0.0', {
    keys: [k(1, 1, 1, 'RW insert')],
    complexity: 'O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.',
  }),
  cmd('srem', -3, 'write fast', G, 'Remove one or more members from a set', '1.0.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(N) where N is the number of members to be removed.',
  }),
  cmd('smembers', 2, 'readonly', G, 'Get all the members in a set', '1.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the set cardinality.',
    tips: NDOO,
  }),
  cmd('sismember', 3, 'readonly fast', G, 'Determine if a given value is a member of a set', '1.0.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('smismember', -3, 'readonly fast', G, 'Returns the membership associated with the given elements for a set', '6.2.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the number of elements being checked for membership',
  }),
  cmd('scard', 2, 'readonly fast', G, 'Get the number of members in a set', '1.0.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('spop', -2, 'write fast', G, 'Remove and return one or multiple random members from a set', '1.0.0', {
    keys: [k(1, 1, 1, 'RW access delete')],
    complexity: 'Without the count argument O(1), otherwise O(N) where N is the value of the passed count.',
    tips: NDO,
  }),
  cmd('srandmember', -2, 'readonly', G, 'Get one or multiple random members from a set', '1.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.',
    tips: NDO,
  }),
  cmd('smove', 4, 'write fast', G, 'Move a member from one set to another', '1.0.0', {
    keys: [k(1, 1, 1, 'RW access delete'), k(2, 2, 1, 'RW insert')],
    complexity: 'O(1)',
  }),
  cmd('sinter', -2, 'readonly', G, 'Intersect multiple sets', '1.0.0', { keys: [k(1, -1, 1, RO)], complexity: INTER, tips: NDOO }),
  cmd('sintercard', -3, 'readonly', G, 'Intersect multiple sets and return the cardinality of the result', '7.0.0', {
    keys: [knum(1, 1, RO)],
    complexity: INTER,
  }),
  cmd('sinterstore', -3, 'write denyoom', G, 'Intersect multiple sets and store the resulting set in a key', '1.0.0', {
    keys: [k(1, 1, 1, 'RW update'), k(2, -1, 1, RO)],
    complexity: INTER,
  }),
  cmd('sunion', -2, 'readonly', G, 'Add multiple sets', '1.0.0', { keys: [k(1, -1, 1, RO)], complexity: TOTAL, tips: NDOO }),
  cmd('sunionstore', -3, 'write denyoom', G, 'Add multiple sets and store the resulting set in a key', '1.0.0', {
    keys: [k(1, 1, 1, 'OW update'), k(2, -1, 1, RO)],
    complexity: TOTAL,
  }),
  cmd('sdiff', -2, 'readonly', G, 'Subtract multiple sets', '1.0.0', { keys: [k(1, -1, 1, RO)], complexity: TOTAL, tips: NDOO }),
  cmd('sdiffstore', -3, 'write denyoom', G, 'Subtract multiple sets and store the resulting set in a key', '1.0.0', {
    keys: [k(1, 1, 1, 'OW update'), k(2, -1, 1, RO)],
    complexity: TOTAL,
  }),
  cmd('sscan', -3, 'readonly', G, 'Incrementally iterate Set elements', '2.8.0', { keys: [k(1, 1, 1, RO)], complexity: SCAN, tips: NDO }),
];
