import type { HostConfig } from '../../src/config/host-config.js';
import type { GateHost, LinkEventSource } from '../../src/gate/gate-host.js';
import type { MonitorEvent } from '../../src/host/monitor-line.js';
import type { NamedNamespaces } from '../../src/host/named-namespaces.js';
import type { ProcessEntry, ProcessTable } from '../../src/host/proc-table.js';
import type { HostSideFacts, LinkFacts, TapHolder, TunDeviceFacts } from '../../src/host/types.js';

/**
 * A host in memory for the gate's logic without root: namespaces with nsids and links, an event source the test
 * drives, holders and live pids set by hand. What the kernel does is not imitated here; the host tests do it for real.
 */

export const TUN_OK: TunDeviceFacts = { path: '/dev/net/tun', exists: true, isCharDevice: true, major: 10, minor: 200, openError: null, statError: null };

export function config(over: Partial<HostConfig> = {}): HostConfig {
  return {
    netnsPattern: /^ns-/,
    tap: 'tap0',
    minAgeMs: 0,
    maxNamespaces: 1000,
    capacityWarn: 0.8,
    orchestratorComm: 'orchestrator',
    tunPath: '/dev/net/tun',
    ...over,
  };
}

export function link(name: string, state: 'carrier' | 'no-carrier' | 'down', ifindex = 5): LinkFacts {
  const flags = state === 'carrier' ? ['BROADCAST', 'UP', 'LOWER_UP'] : state === 'no-carrier' ? ['NO-CARRIER', 'BROADCAST', 'UP'] : ['BROADCAST'];
  return { name, ifindex, flags, adminUp: state !== 'down', carrier: state === 'carrier', operstate: state === 'carrier' ? 'UP' : 'DOWN' };
}

/** A monitor line as data: the tap of nsid `nsid` in the given state (or deleted). */
export function linkEvent(nsid: number, name: string, state: 'carrier' | 'no-carrier' | 'down' | 'deleted', ifindex = 5): MonitorEvent {
  const l = link(name, state === 'deleted' ? 'down' : state, ifindex);
  return { kind: 'link', nsid, deleted: state === 'deleted', ifindex, name, flags: l.flags, operstate: l.operstate };
}

export class FakeEvents implements LinkEventSource {
  private eventFns: ((ev: MonitorEvent) => void)[] = [];
  private exitFns: ((reason: string) => void)[] = [];
  running = false;
  starts = 0;
  stops = 0;
  /** the next N starts fail */
  failNext = 0;

  start(): Promise<void> {
    this.starts += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('ip monitor did not subscribe to link events'));
    }
    this.running = true;
    return Promise.resolve();
  }

  stop(): void {
    this.stops += 1;
    this.running = false;
  }

  describe(): string {
    return `fake source, start ${this.starts}`;
  }

  onEvent(fn: (ev: MonitorEvent) => void): void {
    this.eventFns.push(fn);
  }

  onExit(fn: (reason: string) => void): void {
    this.exitFns.push(fn);
  }

  private overflowFns: ((detail: string) => void)[] = [];
  onOverflow(fn: (detail: string) => void): void {
    this.overflowFns.push(fn);
  }

  /** the monitor's socket overflowed: events in between were lost */
  overflow(detail = 'netlink receive error No buffer space available (105)'): void {
    for (const fn of this.overflowFns) fn(detail);
  }

  emit(ev: MonitorEvent): void {
    if (this.running) for (const fn of this.eventFns) fn(ev);
  }

  /** the source dies on its own */
  die(reason = 'ip monitor exited (SIGKILL)'): void {
    this.running = false;
    for (const fn of this.exitFns) fn(reason);
  }
}

interface FakeNamespace {
  inode: number;
  createdAtMs: number;
  nsid: number | null;
  links: Map<string, LinkFacts>;
  nsfs: boolean;
}

export class FakeHost implements GateHost {
  /** the host's slot veths, routes and rules (tests of host state set it) */
  hostSide?: () => Promise<HostSideFacts>;
  readonly events = new FakeEvents();
  readonly namespaces = new Map<string, FakeNamespace>();
  private nextInode = 5000;
  private nextNsid = 1;
  tunFacts: TunDeviceFacts = TUN_OK;
  kernelLimit: number | null = 1000;
  alive = new Set<number>();
  holderMap = new Map<string, TapHolder[]>();
  processes: ProcessTable = { processes: [] };
  /** while set, readLinks waits for it (a resync in progress) */
  linkGate: Promise<void> | null = null;
  /** nsids whose dump fails */
  failingDumps = new Set<number>();
  /** names that cannot get an nsid */
  nsidRefused = new Set<string>();
  readLinksCalls: number[][] = [];
  assigned: string[] = [];
  holderTouches = 0;
  closed = false;
  private onNamesChanged: ((names: Set<string> | null) => void) | null = null;

  /** a slot namespace with a tap in the given state */
  add(name: string, tap: 'carrier' | 'no-carrier' | 'down' | 'none' = 'no-carrier', opts: { nsid?: number | null; createdAtMs?: number } = {}): FakeNamespace {
    const nsid = opts.nsid === undefined ? this.nextNsid++ : opts.nsid;
    const ns: FakeNamespace = {
      inode: this.nextInode++,
      createdAtMs: opts.createdAtMs ?? 0,
      nsid,
      links: new Map([['lo', link('lo', 'carrier', 1)]]),
      nsfs: true,
    };
    if (tap !== 'none') ns.links.set('tap0', link('tap0', tap));
    this.namespaces.set(name, ns);
    this.dirVersion += 1;
    return ns;
  }

  remove(name: string): void {
    this.namespaces.delete(name);
    this.dirVersion += 1;
  }

  /** what /run/netns's mtime is to the real host: moves whenever a name comes or goes */
  dirVersion = 0;
  dirReads = 0;

  netnsDirStamp(): string | null {
    return String(this.dirVersion);
  }

  readNetnsNames(): Promise<string[] | Error> {
    this.dirReads += 1;
    return Promise.resolve([...this.namespaces.keys()]);
  }

  /** tells the gate what inotify would: these names changed (none given: look at everything) */
  namesChanged(...names: string[]): void {
    this.onNamesChanged?.(names.length ? new Set(names) : null);
  }

  /** the kernel's link change, stored and (if the source runs) emitted */
  setTap(name: string, state: 'carrier' | 'no-carrier' | 'down' | 'deleted', iface = 'tap0'): void {
    const ns = this.namespaces.get(name)!;
    if (state === 'deleted') ns.links.delete(iface);
    else ns.links.set(iface, link(iface, state));
    if (ns.nsid !== null) this.events.emit(linkEvent(ns.nsid, iface, state));
  }

  /** the kernel's link change whose event is lost or late: stored, not emitted */
  setTapQuietly(name: string, state: 'carrier' | 'no-carrier' | 'down', iface = 'tap0'): void {
    this.namespaces.get(name)!.links.set(iface, link(iface, state));
  }

  readonly holders = {
    holders: (inode: number, iface: string): TapHolder[] => this.holderMap.get(`${inode}|${iface}`) ?? [],
    pidsIn: (inode: number): number[] => [...this.holderMap.entries()].filter(([k]) => k.startsWith(`${inode}|`)).flatMap(([, h]) => h.map((x) => x.pid)),
    inside: (inode: number): ProcessEntry[] =>
      [...this.holderMap.entries()]
        .filter(([k]) => k.startsWith(`${inode}|`))
        .flatMap(([k, hs]) =>
          hs.map((h) => ({ pid: h.pid, comm: h.comm, netnsInodes: [inode], tunFds: [{ fd: h.fd, iff: k.split('|')[1]! }], netnsFds: [], openTunFds: [] })),
        ),
    touch: (): void => void (this.holderTouches += 1),
    start: (): void => undefined,
    stop: (): void => undefined,
    onEmptied: (fn: (inode: number) => void): void => void this.emptiedFns.push(fn),
  };

  private readonly emptiedFns: ((inode: number) => void)[] = [];

  /** what the holder index says when the last process inside a namespace is gone */
  lastProcessGone(name: string): void {
    const inode = this.namespaces.get(name)!.inode;
    for (const k of [...this.holderMap.keys()]) if (k.startsWith(`${inode}|`)) this.holderMap.delete(k);
    for (const fn of this.emptiedFns) fn(inode);
  }

  async readLinks(nsids: number[]): Promise<Map<number, LinkFacts[] | Error>> {
    this.readLinksCalls.push(nsids);
    if (this.linkGate) await this.linkGate;
    const out = new Map<number, LinkFacts[] | Error>();
    for (const id of nsids) {
      const ns = [...this.namespaces.values()].find((n) => n.nsid === id);
      if (this.failingDumps.has(id)) out.set(id, new Error('Multipart message not terminated'));
      else if (ns)
        out.set(
          id,
          [...ns.links.values()].map((l) => ({ ...l })),
        );
      else out.set(id, new Error('No such namespace'));
    }
    return out;
  }

  readLinksByName(name: string): Promise<LinkFacts[]> {
    const ns = this.namespaces.get(name);
    return ns ? Promise.resolve([...ns.links.values()]) : Promise.reject(new Error(`Cannot open network namespace "${name}"`));
  }

  listNamespaces(): NamedNamespaces {
    return { namespaces: [...this.namespaces].map(([name, n]) => ({ name, inode: n.inode, device: 4, createdAtMs: n.createdAtMs, nsfs: n.nsfs })) };
  }

  statNamespace(name: string) {
    return this.listNamespaces().namespaces.find((n) => n.name === name) ?? null;
  }

  readNsids(names: string[]): Promise<Map<string, number | null>> {
    return Promise.resolve(new Map(names.map((n) => [n, this.namespaces.get(n)?.nsid ?? null])));
  }

  namespaceExists(name: string): boolean {
    return this.namespaces.has(name);
  }

  assignNsids(names: string[]): Promise<unknown> {
    for (const name of names) {
      this.assigned.push(name);
      const ns = this.namespaces.get(name);
      if (ns && ns.nsid === null && !this.nsidRefused.has(name)) ns.nsid = this.nextNsid++;
    }
    return Promise.resolve();
  }

  watchNamespaces(onChange: (names: Set<string> | null) => void): { close(): void } {
    this.onNamesChanged = onChange;
    return { close: () => (this.onNamesChanged = null) };
  }

  isAlive(pid: number): boolean {
    return this.alive.has(pid);
  }

  processTable(): Promise<ProcessTable> {
    return Promise.resolve(this.processes);
  }

  gateFacts() {
    return Promise.resolve({
      kernelLimit: this.kernelLimit,
      tun: this.tunFacts,
      self: { pidNamespaceInode: 4026531836, capSysPtrace: true },
    });
  }

  self() {
    return { pidNamespaceInode: 4026531836, capSysPtrace: true };
  }

  tun(): TunDeviceFacts {
    return this.tunFacts;
  }

  close(): void {
    this.closed = true;
  }
}

export const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));
