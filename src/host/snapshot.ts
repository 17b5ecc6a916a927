import type { HostConfig } from '../config/host-config.js';
import { slotIndex, vethIndex } from '../config/slot-layout.js';
import { namespaceLimit, readMaxNetNamespaces } from './kernel-limits.js';
import { enteredAsListed, readSlotLinksEntered, type EnteredLinks } from './links.js';
import { listNamedNamespaces, namesIn, readNsids, NETNS_DIR } from './named-namespaces.js';
import { commMatches, readProcessTable, type ProcessTable } from './proc-table.js';
import { readTunDevice } from './tun-device.js';
import { placeFds } from './fd-probe.js';
import { readHostSide } from './host-side.js';
import { readPressure } from './pressure.js';
import { joinProcesses, unplacedTunFds } from './join-processes.js';
export { indexProcesses, joinOne, joinProcesses, type ProcessIndex } from './join-processes.js';
import type { HostFacts, ProcessRef, VisibilityFacts } from './types.js';
import { readSelfFacts } from './visibility.js';

export interface SnapshotOptions {
  /** read every name's nsid (inventory --nsids); otherwise only when the host state needs them */
  nsids?: boolean;
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
  const dir = opts.netnsDir ?? NETNS_DIR;
  // the slots' links are read (child processes) while the names are looked at, the process table, fds and host
  // side read here (caught at once: a rejection nobody awaits yet would end the process)
  const linksRead = readSlotLinksEntered(
    namesIn(dir)
      .filter((name) => config.netnsPattern.test(name))
      .map((name) => ({ name })),
    dir,
  ).catch((err: Error) => err);
  const listing = listNamedNamespaces(dir);
  const named = listing.namespaces;
  const table = readProcessTable();
  const placeError = await placeTunsAndSockets(table);
  // nsids only when asked: the kernel walks its table of them for each name (2.7 s at 10,000 names, 25 s at 32,766)
  let nsidError: string | undefined;
  const nsidsOf = (names: string[]) => readNsids(names, dir, listing).catch((err: Error) => ((nsidError = err.message.split('\n')[0]), null));
  const nsids = opts.nsids && named.length > 0 ? await nsidsOf(named.map((n) => n.name)) : null;
  const namespaces = joinProcesses(
    named.map((n) => ({ ...n, nsid: nsids ? (nsids.get(n.name) ?? null) : undefined, owned: config.netnsPattern.test(n.name) })),
    table.processes,
  );
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
  // a veth whose peer is in a namespace with no slot name: is that namespace named otherwise? only nsids tell
  if (!nsids && hostSide?.links?.some((l) => typeof l.linkNetnsid === 'number' && peerOf(l.name))) {
    const ids = await nsidsOf(named.map((n) => n.name));
    if (ids) for (const n of namespaces) n.nsid = ids.get(n.name) ?? null;
  }
  const entered = await linksRead;
  const owned = namespaces.filter((x) => x.owned && x.nsfs);
  // a name made between the two listings was not read with the others
  const late = entered instanceof Error ? [] : owned.filter((n) => !entered.has(n.name));
  const again = late.length > 0 ? await readSlotLinksEntered(late, dir) : new Map<string, EnteredLinks>();
  for (const n of owned) {
    const r = entered instanceof Error ? entered : (entered.get(n.name) ?? again.get(n.name));
    const links = r === undefined || r instanceof Error ? (r ?? new Error('no answer')) : enteredAsListed(r, n.inode);
    if (links instanceof Error) n.linkError = links.message;
    else n.links = links;
  }
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
    ...(nsidError !== undefined ? { nsidError: `namespace ids could not be read (${nsidError})` } : {}),
    pressure: await readPressure(orchestratorsIn(table, config.orchestratorComm).map((p) => p.pid)),
  };
}
