/**
 * Counters behind INFO stats/commandstats/errorstats, SLOWLOG and LATENCY.
 */
import type { Client } from './client';
import type { Server } from './server';

export interface CommandStat {
  calls: number;
  usec: number;
  rejected: number;
  failed: number;
}

export interface SlowlogEntry {
  id: number;
  time: number;
  usec: number;
  argv: string[];
  addr: string;
  name: string;
}

export interface LatencySample {
  time: number;
  ms: number;
}

export class Stats {
  totalConnections = 0;
  rejectedConnections = 0;
  netInput = 0;
  netOutput = 0;
  expiredKeys = 0;
  expiredStalePerc = 0;
  evictedKeys = 0;
  keyspaceHits = 0;
  keyspaceMisses = 0;
  blockedClients = 0;
  blockedTimeouts = 0;
  totalErrorReplies = 0;
  clientOutputLimitDisconnections = 0;
  pubsubMessages = 0;
  readonly commands = new Map<string, CommandStat>();
  /** Bumped by resetStats: entries cached elsewhere (Handled.stat) from an older epoch are stale. */
  epoch = 0;
  readonly errors = new Map<string, number>();
  slowlogEntries: SlowlogEntry[] = [];
  private slowlogId = 0;
  /** LATENCY: per event, the latest samples and the all-time max. */
  readonly latency = new Map<string, { samples: LatencySample[]; max: number }>();
  /** Ops/sec estimate (instantaneous_ops_per_sec) from samples taken by cron. */
  private opsSamples: number[] = [];
  private lastOpsTime = Date.now();
  private lastOpsCount = 0;
  instantaneousOps = 0;
  private lastIn = 0;
  private lastOut = 0;
  instantaneousInKbps = 0;
  instantaneousOutKbps = 0;

  command(name: string): CommandStat {
    let s = this.commands.get(name);
    if (s === undefined) this.commands.set(name, (s = { calls: 0, usec: 0, rejected: 0, failed: 0 }));
    return s;
  }

  errorReply(code: string): void {
    this.totalErrorReplies++;
    // Bound the number of distinct error codes tracked, as Redis does (128).
    if (!this.errors.has(code) && this.errors.size >= 128) return;
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  totalCommands(): number {
    let n = 0;
    for (const s of this.commands.values()) n += s.calls;
    return n;
  }

  slowlog(c: Client, argv: string[], usec: number, maxLen: number): void {
    if (maxLen <= 0) return;
    const args = argv.length > 32 ? [...argv.slice(0, 31), `... (${argv.length - 31} more arguments)`] : argv;
    const trimmed = args.map((a) => (a.length > 128 ? `${a.slice(0, 128)}... (${a.length - 128} more bytes)` : a));
    this.slowlogEntries.unshift({ id: this.slowlogId++, time: Math.floor(Date.now() / 1000), usec: Math.round(usec), argv: trimmed, addr: c.addr, name: c.name });
    if (this.slowlogEntries.length > maxLen) this.slowlogEntries.length = maxLen;
  }

  latencySample(event: string, ms: number, threshold: number): void {
    if (threshold <= 0 || ms < threshold) return;
    let e = this.latency.get(event);
    if (!e) this.latency.set(event, (e = { samples: [], max: 0 }));
    const time = Math.floor(Date.now() / 1000);
    const last = e.samples[e.samples.length - 1];
    if (last && last.time === time) last.ms = Math.max(last.ms, ms);
    else e.samples.push({ time, ms });
    if (e.samples.length > 160) e.samples.shift();
    e.max = Math.max(e.max, ms);
  }

  resetStats(): void {
    this.commands.clear();
    this.epoch++;
    this.errors.clear();
    this.totalConnections = this.rejectedConnections = this.netInput = this.netOutput = 0;
    this.expiredKeys = this.evictedKeys = this.keyspaceHits = this.keyspaceMisses = 0;
    this.totalErrorReplies = this.blockedTimeouts = this.pubsubMessages = 0;
    this.clientOutputLimitDisconnections = 0;
    this.lastOpsCount = 0;
  }

  /** Called from cron: instantaneous metrics over a ~1.6 s window like Redis. */
  sample(server: Server): void {
    const now = Date.now();
    if (now - this.lastOpsTime < 100) return;
    const ops = this.totalCommands();
    const dt = (now - this.lastOpsTime) / 1000;
    this.opsSamples.push((ops - this.lastOpsCount) / dt);
    if (this.opsSamples.length > 16) this.opsSamples.shift();
    this.instantaneousOps = Math.round(this.opsSamples.reduce((a, b) => a + b, 0) / this.opsSamples.length);
    this.instantaneousInKbps = (this.netInput - this.lastIn) / dt / 1024;
    this.instantaneousOutKbps = (this.netOutput - this.lastOut) / dt / 1024;
    this.lastIn = this.netInput;
    this.lastOut = this.netOutput;
    this.lastOpsCount = ops;
    this.lastOpsTime = now;
    void server;
  }
}
