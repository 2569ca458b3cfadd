/**
 * DUMP/RESTORE payloads: CRC64, round trips of every type, corruption detection, decoding of the
 * compact encodings a real Redis 7 writes (fixtures captured from redis-server 7.0 DUMP), deep copies
 * and OBJECT ENCODING names.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  BadPayload,
  cloneValue,
  crc64Hex,
  dumpValue,
  encodingOf,
  listItems,
  makeList,
  makeZSet,
  markBigEncoding,
  restoreValue,
  verifyPayload,
  zsetForEach,
  type EncodingLimits,
} from '../../cluster-node/src/keyspace/serialize';
import { HashValue, SetValue, type Value, type CollectionValue } from '../../cluster-node/src/keyspace/values';

const hex = (h: string): string => Buffer.from(h, 'hex').toString('latin1');

/** Normalised, comparable view of any value. */
function view(v: Value): unknown {
  if (typeof v === 'string') return { string: v };
  switch (v.type) {
    case 'hash':
      return { hash: [...(v as HashValue).map].sort() };
    case 'set':
      return { set: [...(v as SetValue).set].sort() };
    case 'list':
      return { list: listItems(v) };
    case 'zset': {
      const out: [string, number][] = [];
      zsetForEach(v, (m, s) => out.push([m, s]));
      return { zset: out };
    }
  }
}

function hash(entries: [string, string][]): HashValue {
  const h = new HashValue();
  for (const [f, v] of entries) h.map.set(f, v);
  return h;
}

function set(members: string[]): SetValue {
  const s = new SetValue();
  for (const m of members) s.set.add(m);
  return s;
}

const bytes = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** Recompute the trailer of a payload whose body was edited (so only the content is wrong). */
function resign(body: string): string {
  const withVer = body + '\x0a\x00';
  const crc = crc64Hex(withVer);
  let trailer = '';
  for (let i = 7; i >= 0; i--) trailer += String.fromCharCode(parseInt(crc.slice(i * 2, i * 2 + 2), 16));
  return withVer + trailer;
}

describe('crc64 (Jones, as Redis)', () => {
  it('matches the reference check value', () => {
    expect(crc64Hex('123456789')).toBe('e9c6d914c4b8d9ca');
    expect(crc64Hex('')).toBe('0000000000000000');
  });

  it('agrees with the trailer of payloads produced by redis-server', () => {
    const p = hex('00c09c0a00ff77a3b766addee4');
    expect(verifyPayload(p)).toBe(true);
    const body = p.slice(0, -8);
    const crc = crc64Hex(body);
    let le = '';
    for (let i = 7; i >= 0; i--) le += crc.slice(i * 2, i * 2 + 2);
    expect(Buffer.from(p.slice(-8), 'latin1').toString('hex')).toBe(le);
  });
});

describe('dump/restore round trip', () => {
  const samples: [string, Value][] = [
    ['empty string', ''],
    ['short string', 'hello'],
    ['binary string', '\x00\xff\r\n\x80abc'],
    ['integer-looking string', '-12345'],
    ['long string (32-bit length)', 'x'.repeat(70000)],
    ['list', makeList(['a', '', '1', '\x00\xff', 'y'.repeat(20000)])],
    ['set', set(['a', 'b', '1', '', '\xfe'])],
    ['hash', hash([['f', 'v'], ['', 'empty field'], ['n', '12'], ['bin\x00', '\xff']])],
    ['zset', makeZSet(['a', 'b', 'c', 'd', 'e', 'f'], [1, -2.5, Infinity, -Infinity, 0, 1e-300])],
  ];
  for (const [name, v] of samples) {
    it(name, () => {
      const p = dumpValue(v);
      expect(verifyPayload(p)).toBe(true);
      const back = restoreValue(p);
      expect(view(back)).toEqual(view(v));
      if (typeof v !== 'string') expect(back).not.toBe(v);
    });
  }

  it('payload shape: type byte, body, version 10 LE, 8-byte checksum', () => {
    const p = dumpValue('hi');
    expect(Buffer.from(p, 'latin1').toString('hex').slice(0, 12)).toBe('0002' + '6869' + '0a00');
    expect(p.length).toBe(1 + 1 + 2 + 2 + 8);
    expect(dumpValue(makeList(['a'])).charCodeAt(0)).toBe(1);
    expect(dumpValue(set(['a'])).charCodeAt(0)).toBe(2);
    expect(dumpValue(hash([['a', 'b']])).charCodeAt(0)).toBe(4);
    expect(dumpValue(makeZSet(['a'], [1])).charCodeAt(0)).toBe(5);
  });

  it('large collections use multi-byte lengths', () => {
    const items = Array.from({ length: 20000 }, (_, i) => String(i));
    const back = restoreValue(dumpValue(makeList(items)));
    expect(listItems(back as CollectionValue)).toEqual(items);
    const s = restoreValue(dumpValue(set(items))) as SetValue;
    expect(s.set.size).toBe(20000);
  });

  it('property: every type survives a round trip', () => {
    const value: fc.Arbitrary<Value> = fc.oneof(
      bytes,
      fc.array(bytes, { minLength: 1, maxLength: 30 }).map((a) => makeList(a)),
      fc.uniqueArray(bytes, { minLength: 1, maxLength: 30 }).map((a) => set(a)),
      fc.uniqueArray(fc.tuple(bytes, bytes), { minLength: 1, maxLength: 30, selector: (t) => t[0] }).map((a) => hash(a)),
      fc
        .uniqueArray(fc.tuple(bytes, fc.double({ noNaN: true })), { minLength: 1, maxLength: 30, selector: (t) => t[0] })
        .map((a) => makeZSet(a.map((t) => t[0]), a.map((t) => t[1]))),
    );
    fc.assert(
      fc.property(value, (v) => {
        const p = dumpValue(v);
        expect(verifyPayload(p)).toBe(true);
        expect(view(restoreValue(p))).toEqual(view(v));
      }),
      { numRuns: 300 },
    );
  });
});

describe('corruption', () => {
  it('any single flipped byte fails the checksum or version check', () => {
    const p = dumpValue(hash([['field', 'value'], ['x', 'y']]));
    for (let i = 0; i < p.length; i++) {
      const bad = p.slice(0, i) + String.fromCharCode(p.charCodeAt(i) ^ 0x5a) + p.slice(i + 1);
      expect(verifyPayload(bad), `byte ${i}`).toBe(false);
    }
  });

  it('truncated payloads and too-new versions are rejected', () => {
    const p = dumpValue('hello');
    for (let n = 0; n < p.length; n++) expect(verifyPayload(p.slice(0, n))).toBe(false);
    const future = resign(p.slice(0, -10)).slice(0, -10);
    // Same body with version 13 (newer than we understand) and a valid checksum.
    const body = future + '\x0d\x00';
    const crc = crc64Hex(body);
    let trailer = '';
    for (let i = 7; i >= 0; i--) trailer += String.fromCharCode(parseInt(crc.slice(i * 2, i * 2 + 2), 16));
    expect(verifyPayload(body + trailer)).toBe(false);
  });

  it('well-checksummed but malformed content throws BadPayload', () => {
    const cases = [
      '\x63\x00', // unknown type
      '\x00\x05hel', // string shorter than its length
      '\x00\x02hello', // trailing bytes
      '\x01\x00', // empty list
      '\x02\x00', // empty set
      '\x04\x00', // empty hash
      '\x02\x02\x01a\x01a', // duplicate set member
      '\x04\x02\x01f\x01a\x01f\x01b', // duplicate hash field
      '\x05\x01\x01a' + '\x00\x00\x00\x00\x00\x00\xf8\x7f', // NaN score
      '\x01\x05\x01a', // count larger than the payload
      '\x00\xc4', // unknown string encoding
    ];
    for (const body of cases) {
      const p = resign(body);
      expect(verifyPayload(p), JSON.stringify(body)).toBe(true);
      expect(() => restoreValue(p), JSON.stringify(body)).toThrow(BadPayload);
    }
  });
});

describe('payloads written by redis-server 7.0', () => {
  it('LZF-compressed and int-encoded strings', () => {
    expect(restoreValue(hex('00c3094064017878e057000178780a005db7f663bb08625f'))).toBe('x'.repeat(100));
    expect(restoreValue(hex('00c09c0a00ff77a3b766addee4'))).toBe('-100');
    expect(restoreValue(hex('00c130750a0049977f92988c365b'))).toBe('30000');
    expect(restoreValue(hex('00c2006cca880a0035ffaebd7f1d7a67'))).toBe('-2000000000');
  });

  it('quicklist of (compressed) listpacks with every integer width', () => {
    const p = hex(
      '120102c3409254221f221400000f0000017f01d00002cfff02f1008003f1ff7f03f200008004f2ffff037f04f300200a0205f3ff200b0105f420054000027f09f4201540000b80098568656c6c6f06e04679e03c000648f0881300007ae0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ff00e0ee0002278dff0a006ec2947a8496792b',
    );
    expect(verifyPayload(p)).toBe(true);
    expect(listItems(restoreValue(p) as CollectionValue)).toEqual([
      '0',
      '127',
      '-4096',
      '4095',
      '-32768',
      '32767',
      '-8388608',
      '8388607',
      '-2147483648',
      '2147483647',
      '9223372036854775807',
      '-9223372036854775808',
      'hello',
      'y'.repeat(70),
      'z'.repeat(5000),
    ]);
  });

  it('intsets of 16, 32 and 64-bit members', () => {
    const members = (h: string) => [...(restoreValue(hex(h)) as SetValue).set].sort();
    expect(members('0b0e0200000003000000feff01002c010a005b0aa862f794600a')).toEqual(['-2', '1', '300']);
    expect(members('0b10040000000200000001000000701101000a002735436efd6656c4')).toEqual(['1', '70000']);
    expect(members('0b180800000002000000000efad5feffffff01000000000000000a009c139e07ea35a37e')).toEqual(['-5000000000', '1']);
  });

  it('listpack zset and hash', () => {
    const z = restoreValue(hex('11c330391a390000000800816202842d322e3505816102010181640297312e30e005000f31652b3330301881630283696e6604ff0a00abc077888334df32'));
    expect(view(z)).toEqual({ zset: [['b', -2.5], ['a', 1], ['d', 1e300], ['c', Infinity]] });
    const h = restoreValue(hex('1012120000000400816602817602816e020c01ff0a0001369481d35b8974'));
    expect(view(h)).toEqual({ hash: [['f', 'v'], ['n', '12']] });
  });
});

describe('cloneValue (COPY)', () => {
  it('deep-copies every collection type', () => {
    const samples: CollectionValue[] = [makeList(['a', 'b']), set(['a', 'b']), hash([['f', 'v']]), makeZSet(['a', 'b'], [1, 2])];
    for (const v of samples) {
      const c = cloneValue(v) as CollectionValue;
      expect(c).not.toBe(v);
      expect(view(c)).toEqual(view(v));
    }
    const h = hash([['f', 'v']]);
    const hc = cloneValue(h) as HashValue;
    hc.map.set('g', 'w');
    expect(h.map.has('g')).toBe(false);
    expect(cloneValue('str')).toBe('str');
  });
});

describe('OBJECT ENCODING names', () => {
  const lim: EncodingLimits = {
    listMaxListpackSize: -2,
    hashMaxListpackEntries: 4,
    hashMaxListpackValue: 10,
    setMaxIntsetEntries: 4,
    setMaxListpackEntries: 6,
    setMaxListpackValue: 10,
    zsetMaxListpackEntries: 4,
    zsetMaxListpackValue: 10,
  };

  it('strings: int, embstr, raw', () => {
    expect(encodingOf('123', lim)).toBe('int');
    expect(encodingOf('-9223372036854775808', lim)).toBe('int');
    expect(encodingOf('9223372036854775808', lim)).toBe('embstr');
    expect(encodingOf('0123', lim)).toBe('embstr');
    expect(encodingOf('a'.repeat(44), lim)).toBe('embstr');
    expect(encodingOf('a'.repeat(45), lim)).toBe('raw');
  });

  it('collections switch at the configured thresholds', () => {
    expect(encodingOf(hash([['a', 'b']]), lim)).toBe('listpack');
    expect(encodingOf(hash([['a', 'x'.repeat(11)]]), lim)).toBe('hashtable');
    expect(encodingOf(hash([['a', '1'], ['b', '1'], ['c', '1'], ['d', '1'], ['e', '1']]), lim)).toBe('hashtable');
    expect(encodingOf(set(['1', '2']), lim)).toBe('intset');
    expect(encodingOf(set(['1', '2', '3', '4', '5']), lim)).toBe('listpack');
    expect(encodingOf(set(['a']), lim)).toBe('listpack');
    expect(encodingOf(set(['a', 'b', 'c', 'd', 'e', 'f', 'g']), lim)).toBe('hashtable');
    expect(encodingOf(set(['x'.repeat(11)]), lim)).toBe('hashtable');
    expect(encodingOf(makeZSet(['a'], [1]), lim)).toBe('listpack');
    expect(encodingOf(makeZSet(['x'.repeat(11)], [1]), lim)).toBe('skiplist');
    expect(encodingOf(makeZSet(['a', 'b', 'c', 'd', 'e'], [1, 2, 3, 4, 5]), lim)).toBe('skiplist');
    expect(encodingOf(makeList(['a', 'b']), lim)).toBe('listpack');
    expect(encodingOf(makeList(['x'.repeat(9000)]), lim)).toBe('quicklist');
    expect(encodingOf(makeList(Array.from({ length: 3000 }, () => 'abc')), lim)).toBe('quicklist');
    expect(encodingOf(makeList(['a', 'b', 'c']), { ...lim, listMaxListpackSize: 2 })).toBe('quicklist');
    expect(encodingOf(makeList(['a', 'b']), { ...lim, listMaxListpackSize: 2 })).toBe('listpack');
  });

  it('a zset converted by SORT stays a skiplist, also in its copies', () => {
    const z = makeZSet(['a'], [1]);
    markBigEncoding(z);
    expect(encodingOf(z, lim)).toBe('skiplist');
    expect(encodingOf(cloneValue(z), lim)).toBe('skiplist');
  });
});
