import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const ROOT = new URL('../..', import.meta.url).pathname;

/** A helper process that attaches taps on command and says when TUNSETIFF returned (ms, CLOCK_MONOTONIC). */
export function attacher(track: (c: ChildProcess) => void): { attach: (ns: string) => Promise<number>; close: () => void } {
  const c = spawn('python3', [`${ROOT}bench/attacher.py`], { stdio: ['pipe', 'pipe', 'pipe'] });
  track(c);
  const rl = createInterface({ input: c.stdout });
  const waiting: ((s: string) => void)[] = [];
  rl.on('line', (l) => waiting.shift()?.(l));
  const ask = (cmd: string) =>
    new Promise<string>((r) => {
      waiting.push(r);
      c.stdin.write(`${cmd}\n`);
    });
  return { attach: async (ns) => Number((await ask(`attach ${ns} tap0`)).split(' ')[0]) / 1e6, close: () => c.kill('SIGKILL') };
}

/** A VMM stand-in inside the slot's namespace holding its tap (test/fixtures/tap-holder.py). */
export async function holdTap(ns: string, track: (c: ChildProcess) => void): Promise<ChildProcess> {
  const c = spawn('ip', ['netns', 'exec', ns, 'python3', `${ROOT}test/fixtures/tap-holder.py`, 'tap0', 'firecracker'], { stdio: ['ignore', 'pipe', 'ignore'] });
  track(c);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: c.stdout }).once('line', (l) => (l === 'attached' ? resolve() : reject(new Error(`tap holder in ${ns}: ${l}`))));
  });
  return c;
}
