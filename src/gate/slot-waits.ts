import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { GateHost } from './gate-host.js';
import type { LinkStore } from './link-store.js';
import type { SlotWaitsEvents } from './events.js';
import type { LinkFacts } from '../host/types.js';
import type { WaitAnswer, WaitReason, WaitRequest } from './wait-answer.js';

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

interface Waiter {
  req: WaitRequest;
  started: number;
  timer: NodeJS.Timeout;
  finish: (reason: WaitReason, error?: string) => void;
  /** time is up: answer from the kernel's own read of the links (carrier-up if it has carrier, else timeout) */
  finishFrom: (links: LinkFacts[] | null) => void;
  downSeen?: boolean;
}

const ADMIN_DOWN_SETTLE_MS = 50;
const EXPIRE_BATCH = 20;
/** how long a wait whose deadline passed still waits for the kernel's own word on its tap (RTM_GETLINK) */
const KERNEL_SAYS_MS = 500;

/** What a slot wait needs of the host gate. */
export interface HostGateView {
  /** starting: the first evaluation has not finished; not-ready: it has, and a check fails */
  state(): 'ready' | 'starting' | 'not-ready';
  /** the failing checks, named, for host-not-ready's error */
  failing(): string;
  /** resolves when the first evaluation has finished */
  evaluated(): Promise<void>;
}

export const ALWAYS_READY: HostGateView = { state: () => 'ready', failing: () => '', evaluated: () => Promise.resolve() };

/** What a slot wait reads of the host itself: a fresh name, tap holders, whether the VMM lives. */
export type WaitHost = Pick<GateHost, 'namespaceExists' | 'holders' | 'isAlive'>;

export interface SlotWaitsOptions {
  maxWaiters: number;
  /** the host gate: a slot wait waits for its first evaluation, and on a host that is not ready answers host-not-ready */
  gate: HostGateView;
  host: WaitHost;
  /** how often the given pids are looked at (a vanished VMM answers within this) */
  pidPollMs?: number;
}

/**
 * Slot waits, answered from link events: a waiter is looked at again only when its namespace changes, its
 * pid is gone, or its time is up. Emits 'finished'(answer) for every answered wait.
 */
export class SlotWaits extends EventEmitter<SlotWaitsEvents> {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private pidTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** waits still waiting for the first evaluation: released at shutdown */
  private readonly startingWaits = new Set<() => void>();

  constructor(
    private readonly store: LinkStore,
    private readonly opts: SlotWaitsOptions,
  ) {
    super();
    store.on('changed', (name: string) => {
      // a link changed: a process may have attached or detached; the holder index picks up new pids before answering
      opts.host.holders.touch();
      this.recheck(name);
    });
    store.on('removed', (name: string) => this.recheck(name));
  }

  get count(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** Resolves with the answer, or null when the client went away (signal aborted) first. */
  async wait(req: WaitRequest, signal?: AbortSignal): Promise<WaitAnswer | null> {
    const started = performance.now();
    if (this.closed) return this.answer(req, started, 'shutting-down');
    const host = this.opts.gate;
    if (host.state() === 'starting') {
      // starting is not "no": wait for the first evaluation within the request's own deadline
      let release = () => {};
      const shutdown = new Promise<boolean>((r) => (release = () => r(false)));
      this.startingWaits.add(release);
      const evaluated = await Promise.race([host.evaluated().then(() => true), delay(req.timeoutMs).then(() => false), shutdown]);
      this.startingWaits.delete(release);
      if (signal?.aborted) return null;
      if (this.closed) return this.answer(req, started, 'shutting-down');
      if (!evaluated)
        return this.answer(
          req,
          started,
          'starting',
          `vmgate is starting: its first look at the host has not finished within ${req.timeoutMs}ms; retry shortly`,
        );
    }
    if (host.state() !== 'ready') return this.answer(req, started, 'host-not-ready', `the host gate says no: ${host.failing()}`);
    // created a moment ago, before inotify told us (or seen as the plain file `ip netns add` makes before its mount):
    // read it now rather than answer netns-not-found or netns-unwatched, but never past the request's own deadline
    const known = this.store.get(req.netns);
    if ((!known || known.nsfs === false) && this.opts.host.namespaceExists(req.netns)) {
      const left = Math.max(0, req.timeoutMs - (performance.now() - started));
      await Promise.race([this.store.refresh([req.netns]).catch(() => undefined), delay(left)]);
      if (signal?.aborted) return null;
      if (this.closed) return this.answer(req, started, 'shutting-down');
    }
    if (signal?.aborted) return null;
    // every kind of slot request counts against the cap, answered-at-once ones included (a flood of timeout_ms=0)
    if (this.count >= this.opts.maxWaiters) return this.answer(req, started, 'too-many-waiters', `${this.opts.maxWaiters} waits are in flight`);
    // just started: the background read of every slot's links has not reached this one yet; read it first
    this.store.readFirst(req.netns);
    const now = this.judge(req);
    if (now && (now.reason === 'iface-not-found' || now.reason === 'iface-admin-down') && !this.store.get(req.netns)?.linkError) {
      // link events lag: a tap made or set up a moment before the request may not be in the store yet. Before saying
      // no, the kernel's own word (one dump of this namespace, shared); the tap there and up: wait for its event
      const link = (await this.kernelSays(req.netns))?.find((l) => l.name === req.iface);
      if (signal?.aborted) return null;
      if (this.closed) return this.answer(req, started, 'shutting-down');
      // absent there too (or the kernel did not answer in time): the store's word stands
      if (!link) return this.answer(req, started, now.reason, now.error);
      if (!link.adminUp)
        return this.answer(
          req,
          started,
          'iface-admin-down',
          now.reason === 'iface-admin-down' ? now.error : `${req.netns}/${req.iface} is administratively down`,
          link,
        );
      if (link.carrier) return this.answer(req, started, 'carrier-up', undefined, link);
    } else if (now) return this.answer(req, started, now.reason, now.error);
    if (req.timeoutMs === 0) return this.timeoutOrCarrier(req, started);
    return new Promise<WaitAnswer | null>((resolve) => {
      const key = req.netns;
      const set = this.waiters.get(key) ?? new Set<Waiter>();
      this.waiters.set(key, set);
      const done = (result: WaitAnswer | null) => {
        clearTimeout(w.timer);
        set.delete(w);
        if (set.size === 0) this.waiters.delete(key);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = () => done(null);
      const w: Waiter = {
        req,
        started,
        timer: setTimeout(() => this.expire(w), Math.max(0, req.timeoutMs - (performance.now() - started))),
        finish: (reason, error) => done(this.answer(req, started, reason, error)),
        finishFrom: (links) => {
          const link = links?.find((l) => l.name === req.iface);
          done(link?.adminUp && link.carrier ? this.answer(req, started, 'carrier-up', undefined, link) : this.answer(req, started, 'timeout'));
        },
      };
      set.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (req.pid !== undefined) this.startPidPoll();
    });
  }

  /**
   * Time is up. A host that turned not-ready meanwhile (a dead link watcher misses events) is named instead of
   * blaming the VMM with a timeout; waits in flight are not cut short by a verdict change (a restarted watcher
   * re-judges them within seconds).
   */
  private expire(w: Waiter): void {
    this.expired.push(w);
    if (this.expired.length === 1) setImmediate(() => this.answerExpired());
  }

  /** waits whose time is up, answered EXPIRE_BATCH per turn: 200 timeouts due at one moment never hold the loop at once */
  private expired: Waiter[] = [];

  private answerExpired(): void {
    for (const w of this.expired.splice(0, EXPIRE_BATCH)) {
      if (!this.isWaiting(w)) continue; // answered meanwhile (an event, a disconnect, shutdown)
      if (this.opts.gate.state() === 'not-ready')
        w.finish('host-not-ready', `no answer within ${w.req.timeoutMs}ms and the host gate says no: ${this.opts.gate.failing()}`);
      else if (this.notReadYet(w.req.netns)) w.finish('starting', `vmgate started moments ago and has not read ${w.req.netns}'s links yet; retry shortly`);
      else void this.kernelSays(w.req.netns).then((links) => this.isWaiting(w) && w.finishFrom(links));
    }
    if (this.expired.length > 0) setImmediate(() => this.answerExpired());
  }

  /** one RTM_GETLINK per namespace at a time, shared by every wait that asks meanwhile */
  private readonly reading = new Map<string, Promise<LinkFacts[] | null>>();

  private kernelSays(netns: string): Promise<LinkFacts[] | null> {
    let p = this.reading.get(netns);
    if (!p) {
      // the deadline has passed: the kernel gets KERNEL_SAYS_MS more, then the answer goes out without it
      p = Promise.race([this.store.readNow(netns), delay(KERNEL_SAYS_MS).then(() => null)]).finally(() => this.reading.delete(netns));
      this.reading.set(netns, p);
    }
    return p;
  }

  /** followed, but the background read after start has not read its links yet */
  private notReadYet(netns: string): boolean {
    return this.store.loading(netns);
  }

  /** Before a timeout: the kernel's own word (a link event may be late); carrier there is carrier-up. */
  private async timeoutOrCarrier(req: WaitRequest, started: number): Promise<WaitAnswer> {
    const links = await this.kernelSays(req.netns);
    if (!links && this.notReadYet(req.netns))
      return this.answer(req, started, 'starting', `vmgate started moments ago and has not read ${req.netns}'s links yet; retry shortly`);
    const link = links?.find((l) => l.name === req.iface);
    return link?.adminUp && link.carrier ? this.answer(req, started, 'carrier-up', undefined, link) : this.answer(req, started, 'timeout');
  }

  private isWaiting(w: Waiter): boolean {
    return this.waiters.get(w.req.netns)?.has(w) ?? false;
  }

  /** Answers every wait in flight with shutting-down; new waits get it at once. */
  shutdown(): void {
    this.closed = true;
    for (const release of this.startingWaits) release();
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.finish('shutting-down');
    this.stopPidPoll();
  }

  /** Re-judge all waits (after a resync). */
  recheckAll(): void {
    for (const name of [...this.waiters.keys()]) this.recheck(name);
  }

  private recheck(name: string): void {
    const set = this.waiters.get(name);
    if (!set) return;
    for (const w of [...set]) {
      const verdict = this.judge(w.req);
      if (!verdict) continue;
      // deleting a tap first sets it down, then removes it: give the removal a moment before calling it admin-down
      if (verdict.reason === 'iface-admin-down' && !w.downSeen) {
        w.downSeen = true;
        setTimeout(() => this.recheck(name), ADMIN_DOWN_SETTLE_MS);
        continue;
      }
      w.finish(verdict.reason, verdict.error);
    }
  }

  /** A final answer for the request now, or null to keep waiting. */
  private judge(req: WaitRequest): { reason: WaitReason; error?: string } | null {
    const ns = this.store.get(req.netns);
    if (!ns) {
      // created a moment ago and not read yet: it exists, so it is never "not found" (keep waiting, or time out)
      if (this.store.follows(req.netns) && this.opts.host.namespaceExists(req.netns)) return null;
      return { reason: 'netns-not-found', error: `no slot namespace '${req.netns}' (named in /run/netns and matching --netns-pattern)` };
    }
    if (ns.unread) return null;
    if (ns.nsid === null) {
      return {
        reason: 'netns-unwatched',
        error: `vmgate cannot follow ${req.netns}: it has no nsid ('ip netns set ${req.netns} auto' did not give it one), so its link events never arrive`,
      };
    }
    if (!ns.links) {
      if (!ns.linkError) return null;
      this.rereadSoon();
      return { reason: 'iface-not-found', error: `links of ${req.netns} could not be read: ${ns.linkError} (read again now)` };
    }
    const link = ns.links.get(req.iface);
    if (!link) return { reason: 'iface-not-found', error: `no interface '${req.iface}' in ${req.netns}` };
    if (!link.adminUp)
      return {
        reason: 'iface-admin-down',
        error: `${req.netns}/${req.iface} is administratively down: carrier can never come ('ip -n ${req.netns} link set ${req.iface} up')`,
      };
    if (link.carrier) return { reason: 'carrier-up' };
    if (req.pid !== undefined && !this.opts.host.isAlive(req.pid))
      return { reason: 'vmm-exited', error: `pid ${req.pid} exited before ${req.netns}/${req.iface} got carrier` };
    return null;
  }

  private answer(req: WaitRequest, started: number, reason: WaitReason, error?: string, read?: LinkFacts): WaitAnswer {
    const ns = this.store.get(req.netns);
    const link = read ?? ns?.links?.get(req.iface);
    const carrier = Boolean(link?.carrier);
    const holders = ns && link ? this.opts.host.holders.holders(ns.inode, req.iface).map(({ pid, comm }) => ({ pid, comm })) : [];
    const a: WaitAnswer = {
      ready: reason === 'carrier-up',
      reason,
      netns: req.netns,
      iface: req.iface,
      carrier,
      waitedMs: Math.round((performance.now() - started) * 100) / 100,
      holders,
      ...(req.pid !== undefined ? { pid: req.pid } : {}),
      ...(error ? { error } : {}),
    };
    if (reason === 'timeout')
      a.error = !ns
        ? `${req.netns} exists but vmgate has not read it yet (created a moment ago): no carrier seen within ${req.timeoutMs}ms`
        : holders.length > 0
          ? `no carrier on ${req.netns}/${req.iface} within ${req.timeoutMs}ms although pid ${holders.map((h) => h.pid).join(',')} holds it`
          : `no carrier on ${req.netns}/${req.iface} within ${req.timeoutMs}ms: no process has the tap attached`;
    this.emit('finished', a);
    return a;
  }

  private lastReread = 0;
  /** a slot whose links could not be read gets another read, at most once a second */
  private rereadSoon(): void {
    const now = performance.now();
    if (now - this.lastReread < 1000) return;
    this.lastReread = now;
    // no name given: only the slots whose links could not be read are read again, never the whole directory
    void this.store.refresh([]).catch(() => undefined);
  }

  /**
   * One shared look per distinct pid per tick, however many waits name it (a VMM's pid is usually asked by one
   * wait, but a retrying client sends many): the cost follows the VMMs waited on, not the waits.
   */
  private startPidPoll(): void {
    if (this.pidTimer) return;
    this.pidTimer = setInterval(() => {
      const byPid = new Map<number, Waiter[]>();
      for (const set of this.waiters.values()) {
        for (const w of set) {
          if (w.req.pid === undefined) continue;
          const list = byPid.get(w.req.pid);
          if (list) list.push(w);
          else byPid.set(w.req.pid, [w]);
        }
      }
      if (byPid.size === 0) return this.stopPidPoll();
      for (const [pid, list] of byPid) {
        if (this.opts.host.isAlive(pid)) continue;
        for (const w of list) w.finish('vmm-exited', `pid ${pid} exited before ${w.req.netns}/${w.req.iface} got carrier`);
      }
    }, this.opts.pidPollMs ?? 10);
  }

  private stopPidPoll(): void {
    if (this.pidTimer) clearInterval(this.pidTimer);
    this.pidTimer = null;
  }
}
