import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { churn, loopAndGc, type Served } from './gate-cases.js';
import { createSlots, PREFIX, quantile, tapsUp } from './slots.js';

/**
 * The whole slot space (issue 24, opt-in: `npm run bench -- --slots 32766`): slots made as the orchestrator makes
 * them (namespace, tap0, veth to the host), then at 1,000 and at N: `inventory --json` as a whole process, serve's
 * start, its idle CPU once settled and its RSS; at N also slot answers, /metrics, /inventory read while slot
 * answers go on, and churn bursts. Serve runs with its defaults (slot layout e2b-v1, leak tracking), as a new user
 * would start it.
 */

const hr = () => Number(process.hrtime.bigint()) / 1e6;
const fmt = (x: number, d = 1) => x.toFixed(d);
type Row = { case: string; vmgate: string; alternative: string; ratio: string };

function cpuSeconds(pid: number, task = ''): number {
  const f = readFileSync(`/proc/${pid}${task}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const statusKb = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `cmd` as a whole process: wall time and peak RSS (the child's rusage, read by python3 after it exits) */
async function wholeProcess(cmd: string[]): Promise<{ ms: number; maxRssMb: number }> {
  const py =
    'import resource,subprocess,sys,time\nt=time.monotonic()\nr=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)\nd=time.monotonic()-t\nif r.returncode not in (0,1): sys.exit(3)\nprint(d*1000, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  const { stdout } = await execa('python3', ['-c', py, ...cmd]);
  const [ms, kb] = stdout.trim().split(' ').map(Number);
  return { ms: ms!, maxRssMb: kb! / 1024 };
}

interface Started {
  url: string;
  child: ChildProcess;
  firstAnswerMs: number;
  firstOkMs: number;
}

/** serve as the Nomad job starts it; first answer and first 200 on GET /ready-for-vm, timed from the spawn */
async function startServe(cli: string, track: (c: ChildProcess) => void): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const t0 = hr();
  const child = spawn(
    'node',
    ['--max-semi-space-size=2', '--optimize-for-size', cli, 'serve', '--listen', `127.0.0.1:${port}`, '--netns-pattern', `^${PREFIX}`, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  track(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let firstAnswerMs = 0;
  while (hr() - t0 < 120_000) {
    if (child.exitCode !== null) break;
    const r = await fetch(`${url}/ready-for-vm`).catch(() => null);
    if (r) {
      await r.text();
      firstAnswerMs ||= hr() - t0;
      if (r.status === 200) return { url, child, firstAnswerMs, firstOkMs: hr() - t0 };
    }
    await sleep(10);
  }
  child.kill('SIGKILL');
  throw new Error(`serve never answered 200 within 120 s (exit ${child.exitCode}, signal ${child.signalCode}): ${stderr}`);
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
}

/** until every slot's links were read (vmgate_slot_links_unread 0), from the spawn */
async function linksRead(s: Started, t0: number): Promise<number> {
  while ((await metric(s.url, 'vmgate_slot_links_unread')) !== 0) await sleep(250);
  return hr() - t0;
}

/** CPU seconds of each thread of `pid` (the main thread's id is the pid) */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), cpuSeconds(pid, `/task/${tid}`));
    } catch {
      // a thread gone since the listing
    }
  }
  return out;
}

async function idle(child: ChildProcess, seconds: number) {
  const pid = child.pid!;
  const c0 = cpuSeconds(pid);
  const t0 = threadCpu(pid);
  await sleep(seconds * 1000);
  const t1 = threadCpu(pid);
  const pct = (s: number) => (s / seconds) * 100;
  const main = pct((t1.get(pid) ?? 0) - (t0.get(pid) ?? 0));
  let others = 0;
  for (const [tid, s] of t1) if (tid !== pid) others += s - (t0.get(tid) ?? 0);
  return {
    idleCpuPercentOfCore: pct(cpuSeconds(pid) - c0),
    // where it went: the JavaScript thread, and the rest (V8's GC helpers, libuv's thread pool for file reads)
    idleMainThreadPercent: main,
    idleOtherThreadsPercent: pct(others),
    rssMb: statusKb(child.pid!, 'VmRSS') / 1024,
    peakRssMb: statusKb(child.pid!, 'VmHWM') / 1024,
  };
}

/** sequential slot answers on random slots (timeout_ms=0: the taps are down, so 409 iface-admin-down, judged now) */
async function slotAnswers(url: string, n: number, count = 1000) {
  const agent = new Agent({ connections: 1 });
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const ns = `${PREFIX}${Math.floor(Math.random() * n)}`;
    const t = hr();
    const r = await request(`${url}/ready-for-vm?netns=${ns}&timeout_ms=0`, { dispatcher: agent });
    await r.body.text();
    if (r.statusCode >= 500) throw new Error(`slot answer for ${ns}: ${r.statusCode}`);
    lat.push(hr() - t);
  }
  await agent.close();
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: Math.max(...lat) };
}

async function scrapes(url: string, count = 20) {
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = hr();
    await (await fetch(`${url}/metrics`)).text();
    lat.push(hr() - t);
    await sleep(50);
  }
  return { p50: quantile(lat, 0.5), max: Math.max(...lat) };
}

/**
 * GET /inventory read whole, first byte timed, while slot answers are asked every 5 ms from another process
 * (bench/prober.ts); the answers that overlapped a read are the ones counted. Serve's own event-loop delay during
 * each read comes from its /metrics (vmgate_event_loop_delay_max_seconds, reset at every scrape): what vmgate held,
 * apart from two clients sharing this machine's cores with it.
 */
async function inventoryReads(url: string, n: number, reads = 5) {
  const first: number[] = [];
  const whole: number[] = [];
  const loopMax: number[] = [];
  const spans: [number, number][] = [];
  const gc: { loopMaxMs: number; gcMs: number; gcOver10Ms: number }[] = [];
  let bytes = 0;
  const prober = spawn('node', [fileURLToPath(new URL('./prober.js', import.meta.url)), url, String(n), PREFIX], { stdio: ['pipe', 'pipe', 'inherit'] });
  let probed = '';
  prober.stdout.on('data', (d: Buffer) => (probed += d.toString()));
  const probes = new Promise<[number, number][]>((resolve, reject) =>
    prober.once('exit', (code) => (code === 0 ? resolve(JSON.parse(probed) as [number, number][]) : reject(new Error(`prober exited ${code}`)))),
  );
  await sleep(300);
  for (let i = 0; i < reads; i++) {
    const before = await loopAndGc(url);
    const t = hr();
    const at = performance.timeOrigin + performance.now();
    const r = await request(`${url}/inventory`);
    let got = 0;
    for await (const chunk of r.body) {
      if (got === 0) first.push(hr() - t);
      got += (chunk as Buffer).length;
    }
    whole.push(hr() - t);
    spans.push([at, at + (hr() - t)]);
    const after = await loopAndGc(url);
    loopMax.push(after.loopMaxMs);
    // serve's GC while this read ran (and the two scrapes around it): a long pause here is the loop's delay
    gc.push({ loopMaxMs: after.loopMaxMs, gcMs: after.gcMs - before.gcMs, gcOver10Ms: after.gcOver10Ms - before.gcOver10Ms });
    bytes = got;
    await sleep(200);
  }
  prober.stdin.end();
  const answers = await probes;
  const during = answers.filter(([t, d]) => spans.some(([s, e]) => t + d >= s && t <= e)).map(([, d]) => d);
  return {
    firstByteMaxMs: Math.max(...first),
    wholeP50Ms: quantile(whole, 0.5),
    bytes,
    answersDuring: during.length,
    answerDuringMaxMs: Math.max(...during),
    serveLoopDelayMaxMs: Math.max(...loopMax),
    perRead: gc,
    answersOtherwiseMaxMs: Math.max(...answers.filter(([t, d]) => !spans.some(([s, e]) => t + d >= s && t <= e)).map(([, d]) => d)),
  };
}

export async function caseSlotSpace(cli: string, n: number, track: (c: ChildProcess) => void, rows: Row[], results: Record<string, unknown>) {
  const sizes = n > 1000 ? [1000, n] : [n];
  const out: Record<string, unknown> = {};
  let made = 0;
  for (const size of sizes) {
    const tc = hr();
    await createSlots(made, size);
    const creationS = (hr() - tc) / 1000;
    process.stderr.write(`slot space: ${size} slots (made ${size - made} in ${fmt(creationS, 0)} s)\n`);
    made = size;
    // three runs, the median reported: one run alone swung 1.6-2.0 s at 10,000 (two cores shared by node and its readers)
    const invRuns: { ms: number; maxRssMb: number }[] = [];
    for (let i = 0; i < 3; i++) invRuns.push(await wholeProcess(['node', cli, 'inventory', '--json', '--netns-pattern', `^${PREFIX}`, '--log-level', 'warn']));
    const inv = { ...[...invRuns].sort((a, b) => a.ms - b.ms)[1]!, runsMs: invRuns.map((r) => Math.round(r.ms)) };
    const t0 = hr();
    const s = await startServe(cli, track);
    const linksReadMs = await linksRead(s, t0);
    await sleep(30_000); // past the one-time re-judging once links are read, and the first leak sweep
    const still = await idle(s.child, 60);
    // V8's heap in use (what the slots hold, apart from code, malloc and garbage not yet collected)
    const heapSettledMb = (await metric(s.url, 'nodejs_heap_size_used_bytes')) / 1048576;
    const r: Record<string, unknown> = {
      creationS,
      inventoryWholeProcess: inv,
      firstAnswerMs: s.firstAnswerMs,
      firstOkMs: s.firstOkMs,
      linksReadMs,
      ...still,
      heapSettledMb,
    };
    if (size === n) {
      process.stderr.write('slot space: slot answers, /metrics, /inventory, churn\n');
      r.slotAnswers = await slotAnswers(s.url, n);
      r.metrics = await scrapes(s.url);
      r.inventory = await inventoryReads(s.url, n);
      await tapsUp(Array.from({ length: 100 }, (_, i) => `${PREFIX}${i}`));
      const served: Served = { url: s.url, child: s.child, track };
      const c = await churn(
        served,
        Array.from({ length: 100 }, (_, i) => `${PREFIX}${i}`),
      );
      r.churn = c;
      r.rssAfterRequestsMb = statusKb(s.child.pid!, 'VmRSS') / 1024;
      r.heapAfterRequestsMb = (await metric(s.url, 'nodejs_heap_size_used_bytes')) / 1048576;
    }
    s.child.kill('SIGTERM');
    await new Promise((res) => s.child.once('exit', res));
    out[size] = r;
    rows.push({
      case: `slot space ${size}: start`,
      vmgate: `first 200 ${fmt(s.firstOkMs / 1000, 2)} s, links read ${fmt(linksReadMs / 1000, 1)} s`,
      alternative: `inventory --json ${fmt(inv.ms / 1000, 2)} s (median of ${inv.runsMs.join(', ')} ms), ${fmt(inv.maxRssMb, 0)} MB`,
      ratio: '-',
    });
    rows.push({
      case: `slot space ${size}: idle`,
      vmgate: `${fmt(still.idleCpuPercentOfCore, 2)}% of a core over 60 s (main thread ${fmt(still.idleMainThreadPercent, 2)}%, others ${fmt(still.idleOtherThreadsPercent, 2)}%)`,
      alternative: `RSS ${fmt(still.rssMb, 0)} MB`,
      ratio: '-',
    });
  }
  const big = out[n] as Record<string, any>;
  if (sizes.length > 1) {
    const small = out[1000] as Record<string, any>;
    big.idleRatioVs1000 = big.idleCpuPercentOfCore / small.idleCpuPercentOfCore;
    rows.push({
      case: `slot space idle ${n} vs 1000`,
      vmgate: `${fmt(big.idleCpuPercentOfCore, 2)}%`,
      alternative: `${fmt(small.idleCpuPercentOfCore, 2)}%`,
      ratio: `${fmt(big.idleRatioVs1000, 2)}x`,
    });
  }
  rows.push({
    case: `slot space ${n}: requests`,
    vmgate: `answer p99 ${fmt(big.slotAnswers.p99, 2)} ms, /metrics max ${fmt(big.metrics.max, 0)} ms`,
    alternative: `/inventory first byte ${fmt(big.inventory.firstByteMaxMs, 1)} ms, answer during max ${fmt(big.inventory.answerDuringMaxMs, 1)} ms (serve's loop held ${fmt(big.inventory.serveLoopDelayMaxMs, 1)} ms)`,
    ratio: `churn max ${fmt(big.churn.carrierMax, 0)} ms`,
  });
  results[n] = out;
}
