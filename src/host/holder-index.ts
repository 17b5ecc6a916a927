import { readdirSync, readlinkSync } from 'node:fs';
import { listPids, readProcessEntry, type ProcessEntry } from './proc-table.js';
import type { TapHolder } from './types.js';

const NET_LINK = /^net:\[(\d+)\]$/;
/** a pid seen this recently may still be between fork and setns (ip netns exec, a jailer): its namespace is read again */
const YOUNG_MS = 2000;

export interface HolderIndexOptions {
  /** how often every pid's namespace is read again, asynchronously and in chunks (catches a process that moved) */
  resyncMs?: number;
  /** pids per chunk of that pass: each chunk is one short synchronous step between other work */
  chunk?: number;
  now?: () => number;
}

/**
 * Which processes are in which network namespace, kept up to date incrementally, so naming a tap's holders costs
 * the processes of that one slot and not the whole host. Told of link events (touch), the next lookup picks up new
 * pids only (one readdir of /proc plus the new pids' ns/net links); a full pass runs only in the background, in
 * chunks that yield to the event loop. A lookup reads the fds of the processes in the asked namespace, nothing else.
 */
export class HolderIndex {
  private readonly pidNs = new Map<number, { inode: number | null; seenAt: number }>();
  private readonly byInode = new Map<number, Set<number>>();
  private dirty = true;
  /** pids found by the first look existed before vmgate: only later ones are young */
  private populated = false;
  private readonly cache = new Map<number, ProcessEntry[]>();
  private cacheTurn = false;
  private resyncTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly emptiedFns: ((netnsInode: number) => void)[] = [];
  /** catch-ups and background passes made (tests, metrics) */
  catchUps = 0;
  resyncs = 0;

  constructor(
    private readonly procDir = '/proc',
    private readonly opts: HolderIndexOptions = {},
  ) {}

  private now(): number {
    return this.opts.now?.() ?? performance.now();
  }

  /** Something changed on the host (a link event, a namespace came or went): the next lookup first picks up new pids. */
  touch(): void {
    this.dirty = true;
  }

  /**
   * Calls fn when the last process known inside a namespace is gone (exited or moved): the "last process gone"
   * event leak tracking counts idle time from. Called from inside a lookup or pass: fn must only note it.
   */
  onEmptied(fn: (netnsInode: number) => void): void {
    this.emptiedFns.push(fn);
  }

  /** Starts the background pass (never on a request path), with a first one right away. */
  start(): void {
    this.stopped = false;
    void this.resync().finally(() => this.scheduleResync());
  }

  stop(): void {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = null;
  }

  /** The processes whose namespace is this one (as last seen). */
  pidsIn(netnsInode: number): number[] {
    if (this.dirty) this.catchUp();
    return [...(this.byInode.get(netnsInode) ?? [])];
  }

  /** The processes inside the namespace, read now (their fds too); shared by every lookup of one event-loop turn. */
  inside(netnsInode: number): ProcessEntry[] {
    const cached = this.cache.get(netnsInode);
    if (cached) return cached;
    const out: ProcessEntry[] = [];
    for (const pid of this.pidsIn(netnsInode)) {
      const entry = readProcessEntry(pid, this.procDir);
      if (entry) out.push(entry);
      else this.forget(pid);
    }
    this.remember(netnsInode, out);
    return out;
  }

  /** Processes with `iface` attached, among the processes inside the namespace. */
  holders(netnsInode: number, iface: string): TapHolder[] {
    const out: TapHolder[] = [];
    for (const entry of this.inside(netnsInode)) for (const t of entry.tunFds) if (t.iff === iface) out.push({ pid: entry.pid, comm: entry.comm, fd: t.fd });
    return out;
  }

  private remember(netnsInode: number, entries: ProcessEntry[]): void {
    this.cache.set(netnsInode, entries);
    if (this.cacheTurn) return;
    this.cacheTurn = true;
    setImmediate(() => {
      this.cacheTurn = false;
      this.cache.clear();
    });
  }

  /** New pids only (plus young ones, which may have just entered a namespace); gone pids are dropped. */
  private catchUp(): void {
    this.dirty = false;
    this.catchUps += 1;
    let pids: string[];
    try {
      pids = listPids(this.procDir);
    } catch {
      return;
    }
    const now = this.now();
    const firstSeen = this.populated ? now : -Infinity;
    const listed = new Set<number>();
    for (const p of pids) {
      const pid = Number(p);
      listed.add(pid);
      const known = this.pidNs.get(pid);
      if (!known) this.place(pid, firstSeen);
      else if (now - known.seenAt < YOUNG_MS) this.place(pid, known.seenAt);
    }
    for (const pid of [...this.pidNs.keys()]) if (!listed.has(pid)) this.forget(pid);
    this.populated = true;
  }

  private place(pid: number, seenAt: number): void {
    const inode = this.readNs(pid);
    const before = this.pidNs.get(pid);
    if (before && before.inode === inode) return void (before.seenAt = seenAt);
    if (before) this.forget(pid);
    this.pidNs.set(pid, { inode, seenAt });
    if (inode === null) return;
    const set = this.byInode.get(inode);
    if (set) set.add(pid);
    else this.byInode.set(inode, new Set([pid]));
  }

  private forget(pid: number): void {
    const known = this.pidNs.get(pid);
    if (!known) return;
    this.pidNs.delete(pid);
    if (known.inode === null) return;
    const set = this.byInode.get(known.inode);
    set?.delete(pid);
    if (set?.size !== 0) return;
    this.byInode.delete(known.inode);
    for (const fn of this.emptiedFns) fn(known.inode);
  }

  /** The leader's namespace; for a zombie leader (its ns link is gone) the first live thread's. */
  private readNs(pid: number): number | null {
    const one = (path: string) => {
      try {
        const m = NET_LINK.exec(readlinkSync(path));
        return m ? Number(m[1]) : null;
      } catch {
        return null;
      }
    };
    const leader = one(`${this.procDir}/${pid}/ns/net`);
    if (leader !== null) return leader;
    try {
      for (const tid of readdirSync(`${this.procDir}/${pid}/task`)) {
        const t = one(`${this.procDir}/${pid}/task/${tid}/ns/net`);
        if (t !== null) return t;
      }
    } catch {
      /* gone */
    }
    return null;
  }

  private scheduleResync(): void {
    if (this.stopped || this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      void this.resync().finally(() => this.scheduleResync());
    }, this.opts.resyncMs ?? 5000);
    this.resyncTimer.unref();
  }

  /** Every pid's namespace read again (new ones too, gone ones dropped), a chunk per event-loop turn. */
  async resync(): Promise<void> {
    let pids: number[];
    try {
      pids = listPids(this.procDir).map(Number);
    } catch {
      return;
    }
    const listed = new Set(pids);
    for (const pid of [...this.pidNs.keys()]) if (!listed.has(pid)) this.forget(pid);
    const firstSeen = this.populated ? this.now() : -Infinity;
    const chunk = this.opts.chunk ?? 100;
    for (let i = 0; i < pids.length && !this.stopped; i += chunk) {
      for (const pid of pids.slice(i, i + chunk)) this.place(pid, this.pidNs.get(pid)?.seenAt ?? firstSeen);
      await new Promise((r) => setImmediate(r));
    }
    this.populated = true;
    this.resyncs += 1;
  }
}
