/**
 * Pub/sub state and delivery: channels, patterns, shard channels, and keyspace notifications
 * (notify-keyspace-events). Messages are encoded once per protocol version and queued per subscriber.
 */
import { globMatch } from '../../../common/src/glob';
import { RespWriter } from '../../../common/src/resp/writer';
import type { Client } from './client';
import type { Server } from './server';

/** Keyspace notification class letters, as in Redis. */
const CLASS_ALL = 'g$lshzxetd';

export type SubKind = 'channel' | 'pattern' | 'shard';

export class PubSub {
  readonly channels = new Map<string, Set<Client>>();
  readonly patterns = new Map<string, Set<Client>>();
  readonly shardChannels = new Map<string, Set<Client>>();
  /** Enabled notification classes, and whether keyspace (K) / keyevent (E) channels are on. */
  private classes = '';
  private keyspace = false;
  private keyevent = false;
  /** Called for every PUBLISH (cluster mode forwards it to other nodes). */
  onPublish: ((channel: string, message: string) => void) | null = null;
  private readonly enc2 = new RespWriter(1024);
  private readonly enc3 = new RespWriter(1024);

  constructor(private readonly server: Server) {
    this.enc2.proto = 2;
    this.enc3.proto = 3;
    this.configure();
  }

  configure(): void {
    const flags = this.server.config.str('notify-keyspace-events');
    this.keyspace = flags.includes('K');
    this.keyevent = flags.includes('E');
    let cls = flags.replace(/[KE]/g, '');
    if (cls.includes('A')) cls = cls.replace('A', '') + CLASS_ALL;
    this.classes = cls;
  }

  private map(kind: SubKind): Map<string, Set<Client>> {
    return kind === 'channel' ? this.channels : kind === 'pattern' ? this.patterns : this.shardChannels;
  }

  private clientSet(c: Client, kind: SubKind): Set<string> {
    return kind === 'channel' ? c.channels : kind === 'pattern' ? c.patterns : c.shardChannels;
  }

  /** Subscribe; returns false if the client was already subscribed. */
  subscribe(c: Client, kind: SubKind, name: string): boolean {
    const mine = this.clientSet(c, kind);
    if (mine.has(name)) return false;
    mine.add(name);
    const m = this.map(kind);
    let s = m.get(name);
    if (!s) m.set(name, (s = new Set()));
    s.add(c);
    return true;
  }

  unsubscribe(c: Client, kind: SubKind, name: string): boolean {
    const mine = this.clientSet(c, kind);
    if (!mine.delete(name)) return false;
    const m = this.map(kind);
    const s = m.get(name);
    if (s) {
      s.delete(c);
      if (s.size === 0) m.delete(name);
    }
    return true;
  }

  removeClient(c: Client): void {
    for (const ch of [...c.channels]) this.unsubscribe(c, 'channel', ch);
    for (const p of [...c.patterns]) this.unsubscribe(c, 'pattern', p);
    for (const ch of [...c.shardChannels]) this.unsubscribe(c, 'shard', ch);
  }

  /** Deliver to local subscribers of a channel and matching patterns; returns receivers. */
  publishLocal(channel: string, message: string): number {
    let n = 0;
    const subs = this.channels.get(channel);
    if (subs) {
      const [b2, b3] = this.encode(['message', channel, message]);
      for (const c of subs) this.deliver(c, b2, b3, (w) => pushArray(w, ['message', channel, message]));
      n += subs.size;
    }
    if (this.patterns.size > 0) {
      for (const [pat, clients] of this.patterns) {
        if (!globMatch(pat, channel)) continue;
        const [b2, b3] = this.encode(['pmessage', pat, channel, message]);
        for (const c of clients) this.deliver(c, b2, b3, (w) => pushArray(w, ['pmessage', pat, channel, message]));
        n += clients.size;
      }
    }
    this.server.stats.pubsubMessages++;
    return n;
  }

  /** PUBLISH: local delivery plus cluster-wide forwarding when in cluster mode. */
  publish(channel: string, message: string): number {
    const n = this.publishLocal(channel, message);
    this.onPublish?.(channel, message);
    return n;
  }

  publishShard(channel: string, message: string): number {
    const subs = this.shardChannels.get(channel);
    if (!subs) return 0;
    const [b2, b3] = this.encode(['smessage', channel, message]);
    for (const c of subs) this.deliver(c, b2, b3, (w) => pushArray(w, ['smessage', channel, message]));
    return subs.size;
  }

  /** Push an arbitrary message (e.g. sunsubscribe on slot loss) to one client. */
  push(c: Client, items: (string | number)[]): void {
    this.server.sendTo(c, (w) => {
      w.push(items.length);
      for (const it of items) {
        if (typeof it === 'number') w.int(it);
        else w.bulk(it);
      }
    });
  }

  private encode(items: string[]): [Buffer, Buffer] {
    pushArray(this.enc2, items);
    pushArray(this.enc3, items);
    return [this.enc2.take(), this.enc3.take()];
  }

  private deliver(c: Client, b2: Buffer, b3: Buffer, inline: (w: RespWriter) => void): void {
    if (c === this.server.current) inline(this.server.writer);
    else c.queue(c.resp === 3 ? b3 : b2);
  }

  /** Keyspace notification: `cls` is the class letter (g $ l s h z x e t m n), `event` the event name. */
  notify(cls: string, event: string, key: string, dbid: number): void {
    if (this.classes === '' || !this.classes.includes(cls)) return;
    // Node-local, as in Redis Cluster: each node reports events of its own keys, never over the bus.
    if (this.keyspace) this.publishLocal(`__keyspace@${dbid}__:${key}`, event);
    if (this.keyevent) this.publishLocal(`__keyevent@${dbid}__:${event}`, key);
  }

  /** True if any notification class is enabled (lets hot paths skip building event names). */
  get notifying(): boolean {
    return this.classes !== '';
  }
}

function pushArray(w: RespWriter, items: string[]): void {
  w.push(items.length);
  for (const it of items) w.bulk(it);
}
