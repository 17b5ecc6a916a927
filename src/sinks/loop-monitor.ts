import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** the fine monitor's timer period: delays are known to within this while requests come */
export const FINE_MS = 10;
/** the coarse monitor's period: always on, it still catches a long stall while nobody asks */
export const COARSE_MS = 100;
/** the fine monitor stays on this long after the last request */
const ACTIVE_HOLD_MS = 2000;

/** a histogram value (ns between ticks) as a delay in seconds: the timer's period subtracted, never below 0 */
const delaySeconds = (ns: number, periodMs: number) => Math.max(0, ns / 1e9 - periodMs / 1000);

/**
 * Event-loop delay for /metrics at an idle cost that does not show. A monitor is a timer that wakes the process
 * every period: at 10 ms that alone was ~0.5% of a core on an idle host (the largest part of an idle gate's CPU).
 * So the 10 ms monitor runs only while requests come (and ACTIVE_HOLD_MS after the last one), when a stall delays
 * an answer; a 100 ms monitor runs always (a stall of the idle gate still shows, known to within 100 ms).
 */
export class LoopMonitor {
  private readonly fine: IntervalHistogram = monitorEventLoopDelay({ resolution: FINE_MS });
  private readonly coarse: IntervalHistogram = monitorEventLoopDelay({ resolution: COARSE_MS });
  private fineOn = false;
  private lastActive = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  /** the fine monitor's longest delay (s) from busy spells since the last reset that have ended */
  private fineMaxBefore = 0;

  constructor(private readonly holdMs = ACTIVE_HOLD_MS) {
    this.coarse.enable();
  }

  /** whether the 10 ms monitor runs now */
  get fineRunning(): boolean {
    return this.fineOn;
  }

  /** a request came: delays matter now */
  touch(): void {
    this.lastActive = performance.now();
    if (this.fineOn) return;
    this.fineOn = true;
    // a histogram enabled again records the whole pause as its first interval unless reset first
    this.fine.reset();
    this.fine.enable();
    this.armIdle(this.holdMs);
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const quiet = performance.now() - this.lastActive;
      if (quiet < this.holdMs) return this.armIdle(this.holdMs - quiet);
      this.idleTimer = null;
      this.fineOn = false;
      this.fine.disable();
      // its longest delay is kept for the next scrape (the reset at the next enable would lose it)
      if (this.fine.count > 0) this.fineMaxBefore = Math.max(this.fineMaxBefore, delaySeconds(this.fine.max, FINE_MS));
    }, ms);
    this.idleTimer.unref();
  }

  /**
   * Delay since the last reset, seconds, the timer period subtracted (the histograms record the time between ticks):
   * from the 10 ms monitor when it ran, else from the 100 ms one.
   */
  percentile(p: number): number {
    const [h, period] = this.fineOn && this.fine.count > 0 ? [this.fine, FINE_MS] : [this.coarse, COARSE_MS];
    return h.count > 0 ? delaySeconds(h.percentile(p), period) : 0;
  }

  /** the longest delay since the last reset, seconds: whichever monitor saw more */
  max(): number {
    const of = (h: IntervalHistogram, period: number) => (h.count > 0 ? delaySeconds(h.max, period) : 0);
    return Math.max(this.fineOn ? of(this.fine, FINE_MS) : 0, this.fineMaxBefore, of(this.coarse, COARSE_MS));
  }

  reset(): void {
    this.fineMaxBefore = 0;
    this.fine.reset();
    this.coarse.reset();
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.fine.disable();
    this.coarse.disable();
  }
}
