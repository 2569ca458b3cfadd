/**
 * Value representations. A Redis string is stored as a latin1 JS string (one char = one byte): the
 * most compact thing V8 offers for small values and a Map key without conversion. Collections are
 * wrapper objects carrying `est`, the estimated bytes last accounted for them (see Db.account).
 */

/** Estimated bytes of a collection of `n` elements from a sample of element byte lengths. */
export function estimateFromSample(n: number, sampleBytes: number, sampled: number): number {
  if (n === 0) return 0;
  const avg = sampled === 0 ? 0 : sampleBytes / sampled;
  return Math.ceil(n * (ELEMENT_OVERHEAD + avg));
}

const SAMPLES = 8;

export class HashValue implements CollectionValue {
  readonly type = 'hash' as const;
  est = 0;
  readonly map = new Map<string, string>();
  get size(): number {
    return this.map.size;
  }
  estimate(): number {
    let bytes = 0;
    let n = 0;
    for (const [f, v] of this.map) {
      bytes += strBytes(f.length) + strBytes(v.length);
      if (++n >= SAMPLES) break;
    }
    return estimateFromSample(this.map.size, bytes, n);
  }
}

export class SetValue implements CollectionValue {
  readonly type = 'set' as const;
  est = 0;
  readonly set = new Set<string>();
  get size(): number {
    return this.set.size;
  }
  estimate(): number {
    let bytes = 0;
    let n = 0;
    for (const m of this.set) {
      bytes += strBytes(m.length);
      if (++n >= SAMPLES) break;
    }
    return estimateFromSample(this.set.size, bytes, n);
  }
}

/**
 * Every collection value: lists and sorted sets wrap the structures in ./structures the same way.
 * `est` is what Db.used currently counts for it; `estimate()` recomputes it (by sampling).
 */
export interface CollectionValue {
  readonly type: 'hash' | 'set' | 'list' | 'zset';
  est: number;
  readonly size: number;
  estimate(): number;
}

export type Value = string | CollectionValue;

export type TypeName = 'string' | 'hash' | 'set' | 'list' | 'zset';

export function typeOf(v: Value): TypeName {
  return typeof v === 'string' ? 'string' : v.type;
}

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

/** Approximate per-entry overheads (bytes) of V8 maps/strings, used for used_memory accounting. */
export const KEY_OVERHEAD = 56;
export const ELEMENT_OVERHEAD = 40;

/** Bytes a V8 one-byte string of `n` chars occupies (header + payload, 8-byte aligned). */
export function strBytes(n: number): number {
  return (16 + n + 7) & ~7;
}
