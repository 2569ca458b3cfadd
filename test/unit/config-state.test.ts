/**
 * ConfigState command semantics: every command's effect and its refusals (error texts as written in
 * config-state.ts), batch rollback, versions, and snapshot/fingerprint round trips.
 */
import { describe, expect, it } from 'vitest';
import {
  ConfigState,
  SLOTS,
  toRanges,
  type ApplyResult,
  type ConfigCommand,
  type NodeRecord,
} from '../../cluster-node/src/cluster/config-state';

let ipSeq = 0;
function rec(id: string, over: Partial<NodeRecord> = {}): NodeRecord {
  ipSeq++;
  return {
    id,
    ip: `10.0.${ipSeq >> 8}.${ipSeq & 255}`,
    port: 7000,
    cport: 17000,
    hostname: '',
    primary: null,
    shardId: `shard-${id}`,
    configEpoch: 0,
    failed: false,
    nofailover: false,
    ...over,
  };
}

const OK: ApplyResult = { ok: true };
const fail = (error: string): ApplyResult => ({ ok: false, error });

/** a owns 0..99, b owns 100..199, c owns nothing; r replicates a. */
function cluster(): ConfigState {
  const c = new ConfigState();
  expect(c.apply({ op: 'join', node: rec('a'), slots: [[0, 99]] })).toEqual(OK);
  expect(c.apply({ op: 'join', node: rec('b'), slots: [[100, 199]] })).toEqual(OK);
  expect(c.apply({ op: 'join', node: rec('c'), slots: [] })).toEqual(OK);
  expect(c.apply({ op: 'join', node: rec('r', { primary: 'a' }), slots: [] })).toEqual(OK);
  return c;
}

/** Apply and expect a refusal that leaves the state (fingerprint and version) untouched. */
function refused(c: ConfigState, cmd: ConfigCommand, error: string): void {
  const fp = c.fingerprint();
  const v = c.version;
  expect(c.apply(cmd)).toEqual(fail(error));
  expect(c.fingerprint()).toBe(fp);
  expect(c.version).toBe(v);
}

describe('ConfigState: join', () => {
  it('adds the node with its slot claims and raises the current epoch to its config epoch', () => {
    const c = new ConfigState();
    expect(c.apply({ op: 'join', node: rec('a', { configEpoch: 4 }), slots: [[0, 9], [20, 20]] })).toEqual(OK);
    expect(c.slotsOf('a')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20]);
    expect(c.currentEpoch).toBe(4);
    expect(c.node('a')!.failed).toBe(false);
    expect(c.isPrimary('a')).toBe(true);
  });

  it('a repeated join only refreshes the addresses', () => {
    const c = cluster();
    const again = rec('a', { ip: '1.2.3.4', port: 1, cport: 2, hostname: 'h', shardId: 'other', configEpoch: 9 });
    expect(c.apply({ op: 'join', node: again, slots: [[500, 600]] })).toEqual(OK);
    const a = c.node('a')!;
    expect([a.ip, a.port, a.cport, a.hostname]).toEqual(['1.2.3.4', 1, 2, 'h']);
    expect(a.shardId).toBe('shard-a');
    expect(c.owners[500]).toBeNull();
    expect(c.currentEpoch).toBe(0);
  });

  it('refuses claims of served slots, bad ranges, used addresses and unknown primaries', () => {
    const c = cluster();
    refused(c, { op: 'join', node: rec('d'), slots: [[150, 250]] }, 'ERR Cannot join: slot 150 is claimed by the joining node d and already served by b');
    refused(c, { op: 'join', node: rec('d'), slots: [[5, 3]] }, 'ERR start slot number 5 is greater than end slot number 3');
    refused(c, { op: 'join', node: rec('d'), slots: [[0, SLOTS]] }, 'ERR Invalid or out of range slot');
    const a = c.node('a')!;
    refused(c, { op: 'join', node: rec('d', { ip: a.ip, port: a.port }), slots: [] }, `ERR Cannot join: another node is already known at ${a.ip}:${a.port}`);
    refused(c, { op: 'join', node: rec('d', { primary: 'zz' }), slots: [] }, 'ERR Joining node d replicates unknown primary zz');
    refused(c, { op: 'join', node: rec('d', { primary: 'r' }), slots: [] }, 'ERR Joining node d replicates unknown primary r');
  });

  // Found by the configuration simulation (test/sim/config-sim.ts): join broke "a replica owns no slots".
  it('refuses slot claims from a joining replica', () => {
    const c = cluster();
    refused(c, { op: 'join', node: rec('d', { primary: 'a' }), slots: [[300, 310]] }, 'ERR Cannot join: node d is a replica and cannot claim slots');
    expect(c.owners[300]).toBeNull();
  });

  // Found by the configuration simulation: a joining replica kept a shard id of its own.
  it('puts a joining replica in its primary shard', () => {
    const c = cluster();
    expect(c.apply({ op: 'join', node: rec('d', { primary: 'b', shardId: 'elsewhere' }), slots: [] })).toEqual(OK);
    expect(c.node('d')!.shardId).toBe('shard-b');
    expect(c.node('r')!.shardId).toBe('shard-a');
  });
});

describe('ConfigState: forget', () => {
  it('refuses unknown nodes, itself, its master, nodes with slots or replicas', () => {
    const c = cluster();
    refused(c, { op: 'forget', id: 'zz', by: 'a' }, 'ERR Unknown node zz');
    refused(c, { op: 'forget', id: 'c', by: 'c' }, "ERR I tried hard but I can't forget myself...");
    refused(c, { op: 'forget', id: 'a', by: 'r' }, "ERR Can't forget my master!");
    refused(c, { op: 'forget', id: 'b', by: 'c' }, "ERR Can't forget node b: it still serves hash slots (move them away first)");
    expect(c.apply({ op: 'flush-slots', node: 'a' })).toEqual(OK);
    refused(c, { op: 'forget', id: 'a', by: 'c' }, "ERR Can't forget node a: it still has replicas (CLUSTER REPLICATE them elsewhere first)");
  });

  it('removes the node and every slot state naming it', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-migrating', node: 'a', slot: 5, to: 'c' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-importing', node: 'c', slot: 5, from: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-importing', node: 'b', slot: 6, from: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-migrating', node: 'b', slot: 150, to: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'forget', id: 'c', by: 'a' })).toEqual(OK);
    expect(c.node('c')).toBeUndefined();
    expect(c.slotStates.has(5)).toBe(false);
    expect([...c.slotStates.keys()].sort((x, y) => x - y)).toEqual([6, 150]);
  });
});

describe('ConfigState: slot assignment', () => {
  it('add-slots assigns free slots to a known primary and closes its own import of them', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-importing', node: 'c', slot: 300, from: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'add-slots', node: 'c', slots: [[300, 301]] })).toEqual(OK);
    expect(c.slotsOf('c')).toEqual([300, 301]);
    expect(c.slotStates.has(300)).toBe(false);
  });

  it('add-slots refusals', () => {
    const c = cluster();
    refused(c, { op: 'add-slots', node: 'zz', slots: [[300, 300]] }, 'ERR Unknown node zz');
    refused(c, { op: 'add-slots', node: 'r', slots: [[300, 300]] }, 'ERR Target node is not a master');
    refused(c, { op: 'add-slots', node: 'c', slots: [[300, 300], [99, 99]] }, 'ERR Slot 99 is already busy');
    refused(c, { op: 'add-slots', node: 'c', slots: [[300, 302], [301, 301]] }, 'ERR Slot 301 specified multiple times');
    refused(c, { op: 'add-slots', node: 'c', slots: [[-1, 3]] }, 'ERR Invalid or out of range slot');
  });

  it('del-slots unassigns and drops slot states; refusals', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-migrating', node: 'a', slot: 7, to: 'b' })).toEqual(OK);
    expect(c.apply({ op: 'del-slots', slots: [[5, 9]] })).toEqual(OK);
    expect(c.owners.slice(4, 11)).toEqual(['a', null, null, null, null, null, 'a']);
    expect(c.slotStates.has(7)).toBe(false);
    refused(c, { op: 'del-slots', slots: [[4, 5]] }, 'ERR Slot 5 is already unassigned');
    refused(c, { op: 'del-slots', slots: [[10, 11], [11, 11]] }, 'ERR Slot 11 specified multiple times');
    refused(c, { op: 'del-slots', slots: [[9, 8]] }, 'ERR start slot number 9 is greater than end slot number 8');
  });

  it('flush-slots drops every slot of the node', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-migrating', node: 'b', slot: 120, to: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'flush-slots', node: 'b' })).toEqual(OK);
    expect(c.slotsOf('b')).toEqual([]);
    expect(c.slotStates.size).toBe(0);
    expect(c.assignedSlots()).toBe(100);
    refused(c, { op: 'flush-slots', node: 'zz' }, 'ERR Unknown node zz');
  });
});

describe('ConfigState: slot migration states', () => {
  it('set-slot-migrating refusals', () => {
    const c = cluster();
    refused(c, { op: 'set-slot-migrating', node: 'a', slot: SLOTS, to: 'b' }, 'ERR Invalid or out of range slot');
    refused(c, { op: 'set-slot-migrating', node: 'b', slot: 5, to: 'c' }, "ERR I'm not the owner of hash slot 5");
    refused(c, { op: 'set-slot-migrating', node: 'a', slot: 5, to: 'zz' }, "ERR I don't know about node zz");
    refused(c, { op: 'set-slot-migrating', node: 'a', slot: 5, to: 'r' }, 'ERR Target node is not a master');
    refused(c, { op: 'set-slot-migrating', node: 'a', slot: 5, to: 'a' }, "ERR Can't MIGRATE to myself");
  });

  it('set-slot-importing refusals', () => {
    const c = cluster();
    refused(c, { op: 'set-slot-importing', node: 'a', slot: 1.5, from: 'b' }, 'ERR Invalid or out of range slot');
    refused(c, { op: 'set-slot-importing', node: 'a', slot: 5, from: 'b' }, "ERR I'm already the owner of hash slot 5");
    refused(c, { op: 'set-slot-importing', node: 'c', slot: 5, from: 'zz' }, "ERR I don't know about node zz");
    refused(c, { op: 'set-slot-importing', node: 'c', slot: 5, from: 'r' }, 'ERR Target node is not a master');
    refused(c, { op: 'set-slot-importing', node: 'c', slot: 5, from: 'c' }, "ERR Can't IMPORT from myself");
    refused(c, { op: 'set-slot-importing', node: 'r', slot: 5, from: 'a' }, 'ERR Please use SETSLOT only with masters.');
  });

  it('set-slot-stable clears only the states the node declared', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-migrating', node: 'a', slot: 5, to: 'c' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-importing', node: 'c', slot: 5, from: 'a' })).toEqual(OK);
    expect(c.slotStates.get(5)).toEqual({ migrating: { by: 'a', to: 'c' }, importing: { by: 'c', from: 'a' } });
    expect(c.apply({ op: 'set-slot-stable', node: 'b', slot: 5 })).toEqual(OK);
    expect(c.slotStates.get(5)).toEqual({ migrating: { by: 'a', to: 'c' }, importing: { by: 'c', from: 'a' } });
    expect(c.apply({ op: 'set-slot-stable', node: 'a', slot: 5 })).toEqual(OK);
    expect(c.slotStates.get(5)).toEqual({ importing: { by: 'c', from: 'a' } });
    expect(c.apply({ op: 'set-slot-stable', node: 'c', slot: 5 })).toEqual(OK);
    expect(c.slotStates.has(5)).toBe(false);
    refused(c, { op: 'set-slot-stable', node: 'c', slot: -1 }, 'ERR Invalid or out of range slot');
  });

  it('set-slot-node moves the slot, clears its states and gives the new owner a fresh unique epoch', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-importing', node: 'c', slot: 5, from: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-migrating', node: 'a', slot: 5, to: 'c' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-node', slot: 5, to: 'c', by: 'a' })).toEqual(OK);
    expect(c.owners[5]).toBe('c');
    expect(c.slotStates.has(5)).toBe(false);
    expect(c.node('c')!.configEpoch).toBe(1);
    expect(c.currentEpoch).toBe(1);
    // To its current owner: no new epoch.
    expect(c.apply({ op: 'set-slot-node', slot: 5, to: 'c', by: 'a' })).toEqual(OK);
    expect(c.currentEpoch).toBe(1);
    // An unassigned slot can be given too.
    expect(c.apply({ op: 'set-slot-node', slot: 9000, to: 'b', by: 'b' })).toEqual(OK);
    expect(c.owners[9000]).toBe('b');
    expect(c.node('b')!.configEpoch).toBe(2);
    refused(c, { op: 'set-slot-node', slot: SLOTS, to: 'b', by: 'b' }, 'ERR Invalid or out of range slot');
    refused(c, { op: 'set-slot-node', slot: 5, to: 'zz', by: 'b' }, 'ERR Unknown node zz');
    refused(c, { op: 'set-slot-node', slot: 5, to: 'r', by: 'b' }, 'ERR Target node is not a master');
  });
});

describe('ConfigState: replicas, epochs, failover', () => {
  it('replicate makes an empty primary a replica in its new primary shard', () => {
    const c = cluster();
    expect(c.apply({ op: 'set-slot-importing', node: 'c', slot: 5, from: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'replicate', node: 'c', primary: 'b' })).toEqual(OK);
    expect(c.node('c')!.primary).toBe('b');
    expect(c.node('c')!.shardId).toBe('shard-b');
    expect(c.slotStates.has(5)).toBe(false);
    expect(c.replicasOf('b').map((n) => n.id)).toEqual(['c']);
    // A replica may move to another primary.
    expect(c.apply({ op: 'replicate', node: 'r', primary: 'b' })).toEqual(OK);
    expect(c.node('r')!.shardId).toBe('shard-b');
  });

  it('replicate refusals', () => {
    const c = cluster();
    refused(c, { op: 'replicate', node: 'zz', primary: 'a' }, 'ERR Unknown node zz');
    refused(c, { op: 'replicate', node: 'c', primary: 'zz' }, 'ERR Unknown node zz');
    refused(c, { op: 'replicate', node: 'c', primary: 'c' }, "ERR Can't replicate myself");
    refused(c, { op: 'replicate', node: 'c', primary: 'r' }, 'ERR I can only replicate a master, not a replica.');
    refused(c, { op: 'replicate', node: 'b', primary: 'a' }, 'ERR To set a master the node must be empty and without assigned slots.');
    expect(c.apply({ op: 'flush-slots', node: 'a' })).toEqual(OK);
    refused(c, { op: 'replicate', node: 'a', primary: 'b' }, 'ERR Node a has replicas: move them to another primary first');
  });

  it('set-config-epoch only on a node that knows no other node, once', () => {
    const c = new ConfigState();
    expect(c.apply({ op: 'join', node: rec('a'), slots: [] })).toEqual(OK);
    expect(c.apply({ op: 'set-config-epoch', node: 'a', epoch: 5 })).toEqual(OK);
    expect(c.node('a')!.configEpoch).toBe(5);
    expect(c.currentEpoch).toBe(5);
    refused(c, { op: 'set-config-epoch', node: 'a', epoch: 6 }, 'ERR Node config epoch is already non-zero');
    refused(c, { op: 'set-config-epoch', node: 'a', epoch: -1 }, 'ERR Invalid config epoch specified: -1');
    refused(c, { op: 'set-config-epoch', node: 'zz', epoch: 1 }, 'ERR Unknown node zz');
    expect(c.apply({ op: 'join', node: rec('b'), slots: [] })).toEqual(OK);
    refused(c, { op: 'set-config-epoch', node: 'b', epoch: 1 }, 'ERR The user can assign a config epoch only when the node does not know any other node.');
  });

  it('bump-epoch bumps unless the node already has the unique maximum', () => {
    const c = cluster();
    expect(c.apply({ op: 'bump-epoch', node: 'a' })).toEqual({ ok: true, value: 'BUMPED 1' });
    expect(c.apply({ op: 'bump-epoch', node: 'a' })).toEqual({ ok: true, value: 'STILL 1' });
    expect(c.apply({ op: 'bump-epoch', node: 'b' })).toEqual({ ok: true, value: 'BUMPED 2' });
    expect(c.apply({ op: 'bump-epoch', node: 'a' })).toEqual({ ok: true, value: 'BUMPED 3' });
    refused(c, { op: 'bump-epoch', node: 'zz' }, 'ERR Unknown node zz');
  });

  it('node-info and set-failed update the record', () => {
    const c = cluster();
    expect(c.apply({ op: 'node-info', node: 'c', ip: '9.9.9.9', port: 1, cport: 2, hostname: 'x' })).toEqual(OK);
    expect(c.node('c')).toMatchObject({ ip: '9.9.9.9', port: 1, cport: 2, hostname: 'x' });
    expect(c.apply({ op: 'set-failed', node: 'c', failed: true })).toEqual(OK);
    expect(c.node('c')!.failed).toBe(true);
    refused(c, { op: 'node-info', node: 'zz', ip: '', port: 0, cport: 0, hostname: '' }, 'ERR Unknown node zz');
    refused(c, { op: 'set-failed', node: 'zz', failed: true }, 'ERR Unknown node zz');
  });

  it('failover: the replica takes the slots, the states, the other replicas and a new epoch', () => {
    const c = cluster();
    expect(c.apply({ op: 'join', node: rec('s', { primary: 'a' }), slots: [] })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-migrating', node: 'a', slot: 5, to: 'b' })).toEqual(OK);
    expect(c.apply({ op: 'set-slot-importing', node: 'b', slot: 6, from: 'a' })).toEqual(OK);
    expect(c.apply({ op: 'failover', replica: 'r' })).toEqual(OK);
    expect(c.slotsOf('r')).toHaveLength(100);
    expect(c.slotsOf('a')).toEqual([]);
    expect(c.node('r')!.primary).toBeNull();
    expect(c.node('a')!.primary).toBe('r');
    expect(c.node('s')!.primary).toBe('r');
    expect(c.slotStates.get(5)).toEqual({ migrating: { by: 'r', to: 'b' } });
    expect(c.slotStates.get(6)).toEqual({ importing: { by: 'b', from: 'r' } });
    expect(c.node('r')!.configEpoch).toBe(1);
    refused(c, { op: 'failover', replica: 'zz' }, 'ERR Unknown node zz');
    refused(c, { op: 'failover', replica: 'b' }, 'ERR You should send CLUSTER FAILOVER to a replica');
  });

  // Found by the failover simulation: the leader decided to promote s in place of its failed primary a,
  // but a CLUSTER REPLICATE moving s to b was ordered before that entry; unpinned, s took over b, whose
  // write lease nobody had waited out (two writable primaries).
  it('failover pinned to a primary: refused once the replica follows another one', () => {
    const c = cluster();
    expect(c.apply({ op: 'join', node: rec('s', { primary: 'a' }), slots: [] })).toEqual(OK);
    expect(c.apply({ op: 'replicate', node: 's', primary: 'b' })).toEqual(OK);
    refused(c, { op: 'batch', cmds: [{ op: 'failover', replica: 's', primary: 'a' }, { op: 'set-failed', node: 'a', failed: true }] }, 'ERR Failover of s in place of a refused: it now replicates b');
    expect(c.node('s')!.primary).toBe('b');
    expect(c.apply({ op: 'failover', replica: 's', primary: 'b' })).toEqual(OK);
    expect(c.node('b')!.primary).toBe('s');
  });

  it('an unknown command is refused', () => {
    refused(cluster(), { op: 'nonsense' } as unknown as ConfigCommand, 'ERR unknown cluster configuration command');
  });
});

describe('ConfigState: batch', () => {
  it('applies every command and joins their values', () => {
    const c = cluster();
    const v = c.version;
    const r = c.apply({
      op: 'batch',
      cmds: [
        { op: 'bump-epoch', node: 'a' },
        { op: 'add-slots', node: 'c', slots: [[300, 300]] },
        { op: 'bump-epoch', node: 'a' },
      ],
    });
    expect(r).toEqual({ ok: true, value: 'BUMPED 1\nOK\nSTILL 1' });
    expect(c.owners[300]).toBe('c');
    expect(c.version).toBe(v + 1); // one log entry, one change
  });

  it('is all-or-nothing: a failing command rolls back the ones before it', () => {
    const c = cluster();
    refused(
      c,
      {
        op: 'batch',
        cmds: [
          { op: 'bump-epoch', node: 'a' },
          { op: 'add-slots', node: 'c', slots: [[300, 310]] },
          { op: 'set-slot-migrating', node: 'b', slot: 150, to: 'c' },
          { op: 'forget', id: 'c', by: 'a' },
        ],
      },
      "ERR Can't forget node c: it still serves hash slots (move them away first)",
    );
    expect(c.owners[300]).toBeNull();
    expect(c.currentEpoch).toBe(0);
    expect(c.slotStates.size).toBe(0);
  });

  it('nested batches roll back as a whole', () => {
    const c = cluster();
    refused(
      c,
      {
        op: 'batch',
        cmds: [
          { op: 'batch', cmds: [{ op: 'flush-slots', node: 'b' }, { op: 'bump-epoch', node: 'b' }] },
          { op: 'replicate', node: 'b', primary: 'zz' },
        ],
      },
      'ERR Unknown node zz',
    );
    expect(c.slotsOf('b')).toHaveLength(100);
  });

  it('an empty batch succeeds', () => {
    expect(cluster().apply({ op: 'batch', cmds: [] })).toEqual({ ok: true, value: '' });
  });
});

describe('ConfigState: snapshots and fingerprints', () => {
  function busy(): ConfigState {
    const c = cluster();
    const cmds: ConfigCommand[] = [
      { op: 'set-slot-migrating', node: 'a', slot: 5, to: 'c' },
      { op: 'set-slot-importing', node: 'c', slot: 5, from: 'a' },
      { op: 'add-slots', node: 'c', slots: [[1000, 1000], [1002, 1004], [16383, 16383]] },
      { op: 'set-slot-node', slot: 50, to: 'b', by: 'a' },
      { op: 'bump-epoch', node: 'c' },
      { op: 'set-failed', node: 'r', failed: true },
    ];
    for (const cmd of cmds) expect(c.apply(cmd).ok).toBe(true);
    return c;
  }

  it('round-trips through JSON: same fingerprint, version, owners and states', () => {
    const c = busy();
    const back = ConfigState.fromSnapshot(JSON.parse(JSON.stringify(c.toSnapshot())));
    expect(back.fingerprint()).toBe(c.fingerprint());
    expect(back.version).toBe(c.version);
    expect(back.currentEpoch).toBe(c.currentEpoch);
    expect(back.owners).toEqual(c.owners);
    expect([...back.slotStates]).toEqual([...c.slotStates]);
    expect([...back.nodes.values()]).toEqual([...c.nodes.values()]);
    // Both evolve identically afterwards.
    for (const s of [c, back]) expect(s.apply({ op: 'failover', replica: 'r' })).toEqual(OK);
    expect(back.fingerprint()).toBe(c.fingerprint());
  });

  it('compresses owners into ranges', () => {
    const snap = busy().toSnapshot();
    expect(snap.owners).toEqual([
      [0, 49, 'a'],
      [50, 50, 'b'],
      [51, 99, 'a'],
      [100, 199, 'b'],
      [1000, 1000, 'c'],
      [1002, 1004, 'c'],
      [16383, 16383, 'c'],
    ]);
  });

  it('a snapshot is a copy: later changes do not leak into it', () => {
    const c = busy();
    const snap = c.toSnapshot();
    const fp = ConfigState.fromSnapshot(snap).fingerprint();
    c.apply({ op: 'set-slot-stable', node: 'a', slot: 5 });
    c.apply({ op: 'node-info', node: 'a', ip: 'x', port: 1, cport: 2, hostname: '' });
    expect(ConfigState.fromSnapshot(snap).fingerprint()).toBe(fp);
  });

  it('restore replaces everything', () => {
    const c = busy();
    c.restore(new ConfigState().toSnapshot());
    expect(c.fingerprint()).toBe(new ConfigState().fingerprint());
    expect(c.nodes.size).toBe(0);
    expect(c.assignedSlots()).toBe(0);
  });

  it('the fingerprint ignores insertion order and the version, not content', () => {
    const x = new ConfigState();
    const y = new ConfigState();
    const a = rec('a');
    const b = rec('b');
    x.apply({ op: 'join', node: a, slots: [[0, 1]] });
    x.apply({ op: 'join', node: b, slots: [] });
    y.apply({ op: 'join', node: b, slots: [] });
    y.apply({ op: 'join', node: a, slots: [[0, 1]] });
    y.apply({ op: 'set-slot-stable', node: 'a', slot: 3 }); // a no-op that counts as a change
    expect(y.version).not.toBe(x.version);
    expect(y.fingerprint()).toBe(x.fingerprint());
    y.apply({ op: 'set-failed', node: 'b', failed: true });
    expect(y.fingerprint()).not.toBe(x.fingerprint());
  });

  it('queries', () => {
    const c = busy();
    expect(c.size()).toBe(3);
    expect(c.assignedSlots()).toBe(205);
    expect(c.replicasOf('a').map((n) => n.id)).toEqual(['r']);
    expect(toRanges(c.slotsOf('c'))).toEqual([[1000, 1000], [1002, 1004], [16383, 16383]]);
    expect(toRanges([])).toEqual([]);
  });
});
