import { describe, expect, it } from 'vitest';
import { checkSlotLeaks } from '../../src/checks/slot-leaks.js';
import type { LeakOptions } from '../../src/config/leak-options.js';
import { Gate } from '../../src/gate/gate.js';
import { LeakTracker, sweepInterval, type LeakEvent, type TapBusyEvent } from '../../src/gate/leak-tracker.js';
import { NetnsIndex } from '../../src/gate/netns-index.js';
import { LinkStore } from '../../src/gate/link-store.js';
import { LiveFacts } from '../../src/gate/live-facts.js';
import type { ProcessEntry } from '../../src/host/proc-table.js';
import { config, FakeHost, tick } from '../helpers/fake-gate-host.js';

/**
 * Leak tracking without root: the host is in memory (namespaces, link events, the holder index's "last process
 * gone", a process table), time is a number the test moves. The real kernel is in test/host/serve-leaks.test.ts.
 */

const MIN = 60_000;

function proc(pid: number, comm: string, over: Partial<ProcessEntry> = {}): ProcessEntry {
  return { pid, comm, netnsInodes: [4026531840], tunFds: [], netnsFds: [], openTunFds: [], ...over };
}

const ORCH = proc(100, 'orchestrator');

async function harness(opts: Partial<LeakOptions> = {}, setup: (h: FakeHost) => void = () => undefined) {
  const host = new FakeHost();
  host.processes = { processes: [ORCH] };
  setup(host);
  const store = new LinkStore((n) => n.startsWith('ns-'), host, new NetnsIndex(host));
  host.events.onEvent((ev) => store.apply(ev));
  await host.events.start();
  await store.resync();
  await store.linksLoaded();
  // a fresh pass at every look: the test changes the process table between looks
  let now = 1_000_000;
  const live = new LiveFacts(store, host, config(), 0, () => now);
  const tracker = new LeakTracker(
    store,
    host,
    'tap0',
    { ageMs: 10 * MIN, warn: 1, fail: null, pool: 0, ...opts },
    () => live.get(),
    () => now,
  );
  const events: { kind: string; args: unknown[] }[] = [];
  tracker.on('suspected', (...args) => events.push({ kind: 'suspected', args }));
  tracker.on('in-use', (...args) => events.push({ kind: 'in-use', args }));
  tracker.on('idle-ended', (...args) => events.push({ kind: 'idle-ended', args }));
  tracker.on('tap-busy', (...args) => events.push({ kind: 'tap-busy', args }));
  tracker.on('summary', (...args) => events.push({ kind: 'summary', args }));
  return {
    host,
    store,
    tracker,
    events,
    of: (kind: string) => events.filter((e) => e.kind === kind).map((e) => e.args),
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
    /** a look through the pass, then judgement (what the sweep timer does) */
    sweep: () => tracker.sweep(),
  };
}

describe('leak tracking (serve): idle time from events and passes', () => {
  it('an idle slot becomes a suspected leak after --leak-age while the orchestrator runs, with one event naming it', async () => {
    const h = await harness({}, (host) => void host.add('ns-1', 'no-carrier'));
    await h.sweep();
    expect(h.tracker.summary.suspected).toEqual([]);
    expect(h.tracker.slot('ns-1')).toEqual({ suspectedLeak: false, idleSeconds: 0 });
    h.advance(10 * MIN - 1);
    await h.sweep();
    expect(h.tracker.summary.suspected).toEqual([]);
    h.advance(1);
    await h.sweep();
    expect(h.tracker.summary.suspected).toEqual([{ netns: 'ns-1', idleSeconds: 600 }]);
    expect(h.tracker.slot('ns-1')).toEqual({ suspectedLeak: true, idleSeconds: 600 });
    const [e] = h.of('suspected')[0] as [LeakEvent];
    expect(e).toMatchObject({ netns: 'ns-1', tap: 'tap0', tapState: 'no-carrier', idleSeconds: 600, lastHolder: null, orchestrators: [100] });
    h.advance(MIN);
    await h.sweep();
    expect(h.of('suspected')).toHaveLength(1); // once per slot, not per sweep
  });

  it('without an orchestrator idle slots are leftovers, never suspected leaks; they are once it runs', async () => {
    const h = await harness({}, (host) => {
      host.add('ns-1');
      host.processes = { processes: [] };
    });
    await h.sweep();
    h.advance(20 * MIN);
    await h.sweep();
    expect(h.tracker.summary).toMatchObject({ orchestratorRunning: false, suspected: [], idle: 1 });
    expect(checkSlotLeaks(h.tracker.summary, h.tracker.opts)).toMatchObject({ status: 'pass', message: expect.stringContaining('leftovers') });
    h.host.processes = { processes: [ORCH] };
    await h.sweep();
    // idle all along: the time counts from when vmgate first saw it idle
    expect(h.tracker.summary.suspected).toEqual([{ netns: 'ns-1', idleSeconds: 1200 }]);
  });

  it('a held slot never counts; carrier (a link event) ends a suspected leak at once, with the idle time for the histogram', async () => {
    const h = await harness({}, (host) => {
      host.add('ns-1', 'carrier');
      host.add('ns-2', 'no-carrier');
    });
    await h.sweep();
    h.advance(10 * MIN);
    await h.sweep();
    expect(h.tracker.summary.suspected.map((s) => s.netns)).toEqual(['ns-2']);
    expect(h.tracker.slot('ns-1')).toEqual({ suspectedLeak: false, idleSeconds: null });
    h.host.setTap('ns-2', 'carrier');
    expect(h.tracker.slot('ns-2')).toEqual({ suspectedLeak: false, idleSeconds: null });
    expect(h.of('in-use')).toEqual([['ns-2', 600]]);
    // idle when vmgate started: its start was not seen, so no histogram sample
    expect(h.of('idle-ended')).toEqual([]);
    await tick();
    expect(h.tracker.summary.suspected).toEqual([]);
    // carrier lost with nobody inside: idle from that event, and this time its start was seen
    h.host.setTap('ns-2', 'no-carrier');
    await tick(); // who is inside is asked once per event-loop turn
    h.advance(90_000);
    h.host.setTap('ns-2', 'carrier');
    expect(h.of('idle-ended')).toEqual([[90]]);
  });

  it('a process inside keeps a slot without carrier in use; the last one gone starts the idle time', async () => {
    const h = await harness({}, (host) => {
      const ns = host.add('ns-1', 'no-carrier');
      host.holderMap.set(`${ns.inode}|tap0`, [{ pid: 7, comm: 'firecracker', fd: 20 }]);
      host.processes = { processes: [ORCH, proc(7, 'firecracker', { netnsInodes: [ns.inode], tunFds: [{ fd: 20, iff: 'tap0' }] })] };
    });
    await h.sweep();
    expect(h.tracker.slot('ns-1').idleSeconds).toBeNull();
    // the VMM exits: carrier was never there, so only the holder index knows
    h.host.processes = { processes: [ORCH] };
    h.advance(5000);
    const goneAt = h.now;
    h.host.lastProcessGone('ns-1');
    await tick();
    expect(h.tracker.slot('ns-1').idleSeconds).toBe(0);
    h.advance(10 * MIN);
    // not confirmed by a pass yet (an fd on the namespace has no event): not suspected
    h.tracker.judge();
    expect(h.tracker.summary.suspected).toEqual([]);
    await h.sweep();
    expect(h.tracker.summary.suspected).toEqual([{ netns: 'ns-1', idleSeconds: (h.now - goneAt) / 1000 }]);
    const [e] = h.of('suspected')[0] as [LeakEvent];
    expect(e.lastHolder).toEqual({ pid: 7, comm: 'firecracker' });
  });

  it('an fd on the namespace (no event for it) is use: found by the next pass', async () => {
    const h = await harness({}, (host) => void host.add('ns-1', 'no-carrier'));
    const inode = h.host.namespaces.get('ns-1')!.inode;
    await h.sweep();
    h.advance(5 * MIN);
    h.host.processes = { processes: [ORCH, proc(8, 'ip', { netnsFds: [inode] })] };
    await h.sweep();
    h.advance(10 * MIN);
    h.host.processes = { processes: [ORCH] };
    await h.sweep();
    // idle again from this pass on, not from the first look
    expect(h.tracker.slot('ns-1').idleSeconds).toBe(0);
    expect(h.tracker.summary.suspected).toEqual([]);
  });

  it('a pass begun before a link event does not undo what the event said', async () => {
    const h = await harness({}, (host) => void host.add('ns-1', 'no-carrier'));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const real = h.host.processTable.bind(h.host);
    // the pass reads the table before the event, and finishes after it
    h.host.processTable = async () => {
      const t = await real();
      await held;
      return t;
    };
    const sweeping = h.sweep();
    await tick();
    h.advance(1000);
    h.host.setTap('ns-1', 'carrier');
    release();
    await sweeping;
    expect(h.tracker.slot('ns-1').idleSeconds).toBeNull();
  });

  it('--leak-pool: the youngest never-used idle slots are the orchestrator pool; older ones and used ones count', async () => {
    const h = await harness({ pool: 2 });
    // made after vmgate started, one a minute: idle since made
    for (const [i, name] of ['ns-1', 'ns-2', 'ns-3'].entries()) h.host.add(name, 'no-carrier', { createdAtMs: h.now + i * MIN });
    h.host.add('ns-4', 'carrier', { createdAtMs: h.now });
    h.advance(3 * MIN);
    // what inotify would make the gate do
    await h.store.refresh();
    await h.sweep();
    h.advance(10 * MIN);
    await h.sweep();
    expect(h.tracker.summary.suspected.map((s) => s.netns)).toEqual(['ns-1']);
    expect(h.tracker.summary.pool).toBe(2);
    expect(h.tracker.slot('ns-1').idleSeconds).toBe(13 * 60);
    // a slot that held a VMM and went idle is not pool: it counts
    h.host.setTap('ns-4', 'no-carrier');
    await tick();
    h.advance(11 * MIN);
    await h.sweep();
    expect(h.tracker.summary.suspected.map((s) => s.netns).sort()).toEqual(['ns-1', 'ns-4']);
  });

  it('a slot vmgate cannot judge (blind, unreadable links) is never idle, and slot-leaks says why', async () => {
    const h = await harness({}, (host) => void host.add('ns-1'));
    await h.sweep();
    h.advance(20 * MIN);
    h.host.processes = { processes: [ORCH], error: 'EACCES listing /proc' };
    await h.sweep();
    expect(h.tracker.summary.suspected).toEqual([]);
    expect(h.tracker.slot('ns-1').idleSeconds).toBeNull();
    expect(checkSlotLeaks(h.tracker.summary, h.tracker.opts)).toMatchObject({ status: 'unknown', message: expect.stringContaining('EACCES') });
  });

  it('two processes on one tap: one tap-busy event per set of holders', async () => {
    const h = await harness({}, (host) => {
      const ns = host.add('ns-1', 'carrier');
      const tunFds = [{ fd: 20, iff: 'tap0' }];
      host.processes = {
        processes: [ORCH, proc(7, 'firecracker', { netnsInodes: [ns.inode], tunFds }), proc(9, 'firecracker', { netnsInodes: [ns.inode], tunFds })],
      };
    });
    await h.sweep();
    await h.sweep();
    const busy = h.of('tap-busy').map(([e]) => e as TapBusyEvent);
    expect(busy).toHaveLength(1);
    expect(busy[0]).toMatchObject({ netns: 'ns-1', tap: 'tap0' });
    expect(busy[0]!.holders.map((x) => x.pid)).toEqual([7, 9]);
  });

  it('a deleted slot stops counting', async () => {
    const h = await harness({}, (host) => void host.add('ns-1'));
    await h.sweep();
    h.advance(11 * MIN);
    await h.sweep();
    expect(h.tracker.summary.suspected).toHaveLength(1);
    h.host.remove('ns-1');
    await h.store.refresh(['ns-1']);
    await tick();
    expect(h.tracker.summary.suspected).toEqual([]);
  });
});

describe('slot-leaks in the host gate', () => {
  const leaks = (n: number) => ({
    notJudged: null,
    orchestratorRunning: true,
    suspected: Array.from({ length: n }, (_, i) => ({ netns: `ns-${i}`, idleSeconds: 3600 - i })),
    idle: n + 5,
    pool: 5,
  });
  const opts: LeakOptions = { ageMs: 10 * MIN, warn: 10, fail: 50, pool: 32 };

  it('pass below --leak-warn, warn from it, fail from --leak-fail; names the first 20 and the oldest', () => {
    expect(checkSlotLeaks(leaks(9), opts).status).toBe('pass');
    const warn = checkSlotLeaks(leaks(10), opts);
    expect(warn.status).toBe('warn');
    expect(warn.message).toContain('oldest ns-0 idle 60m');
    expect(warn.message).toContain('vmgate deletes nothing');
    const fail = checkSlotLeaks(leaks(67), opts);
    expect(fail.status).toBe('fail');
    expect(fail.message).toContain('and 47 more');
    expect(fail.details).toMatchObject({ count: 67, oldest: { netns: 'ns-0', idleSeconds: 3600 }, failAt: 50 });
    expect((fail.details.names as string[]).length).toBe(20);
    expect(checkSlotLeaks(leaks(1000), { ...opts, fail: null }).status).toBe('warn');
  });

  it('sweeps a quarter of --leak-age, between 250 ms and 30 s', () => {
    expect(sweepInterval(10 * MIN)).toBe(30_000);
    expect(sweepInterval(1000)).toBe(250);
    expect(sweepInterval(60_000)).toBe(15_000);
  });

  it('the gate: a warning keeps it ready, --leak-fail makes it not ready, and a used slot makes it ready again', async () => {
    const host = new FakeHost();
    host.processes = { processes: [ORCH] };
    host.add('ns-1', 'no-carrier');
    const gate = new Gate(config(), host, {
      owns: (n) => n.startsWith('ns-'),
      maxWaiters: 10,
      recheckMs: 60_000,
      gateOnHost: true,
      leaks: { ageMs: 1000, warn: 1, fail: 1, pool: 0 },
    });
    const verdicts: boolean[] = [];
    gate.on('verdict', (v: { ready: boolean; reason?: string }) => v.reason !== 'starting' && verdicts.push(v.ready));
    await gate.start();
    try {
      expect(gate.verdict.ready).toBe(true);
      for (let i = 0; i < 100 && gate.verdict.ready; i++) await tick(50);
      expect(gate.verdict.ready).toBe(false);
      expect(gate.verdict.checks.find((c) => c.id === 'slot-leaks')).toMatchObject({ status: 'fail', details: { count: 1, names: ['ns-1'] } });
      expect(gate.leakOf('ns-1')).toMatchObject({ suspectedLeak: true });
      host.setTap('ns-1', 'carrier');
      await tick();
      expect(gate.verdict.ready).toBe(true);
      // readiness as it changed (slot-leaks is unknown until its first sweep: a verdict event that keeps ready)
      expect(verdicts.filter((v, i) => i === 0 || v !== verdicts[i - 1])).toEqual([true, false, true]);
    } finally {
      gate.stop();
    }
  });
});
