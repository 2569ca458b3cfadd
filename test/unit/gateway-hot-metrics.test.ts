/**
 * The gateway's per-request metrics (hot-metrics.ts) must be exported exactly as prom-client exports
 * the same observations, and keep counting after a registry reset even though the request path caches
 * their labelled children.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from '../../gateway/src/hot-metrics';
import { GatewayMetrics } from '../../gateway/src/metrics';

describe('hot metrics', () => {
  it('export the same text as prom-client for the same observations', async () => {
    const hotReg = new Registry();
    const refReg = new Registry();
    const buckets = [0.001, 0.01, 0.1, 1];
    const hc = new HotCounter({ name: 't_requests_total', help: 'h', labelNames: ['route', 'status'], registers: [hotReg] });
    const rc = new Counter({ name: 't_requests_total', help: 'h', labelNames: ['route', 'status'], registers: [refReg] });
    const hh = new HotHistogram({ name: 't_seconds', help: 'h', labelNames: ['route'], buckets, registers: [hotReg] });
    const rh = new Histogram({ name: 't_seconds', help: 'h', labelNames: ['route'], buckets, registers: [refReg] });
    const obs: Array<[string, string, number]> = [['command', '200', 0.0004], ['command', '200', 0.02], ['pipeline', '400', 3], ['command', '401', 0.001]];
    for (const [route, status, v] of obs) {
      hc.labels(route, status).inc();
      rc.labels(route, status).inc();
      hh.labels(route).observe(v);
      rh.labels(route).observe(v);
    }
    expect(await hotReg.metrics()).toBe(await refReg.metrics());
  });

  it('httpDone keeps counting after resetMetrics (cached children are zeroed, not dropped)', async () => {
    const m = new GatewayMetrics({ processMetrics: false });
    m.httpDone('command', 'GET', 200, 0.002);
    m.httpDone('command', 'GET', 200, 0.002);
    const line = async () => (await m.registry.metrics()).split('\n').find((l) => l.startsWith('gateway_http_requests_total{route="command",method="GET",status="200"}'));
    expect(await line()).toMatch(/ 2$/);
    m.registry.resetMetrics();
    expect(await line()).toMatch(/ 0$/);
    m.httpDone('command', 'GET', 200, 0.002);
    expect(await line()).toMatch(/ 1$/);
  });
});
