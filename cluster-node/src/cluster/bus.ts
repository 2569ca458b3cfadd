/**
 * The cluster bus: node-to-node TCP links on the bus port carrying newline-delimited JSON messages
 * (Raft messages, requests with replies, pub/sub forwarding).
 *
 * Each node keeps one outbound link per known peer (reconnecting with backoff) and sends on it; it
 * answers requests on the link they arrived on. A link sends `hello` first so the receiver knows who
 * is talking. Messages to a peer without a live link are dropped: Raft retries on its own, requests
 * fail fast and their callers retry. Every line is bounded (BUS_MAX_LINE) so a peer cannot exhaust
 * memory; a link that breaks the framing is closed.
 */
import net from 'node:net';
import { systemClock, type Clock } from './clock';

export const BUS_MAX_LINE = 64 * 1024 * 1024;

export interface Addr {
  host: string;
  port: number;
}

/** A message on the bus. Requests carry `id`; the reply has `t: 'res'` and the same id. */
export type BusMessage =
  | { t: 'hello'; from: string }
  | { t: 'raft'; m: unknown }
  | { t: 'req'; id: number; from: string; body: Record<string, unknown> }
  | { t: 'res'; id: number; ok: boolean; error?: string; value?: unknown }
  | { t: 'pub'; ch: string; msg: string };

export interface BusHandlers {
  /** A one-way message from a peer (raft, pub). */
  onMessage(from: string, msg: BusMessage): void;
  /** A request; resolve with the reply value or reject with an Error whose message is the error text. */
  onRequest(from: string, body: Record<string, unknown>): Promise<unknown>;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One TCP link with JSON-lines framing and request/reply correlation. */
class Link {
  remoteId: string | null = null;
  connected = false;
  readonly createdAt = Date.now();
  sent = 0;
  received = 0;
  private buf = '';
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    readonly socket: net.Socket,
    readonly direction: 'to' | 'from',
    private readonly bus: ClusterBus,
  ) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  write(msg: BusMessage): boolean {
    if (this.socket.destroyed || !this.connected) return false;
    if (this.bus.dropAll) return true;
    this.sent++;
    this.bus.stats.sent++;
    this.socket.write(JSON.stringify(msg) + '\n');
    return true;
  }

  request(from: string, body: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error('timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      if (!this.write({ t: 'req', id, from, body })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error('link down'));
      }
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: BusMessage;
      try {
        msg = JSON.parse(line) as BusMessage;
      } catch {
        this.bus.log(`bus: malformed message from ${this.remoteId ?? 'unknown peer'}, closing link`);
        this.close();
        return;
      }
      if (this.bus.dropAll) continue;
      this.received++;
      this.bus.stats.received++;
      this.handle(msg);
      if (this.socket.destroyed) return;
    }
    if (this.buf.length > BUS_MAX_LINE) {
      this.bus.log(`bus: message over ${BUS_MAX_LINE} bytes from ${this.remoteId ?? 'unknown peer'}, closing link`);
      this.close();
    }
  }

  private handle(msg: BusMessage): void {
    switch (msg.t) {
      case 'hello':
        if (typeof msg.from === 'string') {
          this.remoteId = msg.from;
          this.bus.heard(msg.from);
        }
        return;
      case 'res': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(new Error(msg.error ?? 'ERR request failed'));
        return;
      }
      case 'req': {
        const id = msg.id;
        this.bus.heard(msg.from);
        this.bus.handlers.onRequest(msg.from, msg.body).then(
          (value) => this.write({ t: 'res', id, ok: true, value }),
          (e: unknown) => this.write({ t: 'res', id, ok: false, error: (e as Error)?.message ?? String(e) }),
        );
        return;
      }
      default:
        if (this.remoteId !== null) {
          this.bus.heard(this.remoteId);
          this.bus.handlers.onMessage(this.remoteId, msg);
        }
    }
  }

  private onClose(): void {
    this.connected = false;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('link closed'));
    }
    this.pending.clear();
    this.bus.linkClosed(this);
  }
}

interface Peer {
  id: string;
  addr: Addr;
  link: Link | null;
  retryAt: number;
  backoff: number;
}

export class ClusterBus {
  private server: net.Server | null = null;
  private readonly peers = new Map<string, Peer>();
  private readonly inbound = new Set<Link>();
  /** When anything last arrived from a node id: wall clock (shown to users) and monotonic (decisions). */
  private readonly lastHeard = new Map<string, number>();
  private readonly lastHeardMono = new Map<string, number>();
  readonly stats = { sent: 0, received: 0 };
  private closed = false;
  private dropping = false;

  constructor(
    private readonly myId: () => string,
    readonly handlers: BusHandlers,
    readonly log: (line: string) => void,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Fault injection (DEBUG CLUSTER-BUS-DROP): a partition of this node's bus. Turning it on closes every
   * link, and no link is made while it lasts (connections in are closed at once), as when the network
   * drops every packet until the connections break. Dropping messages inside links that stay up would
   * be a loss TCP never causes, and a link whose `hello` was dropped stayed unidentified after the heal,
   * its messages ignored for good (a follower that never caught up again, found by the chaos test).
   */
  get dropAll(): boolean {
    return this.dropping;
  }

  set dropAll(on: boolean) {
    this.dropping = on;
    if (!on) return;
    for (const p of this.peers.values()) p.link?.close();
    for (const l of [...this.inbound]) l.close();
  }

  async listen(host: string, port: number): Promise<void> {
    const srv = net.createServer((s) => {
      if (this.dropping) {
        s.destroy();
        return;
      }
      const link = new Link(s, 'from', this);
      link.connected = true;
      this.inbound.add(link);
      link.write({ t: 'hello', from: this.myId() });
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host, port }, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    this.server = srv;
  }

  boundPort(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    for (const p of this.peers.values()) p.link?.close();
    for (const l of this.inbound) l.close();
  }

  /** Make the outbound links match the node table (id -> bus address), excluding ourselves. */
  setPeers(peers: Map<string, Addr>): void {
    for (const [id, p] of this.peers) {
      const want = peers.get(id);
      if (!want || want.host !== p.addr.host || want.port !== p.addr.port) {
        p.link?.close();
        this.peers.delete(id);
      }
    }
    for (const [id, addr] of peers) {
      if (id === this.myId() || this.peers.has(id)) continue;
      this.peers.set(id, { id, addr, link: null, retryAt: 0, backoff: 100 });
    }
    this.reconnect();
  }

  /** Open links that are down and due for a retry (called from the cluster's tick). */
  reconnect(): void {
    if (this.closed || this.dropping) return;
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.link !== null || now < p.retryAt) continue;
      const sock = net.connect({ host: p.addr.host, port: p.addr.port });
      const link = new Link(sock, 'to', this);
      link.remoteId = p.id;
      p.link = link;
      sock.once('connect', () => {
        link.connected = true;
        p.backoff = 100;
        link.write({ t: 'hello', from: this.myId() });
      });
    }
  }

  send(to: string, msg: BusMessage): boolean {
    const link = this.linkTo(to);
    return link !== null && link.write(msg);
  }

  broadcast(msg: BusMessage): void {
    for (const p of this.peers.values()) if (p.link?.connected) p.link.write(msg);
  }

  /** Request to a known peer over its link. */
  request(to: string, body: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const link = this.linkTo(to);
    if (link === null) return Promise.reject(new Error('link down'));
    return link.request(this.myId(), body, timeoutMs);
  }

  /** Request to an address that may not be a peer yet (MEET): a short-lived link. */
  requestAddr(addr: Addr, body: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (this.dropping) return Promise.reject(new Error('link down'));
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: addr.host, port: addr.port });
      const link = new Link(sock, 'to', this);
      const timer = setTimeout(() => {
        link.close();
        reject(new Error('timeout'));
      }, timeoutMs);
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.once('connect', () => {
        link.connected = true;
        link.write({ t: 'hello', from: this.myId() });
        link.request(this.myId(), body, timeoutMs).then(
          (v) => {
            clearTimeout(timer);
            link.close();
            resolve(v);
          },
          (e: unknown) => {
            clearTimeout(timer);
            link.close();
            reject(e as Error);
          },
        );
      });
    });
  }

  heard(id: string): void {
    this.lastHeard.set(id, this.clock.wallMs());
    this.lastHeardMono.set(id, this.clock.monoMs());
  }

  /** Wall-clock time (ms) anything last arrived from `id`, 0 if never: for display (CLUSTER NODES). */
  lastHeardFrom(id: string): number {
    return this.lastHeard.get(id) ?? 0;
  }

  /** When anything last arrived from `id` on the monotonic clock (clock.ts), -Infinity if never: for decisions. */
  lastHeardMs(id: string): number {
    return this.lastHeardMono.get(id) ?? Number.NEGATIVE_INFINITY;
  }

  linkState(id: string): 'connected' | 'disconnected' {
    return this.peers.get(id)?.link?.connected ? 'connected' : 'disconnected';
  }

  /** Links for CLUSTER LINKS. */
  links(): { direction: 'to' | 'from'; node: string; createdAt: number; events: string }[] {
    const out: { direction: 'to' | 'from'; node: string; createdAt: number; events: string }[] = [];
    for (const p of this.peers.values()) {
      if (p.link?.connected) out.push({ direction: 'to', node: p.id, createdAt: p.link.createdAt, events: 'rw' });
    }
    for (const l of this.inbound) {
      if (l.remoteId !== null) out.push({ direction: 'from', node: l.remoteId, createdAt: l.createdAt, events: 'r' });
    }
    return out;
  }

  linkClosed(link: Link): void {
    if (link.direction === 'from') {
      this.inbound.delete(link);
      return;
    }
    for (const p of this.peers.values()) {
      if (p.link === link) {
        p.link = null;
        p.retryAt = Date.now() + p.backoff;
        p.backoff = Math.min(1000, p.backoff * 2);
      }
    }
  }

  /** Outbound link to a peer, or an inbound one from it when ours is down. */
  private linkTo(id: string): Link | null {
    const p = this.peers.get(id);
    if (p?.link?.connected) return p.link;
    for (const l of this.inbound) if (l.remoteId === id && l.connected) return l;
    return null;
  }
}
