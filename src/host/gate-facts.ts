import { readMaxNetNamespaces } from './kernel-limits.js';
import { readTunDeviceAsync } from './tun-device.js';
import type { TunDeviceFacts } from './types.js';
import { readSelfFacts, type SelfFacts } from './visibility.js';
import { readPrerequisites, type PrerequisiteFacts } from './prerequisites.js';
import type { ExtraCheckId } from '../config/extra-checks.js';
import { readPressure, type PressureFacts } from './pressure.js';

/** What the host gate re-reads at every evaluation: things that have no events. */
export interface GateHostFacts {
  /** how many names /run/netns holds (every name, slots or not) */
  namedCount: number;
  /** the names there that are not a namespace mount (a plain file: the mount did not propagate); symlinks left out */
  notMounted: string[];
  /** user.max_net_namespaces, null when unreadable */
  kernelLimit: number | null;
  tun: TunDeviceFacts;
  self: SelfFacts;
  /** the host prerequisites asked for with --extra-checks (none: empty) */
  prerequisites?: PrerequisiteFacts;
  /** how full the kernel's shared tables are (host-pressure) */
  pressure?: PressureFacts;
}

/** What has no events, read now; the names are not listed here (serve keeps them in its index, gate/netns-index.ts). */
export async function readGateHostFacts(tunPath: string, extra: readonly ExtraCheckId[] = []): Promise<Omit<GateHostFacts, 'namedCount' | 'notMounted'>> {
  // both through the thread pool, at once (the tun device's close waits on the kernel's rtnl lock: tun-device.ts)
  const [tun, pressure] = await Promise.all([readTunDeviceAsync(tunPath), readPressure()]);
  return {
    kernelLimit: readMaxNetNamespaces(),
    tun,
    self: readSelfFacts(),
    prerequisites: readPrerequisites(extra),
    pressure,
  };
}
