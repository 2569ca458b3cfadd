/**
 * Script differential harness: run the same command script on our node and on a throwaway real
 * redis-server over raw RESP (RESP2 or RESP3) and record, per command, the exact (optionally
 * order-normalized) reply, the keyspace notifications it produced and how it moved the dirty and
 * keyspace hit/miss counters. Used by the hash, set and HyperLogLog suites.
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import Redis from 'ioredis';
import { freePort, waitForPort } from './node';


/** End index of the RESP frame starting at `i` in `b`, or -1 if incomplete. */
export function frameEnd(b: string, i: number): number {
  const e = b.indexOf('\r\n', i);
  if (e < 0) return -1;
  const t = b[i];
  const n = Number(b.slice(i + 1, e));
  if (t === '$' || t === '=' || t === '!') return n < 0 ? e + 2 : b.length < e + 4 + n ? -1 : e + 4 + n;
  if (t === '*' || t === '~' || t === '>' || t === '%' || t === '|') {
    let p = e + 2;
    const items = n < 0 ? 0 : t === '%' || t === '|' ? n * 2 : n;
    for (let k = 0; k < items; k++) {
      p = frameEnd(b, p);
      if (p < 0) return -1;
    }
    return p;
  }
  return e + 2;
}

/** One connection speaking raw RESP: `cmd` resolves with the exact reply bytes (latin1). */
export class Raw {
  private buf = '';
  private waiting: ((s: string) => void)[] = [];
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      for (;;) {
        if (this.buf.length === 0 || this.waiting.length === 0) break;
        const end = frameEnd(this.buf, 0);
        if (end < 0) break;
        const frame = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        this.waiting.shift()!(frame);
      }
    });
  }
  static async open(port: number, proto: 2 | 3 = 2): Promise<Raw> {
    const sock = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    const r = new Raw(sock);
    if (proto === 3) await r.cmd('HELLO', '3');
    return r;
  }
  cmd(...args: string[]): Promise<string> {
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${a.length}\r\n${a}\r\n`;
    return new Promise((res) => {
      this.waiting.push(res);
      this.sock.write(Buffer.from(out, 'latin1'));
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

/** A throwaway real redis-server on a free loopback port (throws if redis-server is missing). */
export async function startRealRedis(): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.once('error', () => undefined);
  await waitForPort(port);
  return {
    port,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Frame {
  t: string;
  raw: string;
  kids: Frame[];
}

export function parseFrame(b: string, i = 0): { f: Frame; end: number } {
  const e = b.indexOf('\r\n', i);
  const t = b[i];
  const n = Number(b.slice(i + 1, e));
  if (t === '*' || t === '~' || t === '>' || t === '%' || t === '|') {
    let p = e + 2;
    const kids: Frame[] = [];
    const items = n < 0 ? 0 : t === '%' || t === '|' ? n * 2 : n;
    for (let k = 0; k < items; k++) {
      const r = parseFrame(b, p);
      kids.push(r.f);
      p = r.end;
    }
    return { f: { t, raw: b.slice(i, p), kids }, end: p };
  }
  const end = frameEnd(b, i);
  return { f: { t, raw: b.slice(i, end), kids: [] }, end };
}

/**
 * Order-insensitive form of a reply: 'set' sorts the elements of the top aggregate, 'pairs' sorts
 * its (field, value) pairs, 'scan' does 'pairs'/'set' on the element array of a SCAN reply.
 */
export function normalize(reply: string, how: 'set' | 'pairs' | 'scanset' | 'scanpairs' | undefined): string {
  if (how === undefined || !/^[*~%]/.test(reply)) return reply;
  const f = parseFrame(reply).f;
  const sortKids = (x: Frame, pairs: boolean): string => {
    const head = x.raw.slice(0, x.raw.indexOf('\r\n') + 2);
    // RESP3 nested pairs ([[f, v], ...]) sort as whole elements.
    if (!pairs || (x.kids.length > 0 && x.kids[0].kids.length > 0)) return head + x.kids.map((k) => k.raw).sort().join('');
    const ps: string[] = [];
    for (let k = 0; k < x.kids.length; k += 2) ps.push(x.kids[k].raw + x.kids[k + 1].raw);
    return head + ps.sort().join('');
  };
  if (how === 'set') return sortKids(f, false);
  if (how === 'pairs') return sortKids(f, true);
  return f.kids[0].raw + sortKids(f.kids[1], how === 'scanpairs');
}

/** Keyevent notifications of db 0 (psubscribed), drained in order by `flush` (a PUBLISH sentinel). */
export async function eventCollector(port: number): Promise<{ flush(pub: Raw): Promise<string[]>; close(): void }> {
  const sub = new Redis({ port, lazyConnect: true, enableReadyCheck: false });
  await sub.connect();
  const events: string[] = [];
  let done: (() => void) | null = null;
  sub.on('pmessage', (_p: string, ch: string, msg: string) => {
    if (ch === 'diff-sentinel') done?.();
    else events.push(`${ch.slice(ch.indexOf(':') + 1)} ${msg}`);
  });
  await sub.psubscribe('__keyevent@0__:*', 'diff-sentinel');
  return {
    async flush(pub: Raw): Promise<string[]> {
      const p = new Promise<void>((r) => (done = r));
      await pub.cmd('PUBLISH', 'diff-sentinel', 'x');
      await p;
      return events.splice(0);
    },
    close: () => sub.disconnect(),
  };
}

export type How = 'set' | 'pairs' | 'scanset' | 'scanpairs';
export type Step = string[] | { cmd: string[]; how: How };

/** [rdb_changes_since_last_save, keyspace_hits, keyspace_misses] from INFO. */
export async function counters(r: Raw): Promise<number[]> {
  const info = await r.cmd('INFO', 'all');
  return ['rdb_changes_since_last_save', 'keyspace_hits', 'keyspace_misses'].map((f) => {
    const m = new RegExp(`\\r\\n${f}:(\\d+)`).exec(info);
    if (m === null) throw new Error(`INFO lacks ${f}`);
    return Number(m[1]);
  });
}

/**
 * Run `script` on a fresh connection with protocol `proto` against a server; returns one line per
 * command (the command, its normalized raw reply) plus the notifications it produced and how it moved
 * the dirty counter and the keyspace hit/miss counters.
 */
export async function runScript(port: number, proto: 2 | 3, script: Step[]): Promise<string[]> {
  const r = await Raw.open(port, proto);
  const ev = await eventCollector(port);
  const out: string[] = [];
  try {
    for (const step of script) {
      const args = Array.isArray(step) ? step : step.cmd;
      const how = Array.isArray(step) ? undefined : step.how;
      const before = await counters(r);
      const reply = await r.cmd(...args);
      out.push(`${args.join(' ')} -> ${JSON.stringify(normalize(reply, how))}`);
      const events = await ev.flush(r);
      if (events.length > 0) out.push(`   events: ${events.join(', ')}`);
      const after = await counters(r);
      const delta = after.map((v, i) => v - before[i]);
      if (delta.some((d) => d !== 0)) out.push(`   dirty/hits/misses: ${delta.join('/')}`);
    }
  } finally {
    ev.close();
    r.close();
  }
  return out;
}

