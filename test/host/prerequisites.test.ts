import { closeSync, constants, existsSync, openSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';

/** What this machine is, read here directly, to hold vmgate's judgement against. */
function machine() {
  let kvm = 'missing';
  if (existsSync('/dev/kvm')) {
    const st = statSync('/dev/kvm');
    kvm = st.isCharacterDevice() && st.rdev >> 8 === 10 && (st.rdev & 0xff) === 232 ? 'device' : 'other';
    if (kvm === 'device') {
      try {
        closeSync(openSync('/dev/kvm', constants.O_RDWR));
        kvm = 'ok';
      } catch {
        /* not openable */
      }
    }
  }
  const num = (p: string) => Number(readFileSync(p, 'utf8').trim());
  const nbdMax = existsSync('/sys/module/nbd/parameters/nbds_max') ? num('/sys/module/nbd/parameters/nbds_max') : null;
  return {
    kvm,
    ipForward: num('/proc/sys/net/ipv4/ip_forward'),
    gcThresh3: num('/proc/sys/net/ipv4/neigh/default/gc_thresh3'),
    nbdMax,
    cgroup2: statfsSync('/sys/fs/cgroup').type === 0x63677270,
  };
}

describeHost('host prerequisites (--extra-checks) judge this machine', () => {
  const box = new HostSandbox();

  it('check --extra-checks all: each result agrees with the machine; a missing /dev/kvm is said so', async () => {
    const m = machine();
    const r = await runCli(['check', '--json', '--extra-checks', 'all', '--max-namespaces', '100', ...box.flags()]);
    const checks = Object.fromEntries(json(r).checks.map((c: any) => [c.id, c]));
    expect(Object.keys(checks)).toEqual(expect.arrayContaining(['kvm-device', 'ip-forward', 'neigh-gc-thresh', 'nbd-module', 'cgroup-v2']));
    expect(checks['kvm-device'].status).toBe(m.kvm === 'ok' ? 'pass' : 'fail');
    if (m.kvm === 'missing') expect(checks['kvm-device'].message).toContain('/dev/kvm does not exist');
    expect(checks['ip-forward'].status).toBe(m.ipForward === 1 ? 'pass' : 'fail');
    expect(checks['ip-forward'].details.value).toBe(m.ipForward);
    expect(checks['neigh-gc-thresh'].status).toBe(m.gcThresh3 >= 100 * 3 + 512 ? 'pass' : 'warn');
    expect(checks['nbd-module'].status).toBe(m.nbdMax !== null && m.nbdMax >= 100 ? 'pass' : 'fail');
    expect(checks['cgroup-v2'].status).toBe(m.cgroup2 ? 'pass' : 'fail');
    const failing = Object.values(checks).some((c: any) => c.status === 'fail');
    expect(r.exitCode).toBe(failing ? 1 : 0);
  });

  it('an unknown id is a usage error (exit 2) and changes nothing', async () => {
    const r = await runCli(['check', '--extra-checks', 'kvm', ...box.flags()]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown check id 'kvm'");
  });

  it('serve --extra-checks: the host gate judges them too; a warning never blocks, a failure does', async () => {
    const m = machine();
    const s = await startServe(box, '--extra-checks', 'ip-forward,neigh-gc-thresh');
    const v = await get(`${s.url}/ready-for-vm?verbose`);
    expect(v.text).toContain(m.ipForward === 1 ? '[+]ip-forward ok' : '[-]ip-forward failed');
    expect(v.status).toBe(m.ipForward === 1 ? 200 : 503);
    expect(await s.stop()).toBe(0);
  });
});
