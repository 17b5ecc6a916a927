import type { FixedEntry } from '../checks/fixed-entry.js';
import type { CheckResult } from '../checks/types.js';

const TAG = { pass: '[PASS]', warn: '[WARN]', fail: '[FAIL]' } as const;

export function formatCheckReport(results: CheckResult[], fixed: FixedEntry[], refused?: string): string {
  const width = Math.max(...results.map((r) => r.id.length));
  const lines = results.map((r) => `${TAG[r.status]} ${r.id.padEnd(width)}  ${r.message}`);
  if (refused) lines.push(`[FIX]  ${refused}`);
  for (const f of fixed) lines.push(`[FIX]  ${describeFix(f)}`);
  lines.push(summaryLine(results, fixed));
  return lines.join('\n');
}

export function describeFix(f: FixedEntry): string {
  const who = f.pid !== undefined ? `pid ${f.pid} in ${f.netns}` : f.netns;
  return `${f.action} ${who}${f.reason ? `: ${f.reason}` : ''}`;
}

export function summaryLine(results: CheckResult[], fixed: FixedEntry[] = []): string {
  const n = (s: string) => results.filter((r) => r.status === s).length;
  const removed = fixed.filter((f) => f.action === 'deleted').length;
  const killed = fixed.filter((f) => f.action === 'killed').length;
  const acted = removed + killed > 0 ? `; removed ${removed} leftover namespaces, ended ${killed} orphaned VMMs` : '';
  const verdict = n('fail') > 0 ? 'host is NOT ready for the orchestrator' : 'host is ready for the orchestrator';
  return `${results.length} checks: ${n('pass')} passed, ${n('warn')} warnings, ${n('fail')} failed${acted} - ${verdict}`;
}
