import { execa } from 'execa';
import { expect, it } from 'vitest';
import { cleanup } from '../../src/actions/cleanup.js';
import { hostConfig } from '../../src/config/host-config.js';
import { HOST_OPTIONS, parseOptions } from '../../src/config/options.js';
import { createLogger } from '../../src/sinks/log.js';
import { describeHost, HostSandbox, json, runCli, runCliVia } from '../helpers/host.js';

/**
 * Issue 9's seven ways a slot in use was deleted: each on the real kernel, one slot in use and one idle beside it.
 * The slot in use must survive; the idle one is reclaimed wherever vmgate can see enough to be sure.
 */
describeHost('cleanup never deletes a slot in use', () => {
  const box = new HostSandbox();
  const cleanupCmd = (...extra: string[]) => ['cleanup', '--json', '--min-age', '0s', ...box.flags(...extra)];
  const pair = async (name: string) => [await box.slot(`${name}-used`), await box.slot(`${name}-idle`)] as const;
  const fixedOf = (r: { stdout: string }) => Object.fromEntries((JSON.parse(r.stdout).fixed as any[]).map((f) => [f.netns, f.action]));
  /** this test's pair only (slots of earlier tests whose users are gone are reclaimed too, as they should be) */
  const expectPair = (r: { stdout: string; stderr: string }, used: string, idle: string) => {
    const f = fixedOf(r);
    expect(f[idle], r.stdout + r.stderr).toBe('deleted');
    expect(f[used], r.stdout + r.stderr).toBeUndefined();
  };

  it('1. a process holding the namespace through an fd opened on /run/netns/NAME', async () => {
    const [used, idle] = await pair('fd');
    const p = await box.command(['bash', '-c', `exec 3</run/netns/${used}; echo ready; exec sleep 3600`]);
    const inv = json(await runCli(['inventory', '--json', '--min-age', '0s', ...box.flags()]));
    expect(inv.namespaces.find((n: any) => n.name === used).state).toBe('active');
    const r = await runCli(cleanupCmd());
    expectPair(r, used, idle);
    expect(await box.exists(used)).toBe(true);
    expect(await box.exists(idle)).toBe(false);
    await box.stop(p);
  });

  it('2. a worker thread (not the main one) entered the namespace and attached the tap', async () => {
    const [used, idle] = await pair('thr');
    const vmm = await box.threadHolder(used);
    const inv = json(await runCli(['inventory', '--json', '--min-age', '0s', ...box.flags()]));
    const slot = inv.namespaces.find((n: any) => n.name === used);
    expect(slot.state).toBe('active');
    expect(slot.taps[0].holders).toEqual([{ pid: vmm.pid, comm: 'python3' }]);
    const r = await runCli(cleanupCmd());
    expectPair(r, used, idle);
    expect(await box.exists(used)).toBe(true);
    await box.stop(vmm);
  });

  it('3. the main thread exited while a worker thread holds the tap (zombie leader)', async () => {
    const [used, idle] = await pair('zmb');
    const vmm = await box.threadHolder(used, { zombieLeader: true });
    const stat = await execa('cat', [`/proc/${vmm.pid}/task/${vmm.pid}/stat`]);
    expect(stat.stdout.split(') ')[1]!.charAt(0)).toBe('Z');
    const r = await runCli(cleanupCmd());
    expectPair(r, used, idle);
    expect(await box.exists(used)).toBe(true);
    const inv = json(await runCli(['inventory', '--json', '--min-age', '0s', ...box.flags()]));
    expect(inv.namespaces.find((n: any) => n.name === used)).toMatchObject({ state: 'active', taps: [{ carrier: true }] });
    await box.stop(vmm);
  });

  it('4. without CAP_SYS_PTRACE, a process of another user inside a slot: unknown, cleanup refuses', async () => {
    const [used, idle] = await pair('cap');
    const p = await box.command([
      'ip',
      'netns',
      'exec',
      used,
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'sh',
      '-c',
      'echo ready; exec sleep 3600',
    ]);
    const noPtrace = ['setpriv', '--bounding-set', '-sys_ptrace', '--inh-caps', '-sys_ptrace'];
    const chk = await runCliVia(noPtrace, ['check', '--json', '--min-age', '0s', ...box.flags()]);
    expect(chk.exitCode).toBe(1);
    const vis = json(chk).checks.find((c: any) => c.id === 'host-visibility');
    expect(vis.status).toBe('fail');
    expect(vis.message).toContain('CAP_SYS_PTRACE');
    const r = await runCliVia(noPtrace, cleanupCmd());
    expect(r.exitCode).toBe(1);
    expect(json(r).refused).toContain('cannot see the whole host');
    expect(await box.exists(used)).toBe(true);
    expect(await box.exists(idle)).toBe(true);
    // with the capability back, vmgate sees the process: the used slot stays, the idle one goes
    const again = await runCli(cleanupCmd());
    expectPair(again, used, idle);
    await box.stop(p);
  });

  it('5. vmgate in its own PID namespace sees no host process: host-visibility fails, cleanup refuses', async () => {
    const [used, idle] = await pair('pid');
    const p = await box.process(used, 'envd-standin');
    const own = ['unshare', '-p', '-f', '--mount-proc'];
    const chk = await runCliVia(own, ['check', '--json', '--min-age', '0s', ...box.flags()]);
    expect(chk.exitCode).toBe(1);
    const out = json(chk);
    expect(out.checks.find((c: any) => c.id === 'host-visibility').message).toContain('own PID namespace');
    expect(out.checks.find((c: any) => c.id === 'leftover-taps').details.leftovers ?? []).toEqual([]);
    const r = await runCliVia(own, cleanupCmd());
    expect(r.exitCode).toBe(1);
    expect(json(r).refused).toContain('own PID namespace');
    expect(await box.exists(used)).toBe(true);
    expect(await box.exists(idle)).toBe(true);
    await box.stop(p);
    await runCli(cleanupCmd());
  });

  it("6. a name that is a plain file in vmgate's mount namespace (mount not propagated): unknown, nothing deleted", async () => {
    const [used, idle] = await pair('mnt');
    const p = await box.process(used, 'envd-standin');
    const priv = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `umount /run/netns/${used} && exec "$@"`, 'sh'];
    const r = await runCliVia(priv, cleanupCmd());
    expect(r.exitCode).toBe(1);
    expect(json(r).refused).toContain('not namespace mounts here');
    const inv = await runCliVia(priv, ['inventory', '--json', '--min-age', '0s', ...box.flags()]);
    expect(json(inv).namespaces.find((n: any) => n.name === used)).toMatchObject({
      state: 'unknown',
      unknownReason: expect.stringContaining('mount propagation'),
    });
    // the host's mount is untouched: still a namespace, still with its process
    expect(await box.exists(used)).toBe(true);
    expect((await execa('stat', ['-f', '-c', '%t', `/run/netns/${used}`])).stdout).toBe('6e736673');
    expect(await box.exists(idle)).toBe(true);
    await box.stop(p);
    await runCli(cleanupCmd());
  });

  const inProcess = () => {
    const o = parseOptions('cleanup', ['--min-age', '0s', ...box.flags()], HOST_OPTIONS, {});
    return { config: hostConfig(o), log: createLogger({ level: 'silent', format: 'json' }) };
  };

  it('7a. a process entering after the scan, right before the final check: left alone', async () => {
    const [used, idle] = await pair('late');
    const { config, log } = inProcess();
    let entrant: Awaited<ReturnType<typeof box.process>> | null = null;
    const r = await cleanup(
      config,
      { dryRun: false, killOrphans: false, killGraceMs: 1000, settleMs: 0, beforeVerify: async () => void (entrant = await box.process(used, 'late-entrant')) },
      log,
    );
    expect(r.refused).toBeUndefined();
    expect(r.fixed.find((f) => f.netns === used)).toMatchObject({ action: 'skipped', reason: expect.stringContaining(`pid ${entrant!.pid}`) });
    expect(r.fixed.find((f) => f.netns === idle)).toMatchObject({ action: 'deleted' });
    expect(await box.exists(used)).toBe(true);
    await box.stop(entrant!);
  });

  it('7b. a namespace deleted and re-created under the same name after the scan: the new one is left alone', async () => {
    const [used, idle] = await pair('again');
    const { config, log } = inProcess();
    const r = await cleanup(
      config,
      {
        dryRun: false,
        killOrphans: false,
        killGraceMs: 1000,
        settleMs: 0,
        beforeVerify: async () => {
          await execa('ip', ['netns', 'del', used]);
          await execa('ip', ['netns', 'add', used]);
        },
      },
      log,
    );
    expect(r.fixed.find((f) => f.netns === used)).toMatchObject({ action: 'skipped', reason: 'name now points at another namespace' });
    expect(r.fixed.find((f) => f.netns === idle)).toMatchObject({ action: 'deleted' });
    expect(await box.exists(used)).toBe(true);
  });

  it('7c. many batches: a slot entered while an earlier batch is deleted survives', async () => {
    const names: string[] = [];
    for (let i = 0; i < 12; i++) names.push(await box.slot(`b${String(i).padStart(2, '0')}`, { veth: false }));
    const target = names[11]!;
    const { config, log } = inProcess();
    let entrant: Awaited<ReturnType<typeof box.process>> | null = null;
    let batches = 0;
    const r = await cleanup(
      config,
      {
        dryRun: false,
        killOrphans: false,
        killGraceMs: 1000,
        settleMs: 0,
        batchSize: 4,
        beforeVerify: async (batch) => {
          batches += 1;
          if (batch.includes(target)) entrant = await box.process(target, 'late-entrant');
        },
      },
      log,
    );
    expect(batches).toBeGreaterThanOrEqual(3);
    const deleted = r.fixed.filter((f) => f.action === 'deleted').map((f) => f.netns);
    for (const n of names.slice(0, 11)) expect(deleted).toContain(n);
    expect(r.fixed.find((f) => f.netns === target)).toMatchObject({ action: 'skipped', reason: expect.stringContaining('late-entrant') });
    expect(await box.exists(target)).toBe(true);
    await box.stop(entrant!);
  });
});
