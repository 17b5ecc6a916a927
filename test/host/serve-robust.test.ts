import { connect } from 'node:net';
import fc from 'fast-check';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CLI, describeHost, HostSandbox, json, runCli } from '../helpers/host.js';
import { get, startServe, startServeWith } from '../helpers/serve.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One raw HTTP request (a target no fetch client would send); resolves with the status line's code and body. */
function rawExchange(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    let buf = '';
    sock.on('data', (d: Buffer) => (buf += d.toString('latin1')));
    sock.on('end', () => {
      const head = buf.slice(0, buf.indexOf('\r\n\r\n'));
      const raw = buf.slice(head.length + 4);
      // a streamed body (GET /inventory) comes chunked, as HTTP/1.1 lets any server send it
      const body = /^transfer-encoding: chunked$/im.test(head) ? unchunk(raw) : Buffer.from(raw, 'latin1').toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), body });
    });
    sock.on('error', reject);
  });
}
/** A chunked body decoded (size line in hex, the chunk, CRLF; a zero size ends it). */
function unchunk(raw: string): string {
  const b = Buffer.from(raw, 'latin1');
  let out = '';
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at, 'latin1');
    const size = parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) return out;
    out += b.subarray(eol + 2, eol + 2 + size).toString('utf8');
    at = eol + 2 + size + 2;
  }
}
const rawRequest = async (port: number, target: string) => (await rawExchange(port, target)).status;

/** Issue 10's numbered failures, each on the real kernel. */
describeHost('serve never dies and never lies', () => {
  const box = new HostSandbox();

  it('1. hostile request targets are a 400, and the gate stays up', async () => {
    const s = await startServe(box);
    const port = Number(new URL(s.url).port);
    for (const target of ['//[', 'http://x:99999/', 'http://%zz/', 'http://', '*', '/ready-for-vm?netns=%zz%']) {
      const status = await rawRequest(port, target);
      expect([target, status]).toEqual([target, 400]);
    }
    expect((await get(`${s.url}/healthz`)).status, s.describe()).toBe(200);
    expect(await s.stop()).toBe(0);
  });

  it('1b. fuzz: a few hundred random targets and queries each get a known status and a JSON (or ?verbose text) body', async () => {
    const s = await startServe(box);
    const port = Number(new URL(s.url).port);
    const ns = await box.slot('fuzz');
    const param = fc.tuple(
      fc.constantFrom('netns', 'iface', 'timeout_ms', 'pid', 'verbose', 'compare', 'guest', 'x'),
      fc.oneof(fc.string(), fc.constant(ns), fc.integer().map(String)),
    );
    const target = fc.oneof(
      fc
        .tuple(fc.constantFrom('/ready-for-vm', '/diagnose', '/inventory', '/healthz', '/metrics', '/', '/x'), fc.array(param, { maxLength: 4 }))
        .map(
          ([path, ps]) =>
            `${path}?${ps.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%25/g, fc.sample(fc.constantFrom('%', '%25'), 1)[0]!)}`).join('&')}`,
        ),
      fc.string({ minLength: 1 }).map((t) => t.replace(/[\s]/g, '_')),
      fc.webPath(),
    );
    const known = new Set([200, 400, 404, 405, 409, 503, 504]);
    for (const t of fc.sample(target, { numRuns: 300, seed: 42 })) {
      const r = await rawExchange(port, t.replace(/timeout_ms=\d{4,}/g, 'timeout_ms=0') || '/');
      expect(known.has(r.status), `${t} -> ${r.status}`).toBe(true);
      const text = (t.startsWith('/metrics') && r.status === 200) || /^(\[[+-]\]|ready|not ready)/.test(r.body);
      if (!text) expect(() => JSON.parse(r.body), `${t} -> ${r.status} ${r.body.slice(0, 200)}`).not.toThrow();
    }
    expect((await get(`${s.url}/healthz`)).status, s.describe()).toBe(200);
    expect(await s.stop()).toBe(0);
  }, 120_000);

  it('2. fresh host: no /run/netns at start; serve follows it when it appears, and again after it is re-created', async () => {
    const fresh = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && exec "$@"', 'sh'];
    const s = await startServeWith(box, fresh);
    const inv = await get(`${s.url}/inventory`);
    expect(inv.body.namespaces).toEqual([]);
    const inside = (...cmd: string[]) => execa('nsenter', ['-t', String(s.child.pid), '-m', ...cmd]);
    const ns = box.ns('fresh');
    await inside('ip', 'netns', 'add', ns);
    for (let i = 0; i < 100 && (await get(`${s.url}/inventory`)).body.namespaces.length === 0; i++) await sleep(20);
    expect(
      (await get(`${s.url}/inventory`)).body.namespaces.map((n: any) => n.name),
      s.describe(),
    ).toEqual([ns]);
    // the directory goes away and comes back: still followed
    await inside('ip', 'netns', 'del', ns);
    await inside('sh', '-c', 'umount /run/netns 2>/dev/null; rmdir /run/netns');
    for (let i = 0; i < 100 && (await get(`${s.url}/inventory`)).body.namespaces.length > 0; i++) await sleep(20);
    await inside('ip', 'netns', 'add', ns);
    for (let i = 0; i < 100 && (await get(`${s.url}/inventory`)).body.namespaces.length === 0; i++) await sleep(20);
    expect(
      (await get(`${s.url}/inventory`)).body.namespaces.map((n: any) => n.name),
      s.describe(),
    ).toEqual([ns]);
    await inside('ip', 'netns', 'del', ns);
    expect(await s.stop()).toBe(0);
  });

  it('2b. check, inventory, cleanup, wait and diagnose work without /run/netns', async () => {
    const fresh = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /run && exec "$@"', 'sh'];
    const run = (args: string[]) => execa(fresh[0]!, [...fresh.slice(1), 'node', CLI, ...args], { reject: false });
    const chk = await run(['check', '--json', ...box.flags()]);
    expect(chk.exitCode, chk.stderr).toBe(0);
    expect(JSON.parse(chk.stdout).checks.find((c: any) => c.id === 'leftover-taps').details.slots).toBe(0);
    expect(JSON.parse((await run(['inventory', '--json', ...box.flags()])).stdout).namespaces).toEqual([]);
    expect((await run(['cleanup', '--json', ...box.flags()])).exitCode).toBe(0);
    const w = await run(['wait', '--netns', box.ns('none'), '--timeout', '0', '--json']);
    expect([w.exitCode, JSON.parse(w.stdout).reason]).toEqual([1, 'netns-not-found']);
    const d = await run(['diagnose', '--netns', box.ns('none'), '--json']);
    expect([d.exitCode, JSON.parse(d.stdout).verdict]).toEqual([1, 'netns-not-found']);
  });

  it('3. SIGTERM twice: every waiter still gets 503 shutting-down, exit 0', async () => {
    const s = await startServe(box, '--max-waiters', '500');
    const ns = await box.slot('sig');
    const waits = Array.from({ length: 100 }, () =>
      get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=20000`).catch((e: Error) => ({ status: 0, body: { reason: e.message } })),
    );
    for (let i = 0; i < 100; i++) {
      const m = await get(`${s.url}/metrics`);
      if (/^vmgate_carrier_waiters 100$/m.test(m.text)) break;
      await sleep(20);
    }
    const exited = new Promise<[number | null, string | null]>((r) => s.child.once('exit', (c, sig) => r([c, sig])));
    s.child.kill('SIGTERM');
    await sleep(50);
    s.child.kill('SIGTERM');
    const answers = await Promise.all(waits);
    expect(new Set(answers.map((a) => `${a.status} ${a.body.reason}`))).toEqual(new Set(['503 shutting-down']));
    expect(await exited, s.describe()).toEqual([0, null]);
  });

  it('5. a FIFO in /run/netns does not hang check; the name is not a namespace and nothing is deleted', async () => {
    const ns = await box.slot('beside-fifo');
    const fifo = `/run/netns/${box.ns('fifo')}`;
    await execa('mkfifo', [fifo]);
    try {
      const r = await runCli(['check', '--json', '--min-age', '0s', ...box.flags()]);
      const out = json(r);
      expect(out.checks.find((c: any) => c.id === 'host-visibility').details.notNamespaces).toContain(box.ns('fifo'));
      const c = await runCli(['cleanup', '--json', '--min-age', '0s', ...box.flags()]);
      expect(json(c).refused).toContain('not namespace mounts');
      expect(await box.exists(ns)).toBe(true);
    } finally {
      rmSync(fifo, { force: true });
    }
  });

  it('6. a link watcher that keeps failing to start never leaves more than one ip monitor behind', async () => {
    // an ip that fails to subscribe whenever the flag file exists: every restart fails
    const dir = mkdtempSync(join(tmpdir(), 'vgip-'));
    const flag = join(dir, 'fail');
    const realIp = (await execa('sh', ['-c', 'command -v ip'])).stdout.trim();
    writeFileSync(join(dir, 'ip'), `#!/bin/sh\nif [ -e ${flag} ] && [ "$2" = monitor ]; then exec sleep 0.3; fi\nexec ${realIp} "$@"\n`);
    chmodSync(join(dir, 'ip'), 0o755);
    const prevPath = process.env.PATH;
    process.env.PATH = `${dir}:${prevPath}`;
    let s;
    try {
      s = await startServe(box);
    } finally {
      process.env.PATH = prevPath;
    }
    writeFileSync(flag, '');
    const monitors = async () =>
      (await execa('ps', ['-o', 'pid=,args=', '--ppid', String(s.child.pid)], { reject: false })).stdout.split('\n').filter((l) => /monitor|sleep/.test(l))
        .length;
    await execa('pkill', ['-f', '-P', String(s.child.pid), 'monitor'], { reject: false });
    let most = 0;
    for (let i = 0; i < 40; i++) {
      most = Math.max(most, await monitors());
      await sleep(50);
    }
    expect(most).toBeLessThanOrEqual(1);
    expect((await get(`${s.url}/healthz`)).status).toBe(503);
    rmSync(flag);
    for (let i = 0; i < 200 && (await get(`${s.url}/healthz`)).status !== 200; i++) await sleep(50);
    expect((await get(`${s.url}/healthz`)).status, s.describe()).toBe(200);
    expect(await monitors()).toBe(1);
    expect(await s.stop()).toBe(0);
  });

  it('8. --tap is the slot wait default over HTTP; a slot without an nsid answers netns-unwatched at once', async () => {
    const s = await startServe(box, '--tap', 'vtap0');
    const ns = await box.slot('vtap', { tapName: 'vtap0' });
    const vmm = await box.holder(ns, { tap: 'vtap0' });
    const r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=2000`);
    expect([r.status, r.body.reason, r.body.iface]).toEqual([200, 'carrier-up', 'vtap0']);
    await box.stop(vmm);
    // a plain file under a slot's name (a mount that did not propagate): no nsid can be had for it
    const plain = `/run/netns/${box.ns('plain')}`;
    writeFileSync(plain, '');
    try {
      for (let i = 0; i < 100 && (await get(`${s.url}/ready-for-vm?netns=${box.ns('plain')}&timeout_ms=0`)).body.reason === 'netns-not-found'; i++)
        await sleep(20);
      const u = await get(`${s.url}/ready-for-vm?netns=${box.ns('plain')}&timeout_ms=5000`);
      expect([u.status, u.body.reason]).toEqual([503, 'netns-unwatched']);
      expect(u.body.waitedMs).toBeLessThan(5000);
      const v = await get(`${s.url}/ready-for-vm?verbose`);
      expect(v.status).toBe(200);
      const h = await get(`${s.url}/ready-for-vm`);
      expect(h.body.checks.find((c: any) => c.id === 'link-watcher')).toMatchObject({ status: 'warn', message: expect.stringContaining(box.ns('plain')) });
    } finally {
      rmSync(plain, { force: true });
    }
    expect(await s.stop()).toBe(0);
  });

  it('holders stay right through attach, detach and re-attach (the shared per-turn lookup is never stale)', async () => {
    const s = await startServe(box);
    const ns = await box.slot('reattach');
    const first = await box.holder(ns, { comm: 'fc-first' });
    let r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=2000`);
    expect([r.body.reason, r.body.holders]).toEqual(['carrier-up', [{ pid: first.pid, comm: 'fc-first' }]]);
    await box.stop(first);
    for (let i = 0; i < 100 && (await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=0`)).body.reason === 'carrier-up'; i++) await sleep(20);
    r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=0`);
    expect([r.body.reason, r.body.holders]).toEqual(['timeout', []]);
    const second = await box.holder(ns, { comm: 'fc-second' });
    r = await get(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=2000`);
    expect([r.body.reason, r.body.holders]).toEqual(['carrier-up', [{ pid: second.pid, comm: 'fc-second' }]]);
    const m = await get(`${s.url}/metrics`);
    expect(m.text).toMatch(/^vmgate_event_loop_delay_p99_seconds [\d.e-]+$/m);
    await box.stop(second);
    expect(await s.stop()).toBe(0);
  });

  it('9. /diagnose only for slot names, no guest parameter over HTTP', async () => {
    const s = await startServe(box);
    expect((await get(`${s.url}/diagnose?netns=..`)).status).toBe(404);
    expect((await get(`${s.url}/diagnose?netns=other-ns`)).status).toBe(404);
    const g = await get(`${s.url}/diagnose?netns=${box.ns('x')}&guest=10.0.0.1:22`);
    expect([g.status, g.body.error]).toEqual([400, expect.stringContaining("'guest' is not accepted")]);
    expect(await s.stop()).toBe(0);
  });

  it('10. a flood of failed waits is logged a few lines a second, with a summary of the rest', async () => {
    const s = await startServe(box);
    const missing = box.ns('missing');
    for (let i = 0; i < 300; i++) await get(`${s.url}/ready-for-vm?netns=${missing}&timeout_ms=0`);
    expect(await s.stop()).toBe(0);
    const logs = s.logs().filter((l) => l.reason === 'netns-not-found');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.length).toBeLessThan(60);
    // one summary at the stop, or more if the 10-s summary timer fired meanwhile (a loaded machine): together, the rest
    const summaries = s.logs().filter((l) => l.suppressed);
    expect(summaries.length).toBeGreaterThan(0);
    const held = summaries.reduce((n, l) => n + ((l.suppressed as Record<string, number>)['netns-not-found'] ?? 0), 0);
    expect(held).toBe(300 - logs.length);
  });
  it('11. a storm of 100 failed waits: each answered with its own reason; diagnoses coalesce per namespace', async () => {
    const s = await startServe(box);
    const slots = await Promise.all(Array.from({ length: 5 }, (_, i) => box.slot(`storm${i}`)));
    const late = await box.slot('stormlate');
    const gone = await box.process(null, 'vg-gone-vmm');
    const gonePid = gone.pid!;
    await box.stop(gone);
    const ask = (q: string) => get(`${s.url}/ready-for-vm?${q}`);
    const storm = [
      ...Array.from({ length: 80 }, (_, i) => ask(`netns=${slots[i % 5]}&timeout_ms=700`)),
      ...Array.from({ length: 10 }, () => ask(`netns=${box.ns('nosuch')}&timeout_ms=700`)),
      ...Array.from({ length: 10 }, (_, i) => ask(`netns=${slots[i % 5]}&timeout_ms=700&pid=${gonePid}`)),
    ];
    const carrier = ask(`netns=${late}&timeout_ms=5000`);
    await sleep(100);
    const holder = await box.holder(late, { comm: 'fc-late' });
    const answers = await Promise.all(storm);
    expect(answers.slice(0, 80).map((a) => a.body.reason)).toEqual(Array(80).fill('timeout'));
    expect(answers.slice(80, 90).map((a) => a.body.reason)).toEqual(Array(10).fill('netns-not-found'));
    expect(answers.slice(90).map((a) => a.body.reason)).toEqual(Array(10).fill('vmm-exited'));
    expect((await carrier).body).toMatchObject({ reason: 'carrier-up', holders: [{ pid: holder.pid, comm: 'fc-late' }] });
    // the gate answers at full speed right after, with nothing queued behind the storm
    expect((await ask(`netns=${late}&timeout_ms=0`)).body.reason).toBe('carrier-up');
    await sleep(1500); // diagnoses run at 2 a second, 2 at a time
    await box.stop(holder);
    expect(await s.stop()).toBe(0);
    const lines = s.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('diagnose '));
    const names = lines.map((l) => l.netns);
    expect(lines.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length); // one line per namespace in the interval
    expect(names.every((n) => slots.includes(n))).toBe(true);
    // the lines and the summary together account for failed waits beyond the one that started each diagnosis
    const covered = lines.reduce((a, l) => a + l.failedWaits, 0);
    const summary = s.logs().find((l) => l.coalescedWaits !== undefined);
    expect(covered + (summary?.coalescedWaits ?? 0)).toBeGreaterThan(lines.length);
  });

  it('4. stdout is written whole to a slow pipe', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 600; i++) lines.push(`netns add ${box.ns(`p${i}`)}`);
    await execa('ip', ['-batch', '-'], { input: lines.join('\n') + '\n' });
    // last in this file: the kernel tears 600 namespaces down slowly, and later namespace work would wait for it
    const r = await execa('sh', ['-c', `node ${CLI} inventory --json --min-age 1h --netns-pattern '^${box.prefix}p[0-9]+$' | (sleep 1; cat)`]);
    expect(r.stdout.length).toBeGreaterThan(65_536);
    expect(JSON.parse(r.stdout).namespaces).toHaveLength(600);
    await execa('ip', ['-force', '-batch', '-'], { input: lines.map((l) => l.replace('add', 'del')).join('\n') + '\n' });
  });
});
