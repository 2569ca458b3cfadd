/**
 * Direct RaftNode tests of the persistence and commit contracts, driving a single node with hand-made
 * messages (no simulator): what must be in a Ready together, and what a follower may commit.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, RaftNode, persistReady, type Message, type Ready } from '../../cluster-node/src/raft';

const T = 5;

function node(id = 'a'): { n: RaftNode; s: MemoryStorage; flush: () => Ready[] } {
  const s = MemoryStorage.bootstrap(['a', 'b', 'c']);
  // rand close to 1: the election timeout is 2T-1, so T ticks never start a campaign.
  const n = new RaftNode({ id, electionTimeout: T, heartbeatTimeout: 1, rand: () => 0.99 }, s);
  const flush = () => {
    const out: Ready[] = [];
    for (let rd = n.ready(); rd; rd = n.ready()) {
      persistReady(s, rd);
      n.advance(rd);
      out.push(rd);
    }
    return out;
  };
  for (let i = 0; i < T; i++) n.tick(); // out of the post-restart vote fence
  flush();
  return { n, s, flush };
}

const vote = (from: string, term: number, lastIndex: number, lastTerm: number): Message => ({
  type: 'vote',
  from,
  to: 'a',
  term,
  lastIndex,
  lastTerm,
});

describe('RaftNode contracts', () => {
  it('a vote granted in the current term is in the same Ready as its response', () => {
    const { n, flush } = node();
    n.step(vote('c', 2, 0, 0)); // stale log: rejected, but moves us to term 2
    flush();
    expect(n.status()).toMatchObject({ term: 2, vote: null });
    n.step(vote('b', 2, 1, 1));
    const rd = n.ready()!;
    expect(rd.hardState).toEqual({ term: 2, vote: 'b', commit: 1 });
    expect(rd.messages).toEqual([{ type: 'vote-resp', from: 'a', to: 'b', term: 2, reject: false }]);
  });

  it('a restarted node remembers its vote and refuses a second candidate in that term', () => {
    const { n, s, flush } = node();
    n.step(vote('b', 2, 1, 1));
    flush();
    const restarted = new RaftNode({ id: 'a', electionTimeout: T, heartbeatTimeout: 1, rand: () => 0.99 }, s);
    for (let i = 0; i < T; i++) restarted.tick();
    restarted.step(vote('c', 2, 1, 1));
    const rd = restarted.ready()!;
    expect(rd.messages).toEqual([{ type: 'vote-resp', from: 'a', to: 'c', term: 2, reject: true }]);
  });

  it('refuses to vote right after a restart (a leader may still count on its last acknowledgement)', () => {
    const s = MemoryStorage.bootstrap(['a', 'b', 'c']);
    const n = new RaftNode({ id: 'a', electionTimeout: T, heartbeatTimeout: 1, rand: () => 0.99 }, s);
    n.step(vote('b', 2, 1, 1));
    expect(n.status().term).toBe(1);
    expect(n.ready()!.messages).toEqual([]);
  });

  it('a follower commits only what the append verified, not a stale tail beyond it', () => {
    const { n, flush } = node();
    const append = (from: string, term: number, prevIndex: number, prevTerm: number, ents: [number, number][], commit: number): Message => ({
      type: 'append',
      from,
      to: 'a',
      term,
      prevIndex,
      prevTerm,
      entries: ents.map(([index, t]) => ({ index, term: t, type: 'normal' as const, data: `${index}@${t}` })),
      commit,
      sentAt: 0,
    });
    // Leader b (term 2) gives us 2..4 of term 2, none committed.
    n.step(append('b', 2, 1, 1, [[2, 2], [3, 2], [4, 2]], 1));
    flush();
    // Leader c (term 3) has 2@2 but a different 3 and 4, and has committed 4. Probing at 1 with one entry:
    n.step(append('c', 3, 1, 1, [[2, 2]], 4));
    expect(n.status().commit).toBe(2);
    const rd = flush()[0]!;
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'append-resp', to: 'c', index: 2, reject: false })]);
    // The next append replaces the stale tail, and only then is 4 committed.
    n.step(append('c', 3, 2, 2, [[3, 3], [4, 3]], 4));
    expect(n.status().commit).toBe(4);
    expect(n.inspectLog().term(4)).toBe(3);
  });

  it('a leader counts its own entries only once they are persisted', () => {
    const s = MemoryStorage.bootstrap(['a']);
    const n = new RaftNode({ id: 'a', electionTimeout: T, heartbeatTimeout: 1, rand: () => 0.99 }, s);
    n.campaign();
    expect(n.status().role).toBe('leader');
    const rd = n.ready()!;
    expect(rd.entries.map((e) => e.type)).toEqual(['noop']);
    expect(rd.committed.map((e) => e.index)).toEqual([1]); // the bootstrap entry
    expect(n.status().commit).toBe(1); // not yet: the no-op is not durable
    persistReady(s, rd);
    n.advance(rd);
    expect(n.status().commit).toBe(2);
    expect(n.ready()!.committed.map((e) => e.index)).toEqual([2]);
  });

  it('messages are plain JSON', () => {
    const { n } = node();
    n.campaign();
    const rd = n.ready()!;
    expect(rd.messages.length).toBeGreaterThan(0);
    for (const m of rd.messages) expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });
});
