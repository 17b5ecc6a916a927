import type { GateHostFacts } from '../host/gate-facts.js';
import type { SelfFacts } from '../host/visibility.js';
import type { MonitorEvent } from '../host/monitor-line.js';
import type { NamedNamespace, NamedNamespaces } from '../host/named-namespaces.js';
import type { ProcessEntry, ProcessTable } from '../host/proc-table.js';
import type { HostSideFacts, LinkFacts, TapHolder, TunDeviceFacts } from '../host/types.js';

/** The link events of every namespace with an nsid (real: one `ip -o monitor all-nsid link`). */
export interface LinkEventSource {
  /** resolves once events are delivered, so a read after it misses nothing; rejects when it cannot start */
  start(): Promise<void>;
  stop(): void;
  /** for the link-watcher message: the monitor process, or whatever names the source */
  describe(): string;
  onEvent(fn: (ev: MonitorEvent) => void): void;
  /** the source ended on its own (not by stop) */
  onExit(fn: (reason: string) => void): void;
  /** events were lost (the monitor's socket overflowed): whatever was followed must be read again */
  onOverflow?(fn: (detail: string) => void): void;
}

/**
 * Everything the gate needs of the host, handed in (real ones wired in cli/gate-host.ts; tests pass their own).
 * The gate reads through it and changes the host only through assignNsids, which cli/ takes from actions/.
 */
export interface GateHost {
  events: LinkEventSource;
  /** links of each nsid, or an Error for one whose dump failed */
  readLinks(nsids: number[]): Promise<Map<number, LinkFacts[] | Error>>;
  /** links of a namespace without an nsid (one `ip -n NAME`: rare) */
  readLinksByName(name: string): Promise<LinkFacts[]>;
  /** names in /run/netns with inode, age and whether each is a namespace mount (the whole directory, read now) */
  listNamespaces(): NamedNamespaces | Promise<NamedNamespaces>;
  /** one name in /run/netns; null when it is not there */
  statNamespace(name: string): NamedNamespace | null;
  /** a stamp of /run/netns itself that moves whenever a name comes or goes (its mtime); null: not readable */
  netnsDirStamp(): string | null;
  /** the names in /run/netns, nothing else; an Error when the directory cannot be read */
  readNetnsNames(): Promise<string[] | Error>;
  readNsids(names: string[], listing?: NamedNamespaces): Promise<Map<string, number | null>>;
  namespaceExists(name: string): boolean;
  /** gives each name an nsid (a change of the host) */
  assignNsids(names: string[]): Promise<unknown>;
  /** calls onChange (coalesced) with the names that appeared in or vanished from /run/netns (null: look at all) */
  watchNamespaces(onChange: (names: Set<string> | null) => void): { close(): void };
  /** processes inside the namespace with `iface` attached; touch() says the host changed since */
  holders: {
    holders(netnsInode: number, iface: string): TapHolder[];
    pidsIn(netnsInode: number): number[];
    /** the processes inside, read now (a slot that changed since the last pass over /proc) */
    inside(netnsInode: number): ProcessEntry[];
    touch(): void;
    start(): void;
    stop(): void;
    /** the last process inside a namespace is gone (fn only notes it: it runs inside a lookup) */
    onEmptied(fn: (netnsInode: number) => void): void;
  };
  isAlive(pid: number): boolean;
  /** a whole pass over /proc that yields between chunks (inventory, metrics: never a wait) */
  processTable(): Promise<ProcessTable>;
  /** what each evaluation re-reads: kernel limit, tun device, vmgate's own view (names come from the gate's index) */
  gateFacts(): Promise<Omit<GateHostFacts, 'namedCount' | 'notMounted'>>;
  tun(): TunDeviceFacts;
  /** vmgate's own view: its PID namespace and whether it has CAP_SYS_PTRACE */
  self(): SelfFacts;
  /**
   * the host namespace's links, routes and firewall rules (slot layout); absent: not read (tests, wait). `peerOf`: the
   * host links whose peer namespace matters (see host/host-side.ts readHostSide)
   */
  hostSide?(peerOf?: (name: string) => boolean): Promise<HostSideFacts>;
  close(): void;
}
