/**
 * LIST values: a {@link CollectionValue} wrapping the ring-buffer {@link Deque} (like HashValue wraps
 * a Map). Handlers mutate `.list` in place and then call `db.account(key, value)`, which
 * re-estimates memory (O(1) for the deque) and deletes the key once the list is empty.
 */
import { Deque } from './structures/deque';
import type { CollectionValue } from './values';

export class ListValue implements CollectionValue {
  readonly type = 'list' as const;
  est = 0;
  readonly list: Deque;

  constructor(items?: Iterable<string>) {
    this.list = new Deque(items);
  }

  get size(): number {
    return this.list.size;
  }

  estimate(): number {
    return this.list.estimate();
  }

  /** Every element head to tail (DUMP, SORT, DEBUG, tests). */
  toArray(): string[] {
    return this.list.toArray();
  }
}

/**
 * Normalise a Redis inclusive range [start, stop] over a list of `len` elements (LRANGE/LTRIM rules:
 * negative indexes count from the tail, start clamps to 0, stop to len-1). Returns the number of
 * elements in the range; the first index is left in {@link rangeStart}.
 */
export function listRange(len: number, start: number, stop: number): number {
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return 0;
  if (stop >= len) stop = len - 1;
  rangeStart = start;
  return stop - start + 1;
}

/** First index of the range computed by the last {@link listRange} call that returned > 0. */
export let rangeStart = 0;
