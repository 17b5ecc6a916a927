import { describe, expect, it } from 'vitest';
import { LoopMonitor } from '../../src/sinks/loop-monitor.js';
import { until } from '../helpers/until.js';

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('event-loop monitor (10 ms only while requests come)', () => {
  it('runs the fine monitor from a request until the hold has passed without one, and sees a stall either way', async () => {
    const m = new LoopMonitor(150);
    try {
      expect(m.fineRunning).toBe(false);
      m.touch();
      expect(m.fineRunning).toBe(true);
      // requests keep it on: each touch moves the end of the hold
      for (let i = 0; i < 4; i++) {
        await tick(50);
        m.touch();
      }
      expect(m.fineRunning).toBe(true);
      // a stall of the loop while it runs shows in the max (the coarse monitor, or the fine one)
      const end = Date.now() + 250;
      while (Date.now() < end) {
        /* block the loop */
      }
      await tick(120);
      expect(m.max()).toBeGreaterThan(0.1);
      expect(m.percentile(99)).toBeGreaterThanOrEqual(0);
      m.reset();
      await until(() => !m.fineRunning, 5000);
    } finally {
      m.close();
    }
  });
});

describe('event-loop monitor after a quiet spell', () => {
  it('does not count the quiet time as a delay when requests come again', async () => {
    const m = new LoopMonitor(30);
    try {
      m.touch();
      await until(() => !m.fineRunning, 5000);
      await tick(1000);
      m.reset();
      m.touch();
      await tick(60);
      // the second without the fine monitor is no stall (before the fix: max over 1 s)
      expect(m.max()).toBeLessThan(0.7);
    } finally {
      m.close();
    }
  });
});
