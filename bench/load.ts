import { Pool } from 'undici';

/** Load generator, run in its own process: N keep-alive connections hammering one URL for D ms. Prints JSON. */
const [url, connections, durationMs] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const u = new URL(url);
const pool = new Pool(u.origin, { connections, pipelining: 1 });
const lat: number[] = [];
let errors = 0;
const statuses: Record<number, number> = {};
/** for answers other than 200: how many of each reason, and the first error text of each */
const reasons: Record<string, { count: number; error: string }> = {};
const end = performance.now() + durationMs;
async function worker() {
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const r = await pool.request({ path: u.pathname + u.search, method: 'GET' });
      statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
      if (r.statusCode === 200) await r.body.dump();
      else {
        const text = await r.body.text();
        let body: { reason?: string; error?: string } = {};
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          body = { error: text.slice(0, 200) };
        }
        const key = `${r.statusCode} ${body.reason ?? '?'}`;
        (reasons[key] ??= { count: 0, error: body.error ?? '' }).count++;
      }
      lat.push(performance.now() - t0);
    } catch {
      errors++;
    }
  }
}
await Promise.all(Array.from({ length: connections }, worker));
await pool.close();
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
process.stdout.write(JSON.stringify({ requests: lat.length, errors, statuses, reasons, rps: lat.length / (durationMs / 1000), p50: q(0.5), p99: q(0.99) }));
