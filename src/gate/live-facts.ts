import { blindness, classifySlot, slotsView, type SlotState, type SlotView, type SlotsView } from '../checks/slots.js';
import { inNaturalOrder } from '../checks/natural-order.js';
import type { HostConfig } from '../config/host-config.js';
import { indexProcesses, joinOne, orchestratorsIn, visibilityOf, type ProcessIndex } from '../host/snapshot.js';
import type { ProcessTable } from '../host/proc-table.js';
import type { NamespaceFacts, ProcessRef, VisibilityFacts } from '../host/types.js';
import type { GateHost } from './gate-host.js';
import type { LinkStore, TrackedNamespace } from './link-store.js';

/** a pass over /proc is reused this long (the link state is always current); scrapes in between cost no pass */
const TABLE_MAX_AGE_MS = 5000;

/** What one pass over /proc gives every slot: computed once per pass. */
interface Pass {
  table: ProcessTable;
  at: number;
  takenAtMs: number;
  /** Date.now() when the pass began: what a link event after it says is newer */
  startedAtMs: number;
  index: ProcessIndex;
  orchestrators: ProcessRef[];
  visibility: VisibilityFacts;
  blind: string | null;
  /** what every slot's judgement shares (orchestrator running, blindness, visibility): a change judges all again */
  sharedKey: string;
  /** per namespace inode, what the pass says of it (who is inside, who holds it, its taps and sockets) */
  sigs: Map<number, string>;
  /** the pass before (its sigs and key), until the first judgement against this one: what changed between them */
  prev: Pass | null;
  /** inodes whose facts differ from the pass before; 'all' when every slot must be judged again */
  changed: Set<number> | 'all';
}

/** how many slots the full view walks between the loop's turns (an age update each: ~1-2 us a slot) */
const WALK_SLICE = 2000;

interface Judged {
  ns: TrackedNamespace;
  facts: NamespaceFacts;
  view: SlotView;
}

/**
 * The slots for /inventory and /metrics: the live link state (no netlink dump, no process per namespace) plus a
 * pass over /proc that yields between slices, one at a time, shared by every caller meanwhile and reused for 5 s
 * (a tap's carrier is always current; a slot's age, and fd holders outside a slot, may lag that much). A slot
 * whose links changed after the pass began is joined with the processes inside it now (the holder index: that
 * slot's processes only), so a VMM that just attached is named.
 *
 * A slot is judged again only when something says it may have changed: its links changed, the new pass says
 * something new of its namespace, it was judged from the holder index, or it is young ('starting' turns 'idle'
 * with age alone). A new pass on a quiet host judges nothing, and the counts by state (/metrics) are kept as
 * judgements change: a scrape costs what changed, not a walk of every slot. The full list (/inventory, the leak
 * sweep) is walked to bring ages up to date, yielding every WALK_SLICE slots.
 */
export class LiveFacts {
  private pass: Pass | null = null;
  private reading: Promise<Pass> | null = null;
  private judging: Promise<Pass> | null = null;
  /** every judgement here was made against this pass, or against one before it that the later ones say nothing new of */
  private judgedPass: Pass | null = null;
  private readonly slots = new Map<string, Judged>();
  /** names to judge at the next look: tracked, links changed, judged from the holder index, or young */
  private readonly dirty = new Set<string>();
  /** names judged from the holder index (their links changed after the pass began) or 'starting': judged at each new pass */
  private readonly recheck = new Set<string>();
  private readonly inodeName = new Map<number, string>();
  private readonly counts: Record<SlotState, number> = { active: 0, starting: 0, idle: 0, unknown: 0 };
  /** the followed names in inventory order (ns-2 before ns-10); null after a name came or went (sorted only then) */
  private order: string[] | null = null;
  private view: { pass: Pass; version: number; view: SlotsView } | null = null;
  /** when each slot's links last changed: a slot that changed after the pass began is read from the holder index */
  private readonly changedAt = new Map<string, number>();

  constructor(
    private readonly store: LinkStore,
    private readonly host: Pick<GateHost, 'processTable' | 'tun' | 'holders' | 'self'>,
    private readonly config: HostConfig,
    private readonly maxAgeMs = TABLE_MAX_AGE_MS,
    /** the wall clock of slot ages and of SlotsView.takenAtMs (tests move it by hand) */
    private readonly clock: () => number = Date.now,
  ) {
    for (const event of ['changed', 'removed', 'tracked'])
      store.on(event, (name: string) => {
        this.forget(name);
        if (event !== 'changed') this.order = null;
        if (event === 'removed') {
          this.changedAt.delete(name);
          this.dirty.delete(name);
        } else {
          this.changedAt.set(name, this.clock());
          this.dirty.add(name);
        }
      });
  }

  /**
   * The slots judged (active, starting, idle, unknown), current as described above, in natural order, with ages
   * brought up to the pass's time.
   */
  async get(): Promise<SlotsView> {
    const pass = await this.judge();
    const version = this.store.version;
    if (this.view && this.view.pass === pass && this.view.version === version && this.dirty.size === 0) return this.view.view;
    const owned: NamespaceFacts[] = [];
    const judged: SlotView[] = [];
    let walked = 0;
    for (const name of this.inOrder()) {
      if (++walked % WALK_SLICE === 0) await new Promise((r) => setImmediate(r));
      const ns = this.store.byName.get(name);
      if (!ns) continue;
      // changed while walking: judged now against the same pass
      const kept = this.slots.get(name);
      const slot = kept?.ns === ns ? kept : this.judgeOne(ns, pass);
      slot.view.ageSeconds = Math.floor(Math.max(0, pass.takenAtMs - ns.createdAtMs) / 1000);
      owned.push(slot.facts);
      judged.push(slot.view);
    }
    const view = slotsView(pass.orchestrators, owned, judged, pass.startedAtMs, pass.blind, false);
    // the version read at the start: a change while judging makes the next call judge again
    this.view = { pass, version, view };
    return view;
  }

  /** Slots by state, as get() would count them, without walking every slot (/metrics). */
  async stateCounts(): Promise<Record<SlotState, number>> {
    await this.judge();
    return { ...this.counts };
  }

  /**
   * Brings the judgements up to the current pass: only the slots something says may have changed (all of them
   * when what every slot shares changed, or after a pass nobody judged against); 100 at a time, then the loop's turn.
   */
  private async judge(): Promise<Pass> {
    // one judging at a time: a caller that came meanwhile judges after it (what came since, if anything)
    while (this.judging) await this.judging;
    this.judging = this.judgeNow();
    try {
      return await this.judging;
    } finally {
      this.judging = null;
    }
  }

  private async judgeNow(): Promise<Pass> {
    const pass = await this.currentPass();
    if (pass !== this.judgedPass) {
      const before = this.judgedPass;
      if (!before || pass.prev !== before || pass.changed === 'all') for (const name of this.store.byName.keys()) this.dirty.add(name);
      else {
        for (const inode of pass.changed) {
          const name = this.inodeName.get(inode);
          if (name !== undefined) this.dirty.add(name);
        }
        for (const name of this.recheck) this.dirty.add(name);
      }
      this.judgedPass = pass;
      pass.prev = null;
    }
    // changes that come while judging are judged too (three rounds at most: a storm waits for the next look)
    for (let round = 0; round < 3 && this.dirty.size > 0; round++) {
      const names = [...this.dirty];
      this.dirty.clear();
      let n = 0;
      for (const name of names) {
        if (++n % 100 === 0) await new Promise((r) => setImmediate(r));
        const ns = this.store.byName.get(name);
        if (ns) this.judgeOne(ns, pass);
      }
    }
    return pass;
  }

  /** Judges one slot against a pass and keeps the judgement (counts, the sets of slots to look at again). */
  private judgeOne(ns: TrackedNamespace, pass: Pass): Judged {
    this.forget(ns.name);
    const key = { name: ns.name, inode: ns.inode, nsid: ns.nsid, createdAtMs: ns.createdAtMs, owned: true, nsfs: true };
    let facts = joinOne(pass.index, key);
    const fromPass = (this.changedAt.get(ns.name) ?? -Infinity) < pass.startedAtMs;
    if (!fromPass) {
      // its links changed since the pass began (a VMM came or went): who is inside now, this slot's processes only
      const fdHolders = facts.fdHolders;
      facts = joinOne(indexProcesses(this.host.holders.inside(ns.inode)), key);
      facts.fdHolders = fdHolders;
    }
    facts.links = ns.links ? [...ns.links.values()] : null;
    if (ns.linkError !== undefined) facts.linkError = ns.linkError;
    const view = classifySlot(facts, this.config, pass.takenAtMs, pass.orchestrators.length > 0, pass.blind, pass.visibility);
    const slot = { ns, facts, view };
    this.slots.set(ns.name, slot);
    this.inodeName.set(ns.inode, ns.name);
    this.counts[view.state] += 1;
    if (!fromPass || view.state === 'starting') this.recheck.add(ns.name);
    return slot;
  }

  /** Drops a slot's judgement (its count with it). */
  private forget(name: string): void {
    const slot = this.slots.get(name);
    if (!slot) return;
    this.slots.delete(name);
    this.counts[slot.view.state] -= 1;
    this.recheck.delete(name);
    if (this.inodeName.get(slot.ns.inode) === name) this.inodeName.delete(slot.ns.inode);
  }

  /**
   * The followed names in inventory order (ns-2 before ns-10), sorted again only when a name came or went. The keys
   * are made for the sort and dropped: kept per slot they held ~190 bytes each (1.9 MB at 10,000) to save ~5 ms a sort.
   */
  private inOrder(): string[] {
    if (this.order) return this.order;
    return (this.order = inNaturalOrder(this.store.byName.keys(), (name: string) => name));
  }

  private currentPass(): Promise<Pass> {
    if (this.pass && performance.now() - this.pass.at < this.maxAgeMs) return Promise.resolve(this.pass);
    const startedAtMs = this.clock();
    const before = this.pass;
    this.reading ??= this.host
      .processTable()
      .then((table) => {
        const visibility = visibilityOf(table, undefined, this.host.self());
        this.pass = {
          table,
          at: performance.now(),
          takenAtMs: this.clock(),
          startedAtMs,
          index: indexProcesses(table.processes),
          orchestrators: orchestratorsIn(table, this.config.orchestratorComm),
          visibility,
          blind: blindness(visibility),
          sharedKey: '',
          sigs: new Map(),
          prev: null,
          changed: 'all',
        };
        const pass = this.pass;
        pass.sharedKey = JSON.stringify([pass.orchestrators.length > 0, pass.blind, visibility]);
        pass.sigs = inodeSigs(pass.index);
        pass.prev = before;
        pass.changed = before && before.sharedKey === pass.sharedKey ? changedInodes(before.sigs, pass.sigs) : 'all';
        if (before) before.prev = null;
        return pass;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}

/** Per namespace inode, one string of everything a pass says of it: who is inside (and their taps), who holds it. */
function inodeSigs(index: ProcessIndex): Map<number, string> {
  const sigs = new Map<number, string>();
  const add = (inode: number, s: string) => sigs.set(inode, (sigs.get(inode) ?? '') + s);
  for (const [inode, ps] of index.inside)
    add(inode, `i${ps.map((p) => `${p.pid}:${p.comm}:${p.tunFds.map((t) => `${t.fd}/${t.iff}/${t.devNetns ?? ''}`).join(',')}`).join(';')}`);
  for (const [inode, ps] of index.byFd) add(inode, `f${ps.map((p) => `${p.pid}:${p.comm}`).join(';')}`);
  for (const [inode, ts] of index.tunByNetns) add(inode, `t${ts.map((t) => `${t.p.pid}:${t.p.comm}:${t.fd}:${t.iff}`).join(';')}`);
  for (const [inode, ps] of index.sockByNetns) add(inode, `s${ps.map((p) => `${p.pid}:${p.comm}`).join(';')}`);
  return sigs;
}

/** The inodes whose signature differs between two passes (present in either). */
function changedInodes(before: Map<number, string>, now: Map<number, string>): Set<number> {
  const out = new Set<number>();
  for (const [inode, sig] of now) if (before.get(inode) !== sig) out.add(inode);
  for (const inode of before.keys()) if (!now.has(inode)) out.add(inode);
  return out;
}
