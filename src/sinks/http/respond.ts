import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

export function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/**
 * A long body written piece by piece (chunked), yielding to the event loop between pieces and waiting for the
 * socket to drain when the client reads slowly: other requests are answered meanwhile. A client that goes away
 * ends the loop.
 */
export async function streamText(res: ServerResponse, status: number, pieces: Iterable<string>, type: string): Promise<void> {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  if (res.req.method === 'HEAD') return void res.end();
  for (const piece of pieces) {
    if (res.destroyed) return;
    if (!res.write(piece)) await drainedOrClosed(res);
    else await nextTurn();
  }
  if (!res.destroyed) res.end();
}

/** resolves when the socket drained or the response closed, leaving no listener behind */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
