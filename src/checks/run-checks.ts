import type { HostConfig } from '../config/host-config.js';
import type { HostFacts } from '../host/types.js';
import { classifySlots, type SlotsView } from './slots.js';
import { PRESTART_CHECK_IDS, runPrestart } from './registry.js';
import { blocks, type CheckResult } from './types.js';

/** The prestart checks' ids, in the order they run (checks/registry.ts holds every check once). */
export const CHECK_IDS = PRESTART_CHECK_IDS;

/** Every check runs; --ignore demotes named failures to warnings ('all' demotes every one). */
export function runChecks(facts: HostFacts, config: HostConfig, ignore: ReadonlySet<string> = new Set()): { results: CheckResult[]; view: SlotsView } {
  const view = classifySlots(facts, config);
  const results = runPrestart({ facts, config, view });
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
