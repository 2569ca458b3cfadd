/**
 * Reply encodings for HTTP and WebSocket clients: Upstash JSON (bulk strings as UTF-8 text, or base64
 * with `Upstash-Encoding: base64`; RESP2 shapes: flat arrays, integers as JSON numbers, nil as null),
 * and raw RESP2 bytes (`Upstash-Response-Format: resp2`, RESP over WebSocket).
 */
import type { Reply } from '../cluster/client';
import { encodeResp } from './reply-shape';

export type JsonValue = string | number | null | JsonValue[];

export function toJson(r: Reply, base64: boolean): JsonValue {
  if (r === null) return null;
  if (typeof r === 'number') return r;
  if (Buffer.isBuffer(r)) return base64 ? r.toString('base64') : r.toString('utf8');
  if (Array.isArray(r)) return r.map((x) => toJson(x, base64));
  if (r instanceof Error) return r.message;
  return String(r);
}

/** A reply as RESP2 with no shape known: strings as bulk strings, arrays flat (see reply-shape.ts). */
export function toResp2(r: Reply, out: Buffer[] = []): Buffer[] {
  return encodeResp(r, 2, undefined, out);
}

/** RESP3 with no shape known: like RESP2 but nil is `_`. */
export function toResp3(r: Reply, out: Buffer[] = []): Buffer[] {
  return encodeResp(r, 3, undefined, out);
}

export function respError(msg: string): Buffer {
  return Buffer.from(`-${msg.replace(/[\r\n]+/g, ' ')}\r\n`);
}
