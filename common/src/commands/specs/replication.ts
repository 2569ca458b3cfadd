/**
 * Command specs: replication (REPLICAOF, SLAVEOF, SYNC, PSYNC, REPLCONF in the server group, WAIT in
 * the generic group). Arity, flags, ACL categories and tips follow `COMMAND INFO` of redis-server 7.0.
 */
import type { CommandSpec } from '../types';
import { cmd } from '../define';

const G = 'server';

const wait = cmd('wait', 3, 'noscript', 'generic', 'Wait for the synchronous replication of all the write commands sent in the context of the current connection', '3.0.0', {
  complexity: 'O(1)',
  tips: ['request_policy:all_shards', 'response_policy:agg_min'],
});
// WAIT is a generic-group command without @keyspace: its categories are exactly these (as redis-server's).
wait.acl = ['slow', 'connection'];

export const specs: CommandSpec[] = [
  cmd('replicaof', 3, 'admin noscript stale no_async_loading', G, 'Make the server a replica of another instance, or promote it as master.', '5.0.0', { complexity: 'O(1)' }),
  cmd('slaveof', 3, 'admin noscript stale no_async_loading', G, 'Make the server a replica of another instance, or promote it as master.', '1.0.0', { complexity: 'O(1)' }),
  cmd('sync', 1, 'admin noscript no_async_loading no_multi', G, 'Internal command used for replication', '1.0.0'),
  cmd('psync', -3, 'admin noscript no_async_loading no_multi', G, 'Internal command used for replication', '2.8.0'),
  cmd('replconf', -1, 'admin noscript loading stale allow_busy', G, 'An internal command for configuring the replication stream', '3.0.0', { complexity: 'O(1)' }),
  wait,
];
