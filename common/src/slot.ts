/**
 * Hash slot math shared by cluster-node and gateway.
 * slot = CRC16-XMODEM(key or its hash tag) & 0x3FFF  (poly 0x1021, init 0, no reflection).
 * Keys are latin1 strings (one char = one byte), so char codes are bytes.
 */

export const SLOT_COUNT = 16384;

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

/** CRC16-XMODEM of chars [start, end) of a latin1 string. */
export function crc16(s: string, start = 0, end = s.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ s.charCodeAt(i)) & 0xff];
  return crc;
}

/** CRC16-XMODEM of bytes [start, end) of a buffer. */
export function crc16Bytes(b: Uint8Array, start = 0, end = b.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b[i]) & 0xff];
  return crc;
}

/** Hash slot of a key (latin1 string), honouring `{hash tags}` as Redis Cluster does. */
export function keyHashSlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) & 0x3fff;
  }
  return crc16(key) & 0x3fff;
}

/**
 * The one slot every key matching a glob must hash to, or -1: when the pattern starts with a literal
 * "prefix{tag}" (no glob metacharacter up to the first '}' after the first '{'), every matching key
 * has that hash tag (KEYS/SCAN/CLUSTERSCAN with MATCH {user1}:* look at one slot only).
 */
export function patternHashSlot(pattern: string): number {
  const open = pattern.indexOf('{');
  if (open < 0) return -1;
  const close = pattern.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return -1;
  for (let i = 0; i < close; i++) {
    const ch = pattern.charCodeAt(i);
    if (ch === 42 || ch === 63 || ch === 91 || ch === 92) return -1; // * ? [ \
  }
  return keyHashSlot(pattern.slice(open + 1, close));
}

/** Hash slot of a key given as bytes. */
export function keyHashSlotBytes(key: Uint8Array): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16Bytes(key, open + 1, close) & 0x3fff;
  }
  return crc16Bytes(key) & 0x3fff;
}

/** Convert a JS (UTF-16) string to the latin1 byte-string form used internally. */
export function utf8ToLatin1(s: string): string {
  // Fast path: pure ASCII strings are already identical in both forms.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8').toString('latin1');
  return s;
}
