import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostConfig } from '../config/host-config.js';
import { vethIndex } from '../config/slot-layout.js';
import type { GateHostFacts } from '../host/gate-facts.js';
import type { LinkFacts } from '../host/types.js';
import type { GateHost } from './gate-host.js';
import { evaluateHost, STARTING, verdictKey, type HostVerdict } from './host-verdict.js';
import type { LeakOptions } from '../config/leak-options.js';
import { judgeHostState, slotNamesByIndex, type HostStateView } from '../checks/host-state.js';
import { LeakTracker } from './leak-tracker.js';
import type { GateEvents } from './events.js';
import type { PressureFacts } from '../host/pressure.js';

/** how long a refusal by the kernel keeps host-pressure failing */
const PRESSURE_WINDOW_MS = 60_000;
/** host state is read again this long after slots came or went (one read per window however many changed) */
const HOST_STATE_AFTER_CHANGE_MS = 10_000;
/**
 * A read of host state costs more with every slot: the host link dump makes the kernel find each veth's peer
 * namespace by walking the host's nsid list (2 s of CPU at 10,000 slots, most of it in the kernel). Reads are spaced
 * by what the last one took: after a change at least 20x its time (at most 5% of the time reading under constant
 * churn), between two periodic reads at least 500x (0.2%), whatever --host-state-interval says.
 */
const HOST_STATE_AFTER_CHANGE_SPACING = 20;
const HOST_STATE_PERIODIC_SPACING = 500;
/**
 * A read of the host's facts asked for again while one ran (names kept coming) waits this many times what the last
 * read took, at least READ_AGAIN_MIN_MS, at most READ_AGAIN_MAX_MS: while 1,000 names came and went in one burst at
 * 10,000 slots, back-to-back reads (the names compared, /proc and the kernel's tables read, the host judged) kept
 * the loop busy for the whole burst and slot answers alongside waited up to 142 ms (a kernel observer saw the
 * carrier within 8 ms).
 */
const READ_AGAIN_SPACING = 4;
const READ_AGAIN_MIN_MS = 25;
const READ_AGAIN_MAX_MS = 1000;
import { LinkStore } from './link-store.js';
import { NetnsIndex } from './netns-index.js';
import { LiveFacts } from './live-facts.js';
import { ALWAYS_READY, SlotWaits, type HostGateView } from './slot-waits.js';
import type { WaitAnswer, WaitRequest } from './wait-answer.js';

export interface GateOptions {
  /** which namespaces to follow (serve: the pattern; wait: one name) */
  owns: (name: string) => boolean;
  maxWaiters: number;
  /** re-evaluation of what has no events: the tun device, the kernel limit */
  recheckMs: number;
  /** whether slot waits need a ready host (serve: yes; the wait command: no) */
  gateOnHost: boolean;
  /** first delay before restarting a dead watcher (doubles up to maxBackoffMs) */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** how often the given pids are looked at */
  pidPollMs?: number;
  /** serve: track idle slots and judge slot-leaks (none: not tracked) */
  leaks?: LeakOptions;
  /**
   * serve with a slot layout: the host's rules, routes and veths are read at start, HOST_STATE_AFTER_CHANGE_MS after
   * slots came or went, and at least this often (none: never)
   */
  hostStateMs?: number;
  /** the delay after a change (default HOST_STATE_AFTER_CHANGE_MS; tests shorten it) */
  hostStateAfterChangeMs?: number;
}

/**
 * The readiness gate's engine: subscribe (the link event source), then read (resync), then follow events. A dead
 * source is restarted with backoff and followed by a resync. Everything it knows of the host comes through the
 * GateHost it is given. Its events are typed (gate/events.ts): verdict, watcher, finished and, with leak tracking, leak.
 */
export class Gate extends EventEmitter<GateEvents> {
  private readonly store: LinkStore;
  /** every name in /run/netns, kept by what changed (never listed whole while nothing happens) */
  private readonly names: NetnsIndex;
  private readonly waits: SlotWaits;
  private readonly live: LiveFacts;
  private readonly leaks: LeakTracker | null = null;
  private dirWatch: { close(): void } | null = null;
  private recheckTimer: NodeJS.Timeout | null = null;
  private hostStateTimer: NodeJS.Timeout | null = null;
  /** serve with a slot layout: host state is read (at start, after changes, periodically) */
  private hostStateOn = false;
  /** how long the last read of host state took (ms): the next ones are spaced by it */
  private hostStateLastMs = 0;
  /** when the read in progress began looking at the host (0: none, or still waiting for the links) */
  private hostStateBegan = 0;
  private hostStateSoon: NodeJS.Timeout | null = null;
  private hostStateNow: HostStateView | null = null;
  private hostStateReading = false;
  private hostStateAgain = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private startAttempted = false;
  private stopped = false;
  private watcherHealthy = false;
  private watcherMessage = 'link watcher not started';
  private current: HostVerdict = STARTING;
  private restartCount = 0;
  private markEvaluated!: () => void;
  private readonly firstEvaluation = new Promise<void>((r) => (this.markEvaluated = r));

  constructor(
    readonly config: HostConfig,
    private readonly host: GateHost,
    private readonly opts: GateOptions,
  ) {
    super();
    this.backoffMs = opts.backoffMs ?? 100;
    this.names = new NetnsIndex(host, opts.owns);
    this.store = new LinkStore(opts.owns, host, this.names);
    const view: HostGateView = {
      state: () => (this.current.reason === 'starting' ? 'starting' : this.current.ready ? 'ready' : 'not-ready'),
      failing: () => describeFailing(this.current),
      evaluated: () => this.firstEvaluation,
    };
    this.waits = new SlotWaits(this.store, { maxWaiters: opts.maxWaiters, gate: opts.gateOnHost ? view : ALWAYS_READY, host, pidPollMs: opts.pidPollMs });
    this.waits.on('finished', (a) => this.emit('finished', a));
    this.live = new LiveFacts(this.store, host, config);
    if (opts.leaks) {
      const leaks = new LeakTracker(this.store, host, config.tap, opts.leaks, () => this.live.get());
      leaks.on('suspected', (leak) => this.emit('leak', { kind: 'suspected', leak }));
      leaks.on('in-use', (netns, idleSeconds) => this.emit('leak', { kind: 'in-use', netns, idleSeconds }));
      leaks.on('idle-ended', (seconds) => this.emit('leak', { kind: 'idle-ended', seconds }));
      leaks.on('tap-busy', (busy) => this.emit('leak', { kind: 'tap-busy', busy }));
      // a new count is judged on the facts last read: no re-read of the host for it
      leaks.on('summary', () => this.judge());
      this.leaks = leaks;
    }
    host.events.onEvent((ev) => this.store.apply(ev));
    host.events.onExit((reason) => this.onSourceExit(reason));
    host.events.onOverflow?.((detail) => this.onOverflow(detail));
    this.store.on('removed', () => {
      this.scheduleEvaluate();
      this.hostStateAfterChange();
    });
    // however a name got tracked (inotify, or a wait that read a fresh slot first), the verdict counts it
    this.store.on('tracked', () => {
      host.holders.touch();
      this.scheduleEvaluate();
      this.hostStateAfterChange();
    });
  }

  get healthy(): boolean {
    return this.watcherHealthy;
  }

  get verdict(): HostVerdict {
    return this.current;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** slot waits in flight */
  get waiting(): number {
    return this.waits.count;
  }

  /** Resolves when the links of every slot followed at start (or after a resync) have been read. */
  linksLoaded(): Promise<void> {
    return this.store.linksLoaded();
  }

  /** slots whose links are still to be read (the first seconds after start at 30,000 slots) */
  get linksPending(): number {
    return this.store.linksPending;
  }

  /** slot namespaces followed */
  get slotCount(): number {
    return this.store.byName.size;
  }

  /** A slot wait: resolves with the answer, or null when the client went away (signal aborted) first. */
  wait(req: WaitRequest, signal?: AbortSignal): Promise<WaitAnswer | null> {
    return this.waits.wait(req, signal);
  }

  /** A followed slot's links as the events left them; null when not followed or not read. */
  linksOf(netns: string): LinkFacts[] | null {
    const links = this.store.get(netns)?.links;
    return links ? [...links.values()] : null;
  }

  /** The slots for /inventory and /metrics (active, starting, idle, unknown): gate/live-facts.ts says how current. */
  slots() {
    return this.live.get();
  }

  /** The slots by state, as slots() would count them, at the cost of what changed since the last look (/metrics). */
  slotCounts() {
    return this.live.stateCounts();
  }

  /** The host state of slots (orphaned rules, unnamed namespaces) as last read; null: not read (yet). */
  get hostState(): HostStateView | null {
    return this.hostStateNow;
  }

  /**
   * Slots came or went: a slot's rules are left behind when its namespace goes without them, so host state is read
   * again once the changes have settled (one read per window, whatever the number of slots that changed).
   */
  private hostStateAfterChange(): void {
    if (!this.hostStateOn || this.hostStateSoon || this.stopped) return;
    // a read about to look at the host (waiting for the links loaded after start) sees this change too
    if (this.hostStateReading && this.hostStateBegan === 0) return;
    const wait = Math.max(this.opts.hostStateAfterChangeMs ?? HOST_STATE_AFTER_CHANGE_MS, HOST_STATE_AFTER_CHANGE_SPACING * this.hostStateLastMs);
    this.hostStateSoon = setTimeout(() => {
      this.hostStateSoon = null;
      void this.readHostState();
    }, wait);
    this.hostStateSoon.unref();
  }

  /** The safety net (rules changed by hand, with no slot change): the next periodic read, spaced by the last one's cost. */
  private scheduleHostState(): void {
    if (!this.hostStateOn || this.stopped) return;
    if (this.hostStateTimer) clearTimeout(this.hostStateTimer);
    this.hostStateTimer = setTimeout(
      () => {
        this.hostStateTimer = null;
        void this.readHostState();
      },
      Math.max(this.opts.hostStateMs ?? 0, HOST_STATE_PERIODIC_SPACING * this.hostStateLastMs),
    );
    this.hostStateTimer.unref();
  }

  /** how long the last read of host state took, ms (0: none yet) */
  get hostStateReadMs(): number {
    return this.hostStateLastMs;
  }

  /** Reads the host's slot state (one iptables-save, a link dump, ip route) and judges it; never throws. */
  private async readHostState(): Promise<void> {
    const layout = this.config.slotLayout;
    if (!layout || !this.host.hostSide || this.stopped) return;
    if (this.hostStateReading) {
      // a change while reading: what was read may predate it, so it is read once more afterwards
      if (this.hostStateBegan > 0) this.hostStateAgain = true;
      return;
    }
    this.hostStateReading = true;
    this.hostStateAgain = false;
    try {
      // names are matched to veths by nsid: none is judged while the nsids read after start are still coming in
      await this.store.linksLoaded();
      this.hostStateBegan = performance.now();
      // a read after a change still waiting is this one: every change so far is seen by it
      if (this.hostStateSoon) clearTimeout(this.hostStateSoon);
      this.hostStateSoon = null;
      // only the veths of slots without a named namespace have their peer asked (the unnamed ones): not every veth
      const namedBefore = slotNamesByIndex(this.ownedNames(), this.config.netnsPattern);
      const facts = await this.host.hostSide((name) => {
        const n = vethIndex(layout, name);
        return n !== null && !namedBefore.has(n);
      });
      const listing = this.names.listing;
      const owned = this.ownedNames();
      const namedNsids = new Set(owned.map((n) => this.store.byName.get(n)?.nsid).filter((id): id is number => typeof id === 'number'));
      const namedIndexes = slotNamesByIndex(owned, this.config.netnsPattern);
      this.hostStateNow = judgeHostState({ layout, facts, namedIndexes, namedNsids, namesError: listing.error ?? null });
      this.judge();
    } catch (err) {
      this.emit('watcher', 'host-state-failed', (err as Error).message);
    } finally {
      if (this.hostStateBegan > 0) this.hostStateLastMs = performance.now() - this.hostStateBegan;
      this.hostStateBegan = 0;
      this.hostStateReading = false;
      // whatever started this read, the next periodic one is counted from its end
      this.scheduleHostState();
      if (this.hostStateAgain) this.hostStateAfterChange();
    }
  }

  /** the slot namespaces' names, as the index last saw them */
  private ownedNames(): string[] {
    return this.names.listing.namespaces.map((n) => n.name).filter((n) => this.opts.owns(n));
  }

  /** Suspected leaks now (null: not tracked). */
  get leakSummary() {
    return this.leaks?.summary ?? null;
  }

  /** A slot's idle time and whether it is a suspected leak (null: not tracked). */
  leakOf(netns: string) {
    return this.leaks?.slot(netns) ?? null;
  }

  /** Never throws: a watcher that cannot start is reported as unhealthy and retried with backoff. */
  async start(): Promise<void> {
    this.dirWatch = this.host.watchNamespaces((names) => {
      // named: each is stat'ed once (slots by the store, others by the index: capacity counts them); null: all again
      if (names) this.names.update([...names].filter((n) => !this.opts.owns(n)));
      this.store
        .refresh(names ?? undefined)
        .then(() => this.scheduleEvaluate())
        .catch((err: Error) => this.emit('watcher', 'refresh-failed', err.message));
    });
    this.recheckTimer = setInterval(() => void this.recheck(), this.opts.recheckMs);
    this.recheckTimer.unref();
    if (this.opts.hostStateMs && this.config.slotLayout && this.host.hostSide) {
      this.hostStateOn = true;
    }
    this.host.holders.start();
    try {
      await this.follow();
    } catch (err) {
      this.host.events.stop();
      this.setWatcher(false, `link watcher could not start: ${(err as Error).message}; retrying`);
      this.emit('watcher', 'start-failed', (err as Error).message);
      this.scheduleRestart();
    }
    this.startAttempted = true;
    // after the first read of the names: it waits for their links, and sees every slot tracked meanwhile
    if (this.hostStateOn) void this.readHostState();
    this.leaks?.start();
    await this.evaluate();
  }

  /** Subscribe, then read everything: events that arrive during the read are replayed after it. */
  private async follow(): Promise<void> {
    await this.host.events.start();
    if (this.stopped) return this.host.events.stop();
    await this.store.resync();
    const restarted = this.restartCount > 0 ? `, restarted ${this.restartCount}x` : '';
    this.setWatcher(true, `following link events of ${this.store.byName.size} slot namespaces (${this.host.events.describe()}${restarted})`);
  }

  /**
   * Judges now on the facts last read (a watcher change shows at once), then reads them again off the event loop
   * (named namespaces through the thread pool) and judges once more. Reads do not overlap; calls meanwhile coalesce.
   */
  evaluate(): Promise<void> {
    // nothing is judged before start() has made its first attempt: an early verdict would say "watcher not started"
    if (this.stopped || !this.startAttempted) return Promise.resolve();
    this.judge();
    return this.readFacts();
  }

  private hostFacts: GateHostFacts | null = null;
  private lastPressure: PressureFacts | null = null;
  /** refusals the kernel made, as seen between two readings: kept a minute (host-pressure fails meanwhile) */
  private refusals: { table: 'neigh4' | 'neigh6' | 'conntrack'; n: number; at: number }[] = [];
  /** refusals seen since start, by table (vmgate_kernel_table_full_events_total) */
  readonly refusalsTotal = { neigh4: 0, neigh6: 0, conntrack: 0 };
  private lockHolders = '';
  private lockHeldSince: number | null = null;

  /** The kernel's shared tables as last read (null until the first evaluation). */
  get pressure(): PressureFacts | null {
    return this.lastPressure;
  }

  private notePressure(p: PressureFacts | undefined): void {
    if (!p) return;
    const before = this.lastPressure;
    const now = Date.now();
    if (before) {
      const grew = (table: 'neigh4' | 'neigh6' | 'conntrack', a: number | undefined, b: number | undefined) => {
        if (a === undefined || b === undefined || b <= a) return;
        this.refusals.push({ table, n: b - a, at: now });
        this.refusalsTotal[table] += b - a;
      };
      grew('neigh4', before.neigh4?.tableFulls, p.neigh4?.tableFulls);
      grew('neigh6', before.neigh6?.tableFulls, p.neigh6?.tableFulls);
      grew('conntrack', before.conntrack?.drops, p.conntrack?.drops);
    }
    const holders = (p.xtablesLock?.holders ?? []).map((h) => h.pid).join(',');
    if (holders !== this.lockHolders) this.lockHeldSince = holders ? now : null;
    this.lockHolders = holders;
    this.lastPressure = p;
  }

  private pressureWindow() {
    const since = Date.now() - PRESSURE_WINDOW_MS;
    this.refusals = this.refusals.filter((r) => r.at >= since);
    const recentRefusals: Partial<Record<'neigh4' | 'neigh6' | 'conntrack', number>> = {};
    for (const r of this.refusals) recentRefusals[r.table] = (recentRefusals[r.table] ?? 0) + r.n;
    return { recentRefusals, lockHeldSinceMs: this.lockHeldSince };
  }
  private reading: Promise<void> | null = null;
  private readAgain = false;

  private readFacts(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        const began = performance.now();
        await this.catchUpNames();
        const facts = { ...(await this.host.gateFacts()), namedCount: this.names.size, notMounted: this.names.notMounted() };
        if (this.stopped) return;
        this.hostFacts = facts;
        this.notePressure(facts.pressure);
        this.reconcile();
        this.judge();
        const took = performance.now() - began;
        if (this.readAgain) await sleep(Math.min(READ_AGAIN_MAX_MS, Math.max(READ_AGAIN_MIN_MS, READ_AGAIN_SPACING * took)), undefined, { ref: false });
      } while (this.readAgain && !this.stopped);
    })()
      .catch((err: Error) => void this.emit('watcher', 'evaluate-failed', err.message))
      .finally(() => (this.reading = null));
    return this.reading;
  }

  private judge(): void {
    if (this.stopped || !this.hostFacts) return;
    const before = this.current;
    const unwatched = this.store.unwatched();
    const leaks = this.leaks ? { summary: this.leaks.summary, opts: this.leaks.opts } : undefined;
    const now = evaluateHost(
      this.config,
      this.hostFacts,
      this.store.byName.size,
      {
        healthy: this.watcherHealthy,
        message: this.watcherMessage,
        unwatched,
      },
      leaks,
      this.hostStateNow,
      this.pressureWindow(),
    );
    this.current = now;
    this.markEvaluated();
    if (verdictKey(now) !== verdictKey(before)) this.emit('verdict', now, before);
  }

  /**
   * inotify drops events when its queue overflows (and says so in a way node does not pass on): one stat of
   * /run/netns says whether names came or went since the last look; only then are its names read and compared.
   */
  private async catchUpNames(): Promise<void> {
    const differ = await this.names.catchUp();
    this.refreshNames(differ);
    // a comparison put off while the directory kept moving: an evaluation then makes it, even if nothing else comes
    const due = this.names.compareDueInMs;
    if (due !== null && !this.compareTimer && !this.stopped) {
      this.compareTimer = setTimeout(() => {
        this.compareTimer = null;
        this.scheduleEvaluate();
      }, due + 1);
      this.compareTimer.unref();
    }
  }

  private compareTimer: NodeJS.Timeout | null = null;

  /** The recheck: an evaluation, and a slice of the names stat'ed again (all of them every NAMES_VERIFY_MS, spread). */
  private async recheck(): Promise<void> {
    await this.evaluate();
    if (this.stopped) return;
    this.refreshNames(await this.names.verifySlice(this.opts.recheckMs));
  }

  private refreshNames(differ: Set<string>): void {
    const owned = [...differ].filter((n) => this.opts.owns(n));
    if (owned.length === 0) return;
    this.store.refresh(owned).catch((err: Error) => this.emit('watcher', 'refresh-failed', err.message));
  }

  /**
   * What is followed against the index, in memory: a slot the store could not take in (a failed refresh) is tried
   * again at the next evaluation. Counted first (no work while both agree on the number); then compared name by name.
   */
  private reconcile(): void {
    if (this.names.ownedCount === this.store.byName.size && !this.storeBehind) return;
    const differ = new Set<string>();
    for (const n of this.names.list()) {
      if (!this.opts.owns(n.name)) continue;
      const known = this.store.get(n.name);
      if (!known || known.inode !== n.inode) differ.add(n.name);
    }
    for (const name of this.store.byName.keys()) if (!this.names.get(name)) differ.add(name);
    this.storeBehind = false;
    if (differ.size === 0) return;
    this.store.refresh(differ).catch((err: Error) => {
      this.storeBehind = true;
      this.emit('watcher', 'refresh-failed', err.message);
    });
  }

  private storeBehind = false;

  private evaluateQueued = false;
  private scheduleEvaluate(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    setImmediate(() => {
      this.evaluateQueued = false;
      void this.evaluate();
    });
  }

  private setWatcher(healthy: boolean, message: string): void {
    this.watcherHealthy = healthy;
    this.watcherMessage = message;
  }

  private overflowCount = 0;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;

  /** times link events were lost (the monitor's socket overflowed) since start */
  get overflows(): number {
    return this.overflowCount;
  }

  /** Events were lost: read every followed slot again (coalesced: one resync at a time, one more if lost again). */
  private onOverflow(detail: string): void {
    if (this.stopped) return;
    this.overflowCount += 1;
    if (this.resyncing) {
      this.resyncAgain = true;
      return;
    }
    this.emit('watcher', 'overflow', `${detail}: link events were lost; every slot's links are read again`);
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        await this.store.resync().catch((err: Error) => this.emit('watcher', 'refresh-failed', err.message));
        await this.store.linksLoaded();
        this.waits.recheckAll();
      } while (this.resyncAgain && !this.stopped);
    })().finally(() => {
      this.resyncing = null;
      void this.evaluate();
    });
  }

  private onSourceExit(reason: string): void {
    if (this.stopped) return;
    this.setWatcher(false, `link watcher down: ${reason}; restarting`);
    this.emit('watcher', 'down', reason);
    void this.evaluate();
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.restartCount += 1;
      this.follow().then(
        () => {
          if (this.stopped) return;
          this.backoffMs = this.opts.backoffMs ?? 100;
          this.emit('watcher', 'restarted', this.host.events.describe());
          void this.store.linksLoaded().then(() => this.waits.recheckAll());
          void this.evaluate();
        },
        (err: Error) => {
          // the source just started must not outlive a failed re-read: at most one ip monitor, ever
          this.host.events.stop();
          this.emit('watcher', 'restart-failed', err.message);
          this.scheduleRestart();
        },
      );
    }, delay);
  }

  /** Answers waits in flight with shutting-down, stops the event source (no child outlives us) and the timers. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.waits.shutdown();
    this.host.events.stop();
    this.host.holders.stop();
    this.leaks?.stop();
    this.dirWatch?.close();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    if (this.compareTimer) clearTimeout(this.compareTimer);
    if (this.hostStateTimer) clearTimeout(this.hostStateTimer);
    if (this.hostStateSoon) clearTimeout(this.hostStateSoon);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.host.close();
  }
}

/** The failing checks with their messages, for an error line: "netns-capacity: 96364 named namespaces reach ...". */
export function describeFailing(v: HostVerdict): string {
  const failing = v.checks.filter((c) => c.status === 'fail');
  return failing.length === 0 ? 'no check has failed yet' : failing.map((c) => `${c.id}: ${c.message}`).join('; ');
}
