/** Command specs: transactions family. */
import type { CommandSpec } from '../types';
import { cmd, k } from '../define';

const G = 'transactions';

export const specs: CommandSpec[] = [
  cmd('multi', 1, 'noscript loading stale fast allow_busy', G, 'Starts a transaction.', '1.2.0'),
  cmd('exec', 1, 'noscript loading stale skip_slowlog', G, 'Executes all commands in a transaction.', '1.2.0'),
  cmd('discard', 1, 'noscript loading stale fast allow_busy', G, 'Discards a transaction.', '2.0.0'),
  cmd('watch', -2, 'noscript loading stale fast allow_busy', G, 'Monitors changes to keys to determine the execution of a transaction.', '2.2.0', {
    keys: [k(1, -1, 1, 'RO')],
  }),
  cmd('unwatch', 1, 'noscript loading stale fast allow_busy', G, 'Forgets about watched keys of a transaction.', '2.2.0'),
];
