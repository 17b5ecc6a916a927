import type { OrphanVmm } from '../checks/slots.js';
import { readProcessEntry, readStartTime } from '../host/proc-table.js';
import type { Logger } from '../logging/logger.js';
import { endThroughPidfds, type SignalOutcome } from './pidfd-signal.js';
import type { FixedEntry } from './types.js';

/** The pid is still the process we judged: same namespace, same tap attached (guards against pid reuse). */
export function stillHolds(o: OrphanVmm, netnsInode: number): boolean {
  const p = readProcessEntry(o.pid);
  return p !== null && p.netnsInodes.includes(netnsInode) && p.tunFds.some((t) => t.iff === o.tap);
}

/**
 * SIGTERM each orphan, SIGKILL what is left after the grace period, and wait for them to be gone: all through
 * pidfds opened on the very process verified here (its start time read before and after the verification).
 */
export async function killOrphans(orphans: { orphan: OrphanVmm; netnsInode: number }[], graceMs: number, log: Logger): Promise<FixedEntry[]> {
  const fixed: FixedEntry[] = [];
  const verified: { o: OrphanVmm; start: number }[] = [];
  for (const { orphan: o, netnsInode } of orphans) {
    const before = readStartTime(o.pid);
    if (before === null || !stillHolds(o, netnsInode) || readStartTime(o.pid) !== before) {
      fixed.push({ netns: o.netns, action: 'skipped', pid: o.pid, reason: 'process no longer holds the tap' });
      continue;
    }
    verified.push({ o, start: before });
  }
  const outcomes = await endThroughPidfds(
    verified.map((v) => ({ pid: v.o.pid, start: v.start })),
    graceMs,
  );
  for (const { o } of verified) {
    const r: SignalOutcome = outcomes.get(o.pid) ?? { result: 'failed', reason: 'no answer' };
    const line = { netns: o.netns, tap: o.tap, pid: o.pid, comm: o.comm };
    if (r.result === 'failed') {
      fixed.push({ netns: o.netns, action: 'failed', pid: o.pid, tap: o.tap, reason: r.reason });
      log.error({ ...line, err: r.reason }, `could not end orphaned VMM pid ${o.pid} (${o.comm}) holding ${o.netns}/${o.tap}: ${r.reason}`);
    } else if (r.result === 'gone') {
      fixed.push({ netns: o.netns, action: 'skipped', pid: o.pid, tap: o.tap, reason: r.reason ?? 'exited before it was signalled' });
    } else {
      fixed.push({ netns: o.netns, action: 'killed', pid: o.pid, tap: o.tap, reason: r.result });
      log.info({ ...line, signal: r.result }, `ended orphaned VMM pid ${o.pid} (${o.comm}) that held ${o.netns}/${o.tap} (${r.result})`);
    }
  }
  return fixed;
}
