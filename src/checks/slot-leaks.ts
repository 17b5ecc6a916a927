import { formatDuration } from '../config/duration.js';
import type { LeakOptions } from '../config/leak-options.js';
import type { CheckResult } from './types.js';

export interface SuspectedLeak {
  netns: string;
  idleSeconds: number;
}

/** What serve's leak tracking knows at one moment (gate/leak-tracker.ts). */
export interface LeakSummary {
  /** null once a pass over /proc has been judged; otherwise why no slot can be judged (not yet, vmgate is blind) */
  notJudged: string | null;
  orchestratorRunning: boolean;
  /** oldest first */
  suspected: SuspectedLeak[];
  /** slots idle right now, suspected or not */
  idle: number;
  /** idle never-used slots taken as the orchestrator's pool of new slots (--leak-pool) */
  pool: number;
}

const SHOWN = 20;

/**
 * slot-leaks: pass below --leak-warn suspected leaks, warn from it (never blocks), fail from --leak-fail.
 * vmgate deletes nothing while the orchestrator runs: the message says where to look and what reclaims them.
 */
export function checkSlotLeaks(s: LeakSummary, o: LeakOptions): CheckResult {
  const age = formatDuration(o.ageMs);
  const count = s.suspected.length;
  const oldest = s.suspected[0] ?? null;
  const names = s.suspected.slice(0, SHOWN).map((x) => x.netns);
  const details = {
    count,
    oldest: oldest ? { netns: oldest.netns, idleSeconds: oldest.idleSeconds } : null,
    names,
    idle: s.idle,
    pool: s.pool,
    leakAgeSeconds: o.ageMs / 1000,
    warnAt: o.warn,
    failAt: o.fail,
    orchestratorRunning: s.orchestratorRunning,
  };
  if (s.notJudged !== null) return { id: 'slot-leaks', status: 'unknown', message: s.notJudged, details };
  if (!s.orchestratorRunning)
    return {
      id: 'slot-leaks',
      status: 'pass',
      message: `no orchestrator running: ${s.idle} idle slots are leftovers, not leaks (the prestart check reclaims them)`,
      details,
    };
  const status = o.fail !== null && count >= o.fail ? 'fail' : count >= o.warn ? 'warn' : 'pass';
  if (status === 'pass')
    return {
      id: 'slot-leaks',
      status,
      message: `${count} slots idle longer than ${age} while the orchestrator runs (warn from ${o.warn}); ${s.idle} idle now, ${s.pool} of them its pool of new slots`,
      details,
    };
  const more = count > SHOWN ? `, and ${count - SHOWN} more` : '';
  const limit = status === 'fail' ? ` (--leak-fail ${o.fail}: VM creation is refused)` : '';
  return {
    id: 'slot-leaks',
    status,
    message:
      `${count} slot namespaces have been idle longer than ${age} while the orchestrator runs: suspected leaks${limit}; ` +
      `oldest ${oldest!.netns} idle ${formatDuration(oldest!.idleSeconds * 1000)} (${names.join(', ')}${more}). ` +
      `Find in the orchestrator's log why these sandboxes failed and their slots were not reused or removed; ` +
      `vmgate deletes nothing while it runs: 'vmgate check --fix' reclaims them before its next start`,
    details,
  };
}
