import type { HostConfig } from '../config/host-config.js';
import { tapState, type SlotsView } from './slots.js';
import type { CheckResult } from './types.js';

/** `unnamed`: slot namespaces alive without a name (a veth-N whose peer namespace is not in /run/netns): counted, never leftovers. */
export function checkLeftoverTaps(view: SlotsView, config: HostConfig, unnamed = 0): CheckResult {
  const leftovers = view.slots
    .filter((s) => s.leftover)
    .map((s) => ({ netns: s.name, tap: config.tap, tapState: tapState(s, config.tap), ageSeconds: s.ageSeconds }));
  const orphans = view.orphans.map((o) => ({ netns: o.netns, tap: o.tap, pid: o.pid, comm: o.comm }));
  const counts: Record<string, number> = { ...countStates(view), unnamedSlotNamespaces: unnamed };
  if (view.orchestratorRunning) {
    const pids = view.orchestrators.map((p) => p.pid).join(',');
    return {
      id: 'leftover-taps',
      status: 'pass',
      message: `orchestrator is running (pid ${pids}): its ${counts.idle} idle slots are its pool, not leftovers; cleanup is left to it`,
      details: { orchestrators: view.orchestrators, ...counts },
    };
  }
  const unknown = view.slots.filter((s) => s.state === 'unknown').map((s) => ({ netns: s.name, reason: s.unknownReason }));
  if (leftovers.length === 0 && orphans.length === 0) {
    if (unknown.length > 0) {
      return {
        id: 'leftover-taps',
        status: 'warn',
        message: `${unknown.length} slot namespaces could not be judged and are left alone (${sample(unknown.map((u) => u.netns))}: ${unknown[0]!.reason}); no leftover among the rest of ${view.slots.length} slots`,
        details: { unknownSlots: unknown, ...counts },
      };
    }
    return {
      id: 'leftover-taps',
      status: 'pass',
      message: `no leftover slot namespaces and no orphaned VMMs (${view.slots.length} slots)`,
      details: { ...counts },
    };
  }
  const parts: string[] = [];
  if (leftovers.length > 0) parts.push(`${leftovers.length} leftover slot namespaces (${sample(leftovers.map((l) => `${l.netns} ${l.tapState}`))})`);
  if (orphans.length > 0)
    parts.push(`${orphans.length} orphaned VMMs holding slot taps (${sample(orphans.map((o) => `pid ${o.pid} ${o.comm} on ${o.netns}/${o.tap}`))})`);
  const fix =
    orphans.length > 0 ? "run 'vmgate check --fix --kill-orphans' (or 'vmgate cleanup --kill-orphans')" : "run 'vmgate check --fix' (or 'vmgate cleanup')";
  return {
    id: 'leftover-taps',
    status: 'fail',
    message: `no orchestrator runs, yet there are ${parts.join(' and ')}: ${fix}`,
    details: { leftovers, orphans, ...(unknown.length > 0 ? { unknownSlots: unknown } : {}), ...counts },
  };
}

function countStates(view: SlotsView): Record<string, number> {
  const c: Record<string, number> = { slots: view.slots.length, active: 0, starting: 0, idle: 0, unknown: 0 };
  for (const s of view.slots) c[s.state]! += 1;
  return c;
}

function sample(items: string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, and ${items.length - max} more`;
}
