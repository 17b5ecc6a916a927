import { judgePrerequisites } from '../checks/prerequisites.js';
import type { LeakSummary } from '../checks/slot-leaks.js';
import type { HostStateView } from '../checks/host-state.js';
import type { WatcherHealth } from '../checks/link-watcher.js';
import { runGate, type GateInput } from '../checks/registry.js';
import { blocks, type CheckResult } from '../checks/types.js';
import type { HostConfig } from '../config/host-config.js';
import type { LeakOptions } from '../config/leak-options.js';
import type { GateHostFacts } from '../host/gate-facts.js';

export type { WatcherHealth } from '../checks/link-watcher.js';

export interface HostVerdict {
  ready: boolean;
  /** 'starting' until the first full evaluation has finished */
  reason?: 'starting';
  checks: CheckResult[];
  checkedAt: string;
}

export const STARTING: HostVerdict = { ready: false, reason: 'starting', checks: [], checkedAt: new Date(0).toISOString() };

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
  pressureWindow?: GateInput['pressureWindow'],
): HostVerdict {
  const checks: CheckResult[] = [
    ...runGate({
      config,
      facts,
      ownedCount,
      watcher,
      ...(leaks ? { leaks } : {}),
      hostState: hostState ?? null,
      ...(pressureWindow ? { pressureWindow } : {}),
    }),
    // --extra-checks: a warning never blocks VM creation, a failure does, like any check
    ...judgePrerequisites(config.extraChecks ?? [], facts.prerequisites ?? {}, config, ownedCount),
  ];
  return { ready: checks.every((c) => !blocks(c.status)), checks, checkedAt: new Date().toISOString() };
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
