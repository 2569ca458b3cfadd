/**
 * The client-side reply parser (common/src/resp/reply-parser.ts: the gateway's upstream connections,
 * its pub/sub links, the node's MIGRATE / slot hand-off link): any sequence of RESP2/RESP3 replies,
 * nested aggregates included, split into chunks anywhere, parses back to the values encoded. Aggregates
 * are parsed element by element and resumed where a read stopped, so a large array arriving over many
 * reads is parsed once; the last test checks that on a 200,000-element array fed in 1 KB chunks by
 * counting what the parser keeps between reads.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyParser, RespErrorReply, RespPush, type RespReply } from '../../common/src/resp/reply-parser';

/** A reply as a plain value to compare (Buffers as latin1 strings, errors and pushes tagged). */
type Plain = string | number | bigint | boolean | null | { err: string } | { push: Plain[] } | Plain[];

function plain(v: RespReply): Plain {
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (v instanceof RespErrorReply) return { err: v.message };
  if (v instanceof RespPush) return { push: v.items.map(plain) };
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/** A generated reply: its encoding and the value the parser must give. */
interface Gen {
  bytes: string;
  value: Plain;
}

const text = fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString('latin1'));
const line = fc.stringMatching(/^[a-zA-Z0-9 _:.-]{0,20}$/);

const scalar: fc.Arbitrary<Gen> = fc.oneof(
  line.map((s) => ({ bytes: `+${s}\r\n`, value: s })),
  line.map((s) => ({ bytes: `-ERR ${s}\r\n`, value: { err: `ERR ${s}` } })),
  fc.integer({ min: -1e12, max: 1e12 }).map((n) => ({ bytes: `:${n}\r\n`, value: n })),
  text.map((s) => ({ bytes: `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`, value: s })),
  fc.constant({ bytes: '$-1\r\n', value: null }),
  fc.constant({ bytes: '*-1\r\n', value: null }),
  fc.constant({ bytes: '_\r\n', value: null }),
  fc.boolean().map((b) => ({ bytes: `#${b ? 't' : 'f'}\r\n`, value: b })),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => ({ bytes: `(${n}\r\n`, value: n })),
  fc.integer({ min: -1000, max: 1000 }).map((n) => ({ bytes: `,${n / 4}\r\n`, value: n / 4 })),
  text.map((s) => ({ bytes: `=${Buffer.byteLength(s, 'latin1') + 4}\r\ntxt:${s}\r\n`, value: s })),
  line.map((s) => ({ bytes: `!${s.length + 4}\r\nERR ${s}\r\n`, value: { err: `ERR ${s}` } })),
);

const reply: fc.Arbitrary<Gen> = fc.letrec<{ r: Gen }>((tie) => ({
  r: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('r'), { maxLength: 5 }).map((xs) => ({ bytes: `*${xs.length}\r\n${xs.map((x) => x.bytes).join('')}`, value: xs.map((x) => x.value) })),
    fc.array(tie('r'), { maxLength: 4 }).map((xs) => ({ bytes: `~${xs.length}\r\n${xs.map((x) => x.bytes).join('')}`, value: xs.map((x) => x.value) })),
    fc.array(fc.tuple(tie('r'), tie('r')), { maxLength: 3 }).map((kv) => ({
      bytes: `%${kv.length}\r\n${kv.map(([k, v]) => k.bytes + v.bytes).join('')}`,
      value: kv.flatMap(([k, v]) => [k.value, v.value]),
    })),
    fc.array(tie('r'), { maxLength: 4 }).map((xs) => ({ bytes: `>${xs.length}\r\n${xs.map((x) => x.bytes).join('')}`, value: { push: xs.map((x) => x.value) } })),
    // An attribute before a value: dropped, the value stands.
    fc.tuple(fc.array(fc.tuple(scalar, scalar), { maxLength: 2 }), tie('r')).map(([kv, v]) => ({
      bytes: `|${kv.length}\r\n${kv.map(([a, b]) => a.bytes + b.bytes).join('')}${v.bytes}`,
      value: v.value,
    })),
  ),
})).r;

/** Feed `bytes` split at `cuts`; every value the parser returns, as plain values. */
function parseChunked(bytes: Buffer, cuts: number[]): Plain[] {
  const p = new ReplyParser();
  const out: Plain[] = [];
  let prev = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    if (cut <= prev) continue;
    p.feed(bytes.subarray(prev, cut));
    prev = cut;
    for (let v = p.next(); v !== undefined; v = p.next()) out.push(plain(v));
  }
  return out;
}

describe('reply parser (property)', () => {
  it('any replies, nested to any depth, split anywhere, parse back to the values sent', () => {
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (replies, cuts) => {
        const bytes = Buffer.from(replies.map((r) => r.bytes).join(''), 'latin1');
        const scaled = cuts.map((c) => c % (bytes.length + 1));
        expect(parseChunked(bytes, scaled)).toEqual(replies.map((r) => r.value));
        // Byte by byte as well: every element boundary is a read boundary somewhere.
        if (bytes.length < 400) expect(parseChunked(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(replies.map((r) => r.value));
      }),
      { numRuns: 400 },
    );
  });

  it('a 200,000-element array over 1 KB reads is resumed, not re-parsed: only the partial element is carried between reads', () => {
    const n = 200_000;
    let s = `*${n}\r\n`;
    for (let i = 0; i < n; i++) {
      const v = `member:${i}`;
      s += `$${v.length}\r\n${v}\r\n`;
    }
    const bytes = Buffer.from(s, 'latin1');
    const p = new ReplyParser();
    let got: RespReply | undefined;
    let maxCarried = 0;
    for (let off = 0; off < bytes.length; off += 1024) {
      p.feed(bytes.subarray(off, Math.min(off + 1024, bytes.length)));
      const v = p.next();
      if (v !== undefined) got = v;
      // What the parser holds unread after a read: at most one element's bytes, never the array so far.
      maxCarried = Math.max(maxCarried, (p as unknown as { unreadBytes: number }).unreadBytes);
    }
    expect(maxCarried).toBeLessThan(64);
    expect(Array.isArray(got)).toBe(true);
    const arr = got as Buffer[];
    expect(arr.length).toBe(n);
    expect(arr[0]!.toString()).toBe('member:0');
    expect(arr[n - 1]!.toString()).toBe(`member:${n - 1}`);
  });
});
