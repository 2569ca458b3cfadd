/**
 * upstash-sync-token as the gateway issues and reads it (gateway/src/sync-token.ts): the format round
 * trips, a read needs exactly the offsets of the token's epoch, anything else (no token aside) sends
 * reads to the primary, and a write merges offsets or, from a token it cannot trust, takes every
 * primary's offset.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_REPLICA_YET } from '../../gateway/src/cluster/client';
import { formatSyncToken, mergeSyncToken, parseSyncToken, syncNeed } from '../../gateway/src/sync-token';

const A = 'a'.repeat(40);
const B = 'b'.repeat(12) + '0'.repeat(28);
const C = 'c'.repeat(40);

describe('sync token format', () => {
  it('round-trips any epoch and offsets (ids cut to 12 hex digits), and is a safe header value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.uniqueArray(fc.stringMatching(/^[0-9a-f]{40}$/), { minLength: 1, maxLength: 8, selector: (s) => s.slice(0, 12) }),
        fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { minLength: 8, maxLength: 8 }),
        (epoch, ids, offs) => {
          const m = new Map(ids.map((id, i) => [id, offs[i]!]));
          const t = formatSyncToken(epoch, m);
          expect(t).toMatch(/^[\x21-\x7e]+$/);
          const p = parseSyncToken(t)!;
          expect(p.epoch).toBe(epoch);
          expect([...p.offsets!]).toEqual(ids.map((id, i) => [id.slice(0, 12), offs[i]]));
        },
      ),
    );
  });

  it('rejects what it did not issue', () => {
    for (const t of ['', '1763740000000', 'e1', 'e1:', 'e:aaaaaaaaaaaa=1', 'e1:aaaaaaaaaaa=1', 'e1:aaaaaaaaaaaa=', 'e1:AAAAAAAAAAAA=1', 'e1:aaaaaaaaaaaa=1,', 'e1:*,aaaaaaaaaaaa=1']) {
      expect(parseSyncToken(t), t).toBeNull();
    }
    expect(parseSyncToken('e7:*')).toEqual({ epoch: 7, offsets: null });
  });
});

describe('what a replica read needs', () => {
  const prims = (prefix: string): string | undefined => [A, B, C].find((id) => id.startsWith(prefix));
  it('no token: any replica; a token of this epoch: its offsets by full primary id', () => {
    expect(syncNeed(undefined, 5, prims)).toBeUndefined();
    const need = syncNeed(`e5:${A.slice(0, 12)}=100,${B.slice(0, 12)}=7`, 5, prims);
    expect(need).toEqual(new Map([[A, 100], [B, 7]]));
  });
  it('the primary for a foreign token, another epoch, an unknown offset or a primary that is gone', () => {
    expect(syncNeed('1763740000000', 5, prims)).toBe('primary');
    expect(syncNeed(`e4:${A.slice(0, 12)}=100`, 5, prims)).toBe('primary');
    expect(syncNeed('e5:*', 5, prims)).toBe('primary');
    expect(syncNeed(`e5:${'d'.repeat(12)}=1`, 5, prims)).toBe('primary');
    // Epoch unknown (a map read from CLUSTER SHARDS): nothing can be trusted. Epoch 0 is an epoch like any other.
    expect(syncNeed(`e0:${A.slice(0, 12)}=1`, -1, prims)).toBe('primary');
    expect(syncNeed(`e0:${A.slice(0, 12)}=1`, 0, prims)).toEqual(new Map([[A, 1]]));
  });
});

describe('the token a write hands back', () => {
  it('merges the presented offsets with the write\'s, keeping the highest per primary', () => {
    const log = { offsets: new Map([[A, 50], [C, 9]]), unknown: false };
    const t = mergeSyncToken(`e3:${A.slice(0, 12)}=70,${B.slice(0, 12)}=5`, log, 3)!;
    expect(parseSyncToken(t)).toEqual({ epoch: 3, offsets: new Map([[A.slice(0, 12), 70], [B.slice(0, 12), 5], [C.slice(0, 12), 9]]) });
    expect(mergeSyncToken(undefined, log, 3)).toBe(`e3:${A.slice(0, 12)}=50,${C.slice(0, 12)}=9`);
  });
  it('an offset learned now replaces a presented "no replica yet" (the shard\'s replicas may serve again once they have it)', () => {
    const presented = `e3:${A.slice(0, 12)}=${NO_REPLICA_YET},${B.slice(0, 12)}=5`;
    const t = mergeSyncToken(presented, { offsets: new Map([[A, 40]]), unknown: false }, 3)!;
    expect(parseSyncToken(t)!.offsets).toEqual(new Map([[A.slice(0, 12), 40], [B.slice(0, 12), 5]]));
    // Still no replica: the shard stays on its primary.
    const t2 = mergeSyncToken(presented, { offsets: new Map([[A, NO_REPLICA_YET]]), unknown: false }, 3)!;
    expect(parseSyncToken(t2)!.offsets!.get(A.slice(0, 12))).toBe(NO_REPLICA_YET);
  });
  it('before the gateway knows the epoch: a token that sends reads to the primary, whatever was written', () => {
    expect(mergeSyncToken(undefined, { offsets: new Map([[A, 50]]), unknown: false }, -1)).toBe('e0:*');
    expect(mergeSyncToken(undefined, { offsets: new Map(), unknown: true }, -1)).toBe('e0:*');
  });
  it('cannot merge a stale or foreign token, or a write with no offset learned (every primary\'s offset stands in)', () => {
    const log = { offsets: new Map([[A, 50]]), unknown: false };
    expect(mergeSyncToken(`e2:${A.slice(0, 12)}=70`, log, 3)).toBeNull();
    expect(mergeSyncToken('1763740000000', log, 3)).toBeNull();
    expect(mergeSyncToken('e3:*', log, 3)).toBeNull();
    expect(mergeSyncToken(undefined, { offsets: new Map(), unknown: true }, 3)).toBeNull();
    expect(mergeSyncToken(undefined, log, 0)).toBe(`e0:${A.slice(0, 12)}=50`);
    // What stands in: every primary's offset, or `*` when one did not answer as a primary.
    expect(formatSyncToken(3, new Map([[A, 1000], [B, 2000]]))).toBe(`e3:${A.slice(0, 12)}=1000,${B.slice(0, 12)}=2000`);
    expect(formatSyncToken(3, null)).toBe('e3:*');
    // Before the gateway knows the epoch: a token that sends reads to the primary.
    expect(formatSyncToken(-1, new Map([[A, 1]]))).toBe('e0:*');
  });
});
