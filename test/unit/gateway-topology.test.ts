/**
 * The gateway's slot map: the configuration epoch sync tokens carry, and the shard list fan-outs and
 * token rebuilds use, kept right across MOVED patches.
 */
import { describe, expect, it } from 'vitest';
import { Topology } from '../../gateway/src/cluster/topology';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const R = 'c'.repeat(40);

const nodesText = (epochA: number, epochB: number) =>
  [
    `${A} 127.0.0.1:7000@17000 myself,master - 0 0 ${epochA} connected 0-8191`,
    `${B} 127.0.0.1:7001@17001 master - 0 0 ${epochB} connected 8192-16383`,
    `${R} 127.0.0.1:7002@17002 slave ${A} 0 0 ${epochA} connected`,
  ].join('\n');

describe('the configuration epoch of a slot map', () => {
  it('is the highest node config epoch in CLUSTER NODES, 0 included', () => {
    expect(Topology.parse(nodesText(3, 5)).epoch).toBe(5);
    // A cluster whose slots were assigned once and never moved: epoch 0 is a real epoch.
    expect(Topology.parse(nodesText(0, 0)).epoch).toBe(0);
  });
  it('is unknown (-1) for an empty map and for one read from CLUSTER SHARDS (no epochs there)', () => {
    expect(Topology.empty().epoch).toBe(-1);
    const shards = [
      ['slots', [0, 16383], 'nodes', [['id', A, 'port', 7000, 'ip', '127.0.0.1', 'role', 'master', 'health', 'online']]],
    ];
    const t = Topology.fromShards(shards);
    expect(t.shardPrimaries().map((n) => n.id)).toEqual([A]);
    expect(t.epoch).toBe(-1);
  });
});

describe('shard primaries', () => {
  it('follow a MOVED patch of the owners', () => {
    const t = Topology.parse(nodesText(1, 2));
    expect(t.shardPrimaries().map((n) => n.id)).toEqual([A, B]);
    for (let s = 8192; s < 16384; s++) t.setOwner(s, A);
    expect(t.shardPrimaries().map((n) => n.id)).toEqual([A]);
    t.setOwner(0, B);
    expect(t.shardPrimaries().map((n) => n.id)).toEqual([A, B]);
    // The caller's copy is its own.
    t.shardPrimaries().pop();
    expect(t.shardPrimaries()).toHaveLength(2);
  });
  it('one slot per shard for fan-outs, the first each primary owns, following MOVED patches', () => {
    const t = Topology.parse(nodesText(1, 2));
    expect(t.shardSlots()).toEqual([{ slot: 0, addr: '127.0.0.1:7000' }, { slot: 8192, addr: '127.0.0.1:7001' }]);
    t.setOwner(0, B);
    expect(t.shardSlots()).toEqual([{ slot: 1, addr: '127.0.0.1:7000' }, { slot: 0, addr: '127.0.0.1:7001' }]);
    t.shardSlots()[0]!.slot = 99;
    expect(t.shardSlots()[0]!.slot).toBe(1);
  });
});

describe('a node that does not know its own address yet (a Redis node that has met no other node)', () => {
  it('CLUSTER NODES ":port@bus myself": the host the node was reached at', () => {
    const text = `${A} :7000@17000 myself,master - 0 0 0 connected 0-16383\n`;
    expect(Topology.parse(text).nodes.size).toBe(0); // no address: not routable as it stands
    const t = Topology.parse(Topology.withAskedHost(text, '127.0.0.5'));
    expect(t.nodes.get(A)?.addr).toBe('127.0.0.5:7000');
    expect(t.covered()).toBe(16384);
    // Lines with an address, and other nodes' lines, are left alone.
    expect(Topology.withAskedHost(nodesText(1, 2), '10.0.0.1')).toBe(nodesText(1, 2));
  });
  it('CLUSTER SHARDS ip "": the asked host when the port is the asked one', () => {
    const shards = [['slots', [0, 16383], 'nodes', [['id', A, 'port', 7000, 'ip', '', 'endpoint', '', 'role', 'master', 'health', 'online']]]];
    expect(Topology.fromShards(shards).nodes.size).toBe(0);
    expect(Topology.fromShards(shards, { host: '127.0.0.1', port: 7001 }).nodes.size).toBe(0);
    const t = Topology.fromShards(shards, { host: '127.0.0.1', port: 7000 });
    expect(t.nodes.get(A)?.addr).toBe('127.0.0.1:7000');
    expect(t.covered()).toBe(16384);
  });
});
