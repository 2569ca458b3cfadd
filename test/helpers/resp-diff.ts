/**
 * Differential testing against the real redis-server: a throwaway redis-server on a unix socket and
 * a raw RESP connection that pipelines commands and returns each reply's exact bytes (latin1), so
 * replies of our node and Redis can be compared byte for byte (RESP2 and RESP3).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RealRedis {
  path: string;
  stop(): Promise<void>;
}

/** Start redis-server on a unix socket. Throws (never skips) when redis-server is not installed. */
export async function startRealRedis(): Promise<RealRedis> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status !== 0 || which.stdout.trim() === '') {
    throw new Error('redis-server is not installed (apt-get install redis-server): the differential test cannot run');
  }
  const dir = mkdtempSync(join(tmpdir(), 'resp-diff-'));
  const path = join(dir, 'redis.sock');
  const server: ChildProcess = spawn(which.stdout.trim(), ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const exited = new Promise((r) => server.once('exit', r));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const c = await RawConn.open({ path });
      const [pong] = await c.send([['PING']]);
      c.close();
      if (pong === '+PONG\r\n') return { path, stop };
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('redis-server did not start on ' + path);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** End offset of the complete RESP reply starting at `p`, or -1 if `s` does not hold all of it yet. */
export function replyEnd(s: string, p: number): number {
  if (p >= s.length) return -1;
  const eol = s.indexOf('\r\n', p);
  if (eol < 0) return -1;
  const type = s[p];
  const head = s.slice(p + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case '#':
    case ',':
    case '(':
      return next;
    case '$':
    case '!':
    case '=': {
      const n = Number(head);
      if (n < 0) return next;
      return s.length >= next + n + 2 ? next + n + 2 : -1;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      let n = Number(head);
      if (n < 0) return next;
      if (type === '%' || type === '|') n *= 2;
      let q = next;
      for (let i = 0; i < n; i++) {
        q = replyEnd(s, q);
        if (q < 0) return -1;
      }
      // An attribute is followed by the reply it annotates.
      return type === '|' ? replyEnd(s, q) : q;
    }
    default:
      throw new Error(`bad RESP type byte ${JSON.stringify(type)} in ${JSON.stringify(s.slice(p, p + 40))}`);
  }
}

/** Encode a command (latin1 strings, one char = one byte). */
export function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${a.length}\r\n${a}\r\n`;
  return out;
}

/** A raw RESP connection: pipeline commands, get back each reply's exact bytes as a latin1 string. */
export class RawConn {
  private buf = '';
  private waiting: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.waiting?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    sock.on('error', () => undefined);
  }

  static open(where: { port: number } | { path: string }): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const sock = 'path' in where ? net.connect({ path: where.path }) : net.connect({ port: where.port, host: '127.0.0.1' });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new RawConn(sock));
      });
    });
  }

  /** Send commands pipelined; resolves with one raw reply per command. */
  async send(cmds: readonly (readonly string[])[], timeoutMs = 20_000): Promise<string[]> {
    this.sock.write(Buffer.from(cmds.map(encode).join(''), 'latin1'));
    const out: string[] = [];
    const deadline = Date.now() + timeoutMs;
    let p = 0;
    while (out.length < cmds.length) {
      const end = replyEnd(this.buf, p);
      if (end >= 0) {
        out.push(this.buf.slice(p, end));
        p = end;
        continue;
      }
      if (this.closed) throw new Error(`connection closed after ${out.length}/${cmds.length} replies`);
      if (Date.now() > deadline) throw new Error(`timed out after ${out.length}/${cmds.length} replies`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 50);
      });
      this.waiting = null;
    }
    this.buf = this.buf.slice(p);
    return out;
  }

  close(): void {
    this.sock.destroy();
  }
}

/**
 * Run the same command script on both servers and return the differences (empty when every reply
 * is byte-identical), each with the command that produced it.
 */
export async function diffScript(
  ours: RawConn,
  theirs: RawConn,
  script: readonly (readonly string[])[],
  batch = 200,
): Promise<{ cmd: string; ours: string; redis: string }[]> {
  const diffs: { cmd: string; ours: string; redis: string }[] = [];
  for (let i = 0; i < script.length; i += batch) {
    const part = script.slice(i, i + batch);
    const [a, b] = await Promise.all([ours.send(part), theirs.send(part)]);
    for (let j = 0; j < part.length; j++) {
      if (a[j] !== b[j]) diffs.push({ cmd: part[j].map((x) => JSON.stringify(x)).join(' '), ours: a[j], redis: b[j] });
    }
  }
  return diffs;
}
