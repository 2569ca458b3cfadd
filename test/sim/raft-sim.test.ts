/**
 * Deterministic simulation of the Raft module over many seeds (see raft-vopr.ts).
 *
 *   npx vitest run test/sim/raft-sim.test.ts                        # CI: the default seed range
 *   RAFT_SIM_SEEDS=5000 RAFT_SIM_START=1000 npx vitest run test/sim/raft-sim.test.ts
 *   RAFT_SIM_SEEDS=1 RAFT_SIM_START=1234 RAFT_SIM_TRACE=1 npx vitest run test/sim/raft-sim.test.ts   # replay one seed
 *
 * A failure prints the seed, the phase, the error and a trace tail.
 */
import { describe, expect, it } from 'vitest';
import { runSeed, type VoprResult } from './raft-vopr';

const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 600);
const START = Number(process.env.RAFT_SIM_START ?? 1);
const TRACE = process.env.RAFT_SIM_TRACE === '1';
const CHUNK = 20;
/**
 * Seeds that once found a bug (fixed since). Code changes alter every trajectory, so they are no
 * guarantee of coverage, but they are cheap and always run.
 *  98: checker — leader completeness must only cover entries committed in earlier terms
 *  1468, 4585: simulator — a learner that lost its disk was promoted to voter
 *  3242: raft — a node that reached the candidate's term via a rejection granted its vote in lease
 */
const REGRESSION_SEEDS = [98, 1468, 3242, 4585];

function report(r: VoprResult): string {
  return [
    `seed ${r.seed} failed in ${r.phase} phase: ${r.error}`,
    `replay: RAFT_SIM_SEEDS=1 RAFT_SIM_START=${r.seed} RAFT_SIM_TRACE=1 npx vitest run test/sim/raft-sim.test.ts`,
    '--- trace tail ---',
    ...r.trace,
  ].join('\n');
}

describe('raft VOPR', () => {
  const chunks: [number, number][] = [];
  for (let s = START; s < START + SEEDS; s += CHUNK) chunks.push([s, Math.min(START + SEEDS, s + CHUNK)]);
  const summary = { runs: 0, ticks: 0, delivered: 0, elections: 0, committed: 0, confChanges: 0, snapshots: 0 };

  for (const [lo, hi] of chunks) {
    it(`seeds ${lo}..${hi - 1}`, async () => {
      const failures: string[] = [];
      for (let seed = lo; seed < hi; seed++) {
        // Yield between seeds so the vitest worker can answer its RPCs during long runs.
        await new Promise((resolve) => setImmediate(resolve));
        const r = runSeed(seed, { fullTrace: TRACE, raftDebug: TRACE });
        summary.runs++;
        summary.ticks += r.stats.ticks;
        summary.delivered += r.stats.delivered;
        summary.elections += r.stats.elections;
        summary.committed += r.stats.committed;
        summary.confChanges += r.stats.confChanges;
        summary.snapshots += r.stats.snapshotsInstalled;
        if (TRACE) console.log(r.trace.join('\n'));
        if (!r.ok) failures.push(report(r));
      }
      if (failures.length > 0) console.error(failures.join('\n\n'));
      expect(failures.map((f) => f.split('\n')[0])).toEqual([]);
    }, 600_000);
  }

  it('regression seeds', () => {
    const failures = REGRESSION_SEEDS.map((seed) => runSeed(seed)).filter((r) => !r.ok);
    if (failures.length > 0) console.error(failures.map(report).join('\n\n'));
    expect(failures.map((r) => `seed ${r.seed}: ${r.error}`)).toEqual([]);
  });

  it('summary', () => {
    console.log(`raft VOPR: ${JSON.stringify(summary)}`);
    expect(summary.runs).toBe(SEEDS);
  });
});
