import type { Logger } from '../logging/logger.js';

/** One failed slot wait, as the queue needs it. */
export interface FailedWait {
  netns: string;
  iface: string;
  reason: string;
  pid?: number;
}

export interface AfterWaitOptions {
  /** diagnoses running at once (each runs two `ip -n` children): never more than this many */
  inFlight?: number;
  /** diagnoses started per second, at most */
  perSecond?: number;
  /** a namespace is diagnosed at most once per interval; the summary line comes at the same rhythm */
  intervalMs?: number;
  /** namespaces waiting for a diagnosis, at most; beyond it failures are only counted */
  maxQueued?: number;
  now?: () => number;
}

/** The line a diagnosis produces: the verdict and its words. */
export interface DiagnosisLine {
  verdict: string;
  cause: string;
  next: string;
}

/**
 * After failed slot waits (timeout, vmm-exited): one diagnosis per namespace per interval, off the answer path.
 * Failures of a namespace already queued, running or diagnosed within the interval are coalesced into a count;
 * the line says how many failed waits it covers. At most `inFlight` run at once and `perSecond` start each second;
 * what could not be diagnosed is counted in one summary line per interval. Memory is bounded by maxQueued.
 */
export class AfterWaitDiagnoses {
  private readonly queue = new Map<string, FailedWait & { count: number }>();
  private readonly running = new Map<string, { count: number }>();
  private readonly lastDiagnosed = new Map<string, number>();
  /** failures not in any diagnosis line since the last summary, by namespace */
  private coalesced = new Map<string, number>();
  private dropped = 0;
  private startsThisSecond = 0;
  private second = -1;
  private pumpTimer: NodeJS.Timeout | null = null;
  private readonly summaryTimer: NodeJS.Timeout;
  private stopped = false;
  /** diagnoses started (tests) */
  started = 0;

  constructor(
    private readonly diagnose: (w: FailedWait) => Promise<DiagnosisLine>,
    private readonly log: Logger,
    private readonly opts: AfterWaitOptions = {},
  ) {
    this.summaryTimer = setInterval(() => this.summary(), this.interval);
    this.summaryTimer.unref();
  }

  private get interval(): number {
    return this.opts.intervalMs ?? 10_000;
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  failed(w: FailedWait): void {
    if (this.stopped) return;
    const pending = this.queue.get(w.netns) ?? this.running.get(w.netns);
    if (pending) return void (pending.count += 1);
    const last = this.lastDiagnosed.get(w.netns);
    if (last !== undefined && this.now() - last < this.interval) return void this.coalesced.set(w.netns, (this.coalesced.get(w.netns) ?? 0) + 1);
    if (this.queue.size >= (this.opts.maxQueued ?? 1000)) return void (this.dropped += 1);
    this.queue.set(w.netns, { ...w, count: 1 });
    // never in the caller's stack: failed() runs while the answer is being given
    if (this.pumpSoon) return;
    this.pumpSoon = true;
    setImmediate(() => {
      this.pumpSoon = false;
      this.pump();
    });
  }

  private pumpSoon = false;

  private pump(): void {
    if (this.stopped) return;
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.startsThisSecond = 0;
    }
    while (this.queue.size > 0 && this.running.size < (this.opts.inFlight ?? 2) && this.startsThisSecond < (this.opts.perSecond ?? 2)) {
      const [netns, w] = this.queue.entries().next().value as [string, FailedWait & { count: number }];
      this.queue.delete(netns);
      this.startsThisSecond += 1;
      this.run(w);
    }
    if (this.queue.size > 0 && this.running.size < (this.opts.inFlight ?? 2) && !this.pumpTimer) {
      // the rate is used up for this second: come back at the next one
      this.pumpTimer = setTimeout(
        () => {
          this.pumpTimer = null;
          this.pump();
        },
        1000 - (this.now() % 1000),
      );
      this.pumpTimer.unref();
    }
  }

  private run(w: FailedWait & { count: number }): void {
    this.started += 1;
    const slot = { count: w.count };
    this.running.set(w.netns, slot);
    this.lastDiagnosed.set(w.netns, this.now());
    this.diagnose(w)
      .then(
        (d) => {
          const covers = slot.count > 1 ? ` (${slot.count} failed waits)` : '';
          this.log.warn(
            { netns: w.netns, tap: w.iface, reason: w.reason, verdict: d.verdict, pid: w.pid, failedWaits: slot.count },
            `diagnose ${w.netns}${covers}: ${d.verdict}: ${d.cause}; next: ${d.next}`,
          );
        },
        (err: Error) => this.log.debug({ netns: w.netns, err: err.message }, 'diagnose after a failed wait did not finish'),
      )
      .finally(() => {
        this.running.delete(w.netns);
        this.pump();
      });
    if (this.lastDiagnosed.size > 10_000) this.forgetOld();
  }

  private forgetOld(): void {
    const now = this.now();
    for (const [name, at] of this.lastDiagnosed) if (now - at >= this.interval) this.lastDiagnosed.delete(name);
  }

  /** One line for what no diagnosis line covered since the last one. */
  summary(): void {
    const queued = this.queue.size;
    if (this.coalesced.size === 0 && this.dropped === 0) return;
    const total = [...this.coalesced.values()].reduce((a, b) => a + b, 0);
    const top = [...this.coalesced].sort((a, b) => b[1] - a[1]).slice(0, 10);
    const names =
      top.map(([n, c]) => `${n} x${c}`).join(', ') + (this.coalesced.size > top.length ? `, and ${this.coalesced.size - top.length} more namespaces` : '');
    this.log.info(
      { coalescedWaits: total, namespaces: this.coalesced.size, notDiagnosed: this.dropped, queued },
      `${total + this.dropped} failed waits not diagnosed one by one in the last ${Math.round(this.interval / 1000)}s` +
        (total ? `: ${total} on ${this.coalesced.size} namespaces diagnosed within the interval (${names})` : '') +
        (this.dropped ? `; ${this.dropped} beyond the queue of ${this.opts.maxQueued ?? 1000} namespaces` : ''),
    );
    this.coalesced = new Map();
    this.dropped = 0;
    this.forgetOld();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.summaryTimer);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.summary();
  }
}
