// Node's Buffer has fast latin1 codecs that @types/node does not declare; we use them on the hot path.
declare global {
  interface Buffer {
    latin1Slice(start?: number, end?: number): string;
    latin1Write(s: string, offset?: number, length?: number): number;
  }
}
export {};
