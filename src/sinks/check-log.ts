import type { CheckResult } from '../checks/types.js';
import type { Logger } from './log.js';

/** One line per check result: info for pass, warn for warn and unknown, error for fail. */
export function logCheckResults(log: Logger, results: CheckResult[]): void {
  for (const r of results) {
    const level = r.status === 'pass' ? 'info' : r.status === 'fail' ? 'error' : 'warn';
    log[level]({ check: r.id, status: r.status, ...pickNames(r.details) }, `${r.id}: ${r.message}`);
  }
}

/** Netns names and pids of a result, flattened so a log query can match them. */
function pickNames(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const leftovers = details.leftovers as { netns: string }[] | undefined;
  const orphans = details.orphans as { netns: string; pid: number }[] | undefined;
  const netns = [...(leftovers ?? []), ...(orphans ?? [])].map((x) => x.netns);
  if (netns.length > 0) out.netns = netns.length === 1 ? netns[0] : netns;
  if (orphans && orphans.length > 0) out.pid = orphans.length === 1 ? orphans[0]!.pid : orphans.map((o) => o.pid);
  if (typeof details.path === 'string') out.path = details.path;
  return out;
}
