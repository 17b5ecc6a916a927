import type { PressureFacts } from './pressure.js';
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
  /** null: it has none in the host namespace; undefined: not read (inventory asks with --nsids; 2.7 s at 10,000) */
  nsid: number | null | undefined;
  createdAtMs: number;
  owned: boolean;
  /** the name is an nsfs mount in vmgate's mount namespace; false: a plain file (unpropagated mount) or unreadable */
  nsfs: boolean;
  /** the name is a symbolic link: judged by what it is, never followed, never deleted */
  symlink?: boolean;
  /** processes whose network namespace this is (any of their threads) */
  processes: ProcessRef[];
  /** processes holding an open fd on the namespace itself (these keep it alive too) */
  fdHolders: ProcessRef[];
  /** links inside, read only for owned namespaces; null when they could not be read */
  links: LinkFacts[] | null;
  linkError?: string;
  /** processes with an attached tun fd in this namespace, by interface name */
  tapHolders: Record<string, TapHolder[]>;
  /** processes anywhere holding a socket that lives in this namespace; absent: not looked at (it was in use anyway) */
  socketHolders?: ProcessRef[];
  /** why the sockets living in it could not be read */
  socketsUnreadable?: string;
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

/** Whether vmgate could see everything it needs to call a slot unused. */
export interface VisibilityFacts {
  /** vmgate's own PID namespace inode (the host's is 4026531836); null if unreadable */
  pidNamespaceInode: number | null;
  capSysPtrace: boolean | null;
  /** processes whose namespace or fds could not be read: any slot may be theirs */
  unreadable: { pid: number; comm: string; what: string; netDevices: string[] | null | 'many' }[];
  /** /proc or /run/netns could not be listed */
  errors: string[];
  /** tun fds vmgate could not place in a namespace, held by processes outside every slot: any slot's tap may be theirs */
  unplacedTunFds?: UnplacedTunFd[];
}

export interface UnplacedTunFd {
  pid: number;
  comm: string;
  iff: string;
  /** why it could not be placed (the probe's error), when known */
  why?: string;
}

export interface HostFacts {
  takenAtMs: number;
  tun: TunDeviceFacts;
  /** the configured or kernel limit; null if neither could be had */
  maxNamespaces: number | null;
  maxNamespacesSource: 'flag' | 'kernel' | 'unknown';
  namespaces: NamespaceFacts[];
  orchestrators: ProcessRef[];
  visibility: VisibilityFacts;
  /** links, routes and firewall rules of the host namespace (read when a slot layout is configured) */
  hostSide?: HostSideFacts;
  /** how full the kernel's shared tables are (host-pressure) */
  pressure?: PressureFacts;
  /** the namespaces' nsids were needed (--nsids, or a veth's peer in a namespace without a slot name) and could not be read */
  nsidError?: string;
}

/** One iptables rule as `iptables-save` prints it, with where it lives. */
export interface FirewallRule {
  /** nft: iptables-nft (the Debian/Ubuntu default); legacy: iptables-legacy */
  backend: 'nft' | 'legacy';
  table: string;
  chain: string;
  /** the whole line, `-A CHAIN ...`: deleted by the same text with -D, so it must match byte for byte */
  line: string;
}

export interface FirewallFacts {
  rules: FirewallRule[];
  /** the backends read */
  backends: ('nft' | 'legacy')[];
  /** why the rules could not be read completely: then nothing may be called orphaned or deleted */
  error?: string;
}

/** A link of the host namespace: for a veth, the nsid of the namespace its peer is in. */
export interface HostLink {
  name: string;
  /**
   * IFLA_LINK_NETNSID: the peer's namespace, as an nsid of the host namespace; null: the peer is here (or none);
   * undefined: not asked (links read by name: only the peers the reader was told matter are asked)
   */
  linkNetnsid: number | null | undefined;
}

/** An IPv4 route of the host's main table, as `ip -j route` prints it. */
export interface HostRoute {
  /** 'default' or an address with its prefix when not /32 (ip's form) */
  dst: string;
  dev: string | null;
  gateway: string | null;
}

/** What the host namespace holds of every slot besides its namespace, read in one go. */
export interface HostSideFacts {
  links: HostLink[] | null;
  linksError?: string;
  routes: HostRoute[] | null;
  routesError?: string;
  firewall: FirewallFacts;
  /** nsid -> processes inside, for namespaces that have an nsid here but no name in /run/netns */
  unnamedHolders: Map<number, ProcessRef[]>;
}
