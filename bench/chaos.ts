/**
 * `npm run chaos`: the write-safety chaos scenario (bench/chaos-scenario.ts) against cluster-node with
 * min-replicas-ack N (each N in CHAOS_N) and against redis-server 7 with its defaults, one side after the
 * other; prints acked / lost / duplicate / phantom counts per side and the loss charged to each fault kind.
 *
 * Options (env):
 *   CHAOS_LOOPS     rounds of faults per side, each applying kill9, stall, partition, restart and failover
 *                   once in a seeded random order (default 3)
 *   CHAOS_SECONDS   stop starting new faults on a side after this many seconds (default 0: no limit)
 *   CHAOS_N         min-replicas-ack values for our side, comma-separated (default 1,0)
 *   CHAOS_SIDES     ours,redis (default both)
 *   CHAOS_SEED      seed of the fault choices (default random; printed)
 *   CHAOS_WRITERS   writers per shard (default 3); CHAOS_PAUSE_MS pause between a writer's writes (default 2)
 *   CHAOS_FAULTS    fault kinds to apply, comma-separated (default kill9,stall,partition,restart,failover)
 *   CHAOS_KEEP=1    keep every run's data dirs and node logs (kept anyway when a run fails)
 * Flag: --md adds a dated section to BENCHMARKS.md.
 * Exit status 1 if a run of ours with N >= 1 lost an acknowledged write or produced a duplicate or phantom.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { addSection, machineFacts, type MachineFacts } from './lib';
import { FAULT_KINDS, runChaos, type ChaosOptions, type ChaosResult, type FaultKind } from './chaos-scenario';

const ROOT = path.resolve(__dirname, '../..');
const env = process.env;
const LOOPS = Number(env.CHAOS_LOOPS ?? 3);
const SECONDS = Number(env.CHAOS_SECONDS ?? 0);
const NS = (env.CHAOS_N ?? '1,0').split(',').map(Number);
const SIDES = (env.CHAOS_SIDES ?? 'ours,redis').split(',');
const SEED = env.CHAOS_SEED ? Number(env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
const WRITERS = Number(env.CHAOS_WRITERS ?? 3);
const PAUSE_MS = Number(env.CHAOS_PAUSE_MS ?? 2);
const FAULTS = (env.CHAOS_FAULTS ?? FAULT_KINDS.join(',')).split(',') as FaultKind[];
for (const f of FAULTS) if (!FAULT_KINDS.includes(f)) throw new Error(`unknown fault kind ${f} in CHAOS_FAULTS (${FAULT_KINDS.join(', ')})`);

function lostByKind(r: ChaosResult): string {
  return FAULT_KINDS.map((k) => {
    const fs = r.faults.filter((f) => f.kind === k);
    return `${k} ${fs.reduce((a, f) => a + f.lost, 0)}/${fs.length}`;
  }).join(', ');
}

function table(results: ChaosResult[]): string[] {
  const lines = [
    '| side | faults | fault loop (s) | attempts | acked | refused | unknown (present after) | **lost** | **duplicate** | **phantom** | refused but present | lost per fault kind (lost/faults) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.label} | ${r.faults.length} | ${(r.ms / 1000).toFixed(0)} | ${r.attempts} | ${r.acked} | ${r.refused} | ${r.unknown} (${r.unknownPresent}) | ` +
        `**${r.lost}** | **${r.duplicate}** | **${r.phantom}** | ${r.refusedPresent} | ${lostByKind(r)} |`,
    );
  }
  return lines;
}

function markdownSection(date: Date, facts: MachineFacts, results: ChaosResult[]): string {
  const failovers = (r: ChaosResult) => r.faults.filter((f) => f.failedOver).length;
  const lines = [
    `## ${date.toISOString().slice(0, 10)} — write-safety chaos test (\`npm run chaos\`, issue 4)`,
    '',
    `- Machine: nproc ${facts.nproc}, CPU ${facts.cpu}, ${facts.memory}, ${facts.os}; Node ${facts.node}. Anchor: ${facts.redis}. Load average at start: ${facts.load}.`,
    `- Settings: CHAOS_LOOPS=${LOOPS} CHAOS_SECONDS=${SECONDS} CHAOS_WRITERS=${WRITERS} CHAOS_PAUSE_MS=${PAUSE_MS} CHAOS_SEED=${SEED} CHAOS_FAULTS=${FAULTS.join(',')}. Each side: 3 primaries + 3 replicas on loopback ` +
      '(`redis-cli --cluster create ... --cluster-replicas 1`); ours with default settings plus `--min-replicas-ack N`, ' +
      "redis-server 7 with its defaults (`--save '' --appendonly no`, cluster-node-timeout 15000).",
    `- Workload: ${WRITERS} writers per shard RPUSH values unique per attempt to 4 lists per shard, following MOVED, one write in flight each, never resending a failed value. ` +
      'acked = integer reply; refused = an error sent before the command runs (MOVED, CLUSTERDOWN, NOREPLICAS Not enough good replicas...); unknown = timeout, dropped ' +
      'connection or any other error. lost = acked but absent at the end; duplicate = present twice; phantom = present but never written to that list.',
    '- Faults per loop, one at a time, each healed and followed by a wait for a healthy cluster and a read-back: kill -9 of a primary (restarted after its failover); ' +
      'SIGSTOP of a primary (until its failover or 300 ms); partition of a primary\'s cluster bus (until its failover or 300 ms; ours: DEBUG CLUSTER-BUS-DROP, ' +
      'redis: a TCP proxy on each announced bus port; replication links stay up); kill -9 and immediate restart of a random node; CLUSTER FAILOVER [FORCE|TAKEOVER] ' +
      'on a replica. No persistence on either side: a restarted node comes back empty.',
    '',
    ...table(results),
    '',
    ...results.map((r) => `- ${r.label}: ${failovers(r)} of ${r.faults.length} faults led to a failover; faults: ${r.faults.map((f) => `${f.kind} (${f.detail}${f.failedOver ? ', failed over' : ''}${f.lost ? `, lost ${f.lost}` : ''})`).join('; ')}.`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (a !== '--md') throw new Error(`unknown argument ${a} (only --md)`);
  if (!existsSync(path.join(ROOT, 'dist/cluster-node/src/main.js'))) throw new Error('dist/ is missing: run npm run build');
  const date = new Date();
  const facts = machineFacts();
  console.log(`date: ${date.toISOString()}\nmachine: nproc ${facts.nproc}, ${facts.cpu}, ${facts.memory}, ${facts.os}, node ${facts.node}, load ${facts.load}\nanchor: ${facts.redis}\nseed: ${SEED}\n`);
  const runs: ChaosOptions[] = [];
  if (SIDES.includes('ours')) for (const n of NS) runs.push({ side: 'ours', minReplicasAck: n, loops: LOOPS, seconds: SECONDS });
  if (SIDES.includes('redis')) runs.push({ side: 'redis', minReplicasAck: 0, loops: LOOPS, seconds: SECONDS });
  const results: ChaosResult[] = [];
  for (const o of runs) {
    const r = await runChaos({ ...o, seed: SEED, faults: FAULTS, keepDirs: env.CHAOS_KEEP === '1', writersPerShard: WRITERS, writePauseMs: PAUSE_MS, log: (l) => console.log(l) });
    results.push(r);
    for (const [k, v] of Object.entries(r.samples)) if (v.length > 0) console.log(`  ${k} examples: ${v.join(' ')}`);
    console.log('');
  }
  console.log(table(results).join('\n'));
  if (args.includes('--md')) {
    const f = path.join(ROOT, 'BENCHMARKS.md');
    addSection(f, markdownSection(date, facts, results));
    console.log(`\nadded a section to ${f}`);
  }
  const unsafe = results.filter((r) => r.side === 'ours' && (r.minReplicasAck ?? 0) >= 1 && r.lost + r.duplicate + r.phantom + r.refusedPresent > 0);
  if (unsafe.length > 0) {
    console.error(`write safety violated: ${unsafe.map((r) => r.label).join(', ')}`);
    process.exitCode = 1;
  }
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (stopping) return;
    stopping = true;
    process.exit(130); // the scenario's exit hook kills every node it started
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
