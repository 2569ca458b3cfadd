/**
 * The replication stream's wire form: commands as RESP multibulks (encoded with the RESP writer's
 * encodeCommand). The parser splits what a replica receives into commands together with their exact byte
 * spans, because replication offsets count bytes (a replica acknowledges, and proxies to its own
 * replicas and backlog, exactly the bytes it has applied).
 */
import { InputBuffer } from '../../../common/src/resp/input-buffer';

export class StreamProtocolError extends Error {}

/** One parsed command: argv and the bytes it took on the wire (leading newlines included). */
export interface StreamCommand {
  argv: string[];
  raw: Buffer;
}

export class StreamParser extends InputBuffer {

  /** Bytes received but not yet returned as commands. */
  get buffered(): number {
    return this.unreadBytes;
  }

  feed(chunk: Buffer): void {
    this.append(chunk);
  }

  /** The next complete command, or null when more bytes are needed. Throws StreamProtocolError. */
  next(): StreamCommand | null {
    if (this.need > 0) return null;
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    // Newlines between commands (keepalives) belong to the next command's span.
    while (p < buf.length && (buf[p] === 0x0a || buf[p] === 0x0d)) p++;
    if (p >= buf.length) return null;
    if (buf[p] !== 0x2a) {
      // Inline command (not sent by Redis primaries after the RDB, accepted anyway).
      const nl = buf.indexOf(0x0a, p);
      if (nl < 0) return null;
      const line = buf.latin1Slice(p, nl).replace(/\r$/, '');
      this.pos = nl + 1;
      return { argv: line.split(' ').filter((x) => x.length > 0), raw: buf.subarray(start, this.pos) };
    }
    let eol = buf.indexOf(0x0d, p);
    if (eol < 0 || eol + 1 >= buf.length) return null;
    const n = Number(buf.latin1Slice(p + 1, eol));
    if (!Number.isInteger(n)) throw new StreamProtocolError('invalid multibulk length');
    p = eol + 2;
    const argv: string[] = [];
    for (let i = 0; i < n; i++) {
      if (p >= buf.length) return null;
      if (buf[p] !== 0x24) throw new StreamProtocolError(`expected '$', got '${String.fromCharCode(buf[p])}'`);
      eol = buf.indexOf(0x0d, p);
      if (eol < 0 || eol + 1 >= buf.length) return null;
      const len = Number(buf.latin1Slice(p + 1, eol));
      if (!Number.isInteger(len) || len < 0) throw new StreamProtocolError('invalid bulk length');
      const dataStart = eol + 2;
      if (dataStart + len + 2 > buf.length) {
        const total = dataStart + len + 2 - start;
        if (total > 64 * 1024) this.need = total;
        if (start > 0) {
          this.buf = buf.subarray(start);
          this.pos = 0;
        }
        return null;
      }
      argv.push(buf.latin1Slice(dataStart, dataStart + len));
      p = dataStart + len + 2;
    }
    this.pos = p;
    return { argv, raw: buf.subarray(start, p) };
  }
}
