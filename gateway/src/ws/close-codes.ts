/**
 * WebSocket close codes the gateway uses (documented in docs/gateway.md, "WebSocket"). 1xxx are the
 * standard codes (RFC 6455); 4xxx are the gateway's own, chosen to echo HTTP statuses.
 */
export const CLOSE = {
  /** QUIT, or the client closed normally. */
  NORMAL: 1000,
  /** The gateway is shutting down; reconnect (to another gateway). */
  GOING_AWAY: 1001,
  /** RESP protocol error (after `-ERR Protocol error: ...`), or a frame that is not valid UTF-8/JSON at the framing level. */
  PROTOCOL_ERROR: 1002,
  /** Invalid database in the path (/db/<n>/ws). */
  POLICY: 1008,
  /** A frame larger than the gateway's max frame size (--ws-max-frame). */
  TOO_BIG: 1009,
  /** No pong for a whole heartbeat interval (the gateway normally just terminates such a socket). */
  HEARTBEAT: 4000,
  /** Missing or invalid token. */
  UNAUTHORIZED: 4001,
  /** Origin not in the allowlist, or the token may not use the database in the path. */
  FORBIDDEN: 4003,
  /** The socket's outgoing queue went over --ws-queue-limit bytes (the client does not read fast enough). */
  SLOW_CONSUMER: 4008,
} as const;
