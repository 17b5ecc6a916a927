import { readMaxNetNamespaces } from './kernel-limits.js';
import { listNamedNamespacesAsync, NETNS_DIR, type NamedNamespace } from './named-namespaces.js';
import { readTunDevice } from './tun-device.js';
import type { TunDeviceFacts } from './types.js';
import { readSelfFacts, type SelfFacts } from './visibility.js';
import { readPrerequisites, type PrerequisiteFacts } from './prerequisites.js';
import type { ExtraCheckId } from '../config/extra-checks.js';
import { readPressure, type PressureFacts } from './pressure.js';

/** What the host gate re-reads at every evaluation: things that have no events. */
export interface GateHostFacts {
  named: NamedNamespace[];
  /** user.max_net_namespaces, null when unreadable */
  kernelLimit: number | null;
  tun: TunDeviceFacts;
  self: SelfFacts;
  /** the host prerequisites asked for with --extra-checks (none: empty) */
  prerequisites?: PrerequisiteFacts;
  /** how full the kernel's shared tables are (host-pressure) */
  pressure?: PressureFacts;
}

export async function readGateHostFacts(tunPath: string, netnsDir = NETNS_DIR, extra: readonly ExtraCheckId[] = []): Promise<GateHostFacts> {
  const named = (await listNamedNamespacesAsync(netnsDir)).namespaces;
  return {
    named,
    kernelLimit: readMaxNetNamespaces(),
    tun: readTunDevice(tunPath),
    self: readSelfFacts(),
    prerequisites: readPrerequisites(extra),
    pressure: readPressure(),
  };
}
