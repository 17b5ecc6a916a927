import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Gate } from '../gate/gate.js';
import { CHECK_STATUSES } from '../checks/types.js';
import { pressureTables } from '../checks/pressure.js';
import { ORCHESTRATOR_STATUSES } from '../orchestrator/client.js';
import type { OrchestratorStatusSync } from './orchestrator-status.js';
import { COARSE_MS, FINE_MS, LoopMonitor } from './loop-monitor.js';

/** prom-client's event-loop histograms: its monitor wakes the process every 10 ms; vmgate's own (below) replaces them */
const PROM_LOOP_LAG = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((q) => `nodejs_eventloop_lag_${q}_seconds`);

/** Prometheus text for /metrics: a sink of the gate's results, never a source of judgement. */
export function createMetrics(gate: Gate, sync?: OrchestratorStatusSync | null, delay: LoopMonitor = new LoopMonitor()): Registry {
  const registry = new Registry();
  // process_resident_memory_bytes, nodejs_heap_size_used_bytes, GC durations: the footprint an operator budgets for
  // (its event-loop monitor set to a minute: the histograms it feeds are not exported, see PROM_LOOP_LAG)
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 60_000 });
  // prom-client names these gauges *_total, a counter's suffix (promtool check metrics flags them): not exported
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total', ...PROM_LOOP_LAG])
    registry.removeSingleMetric(name);
  // how long callbacks waited for the event loop since the last scrape: a stalled gate shows here first (sinks/loop-monitor.ts)
  const loop = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  const known = `known to within ${FINE_MS} ms while requests come, ${COARSE_MS} ms otherwise`;
  loop('vmgate_event_loop_delay_p50_seconds', `Event-loop delay since the previous scrape: median (${known})`, () => delay.percentile(50));
  loop('vmgate_event_loop_delay_p99_seconds', `Event-loop delay since the previous scrape: 99th percentile (${known})`, () => delay.percentile(99));
  new Gauge({
    name: 'vmgate_event_loop_delay_max_seconds',
    help: `Event-loop delay since the previous scrape: the longest (the window restarts at each scrape; ${known})`,
    registers: [registry],
    collect() {
      this.set(delay.max());
      delay.reset();
    },
  });
  new Gauge({
    name: 'vmgate_check_status',
    help: 'Host gate check results: 1 for the current status of each check',
    labelNames: ['check', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of gate.verdict.checks) for (const s of CHECK_STATUSES) this.set({ check: c.id, status: s }, c.status === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vmgate_host_ready',
    help: '1 when /ready-for-vm answers 200',
    registers: [registry],
    collect() {
      this.set(gate.verdict.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vmgate_namespaces',
    help: 'Slot namespaces by state (active, starting, idle, unknown)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await gate.slotCounts();
      this.reset();
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'vmgate_slot_links_unread',
    help: 'Slot namespaces whose links the gate has not read yet (read in the background after start; 0 once settled)',
    registers: [registry],
    collect() {
      this.set(gate.linksPending);
    },
  });
  new Gauge({
    name: 'vmgate_carrier_waiters',
    help: 'Slot waits in flight',
    registers: [registry],
    collect() {
      this.set(gate.waiting);
    },
  });
  new Gauge({
    name: 'vmgate_link_watcher_restarts',
    help: 'Times the link watcher (ip monitor) was restarted since start',
    registers: [registry],
    collect() {
      this.set(gate.restarts);
    },
  });
  new Gauge({
    name: 'vmgate_suspected_leaks',
    help: 'Slot namespaces idle longer than --leak-age while the orchestrator runs (the slot-leaks check counts these)',
    registers: [registry],
    collect() {
      this.set(gate.leakSummary?.suspected.length ?? 0);
    },
  });
  const overflows = new Counter({
    name: 'vmgate_link_event_overflows_total',
    help: "Times the link watcher's netlink socket overflowed and events were lost (each followed by a full re-read)",
    registers: [registry],
  });
  gate.on('watcher', (event) => {
    if (event === 'overflow') overflows.inc();
  });
  // the kernel's shared tables (host-pressure): used against limit, and refusals seen since start
  new Gauge({
    name: 'vmgate_kernel_table_used',
    help: 'Entries in use in a kernel table all slots share (neigh4, neigh6, conntrack, ports, files, nbd), as last read',
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of gate.pressure ? pressureTables(gate.pressure) : []) this.set({ table: t.table }, t.used);
    },
  });
  new Gauge({
    name: 'vmgate_kernel_table_limit',
    help: "That table's limit (gc_thresh3, nf_conntrack_max, the port range, fs.file-max, nbds_max)",
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of gate.pressure ? pressureTables(gate.pressure) : []) if (t.limit !== null) this.set({ table: t.table }, t.limit);
    },
  });
  new Counter({
    name: 'vmgate_kernel_table_full_events_total',
    help: 'Entries the kernel refused (neighbour table_fulls) or dropped (conntrack drop, early_drop, insert_failed) since vmgate started',
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [table, n] of Object.entries(gate.refusalsTotal)) this.inc({ table }, n);
    },
  });
  new Gauge({
    name: 'vmgate_orphaned_host_rules',
    help: 'Firewall rules of dead slots left on the host (no namespace, no veth), as last read (--host-state-interval)',
    registers: [registry],
    collect() {
      this.set(gate.hostState?.orphaned.reduce((n, o) => n + o.rules.length, 0) ?? 0);
    },
  });
  new Gauge({
    name: 'vmgate_unnamed_slot_namespaces',
    help: 'Slot namespaces alive without a name in /run/netns (a host veth whose peer namespace has none)',
    registers: [registry],
    collect() {
      this.set(gate.hostState?.unnamed.length ?? 0);
    },
  });
  // from idle to in use again: the distribution an operator picks --leak-age from
  const idle = new Histogram({
    name: 'vmgate_slot_idle_seconds',
    help: 'How long slots that went idle stayed idle before they were used again',
    buckets: [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400],
    registers: [registry],
  });
  gate.on('leak', (notice) => {
    if (notice.kind === 'idle-ended') idle.observe(notice.seconds);
  });
  const waits = new Counter({ name: 'vmgate_carrier_waits_total', help: 'Finished slot waits by reason', labelNames: ['reason'], registers: [registry] });
  const duration = new Histogram({
    name: 'vmgate_carrier_wait_seconds',
    help: 'Time from a slot wait request to its answer',
    labelNames: ['reason'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  gate.on('finished', (a) => {
    waits.inc({ reason: a.reason });
    duration.observe({ reason: a.reason }, a.waitedMs / 1000);
  });
  if (sync) {
    new Gauge({
      name: 'vmgate_orchestrator_status',
      help: "The orchestrator's own status as vmgate last read it (1 on the current one; none when it could not be read)",
      labelNames: ['status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of ORCHESTRATOR_STATUSES) this.set({ status: s }, sync.status === s ? 1 : 0);
      },
    });
    new Counter({
      name: 'vmgate_orchestrator_status_changes_total',
      help: "Times vmgate set the orchestrator's status, by the status it set",
      labelNames: ['status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [status, n] of sync.changes) this.inc({ status }, n);
      },
    });
    new Counter({
      name: 'vmgate_orchestrator_errors_total',
      help: "Failed reads or changes of the orchestrator's status, by gRPC code",
      labelNames: ['code'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [code, n] of sync.errors) this.inc({ code }, n);
      },
    });
  }
  return registry;
}
