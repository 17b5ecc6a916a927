import { NETNS_DIR } from '../host/named-namespaces.js';
import { requestNsids } from '../host/nsids.js';
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
