import { assignNsids } from '../actions/assign-nsids.js';
import type { ExtraCheckId } from '../config/extra-checks.js';
import type { GateHost } from '../gate/gate-host.js';
import { readGateHostFacts } from '../host/gate-facts.js';
import { HolderIndex } from '../host/holder-index.js';
import { LinkMonitor } from '../host/link-monitor.js';
import { LinkReader, readLinksByName } from '../host/links.js';
import { listNamedNamespacesAsync, NETNS_DIR, netnsDirStamp, readNetnsNames, readNsids, statNamedNamespace } from '../host/named-namespaces.js';
import { NetnsDirWatch } from '../host/netns-dir-watch.js';
import { isAlive, readProcessEntry, readProcessTableAsync, type ProcessEntry } from '../host/proc-table.js';
import { readTunDevice } from '../host/tun-device.js';
import { existsSync } from 'node:fs';
import { readHostSide } from '../host/host-side.js';
import { readSelfFacts } from '../host/visibility.js';

/**
 * The real host, wired for the gate: ip monitor for events, netlink dumps for links, inotify on /run/netns,
 * an incrementally kept holder index, and nsid assignment from actions/ (the one change serve makes).
 */
export function realGateHost(
  tunPath: string,
  netnsDir = NETNS_DIR,
  extra: readonly ExtraCheckId[] = [],
): GateHost & { processesIn: (inode: number) => ProcessEntry[] } {
  const reader = new LinkReader(4);
  const holders = new HolderIndex();
  return {
    events: new LinkMonitor(),
    readLinks: (nsids) => reader.readMany(nsids),
    readLinksByName: (name) => readLinksByName(name),
    listNamespaces: () => listNamedNamespacesAsync(netnsDir),
    netnsDirStamp: () => netnsDirStamp(netnsDir),
    readNetnsNames: () => readNetnsNames(netnsDir),
    statNamespace: (name) => statNamedNamespace(`${netnsDir}/${name}`, name),
    readNsids: (names, listing) => readNsids(names, netnsDir, listing),
    namespaceExists: (name) => existsSync(`${netnsDir}/${name}`),
    assignNsids: (names) => assignNsids(names, netnsDir),
    watchNamespaces: (onChange) => new NetnsDirWatch(onChange, netnsDir),
    holders,
    isAlive,
    processTable: () => readProcessTableAsync(),
    gateFacts: () => readGateHostFacts(tunPath, extra),
    tun: () => readTunDevice(tunPath),
    self: () => readSelfFacts(),
    // who is inside unnamed namespaces is for check and inventory: serve counts them, and never passes over /proc for it
    hostSide: (peerOf) => readHostSide([], new Set(), peerOf),
    close: () => reader.close(),
    /** the processes inside one namespace (diagnoses in serve): from the index, never a whole-host pass */
    processesIn: (inode) =>
      holders
        .pidsIn(inode)
        .map((pid) => readProcessEntry(pid))
        .filter((p): p is ProcessEntry => p !== null && p.netnsInodes.includes(inode)),
  };
}
