/** Types for /client.js, the gateway's browser WebSocket client. */

export type Arg = string | number | boolean | bigint;
/** A reply as JSON: strings, integers, null, arrays, objects (RESP3 maps). */
export type Result = unknown;

export interface ConnectOptions {
  /** Sent as ?_token= (browsers cannot set headers on a WebSocket). */
  token?: string;
  /** Start in this database (/db/<n>/ws). A successful SELECT changes the db used on reconnect. */
  db?: number;
  /** WebSocket subprotocols to request, e.g. 'redis-json'. Default: none. */
  protocols?: string | string[];
  /** Reconnect after a non-fatal close (default true). */
  reconnect?: boolean;
  /** Backoff: a delay in [d/2, d] with d = min(maxDelayMs, minDelayMs * 2^attempt). Defaults 250 / 10000. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Give up (fatal) after this many reconnect attempts in a row (default Infinity). */
  maxRetries?: number;
  /** A connection open this long resets the backoff (default 5000). */
  stableMs?: number;
  /** Commands held while disconnected (default 1000); beyond, call() rejects with QUEUE_FULL. */
  maxQueue?: number;
  /** Per-command reply timeout, 0 = none (default). */
  timeoutMs?: number;
  /** Send PING after this long without a frame (default 25000, 0 = off)... */
  pingIntervalMs?: number;
  /** ...and reconnect if nothing arrives within this (default 10000). */
  pingTimeoutMs?: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
  willReconnect: boolean;
  /** The wait before the next attempt when willReconnect. */
  delayMs: number;
  /** 4001 unauthorized, 4003 origin or database not allowed, 1008 invalid database, or retries exhausted. */
  fatal: boolean;
}

export type PushMessage =
  | { type: 'message' | 'smessage'; channel: string; data: string }
  | { type: 'pmessage'; pattern: string; channel: string; data: string }
  | { type: 'subscribe' | 'unsubscribe' | 'ssubscribe' | 'sunsubscribe'; channel: string; count: number }
  | { type: 'psubscribe' | 'punsubscribe'; pattern: string; count: number };

/** Calling it removes the handler (and unsubscribes when it was the last one for the name). */
export interface Unsubscribe {
  (): Promise<void>;
  /** Resolves when the server confirmed the subscription; rejects if it refused it. */
  readonly ready: Promise<void>;
}

export interface ClientEvents {
  open: () => void;
  reconnect: (info: { attempt: number; reconnects: number }) => void;
  close: (info: CloseInfo) => void;
  error: (err: Error) => void;
  message: (msg: PushMessage) => void;
}

export declare const FATAL_CLOSE_CODES: Readonly<Record<number, string>>;

export declare class ReplyError extends Error {
  name: 'ReplyError';
  /** First word of the message: ERR, WRONGTYPE, NOPERM, ... */
  code: string;
  command: string[];
}

export declare class ConnectionError extends Error {
  name: 'ConnectionError';
  code: 'CONNECTION_LOST' | 'CLOSED' | 'FATAL' | 'QUEUE_FULL' | 'TIMEOUT';
  /** True when the command reached the socket: it may or may not have run. */
  sent: boolean;
  closeCode?: number;
  command?: string[];
}

export declare class GatewayClient {
  readonly state: 'connecting' | 'open' | 'reconnecting' | 'closed';
  readonly db: number;
  readonly reconnects: number;
  call(...args: Arg[]): Promise<Result>;
  call(args: Arg[]): Promise<Result>;
  subscribe(channel: string, handler: (data: string, channel: string) => void): Unsubscribe;
  psubscribe(pattern: string, handler: (data: string, channel: string, pattern: string) => void): Unsubscribe;
  ssubscribe(channel: string, handler: (data: string, channel: string) => void): Unsubscribe;
  subscriptions(): { channels: string[]; patterns: string[]; shardChannels: string[] };
  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
  once<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
  off<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): void;
  close(): void;
}

/** `url`: ws(s)://, http(s):// or a path relative to the page; `/ws` is appended when missing. Default '/ws'. */
export declare function connect(url?: string | URL, options?: ConnectOptions): GatewayClient;
