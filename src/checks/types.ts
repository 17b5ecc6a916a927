/**
 * unknown: vmgate could not look (a file unreadable, a table not read, not judged yet). Never shown as pass. The one
 * rule for what a status decides is `blocks` below.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export const CHECK_STATUSES: readonly CheckStatus[] = ['pass', 'warn', 'fail', 'unknown'];

/**
 * What a result decides, in `check` (exit 1) and in the gate (503): only `fail` blocks. `unknown` is reported,
 * counted and logged as a warning, and nothing acts on it (cleanup deletes nothing it could not judge); where not
 * being able to look means the orchestrator cannot work either (the tun device unreadable), the check says `fail`.
 */
export function blocks(status: CheckStatus): boolean {
  return status === 'fail';
}

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** what is wrong and what to do, readable alone */
  message: string;
  details: Record<string, unknown>;
}
