import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Gate } from '../../gate/gate.js';
import { inventoryPieces } from '../inventory-report.js';
import type { Logger } from '../log.js';
import { readyForVm } from './ready-for-vm.js';
import { sendJson, sendText, streamText } from './respond.js';

export type ExtraRoute = (params: URLSearchParams) => Promise<{ status: number; body: unknown; headers?: Record<string, string> }>;

/** openapi.json at the package root (dist/src/sinks/http or, in tests, src/sinks/http), read once */
let openapi: string | null = null;
function openapiText(): string {
  if (openapi === null) {
    const at = ['../../../../openapi.json', '../../../openapi.json'].map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(p));
    openapi = at ? readFileSync(at, 'utf8') : '{"error":"openapi.json is not installed next to vmgate"}';
  }
  return openapi;
}

/** The gate's HTTP face. Routes are thin: each asks the gate or a sink and writes what it gets. */
export function createGateServer(gate: Gate, metrics: Registry, log: Logger, extra: Record<string, ExtraRoute> = {}): Server {
  const server = createServer((req, res) => {
    // nothing a client sends may end the process: a target URL cannot parse is a 400
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://vmgate');
      if (!(req.url ?? '/').startsWith('/')) throw new Error('not an origin-form target');
    } catch {
      return sendJson(res, 400, {
        ready: false,
        reason: 'bad-request',
        error: 'the request target is not a path (origin-form, e.g. /ready-for-vm?netns=ns-1)',
      });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: `method ${req.method} not allowed` });
    }
    const route = async () => {
      switch (url.pathname) {
        case '/ready-for-vm':
          return readyForVm(gate, req, res, url.searchParams);
        case '/healthz':
          return sendJson(res, gate.healthy ? 200 : 503, {
            ok: gate.healthy,
            watcher: gate.verdict.checks.find((c) => c.id === 'link-watcher')?.message ?? 'starting',
          });
        case '/inventory': {
          // streamed (chunked): each slot's JSON is kept with its judgement, and the loop yields between pieces of
          // 100 slots, so slot answers are not held up behind a 10 MB body at 30,000 slots (pieces of 500 were
          // ~140 KB strings, each a fresh large object whose pages fault in: answers alongside waited 50-120 ms)
          return streamText(
            res,
            200,
            inventoryPieces(await gate.slots(), (n) => gate.leakOf(n)),
            'application/json',
          );
        }
        case '/metrics':
          return sendText(res, 200, await metrics.metrics(), metrics.contentType);
        case '/openapi.json':
          return sendText(res, 200, openapiText(), 'application/json');
        default: {
          const handler = extra[url.pathname];
          if (handler) {
            const r = await handler(url.searchParams);
            for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
            return sendJson(res, r.status, r.body);
          }
          return sendJson(res, 404, { error: `no route ${url.pathname}` });
        }
      }
    };
    route().catch((err: Error) => {
      if (res.destroyed) return;
      log.error({ path: url.pathname, err: err.message }, `request ${url.pathname} failed: ${err.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  // CONNECT never reaches the request handler: without this the connection was closed with no answer
  server.on('connect', (_req, socket) => {
    socket.on('error', () => undefined);
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"method CONNECT not allowed"}',
    );
  });
  // a malformed request line or header never reaches the handler: answer 400 and close, never throw
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"ready":false,"reason":"bad-request","error":"malformed HTTP request"}',
      );
    else socket.destroy();
  });
  return server;
}
