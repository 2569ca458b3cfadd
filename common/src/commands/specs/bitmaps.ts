/** Command specs: bitmaps family (flags, key specs and ACL categories as Redis 7's COMMAND INFO). */
import type { CommandSpec } from '../types';
import { cmd, k } from '../define';

const G = 'bitmap';

export const specs: CommandSpec[] = [
  cmd('setbit', 4, 'write denyoom', G, 'Sets or clears the bit at offset in the string value stored at key', '2.2.0', {
    keys: [k(1, 1, 1, 'RW access update')],
    complexity: 'O(1)',
  }),
  cmd('getbit', 3, 'readonly fast', G, 'Returns the bit value at offset in the string value stored at key', '2.2.0', { keys: [k(1, 1, 1, 'RO access')], complexity: 'O(1)' }),
  cmd('bitcount', -2, 'readonly', G, 'Count set bits in a string', '2.6.0', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity: 'O(N)',
  }),
  cmd('bitpos', -3, 'readonly', G, 'Find first bit set or clear in a string', '2.8.7', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity: 'O(N)',
  }),
  cmd('bitop', -4, 'write denyoom', G, 'Perform bitwise operations between strings', '2.6.0', {
    keys: [k(2, 2, 1, 'OW update'), k(3, -1, 1, 'RO access')],
    complexity: 'O(N)',
  }),
  cmd('bitfield', -2, 'write denyoom', G, 'Perform arbitrary bitfield integer operations on strings', '3.2.0', {
    keys: [{ ...k(1, 1, 1, 'RW access update variable_flags'), notes: 'This command allows both access and modification of the key' }],
    complexity: 'O(1) for each subcommand specified',
  }),
  cmd('bitfield_ro', -2, 'readonly fast', G, 'Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD', '6.0.0', {
    keys: [k(1, 1, 1, 'RO access')],
    complexity: 'O(1) for each subcommand specified',
  }),
];
