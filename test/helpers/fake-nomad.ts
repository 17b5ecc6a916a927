import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Behaviour = (req: Seen) => { status: number; body: string } | 'hang';

/** A local server answering as Nomad does (JSON bodies, text error bodies), on a unix socket or TCP. */
export async function fakeNomad(
  behaviour: Behaviour,
  listen: { path: string } | { port: 0 },
): Promise<{ seen: Seen[]; server: Server; addr: string; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      const r = behaviour(s);
      if (r === 'hang') return;
      res.writeHead(r.status, { 'content-type': r.status < 300 ? 'application/json' : 'text/plain' });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  const a = server.address();
  const addr = typeof a === 'string' ? a : `http://127.0.0.1:${(a as AddressInfo).port}`;
  return {
    seen,
    server,
    addr,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export const OK: Behaviour = (req) => ({ status: 200, body: req.method === 'GET' ? '{"Meta":{},"Dynamic":{},"Static":{}}' : '{"Meta":{}}' });

/**
 * A stateful Task API stand-in for /v1/client/metadata, as Nomad's client endpoint behaves: POST merges the
 * given keys into the dynamic metadata (null unsets a key and is kept as null in Dynamic), GET returns
 * {Meta, Dynamic, Static}. `posts` lists every POST body's Meta.
 */
export async function statefulNomad(listen: { path: string } | { port: 0 }, deny: () => number = () => 0) {
  const dynamic: Record<string, string | null> = {};
  const posts: Record<string, string | null>[] = [];
  const n = await fakeNomad((req) => {
    const status = deny();
    if (status) return { status, body: 'Permission denied' };
    if (req.method === 'POST') {
      const meta = (JSON.parse(req.body) as { Meta: Record<string, string | null> }).Meta;
      posts.push(meta);
      Object.assign(dynamic, meta);
    }
    const current = Object.fromEntries(Object.entries(dynamic).filter(([, v]) => v !== null));
    return { status: 200, body: JSON.stringify({ Meta: current, Dynamic: dynamic, Static: {} }) };
  }, listen);
  return { ...n, dynamic, posts };
}
