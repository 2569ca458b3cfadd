/**
 * The browser assets in gateway/public: the live cluster page at `GET /` (only when the request accepts
 * text/html; any other `GET /` goes on to the REST handler, unchanged) and the files it loads, at fixed
 * names (/client.js, /client.d.ts, /app.js, /app.css, /index.html, /favicon.ico). Files are read once
 * at start from the source tree (no copy in dist); the set of names is fixed, so a path-style REST
 * command can never be shadowed by a file that appears later.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The files served, by URL name. index.html is also `/` for browsers. */
export const STATIC_FILES = ['index.html', 'app.js', 'app.css', 'client.js', 'client.d.ts', 'favicon.svg'] as const;

/**
 * The page may only talk to its own origin (fetch, EventSource, WebSocket), load its own scripts and
 * styles, and not be framed. 'self' covers ws:/wss: to the same host in current browsers.
 */
const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** gateway/public, found by walking up from this file (gateway/src/rest in source, dist/gateway/src/rest built). */
export function publicDir(from: string = __dirname): string {
  for (let dir = from; ; ) {
    const p = path.join(dir, 'gateway', 'public');
    if (existsSync(path.join(p, 'index.html'))) return p;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`gateway/public not found above ${from}`);
    dir = up;
  }
}

function load(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const name of STATIC_FILES) {
    const body = readFileSync(path.join(dir, name));
    out.set(name, { body, type: TYPES[path.extname(name)] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return out;
}

/** True when the client asks for HTML (a browser navigation), not JSON. */
export function wantsHtml(req: FastifyRequest): boolean {
  const accept = String(req.headers.accept ?? '');
  return /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

export interface StaticDeps {
  /** The REST handler that `GET /` falls through to when the client does not want HTML. */
  rest: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
  dir?: string;
}

export function registerStatic(app: FastifyInstance, d: StaticDeps): void {
  const assets = load(d.dir ?? publicDir());

  const serve = (reply: FastifyReply, req: FastifyRequest, a: Asset): FastifyReply => {
    reply.headers(PAGE_HEADERS).header('etag', a.etag).type(a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.send(a.body);
  };

  for (const name of STATIC_FILES) {
    const a = assets.get(name)!;
    app.get(`/${name}`, async (req, reply) => serve(reply, req, a));
  }
  app.get('/favicon.ico', async (req, reply) => serve(reply, req, assets.get('favicon.svg')!));

  // HEAD / stays with the REST handler (a token check), so no HEAD route is derived from this one.
  const index = assets.get('index.html')!;
  app.route({
    method: 'GET',
    url: '/',
    exposeHeadRoute: false,
    handler: async (req, reply) => (wantsHtml(req) ? serve(reply, req, index) : d.rest(req, reply)),
  });
}
