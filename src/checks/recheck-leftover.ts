import type { HostConfig } from '../config/host-config.js';
import { indexProcesses, joinOne } from '../host/join-processes.js';
import type { NamedNamespace } from '../host/named-namespaces.js';
import type { ProcessEntry } from '../host/proc-table.js';
import type { LinkFacts, VisibilityFacts } from '../host/types.js';
import { slotUseFacts } from './slots.js';
import { judgeSlotUse } from './slot-use.js';

/** What cleanup sees of one leftover right before deleting it, while it holds an fd on the namespace. */
export interface RecheckFacts {
  name: string;
  /** the namespace the held fd is on */
  held: { inode: number; device: number };
  /** the name as it is now in /run/netns; null when it is gone */
  named: NamedNamespace | null;
  nowMs: number;
  /** the slot's links read again after the settle, an Error when they could not be */
  links: LinkFacts[] | Error | undefined;
  /** a fresh pass over /proc (tun fds placed where the probe could) */
  processes: ProcessEntry[];
  /** vmgate itself (it holds the fd) */
  selfPid: number;
  /** why the fresh pass's tun fds and sockets could not all be placed, if they could not */
  placeError?: string;
}

/**
 * Cleanup's last word on one leftover: null to delete it, or why it must be left alone. The identity of the name
 * is checked here; whether the slot is in use is the one slot-use rule (checks/slot-use.ts) over fresh facts.
 */
export function recheckLeftover(f: RecheckFacts, config: HostConfig): string | null {
  const named = f.named;
  if (!named) return 'already gone';
  if (named.symlink) return 'now a symbolic link';
  if (!named.nsfs) return 'no longer a namespace mount';
  // while the fd is held the kernel cannot give this inode to another namespace: same dev+ino is the same namespace
  if (named.inode !== f.held.inode || named.device !== f.held.device) return 'name now points at another namespace';
  if (!config.netnsPattern.test(f.name)) return 'no longer matches --netns-pattern';
  if (f.nowMs - named.createdAtMs < config.minAgeMs) return 'younger than --min-age';
  const index = indexProcesses(f.processes, f.selfPid);
  const ns = joinOne(index, { ...named, nsid: null, owned: true });
  // vmgate's own fd on it is not use; its own threads are never inside a slot
  ns.processes = ns.processes.filter((p) => p.pid !== f.selfPid);
  if (f.links instanceof Error || f.links === undefined) ns.linkError = f.links ? f.links.message : 'not read again';
  else ns.links = f.links;
  if (f.placeError) ns.socketsUnreadable = f.placeError;
  const visibility: VisibilityFacts = {
    pidNamespaceInode: null,
    capSysPtrace: null,
    unreadable: f.processes
      .filter((p) => p.unreadable !== undefined)
      .map((p) => ({ pid: p.pid, comm: p.comm, what: p.unreadable!, netDevices: p.netDevices ?? null })),
    errors: [],
    unplacedTunFds: f.processes
      .filter((p) => !p.netnsInodes.includes(f.held.inode))
      .flatMap((p) =>
        p.tunFds
          .filter((t) => typeof t.devNetns !== 'number')
          .map((t) => ({ pid: p.pid, comm: p.comm, iff: t.iff, ...(f.placeError ? { why: f.placeError } : {}) })),
      ),
  };
  const use = judgeSlotUse(slotUseFacts(ns, config.tap, null, visibility));
  if (use.use === 'active') return use.by;
  if (use.use === 'unknown') return use.reason;
  return null;
}
