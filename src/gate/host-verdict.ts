import { checkGateVisibility } from '../checks/host-visibility.js';
import { judgePrerequisites } from '../checks/prerequisites.js';
import { checkNetnsCapacity } from '../checks/netns-capacity.js';
import { checkTunDevice } from '../checks/tun-device.js';
import { checkSlotLeaks, type LeakSummary } from '../checks/slot-leaks.js';
import { checkLeftoverHostRules } from '../checks/leftover-host-rules.js';
import type { HostStateView } from '../checks/host-state.js';
import { blocks, type CheckResult } from '../checks/types.js';
import type { HostConfig } from '../config/host-config.js';
import type { LeakOptions } from '../config/leak-options.js';
import type { GateHostFacts } from '../host/gate-facts.js';
import { namespaceLimit } from '../host/kernel-limits.js';

export interface HostVerdict {
  ready: boolean;
  /** 'starting' until the first full evaluation has finished */
  reason?: 'starting';
  checks: CheckResult[];
  checkedAt: string;
}

export const STARTING: HostVerdict = { ready: false, reason: 'starting', checks: [], checkedAt: new Date(0).toISOString() };

export interface WatcherHealth {
  healthy: boolean;
  message: string;
  /** slot namespaces without an nsid: no events arrive for them */
  unwatched?: string[];
}

/**
 * The host gate: tun device usable, namespace capacity below the limit, link watcher healthy (and, in serve, slot
 * leaks below --leak-fail). Leftovers are not its business.
 */
export function evaluateHost(
  config: HostConfig,
  facts: GateHostFacts,
  ownedCount: number,
  watcher: WatcherHealth,
  leaks?: { summary: LeakSummary; opts: LeakOptions },
  hostState?: HostStateView | null,
): HostVerdict {
  const named = facts.named;
  const total = named.length;
  const { limit, source } = namespaceLimit(config.maxNamespaces, facts.kernelLimit);
  const checks: CheckResult[] = [
    checkTunDevice(facts.tun),
    checkNetnsCapacity(
      {
        total,
        owned: ownedCount,
        limit,
        limitSource: source,
      },
      config,
    ),
    linkWatcherCheck(watcher),
    checkGateVisibility(
      facts.self,
      named.filter((n) => !n.nsfs && !n.symlink).map((n) => n.name),
    ),
    // --extra-checks: a warning never blocks VM creation, a failure does, like any check
    ...judgePrerequisites(config.extraChecks ?? [], facts.prerequisites ?? {}, config, ownedCount),
    ...(leaks ? [checkSlotLeaks(leaks.summary, leaks.opts)] : []),
    // orphaned rules are judged like leaks: reported, never a reason to refuse a VM (the prestart reclaims them)
    ...(hostState ? [warnOnly(checkLeftoverHostRules(hostState, NO_ORCHESTRATOR_VIEW))] : []),
  ];
  return { ready: checks.every((c) => !blocks(c.status)), checks, checkedAt: new Date().toISOString() };
}

const NO_ORCHESTRATOR_VIEW = { takenAtMs: 0, blind: null, orchestratorRunning: false, orchestrators: [], slots: [], orphans: [] };

function warnOnly(r: CheckResult): CheckResult {
  if (r.status !== 'fail') return r;
  return {
    ...r,
    status: 'warn',
    message: r.message
      .replace(/^no orchestrator runs, yet /, '')
      .replace(/: run 'vmgate check --fix'.*$/, ": the next prestart 'vmgate check --fix' reclaims them"),
  };
}

/** What the outside sees change: readiness, and which checks fail or warn. */
export function verdictKey(v: HostVerdict): string {
  return `${v.ready}|${v.reason ?? ''}|${v.checks
    .filter((c) => c.status !== 'pass')
    .map((c) => `${c.id}:${c.status}`)
    .join(',')}`;
}

export function failingIds(v: HostVerdict): string[] {
  return v.reason === 'starting' ? ['starting'] : v.checks.filter((c) => c.status === 'fail').map((c) => c.id);
}

function linkWatcherCheck(w: WatcherHealth): CheckResult {
  const unwatched = w.unwatched ?? [];
  if (!w.healthy) return { id: 'link-watcher', status: 'fail', message: w.message, details: { unwatched } };
  if (unwatched.length > 0) {
    const names = unwatched.slice(0, 5).join(', ') + (unwatched.length > 5 ? `, and ${unwatched.length - 5} more` : '');
    return {
      id: 'link-watcher',
      status: 'warn',
      message: `${w.message}; ${unwatched.length} slot namespaces have no nsid and cannot be followed (${names}): 'ip netns set NAME auto' failed for them; their waits answer netns-unwatched`,
      details: { unwatched },
    };
  }
  return { id: 'link-watcher', status: 'pass', message: w.message, details: {} };
}
