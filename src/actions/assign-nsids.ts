import { execa } from 'execa';
import { SAFE_NETNS_NAME } from './delete-namespaces.js';

/**
 * `ip netns set NAME auto` for namespaces without an id, in one `ip -batch`: a namespace without an nsid is
 * invisible to the all-nsid monitor and to the targeted link dump. The orchestrator's veth gives one anyway;
 * this only covers slots that have no veth (yet).
 */
export async function assignNsids(names: string[]): Promise<void> {
  const safe = names.filter((n) => SAFE_NETNS_NAME.test(n));
  if (safe.length === 0) return;
  await execa('ip', ['-force', '-batch', '-'], { input: safe.map((n) => `netns set ${n} auto\n`).join(''), reject: false, timeout: 30_000 });
}
