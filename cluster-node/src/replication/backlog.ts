/**
 * The replication backlog: a circular buffer holding the last `size` bytes of the replication stream,
 * so a replica that reconnects with PSYNC <replid> <offset> can be sent what it missed (+CONTINUE).
 *
 * Offsets are Redis's: the stream's first byte has offset 1; `endOffset` is the offset of the last byte
 * written (master_repl_offset), the backlog holds offsets [firstByteOffset, endOffset].
 */
export class Backlog {
  private buf: Buffer;
  /** Next write position in buf. */
  private idx = 0;
  /** Bytes of history held (<= size). */
  histlen = 0;

  constructor(
    size: number,
    /** Offset of the last byte of the stream so far (the new backlog is empty). */
    public endOffset: number,
  ) {
    this.buf = Buffer.alloc(Math.max(1, size));
  }

  get size(): number {
    return this.buf.length;
  }

  /** repl_backlog_first_byte_offset. */
  get firstByteOffset(): number {
    return this.endOffset - this.histlen + 1;
  }

  write(data: Buffer): void {
    const size = this.buf.length;
    this.endOffset += data.length;
    const src = data;
    if (src.length >= size) {
      src.copy(this.buf, 0, src.length - size);
      this.idx = 0;
      this.histlen = size;
      return;
    }
    const first = Math.min(src.length, size - this.idx);
    src.copy(this.buf, this.idx, 0, first);
    if (first < src.length) src.copy(this.buf, 0, first);
    this.idx = (this.idx + src.length) % size;
    this.histlen = Math.min(size, this.histlen + src.length);
  }

  /** True if the stream from offset `from` (inclusive) to the end is held. */
  covers(from: number): boolean {
    return from >= this.firstByteOffset && from <= this.endOffset + 1;
  }

  /** The stream bytes from offset `from` (inclusive) to the end; caller checks covers(). */
  readFrom(from: number): Buffer {
    const n = this.endOffset - from + 1;
    if (n <= 0) return Buffer.alloc(0);
    const size = this.buf.length;
    const start = (this.idx - n + size * 2) % size;
    if (start + n <= size) return Buffer.from(this.buf.subarray(start, start + n));
    return Buffer.concat([this.buf.subarray(start), this.buf.subarray(0, n - (size - start))]);
  }

  /** A backlog of another size holding as much of this one's history as fits. */
  resized(size: number): Backlog {
    const b = new Backlog(size, this.endOffset - Math.min(this.histlen, size));
    b.write(this.readFrom(this.endOffset - Math.min(this.histlen, size) + 1));
    return b;
  }
}
