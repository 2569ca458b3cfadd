'use strict';
/**
 * A tiny RESP client on node:net for scripts (bin/start.js, tests, benches): no dependencies.
 *
 *   const { RespClient, call } = require('./lib/resp-client');
 *   const c = await RespClient.connect(7000);           // host defaults to 127.0.0.1
 *   await c.command(['CLUSTER', 'INFO']);                // -> string
 *   c.close();
 *   await call(7000, ['PING']);                          // one-shot: connect, send, close
 *
 * Replies: simple/bulk/verbatim strings -> string (utf8), integers -> number (bigint past 2^53),
 * doubles -> number, nil -> null, arrays/sets/pushes -> arrays, maps -> arrays of [key, value] pairs,
 * booleans -> boolean. An error reply rejects the command's promise with a ReplyError (the connection stays
 * usable); a timeout, a protocol error or a closed connection rejects every pending command and closes it.
 * Commands are pipelined: replies are matched to commands in order.
 */
const net = require('node:net');

class ReplyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ReplyError';
  }
}

const INCOMPLETE = Symbol('incomplete');

/** Parse one reply from buf at pos: { value, end } or INCOMPLETE. Errors are returned as ReplyError values. */
function parseReply(buf, pos) {
  if (pos >= buf.length) return INCOMPLETE;
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return INCOMPLETE;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new ReplyError(line), end: next };
    case ':': {
      const n = Number(line);
      return { value: Number.isSafeInteger(n) ? n : BigInt(line), end: next };
    }
    case '(':
      return { value: BigInt(line), end: next };
    case ',':
      return { value: line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line), end: next };
    case '#':
      return { value: line === 't', end: next };
    case '_':
      return { value: null, end: next };
    case '$':
    case '=':
    case '!': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return INCOMPLETE;
      let s = buf.toString('utf8', next, next + len);
      if (type === '=') s = s.slice(4); // "txt:" / "mkd:" prefix of a verbatim string
      return { value: type === '!' ? new ReplyError(s) : s, end: next + len + 2 };
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const pairs = type === '%' || type === '|';
      const items = [];
      let at = next;
      for (let i = 0; i < count * (pairs ? 2 : 1); i++) {
        const r = parseReply(buf, at);
        if (r === INCOMPLETE) return INCOMPLETE;
        items.push(r.value);
        at = r.end;
      }
      if (type === '|') return parseReply(buf, at); // attributes precede the real reply: skip them
      if (!pairs) return { value: items, end: at };
      const map = [];
      for (let i = 0; i < items.length; i += 2) map.push([items[i], items[i + 1]]);
      return { value: map, end: at };
    }
    default:
      throw new Error(`protocol error: unexpected byte ${JSON.stringify(type)} in reply`);
  }
}

function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

class RespClient {
  /** @param {net.Socket} socket a connected socket */
  constructor(socket, { timeoutMs = 5000 } = {}) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.pending = [];
    this.buf = Buffer.alloc(0);
    this.closedError = null;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Connect to host:port (default 127.0.0.1); rejects after timeoutMs. */
  static connect(port, host = '127.0.0.1', { timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespClient(socket, { timeoutMs }));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** Send one command (array of strings/numbers/Buffers); resolves with its reply. */
  command(args, { timeoutMs = this.timeoutMs } = {}) {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, timer: null };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.fail(new Error(`${String(args[0])} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.push(entry);
      this.socket.write(encodeCommand(args));
    });
  }

  close() {
    this.fail(new Error('connection closed by client'));
  }

  onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let r;
      try {
        r = parseReply(this.buf, pos);
      } catch (e) {
        this.fail(e);
        return;
      }
      if (r === INCOMPLETE) break;
      pos = r.end;
      const entry = this.pending.shift();
      if (!entry) continue; // a push message nobody asked for
      if (entry.timer) clearTimeout(entry.timer);
      if (r.value instanceof ReplyError) entry.reject(r.value);
      else entry.resolve(r.value);
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  fail(err) {
    if (!this.closedError) this.closedError = err;
    this.socket.destroy();
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

/** Connect, send one command, close. */
async function call(port, args, { host = '127.0.0.1', timeoutMs = 5000 } = {}) {
  const c = await RespClient.connect(port, host, { timeoutMs });
  try {
    return await c.command(args);
  } finally {
    c.close();
  }
}

/** Parse a CLUSTER INFO / INFO reply ("key:value" lines) into an object of strings. */
function parseInfo(text) {
  const out = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

module.exports = { RespClient, ReplyError, call, parseInfo, encodeCommand, parseReply };
