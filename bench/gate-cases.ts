import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { attacher } from './attach.js';
import { quantile } from './slots.js';
import type { ChildProcess } from 'node:child_process';

const ROOT = new URL('../..', import.meta.url).pathname;
const hr = () => Number(process.hrtime.bigint()) / 1e6;

export interface Served {
  url: string;
  child: ChildProcess;
  track: (c: ChildProcess) => void;
}

export interface Load {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  reasons: Record<string, { count: number; error: string }>;
  rps: number;
  p50: number;
  p99: number;
}

export async function load(url: string, connections = 32, ms = 10_000): Promise<Load> {
  const { stdout } = await execa('node', [`${ROOT}dist/bench/load.js`, url, String(connections), String(ms)]);
  return JSON.parse(stdout) as Load;
}

/** The gate's own event-loop delay since its previous scrape (seconds -> ms), from its /metrics. */
export async function loopDelay(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (q: string) => Number(new RegExp(`^vmgate_event_loop_delay_${q}_seconds (\\S+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: get('p99'), max: get('max') };
}

/** Child processes of the gate right now (every thread's children). */
function childrenOf(pid: number): number {
  let n = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const c = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (c) n += c.split(/\s+/).length;
    }
  } catch {
    /* gone */
  }
  return n;
}

/** Carrier-up answers per second on one slot whose tap a process inside holds (timeout_ms=0, 32 connections). */
export async function slotAnswers(s: Served, slot: string, ms = 10_000): Promise<Load> {
  // healthz is 200 once the watcher runs; the slot's links are loaded in the background after that, and until then
  // an answer with timeout_ms=0 is a correct 503 starting (two of 45,000 were, in one run): measure from its first 200
  const until = performance.now() + 30_000;
  while ((await fetch(`${s.url}/ready-for-vm?netns=${slot}&timeout_ms=0`).then(async (r) => (await r.text(), r.status))) !== 200) {
    if (performance.now() > until) throw new Error(`slot answers: ${slot} did not answer 200 within 30 s`);
    await sleep(50);
  }
  const r = await load(`${s.url}/ready-for-vm?netns=${slot}&timeout_ms=0`, 32, ms);
  if (Object.keys(r.statuses).some((k) => k !== '200'))
    throw new Error(`slot answers: statuses ${JSON.stringify(r.statuses)}, reasons ${JSON.stringify(r.reasons)}`);
  return r;
}

/**
 * 200 waits on slots that never get carrier (timeout_ms=2000) and 50 whose taps are attached during the storm.
 * Reports attach->200, how late the failing answers came, the gate's loop delay, the most child processes at once,
 * and the slot answer rate right after.
 */
export async function storm(s: Served, failSlots: string[], attachSlots: string[], answerSlot: string) {
  const agent = new Agent({ connections: 400 });
  const a = attacher(s.track);
  // the first scrape starts a process pass (reused for 5 s); the second, once it is done, resets the delay histogram:
  // the window below is the storm's alone (the scrape case measures scrapes)
  await loopDelay(s.url);
  await sleep(1500);
  await loopDelay(s.url);
  let mostChildren = 0;
  const sampler = setInterval(() => (mostChildren = Math.max(mostChildren, childrenOf(s.child.pid!))), 10);
  const ask = (ns: string, timeoutMs: number) => {
    const t0 = hr();
    return request(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=${timeoutMs}`, { dispatcher: agent, headersTimeout: 120_000, bodyTimeout: 120_000 }).then(
      async (r) => {
        const at = hr();
        const body = (await r.body.json()) as { reason: string; waitedMs: number };
        return { status: r.statusCode, reason: body.reason, at, sent: t0, waitedMs: body.waitedMs };
      },
    );
  };
  const t0 = hr();
  const failing = failSlots.map((ns) => ask(ns, 2000));
  const attaching = attachSlots.map((ns) => ask(ns, 10_000));
  await sleep(50);
  const attachedAt: number[] = [];
  for (const ns of attachSlots) {
    attachedAt.push(await a.attach(ns));
    await sleep(25);
  }
  const ok = await Promise.all(attaching);
  const failed = await Promise.all(failing);
  const stormMs = hr() - t0;
  clearInterval(sampler);
  const delay = await loopDelay(s.url);
  const after = await slotAnswers(s, answerSlot, 2000);
  a.close();
  await agent.close();
  const attachLat = ok.map((r, i) => r.at - attachedAt[i]!);
  const late = failed.map((r) => r.at - r.sent - 2000);
  return {
    attached200: ok.filter((r) => r.status === 200 && r.reason === 'carrier-up').length,
    attachP50: quantile(attachLat, 0.5),
    attachP99: quantile(attachLat, 0.99),
    failingReasons: [...new Set(failed.map((r) => r.reason))],
    failingLateMaxMs: Math.max(...late),
    // as the gate itself measured it (waitedMs): the client's own share of a 2-core machine left out
    failingLateMaxGateMs: Math.max(...failed.map((r) => r.waitedMs - 2000)),
    loopDelayP99Ms: delay.p99,
    loopDelayMaxMs: delay.max,
    mostChildren,
    stormMs,
    answersPerSecondAfter: after.rps,
  };
}

/** Carrier attach->200 while /metrics and /inventory are read every 100 ms. */
export async function scrape(s: Served, slots: string[]) {
  const agent = new Agent({ connections: 4 });
  const a = attacher(s.track);
  let scraping = true;
  const scrapeMs: number[] = [];
  const scraper = (async () => {
    while (scraping) {
      const t0 = hr();
      await Promise.all([fetch(`${s.url}/metrics`).then((r) => r.text()), fetch(`${s.url}/inventory`).then((r) => r.text())]);
      scrapeMs.push(hr() - t0);
      await sleep(100);
    }
  })();
  const lat: number[] = [];
  for (const ns of slots) {
    const p = request(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=5000`, { dispatcher: agent }).then(async (r) => {
      const at = hr();
      const b = (await r.body.json()) as { reason: string };
      if (b.reason !== 'carrier-up') throw new Error(`scrape case: ${ns} answered ${b.reason}`);
      return at;
    });
    await sleep(10);
    const t = await a.attach(ns);
    lat.push((await p) - t);
    await sleep(20);
  }
  scraping = false;
  await scraper;
  a.close();
  await agent.close();
  return { carrierP50: quantile(lat, 0.5), carrierP99: quantile(lat, 0.99), scrapes: scrapeMs.length, scrapeP50Ms: quantile(scrapeMs, 0.5) };
}

/**
 * 1,000 other namespaces created and deleted in one burst (one ip -batch) while slots' taps are attached one
 * after another: attach->200 during the burst. Its maximum bounds how far the watcher fell behind the kernel.
 */
/** serve's event-loop delay since its previous scrape, and its GC pauses so far (prom-client's histogram, all kinds) */
export async function loopAndGc(url: string): Promise<{ loopMaxMs: number; gcMs: number; gcOver10Ms: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const count = sum(/^nodejs_gc_duration_seconds_count\{[^}]*\} (\S+)/gm);
  return {
    loopMaxMs: Number(/^vmgate_event_loop_delay_max_seconds (\S+)/m.exec(text)?.[1] ?? NaN) * 1000,
    gcMs: sum(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)/gm) * 1000,
    gcOver10Ms: count - sum(/^nodejs_gc_duration_seconds_bucket\{le="0.01"[^}]*\} (\S+)/gm),
  };
}

export async function churn(s: Served, slots: string[], bursts = 3) {
  const agent = new Agent({ connections: 4 });
  const a = attacher(s.track);
  const lat: number[] = [];
  const burstMs: number[] = [];
  // per burst: its slowest carrier answer beside serve's own loop delay and GC pauses over it (what a slow one waited on)
  const perBurst: { carrierMaxMs: number; loopMaxMs: number; gcMs: number; gcOver10Ms: number }[] = [];
  let next = 0;
  for (let b = 0; b < bursts; b++) {
    const before = await loopAndGc(s.url);
    const from = lat.length;
    const lines = [
      ...Array.from({ length: 1000 }, (_, i) => `netns add vgtest-churn-${i}`),
      ...Array.from({ length: 1000 }, (_, i) => `netns del vgtest-churn-${i}`),
    ];
    const t0 = hr();
    const batch = execa('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, reject: false }).then(() => burstMs.push(hr() - t0));
    let done = false;
    void batch.then(() => (done = true));
    while (!done && next < slots.length) {
      const ns = slots[next++]!;
      const p = request(`${s.url}/ready-for-vm?netns=${ns}&timeout_ms=5000`, { dispatcher: agent }).then(async (r) => {
        const at = hr();
        const body = (await r.body.json()) as { reason: string };
        if (body.reason !== 'carrier-up') throw new Error(`churn case: ${ns} answered ${body.reason}`);
        return at;
      });
      await sleep(5);
      const t = await a.attach(ns);
      lat.push((await p) - t);
      await sleep(10);
    }
    await batch;
    await sleep(500);
    const after = await loopAndGc(s.url);
    perBurst.push({
      carrierMaxMs: Math.max(0, ...lat.slice(from)),
      loopMaxMs: after.loopMaxMs,
      gcMs: after.gcMs - before.gcMs,
      gcOver10Ms: after.gcOver10Ms - before.gcOver10Ms,
    });
  }
  a.close();
  await agent.close();
  return { samples: lat.length, carrierP50: quantile(lat, 0.5), carrierP99: quantile(lat, 0.99), carrierMax: Math.max(...lat), burstMs, perBurst };
}
