import { execa } from 'execa';

export const PREFIX = 'vgtest-bench-';

/** slots per ip -batch: one ip process keeps an fd per namespace it moved a link into (EMFILE near 10,000) */
const BATCH = 2000;

/** Creates slots as the orchestrator makes them (namespace, tap0, veth pair to the host), 2,000 per ip -batch. */
export async function createSlots(from: number, to: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = from; i < to; i += BATCH) names.push(...(await createBatch(i, Math.min(to, i + BATCH))));
  return names;
}

async function createBatch(from: number, to: number): Promise<string[]> {
  const names: string[] = [];
  const lines: string[] = [];
  for (let i = from; i < to; i++) {
    const ns = `${PREFIX}${i}`;
    names.push(ns);
    lines.push(
      `netns add ${ns}`,
      `tuntap add dev vgbt${i} mode tap`,
      `link set vgbt${i} netns ${ns} name tap0`,
      `link add vgbv${i} type veth peer name eth0 netns ${ns}`,
    );
  }
  await execa('ip', ['-batch', '-'], { input: lines.join('\n') + '\n' });
  return names;
}

/** Taps come down when moved into the namespace; carrier needs them up (one ip -n each, only for the ones used). */
export async function tapsUp(names: string[]): Promise<void> {
  for (const ns of names) await execa('ip', ['-n', ns, 'link', 'set', 'tap0', 'up']);
}

export async function removeAll(): Promise<void> {
  const { stdout } = await execa('ip', ['netns', 'list'], { reject: false });
  const names = stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(PREFIX));
  if (names.length) await execa('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n', reject: false });
}

export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}
