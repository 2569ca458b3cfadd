/**
 * A floor for the gateway's overhead (bench/gateway.ts with BENCH_FLOOR=1): the least a single-threaded
 * Node HTTP-to-RESP proxy can do. It answers `GET /get/<key>` and `GET /set/<key>/<value>` on
 * keep-alive connections with `{"result":...}`, over one upstream connection to one node that owns
 * every slot. No auth, no routing, no metrics, no limits, no error handling beyond closing: it is a
 * measuring instrument, never to face real clients, and its overhead is what the runtime and the
 * machine cost before any gateway code runs.
 *
 * Usage: node dist/bench/floor-proxy.js <http port> <node port>
 */
import net from 'node:net';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
if (!port || !upstreamPort) throw new Error('usage: floor-proxy <http port> <node port>');

const CRLF = 0x0d;
const upstream = net.connect(upstreamPort!, '127.0.0.1');
upstream.setNoDelay(true);
/** Replies owed, in the order the commands went out. */
const waiting: Array<(json: string) => void> = [];
let ubuf: Buffer | null = null;

/** One reply from `b` at `at`: [JSON of the result, end], or null when incomplete. Bulk, simple, error and integer replies. */
function reply(b: Buffer, at: number): [string, number] | null {
  const nl = b.indexOf(CRLF, at);
  if (nl < 0 || nl + 1 >= b.length) return null;
  const head = b.toString('latin1', at + 1, nl);
  switch (b[at]) {
    case 0x24: {
      const n = Number(head);
      if (n < 0) return ['{"result":null}', nl + 2];
      if (b.length < nl + 2 + n + 2) return null;
      return [`{"result":${JSON.stringify(b.toString('utf8', nl + 2, nl + 2 + n))}}`, nl + 4 + n];
    }
    case 0x2b:
      return [`{"result":${JSON.stringify(head)}}`, nl + 2];
    case 0x3a:
      return [`{"result":${head}}`, nl + 2];
    default:
      return [`{"error":${JSON.stringify(head)}}`, nl + 2];
  }
}

upstream.on('data', (d: Buffer) => {
  const b = ubuf ? Buffer.concat([ubuf, d]) : d;
  let at = 0;
  for (;;) {
    const r = at < b.length ? reply(b, at) : null;
    if (!r) break;
    at = r[1];
    waiting.shift()!(r[0]);
  }
  ubuf = at < b.length ? Buffer.from(b.subarray(at)) : null;
});
upstream.on('error', (e) => {
  console.error(`floor-proxy: upstream: ${e.message}`);
  process.exit(1);
});

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

net
  .createServer((socket) => {
    socket.setNoDelay(true);
    let buf: Buffer | null = null;
    socket.on('data', (d: Buffer) => {
      const b = buf ? Buffer.concat([buf, d]) : d;
      let at = 0;
      for (;;) {
        const end = b.indexOf('\r\n\r\n', at, 'latin1');
        if (end < 0) break;
        const line = b.toString('latin1', at, b.indexOf(CRLF, at));
        at = end + 4;
        let parts: string[];
        try {
          parts = (line.split(' ')[1] ?? '').split('/').map(decodeURIComponent);
        } catch {
          socket.destroy();
          return;
        }
        const cmd = parts[1] === 'set' && parts.length === 4 ? `*3\r\n$3\r\nSET\r\n${bulk(parts[2]!)}${bulk(parts[3]!)}` : parts[1] === 'get' && parts.length === 3 ? `*2\r\n$3\r\nGET\r\n${bulk(parts[2]!)}` : null;
        if (!cmd) {
          socket.destroy();
          return;
        }
        waiting.push((json) => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
        });
        upstream.write(cmd);
      }
      buf = at < b.length ? Buffer.from(b.subarray(at)) : null;
    });
    socket.on('error', () => socket.destroy());
  })
  .listen(port!, '127.0.0.1', () => console.log(`floor-proxy listening on ${port}`));
