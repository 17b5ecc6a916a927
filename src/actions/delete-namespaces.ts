import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { NETNS_DIR } from '../host/named-namespaces.js';

/** Names that ip's batch parser reads back as one word: anything else is never fed to it. */
export const SAFE_NETNS_NAME = /^[A-Za-z0-9._@:+-]{1,255}$/;

/**
 * Which batch line each error belongs to: with -force, ip prints the command's own error lines, then
 * `Command failed -:LINE`. Returns line number (1-based) -> the error text.
 */
export function attributeBatchErrors(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)\s*$/.exec(line);
    if (m) {
      out.set(Number(m[1]), pending.join('; ') || 'failed');
      pending = [];
    } else if (line.trim() !== '') {
      pending.push(line.trim());
    }
  }
  return out;
}

/**
 * Deletes namespaces with one `ip -force -batch -` (11 ms for 150 names, against 385 ms for 150 processes).
 * Returns, per name, null when it is gone or the error ip printed for exactly that name's line.
 */
export async function deleteNamespaces(names: string[], dir = NETNS_DIR): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (names.length === 0) return out;
  const input = names.map((n) => `netns del ${n}\n`).join('');
  const r = await execa('ip', ['-force', '-batch', '-'], { input, reject: false, timeout: 60_000 });
  const errors = attributeBatchErrors(r.stderr ?? '');
  names.forEach((n, i) => {
    const gone = !existsSync(`${dir}/${n}`);
    const err = errors.get(i + 1) ?? (r.timedOut ? 'ip -batch timed out' : `still present after ip -batch (exit ${r.exitCode})`);
    out.set(n, gone ? null : err);
  });
  return out;
}
