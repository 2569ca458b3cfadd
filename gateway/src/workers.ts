/**
 * A multi-process gateway (`--workers N`): the primary process forks N workers (node:cluster) that
 * accept on one shared listening socket; each worker is a whole gateway (its own slot map, upstream connections,
 * pub/sub multiplexing and metrics registry), so the gateway uses N cores. The primary serves nothing
 * itself: it announces readiness once every worker listens, answers the workers' /metrics requests
 * with all workers' metrics aggregated (prom-client AggregatorRegistry, see metrics.ts for how each
 * metric adds up), replaces a worker that dies, and stops them all on SIGINT/SIGTERM.
 *
 * What is per worker: token rate limits (one bucket per process, as with several gateway processes
 * behind a load balancer) and upstream pub/sub subscriptions (one per channel per worker).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const METRICS_REQ = 'gateway:metrics-req';
const METRICS_RES = 'gateway:metrics-res';
const READY = 'gateway:ready';

interface Msg {
  type?: string;
  id?: number;
  text?: string;
  error?: string;
  line?: string;
}

/** Run the primary: fork `n` workers and supervise them. Resolves once every worker listens. */
export function runPrimary(n: number, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<void> {
  const agg = new AggregatorRegistry();
  const ready = new Set<number>();
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  return new Promise((resolve) => {
    cluster.on('message', (worker: Worker, msg: Msg) => {
      if (msg?.type === METRICS_REQ) {
        agg.clusterMetrics().then(
          (text) => worker.isConnected() && worker.send({ type: METRICS_RES, id: msg.id, text }),
          (e: unknown) => worker.isConnected() && worker.send({ type: METRICS_RES, id: msg.id, error: e instanceof Error ? e.message : String(e) }),
        );
      } else if (msg?.type === READY) {
        ready.add(worker.id);
        if (!announced && ready.size === n) {
          announced = true;
          out.write(`${msg.line ?? 'cluster-gateway listening'} [${n} worker processes, primary pid ${process.pid}]\n`);
          resolve();
        }
      }
    });

    cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
      const wasReady = ready.delete(worker.id);
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
        return;
      }
      if (!announced && !wasReady) {
        // A worker that cannot start (port taken, cluster unreachable) will not start the next time either.
        err.write(`Fatal: gateway worker ${worker.process.pid} exited before it was ready (${how}); stopping\n`);
        exitCode = 1;
        stop();
        return;
      }
      err.write(`gateway worker ${worker.process.pid} exited (${how}); starting a new one\n`);
      setTimeout(() => {
        if (!stopping) cluster.fork();
      }, 500).unref();
    });

    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      if (workers.length === 0) process.exit(exitCode);
      for (const w of workers) w.process.kill('SIGTERM');
      setTimeout(() => {
        for (const w of workers) w.process.kill('SIGKILL');
        process.exit(exitCode || 1);
      }, 15_000).unref();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);

    // Workers accept on the shared socket themselves (SCHED_NONE) instead of the primary accepting and
    // handing each connection over: a connection handed to a worker that has just died would hang, and
    // the hand-over is one more hop. NODE_CLUSTER_SCHED_POLICY=rr still selects round robin.
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
    for (let i = 0; i < n; i++) cluster.fork();
  });
}

/** True in a worker process of a multi-process gateway. */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/**
 * In a worker: answer the primary's aggregation requests with this worker's `registry` (none yet while
 * the worker starts: a starting worker must still answer at once, or every /metrics would wait for it).
 */
export function serveWorkerMetrics(registry: Registry | null): void {
  new AggregatorRegistry(); // registers prom-client's worker-side listener (once)
  AggregatorRegistry.setRegistries(registry ? [registry] : []);
}

/** In a worker: the /metrics provider that asks the primary for every worker's metrics, aggregated. */
export function workerMetrics(timeoutMs = 5000): () => Promise<string> {
  let next = 0;
  const pending = new Map<number, { resolve(s: string): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  process.on('message', (msg: Msg) => {
    if (msg?.type !== METRICS_RES || msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined) p.reject(new Error(`metrics aggregation failed: ${msg.error}`));
    else p.resolve(msg.text ?? '');
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('metrics aggregation timed out'));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      process.send!({ type: METRICS_REQ, id });
    });
}

/** In a worker: tell the primary this worker listens (`line`: what a single gateway would print). */
export function workerReady(line: string): void {
  process.send?.({ type: READY, line });
}
