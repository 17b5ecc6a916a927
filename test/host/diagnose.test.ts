import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';

/** The guest agent's address (the default of --guest): inside each test slot the holder listens there, standing in for envd. */
const GUEST = '169.254.0.21:49983';

describeHost('vmgate diagnose on real slots', () => {
  const box = new HostSandbox();
  const diag = (ns: string, ...extra: string[]) => runCli(['diagnose', '--netns', ns, ...box.flags(...extra)]);
  // the guest address on the slot's own loopback, so a connect from inside the namespace reaches the stand-in
  const upLo = async (ns: string) => {
    await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await execa('ip', ['-n', ns, 'addr', 'add', '169.254.0.21/32', 'dev', 'lo']);
  };

  it('healthy: a holder attached and the agent answering; the table lists both slots in the same rows', async () => {
    const good = await box.slot('good');
    await upLo(good);
    const vmm = await box.holder(good, { listen: GUEST });
    let r = await diag(good, '--json');
    expect(r.exitCode).toBe(0);
    const out = json(r);
    expect(out.verdict).toBe('healthy');
    expect(out.slot.tap).toMatchObject({ carrier: true, adminUp: true, holders: [{ pid: vmm.pid, comm: 'firecracker', fd: expect.any(Number) }] });
    expect(out.slot.vmm).toMatchObject({ pid: vmm.pid, alive: true, state: 'S' });
    expect(out.slot.guest).toMatchObject({ ok: true, latencyMs: expect.any(Number) });
    const bad = await box.slot('nobody');
    r = await diag(bad, '--compare', good);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^\\s+${bad}\\s+${good} \\(compare\\)$`));
    const row = (label: string) => lines.find((l) => l.startsWith(label))!;
    expect(row('tap0 flags')).toMatch(/<NO-CARRIER,BROADCAST,MULTICAST,UP>\s+<BROADCAST,MULTICAST,UP,LOWER_UP>/);
    expect(row('tap0 holders')).toMatch(new RegExp(`^tap0 holders\\s+-\\s+${vmm.pid} firecracker fd \\d+$`));
    expect(row('verdict')).toMatch(/no-vmm\s+healthy/);
    expect(r.stdout).toContain('cause: no process holds');
    // without --compare the healthy slot is picked
    expect(json(await diag(bad, '--json')).compare.netns).toBe(good);
    await box.stop(vmm);
  });

  it('no-vmm for a tap nobody holds, and for a holder that exited', async () => {
    const ns = await box.slot('exited');
    const vmm = await box.holder(ns);
    await box.stop(vmm);
    const out = json(await diag(ns, '--json'));
    expect(out.verdict).toBe('no-vmm');
    expect(out.next).toContain('vmgate cleanup');
  });

  it('tap-admin-down', async () => {
    const ns = await box.slot('down', { up: false });
    const r = await diag(ns, '--json');
    expect([r.exitCode, json(r).verdict]).toEqual([1, 'tap-admin-down']);
  });

  it('guest-unreachable: carrier up but nothing listens', async () => {
    const ns = await box.slot('silent');
    await upLo(ns);
    const vmm = await box.holder(ns);
    const out = json(await diag(ns, '--json'));
    expect(out.verdict).toBe('guest-unreachable');
    expect(out.slot.guest).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    await box.stop(vmm);
  });

  it('netns-not-found, and usage errors exit 2', async () => {
    const r = await diag(box.ns('missing'), '--json');
    expect([r.exitCode, json(r).verdict]).toEqual([1, 'netns-not-found']);
    expect((await runCli(['diagnose'])).exitCode).toBe(2);
    const bad = await runCli(['diagnose', '--netns', 'a/b']);
    expect([bad.exitCode, bad.stderr.trim()]).toEqual([2, "vmgate: diagnose: --netns 'a/b' is not a namespace name (1 to 64 of A-Z a-z 0-9 . _ -)"]);
    expect((await runCli(['diagnose', '--netns', 'x', '--guest', 'nowhere'])).exitCode).toBe(2);
  });

  it('the gate logs a diagnosis after a timeout and serves GET /diagnose', async () => {
    const ns = await box.slot('gate');
    const s = await startServe(box);
    const r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=100`);
    expect(r.body.reason).toBe('timeout');
    let line;
    for (let i = 0; i < 50 && !line; i++) {
      await new Promise((res) => setTimeout(res, 50));
      line = s.logs().find((l) => l.verdict);
    }
    expect(line).toMatchObject({ level: 40, netns: ns, tap: 'tap0', reason: 'timeout', verdict: 'no-vmm' });
    const d = await get(`${s.url}/diagnose?netns=${ns}`);
    expect([d.status, d.body.verdict]).toEqual([200, 'no-vmm']);
    expect((await get(`${s.url}/diagnose?netns=${box.ns('nope')}`)).status).toBe(404);
    expect((await get(`${s.url}/diagnose?netns=..%2F`)).status).toBe(400);
    await s.stop();
  });
});
