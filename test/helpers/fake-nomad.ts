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
export async function fakeNomad(behaviour: Behaviour, listen: { path: string } | { port: 0 }): Promise<{ seen: Seen[]; server: Server; addr: string; close: () => Promise<void> }> {
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
  return { seen, server, addr, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

export const OK: Behaviour = (req) => ({ status: 200, body: req.method === 'GET' ? '{"Meta":{},"Dynamic":{},"Static":{}}' : '{"Meta":{}}' });
