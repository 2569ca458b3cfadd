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
  /** The chunk `buf` is, when it was fed borrowed (a shared read buffer reused after the feed). */
  private borrowed: Buffer | null = null;

  /** Bytes received and not yet consumed by the parser. */
  protected get unreadBytes(): number {
    return this.buf.length - this.pos + this.gatheredBytes;
  }

  /**
   * Append a chunk; false while still gathering chunks for `need` (nothing new to parse yet). A
   * `borrowed` chunk is only valid until the caller returns: it is parsed in place, and whatever of it
   * is still unread when the caller is done must be copied out with {@link release}.
   */
  protected append(chunk: Buffer, borrowed = false): boolean {
    if (this.need > 0) {
      this.gathered.push(borrowed ? Buffer.from(chunk) : chunk);
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
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.borrowed = borrowed ? chunk : null;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.borrowed = null;
    }
    this.pos = 0;
    return true;
  }

  /**
   * Stop referring to a borrowed chunk: its unread bytes (a partial frame, or commands left for later
   * because the client blocked or paused) are copied into a buffer of their own.
   */
  release(): void {
    const b = this.borrowed;
    if (b === null) return;
    this.borrowed = null;
    if (this.buf !== b) return;
    this.buf = this.pos < b.length ? Buffer.from(b.subarray(this.pos)) : EMPTY;
    this.pos = 0;
  }
}
