/** Command specs: connection family. */
import type { CommandSpec } from '../types';
import { cmd, sub } from '../define';

const G = 'connection';

export const specs: CommandSpec[] = [
  cmd('ping', -1, 'fast', G, 'Returns the server\'s liveliness response.', '1.0.0'),
  cmd('echo', 2, 'fast', G, 'Returns the given string.', '1.0.0'),
  cmd('quit', -1, 'allow_busy noscript loading stale fast no_auth', G, 'Closes the connection.', '1.0.0'),
  cmd('reset', 1, 'noscript loading stale fast no_auth allow_busy', G, 'Resets the connection.', '6.2.0'),
  cmd('select', 2, 'loading stale fast', G, 'Changes the selected database.', '1.0.0'),
  cmd('auth', -2, 'noscript loading stale fast no_auth allow_busy', G, 'Authenticates the connection.', '1.0.0'),
  cmd('hello', -1, 'noscript loading stale fast no_auth allow_busy', G, 'Handshakes with the Redis server.', '6.0.0'),
  cmd('client', -2, '', G, 'A container for client connection commands.', '2.4.0', {
    subcommands: [
      sub('id', 2, 'noscript loading stale', G, 'Returns the unique client ID of the connection.', '5.0.0'),
      sub('setname', 3, 'noscript loading stale', G, 'Sets the connection name.', '2.6.9'),
      sub('getname', 2, 'noscript loading stale', G, 'Returns the name of the connection.', '2.6.9'),
      sub('list', -2, 'admin noscript loading stale', G, 'Lists open connections.', '2.4.0'),
      sub('info', 2, 'noscript loading stale', G, 'Returns information about the connection.', '6.2.0'),
      sub('kill', -3, 'admin noscript loading stale', G, 'Terminates open connections.', '2.4.0'),
      sub('reply', 3, 'noscript loading stale', G, 'Instructs the server whether to reply to commands.', '3.2.0'),
      sub('no-evict', 3, 'admin noscript loading stale', G, 'Sets the client eviction mode of the connection.', '7.0.0'),
      sub('no-touch', 3, 'noscript loading stale', G, 'Controls whether commands sent by the client affect the LRU/LFU of accessed keys.', '7.2.0'),
      sub('setinfo', 4, 'noscript loading stale', G, 'Sets information specific to the client or connection.', '7.2.0'),
      sub('pause', -3, 'admin noscript loading stale', G, 'Suspends commands processing.', '3.0.0'),
      sub('unpause', 2, 'admin noscript loading stale', G, 'Resumes processing commands from paused clients.', '6.2.0'),
      sub('unblock', -3, 'admin noscript loading stale', G, 'Unblocks a client blocked by a blocking command from a different connection.', '5.0.0'),
      sub('getredir', 2, 'noscript loading stale', G, 'Returns the client ID to which the connection\'s tracking notifications are redirected.', '6.0.0'),
      sub('help', 2, 'loading stale', G, 'Returns helpful text about the different subcommands.', '5.0.0'),
    ],
  }),
];
