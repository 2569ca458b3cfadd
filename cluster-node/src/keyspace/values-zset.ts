/**
 * ZSET values: a thin CollectionValue wrapper around the order-statistics sorted set in
 * ./structures/sorted-set.ts (the tree keeps its own member -> score Map and O(1) estimate()).
 * Other families reach the elements through `.zset` (SortedSet API: add, remove, score, rank,
 * forEach, forEachInRanks, rangeBy*, popMin/popMax, scores Map...).
 */
import { SortedSet } from './structures/sorted-set';
import type { CollectionValue, Value } from './values';

export class ZSetValue implements CollectionValue {
  readonly type = 'zset' as const;
  /** Bytes Db.used currently counts for this value (maintained by Db.set/Db.account). */
  est = 0;
  readonly zset: SortedSet;

  constructor(zset: SortedSet = new SortedSet()) {
    this.zset = zset;
  }

  get size(): number {
    return this.zset.size;
  }

  /** O(1): the tree tracks member bytes incrementally. */
  estimate(): number {
    return this.zset.estimate();
  }

  /** Build from parallel member/score arrays (later duplicates overwrite earlier ones). */
  static from(members: readonly string[], scores: readonly number[]): ZSetValue {
    const v = new ZSetValue();
    for (let i = 0; i < members.length; i++) v.zset.add(members[i], scores[i]);
    return v;
  }
}
