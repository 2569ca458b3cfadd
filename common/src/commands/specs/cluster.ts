/** Command specs: cluster family (Redis 7.2 COMMAND INFO / DOCS data). */
import type { CommandSpec } from '../types';
import { cmd, sub } from '../define';

const G = 'cluster';
const ND = ['nondeterministic_output'];

export const specs: CommandSpec[] = [
  cmd('cluster', -2, '', G, 'A container for cluster commands', '3.0.0', {
    complexity: 'Depends on subcommand.',
    subcommands: [
      sub('addslots', -3, 'admin stale no_async_loading', G, 'Assign new hash slots to receiving node', '3.0.0', { complexity: 'O(N) where N is the total number of hash slot arguments' }),
      sub('addslotsrange', -4, 'admin stale no_async_loading', G, 'Assign new hash slots to receiving node', '7.0.0', { complexity: 'O(N) where N is the total number of the slots between the start slot and end slot arguments.' }),
      sub('bumpepoch', 2, 'admin stale no_async_loading', G, 'Advance the cluster config epoch', '3.0.0', { complexity: 'O(1)', tips: ND }),
      sub('count-failure-reports', 3, 'admin stale', G, 'Return the number of failure reports active for a given node', '3.0.0', { complexity: 'O(N) where N is the number of failure reports', tips: ND }),
      sub('countkeysinslot', 3, 'stale', G, 'Return the number of local keys in the specified hash slot', '3.0.0', { complexity: 'O(1)' }),
      sub('delslots', -3, 'admin stale no_async_loading', G, 'Set hash slots as unbound in receiving node', '3.0.0', { complexity: 'O(N) where N is the total number of hash slot arguments' }),
      sub('delslotsrange', -4, 'admin stale no_async_loading', G, 'Set hash slots as unbound in receiving node', '7.0.0', { complexity: 'O(N) where N is the total number of the slots between the start slot and end slot arguments.' }),
      sub('failover', -2, 'admin stale no_async_loading', G, 'Forces a replica to perform a manual failover of its master.', '3.0.0', { complexity: 'O(1)' }),
      sub('flushslots', 2, 'admin stale no_async_loading', G, "Delete a node's own slots information", '3.0.0', { complexity: 'O(1)' }),
      sub('forget', 3, 'admin stale no_async_loading', G, 'Remove a node from the nodes table', '3.0.0', { complexity: 'O(1)' }),
      sub('getkeysinslot', 4, 'stale', G, 'Return local key names in the specified hash slot', '3.0.0', { complexity: 'O(log(N)) where N is the number of requested keys', tips: ND }),
      sub('help', 2, 'loading stale', G, 'Show helpful text about the different subcommands', '5.0.0', { complexity: 'O(1)' }),
      sub('info', 2, 'stale', G, 'Provides info about Redis Cluster node state', '3.0.0', { complexity: 'O(1)', tips: ND }),
      sub('keyslot', 3, 'stale', G, 'Returns the hash slot of the specified key', '3.0.0', { complexity: 'O(N) where N is the number of bytes in the key' }),
      sub('links', 2, 'stale', G, 'Returns a list of all TCP links to and from peer nodes in cluster', '7.0.0', { complexity: 'O(N) where N is the total number of Cluster nodes', tips: ND }),
      sub('meet', -4, 'admin stale no_async_loading', G, 'Force a node cluster to handshake with another node', '3.0.0', { complexity: 'O(1)' }),
      sub('myid', 2, 'stale', G, 'Return the node id', '3.0.0', { complexity: 'O(1)' }),
      sub('myshardid', 2, 'stale', G, 'Return the node shard id', '7.2.0', { complexity: 'O(1)', tips: ND }),
      sub('nodes', 2, 'stale', G, 'Get Cluster config for the node', '3.0.0', { complexity: 'O(N) where N is the total number of Cluster nodes', tips: ND }),
      sub('replicas', 3, 'admin stale', G, 'List replica nodes of the specified master node', '5.0.0', { complexity: 'O(1)', tips: ND }),
      sub('replicate', 3, 'admin stale no_async_loading', G, 'Reconfigure a node as a replica of the specified master node', '3.0.0', { complexity: 'O(1)' }),
      sub('reset', -2, 'admin noscript stale', G, 'Reset a Redis Cluster node', '3.0.0', { complexity: 'O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.' }),
      sub('saveconfig', 2, 'admin stale no_async_loading', G, 'Forces the node to save cluster state on disk', '3.0.0', { complexity: 'O(1)' }),
      sub('set-config-epoch', 3, 'admin stale no_async_loading', G, 'Set the configuration epoch in a new node', '3.0.0', { complexity: 'O(1)' }),
      sub('setslot', -4, 'admin stale no_async_loading', G, 'Bind a hash slot to a specific node', '3.0.0', { complexity: 'O(1)' }),
      sub('shards', 2, 'stale', G, 'Get array of cluster slots to node mappings', '7.0.0', { complexity: 'O(N) where N is the total number of cluster nodes', tips: ND }),
      sub('slaves', 3, 'admin stale', G, 'List replica nodes of the specified master node', '3.0.0', { complexity: 'O(1)', tips: ND }),
      sub('slots', 2, 'stale', G, 'Get array of Cluster slot to node mappings', '3.0.0', { complexity: 'O(N) where N is the total number of Cluster nodes', tips: ND }),
    ],
  }),
  cmd('asking', 1, 'fast', G, 'Sent by cluster clients after an -ASK redirect', '3.0.0', { acl: 'connection', complexity: 'O(1)' }),
  cmd('readonly', 1, 'loading stale fast', G, 'Enables read queries for a connection to a cluster replica node', '3.0.0', { acl: 'connection', complexity: 'O(1)' }),
  cmd('readwrite', 1, 'loading stale fast', G, 'Disables read queries for a connection to a cluster replica node', '3.0.0', { acl: 'connection', complexity: 'O(1)' }),
];
