import type { HostConfig } from '../config/host-config.js';
import type { HostFacts } from '../host/types.js';
import { checkHostVisibility } from './host-visibility.js';
import { checkLeftoverTaps } from './leftover-taps.js';
import { checkLeftoverHostRules } from './leftover-host-rules.js';
import { hostStateOf } from './host-state.js';
import { checkNetnsCapacity, countNamespaces } from './netns-capacity.js';
import { classifySlots, type SlotsView } from './slots.js';
import { checkTunDevice } from './tun-device.js';
import { blocks, type CheckResult } from './types.js';

/** The prestart checks, registered once: `--ignore` accepts exactly these ids, in this order they run. */
export const CHECKS = [
  { id: 'tun-device', run: (facts: HostFacts) => checkTunDevice(facts.tun) },
  { id: 'netns-capacity', run: (facts: HostFacts, config: HostConfig) => checkNetnsCapacity(countNamespaces(facts), config) },
  { id: 'host-visibility', run: (facts: HostFacts) => checkHostVisibility(facts) },
  {
    id: 'leftover-taps',
    run: (facts: HostFacts, config: HostConfig, view: SlotsView) => checkLeftoverTaps(view, config, hostStateOf(facts, config)?.unnamed.length ?? 0),
  },
  { id: 'leftover-host-rules', run: (facts: HostFacts, config: HostConfig, view: SlotsView) => checkLeftoverHostRules(hostStateOf(facts, config), view) },
] as const;

export const CHECK_IDS = CHECKS.map((c) => c.id);

/** Every check runs; --ignore demotes named failures to warnings ('all' demotes every one). */
export function runChecks(facts: HostFacts, config: HostConfig, ignore: ReadonlySet<string> = new Set()): { results: CheckResult[]; view: SlotsView } {
  const view = classifySlots(facts, config);
  const results = CHECKS.map((c) => c.run(facts, config, view));
  return { results: results.map((r) => demote(r, ignore)), view };
}

export function demote(r: CheckResult, ignore: ReadonlySet<string>): CheckResult {
  if (r.status !== 'fail' || !(ignore.has(r.id) || ignore.has('all'))) return r;
  return { ...r, status: 'warn', message: `${r.message} (failure ignored by --ignore)`, details: { ...r.details, ignored: true } };
}

/** No result blocks (checks/types.ts `blocks`: only fail does). */
export function allPassed(results: CheckResult[]): boolean {
  return results.every((r) => !blocks(r.status));
}
