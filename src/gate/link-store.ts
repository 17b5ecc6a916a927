import { linkFacts } from '../host/link-flags.js';
import { EventEmitter } from 'node:events';
import type { MonitorEvent } from '../host/monitor-line.js';
import type { LinkFacts } from '../host/types.js';
import type { GateHost } from './gate-host.js';
import { SlotLinks } from './slot-links.js';
import type { NamedNamespace, NamedNamespaces } from '../host/named-namespaces.js';

/** The part of the host the store reads (and the one change it makes: nsids for slots that have none). */
export type StoreHost = Pick<GateHost, 'readLinks' | 'readLinksByName' | 'readNsids' | 'assignNsids'>;

/** Where the store learns names (gate/netns-index.ts: the index every name in /run/netns is kept in). */
export interface NameSource {
  /** every name, read now (the whole directory) */
  load(): Promise<NamedNamespaces>;
  /** these names as they are now, each stat'ed again (absent: not there) */
  look(names: Iterable<string>): NamedNamespace[];
  /** every name as last seen (no read) */
  readonly listing: NamedNamespaces;
}

export interface TrackedNamespace {
  name: string;
  inode: number;
  createdAtMs: number;
  nsid: number | null;
  /** by interface name; null until the first dump answered */
  links: SlotLinks | null;
  linkError?: string | undefined;
  /** followed since a resync whose background read has not reached it: its nsid (null meanwhile) and links are unread */
  unread?: boolean;
  /** whether the name is a namespace mount (a plain file left by an unpropagated mount can never get an nsid) */
  nsfs?: boolean;
}

/**
 * A followed slot, always built with the same fields in the same order and never given or stripped of one later
 * (no `delete`): V8 then keeps 30,000 of them in one compact shape instead of one dictionary each (4.5 MB at 10,000).
 */
function tracked(n: NamedNamespace, nsid: number | null, unread: boolean): TrackedNamespace {
  return { name: n.name, inode: n.inode, createdAtMs: n.createdAtMs, nsid, links: null, linkError: undefined, unread, nsfs: n.nsfs };
}

/** namespaces whose links one background read asks for before giving the event loop back (about 25 ms) */
const LINK_CHUNK = 128;

/**
 * The live link state of every slot namespace, kept by monitor events, with a full read only at start and after
 * the monitor restarts. Events that arrive while a namespace is being read are replayed after the read, so the
 * newest state wins. Emits 'changed'(name) and 'removed'(name).
 */
export class LinkStore extends EventEmitter {
  readonly byName = new Map<string, TrackedNamespace>();
  /** slots whose links could not be read, retried at the next refresh (the refresh used to look at every slot) */
  private readonly linksFailed = new Set<TrackedNamespace>();
  /** the slots followed without an nsid, as of `unwatchedAt` (kept: the gate asks at every judgement) */
  private unwatchedNames: string[] = [];
  private unwatchedAt = -1;
  /** moves whenever a slot is followed, dropped or gets its nsid: the unwatched list is made again after it */
  private nsidVersion = 0;
  private readonly byNsid = new Map<number, TrackedNamespace>();
  /** nsids being read right now, with the events that came meanwhile (key -1: a full resync) */
  private readonly pending = new Map<number, MonitorEvent[]>();
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly owns: (name: string) => boolean,
    private readonly host: StoreHost,
    private readonly names: NameSource,
  ) {
    super();
  }

  /** counts every change of what is followed (a name, a link): whoever derives from the store knows when to redo it */
  version = 0;

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    this.version += 1;
    return super.emit(event, ...args);
  }

  get(name: string): TrackedNamespace | undefined {
    return this.byName.get(name);
  }

  /** whether the store follows this name when it exists (it matches --netns-pattern) */
  follows(name: string): boolean {
    return this.owns(name);
  }

  /**
   * One slot's links as the kernel says now (RTM_GETLINK), without touching the store: under churn a link event can
   * arrive seconds after the change, so a "no" about carrier is checked against this first. null: not readable.
   */
  async readNow(name: string): Promise<LinkFacts[] | null> {
    const ns = this.byName.get(name);
    if (!ns || ns.nsid === null) return null;
    const r = (await this.host.readLinks([ns.nsid]).catch(() => null))?.get(ns.nsid);
    return r instanceof Error || r === undefined ? null : r;
  }

  apply(ev: MonitorEvent): void {
    const full = this.pending.get(-1);
    if (full) return void full.push(ev);
    // nsid events are not subscribed to (host/link-monitor.ts): names come and go through inotify
    if (ev.kind === 'nsid' || ev.nsid === null) return;
    const queue = this.pending.get(ev.nsid);
    if (queue) return void queue.push(ev);
    const ns = this.byNsid.get(ev.nsid);
    if (!ns || !ns.links) return;
    if (ev.deleted) ns.links.delete(ev.name);
    else {
      // links are one per ifindex: a rename (tap0 -> tapX) removes the old name, it leaves no ghost
      for (const [name, l] of ns.links) if (l.ifindex === ev.ifindex && name !== ev.name && ev.ifindex !== 0) ns.links.delete(name);
      ns.links.set(ev.name, linkFromEvent(ev));
    }
    this.emit('changed', ns.name);
  }

  /**
   * Full read: at start and after the monitor restarted or lost events. Resolves once every name is followed (with
   * its nsid: events count from now); the links are read after it, in the background, LINK_CHUNK namespaces at a
   * time (linksLoaded() says when), so a gate over 30,000 slots answers within a second or two of starting. A slot
   * asked about before its turn is read first (readFirst); until read, it is never called idle or not found.
   */
  async resync(): Promise<void> {
    this.pending.set(-1, []);
    let seen: Map<string, TrackedNamespace>;
    try {
      seen = await this.readNames(true, undefined, true);
      for (const ns of [...this.byName.values()]) if (!seen.has(ns.name)) this.remove(ns);
      for (const ns of seen.values()) this.track(ns);
    } finally {
      const buffered = this.pending.get(-1) ?? [];
      this.pending.delete(-1);
      for (const ev of buffered) this.apply(ev);
    }
    this.loadLinks([...seen.values()]);
  }

  /** namespaces whose links a resync has yet to read (the newest resync's list: it supersedes an older one) */
  private linkQueue: TrackedNamespace[] = [];
  private readonly linkInFlight = new Set<TrackedNamespace>();
  private linkLoading: Promise<void> | null = null;

  /** slots whose links are still to be read after a resync */
  get linksPending(): number {
    return this.linkQueue.length + this.linkInFlight.size;
  }

  /**
   * Whether a resync's background read has yet to read this slot (queued, being read, or its nsid unread). A slot
   * that came after start is read by its own refresh and is never "loading".
   */
  loading(name: string): boolean {
    const ns = this.byName.get(name);
    if (!ns) return false;
    return ns.unread === true || this.linkInFlight.has(ns) || (this.linkQueue.length > 0 && this.linkQueue.includes(ns));
  }

  /** Resolves when the links every resync queued have been read. */
  linksLoaded(): Promise<void> {
    return this.linkLoading ?? Promise.resolve();
  }

  private loadLinks(list: TrackedNamespace[]): void {
    this.linkQueue = list;
    this.linkLoading ??= (async () => {
      // first every new slot's nsid, in one go (one `ip netns list`: the kernel's cost of it grows with the square
      // of the namespaces, and in that process it is not on this event loop)
      await this.readNsidsOf(this.linkQueue, true).catch(() => undefined);
      while (this.linkQueue.length > 0) {
        const chunk = this.linkQueue.splice(0, LINK_CHUNK).filter((ns) => this.byName.get(ns.name) === ns);
        for (const ns of chunk) this.linkInFlight.add(ns);
        try {
          await this.readLinks(chunk);
        } finally {
          for (const ns of chunk) this.linkInFlight.delete(ns);
        }
        for (const ns of chunk) this.emit('changed', ns.name);
      }
    })().finally(() => (this.linkLoading = null));
  }

  /**
   * A slot a client asks about whose links the background read has not reached: read now, out of turn (the read in
   * flight finishes first: one chunk, tens of milliseconds). Nothing when it is read, in flight or not followed.
   */
  readFirst(name: string): void {
    const ns = this.byName.get(name);
    if (!ns || this.linkInFlight.has(ns)) return;
    const at = this.linkQueue.indexOf(ns);
    if (at < 0) return;
    this.linkQueue.splice(at, 1);
    this.linkInFlight.add(ns);
    void this.readNsidsOf(ns.unread ? [ns] : [])
      .then(() => this.readLinks([ns]))
      .catch(() => undefined)
      .finally(() => {
        this.linkInFlight.delete(ns);
        if (this.byName.get(name) === ns) this.emit('changed', name);
      });
  }

  /** names changed since the refresh in flight began (null: look at the whole directory; undefined: nothing) */
  private changedNames: Set<string> | null | undefined = undefined;

  /**
   * Names appeared or vanished in /run/netns: read only what is new. With `names` (what inotify named), only those
   * are looked at, and names the gate does not own cost nothing; without, the whole directory. Calls coalesce.
   */
  refresh(names?: Iterable<string>): Promise<void> {
    if (names === undefined || this.changedNames === null) this.changedNames = null;
    else {
      this.changedNames ??= new Set();
      for (const n of names) if (this.owns(n)) this.changedNames.add(n);
    }
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      while (this.changedNames !== undefined) {
        const want = this.changedNames;
        this.changedNames = undefined;
        // nsids only of what is new: a burst of other namespaces must not cost a question per followed slot
        const seen = await this.readNames(true, want ?? undefined);
        const looked = want ? [...want].map((n) => this.byName.get(n)).filter((n) => n !== undefined) : [...this.byName.values()];
        for (const ns of looked) {
          const now = seen.get(ns.name);
          if (!now || now.inode !== ns.inode) this.remove(ns);
        }
        const added = [...seen.values()].filter((n) => !this.byName.has(n.name));
        for (const ns of added) this.track(ns);
        // a namespace whose links could not be read last time is read again, not left unreadable for good
        const retry: TrackedNamespace[] = [];
        for (const n of this.linksFailed) {
          this.linksFailed.delete(n);
          if (this.byName.get(n.name) === n && n.links === null && n.linkError !== undefined && !added.includes(n)) retry.push(n);
        }
        for (const ns of retry) ns.linkError = undefined;
        await this.readLinks([...added, ...retry]);
        for (const ns of [...added, ...retry]) this.emit('changed', ns.name);
      }
    })().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** Slots followed without an nsid once their nsid was read: their link events cannot be matched to them. */
  unwatched(): string[] {
    if (this.unwatchedAt !== this.nsidVersion) {
      this.unwatchedNames = [];
      for (const n of this.byName.values()) if (n.nsid === null && !n.unread) this.unwatchedNames.push(n.name);
      this.unwatchedAt = this.nsidVersion;
    }
    return this.unwatchedNames;
  }

  private track(ns: TrackedNamespace): void {
    this.nsidVersion += 1;
    const old = this.byName.get(ns.name);
    if (old?.nsid != null) this.byNsid.delete(old.nsid);
    this.byName.set(ns.name, ns);
    if (ns.nsid !== null) this.byNsid.set(ns.nsid, ns);
    this.emit('tracked', ns.name);
  }

  private remove(ns: TrackedNamespace): void {
    if (this.byName.get(ns.name) !== ns) return;
    this.nsidVersion += 1;
    this.linksFailed.delete(ns);
    this.byName.delete(ns.name);
    if (ns.nsid !== null && this.byNsid.get(ns.nsid) === ns) this.byNsid.delete(ns.nsid);
    this.emit('removed', ns.name);
  }

  /**
   * Owned names with inode, age and nsid; owned namespaces without an nsid get one first. onlyNew: names already
   * followed under the same inode keep the nsid they have (an nsid lives as long as its namespace).
   */
  private async readNames(onlyNew = false, only?: Set<string>, later = false): Promise<Map<string, TrackedNamespace>> {
    const listing = only ? { namespaces: this.names.look(only) } : await this.names.load();
    const owned = listing.namespaces.filter((n) => this.owns(n.name));
    const known = (n: { name: string; inode: number }) => (onlyNew ? this.byName.get(n.name) : undefined)?.inode === n.inode;
    const named = owned.filter((n) => !known(n));
    if (later) {
      // a resync: followed now, nsid and links read in the background (loadLinks)
      const out = new Map<string, TrackedNamespace>(named.map((n) => [n.name, tracked(n, null, true)]));
      for (const n of owned) if (known(n)) out.set(n.name, this.byName.get(n.name)!);
      return out;
    }
    const names = named.map((n) => n.name);
    let nsids = named.length > 0 ? await this.host.readNsids(names, listing) : new Map<string, number | null>();
    const missing = named.filter((n) => n.nsfs && (nsids.get(n.name) ?? null) === null).map((n) => n.name);
    if (missing.length > 0) {
      await this.host.assignNsids(missing);
      nsids = await this.host.readNsids(names);
    }
    const out = new Map<string, TrackedNamespace>(named.map((n) => [n.name, tracked(n, nsids.get(n.name) ?? null, false)]));
    for (const n of owned) if (known(n)) out.set(n.name, this.byName.get(n.name)!);
    return out;
  }

  /**
   * nsids of slots followed unread; those without one get one (as a fresh slot does). whole: all in one question
   * (host/named-namespaces.ts picks `ip netns list` for many); else 64 at a time, each asked of the kernel directly.
   */
  private async readNsidsOf(list: TrackedNamespace[], whole = false): Promise<void> {
    const want = list.filter((ns) => ns.unread && this.byName.get(ns.name) === ns);
    if (want.length === 0) return;
    if (!whole && want.length > 64) {
      for (let i = 0; i < want.length; i += 64) await this.readNsidsOf(want.slice(i, i + 64));
      return;
    }
    const names = want.map((ns) => ns.name);
    let nsids = await this.host.readNsids(names, this.names.listing);
    const missing = want.filter((ns) => ns.nsfs && (nsids.get(ns.name) ?? null) === null).map((ns) => ns.name);
    if (missing.length > 0) {
      await this.host.assignNsids(missing);
      const again = await this.host.readNsids(missing);
      nsids = new Map([...nsids, ...again]);
    }
    for (const ns of want) {
      if (!ns.unread) continue;
      ns.unread = false;
      ns.nsid = nsids.get(ns.name) ?? null;
      this.nsidVersion += 1;
      if (ns.nsid !== null && this.byName.get(ns.name) === ns) this.byNsid.set(ns.nsid, ns);
    }
  }

  private linksFailedFor(n: TrackedNamespace, why: string): void {
    n.linkError = why;
    this.linksFailed.add(n);
  }

  private async readLinks(list: TrackedNamespace[]): Promise<void> {
    // a slot whose nsid could not be read (the background read failed): asked for alone now
    await this.readNsidsOf(list);
    const withId = list.filter((n) => n.nsid !== null);
    for (const n of withId) if (!this.pending.has(n.nsid!)) this.pending.set(n.nsid!, []);
    try {
      const dumps = await this.host.readLinks(withId.map((n) => n.nsid!));
      for (const n of withId) {
        const r = dumps.get(n.nsid!);
        if (r instanceof Error || r === undefined) this.linksFailedFor(n, r?.message ?? 'no answer');
        else n.links = new SlotLinks(r);
      }
    } finally {
      for (const n of withId) {
        const queued = this.pending.get(n.nsid!) ?? [];
        this.pending.delete(n.nsid!);
        for (const ev of queued) this.apply(ev);
      }
    }
    for (const n of list.filter((x) => x.nsid === null)) {
      try {
        n.links = new SlotLinks(await this.host.readLinksByName(n.name));
      } catch (err) {
        this.linksFailedFor(n, (err as Error).message.split('\n')[0]!);
      }
    }
  }
}

function linkFromEvent(ev: Extract<MonitorEvent, { kind: 'link' }>): LinkFacts {
  return linkFacts(ev.name, ev.ifindex, ev.flags, ev.operstate);
}
