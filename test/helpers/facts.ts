import type { HostConfig } from '../../src/config/host-config.js';
import type { HostFacts, LinkFacts, NamespaceFacts } from '../../src/host/types.js';

export const NOW = 1_800_000_000_000;

export const config: HostConfig = {
  netnsPattern: /^ns-\d+$/,
  tap: 'tap0',
  minAgeMs: 30_000,
  maxNamespaces: null,
  capacityWarn: 0.8,
  orchestratorComm: 'orchestrator',
  tunPath: '/dev/net/tun',
};

export function tap(over: Partial<LinkFacts> = {}): LinkFacts {
  const carrier = over.carrier ?? false;
  const adminUp = over.adminUp ?? true;
  const flags = [...(adminUp && !carrier ? ['NO-CARRIER'] : []), 'BROADCAST', 'MULTICAST', ...(adminUp ? ['UP'] : []), ...(carrier ? ['LOWER_UP'] : [])];
  return { name: 'tap0', ifindex: 2, flags, adminUp, carrier, operstate: carrier ? 'UP' : 'DOWN', ...over };
}

export function ns(name: string, over: Partial<NamespaceFacts> = {}): NamespaceFacts {
  return {
    name,
    inode: 4026532000 + Number(name.replace(/\D/g, '') || 0),
    nsid: 1,
    createdAtMs: NOW - 3_600_000,
    owned: config.netnsPattern.test(name),
    nsfs: true,
    processes: [],
    fdHolders: [],
    links: [tap()],
    tapHolders: {},
    ...over,
  };
}

export function facts(namespaces: NamespaceFacts[], over: Partial<HostFacts> = {}): HostFacts {
  return {
    takenAtMs: NOW,
    tun: { path: '/dev/net/tun', exists: true, isCharDevice: true, major: 10, minor: 200, openError: null, statError: null },
    maxNamespaces: 1000,
    maxNamespacesSource: 'kernel',
    namespaces,
    orchestrators: [],
    visibility: { pidNamespaceInode: 4026531836, capSysPtrace: true, unreadable: [], errors: [] },
    ...over,
  };
}
