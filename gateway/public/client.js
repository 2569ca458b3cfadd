/**
 * A small browser client for the gateway's WebSocket endpoint (JSON frames), as an ES module:
 *
 *   import { connect } from '/client.js';
 *   const db = connect('/ws', { token });
 *   await db.call('SET', 'k', 'v');
 *   const off = db.subscribe('news', (data, channel) => console.log(channel, data));
 *   await off.ready;   // the subscription is active
 *   off();             // unsubscribe
 *
 * Protocol: {"id", "cmd": [...]} -> {"id", "result"} | {"id", "error"}; pushes {"type": "message" |
 * "pmessage" | "smessage" | "(p|s)(un)subscribe", ...}. Types: client.d.ts next to this file.
 *
 * Connection loss: the client reconnects with capped exponential backoff and jitter, except after
 * close codes 4001 (unauthorized), 4003 (origin or database not allowed) and 1008 (invalid database),
 * which are fatal. After a reconnect it
 * subscribes again to every channel, pattern and shard channel that still has a handler, then sends the
 * commands queued while it was away. A command already sent when the connection dropped is rejected
 * (err.code 'CONNECTION_LOST', err.sent true): it may or may not have run, so it is not retried blindly.
 * Commands issued while disconnected wait (up to `maxQueue`) and are sent after the reconnect.
 */

/**
 * Close codes after which reconnecting cannot help: 4001 (token), 4003 (Origin, or a database the token
 * may not use), 1008 (a database number the gateway does not have).
 */
export const FATAL_CLOSE_CODES = Object.freeze({ 1008: 'invalid database', 4001: 'unauthorized (check the token)', 4003: 'forbidden (origin or database not allowed)' });

const KNOWN_CLOSE_CODES = {
  1000: 'closed',
  1001: 'server shutting down',
  1006: 'connection lost',
  1002: 'protocol error',
  1009: 'frame too big',
  4000: 'heartbeat timeout',
  4008: 'slow consumer',
};

const DEFAULTS = {
  token: undefined,
  db: undefined,
  protocols: undefined,
  reconnect: true,
  minDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetries: Infinity,
  /** A connection open at least this long resets the backoff. */
  stableMs: 5_000,
  maxQueue: 1000,
  timeoutMs: 0,
  /** Send PING after this long without any frame from the server; 0 = never. */
  pingIntervalMs: 25_000,
  /** ...and drop the connection (then reconnect) if nothing arrives within this. */
  pingTimeoutMs: 10_000,
};

/** An error reply from the server (`{"error": ...}`); `code` is its first word (WRONGTYPE, NOPERM, ...). */
export class ReplyError extends Error {
  constructor(message, command) {
    super(message);
    this.name = 'ReplyError';
    this.code = /^[A-Z][A-Z_-]*(?= |$)/.exec(message)?.[0] ?? 'ERR';
    this.command = command;
  }
}

/**
 * A failure of the connection rather than of the command. `code`: CONNECTION_LOST (sent, no reply:
 * may or may not have run), CLOSED (client.close()), FATAL (4001/4003 or retries exhausted: never sent),
 * QUEUE_FULL, TIMEOUT.
 */
export class ConnectionError extends Error {
  constructor(message, code, { sent = false, closeCode, command } = {}) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
    this.sent = sent;
    this.closeCode = closeCode;
    this.command = command;
  }
}

function describeClose(code, reason) {
  const known = FATAL_CLOSE_CODES[code] ?? KNOWN_CLOSE_CODES[code];
  if (!known) return reason ? `${code} ${reason}` : String(code);
  return reason && reason !== known ? `${code} ${known}: ${reason}` : `${code} ${known}`;
}

/** The WebSocket URL: ws(s)://, http(s):// or relative to the page; a path not ending in /ws gets it. */
function resolveUrl(url) {
  const base = globalThis.location?.href;
  const u = url instanceof URL ? new URL(url.href) : new URL(url ?? '/ws', base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`connect: not a WebSocket URL: ${u.href}`);
  if (!/\/ws$/.test(u.pathname)) u.pathname = u.pathname.replace(/\/?$/, '/ws');
  return u;
}

function toArg(a, i) {
  if (typeof a === 'string') return a;
  if (typeof a === 'number' || typeof a === 'boolean' || typeof a === 'bigint') return String(a);
  throw new TypeError(`argument ${i} must be a string or number, not ${a === null ? 'null' : typeof a}`);
}

const SUB_KINDS = {
  subscribe: { sub: 'SUBSCRIBE', unsub: 'UNSUBSCRIBE', message: 'message', unsubPush: 'unsubscribe', key: 'channel' },
  psubscribe: { sub: 'PSUBSCRIBE', unsub: 'PUNSUBSCRIBE', message: 'pmessage', unsubPush: 'punsubscribe', key: 'pattern' },
  ssubscribe: { sub: 'SSUBSCRIBE', unsub: 'SUNSUBSCRIBE', message: 'smessage', unsubPush: 'sunsubscribe', key: 'channel' },
};

/** Open a client. It connects at once and keeps reconnecting until close() or a fatal close code. */
export function connect(url, options = {}) {
  return new GatewayClient(url, options);
}

export class GatewayClient {
  constructor(url, options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this._url = resolveUrl(url);
    const m = /\/db\/(\d+)\/ws$/.exec(this._url.pathname);
    /** The database the next (re)connect starts in; follows a successful SELECT. */
    this.db = this.options.db ?? (m ? Number(m[1]) : 0);
    /** 'connecting' | 'open' | 'reconnecting' | 'closed' */
    this.state = 'connecting';
    /** Reconnects so far (successful ones). */
    this.reconnects = 0;
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map(); // id -> entry, sent and awaiting a reply (in send order)
    this._queue = []; // entries not sent yet
    this._subs = { subscribe: new Map(), psubscribe: new Map(), ssubscribe: new Map() }; // name -> { handlers, ready }
    this._listeners = new Map();
    this._attempt = 0;
    this._openedAt = 0;
    this._everOpened = false;
    this._retryTimer = null;
    this._pingTimer = null;
    this._lastRx = 0;
    this._resubTimers = new Map();
    this._open();
  }

  // ---- events ------------------------------------------------------------------------------------

  /**
   * 'open' (every time a connection opens), 'reconnect' ({attempt} after a re-open, subscriptions
   * already re-sent), 'close' ({code, reason, willReconnect, delayMs, fatal}), 'error' (Error),
   * 'message' (every pub/sub push, as received). Returns a function removing the listener.
   */
  on(event, fn) {
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    this._listeners.get(event)?.delete(fn);
  }

  once(event, fn) {
    const off = this.on(event, (...a) => {
      off();
      fn(...a);
    });
    return off;
  }

  _emit(event, ...args) {
    for (const fn of [...(this._listeners.get(event) ?? [])]) {
      try {
        fn(...args);
      } catch (e) {
        if (event !== 'error') this._emit('error', e);
        else setTimeout(() => { throw e; });
      }
    }
  }

  // ---- commands ----------------------------------------------------------------------------------

  /** Run a command: call('HSET', 'h', 'f', 1). Resolves with the result, rejects with ReplyError or ConnectionError. */
  call(...args) {
    if (args.length === 1 && Array.isArray(args[0])) args = args[0];
    let cmd;
    try {
      if (args.length === 0) throw new TypeError('call: empty command');
      cmd = args.map(toArg);
    } catch (e) {
      return Promise.reject(e);
    }
    return this._command(cmd);
  }

  _command(cmd) {
    return new Promise((resolve, reject) => {
      if (this.state === 'closed') {
        reject(new ConnectionError(`${cmd[0]}: the client is closed`, this._fatal ? 'FATAL' : 'CLOSED', { command: cmd }));
        return;
      }
      const entry = { id: this._nextId++, cmd, resolve, reject, timer: null };
      if (this.options.timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          const sent = this._pending.delete(entry.id);
          if (!sent) this._queue = this._queue.filter((e) => e !== entry);
          reject(new ConnectionError(`${cmd[0]}: no reply within ${this.options.timeoutMs} ms`, 'TIMEOUT', { sent, command: cmd }));
        }, this.options.timeoutMs);
      }
      // A socket already closing (its close event not yet fired) drops sends silently: queue instead.
      if (this.state === 'open' && this._ws.readyState === 1) this._send(entry);
      else if (this._queue.length >= this.options.maxQueue) {
        this._settle(entry, new ConnectionError(`${cmd[0]}: not connected and ${this.options.maxQueue} commands already wait`, 'QUEUE_FULL', { command: cmd }));
      } else this._queue.push(entry);
    });
  }

  _send(entry) {
    this._pending.set(entry.id, entry);
    this._ws.send(JSON.stringify({ id: entry.id, cmd: entry.cmd }));
  }

  _settle(entry, err, result) {
    if (entry.timer) clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else entry.resolve(result);
  }

  // ---- pub/sub -----------------------------------------------------------------------------------

  /** handler(data, channel). Returns an unsubscribe function; its `ready` promise settles with the server's reply. */
  subscribe(channel, handler) {
    return this._subscribe('subscribe', channel, handler);
  }

  /** handler(data, channel, pattern). */
  psubscribe(pattern, handler) {
    return this._subscribe('psubscribe', pattern, handler);
  }

  /** Shard channels (SSUBSCRIBE): handler(data, channel). */
  ssubscribe(channel, handler) {
    return this._subscribe('ssubscribe', channel, handler);
  }

  /** What the client is subscribed to (what it restores after a reconnect). */
  subscriptions() {
    return {
      channels: [...this._subs.subscribe.keys()],
      patterns: [...this._subs.psubscribe.keys()],
      shardChannels: [...this._subs.ssubscribe.keys()],
    };
  }

  _subscribe(kind, name, handler) {
    if (typeof name !== 'string' || name === '') throw new TypeError(`${kind}: the name must be a non-empty string`);
    if (typeof handler !== 'function') throw new TypeError(`${kind}: the handler must be a function`);
    const map = this._subs[kind];
    if (this.state === 'closed') {
      const ready = Promise.reject(new ConnectionError(`${kind} ${name}: the client is closed`, this._fatal ? 'FATAL' : 'CLOSED'));
      ready.catch(() => {});
      return Object.assign(() => Promise.resolve(), { ready });
    }
    let sub = map.get(name);
    if (!sub) {
      let resolve, reject;
      const ready = new Promise((res, rej) => ((resolve = res), (reject = rej)));
      ready.catch(() => {}); // rejection is reported through 'error' too; awaiting it is optional
      sub = { handlers: new Set(), ready, resolve, reject, active: false };
      map.set(name, sub);
      this._sendSubscribe(kind, [name]);
    }
    sub.handlers.add(handler);
    let done = false;
    const unsubscribe = () => {
      if (done) return Promise.resolve();
      done = true;
      sub.handlers.delete(handler);
      if (sub.handlers.size > 0 || map.get(name) !== sub) return Promise.resolve();
      map.delete(name);
      if (!sub.active) sub.reject(new ConnectionError(`${kind} ${name}: unsubscribed before the server confirmed`, 'CLOSED'));
      // Not connected: the server holds nothing, and the next connection subscribes only what is left.
      if (this.state !== 'open') return Promise.resolve();
      return this._command([SUB_KINDS[kind].unsub, name]).then(
        () => undefined,
        (e) => {
          if (e instanceof ReplyError) this._emit('error', e);
        },
      );
    };
    unsubscribe.ready = sub.ready;
    return unsubscribe;
  }

  /**
   * (Re)send a subscribe command; the names' `ready` promises settle on the reply. Only on an open
   * connection: each new connection subscribes to the whole map first thing (_resubscribeAll).
   */
  _sendSubscribe(kind, names) {
    if (this.state !== 'open') return;
    const cmd = [SUB_KINDS[kind].sub, ...names];
    this._command(cmd).then(
      () => {
        for (const n of names) {
          const sub = this._subs[kind].get(n);
          if (sub) {
            sub.active = true;
            sub.resolve();
          }
        }
      },
      (e) => {
        // Connection lost: the reconnect subscribes again. Anything else (a refusal by ACL, a closed
        // client, a full queue) is final for a subscription the server never confirmed.
        if (e.code === 'CONNECTION_LOST') return;
        for (const n of names) {
          const sub = this._subs[kind].get(n);
          if (sub && !sub.active) {
            this._subs[kind].delete(n);
            sub.reject(e);
          }
        }
        if (e.code !== 'CLOSED' && e.code !== 'FATAL') this._emit('error', e);
      },
    );
  }

  _resubscribeAll() {
    const { subscribe, psubscribe, ssubscribe } = this._subs;
    if (subscribe.size) this._sendSubscribe('subscribe', [...subscribe.keys()]);
    if (psubscribe.size) this._sendSubscribe('psubscribe', [...psubscribe.keys()]);
    // One shard channel per command: shard channels in one SSUBSCRIBE must share a slot.
    for (const c of ssubscribe.keys()) this._sendSubscribe('ssubscribe', [c]);
  }

  _onPush(msg) {
    this._emit('message', msg);
    for (const [kind, k] of Object.entries(SUB_KINDS)) {
      if (msg.type === k.message) {
        const name = msg[k.key];
        const sub = this._subs[kind].get(name);
        if (!sub) return;
        for (const h of [...sub.handlers]) {
          try {
            if (kind === 'psubscribe') h(msg.data, msg.channel, msg.pattern);
            else h(msg.data, msg.channel);
          } catch (e) {
            this._emit('error', e);
          }
        }
        return;
      }
      if (msg.type === k.unsubPush) {
        // The server dropped a subscription we still want (a shard channel's slot moved, say): renew it.
        const name = msg[k.key];
        if (this._subs[kind].has(name)) this._renew(kind, name);
        return;
      }
    }
  }

  _renew(kind, name) {
    const key = `${kind}\0${name}`;
    if (this._resubTimers.has(key)) return;
    const t = setTimeout(() => {
      this._resubTimers.delete(key);
      if (this.state === 'open' && this._subs[kind].has(name)) this._sendSubscribe(kind, [name]);
    }, 50 + Math.random() * 200);
    this._resubTimers.set(key, t);
  }

  // ---- connection --------------------------------------------------------------------------------

  _wsUrl() {
    const u = new URL(this._url.href);
    if (this.db !== 0 || /\/db\/\d+\/ws$/.test(u.pathname)) u.pathname = u.pathname.replace(/(\/db\/\d+)?\/ws$/, `/db/${this.db}/ws`);
    if (this.options.token !== undefined) u.searchParams.set('_token', this.options.token);
    return u.href;
  }

  _open() {
    let ws;
    try {
      ws = this.options.protocols === undefined ? new WebSocket(this._wsUrl()) : new WebSocket(this._wsUrl(), this.options.protocols);
    } catch (e) {
      // A malformed URL or protocol list: nothing a retry can fix. Reported after the caller's `on`s.
      this.state = 'closed';
      this._fatal = true;
      setTimeout(() => this._shutdown({ code: 0, reason: e.message, fatal: true, why: `cannot open a WebSocket: ${e.message}` }), 0);
      return;
    }
    this._ws = ws;
    ws.onopen = () => this._onOpen(ws);
    ws.onmessage = (ev) => this._onFrame(ws, ev.data);
    ws.onclose = (ev) => this._onClose(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // a close event follows with the code
  }

  _onOpen(ws) {
    if (ws !== this._ws) return;
    const again = this._everOpened;
    this._everOpened = true;
    this._openedAt = Date.now();
    this._lastRx = this._openedAt;
    this.state = 'open';
    // Subscriptions first, then what waited: the server sees them in this order.
    this._resubscribeAll();
    const queued = this._queue;
    this._queue = [];
    for (const e of queued) this._send(e);
    this._startPing();
    this._emit('open');
    if (again) {
      this.reconnects++;
      this._emit('reconnect', { attempt: this._attempt, reconnects: this.reconnects });
    }
  }

  _onFrame(ws, data) {
    if (ws !== this._ws) return;
    this._lastRx = Date.now();
    if (typeof data !== 'string') {
      this._emit('error', new Error('unexpected binary frame (the JSON protocol sends text frames)'));
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this._emit('error', new Error(`unparseable frame: ${data.slice(0, 100)}`));
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    if (typeof msg.type === 'string' && !('id' in msg)) {
      this._onPush(msg);
      return;
    }
    const entry = this._pending.get(msg.id);
    if (!entry) return; // timed out, or not ours
    this._pending.delete(msg.id);
    if ('error' in msg) {
      this._settle(entry, new ReplyError(String(msg.error), entry.cmd));
      return;
    }
    if (msg.result === 'OK' && entry.cmd.length === 2 && entry.cmd[0].toUpperCase() === 'SELECT') this.db = Number(entry.cmd[1]);
    this._settle(entry, null, msg.result);
  }

  _onClose(ws, code, reason) {
    if (ws !== this._ws) return;
    this._ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this._stopPing();
    if (this._openedAt && Date.now() - this._openedAt >= this.options.stableMs) this._attempt = 0;
    this._openedAt = 0;
    const fatalText = FATAL_CLOSE_CODES[code];
    const exhausted = this._attempt >= this.options.maxRetries;
    if (fatalText || !this.options.reconnect || exhausted) {
      const why = fatalText
        ? `connection refused: ${describeClose(code, reason)}`
        : exhausted
          ? `gave up after ${this._attempt} reconnect attempts (last close ${describeClose(code, reason)})`
          : `connection closed (${describeClose(code, reason)}) and reconnect is off`;
      this._shutdown({ code, reason, fatal: !!fatalText || exhausted, why });
      return;
    }
    this._failPending(code, reason);
    const delayMs = this._backoff(this._attempt++);
    this.state = 'reconnecting';
    this._emit('close', { code, reason, willReconnect: true, delayMs, fatal: false });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this.state === 'reconnecting') this._open();
    }, delayMs);
  }

  /** Capped exponential backoff with jitter: a delay in [d/2, d], d = min(max, min * 2^attempt). */
  _backoff(attempt) {
    const d = Math.min(this.options.maxDelayMs, this.options.minDelayMs * 2 ** Math.min(attempt, 30));
    return Math.round(d / 2 + Math.random() * (d / 2));
  }

  _failPending(code, reason, errCode = 'CONNECTION_LOST') {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const e of pending) {
      const msg =
        errCode === 'FATAL'
          ? `${e.cmd[0]}: not run: connection refused (${describeClose(code, reason)})`
          : `${e.cmd[0]}: ${errCode === 'CLOSED' ? 'the client was closed' : `connection lost (${describeClose(code, reason)})`} before the reply; it may or may not have run`;
      const err = new ConnectionError(msg, errCode, { sent: errCode !== 'FATAL', closeCode: code, command: e.cmd });
      this._settle(e, err);
    }
  }

  /** No more connections: fail everything and say why (`why` unset: close() was called). */
  _shutdown({ code, reason, fatal, why }) {
    this.state = 'closed';
    this._fatal = fatal;
    this._stopPing();
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._retryTimer = null;
    for (const t of this._resubTimers.values()) clearTimeout(t);
    this._resubTimers.clear();
    // After 4001/4003 the server ran nothing; otherwise a command sent may or may not have run.
    this._failPending(code, reason, FATAL_CLOSE_CODES[code] ? 'FATAL' : why ? 'CONNECTION_LOST' : 'CLOSED');
    const queued = this._queue;
    this._queue = [];
    for (const e of queued) this._settle(e, new ConnectionError(`${e.cmd[0]}: not sent: ${why ?? 'the client was closed'}`, fatal ? 'FATAL' : 'CLOSED', { closeCode: code, command: e.cmd }));
    const err = fatal ? new ConnectionError(why, 'FATAL', { closeCode: code }) : why ? new ConnectionError(why, 'CLOSED', { closeCode: code }) : null;
    for (const kind of Object.keys(this._subs)) {
      for (const sub of this._subs[kind].values()) if (!sub.active) sub.reject(err ?? new ConnectionError('the client was closed', 'CLOSED'));
    }
    this._emit('close', { code, reason, willReconnect: false, delayMs: 0, fatal });
    if (fatal) this._emit('error', err);
  }

  _startPing() {
    const { pingIntervalMs, pingTimeoutMs } = this.options;
    if (!(pingIntervalMs > 0)) return;
    let probeAt = 0;
    this._pingTimer = setInterval(() => {
      const ws = this._ws;
      if (!ws || this.state !== 'open') return;
      const now = Date.now();
      if (probeAt && this._lastRx < probeAt && now - probeAt >= pingTimeoutMs) {
        // Nothing came back: the connection is dead even if the browser has not noticed.
        try { ws.close(4000, 'heartbeat timeout'); } catch { /* closing anyway */ }
        this._onClose(ws, 4000, 'heartbeat timeout (client side)');
        return;
      }
      if (now - this._lastRx >= pingIntervalMs && !(probeAt > this._lastRx)) {
        probeAt = now;
        this._command(['PING']).catch(() => {});
      }
    }, Math.max(100, Math.min(pingIntervalMs, pingTimeoutMs) / 4));
  }

  _stopPing() {
    if (this._pingTimer) clearInterval(this._pingTimer);
    this._pingTimer = null;
  }

  /** Close for good: pending and queued commands are rejected (code 'CLOSED'); no reconnect. */
  close() {
    if (this.state === 'closed') return;
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(1000, 'client closed'); } catch { /* already closing */ }
    }
    this._shutdown({ code: 1000, reason: 'client closed', fatal: false });
  }
}
