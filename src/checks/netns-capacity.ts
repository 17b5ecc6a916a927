import type { HostConfig } from '../config/host-config.js';
import type { HostFacts } from '../host/types.js';
import type { CheckResult } from './types.js';

export interface NamespaceCount {
  total: number;
  owned: number;
  limit: number | null;
  limitSource: HostFacts['maxNamespacesSource'];
}

export function countNamespaces(facts: HostFacts): NamespaceCount {
  return {
    total: facts.namespaces.length,
    owned: facts.namespaces.filter((n) => n.owned).length,
    limit: facts.maxNamespaces,
    limitSource: facts.maxNamespacesSource,
  };
}

export function checkNetnsCapacity(count: NamespaceCount, config: HostConfig): CheckResult {
  const { total, owned, limit, limitSource } = count;
  const details = { total, owned, limit, limitSource, warnAt: limit === null ? null : Math.ceil(limit * config.capacityWarn) };
  if (limit === null) {
    return {
      id: 'netns-capacity',
      status: 'unknown',
      message: `${total} named namespaces; the kernel limit could not be read: pass --max-namespaces`,
      details,
    };
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
