/**
 * Micro-benchmarks for the keyspace structures (not a vitest file). Run:
 *   npx esbuild test/unit/structures/bench.ts --bundle --platform=node --outfile=/tmp/sbench.js && node --expose-gc /tmp/sbench.js
 *
 * Includes a Redis-style span skiplist (zskiplist port, p = 1/4, max level 32) as the reference the
 * B+tree SortedSet was measured against.
 *
 * Results (Node 20, 2-core shared VM, N = 1M random scores; best run, other runs were slower under
 * load but kept the same ratios):
 *   op                              B+tree      skiplist
 *   insert                          0.50 M/s    0.12 M/s
 *   ZRANK                           1.02 M/s    0.12 M/s
 *   ZRANGEBYSCORE LIMIT 10          0.82 M/s    0.08 M/s
 *   update score +1 (ZINCRBY)       0.93 M/s    0.08 M/s
 *   update score, random move       0.33 M/s    0.05 M/s
 *   remove                          0.61 M/s    0.14 M/s
 *   heap bytes / element (+Map)     61          211
 * Half of the B+tree insert time is the member -> score Map itself (1M-entry Map.set alone runs at
 * 1-3 M/s here). Small sets (100 elements) insert at ~2.5-4.7 M/s and ZRANK at ~4-9 M/s.
 */
import { Deque } from '../../../cluster-node/src/keyspace/structures/deque';
import { HyperLogLog, murmurHash64A } from '../../../cluster-node/src/keyspace/structures/hyperloglog';
import { SortedSet } from '../../../cluster-node/src/keyspace/structures/sorted-set';

// ---------------- reference skiplist (Redis t_zset.c zskiplist, same API subset) ----------------
class SLNode {
  fwd: (SLNode | null)[];
  span: number[];
  back: SLNode | null = null;
  constructor(
    public member: string,
    public score: number,
    level: number,
  ) {
    this.fwd = new Array(level).fill(null);
    this.span = new Array(level).fill(0);
  }
}
class SkipList {
  head = new SLNode('', 0, 32);
  tail: SLNode | null = null;
  level = 1;
  length = 0;
  dict = new Map<string, number>();
  private rng = 0x9e3779b9;
  private update: SLNode[] = new Array(32);
  private rank: number[] = new Array(32);
  private randomLevel(): number {
    let l = 1;
    for (;;) {
      let x = this.rng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.rng = x;
      if ((x & 0xffff) < 0x4000 && l < 32) l++;
      else return l;
    }
  }
  add(m: string, s: number): void {
    const old = this.dict.get(m);
    if (old !== undefined) {
      if (old === s) return;
      this.del(m, old);
    }
    this.dict.set(m, s);
    const update = this.update;
    const rank = this.rank;
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1];
      let f = x.fwd[i];
      while (f !== null && (f.score < s || (f.score === s && f.member < m))) {
        rank[i] += x.span[i];
        x = f;
        f = x.fwd[i];
      }
      update[i] = x;
    }
    const level = this.randomLevel();
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.head;
        update[i].span[i] = this.length;
      }
      this.level = level;
    }
    const n = new SLNode(m, s, level);
    for (let i = 0; i < level; i++) {
      n.fwd[i] = update[i].fwd[i];
      update[i].fwd[i] = n;
      n.span[i] = update[i].span[i] - (rank[0] - rank[i]);
      update[i].span[i] = rank[0] - rank[i] + 1;
    }
    for (let i = level; i < this.level; i++) update[i].span[i]++;
    n.back = update[0] === this.head ? null : update[0];
    if (n.fwd[0] !== null) n.fwd[0]!.back = n;
    else this.tail = n;
    this.length++;
  }
  remove(m: string): boolean {
    const s = this.dict.get(m);
    if (s === undefined) return false;
    this.dict.delete(m);
    this.del(m, s);
    return true;
  }
  private del(m: string, s: number): void {
    const update = this.update;
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.fwd[i];
      while (f !== null && (f.score < s || (f.score === s && f.member < m))) {
        x = f;
        f = x.fwd[i];
      }
      update[i] = x;
    }
    const n = x.fwd[0]!;
    for (let i = 0; i < this.level; i++) {
      if (update[i].fwd[i] === n) {
        update[i].span[i] += n.span[i] - 1;
        update[i].fwd[i] = n.fwd[i];
      } else update[i].span[i] -= 1;
    }
    if (n.fwd[0] !== null) n.fwd[0]!.back = n.back;
    else this.tail = n.back;
    while (this.level > 1 && this.head.fwd[this.level - 1] === null) this.level--;
    this.length--;
  }
  rankOf(m: string): number {
    const s = this.dict.get(m);
    if (s === undefined) return -1;
    let r = 0;
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.fwd[i];
      while (f !== null && (f.score < s || (f.score === s && f.member <= m))) {
        r += x.span[i];
        x = f;
        f = x.fwd[i];
      }
      if (x.member === m && x !== this.head) return r - 1;
    }
    return -1;
  }
  rangeByScore(min: number, limit: number, out: string[]): void {
    let x = this.head;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.fwd[i];
      while (f !== null && f.score < min) {
        x = f;
        f = x.fwd[i];
      }
    }
    let n = x.fwd[0];
    while (n !== null && limit-- > 0) {
      out.push(n.member);
      n = n.fwd[0];
    }
  }
}

// ---------------------------------------------------------------------------------------------
function time(label: string, ops: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0);
  const rate = ops / (ns / 1e9);
  console.log(`${label.padEnd(48)} ${(rate / 1e6).toFixed(2).padStart(7)} M ops/s`);
  return rate;
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function rngFactory(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function benchZset(N: number) {
  console.log(`\n== sorted set, N = ${N} (random scores, members "member:<i>") ==`);
  const members: string[] = [];
  const scores: number[] = [];
  const r = rngFactory(42);
  for (let i = 0; i < N; i++) {
    members.push('member:' + i);
    scores.push(Math.floor(r() * N * 10));
  }
  for (const impl of ['btree', 'skiplist'] as const) {
    const before = heapUsed();
    let z: SortedSet | SkipList = impl === 'btree' ? new SortedSet() : new SkipList();
    time(`${impl} insert`, N, () => {
      for (let i = 0; i < N; i++) z.add(members[i], scores[i]);
    });
    const after = heapUsed();
    console.log(`${impl} heap bytes/element (incl. Map): ${((after - before) / N).toFixed(1)}`);
    let acc = 0;
    time(`${impl} rank (ZRANK)`, N, () => {
      for (let i = 0; i < N; i++) acc += z instanceof SortedSet ? z.rank(members[i]) : z.rankOf(members[i]);
    });
    const Q = Math.min(N, 200000);
    time(`${impl} range by score, limit 10 (ZRANGEBYSCORE)`, Q, () => {
      const out: string[] = [];
      for (let i = 0; i < Q; i++) {
        const min = scores[i];
        if (z instanceof SortedSet) acc += z.rangeByScore({ value: min, exclusive: false }, { value: Infinity, exclusive: false }, false, 0, 10).members.length;
        else {
          out.length = 0;
          z.rangeByScore(min, 10, out);
          acc += out.length;
        }
      }
    });
    time(`${impl} update score (ZINCRBY +1)`, N, () => {
      for (let i = 0; i < N; i++) z.add(members[i], scores[i] + 1);
    });
    time(`${impl} update score (random move)`, N, () => {
      for (let i = 0; i < N; i++) z.add(members[i], scores[(i * 7919) % N]);
    });
    time(`${impl} remove`, N, () => {
      for (let i = 0; i < N; i++) z.remove(members[i]);
    });
    if (impl === 'btree') {
      const zz = new SortedSet();
      for (let i = 0; i < N; i++) zz.add(members[i], scores[i]);
      time('btree memberAt (ZRANGE i i)', N, () => {
        for (let i = 0; i < N; i++) acc += zz.memberAt(i)!.length;
      });
      time('btree countByScore (ZCOUNT)', Q, () => {
        for (let i = 0; i < Q; i++) acc += zz.countByScore({ value: scores[i], exclusive: false }, { value: scores[i] + 1000, exclusive: true });
      });
      time('btree score (ZSCORE)', N, () => {
        for (let i = 0; i < N; i++) acc += zz.score(members[i])!;
      });
      time('btree popMin 1 (ZPOPMIN)', N, () => {
        for (let i = 0; i < N; i++) acc += zz.popMin(1).members.length;
      });
      const seq = new SortedSet();
      time('btree insert ascending scores (leaderboard append)', N, () => {
        for (let i = 0; i < N; i++) seq.add(members[i], i);
      });
    }
    z = null as unknown as SortedSet;
    if (acc === -1) console.log(acc);
  }
}

function benchDeque(N: number) {
  console.log(`\n== deque, N = ${N} ==`);
  const d = new Deque();
  const vals: string[] = [];
  for (let i = 0; i < 1024; i++) vals.push('value:' + i);
  time('pushBack (RPUSH)', N, () => {
    for (let i = 0; i < N; i++) d.pushBack(vals[i & 1023]);
  });
  let acc = 0;
  time('get(i) (LINDEX)', N, () => {
    for (let i = 0; i < N; i++) acc += d.get(i)!.length;
  });
  time('range 0..9 at random offsets (LRANGE 10)', N, () => {
    for (let i = 0; i < N; i++) acc += d.range(i, i + 9).length;
  });
  time('popFront (LPOP)', N, () => {
    for (let i = 0; i < N; i++) acc += d.popFront()!.length;
  });
  time('pushFront + popBack (queue)', N, () => {
    for (let i = 0; i < N; i++) {
      d.pushFront(vals[i & 1023]);
      if (i & 1) acc += d.popBack()!.length;
    }
  });
  if (acc === -1) console.log(acc);
}

function benchHll(N: number) {
  console.log(`\n== hyperloglog, N = ${N} ==`);
  const els: string[] = [];
  for (let i = 0; i < N; i++) els.push('element:' + i);
  let acc = 0n;
  time('murmurHash64A via BigInt wrapper (slow path)', 100000, () => {
    for (let i = 0; i < 100000; i++) acc ^= murmurHash64A(els[i]);
  });
  const h = HyperLogLog.create();
  time('add (PFADD) incl. sparse phase', N, () => {
    for (let i = 0; i < N; i++) h.add(els[i]);
  });
  const dense = HyperLogLog.create();
  dense.toDense();
  time('add (PFADD) dense', N, () => {
    for (let i = 0; i < N; i++) dense.add(els[i]);
  });
  let c = 0;
  time('count, cache invalidated each time (PFCOUNT dense)', 2000, () => {
    for (let i = 0; i < 2000; i++) {
      dense.invalidateCache();
      c += dense.count();
    }
  });
  const s = dense.toString();
  time('parse + toString of a dense value (GET/SET path)', 20000, () => {
    for (let i = 0; i < 20000; i++) c += HyperLogLog.parse(s)!.toString().length;
  });
  const small = HyperLogLog.create();
  for (let i = 0; i < 100; i++) small.add(els[i]);
  time('count of a 100-element sparse HLL (cache invalid)', 20000, () => {
    for (let i = 0; i < 20000; i++) {
      small.invalidateCache();
      c += small.count();
    }
  });
  if (c === -1 || acc === -1n) console.log(c);
}

const N = Number(process.argv[2] ?? 1_000_000);
benchZset(N);
benchDeque(N);
benchHll(N);
