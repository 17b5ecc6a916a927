import { describe, expect, it } from 'vitest';
import { AfterWaitDiagnoses, type FailedWait } from '../../src/diagnose/after-waits.js';
import type { Logger } from '../../src/logging/logger.js';

/** A logger that keeps lines: level, fields, message. */
function memoryLog() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  return { lines, log: { warn: at('warn'), info: at('info'), debug: at('debug'), error: at('error') } as unknown as Logger };
}

const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

describe('diagnoses after failed waits', () => {
  it('a storm of 100 failures on 10 namespaces: one diagnosis per namespace, never more than 2 at once, one line each with its count', async () => {
    const { lines, log } = memoryLog();
    let running = 0;
    let most = 0;
    const diagnose = async (w: FailedWait) => {
      running += 1;
      most = Math.max(most, running);
      await tick(5);
      running -= 1;
      return { verdict: 'no-vmm', cause: `nothing holds ${w.netns}/tap0`, next: 'look at the orchestrator' };
    };
    const q = new AfterWaitDiagnoses(diagnose, log, { perSecond: 1000, intervalMs: 60_000 });
    for (let i = 0; i < 100; i++) q.failed({ netns: `ns-${i % 10}`, iface: 'tap0', reason: 'timeout' });
    for (let i = 0; i < 200 && lines.filter((l) => l.level === 'warn').length < 10; i++) await tick(5);
    q.stop();
    const diag = lines.filter((l) => l.level === 'warn');
    expect(q.started).toBe(10);
    expect(most).toBeLessThanOrEqual(2);
    expect(new Set(diag.map((l) => l.fields.netns)).size).toBe(10);
    // the first two started at once with one failure each; the other eight had collected all ten of theirs
    const covered = diag.reduce((a, l) => a + (l.fields.failedWaits as number), 0);
    const summary = lines.find((l) => l.level === 'info');
    expect(covered + ((summary?.fields.coalescedWaits as number | undefined) ?? 0)).toBe(100);
  });

  it('failures of a namespace diagnosed within the interval are counted in one summary line, not diagnosed again', async () => {
    const { lines, log } = memoryLog();
    const q = new AfterWaitDiagnoses(() => Promise.resolve({ verdict: 'no-vmm', cause: 'c', next: 'n' }), log, { intervalMs: 60_000 });
    q.failed({ netns: 'ns-1', iface: 'tap0', reason: 'timeout' });
    await tick(10);
    for (let i = 0; i < 5; i++) q.failed({ netns: 'ns-1', iface: 'tap0', reason: 'timeout' });
    q.stop();
    expect(q.started).toBe(1);
    const summary = lines.filter((l) => l.level === 'info');
    expect(summary).toHaveLength(1);
    expect(summary[0]!.fields).toMatchObject({ coalescedWaits: 5, namespaces: 1 });
    expect(summary[0]!.msg).toContain('ns-1 x5');
  });

  it('starts at most perSecond diagnoses a second and counts what does not fit the queue', async () => {
    const { lines, log } = memoryLog();
    const q = new AfterWaitDiagnoses(() => Promise.resolve({ verdict: 'v', cause: 'c', next: 'n' }), log, {
      perSecond: 2,
      maxQueued: 3,
      intervalMs: 60_000,
      now: () => 5000,
    });
    for (let i = 0; i < 10; i++) q.failed({ netns: `ns-${i}`, iface: 'tap0', reason: 'timeout' });
    await tick(20);
    expect(q.started).toBe(2);
    q.stop();
    const summary = lines.find((l) => l.level === 'info')!;
    expect(summary.fields.notDiagnosed).toBe(7); // 3 queued (2 of them started), 7 beyond the queue
  });

  it('a diagnosis that fails is logged at debug and frees its slot', async () => {
    const { lines, log } = memoryLog();
    let n = 0;
    const q = new AfterWaitDiagnoses(async () => (n++ === 0 ? Promise.reject(new Error('ip timed out')) : { verdict: 'v', cause: 'c', next: 'n' }), log, {
      inFlight: 1,
      perSecond: 100,
    });
    q.failed({ netns: 'ns-1', iface: 'tap0', reason: 'timeout' });
    q.failed({ netns: 'ns-2', iface: 'tap0', reason: 'timeout' });
    await tick(20);
    q.stop();
    expect(lines.map((l) => l.level)).toEqual(['debug', 'warn']);
  });
});
