/**
 * The list behind LIST values: a ring buffer of latin1 strings with power-of-two capacity.
 *
 * Costs: push/pop at either end O(1) amortized; index access (LINDEX/LSET) O(1); insert/remove at
 * an index O(min(i, n-i)); LRANGE O(k); LREM/LPOS/LINSERT O(n); LTRIM O(removed).
 *
 * Invariants:
 *  - `buf.length` (the capacity) is a power of two >= MIN_CAPACITY and `mask === buf.length - 1`.
 *  - The elements, head to tail, are buf[(head + i) & mask] for 0 <= i < len; len <= capacity.
 *  - Slots outside the live range hold undefined (no stale references kept alive).
 *  - After a removal the capacity is halved while len < capacity / 4 (and capacity > MIN_CAPACITY),
 *    so memory stays within 4x the live elements for large lists.
 *  - `bytes` is the sum of strBytes(element) over the live elements (for estimate()).
 *
 * Index arguments follow Redis: negative indexes count from the tail (-1 = last).
 */
import { strBytes } from '../values';

const MIN_CAPACITY = 4;

export class Deque {
  readonly type = 'list' as const;
  /** Estimated bytes last accounted for this value (maintained by the keyspace). */
  est = 0;

  private buf: (string | undefined)[];
  private mask: number;
  private head = 0;
  private len = 0;
  private bytes = 0;

  constructor(items?: Iterable<string>) {
    this.buf = new Array(MIN_CAPACITY).fill(undefined);
    this.mask = MIN_CAPACITY - 1;
    if (items !== undefined) for (const v of items) this.pushBack(v);
  }

  /** Number of elements (LLEN). */
  get size(): number {
    return this.len;
  }

  /** Estimated memory footprint in bytes, O(1). */
  estimate(): number {
    return 64 + this.buf.length * 8 + this.bytes;
  }

  /** RPUSH one element. */
  pushBack(v: string): void {
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    this.buf[(this.head + this.len) & this.mask] = v;
    this.len++;
    this.bytes += strBytes(v.length);
  }

  /** LPUSH one element. */
  pushFront(v: string): void {
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = v;
    this.len++;
    this.bytes += strBytes(v.length);
  }

  /** LPOP one element, undefined when empty. */
  popFront(): string | undefined {
    if (this.len === 0) return undefined;
    const v = this.buf[this.head] as string;
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.len--;
    this.bytes -= strBytes(v.length);
    this.maybeShrink();
    return v;
  }

  /** RPOP one element, undefined when empty. */
  popBack(): string | undefined {
    if (this.len === 0) return undefined;
    const i = (this.head + this.len - 1) & this.mask;
    const v = this.buf[i] as string;
    this.buf[i] = undefined;
    this.len--;
    this.bytes -= strBytes(v.length);
    this.maybeShrink();
    return v;
  }

  /** First element without removing it. */
  peekFront(): string | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  /** Last element without removing it. */
  peekBack(): string | undefined {
    return this.len === 0 ? undefined : this.buf[(this.head + this.len - 1) & this.mask];
  }

  /** LINDEX: element at `index` (negative from the tail), undefined if out of range. O(1). */
  get(index: number): string | undefined {
    if (index < 0) index += this.len;
    if (index < 0 || index >= this.len) return undefined;
    return this.buf[(this.head + index) & this.mask];
  }

  /** LSET: replace the element at `index` (negative from the tail); false if out of range. O(1). */
  set(index: number, v: string): boolean {
    if (index < 0) index += this.len;
    if (index < 0 || index >= this.len) return false;
    const i = (this.head + index) & this.mask;
    this.bytes += strBytes(v.length) - strBytes((this.buf[i] as string).length);
    this.buf[i] = v;
    return true;
  }

  /**
   * Insert `v` so that it ends up at position `index` (0 <= index <= size; no negative indexing).
   * O(min(index, size - index)). Throws RangeError out of range.
   */
  insertAt(index: number, v: string): void {
    const n = this.len;
    if (!(index >= 0 && index <= n)) throw new RangeError('index out of range');
    if (index === 0) return this.pushFront(v);
    if (index === n) return this.pushBack(v);
    if (n === this.buf.length) this.resize(this.buf.length * 2);
    const b = this.buf;
    const m = this.mask;
    if (index < n >>> 1) {
      // Shift the first `index` elements one slot left.
      const h = (this.head - 1) & m;
      for (let j = 0; j < index; j++) b[(h + j) & m] = b[(h + j + 1) & m];
      this.head = h;
    } else {
      // Shift elements [index, n) one slot right.
      for (let j = n; j > index; j--) b[(this.head + j) & m] = b[(this.head + j - 1) & m];
    }
    b[(this.head + index) & m] = v;
    this.len++;
    this.bytes += strBytes(v.length);
  }

  /**
   * Remove and return the element at `index` (negative from the tail), undefined if out of range.
   * O(min(index, size - index)).
   */
  removeAt(index: number): string | undefined {
    const n = this.len;
    if (index < 0) index += n;
    if (index < 0 || index >= n) return undefined;
    const b = this.buf;
    const m = this.mask;
    const h = this.head;
    const v = b[(h + index) & m] as string;
    if (index < n >>> 1) {
      for (let j = index; j > 0; j--) b[(h + j) & m] = b[(h + j - 1) & m];
      b[h] = undefined;
      this.head = (h + 1) & m;
    } else {
      for (let j = index; j < n - 1; j++) b[(h + j) & m] = b[(h + j + 1) & m];
      b[(h + n - 1) & m] = undefined;
    }
    this.len--;
    this.bytes -= strBytes(v.length);
    this.maybeShrink();
    return v;
  }

  /** Index of the first element equal to `v` from the head, or -1. O(n). */
  indexOf(v: string): number {
    const b = this.buf;
    const m = this.mask;
    for (let i = 0; i < this.len; i++) if (b[(this.head + i) & m] === v) return i;
    return -1;
  }

  /**
   * LINSERT: insert `v` before (or after, if `after`) the first occurrence of `pivot` from the
   * head. Returns the new length, or -1 if the pivot was not found.
   */
  insertRelative(pivot: string, v: string, after: boolean): number {
    const i = this.indexOf(pivot);
    if (i < 0) return -1;
    this.insertAt(after ? i + 1 : i, v);
    return this.len;
  }

  /**
   * Normalise a Redis inclusive index range [start, stop] (LRANGE/LTRIM rules: negative from the
   * tail, start clamped to 0, stop clamped to size-1). Returns the count and sets rangeLo.
   */
  private normRange(start: number, stop: number): number {
    const n = this.len;
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    if (start < 0) start = 0;
    if (start > stop || start >= n) return 0;
    if (stop >= n) stop = n - 1;
    rangeLo = start;
    return stop - start + 1;
  }

  /** LRANGE start stop (inclusive, negative from the tail, clamped). */
  range(start: number, stop: number): string[] {
    const cnt = this.normRange(start, stop);
    const out: string[] = new Array(cnt);
    const b = this.buf;
    const m = this.mask;
    const base = this.head + rangeLo;
    for (let i = 0; i < cnt; i++) out[i] = b[(base + i) & m] as string;
    return out;
  }

  /** Visit LRANGE start stop in order; `fn` must not modify the list. Returns the count visited. */
  forEachInRange(start: number, stop: number, fn: (v: string, index: number) => void): number {
    const cnt = this.normRange(start, stop);
    const lo = rangeLo;
    const b = this.buf;
    const m = this.mask;
    const base = this.head + lo;
    for (let i = 0; i < cnt; i++) fn(b[(base + i) & m] as string, lo + i);
    return cnt;
  }

  /** Visit every element head to tail. */
  forEach(fn: (v: string, index: number) => void): void {
    const b = this.buf;
    const m = this.mask;
    for (let i = 0; i < this.len; i++) fn(b[(this.head + i) & m] as string, i);
  }

  toArray(): string[] {
    return this.range(0, -1);
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (let i = 0; i < this.len; i++) yield this.buf[(this.head + i) & this.mask] as string;
  }

  /**
   * LTRIM start stop: keep only the inclusive range (Redis rules; an empty range empties the list).
   * Returns the number of elements removed. O(removed).
   */
  trim(start: number, stop: number): number {
    const n = this.len;
    const cnt = this.normRange(start, stop);
    if (cnt === 0) {
      this.clear();
      return n;
    }
    const ltrim = rangeLo;
    const rtrim = n - ltrim - cnt;
    if (ltrim + rtrim === 0) return 0;
    const b = this.buf;
    const m = this.mask;
    let bytes = 0;
    for (let i = 0; i < ltrim; i++) {
      const j = (this.head + i) & m;
      bytes += strBytes((b[j] as string).length);
      b[j] = undefined;
    }
    for (let i = n - rtrim; i < n; i++) {
      const j = (this.head + i) & m;
      bytes += strBytes((b[j] as string).length);
      b[j] = undefined;
    }
    this.head = (this.head + ltrim) & m;
    this.len = cnt;
    this.bytes -= bytes;
    this.maybeShrink();
    return ltrim + rtrim;
  }

  /**
   * LREM count v: remove elements equal to `v` — the first `count` from the head if count > 0,
   * the last -count from the tail if count < 0, all if count is 0. Returns the number removed. O(n).
   */
  removeValue(v: string, count: number): number {
    const n = this.len;
    const b = this.buf;
    const m = this.mask;
    const h = this.head;
    let limit = count === 0 ? Infinity : Math.abs(count);
    let removed = 0;
    if (count >= 0) {
      // Compact towards the head.
      let w = 0;
      for (let r = 0; r < n; r++) {
        const x = b[(h + r) & m] as string;
        if (limit > 0 && x === v) {
          limit--;
          removed++;
          continue;
        }
        if (removed > 0) b[(h + w) & m] = x;
        w++;
      }
      for (let i = w; i < n; i++) b[(h + i) & m] = undefined;
    } else {
      // Compact towards the tail.
      let w = n - 1;
      for (let r = n - 1; r >= 0; r--) {
        const x = b[(h + r) & m] as string;
        if (limit > 0 && x === v) {
          limit--;
          removed++;
          continue;
        }
        if (removed > 0) b[(h + w) & m] = x;
        w--;
      }
      for (let i = 0; i <= w; i++) b[(h + i) & m] = undefined;
      this.head = (h + removed) & m;
    }
    if (removed > 0) {
      this.len = n - removed;
      this.bytes -= removed * strBytes(v.length);
      this.maybeShrink();
    }
    return removed;
  }

  /**
   * LPOS v [RANK rank] [COUNT count] [MAXLEN maxlen]: indexes (from the head, ascending scan order
   * of the search) of matches. `rank` (non-zero) picks the |rank|-th match as the first reported;
   * negative rank searches from the tail. `count` is the maximum number of matches returned, 0 =
   * all. `maxlen` bounds the number of elements compared, 0 = no bound. Without COUNT, call with
   * count 1 and reply the first index or nil. Throws RangeError for rank 0.
   */
  positions(v: string, rank = 1, count = 0, maxlen = 0): number[] {
    if (rank === 0) throw new RangeError('rank must not be 0');
    const out: number[] = [];
    const n = this.len;
    const b = this.buf;
    const m = this.mask;
    const fromTail = rank < 0;
    const skip = Math.abs(rank);
    let matches = 0;
    const lim = maxlen > 0 && maxlen < n ? maxlen : n;
    for (let k = 0; k < lim; k++) {
      const idx = fromTail ? n - 1 - k : k;
      if (b[(this.head + idx) & m] === v) {
        matches++;
        if (matches >= skip) {
          out.push(idx);
          if (count !== 0 && out.length >= count) break;
        }
      }
    }
    return out;
  }

  /** Remove every element. */
  clear(): void {
    this.buf = new Array(MIN_CAPACITY).fill(undefined);
    this.mask = MIN_CAPACITY - 1;
    this.head = 0;
    this.len = 0;
    this.bytes = 0;
  }

  /** Capacity (tests). */
  get capacity(): number {
    return this.buf.length;
  }

  private maybeShrink(): void {
    const cap = this.buf.length;
    if (cap > MIN_CAPACITY && this.len < cap >>> 2) {
      let nc = cap >>> 1;
      while (nc > MIN_CAPACITY && this.len < nc >>> 2) nc >>>= 1;
      this.resize(nc);
    }
  }

  private resize(cap: number): void {
    const nb: (string | undefined)[] = new Array(cap).fill(undefined);
    const b = this.buf;
    const m = this.mask;
    for (let i = 0; i < this.len; i++) nb[i] = b[(this.head + i) & m];
    this.buf = nb;
    this.mask = cap - 1;
    this.head = 0;
  }
}

/** Start index set by normRange (module scratch). */
let rangeLo = 0;
