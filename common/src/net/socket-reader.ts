/**
 * Client sockets that read into one shared buffer through net.Socket's documented `onread` option,
 * instead of the Readable stream path ('data' events).
 *
 * The stream path allocates a fresh ArrayBuffer for every read and runs each chunk through
 * Readable.push / emit('data'); for a request-per-read workload (pipeline 1) that costs ~1.5 us of
 * CPU per request on the machine of BENCHMARKS.md (a bare echo server: 3.5 us user time per request
 * with 'data' events, 2.0 us with onread; redis-server 2.5-2.8 us). `net.Server` has no `onread`
 * option, so the listener accepts with `pauseOnConnect` (nothing has been read yet) and the accepted
 * handle is moved into a socket constructed with `onread`, as Node's own code constructs sockets
 * around an existing handle (`new net.Socket({ handle })`, used by child_process and cluster). Pause,
 * resume, end, close and errors behave as on any net.Socket (Node's pause()/resume() stop and start
 * reading for onread sockets).
 *
 * The buffer handed to `onRead` is reused by the next read of any socket: the callee must not keep
 * it (the request parser copies what it has not consumed; see InputBuffer.release).
 */
import net from 'node:net';

/** One read buffer for every client of the process: reads happen one at a time on the event loop. */
const SHARED = Buffer.allocUnsafe(64 * 1024);

interface HandleSocket {
  _handle?: unknown;
}

/**
 * Move a socket accepted with `pauseOnConnect` onto a socket that delivers reads to `onRead` (the
 * buffer and the number of bytes in it). Returns null, with the original socket untouched, if this
 * Node does not allow it; the caller then resumes the original and listens for 'data'.
 */
export function adoptWithSharedBuffer(accepted: net.Socket, onRead: (chunk: Buffer) => void): net.Socket | null {
  const handle = (accepted as unknown as HandleSocket)._handle;
  if (handle === null || handle === undefined) return null;
  let sock: net.Socket;
  try {
    // `handle` is not in the public typings; the object is passed through as Node's own callers do.
    sock = new net.Socket({
      handle,
      onread: { buffer: SHARED, callback: (n: number, buf: Uint8Array) => onRead((buf as Buffer).subarray(0, n)) },
    } as net.SocketConstructorOpts);
  } catch {
    return null;
  }
  // The accepted socket no longer owns the handle: destroying it now only settles the server's
  // connection count (so server.close() still completes) and closes nothing.
  (accepted as unknown as HandleSocket)._handle = null;
  accepted.destroy();
  return sock;
}
