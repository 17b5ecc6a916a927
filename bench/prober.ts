import { Agent, request } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Slot answers from a process of their own (bench/slot-space.ts): asked every 5 ms on one connection until stdin
 * closes, then printed as JSON [[epoch ms at the ask, ms to the answer], ...]. In the reading process its answers
 * also waited for that process parsing a 9 MB /inventory, which is not vmgate's stall.
 */
const [url, slots, prefix] = [process.argv[2]!, Number(process.argv[3]), process.argv[4]!];
const agent = new Agent({ connections: 1 });
const out: [number, number][] = [];
let going = true;
process.stdin.on('end', () => (going = false)).resume();
const now = () => performance.timeOrigin + performance.now();
while (going) {
  const t = now();
  const r = await request(`${url}/ready-for-vm?netns=${prefix}${Math.floor(Math.random() * slots)}&timeout_ms=0`, { dispatcher: agent });
  await r.body.text();
  out.push([t, now() - t]);
  await sleep(5);
}
await agent.close();
process.stdout.write(JSON.stringify(out));
