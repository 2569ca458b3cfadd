/**
 * Redis-style glob matching (stringmatchlen): `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
 * Iterative with one backtrack point per `*`, so hostile patterns cost O(pattern * string), never exponential.
 */
export function globMatch(pattern: string, str: string, nocase = false): boolean {
  if (nocase) {
    pattern = pattern.toLowerCase();
    str = str.toLowerCase();
  }
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = 0;
  const pl = pattern.length;
  const sl = str.length;
  while (s < sl) {
    if (p < pl) {
      const pc = pattern[p];
      if (pc === '*') {
        while (p < pl && pattern[p] === '*') p++;
        if (p === pl) return true;
        starP = p;
        starS = s;
        continue;
      }
      if (pc === '?') {
        p++;
        s++;
        continue;
      }
      if (pc === '[') {
        const r = matchClass(pattern, p, str[s]);
        if (r.matched) {
          p = r.next;
          s++;
          continue;
        }
      } else {
        let lit = pc;
        let adv = 1;
        if (pc === '\\' && p + 1 < pl) {
          lit = pattern[p + 1];
          adv = 2;
        }
        if (lit === str[s]) {
          p += adv;
          s++;
          continue;
        }
      }
    }
    if (starP >= 0) {
      p = starP;
      s = ++starS;
      continue;
    }
    return false;
  }
  while (p < pl && pattern[p] === '*') p++;
  return p === pl;
}

function matchClass(pattern: string, start: number, ch: string): { matched: boolean; next: number } {
  let p = start + 1;
  const pl = pattern.length;
  let not = false;
  if (pattern[p] === '^') {
    not = true;
    p++;
  }
  let match = false;
  while (p < pl) {
    const c = pattern[p];
    if (c === '\\' && p + 1 < pl) {
      p++;
      if (pattern[p] === ch) match = true;
    } else if (c === ']') {
      break;
    } else if (p + 2 < pl && pattern[p + 1] === '-' && pattern[p + 2] !== ']') {
      let lo = c;
      let hi = pattern[p + 2];
      if (lo > hi) [lo, hi] = [hi, lo];
      if (ch >= lo && ch <= hi) match = true;
      p += 2;
    } else if (c === ch) match = true;
    p++;
  }
  // Unterminated class: Redis treats the end of the pattern as the end of the class.
  const next = p < pl ? p + 1 : pl;
  return { matched: not ? !match : match, next };
}
