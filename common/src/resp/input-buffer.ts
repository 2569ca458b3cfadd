/**
 * The input side shared by the incremental RESP parsers (requests, replies, the replication stream):
 * received chunks are appended to the unread tail `buf[pos..]`. When a parser finds that a large frame
 * is still arriving, it sets `need` (the bytes from `pos` the frame takes): chunks are then only
 * collected, and joined once when the frame is complete, instead of being re-joined and re-parsed on
 * every chunk.
 */
const EMPTY = Buffer.alloc(0);

export class InputBuffer {
  protected buf: Buffer = EMPTY;
  protected pos = 0;
  /** Bytes from `pos` the frame being received needs before parsing is worth trying again (0: none). */
  protected need = 0;
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;

  /** Bytes received and not yet consumed by the parser. */
  protected get unreadBytes(): number {
    return this.buf.length - this.pos + this.gatheredBytes;
  }

  /** Append a chunk; false while still gathering chunks for `need` (nothing new to parse yet). */
  protected append(chunk: Buffer): boolean {
    if (this.need > 0) {
      this.gathered.push(chunk);
      this.gatheredBytes += chunk.length;
      if (this.buf.length - this.pos + this.gatheredBytes < this.need) return false;
      this.gathered.unshift(this.buf.subarray(this.pos));
      this.buf = Buffer.concat(this.gathered);
      this.pos = 0;
      this.gathered = [];
      this.gatheredBytes = 0;
      this.need = 0;
      return true;
    }
    this.buf = this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
    return true;
  }
}
