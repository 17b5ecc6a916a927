import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { readFileSync, statfsSync, symlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const NSFS_MAGIC = 0x6e736673;

/**
 * Issue 25's ways cleanup destroyed what it must not, each on the real kernel: the slot in use (or the namespace
 * outside the pattern) survives, and an idle slot beside it is reclaimed.
 */
describeHost('cleanup under attack', () => {
  const box = new HostSandbox();
  const pattern = `^vgtest-${box.id}-ns-`;
  const flags = ['--netns-pattern', pattern, '--orchestrator-comm', box.orchestratorComm, '--min-age', '0s'];
  const fixedOf = (r: { stdout: string }) => Object.fromEntries((JSON.parse(r.stdout).fixed as any[]).map((f) => [f.netns, f]));
  const outside = (mode: 'tap' | 'socket', ns: string) => box.command(['/usr/bin/python3', `${FIXTURES}outside-holder.py`, mode, ns]);

  it('1. a tap held from outside its namespace, tap admin-down: the slot is in use', async () => {
    const used = await box.slot('ns-tap-used');
    const idle = await box.slot('ns-tap-idle');
    const p = await outside('tap', used);
    await execa('ip', ['-n', used, 'link', 'set', 'tap0', 'down']);
    const inv = json(await runCli(['inventory', '--json', ...flags]));
    const slot = inv.namespaces.find((n: any) => n.name === used);
    expect(slot.state, JSON.stringify(slot)).toBe('active');
    expect(slot.taps[0].holders).toEqual([{ pid: p.pid, comm: 'python3' }]);
    const r = await runCli(['cleanup', '--json', ...flags]);
    const f = fixedOf(r);
    expect(f[idle]?.action, r.stdout + r.stderr).toBe('deleted');
    expect(f[used], r.stdout).toBeUndefined();
    expect(await box.exists(used)).toBe(true);
    await box.stop(p);
  });

  it("1b. a process inside slot A holding slot B's tap: B is in use, A's own tap is not held", async () => {
    const a = await box.slot('ns-a');
    const b = await box.slot('ns-b');
    // enter A, then attach B's tap from there: the fd is held from A but the device lives in B
    const p = await box.command(['ip', 'netns', 'exec', a, '/usr/bin/python3', `${FIXTURES}outside-holder.py`, 'tap', b]);
    const inv = json(await runCli(['inventory', '--json', ...flags]));
    const sa = inv.namespaces.find((n: any) => n.name === a);
    const sb = inv.namespaces.find((n: any) => n.name === b);
    expect(sb.taps[0].holders).toEqual([{ pid: p.pid, comm: 'python3' }]);
    expect(sb.state).toBe('active');
    expect(sa.taps[0].holders).toEqual([]);
    await box.stop(p);
  });

  it('2. a symlink in /run/netns pointing outside --netns-pattern is never followed or deleted', async () => {
    const other = await box.slot('other');
    const link = `${box.prefix}ns-5`;
    symlinkSync(`/run/netns/${other}`, `/run/netns/${link}`);
    const inv = json(await runCli(['inventory', '--json', ...flags]));
    const slot = inv.namespaces.find((n: any) => n.name === link);
    expect(slot.state).toBe('unknown');
    expect(slot.unknownReason).toContain('symbolic link');
    const r = await runCli(['cleanup', '--json', ...flags]);
    expect(fixedOf(r)[link], r.stdout).toBeUndefined();
    expect(statfsSync(`/run/netns/${other}`).type).toBe(NSFS_MAGIC);
    const check = json(await runCli(['check', '--json', '--fix', ...flags]));
    expect(check.checks.find((c: any) => c.id === 'leftover-taps').status).toBe('warn');
    expect(statfsSync(`/run/netns/${other}`).type).toBe(NSFS_MAGIC);
  });

  it('4. a socket living in the slot, held from the host namespace: the slot is in use', async () => {
    const used = await box.slot('ns-sock-used');
    const idle = await box.slot('ns-sock-idle');
    const p = await outside('socket', used);
    const inv = json(await runCli(['inventory', '--json', ...flags]));
    expect(inv.namespaces.find((n: any) => n.name === used).state).toBe('active');
    const r = await runCli(['cleanup', '--json', ...flags]);
    const f = fixedOf(r);
    expect(f[idle]?.action, r.stdout + r.stderr).toBe('deleted');
    expect(f[used], r.stdout).toBeUndefined();
    expect(await box.exists(used)).toBe(true);
    await box.stop(p);
  });
});

describeHost('orphan kill under pid reuse', () => {
  const box = new HostSandbox();
  it('3. the orphan exits on SIGTERM and its pid is reused at once: the innocent process is never signalled', async () => {
    const ns = await box.slot('reuse');
    const child = box.adopt(
      spawn('ip', ['netns', 'exec', ns, '/usr/bin/python3', `${FIXTURES}pid-reuse.py`, 'tap0'], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /orphan (\d+)/.test(out));
    const orphan = Number(/orphan (\d+)/.exec(out)![1]);
    const r = await runCli(['check', '--json', '--fix', '--kill-orphans', '--kill-grace', '2s', '--min-age', '0s', ...box.flags()]);
    await until(() => /innocent (\d+)/.test(out));
    const innocent = Number(/innocent (\d+)/.exec(out)![1]);
    expect(innocent).toBe(orphan);
    const fixed = json(r).fixed.find((f: any) => f.pid === orphan);
    expect(fixed, r.stdout + r.stderr).toMatchObject({ action: 'killed', reason: 'SIGTERM' });
    // the innocent holder of the reused pid is alive and still itself
    expect(readFileSync(`/proc/${innocent}/comm`, 'utf8').trim()).toBe('sleep');
    await box.stop(child);
    process.kill(innocent, 'SIGKILL'); // the innocent outlives the harness: end it too
  });
});
