import { readMaxNetNamespaces } from './kernel-limits.js';
import type { NamedNamespace } from './named-namespaces.js';
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

/** What has no events, read now; the names are not listed here (serve keeps them in its index, gate/netns-index.ts). */
export async function readGateHostFacts(tunPath: string, extra: readonly ExtraCheckId[] = []): Promise<Omit<GateHostFacts, 'named'>> {
  const pressure = readPressure();
  return {
    kernelLimit: readMaxNetNamespaces(),
    tun: readTunDevice(tunPath),
    self: readSelfFacts(),
    prerequisites: readPrerequisites(extra),
    pressure: await pressure,
  };
}
