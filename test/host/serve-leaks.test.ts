import { expect, it } from 'vitest';
import { describeHost, HostSandbox } from '../helpers/host.js';
import { get, startServe, type Served } from '../helpers/serve.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `ok` holds (the gate learns from events and passes over /proc); fails with what serve said. */
async function until<T>(s: Served, what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let last: T | undefined;
  // generous: a pass over /proc is reused 5 s, and a loaded CI machine is slow; the test asserts what, not how fast
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await sleep(50);
  }
  throw new Error(`${what} never held; last: ${JSON.stringify(last)}\n${s.describe()}`);
}

const inventory = async (s: Served) =>
  (await get(`${s.url}/inventory`)).body as { namespaces: { name: string; suspectedLeak: boolean; idleSeconds: number | null; tapBusy: boolean }[] };
const slot = async (s: Served, name: string) => (await inventory(s)).namespaces.find((n) => n.name === name)!;
const metric = async (s: Served, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await get(`${s.url}/metrics`)).text)?.[1] ?? NaN);
/** The host gate's answer and its slot-leaks check. A 503 lists only failing checks, and none while `starting`. */
const leaksCheck = async (s: Served) => {
  const r = await get(`${s.url}/ready-for-vm`);
  const checks = (r.body?.checks ?? []) as { id: string; status: string; message: string; details: any }[];
  const none = { id: 'slot-leaks', status: 'absent', message: '', details: {} };
  return { status: r.status, check: checks.find((c) => c.id === 'slot-leaks') ?? none };
};
const leakLines = (s: Served, netns: string) => s.logs().filter((l) => l.suspectedLeak === true && l.netns === netns);

/** Issue 14: leak pressure while a (fake) orchestrator runs, on real namespaces, taps and processes. */
describeHost('serve: suspected leaks while the orchestrator runs', () => {
  const box = new HostSandbox();

  it('an idle slot is suspected after --leak-age; a held one never; metric, inventory and log agree; a holder ends it; nothing is deleted', async () => {
    const idle = await box.slot('idle');
    const held = await box.slot('held');
    await box.holder(held);
    const orch = await box.process(null, box.orchestratorComm);
    const s = await startServe(box, '--leak-age', '1s', '--leak-warn', '1', '--leak-pool', '0');
    try {
      await until(
        s,
        'a suspected-leak line for the idle slot',
        () => Promise.resolve(leakLines(s, idle)),
        (l) => l.length === 1,
      );
      const [line] = leakLines(s, idle);
      expect(line).toMatchObject({ level: 40, netns: idle, tap: 'tap0', tapState: 'no-carrier' });
      expect(line.idleSeconds).toBeGreaterThanOrEqual(1);
      expect(line.msg).toContain('nothing deleted');
      const { status, check } = await until(
        s,
        'slot-leaks to warn',
        () => leaksCheck(s),
        (c) => c.check.status === 'warn',
      );
      // a warning never blocks VM creation
      expect(status).toBe(200);
      expect(check.details).toMatchObject({ count: 1, names: [idle], oldest: { netns: idle } });
      expect(await metric(s, 'vmgate_suspected_leaks')).toBe(1);
      expect(await slot(s, idle)).toMatchObject({ suspectedLeak: true, tapBusy: false });
      expect((await slot(s, idle)).idleSeconds).toBeGreaterThanOrEqual(1);
      expect(await slot(s, held)).toMatchObject({ suspectedLeak: false, idleSeconds: null });
      expect(leakLines(s, held)).toEqual([]);

      // a VMM attaches: it stops counting at once (the link event), and the gate says so
      const vmm = await box.holder(idle);
      await until(
        s,
        'the idle slot to be in use',
        () => slot(s, idle),
        (n) => !n.suspectedLeak && n.idleSeconds === null,
      );
      await until(
        s,
        'the count to drop',
        () => metric(s, 'vmgate_suspected_leaks'),
        (v) => v === 0,
      );
      expect(s.logs().some((l) => l.netns === idle && l.suspectedLeak === false && /in use again/.test(l.msg))).toBe(true);
      expect((await leaksCheck(s)).check.status).toBe('pass');

      // it exits: idle from that moment (its start was seen), suspected again after --leak-age, and when a VMM
      // comes back the idle time is in the histogram
      await box.stop(vmm);
      await until(
        s,
        'a second suspected-leak line',
        () => Promise.resolve(leakLines(s, idle)),
        (l) => l.length === 2,
      );
      await box.holder(idle);
      await until(
        s,
        'an idle duration in the histogram',
        () => metric(s, 'vmgate_slot_idle_seconds_count'),
        (v) => v === 1,
      );
      expect(await metric(s, 'vmgate_slot_idle_seconds_sum')).toBeGreaterThanOrEqual(1);

      expect(await box.exists(idle)).toBe(true);
      expect(await box.exists(held)).toBe(true);
    } finally {
      // the orchestrator's name is this file's: the next test starts its own
      await box.stop(orch);
      expect(await s.stop(), s.describe()).toBe(0);
    }
  }, 120_000);

  it('--leak-fail turns the host gate to 503; no orchestrator: leftovers, not leaks', async () => {
    const a = await box.slot('fail-a');
    const orch = await box.process(null, box.orchestratorComm);
    const s = await startServe(box, '--netns-pattern', `^${a}$`, '--leak-age', '1s', '--leak-warn', '1', '--leak-fail', '1', '--leak-pool', '0');
    try {
      const { status, check } = await until(
        s,
        'slot-leaks to fail',
        () => leaksCheck(s),
        (c) => c.check.status === 'fail',
      );
      expect(status).toBe(503);
      expect(check.message).toContain('--leak-fail 1');
      const verdict = s.logs().find((l) => l.ready === false && (l.failing as string[] | undefined)?.includes('slot-leaks'));
      expect(verdict?.msg, s.describe()).toContain(a);
      // the orchestrator stops: its slots are leftovers now (the prestart check's business), and the gate is ready
      await box.stop(orch);
      const after = await until(
        s,
        'slot-leaks to pass',
        () => leaksCheck(s),
        (c) => c.check.status === 'pass',
      );
      expect(after.status).toBe(200);
      expect(after.check.message).toContain('leftovers');
      expect(await box.exists(a)).toBe(true);
    } finally {
      await box.stop(orch);
      expect(await s.stop(), s.describe()).toBe(0);
    }
  }, 120_000);

  it('--leak-pool (default 32): never-used idle slots are the pool; one that held a VMM and went idle counts', async () => {
    const fresh = await box.slot('pool-fresh');
    const used = await box.slot('pool-used');
    const vmm = await box.holder(used);
    const orch = await box.process(null, box.orchestratorComm);
    const s = await startServe(box, '--netns-pattern', `^(${fresh}|${used})$`, '--leak-age', '1s', '--leak-warn', '1');
    try {
      await until(
        s,
        'the used slot to be in use',
        () => slot(s, used),
        (n) => n.idleSeconds === null,
      );
      await box.stop(vmm);
      await until(
        s,
        'the used slot to be suspected',
        () => Promise.resolve(leakLines(s, used)),
        (l) => l.length === 1,
      );
      const { check } = await leaksCheck(s);
      expect(check.details).toMatchObject({ count: 1, names: [used], pool: 1 });
      expect(await slot(s, fresh)).toMatchObject({ suspectedLeak: false });
      expect((await slot(s, fresh)).idleSeconds).toBeGreaterThanOrEqual(1);
    } finally {
      await box.stop(orch);
      expect(await s.stop(), s.describe()).toBe(0);
    }
  }, 120_000);

  it('many slots crossing --leak-age together: a few lines a second, the rest counted in the summary line', async () => {
    const names: string[] = [];
    for (let i = 0; i < 12; i++) names.push(await box.slot(`flood-${i}`, { veth: false }));
    const orch = await box.process(null, box.orchestratorComm);
    const s = await startServe(box, '--netns-pattern', '^' + box.ns('flood-'), '--leak-age', '1s', '--leak-pool', '0');
    try {
      await until(
        s,
        'all 12 suspected',
        () => metric(s, 'vmgate_suspected_leaks'),
        (v) => v === 12,
      );
      const { check } = await leaksCheck(s);
      expect(check.status).toBe('warn');
      expect([...(check.details.names as string[])].sort()).toEqual([...names].sort());
    } finally {
      await box.stop(orch);
      expect(await s.stop(), s.describe()).toBe(0);
    }
    // the summary line is flushed at the latest when serve stops
    const lines = s.logs().filter((l) => l.suspectedLeak === true).length;
    const held = s
      .logs()
      .filter((l) => l.suppressed)
      .reduce((n, l) => n + ((l.suppressed as Record<string, number>)['suspected-leak'] ?? 0), 0);
    expect(lines).toBeLessThan(12);
    expect(lines + held).toBe(12);
  }, 120_000);

  it('tap-busy: two processes holding one tap are named in /inventory and in one log line', async () => {
    const ns = await box.slot('busy');
    await box.holder(ns, { fork: true });
    const s = await startServe(box, '--netns-pattern', `^${ns}$`);
    try {
      await until(
        s,
        'tapBusy in /inventory',
        () => slot(s, ns),
        (n) => n.tapBusy,
      );
      const lines = await until(
        s,
        'a tap-busy line',
        () => Promise.resolve(s.logs().filter((l) => l.tapBusy === true)),
        (l) => l.length === 1,
      );
      expect(lines[0]).toMatchObject({ netns: ns, tap: 'tap0' });
      expect(lines[0].holders).toHaveLength(2);
      expect(lines[0].msg).toContain('EBUSY');
    } finally {
      expect(await s.stop(), s.describe()).toBe(0);
    }
  }, 120_000);
});
