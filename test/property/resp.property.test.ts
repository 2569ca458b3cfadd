import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RequestParser, splitArgs } from '../../common/src/resp/request-parser';
import { RespWriter, encodeCommand, formatDouble } from '../../common/src/resp/writer';

const limits = () => ({ maxBulkLen: 512 * 1024 * 1024, maxQueryBuffer: 1024 * 1024 * 1024, authenticated: true });
const byteString = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1'));
const command = fc.array(byteString, { minLength: 1, maxLength: 6 });

/** Feed `bytes` to a parser split at the given cut points; collect every command. */
function parseChunked(bytes: Buffer, cuts: number[]): string[][] {
  const p = new RequestParser(limits());
  const out: string[][] = [];
  let prev = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    if (cut <= prev) continue;
    p.feed(bytes.subarray(prev, cut));
    prev = cut;
    for (let cmd = p.next(); cmd !== null; cmd = p.next()) out.push(cmd);
  }
  return out;
}

/**
 * As the server reads: each chunk is copied into one shared buffer that is fed borrowed, at most
 * `budget` commands are parsed before release() (a client that blocked or paused leaves commands
 * unread), and the shared buffer is scribbled over before the next chunk, as another socket's read
 * would.
 */
function parseBorrowed(bytes: Buffer, cuts: number[], budgets: number[]): string[][] {
  const p = new RequestParser(limits());
  const shared = Buffer.alloc(8192);
  const out: string[][] = [];
  let prev = 0;
  let turn = 0;
  const drain = (budget: number) => {
    for (let n = 0; n < budget; n++) {
      const cmd = p.next();
      if (cmd === null) return;
      out.push(cmd);
    }
  };
  const points = [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length);
  for (let i = 0; i < points.length; i++) {
    let cut = Math.min(points[i], prev + shared.length);
    if (cut <= prev) continue;
    if (i === points.length - 1) i--; // keep cutting the tail into shared-buffer-sized reads
    const n = bytes.copy(shared, 0, prev, cut);
    p.feed(shared.subarray(0, n), true);
    prev = cut;
    drain(budgets.length > 0 ? budgets[turn++ % budgets.length] : Infinity);
    p.release();
    shared.fill(0x2a); // '*': garbage that would parse as a multibulk header if it were still referenced
    if (cut >= bytes.length) break;
  }
  drain(Infinity);
  return out;
}

describe('RESP codec (property)', () => {
  it('commands fed from a shared, reused read buffer parse back to the same argv (release() copies what is unread)', () => {
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(4000), { maxLength: 30 }),
        fc.array(fc.nat(3), { maxLength: 8 }),
        (cmds, cuts, budgets) => {
          const bytes = Buffer.concat(cmds.map((c) => encodeCommand(c)));
          expect(parseBorrowed(bytes, cuts, budgets)).toEqual(cmds);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a large bulk gathered from borrowed chunks is intact', () => {
    const big = Buffer.alloc(200 * 1024, 0x62).toString('latin1');
    const bytes = Buffer.concat([encodeCommand(['SET', 'k', big]), encodeCommand(['GET', 'k'])]);
    const cuts: number[] = [];
    for (let i = 3000; i < bytes.length; i += 3000) cuts.push(i);
    const got = parseBorrowed(bytes, cuts, []);
    expect(got.length).toBe(2);
    expect(got[0][2]).toBe(big);
    expect(got[1]).toEqual(['GET', 'k']);
  });

  it('any sequence of commands, split anywhere, parses back to the same argv', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 20 }), fc.array(fc.nat(4000), { maxLength: 30 }), (cmds, cuts) => {
        const bytes = Buffer.concat(cmds.map((c) => encodeCommand(c)));
        expect(parseChunked(bytes, cuts)).toEqual(cmds);
      }),
      { numRuns: 300 },
    );
  });

  it('large bulks arriving in many chunks are reassembled', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16 * 1024, max: 300 * 1024 }), fc.integer({ min: 1, max: 9000 }), (size, step) => {
        const big = Buffer.alloc(size, 0x61).toString('latin1');
        const bytes = Buffer.concat([encodeCommand(['SET', 'k', big]), encodeCommand(['GET', 'k'])]);
        const cuts: number[] = [];
        for (let i = step; i < bytes.length; i += step) cuts.push(i);
        const got = parseChunked(bytes, cuts);
        expect(got.length).toBe(2);
        expect(got[0][2].length).toBe(size);
        expect(got[1]).toEqual(['GET', 'k']);
      }),
      { numRuns: 40 },
    );
  });

  it('inline commands split like sdssplitargs for plain words', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-zA-Z0-9:_-]{1,10}$/), { minLength: 1, maxLength: 8 }), (words) => {
        expect(splitArgs(words.join('   '))).toEqual(words);
        const p = new RequestParser(limits());
        p.feed(Buffer.from(words.join(' ') + '\r\n'));
        expect(p.next()).toEqual(words);
      }),
    );
  });

  it('writer output decodes to the value a naive encoder gives (RESP2 and RESP3)', () => {
    const naive = (v: unknown, proto: 2 | 3): string => {
      if (v === null) return proto === 3 ? '_\r\n' : '$-1\r\n';
      if (typeof v === 'number') return `:${v}\r\n`;
      if (typeof v === 'string') return `$${Buffer.byteLength(v, 'latin1')}\r\n${v}\r\n`;
      const arr = v as unknown[];
      return `*${arr.length}\r\n` + arr.map((x) => naive(x, proto)).join('');
    };
    type V = null | number | string | V[];
    const value: fc.Arbitrary<V> = fc.letrec<{ v: V }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.integer(),
        byteString,
        fc.array(tie('v'), { maxLength: 4 }),
      ),
    })).v;
    const write = (w: RespWriter, v: V): void => {
      if (v === null) w.nil();
      else if (typeof v === 'number') w.int(v);
      else if (typeof v === 'string') w.bulk(v);
      else {
        w.array(v.length);
        for (const x of v) write(w, x);
      }
    };
    fc.assert(
      fc.property(value, fc.constantFrom(2 as const, 3 as const), (v, proto) => {
        const w = new RespWriter(8);
        w.proto = proto;
        write(w, v);
        expect(w.take().toString('latin1')).toBe(naive(v, proto));
      }),
    );
  });

  it('doubles format as Redis does and round-trip', () => {
    expect(formatDouble(Infinity)).toBe('inf');
    expect(formatDouble(-Infinity)).toBe('-inf');
    expect(formatDouble(1.5)).toBe('1.5');
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
      expect(Number(formatDouble(d))).toBe(d);
    }));
  });
});
