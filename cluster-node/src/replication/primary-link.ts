/**
 * The replica side: our connection to the primary we follow, as redis-server 7 does it.
 *
 *   connect -> PING -> [AUTH [masteruser] masterauth] -> REPLCONF listening-port <port>
 *   -> REPLCONF capa eof capa psync2 -> PSYNC <cached replid> <cached offset + 1> (or PSYNC ? -1)
 *   +FULLRESYNC <replid> <offset>: receive the RDB ($<len> bulk, or $EOF:<40 byte mark> ... <mark>),
 *       flush our data, load it, ACK at once (a primary using the EOF form waits for that ACK).
 *   +CONTINUE [<new replid>]: keep our data, continue the stream from our offset.
 *   then: apply the command stream through the normal dispatch as the primary link client
 *   (Client.isPrimaryLink: writes accepted on a read-only replica, replies discarded), count the applied
 *   bytes (slave_repl_offset), proxy them to our own backlog and replicas, REPLCONF ACK <offset>
 *   every second and on REPLCONF GETACK.
 *
 * Any failure closes the connection and a new attempt starts one second later; the replication id and
 * offset reached are kept ("cached primary") so the next attempt can resume with +CONTINUE.
 * The RDB is received whole into memory, then loaded synchronously (clients wait during the load).
 */
import net from 'node:net';
import { Client } from '../server/client';
import { loadRdb, RdbLoadError } from '../persistence/rdb';
import { StreamParser, StreamProtocolError } from './stream';
import { encodeCommand } from '../../../common/src/resp/writer';
import type { Replication } from './replication';

/** ROLE's state names. */
export type LinkState = 'connect' | 'connecting' | 'handshake' | 'sync' | 'connected';

const RECONNECT_MS = 1000;

/** Reads CRLF/LF-terminated lines from a socket during the handshake. */
class LineReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: ((line: string) => void) | null = null;
  private failed: ((e: Error) => void) | null = null;
  private readonly onData = (d: Buffer): void => {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    this.onBytes();
    this.pump();
  };

  constructor(
    private readonly sock: net.Socket,
    private readonly onBytes: () => void,
  ) {
    sock.on('data', this.onData);
  }

  private pump(): void {
    if (this.waiter === null) return;
    const nl = this.buf.indexOf(0x0a);
    if (nl < 0) {
      if (this.buf.length > 64 * 1024) this.fail(new Error('reply line too long'));
      return;
    }
    const line = this.buf.latin1Slice(0, nl).replace(/\r$/, '');
    this.buf = this.buf.subarray(nl + 1);
    const w = this.waiter;
    this.waiter = null;
    this.failed = null;
    w(line);
  }

  fail(e: Error): void {
    const f = this.failed;
    this.waiter = null;
    this.failed = null;
    f?.(e);
  }

  line(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failed = reject;
      this.pump();
    });
  }

  /** Stop reading lines; returns the bytes received after the last line. */
  detach(): Buffer {
    this.sock.off('data', this.onData);
    return this.buf;
  }
}

interface Transfer {
  /** Payload size, or -1 for the EOF-marker form. */
  size: number;
  mark: string;
  read: number;
  chunks: Buffer[];
  /** Last bytes seen (EOF form: where the mark is looked for). */
  tail: Buffer;
  replId: string;
  offset: number;
  startedAt: number;
}

export class PrimaryLink {
  state: LinkState = 'connect';
  private socket: net.Socket | null = null;
  /** The primary link client (exists while state is 'connected'). */
  client: Client | null = null;
  /** Last time we received anything from the primary (ms). */
  lastIo = 0;
  /** When the link went down (ms), 0 if it never was up. */
  downSince = 0;
  /** Bytes of stream read (slave_read_repl_offset). */
  readOffset = 0;
  transfer: Transfer | null = null;
  private parser = new StreamParser();
  /** Bytes of commands applied but not yet counted (a MULTI block is counted at its EXEC). */
  private unapplied: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly repl: Replication,
    readonly host: string,
    readonly port: number,
  ) {}

  private get log() {
    return this.repl.server.log;
  }

  start(): void {
    this.connect();
  }

  /** Stop following: close the connection now, no reconnect, nothing cached. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const sock = this.socket;
    const c = this.client;
    this.socket = null;
    this.client = null;
    this.transfer = null;
    this.unapplied = [];
    this.state = 'connect';
    if (c !== null && !c.closing) this.repl.server.closeClient(c, true);
    sock?.destroy();
  }

  private connect(): void {
    if (this.stopped) return;
    this.timer = null;
    this.state = 'connecting';
    this.lastIo = Date.now();
    this.log.notice(`Connecting to MASTER ${this.host}:${this.port}`);
    const sock = net.connect({ host: this.host, port: this.port });
    this.socket = sock;
    sock.setNoDelay(true);
    sock.on('error', (e) => {
      if (this.state === 'connecting') this.log.warning(`Error condition on socket for SYNC: ${e.message}`);
    });
    sock.on('close', () => this.onClose(sock));
    sock.once('connect', () => {
      this.log.notice('MASTER <-> REPLICA sync started');
      this.handshake(sock).catch((e: unknown) => {
        if (sock.destroyed) return;
        this.log.warning(`${(e as Error)?.message ?? e}`);
        sock.destroy();
      });
    });
  }

  private send(sock: net.Socket, argv: string[]): void {
    sock.write(encodeCommand(argv));
  }

  private async handshake(sock: net.Socket): Promise<void> {
    this.state = 'handshake';
    const cfg = this.repl.server.config;
    const io = new LineReader(sock, () => (this.lastIo = Date.now()));
    sock.once('close', () => io.fail(new Error('Connection closed during the handshake')));
    this.send(sock, ['PING']);
    let r = await io.line();
    if (r.startsWith('-') && !/^-(NOAUTH|NOPERM|ERR operation not permitted)/.test(r)) throw new Error(`Error reply to PING from master: '${r}'`);
    this.log.notice('Master replied to PING, replication can continue...');
    const pass = cfg.str('masterauth');
    if (pass !== '') {
      const user = cfg.str('masteruser');
      this.send(sock, user !== '' ? ['AUTH', user, pass] : ['AUTH', pass]);
      r = await io.line();
      if (r.startsWith('-')) throw new Error(`Unable to AUTH to MASTER: ${r}`);
    }
    const announcePort = cfg.int('replica-announce-port');
    this.send(sock, ['REPLCONF', 'listening-port', String(announcePort || this.repl.server.boundPort())]);
    r = await io.line();
    if (r.startsWith('-')) this.log.notice(`(Non critical) Master does not understand REPLCONF listening-port: ${r}`);
    const announceIp = cfg.str('replica-announce-ip');
    if (announceIp !== '') {
      this.send(sock, ['REPLCONF', 'ip-address', announceIp]);
      r = await io.line();
      if (r.startsWith('-')) this.log.notice(`(Non critical) Master does not understand REPLCONF ip-address: ${r}`);
    }
    this.send(sock, ['REPLCONF', 'capa', 'eof', 'capa', 'psync2']);
    r = await io.line();
    if (r.startsWith('-')) this.log.notice(`(Non critical) Master does not understand REPLCONF capa: ${r}`);
    const cached = this.repl.cachedPrimary;
    if (cached) {
      this.log.notice(`Trying a partial resynchronization (request ${cached.replId}:${cached.offset + 1}).`);
      this.send(sock, ['PSYNC', cached.replId, String(cached.offset + 1)]);
    } else {
      this.log.notice('Partial resynchronization not possible (no cached master)');
      this.send(sock, ['PSYNC', '?', '-1']);
    }
    do r = await io.line();
    while (r === ''); // newlines are keepalives
    if (r.startsWith('+FULLRESYNC')) {
      const [, id, off] = r.split(' ');
      const offset = Number(off);
      if (!/^[0-9a-f]{40}$/i.test(id ?? '') || !Number.isInteger(offset)) throw new Error(`Master replied with wrong +FULLRESYNC syntax: '${r}'`);
      this.log.notice(`Full resync from master: ${id}:${offset}`);
      // The bulk header line (after optional keepalive newlines).
      do r = await io.line();
      while (r === '');
      if (r.startsWith('-')) throw new Error(`MASTER aborted replication with an error: ${r.slice(1)}`);
      if (!r.startsWith('$')) throw new Error(`Bad protocol from MASTER, the first byte is not '$' (we received '${r}'), are you sure the host and port are right?`);
      let size = -1;
      let mark = '';
      if (r.startsWith('$EOF:')) {
        mark = r.slice(5);
        if (mark.length !== 40) throw new Error('Bad EOF mark from MASTER');
        this.log.notice('MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk');
      } else {
        size = Number(r.slice(1));
        if (!Number.isInteger(size) || size < 0) throw new Error(`Bad bulk length from MASTER: '${r}'`);
        this.log.notice(`MASTER <-> REPLICA sync: receiving ${size} bytes from master to disk`);
      }
      const rest = io.detach();
      this.state = 'sync';
      this.transfer = { size, mark, read: 0, chunks: [], tail: Buffer.alloc(0), replId: id, offset, startedAt: Date.now() };
      sock.on('data', (d: Buffer) => this.onPayload(sock, d));
      if (rest.length > 0) this.onPayload(sock, rest);
      return;
    }
    if (r.startsWith('+CONTINUE')) {
      const newId = r.slice('+CONTINUE'.length).trim();
      const rest = io.detach();
      this.log.notice('Successful partial resynchronization with master.');
      this.repl.onPartialSync(newId);
      this.log.notice('MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.');
      this.startStream(sock, cached?.db ?? 0, rest);
      return;
    }
    if (r.startsWith('-NOMASTERLINK') || r.startsWith('-LOADING')) throw new Error(`Master is currently unable to PSYNC but should be in the future: ${r}`);
    throw new Error(`Unexpected reply to PSYNC from master: ${r}`);
  }

  private onPayload(sock: net.Socket, d: Buffer): void {
    const t = this.transfer;
    if (t === null || sock !== this.socket) return;
    this.lastIo = Date.now();
    this.repl.stats.replInputBytes += d.length;
    t.chunks.push(d);
    t.read += d.length;
    let rdb: Buffer | null = null;
    let rest: Buffer = Buffer.alloc(0);
    if (t.size >= 0) {
      if (t.read >= t.size) {
        const all = Buffer.concat(t.chunks);
        rdb = all.subarray(0, t.size);
        rest = all.subarray(t.size);
      }
    } else {
      // The mark ends the payload: the primary sends nothing more until our first ACK.
      t.tail = Buffer.concat([t.tail, d]).subarray(-40);
      if (t.tail.length === 40 && t.tail.latin1Slice(0, 40) === t.mark) {
        const all = Buffer.concat(t.chunks);
        rdb = all.subarray(0, all.length - 40);
      }
    }
    if (rdb === null) return;
    sock.removeAllListeners('data');
    this.transfer = null;
    this.load(sock, rdb, t, rest);
  }

  private load(sock: net.Socket, rdb: Buffer, t: Transfer, rest: Buffer): void {
    const s = this.repl.server;
    this.log.notice('MASTER <-> REPLICA sync: Flushing old data');
    this.repl.beforeFullSyncLoad();
    for (const db of s.dbs) {
      db.flush();
      db.touchAllWatched();
    }
    this.log.notice('MASTER <-> REPLICA sync: Loading DB in memory');
    let streamDb = 0;
    try {
      const res = loadRdb(rdb, s.dbs, { dropExpired: false, now: Date.now() });
      const db = Number(res.aux.get('repl-stream-db') ?? '0');
      streamDb = Number.isInteger(db) && db >= 0 && db < s.dbs.length ? db : 0;
      if (res.functionsSkipped > 0) this.log.warning(`MASTER <-> REPLICA sync: ${res.functionsSkipped} function libraries skipped (functions are not supported)`);
    } catch (e) {
      const msg = e instanceof RdbLoadError ? e.message : String((e as Error)?.stack ?? e);
      this.log.warning(`Failed trying to load the MASTER synchronization DB from socket: ${msg}`);
      for (const db of s.dbs) db.flush();
      sock.destroy();
      return;
    }
    this.repl.onFullSyncLoaded(t.replId, t.offset);
    this.log.notice('MASTER <-> REPLICA sync: Finished with success');
    this.startStream(sock, streamDb, rest);
  }

  /** The link is synchronized: apply the command stream from now on. */
  private startStream(sock: net.Socket, db: number, rest: Buffer): void {
    const s = this.repl.server;
    const c = new Client(s.nextClientId++, s, sock);
    c.isPrimaryLink = true;
    c.setAuthenticated(true);
    c.select(db);
    s.clients.set(c.id, c);
    this.client = c;
    this.state = 'connected';
    this.downSince = 0;
    this.readOffset = this.repl.masterReplOffset;
    this.parser = new StreamParser();
    this.unapplied = [];
    this.lastIo = Date.now();
    sock.removeAllListeners('data');
    sock.on('data', (d: Buffer) => this.onStream(d));
    // The first ACK puts us online on a primary that sent the RDB with an EOF mark.
    this.sendAck();
    if (rest.length > 0) this.onStream(rest);
  }

  private onStream(d: Buffer): void {
    const c = this.client;
    if (c === null || c.closing) return;
    const s = this.repl.server;
    this.readOffset += d.length;
    this.lastIo = Date.now();
    c.lastInteraction = this.lastIo;
    c.netIn += d.length;
    s.stats.netInput += d.length;
    this.repl.stats.replInputBytes += d.length;
    this.parser.feed(d);
    const saved = s.current;
    const w = s.writer;
    s.current = c;
    c.w = w;
    w.proto = c.resp;
    try {
      for (;;) {
        const cmd = this.parser.next();
        if (cmd === null) break;
        this.unapplied.push(cmd.raw);
        if (cmd.argv.length > 0) {
          const mark = w.len;
          s.execute(c, cmd.argv);
          if (w.len > mark && w.buf[mark] === 0x2d) {
            const err = w.buf.latin1Slice(mark + 1, Math.min(w.len, mark + 200)).split('\r\n')[0];
            this.log.warning(`== CRITICAL == This replica is sending an error to its master: '${err}' after processing the command '${cmd.argv[0]}'`);
          }
          w.truncate(mark); // a primary link gets no replies
        }
        // Applied bytes are counted (and proxied) per command, a MULTI block at its EXEC.
        if (c.multi === null) this.apply();
        if (c.closing) break;
      }
    } catch (e) {
      if (!(e instanceof StreamProtocolError)) throw e;
      this.log.warning(`Protocol error from MASTER: ${e.message}`);
      this.socket?.destroy();
    } finally {
      s.current = saved;
    }
    s.flushAll();
  }

  private apply(): void {
    if (this.unapplied.length === 0) return;
    const raw = this.unapplied.length === 1 ? this.unapplied[0] : Buffer.concat(this.unapplied);
    this.unapplied = [];
    this.repl.appendFromPrimary(raw);
  }

  /** REPLCONF ACK <applied offset>. */
  sendAck(): void {
    const sock = this.socket;
    if (sock === null || this.state !== 'connected' || sock.destroyed) return;
    this.send(sock, ['REPLCONF', 'ACK', String(this.repl.masterReplOffset)]);
  }

  /** Once a second: ACK, and the link / handshake / transfer timeouts. */
  cron(): void {
    if (this.stopped) return;
    const timeoutMs = this.repl.server.config.int('repl-timeout') * 1000;
    const idle = Date.now() - this.lastIo;
    if (this.state === 'connected') {
      if (idle > timeoutMs) {
        this.log.warning('MASTER timeout: no data nor PING received...');
        this.socket?.destroy();
        return;
      }
      this.sendAck();
    } else if ((this.state === 'connecting' || this.state === 'handshake') && idle > timeoutMs) {
      this.log.warning('Timeout connecting to the MASTER...');
      this.socket?.destroy();
    } else if (this.state === 'sync' && idle > timeoutMs) {
      this.log.warning('Timeout receiving bulk data from MASTER... If the problem persists try to set the \'repl-timeout\' parameter in redis.conf to a larger value.');
      this.socket?.destroy();
    }
  }

  private onClose(sock: net.Socket | null): void {
    if (sock !== this.socket) return;
    const wasConnected = this.state === 'connected';
    const c = this.client;
    this.socket = null;
    this.client = null;
    this.transfer = null;
    this.unapplied = [];
    if (c !== null) {
      // A partial MULTI block was not applied: the cached offset excludes it, PSYNC asks for it again.
      this.repl.cachePrimary(c.dbIndex);
      if (!c.closing) this.repl.server.closeClient(c, true);
    }
    if (wasConnected) {
      this.downSince = Date.now();
      if (!this.stopped) this.log.notice('Connection with master lost.');
    }
    this.state = 'connect';
    if (!this.stopped && this.timer === null) this.timer = setTimeout(() => this.connect(), RECONNECT_MS);
  }
}
