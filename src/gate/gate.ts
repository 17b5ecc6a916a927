import { EventEmitter } from 'node:events';
import type { HostConfig } from '../config/host-config.js';
import { LinkMonitor } from '../host/link-monitor.js';
import { LinkReader } from '../host/links.js';
import { NetnsDirWatch } from '../host/netns-dir-watch.js';
import { evaluateHost, STARTING, verdictKey, type HostVerdict } from './host-verdict.js';
import { LinkStore } from './link-store.js';
import { ALWAYS_READY, SlotWaits, type HostGateView } from './slot-waits.js';

export interface GateOptions {
  /** which namespaces to follow (serve: the pattern; wait: one name) */
  owns: (name: string) => boolean;
  maxWaiters: number;
  /** re-evaluation of what has no events: the tun device, the kernel limit */
  recheckMs: number;
  /** whether slot waits need a ready host (serve: yes; the wait command: no) */
  gateOnHost: boolean;
  /** gives slot namespaces without an nsid one (actions/assign-nsids, wired by the CLI); without it they stay unwatched */
  assignNsids?: (names: string[], dir: string) => Promise<unknown>;
}

/**
 * The readiness gate's engine: subscribe (ip monitor), then read (resync), then follow events. A dead monitor
 * is restarted with backoff and followed by a resync. Emits 'verdict'(now, before) and 'watcher'(event, detail).
 */
export class Gate extends EventEmitter {
  readonly reader = new LinkReader(4);
  readonly store: LinkStore;
  readonly waits: SlotWaits;
  private readonly monitor = new LinkMonitor();
  private dirWatch: NetnsDirWatch | null = null;
  private recheckTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = 100;
  private startAttempted = false;
  private stopped = false;
  private watcherHealthy = false;
  private watcherMessage = 'link watcher not started';
  verdict: HostVerdict = STARTING;
  restarts = 0;
  private markEvaluated!: () => void;
  private readonly firstEvaluation = new Promise<void>((r) => (this.markEvaluated = r));

  constructor(
    readonly config: HostConfig,
    private readonly opts: GateOptions,
  ) {
    super();
    this.store = new LinkStore(opts.owns, this.reader, undefined, opts.assignNsids);
    const host: HostGateView = {
      state: () => (this.verdict.reason === 'starting' ? 'starting' : this.verdict.ready ? 'ready' : 'not-ready'),
      failing: () => describeFailing(this.verdict),
      evaluated: () => this.firstEvaluation,
    };
    this.waits = new SlotWaits(this.store, { maxWaiters: opts.maxWaiters, host: opts.gateOnHost ? host : ALWAYS_READY });
    this.monitor.on('event', (ev) => this.store.apply(ev));
    this.monitor.on('exit', (reason: string) => this.onMonitorExit(reason));
    this.store.on('removed', () => this.scheduleEvaluate());
    // however a name got tracked (inotify, or a wait that read a fresh slot first), the verdict counts it
    this.store.on('tracked', () => this.scheduleEvaluate());
  }

  get healthy(): boolean {
    return this.watcherHealthy;
  }

  get monitorPid(): number | undefined {
    return this.monitor.pid;
  }

  /** Never throws: a watcher that cannot start is reported as unhealthy and retried with backoff. */
  async start(): Promise<void> {
    this.dirWatch = new NetnsDirWatch(() => void this.store.refresh().then(() => this.scheduleEvaluate()).catch((err) => this.emit('watcher', 'refresh-failed', (err as Error).message)));
    this.recheckTimer = setInterval(() => this.evaluate(), this.opts.recheckMs);
    this.recheckTimer.unref();
    try {
      await this.monitor.start();
      await this.store.resync();
      this.setWatcher(true, `following link events of ${this.store.byName.size} slot namespaces (ip monitor pid ${this.monitor.pid})`);
    } catch (err) {
      this.monitor.stop();
      this.setWatcher(false, `link watcher could not start: ${(err as Error).message}; retrying`);
      this.emit('watcher', 'start-failed', (err as Error).message);
      this.scheduleRestart();
    }
    this.startAttempted = true;
    this.evaluate();
  }

  evaluate(): void {
    // nothing is judged before start() has made its first attempt: an early verdict would say "watcher not started"
    if (this.stopped || !this.startAttempted) return;
    const before = this.verdict;
    const unwatched = [...this.store.byName.values()].filter((n) => n.nsid === null).map((n) => n.name);
    const now = evaluateHost(this.config, this.store.byName.size, { healthy: this.watcherHealthy, message: this.watcherMessage, unwatched });
    this.verdict = now;
    this.markEvaluated();
    if (verdictKey(now) !== verdictKey(before)) this.emit('verdict', now, before);
  }

  private evaluateQueued = false;
  private scheduleEvaluate(): void {
    if (this.evaluateQueued) return;
    this.evaluateQueued = true;
    setImmediate(() => {
      this.evaluateQueued = false;
      this.evaluate();
    });
  }

  private setWatcher(healthy: boolean, message: string): void {
    this.watcherHealthy = healthy;
    this.watcherMessage = message;
  }

  private onMonitorExit(reason: string): void {
    if (this.stopped) return;
    this.setWatcher(false, `link watcher down: ${reason}; restarting`);
    this.emit('watcher', 'down', reason);
    this.evaluate();
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    this.restartTimer = setTimeout(async () => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.restarts += 1;
      try {
        await this.monitor.start();
        await this.store.resync();
        this.backoffMs = 100;
        this.setWatcher(true, `following link events of ${this.store.byName.size} slot namespaces (ip monitor pid ${this.monitor.pid}, restarted ${this.restarts}x)`);
        this.emit('watcher', 'restarted', `ip monitor pid ${this.monitor.pid}`);
        this.waits.recheckAll();
        this.evaluate();
      } catch (err) {
        // the monitor just started must not outlive a failed re-read: at most one ip monitor, ever
        this.monitor.stop();
        this.emit('watcher', 'restart-failed', (err as Error).message);
        this.scheduleRestart();
      }
    }, delay);
  }

  /** Answers waits in flight with shutting-down, stops the monitor (no child outlives us) and the timers. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.waits.shutdown();
    this.monitor.stop();
    this.dirWatch?.close();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.reader.close();
  }
}

/** The failing checks with their messages, for an error line: "netns-capacity: 96364 named namespaces reach ...". */
export function describeFailing(v: HostVerdict): string {
  const failing = v.checks.filter((c) => c.status === 'fail');
  return failing.length === 0 ? 'no check has failed yet' : failing.map((c) => `${c.id}: ${c.message}`).join('; ');
}
