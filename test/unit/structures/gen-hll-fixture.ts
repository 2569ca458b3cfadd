/**
 * Regenerates fixtures/hll-redis.json from a real redis-server (not a vitest file):
 *   redis-server --port 0 --unixsocket /tmp/hllfix.sock --save '' --daemonize yes
 *   npx esbuild test/unit/structures/gen-hll-fixture.ts --bundle --platform=node --outfile=/tmp/genhll.js \
 *     && node /tmp/genhll.js /tmp/hllfix.sock > test/unit/structures/fixtures/hll-redis.json
 * For each input set: PFADD key <elements...> (in batches of 1000), then PFCOUNT key, and the sha1
 * and length of GET key after the PFCOUNT (hex too when short). Merges: PFMERGE dest src1 src2 ...
 * then PFCOUNT dest; union: PFCOUNT src1 src2 ... .
 */
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { HLL_INPUT_SETS, HLL_MERGES } from './hll-inputs';

async function main() {
  const r = new Redis({ path: process.argv[2] ?? '/tmp/hllfix.sock' });
  await r.flushall();
  const info = await r.info('server');
  const version = /redis_version:(\S+)/.exec(info)![1];
  const sets = [];
  for (const set of HLL_INPUT_SETS) {
    const key = 'hll:' + set.name;
    const els = set.elements();
    for (let i = 0; i < els.length; i += 1000)
      await r.pfadd(key, ...els.slice(i, i + 1000).map((e) => Buffer.from(e, 'latin1')));
    const count = await r.pfcount(key);
    const bytes = (await r.getBuffer(key))!;
    sets.push({
      name: set.name,
      spec: set.spec,
      commands: `PFADD ${key} <elements in batches of 1000>; PFCOUNT ${key}; GET ${key}`,
      pfcount: count,
      encoding: bytes[4] === 0 ? 'dense' : 'sparse',
      getLength: bytes.length,
      getSha1: createHash('sha1').update(bytes).digest('hex'),
      ...(bytes.length <= 64 ? { getHex: bytes.toString('hex') } : {}),
    });
  }
  const merges = [];
  for (const m of HLL_MERGES) {
    const dest = 'merged:' + m.name;
    const srcKeys = m.sources.map((s) => 'hll:' + s);
    const union = await r.pfcount(...(srcKeys as [string]));
    await r.pfmerge(dest, ...(srcKeys as [string]));
    const count = await r.pfcount(dest);
    const bytes = (await r.getBuffer(dest))!;
    merges.push({
      name: m.name,
      sources: m.sources,
      commands: `PFCOUNT ${srcKeys.join(' ')}; PFMERGE ${dest} ${srcKeys.join(' ')}; PFCOUNT ${dest}; GET ${dest}`,
      unionPfcount: union,
      mergedPfcount: count,
      getLength: bytes.length,
      getSha1: createHash('sha1').update(bytes).digest('hex'),
    });
  }
  process.stdout.write(JSON.stringify({ redisVersion: version, generatedBy: 'test/unit/structures/gen-hll-fixture.ts', sets, merges }, null, 2) + '\n');
  r.disconnect();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
