import type { HostConfig } from '../config/host-config.js';
import type { HostFacts } from '../host/types.js';
import type { CheckResult } from './types.js';

export function checkNetnsCapacity(facts: HostFacts, config: HostConfig): CheckResult {
  const total = facts.namespaces.length;
  const owned = facts.namespaces.filter((n) => n.owned).length;
  const limit = facts.maxNamespaces;
  const details = { total, owned, limit, limitSource: facts.maxNamespacesSource, warnAt: limit === null ? null : Math.ceil(limit * config.capacityWarn) };
  if (limit === null) {
    return { id: 'netns-capacity', status: 'warn', message: `${total} named namespaces; the kernel limit could not be read: pass --max-namespaces`, details };
  }
  const pct = Math.round((total / limit) * 100);
  if (total >= limit) {
    return {
      id: 'netns-capacity',
      status: 'fail',
      message: `${total} named namespaces reach the limit of ${limit} (${owned} are slots): remove leftovers ('vmgate cleanup') or raise user.max_net_namespaces`,
      details,
    };
  }
  if (total >= details.warnAt!) {
    return {
      id: 'netns-capacity',
      status: 'warn',
      message: `${total} named namespaces are ${pct}% of the limit of ${limit} (${owned} are slots): remove leftovers ('vmgate cleanup') before new slots fail`,
      details,
    };
  }
  return { id: 'netns-capacity', status: 'pass', message: `${total} named namespaces of a limit of ${limit} (${owned} are slots)`, details };
}
