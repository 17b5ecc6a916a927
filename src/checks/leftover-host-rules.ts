import type { HostStateView } from './host-state.js';
import type { SlotsView } from './slots.js';
import type { CheckResult } from './types.js';

/**
 * Host state of dead slots (firewall rules and routes whose slot has no namespace, no veth and no unnamed namespace):
 * fails while no orchestrator runs (the prestart's job is a clean host), warns while one runs. Duplicates of a live
 * slot's rules warn. Host state that could not be read completely warns and nothing of it is judged.
 */
export function checkLeftoverHostRules(host: HostStateView | null, view: SlotsView): CheckResult {
  const id = 'leftover-host-rules';
  if (host === null) return { id, status: 'pass', message: 'slot layout is none: only namespaces are looked at', details: { layout: 'none' } };
  const details = summary(host);
  if (host.incomplete !== null) {
    return {
      id,
      status: 'unknown',
      message: `the host's slot state could not be read completely (${host.incomplete}): no rule or route is judged or deleted; install iptables and run vmgate as root in the host's network namespace`,
      details,
    };
  }
  const rules = host.orphaned.reduce((n, o) => n + o.rules.length, 0);
  const routes = host.orphaned.reduce((n, o) => n + o.routes.length, 0);
  const dups = host.duplicates.reduce((n, d) => n + d.copies - 1, 0);
  if (host.orphaned.length > 0) {
    const what = `${rules} firewall rules and ${routes} routes of ${host.orphaned.length} dead slots are left on the host (${sample(host.orphaned.map((o) => `slot ${o.index}: ${o.rules.length} rules`))})`;
    if (view.orchestratorRunning) {
      const pids = view.orchestrators.map((p) => p.pid).join(',');
      return {
        id,
        status: 'warn',
        message: `${what}; orchestrator is running (pid ${pids}), so vmgate leaves them: they match a future slot of the same index and are added again beside it`,
        details,
      };
    }
    return { id, status: 'fail', message: `no orchestrator runs, yet ${what}: run 'vmgate check --fix' (or 'vmgate cleanup')`, details };
  }
  if (dups > 0) {
    return {
      id,
      status: 'warn',
      message: `${dups} extra copies of live slots' rules (${sample(
        host.duplicates.map((d) => `slot ${d.index} x${d.copies}: ${d.rule.line}`),
        2,
      )}): the orchestrator's next removal of that slot leaves one copy behind; 'vmgate cleanup --dedupe-rules' leaves exactly one`,
      details,
    };
  }
  return {
    id,
    status: 'pass',
    message: `no firewall rule or route of a dead slot (${host.slots.size} slots, ${rulesOf(host)} rules)`,
    details,
  };
}

/** the gate judges on every change of names, against the host state last read: its rules are counted once */
const RULES = new WeakMap<HostStateView, number>();
function rulesOf(host: HostStateView): number {
  let n = RULES.get(host);
  if (n === undefined) RULES.set(host, (n = [...host.slots.values()].reduce((sum, s) => sum + s.rules, 0)));
  return n;
}

function summary(host: HostStateView): Record<string, unknown> {
  return {
    gateway: host.gateway,
    orphaned: host.orphaned.map((o) => ({ slot: o.index, veth: o.veth, hostIp: o.hostIp, rules: o.rules.length, routes: o.routes.length })),
    orphanedRules: host.orphaned.reduce((n, o) => n + o.rules.length, 0),
    duplicateRules: host.duplicates.reduce((n, d) => n + d.copies - 1, 0),
    unnamedSlotNamespaces: host.unnamed.map((u) => ({ slot: u.index, veth: u.veth, nsid: u.nsid, holders: u.holders })),
    foreignRules: host.foreign.length,
    ...(host.incomplete !== null ? { incomplete: host.incomplete } : {}),
  };
}

function sample(items: string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, and ${items.length - max} more`;
}
