/**
 * Keeps a flood of similar lines out of the alloc log: the first line for each key (e.g. netns+reason) always
 * passes, then at most `perSecond` lines per kind each second; what was held back is counted and reported in one
 * summary line every `summaryMs`.
 */
export class LogLimiter {
  private readonly seen = new Set<string>();
  private readonly window = new Map<string, { second: number; count: number }>();
  private suppressed = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly onSummary: (counts: Record<string, number>, total: number) => void,
    private readonly perSecond = 5,
    summaryMs = 10_000,
    private readonly maxKeys = 10_000,
    private readonly now = () => Date.now(),
  ) {
    this.timer = setInterval(() => this.flush(), summaryMs);
    this.timer.unref();
  }

  /** true: write this line. kind groups the rate (e.g. the reason); key marks a first occurrence (e.g. netns+reason). */
  allow(kind: string, key: string): boolean {
    if (!this.seen.has(key)) {
      if (this.seen.size >= this.maxKeys) this.seen.clear(); // bounded memory; first occurrences start over
      this.seen.add(key);
      this.count(kind);
      return true;
    }
    const second = Math.floor(this.now() / 1000);
    const w = this.window.get(kind);
    if (!w || w.second !== second) {
      this.window.set(kind, { second, count: 1 });
      return true;
    }
    if (w.count < this.perSecond) {
      w.count += 1;
      return true;
    }
    this.suppressed.set(kind, (this.suppressed.get(kind) ?? 0) + 1);
    return false;
  }

  private count(kind: string): void {
    const second = Math.floor(this.now() / 1000);
    const w = this.window.get(kind);
    if (!w || w.second !== second) this.window.set(kind, { second, count: 1 });
    else w.count += 1;
  }

  /** Report what was held back since the last summary (also called at shutdown). */
  flush(): void {
    if (this.suppressed.size === 0) return;
    const counts = Object.fromEntries(this.suppressed);
    const total = [...this.suppressed.values()].reduce((a, b) => a + b, 0);
    this.suppressed = new Map();
    this.onSummary(counts, total);
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
