import { setTimeout as sleep } from 'node:timers/promises';
import type { OrphanVmm } from '../checks/slots.js';
import { isAlive, readProcessEntry } from '../host/proc-table.js';
import type { Logger } from '../logging/logger.js';
import type { FixedEntry } from './types.js';

/** The pid is still the process we judged: same namespace, same tap attached (guards against pid reuse). */
export function stillHolds(o: OrphanVmm, netnsInode: number): boolean {
  const p = readProcessEntry(o.pid);
  return p !== null && p.netnsInodes.includes(netnsInode) && p.tunFds.some((t) => t.iff === o.tap) && isAlive(o.pid);
}

/** SIGTERM each orphan, SIGKILL what is left after the grace period, and wait for them to be gone. */
export async function killOrphans(orphans: { orphan: OrphanVmm; netnsInode: number }[], graceMs: number, log: Logger): Promise<FixedEntry[]> {
  const fixed: FixedEntry[] = [];
  const signalled: OrphanVmm[] = [];
  for (const { orphan: o, netnsInode } of orphans) {
    if (!stillHolds(o, netnsInode)) {
      fixed.push({ netns: o.netns, action: 'skipped', pid: o.pid, reason: 'process no longer holds the tap' });
      continue;
    }
    try {
      process.kill(o.pid, 'SIGTERM');
      signalled.push(o);
    } catch (err) {
      fixed.push({ netns: o.netns, action: 'failed', pid: o.pid, reason: `SIGTERM: ${(err as NodeJS.ErrnoException).code}` });
    }
  }
  const deadline = Date.now() + graceMs;
  while (signalled.some((o) => isAlive(o.pid)) && Date.now() < deadline) await sleep(50);
  for (const o of signalled) {
    let signal = 'SIGTERM';
    if (isAlive(o.pid)) {
      signal = 'SIGKILL';
      try {
        process.kill(o.pid, 'SIGKILL');
      } catch {
        /* exited between the check and the kill */
      }
    }
    const killDeadline = Date.now() + 2000;
    while (isAlive(o.pid) && Date.now() < killDeadline) await sleep(20);
    const alive = isAlive(o.pid);
    const entry: FixedEntry = alive
      ? { netns: o.netns, action: 'failed', pid: o.pid, tap: o.tap, reason: `still alive after ${signal}` }
      : { netns: o.netns, action: 'killed', pid: o.pid, tap: o.tap, reason: signal };
    fixed.push(entry);
    const line = { netns: o.netns, tap: o.tap, pid: o.pid, comm: o.comm, signal };
    if (alive) log.error(line, `orphaned VMM pid ${o.pid} (${o.comm}) holding ${o.netns}/${o.tap} survived ${signal}`);
    else log.info(line, `ended orphaned VMM pid ${o.pid} (${o.comm}) that held ${o.netns}/${o.tap} (${signal})`);
  }
  return fixed;
}
