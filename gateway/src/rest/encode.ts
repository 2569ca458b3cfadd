/**
 * Reply encodings for HTTP and WebSocket clients: Upstash JSON (bulk strings as UTF-8 text, or base64
 * with `Upstash-Encoding: base64`; RESP2 shapes: flat arrays, integers as JSON numbers, nil as null),
 * and raw RESP2 bytes (`Upstash-Response-Format: resp2`, RESP over WebSocket).
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

/** A reply as RESP2 (bulk strings for every string: the upstream RESP2 parser does not keep +status apart). */
export function toResp2(r: Reply, out: Buffer[] = []): Buffer[] {
  if (r === null) out.push(Buffer.from('$-1\r\n'));
  else if (typeof r === 'number') out.push(Buffer.from(`:${r}\r\n`));
  else if (Buffer.isBuffer(r)) out.push(Buffer.from(`$${r.length}\r\n`), r, Buffer.from('\r\n'));
  else if (Array.isArray(r)) {
    out.push(Buffer.from(`*${r.length}\r\n`));
    for (const x of r) toResp2(x, out);
  } else if (r instanceof Error) out.push(Buffer.from(`-${r.message.replace(/[\r\n]+/g, ' ')}\r\n`));
  return out;
}

/** RESP3 for a HELLO 3 session: like RESP2 but nil is `_`. Maps stay flat arrays (RESP2-shaped replies). */
export function toResp3(r: Reply, out: Buffer[] = []): Buffer[] {
  if (r === null) out.push(Buffer.from('_\r\n'));
  else if (Array.isArray(r)) {
    out.push(Buffer.from(`*${r.length}\r\n`));
    for (const x of r) toResp3(x, out);
  } else toResp2(r, out);
  return out;
}

export function respError(msg: string): Buffer {
  return Buffer.from(`-${msg.replace(/[\r\n]+/g, ' ')}\r\n`);
}
