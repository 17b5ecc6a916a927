import type { ServeFlags } from '../command-options.js';
import type { AddressInfo } from 'node:net';
import { durationOption, hostConfig, logConfig, str, wholeNumberOption } from '../../config/host-config.js';
import { UsageError } from '../../config/usage-error.js';
import { leakOptions } from '../../config/leak-options.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { realGateHost } from '../gate-host.js';
import { Gate } from '../../gate/gate.js';
import { failingIds, type HostVerdict } from '../../gate/host-verdict.js';
import { GATE_KEYS, NodeMetaPublisher } from '../../sinks/nomad-meta.js';
import { createGateServer } from '../../sinks/http/server.js';
import { diagnoseRoute, logDiagnoses } from '../../sinks/diagnose-sink.js';
import { DEFAULT_GUEST, validGuest } from '../../config/guest.js';
import { logGate } from '../../sinks/gate-log.js';
import { createLogger, type Logger } from '../../sinks/log.js';
import { createMetrics } from '../../sinks/metrics.js';
import { LoopMonitor } from '../../sinks/loop-monitor.js';

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen '${text}' must be HOST:PORT (e.g. 127.0.0.1:8431)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** --host-state-interval: a duration of at least 1 s. */
function hostStateMs(o: ServeFlags): number {
  const ms = durationOption(o, 'host-state-interval');
  if (ms < 1000) throw new UsageError(`--host-state-interval '${str(o, 'host-state-interval')}' must be at least 1s`);
  return ms;
}

export async function run(o: ServeFlags): Promise<number> {
  const config = hostConfig(o);
  const log = createLogger(logConfig(o));
  const listen = parseListen(str(o, 'listen'));
  const guest = str(o, 'guest');
  if (!validGuest(guest)) throw new UsageError(`--guest '${guest}' must be ADDR:PORT (e.g. ${DEFAULT_GUEST})`);
  const leaks = leakOptions(o);
  const host = realGateHost(config.tunPath, undefined, config.extraChecks);
  const gate = new Gate(config, host, {
    owns: (n) => config.netnsPattern.test(n),
    maxWaiters: wholeNumberOption(o, 'max-waiters', 1),
    recheckMs: durationOption(o, 'recheck-interval'),
    gateOnHost: true,
    leaks,
    hostStateMs: hostStateMs(o),
  });
  const waitLog = logGate(gate, log);
  const diagnoses = logDiagnoses(gate, log, host.processesIn);
  const meta = o['nomad-meta'] ? NodeMetaPublisher.fromEnv(log, GATE_KEYS) : null;
  await meta?.warm();
  if (meta) {
    meta.startRefresh();
    gate.on('verdict', (v: HostVerdict) => {
      if (v.reason !== 'starting') meta.publishLatest(String(v.ready), failingIds(v));
    });
  }
  const sync = await orchestratorStatus(o, log);
  if (sync) gate.on('verdict', (v) => sync.onVerdict(v));
  // the event-loop monitor runs at 10 ms only while requests come (sinks/loop-monitor.ts)
  const loop = new LoopMonitor();
  const server = createGateServer(gate, createMetrics(gate, sync, loop), log, { '/diagnose': diagnoseRoute(gate, guest, host.processesIn) });
  server.on('request', () => loop.touch());
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
      loop.close();
      sync?.stop();
      waitLog.stop();
      diagnoses.stop();
      setImmediate(() => server.closeAllConnections());
      // unset the node metadata, but never let Nomad hold up the exit beyond a second
      const unset = meta ? Promise.race([meta.unset(), sleep(1000)]) : Promise.resolve();
      // not unref'd: if the loop ran dry first, node would exit on its own and close its signal handle, and a
      // second SIGTERM in that moment would kill the process (seen under load); bin.ts exits explicitly instead
      void unset.then(() => setTimeout(() => resolve(0), 50));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  await gate.start();
  sync?.onVerdict(gate.verdict);
  sync?.start();
  return stopped;
}

/** --orchestrator-status ADDR: keep the orchestrator's own status in step with the verdict (loaded only when asked). */
async function orchestratorStatus(o: ServeFlags, log: Logger) {
  const addr = str(o, 'orchestrator-status');
  if (addr === '') return null;
  if (!/^[A-Za-z0-9.:[\]-]+:\d{1,5}$/.test(addr))
    throw new UsageError(`--orchestrator-status '${addr}' must be HOST:PORT (the orchestrator's GRPC_PORT, e.g. 127.0.0.1:5008)`);
  const holdMs = durationOption(o, 'orchestrator-status-hold');
  const stateFile = str(o, 'orchestrator-status-state') || `${process.env.NOMAD_TASK_DIR ?? '/run/vmgate'}/orchestrator-status.json`;
  const [{ OrchestratorClient }, { OrchestratorStatusSync }] = await Promise.all([
    import('../../orchestrator/client.js'),
    import('../../sinks/orchestrator-status.js'),
  ]);
  return new OrchestratorStatusSync(new OrchestratorClient(addr), log, { holdMs, stateFile, tickMs: Math.min(1000, Math.max(100, holdMs / 4)) });
}
