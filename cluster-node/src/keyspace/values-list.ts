/**
 * LIST values are the ring-buffer {@link Deque} itself (it implements CollectionValue: type 'list',
 * est, size, estimate()). Handlers mutate it in place and then call `db.account(key, value)`, which
 * re-estimates memory (O(1) for the deque) and deletes the key once the list is empty.
 */
export { Deque as ListValue } from './structures/deque';

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
