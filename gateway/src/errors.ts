/**
 * Every error the gateway itself raises (as opposed to error replies from the cluster), declared in one
 * place with a stable code, an HTTP status and a metrics kind. REST answers `{"error": message}` with the
 * status; WebSocket JSON answers `{"error": message}`; RESP-over-WS answers `-ERR message`.
 */

export type ErrorKind = 'auth' | 'forbidden' | 'rate_limited' | 'bad_request' | 'limit' | 'unsupported' | 'upstream' | 'internal';

export class GatewayError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const make = (code: string, status: number, kind: ErrorKind) => (message: string) => new GatewayError(code, status, kind, message);

export const Errors = {
  unauthorized: make('GW_ERR_UNAUTHORIZED', 401, 'auth'),
  forbidden: make('GW_ERR_FORBIDDEN', 403, 'forbidden'),
  rateLimited: make('GW_ERR_RATE_LIMITED', 429, 'rate_limited'),
  badRequest: make('GW_ERR_BAD_REQUEST', 400, 'bad_request'),
  notFound: make('GW_ERR_NOT_FOUND', 404, 'bad_request'),
  methodNotAllowed: make('GW_ERR_METHOD', 405, 'bad_request'),
  tooLarge: make('GW_ERR_TOO_LARGE', 413, 'limit'),
  unsupported: make('GW_ERR_UNSUPPORTED', 400, 'unsupported'),
  crossSlot: make('GW_ERR_CROSSSLOT', 400, 'bad_request'),
  upstream: make('GW_ERR_UPSTREAM', 503, 'upstream'),
  timeout: make('GW_ERR_UPSTREAM_TIMEOUT', 504, 'upstream'),
  internal: make('GW_ERR_INTERNAL', 500, 'internal'),
};

/** A Redis error reply (`-ERR ...`, `-MOVED ...`): from a node, or worded as a node would. */
export class ReplyError extends Error {
  override name = 'ReplyError';
}

/** An error reply, passed to the client as worded. */
export function isReplyError(e: unknown): e is ReplyError {
  return e instanceof ReplyError;
}

/**
 * What an HTTP client gets for an error thrown while answering it: the status, the `{"error"}` text and
 * the metrics kind. Gateway errors carry their own; fastify's (body too large, bad content) are 4xx;
 * anything else is an internal error (500).
 */
export function httpErrorOf(e: unknown): { status: number; message: string; kind: string } {
  if (e instanceof GatewayError) return { status: e.status, message: e.message, kind: e.kind };
  const fe = e as { code?: string; statusCode?: number; message?: string };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: 'ERR max request size exceeded', kind: 'limit' };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, message: fe.message ?? 'bad request', kind: 'bad_request' };
  return { status: 500, message: `internal error: ${fe.message ?? String(e)}`, kind: 'internal' };
}
