import type { AddressInfo } from 'node:net';
import { durationOption, hostConfig, logConfig, str } from '../../config/host-config.js';
import { HOST_OPTIONS, type ParsedOptions } from '../../config/options.js';
import { UsageError } from '../../config/usage-error.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { Gate } from '../../gate/gate.js';
import { failingIds, type HostVerdict } from '../../gate/host-verdict.js';
import { GATE_KEYS, NodeMetaPublisher } from '../../sinks/nomad-meta.js';
import { createGateServer } from '../../sinks/http/server.js';
import { diagnoseRoute, logDiagnoses } from '../../sinks/diagnose-sink.js';
import { DEFAULT_GUEST, validGuest } from '../../diagnose/diagnose-slot.js';
import { logGate } from '../../sinks/gate-log.js';
import { createLogger } from '../../sinks/log.js';
import { createMetrics } from '../../sinks/metrics.js';
import type { Command } from '../command.js';

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen '${text}' must be HOST:PORT (e.g. 127.0.0.1:8431)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function positiveInt(o: ParsedOptions, name: string): number {
  const n = Number(str(o, name));
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} '${str(o, name)}' must be a whole number >= 1`);
  return n;
}

export const SERVE_OPTIONS = [
  ...HOST_OPTIONS,
  { name: 'listen', kind: 'string' as const, default: '127.0.0.1:8431', help: 'address of the HTTP gate' },
  { name: 'max-waiters', kind: 'string' as const, default: '1024', help: 'slot waits in flight at most (more answer 503 too-many-waiters)' },
  { name: 'nomad-meta', kind: 'boolean' as const, help: 'publish the host verdict as Nomad node metadata (vmgate_ready, vmgate_reason), only when it changes' },
  { name: 'recheck-interval', kind: 'string' as const, default: '10s', help: 'how often the tun device and kernel limit are re-read' },
  { name: 'guest', kind: 'string' as const, default: DEFAULT_GUEST, help: "the guest agent's ADDR:PORT, the only address GET /diagnose probes" },
];

export const serveCommand: Command = {
  name: 'serve',
  synopsis: '[--listen 127.0.0.1:8431]',
  summary: 'readiness gate sidecar: GET /ready-for-vm, /healthz, /inventory, /metrics',
  options: SERVE_OPTIONS,
  async run(o: ParsedOptions) {
    const config = hostConfig(o);
    const log = createLogger(logConfig(o));
    const listen = parseListen(str(o, 'listen'));
    const guest = str(o, 'guest');
    if (!validGuest(guest)) throw new UsageError(`--guest '${guest}' must be ADDR:PORT (e.g. ${DEFAULT_GUEST})`);
    const gate = new Gate(config, { owns: (n) => config.netnsPattern.test(n), maxWaiters: positiveInt(o, 'max-waiters'), recheckMs: durationOption(o, 'recheck-interval'), gateOnHost: true });
    const waitLog = logGate(gate, log);
    logDiagnoses(gate, log);
    const meta = o['nomad-meta'] ? NodeMetaPublisher.fromEnv(log, GATE_KEYS) : null;
    if (meta) {
      gate.on('verdict', (v: HostVerdict) => {
        if (v.reason !== 'starting') void meta.publish(String(v.ready), failingIds(v));
      });
    }
    const server = createGateServer(gate, createMetrics(gate), log, { '/diagnose': diagnoseRoute(gate, guest) });
    // bind first: callers get 503 "starting" instead of connection refused while the first read runs
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(`cannot listen on ${str(o, 'listen')}: ${err.code ?? err.message}`)));
      server.listen(listen.port, listen.host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    log.info({ listen: `${addr.address}:${addr.port}` }, `vmgate gate listening on ${addr.address}:${addr.port}`);
    const stopped = new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        // a second signal (Nomad, a supervisor, an impatient operator) must not cut the shutdown short
        if (stopping) return void log.info({ signal }, `${signal} again: already stopping`);
        stopping = true;
        log.info({ signal }, `${signal}: answering waits in flight with shutting-down and stopping`);
        server.close();
        gate.stop();
        waitLog.stop();
        setImmediate(() => server.closeAllConnections());
        // unset the node metadata, but never let Nomad hold up the exit beyond a second
        const unset = meta ? Promise.race([meta.unset(), sleep(1000)]) : Promise.resolve();
        void unset.then(() => setTimeout(() => resolve(0), 50).unref());
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
    await gate.start();
    return stopped;
  },
};
