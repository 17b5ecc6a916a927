import { blindness, classifySlot, slotsView, type SlotView, type SlotsView } from '../checks/slots.js';
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
}

/**
 * The slots for /inventory and /metrics: the live link state (no netlink dump, no process per namespace) plus a
 * pass over /proc that yields between slices, one at a time, shared by every caller meanwhile and reused for 5 s
 * (a tap's carrier is always current; a slot's age, and fd holders outside a slot, may lag that much). A slot
 * whose links changed after the pass began is joined with the processes inside it now (the holder index: that
 * slot's processes only), so a VMM that just attached is named. A slot is judged again only when its links
 * changed or a new pass came: a scrape while one slot changes costs one slot.
 */
export class LiveFacts {
  private pass: Pass | null = null;
  private reading: Promise<Pass> | null = null;
  private readonly slots = new Map<string, { pass: Pass; ns: TrackedNamespace; facts: NamespaceFacts; view: SlotView }>();
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
        this.slots.delete(name);
        if (event === 'removed') this.changedAt.delete(name);
        else this.changedAt.set(name, this.clock());
      });
  }

  /** The slots judged (active, starting, idle, unknown), current as described above. */
  async get(): Promise<SlotsView> {
    const pass = await this.currentPass();
    const version = this.store.version;
    if (this.view && this.view.pass === pass && this.view.version === version) return this.view.view;
    const owned: NamespaceFacts[] = [];
    const judged: SlotView[] = [];
    let fresh = 0;
    for (const ns of [...this.store.byName.values()]) {
      let slot = this.slots.get(ns.name);
      if (!slot || slot.pass !== pass || slot.ns !== ns) {
        // after a new pass every slot is judged again: 100 at a time, then the loop's turn (waits come first)
        if (++fresh % 100 === 0) await new Promise((r) => setImmediate(r));
        const key = { name: ns.name, inode: ns.inode, nsid: ns.nsid, createdAtMs: ns.createdAtMs, owned: true, nsfs: true };
        let facts = joinOne(pass.index, key);
        if ((this.changedAt.get(ns.name) ?? -Infinity) >= pass.startedAtMs) {
          // its links changed since the pass began (a VMM came or went): who is inside now, this slot's processes only
          facts = { ...joinOne(indexProcesses(this.host.holders.inside(ns.inode)), key), fdHolders: facts.fdHolders };
        }
        facts.links = ns.links ? [...ns.links.values()] : null;
        if (ns.linkError !== undefined) facts.linkError = ns.linkError;
        const view = classifySlot(facts, this.config, pass.takenAtMs, pass.orchestrators.length > 0, pass.blind, pass.visibility);
        slot = { pass, ns, facts, view };
        this.slots.set(ns.name, slot);
      }
      owned.push(slot.facts);
      judged.push(slot.view);
    }
    const view = slotsView(pass.orchestrators, owned, judged, pass.startedAtMs, pass.blind);
    // the version read at the start: a change while judging makes the next call judge again
    this.view = { pass, version, view };
    return view;
  }

  private currentPass(): Promise<Pass> {
    if (this.pass && performance.now() - this.pass.at < this.maxAgeMs) return Promise.resolve(this.pass);
    const startedAtMs = this.clock();
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
        };
        return this.pass;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }
}
