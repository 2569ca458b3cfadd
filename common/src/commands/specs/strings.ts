/** Command specs: strings family. */
import type { CommandSpec } from '../types';
import { cmd, k } from '../define';

const G = 'string';

export const specs: CommandSpec[] = [
  cmd('get', 2, 'readonly fast', G, 'Returns the string value of a key.', '1.0.0', { keys: [k(1, 1, 1, 'RO access')], complexity: 'O(1)' }),
  cmd('set', -3, 'write denyoom', G, 'Sets the string value of a key, ignoring its type. The key is created if it doesn\'t exist.', '1.0.0', {
    keys: [k(1, 1, 1, 'RW access update variable_flags')],
    complexity: 'O(1)',
  }),
];
