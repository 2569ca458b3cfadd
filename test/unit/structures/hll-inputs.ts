/**
 * Deterministic HyperLogLog input sets shared by the fixture generator (gen-hll-fixture.ts) and
 * the tests. Elements are latin1 strings (one char = one byte).
 */
export interface HllInputSet {
  name: string;
  /** Human description of the elements, as written to the fixture. */
  spec: string;
  elements: () => string[];
}

function range(n: number, f: (i: number) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(f(i));
  return out;
}

/** Binary element i: bytes (i*7+k*13) & 255 for k < i % 18 (lengths 0..17 cover every murmur tail). */
function binary(i: number): string {
  let s = '';
  for (let k = 0; k < i % 18; k++) s += String.fromCharCode((i * 7 + k * 13 + (i >> 8)) & 255);
  return s;
}

export const HLL_INPUT_SETS: HllInputSet[] = [
  { name: 'abc', spec: 'a b c', elements: () => ['a', 'b', 'c'] },
  { name: 'empty-string', spec: '"" (one empty element)', elements: () => [''] },
  { name: 'elem-10', spec: 'elem:0 .. elem:9', elements: () => range(10, (i) => 'elem:' + i) },
  { name: 'elem-100', spec: 'elem:0 .. elem:99', elements: () => range(100, (i) => 'elem:' + i) },
  { name: 'elem-1000', spec: 'elem:0 .. elem:999', elements: () => range(1000, (i) => 'elem:' + i) },
  { name: 'elem-3000', spec: 'elem:0 .. elem:2999', elements: () => range(3000, (i) => 'elem:' + i) },
  { name: 'elem-20000', spec: 'elem:0 .. elem:19999', elements: () => range(20000, (i) => 'elem:' + i) },
  { name: 'user-100000', spec: 'user-<i>-x for i < 100000', elements: () => range(100000, (i) => 'user-' + i + '-x') },
  { name: 'num-1000000', spec: 'decimal i for i < 1000000', elements: () => range(1000000, (i) => String(i)) },
  { name: 'binary-5000', spec: 'binary(i) for i < 5000: bytes (i*7+k*13+(i>>8))&255, k < i%18', elements: () => range(5000, binary) },
];

/** Merge scenarios: PFMERGE dest <- sources (by input set name), then PFCOUNT dest. */
export const HLL_MERGES: { name: string; sources: string[] }[] = [
  { name: 'merge-sparse-sparse', sources: ['elem-100', 'abc'] },
  { name: 'merge-sparse-dense', sources: ['elem-1000', 'elem-20000'] },
  { name: 'merge-three', sources: ['binary-5000', 'elem-3000', 'user-100000'] },
];
