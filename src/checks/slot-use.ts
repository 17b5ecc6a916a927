import { NET_DEV_MANY } from '../host/proc-table.js';
import type { LinkFacts, ProcessRef, TapHolder, UnplacedTunFd, VisibilityFacts } from '../host/types.js';

/**
 * The one rule for "is this slot in use?", used by classification (checks/slots.ts), cleanup's last re-check before
 * a delete (checks/recheck-leftover.ts) and the gate. Positive use wins; then anything that could not be read makes
 * the slot unknown; only then is it idle.
 */
export type SlotUse = { use: 'active'; by: string } | { use: 'idle' } | { use: 'unknown'; reason: string };

export interface SlotUseFacts {
  /** the configured tap's name */
  tap: string;
  /** processes with any thread inside the namespace */
  inside: ProcessRef[];
  /** attached tun fds on this slot's interfaces, by interface name */
  tapHolders: Record<string, TapHolder[]>;
  /** processes holding the namespace itself open as an fd */
  fdHolders: ProcessRef[];
  /** processes (anywhere) holding a socket that lives in this namespace; undefined: not looked at */
  socketHolders?: ProcessRef[];
  /** why the sockets living in the namespace could not be read (a socket held from outside would be missed) */
  socketsUnreadable?: string;
  /** links inside; null when they could not be read */
  links: LinkFacts[] | null;
  linkError?: string;
  /** the name is an nsfs mount where vmgate runs */
  nsfs: boolean;
  /** the name is a symbolic link (never followed, never deleted) */
  symlink?: boolean;
  name: string;
  /** tun fds whose device vmgate could not place in a namespace: a tap of that name anywhere may be theirs */
  unplacedTunFds?: UnplacedTunFd[];
  /** why no slot can be called unused (vmgate cannot see the host) */
  blind?: string | null;
  visibility?: VisibilityFacts;
}

export function judgeSlotUse(f: SlotUseFacts): SlotUse {
  const by = useEvidence(f);
  if (by !== null) return { use: 'active', by };
  const reason = unknownReason(f);
  return reason === null ? { use: 'idle' } : { use: 'unknown', reason };
}

/** Positive evidence of use, in the operator's words, or null. */
function useEvidence(f: SlotUseFacts): string | null {
  if (f.inside.length > 0) return `in use by ${pids(f.inside)} inside it`;
  for (const [iff, holders] of Object.entries(f.tapHolders)) if (holders.length > 0) return `${iff} attached by ${pids(holders)}`;
  if (f.fdHolders.length > 0) return `held open by ${pids(f.fdHolders)}`;
  if (f.socketHolders && f.socketHolders.length > 0) return `a socket in it is held by ${pids(f.socketHolders)}`;
  // only an attached process gives a tap carrier: LOWER_UP is use, whoever holds it and whether or not we can see them
  if (f.links?.find((l) => l.name === f.tap)?.carrier) return `${f.tap} has carrier: a process has it attached`;
  return null;
}

/** Why a slot with no evidence of use still cannot be called idle, or null. */
function unknownReason(f: SlotUseFacts): string | null {
  if (f.blind) return f.blind;
  if (f.symlink) return `/run/netns/${f.name} is a symbolic link, not a namespace: vmgate never follows or deletes it`;
  if (!f.nsfs) return `/run/netns/${f.name} is not a namespace mount in vmgate's mount namespace (mount propagation)`;
  if (f.links === null) return f.linkError ? `its links could not be read: ${f.linkError}` : 'its links have not been read yet (vmgate started moments ago)';
  const maybe = unreadableMayBeInside(f.links, f.visibility);
  if (maybe) return maybe;
  const names = new Set(f.links.map((l) => l.name));
  const unplaced = f.unplacedTunFds?.find((t) => names.has(t.iff));
  if (unplaced)
    return `pid ${unplaced.pid} (${unplaced.comm}) holds a tun fd on a '${unplaced.iff}' vmgate could not place${unplaced.why ? ` (${unplaced.why})` : ''}, and it may be this one`;
  if (f.socketsUnreadable) return `the sockets living in it could not be read (${f.socketsUnreadable})`;
  return null;
}

/**
 * The fail-closed rule, once: an unreadable process may be inside any slot whose interfaces are the ones its
 * /proc/PID/net/dev lists (or inside any slot at all, if that could not be read either; a list too long to read
 * whole rules out only slots with fewer than NET_DEV_MANY interfaces).
 */
export function unreadableMayBeInside(links: LinkFacts[], v: VisibilityFacts | undefined): string | null {
  if (!v || v.unreadable.length === 0) return null;
  const mine = links.map((l) => l.name).sort();
  for (const p of v.unreadable) {
    const maybe = p.netDevices === null || (p.netDevices === 'many' ? mine.length >= NET_DEV_MANY : sameNames(p.netDevices, mine));
    if (maybe) return `pid ${p.pid} (${p.comm}) could not be read (${p.what}) and may be inside it`;
  }
  return null;
}

function sameNames(a: string[], sortedB: string[]): boolean {
  if (a.length !== sortedB.length) return false;
  const sa = [...a].sort();
  return sa.every((x, i) => x === sortedB[i]);
}

/** A tap is busy when more than one process holds it: the next VMM attaching gets EBUSY. */
export function tapBusy(holders: readonly unknown[]): boolean {
  return holders.length > 1;
}

function pids(list: ProcessRef[]): string {
  const shown = list.slice(0, 3).map((p) => `pid ${p.pid} (${p.comm})`);
  return list.length > 3 ? `${shown.join(', ')} and ${list.length - 3} more` : shown.join(', ');
}
