import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';

describeHost('vmgate check on real slots', () => {
  const box = new HostSandbox();
  const check = (...extra: string[]) => runCli(['check', '--json', '--min-age', '0s', ...box.flags(...extra)]);
  const leftoverNames = (r: any): string[] => (r.checks.find((c: any) => c.id === 'leftover-taps').details.leftovers ?? []).map((l: any) => l.netns).sort();

  it('fails on a leftover slot and names it with its tap state', async () => {
    const ns = await box.slot('left1');
    const r = await check();
    expect(r.exitCode).toBe(1);
    const out = json(r);
    expect(out.ok).toBe(false);
    const c = out.checks.find((x: any) => x.id === 'leftover-taps');
    expect(c.status).toBe('fail');
    expect(c.details.leftovers).toEqual([{ netns: ns, tap: 'tap0', tapState: 'no-carrier', ageSeconds: expect.any(Number) }]);
    expect(c.message).toContain(ns);
    expect(c.message).toContain('vmgate check --fix');
    // one log line per check, the failing one naming the namespace
    const lines = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.check)).toEqual(['tun-device', 'netns-capacity', 'host-visibility', 'leftover-taps', 'host-pressure', 'leftover-host-rules']);
    expect(lines[3]).toMatchObject({ level: 50, check: 'leftover-taps', status: 'fail', netns: ns });
    await runCli(['cleanup', '--min-age', '0s', ...box.flags()]);
  });

  it('passes a young slot as starting, and an admin-down tap is reported as such', async () => {
    const young = await box.slot('young');
    const down = await box.slot('down', { up: false });
    let r = await runCli(['check', '--json', '--min-age', '1h', ...box.flags()]);
    expect(json(r).checks.find((x: any) => x.id === 'leftover-taps').status).toBe('pass');
    const inv = json(await runCli(['inventory', '--json', '--min-age', '1h', ...box.flags()]));
    expect(inv.namespaces.map((n: any) => [n.name, n.state])).toEqual([
      [down, 'starting'],
      [young, 'starting'],
    ]);
    const downTap = inv.namespaces.find((n: any) => n.name === down).taps[0];
    expect(downTap).toMatchObject({ name: 'tap0', adminUp: false, carrier: false });
    r = await check();
    const c = json(r).checks.find((x: any) => x.id === 'leftover-taps');
    expect(c.details.leftovers.find((l: any) => l.netns === down).tapState).toBe('admin-down');
    await runCli(['cleanup', '--min-age', '0s', ...box.flags()]);
  });

  it('treats a slot with only a process inside as active, not leftover', async () => {
    const ns = await box.slot('proc');
    const p = await box.process(ns, 'envd-standin');
    const r = await check();
    expect(r.exitCode).toBe(0);
    const inv = json(await runCli(['inventory', '--json', ...box.flags()]));
    const slot = inv.namespaces.find((n: any) => n.name === ns);
    expect(slot.state).toBe('active');
    expect(slot.processes).toEqual([{ pid: p.pid, comm: 'envd-standin' }]);
    expect(slot.taps[0].holders).toEqual([]);
    await box.stop(p);
    await runCli(['cleanup', '--min-age', '0s', ...box.flags()]);
  });

  it('reports an orphaned VMM; --fix alone leaves it, --fix --kill-orphans ends it and reclaims its slot', async () => {
    const ns = await box.slot('orphan');
    const vmm = await box.holder(ns);
    let r = await check();
    expect(r.exitCode).toBe(1);
    const c = json(r).checks.find((x: any) => x.id === 'leftover-taps');
    expect(c.details.orphans).toEqual([{ netns: ns, tap: 'tap0', pid: vmm.pid, comm: 'firecracker' }]);
    expect(c.message).toContain(`pid ${vmm.pid} firecracker on ${ns}/tap0`);

    const inv = json(await runCli(['inventory', '--json', ...box.flags()]));
    expect(inv.namespaces[0].taps[0]).toMatchObject({ carrier: true, adminUp: true, operstate: 'UP', holders: [{ pid: vmm.pid, comm: 'firecracker' }] });

    r = await check('--fix');
    expect(r.exitCode).toBe(1);
    expect(json(r).fixed).toEqual([]);
    expect(await box.exists(ns)).toBe(true);
    expect(vmm.exitCode ?? vmm.signalCode).toBeNull();

    r = await check('--fix', '--kill-orphans', '--kill-grace', '2s');
    expect(r.exitCode).toBe(0);
    expect(json(r).fixed).toEqual([
      { netns: ns, action: 'killed', pid: vmm.pid, tap: 'tap0', reason: 'SIGTERM' },
      { netns: ns, action: 'deleted' },
    ]);
    expect(await box.exists(ns)).toBe(false);
    const logs = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(logs.find((l) => l.pid === vmm.pid && l.signal)).toMatchObject({ netns: ns, tap: 'tap0', comm: 'firecracker' });
  });

  it('--fix removes exactly the leftovers: not active, young or foreign namespaces', async () => {
    const pattern = `^${box.prefix}s\\d+$`;
    const left1 = await box.slot('s1');
    const left2 = await box.slot('s2', { up: false });
    const noTap = await box.slot('s3', { tap: false });
    const busy = await box.slot('s4');
    const inside = await box.process(busy, 'sleeper');
    const foreign = await box.slot('other');
    // margins wide enough for a loaded CI machine: the young slot must stay younger than --min-age until the re-check
    await new Promise((r) => setTimeout(r, 5200));
    const young = await box.slot('s5');
    const r = await runCli(['check', '--json', '--fix', '--min-age', '5s', ...box.flags('--netns-pattern', pattern)]);
    const out = json(r);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(out.fixed.map((f: any) => [f.netns, f.action]).sort()).toEqual([
      [left1, 'deleted'],
      [left2, 'deleted'],
      [noTap, 'deleted'],
    ]);
    for (const ns of [left1, left2, noTap]) expect(await box.exists(ns)).toBe(false);
    for (const ns of [busy, foreign, young]) expect(await box.exists(ns)).toBe(true);
    expect(leftoverNames(out)).toEqual([]);
    const deletedLogs = r.stderr
      .split('\n')
      .filter((l) => l.includes('deleted leftover namespace'))
      .map((l) => JSON.parse(l));
    expect(deletedLogs.map((l) => l.netns).sort()).toEqual([left1, left2, noTap].sort());
    await box.stop(inside);
  });

  it('while an orchestrator runs: idle slots are its pool, --fix and cleanup touch nothing', async () => {
    const ns = await box.slot('pool');
    const orch = await box.process(null, box.orchestratorComm);
    let r = await check('--fix');
    expect(r.exitCode).toBe(0);
    const c = json(r).checks.find((x: any) => x.id === 'leftover-taps');
    expect(c.status).toBe('pass');
    expect(c.message).toContain(`pid ${orch.pid}`);
    r = await runCli(['cleanup', '--json', '--min-age', '0s', ...box.flags()]);
    expect(r.exitCode).toBe(1);
    expect(json(r).refused).toContain('orchestrator is running');
    expect(await box.exists(ns)).toBe(true);
    await box.stop(orch);
    r = await runCli(['cleanup', '--dry-run', '--json', '--min-age', '0s', ...box.flags()]);
    expect(json(r).fixed).toContainEqual({ netns: ns, action: 'would-delete' });
    expect(await box.exists(ns)).toBe(true);
  });
});

describeHost('vmgate check: the tun device', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgtest-tun-'));
  const tun = async (path: string) => {
    const r = await runCli(['check', '--json', '--netns-pattern', '^vgtest-none-$', '--tun-path', path]);
    return { code: r.exitCode, c: json(r).checks.find((x: any) => x.id === 'tun-device') };
  };
  beforeAll(() => writeFileSync(join(dir, 'regular'), ''));

  it('passes the real /dev/net/tun', async () => {
    const { code, c } = await tun('/dev/net/tun');
    expect(code).toBe(0);
    expect(c).toMatchObject({ status: 'pass', details: { major: 10, minor: 200 } });
  });
  it('fails a missing path and names modprobe and mknod', async () => {
    const { code, c } = await tun(join(dir, 'missing'));
    expect(code).toBe(1);
    expect(c.status).toBe('fail');
    expect(c.message).toMatch(/does not exist.*modprobe tun.*mknod .* c 10 200/);
  });
  it('fails a regular file', async () => {
    const { c } = await tun(join(dir, 'regular'));
    expect(c.message).toContain('is not a character device');
  });
  it('fails the wrong device', async () => {
    const { c } = await tun('/dev/null');
    expect(c.message).toContain('is device 1:3, not the tun device 10:200');
  });
  it('--ignore demotes the failure to a warning and exits 0', async () => {
    const r = await runCli(['check', '--json', '--netns-pattern', '^vgtest-none-$', '--tun-path', '/dev/null', '--ignore', 'tun-device']);
    expect(r.exitCode).toBe(0);
    expect(json(r).checks[0]).toMatchObject({ id: 'tun-device', status: 'warn' });
  });
});
