/**
 * One client connection: its parser, selected db, protocol, auth, transaction, subscriptions,
 * blocking state and queued output. Replies are written by handlers into `w` (set by dispatch).
 */
import type { Socket } from 'node:net';
import { RequestParser } from '../../../common/src/resp/request-parser';
import type { RespWriter, Proto } from '../../../common/src/resp/writer';
import type { Db } from '../keyspace/db';
import type { Server } from './server';
import type { CommandSpec } from '../../../common/src/commands/types';

export interface QueuedCommand {
  spec: CommandSpec;
  argv: string[];
}

export interface WatchedKey {
  db: Db;
  key: string;
  /** The key was already logically expired when WATCHed (its later reclamation is not a change). */
  expiredAtWatch: boolean;
}

/** A client waiting in BLPOP & co. */
export interface BlockState {
  db: Db;
  keys: string[];
  /** Absolute ms deadline, 0 = forever. */
  deadline: number;
  timer: NodeJS.Timeout | null;
  spec: CommandSpec;
  argv: string[];
  /** What to reply on timeout (null array by default). */
  onTimeout: (c: Client) => void;
  /** Waiting for an asynchronous reply (Server.deferReply), not on keys: CLIENT UNBLOCK leaves it alone. */
  deferred?: true;
}

export type ReplyMode = 'on' | 'off' | 'skip';

/** The empty output queue every client starts with and returns to after a flush (never pushed to). */
export const NO_OUTPUT: (Buffer | string)[] = Object.freeze([]) as unknown as (Buffer | string)[];

export class Client {
  readonly parser: RequestParser;
  name = '';
  libName = '';
  libVer = '';
  dbIndex = 0;
  db: Db;
  resp: Proto = 2;
  authenticated: boolean;
  user = 'default';
  /** Reply writer of the command being executed (set by dispatch). */
  w!: RespWriter;
  /** The command being executed (set by dispatch; used to re-run a blocked command). */
  cmdSpec: CommandSpec | null = null;
  cmdArgv: string[] | null = null;

  // Transaction state.
  multi: QueuedCommand[] | null = null;
  /** A queued command failed its checks: EXEC must answer EXECABORT. */
  multiError = false;
  dirtyCas = false;
  watching: WatchedKey[] = [];
  inExec = false;

  // Pub/sub state.
  readonly channels = new Set<string>();
  readonly patterns = new Set<string>();
  readonly shardChannels = new Set<string>();

  blocked: BlockState | null = null;
  monitor = false;
  replyMode: ReplyMode = 'on';
  noEvict = false;
  noTouch = false;
  /** Cluster: READONLY was sent (replica reads) / ASKING for the next command. */
  readonlyMode = false;
  asking = false;
  /** This connection is the replication link from our primary (its writes are always accepted). */
  isPrimaryLink = false;
  /** This connection is a replica streaming from us. */
  isReplicaLink = false;

  readonly createdAt = Date.now();
  lastInteraction = Date.now();
  lastCommand = 'NULL';
  /** Output waiting to be written (Buffers, or latin1 strings from the reply writer), and its size in bytes. */
  out: (Buffer | string)[] = NO_OUTPUT;
  /** In the server's pendingWrites list. */
  pendingWrite = false;
  outBytes = 0;
  /** Reading paused because the socket's write side is backed up. */
  readPaused = false;
  closing = false;
  /** A command parsed but held back by CLIENT PAUSE. */
  heldArgv: string[] | null = null;
  closeAfterReply = false;
  /** Total bytes read/written, for CLIENT LIST / INFO. */
  netIn = 0;
  netOut = 0;
  /** Command count, for CLIENT INFO tot-cmds. */
  commands = 0;
  /** Pub/sub: time the output queue first crossed the soft limit (0 = not over). */
  softLimitSince = 0;

  constructor(
    readonly id: number,
    readonly server: Server,
    readonly socket: Socket,
  ) {
    this.db = server.dbs[0];
    this.authenticated = server.config.str('requirepass') === '';
    this.parser = new RequestParser({
      maxBulkLen: server.config.int('proto-max-bulk-len'),
      maxQueryBuffer: server.config.int('client-query-buffer-limit'),
      authenticated: this.authenticated,
    });
  }

  get addr(): string {
    const a = this.socket.remoteAddress ?? '?';
    return `${a.includes(':') ? `[${a}]` : a}:${this.socket.remotePort ?? 0}`.replace(/^\[(.*)\]/, '$1');
  }

  get laddr(): string {
    const a = this.socket.localAddress ?? '?';
    return `${a}:${this.socket.localPort ?? 0}`;
  }

  /** Number of (P|S)SUBSCRIBE subscriptions. */
  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size + this.shardChannels.size;
  }

  /** RESP2 subscribed mode restricts the commands a client may send. */
  get inSubscribedMode(): boolean {
    return this.resp === 2 && this.subscriptionCount > 0;
  }

  select(index: number): void {
    this.dbIndex = index;
    this.db = this.server.dbs[index];
  }

  setAuthenticated(v: boolean): void {
    this.authenticated = v;
    this.parser.limits.authenticated = v;
  }

  /** Queue bytes (a latin1 string is its bytes) for this client; they are written when the server flushes pending output. */
  queue(b: Buffer | string): void {
    if (this.closing || b.length === 0) return;
    if (this.out.length === 0) this.out = [b];
    else this.out.push(b);
    this.outBytes += b.length;
    if (!this.pendingWrite) {
      this.pendingWrite = true;
      this.server.pendingWrites.push(this);
    }
  }

  /** Drop transaction and watch state (EXEC, DISCARD, RESET, disconnect). */
  unwatchAll(): void {
    for (const w of this.watching) w.db.unwatch(w.key, this);
    this.watching = [];
    this.dirtyCas = false;
  }
}
