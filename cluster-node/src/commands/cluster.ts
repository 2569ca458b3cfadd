/**
 * Command handlers: cluster family (specs in common/src/commands/specs/cluster.ts). Configuration
 * changes are proposed to the Raft log and reply once committed (Server.deferReply); inside
 * MULTI/EXEC, where a client cannot wait, they are checked against the configuration as the
 * transaction's earlier commands would leave it, replied to at once, and proposed in order.
 */
import type { Client } from '../server/client';
import type { RespWriter } from '../../../common/src/resp/writer';
import { keyHashSlot } from '../../../common/src/slot';
import { ReplyError, type HandlerMap } from './registry';
import { replyHelp } from './server';
import type { Cluster } from '../cluster/cluster';
import { ConfigState, SLOTS, type ConfigCommand, type SlotRanges } from '../cluster/config-state';
import { clusterInfo, clusterLinks, clusterNodes, clusterShards, clusterSlots } from '../cluster/views';

const DISABLED = 'ERR This instance has cluster support disabled';

function cluster(c: Client): Cluster {
  const cl = c.server.clusterNode;
  if (cl === null) throw new ReplyError(DISABLED);
  return cl;
}

function parseSlot(s: string): number {
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < 0 || n >= SLOTS) throw new ReplyError('ERR Invalid or out of range slot');
  return n;
}

function nodeId(cl: Cluster, id: string): string {
  if (!cl.view.nodes.has(id)) throw new ReplyError(`ERR Unknown node ${id}`);
  return id;
}

/** Scratch configuration for the admin commands of one EXEC (see the header comment). */
const execScratch = new WeakMap<Client, { tick: number; state: ConfigState }>();

/**
 * Run a configuration command: wait for the commit outside EXEC; inside EXEC validate against the
 * transaction's scratch state, reply now and propose in the background.
 */
function run(c: Client, cmd: ConfigCommand, reply: (w: RespWriter, value: string) => void = (w) => w.ok()): void {
  const cl = cluster(c);
  if (c.inExec) {
    let sc = execScratch.get(c);
    if (!sc || sc.tick !== c.commands) {
      sc = { tick: c.commands, state: ConfigState.fromSnapshot(cl.view.toSnapshot()) };
      execScratch.set(c, sc);
    }
    const r = sc.state.apply(cmd);
    if (!r.ok) throw new ReplyError(r.error);
    void cl.propose(cmd).then((res) => {
      if (!res.ok) c.server.log.warning(`cluster: ${cmd.op} from a transaction failed at commit: ${res.error}`);
    });
    reply(c.w, r.value ?? 'OK');
    return;
  }
  c.server.deferReply(
    c,
    cl.propose(cmd).then((r) => {
      if (!r.ok) throw new ReplyError(r.error);
      return (w: RespWriter) => reply(w, r.value ?? 'OK');
    }),
  );
}

/** Wait for an arbitrary cluster operation (MEET, SETSLOT NODE hand-off); errors become `ERR ...`. */
function await_(c: Client, op: () => Promise<void>, what: string): void {
  if (c.inExec) throw new ReplyError(`ERR CLUSTER ${what} cannot run inside MULTI`);
  c.server.deferReply(
    c,
    op().then(
      () => (w: RespWriter) => w.ok(),
      (e: unknown) => {
        throw new ReplyError(`ERR ${(e as Error).message}`);
      },
    ),
  );
}

function slotArgs(argv: string[], from: number): SlotRanges {
  const slots: number[] = [];
  for (let i = from; i < argv.length; i++) slots.push(parseSlot(argv[i]!));
  return slots.map((s) => [s, s] as [number, number]);
}

function rangeArgs(argv: string[], from: number): SlotRanges {
  if ((argv.length - from) % 2 !== 0) {
    throw new ReplyError(`ERR wrong number of arguments for '${argv[0]!.toLowerCase()}|${argv[1]!.toLowerCase()}' command`);
  }
  const out: SlotRanges = [];
  for (let i = from; i < argv.length; i += 2) {
    const a = parseSlot(argv[i]!);
    const b = parseSlot(argv[i + 1]!);
    if (a > b) throw new ReplyError(`ERR start slot number ${a} is greater than end slot number ${b}`);
    out.push([a, b]);
  }
  return out;
}

function dbsEmpty(c: Client): boolean {
  return c.server.dbs.every((db) => db.size === 0);
}

export const handlers: HandlerMap = {
  asking(c) {
    cluster(c);
    c.asking = true;
    c.w.ok();
  },
  readonly(c) {
    cluster(c);
    c.readonlyMode = true;
    c.w.ok();
  },
  readwrite(c) {
    cluster(c);
    c.readonlyMode = false;
    c.w.ok();
  },

  'cluster|myid'(c) {
    c.w.bulk(cluster(c).myId);
  },
  'cluster|myshardid'(c) {
    const cl = cluster(c);
    c.w.bulk(cl.view.node(cl.myId)?.shardId ?? cl.myShardId);
  },
  'cluster|nodes'(c) {
    c.w.verbatim(clusterNodes(cluster(c)));
  },
  'cluster|slots'(c) {
    clusterSlots(cluster(c), c.w);
  },
  'cluster|shards'(c) {
    clusterShards(cluster(c), c.w);
  },
  'cluster|info'(c) {
    c.w.verbatim(clusterInfo(cluster(c)));
  },
  'cluster|links'(c) {
    clusterLinks(cluster(c), c.w);
  },
  'cluster|keyslot'(c, argv) {
    cluster(c);
    c.w.int(keyHashSlot(argv[2]!));
  },
  'cluster|countkeysinslot'(c, argv) {
    cluster(c);
    const n = /^-?\d+$/.test(argv[2]!) ? Number(argv[2]) : NaN;
    if (!Number.isInteger(n) || n < 0 || n >= SLOTS) throw new ReplyError('ERR Invalid slot');
    c.w.int(c.db.countKeysInSlot(n));
  },
  'cluster|getkeysinslot'(c, argv) {
    cluster(c);
    const slot = /^-?\d+$/.test(argv[2]!) ? Number(argv[2]) : NaN;
    const count = /^-?\d+$/.test(argv[3]!) ? Number(argv[3]) : NaN;
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS || !Number.isInteger(count) || count < 0) {
      throw new ReplyError('ERR Invalid slot or number of keys');
    }
    c.w.bulkArray(c.db.keysInSlot(slot, count));
  },
  'cluster|count-failure-reports'(c, argv) {
    const cl = cluster(c);
    nodeId(cl, argv[2]!);
    c.w.int(0);
  },
  'cluster|replicas'(c, argv) {
    replicasReply(c, argv);
  },
  'cluster|slaves'(c, argv) {
    replicasReply(c, argv);
  },
  'cluster|saveconfig'(c) {
    cluster(c);
    c.w.ok();
  },

  'cluster|meet'(c, argv) {
    const cl = cluster(c);
    const ip = argv[2]!;
    const port = /^\d+$/.test(argv[3]!) ? Number(argv[3]) : NaN;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ReplyError(`ERR Invalid base port specified: ${argv[3]}`);
    let cport = port + 10000;
    if (argv.length > 5) throw new ReplyError("ERR wrong number of arguments for 'cluster|meet' command");
    if (argv.length === 5) {
      cport = /^\d+$/.test(argv[4]!) ? Number(argv[4]) : NaN;
      if (!Number.isInteger(cport) || cport <= 0 || cport > 65535) throw new ReplyError(`ERR Invalid bus port specified: ${argv[4]}`);
    }
    if (!/^[0-9a-fA-F:.]+$/.test(ip) && ip !== 'localhost') throw new ReplyError(`ERR Invalid node address specified: ${ip}:${argv[3]}`);
    await_(c, () => cl.meet(ip === 'localhost' ? '127.0.0.1' : ip, port, cport), 'MEET');
  },
  'cluster|forget'(c, argv) {
    const cl = cluster(c);
    const id = argv[2]!;
    if (!cl.view.nodes.has(id)) {
      if (cl.wasForgotten(id)) return c.w.ok();
      throw new ReplyError(`ERR Unknown node ${id}`);
    }
    if (c.inExec) return run(c, { op: 'forget', id, by: cl.myId });
    // redis-cli sends FORGET to every node in turn: this node may not have applied the previous
    // node's FORGET yet, and then ours commits after it and fails as "Unknown node". Same outcome: OK.
    c.server.deferReply(
      c,
      cl.propose({ op: 'forget', id, by: cl.myId }).then((r) => {
        if (!r.ok && !cl.wasForgotten(id)) throw new ReplyError(r.error);
        return (w: RespWriter) => w.ok();
      }),
    );
  },
  'cluster|addslots'(c, argv) {
    const cl = cluster(c);
    run(c, { op: 'add-slots', node: cl.myId, slots: slotArgs(argv, 2) });
  },
  'cluster|addslotsrange'(c, argv) {
    const cl = cluster(c);
    run(c, { op: 'add-slots', node: cl.myId, slots: rangeArgs(argv, 2) });
  },
  'cluster|delslots'(c, argv) {
    cluster(c);
    run(c, { op: 'del-slots', slots: slotArgs(argv, 2) });
  },
  'cluster|delslotsrange'(c, argv) {
    cluster(c);
    run(c, { op: 'del-slots', slots: rangeArgs(argv, 2) });
  },
  'cluster|flushslots'(c) {
    const cl = cluster(c);
    if (!dbsEmpty(c)) throw new ReplyError('ERR DB must be empty to perform CLUSTER FLUSHSLOTS.');
    run(c, { op: 'flush-slots', node: cl.myId });
  },
  'cluster|setslot'(c, argv) {
    const cl = cluster(c);
    const slot = parseSlot(argv[2]!);
    const action = argv[3]!.toLowerCase();
    const me = cl.view.node(cl.myId);
    if (me && me.primary !== null) throw new ReplyError('ERR Please use SETSLOT only with masters.');
    if (action === 'stable' && argv.length === 4) return run(c, { op: 'set-slot-stable', node: cl.myId, slot });
    if (argv.length !== 5 || !['importing', 'migrating', 'node'].includes(action)) {
      throw new ReplyError('ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP');
    }
    const id = argv[4]!;
    if (!cl.view.nodes.has(id)) throw new ReplyError(`ERR I don't know about node ${id}`);
    if (action === 'migrating') return run(c, { op: 'set-slot-migrating', node: cl.myId, slot, to: id });
    if (action === 'importing') return run(c, { op: 'set-slot-importing', node: cl.myId, slot, from: id });
    if (c.inExec) return run(c, { op: 'set-slot-node', slot, to: id, by: cl.myId });
    await_(c, () => cl.setSlotNode(slot, id), 'SETSLOT NODE');
  },
  'cluster|replicate'(c, argv) {
    const cl = cluster(c);
    const id = argv[2]!;
    const target = cl.view.node(id);
    if (!target) throw new ReplyError(`ERR Unknown node ${id}`);
    if (id === cl.myId) throw new ReplyError("ERR Can't replicate myself");
    if (target.primary !== null) throw new ReplyError('ERR I can only replicate a master, not a replica.');
    const me = cl.view.node(cl.myId);
    if (me?.primary === null && (cl.view.slotsOf(cl.myId).length > 0 || !dbsEmpty(c))) {
      throw new ReplyError('ERR To set a master the node must be empty and without assigned slots.');
    }
    run(c, { op: 'replicate', node: cl.myId, primary: id });
  },
  'cluster|set-config-epoch'(c, argv) {
    const cl = cluster(c);
    const epoch = /^-?\d+$/.test(argv[2]!) ? Number(argv[2]) : NaN;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new ReplyError(`ERR Invalid config epoch specified: ${argv[2]}`);
    run(c, { op: 'set-config-epoch', node: cl.myId, epoch });
  },
  'cluster|bumpepoch'(c) {
    const cl = cluster(c);
    run(c, { op: 'bump-epoch', node: cl.myId }, (w, v) => w.simple(v));
  },
  'cluster|reset'(c, argv) {
    const cl = cluster(c);
    if (argv.length > 3) throw new ReplyError('ERR syntax error');
    const mode = (argv[2] ?? 'soft').toLowerCase();
    if (mode !== 'soft' && mode !== 'hard') throw new ReplyError('ERR syntax error');
    const me = cl.view.node(cl.myId);
    if ((me === undefined || me.primary === null) && !dbsEmpty(c)) {
      throw new ReplyError("ERR CLUSTER RESET can't be called with master nodes containing keys");
    }
    if (me?.primary != null) for (const db of c.server.dbs) db.flush();
    cl.reset(mode === 'hard');
    c.w.ok();
  },
  'cluster|failover'(c, argv) {
    const cl = cluster(c);
    if (argv.length > 3) throw new ReplyError('ERR syntax error');
    const opt = argv[2] === undefined ? 'default' : argv[2].toLowerCase();
    if (argv[2] !== undefined && opt !== 'force' && opt !== 'takeover') throw new ReplyError('ERR Invalid CLUSTER FAILOVER option.');
    const me = cl.view.node(cl.myId);
    if (!me || me.primary === null) throw new ReplyError('ERR You should send CLUSTER FAILOVER to a replica');
    await_(c, () => cl.manualFailover(opt as 'default' | 'force' | 'takeover'), 'FAILOVER');
  },
  'cluster|help'(c) {
    replyHelp(c, 'CLUSTER', [
      'ADDSLOTS <slot> [<slot> ...]', '    Assign slots to current node.',
      'ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]', '    Assign slots which are between <start-slot> and <end-slot> to current node.',
      'BUMPEPOCH', '    Advance the cluster config epoch.',
      'COUNT-FAILURE-REPORTS <node-id>', '    Return number of failure reports for <node-id>.',
      'COUNTKEYSINSLOT <slot>', '    Return the number of keys in <slot>.',
      'DELSLOTS <slot> [<slot> ...]', '    Delete slots information from current node.',
      'DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]', '    Delete slots information which are between <start-slot> and <end-slot> from current node.',
      'FAILOVER [FORCE|TAKEOVER]', '    Promote current replica node to being a master.',
      'FORGET <node-id>', '    Remove a node from the cluster.',
      'GETKEYSINSLOT <slot> <count>', '    Return key names stored by current node in a slot.',
      'FLUSHSLOTS', '    Delete current node own slots information.',
      'INFO', '    Return information about the cluster (including the Raft view of the configuration log).',
      'KEYSLOT <key>', '    Return the hash slot for <key>.',
      'LINKS', '    Return information about all network links between this node and its peers.',
      'MEET <ip> <port> [<bus-port>]', '    Connect nodes into a working cluster.',
      'MYID', '    Return the node id.',
      'MYSHARDID', '    Return the node\'s shard id.',
      'NODES', '    Return cluster configuration seen by node. Output format:',
      '    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...',
      'REPLICATE <node-id>', '    Configure current node as replica to <node-id>.',
      'RESET [HARD|SOFT]', '    Reset current node (default: soft).',
      'SET-CONFIG-EPOCH <epoch>', '    Set config epoch of current node.',
      'SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)', '    Set slot state.',
      'REPLICAS <node-id>', '    Return <node-id> replicas.',
      'SAVECONFIG', '    Force saving cluster configuration on disk.',
      'SLOTS', '    Return information about slots range mappings. Each range is made of:',
      '    start, end, master and replicas IP addresses, ports and ids',
      'SHARDS', '    Return information about slot range mappings and the nodes associated with them.',
    ]);
  },
};

function replicasReply(c: Client, argv: string[]): void {
  const cl = cluster(c);
  const n = cl.view.node(argv[2]!);
  if (!n) throw new ReplyError(`ERR Unknown node ${argv[2]}`);
  if (n.primary !== null) throw new ReplyError('ERR The specified node is not a master');
  const lines = clusterNodes(cl).split('\n').filter((l) => l.length > 0);
  const ids = new Set(cl.view.replicasOf(n.id).map((r) => r.id));
  c.w.bulkArray(lines.filter((l) => ids.has(l.split(' ')[0]!)).map((l) => l + '\n'));
}

