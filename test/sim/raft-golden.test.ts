/**
 * Golden interaction transcripts (etcd-io/raft testdata style): a short scripted scenario on a
 * deterministic cluster, with every delivered message and every role change written as one line and
 * compared with a checked-in transcript under __golden__/. A protocol change shows up as a readable
 * diff; after reviewing it, refresh with `npx vitest run test/sim/raft-golden.test.ts -u`.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../cluster-node/src/raft';
import { PERFECT_NETWORK, SimCluster } from './sim-cluster';

function fmt(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'pre-vote':
    case 'vote':
      return `${head} last=${m.lastIndex}@${m.lastTerm}`;
    case 'pre-vote-resp':
    case 'vote-resp':
      return `${head} ${m.reject ? 'REJECT' : 'granted'}`;
    case 'append':
      return `${head} prev=${m.prevIndex}@${m.prevTerm} commit=${m.commit} entries=[${m.entries
        .map((e) => `${e.index}@${e.term}${e.type === 'normal' ? `:${e.data}` : `:${e.type}`}`)
        .join(' ')}]`;
    case 'append-resp':
      return m.reject
        ? `${head} REJECT index=${m.index} hint=${m.hintIndex}@${m.hintTerm} last=${m.lastIndex}`
        : `${head} ok index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}`;
    case 'heartbeat-resp':
      return head;
    case 'snapshot':
      return `${head} snap=${m.snapshot.meta.index}@${m.snapshot.meta.term}`;
  }
}

/** Record deliveries and role/commit changes while running `script`. */
function transcript(c: SimCluster, script: (log: (line: string) => void) => void): string {
  const lines: string[] = [];
  const seen = new Map<string, string>();
  const snapshotStates = () => {
    for (const [id, r] of c.alive()) {
      const s = r.status();
      const line = `${s.role} term=${s.term} leader=${s.leader ?? '-'} commit=${s.commit} last=${s.lastIndex}`;
      if (seen.get(id) !== line) {
        seen.set(id, line);
        lines.push(`t=${c.time}   ${id}: ${line}`);
      }
    }
  };
  c.tap = (m) => {
    snapshotStates();
    lines.push(`t=${c.time} ${fmt(m)}`);
  };
  script((line) => {
    snapshotStates();
    lines.push(`-- ${line}`);
  });
  snapshotStates();
  return `${lines.join('\n')}\n`;
}

function cluster(seed: number): SimCluster {
  const c = new SimCluster(seed, {
    electionTimeout: 5,
    heartbeatTimeout: 2,
    net: { ...PERFECT_NETWORK, minDelay: 1, maxDelay: 1 },
    fastDiskRate: 1,
    jsonWire: true,
  });
  c.bootstrap(['n1', 'n2', 'n3']);
  return c;
}

describe('raft golden transcripts', () => {
  it('election with pre-vote, no-op commit, one proposal', async () => {
    const c = cluster(1);
    const out = transcript(c, (log) => {
      log('start: 3 bootstrapped voters, T=5, heartbeat=2, 1-tick links');
      c.runUntil(() => c.leader() !== null, 20);
      c.run(3);
      log(`propose "x" via ${c.leader()!.id}`);
      c.propose('x');
      c.run(4);
    });
    await expect(out).toMatchFileSnapshot('./__golden__/election-and-proposal.txt');
  });

  it('deposed leader rejoins: its uncommitted entry is truncated', async () => {
    const c = cluster(2);
    const out = transcript(c, (log) => {
      c.runUntil(() => c.leader() !== null, 20);
      c.run(3);
      const old = c.leader()!;
      log(`isolate leader ${old.id}; it appends "lost" that no one receives`);
      c.isolate(old.id);
      old.propose('lost');
      c.runUntil(() => (c.leader()?.id ?? old.id) !== old.id, 40);
      log(`new leader ${c.leader()!.id}; propose "kept"`);
      c.propose('kept');
      c.run(2);
      log('heal');
      c.heal();
      c.run(6);
    });
    await expect(out).toMatchFileSnapshot('./__golden__/deposed-leader-truncation.txt');
  });
});
