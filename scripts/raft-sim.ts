/**
 * Run the Raft VOPR (test/sim/raft-vopr.ts) over many seeds, sharded over several vitest processes.
 *
 * The project has no TypeScript loader for plain `node`, and tsconfig.json compiles only common/src and
 * cluster-node/src, so the simulation runs through vitest, driven by environment variables:
 *
 *   RAFT_SIM_SEEDS=5000 RAFT_SIM_START=1000 npx vitest run test/sim/raft-sim.test.ts
 *   RAFT_SIM_SEEDS=1 RAFT_SIM_START=1234 RAFT_SIM_TRACE=1 npx vitest run test/sim/raft-sim.test.ts  # replay one seed
 *
 * This wrapper only splits a large range into parallel shards. Compile and run it with e.g.
 *   npx tsc scripts/raft-sim.ts --outDir dist/scripts --module commonjs --target es2022 --types node
 *   node dist/scripts/raft-sim.js --seeds 20000 --start 1 --jobs 2
 */
import { spawn } from 'node:child_process';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const seeds = arg('seeds', 5000);
const start = arg('start', 1);
const jobs = Math.max(1, arg('jobs', 2));
const per = Math.ceil(seeds / jobs);

const runs = Array.from({ length: jobs }, (_, j) => {
  const lo = start + j * per;
  const n = Math.max(0, Math.min(per, start + seeds - lo));
  return new Promise<number>((resolve) => {
    if (n === 0) return resolve(0);
    const child = spawn('npx', ['vitest', 'run', 'test/sim/raft-sim.test.ts'], {
      env: { ...process.env, RAFT_SIM_SEEDS: String(n), RAFT_SIM_START: String(lo) },
      stdio: 'inherit',
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
});

void Promise.all(runs).then((codes) => {
  const failed = codes.filter((c) => c !== 0).length;
  console.log(`raft-sim: ${seeds} seeds from ${start} in ${jobs} shard(s): ${failed === 0 ? 'all passed' : `${failed} shard(s) failed`}`);
  process.exitCode = failed === 0 ? 0 : 1;
});
