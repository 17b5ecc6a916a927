import { UsageError } from './usage-error.js';

/** Host prerequisites beyond the default checks, opted into with --extra-checks (docs/checks.md: why each matters). */
export const EXTRA_CHECK_IDS = ['kvm-device', 'ip-forward', 'neigh-gc-thresh', 'nbd-module', 'cgroup-v2'] as const;
export type ExtraCheckId = (typeof EXTRA_CHECK_IDS)[number];

/** `ID,ID` or `all`; an unknown id is a usage error (exit 2). */
export function parseExtraChecks(text: string): ExtraCheckId[] {
  const ids = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (id !== 'all' && !(EXTRA_CHECK_IDS as readonly string[]).includes(id))
      throw new UsageError(`--extra-checks: unknown check id '${id}' (known: ${EXTRA_CHECK_IDS.join(', ')}, all)`);
  }
  if (ids.includes('all')) return [...EXTRA_CHECK_IDS];
  return EXTRA_CHECK_IDS.filter((id) => ids.includes(id));
}
