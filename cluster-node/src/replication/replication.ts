/**
 * Primary/replica replication, wire-compatible with redis-server 7 (PSYNC2).
 *
 * State (Redis's names): the replication id and the secondary id (the previous history, valid up to
 * second_repl_offset, kept on promotion so former siblings can continue with +CONTINUE),
 * master_repl_offset (bytes of stream produced, or applied on a replica), and the backlog.
 *
 * Primary side: every write propagated by the server (Server.propagators, MULTI/EXEC wrapped by the
 * server) is encoded as RESP, preceded by SELECT when its db differs from the stream's, appended to the
 * backlog and queued for every replica (written at the end of the event-loop turn). SYNC/PSYNC: a
 * partial resync (+CONTINUE) sends the backlog from the requested offset; a full resync (+FULLRESYNC)
 * streams an RDB produced incrementally with slot-level copy-on-write (persistence/snapshot.ts), paced
 * by the replica socket, while the stream after the snapshot point is held for that replica and sent
 * after the RDB (after the replica's first ACK when the RDB was sent with an EOF mark, as Redis does).
 * The client-output-buffer-limit replica class applies to the held and unsent stream.
 *
 * Replica side: see primary-link.ts. A replica does not propagate what it applies; it proxies the exact
 * bytes it applied into its backlog and to its own replicas (chained replication), so offsets agree.
 *
 * API for the cluster layer (it satisfies cluster.ts's ReplicationHooks; main.ts plugs it in):
 * offset(), follow(host, port), promote(), replicas() / onAck (acknowledged offsets), link(),
 * waitForAcks() (WAIT), isReplica.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from '../server/server';
import type { Client } from '../server/client';
import { ReplyError } from '../commands/registry';
import { parseMemory } from '../server/config';
import { RdbSnapshot } from '../persistence/snapshot';
import { standardAux } from '../persistence/rdb';
import { RespWriter } from '../../../common/src/resp/writer';
import { Backlog } from './backlog';
import { encodeCommand } from '../../../common/src/resp/writer';
import { PrimaryLink, type LinkState } from './primary-link';

const ZERO_ID = '0'.repeat(40);
/** RDB transfer pacing: produce more only while less than this is waiting in the replica socket. */
const RDB_HIGH_WATER = 1024 * 1024;
/** Per event-loop turn budget of the incremental snapshot. */
const STEP_BYTES = 256 * 1024;
const STEP_MS = 4;

function randomId(): string {
  return randomBytes(20).toString('hex');
}

/** A replica as the primary sees it. */
export interface ReplicaInfo {
  /** Client id of the replica's connection. */
  id: number;
  /** Address it announced (REPLCONF ip-address) or its peer address, and its listening port. */
  ip: string;
  port: number;
  /** Redis's states: wait_bgsave, send_bulk (RDB being transferred), online (streaming). */
  state: 'wait_bgsave' | 'send_bulk' | 'online';
  /** Highest offset it acknowledged (REPLCONF ACK). */
  ackOffset: number;
  /** Milliseconds since its last ACK. */
  lagMs: number;
}

/** What a replica told us with REPLCONF before SYNC/PSYNC. */
interface Handshake {
  port: number;
  ip: string;
  capaEof: boolean;
  capaPsync2: boolean;
}

class ReplicaLink {
  state: ReplicaInfo['state'] = 'wait_bgsave';
  ackOffset = 0;
  ackTime = Date.now();
  /** Stream held back while the RDB is sent (and until the first ACK after an EOF-marked RDB). */
  held: Buffer[] | null = [];
  heldBytes = 0;
  waitFirstAck = false;
  snapshot: RdbSnapshot | null = null;
  /** Socket byte position where the RDB ended (what was queued after it is stream). */
  rdbEnd = Infinity;
  softSince = 0;
  /** RDB transfer progress: bytes the kernel accepted, and when that last changed (stall timeout). */
  sentMark = -1;
  sentAt = Date.now();
  constructor(
    readonly c: Client,
    readonly hs: Handshake,
  ) {}

  get ip(): string {
    return this.hs.ip || (this.c.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  }

  get name(): string {
    return `${this.ip}:${this.hs.port}`;
  }
}

interface Waiter {
  need: number;
  offset: number;
  timer: NodeJS.Timeout | null;
  done: (n: number) => void;
}

export class Replication {
  replId = randomId();
  replId2 = ZERO_ID;
  secondReplOffset = -1;
  /** master_repl_offset: stream bytes produced (primary) or applied (replica). */
  masterReplOffset = 0;
  backlog: Backlog | null = null;
  /** Connection to our primary; null when we are a primary. */
  primary: PrimaryLink | null = null;
  /** Where to resume with PSYNC (the last primary's id and our offset in its stream). */
  cachedPrimary: { replId: string; offset: number; db: number } | null = null;
  readonly stats = { syncFull: 0, syncPartialOk: 0, syncPartialErr: 0, replInputBytes: 0, replOutputBytes: 0 };
  /** Called whenever a replica acknowledges an offset (for the cluster layer's failover decisions). */
  onAck: ((r: ReplicaInfo) => void) | null = null;
  /** Called when a full or partial synchronization with our primary completed (for the cluster layer). */
  onSynced: (() => void) | null = null;

  private seldb = -1;
  private readonly links = new Map<Client, ReplicaLink>();
  private readonly handshakes = new WeakMap<Client, Handshake>();
  /** Offset right after each client's last propagated write (WAIT). */
  private readonly woff = new WeakMap<Client, number>();
  /** Stream bytes produced this event-loop turn, not yet in the backlog nor sent. */
  private readonly enc = new RespWriter(64 * 1024);
  private flushQueued = false;
  private readonly waiters = new Set<Waiter>();
  private getAckQueued = false;
  private readonly timer: NodeJS.Timeout;
  private ticks = 0;

  constructor(readonly server: Server) {
    server.propagators.push((db, argv) => this.feed(db, argv));
    this.timer = setInterval(() => this.cron(), 1000);
    this.timer.unref();
    const conf = server.config.str('replicaof').trim();
    if (conf !== '') {
      const [host, port] = conf.split(/\s+/);
      setImmediate(() => {
        if (server.config.bool('cluster-enabled')) server.log.warning('replicaof directive ignored in cluster mode');
        else if (!this.server.shuttingDown) this.follow(host, Number(port));
      });
    }
  }

  // ------------------------------------------------------------------------------------ public API

  /** True while we follow a primary (role slave). */
  get isReplica(): boolean {
    return this.primary !== null;
  }

  /** master_repl_offset: bytes of stream produced (primary) or applied (replica). */
  offset(): number {
    return this.masterReplOffset;
  }

  /**
   * Become a replica of host:port (REPLICAOF host port), or switch primary. Our replicas are
   * disconnected (they reconnect and can continue partially); clients blocked on keys are unblocked
   * with an error. PSYNC is first tried from our own history (PSYNC2). Returns false if already
   * following that primary.
   */
  follow(host: string, port: number): boolean {
    const s = this.server;
    if (this.primary !== null && this.primary.host === host && this.primary.port === port) return false;
    this.flushStream();
    if (this.primary === null) {
      // Like Redis's replicationCacheMasterUsingMyself: resume from our own history if the new primary has it.
      this.cachedPrimary = { replId: this.replId, offset: this.masterReplOffset, db: 0 };
    } else {
      const old = this.primary;
      if (old.client !== null) this.cachePrimary(old.client.dbIndex);
      this.primary = null;
      old.stop();
    }
    this.disconnectReplicas();
    for (const c of [...s.clients.values()]) {
      if (c.blocked !== null && !c.blocked.deferred) s.unblockWith(c, 'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)');
    }
    s.isReplica = true;
    s.log.role = 'S';
    this.primary = new PrimaryLink(this, host, port);
    this.primary.start();
    s.flushAll();
    return true;
  }

  /**
   * Stop following and become a primary keeping the data (REPLICAOF NO ONE / failover). The current
   * replication id becomes the secondary one, valid up to our offset, so replicas of the old primary
   * that have applied no more than we did can continue with PSYNC (+CONTINUE).
   */
  promote(): void {
    if (this.primary === null) return;
    const link = this.primary;
    this.primary = null;
    link.stop();
    this.cachedPrimary = null;
    this.replId2 = this.replId;
    this.secondReplOffset = this.masterReplOffset + 1;
    this.replId = randomId();
    this.server.log.notice(`Setting secondary replication ID to ${this.replId2}, valid up to offset: ${this.secondReplOffset}. New replication ID is ${this.replId}`);
    this.disconnectReplicas();
    this.seldb = -1;
    this.server.isReplica = false;
    this.server.log.role = 'M';
  }

  /** Every attached replica with its acknowledged offset. */
  replicas(): ReplicaInfo[] {
    const now = Date.now();
    return [...this.links.values()].map((l) => ({ id: l.c.id, ip: l.ip, port: l.hs.port, state: l.state, ackOffset: l.ackOffset, lagMs: now - l.ackTime }));
  }

  /** State of our link to the primary, or null when we are a primary. */
  link(): { host: string; port: number; state: LinkState; up: boolean; lastIoMs: number; offset: number } | null {
    const p = this.primary;
    if (p === null) return null;
    return { host: p.host, port: p.port, state: p.state, up: p.state === 'connected', lastIoMs: Date.now() - p.lastIo, offset: this.masterReplOffset };
  }

  /** min-replicas-to-write: online replicas whose last ACK is at most `maxLagSeconds` old. */
  goodReplicas(maxLagSeconds: number): number {
    const now = Math.floor(Date.now() / 1000);
    let n = 0;
    for (const l of this.links.values()) if (l.state === 'online' && now - Math.floor(l.ackTime / 1000) <= maxLagSeconds) n++;
    return n;
  }

  /** Number of online replicas that acknowledged at least `offset`. */
  ackedReplicas(offset: number): number {
    let n = 0;
    for (const l of this.links.values()) if (l.state === 'online' && l.ackOffset >= offset) n++;
    return n;
  }

  /** The offset right after the client's last propagated write (0 if none). */
  clientOffset(c: Client): number {
    return this.woff.get(c) ?? 0;
  }

  /**
   * Resolve with the number of replicas that acknowledged `offset` once `need` did, or when `timeoutMs`
   * passes (0 = no timeout). Asks replicas for an ACK (REPLCONF GETACK) right away.
   */
  waitForAcks(need: number, offset: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve) => {
      const w: Waiter = {
        need,
        offset,
        timer: null,
        done: (n) => {
          if (w.timer) clearTimeout(w.timer);
          this.waiters.delete(w);
          resolve(n);
        },
      };
      if (timeoutMs > 0) w.timer = setTimeout(() => w.done(this.ackedReplicas(offset)), timeoutMs);
      this.waiters.add(w);
      this.requestAcks();
    });
  }

  /** Stop everything (server shutdown). */
  close(): void {
    clearInterval(this.timer);
    const p = this.primary;
    this.primary = null;
    p?.stop();
    for (const l of this.links.values()) l.snapshot?.abort();
    for (const w of [...this.waiters]) w.done(0);
  }

  // ------------------------------------------------------------------------------------ the stream

  /** The server's propagator: a write to send to replicas. */
  private feed(dbIndex: number, argv: string[]): void {
    if (this.backlog === null || this.primary !== null) return;
    const w = this.enc;
    const before = w.len;
    if (dbIndex !== this.seldb) {
      w.array(2);
      w.bulk('SELECT');
      w.bulk(String(dbIndex));
      this.seldb = dbIndex;
    }
    w.array(argv.length);
    for (let i = 0; i < argv.length; i++) w.bulk(argv[i]);
    this.produced(w.len - before);
    const c = this.server.current;
    if (c !== null) this.woff.set(c, this.masterReplOffset);
  }

  /** Append bytes to the stream (offset now; backlog and replicas at the end of this event-loop turn). */
  private append(buf: Buffer): void {
    this.enc.rawBytes(buf);
    this.produced(buf.length);
  }

  private produced(n: number): void {
    this.masterReplOffset += n;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flushStream());
    }
  }

  /** Replica side: bytes of the primary's stream we applied (proxied as they are). */
  appendFromPrimary(raw: Buffer): void {
    if (this.backlog === null) this.createBacklog();
    this.append(raw);
  }

  /** Move what the stream accumulated into the backlog and to the replicas (held for those receiving an RDB). */
  flushStream(): void {
    this.flushQueued = false;
    if (this.enc.len === 0) return;
    const data = this.enc.take();
    this.backlog!.write(data);
    for (const l of this.links.values()) {
      if (l.held !== null) {
        l.held.push(data);
        l.heldBytes += data.length;
      } else {
        this.stats.replOutputBytes += data.length;
        l.c.queue(data);
        this.server.flushClient(l.c);
      }
      this.checkLimits(l);
    }
  }

  private createBacklog(): void {
    // Bytes still in `enc` are counted in the offset but not yet written: they go into this backlog.
    this.backlog = new Backlog(this.server.config.int('repl-backlog-size'), this.masterReplOffset - this.enc.len);
  }

  private requestAcks(): void {
    if (this.getAckQueued) return;
    this.getAckQueued = true;
    setImmediate(() => {
      this.getAckQueued = false;
      if (this.waiters.size > 0 && this.backlog !== null && this.primary === null && this.links.size > 0) {
        this.append(encodeCommand(['REPLCONF', 'GETACK', '*']));
      }
    });
  }

  // ------------------------------------------------------------------------------------ primary side

  /** REPLCONF listening-port / ip-address / capa from a future replica. */
  handshake(c: Client): Handshake {
    let hs = this.handshakes.get(c);
    if (hs === undefined) this.handshakes.set(c, (hs = { port: 0, ip: '', capaEof: false, capaPsync2: false }));
    return hs;
  }

  isReplicaClient(c: Client): boolean {
    return this.links.has(c);
  }

  /**
   * SYNC (psync null) or PSYNC <replid> <offset> from a replica. Replies are written to the
   * connection directly, followed by the backlog or the RDB and the stream.
   */
  sync(c: Client, psync: { replId: string; offset: number } | null): void {
    const s = this.server;
    if (this.links.has(c)) return;
    if (this.primary !== null && this.primary.state !== 'connected') throw new ReplyError("NOMASTERLINK Can't SYNC while not connected with my master");
    // A cluster node restarted without its data must not replace its replicas' copies with nothing.
    if (s.clusterNode?.refusesSync) throw new ReplyError('LOADING This node restarted without its data and feeds no replica until it has it again');
    if (c.replyMode !== 'on') return;
    const hs = this.handshake(c);
    const link = new ReplicaLink(c, hs);
    s.log.notice(`Replica ${link.name} asks for synchronization`);
    // Replies this client already has pending go out before what follows.
    if (s.current === c && c.w === s.writer && s.writer.len > 0) c.queue(s.writer.take());
    // What the stream holds so far belongs to the replicas already attached.
    this.flushStream();
    c.isReplicaLink = true;
    this.links.set(c, link);
    c.socket.once('close', () => this.dropLink(c));
    if (psync !== null && this.tryPartial(link, psync)) {
      this.stats.syncPartialOk++;
      return;
    }
    if (psync !== null && psync.replId !== '?') this.stats.syncPartialErr++;
    this.fullSync(link, psync !== null);
  }

  private tryPartial(link: ReplicaLink, req: { replId: string; offset: number }): boolean {
    const s = this.server;
    const { replId, offset } = req;
    if (replId !== this.replId && (replId !== this.replId2 || offset > this.secondReplOffset)) {
      if (replId !== '?') {
        if (replId !== this.replId && replId !== this.replId2) {
          s.log.notice(`Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '${replId}', my replication IDs are '${this.replId}' and '${this.replId2}')`);
        } else {
          s.log.notice(`Partial resynchronization not accepted: Requested offset for second ID was ${offset}, but I can reply up to ${this.secondReplOffset}`);
        }
      } else {
        s.log.notice(`Full resync requested by replica ${link.name}`);
      }
      return false;
    }
    if (this.backlog === null || !this.backlog.covers(offset)) {
      s.log.notice(`Unable to partial resync with replica ${link.name} for lack of backlog (Replica request was: ${offset}).`);
      return false;
    }
    const c = link.c;
    link.state = 'online';
    link.held = null;
    link.rdbEnd = 0;
    link.ackOffset = offset - 1;
    c.queue(Buffer.from(link.hs.capaPsync2 ? `+CONTINUE ${this.replId}\r\n` : '+CONTINUE\r\n', 'latin1'));
    const missing = this.backlog.readFrom(offset);
    c.queue(missing);
    this.stats.replOutputBytes += missing.length;
    s.flushClient(c);
    s.log.notice(`Partial resynchronization request from ${link.name} accepted. Sending ${missing.length} bytes of backlog starting from offset ${offset}.`);
    return true;
  }

  private fullSync(link: ReplicaLink, psync: boolean): void {
    const s = this.server;
    const c = link.c;
    this.stats.syncFull++;
    if (this.backlog === null) {
      // As Redis: a primary's first replica starts a new replication history.
      if (this.primary === null) {
        this.replId = randomId();
        this.replId2 = ZERO_ID;
        this.secondReplOffset = -1;
      }
      this.createBacklog();
    }
    // The stream after the RDB starts with a SELECT (the replica's stream db is unknown).
    this.seldb = -1;
    const offset = this.masterReplOffset;
    if (psync) c.queue(Buffer.from(`+FULLRESYNC ${this.replId} ${offset}\r\n`, 'latin1'));
    const eof = link.hs.capaEof;
    const mark = randomBytes(20).toString('hex');
    const chunks: Buffer[] = [];
    if (eof) c.queue(Buffer.from(`$EOF:${mark}\r\n`, 'latin1'));
    link.state = 'send_bulk';
    const aux = standardAux(s.evictor.usedMemory(), { streamDb: 0, replId: this.replId, offset });
    const snap = new RdbSnapshot(s, aux, (chunk) => {
      if (eof) {
        c.queue(chunk);
        this.stats.replOutputBytes += chunk.length;
      } else chunks.push(chunk);
    });
    link.snapshot = snap;
    s.flushClient(c);
    s.log.notice(`Starting BGSAVE for SYNC with target: ${eof ? 'replicas sockets' : 'disk'} (incremental snapshot, offset ${offset})`);
    const pump = (): void => {
      if (link.snapshot !== snap || c.closing) return;
      const done = snap.step(STEP_BYTES, STEP_MS);
      s.flushClient(c);
      if (done) {
        this.rdbDone(link, eof, mark, chunks);
        return;
      }
      if (c.socket.writableLength > RDB_HIGH_WATER) c.socket.once('drain', pump);
      else setImmediate(pump);
    };
    setImmediate(pump);
  }

  private rdbDone(link: ReplicaLink, eof: boolean, mark: string, chunks: Buffer[]): void {
    const s = this.server;
    const c = link.c;
    const snap = link.snapshot!;
    link.snapshot = null;
    if (eof) {
      c.queue(Buffer.from(mark, 'latin1'));
      // Like Redis with an EOF-marked RDB: the stream starts once the replica ACKs (it loaded the RDB).
      link.state = 'online';
      link.waitFirstAck = true;
    } else {
      let total = 0;
      for (const ch of chunks) total += ch.length;
      c.queue(Buffer.from(`$${total}\r\n`, 'latin1'));
      for (const ch of chunks) c.queue(ch);
      this.stats.replOutputBytes += total;
    }
    s.flushClient(c);
    link.rdbEnd = c.socket.bytesWritten;
    s.log.notice(`Synchronization with replica ${link.name} succeeded (${snap.keys} keys, ${snap.bytes} bytes in ${Date.now() - snap.startedAt} ms)`);
    if (!eof) this.goOnline(link);
  }

  private goOnline(link: ReplicaLink): void {
    const c = link.c;
    link.state = 'online';
    link.waitFirstAck = false;
    const held = link.held;
    link.held = null;
    link.heldBytes = 0;
    if (held !== null) {
      for (const b of held) {
        c.queue(b);
        this.stats.replOutputBytes += b.length;
      }
      this.server.flushClient(c);
    }
    this.checkLimits(link);
  }

  /** REPLCONF ACK <offset> from a replica. */
  ack(c: Client, offset: number): void {
    const link = this.links.get(c);
    if (link === undefined) return;
    if (offset > link.ackOffset) link.ackOffset = offset;
    link.ackTime = Date.now();
    if (link.waitFirstAck) this.goOnline(link);
    for (const w of [...this.waiters]) {
      const n = this.ackedReplicas(w.offset);
      if (n >= w.need) w.done(n);
    }
    if (this.onAck !== null) this.onAck({ id: c.id, ip: link.ip, port: link.hs.port, state: link.state, ackOffset: link.ackOffset, lagMs: 0 });
  }

  private dropLink(c: Client): void {
    const link = this.links.get(c);
    if (link === undefined) return;
    this.links.delete(c);
    link.snapshot?.abort();
    link.snapshot = null;
    this.server.log.notice(`Connection with replica ${link.name} lost.`);
  }

  private disconnectReplicas(): void {
    for (const c of [...this.links.keys()]) {
      this.server.closeClient(c, true);
      this.dropLink(c);
    }
  }

  /** Stream bytes queued for a replica and not yet handed to the kernel. */
  private pendingBytes(l: ReplicaLink): number {
    const sock = l.c.socket;
    const queued = sock.bytesWritten + l.c.outBytes;
    const sent = sock.bytesWritten - sock.writableLength;
    return l.heldBytes + Math.max(0, queued - Math.max(sent, l.rdbEnd));
  }

  /** client-output-buffer-limit replica <hard> <soft> <seconds>: disconnect a replica that falls too far behind. */
  private checkLimits(l: ReplicaLink): void {
    if (l.c.closing) return;
    const m = /(?:^|\s)(?:slave|replica)\s+(\S+)\s+(\S+)\s+(\S+)/i.exec(this.server.config.str('client-output-buffer-limit'));
    const hard = m ? (parseMemory(m[1]) ?? 0) : 256 * 1024 * 1024;
    const soft = m ? (parseMemory(m[2]) ?? 0) : 64 * 1024 * 1024;
    const secs = m ? Number(m[3]) : 60;
    const used = this.pendingBytes(l);
    const now = Date.now();
    let over = hard > 0 && used > hard;
    if (!over && soft > 0 && used > soft) {
      if (l.softSince === 0) l.softSince = now;
      else if (now - l.softSince >= secs * 1000) over = true;
    } else if (!over) l.softSince = 0;
    if (over) {
      const s = this.server;
      s.log.warning(`Client id=${l.c.id} addr=${l.c.addr} flags=S closed for overcoming of output buffer limits.`);
      s.stats.clientOutputLimitDisconnections++;
      s.closeClient(l.c, true);
      this.dropLink(l.c);
    }
  }

  // ------------------------------------------------------------------------------------ replica side hooks

  /** Remember where we are in the primary's stream, to resume with PSYNC. */
  cachePrimary(db: number): void {
    this.flushStream();
    this.cachedPrimary = { replId: this.replId, offset: this.masterReplOffset, db };
  }

  /** A full sync is about to replace our data: our replicas must resync from the new history. */
  beforeFullSyncLoad(): void {
    this.flushStream();
    this.disconnectReplicas();
  }

  /** The primary's RDB is loaded: adopt its history. */
  onFullSyncLoaded(replId: string, offset: number): void {
    this.replId = replId;
    this.replId2 = ZERO_ID;
    this.secondReplOffset = -1;
    this.masterReplOffset = offset;
    this.createBacklog();
    this.cachedPrimary = null;
    this.onSynced?.();
  }

  /** +CONTINUE [new replid]: the primary may have a new history (it was promoted). */
  onPartialSync(newId: string): void {
    if (newId !== '' && newId !== this.replId) {
      this.replId2 = this.replId;
      this.secondReplOffset = this.masterReplOffset + 1;
      this.replId = newId;
      this.server.log.notice(`Master replication ID changed to ${newId}`);
      this.disconnectReplicas();
    }
    if (this.backlog === null) this.createBacklog();
    this.cachedPrimary = null;
    this.onSynced?.();
  }

  /** REPLCONF GETACK from our primary. */
  sendAckToPrimary(): void {
    this.primary?.sendAck();
  }

  // ------------------------------------------------------------------------------------ cron

  private cron(): void {
    this.ticks++;
    const s = this.server;
    this.primary?.cron();
    if (this.backlog !== null) {
      const size = s.config.int('repl-backlog-size');
      if (size !== this.backlog.size) this.backlog = this.backlog.resized(size);
    }
    if (this.primary === null && this.links.size > 0 && this.backlog !== null && this.ticks % Math.max(1, s.config.int('repl-ping-replica-period')) === 0) {
      this.append(encodeCommand(['PING']));
    }
    const timeoutMs = s.config.int('repl-timeout') * 1000;
    const now = Date.now();
    for (const l of [...this.links.values()]) {
      if (l.state === 'online' && !l.waitFirstAck && now - l.ackTime > timeoutMs) {
        s.log.warning(`Disconnecting timedout replica (streaming sync): ${l.name}`);
        s.closeClient(l.c, true);
        this.dropLink(l.c);
        continue;
      }
      if (l.state === 'send_bulk') {
        const sent = l.c.socket.bytesWritten - l.c.socket.writableLength;
        if (sent !== l.sentMark) {
          l.sentMark = sent;
          l.sentAt = now;
        } else if (now - l.sentAt > timeoutMs) {
          s.log.warning(`Disconnecting timedout replica (full sync): ${l.name}`);
          s.closeClient(l.c, true);
          this.dropLink(l.c);
          continue;
        }
      }
      this.checkLimits(l);
    }
    this.flushStream();
  }

  // ------------------------------------------------------------------------------------ introspection

  /** DEBUG CHANGE-REPL-ID. */
  changeReplId(): void {
    this.replId = randomId();
    this.replId2 = ZERO_ID;
    this.secondReplOffset = -1;
  }

  /** INFO replication, Redis 7's fields. */
  infoLines(): string[] {
    const s = this.server;
    this.flushStream();
    const out: string[] = [];
    const now = Date.now();
    const p = this.primary;
    if (p === null) out.push('role:master');
    else {
      const up = p.state === 'connected';
      out.push(
        'role:slave',
        `master_host:${p.host}`,
        `master_port:${p.port}`,
        `master_link_status:${up ? 'up' : 'down'}`,
        `master_last_io_seconds_ago:${up ? Math.floor((now - p.lastIo) / 1000) : -1}`,
        `master_sync_in_progress:${p.state === 'sync' ? 1 : 0}`,
        `slave_read_repl_offset:${up ? p.readOffset : (this.cachedPrimary?.offset ?? this.masterReplOffset)}`,
        `slave_repl_offset:${up ? this.masterReplOffset : (this.cachedPrimary?.offset ?? this.masterReplOffset)}`,
      );
      const t = p.transfer;
      if (t !== null) {
        const total = t.size >= 0 ? t.size : -1;
        out.push(
          `master_sync_total_bytes:${total}`,
          `master_sync_read_bytes:${t.read}`,
          `master_sync_left_bytes:${total >= 0 ? total - t.read : -1}`,
          `master_sync_perc:${total > 0 ? ((t.read * 100) / total).toFixed(2) : '0.00'}`,
          `master_sync_last_io_seconds_ago:${Math.floor((now - p.lastIo) / 1000)}`,
        );
      }
      if (!up) out.push(`master_link_down_since_seconds:${p.downSince ? Math.floor((now - p.downSince) / 1000) : -1}`);
      out.push(
        `slave_priority:${s.config.int('replica-priority')}`,
        `slave_read_only:${s.config.bool('replica-read-only') ? 1 : 0}`,
        `replica_announced:${s.config.bool('replica-announced') ? 1 : 0}`,
      );
    }
    out.push(`connected_slaves:${this.links.size}`);
    let i = 0;
    for (const l of this.links.values()) {
      out.push(`slave${i++}:ip=${l.ip},port=${l.hs.port},state=${l.state},offset=${l.ackOffset},lag=${Math.floor((now - l.ackTime) / 1000)}`);
    }
    const b = this.backlog;
    out.push(
      'master_failover_state:no-failover',
      `master_replid:${this.replId}`,
      `master_replid2:${this.replId2}`,
      `master_repl_offset:${this.masterReplOffset}`,
      `second_repl_offset:${this.secondReplOffset}`,
      `repl_backlog_active:${b !== null ? 1 : 0}`,
      `repl_backlog_size:${b !== null ? b.size : s.config.int('repl-backlog-size')}`,
      `repl_backlog_first_byte_offset:${b !== null ? b.firstByteOffset : 0}`,
      `repl_backlog_histlen:${b !== null ? b.histlen : 0}`,
    );
    return out;
  }

  /** ROLE. */
  writeRole(w: Client['w']): void {
    const p = this.primary;
    if (p === null) {
      w.array(3);
      w.bulk('master');
      w.int(this.masterReplOffset);
      const online = [...this.links.values()].filter((l) => l.state === 'online');
      w.array(online.length);
      for (const l of online) {
        w.array(3);
        w.bulk(l.ip);
        w.bulk(String(l.hs.port));
        w.bulk(String(l.ackOffset));
      }
      return;
    }
    w.array(5);
    w.bulk('slave');
    w.bulk(p.host);
    w.int(p.port);
    w.bulk(p.state);
    w.int(p.state === 'connected' ? this.masterReplOffset : -1);
  }
}
