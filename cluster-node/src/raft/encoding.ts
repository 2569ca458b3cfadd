/**
 * Entry payload encoding: entries carry strings so that messages stay plain JSON. Binary payloads are
 * stored as base64 with `binary: true`.
 */
import type { Entry } from './types';

export function encodeEntryData(data: Uint8Array | string): { data: string; binary?: true } {
  if (typeof data === 'string') return { data };
  return { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), binary: true };
}

/** The payload of `entry` as bytes (UTF-8 for string payloads). */
export function entryBytes(entry: Pick<Entry, 'data' | 'binary'>): Uint8Array {
  return entry.binary ? new Uint8Array(Buffer.from(entry.data, 'base64')) : new Uint8Array(Buffer.from(entry.data, 'utf8'));
}
