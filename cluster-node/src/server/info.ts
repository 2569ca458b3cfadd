/**
 * INFO: Redis's sections and field names, "name:value" lines ending in CRLF, sections headed by
 * "# Title" and separated by an empty line. Also the per-server bits INFO reports that nothing
 * else owns yet (memory peak, replication ids) and helpers shared with MEMORY STATS.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Server } from './server';
import { BASE_MEMORY } from './eviction';
import { REDIS_VERSION } from '../version';

/** Sections in output order. */
const SECTIONS = [
  'server',
  'clients',
  'memory',
  'persistence',
  'stats',
  'replication',
  'cpu',
  'modules',
  'commandstats',
  'errorstats',
  'latencystats',
  'cluster',
  'keyspace',
] as const;
type Section = (typeof SECTIONS)[number];

const DEFAULT = new Set<Section>(SECTIONS.filter((s) => s !== 'commandstats' && s !== 'latencystats'));

const TITLES: Record<Section, string> = {
  server: 'Server',
  clients: 'Clients',
  memory: 'Memory',
  persistence: 'Persistence',
  stats: 'Stats',
  replication: 'Replication',
  cpu: 'CPU',
  modules: 'Modules',
  commandstats: 'Commandstats',
  errorstats: 'Errorstats',
  latencystats: 'Latencystats',
  cluster: 'Cluster',
  keyspace: 'Keyspace',
};

/** Per-server state reported by INFO that has no other home yet. */
export interface InfoState {
  peakMemory: number;
}

const states = new WeakMap<Server, InfoState>();

export function infoState(s: Server): InfoState {
  let st = states.get(s);
  if (st === undefined) {
    st = { peakMemory: 0 };
    states.set(s, st);
  }
  return st;
}

/** A new replication id (DEBUG CHANGE-REPL-ID), dropping the secondary one. */
export function changeReplId(s: Server): void {
  s.replication.changeReplId();
}

/** used_memory, updating the recorded peak. */
export function usedMemory(s: Server): number {
  const used = s.evictor.usedMemory();
  const st = infoState(s);
  if (used > st.peakMemory) st.peakMemory = used;
  return used;
}

export function resetPeak(s: Server): void {
  infoState(s).peakMemory = 0;
  usedMemory(s);
}

/** Redis's bytesToHuman: 1023B, 1.00K, 12.35M, ... */
export function bytesToHuman(n: number): string {
  const units = ['K', 'M', 'G', 'T', 'P'];
  if (n < 1024) return `${n}B`;
  let d = n;
  for (const u of units) {
    d /= 1024;
    if (d < 1024) return `${d.toFixed(2)}${u}`;
  }
  return `${n}B`;
}

function pct(part: number, whole: number): string {
  return `${(whole > 0 ? (part * 100) / whole : 0).toFixed(2)}%`;
}

function ratio(a: number, b: number): string {
  return (b > 0 ? a / b : 0).toFixed(2);
}

/** Seconds with 6 decimals from microseconds ("%ld.%06ld"). */
function secs(us: number): string {
  const s = Math.floor(us / 1e6);
  return `${s}.${String(Math.floor(us - s * 1e6)).padStart(6, '0')}`;
}

/** Which sections an INFO argument list selects (args are the words after INFO). */
export function selectSections(args: readonly string[]): Set<Section> {
  if (args.length === 0) return DEFAULT;
  const out = new Set<Section>();
  for (const raw of args) {
    const a = raw.toLowerCase();
    if (a === 'all' || a === 'everything') for (const s of SECTIONS) out.add(s);
    else if (a === 'default') for (const s of DEFAULT) out.add(s);
    else if (a === 'module_list') out.add('modules');
    else if ((SECTIONS as readonly string[]).includes(a)) out.add(a as Section);
  }
  return out;
}

/** The INFO text for the given arguments. */
export function genInfo(s: Server, args: readonly string[]): string {
  const wanted = selectSections(args);
  const parts: string[] = [];
  for (const sec of SECTIONS) {
    if (!wanted.has(sec)) continue;
    const lines = SECTION_FNS[sec](s);
    let text = `# ${TITLES[sec]}\r\n`;
    for (const l of lines) text += `${l}\r\n`;
    parts.push(text);
  }
  return parts.join('\r\n');
}

function serverSection(s: Server): string[] {
  const now = Date.now();
  const uptime = Math.floor((now - s.startTime) / 1000);
  const binds = s.config.str('bind').split(/\s+/).filter(Boolean);
  const exe = process.argv[1] ? path.resolve(process.argv[1]) : process.execPath;
  return [
    `redis_version:${REDIS_VERSION}`,
    'redis_git_sha1:00000000',
    'redis_git_dirty:0',
    'redis_build_id:0',
    `redis_mode:${s.config.bool('cluster-enabled') ? 'cluster' : 'standalone'}`,
    `os:${os.type()} ${os.release()} ${os.machine()}`,
    `arch_bits:${process.arch.endsWith('64') ? 64 : 32}`,
    'monotonic_clock:POSIX clock_gettime',
    `multiplexing_api:${process.platform === 'linux' ? 'epoll' : process.platform === 'win32' ? 'iocp' : 'kqueue'}`,
    'atomicvar_api:c11-builtin',
    'gcc_version:0.0.0',
    `process_id:${process.pid}`,
    `process_supervised:${s.config.str('supervised')}`,
    `run_id:${s.runId}`,
    `tcp_port:${s.boundPort()}`,
    `server_time_usec:${now * 1000 + Math.floor((performance.now() % 1) * 1000)}`,
    `uptime_in_seconds:${uptime}`,
    `uptime_in_days:${Math.floor(uptime / 86400)}`,
    `hz:${s.config.int('hz')}`,
    `configured_hz:${s.config.int('hz')}`,
    `lru_clock:${Math.floor(now / 1000) & 0xffffff}`,
    `executable:${exe}`,
    `config_file:${s.config.file ?? ''}`,
    'io_threads_active:0',
    `listener0:name=tcp,${binds.map((b) => `bind=${b}`).join(',')},port=${s.boundPort()}`,
  ];
}

function clientsSection(s: Server): string[] {
  let normal = 0;
  let maxIn = 0;
  let maxOut = 0;
  let pubsub = 0;
  let watching = 0;
  let inTimeout = 0;
  for (const c of s.clients.values()) {
    if (!c.isReplicaLink) normal++;
    const qb = c.parser.bufferedBytes;
    if (qb > maxIn) maxIn = qb;
    const ob = c.outBytes + c.socket.writableLength;
    if (ob > maxOut) maxOut = ob;
    if (c.subscriptionCount > 0) pubsub++;
    if (c.watching.length > 0) watching++;
    if (c.blocked && c.blocked.deadline > 0) inTimeout++;
  }
  let watchedKeys = 0;
  let blockingKeys = 0;
  for (const db of s.dbs) {
    if (db.watched !== null) watchedKeys += db.watched.size;
    if (db.blockedKeys !== null) blockingKeys += db.blockedKeys.size;
  }
  return [
    `connected_clients:${normal}`,
    'cluster_connections:0',
    `maxclients:${s.config.int('maxclients')}`,
    `client_recent_max_input_buffer:${maxIn}`,
    `client_recent_max_output_buffer:${maxOut}`,
    `blocked_clients:${s.stats.blockedClients}`,
    'tracking_clients:0',
    `pubsub_clients:${pubsub}`,
    `watching_clients:${watching}`,
    `clients_in_timeout_table:${inTimeout}`,
    `total_watched_keys:${watchedKeys}`,
    `total_blocking_keys:${blockingKeys}`,
    'total_blocking_keys_on_nokey:0',
  ];
}

/** Numbers shared by INFO memory and MEMORY STATS. */
export interface MemoryFigures {
  used: number;
  peak: number;
  startup: number;
  dataset: number;
  overhead: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  clientsNormal: number;
  clientsReplicas: number;
  keys: number;
}

export function memoryFigures(s: Server): MemoryFigures {
  const used = usedMemory(s);
  const mu = process.memoryUsage();
  let clientsNormal = 0;
  let clientsReplicas = 0;
  for (const c of s.clients.values()) {
    const b = c.outBytes + c.socket.writableLength + c.parser.bufferedBytes;
    if (c.isReplicaLink) clientsReplicas += b;
    else clientsNormal += b;
  }
  let keys = 0;
  for (const db of s.dbs) keys += db.size;
  const dataset = Math.min(s.datasetBytes(), used);
  return {
    used,
    peak: infoState(s).peakMemory,
    startup: BASE_MEMORY,
    dataset,
    overhead: used - dataset,
    rss: mu.rss,
    heapUsed: mu.heapUsed,
    heapTotal: mu.heapTotal,
    clientsNormal,
    clientsReplicas,
    keys,
  };
}

function memorySection(s: Server): string[] {
  const m = memoryFigures(s);
  const max = s.config.int('maxmemory');
  const total = os.totalmem();
  return [
    `used_memory:${m.used}`,
    `used_memory_human:${bytesToHuman(m.used)}`,
    `used_memory_rss:${m.rss}`,
    `used_memory_rss_human:${bytesToHuman(m.rss)}`,
    `used_memory_peak:${m.peak}`,
    `used_memory_peak_human:${bytesToHuman(m.peak)}`,
    `used_memory_peak_perc:${pct(m.used, m.peak)}`,
    `used_memory_overhead:${m.overhead}`,
    `used_memory_startup:${m.startup}`,
    `used_memory_dataset:${m.dataset}`,
    `used_memory_dataset_perc:${pct(m.dataset, m.used - m.startup)}`,
    `allocator_allocated:${m.heapUsed}`,
    `allocator_active:${m.heapTotal}`,
    `allocator_resident:${m.rss}`,
    `total_system_memory:${total}`,
    `total_system_memory_human:${bytesToHuman(total)}`,
    'used_memory_lua:0',
    'used_memory_vm_eval:0',
    'used_memory_lua_human:0B',
    'used_memory_scripts_eval:0',
    'number_of_cached_scripts:0',
    'number_of_functions:0',
    'number_of_libraries:0',
    'used_memory_vm_functions:0',
    'used_memory_vm_total:0',
    'used_memory_vm_total_human:0B',
    'used_memory_functions:0',
    'used_memory_scripts:0',
    'used_memory_scripts_human:0B',
    `maxmemory:${max}`,
    `maxmemory_human:${bytesToHuman(max)}`,
    `maxmemory_policy:${s.config.str('maxmemory-policy')}`,
    `allocator_frag_ratio:${ratio(m.heapTotal, m.heapUsed)}`,
    `allocator_frag_bytes:${m.heapTotal - m.heapUsed}`,
    `allocator_rss_ratio:${ratio(m.rss, m.heapTotal)}`,
    `allocator_rss_bytes:${m.rss - m.heapTotal}`,
    'rss_overhead_ratio:1.00',
    'rss_overhead_bytes:0',
    `mem_fragmentation_ratio:${ratio(m.rss, m.used)}`,
    `mem_fragmentation_bytes:${m.rss - m.used}`,
    'mem_not_counted_for_evict:0',
    `mem_replication_backlog:${s.replication.backlog?.size ?? 0}`,
    'mem_total_replication_buffers:0',
    `mem_clients_slaves:${m.clientsReplicas}`,
    `mem_clients_normal:${m.clientsNormal}`,
    'mem_cluster_links:0',
    'mem_aof_buffer:0',
    `mem_allocator:v8-${process.versions.v8}`,
    'active_defrag_running:0',
    'lazyfree_pending_objects:0',
    'lazyfreed_objects:0',
  ];
}

function persistenceSection(s: Server): string[] {
  return [
    'loading:0',
    'async_loading:0',
    'current_cow_peak:0',
    'current_cow_size:0',
    'current_cow_size_age:0',
    'current_fork_perc:0.00',
    'current_save_keys_processed:0',
    'current_save_keys_total:0',
    `rdb_changes_since_last_save:${s.dirty}`,
    'rdb_bgsave_in_progress:0',
    `rdb_last_save_time:${s.lastSave}`,
    'rdb_last_bgsave_status:ok',
    'rdb_last_bgsave_time_sec:-1',
    'rdb_current_bgsave_time_sec:-1',
    'rdb_saves:0',
    'rdb_last_cow_size:0',
    'rdb_last_load_keys_expired:0',
    'rdb_last_load_keys_loaded:0',
    `aof_enabled:${s.config.bool('appendonly') ? 1 : 0}`,
    'aof_rewrite_in_progress:0',
    'aof_rewrite_scheduled:0',
    'aof_last_rewrite_time_sec:-1',
    'aof_current_rewrite_time_sec:-1',
    'aof_last_bgrewrite_status:ok',
    'aof_rewrites:0',
    'aof_rewrites_consecutive_failures:0',
    'aof_last_write_status:ok',
    'aof_last_cow_size:0',
    'module_fork_in_progress:0',
    'module_fork_last_cow_size:0',
  ];
}

function statsSection(s: Server): string[] {
  const st = s.stats;
  return [
    `total_connections_received:${st.totalConnections}`,
    `total_commands_processed:${st.totalCommands()}`,
    `instantaneous_ops_per_sec:${st.instantaneousOps}`,
    `total_net_input_bytes:${st.netInput}`,
    `total_net_output_bytes:${st.netOutput}`,
    `total_net_repl_input_bytes:${s.replication.stats.replInputBytes}`,
    `total_net_repl_output_bytes:${s.replication.stats.replOutputBytes}`,
    `instantaneous_input_kbps:${st.instantaneousInKbps.toFixed(2)}`,
    `instantaneous_output_kbps:${st.instantaneousOutKbps.toFixed(2)}`,
    'instantaneous_input_repl_kbps:0.00',
    'instantaneous_output_repl_kbps:0.00',
    `rejected_connections:${st.rejectedConnections}`,
    `sync_full:${s.replication.stats.syncFull}`,
    `sync_partial_ok:${s.replication.stats.syncPartialOk}`,
    `sync_partial_err:${s.replication.stats.syncPartialErr}`,
    `expired_keys:${st.expiredKeys}`,
    `expired_stale_perc:${(st.expiredStalePerc * 100).toFixed(2)}`,
    'expired_time_cap_reached_count:0',
    'expire_cycle_cpu_milliseconds:0',
    `evicted_keys:${st.evictedKeys}`,
    'evicted_clients:0',
    'total_eviction_exceeded_time:0',
    'current_eviction_exceeded_time:0',
    `keyspace_hits:${st.keyspaceHits}`,
    `keyspace_misses:${st.keyspaceMisses}`,
    `pubsub_channels:${s.pubsub.channels.size}`,
    `pubsub_patterns:${s.pubsub.patterns.size}`,
    `pubsubshard_channels:${s.pubsub.shardChannels.size}`,
    'latest_fork_usec:0',
    'total_forks:0',
    'migrate_cached_sockets:0',
    'slave_expires_tracked_keys:0',
    'active_defrag_hits:0',
    'active_defrag_misses:0',
    'active_defrag_key_hits:0',
    'active_defrag_key_misses:0',
    'total_active_defrag_time:0',
    'current_active_defrag_time:0',
    'tracking_total_keys:0',
    'tracking_total_items:0',
    'tracking_total_prefixes:0',
    'unexpected_error_replies:0',
    `total_error_replies:${st.totalErrorReplies}`,
    'dump_payload_sanitizations:0',
    'total_reads_processed:0',
    'total_writes_processed:0',
    'io_threaded_reads_processed:0',
    'io_threaded_writes_processed:0',
    `client_query_buffer_limit_disconnections:0`,
    `client_output_buffer_limit_disconnections:${st.clientOutputLimitDisconnections}`,
    'reply_buffer_shrinks:0',
    'reply_buffer_expands:0',
    'acl_access_denied_auth:0',
    'acl_access_denied_cmd:0',
    'acl_access_denied_key:0',
    'acl_access_denied_channel:0',
  ];
}

/** Replication: rendered by the replication subsystem (replication/replication.ts). */
function replicationSection(s: Server): string[] {
  return s.replication.infoLines();
}

function cpuSection(): string[] {
  const u = process.cpuUsage();
  return [
    `used_cpu_sys:${secs(u.system)}`,
    `used_cpu_user:${secs(u.user)}`,
    'used_cpu_sys_children:0.000000',
    'used_cpu_user_children:0.000000',
    `used_cpu_sys_main_thread:${secs(u.system)}`,
    `used_cpu_user_main_thread:${secs(u.user)}`,
  ];
}

function commandstatsSection(s: Server): string[] {
  const out: string[] = [];
  for (const [name, c] of s.stats.commands) {
    if (c.calls === 0 && c.failed === 0 && c.rejected === 0) continue;
    const usec = Math.round(c.usec);
    out.push(
      `cmdstat_${name}:calls=${c.calls},usec=${usec},usec_per_call=${(c.calls === 0 ? 0 : c.usec / c.calls).toFixed(2)},` +
        `rejected_calls=${c.rejected},failed_calls=${c.failed}`,
    );
  }
  return out;
}

function errorstatsSection(s: Server): string[] {
  const out: string[] = [];
  for (const [code, n] of s.stats.errors) out.push(`errorstat_${code}:count=${n}`);
  return out;
}

function keyspaceSection(s: Server): string[] {
  const out: string[] = [];
  for (const db of s.dbs) {
    if (db.size === 0) continue;
    out.push(`db${db.id}:keys=${db.size},expires=${db.expires.size},avg_ttl=${Math.round(db.avgTtl)}`);
  }
  return out;
}

const SECTION_FNS: Record<Section, (s: Server) => string[]> = {
  server: serverSection,
  clients: clientsSection,
  memory: memorySection,
  persistence: persistenceSection,
  stats: statsSection,
  replication: replicationSection,
  cpu: cpuSection,
  modules: () => [],
  commandstats: commandstatsSection,
  errorstats: errorstatsSection,
  latencystats: () => [],
  cluster: (s) => [
    `cluster_enabled:${s.config.bool('cluster-enabled') ? 1 : 0}`,
    ...Object.entries(s.clusterNode?.raftInfo() ?? {}).map(([k, v]) => `${k}:${v}`),
  ],
  keyspace: keyspaceSection,
};
