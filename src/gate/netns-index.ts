import type { NamedNamespace, NamedNamespaces } from '../host/named-namespaces.js';
import type { GateHost } from './gate-host.js';

/**
 * a full check of every name (inode, nsfs) is spread over this long: a slice of the names at each recheck (at 10,000
 * names and the default 10 s recheck, 334 lstat calls: about 3 ms)
 */
export const NAMES_VERIFY_MS = 300_000;
/** names stat'ed per event-loop turn by the slice (one lstat each) */
const VERIFY_CHUNK = 256;
/**
 * the directory's names are read whole and compared with the index at most this often while they keep changing
 * (inotify names each change as it comes; the comparison only finds what it dropped). A burst of 1,000 namespaces
 * made and deleted beside 32,766 slots moved the directory at nearly every evaluation: each read 33,000 names.
 */
export const NAMES_COMPARE_MIN_MS = 1_000;

export type IndexHost = Pick<GateHost, 'listNamespaces' | 'statNamespace' | 'netnsDirStamp' | 'readNetnsNames'>;

/**
 * Every name in /run/netns (not only slots: netns-capacity counts them all) as last seen, kept by what changed and
 * never listed whole while nothing happens. inotify names what came and went; the directory's stamp (its mtime)
 * says, in one stat per evaluation, whether anything came or went that inotify did not say (its queue overflows
 * silently under node); a slice of the names is stat'ed again at each recheck, so a name whose mount changed
 * without the directory changing (a namespace unmounted in place) is seen within NAMES_VERIFY_MS.
 */
export class NetnsIndex {
  private readonly byName = new Map<string, NamedNamespace>();
  private listed: NamedNamespace[] | null = null;
  private stamp: string | null | undefined = undefined;
  private error: string | undefined;
  /** where the next verification slice starts (names in insertion order) */
  private cursor = 0;
  private verifying = false;
  /**
   * names last seen as a plain file, not a namespace mount: `ip netns add` creates the file before it mounts the
   * namespace on it, and the mount moves neither the directory nor inotify. Each catch-up stats them again (none on
   * a settled host; every name on one whose mounts do not propagate, as each evaluation did before the index).
   */
  private readonly settling = new Set<string>();
  /** names `owns` says are slots, kept as names come and go (counting them would test every name) */
  private owned = 0;
  /** when the names were last read whole and compared (performance.now()) */
  private comparedAt = -Infinity;
  /** when a comparison put off by NAMES_COMPARE_MIN_MS is due (null: none put off) */
  private compareDue: number | null = null;

  constructor(
    private readonly host: IndexHost,
    private readonly owns: (name: string) => boolean = () => true,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.byName.size;
  }

  /** how many names are slots (`owns`) */
  get ownedCount(): number {
    return this.owned;
  }

  /** names here that are not a namespace mount (a plain file, an unpropagated mount); symbolic links left out */
  notMounted(): string[] {
    return [...this.settling];
  }

  /** ms until a comparison put off while the directory kept moving is due (null: none is) */
  get compareDueInMs(): number | null {
    return this.compareDue === null ? null : Math.max(0, this.compareDue - this.clock());
  }

  /** Every name as last seen (the array is rebuilt only after a change). */
  list(): NamedNamespace[] {
    return (this.listed ??= [...this.byName.values()]);
  }

  get listing(): NamedNamespaces {
    return this.error === undefined ? { namespaces: this.list() } : { namespaces: this.list(), error: this.error };
  }

  get(name: string): NamedNamespace | undefined {
    return this.byName.get(name);
  }

  /** Reads the whole directory (start, a watcher that lost track): the stamp is taken before, so a change during counts. */
  async load(): Promise<NamedNamespaces> {
    const stamp = this.host.netnsDirStamp();
    const listing = await this.host.listNamespaces();
    this.byName.clear();
    this.settling.clear();
    this.owned = 0;
    // a whole read finds what a comparison put off before it would have: that one is not due any more
    this.compareDue = null;
    for (const n of listing.namespaces) this.put(n);
    this.error = listing.error;
    this.listed = null;
    this.stamp = stamp;
    return listing;
  }

  /** These names as they are now, each stat'ed again (the index learns what changed). */
  look(names: Iterable<string>): NamedNamespace[] {
    const out: NamedNamespace[] = [];
    for (const name of names) {
      this.restat(name);
      const n = this.byName.get(name);
      if (n) out.push(n);
    }
    return out;
  }

  /** These names changed (inotify): each is stat'ed again. Returns the names whose entry differs from before. */
  update(names: Iterable<string>): Set<string> {
    const changed = new Set<string>();
    for (const name of names) if (this.restat(name)) changed.add(name);
    return changed;
  }

  /**
   * One stat of the directory: when it moved since the last look, its names are read (nothing else) and compared
   * with the index; names that came or went are stat'ed. Returns the names that differ (none while nothing changed).
   * While the directory keeps moving, the comparison is made at most every NAMES_COMPARE_MIN_MS: one asked sooner
   * is put off (compareDueInMs says when; the caller comes back then).
   */
  async catchUp(): Promise<Set<string>> {
    const settled = this.settling.size > 0 ? this.update([...this.settling]) : new Set<string>();
    const stamp = this.host.netnsDirStamp();
    if (stamp === this.stamp) return settled;
    const now = this.clock();
    if (now - this.comparedAt < NAMES_COMPARE_MIN_MS) {
      this.compareDue = this.comparedAt + NAMES_COMPARE_MIN_MS;
      return settled;
    }
    this.comparedAt = now;
    this.compareDue = null;
    const names = await this.host.readNetnsNames();
    if (names instanceof Error) {
      this.error = `cannot read /run/netns: ${(names as NodeJS.ErrnoException).code ?? names.message}`;
      return new Set();
    }
    this.error = undefined;
    this.stamp = stamp;
    const listed = new Set(names);
    const differ: string[] = [];
    for (const name of names) if (!this.byName.has(name)) differ.push(name);
    for (const name of this.byName.keys()) if (!listed.has(name)) differ.push(name);
    for (const name of this.update(differ)) settled.add(name);
    return settled;
  }

  /** The next slice of names stat'ed again (a share of the index sized so that all are seen in NAMES_VERIFY_MS). */
  async verifySlice(everyMs: number): Promise<Set<string>> {
    const changed = new Set<string>();
    if (this.verifying || this.byName.size === 0) return changed;
    this.verifying = true;
    try {
      const share = Math.ceil((this.byName.size * Math.min(everyMs, NAMES_VERIFY_MS)) / NAMES_VERIFY_MS);
      if (this.cursor >= this.byName.size) this.cursor = 0;
      const slice = [...this.byName.keys()].slice(this.cursor, this.cursor + share);
      this.cursor += slice.length;
      for (let i = 0; i < slice.length; i += VERIFY_CHUNK) {
        if (i > 0) await new Promise((r) => setImmediate(r));
        for (const name of slice.slice(i, i + VERIFY_CHUNK)) if (this.restat(name)) changed.add(name);
      }
    } finally {
      this.verifying = false;
    }
    return changed;
  }

  private restat(name: string): boolean {
    const now = this.host.statNamespace(name);
    const before = this.byName.get(name);
    if (!now) {
      if (!before) return false;
      this.byName.delete(name);
      this.settling.delete(name);
      if (this.owns(name)) this.owned -= 1;
    } else {
      if (before && same(before, now)) return false;
      // set in place: a changed name keeps its position, so the verification cursor skips none
      this.put(now);
    }
    this.listed = null;
    return true;
  }

  private put(n: NamedNamespace): void {
    if (!this.byName.has(n.name) && this.owns(n.name)) this.owned += 1;
    this.byName.set(n.name, n);
    if (!n.nsfs && !n.symlink) this.settling.add(n.name);
    else this.settling.delete(n.name);
  }
}

function same(a: NamedNamespace, b: NamedNamespace): boolean {
  return a.inode === b.inode && a.device === b.device && a.nsfs === b.nsfs && Boolean(a.symlink) === Boolean(b.symlink) && a.createdAtMs === b.createdAtMs;
}
