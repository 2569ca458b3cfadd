/** Command specs: lists family. */
import type { CommandSpec } from '../types';
import { cmd, k, knum } from '../define';

const G = 'list';
const PUSH_CX = 'O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.';
const POP = 'RW access delete';

export const specs: CommandSpec[] = [
  cmd('lpush', -3, 'write denyoom fast', G, 'Prepend one or multiple elements to a list', '1.0.0', { keys: [k(1, 1, 1, 'RW insert')], complexity: PUSH_CX }),
  cmd('rpush', -3, 'write denyoom fast', G, 'Append one or multiple elements to a list', '1.0.0', { keys: [k(1, 1, 1, 'RW insert')], complexity: PUSH_CX }),
  cmd('lpushx', -3, 'write denyoom fast', G, 'Prepend an element to a list, only if the list exists', '2.2.0', { keys: [k(1, 1, 1, 'RW insert')], complexity: PUSH_CX }),
  cmd('rpushx', -3, 'write denyoom fast', G, 'Append an element to a list, only if the list exists', '2.2.0', { keys: [k(1, 1, 1, 'RW insert')], complexity: PUSH_CX }),
  cmd('lpop', -2, 'write fast', G, 'Remove and get the first elements in a list', '1.0.0', { keys: [k(1, 1, 1, POP)], complexity: 'O(N) where N is the number of elements returned' }),
  cmd('rpop', -2, 'write fast', G, 'Remove and get the last elements in a list', '1.0.0', { keys: [k(1, 1, 1, POP)], complexity: 'O(N) where N is the number of elements returned' }),
  cmd('llen', 2, 'readonly fast', G, 'Get the length of a list', '1.0.0', { keys: [k(1, 1, 1, 'RO')], complexity: 'O(1)' }),
  cmd('lindex', 3, 'readonly', G, 'Get an element from a list by its index', '1.0.0', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity: 'O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).',
  }),
  cmd('lset', 4, 'write denyoom', G, 'Set the value of an element in a list by its index', '1.0.0', {
    keys: [k(1, 1, 1, 'RW update')],
    complexity: 'O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).',
  }),
  cmd('lrange', 4, 'readonly', G, 'Get a range of elements from a list', '1.0.0', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity:
      'O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.',
  }),
  cmd('ltrim', 4, 'write', G, 'Trim a list to the specified range', '1.0.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(N) where N is the number of elements to be removed by the operation.',
  }),
  cmd('linsert', 5, 'write denyoom', G, 'Insert an element before or after another element in a list', '2.2.0', {
    keys: [k(1, 1, 1, 'RW insert')],
    complexity:
      'O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).',
  }),
  cmd('lrem', 4, 'write', G, 'Remove elements from a list', '1.0.0', {
    keys: [k(1, 1, 1, 'RW delete')],
    complexity: 'O(N+M) where N is the length of the list and M is the number of elements removed.',
  }),
  cmd('lpos', -3, 'readonly', G, 'Return the index of matching elements on a list', '6.0.6', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity:
      'O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.',
  }),
  cmd('lmove', 5, 'write denyoom', G, 'Pop an element from a list, push it to another list and return it', '6.2.0', {
    keys: [k(1, 1, 1, POP), k(2, 2, 1, 'RW insert')],
    complexity: 'O(1)',
  }),
  cmd('rpoplpush', 3, 'write denyoom', G, 'Remove the last element in a list, prepend it to another list and return it', '1.2.0', {
    keys: [k(1, 1, 1, POP), k(2, 2, 1, 'RW insert')],
    complexity: 'O(1)',
  }),
  cmd('lmpop', -4, 'write', G, 'Pop elements from a list', '7.0.0', {
    keys: [knum(1, 1, POP)],
    complexity: 'O(N+M) where N is the number of provided keys and M is the number of elements returned.',
  }),
  cmd('blpop', -3, 'write noscript blocking', G, 'Remove and get the first element in a list, or block until one is available', '2.0.0', {
    keys: [k(1, -2, 1, POP)],
    complexity: 'O(N) where N is the number of provided keys.',
  }),
  cmd('brpop', -3, 'write noscript blocking', G, 'Remove and get the last element in a list, or block until one is available', '2.0.0', {
    keys: [k(1, -2, 1, POP)],
    complexity: 'O(N) where N is the number of provided keys.',
  }),
  cmd('blmove', 6, 'write denyoom noscript blocking', G, 'Pop an element from a list, push it to another list and return it; or block until one is available', '6.2.0', {
    keys: [k(1, 1, 1, POP), k(2, 2, 1, 'RW insert')],
    complexity: 'O(1)',
  }),
  cmd('brpoplpush', 4, 'write denyoom noscript blocking', G, 'Pop an element from a list, push it to another list and return it; or block until one is available', '2.2.0', {
    keys: [k(1, 1, 1, POP), k(2, 2, 1, 'RW insert')],
    complexity: 'O(1)',
  }),
  cmd('blmpop', -5, 'write blocking', G, 'Pop elements from a list, or block until one is available', '7.0.0', {
    keys: [knum(2, 1, POP)],
    complexity: 'O(N+M) where N is the number of provided keys and M is the number of elements returned.',
  }),
];
