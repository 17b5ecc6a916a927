import type { HostConfig } from '../config/host-config.js';
import { namespaceLimit, readMaxNetNamespaces } from './kernel-limits.js';
import { LinkReader, readLinksByName } from './links.js';
import { listNamedNamespaces, readNsids, NETNS_DIR } from './named-namespaces.js';
import { commMatches, readProcessTable, type ProcessEntry, type ProcessTable } from './proc-table.js';
import { readTunDevice } from './tun-device.js';
import type { HostFacts, LinkFacts, NamespaceFacts, ProcessRef, VisibilityFacts } from './types.js';
import { readSelfFacts } from './visibility.js';

export interface SnapshotOptions {
  /** reuse a long-lived reader (the gate); otherwise one is opened and closed */
  reader?: LinkReader;
  netnsDir?: string;
}

/** Joins named namespaces with the /proc table: who is inside, who holds the namespace, who holds which tap. */
type NamespaceKey = { name: string; inode: number; nsid: number | null; createdAtMs: number; owned: boolean; nsfs: boolean };

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
}

export function indexProcesses(procs: ProcessEntry[], selfPid = -1): ProcessIndex {
  const inside = new Map<number, ProcessEntry[]>();
  const byFd = new Map<number, ProcessEntry[]>();
  const add = (m: Map<number, ProcessEntry[]>, k: number, p: ProcessEntry) => {
    const list = m.get(k);
    if (list) list.push(p);
    else m.set(k, [p]);
  };
  for (const p of procs) {
    for (const ino of p.netnsInodes) add(inside, ino, p);
    for (const ino of new Set(p.netnsFds)) if (!p.netnsInodes.includes(ino) && p.pid !== selfPid) add(byFd, ino, p);
  }
  return { inside, byFd };
}

/** One namespace with the processes inside it, their tap fds, and the processes outside holding it by an fd. */
export function joinOne(index: ProcessIndex, ns: NamespaceKey): NamespaceFacts {
  const facts: NamespaceFacts = { ...ns, processes: [], fdHolders: [], links: null, tapHolders: {} };
  for (const p of index.byFd.get(ns.inode) ?? []) facts.fdHolders.push({ pid: p.pid, comm: p.comm });
  for (const p of index.inside.get(ns.inode) ?? []) {
    facts.processes.push({ pid: p.pid, comm: p.comm });
    for (const t of p.tunFds) (facts.tapHolders[t.iff] ??= []).push({ pid: p.pid, comm: p.comm, fd: t.fd });
  }
  return facts;
}

/** What the process table and /run/netns listing tell about vmgate's view of the host. */
export function visibilityOf(table: ProcessTable, netnsDirError?: string): VisibilityFacts {
  const self = readSelfFacts();
  const errors = [table.error, netnsDirError].filter((e): e is string => e !== undefined);
  const unreadable = table.processes
    .filter((p) => p.unreadable !== undefined)
    .map((p) => ({ pid: p.pid, comm: p.comm, what: p.unreadable!, netDevices: p.netDevices ?? null }));
  return { ...self, unreadable, errors };
}

export function orchestratorsIn(table: ProcessTable, comm: string): ProcessRef[] {
  return table.processes.filter((p) => commMatches(p.comm, comm)).map((p) => ({ pid: p.pid, comm: p.comm }));
}

export async function takeSnapshot(config: HostConfig, opts: SnapshotOptions = {}): Promise<HostFacts> {
  const listing = listNamedNamespaces(opts.netnsDir ?? NETNS_DIR);
  const named = listing.namespaces;
  // a FIFO or a hung mount in /run/netns makes ip hang: its timeout leaves every slot's links unread (unknown)
  let nsidError: string | undefined;
  const nsids =
    named.length > 0
      ? await readNsids(
          named.map((n) => n.name),
          opts.netnsDir ?? NETNS_DIR,
          listing,
        ).catch((err: Error) => ((nsidError = err.message.split('\n')[0]), new Map<string, number | null>()))
      : new Map<string, number | null>();
  const table = readProcessTable();
  const namespaces = joinProcesses(
    named.map((n) => ({ ...n, nsid: nsids.get(n.name) ?? null, owned: config.netnsPattern.test(n.name) })),
    table.processes,
  );
  if (nsidError === undefined)
    await readOwnedLinks(
      namespaces.filter((n) => n.owned && n.nsfs),
      opts.reader,
    );
  else for (const n of namespaces) n.linkError = `namespace ids could not be read (${nsidError})`;
  const { limit, source } = namespaceLimit(config.maxNamespaces, config.maxNamespaces === null ? readMaxNetNamespaces() : null);
  return {
    takenAtMs: Date.now(),
    tun: readTunDevice(config.tunPath),
    maxNamespaces: limit,
    maxNamespacesSource: source,
    namespaces,
    orchestrators: orchestratorsIn(table, config.orchestratorComm),
    visibility: visibilityOf(table, listing.error),
  };
}

export async function readOwnedLinks(owned: NamespaceFacts[], shared?: LinkReader): Promise<void> {
  const withId = owned.filter((n) => n.nsid !== null);
  if (withId.length > 0) {
    const reader = shared ?? new LinkReader(Math.min(4, withId.length));
    try {
      const links = await reader.readMany(withId.map((n) => n.nsid!));
      for (const n of withId) setLinks(n, links.get(n.nsid!));
    } finally {
      if (!shared) reader.close();
    }
  }
  for (const n of owned.filter((x) => x.nsid === null)) {
    try {
      n.links = await readLinksByName(n.name);
    } catch (err) {
      n.linkError = (err as Error).message.split('\n')[0];
    }
  }
}

function setLinks(n: NamespaceFacts, result: LinkFacts[] | Error | undefined): void {
  if (result instanceof Error) n.linkError = result.message;
  else n.links = result ?? null;
}
