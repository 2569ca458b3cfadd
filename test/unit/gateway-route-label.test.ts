import { describe, expect, it } from 'vitest';
import { routeLabel } from '../../gateway/src/app';

describe('routeLabel (the bounded route label of /metrics)', () => {
  it.each([
    ['/', 'command'],
    ['/get/k', 'command'],
    ['/set/k/v?_token=x', 'command'],
    ['/pipeline', 'pipeline'],
    ['/multi-exec', 'multi-exec'],
    ['/db/3', 'command'],
    ['/db/3/', 'command'],
    ['/db/3?_token=a/b', 'command'],
    ['/db/3/pipeline', 'pipeline'],
    ['/db/12/multi-exec?x=1', 'multi-exec'],
    ['/db/3/get/k', 'command'],
    ['/subscribe/ch', 'subscribe'],
    ['/psubscribe/c*', 'psubscribe'],
    ['/metrics', 'metrics'],
    ['/healthz', 'healthz'],
    ['/readyz?x', 'readyz'],
    ['/ws?_token=t', 'ws'],
    ['/cluster', 'cluster'],
    ['/client.js', 'static'],
    ['/favicon.ico', 'static'],
    ['/pipelinex', 'command'],
    ['/metrics/extra', 'metrics'],
  ])('%s -> %s', (url, label) => {
    expect(routeLabel(url)).toBe(label);
  });
});
