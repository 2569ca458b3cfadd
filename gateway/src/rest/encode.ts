/**
 * Replies as Upstash JSON for HTTP and WebSocket JSON clients (bulk strings as UTF-8 text, or base64
 * with `Upstash-Encoding: base64`; RESP2 shapes: flat arrays, integers as JSON numbers, nil as null).
 * RESP bytes (`Upstash-Response-Format: resp2`, RESP over WebSocket) come from reply-shape.ts.
 */
import type { Reply } from '../cluster/client';

export type JsonValue = string | number | null | JsonValue[];

export function toJson(r: Reply, base64: boolean): JsonValue {
  if (r === null) return null;
  if (typeof r === 'number') return r;
  if (Buffer.isBuffer(r)) return base64 ? r.toString('base64') : r.toString('utf8');
  if (Array.isArray(r)) return r.map((x) => toJson(x, base64));
  if (r instanceof Error) return r.message;
  return String(r);
}
