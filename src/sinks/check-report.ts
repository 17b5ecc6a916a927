import type { FixedEntry, HostFixedEntry } from '../checks/fixed-entry.js';
import type { CheckResult } from '../checks/types.js';

const TAG = { pass: '[PASS]', warn: '[WARN]', fail: '[FAIL]', unknown: '[UNKN]' } as const;

export function formatCheckReport(results: CheckResult[], fixed: FixedEntry[], refused?: string, hostFixed: HostFixedEntry[] = []): string {
  const width = Math.max(...results.map((r) => r.id.length));
  const lines = results.map((r) => `${TAG[r.status]} ${r.id.padEnd(width)}  ${r.message}`);
  if (refused) lines.push(`[FIX]  ${refused}`);
  for (const f of fixed) lines.push(`[FIX]  ${describeFix(f)}`);
  for (const f of hostFixed) lines.push(`[FIX]  ${describeHostFix(f)}`);
  lines.push(summaryLine(results, fixed, hostFixed));
  return lines.join('\n');
}

export function describeFix(f: FixedEntry): string {
  const who = f.pid !== undefined ? `pid ${f.pid} in ${f.netns}` : f.netns;
  return `${f.action} ${who}${f.reason ? `: ${f.reason}` : ''}`;
}

export function describeHostFix(f: HostFixedEntry): string {
  const what = f.action.endsWith('deduplicate') || f.action === 'deduplicated' ? `${f.rules} duplicate rules` : `${f.rules} rules, ${f.routes} routes`;
  return `${f.action} host state of slot ${f.slot} (${f.veth}): ${what}${f.reason ? `: ${f.reason}` : ''}`;
}

export function summaryLine(results: CheckResult[], fixed: FixedEntry[] = [], hostFixed: HostFixedEntry[] = []): string {
  const n = (s: string) => results.filter((r) => r.status === s).length;
  const removed = fixed.filter((f) => f.action === 'deleted').length;
  const killed = fixed.filter((f) => f.action === 'killed').length;
  const rules = hostFixed.filter((f) => f.action === 'deleted' || f.action === 'deduplicated').reduce((k, f) => k + f.rules, 0);
  const acted =
    removed + killed + rules > 0
      ? `; removed ${removed} leftover namespaces, ended ${killed} orphaned VMMs${rules > 0 ? `, deleted ${rules} host rules` : ''}`
      : '';
  const verdict = n('fail') > 0 ? 'host is NOT ready for the orchestrator' : 'host is ready for the orchestrator';
  const unknown = n('unknown') > 0 ? `, ${n('unknown')} unknown` : '';
  return `${results.length} checks: ${n('pass')} passed, ${n('warn')} warnings${unknown}, ${n('fail')} failed${acted} - ${verdict}`;
}
