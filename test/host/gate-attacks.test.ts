import { execa } from 'execa';
import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { describeHost, HostSandbox, ipBatch } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';

/** Issue 25's ways the gate kept a lie, each on the real kernel against a real `vmgate serve`. */
describeHost('the gate under attack', () => {
  const box = new HostSandbox();
  const ask = (url: string, ns: string, timeoutMs = 0) => get(`${url}/ready-for-vm?netns=${ns}&timeout_ms=${timeoutMs}`);
  const monitorPid = async (servePid: number) => Number((await execa('pgrep', ['-P', String(servePid), '-x', 'ip'])).stdout.trim().split('\n')[0]);
  /** thousands of link events in another slot namespace: a veth toggled up and down inside it */
  const flood = async (ns: string, toggles: number) => {
    await execa('ip', ['-n', ns, 'link', 'add', 'vga', 'type', 'veth', 'peer', 'name', 'vgb']);
    const lines: string[] = [];
    for (let i = 0; i < toggles; i++) lines.push('link set vga up', 'link set vga down');
    await execa('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
  };

  it('5. lost link events (monitor stalled while 6,000 links change) are noticed: the gate re-reads and never keeps carrier-up', async () => {
    const ns = await box.slot('ovf');
    const noise = await box.slot('noise');
    const holder = await box.holder(ns);
    const s = await startServe(box);
    try {
      expect((await ask(s.url, ns)).body.reason).toBe('carrier-up');
      const mon = await monitorPid(s.child.pid!);
      process.kill(mon, 'SIGSTOP');
      try {
        await flood(noise, 3000);
        await box.stop(holder);
        await until(async () => !(await execa('ip', ['-n', ns, 'link', 'show', 'tap0'])).stdout.includes('LOWER_UP'));
      } finally {
        process.kill(mon, 'SIGCONT');
      }
      await until(async () => (await ask(s.url, ns)).body.reason !== 'carrier-up', 20_000);
      const metrics = (await get(`${s.url}/metrics`)).text;
      expect(Number(/^vmgate_link_event_overflows_total (\d+)/m.exec(metrics)?.[1] ?? 0), s.describe()).toBeGreaterThanOrEqual(1);
      expect(s.logs().some((l) => /link watcher overflow/.test(l.msg))).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('6. a late kernel event (monitor stalled while the VMM attaches) never answers timeout while the kernel says LOWER_UP', async () => {
    const ns = await box.slot('late');
    const s = await startServe(box);
    try {
      const mon = await monitorPid(s.child.pid!);
      process.kill(mon, 'SIGSTOP');
      let holder;
      try {
        holder = await box.holder(ns);
        const now = await ask(s.url, ns, 0);
        expect([now.status, now.body.reason], JSON.stringify(now.body)).toEqual([200, 'carrier-up']);
        const later = await ask(s.url, ns, 100);
        expect(later.body.reason).toBe('carrier-up');
      } finally {
        process.kill(mon, 'SIGCONT');
      }
      await box.stop(holder);
    } finally {
      await s.stop();
    }
  });

  it('7. a renamed tap leaves no ghost', async () => {
    const ns = await box.slot('ren', { up: false });
    const s = await startServe(box);
    try {
      expect((await ask(s.url, ns)).body.reason).toBe('iface-admin-down');
      await execa('ip', ['-n', ns, 'link', 'set', 'tap0', 'name', 'tapX']);
      await until(async () => (await ask(s.url, ns)).body.reason === 'iface-not-found');
      const inv = (await get(`${s.url}/inventory`)).body;
      expect(inv.namespaces.find((n: any) => n.name === ns).taps.map((t: any) => t.name)).not.toContain('tap0');
    } finally {
      await s.stop();
    }
  });

  it('8. a namespace created a moment before the query is never netns-not-found', async () => {
    const s = await startServe(box);
    try {
      const reasons: string[] = [];
      for (let i = 0; i < 20; i++) {
        const ns = box.ns(`fresh${i}`);
        await ipBatch([`netns add ${ns}`]);
        reasons.push((await ask(s.url, ns, 0)).body.reason);
      }
      expect(reasons.filter((r) => r === 'netns-not-found')).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it('9. 50 concurrent /diagnose calls: at most 2 run, the rest 429 at once; slot answers and /healthz go on', async () => {
    const ns = await box.slot('diag');
    const s = await startServe(box);
    try {
      const calls = Array.from({ length: 50 }, () => fetch(`${s.url}/diagnose?netns=${ns}`));
      const health = await get(`${s.url}/healthz`);
      const slot = await ask(s.url, ns, 0);
      const answers = await Promise.all(calls);
      expect(health.status).toBe(200);
      expect(slot.body.reason).toBe('timeout');
      // 50 at once, each spawning ip and a probe: with 2 allowed in flight, some are turned away at once
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused.every((a) => a.headers.get('retry-after') === '1')).toBe(true);
      expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(2);
      expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('?verbose=0 answers JSON; CONNECT gets 405', async () => {
    const s = await startServe(box);
    try {
      expect((await get(`${s.url}/ready-for-vm?verbose=0`)).type).toContain('application/json');
      expect((await get(`${s.url}/ready-for-vm?verbose`)).type).toContain('text/plain');
      const port = Number(new URL(s.url).port);
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1', () => sock.write('CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\n'));
        let buf = '';
        sock.on('data', (d) => (buf += d.toString()));
        sock.on('end', () => resolve(buf));
        sock.on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 405 /);
    } finally {
      await s.stop();
    }
  });
});
