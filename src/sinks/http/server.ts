import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { classifySlots } from '../../checks/slots.js';
import type { Gate } from '../../gate/gate.js';
import { liveFacts } from '../../gate/live-facts.js';
import { inventoryJson } from '../inventory-report.js';
import type { Logger } from '../log.js';
import { readyForVm } from './ready-for-vm.js';
import { sendJson, sendText } from './respond.js';

export type ExtraRoute = (params: URLSearchParams) => Promise<{ status: number; body: unknown }>;

/** The gate's HTTP face. Routes are thin: each asks the gate or a sink and writes what it gets. */
export function createGateServer(gate: Gate, metrics: Registry, log: Logger, extra: Record<string, ExtraRoute> = {}): Server {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://vmgate');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: `method ${req.method} not allowed` });
    }
    const route = async () => {
      switch (url.pathname) {
        case '/ready-for-vm':
          return readyForVm(gate, req, res, url.searchParams);
        case '/healthz':
          return sendJson(res, gate.healthy ? 200 : 503, { ok: gate.healthy, watcher: gate.verdict.checks.find((c) => c.id === 'link-watcher')?.message ?? 'starting' });
        case '/inventory':
          return sendJson(res, 200, inventoryJson(classifySlots(liveFacts(gate.store, gate.config), gate.config)));
        case '/metrics':
          return sendText(res, 200, await metrics.metrics(), metrics.contentType);
        default: {
          const handler = extra[url.pathname];
          if (handler) {
            const r = await handler(url.searchParams);
            return sendJson(res, r.status, r.body);
          }
          return sendJson(res, 404, { error: `no route ${url.pathname}` });
        }
      }
    };
    route().catch((err: Error) => {
      log.error({ path: url.pathname, err: err.message }, `request ${url.pathname} failed: ${err.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}
