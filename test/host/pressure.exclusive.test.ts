import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';
import { until } from '../helpers/until.js';

/**
 * host-pressure on the real kernel. Runs alone, after every other file (vitest.config.ts, project 'exclusive'): it
 * lowers the host's neighbour-table limits, which every other file's checks would see. Every sysctl it changes is
 * restored in afterAll.
 */
const SYSCTLS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].map((k) => `/proc/sys/net/ipv4/neigh/default/${k}`);

describeHost('shared kernel tables (host-pressure)', () => {
  const box = new HostSandbox();
  const saved = SYSCTLS.map((p) => readFileSync(p, 'utf8').trim());
  afterAll(() => SYSCTLS.forEach((p, i) => writeFileSync(p, saved[i]!)));
  const pressure = (out: any) => out.checks.find((c: any) => c.id === 'host-pressure');

  it('neighbours past gc_thresh3: refusals counted, check fails naming the table, the gate answers 503; restored, it passes', async () => {
    const ns = await box.slot('neigh', { tap: false, veth: false });
    await execa('ip', ['-n', ns, 'link', 'add', 'vgna', 'type', 'veth', 'peer', 'name', 'vgnb']);
    await execa('ip', ['-n', ns, 'link', 'set', 'vgna', 'up']);
    await execa('ip', ['-n', ns, 'link', 'set', 'vgnb', 'up']);
    await execa('ip', ['-n', ns, 'addr', 'add', '198.18.0.1/16', 'dev', 'vgna']);
    const s = await startServe(box, '--recheck-interval', '1s');
    try {
      const entries = Number.parseInt(readFileSync('/proc/net/stat/arp_cache', 'utf8').split('\n')[1]!.trim().split(/\s+/)[0]!, 16);
      const limit = entries + 64;
      writeFileSync(SYSCTLS[0]!, String(Math.min(32, limit)));
      writeFileSync(SYSCTLS[1]!, String(limit));
      writeFileSync(SYSCTLS[2]!, String(limit));
      // stale entries, not permanent ones (permanent entries are not limited by gc_thresh3 on this kernel)
      const lines = Array.from(
        { length: 200 },
        (_, i) =>
          `neigh replace 198.18.${1 + (i >> 8)}.${i & 255} lladdr 02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')} dev vgna nud stale`,
      );
      await execa('ip', ['-n', ns, '-force', '-batch', '-'], { input: lines.join('\n') + '\n', reject: false });
      const out = json(await runCli(['check', '--json', ...box.flags()]));
      expect(pressure(out).status, JSON.stringify(pressure(out))).toBe('fail');
      expect(pressure(out).message).toContain('IPv4 neighbour table');
      expect(pressure(out).details.refusals.neigh4TableFulls).toBeGreaterThan(0);
      await until(async () => (await get(`${s.url}/ready-for-vm`)).status === 503, 15_000);
      const r = await get(`${s.url}/ready-for-vm`);
      expect(r.body.checks.find((c: any) => c.id === 'host-pressure').status).toBe('fail');
      const metrics = (await get(`${s.url}/metrics`)).text;
      expect(metrics).toMatch(/vmgate_kernel_table_used\{table="neigh4"\} \d+/);
      expect(metrics).toMatch(new RegExp(`vmgate_kernel_table_limit\\{table="neigh4"\\} ${limit}`));
      expect(Number(/vmgate_kernel_table_full_events_total\{table="neigh4"\} (\d+)/.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    } finally {
      SYSCTLS.forEach((p, i) => writeFileSync(p, saved[i]!));
      await execa('ip', ['netns', 'del', ns], { reject: false });
      await s.stop();
    }
    await until(async () => pressure(json(await runCli(['check', '--json', ...box.flags()]))).status !== 'fail', 20_000);
  });

  it('the xtables lock held: the finding names the holder', async () => {
    if (!existsSync('/run/xtables.lock')) writeFileSync('/run/xtables.lock', '');
    // one process that takes the lock itself (flock(1) would leave its child holding it after a kill)
    const holder = await box.command([
      '/usr/bin/python3',
      '-c',
      "import fcntl, time; f = open('/run/xtables.lock'); fcntl.flock(f, fcntl.LOCK_EX); print('ready', flush=True); time.sleep(60)",
    ]);
    try {
      const out = json(await runCli(['check', '--json', ...box.flags()]));
      const lock = pressure(out).details.xtablesLock;
      expect(lock.holders).toContainEqual({ pid: holder.pid, comm: 'python3' });
      expect(pressure(out).message).toContain('/run/xtables.lock is held');
    } finally {
      await box.stop(holder);
    }
  });

  it.runIf(existsSync('/proc/sys/net/netfilter/nf_conntrack_max'))('conntrack: used and limit read as the kernel counts them', async () => {
    const out = json(await runCli(['check', '--json', ...box.flags()]));
    const ct = pressure(out).details.conntrack;
    expect(ct.limit).toBe(Number(readFileSync('/proc/sys/net/netfilter/nf_conntrack_max', 'utf8')));
    expect(ct.used).toBeGreaterThanOrEqual(0);
  });

  it('NBD: not applicable where the module is not loaded (this machine); the sysfs shape is unit-tested', async () => {
    const out = json(await runCli(['check', '--json', ...box.flags()]));
    if (!existsSync('/sys/module/nbd')) expect(pressure(out).details.nbd).toBeUndefined();
  });
});
