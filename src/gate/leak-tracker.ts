import { EventEmitter } from 'node:events';
import type { LeakSummary } from '../checks/slot-leaks.js';
import { linkState, type SlotsView, type SlotView } from '../checks/slots.js';
import { tapBusy } from '../checks/slot-use.js';
import type { LeakOptions } from '../config/leak-options.js';
import type { ProcessRef, TapHolder } from '../host/types.js';
import type { GateHost } from './gate-host.js';
import type { LinkStore, TrackedNamespace } from './link-store.js';
import type { LeakEvent, LeakTrackerEvents, TapBusyEvent } from './events.js';
export type { LeakEvent, TapBusyEvent } from './events.js';

/** what was last seen of a slot: 'new' until the first look */
type Seen = 'new' | 'active' | 'idle' | 'unknown';

interface SlotIdle {
  name: string;
  inode: number;
  createdAtMs: number;
  seen: Seen;
  /** Date.now() when it went idle (or when vmgate first saw it idle); null while in use or unknown */
  idleSince: number | null;
  /** the idle period's start was seen (it went idle, or was made, while vmgate watched): only those feed the histogram */
  startSeen: boolean;
  /** a pass over /proc begun after idleSince found nothing in it and no fd on it */
  confirmed: boolean;
  /** a process, a tap holder or carrier was seen in it while vmgate watched */
  used: boolean;
  /** Date.now() of the last link or process event: a pass begun before it is older news for this slot */
  lastEventAt: number;
  lastHolder: ProcessRef | null;
  suspected: boolean;
  /** pids holding the tap when more than one does ('' otherwise): one log line per new set */
  busy: string;
}

export type LeakHost = Pick<GateHost, 'holders'>;

/** how often the slots are looked at again: a quarter of --leak-age, between 250 ms and 30 s */
export function sweepInterval(ageMs: number): number {
  return Math.min(30_000, Math.max(250, Math.floor(ageMs / 4)));
}

/**
 * Idle time of every slot while the orchestrator runs, from events where there are events and from the pass over
 * /proc where there are none. A slot goes idle when its tap loses carrier and nobody is inside (link event plus the
 * holder index), or when the last process inside is gone (holder index); it is in use again at the first sign of
 * carrier, a process or an fd. An fd on the namespace has no event: idle time counts only once a pass over /proc
 * begun after the slot went idle has found none. Deletes nothing. Emits 'suspected'(LeakEvent), 'in-use'(netns,
 * idleSeconds), 'idle-ended'(seconds), 'tap-busy'(TapBusyEvent) and 'summary'(LeakSummary) when the count changes.
 */
export class LeakTracker extends EventEmitter<LeakTrackerEvents> {
  private readonly slots = new Map<string, SlotIdle>();
  private readonly byInode = new Map<number, SlotIdle>();
  private readonly startedAtMs: number;
  private orchestrators: ProcessRef[] = [];
  private notJudged: string | null = 'not judged yet: the first pass over /proc has not finished';
  private current: LeakSummary;
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private readonly emptied = new Set<number>();
  private emptiedQueued = false;
  private judgeQueued = false;

  constructor(
    private readonly store: LinkStore,
    private readonly host: LeakHost,
    private readonly tap: string,
    readonly opts: LeakOptions,
    private readonly look: () => Promise<SlotsView>,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.startedAtMs = now();
    this.current = this.summarize(this.startedAtMs);
    store.on('changed', (name: string) => this.linksChanged(name));
    store.on('removed', (name: string) => this.forget(name));
    host.holders.onEmptied((inode) => {
      this.emptied.add(inode);
      if (this.emptiedQueued) return;
      this.emptiedQueued = true;
      setImmediate(() => this.lastProcessGone());
    });
  }

  get summary(): LeakSummary {
    return this.current;
  }

  /** For /inventory: whether a slot is a suspected leak and how long it has been idle (null: in use or unknown). */
  slot(name: string): { suspectedLeak: boolean; idleSeconds: number | null } {
    const s = this.slots.get(name);
    if (!s || s.idleSince === null) return { suspectedLeak: false, idleSeconds: null };
    return { suspectedLeak: s.suspected, idleSeconds: Math.max(0, Math.floor((this.now() - s.idleSince) / 1000)) };
  }

  start(): void {
    if (this.timer) return;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), sweepInterval(this.opts.ageMs));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look at every slot through the pass over /proc (shared with /inventory and /metrics), then a judgement. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      this.observe(await this.look());
    } catch (err) {
      this.notJudged = `slots could not be looked at: ${(err as Error).message}`;
    } finally {
      this.sweeping = false;
    }
    this.judge();
  }

  private record(ns: TrackedNamespace): SlotIdle {
    const known = this.slots.get(ns.name);
    if (known && known.inode === ns.inode) return known;
    if (known) this.byInode.delete(known.inode);
    const s: SlotIdle = {
      name: ns.name,
      inode: ns.inode,
      createdAtMs: ns.createdAtMs,
      seen: 'new',
      idleSince: null,
      startSeen: false,
      confirmed: false,
      used: false,
      lastEventAt: 0,
      lastHolder: null,
      suspected: false,
      busy: '',
    };
    this.slots.set(ns.name, s);
    this.byInode.set(ns.inode, s);
    return s;
  }

  private forget(name: string): void {
    const s = this.slots.get(name);
    if (!s) return;
    this.slots.delete(name);
    this.byInode.delete(s.inode);
    if (s.suspected) this.scheduleJudge();
  }

  /**
   * A link event: carrier is use at once. No carrier is idle only with nobody inside, which the holder index
   * says after catching up with /proc: that is done once for all the events of one event-loop turn, not per event.
   */
  private linksChanged(name: string): void {
    const ns = this.store.get(name);
    if (!ns?.links) return;
    const s = this.record(ns);
    const at = this.now();
    s.lastEventAt = at;
    if (ns.links.get(this.tap)?.carrier) {
      this.active(s, at, null);
      this.carrierUp.add(s);
    } else if (s.idleSince === null) this.noCarrier.add(s);
    else return;
    if (this.linksQueued) return;
    this.linksQueued = true;
    setImmediate(() => this.afterLinkEvents());
  }

  private readonly carrierUp = new Set<SlotIdle>();
  private readonly noCarrier = new Set<SlotIdle>();
  private linksQueued = false;

  private afterLinkEvents(): void {
    this.linksQueued = false;
    // who attached it, for a later leak line and for tap-busy: only this slot's processes
    for (const s of this.carrierUp) this.lookAtHolders(s);
    for (const s of this.noCarrier) {
      const ns = this.store.get(s.name);
      if (this.slots.get(s.name) !== s || !ns?.links || ns.links.get(this.tap)?.carrier) continue;
      // idle since the event that took its carrier, not since this look
      if (this.host.holders.pidsIn(s.inode).length === 0) this.idle(s, s.lastEventAt);
    }
    this.carrierUp.clear();
    this.noCarrier.clear();
  }

  private lookAtHolders(s: SlotIdle): void {
    if (this.slots.get(s.name) !== s) return;
    const holders = this.host.holders.holders(s.inode, this.tap);
    if (holders[0]) s.lastHolder = { pid: holders[0].pid, comm: holders[0].comm };
    this.noteBusy(s, holders);
  }

  private lastProcessGone(): void {
    this.emptiedQueued = false;
    const at = this.now();
    for (const inode of this.emptied) {
      const s = this.byInode.get(inode);
      const ns = s && this.store.get(s.name);
      if (!s || !ns?.links || ns.inode !== inode) continue;
      s.lastEventAt = at;
      if (!ns.links.get(this.tap)?.carrier) this.idle(s, at);
    }
    this.emptied.clear();
  }

  private observe(view: SlotsView): void {
    this.orchestrators = view.orchestrators;
    this.notJudged = view.blind === null ? null : `no slot can be judged idle: ${view.blind}`;
    for (const v of view.slots) {
      const ns = this.store.get(v.name);
      if (!ns || ns.inode !== v.inode) continue;
      const s = this.record(ns);
      // a link or process event since the pass began is newer than what the pass says of this slot
      if (s.lastEventAt > view.takenAtMs) continue;
      const tap = v.taps.find((t) => t.name === this.tap);
      this.noteBusy(s, tap?.holders ?? []);
      if (v.state === 'active') this.active(s, view.takenAtMs, holderOf(v, this.tap));
      else if (v.state === 'unknown') this.unknown(s);
      else {
        // 'starting' is idle too (young and empty): --min-age is about deleting, not about counting
        this.idle(s, view.takenAtMs);
        if (s.idleSince !== null && view.takenAtMs >= s.idleSince) s.confirmed = true;
      }
    }
  }

  private idle(s: SlotIdle, at: number): void {
    if (s.idleSince !== null) return;
    if (s.seen === 'new' && s.createdAtMs >= this.startedAtMs) {
      // made while vmgate watched and never used: idle since it was made
      s.idleSince = Math.min(s.createdAtMs, at);
      s.startSeen = true;
    } else {
      s.idleSince = at;
      s.startSeen = s.seen === 'active';
    }
    s.confirmed = false;
    s.seen = 'idle';
  }

  private active(s: SlotIdle, at: number, holder: ProcessRef | null): void {
    if (holder) s.lastHolder = holder;
    s.used = true;
    const idleSince = s.idleSince;
    const wasSuspected = s.suspected;
    s.seen = 'active';
    s.idleSince = null;
    s.confirmed = false;
    s.suspected = false;
    if (idleSince === null) return;
    const seconds = Math.max(0, (at - idleSince) / 1000);
    if (s.startSeen) this.emit('idle-ended', seconds);
    if (wasSuspected) {
      this.emit('in-use', s.name, Math.floor(seconds));
      this.scheduleJudge();
    }
  }

  private unknown(s: SlotIdle): void {
    if (s.suspected) this.scheduleJudge();
    s.seen = 'unknown';
    s.idleSince = null;
    s.confirmed = false;
    s.suspected = false;
  }

  private noteBusy(s: SlotIdle, holders: TapHolder[]): void {
    const busy = tapBusy(holders) ? holders.map((h) => h.pid).join(',') : '';
    if (busy === s.busy) return;
    s.busy = busy;
    if (busy) this.emit('tap-busy', { netns: s.name, tap: this.tap, holders } satisfies TapBusyEvent);
  }

  private scheduleJudge(): void {
    if (this.judgeQueued) return;
    this.judgeQueued = true;
    setImmediate(() => {
      this.judgeQueued = false;
      this.judge();
    });
  }

  /** Who is suspected now: idle (and confirmed) past --leak-age while the orchestrator runs, the pool excepted. */
  judge(): void {
    const now = this.now();
    const running = this.orchestrators.length > 0;
    const pool = this.newSlotPool();
    for (const s of this.slots.values()) {
      const due = running && this.notJudged === null && s.idleSince !== null && s.confirmed && now - s.idleSince >= this.opts.ageMs && !pool.has(s);
      if (due && !s.suspected) {
        s.suspected = true;
        this.emit('suspected', this.describe(s, now));
      } else if (!due) s.suspected = false;
    }
    const before = this.current;
    this.current = this.summarize(now, pool.size);
    if (summaryKey(before) !== summaryKey(this.current)) this.emit('summary', this.current);
  }

  /** the youngest idle slots that never held a VMM, up to --leak-pool: the orchestrator keeps that many made in advance */
  private newSlotPool(): Set<SlotIdle> {
    if (this.opts.pool === 0) return new Set();
    const unused = [...this.slots.values()].filter((s) => s.idleSince !== null && !s.used);
    unused.sort((a, b) => b.createdAtMs - a.createdAtMs);
    return new Set(unused.slice(0, this.opts.pool));
  }

  private summarize(now: number, pool = 0): LeakSummary {
    const suspected = [...this.slots.values()]
      .filter((s) => s.suspected && s.idleSince !== null)
      .sort((a, b) => a.idleSince! - b.idleSince!)
      .map((s) => ({ netns: s.name, idleSeconds: Math.floor((now - s.idleSince!) / 1000) }));
    let idle = 0;
    for (const s of this.slots.values()) if (s.idleSince !== null) idle += 1;
    return { notJudged: this.notJudged, orchestratorRunning: this.orchestrators.length > 0, suspected, idle, pool };
  }

  private tapStateOf(name: string): string {
    const links = this.store.get(name)?.links;
    return linkState(links?.get(this.tap), links != null);
  }

  private describe(s: SlotIdle, now: number): LeakEvent {
    return {
      netns: s.name,
      tap: this.tap,
      tapState: this.tapStateOf(s.name),
      idleSeconds: Math.floor((now - s.idleSince!) / 1000),
      lastHolder: s.lastHolder,
      orchestrators: this.orchestrators.map((p) => p.pid),
    };
  }
}

/** what makes a new verdict: the count, and whether it can be judged at all */
function summaryKey(s: LeakSummary): string {
  return `${s.notJudged}|${s.orchestratorRunning}|${s.suspected.map((x) => x.netns).join(',')}`;
}

function holderOf(v: SlotView, tap: string): ProcessRef | null {
  const h = v.taps.find((t) => t.name === tap)?.holders[0] ?? v.processes[0];
  return h ? { pid: h.pid, comm: h.comm } : null;
}
