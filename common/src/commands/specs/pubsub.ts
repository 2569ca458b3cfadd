/** Command specs: pubsub family. */
import type { CommandSpec } from '../types';
import { cmd, k, sub } from '../define';

const G = 'pubsub';
const F = 'pubsub noscript loading stale';

export const specs: CommandSpec[] = [
  cmd('subscribe', -2, F, G, 'Listens for messages published to channels.', '2.0.0'),
  cmd('unsubscribe', -1, F, G, 'Stops listening to messages posted to channels.', '2.0.0'),
  cmd('psubscribe', -2, F, G, 'Listens for messages published to channels that match one or more patterns.', '2.0.0'),
  cmd('punsubscribe', -1, F, G, 'Stops listening to messages published to channels that match one or more patterns.', '2.0.0'),
  cmd('publish', 3, 'pubsub loading stale fast may_replicate', G, 'Posts a message to a channel.', '2.0.0'),
  cmd('ssubscribe', -2, F, G, 'Listens for messages published to shard channels.', '7.0.0', { keys: [k(1, -1, 1, 'RO not_key')] }),
  cmd('sunsubscribe', -1, F, G, 'Stops listening to messages posted to shard channels.', '7.0.0', { keys: [k(1, -1, 1, 'RO not_key')] }),
  cmd('spublish', 3, 'pubsub loading stale fast may_replicate', G, 'Post a message to a shard channel', '7.0.0', { keys: [k(1, 1, 1, 'RO not_key')] }),
  cmd('pubsub', -2, '', G, 'A container for Pub/Sub commands.', '2.8.0', {
    subcommands: [
      sub('channels', -2, 'pubsub loading stale', G, 'Returns the active channels.', '2.8.0'),
      sub('numsub', -2, 'pubsub loading stale', G, 'Returns a count of subscribers to channels.', '2.8.0'),
      sub('numpat', 2, 'pubsub loading stale', G, 'Returns a count of unique pattern subscriptions.', '2.8.0'),
      sub('shardchannels', -2, 'pubsub loading stale', G, 'Returns the active shard channels.', '7.0.0'),
      sub('shardnumsub', -2, 'pubsub loading stale', G, 'Returns the count of subscribers of shard channels.', '7.0.0'),
      sub('help', 2, 'loading stale', G, 'Returns helpful text about the different subcommands.', '6.2.0'),
    ],
  }),
];
