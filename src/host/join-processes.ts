import type { ProcessEntry } from './proc-table.js';
import type { NamespaceFacts, ProcessRef, TapHolder, UnplacedTunFd } from './types.js';

/** Joins named namespaces with the /proc table: who is inside, who holds the namespace, who holds which tap. */
export type NamespaceKey = Pick<NamespaceFacts, 'name' | 'inode' | 'nsid' | 'createdAtMs' | 'owned' | 'nsfs' | 'symlink'>;

/**
 * Each namespace with the processes inside it, their tap fds, and the processes outside holding it by an fd. One
 * pass over the processes for all namespaces (an index by inode), not one per namespace.
 */
export function joinProcesses(namespaces: NamespaceKey[], procs: ProcessEntry[], selfPid = -1): NamespaceFacts[] {
  const index = indexProcesses(procs, selfPid);
  return namespaces.map((ns) => joinOne(index, ns));
}

/** Processes by the namespace they are inside, and by the namespaces they hold by an fd from outside. */
export interface ProcessIndex {
  inside: Map<number, ProcessEntry[]>;
  byFd: Map<number, ProcessEntry[]>;
  /** tun fds placed exactly (host/fd-probe.ts), by the namespace their device lives in */
  tunByNetns: Map<number, { p: ProcessEntry; fd: number; iff: string }[]>;
  /** holders of sockets placed exactly, by the namespace the socket lives in (vmgate itself left out) */
  sockByNetns: Map<number, ProcessEntry[]>;
}

export function indexProcesses(procs: ProcessEntry[], selfPid = -1): ProcessIndex {
  const inside = new Map<number, ProcessEntry[]>();
  const byFd = new Map<number, ProcessEntry[]>();
  const tunByNetns = new Map<number, { p: ProcessEntry; fd: number; iff: string }[]>();
  const sockByNetns = new Map<number, ProcessEntry[]>();
  const add = <T>(m: Map<number, T[]>, k: number, v: T) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  for (const p of procs) {
    for (const ino of p.netnsInodes) add(inside, ino, p);
    for (const ino of new Set(p.netnsFds)) if (!p.netnsInodes.includes(ino) && p.pid !== selfPid) add(byFd, ino, p);
    for (const t of p.tunFds) if (typeof t.devNetns === 'number') add(tunByNetns, t.devNetns, { p, fd: t.fd, iff: t.iff });
    if (p.pid === selfPid) continue;
    for (const ino of new Set((p.socketFds ?? []).map((s) => s.netns))) if (typeof ino === 'number' && !p.netnsInodes.includes(ino)) add(sockByNetns, ino, p);
  }
  return { inside, byFd, tunByNetns, sockByNetns };
}

/**
 * Shared by every namespace with nothing to list (frozen: nothing changes them). Most slots have no process inside and
 * no holder: four empty arrays and an empty object each cost 190 bytes a slot (1.9 MB at 10,000) in the gate's cache.
 */
const NO_REFS = Object.freeze([]) as unknown as ProcessRef[];
const NO_TAP_HOLDERS = Object.freeze({}) as Record<string, TapHolder[]>;

/** One namespace with the processes inside it, their tap fds, and the processes outside holding it by an fd. */
export function joinOne(index: ProcessIndex, ns: NamespaceKey): NamespaceFacts {
  // every field named, in one order (no spread): V8 gave each spread copy a map of its own (3 MB at 10,000 slots)
  const facts: NamespaceFacts = {
    name: ns.name,
    inode: ns.inode,
    nsid: ns.nsid,
    createdAtMs: ns.createdAtMs,
    owned: ns.owned,
    nsfs: ns.nsfs,
    processes: NO_REFS,
    fdHolders: NO_REFS,
    links: null,
    tapHolders: NO_TAP_HOLDERS,
    socketHolders: NO_REFS,
  };
  if (ns.symlink !== undefined) facts.symlink = ns.symlink;
  const byFd = index.byFd.get(ns.inode);
  if (byFd) facts.fdHolders = byFd.map((p) => ({ pid: p.pid, comm: p.comm }));
  const inside = index.inside.get(ns.inode);
  const tapHolder = (iff: string, ref: TapHolder) => {
    if (facts.tapHolders === NO_TAP_HOLDERS) facts.tapHolders = {};
    (facts.tapHolders[iff] ??= []).push(ref);
  };
  if (inside) {
    facts.processes = inside.map((p) => ({ pid: p.pid, comm: p.comm }));
    // not placed exactly: the tap of that name where the holder is (a placed fd is attributed below, wherever it is held from)
    for (const p of inside) for (const t of p.tunFds) if (typeof t.devNetns !== 'number') tapHolder(t.iff, { pid: p.pid, comm: p.comm, fd: t.fd });
  }
  for (const { p, fd, iff } of index.tunByNetns?.get(ns.inode) ?? []) tapHolder(iff, { pid: p.pid, comm: p.comm, fd });
  const socks = index.sockByNetns?.get(ns.inode);
  if (socks) facts.socketHolders = socks.map((p) => ({ pid: p.pid, comm: p.comm }));
  return facts;
}

/** Tun fds not placed exactly whose holder has no thread in any of these namespaces: they may hold any slot's tap. */
export function unplacedTunFds(procs: ProcessEntry[], slotInodes: ReadonlySet<number>): UnplacedTunFd[] {
  const out: UnplacedTunFd[] = [];
  for (const p of procs) {
    if (p.netnsInodes.some((i) => slotInodes.has(i))) continue;
    for (const t of p.tunFds) if (typeof t.devNetns !== 'number') out.push({ pid: p.pid, comm: p.comm, iff: t.iff });
  }
  return out;
}
