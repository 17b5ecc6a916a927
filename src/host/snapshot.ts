import type { HostConfig } from '../config/host-config.js';
import { slotIndex, vethIndex } from '../config/slot-layout.js';
import { namespaceLimit, readMaxNetNamespaces } from './kernel-limits.js';
import { readSlotLinks, type LinkReader } from './links.js';
import { listNamedNamespaces, readNsids, NETNS_DIR } from './named-namespaces.js';
import { commMatches, readProcessTable, type ProcessTable } from './proc-table.js';
import { readTunDevice } from './tun-device.js';
import { placeFds } from './fd-probe.js';
import { readHostSide } from './host-side.js';
import { readPressure } from './pressure.js';
import { joinProcesses, unplacedTunFds } from './join-processes.js';
export { indexProcesses, joinOne, joinProcesses, type ProcessIndex } from './join-processes.js';
import type { HostFacts, NamespaceFacts, ProcessRef, VisibilityFacts } from './types.js';
import { readSelfFacts } from './visibility.js';

export interface SnapshotOptions {
  /** reuse a long-lived reader (the gate); otherwise one is opened and closed */
  reader?: LinkReader;
  netnsDir?: string;
}

/**
 * Places every attached tun fd and every socket of the table in the namespace its object lives in (one probe for
 * all; each socket once, however many processes share it). Returns why not, when some could not be placed: then a
 * slot that looks unused may be held by one of them (its use is unknown).
 */
export async function placeTunsAndSockets(table: ProcessTable, selfPid = process.pid): Promise<string | undefined> {
  const ask: { kind: 'tun' | 'sock'; pid: number; fd: number }[] = [];
  const firstOf = new Map<number, number>();
  for (const p of table.processes) {
    for (const t of p.tunFds) ask.push({ kind: 'tun', pid: p.pid, fd: t.fd });
    if (p.pid === selfPid) continue;
    for (const s of p.socketFds ?? []) if (!firstOf.has(s.inode)) firstOf.set(s.inode, ask.push({ kind: 'sock', pid: p.pid, fd: s.fd }) - 1);
  }
  const r = await placeFds(ask);
  if (r.error) return r.error;
  const tun = new Map(r.places.filter((x) => x.kind === 'tun').map((t) => [`${t.pid}:${t.fd}`, t]));
  let unplaced: string | undefined;
  const sockNetns = new Map<number, number | null>();
  for (const [inode, i] of firstOf) {
    const place = r.places[i]!;
    if (place.error && place.error !== 'gone') unplaced ??= `pid ${place.pid} holds a socket vmgate could not place (${place.error})`;
    sockNetns.set(inode, place.netnsInode);
  }
  for (const p of table.processes) {
    // an fd closed (or a process gone) since the pass holds nothing any more
    p.tunFds = p.tunFds.filter((t) => tun.get(`${p.pid}:${t.fd}`)?.error !== 'gone');
    for (const t of p.tunFds) t.devNetns = tun.get(`${p.pid}:${t.fd}`)?.netnsInode ?? null;
    for (const s of p.socketFds ?? []) s.netns = sockNetns.get(s.inode) ?? null;
  }
  return unplaced;
}

/** What the process table and /run/netns listing tell about vmgate's view of the host. */
export function visibilityOf(table: ProcessTable, netnsDirError?: string, self = readSelfFacts()): VisibilityFacts {
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
  const placeError = await placeTunsAndSockets(table);
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
  if (placeError) for (const n of namespaces) n.socketsUnreadable = placeError;
  const visibility = visibilityOf(table, listing.error);
  const layout = config.slotLayout;
  // the peers asked are those of veths whose slot has no named namespace (the report's unnamed slot namespaces)
  const namedIndexes = new Set(namespaces.filter((n) => n.owned).map((n) => slotIndex(n.name, config.netnsPattern)));
  const peerOf = (name: string) => {
    const i = layout ? vethIndex(layout, name) : null;
    return i !== null && !namedIndexes.has(i);
  };
  const hostSide = layout ? await readHostSide(table.processes, new Set(named.map((n) => n.inode)), peerOf) : undefined;
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
    pressure: readPressure(orchestratorsIn(table, config.orchestratorComm).map((p) => p.pid)),
  };
}

export async function readOwnedLinks(owned: NamespaceFacts[], shared?: LinkReader): Promise<void> {
  const links = await readSlotLinks(owned, shared);
  for (const n of owned) {
    const r = links.get(n.name);
    if (r instanceof Error || r === undefined) n.linkError = r?.message ?? 'no answer';
    else n.links = r;
  }
}
