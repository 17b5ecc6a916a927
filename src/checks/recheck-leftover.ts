import type { HostConfig } from '../config/host-config.js';
import type { NamedNamespace } from '../host/named-namespaces.js';
import type { ProcessEntry } from '../host/proc-table.js';
import type { LinkFacts } from '../host/types.js';

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
  /** a fresh pass over /proc */
  processes: ProcessEntry[];
  /** vmgate itself (it holds the fd) */
  selfPid: number;
}

/**
 * Cleanup's last word on one leftover: null to delete it, or why it must be left alone. Positive evidence only:
 * anything that could not be looked at again is a reason to leave it.
 */
export function recheckLeftover(f: RecheckFacts, config: HostConfig): string | null {
  const named = f.named;
  if (!named) return 'already gone';
  if (!named.nsfs) return 'no longer a namespace mount';
  // while the fd is held the kernel cannot give this inode to another namespace: same dev+ino is the same namespace
  if (named.inode !== f.held.inode || named.device !== f.held.device) return 'name now points at another namespace';
  if (!config.netnsPattern.test(f.name)) return 'no longer matches --netns-pattern';
  if (f.nowMs - named.createdAtMs < config.minAgeMs) return 'younger than --min-age';
  const users = f.processes.filter((p) => p.pid !== f.selfPid && (p.netnsInodes.includes(f.held.inode) || p.netnsFds.includes(f.held.inode)));
  if (users.length > 0) return `in use by pid ${users.map((p) => `${p.pid} (${p.comm})`).join(', ')}`;
  if (f.links instanceof Error || f.links === undefined) return `its tap could not be read again${f.links ? `: ${f.links.message}` : ''}`;
  const names = f.links
    .map((l) => l.name)
    .sort()
    .join(',');
  const maybe = f.processes.find((p) => p.unreadable && (!p.netDevices || p.netDevices.join(',') === names));
  if (maybe) return `pid ${maybe.pid} (${maybe.comm}) could not be read (${maybe.unreadable}) and may be inside it`;
  const tap = f.links.find((l) => l.name === config.tap);
  if (tap?.carrier) return `${config.tap} has carrier: a process has it attached`;
  return null;
}
