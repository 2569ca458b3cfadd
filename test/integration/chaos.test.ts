/**
 * Write safety under faults (issue 4), the short version of `npm run chaos` (same scenario:
 * bench/chaos-scenario.ts). 3 primaries + 3 replicas with min-replicas-ack 1; writers RPUSH unique
 * values to lists on every shard while one round of faults runs: kill -9 of a primary (then restarted),
 * SIGSTOP of a primary until its failover, its cluster bus cut (DEBUG CLUSTER-BUS-DROP) until its
 * failover, kill -9 and immediate restart of a random node, CLUSTER FAILOVER [FORCE|TAKEOVER]. Each
 * fault is healed and the cluster must become healthy again; then every list is read back from the
 * primaries: no acknowledged write may be missing, and no value may appear twice, out of nowhere, or
 * after a refusal. A second run with min-replicas-ack 0 only reports its count.
 */
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, runChaos, type ChaosResult } from '../../bench/chaos-scenario';

/** Progress lines of the current run, printed in one block at the end (vitest prefixes every console.log). */
let lines: string[] = [];
const log = (l: string): void => void lines.push(l);
async function run(minReplicasAck: number): Promise<ChaosResult> {
  lines = [];
  try {
    return await runChaos({ side: 'ours', minReplicasAck, loops: 1, seconds: 0, log });
  } finally {
    console.log(lines.join('\n'));
  }
}

function summary(r: ChaosResult): string {
  return (
    `${r.label}, seed ${r.seed}: ${r.faults.length} faults in ${(r.ms / 1000).toFixed(1)} s, ${r.acked} acked, ${r.refused} refused, ` +
    `${r.unknown} unknown; lost ${r.lost}, duplicate ${r.duplicate}, phantom ${r.phantom}, refused-but-present ${r.refusedPresent}`
  );
}

describe('chaos: acknowledged writes survive kill -9, SIGSTOP, partitions, restarts and forced failovers', () => {
  it('min-replicas-ack 1: zero lost, zero duplicate, zero phantom', async () => {
    const r = await run(1);
    console.log(summary(r));
    for (const k of FAULT_KINDS) expect(r.faultCounts[k], `fault ${k} applied`).toBeGreaterThanOrEqual(1);
    // The faults that always replace a primary did: kill -9, the first stall and partition (they last
    // until the failover), and CLUSTER FAILOVER.
    for (const k of ['kill9', 'stall', 'partition', 'failover'] as const) {
      expect(r.faults.find((f) => f.kind === k)!.failedOver, `${k} led to a failover`).toBe(true);
    }
    // Enough acknowledged writes, on every shard, for "nothing lost" to mean something.
    expect(r.acked).toBeGreaterThan(500);
    expect(r.ackedPerShard).toHaveLength(3);
    for (const n of r.ackedPerShard) expect(n).toBeGreaterThan(50);
    expect(r.samples).toEqual({ lost: [], duplicate: [], phantom: [], refusedPresent: [] });
    expect([r.lost, r.duplicate, r.phantom, r.refusedPresent]).toEqual([0, 0, 0, 0]);
  }, 300_000);

  it('min-replicas-ack 0: reports acknowledged writes lost (asynchronous replication, as redis-server)', async () => {
    const r = await run(0);
    console.log(summary(r));
    console.log(`min-replicas-ack 0: lost per fault: ${r.faults.map((f) => `${f.kind} ${f.lost}`).join(', ')}`);
    // Loss is expected here; values from nowhere or twice are not.
    expect([r.duplicate, r.phantom, r.refusedPresent]).toEqual([0, 0, 0]);
  }, 300_000);
});
