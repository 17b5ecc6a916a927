/**
 * Soak: mixed slot waits of every reason, scrapes and namespace churn against a live `vmgate serve`, for
 * SOAK_SECONDS (default 600). Checks what must not grow: RSS after warm-up (<= 10 MB), waiters (back to 0), open fds
 * and child processes. Prints one JSON object; exits 1 if a limit was crossed. Needs root; makes vgtest-soak-* only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = `${ROOT}dist/src/cli/bin.js`;
const PREFIX = 'vgtest-soak-';
const seconds = Number(process.env.SOAK_SECONDS ?? 600);
const children = new Set<ChildProcess>();
const log = (s: string) => process.stderr.write(`${s}\n`);

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

async function removeAll(): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns').filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  if (names.length) await execa('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n', reject: false });
}

async function cleanupAll(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  await removeAll();
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanupAll().then(() => process.exit(130)));

async function slot(name: string, opts: { up?: boolean } = {}): Promise<string> {
  const ns = `${PREFIX}${name}`;
  const tmp = `vgs${Math.random().toString(16).slice(2, 10)}`;
  await execa('ip', ['-batch', '-'], { input: `netns add ${ns}\ntuntap add dev ${tmp} mode tap\nlink set ${tmp} netns ${ns} name tap0\n` });
  if (opts.up !== false) await execa('ip', ['-n', ns, 'link', 'set', 'tap0', 'up']);
  return ns;
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
async function childCount(pid: number): Promise<number> {
  const r = await execa('ps', ['-o', 'pid=', '--ppid', String(pid)], { reject: false });
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

async function main(): Promise<number> {
  await removeAll();
  const gate = track(
    spawn('node', [CLI, 'serve', '--listen', '127.0.0.1:0', '--netns-pattern', `^${PREFIX}`, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  let err = '';
  gate.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  let port = 0;
  for (let i = 0; i < 400 && !port; i++) {
    await sleep(25);
    port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
  }
  if (!port) throw new Error(`serve did not start: ${err}`);
  const base = `http://127.0.0.1:${port}`;
  const carrier = await slot('carrier');
  const idle = await slot('idle');
  const down = await slot('down', { up: false });
  const holder = track(
    spawn('ip', ['netns', 'exec', carrier, 'python3', `${ROOT}test/fixtures/tap-holder.py`, 'tap0', 'firecracker'], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (c) => reject(new Error(`the tap holder exited ${c}`)));
  });
  const agent = new Agent({ connections: 16 });
  const counts: Record<string, number> = {};
  const ask = async (path: string) => {
    try {
      const r = await request(`${base}${path}`, { dispatcher: agent });
      const text = await r.body.text();
      const reason = path.startsWith('/ready-for-vm?') ? ((JSON.parse(text) as { reason: string }).reason ?? String(r.statusCode)) : path.split('?')[0]!;
      counts[reason] = (counts[reason] ?? 0) + 1;
    } catch (e) {
      counts.error = (counts.error ?? 0) + 1;
      log(`request ${path} failed: ${(e as Error).message}`);
    }
  };
  const end = Date.now() + seconds * 1000;
  const warmAt = Date.now() + Math.min(30, seconds * 0.25) * 1000;
  let warm: { rss: number; fds: number; children: number } | null = null;
  let churn = 0;
  const samples: number[] = [];
  // RSS every 2 s: a leak raises the floor (the lowest value, after each GC), load only makes it swing
  const sampler = setInterval(() => samples.push(rssKb(gate.pid!) / 1024), 2000);
  const churner = (async () => {
    while (Date.now() < end) {
      const names = Array.from({ length: 20 }, (_, i) => `${PREFIX}churn${churn}-${i}`);
      churn += 1;
      await execa('ip', ['-batch', '-'], { input: names.map((n) => `netns add ${n}`).join('\n') + '\n', reject: false });
      await sleep(200);
      await execa('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n', reject: false });
      await sleep(300);
    }
  })();
  const waiter = async (lane: number) => {
    let i = 0;
    while (Date.now() < end) {
      i += 1;
      const kind = (i + lane) % 9;
      if (kind === 0) await ask(`/ready-for-vm?netns=${carrier}&timeout_ms=1000`);
      else if (kind === 1) await ask(`/ready-for-vm?netns=${idle}&timeout_ms=50`);
      else if (kind === 2) await ask(`/ready-for-vm?netns=${PREFIX}missing${i % 50}&timeout_ms=0`);
      else if (kind === 3) await ask(`/ready-for-vm?netns=${idle}&iface=nope&timeout_ms=0`);
      else if (kind === 4) await ask(`/ready-for-vm?netns=${down}&timeout_ms=100`);
      else if (kind === 5) {
        const p = track(spawn('sleep', ['0.1']));
        await ask(`/ready-for-vm?netns=${idle}&timeout_ms=2000&pid=${p.pid}`);
      } else if (kind === 6) await ask(`/ready-for-vm?netns=a%2Fb&timeout_ms=0`);
      else if (kind === 7) await ask(i % 2 ? '/metrics' : '/inventory');
      else await ask('/ready-for-vm');
      if (!warm && Date.now() > warmAt) warm = { rss: rssKb(gate.pid!), fds: fdCount(gate.pid!), children: await childCount(gate.pid!) };
    }
  };
  await Promise.all([churner, ...Array.from({ length: 8 }, (_, lane) => waiter(lane))]);
  clearInterval(sampler);
  await sleep(1500); // let the last waits and the churn settle
  const metrics = await (await request(`${base}/metrics`, { dispatcher: agent })).body.text();
  const waiters = Number(/^vmgate_carrier_waiters (\d+)/m.exec(metrics)?.[1] ?? -1);
  const last = { rss: rssKb(gate.pid!), fds: fdCount(gate.pid!), children: await childCount(gate.pid!) };
  const w = warm ?? last;
  const afterWarm = samples.slice(Math.ceil(samples.length * 0.25));
  const floorEarly = Math.min(...afterWarm.slice(0, Math.ceil(afterWarm.length / 2)));
  const floorLate = Math.min(...afterWarm.slice(Math.floor((afterWarm.length * 3) / 4)));
  await agent.close();
  gate.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => gate.once('exit', (c) => r(c)));
  await cleanupAll();
  const result = {
    seconds,
    requests: counts,
    churnBursts: churn,
    rssMb: { warm: w.rss / 1024, end: last.rss / 1024, floorEarly, floorLate, growth: floorLate - floorEarly, every2s: samples.map(Math.round) },
    fds: { warm: w.fds, end: last.fds },
    children: { warm: w.children, end: last.children },
    waitersAtEnd: waiters,
    exitCode: code,
  };
  const problems: string[] = [];
  const rssLimit = Number(process.env.SOAK_RSS_MB ?? 10);
  if (result.rssMb.growth > rssLimit) problems.push(`the RSS floor grew ${result.rssMb.growth.toFixed(1)} MB after warm-up (limit ${rssLimit} MB)`);
  if (waiters !== 0) problems.push(`${waiters} waiters left`);
  if (last.fds > w.fds + 5) problems.push(`fds grew ${w.fds} -> ${last.fds}`);
  if (last.children > Math.max(1, w.children)) problems.push(`children grew ${w.children} -> ${last.children}`);
  if (counts.error) problems.push(`${counts.error} requests failed`);
  if (code !== 0) problems.push(`serve exited ${code}`);
  process.stdout.write(`${JSON.stringify({ ...result, problems })}\n`);
  return problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`soak failed: ${(e as Error).message}`);
    void cleanupAll().then(() => process.exit(1));
  },
);
