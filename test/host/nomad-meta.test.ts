import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';
import { fakeNomad, OK, statefulNomad } from '../helpers/fake-nomad.js';
import { get, startServe } from '../helpers/serve.js';

describeHost('Nomad node metadata from the real gate and check', () => {
  const box = new HostSandbox();

  it('serve --nomad-meta publishes the verdict once at start and unsets it on SIGTERM (Task API socket)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgsecrets-'));
    const n = await fakeNomad(OK, { path: join(dir, 'api.sock') });
    afterAll(n.close);
    process.env.NOMAD_SECRETS_DIR = dir;
    process.env.NOMAD_TOKEN = 'wi';
    try {
      const s = await startServe(box, '--nomad-meta');
      const posts = () => n.seen.filter((x) => x.method === 'POST');
      for (let i = 0; i < 40 && posts().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(JSON.parse(posts()[0]!.body).Meta).toMatchObject({ vmgate_ready: 'true', vmgate_reason: '' });
      expect(n.seen[0]!.headers.authorization).toBe('Bearer wi');
      expect(await s.stop()).toBe(0);
      expect(JSON.parse(n.seen.at(-1)!.body).Meta).toEqual({ vmgate_ready: null, vmgate_reason: null });
    } finally {
      delete process.env.NOMAD_SECRETS_DIR;
      delete process.env.NOMAD_TOKEN;
    }
  });

  it('the gate keeps answering while Nomad hangs, and still exits quickly', async () => {
    const n = await fakeNomad(() => 'hang', { port: 0 });
    afterAll(n.close);
    process.env.NOMAD_ADDR = n.addr;
    try {
      const s = await startServe(box, '--nomad-meta');
      const ns = await box.slot('m1');
      const r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=0`);
      expect(r.status).toBe(504);
      expect((await get(`${s.url}/ready-for-vm`)).status).toBe(200);
      const t0 = Date.now();
      const code = await s.stop();
      expect(code, JSON.stringify(s.logs())).toBe(0);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      delete process.env.NOMAD_ADDR;
    }
  });

  it('check --fix --nomad-meta publishes the prestart verdict; Nomad refusing (403) does not fail the check', async () => {
    let status = 200;
    const n = await fakeNomad((r) => (status === 200 ? OK(r) : { status, body: 'Permission denied' }), { port: 0 });
    afterAll(n.close);
    let r = await runCli(['check', '--fix', '--nomad-meta', '--json', ...box.flags()], { NOMAD_ADDR: n.addr });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(n.seen.find((x) => x.method === 'POST')!.body).Meta).toMatchObject({ vmgate_preflight: 'pass' });
    status = 403;
    r = await runCli(['check', '--fix', '--nomad-meta', '--json', ...box.flags()], { NOMAD_ADDR: n.addr });
    expect([r.exitCode, json(r).ok]).toEqual([0, true]);
    expect(r.stderr).toContain('HTTP 403: Permission denied');
  });
});

describeHost('preflight and gate verdicts on a stateful Task API stand-in (unix socket)', () => {
  const box = new HostSandbox();

  it('a failing preflight publishes fail once; the gate leaves it in place; a passing preflight flips it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgsecrets-'));
    const n = await statefulNomad({ path: join(dir, 'api.sock') });
    afterAll(n.close);
    const env = { NOMAD_SECRETS_DIR: dir, NOMAD_TOKEN: 'wi' };
    await box.slot('pf1');
    const checkArgs = ['check', '--nomad-meta', '--json', '--min-age', '0s', ...box.flags()];
    let r = await runCli(checkArgs, env);
    expect(r.exitCode).toBe(1);
    expect(n.dynamic).toMatchObject({ vmgate_preflight: 'fail', vmgate_preflight_reason: 'leftover-taps' });
    expect(n.posts).toHaveLength(1);
    // the same verdict again: read, compared, nothing written (no Node.Meta change, no evaluation, no new allocation)
    r = await runCli(checkArgs, env);
    expect(r.exitCode).toBe(1);
    expect(n.posts).toHaveLength(1);

    process.env.NOMAD_SECRETS_DIR = dir;
    process.env.NOMAD_TOKEN = 'wi';
    try {
      const s = await startServe(box, '--nomad-meta');
      for (let i = 0; i < 60 && n.dynamic.vmgate_ready === undefined; i++) await new Promise((res) => setTimeout(res, 50));
      expect(n.dynamic).toMatchObject({ vmgate_ready: 'true', vmgate_reason: '', vmgate_preflight: 'fail' });
      expect(await s.stop()).toBe(0);
    } finally {
      delete process.env.NOMAD_SECRETS_DIR;
      delete process.env.NOMAD_TOKEN;
    }
    expect(n.dynamic).toMatchObject({ vmgate_ready: null, vmgate_reason: null, vmgate_preflight: 'fail', vmgate_preflight_reason: 'leftover-taps' });

    r = await runCli(['check', '--fix', '--nomad-meta', '--json', '--min-age', '0s', ...box.flags()], env);
    expect(r.exitCode).toBe(0);
    expect(n.dynamic).toMatchObject({ vmgate_preflight: 'pass', vmgate_preflight_reason: '' });
    expect(n.posts.every((p) => !Object.keys(p).some((k) => k === 'vmgate_checked_at'))).toBe(true);
  });
});

describeHost('the release tarball', () => {
  it('unpacks into an empty directory and runs check --json with node alone', async () => {
    const { stdout } = await execa('bash', ['scripts/pack.sh'], { cwd: new URL('../..', import.meta.url).pathname });
    const tarball = stdout.split('\n').find((l) => l.endsWith('.tar.gz'))!;
    const dir = mkdtempSync(join(tmpdir(), 'vgpack-'));
    await execa('tar', ['-C', dir, '-xzf', new URL(`../../${tarball}`, import.meta.url).pathname]);
    const r = await execa('node', [join(dir, 'vmgate/dist/src/cli/bin.js'), 'check', '--json', '--netns-pattern', '^vgtest-none$'], {
      reject: false,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      extendEnv: false,
      cwd: dir,
    });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).checks.map((c: any) => c.id)).toEqual([
      'tun-device',
      'netns-capacity',
      'host-visibility',
      'leftover-taps',
      'host-pressure',
      'leftover-host-rules',
    ]);
    await execa('rm', ['-rf', dir]);
  });
});
