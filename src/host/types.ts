/** Plain data read off the host. Everything in here is a fact, nothing a judgement. */

export interface ProcessRef {
  pid: number;
  comm: string;
}

export interface TapHolder extends ProcessRef {
  /** the fd number of the attached /dev/net/tun in the holder */
  fd: number;
}

export interface LinkFacts {
  name: string;
  ifindex: number;
  /** ip(8)-style flags, e.g. NO-CARRIER, BROADCAST, MULTICAST, UP, LOWER_UP */
  flags: string[];
  adminUp: boolean;
  /** LOWER_UP: the device runs; for a tap this means a process has it attached */
  carrier: boolean;
  operstate: string;
}

export interface NamespaceFacts {
  name: string;
  inode: number;
  nsid: number | null;
  createdAtMs: number;
  owned: boolean;
  /** processes whose network namespace this is */
  processes: ProcessRef[];
  /** processes holding an open fd on the namespace itself (these keep it alive too) */
  fdHolders: ProcessRef[];
  /** links inside, read only for owned namespaces; null when they could not be read */
  links: LinkFacts[] | null;
  linkError?: string;
  /** processes with an attached tun fd in this namespace, by interface name */
  tapHolders: Record<string, TapHolder[]>;
}

export interface TunDeviceFacts {
  path: string;
  exists: boolean;
  isCharDevice: boolean;
  major: number | null;
  minor: number | null;
  /** error code (EACCES, ENXIO, ENODEV...) of an O_RDWR open, null when it opened */
  openError: string | null;
  statError: string | null;
}

export interface HostFacts {
  takenAtMs: number;
  tun: TunDeviceFacts;
  /** the configured or kernel limit; null if neither could be had */
  maxNamespaces: number | null;
  maxNamespacesSource: 'flag' | 'kernel' | 'unknown';
  namespaces: NamespaceFacts[];
  orchestrators: ProcessRef[];
}
