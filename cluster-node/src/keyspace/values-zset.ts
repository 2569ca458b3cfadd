/**
 * ZSET values are the order-statistics {@link SortedSet} itself (it implements CollectionValue: type
 * 'zset', est, size, O(1) estimate()). Other families use its API directly: add, remove, score, rank,
 * forEach, forEachInRanks, rangeBy*, popMin/popMax, the scores Map...
 */
import { SortedSet } from './structures/sorted-set';

export { SortedSet as ZSetValue };

/** Build a sorted set from parallel member/score arrays (later duplicates overwrite earlier ones). */
export function buildZSet(members: readonly string[], scores: readonly number[]): SortedSet {
  const z = new SortedSet();
  for (let i = 0; i < members.length; i++) z.add(members[i], scores[i]);
  return z;
}
