import type { HostConfig } from '../config/host-config.js';
import { joinProcesses, orchestratorsIn, visibilityOf } from '../host/snapshot.js';
import { readProcessTable } from '../host/proc-table.js';
import { readTunDevice } from '../host/tun-device.js';
import type { HostFacts } from '../host/types.js';
import type { LinkStore } from './link-store.js';

/** Host facts from the live link state plus one /proc pass: no netlink dump, no process per namespace. */
export function liveFacts(store: LinkStore, config: HostConfig): HostFacts {
  const table = readProcessTable();
  const namespaces = [...store.byName.values()].map((ns) => {
    const f = joinProcesses({ name: ns.name, inode: ns.inode, nsid: ns.nsid, createdAtMs: ns.createdAtMs, owned: true, nsfs: true }, table.processes);
    f.links = ns.links ? [...ns.links.values()] : null;
    if (ns.linkError !== undefined) f.linkError = ns.linkError;
    return f;
  });
  return {
    takenAtMs: Date.now(),
    tun: readTunDevice(config.tunPath),
    maxNamespaces: config.maxNamespaces,
    maxNamespacesSource: config.maxNamespaces !== null ? 'flag' : 'unknown',
    namespaces,
    orchestrators: orchestratorsIn(table, config.orchestratorComm),
    visibility: visibilityOf(table),
  };
}
