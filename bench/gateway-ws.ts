/**
 * WebSocket pub/sub fan-out for bench/gateway.ts: BENCH_WS_CLIENTS (default 1000) `ws` clients on the
 * gateway's `/ws?_token=...`, each sending `{"id":1,"cmd":["SUBSCRIBE","bench"]}`; then an ioredis publisher
 * PUBLISHes to a primary at a fixed rate per step (BENCH_WS_RATES, msg/s, default 10,20,30,40,60,80,120,160)
 * for BENCH_WS_SECONDS (default 5) each. The payload is `<seq> <performance.now()>`, so every delivery gives
 * an end-to-end latency (publisher and sockets are in this process). Per step: deliveries/s, delivered
 * vs expected (published x open sockets), p50/p99, sockets closed, gateway CPU. The ramp stops at the first
 * step that loses messages, closes sockets or falls behind (deliveries/s under 90% of the offered rate).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { CpuMeter, Histogram } from './gateway-load';

const CLIENTS = Number(process.env.BENCH_WS_CLIENTS ?? 1000);
const RATES = (process.env.BENCH_WS_RATES ?? '10,20,30,40,60,80,120,160').split(',').map(Number);
const STEP_SECONDS = Number(process.env.BENCH_WS_SECONDS ?? 5);
const CHANNEL = 'bench';

export interface WsStep {
  rate: number;
  published: number;
  expected: number;
  delivered: number;
  deliveriesPerSec: number;
  p50: number;
  p99: number;
  max: number;
  closed: number;
  gatewayCpu: number;
  /** Gateway CPU time per delivery (µs). */
  gatewayUs: number;
  /** CPU of this process (the sockets' receiving side and the publisher), % of one core. */
  clientCpu: number;
  /** Baseline: one ioredis subscriber on each primary, straight from the cluster (no gateway). */
  direct: { delivered: number; expected: number; p50: number; p99: number };
}

export interface WsResult {
  clients: number;
  seconds: number;
  connectSeconds: number;
  steps: WsStep[];
}

/** True once the gateway in this checkout has a WebSocket endpoint (the build has gateway/src/ws/server). */
export function wsAvailable(root: string): boolean {
  return existsSync(path.join(root, 'dist/gateway/src/ws/server.js'));
}

const DATA = Buffer.from('"data":"');

/**
 * `<seq> <ms>` from a `{"type":"message",...,"data":"<seq> <ms>"}` frame without JSON.parse (a million
 * frames a second would otherwise make the bench process the bottleneck). Returns null for other frames.
 */
function payloadOf(buf: Buffer): { seq: number; t: number } | null {
  const at = buf.indexOf(DATA);
  if (at < 0 || buf.indexOf('"type":"message"') < 0) return null;
  const start = at + DATA.length;
  const end = buf.indexOf(0x22, start); // closing quote
  const text = buf.toString('latin1', start, end);
  const sp = text.indexOf(' ');
  return { seq: Number(text.slice(0, sp)), t: Number(text.slice(sp + 1)) };
}

interface Counters {
  /** Deliveries per socket whose seq is in the current step's range. */
  delivered: number;
  lastArrival: number;
  firstSeq: number;
  lastSeq: number;
  hist: Histogram;
  closed: number;
}

function openClient(port: number, token: string, c: Counters): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?_token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    let subscribed = false;
    const timer = setTimeout(() => reject(new Error('WebSocket connect/subscribe timed out')), 30_000);
    ws.once('open', () => ws.send(JSON.stringify({ id: 1, cmd: ['SUBSCRIBE', CHANNEL] })));
    ws.on('message', (data: Buffer) => {
      if (!subscribed) {
        if (data.includes('"id":1')) {
          if (!data.includes('"result"')) return reject(new Error(`SUBSCRIBE failed: ${data.toString()}`));
          subscribed = true;
          clearTimeout(timer);
          resolve(ws);
        }
        return;
      }
      const p = payloadOf(data);
      if (!p || p.seq < c.firstSeq || p.seq > c.lastSeq) return;
      const now = performance.now();
      c.delivered++;
      c.lastArrival = now;
      c.hist.record(now - p.t);
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once('close', (code) => {
      c.closed++;
      if (!subscribed) reject(new Error(`WebSocket closed (${code}) before SUBSCRIBE completed`));
    });
  });
}

export interface WsBenchOptions {
  gatewayPort: number;
  gatewayPid: number;
  nodePorts: number[];
  token: string;
}

export async function runWsBench(o: WsBenchOptions): Promise<WsResult> {
  const c: Counters = { delivered: 0, lastArrival: 0, firstSeq: 0, lastSeq: -1, hist: new Histogram(), closed: 0 };
  const sockets: WebSocket[] = [];
  const pub = new Redis({ host: '127.0.0.1', port: o.nodePorts[0]!, lazyConnect: true });
  // The baseline: what the cluster itself delivers to one plain subscriber per primary.
  const direct: Counters = { delivered: 0, lastArrival: 0, firstSeq: 0, lastSeq: -1, hist: new Histogram(), closed: 0 };
  const subs = o.nodePorts.map((port) => new Redis({ host: '127.0.0.1', port, lazyConnect: true }));
  const t0 = performance.now();
  const steps: WsStep[] = [];
  try {
    console.log(`\nWebSocket: opening ${CLIENTS} sockets on /ws and subscribing them to "${CHANNEL}"...`);
    for (let i = 0; i < CLIENTS; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, () => openClient(o.gatewayPort, o.token, c)));
      sockets.push(...batch);
    }
    const connectSeconds = (performance.now() - t0) / 1000;
    console.log(`  ${sockets.length} sockets subscribed in ${connectSeconds.toFixed(1)} s`);
    await pub.connect();
    for (const sub of subs) {
      await sub.connect();
      await sub.subscribe(CHANNEL);
      sub.on('message', (_ch: string, text: string) => {
        const sp = text.indexOf(' ');
        const seqNo = Number(text.slice(0, sp));
        if (seqNo < direct.firstSeq || seqNo > direct.lastSeq) return;
        direct.delivered++;
        direct.hist.record(performance.now() - Number(text.slice(sp + 1)));
      });
    }
    // One message to check the path (and let the hub's upstream subscription settle) before timing.
    let seq = 0;
    c.firstSeq = 0;
    c.lastSeq = 0;
    await pub.publish(CHANNEL, `${seq++} ${performance.now()}`);
    const warmDeadline = Date.now() + 10_000;
    while (c.delivered < sockets.length && Date.now() < warmDeadline) await new Promise((r) => setTimeout(r, 20));
    if (c.delivered < sockets.length) throw new Error(`the first message reached ${c.delivered} of ${sockets.length} sockets within 10 s`);
    const cpu = new CpuMeter(() => [o.gatewayPid]);
    for (const rate of RATES) {
      const open = sockets.length - c.closed;
      c.delivered = 0;
      c.hist.reset();
      c.firstSeq = seq;
      c.lastSeq = Number.MAX_SAFE_INTEGER;
      direct.delivered = 0;
      direct.hist.reset();
      direct.firstSeq = seq;
      direct.lastSeq = Number.MAX_SAFE_INTEGER;
      const closedBefore = c.closed;
      cpu.start();
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      const end = start + STEP_SECONDS * 1000;
      let published = 0;
      // Publish on a 5 ms tick as many as the rate owes by now (a late timer catches up).
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const now = performance.now();
          const due = Math.floor(((Math.min(now, end) - start) / 1000) * rate);
          for (; published < due; published++) void pub.publish(CHANNEL, `${seq++} ${performance.now()}`);
          if (now >= end) {
            clearInterval(tick);
            resolve();
          }
        }, 5);
      });
      c.lastSeq = seq - 1;
      direct.lastSeq = seq - 1;
      const expected = published * open;
      // Drain: until everything arrived or nothing arrived for 2 s.
      let last = -1;
      let quietSince = performance.now();
      while (c.delivered < expected && performance.now() - quietSince < 2000) {
        if (c.delivered !== last) {
          last = c.delivered;
          quietSince = performance.now();
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      const gatewayCpu = cpu.percent();
      const gatewayUs = (cpu.seconds() / Math.max(1, c.delivered)) * 1e6;
      const used = process.cpuUsage(cpu0);
      const clientCpu = ((used.user + used.system) / 1000 / (performance.now() - start)) * 100;
      const span = (Math.max(c.lastArrival, end) - start) / 1000;
      const step: WsStep = {
        rate,
        published,
        expected,
        delivered: c.delivered,
        deliveriesPerSec: c.delivered / span,
        p50: c.hist.quantile(0.5),
        p99: c.hist.quantile(0.99),
        max: c.hist.max,
        closed: c.closed - closedBefore,
        gatewayCpu,
        gatewayUs,
        clientCpu,
        direct: { delivered: direct.delivered, expected: published * subs.length, p50: direct.hist.quantile(0.5), p99: direct.hist.quantile(0.99) },
      };
      steps.push(step);
      console.log(
        `  ${String(rate).padStart(5)} msg/s: ${published} published, ${step.delivered}/${expected} delivered (${step.deliveriesPerSec.toFixed(0)}/s), ` +
          `p50 ${step.p50.toFixed(2)} ms, p99 ${step.p99.toFixed(2)} ms, max ${step.max.toFixed(1)} ms, sockets closed ${step.closed}, CPU gateway ${gatewayCpu.toFixed(0)}% (${gatewayUs.toFixed(1)} µs per delivery) / clients ${clientCpu.toFixed(0)}%; ` +
          `direct subscribers: ${step.direct.delivered}/${step.direct.expected}, p50 ${step.direct.p50.toFixed(2)} ms, p99 ${step.direct.p99.toFixed(2)} ms`,
      );
      if (step.delivered < expected || step.closed > 0 || step.deliveriesPerSec < 0.9 * (published / STEP_SECONDS) * open) {
        console.log('  (stopping the ramp: the last step lost messages, closed sockets or fell behind)');
        break;
      }
    }
    return { clients: sockets.length, seconds: STEP_SECONDS, connectSeconds, steps };
  } finally {
    pub.disconnect();
    for (const sub of subs) sub.disconnect();
    for (const s of sockets) s.terminate();
  }
}
