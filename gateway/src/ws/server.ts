/**
 * The WebSocket endpoints (the `ws` package on the fastify HTTP server's `upgrade` event):
 *
 *   /ws, /db/<n>/ws            JSON frames (or subprotocol `redis-json`)
 *   /ws/resp, /db/<n>/ws/resp  RESP over binary frames (or subprotocol `redis-resp`, which wins over the path)
 *
 * Auth as REST: `Authorization: Bearer <token>` or `?_token=<token>` (browsers cannot set headers),
 * same token permissions. Origin allowlist (`origins` option; requests without an Origin header —
 * non-browser clients — are not checked).
 *
 * JSON: in `["SET","k","v"]` or `{"id": <any>, "cmd": ["SET","k","v"]}` (numbers and booleans become
 * strings); out `{"result": v}` or `{"error": "text"}`, with `"id"` when the request had one, in request
 * order. Pushes: `{"type":"subscribe","channel":"c","count":1}` (psubscribe: "pattern"; also
 * ssubscribe, unsubscribe, punsubscribe, sunsubscribe), `{"type":"message","channel":"c","data":"..."}`,
 * `{"type":"pmessage","pattern":"p","channel":"c","data":"..."}`, `{"type":"smessage",...}`. A
 * (un)subscribe command gets its confirmation pushes and then a normal reply (the last count).
 *
 * RESP: RESP2 until `HELLO 3`; in RESP2 a subscribed socket may only (P|S)(UN)SUBSCRIBE, PING, QUIT,
 * RESET (as Redis); in RESP3 pushes are `>` frames and any command is allowed. A protocol error is
 * answered `-ERR Protocol error: ...` and the socket closed (1002).
 *
 * Session commands (both modes): SELECT n (checked against the token's dbs), MULTI/EXEC/DISCARD
 * (queued in the gateway, run at EXEC on one shard), WATCH (refused), the subscribe family, PING,
 * QUIT, RESET, AUTH <token>, HELLO (RESP). Everything else goes through the shared executor.
 *
 * Close codes (./close-codes.ts): 1000 QUIT, 1001 gateway shutting down, 1002 RESP protocol error,
 * 1008 invalid database in the path, 1009 frame over --ws-max-frame, 4001 missing/invalid token,
 * 4003 Origin not allowed or database not allowed for the token, 4008 slow consumer (outgoing queue
 * over --ws-queue-limit bytes). Heartbeat: a ping every wsHeartbeatMs; a socket that has not answered
 * (pong or any frame) by the next ping is terminated (no close frame: the peer is gone).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ProtocolError, RequestParser } from '../../../common/src/resp/request-parser';
import type { Gateway } from '../app';
import { Auth, presentedToken, type Principal } from '../auth';
import { GatewayError } from '../errors';
import type { PubSubHub } from '../pubsub/hub';
import { CLOSE } from './close-codes';
import { WsSession, sessionCounters, type WsMode } from './session';

export { CLOSE };

const ROUTE = /^(?:\/db\/([^/]*))?\/ws(\/resp|\/json)?\/?$/;

function rejectUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), 100).unref();
}

export interface WebSocketHandle {
  /** Open sessions (tests and introspection). */
  readonly sessions: ReadonlySet<WsSession>;
}

export function registerWebSocket(gw: Gateway, hub: PubSubHub): WebSocketHandle {
  const { opts, metrics, auth, executor } = gw;
  const sessions = new Set<WsSession>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.wsMaxFrame,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols: Set<string>) => (protocols.has('redis-resp') ? 'redis-resp' : protocols.has('redis-json') ? 'redis-json' : false),
  });
  const deps = { counters: sessionCounters(metrics), auth, executor, hub, metrics, databases: opts.databases, queueLimit: opts.wsQueueLimit, maxQueued: opts.maxPipeline };

  gw.app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const m = ROUTE.exec(q < 0 ? url : url.slice(0, q));
    if (!m) {
      rejectUpgrade(socket, 404, `no WebSocket endpoint at ${url.split('?')[0]}: use /ws (JSON), /ws/resp (RESP) or /db/<n>/ws`);
      return;
    }
    socket.on('error', () => {});
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, m));
  });

  const refuse = (ws: WebSocket, code: number, reason: string, label: string): void => {
    metrics.wsClosed.inc({ reason: label });
    metrics.errors.inc({ kind: label === 'auth' ? 'auth' : 'forbidden' });
    ws.close(code, reason.slice(0, 120));
    setTimeout(() => ws.terminate(), 2000).unref();
  };

  function accept(ws: WebSocket, req: IncomingMessage, m: RegExpExecArray): void {
    ws.on('error', () => {});
    const mode: WsMode = ws.protocol === 'redis-resp' ? 'resp' : ws.protocol === 'redis-json' ? 'json' : m[2] === '/resp' ? 'resp' : 'json';
    const origin = req.headers.origin;
    if (opts.origins && origin !== undefined && !opts.origins.includes(origin)) {
      return refuse(ws, CLOSE.FORBIDDEN, `origin ${origin} is not allowed`, 'auth');
    }
    let principal: Principal;
    try {
      principal = auth.authenticate(presentedToken(req.headers.authorization, req.url ?? '/'));
    } catch (e) {
      return refuse(ws, CLOSE.UNAUTHORIZED, e instanceof Error ? e.message : 'Unauthorized', 'auth');
    }
    let db = 0;
    if (m[1] !== undefined) {
      if (!/^\d{1,5}$/.test(m[1]) || Number(m[1]) >= opts.databases) return refuse(ws, CLOSE.POLICY, `invalid database in path: /db/${m[1]} (0-${opts.databases - 1})`, 'bad_request');
      db = Number(m[1]);
    }
    try {
      Auth.checkDb(principal, db);
    } catch (e) {
      return refuse(ws, CLOSE.FORBIDDEN, e instanceof GatewayError ? e.message : 'forbidden', 'auth');
    }

    const session = new WsSession(ws, mode, principal, db, deps);
    sessions.add(session);
    metrics.wsConnections.inc({ protocol: mode });
    const parser =
      mode === 'resp' ? new RequestParser({ maxBulkLen: 4 * opts.wsMaxFrame, maxQueryBuffer: 4 * opts.wsMaxFrame, authenticated: true }) : null;
    let broken = false;

    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      session.alive = true;
      if (broken || session.closing) return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (!parser) {
        session.onJson(buf.toString('utf8'));
        return;
      }
      void isBinary;
      try {
        parser.feed(buf);
        for (let argv = parser.next(); argv !== null; argv = parser.next()) {
          session.onResp(argv);
          if (session.closing) return;
        }
      } catch (e) {
        broken = true;
        if (e instanceof ProtocolError) session.protocolError(e.silent ? null : e.message);
        else session.protocolError(`Protocol error: ${(e as Error).message}`);
      }
    });
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') session.closeReason ??= 'frame_too_large';
      else session.closeReason ??= 'protocol';
    });
    ws.on('close', () => {
      sessions.delete(session);
      session.dispose();
      metrics.wsConnections.dec({ protocol: mode });
      metrics.wsClosed.inc({ reason: session.closeReason ?? 'client' });
    });
  }

  const heartbeat = setInterval(() => {
    for (const s of sessions) {
      if (!s.alive) {
        s.closeReason ??= 'heartbeat';
        s.closing = true;
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      try {
        s.ws.ping();
      } catch {
        /* closing */
      }
    }
  }, opts.wsHeartbeatMs);
  heartbeat.unref();

  gw.onClose.push(async () => {
    clearInterval(heartbeat);
    for (const s of sessions) s.close(CLOSE.GOING_AWAY, 'server shutting down', 'server', 1000);
    const deadline = Date.now() + 1500;
    while (sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of sessions) s.ws.terminate();
    wss.close();
  });

  return { sessions };
}
