/** Command specs: zsets family (flags, arity and key specs as Redis 7's COMMAND INFO). */
import type { CommandSpec } from '../types';
import { cmd, k, knum } from '../define';

const G = 'sorted-set';
const RO = 'RO access';
const ND = ['nondeterministic_output'];

export const specs: CommandSpec[] = [
  cmd('zadd', -4, 'write denyoom fast', G, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", '1.2.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity: 'O(log(N)) for each item added, where N is the number of elements in the sorted set.',
  }),
  cmd('zincrby', 4, 'write denyoom fast', G, 'Increments the score of a member in a sorted set.', '1.2.0', {
    keys: [k(1, 1, 1, 'RW access update')],
    complexity: 'O(log(N)) where N is the number of elements in the sorted set.',
  }),
  cmd('zcard', 2, 'readonly fast', G, 'Returns the number of members in a sorted set.', '1.2.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('zscore', 3, 'readonly fast', G, 'Returns the score of a member in a sorted set.', '1.2.0', { keys: [k(1, 1, 1, RO)], complexity: 'O(1)' }),
  cmd('zmscore', -3, 'readonly fast', G, 'Returns the score of one or more members in a sorted set.', '6.2.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(N) where N is the number of members being requested.',
  }),
  cmd('zrank', -3, 'readonly fast', G, 'Returns the index of a member in a sorted set ordered by ascending scores.', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N))',
  }),
  cmd('zrevrank', -3, 'readonly fast', G, 'Returns the index of a member in a sorted set ordered by descending scores.', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N))',
  }),
  cmd('zcount', 4, 'readonly fast', G, 'Returns the count of members in a sorted set that have scores within a range.', '2.0.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)) with N being the number of elements in the sorted set.',
  }),
  cmd('zlexcount', 4, 'readonly fast', G, 'Returns the number of members in a sorted set within a lexicographical range.', '2.8.9', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)) with N being the number of elements in the sorted set.',
  }),
  cmd('zrange', -4, 'readonly', G, 'Returns members in a sorted set within a range of indexes.', '1.2.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.',
  }),
  cmd('zrangestore', -5, 'write denyoom', G, 'Stores a range of members from sorted set in a key.', '6.2.0', {
    keys: [k(1, 1, 1, 'OW update'), k(2, 2, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.',
  }),
  cmd('zrevrange', -4, 'readonly', G, 'Returns members in a sorted set within a range of indexes in reverse order.', '1.2.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.',
  }),
  cmd('zrangebyscore', -4, 'readonly', G, 'Returns members in a sorted set within a range of scores.', '1.0.5', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.',
  }),
  cmd('zrevrangebyscore', -4, 'readonly', G, 'Returns members in a sorted set within a range of scores in reverse order.', '2.2.0', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.',
  }),
  cmd('zrangebylex', -4, 'readonly', G, 'Returns members in a sorted set within a lexicographical range.', '2.8.9', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.',
  }),
  cmd('zrevrangebylex', -4, 'readonly', G, 'Returns members in a sorted set within a lexicographical range in reverse order.', '2.8.9', {
    keys: [k(1, 1, 1, RO)],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.',
  }),
  cmd('zrem', -3, 'write fast', G, 'Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.', '1.2.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.',
  }),
  cmd('zremrangebyrank', 4, 'write', G, 'Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.', '2.0.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.',
  }),
  cmd('zremrangebyscore', 4, 'write', G, 'Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.', '1.2.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.',
  }),
  cmd('zremrangebylex', 4, 'write', G, 'Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.', '2.8.9', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.',
  }),
  cmd('zunion', -3, 'readonly', G, 'Returns the union of multiple sorted sets.', '6.2.0', { keys: [knum(1, 1, RO)] }),
  cmd('zinter', -3, 'readonly', G, 'Returns the intersect of multiple sorted sets.', '6.2.0', { keys: [knum(1, 1, RO)] }),
  cmd('zdiff', -3, 'readonly', G, 'Returns the difference between multiple sorted sets.', '6.2.0', { keys: [knum(1, 1, RO)] }),
  cmd('zintercard', -3, 'readonly', G, 'Returns the number of members of the intersect of multiple sorted sets.', '7.0.0', { keys: [knum(1, 1, RO)] }),
  cmd('zunionstore', -4, 'write denyoom', G, 'Stores the union of multiple sorted sets in a key.', '2.0.0', {
    keys: [k(1, 1, 1, 'OW update'), knum(2, 1, RO)],
  }),
  cmd('zinterstore', -4, 'write denyoom', G, 'Stores the intersect of multiple sorted sets in a key.', '2.0.0', {
    keys: [k(1, 1, 1, 'OW update'), knum(2, 1, RO)],
  }),
  cmd('zdiffstore', -4, 'write denyoom', G, 'Stores the difference of multiple sorted sets in a key.', '6.2.0', {
    keys: [k(1, 1, 1, 'OW update'), knum(2, 1, RO)],
  }),
  cmd('zpopmin', -2, 'write fast', G, 'Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.', '5.0.0', {
    keys: [k(1, 1, 1, 'RW access delete')],
    complexity: 'O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.',
  }),
  cmd('zpopmax', -2, 'write fast', G, 'Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.', '5.0.0', {
    keys: [k(1, 1, 1, 'RW access delete')],
    complexity: 'O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.',
  }),
  cmd(
    'bzpopmin',
    -3,
    'write noscript blocking fast',
    G,
    'Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.',
    '5.0.0',
    { keys: [k(1, -2, 1, 'RW access delete')], complexity: 'O(log(N)) with N being the number of elements in the sorted set.' },
  ),
  cmd(
    'bzpopmax',
    -3,
    'write noscript blocking fast',
    G,
    'Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.',
    '5.0.0',
    { keys: [k(1, -2, 1, 'RW access delete')], complexity: 'O(log(N)) with N being the number of elements in the sorted set.' },
  ),
  cmd(
    'zmpop',
    -4,
    'write',
    G,
    'Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.',
    '7.0.0',
    { keys: [knum(1, 1, 'RW access delete')] },
  ),
  cmd(
    'bzmpop',
    -5,
    'write blocking',
    G,
    'Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.',
    '7.0.0',
    { keys: [knum(2, 1, 'RW access delete')] },
  ),
  cmd('zrandmember', -2, 'readonly', G, 'Returns one or more random members from a sorted set.', '6.2.0', {
    keys: [k(1, 1, 1, RO)],
    tips: ND,
    complexity: 'O(N) where N is the number of members returned',
  }),
  cmd('zscan', -3, 'readonly', G, 'Iterates over members and scores of a sorted set.', '2.8.0', {
    keys: [k(1, 1, 1, RO)],
    tips: ND,
    complexity: 'O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.',
  }),
];
