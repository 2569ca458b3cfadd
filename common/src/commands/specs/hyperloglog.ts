/** Command specs: hyperloglog family (flags, key specs and docs as in Redis 7.0's COMMAND INFO / DOCS). */
import type { CommandSpec } from '../types';
import { cmd, k } from '../define';

const G = 'hyperloglog';

export const specs: CommandSpec[] = [
  cmd('pfadd', -2, 'write denyoom fast', G, 'Adds the specified elements to the specified HyperLogLog.', '2.8.9', {
    keys: [k(1, 1, 1, 'RW insert')],
    complexity: 'O(1) to add every element.',
  }),
  // RW key spec: a single-key PFCOUNT may rewrite the cached cardinality (and propagate it).
  cmd('pfcount', -2, 'readonly', G, 'Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).', '2.8.9', {
    keys: [{ ...k(1, -1, 1, 'RW access'), notes: 'RW because it may change the internal representation of the key, and propagate to replicas' }],
    complexity:
      'O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.',
  }),
  cmd('pfmerge', -2, 'write denyoom', G, 'Merge N different HyperLogLogs into a single one.', '2.8.9', {
    keys: [k(1, 1, 1, 'RW access insert'), k(2, -1, 1, 'RO access')],
    complexity: 'O(N) to merge N HyperLogLogs, but with high constant times.',
  }),
  cmd('pfdebug', 3, 'write denyoom admin', G, 'Internal commands for debugging HyperLogLog values', '2.8.9', {
    keys: [k(2, 2, 1, 'RW access')],
    complexity: 'N/A',
  }),
  cmd('pfselftest', 1, 'admin', G, 'An internal command for testing HyperLogLog values', '2.8.9', { complexity: 'N/A' }),
];
