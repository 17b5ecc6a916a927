import type { HostConfig } from '../config/host-config.js';
import { namespaceLimit, readMaxNetNamespaces } from './kernel-limits.js';
import { LinkReader, readLinksByName } from './links.js';
import { listNamedNamespaces, readNsids, NETNS_DIR } from './named-namespaces.js';
import { commMatches, readProcessTable, type ProcessEntry, type ProcessTable } from './proc-table.js';
import { readTunDevice } from './tun-device.js';
import { probeFds } from './fd-probe.js';
import { readHostSide } from './host-side.js';
import { joinProcesses, unplacedTunFds } from './join-processes.js';
export { indexProcesses, joinOne, joinProcesses, type ProcessIndex } from './join-processes.js';
import type { HostFacts, LinkFacts, NamespaceFacts, ProcessRef, VisibilityFacts } from './types.js';
import { readSelfFacts } from './visibility.js';

export interface SnapshotOptions {
  /** reuse a long-lived reader (the gate); otherwise one is opened and closed */
  reader?: LinkReader;
  netnsDir?: string;
}

/** Places every attached tun fd of the table exactly (pidfd_getfd + TUNGETDEVNETNS); returns why not, if it could not. */
export async function placeTunFds(table: ProcessTable): Promise<string | undefined> {
  const fds = table.processes.flatMap((p) => p.tunFds.map((t) => ({ pid: p.pid, fd: t.fd })));
  if (fds.length === 0) return undefined;
  const r = await probeFds(fds, []);
  if (r.error) return r.error;
  const where = new Map(r.tun.map((t) => [`${t.pid}:${t.fd}`, t]));
  for (const p of table.processes) {
    // an fd closed (or a process gone) since the pass holds nothing any more
    p.tunFds = p.tunFds.filter((t) => where.get(`${p.pid}:${t.fd}`)?.error !== 'gone');
    for (const t of p.tunFds) t.devNetns = where.get(`${p.pid}:${t.fd}`)?.netnsInode ?? null;
  }
  return undefined;
}

/**
 * Which processes hold a socket living in each given namespace (a socket made inside a slot and carried out keeps
 * the slot in use). Sets socketHolders, or socketsUnreadable where the namespace's sockets could not be read.
 */
export async function findSocketHolders(namespaces: { facts: NamespaceFacts; path: string }[], procs: ProcessEntry[], selfPid = process.pid): Promise<void> {
  if (namespaces.length === 0) return;
  const r = await probeFds(
    [],
    namespaces.map((n) => n.path),
  );
  const holders = new Map<number, ProcessEntry[]>();
  for (const p of procs) {
    if (p.pid === selfPid) continue;
    for (const ino of p.socketInodes ?? []) {
      const list = holders.get(ino);
      if (list) list.push(p);
      else holders.set(ino, [p]);
    }
  }
  for (const { facts, path } of namespaces) {
    const inodes = r.error ?? r.sockets.get(path) ?? 'no answer';
    if (typeof inodes === 'string') {
      facts.socketsUnreadable = inodes;
      continue;
    }
    const found = new Map<number, ProcessRef>();
    for (const ino of inodes) for (const p of holders.get(ino) ?? []) found.set(p.pid, { pid: p.pid, comm: p.comm });
    facts.socketHolders = [...found.values()];
  }
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
  const placeError = await placeTunFds(table);
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
  // a socket made inside a slot and carried out keeps it in use: looked for only where nothing else says so
  const quiet = namespaces.filter((n) => n.owned && n.nsfs && !n.symlink && n.links !== null && !hasUse(n, config.tap));
  await findSocketHolders(
    quiet.map((n) => ({ facts: n, path: `${opts.netnsDir ?? NETNS_DIR}/${n.name}` })),
    table.processes,
  );
  const visibility = visibilityOf(table, listing.error);
  const hostSide = config.slotLayout ? await readHostSide(table.processes, new Set(named.map((n) => n.inode))) : undefined;
  const slotInodes = new Set(namespaces.filter((n) => n.owned).map((n) => n.inode));
  visibility.unplacedTunFds = unplacedTunFds(table.processes, slotInodes);
  if (placeError) for (const u of visibility.unplacedTunFds) u.why = placeError;
  const { limit, source } = namespaceLimit(config.maxNamespaces, config.maxNamespaces === null ? readMaxNetNamespaces() : null);
  return {
    takenAtMs: Date.now(),
    tun: readTunDevice(config.tunPath),
    maxNamespaces: limit,
    maxNamespacesSource: source,
    namespaces,
    orchestrators: orchestratorsIn(table, config.orchestratorComm),
    visibility,
    ...(hostSide ? { hostSide } : {}),
  };
}

/** Positive evidence of use found without the fd probe: a process, a tap holder, an fd on it, or carrier. */
function hasUse(n: NamespaceFacts, tap: string): boolean {
  return (
    n.processes.length > 0 ||
    n.fdHolders.length > 0 ||
    Object.values(n.tapHolders).some((h) => h.length > 0) ||
    n.links?.find((l) => l.name === tap)?.carrier === true
  );
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
