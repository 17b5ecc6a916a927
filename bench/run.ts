import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { attacher, holdTap } from './attach.js';
import { busyHost, processCount } from './busy.js';
import { churn, load, scrape, slotAnswers, storm, type Served } from './gate-cases.js';
import { hostConfig } from '../src/config/host-config.js';
import { HOST_OPTIONS, parseOptions } from '../src/config/options.js';
import { takeSnapshot } from '../src/host/snapshot.js';
import { createSlots, PREFIX, quantile, removeAll, tapsUp } from './slots.js';
import { caseWholeSlot } from './whole-slot.js';
import { caseSlotSpace } from './slot-space.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = `${ROOT}dist/src/cli/bin.js`;
const children = new Set<ChildProcess>();
const rows: { case: string; vmgate: string; alternative: string; ratio: string }[] = [];
const results: Record<string, unknown> = {};
const log = (s: string) => process.stderr.write(`${s}\n`);
const hr = () => Number(process.hrtime.bigint()) / 1e6;
const fmt = (x: number, d = 1) => x.toFixed(d);

async function cleanupAll() {
  for (const c of children) c.kill('SIGKILL');
  await removeAll();
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanupAll().then(() => process.exit(130)));
process.on('unhandledRejection', (err) => {
  log(`bench failed: ${(err as Error).message}`);
  void cleanupAll().then(() => process.exit(1));
});

function trackChild(c: ChildProcess): void {
  children.add(c);
  c.once('exit', () => children.delete(c));
}

function spawnTracked(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  trackChild(c);
  return c;
}

async function startServe(cli = CLI, ...extra: string[]): Promise<{ url: string; child: ChildProcess }> {
  // as the Nomad job starts it (nomad/orchestrator.nomad.hcl): V8 sized for a small footprint
  const child = spawnTracked('node', [
    '--max-semi-space-size=2',
    '--optimize-for-size',
    cli,
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--netns-pattern',
    `^${PREFIX}`,
    '--log-level',
    'warn',
    '--max-waiters',
    '4096',
    ...extra,
  ]);
  child.stderr!.resume();
  let port = 0;
  // --log-level warn hides the listening line: ask the kernel which port the process bound
  for (let i = 0; i < 200 && !port; i++) {
    await sleep(25);
    const { stdout } = await execa('ss', ['-ltnpH'], { reject: false });
    const m = new RegExp(`127\\.0\\.0\\.1:(\\d+)\\s.*pid=${child.pid},`).exec(stdout);
    if (m) port = Number(m[1]);
  }
  if (!port) throw new Error('vmgate serve did not listen');
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 400; i++) {
    const r = await fetch(`${url}/healthz`).catch(() => null);
    if (r?.status === 200) return { url, child };
    await sleep(25);
  }
  throw new Error('vmgate serve never became healthy');
}

async function caseScan(counts: number[]) {
  const cfg = hostConfig(parseOptions('bench', ['--netns-pattern', `^${PREFIX}`], HOST_OPTIONS, {}));
  let made = 0;
  const out: Record<string, unknown> = {};
  for (const n of counts) {
    log(`scan: creating slots up to ${n}`);
    await createSlots(made, n);
    made = n;
    await takeSnapshot(cfg); // warm
    const t0 = hr();
    const facts = await takeSnapshot(cfg);
    const ours = hr() - t0;
    if (facts.namespaces.filter((x) => x.owned && x.links).length !== n) throw new Error(`scan saw ${facts.namespaces.length} of ${n}`);
    const t1 = hr();
    for (let i = 0; i < n; i++) await execa('ip', ['-n', `${PREFIX}${i}`, '-j', 'link', 'show']);
    const alt = hr() - t1;
    out[n] = { vmgateMs: ours, vmgateUsPerNs: (ours * 1000) / n, ipLoopMs: alt, ipLoopUsPerNs: (alt * 1000) / n, ratio: alt / ours };
    rows.push({
      case: `scan ${n}`,
      vmgate: `${fmt(ours)} ms (${fmt((ours * 1000) / n, 0)} us/ns)`,
      alternative: `${fmt(alt)} ms (ip -n loop)`,
      ratio: `${fmt(alt / ours)}x`,
    });
  }
  results.scan = out;
}

async function caseCarrier(url: string, slots: string[], pollSlots: string[]) {
  const agent = new Agent({ connections: 4 });
  const a = attacher((c) => trackChild(c));
  const ours: number[] = [];
  for (const ns of slots) {
    let tResp = 0;
    const p = request(`${url}/ready-for-vm?netns=${ns}&timeout_ms=5000`, { dispatcher: agent }).then(async (r) => {
      tResp = hr();
      const body = (await r.body.json()) as { reason: string };
      if (body.reason !== 'carrier-up') throw new Error(`carrier case: ${ns} answered ${body.reason}`);
    });
    await sleep(3); // the waiter is registered before the attach
    const tAttach = await a.attach(ns);
    await p;
    ours.push(tResp - tAttach);
  }
  const alt: number[] = [];
  for (const ns of pollSlots) {
    // the poller runs first; the VMM attaches at a random moment of its 100 ms cycle, as in life
    let seen = 0;
    const poller = (async () => {
      while (!seen) {
        const { stdout } = await execa('ip', ['-n', ns, '-j', 'link', 'show', 'tap0']);
        if (stdout.includes('LOWER_UP')) seen = hr();
        else await sleep(100);
      }
    })();
    await sleep(Math.random() * 100);
    const tAttach = await a.attach(ns);
    await poller;
    alt.push(seen - tAttach);
  }
  a.close();
  await agent.close();
  const r = {
    vmgateP50: quantile(ours, 0.5),
    vmgateP99: quantile(ours, 0.99),
    pollP50: quantile(alt, 0.5),
    pollP99: quantile(alt, 0.99),
    samples: ours.length,
    pollSamples: alt.length,
  };
  results.carrier = { ...r, ratioP50: r.pollP50 / r.vmgateP50 };
  rows.push({
    case: 'carrier attach->200',
    vmgate: `p50 ${fmt(r.vmgateP50, 2)} ms, p99 ${fmt(r.vmgateP99, 2)} ms`,
    alternative: `p50 ${fmt(r.pollP50)} ms, p99 ${fmt(r.pollP99)} ms (poll 100 ms)`,
    ratio: `${fmt(r.pollP50 / r.vmgateP50)}x`,
  });
}

async function caseVmmExit(url: string, slots: string[]) {
  const agent = new Agent({ connections: 2 });
  const lat: number[] = [];
  for (const ns of slots) {
    const vmm = spawnTracked('ip', ['netns', 'exec', ns, 'sleep', '60']);
    await sleep(20);
    let tResp = 0;
    const p = request(`${url}/ready-for-vm?netns=${ns}&timeout_ms=10000&pid=${vmm.pid}`, { dispatcher: agent }).then(async (r) => {
      tResp = hr();
      const b = (await r.body.json()) as { reason: string };
      if (b.reason !== 'vmm-exited') throw new Error(`vmm-exit case: ${b.reason}`);
    });
    await sleep(5);
    const exited = new Promise((r) => vmm.once('exit', r));
    const tKill = hr();
    vmm.kill('SIGKILL');
    await exited;
    await p;
    lat.push(tResp - tKill);
  }
  await agent.close();
  const r = { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), samples: lat.length, envdWaitMs: 10_000 };
  results.vmmExit = { ...r, ratioP50: 10_000 / r.p50 };
  rows.push({
    case: 'vmm-exit ->503',
    vmgate: `p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms`,
    alternative: '10000 ms (envd wait timeout)',
    ratio: `${fmt(10_000 / r.p50, 0)}x`,
  });
}

async function caseGate(url: string) {
  const bare = createServer((_, res) => res.end('{"ready":true}'));
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
  const ours = await load(`${url}/ready-for-vm`);
  const alt = await load(bareUrl);
  bare.close();
  results.gate = { vmgate: ours, bare: alt, ratio: ours.rps / alt.rps };
  rows.push({
    case: 'gate GET /ready-for-vm',
    vmgate: `${fmt(ours.rps, 0)} req/s, p99 ${fmt(ours.p99, 2)} ms`,
    alternative: `${fmt(alt.rps, 0)} req/s, p99 ${fmt(alt.p99, 2)} ms (bare node:http)`,
    ratio: `${fmt((ours.rps / alt.rps) * 100, 0)}% of bare`,
  });
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** RSS now and CPU seconds over 30 s of nothing asked (background work only: index passes, evaluations, leak sweeps) */
async function idleFootprint(child: ChildProcess): Promise<{ rssMb: number; idleCpuSeconds30s: number }> {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
  const c0 = cpuSeconds(child.pid!);
  await sleep(30_000);
  return { rssMb: rssKb / 1024, idleCpuSeconds30s: cpuSeconds(child.pid!) - c0 };
}

async function caseFootprint(child: ChildProcess, slots: number) {
  const f = await idleFootprint(child);
  results.footprint = { slots, ...f, idleCpuPercentOfCore: (f.idleCpuSeconds30s / 30) * 100 };
  rows.push({
    case: `footprint (${slots} slots)`,
    vmgate: `RSS ${fmt(f.rssMb)} MB, ${fmt(f.idleCpuSeconds30s, 2)} CPU s / 30 s idle`,
    alternative: '-',
    ratio: '-',
  });
}

/**
 * Leak tracking's background cost: a fresh serve idle for 30 s with the default --leak-age (a sweep every 30 s)
 * and with --leak-age 1s (a sweep every 250 ms, so a pass over /proc every 5 s: the most it ever does), against
 * the landed build (no leak tracking) idle for the same 30 s.
 */
async function caseLeakSweeps(baseline: string | undefined) {
  const measure = async (cli: string, ...extra: string[]) => {
    const s = await startServe(cli, ...extra);
    await sleep(5000); // past the first pass and the holder index's first fill
    const f = await idleFootprint(s.child);
    s.child.kill('SIGTERM');
    await sleep(500);
    return f;
  };
  const dflt = await measure(CLI);
  const fast = await measure(CLI, '--leak-age', '1s');
  const landed = baseline ? await measure(baseline) : null;
  results.leakSweeps = { defaultLeakAge: dflt, leakAge1s: fast, landed };
  const alt = landed ? `${fmt(landed.idleCpuSeconds30s, 2)} CPU s (landed, no leak tracking)` : '-';
  rows.push({
    case: 'leak tracking, 30 s idle',
    vmgate: `${fmt(dflt.idleCpuSeconds30s, 2)} CPU s (--leak-age 10m), ${fmt(fast.idleCpuSeconds30s, 2)} CPU s (--leak-age 1s)`,
    alternative: alt,
    ratio: landed ? `${fmt(dflt.idleCpuSeconds30s / landed.idleCpuSeconds30s, 2)}x / ${fmt(fast.idleCpuSeconds30s / landed.idleCpuSeconds30s, 2)}x` : '-',
  });
}

async function caseReclaim(n: number) {
  const t0 = hr();
  const r = await execa(
    'node',
    [CLI, 'cleanup', '--json', '--min-age', '0s', '--netns-pattern', `^${PREFIX}`, '--log-level', 'warn', '--orchestrator-comm', 'vgbench-none'],
    { reject: false },
  );
  const ours = hr() - t0;
  const deleted = (JSON.parse(r.stdout).fixed as { action: string }[]).filter((f) => f.action === 'deleted').length;
  if (deleted !== n) throw new Error(`reclaim deleted ${deleted} of ${n}`);
  log(`reclaim: creating ${n} slots again for the alternative`);
  const names = await createSlots(0, n);
  const t1 = hr();
  for (const ns of names) await execa('ip', ['netns', 'del', ns]);
  const alt = hr() - t1;
  results.reclaim = {
    n,
    vmgateMs: ours,
    ipDelLoopMs: alt,
    ratio: alt / ours,
    note: 'vmgate figure is the whole vmgate cleanup command: node start, scan, 200 ms settle, re-verify, ip -batch',
  };
  rows.push({
    case: `reclaim ${n}`,
    vmgate: `${fmt(ours, 0)} ms (vmgate cleanup)`,
    alternative: `${fmt(alt, 0)} ms (ip netns del each)`,
    ratio: `${fmt(alt / ours)}x`,
  });
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => `${PREFIX}${from + i}`);

/** The cases the issue set for the gate under load, against one build (this one, or the landed one as the alternative). */
async function gateUnderLoad(served: Served, label: string) {
  const answersSlot = `${PREFIX}450`;
  const out: Record<string, unknown> = {};
  log(`${label}: slot answers/s, busy host`);
  out.answers = await slotAnswers(served, answersSlot);
  log(`${label}: storm`);
  out.storm = await storm(served, range(500, 200), range(700, 50), answersSlot);
  log(`${label}: scrape`);
  out.scrape = await scrape(served, range(750, 100));
  log(`${label}: churn`);
  out.churn = await churn(served, range(850, 100));
  return out;
}

function stormRows(label: string, r: Record<string, any>, quietRps: number | null) {
  const st = r.storm;
  rows.push({
    case: `${label}slot answers/s (1000 procs)`,
    vmgate: `${fmt(r.answers.rps, 0)}/s, p99 ${fmt(r.answers.p99, 2)} ms`,
    alternative: quietRps ? `${fmt(quietRps, 0)}/s with ~70 processes` : '-',
    ratio: quietRps ? `${fmt((r.answers.rps / quietRps) * 100, 0)}% of quiet` : '-',
  });
  rows.push({
    case: `${label}storm 200 fail + 50 attach`,
    vmgate: `${st.attached200}/50 200, attach p99 ${fmt(st.attachP99, 1)} ms, late max ${fmt(st.failingLateMaxMs, 0)} ms`,
    alternative: `loop p99 ${fmt(st.loopDelayP99Ms, 1)} ms, max ${fmt(st.loopDelayMaxMs, 0)} ms, children <= ${st.mostChildren}`,
    ratio: `${fmt(st.answersPerSecondAfter, 0)}/s after`,
  });
  rows.push({
    case: `${label}scrape (every 100 ms)`,
    vmgate: `carrier p99 ${fmt(r.scrape.carrierP99, 2)} ms`,
    alternative: `scrape p50 ${fmt(r.scrape.scrapeP50Ms, 1)} ms (${r.scrape.scrapes})`,
    ratio: '-',
  });
  rows.push({
    case: `${label}churn 1000 add+del`,
    vmgate: `carrier p99 ${fmt(r.churn.carrierP99, 1)} ms, max ${fmt(r.churn.carrierMax, 1)} ms`,
    alternative: `bursts ${r.churn.burstMs.map((x: number) => fmt(x, 0)).join('/')} ms, ${r.churn.samples} samples`,
    ratio: '-',
  });
}

function printRows() {
  const w = [34, 58, 58, 16];
  log('');
  process.stdout.write(`${['case', 'vmgate', 'alternative', 'ratio'].map((h, i) => h.padEnd(w[i]!)).join(' ')}\n`);
  for (const r of rows) process.stdout.write(`${[r.case, r.vmgate, r.alternative, r.ratio].map((c, i) => c.padEnd(w[i]!)).join(' ')}\n`);
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (it creates namespaces)');
  await removeAll();
  const N = Number(process.env.BENCH_SLOTS ?? 1000);
  const slotsAt = process.argv.indexOf('--slots');
  if (slotsAt > 0) {
    // the whole slot space (opt-in): its figures go into bench/results.json's slotSpace, the rest kept as it is
    const n = Number(process.argv[slotsAt + 1]);
    if (!Number.isInteger(n) || n < 1 || n > 32_766) throw new Error('--slots takes a slot count from 1 to 32766');
    const space: Record<string, unknown> = {};
    await caseSlotSpace(CLI, n, trackChild, rows, space);
    printRows();
    const file = `${ROOT}bench/results.json`;
    const old = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
    old.slotSpace = { ...(old.slotSpace ?? {}), ...space };
    writeFileSync(file, `${JSON.stringify(old)}\n`);
    process.stdout.write(`${JSON.stringify(space)}\n`);
    return;
  }
  if (process.env.BENCH_ONLY === 'whole-slot') {
    // the issue-20 cases alone (results printed, bench/results.json left as it is)
    await caseWholeSlot(CLI, N, rows, results);
    printRows();
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }
  const BUSY = Number(process.env.BENCH_PROCESSES ?? 1000);
  const baseline = process.env.BENCH_BASELINE; // dist/src/cli/bin.js of the landed build, the alternative
  const counts = [100, 500, 1000].filter((c) => c <= N);
  await caseScan(counts);
  log('taps up for the gate cases');
  const carrierSlots = range(0, 200);
  const pollSlots = range(200, 200);
  const exitSlots = range(400, 50);
  await tapsUp([...carrierSlots, ...pollSlots, ...exitSlots, ...range(450, 1), ...range(500, 450)]);
  const holder = await holdTap(`${PREFIX}450`, trackChild);
  const serve = await startServe();
  const served: Served = { ...serve, track: trackChild };
  log(`slot answers/s with ${processCount()} processes (quiet)`);
  const quiet = await slotAnswers(served, `${PREFIX}450`);
  results.quietAnswers = { processes: processCount(), ...quiet };
  log(`busy host: ${BUSY} more processes with 10 fds each`);
  const busy = await busyHost(BUSY);
  results.busyProcesses = processCount();
  log('carrier: 200 attaches against the gate, 200 against 100 ms polling');
  await caseCarrier(serve.url, carrierSlots, pollSlots);
  log('vmm-exit: 50 exits');
  await caseVmmExit(serve.url, exitSlots);
  log('gate: 2 x 10 s of load');
  await caseGate(serve.url);
  const ours = await gateUnderLoad(served, 'vmgate');
  results.underLoad = ours;
  stormRows('', ours, quiet.rps);
  log('footprint: 30 s idle');
  await caseFootprint(serve.child, N);
  serve.child.kill('SIGTERM');
  await sleep(500);
  if (baseline) {
    log(`the landed build (${baseline}) under the same load`);
    const old = await startServe(baseline);
    const r = await gateUnderLoad({ ...old, track: trackChild }, 'landed');
    results.landedUnderLoad = r;
    stormRows('landed: ', r, null);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${old.child.pid}/status`, 'utf8'))![1]) / 1024;
    results.landedRssMb = rss;
    old.child.kill('SIGTERM');
    await sleep(500);
  }
  log('leak tracking: 30 s idle, default and --leak-age 1s, and the landed build');
  await caseLeakSweeps(baseline);
  holder.kill('SIGKILL');
  log('whole-process inventory at 1000 slots, busy host');
  const ti = hr();
  await execa('node', [CLI, 'inventory', '--json', '--netns-pattern', `^${PREFIX}`, '--log-level', 'warn']);
  const invMs = hr() - ti;
  results.inventoryWholeProcessMs = invMs;
  rows.push({ case: 'inventory --json (process)', vmgate: `${fmt(invMs, 0)} ms whole process`, alternative: '-', ratio: '-' });
  await busy.stop();
  for (const c of children) c.kill('SIGKILL'); // the attachers keep taps busy: end them before reclaiming
  await sleep(200);
  await caseReclaim(N);
  await caseWholeSlot(CLI, N, rows, results);
  printRows();
  const json = JSON.stringify({
    machine: { cores: (await import('node:os')).cpus().length, node: process.version, kernel: (await import('node:os')).release() },
    ...results,
  });
  writeFileSync(`${ROOT}bench/results.json`, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

main()
  .then(() => cleanupAll())
  .catch(async (err) => {
    log(`bench failed: ${(err as Error).message}`);
    await cleanupAll();
    process.exit(1);
  });
