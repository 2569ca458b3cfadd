/**
 * Reply formats derived from the applied configuration: CLUSTER NODES, SLOTS, SHARDS, INFO, LINKS,
 * in Redis 7's shapes (../shared/COMPAT.md section 1).
 */
import type { RespWriter } from '../../../common/src/resp/writer';
import { SLOTS, type NodeRecord } from './config-state';
import type { Cluster } from './cluster';

function ranges(owners: readonly (string | null)[], id: string): [number, number][] {
  const out: [number, number][] = [];
  let s = 0;
  while (s < SLOTS) {
    if (owners[s] !== id) {
      s++;
      continue;
    }
    let e = s;
    while (e + 1 < SLOTS && owners[e + 1] === id) e++;
    out.push([s, e]);
    s = e + 1;
  }
  return out;
}

/** One CLUSTER NODES line (with trailing newline). */
function nodeLine(cl: Cluster, n: NodeRecord): string {
  const v = cl.view;
  const myself = n.id === cl.myId;
  const flags: string[] = [];
  if (myself) flags.push('myself');
  flags.push(n.primary === null ? 'master' : 'slave');
  if (n.failed) flags.push('fail');
  if (n.nofailover && n.primary !== null) flags.push('nofailover');
  const addr = `${n.ip}:${n.port}@${n.cport}${n.hostname ? `,${n.hostname}` : ''}`;
  // Connected: our link to it is up, or it reached us recently (a fresh link may still be connecting;
  // redis-cli skips peers shown disconnected).
  const recent = Date.now() - cl.bus.lastHeardFrom(n.id) < cl.server.config.int('cluster-node-timeout');
  const link = myself || cl.bus.linkState(n.id) === 'connected' || recent ? 'connected' : 'disconnected';
  const pong = cl.lastContact(n.id);
  const parts = [n.id, addr, flags.join(','), n.primary ?? '-', '0', String(pong), String(n.configEpoch), link];
  for (const [a, b] of ranges(v.owners, n.id)) parts.push(a === b ? String(a) : `${a}-${b}`);
  if (myself) {
    // Open slots appear on the node's own line only, as in Redis.
    for (const [slot, st] of [...v.slotStates].sort((x, y) => x[0] - y[0])) {
      if (st.migrating?.by === n.id) parts.push(`[${slot}->-${st.migrating.to}]`);
      if (st.importing?.by === n.id) parts.push(`[${slot}-<-${st.importing.from}]`);
    }
  }
  return parts.join(' ') + '\n';
}

export function clusterNodes(cl: Cluster): string {
  const v = cl.view;
  const me = v.node(cl.myId);
  let out = me ? nodeLine(cl, me) : '';
  for (const n of v.nodes.values()) if (n.id !== cl.myId) out += nodeLine(cl, n);
  return out;
}

function writeNodeEntry(w: RespWriter, cl: Cluster, n: NodeRecord): void {
  const pref = cl.server.config.str('cluster-preferred-endpoint-type');
  const endpoint = pref === 'hostname' ? n.hostname || '?' : pref === 'unknown-endpoint' ? null : n.ip;
  w.array(4);
  if (endpoint === null) w.nil();
  else w.bulk(endpoint);
  w.int(n.port);
  w.bulk(n.id);
  const meta: [string, string][] = [];
  if (pref !== 'ip' && n.ip) meta.push(['ip', n.ip]);
  if (pref !== 'hostname' && n.hostname) meta.push(['hostname', n.hostname]);
  w.map(meta.length);
  for (const [k, val] of meta) {
    w.bulk(k);
    w.bulk(val);
  }
}

export function clusterSlots(cl: Cluster, w: RespWriter): void {
  const v = cl.view;
  const out: [number, number, string][] = [];
  let s = 0;
  while (s < SLOTS) {
    const o = v.owners[s];
    if (o === null) {
      s++;
      continue;
    }
    let e = s;
    while (e + 1 < SLOTS && v.owners[e + 1] === o) e++;
    out.push([s, e, o]);
    s = e + 1;
  }
  w.array(out.length);
  for (const [a, b, o] of out) {
    const primary = v.node(o)!;
    const replicas = v.replicasOf(o).filter((r) => !r.failed);
    w.array(3 + replicas.length);
    w.int(a);
    w.int(b);
    writeNodeEntry(w, cl, primary);
    for (const r of replicas) writeNodeEntry(w, cl, r);
  }
}

export function clusterShards(cl: Cluster, w: RespWriter): void {
  const v = cl.view;
  const shards = new Map<string, NodeRecord[]>();
  for (const n of v.nodes.values()) {
    const list = shards.get(n.shardId);
    if (list) list.push(n);
    else shards.set(n.shardId, [n]);
  }
  w.array(shards.size);
  for (const nodes of shards.values()) {
    nodes.sort((a, b) => (a.primary === null ? -1 : 0) - (b.primary === null ? -1 : 0));
    const primary = nodes.find((n) => n.primary === null);
    const slotRanges = primary ? ranges(v.owners, primary.id) : [];
    w.map(2);
    w.bulk('slots');
    w.array(slotRanges.length * 2);
    for (const [a, b] of slotRanges) {
      w.int(a);
      w.int(b);
    }
    w.bulk('nodes');
    w.array(nodes.length);
    for (const n of nodes) {
      const fields: [string, string | number][] = [
        ['id', n.id],
        ['port', n.port],
        ['ip', n.ip],
        ['endpoint', n.ip],
      ];
      if (n.hostname) fields.push(['hostname', n.hostname]);
      fields.push(['role', n.primary === null ? 'master' : 'replica']);
      fields.push(['replication-offset', 0]);
      fields.push(['health', n.failed ? 'failed' : 'online']);
      w.map(fields.length);
      for (const [k, val] of fields) {
        w.bulk(k);
        if (typeof val === 'number') w.int(val);
        else w.bulk(val);
      }
    }
  }
}

export function clusterInfo(cl: Cluster): string {
  const v = cl.view;
  let assigned = 0;
  let fail = 0;
  for (let s = 0; s < SLOTS; s++) {
    const o = v.owners[s];
    if (o === null) continue;
    assigned++;
    if (v.nodes.get(o)?.failed) fail++;
  }
  const me = v.node(cl.myId);
  const lines = [
    `cluster_state:${cl.ok ? 'ok' : 'fail'}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${assigned - fail}`,
    'cluster_slots_pfail:0',
    `cluster_slots_fail:${fail}`,
    `cluster_known_nodes:${Math.max(1, v.nodes.size)}`,
    `cluster_size:${v.size()}`,
    `cluster_current_epoch:${v.currentEpoch}`,
    `cluster_my_epoch:${me?.configEpoch ?? 0}`,
    `cluster_stats_messages_sent:${cl.bus.stats.sent}`,
    `cluster_stats_messages_received:${cl.bus.stats.received}`,
    'total_cluster_links_buffer_limit_exceeded:0',
  ];
  for (const [k, val] of Object.entries(cl.raftInfo())) lines.push(`${k}:${val}`);
  return lines.join('\r\n') + '\r\n';
}

export function clusterLinks(cl: Cluster, w: RespWriter): void {
  const links = cl.bus.links();
  w.array(links.length);
  for (const l of links) {
    w.map(6);
    w.bulk('direction');
    w.bulk(l.direction);
    w.bulk('node');
    w.bulk(l.node);
    w.bulk('create-time');
    w.int(l.createdAt);
    w.bulk('events');
    w.bulk(l.events);
    w.bulk('send-buffer-allocated');
    w.int(0);
    w.bulk('send-buffer-used');
    w.int(0);
  }
}
