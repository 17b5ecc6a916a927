import { NETNS_DIR } from '../host/named-namespaces.js';
import { closeSync, constants, openSync } from 'node:fs';
import { createNetlink } from '../host/netlink.js';
import { nsidMessage, RTM_NEWNSID } from '../host/nsids.js';
import { SAFE_NETNS_NAME } from './delete-namespaces.js';

/**
 * Gives namespaces without an id one (RTM_NEWNSID through netlink, as `ip netns set NAME auto`): a namespace
 * without an nsid is invisible to the all-nsid monitor and to the targeted link dump. The orchestrator's veth
 * gives one anyway; this only covers slots that have no veth (yet). Returns the names that could not get one.
 */
export async function assignNsids(names: string[], dir = NETNS_DIR): Promise<Map<string, string>> {
  const safe = names.filter((n) => SAFE_NETNS_NAME.test(n));
  const failed = new Map<string, string>();
  for (const [name, err] of await requestNsids(safe, dir)) if (err) failed.set(name, err.message);
  return failed;
}

/** Has the kernel give each namespace an nsid (RTM_NEWNSID, nsid -1 = pick one), as `ip netns set NAME auto`. */
async function requestNsids(names: string[], dir: string): Promise<Map<string, Error | null>> {
  const out = new Map<string, Error | null>();
  if (names.length === 0) return out;
  const sock = createNetlink(0);
  try {
    for (const name of names) {
      let fd: number;
      try {
        fd = openSync(`${dir}/${name}`, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (err) {
        out.set(name, err as Error);
        continue;
      }
      try {
        await sock.request(RTM_NEWNSID, nsidMessage(fd, -1), { timeout: 2000 });
        out.set(name, null);
      } catch (err) {
        out.set(name, err as Error);
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    sock.close();
  }
  return out;
}
