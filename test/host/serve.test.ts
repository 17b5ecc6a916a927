import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { CLI, describeHost, HostSandbox, runCli, json } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeHost('vmgate serve: the readiness gate on real slots', () => {
  const box = new HostSandbox();

  it('host gate: 200 with checks, ?verbose in the readyz style, /healthz, /metrics, 404 and 405', async () => {
    const s = await startServe(box, '--slot-layout', 'none');
    let r = await get(`${s.url}/ready-for-vm`);
    expect(r.status).toBe(200);
    expect(r.body.ready).toBe(true);
    expect(r.body.checks.map((c: any) => c.id)).toEqual(['tun-device', 'netns-capacity', 'link-watcher', 'host-visibility', 'host-pressure', 'slot-leaks']);
    r = await get(`${s.url}/ready-for-vm?verbose`);
    expect(r.type).toContain('text/plain');
    expect(r.text).toMatch(
      /^\[\+\]tun-device ok\n\[\+\]netns-capacity ok\n\[\+\]link-watcher ok\n\[\+\]host-visibility ok\n\[\+\]host-pressure ok\n\[\+\]slot-leaks ok\nready\n$/,
    );
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    r = await get(`${s.url}/metrics`);
    expect(r.text).toContain('vmgate_host_ready 1');
    expect(r.text).toContain('vmgate_check_status{check="link-watcher",status="pass"} 1');
    expect((await get(`${s.url}/nope`)).status).toBe(404);
    const post = await get(`${s.url}/ready-for-vm`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await s.stop()).toBe(0);
  });

  it('host gate: 503 naming the failing check when the tun device is wrong', async () => {
    const s = await startServe(box, '--tun-path', '/dev/null');
    const r = await get(`${s.url}/ready-for-vm`);
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ ready: false, reason: 'host-not-ready' });
    expect(r.body.checks.map((c: any) => c.id)).toEqual(['tun-device']);
    const v = await get(`${s.url}/ready-for-vm?verbose`);
    expect(v.status).toBe(503);
    expect(v.text).toMatch(/^\[-\]tun-device failed: \/dev\/null is device 1:3/m);
    const slot = await get(`${s.url}/ready-for-vm?netns=${box.ns('x')}`);
    expect(slot.status).toBe(503);
    expect(slot.body.reason).toBe('host-not-ready');
    expect(s.logs().some((l) => l.level === 40 && l.msg.startsWith('host gate NOT ready: tun-device'))).toBe(true);
    await s.stop();
  });

  it('slot wait: 200 carrier-up the moment a VMM attaches, with the holder; at once when already up', async () => {
    const ns = await box.slot('w1');
    const s = await startServe(box);
    const pending = get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=10000`);
    await sleep(200);
    const vmm = await box.holder(ns);
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ready: true,
      reason: 'carrier-up',
      netns: ns,
      iface: 'tap0',
      carrier: true,
      holders: [{ pid: vmm.pid, comm: 'firecracker' }],
    });
    expect(r.body.waitedMs).toBeGreaterThan(100);
    const again = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=0`);
    expect(again.body).toMatchObject({ ready: true, reason: 'carrier-up' });
    const line = s.logs().find((l) => l.reason === 'carrier-up');
    expect(line).toMatchObject({ level: 30, netns: ns, tap: 'tap0', pid: vmm.pid });
    await box.stop(vmm);
    await s.stop();
  });

  it('slot wait: 504 timeout with no holder, 409 admin-down, 404 for a missing namespace or interface', async () => {
    const ns = await box.slot('w2');
    const down = await box.slot('w3', { up: false });
    const s = await startServe(box);
    let r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=300`);
    expect(r.status).toBe(504);
    expect(r.body).toMatchObject({ ready: false, reason: 'timeout', carrier: false, holders: [] });
    expect(r.body.error).toContain('no process has the tap attached');
    r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=0`);
    expect(r.status).toBe(504);
    r = await get(`${s.url}/ready-for-vm?netns=${down}`);
    expect(r.status).toBe(409);
    expect(r.body.reason).toBe('iface-admin-down');
    r = await get(`${s.url}/ready-for-vm?netns=${box.ns('absent')}`);
    expect([r.status, r.body.reason]).toEqual([404, 'netns-not-found']);
    r = await get(`${s.url}/ready-for-vm?netns=${ns}&iface=tap9`);
    expect([r.status, r.body.reason]).toEqual([404, 'iface-not-found']);
    r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=soon`);
    expect([r.status, r.body.reason]).toEqual([400, 'bad-request']);
    expect(r.body.error).toContain('timeout_ms');
    const warn = s.logs().find((l) => l.reason === 'timeout');
    expect(warn).toMatchObject({ level: 40, netns: ns, tap: 'tap0' });
    await s.stop();
  });

  it('slot wait: 503 vmm-exited as soon as the given pid is gone', async () => {
    const ns = await box.slot('w4');
    const s = await startServe(box);
    const vmm = await box.process(ns, 'firecracker');
    const pending = get(`${s.url}/ready-for-vm?netns=${ns}&pid=${vmm.pid}&timeout_ms=20000`);
    await sleep(200);
    await box.stop(vmm);
    const r = await pending;
    expect([r.status, r.body.reason, r.body.pid]).toEqual([503, 'vmm-exited', vmm.pid]);
    expect(r.body.waitedMs).toBeLessThan(5000);
    await s.stop();
  });

  it('slot wait: 404 when the interface or namespace vanishes mid-wait', async () => {
    const a = await box.slot('w5');
    const b = await box.slot('w6');
    const s = await startServe(box);
    const p1 = get(`${s.url}/ready-for-vm?netns=${a}&timeout_ms=20000`);
    const p2 = get(`${s.url}/ready-for-vm?netns=${b}&timeout_ms=20000`);
    await sleep(200);
    await execa('ip', ['-n', a, 'link', 'del', 'tap0']);
    await execa('ip', ['netns', 'del', b]);
    const [r1, r2] = await Promise.all([p1, p2]);
    expect([r1.status, r1.body.reason]).toEqual([404, 'iface-not-found']);
    expect([r2.status, r2.body.reason]).toEqual([404, 'netns-not-found']);
    await s.stop();
  });

  it('follows namespaces created after start, with or without an nsid', async () => {
    const s = await startServe(box);
    const ns = await box.slot('late', { veth: false });
    const pending = get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=10000`);
    await sleep(200);
    const vmm = await box.holder(ns);
    const r = await pending;
    expect([r.status, r.body.reason]).toEqual([200, 'carrier-up']);
    const inv = await get(`${s.url}/inventory`);
    expect(inv.body.namespaces.find((n: any) => n.name === ns)).toMatchObject({ state: 'active', taps: [{ carrier: true, holders: [{ pid: vmm.pid }] }] });
    await box.stop(vmm);
    await s.stop();
  });

  it('drops a waiter whose client disconnects, and caps waiters', async () => {
    const ns = await box.slot('w7');
    const s = await startServe(box, '--max-waiters', '1');
    const ac = new AbortController();
    const gone = fetch(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=20000`, { signal: ac.signal }).catch(() => 'aborted');
    await sleep(150);
    expect((await get(`${s.url}/metrics`)).text).toContain('vmgate_carrier_waiters 1');
    const second = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=20000`);
    expect([second.status, second.body.reason]).toEqual([503, 'too-many-waiters']);
    ac.abort();
    expect(await gone).toBe('aborted');
    await sleep(100);
    expect((await get(`${s.url}/metrics`)).text).toContain('vmgate_carrier_waiters 0');
    await s.stop();
  });

  it('restarts a killed link watcher, re-reads state, and a wait in flight still gets carrier-up', async () => {
    const ns = await box.slot('w8');
    const s = await startServe(box);
    const pending = get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=15000`);
    await sleep(150);
    const { stdout } = await execa('pgrep', ['-P', String(s.child.pid), '-f', 'monitor all-nsid']);
    await execa('kill', ['-9', stdout.trim()]);
    const vmm = await box.holder(ns); // attaches while the watcher is down or just back
    const r = await pending;
    expect([r.status, r.body.reason]).toEqual([200, 'carrier-up']);
    for (let i = 0; i < 100 && (await get(`${s.url}/healthz`)).status !== 200; i++) await sleep(50);
    expect((await get(`${s.url}/metrics`)).text).toContain('vmgate_link_watcher_restarts 1');
    expect(s.logs().some((l) => l.watcher === 'restarted')).toBe(true);
    await box.stop(vmm);
    await s.stop();
  });

  it('SIGTERM: waits in flight get 503 shutting-down, exit 0 quickly, no ip monitor left behind', async () => {
    const ns = await box.slot('w9');
    const s = await startServe(box);
    const pending = get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=20000`);
    await sleep(150);
    const monitorPid = (await execa('pgrep', ['-P', String(s.child.pid), '-f', 'monitor all-nsid'])).stdout.trim();
    const t0 = Date.now();
    const code = await s.stop();
    const r = await pending;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect([r.status, r.body.reason]).toEqual([503, 'shutting-down']);
    expect((await execa('kill', ['-0', monitorPid], { reject: false })).exitCode).not.toBe(0);
  });

  it('the first slot answer after a start is right: a wait that arrives before the first evaluation waits for it', async () => {
    const ns = await box.slot('first');
    const vmm = await box.holder(ns);
    for (let round = 0; round < 3; round++) {
      const child = box.adopt(spawn('node', [CLI, 'serve', '--listen', '127.0.0.1:0', ...box.flags()], { stdio: ['ignore', 'ignore', 'pipe'] }));
      let err = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code, signal) => reject(new Error(`serve exited ${code ?? signal}: ${err}`)));
      });
      // at once, as an orchestrator started beside the sidecar does
      const r = await get(`http://127.0.0.1:${port}/ready-for-vm?netns=${ns}&timeout_ms=5000&pid=${vmm.pid}`);
      expect([r.status, r.body.reason], `round ${round}: ${JSON.stringify(r.body)} ${err}`).toEqual([200, 'carrier-up']);
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await exited;
    }
    await box.stop(vmm);
  });

  it('vmgate wait: exit 0 on carrier, 1 on timeout, 2 without --netns', async () => {
    const ns = await box.slot('cli');
    let r = await runCli(['wait', '--netns', ns, '--timeout', '300ms', '--json']);
    expect(r.exitCode).toBe(1);
    expect(json(r)).toMatchObject({ reason: 'timeout', netns: ns, iface: 'tap0' });
    const vmm = await box.holder(ns);
    r = await runCli(['wait', '--netns', ns, '--timeout', '2s']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^carrier-up: ${ns}/tap0 has carrier after [0-9.]+ms, held by ${vmm.pid} \\(firecracker\\)$`));
    r = await runCli(['wait']);
    expect([r.exitCode, r.stderr.trim()]).toEqual([2, 'vmgate: wait: --netns is required']);
    r = await runCli(['wait', '--netns', ns, '--timeout', '5m']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--timeout must be a whole number from 0 to 120000');
    await box.stop(vmm);
  });
});
